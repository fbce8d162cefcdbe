/* The supervisor: validates a run specification, hands it to a sandbox child
 * (pre-started when a pool is configured), enforces the wall-clock backstop,
 * and turns whatever the child did (a result, a crash, a hang) into a result.
 * The child ran hostile code: its reply is parsed as hostile input. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "common/fs.h"
#include "sandbox/compile.h"
#include "sandbox/internal.h"
#include "sandbox/tier.h"

#define MAX_POOL 32
#define MAX_REAP 64

typedef struct {
    pid_t pid;
    int sock;
} nc_child;

/* A verified artifact held in a sealed memfd, handed to each child that runs
 * it: the child maps it instead of reading and hashing the file every run.
 * The file's identity when it was read is kept: a file changed since (new
 * inode, size, mtime or ctime) is read and verified again, so a tampered or
 * missing artifact is refused as before. */
typedef struct {
    uint8_t sha256[NC_SHA256_LEN];
    int fd;
    size_t len;
    dev_t dev;
    ino_t ino;
    struct timespec mtime, ctime;
    uint64_t used;   /* LRU stamp */
} nc_image;

struct nc_sandbox {
    nc_tier tier;
    char child_exe[PATH_MAX];
    char cache_dir[PATH_MAX];
    unsigned pool_size;
    uint32_t compile_timeout_ms;   /* compile children (compile.c) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    nc_child pool[MAX_POOL];
    unsigned npool;
    pid_t reap[MAX_REAP];
    unsigned nreap;
    bool stop, pool_thread_started;
    pthread_t thread;
    /* the zygote (pool mode): forks children, so a child needs no exec */
    pthread_mutex_t zmu;
    pid_t zygote_pid;
    int zygote_sock;
    /* sealed artifact images (process tier) */
    pthread_mutex_t imu;
    nc_image images[NC_ARTIFACT_IMAGES];
    unsigned nimages;
    size_t image_bytes;
    uint64_t image_clock;
    /* every tier's state, and why a tier could not be prepared */
    void *tier_state[NC_TIER_COUNT];
    bool tier_ready[NC_TIER_COUNT];
    char tier_error[NC_TIER_COUNT][320];
};

/* The tier tables, by tier (tier.h). */
static const nc_tier_ops *const tier_table[NC_TIER_COUNT] = {
    [NC_TIER_PROCESS] = &nc_tier_process_ops,
    [NC_TIER_INPROCESS] = &nc_tier_inprocess_ops,
    [NC_TIER_VM] = &nc_tier_vm_ops,
};

static const char *const outcome_names[] = {
#define NC_OUTCOME_NAME(sym, name) [sym] = name,
    NC_OUTCOMES(NC_OUTCOME_NAME)
#undef NC_OUTCOME_NAME
};
static const char *const limit_names[] = {
#define NC_LIMIT_NAME(sym, name) [sym##_BIT] = name,
    NC_LIMITS(NC_LIMIT_NAME)
#undef NC_LIMIT_NAME
};

const char *nc_outcome_name(unsigned outcome)
{
    return outcome < NC_OUTCOME_COUNT ? outcome_names[outcome] : "?";
}

const char *nc_limit_name(unsigned bit)
{
    return bit < NC_LIMIT_COUNT ? limit_names[bit] : "?";
}

void nc_limits_default(nc_limits *l)
{
    memset(l, 0, sizeof *l);
    l->timeout_ms = NC_DEFAULT_TIMEOUT_MS;
    l->memory_bytes = NC_DEFAULT_MEMORY_BYTES;
    l->table_elements = NC_DEFAULT_TABLE_ELEMENTS;
    l->instances = NC_DEFAULT_INSTANCES;
    l->tables = NC_DEFAULT_TABLES;
    l->memories = NC_DEFAULT_MEMORIES;
    l->stack_bytes = NC_DEFAULT_STACK_BYTES;
    l->stdout_bytes = NC_DEFAULT_OUTPUT_BYTES;
    l->stderr_bytes = NC_DEFAULT_OUTPUT_BYTES;
}

nc_err nc_limits_check(const nc_limits *l)
{
    if (l->timeout_ms == 0 || l->timeout_ms > NC_MAX_TIMEOUT_MS)
        return NC_ERR_USAGE;
    if (l->memory_bytes > NC_MAX_MEMORY_BYTES)
        return NC_ERR_USAGE;
    if (l->stack_bytes < 16 * 1024 || l->stack_bytes > NC_MAX_STACK_BYTES)
        return NC_ERR_USAGE;
    if (l->stdout_bytes > NC_MAX_OUTPUT_BYTES || l->stderr_bytes > NC_MAX_OUTPUT_BYTES)
        return NC_ERR_USAGE;
    if (l->instances == 0 || l->instances > 64 || l->tables > 1024 || l->memories > 64)
        return NC_ERR_USAGE;
    return NC_OK;
}

void nc_run_result_cleanup(nc_run_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

/* ---- cancellation ---- */

struct nc_run_cancel {
    atomic_bool fired;
    int efd;   /* readable once fired: wakes the supervisor's poll */
};

nc_err nc_run_cancel_new(nc_run_cancel **out)
{
    *out = NULL;
    nc_run_cancel *c = calloc(1, sizeof *c);
    if (!c)
        return NC_ERR_NOMEM;
    c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->efd < 0) {
        free(c);
        return NC_ERR_IO;
    }
    atomic_init(&c->fired, false);
    *out = c;
    return NC_OK;
}

void nc_run_cancel_free(nc_run_cancel *c)
{
    if (!c)
        return;
    close(c->efd);
    free(c);
}

void nc_run_cancel_fire(nc_run_cancel *c)
{
    if (!c || atomic_exchange(&c->fired, true))
        return;
    uint64_t one = 1;
    ssize_t n = write(c->efd, &one, sizeof one);
    (void)n;   /* the counter cannot overflow from one write; the flag is set either way */
}

bool nc_run_cancel_fired(const nc_run_cancel *c)
{
    return c && atomic_load(&((nc_run_cancel *)c)->fired);
}

int nc_run_cancel_fd(const nc_run_cancel *c)
{
    return c ? c->efd : -1;
}

void nc_run_set_cancelled(nc_run_result *res, const char *when)
{
    res->outcome = NC_OUTCOME_CANCELLED;
    res->exit_code = 0;
    res->trap_kind[0] = '\0';
    snprintf(res->message, sizeof res->message, "cancelled %s", when);
}


/* ---- children ---- */

/* Starts `child_exe MODE` with sock on fd 3, stdio on /dev/null and an empty
 * environment. */
static nc_err spawn_exe(nc_sandbox *sb, const char *mode, int sock, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    char *const argv[] = {sb->child_exe, (char *)mode, NULL};
    char *const envp[] = {NULL};   /* nothing of the caller's environment */
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, sock, 3);
    int rc = posix_spawn(pid, sb->child_exe, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? NC_OK : NC_ERR_CHILD;
}

static void stop_zygote(nc_sandbox *sb)
{
    if (sb->zygote_sock >= 0)
        close(sb->zygote_sock);   /* it exits on EOF */
    if (sb->zygote_pid > 0)
        while (waitpid(sb->zygote_pid, NULL, 0) < 0 && errno == EINTR)
            ;
    sb->zygote_sock = -1;
    sb->zygote_pid = -1;
}

/* Asks the zygote for a child on the socket `child_end`. Caller holds zmu. */
static nc_err zygote_fork(nc_sandbox *sb, int child_end, pid_t *pid)
{
    if (sb->zygote_sock < 0) {
        int zv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, zv) != 0)
            return NC_ERR_CHILD;
        nc_err err = spawn_exe(sb, "sandbox-zygote", zv[1], &sb->zygote_pid);
        close(zv[1]);
        if (err != NC_OK) {
            close(zv[0]);
            sb->zygote_pid = -1;
            return err;
        }
        sb->zygote_sock = zv[0];
    }
    char cmd = 'F';
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } cbuf;
    memset(&cbuf, 0, sizeof cbuf);
    struct iovec iov = {&cmd, 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf, .msg_controllen = sizeof cbuf.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &child_end, sizeof(int));
    int32_t reply = -1;
    ssize_t n;
    do {
        n = sendmsg(sb->zygote_sock, &mh, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n == 1) {
        do {
            n = recv(sb->zygote_sock, &reply, sizeof reply, 0);
        } while (n < 0 && errno == EINTR);
    }
    if (n != (ssize_t)sizeof reply || reply <= 0) {
        stop_zygote(sb);   /* restarted at the next request */
        return NC_ERR_CHILD;
    }
    *pid = (pid_t)reply;
    return NC_OK;
}

static nc_err spawn_child(nc_sandbox *sb, nc_child *c)
{
    int sv[2];
    pid_t pid = -1;
    nc_err err = NC_ERR_CHILD;

    c->pid = -1;
    c->sock = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return NC_ERR_CHILD;
    if (sb->pool_size > 0) {
        pthread_mutex_lock(&sb->zmu);
        err = zygote_fork(sb, sv[1], &pid);
        pthread_mutex_unlock(&sb->zmu);
    }
    if (err != NC_OK)   /* no pool, or no zygote: exec a child directly */
        err = spawn_exe(sb, "sandbox-child", sv[1], &pid);
    close(sv[1]);
    if (err != NC_OK) {
        close(sv[0]);
        return err;
    }
    c->pid = pid;
    c->sock = sv[0];
    return NC_OK;
}

static void reap_child(nc_child *c)
{
    if (c->sock >= 0)
        close(c->sock);
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    c->pid = -1;
    c->sock = -1;
}

static nc_err take_child(nc_sandbox *sb, nc_child *c, uint64_t *spawn_ns)
{
    uint64_t t0 = nc_now_ns();
    pthread_mutex_lock(&sb->mu);
    if (sb->npool) {
        /* The replacement is started once this run is over (retire_child),
         * so its exec does not compete with this run for the CPU. */
        *c = sb->pool[--sb->npool];
        pthread_mutex_unlock(&sb->mu);
        *spawn_ns = 0;
        return NC_OK;
    }
    pthread_mutex_unlock(&sb->mu);
    nc_err err = spawn_child(sb, c);
    *spawn_ns = nc_now_ns() - t0;
    return err;
}

/* Hands a finished child to the pool thread (killed now, reaped there); reaps
 * it here when there is no pool thread or its queue is full. */
static void retire_child(nc_sandbox *sb, nc_child *c)
{
    if (c->sock >= 0)
        close(c->sock);
    c->sock = -1;
    if (c->pid <= 0)
        return;
    kill(c->pid, SIGKILL);
    pthread_mutex_lock(&sb->mu);
    if (sb->pool_thread_started && sb->nreap < MAX_REAP) {
        sb->reap[sb->nreap++] = c->pid;
        c->pid = -1;
        pthread_cond_signal(&sb->cv);
    }
    pthread_mutex_unlock(&sb->mu);
    if (c->pid > 0)
        reap_child(c);
}

/* Keeps pool_size children started and reaps retired ones, off the run path. */
static void *pool_thread(void *arg)
{
    nc_sandbox *sb = arg;
    pthread_mutex_lock(&sb->mu);
    for (;;) {
        while (!sb->stop && sb->nreap == 0 && sb->npool >= sb->pool_size)
            pthread_cond_wait(&sb->cv, &sb->mu);
        if (sb->stop)
            break;
        pid_t reap[MAX_REAP];
        unsigned nreap = sb->nreap;
        memcpy(reap, sb->reap, sizeof(pid_t) * nreap);
        sb->nreap = 0;
        bool need = sb->npool < sb->pool_size;
        pthread_mutex_unlock(&sb->mu);
        for (unsigned i = 0; i < nreap; i++)
            while (waitpid(reap[i], NULL, 0) < 0 && errno == EINTR)
                ;
        nc_child c = {-1, -1};
        if (need && spawn_child(sb, &c) != NC_OK)
            usleep(100 * 1000);   /* cannot start children right now: retry later */
        pthread_mutex_lock(&sb->mu);
        if (c.pid > 0) {
            if (sb->npool < sb->pool_size && !sb->stop) {
                sb->pool[sb->npool++] = c;
                c.pid = -1;
            }
        }
        if (c.pid > 0) {
            pthread_mutex_unlock(&sb->mu);
            reap_child(&c);
            pthread_mutex_lock(&sb->mu);
        }
    }
    unsigned nreap = sb->nreap;
    sb->nreap = 0;
    pthread_mutex_unlock(&sb->mu);
    for (unsigned i = 0; i < nreap; i++)
        while (waitpid(sb->reap[i], NULL, 0) < 0 && errno == EINTR)
            ;
    return NULL;
}

nc_err nc_sandbox_new(const nc_sandbox_opts *opts, nc_sandbox **out)
{
    *out = NULL;
    nc_sandbox *sb = calloc(1, sizeof *sb);
    if (!sb)
        return NC_ERR_NOMEM;
    sb->tier = opts->tier;
    sb->pool_size = opts->pool_size > MAX_POOL ? MAX_POOL : opts->pool_size;
    sb->compile_timeout_ms = opts->compile_timeout_ms ? opts->compile_timeout_ms : NC_COMPILE_TIMEOUT_MS;
    const char *exe = opts->child_exe ? opts->child_exe : "/proc/self/exe";
    ssize_t n = 0;
    if (!opts->child_exe) {
        n = readlink(exe, sb->child_exe, sizeof sb->child_exe - 1);
        if (n <= 0) {
            free(sb);
            return NC_ERR_CHILD;
        }
        sb->child_exe[n] = '\0';
    } else if (snprintf(sb->child_exe, sizeof sb->child_exe, "%s", exe) >= (int)sizeof sb->child_exe) {
        free(sb);
        return NC_ERR_TOO_LARGE;
    }
    const char *cache = opts->cache_dir ? opts->cache_dir : "/tmp/nightcore-artifacts";
    if (snprintf(sb->cache_dir, sizeof sb->cache_dir, "%s", cache) >= (int)sizeof sb->cache_dir ||
        nc_mkdir_p(sb->cache_dir, 0700) != NC_OK) {
        free(sb);
        return NC_ERR_IO;
    }
    pthread_mutex_init(&sb->mu, NULL);
    pthread_cond_init(&sb->cv, NULL);
    pthread_mutex_init(&sb->zmu, NULL);
    pthread_mutex_init(&sb->imu, NULL);
    sb->zygote_pid = -1;
    sb->zygote_sock = -1;
    /* The sandbox's own tier (process or inprocess) must come up; the vm
     * tier, asked for with a kernel, may be unavailable: its runs are then
     * refused with the reason. */
    nc_tier own = sb->tier == NC_TIER_INPROCESS ? NC_TIER_INPROCESS : NC_TIER_PROCESS;
    for (int t = 0; t < NC_TIER_COUNT; t++) {
        if (t != (int)own && (t != NC_TIER_VM || !opts->vm_kernel)) {
            snprintf(sb->tier_error[t], sizeof sb->tier_error[t], "the %s tier is not set up in this %s",
                     nc_tier_name((nc_tier)t), t == NC_TIER_VM ? "worker (no guest kernel configured)" : "sandbox");
            continue;
        }
        nc_err err = tier_table[t]->prepare(sb, opts, &sb->tier_state[t], sb->tier_error[t], sizeof sb->tier_error[t]);
        if (err == NC_OK)
            sb->tier_ready[t] = true;
        else if (t == (int)own) {
            nc_sandbox_free(sb);
            return err;
        }
    }
    *out = sb;
    return NC_OK;
}

/* ---- the process and inprocess tiers' tables ---- */

static nc_err process_prepare(nc_sandbox *sb, const nc_sandbox_opts *opts, void **state, char *msg, size_t msg_len)
{
    (void)opts;
    *state = sb;
    if (sb->pool_size == 0)
        return NC_OK;
    /* Children forked by the zygote are re-parented to this process,
     * which waits for them and reads their exit status. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        snprintf(msg, msg_len, "cannot become a child subreaper: %s", strerror(errno));
        return NC_ERR_CHILD;
    }
    if (pthread_create(&sb->thread, NULL, pool_thread, sb) != 0) {
        snprintf(msg, msg_len, "cannot start the pool thread");
        return NC_ERR_INTERNAL;
    }
    sb->pool_thread_started = true;
    return NC_OK;
}

static nc_err inprocess_prepare(nc_sandbox *sb, const nc_sandbox_opts *opts, void **state, char *msg, size_t msg_len)
{
    (void)opts;
    (void)msg;
    (void)msg_len;
    *state = sb;
    return NC_OK;
}

static nc_err process_check(void *state, size_t ndirs, char *msg, size_t msg_len)
{
    (void)state;
    (void)ndirs;
    (void)msg;
    (void)msg_len;
    return NC_OK;
}

static void process_report(void *state, nc_tier_status *st)
{
    nc_sandbox *sb = state;
    st->available = true;
    st->pool_size = sb->pool_size;
    pthread_mutex_lock(&sb->mu);
    st->pool_ready = sb->npool;
    pthread_mutex_unlock(&sb->mu);
}

static void inprocess_report(void *state, nc_tier_status *st)
{
    (void)state;
    st->available = true;
    snprintf(st->note, sizeof st->note, "no isolation: benchmarks and tests only");
}

static void process_shutdown(void *state)
{
    (void)state;   /* the pool and the zygote are the sandbox's: nc_sandbox_free */
}

void nc_sandbox_free(nc_sandbox *sb)
{
    if (!sb)
        return;
    for (int t = 0; t < NC_TIER_COUNT; t++)
        if (sb->tier_ready[t])
            tier_table[t]->shutdown(sb->tier_state[t]);
    if (sb->pool_thread_started) {
        pthread_mutex_lock(&sb->mu);
        sb->stop = true;
        pthread_cond_signal(&sb->cv);
        pthread_mutex_unlock(&sb->mu);
        pthread_join(sb->thread, NULL);
    }
    for (unsigned i = 0; i < sb->npool; i++)
        reap_child(&sb->pool[i]);
    stop_zygote(sb);
    for (unsigned i = 0; i < sb->nimages; i++)
        close(sb->images[i].fd);
    pthread_mutex_destroy(&sb->imu);
    pthread_mutex_destroy(&sb->zmu);
    pthread_cond_destroy(&sb->cv);
    pthread_mutex_destroy(&sb->mu);
    free(sb);
}

/* ---- artifacts ---- */

static bool same_file(const nc_image *im, const struct stat *st)
{
    return im->dev == st->st_dev && im->ino == st->st_ino && im->len == (size_t)st->st_size &&
           im->mtime.tv_sec == st->st_mtim.tv_sec && im->mtime.tv_nsec == st->st_mtim.tv_nsec &&
           im->ctime.tv_sec == st->st_ctim.tv_sec && im->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* A sealed memfd holding bytes the caller verified; -1 if the kernel has none. */
static int seal_image(const uint8_t *data, size_t len)
{
    int fd = memfd_create("nightcore-artifact", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (nc_write_all(fd, data, len) != NC_OK ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void image_drop(nc_sandbox *sb, unsigned i)
{
    close(sb->images[i].fd);
    sb->image_bytes -= sb->images[i].len;
    sb->images[i] = sb->images[--sb->nimages];
}

/* Caller holds imu. The image for sha256, or -1. */
static int image_find(nc_sandbox *sb, const uint8_t sha256[NC_SHA256_LEN])
{
    for (unsigned i = 0; i < sb->nimages; i++)
        if (memcmp(sb->images[i].sha256, sha256, NC_SHA256_LEN) == 0)
            return (int)i;
    return -1;
}

/* Caller holds imu. Takes fd; evicts the least recently used images beyond
 * the caps (NC_ARTIFACT_IMAGES, NC_ARTIFACT_IMAGE_BYTES). */
static void image_add(nc_sandbox *sb, const uint8_t sha256[NC_SHA256_LEN], int fd, size_t len,
                      const struct stat *st)
{
    int old = image_find(sb, sha256);
    if (old >= 0)
        image_drop(sb, (unsigned)old);
    while (sb->nimages > 0 &&
           (sb->nimages >= NC_ARTIFACT_IMAGES || sb->image_bytes + len > NC_ARTIFACT_IMAGE_BYTES)) {
        unsigned lru = 0;
        for (unsigned i = 1; i < sb->nimages; i++)
            if (sb->images[i].used < sb->images[lru].used)
                lru = i;
        image_drop(sb, lru);
    }
    nc_image *im = &sb->images[sb->nimages++];
    memcpy(im->sha256, sha256, NC_SHA256_LEN);
    im->fd = fd;
    im->len = len;
    im->dev = st->st_dev;
    im->ino = st->st_ino;
    im->mtime = st->st_mtim;
    im->ctime = st->st_ctim;
    im->used = ++sb->image_clock;
    sb->image_bytes += len;
}

/* A descriptor (the caller closes it) of a sealed memfd holding the
 * artifact's recorded bytes: the cached one while the file is unchanged,
 * else read from the file and verified against the recorded sha256. */
static nc_err image_get(nc_sandbox *sb, const nc_artifact *art, int *fd_out, char *msg, size_t msg_len)
{
    struct stat st, st2;
    *fd_out = -1;
    int ffd = open(art->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (ffd < 0 || fstat(ffd, &st) != 0) {
        snprintf(msg, msg_len, "artifact %s: %s; recompile the module", art->path, strerror(errno));
        if (ffd >= 0)
            close(ffd);
        return NC_ERR_ARTIFACT;
    }
    pthread_mutex_lock(&sb->imu);
    int i = image_find(sb, art->sha256);
    if (i >= 0 && same_file(&sb->images[i], &st)) {
        sb->images[i].used = ++sb->image_clock;
        *fd_out = fcntl(sb->images[i].fd, F_DUPFD_CLOEXEC, 0);
    }
    pthread_mutex_unlock(&sb->imu);
    if (*fd_out >= 0) {
        close(ffd);
        return NC_OK;
    }
    uint8_t *bytes = NULL, digest[NC_SHA256_LEN];
    size_t len = 0;
    nc_err err = nc_read_fd(ffd, NC_MAX_ARTIFACT_BYTES, &bytes, &len);
    /* Unchanged while it was read: its identity describes these bytes. */
    if (err == NC_OK && (fstat(ffd, &st2) != 0 || st2.st_ctim.tv_sec != st.st_ctim.tv_sec ||
                         st2.st_ctim.tv_nsec != st.st_ctim.tv_nsec || (size_t)st.st_size != len))
        err = NC_ERR_ARTIFACT;
    close(ffd);
    if (err == NC_OK)
        err = nc_sha256(bytes, len, digest);
    if (err == NC_OK && memcmp(digest, art->sha256, NC_SHA256_LEN) != 0)
        err = NC_ERR_ARTIFACT;
    if (err != NC_OK) {
        free(bytes);
        snprintf(msg, msg_len, "precompiled artifact does not match its recorded sha256; recompile the module");
        return NC_ERR_ARTIFACT;
    }
    int fd = seal_image(bytes, len);
    free(bytes);
    if (fd < 0) {
        snprintf(msg, msg_len, "cannot hold the artifact in a sealed memfd: %s", strerror(errno));
        return NC_ERR_ARTIFACT;
    }
    pthread_mutex_lock(&sb->imu);
    *fd_out = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    image_add(sb, art->sha256, fd, len, &st);
    pthread_mutex_unlock(&sb->imu);
    return *fd_out >= 0 ? NC_OK : NC_ERR_ARTIFACT;
}

nc_err nc_sandbox_artifact_fd(nc_sandbox *sb, const nc_artifact *art, int *fd, size_t *len, char *msg,
                              size_t msg_len)
{
    *len = 0;
    nc_err err = image_get(sb, art, fd, msg, msg_len);
    struct stat st;
    if (err == NC_OK && (fstat(*fd, &st) != 0 || st.st_size <= 0)) {
        close(*fd);
        *fd = -1;
        snprintf(msg, msg_len, "cannot read the sealed artifact");
        return NC_ERR_ARTIFACT;
    }
    if (err == NC_OK)
        *len = (size_t)st.st_size;
    return err;
}

nc_err nc_artifact_compile(nc_sandbox *sb, const uint8_t *wasm, size_t len, bool fuel,
                           nc_artifact *out, char *msg, size_t msg_len)
{
    return nc_artifact_compile_ex(sb, sb->tier, wasm, len, fuel, NULL, out, NULL, msg, msg_len);
}

nc_err nc_artifact_compile_tier(nc_sandbox *sb, nc_tier tier, const uint8_t *wasm, size_t len, bool fuel,
                                nc_artifact *out, char *msg, size_t msg_len)
{
    return nc_artifact_compile_ex(sb, tier, wasm, len, fuel, NULL, out, NULL, msg, msg_len);
}

nc_err nc_artifact_compile_ex(nc_sandbox *sb, nc_tier tier, const uint8_t *wasm, size_t len, bool fuel,
                              nc_run_cancel *cancel, nc_artifact *out, nc_compile_report *report, char *msg,
                              size_t msg_len)
{
    uint8_t *art = NULL;
    size_t art_len = 0;
    char hex[NC_SHA256_HEX_LEN + 1], fp[65];
    nc_compile_report scratch;
    nc_err err;
    uint64_t t0 = nc_now_ns();

    memset(out, 0, sizeof *out);
    if (!report)
        report = &scratch;
    memset(report, 0, sizeof *report);
    if (msg_len)
        msg[0] = '\0';
    err = nc_sha256(wasm, len, out->module_sha256);
    if (err != NC_OK)
        return err;
    if ((unsigned)tier >= NC_TIER_COUNT) {
        snprintf(msg, msg_len, "no such isolation tier");
        return NC_ERR_USAGE;
    }
    const nc_tier_ops *ops = tier_table[tier];
    err = ops->compile(sb, wasm, len, fuel, cancel, &art, &art_len, report, msg, msg_len);
    if (err != NC_OK)
        goto done;
    err = nc_sha256(art, art_len, out->sha256);
    if (err != NC_OK)
        goto done;
    nc_hex(out->module_sha256, NC_SHA256_LEN, hex);
    ops->fingerprint(fuel, fp);
    if (snprintf(out->path, sizeof out->path, "%s/%s-%.16s.cwasm", sb->cache_dir, hex, fp) >=
        (int)sizeof out->path) {
        err = NC_ERR_TOO_LARGE;
        goto done;
    }
    err = nc_write_file_atomic(out->path, art, art_len, 0600);
    if (err != NC_OK) {
        snprintf(msg, msg_len, "cannot write artifact %s", out->path);
        goto done;
    }
    out->fuel = fuel;
    out->tier = tier;
    /* Hold it sealed for the runs to come (the first one skips reading it back). */
    struct stat st;
    int fd = tier != NC_TIER_INPROCESS && stat(out->path, &st) == 0 ? seal_image(art, art_len) : -1;
    if (fd >= 0) {
        pthread_mutex_lock(&sb->imu);
        image_add(sb, out->sha256, fd, art_len, &st);
        pthread_mutex_unlock(&sb->imu);
    }
    report->artifact_bytes = art_len;
done:
    free(art);
    if (err != NC_OK)
        memset(out, 0, sizeof *out);
    report->t_total_ns = nc_now_ns() - t0;
    return err;
}

/* ---- runs ---- */

static nc_err check_spec(const nc_run_spec *spec, char *msg, size_t msg_len)
{
    if (nc_limits_check(&spec->limits) != NC_OK) {
        snprintf(msg, msg_len, "limits out of range (timeout 1..%u ms, stack 16 KiB..%u, output <= %u)",
                 NC_MAX_TIMEOUT_MS, NC_MAX_STACK_BYTES, NC_MAX_OUTPUT_BYTES);
        return NC_ERR_USAGE;
    }
    if (spec->nargs > NC_MAX_ARGS || spec->nenv > NC_MAX_ENV || spec->ndirs > NC_MAX_DIRS ||
        spec->stdin_len > NC_MAX_STDIN_BYTES) {
        snprintf(msg, msg_len, "too many args, env entries or dirs, or stdin too large");
        return NC_ERR_TOO_LARGE;
    }
    for (size_t i = 0; i < spec->nargs; i++)
        if (strlen(spec->args[i]) > NC_MAX_ARG_BYTES) {
            snprintf(msg, msg_len, "argument %zu longer than %u bytes", i, NC_MAX_ARG_BYTES);
            return NC_ERR_TOO_LARGE;
        }
    for (size_t i = 0; i < spec->nenv; i++) {
        const char *eq = strchr(spec->env[i], '=');
        if (!eq || eq == spec->env[i] || strlen(spec->env[i]) > NC_MAX_ENV_BYTES) {
            snprintf(msg, msg_len, "environment entry %zu is not KEY=VALUE", i);
            return NC_ERR_USAGE;
        }
    }
    for (size_t i = 0; i < spec->ndirs; i++) {
        const nc_dir_grant *d = &spec->dirs[i];
        if (!d->host || d->host[0] != '/' || !d->guest || d->guest[0] != '/' ||
            strlen(d->guest) > NC_MAX_GUEST_PATH) {
            snprintf(msg, msg_len, "directory grant %zu: host and guest paths must be absolute", i);
            return NC_ERR_USAGE;
        }
    }
    return NC_OK;
}

/* Opens a granted directory as the child will see it. No component of the
 * host path may be a symbolic link (a swapped link would redirect the
 * grant), and when the grant names the directory it approved (dev, ino),
 * the directory opened must be that one: a directory replaced since the
 * approval is not what the human saw. */
static nc_err open_dir_grant(const nc_dir_grant *d, int *out, char *msg, size_t msg_len)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    /* RESOLVE_NO_SYMLINKS refuses a link as any component, the last one
     * included (O_NOFOLLOW semantics, but ELOOP rather than opening the
     * link itself as O_PATH|O_NOFOLLOW would). */
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd;
    do {
        fd = syscall(SYS_openat2, AT_FDCWD, d->host, &how, sizeof how);
    } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
    *out = -1;
    if (fd < 0 && errno == ELOOP) {
        snprintf(msg, msg_len,
                 "granted directory %s: the path goes through a symbolic link; grant the "
                 "directory by its real path",
                 d->host);
        return NC_ERR_CAPABILITY_DENIED;
    }
    if (fd < 0) {
        snprintf(msg, msg_len, "granted directory %s: %s", d->host, strerror(errno));
        return NC_ERR_USAGE;
    }
    if (d->dev || d->ino) {
        struct stat st;
        memset(&st, 0, sizeof st);
        if (fstat((int)fd, &st) != 0 || (uint64_t)st.st_dev != d->dev ||
            (uint64_t)st.st_ino != d->ino) {
            snprintf(msg, msg_len,
                     "granted directory %s is not the directory that was approved (device %llu "
                     "inode %llu, approved %llu/%llu): it was replaced or moved since; approve "
                     "it again",
                     d->host, (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                     (unsigned long long)d->dev, (unsigned long long)d->ino);
            close((int)fd);
            return NC_ERR_CAPABILITY_DENIED;
        }
    }
    *out = (int)fd;
    return NC_OK;
}

static nc_err open_dirs(const nc_run_spec *spec, int *fds, char *msg, size_t msg_len)
{
    for (size_t i = 0; i < spec->ndirs; i++) {
        nc_err err = open_dir_grant(&spec->dirs[i], &fds[i], msg, msg_len);
        if (err != NC_OK) {
            for (size_t j = 0; j < i; j++)
                close(fds[j]);
            return err;
        }
    }
    return NC_OK;
}

static void close_fds(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

static nc_err run_inprocess(const nc_artifact *art, const nc_run_spec *spec, const int *dir_fds,
                            const nc_run_hooks *hooks, nc_run_result *res, char *msg, size_t msg_len)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    uint8_t digest[NC_SHA256_LEN];
    nc_err err = nc_read_file(art->path, NC_MAX_ARTIFACT_BYTES, &bytes, &len);
    if (err == NC_OK)
        err = nc_sha256(bytes, len, digest);
    if (err == NC_OK && memcmp(digest, art->sha256, NC_SHA256_LEN) != 0)
        err = NC_ERR_ARTIFACT;
    if (err != NC_OK) {
        snprintf(msg, msg_len, "precompiled artifact missing or not the recorded one; recompile the module");
        free(bytes);
        return NC_ERR_ARTIFACT;
    }
    nc_exec_artifact a = {.bytes = bytes, .len = len, .sealed_fd = -1};
    err = nc_exec_run(&a, art->fuel, spec, dir_fds, NC_TIMER_THREAD, NULL, hooks ? hooks->on_output : NULL,
                      hooks ? hooks->ctx : NULL, res, msg, msg_len);
    free(bytes);
    return err;
}

/* Sends all of iov (advancing it), retrying on EINTR and short writes. */
static nc_err send_all(int sock, struct iovec *iov, int n)
{
    while (n > 0) {
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return NC_ERR_CHILD;
        nc_iov_consume(&iov, &n, (size_t)w);
    }
    return NC_OK;
}

/* The header (with the descriptors), then the body: head, stdin straight
 * from the caller's buffer, tail. */
static nc_err send_spec(const nc_child *c, const nc_buf *head, const nc_run_spec *spec,
                        const nc_buf *tail, const int *fds, uint32_t nfds)
{
    uint8_t hdr[12];
    uint64_t body_len = (uint64_t)head->len + spec->stdin_len + tail->len;
    if (body_len > NC_MAX_SPEC_BYTES)
        return NC_ERR_TOO_LARGE;
    uint32_t v[3] = {NC_WIRE_SPEC_MAGIC, (uint32_t)body_len, nfds};
    for (int i = 0; i < 3; i++) {
        hdr[4 * i] = (uint8_t)(v[i] >> 24);
        hdr[4 * i + 1] = (uint8_t)(v[i] >> 16);
        hdr[4 * i + 2] = (uint8_t)(v[i] >> 8);
        hdr[4 * i + 3] = (uint8_t)v[i];
    }
    union {
        char buf[CMSG_SPACE(sizeof(int) * (1 + NC_MAX_DIRS))];
        struct cmsghdr align;
    } cbuf;
    memset(&cbuf, 0, sizeof cbuf);
    struct iovec iov = {hdr, sizeof hdr};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
                        .msg_controllen = CMSG_SPACE(sizeof(int) * nfds)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
    ssize_t n;
    do {
        n = sendmsg(c->sock, &mh, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof hdr)
        return NC_ERR_CHILD;
    struct iovec body[3] = {{head->data, head->len},
                            {(void *)spec->stdin_data, spec->stdin_data ? spec->stdin_len : 0},
                            {tail->data, tail->len}};
    return send_all(c->sock, body, 3);
}

/* Frames from the child, read through a buffer (output chunks are small and
 * many). Every result of read_frame: */
enum { FRAME_OK = 0, FRAME_TIMEOUT = 1, FRAME_CANCELLED = 2, FRAME_BAD = -1 };

typedef struct {
    int fd, cancel_fd;        /* cancel_fd: -1 for none */
    uint64_t deadline_ns;
    uint8_t buf[128 * 1024];
    size_t start, end;        /* unread bytes: buf[start..end) */
} frame_reader;

/* Waits for the child's socket (or the cancel descriptor) and reads what is
 * there into dst (at most cap bytes). */
static int fill(frame_reader *fr, uint8_t *dst, size_t cap, size_t *got)
{
    for (;;) {
        uint64_t now = nc_now_ns();
        if (now >= fr->deadline_ns)
            return FRAME_TIMEOUT;
        struct pollfd pfd[2] = {{fr->fd, POLLIN, 0}, {fr->cancel_fd, POLLIN, 0}};
        int ms = (int)((fr->deadline_ns - now + 999999) / 1000000);
        int rc = poll(pfd, fr->cancel_fd >= 0 ? 2 : 1, ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return FRAME_BAD;
        if (rc == 0)
            continue;
        if (fr->cancel_fd >= 0 && pfd[1].revents)
            return FRAME_CANCELLED;
        ssize_t n = read(fr->fd, dst, cap);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return FRAME_BAD;
        *got = (size_t)n;
        return FRAME_OK;
    }
}

/* Exactly len bytes into p: first what is buffered, then straight from the
 * socket (a large result is not copied twice). */
static int read_exact_fr(frame_reader *fr, uint8_t *p, size_t len)
{
    size_t have = fr->end - fr->start, take = have < len ? have : len;
    memcpy(p, fr->buf + fr->start, take);
    fr->start += take;
    size_t got = take;
    while (got < len) {
        size_t n = 0;
        if (len - got < sizeof fr->buf) {   /* small: through the buffer, reading ahead */
            fr->start = fr->end = 0;
            int rc = fill(fr, fr->buf, sizeof fr->buf, &n);
            if (rc != FRAME_OK)
                return rc;
            fr->end = n;
            take = n < len - got ? n : len - got;
            memcpy(p + got, fr->buf, take);
            fr->start = take;
            got += take;
        } else {
            int rc = fill(fr, p + got, len - got, &n);
            if (rc != FRAME_OK)
                return rc;
            got += n;
        }
    }
    return FRAME_OK;
}

/* One frame (u32be length, body) of at most cap bytes: the body in *body
 * (pointing into the reader's buffer when it fits there, else into *owned,
 * malloc'd). */
static int read_frame(frame_reader *fr, size_t cap, const uint8_t **body, size_t *len, uint8_t **owned)
{
    uint8_t lenb[4];
    *owned = NULL;
    int rc = read_exact_fr(fr, lenb, 4);
    if (rc != FRAME_OK)
        return rc;
    uint32_t n = (uint32_t)lenb[0] << 24 | (uint32_t)lenb[1] << 16 | (uint32_t)lenb[2] << 8 | lenb[3];
    if (n > cap)
        return FRAME_BAD;
    *len = n;
    if (n <= fr->end - fr->start) {   /* already buffered */
        *body = fr->buf + fr->start;
        fr->start += n;
        return FRAME_OK;
    }
    if (n <= sizeof fr->buf) {   /* move what is buffered to the front, read the rest after it */
        size_t have = fr->end - fr->start;
        memmove(fr->buf, fr->buf + fr->start, have);
        fr->start = 0;
        fr->end = have;
        while (fr->end < n) {
            size_t got = 0;
            rc = fill(fr, fr->buf + fr->end, sizeof fr->buf - fr->end, &got);
            if (rc != FRAME_OK)
                return rc;
            fr->end += got;
        }
        *body = fr->buf;
        fr->start = n;
        return FRAME_OK;
    }
    *owned = malloc(n);
    if (!*owned)
        return FRAME_BAD;
    rc = read_exact_fr(fr, *owned, n);
    if (rc != FRAME_OK) {
        free(*owned);
        *owned = NULL;
        return rc;
    }
    *body = *owned;
    return FRAME_OK;
}

static void describe_death(nc_run_result *res, int status)
{
    res->outcome = NC_OUTCOME_CRASH;
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        res->term_signal = sig;
        snprintf(res->message, sizeof res->message, "sandbox child killed by signal %d (%s)%s", sig,
                 strsignal(sig),
                 sig == SIGSYS ? ": a system call outside the seccomp allowlist"
                 : sig == SIGKILL ? ": killed (resource limit or out of memory)" : "");
    } else if (WIFEXITED(status)) {
        snprintf(res->message, sizeof res->message, "sandbox child exited with status %d before reporting",
                 WEXITSTATUS(status));
    }
}

/* The child killed before it reported: the run is cancelled, with what it
 * streamed so far as its output (exactly the bytes the caller was given). */
static void finish_cancelled(nc_run_result *res, nc_wire_stream *st)
{
    nc_wire_stream_keep(st, res);
    nc_run_set_cancelled(res, "while running: the supervisor killed the sandbox child");
}

static nc_err run_process(nc_sandbox *sb, const nc_artifact *art, const nc_run_spec *spec,
                          const int *dir_fds, const nc_run_hooks *hooks, nc_run_result *res, char *msg,
                          size_t msg_len)
{
    nc_child c = {-1, -1};
    nc_buf head, tail;
    int fds[1 + NC_MAX_DIRS];
    uint8_t *owned = NULL;
    frame_reader *fr = NULL;
    nc_wire_stream st;
    nc_err err = NC_ERR_CHILD;
    uint64_t t0 = nc_now_ns();
    bool streaming = hooks && (hooks->on_output || hooks->cancel);
    uint8_t flags = (uint8_t)((art->fuel ? NC_WIRE_SPEC_FUEL : 0) | (streaming ? NC_WIRE_SPEC_STREAM : 0));

    fds[0] = -1;
    nc_buf_init(&head, NC_MAX_SPEC_BYTES);
    nc_buf_init(&tail, NC_MAX_SPEC_BYTES);
    nc_wire_stream_init(&st, spec->limits.stdout_bytes, spec->limits.stderr_bytes);
    fr = malloc(sizeof *fr);
    if (!fr) {
        err = NC_ERR_NOMEM;
        goto done;
    }
    err = image_get(sb, art, &fds[0], msg, msg_len);
    if (err != NC_OK)
        goto done;
    memcpy(fds + 1, dir_fds, sizeof(int) * spec->ndirs);
    for (int attempt = 0;; attempt++) {
        uint64_t spawn_ns = 0;
        err = take_child(sb, &c, &spawn_ns);
        if (err != NC_OK) {
            snprintf(msg, msg_len, "cannot start sandbox child %s: %s", sb->child_exe, strerror(errno));
            goto done;
        }
        res->t_spawn_ns = spawn_ns;
        nc_buf_reset(&head);
        nc_buf_reset(&tail);
        err = nc_wire_encode_spec_parts(spec, flags, art->sha256, nc_now_ns(), &head, &tail);
        if (err != NC_OK)
            goto done;
        err = send_spec(&c, &head, spec, &tail, fds, (uint32_t)(1 + spec->ndirs));
        if (err == NC_OK)
            break;
        reap_child(&c);   /* a pooled child that died while waiting: try a fresh one */
        if (attempt == 1) {
            snprintf(msg, msg_len, "sandbox child did not accept the run");
            goto done;
        }
    }

    /* Backstop: the child's own deadline should fire first. */
    fr->fd = c.sock;
    fr->cancel_fd = hooks && hooks->cancel ? hooks->cancel->efd : -1;
    fr->deadline_ns = t0 + (uint64_t)(spec->limits.timeout_ms + NC_CHILD_KILL_GRACE_MS + 1000) * 1000000ull;
    fr->start = fr->end = 0;
    size_t cap = (size_t)spec->limits.stdout_bytes + spec->limits.stderr_bytes + 64 * 1024;
    const uint8_t *body = NULL;
    size_t blen = 0;
    int rc;
    /* Output chunks (hostile, checked against the caps), then the result. */
    for (;;) {
        rc = read_frame(fr, cap, &body, &blen, &owned);
        if (rc != FRAME_OK || !streaming || !nc_wire_is_chunk(body, blen))
            break;
        if (nc_wire_stream_forward(&st, body, blen, hooks) != NC_OK) {
            rc = FRAME_BAD;   /* a child that lies about its output: a crash */
            break;
        }
        free(owned);
        owned = NULL;
    }
    if (rc == FRAME_CANCELLED) {
        kill(c.pid, SIGKILL);
        reap_child(&c);
        finish_cancelled(res, &st);
        err = NC_OK;
        goto done;
    }
    if (rc == FRAME_TIMEOUT) {   /* hung: kill it, report the timeout */
        kill(c.pid, SIGKILL);
        reap_child(&c);
        res->outcome = NC_OUTCOME_TIMEOUT;
        res->limits_hit |= NC_LIMIT(NC_LIMIT_TIMEOUT);
        res->term_signal = SIGKILL;
        nc_wire_stream_keep(&st, res);
        snprintf(res->message, sizeof res->message,
                 "no result within %u ms; the supervisor killed the sandbox child",
                 spec->limits.timeout_ms + NC_CHILD_KILL_GRACE_MS + 1000);
        err = NC_OK;
        goto done;
    }
    if (rc != FRAME_OK) {    /* died, or sent garbage */
        int status = 0;
        close(c.sock);
        c.sock = -1;
        while (waitpid(c.pid, &status, 0) < 0 && errno == EINTR)
            ;
        c.pid = -1;
        describe_death(res, status);
        nc_wire_stream_keep(&st, res);
        err = NC_OK;
        goto done;
    }
    nc_err status = NC_ERR_CHILD;
    size_t out_from, err_from;
    err = nc_wire_stream_result(&st, streaming, body, blen, spec->limits.stdout_bytes, spec->limits.stderr_bytes,
                                &status, res, &out_from, &err_from);
    retire_child(sb, &c);
    if (err != NC_OK) {
        res->outcome = NC_OUTCOME_CRASH;
        nc_wire_stream_keep(&st, res);
        snprintf(res->message, sizeof res->message, "sandbox child sent a malformed result");
        err = NC_OK;
        goto done;
    }
    if (status != NC_OK) {
        snprintf(msg, msg_len, "%s", res->message[0] ? res->message : nc_strerror(status));
        err = status;
        goto done;
    }
    /* What the child never streamed (a deadline report is written from the
     * signal handler with no chunks). */
    nc_wire_stream_rest(hooks, res, out_from, err_from);
    err = NC_OK;
done:
    if (c.pid > 0 || c.sock >= 0)
        reap_child(&c);
    if (sb->pool_thread_started) {   /* refill the pool now that the run is over */
        pthread_mutex_lock(&sb->mu);
        pthread_cond_signal(&sb->cv);
        pthread_mutex_unlock(&sb->mu);
    }
    if (fds[0] >= 0)
        close(fds[0]);
    free(owned);
    free(fr);
    nc_wire_stream_cleanup(&st);
    nc_buf_cleanup(&head);
    nc_buf_cleanup(&tail);
    res->t_total_ns = nc_now_ns() - t0;
    return err;
}

nc_err nc_sandbox_run(nc_sandbox *sb, const nc_artifact *art, const nc_run_spec *spec,
                      nc_run_result *out, char *msg, size_t msg_len)
{
    return nc_sandbox_run_ex(sb, art, spec, NULL, out, msg, msg_len);
}

nc_err nc_sandbox_run_ex(nc_sandbox *sb, const nc_artifact *art, const nc_run_spec *spec,
                         const nc_run_hooks *hooks, nc_run_result *out, char *msg, size_t msg_len)
{
    int dir_fds[NC_MAX_DIRS];
    memset(out, 0, sizeof *out);
    if (msg_len)
        msg[0] = '\0';
    nc_err err = check_spec(spec, msg, msg_len);
    if (err != NC_OK)
        return err;
    if (hooks && nc_run_cancel_fired(hooks->cancel)) {
        nc_run_set_cancelled(out, "before it started");
        return NC_OK;
    }
    /* The artifact's tier: an in-process sandbox runs the process tier's
     * artifacts (the same flavour) in its own process. */
    nc_tier tier = art->tier == NC_TIER_PROCESS && sb->tier == NC_TIER_INPROCESS ? NC_TIER_INPROCESS : art->tier;
    err = nc_sandbox_tier_check(sb, tier, spec->ndirs, msg, msg_len);
    if (err != NC_OK)
        return err;
    err = open_dirs(spec, dir_fds, msg, msg_len);
    if (err != NC_OK)
        return err;
    err = tier_table[tier]->run(sb, sb->tier_state[tier], art, spec, dir_fds, hooks, out, msg, msg_len);
    close_fds(dir_fds, spec->ndirs);
    out->isolation.tier = tier;
    if (err != NC_OK) {
        nc_run_result_cleanup(out);
        if (msg_len && !msg[0])
            snprintf(msg, msg_len, "%s", nc_strerror(err));
    }
    return err;
}

nc_err nc_sandbox_tier_check(nc_sandbox *sb, nc_tier tier, size_t ndirs, char *msg, size_t msg_len)
{
    if ((unsigned)tier >= NC_TIER_COUNT) {
        snprintf(msg, msg_len, "no such isolation tier");
        return NC_ERR_USAGE;
    }
    if (!sb->tier_ready[tier]) {
        snprintf(msg, msg_len, "the %s isolation tier is not available on this host: %s; the run is refused rather "
                 "than run in a weaker tier", nc_tier_name(tier), sb->tier_error[tier]);
        return NC_ERR_TIER_UNAVAILABLE;
    }
    return tier_table[tier]->check(sb->tier_state[tier], ndirs, msg, msg_len);
}

size_t nc_sandbox_tiers(nc_sandbox *sb, nc_tier_status *out, size_t max)
{
    static const nc_tier listed[] = {NC_TIER_PROCESS, NC_TIER_VM};
    size_t n = 0;
    for (size_t i = 0; i < sizeof listed / sizeof listed[0] && n < max; i++) {
        nc_tier t = listed[i];
        if (t == NC_TIER_PROCESS && sb->tier == NC_TIER_INPROCESS)
            t = NC_TIER_INPROCESS;
        nc_tier_status *st = &out[n++];
        memset(st, 0, sizeof *st);
        st->tier = t;
        if (sb->tier_ready[t])
            tier_table[t]->report(sb->tier_state[t], st);
        else
            snprintf(st->note, sizeof st->note, "%s", sb->tier_error[t]);
    }
    return n;
}

static nc_err process_run(nc_sandbox *sb, void *state, const nc_artifact *art, const nc_run_spec *spec,
                          const int *dir_fds, const nc_run_hooks *hooks, nc_run_result *res, char *msg,
                          size_t msg_len)
{
    (void)state;
    return run_process(sb, art, spec, dir_fds, hooks, res, msg, msg_len);
}

static nc_err inprocess_run(nc_sandbox *sb, void *state, const nc_artifact *art, const nc_run_spec *spec,
                            const int *dir_fds, const nc_run_hooks *hooks, nc_run_result *res, char *msg,
                            size_t msg_len)
{
    (void)sb;
    (void)state;
    return run_inprocess(art, spec, dir_fds, hooks, res, msg, msg_len);
}

/* The process tier never compiles in this process: a compile child does
 * (compile.c), for the host's CPU. */
static nc_err process_compile(nc_sandbox *sb, const uint8_t *wasm, size_t len, bool fuel, nc_run_cancel *cancel,
                              uint8_t **artifact, size_t *artifact_len, nc_compile_report *report, char *msg,
                              size_t msg_len)
{
    return nc_compile_in_child(sb->child_exe, sb->compile_timeout_ms, wasm, len, fuel, NC_COMPILE_TARGET_HOST,
                               cancel, artifact, artifact_len, report, msg, msg_len);
}

static nc_err inprocess_compile(nc_sandbox *sb, const uint8_t *wasm, size_t len, bool fuel, nc_run_cancel *cancel,
                                uint8_t **artifact, size_t *artifact_len, nc_compile_report *report, char *msg,
                                size_t msg_len)
{
    (void)sb;
    (void)cancel;
    (void)report;
    return nc_exec_compile(wasm, len, fuel, NC_COMPILE_TARGET_HOST, artifact, artifact_len, msg, msg_len);
}

/* The vm tier's artifacts: compiled in a compile child too, for the guests'
 * CPU level (vm_compile.c). */
nc_err nc_sandbox_compile_for_vm(nc_sandbox *sb, const uint8_t *wasm, size_t len, bool fuel, nc_run_cancel *cancel,
                                 uint8_t **artifact, size_t *artifact_len, nc_compile_report *report, char *msg,
                                 size_t msg_len)
{
    return nc_compile_in_child(sb->child_exe, sb->compile_timeout_ms, wasm, len, fuel, NC_COMPILE_TARGET_VM, cancel,
                               artifact, artifact_len, report, msg, msg_len);
}

const nc_tier_ops nc_tier_process_ops = {
    .id = NC_TIER_PROCESS,
    .prepare = process_prepare,
    .compile = process_compile,
    .fingerprint = nc_engine_fingerprint,
    .check = process_check,
    .run = process_run,
    .report = process_report,
    .shutdown = process_shutdown,
};

const nc_tier_ops nc_tier_inprocess_ops = {
    .id = NC_TIER_INPROCESS,
    .prepare = inprocess_prepare,
    .compile = inprocess_compile,
    .fingerprint = nc_engine_fingerprint,
    .check = process_check,
    .run = inprocess_run,
    .report = inprocess_report,
    .shutdown = process_shutdown,
};
