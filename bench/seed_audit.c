/* Seeds a home's audit log with N more valid entries (benchmark set-up:
 * history scaling). The worker must be stopped.   seed_audit HOME N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "audit/audit.h"
#include "common/home.h"
#include "common/workerkey.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: seed_audit HOME N\n");
        return 2;
    }
    char *end;
    unsigned long long n = strtoull(argv[2], &end, 10);
    nc_home home;
    char path[4200], msg[256], id[NC_WORKER_ID_LEN];
    uint8_t pk[32];
    nc_db *db;
    nc_audit a;
    if (*end || n > 100000000ull || nc_home_resolve(argv[1], &home) != NC_OK ||
        nc_home_path(&home, NC_HOME_DB, path, sizeof path) != NC_OK || nc_worker_key_load_public(&home, pk) != NC_OK) {
        fprintf(stderr, "seed_audit: bad arguments or home\n");
        return 2;
    }
    nc_worker_id(pk, id);
    if (nc_db_open(path, &db, msg, sizeof msg) != NC_OK || nc_audit_open(db, id, &a) != NC_OK) {
        fprintf(stderr, "seed_audit: %s\n", msg);
        return 1;
    }
    for (unsigned long long done = 0; done < n;) {
        if (nc_db_begin(db) != NC_OK)
            return 1;
        for (int k = 0; k < 20000 && done < n; k++, done++) {
            json_t *f = json_pack("{s:s, s:I}", "note", "benchmark history", "n", (json_int_t)done);
            if (nc_audit_append(&a, "bench.seed", 1795000000, f, NULL) != NC_OK)
                return 1;
            json_decref(f);
        }
        if (nc_db_commit(db) != NC_OK)
            return 1;
    }
    nc_db_close(db);
    return 0;
}
