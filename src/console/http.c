/* The HTTP side. When a request's head is in, it passes, in this order, the
 * Host check (421), the head size cap (431), then for /api the session
 * check (401: an "Authorization: Bearer" secret the page holds; nothing a
 * browser sends on its own counts), and for POST the Origin check (403) and
 * the declared body size (413), before any route sees it or any body is
 * read. The page itself (index.html, app.js, ...) holds no secret and is
 * served to anyone who passes the Host check. Every response, errors
 * included, carries the security headers.
 *
 * libmicrohttpd runs an epoll loop on CON_POLL_THREADS threads with a large
 * connection limit and a short idle timeout: a connection that sends nothing
 * costs a descriptor, never a thread. API routes run as jobs (jobs.c). */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "console/assets.h"
#include "console/console.h"
#include "console/http.h"

#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#define LOG_LINES_PER_MINUTE 20

typedef enum { ROUTE_PAGE, ROUTE_EXCHANGE, ROUTE_API } route;

typedef struct {
    con_ctx *c;
    struct MHD_Connection *conn;
    const char *url;     /* libmicrohttpd's, valid for the whole request */
    route route;
    bool get;            /* GET or HEAD */
    bool answered;       /* an answer was queued when the head came in */
    bool submitted;      /* handed to a handler thread (jobs.c) */
    char *body;          /* sodium_malloc'd CON_MAX_BODY_BYTES + 1 (wiped when freed), or NULL */
    size_t len;          /* bytes kept */
    size_t seen;         /* bytes received */
    bool too_big;
    con_answer answer;   /* what the handler thread queued */
} req_ctx;

void con_add_security_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Content-Security-Policy", CSP);
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
}

enum MHD_Result con_queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    con_answer *a = con_job_current();
    if (a) {   /* on a handler thread: kept until the connection resumes */
        if (!a->response) {
            a->response = r;
            a->status = status;
        } else {
            MHD_destroy_response(r);
        }
        return MHD_YES;
    }
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result con_send(struct MHD_Connection *conn, unsigned status, const char *content_type, const void *data,
                         size_t len, enum MHD_ResponseMemoryMode mode, const char *disposition)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free((void *)data);
        return MHD_NO;
    }
    con_add_security_headers(r);
    if (content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (disposition)
        MHD_add_response_header(r, "Content-Disposition", disposition);
    return con_queue(conn, status, r);
}

enum MHD_Result con_send_json(struct MHD_Connection *conn, unsigned status, json_t *json)
{
    if (!json)
        return con_send_error(conn, 500, "internal", "out of memory");
    /* ASCII only: whatever the worker relays (module names, outputs) cannot
     * change how the bytes are decoded. */
    char *text = json_dumps(json, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    json_decref(json);
    if (!text)
        return con_send_error(conn, 500, "internal", "cannot encode the answer");
    return con_send(conn, status, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE, NULL);
}

enum MHD_Result con_send_error(struct MHD_Connection *conn, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    if (!text) {
        static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        return con_send(conn, status, "application/json", oom, sizeof oom - 1, MHD_RESPMEM_PERSISTENT, NULL);
    }
    return con_send(conn, status, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE, NULL);
}

static const char *content_type_for(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
        {".png", "image/png"},                 {".ico", "image/x-icon"},
        {".json", "application/json"},         {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static enum MHD_Result serve_asset(struct MHD_Connection *conn, const char *url)
{
    const char *name = strcmp(url, "/") == 0 ? "index.html" : url + 1;
    for (size_t i = 0; nc_assets[i].name; i++)
        if (strcmp(nc_assets[i].name, name) == 0)
            return con_send(conn, 200, content_type_for(name), nc_assets[i].data, nc_assets[i].len,
                            MHD_RESPMEM_PERSISTENT, NULL);
    return con_send_error(conn, 404, "not_found", "no such page");
}

/* ---- checks on the request head ---- */

static enum MHD_Result add_length(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    size_t *total = cls;
    *total += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

/* Bytes of the request line and headers, about as sent. */
static size_t head_bytes(struct MHD_Connection *conn, const char *url)
{
    size_t total = strlen(url) + 16;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, add_length, &total);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_length, &total);
    return total;
}

/* "Bearer <64 hex>" naming a live session. Nothing else: no cookie, no
 * query parameter. */
static bool session_ok(struct MHD_Connection *conn)
{
    static const char scheme[] = "Bearer ";
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, CON_SESSION_HEADER);
    if (!h || strncmp(h, scheme, sizeof scheme - 1) != 0)
        return false;
    return con_session_lookup(h + sizeof scheme - 1);
}

static bool origin_ok(const con_ctx *c, struct MHD_Connection *conn)
{
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    return origin && (strcmp(origin, c->origin_ip) == 0 || strcmp(origin, c->origin_name) == 0);
}

static bool is_api(const char *url)
{
    return strcmp(url, "/api") == 0 || strncmp(url, "/api/", 5) == 0;
}

/* Everything that can be decided from the head, before any body is read.
 * Queues the refusal (r->answered) or lets the request go on. */
static enum MHD_Result check_head(con_ctx *c, struct MHD_Connection *conn, const char *url, const char *method,
                                  req_ctx *r)
{
    const bool post = strcmp(method, "POST") == 0;
    r->get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    r->answered = true;

    /* DNS rebinding: another name that resolves to 127.0.0.1 is another site. */
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!host || (strcasecmp(host, c->host_ip) != 0 && strcasecmp(host, c->host_name) != 0))
        return con_send_error(conn, 421, "misdirected_request", "this console answers only to %s or %s",
                              c->host_ip, c->host_name);
    if (head_bytes(conn, url) > CON_MAX_HEAD_BYTES)
        return con_send_error(conn, 431, "too_large", "request headers larger than %u bytes", CON_MAX_HEAD_BYTES);
    if (!r->get && !post)
        return con_send_error(conn, 405, "method_not_allowed", "only GET and POST");
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n = 0;
    if (cl && (!con_parse_u64(cl, UINT64_MAX, &n) || n > CON_MAX_BODY_BYTES))
        r->too_big = true;

    if (!is_api(url)) {
        if (!r->get)
            return con_send_error(conn, 405, "method_not_allowed", "only GET here");
        r->route = ROUTE_PAGE;
    } else if (post && strcmp(url, "/api/session") == 0) {
        r->route = ROUTE_EXCHANGE;   /* the one-time token is the credential */
    } else if (!session_ok(conn)) {
        return con_send_error(conn, 401, "unauthorized",
                              "no valid session: run `nightcore-console link` for a new one-time link and open it");
    } else {
        r->route = ROUTE_API;
    }
    if (post) {
        if (!origin_ok(c, conn))
            return con_send_error(conn, 403, "forbidden", "cross-origin request refused (Origin must be %s)",
                                  c->origin_ip);
        if (r->too_big)
            return con_send_error(conn, 413, "too_large", "request body larger than %u bytes", CON_MAX_BODY_BYTES);
    }
    r->answered = false;
    return MHD_YES;
}

static void api_job(void *arg)
{
    req_ctx *r = arg;
    (void)con_api(r->c, r->conn, r->get ? "GET" : "POST", r->url, r->body, r->len);
}

/* The whole request is in: answer it, or hand it to a handler thread. */
static enum MHD_Result answer(struct MHD_Connection *conn, req_ctx *r)
{
    if (r->too_big)
        return con_send_error(conn, 413, "too_large", "request body larger than %u bytes", CON_MAX_BODY_BYTES);
    switch (r->route) {
    case ROUTE_PAGE:
        return serve_asset(conn, r->url);
    case ROUTE_EXCHANGE:
        return con_api_exchange(conn, r->body, r->len);
    case ROUTE_API:
        break;
    }
    if (!con_job_submit(conn, &r->answer, api_job, r))
        return con_send_error(conn, 503, "busy", "too many requests waiting; try again");
    r->submitted = true;
    return MHD_YES;
}

/* After a handler thread resumed the connection: its answer. */
static enum MHD_Result send_kept_answer(struct MHD_Connection *conn, req_ctx *r)
{
    struct MHD_Response *resp = r->answer.response;
    r->answer.response = NULL;
    if (!resp)
        return MHD_NO;   /* the handler could not answer (out of memory): close */
    enum MHD_Result ret = MHD_queue_response(conn, r->answer.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result keep_body(req_ctx *r, const char *method, const char *data, size_t n)
{
    r->seen += n;
    if (r->seen > CON_DISCARD_BODY_BYTES)
        return MHD_NO;   /* not reading that much just to refuse it: close */
    if (r->too_big || r->len + n > CON_MAX_BODY_BYTES || strcmp(method, "POST") != 0) {
        r->too_big = true;
        return MHD_YES;
    }
    if (!r->body) {
        r->body = sodium_malloc(CON_MAX_BODY_BYTES + 1);
        if (!r->body)
            return MHD_NO;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    con_ctx *c = cls;
    req_ctx *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        r->c = c;
        r->conn = conn;
        r->url = url;
        return check_head(c, conn, url, method, r);
    }
    if (r->answered) {   /* refused on its head: whatever body follows is dropped */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return keep_body(r, method, upload_data, n);
    }
    if (r->submitted)
        return r->answer.done ? send_kept_answer(conn, r) : MHD_YES;
    return answer(conn, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    req_ctx *r = *con_cls;
    if (!r)
        return;
    if (r->answer.response)
        MHD_destroy_response(r->answer.response);
    if (r->body)
        sodium_free(r->body);   /* wipes it: it may have held a passphrase */
    free(r);
    *con_cls = NULL;
}

/* libmicrohttpd's own messages, at most LOG_LINES_PER_MINUTE a minute: a
 * flood of refused connections must not fill the disk through stderr. */
__attribute__((format(printf, 2, 0))) static void on_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static time_t window;
    static unsigned lines, dropped;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    time_t now = time(NULL);
    pthread_mutex_lock(&lock);
    if (now - window >= 60) {
        if (dropped)
            fprintf(stderr, "nightcore-console: (%u more libmicrohttpd messages not shown)\n", dropped);
        window = now;
        lines = dropped = 0;
    }
    if (lines < LOG_LINES_PER_MINUTE) {
        lines++;
        size_t l = strlen(msg);
        fprintf(stderr, "nightcore-console: libmicrohttpd: %s%s", msg, l && msg[l - 1] == '\n' ? "" : "\n");
    } else {
        dropped++;
    }
    pthread_mutex_unlock(&lock);
}

struct MHD_Daemon *con_http_start(con_ctx *c, const struct sockaddr_in *addr, unsigned max_connections)
{
    return MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, c, MHD_OPTION_EXTERNAL_LOGGER, on_log, (void *)NULL, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)CON_POLL_THREADS, MHD_OPTION_CONNECTION_LIMIT, max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)CON_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CON_CONN_MEMORY_BYTES,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)c, MHD_OPTION_END);
}
