/* Fuzz the child's parser of run specifications. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sandbox/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nc_wire_spec ws;
    if (nc_wire_decode_spec(data, size, &ws) == NC_OK) {
        if (ws.spec.nargs > NC_MAX_ARGS || ws.spec.nenv > NC_MAX_ENV || ws.spec.ndirs > NC_MAX_DIRS)
            abort();
        for (size_t i = 0; i < ws.spec.nenv; i++)
            if (!strchr(ws.spec.env[i], '='))
                abort();
        for (size_t i = 0; i < ws.spec.ndirs; i++) {
            const nc_dir_grant *d = &ws.spec.dirs[i];
            if (d->guest[0] != '/' || d->host || d->dev || d->ino)
                abort();
            if (d->readonly && (d->quota_bytes || d->quota_files))   /* quotas only where writes go */
                abort();
        }
        if (nc_limits_check(&ws.spec.limits) != NC_OK)
            abort();
        nc_wire_spec_cleanup(&ws);
    }
    return 0;
}
