/* Real-program benchmark on the engine path: compiles one module to an
 * artifact (Night Core's compile, timed) and runs it N times in the process
 * tier (pre-started child) or in-process, reporting the median of each phase.
 *
 *   bench_guest [--runs N] [--tier process|inprocess] [--stdin FILE]
 *               [--memory BYTES] [--timeout MS] [--stdout-cap BYTES]
 *               [--compile-only] [--artifact-out FILE] [--json FILE]
 *               MODULE.wasm [-- ARGS...]
 *
 * The JSON (one object) holds compile_ms, artifact_bytes and, per phase,
 * the median in microseconds: total, handoff, isolate, load, instantiate,
 * execute; plus out_bytes of the last run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/fs.h"
#include "sandbox/sandbox.h"

#define MAX_RUNS 10000

enum { PH_TOTAL, PH_HANDOFF, PH_ISOLATE, PH_LOAD, PH_INST, PH_EXEC, PH_COUNT };
static const char *const phase_names[PH_COUNT] = {"total", "handoff", "isolate", "load", "instantiate",
                                                  "execute"};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_guest [--runs N] [--tier process|inprocess] [--stdin FILE] [--memory BYTES]\n"
                    "                   [--timeout MS] [--stdout-cap BYTES] [--compile-only]\n"
                    "                   [--artifact-out FILE] [--json FILE] MODULE.wasm [-- ARGS...]\n");
    return 2;
}

int main(int argc, char **argv)
{
    size_t runs = 5;
    nc_tier tier = NC_TIER_PROCESS;
    const char *stdin_path = NULL, *json_path = NULL, *module = NULL, *artifact_out = NULL;
    unsigned long long memory = 0, timeout = 0, stdout_cap = 0;
    int compile_only = 0, argi = argc;
    nc_sandbox_dispatch(argc, argv);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            argi = i + 1;
            break;
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--tier") == 0 && i + 1 < argc) {
            const char *t = argv[++i];
            if (strcmp(t, "process") == 0)
                tier = NC_TIER_PROCESS;
            else if (strcmp(t, "inprocess") == 0)
                tier = NC_TIER_INPROCESS;
            else
                return usage();
        } else if (strcmp(argv[i], "--stdin") == 0 && i + 1 < argc) {
            stdin_path = argv[++i];
        } else if (strcmp(argv[i], "--memory") == 0 && i + 1 < argc) {
            memory = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            timeout = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--stdout-cap") == 0 && i + 1 < argc) {
            stdout_cap = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--compile-only") == 0) {
            compile_only = 1;
        } else if (strcmp(argv[i], "--artifact-out") == 0 && i + 1 < argc) {
            artifact_out = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            json_path = argv[++i];
        } else if (argv[i][0] != '-' && !module) {
            module = argv[i];
        } else {
            return usage();
        }
    }
    if (!module || runs == 0 || runs > MAX_RUNS)
        return usage();

    char cache[] = "/tmp/nc-bench-guest-XXXXXX";
    if (!mkdtemp(cache)) {
        perror("mkdtemp");
        return 1;
    }
    nc_sandbox *sb;
    nc_sandbox_opts opts = {.tier = tier, .pool_size = tier == NC_TIER_PROCESS ? 1 : 0, .cache_dir = cache};
    if (nc_sandbox_new(&opts, &sb) != NC_OK) {
        fprintf(stderr, "bench_guest: cannot create the sandbox\n");
        return 1;
    }
    uint8_t *wasm = NULL, *in = NULL;
    size_t wasm_len = 0, in_len = 0;
    if (nc_read_file(module, 64u << 20, &wasm, &wasm_len) != NC_OK) {
        fprintf(stderr, "bench_guest: cannot read %s\n", module);
        return 1;
    }
    if (stdin_path && nc_read_file(stdin_path, 64u << 20, &in, &in_len) != NC_OK) {
        fprintf(stderr, "bench_guest: cannot read %s\n", stdin_path);
        return 1;
    }
    nc_artifact art;
    char msg[512];
    double t0 = now_ms();
    if (nc_artifact_compile(sb, wasm, wasm_len, false, &art, msg, sizeof msg) != NC_OK) {
        fprintf(stderr, "bench_guest: compile %s: %s\n", module, msg);
        return 1;
    }
    double compile_ms = now_ms() - t0;
    struct stat st;
    long long art_bytes = stat(art.path, &st) == 0 ? (long long)st.st_size : -1;
    free(wasm);

    static double ph[PH_COUNT][MAX_RUNS];
    size_t done = 0, out_bytes = 0;
    const char *argv0[NC_MAX_ARGS];
    size_t nargs = 0;
    argv0[nargs++] = module;
    for (int i = argi; i < argc && nargs < NC_MAX_ARGS; i++)
        argv0[nargs++] = argv[i];
    for (size_t i = 0; !compile_only && i < runs; i++) {
        nc_run_spec spec;
        memset(&spec, 0, sizeof spec);
        nc_limits_default(&spec.limits);
        spec.limits.timeout_ms = timeout ? (uint32_t)timeout : 60000;
        if (memory)
            spec.limits.memory_bytes = memory;
        if (stdout_cap)
            spec.limits.stdout_bytes = (uint32_t)stdout_cap;
        spec.args = argv0;
        spec.nargs = nargs;
        spec.stdin_data = in;
        spec.stdin_len = in_len;
        nc_run_result r;
        if (nc_sandbox_run(sb, &art, &spec, &r, msg, sizeof msg) != NC_OK || r.outcome != NC_OUTCOME_OK) {
            fprintf(stderr, "bench_guest: run %zu of %s: %s %s (%s) %.*s\n", i, module, msg,
                    nc_outcome_name(r.outcome), r.trap_kind, (int)(r.err_len > 2000 ? 2000 : r.err_len),
                    r.err ? (const char *)r.err : "");
            nc_run_result_cleanup(&r);
            return 1;
        }
        ph[PH_TOTAL][done] = (double)r.t_total_ns / 1e3;
        ph[PH_HANDOFF][done] = (double)r.t_handoff_ns / 1e3;
        ph[PH_ISOLATE][done] = (double)r.t_isolate_ns / 1e3;
        ph[PH_LOAD][done] = (double)r.t_load_ns / 1e3;
        ph[PH_INST][done] = (double)r.t_instantiate_ns / 1e3;
        ph[PH_EXEC][done] = (double)r.t_execute_ns / 1e3;
        out_bytes = r.out_len;
        done++;
        nc_run_result_cleanup(&r);
    }
    free(in);
    FILE *j = json_path ? fopen(json_path, "w") : stdout;
    if (!j) {
        perror(json_path);
        return 1;
    }
    fprintf(j, "{\"module\":\"%s\",\"tier\":\"%s\",\"runs\":%zu,\"compile_ms\":%.1f,\"artifact_bytes\":%lld,"
               "\"out_bytes\":%zu",
            module, tier == NC_TIER_PROCESS ? "process" : "inprocess", done, compile_ms, art_bytes, out_bytes);
    for (int p = 0; p < PH_COUNT; p++)
        fprintf(j, ",\"%s_us\":%.1f", phase_names[p], median(ph[p], done));
    fprintf(j, "}\n");
    if (j != stdout)
        fclose(j);
    nc_sandbox_free(sb);
    if (artifact_out ? rename(art.path, artifact_out) != 0 : unlink(art.path) != 0)
        perror(artifact_out ? artifact_out : art.path);
    return rmdir(cache) == 0 ? 0 : 1;
}
