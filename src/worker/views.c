/* Operator ops for reviewing the worker's state (docs/protocol.md "Views"):
 * stats computed over the whole period, filtered lists, the audit log's
 * entries and refusals, alerts and their acknowledgement; and the alert
 * entries the worker writes when it raises an alert, so that an alert
 * outlives whoever was listening. All SQL is in src/store/views.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/json.h"
#include "common/limits.h"
#include "store/auditlog.h"
#include "store/views.h"
#include "trust/statement.h"
#include "worker/worker.h"

#define VIEW_MAX_TEXT 200
#define ALERT_DEDUP_SLOTS 32
#define ALERT_DEDUP_S 600
#define ALERT_MESSAGE_MAX 300

/* ---- parameters ---- */

/* A word of [a-z0-9_.-], 1-64 bytes (outcomes, codes, ops, entry types). */
static bool word_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* An optional string param: absent (NULL, true), or text passing ok. */
static bool opt_str(nc_client *c, json_t *id, json_t *req, const char *key, bool (*ok)(const char *),
                    const char *what, const char **out)
{
    json_t *v = json_object_get(req, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return true;
    const char *s = json_string_value(v);
    if (!s || strlen(s) != json_string_length(v) || !ok(s)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "%s must be %s", key, what);
        return false;
    }
    *out = s;
    return true;
}

static bool text_ok(const char *s)
{
    size_t n = strlen(s);
    return n <= VIEW_MAX_TEXT && !strpbrk(s, "\r\n");
}

static bool name_ok(const char *s)
{
    return nc_module_name_ok(s);
}

static bool invoker_ok(const char *s)
{
    return nc_invoker_ok(s);
}

static bool hex64_ok(const char *s)
{
    return strlen(s) == NC_SHA256_HEX_LEN && strspn(s, "0123456789abcdef") == NC_SHA256_HEX_LEN;
}

static bool status_ok(const char *s)
{
    return word_ok(s);
}

static bool order_ok(const char *s)
{
    return strcmp(s, "asc") == 0 || strcmp(s, "desc") == 0;
}

static bool run_sort_ok(const char *s)
{
    return strcmp(s, "started") == 0 || strcmp(s, "duration") == 0 || strcmp(s, "score") == 0;
}

static bool inbox_sort_ok(const char *s)
{
    return strcmp(s, "age") == 0 || strcmp(s, "score") == 0 || strcmp(s, "name") == 0;
}

static bool socket_ok(const char *s)
{
    return strcmp(s, "agent") == 0 || strcmp(s, "control") == 0;
}

/* An alert id: "audit-<seq>" or "drift-<submission id>". */
static bool alert_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n > 6 && n <= 26 && strncmp(s, "audit-", 6) == 0)
        return strspn(s + 6, "0123456789") == n - 6;
    return n > 6 && n <= 6 + NC_ID_MAX && strncmp(s, "drift-", 6) == 0 &&
           strspn(s + 6, "abcdefghijklmnopqrstuvwxyz0123456789_") == n - 6;
}

static bool page_params(nc_client *c, json_t *id, json_t *req, int64_t *limit, int64_t *offset)
{
    return nc_int_param(c, id, req, "limit", 50, 1, NC_VIEWS_MAX_LIMIT, limit) &&
           nc_int_param(c, id, req, "offset", 0, 0, INT64_MAX / 2, offset);
}

static bool time_params(nc_client *c, json_t *id, json_t *req, int64_t *from, int64_t *to)
{
    return nc_int_param(c, id, req, "from", 0, 0, INT64_MAX / 2, from) &&
           nc_int_param(c, id, req, "to", 0, 0, INT64_MAX / 2, to);
}

static void reply_view(nc_client *c, json_t *id, nc_err err, json_t *out, const char *what)
{
    if (err != NC_OK) {
        nc_reply_db_error(c, id, err, what);
        return;
    }
    nc_reply(c, id, out);
}

/* ---- stats ---- */

static void op_stats(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"day_start", NULL};
    int64_t now = nc_unix_now(), day_start;
    if (!nc_params_ok(c, id, req, p) ||
        !nc_int_param(c, id, req, "day_start", now - now % 86400, now - 2 * 86400, now + 86400, &day_start))
        return;
    nc_views_stats_req rq = {.now = now, .day_start = day_start};
    json_t *out = NULL;
    nc_err err = nc_views_stats(c->w->db, &rq, &out);
    reply_view(c, id, err, out, "stats");
}

/* ---- lists ---- */

static void op_runs_query(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"name", "outcome", "invoker", "approval", "from", "to", "sort", "order",
                                    "limit", "offset", NULL};
    nc_views_runs_req rq = {0};
    const char *order = NULL;
    if (!nc_params_ok(c, id, req, p) || !opt_str(c, id, req, "name", name_ok, "a module name", &rq.name) ||
        !opt_str(c, id, req, "outcome", word_ok, "an outcome", &rq.outcome) ||
        !opt_str(c, id, req, "invoker", invoker_ok, "\"operator\" or \"agent:NAME\"", &rq.invoker) ||
        !opt_str(c, id, req, "approval", hex64_ok, "an approval id (64 hex digits)", &rq.approval) ||
        !opt_str(c, id, req, "sort", run_sort_ok, "started, duration or score", &rq.sort) ||
        !opt_str(c, id, req, "order", order_ok, "asc or desc", &order) ||
        !time_params(c, id, req, &rq.from, &rq.to) || !page_params(c, id, req, &rq.limit, &rq.offset))
        return;
    rq.ascending = order && strcmp(order, "asc") == 0;
    json_t *out = NULL;
    nc_err err = nc_views_runs(c->w->db, &rq, &out);
    reply_view(c, id, err, out, "runs");
}

static void op_inbox_query(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"status", "name", "sha256", "q", "min_score", "max_score", "from", "to",
                                    "sort", "order", "limit", "offset", NULL};
    nc_views_inbox_req rq = {.min_score = -1, .max_score = -1, .now = nc_unix_now()};
    const char *order = NULL;
    if (!nc_params_ok(c, id, req, p) || !opt_str(c, id, req, "status", status_ok, "a status or all", &rq.status) ||
        !opt_str(c, id, req, "name", name_ok, "a module name", &rq.name) ||
        !opt_str(c, id, req, "sha256", hex64_ok, "64 hex digits", &rq.sha256) ||
        !opt_str(c, id, req, "q", text_ok, "text of at most 200 bytes on one line", &rq.q) ||
        !nc_int_param(c, id, req, "min_score", -1, 0, 100, &rq.min_score) ||
        !nc_int_param(c, id, req, "max_score", -1, 0, 100, &rq.max_score) ||
        !opt_str(c, id, req, "sort", inbox_sort_ok, "age, score or name", &rq.sort) ||
        !opt_str(c, id, req, "order", order_ok, "asc or desc", &order) ||
        !time_params(c, id, req, &rq.from, &rq.to) || !page_params(c, id, req, &rq.limit, &rq.offset))
        return;
    rq.ascending = order && strcmp(order, "asc") == 0;
    json_t *out = NULL;
    nc_err err = nc_views_inbox(c->w->db, &rq, &out);
    reply_view(c, id, err, out, "submissions");
}

static void op_modules_list(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"q", "limit", "offset", NULL};
    const char *q = NULL;
    int64_t limit, offset;
    if (!nc_params_ok(c, id, req, p) || !opt_str(c, id, req, "q", text_ok, "text of at most 200 bytes", &q) ||
        !page_params(c, id, req, &limit, &offset))
        return;
    json_t *out = NULL;
    nc_err err = nc_views_modules(c->w->db, q, nc_unix_now(), limit, offset, &out);
    reply_view(c, id, err, out, "modules");
}

/* ---- the audit log ---- */

static void op_audit_entries(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"kind", "actor", "name", "from", "to", "seq", "limit", "offset", NULL};
    nc_views_audit_req rq = {0};
    if (!nc_params_ok(c, id, req, p) || !opt_str(c, id, req, "kind", word_ok, "an entry type", &rq.kind) ||
        !opt_str(c, id, req, "actor", text_ok, "text of at most 200 bytes", &rq.actor) ||
        !opt_str(c, id, req, "name", name_ok, "a module name", &rq.name) ||
        !time_params(c, id, req, &rq.from, &rq.to) || !nc_int_param(c, id, req, "seq", -1, 0, INT64_MAX / 2, &rq.seq) ||
        !page_params(c, id, req, &rq.limit, &rq.offset))
        return;
    json_t *out = NULL;
    nc_err err = nc_views_audit(c->w->db, &rq, &out);
    reply_view(c, id, err, out, "audit entries");
}

/* An entry's inclusion proof in a fresh checkpoint's tree, checked against
 * the tree's root before it goes out (as run.receipt). */
static void op_audit_proof(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"seq", NULL};
    nc_worker *w = c->w;
    char note[NC_AUDIT_MAX_NOTE_BYTES], hex[NC_SHA256_HEX_LEN + 1];
    uint8_t proof[NC_AUDIT_MAX_LEVELS][NC_SHA256_LEN], leaf[NC_SHA256_LEN], root[NC_SHA256_LEN], *bytes = NULL;
    size_t n = 0, len = 0;
    int64_t seq;
    if (!nc_params_ok(c, id, req, p) || !nc_int_param(c, id, req, "seq", -1, 0, INT64_MAX / 2, &seq))
        return;
    if (seq < 0 || (uint64_t)seq >= w->audit.tree.size) {
        nc_reply_error(c, id, NC_ERR_NOT_FOUND, "no audit entry %lld (the log has %llu)", (long long)seq,
                       (unsigned long long)w->audit.tree.size);
        return;
    }
    if (nc_log_checkpoint(w, true, note, sizeof note) != NC_OK) {
        nc_reply_error(c, id, NC_ERR_INTERNAL, "cannot write a checkpoint");
        return;
    }
    uint64_t size = w->audit.tree.size;
    json_t *entry = NULL;
    if (nc_auditlog_entry(w->db, (uint64_t)seq, &bytes, &len, leaf) == NC_OK)
        entry = json_stringn((const char *)bytes, len);
    free(bytes);
    if (!entry || nc_audit_inclusion_proof(w->db, (uint64_t)seq, size, proof, NC_AUDIT_MAX_LEVELS, &n) != NC_OK) {
        json_decref(entry);
        nc_reply_error(c, id, NC_ERR_INTERNAL, "cannot build the inclusion proof of entry %lld", (long long)seq);
        return;
    }
    nc_audit_tree_root(&w->audit.tree, root);
    if (!nc_audit_inclusion_check((uint64_t)seq, size, leaf, (const uint8_t(*)[NC_SHA256_LEN])proof, n, root)) {
        json_decref(entry);
        nc_reply_error(c, id, NC_ERR_INTERNAL, "the stored audit tree does not prove entry %lld: run `nightcore "
                       "audit verify`", (long long)seq);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        nc_hex(proof[i], NC_SHA256_LEN, hex);
        json_array_append_new(arr, json_string(hex));
    }
    nc_hex(leaf, NC_SHA256_LEN, hex);
    nc_reply(c, id, json_pack("{s:I, s:o, s:s, s:I, s:s, s:o?}", "seq", (json_int_t)seq, "entry", entry, "leaf", hex,
                              "size", (json_int_t)size, "checkpoint", note, "proof", arr));
}

static void op_refusals_list(nc_client *c, json_t *id, json_t *req)
{
    /* "request", not "op": a parameter is never named op (docs/protocol.md) */
    static const char *const p[] = {"socket", "request", "code", "uid", "from", "to", "limit", "offset", NULL};
    nc_views_refusals_req rq = {0};
    if (!nc_params_ok(c, id, req, p) || !opt_str(c, id, req, "socket", socket_ok, "agent or control", &rq.socket) ||
        !opt_str(c, id, req, "request", word_ok, "an op name", &rq.request) ||
        !opt_str(c, id, req, "code", word_ok, "an error code", &rq.code) ||
        !nc_int_param(c, id, req, "uid", -1, 0, UINT32_MAX, &rq.uid) || !time_params(c, id, req, &rq.from, &rq.to) ||
        !page_params(c, id, req, &rq.limit, &rq.offset))
        return;
    json_t *out = NULL;
    nc_err err = nc_views_refusals(c->w->db, &rq, &out);
    reply_view(c, id, err, out, "refusals");
}

/* ---- alerts ---- */

static void op_alerts_list(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"all", "limit", "offset", NULL};
    int64_t limit, offset;
    json_t *all = json_object_get(req, "all");
    if (!nc_params_ok(c, id, req, p) || !page_params(c, id, req, &limit, &offset))
        return;
    if (all && !json_is_boolean(all)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "all must be true or false");
        return;
    }
    json_t *out = NULL;
    nc_err err = nc_views_alerts(c->w->db, json_is_true(all), NULL, limit, offset, &out);
    reply_view(c, id, err, out, "alerts");
}

/* alert.ack: recorded in the audit log (an alert.ack entry); acknowledging
 * one already acknowledged answers with the first acknowledgement. */
static void op_alert_ack(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"alert", NULL};
    nc_worker *w = c->w;
    const char *aid = NULL;
    json_t *found = NULL;
    if (!nc_params_ok(c, id, req, p) ||
        !opt_str(c, id, req, "alert", alert_id_ok, "an alert id (audit-N or drift-ID)", &aid))
        return;
    if (!aid) {
        nc_reply_error(c, id, NC_ERR_USAGE, "alert (its id) is required");
        return;
    }
    nc_err err = nc_views_alerts(w->db, true, aid, 1, 0, &found);
    json_t *alert = json_array_get(json_object_get(found, "items"), 0);
    if (err != NC_OK || !alert) {
        json_decref(found);
        if (err != NC_OK)
            nc_reply_db_error(c, id, err, "alerts");
        else
            nc_reply_error(c, id, NC_ERR_NOT_FOUND, "no alert %s", aid);
        return;
    }
    if (json_is_null(json_object_get(alert, "acknowledged"))) {
        json_t *f = json_pack("{s:s, s:O?, s:O?, s:I}", "alert", aid, "kind", json_object_get(alert, "kind"), "name",
                              json_object_get(alert, "name"), "uid", (json_int_t)c->uid);
        uint64_t seq = 0;
        err = nc_db_begin(w->db);
        if (err == NC_OK)
            err = nc_log(w, "alert.ack", f, &seq);
        else
            json_decref(f);
        if (err == NC_OK)
            err = nc_db_commit(w->db);
        if (err != NC_OK) {
            nc_log_abort(w);
            json_decref(found);
            nc_reply_store_error(c, id, err, "the acknowledgement");
            return;
        }
        json_object_set_new(alert, "acknowledged",
                            json_pack("{s:I, s:I}", "seq", (json_int_t)seq, "at", (json_int_t)nc_unix_now()));
        nc_emit(w, "alert.acknowledged", json_pack("{s:s, s:I}", "alert", aid, "seq", (json_int_t)seq));
    }
    nc_reply(c, id, json_incref(alert));
    json_decref(found);
}

/* ---- the alert entries ---- */

static struct {
    uint8_t hash[NC_SHA256_LEN];
    int64_t at;
} g_recent[ALERT_DEDUP_SLOTS];

/* The same alert (kind, subject, message) within ALERT_DEDUP_S is recorded
 * once: a hundred refused runs of a tampered approval are one entry. */
static bool seen_recently(const char *key, int64_t now)
{
    uint8_t h[NC_SHA256_LEN];
    if (nc_sha256(key, strlen(key), h) != NC_OK)
        return false;
    size_t oldest = 0;
    for (size_t i = 0; i < ALERT_DEDUP_SLOTS; i++) {
        if (memcmp(g_recent[i].hash, h, sizeof h) == 0 && now - g_recent[i].at < ALERT_DEDUP_S)
            return true;
        if (g_recent[i].at < g_recent[oldest].at)
            oldest = i;
    }
    memcpy(g_recent[oldest].hash, h, sizeof h);
    g_recent[oldest].at = now;
    return false;
}

void nc_views_record_alert(nc_worker *w, const json_t *ev)
{
    static const char *const keep[] = {"approval_id", "submission", "name", "run", NULL};
    const char *kind = json_string_value(json_object_get(ev, "kind"));
    const char *message = json_string_value(json_object_get(ev, "message"));
    /* drift is derived from the inbox itself (a pending submission in drift) */
    if (!w->audit.db || !w->db || !kind || strcmp(kind, "drift") == 0)
        return;
    if (nc_views_in_transaction(w->db)) {
        fprintf(stderr, "nightcore-worker: an alert (%s) raised inside a transaction is not recorded\n", kind);
        return;
    }
    char key[1024];
    snprintf(key, sizeof key, "%s|%s|%s|%.600s", kind,
             json_string_value(json_object_get(ev, "approval_id")) ? json_string_value(json_object_get(ev, "approval_id")) : "",
             json_string_value(json_object_get(ev, "name")) ? json_string_value(json_object_get(ev, "name")) : "",
             message ? message : "");
    if (seen_recently(key, nc_unix_now()))
        return;
    size_t mlen = message ? strlen(message) : 0;
    json_t *f = json_pack("{s:s, s:s%}", "kind", kind, "message", message ? message : "",
                          mlen > ALERT_MESSAGE_MAX ? (size_t)ALERT_MESSAGE_MAX : mlen);
    for (size_t i = 0; f && keep[i]; i++) {
        const json_t *v = json_object_get(ev, keep[i]);
        if (json_is_string(v) && json_string_length(v) <= 128)
            json_object_set_new(f, keep[i], json_string(json_string_value(v)));
    }
    if (!f || nc_db_begin(w->db) != NC_OK) {
        json_decref(f);
        return;
    }
    if (nc_log(w, "alert", f, NULL) != NC_OK || nc_db_commit(w->db) != NC_OK) {
        nc_log_abort(w);
        fprintf(stderr, "nightcore-worker: could not record an alert (%s) in the audit log\n", kind);
    }
}

/* ---- dispatch ---- */

static const struct {
    const char *name;
    void (*fn)(nc_client *c, json_t *id, json_t *req);
} view_ops[] = {
    {"stats", op_stats},
    {"runs.query", op_runs_query},
    {"inbox.query", op_inbox_query},
    {"modules.list", op_modules_list},
    {"audit.entries", op_audit_entries},
    {"audit.proof", op_audit_proof},
    {"refusals.list", op_refusals_list},
    {"alerts.list", op_alerts_list},
    {"alert.ack", op_alert_ack},
};

bool nc_views_dispatch(nc_client *c, json_t *id, const char *op, json_t *req)
{
    for (size_t i = 0; i < sizeof view_ops / sizeof view_ops[0]; i++)
        if (strcmp(view_ops[i].name, op) == 0) {
            view_ops[i].fn(c, id, req);
            return true;
        }
    return false;
}
