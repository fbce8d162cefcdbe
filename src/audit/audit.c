#include "audit/audit.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/json.h"

/* ---- the tree ---- */

void nc_audit_tree_init(nc_audit_tree *t)
{
    memset(t, 0, sizeof *t);
}

void nc_audit_node_hash(const uint8_t l[NC_SHA256_LEN], const uint8_t r[NC_SHA256_LEN], uint8_t out[NC_SHA256_LEN])
{
    uint8_t buf[1 + 2 * NC_SHA256_LEN];
    buf[0] = 0x01;
    memcpy(buf + 1, l, NC_SHA256_LEN);
    memcpy(buf + 1 + NC_SHA256_LEN, r, NC_SHA256_LEN);
    if (nc_sha256(buf, sizeof buf, out) != NC_OK)
        abort();   /* OpenSSL cannot hash: nothing sensible can continue */
}

void nc_audit_leaf_hash(const void *entry, size_t len, uint8_t out[NC_SHA256_LEN])
{
    /* sha256(0x00 || entry); OpenSSL's SHA-256 uses the CPU's SHA extensions */
    if (nc_sha256_prefixed(0x00, entry, len, out) != NC_OK)
        abort();   /* OpenSSL cannot hash: nothing sensible can continue */
}

unsigned nc_audit_tree_append_nodes(nc_audit_tree *t, const uint8_t leaf[NC_SHA256_LEN], nc_auditlog_node *made)
{
    uint8_t carry[NC_SHA256_LEN];
    memcpy(carry, leaf, NC_SHA256_LEN);
    unsigned level = 0;
    /* Each 1 bit at the bottom of the size is a complete subtree waiting for
     * a right sibling of its size: this leaf completes them, lowest first.
     * (Sizes stay below 2^63: the store refuses larger seqs.) */
    while (level < NC_AUDIT_MAX_LEVELS - 1 && (t->size >> level) & 1) {
        nc_audit_node_hash(t->frontier[level], carry, carry);
        level++;
        if (made) {
            made[level - 1].level = level;
            made[level - 1].index = t->size >> level;
            memcpy(made[level - 1].hash, carry, NC_SHA256_LEN);
        }
    }
    memcpy(t->frontier[level], carry, NC_SHA256_LEN);
    t->size++;
    return level;
}

void nc_audit_tree_append(nc_audit_tree *t, const uint8_t leaf[NC_SHA256_LEN])
{
    nc_audit_tree_append_nodes(t, leaf, NULL);
}

bool nc_audit_tree_equal(const nc_audit_tree *x, const nc_audit_tree *y)
{
    if (x->size != y->size)
        return false;
    for (unsigned l = 0; l < NC_AUDIT_MAX_LEVELS; l++)
        if (((x->size >> l) & 1) && memcmp(x->frontier[l], y->frontier[l], NC_SHA256_LEN) != 0)
            return false;
    return true;
}

void nc_audit_tree_root(const nc_audit_tree *t, uint8_t out[NC_SHA256_LEN])
{
    bool have = false;
    for (unsigned level = 0; level < NC_AUDIT_MAX_LEVELS; level++) {
        if (!((t->size >> level) & 1))
            continue;
        if (!have)
            memcpy(out, t->frontier[level], NC_SHA256_LEN);
        else
            nc_audit_node_hash(t->frontier[level], out, out);
        have = true;
    }
    if (!have && nc_sha256("", 0, out) != NC_OK)
        abort();
}

/* ---- the log ---- */

nc_err nc_audit_reload(nc_audit *a)
{
    uint64_t size, levels;
    nc_audit_tree_init(&a->tree);
    nc_err err = nc_auditlog_count(a->db, &size);
    if (err == NC_OK)
        err = nc_auditlog_frontier_read(a->db, a->tree.frontier, &levels);
    if (err != NC_OK)
        return err;
    /* The stored edge must be exactly the set bits of the size. */
    if (levels != size)
        return NC_ERR_MALFORMED;
    a->tree.size = size;
    return NC_OK;
}

/* Building the nodes of a log stored without them (schema 5 and older):
 * the tree rebuilt from the stored leaves, its nodes written in batches. */
#define BUILD_BATCH 4096

typedef struct {
    nc_db *db;
    nc_audit_tree tree;
    nc_auditlog_node batch[BUILD_BATCH + NC_AUDIT_MAX_LEVELS];
    size_t n;
} node_builder;

static nc_err build_leaf(const nc_auditlog_row *row, void *ctx)
{
    node_builder *b = ctx;
    if (row->seq < 0 || (uint64_t)row->seq != b->tree.size || !row->leaf)
        return NC_ERR_MALFORMED;   /* a missing or damaged row (`audit verify` names it) */
    b->n += nc_audit_tree_append_nodes(&b->tree, row->leaf, b->batch + b->n);
    if (b->n < BUILD_BATCH)
        return NC_OK;
    nc_err err = nc_auditlog_nodes_put(b->db, b->batch, b->n);
    b->n = 0;
    return err;
}

static nc_err build_nodes(nc_audit *a)
{
    uint64_t stored;
    nc_err err = nc_auditlog_nodes_count(a->db, &stored);
    /* a tree of size n has n - popcount(n) complete subtrees above its leaves */
    if (err != NC_OK || stored != 0 || a->tree.size - (uint64_t)__builtin_popcountll(a->tree.size) == 0)
        return err;
    node_builder *b = calloc(1, sizeof *b);
    if (!b)
        return NC_ERR_NOMEM;
    b->db = a->db;
    nc_audit_tree_init(&b->tree);
    const nc_auditlog_range all = {0};
    if ((err = nc_db_begin(a->db)) != NC_OK)
        goto done;
    err = nc_auditlog_each(a->db, &all, build_leaf, b);
    if (err == NC_OK)
        err = nc_auditlog_nodes_put(a->db, b->batch, b->n);
    if (err == NC_OK && !nc_audit_tree_equal(&b->tree, &a->tree))
        err = NC_ERR_MALFORMED;   /* the leaves do not make the stored edge */
    if (err == NC_OK)
        err = nc_db_commit(a->db);
    if (err != NC_OK)
        nc_db_rollback(a->db);
done:
    free(b);
    return err;
}

nc_err nc_audit_open(nc_db *db, const char *worker_id, nc_audit *out)
{
    memset(out, 0, sizeof *out);
    out->db = db;
    snprintf(out->origin, sizeof out->origin, "nightcore/%s", worker_id);
    nc_err err = nc_audit_reload(out);
    return err == NC_OK ? build_nodes(out) : err;
}

nc_err nc_audit_append(nc_audit *a, const char *type, int64_t time, json_t *fields, uint64_t *seq_out)
{
    json_t *e = fields ? json_deep_copy(fields) : json_object();
    nc_err err = NC_ERR_NOMEM;
    char *text = NULL;
    if (!e)
        return err;
    uint64_t seq = a->tree.size;
    if (json_object_set_new(e, "seq", json_integer((json_int_t)seq)) || json_object_set_new(e, "time", json_integer(time)) ||
        json_object_set_new(e, "type", json_string(type)))
        goto done;
    size_t len;
    text = nc_json_canonical(e, &len);
    if (!text)
        goto done;
    err = NC_ERR_TOO_LARGE;
    if (len > NC_AUDIT_MAX_ENTRY_BYTES)
        goto done;
    uint8_t leaf[NC_SHA256_LEN];
    nc_audit_leaf_hash(text, len, leaf);
    if ((err = nc_auditlog_append(a->db, seq, text, len, leaf)) != NC_OK)
        goto done;
    /* the entry, the subtrees it completes and the new edge: one transaction (the caller's) */
    nc_audit_tree old = a->tree;
    nc_auditlog_node made[NC_AUDIT_MAX_LEVELS];
    unsigned n = nc_audit_tree_append_nodes(&a->tree, leaf, made);
    err = nc_auditlog_nodes_put(a->db, made, n);
    if (err == NC_OK)
        err = nc_auditlog_frontier_write(a->db, (const uint8_t(*)[NC_SHA256_LEN])a->tree.frontier, a->tree.size);
    if (err != NC_OK) {
        a->tree = old;
        goto done;
    }
    if (seq_out)
        *seq_out = seq;
done:
    free(text);
    json_decref(e);
    return err;
}

/* ---- checkpoints: C2SP signed note ---- */

static void key_hash(const char *name, const uint8_t pk[32], uint8_t out[4])
{
    crypto_hash_sha256_state st;
    uint8_t h[32];
    static const uint8_t sep[2] = {0x0a, 0x01};   /* "\n", then the Ed25519 algorithm byte */
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
    crypto_hash_sha256_update(&st, sep, 2);
    crypto_hash_sha256_update(&st, pk, 32);
    crypto_hash_sha256_final(&st, h);
    memcpy(out, h, 4);
}

static int note_body(const char *origin, uint64_t size, const uint8_t root[NC_SHA256_LEN], char *out, size_t out_len)
{
    char b64[sodium_base64_ENCODED_LEN(NC_SHA256_LEN, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, root, NC_SHA256_LEN, sodium_base64_VARIANT_ORIGINAL);
    return snprintf(out, out_len, "%s\n%llu\n%s\n", origin, (unsigned long long)size, b64);
}

nc_err nc_audit_checkpoint_sign(const char *origin, uint64_t size, const uint8_t root[NC_SHA256_LEN],
                                const unsigned char *sk, char *out, size_t out_len)
{
    char body[256];
    int n = note_body(origin, size, root, body, sizeof body);
    if (n < 0 || (size_t)n >= sizeof body)
        return NC_ERR_TOO_LARGE;
    uint8_t blob[4 + crypto_sign_BYTES];
    key_hash(origin, sk + 32, blob);   /* libsodium's secret key ends with the public key */
    crypto_sign_detached(blob + 4, NULL, (const unsigned char *)body, (unsigned long long)n, sk);
    char b64[sodium_base64_ENCODED_LEN(sizeof blob, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, blob, sizeof blob, sodium_base64_VARIANT_ORIGINAL);
    int m = snprintf(out, out_len, "%s\n\xe2\x80\x94 %s %s\n", body, origin, b64);
    return m < 0 || (size_t)m >= out_len ? NC_ERR_TOO_LARGE : NC_OK;
}

nc_err nc_audit_verifier_key(const char *origin, const uint8_t pk[32], char *out, size_t out_len)
{
    uint8_t kh[4], typed[33];
    char hex[9], b64[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];
    key_hash(origin, pk, kh);
    nc_hex(kh, 4, hex);
    typed[0] = 0x01;
    memcpy(typed + 1, pk, 32);
    sodium_bin2base64(b64, sizeof b64, typed, sizeof typed, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(out, out_len, "%s+%s+%s", origin, hex, b64);
    return n < 0 || (size_t)n >= out_len ? NC_ERR_TOO_LARGE : NC_OK;
}

nc_err nc_audit_checkpoint_parse(const char *note, size_t len, const char *origin, const uint8_t pk[32],
                                 nc_checkpoint *out, char *msg, size_t msg_len)
{
    memset(out, 0, sizeof *out);
    if (len > NC_AUDIT_MAX_NOTE_BYTES || memchr(note, 0, len)) {
        snprintf(msg, msg_len, "checkpoint note too large or contains NUL");
        return NC_ERR_MALFORMED;
    }
    /* body: three lines, then a blank line, then signature lines */
    const char *sep = NULL;
    for (size_t i = 0; i + 1 < len; i++)
        if (note[i] == '\n' && note[i + 1] == '\n') {
            sep = note + i;
            break;
        }
    if (!sep) {
        snprintf(msg, msg_len, "checkpoint note has no signature block");
        return NC_ERR_MALFORMED;
    }
    size_t body_len = (size_t)(sep - note) + 1;
    char body[512];
    if (body_len >= sizeof body) {
        snprintf(msg, msg_len, "checkpoint body too long");
        return NC_ERR_MALFORMED;
    }
    memcpy(body, note, body_len);
    body[body_len] = '\0';
    char *l1 = body, *l2 = strchr(l1, '\n');
    char *l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
    char *l4 = l3 ? strchr(l3 + 1, '\n') : NULL;
    if (!l2 || !l3 || !l4 || l4[1] != '\0') {
        snprintf(msg, msg_len, "checkpoint body must be origin, size and root lines");
        return NC_ERR_MALFORMED;
    }
    *l2 = *l3 = *l4 = '\0';
    if (strcmp(l1, origin) != 0) {
        snprintf(msg, msg_len, "checkpoint is for %.100s, not %.100s", l1, origin);
        return NC_ERR_MALFORMED;
    }
    const char *sz = l2 + 1;
    size_t szl = strlen(sz);
    if (szl == 0 || szl > 20 || strspn(sz, "0123456789") != szl || (szl > 1 && sz[0] == '0')) {
        snprintf(msg, msg_len, "checkpoint size is not a decimal number");
        return NC_ERR_MALFORMED;
    }
    uint64_t size = 0;
    for (size_t i = 0; i < szl; i++) {
        if (size > (UINT64_MAX - 9) / 10) {
            snprintf(msg, msg_len, "checkpoint size out of range");
            return NC_ERR_MALFORMED;
        }
        size = size * 10 + (uint64_t)(sz[i] - '0');
    }
    size_t rl;
    if (sodium_base642bin(out->root, sizeof out->root, l3 + 1, strlen(l3 + 1), NULL, &rl, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 || rl != NC_SHA256_LEN) {
        snprintf(msg, msg_len, "checkpoint root is not base64 of 32 bytes");
        return NC_ERR_MALFORMED;
    }
    /* signature lines: "— NAME BASE64\n"; the one for our key must verify */
    const char *p = sep + 2, *end = note + len;
    uint8_t want[4];
    key_hash(origin, pk, want);
    bool verified = false;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            snprintf(msg, msg_len, "checkpoint signature line not terminated");
            return NC_ERR_MALFORMED;
        }
        size_t ll = (size_t)(nl - p);
        char line[400];
        if (ll >= sizeof line || ll < 4 || memcmp(p, "\xe2\x80\x94 ", 4) != 0) {
            snprintf(msg, msg_len, "malformed checkpoint signature line");
            return NC_ERR_MALFORMED;
        }
        memcpy(line, p + 4, ll - 4);
        line[ll - 4] = '\0';
        char *space = strrchr(line, ' ');
        if (space) {
            *space = '\0';
            uint8_t blob[4 + crypto_sign_BYTES + 8];
            size_t bl;
            if (strcmp(line, origin) == 0 &&
                sodium_base642bin(blob, sizeof blob, space + 1, strlen(space + 1), NULL, &bl, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) == 0 &&
                bl == 4 + crypto_sign_BYTES && memcmp(blob, want, 4) == 0 &&
                crypto_sign_verify_detached(blob + 4, (const unsigned char *)note, body_len, pk) == 0)
                verified = true;
        }
        p = nl + 1;
    }
    if (!verified) {
        snprintf(msg, msg_len, "no valid signature by this worker's key on the checkpoint");
        return NC_ERR_BAD_SIGNATURE;
    }
    snprintf(out->origin, sizeof out->origin, "%s", origin);
    out->size = size;
    return NC_OK;
}

nc_err nc_audit_checkpoint(nc_audit *a, const unsigned char *sk, int64_t now, char *note, size_t note_len)
{
    uint8_t root[NC_SHA256_LEN];
    nc_audit_tree_root(&a->tree, root);
    nc_err err = nc_audit_checkpoint_sign(a->origin, a->tree.size, root, sk, note, note_len);
    if (err != NC_OK)
        return err;
    return nc_auditlog_checkpoint_add(a->db, a->tree.size, root, note, now);
}

/* ---- reading entries by type ---- */

/* A stored entry as a JSON object: NULL when it is not one. */
static json_t *entry_json(const uint8_t *p, size_t n)
{
    json_t *o = NULL;
    if (nc_json_parse_strict(p ? (const char *)p : "", n, &o, NULL, 0) != NC_OK || !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

typedef struct {
    nc_audit_entry_fn fn;
    void *ctx;
} each_type_ctx;

static nc_err each_type_row(const nc_auditlog_row *row, void *ctx)
{
    each_type_ctx *c = ctx;
    json_t *o = entry_json(row->entry, row->len);
    nc_err err = o ? c->fn(o, c->ctx) : NC_ERR_MALFORMED;
    json_decref(o);
    return err;
}

nc_err nc_audit_each_type(nc_db *db, const char *const *types, nc_audit_entry_fn fn, void *ctx)
{
    each_type_ctx c = {fn, ctx};
    return nc_auditlog_each_kind(db, types, each_type_row, &c);
}

nc_err nc_audit_count_ref(nc_db *db, const char *type, const char *approval_id, uint64_t *out)
{
    return nc_auditlog_count_ref(db, type, approval_id, out);
}

static nc_err ref_entry(nc_db *db, const char *type, const char *approval_id, bool last, json_t **entry)
{
    uint8_t *bytes;
    size_t len;
    *entry = NULL;
    nc_err err = (last ? nc_auditlog_last_ref : nc_auditlog_first_ref)(db, type, approval_id, &bytes, &len);
    if (err == NC_ERR_NOT_FOUND)
        return NC_OK;
    if (err != NC_OK)
        return err;
    *entry = entry_json(bytes, len);
    free(bytes);
    return *entry ? NC_OK : NC_ERR_MALFORMED;
}

nc_err nc_audit_first_ref(nc_db *db, const char *type, const char *approval_id, json_t **entry)
{
    return ref_entry(db, type, approval_id, false, entry);
}

nc_err nc_audit_last_ref(nc_db *db, const char *type, const char *approval_id, json_t **entry)
{
    return ref_entry(db, type, approval_id, true, entry);
}
