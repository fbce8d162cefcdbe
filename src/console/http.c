/* The HTTP side: every request passes, in this order, the Host check (421),
 * the token exchange or the session check (401), and for POST the Origin and
 * CSRF checks (403) and the body cap (413), before any route sees it. Every
 * response, errors included, carries the security headers. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "console/assets.h"
#include "console/console.h"
#include "console/http.h"

#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

typedef struct {
    char *body;          /* sodium_malloc'd CON_MAX_BODY_BYTES + 1 (wiped when freed), or NULL */
    size_t len;          /* bytes kept */
    size_t seen;         /* bytes received */
    bool too_big;
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

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
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
    return queue(conn, status, r);
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

static bool secret_eq(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    size_t la = strnlen(a, CON_HEX_TOKEN_LEN + 1), lb = strnlen(b, CON_HEX_TOKEN_LEN + 1);
    return la == CON_HEX_TOKEN_LEN && lb == CON_HEX_TOKEN_LEN && sodium_memcmp(a, b, CON_HEX_TOKEN_LEN) == 0;
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

/* GET /?token=: the start-up token for a session cookie, then away from the
 * address with the token in it. */
static enum MHD_Result token_exchange(struct MHD_Connection *conn, const char *token)
{
    char sid[CON_HEX_TOKEN_LEN + 1], cookie[160];
    if (!con_session_token_ok(token))
        return con_send_error(conn, 401, "unauthorized",
                              "wrong token: open the URL that nightcore-console printed when it started");
    if (con_session_new(sid) != NC_OK)
        return con_send_error(conn, 500, "internal", "cannot create a session");
    snprintf(cookie, sizeof cookie, "nc_session=%s; HttpOnly; SameSite=Strict; Path=/", sid);
    sodium_memzero(sid, sizeof sid);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        sodium_memzero(cookie, sizeof cookie);
        return MHD_NO;
    }
    con_add_security_headers(r);
    MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
    MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, "/");
    sodium_memzero(cookie, sizeof cookie);
    return queue(conn, 303, r);
}

static enum MHD_Result dispatch(con_ctx *c, struct MHD_Connection *conn, const char *url, const char *method,
                                req_ctx *r)
{
    char csrf[CON_HEX_TOKEN_LEN + 1];
    const bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    const bool post = strcmp(method, "POST") == 0;

    /* DNS rebinding: another name that resolves to 127.0.0.1 is another site. */
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!host || (strcasecmp(host, c->host_ip) != 0 && strcasecmp(host, c->host_name) != 0))
        return con_send_error(conn, 421, "misdirected_request", "this console answers only to %s or %s",
                              c->host_ip, c->host_name);
    if (!get && !post)
        return con_send_error(conn, 405, "method_not_allowed", "only GET and POST");
    if (get && strcmp(url, "/") == 0) {
        const char *token = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
        if (token)
            return token_exchange(conn, token);
    }
    const char *sid = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "nc_session");
    if (!con_session_lookup(sid, csrf))
        return con_send_error(conn, 401, "unauthorized",
                              "no valid session: open the URL that nightcore-console printed when it started");
    if (post) {
        const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
        if (!origin || (strcmp(origin, c->origin_ip) != 0 && strcmp(origin, c->origin_name) != 0))
            return con_send_error(conn, 403, "forbidden", "cross-origin request refused (Origin must be %s)",
                                  c->origin_ip);
        const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-CSRF-Token");
        bool ok = secret_eq(given, csrf);
        sodium_memzero(csrf, sizeof csrf);
        if (!ok)
            return con_send_error(conn, 403, "forbidden", "missing or wrong X-CSRF-Token (GET /api/session)");
        if (r->too_big)
            return con_send_error(conn, 413, "too_large", "request body larger than %u bytes", CON_MAX_BODY_BYTES);
    }
    if (strcmp(url, "/api") == 0 || strncmp(url, "/api/", 5) == 0) {
        enum MHD_Result ret = con_api(c, conn, get ? "GET" : "POST", url, r->body, r->len, csrf);
        sodium_memzero(csrf, sizeof csrf);
        return ret;
    }
    sodium_memzero(csrf, sizeof csrf);
    if (!get)
        return con_send_error(conn, 405, "method_not_allowed", "only GET here");
    return serve_asset(conn, url);
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
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        uint64_t n = 0;
        if (cl && (!con_parse_u64(cl, UINT64_MAX, &n) || n > CON_MAX_BODY_BYTES))
            r->too_big = true;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
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
        memcpy(r->body + r->len, upload_data, n);
        r->len += n;
        r->body[r->len] = '\0';
        return MHD_YES;
    }
    return dispatch(c, conn, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    req_ctx *r = *con_cls;
    if (!r)
        return;
    if (r->body)
        sodium_free(r->body);   /* wipes it: it may have held a passphrase */
    free(r);
    *con_cls = NULL;
}

struct MHD_Daemon *con_http_start(con_ctx *c, const struct sockaddr_in *addr)
{
    return MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
                            NULL, NULL, on_request, c, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CON_MAX_CONNECTIONS,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120, MHD_OPTION_NOTIFY_COMPLETED,
                            on_completed, (void *)c, MHD_OPTION_END);
}
