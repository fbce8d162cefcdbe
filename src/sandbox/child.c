/* The sandbox child: one process, one run. Started by the supervisor with its
 * socket on fd 3 and nothing else open, no environment. It isolates itself
 * before it reads anything run-specific, and again (Landlock, seccomp) before
 * it loads the module. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "common/fs.h"
#include "sandbox/compile.h"
#include "sandbox/internal.h"

#define CHILD_SOCK 3

/* Writes the whole result frame (async-signal-safe: the deadline's handler
 * sends through here too), and output as the module writes it (the spec
 * asked for a stream), in chunks of at most NC_WIRE_CHUNK_MAX, during the
 * host call that wrote it. A deadline meanwhile only marks the run (see
 * nc_wasi_in_host_call), so a chunk is never cut by the result frame. */
static void send_result(nc_err status, const nc_run_result *res)
{
    nc_wire_send_result(CHILD_SOCK, status, res);
}

static void send_output(void *ctx, int stream, const uint8_t *data, size_t len)
{
    (void)ctx;
    nc_wire_send_output(CHILD_SOCK, (unsigned)stream, data, len);
}

/* This run's result so far (isolation, hand-off), for a deadline report. */
static const nc_run_result *volatile child_result;

/* The deadline stopped the guest: send what the run observed and end. */
static void report_deadline(const nc_run_result *partial)
{
    static nc_run_result r;
    memcpy(&r, partial, sizeof r);
    const nc_run_result *base = child_result;
    if (base) {
        r.isolation = base->isolation;
        r.t_handoff_ns = base->t_handoff_ns;
        r.t_isolate_ns = base->t_isolate_ns;
    }
    send_result(NC_OK, &r);
    _exit(0);
}

/* The artifact comes as a memfd the supervisor filled from bytes it verified
 * and then sealed: its contents can no longer change, so it is not hashed
 * again here. Anything else is refused. */
static bool sealed_artifact(int fd)
{
    int need = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
    int seals = fcntl(fd, F_GET_SEALS);
    return seals >= 0 && (seals & need) == need;
}

/* Header: magic, body length, descriptor count; descriptors ride along. */
static nc_err recv_header(uint32_t *body_len, int *fds, uint32_t *nfds)
{
    uint8_t hdr[12];
    union {
        char buf[CMSG_SPACE(sizeof(int) * (1 + NC_MAX_DIRS))];
        struct cmsghdr align;
    } cbuf;
    struct iovec iov = {hdr, sizeof hdr};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
                        .msg_controllen = sizeof cbuf.buf};
    ssize_t n;
    do {
        n = recvmsg(CHILD_SOCK, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
    } while (n < 0 && errno == EINTR);
    if (n == 0)
        _exit(0);   /* supervisor closed the pool: nothing to do */
    if (n != (ssize_t)sizeof hdr || (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)))
        return NC_ERR_MALFORMED;
    uint32_t magic = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    *body_len = (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 | (uint32_t)hdr[6] << 8 | hdr[7];
    uint32_t want = (uint32_t)hdr[8] << 24 | (uint32_t)hdr[9] << 16 | (uint32_t)hdr[10] << 8 | hdr[11];
    if (magic != NC_WIRE_SPEC_MAGIC || *body_len > NC_MAX_SPEC_BYTES || want < 1 || want > 1 + NC_MAX_DIRS)
        return NC_ERR_MALFORMED;
    *nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k && *nfds < 1 + NC_MAX_DIRS; i++)
            memcpy(&fds[(*nfds)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
    return *nfds == want ? NC_OK : NC_ERR_MALFORMED;
}

/* The supervisor's pid as the zygote saw it: a child forked by the zygote is
 * re-parented to the supervisor (a subreaper) and only then arms PDEATHSIG. */
static pid_t zygote_supervisor;

__attribute__((noreturn)) static void child_main(void);

void nc_sandbox_child_main(void)
{
    child_main();
}

void nc_sandbox_dispatch(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "sandbox-child") == 0)
        nc_sandbox_child_main();
    if (argc >= 2 && strcmp(argv[1], "sandbox-zygote") == 0)
        nc_sandbox_zygote_main();
    if (argc >= 2 && strcmp(argv[1], "sandbox-compile") == 0)
        nc_sandbox_compile_main();
}

/* A pre-started, single-threaded process that forks sandbox children on
 * request, so a child costs two fork()s instead of an exec and dynamic
 * linking. Protocol on fd 3 (SOCK_SEQPACKET): request = 1 byte "F" with one
 * descriptor (the new child's supervisor socket); reply = the child's pid
 * (4 bytes, host order), or -1. The child is forked twice (the middle process
 * exits at once) so that it becomes the supervisor's child: the supervisor
 * waits for it and reads its exit status directly. */
void nc_sandbox_zygote_main(void)
{
    syscall(SYS_close_range, CHILD_SOCK + 1, ~0u, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    zygote_supervisor = getppid();
    if (zygote_supervisor == 1)
        _exit(1);
    signal(SIGPIPE, SIG_IGN);
    /* Initialise OpenSSL's digest tables once here, so that every forked child
     * inherits them instead of building them again for its artifact hash. */
    uint8_t warm[NC_SHA256_LEN];
    if (nc_sha256("", 0, warm) != NC_OK)
        _exit(1);
    bool userns, netns;
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0) {
        userns = netns = true;
    } else {
        userns = unshare(CLONE_NEWUSER) == 0;
        netns = unshare(CLONE_NEWNET) == 0;
    }
    nc_isolate_namespaces_entered(userns, netns);
    for (;;) {
        char cmd;
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } cbuf;
        struct iovec iov = {&cmd, 1};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
                            .msg_controllen = sizeof cbuf.buf};
        ssize_t n = recvmsg(CHILD_SOCK, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(0);   /* the supervisor went away */
        int fd = -1;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&fd, CMSG_DATA(c), sizeof fd);
        int32_t reply = -1;
        int pfd[2];
        if (cmd == 'F' && fd >= 0 && pipe2(pfd, O_CLOEXEC) == 0) {
            pid_t mid = fork();
            if (mid == 0) {
                pid_t pid = fork();
                if (pid == 0) {
                    close(pfd[0]);
                    close(pfd[1]);
                    if (dup2(fd, CHILD_SOCK) != CHILD_SOCK)
                        _exit(1);
                    child_main();
                }
                int32_t v = (int32_t)pid;
                ssize_t w = write(pfd[1], &v, sizeof v);
                _exit(w == (ssize_t)sizeof v ? 0 : 1);
            }
            close(pfd[1]);
            if (mid > 0) {
                int32_t v;
                if (read(pfd[0], &v, sizeof v) == (ssize_t)sizeof v && v > 0)
                    reply = v;
                while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
                    ;
            }
            close(pfd[0]);
        }
        if (fd >= 0)
            close(fd);
        if (send(CHILD_SOCK, &reply, sizeof reply, MSG_NOSIGNAL) != (ssize_t)sizeof reply)
            _exit(0);
    }
}

static void child_main(void)
{
    nc_run_result res;
    nc_wire_spec ws;
    nc_isolation_report iso;
    int fds[1 + NC_MAX_DIRS];
    uint32_t nfds = 0, body_len = 0;
    uint8_t *body = NULL;
    nc_err status;

    memset(&res, 0, sizeof res);
    memset(&ws, 0, sizeof ws);
    syscall(SYS_close_range, CHILD_SOCK + 1, ~0u, 0);
    if (zygote_supervisor) {
        /* Wait (briefly) to be re-parented to the supervisor before arming
         * PDEATHSIG, or the exiting middle process would trigger it. */
        for (int i = 0; i < 10000 && getppid() != zygote_supervisor; i++)
            sched_yield();
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() == 1 || (zygote_supervisor && getppid() != zygote_supervisor))
        _exit(1);
    nc_isolate_early(&iso);

    status = recv_header(&body_len, fds, &nfds);
    uint64_t t_recv = nc_now_ns();
    if (status != NC_OK) {
        snprintf(res.message, sizeof res.message, "malformed run request from the supervisor");
        goto reply;
    }
    body = malloc(body_len ? body_len : 1);
    if (!body) {
        status = NC_ERR_NOMEM;
        goto reply;
    }
    status = nc_read_exact(CHILD_SOCK, body, body_len);
    if (status == NC_OK)
        status = nc_wire_decode_spec(body, body_len, &ws);
    if (status == NC_OK && nfds != 1 + ws.spec.ndirs)
        status = NC_ERR_MALFORMED;
    if (status != NC_OK) {
        snprintf(res.message, sizeof res.message, "malformed run request from the supervisor");
        goto reply;
    }
    res.t_handoff_ns = t_recv > ws.sent_ns ? t_recv - ws.sent_ns : 0;

    uint64_t t0 = nc_now_ns();
    status = nc_isolate_late(&ws.spec, fds + 1, &iso, res.message, sizeof res.message);
    res.t_isolate_ns = nc_now_ns() - t0;
    if (status != NC_OK)
        goto reply;

    if (!sealed_artifact(fds[0])) {
        snprintf(res.message, sizeof res.message, "the supervisor sent an artifact that is not sealed");
        status = NC_ERR_ARTIFACT;
        goto reply;
    }
    nc_exec_artifact art = {.sealed_fd = fds[0]};
    res.isolation = iso;   /* for a report from the deadline's handler */
    child_result = &res;
    status = nc_exec_run(&art, ws.fuel, &ws.spec, fds + 1, NC_TIMER_SIGNAL, report_deadline,
                         ws.stream ? send_output : NULL, NULL, &res, res.message, sizeof res.message);
    child_result = NULL;
reply:
    res.isolation = iso;
    send_result(status, &res);
    _exit(0);
}
