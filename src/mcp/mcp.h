/* nightcore-mcp's protocol core: one MCP JSON-RPC message in, at most one out.
 *
 * No I/O happens here: the transport (main.c) reads lines from stdin and
 * writes replies to stdout, and the worker is reached through the backend's
 * call function, so the whole request path can be fuzzed with a stub
 * (tests/fuzz/fuzz_mcp.c). The server holds no key and no token: the backend
 * adds the agent's token to each worker request.
 *
 * MCP over stdio (docs/agents.md): newline-delimited JSON-RPC 2.0; protocol
 * versions 2025-11-25, 2025-06-18, 2025-03-26; methods initialize, ping,
 * tools/list, tools/call; notifications are never answered; batches are
 * refused. Refusals by the worker are tool results with isError true, never
 * JSON-RPC errors. */
#ifndef NC_MCP_MCP_H
#define NC_MCP_MCP_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "common/error.h"
#include "common/rpc.h"

/* A request line longer than this is answered -32600 and skipped. It leaves
 * room for a 16 MiB module in base64 (22.4 MB) inside its JSON. */
#define NC_MCP_MAX_LINE_BYTES (32u * 1024 * 1024)
#define NC_MCP_PROTOCOL_LATEST "2025-11-25"

/* JSON-RPC error codes */
#define NC_JSONRPC_PARSE_ERROR (-32700)
#define NC_JSONRPC_INVALID_REQUEST (-32600)
#define NC_JSONRPC_METHOD_NOT_FOUND (-32601)
#define NC_JSONRPC_INVALID_PARAMS (-32602)
#define NC_JSONRPC_INTERNAL_ERROR (-32603)

/* Calls worker op `op` (an agent op) with params (stolen, also on failure).
 *   NC_OK     *result = the op's result (new reference)
 *   otherwise err->code and err->message say what to tell the agent: the
 *             worker's refusal ("not_approved", ...), or "unavailable" when
 *             the worker cannot be reached. */
typedef nc_err (*nc_mcp_call_fn)(void *ctx, const char *op, json_t *params, json_t **result, nc_rpc_error *err);
/* One line of diagnostics (no newline); the text may hold agent-supplied
 * bytes, so the sink escapes what it prints. */
typedef void (*nc_mcp_log_fn)(void *ctx, const char *text);

typedef struct {
    nc_mcp_call_fn call;
    nc_mcp_log_fn log;   /* may be NULL */
    void *ctx;
} nc_mcp_backend;

typedef struct nc_mcp_server nc_mcp_server;

/* agent: the name given with --agent (nc_mcp_agent_name_ok). NC_ERR_INTERNAL
 * (msg says why) if the built-in tool table is inconsistent. */
NC_MUST_CHECK nc_err nc_mcp_server_new(const char *agent, const nc_mcp_backend *backend, nc_mcp_server **out,
                                       char *msg, size_t msg_len);
void nc_mcp_server_free(nc_mcp_server *s);

/* Handles one message (a line without its newline; any bytes). On NC_OK,
 * *reply is the JSON-RPC response to write, compact, one line without a
 * newline (malloc'd; caller frees), or NULL when nothing is to be sent
 * (notifications, responses, blank lines). NC_ERR_NOMEM is the only failure. */
NC_MUST_CHECK nc_err nc_mcp_handle_message(nc_mcp_server *s, const char *line, size_t len, char **reply,
                                           size_t *reply_len);

/* A JSON-RPC error response with id null (for a line the transport refused
 * before parsing it, such as one over NC_MCP_MAX_LINE_BYTES). */
NC_MUST_CHECK nc_err nc_mcp_error_reply(int code, const char *message, char **reply, size_t *reply_len);

/* Agent names as `nightcore agent add` and `approve --allow-agent` take them:
 * 1-64 of a-z 0-9 _ -. */
bool nc_mcp_agent_name_ok(const char *name);

#endif
