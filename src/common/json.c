#include "common/json.h"
#include <stdio.h>
#include <stdlib.h>
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

typedef struct {
    const char *bytes;
    size_t len, at;
} canon_cmp;

static int compare_piece(const char *piece, size_t size, void *data)
{
    canon_cmp *c = data;
    if (size > c->len - c->at || memcmp(piece, c->bytes + c->at, size) != 0)
        return -1;   /* differs: jansson stops writing */
    c->at += size;
    return 0;
}

bool nc_json_is_canonical(const json_t *v, const char *bytes, size_t len)
{
    canon_cmp c = {bytes, len, 0};
    return json_dump_callback(v, compare_piece, &c, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) == 0 &&
           c.at == len;
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

/* Strings cut at a character boundary (UTF-8) with a marker. */
static json_t *bounded_string(const json_t *v, size_t max_string)
{
    size_t n = json_string_length(v);
    if (n <= max_string)
        return json_copy((json_t *)v);
    const char *s = json_string_value(v);
    size_t cut = max_string;
    while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
        cut--;
    char tail[48];
    int t = snprintf(tail, sizeof tail, "... (%zu bytes)", n);
    json_t *out = NULL;
    char *b = malloc(cut + (size_t)t + 1);
    if (b) {
        memcpy(b, s, cut);
        memcpy(b + cut, tail, (size_t)t + 1);
        out = json_stringn(b, cut + (size_t)t);
        free(b);
    }
    return out;
}

static json_t *bounded(const json_t *v, size_t max_items, size_t max_string, unsigned depth, size_t *budget)
{
    if (*budget == 0)
        return json_string("...");
    (*budget)--;
    if (json_is_string(v))
        return bounded_string(v, max_string);
    if (depth == 0 && (json_is_array(v) || json_is_object(v)))
        return json_string("...");
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t n = json_array_size(v);
        for (size_t i = 0; a && i < n && i < max_items; i++)
            if (json_array_append_new(a, bounded(json_array_get(v, i), max_items, max_string, depth - 1, budget)) != 0) {
                json_decref(a);
                return NULL;
            }
        if (a && n > max_items) {
            char more[48];
            snprintf(more, sizeof more, "... and %zu more", n - max_items);
            if (json_array_append_new(a, json_string(more)) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *key;
        json_t *val;
        size_t i = 0;
        json_object_foreach((json_t *)v, key, val) {
            if (!o)
                break;
            if (i++ == max_items) {
                json_object_set_new(o, "...", json_integer((json_int_t)(json_object_size(v) - max_items)));
                break;
            }
            json_t *b = bounded(val, max_items, max_string, depth - 1, budget);
            char k[80];
            snprintf(k, sizeof k, "%s", key);   /* keys are cut too */
            if (!b || json_object_set_new(o, k, b) != 0) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    return json_copy((json_t *)v);
}

json_t *nc_json_bounded(const json_t *v, size_t max_items, size_t max_string)
{
    size_t budget = NC_JSON_BOUNDED_NODES;
    return v ? bounded(v, max_items, max_string, 8, &budget) : NULL;
}
