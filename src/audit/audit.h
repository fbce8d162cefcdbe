/* The tamper-evident audit log (docs/audit.md): an append-only list of
 * canonical JSON entries in SQLite, an RFC 6962 Merkle tree over them
 * (leaf = sha256(0x00 || entry), node = sha256(0x01 || left || right)), and
 * checkpoints signed by the worker's Ed25519 key in the C2SP signed-note /
 * tlog-checkpoint format. Appends cost O(log n): the tree's right edge (one
 * hash per set bit of the size) is kept, in memory and in the database. */
#ifndef NC_AUDIT_AUDIT_H
#define NC_AUDIT_AUDIT_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/error.h"
#include "common/hash.h"
#include "store/db.h"

#define NC_AUDIT_MAX_LEVELS 64
#define NC_AUDIT_MAX_ENTRY_BYTES (1024u * 1024)
#define NC_AUDIT_MAX_NOTE_BYTES 4096u

typedef struct {
    uint64_t size;                                   /* entries in the log */
    uint8_t frontier[NC_AUDIT_MAX_LEVELS][NC_SHA256_LEN]; /* level l valid iff bit l of size */
} nc_audit_tree;

void nc_audit_tree_init(nc_audit_tree *t);
void nc_audit_tree_append(nc_audit_tree *t, const uint8_t leaf[NC_SHA256_LEN]);
/* Root of the whole tree (sha256 of the empty string for size 0). */
void nc_audit_tree_root(const nc_audit_tree *t, uint8_t out[NC_SHA256_LEN]);
void nc_audit_leaf_hash(const void *entry, size_t len, uint8_t out[NC_SHA256_LEN]);

/* ---- the log in the worker's database ---- */

typedef struct {
    nc_db *db;
    nc_audit_tree tree;
    char origin[96];            /* "nightcore/<worker id>" */
} nc_audit;

/* Loads the tree's right edge from the database (creating the tables is a
 * schema migration of nc_db_open). */
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
 * right edge equal to the one rebuilt from the leaves, and, given a
 * checkpoint, the same root at its size. */
NC_MUST_CHECK nc_err nc_audit_check_leaves(const nc_audit *a, const nc_checkpoint *anchor, char *msg, size_t msg_len);

/* ---- verification (docs/audit.md) ---- */
typedef struct {
    bool ok;
    uint64_t entries, checkpoints, unsigned_tail;
    int64_t bad_seq;            /* first bad entry, -1 if none */
    char error[512];
} nc_audit_report;

/* Recomputes every leaf and the tree, checks every checkpoint's signature and
 * root, and, given an anchor note, that the log still extends it. */
NC_MUST_CHECK nc_err nc_audit_verify(nc_db *db, const char *origin, const uint8_t pk[32], const char *anchor,
                                     size_t anchor_len, nc_audit_report *rep);

/* Inclusion proof of entry seq in the tree of the first `size` entries
 * (RFC 6962 PATH), as hashes; *n gets the count. */
NC_MUST_CHECK nc_err nc_audit_inclusion_proof(nc_db *db, uint64_t seq, uint64_t size,
                                              uint8_t (*proof)[NC_SHA256_LEN], size_t max, size_t *n);
/* Recomputes a root from a leaf and its proof (RFC 9162 §2.1.3.2). */
bool nc_audit_inclusion_check(uint64_t seq, uint64_t size, const uint8_t leaf[NC_SHA256_LEN],
                              const uint8_t (*proof)[NC_SHA256_LEN], size_t n, const uint8_t root[NC_SHA256_LEN]);

#endif
