/* nightcore-mcp: the MCP server (stdio) through which one agent submits
 * modules to Night Core's inbox and runs what a human approved for it
 * (docs/agents.md). It holds no key and links no Wasmtime; it speaks only the
 * agent ops of agent.sock, with the agent's token. This file is the I/O: the
 * stdin/stdout transport and the link to the worker. The protocol is in
 * server.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "common/home.h"
#include "common/limits.h"
#include "common/rpc.h"
#include "mcp/mcp.h"

#define TOKEN_ENV "NIGHTCORE_AGENT_TOKEN"
#define TOKEN_MAX_BYTES 512
#define READ_CHUNK (64u * 1024)
#define HELLO_TIMEOUT_MS 10000
#define CALL_TIMEOUT_MS 120000
/* A run is answered when it ends: the longest policy timeout, plus room for
 * waiting in the worker's queue. */
#define RUN_TIMEOUT_MS ((int)(NC_MAX_TIMEOUT_MS + 10u * 60 * 1000))

#define WORKER_DOWN_MESSAGE "the Night Core worker is not running; ask the operator to start it (nightcore worker start)"

#define POOL_MAX 8          /* idle worker connections kept for later calls */
#define FEED_POLL_MS 1000   /* the event feed wakes this often (expiries, stopping) */
#define FEED_BACKOFF_MAX_MS 30000

typedef struct {
    char socket_path[PATH_MAX];
    uid_t worker_uid;  /* who must serve agent.sock (a planted socket never sees the token) */
    char agent[72];
    char *token;       /* sodium_malloc'd, NUL-terminated; never printed */
    size_t token_len;
    pthread_mutex_t mu;          /* the pool */
    nc_rpc *idle[POOL_MAX];      /* checked connections not in use; one call at a time each */
    unsigned nidle;
} worker_link;

/* stdout: one writer at a time, whole lines */
typedef struct {
    int fd;
    pthread_mutex_t mu;
    bool broken;
} out_channel;

/* ---- diagnostics: stderr only; stdout carries nothing but protocol ---- */

static void log_line(void *ctx, const char *text)
{
    (void)ctx;
    char out[2048];
    size_t o = 0;
    /* Escape what an agent or a worker message could put there (terminal
     * control sequences, newlines). */
    for (const unsigned char *p = (const unsigned char *)text; *p && o + 5 < sizeof out; p++) {
        if (*p >= 0x20 && *p != 0x7f && *p != '\\') {
            out[o++] = (char)*p;
        } else {
            int n = snprintf(out + o, sizeof out - o, "\\x%02x", *p);
            if (n < 0 || (size_t)n >= sizeof out - o)
                break;
            o += (size_t)n;
        }
    }
    out[o] = '\0';
    fprintf(stderr, "nightcore-mcp: %s\n", out);
}

/* ---- the worker link ---- */

static void set_error(nc_rpc_error *err, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_error(nc_rpc_error *err, const char *code, const char *fmt, ...)
{
    va_list ap;
    snprintf(err->code, sizeof err->code, "%s", code);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static json_t *token_params(const worker_link *l, json_t *params /* stolen; may be NULL */)
{
    json_t *tok = json_stringn(l->token, l->token_len);
    if (!params)
        params = json_object();
    if (!params || !tok || json_object_set_new(params, "token", tok) != 0) {
        json_decref(params);
        return NULL;
    }
    return params;
}

/* hello on the current connection: proves it is alive and that the token is
 * this agent's. NC_RPC_REFUSED / NC_ERR_UNAUTHORIZED: a refusal to give the
 * agent (err set); any other failure is a transport error (err set too). */
static nc_err link_hello(worker_link *l, nc_rpc *conn, nc_rpc_error *err)
{
    json_t *res = NULL, *params = token_params(l, NULL);
    nc_err e;
    if (!params) {
        set_error(err, "internal", "%s", "out of memory");
        return NC_ERR_NOMEM;
    }
    nc_rpc_set_timeout(conn, HELLO_TIMEOUT_MS);
    e = nc_rpc_call(conn, "hello", params, &res, err);
    if (e == NC_RPC_REFUSED) {
        if (strcmp(err->code, "unauthorized") == 0)
            snprintf(err->message, sizeof err->message,
                     "the worker does not accept this agent's token (NIGHTCORE_AGENT_TOKEN is wrong, or the agent "
                     "was removed); ask the operator to check `nightcore agent list`");
        goto done;
    }
    if (e != NC_OK)
        goto done;
    const json_t *agent = json_object_get(res, "agent"), *proto = json_object_get(res, "protocol");
    if (!json_is_integer(proto) || json_integer_value(proto) != 1) {
        set_error(err, "internal", "%s", "the worker speaks a different protocol version than this nightcore-mcp; "
                                         "ask the operator to install matching versions");
        e = NC_ERR_UNAUTHORIZED;
        goto done;
    }
    if (!json_is_string(agent) || strcmp(json_string_value(agent), l->agent) != 0) {
        snprintf(err->code, sizeof err->code, "unauthorized");
        snprintf(err->message, sizeof err->message,
                 "NIGHTCORE_AGENT_TOKEN belongs to another agent than \"%s\" (--agent); ask the operator to fix "
                 "this MCP server's configuration", l->agent);
        e = NC_ERR_UNAUTHORIZED;
    }
done:
    json_decref(res);
    return e;
}

static bool is_refusal(nc_err e)
{
    return e == NC_RPC_REFUSED || e == NC_ERR_UNAUTHORIZED;
}

/* A live connection whose hello passed: an idle one from the pool (checked
 * again: the worker may have restarted), else a new one. */
static nc_err link_take(worker_link *l, nc_rpc **out, nc_rpc_error *err)
{
    char msg[512];
    nc_err e;
    *out = NULL;
    for (;;) {
        nc_rpc *conn = NULL;
        pthread_mutex_lock(&l->mu);
        if (l->nidle > 0)
            conn = l->idle[--l->nidle];
        pthread_mutex_unlock(&l->mu);
        if (!conn)
            break;
        e = link_hello(l, conn, err);
        if (e == NC_OK) {
            *out = conn;
            return e;
        }
        nc_rpc_free(conn);
        if (is_refusal(e))
            return e;
        /* the worker restarted or went away: try the next one, then afresh */
    }
    nc_rpc *conn = NULL;
    e = nc_rpc_connect_as(l->socket_path, l->worker_uid, &conn, msg, sizeof msg);
    if (e == NC_ERR_NOT_FOUND) {
        set_error(err, "unavailable", "%s", WORKER_DOWN_MESSAGE);
        return e;
    }
    if (e != NC_OK) {
        set_error(err, "unavailable", "cannot reach the Night Core worker (%s); ask the operator to check it", msg);
        return e;
    }
    e = link_hello(l, conn, err);
    if (e != NC_OK) {
        nc_rpc_free(conn);
        if (!is_refusal(e)) {
            char why[sizeof err->message];
            snprintf(why, sizeof why, "%s", err->message);
            set_error(err, "unavailable", "the Night Core worker did not answer (%s); ask the operator to check it "
                                          "(nightcore worker status)", why);
        }
        return e;
    }
    *out = conn;
    return NC_OK;
}

static void link_give_back(worker_link *l, nc_rpc *conn)
{
    pthread_mutex_lock(&l->mu);
    if (l->nidle < POOL_MAX) {
        l->idle[l->nidle++] = conn;
        conn = NULL;
    }
    pthread_mutex_unlock(&l->mu);
    nc_rpc_free(conn);
}

static nc_err link_call_stream(void *ctx, const char *op, json_t *params, nc_mcp_event_cb on_event, void *cb_ctx,
                               json_t **result, nc_rpc_error *err)
{
    worker_link *l = ctx;
    nc_rpc *conn = NULL;
    *result = NULL;
    memset(err, 0, sizeof *err);
    nc_err e = link_take(l, &conn, err);
    if (e != NC_OK) {
        json_decref(params);
        return e;
    }
    if (!(params = token_params(l, params))) {
        link_give_back(l, conn);
        set_error(err, "internal", "%s", "out of memory");
        return NC_ERR_NOMEM;
    }
    bool is_run = strcmp(op, "run") == 0;
    nc_rpc_set_timeout(conn, is_run ? RUN_TIMEOUT_MS : CALL_TIMEOUT_MS);
    e = on_event ? nc_rpc_call_events(conn, op, params, NULL, 0, on_event, cb_ctx, result, err)
                 : nc_rpc_call(conn, op, params, result, err);
    if (e == NC_OK || e == NC_RPC_REFUSED) {
        link_give_back(l, conn);
        return e;
    }
    nc_rpc_free(conn);
    char why[sizeof err->message];
    snprintf(why, sizeof why, "%s", err->message);
    if (e == NC_ERR_TOO_LARGE)
        set_error(err, "too_large", "%s", why);
    else if (is_run)
        set_error(err, "unavailable", "lost the connection to the Night Core worker during the run (%s); it may "
                                      "have stopped: ask the operator to check it (nightcore worker status)", why);
    else
        set_error(err, "unavailable", "lost the connection to the Night Core worker (%s); ask the operator to "
                                      "check it (nightcore worker status)", why);
    return e;
}

static nc_err link_call(void *ctx, const char *op, json_t *params, json_t **result, nc_rpc_error *err)
{
    return link_call_stream(ctx, op, params, NULL, NULL, result, err);
}

static void link_cleanup(worker_link *l)
{
    for (unsigned i = 0; i < l->nidle; i++)
        nc_rpc_free(l->idle[i]);
    l->nidle = 0;
}

/* ---- the worker's agent events: a subscription kept open on its own
 * connection, re-established when it drops ---- */

typedef struct {
    worker_link *link;
    nc_mcp_server *server;
    atomic_bool stop;
} feed;

static void feed_sleep(feed *f, unsigned ms)
{
    for (unsigned slept = 0; slept < ms && !atomic_load(&f->stop); slept += 100) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void *feed_main(void *arg)
{
    feed *f = arg;
    worker_link *l = f->link;
    unsigned backoff = 1000;
    bool said_down = false;
    while (!atomic_load(&f->stop)) {
        nc_rpc *conn = NULL;
        nc_rpc_error err;
        json_t *res = NULL;
        memset(&err, 0, sizeof err);
        nc_err e = link_take(l, &conn, &err);
        json_t *params = e == NC_OK ? token_params(l, NULL) : NULL;
        if (e == NC_OK && params) {
            nc_rpc_set_timeout(conn, CALL_TIMEOUT_MS);
            e = nc_rpc_call(conn, "events.subscribe", params, &res, &err);
            json_decref(res);
        } else if (e == NC_OK) {
            e = NC_ERR_NOMEM;
        }
        if (e == NC_OK) {
            log_line(NULL, "subscribed to the worker's events for this agent");
            said_down = false;
            backoff = 1000;
            nc_mcp_feed_state(f->server, true);
            while (!atomic_load(&f->stop)) {
                json_t *ev = NULL;
                e = nc_rpc_read_event(conn, &ev, FEED_POLL_MS);
                if (e != NC_OK)
                    break;
                if (ev)
                    nc_mcp_on_event(f->server, ev);
                json_decref(ev);
                nc_mcp_tick(f->server);
            }
            nc_mcp_feed_state(f->server, false);
            if (!atomic_load(&f->stop))
                log_line(NULL, "lost the worker's event subscription; reconnecting");
        } else if (!said_down) {
            char line[700];
            snprintf(line, sizeof line, "cannot subscribe to the worker's events (%s: %s); retrying", err.code,
                     err.message);
            log_line(NULL, line);
            said_down = true;
        }
        nc_rpc_free(conn);
        feed_sleep(f, backoff);
        backoff = backoff * 2 > FEED_BACKOFF_MAX_MS ? FEED_BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
}

/* ---- threads for tool calls ---- */

typedef struct {
    void (*fn)(void *);
    void *arg;
} spawned;

static void *spawned_main(void *p)
{
    spawned sp = *(spawned *)p;
    free(p);
    sp.fn(sp.arg);
    return NULL;
}

static bool spawn_thread(void *ctx, void (*fn)(void *), void *arg)
{
    (void)ctx;
    pthread_t t;
    pthread_attr_t attr;
    spawned *sp = malloc(sizeof *sp);
    if (!sp)
        return false;
    sp->fn = fn;
    sp->arg = arg;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, spawned_main, sp);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        free(sp);
        return false;
    }
    return true;
}

/* ---- stdin lines ---- */

/* Blocks until fd is ready (stdin/stdout may be non-blocking if the client
 * made them so); never spins. */
static void wait_fd(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
}

typedef struct {
    int fd;
    char *buf;
    size_t len, cap;
    size_t scanned;    /* bytes of buf known to hold no '\n' */
    size_t consumed;   /* the line handed out last, with its '\n', dropped on the next call */
    bool skipping;     /* discarding the rest of a line over the cap */
    bool eof;
} line_reader;

enum { LINE_OK, LINE_TOO_LONG, LINE_EOF, LINE_ERROR };

static void reader_drop(line_reader *r, size_t n)
{
    memmove(r->buf, r->buf + n, r->len - n);
    r->len -= n;
    r->scanned = 0;
}

/* The next line (without '\n', NUL-terminated in place, valid until the next
 * call). LINE_TOO_LONG once per line over NC_MCP_MAX_LINE_BYTES: its bytes
 * are never buffered beyond the cap, and the rest is skipped. A last line
 * without '\n' still counts. */
static int next_line(line_reader *r, char **line, size_t *n)
{
    const size_t hard_cap = (size_t)NC_MCP_MAX_LINE_BYTES + READ_CHUNK + 1;
    *line = NULL;
    *n = 0;
    if (r->consumed) {
        reader_drop(r, r->consumed);
        r->consumed = 0;
    }
    for (;;) {
        char *nl = r->len > r->scanned ? memchr(r->buf + r->scanned, '\n', r->len - r->scanned) : NULL;
        if (nl) {
            size_t linelen = (size_t)(nl - r->buf);
            if (r->skipping) {
                r->skipping = false;
                reader_drop(r, linelen + 1);
                continue;
            }
            r->consumed = linelen + 1;
            if (linelen > NC_MCP_MAX_LINE_BYTES)
                return LINE_TOO_LONG;
            *nl = '\0';
            *line = r->buf;
            *n = linelen;
            return LINE_OK;
        }
        r->scanned = r->len;
        if (r->skipping) {
            r->len = r->scanned = 0;
        } else if (r->len > NC_MCP_MAX_LINE_BYTES) {
            r->skipping = true;
            r->len = r->scanned = 0;
            return LINE_TOO_LONG;
        }
        if (r->eof) {
            if (r->len == 0)
                return LINE_EOF;
            r->buf[r->len] = '\0';   /* cap keeps a byte free for this */
            r->consumed = r->len;
            *line = r->buf;
            *n = r->len;
            return LINE_OK;
        }
        if (r->cap - r->len < READ_CHUNK + 1) {
            size_t ncap = r->cap ? r->cap * 2 : 4 * READ_CHUNK;
            while (ncap - r->len < READ_CHUNK + 1)
                ncap *= 2;
            if (ncap > hard_cap)
                ncap = hard_cap;
            char *nb = realloc(r->buf, ncap);
            if (!nb)
                return LINE_ERROR;
            r->buf = nb;
            r->cap = ncap;
        }
        ssize_t got = read(r->fd, r->buf + r->len, r->cap - r->len - 1);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {   /* a client handed us a non-blocking pipe */
                wait_fd(r->fd, POLLIN);
                continue;
            }
            return LINE_ERROR;
        }
        if (got == 0)
            r->eof = true;
        r->len += (size_t)got;
    }
}

/* ---- stdout ---- */

static bool write_message(int fd, const char *msg, size_t len)
{
    struct iovec iov[2] = {{.iov_base = (void *)msg, .iov_len = len}, {.iov_base = "\n", .iov_len = 1}};
    struct iovec *v = iov;
    int cnt = 2;
    while (cnt > 0) {
        ssize_t w = writev(fd, v, cnt);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                wait_fd(fd, POLLOUT);
                continue;
            }
            return false;
        }
        size_t left = (size_t)w;
        while (cnt > 0 && left >= v->iov_len) {
            left -= v->iov_len;
            v++;
            cnt--;
        }
        if (cnt > 0) {
            v->iov_base = (char *)v->iov_base + left;
            v->iov_len -= left;
        }
    }
    return true;
}

static bool send_line(void *ctx, const char *msg, size_t len)
{
    out_channel *o = ctx;
    pthread_mutex_lock(&o->mu);
    bool ok = !o->broken && write_message(o->fd, msg, len);
    if (!ok && !o->broken) {
        o->broken = true;
        log_line(NULL, "stdout closed; nothing more can be sent");
    }
    pthread_mutex_unlock(&o->mu);
    return ok;
}

static int serve(nc_mcp_server *s, int in_fd)
{
    line_reader r = {.fd = in_fd};
    int status = 1;
    for (;;) {
        char *line;
        size_t len;
        nc_err e;
        int got = next_line(&r, &line, &len);
        if (got == LINE_EOF) {
            status = 0;
            break;
        }
        if (got == LINE_ERROR) {
            log_line(NULL, "cannot read stdin; stopping");
            break;
        }
        if (got == LINE_TOO_LONG)
            e = nc_mcp_send_error(s, NC_JSONRPC_INVALID_REQUEST,
                                  "Invalid Request: message longer than 32 MiB (33554432 bytes); it was skipped");
        else
            e = nc_mcp_handle_message(s, line, len);
        if (e != NC_OK)
            /* Out of memory: answering is impossible; the client sees its
             * request time out, and later ones may still succeed. */
            log_line(NULL, "out of memory handling a message");
    }
    free(r.buf);
    /* End of input: calls in progress answer first (waiting ones at once). */
    nc_mcp_wait_idle(s);
    return status;
}

/* The backend has one context (the link); the output channel is reached
 * through this, set once before any thread starts. */
static out_channel *backend_out;

static bool send_via_channel(void *ctx, const char *msg, size_t len)
{
    (void)ctx;
    return send_line(backend_out, msg, len);
}

/* ---- start-up ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: nightcore-mcp --agent NAME [--home DIR]\n"
            "       nightcore-mcp --help | --version\n"
            "\n"
            "The MCP server (stdio) through which agent NAME submits WebAssembly modules to the\n"
            "Night Core inbox, waits for a human's decision, and runs the ones a human approved for it\n"
            "(each approval is also a tool of its own). It holds no key: it cannot approve, sign,\n"
            "trust or change policy. Speak MCP on its stdin/stdout; it logs to stderr.\n"
            "\n"
            "  --agent NAME   the agent (1-64 of a-z 0-9 _ -), as created with `nightcore agent add NAME`\n"
            "  --home DIR     the Night Core home (default $NIGHTCORE_HOME, else ~/.nightcore)\n"
            "\n"
            "Environment:\n"
            "  " TOKEN_ENV "  the agent's token, printed once by `nightcore agent add NAME` (required)\n"
            "\n"
            "Setup for Claude Code, Claude Desktop and other MCP clients: docs/agents.md.\n");
}

static int usage_error(const char *what)
{
    fprintf(stderr, "nightcore-mcp: %s\n", what);
    usage(stderr);
    return 2;
}

/* "--opt VALUE" or "--opt=VALUE"; advances *i past what it used. */
static bool option_value(int argc, char **argv, int *i, const char *opt, const char **out, bool *missing)
{
    size_t n = strlen(opt);
    *missing = false;
    if (strncmp(argv[*i], opt, n) != 0)
        return false;
    if (argv[*i][n] == '=') {
        *out = argv[*i] + n + 1;
        return true;
    }
    if (argv[*i][n] != '\0')
        return false;
    if (*i + 1 >= argc) {
        *missing = true;
        return true;
    }
    *out = argv[++*i];
    return true;
}

static bool token_ok(const char *t, size_t n)
{
    if (n == 0 || n > TOKEN_MAX_BYTES)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
            return false;
    return true;
}

int main(int argc, char **argv)
{
    const char *agent = NULL, *home_dir = NULL;
    worker_link link;
    nc_mcp_server *server = NULL;
    nc_home home;
    char msg[512];
    int status = 1, out_fd = -1;
    out_channel out = {.fd = -1};

    memset(&link, 0, sizeof link);
    pthread_mutex_init(&link.mu, NULL);
    pthread_mutex_init(&out.mu, NULL);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool missing;
        if (strcmp(a, "--version") == 0 || strcmp(a, "version") == 0) {
            printf("nightcore-mcp %s\n", NC_VERSION);
            return 0;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0) {
            usage(stdout);
            return 0;
        }
        const char *v = NULL;
        if (option_value(argc, argv, &i, "--agent", &v, &missing)) {
            if (missing || agent)
                return usage_error(missing ? "--agent needs a NAME" : "--agent given twice");
            agent = v;
        } else if (option_value(argc, argv, &i, "--home", &v, &missing)) {
            if (missing || home_dir || !v[0])
                return usage_error(missing || !v[0] ? "--home needs a DIR" : "--home given twice");
            home_dir = v;
        } else {
            char what[160];
            snprintf(what, sizeof what, "unknown argument \"%.100s\"", a);
            return usage_error(what);
        }
    }
    if (!agent)
        return usage_error("--agent NAME is required: the agent this server speaks for");
    if (!nc_mcp_agent_name_ok(agent))
        return usage_error("--agent NAME: NAME is 1-64 of a-z 0-9 _ -");

    const char *tok = getenv(TOKEN_ENV);
    if (!tok || !tok[0]) {
        fprintf(stderr,
                "nightcore-mcp: %s is not set. Create the agent with `nightcore agent add %s` (it prints the token "
                "once) and give the token to this program in its environment, for example\n"
                "  claude mcp add nightcore -e %s=TOKEN -- nightcore-mcp --agent %s\n"
                "(docs/agents.md)\n", TOKEN_ENV, agent, TOKEN_ENV, agent);
        return 2;
    }
    size_t tok_len = strlen(tok);
    if (!token_ok(tok, tok_len)) {
        fprintf(stderr, "nightcore-mcp: %s is malformed (expected the token `nightcore agent add` printed: "
                        "1-%d printable characters without spaces)\n", TOKEN_ENV, TOKEN_MAX_BYTES);
        return 2;
    }
    if (nc_home_resolve(home_dir, &home) != NC_OK ||
        nc_home_socket(&home, NC_AGENT_SOCK, link.socket_path, sizeof link.socket_path) != NC_OK) {
        fprintf(stderr, "nightcore-mcp: cannot work out the Night Core home (set --home DIR or NIGHTCORE_HOME)\n");
        return 2;
    }
    link.worker_uid = home.worker_uid;
    if (sodium_init() < 0) {
        fprintf(stderr, "nightcore-mcp: cannot initialise libsodium\n");
        return 1;
    }
    /* The token lives in guarded memory; the copy in our environment is
     * wiped so that /proc/PID/environ and any child see nothing. */
    if (!(link.token = sodium_malloc(tok_len + 1))) {
        fprintf(stderr, "nightcore-mcp: out of memory\n");
        return 1;
    }
    memcpy(link.token, tok, tok_len + 1);
    link.token_len = tok_len;
    sodium_memzero((void *)tok, tok_len);
    unsetenv(TOKEN_ENV);
    snprintf(link.agent, sizeof link.agent, "%s", agent);

    /* stdout is the protocol channel: keep a private descriptor for it and
     * point fd 1 at stderr, so nothing printed by accident can corrupt it. */
    signal(SIGPIPE, SIG_IGN);
    out_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (out_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        fprintf(stderr, "nightcore-mcp: cannot set up stdout: %s\n", strerror(errno));
        goto done;
    }

    out.fd = out_fd;
    nc_mcp_backend be = {.call = link_call, .call_stream = link_call_stream, .log = log_line, .send = send_line,
                         .spawn = spawn_thread, .ctx = &link};
    /* the link and the output are two contexts: the backend's send gets the channel */
    be.ctx = &link;
    backend_out = &out;
    be.send = send_via_channel;
    if (nc_mcp_server_new(agent, &be, &server, msg, sizeof msg) != NC_OK) {
        fprintf(stderr, "nightcore-mcp: internal error: %s\n", msg);
        goto done;
    }
    fprintf(stderr, "nightcore-mcp %s: agent %s, worker at %s\n", NC_VERSION, agent, link.socket_path);
    feed f = {.link = &link, .server = server};
    atomic_init(&f.stop, false);
    pthread_t feed_thread;
    bool feeding = pthread_create(&feed_thread, NULL, feed_main, &f) == 0;
    if (!feeding)
        log_line(NULL, "cannot start the event thread: approvals will not appear as tools until tools/list");
    status = serve(server, STDIN_FILENO);
    if (feeding) {
        atomic_store(&f.stop, true);
        pthread_join(feed_thread, NULL);
    }
done:
    nc_mcp_server_free(server);
    link_cleanup(&link);
    sodium_free(link.token);   /* wipes it */
    if (out_fd >= 0)
        close(out_fd);
    return status;
}
