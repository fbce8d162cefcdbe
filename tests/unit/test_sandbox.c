/* The sandbox and its hostile corpus. Every hostile module runs in the
 * process tier (a sandbox child); each asserts the exact outcome, and that the
 * supervisor (this process) keeps working afterwards. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "sandbox_harness.h"
#include "sandbox/internal.h"

static char cache_dir[] = "/tmp/nc-test-cache-XXXXXX";
static char data_dir[] = "/tmp/nc-test-data-XXXXXX";
static nc_sandbox *proc_sb, *inproc_sb;

static int group_setup(void **state)
{
    (void)state;
    if (!mkdtemp(cache_dir) || !mkdtemp(data_dir))
        return -1;
    char p[4096];
    snprintf(p, sizeof p, "%s/hello.txt", data_dir);
    if (nc_write_file_atomic(p, "hello from the host\n", 20, 0644) != NC_OK)
        return -1;
    snprintf(p, sizeof p, "%s/link", data_dir);
    if (symlink("/etc", p) != 0)
        return -1;
    nc_sandbox_opts po = {.tier = NC_TIER_PROCESS, .pool_size = 1, .cache_dir = cache_dir};
    nc_sandbox_opts io = {.tier = NC_TIER_INPROCESS, .cache_dir = cache_dir};
    if (nc_sandbox_new(&po, &proc_sb) != NC_OK || nc_sandbox_new(&io, &inproc_sb) != NC_OK)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    nc_sandbox_free(proc_sb);
    nc_sandbox_free(inproc_sb);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", cache_dir, data_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Compile and run a fixture; fails the test if it could not run at all. */
static void run_fixture(nc_sandbox *sb, const char *name, const nc_run_spec *spec, nc_run_result *res)
{
    nc_artifact art;
    char msg[512] = "";
    nc_err err = compile_fixture(sb, name, spec->limits.fuel != 0, &art, msg, sizeof msg);
    if (err != NC_OK)
        fail_msg("compile %s: %s (%s)", name, nc_strerror(err), msg);
    err = nc_sandbox_run(sb, &art, spec, res, msg, sizeof msg);
    if (err != NC_OK)
        fail_msg("run %s: %s (%s)", name, nc_strerror(err), msg);
}

static void assert_outcome(const nc_run_result *r, nc_outcome want)
{
    if (r->outcome != want)
        fail_msg("outcome %s (%s), wanted %s", nc_outcome_name(r->outcome), r->message, nc_outcome_name(want));
}

/* After every hostile run the supervisor must still run a good module. */
static void assert_supervisor_healthy(void)
{
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(proc_sb, "hello", &s, &r);
    assert_outcome(&r, NC_OUTCOME_OK);
    assert_int_equal(r.out_len, 13);
    nc_run_result_cleanup(&r);
}

static void test_hello_process(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(proc_sb, "hello", &s, &r);
    assert_outcome(&r, NC_OUTCOME_OK);
    assert_int_equal(r.out_len, 13);
    assert_memory_equal(r.out, "hello, world\n", 13);
    assert_false(r.out_truncated);
    assert_int_equal(r.calls[NC_WASI_FN_fd_write], 1);
    assert_int_equal(r.denied_total, 0);
    assert_true(r.peak_memory_bytes >= 65536);
    nc_run_result_cleanup(&r);
}

static void test_hello_inprocess(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(inproc_sb, "hello", &s, &r);
    assert_outcome(&r, NC_OUTCOME_OK);
    assert_memory_equal(r.out, "hello, world\n", 13);
    nc_run_result_cleanup(&r);
}

/* Which kernel features were active in a real run, against what the kernel offers. */
static void test_isolation_report(void **state)
{
    (void)state;
    nc_isolation_report probe;
    nc_isolation_probe(&probe);
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(proc_sb, "hello", &s, &r);
    print_message("isolation: userns=%d netns=%d no_new_privs=%d caps_dropped=%d rlimits=%d "
                  "landlock_abi=%d seccomp=%d\n",
                  r.isolation.userns, r.isolation.netns, r.isolation.no_new_privs,
                  r.isolation.caps_dropped, r.isolation.rlimits, r.isolation.landlock_abi,
                  r.isolation.seccomp);
    assert_true(r.isolation.no_new_privs);
    assert_true(r.isolation.caps_dropped);
    assert_true(r.isolation.rlimits);
    assert_true(r.isolation.seccomp);
    assert_int_equal(r.isolation.landlock_abi, probe.landlock_abi);
    if (probe.userns) {
        assert_true(r.isolation.userns);
        assert_true(r.isolation.netns);
    }
    nc_run_result_cleanup(&r);
}

static void test_infinite_loop_times_out(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    s.limits.timeout_ms = 300;
    nc_run_result r;
    run_fixture(proc_sb, "infinite_loop", &s, &r);
    assert_outcome(&r, NC_OUTCOME_TIMEOUT);
    assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_TIMEOUT));
    assert_int_equal(r.term_signal, 0);   /* the child's own deadline, not the backstop */
    assert_true(r.t_total_ns < 3000000000ull);
    nc_run_result_cleanup(&r);
    assert_supervisor_healthy();
}

static void test_sleep_interrupted_at_deadline(void **state)
{
    (void)state;
    nc_sandbox *tiers[] = {proc_sb, inproc_sb};
    for (int i = 0; i < 2; i++) {
        nc_run_spec s = default_spec();
        s.limits.timeout_ms = 300;
        nc_run_result r;
        run_fixture(tiers[i], "sleep_forever", &s, &r);
        assert_outcome(&r, NC_OUTCOME_TIMEOUT);
        assert_int_equal(r.term_signal, 0);
        assert_true(r.t_total_ns < 3000000000ull);
        nc_run_result_cleanup(&r);
    }
}

static void test_start_function_loop_times_out(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    s.limits.timeout_ms = 300;
    nc_run_result r;
    run_fixture(proc_sb, "start_loop", &s, &r);
    assert_outcome(&r, NC_OUTCOME_TIMEOUT);
    nc_run_result_cleanup(&r);
}

static void test_memory_bomb(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    s.limits.memory_bytes = 8u << 20;
    nc_run_result r;
    run_fixture(proc_sb, "memory_bomb", &s, &r);
    assert_outcome(&r, NC_OUTCOME_MEMORY);
    assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_MEMORY));
    assert_true(r.peak_memory_bytes <= s.limits.memory_bytes);
    assert_true(r.peak_memory_bytes >= s.limits.memory_bytes - 16 * 65536);
    nc_run_result_cleanup(&r);
    assert_supervisor_healthy();
}

static void test_memory_refusal_recorded_when_module_copes(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(proc_sb, "memory_grow_graceful", &s, &r);
    assert_outcome(&r, NC_OUTCOME_OK);
    assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_MEMORY));
    assert_int_equal(r.peak_memory_bytes, 65536);
    nc_run_result_cleanup(&r);
}

static void test_big_initial_memory(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(proc_sb, "big_initial_memory", &s, &r);
    assert_outcome(&r, NC_OUTCOME_MEMORY);
    assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_MEMORY));
    nc_run_result_cleanup(&r);
}

static void test_deep_recursion(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(proc_sb, "deep_recursion", &s, &r);
    assert_outcome(&r, NC_OUTCOME_TRAP);
    assert_string_equal(r.trap_kind, "stack_overflow");
    assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_STACK));
    nc_run_result_cleanup(&r);
    assert_supervisor_healthy();
}

static void test_huge_stdout(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    s.limits.stdout_bytes = 100000;
    nc_run_result r;
    run_fixture(proc_sb, "huge_stdout", &s, &r);
    assert_outcome(&r, NC_OUTCOME_OUTPUT_LIMIT);
    assert_int_equal(r.out_len, 100000);
    assert_true(r.out_truncated);
    assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_STDOUT));
    assert_int_equal(r.calls[NC_WASI_FN_fd_write], 2);   /* 64 KiB fits, the second crosses */
    nc_run_result_cleanup(&r);
    assert_supervisor_healthy();
}

static nc_dir_grant data_grant(bool readonly)
{
    nc_dir_grant g = {.host = data_dir, .guest = "/data", .readonly = readonly};
    return g;
}

static void assert_denied(const nc_run_result *r, nc_wasi_fn fn, nc_denial why)
{
    assert_true(r->denied_total >= 1);
    assert_true(r->ndenied >= 1);
    assert_int_equal(r->denied[0].fn, fn);
    if (r->denied[0].reason != why)
        fail_msg("denial %s, wanted %s", nc_denial_code(r->denied[0].reason), nc_denial_code(why));
}

static void test_path_traversal(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_dir_grant g = data_grant(false);
    s.dirs = &g;
    s.ndirs = 1;
    nc_run_result r;
    run_fixture(proc_sb, "path_traversal", &s, &r);
    assert_outcome(&r, NC_OUTCOME_EXIT);
    assert_int_equal(r.exit_code, 76);
    assert_denied(&r, NC_WASI_FN_path_open, NC_DENY_ESCAPE);
    assert_string_equal(r.denied[0].detail, "../../../../etc/passwd");
    nc_run_result_cleanup(&r);
}

static void test_symlink_escape(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_dir_grant g = data_grant(true);
    s.dirs = &g;
    s.ndirs = 1;
    nc_run_result r;
    run_fixture(proc_sb, "symlink_escape", &s, &r);
    assert_outcome(&r, NC_OUTCOME_EXIT);
    assert_int_equal(r.exit_code, 76);
    assert_denied(&r, NC_WASI_FN_path_open, NC_DENY_ESCAPE);
    nc_run_result_cleanup(&r);
}

static void test_write_readonly(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_dir_grant g = data_grant(true);
    s.dirs = &g;
    s.ndirs = 1;
    nc_run_result r;
    run_fixture(proc_sb, "write_readonly", &s, &r);
    assert_outcome(&r, NC_OUTCOME_EXIT);
    assert_int_equal(r.exit_code, 76);
    assert_denied(&r, NC_WASI_FN_path_open, NC_DENY_READONLY);
    char p[4096];
    snprintf(p, sizeof p, "%s/planted.txt", data_dir);
    assert_int_equal(access(p, F_OK), -1);
    nc_run_result_cleanup(&r);
}

static void test_no_preopen(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(proc_sb, "no_preopen_read", &s, &r);
    assert_outcome(&r, NC_OUTCOME_EXIT);
    assert_int_equal(r.exit_code, 8);
    assert_denied(&r, NC_WASI_FN_path_open, NC_DENY_NO_PREOPEN);
    nc_run_result_cleanup(&r);
}

static void test_proc_raise(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(proc_sb, "proc_raise", &s, &r);
    assert_outcome(&r, NC_OUTCOME_TRAP);
    assert_string_equal(r.trap_kind, "proc_raise");
    assert_denied(&r, NC_WASI_FN_proc_raise, NC_DENY_SIGNAL);
    nc_run_result_cleanup(&r);
    assert_supervisor_healthy();
}

static void test_unreachable(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(proc_sb, "unreachable", &s, &r);
    assert_outcome(&r, NC_OUTCOME_TRAP);
    assert_string_equal(r.trap_kind, "unreachable");
    nc_run_result_cleanup(&r);
}

static void test_out_of_bounds(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(proc_sb, "out_of_bounds", &s, &r);
    assert_outcome(&r, NC_OUTCOME_TRAP);
    assert_string_equal(r.trap_kind, "memory_out_of_bounds");
    nc_run_result_cleanup(&r);
}

/* Faults in wasm code become traps through Wasmtime's own signal handlers
 * (signals-based traps): the child must report the trap itself, with seccomp
 * applied, and never die of the signal or of a system call the handlers make. */
static void assert_trap_in_child(const char *fixture, const char *kind)
{
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(proc_sb, fixture, &s, &r);
    assert_outcome(&r, NC_OUTCOME_TRAP);
    if (strcmp(r.trap_kind, kind) != 0)
        fail_msg("%s: trap %s (%s), wanted %s", fixture, r.trap_kind, r.message, kind);
    assert_int_equal(r.term_signal, 0);
    assert_true(r.isolation.seccomp);
    nc_run_result_cleanup(&r);
    assert_supervisor_healthy();
}

static void test_signal_traps(void **state)
{
    (void)state;
    assert_trap_in_child("oob_guard_region", "memory_out_of_bounds");
    assert_trap_in_child("oob_store_past_end", "memory_out_of_bounds");
    assert_trap_in_child("div_by_zero", "integer_division_by_zero");
    assert_trap_in_child("int_overflow", "integer_overflow");
    assert_trap_in_child("indirect_null", "indirect_call_to_null");
    assert_trap_in_child("unreachable", "unreachable");
    assert_trap_in_child("deep_recursion", "stack_overflow");
}

/* The largest stack a policy may allow: the recursion still ends as a trap. */
static void test_deep_recursion_max_stack(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    s.limits.stack_bytes = NC_MAX_STACK_BYTES;
    nc_run_result r;
    run_fixture(proc_sb, "deep_recursion", &s, &r);
    assert_outcome(&r, NC_OUTCOME_TRAP);
    assert_string_equal(r.trap_kind, "stack_overflow");
    nc_run_result_cleanup(&r);
    assert_supervisor_healthy();
    nc_artifact art;
    char msg[512];
    assert_int_equal(compile_fixture(proc_sb, "deep_recursion", false, &art, msg, sizeof msg), NC_OK);
    s.limits.stack_bytes = NC_MAX_STACK_BYTES + 1;   /* more than the engine accepts */
    assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_ERR_USAGE);
}

/* The deadline stops a guest spinning in wasm code from inside the child,
 * and what the run observed before is kept. */
static void test_deadline_keeps_observations(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    s.limits.timeout_ms = 300;
    nc_run_result r;
    run_fixture(proc_sb, "spin_after_output", &s, &r);
    assert_outcome(&r, NC_OUTCOME_TIMEOUT);
    assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_TIMEOUT));
    assert_int_equal(r.term_signal, 0);
    assert_int_equal(r.out_len, 8);
    assert_memory_equal(r.out, "started\n", 8);
    assert_int_equal(r.calls[NC_WASI_FN_fd_write], 1);
    assert_true(r.isolation.seccomp);
    assert_true(r.t_execute_ns >= 250000000ull);
    nc_run_result_cleanup(&r);
    assert_supervisor_healthy();
}

/* Data segments come from a copy-on-write image of the sealed artifact: a
 * run's writes never reach the image the next run starts from. */
static void test_data_image_not_shared(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        nc_run_spec s = default_spec();
        nc_run_result r;
        run_fixture(proc_sb, "data_mutate", &s, &r);
        assert_outcome(&r, NC_OUTCOME_OK);
        assert_int_equal(r.out_len, 2);
        assert_memory_equal(r.out, "B\n", 2);
        nc_run_result_cleanup(&r);
    }
}

/* Every page up to the limit can be committed and written; the next is refused. */
static void test_memory_touched_to_the_limit(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    s.limits.memory_bytes = 16u << 20;
    nc_run_result r;
    run_fixture(proc_sb, "memory_touch", &s, &r);
    assert_outcome(&r, NC_OUTCOME_OK);
    assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_MEMORY));
    assert_int_equal(r.peak_memory_bytes, s.limits.memory_bytes);
    nc_run_result_cleanup(&r);
    assert_supervisor_healthy();
}

static void test_giant_table(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(proc_sb, "giant_table", &s, &r);
    assert_outcome(&r, NC_OUTCOME_MEMORY);
    assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_TABLE_ELEMENTS));
    nc_run_result_cleanup(&r);
}

static void test_two_memories(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(proc_sb, "two_memories", &s, &r);
    assert_outcome(&r, NC_OUTCOME_MEMORY);
    assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_MEMORIES));
    nc_run_result_cleanup(&r);
}

static void test_many_tables(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(proc_sb, "many_tables", &s, &r);
    assert_outcome(&r, NC_OUTCOME_MEMORY);
    assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_TABLES));
    nc_run_result_cleanup(&r);
}

/* Limit tests never race two limits: a fuel test gets a budget the module
 * spends in about a millisecond and a generous deadline; a timeout test gets
 * no fuel at all. */
static void test_reentry_bomb_fuel(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    s.limits.fuel = 1000000;
    s.limits.timeout_ms = 60000;
    nc_run_result r;
    run_fixture(proc_sb, "reentry_bomb", &s, &r);
    assert_outcome(&r, NC_OUTCOME_FUEL);
    assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_FUEL));
    assert_true(r.fuel_used >= s.limits.fuel - 1000);
    nc_run_result_cleanup(&r);
}

static void test_spin_out_of_fuel(void **state)
{
    (void)state;
    const char *mods[] = {"infinite_loop", "fuel_burner"};
    for (int i = 0; i < 2; i++) {
        nc_run_spec s = default_spec();
        s.limits.fuel = i == 0 ? 1000000 : 1000000000;   /* about a millisecond of spinning */
        s.limits.timeout_ms = 60000;
        nc_run_result r;
        run_fixture(proc_sb, mods[i], &s, &r);
        assert_outcome(&r, NC_OUTCOME_FUEL);
        assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_FUEL));
        assert_false(r.limits_hit & NC_LIMIT(NC_LIMIT_TIMEOUT));
        assert_int_equal(r.fuel_used, s.limits.fuel);
        nc_run_result_cleanup(&r);
    }
}

/* A run whose deadline comes inside a host call (here a sleep) reports the
 * fuel the engine counted up to then (docs/sandbox.md: a deadline met in
 * wasm code ends the child without re-entering Wasmtime, fuel unknown). */
static void test_timeout_reports_fuel_used(void **state)
{
    (void)state;
    nc_sandbox *tiers[] = {proc_sb, inproc_sb};
    for (int i = 0; i < 2; i++) {
        nc_run_spec s = default_spec();
        s.limits.fuel = 1000000000000000ull;   /* never the limit that stops it */
        s.limits.timeout_ms = 200;
        nc_run_result r;
        run_fixture(tiers[i], "sleep_forever", &s, &r);
        assert_outcome(&r, NC_OUTCOME_TIMEOUT);
        assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_TIMEOUT));
        assert_true(r.fuel_used > 0);
        assert_true(r.fuel_used < s.limits.fuel);
        nc_run_result_cleanup(&r);
    }
}

static void test_reentry_bomb_timeout(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    s.limits.timeout_ms = 300;
    nc_run_result r;
    run_fixture(proc_sb, "reentry_bomb", &s, &r);
    assert_outcome(&r, NC_OUTCOME_TIMEOUT);
    nc_run_result_cleanup(&r);
    assert_supervisor_healthy();
}

static void test_exit_code(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(proc_sb, "exit_code", &s, &r);
    assert_outcome(&r, NC_OUTCOME_EXIT);
    assert_int_equal(r.exit_code, 7);
    nc_run_result_cleanup(&r);
}

static void test_network_attempt(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_run_result r;
    run_fixture(proc_sb, "network_attempt", &s, &r);
    assert_outcome(&r, NC_OUTCOME_EXIT);
    assert_int_equal(r.exit_code, 8);   /* EBADF: nothing at fd 3 */
    assert_denied(&r, NC_WASI_FN_sock_send, NC_DENY_NETWORK);
    nc_run_result_cleanup(&r);
}

static void test_invalid_modules(void **state)
{
    (void)state;
    const char *bad[] = {"not_wasm", "truncated"};
    for (size_t i = 0; i < 2; i++) {
        nc_artifact art;
        char msg[512] = "";
        nc_err err = compile_fixture(proc_sb, bad[i], false, &art, msg, sizeof msg);
        assert_int_equal(err, NC_ERR_INVALID_MODULE);
        assert_true(strlen(msg) > 0);
        assert_string_equal(art.path, "");
    }
    assert_supervisor_healthy();
}

static void test_unknown_import_refused(void **state)
{
    (void)state;
    nc_artifact art;
    char msg[512] = "";
    assert_int_equal(compile_fixture(proc_sb, "unknown_import", false, &art, msg, sizeof msg), NC_OK);
    nc_run_spec s = default_spec();
    nc_run_result r;
    nc_err err = nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg);
    assert_int_equal(err, NC_ERR_UNSUPPORTED_IMPORT);
    assert_non_null(strstr(msg, "launch_missiles"));
}

static void test_no_start_refused(void **state)
{
    (void)state;
    nc_artifact art;
    char msg[512] = "";
    assert_int_equal(compile_fixture(proc_sb, "no_start", false, &art, msg, sizeof msg), NC_OK);
    nc_run_spec s = default_spec();
    nc_run_result r;
    assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_ERR_NO_ENTRY);
}

/* An artifact changed on disk after it was recorded is never loaded. */
static void test_tampered_artifact_refused(void **state)
{
    (void)state;
    nc_artifact art;
    char msg[512] = "";
    assert_int_equal(compile_fixture(proc_sb, "hello", false, &art, msg, sizeof msg), NC_OK);
    uint8_t *bytes;
    size_t len;
    assert_int_equal(nc_read_file(art.path, 64u << 20, &bytes, &len), NC_OK);
    bytes[len / 2] ^= 1;
    assert_int_equal(nc_write_file_atomic(art.path, bytes, len, 0600), NC_OK);
    free(bytes);
    nc_run_spec s = default_spec();
    nc_run_result r;
    assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_ERR_ARTIFACT);
    assert_int_equal(nc_sandbox_run(inproc_sb, &art, &s, &r, msg, sizeof msg), NC_ERR_ARTIFACT);
    unlink(art.path);
    assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_ERR_ARTIFACT);
}

static void test_guest_env_and_stdin(void **state)
{
    (void)state;
    const char *const argv[] = {"guest", "--flag", "two words"};
    const char *const env[] = {"LANG=C", "GREETING=hi there"};
    nc_run_spec s = default_spec();
    s.args = argv;
    s.nargs = 3;
    s.env = env;
    s.nenv = 2;
    s.stdin_data = (const uint8_t *)"12345";
    s.stdin_len = 5;
    setenv("NIGHTCORE_HOME", "/secret/home", 1);   /* must not leak */
    nc_run_result r;
    run_fixture(proc_sb, "guest_env", &s, &r);
    assert_outcome(&r, NC_OUTCOME_OK);
    char *out = strndup((const char *)r.out, r.out_len);
    assert_non_null(strstr(out, "arg[1]=--flag\n"));
    assert_non_null(strstr(out, "arg[2]=two words\n"));
    assert_non_null(strstr(out, "env LANG=C\n"));
    assert_non_null(strstr(out, "env GREETING=hi there\n"));
    assert_non_null(strstr(out, "HOME=absent\n"));
    assert_non_null(strstr(out, "PATH=absent\n"));
    assert_non_null(strstr(out, "NIGHTCORE_HOME=absent\n"));
    assert_non_null(strstr(out, "stdin=5\n"));
    free(out);
    nc_run_result_cleanup(&r);
}

static void test_guest_fs_escape(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_dir_grant g = data_grant(false);
    s.dirs = &g;
    s.ndirs = 1;
    nc_run_result r;
    run_fixture(proc_sb, "guest_fs_escape", &s, &r);
    assert_outcome(&r, NC_OUTCOME_OK);
    char *out = strndup((const char *)r.out, r.out_len);
    assert_non_null(strstr(out, "etc_passwd=denied\n"));
    assert_non_null(strstr(out, "dotdot=denied\n"));
    assert_non_null(strstr(out, "symlink=denied\n"));
    assert_non_null(strstr(out, "inside_read=ok\n"));
    assert_non_null(strstr(out, "inside_create=ok\n"));
    assert_non_null(strstr(out, "content=hello from the host\n"));
    free(out);
    assert_true(r.denied_total >= 1);   /* the symlink escape reaches the host and is denied */
    nc_run_result_cleanup(&r);
}

/* The supervisor against children that misbehave outside wasm: one that dies
 * by a signal, one that never answers. */
static void write_script(const char *path, const char *body)
{
    assert_int_equal(nc_write_file_atomic(path, body, strlen(body), 0755), NC_OK);
}

static void test_child_crash_reported(void **state)
{
    (void)state;
    char exe[4096];
    snprintf(exe, sizeof exe, "%s/segv-child.sh", cache_dir);
    /* dies after the run request is in its socket, as a crashing child would */
    write_script(exe, "#!/bin/sh\nsleep 0.3\nkill -SEGV $$\n");
    nc_sandbox *sb;
    nc_sandbox_opts o = {.tier = NC_TIER_PROCESS, .child_exe = exe, .cache_dir = cache_dir};
    assert_int_equal(nc_sandbox_new(&o, &sb), NC_OK);
    nc_artifact art;
    char msg[512];
    /* compiled by a real compile child; the script only stands in for the run's child */
    assert_int_equal(compile_fixture(proc_sb, "hello", false, &art, msg, sizeof msg), NC_OK);
    nc_run_spec s = default_spec();
    nc_run_result r;
    assert_int_equal(nc_sandbox_run(sb, &art, &s, &r, msg, sizeof msg), NC_OK);
    assert_outcome(&r, NC_OUTCOME_CRASH);
    assert_int_equal(r.term_signal, SIGSEGV);
    nc_run_result_cleanup(&r);
    nc_sandbox_free(sb);
    assert_supervisor_healthy();
}

static void test_child_hang_killed(void **state)
{
    (void)state;
    char exe[4096];
    snprintf(exe, sizeof exe, "%s/hang-child.sh", cache_dir);
    write_script(exe, "#!/bin/sh\nexec sleep 60\n");
    nc_sandbox *sb;
    nc_sandbox_opts o = {.tier = NC_TIER_PROCESS, .child_exe = exe, .cache_dir = cache_dir};
    assert_int_equal(nc_sandbox_new(&o, &sb), NC_OK);
    nc_artifact art;
    char msg[512];
    /* compiled by a real compile child; the script only stands in for the run's child */
    assert_int_equal(compile_fixture(proc_sb, "hello", false, &art, msg, sizeof msg), NC_OK);
    nc_run_spec s = default_spec();
    s.limits.timeout_ms = 100;
    nc_run_result r;
    assert_int_equal(nc_sandbox_run(sb, &art, &s, &r, msg, sizeof msg), NC_OK);
    assert_outcome(&r, NC_OUTCOME_TIMEOUT);
    assert_int_equal(r.term_signal, SIGKILL);
    assert_true(r.t_total_ns < 5000000000ull);
    nc_run_result_cleanup(&r);
    nc_sandbox_free(sb);
}

static void test_bad_specs_refused(void **state)
{
    (void)state;
    nc_artifact art;
    char msg[512];
    assert_int_equal(compile_fixture(proc_sb, "hello", false, &art, msg, sizeof msg), NC_OK);
    nc_run_result r;
    nc_run_spec s = default_spec();
    s.limits.timeout_ms = 0;
    assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_ERR_USAGE);
    s = default_spec();
    const char *const env[] = {"NOEQUALS"};
    s.env = env;
    s.nenv = 1;
    assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_ERR_USAGE);
    s = default_spec();
    nc_dir_grant rel = {.host = "relative/path", .guest = "/data", .readonly = true};
    s.dirs = &rel;
    s.ndirs = 1;
    assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_ERR_USAGE);
    nc_dir_grant missing = {.host = "/nonexistent/nightcore", .guest = "/data", .readonly = true};
    s.dirs = &missing;
    assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_ERR_USAGE);
    assert_non_null(strstr(msg, "/nonexistent/nightcore"));
}

/* The isolation layer by itself, in a forked process: outside the granted
 * directory nothing opens; sockets kill the process. */
static void test_isolation_blocks_files_and_sockets(void **state)
{
    (void)state;
    nc_isolation_report probe;
    nc_isolation_probe(&probe);
    for (int which = 0; which < 2; which++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            nc_isolation_report rep;
            nc_run_spec s = default_spec();
            nc_dir_grant g = data_grant(true);
            s.dirs = &g;
            s.ndirs = 1;
            int dfd = open(data_dir, O_PATH | O_DIRECTORY);
            char msg[256];
            nc_isolate_early(&rep);
            if (nc_isolate_late(&s, &dfd, &rep, msg, sizeof msg) != NC_OK)
                _exit(10);
            if (which == 1) {
                (void)socket(AF_INET, SOCK_STREAM, 0);   /* must not return */
                _exit(11);
            }
            char p[4096];
            snprintf(p, sizeof p, "%s/hello.txt", data_dir);
            int in = open(p, O_RDONLY);
            int out = open("/etc/passwd", O_RDONLY);
            int outerr = errno;
            snprintf(p, sizeof p, "%s/new.txt", data_dir);
            int wr = open(p, O_WRONLY | O_CREAT, 0600);
            if (in < 0)
                _exit(12);
            if (rep.landlock_abi > 0 && (out >= 0 || outerr != EACCES))
                _exit(13);
            if (rep.landlock_abi > 0 && wr >= 0)
                _exit(14);
            _exit(0);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (which == 0) {
            assert_true(WIFEXITED(st));
            assert_int_equal(WEXITSTATUS(st), 0);
        } else {
            assert_true(WIFSIGNALED(st));
            assert_int_equal(WTERMSIG(st), SIGSYS);
        }
    }
}


/* The supervisor opens each granted directory itself: no symbolic link on
 * the way, and when the grant carries the approved device and inode, the
 * very directory that was approved (not one put in its place since). */
static void test_grant_must_be_the_approved_directory(void **state)
{
    (void)state;
    char root[] = "/tmp/nc-test-grant-XXXXXX";
    assert_non_null(mkdtemp(root));
    char real[256], moved[256], link_dir[256], via[256], last[256], file[256];
    snprintf(real, sizeof real, "%s/real", root);
    snprintf(moved, sizeof moved, "%s/real.old", root);
    snprintf(link_dir, sizeof link_dir, "%s/link", root);
    snprintf(via, sizeof via, "%s/link/real", root);
    snprintf(last, sizeof last, "%s/last", root);
    snprintf(file, sizeof file, "%s/file", root);
    assert_int_equal(mkdir(real, 0755), 0);
    struct stat st;
    assert_int_equal(stat(real, &st), 0);
    nc_artifact art;
    char msg[512];
    assert_int_equal(compile_fixture(proc_sb, "hello", false, &art, msg, sizeof msg), NC_OK);
    nc_run_spec s = default_spec();
    nc_dir_grant g = {.host = real, .guest = "/data", .readonly = true, .dev = st.st_dev, .ino = st.st_ino};
    s.dirs = &g;
    s.ndirs = 1;
    nc_run_result r;
    assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_OK);
    assert_outcome(&r, NC_OUTCOME_OK);
    nc_run_result_cleanup(&r);
    /* another inode */
    g.ino++;
    assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_ERR_CAPABILITY_DENIED);
    assert_non_null(strstr(msg, "not the directory that was approved"));
    g.ino--;
    /* replaced: the approved directory moved away, a new one in its place */
    assert_int_equal(rename(real, moved), 0);
    assert_int_equal(mkdir(real, 0755), 0);
    assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_ERR_CAPABILITY_DENIED);
    assert_non_null(strstr(msg, real));
    /* without an approved identity only the path counts */
    g.dev = g.ino = 0;
    assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_OK);
    nc_run_result_cleanup(&r);
    /* a symbolic link anywhere on the path, or as the directory itself */
    assert_int_equal(symlink(root, link_dir), 0);
    assert_int_equal(symlink(real, last), 0);
    g.host = via;
    assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_ERR_CAPABILITY_DENIED);
    assert_non_null(strstr(msg, "symbolic link"));
    g.host = last;
    assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_ERR_CAPABILITY_DENIED);
    /* not a directory */
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    g.host = file;
    assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_ERR_USAGE);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

/* The child gets the quotas through the wire and its WASI host counts. */
static void test_dir_quota_in_child(void **state)
{
    (void)state;
    nc_run_spec s = default_spec();
    nc_dir_grant g = data_grant(false);
    g.quota_bytes = 10000;
    g.quota_files = 5;
    s.dirs = &g;
    s.ndirs = 1;
    nc_run_result r;
    run_fixture(proc_sb, "quota_fill", &s, &r);
    assert_outcome(&r, NC_OUTCOME_EXIT);
    assert_int_equal(r.exit_code, 19);   /* DQUOT */
    assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_DIR_QUOTA));
    assert_denied(&r, NC_WASI_FN_fd_write, NC_DENY_QUOTA);
    char p[4096];
    snprintf(p, sizeof p, "%s/fill", data_dir);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 8192);
    assert_int_equal(unlink(p), 0);
    nc_run_result_cleanup(&r);
    /* the in-process tier passes quotas too */
    g.quota_bytes = 100;
    run_fixture(inproc_sb, "quota_fill", &s, &r);
    assert_outcome(&r, NC_OUTCOME_EXIT);
    assert_int_equal(r.exit_code, 19);
    assert_true(r.limits_hit & NC_LIMIT(NC_LIMIT_DIR_QUOTA));
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(unlink(p), 0);
    nc_run_result_cleanup(&r);
}

/* The process tier's Landlock ruleset covers exactly the granted
 * directories, each with its mode: read-only grants read files and list
 * directories; read-write ones also write, create, remove, rename, link and
 * make symlinks; nothing outside them is reachable at all. Checked with
 * system calls in a forked process after the real isolation steps. */
static void test_landlock_covers_exactly_the_grants(void **state)
{
    (void)state;
    nc_isolation_report probe;
    nc_isolation_probe(&probe);
    if (probe.landlock_abi <= 0)
        skip();
    char root[] = "/tmp/nc-test-ll-XXXXXX";
    assert_non_null(mkdtemp(root));
    char ro[256], rw[256], other[256], p[512];
    snprintf(ro, sizeof ro, "%s/ro", root);
    snprintf(rw, sizeof rw, "%s/rw", root);
    snprintf(other, sizeof other, "%s/other", root);
    assert_int_equal(mkdir(ro, 0755), 0);
    assert_int_equal(mkdir(rw, 0755), 0);
    assert_int_equal(mkdir(other, 0755), 0);
    const char *seed[] = {ro, rw, other};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/f", seed[i]);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs("data", f);
        fclose(f);
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        nc_isolation_report rep;
        nc_run_spec s = default_spec();
        nc_dir_grant g[2] = {{.host = ro, .guest = "/ro", .readonly = true},
                             {.host = rw, .guest = "/rw", .readonly = false}};
        s.dirs = g;
        s.ndirs = 2;
        int dfd[2] = {open(ro, O_PATH | O_DIRECTORY), open(rw, O_PATH | O_DIRECTORY)};
        char msg[256];
        nc_isolate_early(&rep);
        if (nc_isolate_late(&s, dfd, &rep, msg, sizeof msg) != NC_OK)
            _exit(100);
        char a[512], b[512];
        int fd, check = 0;
#define NC_EXPECT(cond)    \
    do {                   \
        check++;           \
        if (!(cond))       \
            _exit(check);  \
    } while (0)
#define DENIED(rc) ((rc) < 0 && errno == EACCES)
        /* read-only grant: reading only */
        snprintf(a, sizeof a, "%s/f", ro);
        NC_EXPECT((fd = open(a, O_RDONLY)) >= 0 && close(fd) == 0);
        NC_EXPECT((fd = open(ro, O_RDONLY | O_DIRECTORY)) >= 0 && close(fd) == 0);
        NC_EXPECT(DENIED(open(a, O_WRONLY)));
        NC_EXPECT(DENIED(open(a, O_RDONLY | O_TRUNC)));
        snprintf(b, sizeof b, "%s/new", ro);
        NC_EXPECT(DENIED(open(b, O_WRONLY | O_CREAT, 0600)));
        NC_EXPECT(DENIED(mkdirat(AT_FDCWD, b, 0700)));
        NC_EXPECT(DENIED(unlinkat(AT_FDCWD, a, 0)));
        NC_EXPECT(DENIED(renameat(AT_FDCWD, a, AT_FDCWD, b)));
        NC_EXPECT(DENIED(symlinkat("f", AT_FDCWD, b)));
        NC_EXPECT(DENIED(linkat(AT_FDCWD, a, AT_FDCWD, b, 0)));
        /* read-write grant: read, write, make and remove */
        snprintf(a, sizeof a, "%s/f", rw);
        NC_EXPECT((fd = open(a, O_RDWR)) >= 0 && write(fd, "x", 1) == 1 && ftruncate(fd, 0) == 0 &&
                  close(fd) == 0);
        snprintf(b, sizeof b, "%s/new", rw);
        NC_EXPECT((fd = open(b, O_WRONLY | O_CREAT, 0600)) >= 0 && close(fd) == 0);
        NC_EXPECT(unlinkat(AT_FDCWD, b, 0) == 0);
        NC_EXPECT(mkdirat(AT_FDCWD, b, 0700) == 0 && unlinkat(AT_FDCWD, b, AT_REMOVEDIR) == 0);
        NC_EXPECT(renameat(AT_FDCWD, a, AT_FDCWD, b) == 0 && renameat(AT_FDCWD, b, AT_FDCWD, a) == 0);
        NC_EXPECT(symlinkat("f", AT_FDCWD, b) == 0 && unlinkat(AT_FDCWD, b, 0) == 0);
        NC_EXPECT(linkat(AT_FDCWD, a, AT_FDCWD, b, 0) == 0 && unlinkat(AT_FDCWD, b, 0) == 0);
        /* no way across grants: a link or rename from rw into ro */
        snprintf(b, sizeof b, "%s/moved", ro);
        NC_EXPECT(DENIED(renameat(AT_FDCWD, a, AT_FDCWD, b)) || errno == EXDEV);
        /* nothing else: a sibling, the parent, the system */
        snprintf(a, sizeof a, "%s/f", other);
        NC_EXPECT(DENIED(open(a, O_RDONLY)));
        NC_EXPECT(DENIED(open(a, O_WRONLY)));
        NC_EXPECT(DENIED(open(other, O_RDONLY | O_DIRECTORY)));
        NC_EXPECT(DENIED(open(root, O_RDONLY | O_DIRECTORY)));
        snprintf(b, sizeof b, "%s/planted", root);
        NC_EXPECT(DENIED(open(b, O_WRONLY | O_CREAT, 0600)));
        NC_EXPECT(DENIED(open("/etc/passwd", O_RDONLY)));
        NC_EXPECT(DENIED(open("/tmp", O_RDONLY | O_DIRECTORY)));
#undef NC_EXPECT
#undef DENIED
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) != 0)
        fail_msg("Landlock check %d failed", WEXITSTATUS(st));
    snprintf(p, sizeof p, "%s/planted", root);
    assert_int_equal(access(p, F_OK), -1);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

/* ---- streamed output and cancellation ---- */

typedef struct {
    nc_buf out, err;
    unsigned chunks;
    size_t largest;
    bool bad_stream;
    sem_t seen;               /* posted at the first piece of output */
    nc_run_cancel *cancel;    /* fired by another thread once output is seen */
} stream_capture;

static void capture_output(void *ctx, int stream, const uint8_t *data, size_t len)
{
    stream_capture *c = ctx;
    if (stream != 1 && stream != 2)
        c->bad_stream = true;
    if (nc_buf_append(stream == 2 ? &c->err : &c->out, data, len) != NC_OK)
        c->bad_stream = true;
    if (c->chunks++ == 0)
        sem_post(&c->seen);
    if (len > c->largest)
        c->largest = len;
}

static void capture_init(stream_capture *c)
{
    memset(c, 0, sizeof *c);
    nc_buf_init(&c->out, NC_MAX_OUTPUT_BYTES);
    nc_buf_init(&c->err, NC_MAX_OUTPUT_BYTES);
    sem_init(&c->seen, 0, 0);
}

static void capture_cleanup(stream_capture *c)
{
    nc_buf_cleanup(&c->out);
    nc_buf_cleanup(&c->err);
    sem_destroy(&c->seen);
}

static nc_err run_hooked(nc_sandbox *sb, const char *name, const nc_run_spec *spec, const nc_run_hooks *hooks,
                         nc_run_result *res)
{
    nc_artifact art;
    char msg[512] = "";
    nc_err err = compile_fixture(sb, name, spec->limits.fuel != 0, &art, msg, sizeof msg);
    if (err != NC_OK)
        fail_msg("compile %s: %s (%s)", name, nc_strerror(err), msg);
    return nc_sandbox_run_ex(sb, &art, spec, hooks, res, msg, sizeof msg);
}

/* What the caller is shown is exactly what is recorded, within the caps,
 * in pieces of at most NC_WIRE_CHUNK_MAX. */
static void test_stream_equals_result(void **state)
{
    (void)state;
    nc_sandbox *tiers[] = {proc_sb, inproc_sb};
    for (int t = 0; t < 2; t++) {
        stream_capture cap;
        capture_init(&cap);
        nc_run_hooks hooks = {.on_output = capture_output, .ctx = &cap};
        nc_run_spec s = default_spec();
        s.limits.stdout_bytes = 200000;
        nc_run_result r;
        assert_int_equal(run_hooked(tiers[t], "huge_stdout", &s, &hooks, &r), NC_OK);
        assert_outcome(&r, NC_OUTCOME_OUTPUT_LIMIT);
        assert_false(cap.bad_stream);
        assert_int_equal(r.out_len, 200000);
        assert_int_equal(cap.out.len, r.out_len);
        assert_memory_equal(cap.out.data, r.out, r.out_len);
        assert_int_equal(cap.err.len, 0);
        if (tiers[t] == proc_sb)
            assert_true(cap.largest <= NC_WIRE_CHUNK_MAX);
        assert_true(cap.chunks >= 2);
        nc_run_result_cleanup(&r);
        capture_cleanup(&cap);
    }
    /* stdout and stderr apart (wasi_stdio echoes stdin and writes to both) */
    stream_capture cap;
    capture_init(&cap);
    nc_run_hooks hooks = {.on_output = capture_output, .ctx = &cap};
    nc_run_spec s = default_spec();
    s.stdin_data = (const uint8_t *)"abc";
    s.stdin_len = 3;
    nc_run_result r;
    assert_int_equal(run_hooked(proc_sb, "wasi_stdio", &s, &hooks, &r), NC_OK);
    assert_int_equal(cap.out.len, r.out_len);
    assert_int_equal(cap.err.len, r.err_len);
    assert_true(r.out_len + r.err_len > 0);
    if (r.out_len)
        assert_memory_equal(cap.out.data, r.out, r.out_len);
    if (r.err_len)
        assert_memory_equal(cap.err.data, r.err, r.err_len);
    nc_run_result_cleanup(&r);
    capture_cleanup(&cap);
    assert_supervisor_healthy();
}

/* A deadline hit in wasm code is reported from the child's signal handler:
 * the line streamed before it is the line recorded, once. */
static void test_stream_then_deadline(void **state)
{
    (void)state;
    stream_capture cap;
    capture_init(&cap);
    nc_run_hooks hooks = {.on_output = capture_output, .ctx = &cap};
    nc_run_spec s = default_spec();
    s.limits.timeout_ms = 300;
    nc_run_result r;
    assert_int_equal(run_hooked(proc_sb, "spin_after_output", &s, &hooks, &r), NC_OK);
    assert_outcome(&r, NC_OUTCOME_TIMEOUT);
    assert_int_equal(cap.out.len, 8);
    assert_memory_equal(cap.out.data, "started\n", 8);
    assert_int_equal(r.out_len, 8);
    nc_run_result_cleanup(&r);
    capture_cleanup(&cap);
}

static void *cancel_when_seen(void *arg)
{
    stream_capture *c = arg;
    while (sem_wait(&c->seen) != 0 && errno == EINTR)
        ;
    nc_run_cancel_fire(c->cancel);
    return NULL;
}

/* Cancelled from another thread while the module spins: the child is
 * killed, the outcome is cancelled and the output is what was streamed. */
static void test_cancel_running(void **state)
{
    (void)state;
    stream_capture cap;
    capture_init(&cap);
    assert_int_equal(nc_run_cancel_new(&cap.cancel), NC_OK);
    nc_run_hooks hooks = {.on_output = capture_output, .ctx = &cap, .cancel = cap.cancel};
    nc_run_spec s = default_spec();
    s.limits.timeout_ms = NC_MAX_TIMEOUT_MS;   /* only the cancel can end it */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_when_seen, &cap), 0);
    nc_run_result r;
    assert_int_equal(run_hooked(proc_sb, "spin_after_output", &s, &hooks, &r), NC_OK);
    pthread_join(th, NULL);
    assert_outcome(&r, NC_OUTCOME_CANCELLED);
    assert_true(nc_run_cancel_fired(cap.cancel));
    assert_int_equal(r.limits_hit, 0);
    assert_int_equal(r.out_len, 8);
    assert_memory_equal(r.out, "started\n", 8);
    assert_int_equal(cap.out.len, 8);
    nc_run_result_cleanup(&r);
    nc_run_cancel_free(cap.cancel);
    capture_cleanup(&cap);
    assert_supervisor_healthy();
}

/* Fired before the run: it never starts, in either tier. */
static void test_cancel_before_start(void **state)
{
    (void)state;
    nc_sandbox *tiers[] = {proc_sb, inproc_sb};
    for (int t = 0; t < 2; t++) {
        nc_run_cancel *cancel;
        assert_int_equal(nc_run_cancel_new(&cancel), NC_OK);
        nc_run_cancel_fire(cancel);
        nc_run_cancel_fire(cancel);   /* idempotent */
        nc_run_hooks hooks = {.cancel = cancel};
        nc_run_spec s = default_spec();
        nc_run_result r;
        assert_int_equal(run_hooked(tiers[t], "hello", &s, &hooks, &r), NC_OK);
        assert_outcome(&r, NC_OUTCOME_CANCELLED);
        assert_int_equal(r.out_len, 0);
        assert_int_equal(r.calls[NC_WASI_FN_fd_write], 0);
        nc_run_result_cleanup(&r);
        nc_run_cancel_free(cancel);
    }
    nc_run_cancel_free(NULL);
    assert_false(nc_run_cancel_fired(NULL));
}

int main(int argc, char **argv)
{
    nc_sandbox_dispatch(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_process),
        cmocka_unit_test(test_hello_inprocess),
        cmocka_unit_test(test_isolation_report),
        cmocka_unit_test(test_isolation_blocks_files_and_sockets),
        cmocka_unit_test(test_landlock_covers_exactly_the_grants),
        cmocka_unit_test(test_grant_must_be_the_approved_directory),
        cmocka_unit_test(test_dir_quota_in_child),
        cmocka_unit_test(test_infinite_loop_times_out),
        cmocka_unit_test(test_start_function_loop_times_out),
        cmocka_unit_test(test_sleep_interrupted_at_deadline),
        cmocka_unit_test(test_memory_bomb),
        cmocka_unit_test(test_memory_refusal_recorded_when_module_copes),
        cmocka_unit_test(test_big_initial_memory),
        cmocka_unit_test(test_deep_recursion),
        cmocka_unit_test(test_huge_stdout),
        cmocka_unit_test(test_path_traversal),
        cmocka_unit_test(test_symlink_escape),
        cmocka_unit_test(test_write_readonly),
        cmocka_unit_test(test_no_preopen),
        cmocka_unit_test(test_proc_raise),
        cmocka_unit_test(test_unreachable),
        cmocka_unit_test(test_out_of_bounds),
        cmocka_unit_test(test_signal_traps),
        cmocka_unit_test(test_deep_recursion_max_stack),
        cmocka_unit_test(test_deadline_keeps_observations),
        cmocka_unit_test(test_data_image_not_shared),
        cmocka_unit_test(test_memory_touched_to_the_limit),
        cmocka_unit_test(test_giant_table),
        cmocka_unit_test(test_two_memories),
        cmocka_unit_test(test_many_tables),
        cmocka_unit_test(test_reentry_bomb_fuel),
        cmocka_unit_test(test_spin_out_of_fuel),
        cmocka_unit_test(test_timeout_reports_fuel_used),
        cmocka_unit_test(test_reentry_bomb_timeout),
        cmocka_unit_test(test_exit_code),
        cmocka_unit_test(test_network_attempt),
        cmocka_unit_test(test_invalid_modules),
        cmocka_unit_test(test_unknown_import_refused),
        cmocka_unit_test(test_no_start_refused),
        cmocka_unit_test(test_tampered_artifact_refused),
        cmocka_unit_test(test_guest_env_and_stdin),
        cmocka_unit_test(test_guest_fs_escape),
        cmocka_unit_test(test_child_crash_reported),
        cmocka_unit_test(test_child_hang_killed),
        cmocka_unit_test(test_bad_specs_refused),
        cmocka_unit_test(test_stream_equals_result),
        cmocka_unit_test(test_stream_then_deadline),
        cmocka_unit_test(test_cancel_running),
        cmocka_unit_test(test_cancel_before_start),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
