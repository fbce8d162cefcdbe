/* Sandbox benchmark: hello-world from a cached artifact in the process tier
 * (with and without pre-started children) and in-process (the floor), plus a
 * compute-heavy module. Reports p50/p99 of the total and of each phase.
 *
 *   bench_sandbox [--runs N] [--compute-runs N] [--out FILE.md]
 * Fixtures come from $NC_FIXTURES (default build/fixtures). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "common/fs.h"
#include "sandbox/sandbox.h"

typedef struct {
    const char *name;
    double *total, *spawn, *handoff, *isolate, *load, *inst, *exec;
    size_t n;
} series;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static series series_new(const char *name, size_t n)
{
    series s = {.name = name};
    double **all[] = {&s.total, &s.spawn, &s.handoff, &s.isolate, &s.load, &s.inst, &s.exec};
    for (size_t i = 0; i < 7; i++) {
        *all[i] = calloc(n, sizeof(double));
        if (!*all[i]) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    return s;
}

static int load_artifact(nc_sandbox *sb, const char *name, nc_artifact *art)
{
    char path[4096], msg[512];
    const char *dir = getenv("NC_FIXTURES");
    snprintf(path, sizeof path, "%s/%s.wasm", dir ? dir : "build/fixtures", name);
    uint8_t *wasm;
    size_t len;
    if (nc_read_file(path, 64u << 20, &wasm, &len) != NC_OK) {
        fprintf(stderr, "bench: cannot read %s (build the fixtures first: make)\n", path);
        return -1;
    }
    nc_err err = nc_artifact_compile(sb, wasm, len, false, art, msg, sizeof msg);
    free(wasm);
    if (err != NC_OK) {
        fprintf(stderr, "bench: compile %s: %s\n", name, msg);
        return -1;
    }
    return 0;
}

static int measure(nc_sandbox *sb, const nc_artifact *art, series *s, size_t runs, const char *expect)
{
    const char *const argv0[] = {"bench"};
    nc_run_spec spec;
    memset(&spec, 0, sizeof spec);
    nc_limits_default(&spec.limits);
    spec.limits.timeout_ms = 60000;
    spec.args = argv0;
    spec.nargs = 1;
    for (size_t i = 0; i < runs; i++) {
        nc_run_result r;
        char msg[512];
        if (nc_sandbox_run(sb, art, &spec, &r, msg, sizeof msg) != NC_OK || r.outcome != NC_OUTCOME_OK ||
            (expect && (r.out_len != strlen(expect) || memcmp(r.out, expect, r.out_len) != 0))) {
            fprintf(stderr, "bench: run %zu of %s failed: %s %s\n", i, s->name, msg, r.message);
            nc_run_result_cleanup(&r);
            return -1;
        }
        s->total[s->n] = (double)r.t_total_ns / 1e3;
        s->spawn[s->n] = (double)r.t_spawn_ns / 1e3;
        s->handoff[s->n] = (double)r.t_handoff_ns / 1e3;
        s->isolate[s->n] = (double)r.t_isolate_ns / 1e3;
        s->load[s->n] = (double)r.t_load_ns / 1e3;
        s->inst[s->n] = (double)r.t_instantiate_ns / 1e3;
        s->exec[s->n] = (double)r.t_execute_ns / 1e3;
        s->n++;
        nc_run_result_cleanup(&r);
    }
    return 0;
}

static void report(FILE *f, series *s)
{
    fprintf(f, "| %s | %zu | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", s->name, s->n,
            pct(s->total, s->n, 0.5), pct(s->total, s->n, 0.99), pct(s->spawn, s->n, 0.5),
            pct(s->handoff, s->n, 0.5), pct(s->isolate, s->n, 0.5), pct(s->load, s->n, 0.5),
            pct(s->inst, s->n, 0.5), pct(s->exec, s->n, 0.5));
}

int main(int argc, char **argv)
{
    size_t runs = 300, compute_runs = 5;
    const char *out_path = NULL, *json_path = NULL;
    nc_sandbox_dispatch(argc, argv);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--compute-runs") == 0 && i + 1 < argc)
            compute_runs = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out_path = argv[++i];
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json_path = argv[++i];
        else {
            fprintf(stderr, "usage: bench_sandbox [--runs N] [--compute-runs N] [--out FILE.md] [--json FILE]\n");
            return 2;
        }
    }
    if (runs == 0 || runs > 1000000) {
        fprintf(stderr, "bench: --runs must be 1..1000000\n");
        return 2;
    }
    char cache[] = "/tmp/nc-bench-cache-XXXXXX";
    if (!mkdtemp(cache)) {
        perror("mkdtemp");
        return 1;
    }
    nc_sandbox *pooled, *cold, *inproc;
    nc_sandbox_opts po = {.tier = NC_TIER_PROCESS, .pool_size = 2, .cache_dir = cache};
    nc_sandbox_opts co = {.tier = NC_TIER_PROCESS, .pool_size = 0, .cache_dir = cache};
    nc_sandbox_opts io = {.tier = NC_TIER_INPROCESS, .cache_dir = cache};
    if (nc_sandbox_new(&po, &pooled) || nc_sandbox_new(&co, &cold) || nc_sandbox_new(&io, &inproc)) {
        fprintf(stderr, "bench: cannot create sandboxes\n");
        return 1;
    }
    nc_artifact hello, compute;
    if (load_artifact(pooled, "hello", &hello) || load_artifact(pooled, "compute", &compute))
        return 1;

    series s_pool = series_new("hello, process tier, pre-started child", runs);
    series s_cold = series_new("hello, process tier, child spawned per run", runs);
    series s_in = series_new("hello, in-process (floor, no isolation)", runs);
    series c_pool = series_new("compute, process tier, pre-started child", compute_runs);
    series c_in = series_new("compute, in-process (floor)", compute_runs);
    /* Interleave the variants so machine noise hits them alike. */
    for (size_t i = 0; i < runs; i++) {
        if (measure(pooled, &hello, &s_pool, 1, "hello, world\n") || measure(cold, &hello, &s_cold, 1, "hello, world\n") ||
            measure(inproc, &hello, &s_in, 1, "hello, world\n"))
            return 1;
        if (runs >= 10 && i % 10 == 9)
            usleep(1000);   /* let the pool refill as it would between requests */
    }
    for (size_t i = 0; i < compute_runs; i++)
        if (measure(pooled, &compute, &c_pool, 1, NULL) || measure(inproc, &compute, &c_in, 1, NULL))
            return 1;

    struct utsname u;
    uname(&u);
    nc_isolation_report iso;
    nc_isolation_probe(&iso);
    FILE *f = out_path ? fopen(out_path, "w") : stdout;
    if (!f) {
        perror(out_path);
        return 1;
    }
    fprintf(f, "# Sandbox benchmark\n\nMachine: %ld cores, kernel %s %s; Landlock ABI %d, user namespaces %s.\n",
            sysconf(_SC_NPROCESSORS_ONLN), u.release, u.machine, iso.landlock_abi, iso.userns ? "yes" : "no");
    fprintf(f, "Command: `bench_sandbox --runs %zu --compute-runs %zu`. Times in microseconds; phases are medians.\n\n",
            runs, compute_runs);
    fprintf(f, "| variant | runs | total p50 | total p99 | spawn | handoff | isolate | load | instantiate | execute |\n");
    fprintf(f, "|---|---|---|---|---|---|---|---|---|---|\n");
    double pool50 = pct(s_pool.total, s_pool.n, 0.5), in50 = pct(s_in.total, s_in.n, 0.5);
    double cp50 = pct(c_pool.total, c_pool.n, 0.5), ci50 = pct(c_in.total, c_in.n, 0.5);
    report(f, &s_pool);
    report(f, &s_cold);
    report(f, &s_in);
    report(f, &c_pool);
    report(f, &c_in);
    fprintf(f, "\nRatios (medians, same run): process tier / in-process = %.2f for hello, %.3f for compute.\n",
            in50 > 0 ? pool50 / in50 : 0, ci50 > 0 ? cp50 / ci50 : 0);
    if (f != stdout)
        fclose(f);
    if (json_path) {
        FILE *j = fopen(json_path, "w");
        if (!j)
            return 1;
        series *all[] = {&s_pool, &s_cold, &s_in, &c_pool, &c_in};
        const char *keys[] = {"hello_process_pooled", "hello_process_spawned", "hello_inprocess",
                              "compute_process_pooled", "compute_inprocess"};
        fprintf(j, "{");
        for (int k = 0; k < 5; k++)
            fprintf(j, "%s\"%s\":{\"runs\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f}", k ? "," : "", keys[k], all[k]->n,
                    pct(all[k]->total, all[k]->n, 0.5), pct(all[k]->total, all[k]->n, 0.99));
        fprintf(j, "}\n");
        fclose(j);
    }
    nc_sandbox_free(pooled);
    nc_sandbox_free(cold);
    nc_sandbox_free(inproc);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", cache);
    return system(cmd) == 0 ? 0 : 1;
}
