/* Verification of the whole log (`nightcore audit verify`) and the worker's
 * start-up check. Reads the database only and trusts nothing stored but the
 * entries: the tree is rebuilt from them (at start-up, from the stored
 * leaves), every checkpoint is held against it, and then so are the stored
 * right edge and tree nodes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "audit/audit.h"
#include "common/json.h"

/* ---- the stored nodes, beside a tree rebuilt from its leaves ---- */

/* Each node an append completes must be the next stored one of its level,
 * and in the end no other may be stored. The first difference is kept and
 * ends the walk; it is reported after what signed checkpoints can show,
 * which says more. A log whose nodes are not built yet (none stored: the
 * worker builds them at its next start) has nothing to compare. */
typedef struct {
    nc_auditlog_nodes *stored;   /* NULL: nothing to compare */
    uint64_t matched;
    bool differs;
    int64_t bad_seq;
    char why[256];
} node_walk;

static nc_err walk_begin(nc_db *db, uint64_t size, node_walk *w)
{
    uint64_t n;
    memset(w, 0, sizeof *w);
    w->bad_seq = -1;
    nc_err err = nc_auditlog_nodes_open(db, &w->stored);
    if (err == NC_ERR_NOT_FOUND)
        return NC_OK;   /* an older schema, read-only: no node table */
    if (err == NC_OK && size >= 2 && (err = nc_auditlog_nodes_count(db, &n)) == NC_OK && n == 0) {
        nc_auditlog_nodes_close(w->stored);
        w->stored = NULL;
    }
    return err;
}

static void walk_differs(node_walk *w, unsigned level, uint64_t index, const char *what)
{
    unsigned long long first = (unsigned long long)(index << level), last = first + ((1ull << level) - 1);
    w->differs = true;
    w->bad_seq = (int64_t)first;
    snprintf(w->why, sizeof w->why, "the stored tree node over entries %llu to %llu %s", first, last, what);
}

/* After the append that completed these nodes. A read error is returned; a
 * difference is kept in w. */
static nc_err walk_step(node_walk *w, const nc_auditlog_node *made, unsigned n)
{
    for (unsigned j = 0; j < n && w->stored && !w->differs; j++) {
        nc_auditlog_node got = {.level = made[j].level};
        nc_err err = nc_auditlog_nodes_next(w->stored, &got);
        if (err == NC_ERR_NOT_FOUND || (err == NC_OK && got.index > made[j].index))
            walk_differs(w, made[j].level, made[j].index, "is missing: the stored nodes were edited");
        else if (err == NC_ERR_MALFORMED || (err == NC_OK && got.index < made[j].index))
            walk_differs(w, made[j].level, made[j].index, "is damaged: the stored nodes were edited");
        else if (err != NC_OK)
            return err;
        else if (memcmp(got.hash, made[j].hash, NC_SHA256_LEN) != 0)
            walk_differs(w, made[j].level, made[j].index, "does not match them: the stored nodes were edited");
        else
            w->matched++;
    }
    return NC_OK;
}

/* After the last append: no node stored beyond the ones matched. */
static nc_err walk_end(nc_db *db, node_walk *w, uint64_t size)
{
    uint64_t n;
    if (!w->stored || w->differs)
        return NC_OK;
    nc_err err = nc_auditlog_nodes_count(db, &n);
    if (err == NC_OK && n != w->matched) {
        w->differs = true;
        w->bad_seq = (int64_t)size;
        snprintf(w->why, sizeof w->why, "the stored tree has %llu nodes its %llu entries do not make: nodes were "
                 "added, or entries deleted from the end", (unsigned long long)(n - w->matched),
                 (unsigned long long)size);
    }
    return err;
}

static void walk_close(node_walk *w)
{
    nc_auditlog_nodes_close(w->stored);
    w->stored = NULL;
}

/* ---- verification ---- */

typedef struct {
    uint64_t size;
    uint8_t root[NC_SHA256_LEN];
} cp_row;

typedef struct {
    nc_db *db;
    const char *origin;
    const uint8_t *pk;
    const nc_checkpoint *anchor;   /* NULL: none */
    nc_audit_report *rep;
    bool found;                    /* rep says what is wrong */
    cp_row *cps;
    size_t ncps, cap, next_cp;
    bool anchor_checked;
    nc_audit_tree tree;
    node_walk nodes;
} verifier;

/* What is wrong, at which entry (-1: none in particular). Returns the code
 * that stops a read. */
static nc_err found(verifier *v, int64_t seq, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static nc_err found(verifier *v, int64_t seq, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->rep->error, sizeof v->rep->error, fmt, ap);
    va_end(ap);
    v->rep->bad_seq = seq;
    v->found = true;
    return NC_ERR_MALFORMED;
}

/* Each checkpoint must be signed by this worker and say what its row says. */
static nc_err check_checkpoint(const nc_auditlog_checkpoint *cp, void *ctx)
{
    verifier *v = ctx;
    unsigned long long size = (unsigned long long)cp->size;
    int64_t at = cp->size ? (int64_t)(cp->size - 1) : 0;
    nc_checkpoint parsed;
    char msg[256];
    if (!cp->root)
        return found(v, at, "checkpoint at size %llu: bad root column", size);
    if (nc_audit_checkpoint_parse(cp->note, cp->note_len, v->origin, v->pk, &parsed, msg, sizeof msg) != NC_OK)
        return found(v, at, "checkpoint at size %llu: %s", size, msg);
    if (parsed.size != cp->size || memcmp(parsed.root, cp->root, NC_SHA256_LEN) != 0)
        return found(v, at, "checkpoint at size %llu: the signed note says size %llu with another root", size,
                     (unsigned long long)parsed.size);
    if (v->ncps == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        cp_row *n = realloc(v->cps, cap * sizeof *n);
        if (!n)
            return NC_ERR_NOMEM;
        v->cps = n;
        v->cap = cap;
    }
    v->cps[v->ncps].size = cp->size;
    memcpy(v->cps[v->ncps].root, cp->root, NC_SHA256_LEN);
    v->ncps++;
    return NC_OK;
}

/* An entry: in its place, hashing to its leaf, canonical; then the tree
 * with it must make the checkpoint and anchor roots of this size. */
static nc_err check_entry(const nc_auditlog_row *row, void *ctx)
{
    verifier *v = ctx;
    uint64_t seq = v->tree.size;
    unsigned long long s = (unsigned long long)seq;
    if (row->seq != (int64_t)seq)
        return found(v, (int64_t)seq, "entry %llu is missing (the next entry is %lld): the log was edited", s,
                     (long long)row->seq);
    uint8_t leaf[NC_SHA256_LEN];
    nc_audit_leaf_hash(row->entry, row->len, leaf);
    if (!row->leaf || memcmp(leaf, row->leaf, NC_SHA256_LEN) != 0)
        return found(v, (int64_t)seq, "entry %llu: its content does not match its leaf hash: the entry was edited", s);
    /* the entry names its own position */
    json_t *e = NULL;
    bool good = nc_json_parse_strict((const char *)row->entry, row->len, &e, NULL, 0) == NC_OK && json_is_object(e) &&
                json_is_integer(json_object_get(e, "seq")) &&
                (uint64_t)json_integer_value(json_object_get(e, "seq")) == seq &&
                nc_json_is_canonical(e, (const char *)row->entry, row->len);
    json_decref(e);
    if (!good)
        return found(v, (int64_t)seq, "entry %llu: not a canonical log entry for this position", s);
    nc_auditlog_node made[NC_AUDIT_MAX_LEVELS];
    unsigned n = nc_audit_tree_append_nodes(&v->tree, leaf, made);
    nc_err err = walk_step(&v->nodes, made, n);
    if (err != NC_OK)
        return err;
    v->rep->entries = v->tree.size;
    uint8_t root[NC_SHA256_LEN];
    if (v->next_cp < v->ncps && v->cps[v->next_cp].size == v->tree.size) {
        nc_audit_tree_root(&v->tree, root);
        if (memcmp(root, v->cps[v->next_cp].root, NC_SHA256_LEN) != 0)
            return found(v, (int64_t)seq, "checkpoint at size %llu does not match the entries before it",
                         (unsigned long long)v->tree.size);
        v->next_cp++;
    }
    if (v->anchor && v->anchor->size == v->tree.size) {
        nc_audit_tree_root(&v->tree, root);
        if (memcmp(root, v->anchor->root, NC_SHA256_LEN) != 0)
            return found(v, (int64_t)seq,
                         "the log does not extend the anchor: its first %llu entries differ from the anchored ones",
                         (unsigned long long)v->tree.size);
        v->anchor_checked = true;
    }
    return NC_OK;
}

static nc_err corrupt(verifier *v, const char *what)
{
    return found(v, -1, "the database is corrupt: %.380s (keep a copy of the state directory, then restore it from a "
                 "backup)", what);
}

/* Everything, in one snapshot. NC_ERR_MALFORMED with v->found: a finding. */
static nc_err verify_snapshot(verifier *v)
{
    char msg[400];
    nc_err err = nc_db_quick_check(v->db, msg, sizeof msg);
    if (err == NC_ERR_CORRUPT)
        return corrupt(v, msg);
    if (err != NC_OK)
        return err;
    /* checkpoints, ascending */
    if ((err = nc_auditlog_checkpoint_each(v->db, check_checkpoint, v)) != NC_OK)
        return err;
    v->rep->checkpoints = v->ncps;
    while (v->next_cp < v->ncps && v->cps[v->next_cp].size == 0)
        v->next_cp++;   /* an empty-log checkpoint needs no entries */
    if (v->anchor && v->anchor->size == 0) {
        uint8_t root[NC_SHA256_LEN];
        nc_audit_tree_root(&v->tree, root);
        if (memcmp(root, v->anchor->root, NC_SHA256_LEN) != 0)
            return found(v, 0, "the anchor's empty-log root is wrong");
        v->anchor_checked = true;
    }
    /* the entries, in order */
    uint64_t stored_size;
    if ((err = nc_auditlog_count(v->db, &stored_size)) != NC_OK ||
        (err = walk_begin(v->db, stored_size, &v->nodes)) != NC_OK)
        return err;
    const nc_auditlog_range all = {.entries = true};
    if ((err = nc_auditlog_each(v->db, &all, check_entry, v)) != NC_OK)
        return err;
    unsigned long long size = (unsigned long long)v->tree.size;
    if (v->next_cp < v->ncps)
        return found(v, (int64_t)size,
                     "the log has %llu entries but a checkpoint covers %llu: entries were deleted from the end", size,
                     (unsigned long long)v->cps[v->next_cp].size);
    if (v->anchor && !v->anchor_checked)
        return found(v, (int64_t)size,
                     "the log has %llu entries, fewer than the anchor's %llu: it was truncated or rolled back", size,
                     (unsigned long long)v->anchor->size);
    v->rep->unsigned_tail = v->tree.size - (v->ncps ? v->cps[v->ncps - 1].size : 0);
    /* The stored right edge is what appends build on; the stored nodes are
     * what proofs are made of: both must be the recomputed ones. */
    nc_audit stored = {.db = v->db};
    err = nc_audit_reload(&stored);
    if (err == NC_ERR_MALFORMED || (err == NC_OK && !nc_audit_tree_equal(&stored.tree, &v->tree)))
        return found(v, (int64_t)size, "the stored tree edge does not match the entries");
    if (err != NC_OK || (err = walk_end(v->db, &v->nodes, v->tree.size)) != NC_OK)
        return err;
    if (v->nodes.differs)
        return found(v, v->nodes.bad_seq, "%s", v->nodes.why);
    v->rep->ok = true;
    return NC_OK;
}

nc_err nc_audit_verify(nc_db *db, const char *origin, const uint8_t pk[32], const char *anchor, size_t anchor_len,
                       nc_audit_report *rep)
{
    nc_checkpoint anchor_cp;
    char msg[256];
    verifier v = {.db = db, .origin = origin, .pk = pk, .rep = rep};
    memset(rep, 0, sizeof *rep);
    rep->bad_seq = -1;
    nc_audit_tree_init(&v.tree);
    if (anchor) {
        if (nc_audit_checkpoint_parse(anchor, anchor_len, origin, pk, &anchor_cp, msg, sizeof msg) != NC_OK) {
            snprintf(rep->error, sizeof rep->error, "anchor: %s", msg);
            return NC_OK;
        }
        v.anchor = &anchor_cp;
    }
    /* One consistent snapshot of the log, even while the worker appends. */
    nc_err err = nc_db_snapshot_begin(db);
    if (err == NC_OK) {
        err = verify_snapshot(&v);
        walk_close(&v.nodes);
        nc_db_snapshot_end(db);
    }
    free(v.cps);
    if (v.found)
        return NC_OK;
    if (err == NC_ERR_CORRUPT) {
        /* a page the quick check passed, and a read then failed on */
        corrupt(&v, nc_db_errmsg(db));
        return NC_OK;
    }
    return err;
}

/* ---- the worker's start-up check ---- */

typedef struct {
    nc_audit_tree tree;
    const nc_checkpoint *anchor;
    bool anchor_seen;
    node_walk nodes;
    char *msg;
    size_t msg_len;
} leaf_check;

static nc_err check_leaf(const nc_auditlog_row *row, void *ctx)
{
    leaf_check *c = ctx;
    if (row->seq != (int64_t)c->tree.size || !row->leaf) {
        snprintf(c->msg, c->msg_len, "entry %llu is missing or damaged", (unsigned long long)c->tree.size);
        return NC_ERR_MALFORMED;
    }
    nc_auditlog_node made[NC_AUDIT_MAX_LEVELS];
    unsigned n = nc_audit_tree_append_nodes(&c->tree, row->leaf, made);
    nc_err err = walk_step(&c->nodes, made, n);
    if (err != NC_OK)
        return err;
    if (c->anchor && c->tree.size == c->anchor->size) {
        uint8_t root[NC_SHA256_LEN];
        nc_audit_tree_root(&c->tree, root);
        if (memcmp(root, c->anchor->root, NC_SHA256_LEN) != 0) {
            snprintf(c->msg, c->msg_len, "the first %llu entries are not the ones the last checkpoint signed",
                     (unsigned long long)c->tree.size);
            return NC_ERR_MALFORMED;
        }
        c->anchor_seen = true;
    }
    return NC_OK;
}

nc_err nc_audit_check_leaves(const nc_audit *a, const nc_checkpoint *anchor, char *msg, size_t msg_len)
{
    leaf_check c = {.anchor = anchor, .anchor_seen = !anchor || anchor->size == 0, .msg = msg, .msg_len = msg_len};
    const nc_auditlog_range leaves = {0};
    msg[0] = '\0';
    nc_audit_tree_init(&c.tree);
    nc_err err = walk_begin(a->db, a->tree.size, &c.nodes);
    if (err == NC_OK)
        err = nc_auditlog_each(a->db, &leaves, check_leaf, &c);
    if (err == NC_OK && !c.anchor_seen) {
        snprintf(msg, msg_len, "the log has %llu entries, fewer than the %llu the last checkpoint signed",
                 (unsigned long long)c.tree.size, (unsigned long long)anchor->size);
        err = NC_ERR_MALFORMED;
    }
    if (err == NC_OK && c.tree.size != a->tree.size) {
        snprintf(msg, msg_len, "the stored tree covers %llu entries, the log has %llu",
                 (unsigned long long)a->tree.size, (unsigned long long)c.tree.size);
        err = NC_ERR_MALFORMED;
    }
    if (err == NC_OK && !nc_audit_tree_equal(&c.tree, &a->tree)) {
        snprintf(msg, msg_len, "the stored tree does not match the entries' leaf hashes");
        err = NC_ERR_MALFORMED;
    }
    if (err == NC_OK)
        err = walk_end(a->db, &c.nodes, c.tree.size);
    if (err == NC_OK && c.nodes.differs) {
        snprintf(msg, msg_len, "%s", c.nodes.why);
        err = NC_ERR_MALFORMED;
    }
    if (err != NC_OK && !msg[0])
        snprintf(msg, msg_len, "cannot read the log: %s", nc_db_errmsg(a->db));
    walk_close(&c.nodes);
    return err;
}
