/* src/store: errors reach the caller (a corrupt page is never "no rows"),
 * approval references match exactly, and the audit log's tables give back
 * what was stored, refusing rows that are not what they should be. A full disk: tests/integration/
 * test_hardening.py, on a real one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>
#include <cmocka.h>
#include "store/auditlog.h"
#include "store/db.h"

static char dir[64], path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/nc-store-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/t.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static void add_approval(nc_db *db, const char *id, const char *name, const char *invoker, int64_t created)
{
    nc_db_approval a;
    memset(&a, 0, sizeof a);
    snprintf(a.id, sizeof a.id, "%s", id);
    snprintf(a.submission, sizeof a.submission, "s_1");
    snprintf(a.name, sizeof a.name, "%s", name);
    memset(a.sha256, 'a', 64);
    snprintf(a.approver, sizeof a.approver, "p");
    snprintf(a.key_fingerprint, sizeof a.key_fingerprint, "SHA256:x");
    snprintf(a.policy, sizeof a.policy, "default");
    a.policy_version = 1;
    a.statement = (uint8_t *)"{}";
    a.statement_len = 2;
    a.signature = (uint8_t *)"sig";
    a.signature_len = 3;
    a.max_runs = 5;
    a.expires_at = created + 100000;
    a.created_at = created;
    memset(a.artifact_sha256, 'b', 64);
    json_t *caps = json_object(), *limits = json_object(), *inv = json_pack("[s, s]", "operator", invoker);
    assert_int_equal(nc_db_approval_insert(db, &a, caps, limits, inv), NC_OK);
    json_decref(caps);
    json_decref(limits);
    json_decref(inv);
}

static nc_db *fresh_db_with_rows(void)
{
    char msg[512];
    nc_db *db;
    unlink(path);
    assert_int_equal(nc_db_open(path, &db, msg, sizeof msg), NC_OK);
    nc_db_submission s = {.id = "s_1", .name = "m", .sha256 = "aa", .source = "operator", .description = "",
                          .size = 1, .created_at = 1, .drift_state = "new", .requested = json_object(),
                          .drift_changes = json_null(), .analysis = json_object(), .threat = json_object()};
    assert_int_equal(nc_db_submission_insert(db, &s), NC_OK);
    json_decref(s.requested);
    json_decref(s.analysis);
    json_decref(s.threat);
    char id[65];
    for (int i = 0; i < 200; i++) {   /* enough rows for the table to span pages */
        snprintf(id, sizeof id, "%064x", i);
        add_approval(db, id, "m", i % 2 ? "agent:bot-1" : "agent:bot_2", 1000 + i);
    }
    return db;
}

/* Overwrites every page of the approvals table but its root with garbage:
 * what a bad disk sector or a torn write leaves behind. */
static void corrupt_approvals(nc_db *db)
{
    char msg[512];
    sqlite3 *h;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT pageno FROM dbstat WHERE name='approvals' AND pagetype='leaf'",
                                        -1, &st, NULL), SQLITE_OK);
    long pages[64];
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && n < 64)
        pages[n++] = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    assert_true(n >= 2);
    assert_int_equal(sqlite3_exec(h, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    nc_db_close(db);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    char junk[4096];
    memset(junk, 0x5a, sizeof junk);
    for (int i = 0; i < n; i++)
        assert_int_equal(pwrite(fd, junk, sizeof junk, (off_t)(pages[i] - 1) * 4096), (ssize_t)sizeof junk);
    close(fd);
    (void)msg;
}

static void test_corrupt_table_is_an_error_not_empty(void **state)
{
    (void)state;
    char msg[512];
    nc_db *db = fresh_db_with_rows();
    corrupt_approvals(db);
    assert_int_equal(nc_db_open(path, &db, msg, sizeof msg), NC_OK);   /* the header is fine */
    json_t *items = NULL;
    int64_t total = 0;
    nc_err err = nc_db_approval_list(db, NULL, 100, 0, &items, &total);
    assert_int_equal(err, NC_ERR_CORRUPT);
    assert_null(items);
    assert_non_null(strstr(nc_db_errmsg(db), "malformed"));
    char ids[4][65];
    size_t n;
    bool by_id;
    assert_int_equal(nc_db_approval_candidates(db, "m", NULL, 1500, ids, 4, &n, &by_id), NC_ERR_CORRUPT);
    assert_int_equal(nc_db_quick_check(db, msg, sizeof msg), NC_ERR_CORRUPT);
    assert_true(strlen(msg) > 0);
    nc_db_close(db);
}

static void test_invoker_matches_exactly(void **state)
{
    (void)state;
    nc_db *db = fresh_db_with_rows();
    char ids[4][65];
    size_t n;
    bool by_id;
    /* bot_1 is not bot-1 (no wildcard), and has no approvals */
    assert_int_equal(nc_db_approval_candidates(db, "m", "agent:bot_1", 1500, ids, 4, &n, &by_id), NC_ERR_NOT_FOUND);
    assert_int_equal(nc_db_approval_candidates(db, "m", "agent:bot%", 1500, ids, 4, &n, &by_id), NC_ERR_NOT_FOUND);
    assert_int_equal(nc_db_approval_candidates(db, "m", "agent:bot-1", 1500, ids, 4, &n, &by_id), NC_OK);
    assert_int_equal(n, 4);
    assert_false(by_id);
    assert_string_equal(ids[0], "00000000000000000000000000000000000000000000000000000000000000c7");   /* newest */
    /* another invoker's approval id is not found for this one */
    char other[65];
    snprintf(other, sizeof other, "%064x", 2);   /* bot_2's */
    assert_int_equal(nc_db_approval_candidates(db, other, "agent:bot-1", 1500, ids, 4, &n, &by_id), NC_ERR_NOT_FOUND);
    assert_int_equal(nc_db_approval_candidates(db, other, "agent:bot_2", 1500, ids, 4, &n, &by_id), NC_OK);
    assert_true(by_id && n == 1);
    /* an id prefix: ambiguous is a usage error, unique is that approval */
    assert_int_equal(nc_db_approval_candidates(db, "000000000000", NULL, 1500, ids, 4, &n, &by_id), NC_ERR_USAGE);
    assert_int_equal(nc_db_approval_candidates(db, "00000000000000000000000000000000000000000000000000000000000000c7",
                                               NULL, 1500, ids, 4, &n, &by_id), NC_OK);
    assert_true(by_id && n == 1);
    nc_db_close(db);
}

/* ---- the audit log's tables (store/auditlog.h) ---- */

static void raw_sql(const char *sql)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(h));
    sqlite3_close(h);
}

/* Entries {"seq":i,"type":T} with T "a" for even i, "b" for odd, and
 * "approval_id":"x" on every third; leaf i is 32 bytes of i. */
static nc_db *log_of(unsigned n)
{
    char msg[512], e[96];
    nc_db *db;
    unlink(path);
    assert_int_equal(nc_db_open(path, &db, msg, sizeof msg), NC_OK);
    assert_int_equal(nc_db_begin(db), NC_OK);
    for (unsigned i = 0; i < n; i++) {
        uint8_t leaf[32];
        memset(leaf, (int)i, sizeof leaf);
        int len = snprintf(e, sizeof e, "{\"seq\":%u,\"time\":%u,\"type\":\"%s\"%s}", i, 100 + i, i % 2 ? "b" : "a",
                           i % 3 ? "" : ",\"approval_id\":\"x\"");
        assert_int_equal(nc_auditlog_append(db, i, e, (size_t)len, leaf), NC_OK);
    }
    assert_int_equal(nc_db_commit(db), NC_OK);
    return db;
}

typedef struct {
    int64_t seqs[64];
    size_t n;
    bool entries_seen, bad_leaf;
    size_t stop_after;   /* 0: never */
} seen_rows;

static nc_err see_row(const nc_auditlog_row *row, void *ctx)
{
    seen_rows *s = ctx;
    assert_true(s->n < 64);
    s->seqs[s->n++] = row->seq;
    if (row->entry)
        s->entries_seen = true;
    if (!row->leaf)
        s->bad_leaf = true;
    else if (row->seq >= 0)
        assert_int_equal(row->leaf[0], (uint8_t)row->seq);
    return s->stop_after && s->n == s->stop_after ? NC_ERR_TOO_LARGE : NC_OK;
}

static void expect_range(nc_db *db, nc_auditlog_range r, const char *want)
{
    seen_rows s = {.n = 0};
    char got[256] = "";
    size_t used = 0;
    assert_int_equal(nc_auditlog_each(db, &r, see_row, &s), NC_OK);
    for (size_t i = 0; i < s.n; i++)
        used += (size_t)snprintf(got + used, sizeof got - used, "%s%lld", i ? "," : "", (long long)s.seqs[i]);
    assert_string_equal(got, want);
    assert_int_equal(s.entries_seen, r.entries && s.n > 0);
}

static void test_auditlog_entries(void **state)
{
    (void)state;
    nc_db *db = log_of(10);
    uint64_t n;
    assert_int_equal(nc_auditlog_count(db, &n), NC_OK);
    assert_int_equal(n, 10);
    assert_int_equal(nc_auditlog_last_seq(db, &n), NC_OK);
    assert_int_equal(n, 9);
    expect_range(db, (nc_auditlog_range){.entries = true}, "0,1,2,3,4,5,6,7,8,9");
    expect_range(db, (nc_auditlog_range){.from = 3, .to = 6}, "3,4,5");
    expect_range(db, (nc_auditlog_range){.from = 8, .limit = 5}, "8,9");
    expect_range(db, (nc_auditlog_range){.limit = 3}, "0,1,2");
    expect_range(db, (nc_auditlog_range){.limit = 3, .newest = true}, "7,8,9");              /* tail */
    expect_range(db, (nc_auditlog_range){.limit = 3, .newest = true, .newest_first = true}, "9,8,7");
    expect_range(db, (nc_auditlog_range){.limit = 2, .newest_first = true}, "1,0");
    expect_range(db, (nc_auditlog_range){.to = 4, .limit = 2, .newest = true, .entries = true}, "2,3");
    expect_range(db, (nc_auditlog_range){.from = 10}, "");
    expect_range(db, (nc_auditlog_range){.from = UINT64_MAX, .to = UINT64_MAX}, "");
    /* a callback's error stops the read and is its result */
    seen_rows s = {.stop_after = 4};
    const nc_auditlog_range all = {0};
    assert_int_equal(nc_auditlog_each(db, &all, see_row, &s), NC_ERR_TOO_LARGE);
    assert_int_equal(s.n, 4);

    uint8_t *e, leaf[32];
    size_t len;
    assert_int_equal(nc_auditlog_entry(db, 4, &e, &len, leaf), NC_OK);
    assert_string_equal((char *)e, "{\"seq\":4,\"time\":104,\"type\":\"a\"}");
    assert_int_equal(len, strlen((char *)e));
    assert_int_equal(leaf[31], 4);
    free(e);
    assert_int_equal(nc_auditlog_entry(db, 10, &e, &len, leaf), NC_ERR_NOT_FOUND);
    assert_null(e);
    assert_int_equal(nc_auditlog_entry(db, UINT64_MAX, &e, &len, leaf), NC_ERR_NOT_FOUND);
    assert_int_not_equal(nc_auditlog_append(db, 4, "{}", 2, leaf), NC_OK);   /* a seq is written once */
    assert_int_equal(nc_auditlog_append(db, UINT64_MAX, "{}", 2, leaf), NC_ERR_TOO_LARGE);

    /* rows as an attacker leaves them: a short leaf, a seq below 0 */
    nc_db_close(db);
    raw_sql("UPDATE audit_log SET leaf=x'0102' WHERE seq=2; INSERT INTO audit_log(seq, entry, leaf) "
            "VALUES(-5, '{}', zeroblob(32));");
    char msg[512];
    assert_int_equal(nc_db_open(path, &db, msg, sizeof msg), NC_OK);
    assert_int_equal(nc_auditlog_entry(db, 2, &e, &len, leaf), NC_ERR_MALFORMED);
    s = (seen_rows){.n = 0};
    assert_int_equal(nc_auditlog_each(db, &all, see_row, &s), NC_OK);
    assert_int_equal(s.n, 11);
    assert_int_equal(s.seqs[0], -5);   /* a reader of the whole log sees it */
    assert_true(s.bad_leaf);
    nc_db_close(db);

    /* an empty log */
    db = log_of(0);
    assert_int_equal(nc_auditlog_last_seq(db, &n), NC_ERR_NOT_FOUND);
    assert_int_equal(nc_auditlog_count(db, &n), NC_OK);
    assert_int_equal(n, 0);
    nc_db_close(db);
}

static nc_err count_row(const nc_auditlog_row *row, void *ctx)
{
    (void)row;
    (*(int *)ctx)++;
    return NC_OK;
}

static void test_auditlog_by_kind(void **state)
{
    (void)state;
    nc_db *db = log_of(10);
    seen_rows s = {.n = 0};
    static const char *const b[] = {"b", NULL}, *const ab[] = {"a", "b", NULL}, *const none[] = {NULL};
    static const char *const nine[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9", NULL};
    assert_int_equal(nc_auditlog_each_kind(db, b, see_row, &s), NC_OK);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.seqs[0], 1);
    assert_int_equal(s.seqs[4], 9);
    assert_true(s.entries_seen);
    int k = 0;
    assert_int_equal(nc_auditlog_each_kind(db, ab, count_row, &k), NC_OK);
    assert_int_equal(k, 10);
    char long_kind[80];
    memset(long_kind, 'k', sizeof long_kind - 1);
    long_kind[sizeof long_kind - 1] = '\0';
    const char *const too_long[] = {long_kind, NULL};
    assert_int_equal(nc_auditlog_each_kind(db, nine, count_row, &k), NC_ERR_USAGE);
    assert_int_equal(nc_auditlog_each_kind(db, too_long, count_row, &k), NC_ERR_USAGE);
    assert_int_equal(nc_auditlog_each_kind(db, none, count_row, &k), NC_ERR_USAGE);

    uint64_t n;
    assert_int_equal(nc_auditlog_count_ref(db, "a", "x", &n), NC_OK);   /* seq 0 and 6 */
    assert_int_equal(n, 2);
    assert_int_equal(nc_auditlog_count_ref(db, "b", "x", &n), NC_OK);   /* seq 3 and 9 */
    assert_int_equal(n, 2);
    assert_int_equal(nc_auditlog_count_ref(db, "a", "y", &n), NC_OK);
    assert_int_equal(n, 0);
    uint8_t *e;
    size_t len;
    assert_int_equal(nc_auditlog_first_ref(db, "b", "x", &e, &len), NC_OK);
    assert_non_null(strstr((char *)e, "\"seq\":3,"));
    free(e);
    assert_int_equal(nc_auditlog_first_ref(db, "c", "x", &e, &len), NC_ERR_NOT_FOUND);
    assert_null(e);
    assert_int_equal(nc_auditlog_count_kind_since(db, "a", 104, &n), NC_OK);   /* seq 4, 6, 8 */
    assert_int_equal(n, 3);
    assert_int_equal(nc_auditlog_count_kind_since(db, "a", 1000, &n), NC_OK);
    assert_int_equal(n, 0);
    nc_db_close(db);
}

static void test_auditlog_edge_and_nodes(void **state)
{
    (void)state;
    nc_db *db = log_of(6);
    uint8_t edge[NC_AUDITLOG_LEVELS][32], got[NC_AUDITLOG_LEVELS][32];
    uint64_t levels;
    memset(edge, 0, sizeof edge);
    memset(edge[1], 0x11, 32);
    memset(edge[2], 0x22, 32);
    assert_int_equal(nc_auditlog_frontier_read(db, got, &levels), NC_OK);
    assert_int_equal(levels, 0);
    assert_int_equal(nc_auditlog_frontier_write(db, (const uint8_t(*)[32])edge, 6), NC_OK);
    assert_int_equal(nc_auditlog_frontier_read(db, got, &levels), NC_OK);
    assert_int_equal(levels, 6);
    assert_memory_equal(got[1], edge[1], 32);
    assert_memory_equal(got[2], edge[2], 32);
    assert_int_equal(nc_auditlog_frontier_write(db, (const uint8_t(*)[32])edge, 2), NC_OK);   /* replaced */
    assert_int_equal(nc_auditlog_frontier_read(db, got, &levels), NC_OK);
    assert_int_equal(levels, 2);

    nc_auditlog_node put[3] = {{.level = 1, .index = 0}, {.level = 1, .index = 1}, {.level = 2, .index = 0}};
    for (int i = 0; i < 3; i++)
        memset(put[i].hash, 0xa0 + i, 32);
    assert_int_equal(nc_auditlog_nodes_put(db, put, 3), NC_OK);
    assert_int_not_equal(nc_auditlog_nodes_put(db, put, 1), NC_OK);   /* written once */
    nc_auditlog_node leaf0 = {.level = 0, .index = 0};
    assert_int_equal(nc_auditlog_nodes_put(db, &leaf0, 1), NC_ERR_USAGE);   /* leaves are entries' */
    nc_auditlog_node high = {.level = NC_AUDITLOG_LEVELS, .index = 0};
    assert_int_equal(nc_auditlog_nodes_put(db, &high, 1), NC_ERR_USAGE);
    uint64_t n;
    assert_int_equal(nc_auditlog_nodes_count(db, &n), NC_OK);
    assert_int_equal(n, 3);
    nc_auditlog_node get[3] = {{.level = 2, .index = 0}, {.level = 0, .index = 5}, {.level = 1, .index = 1}};
    assert_int_equal(nc_auditlog_nodes_get(db, get, 3), NC_OK);
    assert_int_equal(get[0].hash[0], 0xa2);
    assert_int_equal(get[1].hash[0], 5);   /* leaf 5 */
    assert_int_equal(get[2].hash[0], 0xa1);
    nc_auditlog_node missing[2] = {{.level = 1, .index = 0}, {.level = 1, .index = 2}};
    assert_int_equal(nc_auditlog_nodes_get(db, missing, 2), NC_ERR_NOT_FOUND);
    nc_auditlog_node no_leaf = {.level = 0, .index = 6};
    assert_int_equal(nc_auditlog_nodes_get(db, &no_leaf, 1), NC_ERR_NOT_FOUND);
    assert_int_equal(nc_auditlog_nodes_get(db, &high, 1), NC_ERR_USAGE);

    /* level by level, in index order, several levels side by side */
    nc_auditlog_nodes *r;
    assert_int_equal(nc_auditlog_nodes_open(db, &r), NC_OK);
    nc_auditlog_node x = {.level = 1};
    assert_int_equal(nc_auditlog_nodes_next(r, &x), NC_OK);
    assert_int_equal(x.index, 0);
    nc_auditlog_node y = {.level = 2};
    assert_int_equal(nc_auditlog_nodes_next(r, &y), NC_OK);
    assert_int_equal(y.hash[0], 0xa2);
    assert_int_equal(nc_auditlog_nodes_next(r, &y), NC_ERR_NOT_FOUND);
    assert_int_equal(nc_auditlog_nodes_next(r, &x), NC_OK);
    assert_int_equal(x.index, 1);
    assert_int_equal(x.hash[0], 0xa1);
    assert_int_equal(nc_auditlog_nodes_next(r, &x), NC_ERR_NOT_FOUND);
    assert_int_equal(nc_auditlog_nodes_next(r, &x), NC_ERR_NOT_FOUND);   /* and stays there */
    nc_auditlog_node z = {.level = 0};
    assert_int_equal(nc_auditlog_nodes_next(r, &z), NC_ERR_USAGE);
    nc_auditlog_nodes_close(r);
    nc_db_close(db);

    /* stored rows that are not an edge or nodes */
    raw_sql("UPDATE audit_nodes SET hash=x'00' WHERE level=1 AND idx=1; INSERT INTO audit_frontier VALUES(64, "
            "zeroblob(32));");
    char msg[512];
    assert_int_equal(nc_db_open(path, &db, msg, sizeof msg), NC_OK);
    assert_int_equal(nc_auditlog_frontier_read(db, got, &levels), NC_ERR_MALFORMED);
    assert_int_equal(levels, 0);
    assert_int_equal(nc_auditlog_nodes_get(db, &get[2], 1), NC_ERR_MALFORMED);
    assert_int_equal(nc_auditlog_nodes_open(db, &r), NC_OK);
    x = (nc_auditlog_node){.level = 1};
    assert_int_equal(nc_auditlog_nodes_next(r, &x), NC_OK);
    assert_int_equal(nc_auditlog_nodes_next(r, &x), NC_ERR_MALFORMED);
    assert_int_equal(x.index, 1);
    nc_auditlog_nodes_close(r);
    nc_db_close(db);
    raw_sql("UPDATE audit_frontier SET hash=x'0102' WHERE level=1; DELETE FROM audit_frontier WHERE level=64;");
    assert_int_equal(nc_db_open(path, &db, msg, sizeof msg), NC_OK);
    assert_int_equal(nc_auditlog_frontier_read(db, got, &levels), NC_ERR_MALFORMED);
    nc_db_close(db);

    /* a database of an older schema, read-only: no node table */
    raw_sql("DROP TABLE audit_nodes; DROP INDEX approvals_submission; "
            "ALTER TABLE submissions DROP COLUMN previous_submission; PRAGMA user_version=5;");
    assert_int_equal(nc_db_open_readonly(path, &db, msg, sizeof msg), NC_OK);
    r = (nc_auditlog_nodes *)1;
    assert_int_equal(nc_auditlog_nodes_open(db, &r), NC_ERR_NOT_FOUND);
    assert_null(r);
    nc_db_close(db);
}

typedef struct {
    uint64_t sizes[8];
    size_t n;
    bool bad_root;
    char note[64];
} seen_checkpoints;

static nc_err see_checkpoint(const nc_auditlog_checkpoint *cp, void *ctx)
{
    seen_checkpoints *s = ctx;
    assert_true(s->n < 8);
    s->sizes[s->n++] = cp->size;
    if (!cp->root)
        s->bad_root = true;
    assert_int_equal(strlen(cp->note), cp->note_len);
    snprintf(s->note, sizeof s->note, "%s", cp->note);
    return NC_OK;
}

static void test_auditlog_checkpoints(void **state)
{
    (void)state;
    nc_db *db = log_of(3);
    seen_checkpoints s = {.n = 0};
    assert_int_equal(nc_auditlog_checkpoint_latest(db, see_checkpoint, &s), NC_ERR_NOT_FOUND);
    assert_int_equal(s.n, 0);
    uint8_t root[32];
    memset(root, 7, sizeof root);
    assert_int_equal(nc_auditlog_checkpoint_add(db, 2, root, "note 2", 50), NC_OK);
    assert_int_equal(nc_auditlog_checkpoint_add(db, 0, root, "note 0", 40), NC_OK);
    assert_int_equal(nc_auditlog_checkpoint_add(db, 2, root, "another note 2", 60), NC_OK);   /* ignored */
    assert_int_equal(nc_auditlog_checkpoint_add(db, UINT64_MAX, root, "x", 60), NC_ERR_TOO_LARGE);
    assert_int_equal(nc_auditlog_checkpoint_each(db, see_checkpoint, &s), NC_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.sizes[0], 0);
    assert_int_equal(s.sizes[1], 2);
    assert_string_equal(s.note, "note 2");
    s = (seen_checkpoints){.n = 0};
    assert_int_equal(nc_auditlog_checkpoint_latest(db, see_checkpoint, &s), NC_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.sizes[0], 2);
    assert_false(s.bad_root);
    nc_db_close(db);
    raw_sql("UPDATE audit_checkpoints SET root=x'01' WHERE size=2");
    char msg[512];
    assert_int_equal(nc_db_open(path, &db, msg, sizeof msg), NC_OK);
    s = (seen_checkpoints){.n = 0};
    assert_int_equal(nc_auditlog_checkpoint_latest(db, see_checkpoint, &s), NC_OK);
    assert_true(s.bad_root);
    nc_db_close(db);
}

/* A corrupt page in the log is an error, never a shorter log. */
static void test_auditlog_corrupt_is_an_error(void **state)
{
    (void)state;
    char msg[512];
    nc_db *db;
    unlink(path);
    assert_int_equal(nc_db_open(path, &db, msg, sizeof msg), NC_OK);
    assert_int_equal(nc_db_begin(db), NC_OK);
    char e[600];
    memset(e, 'x', sizeof e);
    uint8_t leaf[32] = {0};
    for (unsigned i = 0; i < 200; i++)
        assert_int_equal(nc_auditlog_append(db, i, e, sizeof e, leaf), NC_OK);
    assert_int_equal(nc_db_commit(db), NC_OK);
    nc_db_close(db);
    sqlite3 *h;
    sqlite3_stmt *st;
    long pages[64];
    int n = 0;
    assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT pageno FROM dbstat WHERE name='audit_log' AND pagetype='leaf'",
                                        -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW && n < 64)
        pages[n++] = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    assert_true(n >= 4);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    char junk[4096];
    memset(junk, 0x5a, sizeof junk);
    assert_int_equal(pwrite(fd, junk, sizeof junk, (off_t)(pages[n / 2] - 1) * 4096), (ssize_t)sizeof junk);
    close(fd);
    assert_int_equal(nc_db_open_readonly(path, &db, msg, sizeof msg), NC_OK);
    int k = 0;
    const nc_auditlog_range all = {0};
    assert_int_equal(nc_auditlog_each(db, &all, count_row, &k), NC_ERR_CORRUPT);
    assert_true(k > 0 && k < 200);   /* it got some way, then said so */
    assert_non_null(strstr(nc_db_errmsg(db), "malformed"));
    nc_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_corrupt_table_is_an_error_not_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invoker_matches_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auditlog_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auditlog_by_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auditlog_edge_and_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auditlog_checkpoints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auditlog_corrupt_is_an_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
