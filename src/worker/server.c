/* Sockets, framing and clients. Frames are capped before they are buffered;
 * a bad frame gets an error answer and the worker keeps serving; clients are
 * freed only when nothing refers to them any more. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/json.h"
#include "common/limits.h"
#include "worker/worker.h"

typedef struct nc_write {
    uv_write_t req;
    uv_buf_t buf;
    nc_client *c;
    uint64_t gen;               /* commits made before this was sent */
    struct nc_write *next;      /* the worker's queue of writes held for durability */
} nc_write;

static void process_lines(nc_client *c);
static void write_now(nc_write *wr);
static void close_after_reply(nc_client *c);
static void drop_write(nc_write *wr);

void nc_client_ref(nc_client *c)
{
    c->refs++;
}

static void unlink_client(nc_client *c)
{
    nc_client **pp = &c->w->clients;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
}

void nc_client_unref(nc_client *c)
{
    if (--c->refs > 0)
        return;
    nc_buf_cleanup(&c->in);
    free(c);
}

static void on_close(uv_handle_t *h)
{
    nc_client *c = h->data;
    nc_client_unref(c);   /* the loop's reference (pipe) */
}

static void on_timer_close(uv_handle_t *h)
{
    nc_client *c = h->data;
    nc_client_unref(c);   /* the timer's reference */
}

static void close_client(nc_client *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->agent_socket)
        c->w->nagent_conns--;
    else
        c->w->ncontrol_conns--;
    unlink_client(c);
    uv_close((uv_handle_t *)&c->timer, on_timer_close);
    uv_close((uv_handle_t *)&c->pipe, on_close);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* Backpressure: a peer that does not read its replies gets no more of its
 * requests read until it catches up. */
static void update_reading(nc_client *c)
{
    if (c->closing || c->close_after_write)
        return;
    bool full = c->queued_bytes > NC_WORKER_QUEUE_PAUSE_BYTES || c->pending_writes > NC_WORKER_QUEUE_PAUSE_WRITES;
    if (full && !c->paused && !c->subscribed) {
        c->paused = true;
        uv_read_stop((uv_stream_t *)&c->pipe);
    } else if (!full && c->paused && c->queued_bytes <= NC_WORKER_QUEUE_PAUSE_BYTES / 2 &&
               c->pending_writes <= NC_WORKER_QUEUE_PAUSE_WRITES / 2) {
        c->paused = false;
        uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
    }
}

/* Once a second: an agent connection without a valid token after
 * NC_WORKER_AUTH_TIMEOUT_MS, one idle for NC_WORKER_IDLE_TIMEOUT_MS, and any
 * whose replies have not been read for NC_WORKER_STALL_TIMEOUT_MS are closed. */
static void on_client_timer(uv_timer_t *t)
{
    nc_client *c = t->data;
    uint64_t now = uv_now(c->w->loop);
    if (c->closing)
        return;
    if (c->pending_writes && now - c->last_progress_ms > c->w->stall_timeout_ms) {
        close_client(c);
        return;
    }
    if (c->agent_socket && !c->busy && !c->pending_writes) {
        uint64_t limit = c->authenticated ? NC_WORKER_IDLE_TIMEOUT_MS : c->w->auth_timeout_ms;
        if (now - c->last_activity_ms > limit)
            close_client(c);
    }
}

void nc_client_authenticated(nc_client *c)
{
    c->authenticated = true;
}

static void on_write(uv_write_t *req, int status)
{
    nc_write *wr = (nc_write *)req;
    nc_client *c = wr->c;
    c->queued_bytes -= wr->buf.len;
    free(wr->buf.base);
    free(wr);
    c->pending_writes--;
    c->last_progress_ms = uv_now(c->w->loop);
    if (status < 0 || (c->close_after_write && !c->pending_writes))
        close_client(c);
    else
        update_reading(c);
    nc_client_unref(c);
}

/* Queues line (malloc'd, ending in '\n', taken) for the connection. */
static void send_line(nc_client *c, char *line, size_t len)
{
    nc_write *wr = calloc(1, sizeof *wr);
    if (!wr) {
        free(line);
        close_client(c);
        return;
    }
    wr->buf = uv_buf_init(line, (unsigned)len);
    wr->c = c;
    nc_client_ref(c);
    if (!c->pending_writes)
        c->last_progress_ms = uv_now(c->w->loop);
    c->pending_writes++;
    c->queued_bytes += wr->buf.len;
    /* Held while commits before it are not on disk yet, or while earlier
     * writes to this connection are held (replies stay in order). */
    nc_worker *w = c->w;
    wr->gen = nc_db_commits(w->db);
    if (w->sync_failed && !nc_durable(w, wr->gen)) {   /* never acknowledged: the disk failed */
        drop_write(wr);
        close_client(c);
        return;
    }
    if (c->deferred || !nc_durable(w, wr->gen)) {
        c->deferred++;
        if (w->deferred_tail)
            w->deferred_tail->next = wr;
        else
            w->deferred_head = wr;
        w->deferred_tail = wr;
        nc_durable_request(w);
        update_reading(c);
        return;
    }
    write_now(wr);
}

/* msg as one line, then raw (raw_len bytes, may be 0). */
static void send_json_raw(nc_client *c, json_t *msg, const uint8_t *raw, size_t raw_len)
{
    if (c->closing) {
        json_decref(msg);
        return;
    }
    char *text = json_dumps(msg, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(msg);
    if (!text) {
        close_client(c);
        return;
    }
    size_t n = strlen(text);
    char *line = realloc(text, n + 1 + raw_len + (raw_len ? 0 : 1));
    if (!line) {
        free(text);
        close_client(c);
        return;
    }
    line[n] = '\n';
    if (raw_len)
        memcpy(line + n + 1, raw, raw_len);
    send_line(c, line, n + 1 + raw_len);
}

static void send_json(nc_client *c, json_t *msg)
{
    send_json_raw(c, msg, NULL, 0);
}

/* A write that will not be made: its accounting undone. */
static void drop_write(nc_write *wr)
{
    nc_client *c = wr->c;
    c->pending_writes--;
    c->queued_bytes -= wr->buf.len;
    free(wr->buf.base);
    free(wr);
    nc_client_unref(c);
}

static void write_now(nc_write *wr)
{
    nc_client *c = wr->c;
    if (c->closing) {
        drop_write(wr);
        return;
    }
    if (uv_write(&wr->req, (uv_stream_t *)&c->pipe, &wr->buf, 1, on_write) != 0) {
        drop_write(wr);
        close_client(c);
        return;
    }
    update_reading(c);
}

void nc_server_flush_deferred(nc_worker *w)
{
    while (w->deferred_head && nc_durable(w, w->deferred_head->gen)) {
        nc_write *wr = w->deferred_head;
        w->deferred_head = wr->next;
        if (!w->deferred_head)
            w->deferred_tail = NULL;
        wr->next = NULL;
        wr->c->deferred--;
        write_now(wr);
    }
    if (w->deferred_head)
        nc_durable_request(w);
}

void nc_server_drop_deferred(nc_worker *w)
{
    while (w->deferred_head) {
        nc_write *wr = w->deferred_head;
        nc_client *c = wr->c;
        w->deferred_head = wr->next;
        c->deferred--;
        nc_client_ref(c);
        drop_write(wr);
        close_client(c);
        nc_client_unref(c);
    }
    w->deferred_tail = NULL;
}

void nc_reply(nc_client *c, json_t *id, json_t *result)
{
    json_t *msg = json_pack("{s:O?, s:b, s:o}", "id", id, "ok", 1, "result", result ? result : json_object());
    if (msg)
        send_json(c, msg);
}

__attribute__((format(printf, 4, 0))) static void reply_error_v(nc_client *c, json_t *id, const char *code,
                                                               const char *fmt, va_list ap)
{
    char text[1024];
    vsnprintf(text, sizeof text, fmt, ap);
    nc_log_refused(c->w, c, code, text);   /* every refusal is on the record */
    json_t *msg = json_pack("{s:O?, s:b, s:{s:s, s:s}}", "id", id, "ok", 0, "error", "code", code, "message", text);
    if (msg)
        send_json(c, msg);
}

void nc_reply_error_fields(nc_client *c, json_t *id, nc_err code, json_t *fields, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    const char *wire = nc_errcode(code == NC_OK ? NC_ERR_INTERNAL : code);
    nc_log_refused(c->w, c, wire, text);
    json_t *err = fields ? fields : json_object();
    json_object_set_new(err, "code", json_string(wire));
    json_object_set_new(err, "message", json_string(text));
    json_t *msg = json_pack("{s:O?, s:b, s:o}", "id", id, "ok", 0, "error", err);
    if (msg)
        send_json(c, msg);
}

void nc_send_event_raw(nc_client *c, const char *type, json_t *fields, const uint8_t *data, size_t len)
{
    json_t *ev = fields ? fields : json_object();
    json_object_set_new(ev, "type", json_string(type));
    json_object_set_new(ev, "at", json_integer(nc_unix_now()));
    json_object_set_new(ev, "bytes", json_integer((json_int_t)len));
    json_t *msg = json_pack("{s:o}", "event", ev);
    if (msg)
        send_json_raw(c, msg, data, len);
}

void nc_send_event(nc_client *c, const char *type, json_t *fields)
{
    json_t *ev = fields ? fields : json_object();
    json_object_set_new(ev, "type", json_string(type));
    json_object_set_new(ev, "at", json_integer(nc_unix_now()));
    json_t *msg = json_pack("{s:o}", "event", ev);
    if (msg)
        send_json(c, msg);
}

void nc_reply_error(nc_client *c, json_t *id, nc_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* A failure is never answered with the code of success. */
    reply_error_v(c, id, nc_errcode(code == NC_OK ? NC_ERR_INTERNAL : code), fmt, ap);
    va_end(ap);
}

void nc_reply_error_code(nc_client *c, json_t *id, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(c, id, code, fmt, ap);
    va_end(ap);
}

void nc_client_done(nc_client *c)
{
    c->busy = false;
    if (!c->closing)
        process_lines(c);
    nc_client_unref(c);
}

void nc_emit(nc_worker *w, const char *type, json_t *fields)
{
    json_t *ev = fields ? fields : json_object();
    json_object_set_new(ev, "type", json_string(type));
    json_object_set_new(ev, "at", json_integer(nc_unix_now()));
    if (strcmp(type, "alert") == 0)
        nc_views_record_alert(w, ev);
    for (nc_client *c = w->clients, *next; c; c = next) {
        next = c->next;
        if (!c->subscribed || c->closing)
            continue;
        if (c->pending_writes >= NC_WORKER_MAX_SUBSCRIBER_BACKLOG) {
            close_client(c);   /* too far behind: it can resubscribe and re-read state */
            continue;
        }
        if (c->agent_socket) {   /* an agent sees only what concerns it (agent.c) */
            json_t *evs = nc_agent_events_for(c, type, ev), *e;
            size_t i;
            json_array_foreach(evs, i, e) {
                send_json(c, json_pack("{s:O}", "event", e));
            }
            json_decref(evs);
            continue;
        }
        send_json(c, json_pack("{s:O}", "event", ev));
    }
    json_decref(ev);
}

/* One request: check, dispatch. Malformed input is answered, never fatal. */
static void handle_request(nc_client *c, json_t *req)
{
    c->op[0] = '\0';
    if (!json_is_object(req) || !json_is_string(json_object_get(req, "op"))) {
        nc_reply_error(c, json_object_get(req, "id"), NC_ERR_USAGE, "a request is an object with \"op\" and \"id\"");
        return;
    }
    json_t *id = json_object_get(req, "id");
    if (id && !json_is_integer(id)) {
        nc_reply_error(c, NULL, NC_ERR_USAGE, "\"id\" must be an integer");
        return;
    }
    snprintf(c->op, sizeof c->op, "%s", json_string_value(json_object_get(req, "op")));
    nc_dispatch(c, req);
}

/* Requests, one a line; a request with "stdin_bytes": N (0 .. 16 MiB) is
 * followed by N raw bytes, read in full before it is dispatched. */
static void process_lines(nc_client *c)
{
    size_t start = 0;
    char msg[256];
    while (!c->busy && !c->closing && !c->paused && start < c->in.len) {
        size_t from = start + c->scanned;
        uint8_t *nl = from < c->in.len ? memchr(c->in.data + from, '\n', c->in.len - from) : NULL;
        if (!nl) {
            c->scanned = c->in.len - start;   /* searched already: not again at the next read */
            break;
        }
        size_t len = (size_t)(nl - (c->in.data + start));
        c->scanned = 0;
        if (len == 0) {
            start += 1;
            continue;
        }
        json_t *req = NULL;
        c->op[0] = '\0';
        if (nc_json_parse_strict(c->in.data + start, len, &req, msg, sizeof msg) != NC_OK) {
            nc_reply_error(c, NULL, NC_ERR_USAGE, "request is not valid JSON: %s", msg);
            start += len + 1;
            continue;
        }
        json_t *sb = json_is_object(req) ? json_object_get(req, "stdin_bytes") : NULL;
        size_t raw_len = 0;
        if (sb) {
            if (!json_is_integer(sb) || json_integer_value(sb) < 0 ||
                json_integer_value(sb) > (json_int_t)NC_MAX_STDIN_BYTES) {
                /* the bytes that follow cannot be told from the next request */
                nc_reply_error(c, json_is_integer(json_object_get(req, "id")) ? json_object_get(req, "id") : NULL,
                               NC_ERR_USAGE, "stdin_bytes must be an integer from 0 to %u; closing the connection",
                               NC_MAX_STDIN_BYTES);
                json_decref(req);
                start = c->in.len;
                close_after_reply(c);
                break;
            }
            raw_len = (size_t)json_integer_value(sb);
            if (c->in.len - (start + len + 1) < raw_len) {   /* the bytes are still coming */
                json_decref(req);
                c->scanned = 0;
                break;
            }
        }
        c->raw = c->in.data + start + len + 1;
        c->raw_len = raw_len;
        handle_request(c, req);
        c->raw = NULL;
        c->raw_len = 0;
        json_decref(req);
        start += len + 1 + raw_len;
    }
    if (start) {
        memmove(c->in.data, c->in.data + start, c->in.len - start);
        c->in.len -= start;
        if (c->in.len == 0 && c->in.cap > (1u << 20)) {   /* a large request is done: give its memory back */
            size_t max = c->in.max;
            nc_buf_cleanup(&c->in);
            nc_buf_init(&c->in, max);
        }
    }
}

/* Reads go straight into the connection's buffer (growing as data arrives,
 * never ahead of it: a declared size reserves nothing); at the cap, into a
 * slab, and on_read refuses the line. */
static char slab[65536];   /* the loop is single-threaded; data is copied out at once */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    nc_client *c = h->data;
    (void)suggested;
    /* room to read grows with what is buffered (4 KiB .. 1 MiB a read) */
    size_t room = c->in.max - c->in.len, chunk = c->in.len < 4096 ? 4096 : c->in.len < (1u << 20) ? c->in.len : 1u << 20;
    if (room > 0 && nc_buf_reserve(&c->in, c->in.len + (room < chunk ? room : chunk)) == NC_OK) {
        *buf = uv_buf_init((char *)c->in.data + c->in.len, (unsigned)(c->in.cap - c->in.len));
        return;
    }
    *buf = uv_buf_init(slab, sizeof slab);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    nc_client *c = s->data;
    if (n < 0) {
        close_client(c);
        return;
    }
    if (n == 0)
        return;
    c->last_activity_ms = uv_now(c->w->loop);
    if (buf->base != slab && (const uint8_t *)buf->base == c->in.data + c->in.len && (size_t)n <= c->in.cap - c->in.len) {
        c->in.len += (size_t)n;   /* read in place */
    } else if (nc_buf_append(&c->in, buf->base, (size_t)n) != NC_OK) {
        /* Over the frame cap without a newline: refuse before buffering more. */
        nc_reply_error(c, NULL, NC_ERR_TOO_LARGE, "request line longer than %u bytes", NC_WORKER_MAX_LINE);
        nc_buf_cleanup(&c->in);   /* what it sent is not kept while the answer waits */
        nc_buf_init(&c->in, 0);
        c->scanned = 0;
        close_after_reply(c);
        return;
    }
    process_lines(c);
}

static bool control_peer_ok(const nc_worker *w, uid_t uid)
{
    if (uid == geteuid())
        return true;
    if (!w->service)
        return false;
    if (uid == 0)
        return true;
    for (unsigned i = 0; i < w->noperators; i++)
        if (w->operator_uids[i] == uid)
            return true;
    return false;
}

static unsigned agent_conns_of(const nc_worker *w, uid_t uid)
{
    unsigned n = 0;
    for (const nc_client *c = w->clients; c; c = c->next)
        n += c->agent_socket && !c->closing && c->uid == uid;
    return n;
}

/* Nothing more is read; the connection closes once what it was sent (held
 * for durability or not) is written. */
static void close_after_reply(nc_client *c)
{
    uv_read_stop((uv_stream_t *)&c->pipe);
    c->paused = true;
    c->close_after_write = true;
    if (!c->pending_writes)
        close_client(c);
}

/* Over a cap: one line saying so, then the connection closes. */
static void refuse_connection(nc_client *c, const char *why)
{
    c->w->conns_refused++;
    json_t *msg = json_pack("{s:n, s:b, s:{s:s, s:s}}", "id", "ok", 0, "error", "code", "busy", "message", why);
    if (msg)
        send_json(c, msg);
    close_after_reply(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    nc_worker *w = server->data;
    bool agent = server == (uv_stream_t *)&w->agent;
    if (status < 0) {
        /* out of descriptors (EMFILE/ENFILE): said once a minute at most */
        w->emfile_errors++;
        uint64_t now = uv_now(w->loop);
        if (now - w->last_emfile_log_ms > 60000 || !w->last_emfile_log_ms) {
            w->last_emfile_log_ms = now;
            fprintf(stderr, "nightcore-worker: cannot accept a connection on %s: %s (%llu so far); connection caps "
                    "should prevent this: see `nightcore worker status`\n", agent ? "agent.sock" : "control.sock",
                    uv_strerror(status), (unsigned long long)w->emfile_errors);
        }
        return;
    }
    nc_client *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->w = w;
    c->refs = 2;   /* the pipe's and the timer's */
    c->agent_socket = agent;
    nc_buf_init(&c->in, NC_WORKER_MAX_LINE + 1);
    uv_pipe_init(w->loop, &c->pipe, 0);
    uv_timer_init(w->loop, &c->timer);
    c->pipe.data = c;
    c->timer.data = c;
    c->last_activity_ms = c->last_progress_ms = uv_now(w->loop);
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
        uv_close((uv_handle_t *)&c->timer, on_timer_close);
        uv_close((uv_handle_t *)&c->pipe, on_close);
        return;
    }
    c->next = w->clients;
    w->clients = c;
    if (agent)
        w->nagent_conns++;
    else
        w->ncontrol_conns++;
    /* The control socket: the worker's own user, and in the service
     * deployment the operators it was given (and root). */
    uv_os_fd_t fd;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        (!agent && !control_peer_ok(w, cred.uid))) {
        close_client(c);
        return;
    }
    c->uid = cred.uid;
    uv_timer_start(&c->timer, on_client_timer, 1000, 1000);
    if (agent && w->nagent_conns > w->max_agent_conns) {
        refuse_connection(c, "too many connections to agent.sock; retry later");
        return;
    }
    if (agent && agent_conns_of(w, c->uid) > w->max_agent_conns_per_uid) {
        refuse_connection(c, "too many connections from this user to agent.sock; close some and retry");
        return;
    }
    if (!agent && w->ncontrol_conns > w->max_control_conns) {
        refuse_connection(c, "too many connections to control.sock; retry later");
        return;
    }
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

static nc_err listen_on(nc_worker *w, uv_pipe_t *p, const char *path, int mode, char *msg, size_t msg_len)
{
    /* A socket file left by a worker that died: remove it. The pid file lock
     * (main.c) guarantees no other worker is using it. */
    unlink(path);
    uv_pipe_init(w->loop, p, 0);
    p->data = w;
    /* No umask change here (threads exist): the socket gets its mode right
     * after bind, and the control socket checks every peer's uid anyway. */
    int rc = uv_pipe_bind(p, path);
    if (rc == 0)
        rc = chmod(path, (mode_t)mode) == 0 ? 0 : -errno;
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)p, 128, on_connection);
    if (rc != 0) {
        snprintf(msg, msg_len, "cannot listen on %s: %s", path, uv_strerror(rc));
        return NC_ERR_IO;
    }
    return NC_OK;
}

nc_err nc_server_listen(nc_worker *w, char *msg, size_t msg_len)
{
    nc_err err = listen_on(w, &w->control, w->control_path, w->service ? 0666 : 0600, msg, msg_len);
    if (err == NC_OK)
        err = listen_on(w, &w->agent, w->agent_path, 0666, msg, msg_len);
    return err;
}

void nc_worker_maybe_stop(nc_worker *w)
{
    if (w->stopping && w->running == 0 && w->queued == 0 && w->compiling == 0 && !w->syncing && !w->deferred_head)
        uv_stop(w->loop);
}

void nc_server_stop(nc_worker *w)
{
    nc_compiles_stop(w);
    if (!uv_is_closing((uv_handle_t *)&w->control))
        uv_close((uv_handle_t *)&w->control, NULL);
    if (!uv_is_closing((uv_handle_t *)&w->agent))
        uv_close((uv_handle_t *)&w->agent, NULL);
    unlink(w->control_path);
    unlink(w->agent_path);
    for (nc_client *c = w->clients, *next; c; c = next) {
        next = c->next;
        if (!c->busy)
            close_client(c);
    }
    nc_worker_maybe_stop(w);
}
