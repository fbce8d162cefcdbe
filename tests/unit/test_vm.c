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
    nc_err err = nc_exec_compile(wasm, len, fuel, NC_COMPILE_TARGET_VM, &a->bytes, &a->len, msg, sizeof msg);
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
    nc_err err = nc_vm_host_run(vmh, a.bytes, a.len, a.art.fuel, a.art.sha256, spec, NULL, res, msg, sizeof msg);
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
    char note[256];
    nc_vm_host_accel(vmh, false, note, sizeof note);
    print_message("vm: %s\n", note);
    print_message("vm: accel %s, pooled %d, %u MiB, boot %.0f ms, hand-off %.0f ms, total %.0f ms\n",
                  nc_vm_accel_name(r.isolation.accel), r.isolation.vm_pooled, r.isolation.vm_memory_mib,
                  r.t_spawn_ns / 1e6, r.t_handoff_ns / 1e6, r.t_total_ns / 1e6);
    nc_run_result_cleanup(&r);
}

/* ---- what a guest sees of its machine ---- */

typedef struct {
    char *text;
    size_t len;
} probe_report;

static bool has_line(const probe_report *r, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = r->text; p && p < r->text + r->len;) {
        const char *nl = memchr(p, '\n', (size_t)(r->text + r->len - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(r->text + r->len - p);
        if (l == n && memcmp(p, line, n) == 0)
            return true;
        p = nl ? nl + 1 : NULL;
    }
    return false;
}

/* Every line with this prefix must be one of allowed (NULL-terminated). */
static void only_lines(const probe_report *r, const char *prefix, const char *const *allowed)
{
    size_t pl = strlen(prefix);
    for (const char *p = r->text; p && p < r->text + r->len;) {
        const char *nl = memchr(p, '\n', (size_t)(r->text + r->len - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(r->text + r->len - p);
        if (l >= pl && memcmp(p, prefix, pl) == 0) {
            bool ok = false;
            for (const char *const *a = allowed; *a && !ok; a++)
                ok = strlen(*a) == l && memcmp(*a, p, l) == 0;
            if (!ok)
                fail_msg("the guest saw: %.*s", (int)l, p);
        }
        p = nl ? nl + 1 : NULL;
    }
}

/* The probe guest (tests/vm/probe_init.c) booted by the tier's own launcher,
 * with the same machine, devices and kernel command line as every run. */
static void test_guest_sees_no_host_file_no_network_no_environment(void **state)
{
    (void)state;
    const char *bin = getenv("NC_BIN");
    char probe[4096], msg[512] = "";
    snprintf(probe, sizeof probe, "%s/nightcore-vm-test/probe.img", bin);
    /* A canary in this process's environment and on the host's disk. */
    setenv("NC_VM_CANARY", "host-secret-7f3a", 1);
    nc_vm_host_opts vo = {.kernel = kernel, .initrd = probe, .accel = NC_VM_ACCEL_CHOICE_TCG};
    nc_vm_host *ph = NULL;
    assert_int_equal(nc_vm_host_new(&vo, &ph, msg, sizeof msg), NC_OK);
    int sock = -1, pid = -1;
    uint64_t boot_ns = 0;
    nc_err err = nc_vm_host_boot(ph, 160, &sock, &pid, &boot_ns, msg, sizeof msg);
    if (err != NC_OK)
        fail_msg("probe guest: %s", msg);
    probe_report r = {NULL, 0};
    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(nc_read_fd(sock, 1u << 20, &data, &len), NC_OK);   /* until the guest powers off */
    r.text = (char *)data;
    r.len = len;
    nc_vm_host_kill(sock, pid);
    nc_vm_host_free(ph);
    assert_true(has_line(&r, "end"));
    print_message("probe guest: %zu bytes of report, booted in %.0f ms\n", r.len, boot_ns / 1e6);
    /* the root filesystem: the initramfs and the mount points, nothing else */
    static const char *const files[] = {"file /init", "file /modules", "file /modules.order", "file /dev",
                                        "file /proc", "file /sys", "file /root", NULL};
    char line[256];
    for (const char *p = r.text; p < r.text + r.len;) {
        const char *nl = memchr(p, '\n', (size_t)(r.text + r.len - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(r.text + r.len - p);
        snprintf(line, sizeof line, "%.*s", (int)l, p);
        if (strncmp(line, "file ", 5) == 0) {
            bool ok = strncmp(line, "file /modules/", 14) == 0 && strstr(line, ".ko ");
            for (const char *const *f = files; *f && !ok; f++)
                ok = strncmp(line, *f, strlen(*f)) == 0 && line[strlen(*f)] == ' ';
            if (!ok)
                fail_msg("a file in the guest that the initramfs does not hold: %s", line);
        }
        p = nl ? nl + 1 : r.text + r.len;
    }
    assert_true(has_line(&r, "file /modules/virtio_console.ko") || strstr(r.text, "file /modules/virtio_console.ko "));
    /* no network interface but loopback, no disk, no PCI device, one virtio
     * device: the console (virtio id 3) */
    static const char *const nets[] = {"net lo", NULL};
    only_lines(&r, "net ", nets);
    static const char *const none[] = {NULL};
    only_lines(&r, "block ", none);
    only_lines(&r, "pci ", none);
    static const char *const virtio[] = {"virtio 0x0003", NULL};
    only_lines(&r, "virtio ", virtio);
    assert_true(has_line(&r, "virtio 0x0003"));
    /* the environment: only what the kernel gives init, none of the host's */
    static const char *const env[] = {"env HOME=/", "env TERM=linux", NULL};
    only_lines(&r, "env ", env);
    assert_null(memmem(r.text, r.len, "host-secret-7f3a", 16));
    free(data);
}

/* ---- a guest that lies: the host survives and says what happened ---- */

static nc_vm_host *hostile_host(const char *mode, uint32_t boot_timeout_ms, char *dir, size_t dir_len)
{
    const char *src = getenv("NC_SOURCE");
    char qemu[4096], mode_file[4096], msg[512] = "";
    snprintf(qemu, sizeof qemu, "%s/tests/vm/hostile_qemu", src ? src : ".");
    snprintf(dir, dir_len, "%s/mode-%s", cache_dir, mode);
    snprintf(mode_file, sizeof mode_file, "%s", dir);
    char words[128];
    int n = snprintf(words, sizeof words, "%s %u\n", mode, (unsigned)NC_WASI_FN_COUNT);
    assert_int_equal(nc_write_file_atomic(mode_file, words, (size_t)n, 0600), NC_OK);
    nc_vm_host_opts vo = {.qemu = qemu, .kernel = mode_file, .initrd = mode_file, .accel = NC_VM_ACCEL_CHOICE_TCG,
                          .boot_timeout_ms = boot_timeout_ms};
    nc_vm_host *h = NULL;
    if (nc_vm_host_new(&vo, &h, msg, sizeof msg) != NC_OK)
        fail_msg("hostile host: %s", msg);
    return h;
}

typedef struct {
    char out[256];
    size_t len;
} shown_output;

static void collect(void *ctx, int stream, const uint8_t *data, size_t len)
{
    shown_output *o = ctx;
    if (stream == 1 && len <= sizeof o->out - o->len) {
        memcpy(o->out + o->len, data, len);
        o->len += len;
    }
}

static nc_err run_hostile_ex(const char *mode, uint32_t timeout_ms, const nc_run_hooks *hooks, nc_run_result *res,
                             char *msg, size_t msg_len);

static nc_err run_hostile(const char *mode, uint32_t timeout_ms, nc_run_result *res, char *msg, size_t msg_len)
{
    return run_hostile_ex(mode, timeout_ms, NULL, res, msg, msg_len);
}

static nc_err run_hostile_ex(const char *mode, uint32_t timeout_ms, const nc_run_hooks *hooks, nc_run_result *res,
                             char *msg, size_t msg_len)
{
    char path[4096];
    nc_vm_host *h = hostile_host(mode, 3000, path, sizeof path);
    nc_run_spec s = default_spec();
    s.limits.timeout_ms = timeout_ms;
    uint8_t fake_artifact[64], sha[NC_SHA256_LEN];
    memset(fake_artifact, 0x5a, sizeof fake_artifact);
    memset(sha, 0, sizeof sha);
    memset(res, 0, sizeof *res);
    nc_err err = nc_vm_host_run(h, fake_artifact, sizeof fake_artifact, false, sha, &s, hooks, res, msg, msg_len);
    nc_vm_host_free(h);
    return err;
}

static void test_hostile_guest_before_hello(void **state)
{
    (void)state;
    static const char *const modes[] = {"exit-before-hello", "bad-hello", "wrong-version", "short-hello", "no-hello"};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        nc_run_result r;
        char msg[512] = "";
        nc_err err = run_hostile(modes[i], 1000, &r, msg, sizeof msg);
        /* the run could not start: an error (the worker gives the run back), with why */
        if (err != NC_ERR_CHILD)
            fail_msg("%s: %s (%s)", modes[i], nc_strerror(err), msg);
        print_message("%s: %s\n", modes[i], msg);
        assert_true(strstr(msg, "microVM") || strstr(msg, "QEMU"));
        nc_run_result_cleanup(&r);
    }
}

static void test_hostile_guest_after_hello(void **state)
{
    (void)state;
    static const struct {
        const char *mode;
        nc_outcome outcome;
        const char *says;
    } cases[] = {
        {"close-after-hello", NC_OUTCOME_CRASH, "stopped before it sent a result"},
        {"huge-length", NC_OUTCOME_CRASH, "larger than its caps"},
        {"garbage", NC_OUTCOME_CRASH, "malformed result"},
        {"output-past-cap", NC_OUTCOME_CRASH, "malformed result"},
        {"truncated-frame", NC_OUTCOME_CRASH, "stopped before it sent a result"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nc_run_result r;
        char msg[512] = "";
        nc_err err = run_hostile(cases[i].mode, 1000, &r, msg, sizeof msg);
        if (err != NC_OK)
            fail_msg("%s: %s (%s)", cases[i].mode, nc_strerror(err), msg);
        if (r.outcome != cases[i].outcome || !strstr(r.message, cases[i].says))
            fail_msg("%s: outcome %s (%s)", cases[i].mode, nc_outcome_name(r.outcome), r.message);
        assert_null(r.out);
        assert_int_equal(r.isolation.tier, NC_TIER_VM);
        nc_run_result_cleanup(&r);
    }
}

/* A streaming guest that lies about its output: a chunk past the caps, or a
 * result that does not begin with what it streamed. A crash, keeping exactly
 * what the caller was shown. */
static void test_hostile_guest_stream(void **state)
{
    (void)state;
    shown_output shown;
    nc_run_hooks hooks = {.on_output = collect, .ctx = &shown};
    nc_run_result r;
    char msg[512] = "";
    memset(&shown, 0, sizeof shown);
    assert_int_equal(run_hostile_ex("bad-chunk", 1000, &hooks, &r, msg, sizeof msg), NC_OK);
    if (r.outcome != NC_OUTCOME_CRASH || !strstr(r.message, "breaks its caps"))
        fail_msg("bad-chunk: %s (%s)", nc_outcome_name(r.outcome), r.message);
    assert_int_equal(shown.len, 0);
    assert_int_equal(r.out_len, 0);
    nc_run_result_cleanup(&r);
    memset(&shown, 0, sizeof shown);
    assert_int_equal(run_hostile_ex("stream-mismatch", 1000, &hooks, &r, msg, sizeof msg), NC_OK);
    if (r.outcome != NC_OUTCOME_CRASH || !strstr(r.message, "malformed result"))
        fail_msg("stream-mismatch: %s (%s)", nc_outcome_name(r.outcome), r.message);
    assert_int_equal(shown.len, 3);
    assert_memory_equal(shown.out, "abc", 3);
    assert_int_equal(r.out_len, 3);   /* what was shown is what is recorded */
    assert_memory_equal(r.out, "abc", 3);
    nc_run_result_cleanup(&r);
    /* the same frames, honest: "abc" streamed, "xyz" passed on with the result */
    memset(&shown, 0, sizeof shown);
    assert_int_equal(run_hostile_ex("stream-ok", 1000, &hooks, &r, msg, sizeof msg), NC_OK);
    if (r.outcome != NC_OUTCOME_OK)
        fail_msg("stream-ok: %s (%s)", nc_outcome_name(r.outcome), r.message);
    assert_int_equal(shown.len, 6);
    assert_memory_equal(shown.out, "abcxyz", 6);
    assert_int_equal(r.out_len, 6);
    nc_run_result_cleanup(&r);
}

/* A guest that takes the run and never answers is killed at the deadline
 * (timeout + the child's grace + the VM's), and the run is a timeout. */
static void test_hung_guest_is_killed_at_the_deadline(void **state)
{
    (void)state;
    nc_run_result r;
    char msg[512] = "";
    uint64_t t0 = nc_now_ns();
    nc_err err = run_hostile("hang", 200, &r, msg, sizeof msg);
    assert_int_equal(err, NC_OK);
    assert_int_equal(r.outcome, NC_OUTCOME_TIMEOUT);
    assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_TIMEOUT));
    assert_int_equal(r.term_signal, SIGKILL);
    assert_true(nc_now_ns() - t0 >= (200ull + NC_CHILD_KILL_GRACE_MS + NC_VM_KILL_GRACE_MS) * 1000000ull);
    nc_run_result_cleanup(&r);
}

/* ---- the vm tier's own messages ---- */

static void test_vmwire_hello_and_header(void **state)
{
    (void)state;
    uint8_t hello[NC_VM_HELLO_LEN];
    nc_vmwire_hello(hello);
    assert_int_equal(nc_vmwire_check_hello(hello, sizeof hello), NC_OK);
    assert_int_not_equal(nc_vmwire_check_hello(hello, sizeof hello - 1), NC_OK);
    uint8_t longer[NC_VM_HELLO_LEN + 1];
    memcpy(longer, hello, sizeof hello);
    longer[NC_VM_HELLO_LEN] = 0;
    assert_int_not_equal(nc_vmwire_check_hello(longer, sizeof longer), NC_OK);
    hello[7] ^= 1;   /* another protocol version */
    assert_int_equal(nc_vmwire_check_hello(hello, sizeof hello), NC_ERR_MALFORMED);

    uint8_t h[NC_VM_REQUEST_HEADER_LEN];
    uint32_t a = 99, sl = 99;
    nc_vmwire_request_header(1234, 56, h);
    assert_int_equal(nc_vmwire_parse_request_header(h, sizeof h, &a, &sl), NC_OK);
    assert_int_equal(a, 1234);
    assert_int_equal(sl, 56);
    a = sl = 99;
    assert_int_not_equal(nc_vmwire_parse_request_header(h, sizeof h - 1, &a, &sl), NC_OK);
    assert_int_equal(a, 99);   /* outputs untouched on failure */
    nc_vmwire_request_header(0, 56, h);   /* no artifact */
    assert_int_equal(nc_vmwire_parse_request_header(h, sizeof h, &a, &sl), NC_ERR_MALFORMED);
    nc_vmwire_request_header(NC_MAX_ARTIFACT_BYTES + 1, 56, h);
    assert_int_equal(nc_vmwire_parse_request_header(h, sizeof h, &a, &sl), NC_ERR_TOO_LARGE);
    nc_vmwire_request_header(1, NC_MAX_SPEC_BYTES + 1, h);
    assert_int_equal(nc_vmwire_parse_request_header(h, sizeof h, &a, &sl), NC_ERR_TOO_LARGE);
    nc_vmwire_request_header(1, 1, h);
    h[15] = 1;   /* the reserved word */
    assert_int_equal(nc_vmwire_parse_request_header(h, sizeof h, &a, &sl), NC_ERR_MALFORMED);
    nc_vmwire_request_header(1, 1, h);
    h[0] = 'X';
    assert_int_equal(nc_vmwire_parse_request_header(h, sizeof h, &a, &sl), NC_ERR_MALFORMED);
}

static void test_vm_memory_follows_the_limits(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    uint32_t base = nc_vm_memory_mib(&s, 0);
    assert_true(base * (1ull << 20) >= NC_VM_OVERHEAD_BYTES + s.limits.memory_bytes);
    assert_int_equal(base % 16, 0);
    s.limits.memory_bytes += 256ull << 20;
    assert_true(nc_vm_memory_mib(&s, 0) >= base + 256);
    s.limits.memories = 4;
    assert_true(nc_vm_memory_mib(&s, 0) >= base + 4 * 256);
    s.limits.memory_bytes = NC_MAX_MEMORY_BYTES;
    s.limits.memories = 64;
    assert_int_equal(nc_vm_memory_mib(&s, 0), NC_VM_MAX_MEMORY_MIB);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vmwire_hello_and_header),
        cmocka_unit_test(test_vm_memory_follows_the_limits),
        cmocka_unit_test(test_hostile_guest_before_hello),
        cmocka_unit_test(test_hostile_guest_after_hello),
        cmocka_unit_test(test_hostile_guest_stream),
        cmocka_unit_test(test_hung_guest_is_killed_at_the_deadline),
        cmocka_unit_test(test_hello_in_vm),
        cmocka_unit_test(test_guest_sees_no_host_file_no_network_no_environment),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
