/* The audit log's tables (docs/audit.md): each entry with its leaf hash, the
 * tree's right edge, the roots of its complete subtrees, and the signed
 * checkpoints. Rows in, rows out: what they mean (the Merkle tree, checkpoint
 * notes, verification) is src/audit's, which calls these.
 *
 * Reads over many rows hand each row to a callback, borrowed for the call;
 * a callback that returns anything but NC_OK stops the read, which returns
 * that code. A read that fails midway is an error (nc_db_errmsg says why),
 * never a shorter log. */
#ifndef NC_STORE_AUDITLOG_H
#define NC_STORE_AUDITLOG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"
#include "common/hash.h"
#include "store/db.h"

/* A log of up to 2^64 - 1 entries: its right edge holds one hash per bit of
 * the size, and its nodes lie on levels 0 (the leaves) to 63. */
#define NC_AUDITLOG_LEVELS 64

/* ---- entries ---- */

/* Inside the caller's transaction. */
NC_MUST_CHECK nc_err nc_auditlog_append(nc_db *db, uint64_t seq, const void *entry, size_t len,
                                        const uint8_t leaf[NC_SHA256_LEN]);
/* Rows in the log (count, not the highest seq + 1: a deleted row shows). */
NC_MUST_CHECK nc_err nc_auditlog_count(nc_db *db, uint64_t *out);
/* The highest seq; NC_ERR_NOT_FOUND when the log is empty. */
NC_MUST_CHECK nc_err nc_auditlog_last_seq(nc_db *db, uint64_t *out);

/* One row as stored. entry is NULL (len 0) when the read did not ask for the
 * entries; leaf is NULL when the stored leaf is not 32 bytes (a damaged row,
 * for the caller to report). */
typedef struct {
    int64_t seq;   /* as stored: a damaged log may hold any number */
    const uint8_t *entry;
    size_t len;
    const uint8_t *leaf;
} nc_auditlog_row;
typedef nc_err (*nc_auditlog_row_fn)(const nc_auditlog_row *row, void *ctx);

/* Which rows a read visits, and in what order. */
typedef struct {
    uint64_t from, to;   /* from <= seq < to; from 0: from the first row, whatever its
                          * seq (so that a reader of the whole log sees every row
                          * there is); to 0: no upper bound */
    uint64_t limit;      /* at most this many rows; 0: all of them */
    bool newest;         /* with a limit: the newest rows of the range, not the oldest */
    bool newest_first;   /* the order of the calls */
    bool entries;        /* hand over the entry bytes too (else only seq and leaf) */
} nc_auditlog_range;

NC_MUST_CHECK nc_err nc_auditlog_each(nc_db *db, const nc_auditlog_range *range, nc_auditlog_row_fn fn, void *ctx);
/* Entry seq (*entry malloc'd, *len its bytes) and its leaf: NC_ERR_NOT_FOUND
 * when there is no such row, NC_ERR_MALFORMED when its leaf is not 32 bytes. */
NC_MUST_CHECK nc_err nc_auditlog_entry(nc_db *db, uint64_t seq, uint8_t **entry, size_t *len,
                                       uint8_t leaf[NC_SHA256_LEN]);

/* ---- entries by type ----
 * Indexed by each entry's "type" and "approval_id": virtual columns computed
 * from the entry bytes (migration 4), so the index says nothing the hashed
 * entry does not. */

/* Every entry whose type is one of kinds (NULL-terminated; at most 8 types
 * of at most 64 bytes, else NC_ERR_USAGE), in log order, with its bytes. */
NC_MUST_CHECK nc_err nc_auditlog_each_kind(nc_db *db, const char *const *kinds, nc_auditlog_row_fn fn, void *ctx);
/* How many entries of this type name this approval id. */
NC_MUST_CHECK nc_err nc_auditlog_count_ref(nc_db *db, const char *kind, const char *ref, uint64_t *out);
/* The first entry of this type naming this approval id (*entry malloc'd);
 * NC_ERR_NOT_FOUND when there is none. */
NC_MUST_CHECK nc_err nc_auditlog_first_ref(nc_db *db, const char *kind, const char *ref, uint8_t **entry,
                                           size_t *len);
/* The newest such entry (NC_ERR_NOT_FOUND if none). */
NC_MUST_CHECK nc_err nc_auditlog_last_ref(nc_db *db, const char *kind, const char *ref, uint8_t **entry,
                                           size_t *len);
/* How many entries of this type have a "time" of at least since. */
NC_MUST_CHECK nc_err nc_auditlog_count_kind_since(nc_db *db, const char *kind, int64_t since, uint64_t *out);

/* ---- the tree's right edge: the root of each complete subtree along the
 * right side, one per set bit of the size ---- */

/* hash[l] for each level l whose bit *levels gets; hash holds
 * NC_AUDITLOG_LEVELS. NC_ERR_MALFORMED for a row of no such level or not 32
 * bytes. */
NC_MUST_CHECK nc_err nc_auditlog_frontier_read(nc_db *db, uint8_t (*hash)[NC_SHA256_LEN], uint64_t *levels);
/* Replaces the stored edge with hash[l] for each bit l of levels (inside the
 * caller's transaction). */
NC_MUST_CHECK nc_err nc_auditlog_frontier_write(nc_db *db, const uint8_t (*hash)[NC_SHA256_LEN], uint64_t levels);

/* ---- tree nodes: (level, index) is the root of the complete subtree of
 * leaves [index << level, (index + 1) << level). Level 0 is the leaves
 * (audit_log); levels 1 and up are stored as their appends complete them
 * (migration 6). ---- */

typedef struct {
    unsigned level;
    uint64_t index;
    uint8_t hash[NC_SHA256_LEN];
} nc_auditlog_node;

/* Stores interior nodes (level 1 and up; inside the caller's transaction). */
NC_MUST_CHECK nc_err nc_auditlog_nodes_put(nc_db *db, const nc_auditlog_node *nodes, size_t n);
/* Fills in the hash of each (level, index), leaves included: NC_ERR_NOT_FOUND
 * when one is not stored, NC_ERR_MALFORMED when one is not 32 bytes. */
NC_MUST_CHECK nc_err nc_auditlog_nodes_get(nc_db *db, nc_auditlog_node *nodes, size_t n);
/* Interior nodes stored, all levels. */
NC_MUST_CHECK nc_err nc_auditlog_nodes_count(nc_db *db, uint64_t *out);

/* The stored interior nodes, each level in index order, several levels read
 * side by side (verification walks them beside the leaves). */
typedef struct nc_auditlog_nodes nc_auditlog_nodes;
/* NC_ERR_NOT_FOUND when the database has no node table (one of an older
 * schema, opened read-only). Lives until nc_auditlog_nodes_close, which must
 * come before db is closed. */
NC_MUST_CHECK nc_err nc_auditlog_nodes_open(nc_db *db, nc_auditlog_nodes **out);
/* The next stored node of level node->level (1 and up): its index and hash.
 * NC_ERR_NOT_FOUND after the level's last node; NC_ERR_MALFORMED, with the
 * index set, when its hash is not 32 bytes. */
NC_MUST_CHECK nc_err nc_auditlog_nodes_next(nc_auditlog_nodes *r, nc_auditlog_node *node);
void nc_auditlog_nodes_close(nc_auditlog_nodes *r);

/* ---- checkpoints ---- */

/* One stored checkpoint, borrowed for the callback. root is NULL when the
 * stored root is not 32 bytes; note is NUL-terminated. */
typedef struct {
    uint64_t size;
    const uint8_t *root;
    const char *note;
    size_t note_len;
    int64_t created_at;
} nc_auditlog_checkpoint;
typedef nc_err (*nc_auditlog_checkpoint_fn)(const nc_auditlog_checkpoint *cp, void *ctx);

/* One per size: a second checkpoint of a size already stored is ignored. */
NC_MUST_CHECK nc_err nc_auditlog_checkpoint_add(nc_db *db, uint64_t size, const uint8_t root[NC_SHA256_LEN],
                                                const char *note, int64_t created_at);
/* Every checkpoint, smallest size first. */
NC_MUST_CHECK nc_err nc_auditlog_checkpoint_each(nc_db *db, nc_auditlog_checkpoint_fn fn, void *ctx);
/* The one of the largest size; NC_ERR_NOT_FOUND when there is none. */
NC_MUST_CHECK nc_err nc_auditlog_checkpoint_latest(nc_db *db, nc_auditlog_checkpoint_fn fn, void *ctx);

#endif
