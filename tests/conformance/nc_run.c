/* Runs one WebAssembly command under Night Core's sandbox (process tier), the
 * way `wasmtime run` runs it, for the differential conformance suite
 * (tests/conformance/run.py):
 *
 *   nc_run [--dir HOST::GUEST[::ro]]... [--quota BYTES:FILES] [--env K=V]...
 *          [--stdin FILE] [--timeout-ms N] [--fuel N] [--report FILE]
 *          [--tier process|inprocess] MODULE.wasm [ARG]...
 *
 * The guest's stdout and stderr are copied to ours; the exit status is the
 * guest's: 0 (returned), its proc_exit code, 134 for a trap (as wasmtime
 * reports one on Unix), 124 for a timeout, 125 for any other stop. --quota
 * applies to the --dir that follows it. --report writes the outcome,
 * the limits hit and the denied calls as JSON. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/fs.h"
#include "sandbox/sandbox.h"

#define MAX_ARGS 64
#define MAX_ENV 64

static int usage(void)
{
    fprintf(stderr, "usage: nc_run [--dir HOST::GUEST[::ro]]... [--quota BYTES:FILES] [--env K=V]...\n"
                    "              [--stdin FILE] [--timeout-ms N] [--fuel N] [--report FILE]\n"
                    "              [--tier process|inprocess]\n"
                    "              MODULE.wasm [ARG]...\n");
    return 2;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || end == s || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

/* HOST::GUEST or HOST::GUEST::ro; split in place. */
static int parse_dir(char *s, nc_dir_grant *g)
{
    char *sep = strstr(s, "::");
    if (!sep)
        return -1;
    *sep = '\0';
    g->host = s;
    g->guest = sep + 2;
    char *mode = strstr(sep + 2, "::");
    g->readonly = false;
    if (mode) {
        *mode = '\0';
        if (strcmp(mode + 2, "ro") != 0)
            return -1;
        g->readonly = true;
    }
    return 0;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void write_report(const char *path, const nc_run_result *r)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fprintf(f, "{\"outcome\": ");
    json_str(f, nc_outcome_name(r->outcome));
    fprintf(f, ", \"exit_code\": %d, \"trap_kind\": ", r->exit_code);
    json_str(f, r->trap_kind);
    fprintf(f, ", \"fuel_used\": %llu, \"limits_hit\": [", (unsigned long long)r->fuel_used);
    const char *sep = "";
    for (unsigned b = 0; b < NC_LIMIT_COUNT; b++) {
        if (r->limits_hit & (1u << b)) {
            fprintf(f, "%s", sep);
            json_str(f, nc_limit_name(b));
            sep = ", ";
        }
    }
    fprintf(f, "], \"denied_total\": %u, \"denied\": [", r->denied_total);
    for (uint32_t i = 0; i < r->ndenied; i++) {
        fprintf(f, "%s{\"fn\": ", i ? ", " : "");
        json_str(f, nc_wasi_fn_name(r->denied[i].fn));
        fprintf(f, ", \"reason\": ");
        json_str(f, nc_denial_code(r->denied[i].reason));
        fprintf(f, ", \"detail\": ");
        json_str(f, r->denied[i].detail);
        fprintf(f, "}");
    }
    fprintf(f, "]}\n");
    fclose(f);
}

static int exit_status(const nc_run_result *r)
{
    switch (r->outcome) {
    case NC_OUTCOME_OK: return 0;
    case NC_OUTCOME_EXIT: return r->exit_code;
    /* wasmtime exits 134 for a wasm trap, 1 when a host call stopped the guest */
    case NC_OUTCOME_TRAP: return strcmp(r->trap_kind, "bad_pointer") == 0 ? 1 : 134;
    case NC_OUTCOME_TIMEOUT: return 124;
    default: return 125;
    }
}

int main(int argc, char **argv)
{
    nc_sandbox_dispatch(argc, argv);
    nc_dir_grant dirs[NC_MAX_DIRS];
    const char *env[MAX_ENV], *args[MAX_ARGS];
    size_t ndirs = 0, nenv = 0, nargs = 0;
    const char *stdin_path = NULL, *report = NULL, *wasm_path = NULL;
    uint64_t timeout_ms = 10000, fuel = 0, qbytes = 0, qfiles = 0;
    nc_tier tier = NC_TIER_PROCESS;
    memset(dirs, 0, sizeof dirs);

    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        const char *opt = argv[i];
        if (i + 1 >= argc)
            return usage();
        char *val = argv[++i];
        if (strcmp(opt, "--dir") == 0) {
            if (ndirs >= NC_MAX_DIRS || parse_dir(val, &dirs[ndirs]) != 0)
                return usage();
            dirs[ndirs].quota_bytes = qbytes;
            dirs[ndirs].quota_files = qfiles;
            qbytes = qfiles = 0;
            ndirs++;
        } else if (strcmp(opt, "--quota") == 0) {
            char *colon = strchr(val, ':');
            if (!colon)
                return usage();
            *colon = '\0';
            if (parse_u64(val, &qbytes) != 0 || parse_u64(colon + 1, &qfiles) != 0)
                return usage();
        } else if (strcmp(opt, "--env") == 0) {
            if (nenv >= MAX_ENV)
                return usage();
            env[nenv++] = val;
        } else if (strcmp(opt, "--stdin") == 0) {
            stdin_path = val;
        } else if (strcmp(opt, "--report") == 0) {
            report = val;
        } else if (strcmp(opt, "--timeout-ms") == 0) {
            if (parse_u64(val, &timeout_ms) != 0 || timeout_ms == 0 || timeout_ms > UINT32_MAX)
                return usage();
        } else if (strcmp(opt, "--tier") == 0) {
            if (strcmp(val, "inprocess") == 0)
                tier = NC_TIER_INPROCESS;
            else if (strcmp(val, "process") != 0)
                return usage();
        } else if (strcmp(opt, "--fuel") == 0) {
            if (parse_u64(val, &fuel) != 0)
                return usage();
        } else {
            return usage();
        }
    }
    if (i >= argc)
        return usage();
    wasm_path = argv[i++];
    /* argv[0] is the module's file name, as wasmtime passes it */
    const char *slash = strrchr(wasm_path, '/');
    args[nargs++] = slash ? slash + 1 : wasm_path;
    for (; i < argc && nargs < MAX_ARGS; i++)
        args[nargs++] = argv[i];
    if (i < argc)
        return usage();

    char cache[] = "/tmp/nc-conformance-cache-XXXXXX";
    if (!mkdtemp(cache)) {
        perror("nc_run: mkdtemp");
        return 125;
    }
    int status = 125;
    nc_sandbox *sb = NULL;
    uint8_t *wasm = NULL, *in = NULL;
    size_t wasm_len = 0, in_len = 0;
    nc_artifact art;
    nc_run_result r;
    char msg[512] = "";
    memset(&r, 0, sizeof r);
    nc_sandbox_opts o = {.tier = tier, .cache_dir = cache};
    if (nc_sandbox_new(&o, &sb) != NC_OK) {
        fprintf(stderr, "nc_run: cannot create the sandbox\n");
        goto done;
    }
    if (nc_read_file(wasm_path, 64u << 20, &wasm, &wasm_len) != NC_OK) {
        fprintf(stderr, "nc_run: cannot read %s\n", wasm_path);
        goto done;
    }
    if (stdin_path && nc_read_file(stdin_path, NC_MAX_STDIN_BYTES, &in, &in_len) != NC_OK) {
        fprintf(stderr, "nc_run: cannot read %s\n", stdin_path);
        goto done;
    }
    nc_err err = nc_artifact_compile(sb, wasm, wasm_len, fuel != 0, &art, msg, sizeof msg);
    if (err != NC_OK) {
        fprintf(stderr, "nc_run: %s: %s\n", nc_strerror(err), msg);
        goto done;
    }
    nc_run_spec s;
    memset(&s, 0, sizeof s);
    nc_limits_default(&s.limits);
    s.limits.timeout_ms = (uint32_t)timeout_ms;
    s.limits.fuel = fuel;
    s.args = args;
    s.nargs = nargs;
    s.env = env;
    s.nenv = nenv;
    s.stdin_data = in;
    s.stdin_len = in_len;
    s.dirs = dirs;
    s.ndirs = ndirs;
    err = nc_sandbox_run(sb, &art, &s, &r, msg, sizeof msg);
    if (err != NC_OK) {
        fprintf(stderr, "nc_run: %s: %s\n", nc_strerror(err), msg);
        goto done;
    }
    if (r.out_len)
        fwrite(r.out, 1, r.out_len, stdout);
    if (r.err_len)
        fwrite(r.err, 1, r.err_len, stderr);
    fflush(stdout);
    if (r.outcome != NC_OUTCOME_OK && r.outcome != NC_OUTCOME_EXIT)
        fprintf(stderr, "nc_run: outcome %s %s: %s\n", nc_outcome_name(r.outcome), r.trap_kind,
                r.message);
    if (report)
        write_report(report, &r);
    status = exit_status(&r);
done:
    nc_run_result_cleanup(&r);
    nc_sandbox_free(sb);
    free(wasm);
    free(in);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", cache);
    if (system(cmd) != 0)
        fprintf(stderr, "nc_run: could not remove %s\n", cache);
    return status;
}
