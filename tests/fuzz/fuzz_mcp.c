/* Fuzz nightcore-mcp's message handling (src/mcp/server.c, tools.c,
 * schema.c): JSON-RPC parsing, method dispatch, tool argument validation
 * against the inputSchemas, and the shaping of worker answers into tool
 * results. The worker is a stub chosen by the input's first byte (a result,
 * a refusal, unreachable, an answer of the wrong type); the rest of the input
 * is lines, each one message, all to the same server.
 *
 * Jobs (tool calls) run inline (no spawn), so everything a message causes is
 * sent before nc_mcp_handle_message returns; events from the worker are fed
 * too (lines starting with '!' are an event object), so the approvals' tools,
 * waits and resource notifications are exercised.
 *
 * Invariants: every message sent is one line of JSON, an object with
 * "jsonrpc":"2.0" and either exactly one of result/error with an id, or a
 * method (a notification) without one; progress and drops name their
 * request; nothing but NC_OK or NC_ERR_NOMEM; the message's kind and method
 * as the transport reads them are in range. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mcp/mcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned stub_mode;

/* approvals.list answers: two approvals of one module and a name to sanitize */
static json_t *stub_approvals(void)
{
    return json_pack("{s:[{s:s, s:s, s:s, s:{s:b, s:b}, s:I, s:I, s:s}, {s:s, s:s, s:s, s:{s:b, s:b}, s:I, s:I}],"
                     " s:i}",
                     "items", "id", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "name",
                     "my.tool", "description", "d", "grants", "args", 1, "stdin", 1, "runs_left", (json_int_t)2,
                     "expires_at", (json_int_t)4000000000, "submission", "s_1", "id",
                     "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210", "name", "my.tool",
                     "description", "", "grants", "args", 0, "stdin", 0, "runs_left", (json_int_t)1, "expires_at",
                     (json_int_t)1, "total", 2);
}

static nc_err stub_call(void *ctx, const char *op, json_t *params, json_t **result, nc_rpc_error *err)
{
    (void)ctx;
    *result = NULL;
    if (!op || !json_is_object(params) || json_object_get(params, "token"))
        abort();   /* the core never handles the token */
    json_decref(params);
    if (strcmp(op, "approvals.list") == 0 && stub_mode % 5 == 0) {
        *result = stub_approvals();
        return *result ? NC_OK : NC_ERR_NOMEM;
    }
    switch (stub_mode % 5) {
    case 0:
        *result = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:{s:s}}", "id", "s_0123456789abcdef",
                            "name", "hello", "sha256", "00", "status", "pending", "outcome", "ok", "stdout_b64",
                            "aGVsbG8gd29ybGQK", "stderr", "\xc3", "stdout_total", (json_int_t)12, "run_id", "r_1",
                            "agent_state", "state", "approved_for_you");
        return *result ? NC_OK : NC_ERR_NOMEM;
    case 1:
        snprintf(err->code, sizeof err->code, "not_approved");
        snprintf(err->message, sizeof err->message, "nothing approved under \"\xc3\"");   /* cut UTF-8 */
        return NC_RPC_REFUSED;
    case 2:
        snprintf(err->code, sizeof err->code, "unavailable");
        snprintf(err->message, sizeof err->message, "the worker is not running");
        return NC_ERR_NOT_FOUND;
    case 3:
        *result = json_string("not an object");
        return NC_OK;
    default:
        return NC_ERR_IO;   /* a backend that says nothing */
    }
}

static void check_message(const char *msg, size_t len)
{
    json_error_t je;
    if (strlen(msg) != len || memchr(msg, '\n', len))
        abort();
    json_t *j = json_loadb(msg, len, JSON_REJECT_DUPLICATES, &je);
    const json_t *v = json_object_get(j, "jsonrpc");
    if (!json_is_object(j) || !json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0)
        abort();
    if (json_object_get(j, "method")) {
        if (json_object_get(j, "id") || json_object_get(j, "result") || json_object_get(j, "error"))
            abort();
    } else if (!json_object_get(j, "id") || (!json_object_get(j, "result") == !json_object_get(j, "error"))) {
        abort();
    }
    json_decref(j);
}

static bool stub_send(void *ctx, nc_mcp_out kind, const json_t *request, const char *msg, size_t len)
{
    (void)ctx;
    /* inline jobs: nothing is deferred; DROPPED carries no message, all else one */
    if (kind == NC_MCP_OUT_DEFERRED || (kind == NC_MCP_OUT_DROPPED) != (msg == NULL))
        abort();
    if ((kind == NC_MCP_OUT_PROGRESS || kind == NC_MCP_OUT_DROPPED) && !request)
        abort();
    if (msg)
        check_message(msg, len);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static nc_mcp_server *server;
    if (!server) {
        char msg[256];
        nc_mcp_backend be = {.call = stub_call, .call_stream = NULL, .log = NULL, .send = stub_send, .spawn = NULL,
                             .ctx = NULL};
        if (nc_mcp_server_new("fuzz-agent", &be, &server, msg, sizeof msg) != NC_OK)
            abort();
    }
    if (size == 0)
        return 0;
    stub_mode = data[0];
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (len > 0 && p[0] == '!') {
            json_t *ev = json_loadb(p + 1, len - 1, 0, NULL);
            if (json_is_object(ev))
                nc_mcp_on_event(server, ev);
            else if (ev)
                nc_mcp_feed_state(server, json_is_true(ev));
            json_decref(ev);
            nc_mcp_tick(server);
        } else {
            nc_mcp_in in;
            nc_err e = nc_mcp_handle_message(server, p, len, &in);
            if (e != NC_OK && e != NC_ERR_NOMEM)
                abort();
            if (e == NC_OK && (in.kind > NC_MCP_IN_RESPONSE || strnlen(in.method, sizeof in.method) == sizeof in.method))
                abort();
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    return 0;
}
