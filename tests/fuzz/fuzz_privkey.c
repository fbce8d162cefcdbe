/* Fuzz the OpenSSH private key container reader: it reads key files that may
 * sit in a home another process can write. */
#include <stdint.h>
#include <string.h>
#include "trust/privkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nc_privkey_info info;
    const char *reason;
    if (nc_privkey_info_parse(data, size, &info, &reason) == NC_OK) {
        if (info.key.blob_len == 0 || info.encrypted != (strcmp(info.cipher, "none") != 0))
            __builtin_trap();
    } else if (!reason) {
        __builtin_trap();   /* every refusal says why */
    }
    return 0;
}
