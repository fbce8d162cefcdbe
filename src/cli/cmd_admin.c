/* nightcore policy list|show, trust list|add|revoke. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "common/fs.h"
#include "common/json.h"
#include "trust/allowed_signers.h"
#include "trust/sshkey.h"
#include "trust/sshsig.h"
#include "trust/statement.h"
#include "trust/truststore.h"

static bool policy_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static void limits_words(const json_t *l, char *out, size_t n)
{
    char mem[32], so[32], se[32], fuel[32];
    cli_fmt_size((uint64_t)(cli_jint(l, "memory_bytes", 0) > 0 ? cli_jint(l, "memory_bytes", 0) : 0), mem, sizeof mem);
    cli_fmt_size((uint64_t)(cli_jint(l, "stdout_bytes", 0) > 0 ? cli_jint(l, "stdout_bytes", 0) : 0), so, sizeof so);
    cli_fmt_size((uint64_t)(cli_jint(l, "stderr_bytes", 0) > 0 ? cli_jint(l, "stderr_bytes", 0) : 0), se, sizeof se);
    if (json_is_integer(json_object_get(l, "fuel")))
        snprintf(fuel, sizeof fuel, "%lld", (long long)cli_jint(l, "fuel", 0));
    else
        snprintf(fuel, sizeof fuel, "unmetered");
    snprintf(out, n, "timeout %lld ms, memory %s, fuel %s, stdout %s, stderr %s",
             (long long)cli_jint(l, "timeout_ms", 0), mem, fuel, so, se);
}

static void caps_short(const json_t *c, char *out, size_t n)
{
    snprintf(out, n, "%s%s%zu env, %zu dirs", cli_jbool(c, "args") ? "args, " : "",
             cli_jbool(c, "stdin") ? "stdin, " : "", json_object_size(json_object_get(c, "env")),
             json_array_size(json_object_get(c, "dirs")));
}

int cmd_policy_list(cli_ctx *ctx, const cli_args *a)
{
    (void)a;
    json_t *res = NULL;
    int rc = cli_request(ctx, "policy.list", NULL, &res);
    if (rc != CLI_OK)
        return rc;
    if (ctx->json) {
        cli_print_json(res);
        json_decref(res);
        return CLI_OK;
    }
    const json_t *items = json_object_get(res, "items");
    static const char *const hdr[] = {"NAME", "TIMEOUT", "MEMORY", "FUEL", "STDOUT", "CAPABILITIES"};
    cli_table t;
    cli_table_init(&t, 6, hdr, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4));
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *p = json_array_get(items, i), *l = json_object_get(p, "limits");
        char to[32], mem[32], fuel[32], so[32], caps[96];
        snprintf(to, sizeof to, "%lld ms", (long long)cli_jint(l, "timeout_ms", 0));
        cli_fmt_size((uint64_t)(cli_jint(l, "memory_bytes", 0) > 0 ? cli_jint(l, "memory_bytes", 0) : 0), mem, sizeof mem);
        cli_fmt_size((uint64_t)(cli_jint(l, "stdout_bytes", 0) > 0 ? cli_jint(l, "stdout_bytes", 0) : 0), so, sizeof so);
        if (json_is_integer(json_object_get(l, "fuel")))
            snprintf(fuel, sizeof fuel, "%lld", (long long)cli_jint(l, "fuel", 0));
        else
            snprintf(fuel, sizeof fuel, "unmetered");
        caps_short(json_object_get(p, "capabilities"), caps, sizeof caps);
        cli_table_add(&t, cli_jstr(p, "name"), to, mem, fuel, so, caps);
    }
    cli_table_print(&t, stdout);
    cli_table_cleanup(&t);
    json_decref(res);
    return CLI_OK;
}

int cmd_policy_show(cli_ctx *ctx, const cli_args *a)
{
    const char *name = a->pos[0];
    json_t *p = NULL;
    if (!policy_name_ok(name))
        return cli_usage_error(a->cmd, "NAME must be a policy name (1-64 of a-z 0-9 . _ -)");
    int rc = cli_request(ctx, "policy.get", json_pack("{s:s}", "name", name), &p);
    if (rc != CLI_OK)
        return rc;
    if (ctx->json) {
        cli_print_json(p);
        json_decref(p);
        return CLI_OK;
    }
    char lim[256];
    limits_words(json_object_get(p, "limits"), lim, sizeof lim);
    char *n = cli_safe(cli_jstr(p, "name"));
    printf("policy        %s\n", n);
    printf("limits        %s\n", lim);
    printf("capabilities\n");
    cli_print_caps("  ", json_object_get(p, "capabilities"));
    free(n);
    json_decref(p);
    return CLI_OK;
}

/* trust.list's shape, built from the files when the worker is not running.
 * Read-only: unlike nc_trust_load() it does not touch the version record. */
static int trust_list_local(cli_ctx *ctx, json_t **out)
{
    char path[PATH_MAX], msg[NC_TRUST_ERRMSG_LEN] = "";
    uint8_t *data = NULL;
    size_t len = 0;
    nc_allowed_signers *as = NULL;
    nc_revoked_keys *rk = NULL;
    json_t *root = NULL, *keys = NULL, *ver = NULL;
    int rc = CLI_FAIL;
    *out = NULL;
    if (cli_home_path(ctx, NC_HOME_TRUST_DIR "/version", path, sizeof path) != CLI_OK)
        goto done;
    if (nc_read_file(path, 4096, &data, &len) != NC_OK) {
        char *h = cli_safe(ctx->home.root);
        cli_error("no trust store in %s: run `nightcore init`", h);
        free(h);
        goto done;
    }
    if (nc_json_parse_strict(data, len, &ver, NULL, 0) != NC_OK || !json_is_object(ver)) {
        cli_error("trust/version is malformed");
        goto done;
    }
    free(data);
    data = NULL;
    if (cli_home_path(ctx, NC_HOME_TRUST_DIR "/allowed_signers", path, sizeof path) != CLI_OK)
        goto done;
    nc_err err = nc_read_file(path, NC_TRUST_MAX_FILE_BYTES, &data, &len);
    if (err == NC_ERR_NOT_FOUND)
        err = NC_OK;
    if (err != NC_OK || nc_allowed_signers_parse(data ? (const void *)data : "", len, &as, msg, sizeof msg) != NC_OK) {
        char *m = cli_safe(msg[0] ? msg : "unreadable");
        cli_error("trust/allowed_signers: %s", m);
        free(m);
        goto done;
    }
    free(data);
    data = NULL;
    len = 0;
    if (cli_home_path(ctx, NC_HOME_TRUST_DIR "/revoked_keys", path, sizeof path) != CLI_OK)
        goto done;
    err = nc_read_file(path, NC_TRUST_MAX_FILE_BYTES, &data, &len);
    if (err == NC_ERR_NOT_FOUND)
        err = NC_OK;
    if (err != NC_OK || nc_revoked_keys_parse(data ? (const void *)data : "", len, &rk, msg, sizeof msg) != NC_OK) {
        char *m = cli_safe(msg[0] ? msg : "unreadable");
        cli_error("trust/revoked_keys: %s", m);
        free(m);
        goto done;
    }
    root = json_object();
    keys = json_array();
    if (!root || !keys)
        cli_oom();
    for (size_t i = 0; i < nc_allowed_signers_count(as); i++) {
        const nc_allowed_signer *e = nc_allowed_signers_get(as, i);
        char fp[NC_SSHKEY_FINGERPRINT_LEN];
        json_t *pr = json_array(), *ns = json_array();
        if (!pr || !ns || nc_sshkey_fingerprint(&e->key, fp) != NC_OK)
            cli_oom();
        for (size_t j = 0; j < e->nprincipals; j++)
            json_array_append_new(pr, json_string(e->principals[j]));
        for (size_t j = 0; j < e->nnamespaces; j++)
            json_array_append_new(ns, json_string(e->namespaces[j]));
        json_t *k = json_pack("{s:o, s:s, s:s, s:o, s:o, s:o, s:b}", "principals", pr, "fingerprint", fp, "type",
                              nc_sshkey_type_name(e->key.type), "namespaces", ns, "valid_after",
                              e->has_valid_after ? json_integer(e->valid_after) : json_null(), "valid_before",
                              e->has_valid_before ? json_integer(e->valid_before) : json_null(), "revoked",
                              nc_revoked_keys_contains(rk, &e->key));
        if (!k || json_array_append_new(keys, k) != 0)
            cli_oom();
    }
    if (json_object_set(root, "version", json_object_get(ver, "version") ? json_object_get(ver, "version") : json_null()) ||
        json_object_set_new(root, "keys", keys))
        cli_oom();
    keys = NULL;
    *out = root;
    root = NULL;
    rc = CLI_OK;
done:
    free(data);
    nc_allowed_signers_free(as);
    nc_revoked_keys_free(rk);
    json_decref(root);
    json_decref(keys);
    json_decref(ver);
    return rc;
}

static void fmt_when(const json_t *v, char *out, size_t n)
{
    if (json_is_integer(v))
        cli_fmt_time((int64_t)json_integer_value(v), out, n);
    else if (json_is_string(v))
        snprintf(out, n, "%.60s", json_string_value(v));
    else
        out[0] = '\0';
}

int cmd_trust_list(cli_ctx *ctx, const cli_args *a)
{
    (void)a;
    char sock[PATH_MAX], msg[256];
    nc_rpc *rpc = NULL;
    json_t *res = NULL;
    int rc = cli_home_path(ctx, NC_HOME_CONTROL_SOCK, sock, sizeof sock);
    if (rc != CLI_OK)
        return rc;
    if (nc_rpc_connect(sock, &rpc, msg, sizeof msg) == NC_OK) {
        rc = cli_call(ctx, rpc, "trust.list", NULL, &res);
        nc_rpc_free(rpc);
    } else {
        char *h = cli_safe(ctx->home.root);
        cli_note("nightcore: worker not running; reading %s/trust directly", h);
        free(h);
        rc = trust_list_local(ctx, &res);
    }
    if (rc != CLI_OK)
        return rc;
    if (ctx->json) {
        cli_print_json(res);
        json_decref(res);
        return CLI_OK;
    }
    const json_t *keys = json_object_get(res, "keys");
    printf("trust store version %lld, %zu key%s\n", (long long)cli_jint(res, "version", 0), json_array_size(keys),
           json_array_size(keys) == 1 ? "" : "s");
    if (json_array_size(keys) == 0) {
        printf("No approver keys: `nightcore trust add KEY.pub --principal P` or `nightcore init --generate-key`.\n");
        json_decref(res);
        return CLI_OK;
    }
    static const char *const hdr[] = {"PRINCIPALS", "TYPE", "FINGERPRINT", "NAMESPACES", "VALID", "STATUS"};
    cli_table t;
    cli_table_init(&t, 6, hdr, 0);
    for (size_t i = 0; i < json_array_size(keys); i++) {
        const json_t *k = json_array_get(keys, i);
        char pr[512] = "", ns[256] = "", valid[160], after[64], before[64];
        const json_t *arr = json_object_get(k, "principals");
        for (size_t j = 0; j < json_array_size(arr); j++) {
            size_t l = strlen(pr);
            const char *s = json_string_value(json_array_get(arr, j));
            snprintf(pr + l, sizeof pr - l, "%s%s", j ? "," : "", s ? s : "?");
        }
        arr = json_object_get(k, "namespaces");
        for (size_t j = 0; j < json_array_size(arr); j++) {
            size_t l = strlen(ns);
            const char *s = json_string_value(json_array_get(arr, j));
            snprintf(ns + l, sizeof ns - l, "%s%s", j ? "," : "", s ? s : "?");
        }
        if (!ns[0])
            snprintf(ns, sizeof ns, "any");
        fmt_when(json_object_get(k, "valid_after"), after, sizeof after);
        fmt_when(json_object_get(k, "valid_before"), before, sizeof before);
        if (after[0] && before[0])
            snprintf(valid, sizeof valid, "%s .. %s", after, before);
        else if (after[0])
            snprintf(valid, sizeof valid, "from %s", after);
        else if (before[0])
            snprintf(valid, sizeof valid, "until %s", before);
        else
            snprintf(valid, sizeof valid, "always");
        cli_table_add(&t, pr, cli_jstr(k, "type"), cli_jstr(k, "fingerprint"), ns, valid,
                      cli_jbool(k, "revoked") ? "REVOKED" : "trusted");
    }
    cli_table_print(&t, stdout);
    cli_table_cleanup(&t);
    json_decref(res);
    return CLI_OK;
}

static int trust_change(cli_ctx *ctx, const cli_args *a, const char *op, const char *principal)
{
    char fp[NC_SSHKEY_FINGERPRINT_LEN];
    char *line = NULL;
    json_t *res = NULL;
    int rc = cli_read_pub_key(a->pos[0], &line, fp);
    if (rc != CLI_OK)
        return rc;
    json_t *params = json_pack("{s:s}", "key", line);
    if (!params || (principal && json_object_set_new(params, "principal", json_string(principal)) != 0))
        cli_oom();
    free(line);
    rc = cli_request(ctx, op, params, &res);
    if (rc != CLI_OK)
        return rc;
    if (ctx->json) {
        cli_print_json(res);
    } else {
        const char *rfp = cli_jstr(res, "fingerprint");
        char *f = cli_safe(rfp ? rfp : fp);
        if (principal) {
            char *p = cli_safe(principal);
            printf("trusted %s for %s (trust store version %lld)\n", f, p, (long long)cli_jint(res, "version", 0));
            free(p);
        } else {
            printf("revoked %s (trust store version %lld): approvals it signed no longer run\n", f,
                   (long long)cli_jint(res, "version", 0));
        }
        free(f);
    }
    json_decref(res);
    return CLI_OK;
}

int cmd_trust_add(cli_ctx *ctx, const cli_args *a)
{
    const char *principal = cli_val(a, TRUST_ADD_PRINCIPAL);
    if (!principal)
        return cli_usage_error(a->cmd, "--principal P is required");
    if (!nc_principal_ok(principal))
        return cli_usage_error(a->cmd, "--principal must be 1-128 of A-Z a-z 0-9 @ . _ - + : (no spaces or wildcards)");
    return trust_change(ctx, a, "trust.add", principal);
}

int cmd_trust_revoke(cli_ctx *ctx, const cli_args *a)
{
    return trust_change(ctx, a, "trust.revoke", NULL);
}
