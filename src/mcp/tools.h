/* The five tools nightcore-mcp offers an agent, each one agent op of the
 * worker (docs/protocol.md "Agent ops"). There is deliberately no tool that
 * approves, signs, trusts, revokes or changes policy: the agent socket has no
 * such op, and this table is the whole list. */
#ifndef NC_MCP_TOOLS_H
#define NC_MCP_TOOLS_H
#include <jansson.h>
#include <stddef.h>
#include "common/error.h"

/* The largest base64 text of NC_MAX_MODULE_BYTES (and NC_MAX_STDIN_BYTES):
 * 4 * ceil(16 MiB / 3). */
#define NC_MCP_MAX_BASE64_CHARS 22369624

typedef struct nc_mcp_tool nc_mcp_tool;

/* The tools/list "tools" array for agent `agent`: name, title, description,
 * inputSchema, outputSchema, annotations. Every inputSchema has passed
 * nc_mcp_schema_check. New reference; NC_ERR_INTERNAL (msg says why) means
 * the built-in table itself is wrong. */
NC_MUST_CHECK nc_err nc_mcp_tools_build(const char *agent, json_t **tools, char *msg, size_t msg_len);

/* The tool named name, or NULL. Static storage. */
const nc_mcp_tool *nc_mcp_tool_find(const char *name);
const char *nc_mcp_tool_name(const nc_mcp_tool *t);
/* The worker op the tool calls. */
const char *nc_mcp_tool_op(const nc_mcp_tool *t);

/* The worker op's params for arguments that already passed the tool's
 * inputSchema: tool argument names renamed to the protocol's
 * (wasm_base64 -> wasm_b64, submission_id -> submission, ...). New object;
 * NULL on allocation failure or an argument the table does not map. */
json_t *nc_mcp_tool_params(const nc_mcp_tool *t, const json_t *arguments);

#endif
