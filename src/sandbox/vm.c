/* The vm tier's host side: each run in its own throw-away QEMU microVM.
 *
 * A VM is QEMU's `microvm` machine with one vCPU, a memory cap from the run's
 * limits plus a fixed overhead, no network device, no disk, no host
 * filesystem: its only device is a virtio serial port whose host end is one
 * end of a socketpair this process keeps. The kernel is Debian's cloud kernel
 * and the initramfs holds only the static guest runner (vm/guest.c). QEMU
 * itself runs with an empty environment, stdio on /dev/null (or a console
 * log) and its own seccomp sandbox (`-sandbox on`, spawning and privilege
 * changes denied).
 *
 * Accelerator: KVM where it actually runs a guest (probed by booting one, with
 * a timeout: on nested set-ups /dev/kvm opens but guests hang), TCG otherwise.
 *
 * A pool thread keeps pool_size VMs booted and waiting for their run (their
 * guest said hello). A pooled VM is sized for the limits of the run before it
 * (at first, the default limits); a run whose VM would be another size boots
 * its own. Every VM takes one run and is then killed: nothing of one run is
 * ever seen by another. The supervisor kills a VM at the run's deadline plus a
 * grace, as it kills a process-tier child; what the guest sends is parsed as
 * hostile input with the process tier's caps (wire.c). */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common/limits.h"
#include "sandbox/internal.h"
#include "sandbox/landlock.h"
#include "sandbox/vm.h"
#include "sandbox/tier.h"
#include "sandbox/vm_host.h"

#define VM_MAX_REAP 32

typedef struct {
    pid_t pid;
    int sock;
    uint32_t mem_mib;
    uint64_t boot_ns;   /* spawn until hello */
    uint8_t confined;   /* QEMU_* bits: what confines QEMU itself */
} nc_vm;

#define QEMU_USERNS 1u
#define QEMU_NETNS 2u
#define QEMU_LANDLOCK 4u

struct nc_vm_host {
    char qemu[PATH_MAX], kernel[PATH_MAX], initrd[PATH_MAX], console_log[PATH_MAX];
    char append[256], append_console[256];   /* the guest kernel's command line */
    nc_vm_accel_choice accel_choice;
    unsigned pool_size;
    uint32_t boot_timeout_ms;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    nc_vm_accel accel;        /* NC_VM_ACCEL_PROBING until the pool thread decides */
    char accel_note[256];     /* why this accelerator */
    nc_vm pool[NC_VM_MAX_POOL];
    unsigned npool;
    uint32_t pool_mem_mib;    /* size of the VMs the pool boots */
    pid_t reap[VM_MAX_REAP];
    unsigned nreap;
    bool stop;
    pthread_t thread;
    bool thread_started;
    uint64_t boots, boot_failures;
};

uint32_t nc_vm_memory_mib(const nc_run_spec *spec, size_t artifact_len)
{
    uint64_t mems = spec->limits.memories ? spec->limits.memories : 1;
    /* Artifacts up to NC_VM_POOL_ARTIFACT_BYTES all get that much room, so
     * that runs under the same limits share one VM size (and the pool). */
    uint64_t art = artifact_len > NC_VM_POOL_ARTIFACT_BYTES ? artifact_len : NC_VM_POOL_ARTIFACT_BYTES;
    uint64_t bytes = NC_VM_OVERHEAD_BYTES + spec->limits.memory_bytes * mems + spec->stdin_len + art +
                     (uint64_t)spec->limits.stdout_bytes + spec->limits.stderr_bytes;
    uint64_t mib = (bytes + (1u << 20) - 1) >> 20;
    mib = (mib + 15) & ~(uint64_t)15;   /* whole 16 MiB steps, so that similar runs share a size */
    return mib > NC_VM_MAX_MEMORY_MIB ? NC_VM_MAX_MEMORY_MIB : (uint32_t)mib;
}

/* ---- one VM ---- */

static void vm_kill(nc_vm *vm)
{
    if (vm->sock >= 0)
        close(vm->sock);
    if (vm->pid > 0) {
        kill(vm->pid, SIGKILL);
        while (waitpid(vm->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    vm->pid = -1;
    vm->sock = -1;
}

#define IO_OK 0
#define IO_TIMEOUT 1
#define IO_CANCELLED 2
#define IO_ERROR (-1)
#define IO_TOO_LARGE (-2)
#define IO_MALFORMED (-3)

/* Waits for fd to be readable (events POLLIN) or writable before deadline,
 * or for the run to be cancelled (cancel_fd readable). 1 = ready, 0 = timed
 * out, 2 = cancelled, -1 = error. */
static int wait_fd(int fd, short events, uint64_t deadline_ns, int cancel_fd)
{
    for (;;) {
        uint64_t now = nc_now_ns();
        if (now >= deadline_ns)
            return 0;
        struct pollfd pfd[2] = {{fd, events, 0}, {cancel_fd, POLLIN, 0}};
        uint64_t ms = (deadline_ns - now + 999999) / 1000000;
        int rc = poll(pfd, cancel_fd >= 0 ? 2 : 1, ms > INT_MAX ? INT_MAX : (int)ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return -1;
        if (cancel_fd >= 0 && pfd[1].revents)
            return 2;
        if (rc > 0)
            return 1;
    }
}

/* Reads exactly len bytes before the deadline: IO_OK, IO_TIMEOUT,
 * IO_CANCELLED, or IO_ERROR (EOF too). */
static int read_until(int fd, uint8_t *p, size_t len, uint64_t deadline_ns, int cancel_fd)
{
    size_t got = 0;
    while (got < len) {
        int w = wait_fd(fd, POLLIN, deadline_ns, cancel_fd);
        if (w == 0)
            return IO_TIMEOUT;
        if (w == 2)
            return IO_CANCELLED;
        if (w < 0)
            return IO_ERROR;
        ssize_t n = recv(fd, p + got, len - got, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

/* Writes all of iov before the deadline: as read_until. */
static int write_until(int fd, struct iovec *iov, int n, uint64_t deadline_ns, int cancel_fd)
{
    while (n > 0) {
        if (iov->iov_len == 0) {
            iov++;
            n--;
            continue;
        }
        int w = wait_fd(fd, POLLOUT, deadline_ns, cancel_fd);
        if (w == 0)
            return IO_TIMEOUT;
        if (w == 2)
            return IO_CANCELLED;
        if (w < 0)
            return IO_ERROR;
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t k = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (k <= 0)
            return -1;
        nc_iov_consume(&iov, &n, (size_t)k);
    }
    return 0;
}

/* QEMU itself is confined too, so that an escape from the guest into QEMU
 * finds little: besides its own seccomp sandbox (-sandbox), it runs in new
 * user and network namespaces (no network but a down loopback; no host
 * abstract socket) and under a Landlock ruleset that lets it read only what
 * it loads (its program, libraries and firmware under /usr, /etc, /sys, its
 * own /proc entries, the QEMU named in the settings, the kernel and the
 * initramfs) and open /dev/kvm when it uses KVM; it writes nothing by path
 * (its stdio and the port are descriptors opened before), connects to no TCP
 * port, signals nothing outside itself. */
#define QEMU_MAX_RULES 12

typedef struct {
    int fd[QEMU_MAX_RULES];
    uint64_t access[QEMU_MAX_RULES];
    size_t n;
    int abi;
} qemu_rules;

static void rule(qemu_rules *r, const char *path, uint64_t access)
{
    if (r->n >= QEMU_MAX_RULES)
        return;
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return;   /* not on this system (e.g. /lib64): nothing to allow */
    r->fd[r->n] = fd;
    r->access[r->n++] = access;
}

static void rules_prepare(const nc_vm_host *h, nc_vm_accel accel, qemu_rules *r)
{
    const uint64_t rd = NC_LL_FS_READ_FILE | NC_LL_FS_READ_DIR;
    memset(r, 0, sizeof *r);
    r->abi = nc_landlock_abi();
    if (r->abi <= 0)
        return;
    rule(r, "/usr", rd | NC_LL_FS_EXECUTE);
    rule(r, "/lib", rd | NC_LL_FS_EXECUTE);
    rule(r, "/lib64", rd | NC_LL_FS_EXECUTE);
    rule(r, "/etc", rd);
    rule(r, "/sys", rd);
    rule(r, "/proc/filesystems", NC_LL_FS_READ_FILE);
    rule(r, h->qemu, NC_LL_FS_READ_FILE | NC_LL_FS_EXECUTE);   /* NIGHTCORE_VM_QEMU may be elsewhere */
    rule(r, h->kernel, NC_LL_FS_READ_FILE);
    rule(r, h->initrd, NC_LL_FS_READ_FILE);
    if (accel == NC_VM_ACCEL_KVM)
        rule(r, "/dev/kvm", NC_LL_FS_READ_FILE | NC_LL_FS_WRITE_FILE | (r->abi >= 5 ? NC_LL_FS_IOCTL_DEV : 0));
}

static void rules_cleanup(qemu_rules *r)
{
    for (size_t i = 0; i < r->n; i++)
        close(r->fd[i]);
    r->n = 0;
}

/* In the forked child: async-signal-safe system calls only. */
static bool landlock_child(const qemu_rules *r)
{
    if (r->abi <= 0)
        return false;
    struct nc_ll_ruleset_attr attr = {.handled_access_fs = nc_landlock_fs_rights(r->abi)};
    size_t attr_size = sizeof(uint64_t);
    if (r->abi >= 4) {
        attr.handled_access_net = NC_LL_NET_BIND_TCP | NC_LL_NET_CONNECT_TCP;
        attr_size = 2 * sizeof(uint64_t);
    }
    if (r->abi >= 6) {
        attr.scoped = NC_LL_SCOPE_ABSTRACT_UNIX | NC_LL_SCOPE_SIGNAL;
        attr_size = sizeof attr;
    }
    int rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
    if (rfd < 0)
        return false;
    bool ok = true;
    for (size_t i = 0; i < r->n && ok; i++) {
        struct nc_ll_path_beneath pb = {r->access[i], r->fd[i]};
        ok = syscall(SYS_landlock_add_rule, rfd, NC_LL_RULE_PATH_BENEATH, &pb, 0) == 0;
    }
    /* its own /proc entries: /proc/self is this process's, and QEMU's after exec */
    int self = open("/proc/self", O_PATH | O_CLOEXEC);
    if (ok && self >= 0) {
        struct nc_ll_path_beneath pb = {NC_LL_FS_READ_FILE | NC_LL_FS_READ_DIR, self};
        ok = syscall(SYS_landlock_add_rule, rfd, NC_LL_RULE_PATH_BENEATH, &pb, 0) == 0;
    }
    ok = ok && syscall(SYS_landlock_restrict_self, rfd, 0) == 0;
    if (self >= 0)
        close(self);
    close(rfd);
    return ok;
}

/* Starts QEMU for one VM of mem_mib MiB with the given accelerator; the
 * guest's port is the other end of vm->sock. Does not wait for the guest. */
static nc_err vm_spawn(const nc_vm_host *h, nc_vm_accel accel, uint32_t mem_mib, nc_vm *vm)
{
    int sv[2], report[2] = {-1, -1};
    char mem[32], chardev[64];
    const bool console = h->console_log[0] != '\0';
    vm->pid = -1;
    vm->sock = -1;
    vm->mem_mib = mem_mib;
    vm->confined = 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return NC_ERR_CHILD;
    if (pipe2(report, O_CLOEXEC) != 0) {
        close(sv[0]);
        close(sv[1]);
        return NC_ERR_CHILD;
    }
    snprintf(mem, sizeof mem, "%uM", mem_mib);
    snprintf(chardev, sizeof chardev, "socket,id=nc,fd=%d", NC_VM_QEMU_FD);
    /* No network device, no disk, no display, no monitor, no default devices:
     * only the serial port the run goes through. pit/pic/rtc: without them
     * Debian's kernel cannot calibrate its clock under TCG and hangs. */
    char *const argv[] = {
        (char *)h->qemu,
        "-M", console ? "microvm,pit=on,pic=on,rtc=on,isa-serial=on"
                      : "microvm,pit=on,pic=on,rtc=on,isa-serial=off",
        "-accel", accel == NC_VM_ACCEL_KVM ? "kvm" : "tcg",
        "-cpu", accel == NC_VM_ACCEL_KVM ? "host" : "max",
        "-smp", "1",
        "-m", mem,
        "-nodefaults", "-no-user-config", "-display", "none",
        "-serial", console ? "stdio" : "none",
        "-nic", "none",
        "-kernel", (char *)h->kernel,
        "-initrd", (char *)h->initrd,
        "-append", console ? (char *)h->append_console : (char *)h->append,
        "-no-reboot",
        "-device", "virtio-serial-device,max_ports=2",
        "-chardev", chardev,
        "-device", "virtserialport,chardev=nc,name=nightcore,nr=1",
        "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
        NULL,
    };
    char *const envp[] = {NULL};
    /* Opened before the fork: the child only calls async-signal-safe functions. */
    qemu_rules rules;
    rules_prepare(h, accel, &rules);
    int null_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out = console ? open(h->console_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)
                      : open("/dev/null", O_WRONLY | O_CLOEXEC);
    pid_t parent = getpid();
    pid_t pid = null_in >= 0 && out >= 0 ? fork() : -1;
    if (pid == 0) {
        /* QEMU dies with the thread that started it (the pool thread, or the
         * run's thread): a supervisor that is killed leaves no VM behind. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != parent)
            _exit(127);
        uint8_t confined = 0;
        if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0)
            confined |= QEMU_USERNS | QEMU_NETNS;
        else if (unshare(CLONE_NEWUSER) == 0)
            confined |= QEMU_USERNS;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
            _exit(127);
        if (landlock_child(&rules))
            confined |= QEMU_LANDLOCK;
        if (write(report[1], &confined, 1) != 1)
            _exit(127);
        if (dup2(null_in, 0) != 0 || dup2(out, 1) != 1 || dup2(out, 2) != 2 ||
            dup2(sv[1], NC_VM_QEMU_FD) != NC_VM_QEMU_FD)
            _exit(127);
        syscall(SYS_close_range, NC_VM_QEMU_FD + 1, ~0u, 0);
        execve(h->qemu, argv, envp);
        _exit(127);
    }
    int saved = errno;
    rules_cleanup(&rules);
    if (null_in >= 0)
        close(null_in);
    if (out >= 0)
        close(out);
    close(sv[1]);
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        close(sv[0]);
        errno = saved;
        return NC_ERR_CHILD;
    }
    uint8_t confined = 0;
    ssize_t n;
    do {
        n = read(report[0], &confined, 1);
    } while (n < 0 && errno == EINTR);
    close(report[0]);
    vm->pid = pid;
    vm->sock = sv[0];
    vm->confined = n == 1 ? confined : 0;
    return NC_OK;
}

/* Boots a VM and waits for its guest's hello (at most timeout_ms). */
static nc_err vm_boot(const nc_vm_host *h, nc_vm_accel accel, uint32_t mem_mib, uint32_t timeout_ms,
                      nc_vm *vm, char *msg, size_t msg_len)
{
    uint64_t t0 = nc_now_ns();
    nc_err err = vm_spawn(h, accel, mem_mib, vm);
    if (err != NC_OK) {
        snprintf(msg, msg_len, "cannot start %s: %s", h->qemu, strerror(errno));
        return err;
    }
    uint8_t hello[NC_VM_HELLO_LEN];
    int rc = read_until(vm->sock, hello, sizeof hello, t0 + (uint64_t)timeout_ms * 1000000ull, -1);
    if (rc != 0 || nc_vmwire_check_hello(hello, sizeof hello) != NC_OK) {
        int status = 0;
        pid_t pid = vm->pid;
        bool exited = rc < 0 && waitpid(pid, &status, WNOHANG) == pid;
        if (exited)
            vm->pid = -1;
        vm_kill(vm);
        if (rc == 1)
            snprintf(msg, msg_len, "the microVM (%s) did not boot within %u ms", nc_vm_accel_name(accel),
                     timeout_ms);
        else if (exited && WIFEXITED(status))
            snprintf(msg, msg_len, "QEMU exited with status %d before the guest was up (%s)",
                     WEXITSTATUS(status), h->qemu);
        else
            snprintf(msg, msg_len, "the microVM's guest did not say hello (it died or sent something else)");
        return NC_ERR_CHILD;
    }
    vm->boot_ns = nc_now_ns() - t0;
    return NC_OK;
}

/* ---- accelerator and pool ---- */

static nc_vm_accel probe_accel(nc_vm_host *h)
{
    if (h->accel_choice == NC_VM_ACCEL_CHOICE_TCG) {
        snprintf(h->accel_note, sizeof h->accel_note, "TCG (chosen in the settings)");
        return NC_VM_ACCEL_TCG;
    }
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(h->accel_note, sizeof h->accel_note, "TCG: /dev/kvm cannot be opened (%s)", strerror(errno));
        return h->accel_choice == NC_VM_ACCEL_CHOICE_KVM ? NC_VM_ACCEL_NONE : NC_VM_ACCEL_TCG;
    }
    close(fd);
    /* /dev/kvm opens on nested set-ups where guests hang: boot one to know. */
    nc_vm vm;
    char msg[256];
    uint64_t t0 = nc_now_ns();
    nc_err err = vm_boot(h, NC_VM_ACCEL_KVM, NC_VM_PROBE_MEMORY_MIB, NC_VM_KVM_PROBE_MS, &vm, msg, sizeof msg);
    if (err == NC_OK) {
        vm_kill(&vm);
        snprintf(h->accel_note, sizeof h->accel_note, "KVM: a probe guest booted in %llu ms",
                 (unsigned long long)((nc_now_ns() - t0) / 1000000));
        return NC_VM_ACCEL_KVM;
    }
    snprintf(h->accel_note, sizeof h->accel_note, "TCG: /dev/kvm opens but a probe guest did not boot (%.180s)", msg);
    return h->accel_choice == NC_VM_ACCEL_CHOICE_KVM ? NC_VM_ACCEL_NONE : NC_VM_ACCEL_TCG;
}

static void reap_all(pid_t *pids, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
            ;
}

static void *pool_thread(void *arg)
{
    nc_vm_host *h = arg;
    nc_vm_accel accel = probe_accel(h);
    pthread_mutex_lock(&h->mu);
    h->accel = accel;
    pthread_cond_broadcast(&h->cv);
    for (;;) {
        while (!h->stop && h->nreap == 0 && (h->npool >= h->pool_size || h->accel == NC_VM_ACCEL_NONE))
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->stop)
            break;
        pid_t reap[VM_MAX_REAP];
        unsigned nreap = h->nreap;
        memcpy(reap, h->reap, sizeof(pid_t) * nreap);
        h->nreap = 0;
        bool need = h->npool < h->pool_size && h->accel != NC_VM_ACCEL_NONE;
        uint32_t mem = h->pool_mem_mib;
        pthread_mutex_unlock(&h->mu);
        reap_all(reap, nreap);
        nc_vm vm = {-1, -1, 0, 0, 0};
        char msg[256];
        bool booted = need && vm_boot(h, accel, mem, h->boot_timeout_ms, &vm, msg, sizeof msg) == NC_OK;
        pthread_mutex_lock(&h->mu);
        if (need) {
            h->boots++;
            if (!booted)
                h->boot_failures++;
        }
        if (booted && h->npool < h->pool_size && !h->stop && mem == h->pool_mem_mib) {
            h->pool[h->npool++] = vm;
            vm.pid = -1;
            vm.sock = -1;
        }
        if (vm.pid > 0 || vm.sock >= 0) {
            pthread_mutex_unlock(&h->mu);
            vm_kill(&vm);
            pthread_mutex_lock(&h->mu);
        }
        if (need && !booted) {   /* cannot boot right now: do not spin */
            pthread_mutex_unlock(&h->mu);
            usleep(500 * 1000);
            pthread_mutex_lock(&h->mu);
        }
    }
    unsigned nreap = h->nreap;
    h->nreap = 0;
    pthread_mutex_unlock(&h->mu);
    reap_all(h->reap, nreap);
    return NULL;
}

/* The host's TSC rate. Under TCG the guest's TSC is the host's, and the
 * guest kernel, left to calibrate it against the emulated PIT, fails when the
 * host is busy and then hangs: it is told the rate instead (tsc_early_khz).
 * Under KVM the guest has kvmclock and the value is the host's rate anyway. */
static uint32_t host_tsc_khz(void)
{
#if defined(__x86_64__)
    struct timespec a, b;
    uint32_t lo, hi;
    clock_gettime(CLOCK_MONOTONIC_RAW, &a);
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    uint64_t t0 = (uint64_t)hi << 32 | lo;
    struct timespec nap = {0, 50 * 1000 * 1000};
    while (nanosleep(&nap, &nap) != 0 && errno == EINTR)
        ;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    uint64_t t1 = (uint64_t)hi << 32 | lo;
    clock_gettime(CLOCK_MONOTONIC_RAW, &b);
    uint64_t ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull + (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec;
    if (ns == 0 || t1 <= t0)
        return 0;
    return (uint32_t)((t1 - t0) * 1000000ull / ns);
#else
    return 0;
#endif
}

static bool path_copy(char *dst, size_t size, const char *src)
{
    return snprintf(dst, size, "%s", src ? src : "") < (int)size;
}

nc_err nc_vm_host_new(const nc_vm_host_opts *opts, nc_vm_host **out, char *msg, size_t msg_len)
{
    *out = NULL;
    nc_vm_host *h = calloc(1, sizeof *h);
    if (!h)
        return NC_ERR_NOMEM;
    if (!opts->kernel || !opts->initrd || !path_copy(h->qemu, sizeof h->qemu, opts->qemu ? opts->qemu : NC_VM_QEMU_DEFAULT) ||
        !path_copy(h->kernel, sizeof h->kernel, opts->kernel) ||
        !path_copy(h->initrd, sizeof h->initrd, opts->initrd) ||
        !path_copy(h->console_log, sizeof h->console_log, opts->console_log)) {
        snprintf(msg, msg_len, "vm tier: kernel and initramfs paths are required");
        free(h);
        return NC_ERR_USAGE;
    }
    const char *need[] = {h->qemu, h->kernel, h->initrd};
    for (int i = 0; i < 3; i++) {
        if (access(need[i], i == 0 ? X_OK : R_OK) != 0) {
            snprintf(msg, msg_len, "vm tier unavailable: %s: %s%s", need[i], strerror(errno),
                     i == 0 ? " (install Debian's qemu-system-x86: scripts/deps)" : " (build it: make)");
            free(h);
            return NC_ERR_TIER_UNAVAILABLE;
        }
    }
    /* No calibration (above), no timer check: both fail under a busy TCG. */
    char tsc[64] = "";
    uint32_t khz = host_tsc_khz();
    if (khz)
        snprintf(tsc, sizeof tsc, " tsc_early_khz=%u", khz);
    snprintf(h->append, sizeof h->append, "quiet loglevel=0 panic=-1 reboot=t tsc=reliable no_timer_check%s", tsc);
    snprintf(h->append_console, sizeof h->append_console,
             "console=ttyS0 panic=-1 reboot=t tsc=reliable no_timer_check%s", tsc);
    h->accel_choice = opts->accel;
    h->pool_size = opts->pool_size > NC_VM_MAX_POOL ? NC_VM_MAX_POOL : opts->pool_size;
    h->boot_timeout_ms = opts->boot_timeout_ms ? opts->boot_timeout_ms : NC_VM_BOOT_TIMEOUT_MS;
    nc_run_spec dflt;
    memset(&dflt, 0, sizeof dflt);
    nc_limits_default(&dflt.limits);
    h->pool_mem_mib = nc_vm_memory_mib(&dflt, NC_VM_POOL_ARTIFACT_BYTES);
    h->accel = NC_VM_ACCEL_PROBING;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (pthread_create(&h->thread, NULL, pool_thread, h) != 0) {
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return NC_ERR_INTERNAL;
    }
    h->thread_started = true;
    *out = h;
    return NC_OK;
}

void nc_vm_host_free(nc_vm_host *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (h->thread_started)
        pthread_join(h->thread, NULL);
    for (unsigned i = 0; i < h->npool; i++)
        vm_kill(&h->pool[i]);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

nc_vm_accel nc_vm_host_accel(nc_vm_host *h, bool wait, char *note, size_t note_len)
{
    pthread_mutex_lock(&h->mu);
    while (wait && h->accel == NC_VM_ACCEL_PROBING)
        pthread_cond_wait(&h->cv, &h->mu);
    nc_vm_accel a = h->accel;
    if (note && note_len)
        snprintf(note, note_len, "%s", h->accel_note);
    pthread_mutex_unlock(&h->mu);
    return a;
}

void nc_vm_host_stats(nc_vm_host *h, nc_vm_host_status *st)
{
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&h->mu);
    st->accel = h->accel;
    snprintf(st->accel_note, sizeof st->accel_note, "%s", h->accel_note);
    st->pool_size = h->pool_size;
    st->pool_ready = h->npool;
    st->pool_mem_mib = h->pool_mem_mib;
    st->boots = h->boots;
    st->boot_failures = h->boot_failures;
    pthread_mutex_unlock(&h->mu);
}

/* A booted VM of mem_mib MiB: from the pool when one of that size is ready,
 * else booted now. The pool is then refilled with VMs of this size. */
static nc_err take_vm(nc_vm_host *h, nc_vm_accel accel, uint32_t mem_mib, nc_vm *vm, bool *pooled,
                      char *msg, size_t msg_len)
{
    *pooled = false;
    pthread_mutex_lock(&h->mu);
    for (unsigned i = 0; i < h->npool; i++) {
        if (h->pool[i].mem_mib == mem_mib) {
            *vm = h->pool[i];
            h->pool[i] = h->pool[--h->npool];
            *pooled = true;
            break;
        }
    }
    if (h->pool_mem_mib != mem_mib) {
        /* The next runs are likely to look like this one: size the pool for it. */
        h->pool_mem_mib = mem_mib;
        for (unsigned i = 0; i < h->npool; i++)
            if (h->nreap < VM_MAX_REAP) {
                kill(h->pool[i].pid, SIGKILL);
                close(h->pool[i].sock);
                h->reap[h->nreap++] = h->pool[i].pid;
                h->pool[i] = h->pool[--h->npool];
                i--;
            }
    }
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (*pooled) {
        /* A pooled guest that died while it waited has closed its port. */
        struct pollfd pfd = {vm->sock, POLLIN, 0};
        if (poll(&pfd, 1, 0) == 0)
            return NC_OK;
        vm_kill(vm);
        *pooled = false;
    }
    return vm_boot(h, accel, mem_mib, h->boot_timeout_ms, vm, msg, msg_len);
}

static void retire_vm(nc_vm_host *h, nc_vm *vm)
{
    if (vm->sock >= 0)
        close(vm->sock);
    vm->sock = -1;
    if (vm->pid <= 0)
        return;
    kill(vm->pid, SIGKILL);
    pthread_mutex_lock(&h->mu);
    if (h->nreap < VM_MAX_REAP) {
        h->reap[h->nreap++] = vm->pid;
        vm->pid = -1;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    if (vm->pid > 0)
        vm_kill(vm);
}

/* The request: header, artifact bytes, then the specification (head, stdin, tail). */
static int send_request(const nc_vm *vm, const uint8_t *artifact, size_t artifact_len, const nc_buf *head,
                        const nc_run_spec *spec, const nc_buf *tail, uint64_t deadline_ns, int cancel_fd)
{
    uint8_t hdr[NC_VM_REQUEST_HEADER_LEN];
    uint64_t spec_len = (uint64_t)head->len + spec->stdin_len + tail->len;
    if (spec_len > NC_MAX_SPEC_BYTES || artifact_len > NC_MAX_ARTIFACT_BYTES)
        return IO_ERROR;
    nc_vmwire_request_header((uint32_t)artifact_len, (uint32_t)spec_len, hdr);
    struct iovec iov[5] = {{hdr, sizeof hdr},
                           {(void *)artifact, artifact_len},
                           {head->data, head->len},
                           {(void *)spec->stdin_data, spec->stdin_data ? spec->stdin_len : 0},
                           {tail->data, tail->len}};
    return write_until(vm->sock, iov, 5, deadline_ns, cancel_fd);
}

static void set_timeout(nc_run_result *res, const char *why)
{
    res->outcome = NC_OUTCOME_TIMEOUT;
    res->limits_hit |= NC_LIMIT(NC_LIMIT_TIMEOUT);
    res->term_signal = SIGKILL;
    snprintf(res->message, sizeof res->message, "%s; the supervisor killed the microVM", why);
}

/* One frame from the guest (u32be length, then the body), its length
 * checked against cap before anything is allocated. */
static int read_frame(int sock, size_t cap, uint64_t deadline_ns, int cancel_fd, uint8_t **body, uint32_t *len)
{
    uint8_t lenb[4];
    *body = NULL;
    int rc = read_until(sock, lenb, sizeof lenb, deadline_ns, cancel_fd);
    if (rc != IO_OK)
        return rc;
    uint32_t n = (uint32_t)lenb[0] << 24 | (uint32_t)lenb[1] << 16 | (uint32_t)lenb[2] << 8 | lenb[3];
    if (n > cap)
        return IO_TOO_LARGE;
    *body = malloc(n ? n : 1);
    if (!*body)
        return IO_ERROR;
    rc = read_until(sock, *body, n, deadline_ns, cancel_fd);
    if (rc != IO_OK) {
        free(*body);
        *body = NULL;
        return rc;
    }
    *len = n;
    return IO_OK;
}

/* A run that ended without a result keeps what was streamed as its output. */
/* What the host knows of a run's VM, set in its result whatever the guest said. */
static void vm_facts(nc_run_result *res, bool pooled, uint32_t mem, uint8_t confined, uint64_t spawn_ns,
                     uint64_t handoff_ns)
{
    res->isolation.vm_pooled = pooled;
    res->isolation.vm_memory_mib = mem;
    res->isolation.qemu_userns = confined & QEMU_USERNS;
    res->isolation.qemu_netns = confined & QEMU_NETNS;
    res->isolation.qemu_landlock = confined & QEMU_LANDLOCK;
    res->t_spawn_ns = spawn_ns;
    res->t_handoff_ns = handoff_ns;
}

nc_err nc_vm_host_run(nc_vm_host *h, const uint8_t *artifact, size_t artifact_len, bool fuel,
                      const uint8_t artifact_sha256[NC_SHA256_LEN], const nc_run_spec *spec,
                      const nc_run_hooks *hooks, nc_run_result *res, char *msg, size_t msg_len)
{
    nc_vm vm = {-1, -1, 0, 0, 0};
    nc_buf head, tail;
    nc_wire_stream st;
    uint8_t *body = NULL;
    uint32_t blen = 0;
    nc_err err;
    uint64_t t0 = nc_now_ns();
    int cancel_fd = nc_run_cancel_fd(hooks ? hooks->cancel : NULL);
    bool streaming = hooks && (hooks->on_output || hooks->cancel);
    uint8_t flags = (uint8_t)((fuel ? NC_WIRE_SPEC_FUEL : 0) | (streaming ? NC_WIRE_SPEC_STREAM : 0));

    nc_buf_init(&head, NC_MAX_SPEC_BYTES);
    nc_buf_init(&tail, NC_MAX_SPEC_BYTES);
    nc_wire_stream_init(&st, spec->limits.stdout_bytes, spec->limits.stderr_bytes);
    if (spec->ndirs) {
        snprintf(msg, msg_len, "%s", NC_VM_NO_DIRS_TEXT);
        err = NC_ERR_CAPABILITY_DENIED;
        goto done;
    }
    char note[256];
    nc_vm_accel accel = nc_vm_host_accel(h, true, note, sizeof note);
    if (accel != NC_VM_ACCEL_KVM && accel != NC_VM_ACCEL_TCG) {
        snprintf(msg, msg_len, "vm tier unavailable: %s", note);
        err = NC_ERR_TIER_UNAVAILABLE;
        goto done;
    }
    uint32_t mem = nc_vm_memory_mib(spec, artifact_len);
    bool pooled = false;
    err = take_vm(h, accel, mem, &vm, &pooled, msg, msg_len);
    if (err != NC_OK)
        goto done;
    uint64_t spawn_ns = pooled ? 0 : vm.boot_ns;
    err = nc_wire_encode_spec_parts(spec, flags, artifact_sha256, 0, &head, &tail);
    if (err != NC_OK)
        goto done;

    /* The guest's own deadline starts when the module is instantiated; this
     * one covers the hand-off and the load too, and is the backstop. */
    uint64_t t_send = nc_now_ns();
    uint64_t deadline = t_send + ((uint64_t)spec->limits.timeout_ms + NC_CHILD_KILL_GRACE_MS + NC_VM_KILL_GRACE_MS) * 1000000ull +
                        (uint64_t)(artifact_len >> 20) * NC_VM_KILL_GRACE_PER_MIB_MS * 1000000ull;
    int rc = send_request(&vm, artifact, artifact_len, &head, spec, &tail, deadline, cancel_fd);
    uint64_t handoff_ns = nc_now_ns() - t_send;
    size_t cap = (size_t)spec->limits.stdout_bytes + spec->limits.stderr_bytes + 64 * 1024;
    /* Output chunks (hostile: checked against the caps), then the result. */
    while (rc == IO_OK) {
        rc = read_frame(vm.sock, cap, deadline, cancel_fd, &body, &blen);
        if (rc != IO_OK || !streaming || !nc_wire_is_chunk(body, blen))
            break;
        if (nc_wire_stream_forward(&st, body, blen, hooks) != NC_OK) {
            rc = IO_MALFORMED;   /* a guest that lies about its output: a crash */
            break;
        }
        free(body);
        body = NULL;
    }
    const uint8_t confined = vm.confined;
    vm_facts(res, pooled, mem, confined, spawn_ns, handoff_ns);
    if (rc != IO_OK) {
        vm_kill(&vm);
        nc_wire_stream_keep(&st, res);
        if (rc == IO_CANCELLED)
            nc_run_set_cancelled(res, "while running: the supervisor killed the microVM");
        else if (rc == IO_TIMEOUT)
            set_timeout(res, "no result from the microVM in time");
        else {
            res->outcome = NC_OUTCOME_CRASH;
            snprintf(res->message, sizeof res->message, "%s",
                     rc == IO_TOO_LARGE   ? "the microVM announced a result larger than its caps"
                     : rc == IO_MALFORMED ? "the microVM sent output that breaks its caps or framing"
                                          : "the microVM stopped before it sent a result");
        }
        err = NC_OK;
        goto done;
    }
    retire_vm(h, &vm);
    nc_err status = NC_ERR_CHILD;
    size_t out_from, err_from;
    err = nc_wire_stream_result(&st, streaming, body, blen, spec->limits.stdout_bytes, spec->limits.stderr_bytes,
                                &status, res, &out_from, &err_from);
    /* What the guest says of its own isolation is kept; the VM's facts are the host's. */
    vm_facts(res, pooled, mem, confined, spawn_ns, handoff_ns);
    if (err != NC_OK) {
        res->outcome = NC_OUTCOME_CRASH;
        nc_wire_stream_keep(&st, res);
        snprintf(res->message, sizeof res->message, "the microVM sent a malformed result");
        err = NC_OK;
        goto done;
    }
    if (status != NC_OK) {
        snprintf(msg, msg_len, "%s", res->message[0] ? res->message : nc_strerror(status));
        err = status;
        goto done;
    }
    /* What was never streamed (a deadline report carries output no chunk did). */
    nc_wire_stream_rest(hooks, res, out_from, err_from);
done:
    if (vm.pid > 0 || vm.sock >= 0)
        vm_kill(&vm);
    res->isolation.tier = NC_TIER_VM;
    res->isolation.accel = nc_vm_host_accel(h, false, NULL, 0);
    free(body);
    nc_wire_stream_cleanup(&st);
    nc_buf_cleanup(&head);
    nc_buf_cleanup(&tail);
    res->t_total_ns = nc_now_ns() - t0;
    return err;
}

nc_err nc_vm_host_boot(nc_vm_host *h, uint32_t mem_mib, int *sock, int *pid, uint64_t *boot_ns, char *msg,
                       size_t msg_len)
{
    nc_vm vm = {-1, -1, 0, 0, 0};
    *sock = *pid = -1;
    nc_vm_accel accel = nc_vm_host_accel(h, true, msg, msg_len);
    if (accel != NC_VM_ACCEL_KVM && accel != NC_VM_ACCEL_TCG)
        return NC_ERR_TIER_UNAVAILABLE;
    nc_err err = vm_boot(h, accel, mem_mib, h->boot_timeout_ms, &vm, msg, msg_len);
    if (err != NC_OK)
        return err;
    *sock = vm.sock;
    *pid = vm.pid;
    *boot_ns = vm.boot_ns;
    return NC_OK;
}

void nc_vm_host_kill(int sock, int pid)
{
    nc_vm vm = {pid, sock, 0, 0, 0};
    vm_kill(&vm);
}

/* ---- the vm tier's table (tier.h) ---- */

static nc_err vm_prepare(nc_sandbox *sb, const nc_sandbox_opts *opts, void **state, char *msg, size_t msg_len)
{
    (void)sb;
    nc_vm_host_opts vo = {.qemu = opts->vm_qemu, .kernel = opts->vm_kernel, .initrd = opts->vm_initrd,
                          .pool_size = opts->vm_pool_size, .console_log = opts->vm_console_log};
    const char *a = opts->vm_accel;
    if (!a || strcmp(a, "auto") == 0)
        vo.accel = NC_VM_ACCEL_CHOICE_AUTO;
    else if (strcmp(a, "kvm") == 0)
        vo.accel = NC_VM_ACCEL_CHOICE_KVM;
    else if (strcmp(a, "tcg") == 0)
        vo.accel = NC_VM_ACCEL_CHOICE_TCG;
    else {
        snprintf(msg, msg_len, "vm accelerator must be auto, kvm or tcg");
        return NC_ERR_USAGE;
    }
    return nc_vm_host_new(&vo, (nc_vm_host **)state, msg, msg_len);
}

static nc_err vm_check(void *state, size_t ndirs, char *msg, size_t msg_len)
{
    char note[256];
    if (ndirs) {
        snprintf(msg, msg_len, "%s", NC_VM_NO_DIRS_TEXT);
        return NC_ERR_CAPABILITY_DENIED;
    }
    nc_vm_accel a = nc_vm_host_accel(state, false, note, sizeof note);
    if (a == NC_VM_ACCEL_NONE) {
        snprintf(msg, msg_len, "the vm isolation tier is not available on this host: %s", note);
        return NC_ERR_TIER_UNAVAILABLE;
    }
    return NC_OK;
}

static nc_err vm_run(nc_sandbox *sb, void *state, const nc_artifact *art, const nc_run_spec *spec,
                     const int *dir_fds, const nc_run_hooks *hooks, nc_run_result *res, char *msg, size_t msg_len)
{
    (void)dir_fds;   /* none: vm_check refuses directories */
    int fd = -1;
    size_t len = 0;
    nc_err err = nc_sandbox_artifact_fd(sb, art, &fd, &len, msg, msg_len);
    if (err != NC_OK)
        return err;
    void *bytes = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (bytes == MAP_FAILED) {
        snprintf(msg, msg_len, "cannot map the sealed artifact: %s", strerror(errno));
        return NC_ERR_ARTIFACT;
    }
    err = nc_vm_host_run(state, bytes, len, art->fuel, art->sha256, spec, hooks, res, msg, msg_len);
    munmap(bytes, len);
    return err;
}

static void vm_report(void *state, nc_tier_status *st)
{
    nc_vm_host_status hs;
    nc_vm_host_stats(state, &hs);
    st->available = hs.accel != NC_VM_ACCEL_NONE;
    st->accel = hs.accel;
    snprintf(st->note, sizeof st->note, "%s", hs.accel_note);
    st->pool_size = hs.pool_size;
    st->pool_ready = hs.pool_ready;
    st->pool_memory_mib = hs.pool_mem_mib;
    st->boots = hs.boots;
    st->boot_failures = hs.boot_failures;
}

static void vm_shutdown(void *state)
{
    nc_vm_host_free(state);
}

const nc_tier_ops nc_tier_vm_ops = {
    .id = NC_TIER_VM,
    .prepare = vm_prepare,
    .compile = nc_sandbox_compile_for_vm,
    .fingerprint = nc_vm_engine_fingerprint,
    .check = vm_check,
    .run = vm_run,
    .report = vm_report,
    .shutdown = vm_shutdown,
};
