/* The vm tier: real microVMs (QEMU microvm, TCG here), the guest runner, the
 * host's handling of what the guest sends. Kept small: every VM run boots a
 * kernel under emulation. The hostile corpus in both tiers is
 * test_tier_corpus (make test-vm). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "sandbox_harness.h"
#include "sandbox/internal.h"
#include "sandbox/vm.h"
#include "sandbox/vm_host.h"

static char cache_dir[] = "/tmp/nc-test-vm-XXXXXX";
static nc_sandbox *compiler;
static nc_vm_host *vmh;
static char kernel[4096], initrd[4096];

static int group_setup(void **state)
{
    (void)state;
    const char *bin = getenv("NC_BIN");
    if (!mkdtemp(cache_dir) || !bin)
        return -1;
    snprintf(kernel, sizeof kernel, "%s/nightcore-vm/vmlinuz", bin);
    snprintf(initrd, sizeof initrd, "%s/nightcore-vm/initramfs.img", bin);
    nc_sandbox_opts io = {.tier = NC_TIER_INPROCESS, .cache_dir = cache_dir};
    if (nc_sandbox_new(&io, &compiler) != NC_OK)
        return -1;
    nc_vm_host_opts vo = {.kernel = kernel, .initrd = initrd, .pool_size = 1,
                          .console_log = getenv("NC_VM_CONSOLE_LOG")};
    char msg[512];
    if (nc_vm_host_new(&vo, &vmh, msg, sizeof msg) != NC_OK) {
        print_error("vm host: %s\n", msg);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    nc_vm_host_free(vmh);
    nc_sandbox_free(compiler);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", cache_dir);
    return system(cmd) == 0 ? 0 : -1;
}

typedef struct {
    uint8_t *bytes;
    size_t len;
    nc_artifact art;
} vm_artifact;

static void load_artifact(const char *name, bool fuel, vm_artifact *a)
{
    char msg[512] = "", path[4096];
    uint8_t *wasm = NULL;
    size_t len = 0;
    memset(a, 0, sizeof *a);
    assert_int_equal(nc_read_file(fixture_path(name, path, sizeof path), 64u << 20, &wasm, &len), NC_OK);
    nc_err err = nc_vm_compile(wasm, len, fuel, &a->bytes, &a->len, msg, sizeof msg);
    free(wasm);
    if (err != NC_OK)
        fail_msg("compile %s: %s (%s)", name, nc_strerror(err), msg);
    assert_int_equal(nc_sha256(a->bytes, a->len, a->art.sha256), NC_OK);
    a->art.fuel = fuel;
}

static void run_vm(const char *name, const nc_run_spec *spec, nc_run_result *res)
{
    vm_artifact a;
    char msg[512] = "";
    load_artifact(name, spec->limits.fuel != 0, &a);
    memset(res, 0, sizeof *res);
    nc_err err = nc_vm_host_run(vmh, a.bytes, a.len, a.art.fuel, a.art.sha256, spec, -1, res, msg, sizeof msg);
    free(a.bytes);
    if (err != NC_OK)
        fail_msg("run %s in a microVM: %s (%s)", name, nc_strerror(err), msg);
}

static void assert_outcome(const nc_run_result *r, nc_outcome want)
{
    if (r->outcome != want)
        fail_msg("outcome %s (%s), wanted %s", nc_outcome_name(r->outcome), r->message, nc_outcome_name(want));
}

static void test_hello_in_vm(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_vm("hello", &s, &r);
    assert_outcome(&r, NC_OUTCOME_OK);
    assert_int_equal(r.out_len, 13);
    assert_memory_equal(r.out, "hello, world\n", 13);
    assert_int_equal(r.calls[NC_WASI_FN_fd_write], 1);
    assert_int_equal(r.isolation.tier, NC_TIER_VM);
    assert_true(r.isolation.accel == NC_VM_ACCEL_TCG || r.isolation.accel == NC_VM_ACCEL_KVM);
    assert_true(r.isolation.seccomp);
    assert_true(r.isolation.no_new_privs);
    assert_true(r.isolation.rlimits);
    print_message("vm: accel %s, pooled %d, %u MiB, boot %.0f ms, hand-off %.0f ms, total %.0f ms\n",
                  nc_vm_accel_name(r.isolation.accel), r.isolation.vm_pooled, r.isolation.vm_memory_mib,
                  r.t_spawn_ns / 1e6, r.t_handoff_ns / 1e6, r.t_total_ns / 1e6);
    nc_run_result_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_in_vm),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
