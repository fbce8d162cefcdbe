/* What every file of src/store shares (internal.h): a SQLite failure turned
 * into an nc_err once, here, and the statements kept per connection. */
#include "store/internal.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

nc_err nc_store_fail(struct nc_db *db)
{
    int rc = sqlite3_extended_errcode(db->h);
    int sys = sqlite3_system_errno(db->h);
    nc_err err;
    switch (rc & 0xff) {
    case SQLITE_FULL:
        err = NC_ERR_NO_SPACE;
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        err = NC_ERR_CORRUPT;
        break;
    case SQLITE_NOMEM:
        err = NC_ERR_NOMEM;
        break;
    case SQLITE_IOERR:
        err = sys == ENOSPC || sys == EDQUOT ? NC_ERR_NO_SPACE : NC_ERR_IO;
        break;
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        /* not SQLite's failure (a caller's bound or a statement that would
         * not fit); nothing to add */
        snprintf(db->fail, sizeof db->fail, "%s", "a database operation failed");
        return NC_ERR_IO;
    default:
        err = NC_ERR_IO;
        break;
    }
    if (err == NC_ERR_NO_SPACE)
        snprintf(db->fail, sizeof db->fail, "no space left on the device holding the database (%s)",
                 sqlite3_errmsg(db->h));
    else if (sys)
        snprintf(db->fail, sizeof db->fail, "%s (%s)", sqlite3_errmsg(db->h), strerror(sys));
    else
        snprintf(db->fail, sizeof db->fail, "%s", sqlite3_errmsg(db->h));
    return err;
}

nc_err nc_store_prepare(struct nc_db *db, const char *sql, sqlite3_stmt **st)
{
    return sqlite3_prepare_v2(db->h, sql, -1, st, NULL) == SQLITE_OK ? NC_OK : nc_store_fail(db);
}

nc_err nc_store_kept(struct nc_db *db, unsigned slot, const char *sql, sqlite3_stmt **st)
{
    *st = NULL;
    if (slot >= NC_KEPT_COUNT)
        return NC_ERR_INTERNAL;
    if (!db->kept[slot] &&
        sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &db->kept[slot], NULL) != SQLITE_OK)
        return nc_store_fail(db);
    *st = db->kept[slot];
    return NC_OK;
}

void nc_store_release(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

nc_err nc_store_end(struct nc_db *db, int rc)
{
    return rc == SQLITE_DONE ? NC_OK : nc_store_fail(db);
}
