/* Trust benchmark: one approval verification (SSHSIG parse + Ed25519 verify +
 * allowed_signers lookup + statement parse + checks), loading the trust store,
 * and SHA-256 throughput on 1 MB and 10 MB modules.
 *
 *   bench_trust [--runs N] [--out FILE.md] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/fs.h"
#include "common/hash.h"
#include "trust/sign.h"
#include "trust/verify.h"

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

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp);
    return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

int main(int argc, char **argv)
{
    size_t runs = 5000;
    const char *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out_path = argv[++i];
        else {
            fprintf(stderr, "usage: bench_trust [--runs N] [--out FILE.md]\n");
            return 2;
        }
    }
    if (runs < 10 || runs > 10000000) {
        fprintf(stderr, "bench_trust: --runs must be 10..10000000\n");
        return 2;
    }
    char dir[] = "/tmp/nc-bench-trust-XXXXXX", key[4200], pub[4300], trust[4200], record[4200], msg[512];
    if (!mkdtemp(dir))
        return 1;
    snprintf(key, sizeof key, "%s/key", dir);
    snprintf(pub, sizeof pub, "%s.pub", key);
    snprintf(trust, sizeof trust, "%s/trust", dir);
    snprintf(record, sizeof record, "%s/record", dir);
    uint8_t *publine = NULL;
    size_t publen;
    if (nc_keygen_ed25519(key, "bench", true, msg, sizeof msg) || nc_trust_init(trust, record, msg, sizeof msg) ||
        nc_read_file(pub, 4096, &publine, &publen)) {
        fprintf(stderr, "bench_trust: setup failed: %s\n", msg);
        return 1;
    }
    publine = realloc(publine, publen + 1);
    publine[publen] = '\0';
    if (nc_trust_add_key(trust, record, (const char *)publine, "bench@nightcore", NC_SSHSIG_NAMESPACE, msg, sizeof msg) != NC_OK) {
        fprintf(stderr, "bench_trust: %s\n", msg);
        return 1;
    }
    static const uint8_t module[] = "\0asm\1\0\0\0";
    nc_statement st;
    memset(&st, 0, sizeof st);
    snprintf(st.name, sizeof st.name, "hello");
    if (nc_sha256(module, sizeof module, st.sha256) != NC_OK)
        return 1;
    snprintf(st.approver, sizeof st.approver, "bench@nightcore");
    snprintf(st.worker, sizeof st.worker, "w_bench");
    snprintf(st.submission, sizeof st.submission, "s_bench");
    st.caps.args = true;
    st.limits = nc_policy_builtin("default")->limits;
    st.issued_at = st.not_before = (uint64_t)time(NULL) - 1;
    st.expires_at = st.issued_at + 3600;
    st.max_runs = 10;
    snprintf(st.invokers[0], sizeof st.invokers[0], "operator");
    st.ninvokers = 1;
    st.trust_version = 1;
    char *text;
    size_t text_len;
    uint8_t *sig;
    size_t sig_len;
    if (nc_statement_build(&st, &text, &text_len, msg, sizeof msg) ||
        nc_sign_with_ssh_keygen(key, NC_SSHSIG_NAMESPACE, text, text_len, &sig, &sig_len, msg, sizeof msg)) {
        fprintf(stderr, "bench_trust: %s\n", msg);
        return 1;
    }
    nc_trust_store ts;
    double *verify = calloc(runs, sizeof(double)), *load = calloc(runs / 10, sizeof(double));
    for (size_t i = 0; i < runs / 10; i++) {
        double t0 = now_us();
        if (nc_trust_load(trust, record, &ts, msg, sizeof msg) != NC_OK)
            return 1;
        load[i] = now_us() - t0;
        nc_trust_cleanup(&ts);
    }
    if (nc_trust_load(trust, record, &ts, msg, sizeof msg) != NC_OK)
        return 1;
    static nc_caps none;
    nc_verify_input in = {.statement = (const uint8_t *)text, .statement_len = text_len, .signature = sig,
                          .signature_len = sig_len, .trust = &ts, .worker_id = "w_bench", .now = time(NULL),
                          .module = module, .module_len = sizeof module, .invoker = "operator", .requested = &none};
    for (size_t i = 0; i < runs; i++) {
        nc_verify_output vo;
        double t0 = now_us();
        nc_err err = nc_verify_approval(&in, &vo, msg, sizeof msg);
        verify[i] = now_us() - t0;
        if (err != NC_OK) {
            fprintf(stderr, "bench_trust: verification failed: %s\n", msg);
            return 1;
        }
        nc_verify_output_cleanup(&vo);
    }
    size_t sizes[] = {1u << 20, 10u << 20};
    double mbps[2];
    for (int k = 0; k < 2; k++) {
        uint8_t *buf = malloc(sizes[k]), h[32];
        memset(buf, 0x5a, sizes[k]);
        double t[9];
        for (int r = 0; r < 9; r++) {
            double t0 = now_us();
            if (nc_sha256(buf, sizes[k], h) != NC_OK)
                return 1;
            t[r] = now_us() - t0;
        }
        mbps[k] = (double)sizes[k] / pct(t, 9, 0.5);   /* bytes/us = MB/s */
        free(buf);
    }
    FILE *f = out_path ? fopen(out_path, "w") : stdout;
    if (!f)
        return 1;
    fprintf(f, "# Trust benchmark\n\nCommand: `bench_trust --runs %zu`. Times in microseconds.\n\n", runs);
    fprintf(f, "| measurement | p50 | p99 |\n|---|---|---|\n");
    fprintf(f, "| verify one approval (SSHSIG + Ed25519 + allowed_signers + statement + checks) | %.1f | %.1f |\n",
            pct(verify, runs, 0.5), pct(verify, runs, 0.99));
    fprintf(f, "| load the trust store (3 files, 1 key) | %.1f | %.1f |\n", pct(load, runs / 10, 0.5),
            pct(load, runs / 10, 0.99));
    fprintf(f, "\n| module hash (SHA-256, OpenSSL) | throughput | time |\n|---|---|---|\n");
    fprintf(f, "| 1 MB | %.0f MB/s | %.2f ms |\n| 10 MB | %.0f MB/s | %.2f ms |\n", mbps[0], 1.048576 / mbps[0] * 1000,
            mbps[1], 10.48576 / mbps[1] * 1000);
    if (f != stdout)
        fclose(f);
    nc_trust_cleanup(&ts);
    free(text);
    free(sig);
    free(publine);
    free(verify);
    free(load);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
