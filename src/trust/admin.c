#include "trust/admin.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/hash.h"
#include "common/json.h"
#include "trust/fields.h"

#define TRY(x)                       \
    do {                             \
        err = (x);                   \
        if (err != NC_OK)            \
            goto done;               \
    } while (0)

static nc_err bad(char *msg, size_t msg_len, const char *what)
{
    snprintf(msg, msg_len, "%s", what);
    return NC_ERR_STATEMENT;
}

static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NC_ID_MAX)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

void nc_admin_cleanup(nc_admin_statement *st)
{
    nc_policy_cleanup(&st->policy);
    memset(st, 0, sizeof *st);
}

static nc_err check_fields(const nc_admin_statement *st, char *msg, size_t msg_len)
{
    if (st->kind != NC_ADMIN_TRUST_ADD && st->kind != NC_ADMIN_POLICY_SET)
        return bad(msg, msg_len, "unknown admin statement kind");
    if (!nc_principal_ok(st->approver))
        return bad(msg, msg_len, "approver must be 1-128 of A-Z a-z 0-9 @ . _ - + :");
    if (!id_ok(st->worker))
        return bad(msg, msg_len, "worker must be 1-64 of A-Z a-z 0-9 _ -");
    if (st->issued_at >= st->expires_at)
        return bad(msg, msg_len, "issued_at must be before expires_at");
    if (st->expires_at - st->issued_at > NC_ADMIN_MAX_VALID_S)
        return bad(msg, msg_len, "an admin statement is valid for at most 7 days");
    if (st->kind == NC_ADMIN_POLICY_SET) {
        if (!nc_policy_name_ok(st->policy.name))
            return bad(msg, msg_len, "policy name must be 1-64 of a-z 0-9 . - _");
        if (st->policy_version == 0)
            return bad(msg, msg_len, "version must be at least 1");
        return NC_OK;
    }
    if (st->key.blob_len == 0)
        return bad(msg, msg_len, "key is missing");
    if (!nc_principal_ok(st->principal))
        return bad(msg, msg_len, "principal must be 1-128 of A-Z a-z 0-9 @ . _ - + :");
    return NC_OK;
}

/* The policy's canonical bytes and their digest (the statement's subject). */
static nc_err policy_digest(const nc_policy *p, json_t **obj, char hex[NC_SHA256_HEX_LEN + 1])
{
    uint8_t d[NC_SHA256_LEN];
    size_t n;
    *obj = nc_policy_to_json(p);
    char *text = *obj ? nc_json_canonical(*obj, &n) : NULL;
    if (!text) {
        json_decref(*obj);
        *obj = NULL;
        return NC_ERR_NOMEM;
    }
    nc_err err = nc_sha256(text, n, d);
    free(text);
    if (err == NC_OK)
        nc_hex(d, sizeof d, hex);
    return err;
}

static nc_err build_policy(const nc_admin_statement *st, char **out, size_t *out_len)
{
    char nonce[2 * NC_NONCE_LEN + 1], hex[NC_SHA256_HEX_LEN + 1], name[NC_POLICY_MAX_NAME + 8];
    json_t *pol = NULL;
    nc_err err = policy_digest(&st->policy, &pol, hex);
    if (err != NC_OK)
        return err;
    nc_hex(st->nonce, NC_NONCE_LEN, nonce);
    snprintf(name, sizeof name, "policy:%s", st->policy.name);
    json_t *root = json_pack("{s:s, s:[{s:s, s:{s:s}}], s:s, s:{s:s, s:I, s:I, s:s, s:o, s:I, s:I, s:s}}", "_type",
                             NC_STATEMENT_TYPE, "subject", "name", name, "digest", "sha256", hex, "predicateType",
                             NC_ADMIN_POLICY_TYPE, "predicate", "approver", st->approver, "expires_at",
                             (json_int_t)st->expires_at, "issued_at", (json_int_t)st->issued_at, "nonce", nonce,
                             "policy", pol, "trust_version", (json_int_t)st->trust_version, "version",
                             (json_int_t)st->policy_version, "worker", st->worker);
    if (!root)
        return NC_ERR_NOMEM;
    *out = nc_json_canonical(root, out_len);
    json_decref(root);
    return *out ? NC_OK : NC_ERR_NOMEM;
}

nc_err nc_admin_id(const void *data, size_t len, char out[NC_SHA256_HEX_LEN + 1])
{
    return nc_statement_id(data, len, out);
}

nc_err nc_admin_build(const nc_admin_statement *st, char **out, size_t *out_len, char *msg, size_t msg_len)
{
    char key[NC_SSHKEY_TEXT_MAX], fp[NC_SSHKEY_FINGERPRINT_LEN], nonce[2 * NC_NONCE_LEN + 1],
        digest_hex[NC_SHA256_HEX_LEN + 1];
    uint8_t digest[NC_SHA256_LEN];
    *out = NULL;
    *out_len = 0;
    nc_err err = check_fields(st, msg, msg_len);
    if (err != NC_OK)
        return err;
    if (st->kind == NC_ADMIN_POLICY_SET)
        return build_policy(st, out, out_len);
    if (nc_sshkey_to_text(&st->key, key, sizeof key) != NC_OK || nc_sshkey_fingerprint(&st->key, fp) != NC_OK ||
        nc_sha256(st->key.blob, st->key.blob_len, digest) != NC_OK)
        return bad(msg, msg_len, "key is not an accepted public key");
    nc_hex(digest, sizeof digest, digest_hex);
    nc_hex(st->nonce, NC_NONCE_LEN, nonce);
    json_t *root = json_pack("{s:s, s:[{s:s, s:{s:s}}], s:s, s:{s:b, s:s, s:I, s:I, s:s, s:s, s:s, s:b, s:I, s:s}}",
                             "_type", NC_STATEMENT_TYPE, "subject", "name", fp, "digest", "sha256", digest_hex,
                             "predicateType", NC_ADMIN_TRUST_ADD_TYPE, "predicate", "admin", st->admin, "approver",
                             st->approver, "expires_at", (json_int_t)st->expires_at, "issued_at",
                             (json_int_t)st->issued_at, "key", key, "nonce", nonce, "principal", st->principal,
                             "require_verification", st->require_verification, "trust_version",
                             (json_int_t)st->trust_version, "worker", st->worker);
    if (!root)
        return NC_ERR_NOMEM;
    *out = nc_json_canonical(root, out_len);
    json_decref(root);
    return *out ? NC_OK : NC_ERR_NOMEM;
}

nc_admin_kind nc_admin_peek_kind(const void *data, size_t len)
{
    json_t *root = NULL;
    nc_admin_kind k = NC_ADMIN_NONE;
    if (len > NC_STATEMENT_MAX_BYTES || nc_json_parse_strict(data, len, &root, NULL, 0) != NC_OK)
        return NC_ADMIN_NONE;
    const char *pt = json_string_value(json_object_get(root, "predicateType"));
    if (pt && strcmp(pt, NC_ADMIN_TRUST_ADD_TYPE) == 0)
        k = NC_ADMIN_TRUST_ADD;
    else if (pt && strcmp(pt, NC_ADMIN_POLICY_TYPE) == 0)
        k = NC_ADMIN_POLICY_SET;
    json_decref(root);
    return k;
}

static nc_err parse_trust_add(const json_t *p, const char *subject_name, const uint8_t subject_sha[NC_SHA256_LEN],
                              nc_admin_statement *out, char *msg, size_t msg_len)
{
    static const char *const keys[] = {"admin", "approver", "expires_at", "issued_at", "key", "nonce", "principal",
                                       "require_verification", "trust_version", "worker", NULL};
    char key[NC_SSHKEY_TEXT_MAX + 1], fp[NC_SSHKEY_FINGERPRINT_LEN];
    uint8_t digest[NC_SHA256_LEN];
    nc_err err;
    TRY(nc_field_require(p, "predicate", keys, msg, msg_len));
    TRY(nc_field_bool(p, "admin", &out->admin, msg, msg_len));
    TRY(nc_field_string(p, "approver", out->approver, sizeof out->approver, msg, msg_len));
    TRY(nc_field_uint(p, "expires_at", &out->expires_at, msg, msg_len));
    TRY(nc_field_uint(p, "issued_at", &out->issued_at, msg, msg_len));
    TRY(nc_field_string(p, "key", key, sizeof key, msg, msg_len));
    TRY(nc_field_hex(p, "nonce", out->nonce, NC_NONCE_LEN, msg, msg_len));
    TRY(nc_field_string(p, "principal", out->principal, sizeof out->principal, msg, msg_len));
    TRY(nc_field_bool(p, "require_verification", &out->require_verification, msg, msg_len));
    TRY(nc_field_uint(p, "trust_version", &out->trust_version, msg, msg_len));
    TRY(nc_field_string(p, "worker", out->worker, sizeof out->worker, msg, msg_len));
    const char *reason = NULL;
    /* "TYPE BASE64" exactly: no comment (the canonical check below refuses one). */
    if (nc_sshkey_from_text(key, strlen(key), &out->key, &reason) != NC_OK) {
        snprintf(msg, msg_len, "key: %s", reason ? reason : "not an accepted public key");
        return NC_ERR_STATEMENT;
    }
    if (nc_sshkey_fingerprint(&out->key, fp) != NC_OK || nc_sha256(out->key.blob, out->key.blob_len, digest) != NC_OK)
        return NC_ERR_INTERNAL;
    if (strcmp(subject_name, fp) != 0 || memcmp(digest, subject_sha, NC_SHA256_LEN) != 0)
        return bad(msg, msg_len, "subject must name the key: its fingerprint and the sha256 of its blob");
    err = NC_OK;
done:
    return err;
}

static nc_err parse_policy(const json_t *p, const char *subject_name, const uint8_t subject_sha[NC_SHA256_LEN],
                           nc_admin_statement *out, char *msg, size_t msg_len)
{
    static const char *const keys[] = {"approver", "expires_at", "issued_at", "nonce", "policy", "trust_version",
                                       "version", "worker", NULL};
    char inner[256], hex[NC_SHA256_HEX_LEN + 1], want[NC_POLICY_MAX_NAME + 8];
    nc_err err;
    TRY(nc_field_require(p, "predicate", keys, msg, msg_len));
    TRY(nc_field_string(p, "approver", out->approver, sizeof out->approver, msg, msg_len));
    TRY(nc_field_uint(p, "expires_at", &out->expires_at, msg, msg_len));
    TRY(nc_field_uint(p, "issued_at", &out->issued_at, msg, msg_len));
    TRY(nc_field_hex(p, "nonce", out->nonce, NC_NONCE_LEN, msg, msg_len));
    TRY(nc_field_uint(p, "trust_version", &out->trust_version, msg, msg_len));
    TRY(nc_field_uint(p, "version", &out->policy_version, msg, msg_len));
    TRY(nc_field_string(p, "worker", out->worker, sizeof out->worker, msg, msg_len));
    if (nc_policy_from_json(json_object_get(p, "policy"), &out->policy, inner, sizeof inner) != NC_OK) {
        snprintf(msg, msg_len, "policy: %s", inner);
        return NC_ERR_STATEMENT;
    }
    json_t *obj = NULL;
    uint8_t d[NC_SHA256_LEN];
    if (policy_digest(&out->policy, &obj, hex) != NC_OK)
        return NC_ERR_NOMEM;
    json_decref(obj);
    snprintf(want, sizeof want, "policy:%s", out->policy.name);
    if (nc_unhex(hex, strlen(hex), d, sizeof d) != NC_OK || strcmp(subject_name, want) != 0 ||
        memcmp(d, subject_sha, NC_SHA256_LEN) != 0)
        return bad(msg, msg_len, "subject must name the policy: \"policy:NAME\" and the sha256 of the policy");
    err = NC_OK;
done:
    return err;
}

nc_err nc_admin_parse(const void *data, size_t len, nc_admin_statement *out, char *msg, size_t msg_len)
{
    json_t *root = NULL;
    char *canon = NULL, name[NC_POLICY_MAX_NAME + NC_SSHKEY_FINGERPRINT_LEN + 16];
    uint8_t sha[NC_SHA256_LEN];
    const json_t *p = NULL;
    nc_err err;
    memset(out, 0, sizeof *out);
    if (len > NC_STATEMENT_MAX_BYTES) {
        snprintf(msg, msg_len, "statement larger than %u bytes", NC_STATEMENT_MAX_BYTES);
        return NC_ERR_STATEMENT;
    }
    if (nc_json_parse_strict(data, len, &root, msg, msg_len) != NC_OK)
        return NC_ERR_STATEMENT;
    const char *pt = json_string_value(json_object_get(root, "predicateType"));
    if (!pt || (strcmp(pt, NC_ADMIN_TRUST_ADD_TYPE) != 0 && strcmp(pt, NC_ADMIN_POLICY_TYPE) != 0)) {
        snprintf(msg, msg_len, "not an admin statement (predicateType must be %s or %s)", NC_ADMIN_TRUST_ADD_TYPE,
                 NC_ADMIN_POLICY_TYPE);
        err = NC_ERR_STATEMENT;
        goto done;
    }
    out->kind = strcmp(pt, NC_ADMIN_POLICY_TYPE) == 0 ? NC_ADMIN_POLICY_SET : NC_ADMIN_TRUST_ADD;
    TRY(nc_field_envelope(root, pt, name, sizeof name, sha, &p, msg, msg_len));
    if (out->kind == NC_ADMIN_POLICY_SET)
        TRY(parse_policy(p, name, sha, out, msg, msg_len));
    else
        TRY(parse_trust_add(p, name, sha, out, msg, msg_len));
    TRY(check_fields(out, msg, msg_len));
    size_t clen;
    char ignored[64];
    TRY(nc_admin_build(out, &canon, &clen, ignored, sizeof ignored));
    TRY(nc_field_canonical(canon, clen, data, len, msg, msg_len));
done:
    free(canon);
    json_decref(root);
    if (err != NC_OK)
        nc_admin_cleanup(out);
    return err;
}
