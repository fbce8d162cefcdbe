/* Audit log benchmark: the cost of one append (its own transaction, as the
 * worker does) when the log holds 1,000 / 100,000 / 1,000,000 entries, and
 * `audit verify` speed in entries per second.
 *
 *   bench_audit [--max N] [--out FILE.md] */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "audit/audit.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static json_t *sample_fields(uint64_t i)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:[s], s:i}", "run", "r_0123456789abcdef", "approval_id",
                     "ddf42190f257e73156d01d23fd397da6ff424c63a0e7eb07b138f148a06e7c14", "module_sha256",
                     "5aa1c0a9765a384fec2482947f2a1281cb1cfba73e12cc2eaae67f61f0be22d8", "outcome", "ok", "n",
                     (json_int_t)i, "limits_hit", "stdout_bytes", "threat_score", 12);
}

/* Grows the log to `target` in large transactions (set-up, not measured). */
static int grow(nc_audit *a, uint64_t target)
{
    while (a->tree.size < target) {
        if (nc_db_begin(a->db) != NC_OK)
            return -1;
        for (int k = 0; k < 10000 && a->tree.size < target; k++) {
            json_t *f = sample_fields(a->tree.size);
            nc_err e = nc_audit_append(a, "run.end", 1795000000, f, NULL);
            json_decref(f);
            if (e != NC_OK)
                return -1;
        }
        if (nc_db_commit(a->db) != NC_OK)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t max = 1000000;
    const char *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--max") == 0 && i + 1 < argc)
            max = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out_path = argv[++i];
        else {
            fprintf(stderr, "usage: bench_audit [--max N] [--out FILE.md]\n");
            return 2;
        }
    }
    if (sodium_init() < 0 || max < 1000 || max > 100000000) {
        fprintf(stderr, "bench_audit: --max must be 1000..100000000\n");
        return 2;
    }
    char dir[] = "/tmp/nc-bench-audit-XXXXXX", path[128], msg[256];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/db", dir);
    nc_db *db;
    nc_audit a;
    unsigned char pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    if (nc_db_open(path, &db, msg, sizeof msg) != NC_OK || nc_audit_open(db, "w_bench", &a) != NC_OK) {
        fprintf(stderr, "bench_audit: %s\n", msg);
        return 1;
    }
    FILE *f = out_path ? fopen(out_path, "w") : stdout;
    if (!f)
        return 1;
    fprintf(f, "# Audit log benchmark\n\nCommand: `bench_audit --max %llu`. One append = its own transaction "
               "(BEGIN, append, COMMIT; WAL, synchronous=NORMAL), 1,000 appends per size.\n\n",
            (unsigned long long)max);
    fprintf(f, "| log size | append p50 (us) | append p99 (us) |\n|---|---|---|\n");
    uint64_t sizes[] = {1000, 100000, 1000000, 10000000};
    double verify_rate = 0;
    uint64_t verified = 0;
    for (size_t s = 0; s < 4 && sizes[s] <= max; s++) {
        if (grow(&a, sizes[s]) != 0) {
            fprintf(stderr, "bench_audit: cannot grow the log: %s\n", nc_db_errmsg(db));
            return 1;
        }
        double t[1000];
        for (int i = 0; i < 1000; i++) {
            json_t *fl = sample_fields(a.tree.size);
            double t0 = now_us();
            if (nc_db_begin(db) != NC_OK || nc_audit_append(&a, "run.end", 1795000000, fl, NULL) != NC_OK ||
                nc_db_commit(db) != NC_OK)
                return 1;
            t[i] = now_us() - t0;
            json_decref(fl);
        }
        qsort(t, 1000, sizeof t[0], cmp);
        fprintf(f, "| %llu | %.1f | %.1f |\n", (unsigned long long)sizes[s], t[500], t[990]);
        fflush(f);
    }
    char note[1024];
    if (nc_audit_checkpoint(&a, sk, 0, note, sizeof note) != NC_OK)
        return 1;
    nc_audit_report rep;
    double t0 = now_us();
    if (nc_audit_verify(db, "nightcore/w_bench", pk, NULL, 0, &rep) != NC_OK || !rep.ok) {
        fprintf(stderr, "bench_audit: verify failed: %s\n", rep.error);
        return 1;
    }
    double secs = (now_us() - t0) / 1e6;
    verified = rep.entries;
    verify_rate = (double)verified / secs;
    fprintf(f, "\n`audit verify` of %llu entries: %.2f s, %.0f entries/s.\n", (unsigned long long)verified, secs,
            verify_rate);
    if (f != stdout)
        fclose(f);
    nc_db_close(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
