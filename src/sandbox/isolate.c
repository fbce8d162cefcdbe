/* Process isolation for the sandbox child. Runs in the child's main, while it
 * is single-threaded, before any module byte is loaded:
 *   early (before the run spec arrives): user + network namespaces, drop every
 *     capability, no_new_privs, rlimits (no core, few files, file size);
 *   late (once the spec is known): RLIMIT_DATA / RLIMIT_CPU for this run,
 *     Landlock limited to the granted directories, then the seccomp allowlist.
 * Each step that the kernel lacks is reported, never silently assumed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "sandbox/internal.h"
#include "sandbox/landlock.h"


void nc_isolation_probe(nc_isolation_report *r)
{
    memset(r, 0, sizeof *r);
    r->landlock_abi = nc_landlock_abi();
    r->seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;
    FILE *f = fopen("/proc/sys/user/max_user_namespaces", "re");
    if (f) {
        long n = 0;
        char line[32];
        if (fgets(line, sizeof line, f))
            n = strtol(line, NULL, 10);
        r->userns = r->netns = n > 0;
        fclose(f);
    }
    r->no_new_privs = r->caps_dropped = r->rlimits = true;   /* always possible */
}

static scmp_filter_ctx prepared_filter;
static scmp_filter_ctx build_seccomp(char *msg, size_t msg_len);

static bool drop_caps(void)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    return syscall(SYS_capset, &hdr, data) == 0;
}

static bool set_limit(int res, rlim_t v)
{
    struct rlimit rl = {v, v};
    return setrlimit(res, &rl) == 0;
}

static bool inherited, inherited_userns, inherited_netns;

void nc_isolate_namespaces_entered(bool userns, bool netns)
{
    inherited = true;
    inherited_userns = userns;
    inherited_netns = netns;
}

void nc_isolate_early(nc_isolation_report *r)
{
    memset(r, 0, sizeof *r);
    /* New user namespace: the child holds no privilege over anything outside
     * it. New network namespace: no interfaces but a down loopback. */
    if (inherited) {
        r->userns = inherited_userns;
        r->netns = inherited_netns;
    } else if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0) {
        r->userns = r->netns = true;
    } else {
        r->userns = unshare(CLONE_NEWUSER) == 0;
        r->netns = unshare(CLONE_NEWNET) == 0;
    }
    r->caps_dropped = drop_caps();
    r->no_new_privs = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0;
    /* The modes a module's files get do not depend on the umask the worker
     * happened to be started with. */
    umask(NC_CHILD_UMASK);
    /* Past RLIMIT_FSIZE a write fails with EFBIG instead of killing the child. */
    signal(SIGXFSZ, SIG_IGN);
    r->rlimits = set_limit(RLIMIT_CORE, 0) && set_limit(RLIMIT_NOFILE, NC_CHILD_MAX_FILES) &&
                 set_limit(RLIMIT_FSIZE, NC_CHILD_MAX_FILE_BYTES) && set_limit(RLIMIT_MEMLOCK, 0);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    char ignored[128];
    prepared_filter = build_seccomp(ignored, sizeof ignored);   /* retried late on failure */
}

static nc_err apply_landlock(const nc_run_spec *spec, const int *dir_fds, int *abi_out,
                             char *msg, size_t msg_len)
{
    int abi = nc_landlock_abi();
    *abi_out = 0;
    if (abi <= 0)
        return NC_OK;   /* kernel without Landlock: reported as abi 0 */
    uint64_t fs = nc_landlock_fs_rights(abi);
    struct nc_ll_ruleset_attr attr = {.handled_access_fs = fs};
    size_t attr_size = sizeof(uint64_t);
    if (abi >= 4) {
        attr.handled_access_net = NC_LL_NET_BIND_TCP | NC_LL_NET_CONNECT_TCP;
        attr_size = 2 * sizeof(uint64_t);
    }
    if (abi >= 6) {
        attr.scoped = NC_LL_SCOPE_ABSTRACT_UNIX | NC_LL_SCOPE_SIGNAL;
        attr_size = sizeof attr;
    }
    int rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
    if (rfd < 0) {
        snprintf(msg, msg_len, "landlock_create_ruleset: %s", strerror(errno));
        return NC_ERR_ISOLATION;
    }
    uint64_t ro = NC_LL_FS_READ_FILE | NC_LL_FS_READ_DIR;
    uint64_t rw = fs & ~(NC_LL_FS_EXECUTE | NC_LL_FS_MAKE_CHAR | NC_LL_FS_MAKE_BLOCK |
                         NC_LL_FS_MAKE_SOCK | NC_LL_FS_MAKE_FIFO | NC_LL_FS_IOCTL_DEV);
    for (size_t i = 0; i < spec->ndirs; i++) {
        struct nc_ll_path_beneath pb = {spec->dirs[i].readonly ? ro : rw, dir_fds[i]};
        if (syscall(SYS_landlock_add_rule, rfd, NC_LL_RULE_PATH_BENEATH, &pb, 0) != 0) {
            snprintf(msg, msg_len, "landlock_add_rule for %s: %s", spec->dirs[i].guest, strerror(errno));
            close(rfd);
            return NC_ERR_ISOLATION;
        }
    }
    if (syscall(SYS_landlock_restrict_self, rfd, 0) != 0) {
        snprintf(msg, msg_len, "landlock_restrict_self: %s", strerror(errno));
        close(rfd);
        return NC_ERR_ISOLATION;
    }
    close(rfd);
    *abi_out = abi;
    return NC_OK;
}

/* Everything the engine, our WASI host and the result hand-off need; nothing
 * that creates processes, sockets, or reaches other processes.
 *   - rt_sigaction, sigaltstack, rt_sigreturn, rt_sigprocmask: Wasmtime's
 *     signals-based traps (its SIGSEGV/SIGBUS/SIGILL/SIGFPE handlers run on
 *     an alternate stack) and our deadline's SIGALRM;
 *   - mmap, mprotect, madvise, munmap: linear memories behind guard regions,
 *     copy-on-write memory images mapped from the sealed artifact, and their
 *     reset;
 *   - memfd_create: Wasmtime builds a memory image in a memfd when the
 *     artifact could not be mapped from its descriptor (no /proc). It reaches
 *     nothing a MAP_SHARED|MAP_ANONYMOUS mapping does not. */
static const int allowed_syscalls[] = {
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
    SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev), SCMP_SYS(lseek), SCMP_SYS(close),
    SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(openat), SCMP_SYS(openat2),
    SCMP_SYS(getdents64), SCMP_SYS(mkdirat), SCMP_SYS(unlinkat), SCMP_SYS(renameat),
    SCMP_SYS(renameat2), SCMP_SYS(symlinkat), SCMP_SYS(linkat), SCMP_SYS(readlinkat),
    SCMP_SYS(utimensat), SCMP_SYS(ftruncate), SCMP_SYS(fallocate), SCMP_SYS(fsync),
    SCMP_SYS(fdatasync), SCMP_SYS(fadvise64), SCMP_SYS(fcntl), SCMP_SYS(mmap),
    SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(mremap), SCMP_SYS(brk),
    SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
    SCMP_SYS(sigaltstack), SCMP_SYS(futex), SCMP_SYS(sched_yield), SCMP_SYS(getrandom),
    SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(clock_nanosleep),
    SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(getpid), SCMP_SYS(gettid),
    SCMP_SYS(setitimer), SCMP_SYS(getitimer), SCMP_SYS(exit), SCMP_SYS(exit_group),
    SCMP_SYS(membarrier), SCMP_SYS(getrusage), SCMP_SYS(memfd_create),
};

/* The filter is built in the early phase (a pooled child does it while it
 * waits) and loaded in the late phase, just before the module is read. */
static scmp_filter_ctx build_seccomp(char *msg, size_t msg_len)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!ctx) {
        snprintf(msg, msg_len, "seccomp_init failed");
        return NULL;
    }
    for (size_t i = 0; i < sizeof allowed_syscalls / sizeof allowed_syscalls[0]; i++) {
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed_syscalls[i], 0);
        if (rc != 0 && rc != -EDOM) {   /* -EDOM: not on this arch */
            snprintf(msg, msg_len, "seccomp_rule_add(%d): %s", allowed_syscalls[i], strerror(-rc));
            goto fail;
        }
    }
    /* abort() signals itself: allow signals to our own pid only. */
    struct scmp_arg_cmp self = {.arg = 0, .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)getpid(), .datum_b = 0};
    if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, self) != 0 ||
        seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, self) != 0) {
        snprintf(msg, msg_len, "seccomp rule for self-signals failed");
        goto fail;
    }
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
    return ctx;
fail:
    seccomp_release(ctx);
    return NULL;
}

static nc_err apply_seccomp(char *msg, size_t msg_len)
{
    scmp_filter_ctx ctx = prepared_filter ? prepared_filter : build_seccomp(msg, msg_len);
    prepared_filter = NULL;
    if (!ctx)
        return NC_ERR_ISOLATION;
    int rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0) {
        snprintf(msg, msg_len, "seccomp_load: %s", strerror(-rc));
        return NC_ERR_ISOLATION;
    }
    return NC_OK;
}

nc_err nc_isolate_late(const nc_run_spec *spec, const int *dir_fds, nc_isolation_report *r,
                       char *msg, size_t msg_len)
{
    uint64_t mems = spec->limits.memories ? spec->limits.memories : 1;
    uint64_t data = spec->limits.memory_bytes * mems + NC_CHILD_HEAP_SLACK;
    rlim_t cpu = spec->limits.timeout_ms / 1000 + 2;
#if NC_ASAN
    (void)data;   /* ASan's shadow memory is a private writable mapping */
#else
    if (!set_limit(RLIMIT_DATA, (rlim_t)data))
        r->rlimits = false;
#endif
    if (!set_limit(RLIMIT_CPU, cpu))
        r->rlimits = false;
    nc_err err = apply_landlock(spec, dir_fds, &r->landlock_abi, msg, msg_len);
    if (err != NC_OK)
        return err;
    err = apply_seccomp(msg, msg_len);
    if (err != NC_OK)
        return err;
    r->seccomp = true;
    return NC_OK;
}

/* ---- the compile child's pieces (compile.c) ---- */

bool nc_isolate_drop_caps(void)
{
    return drop_caps();
}

nc_err nc_isolate_landlock_nothing(int *abi, char *msg, size_t msg_len)
{
    nc_run_spec none;
    memset(&none, 0, sizeof none);
    return apply_landlock(&none, NULL, abi, msg, msg_len);
}
