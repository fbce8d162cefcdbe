/* The /api routes (docs/console.md "HTTP API"). The session and Origin
 * checks have passed before anything here runs, except for the token
 * exchange (con_api_exchange), whose one-time token is the credential. Everything the worker says is
 * passed on as JSON data; the UI renders it as text. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include "common/json.h"
#include "console/console.h"
#include "trust/statement.h"

#define API_MAX_SEGMENTS 4
#define API_MAX_URL 256
#define API_MAX_LIMIT 1000u
#define API_MAX_OFFSET 1000000000u
#define API_MAX_REASON_BYTES 4096u

/* The body as a JSON object with only the allowed keys; an empty body is {}.
 * NULL after an answer (400) has been queued into *ret. */
json_t *con_parse_body(struct MHD_Connection *conn, const char *body, size_t len, const char *const *allowed,
                       enum MHD_Result *ret)
{
    json_t *o = NULL;
    char msg[256];
    if (len == 0)
        o = json_object();
    else if (nc_json_parse_strict(body, len, &o, msg, sizeof msg) != NC_OK) {
        *ret = con_send_error(conn, 400, "invalid_request", "the body is not valid JSON: %s", msg);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        *ret = con_send_error(conn, 400, "invalid_request", "the body must be a JSON object");
        return NULL;
    }
    if (nc_json_only_keys(o, allowed, msg, sizeof msg) != NC_OK) {
        json_decref(o);
        *ret = con_send_error(conn, 400, "invalid_request", "%s", msg);
        return NULL;
    }
    return o;
}

/* name, limit, offset (and status for the inbox) from the query string. */
static json_t *list_params(struct MHD_Connection *conn, bool with_name, bool with_status, enum MHD_Result *ret)
{
    json_t *p = json_object();
    uint64_t v;
    if (!p) {
        *ret = con_send_error(conn, 500, "internal", "out of memory");
        return NULL;
    }
    const char *limit = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
    const char *offset = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "offset");
    const char *name = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "name");
    const char *status = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "status");
    if (limit && limit[0]) {
        if (!nc_httpd_parse_u64(limit, API_MAX_LIMIT, &v) || v == 0) {
            *ret = con_send_error(conn, 400, "invalid_request", "limit must be a whole number from 1 to %u",
                                  API_MAX_LIMIT);
            goto fail;
        }
        json_object_set_new(p, "limit", json_integer((json_int_t)v));
    }
    if (offset && offset[0]) {
        if (!nc_httpd_parse_u64(offset, API_MAX_OFFSET, &v)) {
            *ret = con_send_error(conn, 400, "invalid_request", "offset must be a whole number");
            goto fail;
        }
        json_object_set_new(p, "offset", json_integer((json_int_t)v));
    }
    if (with_name && name && name[0]) {
        if (!nc_module_name_ok(name)) {
            *ret = con_send_error(conn, 400, "invalid_request", "name must be a module name");
            goto fail;
        }
        json_object_set_new(p, "name", json_string(name));
    }
    if (with_status && status && status[0]) {
        static const char *const ok[] = {"pending", "approved", "rejected", "expired", "all", NULL};
        size_t i = 0;
        while (ok[i] && strcmp(ok[i], status) != 0)
            i++;
        if (!ok[i]) {
            *ret = con_send_error(conn, 400, "invalid_request",
                                  "status must be pending, approved, rejected, expired or all");
            goto fail;
        }
        json_object_set_new(p, "status", json_string(status));
    }
    return p;
fail:
    json_decref(p);
    return NULL;
}

static enum MHD_Result api_session(con_ctx *c, struct MHD_Connection *conn)
{
    return con_send_json(conn, 200,
                         json_pack("{s:s?, s:s, s:s, s:I}", "worker_id", c->have_worker_key ? c->worker_id : NULL,
                                   "version", NC_VERSION, "home", c->home.root, "link_ttl_s",
                                   (json_int_t)con_token_ttl()));
}

/* {"session":"<hex>"} in sodium memory, freed (and wiped) by libmicrohttpd. */
static enum MHD_Result send_session(struct MHD_Connection *conn, const char *sid)
{
    static const char head[] = "{\"session\":\"", tail[] = "\"}";
    const size_t len = sizeof head - 1 + CON_HEX_TOKEN_LEN + sizeof tail - 1;
    char *text = sodium_malloc(len + 1);
    if (!text)
        return con_send_error(conn, 500, "internal", "out of memory");
    snprintf(text, len + 1, "%s%s%s", head, sid, tail);
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, text, sodium_free);
    if (!r) {
        sodium_free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return con_queue(conn, 200, r);
}

enum MHD_Result con_api_exchange(struct MHD_Connection *conn, const char *body, size_t body_len)
{
    static const char *const keys[] = {"token", NULL};
    enum MHD_Result ret = MHD_NO;
    char sid[CON_HEX_TOKEN_LEN + 1];
    json_t *o = con_parse_body(conn, body, body_len, keys, &ret);
    if (!o)
        return ret;
    const json_t *t = json_object_get(o, "token");
    if (!json_is_string(t) || json_string_length(t) != CON_HEX_TOKEN_LEN) {
        json_decref(o);
        return con_send_error(conn, 400, "invalid_request", "token must be the 64 hex digits of a one-time link");
    }
    bool ok = con_token_exchange(json_string_value(t), sid);
    sodium_memzero((char *)json_string_value(t), CON_HEX_TOKEN_LEN);
    json_decref(o);
    if (!ok)
        return con_send_error(conn, 401, "link_used_or_expired",
                              "this link was already used or has expired (links work once, for %u minutes): run "
                              "`nightcore-console link` for a new one",
                              con_token_ttl() / 60 ? con_token_ttl() / 60 : 1);
    ret = send_session(conn, sid);
    sodium_memzero(sid, sizeof sid);
    fprintf(stderr, "nightcore-console: a one-time link was exchanged for a session\n");
    return ret;
}

static enum MHD_Result api_reject(con_ctx *c, struct MHD_Connection *conn, const char *sid, const char *body,
                                  size_t len)
{
    static const char *const keys[] = {"reason", NULL};
    enum MHD_Result ret = MHD_NO;
    json_t *o = con_parse_body(conn, body, len, keys, &ret);
    if (!o)
        return ret;
    const json_t *reason = json_object_get(o, "reason");
    if (!json_is_string(reason) || json_string_length(reason) == 0 ||
        json_string_length(reason) > API_MAX_REASON_BYTES) {
        json_decref(o);
        return con_send_error(conn, 400, "invalid_request", "reason must be text of 1 to %u bytes",
                              API_MAX_REASON_BYTES);
    }
    json_t *params = json_pack("{s:s, s:O}", "submission", sid, "reason", reason);
    json_decref(o);
    return con_proxy(c, conn, "reject", params);
}

static enum MHD_Result api_revoke(con_ctx *c, struct MHD_Connection *conn, const char *aid, const char *body,
                                  size_t len)
{
    static const char *const keys[] = {NULL};
    enum MHD_Result ret = MHD_NO;
    json_t *o = con_parse_body(conn, body, len, keys, &ret);
    if (!o)
        return ret;
    json_decref(o);
    return con_proxy(c, conn, "approval.revoke", json_pack("{s:s}", "approval", aid));
}

static enum MHD_Result api_get(con_ctx *c, struct MHD_Connection *conn, char **seg, size_t n)
{
    enum MHD_Result ret = MHD_NO;
    json_t *p;
    const char *s0 = seg[0];
    if (con_views_get(c, conn, seg, n, &ret))
        return ret;
    if (n == 1 && strcmp(s0, "session") == 0)
        return api_session(c, conn);
    if (n == 1 && strcmp(s0, "signer") == 0)
        return con_api_signer(c, conn);
    if (n == 1 && strcmp(s0, "status") == 0)
        return con_proxy(c, conn, "status", NULL);
    if (n == 1 && strcmp(s0, "dashboard") == 0)
        return con_api_dashboard(c, conn);
    if (n == 1 && strcmp(s0, "events") == 0)
        return con_api_events(conn);
    if (n == 1 && strcmp(s0, "inbox") == 0)
        return (p = list_params(conn, false, true, &ret)) ? con_proxy(c, conn, "inbox.list", p) : ret;
    if (n == 2 && strcmp(s0, "submissions") == 0)
        return con_proxy(c, conn, "submission.get", json_pack("{s:s}", "submission", seg[1]));
    if (n == 1 && strcmp(s0, "approvals") == 0)
        return (p = list_params(conn, true, false, &ret)) ? con_proxy(c, conn, "approval.list", p) : ret;
    if (n == 2 && strcmp(s0, "approvals") == 0)
        return con_proxy(c, conn, "approval.get", json_pack("{s:s}", "approval", seg[1]));
    if (n == 1 && strcmp(s0, "runs") == 0)
        return (p = list_params(conn, true, false, &ret)) ? con_proxy(c, conn, "runs.list", p) : ret;
    if (n == 2 && strcmp(s0, "runs") == 0)
        return con_proxy(c, conn, "run.get", json_pack("{s:s}", "run", seg[1]));
    if (n == 3 && strcmp(s0, "runs") == 0 && strcmp(seg[2], "receipt") == 0)
        return con_proxy(c, conn, "run.receipt", json_pack("{s:s}", "run", seg[1]));
    if (n == 1 && strcmp(s0, "policies") == 0)
        return con_proxy(c, conn, "policy.list", NULL);
    if (n == 1 && strcmp(s0, "trust") == 0)
        return con_proxy(c, conn, "trust.list", NULL);
    if (n == 1 && strcmp(s0, "agents") == 0)
        return con_proxy(c, conn, "agent.list", NULL);
    if (n == 1 && strcmp(s0, "audit") == 0) {
        /* "Verify now" asks for a fresh verification; others may get one a few seconds old. */
        const char *fresh = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "fresh");
        return con_send_json(conn, 200, con_audit_report(c, fresh && strcmp(fresh, "1") == 0));
    }
    if (n == 2 && strcmp(s0, "audit") == 0 && strcmp(seg[1], "export") == 0) {
        const char *fmt = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "format");
        return con_api_audit_export(c, conn, fmt ? fmt : "jsonl");
    }
    return con_send_error(conn, 404, "not_found", "no such API");
}

static enum MHD_Result api_post(con_ctx *c, struct MHD_Connection *conn, char **seg, size_t n, char *body,
                                size_t len)
{
    enum MHD_Result ret = MHD_NO;
    if (con_views_post(c, conn, seg, n, body, len, &ret))
        return ret;
    if (n == 3 && strcmp(seg[0], "submissions") == 0) {
        if (strcmp(seg[2], "prepare") == 0)
            return con_api_prepare(c, conn, seg[1], body, len);
        if (strcmp(seg[2], "approve") == 0)
            return con_api_approve(c, conn, seg[1], body, len);
        if (strcmp(seg[2], "reject") == 0)
            return api_reject(c, conn, seg[1], body, len);
    }
    if (n == 3 && strcmp(seg[0], "approvals") == 0 && strcmp(seg[2], "revoke") == 0)
        return api_revoke(c, conn, seg[1], body, len);
    return con_send_error(conn, 404, "not_found", "no such API");
}

enum MHD_Result con_api(con_ctx *c, struct MHD_Connection *conn, const char *method, const char *url, char *body,
                        size_t body_len)
{
    char path[API_MAX_URL];
    char *seg[API_MAX_SEGMENTS];
    size_t n = 0;
    size_t ulen = strlen(url);
    if (ulen <= 5 || ulen >= sizeof path)
        return con_send_error(conn, 404, "not_found", "no such API");
    memcpy(path, url + 5, ulen - 5 + 1);   /* after "/api/" */
    /* Split on '/': every segment non-empty; ids (the 2nd) of [A-Za-z0-9_-] only. */
    char *p = path;
    for (;;) {
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        if (n >= API_MAX_SEGMENTS || !con_id_ok(p))
            return con_send_error(conn, 404, "not_found", "no such API");
        seg[n++] = p;
        if (!slash)
            break;
        p = slash + 1;
    }
    if (strcmp(method, "GET") == 0)
        return api_get(c, conn, seg, n);
    return api_post(c, conn, seg, n, body, body_len);
}
