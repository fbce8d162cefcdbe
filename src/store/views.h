/* Read views over the worker's state for the operator (docs/protocol.md
 * "Views"): numbers computed by aggregate queries over the whole period
 * (never a page of rows), filtered and sorted lists of runs and submissions,
 * modules by name, the audit log's entries and refusals with filters, and
 * the alerts derived from the log and the inbox. Every query is SQL here;
 * nothing outside src/store reads the tables. Results are JSON in the shapes
 * docs/protocol.md gives. Read-only except nc_views_in_transaction. */
#ifndef NC_STORE_VIEWS_H
#define NC_STORE_VIEWS_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/error.h"
#include "store/db.h"

#define NC_VIEWS_MAX_LIMIT 1000
#define NC_VIEWS_HOURS 24
#define NC_VIEWS_DAYS 30
#define NC_VIEWS_TOP_PENDING 5

/* Is a transaction open on db (a write in progress)? */
bool nc_views_in_transaction(nc_db *db);

/* ---- stats: counts over the whole period ---- */
typedef struct {
    int64_t now;
    int64_t day_start;   /* the start of "today" in the operator's time zone (unix seconds) */
} nc_views_stats_req;

/* {runs:{total, today{outcome: n}, by_hour[24]{hour, outcome: n}, by_day[30]{day, outcome: n}},
 *  submissions:{total, by_status{}, score_histogram[10]{bucket, status: n}, pending_drift,
 *  riskiest_pending[submission listing]}, refusals:{today, total}} */
NC_MUST_CHECK nc_err nc_views_stats(nc_db *db, const nc_views_stats_req *rq, json_t **out);

/* ---- lists with filters; NULL / 0 / -1 fields are "any" ---- */
typedef struct {
    const char *name, *outcome, *invoker, *approval;
    int64_t from, to;       /* started_at in [from, to); 0: unbounded */
    const char *sort;       /* "started" (default), "duration", "score" */
    bool ascending;
    int64_t limit, offset;
} nc_views_runs_req;
/* {items:[run listing], total} */
NC_MUST_CHECK nc_err nc_views_runs(nc_db *db, const nc_views_runs_req *rq, json_t **out);

typedef struct {
    const char *status;     /* NULL or "all": any */
    const char *name;       /* exact */
    const char *sha256;     /* exact */
    const char *q;          /* text in the name, source, description or a sha256 prefix */
    int64_t min_score, max_score;   /* -1: unbounded */
    int64_t from, to;       /* created_at in [from, to); 0: unbounded */
    const char *sort;       /* "age" (default: newest first), "score", "name" */
    bool ascending;
    int64_t limit, offset;
    int64_t now;            /* for approval states */
} nc_views_inbox_req;
/* {items:[submission listing + approval_state{active, total, state}], total} */
NC_MUST_CHECK nc_err nc_views_inbox(nc_db *db, const nc_views_inbox_req *rq, json_t **out);

/* {items:[{name, versions, pending, approved, rejected, last_submitted_at, max_score,
 *          active_approvals, runs, last_run_at}], total}: module names, newest activity first. */
NC_MUST_CHECK nc_err nc_views_modules(nc_db *db, const char *q, int64_t now, int64_t limit, int64_t offset,
                                      json_t **out);

/* ---- the audit log ---- */
typedef struct {
    const char *kind, *actor, *name;
    int64_t from, to;       /* the entry's time in [from, to); 0: unbounded */
    int64_t seq;            /* -1: any; else that entry only */
    int64_t limit, offset;  /* newest first */
} nc_views_audit_req;
/* {items:[{seq, time, type, actor, name, submission, approval_id, run, entry (text)}], total} */
NC_MUST_CHECK nc_err nc_views_audit(nc_db *db, const nc_views_audit_req *rq, json_t **out);

typedef struct {
    const char *socket, *request, *code;   /* request: the op refused */
    int64_t uid;            /* -1: any */
    int64_t from, to;
    int64_t limit, offset;
} nc_views_refusals_req;
/* Refusals that matter (docs/protocol.md): anything on the agent socket, and
 * runs and signed statements (run, approval.submit, trust.add, policy.add)
 * on either. {items:[{seq, time, type, op, code, socket, uid, message,
 * count}], total, refusals (summaries counted in), by_code{}} */
NC_MUST_CHECK nc_err nc_views_refusals(nc_db *db, const nc_views_refusals_req *rq, json_t **out);

/* ---- alerts ---- */
/* {items:[{id, at, kind, message, name, submission, approval_id, run, seq,
 * acknowledged: null | {seq, at}}], total, open}: the worker's alert entries,
 * refused signatures, and pending drift submissions; newest first. */
NC_MUST_CHECK nc_err nc_views_alerts(nc_db *db, bool include_acknowledged, const char *id, int64_t limit,
                                     int64_t offset, json_t **out);

#endif
