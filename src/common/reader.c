#include "common/reader.h"

void nc_reader_init(nc_reader *r, const void *data, size_t len)
{
    r->data = data;
    r->len = data ? len : 0;
    r->pos = 0;
}

size_t nc_reader_remaining(const nc_reader *r)
{
    return r->len - r->pos;
}

nc_err nc_read_bytes(nc_reader *r, size_t n, const uint8_t **out)
{
    *out = NULL;
    if (n > nc_reader_remaining(r))
        return NC_ERR_TRUNCATED;
    *out = r->data + r->pos;
    r->pos += n;
    return NC_OK;
}

nc_err nc_read_u8(nc_reader *r, uint8_t *out)
{
    const uint8_t *p;
    *out = 0;
    nc_err e = nc_read_bytes(r, 1, &p);
    if (e == NC_OK)
        *out = p[0];
    return e;
}

nc_err nc_read_u32be(nc_reader *r, uint32_t *out)
{
    const uint8_t *p;
    *out = 0;
    nc_err e = nc_read_bytes(r, 4, &p);
    if (e == NC_OK)
        *out = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return e;
}

nc_err nc_read_u64be(nc_reader *r, uint64_t *out)
{
    const uint8_t *p;
    *out = 0;
    nc_err e = nc_read_bytes(r, 8, &p);
    if (e == NC_OK) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | p[i];
        *out = v;
    }
    return e;
}

nc_err nc_read_uleb32(nc_reader *r, uint32_t *out)
{
    uint32_t v = 0;
    size_t i = 0;
    *out = 0;
    for (;;) {
        if (i >= nc_reader_remaining(r))
            return NC_ERR_TRUNCATED;
        if (i == 5)
            return NC_ERR_MALFORMED;
        uint8_t b = r->data[r->pos + i];
        if (i == 4 && (b & 0xf0))   /* bits beyond 32, or a continuation */
            return NC_ERR_MALFORMED;
        v |= (uint32_t)(b & 0x7f) << (7 * i);
        i++;
        if (!(b & 0x80))
            break;
    }
    r->pos += i;
    *out = v;
    return NC_OK;
}

nc_err nc_read_string(nc_reader *r, size_t max, const uint8_t **out, size_t *out_len)
{
    size_t save = r->pos;
    uint32_t n;
    *out = NULL;
    *out_len = 0;
    nc_err e = nc_read_u32be(r, &n);
    if (e != NC_OK)
        return e;
    if (n > max) {
        r->pos = save;
        return NC_ERR_TOO_LARGE;
    }
    e = nc_read_bytes(r, n, out);
    if (e != NC_OK) {
        r->pos = save;
        return e;
    }
    *out_len = n;
    return NC_OK;
}

nc_err nc_read_expect_end(const nc_reader *r)
{
    return nc_reader_remaining(r) == 0 ? NC_OK : NC_ERR_TRAILING;
}
