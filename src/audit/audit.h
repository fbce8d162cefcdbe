/* The tamper-evident audit log (docs/audit.md): an append-only list of
 * canonical JSON entries, an RFC 6962 Merkle tree over them
 * (leaf = sha256(0x00 || entry), node = sha256(0x01 || left || right)), and
 * checkpoints signed by the worker's Ed25519 key in the C2SP signed-note /
 * tlog-checkpoint format. The rows live in the worker's database
 * (store/auditlog.h); this module is what they mean. Appends cost O(log n):
 * the tree's right edge (one hash per set bit of the size) is kept, in
 * memory and in the database, and the root of every complete subtree is
 * stored as its append completes it, so an inclusion proof reads O(log n)
 * of them. */
#ifndef NC_AUDIT_AUDIT_H
#define NC_AUDIT_AUDIT_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/error.h"
#include "common/hash.h"
#include "store/auditlog.h"
#include "store/db.h"

#define NC_AUDIT_MAX_LEVELS NC_AUDITLOG_LEVELS
#define NC_AUDIT_MAX_ENTRY_BYTES (1024u * 1024)
#define NC_AUDIT_MAX_NOTE_BYTES 4096u

typedef struct {
    uint64_t size;                                   /* entries in the log */
    uint8_t frontier[NC_AUDIT_MAX_LEVELS][NC_SHA256_LEN]; /* level l valid iff bit l of size */
} nc_audit_tree;

void nc_audit_tree_init(nc_audit_tree *t);
void nc_audit_tree_append(nc_audit_tree *t, const uint8_t leaf[NC_SHA256_LEN]);
/* The same, and the subtrees the leaf completes: made[j] gets the node of
 * level j + 1 that ends with this leaf (made holds NC_AUDIT_MAX_LEVELS).
 * Returns how many: one per trailing 1 bit of the size before the append. */
unsigned nc_audit_tree_append_nodes(nc_audit_tree *t, const uint8_t leaf[NC_SHA256_LEN], nc_auditlog_node *made);
/* Same size and the same right edge (only its valid levels compared). */
bool nc_audit_tree_equal(const nc_audit_tree *x, const nc_audit_tree *y);
/* Root of the whole tree (sha256 of the empty string for size 0). */
void nc_audit_tree_root(const nc_audit_tree *t, uint8_t out[NC_SHA256_LEN]);
void nc_audit_leaf_hash(const void *entry, size_t len, uint8_t out[NC_SHA256_LEN]);
/* sha256(0x01 || left || right) */
void nc_audit_node_hash(const uint8_t left[NC_SHA256_LEN], const uint8_t right[NC_SHA256_LEN],
                        uint8_t out[NC_SHA256_LEN]);

/* ---- the log in the worker's database ---- */

typedef struct {
    nc_db *db;
    nc_audit_tree tree;
    char origin[96];            /* "nightcore/<worker id>" */
} nc_audit;

/* Loads the tree's right edge from the database (creating the tables is a
 * schema migration of nc_db_open). A log stored before the tree's nodes were
 * (schema 5 and older) gets them here, built from its stored leaves in one
 * transaction of its own: call it outside any. NC_ERR_MALFORMED when the
 * stored edge or leaves do not make a tree. */
NC_MUST_CHECK nc_err nc_audit_open(nc_db *db, const char *worker_id, nc_audit *out);
/* Re-reads size and right edge: after a rolled-back transaction.
 * NC_ERR_MALFORMED if the stored edge does not fit the number of entries. */
NC_MUST_CHECK nc_err nc_audit_reload(nc_audit *a);
/* Appends {"seq","time","type",...fields} inside the caller's transaction
 * (fields is borrowed; may be NULL). *seq_out gets the entry's index. */
NC_MUST_CHECK nc_err nc_audit_append(nc_audit *a, const char *type, int64_t time, json_t *fields, uint64_t *seq_out);

/* ---- reading entries by type ----
 * The log is indexed by each entry's "type" and "approval_id" (virtual
 * columns computed from the entry bytes). */
typedef nc_err (*nc_audit_entry_fn)(const json_t *entry, void *ctx);
/* Calls fn with every entry whose type is one of types (NULL-terminated), in
 * log order; stops at the first error fn returns. An entry that is not a JSON
 * object is NC_ERR_MALFORMED. */
NC_MUST_CHECK nc_err nc_audit_each_type(nc_db *db, const char *const *types, nc_audit_entry_fn fn, void *ctx);
/* How many entries of this type name this approval id. */
NC_MUST_CHECK nc_err nc_audit_count_ref(nc_db *db, const char *type, const char *approval_id, uint64_t *out);
/* The first entry of this type naming this approval id; *entry NULL if none. */
NC_MUST_CHECK nc_err nc_audit_first_ref(nc_db *db, const char *type, const char *approval_id, json_t **entry);
/* The newest such entry; *entry NULL if none. */
NC_MUST_CHECK nc_err nc_audit_last_ref(nc_db *db, const char *type, const char *approval_id, json_t **entry);

/* ---- checkpoints ---- */

/* "nightcore/w_..\n<size>\n<base64 root>\n\n— nightcore/w_.. <base64(keyhash||sig)>\n" */
NC_MUST_CHECK nc_err nc_audit_checkpoint_sign(const char *origin, uint64_t size, const uint8_t root[NC_SHA256_LEN],
                                              const unsigned char *sk /* 64 bytes */, char *out, size_t out_len);
/* The note-verifier key: "<origin>+<8 hex key hash>+<base64(0x01 || pk)>". */
NC_MUST_CHECK nc_err nc_audit_verifier_key(const char *origin, const uint8_t pk[32], char *out, size_t out_len);
typedef struct {
    char origin[96];
    uint64_t size;
    uint8_t root[NC_SHA256_LEN];
} nc_checkpoint;
/* Parses a signed checkpoint note strictly and checks its signature. */
NC_MUST_CHECK nc_err nc_audit_checkpoint_parse(const char *note, size_t len, const char *origin, const uint8_t pk[32],
                                               nc_checkpoint *out, char *msg, size_t msg_len);
/* Signs a checkpoint of the current tree, stores it, returns the note. */
NC_MUST_CHECK nc_err nc_audit_checkpoint(nc_audit *a, const unsigned char *sk, int64_t now, char *note,
                                         size_t note_len);

/* The worker's start-up check, from the stored leaf hashes (it does not
 * re-hash entries; `audit verify` does): sequence contiguous, the stored
 * right edge and tree nodes equal to the ones rebuilt from the leaves, and,
 * given a checkpoint, the same root at its size. */
NC_MUST_CHECK nc_err nc_audit_check_leaves(const nc_audit *a, const nc_checkpoint *anchor, char *msg, size_t msg_len);

/* ---- verification (docs/audit.md) ---- */
typedef struct {
    bool ok;
    uint64_t entries, checkpoints, unsigned_tail;
    int64_t bad_seq;            /* first bad entry, -1 if none */
    char error[512];
} nc_audit_report;

/* Checks the database's structure (SQLite's quick_check: a corrupt one is
 * reported, never called intact), recomputes every leaf and the tree from
 * the entries, checks every checkpoint's signature and root, and, given an
 * anchor note, that the log still extends it; then that the stored right
 * edge and tree nodes are the recomputed ones. Reads one snapshot (nested in
 * the caller's, if any). NC_OK when the verification ran: rep says what it
 * found; another code when the database could not be read. */
NC_MUST_CHECK nc_err nc_audit_verify(nc_db *db, const char *origin, const uint8_t pk[32], const char *anchor,
                                     size_t anchor_len, nc_audit_report *rep);

/* Inclusion proof of entry seq in the tree of the first `size` entries
 * (RFC 6962 PATH), as hashes; *n gets the count. Reads O(log n) stored
 * nodes, trusted as stored: check the proof against a root you trust
 * (nc_audit_inclusion_check). NC_ERR_NOT_FOUND when a node it needs is not
 * stored (size beyond the log). */
NC_MUST_CHECK nc_err nc_audit_inclusion_proof(nc_db *db, uint64_t seq, uint64_t size,
                                              uint8_t (*proof)[NC_SHA256_LEN], size_t max, size_t *n);
/* Recomputes a root from a leaf and its proof (RFC 9162 §2.1.3.2). */
bool nc_audit_inclusion_check(uint64_t seq, uint64_t size, const uint8_t leaf[NC_SHA256_LEN],
                              const uint8_t (*proof)[NC_SHA256_LEN], size_t n, const uint8_t root[NC_SHA256_LEN]);

#endif
