/* Fuzz the supervisor's parser of what a sandbox child sends back: the child
 * ran hostile code, so its reply is hostile input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sandbox/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nc_run_result r;
    nc_err status;
    memset(&r, 0, sizeof r);
    if (nc_wire_decode_result(data, size, 4096, 4096, &status, &r) == NC_OK) {
        if (r.out_len > 4096 || r.err_len > 4096 || r.ndenied > NC_WASI_MAX_DENIED ||
            r.outcome >= NC_OUTCOME_COUNT || strlen(r.message) >= sizeof r.message)
            abort();
        for (uint32_t i = 0; i < r.ndenied; i++)
            if (r.denied[i].fn >= NC_WASI_FN_COUNT || r.denied[i].reason >= NC_DENY_COUNT)
                abort();
        nc_run_result_cleanup(&r);
    }
    return 0;
}
