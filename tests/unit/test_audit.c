/* The audit log: the Merkle tree against the RFC 6962 definition, inclusion
 * proofs (made from the stored nodes, compared with the definition's),
 * signed checkpoints, the nodes of a log stored before them, and
 * verification of a log in SQLite against every kind of tampering and a
 * corrupt file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include <sqlite3.h>
#include <cmocka.h>
#include "audit/audit.h"

/* MTH by the definition (RFC 6962 §2.1), recursively. */
static void mth(const uint8_t (*leaves)[32], size_t n, uint8_t out[32])
{
    if (n == 0) {
        assert_int_equal(nc_sha256("", 0, out), NC_OK);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[0], 32);
        return;
    }
    size_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    uint8_t buf[65];
    buf[0] = 1;
    mth(leaves, k, buf + 1);
    mth(leaves + k, n - k, buf + 33);
    assert_int_equal(nc_sha256(buf, sizeof buf, out), NC_OK);
}

static void test_tree_matches_definition_and_proofs(void **state)
{
    (void)state;
    uint8_t leaves[70][32];
    nc_audit_tree t;
    nc_audit_tree_init(&t);
    for (size_t n = 0; n <= 70; n++) {
        uint8_t want[32], got[32];
        mth(leaves, n, want);
        nc_audit_tree_root(&t, got);
        assert_memory_equal(want, got, 32);
        if (n == 70)
            break;
        char e[32];
        int len = snprintf(e, sizeof e, "entry %zu", n);
        nc_audit_leaf_hash(e, (size_t)len, leaves[n]);
        nc_audit_tree_append(&t, leaves[n]);
    }
    /* leaf hash is sha256(0x00 || entry) */
    uint8_t manual[32], buf[8] = {0, 'e', 'n', 't', 'r', 'y', ' ', '0'};
    assert_int_equal(nc_sha256(buf, sizeof buf, manual), NC_OK);
    assert_memory_equal(manual, leaves[0], 32);
}

static void test_checkpoint_notes(void **state)
{
    (void)state;
    unsigned char pk[32], sk[64], pk2[32], sk2[64];
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    uint8_t root[32];
    memset(root, 7, sizeof root);
    char note[1024], msg[256];
    assert_int_equal(nc_audit_checkpoint_sign("nightcore/w_test", 42, root, sk, note, sizeof note), NC_OK);
    assert_non_null(strstr(note, "nightcore/w_test\n42\n"));
    assert_non_null(strstr(note, "\n\n\xe2\x80\x94 nightcore/w_test "));
    nc_checkpoint cp;
    assert_int_equal(nc_audit_checkpoint_parse(note, strlen(note), "nightcore/w_test", pk, &cp, msg, sizeof msg), NC_OK);
    assert_int_equal(cp.size, 42);
    assert_memory_equal(cp.root, root, 32);
    /* another key, another origin, any changed byte: refused */
    assert_int_not_equal(nc_audit_checkpoint_parse(note, strlen(note), "nightcore/w_test", pk2, &cp, msg, sizeof msg), NC_OK);
    assert_int_not_equal(nc_audit_checkpoint_parse(note, strlen(note), "nightcore/w_other", pk, &cp, msg, sizeof msg), NC_OK);
    for (size_t i = 0; i < strlen(note); i++) {
        char copy[1024];
        memcpy(copy, note, strlen(note) + 1);
        copy[i] ^= 1;
        assert_int_not_equal(nc_audit_checkpoint_parse(copy, strlen(copy), "nightcore/w_test", pk, &cp, msg, sizeof msg), NC_OK);
    }
    char key[256];
    assert_int_equal(nc_audit_verifier_key("nightcore/w_test", pk, key, sizeof key), NC_OK);
    assert_true(strncmp(key, "nightcore/w_test+", 17) == 0);
    assert_int_equal(strlen(key), 17 + 8 + 1 + 44);
}

typedef struct {
    char dir[64];
    char path[128];
    nc_db *db;
    nc_audit a;
    unsigned char pk[32], sk[64];
} fixture_log;

static void log_open(fixture_log *f)
{
    char msg[256];
    snprintf(f->dir, sizeof f->dir, "/tmp/nc-test-audit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/db", f->dir);
    assert_int_equal(nc_db_open(f->path, &f->db, msg, sizeof msg), NC_OK);
    assert_int_equal(nc_audit_open(f->db, "w_test", &f->a), NC_OK);
    crypto_sign_keypair(f->pk, f->sk);
}

static void log_fill(fixture_log *f, uint64_t n, uint64_t checkpoint_every)
{
    char note[1024];
    assert_int_equal(nc_db_begin(f->db), NC_OK);
    for (uint64_t i = 0; i < n; i++) {
        json_t *fields = json_pack("{s:s, s:I}", "name", "hello", "n", (json_int_t)i);
        assert_int_equal(nc_audit_append(&f->a, "run.end", 1795000000 + (int64_t)i, fields, NULL), NC_OK);
        json_decref(fields);
        if (checkpoint_every && (i + 1) % checkpoint_every == 0)
            assert_int_equal(nc_audit_checkpoint(&f->a, f->sk, 0, note, sizeof note), NC_OK);
    }
    assert_int_equal(nc_db_commit(f->db), NC_OK);
}

static void log_close(fixture_log *f)
{
    nc_db_close(f->db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
}

static nc_audit_report verify(fixture_log *f, const char *anchor)
{
    nc_audit_report rep;
    assert_int_equal(nc_audit_verify(f->db, "nightcore/w_test", f->pk, anchor, anchor ? strlen(anchor) : 0, &rep), NC_OK);
    return rep;
}

/* An edit behind the store's back, on a connection of its own, as anyone
 * who can write the file could make. */
static void exec_sql(fixture_log *f, const char *sql)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    sqlite3_close(h);
}

typedef struct {
    uint8_t (*leaves)[32];
    size_t n, max;
} leaf_list;

static nc_err collect_leaf(const nc_auditlog_row *row, void *ctx)
{
    leaf_list *l = ctx;
    assert_non_null(row->leaf);
    assert_true(l->n < l->max);
    memcpy(l->leaves[l->n++], row->leaf, 32);
    return NC_OK;
}

/* The stored leaves of entries [0, size) (size 0: all), through the store. */
static size_t read_leaves(fixture_log *f, uint64_t size, uint8_t (*leaves)[32], size_t max)
{
    leaf_list l = {leaves, 0, max};
    nc_auditlog_range r = {.to = size};
    assert_int_equal(nc_auditlog_each(f->db, &r, collect_leaf, &l), NC_OK);
    return l.n;
}

static void test_intact_log_and_proofs(void **state)
{
    (void)state;
    fixture_log f;
    log_open(&f);
    log_fill(&f, 37, 10);
    nc_audit_report rep = verify(&f, NULL);
    assert_true(rep.ok);
    assert_int_equal(rep.entries, 37);
    assert_int_equal(rep.checkpoints, 3);
    assert_int_equal(rep.unsigned_tail, 7);
    /* every entry's inclusion proof checks against the root at every size */
    uint8_t proof[64][32], root[32], leaf[32];
    for (uint64_t size = 1; size <= 37; size += 6) {
        nc_audit_tree t;
        nc_audit_tree_init(&t);
        uint8_t leaves[64][32];
        size_t k = read_leaves(&f, size, leaves, 64);
        assert_int_equal(k, size);
        for (size_t i = 0; i < k; i++)
            nc_audit_tree_append(&t, leaves[i]);
        nc_audit_tree_root(&t, root);
        for (uint64_t seq = 0; seq < size; seq++) {
            size_t n;
            assert_int_equal(nc_audit_inclusion_proof(f.db, seq, size, proof, 64, &n), NC_OK);
            memcpy(leaf, leaves[seq], 32);
            assert_true(nc_audit_inclusion_check(seq, size, leaf, (const uint8_t(*)[32])proof, n, root));
            leaf[0] ^= 1;
            assert_false(nc_audit_inclusion_check(seq, size, leaf, (const uint8_t(*)[32])proof, n, root));
            if (n) {
                leaf[0] ^= 1;
                proof[0][5] ^= 1;
                assert_false(nc_audit_inclusion_check(seq, size, leaf, (const uint8_t(*)[32])proof, n, root));
            }
        }
    }
    /* appends continue across a reopen (the stored right edge) */
    assert_int_equal(nc_audit_open(f.db, "w_test", &f.a), NC_OK);
    log_fill(&f, 5, 0);
    assert_true(verify(&f, NULL).ok);
    log_close(&f);
}

static void test_tampering_detected(void **state)
{
    (void)state;
    struct {
        const char *what, *sql;
        int64_t bad_seq;
    } cases[] = {
        {"edited entry", "UPDATE audit_log SET entry=replace(entry, 'hello', 'HELLO') WHERE seq=12", 12},
        {"edited entry and its leaf", "UPDATE audit_log SET entry=replace(entry,'hello','HELLO'), "
                                      "leaf=(SELECT leaf FROM audit_log WHERE seq=13) WHERE seq=12", 12},
        {"deleted middle row", "DELETE FROM audit_log WHERE seq=7", 7},
        {"changed checkpoint root", "UPDATE audit_checkpoints SET root=zeroblob(32) WHERE size=20", 19},
        {"forged checkpoint signature", "UPDATE audit_checkpoints SET note=replace(note, substr(note, -10, 4), 'AAAA') "
                                        "WHERE size=10", 9},
        {"deleted tail, checkpoints left", "DELETE FROM audit_log WHERE seq>=25", 25},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture_log f;
        log_open(&f);
        log_fill(&f, 30, 10);
        exec_sql(&f, cases[i].sql);
        nc_audit_report rep = verify(&f, NULL);
        if (rep.ok || rep.bad_seq != cases[i].bad_seq)
            fail_msg("%s: ok=%d bad_seq=%lld (%s)", cases[i].what, rep.ok, (long long)rep.bad_seq, rep.error);
        assert_true(strlen(rep.error) > 0);
        log_close(&f);
    }
}

/* A truncation that also removes the checkpoints and rebuilds the tree edge
 * looks consistent on its own: only an anchor (an earlier checkpoint kept
 * elsewhere) catches it. */
static void test_consistent_truncation_needs_anchor(void **state)
{
    (void)state;
    fixture_log f;
    char anchor[1024];
    log_open(&f);
    log_fill(&f, 20, 0);
    assert_int_equal(nc_audit_checkpoint(&f.a, f.sk, 0, anchor, sizeof anchor), NC_OK);
    log_fill(&f, 10, 0);
    /* the attacker rewrites history back to 15 entries: the entries, their
     * checkpoints, the right edge ... */
    exec_sql(&f, "DELETE FROM audit_log WHERE seq>=15; DELETE FROM audit_checkpoints;");
    nc_audit_tree t;
    nc_audit_tree_init(&t);
    uint8_t leaves[32][32];
    size_t k = read_leaves(&f, 0, leaves, 32);
    for (size_t i = 0; i < k; i++)
        nc_audit_tree_append(&t, leaves[i]);
    exec_sql(&f, "DELETE FROM audit_frontier");
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(f.path, &h), SQLITE_OK);
    for (unsigned l = 0; l < 64; l++) {
        if (!((t.size >> l) & 1))
            continue;
        assert_int_equal(sqlite3_prepare_v2(h, "INSERT INTO audit_frontier VALUES(?, ?)", -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_int(st, 1, (int)l);
        sqlite3_bind_blob(st, 2, t.frontier[l], 32, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    /* ... which the stored nodes over the deleted entries still give away */
    nc_audit_report rep = verify(&f, NULL);
    assert_false(rep.ok);
    assert_int_equal(rep.bad_seq, 15);
    assert_non_null(strstr(rep.error, "entries deleted from the end"));
    /* and the nodes too */
    exec_sql(&f, "DELETE FROM audit_nodes WHERE ((idx + 1) << level) > 15");
    rep = verify(&f, anchor);
    assert_false(rep.ok);
    assert_non_null(strstr(rep.error, "anchor"));
    log_close(&f);
}

/* PATH(m, D[n]) by the definition (RFC 6962 §2.1.1), recursively. */
static size_t ref_path(const uint8_t (*leaves)[32], uint64_t m, uint64_t n, uint8_t (*out)[32])
{
    if (n <= 1)
        return 0;
    uint64_t k = 1;
    while (k << 1 < n)
        k <<= 1;
    size_t c;
    if (m < k) {
        c = ref_path(leaves, m, k, out);
        mth(leaves + k, n - k, out[c]);
    } else {
        c = ref_path(leaves + k, m - k, n - k, out);
        mth(leaves, k, out[c]);
    }
    return c + 1;
}

/* Every proof of every entry at every size is the definition's, byte for byte. */
static void check_proofs(fixture_log *f, uint64_t max_size)
{
    uint8_t leaves[128][32], want[64][32], got[64][32];
    assert_true(max_size <= 128);
    assert_int_equal(read_leaves(f, max_size, leaves, 128), max_size);
    for (uint64_t size = 1; size <= max_size; size++)
        for (uint64_t seq = 0; seq < size; seq++) {
            size_t n = 99, wn = ref_path((const uint8_t(*)[32])leaves, seq, size, want);
            assert_int_equal(nc_audit_inclusion_proof(f->db, seq, size, got, 64, &n), NC_OK);
            if (n != wn || (n && memcmp(got, want, n * 32) != 0))
                fail_msg("proof of %llu in %llu: %zu hashes, want %zu", (unsigned long long)seq,
                         (unsigned long long)size, n, wn);
        }
}

/* Every stored node is the root of its leaves, and there is one for each
 * complete subtree: n - popcount(n) of them. */
static void check_nodes(fixture_log *f)
{
    uint64_t size = f->a.tree.size, count;
    uint8_t leaves[128][32], root[32];
    assert_true(size <= 128);
    assert_int_equal(read_leaves(f, 0, leaves, 128), size);
    assert_int_equal(nc_auditlog_nodes_count(f->db, &count), NC_OK);
    assert_int_equal(count, size - (uint64_t)__builtin_popcountll(size));
    nc_auditlog_nodes *r;
    assert_int_equal(nc_auditlog_nodes_open(f->db, &r), NC_OK);
    uint64_t seen = 0;
    for (unsigned level = 1; level < 8; level++) {
        nc_auditlog_node x = {.level = level};
        uint64_t want = 0;
        nc_err err;
        while ((err = nc_auditlog_nodes_next(r, &x)) == NC_OK) {
            assert_int_equal(x.index, want++);
            mth((const uint8_t(*)[32])leaves + (x.index << level), (size_t)1 << level, root);
            assert_memory_equal(x.hash, root, 32);
            seen++;
        }
        assert_int_equal(err, NC_ERR_NOT_FOUND);
        assert_int_equal(nc_auditlog_nodes_next(r, &x), NC_ERR_NOT_FOUND);   /* stays at the end */
        assert_int_equal(want, size >> level);
    }
    nc_auditlog_nodes_close(r);
    assert_int_equal(seen, count);
}

static void test_proofs_from_stored_nodes(void **state)
{
    (void)state;
    fixture_log f;
    log_open(&f);
    /* appends in transactions of several sizes; one rolled back leaves no node behind */
    log_fill(&f, 1, 0);
    log_fill(&f, 22, 0);
    assert_int_equal(nc_db_begin(f.db), NC_OK);
    for (int i = 0; i < 9; i++) {
        json_t *fields = json_pack("{s:i}", "n", i);
        assert_int_equal(nc_audit_append(&f.a, "run.end", 1, fields, NULL), NC_OK);
        json_decref(fields);
    }
    nc_db_rollback(f.db);
    assert_int_equal(nc_audit_reload(&f.a), NC_OK);
    assert_int_equal(f.a.tree.size, 23);
    check_nodes(&f);
    log_fill(&f, 48, 0);
    check_nodes(&f);
    check_proofs(&f, 71);
    /* what a proof cannot be made of */
    uint8_t proof[64][32];
    size_t n = 7;
    assert_int_equal(nc_audit_inclusion_proof(f.db, 71, 71, proof, 64, &n), NC_ERR_USAGE);
    assert_int_equal(n, 0);
    assert_int_equal(nc_audit_inclusion_proof(f.db, 3, 80, proof, 64, &n), NC_ERR_NOT_FOUND);   /* beyond the log */
    assert_int_equal(nc_audit_inclusion_proof(f.db, 3, 71, proof, 2, &n), NC_ERR_TOO_LARGE);     /* no room */
    assert_true(verify(&f, NULL).ok);
    log_close(&f);
}

/* A log stored before the nodes were (schema 5): read-only readers verify it
 * as it is, the migration adds the table, and opening the log builds them. */
static void test_older_log_gets_its_nodes(void **state)
{
    (void)state;
    fixture_log f;
    char msg[256];
    log_open(&f);
    log_fill(&f, 77, 20);
    nc_db_close(f.db);
    exec_sql(&f, "DROP TABLE audit_nodes; DROP INDEX approvals_submission; "
                 "ALTER TABLE submissions DROP COLUMN previous_submission; PRAGMA user_version=5;");

    nc_db *ro;
    assert_int_equal(nc_db_open_readonly(f.path, &ro, msg, sizeof msg), NC_OK);
    nc_audit_report rep;
    assert_int_equal(nc_audit_verify(ro, "nightcore/w_test", f.pk, NULL, 0, &rep), NC_OK);
    assert_true(rep.ok);
    assert_int_equal(rep.entries, 77);
    nc_db_close(ro);

    assert_int_equal(nc_db_open(f.path, &f.db, msg, sizeof msg), NC_OK);   /* migrates: no nodes yet */
    uint64_t count;
    assert_int_equal(nc_auditlog_nodes_count(f.db, &count), NC_OK);
    assert_int_equal(count, 0);
    assert_true(verify(&f, NULL).ok);   /* nothing stored to hold against the entries */
    assert_int_equal(nc_audit_open(f.db, "w_test", &f.a), NC_OK);
    check_nodes(&f);
    check_proofs(&f, 77);
    assert_true(verify(&f, NULL).ok);
    char inner[256];
    assert_int_equal(nc_audit_check_leaves(&f.a, NULL, inner, sizeof inner), NC_OK);
    /* built once: a second open finds them */
    assert_int_equal(nc_audit_open(f.db, "w_test", &f.a), NC_OK);
    check_nodes(&f);
    /* and appends go on from there */
    log_fill(&f, 30, 0);
    check_proofs(&f, 107);
    assert_true(verify(&f, NULL).ok);
    log_close(&f);
}

/* Leaves that do not make the stored edge: the nodes are not built from them. */
static void test_nodes_not_built_from_an_edited_log(void **state)
{
    (void)state;
    fixture_log f;
    char msg[256];
    log_open(&f);
    log_fill(&f, 40, 0);
    nc_db_close(f.db);
    exec_sql(&f, "DELETE FROM audit_nodes; UPDATE audit_log SET leaf=zeroblob(32) WHERE seq=5;");
    assert_int_equal(nc_db_open(f.path, &f.db, msg, sizeof msg), NC_OK);
    assert_int_equal(nc_audit_open(f.db, "w_test", &f.a), NC_ERR_MALFORMED);
    uint64_t count;
    assert_int_equal(nc_auditlog_nodes_count(f.db, &count), NC_OK);
    assert_int_equal(count, 0);   /* rolled back, all of it */
    exec_sql(&f, "DELETE FROM audit_log WHERE seq=6;");
    assert_int_equal(nc_audit_open(f.db, "w_test", &f.a), NC_ERR_MALFORMED);
    log_close(&f);
}

/* Verification and the start-up check never trust the stored nodes: each
 * kind of edit to them is named, after the entries themselves pass. */
static void test_edited_nodes_are_named(void **state)
{
    (void)state;
    struct {
        const char *what, *sql;
        int64_t bad_seq;
        const char *words;
    } cases[] = {
        {"changed node", "UPDATE audit_nodes SET hash=zeroblob(32) WHERE level=2 AND idx=1", 4,
         "node over entries 4 to 7 does not match them"},
        {"deleted node", "DELETE FROM audit_nodes WHERE level=1 AND idx=3", 6, "node over entries 6 to 7 is missing"},
        {"damaged node", "UPDATE audit_nodes SET hash=x'00' WHERE level=3 AND idx=0", 0,
         "node over entries 0 to 7 is damaged"},
        {"added node", "INSERT INTO audit_nodes VALUES(1, 1000, zeroblob(32))", 30, "1 nodes its 30 entries do not make"},
        {"node of a level that cannot be", "INSERT INTO audit_nodes VALUES(9, 0, zeroblob(32))", 30,
         "1 nodes its 30 entries do not make"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fixture_log f;
        char msg[256];
        log_open(&f);
        log_fill(&f, 30, 10);
        exec_sql(&f, cases[i].sql);
        nc_audit_report rep = verify(&f, NULL);
        if (rep.ok || rep.bad_seq != cases[i].bad_seq || !strstr(rep.error, cases[i].words))
            fail_msg("%s: ok=%d bad_seq=%lld (%s)", cases[i].what, rep.ok, (long long)rep.bad_seq, rep.error);
        assert_int_equal(rep.entries, 30);   /* every entry was checked */
        assert_int_equal(nc_audit_check_leaves(&f.a, NULL, msg, sizeof msg), NC_ERR_MALFORMED);
        if (!strstr(msg, cases[i].words))
            fail_msg("%s at start-up: %s", cases[i].what, msg);
        log_close(&f);
    }
    /* a proof made of an edited node does not check against the root */
    fixture_log f;
    log_open(&f);
    log_fill(&f, 30, 0);
    exec_sql(&f, "UPDATE audit_nodes SET hash=zeroblob(32) WHERE level=2 AND idx=1");
    uint8_t proof[64][32], leaf[32], root[32], *entry;
    size_t n, len;
    assert_int_equal(nc_audit_inclusion_proof(f.db, 0, 30, proof, 64, &n), NC_OK);
    assert_int_equal(nc_auditlog_entry(f.db, 0, &entry, &len, leaf), NC_OK);
    free(entry);
    nc_audit_tree_root(&f.a.tree, root);
    assert_false(nc_audit_inclusion_check(0, 30, leaf, (const uint8_t(*)[32])proof, n, root));
    /* all of them gone reads as not built yet; the next open builds them again */
    exec_sql(&f, "DELETE FROM audit_nodes");
    assert_true(verify(&f, NULL).ok);
    assert_int_equal(nc_audit_open(f.db, "w_test", &f.a), NC_OK);
    check_nodes(&f);
    log_close(&f);
}

/* Overwrites the leaf pages of a table (or WITHOUT ROWID index) with
 * garbage, the way a bad sector would, with nobody holding the file. */
static void corrupt_table(const char *path, const char *table)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    long pages[256];
    int n = 0;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT pageno FROM dbstat WHERE name=? AND pagetype='leaf'", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW && n < 256)
        pages[n++] = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    assert_true(n >= 2);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    char junk[4096];
    memset(junk, 0x5a, sizeof junk);
    for (int i = 0; i < n; i++) {
        assert_int_equal(fseek(fp, (pages[i] - 1) * 4096L, SEEK_SET), 0);
        assert_int_equal(fwrite(junk, 1, sizeof junk, fp), sizeof junk);
    }
    assert_int_equal(fclose(fp), 0);
}

/* Enough approvals for the table to span pages. */
static void add_approvals(nc_db *db)
{
    nc_db_submission s = {.id = "s_1", .name = "m", .sha256 = "aa", .source = "operator", .description = "",
                          .size = 1, .created_at = 1, .drift_state = "new", .requested = json_object(),
                          .drift_changes = json_null(), .analysis = json_object(), .threat = json_object()};
    assert_int_equal(nc_db_submission_insert(db, &s), NC_OK);
    json_decref(s.requested);
    json_decref(s.analysis);
    json_decref(s.threat);
    json_t *caps = json_object(), *limits = json_object(), *inv = json_pack("[s]", "operator");
    for (int i = 0; i < 200; i++) {
        nc_db_approval a;
        memset(&a, 0, sizeof a);
        snprintf(a.id, sizeof a.id, "%064x", i);
        snprintf(a.submission, sizeof a.submission, "s_1");
        snprintf(a.name, sizeof a.name, "m");
        memset(a.sha256, 'a', 64);
        snprintf(a.policy, sizeof a.policy, "default");
        a.statement = (uint8_t *)"{}";
        a.statement_len = 2;
        a.signature = (uint8_t *)"sig";
        a.signature_len = 3;
        a.max_runs = 5;
        memset(a.artifact_sha256, 'b', 64);
        assert_int_equal(nc_db_approval_insert(db, &a, caps, limits, inv), NC_OK);
    }
    json_decref(caps);
    json_decref(limits);
    json_decref(inv);
}

/* A corrupt database is never called intact, whichever table is hit, one
 * the log does not read included: the structure check comes first and says
 * what SQLite found. */
static void test_corrupt_database_is_not_intact(void **state)
{
    (void)state;
    static const char *const tables[] = {"approvals", "audit_nodes", "audit_checkpoints"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        fixture_log f;
        char msg[256];
        log_open(&f);
        add_approvals(f.db);
        log_fill(&f, 3000, 20);
        nc_db_close(f.db);
        corrupt_table(f.path, tables[i]);
        assert_int_equal(nc_db_open_readonly(f.path, &f.db, msg, sizeof msg), NC_OK);
        nc_audit_report rep = verify(&f, NULL);
        if (rep.ok || rep.bad_seq != -1 || strncmp(rep.error, "the database is corrupt: ", 25) != 0)
            fail_msg("%s: ok=%d bad_seq=%lld (%s)", tables[i], rep.ok, (long long)rep.bad_seq, rep.error);
        assert_non_null(strstr(rep.error, "restore it from a backup"));
        log_close(&f);
    }
}

/* 100,000 entries verify, and how fast (the benchmark has the real figures). */
static void test_large_log_verifies(void **state)
{
    (void)state;
    fixture_log f;
    log_open(&f);
    log_fill(&f, 100000, 25000);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nc_audit_report rep = verify(&f, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(rep.ok);
    assert_int_equal(rep.entries, 100000);
    assert_int_equal(rep.checkpoints, 4);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("verified 100000 entries in %.3f s (%.0f entries/s)\n", s, 100000 / s);
    log_close(&f);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_matches_definition_and_proofs),
        cmocka_unit_test(test_checkpoint_notes),
        cmocka_unit_test(test_intact_log_and_proofs),
        cmocka_unit_test(test_tampering_detected),
        cmocka_unit_test(test_consistent_truncation_needs_anchor),
        cmocka_unit_test(test_proofs_from_stored_nodes),
        cmocka_unit_test(test_older_log_gets_its_nodes),
        cmocka_unit_test(test_nodes_not_built_from_an_edited_log),
        cmocka_unit_test(test_edited_nodes_are_named),
        cmocka_unit_test(test_corrupt_database_is_not_intact),
        cmocka_unit_test(test_large_log_verifies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
