#include "audit/audit.h"
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/json.h"

/* ---- the tree ---- */

void nc_audit_tree_init(nc_audit_tree *t)
{
    memset(t, 0, sizeof *t);
}

static void node_hash(const uint8_t l[NC_SHA256_LEN], const uint8_t r[NC_SHA256_LEN], uint8_t out[NC_SHA256_LEN])
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
    /* sha256(0x00 || entry) without copying the entry */
    crypto_hash_sha256_state st;
    static const uint8_t zero = 0;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &zero, 1);
    crypto_hash_sha256_update(&st, entry, len);
    crypto_hash_sha256_final(&st, out);
}

void nc_audit_tree_append(nc_audit_tree *t, const uint8_t leaf[NC_SHA256_LEN])
{
    uint8_t carry[NC_SHA256_LEN];
    memcpy(carry, leaf, NC_SHA256_LEN);
    unsigned level = 0;
    while (level < NC_AUDIT_MAX_LEVELS && (t->size >> level) & 1) {
        node_hash(t->frontier[level], carry, carry);
        level++;
    }
    memcpy(t->frontier[level], carry, NC_SHA256_LEN);
    t->size++;
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
            node_hash(t->frontier[level], out, out);
        have = true;
    }
    if (!have && nc_sha256("", 0, out) != NC_OK)
        abort();
}

/* ---- the log ---- */

nc_err nc_audit_reload(nc_audit *a)
{
    sqlite3 *h = nc_db_handle(a->db);
    sqlite3_stmt *st;
    nc_audit_tree_init(&a->tree);
    if (sqlite3_prepare_v2(h, "SELECT count(*) FROM audit_log", -1, &st, NULL) != SQLITE_OK)
        return NC_ERR_IO;
    if (sqlite3_step(st) == SQLITE_ROW)
        a->tree.size = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(h, "SELECT level, hash FROM audit_frontier", -1, &st, NULL) != SQLITE_OK)
        return NC_ERR_IO;
    unsigned found = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int level = sqlite3_column_int(st, 0);
        if (level < 0 || level >= 32 || sqlite3_column_bytes(st, 1) != NC_SHA256_LEN) {
            sqlite3_finalize(st);
            return NC_ERR_MALFORMED;
        }
        memcpy(a->tree.frontier[level], sqlite3_column_blob(st, 1), NC_SHA256_LEN);
        found |= 1u << level;
    }
    sqlite3_finalize(st);
    /* The stored edge must be exactly the set bits of the size. */
    for (unsigned l = 0; l < NC_AUDIT_MAX_LEVELS && l < 32; l++)
        if ((((a->tree.size >> l) & 1) != 0) != (((found >> l) & 1) != 0))
            return NC_ERR_MALFORMED;
    return NC_OK;
}

nc_err nc_audit_open(nc_db *db, const char *worker_id, nc_audit *out)
{
    memset(out, 0, sizeof *out);
    out->db = db;
    snprintf(out->origin, sizeof out->origin, "nightcore/%s", worker_id);
    return nc_audit_reload(out);
}

static nc_err save_frontier(nc_audit *a)
{
    sqlite3 *h = nc_db_handle(a->db);
    sqlite3_stmt *st;
    if (sqlite3_exec(h, "DELETE FROM audit_frontier", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(h, "INSERT INTO audit_frontier(level, hash) VALUES(?, ?)", -1, &st, NULL) != SQLITE_OK)
        return NC_ERR_IO;
    nc_err err = NC_OK;
    for (unsigned l = 0; l < NC_AUDIT_MAX_LEVELS && err == NC_OK; l++) {
        if (!((a->tree.size >> l) & 1))
            continue;
        sqlite3_bind_int(st, 1, (int)l);
        sqlite3_bind_blob(st, 2, a->tree.frontier[l], NC_SHA256_LEN, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            err = NC_ERR_IO;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return err;
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
    sqlite3_stmt *st;
    err = NC_ERR_IO;
    if (sqlite3_prepare_v2(nc_db_handle(a->db), "INSERT INTO audit_log(seq, entry, leaf) VALUES(?, ?, ?)", -1, &st,
                           NULL) != SQLITE_OK)
        goto done;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    sqlite3_bind_blob(st, 2, text, (int)len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, leaf, NC_SHA256_LEN, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        goto done;
    nc_audit_tree old = a->tree;
    nc_audit_tree_append(&a->tree, leaf);
    if (save_frontier(a) != NC_OK) {
        a->tree = old;
        goto done;
    }
    if (seq_out)
        *seq_out = seq;
    err = NC_OK;
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
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(nc_db_handle(a->db),
                           "INSERT OR IGNORE INTO audit_checkpoints(size, root, note, created_at) VALUES(?, ?, ?, ?)", -1,
                           &st, NULL) != SQLITE_OK)
        return NC_ERR_IO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)a->tree.size);
    sqlite3_bind_blob(st, 2, root, NC_SHA256_LEN, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, note, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    err = sqlite3_step(st) == SQLITE_DONE ? NC_OK : NC_ERR_IO;
    sqlite3_finalize(st);
    return err;
}

nc_err nc_audit_check_leaves(const nc_audit *a, const nc_checkpoint *anchor, char *msg, size_t msg_len)
{
    sqlite3 *h = nc_db_handle(a->db);
    sqlite3_stmt *st;
    nc_audit_tree t;
    uint8_t root[NC_SHA256_LEN];
    bool anchor_seen = !anchor || anchor->size == 0;
    nc_err err = NC_ERR_MALFORMED;
    nc_audit_tree_init(&t);
    if (sqlite3_prepare_v2(h, "SELECT seq, leaf FROM audit_log ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
        return NC_ERR_IO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((uint64_t)sqlite3_column_int64(st, 0) != t.size || sqlite3_column_bytes(st, 1) != NC_SHA256_LEN) {
            snprintf(msg, msg_len, "entry %llu is missing or damaged", (unsigned long long)t.size);
            goto done;
        }
        nc_audit_tree_append(&t, sqlite3_column_blob(st, 1));
        if (anchor && t.size == anchor->size) {
            nc_audit_tree_root(&t, root);
            if (memcmp(root, anchor->root, NC_SHA256_LEN) != 0) {
                snprintf(msg, msg_len, "the first %llu entries are not the ones the last checkpoint signed",
                         (unsigned long long)t.size);
                goto done;
            }
            anchor_seen = true;
        }
    }
    if (rc != SQLITE_DONE) {
        err = NC_ERR_IO;
        goto done;
    }
    if (!anchor_seen) {
        snprintf(msg, msg_len, "the log has %llu entries, fewer than the %llu the last checkpoint signed",
                 (unsigned long long)t.size, (unsigned long long)anchor->size);
        goto done;
    }
    if (t.size != a->tree.size) {
        snprintf(msg, msg_len, "the stored tree covers %llu entries, the log has %llu",
                 (unsigned long long)a->tree.size, (unsigned long long)t.size);
        goto done;
    }
    for (unsigned l = 0; l < NC_AUDIT_MAX_LEVELS; l++)
        if (((t.size >> l) & 1) && memcmp(t.frontier[l], a->tree.frontier[l], NC_SHA256_LEN) != 0) {
            snprintf(msg, msg_len, "the stored tree does not match the entries' leaf hashes");
            goto done;
        }
    err = NC_OK;
done:
    sqlite3_finalize(st);
    return err;
}

/* ---- reading entries by type ---- */

static json_t *entry_json(sqlite3_stmt *st, int col)
{
    json_t *o = NULL;
    const void *p = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (nc_json_parse_strict(p ? p : "", n, &o, NULL, 0) != NC_OK || !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

nc_err nc_audit_each_type(nc_db *db, const char *const *types, nc_audit_entry_fn fn, void *ctx)
{
    for (const char *const *t = types; *t; t++)
        if (strlen(*t) > 64)
            return NC_ERR_USAGE;
    /* One query over all the types, in log order. */
    char sql[512] = "SELECT entry FROM audit_log WHERE kind IN (";
    size_t n = strlen(sql), k = 0;
    for (const char *const *t = types; *t; t++, k++) {
        if (k >= 8)
            return NC_ERR_USAGE;
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s?", k ? "," : "");
    }
    snprintf(sql + n, sizeof sql - n, ") ORDER BY seq");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(nc_db_handle(db), sql, -1, &st, NULL) != SQLITE_OK)
        return NC_ERR_IO;
    k = 0;
    for (const char *const *t = types; *t; t++)
        sqlite3_bind_text(st, (int)++k, *t, -1, SQLITE_STATIC);
    nc_err err = NC_OK;
    int rc;
    while (err == NC_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *o = entry_json(st, 0);
        err = o ? fn(o, ctx) : NC_ERR_MALFORMED;
        json_decref(o);
    }
    if (err == NC_OK && rc != SQLITE_DONE)
        err = NC_ERR_IO;
    sqlite3_finalize(st);
    return err;
}

nc_err nc_audit_count_ref(nc_db *db, const char *type, const char *approval_id, uint64_t *out)
{
    sqlite3_stmt *st;
    *out = 0;
    if (sqlite3_prepare_v2(nc_db_handle(db), "SELECT count(*) FROM audit_log WHERE kind=? AND ref=?", -1, &st,
                           NULL) != SQLITE_OK)
        return NC_ERR_IO;
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, approval_id, -1, SQLITE_STATIC);
    nc_err err = NC_ERR_IO;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = (uint64_t)sqlite3_column_int64(st, 0);
        err = NC_OK;
    }
    sqlite3_finalize(st);
    return err;
}

static nc_err ref_entry(nc_db *db, const char *type, const char *approval_id, bool last, json_t **entry)
{
    sqlite3_stmt *st;
    *entry = NULL;
    if (sqlite3_prepare_v2(nc_db_handle(db),
                           last ? "SELECT entry FROM audit_log WHERE kind=? AND ref=? ORDER BY seq DESC LIMIT 1"
                                : "SELECT entry FROM audit_log WHERE kind=? AND ref=? ORDER BY seq LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return NC_ERR_IO;
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, approval_id, -1, SQLITE_STATIC);
    nc_err err = NC_OK;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *entry = entry_json(st, 0);
        if (!*entry)
            err = NC_ERR_MALFORMED;
    } else if (rc != SQLITE_DONE) {
        err = NC_ERR_IO;
    }
    sqlite3_finalize(st);
    return err;
}

nc_err nc_audit_first_ref(nc_db *db, const char *type, const char *approval_id, json_t **entry)
{
    return ref_entry(db, type, approval_id, false, entry);
}

nc_err nc_audit_last_ref(nc_db *db, const char *type, const char *approval_id, json_t **entry)
{
    return ref_entry(db, type, approval_id, true, entry);
}
