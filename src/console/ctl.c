/* The console's own control socket (docs/console.md "Links"): a Unix socket,
 * mode 0600, where a process of the console's own user (SO_PEERCRED: any
 * other uid is closed on at once) asks for a new one-time link. Links are
 * never written to a file or a log: they go to whoever asks here, and
 * `nightcore-console link` prints them on its own stdout.
 *
 * The protocol is docs/protocol.md's framing, one request per connection:
 *   -> {"id": N, "op": "link"}\n
 *   <- {"id": N, "ok": true, "result": {"url": "http://127.0.0.1:PORT/?token=...", "expires_in_s": S}}\n
 * A line longer than CON_CTL_MAX_LINE, one that does not come within
 * CON_CTL_TIMEOUT_MS, bad JSON, other keys or another op get an error (or,
 * for the first two, nothing) and the connection is closed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "common/fs.h"
#include "common/json.h"
#include "common/rpc.h"
#include "console/console.h"

#define CTL_URL_MAX 128
#define CTL_ANSWER_MAX 512

static int g_listen = -1;
static int g_wake[2] = {-1, -1};
static pthread_t g_thread;
static bool g_started;
static const con_ctx *g_ctx;

/* dir exists (made 0700 if missing), is a directory of ours, private. */
static bool private_dir(const char *dir, bool create, char *msg, size_t msg_len)
{
    struct stat st;
    if (create && nc_mkdir_p(dir, 0700) != NC_OK) {
        snprintf(msg, msg_len, "cannot create %.300s: %s", dir, strerror(errno));
        return false;
    }
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(msg, msg_len, "%.300s is not a directory", dir);
        return false;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        snprintf(msg, msg_len, "%.300s must be yours and private (mode 0700)", dir);
        return false;
    }
    return true;
}

nc_err con_ctl_path(const nc_home *h, char *out, size_t out_len, char *msg, size_t msg_len)
{
    char dir[PATH_MAX];
    const char *name = CON_CTL_SOCK;
    out[0] = '\0';
    if (!h->service) {
        /* the home is the operator's: beside the worker's sockets */
        if ((size_t)snprintf(dir, sizeof dir, "%s", h->run_dir) >= sizeof dir)
            return NC_ERR_TOO_LARGE;
    } else {
        /* the worker's run directory is not the operator's: the operator's own space */
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        char why[256];
        if (xdg && xdg[0] == '/' && (size_t)snprintf(dir, sizeof dir, "%s", xdg) < sizeof dir &&
            private_dir(dir, false, why, sizeof why)) {
            name = CON_CTL_SERVICE_SOCK;
        } else {
            const char *slash = strrchr(h->config, '/');
            if (!slash || slash == h->config || (size_t)(slash - h->config) >= sizeof dir)
                return NC_ERR_TOO_LARGE;
            memcpy(dir, h->config, (size_t)(slash - h->config));
            dir[slash - h->config] = '\0';
        }
    }
    int n = snprintf(out, out_len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= out_len || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(msg, msg_len, "the console's socket path %.300s/%s is too long for a Unix socket", dir, name);
        out[0] = '\0';
        return NC_ERR_TOO_LARGE;
    }
    return NC_OK;
}

/* Something listening at path already? (Then another console serves it.) */
static bool someone_listens(const char *path)
{
    nc_rpc *rpc = NULL;
    char msg[64];
    if (nc_rpc_connect(path, &rpc, msg, sizeof msg) != NC_OK)
        return false;
    nc_rpc_free(rpc);
    return true;
}

nc_err con_ctl_listen(con_ctx *c, char *msg, size_t msg_len)
{
    struct sockaddr_un addr;
    char dir[PATH_MAX];
    nc_err err = con_ctl_path(&c->home, c->ctl_sock, sizeof c->ctl_sock, msg, msg_len);
    if (err != NC_OK)
        return err;
    const char *slash = strrchr(c->ctl_sock, '/');
    memcpy(dir, c->ctl_sock, (size_t)(slash - c->ctl_sock));
    dir[slash - c->ctl_sock] = '\0';
    if (!private_dir(dir, true, msg, msg_len)) {
        /* a single-user home's run/ may be 0755: only ours matters there */
        struct stat st;
        if (c->home.service || lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
            (st.st_mode & 022) != 0)
            return NC_ERR_UNAUTHORIZED;
        msg[0] = '\0';
    }
    struct stat st;
    if (lstat(c->ctl_sock, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(msg, msg_len, "%.300s exists and is not a socket: remove it", c->ctl_sock);
            return NC_ERR_IO;
        }
        if (someone_listens(c->ctl_sock)) {
            snprintf(msg, msg_len, "a console already runs for this home (%.300s answers): run `nightcore-console "
                     "link` for a link to it, or stop it first", c->ctl_sock);
            return NC_ERR_BUSY;
        }
        unlink(c->ctl_sock);   /* left by a console that died */
    }
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, c->ctl_sock, strlen(c->ctl_sock) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (const struct sockaddr *)&addr, sizeof addr) != 0 ||
        /* not connectable before listen(): the mode is right before anyone can try */
        chmod(c->ctl_sock, 0600) != 0 || listen(fd, 16) != 0) {
        snprintf(msg, msg_len, "cannot listen on %.300s: %s", c->ctl_sock, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NC_ERR_IO;
    }
    if (pipe2(g_wake, O_CLOEXEC) != 0) {
        snprintf(msg, msg_len, "pipe: %s", strerror(errno));
        close(fd);
        return NC_ERR_IO;
    }
    g_listen = fd;
    return NC_OK;
}

nc_err con_link_url(const con_ctx *c, char *out, size_t out_len)
{
    char token[CON_HEX_TOKEN_LEN + 1];
    nc_err err = con_token_mint(token);
    if (err == NC_OK && (size_t)snprintf(out, out_len, "http://%s/?token=%s", c->host_ip, token) >= out_len)
        err = NC_ERR_TOO_LARGE;
    sodium_memzero(token, sizeof token);
    return err;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line (without its newline) within the deadline, at most
 * CON_CTL_MAX_LINE bytes. false: too long, too slow, or closed first. */
static bool read_line(int fd, char *buf, size_t cap, size_t *len)
{
    int64_t deadline = mono_ms() + CON_CTL_TIMEOUT_MS;
    *len = 0;
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return false;
        ssize_t r = recv(fd, buf + *len, cap - *len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        char *nl = memchr(buf + *len, '\n', (size_t)r);
        *len += (size_t)r;
        if (nl) {
            if (buf + *len != nl + 1)
                return false;   /* one request per connection: nothing after it */
            *len = (size_t)(nl - buf);
            return true;
        }
        if (*len >= cap)
            return false;
    }
}

static void send_error(int fd, json_int_t id, bool have_id, const char *code, const char *message)
{
    json_t *o = json_pack("{s:o, s:b, s:{s:s, s:s}}", "id", have_id ? json_integer(id) : json_null(), "ok", 0,
                          "error", "code", code, "message", message);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    /* A peer that does not read its answer gets none: nothing else to do. */
    if (text && nc_write_all(fd, text, strlen(text)) == NC_OK && nc_write_all(fd, "\n", 1) != NC_OK)
        fprintf(stderr, "nightcore-console: a control client left before its answer\n");
    free(text);
}

const char *con_ctl_parse_request(const char *line, size_t len, uint64_t *id, bool *have_id)
{
    static const char *const keys[] = {"id", "op", NULL};
    json_t *o = NULL;
    const char *bad = NULL;
    char msg[256];
    *id = 0;
    *have_id = false;
    if (len > CON_CTL_MAX_LINE || nc_json_parse_strict(line, len, &o, msg, sizeof msg) != NC_OK ||
        !json_is_object(o)) {
        json_decref(o);
        return "a request is one JSON object on one line";
    }
    const json_t *opj = json_object_get(o, "op");
    uint64_t v = 0;
    bool shape_ok = nc_json_only_keys(o, keys, msg, sizeof msg) == NC_OK &&
                    nc_json_uint(json_object_get(o, "id"), INT32_MAX, &v) == NC_OK && json_is_string(opj);
    if (!shape_ok) {
        bad = "want {\"id\": N, \"op\": \"link\"}";
    } else {
        *id = v;
        *have_id = true;
        if (strcmp(json_string_value(opj), "link") != 0 || json_string_length(opj) != 4)
            bad = "unknown op (the console knows \"link\")";
    }
    json_decref(o);
    return bad;
}

/* Parses one request and answers it. */
static void serve_request(int fd, const char *line, size_t len)
{
    uint64_t id = 0;
    bool have_id = false;
    const char *bad = con_ctl_parse_request(line, len, &id, &have_id);
    if (bad) {
        send_error(fd, (json_int_t)id, have_id, "invalid_request", bad);
        return;
    }
    /* The answer holds a live token: built and kept in sodium memory. */
    char *url = sodium_malloc(CTL_URL_MAX), *answer = sodium_malloc(CTL_ANSWER_MAX);
    if (url && answer && con_link_url(g_ctx, url, CTL_URL_MAX) == NC_OK) {
        int n = snprintf(answer, CTL_ANSWER_MAX,
                         "{\"id\":%llu,\"ok\":true,\"result\":{\"url\":\"%s\",\"expires_in_s\":%u}}\n",
                         (unsigned long long)id, url, con_token_ttl());
        if (n > 0 && (size_t)n < CTL_ANSWER_MAX && nc_write_all(fd, answer, (size_t)n) == NC_OK)
            fprintf(stderr, "nightcore-console: made a one-time link (valid %u s)\n", con_token_ttl());
    } else {
        send_error(fd, (json_int_t)id, true, "internal", "cannot make a link");
    }
    if (url)
        sodium_free(url);
    if (answer)
        sodium_free(answer);
}

static void serve_client(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != geteuid()) {
        fprintf(stderr, "nightcore-console: refused a control connection from uid %u\n",
                len == sizeof cred ? (unsigned)cred.uid : 0u);
        return;
    }
    char buf[CON_CTL_MAX_LINE];
    size_t n = 0;
    if (!read_line(fd, buf, sizeof buf, &n)) {
        send_error(fd, 0, false, "invalid_request",
                   "send one line of at most 1024 bytes within 2 s, then nothing");
        return;
    }
    serve_request(fd, buf, n);
}

static void *ctl_thread(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = g_listen, .events = POLLIN}, {.fd = g_wake[0], .events = POLLIN}};
        int pr = poll(p, 2, -1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0 || (p[1].revents & (POLLIN | POLLHUP)))
            return NULL;
        if (!(p[0].revents & POLLIN))
            continue;
        int fd = accept4(g_listen, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        serve_client(fd);
        close(fd);
    }
}

nc_err con_ctl_start(const con_ctx *c)
{
    g_ctx = c;
    if (g_listen < 0 || pthread_create(&g_thread, NULL, ctl_thread, NULL) != 0)
        return NC_ERR_INTERNAL;
    g_started = true;
    return NC_OK;
}

void con_ctl_stop(void)
{
    if (g_started) {
        if (nc_write_all(g_wake[1], "x", 1) != NC_OK)
        {
            close(g_wake[1]);   /* POLLHUP wakes it all the same */
            g_wake[1] = -1;
        }
        pthread_join(g_thread, NULL);
        g_started = false;
    }
    if (g_listen >= 0) {
        close(g_listen);
        g_listen = -1;
        if (g_ctx)
            unlink(g_ctx->ctl_sock);
    }
    for (int i = 0; i < 2; i++)
        if (g_wake[i] >= 0) {
            close(g_wake[i]);
            g_wake[i] = -1;
        }
}

/* ---- nightcore-console link ---- */

int con_link_main(int argc, char **argv)
{
    const char *home_opt = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--home") == 0 && i + 1 < argc) {
            home_opt = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: nightcore-console link [--home DIR]\n\n"
                   "Asks the running console for a new one-time link and prints it:\n"
                   "  Console: http://127.0.0.1:PORT/?token=...\n"
                   "A link works once (the tab that opens it keeps the session) and only for 10 minutes.\n");
            return 0;
        } else {
            fprintf(stderr, "nightcore-console link: unknown or incomplete argument: %.200s\n"
                            "usage: nightcore-console link [--home DIR]\n", argv[i]);
            return 2;
        }
    }
    nc_home home;
    char path[PATH_MAX], msg[512] = "";
    if (nc_home_resolve_ex(home_opt, &home, msg, sizeof msg) != NC_OK) {
        fprintf(stderr, "nightcore-console link: cannot find the Night Core home (--home DIR or $NIGHTCORE_HOME)%s%s\n",
                msg[0] ? ": " : "", msg);
        return 1;
    }
    if (con_ctl_path(&home, path, sizeof path, msg, sizeof msg) != NC_OK) {
        fprintf(stderr, "nightcore-console link: %s\n", msg[0] ? msg : "no socket path");
        return 1;
    }
    nc_rpc *rpc = NULL;
    nc_rpc_error rerr;
    json_t *res = NULL;
    nc_err err = nc_rpc_connect_as(path, geteuid(), &rpc, msg, sizeof msg);
    if (err == NC_ERR_NOT_FOUND) {
        fprintf(stderr, "nightcore-console link: no console is running for %s (nothing answers on %s): start it "
                        "with `make run` or `nightcore-console --home %s`\n",
                home.root, path, home.root);
        return 1;
    }
    if (err != NC_OK) {
        fprintf(stderr, "nightcore-console link: %s\n", msg);
        return 1;
    }
    nc_rpc_set_timeout(rpc, 10000);
    err = nc_rpc_call(rpc, "link", NULL, &res, &rerr);
    nc_rpc_free(rpc);
    const char *url = json_string_value(json_object_get(res, "url"));
    if (err != NC_OK || !url || strncmp(url, "http://127.0.0.1:", 17) != 0) {
        fprintf(stderr, "nightcore-console link: the console did not give a link: %s\n",
                err == NC_OK ? "malformed answer" : rerr.message);
        json_decref(res);
        return 1;
    }
    printf("Console: %s\n", url);
    fflush(stdout);
    json_decref(res);
    return 0;
}
