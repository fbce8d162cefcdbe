/* The server: the listening socket, libmicrohttpd's epoll loop, the checks
 * on every request head, bodies, and answers with the security headers.
 *
 * A request passes, when its head is in: the peer's uid (a Unix socket),
 * the Host check (DNS rebinding: another name that resolves to 127.0.0.1 is
 * another site), the head size cap (431), the method (405), then the
 * program's head callback (which may refuse a declared body over the cap
 * after its own checks, or lower the cap), then the declared size (413).
 * Only then is a body read: up to the request's cap, counted against the
 * server's budget. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "httpd/internal.h"

#define LOG_LINES_PER_MINUTE 20
#define BODY_FIRST_ALLOC (4u * 1024)
#define LISTEN_BACKLOG 1024

/* ---- secrets and numbers ---- */

void nc_httpd_secret_new(char out[NC_HTTPD_SECRET_HEX_LEN + 1])
{
    unsigned char raw[NC_HTTPD_SECRET_HEX_LEN / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, NC_HTTPD_SECRET_HEX_LEN + 1, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
}

bool nc_httpd_secret_ok(const char *s)
{
    if (!s || strnlen(s, NC_HTTPD_SECRET_HEX_LEN + 1) != NC_HTTPD_SECRET_HEX_LEN)
        return false;
    for (size_t i = 0; i < NC_HTTPD_SECRET_HEX_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

bool nc_httpd_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    *out = 0;
    if (!s || !*s || strnlen(s, 21) > 20)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

unsigned nc_httpd_connection_budget(unsigned max, unsigned reserve)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 32;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit nl = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)max + reserve)
        return max;
    if (rl.rlim_cur <= (rlim_t)reserve + 32)
        return 32;
    return (unsigned)(rl.rlim_cur - reserve);
}

__attribute__((format(printf, 4, 0))) static enum MHD_Result refuse_v(nc_httpd_req *r, unsigned status,
                                                                      const char *code, const char *fmt, va_list ap)
{
    char msg[768];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return r->h->cfg.refuse(r->conn, status, code, msg);
}

enum MHD_Result nc_httpd_refuse(nc_httpd_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum MHD_Result ret = refuse_v(r, status, code, fmt, ap);
    va_end(ap);
    return ret;
}

/* ---- the request ---- */

nc_httpd *nc_httpd_req_server(const nc_httpd_req *r)
{
    return r->h;
}

struct MHD_Connection *nc_httpd_req_conn(const nc_httpd_req *r)
{
    return r->conn;
}

const char *nc_httpd_req_method(const nc_httpd_req *r)
{
    return r->method;
}

const char *nc_httpd_req_url(const nc_httpd_req *r)
{
    return r->url;
}

const char *nc_httpd_req_header(const nc_httpd_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

char *nc_httpd_req_body(const nc_httpd_req *r, size_t *len)
{
    static char empty[1];   /* never written: a wipe of "" touches nothing */
    *len = r->len;
    return r->body ? r->body : empty;
}

bool nc_httpd_req_too_big(const nc_httpd_req *r)
{
    return r->too_big;
}

void nc_httpd_req_set_body_cap(nc_httpd_req *r, size_t cap)
{
    if (cap < r->body_cap)
        r->body_cap = cap;
    /* a declared length the new cap refuses */
    const char *cl = nc_httpd_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n;
    if (cl && nc_httpd_parse_u64(cl, UINT64_MAX, &n) && n > r->body_cap)
        r->too_big = true;
}

size_t nc_httpd_req_body_cap(const nc_httpd_req *r)
{
    return r->body_cap;
}

void nc_httpd_req_set_route(nc_httpd_req *r, int route)
{
    r->route = route;
}

int nc_httpd_req_route(const nc_httpd_req *r)
{
    return r->route;
}

void nc_httpd_req_set_user(nc_httpd_req *r, void *user)
{
    r->user = user;
}

void *nc_httpd_req_user(const nc_httpd_req *r)
{
    return r->user;
}

static bool origin_is_ours(const nc_httpd *h, const char *origin)
{
    return strcmp(origin, h->origin) == 0 || (h->origin_name[0] && strcmp(origin, h->origin_name) == 0);
}

bool nc_httpd_req_origin_ours(const nc_httpd_req *r)
{
    const char *origin = nc_httpd_req_header(r, "Origin");
    return origin && origin_is_ours(r->h, origin);
}

bool nc_httpd_req_origin_absent_or_ours(const nc_httpd_req *r)
{
    const char *origin = nc_httpd_req_header(r, "Origin");
    return !origin || origin_is_ours(r->h, origin);
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

static bool host_ok(const nc_httpd *h, const char *host)
{
    return host && (strcasecmp(host, h->host) == 0 || (h->host_name[0] && strcasecmp(host, h->host_name) == 0));
}

/* A Unix socket serves only processes of our own uid. */
static bool peer_ok(const nc_httpd *h, struct MHD_Connection *conn)
{
    if (!h->unix_socket)
        return true;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct ucred cred;
    socklen_t len = sizeof cred;
    return ci && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof cred &&
           cred.uid == h->uid;
}

static bool method_served(const nc_httpd *h, const char *method)
{
    for (size_t i = 0; h->cfg.methods && h->cfg.methods[i]; i++)
        if (strcmp(method, h->cfg.methods[i]) == 0)
            return true;
    return false;
}

/* Everything the server decides from the head, then the program's head
 * callback. Queues a refusal (r->answered) or lets the request go on. */
static enum MHD_Result check_head(nc_httpd *h, nc_httpd_req *r)
{
    r->answered = true;
    if (!host_ok(h, nc_httpd_req_header(r, MHD_HTTP_HEADER_HOST))) {
        if (h->host_name[0])
            return nc_httpd_refuse(r, h->cfg.host_refused_status, "misdirected_request",
                                   "%s answers only to Host %s or %s", h->cfg.name, h->host, h->host_name);
        return nc_httpd_refuse(r, h->cfg.host_refused_status, "misdirected_request", "%s answers only to Host %s",
                               h->cfg.name, h->host);
    }
    if (head_bytes(r->conn, r->url) > h->cfg.max_head_bytes)
        return nc_httpd_refuse(r, 431, "too_large", "request headers larger than %zu bytes", h->cfg.max_head_bytes);
    if (!method_served(h, r->method))
        return nc_httpd_refuse(r, 405, "method_not_allowed", "the method %.16s is not served here", r->method);
    const char *cl = nc_httpd_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    uint64_t n = 0;
    if (cl && (!nc_httpd_parse_u64(cl, UINT64_MAX, &n) || n > r->body_cap))
        r->too_big = true;
    else if (cl)
        r->declared = (size_t)n;
    r->plan = h->cfg.head(h->cfg.ctx, r);
    if (r->plan != NC_HTTPD_ANSWERED && r->too_big)   /* a declared body over the cap is never read */
        return nc_httpd_refuse(r, 413, "too_large", "request body larger than %zu bytes", r->body_cap);
    r->answered = r->plan == NC_HTTPD_ANSWERED;
    return MHD_YES;
}

/* ---- bodies ---- */

static bool budget_take(nc_httpd *h, size_t n)
{
    if (!h->cfg.body_budget_bytes)
        return true;
    pthread_mutex_lock(&h->budget_mu);
    bool ok = h->budget_used <= h->cfg.body_budget_bytes && n <= h->cfg.body_budget_bytes - h->budget_used;
    if (ok)
        h->budget_used += n;
    pthread_mutex_unlock(&h->budget_mu);
    return ok;
}

static void budget_give(nc_httpd *h, size_t n)
{
    if (!h->cfg.body_budget_bytes || !n)
        return;
    pthread_mutex_lock(&h->budget_mu);
    h->budget_used -= n < h->budget_used ? n : h->budget_used;
    pthread_mutex_unlock(&h->budget_mu);
}

static void body_free(nc_httpd_req *r)
{
    if (r->body) {
        if (r->h->cfg.secret_bodies)
            sodium_free(r->body);   /* wipes it: it may have held a passphrase */
        else
            free(r->body);
    }
    budget_give(r->h, r->alloc);
    r->body = NULL;
    r->len = r->alloc = 0;
}

/* Room for n more bytes (and the NUL). false: out of memory or budget. */
static bool body_room(nc_httpd_req *r, size_t n)
{
    size_t need = r->len + n + 1;
    if (need <= r->alloc)
        return true;
    if (r->h->cfg.secret_bodies) {   /* one block of the whole cap: no copies left behind */
        if (r->body || !budget_take(r->h, r->body_cap + 1)) {
            r->over_budget = !r->body;
            return false;
        }
        if (!(r->body = sodium_malloc(r->body_cap + 1))) {
            budget_give(r->h, r->body_cap + 1);
            return false;
        }
        r->alloc = r->body_cap + 1;
        return true;
    }
    /* the declared length at once; else growing from a small block */
    size_t want = r->alloc ? r->alloc * 2 : r->declared ? r->declared + 1 : BODY_FIRST_ALLOC;
    while (want < need)
        want *= 2;
    if (want > r->body_cap + 1)
        want = r->body_cap + 1;
    if (!budget_take(r->h, want - r->alloc)) {
        r->over_budget = true;
        return false;
    }
    char *nb = realloc(r->body, want);
    if (!nb) {
        budget_give(r->h, want - r->alloc);
        return false;
    }
    r->body = nb;
    r->alloc = want;
    return true;
}

static enum MHD_Result keep_body(nc_httpd_req *r, const char *data, size_t n)
{
    r->seen += n;
    bool refusing = r->answered || r->too_big || r->over_budget;
    if (refusing)
        return r->seen > r->h->cfg.discard_body_bytes ? MHD_NO : MHD_YES;   /* not reading that much just to refuse it */
    if (r->len + n > r->body_cap || strcmp(r->method, MHD_HTTP_METHOD_POST) != 0) {
        r->too_big = true;   /* only POST carries a body */
        body_free(r);
        return r->seen > r->h->cfg.discard_body_bytes ? MHD_NO : MHD_YES;
    }
    if (!body_room(r, n)) {
        if (!r->over_budget)
            return MHD_NO;   /* out of memory: close */
        body_free(r);
        return MHD_YES;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return MHD_YES;
}

/* ---- answering ---- */

/* The whole request is in: answer it, or hand it to a handler thread. */
static enum MHD_Result answer(nc_httpd *h, nc_httpd_req *r)
{
    if (r->too_big)
        return nc_httpd_refuse(r, 413, "too_large", "request body larger than %zu bytes", r->body_cap);
    if (r->over_budget)
        return nc_httpd_refuse(r, 503, "busy", "too many large requests at once; try again");
    if (r->plan == NC_HTTPD_INLINE)
        return h->cfg.handle(h->cfg.ctx, r);
    if (!httpd_job_submit(h, r))
        return nc_httpd_refuse(r, 503, "busy", "too many requests waiting; try again");
    r->submitted = true;
    return MHD_YES;
}

/* After a handler thread resumed the connection: its answer. */
static enum MHD_Result send_kept_answer(nc_httpd_req *r)
{
    struct MHD_Response *resp = r->answer.response;
    r->answer.response = NULL;
    if (!resp)
        return MHD_NO;   /* the handler could not answer (out of memory): close */
    enum MHD_Result ret = MHD_queue_response(r->conn, r->answer.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    nc_httpd *h = cls;
    nc_httpd_req *r = *con_cls;
    if (!r) {
        if (!peer_ok(h, conn))
            return MHD_NO;   /* another user on our Unix socket: closed unanswered */
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        r->h = h;
        r->conn = conn;
        r->url = url;
        r->method = method;
        r->body_cap = h->cfg.max_body_bytes;
        return check_head(h, r);
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return keep_body(r, upload_data, n);
    }
    if (r->answered)
        return MHD_YES;
    if (r->submitted)
        return r->answer.done ? send_kept_answer(r) : MHD_YES;
    return answer(h, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    nc_httpd *h = cls;
    nc_httpd_req *r = *con_cls;
    if (!r)
        return;
    if (h->cfg.done)
        h->cfg.done(h->cfg.ctx, r);
    if (r->answer.response)
        MHD_destroy_response(r->answer.response);
    body_free(r);
    free(r);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)conn;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        *socket_context = cls;   /* nc_httpd_queue finds the server (its CSP) through it */
}

/* libmicrohttpd's own messages, at most LOG_LINES_PER_MINUTE a minute: a
 * flood of refused connections must not fill the disk through stderr. */
__attribute__((format(printf, 2, 0))) static void on_log(void *cls, const char *fmt, va_list ap)
{
    nc_httpd *h = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    time_t now = time(NULL);
    pthread_mutex_lock(&h->log_mu);
    if (now - h->log_window >= 60) {
        if (h->log_dropped)
            fprintf(stderr, "%s: (%u more libmicrohttpd messages not shown)\n", h->cfg.name, h->log_dropped);
        h->log_window = now;
        h->log_lines = h->log_dropped = 0;
    }
    if (h->log_lines < LOG_LINES_PER_MINUTE) {
        h->log_lines++;
        size_t l = strlen(msg);
        fprintf(stderr, "%s: libmicrohttpd: %s%s", h->cfg.name, msg, l && msg[l - 1] == '\n' ? "" : "\n");
    } else {
        h->log_dropped++;
    }
    pthread_mutex_unlock(&h->log_mu);
}

/* ---- the listening socket ---- */

static nc_err listen_tcp(nc_httpd *h, uint16_t port, char *msg, size_t msg_len)
{
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (const struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, LISTEN_BACKLOG) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &alen) != 0) {
        int e = errno;
        snprintf(msg, msg_len, "cannot listen on 127.0.0.1:%u: %s", (unsigned)port, strerror(e));
        if (fd >= 0)
            close(fd);
        return e == EADDRINUSE ? NC_ERR_BUSY : NC_ERR_IO;
    }
    h->listen_fd = fd;
    h->port = ntohs(addr.sin_port);
    snprintf(h->host, sizeof h->host, "127.0.0.1:%u", (unsigned)h->port);
    snprintf(h->host_name, sizeof h->host_name, "localhost:%u", (unsigned)h->port);
    snprintf(h->origin, sizeof h->origin, "http://%s", h->host);
    snprintf(h->origin_name, sizeof h->origin_name, "http://%s", h->host_name);
    return NC_OK;
}

/* Something answers at path already? */
static bool someone_listens(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool yes = fd >= 0 && connect(fd, (const struct sockaddr *)addr, sizeof *addr) == 0;
    if (fd >= 0)
        close(fd);
    return yes;
}

/* path: not an existing non-socket, nobody answering there; created 0600
 * (before listen(), so nobody can connect while its mode is wider). */
static nc_err listen_unix(nc_httpd *h, const char *path, char *msg, size_t msg_len)
{
    struct sockaddr_un addr;
    struct stat st;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (!path || !path[0] || strlen(path) >= sizeof addr.sun_path || strlen(path) >= sizeof h->unix_path) {
        snprintf(msg, msg_len, "the socket path must be 1-%zu bytes", sizeof addr.sun_path - 1);
        return NC_ERR_USAGE;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(msg, msg_len, "%.300s exists and is not a socket: remove it or choose another path", path);
            return NC_ERR_IO;
        }
        if (someone_listens(&addr)) {
            snprintf(msg, msg_len, "%.300s is in use: another server answers there", path);
            return NC_ERR_BUSY;
        }
        if (st.st_uid != geteuid()) {
            snprintf(msg, msg_len, "%.300s is another user's socket: choose another path", path);
            return NC_ERR_UNAUTHORIZED;
        }
        unlink(path);   /* left by a server that died */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (const struct sockaddr *)&addr, sizeof addr) != 0 || chmod(path, 0600) != 0 ||
        listen(fd, LISTEN_BACKLOG) != 0) {
        snprintf(msg, msg_len, "cannot listen on %.300s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NC_ERR_IO;
    }
    h->listen_fd = fd;
    h->unix_socket = true;
    memcpy(h->unix_path, path, strlen(path) + 1);
    snprintf(h->host, sizeof h->host, "localhost");
    snprintf(h->origin, sizeof h->origin, "http://localhost");
    return NC_OK;
}

/* ---- start and stop ---- */

nc_err nc_httpd_start(const nc_httpd_config *cfg, const nc_httpd_listen *where, nc_httpd **out, char *msg,
                      size_t msg_len)
{
    *out = NULL;
    if (msg_len)
        msg[0] = '\0';
    if (!cfg->name || !cfg->head || !cfg->handle || !cfg->refuse || !cfg->methods || !cfg->poll_threads ||
        !cfg->handler_threads || cfg->handler_threads > HTTPD_MAX_HANDLER_THREADS) {
        snprintf(msg, msg_len, "internal error: incomplete HTTP server configuration");
        return NC_ERR_USAGE;
    }
    nc_httpd *h = calloc(1, sizeof *h);
    if (!h)
        return NC_ERR_NOMEM;
    h->cfg = *cfg;
    h->listen_fd = -1;
    h->uid = geteuid();
    pthread_mutex_init(&h->budget_mu, NULL);
    pthread_mutex_init(&h->log_mu, NULL);
    pthread_mutex_init(&h->job_mu, NULL);
    pthread_cond_init(&h->job_cond, NULL);
    pthread_mutex_init(&h->st_mu, NULL);
    pthread_cond_init(&h->st_cond, NULL);
    nc_err err = where->unix_socket ? listen_unix(h, where->path, msg, msg_len)
                                    : listen_tcp(h, where->port, msg, msg_len);
    if (err != NC_OK)
        goto fail;
    err = NC_ERR_INTERNAL;
    if (httpd_jobs_start(h) != NC_OK) {
        snprintf(msg, msg_len, "cannot start the handler threads");
        goto fail;
    }
    h->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_log, (void *)h, MHD_OPTION_LISTEN_SOCKET, h->listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->poll_threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->conn_memory_bytes, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        (void *)h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, (void *)h, MHD_OPTION_END);
    if (!h->d) {
        snprintf(msg, msg_len, "cannot start the HTTP server (libmicrohttpd)");
        goto fail;
    }
    h->listen_fd = -1;   /* libmicrohttpd's now: it closes it */
    if (httpd_streams_start(h) != NC_OK) {
        snprintf(msg, msg_len, "cannot start the event stream thread");
        goto fail;
    }
    *out = h;
    return NC_OK;
fail:
    nc_httpd_stop(h);
    nc_httpd_free(h);
    return err;
}

void nc_httpd_stop(nc_httpd *h)
{
    if (!h)
        return;
    httpd_streams_stop(h);   /* ends the streams: none stays suspended */
    httpd_jobs_stop(h);      /* answers or finishes the handlers: none stays suspended */
    if (h->d)
        MHD_stop_daemon(h->d);
    h->d = NULL;
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    h->listen_fd = -1;
    if (h->unix_socket && h->unix_path[0])
        unlink(h->unix_path);
    h->unix_path[0] = '\0';
}

void nc_httpd_free(nc_httpd *h)
{
    if (!h)
        return;
    pthread_mutex_destroy(&h->budget_mu);
    pthread_mutex_destroy(&h->log_mu);
    pthread_mutex_destroy(&h->job_mu);
    pthread_cond_destroy(&h->job_cond);
    pthread_mutex_destroy(&h->st_mu);
    pthread_cond_destroy(&h->st_cond);
    free(h);
}

uint16_t nc_httpd_port(const nc_httpd *h)
{
    return h->port;
}

const char *nc_httpd_host(const nc_httpd *h)
{
    return h->host;
}

const char *nc_httpd_host_name(const nc_httpd *h)
{
    return h->host_name[0] ? h->host_name : NULL;
}

const char *nc_httpd_origin(const nc_httpd *h)
{
    return h->origin;
}
