/* nightcore-mcp's protocol core: the MCP session. JSON-RPC messages in,
 * responses and notifications out, each with where it belongs.
 *
 * No I/O happens here: a transport (stdio.c, http.c behind transport.h)
 * feeds it the client's messages and delivers what it sends, and the worker
 * is reached through the backend's call function, so the whole request path
 * can be fuzzed with a stub (tests/fuzz/fuzz_mcp.c). The core holds no key
 * and no token: the backend adds the agent's token to each worker request.
 *
 * MCP (docs/agents.md): JSON-RPC 2.0; protocol versions 2025-11-25,
 * 2025-06-18, 2025-03-26 through initialize (the 2026-07-28 server/discover
 * is declined with -32022 naming them); nothing but ping before initialize;
 * the tools and resources methods; notifications initialized and cancelled;
 * batches are refused. Refusals by the worker are tool results with isError
 * true, never JSON-RPC errors.
 *
 * Concurrency: tools/call runs as a job on another thread (the backend's
 * spawn), so a run never blocks ping, other calls or cancellation; the job
 * sends its response itself. Without spawn (the fuzzer) jobs run inline. The
 * worker's agent events (nc_mcp_on_event) wake waiting calls and become
 * notifications: tools/list_changed for approvals that come and go,
 * resources/updated for subscribed resources.
 *
 * Routing: every message goes out with its kind and the id of the request
 * it belongs to, so a transport with one stream per request (Streamable
 * HTTP) can put it on the right one; stdio writes them all in order. */
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

/* Streamable HTTP (http.c) */
#define NC_MCP_HTTP_PATH "/mcp"
#define NC_MCP_HTTP_MAX_SESSIONS 16u                  /* more: the least recently used idle one goes, else 503 */
#define NC_MCP_HTTP_SESSION_IDLE_S 3600u              /* a session with no request and no open stream this long ends */
#define NC_MCP_HTTP_SESSION_IDLE_MAX_S 86400u          /* --session-idle at most */
#define NC_MCP_HTTP_MAX_BODY NC_MCP_MAX_LINE_BYTES    /* a message in a session */
#define NC_MCP_HTTP_MAX_OPEN_BODY (64u * 1024)        /* a message without a session (initialize) */
#define NC_MCP_HTTP_BODY_BUDGET (96u * 1024 * 1024)   /* bodies buffered at once, all requests */
#define NC_MCP_HTTP_DISCARD_BODY (1024u * 1024)       /* of a refused body, read and drop up to this, then close */
#define NC_MCP_HTTP_STREAM_QUEUE 256u                 /* messages waiting on one stream; more: it is dropped */
#define NC_MCP_HTTP_PENDING 64u                       /* session messages kept while no GET stream is open */
#define NC_MCP_HTTP_MAX_CONNECTIONS 1024u             /* at most; less when RLIMIT_NOFILE is lower */
#define NC_MCP_HTTP_FD_RESERVE 128u                   /* descriptors kept for worker connections and the rest */
#define NC_MCP_HTTP_POLL_THREADS 2u
#define NC_MCP_HTTP_HANDLER_THREADS 4u
#define NC_MCP_HTTP_MAX_JOBS 64u                      /* requests waiting for a handler thread */
#define NC_MCP_HTTP_IDLE_TIMEOUT_S 10u                /* a connection silent this long is closed */
#define NC_MCP_HTTP_CONN_MEMORY (128u * 1024)
#define NC_MCP_HTTP_MAX_HEAD (32u * 1024)
#define NC_MCP_HTTP_KEEPALIVE_S 15u

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

/* What a message sent belongs to. */
typedef enum {
    NC_MCP_OUT_SESSION,    /* a notification of the session: tools/list_changed, resources/updated */
    NC_MCP_OUT_PROGRESS,   /* a notification about request `request` (its progress) */
    NC_MCP_OUT_RESPONSE,   /* the response to `request` (NULL: to a message whose id could not be read);
                            * nothing more follows for it */
    NC_MCP_OUT_DEFERRED,   /* no message: `request` is taken on by a job, whose progress and response
                            * follow, from another thread; sent before the job starts */
    NC_MCP_OUT_DROPPED,    /* no message: `request` ends without a response (the client cancelled it,
                            * or the session ended) */
} nc_mcp_out;

/* Delivers one message (compact JSON, no newline; NULL for DEFERRED and
 * DROPPED) to the client; thread-safe, messages never interleave. false if
 * it could not go out. */
typedef bool (*nc_mcp_send_fn)(void *ctx, nc_mcp_out kind, const json_t *request, const char *msg, size_t len);
/* Runs fn(arg) on another thread; false if it cannot (the core then refuses
 * the call). NULL: the core runs jobs inline. */
typedef bool (*nc_mcp_spawn_fn)(void *ctx, void (*fn)(void *arg), void *arg);

typedef struct {
    nc_mcp_call_fn call;                 /* these two get worker as their ctx */
    nc_mcp_call_stream_fn call_stream;   /* may be NULL */
    void *worker;
    nc_mcp_log_fn log;                   /* these three get ctx; log may be NULL */
    nc_mcp_send_fn send;
    nc_mcp_spawn_fn spawn;               /* may be NULL */
    void *ctx;
} nc_mcp_backend;

/* What a message fed to the core was (for the transport's answer). */
typedef enum {
    NC_MCP_IN_BLANK,          /* nothing but white space: ignored */
    NC_MCP_IN_INVALID,        /* not a JSON-RPC message: answered with an error */
    NC_MCP_IN_REQUEST,        /* a request (method and id): answered now or by a job (DEFERRED) */
    NC_MCP_IN_NOTIFICATION,   /* never answered */
    NC_MCP_IN_RESPONSE,       /* a response from the client: nothing to match it to, ignored */
} nc_mcp_in_kind;

typedef struct {
    nc_mcp_in_kind kind;
    char method[48];          /* a request's or notification's method, printable and cut short; else "" */
} nc_mcp_in;

typedef struct nc_mcp_server nc_mcp_server;

/* agent: the name given with --agent (nc_mcp_agent_name_ok). NC_ERR_INTERNAL
 * (msg says why) if the built-in tool table is inconsistent. */
NC_MUST_CHECK nc_err nc_mcp_server_new(const char *agent, const nc_mcp_backend *backend, nc_mcp_server **out,
                                       char *msg, size_t msg_len);
/* Call only once no job is running (nc_mcp_wait_idle). */
void nc_mcp_server_free(nc_mcp_server *s);

/* Handles one message (a line without its newline; any bytes). Everything
 * to send (the response, if any) goes out through backend.send, now or, for
 * a tool call, when its job ends. in (may be NULL) says what the message
 * was. NC_ERR_NOMEM is the only failure. */
NC_MUST_CHECK nc_err nc_mcp_handle_message(nc_mcp_server *s, const char *line, size_t len, nc_mcp_in *in);

/* initialize was answered: the session is set up. */
bool nc_mcp_initialized(nc_mcp_server *s);
/* The protocol version initialize settled on, or NULL before it. */
const char *nc_mcp_protocol(nc_mcp_server *s);
/* One of the versions this server speaks (exact bytes, len of them). */
bool nc_mcp_protocol_supported(const char *v, size_t len);

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
 * until every job has sent its response and every run.cancel it asked for
 * has been made. */
void nc_mcp_wait_idle(nc_mcp_server *s);
/* The session ends: every call in progress is cancelled as if the client had
 * sent notifications/cancelled for it (its run is cancelled in the worker;
 * DROPPED, no response). Then nc_mcp_wait_idle. */
void nc_mcp_cancel_all(nc_mcp_server *s);

/* Agent names as `nightcore agent add` and `approve --allow-agent` take them:
 * 1-64 of a-z 0-9 _ -. */
bool nc_mcp_agent_name_ok(const char *name);

#endif
