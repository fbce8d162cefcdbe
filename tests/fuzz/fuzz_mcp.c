/* Fuzz nightcore-mcp's message handling (src/mcp/server.c, tools.c,
 * schema.c): JSON-RPC parsing, method dispatch, tool argument validation
 * against the inputSchemas, and the shaping of worker answers into tool
 * results. The worker is a stub chosen by the input's first byte (a result,
 * a refusal, unreachable, an answer of the wrong type); the rest of the input
 * is lines, each one message, all to the same server.
 *
 * Invariants: every reply is one line of JSON, an object with "jsonrpc":"2.0"
 * and exactly one of result/error; nothing but NC_OK or NC_ERR_NOMEM. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mcp/mcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned stub_mode;

static nc_err stub_call(void *ctx, const char *op, json_t *params, json_t **result, nc_rpc_error *err)
{
    (void)ctx;
    *result = NULL;
    if (!op || !json_is_object(params) || json_object_get(params, "token"))
        abort();   /* the core never handles the token */
    json_decref(params);
    switch (stub_mode % 5) {
    case 0:
        *result = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", "s_0123456789abcdef", "name", "hello", "sha256", "00",
                            "status", "pending", "outcome", "ok");
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

static void check_reply(const char *reply, size_t len)
{
    json_error_t je;
    if (strlen(reply) != len || memchr(reply, '\n', len))
        abort();
    json_t *j = json_loadb(reply, len, JSON_REJECT_DUPLICATES, &je);
    const json_t *v = json_object_get(j, "jsonrpc");
    if (!json_is_object(j) || !json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0 ||
        !json_object_get(j, "id") || (!json_object_get(j, "result") == !json_object_get(j, "error")))
        abort();
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static nc_mcp_server *server;
    if (!server) {
        char msg[256];
        nc_mcp_backend be = {.call = stub_call, .log = NULL, .ctx = NULL};
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
        char *reply = NULL;
        size_t reply_len = 0;
        nc_err e = nc_mcp_handle_message(server, p, len, &reply, &reply_len);
        if (e != NC_OK && e != NC_ERR_NOMEM)
            abort();
        if (reply)
            check_reply(reply, reply_len);
        free(reply);
        if (!nl)
            break;
        p = nl + 1;
    }
    return 0;
}
