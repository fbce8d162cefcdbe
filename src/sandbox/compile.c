/* The compile child and its supervisor (compile.h, docs/sandbox.md
 * "Compiling"). Cranelift compiles attacker-chosen code: a compiler bug must
 * be a compromise of a throw-away process with nothing to reach, not of the
 * worker. So each compile runs in `nightcore-worker sandbox-compile`, which,
 * single-threaded and before it reads the module:
 *   - enters new user and network namespaces, drops every capability, sets
 *     no_new_privs, makes itself non-dumpable;
 *   - sets rlimits: no core, no new descriptors, no file growth, no locked
 *     memory, RLIMIT_DATA for the largest module's compile, RLIMIT_CPU;
 *   - applies a Landlock ruleset that allows nothing: no filesystem at all;
 * then reads the module, creates the engine, loads its own seccomp profile
 * (below), compiles (rayon's threads start only now), and sends back the
 * artifact or a one-line reason. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common/fs.h"
#include "sandbox/compile.h"
#include "sandbox/internal.h"

#define COMPILE_SOCK 3

#ifdef NC_TEST_HOOKS
unsigned nc_compile_test_hook;
#endif

/* ==== the compile child ==== */

static bool set_limit(int res, rlim_t v)
{
    struct rlimit rl = {v, v};
    return setrlimit(res, &rl) == 0;
}

static unsigned online_cpus(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    return n > 0 ? (unsigned)n : 1;
}

/* Everything before the module is read. A step the kernel lacks (user
 * namespaces, Landlock) is reported; one that fails where it exists stops
 * the compile (NC_ERR_ISOLATION). */
static nc_err isolate(nc_isolation_report *iso, char *msg, size_t msg_len)
{
    memset(iso, 0, sizeof *iso);
    /* Should memory run out on the machine, the kernel ends this process
     * before any other (raising one's own score needs no privilege). */
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = write(fd, "1000", 4);
        (void)n;   /* best effort: the rlimits below bound it anyway */
        close(fd);
    }
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0) {
        iso->userns = iso->netns = true;
    } else {
        iso->userns = unshare(CLONE_NEWUSER) == 0;
        iso->netns = unshare(CLONE_NEWNET) == 0;
    }
    iso->caps_dropped = nc_isolate_drop_caps();
    iso->no_new_privs = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0;
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (!iso->caps_dropped || !iso->no_new_privs) {
        snprintf(msg, msg_len, "the compile child could not drop its capabilities or set no_new_privs");
        return NC_ERR_ISOLATION;
    }
    /* Landlock first: its ruleset needs a descriptor, and none is left after. */
    nc_err err = nc_isolate_landlock_nothing(&iso->landlock_abi, msg, msg_len);
    if (err != NC_OK)
        return err;
    /* CPU: the deadline's worth on every core, a backstop for a supervisor
     * that stopped watching (PDEATHSIG covers one that died). */
    rlim_t cpu = (rlim_t)(NC_COMPILE_TIMEOUT_MS / 1000 + 1) * online_cpus();
    iso->rlimits = set_limit(RLIMIT_CORE, 0) && set_limit(RLIMIT_NOFILE, COMPILE_SOCK + 1) &&
                   set_limit(RLIMIT_FSIZE, 0) && set_limit(RLIMIT_MEMLOCK, 0) && set_limit(RLIMIT_CPU, cpu);
#if !NC_ASAN   /* ASan's shadow memory is a private writable mapping */
    iso->rlimits = iso->rlimits && set_limit(RLIMIT_DATA, (rlim_t)NC_COMPILE_MAX_DATA_BYTES);
#endif
    if (!iso->rlimits) {
        snprintf(msg, msg_len, "the compile child could not set its resource limits");
        return NC_ERR_ISOLATION;
    }
    return NC_OK;
}

/* The compile child's system calls, found by running it (strace -f) on real
 * programs and the hostile corpus; everything else kills the process.
 *   read, write, writev: the request and the reply on fd 3 (and a panic's
 *     message to /dev/null before it aborts);
 *   mmap, mprotect (never executable: the code is only serialized), munmap,
 *     madvise, mremap, brk: the compiler's heap, thread stacks and their
 *     guard pages;
 *   clone with exactly a thread's flags, and clone3 answered ENOSYS (glibc
 *     then uses clone, whose flags a filter can see): rayon's threads; no
 *     process can be created;
 *   futex, sched_yield, sched_getaffinity, set_robust_list, rseq,
 *     rt_sigprocmask, exit: threads starting, waiting and ending;
 *   prctl(PR_SET_NAME) only: a thread naming itself;
 *   rt_sigaction for glibc's SIGSETXID only: installed by the first thread;
 *   getrandom: hash map seeds; clock_gettime: timing (where not in the vDSO);
 *   getpid, gettid, tgkill to itself only: abort() on a panic (the supervisor
 *     reports the signal); exit_group. */
static const int compile_syscalls[] = {
    SCMP_SYS(read),          SCMP_SYS(write),         SCMP_SYS(writev),       SCMP_SYS(munmap),
    SCMP_SYS(madvise),       SCMP_SYS(mremap),        SCMP_SYS(brk),          SCMP_SYS(futex),
    SCMP_SYS(sched_yield),   SCMP_SYS(sched_getaffinity), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
    SCMP_SYS(rt_sigprocmask), SCMP_SYS(exit),        SCMP_SYS(exit_group),   SCMP_SYS(getrandom),
    SCMP_SYS(clock_gettime), SCMP_SYS(getpid),        SCMP_SYS(gettid),
};

/* glibc's first pthread_create installs its handler for the signal that
 * carries setuid() to every thread (SIGSETXID, the second of the two
 * real-time signals glibc keeps for itself): the only rt_sigaction allowed. */
#define GLIBC_SIGSETXID 33

/* The flags glibc's pthread_create passes to clone, as a mask: a thread
 * shares memory, descriptors, filesystem context and signal handlers, and
 * creates no namespace. */
#define THREAD_CLONE_MUST (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM)
#define THREAD_CLONE_MASK                                                                                  \
    (THREAD_CLONE_MUST | CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |     \
     CLONE_NEWPID | CLONE_NEWNET | CLONE_PTRACE | CLONE_VFORK | CLONE_UNTRACED)

/* AddressSanitizer builds only: its pthread_create gives each new thread an
 * alternate signal stack and reads the thread's stack limits. */
static const int asan_syscalls[] = {SCMP_SYS(sigaltstack), SCMP_SYS(prlimit64), SCMP_SYS(getrlimit)};

static nc_err load_seccomp(char *msg, size_t msg_len)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    int rc = ctx ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < sizeof compile_syscalls / sizeof compile_syscalls[0]; i++) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, compile_syscalls[i], 0);
        if (rc == -EDOM)   /* not on this architecture */
            rc = 0;
    }
    for (size_t i = 0; NC_ASAN && rc == 0 && i < sizeof asan_syscalls / sizeof asan_syscalls[0]; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, asan_syscalls[i], 0);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, THREAD_CLONE_MASK, THREAD_CLONE_MUST));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME, 0));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigaction), 1,
                              SCMP_A0(SCMP_CMP_EQ, GLIBC_SIGSETXID, 0));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0));
    if (rc == 0)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
    if (rc == 0)
        rc = seccomp_load(ctx);
    if (ctx)
        seccomp_release(ctx);
    if (rc != 0) {
        snprintf(msg, msg_len, "the compile child could not load its seccomp profile: %s", strerror(-rc));
        return NC_ERR_ISOLATION;
    }
    return NC_OK;
}

__attribute__((noreturn)) static void reply(nc_err status, const nc_isolation_report *iso, uint64_t compile_ns,
                                            const char *message, const uint8_t *artifact, size_t artifact_len)
{
    static uint8_t head[NC_WIRE_ARTIFACT_FIXED + NC_COMPILE_MAX_MESSAGE];
    size_t head_len;
    if (nc_wire_artifact_head(status, iso, compile_ns, message, artifact_len, head, sizeof head, &head_len) != NC_OK)
        _exit(3);
    struct iovec iov[2] = {{head, head_len}, {(void *)artifact, artifact_len}};
    nc_wire_send_iov(COMPILE_SOCK, iov, artifact_len ? 2 : 1);   /* a failed write ends the child */
    _exit(0);
}

/* The request: one frame, read whole (the supervisor's, at most a module). */
static nc_err read_request(uint8_t **body, size_t *len)
{
    uint8_t lenb[4];
    *body = NULL;
    *len = 0;
    nc_err err = nc_read_exact(COMPILE_SOCK, lenb, sizeof lenb);
    if (err != NC_OK)
        return err;
    uint32_t n = (uint32_t)lenb[0] << 24 | (uint32_t)lenb[1] << 16 | (uint32_t)lenb[2] << 8 | lenb[3];
    if (n < NC_WIRE_COMPILE_HEAD - 4 || n > NC_WIRE_COMPILE_HEAD - 4 + NC_MAX_MODULE_BYTES)
        return NC_ERR_MALFORMED;
    *body = malloc(n);
    if (!*body)
        return NC_ERR_NOMEM;
    err = nc_read_exact(COMPILE_SOCK, *body, n);
    if (err != NC_OK) {
        free(*body);
        *body = NULL;
        return err;
    }
    *len = n;
    return NC_OK;
}

#ifdef NC_TEST_HOOKS
static void *hook_thread(void *arg)
{
    return arg;
}

/* Test builds only: what the compile child does instead of compiling, to
 * show that its isolation holds (tests/unit/test_compile.c): after the
 * seccomp profile is loaded, except NC_COMPILE_HOOK_OPEN, which shows what
 * Landlock alone does (before the profile, which answers EACCES itself).
 * Returns when there is nothing to do at this point. */
static void run_test_hook(unsigned hook, const nc_isolation_report *iso, bool before_seccomp)
{
    char m[NC_COMPILE_MAX_MESSAGE];
    if (before_seccomp != (hook == NC_COMPILE_HOOK_OPEN))
        return;
    switch (hook) {
    case NC_COMPILE_HOOK_HANG:
        for (;;) {
            static int never;
            syscall(SYS_futex, &never, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
        }
    case NC_COMPILE_HOOK_SYSCALL:
        syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
        reply(NC_ERR_INTERNAL, iso, 0, "socket() was allowed", NULL, 0);
    case NC_COMPILE_HOOK_EXEC_MAP: {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        snprintf(m, sizeof m, "an executable mapping was allowed (%s)", p == MAP_FAILED ? "failed" : "mapped");
        reply(NC_ERR_INTERNAL, iso, 0, m, NULL, 0);
    }
    case NC_COMPILE_HOOK_OPEN: {
        /* open needs a descriptor (none left); mkdir needs none, so what
         * refuses it is Landlock */
        int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
        int open_errno = fd >= 0 ? 0 : errno;
        int mk = mkdir("/tmp/nightcore-compile-hook-probe", 0700);
        int mkdir_errno = mk == 0 ? 0 : errno;
        snprintf(m, sizeof m, "open: %s; mkdir: %s", fd >= 0 ? "opened" : strerror(open_errno),
                 mk == 0 ? "made" : strerror(mkdir_errno));
        reply(NC_ERR_INTERNAL, iso, 0, m, NULL, 0);
    }
    case NC_COMPILE_HOOK_GREEDY: {
        size_t got = 0;
        while (got < (64ull << 30) && malloc(64u << 20))   /* never touched: RLIMIT_DATA counts the mapping */
            got += 64u << 20;
        snprintf(m, sizeof m, "allocated %zu MiB", got >> 20);
        reply(NC_ERR_NOMEM, iso, 0, m, NULL, 0);
    }
    case NC_COMPILE_HOOK_THREAD: {
        pthread_t t;
        void *out = NULL;
        if (pthread_create(&t, NULL, hook_thread, (void *)m) != 0 || pthread_join(t, &out) != 0 || out != m)
            reply(NC_ERR_INTERNAL, iso, 0, "a thread could not be started", NULL, 0);
        pid_t pid = fork();   /* clone without CLONE_THREAD */
        if (pid == 0)
            _exit(0);
        reply(NC_ERR_INTERNAL, iso, 0, "fork() was allowed", NULL, 0);
    }
    case NC_COMPILE_HOOK_LIE:
        reply(NC_OK, iso, 0, "", (const uint8_t *)"#!/bin/sh\n", 10);
    case NC_COMPILE_HOOK_CRASH: {
        volatile int *volatile nowhere = NULL;
        *nowhere = 1;
        reply(NC_ERR_INTERNAL, iso, 0, "a write through NULL did not fault", NULL, 0);
    }
    default:
        return;
    }
}
#endif

void nc_sandbox_compile_main(void)
{
    nc_isolation_report iso;
    nc_wire_compile req;
    nc_compiler *compiler = NULL;
    uint8_t *body = NULL;
    size_t body_len = 0;
    char msg[NC_COMPILE_MAX_MESSAGE] = "";

    syscall(SYS_close_range, COMPILE_SOCK + 1, ~0u, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() == 1)
        _exit(1);   /* the supervisor is already gone */
    nc_err err = isolate(&iso, msg, sizeof msg);
    if (err != NC_OK)
        reply(err, &iso, 0, msg, NULL, 0);
    err = read_request(&body, &body_len);
    if (err == NC_OK)
        err = nc_wire_decode_compile(body, body_len, &req);
    if (err != NC_OK)
        reply(NC_ERR_MALFORMED, &iso, 0, "malformed compile request from the supervisor", NULL, 0);
#ifdef NC_TEST_HOOKS
    run_test_hook(req.hook, &iso, true);
#endif
    /* rayon sizes its pool from this when set, else from the files of the
     * process's cgroup, which it could not open: one thread per core this
     * process may run on (set before any thread exists). */
    char threads[16];
    snprintf(threads, sizeof threads, "%u", online_cpus());
    setenv("RAYON_NUM_THREADS", threads, 1);
    /* The engine before the profile: creating it may install Wasmtime's
     * signal handlers, which compiling never needs again. */
    err = nc_compiler_new(req.fuel, req.target, &compiler);
    if (err != NC_OK)
        reply(err, &iso, 0, "the compile child could not create the engine", NULL, 0);
    /* Creating the engine installed Wasmtime's trap handlers, which are for
     * wasm code running; none runs here. A fault in the compiler must end
     * the process with its own signal (the supervisor reports it), not go
     * through a handler that would call what the profile forbids. */
    static const int traps[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
    for (size_t i = 0; i < sizeof traps / sizeof traps[0]; i++)
        signal(traps[i], SIG_DFL);
    err = load_seccomp(msg, sizeof msg);
    if (err != NC_OK)
        reply(err, &iso, 0, msg, NULL, 0);
    iso.seccomp = true;
#ifdef NC_TEST_HOOKS
    run_test_hook(req.hook, &iso, false);
#endif
    const uint8_t *art = NULL;
    size_t art_len = 0;
    uint64_t t0 = nc_now_ns();
    err = nc_compiler_run(compiler, req.wasm, req.wasm_len, &art, &art_len, msg, sizeof msg);
    uint64_t t = nc_now_ns() - t0;
    if (err != NC_OK)
        reply(err, &iso, t, msg[0] ? msg : nc_strerror(err), NULL, 0);
    reply(NC_OK, &iso, t, "", art, art_len);
}

/* ==== the supervisor's side ==== */

typedef struct {
    int sock, cancel_fd;
    uint64_t deadline_ns;
} channel;

enum { IO_OK = 0, IO_TIMEOUT, IO_CANCELLED, IO_CLOSED };

/* Waits until sock is ready for events (or the deadline, or a cancel). */
static int wait_ready(const channel *ch, short events)
{
    for (;;) {
        uint64_t now = nc_now_ns();
        if (now >= ch->deadline_ns)
            return IO_TIMEOUT;
        struct pollfd pfd[2] = {{ch->sock, events, 0}, {ch->cancel_fd, POLLIN, 0}};
        uint64_t left = (ch->deadline_ns - now + 999999) / 1000000;
        int rc = poll(pfd, ch->cancel_fd >= 0 ? 2 : 1, left > 60000 ? 60000 : (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return IO_CLOSED;
        if (ch->cancel_fd >= 0 && pfd[1].revents)
            return IO_CANCELLED;
        if (rc > 0)
            return IO_OK;
    }
}

static int send_bytes(const channel *ch, const uint8_t *p, size_t n)
{
    while (n > 0) {
        int rc = wait_ready(ch, POLLOUT);
        if (rc != IO_OK)
            return rc;
        ssize_t w = send(ch->sock, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (w <= 0)
            return IO_CLOSED;
        p += w;
        n -= (size_t)w;
    }
    return IO_OK;
}

/* Appends up to want bytes to b (growing it only as bytes arrive). */
static int recv_bytes(const channel *ch, nc_buf *b, size_t want)
{
    while (want > 0) {
        int rc = wait_ready(ch, POLLIN);
        if (rc != IO_OK)
            return rc;
        size_t chunk = want < (1u << 20) ? want : (1u << 20);
        if (nc_buf_reserve(b, b->len + chunk) != NC_OK)
            return IO_CLOSED;
        ssize_t r = recv(ch->sock, b->data + b->len, chunk, MSG_DONTWAIT);
        if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (r <= 0)
            return IO_CLOSED;
        b->len += (size_t)r;
        want -= (size_t)r;
    }
    return IO_OK;
}

static nc_err spawn_compile_child(const char *child_exe, int sock, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    char *const argv[] = {(char *)child_exe, (char *)"sandbox-compile", NULL};
    char *const envp[] = {NULL};   /* nothing of the worker's environment */
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, sock, COMPILE_SOCK);
    int rc = posix_spawn(pid, child_exe, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    errno = rc;
    return rc == 0 ? NC_OK : NC_ERR_CHILD;
}

static void kill_and_reap(pid_t pid, int *status)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
}

/* The compile child ended without a usable reply: why, in words. */
static void describe_end(int status, char *msg, size_t msg_len, int *term_signal)
{
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        *term_signal = sig;
        snprintf(msg, msg_len, "the compiler crashed: compile child killed by signal %d (%s)%s", sig, strsignal(sig),
                 sig == SIGSYS    ? ": a system call outside its seccomp profile"
                 : sig == SIGABRT ? ": it aborted (out of memory within its limit, or a compiler error)"
                 : sig == SIGXCPU ? ": its CPU time limit"
                 : sig == SIGKILL ? ": killed (out of memory)"
                                  : "");
    } else if (WIFEXITED(status)) {
        snprintf(msg, msg_len, "the compile child exited with status %d without a result", WEXITSTATUS(status));
    } else {
        snprintf(msg, msg_len, "the compile child ended without a result");
    }
}

nc_err nc_compile_in_child(const char *child_exe, uint32_t timeout_ms, const uint8_t *wasm, size_t len, bool fuel,
                           nc_compile_target target, nc_run_cancel *cancel, uint8_t **artifact, size_t *artifact_len,
                           nc_compile_report *report, char *msg, size_t msg_len)
{
    int sv[2] = {-1, -1}, status = 0;
    pid_t pid = -1;
    nc_buf in;
    nc_wire_artifact rep;
    uint8_t head[NC_WIRE_COMPILE_HEAD];
    unsigned hook = 0;
    nc_err err;

    *artifact = NULL;
    *artifact_len = 0;
    nc_buf_init(&in, NC_WIRE_ARTIFACT_FIXED - 4 + NC_COMPILE_MAX_MESSAGE + NC_MAX_ARTIFACT_BYTES);
    report->in_child = true;
#ifdef NC_TEST_HOOKS
    hook = nc_compile_test_hook;
#endif
    if (len == 0) {
        snprintf(msg, msg_len, "invalid module: it is empty");
        return NC_ERR_INVALID_MODULE;
    }
    err = nc_wire_compile_head(fuel, target, hook, len, head);
    if (err != NC_OK) {
        snprintf(msg, msg_len, "module of %zu bytes: larger than the size cap of %u bytes", len, NC_MAX_MODULE_BYTES);
        return err;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(msg, msg_len, "cannot make the compile child's socket: %s", strerror(errno));
        return NC_ERR_CHILD;
    }
    err = spawn_compile_child(child_exe, sv[1], &pid);
    close(sv[1]);
    if (err != NC_OK) {
        snprintf(msg, msg_len, "cannot start the compile child %s: %s", child_exe, strerror(errno));
        close(sv[0]);
        return err;
    }
    channel ch = {sv[0], nc_run_cancel_fd(cancel), nc_now_ns() + (uint64_t)timeout_ms * 1000000ull};
    int rc = send_bytes(&ch, head, sizeof head);
    if (rc == IO_OK)
        rc = send_bytes(&ch, wasm, len);
    /* A child that failed to isolate itself replies without reading: its
     * reply says why, so a closed socket here is not yet the end. */
    if (rc == IO_CLOSED)
        rc = IO_OK;
    uint32_t body_len = 0;
    if (rc == IO_OK)
        rc = recv_bytes(&ch, &in, 4);
    if (rc == IO_OK) {
        body_len = (uint32_t)in.data[0] << 24 | (uint32_t)in.data[1] << 16 | (uint32_t)in.data[2] << 8 | in.data[3];
        in.len = 0;
        if (body_len > in.max)
            rc = IO_CLOSED;   /* more than any reply may be: a lie */
    }
    if (rc == IO_OK)
        rc = recv_bytes(&ch, &in, body_len);
    close(sv[0]);
    kill_and_reap(pid, &status);   /* it has replied, or it never will */
    if (rc == IO_TIMEOUT) {
        snprintf(msg, msg_len, "the compiler did not finish within %u ms; the compile child was killed",
                 timeout_ms);
        report->term_signal = SIGKILL;
        err = NC_ERR_CHILD;
        goto done;
    }
    if (rc == IO_CANCELLED) {
        snprintf(msg, msg_len, "cancelled: the compile child was killed");
        err = NC_ERR_CHILD;
        goto done;
    }
    if (rc != IO_OK) {
        describe_end(status, msg, msg_len, &report->term_signal);
        err = NC_ERR_CHILD;
        goto done;
    }
    if (nc_wire_decode_artifact(in.data, in.len, &rep) != NC_OK) {
        snprintf(msg, msg_len, "the compile child sent a malformed reply");
        err = NC_ERR_CHILD;
        goto done;
    }
    report->isolation = rep.isolation;
    report->t_compile_ns = rep.compile_ns;
    if (rep.status != NC_OK) {
        snprintf(msg, msg_len, "%s", rep.message);
        /* Only a bad module is the module's fault; anything else the child
         * says is a failure of the compiler's (wire code "internal"). */
        err = rep.status == NC_ERR_INVALID_MODULE || rep.status == NC_ERR_TOO_LARGE ? rep.status : NC_ERR_CHILD;
        goto done;
    }
    if (!rep.isolation.seccomp || !rep.isolation.no_new_privs || !rep.isolation.caps_dropped ||
        !rep.isolation.rlimits) {
        snprintf(msg, msg_len, "the compile child compiled without its isolation; refused");
        err = NC_ERR_CHILD;
        goto done;
    }
    /* The artifact, moved to the front of the reply's buffer and handed over. */
    size_t off = (size_t)(rep.artifact - in.data), n = rep.artifact_len;
    memmove(in.data, in.data + off, n);
    in.len = n;
    *artifact = nc_buf_steal(&in, artifact_len);
    err = NC_OK;
done:
    nc_buf_cleanup(&in);
    return err;
}
