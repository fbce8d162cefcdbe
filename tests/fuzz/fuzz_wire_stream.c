/* Fuzz what a streaming sandbox child sends: frames (u32be length, body) of
 * output chunks, then a result. The supervisor's checks must hold for any
 * bytes: streamed output never passes the caps, and an accepted result
 * begins with exactly what was streamed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sandbox/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_CAP 4096u
#define ERR_CAP 1024u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nc_wire_stream st;
    nc_wire_stream_init(&st, OUT_CAP, ERR_CAP);
    size_t pos = 0;
    while (size - pos >= 4) {
        uint32_t n = (uint32_t)data[pos] << 24 | (uint32_t)data[pos + 1] << 16 | (uint32_t)data[pos + 2] << 8 |
                     data[pos + 3];
        pos += 4;
        if (n > size - pos)
            break;
        const uint8_t *body = data + pos;
        pos += n;
        if (nc_wire_is_chunk(body, n)) {
            unsigned which;
            const uint8_t *d;
            size_t dlen;
            size_t before = st.out.len + st.err.len;
            nc_err e = nc_wire_stream_chunk(&st, body, n, &which, &d, &dlen);
            if (e == NC_OK) {
                if ((which != 1 && which != 2) || dlen == 0 || dlen > NC_WIRE_CHUNK_MAX ||
                    st.out.len + st.err.len != before + dlen || d < body || d + dlen > body + n)
                    abort();
            } else if (st.out.len + st.err.len != before) {
                abort();
            }
            if (st.out.len > OUT_CAP || st.err.len > ERR_CAP)
                abort();
            continue;
        }
        nc_run_result r;
        nc_err status;
        memset(&r, 0, sizeof r);
        if (nc_wire_decode_result(body, n, OUT_CAP, ERR_CAP, &status, &r) == NC_OK) {
            size_t of, ef;
            if (r.outcome == NC_OUTCOME_CANCELLED || r.outcome == NC_OUTCOME_INTERRUPTED)
                abort();
            if (nc_wire_stream_check(&st, &r, &of, &ef) == NC_OK &&
                (of != st.out.len || ef != st.err.len || of > r.out_len || ef > r.err_len ||
                 (of && memcmp(r.out, st.out.data, of) != 0) || (ef && memcmp(r.err, st.err.data, ef) != 0)))
                abort();
            nc_run_result_cleanup(&r);
        }
        break;
    }
    nc_wire_stream_cleanup(&st);
    return 0;
}
