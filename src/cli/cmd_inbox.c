/* nightcore submit, inbox, inbox show, reject. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "common/json.h"
#include "common/limits.h"
#include "policy/policy.h"
#include "trust/statement.h"

#define MANIFEST_MAX_BYTES (64u * 1024)
#define DESCRIPTION_MAX_BYTES 4096u
#define ID_MAX_BYTES 128u

/* Worker-side ids are short tokens; refuse anything else before sending it. */
bool cli_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ID_MAX_BYTES)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Reads and checks a manifest: {"description": "...", "capabilities": {...}}. */
static int load_manifest(const char *path, json_t **description, json_t **requested)
{
    static const char *const keys[] = {"description", "capabilities", NULL};
    uint8_t *data = NULL;
    size_t len = 0;
    json_t *root = NULL;
    char msg[256] = "";
    nc_caps caps;
    memset(&caps, 0, sizeof caps);
    *description = *requested = NULL;
    int rc = cli_read_file(path, MANIFEST_MAX_BYTES, "a manifest", &data, &len);
    if (rc != CLI_OK)
        return rc;
    rc = CLI_FAIL;
    if (nc_json_parse_strict(data, len, &root, msg, sizeof msg) != NC_OK)
        goto bad;
    if (!json_is_object(root)) {
        snprintf(msg, sizeof msg, "expected a JSON object");
        goto bad;
    }
    if (nc_json_only_keys(root, keys, msg, sizeof msg) != NC_OK)
        goto bad;
    const json_t *d = json_object_get(root, "description"), *c = json_object_get(root, "capabilities");
    if (d && (!json_is_string(d) || json_string_length(d) > DESCRIPTION_MAX_BYTES)) {
        snprintf(msg, sizeof msg, "description must be a string of at most %u bytes", DESCRIPTION_MAX_BYTES);
        goto bad;
    }
    if (c) {
        char inner[200] = "";
        if (nc_caps_from_json(c, &caps, inner, sizeof inner) != NC_OK) {
            snprintf(msg, sizeof msg, "capabilities: %s", inner);
            goto bad;
        }
        *requested = json_incref((json_t *)c);
    }
    if (d)
        *description = json_incref((json_t *)d);
    rc = CLI_OK;
    goto done;
bad: {
    char *p = cli_safe(path), *m = cli_safe(msg);
    cli_error("%s: %s", p, m);
    free(p);
    free(m);
}
done:
    nc_caps_cleanup(&caps);
    json_decref(root);
    free(data);
    return rc;
}

int cmd_submit(cli_ctx *ctx, const cli_args *a)
{
    const char *file = a->pos[0], *name = cli_val(a, SUBMIT_NAME), *manifest = cli_val(a, SUBMIT_MANIFEST);
    uint8_t *wasm = NULL;
    size_t len = 0;
    char *b64 = NULL;
    json_t *description = NULL, *requested = NULL, *params = NULL, *res = NULL;
    int rc;

    if (!name)
        return cli_usage_error(a->cmd, "--name NAME is required");
    if (!nc_module_name_ok(name))
        return cli_usage_error(a->cmd, "--name must be 1-64 of A-Z a-z 0-9 . _ - (not starting with . or -)");
    rc = cli_read_file(file, NC_MAX_MODULE_BYTES, "a module", &wasm, &len);
    if (rc != CLI_OK)
        return rc;
    if (len < 8 || memcmp(wasm, "\0asm", 4) != 0) {
        char *f = cli_safe(file);
        cli_error("%s is not a WebAssembly module (no \\0asm header)", f);
        free(f);
        rc = CLI_FAIL;
        goto done;
    }
    if (manifest) {
        rc = load_manifest(manifest, &description, &requested);
        if (rc != CLI_OK)
            goto done;
    }
    size_t b64_len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    b64 = cli_xmalloc(b64_len);
    sodium_bin2base64(b64, b64_len, wasm, len, sodium_base64_VARIANT_ORIGINAL);
    params = json_pack("{s:s, s:s}", "name", name, "wasm_b64", b64);
    if (!params || (description && json_object_set(params, "description", description) != 0) ||
        (requested && json_object_set(params, "requested", requested) != 0))
        cli_oom();
    free(b64);
    b64 = NULL;
    rc = cli_request(ctx, "submit", params, &res);
    params = NULL;
    if (rc != CLI_OK)
        goto done;
    if (ctx->json) {
        cli_print_json(res);
    } else {
        char *id = cli_safe(cli_jstr(res, "id")), *drift = cli_safe(cli_jstr(json_object_get(res, "drift"), "state"));
        printf("%s\n", id);
        const json_t *threat = json_object_get(res, "threat");
        char *nm = cli_safe(name);
        cli_note("submitted %s as %s (drift %s, threat %lld); review it with `nightcore inbox show %s`", nm, id,
                 drift[0] ? drift : "-", (long long)cli_jint(threat, "score", 0), id);
        free(nm);
        free(id);
        free(drift);
    }
done:
    free(wasm);
    free(b64);
    json_decref(params);
    json_decref(description);
    json_decref(requested);
    json_decref(res);
    return rc;
}

int cmd_inbox(cli_ctx *ctx, const cli_args *a)
{
    const bool all = cli_has(a, INBOX_ALL);
    json_t *res = NULL, *params = json_pack("{s:s, s:i}", "status", all ? "all" : "pending", "limit", 1000);
    if (!params)
        cli_oom();
    int rc = cli_list_request(ctx, "inbox.list", params,
                              all ? "No submissions.\n"
                                  : "No pending submissions. (`nightcore inbox --all` lists every one.)\n",
                              &res);
    if (rc != CLI_OK || !res)
        return rc;
    const json_t *items = json_object_get(res, "items");
    size_t n = json_array_size(items);
    static const char *const hdr_all[] = {"ID", "NAME", "SOURCE", "SIZE", "DRIFT", "SCORE", "AGE", "STATUS"};
    cli_table t;
    cli_table_init(&t, all ? 8 : 7, hdr_all, (1u << 3) | (1u << 5));
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(items, i);
        char size[32], score[16], age[32];
        cli_fmt_size((uint64_t)(cli_jint(s, "size", 0) > 0 ? cli_jint(s, "size", 0) : 0), size, sizeof size);
        const json_t *threat = json_object_get(s, "threat");
        if (json_is_integer(json_object_get(threat, "score")))
            snprintf(score, sizeof score, "%lld", (long long)cli_jint(threat, "score", 0));
        else
            snprintf(score, sizeof score, "-");
        cli_fmt_age(cli_jint(s, "created_at", 0), age, sizeof age);
        cli_table_add(&t, cli_jstr(s, "id"), cli_jstr(s, "name"), cli_jstr(s, "source"), size,
                      cli_jstr(json_object_get(s, "drift"), "state"), score, age, cli_jstr(s, "status"));
    }
    cli_table_print(&t, stdout);
    cli_table_cleanup(&t);
    int64_t total = cli_jint(res, "total", (int64_t)n);
    if (total > (int64_t)n)
        printf("(%zu of %lld shown)\n", n, (long long)total);
    json_decref(res);
    return CLI_OK;
}

/* Which capability a WASI preview 1 import needs (or what it is). */
static const char *wasi_capability(const char *module, const char *name)
{
    static const struct {
        const char *prefix;
        const char *cap;
    } map[] = {
        {"args_", "args"},
        {"environ_", "env"},
        {"fd_prestat", "directories"},
        {"fd_readdir", "directories"},
        {"path_", "directories"},
        {"fd_", "file descriptors (stdio, granted directories)"},
        {"clock_", "clocks"},
        {"random_get", "random"},
        {"poll_oneoff", "sleep/poll"},
        {"proc_", "process exit"},
        {"sched_yield", "process exit"},
        {"sock_", "sockets (never granted)"},
    };
    if (!module || (strcmp(module, "wasi_snapshot_preview1") != 0 && strcmp(module, "wasi_unstable") != 0))
        return "not WASI (Night Core provides nothing else)";
    for (size_t i = 0; name && i < sizeof map / sizeof map[0]; i++)
        if (strncmp(name, map[i].prefix, strlen(map[i].prefix)) == 0)
            return map[i].cap;
    return "other WASI";
}

/* Sorting import indices by their printed name (qsort has no context). */
static char **sort_names;

static int by_name(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(sort_names[x], sort_names[y]);
    return c ? c : (x > y) - (x < y);
}

/* analysis.imports: strings "module.name" or objects {module, name, [capability]}. */
static void print_imports(const json_t *imports)
{
    size_t n = json_array_size(imports);
    printf("  imports (%zu)\n", n);
    if (n == 0)
        return;
    /* Group by capability, keeping first-seen order. */
    const char *caps[64];
    size_t ncaps = 0;
    char **names = cli_xmalloc(n * sizeof *names);
    const char **of = cli_xmalloc(n * sizeof *of);
    for (size_t i = 0; i < n; i++) {
        const json_t *im = json_array_get(imports, i);
        char buf[512];
        const char *module = NULL, *name = NULL, *cap = NULL;
        if (json_is_string(im)) {
            const char *s = json_string_value(im), *dot = strchr(s, '.');
            snprintf(buf, sizeof buf, "%s", s);
            if (dot && (size_t)(dot - s) < sizeof buf) {
                buf[dot - s] = '\0';
                module = buf;
                name = buf + (dot - s) + 1;
            }
            names[i] = cli_safe(s);
        } else {
            module = cli_jstr(im, "module");
            name = cli_jstr(im, "name");
            cap = cli_jstr(im, "capability");
            snprintf(buf, sizeof buf, "%s.%s", module ? module : "?", name ? name : "?");
            const char *kind = cli_jstr(im, "kind");
            if (kind && strcmp(kind, "func") != 0 && strcmp(kind, "function") != 0) {
                size_t l = strlen(buf);
                snprintf(buf + l, sizeof buf - l, " (%s)", kind);
            }
            names[i] = cli_safe(buf);
        }
        of[i] = cap ? cap : wasi_capability(module, name);
        size_t c = 0;
        while (c < ncaps && strcmp(caps[c], of[i]) != 0)
            c++;
        if (c == ncaps && ncaps < 64)
            caps[ncaps++] = of[i];
    }
    /* A module may import the same function twice (Go's runtime does): each
     * is listed once. */
    bool *dup = cli_xmalloc(n * sizeof *dup);
    size_t *order = cli_xmalloc(n * sizeof *order);
    for (size_t i = 0; i < n; i++) {
        dup[i] = false;
        order[i] = i;
    }
    sort_names = names;
    qsort(order, n, sizeof *order, by_name);
    size_t distinct = n;
    for (size_t k = 1; k < n; k++)
        if (strcmp(names[order[k]], names[order[k - 1]]) == 0) {
            dup[order[k]] = true;   /* the later one: ties are in original order */
            distinct--;
        }
    if (distinct < n)
        printf("    (%zu distinct; repeated imports listed once)\n", distinct);
    for (size_t c = 0; c < ncaps; c++) {
        char *cs = cli_safe(caps[c]);
        printf("    %s:", cs);
        free(cs);
        for (size_t i = 0; i < n; i++)
            if (!dup[i] && strcmp(of[i], caps[c]) == 0)
                printf(" %s", names[i]);
        printf("\n");
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(of);
    free(dup);
    free(order);
}

static void print_string_list(const char *label, const json_t *arr)
{
    printf("  %-9s", label);
    if (json_array_size(arr) == 0)
        printf(" none");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        char *s;
        if (json_is_string(e)) {
            s = cli_safe(json_string_value(e));
        } else if (cli_jstr(e, "name")) {
            char buf[300];
            snprintf(buf, sizeof buf, "%s%s%s%s", cli_jstr(e, "name"), cli_jstr(e, "kind") ? " (" : "",
                     cli_jstr(e, "kind") ? cli_jstr(e, "kind") : "", cli_jstr(e, "kind") ? ")" : "");
            s = cli_safe(buf);
        } else {
            s = cli_json_compact(e);
        }
        printf("%s %s", i ? "," : "", s);
        free(s);
    }
    printf("\n");
}

void cli_print_caps(const char *indent, const json_t *caps)
{
    if (!json_is_object(caps)) {
        printf("%snone\n", indent);
        return;
    }
    printf("%sargs %s, stdin %s\n", indent, cli_jbool(caps, "args") ? "yes" : "no",
           cli_jbool(caps, "stdin") ? "yes" : "no");
    const json_t *env = json_object_get(caps, "env");
    printf("%senv  ", indent);
    if (json_object_size(env) == 0)
        printf(" none");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)env, k, v) {
        char *ks = cli_safe(k), *vs = cli_safe(json_is_string(v) ? json_string_value(v) : "(chosen at approval)");
        printf(" %s=%s", ks, vs);
        free(ks);
        free(vs);
    }
    printf("\n");
    const json_t *dirs = json_object_get(caps, "dirs");
    if (json_array_size(dirs) == 0)
        printf("%sdirs  none\n", indent);
    for (size_t i = 0; i < json_array_size(dirs); i++) {
        const json_t *d = json_array_get(dirs, i);
        char *h = cli_safe(cli_jstr(d, "host")), *g = cli_safe(cli_jstr(d, "guest")),
             *m = cli_safe(cli_jstr(d, "mode"));
        printf("%sdir   %s -> %s (%s", indent, h, g, m);
        if (cli_jint(d, "quota_bytes", 0) || cli_jint(d, "quota_files", 0)) {
            char q[32];
            cli_fmt_size((uint64_t)cli_jint(d, "quota_bytes", 0), q, sizeof q);
            printf(", quota %s and %lld files", cli_jint(d, "quota_bytes", 0) ? q : "-",
                   (long long)cli_jint(d, "quota_files", 0));
        }
        printf(")\n");
        free(h);
        free(g);
        free(m);
    }
}

/* threat {score, factors[{factor, points, detail}]} */
void cli_print_threat(const json_t *threat)
{
    if (!json_is_object(threat))
        return;
    printf("threat     %lld/100\n", (long long)cli_jint(threat, "score", 0));
    const json_t *f = json_object_get(threat, "factors");
    for (size_t i = 0; i < json_array_size(f); i++) {
        const json_t *e = json_array_get(f, i);
        char *fs = cli_safe(cli_jstr(e, "factor")), *ds = cli_safe(cli_jstr(e, "detail"));
        printf("  %+4lld  %-24s %s\n", (long long)cli_jint(e, "points", 0), fs, ds);
        free(fs);
        free(ds);
    }
}

int cmd_inbox_show(cli_ctx *ctx, const cli_args *a)
{
    const char *id = a->pos[0];
    json_t *s = NULL;
    if (!cli_id_ok(id))
        return cli_usage_error(a->cmd, "ID must be a submission id such as s_3f9a0c1e5b7d2a46");
    int rc = cli_request(ctx, "submission.get", json_pack("{s:s}", "submission", id), &s);
    if (rc != CLI_OK)
        return rc;
    if (ctx->json) {
        cli_print_json(s);
        json_decref(s);
        return CLI_OK;
    }
    char *sid = cli_safe(cli_jstr(s, "id")), *name = cli_safe(cli_jstr(s, "name")),
         *status = cli_safe(cli_jstr(s, "status")), *sha = cli_safe(cli_jstr(s, "sha256")),
         *source = cli_safe(cli_jstr(s, "source"));
    char size[32], age[32], when[40];
    int64_t bytes = cli_jint(s, "size", 0);
    cli_fmt_size((uint64_t)(bytes > 0 ? bytes : 0), size, sizeof size);
    cli_fmt_age(cli_jint(s, "created_at", 0), age, sizeof age);
    cli_fmt_time(cli_jint(s, "created_at", 0), when, sizeof when);
    printf("submission %s  %s  [%s]\n", sid, name, status);
    printf("sha256     %s\n", sha);
    printf("size       %s (%lld bytes)\n", size, (long long)bytes);
    printf("source     %s\n", source);
    printf("created    %s (%s)\n", age, when);
    if (cli_jstr(s, "description") && cli_jstr(s, "description")[0]) {
        char *d = cli_safe(cli_jstr(s, "description"));
        printf("description %s\n", d);
        free(d);
    }
    if (cli_jstr(s, "reason") && cli_jstr(s, "reason")[0]) {
        char *r = cli_safe(cli_jstr(s, "reason"));
        printf("reason     %s\n", r);
        free(r);
    }
    const json_t *drift = json_object_get(s, "drift");
    if (json_is_object(drift)) {
        char *st = cli_safe(cli_jstr(drift, "state")), *prev = cli_safe(cli_jstr(drift, "previous_sha256"));
        printf("drift      %s", st);
        if (prev[0])
            printf(" (previous %s)", prev);
        printf("\n");
        const json_t *ch = json_object_get(drift, "changes");
        if (json_is_object(ch)) {
            if (json_object_get(ch, "size_delta"))
                printf("  size     %+lld bytes\n", (long long)cli_jint(ch, "size_delta", 0));
            const char *k;
            json_t *v;
            json_object_foreach((json_t *)ch, k, v) {
                if (strcmp(k, "size_delta") == 0 || (json_is_array(v) && json_array_size(v) == 0))
                    continue;
                char *ks = cli_safe(k);
                printf("  %-8s", ks);
                free(ks);
                if (json_is_array(v)) {
                    for (size_t i = 0; i < json_array_size(v); i++) {
                        const json_t *e = json_array_get(v, i);
                        char *es = json_is_string(e) ? cli_safe(json_string_value(e)) : cli_json_compact(e);
                        printf(" %s", es);
                        free(es);
                    }
                } else {
                    char *vs = cli_json_compact(v);
                    printf(" %s", vs);
                    free(vs);
                }
                printf("\n");
            }
        }
        free(st);
        free(prev);
    }
    cli_print_threat(json_object_get(s, "threat"));
    const json_t *an = json_object_get(s, "analysis");
    if (json_is_object(an)) {
        printf("analysis\n");
        print_imports(json_object_get(an, "imports"));
        print_string_list("exports", json_object_get(an, "exports"));
        const json_t *mems = json_object_get(an, "memories");
        for (size_t i = 0; i < json_array_size(mems); i++) {
            const json_t *m = json_array_get(mems, i);
            char minb[32], maxb[80] = "none";
            int64_t minp = cli_jint(m, "min_pages", 0), maxp = cli_jint(m, "max_pages", -1);
            cli_fmt_size((uint64_t)(minp > 0 ? minp : 0) * 65536u, minb, sizeof minb);
            if (maxp >= 0) {
                char sz[32];
                cli_fmt_size((uint64_t)maxp * 65536u, sz, sizeof sz);
                snprintf(maxb, sizeof maxb, "%lld pages (%s)", (long long)maxp, sz);
            }
            printf("  %-9s initial %lld pages (%s), maximum %s%s%s%s\n", "memory", (long long)minp, minb, maxb,
                   cli_jbool(m, "memory64") ? ", 64-bit" : "", cli_jbool(m, "shared") ? ", shared" : "",
                   cli_jbool(m, "imported") ? ", imported" : "");
        }
        const json_t *customs = json_object_get(an, "custom_sections");
        if (json_array_size(customs)) {
            printf("  %-9s", "custom");
            for (size_t i = 0; i < json_array_size(customs); i++) {
                const json_t *c = json_array_get(customs, i);
                char *cn = cli_safe(cli_jstr(c, "name")), sz[32];
                cli_fmt_size((uint64_t)(cli_jint(c, "size", 0) > 0 ? cli_jint(c, "size", 0) : 0), sz, sizeof sz);
                printf("%s %s (%s%s)", i ? "," : "", cn, sz, json_is_false(json_object_get(c, "known")) ? ", unusual" : "");
                free(cn);
            }
            printf("\n");
        }
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)an, k, v) {
            if (strcmp(k, "imports") == 0 || strcmp(k, "exports") == 0 || strcmp(k, "memories") == 0 ||
                strcmp(k, "custom_sections") == 0 || strcmp(k, "size") == 0)
                continue;
            char *ks = cli_safe(k), *vs;
            if (json_is_string(v)) {
                vs = cli_safe(json_string_value(v));
            } else if (json_is_array(v) && (json_array_size(v) == 0 || json_is_string(json_array_get(v, 0)))) {
                char buf[1024] = "";
                for (size_t i = 0; i < json_array_size(v); i++) {
                    size_t l = strlen(buf);
                    const char *e = json_string_value(json_array_get(v, i));
                    snprintf(buf + l, sizeof buf - l, "%s%s", i ? ", " : "", e ? e : "?");
                }
                vs = cli_safe(buf[0] ? buf : "none");
            } else if (json_is_boolean(v)) {
                vs = cli_xstrdup(json_is_true(v) ? "yes" : "no");
            } else {
                vs = cli_json_compact(v);
            }
            if (strlen(vs) > 300)
                memcpy(vs + 296, "...", 4);
            printf("  %-9s %s\n", ks, vs);
            free(ks);
            free(vs);
        }
    }
    printf("requested capabilities\n");
    cli_print_caps("  ", json_object_get(s, "requested"));
    /* requested vs grantable: which policies allow what it asked for */
    const json_t *gr = json_object_get(s, "grantable");
    if (json_array_size(gr)) {
        printf("grantable (what each policy allows of the request)\n");
        const char *fits = NULL;
        for (size_t i = 0; i < json_array_size(gr); i++) {
            const json_t *g = json_array_get(gr, i);
            char *pn = cli_safe(cli_jstr(g, "policy")), *why = cli_safe(cli_jstr(g, "why_not"));
            if (cli_jbool(g, "allows_request")) {
                printf("  %-12s v%lld  all of it\n", pn, (long long)cli_jint(g, "version", 1));
                if (!fits)
                    fits = cli_jstr(g, "policy");
            } else {
                printf("  %-12s v%lld  not all: %s\n", pn, (long long)cli_jint(g, "version", 1), why);
            }
            free(pn);
            free(why);
        }
        const json_t *rq = json_object_get(s, "requested");
        bool asks = json_array_size(json_object_get(rq, "dirs")) || json_object_size(json_object_get(rq, "env"));
        if (asks && fits && strcmp(status, "pending") == 0) {
            char *f = cli_safe(fits);
            printf("  to grant exactly what it asked for: `nightcore approve %s --policy %s --grant-requested`\n",
                   sid, f);
            free(f);
        } else if (asks && !fits) {
            printf("  no policy allows all of it: grant part with --dir/--env, or add a policy (`nightcore policy "
                   "add FILE`, docs/policies.md)\n");
        }
    }
    const json_t *apps = json_object_get(s, "approvals");
    if (json_array_size(apps)) {
        printf("approvals ");
        for (size_t i = 0; i < json_array_size(apps); i++) {
            char *x = cli_safe(json_string_value(json_array_get(apps, i)));
            printf(" %s", x);
            free(x);
        }
        printf("\n");
    }
    if (strcmp(status, "pending") == 0)
        printf("\nNext: `nightcore approve %s` or `nightcore reject %s --reason TEXT`\n", sid, sid);
    free(sid);
    free(name);
    free(status);
    free(sha);
    free(source);
    json_decref(s);
    return CLI_OK;
}

int cmd_reject(cli_ctx *ctx, const cli_args *a)
{
    const char *id = a->pos[0], *reason = cli_val(a, REJECT_REASON);
    json_t *res = NULL;
    if (!cli_id_ok(id))
        return cli_usage_error(a->cmd, "ID must be a submission id such as s_3f9a0c1e5b7d2a46");
    if (!reason || !reason[0])
        return cli_usage_error(a->cmd, "--reason TEXT is required (it goes into the audit log)");
    json_t *params = json_pack("{s:s, s:s}", "submission", id, "reason", reason);
    if (!params)
        return cli_usage_error(a->cmd, "--reason must be UTF-8 text");
    int rc = cli_request(ctx, "reject", params, &res);
    if (rc != CLI_OK)
        return rc;
    if (ctx->json) {
        cli_print_json(res);
    } else {
        char *sid = cli_safe(id), *nm = cli_safe(cli_jstr(res, "name"));
        printf("rejected %s (%s)\n", sid, nm);
        free(sid);
        free(nm);
    }
    json_decref(res);
    return CLI_OK;
}
