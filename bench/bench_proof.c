/* Inclusion proof benchmark: the time to make one receipt's inclusion proof
 * in a log of N entries, the way the worker does (`run.receipt`), with the
 * stored tree nodes (nc_audit_inclusion_proof: O(log n) rows) and with the
 * algorithm they replaced (every leaf of the tree read, every subtree root
 * beside the path recomputed: O(n)). Both run in one loop, alternating, on
 * the same entries, so that noise hits them alike; each proof is checked to
 * be the same hashes from both and to verify against the root. Then the new
 * one runs on its own (the old one's full read evicts SQLite's page cache).
 *
 *   bench_proof [--entries N] [--runs R] [--out FILE.md] */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* ---- the algorithm before the stored nodes (O(n)), for comparison ---- */

typedef struct {
    uint8_t (*leaves)[NC_SHA256_LEN];
    uint64_t n, size;
} leaf_reader;

static nc_err read_leaf(const nc_auditlog_row *row, void *ctx)
{
    leaf_reader *r = ctx;
    if (!row->leaf || row->seq != (int64_t)r->n || r->n == r->size)
        return NC_ERR_MALFORMED;
    memcpy(r->leaves[r->n++], row->leaf, NC_SHA256_LEN);
    return NC_OK;
}

static void subtree_root(const uint8_t (*leaves)[NC_SHA256_LEN], uint64_t n, uint8_t out[NC_SHA256_LEN])
{
    nc_audit_tree t;
    nc_audit_tree_init(&t);
    for (uint64_t i = 0; i < n; i++)
        nc_audit_tree_append(&t, leaves[i]);
    nc_audit_tree_root(&t, out);
}

static void old_path(const uint8_t (*leaves)[NC_SHA256_LEN], uint64_t m, uint64_t n, uint8_t (*proof)[NC_SHA256_LEN],
                     size_t *count)
{
    if (n <= 1)
        return;
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    if (m < k) {
        old_path(leaves, m, k, proof, count);
        subtree_root(leaves + k, n - k, proof[(*count)++]);
    } else {
        old_path(leaves + k, m - k, n - k, proof, count);
        subtree_root(leaves, k, proof[(*count)++]);
    }
}

static nc_err old_proof(nc_db *db, uint64_t seq, uint64_t size, uint8_t (*proof)[NC_SHA256_LEN], size_t *n)
{
    leaf_reader r = {malloc((size_t)size * NC_SHA256_LEN), 0, size};
    const nc_auditlog_range range = {.to = size};
    *n = 0;
    if (!r.leaves)
        return NC_ERR_NOMEM;
    nc_err err = nc_auditlog_each(db, &range, read_leaf, &r);
    if (err == NC_OK && r.n != size)
        err = NC_ERR_MALFORMED;
    if (err == NC_OK)
        old_path((const uint8_t(*)[NC_SHA256_LEN])r.leaves, seq, size, proof, n);
    free(r.leaves);
    return err;
}

/* ---- */

/* xorshift64: the same entries in every run */
static uint64_t next_seq(uint64_t *x, uint64_t entries)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x % entries;
}

static nc_err grow(nc_audit *a, uint64_t target)
{
    while (a->tree.size < target) {
        nc_err err = nc_db_begin(a->db);
        for (int k = 0; err == NC_OK && k < 10000 && a->tree.size < target; k++) {
            json_t *f = json_pack("{s:s, s:s, s:I}", "run", "r_0123456789abcdef", "outcome", "ok", "n",
                                  (json_int_t)a->tree.size);
            err = f ? nc_audit_append(a, "run.end", 1795000000, f, NULL) : NC_ERR_NOMEM;
            json_decref(f);
        }
        if (err == NC_OK)
            err = nc_db_commit(a->db);
        if (err != NC_OK)
            return err;
    }
    return NC_OK;
}

int main(int argc, char **argv)
{
    uint64_t entries = 100000, runs = 201;
    const char *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc)
            entries = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out_path = argv[++i];
        else {
            fprintf(stderr, "usage: bench_proof [--entries N] [--runs R] [--out FILE.md]\n");
            return 2;
        }
    }
    if (sodium_init() < 0 || entries < 2 || entries > 10000000 || runs < 1 || runs > 100000) {
        fprintf(stderr, "bench_proof: --entries must be 2..10000000 and --runs 1..100000\n");
        return 2;
    }
    char dir[] = "/tmp/nc-bench-proof-XXXXXX", path[128], msg[256];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/db", dir);
    nc_db *db;
    nc_audit a;
    if (nc_db_open(path, &db, msg, sizeof msg) != NC_OK || nc_audit_open(db, "w_bench", &a) != NC_OK) {
        fprintf(stderr, "bench_proof: %s\n", msg);
        return 1;
    }
    if (grow(&a, entries) != NC_OK) {
        fprintf(stderr, "bench_proof: cannot grow the log: %s\n", nc_db_errmsg(db));
        return 1;
    }
    uint8_t root[NC_SHA256_LEN], leaf[NC_SHA256_LEN], *entry;
    uint8_t proof_new[NC_AUDIT_MAX_LEVELS][NC_SHA256_LEN], proof_old[NC_AUDIT_MAX_LEVELS][NC_SHA256_LEN];
    double *t_new = calloc(runs, sizeof *t_new), *t_old = calloc(runs, sizeof *t_old),
           *t_alone = calloc(runs, sizeof *t_alone);
    if (!t_new || !t_old || !t_alone)
        return 1;
    nc_audit_tree_root(&a.tree, root);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    /* side by side: each O(n) proof also flushes SQLite's page cache (it
     * reads the whole log), so the O(log n) one after it reads its nodes
     * from the OS's cache */
    for (uint64_t i = 0; i < runs; i++) {
        uint64_t seq = next_seq(&x, entries);
        size_t n_new = 0, n_old = 0, len;
        double t0 = now_us();
        nc_err e1 = nc_audit_inclusion_proof(db, seq, entries, proof_new, NC_AUDIT_MAX_LEVELS, &n_new);
        double t1 = now_us();
        nc_err e2 = old_proof(db, seq, entries, proof_old, &n_old);
        double t2 = now_us();
        t_new[i] = t1 - t0;
        t_old[i] = t2 - t1;
        if (e1 != NC_OK || e2 != NC_OK || n_new != n_old || memcmp(proof_new, proof_old, n_new * NC_SHA256_LEN) != 0 ||
            nc_auditlog_entry(db, seq, &entry, &len, leaf) != NC_OK) {
            fprintf(stderr, "bench_proof: the proofs of entry %llu differ or failed\n", (unsigned long long)seq);
            return 1;
        }
        free(entry);
        if (!nc_audit_inclusion_check(seq, entries, leaf, (const uint8_t(*)[NC_SHA256_LEN])proof_new, n_new, root)) {
            fprintf(stderr, "bench_proof: the proof of entry %llu does not verify\n", (unsigned long long)seq);
            return 1;
        }
    }
    /* then the O(log n) ones on their own, as a worker makes them between appends */
    for (uint64_t i = 0; i < runs; i++) {
        uint64_t seq = next_seq(&x, entries);
        size_t n_new = 0;
        double t0 = now_us();
        if (nc_audit_inclusion_proof(db, seq, entries, proof_new, NC_AUDIT_MAX_LEVELS, &n_new) != NC_OK)
            return 1;
        t_alone[i] = now_us() - t0;
    }
    qsort(t_new, runs, sizeof *t_new, cmp);
    qsort(t_old, runs, sizeof *t_old, cmp);
    qsort(t_alone, runs, sizeof *t_alone, cmp);
    size_t p50 = (size_t)(runs / 2), p99 = (size_t)(runs * 99 / 100);
    FILE *f = out_path ? fopen(out_path, "w") : stdout;
    if (!f)
        return 1;
    fprintf(f, "# Inclusion proof benchmark\n\nCommand: `bench_proof --entries %llu --runs %llu`. One proof of a "
               "random entry in the tree of all %llu entries, as `run.receipt` makes it. The two algorithms "
               "alternate in one loop and give the same hashes; the O(n) one reads the whole log each time, which "
               "also evicts the nodes from SQLite's page cache, so the O(log n) one is measured again on its own.\n\n",
            (unsigned long long)entries, (unsigned long long)runs, (unsigned long long)entries);
    fprintf(f, "| algorithm | p50 (us) | p99 (us) |\n|---|---|---|\n");
    fprintf(f, "| stored nodes, O(log n) rows, alternating with the O(n) one | %.1f | %.1f |\n", t_new[p50],
            t_new[p99]);
    fprintf(f, "| stored nodes, O(log n) rows, on their own | %.1f | %.1f |\n", t_alone[p50], t_alone[p99]);
    fprintf(f, "| every leaf read and rehashed, O(n) (before) | %.1f | %.1f |\n", t_old[p50], t_old[p99]);
    fprintf(f, "\nRatio of the medians, O(n) / O(log n): %.0f alternating, %.0f on its own.\n", t_old[p50] / t_new[p50],
            t_old[p50] / t_alone[p50]);
    if (f != stdout)
        fclose(f);
    free(t_alone);
    free(t_new);
    free(t_old);
    nc_db_close(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
