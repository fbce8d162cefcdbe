/* nightcore-mcp's side of agent.sock: the connection pool, credentials, and
 * the agent's event feed (link.h). */
#include "mcp/link.h"
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/limits.h"
#include "mcp/httphead.h"

#define HELLO_TIMEOUT_MS 10000
#define CALL_TIMEOUT_MS 120000
/* A run is answered when it ends: the longest policy timeout, plus room for
 * waiting in the worker's queue. */
#define RUN_TIMEOUT_MS ((int)(NC_MAX_TIMEOUT_MS + 10u * 60 * 1000))
#define POOL_MAX 8          /* idle worker connections kept for later calls */
#define FEED_POLL_MS 1000   /* the event feed wakes this often (expiries, stopping) */
#define FEED_BACKOFF_MAX_MS 30000

#define WORKER_DOWN_MESSAGE "the Night Core worker is not running; ask the operator to start it (nightcore worker start)"

struct nc_mcp_link {
    char socket_path[PATH_MAX];
    uid_t worker_uid;            /* who must serve agent.sock (a planted socket never sees a token) */
    char agent[72];
    pthread_mutex_t mu;          /* the pool */
    nc_rpc *idle[POOL_MAX];      /* checked connections not in use; one call at a time each */
    unsigned nidle;
};

struct nc_mcp_cred {
    char *token;                 /* sodium_malloc'd, NUL-terminated; never printed */
    size_t len;
};

/* ---- credentials ---- */

nc_err nc_mcp_cred_new(const char *token, size_t len, nc_mcp_cred **out)
{
    *out = NULL;
    if (!nc_mcp_token_shape_ok(token, len))
        return NC_ERR_MALFORMED;
    nc_mcp_cred *c = calloc(1, sizeof *c);
    if (!c || !(c->token = sodium_malloc(len + 1))) {
        free(c);
        return NC_ERR_NOMEM;
    }
    memcpy(c->token, token, len);
    c->token[len] = '\0';
    c->len = len;
    *out = c;
    return NC_OK;
}

void nc_mcp_cred_free(nc_mcp_cred *c)
{
    if (!c)
        return;
    sodium_free(c->token);   /* wipes it */
    free(c);
}

bool nc_mcp_cred_same(const nc_mcp_cred *c, const char *token, size_t len)
{
    /* compared over the stored length whatever the given one: the time
     * says nothing about how much of it matched */
    char *given = sodium_malloc(c->len + 1);
    if (!given)
        return false;
    memset(given, 0, c->len + 1);
    memcpy(given, token, len < c->len ? len : c->len);
    bool same = sodium_memcmp(given, c->token, c->len) == 0 && len == c->len;
    sodium_free(given);
    return same;
}

/* ---- the link ---- */

nc_err nc_mcp_link_new(const char *socket_path, uid_t worker_uid, const char *agent, nc_mcp_link **out)
{
    *out = NULL;
    if (!nc_mcp_agent_name_ok(agent) || strlen(socket_path) >= PATH_MAX)
        return NC_ERR_USAGE;
    nc_mcp_link *l = calloc(1, sizeof *l);
    if (!l)
        return NC_ERR_NOMEM;
    snprintf(l->socket_path, sizeof l->socket_path, "%s", socket_path);
    snprintf(l->agent, sizeof l->agent, "%s", agent);
    l->worker_uid = worker_uid;
    pthread_mutex_init(&l->mu, NULL);
    *out = l;
    return NC_OK;
}

void nc_mcp_link_free(nc_mcp_link *l)
{
    if (!l)
        return;
    for (unsigned i = 0; i < l->nidle; i++)
        nc_rpc_free(l->idle[i]);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

const char *nc_mcp_link_agent(const nc_mcp_link *l)
{
    return l->agent;
}

const char *nc_mcp_link_socket(const nc_mcp_link *l)
{
    return l->socket_path;
}

static void set_error(nc_rpc_error *err, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_error(nc_rpc_error *err, const char *code, const char *fmt, ...)
{
    va_list ap;
    snprintf(err->code, sizeof err->code, "%s", code);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static json_t *token_params(const nc_mcp_cred *c, json_t *params /* stolen; may be NULL */)
{
    json_t *tok = json_stringn(c->token, c->len);
    if (!params)
        params = json_object();
    if (!params || !tok || json_object_set_new(params, "token", tok) != 0) {
        json_decref(params);
        return NULL;
    }
    return params;
}

/* hello on conn: proves it is alive and that the token is this agent's.
 * NC_RPC_REFUSED / NC_ERR_UNAUTHORIZED: a refusal to give the agent (err
 * set); any other failure is a transport error (err set too). */
static nc_err link_hello(nc_mcp_link *l, const nc_mcp_cred *c, nc_rpc *conn, nc_rpc_error *err)
{
    json_t *res = NULL, *params = token_params(c, NULL);
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
                     "the worker does not accept this agent's token (the token is wrong, or the agent was "
                     "removed); ask the operator to check `nightcore agent list`");
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
        set_error(err, "unauthorized",
                  "this token belongs to another agent than \"%s\" (--agent); ask the operator to fix this MCP "
                  "server's configuration", l->agent);
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

/* A live connection whose hello with c passed: an idle one from the pool
 * (checked again: the worker may have restarted), else a new one. */
static nc_err link_take(nc_mcp_link *l, const nc_mcp_cred *c, nc_rpc **out, nc_rpc_error *err)
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
        e = link_hello(l, c, conn, err);
        if (e == NC_OK) {
            *out = conn;
            return e;
        }
        if (is_refusal(e)) {   /* the connection is fine; the token is not */
            pthread_mutex_lock(&l->mu);
            if (l->nidle < POOL_MAX) {
                l->idle[l->nidle++] = conn;
                conn = NULL;
            }
            pthread_mutex_unlock(&l->mu);
            nc_rpc_free(conn);
            return e;
        }
        nc_rpc_free(conn);
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
    e = link_hello(l, c, conn, err);
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

static void link_give_back(nc_mcp_link *l, nc_rpc *conn)
{
    pthread_mutex_lock(&l->mu);
    if (l->nidle < POOL_MAX) {
        l->idle[l->nidle++] = conn;
        conn = NULL;
    }
    pthread_mutex_unlock(&l->mu);
    nc_rpc_free(conn);
}

nc_err nc_mcp_link_verify(nc_mcp_link *l, const nc_mcp_cred *c, nc_rpc_error *err)
{
    nc_rpc *conn = NULL;
    memset(err, 0, sizeof *err);
    nc_err e = link_take(l, c, &conn, err);
    if (e == NC_OK) {
        link_give_back(l, conn);
        return NC_OK;
    }
    if (is_refusal(e) && strcmp(err->code, "unauthorized") == 0)
        return NC_ERR_UNAUTHORIZED;
    if (!err->code[0])
        set_error(err, "unavailable", "%s", WORKER_DOWN_MESSAGE);
    return e == NC_ERR_UNAUTHORIZED ? NC_ERR_INTERNAL : e;
}

nc_err nc_mcp_link_call_stream(void *caller, const char *op, json_t *params, nc_mcp_event_cb on_event,
                               void *cb_ctx, json_t **result, nc_rpc_error *err)
{
    nc_mcp_caller *who = caller;
    nc_mcp_link *l = who->link;
    nc_rpc *conn = NULL;
    *result = NULL;
    memset(err, 0, sizeof *err);
    nc_err e = link_take(l, who->cred, &conn, err);
    if (e != NC_OK) {
        json_decref(params);
        return e;
    }
    if (!(params = token_params(who->cred, params))) {
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

nc_err nc_mcp_link_call(void *caller, const char *op, json_t *params, json_t **result, nc_rpc_error *err)
{
    return nc_mcp_link_call_stream(caller, op, params, NULL, NULL, result, err);
}

/* ---- the worker's agent events: a subscription kept open on its own
 * connection, re-established when it drops ---- */

static void feed_sleep(atomic_bool *stop, unsigned ms)
{
    for (unsigned slept = 0; slept < ms && !atomic_load(stop); slept += 100) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void feed_log(nc_mcp_log_fn log, void *log_ctx, const char *text)
{
    if (log)
        log(log_ctx, text);
}

nc_err nc_mcp_feed_run(nc_mcp_link *l, const nc_mcp_cred *c, nc_mcp_server *s, atomic_bool *stop,
                       nc_mcp_log_fn log, void *log_ctx)
{
    unsigned backoff = 1000;
    bool said_down = false;
    while (!atomic_load(stop)) {
        nc_rpc *conn = NULL;
        nc_rpc_error err;
        json_t *res = NULL;
        memset(&err, 0, sizeof err);
        nc_err e = link_take(l, c, &conn, &err);
        if (is_refusal(e) && strcmp(err.code, "unauthorized") == 0) {
            char line[700];
            snprintf(line, sizeof line, "the worker refuses this agent's token (%s); no more events", err.message);
            feed_log(log, log_ctx, line);
            return NC_ERR_UNAUTHORIZED;
        }
        json_t *params = e == NC_OK ? token_params(c, NULL) : NULL;
        if (e == NC_OK && params) {
            nc_rpc_set_timeout(conn, CALL_TIMEOUT_MS);
            e = nc_rpc_call(conn, "events.subscribe", params, &res, &err);
            json_decref(res);
        } else if (e == NC_OK) {
            e = NC_ERR_NOMEM;
        }
        if (e == NC_OK) {
            feed_log(log, log_ctx, "subscribed to the worker's events for this agent");
            said_down = false;
            backoff = 1000;
            nc_mcp_feed_state(s, true);
            while (!atomic_load(stop)) {
                json_t *ev = NULL;
                e = nc_rpc_read_event(conn, &ev, FEED_POLL_MS);
                if (e != NC_OK)
                    break;
                if (ev)
                    nc_mcp_on_event(s, ev);
                json_decref(ev);
                nc_mcp_tick(s);
            }
            nc_mcp_feed_state(s, false);
            if (!atomic_load(stop))
                feed_log(log, log_ctx, "lost the worker's event subscription; reconnecting");
        } else if (!said_down) {
            char line[700];
            snprintf(line, sizeof line, "cannot subscribe to the worker's events (%s: %s); retrying", err.code,
                     err.message);
            feed_log(log, log_ctx, line);
            said_down = true;
        }
        nc_rpc_free(conn);
        feed_sleep(stop, backoff);
        backoff = backoff * 2 > FEED_BACKOFF_MAX_MS ? FEED_BACKOFF_MAX_MS : backoff * 2;
    }
    return NC_OK;
}
