#include "common/buf.h"
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

void nc_buf_init(nc_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void nc_buf_cleanup(nc_buf *b)
{
    free(b->data);
    size_t max = b->max;
    nc_buf_init(b, max);
}

void nc_buf_reset(nc_buf *b)
{
    b->len = 0;
    b->truncated = false;
}

static nc_err reserve(nc_buf *b, size_t need)
{
    if (need <= b->cap)
        return NC_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    if (cap > b->max)
        cap = b->max;
    uint8_t *p = realloc(b->data, cap ? cap : 1);
    if (!p)
        return NC_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return NC_OK;
}

nc_err nc_buf_reserve(nc_buf *b, size_t need)
{
    if (need > b->max)
        return NC_ERR_TOO_LARGE;
    return reserve(b, need);
}

nc_err nc_buf_append(nc_buf *b, const void *p, size_t n)
{
    size_t room = b->max - b->len;
    size_t take = n < room ? n : room;
    if (take) {
        nc_err e = reserve(b, b->len + take);
        if (e != NC_OK)
            return e;
        memcpy(b->data + b->len, p, take);
        b->len += take;
    }
    if (take < n) {
        b->truncated = true;
        return NC_ERR_TOO_LARGE;
    }
    return NC_OK;
}

nc_err nc_buf_put_u8(nc_buf *b, uint8_t v)
{
    return nc_buf_append(b, &v, 1);
}

nc_err nc_buf_put_u32be(nc_buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return nc_buf_append(b, p, sizeof p);
}

nc_err nc_buf_put_u64be(nc_buf *b, uint64_t v)
{
    uint8_t p[8];
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    return nc_buf_append(b, p, sizeof p);
}

nc_err nc_buf_put_string(nc_buf *b, const void *p, size_t n)
{
    if (n > UINT32_MAX)
        return NC_ERR_TOO_LARGE;
    nc_err e = nc_buf_put_u32be(b, (uint32_t)n);
    if (e != NC_OK)
        return e;
    return nc_buf_append(b, p, n);
}

uint8_t *nc_buf_steal(nc_buf *b, size_t *len)
{
    uint8_t *p = b->data;
    *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    b->truncated = false;
    return p;
}

void nc_iov_consume(struct iovec **v, int *n, size_t done)
{
    while (*n > 0 && done >= (*v)->iov_len) {
        done -= (*v)->iov_len;
        (*v)++;
        (*n)--;
    }
    if (*n > 0) {
        (*v)->iov_base = (uint8_t *)(*v)->iov_base + done;
        (*v)->iov_len -= done;
    }
}
