/* The console's HTTP side, on the shared server (src/httpd/). When a
 * request's head is in, the server checks the Host (421), the head size
 * (431) and the method (405); then here: for /api the session check (401: an
 * "Authorization: Bearer" secret the page holds; nothing a browser sends on
 * its own counts), and for POST the Origin check (403) and the declared body
 * size (413), before any route sees it or any body is read. The page itself
 * (index.html, app.js, ...) holds no secret and is served to anyone who
 * passes the Host check. Every response, errors included, carries the
 * security headers (the server adds them).
 *
 * API routes run on the server's handler threads with their connection
 * suspended; the page and the token exchange are answered at once. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "console/assets.h"
#include "console/console.h"
#include "console/http.h"

#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

typedef enum { ROUTE_PAGE = 1, ROUTE_EXCHANGE, ROUTE_API } route;

enum MHD_Result con_queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r)
{
    return nc_httpd_queue(conn, status, r);
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
    if (content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (disposition)
        MHD_add_response_header(r, "Content-Disposition", disposition);
    return nc_httpd_queue(conn, status, r);
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
    return nc_httpd_send(conn, status, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result send_error_text(struct MHD_Connection *conn, unsigned status, const char *code,
                                       const char *msg)
{
    json_t *o = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    if (!text) {
        static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        return nc_httpd_send(conn, status, "application/json", oom, sizeof oom - 1, MHD_RESPMEM_PERSISTENT);
    }
    return nc_httpd_send(conn, status, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE);
}

enum MHD_Result con_send_error(struct MHD_Connection *conn, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return send_error_text(conn, status, code, msg);
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

/* ---- checks on the request head (after the server's own) ---- */

/* "Bearer <64 hex>" naming a live session. Nothing else: no cookie, no
 * query parameter. */
static bool session_ok(const nc_httpd_req *r)
{
    static const char scheme[] = "Bearer ";
    const char *h = nc_httpd_req_header(r, CON_SESSION_HEADER);
    if (!h || strncmp(h, scheme, sizeof scheme - 1) != 0)
        return false;
    return con_session_lookup(h + sizeof scheme - 1);
}

static bool is_api(const char *url)
{
    return strcmp(url, "/api") == 0 || strncmp(url, "/api/", 5) == 0;
}

static nc_httpd_plan on_head(void *ctx, nc_httpd_req *r)
{
    (void)ctx;
    struct MHD_Connection *conn = nc_httpd_req_conn(r);
    const char *url = nc_httpd_req_url(r);
    const bool post = strcmp(nc_httpd_req_method(r), "POST") == 0;
    route rt;
    if (!is_api(url)) {
        if (post) {
            (void)con_send_error(conn, 405, "method_not_allowed", "only GET here");
            return NC_HTTPD_ANSWERED;
        }
        rt = ROUTE_PAGE;
    } else if (post && strcmp(url, "/api/session") == 0) {
        rt = ROUTE_EXCHANGE;   /* the one-time token is the credential */
    } else if (!session_ok(r)) {
        (void)con_send_error(conn, 401, "unauthorized",
                             "no valid session: run `nightcore-console link` for a new one-time link and open it");
        return NC_HTTPD_ANSWERED;
    } else {
        rt = ROUTE_API;
    }
    if (post) {
        if (!nc_httpd_req_origin_ours(r)) {
            (void)con_send_error(conn, 403, "forbidden", "cross-origin request refused (Origin must be %s)",
                                 nc_httpd_origin(nc_httpd_req_server(r)));
            return NC_HTTPD_ANSWERED;
        }
        if (nc_httpd_req_too_big(r)) {
            (void)con_send_error(conn, 413, "too_large", "request body larger than %u bytes", CON_MAX_BODY_BYTES);
            return NC_HTTPD_ANSWERED;
        }
    }
    nc_httpd_req_set_route(r, (int)rt);
    return rt == ROUTE_API ? NC_HTTPD_JOB : NC_HTTPD_INLINE;
}

/* The whole request is in: the page and the exchange on the polling thread,
 * the API on a handler thread. */
static enum MHD_Result on_request(void *ctx, nc_httpd_req *r)
{
    con_ctx *c = ctx;
    struct MHD_Connection *conn = nc_httpd_req_conn(r);
    size_t len;
    char *body = nc_httpd_req_body(r, &len);
    switch ((route)nc_httpd_req_route(r)) {
    case ROUTE_PAGE:
        return serve_asset(conn, nc_httpd_req_url(r));
    case ROUTE_EXCHANGE:
        return con_api_exchange(conn, body, len);
    case ROUTE_API:
        break;
    }
    const char *method = strcmp(nc_httpd_req_method(r), "POST") == 0 ? "POST" : "GET";
    return con_api(c, conn, method, nc_httpd_req_url(r), body, len);
}

static enum MHD_Result refuse(struct MHD_Connection *conn, unsigned status, const char *code, const char *message)
{
    return send_error_text(conn, status, code, message);
}

nc_err con_http_start(con_ctx *c, uint16_t port, unsigned max_connections, nc_httpd **out, char *msg,
                      size_t msg_len)
{
    static const char *const methods[] = {"GET", "HEAD", "POST", NULL};
    nc_httpd_config cfg = {
        .name = "nightcore-console",
        .csp = CSP,
        .methods = methods,
        .host_refused_status = 421,
        .poll_threads = CON_POLL_THREADS,
        .handler_threads = CON_HANDLER_THREADS,
        .max_jobs = CON_MAX_JOBS,
        .idle_timeout_s = CON_IDLE_TIMEOUT_S,
        .max_connections = max_connections,
        .keepalive_s = CON_SSE_KEEPALIVE_S,
        .conn_memory_bytes = CON_CONN_MEMORY_BYTES,
        .max_head_bytes = CON_MAX_HEAD_BYTES,
        .max_body_bytes = CON_MAX_BODY_BYTES,
        .discard_body_bytes = CON_DISCARD_BODY_BYTES,
        .body_budget_bytes = 0,   /* 64 KiB bodies; the connection limit bounds them */
        .secret_bodies = true,    /* a body may hold a passphrase */
        .head = on_head,
        .handle = on_request,
        .refuse = refuse,
        .ctx = c,
    };
    nc_httpd_listen where = {.unix_socket = false, .port = port};
    return nc_httpd_start(&cfg, &where, out, msg, msg_len);
}
