/* Fuzz the admin statement parser (trust changes): bytes an attacker may
 * craft and hand to trust.add with any signature. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "trust/admin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nc_admin_statement st;
    char msg[256];
    (void)nc_admin_peek_kind(data, size);
    if (nc_admin_parse(data, size, &st, msg, sizeof msg) == NC_OK) {
        /* Whatever parses must rebuild to exactly the same bytes. */
        char *again = NULL;
        size_t len = 0;
        if (nc_admin_build(&st, &again, &len, msg, sizeof msg) != NC_OK || len != size ||
            memcmp(again, data, size) != 0)
            abort();
        free(again);
    }
    return 0;
}
