/* Night Core's SQLite benchmark guest: an in-memory database workload on the
 * SQLite amalgamation (inserts in one transaction, an index, range scans,
 * an aggregate join, updates and deletes). Prints a checksum of the results.
 *
 *   sqlite_bench [ROWS]   (default 200000) */
#include <stdio.h>
#include <stdlib.h>
#include "sqlite3.h"

static sqlite3 *db;

static void die(const char *what)
{
    fprintf(stderr, "sqlite_bench: %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
}

static void exec(const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "sqlite_bench: %s: %s\n", sql, err ? err : "?");
        exit(1);
    }
}

static long long query_sum(const char *sql, int bind)
{
    sqlite3_stmt *st;
    long long sum = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        die("prepare");
    for (int k = 0; k < (bind ? 200 : 1); k++) {
        if (bind)
            sqlite3_bind_int(st, 1, k * 97 % 10000);
        while (sqlite3_step(st) == SQLITE_ROW)
            sum += sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return sum;
}

int main(int argc, char **argv)
{
    int rows = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 200000;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        die("open");
    exec("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-32000;");
    exec("CREATE TABLE item(id INTEGER PRIMARY KEY, grp INTEGER, score INTEGER, name TEXT);"
         "CREATE TABLE grp(id INTEGER PRIMARY KEY, label TEXT);");
    exec("BEGIN");
    sqlite3_stmt *ins;
    if (sqlite3_prepare_v2(db, "INSERT INTO item(grp, score, name) VALUES(?1, ?2, ?3)", -1, &ins, NULL) != SQLITE_OK)
        die("prepare insert");
    unsigned x = 12345;
    for (int i = 0; i < rows; i++) {
        char name[32];
        x = x * 1103515245u + 12345u;
        snprintf(name, sizeof name, "item-%08x", x);
        sqlite3_bind_int(ins, 1, (int)(x >> 8) % 10000);
        sqlite3_bind_int(ins, 2, (int)(x >> 4) % 100000);
        sqlite3_bind_text(ins, 3, name, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(ins) != SQLITE_DONE)
            die("insert");
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    exec("INSERT INTO grp(id, label) SELECT DISTINCT grp, 'group ' || grp FROM item;");
    exec("COMMIT");
    exec("CREATE INDEX item_grp ON item(grp, score);");
    long long a = query_sum("SELECT sum(score) FROM item WHERE grp = ?1", 1);
    long long b = query_sum("SELECT count(*) FROM item i JOIN grp g ON g.id = i.grp WHERE g.label LIKE '%7%'", 0);
    long long c = query_sum("SELECT max(length(name)) + count(DISTINCT substr(name, 6, 2)) FROM item", 0);
    exec("UPDATE item SET score = score + 1 WHERE grp % 3 = 0; DELETE FROM item WHERE grp % 5 = 0;");
    long long d = query_sum("SELECT count(*) FROM item ORDER BY name", 0);
    printf("%lld %lld %lld %lld\n", a, b, c, d);
    sqlite3_close(db);
    return 0;
}
