#ifndef NC_COMMON_HASH_H
#define NC_COMMON_HASH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"

#define NC_SHA256_LEN 32
#define NC_SHA256_HEX_LEN 64

/* SHA-256 through OpenSSL (uses SHA-NI where the CPU has it). */
NC_MUST_CHECK nc_err nc_sha256(const void *data, size_t len, uint8_t out[NC_SHA256_LEN]);
/* sha256(prefix || data), without copying data (the audit log's leaves). */
NC_MUST_CHECK nc_err nc_sha256_prefixed(uint8_t prefix, const void *data, size_t len, uint8_t out[NC_SHA256_LEN]);
/* Lower-case hex; out must hold 2*len+1 bytes. */
void nc_hex(const uint8_t *in, size_t len, char *out);
/* Parses exactly 2*len lower-case hex digits. */
NC_MUST_CHECK nc_err nc_unhex(const char *in, size_t in_len, uint8_t *out, size_t len);

#endif
