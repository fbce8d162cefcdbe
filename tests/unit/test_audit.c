/* The audit log: the Merkle tree against the RFC 6962 definition, inclusion
 * proofs, signed checkpoints, and verification of a log in SQLite against
 * every kind of tampering. */
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
        cmocka_unit_test(test_large_log_verifies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
