#include "common/rpc.h"
#include <errno.h>
#include <pwd.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RPC_INITIAL_BUF (64u * 1024)
#define RPC_READ_CHUNK (64u * 1024)   /* free space wanted before each read */

struct nc_rpc {
    int fd;
    bool broken;        /* a transport error happened: the stream position is unknown */
    bool eof;           /* the peer closed its side */
    int timeout_ms;     /* per call; -1 = none */
    json_int_t next_id;
    /* Received bytes not yet consumed: buf[start, len). scanned: bytes from
     * start already known to hold no '\n'. */
    char *buf;
    size_t cap, len, start, scanned;
};

static void set_msg(nc_rpc_error *err, const char *fmt_text)
{
    if (err)
        snprintf(err->message, sizeof err->message, "%s", fmt_text);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline (-1: no deadline), for poll(). */
static int remaining_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - now_ms();
    if (left <= 0)
        return 0;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

nc_err nc_rpc_connect(const char *socket_path, nc_rpc **out, char *msg, size_t msg_len)
{
    return nc_rpc_connect_as(socket_path, (uid_t)-1, out, msg, msg_len);
}

nc_err nc_rpc_connect_as(const char *socket_path, uid_t expected_uid, nc_rpc **out, char *msg, size_t msg_len)
{
    struct sockaddr_un addr;
    nc_rpc *rpc = NULL;
    int fd = -1;
    nc_err err = NC_ERR_IO;

    *out = NULL;
    if (msg && msg_len)
        msg[0] = '\0';
    if (!socket_path)
        return NC_ERR_USAGE;
    size_t plen = strlen(socket_path);
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (plen == 0 || plen >= sizeof addr.sun_path) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "socket path too long for a Unix socket (%zu bytes, at most %zu): "
                     "use a shorter home directory", plen, sizeof addr.sun_path - 1);
        return NC_ERR_TOO_LARGE;
    }
    memcpy(addr.sun_path, socket_path, plen + 1);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "socket: %s", strerror(errno));
        goto done;
    }
    int rc;
    do
        rc = connect(fd, (const struct sockaddr *)&addr, sizeof addr);
    while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        int e = errno;
        if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR) {
            err = NC_ERR_NOT_FOUND;
            if (msg && msg_len)
                snprintf(msg, msg_len, "nothing is listening on %.300s (%s)", socket_path, strerror(e));
        } else if (msg && msg_len) {
            snprintf(msg, msg_len, "cannot connect to %.300s: %s", socket_path, strerror(e));
        }
        goto done;
    }
    if (expected_uid != (uid_t)-1) {
        struct ucred cred;
        socklen_t clen = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0) {
            if (msg && msg_len)
                snprintf(msg, msg_len, "cannot tell who serves %.300s: %s", socket_path, strerror(errno));
            goto done;
        }
        if (cred.uid != expected_uid) {
            struct passwd *pw = getpwuid(cred.uid);
            if (msg && msg_len)
                snprintf(msg, msg_len, "%.300s is served by %s (uid %u), not by the worker's user (uid %u): refusing "
                         "to talk to it. Something other than the worker put that socket there", socket_path,
                         pw ? pw->pw_name : "another user", (unsigned)cred.uid, (unsigned)expected_uid);
            err = NC_ERR_UNAUTHORIZED;
            goto done;
        }
    }
    rpc = calloc(1, sizeof *rpc);
    if (!rpc) {
        err = NC_ERR_NOMEM;
        goto done;
    }
    rpc->fd = fd;
    rpc->timeout_ms = -1;
    rpc->next_id = 1;
    fd = -1;
    *out = rpc;
    rpc = NULL;
    err = NC_OK;
done:
    if (fd >= 0)
        close(fd);
    free(rpc);
    return err;
}

void nc_rpc_free(nc_rpc *rpc)
{
    if (!rpc)
        return;
    if (rpc->fd >= 0)
        close(rpc->fd);
    free(rpc->buf);
    free(rpc);
}

void nc_rpc_set_timeout(nc_rpc *rpc, int timeout_ms)
{
    if (rpc)
        rpc->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

/* Sends all bytes before the deadline. MSG_NOSIGNAL: a closed peer is an
 * error, not a SIGPIPE. */
static nc_err send_all(nc_rpc *rpc, const char *p, size_t n, int64_t deadline, nc_rpc_error *err)
{
    while (n) {
        struct pollfd pfd = {.fd = rpc->fd, .events = POLLOUT};
        int prc = poll(&pfd, 1, remaining_ms(deadline));
        if (prc < 0 && errno == EINTR)
            continue;
        if (prc == 0) {
            set_msg(err, "timed out sending the request to the worker");
            return NC_ERR_IO;
        }
        if (prc < 0) {
            set_msg(err, "poll failed while sending to the worker");
            return NC_ERR_IO;
        }
        ssize_t w = send(rpc->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            if (err)
                snprintf(err->message, sizeof err->message, "sending to the worker: %s", strerror(errno));
            return NC_ERR_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return NC_OK;
}

/* Drops the bytes already handed out from the front of the buffer. */
static void compact(nc_rpc *rpc)
{
    if (rpc->start) {
        memmove(rpc->buf, rpc->buf + rpc->start, rpc->len - rpc->start);
        rpc->len -= rpc->start;
        rpc->start = 0;
    }
}

/* Waits until the deadline for bytes and appends what one recv gives (none
 * after EINTR or EAGAIN: the caller loops); *timed_out when the deadline
 * passed first. The buffer must have room. */
static nc_err receive(nc_rpc *rpc, int64_t deadline, bool *timed_out, nc_rpc_error *err)
{
    struct pollfd pfd = {.fd = rpc->fd, .events = POLLIN};
    int prc = poll(&pfd, 1, remaining_ms(deadline));
    if (prc < 0 && errno == EINTR)
        return NC_OK;
    if (prc < 0) {
        set_msg(err, "poll failed while reading from the worker");
        return NC_ERR_IO;
    }
    if (prc == 0) {
        *timed_out = true;
        return NC_OK;
    }
    ssize_t r = recv(rpc->fd, rpc->buf + rpc->len, rpc->cap - rpc->len, MSG_DONTWAIT);
    if (r < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return NC_OK;
        if (err)
            snprintf(err->message, sizeof err->message, "reading from the worker: %s", strerror(errno));
        return NC_ERR_IO;
    }
    if (r == 0)
        rpc->eof = true;
    rpc->len += (size_t)r;
    return NC_OK;
}

/* Finds the next complete line in the buffer, reading more as needed. On
 * NC_OK, *line points into the buffer (length *len, without '\n', NUL-
 * terminated in place) and stays valid until the next read; it is consumed.
 * NC_OK with *line == NULL: the deadline passed with no complete line. */
static nc_err read_line(nc_rpc *rpc, int64_t deadline, char **line, size_t *len, nc_rpc_error *err)
{
    *line = NULL;
    *len = 0;
    for (;;) {
        char *nl = rpc->buf ? memchr(rpc->buf + rpc->start + rpc->scanned, '\n', rpc->len - rpc->start - rpc->scanned)
                            : NULL;
        if (nl) {
            size_t n = (size_t)(nl - (rpc->buf + rpc->start));
            if (n > NC_RPC_MAX_RESPONSE_BYTES)
                goto too_large;
            *nl = '\0';
            *line = rpc->buf + rpc->start;
            *len = n;
            rpc->start += n + 1;
            rpc->scanned = 0;
            return NC_OK;
        }
        rpc->scanned = rpc->len - rpc->start;
        if (rpc->scanned > NC_RPC_MAX_RESPONSE_BYTES)
            goto too_large;
        if (rpc->eof) {
            set_msg(err, rpc->scanned ? "the worker closed the connection in the middle of a response"
                                      : "the worker closed the connection");
            return NC_ERR_IO;
        }
        /* Make room: drop consumed bytes, then grow up to the cap (+1 for
         * the newline that ends a line of exactly the maximum length). */
        compact(rpc);
        const size_t hard = (size_t)NC_RPC_MAX_RESPONSE_BYTES + 1;
        if (rpc->cap - rpc->len < RPC_READ_CHUNK && rpc->cap < hard) {
            size_t ncap = rpc->cap ? rpc->cap * 2 : RPC_INITIAL_BUF;
            while (ncap - rpc->len < RPC_READ_CHUNK && ncap < hard)
                ncap *= 2;
            if (ncap > hard)
                ncap = hard;
            char *nb = realloc(rpc->buf, ncap + 1);   /* +1: room for the in-place NUL */
            if (!nb) {
                set_msg(err, "out of memory reading the worker's response");
                return NC_ERR_NOMEM;
            }
            rpc->buf = nb;
            rpc->cap = ncap;
        }
        if (rpc->len >= rpc->cap)
            goto too_large;
        bool timed_out = false;
        nc_err e = receive(rpc, deadline, &timed_out, err);
        if (e != NC_OK)
            return e;
        if (timed_out)
            return NC_OK;   /* deadline: no line */
    }
too_large:
    if (err)
        snprintf(err->message, sizeof err->message, "the worker sent a line longer than %u bytes",
                 NC_RPC_MAX_RESPONSE_BYTES);
    return NC_ERR_TOO_LARGE;
}

static void copy_field(char *dst, size_t dst_len, const json_t *v)
{
    /* Truncate on a byte boundary; callers escape before printing. */
    snprintf(dst, dst_len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

nc_err nc_rpc_call(nc_rpc *rpc, const char *op, json_t *params, json_t **result, nc_rpc_error *err)
{
    return nc_rpc_call_events(rpc, op, params, NULL, 0, NULL, NULL, result, err);
}

/* Exactly n raw bytes after the line just read: *out points into the buffer
 * until the next read. */
static nc_err read_raw(nc_rpc *rpc, int64_t deadline, size_t n, const uint8_t **out, nc_rpc_error *err)
{
    *out = NULL;
    while (rpc->len - rpc->start < n) {
        if (rpc->eof) {
            set_msg(err, "the worker closed the connection in the middle of an event");
            return NC_ERR_IO;
        }
        compact(rpc);
        if (rpc->cap < n) {
            char *nb = realloc(rpc->buf, n + 1);
            if (!nb) {
                set_msg(err, "out of memory reading the worker's response");
                return NC_ERR_NOMEM;
            }
            rpc->buf = nb;
            rpc->cap = n;
        }
        bool timed_out = false;
        nc_err e = receive(rpc, deadline, &timed_out, err);
        if (e != NC_OK)
            return e;
        if (timed_out) {
            set_msg(err, "timed out reading from the worker");
            return NC_ERR_IO;
        }
    }
    *out = (const uint8_t *)rpc->buf + rpc->start;
    rpc->start += n;
    rpc->scanned = 0;
    return NC_OK;
}

nc_err nc_rpc_call_events(nc_rpc *rpc, const char *op, json_t *params, const uint8_t *in_data, size_t in_len,
                          nc_rpc_event_fn on_event, void *ctx, json_t **result, nc_rpc_error *err)
{
    json_t *req = params, *resp = NULL;
    char *text = NULL;
    nc_err e = NC_ERR_USAGE;

    *result = NULL;
    if (err)
        memset(err, 0, sizeof *err);
    if (!rpc || !op || !op[0] || (req && !json_is_object(req)) ||
        (req && (json_object_get(req, "id") || json_object_get(req, "op")))) {
        set_msg(err, "invalid request (op missing, params not an object, or params with \"id\"/\"op\")");
        goto done;
    }
    if (rpc->broken) {
        set_msg(err, "the connection to the worker is unusable after an earlier error");
        e = NC_ERR_IO;
        goto done;
    }
    e = NC_ERR_NOMEM;
    if (!req && !(req = json_object()))
        goto done;
    json_int_t id = rpc->next_id++;
    if (json_object_set_new(req, "id", json_integer(id)) != 0 || json_object_set_new(req, "op", json_string(op)) != 0)
        goto done;
    if (in_data && json_object_set_new(req, "stdin_bytes", json_integer((json_int_t)in_len)) != 0)
        goto done;
    /* Compact: jansson escapes control characters in strings, so the request
     * is one line. */
    text = json_dumps(req, JSON_COMPACT);
    if (!text)
        goto done;
    size_t tlen = strlen(text);
    if (tlen >= NC_RPC_MAX_REQUEST_BYTES) {
        if (err)
            snprintf(err->message, sizeof err->message, "request of %zu bytes exceeds the protocol limit of %u", tlen,
                     NC_RPC_MAX_REQUEST_BYTES);
        e = NC_ERR_TOO_LARGE;   /* nothing sent: the connection stays usable */
        goto done;
    }
    int64_t deadline = rpc->timeout_ms < 0 ? -1 : now_ms() + rpc->timeout_ms;
    e = send_all(rpc, text, tlen, deadline, err);
    if (e == NC_OK)
        e = send_all(rpc, "\n", 1, deadline, err);
    if (e == NC_OK && in_data && in_len)
        e = send_all(rpc, (const char *)in_data, in_len, deadline, err);
    if (e != NC_OK) {
        rpc->broken = true;
        goto done;
    }
    for (;;) {
        char *line;
        size_t len;
        json_error_t je;
        e = read_line(rpc, deadline, &line, &len, err);
        if (e == NC_OK && !line) {
            set_msg(err, "timed out waiting for the worker's response");
            e = NC_ERR_IO;
        }
        if (e != NC_OK) {
            rpc->broken = true;
            goto done;
        }
        resp = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
        if (!json_is_object(resp)) {
            set_msg(err, "the worker sent a line that is not a JSON object");
            e = NC_ERR_MALFORMED;
            rpc->broken = true;
            goto done;
        }
        if (json_object_get(resp, "event") && !json_object_get(resp, "id")) {
            const json_t *ev = json_object_get(resp, "event");
            const json_t *nb = json_object_get(ev, "bytes");
            const uint8_t *raw = NULL;
            size_t raw_len = 0;
            if (nb) {   /* raw bytes follow the line */
                if (!json_is_integer(nb) || json_integer_value(nb) < 0 ||
                    json_integer_value(nb) > (json_int_t)NC_RPC_MAX_RAW_EVENT_BYTES) {
                    set_msg(err, "the worker sent an event with a bad raw byte count");
                    e = NC_ERR_MALFORMED;
                    rpc->broken = true;
                    goto done;
                }
                raw_len = (size_t)json_integer_value(nb);
                e = read_raw(rpc, deadline, raw_len, &raw, err);
                if (e != NC_OK) {
                    rpc->broken = true;
                    goto done;
                }
            }
            if (on_event && json_is_object(ev))
                on_event(ctx, ev, raw, raw_len);   /* ours (a streamed run), or a subscription's */
            json_decref(resp);
            resp = NULL;
            continue;
        }
        break;
    }
    const json_t *rid = json_object_get(resp, "id"), *ok = json_object_get(resp, "ok");
    bool id_match = json_is_integer(rid) && json_integer_value(rid) == id;
    /* id null: the worker could not read our line (invalid_request). */
    bool id_null_refusal = json_is_null(rid) && json_is_false(ok);
    if ((!id_match && !id_null_refusal) || !json_is_boolean(ok)) {
        set_msg(err, "the worker's response does not match the request (id or ok missing)");
        e = NC_ERR_MALFORMED;
        rpc->broken = true;
        goto done;
    }
    if (json_is_true(ok)) {
        json_t *r = json_object_get(resp, "result");
        if (!r) {
            set_msg(err, "the worker's response has no result");
            e = NC_ERR_MALFORMED;
            goto done;
        }
        *result = json_incref(r);
        e = NC_OK;
        goto done;
    }
    const json_t *eo = json_object_get(resp, "error");
    const json_t *code = json_object_get(eo, "code");
    if (!json_is_object(eo) || !json_is_string(code) || json_string_length(code) == 0) {
        set_msg(err, "the worker refused the request without an error code");
        e = NC_ERR_MALFORMED;
        goto done;
    }
    if (err) {
        copy_field(err->code, sizeof err->code, code);
        copy_field(err->message, sizeof err->message, json_object_get(eo, "message"));
        copy_field(err->run_id, sizeof err->run_id, json_object_get(eo, "run_id"));
    }
    e = NC_RPC_REFUSED;
done:
    json_decref(req);
    json_decref(resp);
    free(text);
    return e;
}

nc_err nc_rpc_read_event(nc_rpc *rpc, json_t **event, int timeout_ms)
{
    json_t *line_json = NULL;
    nc_err e;
    char *line;
    size_t len;
    json_error_t je;

    *event = NULL;
    if (!rpc)
        return NC_ERR_USAGE;
    if (rpc->broken)
        return NC_ERR_IO;
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    e = read_line(rpc, deadline, &line, &len, NULL);
    if (e != NC_OK) {
        rpc->broken = true;
        return e;
    }
    if (!line)
        return NC_OK;   /* timeout */
    line_json = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    json_t *ev = json_object_get(line_json, "event");
    if (!json_is_object(line_json) || !json_is_object(ev)) {
        json_decref(line_json);
        return NC_ERR_MALFORMED;
    }
    *event = json_incref(ev);
    json_decref(line_json);
    return NC_OK;
}
