#include "trust/fields.h"
#include <stdio.h>
#include <string.h>
#include "common/hash.h"
#include "common/json.h"
#include "trust/statement.h"

nc_err nc_field_require(const json_t *obj, const char *what, const char *const *keys, char *msg, size_t msg_len)
{
    if (!json_is_object(obj)) {
        snprintf(msg, msg_len, "%s must be an object", what);
        return NC_ERR_STATEMENT;
    }
    char inner[160] = "";
    if (nc_json_only_keys(obj, keys, inner, sizeof inner) != NC_OK) {
        snprintf(msg, msg_len, "%s: %s", what, inner);
        return NC_ERR_STATEMENT;
    }
    for (const char *const *k = keys; *k; k++)
        if (!json_object_get(obj, *k)) {
            snprintf(msg, msg_len, "%s: missing field \"%s\"", what, *k);
            return NC_ERR_STATEMENT;
        }
    return NC_OK;
}

nc_err nc_field_string(const json_t *obj, const char *key, char *dst, size_t dst_size, char *msg, size_t msg_len)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) >= dst_size ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(msg, msg_len, "%s must be a string of at most %zu bytes", key, dst_size - 1);
        return NC_ERR_STATEMENT;
    }
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return NC_OK;
}

nc_err nc_field_uint(const json_t *obj, const char *key, uint64_t *out, char *msg, size_t msg_len)
{
    if (nc_json_uint(json_object_get(obj, key), (uint64_t)INT64_MAX, out) != NC_OK) {
        snprintf(msg, msg_len, "%s must be a non-negative integer", key);
        return NC_ERR_STATEMENT;
    }
    return NC_OK;
}

nc_err nc_field_bool(const json_t *obj, const char *key, bool *out, char *msg, size_t msg_len)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_boolean(v)) {
        snprintf(msg, msg_len, "%s must be true or false", key);
        return NC_ERR_STATEMENT;
    }
    *out = json_is_true(v);
    return NC_OK;
}

nc_err nc_field_hex(const json_t *obj, const char *key, uint8_t *out, size_t n, char *msg, size_t msg_len)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || nc_unhex(json_string_value(v), json_string_length(v), out, n) != NC_OK) {
        snprintf(msg, msg_len, "%s must be %zu lower-case hex digits", key, 2 * n);
        return NC_ERR_STATEMENT;
    }
    return NC_OK;
}

nc_err nc_field_envelope(const json_t *root, const char *predicate_type, char *name, size_t name_size,
                         uint8_t sha256[32], const json_t **predicate, char *msg, size_t msg_len)
{
    static const char *const top_keys[] = {"_type", "subject", "predicateType", "predicate", NULL};
    static const char *const subj_keys[] = {"name", "digest", NULL};
    static const char *const digest_keys[] = {"sha256", NULL};
    nc_err err = nc_field_require(root, "statement", top_keys, msg, msg_len);
    if (err != NC_OK)
        return err;
    const json_t *t = json_object_get(root, "_type"), *pt = json_object_get(root, "predicateType");
    if (!json_is_string(t) || strcmp(json_string_value(t), NC_STATEMENT_TYPE) != 0 || !json_is_string(pt) ||
        strcmp(json_string_value(pt), predicate_type) != 0) {
        snprintf(msg, msg_len, "_type must be %s and predicateType %s", NC_STATEMENT_TYPE, predicate_type);
        return NC_ERR_STATEMENT;
    }
    const json_t *subjects = json_object_get(root, "subject");
    if (!json_is_array(subjects) || json_array_size(subjects) != 1) {
        snprintf(msg, msg_len, "subject must list exactly one entry");
        return NC_ERR_STATEMENT;
    }
    const json_t *subj = json_array_get(subjects, 0);
    if ((err = nc_field_require(subj, "subject[0]", subj_keys, msg, msg_len)) != NC_OK ||
        (err = nc_field_require(json_object_get(subj, "digest"), "subject[0].digest", digest_keys, msg, msg_len)) !=
            NC_OK ||
        (err = nc_field_string(subj, "name", name, name_size, msg, msg_len)) != NC_OK ||
        (err = nc_field_hex(json_object_get(subj, "digest"), "sha256", sha256, NC_SHA256_LEN, msg, msg_len)) != NC_OK)
        return err;
    *predicate = json_object_get(root, "predicate");
    return NC_OK;
}

nc_err nc_field_canonical(const char *canon, size_t canon_len, const uint8_t *data, size_t len, char *msg,
                          size_t msg_len)
{
    if (canon_len != len || memcmp(canon, data, len) != 0) {
        snprintf(msg, msg_len, "statement is not in canonical form (sorted keys, no whitespace, all fields)");
        return NC_ERR_STATEMENT;
    }
    return NC_OK;
}
