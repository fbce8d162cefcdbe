/* The JSON Schema subset nightcore-mcp's tool inputSchemas use, checked in C.
 *
 * Each tool's inputSchema is published to the agent in tools/list and is the
 * only description of its arguments: the same JSON text drives this
 * validator, so what the agent is told and what is enforced cannot drift.
 * Arguments are validated before anything reaches the worker.
 *
 * Keywords implemented (anything else in a schema is a programming error,
 * refused by nc_mcp_schema_check, which the server runs on every schema at
 * start-up):
 *   type ("object" | "string" | "integer" | "boolean" | "array"),
 *   properties, required, additionalProperties (false or a schema),
 *   propertyNames, maxProperties,
 *   minLength, maxLength (Unicode code points, as JSON Schema counts them),
 *   pattern (POSIX extended regex; keep patterns to the ERE/ECMA-262 overlap),
 *   contentEncoding "base64" (enforced: padded standard alphabet),
 *   enum, minimum, maximum, items, minItems, maxItems,
 *   and the annotations title, description, default, examples.
 * Beyond the schema, strings containing NUL are always refused: nothing the
 * worker takes can hold one. */
#ifndef NC_MCP_SCHEMA_H
#define NC_MCP_SCHEMA_H
#include <jansson.h>
#include <stddef.h>
#include "common/error.h"

/* NC_OK if schema only uses the keywords above, with values of the right
 * types and patterns that compile; else NC_ERR_INTERNAL and msg says where. */
NC_MUST_CHECK nc_err nc_mcp_schema_check(const json_t *schema, char *msg, size_t msg_len);

/* NC_OK if instance conforms to schema (which passed nc_mcp_schema_check).
 * Otherwise NC_ERR_MALFORMED and msg names the first offending value by its
 * path from root_name ("arguments.dirs[2].mode") and what was expected. */
NC_MUST_CHECK nc_err nc_mcp_schema_validate(const json_t *schema, const json_t *instance, const char *root_name,
                                            char *msg, size_t msg_len);

#endif
