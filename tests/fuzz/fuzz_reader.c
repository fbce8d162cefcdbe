/* Fuzz the bounded reader: a script of reads driven by the input itself.
 * Checks the invariants every parser relies on: the cursor never passes the
 * end and a failed read never moves it. */
#include <stdint.h>
#include <stdlib.h>
#include "common/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nc_reader r;
    nc_reader_init(&r, data, size);
    for (int step = 0; step < 64 && nc_reader_remaining(&r) > 0; step++) {
        size_t before = r.pos;
        uint8_t op = data[r.pos] % 6;
        r.pos++;
        nc_err e = NC_OK;
        uint8_t u8;
        uint32_t u32;
        uint64_t u64;
        const uint8_t *p;
        size_t n;
        size_t mark = r.pos;
        switch (op) {
        case 0: e = nc_read_u8(&r, &u8); break;
        case 1: e = nc_read_u32be(&r, &u32); break;
        case 2: e = nc_read_u64be(&r, &u64); break;
        case 3: e = nc_read_uleb32(&r, &u32); break;
        case 4: e = nc_read_string(&r, 1024, &p, &n); break;
        default: e = nc_read_bytes(&r, (size_t)data[before] * 3, &p); break;
        }
        if (r.pos > r.len)
            abort();
        if (e != NC_OK && r.pos != mark)
            abort();
    }
    return 0;
}
