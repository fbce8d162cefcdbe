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
                                                  NC_WORKER_AGENT_MAX_PENDING};
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
    json_object_del(sub, "approvals");   /* approval ids are the operator's business */
    nc_reply(c, id, sub);
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
    if (status && strcmp(status, "pending") && strcmp(status, "approved") && strcmp(status, "rejected")) {
        nc_reply_error(c, id, NC_ERR_USAGE, "status must be pending, approved or rejected (or absent for all)");
        return;
    }
    json_t *items;
    nc_err err = nc_db_submission_list_source(c->w->db, source, status, limit, offset, &items, &total);
    if (err != NC_OK) {
        nc_reply_db_error(c, id, err, "submission");
        return;
    }
    nc_reply(c, id, json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)total));
}

static void a_run(nc_client *c, json_t *id, json_t *req, const char *agent, const char *source)
{
    (void)agent;
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
    for (size_t i = 0; i < sizeof agent_ops / sizeof agent_ops[0]; i++)
        if (strcmp(agent_ops[i].name, op) == 0) {
            agent_ops[i].fn(c, id, req, agent, source);
            return;
        }
    /* Operator ops are not "forbidden" here: they do not exist. */
    nc_reply_error(c, id, NC_ERR_UNAUTHORIZED, "\"%.64s\" is not an agent operation", op);
}
