/* Growable byte buffer with a hard maximum. Appending past the maximum keeps
 * what fits and reports NC_ERR_TOO_LARGE; growth never exceeds the maximum. */
#ifndef NC_COMMON_BUF_H
#define NC_COMMON_BUF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"

typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;   /* allocated */
    size_t max;   /* never grows beyond this */
    bool truncated;
} nc_buf;

void nc_buf_init(nc_buf *b, size_t max);
void nc_buf_cleanup(nc_buf *b);
void nc_buf_reset(nc_buf *b);
/* Appends up to max; returns NC_ERR_TOO_LARGE (and sets truncated) if not all fit. */
NC_MUST_CHECK nc_err nc_buf_append(nc_buf *b, const void *p, size_t n);
NC_MUST_CHECK nc_err nc_buf_put_u8(nc_buf *b, uint8_t v);
NC_MUST_CHECK nc_err nc_buf_put_u32be(nc_buf *b, uint32_t v);
NC_MUST_CHECK nc_err nc_buf_put_u64be(nc_buf *b, uint64_t v);
/* u32be length prefix + bytes */
NC_MUST_CHECK nc_err nc_buf_put_string(nc_buf *b, const void *p, size_t n);
/* Room for at least need bytes in all (at most max: NC_ERR_TOO_LARGE
 * beyond), for a caller that writes into data + len itself. */
NC_MUST_CHECK nc_err nc_buf_reserve(nc_buf *b, size_t need);

/* After a short writev/sendmsg of done bytes: drops the iovecs written
 * whole and advances into the one written in part (*v, *n updated).
 * Arithmetic only: async-signal-safe. */
struct iovec;
void nc_iov_consume(struct iovec **v, int *n, size_t done);
/* Hands the data to the caller (free()); leaves b empty. */
uint8_t *nc_buf_steal(nc_buf *b, size_t *len);

#endif
