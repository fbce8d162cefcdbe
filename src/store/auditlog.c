/* The audit log's tables (store/auditlog.h). Schema: migrations 2, 4 and 6
 * in db.c. */
#include "store/auditlog.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/internal.h"

/* A seq or index bound as SQLite's signed integer (no row lies above it). */
static sqlite3_int64 bound(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

/* The one integer a query such as count(*) returns. */
static nc_err one_integer(nc_db *db, sqlite3_stmt *st, uint64_t *out)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        return nc_store_fail(db);
    *out = (uint64_t)sqlite3_column_int64(st, 0);
    return NC_OK;
}

/* A malloc'd copy of a blob column (NUL-terminated, for readers of text). */
static nc_err copy_blob(sqlite3_stmt *st, int col, uint8_t **out, size_t *len)
{
    const void *p = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    uint8_t *c = malloc(n + 1);
    if (!c)
        return NC_ERR_NOMEM;
    if (n)
        memcpy(c, p, n);
    c[n] = '\0';
    *out = c;
    *len = n;
    return NC_OK;
}

/* ---- entries ---- */

nc_err nc_auditlog_append(nc_db *db, uint64_t seq, const void *entry, size_t len, const uint8_t leaf[NC_SHA256_LEN])
{
    sqlite3_stmt *st;
    if (seq > (uint64_t)INT64_MAX || len > (size_t)INT32_MAX)
        return NC_ERR_TOO_LARGE;
    nc_err err = nc_store_kept(db, NC_KEPT_LOG_APPEND, "INSERT INTO audit_log(seq, entry, leaf) VALUES(?, ?, ?)", &st);
    if (err != NC_OK)
        return err;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    sqlite3_bind_blob(st, 2, len ? entry : "", (int)len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, leaf, NC_SHA256_LEN, SQLITE_STATIC);
    err = nc_store_end(db, sqlite3_step(st));
    nc_store_release(st);
    return err;
}

nc_err nc_auditlog_count(nc_db *db, uint64_t *out)
{
    sqlite3_stmt *st;
    *out = 0;
    if (nc_store_prepare(db, "SELECT count(*) FROM audit_log", &st) != NC_OK)
        return nc_store_fail(db);
    nc_err err = one_integer(db, st, out);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_auditlog_last_seq(nc_db *db, uint64_t *out)
{
    sqlite3_stmt *st;
    *out = 0;
    if (nc_store_prepare(db, "SELECT max(seq) FROM audit_log", &st) != NC_OK)
        return nc_store_fail(db);
    int rc = sqlite3_step(st);
    nc_err err = NC_OK;
    if (rc != SQLITE_ROW)
        err = nc_store_fail(db);
    else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
        err = NC_ERR_NOT_FOUND;
    else
        *out = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return err;
}

/* Columns: seq, entry (or NULL), leaf. */
static void row_at(sqlite3_stmt *st, bool entries, nc_auditlog_row *row)
{
    row->seq = sqlite3_column_int64(st, 0);
    row->entry = NULL;
    row->len = 0;
    if (entries) {
        const void *e = sqlite3_column_blob(st, 1);
        row->len = (size_t)sqlite3_column_bytes(st, 1);
        row->entry = e ? e : (const uint8_t *)"";
    }
    const void *leaf = sqlite3_column_blob(st, 2);
    row->leaf = sqlite3_column_bytes(st, 2) == NC_SHA256_LEN ? leaf : NULL;
}

/* Every row of st to fn; the loop ends at SQLITE_DONE or at an error. */
static nc_err each_row(nc_db *db, sqlite3_stmt *st, bool entries, nc_auditlog_row_fn fn, void *ctx)
{
    nc_auditlog_row row;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_at(st, entries, &row);
        nc_err err = fn(&row, ctx);
        if (err != NC_OK)
            return err;
    }
    return nc_store_end(db, rc);
}

nc_err nc_auditlog_each(nc_db *db, const nc_auditlog_range *range, nc_auditlog_row_fn fn, void *ctx)
{
    char inner[192], sql[256];
    sqlite3_stmt *st;
    /* The first rows or the newest ones, then delivered in the order asked. */
    snprintf(inner, sizeof inner, "SELECT seq, %s, leaf FROM audit_log WHERE seq >= ?1 AND seq < ?2 ORDER BY seq%s "
             "LIMIT ?3", range->entries ? "entry" : "NULL", range->newest ? " DESC" : "");
    if (range->newest == range->newest_first)
        snprintf(sql, sizeof sql, "%s", inner);
    else
        snprintf(sql, sizeof sql, "SELECT * FROM (%s) ORDER BY seq%s", inner, range->newest_first ? " DESC" : "");
    if (nc_store_prepare(db, sql, &st) != NC_OK)
        return nc_store_fail(db);
    sqlite3_bind_int64(st, 1, range->from ? bound(range->from) : INT64_MIN);
    sqlite3_bind_int64(st, 2, range->to ? bound(range->to) : INT64_MAX);
    sqlite3_bind_int64(st, 3, range->limit ? bound(range->limit) : -1);
    nc_err err = each_row(db, st, range->entries, fn, ctx);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_auditlog_entry(nc_db *db, uint64_t seq, uint8_t **entry, size_t *len, uint8_t leaf[NC_SHA256_LEN])
{
    sqlite3_stmt *st;
    *entry = NULL;
    *len = 0;
    if (seq > (uint64_t)INT64_MAX)
        return NC_ERR_NOT_FOUND;
    if (nc_store_prepare(db, "SELECT entry, leaf FROM audit_log WHERE seq=?", &st) != NC_OK)
        return nc_store_fail(db);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    int rc = sqlite3_step(st);
    nc_err err = rc == SQLITE_ROW ? NC_OK : rc == SQLITE_DONE ? NC_ERR_NOT_FOUND : nc_store_fail(db);
    if (err == NC_OK && sqlite3_column_bytes(st, 1) != NC_SHA256_LEN)
        err = NC_ERR_MALFORMED;
    if (err == NC_OK) {
        memcpy(leaf, sqlite3_column_blob(st, 1), NC_SHA256_LEN);
        err = copy_blob(st, 0, entry, len);
    }
    sqlite3_finalize(st);
    return err;
}

/* ---- entries by type ---- */

#define KINDS_MAX 8
#define KIND_MAX_BYTES 64

nc_err nc_auditlog_each_kind(nc_db *db, const char *const *kinds, nc_auditlog_row_fn fn, void *ctx)
{
    char sql[256] = "SELECT seq, entry, leaf FROM audit_log WHERE kind IN (";
    size_t used = strlen(sql), k = 0;
    for (const char *const *t = kinds; *t; t++, k++) {
        if (k >= KINDS_MAX || strlen(*t) > KIND_MAX_BYTES)
            return NC_ERR_USAGE;
        used += (size_t)snprintf(sql + used, sizeof sql - used, "%s?", k ? "," : "");
    }
    if (k == 0)
        return NC_ERR_USAGE;
    snprintf(sql + used, sizeof sql - used, ") ORDER BY seq");
    sqlite3_stmt *st;
    if (nc_store_prepare(db, sql, &st) != NC_OK)
        return nc_store_fail(db);
    for (size_t i = 0; i < k; i++)
        sqlite3_bind_text(st, (int)i + 1, kinds[i], -1, SQLITE_STATIC);
    nc_err err = each_row(db, st, true, fn, ctx);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_auditlog_count_ref(nc_db *db, const char *kind, const char *ref, uint64_t *out)
{
    sqlite3_stmt *st;
    *out = 0;
    if (nc_store_prepare(db, "SELECT count(*) FROM audit_log WHERE kind=? AND ref=?", &st) != NC_OK)
        return nc_store_fail(db);
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
    nc_err err = one_integer(db, st, out);
    sqlite3_finalize(st);
    return err;
}

static nc_err ref_entry(nc_db *db, const char *kind, const char *ref, bool last, uint8_t **entry, size_t *len)
{
    sqlite3_stmt *st;
    *entry = NULL;
    *len = 0;
    if (nc_store_prepare(db, last ? "SELECT entry FROM audit_log WHERE kind=? AND ref=? ORDER BY seq DESC LIMIT 1"
                                  : "SELECT entry FROM audit_log WHERE kind=? AND ref=? ORDER BY seq LIMIT 1",
                         &st) != NC_OK)
        return nc_store_fail(db);
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ref, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    nc_err err = rc == SQLITE_ROW ? copy_blob(st, 0, entry, len) : rc == SQLITE_DONE ? NC_ERR_NOT_FOUND
                                                                                      : nc_store_fail(db);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_auditlog_first_ref(nc_db *db, const char *kind, const char *ref, uint8_t **entry, size_t *len)
{
    return ref_entry(db, kind, ref, false, entry, len);
}

nc_err nc_auditlog_last_ref(nc_db *db, const char *kind, const char *ref, uint8_t **entry, size_t *len)
{
    return ref_entry(db, kind, ref, true, entry, len);
}

nc_err nc_auditlog_count_kind_since(nc_db *db, const char *kind, int64_t since, uint64_t *out)
{
    sqlite3_stmt *st;
    *out = 0;
    /* kind is set only for valid JSON, so the time can be read */
    if (nc_store_prepare(db, "SELECT count(*) FROM audit_log WHERE kind=?1 "
                             "AND json_extract(CAST(entry AS TEXT), '$.time') >= ?2", &st) != NC_OK)
        return nc_store_fail(db);
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, since);
    nc_err err = one_integer(db, st, out);
    sqlite3_finalize(st);
    return err;
}

/* ---- the right edge ---- */

nc_err nc_auditlog_frontier_read(nc_db *db, uint8_t (*hash)[NC_SHA256_LEN], uint64_t *levels)
{
    sqlite3_stmt *st;
    uint64_t found = 0;
    *levels = 0;
    if (nc_store_prepare(db, "SELECT level, hash FROM audit_frontier", &st) != NC_OK)
        return nc_store_fail(db);
    nc_err err = NC_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 level = sqlite3_column_int64(st, 0);
        const void *h = sqlite3_column_blob(st, 1);
        if (level < 0 || level >= NC_AUDITLOG_LEVELS || sqlite3_column_bytes(st, 1) != NC_SHA256_LEN) {
            err = NC_ERR_MALFORMED;
            break;
        }
        memcpy(hash[level], h, NC_SHA256_LEN);
        found |= (uint64_t)1 << level;
    }
    if (err == NC_OK)
        err = nc_store_end(db, rc);
    sqlite3_finalize(st);
    if (err == NC_OK)
        *levels = found;
    return err;
}

nc_err nc_auditlog_frontier_write(nc_db *db, const uint8_t (*hash)[NC_SHA256_LEN], uint64_t levels)
{
    sqlite3_stmt *st;
    nc_err err = nc_store_kept(db, NC_KEPT_EDGE_CLEAR, "DELETE FROM audit_frontier", &st);
    if (err != NC_OK)
        return err;
    err = nc_store_end(db, sqlite3_step(st));
    nc_store_release(st);
    if (err != NC_OK ||
        (err = nc_store_kept(db, NC_KEPT_EDGE_PUT, "INSERT INTO audit_frontier(level, hash) VALUES(?, ?)", &st)) !=
            NC_OK)
        return err;
    for (unsigned l = 0; l < NC_AUDITLOG_LEVELS && err == NC_OK; l++) {
        if (!((levels >> l) & 1))
            continue;
        sqlite3_bind_int(st, 1, (int)l);
        sqlite3_bind_blob(st, 2, hash[l], NC_SHA256_LEN, SQLITE_STATIC);
        err = nc_store_end(db, sqlite3_step(st));
        nc_store_release(st);
    }
    return err;
}

/* ---- nodes ---- */

nc_err nc_auditlog_nodes_put(nc_db *db, const nc_auditlog_node *nodes, size_t n)
{
    sqlite3_stmt *st;
    for (size_t i = 0; i < n; i++)
        if (nodes[i].level == 0 || nodes[i].level >= NC_AUDITLOG_LEVELS || nodes[i].index > (uint64_t)INT64_MAX)
            return NC_ERR_USAGE;
    if (n == 0)
        return NC_OK;
    /* A node already there is an error, not replaced: nodes are written
     * once, by the append that completes them. */
    nc_err err = nc_store_kept(db, NC_KEPT_NODE_PUT, "INSERT INTO audit_nodes(level, idx, hash) VALUES(?, ?, ?)", &st);
    for (size_t i = 0; i < n && err == NC_OK; i++) {
        sqlite3_bind_int(st, 1, (int)nodes[i].level);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)nodes[i].index);
        sqlite3_bind_blob(st, 3, nodes[i].hash, NC_SHA256_LEN, SQLITE_STATIC);
        err = nc_store_end(db, sqlite3_step(st));
        nc_store_release(st);
    }
    return err;
}

/* One node's hash: a leaf from the log, a node above from audit_nodes. */
static nc_err node_hash_of(nc_db *db, nc_auditlog_node *x)
{
    sqlite3_stmt *st;
    if (x->level >= NC_AUDITLOG_LEVELS)
        return NC_ERR_USAGE;
    if (x->index > (uint64_t)INT64_MAX)
        return NC_ERR_NOT_FOUND;
    nc_err err = x->level == 0
                     ? nc_store_kept(db, NC_KEPT_LEAF_GET, "SELECT leaf FROM audit_log WHERE seq=?2", &st)
                     : nc_store_kept(db, NC_KEPT_NODE_GET, "SELECT hash FROM audit_nodes WHERE level=?1 AND idx=?2", &st);
    if (err != NC_OK)
        return err;
    if (x->level)
        sqlite3_bind_int(st, 1, (int)x->level);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)x->index);
    int rc = sqlite3_step(st);
    err = rc == SQLITE_ROW ? NC_OK : rc == SQLITE_DONE ? NC_ERR_NOT_FOUND : nc_store_fail(db);
    if (err == NC_OK) {
        const void *h = sqlite3_column_blob(st, 0);
        if (sqlite3_column_bytes(st, 0) == NC_SHA256_LEN)
            memcpy(x->hash, h, NC_SHA256_LEN);
        else
            err = NC_ERR_MALFORMED;
    }
    nc_store_release(st);
    return err;
}

nc_err nc_auditlog_nodes_get(nc_db *db, nc_auditlog_node *nodes, size_t n)
{
    nc_err err = NC_OK;
    for (size_t i = 0; i < n && err == NC_OK; i++)
        err = node_hash_of(db, &nodes[i]);
    return err;
}

nc_err nc_auditlog_nodes_count(nc_db *db, uint64_t *out)
{
    sqlite3_stmt *st;
    *out = 0;
    if (nc_store_prepare(db, "SELECT count(*) FROM audit_nodes", &st) != NC_OK)
        return nc_store_fail(db);
    nc_err err = one_integer(db, st, out);
    sqlite3_finalize(st);
    return err;
}

struct nc_auditlog_nodes {
    nc_db *db;
    sqlite3_stmt *level[NC_AUDITLOG_LEVELS];   /* prepared when first read */
    uint64_t done;                             /* levels read to their end */
};

nc_err nc_auditlog_nodes_open(nc_db *db, nc_auditlog_nodes **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    if (nc_store_prepare(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='audit_nodes'", &st) != NC_OK)
        return nc_store_fail(db);
    int rc = sqlite3_step(st);
    nc_err err = rc == SQLITE_ROW ? NC_OK : rc == SQLITE_DONE ? NC_ERR_NOT_FOUND : nc_store_fail(db);
    sqlite3_finalize(st);
    if (err != NC_OK)
        return err;
    nc_auditlog_nodes *r = calloc(1, sizeof *r);
    if (!r)
        return NC_ERR_NOMEM;
    r->db = db;
    *out = r;
    return NC_OK;
}

nc_err nc_auditlog_nodes_next(nc_auditlog_nodes *r, nc_auditlog_node *node)
{
    unsigned l = node->level;
    if (l == 0 || l >= NC_AUDITLOG_LEVELS)
        return NC_ERR_USAGE;
    if ((r->done >> l) & 1)
        return NC_ERR_NOT_FOUND;   /* a finished statement would start over */
    if (!r->level[l]) {
        if (nc_store_prepare(r->db, "SELECT idx, hash FROM audit_nodes WHERE level=? ORDER BY idx", &r->level[l]) !=
            NC_OK)
            return nc_store_fail(r->db);
        sqlite3_bind_int(r->level[l], 1, (int)l);
    }
    sqlite3_stmt *st = r->level[l];
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        r->done |= (uint64_t)1 << l;
        return rc == SQLITE_DONE ? NC_ERR_NOT_FOUND : nc_store_fail(r->db);
    }
    sqlite3_int64 idx = sqlite3_column_int64(st, 0);
    const void *h = sqlite3_column_blob(st, 1);
    node->index = (uint64_t)idx;
    if (idx < 0 || sqlite3_column_bytes(st, 1) != NC_SHA256_LEN)
        return NC_ERR_MALFORMED;
    memcpy(node->hash, h, NC_SHA256_LEN);
    return NC_OK;
}

void nc_auditlog_nodes_close(nc_auditlog_nodes *r)
{
    if (!r)
        return;
    for (unsigned l = 0; l < NC_AUDITLOG_LEVELS; l++)
        sqlite3_finalize(r->level[l]);
    free(r);
}

/* ---- checkpoints ---- */

nc_err nc_auditlog_checkpoint_add(nc_db *db, uint64_t size, const uint8_t root[NC_SHA256_LEN], const char *note,
                                  int64_t created_at)
{
    sqlite3_stmt *st;
    if (size > (uint64_t)INT64_MAX)
        return NC_ERR_TOO_LARGE;
    if (nc_store_prepare(db, "INSERT OR IGNORE INTO audit_checkpoints(size, root, note, created_at) VALUES(?, ?, ?, ?)",
                         &st) != NC_OK)
        return nc_store_fail(db);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
    sqlite3_bind_blob(st, 2, root, NC_SHA256_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, note, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, created_at);
    nc_err err = nc_store_end(db, sqlite3_step(st));
    sqlite3_finalize(st);
    return err;
}

/* Columns: size, root, note, created_at. */
static nc_err each_checkpoint(nc_db *db, const char *sql, nc_auditlog_checkpoint_fn fn, void *ctx, bool *any)
{
    sqlite3_stmt *st;
    *any = false;
    if (nc_store_prepare(db, sql, &st) != NC_OK)
        return nc_store_fail(db);
    nc_err err = NC_OK;
    int rc = SQLITE_DONE;
    while (err == NC_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        nc_auditlog_checkpoint cp;
        cp.size = (uint64_t)sqlite3_column_int64(st, 0);
        const void *root = sqlite3_column_blob(st, 1);
        cp.root = sqlite3_column_bytes(st, 1) == NC_SHA256_LEN ? root : NULL;
        const unsigned char *note = sqlite3_column_text(st, 2);
        cp.note_len = (size_t)sqlite3_column_bytes(st, 2);
        cp.note = note ? (const char *)note : "";
        cp.created_at = sqlite3_column_int64(st, 3);
        *any = true;
        err = fn(&cp, ctx);
    }
    if (err == NC_OK)
        err = nc_store_end(db, rc);
    sqlite3_finalize(st);
    return err;
}

nc_err nc_auditlog_checkpoint_each(nc_db *db, nc_auditlog_checkpoint_fn fn, void *ctx)
{
    bool any;
    return each_checkpoint(db, "SELECT size, root, note, created_at FROM audit_checkpoints ORDER BY size", fn, ctx,
                           &any);
}

nc_err nc_auditlog_checkpoint_latest(nc_db *db, nc_auditlog_checkpoint_fn fn, void *ctx)
{
    bool any;
    nc_err err = each_checkpoint(
        db, "SELECT size, root, note, created_at FROM audit_checkpoints ORDER BY size DESC LIMIT 1", fn, ctx, &any);
    return err == NC_OK && !any ? NC_ERR_NOT_FOUND : err;
}
