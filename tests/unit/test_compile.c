/* The compile child (src/sandbox/compile.c): modules compile in a process of
 * their own, isolated like a run child, and whatever the compiler does there
 * (crash, hang, a forbidden system call, a lie, a module that wants all the
 * memory) ends as an error for that compile, never as harm to this process,
 * the supervisor. Linked with the sandbox built with its test actions
 * (NC_TEST_HOOKS: compile.h). */
#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sandbox_harness.h"
#include "common/hash.h"
#include "sandbox/compile.h"
#include "sandbox/internal.h"

static char cache_dir[] = "/tmp/nc-test-compile-XXXXXX";
static nc_sandbox *proc_sb, *inproc_sb;

static int group_setup(void **state)
{
    (void)state;
    if (!mkdtemp(cache_dir))
        return -1;
    nc_sandbox_opts po = {.tier = NC_TIER_PROCESS, .cache_dir = cache_dir};
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
    snprintf(cmd, sizeof cmd, "rm -rf %s", cache_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int reset_hook(void **state)
{
    (void)state;
    nc_compile_test_hook = NC_COMPILE_HOOK_NONE;
    return 0;
}

static uint8_t *read_fixture(const char *name, size_t *len)
{
    char path[4096];
    uint8_t *wasm = NULL;
    assert_int_equal(nc_read_file(fixture_path(name, path, sizeof path), 64u << 20, &wasm, len), NC_OK);
    return wasm;
}

static void assert_one_printable_line(const char *msg)
{
    assert_true(msg[0] != '\0');
    for (const char *p = msg; *p; p++)
        assert_true(*p >= 0x20 && *p <= 0x7e);
}

/* This process's peak resident size, in KiB. */
static long peak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    long v = -1;
    assert_non_null(f);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            v = strtol(line + 6, NULL, 10);
    fclose(f);
    assert_true(v > 0);
    return v;
}

/* A compile that works, and the artifact runs. */
static void run_hello(const nc_artifact *art)
{
    nc_run_spec s = default_spec();
    nc_run_result r;
    char msg[512];
    assert_int_equal(nc_sandbox_run(proc_sb, art, &s, &r, msg, sizeof msg), NC_OK);
    assert_int_equal(r.outcome, NC_OUTCOME_OK);
    assert_int_equal(r.out_len, 13);
    assert_memory_equal(r.out, "hello, world\n", 13);
    nc_run_result_cleanup(&r);
}

static void assert_supervisor_compiles(void)
{
    size_t len;
    uint8_t *wasm = read_fixture("hello", &len);
    nc_artifact art;
    char msg[512];
    nc_compile_test_hook = NC_COMPILE_HOOK_NONE;
    assert_int_equal(nc_artifact_compile(proc_sb, wasm, len, false, &art, msg, sizeof msg), NC_OK);
    run_hello(&art);
    free(wasm);
}

static void test_compiles_in_child_as_in_process(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wasm = read_fixture("hello", &len);
    nc_artifact child, local;
    nc_compile_report rep, lrep;
    char msg[512];
    nc_isolation_report kernel;
    nc_isolation_probe(&kernel);
    assert_int_equal(
        nc_artifact_compile_ex(proc_sb, NC_TIER_PROCESS, wasm, len, false, NULL, &child, &rep, msg, sizeof msg), NC_OK);
    assert_true(rep.in_child);
    assert_true(rep.isolation.seccomp);
    assert_true(rep.isolation.no_new_privs);
    assert_true(rep.isolation.caps_dropped);
    assert_true(rep.isolation.rlimits);
    assert_int_equal(rep.isolation.landlock_abi, kernel.landlock_abi);
    assert_int_equal(rep.isolation.userns, kernel.userns);
    assert_int_equal(rep.term_signal, 0);
    assert_true(rep.artifact_bytes > 0);
    assert_true(rep.t_total_ns >= rep.t_compile_ns);
    /* the same engine settings: the same bytes as a compile in this process */
    assert_int_equal(
        nc_artifact_compile_ex(inproc_sb, NC_TIER_INPROCESS, wasm, len, false, NULL, &local, &lrep, msg, sizeof msg),
        NC_OK);
    assert_false(lrep.in_child);
    assert_memory_equal(child.sha256, local.sha256, NC_SHA256_LEN);
    assert_memory_equal(child.module_sha256, local.module_sha256, NC_SHA256_LEN);
    /* the vm tier's artifact: in a compile child too, for the guests' CPU, the
     * same bytes as compiled for that CPU in this process, and not the host's */
    nc_artifact vm;
    nc_compile_report vrep;
    uint8_t *vbytes = NULL;
    size_t vlen = 0;
    assert_int_equal(nc_artifact_compile_ex(proc_sb, NC_TIER_VM, wasm, len, false, NULL, &vm, &vrep, msg, sizeof msg),
                     NC_OK);
    assert_true(vrep.in_child);
    assert_true(vrep.isolation.seccomp);
    assert_int_equal(vm.tier, NC_TIER_VM);
    assert_int_equal(nc_exec_compile(wasm, len, false, NC_COMPILE_TARGET_VM, &vbytes, &vlen, msg, sizeof msg), NC_OK);
    uint8_t vdigest[NC_SHA256_LEN];
    assert_int_equal(nc_sha256(vbytes, vlen, vdigest), NC_OK);
    assert_memory_equal(vdigest, vm.sha256, NC_SHA256_LEN);
    assert_memory_not_equal(vm.sha256, child.sha256, NC_SHA256_LEN);
    assert_string_not_equal(vm.path, child.path);
    free(vbytes);
    /* what the supervisor wrote is what it recorded */
    uint8_t *bytes, digest[NC_SHA256_LEN];
    size_t n;
    assert_int_equal(nc_read_file(child.path, NC_MAX_ARTIFACT_BYTES, &bytes, &n), NC_OK);
    assert_int_equal(n, rep.artifact_bytes);
    assert_int_equal(nc_sha256(bytes, n, digest), NC_OK);
    assert_memory_equal(digest, child.sha256, NC_SHA256_LEN);
    free(bytes);
    run_hello(&child);
    free(wasm);
}

static void test_fuel_flag_reaches_child(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wasm = read_fixture("fuel_burner", &len);
    nc_artifact art;
    char msg[512];
    assert_int_equal(nc_artifact_compile(proc_sb, wasm, len, true, &art, msg, sizeof msg), NC_OK);
    assert_true(art.fuel);
    nc_run_spec s = default_spec();
    s.limits.fuel = 100000;
    s.limits.timeout_ms = 60000;
    nc_run_result r;
    assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_OK);
    assert_int_equal(r.outcome, NC_OUTCOME_FUEL);   /* metered code: compiled with fuel */
    nc_run_result_cleanup(&r);
    free(wasm);
}

static void test_invalid_modules_refused_with_one_line(void **state)
{
    (void)state;
    static const char *const bad[] = {"not_wasm", "truncated"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len;
        uint8_t *wasm = read_fixture(bad[i], &len);
        nc_artifact art;
        nc_compile_report rep;
        char msg[512];
        assert_int_equal(
            nc_artifact_compile_ex(proc_sb, NC_TIER_PROCESS, wasm, len, false, NULL, &art, &rep, msg, sizeof msg),
                         NC_ERR_INVALID_MODULE);
        assert_true(strncmp(msg, "invalid module: ", 16) == 0);
        assert_true(strlen(msg) > 16);
        assert_one_printable_line(msg);
        assert_int_equal(rep.term_signal, 0);
        assert_true(rep.isolation.seccomp);   /* it was the isolated engine that said so */
        assert_int_equal(art.path[0], '\0');
        free(wasm);
    }
    nc_artifact art;
    char msg[512];
    assert_int_equal(nc_artifact_compile(proc_sb, (const uint8_t *)"", 0, false, &art, msg, sizeof msg),
                     NC_ERR_INVALID_MODULE);
    assert_one_printable_line(msg);
    uint8_t *huge = calloc(1, NC_MAX_MODULE_BYTES + 1);
    assert_non_null(huge);
    assert_int_equal(nc_artifact_compile(proc_sb, huge, NC_MAX_MODULE_BYTES + 1, false, &art, msg, sizeof msg),
                     NC_ERR_TOO_LARGE);
    free(huge);
}

/* ---- hostile modules for the compiler, generated ---- */

static void put_uleb(nc_buf *b, uint32_t v)
{
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        assert_int_equal(nc_buf_put_u8(b, (uint8_t)(byte | (v ? 0x80 : 0))), NC_OK);
    } while (v);
}

static void put_section(nc_buf *m, uint8_t id, const nc_buf *payload)
{
    assert_int_equal(nc_buf_put_u8(m, id), NC_OK);
    put_uleb(m, (uint32_t)payload->len);
    assert_int_equal(nc_buf_append(m, payload->data, payload->len), NC_OK);
}

/* nfuncs functions () -> (), the last exported as _start; function 0's body
 * is depth nested blocks (the others are empty). */
static uint8_t *gen_module(uint32_t nfuncs, uint32_t depth, size_t *len)
{
    nc_buf m, p;
    nc_buf_init(&m, 64u << 20);
    nc_buf_init(&p, 64u << 20);
    assert_int_equal(nc_buf_append(&m, "\0asm\1\0\0\0", 8), NC_OK);
    assert_int_equal(nc_buf_append(&p, "\x01\x60\x00\x00", 4), NC_OK);   /* one type: () -> () */
    put_section(&m, 1, &p);
    nc_buf_reset(&p);
    put_uleb(&p, nfuncs);
    for (uint32_t i = 0; i < nfuncs; i++)
        assert_int_equal(nc_buf_put_u8(&p, 0), NC_OK);
    put_section(&m, 3, &p);
    nc_buf_reset(&p);
    assert_int_equal(nc_buf_append(&p, "\x01\x06_start\x00", 9), NC_OK);
    put_uleb(&p, nfuncs - 1);
    put_section(&m, 7, &p);
    nc_buf_reset(&p);
    put_uleb(&p, nfuncs);
    put_uleb(&p, 2 + 3 * depth);   /* no locals, the blocks, their ends, the function's end */
    assert_int_equal(nc_buf_put_u8(&p, 0), NC_OK);
    for (uint32_t i = 0; i < depth; i++)
        assert_int_equal(nc_buf_append(&p, "\x02\x40", 2), NC_OK);
    for (uint32_t i = 0; i <= depth; i++)
        assert_int_equal(nc_buf_put_u8(&p, 0x0b), NC_OK);
    for (uint32_t i = 1; i < nfuncs; i++)
        assert_int_equal(nc_buf_append(&p, "\x02\x00\x0b", 3), NC_OK);
    put_section(&m, 10, &p);
    nc_buf_cleanup(&p);
    return nc_buf_steal(&m, len);
}

/* Compiles a generated module in a compile child: it compiles, or is refused
 * as the compiler's failure; either way this process's memory stays where it
 * was (the compiler's hundreds of MiB are the child's), and it goes on
 * compiling. */
static void compile_hostile(uint32_t nfuncs, uint32_t depth)
{
    size_t len;
    uint8_t *wasm = gen_module(nfuncs, depth, &len);
    nc_artifact art;
    nc_compile_report rep;
    char msg[512];
    long before = peak_rss_kib();
    nc_err err =
        nc_artifact_compile_ex(proc_sb, NC_TIER_PROCESS, wasm, len, false, NULL, &art, &rep, msg, sizeof msg);
    long grown = peak_rss_kib() - before;
    if (err != NC_OK)
        print_message("%u functions, depth %u: %s (%s)\n", nfuncs, depth, nc_strerror(err), msg);
    assert_true(err == NC_OK || err == NC_ERR_INVALID_MODULE || err == NC_ERR_CHILD);
    assert_true(rep.in_child);
    /* the artifact passes through here (read, hashed, written, sealed): some
     * tens of MiB; the compile itself took hundreds in the child */
    assert_true(grown < 192 * 1024);
    if (err == NC_OK) {
        nc_run_spec s = default_spec();
        nc_run_result r;
        assert_int_equal(nc_sandbox_run(proc_sb, &art, &s, &r, msg, sizeof msg), NC_OK);
        assert_int_equal(r.outcome, NC_OUTCOME_OK);
        nc_run_result_cleanup(&r);
    }
    free(wasm);
    assert_supervisor_compiles();
}

static void test_many_functions(void **state)
{
    (void)state;
    compile_hostile(100000, 0);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    compile_hostile(1, 1000000);
}

/* ---- the compile child's isolation, shown by its test actions ---- */

typedef struct {
    nc_sandbox *sb;
    unsigned hook;
    nc_run_cancel *cancel;
    nc_err err;
    nc_compile_report rep;
    char msg[512];
} compile_job;

static void *compile_thread(void *arg)
{
    compile_job *j = arg;
    size_t len;
    uint8_t *wasm = read_fixture("hello", &len);
    nc_artifact art;
    j->err = nc_artifact_compile_ex(j->sb, NC_TIER_PROCESS, wasm, len, false, j->cancel, &art, &j->rep, j->msg,
                                    sizeof j->msg);
    free(wasm);
    return NULL;
}

static nc_err compile_with_hook(unsigned hook, nc_compile_report *rep, char *msg, size_t msg_len)
{
    size_t len;
    uint8_t *wasm = read_fixture("hello", &len);
    nc_artifact art;
    nc_compile_test_hook = hook;
    nc_err err = nc_artifact_compile_ex(proc_sb, NC_TIER_PROCESS, wasm, len, false, NULL, &art, rep, msg, msg_len);
    nc_compile_test_hook = NC_COMPILE_HOOK_NONE;
    free(wasm);
    return err;
}

/* The pid of this process's compile child, or 0. */
static pid_t find_compile_child(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = 0;
    assert_non_null(d);
    while (!found && (e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* "pid (comm) state ppid ..." */
        char *rp = strrchr(buf, ')');
        if (!rp || strlen(rp) < 5)
            continue;
        char *end;
        long ppid = strtol(rp + 4, &end, 10);
        if (end == rp + 4 || ppid != (long)getpid())
            continue;
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        f = fopen(path, "re");
        if (!f)
            continue;
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        size_t first = strlen(buf);
        if (first + 1 < n && strcmp(buf + first + 1, "sandbox-compile") == 0)
            found = (pid_t)strtol(e->d_name, NULL, 10);
    }
    closedir(d);
    return found;
}

/* The value of a "Key:" line of /proc/PID/FILE, or "" (static buffer). */
static const char *proc_field(pid_t pid, const char *file, const char *key)
{
    static char value[256];
    char path[128], line[512];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    value[0] = '\0';
    FILE *f = fopen(path, "re");
    if (!f)
        return value;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0) {
            const char *v = line + klen;
            while (*v == ' ' || *v == '\t' || *v == ':')
                v++;
            snprintf(value, sizeof value, "%s", v);
            value[strcspn(value, "\n")] = '\0';
            break;
        }
    }
    fclose(f);
    return value;
}

/* A limit of /proc/PID/limits whose soft and hard values agree; -1 if not. */
static long long proc_limit(pid_t pid, const char *name)
{
    const char *v = proc_field(pid, "limits", name);
    char *end1, *end2;
    long long soft = strtoll(v, &end1, 10), hard = strtoll(end1, &end2, 10);
    if (end1 == v || end2 == end1 || soft != hard)
        return -1;
    return soft;
}

/* A compile child that hangs after isolating itself: the kernel shows its
 * seccomp filter, no_new_privs, no capabilities and its rlimits; a cancel
 * kills it. */
static void test_hanging_child_isolated_and_cancelled(void **state)
{
    (void)state;
    compile_job j = {.sb = proc_sb};
    assert_int_equal(nc_run_cancel_new(&j.cancel), NC_OK);
    nc_compile_test_hook = NC_COMPILE_HOOK_HANG;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, compile_thread, &j), 0);
    pid_t pid = 0;
    /* it hangs for ever once isolated: wait for the filter to show */
    for (;;) {
        if (!pid)
            pid = find_compile_child();
        if (pid && strcmp(proc_field(pid, "status", "Seccomp:"), "2") == 0)
            break;
        usleep(10000);
    }
    assert_string_equal(proc_field(pid, "status", "NoNewPrivs:"), "1");
    assert_string_equal(proc_field(pid, "status", "CapEff:"), "0000000000000000");
    assert_string_equal(proc_field(pid, "status", "CapPrm:"), "0000000000000000");
    assert_int_equal(proc_limit(pid, "Max open files"), 4);   /* its socket and /dev/null stdio only */
    assert_int_equal(proc_limit(pid, "Max file size"), 0);
    assert_int_equal(proc_limit(pid, "Max core file size"), 0);
    assert_int_equal(proc_limit(pid, "Max locked memory"), 0);
    assert_true(proc_limit(pid, "Max cpu time") > 0);
#if !defined(__SANITIZE_ADDRESS__)
    assert_int_equal(proc_limit(pid, "Max data size"), (long long)NC_COMPILE_MAX_DATA_BYTES);
#endif
    char path[64], adj[16] = "";
    snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int)pid);
    FILE *f = fopen(path, "re");
    assert_non_null(f);
    assert_non_null(fgets(adj, sizeof adj, f));
    fclose(f);
    assert_string_equal(adj, "1000\n");
    nc_run_cancel_fire(j.cancel);
    assert_int_equal(pthread_join(t, NULL), 0);
    nc_compile_test_hook = NC_COMPILE_HOOK_NONE;
    assert_int_equal(j.err, NC_ERR_CHILD);
    assert_non_null(strstr(j.msg, "cancelled"));
    assert_int_equal(kill(pid, 0), -1);   /* killed and reaped */
    nc_run_cancel_free(j.cancel);
    assert_supervisor_compiles();
}

static void test_hanging_child_killed_at_deadline(void **state)
{
    (void)state;
    nc_sandbox *sb;
    nc_sandbox_opts o = {.tier = NC_TIER_PROCESS, .cache_dir = cache_dir, .compile_timeout_ms = 1500};
    assert_int_equal(nc_sandbox_new(&o, &sb), NC_OK);
    compile_job j = {.sb = sb};
    nc_compile_test_hook = NC_COMPILE_HOOK_HANG;
    compile_thread(&j);   /* it never finishes by itself */
    nc_compile_test_hook = NC_COMPILE_HOOK_NONE;
    assert_int_equal(j.err, NC_ERR_CHILD);
    assert_non_null(strstr(j.msg, "did not finish within 1500 ms"));
    assert_int_equal(j.rep.term_signal, SIGKILL);
    assert_int_equal(find_compile_child(), 0);   /* reaped */
    nc_sandbox_free(sb);
    assert_supervisor_compiles();
}

static void assert_killed_by_seccomp(unsigned hook)
{
    nc_compile_report rep;
    char msg[512];
    assert_int_equal(compile_with_hook(hook, &rep, msg, sizeof msg), NC_ERR_CHILD);
    assert_int_equal(rep.term_signal, SIGSYS);
    assert_non_null(strstr(msg, "seccomp"));
    assert_one_printable_line(msg);
}

static void test_forbidden_syscall_kills(void **state)
{
    (void)state;
    assert_killed_by_seccomp(NC_COMPILE_HOOK_SYSCALL);
    assert_supervisor_compiles();
}

static void test_executable_mapping_kills(void **state)
{
    (void)state;
    assert_killed_by_seccomp(NC_COMPILE_HOOK_EXEC_MAP);
}

/* A thread as rayon starts one works (clone with a thread's flags, clone3
 * answered ENOSYS); a process (fork: clone without CLONE_THREAD) kills. */
static void test_threads_yes_processes_no(void **state)
{
    (void)state;
    assert_killed_by_seccomp(NC_COMPILE_HOOK_THREAD);
}

static void test_no_filesystem(void **state)
{
    (void)state;
    nc_isolation_report kernel;
    nc_isolation_probe(&kernel);
    nc_compile_report rep;
    char msg[512];
    assert_int_equal(compile_with_hook(NC_COMPILE_HOOK_OPEN, &rep, msg, sizeof msg), NC_ERR_CHILD);
    /* no descriptor can be opened at all (RLIMIT_NOFILE), and Landlock
     * refuses what needs none */
    if (kernel.landlock_abi > 0)
        assert_string_equal(msg, "open: Too many open files; mkdir: Permission denied");
    else
        assert_true(strncmp(msg, "open: Too many open files; ", 27) == 0);
}

static void test_memory_capped(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip();   /* ASan builds set no RLIMIT_DATA in the child */
#endif
    nc_compile_report rep;
    char msg[512];
    char *end;
    long before = peak_rss_kib();
    assert_int_equal(compile_with_hook(NC_COMPILE_HOOK_GREEDY, &rep, msg, sizeof msg), NC_ERR_CHILD);
    assert_true(strncmp(msg, "allocated ", 10) == 0);
    unsigned long long mib = strtoull(msg + 10, &end, 10);
    assert_string_equal(end, " MiB");
    assert_true(mib > 0);
    assert_true(mib << 20 <= NC_COMPILE_MAX_DATA_BYTES);
    assert_true(peak_rss_kib() - before < 64 * 1024);
}

/* A compiler that faults: its own signal, not a handler's system call. */
static void test_crash_reported_with_its_signal(void **state)
{
    (void)state;
    nc_compile_report rep;
    char msg[512];
    assert_int_equal(compile_with_hook(NC_COMPILE_HOOK_CRASH, &rep, msg, sizeof msg), NC_ERR_CHILD);
#if defined(__SANITIZE_ADDRESS__)
    /* ASan's own fault handler takes the SIGSEGV first and makes calls to
     * report it that the profile forbids: the child still dies of a signal,
     * and it is still reported as a crash. */
    assert_true(rep.term_signal == SIGSEGV || rep.term_signal == SIGSYS);
    assert_non_null(strstr(msg, "the compiler crashed: compile child killed by signal "));
#else
    assert_int_equal(rep.term_signal, SIGSEGV);
    assert_non_null(strstr(msg, "the compiler crashed: compile child killed by signal 11"));
#endif
    assert_one_printable_line(msg);
    assert_supervisor_compiles();
}

/* A child that claims success with bytes that are no artifact: refused, and
 * nothing written. */
static void test_lying_child_refused(void **state)
{
    (void)state;
    nc_compile_report rep;
    char msg[512];
    assert_int_equal(compile_with_hook(NC_COMPILE_HOOK_LIE, &rep, msg, sizeof msg), NC_ERR_CHILD);
    assert_string_equal(msg, "the compile child sent a malformed reply");
    assert_int_equal(rep.artifact_bytes, 0);
}

static void test_missing_child_program(void **state)
{
    (void)state;
    nc_sandbox *sb;
    nc_sandbox_opts o = {.tier = NC_TIER_PROCESS, .cache_dir = cache_dir,
                         .child_exe = "/nonexistent/nightcore-worker"};
    assert_int_equal(nc_sandbox_new(&o, &sb), NC_OK);
    size_t len;
    uint8_t *wasm = read_fixture("hello", &len);
    nc_artifact art;
    char msg[512];
    /* never compiled here instead */
    assert_int_equal(nc_artifact_compile(sb, wasm, len, false, &art, msg, sizeof msg), NC_ERR_CHILD);
    assert_non_null(strstr(msg, "compile child"));
    free(wasm);
    nc_sandbox_free(sb);
}

int main(int argc, char **argv)
{
    nc_sandbox_dispatch(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_compiles_in_child_as_in_process, reset_hook),
        cmocka_unit_test_setup(test_fuel_flag_reaches_child, reset_hook),
        cmocka_unit_test_setup(test_invalid_modules_refused_with_one_line, reset_hook),
        cmocka_unit_test_setup(test_many_functions, reset_hook),
        cmocka_unit_test_setup(test_deep_nesting, reset_hook),
        cmocka_unit_test_setup(test_hanging_child_isolated_and_cancelled, reset_hook),
        cmocka_unit_test_setup(test_hanging_child_killed_at_deadline, reset_hook),
        cmocka_unit_test_setup(test_forbidden_syscall_kills, reset_hook),
        cmocka_unit_test_setup(test_executable_mapping_kills, reset_hook),
        cmocka_unit_test_setup(test_threads_yes_processes_no, reset_hook),
        cmocka_unit_test_setup(test_no_filesystem, reset_hook),
        cmocka_unit_test_setup(test_memory_capped, reset_hook),
        cmocka_unit_test_setup(test_crash_reported_with_its_signal, reset_hook),
        cmocka_unit_test_setup(test_lying_child_refused, reset_hook),
        cmocka_unit_test_setup(test_missing_child_program, reset_hook),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
