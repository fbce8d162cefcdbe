/* The vm tier's guest runner: /init (PID 1) of a throw-away microVM whose
 * initramfs holds nothing else (no shell, no other program, no host file; the
 * VM has no network device and no disk). Statically linked with the engine.
 *
 * It mounts devtmpfs and proc, loads the virtio modules the kernel needs for
 * its one device (a virtio serial port), says hello to the host, and takes
 * exactly one run (vm.h): the artifact into a sealed memfd, the specification
 * parsed strictly as the process tier's child does. It then forks the sandbox
 * child: the process tier's isolation steps inside the guest (namespaces,
 * capabilities dropped, no_new_privs, rlimits, the same seccomp allowlist),
 * the same engine path and the same deadline. The child writes its result
 * into a pipe; this process forwards it, or reports the child's death as a
 * crash, and powers the VM off. The host parses whatever arrives as hostile
 * and kills the VM at the deadline in any case. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common/fs.h"
#include "common/hash.h"
#include "common/limits.h"
#include "sandbox/internal.h"
#include "sandbox/vm.h"


static int kmsg = -1;

/* A line in the guest kernel's log (seen on the VM's console when the host
 * asks for one; never on the run's channel). */
__attribute__((format(printf, 1, 2))) static void guest_log(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (kmsg >= 0 && n > 0)
        (void)!write(kmsg, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

__attribute__((noreturn)) static void power_off(void)
{
    sync();
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}

static nc_err load_modules(void)
{
    uint8_t *order = NULL;
    size_t len = 0;
    nc_err err = nc_read_file("/modules.order", NC_VM_GUEST_MODULES_ORDER_MAX, &order, &len);
    if (err != NC_OK)
        return err;
    char *text = (char *)order, *end = text + len, *line = text;
    while (line < end && err == NC_OK) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl)
            nl = end;
        *nl = '\0';
        if (*line) {
            char path[256];
            if (strchr(line, '/') || snprintf(path, sizeof path, "/modules/%s", line) >= (int)sizeof path) {
                err = NC_ERR_MALFORMED;
                break;
            }
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)) {
                guest_log("nightcore-guest: cannot load %s: %s\n", path, strerror(errno));
                err = NC_ERR_IO;
            }
            if (fd >= 0)
                close(fd);
        }
        line = nl + 1;
    }
    free(order);
    return err;
}

/* The port appears once virtio_console has probed the device; until its
 * queues are up, open() says ENXIO. */
static int open_port(void)
{
    for (unsigned waited = 0; waited < NC_VM_GUEST_PORT_WAIT_MS; waited += 5) {
        int fd = open(NC_VM_PORT_PATH, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0)
            return fd;
        if (errno != ENOENT && errno != ENXIO)
            break;
        usleep(5000);
    }
    return -1;
}

/* ---- the sandbox child (forked; one run, then _exit) ---- */

static int result_fd = -1;
static const nc_run_result *volatile child_result;

/* Async-signal-safe: the deadline's handler sends through here too. */
static void send_result(nc_err status, const nc_run_result *res)
{
    nc_wire_send_result(result_fd, status, res);
}

/* Output as the module writes it (the spec asked for a stream): chunk
 * frames, as the process tier's child sends them (child.c). */
static void send_output(void *ctx, int stream, const uint8_t *data, size_t len)
{
    (void)ctx;
    nc_wire_send_output(result_fd, (unsigned)stream, data, len);
}

static void report_deadline(const nc_run_result *partial)
{
    static nc_run_result r;
    memcpy(&r, partial, sizeof r);
    const nc_run_result *base = child_result;
    if (base) {
        r.isolation = base->isolation;
        r.t_isolate_ns = base->t_isolate_ns;
    }
    send_result(NC_OK, &r);
    _exit(0);
}

__attribute__((noreturn)) static void child_run(const nc_wire_spec *ws, int artifact_fd)
{
    static nc_run_result res;
    nc_isolation_report iso;
    memset(&res, 0, sizeof res);
    nc_isolate_early(&iso);
    uint64_t t0 = nc_now_ns();
    nc_err status = nc_isolate_late(&ws->spec, NULL, &iso, res.message, sizeof res.message);
    res.t_isolate_ns = nc_now_ns() - t0;
    if (status == NC_OK) {
        nc_exec_artifact art = {.sealed_fd = artifact_fd};
        res.isolation = iso;
        child_result = &res;
        status = nc_exec_run(&art, ws->fuel, &ws->spec, NULL, NC_TIMER_SIGNAL, report_deadline,
                             ws->stream ? send_output : NULL, NULL, &res, res.message, sizeof res.message);
        child_result = NULL;
    }
    res.isolation = iso;
    send_result(status, &res);
    _exit(0);
}

/* ---- init ---- */

static nc_err read_request(int port, int *artifact_fd, uint8_t **spec_bytes, nc_wire_spec *ws,
                           char *msg, size_t msg_len)
{
    uint8_t hdr[NC_VM_REQUEST_HEADER_LEN];
    uint32_t alen = 0, slen = 0;
    uint8_t *buf = NULL;
    int fd = -1;
    nc_err err = nc_read_exact(port, hdr, sizeof hdr);
    if (err == NC_OK)
        err = nc_vmwire_parse_request_header(hdr, sizeof hdr, &alen, &slen);
    if (err != NC_OK) {
        snprintf(msg, msg_len, "malformed run request from the host");
        return err;
    }
    fd = memfd_create("nightcore-artifact", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    buf = malloc(64 * 1024);
    if (fd < 0 || !buf) {
        err = NC_ERR_NOMEM;
        goto done;
    }
    for (uint32_t got = 0; got < alen && err == NC_OK;) {
        size_t n = alen - got < 64 * 1024 ? alen - got : 64 * 1024;
        err = nc_read_exact(port, buf, n);
        if (err == NC_OK)
            err = nc_write_all(fd, buf, n);
        got += (uint32_t)n;
    }
    free(buf);
    buf = NULL;
    if (err == NC_OK &&
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
        err = NC_ERR_IO;
    if (err != NC_OK) {
        snprintf(msg, msg_len, "cannot receive the artifact (%u bytes) in the guest", alen);
        goto done;
    }
    buf = malloc(slen ? slen : 1);
    if (!buf) {
        err = NC_ERR_NOMEM;
        goto done;
    }
    err = nc_read_exact(port, buf, slen);
    if (err == NC_OK)
        err = nc_wire_decode_spec(buf, slen, ws);
    if (err != NC_OK) {
        snprintf(msg, msg_len, "malformed run specification from the host");
        goto done;
    }
    /* Defence in depth: the host verified these bytes; check they arrived. */
    void *map = mmap(NULL, alen, PROT_READ, MAP_PRIVATE, fd, 0);
    uint8_t digest[NC_SHA256_LEN];
    if (map == MAP_FAILED || nc_sha256(map, alen, digest) != NC_OK ||
        memcmp(digest, ws->artifact_sha256, NC_SHA256_LEN) != 0) {
        if (map != MAP_FAILED)
            munmap(map, alen);
        nc_wire_spec_cleanup(ws);
        snprintf(msg, msg_len, "the artifact received in the guest is not the recorded one");
        err = NC_ERR_ARTIFACT;
        goto done;
    }
    munmap(map, alen);
    if (ws->spec.ndirs) {
        nc_wire_spec_cleanup(ws);
        snprintf(msg, msg_len, "the vm tier grants no directories");
        err = NC_ERR_USAGE;
        goto done;
    }
    *artifact_fd = fd;
    *spec_bytes = buf;
    return NC_OK;
done:
    free(buf);
    if (fd >= 0)
        close(fd);
    return err;
}

static void describe_child_death(nc_run_result *res, int status)
{
    res->outcome = NC_OUTCOME_CRASH;
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        snprintf(res->message, sizeof res->message, "sandbox child killed by signal %d (%s)%s", sig,
                 strsignal(sig),
                 sig == SIGSYS    ? ": a system call outside the seccomp allowlist"
                 : sig == SIGKILL ? ": killed (resource limit or out of memory)"
                                  : "");
    } else {
        snprintf(res->message, sizeof res->message,
                 "sandbox child exited with status %d before reporting", WEXITSTATUS(status));
    }
}

/* Reads exactly len bytes from the child's pipe: false at EOF or error. */
static bool pipe_read(int fd, uint8_t *p, size_t len)
{
    return nc_read_exact(fd, p, len) == NC_OK;
}

/* Sends on the child's frames as they come: output chunks (checked against
 * the caps, and kept, so that a death after them still reports them), then
 * its result. A child that dies before its result, or sends something that
 * is not a frame, is reported as a crash, with the output it streamed. */
static void forward_frames(int port, int pipe_rd, pid_t child, const nc_limits *l)
{
    size_t cap = (size_t)l->stdout_bytes + l->stderr_bytes + NC_WIRE_RESULT_FIXED_MAX;
    nc_wire_stream st;
    nc_wire_stream_init(&st, l->stdout_bytes, l->stderr_bytes);
    uint8_t *frame = NULL;
    bool result = false, bad = false;
    for (;;) {
        uint8_t lenb[4];
        if (!pipe_read(pipe_rd, lenb, sizeof lenb))
            break;   /* EOF: the child is gone */
        uint32_t n = (uint32_t)lenb[0] << 24 | (uint32_t)lenb[1] << 16 | (uint32_t)lenb[2] << 8 | lenb[3];
        frame = n <= cap ? malloc(4 + (size_t)n) : NULL;
        if (!frame || !pipe_read(pipe_rd, frame + 4, n)) {
            bad = true;
            break;
        }
        memcpy(frame, lenb, 4);
        unsigned which;
        const uint8_t *data;
        size_t dlen;
        if (nc_wire_is_chunk(frame + 4, n)) {
            if (nc_wire_stream_chunk(&st, frame + 4, n, &which, &data, &dlen) != NC_OK) {
                bad = true;
                break;
            }
        } else {
            result = true;
        }
        if (nc_write_all(port, frame, 4 + (size_t)n) != NC_OK)
            power_off();   /* the host is gone */
        free(frame);
        frame = NULL;
        if (result)
            break;
    }
    free(frame);
    if (bad)
        kill(child, SIGKILL);   /* it may be blocked writing more */
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    if (result) {
        nc_wire_stream_cleanup(&st);
        return;
    }
    static nc_run_result res;
    memset(&res, 0, sizeof res);
    describe_child_death(&res, status);
    res.out = nc_buf_steal(&st.out, &res.out_len);
    res.err = nc_buf_steal(&st.err, &res.err_len);
    static uint8_t scratch[NC_WIRE_RESULT_FIXED_MAX];
    struct iovec iov[NC_WIRE_RESULT_IOVS];
    if (nc_wire_result_frame(NC_OK, &res, scratch, sizeof scratch, iov) == NC_OK)
        for (int k = 0; k < NC_WIRE_RESULT_IOVS; k++)
            if (iov[k].iov_len)
                (void)!nc_write_all(port, iov[k].iov_base, iov[k].iov_len);
    free(res.out);
    free(res.err);
    nc_wire_stream_cleanup(&st);
}

static void send_error(int port, nc_err status, const char *msg)
{
    static nc_run_result res;
    memset(&res, 0, sizeof res);
    snprintf(res.message, sizeof res.message, "%s", msg);
    static uint8_t scratch[NC_WIRE_RESULT_FIXED_MAX];
    struct iovec iov[NC_WIRE_RESULT_IOVS];
    if (nc_wire_result_frame(status, &res, scratch, sizeof scratch, iov) == NC_OK)
        for (int i = 0; i < NC_WIRE_RESULT_IOVS; i++)
            if (iov[i].iov_len)
                (void)!nc_write_all(port, iov[i].iov_base, iov[i].iov_len);
}

int main(void)
{
    if (getpid() != 1)
        return 1;   /* only ever the VM's init */
    mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755");
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);
    kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
    }
    signal(SIGPIPE, SIG_IGN);
    if (load_modules() != NC_OK)
        power_off();
    int port = open_port();
    if (port < 0) {
        guest_log("nightcore-guest: no port %s: %s\n", NC_VM_PORT_PATH, strerror(errno));
        power_off();
    }
    uint8_t hello[NC_VM_HELLO_LEN];
    nc_vmwire_hello(hello);
    if (nc_write_all(port, hello, sizeof hello) != NC_OK)
        power_off();

    int artifact_fd = -1;
    uint8_t *spec_bytes = NULL;
    nc_wire_spec ws;
    char msg[256] = "";
    memset(&ws, 0, sizeof ws);
    nc_err err = read_request(port, &artifact_fd, &spec_bytes, &ws, msg, sizeof msg);
    if (err != NC_OK) {
        send_error(port, err, msg);
        power_off();
    }
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        send_error(port, NC_ERR_CHILD, "cannot create the sandbox child's pipe in the guest");
        power_off();
    }
    pid_t child = fork();
    if (child == 0) {
        close(pfd[0]);
        close(port);
        if (kmsg >= 0)
            close(kmsg);
        result_fd = pfd[1];
        child_run(&ws, artifact_fd);
    }
    close(pfd[1]);
    if (child < 0) {
        send_error(port, NC_ERR_CHILD, "cannot start the sandbox child in the guest");
        power_off();
    }
    forward_frames(port, pfd[0], child, &ws.spec.limits);
    power_off();
}
