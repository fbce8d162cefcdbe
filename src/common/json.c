#include "common/json.h"
#include <stdio.h>
#include <string.h>

nc_err nc_json_parse_strict(const void *data, size_t len, json_t **out, char *msg, size_t msg_len)
{
    json_error_t je;
    *out = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!*out) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
        return NC_ERR_MALFORMED;
    }
    return NC_OK;
}

nc_err nc_json_only_keys(const json_t *obj, const char *const *allowed, char *msg, size_t msg_len)
{
    const char *key;
    json_t *val;
    if (!json_is_object(obj))
        return NC_ERR_MALFORMED;
    json_object_foreach((json_t *)obj, key, val) {
        (void)val;
        bool known = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, key) == 0)
                known = true;
        if (!known) {
            if (msg && msg_len)
                snprintf(msg, msg_len, "unknown field \"%.64s\"", key);
            return NC_ERR_MALFORMED;
        }
    }
    return NC_OK;
}

char *nc_json_canonical(const json_t *v, size_t *len)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (len)
        *len = s ? strlen(s) : 0;
    return s;
}

nc_err nc_json_uint(const json_t *v, uint64_t max, uint64_t *out)
{
    *out = 0;
    if (!json_is_integer(v))
        return NC_ERR_MALFORMED;
    json_int_t i = json_integer_value(v);
    if (i < 0 || (uint64_t)i > max)
        return NC_ERR_MALFORMED;
    *out = (uint64_t)i;
    return NC_OK;
}
