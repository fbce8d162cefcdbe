/* src/store: errors reach the caller (a corrupt page is never "no rows"),
 * and approval references match exactly. A full disk: tests/integration/
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_corrupt_table_is_an_error_not_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invoker_matches_exactly, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
