/* nightcore run, runs, runs show. */
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "common/fs.h"
#include "common/limits.h"

#define REF_MAX_BYTES 128u
#define SHOW_OUTPUT_BYTES 4096u   /* of stdout/stderr in `runs show` (--json has it all) */

/* A run reference: approval id, module name or sha256 prefix. */
static bool ref_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > REF_MAX_BYTES || s[0] == '-' || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return false;
    }
    return true;
}

/* Decodes field b64 of the run into exact bytes; falls back to the UTF-8 text
 * field when the worker sent no base64. *out is malloc'd. */
static bool run_output(const json_t *run, const char *b64_key, const char *text_key, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    const json_t *b = json_object_get(run, b64_key);
    if (json_is_string(b)) {
        size_t blen = json_string_length(b), cap = blen / 4 * 3 + 3;
        uint8_t *buf = cli_xmalloc(cap);
        size_t n = 0;
        const char *end = NULL;
        if (sodium_base642bin(buf, cap, json_string_value(b), blen, NULL, &n, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
            end != json_string_value(b) + blen) {
            free(buf);
            return false;
        }
        *out = buf;
        *len = n;
        return true;
    }
    const char *t = cli_jstr(run, text_key);
    if (t) {
        *len = json_string_length(json_object_get(run, text_key));
        *out = cli_xmalloc(*len + 1);
        memcpy(*out, t, *len);
    }
    return true;
}

/* "ok (exit 0)", "trap (unreachable)", "timeout" ... */
static void outcome_words(const json_t *run, char *out, size_t n)
{
    const char *outcome = cli_jstr(run, "outcome");
    char *o = cli_safe(outcome ? outcome : "?");
    const json_t *ec = json_object_get(run, "exit_code");
    const char *trap = cli_jstr(run, "trap_kind");
    bool exited = outcome && (strcmp(outcome, "ok") == 0 || strcmp(outcome, "exit") == 0);
    if (exited && json_is_integer(ec))
        snprintf(out, n, "%s (exit %lld)", o, (long long)json_integer_value(ec));
    else if (trap && trap[0]) {
        char *t = cli_safe(trap);
        snprintf(out, n, "%s (%s)", o, t);
        free(t);
    } else
        snprintf(out, n, "%s", o);
    free(o);
}

/* A limit hit, with the run's value of it: "memory_bytes 64 MiB". */
static void limit_words(const char *limit, const json_t *limits, char *out, size_t n)
{
    static const struct {
        const char *hit, *key;
        bool bytes;
    } known[] = {{"memory_bytes", "memory_bytes", true}, {"stdout_bytes", "stdout_bytes", true},
                 {"stderr_bytes", "stderr_bytes", true}, {"timeout", "timeout_ms", false},
                 {"fuel", "fuel", false}};
    char *l = cli_safe(limit);
    snprintf(out, n, "%s", l);
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const json_t *v = json_object_get(limits, known[i].key);
        if (strcmp(limit, known[i].hit) != 0 || !json_is_integer(v) || json_integer_value(v) <= 0)
            continue;
        char val[32];
        if (known[i].bytes)
            cli_fmt_size((uint64_t)json_integer_value(v), val, sizeof val);
        else
            snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
        snprintf(out, n, "%s %s", known[i].key, val);
    }
    free(l);
}

/* The summary's headline: the limit that stopped the run when there was one
 * ("memory (memory_bytes 64 MiB), exit 2" for a program whose allocator gave
 * up at the cap), else the outcome. */
static void headline(const json_t *run, char *out, size_t n)
{
    static const struct {
        const char *limit, *word;
    } order[] = {{"memory_bytes", "memory"},   {"timeout", "timeout"},          {"fuel", "fuel"},
                 {"stdout_bytes", "output_limit"}, {"stderr_bytes", "output_limit"}, {"stack", "stack"}};
    const char *outcome = cli_jstr(run, "outcome");
    const json_t *hit = json_object_get(run, "limits_hit");
    char words[160];
    outcome_words(run, words, sizeof words);
    if (!outcome || strcmp(outcome, "ok") == 0 || !json_array_size(hit)) {
        snprintf(out, n, "%s", words);
        return;
    }
    const char *first = NULL, *word = NULL;
    for (size_t k = 0; k < sizeof order / sizeof order[0] && !first; k++)
        for (size_t i = 0; i < json_array_size(hit); i++)
            if (json_is_string(json_array_get(hit, i)) &&
                strcmp(json_string_value(json_array_get(hit, i)), order[k].limit) == 0) {
                first = order[k].limit;
                word = order[k].word;
                break;
            }
    if (!first) {   /* another limit: name it after the outcome */
        first = json_string_value(json_array_get(hit, 0));
        word = NULL;
    }
    if (!first) {
        snprintf(out, n, "%s", words);
        return;
    }
    char lw[96];
    limit_words(first, json_object_get(run, "limits"), lw, sizeof lw);
    if (!word || strcmp(word, outcome) == 0)
        snprintf(out, n, "%s (%s)", word ? word : words, lw);
    else   /* e.g. the module exited after its allocator hit the cap */
        snprintf(out, n, "%s (%s), %s", word, lw, words);
}

static void print_run_summary(const json_t *run)
{
    char words[320];
    headline(run, words, sizeof words);
    char *id = cli_safe(cli_jstr(run, "id"));
    fprintf(stderr, "nightcore: run %s %s in %lld ms, threat %lld", id, words, (long long)cli_jint(run, "duration_ms", 0),
            (long long)cli_jint(json_object_get(run, "threat"), "score", 0));
    const char *outcome = cli_jstr(run, "outcome");
    const char *message = cli_jstr(run, "message");
    if (message && message[0] && (!outcome || strcmp(outcome, "ok") != 0)) {
        /* Engine errors are backtrace first, cause last: show the last line. */
        size_t len = strlen(message);
        while (len && (message[len - 1] == '\n' || message[len - 1] == ' '))
            len--;
        size_t start = len;
        while (start && message[start - 1] != '\n')
            start--;
        while (start < len && message[start] == ' ')
            start++;
        char *m = cli_safe_ex(message + start, len - start, false);
        fprintf(stderr, ": %s", m);
        free(m);
    }
    if (outcome && strcmp(outcome, "ok") == 0) {   /* coped with a limit (a quota, a refused grow) */
        const json_t *hit = json_object_get(run, "limits_hit");
        for (size_t i = 0; i < json_array_size(hit); i++) {
            char lw[96];
            limit_words(json_string_value(json_array_get(hit, i)) ? json_string_value(json_array_get(hit, i)) : "?",
                        json_object_get(run, "limits"), lw, sizeof lw);
            fprintf(stderr, "%s%s", i ? ", " : "; limit hit: ", lw);
        }
    }
    if (cli_jbool(run, "stdout_truncated"))
        fprintf(stderr, "; stdout truncated");
    if (cli_jbool(run, "stderr_truncated"))
        fprintf(stderr, "; stderr truncated");
    int64_t denied = cli_jint(run, "denied_calls", 0);
    if (denied > 0)
        fprintf(stderr, "; %lld denied call%s (`nightcore runs show %s`)", (long long)denied, denied == 1 ? "" : "s", id);
    fputc('\n', stderr);
    free(id);
}

/* The module's output as the worker streams it (run.output events with raw
 * bytes), written through at once; counted, so the end can check that all
 * of it came. */
typedef struct {
    uint64_t written[2];
    bool ended_with_newline;   /* stderr's last byte, for the summary line */
    bool bad;
} run_stream;

static void on_run_event(void *vctx, const json_t *ev, const uint8_t *raw, size_t raw_len)
{
    run_stream *st = vctx;
    const char *type = cli_jstr(ev, "type"), *stream = cli_jstr(ev, "stream");
    if (!type || strcmp(type, "run.output") != 0)
        return;   /* run.progress: nothing to show */
    int k = stream && strcmp(stream, "stdout") == 0 ? 0 : stream && strcmp(stream, "stderr") == 0 ? 1 : -1;
    const json_t *off = json_object_get(ev, "offset");
    if (k < 0 || !raw || !json_is_integer(off) || (uint64_t)json_integer_value(off) != st->written[k]) {
        st->bad = true;   /* out of order or malformed */
        return;
    }
    FILE *f = k == 0 ? stdout : stderr;
    if (raw_len && fwrite(raw, 1, raw_len, f) != raw_len)
        cli_error("cannot write the module's %s", k == 0 ? "stdout" : "stderr");
    fflush(f);
    if (k == 1 && raw_len)
        st->ended_with_newline = raw[raw_len - 1] == '\n';
    st->written[k] += raw_len;
}

/* stdin for the module: --stdin FILE, --stdin - or, when this program's
 * stdin is not a terminal, whatever is piped in. */
static int read_stdin(const cli_args *a, uint8_t **in, size_t *in_len, bool *piped)
{
    const char *path = cli_val(a, RUN_STDIN);
    *piped = false;
    if (!path && (isatty(STDIN_FILENO) || fcntl(STDIN_FILENO, F_GETFD) < 0))
        return CLI_OK;   /* a terminal, or no stdin at all: nothing to give */
    if (!path || strcmp(path, "-") == 0) {
        nc_err e = nc_read_fd(STDIN_FILENO, NC_MAX_STDIN_BYTES, in, in_len);
        if (e == NC_ERR_TOO_LARGE) {
            cli_error("stdin is larger than a run takes (16 MiB)");
            return CLI_FAIL;
        }
        if (e != NC_OK) {
            cli_error("cannot read stdin (at most 16 MiB)");
            return CLI_FAIL;
        }
        *piped = !path;
        return CLI_OK;
    }
    return cli_read_file(path, NC_MAX_STDIN_BYTES, "a run's stdin", in, in_len);
}

/* The exit code for a run (docs/cli.md): 0 ok, 1 anything else; with
 * --exit-code, 4+N for a module that exited N >= 1. */
static int run_exit(const json_t *run, bool module_code)
{
    const char *outcome = cli_jstr(run, "outcome");
    if (outcome && strcmp(outcome, "ok") == 0)
        return CLI_OK;
    const json_t *ec = json_object_get(run, "exit_code");
    if (module_code && outcome && strcmp(outcome, "exit") == 0 && json_is_integer(ec) && json_integer_value(ec) != 0) {
        json_int_t v = json_integer_value(ec);
        return v < 1 || v > 251 ? 255 : (int)(4 + v);
    }
    return CLI_FAIL;
}

int cmd_run(cli_ctx *ctx, const cli_args *a)
{
    const char *ref = a->pos[0];
    uint8_t *in = NULL, *out = NULL, *err_bytes = NULL;
    size_t in_len = 0, out_len = 0, err_len = 0;
    json_t *params = NULL, *run = NULL;
    bool piped = false;
    int rc;

    if (!ref_ok(ref))
        return cli_usage_error(a->cmd, "REF must be an approval id, a module name or a sha256 prefix");
    if (a->nrest > NC_MAX_ARGS)
        return cli_usage_error(a->cmd, "at most %d module arguments", NC_MAX_ARGS);
    params = json_pack("{s:s}", "ref", ref);
    if (!params)
        cli_oom();
    if (a->nrest > 0) {
        json_t *args = json_array();
        if (!args || json_object_set_new(params, "args", args) != 0)
            cli_oom();
        for (int i = 0; i < a->nrest; i++) {
            if (strlen(a->rest[i]) > NC_MAX_ARG_BYTES) {
                rc = cli_usage_error(a->cmd, "argument %d is longer than %d bytes", i + 1, NC_MAX_ARG_BYTES);
                goto done;
            }
            json_t *s = json_string(a->rest[i]);
            if (!s) {
                rc = cli_usage_error(a->cmd, "argument %d is not UTF-8 text", i + 1);
                goto done;
            }
            if (json_array_append_new(args, s) != 0)
                cli_oom();
        }
    }
    rc = read_stdin(a, &in, &in_len, &piped);
    if (rc != CLI_OK)
        goto done;
    /* Without --json the module's output is shown as it comes: raw bytes
     * after each event line, no base64 (stream, output "raw"). */
    run_stream st = {{0, 0}, true, false};
    if (!ctx->json && (json_object_set_new(params, "stream", json_true()) != 0 ||
                       json_object_set_new(params, "output", json_string("raw")) != 0))
        cli_oom();
    nc_rpc *rpc = NULL;
    rc = cli_connect(ctx, &rpc);
    if (rc == CLI_OK)
        /* stdin goes raw after the request line (stdin_bytes): no base64 */
        rc = cli_call_events(ctx, rpc, "run", params, in_len || cli_has(a, RUN_STDIN) ? (in ? in : (const uint8_t *)"") : NULL,
                             in_len, ctx->json ? NULL : on_run_event, &st, &run);
    else
        json_decref(params);
    nc_rpc_free(rpc);
    params = NULL;
    if (rc == CLI_REFUSED && piped && strcmp(ctx->refusal, "capability_denied") == 0)
        cli_error("this program's stdin is not a terminal, so it was given to the module, and the approval does not "
                  "grant stdin: approve the module with stdin granted, or give it no input (</dev/null)");
    if (rc != CLI_OK)
        goto done;
    if (ctx->json) {
        cli_print_json(run);
    } else {
        int64_t want_out = cli_jint(run, "stdout_total", -1), want_err = cli_jint(run, "stderr_total", -1);
        if (json_object_get(run, "stdout_b64") || json_object_get(run, "stdout")) {
            /* a worker that sent the output in the reply: show what the events did not */
            if (!run_output(run, "stdout_b64", "stdout", &out, &out_len) ||
                !run_output(run, "stderr_b64", "stderr", &err_bytes, &err_len)) {
                cli_error("the worker sent output that is not valid base64");
                rc = CLI_FAIL;
                goto done;
            }
            if (out_len > st.written[0] && fwrite(out + st.written[0], 1, out_len - st.written[0], stdout) !=
                                                   out_len - st.written[0])
                cli_error("cannot write the module's stdout");
            fflush(stdout);
            if (err_len > st.written[1]) {
                fwrite(err_bytes + st.written[1], 1, err_len - st.written[1], stderr);
                st.ended_with_newline = err_bytes[err_len - 1] == '\n';
            }
            st.written[0] = out_len > st.written[0] ? out_len : st.written[0];
            st.written[1] = err_len > st.written[1] ? err_len : st.written[1];
        } else if (st.bad || (want_out >= 0 && (uint64_t)want_out != st.written[0]) ||
                   (want_err >= 0 && (uint64_t)want_err != st.written[1])) {
            char *id = cli_safe(cli_jstr(run, "id"));
            cli_error("the output shown is incomplete (the worker's events were out of order); `nightcore runs "
                      "show %s --json` has all of it", id);
            free(id);
        }
        if (st.written[1] && !st.ended_with_newline)
            fputc('\n', stderr);
        print_run_summary(run);
    }
    rc = run_exit(run, cli_has(a, RUN_EXIT_CODE));
done:
    json_decref(params);
    json_decref(run);
    free(in);
    free(out);
    free(err_bytes);
    return rc;
}

int cmd_runs(cli_ctx *ctx, const cli_args *a)
{
    uint64_t limit = 20;
    const char *name = cli_val(a, RUNS_NAME);
    json_t *res = NULL;
    if (cli_has(a, RUNS_LIMIT) && !cli_parse_u64(cli_val(a, RUNS_LIMIT), 1, 1000, &limit))
        return cli_usage_error(a->cmd, "--limit must be a whole number from 1 to 1000");
    if (name && !ref_ok(name))
        return cli_usage_error(a->cmd, "--name must be a module name");
    json_t *params = json_pack("{s:I}", "limit", (json_int_t)limit);
    if (!params || (name && json_object_set_new(params, "name", json_string(name)) != 0))
        cli_oom();
    int rc = cli_list_request(ctx, "runs.list", params, "No runs yet.\n", &res);
    if (rc != CLI_OK || !res)
        return rc;
    const json_t *items = json_object_get(res, "items");
    size_t n = json_array_size(items);
    static const char *const hdr[] = {"ID", "NAME", "OUTCOME", "EXIT", "TIME", "THREAT", "INVOKER", "AGE"};
    cli_table t;
    cli_table_init(&t, 8, hdr, (1u << 3) | (1u << 4) | (1u << 5));
    for (size_t i = 0; i < n; i++) {
        const json_t *r = json_array_get(items, i);
        char exitc[24] = "-", dur[32], threat[16], age[32];
        const json_t *ec = json_object_get(r, "exit_code");
        const char *oc = cli_jstr(r, "outcome");
        if (json_is_integer(ec) && oc && (strcmp(oc, "ok") == 0 || strcmp(oc, "exit") == 0))
            snprintf(exitc, sizeof exitc, "%lld", (long long)json_integer_value(ec));
        snprintf(dur, sizeof dur, "%lld ms", (long long)cli_jint(r, "duration_ms", 0));
        snprintf(threat, sizeof threat, "%lld", (long long)cli_jint(json_object_get(r, "threat"), "score", 0));
        cli_fmt_age(cli_jint(r, "started_at", 0), age, sizeof age);
        cli_table_add(&t, cli_jstr(r, "id"), cli_jstr(r, "name"), cli_jstr(r, "outcome"), exitc, dur, threat,
                      cli_jstr(r, "invoker"), age);
    }
    cli_table_print(&t, stdout);
    cli_table_cleanup(&t);
    int64_t total = cli_jint(res, "total", (int64_t)n);
    if (total > (int64_t)n)
        printf("(%zu of %lld shown; --limit N for more)\n", n, (long long)total);
    json_decref(res);
    return CLI_OK;
}

static void print_output_block(const char *label, const json_t *run, const char *key, const char *trunc_key)
{
    const json_t *v = json_object_get(run, key);
    size_t len = json_string_length(v);
    if (!json_is_string(v) || len == 0) {
        printf("%s: (empty)\n", label);
        return;
    }
    printf("%s (%zu bytes%s):\n", label, len, cli_jbool(run, trunc_key) ? ", truncated by its limit" : "");
    size_t shown = len;
    if (shown > SHOW_OUTPUT_BYTES) {
        shown = SHOW_OUTPUT_BYTES;
        /* Cut on a character boundary. */
        while (shown > 0 && ((unsigned char)json_string_value(v)[shown] & 0xc0) == 0x80)
            shown--;
    }
    char *s = cli_safe_ex(json_string_value(v), shown, true);
    fputs(s, stdout);
    if (s[0] && s[strlen(s) - 1] != '\n')
        fputc('\n', stdout);
    if (shown < len)
        printf("... %zu more bytes (`nightcore runs show %s --json` has all of it)\n", len - shown,
               cli_jstr(run, "id") && cli_id_ok(cli_jstr(run, "id")) ? cli_jstr(run, "id") : "RUN");
    free(s);
}

/* {"userns": true, "landlock_abi": 7, ...} as "userns yes, landlock_abi 7, ..." */
static void print_flags(const json_t *o)
{
    const char *k;
    json_t *v;
    bool first = true;
    json_object_foreach((json_t *)o, k, v) {
        char *ks = cli_safe(k);
        char *vs = json_is_true(v)    ? cli_xstrdup("yes")
                   : json_is_false(v) ? cli_xstrdup("no")
                   : json_is_string(v) ? cli_safe(json_string_value(v))
                                       : cli_json_compact(v);
        printf("%s%s %s", first ? "" : ", ", ks, vs);
        first = false;
        free(ks);
        free(vs);
    }
    printf("\n");
}

int cmd_runs_show(cli_ctx *ctx, const cli_args *a)
{
    const char *id = a->pos[0];
    json_t *r = NULL;
    if (cli_has(a, RUNS_SHOW_RECEIPT))
        return cmd_runs_receipt(ctx, a);
    if (!cli_id_ok(id))
        return cli_usage_error(a->cmd, "RUN must be a run id (see `nightcore runs`)");
    int rc = cli_request(ctx, "run.get", json_pack("{s:s}", "run", id), &r);
    if (rc != CLI_OK)
        return rc;
    if (ctx->json) {
        cli_print_json(r);
        json_decref(r);
        return CLI_OK;
    }
    char words[160], age[32], when[40];
    outcome_words(r, words, sizeof words);
    cli_fmt_age(cli_jint(r, "started_at", 0), age, sizeof age);
    cli_fmt_time(cli_jint(r, "started_at", 0), when, sizeof when);
    char *rid = cli_safe(cli_jstr(r, "id")), *name = cli_safe(cli_jstr(r, "name")),
         *ap = cli_safe(cli_jstr(r, "approval_id")), *sha = cli_safe(cli_jstr(r, "sha256")),
         *inv = cli_safe(cli_jstr(r, "invoker"));
    printf("run        %s  %s  %s\n", rid, name, words);
    printf("approval   %s\n", ap);
    printf("sha256     %s\n", sha);
    printf("invoker    %s\n", inv);
    printf("started    %s (%s), took %lld ms\n", age, when, (long long)cli_jint(r, "duration_ms", 0));
    if (cli_jstr(r, "message") && cli_jstr(r, "message")[0]) {
        const json_t *mv = json_object_get(r, "message");
        char *m = cli_safe_ex(json_string_value(mv), json_string_length(mv), true);
        size_t ml = strlen(m);
        while (ml && m[ml - 1] == '\n')
            m[--ml] = '\0';
        printf("message    %s\n", m);
        free(m);
    }
    const json_t *lh = json_object_get(r, "limits_hit");
    if (json_array_size(lh)) {
        printf("limits hit");
        for (size_t i = 0; i < json_array_size(lh); i++) {
            char *s = cli_safe(json_string_value(json_array_get(lh, i)));
            printf("%s %s", i ? "," : "", s);
            free(s);
        }
        printf("\n");
    }
    if (json_object_get(r, "fuel_used") || json_object_get(r, "peak_memory_bytes")) {
        char mem[32];
        cli_fmt_size((uint64_t)(cli_jint(r, "peak_memory_bytes", 0) > 0 ? cli_jint(r, "peak_memory_bytes", 0) : 0), mem,
                     sizeof mem);
        printf("resources  peak memory %s", mem);
        if (json_is_integer(json_object_get(r, "fuel_used")))
            printf(", fuel used %lld", (long long)cli_jint(r, "fuel_used", 0));
        printf("\n");
    }
    const json_t *iso = json_object_get(r, "isolation");
    if (json_is_object(iso)) {
        printf("isolation  ");
        print_flags(iso);
    }
    cli_print_threat(json_object_get(r, "threat"));
    const json_t *calls = json_object_get(r, "wasi_calls");
    if (json_object_size(calls)) {
        printf("WASI calls");
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)calls, k, v) {
            char *ks = cli_safe(k);
            printf(" %s %lld", ks, json_is_integer(v) ? (long long)json_integer_value(v) : 0LL);
            free(ks);
        }
        printf("\n");
    }
    int64_t ndenied = cli_jint(r, "denied_calls", 0);
    const json_t *denied = json_object_get(r, "denied");
    if (ndenied > 0 || json_array_size(denied)) {
        printf("denied     %lld call%s\n", (long long)ndenied, ndenied == 1 ? "" : "s");
        for (size_t i = 0; i < json_array_size(denied); i++) {
            const json_t *d = json_array_get(denied, i);
            char *c = cli_safe(cli_jstr(d, "call")), *why = cli_safe(cli_jstr(d, "reason")),
                 *det = cli_safe(cli_jstr(d, "detail"));
            printf("  %-18s %s%s%s\n", c, why, det[0] ? ": " : "", det);
            free(c);
            free(why);
            free(det);
        }
    }
    print_output_block("stdout", r, "stdout", "stdout_truncated");
    print_output_block("stderr", r, "stderr", "stderr_truncated");
    free(rid);
    free(name);
    free(ap);
    free(sha);
    free(inv);
    json_decref(r);
    return CLI_OK;
}

int cmd_runs_cancel(cli_ctx *ctx, const cli_args *a)
{
    const char *id = a->pos[0];
    json_t *r = NULL;
    if (!cli_id_ok(id))
        return cli_usage_error(a->cmd, "RUN must be a run id (see `nightcore runs`)");
    int rc = cli_request(ctx, "run.cancel", json_pack("{s:s}", "run", id), &r);
    if (rc != CLI_OK)
        return rc;
    if (ctx->json) {
        cli_print_json(r);
    } else {
        char *rid = cli_safe(cli_jstr(r, "run_id") ? cli_jstr(r, "run_id") : id);
        if (cli_jbool(r, "cancelled"))
            printf("run %s cancelled\n", rid);
        else
            printf("run %s already finished; nothing to cancel (`nightcore runs show %s`)\n", rid, rid);
        free(rid);
    }
    json_decref(r);
    return CLI_OK;
}
