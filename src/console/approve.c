/* Approving from the console: the worker prepares the statement, the console
 * checks the exact bytes name this submission and this approver, and signs
 * them with ssh-keygen and the operator's key (ssh-agent, a passphrase-less
 * key, or the passphrase handed to ssh-keygen through the askpass helper over
 * a pipe). The worker verifies the signed approval as always. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "common/fs.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/limits.h"
#include "console/console.h"
#include "trust/sign.h"
#include "trust/sshsig.h"
#include "trust/statement.h"

#define CONFIG_MAX_BYTES (64u * 1024)
#define MAX_EXPIRES_S (366ll * 86400)

/* config.json, or {} when there is none; NULL (and msg) when unreadable. */
static json_t *load_config(const con_ctx *c, char *msg, size_t msg_len)
{
    char path[PATH_MAX];
    uint8_t *data = NULL;
    size_t len = 0;
    json_t *cfg = NULL;
    if (nc_home_path(&c->home, NC_HOME_CONFIG, path, sizeof path) != NC_OK) {
        snprintf(msg, msg_len, "home path too long");
        return NULL;
    }
    nc_err err = nc_read_file(path, CONFIG_MAX_BYTES, &data, &len);
    if (err == NC_ERR_NOT_FOUND)
        return json_object();
    if (err != NC_OK) {
        snprintf(msg, msg_len, "cannot read config.json: %s", nc_strerror(err));
        return NULL;
    }
    char inner[200];
    err = nc_json_parse_strict(data, len, &cfg, inner, sizeof inner);
    free(data);
    if (err != NC_OK || !json_is_object(cfg)) {
        json_decref(cfg);
        snprintf(msg, msg_len, "config.json is not a JSON object (%s)", err != NC_OK ? inner : "wrong type");
        return NULL;
    }
    return cfg;
}

/* The approver principal: --principal, else config.json "principal". */
static bool resolve_principal(const con_ctx *c, const json_t *cfg, char *out, size_t out_len)
{
    const char *p = c->principal_override[0] ? c->principal_override
                                               : json_string_value(json_object_get(cfg, "principal"));
    if (!p || !nc_principal_ok(p))
        return false;
    return (size_t)snprintf(out, out_len, "%s", p) < out_len;
}

/* --key, config.json approver_key, keys/approver: the first that is given. */
static bool resolve_key(const con_ctx *c, const json_t *cfg, char *out, size_t out_len, char *msg, size_t msg_len)
{
    char def[PATH_MAX];
    const char *key = c->key_override[0] ? c->key_override : json_string_value(json_object_get(cfg, "approver_key"));
    if (!key) {
        if (nc_home_path(&c->home, NC_HOME_APPROVER_KEY, def, sizeof def) != NC_OK) {
            snprintf(msg, msg_len, "home path too long");
            return false;
        }
        key = def;
    }
    struct stat st;
    if (stat(key, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(msg, msg_len,
                 "no approver key at %.300s: run `nightcore init --generate-key`, set approver_key in config.json, "
                 "or start the console with --key",
                 key);
        return false;
    }
    if ((size_t)snprintf(out, out_len, "%s", key) >= out_len) {
        snprintf(msg, msg_len, "approver key path too long");
        return false;
    }
    return true;
}

/* Adds the prepare body's options to params; NULL message when all are fine. */
static const char *prepare_options(const json_t *o, json_t *params)
{
    const json_t *v;
    uint64_t u;
    if ((v = json_object_get(o, "policy"))) {
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 64)
            return "policy must be a policy name";
        json_object_set(params, "policy", (json_t *)v);
    }
    if ((v = json_object_get(o, "max_runs"))) {
        if (nc_json_uint(v, 1000000000ull, &u) != NC_OK || u == 0)
            return "max_runs must be a whole number from 1 to 1000000000";
        json_object_set_new(params, "max_runs", json_integer((json_int_t)u));
    }
    if ((v = json_object_get(o, "expires_in_s"))) {
        if (nc_json_uint(v, (uint64_t)MAX_EXPIRES_S, &u) != NC_OK || u < 60)
            return "expires_in_s must be a whole number of seconds from 60 to 31622400";
        json_object_set_new(params, "expires_in_s", json_integer((json_int_t)u));
    }
    if ((v = json_object_get(o, "invokers"))) {
        if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > NC_MAX_INVOKERS)
            return "invokers must list 1-16 of \"operator\", \"agent:NAME\"";
        for (size_t i = 0; i < json_array_size(v); i++) {
            const char *s = json_string_value(json_array_get(v, i));
            if (!s || strlen(s) != json_string_length(json_array_get(v, i)) || !nc_invoker_ok(s))
                return "invokers must list 1-16 of \"operator\", \"agent:NAME\"";
        }
        json_object_set(params, "invokers", (json_t *)v);
    }
    return NULL;
}

enum MHD_Result con_api_prepare(con_ctx *c, struct MHD_Connection *conn, const char *sid, const char *body,
                                size_t body_len)
{
    static const char *const keys[] = {"policy", "max_runs", "expires_in_s", "invokers", NULL};
    enum MHD_Result ret = MHD_NO;
    char principal[NC_PRINCIPAL_MAX + 1], msg[512] = "";
    json_t *o = NULL, *cfg = NULL, *params = NULL, *res = NULL;
    nc_statement st;
    con_call_error err;
    memset(&st, 0, sizeof st);

    o = con_parse_body(conn, body, body_len, keys, &ret);
    if (!o)
        goto done;
    cfg = load_config(c, msg, sizeof msg);
    if (!cfg) {
        ret = con_send_error(conn, 500, "internal", "%s", msg);
        goto done;
    }
    if (!resolve_principal(c, cfg, principal, sizeof principal)) {
        ret = con_send_error(conn, 409, "no_principal",
                             "no approver principal: set \"principal\" in config.json (`nightcore init` records one) "
                             "or start the console with --principal");
        goto done;
    }
    params = json_pack("{s:s, s:s}", "submission", sid, "approver", principal);
    if (!params) {
        ret = con_send_error(conn, 500, "internal", "out of memory");
        goto done;
    }
    const char *bad = prepare_options(o, params);
    if (bad) {
        ret = con_send_error(conn, 400, "invalid_request", "%s", bad);
        goto done;
    }
    nc_err e = con_worker_call(c, "approval.prepare", params, &res, &err);
    params = NULL;
    if (e != NC_OK) {
        ret = con_send_call_error(conn, &err);
        goto done;
    }
    /* What we will later be asked to sign: check it says what was asked. */
    const json_t *sj = json_object_get(res, "statement");
    if (!json_is_string(sj) ||
        nc_statement_parse(json_string_value(sj), json_string_length(sj), &st, msg, sizeof msg) != NC_OK ||
        strcmp(st.submission, sid) != 0 || strcmp(st.approver, principal) != 0) {
        ret = con_send_error(conn, 502, "worker_error",
                             "the worker prepared a statement that does not name this submission and approver");
        goto done;
    }
    char id[NC_SHA256_HEX_LEN + 1];
    if (nc_statement_id(json_string_value(sj), json_string_length(sj), id) == NC_OK)
        json_object_set_new(res, "approval_id", json_string(id));
    ret = con_send_json(conn, 200, res);
    res = NULL;
done:
    nc_statement_cleanup(&st);
    json_decref(o);
    json_decref(cfg);
    json_decref(params);
    json_decref(res);
    return ret;
}

/* Checks the statement against the submission as the worker holds it. */
static const char *statement_mismatch(const nc_statement *st, const char *sid, const char *principal,
                                      const json_t *sub)
{
    char hex[NC_SHA256_HEX_LEN + 1];
    nc_hex(st->sha256, NC_SHA256_LEN, hex);
    const char *name = json_string_value(json_object_get(sub, "name"));
    const char *sha = json_string_value(json_object_get(sub, "sha256"));
    if (strcmp(st->submission, sid) != 0)
        return "the statement is for another submission";
    if (!name || strcmp(st->name, name) != 0)
        return "the statement names another module";
    if (!sha || strcmp(hex, sha) != 0)
        return "the statement names another module digest";
    if (strcmp(st->approver, principal) != 0)
        return "the statement names another approver than this console's";
    if ((int64_t)st->expires_at <= (int64_t)time(NULL))
        return "the statement has expired: prepare it again";
    return NULL;
}

enum MHD_Result con_api_approve(con_ctx *c, struct MHD_Connection *conn, const char *sid, char *body,
                                size_t body_len)
{
    static const char *const keys[] = {"statement", "passphrase", NULL};
    enum MHD_Result ret = MHD_NO;
    char principal[NC_PRINCIPAL_MAX + 1], key[PATH_MAX], msg[512] = "";
    char *pass = NULL;   /* sodium_malloc'd */
    json_t *o = NULL, *cfg = NULL, *sub = NULL, *res = NULL, *params = NULL;
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    nc_statement st;
    con_call_error err;
    memset(&st, 0, sizeof st);

    o = con_parse_body(conn, body, body_len, keys, &ret);
    if (body)
        sodium_memzero(body, body_len);   /* the passphrase, in the request buffer */
    if (!o)
        goto done;
    json_t *pj = json_object_get(o, "passphrase");
    if (pj && !json_is_null(pj)) {
        size_t plen = json_is_string(pj) ? json_string_length(pj) : 0;
        bool ok = json_is_string(pj) && plen <= NC_ASKPASS_MAX_BYTES &&
                  strlen(json_string_value(pj)) == plen && !strpbrk(json_string_value(pj), "\r\n");
        if (ok && plen) {
            pass = sodium_malloc(plen + 1);
            if (pass)
                memcpy(pass, json_string_value(pj), plen + 1);
        }
        if (json_is_string(pj))   /* our copy of the text in jansson's memory */
            sodium_memzero((char *)json_string_value(pj), plen);
        if (!ok) {
            ret = con_send_error(conn, 400, "invalid_request",
                                 "passphrase must be text of at most %u bytes on one line", NC_ASKPASS_MAX_BYTES);
            goto done;
        }
        if (plen && !pass) {
            ret = con_send_error(conn, 500, "internal", "out of memory");
            goto done;
        }
    }
    const json_t *sj = json_object_get(o, "statement");
    if (!json_is_string(sj) || json_string_length(sj) > NC_STATEMENT_MAX_BYTES) {
        ret = con_send_error(conn, 400, "invalid_request", "statement must be the text approval.prepare returned");
        goto done;
    }
    const char *stmt = json_string_value(sj);
    size_t stmt_len = json_string_length(sj);
    if (nc_statement_parse(stmt, stmt_len, &st, msg, sizeof msg) != NC_OK) {
        ret = con_send_error(conn, 400, "bad_statement", "not an approval statement: %s", msg);
        goto done;
    }
    cfg = load_config(c, msg, sizeof msg);
    if (!cfg) {
        ret = con_send_error(conn, 500, "internal", "%s", msg);
        goto done;
    }
    if (!resolve_principal(c, cfg, principal, sizeof principal)) {
        ret = con_send_error(conn, 409, "no_principal",
                             "no approver principal: set \"principal\" in config.json or start the console with "
                             "--principal");
        goto done;
    }
    if (!resolve_key(c, cfg, key, sizeof key, msg, sizeof msg)) {
        ret = con_send_error(conn, 409, "no_key", "%s", msg);
        goto done;
    }
    if (con_worker_call(c, "submission.get", json_pack("{s:s}", "submission", sid), &sub, &err) != NC_OK) {
        ret = con_send_call_error(conn, &err);
        goto done;
    }
    const char *bad = statement_mismatch(&st, sid, principal, sub);
    if (bad) {
        ret = con_send_error(conn, 400, "bad_statement", "%s; not signing it", bad);
        goto done;
    }
    if (nc_sign_with_ssh_keygen_askpass(key, stmt, stmt_len, pass, c->self_exe, CON_SIGN_TIMEOUT_MS, &sig, &sig_len,
                                        msg, sizeof msg) != NC_OK) {
        fprintf(stderr, "nightcore-console: signing an approval of %s failed\n", sid);
        ret = con_send_error(conn, 409, "signing_failed", "%s", msg);
        goto done;
    }
    if (pass) {
        sodium_free(pass);
        pass = NULL;
    }
    params = json_pack("{s:s%, s:s%}", "statement", stmt, stmt_len, "signature", (const char *)sig, sig_len);
    if (!params) {
        ret = con_send_error(conn, 500, "internal", "ssh-keygen wrote a signature that is not text");
        goto done;
    }
    nc_err e = con_worker_call(c, "approval.submit", params, &res, &err);
    params = NULL;
    if (e != NC_OK) {
        ret = con_send_call_error(conn, &err);
        goto done;
    }
    fprintf(stderr, "nightcore-console: approved %s\n", sid);
    ret = con_send_json(conn, 200, res);
    res = NULL;
done:
    if (pass)
        sodium_free(pass);
    nc_statement_cleanup(&st);
    json_decref(o);
    json_decref(cfg);
    json_decref(sub);
    json_decref(res);
    json_decref(params);
    free(sig);
    return ret;
}
