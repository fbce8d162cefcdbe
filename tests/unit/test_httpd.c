/* src/httpd: the shared HTTP server, live on 127.0.0.1 and on a Unix
 * socket, driven with raw requests: the head checks and their order, body
 * caps and the budget, handlers inline and on handler threads, the security
 * headers on every answer, Server-Sent Events streams and their framing,
 * secrets and strict numbers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "httpd/httpd.h"

#define TEST_CSP "default-src 'none'; frame-ancestors 'none'"

enum { R_INLINE = 1, R_JOB, R_STREAM };

static enum MHD_Result refuse(struct MHD_Connection *conn, unsigned status, const char *code, const char *message)
{
    char *text = NULL;
    size_t n = strlen(code) + strlen(message) + 4;
    if (!(text = malloc(n)))
        return MHD_NO;
    snprintf(text, n, "%s: %s", code, message);
    return nc_httpd_send(conn, status, "text/plain", text, strlen(text), MHD_RESPMEM_MUST_FREE);
}

static nc_httpd_plan on_head(void *ctx, nc_httpd_req *r)
{
    (void)ctx;
    const char *url = nc_httpd_req_url(r);
    struct MHD_Connection *conn = nc_httpd_req_conn(r);
    if (strcmp(url, "/small") == 0)
        nc_httpd_req_set_body_cap(r, 10);
    if (strcmp(nc_httpd_req_method(r), "POST") == 0 && !nc_httpd_req_origin_absent_or_ours(r)) {
        (void)refuse(conn, 403, "forbidden", "not our origin");
        return NC_HTTPD_ANSWERED;
    }
    if (strcmp(url, "/refuse") == 0) {
        (void)refuse(conn, 418, "teapot", "refused on its head");
        return NC_HTTPD_ANSWERED;
    }
    nc_httpd_req_set_route(r, strcmp(url, "/stream") == 0 ? R_STREAM : strcmp(url, "/job") == 0 ? R_JOB : R_INLINE);
    return nc_httpd_req_route(r) == R_INLINE ? NC_HTTPD_INLINE : NC_HTTPD_JOB;
}

/* Answers with the method, the route and the body it got. */
static enum MHD_Result on_request(void *ctx, nc_httpd_req *r)
{
    (void)ctx;
    struct MHD_Connection *conn = nc_httpd_req_conn(r);
    size_t len;
    char *body = nc_httpd_req_body(r, &len);
    if (nc_httpd_req_route(r) == R_STREAM) {
        nc_httpd_stream *st = nc_httpd_stream_new(nc_httpd_req_server(r), 4);
        size_t n;
        char *t = nc_httpd_sse_event("message", "{\"a\":1}", 7, &n);
        assert_non_null(t);
        assert_true(nc_httpd_stream_push(st, t, n));
        free(t);
        t = nc_httpd_sse_event(NULL, "two", 3, &n);
        assert_true(nc_httpd_stream_push(st, t, n));
        free(t);
        nc_httpd_stream_end(st);
        assert_false(nc_httpd_stream_push(st, "x", 1));   /* nothing after the end */
        enum MHD_Result ret = nc_httpd_stream_answer(st, conn, "X-Test", "stream");
        nc_httpd_stream_release(st);
        return ret;
    }
    char *text = malloc(len + 64);
    int n = snprintf(text, len + 64, "%s %s %zu:%s", nc_httpd_req_method(r),
                     nc_httpd_req_route(r) == R_JOB ? "job" : "inline", len, body);
    return nc_httpd_send(conn, 200, "text/plain", text, (size_t)n, MHD_RESPMEM_MUST_FREE);
}

static nc_httpd *start(bool unix_socket, const char *path, size_t budget)
{
    static const char *const methods[] = {"GET", "POST", NULL};
    nc_httpd_config cfg = {
        .name = "test-httpd", .csp = TEST_CSP, .methods = methods, .host_refused_status = 403,
        .poll_threads = 2, .handler_threads = 2, .max_jobs = 8, .idle_timeout_s = 10, .max_connections = 64,
        .keepalive_s = 15, .conn_memory_bytes = 64 * 1024, .max_head_bytes = 8 * 1024, .max_body_bytes = 64 * 1024,
        .discard_body_bytes = 256 * 1024, .body_budget_bytes = budget, .secret_bodies = false, .head = on_head,
        .handle = on_request, .refuse = refuse, .ctx = NULL,
    };
    nc_httpd_listen where = {.unix_socket = unix_socket, .port = 0, .path = path};
    nc_httpd *h = NULL;
    char msg[256];
    assert_int_equal(nc_httpd_start(&cfg, &where, &h, msg, sizeof msg), NC_OK);
    return h;
}

/* Sends req whole, then reads the answer until the server closes. */
static char *exchange(nc_httpd *h, const char *path, const char *req, size_t req_len)
{
    int fd;
    if (path) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(nc_httpd_port(h))};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    }
    for (size_t off = 0; off < req_len;) {
        ssize_t w = send(fd, req + off, req_len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;   /* the server may close on a refused body */
        off += (size_t)w;
    }
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap + 1);
    for (;;) {
        ssize_t r = recv(fd, out + len, cap - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == cap)
            break;
    }
    out[len] = '\0';
    close(fd);
    return out;
}

static char *request(nc_httpd *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *request(nc_httpd *h, const char *fmt, ...)
{
    char req[16384];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(req, sizeof req, fmt, ap);
    va_end(ap);
    return exchange(h, NULL, req, (size_t)n);
}

#define assert_status(r, s) assert_status_at(r, s, __LINE__)
static void assert_status_at(const char *resp, const char *status, int line)
{
    char want[32];
    snprintf(want, sizeof want, "HTTP/1.1 %s", status);
    if (strncmp(resp, want, strlen(want)) != 0)
        fail_msg("line %d: wanted %s, got: %.300s", line, want, resp);
    /* every answer, refusals too */
    assert_non_null(strstr(resp, "Content-Security-Policy: " TEST_CSP "\r\n"));
    assert_non_null(strstr(resp, "X-Frame-Options: DENY\r\n"));
    assert_non_null(strstr(resp, "X-Content-Type-Options: nosniff\r\n"));
    assert_non_null(strstr(resp, "Cache-Control: no-store\r\n"));
    assert_null(strstr(resp, "Set-Cookie"));
}

static void test_head_checks_in_order(void **state)
{
    (void)state;
    nc_httpd *h = start(false, NULL, 0);
    const char *host = nc_httpd_host(h);
    char *r;
    r = request(h, "GET /x HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host);
    assert_status(r, "200");
    assert_non_null(strstr(r, "GET inline 0:"));
    free(r);
    r = request(h, "GET /x HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", nc_httpd_host_name(h));
    assert_status(r, "200");
    free(r);
    /* DNS rebinding: any other name, another port, none at all */
    const char *hosts[] = {"evil.example", "127.0.0.1", "127.0.0.1:1", "localhost", "attacker.localhost"};
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        r = request(h, "GET /x HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", hosts[i]);
        assert_status(r, "403");
        assert_non_null(strstr(r, "misdirected_request"));
        free(r);
    }
    r = request(h, "GET /x HTTP/1.0\r\n\r\n");
    assert_status(r, "403");
    free(r);
    /* the Host check comes before the head's size, the size before the method */
    char big[10000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    r = request(h, "PUT /x HTTP/1.1\r\nHost: evil\r\nX-Big: %s\r\nConnection: close\r\n\r\n", big);
    assert_status(r, "403");
    free(r);
    r = request(h, "PUT /x HTTP/1.1\r\nHost: %s\r\nX-Big: %s\r\nConnection: close\r\n\r\n", host, big);
    assert_status(r, "431");
    free(r);
    r = request(h, "PUT /x HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", host);
    assert_status(r, "405");
    free(r);
    /* the program's head callback: a refusal, a wrong Origin */
    r = request(h, "GET /refuse HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host);
    assert_status(r, "418");
    free(r);
    r = request(h, "POST /x HTTP/1.1\r\nHost: %s\r\nOrigin: http://evil.example\r\nContent-Length: 2\r\n"
                   "Connection: close\r\n\r\nhi", host);
    assert_status(r, "403");
    free(r);
    r = request(h, "POST /x HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
                host, nc_httpd_origin(h));
    assert_status(r, "200");
    assert_non_null(strstr(r, "POST inline 2:hi"));
    free(r);
    nc_httpd_stop(h);
    nc_httpd_free(h);
}

static void test_bodies(void **state)
{
    (void)state;
    nc_httpd *h = start(false, NULL, 48 * 1024);
    const char *host = nc_httpd_host(h);
    char *r;
    r = request(h, "POST /job HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", host);
    assert_status(r, "200");
    assert_non_null(strstr(r, "POST job 5:hello"));
    free(r);
    /* declared over the cap: refused without reading it */
    const char *lengths[] = {"65537", "99999999"};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        r = request(h, "POST /x HTTP/1.1\r\nHost: %s\r\nContent-Length: %s\r\nConnection: close\r\n\r\n", host,
                    lengths[i]);
        assert_status(r, "413");
        free(r);
    }
    /* not a length: libmicrohttpd refuses it (400) or closes; nothing is served */
    const char *garbage[] = {"-1", "1e3", "0x10", "5 5", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        r = request(h, "POST /x HTTP/1.1\r\nHost: %s\r\nContent-Length: %s\r\nConnection: close\r\n\r\nhello",
                    host, garbage[i]);
        assert_true(r[0] == '\0' || strncmp(r, "HTTP/1.1 400", 12) == 0 || strncmp(r, "HTTP/1.1 413", 12) == 0);
        assert_null(strstr(r, "inline"));
        free(r);
    }
    /* a cap the head callback lowered */
    r = request(h, "POST /small HTTP/1.1\r\nHost: %s\r\nContent-Length: 11\r\nConnection: close\r\n\r\n0123456789a",
                host);
    assert_status(r, "413");
    free(r);
    r = request(h, "POST /small HTTP/1.1\r\nHost: %s\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789",
                host);
    assert_status(r, "200");
    free(r);
    /* chunked, without a length: counted as it comes */
    r = request(h, "POST /small HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                   "8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n", host);
    assert_status(r, "413");
    free(r);
    /* only POST carries a body */
    r = request(h, "GET /x HTTP/1.1\r\nHost: %s\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", host);
    assert_status(r, "413");
    free(r);
    /* a body the budget cannot hold (48 KiB here; 50,000 bytes asked) */
    size_t n = 50000;
    char *req = malloc(n + 256);
    int hl = snprintf(req, 256, "POST /x HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                      host, n);
    memset(req + hl, 'z', n);
    r = exchange(h, NULL, req, (size_t)hl + n);
    assert_status(r, "503");
    free(r);
    free(req);
    /* and what fits goes through afterwards: the budget was given back */
    r = request(h, "POST /x HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", host);
    assert_status(r, "200");
    free(r);
    nc_httpd_stop(h);
    nc_httpd_free(h);
}

static void test_streams(void **state)
{
    (void)state;
    nc_httpd *h = start(false, NULL, 0);
    char *r = request(h, "GET /stream HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", nc_httpd_host(h));
    assert_status(r, "200");
    assert_non_null(strstr(r, "Content-Type: text/event-stream\r\n"));
    assert_non_null(strstr(r, "X-Test: stream\r\n"));
    const char *a = strstr(r, "event: message\ndata: {\"a\":1}\n\n"), *b = strstr(r, "data: two\n\n");
    assert_non_null(a);
    assert_non_null(b);
    assert_true(a < b);
    assert_null(strstr(r, "data: x"));
    free(r);
    nc_httpd_stop(h);
    nc_httpd_free(h);
}

static void test_sse_framing(void **state)
{
    (void)state;
    size_t n = 7;
    char *t = nc_httpd_sse_event("run.progress", "{}", 2, &n);
    assert_string_equal(t, "event: run.progress\ndata: {}\n\n");
    assert_int_equal(n, strlen(t));
    free(t);
    /* data that could end its line early and forge a field or an event */
    const char *bad_data[] = {"a\nevent: forged", "a\rb", "a\r\nb", "\n"};
    for (size_t i = 0; i < sizeof bad_data / sizeof bad_data[0]; i++) {
        assert_null(nc_httpd_sse_event("message", bad_data[i], strlen(bad_data[i]), &n));
        assert_int_equal(n, 0);
    }
    assert_null(nc_httpd_sse_event("message", "a\0b", 3, &n));
    const char *bad_names[] = {"", "Message", "a b", "a\nb", "x:y", "0123456789012345678901234567890123456789012345678901234567890123456789"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        assert_null(nc_httpd_sse_event(bad_names[i], "{}", 2, &n));
    t = nc_httpd_sse_event(NULL, "", 0, &n);
    assert_string_equal(t, "data: \n\n");
    free(t);
}

static void test_unix_socket(void **state)
{
    (void)state;
    char dir[] = "/tmp/nc-httpd-XXXXXX", path[128], file[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s.sock", dir);
    nc_httpd *h = start(true, path, 0);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(nc_httpd_port(h), 0);
    assert_string_equal(nc_httpd_host(h), "localhost");
    assert_null(nc_httpd_host_name(h));
    const char req[] = "POST /job HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    char *r = exchange(h, path, req, sizeof req - 1);
    assert_status(r, "200");
    assert_non_null(strstr(r, "POST job 2:ok"));
    free(r);
    const char other[] = "GET /x HTTP/1.1\r\nHost: localhost:80\r\nConnection: close\r\n\r\n";
    r = exchange(h, path, other, sizeof other - 1);
    assert_status(r, "403");
    free(r);
    /* a second server on the same path: refused while the first answers */
    static const char *const methods[] = {"GET", NULL};
    nc_httpd_config cfg = {.name = "second", .methods = methods, .poll_threads = 1, .handler_threads = 1,
                           .max_connections = 4, .head = on_head, .handle = on_request, .refuse = refuse};
    nc_httpd_listen where = {.unix_socket = true, .path = path};
    nc_httpd *h2 = NULL;
    char msg[256];
    assert_int_equal(nc_httpd_start(&cfg, &where, &h2, msg, sizeof msg), NC_ERR_BUSY);
    assert_null(h2);
    nc_httpd_stop(h);
    nc_httpd_free(h);
    assert_int_not_equal(lstat(path, &st), 0);   /* removed when it stopped */
    /* a file that is not a socket is never replaced */
    snprintf(file, sizeof file, "%s/file", dir);
    FILE *f = fopen(file, "w");
    fclose(f);
    where.path = file;
    assert_int_equal(nc_httpd_start(&cfg, &where, &h2, msg, sizeof msg), NC_ERR_IO);
    assert_non_null(strstr(msg, "not a socket"));
    assert_int_equal(lstat(file, &st), 0);
    unlink(file);
    rmdir(dir);
}

static void test_secrets_and_numbers(void **state)
{
    (void)state;
    char a[NC_HTTPD_SECRET_HEX_LEN + 1], b[NC_HTTPD_SECRET_HEX_LEN + 1];
    nc_httpd_secret_new(a);
    nc_httpd_secret_new(b);
    assert_true(nc_httpd_secret_ok(a));
    assert_string_not_equal(a, b);
    char bad[NC_HTTPD_SECRET_HEX_LEN + 2];
    memcpy(bad, a, sizeof a);
    bad[0] = 'A';   /* upper case */
    assert_false(nc_httpd_secret_ok(bad));
    memcpy(bad, a, sizeof a);
    bad[NC_HTTPD_SECRET_HEX_LEN - 1] = '\0';
    assert_false(nc_httpd_secret_ok(bad));
    memcpy(bad, a, sizeof a);
    bad[NC_HTTPD_SECRET_HEX_LEN] = '0';
    bad[NC_HTTPD_SECRET_HEX_LEN + 1] = '\0';
    assert_false(nc_httpd_secret_ok(bad));
    assert_false(nc_httpd_secret_ok(NULL));
    assert_false(nc_httpd_secret_ok(""));
    uint64_t v;
    assert_true(nc_httpd_parse_u64("0", 0, &v) && v == 0);
    assert_true(nc_httpd_parse_u64("18446744073709551615", UINT64_MAX, &v) && v == UINT64_MAX);
    const char *no[] = {NULL, "", "18446744073709551616", "-1", "+1", " 1", "1 ", "0x10", "1e3", "00000000000000000000001"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        v = 7;
        assert_false(nc_httpd_parse_u64(no[i], UINT64_MAX, &v));
        assert_int_equal(v, 0);
    }
    assert_false(nc_httpd_parse_u64("11", 10, &v));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_checks_in_order), cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_streams),              cmocka_unit_test(test_sse_framing),
        cmocka_unit_test(test_unix_socket),          cmocka_unit_test(test_secrets_and_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
