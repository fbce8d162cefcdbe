#include "mcp/mcp.h"
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mcp/runview.h"
#include "mcp/schema.h"
#include "mcp/tools.h"

#define AGENT_NAME_MAX 64
#define SHOWN_NAME_MAX 64   /* method or tool names quoted back in messages */

/* Versions we speak, newest first (lifecycle: answer the client's version if
 * we support it, otherwise our latest, and let the client decide). */
static const char *const protocol_versions[] = {NC_MCP_PROTOCOL_LATEST, "2025-06-18", "2025-03-26", NULL};

#define WAIT_DEFAULT_S 50
#define WAIT_PROGRESS_S 15      /* a waiting call's progress notification, and a re-check */
#define WAIT_RECHECK_FEED_DOWN_S 5
#define SUBMISSION_URI "nightcore://submissions/"
#define RUN_URI "nightcore://runs/"
#define RESOURCES_PAGE 100

typedef struct job job;

/* One tools/call in progress. */
struct job {
    job *next;
    nc_mcp_server *s;
    json_t *id;                  /* the request's id */
    json_t *args;                /* validated arguments */
    json_t *progress_token;      /* params._meta.progressToken, or NULL */
    const nc_mcp_tool *tool;     /* a built-in, or NULL for an approval's tool */
    char approval_id[72];        /* an approval's tool: the approval it runs */
    char name[80];               /* the tool's name, for the log */
    bool cancelled;              /* notifications/cancelled: no response is sent */
    char run_id[48];             /* a run's id, once the worker has accepted it */
    bool cancel_sent;            /* run.cancel was asked for */
    double progress;             /* the last progress value sent */
    char progress_state[16];     /* the run state last reported */
    uint64_t progress_ms;        /* when */
};

struct nc_mcp_server {
    char agent[AGENT_NAME_MAX + 1];
    nc_mcp_backend be;
    json_t *tools;               /* the built-ins' tools/list entries */
    char *instructions;
    atomic_bool initialized;     /* initialize answered (written by the main thread only) */
    _Atomic(const char *) protocol;   /* the version settled on (one of protocol_versions) */
    pthread_mutex_t mu;          /* everything below */
    pthread_cond_t cond;         /* an event, a job's end, a cancellation, stopping */
    job *jobs;
    unsigned njobs;
    unsigned helpers;            /* run.cancel calls on their own threads */
    bool stopping;
    uint64_t event_gen;          /* bumped by every event and feed change */
    bool feed_up;
    json_t *approval_tools;      /* the approvals' tools; NULL until first read */
    int64_t next_expiry;         /* the earliest expires_at among them; 0: none */
    json_t *subscriptions;       /* resources/subscribe: {uri: true} */
};

bool nc_mcp_agent_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n >= 1 && n <= AGENT_NAME_MAX && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static void logf_(const nc_mcp_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const nc_mcp_server *s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    if (!s->be.log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->be.log(s->be.ctx, line);
}

/* Agent-supplied bytes quoted in a message: printable ASCII only, shortened. */
static void printable(const char *in, size_t in_len, char *out, size_t out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < in_len && o + 4 < out_len && i < SHOWN_NAME_MAX; i++) {
        unsigned char c = (unsigned char)in[i];
        out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (in_len > SHOWN_NAME_MAX && o + 4 <= out_len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    if (out_len)
        out[o] = '\0';
}

/* A JSON string from bytes that may not be valid UTF-8 (a worker message cut
 * at a byte limit, jansson's parse error text): invalid input keeps its
 * ASCII and turns every other byte into '?'. */
static json_t *text_json(const char *s)
{
    size_t n = strlen(s);
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    char *copy = malloc(n + 1);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < n; i++)
        copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    copy[n] = '\0';
    j = json_stringn(copy, n);
    free(copy);
    return j;
}

/* {"jsonrpc":"2.0","id":id,"error":{"code":code,"message":...}}; id NULL: null. */
static json_t *error_response(const json_t *id, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static json_t *error_response(const json_t *id, int code, const char *fmt, ...)
{
    char message[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    json_t *m = text_json(message);
    if (!m)
        return NULL;
    return json_pack("{s:s, s:O, s:{s:i, s:o}}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", "code",
                     code, "message", m);
}

static json_t *result_response(const json_t *id, json_t *result /* stolen */)
{
    if (!result)
        return NULL;
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

/* ---- tools/call results ---- */

/* A refusal as the agent sees it: isError, the code and message in the text
 * and in structuredContent.error. */
static json_t *tool_error(const char *code, const char *message)
{
    char text[1024];
    snprintf(text, sizeof text, "%s: %s", code, message);
    json_t *t = text_json(text), *c = text_json(code), *m = text_json(message);
    if (!t || !c || !m) {
        json_decref(t);
        json_decref(c);
        json_decref(m);
        return NULL;
    }
    return json_pack("{s:[{s:s, s:o}], s:{s:{s:o, s:o}}, s:b}", "content", "type", "text", "text", t,
                     "structuredContent", "error", "code", c, "message", m, "isError", 1);
}

static json_t *tool_success(json_t *result /* stolen */)
{
    char *text = json_dumps(result, JSON_COMPACT);
    json_t *r = NULL;
    if (text)
        r = json_pack("{s:[{s:s, s:s}], s:O, s:b}", "content", "type", "text", "text", text, "structuredContent",
                      result, "isError", 0);
    free(text);
    json_decref(result);
    return r;
}

/* A result with its own text (a run's summary) beside structuredContent. */
static json_t *tool_success_text(json_t *result /* stolen */, char *text /* freed */)
{
    json_t *t = text ? text_json(text) : NULL;
    json_t *r = t ? json_pack("{s:[{s:s, s:o}], s:o, s:b}", "content", "type", "text", "text", t, "structuredContent",
                              result, "isError", 0)
                  : NULL;
    if (!t)
        json_decref(result);
    free(text);
    return r;
}

/* ---- sending: every message goes out through the backend, one line ---- */

static void send_json(nc_mcp_server *s, nc_mcp_out kind, const json_t *request, json_t *msg /* stolen */)
{
    if (!msg) {
        logf_(s, "out of memory building a message; it was not sent");
        if (kind == NC_MCP_OUT_RESPONSE)   /* its request is over all the same */
            s->be.send(s->be.ctx, NC_MCP_OUT_DROPPED, request, NULL, 0);
        return;
    }
    /* Compact: jansson escapes control characters inside strings, so the
     * message is one line, as the stdio transport requires. */
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text) {
        logf_(s, "out of memory encoding a message; it was not sent");
        if (kind == NC_MCP_OUT_RESPONSE)
            s->be.send(s->be.ctx, NC_MCP_OUT_DROPPED, request, NULL, 0);
        return;
    }
    s->be.send(s->be.ctx, kind, request, text, strlen(text));
    free(text);
}

/* A notification of the session (SESSION), or about a request (PROGRESS). */
static void send_notification(nc_mcp_server *s, nc_mcp_out kind, const json_t *request, const char *method,
                              json_t *params /* stolen, may be NULL */)
{
    json_t *m = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
    if (m && params)
        json_object_set_new(m, "params", params);
    else
        json_decref(params);
    send_json(s, kind, request, m);
}

static bool id_ok_str(const char *p)
{
    size_t n = strlen(p);
    return n >= 1 && n <= 40 && strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits on s->cond (s->mu held) for at most ms milliseconds. */
static void cond_wait_ms(nc_mcp_server *s, uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    int rc;
    do
        rc = pthread_cond_timedwait(&s->cond, &s->mu, &ts);
    while (rc == EINTR);
}

/* ---- the approvals' tools ---- */

/* Reads approvals.list and makes the approvals' tools of it; sends
 * tools/list_changed when they differ from before (and the client is set up).
 * With items_out, the list read (new reference). */
static void refresh_approval_tools(nc_mcp_server *s, bool notify, json_t **items_out)
{
    nc_rpc_error err;
    json_t *res = NULL;
    memset(&err, 0, sizeof err);
    if (items_out)
        *items_out = NULL;
    if (s->be.call(s->be.worker, "approvals.list", json_object(), &res, &err) != NC_OK || !json_is_object(res) ||
        !json_is_array(json_object_get(res, "items"))) {
        json_decref(res);
        return;   /* the worker is away: keep what we had (runs are verified anyway) */
    }
    json_t *items = json_object_get(res, "items");
    json_t *tools = nc_mcp_approval_tools(items, s->agent);
    if (!tools) {
        json_decref(res);
        return;
    }
    int64_t next = 0;
    size_t i;
    json_t *a;
    json_array_foreach(items, i, a) {
        int64_t e = json_integer_value(json_object_get(a, "expires_at"));
        if (e > 0 && (next == 0 || e < next))
            next = e;
    }
    pthread_mutex_lock(&s->mu);
    bool changed = !s->approval_tools || !json_equal(s->approval_tools, tools);
    bool had = s->approval_tools != NULL;
    json_decref(s->approval_tools);
    s->approval_tools = tools;
    s->next_expiry = next;
    pthread_mutex_unlock(&s->mu);
    if (changed && had && notify && s->initialized) {
        logf_(s, "the approved tools changed (%zu now)", json_array_size(tools));
        send_notification(s, NC_MCP_OUT_SESSION, NULL, "notifications/tools/list_changed", NULL);
    }
    if (items_out)
        *items_out = json_incref(items);
    json_decref(res);
}

/* A copy of the approval tool named name (NULL if none). */
static json_t *approval_tool_copy(nc_mcp_server *s, const char *name)
{
    json_t *found = NULL, *t;
    size_t i;
    pthread_mutex_lock(&s->mu);
    json_array_foreach(s->approval_tools, i, t) {
        if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0) {
            found = json_deep_copy(t);
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return found;
}

/* ---- jobs ---- */

static void job_free(job *j)
{
    if (!j)
        return;
    json_decref(j->id);
    json_decref(j->args);
    json_decref(j->progress_token);
    free(j);
}

static bool job_cancelled(job *j)
{
    pthread_mutex_lock(&j->s->mu);
    bool c = j->cancelled;
    pthread_mutex_unlock(&j->s->mu);
    return c;
}

/* notifications/progress for the job's progressToken, if it gave one;
 * progress only ever grows. */
static void job_progress(job *j, double progress, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void job_progress(job *j, double progress, const char *fmt, ...)
{
    char message[256];
    va_list ap;
    (void)progress;
    if (!j->progress_token || job_cancelled(j))
        return;
    /* a count: each notification is one step on (the message says what it is) */
    progress = j->progress + 1;
    j->progress = progress;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    send_notification(j->s, NC_MCP_OUT_PROGRESS, j->id, "notifications/progress",
                      json_pack("{s:O, s:f, s:s}", "progressToken", j->progress_token, "progress", progress,
                                "message", message));
}

/* The job's response (unless it was cancelled), then it leaves the table. */
static void job_finish(job *j, json_t *result /* stolen; NULL: out of memory */)
{
    nc_mcp_server *s = j->s;
    if (job_cancelled(j)) {
        logf_(s, "%s: cancelled by the client; no response sent", j->name);
        json_decref(result);
        s->be.send(s->be.ctx, NC_MCP_OUT_DROPPED, j->id, NULL, 0);
    } else if (result) {
        send_json(s, NC_MCP_OUT_RESPONSE, j->id, result_response(j->id, result));
    } else {
        send_json(s, NC_MCP_OUT_RESPONSE, j->id,
                  error_response(j->id, NC_JSONRPC_INTERNAL_ERROR, "out of memory building the result"));
    }
    pthread_mutex_lock(&s->mu);
    for (job **pp = &s->jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    s->njobs--;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    job_free(j);
}

/* The worker's refusal (or the link's failure) as a tool result. */
static json_t *refusal_result(nc_mcp_server *s, const char *tool, nc_err e, nc_rpc_error *rerr)
{
    if (!rerr->code[0])
        snprintf(rerr->code, sizeof rerr->code, "internal");
    if (!rerr->message[0])
        snprintf(rerr->message, sizeof rerr->message, "%s", nc_strerror(e));
    logf_(s, "%s: refused: %s: %s", tool, rerr->code, rerr->message);
    return tool_error(rerr->code, rerr->message);
}

/* Calls op; on success *res is an object. Otherwise the tool result to send. */
static json_t *job_call(job *j, const char *op, json_t *params, json_t **res)
{
    nc_rpc_error rerr;
    memset(&rerr, 0, sizeof rerr);
    *res = NULL;
    if (!params)
        return tool_error("internal", "out of memory building the worker request");
    nc_err e = j->s->be.call(j->s->be.worker, op, params, res, &rerr);
    if (e == NC_OK && !json_is_object(*res)) {
        json_decref(*res);
        *res = NULL;
        e = NC_ERR_MALFORMED;
        snprintf(rerr.code, sizeof rerr.code, "internal");
        snprintf(rerr.message, sizeof rerr.message, "the worker's answer to %s is not an object", op);
    }
    return e == NC_OK ? NULL : refusal_result(j->s, j->name, e, &rerr);
}

static json_t *run_call(job *j, const char *op, json_t *params, json_t **res);

static int64_t int_arg(const json_t *args, const char *key, int64_t def)
{
    const json_t *v = json_object_get(args, key);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

/* A run's result: the first page of its output in structuredContent, and
 * the summary as text. */
static json_t *run_result(job *j, json_t *run /* stolen */, const nc_mcp_page *page)
{
    json_t *view = nc_mcp_run_view(run, page);
    char *summary = nc_mcp_run_summary(run);
    json_decref(run);
    if (!view || !summary) {
        json_decref(view);
        free(summary);
        return NULL;
    }
    logf_(j->s, "%s: ok (%s)", j->name, json_string_value(json_object_get(view, "outcome")));
    return tool_success_text(view, summary);
}

static const nc_mcp_page first_page = {0, NC_MCP_RESULT_PAGE_BYTES, 0, NC_MCP_RESULT_PAGE_BYTES, false, false};
/* the same page, cut by the worker (run.get with offsets) */
static const nc_mcp_page first_page_paged = {0, NC_MCP_RESULT_PAGE_BYTES, 0, NC_MCP_RESULT_PAGE_BYTES, false, true};

static json_t *do_run(job *j)
{
    json_t *params, *res = NULL, *out;
    if (j->tool) {
        params = nc_mcp_tool_params(j->tool, j->args);
    } else {
        /* an approval's own tool: exactly that approval, with what it grants */
        params = json_pack("{s:s}", "ref", j->approval_id);
        const json_t *args = json_object_get(j->args, "args"), *in = json_object_get(j->args, "stdin");
        if (params && args)
            json_object_set(params, "args", (json_t *)args);
        if (params && json_is_string(in) && json_string_length(in) > 0) {
            size_t n = json_string_length(in), cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
            char *b64 = malloc(cap);
            if (!b64) {
                json_decref(params);
                params = NULL;
            } else {
                sodium_bin2base64(b64, cap, (const unsigned char *)json_string_value(in), n,
                                  sodium_base64_VARIANT_ORIGINAL);
                json_object_set_new(params, "stdin_b64", json_string(b64));
                free(b64);
            }
        }
    }
    job_progress(j, 0, "submitted to Night Core: verifying the approval, then queued");
    if ((out = run_call(j, "run", params, &res)) != NULL)
        return out;
    return run_result(j, res, &first_page);
}

static json_t *do_get_run(job *j)
{
    json_t *res = NULL, *out;
    nc_mcp_page page = {
        .stdout_offset = int_arg(j->args, "stdout_offset", 0),
        .stdout_limit = int_arg(j->args, "stdout_limit", NC_MCP_DEFAULT_PAGE_BYTES),
        .stderr_offset = int_arg(j->args, "stderr_offset", 0),
        .stderr_limit = int_arg(j->args, "stderr_limit", NC_MCP_DEFAULT_PAGE_BYTES),
        .binary = json_is_true(json_object_get(j->args, "binary")),
        .worker_paged = true,   /* the worker cuts the pages: only they cross the socket */
    };
    json_t *params = nc_mcp_tool_params(j->tool, j->args);
    if (params)
        json_object_update_new(params, json_pack("{s:I, s:I, s:I, s:I}", "stdout_offset",
                                                 (json_int_t)page.stdout_offset, "stdout_limit",
                                                 (json_int_t)page.stdout_limit, "stderr_offset",
                                                 (json_int_t)page.stderr_offset, "stderr_limit",
                                                 (json_int_t)page.stderr_limit));
    if ((out = job_call(j, "run.get", params, &res)) != NULL)
        return out;
    return run_result(j, res, &page);
}

static const char *agent_state_of(const json_t *sub)
{
    return json_string_value(json_object_get(json_object_get(sub, "agent_state"), "state"));
}

/* wait_for_submission: re-read the submission whenever the worker's events
 * say something changed, until it is decided or the time is up. */
static json_t *do_wait(job *j)
{
    nc_mcp_server *s = j->s;
    uint64_t start = mono_ms();
    uint64_t deadline = start + (uint64_t)int_arg(j->args, "timeout_s", WAIT_DEFAULT_S) * 1000u;
    uint64_t last_progress = start;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        uint64_t gen = s->event_gen;
        pthread_mutex_unlock(&s->mu);
        json_t *sub = NULL, *out;
        if ((out = job_call(j, "submission.get", nc_mcp_tool_params(j->tool, j->args), &sub)) != NULL)
            return out;
        const char *state = agent_state_of(sub);
        uint64_t now = mono_ms();
        pthread_mutex_lock(&s->mu);
        bool stop = s->stopping || j->cancelled || !s->be.spawn;
        pthread_mutex_unlock(&s->mu);
        bool decided = state && strcmp(state, "pending") != 0;
        if (decided || stop || now >= deadline) {
            logf_(s, "%s: %s after %llu ms", j->name, decided ? state : "still pending",
                  (unsigned long long)(now - start));
            return tool_success(json_pack("{s:b, s:I, s:o}", "timed_out", !decided, "waited_ms",
                                          (json_int_t)(now - start), "submission", sub));
        }
        json_decref(sub);
        /* sleep until an event, a progress beat, a re-check or the deadline */
        pthread_mutex_lock(&s->mu);
        for (;;) {
            now = mono_ms();
            uint64_t beat = last_progress + WAIT_PROGRESS_S * 1000u;
            uint64_t wake = deadline < beat ? deadline : beat;
            if (!s->feed_up && wake > now + WAIT_RECHECK_FEED_DOWN_S * 1000u)
                wake = now + WAIT_RECHECK_FEED_DOWN_S * 1000u;
            if (s->event_gen != gen || s->stopping || j->cancelled || now >= wake)
                break;
            cond_wait_ms(s, wake - now);
        }
        pthread_mutex_unlock(&s->mu);
        if (mono_ms() >= last_progress + WAIT_PROGRESS_S * 1000u) {
            last_progress = mono_ms();
            job_progress(j, (double)(last_progress - start) / 1000.0,
                         "waiting for a human to review the submission (%llu s so far)",
                         (unsigned long long)((last_progress - start) / 1000));
        }
    }
}

/* list_approvals: each approval with the tool it appears as. */
static json_t *do_list_approvals(job *j)
{
    json_t *items = NULL;
    refresh_approval_tools(j->s, true, &items);
    if (!items) {
        json_t *res = NULL, *out;   /* the refusal, as the worker gives it */
        if ((out = job_call(j, "approvals.list", json_object(), &res)) != NULL)
            return out;
        items = json_incref(json_object_get(res, "items"));
        json_decref(res);
        if (!json_is_array(items)) {
            json_decref(items);
            return tool_error("internal", "the worker's approvals.list answer has no items");
        }
    }
    json_t *tools = nc_mcp_approval_tools(items, j->s->agent), *t, *a;
    size_t i, k;
    json_array_foreach(items, i, a) {
        json_array_foreach(tools, k, t) {
            const char *aid = nc_mcp_approval_tool_id(t);
            if (aid && json_is_string(json_object_get(a, "id")) &&
                strcmp(aid, json_string_value(json_object_get(a, "id"))) == 0)
                json_object_set(a, "tool", json_object_get(t, "name"));
        }
    }
    json_decref(tools);
    logf_(j->s, "%s: ok (%zu)", j->name, json_array_size(items));
    return tool_success(json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)json_array_size(items)));
}

static void job_main(void *arg)
{
    job *j = arg;
    json_t *out = NULL, *res = NULL;
    nc_mcp_kind kind = j->tool ? nc_mcp_tool_kind(j->tool) : NC_MCP_KIND_RUN;
    switch (kind) {
    case NC_MCP_KIND_RUN:
        out = do_run(j);
        break;
    case NC_MCP_KIND_GET_RUN:
        out = do_get_run(j);
        break;
    case NC_MCP_KIND_WAIT:
        out = do_wait(j);
        break;
    case NC_MCP_KIND_APPROVALS:
        out = do_list_approvals(j);
        break;
    case NC_MCP_KIND_CALL:
        if (!(out = job_call(j, nc_mcp_tool_op(j->tool), nc_mcp_tool_params(j->tool, j->args), &res))) {
            logf_(j->s, "%s: ok", j->name);
            out = tool_success(res);
        }
        break;
    }
    job_finish(j, out);
}

/* A run, streamed when the backend can (progress: started, elapsed, output
 * so far), else one call that answers when the run ends. */
typedef struct {
    nc_mcp_server *s;
    char run_id[48];
} cancel_req;

/* run.cancel for a run whose caller cancelled its request. */
static void cancel_main(void *arg)
{
    cancel_req *c = arg;
    nc_mcp_server *s = c->s;
    nc_rpc_error rerr;
    json_t *res = NULL;
    memset(&rerr, 0, sizeof rerr);
    nc_err e = s->be.call(s->be.worker, "run.cancel", json_pack("{s:s}", "run", c->run_id), &res, &rerr);
    if (e == NC_OK)
        logf_(s, "run %s: cancelled (%s)", c->run_id,
              json_is_true(json_object_get(res, "cancelled")) ? "stopped" : "it had already finished");
    else
        logf_(s, "run %s: cannot cancel it: %s: %s", c->run_id, rerr.code, rerr.message);
    json_decref(res);
    free(c);
    pthread_mutex_lock(&s->mu);   /* the last touch of s: nc_mcp_wait_idle waits for it */
    s->helpers--;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

static void send_run_cancel(nc_mcp_server *s, const char *run_id)
{
    cancel_req *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->s = s;
    snprintf(c->run_id, sizeof c->run_id, "%s", run_id);
    pthread_mutex_lock(&s->mu);
    s->helpers++;
    pthread_mutex_unlock(&s->mu);
    if (!s->be.spawn || !s->be.spawn(s->be.ctx, cancel_main, c))
        cancel_main(c);
}

/* A streamed run's events: its id (for cancelling), and progress for the
 * caller (when the state changes, and at most once a second meanwhile). */
static void on_run_event(void *ctx, const json_t *ev, const uint8_t *raw, size_t raw_len)
{
    job *j = ctx;
    (void)raw;       /* the output comes with the reply (a run streamed without output "raw") */
    (void)raw_len;
    nc_mcp_server *s = j->s;
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *rid = json_string_value(json_object_get(ev, "run_id"));
    if (!type || !rid || !id_ok_str(rid))
        return;
    pthread_mutex_lock(&s->mu);
    if (!j->run_id[0])
        snprintf(j->run_id, sizeof j->run_id, "%s", rid);
    bool cancel_now = j->cancelled && !j->cancel_sent;
    if (cancel_now)
        j->cancel_sent = true;
    pthread_mutex_unlock(&s->mu);
    if (cancel_now)
        send_run_cancel(s, rid);
    if (strcmp(type, "run.progress") != 0)
        return;
    const char *state = json_string_value(json_object_get(ev, "state"));
    uint64_t now = mono_ms();
    bool changed = state && strcmp(state, j->progress_state) != 0;
    if (!changed && now < j->progress_ms + 1000)
        return;
    snprintf(j->progress_state, sizeof j->progress_state, "%s", state ? state : "");
    j->progress_ms = now;
    json_int_t elapsed = json_integer_value(json_object_get(ev, "elapsed_ms"));
    json_int_t out = json_integer_value(json_object_get(ev, "stdout_bytes"));
    json_int_t err = json_integer_value(json_object_get(ev, "stderr_bytes"));
    if (state && strcmp(state, "queued") == 0)
        job_progress(j, 0, "run %s queued (waiting for a free sandbox), %lld ms", rid, (long long)elapsed);
    else
        job_progress(j, 0, "run %s %s: %lld ms, %lld bytes of stdout and %lld of stderr so far", rid,
                     changed ? "started" : "running", (long long)elapsed, (long long)out, (long long)err);
}

static json_t *run_call(job *j, const char *op, json_t *params, json_t **res)
{
    nc_mcp_server *s = j->s;
    if (!s->be.call_stream || !params)
        return job_call(j, op, params, res);
    nc_rpc_error rerr;
    memset(&rerr, 0, sizeof rerr);
    json_object_set_new(params, "stream", json_true());
    nc_err e = s->be.call_stream(s->be.worker, op, params, on_run_event, j, res, &rerr);
    if (e == NC_OK && !json_is_object(*res)) {
        json_decref(*res);
        *res = NULL;
        e = NC_ERR_MALFORMED;
        snprintf(rerr.code, sizeof rerr.code, "internal");
        snprintf(rerr.message, sizeof rerr.message, "the worker's answer to %s is not an object", op);
    }
    return e == NC_OK ? NULL : refusal_result(s, j->name, e, &rerr);
}

static json_t *tools_call(nc_mcp_server *s, const json_t *id, const json_t *params)
{
    char msg[512], shown[SHOWN_NAME_MAX + 8];
    json_t *approval_tool = NULL, *out = NULL;
    const json_t *name = json_object_get(params, "name");
    if (!json_is_string(name))
        return error_response(id, NC_JSONRPC_INVALID_PARAMS, "tools/call needs params.name, a string");
    printable(json_string_value(name), json_string_length(name), shown, sizeof shown);
    bool clean = strlen(json_string_value(name)) == json_string_length(name);
    const nc_mcp_tool *t = clean ? nc_mcp_tool_find(json_string_value(name)) : NULL;
    if (!t && clean)
        approval_tool = approval_tool_copy(s, json_string_value(name));
    if (!t && !approval_tool)
        return error_response(id, NC_JSONRPC_INVALID_PARAMS,
                              "Unknown tool: %s (tools/list has the tools: the built-ins and one per approval "
                              "you can run)", shown);
    const char *tool_name = t ? nc_mcp_tool_name(t) : json_string_value(json_object_get(approval_tool, "name"));

    const json_t *meta = json_object_get(params, "_meta"), *token = json_object_get(meta, "progressToken");
    if (meta && !json_is_object(meta)) {
        json_decref(approval_tool);
        return error_response(id, NC_JSONRPC_INVALID_PARAMS, "params._meta must be an object");
    }
    if (token && !json_is_string(token) && !json_is_integer(token)) {
        json_decref(approval_tool);
        return error_response(id, NC_JSONRPC_INVALID_PARAMS, "params._meta.progressToken must be a string or an "
                                                              "integer");
    }
    json_t *args = json_object_get(params, "arguments");
    json_t *empty = NULL;
    if (!args)
        args = empty = json_object();
    const json_t *schema = NULL;
    size_t i;
    json_t *def;
    if (t) {
        json_array_foreach(s->tools, i, def) {
            if (strcmp(json_string_value(json_object_get(def, "name")), tool_name) == 0)
                schema = json_object_get(def, "inputSchema");
        }
    } else {
        schema = json_object_get(approval_tool, "inputSchema");
    }
    if (!args || !schema || nc_mcp_schema_validate(schema, args, "arguments", msg, sizeof msg) != NC_OK) {
        if (!schema || !args)
            snprintf(msg, sizeof msg, "internal error: no inputSchema for %s", tool_name);
        logf_(s, "%s: invalid arguments: %s", tool_name, msg);
        out = tool_error("invalid_request", msg);
        goto done;
    }
    job *j = calloc(1, sizeof *j);
    if (!j)
        goto done;
    j->s = s;
    j->id = json_incref((json_t *)id);
    j->args = json_incref(args);
    j->progress_token = token ? json_incref((json_t *)token) : NULL;
    j->tool = t;
    snprintf(j->name, sizeof j->name, "%s", tool_name);
    if (!t)
        snprintf(j->approval_id, sizeof j->approval_id, "%s", nc_mcp_approval_tool_id(approval_tool));
    pthread_mutex_lock(&s->mu);
    bool dup = false;
    for (job *k = s->jobs; k; k = k->next)
        dup |= json_equal(k->id, (json_t *)id);
    bool full = s->njobs >= NC_MCP_MAX_INFLIGHT;
    bool ending = s->stopping;   /* nc_mcp_wait_idle waits for the jobs it counted: no new one after it */
    if (!dup && !full && !ending) {
        j->next = s->jobs;
        s->jobs = j;
        s->njobs++;
    }
    pthread_mutex_unlock(&s->mu);
    if (dup) {
        job_free(j);
        json_decref(empty);
        json_decref(approval_tool);
        return error_response(id, NC_JSONRPC_INVALID_REQUEST, "Invalid Request: a request with this id is still "
                                                               "in progress; ids must be unique");
    }
    if (full || ending) {
        job_free(j);
        out = ending ? tool_error("unavailable", "this MCP session is ending; connect again")
                     : tool_error("busy", "too many tool calls in progress at once; wait for one to finish");
        goto done;
    }
    if (!s->be.spawn) {
        job_main(j);
    } else {
        /* the transport learns where the job's messages go before any can come */
        s->be.send(s->be.ctx, NC_MCP_OUT_DEFERRED, j->id, NULL, 0);
        if (!s->be.spawn(s->be.ctx, job_main, j))
            job_finish(j, tool_error("internal", "cannot start a thread for this call; retry"));
    }
done:
    json_decref(empty);
    json_decref(approval_tool);
    return out ? result_response(id, out) : NULL;
}

/* notifications/cancelled: the job stops waiting and sends nothing. */
static void cancel_request(nc_mcp_server *s, const json_t *params)
{
    const json_t *rid = json_object_get(params, "requestId");
    if (!json_is_string(rid) && !json_is_integer(rid))
        return;
    char run_id[48] = "";
    pthread_mutex_lock(&s->mu);
    for (job *j = s->jobs; j; j = j->next)
        if (json_equal(j->id, (json_t *)rid) && !j->cancelled) {
            j->cancelled = true;
            logf_(s, "%s: the client cancelled it", j->name);
            if (j->run_id[0] && !j->cancel_sent) {   /* else its first event sends run.cancel */
                j->cancel_sent = true;
                snprintf(run_id, sizeof run_id, "%s", j->run_id);
            }
        }
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    if (run_id[0])
        send_run_cancel(s, run_id);
}

/* ---- tools/list ---- */

static json_t *tools_list(nc_mcp_server *s, const json_t *id, const json_t *params)
{
    if (json_object_get(params, "cursor"))
        return error_response(id, NC_JSONRPC_INVALID_PARAMS, "Invalid params: unknown cursor (tools/list has one "
                                                              "page; this server never gives a cursor)");
    pthread_mutex_lock(&s->mu);
    bool never = s->approval_tools == NULL;
    pthread_mutex_unlock(&s->mu);
    if (never)
        refresh_approval_tools(s, false, NULL);
    json_t *all = json_deep_copy(s->tools);
    pthread_mutex_lock(&s->mu);
    if (all && s->approval_tools)
        json_array_extend(all, s->approval_tools);
    pthread_mutex_unlock(&s->mu);
    return all ? result_response(id, json_pack("{s:o}", "tools", all)) : NULL;
}

/* ---- resources: the agent's submissions and runs ---- */

static bool id_ok(const char *p)
{
    size_t n = strlen(p);
    return n >= 1 && n <= 64 && strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* "nightcore://submissions/ID" or "nightcore://runs/ID": *kind 's' or 'r'. */
static bool parse_uri(const json_t *uri, char *kind, char *id_out, size_t id_len)
{
    if (!json_is_string(uri) || strlen(json_string_value(uri)) != json_string_length(uri))
        return false;
    const char *u = json_string_value(uri), *rest = NULL;
    if (strncmp(u, SUBMISSION_URI, strlen(SUBMISSION_URI)) == 0) {
        *kind = 's';
        rest = u + strlen(SUBMISSION_URI);
    } else if (strncmp(u, RUN_URI, strlen(RUN_URI)) == 0) {
        *kind = 'r';
        rest = u + strlen(RUN_URI);
    }
    if (!rest || !id_ok(rest))
        return false;
    snprintf(id_out, id_len, "%s", rest);
    return true;
}

static json_t *call_sync(nc_mcp_server *s, const char *op, json_t *params, nc_rpc_error *rerr, nc_err *e)
{
    json_t *res = NULL;
    memset(rerr, 0, sizeof *rerr);
    *e = s->be.call(s->be.worker, op, params, &res, rerr);
    if (*e == NC_OK && !json_is_object(res)) {
        json_decref(res);
        res = NULL;
        *e = NC_ERR_MALFORMED;
        snprintf(rerr->code, sizeof rerr->code, "internal");
        snprintf(rerr->message, sizeof rerr->message, "the worker's answer to %s is not an object", op);
    }
    return res;
}

/* A worker refusal for a resources request: -32002 for what does not
 * exist (MCP's resource-not-found), else an internal error naming it. */
static json_t *resource_error(const json_t *id, const json_t *uri, nc_err e, const nc_rpc_error *rerr)
{
    if (e == NC_RPC_REFUSED && strcmp(rerr->code, "not_found") == 0) {
        json_t *r = error_response(id, -32002, "Resource not found: no submission or run of yours has that id");
        if (r && uri)
            json_object_set_new(json_object_get(r, "error"), "data", json_pack("{s:O}", "uri", uri));
        return r;
    }
    return error_response(id, NC_JSONRPC_INTERNAL_ERROR, "%s: %s", rerr->code[0] ? rerr->code : "internal",
                          rerr->message[0] ? rerr->message : nc_strerror(e));
}

static json_t *resources_list(nc_mcp_server *s, const json_t *id, const json_t *params)
{
    const json_t *cursor = json_object_get(params, "cursor");
    long long offset = 0;
    if (cursor) {
        const char *c = json_string_value(cursor);
        char *end = NULL;
        if (!c || strncmp(c, "o", 1) != 0 || !c[1] || strspn(c + 1, "0123456789") != strlen(c + 1) ||
            strlen(c) > 8 || (offset = strtoll(c + 1, &end, 10)) < 0 || offset > 1000000 || *end)
            return error_response(id, NC_JSONRPC_INVALID_PARAMS, "Invalid params: unknown cursor (pass back the "
                                                                  "nextCursor of the previous page)");
    }
    nc_rpc_error rerr;
    nc_err e;
    json_t *res = call_sync(s, "submissions.list", json_pack("{s:i, s:I}", "limit", RESOURCES_PAGE, "offset",
                                                             (json_int_t)offset), &rerr, &e);
    if (!res)
        return resource_error(id, NULL, e, &rerr);
    json_t *list = json_array(), *sub;
    size_t i;
    json_array_foreach(json_object_get(res, "items"), i, sub) {
        const char *sid = json_string_value(json_object_get(sub, "id"));
        const char *name = json_string_value(json_object_get(sub, "name"));
        const char *state = agent_state_of(sub);
        if (!sid || !id_ok(sid))
            continue;
        char uri[128], title[160], desc[160];
        snprintf(uri, sizeof uri, SUBMISSION_URI "%s", sid);
        snprintf(title, sizeof title, "Submission %.64s (%s)", name ? name : "?", sid);
        snprintf(desc, sizeof desc, "your submission of %.64s: %s", name ? name : "?", state ? state : "?");
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s}", "uri", uri, "name", sid, "title", title,
                                              "description", desc, "mimeType", "application/json"));
    }
    json_t *r = json_pack("{s:o}", "resources", list);
    long long total = json_integer_value(json_object_get(res, "total"));
    size_t got = json_array_size(json_object_get(res, "items"));
    if (r && offset + (long long)got < total && got > 0) {
        char next[24];
        snprintf(next, sizeof next, "o%lld", offset + (long long)got);
        json_object_set_new(r, "nextCursor", json_string(next));
    }
    json_decref(res);
    return result_response(id, r);
}

static json_t *resource_templates(const json_t *id, const json_t *params)
{
    if (json_object_get(params, "cursor"))
        return error_response(id, NC_JSONRPC_INVALID_PARAMS, "Invalid params: unknown cursor (one page; this "
                                                              "server never gives a cursor)");
    return result_response(
        id, json_pack("{s:[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}]}", "resourceTemplates",
                      "uriTemplate", SUBMISSION_URI "{id}", "name", "submission", "title", "One of your submissions",
                      "description", "the submission with its agent_state (what it means for you)", "mimeType",
                      "application/json", "uriTemplate", RUN_URI "{id}", "name", "run", "title", "One of your runs",
                      "description", "the run with the first page of its output (get_run pages through the rest)",
                      "mimeType", "application/json"));
}

static json_t *resources_read(nc_mcp_server *s, const json_t *id, const json_t *params)
{
    const json_t *uri = json_object_get(params, "uri");
    char kind, rid[72];
    if (!parse_uri(uri, &kind, rid, sizeof rid))
        return error_response(id, NC_JSONRPC_INVALID_PARAMS, "Invalid params: uri must be " SUBMISSION_URI "ID or "
                                                              RUN_URI "ID");
    nc_rpc_error rerr;
    nc_err e;
    json_t *res = call_sync(s, kind == 's' ? "submission.get" : "run.get",
                            kind == 's' ? json_pack("{s:s}", "submission", rid)
                                        : json_pack("{s:s, s:i, s:i, s:i, s:i}", "run", rid, "stdout_offset", 0,
                                                    "stdout_limit", NC_MCP_RESULT_PAGE_BYTES, "stderr_offset", 0,
                                                    "stderr_limit", NC_MCP_RESULT_PAGE_BYTES),
                            &rerr, &e);
    if (!res)
        return resource_error(id, uri, e, &rerr);
    if (kind == 'r') {
        json_t *view = nc_mcp_run_view(res, &first_page_paged);
        json_decref(res);
        res = view;
    }
    char *text = res ? json_dumps(res, JSON_COMPACT) : NULL;
    json_decref(res);
    if (!text)
        return NULL;
    json_t *r = json_pack("{s:[{s:O, s:s, s:s}]}", "contents", "uri", uri, "mimeType", "application/json", "text",
                          text);
    free(text);
    return result_response(id, r);
}

static json_t *resources_subscribe(nc_mcp_server *s, const json_t *id, const json_t *params, bool on)
{
    const json_t *uri = json_object_get(params, "uri");
    char kind, rid[72];
    if (!parse_uri(uri, &kind, rid, sizeof rid))
        return error_response(id, NC_JSONRPC_INVALID_PARAMS, "Invalid params: uri must be " SUBMISSION_URI "ID or "
                                                              RUN_URI "ID");
    pthread_mutex_lock(&s->mu);
    bool full = on && !json_object_get(s->subscriptions, json_string_value(uri)) &&
                json_object_size(s->subscriptions) >= NC_MCP_MAX_SUBSCRIPTIONS;
    if (!full) {
        if (on)
            json_object_set_new(s->subscriptions, json_string_value(uri), json_true());
        else
            json_object_del(s->subscriptions, json_string_value(uri));
    }
    pthread_mutex_unlock(&s->mu);
    if (full)
        return error_response(id, NC_JSONRPC_INVALID_PARAMS, "Invalid params: already subscribed to %u resources; "
                                                              "unsubscribe from some first", NC_MCP_MAX_SUBSCRIPTIONS);
    return result_response(id, json_object());
}

static void resource_updated(nc_mcp_server *s, const char *prefix, const char *rid)
{
    char uri[128];
    if (!rid || !id_ok(rid))
        return;
    snprintf(uri, sizeof uri, "%s%s", prefix, rid);
    pthread_mutex_lock(&s->mu);
    bool subscribed = json_object_get(s->subscriptions, uri) != NULL;
    pthread_mutex_unlock(&s->mu);
    if (subscribed)
        send_notification(s, NC_MCP_OUT_SESSION, NULL, "notifications/resources/updated",
                          json_pack("{s:s}", "uri", uri));
}

/* ---- the worker's events ---- */

void nc_mcp_feed_state(nc_mcp_server *s, bool up)
{
    pthread_mutex_lock(&s->mu);
    s->feed_up = up;
    s->event_gen++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    if (up)
        refresh_approval_tools(s, true, NULL);   /* approvals may have changed while it was down */
}

void nc_mcp_on_event(nc_mcp_server *s, const json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!type || strcmp(type, "run.progress") == 0)
        return;   /* a run's progress reaches its caller through the streamed run */
    pthread_mutex_lock(&s->mu);
    s->event_gen++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    if (strcmp(type, "approvals.changed") == 0)
        refresh_approval_tools(s, true, NULL);
    else if (strcmp(type, "submission.updated") == 0)
        resource_updated(s, SUBMISSION_URI, json_string_value(json_object_get(ev, "submission")));
    else if (strcmp(type, "run.started") == 0)
        resource_updated(s, RUN_URI, json_string_value(json_object_get(ev, "run_id")));
    else if (strcmp(type, "run.finished") == 0)
        resource_updated(s, RUN_URI, json_string_value(json_object_get(json_object_get(ev, "run"), "id")));
}

void nc_mcp_tick(nc_mcp_server *s)
{
    pthread_mutex_lock(&s->mu);
    bool due = s->next_expiry > 0 && now_s() >= s->next_expiry;
    pthread_mutex_unlock(&s->mu);
    if (due)
        refresh_approval_tools(s, true, NULL);
}

void nc_mcp_wait_idle(nc_mcp_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cond);
    while (s->njobs > 0 || s->helpers > 0)
        pthread_cond_wait(&s->cond, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

void nc_mcp_cancel_all(nc_mcp_server *s)
{
    char runs[NC_MCP_MAX_INFLIGHT][48];
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    for (job *j = s->jobs; j; j = j->next) {
        if (!j->cancelled)
            logf_(s, "%s: cancelled: the session ended", j->name);
        j->cancelled = true;
        if (j->run_id[0] && !j->cancel_sent && n < NC_MCP_MAX_INFLIGHT) {   /* else its first event sends it */
            j->cancel_sent = true;
            snprintf(runs[n++], sizeof runs[0], "%s", j->run_id);
        }
    }
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < n; i++)
        send_run_cancel(s, runs[i]);
    nc_mcp_wait_idle(s);
}

bool nc_mcp_initialized(nc_mcp_server *s)
{
    return atomic_load(&s->initialized);
}

const char *nc_mcp_protocol(nc_mcp_server *s)
{
    return atomic_load(&s->protocol);
}

bool nc_mcp_protocol_supported(const char *v, size_t len)
{
    for (size_t i = 0; v && protocol_versions[i]; i++)
        if (strlen(protocol_versions[i]) == len && memcmp(v, protocol_versions[i], len) == 0)
            return true;
    return false;
}

/* ---- methods ---- */

static json_t *initialize(nc_mcp_server *s, const json_t *id, const json_t *params)
{
    if (s->initialized)
        return error_response(id, NC_JSONRPC_INVALID_REQUEST, "Invalid Request: the session is already "
                                                               "initialized; initialize is sent once");
    const json_t *pv = json_object_get(params, "protocolVersion");
    if (!json_is_string(pv))
        return error_response(id, NC_JSONRPC_INVALID_PARAMS, "initialize needs params.protocolVersion, a string");
    const char *chosen = NC_MCP_PROTOCOL_LATEST;
    for (size_t i = 0; protocol_versions[i]; i++)
        if (strlen(json_string_value(pv)) == json_string_length(pv) &&
            strcmp(json_string_value(pv), protocol_versions[i]) == 0)
            chosen = protocol_versions[i];
    const json_t *info = json_object_get(params, "clientInfo");
    char cname[SHOWN_NAME_MAX + 8], cver[SHOWN_NAME_MAX + 8], asked[SHOWN_NAME_MAX + 8];
    const json_t *n = json_object_get(info, "name"), *v = json_object_get(info, "version");
    printable(json_is_string(n) ? json_string_value(n) : "?", json_is_string(n) ? json_string_length(n) : 1, cname,
              sizeof cname);
    printable(json_is_string(v) ? json_string_value(v) : "?", json_is_string(v) ? json_string_length(v) : 1, cver,
              sizeof cver);
    printable(json_string_value(pv), json_string_length(pv), asked, sizeof asked);
    logf_(s, "initialize: client %s %s asked for protocol %s, using %s", cname, cver, asked, chosen);
    json_t *r = result_response(id, json_pack("{s:s, s:{s:{s:b}, s:{s:b, s:b}}, s:{s:s, s:s, s:s}, s:s}",
                                              "protocolVersion", chosen, "capabilities", "tools", "listChanged", 1,
                                              "resources", "subscribe", 1, "listChanged", 0, "serverInfo", "name",
                                              "nightcore-mcp", "title", "Night Core", "version", NC_VERSION,
                                              "instructions", s->instructions));
    if (r) {
        atomic_store(&s->protocol, chosen);
        s->initialized = true;
    }
    return r;
}

/* server/discover (2026-07-28) is declined the way that protocol's clients
 * read as "speak initialize instead": -32022 naming the versions we speak. */
static json_t *discover(nc_mcp_server *s, const json_t *id, const json_t *params)
{
    const json_t *asked = json_object_get(json_object_get(params, "_meta"), "io.modelcontextprotocol/protocolVersion");
    char shown[SHOWN_NAME_MAX + 8];
    printable(json_is_string(asked) ? json_string_value(asked) : "?", json_is_string(asked) ? json_string_length(asked) : 1,
              shown, sizeof shown);
    logf_(s, "server/discover for protocol %s: declined (-32022); the client can initialize instead", shown);
    json_t *r = error_response(id, NC_JSONRPC_UNSUPPORTED_VERSION,
                               "Unsupported protocol version: this server speaks %s, %s and %s, through initialize",
                               protocol_versions[0], protocol_versions[1], protocol_versions[2]);
    json_t *supported = json_array();
    for (size_t i = 0; supported && protocol_versions[i]; i++)
        json_array_append_new(supported, json_string(protocol_versions[i]));
    if (r && supported)
        json_object_set_new(json_object_get(r, "error"), "data",
                            json_pack("{s:o, s:o}", "supported", supported, "requested",
                                      json_is_string(asked) ? json_incref((json_t *)asked) : json_string("")));
    else
        json_decref(supported);
    return r;
}

static json_t *dispatch(nc_mcp_server *s, const char *method, const json_t *id, const json_t *params)
{
    if (strcmp(method, "initialize") == 0)
        return initialize(s, id, params);
    if (strcmp(method, "ping") == 0)
        return result_response(id, json_object());
    if (strcmp(method, "server/discover") == 0)
        return discover(s, id, params);
    static const char *const methods[] = {"tools/list", "tools/call", "resources/list", "resources/templates/list",
                                          "resources/read", "resources/subscribe", "resources/unsubscribe", NULL};
    bool known = false;
    for (size_t i = 0; methods[i]; i++)
        known |= strcmp(method, methods[i]) == 0;
    if (known && !s->initialized)
        return error_response(id, NC_JSONRPC_INVALID_REQUEST, "Invalid Request: the session is not initialized: "
                                                               "send initialize first (only ping is answered before "
                                                               "it)");
    if (strcmp(method, "tools/list") == 0)
        return tools_list(s, id, params);
    if (strcmp(method, "tools/call") == 0)
        return tools_call(s, id, params);
    if (strcmp(method, "resources/list") == 0)
        return resources_list(s, id, params);
    if (strcmp(method, "resources/templates/list") == 0)
        return resource_templates(id, params);
    if (strcmp(method, "resources/read") == 0)
        return resources_read(s, id, params);
    if (strcmp(method, "resources/subscribe") == 0)
        return resources_subscribe(s, id, params, true);
    if (strcmp(method, "resources/unsubscribe") == 0)
        return resources_subscribe(s, id, params, false);
    char shown[SHOWN_NAME_MAX + 8];
    printable(method, strlen(method), shown, sizeof shown);
    return error_response(id, NC_JSONRPC_METHOD_NOT_FOUND, "Method not found: %s", shown);
}

nc_err nc_mcp_handle_message(nc_mcp_server *s, const char *line, size_t len, nc_mcp_in *in)
{
    json_t *msg = NULL, *resp = NULL;
    json_error_t je;
    bool respond = true;
    nc_mcp_in ignored;
    const json_t *reply_id = NULL;

    if (!in)
        in = &ignored;
    memset(in, 0, sizeof *in);
    size_t blank = 0;
    while (blank < len && (line[blank] == ' ' || line[blank] == '\t' || line[blank] == '\r' || line[blank] == '\n'))
        blank++;
    if (blank == len)
        return NC_OK;   /* NC_MCP_IN_BLANK */

    in->kind = NC_MCP_IN_INVALID;
    msg = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!msg) {
        resp = error_response(NULL, NC_JSONRPC_PARSE_ERROR, "Parse error: %s (line %d, column %d)", je.text, je.line,
                              je.column);
        goto send;
    }
    if (json_is_array(msg)) {
        resp = error_response(NULL, NC_JSONRPC_INVALID_REQUEST,
                              "Invalid Request: JSON-RPC batches are not supported; send one message at a time");
        goto send;
    }
    if (!json_is_object(msg)) {
        resp = error_response(NULL, NC_JSONRPC_INVALID_REQUEST, "Invalid Request: a message must be a JSON object");
        goto send;
    }
    const json_t *id = json_object_get(msg, "id"), *jsonrpc = json_object_get(msg, "jsonrpc");
    const json_t *method = json_object_get(msg, "method"), *params = json_object_get(msg, "params");
    bool version_ok = json_is_string(jsonrpc) && strcmp(json_string_value(jsonrpc), "2.0") == 0 &&
                      json_string_length(jsonrpc) == 3;
    /* MCP ids are strings or integers, never null. */
    bool id_ok_ = json_is_string(id) || json_is_integer(id);
    reply_id = id_ok_ ? id : NULL;

    if (!method && version_ok && id && (json_object_get(msg, "result") || json_object_get(msg, "error"))) {
        in->kind = NC_MCP_IN_RESPONSE;
        respond = false;   /* a response: this server sends no requests, so there is nothing to match it to */
        goto send;
    }
    if (!version_ok) {
        resp = error_response(reply_id, NC_JSONRPC_INVALID_REQUEST, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
        goto send;
    }
    if (id && !id_ok_) {
        resp = error_response(NULL, NC_JSONRPC_INVALID_REQUEST, "Invalid Request: \"id\" must be a string or an integer");
        goto send;
    }
    if (!json_is_string(method)) {
        resp = error_response(reply_id, NC_JSONRPC_INVALID_REQUEST, "Invalid Request: \"method\" must be a string");
        goto send;
    }
    /* A method name with an embedded NUL matches nothing. */
    const char *m = strlen(json_string_value(method)) == json_string_length(method) ? json_string_value(method)
                                                                                      : "\x01";
    printable(json_string_value(method), json_string_length(method), in->method, sizeof in->method);
    if (!id) {
        /* a notification: never answered */
        in->kind = NC_MCP_IN_NOTIFICATION;
        if (strcmp(m, "notifications/cancelled") == 0 && json_is_object(params))
            cancel_request(s, params);
        respond = false;
        goto send;
    }
    in->kind = NC_MCP_IN_REQUEST;
    if (params && !json_is_object(params)) {
        resp = error_response(reply_id, NC_JSONRPC_INVALID_PARAMS, "Invalid params: \"params\" must be an object");
        goto send;
    }
    resp = dispatch(s, m, reply_id, params);
    if (!resp && strcmp(m, "tools/call") == 0)
        respond = false;   /* a job answers it (or it ran out of memory and said so) */
send:
    if (!respond) {
        json_decref(msg);
        return NC_OK;
    }
    if (!resp) {
        json_decref(msg);
        return NC_ERR_NOMEM;
    }
    send_json(s, NC_MCP_OUT_RESPONSE, reply_id, resp);   /* reply_id lives in msg until here */
    json_decref(msg);
    return NC_OK;
}

nc_err nc_mcp_send_error(nc_mcp_server *s, int code, const char *message)
{
    json_t *r = error_response(NULL, code, "%s", message);
    if (!r)
        return NC_ERR_NOMEM;
    send_json(s, NC_MCP_OUT_RESPONSE, NULL, r);
    return NC_OK;
}

#define INSTRUCTIONS                                                                                       \
    "Night Core is an execution gate for untrusted WebAssembly, and you are agent \"%s\". You can submit "     \
    "modules to its inbox and run modules that a human has approved for you; nothing else. A human operator "  \
    "reviews every submission and approves it by signing with a key this server does not have; until then "   \
    "it cannot run, and no tool here can approve, sign, trust or change policy. The flow: submit_module "     \
    "(describe what the module does and request only the capabilities it needs); tell the user what to "     \
    "approve, in the words of agent_state.message (the submission id and the command: nightcore approve ID " \
    "--allow-agent %s); then call wait_for_submission, which returns as soon as they decide (do not poll). " \
    "Once approved for you, the module is also a tool of its own in tools/list (named after the module); "   \
    "calling it runs exactly that approval, or use run_module with its name. Long output is summarised: "     \
    "page through it with get_run. A refusal comes back as a tool error with a code (pending_review, "       \
    "rejected, not_approved_for_you, max_runs_exceeded, busy, unavailable, ...) and a message saying what to " \
    "tell the user; do not try to work around it."

static char *build_instructions(const char *agent)
{
    char *out = NULL;
    int n = snprintf(NULL, 0, INSTRUCTIONS, agent, agent);
    if (n < 0 || !(out = malloc((size_t)n + 1)))
        return NULL;
    snprintf(out, (size_t)n + 1, INSTRUCTIONS, agent, agent);
    return out;
}

nc_err nc_mcp_server_new(const char *agent, const nc_mcp_backend *backend, nc_mcp_server **out, char *msg,
                         size_t msg_len)
{
    nc_mcp_server *s = NULL;
    nc_err err = NC_ERR_USAGE;

    *out = NULL;
    if (msg_len)
        msg[0] = '\0';
    if (!nc_mcp_agent_name_ok(agent) || !backend || !backend->call || !backend->send) {
        snprintf(msg, msg_len, "the agent name must be 1-64 of a-z 0-9 _ -, and the backend needs call and send");
        goto done;
    }
    err = NC_ERR_NOMEM;
    if (!(s = calloc(1, sizeof *s)))
        goto done;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->agent, sizeof s->agent, "%s", agent);
    s->be = *backend;
    if (!(s->instructions = build_instructions(agent)) || !(s->subscriptions = json_object()))
        goto done;
    err = nc_mcp_tools_build(agent, &s->tools, msg, msg_len);
    if (err != NC_OK)
        goto done;
    *out = s;
    s = NULL;
done:
    nc_mcp_server_free(s);
    return err;
}

void nc_mcp_server_free(nc_mcp_server *s)
{
    if (!s)
        return;
    json_decref(s->tools);
    json_decref(s->approval_tools);
    json_decref(s->subscriptions);
    free(s->instructions);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    free(s);
}
