#include "trust/statement.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/json.h"
#include "trust/fields.h"

void nc_statement_cleanup(nc_statement *st)
{
    nc_caps_cleanup(&st->caps);
    memset(st, 0, sizeof *st);
}

static bool chars_ok(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            continue;
        if (!strchr(extra, c))
            return false;
    }
    return true;
}

bool nc_module_name_ok(const char *s)
{
    return chars_ok(s, NC_MODULE_NAME_MAX, "._-") && s[0] != '.' && s[0] != '-';
}

bool nc_invoker_ok(const char *s)
{
    if (strcmp(s, "operator") == 0)
        return true;
    return strncmp(s, "agent:", 6) == 0 && chars_ok(s + 6, 64, "_-") &&
           strspn(s + 6, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(s + 6);
}

/* allowed_signers principals: no whitespace, commas, quotes or wildcards. */
bool nc_principal_ok(const char *s)
{
    return chars_ok(s, NC_PRINCIPAL_MAX, "@._-+:");
}

static bool id_ok(const char *s)
{
    return chars_ok(s, NC_ID_MAX, "_-");
}

nc_err nc_statement_id(const void *data, size_t len, char out[NC_SHA256_HEX_LEN + 1])
{
    uint8_t h[NC_SHA256_LEN];
    nc_err err = nc_sha256(data, len, h);
    if (err == NC_OK)
        nc_hex(h, sizeof h, out);
    return err;
}

bool nc_statement_has_invoker(const nc_statement *st, const char *invoker)
{
    for (size_t i = 0; i < st->ninvokers; i++)
        if (strcmp(st->invokers[i], invoker) == 0)
            return true;
    return false;
}

/* Checks that build and parse both apply. */
static nc_err check_fields(const nc_statement *st, char *msg, size_t msg_len)
{
    const char *bad = NULL;
    if (!nc_module_name_ok(st->name))
        bad = "subject name must be 1-64 of A-Z a-z 0-9 . _ - (not starting with . or -)";
    else if (!nc_principal_ok(st->approver))
        bad = "approver must be 1-128 of A-Z a-z 0-9 @ . _ - + :";
    else if (!id_ok(st->worker))
        bad = "worker must be 1-64 of A-Z a-z 0-9 _ -";
    else if (!id_ok(st->submission))
        bad = "submission must be 1-64 of A-Z a-z 0-9 _ -";
    else if (st->not_before > st->expires_at)
        bad = "not_before is after expires_at";
    else if (st->issued_at > st->expires_at)
        bad = "issued_at is after expires_at";
    else if (st->max_runs == 0 || st->max_runs > 1000000000ull)
        bad = "max_runs must be 1..1000000000";
    else if (st->policy[0] && (!nc_policy_name_ok(st->policy) || st->policy_version == 0))
        bad = "policy must name a policy (1-64 of a-z 0-9 . - _) and a version of at least 1";
    else if (st->isolation[0] && strcmp(st->isolation, "process") != 0 && strcmp(st->isolation, "vm") != 0)
        bad = "isolation must be \"process\" or \"vm\"";
    else if (st->ninvokers == 0 || st->ninvokers > NC_MAX_INVOKERS)
        bad = "invokers must list 1..16 entries";
    for (size_t i = 0; !bad && i < st->ninvokers; i++) {
        if (!nc_invoker_ok(st->invokers[i]))
            bad = "invokers must be \"operator\" or \"agent:NAME\" (NAME: a-z 0-9 _ -)";
        for (size_t j = 0; !bad && j < i; j++)
            if (strcmp(st->invokers[i], st->invokers[j]) == 0)
                bad = "invokers lists an entry twice";
    }
    if (bad) {
        snprintf(msg, msg_len, "%s", bad);
        return NC_ERR_STATEMENT;
    }
    return NC_OK;
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char hex[2 * 64 + 1];
    nc_hex(p, n, hex);
    return json_string(hex);
}

nc_err nc_statement_build(nc_statement *st, char **out, size_t *out_len, char *msg, size_t msg_len)
{
    json_t *root = NULL, *inv = NULL, *caps = NULL, *lim = NULL;
    nc_err err;
    *out = NULL;
    *out_len = 0;
    err = check_fields(st, msg, msg_len);
    if (err != NC_OK)
        return err;
    err = nc_caps_digest(&st->caps, &st->limits, st->cap_digest);
    if (err != NC_OK)
        return err;
    err = NC_ERR_NOMEM;
    inv = json_array();
    caps = nc_caps_to_json(&st->caps);
    lim = nc_limits_to_json(&st->limits);
    if (!inv || !caps || !lim)
        goto done;
    for (size_t i = 0; i < st->ninvokers; i++)
        if (json_array_append_new(inv, json_string(st->invokers[i])) != 0)
            goto done;
    root = json_pack("{s:s, s:[{s:s, s:{s:o}}], s:s, s:{s:s, s:O, s:o, s:I, s:O, s:I, s:O, s:I, s:o, s:I, s:s, s:I, s:s}}",
                     "_type", NC_STATEMENT_TYPE,
                     "subject", "name", st->name, "digest", "sha256", hex_json(st->sha256, NC_SHA256_LEN),
                     "predicateType", NC_STATEMENT_PREDICATE_TYPE,
                     "predicate",
                     "approver", st->approver,
                     "capabilities", caps,
                     "capability_digest", hex_json(st->cap_digest, NC_SHA256_LEN),
                     "expires_at", (json_int_t)st->expires_at,
                     "invokers", inv,
                     "issued_at", (json_int_t)st->issued_at,
                     "limits", lim,
                     "max_runs", (json_int_t)st->max_runs,
                     "nonce", hex_json(st->nonce, NC_NONCE_LEN),
                     "not_before", (json_int_t)st->not_before,
                     "submission", st->submission,
                     "trust_version", (json_int_t)st->trust_version,
                     "worker", st->worker);
    if (!root)
        goto done;
    if (st->policy[0] && json_object_set_new(json_object_get(root, "predicate"), "policy",
                                             json_pack("{s:s, s:I}", "name", st->policy, "version",
                                                       (json_int_t)st->policy_version)) != 0)
        goto done;
    if (st->isolation[0] &&
        json_object_set_new(json_object_get(root, "predicate"), "isolation", json_string(st->isolation)) != 0)
        goto done;
    *out = nc_json_canonical(root, out_len);
    err = *out ? NC_OK : NC_ERR_NOMEM;
done:
    json_decref(root);
    json_decref(inv);
    json_decref(caps);
    json_decref(lim);
    return err;
}

#define TRY(x)                       \
    do {                             \
        err = (x);                   \
        if (err != NC_OK)            \
            goto done;               \
    } while (0)

nc_err nc_statement_parse(const void *data, size_t len, nc_statement *out, char *msg, size_t msg_len)
{
    static const char *const base_keys[] = {"approver", "capabilities", "capability_digest", "expires_at",
                                            "invokers", "issued_at", "limits", "max_runs", "nonce",
                                            "not_before", "submission", "trust_version", "worker"};
    static const char *const policy_keys[] = {"name", "version", NULL};
    json_t *root = NULL;
    char *canon = NULL;
    nc_err err;
    memset(out, 0, sizeof *out);
    if (len > NC_STATEMENT_MAX_BYTES) {
        snprintf(msg, msg_len, "statement larger than %u bytes", NC_STATEMENT_MAX_BYTES);
        return NC_ERR_STATEMENT;
    }
    if (nc_json_parse_strict(data, len, &root, msg, msg_len) != NC_OK)
        return NC_ERR_STATEMENT;
    const json_t *p = NULL;
    TRY(nc_field_envelope(root, NC_STATEMENT_PREDICATE_TYPE, out->name, sizeof out->name, out->sha256, &p, msg,
                          msg_len));
    const json_t *pol = json_is_object(p) ? json_object_get(p, "policy") : NULL;
    const json_t *iso = json_is_object(p) ? json_object_get(p, "isolation") : NULL;
    /* policy and isolation are optional: statements older than them have neither */
    const char *pred_keys[sizeof base_keys / sizeof base_keys[0] + 3];
    size_t nkeys = 0;
    for (size_t i = 0; i < sizeof base_keys / sizeof base_keys[0]; i++)
        pred_keys[nkeys++] = base_keys[i];
    if (pol)
        pred_keys[nkeys++] = "policy";
    if (iso)
        pred_keys[nkeys++] = "isolation";
    pred_keys[nkeys] = NULL;
    TRY(nc_field_require(p, "predicate", pred_keys, msg, msg_len));
    if (iso) {
        TRY(nc_field_string(p, "isolation", out->isolation, sizeof out->isolation, msg, msg_len));
        if (strcmp(out->isolation, "process") != 0 && strcmp(out->isolation, "vm") != 0) {
            snprintf(msg, msg_len, "isolation must be \"process\" or \"vm\"");
            err = NC_ERR_STATEMENT;
            goto done;
        }
    }   /* absent: "" (an older statement: the process tier) */
    if (pol) {
        TRY(nc_field_require(pol, "predicate.policy", policy_keys, msg, msg_len));
        TRY(nc_field_string(pol, "name", out->policy, sizeof out->policy, msg, msg_len));
        TRY(nc_field_uint(pol, "version", &out->policy_version, msg, msg_len));
    }
    TRY(nc_field_string(p, "approver", out->approver, sizeof out->approver, msg, msg_len));
    TRY(nc_field_string(p, "worker", out->worker, sizeof out->worker, msg, msg_len));
    TRY(nc_field_string(p, "submission", out->submission, sizeof out->submission, msg, msg_len));
    TRY(nc_field_uint(p, "issued_at", &out->issued_at, msg, msg_len));
    TRY(nc_field_uint(p, "not_before", &out->not_before, msg, msg_len));
    TRY(nc_field_uint(p, "expires_at", &out->expires_at, msg, msg_len));
    TRY(nc_field_uint(p, "max_runs", &out->max_runs, msg, msg_len));
    TRY(nc_field_uint(p, "trust_version", &out->trust_version, msg, msg_len));
    TRY(nc_field_hex(p, "nonce", out->nonce, NC_NONCE_LEN, msg, msg_len));
    TRY(nc_field_hex(p, "capability_digest", out->cap_digest, NC_SHA256_LEN, msg, msg_len));
    const json_t *inv = json_object_get(p, "invokers");
    if (!json_is_array(inv) || json_array_size(inv) == 0 || json_array_size(inv) > NC_MAX_INVOKERS) {
        snprintf(msg, msg_len, "invokers must be an array of 1..%d strings", NC_MAX_INVOKERS);
        err = NC_ERR_STATEMENT;
        goto done;
    }
    for (size_t i = 0; i < json_array_size(inv); i++) {
        const json_t *v = json_array_get(inv, i);
        if (!json_is_string(v) || json_string_length(v) > NC_INVOKER_MAX) {
            snprintf(msg, msg_len, "invokers[%zu] must be a string", i);
            err = NC_ERR_STATEMENT;
            goto done;
        }
        memcpy(out->invokers[out->ninvokers++], json_string_value(v), json_string_length(v) + 1);
    }
    char inner[200] = "";
    if (nc_caps_from_json(json_object_get(p, "capabilities"), &out->caps, inner, sizeof inner) != NC_OK ||
        nc_limits_from_json(json_object_get(p, "limits"), &out->limits, inner, sizeof inner) != NC_OK) {
        snprintf(msg, msg_len, "predicate: %s", inner);
        err = NC_ERR_STATEMENT;
        goto done;
    }
    TRY(check_fields(out, msg, msg_len));
    uint8_t digest[NC_SHA256_LEN];
    TRY(nc_caps_digest(&out->caps, &out->limits, digest));
    if (memcmp(digest, out->cap_digest, NC_SHA256_LEN) != 0) {
        snprintf(msg, msg_len, "capability_digest does not match the capabilities and limits");
        err = NC_ERR_STATEMENT;
        goto done;
    }
    /* One encoding per statement: the bytes must be exactly what build makes
     * of the parsed fields (sorted keys, no whitespace, every field present). */
    size_t clen;
    char ignored[64];
    TRY(nc_statement_build(out, &canon, &clen, ignored, sizeof ignored));
    TRY(nc_field_canonical(canon, clen, data, len, msg, msg_len));
done:
    free(canon);
    json_decref(root);
    if (err != NC_OK)
        nc_statement_cleanup(out);
    return err;
}
