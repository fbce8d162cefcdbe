/* Agents: identities (operator ops on control.sock) and the agent socket's
 * own op table. Nothing here can approve, sign, trust, or change policy:
 * those ops do not exist on the agent socket. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include "common/limits.h"
#include "worker/worker.h"

#define TOKEN_PREFIX "nca_"

static bool agent_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static void token_hash(const char *token, char out[NC_SHA256_HEX_LEN + 1])
{
    uint8_t h[NC_SHA256_LEN];
    if (nc_sha256(token, strlen(token), h) != NC_OK)
        memset(h, 0, sizeof h);
    nc_hex(h, sizeof h, out);
}

/* ---- control socket: the operator manages agents ---- */

void nc_op_agent_add(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"name", NULL};
    nc_worker *w = c->w;
    if (!nc_params_ok(c, id, req, p))
        return;
    const char *name = nc_str_param(req, "name");
    if (!name || !agent_name_ok(name)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "an agent name is 1-64 of a-z 0-9 _ -");
        return;
    }
    uint8_t raw[32];
    char token[4 + sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    char hash[NC_SHA256_HEX_LEN + 1];
    randombytes_buf(raw, sizeof raw);
    memcpy(token, TOKEN_PREFIX, 4);
    sodium_bin2base64(token + 4, sizeof token - 4, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    token_hash(token, hash);
    int64_t now = nc_unix_now();
    nc_err err = nc_db_begin(w->db);
    if (err == NC_OK)
        err = nc_db_agent_add(w->db, name, hash, now);
    if (err == NC_OK)
        err = nc_log(w, "agent.add", json_pack("{s:s}", "agent", name), NULL);
    if (err == NC_OK)
        err = nc_db_commit(w->db);
    if (err != NC_OK) {
        nc_log_abort(w);
        sodium_memzero(token, sizeof token);
        if (err == NC_ERR_USAGE)
            nc_reply_error(c, id, NC_ERR_USAGE, "agent %s exists; remove it first to issue a new token", name);
        else
            nc_reply_store_error(c, id, err, "the new agent (it was not added)");
        return;
    }
    /* The only time the token exists outside the agent's hands. */
    nc_reply(c, id, json_pack("{s:s, s:s, s:I}", "name", name, "token", token, "created_at", (json_int_t)now));
    sodium_memzero(token, sizeof token);
}

void nc_op_agent_list(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {NULL};
    if (!nc_params_ok(c, id, req, p))
        return;
    json_t *items;
    nc_err err = nc_db_agent_list(c->w->db, &items);
    if (err != NC_OK) {
        nc_reply_db_error(c, id, err, "agent");
        return;
    }
    /* rate-limit state is in memory */
    size_t i;
    json_t *a;
    json_array_foreach(items, i, a) {
        char source[80];
        snprintf(source, sizeof source, "agent:%s", json_string_value(json_object_get(a, "name")));
        json_t *tokens = json_null();
        for (unsigned k = 0; k < c->w->nrates; k++)
            if (strcmp(c->w->rates[k].source, source) == 0)
                tokens = json_integer((json_int_t)c->w->rates[k].tokens);
        json_object_set_new(a, "rate_tokens", tokens);
    }
    nc_reply(c, id, json_pack("{s:o}", "items", items));
}

void nc_op_agent_remove(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"name", NULL};
    nc_worker *w = c->w;
    if (!nc_params_ok(c, id, req, p))
        return;
    const char *name = nc_str_param(req, "name");
    if (!name || !agent_name_ok(name)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "an agent name is 1-64 of a-z 0-9 _ -");
        return;
    }
    nc_err err = nc_db_begin(w->db);
    if (err == NC_OK)
        err = nc_db_agent_remove(w->db, name, nc_unix_now());
    if (err == NC_OK)
        err = nc_log(w, "agent.remove", json_pack("{s:s}", "agent", name), NULL);
    if (err == NC_OK)
        err = nc_db_commit(w->db);
    if (err != NC_OK) {
        nc_log_abort(w);
        nc_reply_db_error(c, id, err, "agent");
        return;
    }
    nc_reply(c, id, json_pack("{s:s, s:b}", "name", name, "removed", 1));
}

/* ---- what an agent is told about its own submissions ---- */

static bool invokers_name(const json_t *approval, const char *source)
{
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(approval, "invokers"), i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), source) == 0)
            return true;
    }
    return false;
}

static json_int_t int_field(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static bool approval_usable(const json_t *a, int64_t now)
{
    return !json_is_true(json_object_get(a, "revoked")) && int_field(a, "runs") < int_field(a, "max_runs") &&
           int_field(a, "expires_at") > now && int_field(a, "not_before") <= now;
}

/* Why an approval that names the agent cannot run now, in the order the
 * verification pipeline checks (time window, revocation, run count), so the
 * state matches the refusal a run gets. */
static const char *unusable_state(const json_t *a, int64_t now, nc_err *code)
{
    if (int_field(a, "expires_at") <= now) {
        *code = NC_ERR_EXPIRED;
        return "expired";
    }
    if (json_is_true(json_object_get(a, "revoked"))) {
        *code = NC_ERR_REVOKED_APPROVAL;
        return "revoked";
    }
    *code = NC_ERR_MAX_RUNS;
    return "used_up";
}

typedef struct {
    const char *state;     /* pending, rejected, approved_for_you, approved_not_for_you, used_up, expired, revoked */
    nc_err code;           /* the refusal a run of it meets (NC_OK: it can run) */
    json_t *approval;      /* borrowed from approvals: the approval the state is about, or NULL */
    json_t *approvals;     /* owned */
} agent_view;

static nc_err agent_view_of(nc_worker *w, const json_t *sub, const char *source, int64_t now, agent_view *v)
{
    const char *status = json_string_value(json_object_get(sub, "status"));
    const char *sid = json_string_value(json_object_get(sub, "id"));
    memset(v, 0, sizeof *v);
    if (!status || !sid)
        return NC_ERR_INTERNAL;
    if (strcmp(status, "pending") == 0) {
        v->state = "pending";
        v->code = NC_ERR_PENDING_REVIEW;
        return NC_OK;
    }
    if (strcmp(status, "rejected") == 0) {
        v->state = "rejected";
        v->code = NC_ERR_REJECTED;
        return NC_OK;
    }
    nc_err err = nc_db_submission_approvals(w->db, sid, &v->approvals);
    if (err != NC_OK)
        return err;
    size_t i;
    json_t *a, *newest_named = NULL;
    json_array_foreach(v->approvals, i, a) {   /* newest first */
        if (!invokers_name(a, source))
            continue;
        if (approval_usable(a, now)) {
            v->state = "approved_for_you";
            v->code = NC_OK;
            v->approval = a;
            return NC_OK;
        }
        if (!newest_named)
            newest_named = a;
    }
    if (newest_named) {
        v->state = unusable_state(newest_named, now, &v->code);
        v->approval = newest_named;
        return NC_OK;
    }
    v->state = "approved_not_for_you";
    v->code = NC_ERR_NOT_APPROVED_FOR_YOU;
    return NC_OK;
}

/* What the agent should tell its user, for each state. */
static void agent_view_message(const agent_view *v, const json_t *sub, const char *source, char *out, size_t n)
{
    const char *sid = json_string_value(json_object_get(sub, "id"));
    const char *name = json_string_value(json_object_get(sub, "name"));
    const char *reason = json_string_value(json_object_get(sub, "reason"));
    const char *agent = source + 6;   /* "agent:NAME" */
    if (strcmp(v->state, "pending") == 0)
        snprintf(out, n, "submission %s (%s) is waiting for a human to review it. Tell the user to review it "
                 "(nightcore inbox show %s) and, if they agree, approve it for you: nightcore approve %s "
                 "--allow-agent %s. Then wait for the approval.", sid, name, sid, sid, agent);
    else if (strcmp(v->state, "rejected") == 0)
        snprintf(out, n, "a human rejected submission %s (%s): %s. Tell the user; change the module and submit it "
                 "again only if they want you to.", sid, name, reason ? reason : "no reason given");
    else if (strcmp(v->state, "approved_for_you") == 0)
        snprintf(out, n, "submission %s (%s) is approved for you: run it by its name", sid, name);
    else if (strcmp(v->state, "approved_not_for_you") == 0)
        snprintf(out, n, "submission %s (%s) was approved, but not for %s, so you cannot run it. Ask the user to "
                 "approve it for you: nightcore approve %s --allow-agent %s", sid, name, source, sid, agent);
    else if (strcmp(v->state, "used_up") == 0)
        snprintf(out, n, "the approval of %s (%s) for you is used up (every run it allowed was made). Ask the user "
                 "for a new review: submit the same module again with review_again, then have them approve it "
                 "with --allow-agent %s", sid, name, agent);
    else if (strcmp(v->state, "expired") == 0)
        snprintf(out, n, "the approval of %s (%s) for you has expired. Ask the user for a new review: submit the "
                 "same module again with review_again, then have them approve it with --allow-agent %s", sid, name,
                 agent);
    else
        snprintf(out, n, "the approval of %s (%s) for you was revoked by a human. Tell the user; do not try to "
                 "run it another way", sid, name);
}

static json_t *agent_state_json(const agent_view *v, const json_t *sub, const char *source, int64_t now)
{
    char message[1024];
    agent_view_message(v, sub, source, message, sizeof message);
    const json_t *a = v->approval;
    bool for_you = strcmp(v->state, "approved_for_you") == 0;
    json_t *granted = for_you ? json_pack("{s:O, s:O}", "capabilities", json_object_get(a, "capabilities"), "limits",
                                          json_object_get(a, "limits"))
                              : json_null();
    json_int_t left = a ? int_field(a, "max_runs") - int_field(a, "runs") : 0;
    (void)now;
    return json_pack("{s:s, s:O, s:o, s:o, s:o, s:o, s:s}", "state", v->state, "reason",
                     strcmp(v->state, "rejected") == 0 ? json_object_get(sub, "reason") : json_null(), "approval_id",
                     a ? json_incref(json_object_get(a, "id")) : json_null(), "granted", granted ? granted : json_null(),
                     "runs_left", a ? json_integer(left < 0 ? 0 : left) : json_null(), "expires_at",
                     a ? json_incref(json_object_get(a, "expires_at")) : json_null(), "message", message);
}

json_t *nc_agent_submission_view(nc_worker *w, json_t *sub, const char *source)
{
    agent_view v;
    if (!sub)
        return NULL;
    json_object_del(sub, "approvals");   /* approval ids are the operator's business */
    int64_t now = nc_unix_now();
    if (agent_view_of(w, sub, source, now, &v) == NC_OK)
        json_object_set_new(sub, "agent_state", agent_state_json(&v, sub, source, now));
    else
        json_object_set_new(sub, "agent_state", json_null());
    json_decref(v.approvals);
    return sub;
}

/* ---- agent socket ---- */

typedef void (*nc_agent_fn)(nc_client *c, json_t *id, json_t *req, const char *agent, const char *source);

static void a_hello(nc_client *c, json_t *id, json_t *req, const char *agent, const char *source)
{
    static const char *const p[] = {"token", NULL};
    (void)source;
    if (nc_params_ok(c, id, req, p))
        nc_reply(c, id, json_pack("{s:i, s:s, s:s}", "protocol", 1, "agent", agent, "worker_id", c->w->worker_id));
}

static void a_submit(nc_client *c, json_t *id, json_t *req, const char *agent, const char *source)
{
    static const nc_submit_limits agent_limits = {NC_WORKER_AGENT_RATE_BURST, NC_WORKER_AGENT_RATE_PER_SEC,
                                                  NC_WORKER_AGENT_MAX_PENDING, true};
    (void)agent;
    nc_submit(c, id, req, source, &agent_limits);
}

static void a_submission_get(nc_client *c, json_t *id, json_t *req, const char *agent, const char *source)
{
    static const char *const p[] = {"token", "submission", NULL};
    (void)agent;
    if (!nc_params_ok(c, id, req, p))
        return;
    const char *sid = nc_str_param(req, "submission");
    json_t *sub = NULL;
    nc_err err = sid ? nc_db_submission_get(c->w->db, sid, true, &sub) : NC_ERR_NOT_FOUND;
    if (err == NC_OK && strcmp(json_string_value(json_object_get(sub, "source")), source) != 0)
        err = NC_ERR_NOT_FOUND;   /* another source's: as if it did not exist */
    if (err != NC_OK) {
        json_decref(sub);
        nc_reply_db_error(c, id, err, "submission of yours");
        return;
    }
    nc_reply(c, id, nc_agent_submission_view(c->w, sub, source));
}

static void a_submissions_list(nc_client *c, json_t *id, json_t *req, const char *agent, const char *source)
{
    static const char *const p[] = {"token", "status", "limit", "offset", NULL};
    int64_t limit, offset, total;
    (void)agent;
    if (!nc_params_ok(c, id, req, p) || !nc_int_param(c, id, req, "limit", 20, 1, 100, &limit) ||
        !nc_int_param(c, id, req, "offset", 0, 0, 1000000, &offset))
        return;
    const char *status = nc_str_param(req, "status");
    if ((json_object_get(req, "status") && !status) ||
        (status && strcmp(status, "pending") && strcmp(status, "approved") && strcmp(status, "rejected"))) {
        nc_reply_error(c, id, NC_ERR_USAGE, "status must be pending, approved or rejected (or absent for all)");
        return;
    }
    json_t *items, *sub;
    nc_err err = nc_db_submission_list_source(c->w->db, source, status, limit, offset, &items, &total);
    if (err != NC_OK) {
        nc_reply_db_error(c, id, err, "submission");
        return;
    }
    size_t i;
    json_array_foreach(items, i, sub) {
        nc_agent_submission_view(c->w, json_incref(sub), source);
        json_decref(sub);
    }
    nc_reply(c, id, json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)total));
}

/* approvals.list: the approvals an agent can run now, each with what it
 * grants (its arguments and standard input) and what is left of it. */
static json_t *agent_approval_json(const json_t *a)
{
    const json_t *caps = json_object_get(a, "capabilities");
    json_int_t left = int_field(a, "max_runs") - int_field(a, "runs");
    const json_t *desc = json_object_get(a, "description");
    return json_pack("{s:O, s:O, s:O, s:O, s:o, s:{s:b, s:b}, s:O, s:O, s:I, s:O, s:O, s:O}", "id",
                     json_object_get(a, "id"), "name", json_object_get(a, "name"), "sha256",
                     json_object_get(a, "sha256"), "submission", json_object_get(a, "submission"), "description",
                     json_is_string(desc) ? json_incref((json_t *)desc) : json_string(""), "grants", "args",
                     json_is_true(json_object_get(caps, "args")), "stdin", json_is_true(json_object_get(caps, "stdin")),
                     "capabilities", caps, "limits", json_object_get(a, "limits"), "runs_left",
                     left < 0 ? 0 : left, "expires_at", json_object_get(a, "expires_at"), "created_at",
                     json_object_get(a, "created_at"), "policy", json_object_get(a, "policy"));
}

static void a_approvals_list(nc_client *c, json_t *id, json_t *req, const char *agent, const char *source)
{
    static const char *const p[] = {"token", "limit", NULL};
    int64_t limit, total;
    (void)agent;
    if (!nc_params_ok(c, id, req, p) || !nc_int_param(c, id, req, "limit", 100, 1, 100, &limit))
        return;
    json_t *rows, *a, *items = json_array();
    nc_err err = nc_db_agent_approvals(c->w->db, source, nc_unix_now(), limit, &rows, &total);
    if (err != NC_OK) {
        json_decref(items);
        nc_reply_db_error(c, id, err, "approval");
        return;
    }
    size_t i;
    json_array_foreach(rows, i, a) {
        json_array_append_new(items, agent_approval_json(a));
    }
    json_decref(rows);
    nc_reply(c, id, json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)total));
}

/* events.subscribe: only events about the agent's own submissions, runs and
 * the approvals naming it (nc_agent_events_for). */
static void a_events_subscribe(nc_client *c, json_t *id, json_t *req, const char *agent, const char *source)
{
    static const char *const p[] = {"token", NULL};
    (void)agent;
    (void)source;
    if (!nc_params_ok(c, id, req, p))
        return;
    c->subscribed = true;
    nc_reply(c, id, json_pack("{s:b}", "subscribed", 1));
}

/* A run of a module the agent submitted and cannot run now: the precise
 * reason (pending_review, rejected, not_approved_for_you; expired,
 * revoked_approval, max_runs_exceeded when no approval naming it is usable)
 * with what to tell the user. Refs that name nothing of the agent's own go
 * on to the run (not_approved, the same for every such ref). true if
 * answered. */
static bool run_refused_early(nc_client *c, json_t *id, json_t *req, const char *source)
{
    nc_worker *w = c->w;
    const char *ref = nc_str_param(req, "ref");
    char ids[16][65];
    size_t n = 0;
    bool by_id;
    json_t *sub = NULL;
    agent_view v;
    if (!ref || strlen(ref) > 128)
        return false;
    int64_t now = nc_unix_now();
    nc_err err = nc_db_approval_candidates(w->db, ref, source, now, ids, sizeof ids / sizeof ids[0], &n, &by_id);
    if (err == NC_OK) {
        json_t *a = NULL;
        bool usable = false;
        for (size_t i = 0; i < n && !usable; i++) {
            json_t *ai = NULL;
            if (nc_db_approval_get(w->db, ids[i], &ai) != NC_OK)
                return false;   /* the run itself reports the store's failure */
            usable = approval_usable(ai, now);
            if (i == 0)
                a = ai;
            else
                json_decref(ai);
        }
        if (usable || !a || nc_db_submission_get(w->db, json_string_value(json_object_get(a, "submission")), false,
                                                  &sub) != NC_OK) {
            json_decref(a);
            return false;
        }
        /* a newer submission of the agent's own for this ref (a new review of
         * the same module) is what the user has to act on */
        json_t *newer = NULL;
        if (nc_db_submission_for_ref(w->db, source, ref, &newer) == NC_OK &&
            !json_equal(json_object_get(newer, "id"), json_object_get(sub, "id")) &&
            json_integer_value(json_object_get(newer, "created_at")) >=
                json_integer_value(json_object_get(sub, "created_at")) &&
            agent_view_of(w, newer, source, now, &v) == NC_OK && v.code != NC_OK &&
            strcmp(v.state, "used_up") && strcmp(v.state, "expired") && strcmp(v.state, "revoked")) {
            char msg[1024];
            agent_view_message(&v, newer, source, msg, sizeof msg);
            nc_reply_error(c, id, v.code, "%s", msg);
            json_decref(v.approvals);
            json_decref(newer);
            json_decref(a);
            json_decref(sub);
            return true;
        }
        json_decref(newer);
        memset(&v, 0, sizeof v);
        v.approval = a;
        v.state = unusable_state(a, now, &v.code);
        char msg[1024];
        agent_view_message(&v, sub, source, msg, sizeof msg);
        nc_reply_error(c, id, v.code, "%s", msg);
        json_decref(a);
        json_decref(sub);
        return true;
    }
    if (err != NC_ERR_NOT_FOUND || nc_db_submission_for_ref(w->db, source, ref, &sub) != NC_OK)
        return false;
    bool answered = false;
    if (agent_view_of(w, sub, source, now, &v) == NC_OK && v.code != NC_OK) {
        char msg[1024];
        agent_view_message(&v, sub, source, msg, sizeof msg);
        nc_reply_error(c, id, v.code, "%s", msg);
        answered = true;
    }
    json_decref(v.approvals);
    json_decref(sub);
    return answered;
}

static void a_run(nc_client *c, json_t *id, json_t *req, const char *agent, const char *source)
{
    (void)agent;
    if (run_refused_early(c, id, req, source))
        return;
    nc_run_as(c, id, req, source);   /* source is "agent:NAME", the invoker the approval must name */
}

static void a_run_get(nc_client *c, json_t *id, json_t *req, const char *agent, const char *source)
{
    (void)agent;
    nc_run_get_as(c, id, req, source);   /* only the agent's own runs */
}

static void a_run_start(nc_client *c, json_t *id, json_t *req, const char *agent, const char *source)
{
    (void)agent;
    if (run_refused_early(c, id, req, source))
        return;
    nc_run_start_as(c, id, req, source);
}

static void a_run_cancel(nc_client *c, json_t *id, json_t *req, const char *agent, const char *source)
{
    (void)agent;
    nc_run_cancel_as(c, id, req, source);   /* only the agent's own runs */
}

static const struct {
    const char *name;
    nc_agent_fn fn;
} agent_ops[] = {
    {"hello", a_hello},
    {"submit", a_submit},
    {"submission.get", a_submission_get},
    {"submissions.list", a_submissions_list},
    {"run", a_run},
    {"run.start", a_run_start},
    {"run.get", a_run_get},
    {"run.cancel", a_run_cancel},
    {"approvals.list", a_approvals_list},
    {"events.subscribe", a_events_subscribe},
};

void nc_agent_dispatch(nc_client *c, json_t *req)
{
    json_t *id = json_object_get(req, "id");
    const char *op = json_string_value(json_object_get(req, "op"));
    const char *token = json_string_value(json_object_get(req, "token"));
    char hash[NC_SHA256_HEX_LEN + 1], agent[80], source[96];
    if (!token || strlen(token) > 128) {
        nc_reply_error(c, id, NC_ERR_UNAUTHORIZED, "every request on the agent socket needs the agent's token");
        return;
    }
    token_hash(token, hash);
    nc_err err = nc_db_agent_by_token(c->w->db, hash, agent);
    if (err != NC_OK) {
        nc_reply_error(c, id, err == NC_ERR_NOT_FOUND ? NC_ERR_UNAUTHORIZED : NC_ERR_INTERNAL,
                       err == NC_ERR_NOT_FOUND ? "unknown or removed agent token" : "cannot check the token");
        return;
    }
    nc_client_authenticated(c);
    if (c->w->stopping) {
        nc_reply_error(c, id, NC_ERR_BUSY, "the worker is stopping");
        return;
    }
    snprintf(source, sizeof source, "agent:%s", agent);
    snprintf(c->agent_source, sizeof c->agent_source, "%s", source);
    for (size_t i = 0; i < sizeof agent_ops / sizeof agent_ops[0]; i++)
        if (strcmp(agent_ops[i].name, op) == 0) {
            agent_ops[i].fn(c, id, req, agent, source);
            return;
        }
    /* Operator ops are not "forbidden" here: they do not exist. */
    nc_reply_error(c, id, NC_ERR_UNAUTHORIZED, "\"%.64s\" is not an agent operation", op);
}

/* ---- events for an agent's subscription ---- */

static json_t *event_json(const char *type, json_t *fields /* stolen */)
{
    if (!fields)
        return NULL;
    json_object_set_new(fields, "type", json_string(type));
    json_object_set_new(fields, "at", json_integer(nc_unix_now()));
    return fields;
}

/* submission.updated for one of the agent's own submissions (by id). */
static void add_submission_updated(nc_client *c, const char *sid, json_t *out)
{
    json_t *sub = NULL;
    if (!sid || nc_db_submission_get(c->w->db, sid, false, &sub) != NC_OK)
        return;
    const char *src = json_string_value(json_object_get(sub, "source"));
    if (!src || strcmp(src, c->agent_source) != 0) {
        json_decref(sub);
        return;
    }
    sub = nc_agent_submission_view(c->w, sub, c->agent_source);
    json_t *state = json_incref(json_object_get(sub, "agent_state"));
    json_array_append_new(out, event_json("submission.updated",
                                          json_pack("{s:s, s:O, s:o, s:o}", "submission", sid, "name",
                                                    json_object_get(sub, "name"), "agent_state",
                                                    state ? state : json_null(), "previous_submission",
                                                    json_incref(json_object_get(sub, "previous_submission")))));
    json_decref(sub);
}

/* approvals.changed when an approval that names the agent was created,
 * revoked, used up (its last run started) or given a run back. */
static void add_approval_events(nc_client *c, const char *aid, const char *why, bool only_used_up, json_t *out)
{
    json_t *a = NULL;
    if (!aid || nc_db_approval_get(c->w->db, aid, &a) != NC_OK)
        return;
    if (invokers_name(a, c->agent_source) &&
        (!only_used_up || int_field(a, "runs") >= int_field(a, "max_runs"))) {
        json_array_append_new(out, event_json("approvals.changed",
                                              json_pack("{s:s, s:s, s:O}", "reason", why, "approval_id", aid, "name",
                                                        json_object_get(a, "name"))));
        if (strcmp(why, "created") != 0)
            add_submission_updated(c, json_string_value(json_object_get(a, "submission")), out);
    }
    if (strcmp(why, "created") == 0)   /* approved: the agent's submission changed state (for it or not) */
        add_submission_updated(c, json_string_value(json_object_get(a, "submission")), out);
    json_decref(a);
}

json_t *nc_agent_events_for(nc_client *c, const char *type, const json_t *ev)
{
    json_t *out = json_array();
    if (!out || !c->agent_source[0])
        return out;
    if (strcmp(type, "submission.created") == 0) {
        add_submission_updated(c, json_string_value(json_object_get(json_object_get(ev, "submission"), "id")), out);
    } else if (strcmp(type, "submission.rejected") == 0) {
        add_submission_updated(c, json_string_value(json_object_get(ev, "id")), out);
    } else if (strcmp(type, "approval.created") == 0) {
        add_approval_events(c, json_string_value(json_object_get(json_object_get(ev, "approval"), "id")), "created",
                            false, out);
    } else if (strcmp(type, "approval.revoked") == 0) {
        add_approval_events(c, json_string_value(json_object_get(ev, "id")), "revoked", false, out);
    } else if (strcmp(type, "run.progress") == 0) {
        const char *inv = json_string_value(json_object_get(ev, "invoker"));
        if (inv && strcmp(inv, c->agent_source) == 0)
            json_array_append_new(out, json_deep_copy(ev));
    } else if (strcmp(type, "run.started") == 0 || strcmp(type, "run.finished") == 0) {
        bool started = type[4] == 's';
        const json_t *run = started ? ev : json_object_get(ev, "run");
        const char *inv = json_string_value(json_object_get(run, "invoker"));
        const char *aid = json_string_value(json_object_get(run, "approval_id"));
        if (inv && strcmp(inv, c->agent_source) == 0)
            json_array_append_new(out, json_deep_copy(ev));
        /* any invoker's run counts against an approval that also names the agent */
        if (started)
            add_approval_events(c, aid, "used_up", true, out);
        else if (json_is_true(json_object_get(run, "refunded")))
            add_approval_events(c, aid, "refunded", false, out);
    }
    return out;
}
