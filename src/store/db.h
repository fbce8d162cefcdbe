/* The worker's state in SQLite (WAL): submissions, approvals, runs; the
 * audit log's tables in store/auditlog.h. One connection, used from the
 * worker's event-loop thread only. Schema and migrations in db.c; objects
 * come back as JSON in the shapes of docs/protocol.md. Only src/store talks
 * to SQLite. */
#ifndef NC_STORE_DB_H
#define NC_STORE_DB_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/error.h"
#include "common/hash.h"

typedef struct nc_db nc_db;

NC_MUST_CHECK nc_err nc_db_open(const char *path, nc_db **out, char *msg, size_t msg_len);
/* Read-only, for the CLI: refuses a missing file (NC_ERR_NOT_FOUND, "no audit
 * log at PATH: is this the right home?"), never creates or migrates, and sets
 * PRAGMA query_only. Works while the worker has the database open (WAL). */
NC_MUST_CHECK nc_err nc_db_open_readonly(const char *path, nc_db **out, char *msg, size_t msg_len);
void nc_db_close(nc_db *db);
/* SQLite's quick_check (structure, not index contents): NC_ERR_CORRUPT with
 * the first problems in msg. Reads every page: at start, not per request. */
NC_MUST_CHECK nc_err nc_db_quick_check(nc_db *db, char *msg, size_t msg_len);
NC_MUST_CHECK nc_err nc_db_begin(nc_db *db);
NC_MUST_CHECK nc_err nc_db_commit(nc_db *db);
/* How many transactions this connection has committed (the worker holds
 * replies until a sync of the WAL has covered them: src/worker/durable.c). */
uint64_t nc_db_commits(const nc_db *db);
void nc_db_rollback(nc_db *db);
/* A read snapshot: everything read until snapshot_end is of one moment, with
 * the worker appending meanwhile (WAL). Snapshots nest (a savepoint): one
 * taken inside another, or inside a transaction, reads what that one does;
 * snapshot_end undoes anything written since its snapshot_begin. */
NC_MUST_CHECK nc_err nc_db_snapshot_begin(nc_db *db);
void nc_db_snapshot_end(nc_db *db);
/* The last failure's message (kept past a rollback); valid until the next
 * call on db. */
const char *nc_db_errmsg(nc_db *db);

/* ---- submissions ---- */
typedef struct {
    const char *id, *name, *sha256, *source, *description;
    int64_t size, created_at;
    const char *drift_state, *previous_sha256;   /* previous may be NULL */
    const char *previous_submission;             /* a new review of the same bytes: the one it follows, or NULL */
    json_t *requested, *drift_changes, *analysis, *threat;   /* borrowed */
} nc_db_submission;

NC_MUST_CHECK nc_err nc_db_submission_insert(nc_db *db, const nc_db_submission *s);
/* Full object (with analysis) or listing form; NC_ERR_NOT_FOUND. */
NC_MUST_CHECK nc_err nc_db_submission_get(nc_db *db, const char *id, bool full, json_t **out);
NC_MUST_CHECK nc_err nc_db_submission_list(nc_db *db, const char *status /* NULL = all */, int64_t limit,
                                           int64_t offset, json_t **items, int64_t *total);
NC_MUST_CHECK nc_err nc_db_submission_set_status(nc_db *db, const char *id, const char *status,
                                                 const char *reason);
NC_MUST_CHECK nc_err nc_db_count_pending(nc_db *db, const char *source /* NULL = all */, int64_t *out);
/* An identical pending-or-approved submission (same source, name, sha256). */
NC_MUST_CHECK nc_err nc_db_submission_find(nc_db *db, const char *source, const char *name, const char *sha256,
                                           char id_out[40]);
/* The newest submission of any status with this source, name and sha256. */
NC_MUST_CHECK nc_err nc_db_submission_find_any(nc_db *db, const char *source, const char *name, const char *sha256,
                                               char id_out[40], char status_out[16]);
/* Drift inputs: does any submission carry this name; the newest approved
 * sha256 for it (and its analysis), if any; is this sha256 approved for it. */
NC_MUST_CHECK nc_err nc_db_name_history(nc_db *db, const char *name, bool *seen, char prev_sha[65],
                                        json_t **prev_analysis, bool *known_hash, const char *sha256);
NC_MUST_CHECK nc_err nc_db_source_seen(nc_db *db, const char *source, bool *seen);

/* ---- approvals ---- */
typedef struct {
    char id[65], submission[72], name[80], sha256[65], approver[160], key_fingerprint[64], policy[80];
    int64_t policy_version;
    uint8_t *statement, *signature;
    size_t statement_len, signature_len;
    int64_t max_runs, runs, not_before, expires_at, created_at;
    bool revoked;
    char artifact_path[4096];
    char artifact_sha256[65];
    bool artifact_fuel;
} nc_db_approval;
void nc_db_approval_cleanup(nc_db_approval *a);

NC_MUST_CHECK nc_err nc_db_approval_insert(nc_db *db, const nc_db_approval *a, json_t *caps, json_t *limits,
                                           json_t *invokers);
NC_MUST_CHECK nc_err nc_db_approval_load(nc_db *db, const char *id, nc_db_approval *out);
NC_MUST_CHECK nc_err nc_db_approval_get(nc_db *db, const char *id, json_t **out);
NC_MUST_CHECK nc_err nc_db_approval_list(nc_db *db, const char *name, int64_t limit, int64_t offset,
                                         json_t **items, int64_t *total);
/* The approvals a run reference may mean, best first, into ids (at most
 * max). ref: an approval id or a prefix of one (12+ hex digits; *by_id is
 * set and exactly one is returned, NC_ERR_USAGE when the prefix is
 * ambiguous); otherwise a module name or a 12+ hex sha256 prefix: the usable
 * approvals (not revoked, runs < max_runs, within not_before..expires_at)
 * newest first, then the others newest first. With an invoker, only
 * approvals that list exactly that invoker are considered (agents never learn
 * of approvals that are not theirs). NC_ERR_NOT_FOUND when there are none. */
NC_MUST_CHECK nc_err nc_db_approval_candidates(nc_db *db, const char *ref, const char *invoker, int64_t now,
                                               char (*ids)[65], size_t max, size_t *n, bool *by_id);
/* An agent's view. The approvals of one submission (approval objects),
 * newest first. The usable approvals (not revoked, runs left, within
 * not_before..expires_at) that list exactly `invoker`, newest first, each
 * with its submission's "description". The newest submission of `source`
 * that `ref` names (its module name; or a 12+ hex prefix of its sha256 or
 * of one of its approvals' ids), listing form; NC_ERR_NOT_FOUND if none. */
NC_MUST_CHECK nc_err nc_db_submission_approvals(nc_db *db, const char *submission, json_t **items);
NC_MUST_CHECK nc_err nc_db_agent_approvals(nc_db *db, const char *invoker, int64_t now, int64_t limit,
                                           json_t **items, int64_t *total);
NC_MUST_CHECK nc_err nc_db_submission_for_ref(nc_db *db, const char *source, const char *ref, json_t **out);
NC_MUST_CHECK nc_err nc_db_approval_revoke(nc_db *db, const char *id);
/* Counts one more run if below max_runs and not revoked: NC_ERR_MAX_RUNS /
 * NC_ERR_REVOKED_APPROVAL otherwise (the check and the count are one statement). */
NC_MUST_CHECK nc_err nc_db_approval_take_run(nc_db *db, const char *id);
/* A run that could not run at all (the worker's failure) is given back. */
NC_MUST_CHECK nc_err nc_db_approval_refund_run(nc_db *db, const char *id);
/* The approval's artifact after a rebuild: its file name in the home's
 * artifact cache and its sha256. */
NC_MUST_CHECK nc_err nc_db_approval_set_artifact(nc_db *db, const char *id, const char *file, const char *sha256);
NC_MUST_CHECK nc_err nc_db_count_approvals(nc_db *db, int64_t *out);

/* ---- runs ---- */
NC_MUST_CHECK nc_err nc_db_run_start(nc_db *db, const char *id, const char *approval_id, const char *name,
                                     const char *sha256, const char *invoker, int64_t started_at);
/* The same with the result already as JSON text (len bytes; a run's output
 * makes it large, and its caller writes it without re-escaping). */
NC_MUST_CHECK nc_err nc_db_run_finish_text(nc_db *db, const char *id, const char *outcome, int64_t finished_at,
                                           int64_t duration_ms, int64_t score, const char *result, size_t len,
                                           uint64_t audit_seq);
NC_MUST_CHECK nc_err nc_db_run_finish(nc_db *db, const char *id, const char *outcome, int64_t finished_at,
                                      int64_t duration_ms, int64_t score, json_t *result, uint64_t audit_seq);
/* The run's run.end entry in the audit log; NC_ERR_NOT_FOUND if it has none. */
NC_MUST_CHECK nc_err nc_db_run_audit_seq(nc_db *db, const char *id, uint64_t *seq);
NC_MUST_CHECK nc_err nc_db_run_get(nc_db *db, const char *id, json_t **out);
NC_MUST_CHECK nc_err nc_db_run_list(nc_db *db, const char *name, int64_t limit, int64_t offset, json_t **items,
                                    int64_t *total);
/* At start-up: runs still marked running were interrupted by a crash. */
NC_MUST_CHECK nc_err nc_db_runs_interrupted(nc_db *db, int64_t now, json_t **ids);
NC_MUST_CHECK nc_err nc_db_count_runs(nc_db *db, int64_t *out);
/* runs in progress by this invoker ("operator", "agent:NAME") */
NC_MUST_CHECK nc_err nc_db_count_running(nc_db *db, const char *invoker, int64_t *out);

/* ---- agents: only the sha256 of a token is stored ---- */
NC_MUST_CHECK nc_err nc_db_agent_add(nc_db *db, const char *name, const char *token_hash, int64_t now);
NC_MUST_CHECK nc_err nc_db_agent_remove(nc_db *db, const char *name, int64_t now);
NC_MUST_CHECK nc_err nc_db_agent_by_token(nc_db *db, const char *token_hash, char name_out[80]);
NC_MUST_CHECK nc_err nc_db_agent_list(nc_db *db, json_t **items);
NC_MUST_CHECK nc_err nc_db_submission_list_source(nc_db *db, const char *source, const char *status, int64_t limit,
                                                  int64_t offset, json_t **items, int64_t *total);

#endif
