/* Bounded reader over untrusted bytes. A failed read never moves the cursor;
 * every bounds check is a subtraction against what remains. */
#ifndef NC_COMMON_READER_H
#define NC_COMMON_READER_H
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"

typedef struct {
    const uint8_t *data;
    size_t len;
    size_t pos;
} nc_reader;

void nc_reader_init(nc_reader *r, const void *data, size_t len);
size_t nc_reader_remaining(const nc_reader *r);
NC_MUST_CHECK nc_err nc_read_u8(nc_reader *r, uint8_t *out);
NC_MUST_CHECK nc_err nc_read_u32be(nc_reader *r, uint32_t *out);
NC_MUST_CHECK nc_err nc_read_u64be(nc_reader *r, uint64_t *out);
/* LEB128 unsigned, at most 32 bits, canonical length (<= 5 bytes). */
NC_MUST_CHECK nc_err nc_read_uleb32(nc_reader *r, uint32_t *out);
/* Borrowed pointer into the reader's buffer, valid as long as that buffer. */
NC_MUST_CHECK nc_err nc_read_bytes(nc_reader *r, size_t n, const uint8_t **out);
/* u32be length, then that many bytes; length checked against max first. */
NC_MUST_CHECK nc_err nc_read_string(nc_reader *r, size_t max, const uint8_t **out, size_t *out_len);
NC_MUST_CHECK nc_err nc_read_expect_end(const nc_reader *r);

#endif
