/* The console's control-socket request parser (src/console/ctl.c). */
#include <stddef.h>
#include <stdint.h>
#include "console/console.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t id;
    bool have_id;
    (void)con_ctl_parse_request((const char *)data, size, &id, &have_id);
    return 0;
}
