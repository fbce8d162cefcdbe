/* src/mcp: a run's view and summary (runview.c), the approvals' tools
 * (tools.c), and the protocol core's handling of hostile and out-of-order
 * messages (server.c) with a stub worker, jobs inline. */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>
#include "mcp/mcp.h"
#include "mcp/runview.h"
#include "mcp/schema.h"
#include "mcp/tools.h"

static json_t *b64_string(const uint8_t *p, size_t n)
{
    size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(cap);
    sodium_bin2base64(s, cap, n ? p : (const uint8_t *)"", n, sodium_base64_VARIANT_ORIGINAL);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static bool valid_utf8(const char *s)
{
    json_t *j = json_string(s);   /* jansson takes valid UTF-8 only */
    json_decref(j);
    return j != NULL;
}

/* ---- runview ---- */

static void test_summary_of_a_large_output_is_bounded_and_says_how_to_read_on(void **state)
{
    (void)state;
    size_t n = 1u << 20;
    uint8_t *out = malloc(n);
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(i % 7 == 0 ? 0xff : i % 11 == 0 ? 0 : 'a' + i % 26);   /* invalid UTF-8 and NULs */
    json_t *run = json_pack("{s:s, s:s, s:s, s:s, s:n, s:I, s:o, s:s, s:b, s:[s]}", "id", "r_1", "name", "flood",
                            "approval_id", "0123456789abcdef", "outcome", "output_limit", "exit_code", "duration_ms",
                            (json_int_t)12, "stdout_b64", b64_string(out, n), "stderr_b64", "", "stdout_truncated", 1,
                            "limits_hit", "stdout_bytes");
    char *text = nc_mcp_run_summary(run);
    assert_non_null(text);
    assert_true(strlen(text) <= NC_MCP_SUMMARY_MAX_BYTES);
    assert_true(valid_utf8(text));
    assert_non_null(strstr(text, "output_limit, no exit code"));
    assert_non_null(strstr(text, "bytes not shown"));
    assert_non_null(strstr(text, "get_run"));
    assert_non_null(strstr(text, "stderr: empty"));
    free(text);

    nc_mcp_page page = {0, 16384, 0, 16384, false, false};
    json_t *view = nc_mcp_run_view(run, &page);
    assert_non_null(view);
    assert_null(json_object_get(view, "stdout_b64"));
    assert_int_equal(json_integer_value(json_object_get(view, "stdout_total")), n);
    assert_true(json_is_true(json_object_get(view, "stdout_more")));
    assert_true(json_is_null(json_object_get(view, "exit_code")));
    assert_string_equal(json_string_value(json_object_get(view, "state")), "finished");
    json_decref(view);

    /* a page past the end is empty; the last page says nothing more follows */
    nc_mcp_page past = {n + 5, 100, 0, 1, true, false};
    view = nc_mcp_run_view(run, &past);
    assert_string_equal(json_string_value(json_object_get(view, "stdout")), "");
    assert_int_equal(json_integer_value(json_object_get(view, "stdout_offset")), n);
    assert_true(json_is_false(json_object_get(view, "stdout_more")));
    assert_string_equal(json_string_value(json_object_get(view, "stdout_b64")), "");
    json_decref(view);
    nc_mcp_page last = {n - 3, 100, 0, 1, true, false};
    view = nc_mcp_run_view(run, &last);
    json_t *want = b64_string(out + n - 3, 3);
    assert_string_equal(json_string_value(json_object_get(view, "stdout_b64")), json_string_value(want));
    assert_true(json_is_false(json_object_get(view, "stdout_more")));
    json_decref(want);
    json_decref(view);
    json_decref(run);
    free(out);
}

static void test_worker_paged_output_is_taken_as_the_page(void **state)
{
    (void)state;
    json_t *run = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:i}", "id", "r_2", "outcome", "ok", "stdout", "world",
                            "stdout_total", 11, "stdout_b64", "d29ybGQ=", "stderr", "", "stderr_total", 0);
    nc_mcp_page page = {6, 16384, 0, 16384, false, true};
    json_t *view = nc_mcp_run_view(run, &page);
    assert_string_equal(json_string_value(json_object_get(view, "stdout")), "world");
    assert_int_equal(json_integer_value(json_object_get(view, "stdout_offset")), 6);
    assert_true(json_is_false(json_object_get(view, "stdout_more")));
    json_decref(view);
    /* a running run has no output yet */
    json_t *running = json_pack("{s:s, s:s, s:s, s:{s:i}}", "id", "r_3", "outcome", "running", "state", "running",
                                "progress", "elapsed_ms", 5);
    nc_mcp_page first = {0, 16384, 0, 16384, false, true};
    view = nc_mcp_run_view(running, &first);
    assert_string_equal(json_string_value(json_object_get(view, "state")), "running");
    assert_int_equal(json_integer_value(json_object_get(view, "stdout_total")), 0);
    assert_true(json_is_false(json_object_get(view, "stdout_more")));
    char *text = nc_mcp_run_summary(running);
    assert_non_null(strstr(text, "running"));
    free(text);
    json_decref(view);
    json_decref(running);
    json_decref(run);
}

static void test_summary_of_a_small_output_is_whole(void **state)
{
    (void)state;
    json_t *run = json_pack("{s:s, s:s, s:i, s:s, s:s}", "id", "r_4", "outcome", "ok", "exit_code", 0, "stdout_b64",
                            "aGVsbG8sIHdvcmxkCg==", "stderr", "");
    char *text = nc_mcp_run_summary(run);
    assert_non_null(strstr(text, "ok, exit code 0"));
    assert_non_null(strstr(text, "stdout (13 bytes):\nhello, world\n"));
    assert_null(strstr(text, "not shown"));
    free(text);
    /* garbage where the output should be: text, never a crash */
    json_object_set_new(run, "stdout_b64", json_string("***not base64***"));
    json_object_set_new(run, "stdout", json_integer(5));
    text = nc_mcp_run_summary(run);
    assert_non_null(strstr(text, "stdout: empty"));
    free(text);
    json_decref(run);
}

/* ---- the approvals' tools ---- */

static json_t *approval(const char *id, const char *name, bool args, bool stdin_granted)
{
    return json_pack("{s:s, s:s, s:s, s:{s:b, s:b}, s:i, s:I, s:{s:[]}}", "id", id, "name", name, "description",
                     "does things", "grants", "args", args, "stdin", stdin_granted, "runs_left", 3, "expires_at",
                     (json_int_t)4000000000, "capabilities", "dirs");
}

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static void test_approval_tools_are_named_apart_and_take_what_is_granted(void **state)
{
    (void)state;
    json_t *list = json_pack("[o, o, o, o, o, {s:s}]", approval(ID_A, "my.tool", true, false),
                             approval(ID_B, "my.tool", false, true), approval(ID_C, "run_module", true, true),
                             approval("short", "x", false, false), approval(ID_A, "my.tool", true, false), "name",
                             "no-id");
    json_t *tools = nc_mcp_approval_tools(list, "claude");
    assert_non_null(tools);
    assert_int_equal(json_array_size(tools), 3);   /* a short id, a duplicate and a missing id are left out */
    const char *names[3];
    for (size_t i = 0; i < 3; i++) {
        json_t *t = json_array_get(tools, i);
        names[i] = json_string_value(json_object_get(t, "name"));
        char msg[256];
        assert_int_equal(nc_mcp_schema_check(json_object_get(t, "inputSchema"), msg, sizeof msg), NC_OK);
        assert_non_null(strstr(json_string_value(json_object_get(t, "description")), "agent:claude"));
    }
    assert_string_equal(names[0], "my_tool");
    assert_string_equal(names[1], "my_tool_bbbbbbbb");
    assert_string_equal(names[2], "run_module_cccccccc");   /* never a built-in's name */
    assert_string_equal(nc_mcp_approval_tool_id(json_array_get(tools, 1)), ID_B);
    json_t *props0 = json_object_get(json_object_get(json_array_get(tools, 0), "inputSchema"), "properties");
    json_t *props1 = json_object_get(json_object_get(json_array_get(tools, 1), "inputSchema"), "properties");
    assert_non_null(json_object_get(props0, "args"));
    assert_null(json_object_get(props0, "stdin"));
    assert_null(json_object_get(props1, "args"));
    assert_non_null(json_object_get(props1, "stdin"));
    /* arguments the approval does not grant are refused by the tool's own schema */
    char msg[256];
    json_t *bad = json_pack("{s:s}", "stdin", "x");
    assert_int_not_equal(nc_mcp_schema_validate(json_object_get(json_array_get(tools, 0), "inputSchema"), bad,
                                                "arguments", msg, sizeof msg), NC_OK);
    json_decref(bad);
    json_decref(tools);
    json_decref(list);
    /* not an array, or items that are not approvals: no tools, no crash */
    json_t *junk = json_pack("[i, s, {s:i}]", 1, "x", "id", 5);
    tools = nc_mcp_approval_tools(junk, "claude");
    assert_int_equal(json_array_size(tools), 0);
    json_decref(tools);
    json_decref(junk);
}

/* ---- the protocol core, with a stub worker ---- */

static json_t *sent;    /* every message the server sent, parsed */
static json_t *routes;  /* and where each went: [kind, request id or null] (DEFERRED and DROPPED too) */
static pthread_mutex_t sent_mu = PTHREAD_MUTEX_INITIALIZER;

static bool stub_send(void *ctx, nc_mcp_out kind, const json_t *request, const char *msg, size_t len)
{
    (void)ctx;
    pthread_mutex_lock(&sent_mu);
    json_array_append_new(routes, json_pack("[i, O]", (int)kind, request ? request : json_null()));
    if (msg) {
        json_t *j = json_loadb(msg, len, 0, NULL);
        assert_non_null(j);
        json_array_append_new(sent, j);
    } else {
        assert_true(kind == NC_MCP_OUT_DEFERRED || kind == NC_MCP_OUT_DROPPED);
    }
    pthread_mutex_unlock(&sent_mu);
    return true;
}

static json_t *last_route(void)
{
    return json_array_get(routes, json_array_size(routes) - 1);
}

static nc_err stub_call(void *ctx, const char *op, json_t *params, json_t **result, nc_rpc_error *err)
{
    (void)ctx;
    json_decref(params);
    if (strcmp(op, "approvals.list") == 0) {
        *result = json_pack("{s:[o], s:i}", "items", approval(ID_A, "greet", true, false), "total", 1);
        return NC_OK;
    }
    snprintf(err->code, sizeof err->code, "not_found");
    snprintf(err->message, sizeof err->message, "no such thing of yours");
    return NC_RPC_REFUSED;
}

static json_t *last_reply(void)
{
    return json_array_get(sent, json_array_size(sent) - 1);
}

static int error_code(void)
{
    return (int)json_integer_value(json_object_get(json_object_get(last_reply(), "error"), "code"));
}

static nc_mcp_in last_in;

static void handle(nc_mcp_server *s, const char *line)
{
    assert_int_equal(nc_mcp_handle_message(s, line, strlen(line), &last_in), NC_OK);
}

static void test_server_lifecycle_cursors_and_uris(void **state)
{
    (void)state;
    nc_mcp_server *s;
    char msg[256];
    nc_mcp_backend be = {.call = stub_call, .send = stub_send};
    sent = json_array();
    routes = json_array();
    assert_int_equal(nc_mcp_server_new("claude", &be, &s, msg, sizeof msg), NC_OK);
    assert_false(nc_mcp_initialized(s));
    assert_null(nc_mcp_protocol(s));
    handle(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    assert_int_equal(error_code(), -32600);
    handle(s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"server/discover\"}");
    assert_int_equal(error_code(), -32022);
    json_t *data = json_object_get(json_object_get(last_reply(), "error"), "data");
    assert_string_equal(json_string_value(json_array_get(json_object_get(data, "supported"), 0)), "2025-11-25");
    handle(s, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\"}}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(last_reply(), "result"), "protocolVersion")),
                        "2025-06-18");
    assert_true(nc_mcp_initialized(s));
    assert_string_equal(nc_mcp_protocol(s), "2025-06-18");
    assert_true(last_in.kind == NC_MCP_IN_REQUEST && strcmp(last_in.method, "initialize") == 0);
    /* a response goes out as the response to its request */
    assert_int_equal(json_integer_value(json_array_get(last_route(), 0)), NC_MCP_OUT_RESPONSE);
    assert_int_equal(json_integer_value(json_array_get(last_route(), 1)), 3);
    handle(s, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\"}}");
    assert_int_equal(error_code(), -32600);
    /* tools/list: the built-ins and the approval's tool */
    handle(s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\"}");
    json_t *tools = json_object_get(json_object_get(last_reply(), "result"), "tools");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, json_array_size(tools) - 1), "name")),
                        "greet");
    static const char *const bad[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/list\",\"params\":{\"cursor\":\"x\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"resources/list\",\"params\":{\"cursor\":\"o1x\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"resources/list\",\"params\":{\"cursor\":\"o-5\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"resources/list\",\"params\":{\"cursor\":null}}",
        "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"resources/read\",\"params\":{\"uri\":\"nightcore://runs/a/b\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"resources/read\",\"params\":{\"uri\":\"nightcore://runs/\\u0000\"}}",
        "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"resources/subscribe\",\"params\":{\"uri\":7}}",
        "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"tools/call\",\"params\":{\"name\":\"greet\",\"_meta\":[]}}",
        "{\"jsonrpc\":\"2.0\",\"id\":14,\"method\":\"tools/call\",\"params\":{\"name\":\"greet\","
        "\"_meta\":{\"progressToken\":1.5}}}",
        "{\"jsonrpc\":\"2.0\",\"id\":15,\"method\":\"tools/call\",\"params\":{\"name\":\"gr\\u0000eet\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        handle(s, bad[i]);
        assert_int_equal(error_code(), -32602);
    }
    /* a resource that is not the agent's: not found */
    handle(s, "{\"jsonrpc\":\"2.0\",\"id\":16,\"method\":\"resources/read\",\"params\":{\"uri\":\"nightcore://runs/r_1\"}}");
    assert_int_equal(error_code(), -32002);
    /* cancelling what is not in progress changes nothing; notifications get no answer */
    size_t before = json_array_size(sent);
    handle(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":99}}");
    handle(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":{}}}");
    handle(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":[]}");
    assert_int_equal(json_array_size(sent), before);
    /* a tool call's job answers (inline here): the worker's refusal as a tool result */
    handle(s, "{\"jsonrpc\":\"2.0\",\"id\":17,\"method\":\"tools/call\",\"params\":{\"name\":\"get_run\","
              "\"arguments\":{\"run_id\":\"r_1\"}}}");
    json_t *r = json_object_get(last_reply(), "result");
    assert_true(json_is_true(json_object_get(r, "isError")));
    assert_int_equal(json_integer_value(json_object_get(last_reply(), "id")), 17);
    /* a wait without threads answers at once with what there is */
    handle(s, "{\"jsonrpc\":\"2.0\",\"id\":18,\"method\":\"tools/call\",\"params\":{\"name\":\"wait_for_submission\","
              "\"arguments\":{\"submission_id\":\"s_1\",\"timeout_s\":3600}}}");
    assert_int_equal(json_integer_value(json_object_get(last_reply(), "id")), 18);
    /* events: a subscribed resource gets its notification, others none */
    handle(s, "{\"jsonrpc\":\"2.0\",\"id\":19,\"method\":\"resources/subscribe\",\"params\":"
              "{\"uri\":\"nightcore://submissions/s_1\"}}");
    before = json_array_size(sent);
    json_t *ev = json_pack("{s:s, s:s}", "type", "submission.updated", "submission", "s_2");
    nc_mcp_on_event(s, ev);
    json_decref(ev);
    assert_int_equal(json_array_size(sent), before);
    ev = json_pack("{s:s, s:s}", "type", "submission.updated", "submission", "s_1");
    nc_mcp_on_event(s, ev);
    json_decref(ev);
    assert_string_equal(json_string_value(json_object_get(last_reply(), "method")), "notifications/resources/updated");
    ev = json_pack("{s:i}", "type", 5);   /* malformed events are ignored */
    nc_mcp_on_event(s, ev);
    json_decref(ev);
    nc_mcp_wait_idle(s);
    nc_mcp_server_free(s);
    json_decref(sent);
    json_decref(routes);
}

/* What each kind of message is, for the transport, and where its answer goes. */
static void test_messages_are_classified_and_routed(void **state)
{
    (void)state;
    nc_mcp_server *s;
    char msg[256];
    nc_mcp_backend be = {.call = stub_call, .send = stub_send};
    sent = json_array();
    routes = json_array();
    assert_int_equal(nc_mcp_server_new("claude", &be, &s, msg, sizeof msg), NC_OK);
    handle(s, " \t\r\n");
    assert_int_equal(last_in.kind, NC_MCP_IN_BLANK);
    assert_int_equal(json_array_size(routes), 0);
    static const char *const invalid[] = {"{", "[]", "7", "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
                                          "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
                                          "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",
                                          "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        size_t before = json_array_size(routes);
        handle(s, invalid[i]);
        assert_int_equal(last_in.kind, NC_MCP_IN_INVALID);
        assert_int_equal(json_array_size(routes), before + 1);
        assert_int_equal(json_integer_value(json_array_get(last_route(), 0)), NC_MCP_OUT_RESPONSE);
        assert_non_null(json_object_get(last_reply(), "error"));
    }
    /* the id of a message refused for another field still names its answer */
    assert_int_equal(json_integer_value(json_array_get(json_array_get(routes, 3), 1)), 1);
    assert_true(json_is_null(json_array_get(json_array_get(routes, 0), 1)));
    size_t before = json_array_size(routes);
    handle(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    assert_int_equal(last_in.kind, NC_MCP_IN_NOTIFICATION);
    assert_string_equal(last_in.method, "notifications/initialized");
    handle(s, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":{}}");
    assert_int_equal(last_in.kind, NC_MCP_IN_RESPONSE);
    assert_int_equal(json_array_size(routes), before);   /* neither is answered */
    handle(s, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
    assert_int_equal(last_in.kind, NC_MCP_IN_REQUEST);
    assert_string_equal(json_string_value(json_array_get(last_route(), 1)), "p");
    /* a method name an agent chose is kept printable and short */
    handle(s, "{\"jsonrpc\":\"2.0\",\"method\":\"\\u001b[31m\\u0000xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}");
    assert_true(strlen(last_in.method) < sizeof last_in.method);
    for (const char *p = last_in.method; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
    assert_true(nc_mcp_protocol_supported("2025-11-25", 10));
    assert_false(nc_mcp_protocol_supported("2025-11-2", 9));
    assert_false(nc_mcp_protocol_supported("2025-11-25\0x", 12));
    assert_false(nc_mcp_protocol_supported("2026-07-28", 10));
    nc_mcp_server_free(s);
    json_decref(sent);
    json_decref(routes);
}

/* ---- jobs on threads: DEFERRED before the job can speak, cancellation of all ---- */

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool run_entered, run_release, cancel_logged;

static nc_err blocking_call(void *ctx, const char *op, json_t *params, json_t **result, nc_rpc_error *err)
{
    (void)ctx;
    json_decref(params);
    if (strcmp(op, "run") == 0) {
        pthread_mutex_lock(&gate_mu);
        run_entered = true;
        pthread_cond_broadcast(&gate_cond);
        while (!run_release)
            pthread_cond_wait(&gate_cond, &gate_mu);
        pthread_mutex_unlock(&gate_mu);
        *result = json_pack("{s:s, s:s, s:i}", "id", "r_9", "outcome", "ok", "exit_code", 0);
        return NC_OK;
    }
    return stub_call(ctx, op, json_object(), result, err);
}

static void gate_log(void *ctx, const char *text)
{
    (void)ctx;
    pthread_mutex_lock(&gate_mu);
    if (strstr(text, "the session ended"))
        cancel_logged = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_mu);
}

static void *thread_main(void *arg)
{
    void **fa = arg;
    ((void (*)(void *))fa[0])(fa[1]);
    free(fa);
    return NULL;
}

static pthread_t job_threads[4];
static size_t njob_threads;

static bool thread_spawn(void *ctx, void (*fn)(void *), void *arg)
{
    (void)ctx;
    /* the DEFERRED route came first: the transport knows where the job's messages go */
    pthread_mutex_lock(&sent_mu);
    json_t *route = json_array_get(routes, json_array_size(routes) - 1);
    bool deferred = json_integer_value(json_array_get(route, 0)) == NC_MCP_OUT_DEFERRED;
    pthread_mutex_unlock(&sent_mu);
    if (!deferred || njob_threads == 4)
        return false;
    void **fa = malloc(2 * sizeof *fa);
    fa[0] = (void *)fn;
    fa[1] = arg;
    return pthread_create(&job_threads[njob_threads++], NULL, thread_main, fa) == 0;
}

static void *cancel_all_main(void *arg)
{
    nc_mcp_cancel_all(arg);
    return NULL;
}

static void test_jobs_are_deferred_and_cancelled_with_the_session(void **state)
{
    (void)state;
    nc_mcp_server *s;
    char msg[256];
    nc_mcp_backend be = {.call = blocking_call, .send = stub_send, .spawn = thread_spawn, .log = gate_log};
    sent = json_array();
    routes = json_array();
    assert_int_equal(nc_mcp_server_new("claude", &be, &s, msg, sizeof msg), NC_OK);
    handle(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\"}}");
    handle(s, "{\"jsonrpc\":\"2.0\",\"id\":\"run-1\",\"method\":\"tools/call\",\"params\":{\"name\":\"run_module\","
              "\"arguments\":{\"ref\":\"greet\"},\"_meta\":{\"progressToken\":\"t1\"}}}");
    assert_int_equal(last_in.kind, NC_MCP_IN_REQUEST);
    pthread_mutex_lock(&sent_mu);
    json_t *deferred = json_deep_copy(json_array_get(routes, 1));
    pthread_mutex_unlock(&sent_mu);
    assert_int_equal(json_integer_value(json_array_get(deferred, 0)), NC_MCP_OUT_DEFERRED);
    assert_string_equal(json_string_value(json_array_get(deferred, 1)), "run-1");
    json_decref(deferred);
    /* the run is in the worker; the session ends */
    pthread_mutex_lock(&gate_mu);
    while (!run_entered)
        pthread_cond_wait(&gate_cond, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    pthread_t canceller;
    assert_int_equal(pthread_create(&canceller, NULL, cancel_all_main, s), 0);
    pthread_mutex_lock(&gate_mu);
    while (!cancel_logged)
        pthread_cond_wait(&gate_cond, &gate_mu);
    run_release = true;   /* the worker answers only now: the call was cancelled first */
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_mu);
    pthread_join(canceller, NULL);
    for (size_t i = 0; i < njob_threads; i++)
        pthread_join(job_threads[i], NULL);
    /* progress went to the request; it ended without a response */
    bool progress = false, response = false, dropped = false;
    size_t i;
    json_t *r;
    json_array_foreach(routes, i, r) {
        int kind = (int)json_integer_value(json_array_get(r, 0));
        const char *id = json_string_value(json_array_get(r, 1));
        if (!id || strcmp(id, "run-1") != 0)
            continue;
        progress |= kind == NC_MCP_OUT_PROGRESS;
        response |= kind == NC_MCP_OUT_RESPONSE;
        dropped |= kind == NC_MCP_OUT_DROPPED;
    }
    assert_true(progress && dropped && !response);
    /* nothing new starts in an ending session */
    handle(s, "{\"jsonrpc\":\"2.0\",\"id\":\"run-2\",\"method\":\"tools/call\",\"params\":{\"name\":\"run_module\","
              "\"arguments\":{\"ref\":\"greet\"}}}");
    r = json_object_get(last_reply(), "result");
    assert_true(json_is_true(json_object_get(r, "isError")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(r, "structuredContent"),
                                                                           "error"), "code")), "unavailable");
    assert_int_equal(njob_threads, 1);
    nc_mcp_server_free(s);
    json_decref(sent);
    json_decref(routes);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_of_a_large_output_is_bounded_and_says_how_to_read_on),
        cmocka_unit_test(test_worker_paged_output_is_taken_as_the_page),
        cmocka_unit_test(test_summary_of_a_small_output_is_whole),
        cmocka_unit_test(test_approval_tools_are_named_apart_and_take_what_is_granted),
        cmocka_unit_test(test_server_lifecycle_cursors_and_uris),
        cmocka_unit_test(test_messages_are_classified_and_routed),
        cmocka_unit_test(test_jobs_are_deferred_and_cancelled_with_the_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
