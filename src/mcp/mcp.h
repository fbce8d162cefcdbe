/* nightcore-mcp's protocol core: MCP JSON-RPC messages in, responses and
 * notifications out.
 *
 * No I/O happens here: the transport (main.c) reads lines from stdin and
 * writes what the core sends to stdout, and the worker is reached through the
 * backend's call function, so the whole request path can be fuzzed with a stub
 * (tests/fuzz/fuzz_mcp.c). The server holds no key and no token: the backend
 * adds the agent's token to each worker request.
 *
 * MCP over stdio (docs/agents.md): newline-delimited JSON-RPC 2.0; protocol
 * versions 2025-11-25, 2025-06-18, 2025-03-26 through initialize (the
 * 2026-07-28 server/discover is declined with -32022 naming them); nothing
 * but ping before initialize; the tools and resources methods; notifications
 * initialized and cancelled; batches are refused. Refusals by the worker are
 * tool results with isError true, never JSON-RPC errors.
 *
 * Concurrency: tools/call runs as a job on another thread (the backend's
 * spawn), so a run never blocks ping, other calls or cancellation; the job
 * sends its response itself. Without spawn (the fuzzer) jobs run inline. The
 * worker's agent events (nc_mcp_on_event) wake waiting calls and become
 * notifications: tools/list_changed for approvals that come and go,
 * resources/updated for subscribed resources. */
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
/* Tool calls in progress at once; more are refused (busy) until one ends. */
#define NC_MCP_MAX_INFLIGHT 16u
/* resources/subscribe: at most this many URIs at once. */
#define NC_MCP_MAX_SUBSCRIPTIONS 256u

/* JSON-RPC error codes */
#define NC_JSONRPC_PARSE_ERROR (-32700)
#define NC_JSONRPC_INVALID_REQUEST (-32600)
#define NC_JSONRPC_METHOD_NOT_FOUND (-32601)
#define NC_JSONRPC_INVALID_PARAMS (-32602)
#define NC_JSONRPC_INTERNAL_ERROR (-32603)
#define NC_JSONRPC_UNSUPPORTED_VERSION (-32022)   /* MCP 2026-07-28: protocol version not supported */

/* Calls worker op `op` (an agent op) with params (stolen, also on failure).
 * Must be safe to call from several threads at once (each call on its own
 * connection).
 *   NC_OK     *result = the op's result (new reference)
 *   otherwise err->code and err->message say what to tell the agent: the
 *             worker's refusal ("not_approved", ...), or "unavailable" when
 *             the worker cannot be reached. */
typedef nc_err (*nc_mcp_call_fn)(void *ctx, const char *op, json_t *params, json_t **result, nc_rpc_error *err);
/* Like call, for an op that sends event lines before its response (a run
 * with "stream": true): on_event gets each one (nc_rpc_event_fn), on the
 * calling thread. May be NULL (the core then calls without streaming). */
typedef nc_rpc_event_fn nc_mcp_event_cb;
typedef nc_err (*nc_mcp_call_stream_fn)(void *ctx, const char *op, json_t *params, nc_mcp_event_cb on_event,
                                        void *cb_ctx, json_t **result, nc_rpc_error *err);
/* One line of diagnostics (no newline); the text may hold agent-supplied
 * bytes, so the sink escapes what it prints. */
typedef void (*nc_mcp_log_fn)(void *ctx, const char *text);
/* Writes one message (compact JSON, no newline) to the client; thread-safe,
 * messages never interleave. false if the client is gone. */
typedef bool (*nc_mcp_send_fn)(void *ctx, const char *msg, size_t len);
/* Runs fn(arg) on another thread; false if it cannot (the core then refuses
 * the call). NULL: the core runs jobs inline. */
typedef bool (*nc_mcp_spawn_fn)(void *ctx, void (*fn)(void *arg), void *arg);

typedef struct {
    nc_mcp_call_fn call;
    nc_mcp_call_stream_fn call_stream;   /* may be NULL */
    nc_mcp_log_fn log;                   /* may be NULL */
    nc_mcp_send_fn send;
    nc_mcp_spawn_fn spawn;               /* may be NULL */
    void *ctx;
} nc_mcp_backend;

typedef struct nc_mcp_server nc_mcp_server;

/* agent: the name given with --agent (nc_mcp_agent_name_ok). NC_ERR_INTERNAL
 * (msg says why) if the built-in tool table is inconsistent. */
NC_MUST_CHECK nc_err nc_mcp_server_new(const char *agent, const nc_mcp_backend *backend, nc_mcp_server **out,
                                       char *msg, size_t msg_len);
/* Call only once no job is running (nc_mcp_wait_idle). */
void nc_mcp_server_free(nc_mcp_server *s);

/* Handles one message (a line without its newline; any bytes). Everything
 * to send (the response, if any) goes out through backend.send, now or, for
 * a tool call, when its job ends. NC_ERR_NOMEM is the only failure. */
NC_MUST_CHECK nc_err nc_mcp_handle_message(nc_mcp_server *s, const char *line, size_t len);

/* Sends a JSON-RPC error response with id null (for a line the transport
 * refused before parsing it, such as one over NC_MCP_MAX_LINE_BYTES). */
NC_MUST_CHECK nc_err nc_mcp_send_error(nc_mcp_server *s, int code, const char *message);

/* The worker's agent event feed (docs/protocol.md "Agent events"), from the
 * transport's feed thread. up: the subscription was (re)established (state may
 * have changed meanwhile: waiters re-check, the approved tools are re-read) or
 * lost. */
void nc_mcp_feed_state(nc_mcp_server *s, bool up);
void nc_mcp_on_event(nc_mcp_server *s, const json_t *event);
/* Once a second from the feed thread: approvals whose expires_at passed
 * leave the tool list. */
void nc_mcp_tick(nc_mcp_server *s);

/* End of input: waiting calls answer now with what they have; then blocks
 * until every job has sent its response. */
void nc_mcp_wait_idle(nc_mcp_server *s);

/* Agent names as `nightcore agent add` and `approve --allow-agent` take them:
 * 1-64 of a-z 0-9 _ -. */
bool nc_mcp_agent_name_ok(const char *name);

#endif
