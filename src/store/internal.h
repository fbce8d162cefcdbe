/* Private to src/store: the connection behind nc_db and the helpers every
 * file of the store shares, so that a SQLite error is turned into an nc_err
 * (and its message kept) in one place. Nothing outside src/store includes
 * this header or <sqlite3.h>. */
#ifndef NC_STORE_INTERNAL_H
#define NC_STORE_INTERNAL_H
#include <sqlite3.h>
#include "store/db.h"

struct nc_db {
    sqlite3 *h;
    char fail[256];   /* the last failure, kept past the rollback that follows it */
};

/* A SQLite call on db failed: its cause as an nc_err (a full disk is
 * NC_ERR_NO_SPACE, a corrupt file NC_ERR_CORRUPT, else NC_ERR_IO), its
 * message kept for nc_db_errmsg(). */
nc_err nc_store_fail(nc_db *db);
nc_err nc_store_prepare(nc_db *db, const char *sql, sqlite3_stmt **st);
/* How a loop over rows ended: SQLITE_DONE is the end of the rows; anything
 * else is an error, never a shorter list. */
nc_err nc_store_end(nc_db *db, int rc);

#endif
