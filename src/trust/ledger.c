#include "trust/ledger.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/json.h"
#include "trust/admin.h"
#include "trust/allowed_signers.h"
#include "trust/sshsig.h"
#include "trust/verify.h"

/* A policy name's history: its current content (if not removed) and the
 * last version it had, so a removed name comes back above it. */
typedef struct {
    nc_policy policy;     /* policy.version: the current version */
    bool removed;
} ledger_policy;

struct nc_trust_ledger {
    nc_ledger_key *keys;
    size_t n, cap;
    ledger_policy *pols;
    size_t npols, cappols;
    nc_sshkey *revoked;   /* every key revoked, also ones never trusted */
    size_t nrev, caprev;
    bool root;
    uint64_t changes;
};

nc_err nc_ledger_new(nc_trust_ledger **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? NC_OK : NC_ERR_NOMEM;
}

void nc_ledger_free(nc_trust_ledger *l)
{
    if (!l)
        return;
    free(l->keys);
    free(l->revoked);
    for (size_t i = 0; i < l->npols; i++)
        nc_policy_cleanup(&l->pols[i].policy);
    free(l->pols);
    free(l);
}

bool nc_ledger_has_root(const nc_trust_ledger *l)
{
    return l->root;
}

size_t nc_ledger_count(const nc_trust_ledger *l)
{
    return l->n;
}

const nc_ledger_key *nc_ledger_get(const nc_trust_ledger *l, size_t i)
{
    return i < l->n ? &l->keys[i] : NULL;
}

const nc_ledger_key *nc_ledger_find(const nc_trust_ledger *l, const nc_sshkey *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (nc_sshkey_equal(&l->keys[i].key, key))
            return &l->keys[i];
    return NULL;
}

bool nc_ledger_revoked(const nc_trust_ledger *l, const nc_sshkey *key)
{
    for (size_t i = 0; i < l->nrev; i++)
        if (nc_sshkey_equal(&l->revoked[i], key))
            return true;
    return false;
}

size_t nc_ledger_active_admins(const nc_trust_ledger *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->keys[i].admin && !l->keys[i].revoked;
    return n;
}

uint64_t nc_ledger_changes(const nc_trust_ledger *l)
{
    return l->changes;
}

/* ---- building ---- */

static nc_err push_key(nc_trust_ledger *l, const nc_ledger_key *k)
{
    if (l->n >= NC_MAX_ALLOWED_SIGNERS)
        return NC_ERR_TOO_LARGE;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        nc_ledger_key *p = realloc(l->keys, cap * sizeof *p);
        if (!p)
            return NC_ERR_NOMEM;
        l->keys = p;
        l->cap = cap;
    }
    l->keys[l->n++] = *k;
    return NC_OK;
}

static nc_err push_revoked(nc_trust_ledger *l, const nc_sshkey *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (nc_sshkey_equal(&l->keys[i].key, key))
            l->keys[i].revoked = true;
    if (nc_ledger_revoked(l, key))
        return NC_OK;
    if (l->nrev >= NC_MAX_REVOKED_KEYS)
        return NC_ERR_TOO_LARGE;
    if (l->nrev == l->caprev) {
        size_t cap = l->caprev ? l->caprev * 2 : 8;
        nc_sshkey *p = realloc(l->revoked, cap * sizeof *p);
        if (!p)
            return NC_ERR_NOMEM;
        l->revoked = p;
        l->caprev = cap;
    }
    l->revoked[l->nrev++] = *key;
    return NC_OK;
}

static bool key_from_json(const json_t *v, nc_sshkey *key)
{
    const char *s = json_string_value(v);
    return s && nc_sshkey_from_text(s, json_string_length(v), key, NULL) == NC_OK;
}

static bool has_namespace(const json_t *arr, const char *ns)
{
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (s && strcmp(s, ns) == 0)
            return true;
    }
    return false;
}

/* A key object of a trust.root entry. */
static nc_err root_key(const json_t *o, uint64_t seq, nc_ledger_key *k)
{
    memset(k, 0, sizeof *k);
    const json_t *pr = json_object_get(o, "principals"), *ns = json_object_get(o, "namespaces");
    if (!key_from_json(json_object_get(o, "key"), &k->key) || !json_is_array(pr) || json_array_size(pr) == 0 ||
        json_array_size(pr) > NC_MAX_PRINCIPALS_PER_LINE || !json_is_array(ns) ||
        !has_namespace(ns, NC_SSHSIG_NAMESPACE) || json_array_size(ns) > 2)
        return NC_ERR_TAMPERED;
    for (size_t i = 0; i < json_array_size(pr); i++) {
        const char *p = json_string_value(json_array_get(pr, i));
        if (!p || !nc_principal_ok(p))
            return NC_ERR_TAMPERED;
        snprintf(k->principals[k->nprincipals++], sizeof k->principals[0], "%s", p);
    }
    k->admin = has_namespace(ns, NC_ADMIN_NAMESPACE);
    if (json_array_size(ns) == 2 && !k->admin)
        return NC_ERR_TAMPERED;
    const json_t *va = json_object_get(o, "valid_after"), *vb = json_object_get(o, "valid_before");
    k->valid_after = json_is_integer(va) ? json_integer_value(va) : 0;
    k->valid_before = json_is_integer(vb) ? json_integer_value(vb) : 0;
    k->require_verification = json_is_true(json_object_get(o, "require_verification"));
    k->seq = seq;
    k->root = true;
    return nc_sshkey_fingerprint(&k->key, k->fingerprint);
}

/* The ledger as a trust store (files rendered and parsed), to verify a
 * trust.add against the state before it. */
nc_err nc_ledger_store(const nc_trust_ledger *l, nc_trust_store *ts)
{
    nc_buf as, rk;
    char inner[NC_TRUST_ERRMSG_LEN];
    memset(ts, 0, sizeof *ts);
    nc_buf_init(&as, NC_MAX_TRUST_FILE_BYTES);
    nc_buf_init(&rk, NC_MAX_TRUST_FILE_BYTES);
    nc_err err = nc_ledger_render(l, &as, &rk);
    if (err == NC_OK)
        err = nc_allowed_signers_parse(as.data ? (const void *)as.data : "", as.len, &ts->signers, inner, sizeof inner);
    if (err == NC_OK)
        err = nc_revoked_keys_parse(rk.data ? (const void *)rk.data : "", rk.len, &ts->revoked, inner, sizeof inner);
    if (err == NC_OK)
        err = nc_ledger_fill_uv(l, ts);
    nc_buf_cleanup(&as);
    nc_buf_cleanup(&rk);
    if (err != NC_OK)
        nc_trust_cleanup(ts);
    return err;
}

static nc_err apply_add(nc_trust_ledger *l, const json_t *e, uint64_t seq, int64_t time, const char *worker_id,
                        char *msg, size_t msg_len)
{
    const json_t *stmt = json_object_get(e, "statement"), *sig = json_object_get(e, "signature");
    nc_sshkey key;
    if (!json_is_string(stmt) || !json_is_string(sig) || !key_from_json(json_object_get(e, "key"), &key)) {
        snprintf(msg, msg_len, "audit entry %llu (trust.add) lacks its statement, signature or key",
                 (unsigned long long)seq);
        return NC_ERR_TAMPERED;
    }
    nc_trust_store ts;
    nc_err err = nc_ledger_store(l, &ts);
    if (err != NC_OK)
        return err;
    nc_verify_input in = {
        .statement = (const uint8_t *)json_string_value(stmt), .statement_len = json_string_length(stmt),
        .signature = (const uint8_t *)json_string_value(sig), .signature_len = json_string_length(sig),
        .trust = &ts, .worker_id = worker_id, .now = time,
    };
    nc_verify_admin_output vo;
    char inner[512];
    err = nc_verify_admin(&in, 0, &vo, inner, sizeof inner);
    nc_trust_cleanup(&ts);
    if (err != NC_OK) {
        snprintf(msg, msg_len, "audit entry %llu (trust.add) does not verify against the keys trusted before it: %s",
                 (unsigned long long)seq, inner);
        return NC_ERR_TAMPERED;
    }
    const char *principal = json_string_value(json_object_get(e, "principal"));
    if (vo.statement.kind != NC_ADMIN_TRUST_ADD || !nc_sshkey_equal(&vo.statement.key, &key) || !principal ||
        strcmp(principal, vo.statement.principal) != 0 ||
        json_is_true(json_object_get(e, "admin")) != vo.statement.admin ||
        json_is_true(json_object_get(e, "require_verification")) != vo.statement.require_verification) {
        snprintf(msg, msg_len, "audit entry %llu (trust.add) does not say what its signed statement says",
                 (unsigned long long)seq);
        return NC_ERR_TAMPERED;
    }
    if (nc_ledger_revoked(l, &key) || nc_ledger_find(l, &key)) {
        snprintf(msg, msg_len, "audit entry %llu (trust.add) adds a key that is already trusted or revoked",
                 (unsigned long long)seq);
        return NC_ERR_TAMPERED;
    }
    nc_ledger_key k;
    memset(&k, 0, sizeof k);
    k.key = key;
    snprintf(k.principals[0], sizeof k.principals[0], "%s", vo.statement.principal);
    k.nprincipals = 1;
    k.admin = vo.statement.admin;
    k.require_verification = vo.statement.require_verification;
    k.seq = seq;
    snprintf(k.added_by, sizeof k.added_by, "%s", vo.key_fingerprint);
    if (nc_sshkey_fingerprint(&k.key, k.fingerprint) != NC_OK)
        return NC_ERR_INTERNAL;
    return push_key(l, &k);
}

/* ---- policies ---- */

static ledger_policy *find_policy(const nc_trust_ledger *l, const char *name)
{
    for (size_t i = 0; i < l->npols; i++)
        if (strcmp(l->pols[i].policy.name, name) == 0)
            return &l->pols[i];
    return NULL;
}

const nc_policy *nc_ledger_policy(const nc_trust_ledger *l, const char *name)
{
    const ledger_policy *p = find_policy(l, name);
    if (p)
        return p->removed ? NULL : &p->policy;
    return nc_policy_builtin(name);
}

size_t nc_ledger_policy_count(const nc_trust_ledger *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->npols; i++)
        n += !l->pols[i].removed;
    return n;
}

const nc_policy *nc_ledger_policy_at(const nc_trust_ledger *l, size_t i)
{
    for (size_t k = 0; k < l->npols; k++)
        if (!l->pols[k].removed && i-- == 0)
            return &l->pols[k].policy;
    return NULL;
}

uint64_t nc_ledger_policy_next_version(const nc_trust_ledger *l, const char *name)
{
    const ledger_policy *p = find_policy(l, name);
    return p ? p->policy.version + 1 : 1;
}

json_t *nc_ledger_policy_fields(const nc_policy *p, uint64_t version, const char *statement, size_t statement_len,
                                const char *signature, size_t signature_len, const char *signer_fp)
{
    json_t *pol = nc_policy_to_json(p);
    if (!pol)
        return NULL;
    json_t *f = json_pack("{s:s, s:I, s:o, s:s}", "name", p->name, "version", (json_int_t)version, "policy", pol,
                          "how", statement ? "signed" : "narrowed");
    if (f && statement &&
        (json_object_set_new(f, "statement", json_stringn(statement, statement_len)) ||
         json_object_set_new(f, "signature", json_stringn(signature, signature_len)) ||
         json_object_set_new(f, "signer", json_string(signer_fp)))) {
        json_decref(f);
        return NULL;
    }
    return f;
}

static nc_err apply_policy_set(nc_trust_ledger *l, const json_t *e, uint64_t seq, int64_t time, const char *worker_id,
                               char *msg, size_t msg_len)
{
    nc_policy pol;
    char inner[512];
    uint64_t version = 0;
    if (nc_policy_from_json(json_object_get(e, "policy"), &pol, inner, sizeof inner) != NC_OK ||
        nc_json_uint(json_object_get(e, "version"), (uint64_t)INT64_MAX, &version) != NC_OK) {
        snprintf(msg, msg_len, "audit entry %llu (policy.set) is malformed", (unsigned long long)seq);
        return NC_ERR_TAMPERED;
    }
    ledger_policy *cur = find_policy(l, pol.name);
    nc_err err = NC_ERR_TAMPERED;
    if (nc_policy_builtin(pol.name)) {
        snprintf(msg, msg_len, "audit entry %llu (policy.set) replaces built-in policy %s", (unsigned long long)seq,
                 pol.name);
        goto done;
    }
    if (version != (cur ? cur->policy.version + 1 : 1)) {
        snprintf(msg, msg_len, "audit entry %llu (policy.set) skips or repeats a version of policy %s",
                 (unsigned long long)seq, pol.name);
        goto done;
    }
    const json_t *stmt = json_object_get(e, "statement"), *sig = json_object_get(e, "signature");
    if (stmt || sig) {
        nc_trust_store ts;
        if (!json_is_string(stmt) || !json_is_string(sig)) {
            snprintf(msg, msg_len, "audit entry %llu (policy.set) is malformed", (unsigned long long)seq);
            goto done;
        }
        if ((err = nc_ledger_store(l, &ts)) != NC_OK)
            goto done;
        nc_verify_input in = {
            .statement = (const uint8_t *)json_string_value(stmt), .statement_len = json_string_length(stmt),
            .signature = (const uint8_t *)json_string_value(sig), .signature_len = json_string_length(sig),
            .trust = &ts, .worker_id = worker_id, .now = time,
        };
        nc_verify_admin_output vo;
        err = nc_verify_admin(&in, 0, &vo, inner, sizeof inner);
        nc_trust_cleanup(&ts);
        if (err != NC_OK) {
            snprintf(msg, msg_len, "audit entry %llu (policy.set) does not verify against the keys trusted before it: "
                     "%s", (unsigned long long)seq, inner);
            err = NC_ERR_TAMPERED;
            goto done;
        }
        json_t *a = nc_policy_to_json(&vo.statement.policy), *b = nc_policy_to_json(&pol);
        bool same = vo.statement.kind == NC_ADMIN_POLICY_SET && vo.statement.policy_version == version && a && b &&
                    json_equal(a, b);
        json_decref(a);
        json_decref(b);
        nc_verify_admin_output_cleanup(&vo);
        if (!same) {
            snprintf(msg, msg_len, "audit entry %llu (policy.set) does not say what its signed statement says",
                     (unsigned long long)seq);
            err = NC_ERR_TAMPERED;
            goto done;
        }
    } else if (nc_policy_widens(cur && !cur->removed ? &cur->policy : NULL, &pol)) {
        snprintf(msg, msg_len, "audit entry %llu (policy.set) widens policy %s without a signature",
                 (unsigned long long)seq, pol.name);
        goto done;
    }
    pol.version = version;
    if (cur) {
        nc_policy_cleanup(&cur->policy);
        cur->policy = pol;
        cur->removed = false;
    } else {
        if (l->npols == l->cappols) {
            size_t cap = l->cappols ? l->cappols * 2 : 8;
            ledger_policy *np = realloc(l->pols, cap * sizeof *np);
            if (!np) {
                err = NC_ERR_NOMEM;
                goto done;
            }
            l->pols = np;
            l->cappols = cap;
        }
        l->pols[l->npols++] = (ledger_policy){.policy = pol, .removed = false};
    }
    return NC_OK;
done:
    nc_policy_cleanup(&pol);
    return err;
}

static nc_err apply_policy_remove(nc_trust_ledger *l, const json_t *e, uint64_t seq, char *msg, size_t msg_len)
{
    const char *name = json_string_value(json_object_get(e, "name"));
    ledger_policy *cur = name ? find_policy(l, name) : NULL;
    if (!cur || cur->removed) {
        snprintf(msg, msg_len, "audit entry %llu (policy.remove) removes a policy that does not exist",
                 (unsigned long long)seq);
        return NC_ERR_TAMPERED;
    }
    cur->removed = true;
    cur->policy.version++;   /* a later policy of that name comes above it */
    return NC_OK;
}

nc_err nc_ledger_apply(nc_trust_ledger *l, const json_t *entry, const char *worker_id, char *msg, size_t msg_len)
{
    const char *type = json_string_value(json_object_get(entry, "type"));
    uint64_t seq = (uint64_t)json_integer_value(json_object_get(entry, "seq"));
    int64_t time = json_integer_value(json_object_get(entry, "time"));
    if (type && strcmp(type, "policy.set") == 0)
        return apply_policy_set(l, entry, seq, time, worker_id, msg, msg_len);
    if (type && strcmp(type, "policy.remove") == 0)
        return apply_policy_remove(l, entry, seq, msg, msg_len);
    if (!type || strncmp(type, "trust.", 6) != 0)
        return NC_OK;
    nc_err err;
    if (strcmp(type, "trust.root") == 0) {
        if (l->root) {
            snprintf(msg, msg_len, "audit entry %llu is a second root of trust", (unsigned long long)seq);
            return NC_ERR_TAMPERED;
        }
        const json_t *keys = json_object_get(entry, "keys"), *rev = json_object_get(entry, "revoked");
        if (!json_is_array(keys) || !json_is_array(rev)) {
            snprintf(msg, msg_len, "audit entry %llu (trust.root) is malformed", (unsigned long long)seq);
            return NC_ERR_TAMPERED;
        }
        for (size_t i = 0; i < json_array_size(keys); i++) {
            nc_ledger_key k;
            if (root_key(json_array_get(keys, i), seq, &k) != NC_OK) {
                snprintf(msg, msg_len, "audit entry %llu (trust.root): key %zu is malformed", (unsigned long long)seq,
                         i);
                return NC_ERR_TAMPERED;
            }
            if ((err = push_key(l, &k)) != NC_OK)
                return err;
        }
        for (size_t i = 0; i < json_array_size(rev); i++) {
            nc_sshkey key;
            if (!key_from_json(json_array_get(rev, i), &key)) {
                snprintf(msg, msg_len, "audit entry %llu (trust.root): revoked key %zu is malformed",
                         (unsigned long long)seq, i);
                return NC_ERR_TAMPERED;
            }
            if ((err = push_revoked(l, &key)) != NC_OK)
                return err;
        }
        l->root = true;
        l->changes++;
        return NC_OK;
    }
    if (strcmp(type, "trust.add") != 0 && strcmp(type, "trust.revoke") != 0)
        return NC_OK;   /* trust.change: the unsigned entries of older versions, superseded by trust.root */
    if (!l->root) {
        snprintf(msg, msg_len, "audit entry %llu (%s) comes before any root of trust", (unsigned long long)seq, type);
        return NC_ERR_TAMPERED;
    }
    if (strcmp(type, "trust.add") == 0)
        err = apply_add(l, entry, seq, time, worker_id, msg, msg_len);
    else {
        nc_sshkey key;
        if (!key_from_json(json_object_get(entry, "key"), &key)) {
            snprintf(msg, msg_len, "audit entry %llu (trust.revoke) lacks its key", (unsigned long long)seq);
            return NC_ERR_TAMPERED;
        }
        err = push_revoked(l, &key);
    }
    if (err == NC_OK)
        l->changes++;
    return err;
}

/* ---- entries ---- */

static json_t *key_text(const nc_sshkey *key)
{
    char text[NC_SSHKEY_TEXT_MAX];
    return nc_sshkey_to_text(key, text, sizeof text) == NC_OK ? json_string(text) : NULL;
}

static json_t *fp_json(const nc_sshkey *key)
{
    char fp[NC_SSHKEY_FINGERPRINT_LEN];
    return nc_sshkey_fingerprint(key, fp) == NC_OK ? json_string(fp) : NULL;
}

json_t *nc_ledger_root_fields(const nc_trust_store *files, const char *how)
{
    json_t *keys = json_array(), *rev = json_array();
    if (!keys || !rev)
        goto fail;
    for (size_t i = 0; i < nc_allowed_signers_count(files->signers); i++) {
        const nc_allowed_signer *e = nc_allowed_signers_get(files->signers, i);
        json_t *pr = json_array(), *ns = json_array();
        for (size_t j = 0; pr && j < e->nprincipals; j++)
            json_array_append_new(pr, json_string(e->principals[j]));
        bool admin = e->nnamespaces == 0 || nc_allowed_signer_allows_namespace(e, NC_ADMIN_NAMESPACE) ||
                     (e->nnamespaces == 1 && strcmp(e->namespaces[0], NC_SSHSIG_NAMESPACE) == 0);
        if (ns) {
            json_array_append_new(ns, json_string(NC_SSHSIG_NAMESPACE));
            if (admin)
                json_array_append_new(ns, json_string(NC_ADMIN_NAMESPACE));
        }
        bool uv = nc_trust_requires_uv(files, &e->key);
        json_t *o = json_pack("{s:o?, s:o?, s:o, s:o, s:o, s:o, s:b}", "key", key_text(&e->key), "fingerprint",
                              fp_json(&e->key), "principals", pr, "namespaces", ns, "valid_after",
                              e->has_valid_after ? json_integer(e->valid_after) : json_null(), "valid_before",
                              e->has_valid_before ? json_integer(e->valid_before) : json_null(),
                              "require_verification", uv);
        if (!o || json_array_append_new(keys, o) != 0)
            goto fail;
    }
    for (size_t i = 0; i < nc_revoked_keys_count(files->revoked); i++) {
        json_t *k = key_text(nc_revoked_keys_get(files->revoked, i));
        if (!k || json_array_append_new(rev, k) != 0)
            goto fail;
    }
    return json_pack("{s:o, s:o, s:s}", "keys", keys, "revoked", rev, "how", how);
fail:
    json_decref(keys);
    json_decref(rev);
    return NULL;
}

json_t *nc_ledger_add_fields(const char *statement, size_t statement_len, const char *signature,
                             size_t signature_len, const char *signer_fp, const nc_sshkey *key,
                             const char *principal, bool admin, bool require_verification)
{
    return json_pack("{s:s%, s:s%, s:s, s:o?, s:o?, s:s, s:b, s:b}", "statement", statement, statement_len,
                     "signature", signature, signature_len, "signer", signer_fp, "key", key_text(key), "fingerprint",
                     fp_json(key), "principal", principal, "admin", admin, "require_verification",
                     require_verification);
}

json_t *nc_ledger_revoke_fields(const nc_sshkey *key)
{
    return json_pack("{s:o?, s:o?}", "key", key_text(key), "fingerprint", fp_json(key));
}

/* ---- files ---- */

static void fmt_time(int64_t t, char out[24])
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    strftime(out, 24, "%Y%m%d%H%M%SZ", &tm);
}

static nc_err render_key_line(const nc_ledger_key *k, nc_buf *b)
{
    char text[NC_SSHKEY_TEXT_MAX], t[24], line[NC_MAX_TRUST_LINE_BYTES + 64];
    size_t n = 0;
    if (nc_sshkey_to_text(&k->key, text, sizeof text) != NC_OK)
        return NC_ERR_INTERNAL;
    for (size_t i = 0; i < k->nprincipals; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", i ? "," : "", k->principals[i]);
    n += (size_t)snprintf(line + n, sizeof line - n, " namespaces=\"%s\"",
                          k->admin ? NC_SSHSIG_NAMESPACE "," NC_ADMIN_NAMESPACE : NC_SSHSIG_NAMESPACE);
    if (k->valid_after) {
        fmt_time(k->valid_after, t);
        n += (size_t)snprintf(line + n, sizeof line - n, ",valid-after=\"%s\"", t);
    }
    if (k->valid_before) {
        fmt_time(k->valid_before, t);
        n += (size_t)snprintf(line + n, sizeof line - n, ",valid-before=\"%s\"", t);
    }
    if (n >= sizeof line - 1)
        return NC_ERR_TOO_LARGE;
    n += (size_t)snprintf(line + n, sizeof line - n, " %s\n", text);
    if (n >= sizeof line)
        return NC_ERR_TOO_LARGE;
    return nc_buf_append(b, line, n);
}

nc_err nc_ledger_render(const nc_trust_ledger *l, nc_buf *as, nc_buf *rk)
{
    static const char as_header[] = "# Night Core approver keys (OpenSSH allowed_signers format), written by the worker\n"
                                    "# from the signed trust entries of its audit log. Hand edits are refused.\n";
    static const char rk_header[] = "# Night Core revoked approver keys.\n";
    nc_err err = nc_buf_append(as, as_header, sizeof as_header - 1);
    if (err == NC_OK)
        err = nc_buf_append(rk, rk_header, sizeof rk_header - 1);
    for (size_t i = 0; err == NC_OK && i < l->n; i++)
        err = render_key_line(&l->keys[i], as);
    for (size_t i = 0; err == NC_OK && i < l->nrev; i++) {
        char text[NC_SSHKEY_TEXT_MAX];
        err = nc_sshkey_to_text(&l->revoked[i], text, sizeof text);
        if (err == NC_OK)
            err = nc_buf_append(rk, text, strlen(text));
        if (err == NC_OK)
            err = nc_buf_put_u8(rk, '\n');
    }
    return err;
}

/* Does file entry e say exactly what ledger key k says? */
static bool same_entry(const nc_allowed_signer *e, const nc_ledger_key *k)
{
    if (!nc_sshkey_equal(&e->key, &k->key) || e->nprincipals != k->nprincipals)
        return false;
    for (size_t i = 0; i < e->nprincipals; i++) {
        bool found = false;
        for (size_t j = 0; j < k->nprincipals && !found; j++)
            found = strcmp(e->principals[i], k->principals[j]) == 0;
        if (!found)
            return false;
    }
    size_t want_ns = k->admin ? 2 : 1;
    if (e->nnamespaces != want_ns || !nc_allowed_signer_allows_namespace(e, NC_SSHSIG_NAMESPACE) ||
        (k->admin && !nc_allowed_signer_allows_namespace(e, NC_ADMIN_NAMESPACE)))
        return false;
    if ((e->has_valid_after ? e->valid_after : 0) != k->valid_after ||
        (e->has_valid_before ? e->valid_before : 0) != k->valid_before)
        return false;
    return true;
}

nc_err nc_ledger_compare(const nc_trust_ledger *l, const nc_trust_store *files, char *msg, size_t msg_len)
{
    static const char fix[] = "Refusing to trust it. If this change was not yours, find out what made it; "
                              "`nightcore trust restore` rewrites the files from the audit log";
    size_t nfile = nc_allowed_signers_count(files->signers);
    bool *matched = calloc(l->n ? l->n : 1, sizeof *matched);
    if (!matched)
        return NC_ERR_NOMEM;
    nc_err err = NC_OK;
    for (size_t i = 0; i < nfile && err == NC_OK; i++) {
        const nc_allowed_signer *e = nc_allowed_signers_get(files->signers, i);
        bool ok = false;
        for (size_t j = 0; j < l->n && !ok; j++)
            if (!matched[j] && same_entry(e, &l->keys[j]))
                ok = matched[j] = true;
        if (!ok) {
            char fp[NC_SSHKEY_FINGERPRINT_LEN] = "?";
            if (nc_sshkey_fingerprint(&e->key, fp) != NC_OK)
                fp[0] = '?';
            const nc_ledger_key *k = nc_ledger_find(l, &e->key);
            if (k)
                snprintf(msg, msg_len, "trust/allowed_signers line %zu: key %s (%s) has principals, namespaces or "
                         "validity the audit log does not record. %s", e->line, fp, e->principals[0], fix);
            else
                snprintf(msg, msg_len, "trust/allowed_signers line %zu: key %s (%s) was not added through Night Core: "
                         "no signed trust entry in the audit log. %s", e->line, fp, e->principals[0], fix);
            err = NC_ERR_TAMPERED;
        }
    }
    for (size_t j = 0; j < l->n && err == NC_OK; j++)
        if (!matched[j]) {
            snprintf(msg, msg_len, "trust/allowed_signers is missing key %s (%s), which the audit log trusts. %s",
                     l->keys[j].fingerprint, l->keys[j].principals[0], fix);
            err = NC_ERR_TAMPERED;
        }
    free(matched);
    if (err != NC_OK)
        return err;
    for (size_t j = 0; j < l->nrev; j++)
        if (!nc_revoked_keys_contains(files->revoked, &l->revoked[j])) {
            char fp[NC_SSHKEY_FINGERPRINT_LEN] = "?";
            if (nc_sshkey_fingerprint(&l->revoked[j], fp) != NC_OK)
                fp[0] = '?';
            snprintf(msg, msg_len, "trust/revoked_keys is missing key %s, which was revoked (audit log): a revocation "
                     "was removed. %s", fp, fix);
            return NC_ERR_TAMPERED;
        }
    if (nc_revoked_keys_count(files->revoked) != l->nrev) {
        snprintf(msg, msg_len, "trust/revoked_keys lists %zu keys; the audit log revoked %zu. %s",
                 nc_revoked_keys_count(files->revoked), l->nrev, fix);
        return NC_ERR_TAMPERED;
    }
    return NC_OK;
}

nc_err nc_ledger_fill_uv(const nc_trust_ledger *l, nc_trust_store *ts)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->keys[i].require_verification;
    free(ts->uv_keys);
    ts->uv_keys = NULL;
    ts->nuv_keys = 0;
    if (!n)
        return NC_OK;
    ts->uv_keys = calloc(n, sizeof *ts->uv_keys);
    if (!ts->uv_keys)
        return NC_ERR_NOMEM;
    for (size_t i = 0; i < l->n; i++)
        if (l->keys[i].require_verification)
            ts->uv_keys[ts->nuv_keys++] = l->keys[i].key;
    return NC_OK;
}
