/* Private to src/store: the connection behind nc_db (store/db.h) and the
 * helpers every file of the store shares (internal.c), so that a SQLite
 * error is turned into an nc_err, and its message kept, in one place.
 * Nothing outside src/store includes this header or <sqlite3.h>. */
#ifndef NC_STORE_INTERNAL_H
#define NC_STORE_INTERNAL_H
#include <sqlite3.h>
#include <stdint.h>
#include "common/error.h"

/* Statements an append runs (four of them, every time) and a proof runs,
 * prepared once per connection and kept until nc_db_close. */
enum {
    NC_KEPT_LOG_APPEND,
    NC_KEPT_NODE_PUT,
    NC_KEPT_NODE_GET,
    NC_KEPT_LEAF_GET,
    NC_KEPT_EDGE_CLEAR,
    NC_KEPT_EDGE_PUT,
    NC_KEPT_COUNT
};

struct nc_db {
    sqlite3 *h;
    uint64_t commits;   /* successful COMMITs on this connection (nc_db_commits) */
    char fail[256];   /* the last failure, kept past the rollback that follows it */
    sqlite3_stmt *kept[NC_KEPT_COUNT];
};

/* A SQLite call on db failed: its cause as an nc_err (a full disk is
 * NC_ERR_NO_SPACE, a corrupt file NC_ERR_CORRUPT, else NC_ERR_IO), its
 * message kept for nc_db_errmsg(). */
nc_err nc_store_fail(struct nc_db *db);
nc_err nc_store_prepare(struct nc_db *db, const char *sql, sqlite3_stmt **st);
/* The kept statement of slot (always prepared from the same sql), ready to
 * bind. Not finalized by the caller: reset with nc_store_release when done,
 * so that it holds no lock and no pointer to the caller's memory. */
nc_err nc_store_kept(struct nc_db *db, unsigned slot, const char *sql, sqlite3_stmt **st);
void nc_store_release(sqlite3_stmt *st);
/* How a loop over rows ended: SQLITE_DONE is the end of the rows; anything
 * else is an error, never a shorter list. */
nc_err nc_store_end(struct nc_db *db, int rc);

#endif
