/* Verification of the whole log, and inclusion proofs. Reads the database
 * only; never trusts the stored right edge or roots: everything is
 * recomputed from the entries. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "audit/audit.h"
#include "common/json.h"

#define FAIL(seq, ...)                                              \
    do {                                                            \
        rep->bad_seq = (int64_t)(seq);                              \
        snprintf(rep->error, sizeof rep->error, __VA_ARGS__);       \
        goto done;                                                  \
    } while (0)

typedef struct {
    uint64_t size;
    uint8_t root[NC_SHA256_LEN];
    char *note;
} cp_row;

nc_err nc_audit_verify(nc_db *db, const char *origin, const uint8_t pk[32], const char *anchor, size_t anchor_len,
                       nc_audit_report *rep)
{
    sqlite3 *h = nc_db_handle(db);
    sqlite3_stmt *st = NULL;
    cp_row *cps = NULL;
    size_t ncps = 0, cap = 0, next_cp = 0;
    nc_audit_tree tree;
    nc_checkpoint anchor_cp;
    bool anchor_checked = false;
    char msg[256];
    nc_err err = NC_OK;

    memset(rep, 0, sizeof *rep);
    rep->bad_seq = -1;
    nc_audit_tree_init(&tree);
    /* One consistent snapshot of the log, even while the worker appends. */
    if (sqlite3_exec(h, "SAVEPOINT nc_audit_verify", NULL, NULL, NULL) != SQLITE_OK)
        return NC_ERR_IO;
    if (anchor) {
        if (nc_audit_checkpoint_parse(anchor, anchor_len, origin, pk, &anchor_cp, msg, sizeof msg) != NC_OK) {
            snprintf(rep->error, sizeof rep->error, "anchor: %s", msg);
            goto done;
        }
    }
    /* checkpoints, ascending; each must be signed by this worker and say what its row says */
    if (sqlite3_prepare_v2(h, "SELECT size, root, note FROM audit_checkpoints ORDER BY size", -1, &st, NULL) != SQLITE_OK) {
        err = NC_ERR_IO;
        goto done;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (ncps == cap) {
            cap = cap ? cap * 2 : 64;
            cp_row *n = realloc(cps, cap * sizeof *cps);
            if (!n) {
                err = NC_ERR_NOMEM;
                goto done;
            }
            cps = n;
        }
        cp_row *c = &cps[ncps++];
        c->size = (uint64_t)sqlite3_column_int64(st, 0);
        c->note = strdup((const char *)sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "");
        if (!c->note) {
            err = NC_ERR_NOMEM;
            goto done;
        }
        nc_checkpoint parsed;
        if (sqlite3_column_bytes(st, 1) != NC_SHA256_LEN ||
            nc_audit_checkpoint_parse(c->note, strlen(c->note), origin, pk, &parsed, msg, sizeof msg) != NC_OK)
            FAIL(c->size ? c->size - 1 : 0, "checkpoint at size %llu: %s", (unsigned long long)c->size,
                 sqlite3_column_bytes(st, 1) != NC_SHA256_LEN ? "bad root column" : msg);
        memcpy(c->root, sqlite3_column_blob(st, 1), NC_SHA256_LEN);
        if (parsed.size != c->size || memcmp(parsed.root, c->root, NC_SHA256_LEN) != 0)
            FAIL(c->size ? c->size - 1 : 0, "checkpoint at size %llu: the signed note says size %llu with another root",
                 (unsigned long long)c->size, (unsigned long long)parsed.size);
    }
    sqlite3_finalize(st);
    st = NULL;
    rep->checkpoints = ncps;
    while (next_cp < ncps && cps[next_cp].size == 0)
        next_cp++;   /* an empty-log checkpoint needs no entries */

    if (sqlite3_prepare_v2(h, "SELECT seq, entry, leaf FROM audit_log ORDER BY seq", -1, &st, NULL) != SQLITE_OK) {
        err = NC_ERR_IO;
        goto done;
    }
    if (anchor && anchor_cp.size == 0) {
        uint8_t root[NC_SHA256_LEN];
        nc_audit_tree_root(&tree, root);
        if (memcmp(root, anchor_cp.root, NC_SHA256_LEN) != 0)
            FAIL(0, "the anchor's empty-log root is wrong");
        anchor_checked = true;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
        if (seq != tree.size)
            FAIL(tree.size, "entry %llu is missing (the next entry is %llu): the log was edited",
                 (unsigned long long)tree.size, (unsigned long long)seq);
        const void *entry = sqlite3_column_blob(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        uint8_t leaf[NC_SHA256_LEN];
        nc_audit_leaf_hash(entry ? entry : "", len, leaf);
        if (sqlite3_column_bytes(st, 2) != NC_SHA256_LEN || memcmp(leaf, sqlite3_column_blob(st, 2), NC_SHA256_LEN) != 0)
            FAIL(seq, "entry %llu: its content does not match its leaf hash: the entry was edited",
                 (unsigned long long)seq);
        /* the entry names its own position */
        json_t *e = NULL;
        size_t clen = 0;
        char *canon = NULL;
        bool good = nc_json_parse_strict(entry ? entry : "", len, &e, NULL, 0) == NC_OK && json_is_object(e) &&
                    json_is_integer(json_object_get(e, "seq")) &&
                    (uint64_t)json_integer_value(json_object_get(e, "seq")) == seq &&
                    (canon = nc_json_canonical(e, &clen)) != NULL && clen == len && memcmp(canon, entry, len) == 0;
        free(canon);
        json_decref(e);
        if (!good)
            FAIL(seq, "entry %llu: not a canonical log entry for this position", (unsigned long long)seq);
        nc_audit_tree_append(&tree, leaf);
        rep->entries = tree.size;
        uint8_t root[NC_SHA256_LEN];
        if (next_cp < ncps && cps[next_cp].size == tree.size) {
            nc_audit_tree_root(&tree, root);
            if (memcmp(root, cps[next_cp].root, NC_SHA256_LEN) != 0)
                FAIL(seq, "checkpoint at size %llu does not match the entries before it",
                     (unsigned long long)tree.size);
            next_cp++;
        }
        if (anchor && anchor_cp.size == tree.size) {
            nc_audit_tree_root(&tree, root);
            if (memcmp(root, anchor_cp.root, NC_SHA256_LEN) != 0)
                FAIL(seq, "the log does not extend the anchor: its first %llu entries differ from the anchored ones",
                     (unsigned long long)tree.size);
            anchor_checked = true;
        }
    }
    if (rc != SQLITE_DONE) {
        err = NC_ERR_IO;
        goto done;
    }
    if (next_cp < ncps)
        FAIL(tree.size, "the log has %llu entries but a checkpoint covers %llu: entries were deleted from the end",
             (unsigned long long)tree.size, (unsigned long long)cps[next_cp].size);
    if (anchor && !anchor_checked)
        FAIL(tree.size, "the log has %llu entries, fewer than the anchor's %llu: it was truncated or rolled back",
             (unsigned long long)tree.size, (unsigned long long)anchor_cp.size);
    rep->unsigned_tail = tree.size - (ncps ? cps[ncps - 1].size : 0);
    /* The stored right edge is what appends build on: it must be the recomputed one. */
    nc_audit stored;
    stored.db = db;
    if (nc_audit_reload(&stored) != NC_OK || stored.tree.size != tree.size)
        FAIL(tree.size, "the stored tree edge does not match the entries");
    for (unsigned l = 0; l < NC_AUDIT_MAX_LEVELS; l++)
        if (((tree.size >> l) & 1) && memcmp(stored.tree.frontier[l], tree.frontier[l], NC_SHA256_LEN) != 0)
            FAIL(tree.size, "the stored tree edge does not match the entries");
    rep->ok = true;
done:
    sqlite3_finalize(st);
    sqlite3_exec(h, "RELEASE nc_audit_verify", NULL, NULL, NULL);
    for (size_t i = 0; i < ncps; i++)
        free(cps[i].note);
    free(cps);
    return err;
}

/* ---- inclusion proofs (RFC 6962 §2.1.1) ---- */

static void subtree_root(const uint8_t (*leaves)[NC_SHA256_LEN], uint64_t n, uint8_t out[NC_SHA256_LEN])
{
    nc_audit_tree t;
    nc_audit_tree_init(&t);
    for (uint64_t i = 0; i < n; i++)
        nc_audit_tree_append(&t, leaves[i]);
    nc_audit_tree_root(&t, out);
}

static nc_err path(const uint8_t (*leaves)[NC_SHA256_LEN], uint64_t m, uint64_t n, uint8_t (*proof)[NC_SHA256_LEN],
                   size_t max, size_t *count)
{
    if (n <= 1)
        return NC_OK;
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    nc_err err = m < k ? path(leaves, m, k, proof, max, count) : path(leaves + k, m - k, n - k, proof, max, count);
    if (err != NC_OK)
        return err;
    if (*count >= max)
        return NC_ERR_TOO_LARGE;
    if (m < k)
        subtree_root(leaves + k, n - k, proof[*count]);
    else
        subtree_root(leaves, k, proof[*count]);
    (*count)++;
    return NC_OK;
}

nc_err nc_audit_inclusion_proof(nc_db *db, uint64_t seq, uint64_t size, uint8_t (*proof)[NC_SHA256_LEN], size_t max,
                                size_t *n)
{
    sqlite3_stmt *st;
    *n = 0;
    if (seq >= size || size > (1ull << 40))
        return NC_ERR_USAGE;
    uint8_t (*leaves)[NC_SHA256_LEN] = malloc((size_t)size * NC_SHA256_LEN);
    if (!leaves)
        return NC_ERR_NOMEM;
    nc_err err = NC_ERR_IO;
    if (sqlite3_prepare_v2(nc_db_handle(db), "SELECT seq, leaf FROM audit_log WHERE seq < ? ORDER BY seq", -1, &st,
                           NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
    uint64_t i = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((uint64_t)sqlite3_column_int64(st, 0) != i || sqlite3_column_bytes(st, 1) != NC_SHA256_LEN)
            break;
        memcpy(leaves[i++], sqlite3_column_blob(st, 1), NC_SHA256_LEN);
    }
    sqlite3_finalize(st);
    if (i != size)
        goto done;
    err = path(leaves, seq, size, proof, max, n);
done:
    free(leaves);
    return err;
}

bool nc_audit_inclusion_check(uint64_t seq, uint64_t size, const uint8_t leaf[NC_SHA256_LEN],
                              const uint8_t (*proof)[NC_SHA256_LEN], size_t n, const uint8_t root[NC_SHA256_LEN])
{
    if (seq >= size)
        return false;
    uint64_t fn = seq, sn = size - 1;
    uint8_t r[NC_SHA256_LEN], buf[1 + 2 * NC_SHA256_LEN];
    memcpy(r, leaf, NC_SHA256_LEN);
    buf[0] = 0x01;
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return false;
        if ((fn & 1) || fn == sn) {
            memcpy(buf + 1, proof[i], NC_SHA256_LEN);
            memcpy(buf + 1 + NC_SHA256_LEN, r, NC_SHA256_LEN);
            if (!(fn & 1))
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
        } else {
            memcpy(buf + 1, r, NC_SHA256_LEN);
            memcpy(buf + 1 + NC_SHA256_LEN, proof[i], NC_SHA256_LEN);
        }
        if (nc_sha256(buf, sizeof buf, r) != NC_OK)
            return false;
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(r, root, NC_SHA256_LEN) == 0;
}
