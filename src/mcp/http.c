/* MCP Streamable HTTP (transport.h; MCP 2025-11-25 "Transports";
 * docs/agents.md "Streamable HTTP"): one endpoint, /mcp, on 127.0.0.1 or a
 * Unix socket, served by the shared HTTP server (src/httpd/).
 *
 *   POST   one JSON-RPC message. A request answered at once gets its
 *          response as application/json; a tool call (a job) gets a
 *          text/event-stream with its progress and then its response; a
 *          notification or a client's response gets 202.
 *   GET    the session's stream for what belongs to no request
 *          (tools/list_changed, resources/updated); one at a time, a new one
 *          replaces the old.
 *   DELETE ends the session: its calls in progress are cancelled.
 *
 * Every request carries "Authorization: Bearer TOKEN", and the worker
 * checks the token (hello) before anything is done with it; nothing here
 * keeps tokens but the one each live session was opened with, in guarded
 * memory, to bind the session to it: a session id (32 random bytes, hex)
 * with another token is refused. Before a body is read: the Host (403,
 * the server's check), the path (404), an Origin if one is sent (403), the
 * bearer's shape (401), the session (400 malformed, 404 unknown, 403 another
 * token's), MCP-Protocol-Version (400 unless the session's), Content-Type
 * (415), Accept (406), the body's size (413: 64 KiB without a session, 32 MiB
 * in one). No cookie is set or read; every answer carries the security
 * headers. Sessions are capped (NC_MCP_HTTP_MAX_SESSIONS) and end after an
 * idle hour (--session-idle) without an open stream.
 *
 * A session is one protocol core (server.c) fed by POSTs on the server's
 * handler threads; the core routes each message it sends (nc_mcp_out) and
 * the send callback here puts it on the stream it belongs to. Each session
 * has an owner thread that keeps the worker's event subscription for it and,
 * when the session ends, cancels its calls and waits for them. */
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "httpd/httpd.h"
#include "mcp/httphead.h"
#include "mcp/transport.h"

#define SWEEP_S 5
/* The first bytes of every stream: a comment, so that the answer's head goes
 * out at once (libmicrohttpd sends it with the first bytes of the body). */
#define STREAM_OPENING ": nightcore-mcp\n\n"
#define CSP "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

typedef struct http_transport http_transport;
typedef struct session session;

/* A request answered as an event stream, by its id. */
typedef struct post_stream {
    struct post_stream *next;
    json_t *id;
    nc_httpd_stream *st;          /* a reference */
} post_stream;

struct session {
    http_transport *t;
    char *id;                     /* sodium memory: NC_HTTPD_SECRET_HEX_LEN hex digits */
    unsigned serial;              /* for the log (never the id) */
    nc_mcp_cred *cred;            /* the token that opened it */
    nc_mcp_caller caller;
    nc_mcp_server *core;
    /* under t->mu */
    unsigned refs;                /* the table, the owner thread, requests in progress, open streams */
    bool in_table;
    int64_t last_seen;            /* CLOCK_MONOTONIC seconds of its last request */
    unsigned streams_open;
    /* under mu */
    pthread_mutex_t mu;
    nc_httpd_stream *get;         /* the GET stream (a reference), or NULL */
    post_stream *posts;
    char *pending[NC_MCP_HTTP_PENDING];   /* session messages while no GET stream is open */
    size_t pending_len[NC_MCP_HTTP_PENDING];
    size_t npending;
    atomic_bool stop;             /* the owner thread ends the session's work */
};

struct http_transport {
    nc_mcp_link *link;
    const char *agent;
    nc_httpd *servers[2];
    size_t nservers;
    pthread_mutex_t mu;           /* the table, sessions' refs and counters */
    pthread_cond_t cond;          /* a session freed; the sweeper's sleep */
    session *table[NC_MCP_HTTP_MAX_SESSIONS];
    unsigned live;                /* sessions not yet freed */
    unsigned serial;              /* of the last session that started */
    unsigned idle_s;              /* --session-idle */
    bool stopping;
};

/* What a request holds between its head and its end. */
typedef struct {
    session *s;                   /* a reference, or NULL: no Mcp-Session-Id */
    nc_mcp_cred *cred;            /* the bearer of a request without a session */
} req_state;

/* The POST being fed to a core on this thread: a response sent meanwhile
 * answers it directly; a DEFERRED request gets a stream. */
typedef struct {
    session *s;
    nc_httpd *h;
    char *direct;                 /* the response, malloc'd */
    size_t direct_len;
    nc_httpd_stream *stream;      /* DEFERRED: its stream (a reference) */
} post_ctx;

static _Thread_local post_ctx *tl_post;

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    nc_mcp_log_stderr(NULL, line);
}

/* ---- answers ---- */

/* A JSON-RPC error with id null: every refusal of this transport. */
static enum MHD_Result refuse(struct MHD_Connection *conn, unsigned status, const char *code, const char *message)
{
    json_t *o = json_pack("{s:s, s:n, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", "error", "code",
                          status >= 500 ? NC_JSONRPC_INTERNAL_ERROR : NC_JSONRPC_INVALID_REQUEST, "message", message);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    static const char fallback[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"refused\"}}";
    struct MHD_Response *r = text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE)
                                  : MHD_create_response_from_buffer(sizeof fallback - 1, (void *)fallback,
                                                                    MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (status == 401)
        MHD_add_response_header(r, "WWW-Authenticate",
                                strcmp(code, "invalid_token") == 0 ? "Bearer realm=\"nightcore-mcp\", error=\"invalid_token\""
                                                                   : "Bearer realm=\"nightcore-mcp\"");
    if (status == 405)
        MHD_add_response_header(r, "Allow", "GET, POST, DELETE");
    return nc_httpd_queue(conn, status, r);
}

static enum MHD_Result refusef(struct MHD_Connection *conn, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result refusef(struct MHD_Connection *conn, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return refuse(conn, status, code, msg);
}

/* A message as the whole answer (text is taken over), with the new
 * session's id when there is one. */
static enum MHD_Result answer_json(struct MHD_Connection *conn, unsigned status, char *text, size_t len,
                                   const char *session_id)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (session_id)
        MHD_add_response_header(r, "Mcp-Session-Id", session_id);
    return nc_httpd_queue(conn, status, r);
}

static enum MHD_Result answer_empty(struct MHD_Connection *conn, unsigned status)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    return nc_httpd_queue(conn, status, r);
}

/* ---- sessions: references, the table ---- */

static void free_pending_locked(session *s)
{
    for (size_t i = 0; i < s->npending; i++)
        free(s->pending[i]);
    s->npending = 0;
}

static void session_free(session *s)
{
    nc_mcp_server_free(s->core);   /* its jobs ended: the owner thread waited for them */
    for (post_stream *p = s->posts, *next; p; p = next) {
        next = p->next;
        nc_httpd_stream_release(p->st);
        json_decref(p->id);
        free(p);
    }
    nc_httpd_stream_release(s->get);
    free_pending_locked(s);
    pthread_mutex_destroy(&s->mu);
    nc_mcp_cred_free(s->cred);
    sodium_free(s->id);
    free(s);
}

static session *session_ref_locked(session *s)
{
    s->refs++;
    return s;
}

static void session_unref(session *s)
{
    if (!s)
        return;
    http_transport *t = s->t;
    pthread_mutex_lock(&t->mu);
    bool last = --s->refs == 0;
    if (last) {
        t->live--;
        pthread_cond_broadcast(&t->cond);
    }
    pthread_mutex_unlock(&t->mu);
    if (last)
        session_free(s);
}

static bool send_message(void *ctx, nc_mcp_out kind, const json_t *request, const char *msg, size_t len);

/* A session for a POST without one; not in the table yet. cred is taken. */
static session *session_new(http_transport *t, nc_mcp_cred *cred)
{
    char msg[256];
    session *s = calloc(1, sizeof *s);
    if (!s) {
        nc_mcp_cred_free(cred);
        return NULL;
    }
    s->t = t;
    s->cred = cred;
    s->refs = 1;
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->stop, false);
    s->caller = (nc_mcp_caller){.link = t->link, .cred = cred};
    nc_mcp_backend be = {.call = nc_mcp_link_call, .call_stream = nc_mcp_link_call_stream, .worker = &s->caller,
                         .log = nc_mcp_log_stderr, .send = send_message, .spawn = nc_mcp_spawn_thread, .ctx = s};
    if (!(s->id = sodium_malloc(NC_HTTPD_SECRET_HEX_LEN + 1)) ||
        nc_mcp_server_new(t->agent, &be, &s->core, msg, sizeof msg) != NC_OK) {
        if (s->id)
            sodium_free(s->id);
        pthread_mutex_destroy(&s->mu);
        nc_mcp_cred_free(cred);
        free(s);
        return NULL;
    }
    nc_httpd_secret_new(s->id);
    pthread_mutex_lock(&t->mu);
    t->live++;
    pthread_mutex_unlock(&t->mu);
    return s;
}

/* The live session with this id (constant time per slot, every slot
 * compared), with a reference; NULL if none. */
static session *session_find(http_transport *t, const char *id)
{
    session *hit = NULL;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < NC_MCP_HTTP_MAX_SESSIONS; i++)
        if (t->table[i] && sodium_memcmp(t->table[i]->id, id, NC_HTTPD_SECRET_HEX_LEN) == 0 && !hit)
            hit = t->table[i];
    if (hit)
        session_ref_locked(hit);
    pthread_mutex_unlock(&t->mu);
    return hit;
}

static void session_touch(session *s)
{
    pthread_mutex_lock(&s->t->mu);
    s->last_seen = mono_s();
    pthread_mutex_unlock(&s->t->mu);
}

/* The session ends: out of the table (later requests get 404), its owner
 * thread stops its work (cancels its calls), its streams end. */
static void session_end(session *s, const char *why)
{
    http_transport *t = s->t;
    pthread_mutex_lock(&t->mu);
    bool was = s->in_table;
    if (was) {
        for (size_t i = 0; i < NC_MCP_HTTP_MAX_SESSIONS; i++)
            if (t->table[i] == s)
                t->table[i] = NULL;
        s->in_table = false;
    }
    pthread_mutex_unlock(&t->mu);
    atomic_store(&s->stop, true);
    pthread_mutex_lock(&s->mu);
    nc_httpd_stream *get = s->get;
    post_stream *posts = s->posts;
    s->get = NULL;
    s->posts = NULL;
    free_pending_locked(s);
    pthread_mutex_unlock(&s->mu);
    /* ended outside the lock: an end may resume a connection */
    if (get) {
        nc_httpd_stream_end(get);
        nc_httpd_stream_release(get);
    }
    for (post_stream *p = posts, *next; p; p = next) {
        next = p->next;
        nc_httpd_stream_end(p->st);
        nc_httpd_stream_release(p->st);
        json_decref(p->id);
        free(p);
    }
    if (was) {
        logf_("HTTP session %u ended: %s", s->serial, why);
        session_unref(s);   /* the table's */
    }
}

/* A free slot for s: the least recently used session without an open stream
 * gives up its own when all are taken. false: all are busy. */
static bool table_insert(http_transport *t, session *s)
{
    session *victim = NULL;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        size_t free_at = NC_MCP_HTTP_MAX_SESSIONS;
        for (size_t i = 0; i < NC_MCP_HTTP_MAX_SESSIONS; i++) {
            session *o = t->table[i];
            if (!o) {
                if (free_at == NC_MCP_HTTP_MAX_SESSIONS)
                    free_at = i;
            } else if (o->streams_open == 0 && (!victim || o->last_seen < victim->last_seen)) {
                victim = o;
            }
        }
        if (free_at < NC_MCP_HTTP_MAX_SESSIONS && !t->stopping) {
            t->table[free_at] = session_ref_locked(s);
            s->in_table = true;
            s->serial = ++t->serial;
            s->last_seen = mono_s();
            pthread_mutex_unlock(&t->mu);
            return true;
        }
        if (!victim || t->stopping) {
            pthread_mutex_unlock(&t->mu);
            return false;
        }
        session_ref_locked(victim);
        pthread_mutex_unlock(&t->mu);
        session_end(victim, "the least recently used, to make room for a new session");
        session_unref(victim);
        victim = NULL;
        pthread_mutex_lock(&t->mu);
    }
}

/* ---- where the core's messages go ---- */

static char *frame(const char *msg, size_t len, size_t *out_len)
{
    char *text = nc_httpd_sse_event("message", msg, len, out_len);
    if (!text)
        logf_("a message could not be framed as an event (%zu bytes); it was not sent", len);
    return text;
}

/* Under s->mu: the request's stream, unlinked when take is set (a reference
 * given to the caller either way), or NULL. */
static nc_httpd_stream *post_find_locked(session *s, const json_t *request, bool take)
{
    for (post_stream **pp = &s->posts; request && *pp; pp = &(*pp)->next) {
        post_stream *p = *pp;
        if (!json_equal(p->id, (json_t *)request))
            continue;
        nc_httpd_stream *st = p->st;
        if (take) {
            *pp = p->next;
            json_decref(p->id);
            free(p);
            return st;   /* the list's reference, now the caller's */
        }
        return nc_httpd_stream_ref(st);
    }
    return NULL;
}

/* A session's own notification: on its GET stream, else kept until one
 * opens (the same message once; the oldest goes when full). */
static void deliver_session(session *s, const char *msg, size_t len)
{
    size_t flen;
    char *text = frame(msg, len, &flen);
    if (!text)
        return;
    pthread_mutex_lock(&s->mu);
    nc_httpd_stream *get = s->get ? nc_httpd_stream_ref(s->get) : NULL;
    if (!get) {
        bool dup = false;
        for (size_t i = 0; i < s->npending; i++)
            dup |= s->pending_len[i] == flen && memcmp(s->pending[i], text, flen) == 0;
        if (!dup) {
            if (s->npending == NC_MCP_HTTP_PENDING) {
                free(s->pending[0]);
                memmove(s->pending, s->pending + 1, (NC_MCP_HTTP_PENDING - 1) * sizeof s->pending[0]);
                memmove(s->pending_len, s->pending_len + 1, (NC_MCP_HTTP_PENDING - 1) * sizeof s->pending_len[0]);
                s->npending--;
            }
            s->pending[s->npending] = text;
            s->pending_len[s->npending++] = flen;
            text = NULL;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (get) {
        (void)nc_httpd_stream_push(get, text, flen);
        nc_httpd_stream_release(get);
    }
    free(text);
}

/* nc_mcp_send_fn: puts each message where it belongs. */
static bool send_message(void *ctx, nc_mcp_out kind, const json_t *request, const char *msg, size_t len)
{
    session *s = ctx;
    post_ctx *pc = tl_post && tl_post->s == s ? tl_post : NULL;
    nc_httpd_stream *st = NULL;
    bool final = kind == NC_MCP_OUT_RESPONSE || kind == NC_MCP_OUT_DROPPED;
    switch (kind) {
    case NC_MCP_OUT_SESSION:
        deliver_session(s, msg, len);
        return true;
    case NC_MCP_OUT_DEFERRED: {
        if (!pc || pc->stream || !request)
            return false;
        post_stream *p = calloc(1, sizeof *p);
        if (!p || !(p->id = json_deep_copy(request)) ||
            !(pc->stream = nc_httpd_stream_new(pc->h, NC_MCP_HTTP_STREAM_QUEUE))) {
            if (p)
                json_decref(p->id);
            free(p);
            return false;   /* the job's messages find no stream; its POST is answered 500 */
        }
        p->st = nc_httpd_stream_ref(pc->stream);
        pthread_mutex_lock(&s->mu);
        p->next = s->posts;
        s->posts = p;
        pthread_mutex_unlock(&s->mu);
        return true;
    }
    case NC_MCP_OUT_RESPONSE:
        if (pc && !pc->stream) {   /* answered while its POST is being handled: the POST's answer */
            if (!pc->direct && msg && (pc->direct = malloc(len + 1))) {
                memcpy(pc->direct, msg, len);
                pc->direct[len] = '\0';
                pc->direct_len = len;
            }
            return pc->direct != NULL;
        }
        break;
    case NC_MCP_OUT_PROGRESS:
    case NC_MCP_OUT_DROPPED:
        break;
    }
    pthread_mutex_lock(&s->mu);
    st = post_find_locked(s, request, final);
    pthread_mutex_unlock(&s->mu);
    if (!st)
        return false;   /* its client went away (a disconnect is not a cancellation: the call went on) */
    bool ok = true;
    if (msg) {
        size_t flen;
        char *text = frame(msg, len, &flen);
        ok = text && nc_httpd_stream_push(st, text, flen);
        free(text);
    }
    if (final)
        nc_httpd_stream_end(st);
    nc_httpd_stream_release(st);
    return ok;
}

/* ---- streams' ends ---- */

static void stream_opened(session *s)
{
    pthread_mutex_lock(&s->t->mu);
    s->streams_open++;
    session_ref_locked(s);   /* the stream's connection's */
    pthread_mutex_unlock(&s->t->mu);
}

static void stream_closed(session *s)
{
    pthread_mutex_lock(&s->t->mu);
    s->streams_open--;
    s->last_seen = mono_s();
    pthread_mutex_unlock(&s->t->mu);
    session_unref(s);
}

static void post_closed(void *arg, nc_httpd_stream *st)
{
    session *s = arg;
    nc_httpd_stream *mine = NULL;
    pthread_mutex_lock(&s->mu);
    for (post_stream **pp = &s->posts; *pp; pp = &(*pp)->next) {
        if ((*pp)->st == st) {
            post_stream *p = *pp;
            *pp = p->next;
            mine = p->st;
            json_decref(p->id);
            free(p);
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    nc_httpd_stream_release(mine);
    stream_closed(s);
}

static void get_closed(void *arg, nc_httpd_stream *st)
{
    session *s = arg;
    nc_httpd_stream *mine = NULL;
    pthread_mutex_lock(&s->mu);
    if (s->get == st) {
        mine = s->get;
        s->get = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    nc_httpd_stream_release(mine);
    stream_closed(s);
}

/* ---- the owner thread of a session ---- */

static void *owner_main(void *arg)
{
    session *s = arg;
    nc_err e = nc_mcp_feed_run(s->t->link, s->cred, s->core, &s->stop, nc_mcp_log_stderr, NULL);
    if (e == NC_ERR_UNAUTHORIZED)
        session_end(s, "the worker no longer accepts its token");
    nc_mcp_cancel_all(s->core);   /* the session ended: its calls are cancelled and awaited */
    session_unref(s);
    return NULL;
}

static bool start_owner(session *s)
{
    pthread_t th;
    pthread_attr_t attr;
    pthread_mutex_lock(&s->t->mu);
    session_ref_locked(s);
    pthread_mutex_unlock(&s->t->mu);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &attr, owner_main, s);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        session_unref(s);
    return rc == 0;
}

/* ---- requests ---- */

static nc_httpd_plan refused(enum MHD_Result ret)
{
    (void)ret;
    return NC_HTTPD_ANSWERED;
}

/* Everything decided from the head, before any body is read. */
static nc_httpd_plan on_head(void *ctx, nc_httpd_req *r)
{
    http_transport *t = ctx;
    struct MHD_Connection *conn = nc_httpd_req_conn(r);
    const char *method = nc_httpd_req_method(r);
    const bool post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
    req_state *rs = calloc(1, sizeof *rs);
    if (!rs)
        return refused(refuse(conn, 503, "busy", "out of memory"));
    nc_httpd_req_set_user(r, rs);

    if (!nc_httpd_req_origin_absent_or_ours(r))
        return refused(refusef(conn, 403, "forbidden", "cross-origin request refused: an Origin, when sent, must be %s",
                               nc_httpd_origin(nc_httpd_req_server(r))));
    if (strcmp(nc_httpd_req_url(r), NC_MCP_HTTP_PATH) != 0)
        return refused(refuse(conn, 404, "not_found", "the MCP endpoint is " NC_MCP_HTTP_PATH));
    const char *auth = nc_httpd_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION), *token;
    size_t token_len;
    if (!auth)
        return refused(refuse(conn, 401, "unauthorized",
                              "Unauthorized: send the agent's token as \"Authorization: Bearer TOKEN\" (nightcore agent "
                              "add prints it)"));
    if (!nc_mcp_http_bearer(auth, &token, &token_len))
        return refused(refuse(conn, 401, "invalid_token",
                              "Unauthorized: the Authorization header must be \"Bearer\" and one token of 1-128 "
                              "characters"));
    const char *sid = nc_httpd_req_header(r, "Mcp-Session-Id");
    const char *version = nc_httpd_req_header(r, "MCP-Protocol-Version");
    if (sid) {
        if (!nc_httpd_secret_ok(sid))
            return refused(refuse(conn, 400, "bad_request",
                                  "Bad Request: Mcp-Session-Id must be the 64 hex digits this server gave"));
        if (!(rs->s = session_find(t, sid)))
            return refused(refuse(conn, 404, "not_found",
                                  "Not Found: no such session (it ended or expired): initialize a new one"));
        if (!nc_mcp_cred_same(rs->s->cred, token, token_len))
            return refused(refuse(conn, 403, "forbidden",
                                  "Forbidden: this session was opened with another token; initialize a session of "
                                  "your own"));
        const char *mine = nc_mcp_protocol(rs->s->core);
        if (version && (!mine || strcmp(version, mine) != 0))
            return refused(refusef(conn, 400, "unsupported_protocol_version",
                                   "Bad Request: MCP-Protocol-Version must be the session's, %s", mine ? mine : "?"));
    } else {
        if (!post)
            return refused(refuse(conn, 400, "bad_request",
                                  "Bad Request: Mcp-Session-Id is required: POST initialize first"));
        nc_httpd_req_set_body_cap(r, NC_MCP_HTTP_MAX_OPEN_BODY);
        if (nc_mcp_cred_new(token, token_len, &rs->cred) != NC_OK)
            return refused(refuse(conn, 503, "busy", "out of memory"));
    }
    if (post) {
        const char *accept = nc_httpd_req_header(r, MHD_HTTP_HEADER_ACCEPT);
        if (!nc_mcp_http_json_body(nc_httpd_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE)))
            return refused(refuse(conn, 415, "unsupported_media_type",
                                  "Unsupported Media Type: a message is Content-Type: application/json"));
        if (!nc_mcp_http_accepts(accept, "application/json") || !nc_mcp_http_accepts(accept, "text/event-stream"))
            return refused(refuse(conn, 406, "not_acceptable",
                                  "Not Acceptable: Accept must take application/json and text/event-stream"));
        if (nc_httpd_req_too_big(r))
            return refused(refusef(conn, 413, "too_large", "Payload Too Large: a message %s is at most %zu bytes",
                                   rs->s ? "in a session" : "without a session", nc_httpd_req_body_cap(r)));
    } else if (get && !nc_mcp_http_accepts(nc_httpd_req_header(r, MHD_HTTP_HEADER_ACCEPT), "text/event-stream")) {
        return refused(refuse(conn, 406, "not_acceptable", "Not Acceptable: the GET stream is text/event-stream"));
    }
    return NC_HTTPD_JOB;   /* the worker checks the token first: not on a polling thread */
}

/* What a POST's message came to: its response, its stream, or 202. */
static enum MHD_Result answer_post(struct MHD_Connection *conn, session *s, post_ctx *pc, const nc_mcp_in *in,
                                   nc_err e, const char *new_session)
{
    if (pc->stream) {
        (void)nc_httpd_stream_push(pc->stream, STREAM_OPENING, sizeof STREAM_OPENING - 1);
        stream_opened(s);
        nc_httpd_stream_on_close(pc->stream, post_closed, s);
        enum MHD_Result ret = nc_httpd_stream_answer(pc->stream, conn, NULL, NULL);
        nc_httpd_stream_release(pc->stream);
        pc->stream = NULL;
        return ret;
    }
    if (pc->direct) {
        char *text = pc->direct;
        pc->direct = NULL;
        return answer_json(conn, in->kind == NC_MCP_IN_INVALID ? 400 : 200, text, pc->direct_len, new_session);
    }
    if (e != NC_OK)
        return refuse(conn, 500, "internal", "Internal error: out of memory handling the message");
    if (in->kind == NC_MCP_IN_NOTIFICATION || in->kind == NC_MCP_IN_RESPONSE)
        return answer_empty(conn, 202);
    if (in->kind == NC_MCP_IN_BLANK)
        return refuse(conn, 400, "bad_request", "Bad Request: the body is empty; POST one JSON-RPC message");
    return refuse(conn, 500, "internal", "Internal error: the message got no answer");
}

static nc_err feed(session *s, nc_httpd_req *r, post_ctx *pc, nc_mcp_in *in)
{
    size_t len;
    char *body = nc_httpd_req_body(r, &len);
    pc->s = s;
    pc->h = nc_httpd_req_server(r);
    tl_post = pc;
    nc_err e = nc_mcp_handle_message(s->core, body, len, in);
    tl_post = NULL;
    return e;
}

/* A POST without a session: initialize opens one (server/discover is
 * answered, and nothing else is taken). */
static enum MHD_Result post_open(http_transport *t, nc_httpd_req *r, req_state *rs)
{
    struct MHD_Connection *conn = nc_httpd_req_conn(r);
    session *s = session_new(t, rs->cred);
    rs->cred = NULL;
    if (!s)
        return refuse(conn, 503, "busy", "Service Unavailable: out of memory");
    post_ctx pc = {0};
    nc_mcp_in in;
    nc_err e = feed(s, r, &pc, &in);
    enum MHD_Result ret;
    if (e == NC_OK && nc_mcp_initialized(s->core) && pc.direct) {
        if (!table_insert(t, s)) {
            ret = refusef(conn, 503, "busy", "Service Unavailable: %u sessions are open and in use; end one (DELETE) "
                                             "or try later", NC_MCP_HTTP_MAX_SESSIONS);
        } else if (!start_owner(s)) {
            session_end(s, "no thread for it");
            ret = refuse(conn, 503, "busy", "Service Unavailable: cannot start a thread for the session");
        } else {
            logf_("HTTP session %u started for agent %s", s->serial, t->agent);
            ret = answer_post(conn, s, &pc, &in, e, s->id);
        }
    } else if (pc.direct && (in.kind == NC_MCP_IN_INVALID || strcmp(in.method, "initialize") == 0 ||
                             strcmp(in.method, "server/discover") == 0)) {
        /* its error: not a JSON-RPC message, an initialize refused (bad params), or server/discover
         * declined (the client initializes next) */
        ret = answer_post(conn, s, &pc, &in, e, NULL);
    } else {
        ret = refuse(conn, 400, "bad_request", "Bad Request: Mcp-Session-Id is required: POST initialize first");
    }
    free(pc.direct);
    session_unref(s);   /* ours; the table and the owner keep theirs */
    return ret;
}

static enum MHD_Result open_get(session *s, nc_httpd_req *r)
{
    struct MHD_Connection *conn = nc_httpd_req_conn(r);
    nc_httpd_stream *st = nc_httpd_stream_new(nc_httpd_req_server(r), NC_MCP_HTTP_STREAM_QUEUE), *old;
    if (!st)
        return refuse(conn, 503, "busy", "Service Unavailable: out of memory");
    (void)nc_httpd_stream_push(st, STREAM_OPENING, sizeof STREAM_OPENING - 1);
    pthread_mutex_lock(&s->mu);
    /* not answered yet: pushing resumes nothing, so it may happen under the lock */
    for (size_t i = 0; i < s->npending; i++)
        (void)nc_httpd_stream_push(st, s->pending[i], s->pending_len[i]);
    free_pending_locked(s);
    old = s->get;
    s->get = nc_httpd_stream_ref(st);
    pthread_mutex_unlock(&s->mu);
    if (old) {   /* one GET stream at a time: the newest */
        nc_httpd_stream_end(old);
        nc_httpd_stream_release(old);
    }
    stream_opened(s);
    nc_httpd_stream_on_close(st, get_closed, s);
    enum MHD_Result ret = nc_httpd_stream_answer(st, conn, NULL, NULL);
    nc_httpd_stream_release(st);
    return ret;
}

/* The whole request is in (a handler thread): the worker checks the token,
 * then the method's work. */
static enum MHD_Result on_request(void *ctx, nc_httpd_req *r)
{
    http_transport *t = ctx;
    req_state *rs = nc_httpd_req_user(r);
    struct MHD_Connection *conn = nc_httpd_req_conn(r);
    session *s = rs->s;
    nc_rpc_error err;
    nc_err e = nc_mcp_link_verify(t->link, s ? s->cred : rs->cred, &err);
    if (e == NC_ERR_UNAUTHORIZED) {
        if (s)
            session_end(s, "the worker no longer accepts its token");
        return refusef(conn, 401, "invalid_token", "Unauthorized: %s", err.message);
    }
    if (e != NC_OK)
        return refusef(conn, 503, "unavailable", "Service Unavailable: %s", err.message);
    const char *method = nc_httpd_req_method(r);
    if (!s)
        return post_open(t, r, rs);
    session_touch(s);
    if (strcmp(method, "DELETE") == 0) {
        session_end(s, "the client ended it (DELETE)");
        return answer_empty(conn, 204);
    }
    if (strcmp(method, "GET") == 0)
        return open_get(s, r);
    post_ctx pc = {0};
    nc_mcp_in in;
    e = feed(s, r, &pc, &in);
    enum MHD_Result ret = answer_post(conn, s, &pc, &in, e, NULL);
    free(pc.direct);
    return ret;
}

static void on_done(void *ctx, nc_httpd_req *r)
{
    (void)ctx;
    req_state *rs = nc_httpd_req_user(r);
    if (!rs)
        return;
    session_unref(rs->s);
    nc_mcp_cred_free(rs->cred);
    free(rs);
}

/* ---- the server ---- */

/* Ends the sessions idle for --session-idle with no stream open. */
static void *sweeper_main(void *arg)
{
    http_transport *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += SWEEP_S;
        pthread_cond_timedwait(&t->cond, &t->mu, &ts);
        int64_t now = mono_s();
        session *idle = NULL;
        for (size_t i = 0; i < NC_MCP_HTTP_MAX_SESSIONS && !idle && !t->stopping; i++) {
            session *s = t->table[i];
            if (s && s->streams_open == 0 && now - s->last_seen >= (int64_t)t->idle_s)
                idle = session_ref_locked(s);
        }
        if (idle) {
            pthread_mutex_unlock(&t->mu);
            session_end(idle, "idle, with no stream open (--session-idle)");
            session_unref(idle);
            pthread_mutex_lock(&t->mu);
        }
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

static nc_err start_server(http_transport *t, const nc_httpd_listen *where, unsigned max_connections)
{
    static const char *const methods[] = {"GET", "POST", "DELETE", NULL};
    char msg[512];
    nc_httpd_config cfg = {
        .name = "nightcore-mcp",
        .csp = CSP,
        .methods = methods,
        .host_refused_status = 403,
        .poll_threads = NC_MCP_HTTP_POLL_THREADS,
        .handler_threads = NC_MCP_HTTP_HANDLER_THREADS,
        .max_jobs = NC_MCP_HTTP_MAX_JOBS,
        .idle_timeout_s = NC_MCP_HTTP_IDLE_TIMEOUT_S,
        .max_connections = max_connections,
        .keepalive_s = NC_MCP_HTTP_KEEPALIVE_S,
        .conn_memory_bytes = NC_MCP_HTTP_CONN_MEMORY,
        .max_head_bytes = NC_MCP_HTTP_MAX_HEAD,
        .max_body_bytes = NC_MCP_HTTP_MAX_BODY,
        .discard_body_bytes = NC_MCP_HTTP_DISCARD_BODY,
        .body_budget_bytes = NC_MCP_HTTP_BODY_BUDGET,
        .secret_bodies = false,   /* messages, not passphrases: the token is in a header */
        .head = on_head,
        .handle = on_request,
        .done = on_done,
        .refuse = refuse,
        .ctx = t,
    };
    nc_httpd *h = NULL;
    nc_err e = nc_httpd_start(&cfg, where, &h, msg, sizeof msg);
    if (e != NC_OK) {
        if (e == NC_ERR_BUSY && !where->unix_socket)
            fprintf(stderr, "nightcore-mcp: %s (in use? try --http 127.0.0.1:0)\n", msg);
        else
            fprintf(stderr, "nightcore-mcp: %s\n", msg[0] ? msg : "cannot start the HTTP server");
        return e;
    }
    t->servers[t->nservers++] = h;
    if (where->unix_socket)
        printf("MCP endpoint: http://localhost%s on unix:%s\n", NC_MCP_HTTP_PATH, where->path);
    else
        printf("MCP endpoint: http://%s%s\n", nc_httpd_host(h), NC_MCP_HTTP_PATH);
    fflush(stdout);
    return NC_OK;
}

static int serve(nc_mcp_link *link, const nc_mcp_options *opt)
{
    http_transport t = {.link = link, .agent = opt->agent, .idle_s = opt->session_idle_s};
    pthread_mutex_init(&t.mu, NULL);
    pthread_cond_init(&t.cond, NULL);
    int status = 1;
    unsigned max_connections = nc_httpd_connection_budget(NC_MCP_HTTP_MAX_CONNECTIONS, NC_MCP_HTTP_FD_RESERVE);

    /* Signals go to this thread only (sigwait below): blocked before any
     * thread starts, so every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    pthread_t sweeper;
    bool sweeping = false;
    if (opt->http) {
        nc_httpd_listen where = {.unix_socket = false, .port = opt->http_port};
        if (start_server(&t, &where, max_connections) != NC_OK)
            goto stop;
    }
    if (opt->http_socket) {
        nc_httpd_listen where = {.unix_socket = true, .path = opt->http_socket};
        if (start_server(&t, &where, max_connections) != NC_OK)
            goto stop;
    }
    if (pthread_create(&sweeper, NULL, sweeper_main, &t) != 0) {
        fprintf(stderr, "nightcore-mcp: cannot start a thread\n");
        goto stop;
    }
    sweeping = true;
    fprintf(stderr, "nightcore-mcp %s: agent %s, worker at %s; MCP over HTTP at %s%s%s (up to %u connections, "
                    "%u sessions)\n", NC_VERSION, opt->agent, nc_mcp_link_socket(link),
            opt->http ? nc_httpd_host(t.servers[0]) : "", opt->http && opt->http_socket ? " and unix:" : "",
            opt->http_socket ? opt->http_socket : "", max_connections, NC_MCP_HTTP_MAX_SESSIONS);
    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    logf_("stopping (signal %d)", sig);
    status = 0;
stop:
    pthread_mutex_lock(&t.mu);
    t.stopping = true;
    pthread_cond_broadcast(&t.cond);
    pthread_mutex_unlock(&t.mu);
    if (sweeping)
        pthread_join(sweeper, NULL);
    for (size_t i = 0; i < t.nservers; i++)
        nc_httpd_stop(t.servers[i]);   /* no request in progress, no stream open after this */
    for (size_t i = 0; i < NC_MCP_HTTP_MAX_SESSIONS; i++) {
        pthread_mutex_lock(&t.mu);
        session *s = t.table[i] ? session_ref_locked(t.table[i]) : NULL;
        pthread_mutex_unlock(&t.mu);
        if (s) {
            session_end(s, "the server is stopping");
            session_unref(s);
        }
    }
    /* the owner threads cancel the sessions' calls and wait for them */
    pthread_mutex_lock(&t.mu);
    while (t.live > 0)
        pthread_cond_wait(&t.cond, &t.mu);
    pthread_mutex_unlock(&t.mu);
    for (size_t i = 0; i < t.nservers; i++)
        nc_httpd_free(t.servers[i]);
    pthread_cond_destroy(&t.cond);
    pthread_mutex_destroy(&t.mu);
    return status;
}

const nc_mcp_transport nc_mcp_transport_http = {.name = "http", .serve = serve};
