/* nightcore worker start|stop|status. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli/cli.h"
#include "common/fs.h"

#define START_TIMEOUT_MS 15000
#define STOP_TIMEOUT_MS 10000
#define POLL_MS 100
#define HELLO_TIMEOUT_MS 2000
#define LOG_TAIL_BYTES 4096
#define LOG_TAIL_LINES 20
#define WORKER_PROGRAM "nightcore-worker"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static bool executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* nightcore-worker next to this program (/proc/self/exe), else in $PATH. */
static bool find_worker(char *out, size_t n)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            int w = snprintf(out, n, "%s/%s", self, WORKER_PROGRAM);
            if (w > 0 && (size_t)w < n && executable(out))
                return true;
        }
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t dlen = colon ? (size_t)(colon - path) : strlen(path);
        if (dlen > 0 && path[0] == '/') {   /* relative PATH entries are ignored */
            int w = snprintf(out, n, "%.*s/%s", (int)dlen, path, WORKER_PROGRAM);
            if (w > 0 && (size_t)w < n && executable(out))
                return true;
        }
        path = colon ? colon + 1 : NULL;
    }
    return false;
}

/* One connection attempt: hello within HELLO_TIMEOUT_MS. */
static nc_err try_hello(cli_ctx *ctx, json_t **hello)
{
    char msg[512];
    nc_rpc *rpc = NULL;
    nc_rpc_error rerr;
    *hello = NULL;
    nc_err err = cli_rpc_open(ctx, &rpc, msg, sizeof msg);
    if (err != NC_OK)
        return err;
    nc_rpc_set_timeout(rpc, HELLO_TIMEOUT_MS);
    err = nc_rpc_call(rpc, "hello", NULL, hello, &rerr);
    nc_rpc_free(rpc);
    return err;
}

/* Prints what the worker logged since offset (its last lines). */
static void print_log_tail(const char *log_path, off_t since)
{
    int fd = open(log_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return;
    }
    off_t start = since;
    if (st.st_size - start > LOG_TAIL_BYTES)
        start = st.st_size - LOG_TAIL_BYTES;
    if (start < 0)
        start = 0;
    char buf[LOG_TAIL_BYTES + 1];
    ssize_t n = pread(fd, buf, LOG_TAIL_BYTES, start);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    /* Keep the last LOG_TAIL_LINES lines. */
    size_t len = (size_t)n, lines = 0, from = 0;
    for (size_t i = len; i > 0; i--) {
        if (buf[i - 1] == '\n' && i != len && ++lines >= LOG_TAIL_LINES) {
            from = i;
            break;
        }
    }
    char *safe = cli_safe_ex(buf + from, len - from, true);
    char *lp = cli_safe(log_path);
    fprintf(stderr, "--- last lines of %s ---\n%s%s--- end of log ---\n", lp, safe,
            len && buf[len - 1] != '\n' ? "\n" : "");
    free(safe);
    free(lp);
}

int cmd_worker_start(cli_ctx *ctx, const cli_args *a)
{
    const bool dev = cli_has(a, WORKER_START_DEV);
    char key[PATH_MAX], logdir[PATH_MAX], log_path[PATH_MAX], worker[PATH_MAX];
    json_t *hello = NULL;
    int log_fd = -1, null_fd = -1, rc;

    rc = cli_home(ctx);
    if (rc == CLI_OK && ctx->home.service) {
        cli_error("this is the service deployment (%s): its worker runs as %s; start it with `sudo systemctl start "
                  "nightcore-worker` or `sudo nightcore system start`", NC_SYSTEM_CONFIG, ctx->home.worker_user);
        return CLI_FAIL;
    }
    if (rc == CLI_OK)
        rc = cli_home_path(ctx, NC_HOME_WORKER_KEY, key, sizeof key);
    if (rc == CLI_OK)
        rc = cli_home_path(ctx, "logs", logdir, sizeof logdir);
    if (rc == CLI_OK)
        rc = cli_home_path(ctx, NC_HOME_LOG, log_path, sizeof log_path);
    if (rc != CLI_OK)
        return rc;
    char *home_s = cli_safe(ctx->home.root);
    if (access(key, F_OK) != 0) {
        cli_error("%s is not initialised (no %s): run `nightcore init` first", home_s, NC_HOME_WORKER_KEY);
        rc = CLI_FAIL;
        goto done;
    }
    nc_err err = try_hello(ctx, &hello);
    if (err == NC_OK) {
        json_t *status = NULL;
        nc_rpc *rpc = NULL;
        char msg[512];
        nc_rpc_error rerr;
        int64_t pid = -1;
        if (cli_rpc_open(ctx, &rpc, msg, sizeof msg) == NC_OK) {
            nc_rpc_set_timeout(rpc, HELLO_TIMEOUT_MS);
            if (nc_rpc_call(rpc, "status", NULL, &status, &rerr) == NC_OK)
                pid = cli_jint(status, "pid", -1);
        }
        nc_rpc_free(rpc);
        json_decref(status);
        if (pid > 0)
            printf("worker already running (pid %lld) for %s\n", (long long)pid, home_s);
        else
            printf("worker already running for %s\n", home_s);
        rc = CLI_OK;
        goto done;
    }
    if (err == NC_ERR_TOO_LARGE) {
        cli_error("%s/run/%s is too long for a Unix socket path: use a shorter home", home_s, NC_CONTROL_SOCK);
        rc = CLI_FAIL;
        goto done;
    }
    if (err == NC_ERR_UNAUTHORIZED) {
        char msg[512];
        nc_rpc *probe = NULL;
        if (cli_rpc_open(ctx, &probe, msg, sizeof msg) != NC_OK) {
            char *m = cli_safe(msg);
            cli_error("%s", m);
            free(m);
        }
        nc_rpc_free(probe);
        rc = CLI_REFUSED;
        goto done;
    }
    if (err != NC_ERR_NOT_FOUND) {
        cli_error("run/control.sock exists but the worker does not answer hello (%s); "
                  "if no worker is running, remove %s/run/%s and try again",
                  nc_strerror(err), home_s, NC_CONTROL_SOCK);
        rc = CLI_FAIL;
        goto done;
    }
    if (!find_worker(worker, sizeof worker)) {
        cli_error("cannot find %s next to this program or in PATH: build it (`make`) or add it to PATH",
                  WORKER_PROGRAM);
        rc = CLI_FAIL;
        goto done;
    }
    if (nc_mkdir_p(logdir, 0700) != NC_OK ||
        (log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600)) < 0 ||
        (null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        int e = errno;
        char *lp = cli_safe(log_path);
        cli_error("cannot open %s: %s", lp, strerror(e));
        free(lp);
        rc = CLI_FAIL;
        goto done;
    }
    off_t log_start = lseek(log_fd, 0, SEEK_END);
    if (log_start < 0)
        log_start = 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        cli_error("fork: %s", strerror(errno));
        rc = CLI_FAIL;
        goto done;
    }
    if (pid == 0) {
        /* The daemon: its own session (no controlling terminal), stdin from
         * /dev/null, output appended to the log, no inherited descriptors. */
        char *argv[] = {worker, (char *)"serve", (char *)"--home", ctx->home.root, dev ? (char *)"--insecure-dev" : NULL,
                        NULL};
        if (setsid() < 0 || dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
            _exit(127);
        close_range(3, ~0u, 0);
        execv(worker, argv);
        dprintf(2, "nightcore: cannot execute %s: %s\n", worker, strerror(errno));
        _exit(127);
    }
    close(log_fd);
    close(null_fd);
    log_fd = null_fd = -1;

    int64_t deadline = mono_ms() + START_TIMEOUT_MS;
    for (;;) {
        int status;
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            if (WIFEXITED(status))
                cli_error("the worker exited during startup (exit code %d)", WEXITSTATUS(status));
            else
                cli_error("the worker died during startup (signal %d)", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
            print_log_tail(log_path, log_start);
            rc = CLI_FAIL;
            goto done;
        }
        json_decref(hello);
        hello = NULL;
        if (try_hello(ctx, &hello) == NC_OK) {
            const char *wid = cli_jstr(hello, "worker_id");
            char *ws = cli_safe(wid ? wid : "?"), *lp = cli_safe(log_path);
            printf("worker started (pid %d, id %s)\n  home %s\n  log  %s\n", (int)pid, ws, home_s, lp);
            if (dev)
                printf("  DEVELOPMENT MODE: the console may sign with keys that have no passphrase\n");
            if (cli_jint(hello, "protocol", 1) != 1)
                cli_note("warning: the worker speaks protocol %lld; this nightcore speaks 1",
                         (long long)cli_jint(hello, "protocol", 0));
            free(ws);
            free(lp);
            rc = CLI_OK;
            goto done;
        }
        if (mono_ms() >= deadline)
            break;
        sleep_ms(POLL_MS);
    }
    /* Never leave a half-started daemon behind. */
    kill(pid, SIGTERM);
    cli_error("the worker did not answer on run/control.sock within %d s; stopped it (pid %d)",
              START_TIMEOUT_MS / 1000, (int)pid);
    print_log_tail(log_path, log_start);
    rc = CLI_FAIL;
done:
    if (log_fd >= 0)
        close(log_fd);
    if (null_fd >= 0)
        close(null_fd);
    json_decref(hello);
    free(home_s);
    return rc;
}

/* Has pid exited? A zombie (exited, not yet reaped by its parent) counts. */
static bool process_gone(pid_t pid)
{
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return true;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static int64_t read_pidfile(cli_ctx *ctx)
{
    char path[PATH_MAX];
    uint8_t *data = NULL;
    size_t len = 0;
    uint64_t pid = 0;
    if (cli_home_path(ctx, NC_HOME_PIDFILE, path, sizeof path) != CLI_OK ||
        nc_read_file(path, 32, &data, &len) != NC_OK)
        return -1;
    char text[33];
    memcpy(text, data, len);
    text[len] = '\0';
    free(data);
    text[strcspn(text, "\n")] = '\0';
    if (!cli_parse_u64(text, 1, INT32_MAX, &pid))
        return -1;
    return (int64_t)pid;
}

int cmd_worker_stop(cli_ctx *ctx, const cli_args *a)
{
    (void)a;
    char msg[512];
    nc_rpc *rpc = NULL;
    json_t *res = NULL;
    int64_t pid = -1;
    int rc = cli_home(ctx);
    if (rc != CLI_OK)
        return rc;
    nc_err err = cli_rpc_open(ctx, &rpc, msg, sizeof msg);
    if (err == NC_ERR_NOT_FOUND) {
        printf("worker not running\n");
        return CLI_OK;
    }
    if (err != NC_OK) {
        char *m = cli_safe(msg);
        cli_error("%s", m);
        free(m);
        return CLI_FAIL;
    }
    nc_rpc_set_timeout(rpc, HELLO_TIMEOUT_MS);
    nc_rpc_error rerr;
    if (nc_rpc_call(rpc, "status", NULL, &res, &rerr) == NC_OK)
        pid = cli_jint(res, "pid", -1);
    json_decref(res);
    res = NULL;
    if (pid <= 0)
        pid = read_pidfile(ctx);
    nc_rpc_free(rpc);
    rpc = NULL;
    /* shutdown on a fresh connection: the status call may have timed out. */
    rc = cli_connect(ctx, &rpc);
    if (rc != CLI_OK)
        return rc;
    nc_rpc_set_timeout(rpc, STOP_TIMEOUT_MS);
    rc = cli_call(ctx, rpc, "shutdown", NULL, &res);
    json_decref(res);
    nc_rpc_free(rpc);
    if (rc != CLI_OK)
        return rc;
    int64_t deadline = mono_ms() + STOP_TIMEOUT_MS;
    for (;;) {
        bool gone;
        if (pid > 0 && !ctx->home.service) {
            gone = process_gone((pid_t)pid);
        } else {
            nc_rpc *probe = NULL;
            gone = cli_rpc_open(ctx, &probe, msg, sizeof msg) == NC_ERR_NOT_FOUND;
            nc_rpc_free(probe);
        }
        if (gone) {
            if (pid > 0)
                printf("worker stopped (pid %lld)\n", (long long)pid);
            else
                printf("worker stopped\n");
            return CLI_OK;
        }
        if (mono_ms() >= deadline)
            break;
        sleep_ms(POLL_MS);
    }
    cli_error("the worker (pid %lld) has not exited %d s after shutdown; see logs/worker.log", (long long)pid,
              STOP_TIMEOUT_MS / 1000);
    return CLI_FAIL;
}

static const char *yes_no(const json_t *v)
{
    return json_is_true(v) ? "yes" : json_is_false(v) ? "no" : NULL;
}

/* Each isolation tier: available or why not, its accelerator (vm), its pool. */
static void print_tiers(const json_t *tiers)
{
    size_t i;
    const json_t *t;
    json_array_foreach((json_t *)tiers, i, t) {
        char *name = cli_safe(cli_jstr(t, "tier")), *note = cli_safe(cli_jstr(t, "note"));
        const char *accel = cli_jstr(t, "accel");
        printf("%s %-7s %s", i == 0 ? "tiers     " : "          ", name,
               json_is_true(json_object_get(t, "available")) ? "available" : "NOT AVAILABLE");
        if (accel && strcmp(accel, "none") != 0)
            printf(", accelerator %s", accel);
        if (cli_jint(t, "pool_size", 0) > 0) {
            printf(", pool %lld of %lld ready", (long long)cli_jint(t, "pool_ready", 0),
                   (long long)cli_jint(t, "pool_size", 0));
            if (cli_jint(t, "pool_memory_mib", 0) > 0)
                printf(" (%lld MiB each)", (long long)cli_jint(t, "pool_memory_mib", 0));
        }
        if (note[0])
            printf(": %s", note);
        printf("\n");
        free(name);
        free(note);
    }
}

int cmd_worker_status(cli_ctx *ctx, const cli_args *a)
{
    (void)a;
    json_t *st = NULL;
    int rc = cli_request(ctx, "status", NULL, &st);
    if (rc != CLI_OK)
        return rc;
    if (ctx->json) {
        cli_print_json(st);
        json_decref(st);
        return CLI_OK;
    }
    char up[32];
    cli_fmt_span((uint64_t)(cli_jint(st, "uptime_s", 0) > 0 ? cli_jint(st, "uptime_s", 0) : 0), up, sizeof up);
    char *wid = cli_safe(cli_jstr(st, "worker_id")), *ver = cli_safe(cli_jstr(st, "version")),
         *home = cli_safe(cli_jstr(st, "home"));
    printf("worker     %s (pid %lld), version %s, up %s\n", wid, (long long)cli_jint(st, "pid", -1), ver, up);
    if (home[0])
        printf("home       %s\n", home);
    const json_t *q = json_object_get(st, "queue");
    if (json_is_object(q))
        printf("queue      %lld running, %lld queued (at most %lld running, %lld queued)\n",
               (long long)cli_jint(q, "running", 0), (long long)cli_jint(q, "queued", 0),
               (long long)cli_jint(q, "limit", 0), (long long)cli_jint(q, "queue_limit", 0));
    const json_t *iso = json_object_get(st, "isolation");
    if (json_is_object(iso)) {
        printf("isolation ");
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)iso, k, v) {
            char *ks = cli_safe(k);
            const char *yn = yes_no(v);
            if (yn)
                printf(" %s %s", ks, yn);
            else if (json_is_integer(v))
                printf(" %s %lld", ks, (long long)json_integer_value(v));
            else {
                char *vs = cli_json_compact(v);
                printf(" %s %s", ks, vs);
                free(vs);
            }
            free(ks);
        }
        printf("\n");
    }
    print_tiers(json_object_get(st, "tiers"));
    const json_t *c = json_object_get(st, "counts");
    if (json_is_object(c))
        printf("counts     %lld pending, %lld approvals, %lld runs\n", (long long)cli_jint(c, "pending", 0),
               (long long)cli_jint(c, "approvals", 0), (long long)cli_jint(c, "runs", 0));
    if (json_object_get(st, "trust_version"))
        printf("trust      version %lld\n", (long long)cli_jint(st, "trust_version", 0));
    cli_print_trust_summary(json_object_get(st, "trust"));
    const json_t *dep = json_object_get(st, "deployment");
    if (json_is_object(dep)) {
        char *note = cli_safe(cli_jstr(dep, "note"));
        printf("deployment %s\n", note);
        free(note);
    }
    if (cli_jbool(st, "dev_mode"))
        printf("%sDEVELOPMENT MODE (--insecure-dev): the console may sign with keys that have no passphrase%s\n",
               isatty(STDOUT_FILENO) ? "\033[1;31m" : "", isatty(STDOUT_FILENO) ? "\033[0m" : "");
    free(wid);
    free(ver);
    free(home);
    json_decref(st);
    return CLI_OK;
}
