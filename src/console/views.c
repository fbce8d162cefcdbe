/* The console's views beyond the plain proxies (docs/console.md "HTTP API"):
 * filtered and sorted lists, modules, the audit log's entries with their
 * inclusion proofs, refusals, alerts; receipts and proofs checked here with
 * the worker's public key; and what the operator may do without a
 * signature: acknowledge an alert, remove an agent, revoke a key, log out.
 * Every query argument is checked against a list (an unknown one is a 400)
 * before anything reaches the worker, which checks them again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "audit/audit.h"
#include "common/hash.h"
#include "console/console.h"
#include "trust/statement.h"

#define ARG_MAX_TEXT 200
#define MODULE_VERSIONS 100
#define MODULE_RUNS 20

typedef enum { ARG_TEXT, ARG_INT } arg_kind;

typedef struct {
    const char *name;
    arg_kind kind;
    uint64_t max;
} arg_spec;

typedef struct {
    const arg_spec *spec;
    const char *bad;   /* the first unknown argument */
} arg_check;

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    (void)value;
    arg_check *x = cls;
    for (const arg_spec *s = x->spec; s->name; s++)
        if (strcmp(s->name, key) == 0)
            return MHD_YES;
    if (!x->bad)
        x->bad = key;
    return MHD_YES;
}

/* The query string as the worker's params: only the arguments in spec, each
 * well-formed (text: 1-200 bytes, no control characters; numbers: decimal
 * up to max). An empty argument is absent. NULL after a 400 was queued. */
static json_t *query_params(struct MHD_Connection *conn, const arg_spec *spec, enum MHD_Result *ret)
{
    arg_check x = {spec, NULL};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, check_arg, &x);
    if (x.bad) {
        *ret = con_send_error(conn, 400, "invalid_request", "unknown query argument \"%.40s\"", x.bad);
        return NULL;
    }
    json_t *p = json_object();
    if (!p) {
        *ret = con_send_error(conn, 500, "internal", "out of memory");
        return NULL;
    }
    for (const arg_spec *s = spec; s->name; s++) {
        const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, s->name);
        uint64_t u;
        if (!v || !v[0])
            continue;
        if (s->kind == ARG_INT) {
            if (!nc_httpd_parse_u64(v, s->max, &u)) {
                *ret = con_send_error(conn, 400, "invalid_request", "%s must be a whole number from 0 to %llu",
                                      s->name, (unsigned long long)s->max);
                json_decref(p);
                return NULL;
            }
            json_object_set_new(p, s->name, json_integer((json_int_t)u));
        } else {
            size_t len = strlen(v);
            bool ok = len <= ARG_MAX_TEXT;
            for (size_t i = 0; ok && i < len; i++)
                ok = (unsigned char)v[i] >= 0x20 && v[i] != 0x7f;
            json_t *t = ok ? json_string(v) : NULL;   /* NULL too when not UTF-8 */
            if (!t) {
                *ret = con_send_error(conn, 400, "invalid_request", "%s must be text of at most %u bytes", s->name,
                                      ARG_MAX_TEXT);
                json_decref(p);
                return NULL;
            }
            json_object_set_new(p, s->name, t);
        }
    }
    return p;
}

#define T_MAX (UINT64_C(1) << 40)   /* unix seconds and sequence numbers */

static const arg_spec RUNS_ARGS[] = {
    {"name", ARG_TEXT, 0}, {"outcome", ARG_TEXT, 0}, {"invoker", ARG_TEXT, 0}, {"approval", ARG_TEXT, 0},
    {"from", ARG_INT, T_MAX}, {"to", ARG_INT, T_MAX}, {"sort", ARG_TEXT, 0}, {"order", ARG_TEXT, 0},
    {"limit", ARG_INT, 1000}, {"offset", ARG_INT, 1000000000}, {NULL, ARG_TEXT, 0}};
static const arg_spec INBOX_ARGS[] = {
    {"status", ARG_TEXT, 0}, {"name", ARG_TEXT, 0}, {"sha256", ARG_TEXT, 0}, {"q", ARG_TEXT, 0},
    {"min_score", ARG_INT, 100}, {"max_score", ARG_INT, 100}, {"from", ARG_INT, T_MAX}, {"to", ARG_INT, T_MAX},
    {"sort", ARG_TEXT, 0}, {"order", ARG_TEXT, 0}, {"limit", ARG_INT, 1000}, {"offset", ARG_INT, 1000000000},
    {NULL, ARG_TEXT, 0}};
static const arg_spec MODULES_ARGS[] = {
    {"q", ARG_TEXT, 0}, {"limit", ARG_INT, 1000}, {"offset", ARG_INT, 1000000000}, {NULL, ARG_TEXT, 0}};
static const arg_spec MODULE_ARGS[] = {{"name", ARG_TEXT, 0}, {NULL, ARG_TEXT, 0}};
static const arg_spec AUDIT_ARGS[] = {
    {"kind", ARG_TEXT, 0}, {"actor", ARG_TEXT, 0}, {"name", ARG_TEXT, 0}, {"from", ARG_INT, T_MAX},
    {"to", ARG_INT, T_MAX}, {"seq", ARG_INT, T_MAX}, {"limit", ARG_INT, 1000}, {"offset", ARG_INT, 1000000000},
    {NULL, ARG_TEXT, 0}};
static const arg_spec PROOF_ARGS[] = {{"seq", ARG_INT, T_MAX}, {NULL, ARG_TEXT, 0}};
static const arg_spec REFUSALS_ARGS[] = {
    {"socket", ARG_TEXT, 0}, {"request", ARG_TEXT, 0}, {"code", ARG_TEXT, 0}, {"uid", ARG_INT, UINT32_MAX},
    {"from", ARG_INT, T_MAX}, {"to", ARG_INT, T_MAX}, {"limit", ARG_INT, 1000}, {"offset", ARG_INT, 1000000000},
    {NULL, ARG_TEXT, 0}};
static const arg_spec ALERTS_ARGS[] = {
    {"all", ARG_INT, 1}, {"limit", ARG_INT, 1000}, {"offset", ARG_INT, 1000000000}, {NULL, ARG_TEXT, 0}};
static const arg_spec NO_ARGS[] = {{NULL, ARG_TEXT, 0}};

static enum MHD_Result proxy_query(con_ctx *c, struct MHD_Connection *conn, const char *op, const arg_spec *spec)
{
    enum MHD_Result ret = MHD_NO;
    json_t *p = query_params(conn, spec, &ret);
    return p ? con_proxy(c, conn, op, p) : ret;
}

/* ---- proofs checked here ---- */

json_t *con_check_proof(const con_ctx *c, const json_t *res)
{
    const char *entry = json_string_value(json_object_get(res, "entry"));
    const char *leaf_hex = json_string_value(json_object_get(res, "leaf"));
    const char *note = json_string_value(json_object_get(res, "checkpoint"));
    const json_t *proof = json_object_get(res, "proof");
    json_int_t seq = json_integer_value(json_object_get(res, "seq"));
    uint8_t leaf[NC_SHA256_LEN], given[NC_SHA256_LEN], hashes[NC_AUDIT_MAX_LEVELS][NC_SHA256_LEN];
    char origin[96], msg[256] = "";
    nc_checkpoint cp;
    bool leaf_ok = false, sig_ok = false, proof_ok = false;
    size_t n = json_array_size(proof);
    if (!entry || !leaf_hex || !note || !json_is_array(proof) || n > NC_AUDIT_MAX_LEVELS || seq < 0) {
        snprintf(msg, sizeof msg, "the answer has no entry, leaf, checkpoint or proof");
        goto done;
    }
    nc_audit_leaf_hash(entry, json_string_length(json_object_get(res, "entry")), leaf);
    leaf_ok = nc_unhex(leaf_hex, strlen(leaf_hex), given, sizeof given) == NC_OK && memcmp(leaf, given, sizeof leaf) == 0;
    if (!c->have_worker_key) {
        snprintf(msg, sizeof msg, "no worker key (keys/worker.pub) to check the checkpoint with");
        goto done;
    }
    snprintf(origin, sizeof origin, "nightcore/%s", c->worker_id);
    sig_ok = nc_audit_checkpoint_parse(note, strlen(note), origin, c->worker_pk, &cp, msg, sizeof msg) == NC_OK;
    if (!sig_ok)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const char *h = json_string_value(json_array_get(proof, i));
        if (!h || nc_unhex(h, strlen(h), hashes[i], NC_SHA256_LEN) != NC_OK) {
            snprintf(msg, sizeof msg, "proof hash %zu is not 64 hex digits", i);
            goto done;
        }
    }
    proof_ok = (uint64_t)seq < cp.size &&
               nc_audit_inclusion_check((uint64_t)seq, cp.size, leaf, (const uint8_t(*)[NC_SHA256_LEN])hashes, n,
                                        cp.root);
    if (!proof_ok)
        snprintf(msg, sizeof msg, "the inclusion proof does not lead to the checkpoint's root");
    else if (!leaf_ok)
        snprintf(msg, sizeof msg, "the entry does not hash to the leaf given");
done:
    return json_pack("{s:b, s:b, s:b, s:b, s:s?, s:I}", "ok", leaf_ok && sig_ok && proof_ok, "leaf", leaf_ok,
                     "signature", sig_ok, "proof", proof_ok, "error", msg[0] ? msg : NULL, "checked_at",
                     (json_int_t)time(NULL));
}

/* A worker answer with an entry and its proof, and the check made here. */
static enum MHD_Result checked_proof(con_ctx *c, struct MHD_Connection *conn, const char *op, json_t *params)
{
    json_t *res = NULL;
    con_call_error err;
    if (con_worker_call(c, op, params, &res, &err) != NC_OK)
        return con_send_call_error(conn, &err);
    json_object_set_new(res, "verification", con_check_proof(c, res));
    char key[256] = "", origin[96];
    snprintf(origin, sizeof origin, "nightcore/%s", c->worker_id);
    if (c->have_worker_key && nc_audit_verifier_key(origin, c->worker_pk, key, sizeof key) == NC_OK)
        json_object_set_new(res, "verifier_key", json_string(key));
    return con_send_json(conn, 200, res);
}

/* ---- a module: every version, its approvals, its latest runs ---- */

static enum MHD_Result api_module(con_ctx *c, struct MHD_Connection *conn)
{
    enum MHD_Result ret = MHD_NO;
    json_t *p = query_params(conn, MODULE_ARGS, &ret), *subs = NULL, *aps = NULL, *runs = NULL;
    if (!p)
        return ret;
    const char *name = json_string_value(json_object_get(p, "name"));
    if (!name || !nc_module_name_ok(name)) {
        json_decref(p);
        return con_send_error(conn, 400, "invalid_request", "name must be a module name");
    }
    con_call_error err;
    if (con_worker_call(c, "inbox.query", json_pack("{s:s, s:s, s:i}", "name", name, "status", "all", "limit",
                                                   MODULE_VERSIONS), &subs, &err) != NC_OK ||
        con_worker_call(c, "approval.list", json_pack("{s:s, s:i}", "name", name, "limit", MODULE_VERSIONS), &aps,
                        &err) != NC_OK ||
        con_worker_call(c, "runs.query", json_pack("{s:s, s:i}", "name", name, "limit", MODULE_RUNS), &runs, &err) !=
            NC_OK) {
        ret = con_send_call_error(conn, &err);
    } else if (json_integer_value(json_object_get(subs, "total")) == 0) {
        ret = con_send_error(conn, 404, "not_found", "no module of that name was ever submitted");
    } else {
        ret = con_send_json(conn, 200, json_pack("{s:s, s:O, s:O, s:O}", "name", name, "versions", subs,
                                                 "approvals", aps, "runs", runs));
    }
    json_decref(p);
    json_decref(subs);
    json_decref(aps);
    json_decref(runs);
    return ret;
}

bool con_views_get(con_ctx *c, struct MHD_Connection *conn, char **seg, size_t n, enum MHD_Result *ret)
{
    const char *s0 = seg[0];
    if (n == 1 && strcmp(s0, "runs") == 0)
        *ret = proxy_query(c, conn, "runs.query", RUNS_ARGS);
    else if (n == 1 && strcmp(s0, "inbox") == 0) {
        json_t *p = query_params(conn, INBOX_ARGS, ret);
        if (p && !json_object_get(p, "status"))
            json_object_set_new(p, "status", json_string("pending"));   /* as inbox.list: pending by default */
        if (p)
            *ret = con_proxy(c, conn, "inbox.query", p);
    }
    else if (n == 1 && strcmp(s0, "modules") == 0)
        *ret = proxy_query(c, conn, "modules.list", MODULES_ARGS);
    else if (n == 1 && strcmp(s0, "module") == 0)
        *ret = api_module(c, conn);
    else if (n == 2 && strcmp(s0, "audit") == 0 && strcmp(seg[1], "entries") == 0)
        *ret = proxy_query(c, conn, "audit.entries", AUDIT_ARGS);
    else if (n == 2 && strcmp(s0, "audit") == 0 && strcmp(seg[1], "proof") == 0) {
        json_t *p = query_params(conn, PROOF_ARGS, ret);
        if (p && !json_object_get(p, "seq")) {
            json_decref(p);
            *ret = con_send_error(conn, 400, "invalid_request", "seq (the entry's number) is required");
        } else if (p) {
            *ret = checked_proof(c, conn, "audit.proof", p);
        }
    } else if (n == 1 && strcmp(s0, "refusals") == 0)
        *ret = proxy_query(c, conn, "refusals.list", REFUSALS_ARGS);
    else if (n == 1 && strcmp(s0, "alerts") == 0) {
        json_t *p = query_params(conn, ALERTS_ARGS, ret);
        if (p) {
            json_t *all = json_object_get(p, "all");
            json_object_set_new(p, "all", json_boolean(json_integer_value(all) == 1));
            *ret = con_proxy(c, conn, "alerts.list", p);
        }
    } else if (n == 3 && strcmp(s0, "runs") == 0 && strcmp(seg[2], "receipt") == 0) {
        json_t *p = query_params(conn, NO_ARGS, ret);
        if (p) {
            json_object_set_new(p, "run", json_string(seg[1]));
            *ret = checked_proof(c, conn, "run.receipt", p);
        }
    } else
        return false;
    return true;
}

/* ---- management ---- */

static bool empty_body(struct MHD_Connection *conn, const char *body, size_t len, enum MHD_Result *ret)
{
    static const char *const keys[] = {NULL};
    json_t *o = con_parse_body(conn, body, len, keys, ret);
    json_decref(o);
    return o != NULL;
}

/* trust.revoke takes the key itself: its line comes from the log's trust
 * entries (trust.root, trust.add), found by the fingerprint shown. */
static nc_err key_by_fingerprint(con_ctx *c, const char *fp, char *out, size_t out_len, con_call_error *err)
{
    static const char *const kinds[] = {"trust.root", "trust.add"};
    for (size_t k = 0; k < 2; k++) {
        json_t *res = NULL;
        if (con_worker_call(c, "audit.entries", json_pack("{s:s, s:i}", "kind", kinds[k], "limit", 1000), &res, err) !=
            NC_OK)
            return NC_ERR_IO;
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(res, "items"), i, it) {
            const char *text = json_string_value(json_object_get(it, "entry"));
            json_t *e = text ? json_loads(text, 0, NULL) : NULL;
            json_t *keys = json_object_get(e, "keys");
            size_t j;
            json_t *kk;
            if (k == 1 && e)
                keys = json_pack("[{s:O?, s:O?}]", "key", json_object_get(e, "key"), "fingerprint",
                                 json_object_get(e, "fingerprint"));
            else
                json_incref(keys);
            json_array_foreach(keys, j, kk) {
                const char *f = json_string_value(json_object_get(kk, "fingerprint"));
                const char *line = json_string_value(json_object_get(kk, "key"));
                if (f && line && strcmp(f, fp) == 0 && strlen(line) < out_len) {
                    snprintf(out, out_len, "%s", line);
                    json_decref(keys);
                    json_decref(e);
                    json_decref(res);
                    return NC_OK;
                }
            }
            json_decref(keys);
            json_decref(e);
        }
        json_decref(res);
    }
    return NC_ERR_NOT_FOUND;
}

static enum MHD_Result api_trust_revoke(con_ctx *c, struct MHD_Connection *conn, const char *body, size_t len)
{
    static const char *const keys[] = {"fingerprint", NULL};
    enum MHD_Result ret = MHD_NO;
    json_t *o = con_parse_body(conn, body, len, keys, &ret);
    if (!o)
        return ret;
    const char *fp = json_string_value(json_object_get(o, "fingerprint"));
    if (!fp || strncmp(fp, "SHA256:", 7) != 0 || strlen(fp) > 80 ||
        strspn(fp + 7, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != strlen(fp + 7)) {
        json_decref(o);
        return con_send_error(conn, 400, "invalid_request", "fingerprint must be a key's SHA256:... fingerprint");
    }
    char line[2048];
    con_call_error err;
    nc_err e = key_by_fingerprint(c, fp, line, sizeof line, &err);
    json_decref(o);
    if (e == NC_ERR_NOT_FOUND)
        return con_send_error(conn, 404, "not_found", "no trusted key has that fingerprint");
    if (e != NC_OK)
        return con_send_call_error(conn, &err);
    fprintf(stderr, "nightcore-console: revoking a trusted key\n");
    return con_proxy(c, conn, "trust.revoke", json_pack("{s:s}", "key", line));
}

static enum MHD_Result api_logout(struct MHD_Connection *conn, const char *body, size_t len)
{
    enum MHD_Result ret = MHD_NO;
    if (!empty_body(conn, body, len, &ret))
        return ret;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, CON_SESSION_HEADER);
    bool ended = h && strncmp(h, "Bearer ", 7) == 0 && con_session_end(h + 7);
    fprintf(stderr, "nightcore-console: a session was ended (log-out)\n");
    return con_send_json(conn, 200, json_pack("{s:b}", "ended", ended));
}

bool con_views_post(con_ctx *c, struct MHD_Connection *conn, char **seg, size_t n, char *body, size_t len,
                    enum MHD_Result *ret)
{
    if (n == 3 && strcmp(seg[0], "alerts") == 0 && strcmp(seg[2], "ack") == 0) {
        if (empty_body(conn, body, len, ret))
            *ret = con_proxy(c, conn, "alert.ack", json_pack("{s:s}", "alert", seg[1]));
    } else if (n == 3 && strcmp(seg[0], "agents") == 0 && strcmp(seg[2], "remove") == 0) {
        if (empty_body(conn, body, len, ret))
            *ret = con_proxy(c, conn, "agent.remove", json_pack("{s:s}", "name", seg[1]));
    } else if (n == 2 && strcmp(seg[0], "trust") == 0 && strcmp(seg[1], "revoke") == 0) {
        *ret = api_trust_revoke(c, conn, body, len);
    } else if (n == 2 && strcmp(seg[0], "policies") == 0 && strcmp(seg[1], "prepare") == 0) {
        *ret = con_api_policy_prepare(c, conn, body, len);
    } else if (n == 2 && strcmp(seg[0], "policies") == 0 && strcmp(seg[1], "sign") == 0) {
        *ret = con_api_policy_sign(c, conn, body, len);
    } else if (n == 2 && strcmp(seg[0], "session") == 0 && strcmp(seg[1], "end") == 0) {
        *ret = api_logout(conn, body, len);
    } else {
        return false;
    }
    return true;
}
