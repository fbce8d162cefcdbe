/* Field readers shared by the strict statement parsers (statement.c,
 * admin.c): each checks one field's type and bounds and says which field was
 * wrong, with NC_ERR_STATEMENT. */
#ifndef NC_TRUST_FIELDS_H
#define NC_TRUST_FIELDS_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"

/* obj is an object with exactly the keys listed (none missing, none extra). */
NC_MUST_CHECK nc_err nc_field_require(const json_t *obj, const char *what, const char *const *keys, char *msg,
                                      size_t msg_len);
/* A string shorter than dst_size, copied NUL-terminated (no embedded NUL). */
NC_MUST_CHECK nc_err nc_field_string(const json_t *obj, const char *key, char *dst, size_t dst_size, char *msg,
                                     size_t msg_len);
/* A non-negative integer (no reals). */
NC_MUST_CHECK nc_err nc_field_uint(const json_t *obj, const char *key, uint64_t *out, char *msg, size_t msg_len);
NC_MUST_CHECK nc_err nc_field_bool(const json_t *obj, const char *key, bool *out, char *msg, size_t msg_len);
/* Exactly 2n lower-case hex digits. */
NC_MUST_CHECK nc_err nc_field_hex(const json_t *obj, const char *key, uint8_t *out, size_t n, char *msg,
                                  size_t msg_len);
/* The in-toto Statement v1 envelope: _type, predicateType (must equal
 * predicate_type), exactly one subject {name, digest {sha256}}; the subject's
 * name and digest and the predicate object (borrowed from root) come back. */
NC_MUST_CHECK nc_err nc_field_envelope(const json_t *root, const char *predicate_type, char *name, size_t name_size,
                                       uint8_t sha256[32], const json_t **predicate, char *msg, size_t msg_len);

/* One encoding per statement: the bytes must be exactly what the builder
 * makes of the parsed fields (canon); NC_ERR_STATEMENT otherwise. */
NC_MUST_CHECK nc_err nc_field_canonical(const char *canon, size_t canon_len, const uint8_t *data, size_t len,
                                        char *msg, size_t msg_len);

#endif
