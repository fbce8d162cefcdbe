/* Fuzz the approval statement parser: it reads bytes an attacker may craft
 * (the signature is only checked over them, not their shape). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "trust/statement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nc_statement st;
    char msg[256];
    if (nc_statement_parse(data, size, &st, msg, sizeof msg) == NC_OK) {
        /* Whatever parses must rebuild to exactly the same bytes. */
        char *again = NULL;
        size_t len = 0;
        if (nc_statement_build(&st, &again, &len, msg, sizeof msg) != NC_OK || len != size ||
            memcmp(again, data, size) != 0)
            abort();
        free(again);
        nc_statement_cleanup(&st);
    }
    return 0;
}
