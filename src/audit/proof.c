/* Inclusion proofs (RFC 6962 §2.1.1, checked as RFC 9162 §2.1.3.2 says),
 * made from the stored roots of complete subtrees: O(log n) rows read and
 * hashes computed, however long the log. */
#include <string.h>
#include "audit/audit.h"

/* At most one sibling per level, and only one of them (the first on the
 * right that reaches the end of the log) may be an incomplete subtree, made
 * of up to one complete subtree per level. */
#define PROOF_MAX_NODES (2 * NC_AUDIT_MAX_LEVELS)

/* The proof's hashes, each the root of a range of leaves, as the complete
 * subtrees they are made of: proof element i is the root of
 * nodes[first[i]] .. nodes[first[i + 1] - 1]. */
typedef struct {
    nc_auditlog_node nodes[PROOF_MAX_NODES];
    size_t n;
    size_t first[NC_AUDIT_MAX_LEVELS + 1];
    size_t elements;
} proof_plan;

/* Leaves [start, start + len), where start is a multiple of the smallest
 * power of two >= len: its complete subtrees, the largest first (one per bit
 * of len), are each aligned to their size, so each is a stored node. */
static nc_err plan_range(proof_plan *p, uint64_t start, uint64_t len)
{
    for (unsigned level = NC_AUDIT_MAX_LEVELS; level-- > 0;) {
        if (!((len >> level) & 1))
            continue;
        if (p->n == PROOF_MAX_NODES)
            return NC_ERR_TOO_LARGE;
        nc_auditlog_node *x = &p->nodes[p->n++];
        x->level = level;
        x->index = start >> level;
        start += (uint64_t)1 << level;
    }
    return NC_OK;
}

/* PATH(seq, D[size]) of RFC 6962 from the leaf up, level by level, the way
 * RFC 9162 §2.1.3.2 checks it: fn is the node on the path at this level and
 * sn the last node of the level. A sibling on the left is a complete
 * subtree; one on the right is complete too unless it is the last of its
 * level (then it ends at size). */
static nc_err plan_path(proof_plan *p, uint64_t seq, uint64_t size, size_t max)
{
    uint64_t fn = seq, sn = size - 1;
    nc_err err = NC_OK;
    p->n = p->elements = 0;
    for (unsigned level = 0; sn > 0 && err == NC_OK; level++, fn >>= 1, sn >>= 1) {
        uint64_t width = (uint64_t)1 << level;
        if (!(fn & 1) && fn == sn)
            continue;   /* the last node of its level has no sibling: it moves up as it is */
        if (p->elements == max)
            return NC_ERR_TOO_LARGE;
        p->first[p->elements++] = p->n;
        if (fn & 1) {
            err = plan_range(p, (fn - 1) << level, width);
        } else {
            uint64_t start = (fn + 1) << level;
            err = plan_range(p, start, size - start < width ? size - start : width);
        }
    }
    p->first[p->elements] = p->n;
    return err;
}

nc_err nc_audit_inclusion_proof(nc_db *db, uint64_t seq, uint64_t size, uint8_t (*proof)[NC_SHA256_LEN], size_t max,
                                size_t *n)
{
    proof_plan p;
    *n = 0;
    if (seq >= size || size > (uint64_t)INT64_MAX)
        return NC_ERR_USAGE;
    nc_err err = plan_path(&p, seq, size, max);
    if (err == NC_OK)
        err = nc_auditlog_nodes_get(db, p.nodes, p.n);
    if (err != NC_OK)
        return err;
    for (size_t i = 0; i < p.elements; i++) {
        /* an incomplete range's root: its subtrees folded from the right (RFC 6962 §2.1) */
        size_t last = p.first[i + 1] - 1;
        memcpy(proof[i], p.nodes[last].hash, NC_SHA256_LEN);
        for (size_t j = last; j-- > p.first[i];)
            nc_audit_node_hash(p.nodes[j].hash, proof[i], proof[i]);
    }
    *n = p.elements;
    return NC_OK;
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
