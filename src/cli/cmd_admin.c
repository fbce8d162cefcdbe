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
#include "approver/approver.h"
#include "trust/admin.h"
#include <time.h>
#include <unistd.h>

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
    static const char *const hdr[] = {"NAME", "VERSION", "TIMEOUT", "MEMORY", "FUEL", "STDOUT", "ISOLATION", "CAPABILITIES"};
    cli_table t;
    cli_table_init(&t, 8, hdr, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5));
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
        char ver[32];
        snprintf(ver, sizeof ver, "%lld%s", (long long)cli_jint(p, "version", 1), cli_jbool(p, "builtin") ? " (built-in)" : "");
        cli_table_add(&t, cli_jstr(p, "name"), ver, to, mem, fuel, so, cli_jstr(p, "isolation"), caps);
    }
    cli_table_print(&t, stdout);
    cli_table_cleanup(&t);
    if (cli_jstr(res, "problem")) {
        char *m = cli_safe(cli_jstr(res, "problem"));
        printf("\nnote: %s\n", m);
        free(m);
    }
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
    char *n = cli_safe(cli_jstr(p, "name")), *d = cli_safe(cli_jstr(p, "description"));
    printf("policy        %s, version %lld%s\n", n, (long long)cli_jint(p, "version", 1),
           cli_jbool(p, "builtin") ? " (built-in)" : "");
    if (d[0])
        printf("description   %s\n", d);
    free(d);
    char *iso = cli_safe(cli_jstr(p, "isolation")), *rk = cli_safe(cli_jstr(p, "require_key"));
    printf("isolation     %s\n", iso);
    printf("approvals by  %s\n", rk);
    free(iso);
    free(rk);
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
    char msg[512];
    nc_rpc *rpc = NULL;
    json_t *res = NULL;
    int rc = cli_home(ctx);
    if (rc != CLI_OK)
        return rc;
    nc_err err = cli_rpc_open(ctx, &rpc, msg, sizeof msg);
    if (err == NC_OK) {
        rc = cli_call(ctx, rpc, "trust.list", NULL, &res);
        nc_rpc_free(rpc);
    } else if (err == NC_ERR_NOT_FOUND && !ctx->home.service) {
        char *h = cli_safe(ctx->home.root);
        cli_note("nightcore: worker not running; reading %s/trust directly (not checked against the audit log)", h);
        free(h);
        rc = trust_list_local(ctx, &res);
    } else {
        char *m = cli_safe(msg);
        cli_error("%s", m);
        free(m);
        return err == NC_ERR_UNAUTHORIZED ? CLI_REFUSED : CLI_FAIL;
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
        printf("No approver keys: `nightcore init --generate-key` (on a terminal) or `nightcore init --approver-key KEY.pub`.\n");
        json_decref(res);
        return CLI_OK;
    }
    static const char *const hdr[] = {"PRINCIPALS", "TYPE", "FINGERPRINT", "ROLE", "VALID", "PROTECTION", "STATUS"};
    cli_table t;
    cli_table_init(&t, 7, hdr, 0);
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
        const char *role = json_object_get(k, "admin") ? (cli_jbool(k, "admin") ? "admin" : "approver") : ns;
        cli_table_add(&t, pr, cli_jstr(k, "type"), cli_jstr(k, "fingerprint"), role, valid,
                      cli_jstr(k, "protection") ? cli_jstr(k, "protection") : "-",
                      cli_jbool(k, "revoked") ? "REVOKED" : cli_jstr(k, "added") ? cli_jstr(k, "added") : "trusted");
    }
    cli_table_print(&t, stdout);
    cli_table_cleanup(&t);
    if (cli_jstr(res, "problem")) {
        char *m = cli_safe(cli_jstr(res, "problem"));
        printf("\nTRUST PROBLEM: %s\n", m);
        free(m);
    }
    json_decref(res);
    return CLI_OK;
}

static void print_trust_result(cli_ctx *ctx, const json_t *res, const char *fp, const char *what)
{
    if (ctx->json) {
        cli_print_json(res);
        return;
    }
    const char *rfp = cli_jstr(res, "fingerprint");
    char *f = cli_safe(rfp ? rfp : fp);
    printf("%s %s (trust store version %lld)\n", what, f, (long long)cli_jint(res, "version", 0));
    free(f);
}

/* trust add --statement FILE --signature FILE.sig: signed elsewhere. */
static int trust_add_signed(cli_ctx *ctx, const cli_args *a)
{
    uint8_t *stmt = NULL, *sig = NULL;
    size_t stmt_len = 0, sig_len = 0;
    json_t *res = NULL;
    int rc = cli_read_file(cli_val(a, TRUST_ADD_STATEMENT), NC_STATEMENT_MAX_BYTES, "a statement", &stmt, &stmt_len);
    if (rc == CLI_OK)
        rc = cli_read_file(cli_val(a, TRUST_ADD_SIGNATURE), NC_MAX_SSHSIG_ARMOR_BYTES, "a signature", &sig, &sig_len);
    if (rc == CLI_OK) {
        json_t *params = json_pack("{s:s%, s:s%}", "statement", (const char *)stmt, stmt_len, "signature",
                                   (const char *)sig, sig_len);
        if (!params) {
            cli_error("the statement and the signature must be UTF-8 text");
            rc = CLI_FAIL;
        } else {
            rc = cli_request(ctx, "trust.add", params, &res);
        }
    }
    if (rc == CLI_OK)
        print_trust_result(ctx, res, "", "trusted");
    json_decref(res);
    free(stmt);
    free(sig);
    return rc;
}

int cmd_trust_add(cli_ctx *ctx, const cli_args *a)
{
    const char *principal = cli_val(a, TRUST_ADD_PRINCIPAL), *out_path = cli_val(a, TRUST_ADD_STATEMENT_OUT);
    const bool admin = !cli_has(a, TRUST_ADD_APPROVER_ONLY), uv = cli_has(a, TRUST_ADD_REQUIRE_UV),
               yes = cli_has(a, TRUST_ADD_YES);
    uint64_t valid = NC_ADMIN_DEFAULT_VALID_S;
    char fp[NC_SSHKEY_FINGERPRINT_LEN], key[PATH_MAX] = "", approver[NC_PRINCIPAL_MAX + 1], msg[512];
    char *line = NULL;
    json_t *list = NULL, *prep = NULL, *res = NULL, *pairs = NULL;
    nc_admin_statement st;
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    memset(&st, 0, sizeof st);
    if (cli_has(a, TRUST_ADD_STATEMENT) || cli_has(a, TRUST_ADD_SIGNATURE)) {
        if (!cli_has(a, TRUST_ADD_STATEMENT) || !cli_has(a, TRUST_ADD_SIGNATURE))
            return cli_usage_error(a->cmd, "--statement and --signature go together");
        return trust_add_signed(ctx, a);
    }
    if (!a->pos[0])
        return cli_usage_error(a->cmd, "KEY.pub is required");
    if (!principal)
        return cli_usage_error(a->cmd, "--principal P is required");
    if (!nc_principal_ok(principal))
        return cli_usage_error(a->cmd, "--principal must be 1-128 of A-Z a-z 0-9 @ . _ - + : (no spaces or wildcards)");
    if (cli_has(a, TRUST_ADD_EXPIRES) &&
        (!cli_parse_duration(cli_val(a, TRUST_ADD_EXPIRES), NC_ADMIN_MAX_VALID_S, &valid) || valid < 60))
        return cli_usage_error(a->cmd, "--expires must be a span from 60s to 7d (how long the statement stays valid)");
    if (cli_has(a, TRUST_ADD_APPROVER) && !nc_principal_ok(cli_val(a, TRUST_ADD_APPROVER)))
        return cli_usage_error(a->cmd, "--approver must be 1-128 of A-Z a-z 0-9 @ . _ - + :");
    int rc = cli_read_pub_key(a->pos[0], &line, fp);
    if (rc != CLI_OK)
        return rc;
    nc_sshkey k;
    if (nc_sshkey_from_text(line, strlen(line), &k, NULL) != NC_OK) {
        rc = CLI_FAIL;
        goto done;
    }
    if (uv && k.type != NC_SSHKEY_SK_ED25519) {
        rc = cli_usage_error(a->cmd, "--require-verification is for security keys (sk-ssh-ed25519) only");
        goto done;
    }
    rc = cli_request(ctx, "trust.list", NULL, &list);
    if (rc != CLI_OK)
        goto done;
    if (!cli_jbool(list, "root")) {
        /* The home has no root of trust yet: its first key is trusted without
         * a statement (there is no key to sign one) and becomes the root. */
        json_t *params = json_pack("{s:s, s:s, s:b}", "key", line, "principal", principal, "require_verification", uv);
        if (!params)
            cli_oom();
        if (!admin) {
            json_decref(params);
            rc = cli_usage_error(a->cmd, "the first key is the root of trust and must be an admin key: drop "
                                 "--approver-only");
            goto done;
        }
        rc = cli_request(ctx, "trust.add", params, &res);
        if (rc == CLI_OK)
            print_trust_result(ctx, res, fp, "trusted as the root of trust (the first key of this home):");
        goto done;
    }
    if (!out_path && !yes && !isatty(STDIN_FILENO)) {
        rc = cli_usage_error(a->cmd, "no terminal to ask for confirmation: pass --yes to sign without asking, or "
                             "--statement-out FILE to sign elsewhere");
        goto done;
    }
    rc = cli_approver_setup(ctx, cli_val(a, TRUST_ADD_KEY), cli_val(a, TRUST_ADD_APPROVER), !out_path, key, sizeof key,
                            approver, sizeof approver);
    if (rc != CLI_OK)
        goto done;
    json_t *params = json_pack("{s:s, s:s, s:s, s:b, s:b, s:I}", "key", line, "principal", principal, "approver",
                               approver, "admin", admin, "require_verification", uv, "expires_in_s", (json_int_t)valid);
    if (!params)
        cli_oom();
    rc = cli_request(ctx, "trust.prepare", params, &prep);
    if (rc != CLI_OK)
        goto done;
    const json_t *sj = json_object_get(prep, "statement");
    if (!json_is_string(sj) || nc_admin_parse(json_string_value(sj), json_string_length(sj), &st, msg, sizeof msg) != NC_OK) {
        cli_error("the worker prepared a statement this nightcore cannot read; not signing it");
        rc = CLI_FAIL;
        goto done;
    }
    nc_trust_request rq = {.key = &k, .principal = principal, .admin = admin, .require_verification = uv,
                           .approver = approver};
    const char *bad = nc_approver_check_trust_add(&st, &rq, (int64_t)time(NULL));
    if (bad) {
        cli_error("the statement the worker prepared does not match the request: %s; not signing it", bad);
        rc = CLI_FAIL;
        goto done;
    }
    pairs = nc_approver_describe_trust_add(&st);
    if (!pairs)
        cli_oom();
    cli_sign_req sr = {
        .title = "You are about to trust a key:", .pairs = pairs, .stmt = json_string_value(sj),
        .stmt_len = json_string_length(sj), .ns = NC_ADMIN_NAMESPACE, .key = out_path ? NULL : key, .yes = yes,
        .out_path = out_path, .handover = "nightcore trust add", .question = "Sign and trust this key?",
    };
    rc = cli_sign_flow(ctx, &sr, &sig, &sig_len);
    if (rc != CLI_OK || !sig)
        goto done;
    params = json_pack("{s:s%, s:s%}", "statement", json_string_value(sj), json_string_length(sj), "signature",
                       (const char *)sig, sig_len);
    if (!params) {
        cli_error("ssh-keygen wrote a signature that is not text");
        rc = CLI_FAIL;
        goto done;
    }
    rc = cli_request(ctx, "trust.add", params, &res);
    if (rc == CLI_OK)
        print_trust_result(ctx, res, fp, "trusted");
done:
    free(line);
    free(sig);
    json_decref(list);
    json_decref(prep);
    json_decref(res);
    json_decref(pairs);
    return rc;
}

int cmd_trust_revoke(cli_ctx *ctx, const cli_args *a)
{
    char fp[NC_SSHKEY_FINGERPRINT_LEN];
    char *line = NULL;
    json_t *res = NULL;
    int rc = cli_read_pub_key(a->pos[0], &line, fp);
    if (rc != CLI_OK)
        return rc;
    json_t *params = json_pack("{s:s, s:b}", "key", line, "force", cli_has(a, TRUST_REVOKE_FORCE));
    free(line);
    if (!params)
        cli_oom();
    rc = cli_request(ctx, "trust.revoke", params, &res);
    if (rc == CLI_OK)
        print_trust_result(ctx, res, fp, "revoked (approvals it signed no longer run):");
    json_decref(res);
    return rc;
}

int cmd_trust_restore(cli_ctx *ctx, const cli_args *a)
{
    (void)a;
    json_t *res = NULL;
    int rc = cli_request(ctx, "trust.restore", NULL, &res);
    if (rc != CLI_OK)
        return rc;
    if (ctx->json) {
        cli_print_json(res);
    } else {
        const char *was = cli_jstr(res, "was");
        char *w = cli_safe(was ? was : "");
        printf("trust files rewritten from the audit log (version %lld)%s%s\n", (long long)cli_jint(res, "version", 0),
               was ? "; they differed: " : "; they already matched", w);
        free(w);
    }
    json_decref(res);
    return CLI_OK;
}

/* ---- policy add / remove ---- */

static int policy_add_signed(cli_ctx *ctx, const cli_args *a)
{
    uint8_t *stmt = NULL, *sig = NULL;
    size_t stmt_len = 0, sig_len = 0;
    json_t *res = NULL;
    int rc = cli_read_file(cli_val(a, POLICY_ADD_STATEMENT), NC_STATEMENT_MAX_BYTES, "a statement", &stmt, &stmt_len);
    if (rc == CLI_OK)
        rc = cli_read_file(cli_val(a, POLICY_ADD_SIGNATURE), NC_MAX_SSHSIG_ARMOR_BYTES, "a signature", &sig, &sig_len);
    if (rc == CLI_OK) {
        json_t *params = json_pack("{s:s%, s:s%}", "statement", (const char *)stmt, stmt_len, "signature",
                                   (const char *)sig, sig_len);
        rc = params ? cli_request(ctx, "policy.add", params, &res) : CLI_FAIL;
    }
    if (rc == CLI_OK) {
        if (ctx->json)
            cli_print_json(res);
        else
            printf("policy %s is now version %lld\n", cli_jstr(res, "name"), (long long)cli_jint(res, "version", 0));
    }
    json_decref(res);
    free(stmt);
    free(sig);
    return rc;
}

int cmd_policy_add(cli_ctx *ctx, const cli_args *a)
{
    const char *out_path = cli_val(a, POLICY_ADD_STATEMENT_OUT);
    const bool yes = cli_has(a, POLICY_ADD_YES);
    char key[PATH_MAX] = "", approver[NC_PRINCIPAL_MAX + 1], msg[512];
    uint8_t *data = NULL, *sig = NULL;
    size_t len = 0, sig_len = 0;
    json_t *prep = NULL, *res = NULL, *pairs = NULL, *obj = NULL;
    nc_policy want;
    nc_admin_statement st;
    memset(&want, 0, sizeof want);
    memset(&st, 0, sizeof st);
    if (cli_has(a, POLICY_ADD_STATEMENT) || cli_has(a, POLICY_ADD_SIGNATURE)) {
        if (!cli_has(a, POLICY_ADD_STATEMENT) || !cli_has(a, POLICY_ADD_SIGNATURE))
            return cli_usage_error(a->cmd, "--statement and --signature go together");
        return policy_add_signed(ctx, a);
    }
    if (!a->pos[0])
        return cli_usage_error(a->cmd, "FILE (a policy in JSON) is required");
    int rc = cli_read_file(a->pos[0], NC_POLICY_MAX_FILE_BYTES, "a policy file", &data, &len);
    if (rc != CLI_OK)
        return rc;
    if (nc_policy_parse(data, len, &want, msg, sizeof msg) != NC_OK) {
        char *p = cli_safe(a->pos[0]), *m = cli_safe(msg);
        cli_error("%s: %s", p, m);
        free(p);
        free(m);
        rc = CLI_USAGE;
        goto done;
    }
    obj = nc_policy_to_json(&want);
    if (!obj)
        cli_oom();
    rc = cli_approver_setup(ctx, cli_val(a, POLICY_ADD_KEY), cli_val(a, POLICY_ADD_APPROVER), !out_path, key, sizeof key,
                            approver, sizeof approver);
    if (rc != CLI_OK)
        goto done;
    rc = cli_request(ctx, "policy.prepare", json_pack("{s:O, s:s}", "policy", obj, "approver", approver), &prep);
    if (rc != CLI_OK)
        goto done;
    const json_t *summary = json_object_get(prep, "summary");
    if (!cli_jbool(summary, "widens") && !out_path) {
        /* a narrowing lowers authority: no signature needed */
        rc = cli_request(ctx, "policy.add", json_pack("{s:O}", "policy", obj), &res);
        if (rc == CLI_OK) {
            if (ctx->json)
                cli_print_json(res);
            else
                printf("policy %s narrowed: now version %lld (no signature needed: it lets less run)\n", want.name,
                       (long long)cli_jint(res, "version", 0));
        }
        goto done;
    }
    if (!out_path && !yes && !isatty(STDIN_FILENO)) {
        rc = cli_usage_error(a->cmd, "no terminal to ask for confirmation: pass --yes to sign without asking, or "
                             "--statement-out FILE to sign elsewhere");
        goto done;
    }
    const json_t *sj = json_object_get(prep, "statement");
    if (!json_is_string(sj) || nc_admin_parse(json_string_value(sj), json_string_length(sj), &st, msg, sizeof msg) != NC_OK) {
        cli_error("the worker prepared a statement this nightcore cannot read; not signing it");
        rc = CLI_FAIL;
        goto done;
    }
    const char *bad = nc_approver_check_policy_set(&st, &want, approver, (int64_t)time(NULL));
    if (bad) {
        cli_error("the statement the worker prepared does not match the file: %s; not signing it", bad);
        rc = CLI_FAIL;
        goto done;
    }
    pairs = nc_approver_describe_policy_set(&st, cli_jstr(summary, "why"));
    if (!pairs)
        cli_oom();
    cli_sign_req sr = {
        .title = "You are about to change a policy (what approvals may grant):", .pairs = pairs,
        .stmt = json_string_value(sj), .stmt_len = json_string_length(sj), .ns = NC_ADMIN_NAMESPACE,
        .key = out_path ? NULL : key, .yes = yes, .out_path = out_path, .handover = "nightcore policy add",
        .question = "Sign and set this policy?",
    };
    rc = cli_sign_flow(ctx, &sr, &sig, &sig_len);
    if (rc != CLI_OK || !sig)
        goto done;
    json_t *params = json_pack("{s:s%, s:s%}", "statement", json_string_value(sj), json_string_length(sj),
                               "signature", (const char *)sig, sig_len);
    if (!params) {
        cli_error("ssh-keygen wrote a signature that is not text");
        rc = CLI_FAIL;
        goto done;
    }
    rc = cli_request(ctx, "policy.add", params, &res);
    if (rc == CLI_OK) {
        if (ctx->json)
            cli_print_json(res);
        else
            printf("policy %s is now version %lld\n", want.name, (long long)cli_jint(res, "version", 0));
    }
done:
    nc_admin_cleanup(&st);
    nc_policy_cleanup(&want);
    json_decref(obj);
    json_decref(prep);
    json_decref(res);
    json_decref(pairs);
    free(data);
    free(sig);
    return rc;
}

int cmd_policy_remove(cli_ctx *ctx, const cli_args *a)
{
    const char *name = a->pos[0];
    json_t *res = NULL;
    if (!policy_name_ok(name))
        return cli_usage_error(a->cmd, "NAME must be a policy name (1-64 of a-z 0-9 . _ -)");
    int rc = cli_request(ctx, "policy.remove", json_pack("{s:s}", "name", name), &res);
    if (rc == CLI_OK) {
        if (ctx->json)
            cli_print_json(res);
        else
            printf("policy %s removed: nothing new can be approved under it (existing approvals keep what they "
                   "grant until they are used up, expire or are revoked)\n", name);
    }
    json_decref(res);
    return rc;
}
