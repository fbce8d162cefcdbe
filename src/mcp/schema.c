#include "mcp/schema.h"
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Paths in messages: "arguments.requested_capabilities.dirs[15].mode". Keys
 * come from the agent, so they are shortened and reduced to printable ASCII. */
#define PATH_MAX_BYTES 256
#define KEY_IN_PATH_MAX 48

static const char *const known_keywords[] = {
    "type", "properties", "required", "additionalProperties", "propertyNames", "maxProperties",
    "minLength", "maxLength", "pattern", "contentEncoding", "enum", "minimum", "maximum",
    "items", "minItems", "maxItems",
    "title", "description", "default", "examples", NULL};

static const char *const known_types[] = {"object", "string", "integer", "boolean", "array", NULL};

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static bool nonneg_int(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

static nc_err check_at(const json_t *schema, const char *where, int depth, char *msg, size_t msg_len)
{
    const char *key;
    const json_t *v;
    char sub[PATH_MAX_BYTES];

    if (depth > 16 || !json_is_object(schema)) {
        snprintf(msg, msg_len, "schema at %s: not an object (or nested too deeply)", where);
        return NC_ERR_INTERNAL;
    }
    json_object_foreach((json_t *)schema, key, v) {
        if (!in_list(key, known_keywords)) {
            snprintf(msg, msg_len, "schema at %s: keyword \"%s\" is not implemented by the validator", where, key);
            return NC_ERR_INTERNAL;
        }
    }
    const json_t *type = json_object_get(schema, "type");
    if (!json_is_string(type) || !in_list(json_string_value(type), known_types)) {
        snprintf(msg, msg_len, "schema at %s: \"type\" must be one of object/string/integer/boolean/array", where);
        return NC_ERR_INTERNAL;
    }
    static const char *const counts[] = {"maxProperties", "minLength", "maxLength", "minItems", "maxItems", NULL};
    for (size_t i = 0; counts[i]; i++) {
        v = json_object_get(schema, counts[i]);
        if (v && !nonneg_int(v)) {
            snprintf(msg, msg_len, "schema at %s: \"%s\" must be a non-negative integer", where, counts[i]);
            return NC_ERR_INTERNAL;
        }
    }
    if (((v = json_object_get(schema, "minimum")) && !json_is_integer(v)) ||
        ((v = json_object_get(schema, "maximum")) && !json_is_integer(v))) {
        snprintf(msg, msg_len, "schema at %s: minimum/maximum must be integers", where);
        return NC_ERR_INTERNAL;
    }
    if ((v = json_object_get(schema, "pattern"))) {
        regex_t re;
        if (!json_is_string(v) || regcomp(&re, json_string_value(v), REG_EXTENDED | REG_NOSUB) != 0) {
            snprintf(msg, msg_len, "schema at %s: pattern does not compile", where);
            return NC_ERR_INTERNAL;
        }
        regfree(&re);
    }
    if ((v = json_object_get(schema, "contentEncoding")) &&
        (!json_is_string(v) || strcmp(json_string_value(v), "base64") != 0)) {
        snprintf(msg, msg_len, "schema at %s: only contentEncoding \"base64\" is implemented", where);
        return NC_ERR_INTERNAL;
    }
    if ((v = json_object_get(schema, "enum")) && (!json_is_array(v) || json_array_size(v) == 0)) {
        snprintf(msg, msg_len, "schema at %s: enum must be a non-empty array", where);
        return NC_ERR_INTERNAL;
    }
    if ((v = json_object_get(schema, "required"))) {
        size_t i;
        const json_t *r;
        if (!json_is_array(v)) {
            snprintf(msg, msg_len, "schema at %s: required must be an array", where);
            return NC_ERR_INTERNAL;
        }
        json_array_foreach(v, i, r) {
            const json_t *props = json_object_get(schema, "properties");
            if (!json_is_string(r) || !json_object_get(props, json_string_value(r))) {
                snprintf(msg, msg_len, "schema at %s: required[%zu] names no property", where, i);
                return NC_ERR_INTERNAL;
            }
        }
    }
    if ((v = json_object_get(schema, "properties"))) {
        const char *pk;
        const json_t *ps;
        if (!json_is_object(v)) {
            snprintf(msg, msg_len, "schema at %s: properties must be an object", where);
            return NC_ERR_INTERNAL;
        }
        json_object_foreach((json_t *)v, pk, ps) {
            snprintf(sub, sizeof sub, "%s.%s", where, pk);
            nc_err e = check_at(ps, sub, depth + 1, msg, msg_len);
            if (e != NC_OK)
                return e;
        }
    }
    if ((v = json_object_get(schema, "additionalProperties")) && !json_is_false(v)) {
        snprintf(sub, sizeof sub, "%s.additionalProperties", where);
        nc_err e = check_at(v, sub, depth + 1, msg, msg_len);
        if (e != NC_OK)
            return e;
    }
    if ((v = json_object_get(schema, "propertyNames"))) {
        snprintf(sub, sizeof sub, "%s.propertyNames", where);
        nc_err e = check_at(v, sub, depth + 1, msg, msg_len);
        if (e != NC_OK)
            return e;
        if (strcmp(json_string_value(json_object_get(v, "type")), "string") != 0) {
            snprintf(msg, msg_len, "schema at %s: propertyNames must be of type string", where);
            return NC_ERR_INTERNAL;
        }
    }
    if ((v = json_object_get(schema, "items"))) {
        snprintf(sub, sizeof sub, "%s.items", where);
        nc_err e = check_at(v, sub, depth + 1, msg, msg_len);
        if (e != NC_OK)
            return e;
    }
    return NC_OK;
}

nc_err nc_mcp_schema_check(const json_t *schema, char *msg, size_t msg_len)
{
    if (msg_len)
        msg[0] = '\0';
    return check_at(schema, "(root)", 0, msg, msg_len);
}

/* ---- validation ---- */

/* Agent-supplied text for a message: printable ASCII, at most max bytes. */
static void printable(const char *in, size_t in_len, char *out, size_t out_len, size_t max)
{
    size_t o = 0;
    if (!out_len)
        return;
    for (size_t i = 0; i < in_len && o + 1 < out_len && o < max; i++) {
        unsigned char c = (unsigned char)in[i];
        out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (in_len > max && o + 4 < out_len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* JSON Schema counts string length in code points; jansson strings are valid UTF-8. */
static size_t code_points(const char *s, size_t n)
{
    size_t cp = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            cp++;
    return cp;
}

/* Standard alphabet, padded: what the worker (sodium, ORIGINAL variant) decodes. */
static bool base64_ok(const char *s, size_t n)
{
    if (n % 4 != 0)
        return false;
    size_t pad = 0;
    if (n >= 1 && s[n - 1] == '=')
        pad++;
    if (n >= 2 && s[n - 2] == '=')
        pad++;
    for (size_t i = 0; i < n - pad; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
            return false;
    }
    return true;
}

static const char *kind_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction or exponent";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "something else";
}

static bool type_matches(const char *type, const json_t *v)
{
    if (strcmp(type, "object") == 0)
        return json_is_object(v);
    if (strcmp(type, "string") == 0)
        return json_is_string(v);
    if (strcmp(type, "integer") == 0)
        return json_is_integer(v);
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(type, "array") == 0)
        return json_is_array(v);
    return false;
}

static nc_err validate_at(const json_t *schema, const json_t *inst, const char *path, char *msg, size_t msg_len);

static nc_err validate_string(const json_t *schema, const char *s, size_t n, const char *path, char *msg,
                              size_t msg_len)
{
    const json_t *v;
    if (memchr(s, '\0', n)) {
        snprintf(msg, msg_len, "%s must not contain NUL characters", path);
        return NC_ERR_MALFORMED;
    }
    size_t cp = code_points(s, n);
    if ((v = json_object_get(schema, "minLength")) && cp < (size_t)json_integer_value(v)) {
        snprintf(msg, msg_len, "%s must be at least %lld characters long", path, (long long)json_integer_value(v));
        return NC_ERR_MALFORMED;
    }
    if ((v = json_object_get(schema, "maxLength")) && cp > (size_t)json_integer_value(v)) {
        snprintf(msg, msg_len, "%s is %zu characters long; at most %lld are allowed", path, cp,
                 (long long)json_integer_value(v));
        return NC_ERR_MALFORMED;
    }
    if ((v = json_object_get(schema, "contentEncoding")) && !base64_ok(s, n)) {
        snprintf(msg, msg_len, "%s must be standard base64 (A-Z a-z 0-9 + /, padded with = to a multiple of 4)", path);
        return NC_ERR_MALFORMED;
    }
    if ((v = json_object_get(schema, "pattern"))) {
        regex_t re;
        if (regcomp(&re, json_string_value(v), REG_EXTENDED | REG_NOSUB) != 0) {
            snprintf(msg, msg_len, "%s: the schema's pattern does not compile", path);
            return NC_ERR_INTERNAL;
        }
        int rc = regexec(&re, s, 0, NULL, 0);
        regfree(&re);
        if (rc != 0) {
            const json_t *d = json_object_get(schema, "description");
            snprintf(msg, msg_len, "%s does not match the pattern %s%s%s", path, json_string_value(v),
                     json_is_string(d) ? ": " : "", json_is_string(d) ? json_string_value(d) : "");
            return NC_ERR_MALFORMED;
        }
    }
    return NC_OK;
}

static nc_err validate_object(const json_t *schema, const json_t *inst, const char *path, char *msg,
                              size_t msg_len)
{
    const json_t *props = json_object_get(schema, "properties"), *req = json_object_get(schema, "required");
    const json_t *addl = json_object_get(schema, "additionalProperties");
    const json_t *names = json_object_get(schema, "propertyNames"), *v;
    char sub[PATH_MAX_BYTES], shown[KEY_IN_PATH_MAX + 8];
    size_t i;
    const json_t *r;
    const char *key;
    json_t *val;

    if ((v = json_object_get(schema, "maxProperties")) && json_object_size(inst) > (size_t)json_integer_value(v)) {
        snprintf(msg, msg_len, "%s has %zu entries; at most %lld are allowed", path, json_object_size(inst),
                 (long long)json_integer_value(v));
        return NC_ERR_MALFORMED;
    }
    json_array_foreach(req, i, r) {
        if (!json_object_get(inst, json_string_value(r))) {
            snprintf(msg, msg_len, "%s.%s is required", path, json_string_value(r));
            return NC_ERR_MALFORMED;
        }
    }
    json_object_foreach((json_t *)inst, key, val) {
        /* jansson refuses keys with an embedded NUL while parsing. */
        size_t klen = strlen(key);
        printable(key, klen, shown, sizeof shown, KEY_IN_PATH_MAX);
        snprintf(sub, sizeof sub, "%s.%s", path, shown);
        const json_t *ps = json_object_get(props, key);
        if (names) {
            nc_err e = validate_string(names, key, klen, sub, msg, msg_len);
            if (e != NC_OK)
                return e;
        }
        if (!ps) {
            if (json_is_false(addl)) {
                snprintf(msg, msg_len, "%s: unknown property \"%s\"", path, shown);
                return NC_ERR_MALFORMED;
            }
            ps = addl;   /* a schema, or absent: anything goes */
        }
        if (ps) {
            nc_err e = validate_at(ps, val, sub, msg, msg_len);
            if (e != NC_OK)
                return e;
        }
    }
    return NC_OK;
}

static nc_err validate_at(const json_t *schema, const json_t *inst, const char *path, char *msg, size_t msg_len)
{
    const char *type = json_string_value(json_object_get(schema, "type"));
    const json_t *v;

    if (!type || !type_matches(type, inst)) {
        snprintf(msg, msg_len, "%s must be %s %s, not %s", path,
                 type && (type[0] == 'a' || type[0] == 'i' || type[0] == 'o') ? "an" : "a", type ? type : "?",
                 kind_of(inst));
        return NC_ERR_MALFORMED;
    }
    if ((v = json_object_get(schema, "enum"))) {
        size_t i;
        const json_t *e;
        bool found = false;
        json_array_foreach(v, i, e) {
            if (json_equal((json_t *)e, (json_t *)inst)) {
                found = true;
                break;
            }
        }
        if (!found) {
            char *list = json_dumps(v, JSON_COMPACT);
            snprintf(msg, msg_len, "%s must be one of %s", path, list ? list : "the listed values");
            free(list);
            return NC_ERR_MALFORMED;
        }
    }
    if (json_is_string(inst))
        return validate_string(schema, json_string_value(inst), json_string_length(inst), path, msg, msg_len);
    if (json_is_integer(inst)) {
        json_int_t n = json_integer_value(inst);
        if ((v = json_object_get(schema, "minimum")) && n < json_integer_value(v)) {
            snprintf(msg, msg_len, "%s must be at least %lld", path, (long long)json_integer_value(v));
            return NC_ERR_MALFORMED;
        }
        if ((v = json_object_get(schema, "maximum")) && n > json_integer_value(v)) {
            snprintf(msg, msg_len, "%s must be at most %lld", path, (long long)json_integer_value(v));
            return NC_ERR_MALFORMED;
        }
        return NC_OK;
    }
    if (json_is_array(inst)) {
        size_t n = json_array_size(inst), i;
        const json_t *item, *items = json_object_get(schema, "items");
        char sub[PATH_MAX_BYTES];
        if ((v = json_object_get(schema, "minItems")) && n < (size_t)json_integer_value(v)) {
            snprintf(msg, msg_len, "%s needs at least %lld items", path, (long long)json_integer_value(v));
            return NC_ERR_MALFORMED;
        }
        if ((v = json_object_get(schema, "maxItems")) && n > (size_t)json_integer_value(v)) {
            snprintf(msg, msg_len, "%s has %zu items; at most %lld are allowed", path, n,
                     (long long)json_integer_value(v));
            return NC_ERR_MALFORMED;
        }
        if (items) {
            json_array_foreach(inst, i, item) {
                snprintf(sub, sizeof sub, "%s[%zu]", path, i);
                nc_err e = validate_at(items, item, sub, msg, msg_len);
                if (e != NC_OK)
                    return e;
            }
        }
        return NC_OK;
    }
    if (json_is_object(inst))
        return validate_object(schema, inst, path, msg, msg_len);
    return NC_OK;   /* boolean */
}

nc_err nc_mcp_schema_validate(const json_t *schema, const json_t *instance, const char *root_name, char *msg,
                              size_t msg_len)
{
    char root[PATH_MAX_BYTES];
    if (msg_len)
        msg[0] = '\0';
    snprintf(root, sizeof root, "%s", root_name ? root_name : "value");
    return validate_at(schema, instance, root, msg, msg_len);
}
