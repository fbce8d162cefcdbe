#include "mcp/tools.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/buf.h"
#include "mcp/schema.h"

/* Descriptions and schemas may say "{agent}": it becomes the agent's name. */
#define AGENT_PLACEHOLDER "{agent}"

typedef struct {
    const char *arg, *param;
} rename_rule;

struct nc_mcp_tool {
    const char *name, *title, *op;
    const char *description;
    const char *input_schema, *output_schema;   /* JSON text */
    bool read_only, destructive, idempotent;
    rename_rule renames[6];                     /* {NULL} terminated */
};

/* ---- output schemas: the worker's objects (docs/protocol.md), loosely, or a refusal ---- */

#define ERROR_BRANCH                                                                                       \
    "{\"type\":\"object\",\"required\":[\"error\"],\"properties\":{\"error\":{\"type\":\"object\","       \
    "\"required\":[\"code\",\"message\"],\"properties\":{"                                                 \
    "\"code\":{\"type\":\"string\",\"description\":\"refusal code: not_approved, not_invoker, expired, "   \
    "max_runs_exceeded, rate_limited, quota_exceeded, too_large, busy, invalid_module, invalid_request, "   \
    "not_found, unauthorized, unavailable (the worker is not running), ...\"},"                           \
    "\"message\":{\"type\":\"string\",\"description\":\"what happened and what to do\"}}}}}"

#define SUBMISSION_OBJECT                                                                                  \
    "{\"type\":\"object\",\"required\":[\"id\",\"name\",\"sha256\",\"status\"],\"properties\":{"          \
    "\"id\":{\"type\":\"string\",\"description\":\"submission id (s_...)\"},"                              \
    "\"name\":{\"type\":\"string\"},"                                                                       \
    "\"sha256\":{\"type\":\"string\",\"description\":\"SHA-256 of the module bytes, hex\"},"              \
    "\"size\":{\"type\":\"integer\"},"                                                                      \
    "\"source\":{\"type\":\"string\",\"description\":\"agent:NAME\"},"                                     \
    "\"agent\":{\"type\":[\"string\",\"null\"]},"                                                          \
    "\"status\":{\"type\":\"string\",\"description\":\"pending (waiting for a human to review it), "      \
    "approved, rejected (see reason) or expired\"},"                                                       \
    "\"created_at\":{\"type\":\"integer\",\"description\":\"Unix time\"},"                                 \
    "\"description\":{\"type\":[\"string\",\"null\"]},"                                                    \
    "\"reason\":{\"type\":[\"string\",\"null\"],\"description\":\"the reviewer's reason for a rejection\"}," \
    "\"requested\":{\"type\":\"object\",\"description\":\"the capabilities requested\"},"                  \
    "\"drift\":{\"type\":\"object\",\"description\":\"new, known or drift against earlier modules of this name\"}," \
    "\"analysis\":{\"type\":\"object\",\"description\":\"static analysis: imports, exports, memory, ...\"}," \
    "\"threat\":{\"type\":\"object\",\"description\":\"threat score 0-100 with its factors; it informs the " \
    "human reviewer and approves nothing\"}}}"

#define LIST_OBJECT                                                                                        \
    "{\"type\":\"object\",\"required\":[\"items\",\"total\"],\"properties\":{"                            \
    "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\"},\"description\":\"submissions, "       \
    "without their analysis\"},"                                                                           \
    "\"total\":{\"type\":\"integer\",\"description\":\"how many match, beyond this page too\"}}}"

#define RUN_OBJECT                                                                                         \
    "{\"type\":\"object\",\"required\":[\"id\",\"outcome\"],\"properties\":{"                             \
    "\"id\":{\"type\":\"string\",\"description\":\"run id (r_...)\"},"                                     \
    "\"approval_id\":{\"type\":\"string\"},"                                                                \
    "\"name\":{\"type\":\"string\"},"                                                                       \
    "\"sha256\":{\"type\":\"string\"},"                                                                     \
    "\"invoker\":{\"type\":\"string\"},"                                                                    \
    "\"outcome\":{\"type\":\"string\",\"description\":\"ok, exit (non-zero exit code), trap, timeout, "    \
    "fuel, memory, output_limit, crash, interrupted; running while it runs\"},"                          \
    "\"exit_code\":{\"type\":[\"integer\",\"null\"]},"                                                     \
    "\"message\":{\"type\":[\"string\",\"null\"]},"                                                        \
    "\"stdout\":{\"type\":\"string\",\"description\":\"UTF-8 text; invalid bytes become U+FFFD "           \
    "(stdout_b64 has the exact bytes)\"},"                                                                 \
    "\"stderr\":{\"type\":\"string\"},"                                                                     \
    "\"stdout_b64\":{\"type\":\"string\"},"                                                                 \
    "\"stderr_b64\":{\"type\":\"string\"},"                                                                 \
    "\"stdout_truncated\":{\"type\":\"boolean\"},"                                                          \
    "\"stderr_truncated\":{\"type\":\"boolean\"},"                                                          \
    "\"duration_ms\":{\"type\":\"integer\"},"                                                               \
    "\"limits_hit\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"                                 \
    "\"denied_calls\":{\"type\":\"integer\",\"description\":\"system calls refused for lack of a "         \
    "capability\"},"                                                                                       \
    "\"threat\":{\"type\":\"object\"}}}"

#define OUTPUT_SCHEMA(success) "{\"type\":\"object\",\"anyOf\":[" success "," ERROR_BRANCH "]}"

/* ---- input schemas (the validator's keyword subset: mcp/schema.h) ---- */

#define ID_PROPERTY(what)                                                                                  \
    "{\"type\":\"string\",\"minLength\":1,\"maxLength\":64,\"pattern\":\"^[A-Za-z0-9_-]+$\","            \
    "\"description\":\"" what "\"}"

static const nc_mcp_tool tools[] = {
    {
        .name = "submit_module",
        .title = "Submit a WebAssembly module for human review",
        .op = "submit",
        .description =
            "Submit a WebAssembly module to the Night Core inbox, where a human reviews it. Submitting never runs "
            "anything: the module is stored as pending, analysed (imports, exports, memory, drift from earlier "
            "versions, a threat score) and shown to a human operator. Only if that person approves it, by signing "
            "an approval with a key this server does not have, can it run; they choose the policy (capabilities and "
            "limits), how many runs, how long the approval lasts, and whether agent:{agent} may run it. Say in "
            "description what the module does and why, and request only the capabilities it needs: the reviewer "
            "sees both. The module must be a WASI preview 1 core module with a _start export, at most 16 MiB. "
            "Submitting the same name and bytes again returns the existing submission. Limits: at most 20 pending "
            "submissions, and a burst of 10 submissions then one every 5 seconds. Returns the submission (id, "
            "status pending, threat score); tell the user its id so they can review it "
            "(nightcore inbox show ID; nightcore approve ID --allow-agent {agent}).",
        .input_schema =
            "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\",\"wasm_base64\"],"
            "\"properties\":{"
            "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64,"
            "\"pattern\":\"^[A-Za-z0-9_][A-Za-z0-9._-]*$\","
            "\"description\":\"module name: 1-64 of A-Z a-z 0-9 . _ -, not starting with . or -\"},"
            "\"wasm_base64\":{\"type\":\"string\",\"minLength\":4,\"maxLength\":22369624,"
            "\"contentEncoding\":\"base64\","
            "\"description\":\"the .wasm bytes, standard padded base64 (a module of at most 16 MiB)\"},"
            "\"description\":{\"type\":\"string\",\"maxLength\":4096,"
            "\"description\":\"what the module does and why you want to run it (at most 4096 bytes), for the "
            "human reviewer\"},"
            "\"requested_capabilities\":{\"type\":\"object\",\"additionalProperties\":false,"
            "\"description\":\"what the module needs when it runs; the reviewer decides what is granted. "
            "Omitted means nothing: no arguments, no stdin, no environment, no directories. There is never "
            "network access.\","
            "\"properties\":{"
            "\"args\":{\"type\":\"boolean\",\"description\":\"pass command-line arguments\"},"
            "\"stdin\":{\"type\":\"boolean\",\"description\":\"pass bytes on standard input\"},"
            "\"env\":{\"type\":\"object\",\"maxProperties\":128,"
            "\"propertyNames\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128,"
            "\"pattern\":\"^[A-Za-z_][A-Za-z0-9_]*$\",\"description\":\"an environment variable name\"},"
            "\"additionalProperties\":{\"type\":\"string\",\"maxLength\":1024},"
            "\"description\":\"environment variables and their exact values\"},"
            "\"dirs\":{\"type\":\"array\",\"maxItems\":16,\"description\":\"host directories to preopen\","
            "\"items\":{\"type\":\"object\",\"additionalProperties\":false,"
            "\"required\":[\"host\",\"guest\",\"mode\"],\"properties\":{"
            "\"host\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4095,\"pattern\":\"^/\","
            "\"description\":\"absolute path on the host, without . or .. parts\"},"
            "\"guest\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":1024,\"pattern\":\"^/\","
            "\"description\":\"absolute path the module sees\"},"
            "\"mode\":{\"type\":\"string\",\"enum\":[\"ro\",\"rw\"],\"description\":\"ro: read-only, "
            "rw: read-write\"}}}}}}}}",
        .output_schema = OUTPUT_SCHEMA(SUBMISSION_OBJECT),
        .read_only = false, .destructive = false, .idempotent = true,
        .renames = {{"name", "name"}, {"wasm_base64", "wasm_b64"}, {"description", "description"},
                    {"requested_capabilities", "requested"}, {NULL, NULL}},
    },
    {
        .name = "get_submission",
        .title = "Get one of your submissions",
        .op = "submission.get",
        .description =
            "Look up one of your own submissions by id: its status is pending (waiting for a human to review it), "
            "approved (a human signed an approval: run it with run_module, ref = its name), rejected (reason says "
            "why) or expired. Includes the analysis and threat score the reviewer sees. Read-only; other agents' "
            "submissions are not_found.",
        .input_schema = "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"submission_id\"],"
                        "\"properties\":{\"submission_id\":" ID_PROPERTY("the id submit_module returned (s_...)") "}}",
        .output_schema = OUTPUT_SCHEMA(SUBMISSION_OBJECT),
        .read_only = true, .destructive = false, .idempotent = true,
        .renames = {{"submission_id", "submission"}, {NULL, NULL}},
    },
    {
        .name = "list_submissions",
        .title = "List your submissions",
        .op = "submissions.list",
        .description = "List your own submissions and their status (pending, approved, rejected, expired), "
                       "all of them or only those with one status. Read-only.",
        .input_schema =
            "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
            "\"status\":{\"type\":\"string\",\"enum\":[\"pending\",\"approved\",\"rejected\"],"
            "\"description\":\"only submissions with this status (omit it for all)\"},"
            "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100,\"description\":\"at most this many "
            "(at most 100)\"},"
            "\"offset\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":1000000,\"description\":\"skip this many "
            "(paging)\"}}}",
        .output_schema = OUTPUT_SCHEMA(LIST_OBJECT),
        .read_only = true, .destructive = false, .idempotent = true,
        .renames = {{"status", "status"}, {"limit", "limit"}, {"offset", "offset"}, {NULL, NULL}},
    },
    {
        .name = "run_module",
        .title = "Run a module a human approved for you",
        .op = "run",
        .description =
            "Run a module that a human has approved for agent:{agent}. ref is the module name (its newest valid "
            "approval is used), or an approval id the user gave you. Before anything runs, Night Core verifies the approval: signed by a "
            "trusted human key, not revoked, not expired, runs left, the module bytes unchanged, and agent:{agent} "
            "named among its invokers. Otherwise the call is refused and nothing runs: not_approved (no approval "
            "yet, or approved without naming you: ask the user to review it and approve it with --allow-agent "
            "{agent}), expired, revoked_approval, max_runs_exceeded, busy (you already have a run "
            "in progress), capability_denied (args or stdin the approval does not grant). The module runs in a "
            "sandbox with exactly the capabilities and limits the human approved, and no network. Waits for the "
            "run to finish and returns its outcome, exit code, stdout and stderr.",
        .input_schema =
            "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"ref\"],\"properties\":{"
            "\"ref\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128,\"description\":\"the module name, "
            "or an approval id (64 hex)\"},"
            "\"args\":{\"type\":\"array\",\"maxItems\":255,\"items\":{\"type\":\"string\",\"maxLength\":4096},"
            "\"description\":\"command-line arguments (only if the approval grants args)\"},"
            "\"stdin_base64\":{\"type\":\"string\",\"maxLength\":22369624,\"contentEncoding\":\"base64\","
            "\"description\":\"standard input, base64 (only if the approval grants stdin; at most 16 MiB)\"}}}",
        .output_schema = OUTPUT_SCHEMA(RUN_OBJECT),
        .read_only = false, .destructive = true, .idempotent = false,
        .renames = {{"ref", "ref"}, {"args", "args"}, {"stdin_base64", "stdin_b64"}, {NULL, NULL}},
    },
    {
        .name = "get_run",
        .title = "Get one of your runs",
        .op = "run.get",
        .description = "Look up one of your own runs by id: outcome, exit code, stdout, stderr, limits hit, "
                       "denied calls, threat score. Read-only; other runs are not_found.",
        .input_schema = "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"run_id\"],"
                        "\"properties\":{\"run_id\":" ID_PROPERTY("the id run_module returned (r_...)") "}}",
        .output_schema = OUTPUT_SCHEMA(RUN_OBJECT),
        .read_only = true, .destructive = false, .idempotent = true,
        .renames = {{"run_id", "run"}, {NULL, NULL}},
    },
};

#define NTOOLS (sizeof tools / sizeof tools[0])

/* tmpl with every {agent} replaced by agent; malloc'd. */
static char *expand(const char *tmpl, const char *agent)
{
    nc_buf b;
    const size_t plen = strlen(AGENT_PLACEHOLDER);
    nc_buf_init(&b, 64u * 1024);
    for (const char *p = tmpl;;) {
        const char *hit = strstr(p, AGENT_PLACEHOLDER);
        size_t n = hit ? (size_t)(hit - p) : strlen(p);
        if (nc_buf_append(&b, p, n) != NC_OK || (hit && nc_buf_append(&b, agent, strlen(agent)) != NC_OK) ||
            (!hit && nc_buf_append(&b, "", 1) != NC_OK)) {
            nc_buf_cleanup(&b);
            return NULL;
        }
        if (!hit)
            break;
        p = hit + plen;
    }
    size_t len;
    return (char *)nc_buf_steal(&b, &len);
}

static json_t *tool_json(const nc_mcp_tool *t, const char *agent, char *msg, size_t msg_len)
{
    json_error_t je;
    char *desc = expand(t->description, agent);
    json_t *in = json_loads(t->input_schema, JSON_REJECT_DUPLICATES, &je);
    json_t *out_schema = NULL, *tool = NULL;
    if (!in) {
        snprintf(msg, msg_len, "%s inputSchema: %s (column %d)", t->name, je.text, je.column);
        goto done;
    }
    out_schema = json_loads(t->output_schema, JSON_REJECT_DUPLICATES, &je);
    if (!out_schema) {
        snprintf(msg, msg_len, "%s outputSchema: %s (column %d)", t->name, je.text, je.column);
        goto done;
    }
    char why[256];
    if (nc_mcp_schema_check(in, why, sizeof why) != NC_OK) {
        snprintf(msg, msg_len, "%s inputSchema: %s", t->name, why);
        goto done;
    }
    if (!desc) {
        snprintf(msg, msg_len, "out of memory");
        goto done;
    }
    tool = json_pack("{s:s, s:s, s:s, s:O, s:O, s:{s:s, s:b, s:b, s:b, s:b}}", "name", t->name, "title", t->title,
                     "description", desc, "inputSchema", in, "outputSchema", out_schema, "annotations", "title",
                     t->title, "readOnlyHint", t->read_only, "destructiveHint", t->destructive, "idempotentHint",
                     t->idempotent, "openWorldHint", 0);
    if (!tool)
        snprintf(msg, msg_len, "%s: cannot build the tool object", t->name);
done:
    free(desc);
    json_decref(in);
    json_decref(out_schema);
    return tool;
}

nc_err nc_mcp_tools_build(const char *agent, json_t **out, char *msg, size_t msg_len)
{
    json_t *arr = json_array();
    *out = NULL;
    if (msg_len)
        msg[0] = '\0';
    if (!arr)
        return NC_ERR_NOMEM;
    for (size_t i = 0; i < NTOOLS; i++) {
        json_t *t = tool_json(&tools[i], agent, msg, msg_len);
        if (!t || json_array_append_new(arr, t) != 0) {
            json_decref(arr);
            return NC_ERR_INTERNAL;
        }
    }
    *out = arr;
    return NC_OK;
}

const nc_mcp_tool *nc_mcp_tool_find(const char *name)
{
    for (size_t i = 0; name && i < NTOOLS; i++)
        if (strcmp(tools[i].name, name) == 0)
            return &tools[i];
    return NULL;
}

const char *nc_mcp_tool_name(const nc_mcp_tool *t)
{
    return t->name;
}

const char *nc_mcp_tool_op(const nc_mcp_tool *t)
{
    return t->op;
}

json_t *nc_mcp_tool_params(const nc_mcp_tool *t, const json_t *arguments)
{
    json_t *params = json_object();
    const char *key;
    json_t *val;
    if (!params)
        return NULL;
    json_object_foreach((json_t *)arguments, key, val) {
        const char *param = NULL;
        for (const rename_rule *r = t->renames; r->arg; r++)
            if (strcmp(r->arg, key) == 0)
                param = r->param;
        if (!param || json_object_set(params, param, val) != 0) {
            json_decref(params);
            return NULL;
        }
    }
    return params;
}
