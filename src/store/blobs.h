/* Content-addressed module store: state/blobs/<sha256 hex>. Written once
 * (temp file, fsync, rename), never overwritten. Readers re-hash what they
 * read: the name is a claim, the verification pipeline checks it. */
#ifndef NC_STORE_BLOBS_H
#define NC_STORE_BLOBS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"
#include "common/hash.h"

NC_MUST_CHECK nc_err nc_blob_put(const char *dir, const uint8_t *data, size_t len,
                                 const char hex[NC_SHA256_HEX_LEN + 1]);
NC_MUST_CHECK nc_err nc_blob_get(const char *dir, const char hex[NC_SHA256_HEX_LEN + 1], size_t max,
                                 uint8_t **out, size_t *out_len);
/* Whether a blob of that name is present (not whether it is intact). */
bool nc_blob_exists(const char *dir, const char hex[NC_SHA256_HEX_LEN + 1]);
/* Removes a blob written for a change that did not commit. */
void nc_blob_remove(const char *dir, const char hex[NC_SHA256_HEX_LEN + 1]);

#endif
