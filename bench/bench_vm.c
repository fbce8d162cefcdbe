/* The vm tier's costs, each figure labelled with the accelerator it ran on:
 *   boot      cold boot of a microVM (QEMU spawned until the guest runner's
 *             hello), and the memory (RSS) of its QEMU process once booted
 *             and waiting, which is what a pooled VM holds;
 *   runs      one run of a module end to end (nc_sandbox_run) in the process
 *             tier, in the vm tier from the pool (the next run waits until the
 *             pool has a VM again), and in the vm tier with a cold boot (no
 *             pool), interleaved;
 * Usage: bench_vm [--boots N] [--runs N] [--module NAME | --wasm FILE] [--accel auto|kvm|tcg]
 * (runs get 120 s and 256 MiB of linear memory: real programs, emulated)
 * (NC_BIN: the build's bin/, for nightcore-vm/; NC_FIXTURES: the fixtures). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/fs.h"
#include "sandbox/internal.h"
#include "sandbox/vm_host.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void stats(const char *what, const char *accel, uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    printf("%-34s %-4s n=%-3zu p50 %9.1f ms  mean %9.1f ms  min %9.1f ms  max %9.1f ms\n", what, accel, n,
           v[n / 2] / 1e6, (double)sum / (double)n / 1e6, v[0] / 1e6, v[n - 1] / 1e6);
}

static long rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "re");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

static bool pool_ready(nc_sandbox *sb)
{
    nc_tier_status st[NC_TIER_COUNT];
    size_t n = nc_sandbox_tiers(sb, st, NC_TIER_COUNT);
    for (size_t i = 0; i < n; i++)
        if (st[i].tier == NC_TIER_VM)
            return st[i].pool_ready > 0;
    return false;
}

static nc_sandbox *new_sandbox(const char *cache, const char *kernel, const char *initrd, const char *accel,
                               unsigned vm_pool)
{
    nc_sandbox *sb = NULL;
    nc_sandbox_opts o = {.tier = NC_TIER_PROCESS, .pool_size = 1, .cache_dir = cache, .vm_kernel = kernel,
                         .vm_initrd = initrd, .vm_accel = accel, .vm_pool_size = vm_pool};
    char msg[512];
    if (nc_sandbox_new(&o, &sb) != NC_OK || nc_sandbox_tier_check(sb, NC_TIER_VM, 0, msg, sizeof msg) != NC_OK) {
        fprintf(stderr, "bench_vm: the vm tier is not available\n");
        exit(1);
    }
    return sb;
}

static uint64_t run_once(nc_sandbox *sb, const nc_artifact *art, nc_run_result *r)
{
    static const char *const argv0[] = {"module"};
    nc_run_spec s;
    memset(&s, 0, sizeof s);
    nc_limits_default(&s.limits);
    s.limits.timeout_ms = 120000;              /* real programs under emulation */
    s.limits.memory_bytes = 256ull << 20;
    s.args = argv0;
    s.nargs = 1;
    char msg[512];
    uint64_t t0 = nc_now_ns();
    if (nc_sandbox_run(sb, art, &s, r, msg, sizeof msg) != NC_OK || r->outcome != NC_OUTCOME_OK) {
        fprintf(stderr, "bench_vm: run failed: %s %s\n", msg, r->message);
        exit(1);
    }
    return nc_now_ns() - t0;
}

int main(int argc, char **argv)
{
    nc_sandbox_dispatch(argc, argv);   /* this program is also the process tier's sandbox child */
    unsigned boots = 5, runs = 10;
    const char *module = "hello", *accel = "auto", *wasm_file = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--boots") == 0)
            boots = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--module") == 0)
            module = argv[i + 1];
        else if (strcmp(argv[i], "--wasm") == 0)
            wasm_file = argv[i + 1];
        else if (strcmp(argv[i], "--accel") == 0)
            accel = argv[i + 1];
    }
    if (boots < 1 || runs < 1 || boots > 1000 || runs > 1000) {
        fprintf(stderr, "usage: bench_vm [--boots N] [--runs N] [--module NAME | --wasm FILE] [--accel auto|kvm|tcg]\n");
        return 2;
    }
    const char *bin = getenv("NC_BIN") ? getenv("NC_BIN") : "build/bin";
    const char *fx = getenv("NC_FIXTURES") ? getenv("NC_FIXTURES") : "build/fixtures";
    char kernel[4096], initrd[4096], wasm_path[4096], cache[] = "/tmp/nc-bench-vm-XXXXXX";
    snprintf(kernel, sizeof kernel, "%s/nightcore-vm/vmlinuz", bin);
    snprintf(initrd, sizeof initrd, "%s/nightcore-vm/initramfs.img", bin);
    if (wasm_file) {   /* a real program: named by its file */
        snprintf(wasm_path, sizeof wasm_path, "%s", wasm_file);
        const char *slash = strrchr(wasm_file, '/');
        module = slash ? slash + 1 : wasm_file;
    } else {
        snprintf(wasm_path, sizeof wasm_path, "%s/%s.wasm", fx, module);
    }
    if (!mkdtemp(cache))
        return 1;

    /* Cold boots, and what a booted, waiting VM holds. */
    char msg[512];
    nc_vm_host_opts vo = {.kernel = kernel, .initrd = initrd,
                          .accel = strcmp(accel, "kvm") == 0   ? NC_VM_ACCEL_CHOICE_KVM
                                   : strcmp(accel, "tcg") == 0 ? NC_VM_ACCEL_CHOICE_TCG
                                                               : NC_VM_ACCEL_CHOICE_AUTO};
    nc_vm_host *h = NULL;
    if (nc_vm_host_new(&vo, &h, msg, sizeof msg) != NC_OK) {
        fprintf(stderr, "bench_vm: %s\n", msg);
        return 1;
    }
    char note[256];
    nc_vm_accel a = nc_vm_host_accel(h, true, note, sizeof note);
    const char *an = nc_vm_accel_name(a);
    printf("accelerator: %s (%s)\n", an, note);
    nc_run_spec dflt;
    memset(&dflt, 0, sizeof dflt);
    nc_limits_default(&dflt.limits);
    uint32_t mem = nc_vm_memory_mib(&dflt, 0);
    uint64_t *boot = calloc(boots, sizeof *boot), *rss = calloc(boots, sizeof *rss);
    for (unsigned i = 0; i < boots; i++) {
        int sock, pid;
        if (nc_vm_host_boot(h, mem, &sock, &pid, &boot[i], msg, sizeof msg) != NC_OK) {
            fprintf(stderr, "bench_vm: boot: %s\n", msg);
            return 1;
        }
        usleep(200 * 1000);   /* the guest waits for its run: what it holds now is what a pooled VM holds */
        long kib = rss_kib(pid);
        rss[i] = kib > 0 ? (uint64_t)kib : 0;
        nc_vm_host_kill(sock, pid);
    }
    nc_vm_host_free(h);
    stats("vm boot, cold (spawn to hello)", an, boot, boots);
    qsort(rss, boots, sizeof *rss, cmp_u64);
    printf("%-34s %-4s n=%-3u median %.1f MiB, max %.1f MiB: RSS of QEMU for a booted VM waiting for its run "
           "(guest memory %u MiB)\n", "vm memory per pooled VM", an, boots, rss[boots / 2] / 1024.0,
           rss[boots - 1] / 1024.0, mem);

    /* Runs: the process tier, the vm tier from the pool, the vm tier cold. */
    uint8_t *wasm = NULL;
    size_t wlen = 0;
    if (nc_read_file(wasm_path, 64u << 20, &wasm, &wlen) != NC_OK) {
        fprintf(stderr, "bench_vm: cannot read %s\n", wasm_path);
        return 1;
    }
    nc_sandbox *pooled = new_sandbox(cache, kernel, initrd, accel, 1);
    nc_sandbox *cold = new_sandbox(cache, kernel, initrd, accel, 0);
    nc_artifact pa, va;
    if (nc_artifact_compile_tier(pooled, NC_TIER_PROCESS, wasm, wlen, false, &pa, msg, sizeof msg) != NC_OK ||
        nc_artifact_compile_tier(pooled, NC_TIER_VM, wasm, wlen, false, &va, msg, sizeof msg) != NC_OK) {
        fprintf(stderr, "bench_vm: compile: %s\n", msg);
        return 1;
    }
    uint64_t *tp = calloc(runs, sizeof *tp), *tv = calloc(runs, sizeof *tv), *tc = calloc(runs, sizeof *tc);
    uint64_t *inguest = calloc(runs, sizeof *inguest);
    unsigned misses = 0;
    for (unsigned i = 0; i < runs; i++) {
        nc_run_result r;
        tp[i] = run_once(pooled, &pa, &r);
        nc_run_result_cleanup(&r);
        for (int w = 0; w < 6000 && !pool_ready(pooled); w++)
            usleep(10 * 1000);
        tv[i] = run_once(pooled, &va, &r);
        misses += !r.isolation.vm_pooled;
        inguest[i] = r.t_load_ns + r.t_instantiate_ns + r.t_execute_ns;
        nc_run_result_cleanup(&r);
        tc[i] = run_once(cold, &va, &r);
        nc_run_result_cleanup(&r);
    }
    char what[64];
    snprintf(what, sizeof what, "run %s, process tier", module);
    stats(what, "-", tp, runs);
    snprintf(what, sizeof what, "run %s, vm tier from the pool", module);
    stats(what, an, tv, runs);
    snprintf(what, sizeof what, "  of which load+run in the guest");
    stats(what, an, inguest, runs);
    snprintf(what, sizeof what, "run %s, vm tier cold (no pool)", module);
    stats(what, an, tc, runs);
    printf("pool misses: %u of %u (a miss boots a VM during the run)\n", misses, runs);
    nc_sandbox_free(pooled);
    nc_sandbox_free(cold);
    free(wasm);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", cache);
    return system(cmd) == 0 ? 0 : 1;
}
