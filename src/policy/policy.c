#include "policy/policy.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/hash.h"
#include "common/json.h"
#include "common/limits.h"

void nc_caps_cleanup(nc_caps *c)
{
    for (size_t i = 0; i < c->nenv; i++) {
        free(c->env[i].key);
        free(c->env[i].value);
    }
    for (size_t i = 0; i < c->ndirs; i++) {
        free(c->dirs[i].host);
        free(c->dirs[i].guest);
    }
    free(c->env);
    free(c->dirs);
    memset(c, 0, sizeof *c);
}

void nc_policy_cleanup(nc_policy *p)
{
    nc_caps_cleanup(&p->caps);
    memset(p, 0, sizeof *p);
}

nc_err nc_caps_copy(const nc_caps *src, nc_caps *dst)
{
    memset(dst, 0, sizeof *dst);
    dst->args = src->args;
    dst->stdin = src->stdin;
    if (src->nenv) {
        dst->env = calloc(src->nenv, sizeof *dst->env);
        if (!dst->env)
            goto nomem;
        for (; dst->nenv < src->nenv; dst->nenv++) {
            nc_cap_env *e = &dst->env[dst->nenv];
            e->key = strdup(src->env[dst->nenv].key);
            e->value = src->env[dst->nenv].value ? strdup(src->env[dst->nenv].value) : NULL;
            if (!e->key || (src->env[dst->nenv].value && !e->value)) {
                dst->nenv++;
                goto nomem;
            }
        }
    }
    if (src->ndirs) {
        dst->dirs = calloc(src->ndirs, sizeof *dst->dirs);
        if (!dst->dirs)
            goto nomem;
        for (; dst->ndirs < src->ndirs; dst->ndirs++) {
            nc_cap_dir *d = &dst->dirs[dst->ndirs];
            d->host = strdup(src->dirs[dst->ndirs].host);
            d->guest = strdup(src->dirs[dst->ndirs].guest);
            d->readonly = src->dirs[dst->ndirs].readonly;
            d->dev = src->dirs[dst->ndirs].dev;
            d->ino = src->dirs[dst->ndirs].ino;
            d->quota_bytes = src->dirs[dst->ndirs].quota_bytes;
            d->quota_files = src->dirs[dst->ndirs].quota_files;
            if (!d->host || !d->guest) {
                dst->ndirs++;
                goto nomem;
            }
        }
    }
    return NC_OK;
nomem:
    nc_caps_cleanup(dst);
    return NC_ERR_NOMEM;
}

static bool env_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > NC_CAP_MAX_ENV_KEY || (k[0] >= '0' && k[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

/* Absolute, no empty, "." or ".." components, no trailing slash (except "/"). */
static bool abs_path_ok(const char *p, size_t max)
{
    size_t n = strlen(p);
    if (n == 0 || n > max || p[0] != '/')
        return false;
    if (n == 1)
        return true;
    if (p[n - 1] == '/')
        return false;
    const char *c = p + 1;
    while (*c) {
        const char *end = strchr(c, '/');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        c += len;
        if (*c == '/')
            c++;
    }
    return true;
}

static int cmp_env(const void *a, const void *b)
{
    return strcmp(((const nc_cap_env *)a)->key, ((const nc_cap_env *)b)->key);
}

/* An optional positive integer field: absent is 0; an explicit 0 is refused
 * (one encoding per value, for the canonical statements). */
static bool opt_positive(const json_t *d, const char *key, uint64_t *out)
{
    const json_t *v = json_object_get(d, key);
    *out = 0;
    if (!v)
        return true;
    return nc_json_uint(v, (uint64_t)INT64_MAX, out) == NC_OK && *out > 0;
}

static nc_err caps_parse(const json_t *obj, bool ceiling, nc_caps *out, char *msg, size_t msg_len);

nc_err nc_caps_from_json(const json_t *obj, nc_caps *out, char *msg, size_t msg_len)
{
    return caps_parse(obj, false, out, msg, msg_len);
}

nc_err nc_caps_ceiling_from_json(const json_t *obj, nc_caps *out, char *msg, size_t msg_len)
{
    return caps_parse(obj, true, out, msg, msg_len);
}

static nc_err caps_parse(const json_t *obj, bool ceiling, nc_caps *out, char *msg, size_t msg_len)
{
    static const char *const keys[] = {"args", "stdin", "env", "dirs", NULL};
    nc_err err = NC_ERR_MALFORMED;
    memset(out, 0, sizeof *out);
    if (!json_is_object(obj)) {
        snprintf(msg, msg_len, "capabilities must be an object");
        return NC_ERR_MALFORMED;
    }
    if (nc_json_only_keys(obj, keys, msg, msg_len) != NC_OK)
        return NC_ERR_MALFORMED;
    const json_t *v;
    if ((v = json_object_get(obj, "args"))) {
        if (!json_is_boolean(v)) {
            snprintf(msg, msg_len, "capabilities.args must be true or false");
            goto done;
        }
        out->args = json_is_true(v);
    }
    if ((v = json_object_get(obj, "stdin"))) {
        if (!json_is_boolean(v)) {
            snprintf(msg, msg_len, "capabilities.stdin must be true or false");
            goto done;
        }
        out->stdin = json_is_true(v);
    }
    if ((v = json_object_get(obj, "env"))) {
        if (!json_is_object(v) || json_object_size(v) > NC_MAX_ENV) {
            snprintf(msg, msg_len, "capabilities.env must be an object of at most %u strings", NC_MAX_ENV);
            goto done;
        }
        size_t n = json_object_size(v);
        if (n) {
            out->env = calloc(n, sizeof *out->env);
            if (!out->env) {
                err = NC_ERR_NOMEM;
                goto done;
            }
        }
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)v, k, val) {
            bool any = ceiling && json_is_null(val);
            if (!env_key_ok(k) ||
                (!any && (!json_is_string(val) || json_string_length(val) > NC_CAP_MAX_ENV_VALUE ||
                          memchr(json_string_value(val), 0, json_string_length(val))))) {
                snprintf(msg, msg_len, "capabilities.env: \"%.64s\" must be a NAME with a string value of at most %u bytes%s",
                         k, NC_CAP_MAX_ENV_VALUE, ceiling ? " (or null: the approver chooses the value)" : "");
                goto done;
            }
            nc_cap_env *e = &out->env[out->nenv++];
            e->key = strdup(k);
            e->value = any ? NULL : strdup(json_string_value(val));
            if (!e->key || (!any && !e->value)) {
                err = NC_ERR_NOMEM;
                goto done;
            }
        }
        if (out->nenv > 1)
            qsort(out->env, out->nenv, sizeof *out->env, cmp_env);
    }
    if ((v = json_object_get(obj, "dirs"))) {
        if (!json_is_array(v) || json_array_size(v) > NC_MAX_DIRS) {
            snprintf(msg, msg_len, "capabilities.dirs must be an array of at most %u entries", NC_MAX_DIRS);
            goto done;
        }
        size_t n = json_array_size(v);
        if (n) {
            out->dirs = calloc(n, sizeof *out->dirs);
            if (!out->dirs) {
                err = NC_ERR_NOMEM;
                goto done;
            }
        }
        static const char *const dkeys[] = {"host", "guest", "mode", "quota_bytes", "quota_files", "dev", "ino", NULL};
        for (size_t i = 0; i < n; i++) {
            const json_t *d = json_array_get(v, i);
            const json_t *h = json_object_get(d, "host"), *g = json_object_get(d, "guest"),
                         *m = json_object_get(d, "mode");
            if (!json_is_object(d) || nc_json_only_keys(d, dkeys, msg, msg_len) != NC_OK) {
                if (!msg[0])
                    snprintf(msg, msg_len, "capabilities.dirs[%zu] must be an object", i);
                goto done;
            }
            if (!json_is_string(h) || !abs_path_ok(json_string_value(h), 4095) || !json_is_string(g) ||
                !abs_path_ok(json_string_value(g), NC_MAX_GUEST_PATH)) {
                snprintf(msg, msg_len, "capabilities.dirs[%zu]: host and guest must be absolute paths without . or .. parts", i);
                goto done;
            }
            const char *mode = json_is_string(m) ? json_string_value(m) : "";
            if (strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0) {
                snprintf(msg, msg_len, "capabilities.dirs[%zu].mode must be \"ro\" or \"rw\"", i);
                goto done;
            }
            for (size_t j = 0; j < out->ndirs; j++)
                if (strcmp(out->dirs[j].guest, json_string_value(g)) == 0) {
                    snprintf(msg, msg_len, "capabilities.dirs: guest path %.200s appears twice", json_string_value(g));
                    goto done;
                }
            uint64_t qb, qf, dev, ino;
            if (!opt_positive(d, "quota_bytes", &qb) || !opt_positive(d, "quota_files", &qf)) {
                snprintf(msg, msg_len, "capabilities.dirs[%zu]: quota_bytes and quota_files must be positive integers", i);
                goto done;
            }
            if ((qb || qf) && strcmp(mode, "ro") == 0) {
                snprintf(msg, msg_len, "capabilities.dirs[%zu]: a quota applies to read-write directories only", i);
                goto done;
            }
            bool has_dev = json_object_get(d, "dev") != NULL, has_ino = json_object_get(d, "ino") != NULL;
            if (has_dev != has_ino || (ceiling && has_dev) ||
                (has_dev && (nc_json_uint(json_object_get(d, "dev"), (uint64_t)INT64_MAX, &dev) != NC_OK ||
                             !opt_positive(d, "ino", &ino)))) {
                snprintf(msg, msg_len, "capabilities.dirs[%zu]: dev and ino go together, as non-negative and positive "
                         "integers%s", i, ceiling ? " (and not in a policy)" : "");
                goto done;
            }
            if (!has_dev)
                dev = ino = 0;
            nc_cap_dir *cd = &out->dirs[out->ndirs++];
            cd->host = strdup(json_string_value(h));
            cd->guest = strdup(json_string_value(g));
            cd->readonly = strcmp(mode, "ro") == 0;
            cd->quota_bytes = qb;
            cd->quota_files = qf;
            cd->dev = dev;
            cd->ino = ino;
            if (!cd->host || !cd->guest) {
                err = NC_ERR_NOMEM;
                goto done;
            }
        }
    }
    err = NC_OK;
done:
    if (err != NC_OK)
        nc_caps_cleanup(out);
    return err;
}

json_t *nc_caps_to_json(const nc_caps *c)
{
    json_t *o = json_object(), *env = json_object(), *dirs = json_array();
    if (!o || !env || !dirs)
        goto fail;
    for (size_t i = 0; i < c->nenv; i++)
        if (json_object_set_new(env, c->env[i].key, c->env[i].value ? json_string(c->env[i].value) : json_null()) != 0)
            goto fail;
    for (size_t i = 0; i < c->ndirs; i++) {
        const nc_cap_dir *cd = &c->dirs[i];
        json_t *d = json_pack("{s:s, s:s, s:s}", "host", cd->host, "guest", cd->guest, "mode", cd->readonly ? "ro" : "rw");
        if (!d || json_array_append_new(dirs, d) != 0)
            goto fail;
        /* optional numbers only when set: one encoding each */
        if ((cd->quota_bytes && json_object_set_new(d, "quota_bytes", json_integer((json_int_t)cd->quota_bytes))) ||
            (cd->quota_files && json_object_set_new(d, "quota_files", json_integer((json_int_t)cd->quota_files))) ||
            (cd->ino && (json_object_set_new(d, "dev", json_integer((json_int_t)cd->dev)) ||
                         json_object_set_new(d, "ino", json_integer((json_int_t)cd->ino)))))
            goto fail;
    }
    if (json_object_set_new(o, "args", json_boolean(c->args)) || json_object_set_new(o, "stdin", json_boolean(c->stdin)) ||
        json_object_set_new(o, "env", env) || json_object_set_new(o, "dirs", dirs)) {
        env = dirs = NULL;
        goto fail;
    }
    return o;
fail:
    json_decref(o);
    json_decref(env);
    json_decref(dirs);
    return NULL;
}

static const nc_policy builtin[] = {
    {.name = "default", .version = 1, .isolation = "process",
     .description = "the built-in default: args and stdin, no directories or environment",
     .limits = {.timeout_ms = 5000, .memory_bytes = 64ull << 20, .fuel = 0,
                .stdout_bytes = 1u << 20, .stderr_bytes = 1u << 20},
     .caps = {.args = true, .stdin = true}},
    {.name = "strict", .version = 1, .isolation = "process",
     .description = "the built-in strict policy: nothing but the module, short limits, fuel metered",
     .limits = {.timeout_ms = 1000, .memory_bytes = 16ull << 20, .fuel = 1000000000ull,
                .stdout_bytes = 64u << 10, .stderr_bytes = 64u << 10},
     .caps = {.args = false, .stdin = false}},
};

size_t nc_policy_builtin_count(void)
{
    return sizeof builtin / sizeof builtin[0];
}

const nc_policy *nc_policy_builtin_at(size_t i)
{
    return i < nc_policy_builtin_count() ? &builtin[i] : NULL;
}

const char *nc_key_requirement_name(nc_key_requirement r)
{
    return r == NC_KEYREQ_SECURITY_KEY ? "security-key" : r == NC_KEYREQ_SECURITY_KEY_PIN ? "security-key-pin" : "any";
}

const nc_policy *nc_policy_builtin(const char *name)
{
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (strcmp(builtin[i].name, name) == 0)
            return &builtin[i];
    return NULL;
}

nc_err nc_limits_from_json(const json_t *obj, nc_policy_limits *out, char *msg, size_t msg_len)
{
    static const char *const keys[] = {"timeout_ms", "memory_bytes", "fuel", "stdout_bytes", "stderr_bytes", NULL};
    static const struct {
        const char *key;
        size_t off;
        uint64_t min, max;
    } f[] = {
        {"timeout_ms", offsetof(nc_policy_limits, timeout_ms), 1, NC_MAX_TIMEOUT_MS},
        {"memory_bytes", offsetof(nc_policy_limits, memory_bytes), 65536, NC_MAX_MEMORY_BYTES},
        {"fuel", offsetof(nc_policy_limits, fuel), 1, UINT64_MAX >> 1},
        {"stdout_bytes", offsetof(nc_policy_limits, stdout_bytes), 0, NC_MAX_OUTPUT_BYTES},
        {"stderr_bytes", offsetof(nc_policy_limits, stderr_bytes), 0, NC_MAX_OUTPUT_BYTES},
    };
    *out = nc_policy_builtin("default")->limits;
    if (!json_is_object(obj)) {
        snprintf(msg, msg_len, "limits must be an object");
        return NC_ERR_MALFORMED;
    }
    if (nc_json_only_keys(obj, keys, msg, msg_len) != NC_OK)
        return NC_ERR_MALFORMED;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        const json_t *v = json_object_get(obj, f[i].key);
        uint64_t *dst = (uint64_t *)((char *)out + f[i].off);
        if (!v)
            continue;
        if (json_is_null(v) && strcmp(f[i].key, "fuel") == 0) {
            *dst = 0;
            continue;
        }
        uint64_t x;
        if (nc_json_uint(v, f[i].max, &x) != NC_OK || x < f[i].min) {
            snprintf(msg, msg_len, "limits.%s must be an integer from %llu to %llu%s", f[i].key,
                     (unsigned long long)f[i].min, (unsigned long long)f[i].max,
                     strcmp(f[i].key, "fuel") == 0 ? " (or null for no fuel metering)" : "");
            return NC_ERR_MALFORMED;
        }
        *dst = x;
    }
    return NC_OK;
}

json_t *nc_limits_to_json(const nc_policy_limits *l)
{
    return json_pack("{s:I, s:I, s:o, s:I, s:I}", "timeout_ms", (json_int_t)l->timeout_ms,
                     "memory_bytes", (json_int_t)l->memory_bytes, "fuel",
                     l->fuel ? json_integer((json_int_t)l->fuel) : json_null(), "stdout_bytes",
                     (json_int_t)l->stdout_bytes, "stderr_bytes", (json_int_t)l->stderr_bytes);
}

bool nc_policy_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NC_POLICY_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

nc_err nc_policy_from_json(const json_t *root, nc_policy *out, char *msg, size_t msg_len)
{
    static const char *const keys[] = {"name", "description", "isolation", "require_key", "limits", "capabilities",
                                       NULL};
    nc_err err = NC_ERR_MALFORMED;
    memset(out, 0, sizeof *out);
    if (!json_is_object(root)) {
        snprintf(msg, msg_len, "a policy is a JSON object");
        goto done;
    }
    if (nc_json_only_keys(root, keys, msg, msg_len) != NC_OK)
        goto done;
    const json_t *name = json_object_get(root, "name");
    if (!json_is_string(name) || !nc_policy_name_ok(json_string_value(name))) {
        snprintf(msg, msg_len, "name must be 1-%d characters of a-z 0-9 . - _", NC_POLICY_MAX_NAME);
        goto done;
    }
    snprintf(out->name, sizeof out->name, "%s", json_string_value(name));
    const json_t *v = json_object_get(root, "description");
    if (v && (!json_is_string(v) || json_string_length(v) > NC_POLICY_MAX_DESCRIPTION ||
              strlen(json_string_value(v)) != json_string_length(v))) {
        snprintf(msg, msg_len, "description must be text of at most %d bytes", NC_POLICY_MAX_DESCRIPTION);
        goto done;
    }
    snprintf(out->description, sizeof out->description, "%s", v ? json_string_value(v) : "");
    v = json_object_get(root, "isolation");
    const char *iso = v ? json_string_value(v) : "process";
    if (!iso || (strcmp(iso, "process") != 0 && strcmp(iso, "vm") != 0)) {
        snprintf(msg, msg_len, "isolation must be \"process\" or \"vm\"");
        goto done;
    }
    snprintf(out->isolation, sizeof out->isolation, "%s", iso);
    v = json_object_get(root, "require_key");
    const char *rk = v ? json_string_value(v) : "any";
    if (!rk || (strcmp(rk, "any") && strcmp(rk, "security-key") && strcmp(rk, "security-key-pin"))) {
        snprintf(msg, msg_len, "require_key must be \"any\", \"security-key\" or \"security-key-pin\"");
        goto done;
    }
    out->require_key = strcmp(rk, "security-key") == 0       ? NC_KEYREQ_SECURITY_KEY
                       : strcmp(rk, "security-key-pin") == 0 ? NC_KEYREQ_SECURITY_KEY_PIN
                                                             : NC_KEYREQ_ANY;
    const json_t *lim = json_object_get(root, "limits");
    if (lim) {
        err = nc_limits_from_json(lim, &out->limits, msg, msg_len);
        if (err != NC_OK)
            goto done;
    } else {
        out->limits = nc_policy_builtin("default")->limits;
    }
    const json_t *caps = json_object_get(root, "capabilities");
    if (caps) {
        err = nc_caps_ceiling_from_json(caps, &out->caps, msg, msg_len);
        if (err != NC_OK)
            goto done;
    }
    err = NC_OK;
done:
    if (err != NC_OK)
        nc_policy_cleanup(out);
    return err;
}

nc_err nc_policy_parse(const void *data, size_t len, nc_policy *out, char *msg, size_t msg_len)
{
    json_t *root = NULL;
    memset(out, 0, sizeof *out);
    msg[0] = '\0';
    if (len > NC_POLICY_MAX_FILE_BYTES) {
        snprintf(msg, msg_len, "policy file larger than %u bytes", NC_POLICY_MAX_FILE_BYTES);
        return NC_ERR_TOO_LARGE;
    }
    nc_err err = nc_json_parse_strict(data, len, &root, msg, msg_len);
    if (err != NC_OK)
        return NC_ERR_MALFORMED;
    err = nc_policy_from_json(root, out, msg, msg_len);
    json_decref(root);
    return err;
}

json_t *nc_policy_to_json(const nc_policy *p)
{
    json_t *caps = nc_caps_to_json(&p->caps), *lim = nc_limits_to_json(&p->limits);
    if (!caps || !lim) {
        json_decref(caps);
        json_decref(lim);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "name", p->name, "description", p->description, "isolation",
                     p->isolation[0] ? p->isolation : "process", "require_key",
                     nc_key_requirement_name(p->require_key), "limits", lim, "capabilities", caps);
}

nc_err nc_policy_copy(const nc_policy *src, nc_policy *dst)
{
    *dst = *src;
    memset(&dst->caps, 0, sizeof dst->caps);
    return nc_caps_copy(&src->caps, &dst->caps);
}

nc_err nc_caps_digest(const nc_caps *c, const nc_policy_limits *l, uint8_t out[32])
{
    json_t *caps = nc_caps_to_json(c), *lim = nc_limits_to_json(l);
    if (!caps || !lim) {
        json_decref(caps);
        json_decref(lim);
        return NC_ERR_NOMEM;
    }
    json_t *both = json_pack("{s:o, s:o}", "capabilities", caps, "limits", lim);
    size_t n;
    char *s = both ? nc_json_canonical(both, &n) : NULL;
    json_decref(both);
    if (!s)
        return NC_ERR_NOMEM;
    nc_err err = nc_sha256(s, n, out);
    free(s);
    return err;
}

nc_err nc_caps_within(const nc_caps *want, const nc_caps *ceiling, char *msg, size_t msg_len)
{
    if (want->args && !ceiling->args) {
        snprintf(msg, msg_len, "arguments are not granted");
        return NC_ERR_CAPABILITY_DENIED;
    }
    if (want->stdin && !ceiling->stdin) {
        snprintf(msg, msg_len, "stdin is not granted");
        return NC_ERR_CAPABILITY_DENIED;
    }
    for (size_t i = 0; i < want->nenv; i++) {
        bool ok = false;
        for (size_t j = 0; j < ceiling->nenv && !ok; j++)
            ok = strcmp(want->env[i].key, ceiling->env[j].key) == 0 &&
                 strcmp(want->env[i].value, ceiling->env[j].value) == 0;
        if (!ok) {
            snprintf(msg, msg_len, "environment variable %.128s is not granted with that value", want->env[i].key);
            return NC_ERR_CAPABILITY_DENIED;
        }
    }
    for (size_t i = 0; i < want->ndirs; i++) {
        bool ok = false;
        for (size_t j = 0; j < ceiling->ndirs && !ok; j++)
            ok = strcmp(want->dirs[i].host, ceiling->dirs[j].host) == 0 &&
                 strcmp(want->dirs[i].guest, ceiling->dirs[j].guest) == 0 &&
                 (want->dirs[i].readonly || !ceiling->dirs[j].readonly);
        if (!ok) {
            snprintf(msg, msg_len, "directory %.200s (%s) is not granted", want->dirs[i].host,
                     want->dirs[i].readonly ? "ro" : "rw");
            return NC_ERR_CAPABILITY_DENIED;
        }
    }
    return NC_OK;
}

nc_err nc_limits_within(const nc_policy_limits *want, const nc_policy_limits *ceiling, char *msg,
                        size_t msg_len)
{
    const char *what = NULL;
    if (want->timeout_ms > ceiling->timeout_ms)
        what = "timeout_ms";
    else if (want->memory_bytes > ceiling->memory_bytes)
        what = "memory_bytes";
    else if (ceiling->fuel && (!want->fuel || want->fuel > ceiling->fuel))
        what = "fuel";
    else if (want->stdout_bytes > ceiling->stdout_bytes)
        what = "stdout_bytes";
    else if (want->stderr_bytes > ceiling->stderr_bytes)
        what = "stderr_bytes";
    if (what) {
        snprintf(msg, msg_len, "limit %s is above the policy's ceiling", what);
        return NC_ERR_CAPABILITY_DENIED;
    }
    return NC_OK;
}

bool nc_path_within(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (strcmp(dir, "/") == 0)
        return path[0] == '/';
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static nc_err caps_within_ceiling(const nc_caps *grant, const nc_caps *ceiling, bool grant_is_ceiling, char *msg,
                                  size_t msg_len);

nc_err nc_caps_grant_within(const nc_caps *grant, const nc_caps *ceiling, char *msg, size_t msg_len)
{
    return caps_within_ceiling(grant, ceiling, false, msg, msg_len);
}

/* grant_is_ceiling: comparing two policies, where an env value may be null
 * ("the approver chooses") on both sides. */
static nc_err caps_within_ceiling(const nc_caps *grant, const nc_caps *ceiling, bool grant_is_ceiling, char *msg,
                                  size_t msg_len)
{
    if (grant->args && !ceiling->args) {
        snprintf(msg, msg_len, "arguments are not allowed by the policy");
        return NC_ERR_CAPABILITY_DENIED;
    }
    if (grant->stdin && !ceiling->stdin) {
        snprintf(msg, msg_len, "stdin is not allowed by the policy");
        return NC_ERR_CAPABILITY_DENIED;
    }
    for (size_t i = 0; i < grant->nenv; i++) {
        bool ok = false;
        for (size_t j = 0; j < ceiling->nenv && !ok; j++)
            ok = strcmp(grant->env[i].key, ceiling->env[j].key) == 0 &&
                 (!ceiling->env[j].value || (grant->env[i].value && strcmp(grant->env[i].value, ceiling->env[j].value) == 0));
        if (!ok || (!grant_is_ceiling && !grant->env[i].value)) {
            snprintf(msg, msg_len, "environment variable %.128s is not allowed by the policy with that value",
                     grant->env[i].key);
            return NC_ERR_CAPABILITY_DENIED;
        }
    }
    for (size_t i = 0; i < grant->ndirs; i++) {
        const nc_cap_dir *g = &grant->dirs[i];
        const char *why = "it is not at or beneath a directory of the policy";
        bool ok = false;
        for (size_t j = 0; j < ceiling->ndirs && !ok; j++) {
            const nc_cap_dir *c = &ceiling->dirs[j];
            if (!nc_path_within(g->host, c->host))
                continue;
            if (!g->readonly && c->readonly) {
                why = "the policy allows it read-only";
                continue;
            }
            if (!g->readonly && ((c->quota_bytes && (!g->quota_bytes || g->quota_bytes > c->quota_bytes)) ||
                                 (c->quota_files && (!g->quota_files || g->quota_files > c->quota_files)))) {
                why = "its write quota is above the policy's";
                continue;
            }
            ok = true;
        }
        if (!ok) {
            snprintf(msg, msg_len, "directory %.200s (%s) is not allowed: %s", g->host, g->readonly ? "ro" : "rw", why);
            return NC_ERR_CAPABILITY_DENIED;
        }
    }
    return NC_OK;
}

const char *nc_policy_widens(const nc_policy *before, const nc_policy *after)
{
    static _Thread_local char why[300];
    char inner[256];
    if (!before)
        return "a new policy";
    if (caps_within_ceiling(&after->caps, &before->caps, true, inner, sizeof inner) != NC_OK) {
        snprintf(why, sizeof why, "capabilities: %s", inner);
        return why;
    }
    /* an env key the approver may now choose a value for */
    for (size_t i = 0; i < after->caps.nenv; i++)
        if (!after->caps.env[i].value)
            for (size_t j = 0; j < before->caps.nenv; j++)
                if (strcmp(before->caps.env[j].key, after->caps.env[i].key) == 0 && before->caps.env[j].value)
                    return "an environment value the approver may now choose";
    if (nc_limits_within(&after->limits, &before->limits, inner, sizeof inner) != NC_OK) {
        snprintf(why, sizeof why, "limits: %s", inner);
        return why;
    }
    if (after->require_key < before->require_key)
        return "a weaker key requirement";
    if (strcmp(after->isolation, "process") == 0 && strcmp(before->isolation, "vm") == 0)
        return "a weaker isolation tier";
    return NULL;
}
