/* Read views for the operator (store/views.h). Aggregates are GROUP BY
 * queries over the whole table, so a count is the count however many rows
 * there are; lists are one page of ids chosen by SQL, each then read as the
 * store reads it elsewhere (db.h), so a listing here is the listing there. */
#include "store/views.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/internal.h"

/* ---- a query with a WHERE built from the filters given ---- */

#define Q_MAX_SQL 4096
#define Q_MAX_ARGS 16

typedef struct {
    char sql[Q_MAX_SQL];
    size_t len;
    bool overflow;
    unsigned nargs;
    struct {
        const char *text;
        int64_t num;
    } args[Q_MAX_ARGS];
} query;

static void q_add(query *q, const char *s)
{
    size_t n = strlen(s);
    if (q->overflow || n >= sizeof q->sql - q->len) {
        q->overflow = true;
        return;
    }
    memcpy(q->sql + q->len, s, n + 1);
    q->len += n;
}

/* " AND cond" with one text (?) bound */
static void q_text(query *q, const char *cond, const char *v)
{
    if (!v)
        return;
    if (q->nargs >= Q_MAX_ARGS) {
        q->overflow = true;
        return;
    }
    q->args[q->nargs].text = v;
    q->args[q->nargs++].num = 0;
    q_add(q, " AND ");
    q_add(q, cond);
}

static void q_num(query *q, const char *cond, int64_t v)
{
    if (q->nargs >= Q_MAX_ARGS) {
        q->overflow = true;
        return;
    }
    q->args[q->nargs].text = NULL;
    q->args[q->nargs++].num = v;
    q_add(q, " AND ");
    q_add(q, cond);
}

static nc_err q_prepare(nc_db *db, const query *q, sqlite3_stmt **st)
{
    *st = NULL;
    if (q->overflow)
        return NC_ERR_INTERNAL;
    nc_err err = nc_store_prepare(db, q->sql, st);
    if (err != NC_OK)
        return err;
    for (unsigned i = 0; i < q->nargs; i++) {
        if (q->args[i].text)
            sqlite3_bind_text(*st, (int)i + 1, q->args[i].text, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(*st, (int)i + 1, q->args[i].num);
    }
    return NC_OK;
}

static json_t *text_or_null(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? json_string((const char *)t) : json_null();
}

static json_t *int_or_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st, col));
}

/* One integer from a query of q (its first column). */
static nc_err q_count(nc_db *db, const query *q, int64_t *out)
{
    sqlite3_stmt *st;
    *out = 0;
    nc_err err = q_prepare(db, q, &st);
    if (err != NC_OK)
        return err;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        err = nc_store_fail(db);
    sqlite3_finalize(st);
    return err;
}

bool nc_views_in_transaction(nc_db *db)
{
    return !sqlite3_get_autocommit(db->h);
}

/* Outcome names become keys of the answers: a known shape only. */
static void outcome_key(const char *o, char out[32])
{
    snprintf(out, 32, "%s", o && strlen(o) < 32 ? o : "unknown");
    for (size_t k = 0; out[k]; k++)
        if (!((out[k] >= 'a' && out[k] <= 'z') || out[k] == '_'))
            out[k] = '_';
}

static void bump(json_t *obj, const char *key, int64_t n)
{
    json_t *v = json_object_get(obj, key);
    json_object_set_new(obj, key, json_integer((json_is_integer(v) ? json_integer_value(v) : 0) + n));
}

/* ---- stats ---- */

/* Rows of (bucket, key, n) into buckets[bucket][key] += n; buckets outside
 * [0, nb) are ignored. */
static nc_err fill_buckets(nc_db *db, const char *sql, int64_t a1, int64_t a2, json_t *buckets, size_t nb)
{
    sqlite3_stmt *st;
    nc_err err = nc_store_prepare(db, sql, &st);
    if (err != NC_OK)
        return err;
    sqlite3_bind_int64(st, 1, a1);
    sqlite3_bind_int64(st, 2, a2);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64(st, 0);
        char key[32];
        outcome_key((const char *)sqlite3_column_text(st, 1), key);
        if (b >= 0 && (uint64_t)b < nb)
            bump(json_array_get(buckets, (size_t)b), key, sqlite3_column_int64(st, 2));
    }
    err = nc_store_end(db, rc);
    sqlite3_finalize(st);
    return err;
}

/* The refusals that matter, as a FROM clause: (seq, kind, e) rows. */
#define REFUSALS_FROM                                                                                          \
    "(SELECT seq, kind, CAST(entry AS TEXT) AS e FROM audit_log WHERE kind IN ('refused','refused.summary')) " \
    "WHERE (json_extract(e,'$.socket')='agent' OR (kind='refused' AND json_extract(e,'$.op') IN "             \
    "('run','approval.submit','trust.add','policy.add')))"
#define REFUSAL_WEIGHT "CASE kind WHEN 'refused.summary' THEN coalesce(json_extract(e,'$.count'),0) ELSE 1 END"

static nc_err stats_runs(nc_db *db, const nc_views_stats_req *rq, json_t *runs)
{
    query q = {0};
    int64_t total;
    q_add(&q, "SELECT count(*) FROM runs");
    nc_err err = q_count(db, &q, &total);
    if (err != NC_OK)
        return err;
    json_object_set_new(runs, "total", json_integer(total));

    json_t *today = json_array(), *hours = json_array(), *days = json_array();
    json_object_set_new(runs, "by_hour", hours);
    json_object_set_new(runs, "by_day", days);
    if (!today || !hours || !days) {
        json_decref(today);
        return NC_ERR_NOMEM;
    }
    json_array_append_new(today, json_object());
    int64_t first_hour = rq->now - rq->now % 3600 - (NC_VIEWS_HOURS - 1) * 3600;
    int64_t first_day = rq->day_start - (int64_t)(NC_VIEWS_DAYS - 1) * 86400;
    for (int i = 0; i < NC_VIEWS_HOURS; i++)
        json_array_append_new(hours, json_pack("{s:I}", "hour", (json_int_t)(first_hour + i * 3600)));
    for (int i = 0; i < NC_VIEWS_DAYS; i++)
        json_array_append_new(days, json_pack("{s:I}", "day", (json_int_t)(first_day + (int64_t)i * 86400)));
    static const char by[] = "SELECT (started_at - ?1) / %d, coalesce(outcome, 'running'), count(*) FROM runs "
                             "WHERE started_at >= ?1 AND started_at < ?2 GROUP BY 1, 2";
    char sql[256];
    snprintf(sql, sizeof sql, by, 86400);
    err = fill_buckets(db, sql, rq->day_start, INT64_MAX, today, 1);
    if (err == NC_OK) {
        snprintf(sql, sizeof sql, by, 3600);
        err = fill_buckets(db, sql, first_hour, first_hour + NC_VIEWS_HOURS * 3600, hours, NC_VIEWS_HOURS);
    }
    if (err == NC_OK) {
        snprintf(sql, sizeof sql, by, 86400);
        err = fill_buckets(db, sql, first_day, first_day + (int64_t)NC_VIEWS_DAYS * 86400, days, NC_VIEWS_DAYS);
    }
    json_object_set(runs, "today", json_array_get(today, 0));
    json_decref(today);
    return err;
}

static nc_err stats_submissions(nc_db *db, json_t *subs)
{
    sqlite3_stmt *st;
    int rc;
    json_t *by_status = json_object(), *hist = json_array();
    json_object_set_new(subs, "by_status", by_status);
    json_object_set_new(subs, "score_histogram", hist);
    if (!by_status || !hist)
        return NC_ERR_NOMEM;
    for (int i = 0; i < 10; i++)
        json_array_append_new(hist, json_pack("{s:i}", "bucket", i));
    nc_err err = nc_store_prepare(db, "SELECT status, count(*) FROM submissions GROUP BY status", &st);
    if (err != NC_OK)
        return err;
    int64_t total = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char key[32];
        outcome_key((const char *)sqlite3_column_text(st, 0), key);
        bump(by_status, key, sqlite3_column_int64(st, 1));
        total += sqlite3_column_int64(st, 1);
    }
    err = nc_store_end(db, rc);
    sqlite3_finalize(st);
    if (err != NC_OK)
        return err;
    json_object_set_new(subs, "total", json_integer(total));
    err = fill_buckets(db,
                       "SELECT min(9, max(0, coalesce(json_extract(threat,'$.score'),0) / 10)), status, count(*) "
                       "FROM submissions WHERE ?1 = ?2 GROUP BY 1, 2",
                       0, 0, hist, 10);
    if (err != NC_OK)
        return err;
    query q = {0};
    int64_t drift;
    q_add(&q, "SELECT count(*) FROM submissions WHERE status='pending' AND drift_state='drift'");
    if ((err = q_count(db, &q, &drift)) != NC_OK)
        return err;
    json_object_set_new(subs, "pending_drift", json_integer(drift));
    json_t *top = json_array();
    json_object_set_new(subs, "riskiest_pending", top);
    if (!top)
        return NC_ERR_NOMEM;
    err = nc_store_prepare(db, "SELECT id FROM submissions WHERE status='pending' "
                               "ORDER BY coalesce(json_extract(threat,'$.score'),0) DESC, created_at DESC LIMIT ?1", &st);
    if (err != NC_OK)
        return err;
    sqlite3_bind_int(st, 1, NC_VIEWS_TOP_PENDING);
    char ids[NC_VIEWS_TOP_PENDING][80];
    size_t n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < NC_VIEWS_TOP_PENDING)
        snprintf(ids[n++], sizeof ids[0], "%s", (const char *)sqlite3_column_text(st, 0));
    err = rc == SQLITE_ROW ? NC_OK : nc_store_end(db, rc);
    sqlite3_finalize(st);
    for (size_t i = 0; err == NC_OK && i < n; i++) {
        json_t *s = NULL;
        if ((err = nc_db_submission_get(db, ids[i], false, &s)) == NC_OK)
            json_array_append_new(top, s);
    }
    return err;
}

static nc_err stats_refusals(nc_db *db, int64_t since, json_t *ref)
{
    query q = {0};
    int64_t today, total;
    q_add(&q, "SELECT coalesce(sum(" REFUSAL_WEIGHT "),0) FROM " REFUSALS_FROM);
    nc_err err = q_count(db, &q, &total);
    if (err != NC_OK)
        return err;
    q_num(&q, "json_extract(e,'$.time') >= ?", since);
    if ((err = q_count(db, &q, &today)) != NC_OK)
        return err;
    json_object_set_new(ref, "total", json_integer(total));
    json_object_set_new(ref, "today", json_integer(today));
    return NC_OK;
}

nc_err nc_views_stats(nc_db *db, const nc_views_stats_req *rq, json_t **out)
{
    json_t *o = json_pack("{s:{}, s:{}, s:{}, s:I, s:I}", "runs", "submissions", "refusals", "now",
                          (json_int_t)rq->now, "day_start", (json_int_t)rq->day_start);
    *out = NULL;
    if (!o)
        return NC_ERR_NOMEM;
    nc_err err = nc_db_snapshot_begin(db);
    if (err == NC_OK) {
        err = stats_runs(db, rq, json_object_get(o, "runs"));
        if (err == NC_OK)
            err = stats_submissions(db, json_object_get(o, "submissions"));
        if (err == NC_OK)
            err = stats_refusals(db, rq->day_start, json_object_get(o, "refusals"));
        nc_db_snapshot_end(db);
    }
    if (err != NC_OK) {
        json_decref(o);
        return err;
    }
    *out = o;
    return NC_OK;
}

/* ---- runs ---- */

static json_t *run_listing(sqlite3_stmt *st)
{
    /* id, approval_id, name, sha256, invoker, started_at, outcome, result (without outputs) */
    json_t *o = NULL;
    const unsigned char *t = sqlite3_column_text(st, 7);
    if (t)
        o = json_loads((const char *)t, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:I}", "id", text_or_null(st, 0), "approval_id",
                      text_or_null(st, 1), "name", text_or_null(st, 2), "sha256", text_or_null(st, 3), "invoker",
                      text_or_null(st, 4), "outcome",
                      sqlite3_column_type(st, 6) == SQLITE_NULL ? json_string("running") : text_or_null(st, 6),
                      "started_at", (json_int_t)sqlite3_column_int64(st, 5));
    }
    return o;
}

/* Rows of a page query into {items, total}. */
typedef json_t *(*row_fn)(sqlite3_stmt *st);

static nc_err page(nc_db *db, query *q, const char *select, const char *order, int64_t limit, int64_t offset,
                   row_fn row, json_t **out)
{
    /* q holds "FROM ... WHERE 1 AND ...": count first, then the page */
    query c = *q, p = *q;
    int64_t total;
    c.len = p.len = 0;
    c.sql[0] = p.sql[0] = '\0';
    q_add(&c, "SELECT count(*) ");
    q_add(&c, q->sql);
    nc_err err = q_count(db, &c, &total);
    if (err != NC_OK)
        return err;
    q_add(&p, select);
    q_add(&p, " ");
    q_add(&p, q->sql);
    q_add(&p, " ORDER BY ");
    q_add(&p, order);
    q_add(&p, " LIMIT ? OFFSET ?");
    if (p.nargs + 2 > Q_MAX_ARGS)
        return NC_ERR_INTERNAL;
    p.args[p.nargs].text = NULL;
    p.args[p.nargs++].num = limit;
    p.args[p.nargs].text = NULL;
    p.args[p.nargs++].num = offset;
    sqlite3_stmt *st;
    if ((err = q_prepare(db, &p, &st)) != NC_OK)
        return err;
    json_t *items = json_array();
    int rc = SQLITE_DONE;
    while (items && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *v = row(st);
        if (!v || json_array_append_new(items, v) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    err = !items || rc == SQLITE_NOMEM ? NC_ERR_NOMEM : nc_store_end(db, rc);
    sqlite3_finalize(st);
    if (err != NC_OK) {
        json_decref(items);
        return err;
    }
    *out = json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)total);
    return *out ? NC_OK : NC_ERR_NOMEM;
}

nc_err nc_views_runs(nc_db *db, const nc_views_runs_req *rq, json_t **out)
{
    query q = {0};
    *out = NULL;
    q_add(&q, "FROM runs WHERE 1");
    q_text(&q, "name = ?", rq->name);
    q_text(&q, "invoker = ?", rq->invoker);
    q_text(&q, "approval_id = ?", rq->approval);
    if (rq->outcome)
        q_text(&q, "coalesce(outcome, 'running') = ?", rq->outcome);
    if (rq->from)
        q_num(&q, "started_at >= ?", rq->from);
    if (rq->to)
        q_num(&q, "started_at < ?", rq->to);
    const char *key = "started_at";
    if (rq->sort && strcmp(rq->sort, "duration") == 0)
        key = "coalesce(duration_ms, -1)";
    else if (rq->sort && strcmp(rq->sort, "score") == 0)
        key = "coalesce(score, -1)";
    char order[160];
    snprintf(order, sizeof order, "%s %s, started_at DESC, rowid DESC", key, rq->ascending ? "ASC" : "DESC");
    return page(db, &q,
                "SELECT id, approval_id, name, sha256, invoker, started_at, outcome, "
                "json_remove(result, '$.stdout', '$.stderr', '$.stdout_b64', '$.stderr_b64')",
                order, rq->limit, rq->offset, run_listing, out);
}

/* ---- submissions ---- */

static json_t *id_row(sqlite3_stmt *st)
{
    /* id, active approvals, approvals, revoked, expired, used up */
    return json_pack("{s:o, s:I, s:I, s:I, s:I, s:I}", "id", text_or_null(st, 0), "active",
                     (json_int_t)sqlite3_column_int64(st, 1), "total", (json_int_t)sqlite3_column_int64(st, 2),
                     "revoked", (json_int_t)sqlite3_column_int64(st, 3), "expired",
                     (json_int_t)sqlite3_column_int64(st, 4), "used_up", (json_int_t)sqlite3_column_int64(st, 5));
}

/* What its approvals allow now, in one word: active, revoked, expired,
 * used_up, or none. */
static const char *approval_word(const json_t *a)
{
    int64_t active = json_integer_value(json_object_get(a, "active"));
    int64_t total = json_integer_value(json_object_get(a, "total"));
    int64_t revoked = json_integer_value(json_object_get(a, "revoked"));
    int64_t expired = json_integer_value(json_object_get(a, "expired"));
    if (!total)
        return "none";
    if (active)
        return "active";
    if (revoked == total)
        return "revoked";
    if (expired + revoked == total && expired)
        return "expired";
    return "used_up";
}

nc_err nc_views_inbox(nc_db *db, const nc_views_inbox_req *rq, json_t **out)
{
    query q = {0};
    char like[300];
    *out = NULL;
    q_add(&q, "FROM submissions s WHERE 1");
    if (rq->status && strcmp(rq->status, "all") != 0)
        q_text(&q, "s.status = ?", rq->status);
    q_text(&q, "s.name = ?", rq->name);
    q_text(&q, "s.sha256 = ?", rq->sha256);
    if (rq->q && rq->q[0]) {
        /* a literal substring: LIKE's wildcards in it are escaped */
        size_t j = 0;
        like[j++] = '%';
        for (const char *p = rq->q; *p && j < sizeof like - 3; p++) {
            if (*p == '%' || *p == '_' || *p == '\\')
                like[j++] = '\\';
            like[j++] = *p;
        }
        like[j++] = '%';
        like[j] = '\0';
        q_text(&q, "(s.name LIKE ?1x ESCAPE '\\' OR s.source LIKE ?1x ESCAPE '\\' OR s.description LIKE ?1x "
                   "ESCAPE '\\' OR s.id LIKE ?1x ESCAPE '\\' OR s.sha256 LIKE substr(?1x, 2) ESCAPE '\\')",
               like);
        /* ?1x stands for this argument's number, filled in below */
        char num[8];
        snprintf(num, sizeof num, "?%u", q.nargs);
        for (char *m; (m = strstr(q.sql, "?1x"));) {
            size_t nl = strlen(num);
            memmove(m + nl, m + 3, strlen(m + 3) + 1);
            memcpy(m, num, nl);
            q.len = strlen(q.sql);
        }
        /* the numbered argument is bound by number; the plain ? after it count on */
    }
    if (rq->min_score >= 0)
        q_num(&q, "coalesce(json_extract(s.threat,'$.score'),0) >= ?", rq->min_score);
    if (rq->max_score >= 0)
        q_num(&q, "coalesce(json_extract(s.threat,'$.score'),0) <= ?", rq->max_score);
    if (rq->from)
        q_num(&q, "s.created_at >= ?", rq->from);
    if (rq->to)
        q_num(&q, "s.created_at < ?", rq->to);
    const char *key = "s.created_at";
    if (rq->sort && strcmp(rq->sort, "score") == 0)
        key = "coalesce(json_extract(s.threat,'$.score'),0)";
    else if (rq->sort && strcmp(rq->sort, "name") == 0)
        key = "s.name";
    char order[160], select[600];
    bool asc = rq->ascending;
    snprintf(order, sizeof order, "%s %s, s.created_at DESC, s.rowid DESC", key, asc ? "ASC" : "DESC");
    snprintf(select, sizeof select,
             "SELECT s.id,"
             " (SELECT count(*) FROM approvals a WHERE a.submission=s.id AND a.revoked=0 AND a.runs<a.max_runs"
             "  AND a.expires_at>%lld AND a.not_before<=%lld),"
             " (SELECT count(*) FROM approvals a WHERE a.submission=s.id),"
             " (SELECT count(*) FROM approvals a WHERE a.submission=s.id AND a.revoked=1),"
             " (SELECT count(*) FROM approvals a WHERE a.submission=s.id AND a.revoked=0 AND a.expires_at<=%lld),"
             " (SELECT count(*) FROM approvals a WHERE a.submission=s.id AND a.revoked=0 AND a.runs>=a.max_runs)",
             (long long)rq->now, (long long)rq->now, (long long)rq->now);
    json_t *ids = NULL;
    nc_err err = nc_db_snapshot_begin(db);
    if (err != NC_OK)
        return err;
    err = page(db, &q, select, order, rq->limit, rq->offset, id_row, &ids);
    json_t *items = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(err == NC_OK ? json_object_get(ids, "items") : NULL, i, row) {
        json_t *s = NULL;
        if ((err = nc_db_submission_get(db, json_string_value(json_object_get(row, "id")), false, &s)) != NC_OK)
            break;
        json_object_del(row, "id");
        json_object_set_new(row, "state", json_string(approval_word(row)));
        json_object_set(s, "approval_state", row);
        json_array_append_new(items, s);
    }
    nc_db_snapshot_end(db);
    if (err == NC_OK && items) {
        json_object_set_new(ids, "items", items);
        *out = ids;
        return NC_OK;
    }
    json_decref(items);
    json_decref(ids);
    return err == NC_OK ? NC_ERR_NOMEM : err;
}

/* ---- modules ---- */

static json_t *module_row(sqlite3_stmt *st)
{
    return json_pack("{s:o, s:I, s:I, s:I, s:I, s:o, s:o, s:I, s:I, s:o}", "name", text_or_null(st, 0), "versions",
                     (json_int_t)sqlite3_column_int64(st, 1), "pending", (json_int_t)sqlite3_column_int64(st, 2),
                     "approved", (json_int_t)sqlite3_column_int64(st, 3), "rejected",
                     (json_int_t)sqlite3_column_int64(st, 4), "last_submitted_at", int_or_null(st, 5), "max_score",
                     int_or_null(st, 6), "active_approvals", (json_int_t)sqlite3_column_int64(st, 7), "runs",
                     (json_int_t)sqlite3_column_int64(st, 8), "last_run_at", int_or_null(st, 9));
}

nc_err nc_views_modules(nc_db *db, const char *qtext, int64_t now, int64_t limit, int64_t offset, json_t **out)
{
    query q = {0};
    char like[300];
    *out = NULL;
    q_add(&q, "FROM (SELECT DISTINCT name FROM submissions) m WHERE 1");
    if (qtext && qtext[0]) {
        size_t j = 0;
        like[j++] = '%';
        for (const char *p = qtext; *p && j < sizeof like - 3; p++) {
            if (*p == '%' || *p == '_' || *p == '\\')
                like[j++] = '\\';
            like[j++] = *p;
        }
        like[j++] = '%';
        like[j] = '\0';
        q_text(&q, "m.name LIKE ? ESCAPE '\\'", like);
    }
    char select[1200];
    snprintf(select, sizeof select,
             "SELECT m.name,"
             " (SELECT count(DISTINCT sha256) FROM submissions WHERE name=m.name),"
             " (SELECT count(*) FROM submissions WHERE name=m.name AND status='pending'),"
             " (SELECT count(*) FROM submissions WHERE name=m.name AND status='approved'),"
             " (SELECT count(*) FROM submissions WHERE name=m.name AND status='rejected'),"
             " (SELECT max(created_at) FROM submissions WHERE name=m.name),"
             " (SELECT max(coalesce(json_extract(threat,'$.score'),0)) FROM submissions WHERE name=m.name),"
             " (SELECT count(*) FROM approvals a WHERE a.name=m.name AND a.revoked=0 AND a.runs<a.max_runs"
             "  AND a.expires_at>%lld AND a.not_before<=%lld),"
             " (SELECT count(*) FROM runs WHERE name=m.name),"
             " (SELECT max(started_at) FROM runs WHERE name=m.name)",
             (long long)now, (long long)now);
    return page(db, &q, select,
                "max(coalesce((SELECT max(created_at) FROM submissions WHERE name=m.name),0),"
                " coalesce((SELECT max(started_at) FROM runs WHERE name=m.name),0)) DESC, m.name",
                limit, offset, module_row, out);
}

/* ---- the audit log ---- */

/* Who did it, from the entry itself (and, for a run's end, its run). */
#define AUDIT_ACTOR                                                                                            \
    "CASE kind WHEN 'submission' THEN json_extract(e,'$.source') WHEN 'approval' THEN json_extract(e,'$.approver') " \
    "WHEN 'run.start' THEN json_extract(e,'$.invoker') "                                                       \
    "WHEN 'run.end' THEN coalesce((SELECT invoker FROM runs WHERE id=json_extract(e,'$.run')),'worker') "     \
    "WHEN 'trust.add' THEN json_extract(e,'$.signer') "                                                        \
    "WHEN 'refused' THEN json_extract(e,'$.socket')||' socket, uid '||coalesce(json_extract(e,'$.uid'),'?') "   \
    "WHEN 'refused.summary' THEN json_extract(e,'$.socket')||' socket, uid '||coalesce(json_extract(e,'$.uid'),'?') " \
    "WHEN 'worker.start' THEN 'worker' WHEN 'worker.stop' THEN 'worker' WHEN 'artifact.rebuilt' THEN 'worker' "   \
    "WHEN 'run.refund' THEN 'worker' WHEN 'alert' THEN 'worker' ELSE 'operator' END"
/* The module it is about, if any. */
#define AUDIT_NAME                                                                                   \
    "coalesce(json_extract(e,'$.name'),"                                                             \
    " (SELECT name FROM submissions WHERE id=json_extract(e,'$.submission')),"                       \
    " (SELECT name FROM approvals WHERE id=json_extract(e,'$.approval_id')))"

static json_t *audit_row(sqlite3_stmt *st)
{
    /* seq, time, kind, actor, name, submission, approval_id, run, entry */
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "seq", (json_int_t)sqlite3_column_int64(st, 0),
                     "time", int_or_null(st, 1), "type", text_or_null(st, 2), "actor", text_or_null(st, 3), "name",
                     text_or_null(st, 4), "submission", text_or_null(st, 5), "approval_id", text_or_null(st, 6), "run",
                     text_or_null(st, 7), "entry", text_or_null(st, 8));
}

nc_err nc_views_audit(nc_db *db, const nc_views_audit_req *rq, json_t **out)
{
    query q = {0};
    *out = NULL;
    q_add(&q, "FROM (SELECT seq, kind, e, " AUDIT_ACTOR " AS actor, " AUDIT_NAME " AS name FROM "
              "(SELECT seq, kind, CAST(entry AS TEXT) AS e FROM audit_log");
    /* the indexed filters inside, where the index can serve them */
    q_add(&q, " WHERE 1");
    q_text(&q, "kind = ?", rq->kind);
    if (rq->seq >= 0)
        q_num(&q, "seq = ?", rq->seq);
    q_add(&q, ")) WHERE 1");
    q_text(&q, "actor = ?", rq->actor);
    q_text(&q, "name = ?", rq->name);
    if (rq->from)
        q_num(&q, "json_extract(e,'$.time') >= ?", rq->from);
    if (rq->to)
        q_num(&q, "json_extract(e,'$.time') < ?", rq->to);
    nc_err err = nc_db_snapshot_begin(db);
    if (err != NC_OK)
        return err;
    err = page(db, &q,
               "SELECT seq, json_extract(e,'$.time'), kind, actor, name, json_extract(e,'$.submission'),"
               " json_extract(e,'$.approval_id'), json_extract(e,'$.run'), e",
               "seq DESC", rq->limit, rq->offset, audit_row, out);
    nc_db_snapshot_end(db);
    return err;
}

static json_t *refusal_row(sqlite3_stmt *st)
{
    /* seq, time, kind, op, code, socket, uid, message, count */
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "seq", (json_int_t)sqlite3_column_int64(st, 0),
                     "time", int_or_null(st, 1), "type", text_or_null(st, 2), "op", text_or_null(st, 3), "code",
                     text_or_null(st, 4), "socket", text_or_null(st, 5), "uid", int_or_null(st, 6), "message",
                     text_or_null(st, 7), "count", int_or_null(st, 8));
}

nc_err nc_views_refusals(nc_db *db, const nc_views_refusals_req *rq, json_t **out)
{
    query q = {0};
    *out = NULL;
    q_add(&q, "FROM " REFUSALS_FROM);
    q_text(&q, "json_extract(e,'$.socket') = ?", rq->socket);
    q_text(&q, "json_extract(e,'$.op') = ?", rq->request);
    q_text(&q, "json_extract(e,'$.code') = ?", rq->code);
    if (rq->uid >= 0)
        q_num(&q, "json_extract(e,'$.uid') = ?", rq->uid);
    if (rq->from)
        q_num(&q, "json_extract(e,'$.time') >= ?", rq->from);
    if (rq->to)
        q_num(&q, "json_extract(e,'$.time') < ?", rq->to);
    nc_err err = nc_db_snapshot_begin(db);
    if (err != NC_OK)
        return err;
    err = page(db, &q,
               "SELECT seq, json_extract(e,'$.time'), kind, json_extract(e,'$.op'), json_extract(e,'$.code'),"
               " json_extract(e,'$.socket'), json_extract(e,'$.uid'), json_extract(e,'$.message'),"
               " " REFUSAL_WEIGHT,
               "seq DESC", rq->limit, rq->offset, refusal_row, out);
    /* the same filters: refusals counted with the summaries, and by code */
    query s = q;
    s.len = 0;
    s.sql[0] = '\0';
    q_add(&s, "SELECT coalesce(json_extract(e,'$.code'),'summary'), sum(" REFUSAL_WEIGHT ") ");
    q_add(&s, q.sql);
    q_add(&s, " GROUP BY 1");
    sqlite3_stmt *st = NULL;
    json_t *by_code = json_object();
    int64_t sum = 0;
    if (err == NC_OK && (err = by_code ? q_prepare(db, &s, &st) : NC_ERR_NOMEM) == NC_OK) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            char key[32];
            outcome_key((const char *)sqlite3_column_text(st, 0), key);
            bump(by_code, key, sqlite3_column_int64(st, 1));
            sum += sqlite3_column_int64(st, 1);
        }
        err = nc_store_end(db, rc);
    }
    sqlite3_finalize(st);
    nc_db_snapshot_end(db);
    if (err != NC_OK) {
        json_decref(by_code);
        json_decref(*out);
        *out = NULL;
        return err;
    }
    json_object_set_new(*out, "by_code", by_code);
    json_object_set_new(*out, "refusals", json_integer(sum));
    return NC_OK;
}

/* ---- alerts ---- */

/* The refusals of signed things that are alerts: a signature or statement
 * that does not verify, a key not (or no longer) trusted, a replay, a trust
 * store rolled back or expired. */
#define ALERT_CODES \
    "('bad_signature','untrusted_key','revoked_key','bad_statement','wrong_worker','trust_rollback','trust_expired','replayed')"

#define ALERTS_CTE                                                                                                   \
    "WITH al(id, at, kind, message, name, submission, approval_id, run, seq) AS ("                                  \
    " SELECT 'audit-'||seq, json_extract(e,'$.time'), json_extract(e,'$.kind'), json_extract(e,'$.message'),"     \
    "  coalesce(json_extract(e,'$.name'), (SELECT name FROM approvals WHERE id=json_extract(e,'$.approval_id')),"  \
    "   (SELECT name FROM submissions WHERE id=json_extract(e,'$.submission'))),"                                  \
    "  json_extract(e,'$.submission'), json_extract(e,'$.approval_id'), json_extract(e,'$.run'), seq"              \
    "  FROM (SELECT seq, CAST(entry AS TEXT) AS e FROM audit_log WHERE kind='alert')"                               \
    " UNION ALL"                                                                                                    \
    " SELECT 'audit-'||seq, json_extract(e,'$.time'), 'refused_signature',"                                        \
    "  coalesce(json_extract(e,'$.op'),'?')||' refused ('||coalesce(json_extract(e,'$.code'),'?')||'): '||"        \
    "  coalesce(json_extract(e,'$.message'),''), NULL, NULL, NULL, NULL, seq"                                       \
    "  FROM (SELECT seq, CAST(entry AS TEXT) AS e FROM audit_log WHERE kind='refused')"                             \
    "  WHERE json_extract(e,'$.code') IN " ALERT_CODES                                                             \
    " UNION ALL"                                                                                                    \
    " SELECT 'drift-'||id, created_at, 'drift', 'pending: '||name||' was submitted again with different bytes ("  \
    "previously '||substr(coalesce(previous_sha256,'?'),1,12)||')', name, id, NULL, NULL, NULL"                    \
    "  FROM submissions WHERE status='pending' AND drift_state='drift'),"                                           \
    " acks(id, seq, at) AS (SELECT json_extract(e,'$.alert'), max(seq), max(json_extract(e,'$.time'))"             \
    "  FROM (SELECT seq, CAST(entry AS TEXT) AS e FROM audit_log WHERE kind='alert.ack') GROUP BY 1) "

static json_t *alert_row(sqlite3_stmt *st)
{
    /* id, at, kind, message, name, submission, approval_id, run, seq, ack seq, ack at */
    json_t *ack = sqlite3_column_type(st, 9) == SQLITE_NULL
                      ? json_null()
                      : json_pack("{s:I, s:o}", "seq", (json_int_t)sqlite3_column_int64(st, 9), "at",
                                  int_or_null(st, 10));
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", text_or_null(st, 0), "at",
                     int_or_null(st, 1), "kind", text_or_null(st, 2), "message", text_or_null(st, 3), "name",
                     text_or_null(st, 4), "submission", text_or_null(st, 5), "approval_id", text_or_null(st, 6), "run",
                     text_or_null(st, 7), "seq", int_or_null(st, 8), "acknowledged", ack);
}

nc_err nc_views_alerts(nc_db *db, bool include_acknowledged, const char *id, int64_t limit, int64_t offset,
                       json_t **out)
{
    query q = {0};
    *out = NULL;
    q_add(&q, "FROM al LEFT JOIN acks ON acks.id = al.id WHERE 1");
    if (!include_acknowledged)
        q_add(&q, " AND acks.id IS NULL");
    q_text(&q, "al.id = ?", id);
    /* the CTE goes in front of both the count and the page */
    query c = q, p = q;
    c.len = p.len = 0;
    c.sql[0] = p.sql[0] = '\0';
    q_add(&c, ALERTS_CTE "SELECT count(*) ");
    q_add(&c, q.sql);
    int64_t total = 0, open = 0;
    nc_err err = nc_db_snapshot_begin(db);
    if (err != NC_OK)
        return err;
    err = q_count(db, &c, &total);
    if (err == NC_OK) {
        query o = {0};
        q_add(&o, ALERTS_CTE "SELECT count(*) FROM al LEFT JOIN acks ON acks.id = al.id WHERE acks.id IS NULL");
        err = q_count(db, &o, &open);
    }
    json_t *items = json_array();
    sqlite3_stmt *st = NULL;
    if (err == NC_OK) {
        q_add(&p, ALERTS_CTE "SELECT al.id, al.at, al.kind, al.message, al.name, al.submission, al.approval_id,"
                             " al.run, al.seq, acks.seq, acks.at ");
        q_add(&p, q.sql);
        q_add(&p, " ORDER BY al.at DESC, al.id DESC LIMIT ? OFFSET ?");
        p.args[p.nargs].text = NULL;
        p.args[p.nargs++].num = limit;
        p.args[p.nargs].text = NULL;
        p.args[p.nargs++].num = offset;
        err = q_prepare(db, &p, &st);
    }
    if (err == NC_OK) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && items)
            json_array_append_new(items, alert_row(st));
        err = items ? (rc == SQLITE_ROW ? NC_OK : nc_store_end(db, rc)) : NC_ERR_NOMEM;
    }
    sqlite3_finalize(st);
    nc_db_snapshot_end(db);
    if (err != NC_OK) {
        json_decref(items);
        return err;
    }
    *out = json_pack("{s:o, s:I, s:I}", "items", items, "total", (json_int_t)total, "open", (json_int_t)open);
    return *out ? NC_OK : NC_ERR_NOMEM;
}
