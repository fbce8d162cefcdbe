/* Strict JSON helpers on jansson. Parsing refuses duplicate keys, NUL in
 * strings and trailing bytes; reals are refused where a field wants an
 * integer (nc_json_uint); objects are checked for unknown keys; the canonical
 * form is compact with sorted keys. */
#ifndef NC_COMMON_JSON_H
#define NC_COMMON_JSON_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"

/* Parses exactly len bytes (no trailing data). msg gets jansson's reason. */
NC_MUST_CHECK nc_err nc_json_parse_strict(const void *data, size_t len, json_t **out, char *msg,
                                          size_t msg_len);
/* Refuses any key of obj not in the NULL-terminated list. */
NC_MUST_CHECK nc_err nc_json_only_keys(const json_t *obj, const char *const *allowed, char *msg,
                                       size_t msg_len);
/* Canonical bytes (compact, sorted keys); malloc'd, NUL-terminated. */
char *nc_json_canonical(const json_t *v, size_t *len);
/* Whether bytes[0..len) is exactly v's canonical form, compared as it is
 * written out, without building the text. */
bool nc_json_is_canonical(const json_t *v, const char *bytes, size_t len);
/* A copy of v small enough to log whatever v holds: arrays and objects keep
 * their first max_items entries (then a "... and N more" marker), strings
 * their first max_string bytes (cut at a UTF-8 boundary, with their length),
 * nesting below 8 levels and anything past NC_JSON_BOUNDED_NODES values in
 * all becomes "...". NULL when out of memory. */
#define NC_JSON_BOUNDED_NODES 1024u
json_t *nc_json_bounded(const json_t *v, size_t max_items, size_t max_string);
/* A non-negative integer that fits in max; reals and negatives refused. */
NC_MUST_CHECK nc_err nc_json_uint(const json_t *v, uint64_t max, uint64_t *out);

#endif
