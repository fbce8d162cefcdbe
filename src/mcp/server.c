#include "mcp/mcp.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mcp/schema.h"
#include "mcp/tools.h"

#define AGENT_NAME_MAX 64
#define SHOWN_NAME_MAX 64   /* method or tool names quoted back in messages */

/* Versions we speak, newest first (lifecycle: answer the client's version if
 * we support it, otherwise our latest, and let the client decide). */
static const char *const protocol_versions[] = {NC_MCP_PROTOCOL_LATEST, "2025-06-18", "2025-03-26", NULL};

struct nc_mcp_server {
    char agent[AGENT_NAME_MAX + 1];
    nc_mcp_backend be;
    json_t *tools;         /* the tools/list array */
    char *instructions;
};

bool nc_mcp_agent_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n >= 1 && n <= AGENT_NAME_MAX && strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static void logf_(const nc_mcp_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const nc_mcp_server *s, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    if (!s->be.log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->be.log(s->be.ctx, line);
}

/* Agent-supplied bytes quoted in a message: printable ASCII only, shortened. */
static void printable(const char *in, size_t in_len, char *out, size_t out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < in_len && o + 4 < out_len && i < SHOWN_NAME_MAX; i++) {
        unsigned char c = (unsigned char)in[i];
        out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (in_len > SHOWN_NAME_MAX && o + 4 <= out_len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    if (out_len)
        out[o] = '\0';
}

/* A JSON string from bytes that may not be valid UTF-8 (a worker message cut
 * at a byte limit, jansson's parse error text): invalid input keeps its
 * ASCII and turns every other byte into '?'. */
static json_t *text_json(const char *s)
{
    size_t n = strlen(s);
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    char *copy = malloc(n + 1);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < n; i++)
        copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    copy[n] = '\0';
    j = json_stringn(copy, n);
    free(copy);
    return j;
}

/* {"jsonrpc":"2.0","id":id,"error":{"code":code,"message":...}}; id NULL: null. */
static json_t *error_response(const json_t *id, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static json_t *error_response(const json_t *id, int code, const char *fmt, ...)
{
    char message[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    json_t *m = text_json(message);
    if (!m)
        return NULL;
    return json_pack("{s:s, s:O, s:{s:i, s:o}}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", "code",
                     code, "message", m);
}

static json_t *result_response(const json_t *id, json_t *result /* stolen */)
{
    if (!result)
        return NULL;
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

/* ---- tools/call results ---- */

/* A refusal as the agent sees it: isError, the code and message in the text
 * and in structuredContent.error. */
static json_t *tool_error(const char *code, const char *message)
{
    char text[1024];
    snprintf(text, sizeof text, "%s: %s", code, message);
    json_t *t = text_json(text), *c = text_json(code), *m = text_json(message);
    if (!t || !c || !m) {
        json_decref(t);
        json_decref(c);
        json_decref(m);
        return NULL;
    }
    return json_pack("{s:[{s:s, s:o}], s:{s:{s:o, s:o}}, s:b}", "content", "type", "text", "text", t,
                     "structuredContent", "error", "code", c, "message", m, "isError", 1);
}

static json_t *tool_success(json_t *result /* stolen */)
{
    char *text = json_dumps(result, JSON_COMPACT);
    json_t *r = NULL;
    if (text)
        r = json_pack("{s:[{s:s, s:s}], s:O, s:b}", "content", "type", "text", "text", text, "structuredContent",
                      result, "isError", 0);
    free(text);
    json_decref(result);
    return r;
}

static json_t *tools_call(nc_mcp_server *s, const json_t *id, const json_t *params)
{
    char msg[512], shown[SHOWN_NAME_MAX + 8];
    nc_rpc_error rerr;
    json_t *result = NULL, *out = NULL;

    const json_t *name = json_object_get(params, "name");
    if (!json_is_string(name))
        return error_response(id, NC_JSONRPC_INVALID_PARAMS, "tools/call needs params.name, a string");
    printable(json_string_value(name), json_string_length(name), shown, sizeof shown);
    const nc_mcp_tool *t = strlen(json_string_value(name)) == json_string_length(name)
                               ? nc_mcp_tool_find(json_string_value(name))
                               : NULL;
    if (!t)
        return error_response(id, NC_JSONRPC_INVALID_PARAMS,
                              "Unknown tool: %s (the tools are submit_module, get_submission, list_submissions, "
                              "run_module, get_run)", shown);

    json_t *args = json_object_get(params, "arguments");
    json_t *empty = NULL;
    if (!args)
        args = empty = json_object();
    if (!args)
        return NULL;
    const json_t *schema = NULL;
    size_t i;
    json_t *def;
    json_array_foreach(s->tools, i, def) {
        if (strcmp(json_string_value(json_object_get(def, "name")), nc_mcp_tool_name(t)) == 0)
            schema = json_object_get(def, "inputSchema");
    }
    if (!schema || nc_mcp_schema_validate(schema, args, "arguments", msg, sizeof msg) != NC_OK) {
        if (!schema)
            snprintf(msg, sizeof msg, "internal error: no inputSchema for %s", nc_mcp_tool_name(t));
        logf_(s, "%s: invalid arguments: %s", nc_mcp_tool_name(t), msg);
        out = tool_error("invalid_request", msg);
        goto done;
    }
    json_t *wparams = nc_mcp_tool_params(t, args);
    if (!wparams) {
        out = tool_error("internal", "out of memory building the worker request");
        goto done;
    }
    memset(&rerr, 0, sizeof rerr);
    nc_err e = s->be.call(s->be.ctx, nc_mcp_tool_op(t), wparams, &result, &rerr);
    if (e == NC_OK && !json_is_object(result)) {
        e = NC_ERR_MALFORMED;
        snprintf(rerr.code, sizeof rerr.code, "internal");
        snprintf(rerr.message, sizeof rerr.message, "the worker's answer to %s is not an object", nc_mcp_tool_op(t));
    }
    if (e != NC_OK) {
        if (!rerr.code[0])
            snprintf(rerr.code, sizeof rerr.code, "internal");
        if (!rerr.message[0])
            snprintf(rerr.message, sizeof rerr.message, "%s", nc_strerror(e));
        logf_(s, "%s: refused: %s: %s", nc_mcp_tool_name(t), rerr.code, rerr.message);
        out = tool_error(rerr.code, rerr.message);
        goto done;
    }
    logf_(s, "%s: ok", nc_mcp_tool_name(t));
    out = tool_success(result);
    result = NULL;
done:
    json_decref(empty);
    json_decref(result);
    return out ? result_response(id, out) : NULL;
}

/* ---- methods ---- */

static json_t *initialize(nc_mcp_server *s, const json_t *id, const json_t *params)
{
    const json_t *pv = json_object_get(params, "protocolVersion");
    if (!json_is_string(pv))
        return error_response(id, NC_JSONRPC_INVALID_PARAMS, "initialize needs params.protocolVersion, a string");
    const char *chosen = NC_MCP_PROTOCOL_LATEST;
    for (size_t i = 0; protocol_versions[i]; i++)
        if (strlen(json_string_value(pv)) == json_string_length(pv) &&
            strcmp(json_string_value(pv), protocol_versions[i]) == 0)
            chosen = protocol_versions[i];
    const json_t *info = json_object_get(params, "clientInfo");
    char cname[SHOWN_NAME_MAX + 8], cver[SHOWN_NAME_MAX + 8], asked[SHOWN_NAME_MAX + 8];
    const json_t *n = json_object_get(info, "name"), *v = json_object_get(info, "version");
    printable(json_is_string(n) ? json_string_value(n) : "?", json_is_string(n) ? json_string_length(n) : 1, cname,
              sizeof cname);
    printable(json_is_string(v) ? json_string_value(v) : "?", json_is_string(v) ? json_string_length(v) : 1, cver,
              sizeof cver);
    printable(json_string_value(pv), json_string_length(pv), asked, sizeof asked);
    logf_(s, "initialize: client %s %s asked for protocol %s, using %s", cname, cver, asked, chosen);
    return result_response(id, json_pack("{s:s, s:{s:{}}, s:{s:s, s:s, s:s}, s:s}", "protocolVersion", chosen,
                                         "capabilities", "tools", "serverInfo", "name", "nightcore-mcp", "title",
                                         "Night Core", "version", NC_VERSION, "instructions", s->instructions));
}

static json_t *dispatch(nc_mcp_server *s, const char *method, const json_t *id, const json_t *params)
{
    if (strcmp(method, "initialize") == 0)
        return initialize(s, id, params);
    if (strcmp(method, "ping") == 0)
        return result_response(id, json_object());
    if (strcmp(method, "tools/list") == 0)
        return result_response(id, json_pack("{s:O}", "tools", s->tools));
    if (strcmp(method, "tools/call") == 0)
        return tools_call(s, id, params);
    char shown[SHOWN_NAME_MAX + 8];
    printable(method, strlen(method), shown, sizeof shown);
    return error_response(id, NC_JSONRPC_METHOD_NOT_FOUND, "Method not found: %s", shown);
}

static nc_err emit(json_t *resp, char **reply, size_t *reply_len)
{
    if (!resp)
        return NC_ERR_NOMEM;
    /* Compact: jansson escapes control characters inside strings, so the
     * message is one line, as the stdio transport requires. */
    *reply = json_dumps(resp, JSON_COMPACT);
    json_decref(resp);
    if (!*reply)
        return NC_ERR_NOMEM;
    *reply_len = strlen(*reply);
    return NC_OK;
}

nc_err nc_mcp_handle_message(nc_mcp_server *s, const char *line, size_t len, char **reply, size_t *reply_len)
{
    json_t *msg = NULL, *resp = NULL;
    json_error_t je;
    nc_err err = NC_OK;

    *reply = NULL;
    *reply_len = 0;
    size_t blank = 0;
    while (blank < len && (line[blank] == ' ' || line[blank] == '\t' || line[blank] == '\r' || line[blank] == '\n'))
        blank++;
    if (blank == len)
        return NC_OK;

    msg = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!msg) {
        resp = error_response(NULL, NC_JSONRPC_PARSE_ERROR, "Parse error: %s (line %d, column %d)", je.text, je.line,
                              je.column);
        goto send;
    }
    if (json_is_array(msg)) {
        resp = error_response(NULL, NC_JSONRPC_INVALID_REQUEST,
                              "Invalid Request: JSON-RPC batches are not supported; send one message per line");
        goto send;
    }
    if (!json_is_object(msg)) {
        resp = error_response(NULL, NC_JSONRPC_INVALID_REQUEST, "Invalid Request: a message must be a JSON object");
        goto send;
    }
    const json_t *id = json_object_get(msg, "id"), *jsonrpc = json_object_get(msg, "jsonrpc");
    const json_t *method = json_object_get(msg, "method"), *params = json_object_get(msg, "params");
    bool version_ok = json_is_string(jsonrpc) && strcmp(json_string_value(jsonrpc), "2.0") == 0 &&
                      json_string_length(jsonrpc) == 3;
    /* MCP ids are strings or integers, never null. */
    bool id_ok = json_is_string(id) || json_is_integer(id);
    const json_t *reply_id = id_ok ? id : NULL;

    if (!method && version_ok && id && (json_object_get(msg, "result") || json_object_get(msg, "error")))
        goto done;   /* a response: this server sends no requests, so there is nothing to match it to */
    if (!version_ok) {
        resp = error_response(reply_id, NC_JSONRPC_INVALID_REQUEST, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
        goto send;
    }
    if (id && !id_ok) {
        resp = error_response(NULL, NC_JSONRPC_INVALID_REQUEST, "Invalid Request: \"id\" must be a string or an integer");
        goto send;
    }
    if (!json_is_string(method)) {
        resp = error_response(reply_id, NC_JSONRPC_INVALID_REQUEST, "Invalid Request: \"method\" must be a string");
        goto send;
    }
    if (!id)
        goto done;   /* a notification (initialized, cancelled, ...): never answered, nothing to do */
    if (params && !json_is_object(params)) {
        resp = error_response(reply_id, NC_JSONRPC_INVALID_PARAMS, "Invalid params: \"params\" must be an object");
        goto send;
    }
    /* A method name with an embedded NUL matches nothing. */
    const char *m = json_string_value(method);
    resp = dispatch(s, strlen(m) == json_string_length(method) ? m : "\x01", reply_id, params);
send:
    err = emit(resp, reply, reply_len);
done:
    json_decref(msg);
    return err;
}

nc_err nc_mcp_error_reply(int code, const char *message, char **reply, size_t *reply_len)
{
    *reply = NULL;
    *reply_len = 0;
    return emit(error_response(NULL, code, "%s", message), reply, reply_len);
}

#define INSTRUCTIONS                                                                                       \
    "Night Core is an execution gate for untrusted WebAssembly, and you are agent \"%s\". You can submit "     \
    "modules to its inbox and run modules that a human has approved for you; nothing else. A human operator "  \
    "reviews every submission and approves it by signing with a key this server does not have; until then "   \
    "it cannot run, and no tool here can approve, sign, trust or change policy. The flow: submit_module "     \
    "(describe what the module does and request only the capabilities it needs), tell the user the "         \
    "submission id and ask them to review it (nightcore inbox show ID, then nightcore approve ID "           \
    "--allow-agent %s), check get_submission until its status is approved, then run_module. A refusal "      \
    "comes back as a tool error with a code (not_approved, not_invoker, rate_limited, quota_exceeded, busy, " \
    "unavailable, ...) and a message saying what to do; do not try to work around it."

static char *build_instructions(const char *agent)
{
    char *out = NULL;
    int n = snprintf(NULL, 0, INSTRUCTIONS, agent, agent);
    if (n < 0 || !(out = malloc((size_t)n + 1)))
        return NULL;
    snprintf(out, (size_t)n + 1, INSTRUCTIONS, agent, agent);
    return out;
}

nc_err nc_mcp_server_new(const char *agent, const nc_mcp_backend *backend, nc_mcp_server **out, char *msg,
                         size_t msg_len)
{
    nc_mcp_server *s = NULL;
    nc_err err = NC_ERR_USAGE;

    *out = NULL;
    if (msg_len)
        msg[0] = '\0';
    if (!nc_mcp_agent_name_ok(agent) || !backend || !backend->call) {
        snprintf(msg, msg_len, "the agent name must be 1-64 of a-z 0-9 _ -");
        goto done;
    }
    err = NC_ERR_NOMEM;
    if (!(s = calloc(1, sizeof *s)))
        goto done;
    snprintf(s->agent, sizeof s->agent, "%s", agent);
    s->be = *backend;
    if (!(s->instructions = build_instructions(agent)))
        goto done;
    err = nc_mcp_tools_build(agent, &s->tools, msg, msg_len);
    if (err != NC_OK)
        goto done;
    *out = s;
    s = NULL;
done:
    nc_mcp_server_free(s);
    return err;
}

void nc_mcp_server_free(nc_mcp_server *s)
{
    if (!s)
        return;
    json_decref(s->tools);
    free(s->instructions);
    free(s);
}
