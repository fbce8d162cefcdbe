/* nightcore approve, approvals, revoke.
 *
 * approve: the worker prepares the statement (it knows the module, the policy
 * and its own id); we parse those exact bytes ourselves, check they say what
 * was asked for, show them in words, ask, and sign them with ssh-keygen. The
 * private key never leaves ssh-keygen (or ssh-agent, or the FIDO key). */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "approver/approver.h"
#include "cli/cli.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/limits.h"
#include "trust/sign.h"
#include "trust/sshsig.h"
#include "trust/statement.h"

#define DEFAULT_MAX_RUNS 10u
#define DEFAULT_EXPIRES_S 86400u
#define MIN_EXPIRES_S 60u
#define MAX_EXPIRES_S (366ull * 86400)   /* the worker's range (docs/protocol.md) */

/* approval.progress while the worker compiles the module (docs/protocol.md):
 * on a terminal a line that updates itself, otherwise a line every
 * PROGRESS_LINE_MS once the compile has taken that long; on stderr. */
#define PROGRESS_LINE_MS 5000

typedef struct {
    bool tty;
    bool live;            /* a live line is on the terminal */
    int64_t next_ms;      /* not a terminal: the elapsed time of the next line */
    bool printed;         /* not a terminal: a line was printed */
} approve_progress;

static void on_approve_event(void *vctx, const json_t *ev, const uint8_t *raw, size_t raw_len)
{
    approve_progress *pr = vctx;
    (void)raw;
    (void)raw_len;
    const char *type = cli_jstr(ev, "type"), *phase = cli_jstr(ev, "phase");
    if (!type || strcmp(type, "approval.progress") != 0 || !phase)
        return;
    int64_t ms = cli_jint(ev, "elapsed_ms", 0), bytes = cli_jint(ev, "module_bytes", 0);
    char size[32];
    cli_fmt_size(bytes > 0 ? (uint64_t)bytes : 0, size, sizeof size);
    char *name = cli_safe(cli_jstr(ev, "name"));
    bool waiting = strcmp(phase, "queued") == 0, compiling = strcmp(phase, "compiling") == 0;
    if (pr->tty) {
        if (waiting || compiling) {
            fprintf(stderr, "\r\033[K%s %s (%s): %lld s", waiting ? "waiting to compile" : "compiling", name, size,
                    (long long)(ms / 1000));
            pr->live = true;
        } else {
            fputs("\r\033[K", stderr);
            if (strcmp(phase, "compiled") == 0)
                fprintf(stderr, "compiled %s (%s) in %.1f s\n", name, size, (double)ms / 1000);
            pr->live = false;
        }
    } else if ((waiting || compiling) && ms >= pr->next_ms) {
        fprintf(stderr, "%s %s (%s): %lld s\n", waiting ? "waiting to compile" : "compiling", name, size,
                (long long)(ms / 1000));
        pr->next_ms = (ms / PROGRESS_LINE_MS + 1) * PROGRESS_LINE_MS;
        pr->printed = true;
    } else if (pr->printed && strcmp(phase, "compiled") == 0) {
        fprintf(stderr, "compiled %s (%s) in %.1f s\n", name, size, (double)ms / 1000);
    }
    fflush(stderr);
    free(name);
}

/* approval.submit with the compile's progress shown. */
static int submit_approval(cli_ctx *ctx, nc_rpc *rpc, json_t *params /* stolen */, json_t **res)
{
    approve_progress pr = {.tty = isatty(STDERR_FILENO) == 1, .next_ms = PROGRESS_LINE_MS};
    if (json_object_set_new(params, "progress", json_true()) != 0)
        cli_oom();
    int rc = cli_call_events(ctx, rpc, "approval.submit", params, NULL, 0, on_approve_event, &pr, res);
    if (pr.live)
        fputs("\r\033[K", stderr);
    return rc;
}

static void print_approval(cli_ctx *ctx, const json_t *ap)
{
    if (ctx->json) {
        cli_print_json(ap);
        return;
    }
    char *id = cli_safe(cli_jstr(ap, "id")), *name = cli_safe(cli_jstr(ap, "name"));
    printf("approved: %s\n", id);
    printf("Run it with `nightcore run %s` (or `nightcore run %s`).\n", name[0] ? name : id, id);
    free(id);
    free(name);
}

/* approve ID --statement FILE --signature FILE.sig */
static int submit_signed(cli_ctx *ctx, const cli_args *a, const char *id)
{
    const char *stmt_path = cli_val(a, APPROVE_STATEMENT), *sig_path = cli_val(a, APPROVE_SIGNATURE);
    uint8_t *stmt = NULL, *sig = NULL;
    size_t stmt_len = 0, sig_len = 0;
    json_t *res = NULL, *params = NULL;
    nc_rpc *rpc = NULL;
    nc_statement st;
    char msg[256] = "";
    memset(&st, 0, sizeof st);
    int rc = cli_read_file(stmt_path, NC_STATEMENT_MAX_BYTES, "an approval statement", &stmt, &stmt_len);
    if (rc == CLI_OK)
        rc = cli_read_file(sig_path, NC_MAX_SSHSIG_ARMOR_BYTES, "a signature", &sig, &sig_len);
    if (rc != CLI_OK)
        goto done;
    /* Show what is being handed over when we can read it; the worker has the
     * last word either way. */
    if (nc_statement_parse(stmt, stmt_len, &st, msg, sizeof msg) == NC_OK) {
        if (strcmp(st.submission, id) != 0) {
            char *s = cli_safe(st.submission);
            rc = cli_usage_error(a->cmd, "the statement is for submission %s, not the ID given", s);
            free(s);
            goto done;
        }
        if (!ctx->json) {
            char hex[NC_SHA256_HEX_LEN + 1], to[40];
            nc_hex(st.sha256, NC_SHA256_LEN, hex);
            cli_fmt_time((int64_t)st.expires_at, to, sizeof to);
            printf("submitting approval of %s (sha256 %s), at most %llu runs, until %s\n", st.name, hex,
                   (unsigned long long)st.max_runs, to);
        }
    } else {
        char *m = cli_safe(msg);
        cli_note("warning: this nightcore cannot read the statement (%s); the worker will decide", m);
        free(m);
    }
    params = json_pack("{s:s%, s:s%}", "statement", (const char *)stmt, stmt_len, "signature", (const char *)sig,
                       sig_len);
    if (!params) {
        cli_error("the statement and the signature must be UTF-8 text");
        rc = CLI_FAIL;
        goto done;
    }
    rc = cli_connect(ctx, &rpc);
    if (rc != CLI_OK)
        goto done;
    rc = submit_approval(ctx, rpc, params, &res);
    params = NULL;
    if (rc == CLI_OK)
        print_approval(ctx, res);
done:
    nc_rpc_free(rpc);
    nc_statement_cleanup(&st);
    json_decref(params);
    json_decref(res);
    free(stmt);
    free(sig);
    return rc;
}

/* --dir HOST:GUEST[:ro|rw] and --env KEY=VALUE into a grants object; NULL
 * (after a usage message) when one does not parse. */
static json_t *grant_options(const cli_args *a, nc_caps *asked)
{
    json_t *g = json_object(), *dirs = json_array(), *env = json_object();
    if (!g || !dirs || !env)
        cli_oom();
    for (int i = 0; i < a->count[APPROVE_DIR]; i++) {
        const char *v = a->multi[APPROVE_DIR][i];
        char buf[4096 + NC_MAX_GUEST_PATH + 8];
        if (strlen(v) >= sizeof buf)
            goto bad_dir;
        snprintf(buf, sizeof buf, "%s", v);
        char *host = buf, *guest = strchr(buf, ':');
        if (!guest)
            goto bad_dir;
        *guest++ = '\0';
        const char *mode = "ro";
        char *m = strchr(guest, ':');
        if (m) {
            *m++ = '\0';
            mode = m;
        }
        if (strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0)
            goto bad_dir;
        json_array_append_new(dirs, json_pack("{s:s, s:s, s:s}", "host", host, "guest", guest, "mode", mode));
    }
    for (int i = 0; i < a->count[APPROVE_ENV]; i++) {
        const char *v = a->multi[APPROVE_ENV][i], *eq = strchr(v, '=');
        if (!eq || eq == v || (size_t)(eq - v) > NC_CAP_MAX_ENV_KEY) {
            cli_usage_error(a->cmd, "--env takes KEY=VALUE");
            goto fail;
        }
        char key[NC_CAP_MAX_ENV_KEY + 1];
        snprintf(key, sizeof key, "%.*s", (int)(eq - v), v);
        json_object_set_new(env, key, json_string(eq + 1));
    }
    if (a->count[APPROVE_DIR])
        json_object_set(g, "dirs", dirs);
    if (a->count[APPROVE_ENV])
        json_object_set(g, "env", env);
    if (cli_has(a, APPROVE_NO_ARGS))
        json_object_set_new(g, "args", json_false());
    if (cli_has(a, APPROVE_NO_STDIN))
        json_object_set_new(g, "stdin", json_false());
    /* parse them as the worker will, to check the statement against them */
    json_t *both = json_pack("{s:O, s:O}", "dirs", dirs, "env", env);
    char msg[256];
    if (!both || nc_caps_from_json(both, asked, msg, sizeof msg) != NC_OK) {
        json_decref(both);
        cli_usage_error(a->cmd, "%s", msg);
        goto fail;
    }
    json_decref(both);
    json_decref(dirs);
    json_decref(env);
    return g;
bad_dir:
    cli_usage_error(a->cmd, "--dir takes HOST:GUEST, HOST:GUEST:ro or HOST:GUEST:rw (absolute paths)");
fail:
    json_decref(g);
    json_decref(dirs);
    json_decref(env);
    return NULL;
}

int cmd_approve(cli_ctx *ctx, const cli_args *a)
{
    const char *id = a->pos[0];
    const char *out_path = cli_val(a, APPROVE_STATEMENT_OUT);
    const bool yes = cli_has(a, APPROVE_YES);
    const char *policy = cli_val(a, APPROVE_POLICY) ? cli_val(a, APPROVE_POLICY) : "default";
    uint64_t max_runs = DEFAULT_MAX_RUNS, expires_in = DEFAULT_EXPIRES_S;
    const char *invokers[NC_MAX_INVOKERS];
    size_t ninvokers = 0;
    char key[PATH_MAX] = "", principal[NC_PRINCIPAL_MAX + 1], msg[512] = "";
    json_t *sub = NULL, *prep = NULL, *res = NULL, *params = NULL, *inv = NULL, *pairs = NULL;
    nc_rpc *rpc = NULL;
    nc_statement st;
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    int rc;
    memset(&st, 0, sizeof st);

    if (!cli_id_ok(id))
        return cli_usage_error(a->cmd, "ID must be a submission id such as s_3f9a0c1e5b7d2a46");
    if (cli_has(a, APPROVE_STATEMENT) || cli_has(a, APPROVE_SIGNATURE)) {
        if (!cli_has(a, APPROVE_STATEMENT) || !cli_has(a, APPROVE_SIGNATURE))
            return cli_usage_error(a->cmd, "--statement and --signature go together");
        static const int conflicts[] = {APPROVE_POLICY,  APPROVE_MAX_RUNS, APPROVE_EXPIRES,       APPROVE_ALLOW_AGENT,
                                        APPROVE_KEY,     APPROVE_PRINCIPAL, APPROVE_STATEMENT_OUT, APPROVE_DIR,
                                        APPROVE_ENV,     APPROVE_NO_ARGS,   APPROVE_NO_STDIN,      APPROVE_GRANT_REQUESTED};
        for (size_t i = 0; i < sizeof conflicts / sizeof conflicts[0]; i++)
            if (cli_has(a, conflicts[i]))
                return cli_usage_error(a->cmd, "--%s cannot be combined with --statement: the signed statement "
                                       "already says everything", a->cmd->opts[conflicts[i]].name);
        return submit_signed(ctx, a, id);
    }
    if (out_path && cli_has(a, APPROVE_KEY))
        return cli_usage_error(a->cmd, "--statement-out only writes the statement; sign it with ssh-keygen");
    if (!policy[0] || strlen(policy) > 64)
        return cli_usage_error(a->cmd, "--policy needs a policy name (`nightcore policy list`)");
    if (cli_has(a, APPROVE_MAX_RUNS) && !cli_parse_u64(cli_val(a, APPROVE_MAX_RUNS), 1, 1000000000ull, &max_runs))
        return cli_usage_error(a->cmd, "--max-runs must be a whole number from 1 to 1000000000");
    if (cli_has(a, APPROVE_EXPIRES) &&
        (!cli_parse_duration(cli_val(a, APPROVE_EXPIRES), MAX_EXPIRES_S, &expires_in) || expires_in < MIN_EXPIRES_S))
        return cli_usage_error(a->cmd, "--expires must be a span from 60s to 366d, such as 3600s, 30m, 24h or 7d");
    invokers[ninvokers++] = "operator";
    char agents[CLI_MAX_REPEAT][NC_INVOKER_MAX + 1];
    for (int i = 0; i < a->count[APPROVE_ALLOW_AGENT]; i++) {
        const char *name = a->multi[APPROVE_ALLOW_AGENT][i];
        if (strlen(name) > 64 || snprintf(agents[i], sizeof agents[i], "agent:%s", name) >= (int)sizeof agents[i] ||
            !nc_invoker_ok(agents[i]))
            return cli_usage_error(a->cmd, "--allow-agent NAME: NAME is 1-64 of a-z 0-9 _ -");
        for (size_t j = 0; j < ninvokers; j++)
            if (strcmp(invokers[j], agents[i]) == 0)
                return cli_usage_error(a->cmd, "--allow-agent lists an agent twice");
        if (ninvokers >= NC_MAX_INVOKERS)
            return cli_usage_error(a->cmd, "at most %d agents", NC_MAX_INVOKERS - 1);
        invokers[ninvokers++] = agents[i];
    }
    if (cli_has(a, APPROVE_PRINCIPAL) && !nc_principal_ok(cli_val(a, APPROVE_PRINCIPAL)))
        return cli_usage_error(a->cmd, "--principal must be 1-128 of A-Z a-z 0-9 @ . _ - + :");
    if (cli_has(a, APPROVE_GRANT_REQUESTED) && (a->count[APPROVE_DIR] || a->count[APPROVE_ENV]))
        return cli_usage_error(a->cmd, "--grant-requested grants what the submission asked for: not with --dir or --env");
    nc_caps asked;
    memset(&asked, 0, sizeof asked);
    json_t *grants = grant_options(a, &asked);
    if (!grants)
        return CLI_USAGE;
    /* Never wait for an answer nobody can give. */
    if (!out_path && !yes && !isatty(STDIN_FILENO))
        return cli_usage_error(a->cmd, "no terminal to ask for confirmation: review the submission "
                               "(`nightcore inbox show %s`), then pass --yes to sign without asking", id);

    rc = cli_approver_setup(ctx, cli_val(a, APPROVE_KEY), cli_val(a, APPROVE_PRINCIPAL), !out_path, key, sizeof key,
                            principal, sizeof principal);

    if (rc != CLI_OK)
        goto done;
    rc = cli_connect(ctx, &rpc);
    if (rc != CLI_OK)
        goto done;
    rc = cli_call(ctx, rpc, "submission.get", json_pack("{s:s}", "submission", id), &sub);
    if (rc != CLI_OK)
        goto done;
    bool grant_requested = cli_has(a, APPROVE_GRANT_REQUESTED);
    if (grant_requested) {
        /* what it asked for is what the statement must grant */
        nc_caps_cleanup(&asked);
        json_t *none = json_object();
        const json_t *req = json_object_get(sub, "requested");
        nc_err perr = nc_caps_from_json(req ? req : none, &asked, msg, sizeof msg);
        json_decref(none);
        if (perr != NC_OK) {
            char *m = cli_safe(msg);
            cli_error("the submission's requested capabilities do not parse: %s", m);
            free(m);
            rc = CLI_FAIL;
            goto done;
        }
    }
    inv = json_array();
    if (!inv)
        cli_oom();
    for (size_t i = 0; i < ninvokers; i++)
        if (json_array_append_new(inv, json_string(invokers[i])) != 0)
            cli_oom();
    params = json_pack("{s:s, s:s, s:I, s:I, s:O, s:s, s:O, s:b}", "submission", id, "policy", policy, "max_runs",
                       (json_int_t)max_runs, "expires_in_s", (json_int_t)expires_in, "invokers", inv, "approver",
                       principal, "grants", grants, "grant_requested", cli_has(a, APPROVE_GRANT_REQUESTED));
    if (!params)
        cli_oom();
    rc = cli_call(ctx, rpc, "approval.prepare", params, &prep);
    params = NULL;
    if (rc != CLI_OK)
        goto done;
    const json_t *sj = json_object_get(prep, "statement");
    if (!json_is_string(sj)) {
        cli_error("the worker's approval.prepare answer has no statement");
        rc = CLI_FAIL;
        goto done;
    }
    const char *stmt = json_string_value(sj);
    size_t stmt_len = json_string_length(sj);
    if (nc_statement_parse(stmt, stmt_len, &st, msg, sizeof msg) != NC_OK) {
        char *m = cli_safe(msg);
        cli_error("the worker prepared a statement this nightcore cannot read (%s); not signing it", m);
        free(m);
        rc = CLI_FAIL;
        goto done;
    }
    nc_approval_request rq = {
        .submission = id, .name = cli_jstr(sub, "name"), .sha256 = cli_jstr(sub, "sha256"), .max_runs = max_runs,
        .expires_in = expires_in, .invokers = invokers, .ninvokers = ninvokers, .principal = principal,
        .grant = &asked, .check_dirs = a->count[APPROVE_DIR] > 0 || grant_requested,
        .check_env = a->count[APPROVE_ENV] > 0 || grant_requested,
        .no_args = cli_has(a, APPROVE_NO_ARGS), .no_stdin = cli_has(a, APPROVE_NO_STDIN),
    };
    const char *bad = nc_approver_check_approval(&st, &rq, (int64_t)time(NULL));
    if (bad) {
        cli_error("the statement the worker prepared does not match the request: %s; not signing it", bad);
        rc = CLI_FAIL;
        goto done;
    }
    /* Reading the answer and the passphrase may take a while: do not hold
     * the connection meanwhile. */
    nc_rpc_free(rpc);
    rpc = NULL;
    pairs = nc_approver_describe_approval(&st, policy, sub);
    if (!pairs)
        cli_oom();
    char handover[128];
    snprintf(handover, sizeof handover, "nightcore approve %s", id);
    cli_sign_req sr = {
        .title = "You are about to approve:", .pairs = pairs, .stmt = stmt, .stmt_len = stmt_len,
        .ns = NC_SSHSIG_NAMESPACE, .key = out_path ? NULL : key, .yes = yes, .out_path = out_path,
        .handover = handover, .question = "Sign and approve?",
    };
    rc = cli_sign_flow(ctx, &sr, &sig, &sig_len);
    if (rc != CLI_OK || !sig) {
        if (rc == CLI_OK && ctx->json)
            cli_print_json(prep);
        goto done;
    }
    params = json_pack("{s:s%, s:s%}", "statement", stmt, stmt_len, "signature", (const char *)sig, sig_len);
    if (!params) {
        cli_error("ssh-keygen wrote a signature that is not text");
        rc = CLI_FAIL;
        goto done;
    }
    rc = cli_connect(ctx, &rpc);
    if (rc != CLI_OK)
        goto done;
    rc = submit_approval(ctx, rpc, params, &res);
    params = NULL;
    if (rc == CLI_OK)
        print_approval(ctx, res);
done:
    nc_statement_cleanup(&st);
    nc_caps_cleanup(&asked);
    json_decref(grants);
    nc_rpc_free(rpc);
    json_decref(sub);
    json_decref(prep);
    json_decref(res);
    json_decref(params);
    json_decref(inv);
    json_decref(pairs);
    free(sig);
    return rc;
}

int cmd_revoke(cli_ctx *ctx, const cli_args *a)
{
    const char *id = a->pos[0];
    json_t *res = NULL;
    if (!cli_id_ok(id))
        return cli_usage_error(a->cmd, "APPROVAL_ID must be an approval id (64 hex digits, see `nightcore approvals`)");
    int rc = cli_request(ctx, "approval.revoke", json_pack("{s:s}", "approval", id), &res);
    if (rc != CLI_OK)
        return rc;
    if (ctx->json) {
        cli_print_json(res);
    } else {
        char *sid = cli_safe(cli_jstr(res, "id") ? cli_jstr(res, "id") : id), *nm = cli_safe(cli_jstr(res, "name"));
        printf("revoked approval %s (%s): it will not run again\n", sid, nm[0] ? nm : "-");
        free(sid);
        free(nm);
    }
    json_decref(res);
    return CLI_OK;
}

int cmd_approvals(cli_ctx *ctx, const cli_args *a)
{
    uint64_t limit = 50;
    const char *name = cli_val(a, APPROVALS_NAME);
    json_t *res = NULL;
    if (cli_has(a, APPROVALS_LIMIT) && !cli_parse_u64(cli_val(a, APPROVALS_LIMIT), 1, 1000, &limit))
        return cli_usage_error(a->cmd, "--limit must be a whole number from 1 to 1000");
    if (name && !nc_module_name_ok(name))
        return cli_usage_error(a->cmd, "--name must be a module name");
    json_t *params = json_pack("{s:I}", "limit", (json_int_t)limit);
    if (!params || (name && json_object_set_new(params, "name", json_string(name)) != 0))
        cli_oom();
    int rc = cli_list_request(ctx, "approval.list", params,
                              "No approvals. (`nightcore inbox`, then `nightcore approve ID`.)\n", &res);
    if (rc != CLI_OK || !res)
        return rc;
    const json_t *items = json_object_get(res, "items");
    size_t n = json_array_size(items);
    static const char *const hdr[] = {"ID", "NAME", "APPROVER", "POLICY", "RUNS", "EXPIRES", "STATE", "INVOKERS"};
    cli_table t;
    cli_table_init(&t, 8, hdr, 1u << 4);
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < n; i++) {
        const json_t *ap = json_array_get(items, i);
        char sid[16], runs[48], exp[32], invokers[256] = "";
        const char *aid = cli_jstr(ap, "id");
        snprintf(sid, sizeof sid, "%.12s", aid ? aid : "-");
        int64_t used = cli_jint(ap, "runs", 0), max = cli_jint(ap, "max_runs", 0), expires = cli_jint(ap, "expires_at", 0);
        snprintf(runs, sizeof runs, "%lld/%lld", (long long)used, (long long)max);
        cli_fmt_age(expires, exp, sizeof exp);
        const char *state = cli_jbool(ap, "revoked") ? "revoked"
                            : expires && expires <= now ? "expired"
                            : max && used >= max        ? "used up"
                            : cli_jint(ap, "not_before", 0) > now ? "not yet valid"
                                                                   : "active";
        const json_t *inv = json_object_get(ap, "invokers");
        for (size_t j = 0; j < json_array_size(inv); j++) {
            size_t l = strlen(invokers);
            const char *s = json_string_value(json_array_get(inv, j));
            snprintf(invokers + l, sizeof invokers - l, "%s%s", j ? "," : "", s ? s : "?");
        }
        cli_table_add(&t, sid, cli_jstr(ap, "name"), cli_jstr(ap, "approver"), cli_jstr(ap, "policy"), runs, exp,
                      state, invokers);
    }
    cli_table_print(&t, stdout);
    cli_table_cleanup(&t);
    int64_t total = cli_jint(res, "total", (int64_t)n);
    if (total > (int64_t)n)
        printf("(%zu of %lld shown; --limit N for more)\n", n, (long long)total);
    json_decref(res);
    return CLI_OK;
}
