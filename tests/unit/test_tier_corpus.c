/* The hostile corpus in both isolation tiers, through the tier interface
 * (nc_artifact_compile_tier, nc_sandbox_run): every module runs in the
 * process tier and in the vm tier (a real microVM per run), and must end the
 * same way in both: outcome, trap kind, exit code, limits hit, denied calls.
 *
 * make test runs the process tier whole and a few modules in the vm tier
 * (each VM boots a kernel, under TCG on these machines); make test-vm
 * (NC_VM_CORPUS=full) runs every module in both. The corpus here is every
 * module of test_sandbox.c's hostile corpus that needs no granted directory:
 * the vm tier grants none, and refuses a run that asks (tested below). */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include "sandbox_harness.h"
#include "sandbox/internal.h"

static char cache_dir[] = "/tmp/nc-test-corpus-XXXXXX";
static nc_sandbox *sb;
static bool full;

typedef struct {
    const char *fixture;
    bool quick;            /* in the vm tier under make test too */
    uint32_t timeout_ms;   /* 0: default */
    uint64_t memory_bytes, fuel;
    uint32_t stdout_bytes;
    nc_outcome outcome;
    const char *trap_kind; /* NULL: not checked */
    int exit_code;         /* for NC_OUTCOME_EXIT */
    uint32_t limit;        /* a bit that must be in limits_hit (0: none) */
    int denied;            /* -1: not checked; else a denial reason the first denied call has */
    const char *stdout_has;
} corpus_case;

static const corpus_case corpus[] = {
    {"hello", true, 0, 0, 0, 0, NC_OUTCOME_OK, NULL, 0, 0, -1, "hello, world\n"},
    {"unreachable", true, 0, 0, 0, 0, NC_OUTCOME_TRAP, "unreachable", 0, 0, -1, NULL},
    {"out_of_bounds", false, 0, 0, 0, 0, NC_OUTCOME_TRAP, "memory_out_of_bounds", 0, 0, -1, NULL},
    {"oob_guard_region", false, 0, 0, 0, 0, NC_OUTCOME_TRAP, "memory_out_of_bounds", 0, 0, -1, NULL},
    {"oob_store_past_end", false, 0, 0, 0, 0, NC_OUTCOME_TRAP, "memory_out_of_bounds", 0, 0, -1, NULL},
    {"div_by_zero", false, 0, 0, 0, 0, NC_OUTCOME_TRAP, "integer_division_by_zero", 0, 0, -1, NULL},
    {"int_overflow", false, 0, 0, 0, 0, NC_OUTCOME_TRAP, "integer_overflow", 0, 0, -1, NULL},
    {"indirect_null", false, 0, 0, 0, 0, NC_OUTCOME_TRAP, "indirect_call_to_null", 0, 0, -1, NULL},
    {"deep_recursion", true, 0, 0, 0, 0, NC_OUTCOME_TRAP, "stack_overflow", 0, NC_LIMIT(NC_LIMIT_STACK), -1, NULL},
    {"proc_raise", false, 0, 0, 0, 0, NC_OUTCOME_TRAP, "proc_raise", 0, 0, NC_DENY_SIGNAL, NULL},
    {"infinite_loop", true, 300, 0, 0, 0, NC_OUTCOME_TIMEOUT, NULL, 0, NC_LIMIT(NC_LIMIT_TIMEOUT), -1, NULL},
    {"start_loop", false, 300, 0, 0, 0, NC_OUTCOME_TIMEOUT, NULL, 0, NC_LIMIT(NC_LIMIT_TIMEOUT), -1, NULL},
    {"sleep_forever", false, 300, 0, 0, 0, NC_OUTCOME_TIMEOUT, NULL, 0, NC_LIMIT(NC_LIMIT_TIMEOUT), -1, NULL},
    {"spin_after_output", false, 300, 0, 0, 0, NC_OUTCOME_TIMEOUT, NULL, 0, NC_LIMIT(NC_LIMIT_TIMEOUT), -1, NULL},
    {"memory_bomb", true, 0, 8u << 20, 0, 0, NC_OUTCOME_MEMORY, NULL, 0, NC_LIMIT(NC_LIMIT_MEMORY), -1, NULL},
    {"memory_grow_graceful", false, 0, 0, 0, 0, NC_OUTCOME_OK, NULL, 0, NC_LIMIT(NC_LIMIT_MEMORY), -1, NULL},
    {"big_initial_memory", false, 0, 0, 0, 0, NC_OUTCOME_MEMORY, NULL, 0, NC_LIMIT(NC_LIMIT_MEMORY), -1, NULL},
    {"memory_touch", false, 0, 16u << 20, 0, 0, NC_OUTCOME_OK, NULL, 0, 0, -1, NULL},
    {"giant_table", false, 0, 0, 0, 0, NC_OUTCOME_MEMORY, NULL, 0, NC_LIMIT(NC_LIMIT_TABLE_ELEMENTS), -1, NULL},
    {"two_memories", false, 0, 0, 0, 0, NC_OUTCOME_MEMORY, NULL, 0, NC_LIMIT(NC_LIMIT_MEMORIES), -1, NULL},
    {"many_tables", false, 0, 0, 0, 0, NC_OUTCOME_MEMORY, NULL, 0, NC_LIMIT(NC_LIMIT_TABLES), -1, NULL},
    {"huge_stdout", false, 0, 0, 0, 100000, NC_OUTCOME_OUTPUT_LIMIT, NULL, 0, NC_LIMIT(NC_LIMIT_STDOUT), -1, NULL},
    {"reentry_bomb", false, 60000, 0, 1000000, 0, NC_OUTCOME_FUEL, NULL, 0, NC_LIMIT(NC_LIMIT_FUEL), -1, NULL},
    {"fuel_burner", false, 60000, 0, 1000000, 0, NC_OUTCOME_FUEL, NULL, 0, NC_LIMIT(NC_LIMIT_FUEL), -1, NULL},
    {"exit_code", false, 0, 0, 0, 0, NC_OUTCOME_EXIT, NULL, 7, 0, -1, NULL},
    {"network_attempt", true, 0, 0, 0, 0, NC_OUTCOME_EXIT, NULL, 8, 0, NC_DENY_NETWORK, NULL},
    {"no_preopen_read", false, 0, 0, 0, 0, NC_OUTCOME_EXIT, NULL, 8, 0, NC_DENY_NO_PREOPEN, NULL},
    {"data_mutate", false, 0, 0, 0, 0, NC_OUTCOME_OK, NULL, 0, 0, -1, NULL},
    {"guest_env", true, 0, 0, 0, 0, NC_OUTCOME_OK, NULL, 0, 0, -1, "NIGHTCORE_HOME=absent\n"},
};

static int group_setup(void **state)
{
    (void)state;
    const char *bin = getenv("NC_BIN");
    const char *mode = getenv("NC_VM_CORPUS");
    full = mode && strcmp(mode, "full") == 0;
    if (!mkdtemp(cache_dir) || !bin)
        return -1;
    static char kernel[4096], initrd[4096];
    snprintf(kernel, sizeof kernel, "%s/nightcore-vm/vmlinuz", bin);
    snprintf(initrd, sizeof initrd, "%s/nightcore-vm/initramfs.img", bin);
    nc_sandbox_opts o = {.tier = NC_TIER_PROCESS, .pool_size = 1, .cache_dir = cache_dir, .vm_kernel = kernel,
                         .vm_initrd = initrd, .vm_accel = getenv("NC_VM_ACCEL") ? getenv("NC_VM_ACCEL") : "tcg",
                         .vm_pool_size = 1};
    if (nc_sandbox_new(&o, &sb) != NC_OK)
        return -1;
    char msg[512];
    if (nc_sandbox_tier_check(sb, NC_TIER_VM, 0, msg, sizeof msg) != NC_OK) {
        print_error("vm tier: %s\n", msg);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    nc_sandbox_free(sb);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", cache_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static nc_run_spec case_spec(const corpus_case *c)
{
    static const char *const argv[] = {"module", "--flag"};
    nc_run_spec s = default_spec();
    s.args = argv;
    s.nargs = 2;
    if (c->timeout_ms)
        s.limits.timeout_ms = c->timeout_ms;
    if (c->memory_bytes)
        s.limits.memory_bytes = c->memory_bytes;
    if (c->stdout_bytes)
        s.limits.stdout_bytes = c->stdout_bytes;
    s.limits.fuel = c->fuel;
    return s;
}

static void run_case(nc_tier tier, const corpus_case *c, nc_run_result *r)
{
    char msg[512] = "";
    nc_artifact art;
    nc_run_spec s = case_spec(c);
    char path[4096];
    uint8_t *wasm = NULL;
    size_t len = 0;
    assert_int_equal(nc_read_file(fixture_path(c->fixture, path, sizeof path), 64u << 20, &wasm, &len), NC_OK);
    nc_err err = nc_artifact_compile_tier(sb, tier, wasm, len, c->fuel != 0, &art, msg, sizeof msg);
    free(wasm);
    if (err != NC_OK)
        fail_msg("%s: compile for the %s tier: %s (%s)", c->fixture, nc_tier_name(tier), nc_strerror(err), msg);
    assert_int_equal(art.tier, tier);
    err = nc_sandbox_run(sb, &art, &s, r, msg, sizeof msg);
    if (err != NC_OK)
        fail_msg("%s in the %s tier: %s (%s)", c->fixture, nc_tier_name(tier), nc_strerror(err), msg);
}

static void check_case(nc_tier tier, const corpus_case *c, const nc_run_result *r)
{
    const char *t = nc_tier_name(tier);
    if (r->outcome != c->outcome)
        fail_msg("%s (%s tier): outcome %s (%s), wanted %s", c->fixture, t, nc_outcome_name(r->outcome), r->message,
                 nc_outcome_name(c->outcome));
    if (c->trap_kind && strcmp(r->trap_kind, c->trap_kind) != 0)
        fail_msg("%s (%s tier): trap %s, wanted %s", c->fixture, t, r->trap_kind, c->trap_kind);
    if (c->outcome == NC_OUTCOME_EXIT && c->exit_code >= 0 && r->exit_code != c->exit_code)
        fail_msg("%s (%s tier): exit %d, wanted %d", c->fixture, t, r->exit_code, c->exit_code);
    if (c->limit && !(r->limits_hit & c->limit))
        fail_msg("%s (%s tier): limits_hit %#x lacks %#x", c->fixture, t, r->limits_hit, c->limit);
    if (c->denied >= 0 && (r->ndenied == 0 || r->denied[0].reason != (uint8_t)c->denied))
        fail_msg("%s (%s tier): no %s denial recorded", c->fixture, t, nc_denial_code((nc_denial)c->denied));
    if (c->stdout_has && (!r->out || !memmem(r->out, r->out_len, c->stdout_has, strlen(c->stdout_has))))
        fail_msg("%s (%s tier): stdout lacks %s", c->fixture, t, c->stdout_has);
    if (r->isolation.tier != tier)
        fail_msg("%s: ran in the %s tier, not %s", c->fixture, nc_tier_name(r->isolation.tier), t);
    assert_true(r->isolation.seccomp);
    assert_true(r->isolation.no_new_privs);
    /* a fault in wasm code is the child's own report, never a crash */
    assert_int_not_equal(r->outcome, NC_OUTCOME_CRASH);
}

/* Both tiers, the same expectations, and the same observations where they
 * are the module's own doing (calls made, denials, limits). */
static void test_corpus_in_both_tiers(void **state)
{
    (void)state;
    size_t vm_runs = 0;
    for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
        const corpus_case *c = &corpus[i];
        nc_run_result p, v;
        run_case(NC_TIER_PROCESS, c, &p);
        check_case(NC_TIER_PROCESS, c, &p);
        if (full || c->quick) {
            uint64_t t0 = nc_now_ns();
            run_case(NC_TIER_VM, c, &v);
            check_case(NC_TIER_VM, c, &v);
            assert_int_equal(v.limits_hit, p.limits_hit);
            assert_int_equal(v.denied_total, p.denied_total);
            assert_int_equal(v.exit_code, p.exit_code);
            if (c->outcome != NC_OUTCOME_TIMEOUT)   /* a deadline can fall anywhere: the calls made differ */
                assert_memory_equal(v.calls, p.calls, sizeof p.calls);
            print_message("%-22s %-14s process %6.1f ms, vm (%s%s) %7.1f ms\n", c->fixture,
                          nc_outcome_name(v.outcome), p.t_total_ns / 1e6, nc_vm_accel_name(v.isolation.accel),
                          v.isolation.vm_pooled ? ", pooled" : "", (nc_now_ns() - t0) / 1e6);
            nc_run_result_cleanup(&v);
            vm_runs++;
        }
        nc_run_result_cleanup(&p);
    }
    print_message("%zu modules in the process tier, %zu in the vm tier (%s)\n", sizeof corpus / sizeof corpus[0],
                  vm_runs, full ? "full corpus" : "make test-vm runs them all");
}

/* Modules the engine refuses are refused the same way in both tiers. */
static void test_refused_modules_in_both_tiers(void **state)
{
    (void)state;
    static const struct {
        const char *fixture;
        nc_err compile, run;
    } refused[] = {{"not_wasm", NC_ERR_INVALID_MODULE, NC_OK},
                   {"truncated", NC_ERR_INVALID_MODULE, NC_OK},
                   {"unknown_import", NC_OK, NC_ERR_UNSUPPORTED_IMPORT},
                   {"no_start", NC_OK, NC_ERR_NO_ENTRY}};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        for (int t = 0; t < 2; t++) {
            nc_tier tier = t ? NC_TIER_VM : NC_TIER_PROCESS;
            if (tier == NC_TIER_VM && refused[i].compile == NC_OK && !full && i != 2)
                continue;   /* one run-time refusal in the vm tier under make test */
            char path[4096], msg[512] = "";
            uint8_t *wasm = NULL;
            size_t len = 0;
            nc_artifact art;
            assert_int_equal(nc_read_file(fixture_path(refused[i].fixture, path, sizeof path), 64u << 20, &wasm, &len),
                             NC_OK);
            nc_err err = nc_artifact_compile_tier(sb, tier, wasm, len, false, &art, msg, sizeof msg);
            free(wasm);
            assert_int_equal(err, refused[i].compile);
            if (err != NC_OK)
                continue;
            nc_run_spec s = default_spec();
            nc_run_result r;
            err = nc_sandbox_run(sb, &art, &s, &r, msg, sizeof msg);
            if (err != refused[i].run)
                fail_msg("%s (%s tier): %s (%s)", refused[i].fixture, nc_tier_name(tier), nc_strerror(err), msg);
        }
    }
}

/* The vm tier grants no directory: a run that asks is refused, not run
 * without it, and not run in the process tier. */
static void test_vm_tier_refuses_directories(void **state)
{
    (void)state;
    char msg[512] = "";
    assert_int_equal(nc_sandbox_tier_check(sb, NC_TIER_VM, 1, msg, sizeof msg), NC_ERR_CAPABILITY_DENIED);
    assert_non_null(strstr(msg, "grants no directories"));
    assert_int_equal(nc_sandbox_tier_check(sb, NC_TIER_PROCESS, 1, msg, sizeof msg), NC_OK);
    char path[4096];
    uint8_t *wasm = NULL;
    size_t len = 0;
    nc_artifact art;
    assert_int_equal(nc_read_file(fixture_path("hello", path, sizeof path), 64u << 20, &wasm, &len), NC_OK);
    assert_int_equal(nc_artifact_compile_tier(sb, NC_TIER_VM, wasm, len, false, &art, msg, sizeof msg), NC_OK);
    free(wasm);
    nc_dir_grant g = {.host = cache_dir, .guest = "/data", .readonly = true};
    nc_run_spec s = default_spec();
    s.dirs = &g;
    s.ndirs = 1;
    nc_run_result r;
    assert_int_equal(nc_sandbox_run(sb, &art, &s, &r, msg, sizeof msg), NC_ERR_CAPABILITY_DENIED);
    assert_non_null(strstr(msg, "grants no directories"));
}

/* A sandbox without the vm tier refuses vm artifacts: never a weaker tier. */
static void test_no_vm_tier_refuses_vm_runs(void **state)
{
    (void)state;
    nc_sandbox *plain = NULL;
    nc_sandbox_opts o = {.tier = NC_TIER_PROCESS, .cache_dir = cache_dir};
    assert_int_equal(nc_sandbox_new(&o, &plain), NC_OK);
    char path[4096], msg[512] = "";
    uint8_t *wasm = NULL;
    size_t len = 0;
    nc_artifact art;
    assert_int_equal(nc_read_file(fixture_path("hello", path, sizeof path), 64u << 20, &wasm, &len), NC_OK);
    assert_int_equal(nc_artifact_compile_tier(plain, NC_TIER_VM, wasm, len, false, &art, msg, sizeof msg), NC_OK);
    free(wasm);
    nc_run_spec s = default_spec();
    nc_run_result r;
    assert_int_equal(nc_sandbox_run(plain, &art, &s, &r, msg, sizeof msg), NC_ERR_TIER_UNAVAILABLE);
    assert_non_null(strstr(msg, "not available on this host"));
    assert_non_null(strstr(msg, "weaker tier"));
    nc_tier_status st[NC_TIER_COUNT];
    size_t n = nc_sandbox_tiers(plain, st, NC_TIER_COUNT);
    assert_int_equal(n, 2);
    assert_int_equal(st[0].tier, NC_TIER_PROCESS);
    assert_true(st[0].available);
    assert_int_equal(st[1].tier, NC_TIER_VM);
    assert_false(st[1].available);
    nc_sandbox_free(plain);
}

static void *fire_later(void *arg)
{
    sleep(1);
    nc_run_cancel_fire(arg);
    return NULL;
}

/* A vm run can be cancelled while it runs: the VM is killed, the outcome is
 * cancelled (whenever the cancel lands: only the cancel can end this run). */
static void test_vm_run_cancelled(void **state)
{
    (void)state;
    char path[4096], msg[512] = "";
    uint8_t *wasm = NULL;
    size_t len = 0;
    nc_artifact art;
    assert_int_equal(nc_read_file(fixture_path("sleep_forever", path, sizeof path), 64u << 20, &wasm, &len), NC_OK);
    assert_int_equal(nc_artifact_compile_tier(sb, NC_TIER_VM, wasm, len, false, &art, msg, sizeof msg), NC_OK);
    free(wasm);
    nc_run_cancel *cancel = NULL;
    assert_int_equal(nc_run_cancel_new(&cancel), NC_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fire_later, cancel), 0);
    nc_run_hooks hooks = {.cancel = cancel};
    nc_run_spec s = default_spec();
    s.limits.timeout_ms = NC_MAX_TIMEOUT_MS;
    nc_run_result r;
    assert_int_equal(nc_sandbox_run_ex(sb, &art, &s, &hooks, &r, msg, sizeof msg), NC_OK);
    pthread_join(t, NULL);
    assert_int_equal(r.outcome, NC_OUTCOME_CANCELLED);
    assert_int_equal(r.isolation.tier, NC_TIER_VM);
    nc_run_result_cleanup(&r);
    nc_run_cancel_free(cancel);
}

typedef struct {
    char out[64];
    size_t len;
    nc_run_cancel *cancel;
} live_output;

/* Sees the output as it comes, and cancels the run once "started\n" is in. */
static void cancel_on_output(void *ctx, int stream, const uint8_t *data, size_t len)
{
    live_output *o = ctx;
    if (stream == 1 && len <= sizeof o->out - o->len) {
        memcpy(o->out + o->len, data, len);
        o->len += len;
    }
    if (o->len >= 8 && memcmp(o->out, "started\n", 8) == 0)
        nc_run_cancel_fire(o->cancel);
}

/* A vm run's output is streamed as the module writes it: the hook sees
 * "started\n" while the module still spins, and cancels the run; without a
 * live stream it would only see it when the deadline ended the run. */
static void test_vm_output_is_streamed(void **state)
{
    (void)state;
    char path[4096], msg[512] = "";
    uint8_t *wasm = NULL;
    size_t len = 0;
    nc_artifact art;
    assert_int_equal(nc_read_file(fixture_path("spin_after_output", path, sizeof path), 64u << 20, &wasm, &len),
                     NC_OK);
    assert_int_equal(nc_artifact_compile_tier(sb, NC_TIER_VM, wasm, len, false, &art, msg, sizeof msg), NC_OK);
    free(wasm);
    live_output o;
    memset(&o, 0, sizeof o);
    assert_int_equal(nc_run_cancel_new(&o.cancel), NC_OK);
    nc_run_hooks hooks = {.on_output = cancel_on_output, .ctx = &o, .cancel = o.cancel};
    nc_run_spec s = default_spec();
    s.limits.timeout_ms = 20000;
    nc_run_result r;
    assert_int_equal(nc_sandbox_run_ex(sb, &art, &s, &hooks, &r, msg, sizeof msg), NC_OK);
    if (r.outcome != NC_OUTCOME_CANCELLED)
        fail_msg("outcome %s (%s): the output was not streamed while the module ran", nc_outcome_name(r.outcome),
                 r.message);
    assert_int_equal(o.len, 8);
    assert_int_equal(r.out_len, 8);   /* what was shown is what is recorded */
    assert_memory_equal(r.out, "started\n", 8);
    assert_int_equal(r.isolation.tier, NC_TIER_VM);
    nc_run_result_cleanup(&r);
    nc_run_cancel_free(o.cancel);
}

int main(int argc, char **argv)
{
    nc_sandbox_dispatch(argc, argv);   /* this program is also the process tier's sandbox child */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vm_tier_refuses_directories),
        cmocka_unit_test(test_no_vm_tier_refuses_vm_runs),
        cmocka_unit_test(test_vm_run_cancelled),
        cmocka_unit_test(test_vm_output_is_streamed),
        cmocka_unit_test(test_refused_modules_in_both_tiers),
        cmocka_unit_test(test_corpus_in_both_tiers),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
