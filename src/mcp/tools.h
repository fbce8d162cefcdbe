/* The tools nightcore-mcp offers an agent, each built on agent ops of the
 * worker (docs/protocol.md "Agent ops"), and one more tool per approval the
 * agent can run. There is deliberately no tool that approves, signs, trusts,
 * revokes or changes policy: the agent socket has no such op, and the table
 * in tools.c is the whole list of built-ins. */
#ifndef NC_MCP_TOOLS_H
#define NC_MCP_TOOLS_H
#include <jansson.h>
#include <stddef.h>
#include "common/error.h"

/* The largest base64 text of NC_MAX_MODULE_BYTES (and NC_MAX_STDIN_BYTES):
 * 4 * ceil(16 MiB / 3). */
#define NC_MCP_MAX_BASE64_CHARS 22369624

/* get_run pages: by default this many bytes of stdout and of stderr, at most
 * NC_MCP_MAX_PAGE_BYTES. */
#define NC_MCP_DEFAULT_PAGE_BYTES 16384
#define NC_MCP_MAX_PAGE_BYTES 1048576
/* The first page of a run's output in a run's own result. */
#define NC_MCP_RESULT_PAGE_BYTES 16384

typedef struct nc_mcp_tool nc_mcp_tool;

/* What the server does with a call. */
typedef enum {
    NC_MCP_KIND_CALL,        /* one worker op, its result as it is */
    NC_MCP_KIND_WAIT,        /* wait_for_submission: the op until the state is decided, fed by events */
    NC_MCP_KIND_APPROVALS,   /* list_approvals: the op's items with the tool each one appears as */
    NC_MCP_KIND_RUN,         /* a run: progress, the run's view and summary */
    NC_MCP_KIND_GET_RUN,     /* a run's view, one page of its output */
} nc_mcp_kind;

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

nc_mcp_kind nc_mcp_tool_kind(const nc_mcp_tool *t);

/* The worker op's params for arguments that already passed the tool's
 * inputSchema: tool argument names renamed to the protocol's
 * (wasm_base64 -> wasm_b64, submission_id -> submission, ...); arguments the
 * server handles itself (timeout_s, paging) are left out. New object; NULL on
 * allocation failure or an argument the table does not map. */
json_t *nc_mcp_tool_params(const nc_mcp_tool *t, const json_t *arguments);

/* The tools for the approvals an agent can run (approvals.list items, newest
 * first): one per approval, named after its module (A-Z a-z 0-9 _ -, at most
 * 64; the newest approval of a name gets the name itself, older ones a
 * suffix of their id; never a built-in's name), with an inputSchema of what
 * the approval grants (args: an array of strings; stdin: a string) and its
 * description. Each tool's _meta["nightcore/approval_id"] names its approval.
 * New array; NULL on allocation failure. */
json_t *nc_mcp_approval_tools(const json_t *approvals, const char *agent);
/* The approval id a tool object of nc_mcp_approval_tools runs. */
const char *nc_mcp_approval_tool_id(const json_t *tool);
/* The approval tools' input schema, checked like the built-ins'. */
#define NC_MCP_APPROVAL_META_KEY "nightcore/approval_id"

#endif
