/* MCP over stdio (transport.h): newline-delimited JSON-RPC on stdin and
 * stdout for the one client that started this program, with the token of
 * NIGHTCORE_AGENT_TOKEN. stdout carries nothing but protocol messages; every
 * message goes out in order whatever it belongs to. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include "common/buf.h"
#include "mcp/transport.h"

#define TOKEN_ENV "NIGHTCORE_AGENT_TOKEN"
#define READ_CHUNK (64u * 1024)

/* stdout: one writer at a time, whole lines */
typedef struct {
    int fd;
    pthread_mutex_t mu;
    bool broken;
} out_channel;

/* Blocks until fd is ready (stdin/stdout may be non-blocking if the client
 * made them so); never spins. */
static void wait_fd(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
}

/* ---- stdin lines ---- */

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
        nc_iov_consume(&v, &cnt, (size_t)w);
    }
    return true;
}

/* nc_mcp_send_fn: on stdio every message goes out in order, whatever it
 * belongs to; DEFERRED and DROPPED carry nothing. */
static bool send_line(void *ctx, nc_mcp_out kind, const json_t *request, const char *msg, size_t len)
{
    (void)kind;
    (void)request;
    out_channel *o = ctx;
    if (!msg)
        return true;
    pthread_mutex_lock(&o->mu);
    bool ok = !o->broken && write_message(o->fd, msg, len);
    if (!ok && !o->broken) {
        o->broken = true;
        nc_mcp_log_stderr(NULL, "stdout closed; nothing more can be sent");
    }
    pthread_mutex_unlock(&o->mu);
    return ok;
}

static int read_messages(nc_mcp_server *s, int in_fd)
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
            nc_mcp_log_stderr(NULL, "cannot read stdin; stopping");
            break;
        }
        if (got == LINE_TOO_LONG)
            e = nc_mcp_send_error(s, NC_JSONRPC_INVALID_REQUEST,
                                  "Invalid Request: message longer than 32 MiB (33554432 bytes); it was skipped");
        else
            e = nc_mcp_handle_message(s, line, len, NULL);
        if (e != NC_OK)
            /* Out of memory: answering is impossible; the client sees its
             * request time out, and later ones may still succeed. */
            nc_mcp_log_stderr(NULL, "out of memory handling a message");
    }
    free(r.buf);
    /* End of input: calls in progress answer first (waiting ones at once). */
    nc_mcp_wait_idle(s);
    return status;
}

/* ---- the agent's events, on a thread of their own ---- */

typedef struct {
    nc_mcp_link *link;
    const nc_mcp_cred *cred;
    nc_mcp_server *server;
    atomic_bool stop;
} feed;

static void *feed_main(void *arg)
{
    feed *f = arg;
    (void)nc_mcp_feed_run(f->link, f->cred, f->server, &f->stop, nc_mcp_log_stderr, NULL);
    return NULL;
}

/* The token from the environment, into guarded memory; the environment's
 * copy is wiped so that /proc/PID/environ and any child see nothing. */
static int take_token(const char *agent, nc_mcp_cred **out)
{
    const char *tok = getenv(TOKEN_ENV);
    if (!tok || !tok[0]) {
        fprintf(stderr,
                "nightcore-mcp: %s is not set. Create the agent with `nightcore agent add %s` (it prints the token "
                "once) and give the token to this program in its environment, for example\n"
                "  claude mcp add nightcore -e %s=TOKEN -- nightcore-mcp --agent %s\n"
                "(docs/agents.md)\n", TOKEN_ENV, agent, TOKEN_ENV, agent);
        return 2;
    }
    size_t len = strlen(tok);
    nc_err e = nc_mcp_cred_new(tok, len, out);
    sodium_memzero((void *)tok, len);
    unsetenv(TOKEN_ENV);
    if (e == NC_ERR_MALFORMED) {
        fprintf(stderr, "nightcore-mcp: %s is malformed (expected the token `nightcore agent add` printed: "
                        "1-128 characters without spaces)\n", TOKEN_ENV);
        return 2;
    }
    if (e != NC_OK) {
        fprintf(stderr, "nightcore-mcp: out of memory\n");
        return 1;
    }
    return 0;
}

static int serve(nc_mcp_link *link, const nc_mcp_options *opt)
{
    nc_mcp_cred *cred = NULL;
    nc_mcp_server *server = NULL;
    out_channel out = {.fd = -1};
    char msg[512];
    int status = take_token(opt->agent, &cred);
    if (status != 0)
        return status;
    status = 1;
    pthread_mutex_init(&out.mu, NULL);
    /* stdout is the protocol channel: keep a private descriptor for it and
     * point fd 1 at stderr, so nothing printed by accident can corrupt it. */
    signal(SIGPIPE, SIG_IGN);
    out.fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (out.fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        fprintf(stderr, "nightcore-mcp: cannot set up stdout: %s\n", strerror(errno));
        goto done;
    }
    nc_mcp_caller caller = {.link = link, .cred = cred};
    nc_mcp_backend be = {.call = nc_mcp_link_call, .call_stream = nc_mcp_link_call_stream, .worker = &caller,
                         .log = nc_mcp_log_stderr, .send = send_line, .spawn = nc_mcp_spawn_thread, .ctx = &out};
    if (nc_mcp_server_new(opt->agent, &be, &server, msg, sizeof msg) != NC_OK) {
        fprintf(stderr, "nightcore-mcp: internal error: %s\n", msg);
        goto done;
    }
    fprintf(stderr, "nightcore-mcp %s: agent %s, worker at %s\n", NC_VERSION, opt->agent, nc_mcp_link_socket(link));
    feed f = {.link = link, .cred = cred, .server = server};
    atomic_init(&f.stop, false);
    pthread_t feed_thread;
    bool feeding = pthread_create(&feed_thread, NULL, feed_main, &f) == 0;
    if (!feeding)
        nc_mcp_log_stderr(NULL, "cannot start the event thread: approvals will not appear as tools until tools/list");
    status = read_messages(server, STDIN_FILENO);
    if (feeding) {
        atomic_store(&f.stop, true);
        pthread_join(feed_thread, NULL);
    }
done:
    nc_mcp_server_free(server);
    nc_mcp_cred_free(cred);
    if (out.fd >= 0)
        close(out.fd);
    pthread_mutex_destroy(&out.mu);
    return status;
}

const nc_mcp_transport nc_mcp_transport_stdio = {.name = "stdio", .serve = serve};
