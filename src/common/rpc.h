/* Client side of the worker's JSON-lines protocol (docs/protocol.md), used by
 * the CLI, the console and the MCP server.
 *
 *   nc_rpc *rpc;
 *   nc_rpc_error rerr;
 *   json_t *res;
 *   if (nc_rpc_connect(path, &rpc, msg, sizeof msg) == NC_ERR_NOT_FOUND) ... "worker not running"
 *   switch (nc_rpc_call(rpc, "status", NULL, &res, &rerr)) {
 *   case NC_OK:          use res, json_decref(res)
 *   case NC_RPC_REFUSED: the worker said no: rerr.code ("busy", ...), rerr.message
 *   default:             transport error (rerr.message says what); the connection is unusable
 *   }
 *   nc_rpc_free(rpc);
 *
 * One request at a time per connection; a connection is not thread-safe.
 * Responses are read line by line into a buffer that never grows beyond
 * NC_RPC_MAX_RESPONSE_BYTES: a longer line is a transport error
 * (NC_ERR_TOO_LARGE), never a partial read. Lines are parsed with
 * JSON_REJECT_DUPLICATES (and JSON_ALLOW_NUL: a run's output text may hold
 * NUL characters, so callers use json_string_length, not strlen, for those
 * strings) and their id must match the request's. */
#ifndef NC_COMMON_RPC_H
#define NC_COMMON_RPC_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "common/error.h"

/* A response or event line longer than this is refused (the connection is then
 * unusable). Requests are refused before sending beyond the worker's own cap. */
#define NC_RPC_MAX_RESPONSE_BYTES (64u * 1024 * 1024)
#define NC_RPC_MAX_REQUEST_BYTES (32u * 1024 * 1024)

/* The worker refused the request (an `"ok": false` response): the code and
 * message are in the nc_rpc_error. Every other non-NC_OK return of
 * nc_rpc_call is a transport or protocol error. */
#define NC_RPC_REFUSED NC_ERR_REFUSED

typedef struct nc_rpc nc_rpc;

typedef struct {
    char code[64];      /* wire code of a refusal ("busy", "not_found", ...); "" for transport errors */
    char message[512];  /* the worker's message, or what went wrong in transport; NUL-terminated */
    char run_id[48];    /* busy because of a run in progress: its id (the error's "run_id"), else "" */
} nc_rpc_error;

/* Connects to a Unix stream socket (CLOEXEC). NC_ERR_NOT_FOUND when nothing
 * listens there (no socket file, or ECONNREFUSED: a stale socket), so the
 * caller can say "worker not running"; NC_ERR_TOO_LARGE if the path does not
 * fit in sockaddr_un; NC_ERR_IO otherwise (msg says why). *out is NULL unless
 * NC_OK. */
NC_MUST_CHECK nc_err nc_rpc_connect(const char *socket_path, nc_rpc **out, char *msg, size_t msg_len);
/* The same, and the process serving the socket must run as expected_uid
 * (SO_PEERCRED); NC_ERR_UNAUTHORIZED (msg names who does) otherwise: a socket
 * planted where the worker's should be is never talked to. */
NC_MUST_CHECK nc_err nc_rpc_connect_as(const char *socket_path, uid_t expected_uid, nc_rpc **out, char *msg,
                                       size_t msg_len);

/* Closes the connection. NULL-safe. */
void nc_rpc_free(nc_rpc *rpc);

/* Timeout for each later nc_rpc_call, in milliseconds, covering sending the
 * request and reading its response; -1 (the default) waits for ever (a `run`
 * can take as long as its policy allows). A timeout is a transport error
 * (NC_ERR_IO). */
void nc_rpc_set_timeout(nc_rpc *rpc, int timeout_ms);

/* Sends {"id": N, "op": op, ...params} and waits for the response with id N.
 * params: a JSON object or NULL; the reference is stolen (also on failure);
 * it must not contain "id" or "op" (NC_ERR_USAGE).
 *   NC_OK            *result = the response's "result" (new reference; caller json_decref)
 *   NC_RPC_REFUSED   err->code / err->message from the response's "error"
 *   anything else    transport/protocol error, err->message says what; the
 *                    connection is marked broken and every later call fails
 * Event lines arriving meanwhile (after events.subscribe) are skipped: use a
 * separate connection for subscriptions. err may be NULL. */
NC_MUST_CHECK nc_err nc_rpc_call(nc_rpc *rpc, const char *op, json_t *params, json_t **result,
                                 nc_rpc_error *err);

/* The same, and every event line that arrives before the response (a
 * streamed run's run.progress and run.output) is handed to on_event (the
 * inner {"type": ...} object, borrowed for the call) instead of skipped. An
 * event line with "bytes": N is followed by N raw bytes (a run with output
 * "raw"): they are read (at most NC_RPC_MAX_RAW_EVENT_BYTES) and handed over
 * as raw/raw_len (else NULL/0). With in_data != NULL the request carries
 * "stdin_bytes": in_len and the bytes follow its line raw (at most
 * 16 MiB; docs/protocol.md). */
#define NC_RPC_MAX_RAW_EVENT_BYTES (1024u * 1024)
typedef void (*nc_rpc_event_fn)(void *ctx, const json_t *event, const uint8_t *raw, size_t raw_len);
NC_MUST_CHECK nc_err nc_rpc_call_events(nc_rpc *rpc, const char *op, json_t *params, const uint8_t *in_data,
                                        size_t in_len, nc_rpc_event_fn on_event, void *ctx, json_t **result,
                                        nc_rpc_error *err);

/* After a successful "events.subscribe" call: waits up to timeout_ms (-1: for
 * ever, 0: only what is already available) for the next event line
 * {"event": {...}} and returns the inner object in *event (new reference).
 * NC_OK with *event == NULL means the timeout passed. NC_ERR_IO when the
 * worker closed the connection (it drops subscribers that fall too far
 * behind: resubscribe and re-read state), NC_ERR_MALFORMED for a line that is
 * not an event, NC_ERR_TOO_LARGE for an oversized line. */
NC_MUST_CHECK nc_err nc_rpc_read_event(nc_rpc *rpc, json_t **event, int timeout_ms);

#endif
