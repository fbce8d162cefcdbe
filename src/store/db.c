/* The worker's state in SQLite (store/db.h): the schema and its migrations,
 * opening and transactions, submissions, approvals, runs, agents. The audit
 * log's tables are read and written in auditlog.c. */
#include "store/db.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "store/internal.h"

/* This file's short names for the helpers of internal.h. */
static nc_err db_fail(nc_db *db)
{
    return nc_store_fail(db);
}

static nc_err prepare(nc_db *db, const char *sql, sqlite3_stmt **st)
{
    return nc_store_prepare(db, sql, st);
}

/* Each entry moves the schema from version i to i+1. Never edit a shipped one. */
static const char *const migrations[] = {
    "CREATE TABLE submissions("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,"
    "  source TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL,"
    "  description TEXT NOT NULL, requested TEXT NOT NULL, reason TEXT,"
    "  drift_state TEXT NOT NULL, previous_sha256 TEXT, drift_changes TEXT NOT NULL,"
    "  analysis TEXT NOT NULL, threat TEXT NOT NULL);"
    "CREATE INDEX submissions_status ON submissions(status, created_at);"
    "CREATE INDEX submissions_name ON submissions(name, created_at);"
    "CREATE INDEX submissions_source ON submissions(source, status);"
    "CREATE TABLE approvals("
    "  id TEXT PRIMARY KEY, submission TEXT NOT NULL REFERENCES submissions(id), name TEXT NOT NULL,"
    "  sha256 TEXT NOT NULL, statement BLOB NOT NULL, signature BLOB NOT NULL, approver TEXT NOT NULL,"
    "  key_fingerprint TEXT NOT NULL, policy TEXT NOT NULL, capabilities TEXT NOT NULL, limits TEXT NOT NULL,"
    "  invokers TEXT NOT NULL, max_runs INTEGER NOT NULL, runs INTEGER NOT NULL DEFAULT 0,"
    "  not_before INTEGER NOT NULL, expires_at INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL, artifact_path TEXT NOT NULL, artifact_sha256 TEXT NOT NULL,"
    "  artifact_fuel INTEGER NOT NULL);"
    "CREATE INDEX approvals_name ON approvals(name, created_at);"
    "CREATE INDEX approvals_sha ON approvals(sha256);"
    "CREATE TABLE runs("
    "  id TEXT PRIMARY KEY, approval_id TEXT NOT NULL REFERENCES approvals(id), name TEXT NOT NULL,"
    "  sha256 TEXT NOT NULL, invoker TEXT NOT NULL, status TEXT NOT NULL, outcome TEXT,"
    "  started_at INTEGER NOT NULL, finished_at INTEGER, duration_ms INTEGER, score INTEGER, result TEXT);"
    "CREATE INDEX runs_started ON runs(started_at);"
    "CREATE INDEX runs_status ON runs(status);"
    "CREATE INDEX runs_name ON runs(name, started_at);",
    /* 2: the audit log (src/audit) */
    "CREATE TABLE audit_log(seq INTEGER PRIMARY KEY, entry BLOB NOT NULL, leaf BLOB NOT NULL);"
    "CREATE TABLE audit_frontier(level INTEGER PRIMARY KEY, hash BLOB NOT NULL);"
    "CREATE TABLE audit_checkpoints(size INTEGER PRIMARY KEY, root BLOB NOT NULL, note TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "ALTER TABLE runs ADD COLUMN audit_seq INTEGER;",
    /* 3: agent identities (the token itself is never stored) */
    "CREATE TABLE agents(name TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL,"
    "  removed_at INTEGER);"
    "CREATE INDEX runs_invoker ON runs(invoker, status);",
    /* 4: the audit log indexed by entry type and the approval it is about,
     * derived from the entry bytes themselves (virtual columns), so the index
     * can never say something the hashed entry does not */
    "ALTER TABLE audit_log ADD COLUMN kind TEXT GENERATED ALWAYS AS"
    "  (CASE WHEN json_valid(CAST(entry AS TEXT)) THEN json_extract(CAST(entry AS TEXT), '$.type') END) VIRTUAL;"
    "ALTER TABLE audit_log ADD COLUMN ref TEXT GENERATED ALWAYS AS"
    "  (CASE WHEN json_valid(CAST(entry AS TEXT)) THEN json_extract(CAST(entry AS TEXT), '$.approval_id') END) VIRTUAL;"
    "CREATE INDEX audit_kind_ref ON audit_log(kind, ref);",
    /* 5: the version of the policy an approval was checked against */
    "ALTER TABLE approvals ADD COLUMN policy_version INTEGER NOT NULL DEFAULT 1;",
    /* 6: the audit tree's interior nodes: the root of every complete subtree,
     * (level >= 1, idx) covering leaves [idx << level, (idx + 1) << level),
     * written with the append that completes it, so that an inclusion proof
     * reads O(log n) rows (level 0 is audit_log.leaf). A log that has entries
     * gets its nodes at the worker's next start (src/audit builds them from
     * the stored leaves in one transaction: SQL cannot hash). */
    ("CREATE TABLE audit_nodes(level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,"
     "  PRIMARY KEY(level, idx)) WITHOUT ROWID;"),
    /* 7: a new review of the same bytes links the submission it follows */
    ("ALTER TABLE submissions ADD COLUMN previous_submission TEXT;"
     "CREATE INDEX approvals_submission ON approvals(submission, created_at);"),
};

const char *nc_db_errmsg(nc_db *db)
{
    return db->fail[0] ? db->fail : sqlite3_errmsg(db->h);
}

static nc_err exec(nc_db *db, const char *sql)
{
    return sqlite3_exec(db->h, sql, NULL, NULL, NULL) == SQLITE_OK ? NC_OK : db_fail(db);
}

nc_err nc_db_begin(nc_db *db)
{
    db->fail[0] = '\0';
    return exec(db, "BEGIN IMMEDIATE");
}

nc_err nc_db_commit(nc_db *db)
{
    nc_err err = exec(db, "COMMIT");
    if (err == NC_OK)
        db->commits++;
    return err;
}

uint64_t nc_db_commits(const nc_db *db)
{
    return db->commits;
}

/* A savepoint, so that snapshots nest: outside a transaction it begins a
 * deferred one (the snapshot is taken at the first read); inside one, it
 * reads what that transaction sees. */
nc_err nc_db_snapshot_begin(nc_db *db)
{
    db->fail[0] = '\0';
    return exec(db, "SAVEPOINT nc_snapshot");
}

void nc_db_snapshot_end(nc_db *db)
{
    sqlite3_exec(db->h, "ROLLBACK TO nc_snapshot; RELEASE nc_snapshot", NULL, NULL, NULL);
}

void nc_db_rollback(nc_db *db)
{
    if (!sqlite3_get_autocommit(db->h))
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

static int user_version(nc_db *db)
{
    sqlite3_stmt *st;
    int v = -1;
    if (prepare(db, "PRAGMA user_version", &st) == NC_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

nc_err nc_db_open(const char *path, nc_db **out, char *msg, size_t msg_len)
{
    nc_db *db = calloc(1, sizeof *db);
    *out = NULL;
    if (!db)
        return NC_ERR_NOMEM;
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(msg, msg_len, "cannot open %s: %s", path, db->h ? sqlite3_errmsg(db->h) : "out of memory");
        nc_db_close(db);
        return NC_ERR_IO;
    }
    sqlite3_busy_timeout(db->h, 5000);
    /* WAL with synchronous=NORMAL: a committed transaction survives the
     * worker being killed at any moment (the WAL is in the OS's hands); the
     * worker makes it survive a power loss before it acknowledges anything,
     * with one fdatasync of the WAL for many commits (src/worker/durable.c). */
    if (exec(db, "PRAGMA journal_mode=WAL") || exec(db, "PRAGMA synchronous=NORMAL") ||
        exec(db, "PRAGMA foreign_keys=ON")) {
        snprintf(msg, msg_len, "cannot configure %s: %s", path, sqlite3_errmsg(db->h));
        nc_db_close(db);
        return NC_ERR_IO;
    }
    int v = user_version(db);
    int want = (int)(sizeof migrations / sizeof migrations[0]);
    if (v < 0 || v > want) {
        snprintf(msg, msg_len, "%s has schema version %d; this worker knows up to %d (newer Night Core?)", path, v, want);
        nc_db_close(db);
        return NC_ERR_IO;
    }
    for (; v < want; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", v + 1);
        if (nc_db_begin(db) || exec(db, migrations[v]) || exec(db, pragma) || nc_db_commit(db)) {
            snprintf(msg, msg_len, "migration %d of %s failed: %s", v + 1, path, sqlite3_errmsg(db->h));
            nc_db_rollback(db);
            nc_db_close(db);
            return NC_ERR_IO;
        }
    }
    *out = db;
    return NC_OK;
}

/* For readers beside the worker (`nightcore audit ...`): never creates,
 * migrates or writes; WAL lets it read while the worker writes. */
nc_err nc_db_open_readonly(const char *path, nc_db **out, char *msg, size_t msg_len)
{
    struct stat sb;
    *out = NULL;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(msg, msg_len, "no audit log at %s: is this the right home?", path);
        return NC_ERR_NOT_FOUND;
    }
    nc_db *db = calloc(1, sizeof *db);
    if (!db)
        return NC_ERR_NOMEM;
    nc_err err = NC_ERR_IO;
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(msg, msg_len, "cannot open %s: %s", path, db->h ? sqlite3_errmsg(db->h) : "out of memory");
        goto done;
    }
    sqlite3_busy_timeout(db->h, 5000);
    if (exec(db, "PRAGMA query_only=1")) {
        snprintf(msg, msg_len, "cannot configure %s: %s", path, sqlite3_errmsg(db->h));
        goto done;
    }
    int v = user_version(db);
    int want = (int)(sizeof migrations / sizeof migrations[0]);
    if (v <= 0 || v > want) {
        if (v <= 0)
            snprintf(msg, msg_len, "%s is not a Night Core database%s%s", path, v < 0 ? ": " : "",
                     v < 0 ? sqlite3_errmsg(db->h) : "");
        else
            snprintf(msg, msg_len, "%s has schema version %d; this program knows up to %d (newer Night Core?)", path,
                     v, want);
        goto done;
    }
    *out = db;
    db = NULL;
    err = NC_OK;
done:
    nc_db_close(db);
    return err;
}

nc_err nc_db_quick_check(nc_db *db, char *msg, size_t msg_len)
{
    sqlite3_stmt *st;
    msg[0] = '\0';
    if (prepare(db, "PRAGMA quick_check(8)", &st) != NC_OK) {
        snprintf(msg, msg_len, "%s", nc_db_errmsg(db));
        return db->fail[0] ? NC_ERR_CORRUPT : NC_ERR_IO;
    }
    nc_err err = NC_OK;
    size_t used = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(st, 0);
        if (line && strcmp(line, "ok") == 0)
            continue;
        err = NC_ERR_CORRUPT;
        int n = snprintf(msg + used, msg_len - used, "%s%s", used ? "; " : "", line ? line : "?");
        if (n < 0 || (size_t)n >= msg_len - used)
            break;
        used += (size_t)n;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        nc_err e = db_fail(db);
        err = e == NC_ERR_IO || e == NC_ERR_CORRUPT ? NC_ERR_CORRUPT : e;
        snprintf(msg, msg_len, "%s", nc_db_errmsg(db));
    }
    sqlite3_finalize(st);
    return err;
}

void nc_db_close(nc_db *db)
{
    if (!db)
        return;
    for (unsigned i = 0; i < NC_KEPT_COUNT; i++)
        sqlite3_finalize(db->kept[i]);
    sqlite3_close(db->h);
    free(db);
}

/* ---- helpers ---- */

static char *dump(json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : strdup("null");
}

static json_t *load_col(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    if (!t)
        return json_null();
    json_t *v = json_loads((const char *)t, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    return v ? v : json_null();
}

static json_t *text_col(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? json_string((const char *)t) : json_null();
}

static void copy_text(char *dst, size_t n, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static nc_err count(nc_db *db, const char *sql, const char *arg, int64_t *out)
{
    sqlite3_stmt *st;
    *out = 0;
    if (prepare(db, sql, &st) != NC_OK)
        return db_fail(db);
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    nc_err err = NC_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        err = db_fail(db);
    sqlite3_finalize(st);
    return err;
}

/* One page of a listing of `from` (a table and alias, constant), newest
 * first, optionally where `col` = filter (so the column's index is used);
 * each row becomes JSON through row(). */
typedef json_t *(*row_fn)(nc_db *db, sqlite3_stmt *st);

/* Every row of st into arr; a step that fails is an error, never the end. */
static nc_err collect_rows(nc_db *db, sqlite3_stmt *st, json_t *arr, row_fn row)
{
    if (!arr)
        return NC_ERR_NOMEM;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *v = row(db, st);
        if (!v || json_array_append_new(arr, v) != 0) {
            int ec = sqlite3_errcode(db->h);
            return ec == SQLITE_OK || ec == SQLITE_ROW || ec == SQLITE_DONE ? NC_ERR_NOMEM : db_fail(db);
        }
    }
    return rc == SQLITE_DONE ? NC_OK : db_fail(db);
}

/* collect_rows into a new array for *items; st is finalized. */
static nc_err collect_into(nc_db *db, sqlite3_stmt *st, row_fn row, json_t **items)
{
    json_t *arr = json_array();
    nc_err err = collect_rows(db, st, arr, row);
    sqlite3_finalize(st);
    if (err != NC_OK) {
        json_decref(arr);
        return err;
    }
    *items = arr;
    return NC_OK;
}

static nc_err list_page(nc_db *db, const char *cols, const char *from, const char *col, const char *order,
                        const char *filter, int64_t limit, int64_t offset, row_fn row, json_t **items, int64_t *total)
{
    char sql[1024], where[96] = "";
    sqlite3_stmt *st;
    *items = NULL;
    if (filter)
        snprintf(where, sizeof where, " WHERE %s=?1", col);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s%s", from, where);
    nc_err err = count(db, sql, filter, total);
    if (err != NC_OK)
        return err;
    int n = snprintf(sql, sizeof sql, "SELECT %s FROM %s%s ORDER BY %s LIMIT ?2 OFFSET ?3", cols, from, where, order);
    if (n < 0 || (size_t)n >= sizeof sql || prepare(db, sql, &st) != NC_OK)
        return db_fail(db);
    if (filter)
        sqlite3_bind_text(st, 1, filter, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, limit);
    sqlite3_bind_int64(st, 3, offset);
    return collect_into(db, st, row, items);
}

/* ---- submissions ---- */

nc_err nc_db_submission_insert(nc_db *db, const nc_db_submission *s)
{
    sqlite3_stmt *st;
    if (prepare(db, "INSERT INTO submissions(id,name,sha256,size,source,status,created_at,description,requested,"
                    "reason,drift_state,previous_sha256,drift_changes,analysis,threat,previous_submission) "
                    "VALUES(?,?,?,?,?,'pending',?,?,?,NULL,?,?,?,?,?,?)", &st) != NC_OK)
        return db_fail(db);
    char *req = dump(s->requested), *chg = dump(s->drift_changes), *an = dump(s->analysis), *th = dump(s->threat);
    nc_err err = NC_ERR_NOMEM;
    if (req && chg && an && th) {
        sqlite3_bind_text(st, 1, s->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, s->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, s->sha256, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, s->size);
        sqlite3_bind_text(st, 5, s->source, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, s->created_at);
        sqlite3_bind_text(st, 7, s->description ? s->description : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, req, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, s->drift_state, -1, SQLITE_STATIC);
        if (s->previous_sha256)
            sqlite3_bind_text(st, 10, s->previous_sha256, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 11, chg, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 12, an, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 13, th, -1, SQLITE_STATIC);
        if (s->previous_submission)
            sqlite3_bind_text(st, 14, s->previous_submission, -1, SQLITE_STATIC);
        err = sqlite3_step(st) == SQLITE_DONE ? NC_OK : db_fail(db);
    }
    sqlite3_finalize(st);
    free(req);
    free(chg);
    free(an);
    free(th);
    return err;
}

#define SUBMISSION_COLS                                                                             \
    "s.id,s.name,s.sha256,s.size,s.source,s.status,s.created_at,s.description,s.requested,s.reason," \
    "s.drift_state,s.previous_sha256,s.drift_changes,s.threat,s.analysis,s.previous_submission"

static json_t *submission_row(nc_db *db, sqlite3_stmt *st, bool full)
{
    const char *source = (const char *)sqlite3_column_text(st, 4);
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "id", text_col(st, 0));
    json_object_set_new(o, "name", text_col(st, 1));
    json_object_set_new(o, "sha256", text_col(st, 2));
    json_object_set_new(o, "size", json_integer(sqlite3_column_int64(st, 3)));
    json_object_set_new(o, "source", text_col(st, 4));
    json_object_set_new(o, "agent", source && strncmp(source, "agent:", 6) == 0 ? json_string(source + 6) : json_null());
    json_object_set_new(o, "status", text_col(st, 5));
    json_object_set_new(o, "created_at", json_integer(sqlite3_column_int64(st, 6)));
    json_object_set_new(o, "description", text_col(st, 7));
    json_object_set_new(o, "requested", load_col(st, 8));
    json_object_set_new(o, "reason", text_col(st, 9));
    json_object_set_new(o, "drift", json_pack("{s:o, s:o, s:o}", "state", text_col(st, 10), "previous_sha256",
                                              text_col(st, 11), "changes", load_col(st, 12)));
    json_object_set_new(o, "threat", load_col(st, 13));
    json_object_set_new(o, "previous_submission", text_col(st, 15));
    if (full) {
        json_object_set_new(o, "analysis", load_col(st, 14));
        json_t *ids = json_array();
        sqlite3_stmt *q;
        if (!ids || prepare(db, "SELECT id FROM approvals WHERE submission=? ORDER BY created_at", &q) != NC_OK) {
            json_decref(ids);
            json_decref(o);
            return NULL;
        }
        sqlite3_bind_text(q, 1, (const char *)sqlite3_column_text(st, 0), -1, SQLITE_TRANSIENT);
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW)
            json_array_append_new(ids, text_col(q, 0));
        if (rc != SQLITE_DONE)
            db_fail(db);
        sqlite3_finalize(q);
        if (rc != SQLITE_DONE) {
            json_decref(ids);
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "approvals", ids);
    }
    return o;
}

nc_err nc_db_submission_get(nc_db *db, const char *id, bool full, json_t **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    if (prepare(db, "SELECT " SUBMISSION_COLS " FROM submissions s WHERE s.id=?", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    nc_err err = rc == SQLITE_ROW ? NC_OK : rc == SQLITE_DONE ? NC_ERR_NOT_FOUND : db_fail(db);
    if (err == NC_OK) {
        *out = submission_row(db, st, full);
        if (!*out)
            err = NC_ERR_NOMEM;
    }
    sqlite3_finalize(st);
    return err;
}

static json_t *submission_listing(nc_db *db, sqlite3_stmt *st)
{
    return submission_row(db, st, false);
}

nc_err nc_db_submission_list(nc_db *db, const char *status, int64_t limit, int64_t offset, json_t **items,
                             int64_t *total)
{
    return list_page(db, SUBMISSION_COLS, "submissions s", "s.status", "s.created_at DESC, s.rowid DESC", status, limit,
                     offset, submission_listing, items, total);
}

nc_err nc_db_submission_set_status(nc_db *db, const char *id, const char *status, const char *reason)
{
    sqlite3_stmt *st;
    if (prepare(db, "UPDATE submissions SET status=?, reason=coalesce(?, reason) WHERE id=?", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    if (reason)
        sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    nc_err err = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(db->h) ? NC_OK : NC_ERR_NOT_FOUND) : db_fail(db);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_db_count_pending(nc_db *db, const char *source, int64_t *out)
{
    return source ? count(db, "SELECT count(*) FROM submissions WHERE status='pending' AND source=?", source, out)
                  : count(db, "SELECT count(*) FROM submissions WHERE status='pending'", NULL, out);
}

nc_err nc_db_submission_find(nc_db *db, const char *source, const char *name, const char *sha256, char id_out[40])
{
    sqlite3_stmt *st;
    id_out[0] = '\0';
    if (prepare(db, "SELECT id FROM submissions WHERE source=? AND name=? AND sha256=? "
                    "AND status IN ('pending','approved') ORDER BY created_at DESC LIMIT 1", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, sha256, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    nc_err err = rc == SQLITE_ROW ? NC_OK : rc == SQLITE_DONE ? NC_ERR_NOT_FOUND : db_fail(db);
    if (err == NC_OK)
        snprintf(id_out, 40, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return err;
}

nc_err nc_db_submission_find_any(nc_db *db, const char *source, const char *name, const char *sha256,
                                 char id_out[40], char status_out[16])
{
    sqlite3_stmt *st;
    id_out[0] = '\0';
    status_out[0] = '\0';
    if (prepare(db, "SELECT id, status FROM submissions WHERE source=? AND name=? AND sha256=? "
                    "ORDER BY created_at DESC, rowid DESC LIMIT 1", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, sha256, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    nc_err err = rc == SQLITE_ROW ? NC_OK : rc == SQLITE_DONE ? NC_ERR_NOT_FOUND : db_fail(db);
    if (err == NC_OK) {
        copy_text(id_out, 40, st, 0);
        copy_text(status_out, 16, st, 1);
    }
    sqlite3_finalize(st);
    return err;
}

nc_err nc_db_name_history(nc_db *db, const char *name, bool *seen, char prev_sha[65], json_t **prev_analysis,
                          bool *known_hash, const char *sha256)
{
    sqlite3_stmt *st;
    int64_t n;
    *seen = *known_hash = false;
    prev_sha[0] = '\0';
    *prev_analysis = NULL;
    if (count(db, "SELECT count(*) FROM submissions WHERE name=?", name, &n) != NC_OK)
        return db_fail(db);
    *seen = n > 0;
    /* The newest approved version of this name is the reference for drift;
     * without one, the newest submission. */
    if (prepare(db, "SELECT s.sha256, s.analysis FROM submissions s WHERE s.name=? "
                    "ORDER BY (s.status='approved') DESC, s.created_at DESC, s.rowid DESC LIMIT 1", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(prev_sha, 65, "%s", (const char *)sqlite3_column_text(st, 0));
        *prev_analysis = load_col(st, 1);
    }
    nc_err err = rc == SQLITE_ROW || rc == SQLITE_DONE ? NC_OK : db_fail(db);
    sqlite3_finalize(st);
    if (err != NC_OK)
        return err;
    if (prepare(db, "SELECT 1 FROM approvals WHERE name=? AND sha256=? LIMIT 1", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *known_hash = rc == SQLITE_ROW;
    err = rc == SQLITE_ROW || rc == SQLITE_DONE ? NC_OK : db_fail(db);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_db_source_seen(nc_db *db, const char *source, bool *seen)
{
    int64_t n;
    nc_err err = count(db, "SELECT count(*) FROM submissions WHERE source=?", source, &n);
    *seen = n > 0;
    return err;
}

/* ---- approvals ---- */

void nc_db_approval_cleanup(nc_db_approval *a)
{
    free(a->statement);
    free(a->signature);
    memset(a, 0, sizeof *a);
}

nc_err nc_db_approval_insert(nc_db *db, const nc_db_approval *a, json_t *caps, json_t *limits, json_t *invokers)
{
    sqlite3_stmt *st;
    if (prepare(db, "INSERT INTO approvals(id,submission,name,sha256,statement,signature,approver,key_fingerprint,"
                    "policy,capabilities,limits,invokers,max_runs,runs,not_before,expires_at,revoked,created_at,"
                    "artifact_path,artifact_sha256,artifact_fuel,policy_version) "
                    "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,0,?,?,0,?,?,?,?,?)",
                &st) != NC_OK)
        return db_fail(db);
    char *c = dump(caps), *l = dump(limits), *inv = dump(invokers);
    nc_err err = NC_ERR_NOMEM;
    if (c && l && inv) {
        sqlite3_bind_text(st, 1, a->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, a->submission, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, a->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, a->sha256, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 5, a->statement, (int)a->statement_len, SQLITE_STATIC);
        sqlite3_bind_blob(st, 6, a->signature, (int)a->signature_len, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, a->approver, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, a->key_fingerprint, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, a->policy, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, c, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 11, l, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 12, inv, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 13, a->max_runs);
        sqlite3_bind_int64(st, 14, a->not_before);
        sqlite3_bind_int64(st, 15, a->expires_at);
        sqlite3_bind_int64(st, 16, a->created_at);
        sqlite3_bind_text(st, 17, a->artifact_path, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 18, a->artifact_sha256, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 19, a->artifact_fuel);
        sqlite3_bind_int64(st, 20, a->policy_version > 0 ? a->policy_version : 1);
        err = sqlite3_step(st) == SQLITE_DONE ? NC_OK : db_fail(db);
    }
    sqlite3_finalize(st);
    free(c);
    free(l);
    free(inv);
    return err;
}

static uint8_t *copy_blob(sqlite3_stmt *st, int col, size_t *len)
{
    const void *p = sqlite3_column_blob(st, col);
    *len = (size_t)sqlite3_column_bytes(st, col);
    uint8_t *out = malloc(*len ? *len : 1);
    if (out && *len)
        memcpy(out, p, *len);
    return out;
}

nc_err nc_db_approval_load(nc_db *db, const char *id, nc_db_approval *a)
{
    sqlite3_stmt *st;
    memset(a, 0, sizeof *a);
    if (prepare(db, "SELECT id,submission,name,sha256,statement,signature,approver,key_fingerprint,policy,max_runs,"
                    "runs,not_before,expires_at,created_at,revoked,artifact_path,artifact_sha256,artifact_fuel "
                    "FROM approvals WHERE id=?", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    nc_err err = rc == SQLITE_ROW ? NC_OK : rc == SQLITE_DONE ? NC_ERR_NOT_FOUND : db_fail(db);
    if (err == NC_OK) {
        copy_text(a->id, sizeof a->id, st, 0);
        copy_text(a->submission, sizeof a->submission, st, 1);
        copy_text(a->name, sizeof a->name, st, 2);
        copy_text(a->sha256, sizeof a->sha256, st, 3);
        a->statement = copy_blob(st, 4, &a->statement_len);
        a->signature = copy_blob(st, 5, &a->signature_len);
        copy_text(a->approver, sizeof a->approver, st, 6);
        copy_text(a->key_fingerprint, sizeof a->key_fingerprint, st, 7);
        copy_text(a->policy, sizeof a->policy, st, 8);
        a->max_runs = sqlite3_column_int64(st, 9);
        a->runs = sqlite3_column_int64(st, 10);
        a->not_before = sqlite3_column_int64(st, 11);
        a->expires_at = sqlite3_column_int64(st, 12);
        a->created_at = sqlite3_column_int64(st, 13);
        a->revoked = sqlite3_column_int(st, 14) != 0;
        copy_text(a->artifact_path, sizeof a->artifact_path, st, 15);
        copy_text(a->artifact_sha256, sizeof a->artifact_sha256, st, 16);
        a->artifact_fuel = sqlite3_column_int(st, 17) != 0;
        if (!a->statement || !a->signature) {
            nc_db_approval_cleanup(a);
            err = NC_ERR_NOMEM;
        }
    }
    sqlite3_finalize(st);
    return err;
}

#define APPROVAL_COLS                                                                                   \
    "id,submission,name,sha256,approver,key_fingerprint,policy,invokers,max_runs,runs,not_before,expires_at," \
    "revoked,created_at,capabilities,limits,policy_version"

static json_t *approval_row(sqlite3_stmt *st)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:b, s:I, s:o, s:o, s:I}",
                     "id", text_col(st, 0), "submission", text_col(st, 1), "name", text_col(st, 2), "sha256",
                     text_col(st, 3), "approver", text_col(st, 4), "key_fingerprint", text_col(st, 5), "policy",
                     text_col(st, 6), "invokers", load_col(st, 7), "max_runs", (json_int_t)sqlite3_column_int64(st, 8),
                     "runs", (json_int_t)sqlite3_column_int64(st, 9), "not_before",
                     (json_int_t)sqlite3_column_int64(st, 10), "expires_at", (json_int_t)sqlite3_column_int64(st, 11),
                     "revoked", sqlite3_column_int(st, 12) != 0, "created_at", (json_int_t)sqlite3_column_int64(st, 13),
                     "capabilities", load_col(st, 14), "limits", load_col(st, 15), "policy_version",
                     (json_int_t)sqlite3_column_int64(st, 16));
}

nc_err nc_db_approval_get(nc_db *db, const char *id, json_t **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    if (prepare(db, "SELECT " APPROVAL_COLS " FROM approvals WHERE id=?", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    nc_err err = rc == SQLITE_ROW ? NC_OK : rc == SQLITE_DONE ? NC_ERR_NOT_FOUND : db_fail(db);
    if (err == NC_OK && !(*out = approval_row(st)))
        err = NC_ERR_NOMEM;
    sqlite3_finalize(st);
    return err;
}

static json_t *approval_listing(nc_db *db, sqlite3_stmt *st)
{
    (void)db;
    return approval_row(st);
}

nc_err nc_db_approval_list(nc_db *db, const char *name, int64_t limit, int64_t offset, json_t **items, int64_t *total)
{
    return list_page(db, APPROVAL_COLS, "approvals", "name", "created_at DESC, rowid DESC", name, limit, offset,
                     approval_listing, items, total);
}

static bool is_hex(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    return n >= min && n <= max && strspn(s, "0123456789abcdef") == n;
}

/* Rows of one candidate query, appended to ids (up to max). */
static nc_err candidate_rows(nc_db *db, const char *sql, const char *ref, const char *invoker, int64_t now,
                             char (*ids)[65], size_t max, size_t *n)
{
    sqlite3_stmt *st;
    if (prepare(db, sql, &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    if (invoker)
        sqlite3_bind_text(st, 3, invoker, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)strlen(ref));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        bool dup = false;
        for (size_t i = 0; i < *n && !dup; i++)
            dup = id && strcmp(ids[i], id) == 0;
        if (id && !dup && *n < max)
            snprintf(ids[(*n)++], 65, "%s", id);
    }
    nc_err err = rc == SQLITE_DONE ? NC_OK : db_fail(db);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_db_approval_candidates(nc_db *db, const char *ref, const char *invoker, int64_t now, char (*ids)[65],
                                 size_t max, size_t *n, bool *by_id)
{
    /* The invoker matches one element of the invokers array exactly. */
#define CAND_INVOKER "(?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(a.invokers) j WHERE j.value = ?3))"
#define CAND_USABLE "a.revoked=0 AND a.runs<a.max_runs AND a.expires_at>?2 AND a.not_before<=?2"
#define CAND_ORDER " ORDER BY a.created_at DESC, a.rowid DESC LIMIT 64"
    static const char by_id_sql[] =
        "SELECT a.id FROM approvals a WHERE substr(a.id, 1, ?4) = ?1 AND " CAND_INVOKER CAND_ORDER;
    static const char *const usable_sql[] = {
        "SELECT a.id FROM approvals a WHERE a.name=?1 AND " CAND_USABLE " AND " CAND_INVOKER CAND_ORDER,
        "SELECT a.id FROM approvals a WHERE substr(a.sha256, 1, ?4) = ?1 AND " CAND_USABLE " AND " CAND_INVOKER
            CAND_ORDER,
    };
    static const char *const any_sql[] = {
        "SELECT a.id FROM approvals a WHERE a.name=?1 AND " CAND_INVOKER CAND_ORDER,
        "SELECT a.id FROM approvals a WHERE substr(a.sha256, 1, ?4) = ?1 AND " CAND_INVOKER CAND_ORDER,
    };
#undef CAND_INVOKER
#undef CAND_USABLE
#undef CAND_ORDER
    *n = 0;
    *by_id = false;
    nc_err err;
    bool hex = is_hex(ref, 12, 64);
    if (hex) {   /* an approval id, or the 12+ digit prefix `nightcore approvals` prints */
        if ((err = candidate_rows(db, by_id_sql, ref, invoker, now, ids, 2, n)) != NC_OK)
            return err;
        if (*n > 1) {
            *n = 0;
            return NC_ERR_USAGE;   /* ambiguous: give more digits */
        }
        if (*n == 1) {
            *by_id = true;
            return NC_OK;
        }
    }
    /* A module name, or a module sha256 prefix: the usable ones newest first,
     * then the rest (so a refusal can say precisely why none can run). */
    int kind = hex ? 1 : 0;
    if ((err = candidate_rows(db, usable_sql[kind], ref, invoker, now, ids, max, n)) != NC_OK)
        return err;
    if ((err = candidate_rows(db, any_sql[kind], ref, invoker, now, ids, max, n)) != NC_OK)
        return err;
    return *n ? NC_OK : NC_ERR_NOT_FOUND;
}

/* ---- an agent's view ---- */

nc_err nc_db_submission_approvals(nc_db *db, const char *submission, json_t **items)
{
    sqlite3_stmt *st;
    *items = NULL;
    if (prepare(db, "SELECT " APPROVAL_COLS " FROM approvals WHERE submission=? "
                    "ORDER BY created_at DESC, rowid DESC LIMIT 256", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, submission, -1, SQLITE_STATIC);
    return collect_into(db, st, approval_listing, items);
}

static json_t *agent_approval_row(nc_db *db, sqlite3_stmt *st)
{
    json_t *a = approval_row(st);
    (void)db;
    if (!a)
        return NULL;
    json_object_set_new(a, "description", text_col(st, 17));
    return a;
}

nc_err nc_db_agent_approvals(nc_db *db, const char *invoker, int64_t now, int64_t limit, json_t **items,
                             int64_t *total)
{
#define AGENT_USABLE                                                                                    \
    "a.revoked=0 AND a.runs<a.max_runs AND a.expires_at>?2 AND a.not_before<=?2 AND "                 \
    "EXISTS (SELECT 1 FROM json_each(a.invokers) j WHERE j.value = ?1)"
    sqlite3_stmt *st;
    *items = NULL;
    *total = 0;
    if (prepare(db, "SELECT count(*) FROM approvals a WHERE " AGENT_USABLE, &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, invoker, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    nc_err err = sqlite3_step(st) == SQLITE_ROW ? NC_OK : db_fail(db);
    if (err == NC_OK)
        *total = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (err != NC_OK)
        return err;
    if (prepare(db, "SELECT a.id,a.submission,a.name,a.sha256,a.approver,a.key_fingerprint,a.policy,a.invokers,"
                    "a.max_runs,a.runs,a.not_before,a.expires_at,a.revoked,a.created_at,a.capabilities,a.limits,"
                    "a.policy_version,s.description FROM approvals a LEFT JOIN submissions s ON s.id=a.submission "
                    "WHERE " AGENT_USABLE " ORDER BY a.created_at DESC, a.rowid DESC LIMIT ?3", &st) != NC_OK)
        return db_fail(db);
#undef AGENT_USABLE
    sqlite3_bind_text(st, 1, invoker, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, limit);
    return collect_into(db, st, agent_approval_row, items);
}

nc_err nc_db_submission_for_ref(nc_db *db, const char *source, const char *ref, json_t **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    /* by name; by a 12+ hex prefix of the module's sha256 or of one of its approvals' ids */
    if (prepare(db, "SELECT " SUBMISSION_COLS " FROM submissions s WHERE s.source=?1 AND (s.name=?2 OR "
                    "(?3 AND (substr(s.sha256, 1, ?4)=?2 OR EXISTS (SELECT 1 FROM approvals a WHERE "
                    "a.submission=s.id AND substr(a.id, 1, ?4)=?2)))) "
                    "ORDER BY s.created_at DESC, s.rowid DESC LIMIT 1", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, is_hex(ref, 12, 64));
    sqlite3_bind_int64(st, 4, (sqlite3_int64)strlen(ref));
    int rc = sqlite3_step(st);
    nc_err err = rc == SQLITE_ROW ? NC_OK : rc == SQLITE_DONE ? NC_ERR_NOT_FOUND : db_fail(db);
    if (err == NC_OK && !(*out = submission_row(db, st, false)))
        err = NC_ERR_NOMEM;
    sqlite3_finalize(st);
    return err;
}

nc_err nc_db_approval_revoke(nc_db *db, const char *id)
{
    sqlite3_stmt *st;
    if (prepare(db, "UPDATE approvals SET revoked=1 WHERE id=?", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    nc_err err = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(db->h) ? NC_OK : NC_ERR_NOT_FOUND) : db_fail(db);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_db_approval_take_run(nc_db *db, const char *id)
{
    sqlite3_stmt *st;
    if (prepare(db, "UPDATE approvals SET runs=runs+1 WHERE id=? AND revoked=0 AND runs<max_runs", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_fail(db);
    if (sqlite3_changes(db->h) == 1)
        return NC_OK;
    nc_db_approval a;
    nc_err err = nc_db_approval_load(db, id, &a);
    if (err != NC_OK)
        return err;
    err = a.revoked ? NC_ERR_REVOKED_APPROVAL : NC_ERR_MAX_RUNS;
    nc_db_approval_cleanup(&a);
    return err;
}

nc_err nc_db_approval_refund_run(nc_db *db, const char *id)
{
    sqlite3_stmt *st;
    if (prepare(db, "UPDATE approvals SET runs=runs-1 WHERE id=? AND runs>0", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    nc_err err = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(db->h) ? NC_OK : NC_ERR_NOT_FOUND) : db_fail(db);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_db_approval_set_artifact(nc_db *db, const char *id, const char *file, const char *sha256)
{
    sqlite3_stmt *st;
    if (prepare(db, "UPDATE approvals SET artifact_path=?, artifact_sha256=? WHERE id=?", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, file, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    nc_err err = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(db->h) ? NC_OK : NC_ERR_NOT_FOUND) : db_fail(db);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_db_count_approvals(nc_db *db, int64_t *out)
{
    return count(db, "SELECT count(*) FROM approvals WHERE revoked=0", NULL, out);
}

/* ---- runs ---- */

nc_err nc_db_run_start(nc_db *db, const char *id, const char *approval_id, const char *name, const char *sha256,
                       const char *invoker, int64_t started_at)
{
    sqlite3_stmt *st;
    if (prepare(db, "INSERT INTO runs(id,approval_id,name,sha256,invoker,status,started_at) "
                    "VALUES(?,?,?,?,?,'running',?)", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, approval_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, invoker, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, started_at);
    nc_err err = sqlite3_step(st) == SQLITE_DONE ? NC_OK : db_fail(db);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_db_run_finish_text(nc_db *db, const char *id, const char *outcome, int64_t finished_at,
                             int64_t duration_ms, int64_t score, const char *result, size_t len, uint64_t audit_seq)
{
    sqlite3_stmt *st;
    if (len > INT_MAX)
        return NC_ERR_TOO_LARGE;
    if (prepare(db, "UPDATE runs SET status='finished', outcome=?, finished_at=?, duration_ms=?, score=?, result=?, "
                    "audit_seq=? WHERE id=?", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, outcome, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, finished_at);
    sqlite3_bind_int64(st, 3, duration_ms);
    sqlite3_bind_int64(st, 4, score);
    sqlite3_bind_text(st, 5, result, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)audit_seq);
    sqlite3_bind_text(st, 7, id, -1, SQLITE_STATIC);
    nc_err err = sqlite3_step(st) == SQLITE_DONE ? NC_OK : db_fail(db);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_db_run_finish(nc_db *db, const char *id, const char *outcome, int64_t finished_at, int64_t duration_ms,
                        int64_t score, json_t *result, uint64_t audit_seq)
{
    char *r = dump(result);
    if (!r)
        return NC_ERR_NOMEM;
    nc_err err = nc_db_run_finish_text(db, id, outcome, finished_at, duration_ms, score, r, strlen(r), audit_seq);
    free(r);
    return err;
}

static json_t *run_row(sqlite3_stmt *st, bool full)
{
    /* Finished runs keep their whole object; running ones are built from columns. */
    json_t *o = NULL;
    if (sqlite3_column_type(st, 7) != SQLITE_NULL)
        o = load_col(st, 7);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:I}", "id", text_col(st, 0), "approval_id", text_col(st, 1),
                      "name", text_col(st, 2), "sha256", text_col(st, 3), "invoker", text_col(st, 4), "outcome",
                      sqlite3_column_type(st, 6) == SQLITE_NULL ? json_string("running") : text_col(st, 6),
                      "started_at", (json_int_t)sqlite3_column_int64(st, 5));
    }
    if (o && !full) {
        json_object_del(o, "stdout");
        json_object_del(o, "stderr");
        json_object_del(o, "stdout_b64");
        json_object_del(o, "stderr_b64");
    }
    return o;
}

#define RUN_COLS "id,approval_id,name,sha256,invoker,started_at,outcome,result"

nc_err nc_db_run_get(nc_db *db, const char *id, json_t **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    if (prepare(db, "SELECT " RUN_COLS " FROM runs WHERE id=?", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    nc_err err = rc == SQLITE_ROW ? NC_OK : rc == SQLITE_DONE ? NC_ERR_NOT_FOUND : db_fail(db);
    if (err == NC_OK && !(*out = run_row(st, true)))
        err = NC_ERR_NOMEM;
    sqlite3_finalize(st);
    return err;
}

static json_t *run_listing(nc_db *db, sqlite3_stmt *st)
{
    (void)db;
    return run_row(st, false);
}

nc_err nc_db_run_list(nc_db *db, const char *name, int64_t limit, int64_t offset, json_t **items, int64_t *total)
{
    return list_page(db, RUN_COLS, "runs", "name", "started_at DESC, rowid DESC", name, limit, offset, run_listing,
                     items, total);
}

nc_err nc_db_runs_interrupted(nc_db *db, int64_t now, json_t **ids)
{
    sqlite3_stmt *st;
    *ids = json_array();
    if (!*ids)
        return NC_ERR_NOMEM;
    if (prepare(db, "SELECT id FROM runs WHERE status='running' ORDER BY started_at", &st) != NC_OK)
        return db_fail(db);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(*ids, text_col(st, 0));
    nc_err lerr = rc == SQLITE_DONE ? NC_OK : db_fail(db);
    sqlite3_finalize(st);
    if (lerr != NC_OK)
        return lerr;
    if (prepare(db, "UPDATE runs SET status='finished', outcome='interrupted', finished_at=?, "
                    "result=json_object('id',id,'approval_id',approval_id,'name',name,'sha256',sha256,"
                    "'invoker',invoker,'outcome','interrupted','message','the worker stopped during this run; "
                    "it was not re-run','started_at',started_at,'finished_at',?1) WHERE status='running'", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_int64(st, 1, now);
    nc_err err = sqlite3_step(st) == SQLITE_DONE ? NC_OK : db_fail(db);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_db_run_audit_seq(nc_db *db, const char *id, uint64_t *seq)
{
    sqlite3_stmt *st;
    *seq = 0;
    if (prepare(db, "SELECT audit_seq FROM runs WHERE id=?", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    nc_err err = NC_ERR_NOT_FOUND;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *seq = (uint64_t)sqlite3_column_int64(st, 0);
        err = NC_OK;
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = db_fail(db);
    }
    sqlite3_finalize(st);
    return err;
}

/* ---- agents ---- */

nc_err nc_db_agent_add(nc_db *db, const char *name, const char *token_hash, int64_t now)
{
    sqlite3_stmt *st;
    int64_t n;
    if (count(db, "SELECT count(*) FROM agents WHERE name=? AND removed_at IS NULL", name, &n) != NC_OK)
        return db_fail(db);
    if (n)
        return NC_ERR_USAGE;   /* exists: remove it first */
    if (prepare(db, "INSERT INTO agents(name, token_hash, created_at, removed_at) VALUES(?1, ?2, ?3, NULL) "
                    "ON CONFLICT(name) DO UPDATE SET token_hash=?2, created_at=?3, removed_at=NULL", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, token_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    nc_err err = sqlite3_step(st) == SQLITE_DONE ? NC_OK : db_fail(db);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_db_agent_remove(nc_db *db, const char *name, int64_t now)
{
    sqlite3_stmt *st;
    if (prepare(db, "UPDATE agents SET removed_at=? WHERE name=? AND removed_at IS NULL", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    nc_err err = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(db->h) ? NC_OK : NC_ERR_NOT_FOUND) : db_fail(db);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_db_agent_by_token(nc_db *db, const char *token_hash, char name_out[80])
{
    sqlite3_stmt *st;
    name_out[0] = '\0';
    if (prepare(db, "SELECT name FROM agents WHERE token_hash=? AND removed_at IS NULL", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, token_hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    nc_err err = rc == SQLITE_ROW ? NC_OK : rc == SQLITE_DONE ? NC_ERR_NOT_FOUND : db_fail(db);
    if (err == NC_OK)
        copy_text(name_out, 80, st, 0);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_db_agent_list(nc_db *db, json_t **items)
{
    sqlite3_stmt *st;
    *items = json_array();
    if (!*items)
        return NC_ERR_NOMEM;
    if (prepare(db, "SELECT a.name, a.created_at, a.removed_at, "
                    "(SELECT count(*) FROM submissions s WHERE s.source='agent:'||a.name AND s.status='pending'), "
                    "(SELECT max(created_at) FROM submissions s WHERE s.source='agent:'||a.name), "
                    "(SELECT count(*) FROM runs r WHERE r.invoker='agent:'||a.name) "
                    "FROM agents a ORDER BY a.name", &st) != NC_OK)
        return db_fail(db);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(*items, json_pack("{s:o, s:I, s:b, s:I, s:o, s:I}", "name", text_col(st, 0), "created_at",
                                                (json_int_t)sqlite3_column_int64(st, 1), "removed",
                                                sqlite3_column_type(st, 2) != SQLITE_NULL, "pending",
                                                (json_int_t)sqlite3_column_int64(st, 3), "last_submission_at",
                                                sqlite3_column_type(st, 4) == SQLITE_NULL ? json_null()
                                                : json_integer(sqlite3_column_int64(st, 4)),
                                                "runs", (json_int_t)sqlite3_column_int64(st, 5)));
    nc_err err = rc == SQLITE_DONE ? NC_OK : db_fail(db);
    sqlite3_finalize(st);
    if (err != NC_OK) {
        json_decref(*items);
        *items = NULL;
    }
    return err;
}

nc_err nc_db_count_running(nc_db *db, const char *invoker, int64_t *out)
{
    return count(db, "SELECT count(*) FROM runs WHERE invoker=? AND status='running'", invoker, out);
}

nc_err nc_db_submission_list_source(nc_db *db, const char *source, const char *status, int64_t limit, int64_t offset,
                                    json_t **items, int64_t *total)
{
    sqlite3_stmt *st;
    *items = NULL;
    *total = 0;
    if (prepare(db, "SELECT count(*) FROM submissions WHERE source=?1 AND (?2 IS NULL OR status=?2)", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    if (status)
        sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    nc_err cerr = NC_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *total = sqlite3_column_int64(st, 0);
    else
        cerr = db_fail(db);
    sqlite3_finalize(st);
    if (cerr != NC_OK)
        return cerr;
    if (prepare(db, "SELECT " SUBMISSION_COLS " FROM submissions s WHERE s.source=?1 AND (?2 IS NULL OR s.status=?2) "
                    "ORDER BY s.created_at DESC, s.rowid DESC LIMIT ?3 OFFSET ?4", &st) != NC_OK)
        return db_fail(db);
    sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
    if (status)
        sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, limit);
    sqlite3_bind_int64(st, 4, offset);
    return collect_into(db, st, submission_listing, items);
}

nc_err nc_db_count_runs(nc_db *db, int64_t *out)
{
    return count(db, "SELECT count(*) FROM runs", NULL, out);
}
