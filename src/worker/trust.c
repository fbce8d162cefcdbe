/* The worker's trust: the ledger replayed from the audit log (trust/ledger.h)
 * is what is trusted; the files in trust/ must say the same, and every
 * verification goes through nc_worker_trust_load(), which refuses (and
 * names) any difference. Trust changes: adding a key is a signed admin
 * statement (or, while the home has no root of trust, its first key);
 * revoking is unsigned. docs/approvals.md, docs/protocol.md. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/fs.h"
#include "common/json.h"
#include "common/limits.h"
#include "trust/admin.h"
#include "trust/ledger.h"
#include "trust/privkey.h"
#include "trust/sshsig.h"
#include "trust/verify.h"
#include "worker/worker.h"

static nc_err apply_entry(const json_t *entry, void *ctx)
{
    nc_worker *w = ctx;
    return nc_ledger_apply(w->ledger, entry, w->worker_id, w->trust_problem, sizeof w->trust_problem);
}

/* Rewrites the files from the ledger. */
static nc_err write_files(nc_worker *w, char *msg, size_t msg_len)
{
    nc_buf as, rk;
    nc_buf_init(&as, NC_MAX_TRUST_FILE_BYTES);
    nc_buf_init(&rk, NC_MAX_TRUST_FILE_BYTES);
    nc_err err = nc_ledger_render(w->ledger, &as, &rk);
    if (err == NC_OK)
        err = nc_trust_replace(w->trust_dir, w->trust_record, as.data ? (const void *)as.data : "", as.len,
                               rk.data ? (const void *)rk.data : "", rk.len, msg, msg_len);
    else
        snprintf(msg, msg_len, "cannot render the trust files: %s", nc_strerror(err));
    nc_buf_cleanup(&as);
    nc_buf_cleanup(&rk);
    return err;
}

nc_err nc_worker_ledger_record(nc_worker *w, const char *type, json_t *fields, char *msg, size_t msg_len)
{
    uint64_t seq = 0;
    json_t *entry = fields ? json_deep_copy(fields) : NULL;
    int64_t now = nc_unix_now();
    nc_err err = entry ? nc_db_begin(w->db) : NC_ERR_NOMEM;
    if (err == NC_OK)
        err = nc_log(w, type, fields, &seq);
    else
        json_decref(fields);
    if (err == NC_OK)
        err = nc_db_commit(w->db);
    if (err != NC_OK) {
        nc_log_abort(w);
        json_decref(entry);
        char why[512];
        nc_worker_failure(w, err, why, sizeof why);
        snprintf(msg, msg_len, "the audit log cannot be written (%s): nothing changed", why);
        return err == NC_ERR_NO_SPACE || err == NC_ERR_CORRUPT ? err : NC_ERR_INTERNAL;
    }
    /* The entry as stored (nc_audit_append adds these three). Its time may
     * differ by a second from ours; only trust.add uses it, to check the
     * statement's window, which the caller checked just now. */
    json_object_set_new(entry, "seq", json_integer((json_int_t)seq));
    json_object_set_new(entry, "time", json_integer(now));
    json_object_set_new(entry, "type", json_string(type));
    err = nc_ledger_apply(w->ledger, entry, w->worker_id, msg, msg_len);
    json_decref(entry);
    return err;
}

/* Appends a trust entry, commits, applies it to the ledger and writes the
 * trust files from it. */
static nc_err record(nc_worker *w, const char *type, json_t *fields /* stolen */, char *msg, size_t msg_len)
{
    nc_err err = nc_worker_ledger_record(w, type, fields, msg, msg_len);
    if (err != NC_OK)
        return err;
    err = write_files(w, msg, msg_len);
    if (err != NC_OK)
        snprintf(msg + strlen(msg), msg_len - strlen(msg),
                 " (the change is recorded; `nightcore trust restore` writes the files again)");
    return err;
}

/* The first keys: adopted from the files when the log has no root yet and
 * the files trust at least one key (a home made by `init`, or by an older
 * version that did not sign trust changes). */
static nc_err adopt_root(nc_worker *w, const nc_trust_store *files, char *msg, size_t msg_len)
{
    if (nc_ledger_has_root(w->ledger) || nc_allowed_signers_count(files->signers) == 0)
        return NC_OK;
    json_t *f = nc_ledger_root_fields(files, "adopted");
    if (!f)
        return NC_ERR_NOMEM;
    fprintf(stderr, "nightcore-worker: recording the %zu key(s) in %s as the root of trust\n",
            nc_allowed_signers_count(files->signers), w->trust_dir);
    return record(w, "trust.root", f, msg, msg_len);
}

nc_err nc_worker_trust_open(nc_worker *w, char *msg, size_t msg_len)
{
    static const char *const types[] = {"trust.root", "trust.add", "trust.revoke", "policy.set", "policy.remove", NULL};
    nc_err err = nc_ledger_new(&w->ledger);
    if (err != NC_OK)
        return err;
    w->trust_problem[0] = '\0';
    err = nc_audit_each_type(w->db, types, apply_entry, w);
    if (err == NC_ERR_TAMPERED) {
        /* The log's own trust entries do not hold up: nothing is trusted. */
        snprintf(msg, msg_len, "%s", w->trust_problem);
        return err;
    }
    if (err != NC_OK) {
        snprintf(msg, msg_len, "cannot read the trust entries of the audit log: %s", nc_strerror(err));
        return err;
    }
    nc_trust_store ts;
    char inner[1024];
    err = nc_worker_trust_load(w, &ts, inner, sizeof inner);
    if (err == NC_OK)
        nc_trust_cleanup(&ts);
    else if (err == NC_ERR_TAMPERED)
        fprintf(stderr, "nightcore-worker: %s\n", inner);   /* serves, refusing what needs trust */
    return NC_OK;
}

nc_err nc_worker_trust_load(nc_worker *w, nc_trust_store *ts, char *msg, size_t msg_len)
{
    nc_err err = nc_trust_load(w->trust_dir, w->trust_record, ts, msg, msg_len);
    if (err != NC_OK)
        return err;
    if (!nc_ledger_has_root(w->ledger)) {
        err = adopt_root(w, ts, msg, msg_len);
        if (err == NC_OK && nc_ledger_has_root(w->ledger)) {
            nc_trust_cleanup(ts);   /* the files may have been rewritten */
            err = nc_trust_load(w->trust_dir, w->trust_record, ts, msg, msg_len);
            if (err != NC_OK)
                return err;
        } else if (err != NC_OK) {
            nc_trust_cleanup(ts);
            return err;
        }
    }
    err = nc_ledger_compare(w->ledger, ts, msg, msg_len);
    if (err == NC_OK)
        err = nc_ledger_fill_uv(w->ledger, ts);
    if (err != NC_OK) {
        if (err == NC_ERR_TAMPERED && strcmp(w->trust_problem, msg) != 0) {
            snprintf(w->trust_problem, sizeof w->trust_problem, "%s", msg);
            nc_emit(w, "alert", json_pack("{s:s, s:s}", "kind", "tamper", "message", msg));
        }
        nc_trust_cleanup(ts);
        return err;
    }
    w->trust_problem[0] = '\0';
    return NC_OK;
}

/* ---- how each trusted key proves a human ---- */

/* Key files the worker can look at: keys/approver, and the approver_key that
 * config.json in the home names (a single-user home's operator). */
nc_key_protection nc_worker_key_protection(nc_worker *w, const nc_sshkey *key)
{
    char path[4096], cfg_path[4096];
    nc_privkey_info info;
    if (key->type == NC_SSHKEY_SK_ED25519)
        return NC_KEYPROT_FIDO;
    if (nc_home_path(&w->home, NC_HOME_APPROVER_KEY, path, sizeof path) == NC_OK &&
        nc_privkey_info_load(path, &info, NULL) == NC_OK && nc_sshkey_equal(&info.key, key))
        return nc_key_protection_of(key, &info);
    uint8_t *data = NULL;
    size_t len = 0;
    json_t *cfg = NULL;
    nc_key_protection p = NC_KEYPROT_UNKNOWN;
    if (nc_home_path(&w->home, NC_HOME_CONFIG, cfg_path, sizeof cfg_path) == NC_OK &&
        nc_read_file(cfg_path, 64 * 1024, &data, &len) == NC_OK &&
        nc_json_parse_strict(data, len, &cfg, NULL, 0) == NC_OK) {
        const char *k = json_string_value(json_object_get(cfg, "approver_key"));
        if (k && nc_privkey_info_load(k, &info, NULL) == NC_OK && nc_sshkey_equal(&info.key, key))
            p = nc_key_protection_of(key, &info);
    }
    json_decref(cfg);
    free(data);
    return p;
}

json_t *nc_worker_trust_keys_json(nc_worker *w)
{
    json_t *keys = json_array();
    for (size_t i = 0; keys && i < nc_ledger_count(w->ledger); i++) {
        const nc_ledger_key *k = nc_ledger_get(w->ledger, i);
        json_t *pr = json_array();
        for (size_t j = 0; pr && j < k->nprincipals; j++)
            json_array_append_new(pr, json_string(k->principals[j]));
        json_t *o = json_pack("{s:o, s:s, s:s, s:b, s:b, s:b, s:s, s:s?, s:I, s:o, s:o, s:s}", "principals", pr,
                              "fingerprint", k->fingerprint, "type", nc_sshkey_type_name(k->key.type), "admin",
                              k->admin, "require_verification", k->require_verification, "revoked", k->revoked,
                              "added", k->root ? "root" : "signed", "added_by", k->root ? NULL : k->added_by,
                              "audit_seq", (json_int_t)k->seq, "valid_after",
                              k->valid_after ? json_integer(k->valid_after) : json_null(), "valid_before",
                              k->valid_before ? json_integer(k->valid_before) : json_null(), "protection",
                              nc_key_protection_name(nc_worker_key_protection(w, &k->key)));
        if (o)
            json_array_append_new(keys, o);
    }
    return keys;
}

/* ---- ops ---- */

void nc_op_trust_list(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {NULL};
    nc_worker *w = c->w;
    nc_trust_store ts;
    char msg[1024];
    if (!nc_params_ok(c, id, req, p))
        return;
    nc_err err = nc_worker_trust_load(w, &ts, msg, sizeof msg);
    if (err != NC_OK && err != NC_ERR_TAMPERED) {
        nc_reply_error(c, id, err, "%s", msg);
        return;
    }
    json_t *res = json_pack("{s:I, s:o, s:I, s:b, s:s?}", "version", (json_int_t)(err == NC_OK ? ts.version : 0),
                            "keys", nc_worker_trust_keys_json(w), "revoked_count",
                            (json_int_t)(err == NC_OK ? nc_revoked_keys_count(ts.revoked) : 0), "root",
                            nc_ledger_has_root(w->ledger), "problem", err == NC_OK ? NULL : msg);
    if (err == NC_OK)
        nc_trust_cleanup(&ts);
    nc_reply(c, id, res);
}

static bool parse_key_param(nc_client *c, json_t *id, json_t *req, nc_sshkey *key)
{
    const char *text = nc_str_param(req, "key"), *reason = NULL;
    if (!text || nc_sshkey_from_text(text, strcspn(text, "\n"), key, &reason) != NC_OK) {
        nc_reply_error(c, id, NC_ERR_SIG_KEY_TYPE, "key must be an OpenSSH public key line (ssh-ed25519 or "
                       "sk-ssh-ed25519@openssh.com)%s%s", reason ? ": " : "", reason ? reason : "");
        return false;
    }
    return true;
}

static bool bool_param(nc_client *c, json_t *id, json_t *req, const char *key, bool def, bool *out)
{
    json_t *v = json_object_get(req, key);
    *out = def;
    if (!v)
        return true;
    if (!json_is_boolean(v)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "%s must be true or false", key);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

/* A key that is already trusted or revoked cannot be added (this also makes
 * a signed statement impossible to replay). */
static bool key_addable(nc_client *c, json_t *id, const nc_sshkey *key, const char *principal)
{
    const nc_ledger_key *k = nc_ledger_find(c->w->ledger, key);
    if (nc_ledger_revoked(c->w->ledger, key)) {
        nc_reply_error(c, id, NC_ERR_REVOKED_KEY, "this key is revoked; generate a new one");
        return false;
    }
    if (k) {
        nc_reply_error(c, id, NC_ERR_USAGE, "this key is already trusted (for %s)%s", k->principals[0],
                       principal && strcmp(principal, k->principals[0]) ? "; principals of a trusted key do not change" : "");
        return false;
    }
    return true;
}

void nc_op_trust_prepare(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"key", "principal", "approver", "admin", "require_verification", "expires_in_s",
                                    NULL};
    nc_worker *w = c->w;
    nc_admin_statement st;
    nc_trust_store ts;
    int64_t valid;
    char msg[1024], *text = NULL;
    size_t len;
    memset(&st, 0, sizeof st);
    if (!nc_params_ok(c, id, req, p) ||
        !nc_int_param(c, id, req, "expires_in_s", NC_ADMIN_DEFAULT_VALID_S, 60, NC_ADMIN_MAX_VALID_S, &valid) ||
        !parse_key_param(c, id, req, &st.key) || !bool_param(c, id, req, "admin", true, &st.admin) ||
        !bool_param(c, id, req, "require_verification", false, &st.require_verification))
        return;
    const char *principal = nc_str_param(req, "principal"), *approver = nc_str_param(req, "approver");
    if (!principal || !nc_principal_ok(principal) || !approver || !nc_principal_ok(approver)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "trust.prepare needs principal (for the new key) and approver (a "
                       "principal of your admin key): 1-128 of A-Z a-z 0-9 @ . _ - + :");
        return;
    }
    if (st.require_verification && st.key.type != NC_SSHKEY_SK_ED25519) {
        nc_reply_error(c, id, NC_ERR_USAGE, "require_verification applies to security keys (sk-ssh-ed25519) only");
        return;
    }
    nc_err err = nc_worker_trust_load(w, &ts, msg, sizeof msg);
    if (err != NC_OK) {
        nc_reply_error(c, id, err, "%s", msg);
        return;
    }
    if (!nc_ledger_has_root(w->ledger)) {
        nc_trust_cleanup(&ts);
        nc_reply_error(c, id, NC_ERR_USAGE, "this home has no root of trust yet: the first key is added without a "
                       "statement (`nightcore trust add KEY.pub --principal P`)");
        return;
    }
    if (!key_addable(c, id, &st.key, principal)) {
        nc_trust_cleanup(&ts);
        return;
    }
    st.kind = NC_ADMIN_TRUST_ADD;
    snprintf(st.principal, sizeof st.principal, "%s", principal);
    snprintf(st.approver, sizeof st.approver, "%s", approver);
    snprintf(st.worker, sizeof st.worker, "%s", w->worker_id);
    st.issued_at = (uint64_t)nc_unix_now();
    st.expires_at = st.issued_at + (uint64_t)valid;
    st.trust_version = ts.version;
    nc_trust_cleanup(&ts);
    randombytes_buf(st.nonce, sizeof st.nonce);
    if (nc_admin_build(&st, &text, &len, msg, sizeof msg) != NC_OK) {
        nc_reply_error(c, id, NC_ERR_USAGE, "%s", msg);
        return;
    }
    char fp[NC_SSHKEY_FINGERPRINT_LEN] = "";
    if (nc_sshkey_fingerprint(&st.key, fp) != NC_OK)
        fp[0] = '\0';
    nc_reply(c, id, json_pack("{s:s%, s:{s:s, s:s, s:s, s:b, s:b, s:s, s:I, s:I, s:I, s:s, s:s}}", "statement", text,
                              len, "summary", "action", "trust.add", "fingerprint", fp, "principal", st.principal,
                              "admin", st.admin, "require_verification", st.require_verification, "type",
                              nc_sshkey_type_name(st.key.type), "trust_version", (json_int_t)st.trust_version,
                              "issued_at", (json_int_t)st.issued_at, "expires_at", (json_int_t)st.expires_at,
                              "approver", st.approver, "worker", st.worker));
    free(text);
}

static void reply_trust_result(nc_client *c, json_t *id, const nc_sshkey *key, const char *how)
{
    nc_trust_store ts;
    char msg[1024], fp[NC_SSHKEY_FINGERPRINT_LEN] = "";
    if (nc_sshkey_fingerprint(key, fp) != NC_OK)
        fp[0] = '\0';
    nc_err err = nc_worker_trust_load(c->w, &ts, msg, sizeof msg);
    if (err != NC_OK) {
        nc_reply_error(c, id, err, "%s", msg);
        return;
    }
    nc_emit(c->w, "trust.changed", json_pack("{s:s, s:s, s:I}", "action", how, "fingerprint", fp, "version",
                                             (json_int_t)ts.version));
    nc_reply(c, id, json_pack("{s:I, s:s, s:s}", "version", (json_int_t)ts.version, "fingerprint", fp, "action", how));
    nc_trust_cleanup(&ts);
}

/* The first key of a home without a root of trust: unsigned, once. */
static void trust_add_root(nc_client *c, json_t *id, json_t *req)
{
    nc_worker *w = c->w;
    nc_sshkey key;
    bool admin, uv;
    char msg[1024];
    if (!parse_key_param(c, id, req, &key) || !bool_param(c, id, req, "admin", true, &admin) ||
        !bool_param(c, id, req, "require_verification", false, &uv))
        return;
    const char *principal = nc_str_param(req, "principal");
    if (!principal || !nc_principal_ok(principal)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "principal must be 1-128 of A-Z a-z 0-9 @ . _ - + :");
        return;
    }
    if (nc_ledger_has_root(w->ledger)) {
        nc_reply_error(c, id, NC_ERR_SIGNATURE_REQUIRED,
                       "adding a key raises authority: it takes a statement signed by a trusted admin key. "
                       "`nightcore trust add KEY.pub --principal P` prepares it and signs it with your key; or "
                       "`--statement-out FILE` to sign elsewhere");
        return;
    }
    if (!admin || (uv && key.type != NC_SSHKEY_SK_ED25519)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "the first key is the root of trust: it must be an admin key "
                       "(require_verification only for security keys)");
        return;
    }
    char text[NC_SSHKEY_TEXT_MAX], fp[NC_SSHKEY_FINGERPRINT_LEN];
    if (nc_sshkey_to_text(&key, text, sizeof text) != NC_OK || nc_sshkey_fingerprint(&key, fp) != NC_OK) {
        nc_reply_error(c, id, NC_ERR_INTERNAL, "cannot encode the key");
        return;
    }
    json_t *f = json_pack("{s:[{s:s, s:s, s:[s], s:[s, s], s:n, s:n, s:b}], s:[], s:s}", "keys", "key", text,
                          "fingerprint", fp, "principals", principal, "namespaces", NC_SSHSIG_NAMESPACE,
                          NC_ADMIN_NAMESPACE, "valid_after", "valid_before", "require_verification", uv, "revoked",
                          "how", "first-key");
    nc_err err = f ? record(w, "trust.root", f, msg, sizeof msg) : NC_ERR_NOMEM;
    if (err != NC_OK) {
        nc_reply_error(c, id, err, "%s", msg);
        return;
    }
    reply_trust_result(c, id, &key, "root");
}

void nc_op_trust_add(nc_client *c, json_t *id, json_t *req)
{
    static const char *const signed_p[] = {"statement", "signature", NULL};
    static const char *const root_p[] = {"key", "principal", "admin", "require_verification", NULL};
    nc_worker *w = c->w;
    char msg[1024];
    json_t *stmt = json_object_get(req, "statement"), *sig = json_object_get(req, "signature");
    if (!stmt && !sig) {
        if (nc_params_ok(c, id, req, root_p))
            trust_add_root(c, id, req);
        return;
    }
    if (!nc_params_ok(c, id, req, signed_p))
        return;
    if (!json_is_string(stmt) || !json_is_string(sig)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "trust.add needs statement and signature (strings), from trust.prepare");
        return;
    }
    nc_trust_store ts;
    nc_err err = nc_worker_trust_load(w, &ts, msg, sizeof msg);
    if (err != NC_OK) {
        nc_reply_error(c, id, err, "%s", msg);
        return;
    }
    nc_verify_input in = {
        .statement = (const uint8_t *)json_string_value(stmt), .statement_len = json_string_length(stmt),
        .signature = (const uint8_t *)json_string_value(sig), .signature_len = json_string_length(sig), .trust = &ts,
        .worker_id = w->worker_id, .now = nc_unix_now(),
    };
    nc_verify_admin_output vo;
    err = nc_verify_admin(&in, ts.version, &vo, msg, sizeof msg);
    nc_trust_cleanup(&ts);
    if (err != NC_OK) {
        nc_reply_error(c, id, err, "%s", msg);
        return;
    }
    if (vo.statement.kind != NC_ADMIN_TRUST_ADD) {
        nc_reply_error(c, id, NC_ERR_STATEMENT, "this admin statement is not a trust.add");
        return;
    }
    if (!key_addable(c, id, &vo.statement.key, vo.statement.principal))
        return;
    json_t *f = nc_ledger_add_fields(json_string_value(stmt), json_string_length(stmt), json_string_value(sig),
                                     json_string_length(sig), vo.key_fingerprint, &vo.statement.key,
                                     vo.statement.principal, vo.statement.admin, vo.statement.require_verification);
    err = f ? record(w, "trust.add", f, msg, sizeof msg) : NC_ERR_NOMEM;
    if (err != NC_OK) {
        nc_reply_error(c, id, err, "%s", msg);
        return;
    }
    reply_trust_result(c, id, &vo.statement.key, "add");
}

void nc_op_trust_revoke(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"key", "force", NULL};
    nc_worker *w = c->w;
    nc_sshkey key;
    bool force;
    char msg[1024];
    if (!nc_params_ok(c, id, req, p) || !parse_key_param(c, id, req, &key) ||
        !bool_param(c, id, req, "force", false, &force))
        return;
    if (nc_ledger_revoked(w->ledger, &key)) {
        reply_trust_result(c, id, &key, "revoke");   /* already revoked: nothing to do */
        return;
    }
    const nc_ledger_key *k = nc_ledger_find(w->ledger, &key);
    if (k && k->admin && nc_ledger_active_admins(w->ledger) == 1 && !force) {
        nc_reply_error(c, id, NC_ERR_USAGE, "this is the last admin key: once it is revoked no key can be added "
                       "again on this home. Add another admin key first, or pass force");
        return;
    }
    json_t *f = nc_ledger_revoke_fields(&key);
    nc_err err = f ? record(w, "trust.revoke", f, msg, sizeof msg) : NC_ERR_NOMEM;
    if (err != NC_OK) {
        nc_reply_error(c, id, err, "%s", msg);
        return;
    }
    reply_trust_result(c, id, &key, "revoke");
}

/* Writes the files again from the audit log: undoes hand edits. Lowers
 * authority at most (it can only restore what signed entries say). */
void nc_op_trust_restore(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {NULL};
    nc_worker *w = c->w;
    char msg[1024], was[1024] = "";
    if (!nc_params_ok(c, id, req, p))
        return;
    nc_trust_store ts;
    nc_err err = nc_worker_trust_load(w, &ts, was, sizeof was);
    if (err == NC_OK) {
        nc_trust_cleanup(&ts);
        was[0] = '\0';
    }
    err = nc_db_begin(w->db);
    if (err == NC_OK)
        err = nc_log(w, "trust.restore", json_pack("{s:s}", "problem", was[0] ? was : "none"), NULL);
    if (err == NC_OK)
        err = nc_db_commit(w->db);
    if (err != NC_OK) {
        nc_log_abort(w);
        nc_reply_store_error(c, id, err, "the restore (nothing changed)");
        return;
    }
    if (write_files(w, msg, sizeof msg) != NC_OK) {
        nc_reply_error(c, id, NC_ERR_IO, "%s", msg);
        return;
    }
    err = nc_worker_trust_load(w, &ts, msg, sizeof msg);
    if (err != NC_OK) {
        nc_reply_error(c, id, err, "%s", msg);
        return;
    }
    nc_reply(c, id, json_pack("{s:I, s:s?}", "version", (json_int_t)ts.version, "was", was[0] ? was : NULL));
    nc_trust_cleanup(&ts);
}
