#include "mcp/tools.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/buf.h"
#include "common/limits.h"
#include "mcp/schema.h"

/* Descriptions and schemas may say "{agent}": it becomes the agent's name. */
#define AGENT_PLACEHOLDER "{agent}"

typedef struct {
    const char *arg, *param;
} rename_rule;

struct nc_mcp_tool {
    const char *name, *title, *op;
    nc_mcp_kind kind;
    const char *description;
    const char *input_schema, *output_schema;   /* JSON text */
    bool read_only, destructive, idempotent;
    rename_rule renames[8];                     /* {NULL} terminated */
};

/* ---- output schemas: the worker's objects (docs/protocol.md), loosely, or a refusal ----
 *
 * Every value has one "type" (nullable values are anyOf a type and null):
 * type arrays are legal JSON Schema, but clients that map tool schemas to a
 * single-type dialect reject or drop them. */

#define NULLABLE(t, desc) "{\"description\":\"" desc "\",\"anyOf\":[{\"type\":\"" t "\"},{\"type\":\"null\"}]}"

#define ERROR_BRANCH                                                                                       \
    "{\"type\":\"object\",\"required\":[\"error\"],\"properties\":{\"error\":{\"type\":\"object\","       \
    "\"required\":[\"code\",\"message\"],\"properties\":{"                                                 \
    "\"code\":{\"type\":\"string\",\"description\":\"refusal code: pending_review, rejected, "             \
    "not_approved_for_you, not_approved, expired, revoked_approval, max_runs_exceeded, capability_denied, " \
    "busy, rate_limited, quota_exceeded, too_large, invalid_module, invalid_request, not_found, "          \
    "unauthorized, unavailable (the worker is not running), ...\"},"                                     \
    "\"message\":{\"type\":\"string\",\"description\":\"what happened and what to tell the user\"}}}}}"

#define AGENT_STATE_OBJECT                                                                                 \
    "{\"type\":\"object\",\"required\":[\"state\",\"message\"],\"description\":\"what this submission "   \
    "means for you\",\"properties\":{"                                                                     \
    "\"state\":{\"type\":\"string\",\"enum\":[\"pending\",\"rejected\",\"approved_for_you\","             \
    "\"approved_not_for_you\",\"used_up\",\"expired\",\"revoked\"],\"description\":\"pending: waiting "   \
    "for a human; rejected: see reason; approved_for_you: you can run it; approved_not_for_you: approved " \
    "without naming you (ask for --allow-agent {agent}); used_up, expired, revoked: the approval naming " \
    "you cannot run any more\"},"                                                                          \
    "\"reason\":" NULLABLE("string", "the reviewer's reason for a rejection") ","                          \
    "\"approval_id\":" NULLABLE("string", "the approval the state is about") ","                           \
    "\"granted\":{\"description\":\"what the approval grants (approved_for_you)\",\"anyOf\":[{\"type\":"  \
    "\"object\",\"properties\":{\"capabilities\":{\"type\":\"object\"},\"limits\":{\"type\":\"object\"}}}," \
    "{\"type\":\"null\"}]},"                                                                               \
    "\"runs_left\":" NULLABLE("integer", "runs the approval still allows") ","                             \
    "\"expires_at\":" NULLABLE("integer", "Unix time the approval ends") ","                               \
    "\"message\":{\"type\":\"string\",\"description\":\"what to tell the user\"}}}"

#define SUBMISSION_OBJECT                                                                                  \
    "{\"type\":\"object\",\"required\":[\"id\",\"name\",\"sha256\",\"status\"],\"properties\":{"          \
    "\"id\":{\"type\":\"string\",\"description\":\"submission id (s_...)\"},"                              \
    "\"name\":{\"type\":\"string\"},"                                                                       \
    "\"sha256\":{\"type\":\"string\",\"description\":\"SHA-256 of the module bytes, hex\"},"              \
    "\"size\":{\"type\":\"integer\"},"                                                                      \
    "\"source\":{\"type\":\"string\",\"description\":\"agent:NAME\"},"                                     \
    "\"agent\":" NULLABLE("string", "the submitting agent") ","                                            \
    "\"status\":{\"type\":\"string\",\"enum\":[\"pending\",\"approved\",\"rejected\"],\"description\":"   \
    "\"the operator's view; agent_state says what it means for you\"},"                                   \
    "\"agent_state\":{\"anyOf\":[" AGENT_STATE_OBJECT ",{\"type\":\"null\"}]},"                           \
    "\"created_at\":{\"type\":\"integer\",\"description\":\"Unix time\"},"                                 \
    "\"description\":" NULLABLE("string", "what the submitter said the module does") ","                   \
    "\"reason\":" NULLABLE("string", "the reviewer's reason for a rejection") ","                          \
    "\"previous_submission\":" NULLABLE("string", "the submission this one asks to review again") ","     \
    "\"requested\":{\"type\":\"object\",\"description\":\"the capabilities requested\"},"                  \
    "\"drift\":{\"type\":\"object\",\"description\":\"new, known or drift against earlier modules of "    \
    "this name\"},"                                                                                        \
    "\"analysis\":{\"type\":\"object\",\"description\":\"static analysis: imports, exports, memory, ...\"}," \
    "\"threat\":{\"type\":\"object\",\"description\":\"threat score 0-100 with its factors; it informs the " \
    "human reviewer and approves nothing\"}}}"

#define LIST_OBJECT                                                                                        \
    "{\"type\":\"object\",\"required\":[\"items\",\"total\"],\"properties\":{"                            \
    "\"items\":{\"type\":\"array\",\"items\":" SUBMISSION_OBJECT ",\"description\":\"submissions, "       \
    "without their analysis\"},"                                                                           \
    "\"total\":{\"type\":\"integer\",\"description\":\"how many match, beyond this page too\"}}}"

#define WAIT_OBJECT                                                                                        \
    "{\"type\":\"object\",\"required\":[\"timed_out\",\"submission\"],\"properties\":{"                   \
    "\"timed_out\":{\"type\":\"boolean\",\"description\":\"true: still pending when the time was up; "   \
    "call again to keep waiting\"},"                                                                       \
    "\"waited_ms\":{\"type\":\"integer\"},"                                                                 \
    "\"submission\":" SUBMISSION_OBJECT "}}"

#define APPROVAL_OBJECT                                                                                    \
    "{\"type\":\"object\",\"required\":[\"id\",\"name\",\"grants\",\"runs_left\"],\"properties\":{"       \
    "\"id\":{\"type\":\"string\",\"description\":\"approval id (a ref for run_module)\"},"                 \
    "\"name\":{\"type\":\"string\",\"description\":\"module name\"},"                                      \
    "\"tool\":{\"type\":\"string\",\"description\":\"the tool that runs exactly this approval\"},"         \
    "\"sha256\":{\"type\":\"string\"},"                                                                     \
    "\"submission\":{\"type\":\"string\"},"                                                                 \
    "\"description\":{\"type\":\"string\"},"                                                                \
    "\"grants\":{\"type\":\"object\",\"properties\":{\"args\":{\"type\":\"boolean\"},\"stdin\":{\"type\":" \
    "\"boolean\"}}},"                                                                                      \
    "\"capabilities\":{\"type\":\"object\"},"                                                               \
    "\"limits\":{\"type\":\"object\"},"                                                                     \
    "\"runs_left\":{\"type\":\"integer\"},"                                                                 \
    "\"expires_at\":{\"type\":\"integer\"},"                                                                \
    "\"created_at\":{\"type\":\"integer\"},"                                                                \
    "\"policy\":{\"type\":\"string\"}}}"

#define APPROVALS_OBJECT                                                                                   \
    "{\"type\":\"object\",\"required\":[\"items\",\"total\"],\"properties\":{"                            \
    "\"items\":{\"type\":\"array\",\"items\":" APPROVAL_OBJECT "},"                                       \
    "\"total\":{\"type\":\"integer\"}}}"

#define PAGE_FIELDS(s)                                                                                     \
    "\"" s "\":{\"type\":\"string\",\"description\":\"this page of the run's " s " (UTF-8 text; invalid "  \
    "bytes become U+FFFD)\"},"                                                                             \
    "\"" s "_offset\":{\"type\":\"integer\",\"description\":\"where the page starts, in bytes\"},"        \
    "\"" s "_total\":{\"type\":\"integer\",\"description\":\"all the bytes the run wrote (kept)\"},"       \
    "\"" s "_more\":{\"type\":\"boolean\",\"description\":\"bytes follow this page: get_run with "        \
    s "_offset\"},"                                                                                        \
    "\"" s "_b64\":{\"type\":\"string\",\"description\":\"the page's exact bytes, base64 (get_run "        \
    "with binary)\"},"                                                                                     \
    "\"" s "_truncated\":{\"type\":\"boolean\",\"description\":\"the run wrote more than its limit "      \
    "allowed: the rest was dropped\"},"

#define RUN_OBJECT                                                                                         \
    "{\"type\":\"object\",\"required\":[\"id\",\"outcome\"],\"properties\":{"                             \
    "\"id\":{\"type\":\"string\",\"description\":\"run id (r_...)\"},"                                     \
    "\"approval_id\":{\"type\":\"string\"},"                                                                \
    "\"name\":{\"type\":\"string\"},"                                                                       \
    "\"sha256\":{\"type\":\"string\"},"                                                                     \
    "\"invoker\":{\"type\":\"string\"},"                                                                    \
    "\"state\":{\"type\":\"string\",\"enum\":[\"queued\",\"running\",\"finished\"]},"                      \
    "\"progress\":{\"type\":\"object\",\"description\":\"elapsed_ms, stdout_bytes, stderr_bytes so far\","   \
    "\"properties\":{\"elapsed_ms\":{\"type\":\"integer\"},\"stdout_bytes\":{\"type\":\"integer\"},"       \
    "\"stderr_bytes\":{\"type\":\"integer\"}}},"                                                          \
    "\"outcome\":{\"type\":\"string\",\"description\":\"ok, exit (non-zero exit code), trap, timeout, "    \
    "fuel, memory, output_limit, crash, interrupted, cancelled; running or queued while it runs\"},"     \
    "\"exit_code\":" NULLABLE("integer", "the module's exit code; null unless it exited (a trap or a "    \
                              "limit has none)") ","                                                       \
    "\"message\":" NULLABLE("string", "what stopped it") ","                                               \
    PAGE_FIELDS("stdout") PAGE_FIELDS("stderr")                                                            \
    "\"duration_ms\":{\"type\":\"integer\"},"                                                               \
    "\"limits_hit\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"                                 \
    "\"denied_calls\":{\"type\":\"integer\",\"description\":\"system calls refused for lack of a "         \
    "capability\"},"                                                                                       \
    "\"threat\":{\"anyOf\":[{\"type\":\"object\"},{\"type\":\"null\"}]},"                                  \
    "\"started_at\":{\"type\":\"integer\"},"                                                                \
    "\"finished_at\":" NULLABLE("integer", "Unix time") "}}"

#define START_OBJECT                                                                                       \
    "{\"type\":\"object\",\"required\":[\"run_id\",\"state\"],\"properties\":{"                        \
    "\"run_id\":{\"type\":\"string\",\"description\":\"the run's id: get_run follows it, cancel_run "        \
    "stops it\"},"                                                                                        \
    "\"state\":{\"type\":\"string\",\"enum\":[\"queued\",\"running\",\"finished\"]}}}"

#define CANCEL_OBJECT                                                                                      \
    "{\"type\":\"object\",\"required\":[\"run_id\",\"cancelled\"],\"properties\":{"                    \
    "\"run_id\":{\"type\":\"string\"},"                                                                     \
    "\"state\":{\"type\":\"string\",\"enum\":[\"queued\",\"running\",\"finished\"]},"                      \
    "\"cancelled\":{\"type\":\"boolean\",\"description\":\"false: it had already finished, and nothing "    \
    "changed\"}}}"

#define OUTPUT_SCHEMA(success) "{\"type\":\"object\",\"anyOf\":[" success "," ERROR_BRANCH "]}"

/* ---- input schemas (the validator's keyword subset: mcp/schema.h) ---- */

#define ID_PROPERTY(what)                                                                                  \
    "{\"type\":\"string\",\"minLength\":1,\"maxLength\":64,\"pattern\":\"^[A-Za-z0-9_-]+$\","            \
    "\"description\":\"" what "\"}"

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define PAGE_ARGS(s)                                                                                       \
    "\"" s "_offset\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":2147483647,\"description\":"        \
    "\"the first byte of " s " to return (default 0)\"},"                                                 \
    "\"" s "_limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":" STRINGIFY(NC_MCP_MAX_PAGE_BYTES)    \
    ",\"description\":\"at most this many bytes of " s " (default " STRINGIFY(NC_MCP_DEFAULT_PAGE_BYTES)   \
    ")\"},"

#define RUN_ARGS                                                                                           \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"ref\"],\"properties\":{"         \
    "\"ref\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128,\"description\":\"the module name, "     \
    "or an approval id (64 hex)\"},"                                                                       \
    "\"args\":{\"type\":\"array\",\"maxItems\":255,\"items\":{\"type\":\"string\",\"maxLength\":4096},"     \
    "\"description\":\"command-line arguments (only if the approval grants args)\"},"                     \
    "\"stdin_base64\":{\"type\":\"string\",\"maxLength\":22369624,\"contentEncoding\":\"base64\","        \
    "\"description\":\"standard input, base64 (only if the approval grants stdin; at most 16 MiB)\"}}}"

static const nc_mcp_tool tools[] = {
    {
        .name = "submit_module",
        .title = "Submit a WebAssembly module for human review",
        .op = "submit",
        .kind = NC_MCP_KIND_CALL,
        .description =
            "Submit a WebAssembly module to the Night Core inbox, where a human reviews it. Submitting never runs "
            "anything: the module is stored as pending, analysed (imports, exports, memory, drift from earlier "
            "versions, a threat score) and shown to a human operator. Only if that person approves it, by signing "
            "an approval with a key this server does not have, can it run; they choose the policy (capabilities and "
            "limits), how many runs, how long the approval lasts, and whether agent:{agent} may run it. Say in "
            "description what the module does and why, and request only the capabilities it needs: the reviewer "
            "sees both. The module must be a WASI preview 1 command (a _start function; imports only from "
            "wasi_snapshot_preview1), at most 16 MiB: anything else is refused at once with the reason. "
            "Submitting the same name and bytes again returns the existing submission (review_again asks for a "
            "new review once its approval is used up). Limits: at most 20 pending submissions, and a burst of 10 "
            "submissions then one every 5 seconds. Returns the submission with its analysis and agent_state; "
            "tell the user what agent_state.message says (the id, and the command to approve it for you: "
            "nightcore approve ID --allow-agent {agent}), then call wait_for_submission.",
        .input_schema =
            "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"name\",\"wasm_base64\"],"
            "\"properties\":{"
            "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64,"
            "\"pattern\":\"^[A-Za-z0-9_][A-Za-z0-9._-]*$\","
            "\"description\":\"module name: 1-64 of A-Z a-z 0-9 . _ -, not starting with . or -\"},"
            "\"wasm_base64\":{\"type\":\"string\",\"minLength\":4,\"maxLength\":22369624,"
            "\"contentEncoding\":\"base64\","
            "\"description\":\"the .wasm bytes, standard padded base64 (a module of at most 16 MiB)\"},"
            "\"review_again\":{\"type\":\"boolean\",\"description\":\"true: ask for a new human review of "
            "the same bytes (a new submission linking the old one), for when its approval is used up, expired or "
            "revoked. Without it, the same name and bytes return the existing submission\"},"
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
                    {"requested_capabilities", "requested"}, {"review_again", "review_again"}, {NULL, NULL}},
    },
    {
        .name = "get_submission",
        .title = "Get one of your submissions",
        .op = "submission.get",
        .kind = NC_MCP_KIND_CALL,
        .description =
            "Look up one of your own submissions by id. agent_state says what it means for you: pending (waiting "
            "for a human to review it), rejected (reason says why), approved_for_you (run it: its name is a ref "
            "for run_module, and it is also a tool of its own), approved_not_for_you (approved without naming "
            "you: ask the user to approve it with --allow-agent {agent}), used_up, expired or revoked; "
            "agent_state.message is what to tell the user. Includes the analysis and threat score the reviewer "
            "sees. Read-only; other agents' submissions are not_found. To wait for a decision, use "
            "wait_for_submission rather than calling this repeatedly.",
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
        .kind = NC_MCP_KIND_CALL,
        .description = "List your own submissions, newest first, each with its agent_state (what it means for "
                       "you), all of them or only those with one status: pending, approved or rejected. Read-only.",
        .input_schema =
            "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
            "\"status\":{\"type\":\"string\",\"enum\":[\"pending\",\"approved\",\"rejected\"],"
            "\"description\":\"only submissions with this status (omit it for all)\"},"
            "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100,\"description\":\"at most this many "
            "(at most 100; default 20)\"},"
            "\"offset\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":1000000,\"description\":\"skip this many "
            "(paging)\"}}}",
        .output_schema = OUTPUT_SCHEMA(LIST_OBJECT),
        .read_only = true, .destructive = false, .idempotent = true,
        .renames = {{"status", "status"}, {"limit", "limit"}, {"offset", "offset"}, {NULL, NULL}},
    },
    {
        .name = "wait_for_submission",
        .title = "Wait for a human to decide on a submission",
        .op = "submission.get",
        .kind = NC_MCP_KIND_WAIT,
        .description =
            "Wait until a human has decided on one of your submissions: returns as soon as its agent_state is no "
            "longer pending (approved for you or not, or rejected), or when timeout_s has passed (timed_out: "
            "true; call it again to keep waiting). Night Core tells this server the moment the decision is made, "
            "so there is no need to poll get_submission. Before waiting, tell the user what to approve "
            "(agent_state.message). Sends progress notifications while it waits if you give a progressToken.",
        .input_schema = "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"submission_id\"],"
                        "\"properties\":{\"submission_id\":" ID_PROPERTY("the id submit_module returned (s_...)") ","
                        "\"timeout_s\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":3600,\"description\":"
                        "\"how long to wait at most, in seconds (default 50: below most clients' request "
                        "timeout)\"}}}",
        .output_schema = OUTPUT_SCHEMA(WAIT_OBJECT),
        .read_only = true, .destructive = false, .idempotent = true,
        .renames = {{"submission_id", "submission"}, {"timeout_s", NULL}, {NULL, NULL}},
    },
    {
        .name = "list_approvals",
        .title = "List the modules approved for you",
        .op = "approvals.list",
        .kind = NC_MCP_KIND_APPROVALS,
        .description =
            "List the approvals you can run now (signed by a human, naming agent:{agent}, not used up, expired or "
            "revoked), newest first: the module, what it grants (arguments, standard input), runs left, expiry, "
            "and the tool that runs exactly that approval (each one is also a tool of its own in tools/list). "
            "Read-only.",
        .input_schema = "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{}}",
        .output_schema = OUTPUT_SCHEMA(APPROVALS_OBJECT),
        .read_only = true, .destructive = false, .idempotent = true,
        .renames = {{NULL, NULL}},
    },
    {
        .name = "run_module",
        .title = "Run a module a human approved for you",
        .op = "run",
        .kind = NC_MCP_KIND_RUN,
        .description =
            "Run a module that a human has approved for agent:{agent}, and wait for it to finish. ref is the module "
            "name (its newest valid approval is used), or an approval id. Before anything runs, Night Core "
            "verifies the approval: signed by a trusted human key, not revoked, not expired, runs left, the module "
            "bytes unchanged, and agent:{agent} named among its invokers. Otherwise the call is refused and nothing "
            "runs, with a code and a message saying what to tell the user: pending_review (not reviewed yet), "
            "rejected, not_approved_for_you (approved without --allow-agent {agent}), max_runs_exceeded, expired, "
            "revoked_approval, not_approved (nothing of yours by that name), busy (you already have a run in "
            "progress), capability_denied (args or stdin the approval does not grant). The module runs in a "
            "sandbox with exactly the capabilities and limits the human approved, and no network. Returns the "
            "outcome, exit code (null unless the module exited), and the first page of stdout and stderr; page "
            "through the rest with get_run. Sends progress notifications (queued, started, elapsed, output so far) if "
            "you give a progressToken; cancelling the request cancels the run. start_run does the same without "
            "waiting.",
        .input_schema = RUN_ARGS,
        .output_schema = OUTPUT_SCHEMA(RUN_OBJECT),
        .read_only = false, .destructive = true, .idempotent = false,
        .renames = {{"ref", "ref"}, {"args", "args"}, {"stdin_base64", "stdin_b64"}, {NULL, NULL}},
    },
    {
        .name = "start_run",
        .title = "Start a run of a module approved for you, without waiting",
        .op = "run.start",
        .kind = NC_MCP_KIND_CALL,
        .description =
            "Start a run as run_module does (the same ref, args and stdin_base64, the same verification and the same "
            "refusals), but return at once with its run_id, once Night Core has verified the approval and recorded "
            "the run: follow it with get_run (state queued, running or finished; progress; then the result and its "
            "output, paged) and stop it with cancel_run. You can have one run in progress at a time (busy names "
            "the one running).",
        .input_schema = RUN_ARGS,
        .output_schema = OUTPUT_SCHEMA(START_OBJECT),
        .read_only = false, .destructive = true, .idempotent = false,
        .renames = {{"ref", "ref"}, {"args", "args"}, {"stdin_base64", "stdin_b64"}, {NULL, NULL}},
    },
    {
        .name = "cancel_run",
        .title = "Cancel one of your runs",
        .op = "run.cancel",
        .kind = NC_MCP_KIND_CALL,
        .description = "Stop one of your runs: a queued run leaves the queue and is given back to its approval; a "
                       "running one is killed (outcome cancelled) and counts as used. Answers once the run's end is "
                       "recorded; a run that had already finished is left as it was (cancelled: false). Cancelling "
                       "a run_module call from your client (notifications/cancelled) does the same.",
        .input_schema = "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"run_id\"],"
                        "\"properties\":{\"run_id\":" ID_PROPERTY("the id start_run or a run returned (r_...)") "}}",
        .output_schema = OUTPUT_SCHEMA(CANCEL_OBJECT),
        .read_only = false, .destructive = true, .idempotent = true,
        .renames = {{"run_id", "run"}, {NULL, NULL}},
    },
    {
        .name = "get_run",
        .title = "Get one of your runs, and page through its output",
        .op = "run.get",
        .kind = NC_MCP_KIND_GET_RUN,
        .description = "Look up one of your own runs by id: state (queued, running, finished) and progress while it "
                       "runs; once finished, outcome, exit code, limits hit, denied calls, threat "
                       "score, and one page of stdout and stderr (by default the first 16384 bytes of each; "
                       "stdout_total says how much there is, stdout_more whether more follows: ask for the next "
                       "page with stdout_offset). binary: true adds the page's exact bytes in base64. Read-only; "
                       "other runs are not_found.",
        .input_schema = "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"run_id\"],"
                        "\"properties\":{\"run_id\":" ID_PROPERTY("the id a run returned (r_...)") ","
                        PAGE_ARGS("stdout") PAGE_ARGS("stderr")
                        "\"binary\":{\"type\":\"boolean\",\"description\":\"also return the pages' exact bytes "
                        "(stdout_b64, stderr_b64)\"}}}",
        .output_schema = OUTPUT_SCHEMA(RUN_OBJECT),
        .read_only = true, .destructive = false, .idempotent = true,
        .renames = {{"run_id", "run"}, {"stdout_offset", NULL}, {"stdout_limit", NULL}, {"stderr_offset", NULL},
                    {"stderr_limit", NULL}, {"binary", NULL}, {NULL, NULL}},
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
    char *out_text = expand(t->output_schema, agent);
    json_t *in = json_loads(t->input_schema, JSON_REJECT_DUPLICATES, &je);
    json_t *out_schema = NULL, *tool = NULL;
    if (!in) {
        snprintf(msg, msg_len, "%s inputSchema: %s (column %d)", t->name, je.text, je.column);
        goto done;
    }
    out_schema = out_text ? json_loads(out_text, JSON_REJECT_DUPLICATES, &je) : NULL;
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
    free(out_text);
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

nc_mcp_kind nc_mcp_tool_kind(const nc_mcp_tool *t)
{
    return t->kind;
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
        bool local = false;
        for (const rename_rule *r = t->renames; r->arg; r++)
            if (strcmp(r->arg, key) == 0) {
                param = r->param;
                local = !param;
            }
        if (local)
            continue;   /* the server's own argument (timeout_s, paging) */
        if (!param || json_object_set(params, param, val) != 0) {
            json_decref(params);
            return NULL;
        }
    }
    return params;
}

/* ---- one tool per approval ---- */

#define TOOL_NAME_MAX 64

static void tool_base_name(const char *module, char *out, size_t out_len)
{
    size_t o = 0;
    for (const char *p = module; *p && o + 1 < out_len; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        out[o++] = ok ? c : '_';
    }
    if (o == 0)
        o = (size_t)snprintf(out, out_len, "module");
    out[o] = '\0';
}

static bool name_taken(const json_t *made, const char *name)
{
    size_t i;
    const json_t *t;
    if (nc_mcp_tool_find(name))
        return true;
    json_array_foreach(made, i, t) {
        if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0)
            return true;
    }
    return false;
}

static json_t *approval_input_schema(bool args, bool stdin_granted)
{
    json_t *props = json_object();
    if (!props)
        return NULL;
    if (args)
        json_object_set_new(props, "args",
                            json_pack("{s:s, s:i, s:{s:s, s:i}, s:s}", "type", "array", "maxItems", NC_MAX_ARGS - 1,
                                      "items", "type", "string", "maxLength", NC_MAX_ARG_BYTES, "description",
                                      "command-line arguments for the module"));
    if (stdin_granted)
        json_object_set_new(props, "stdin",
                            json_pack("{s:s, s:i, s:s}", "type", "string", "maxLength", (int)NC_MAX_STDIN_BYTES,
                                      "description", "text for the module's standard input (UTF-8; at most 16 MiB)"));
    return json_pack("{s:s, s:b, s:o}", "type", "object", "additionalProperties", 0, "properties", props);
}

static json_t *approval_tool(const json_t *a, const char *name, const char *agent)
{
    const json_t *grants = json_object_get(a, "grants");
    bool args = json_is_true(json_object_get(grants, "args"));
    bool stdin_granted = json_is_true(json_object_get(grants, "stdin"));
    const char *module = json_string_value(json_object_get(a, "name"));
    const char *aid = json_string_value(json_object_get(a, "id"));
    const char *what = json_string_value(json_object_get(a, "description"));
    bool rw = false;
    size_t i;
    const json_t *d;
    json_array_foreach(json_object_get(json_object_get(a, "capabilities"), "dirs"), i, d) {
        rw |= json_is_string(json_object_get(d, "mode")) && strcmp(json_string_value(json_object_get(d, "mode")), "rw") == 0;
    }
    char desc[6144], title[160];
    snprintf(desc, sizeof desc,
             "%s%sRuns the WebAssembly module \"%s\" that a human approved for agent:%s (approval %.12s; %lld "
             "run%s left, each call uses one; expires at Unix time %lld), in Night Core's sandbox with exactly the "
             "capabilities and limits they signed, and no network. %s%s Returns the outcome, exit code (null "
             "unless the module exited) and the first page of stdout and stderr (get_run pages through the rest). "
             "The tool disappears when the approval is used up, expires or is revoked.",
             what && what[0] ? what : "", what && what[0] ? (what[strlen(what) - 1] == '.' ? " " : ". ") : "",
             module ? module : "?", agent, aid ? aid : "?", (long long)json_integer_value(json_object_get(a, "runs_left")),
             json_integer_value(json_object_get(a, "runs_left")) == 1 ? "" : "s",
             (long long)json_integer_value(json_object_get(a, "expires_at")),
             args ? "It takes command-line arguments (args)." : "It takes no arguments.",
             stdin_granted ? " It reads standard input (stdin)." : "");
    snprintf(title, sizeof title, "Run %.64s (approved for you)", module ? module : "?");
    json_error_t je;
    char *out_text = expand(OUTPUT_SCHEMA(RUN_OBJECT), agent);
    json_t *out_schema = out_text ? json_loads(out_text, JSON_REJECT_DUPLICATES, &je) : NULL;
    free(out_text);
    json_t *in = approval_input_schema(args, stdin_granted);
    if (!out_schema || !in || !aid) {
        json_decref(out_schema);
        json_decref(in);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:{s:s, s:b, s:b, s:b, s:b}, s:{s:s}}", "name", name, "title", title,
                     "description", desc, "inputSchema", in, "outputSchema", out_schema, "annotations", "title", title,
                     "readOnlyHint", 0, "destructiveHint", rw, "idempotentHint", 0, "openWorldHint", 0, "_meta",
                     NC_MCP_APPROVAL_META_KEY, aid);
}

json_t *nc_mcp_approval_tools(const json_t *approvals, const char *agent)
{
    json_t *out = json_array();
    size_t i;
    const json_t *a;
    if (!out)
        return NULL;
    json_array_foreach(approvals, i, a) {
        const char *module = json_string_value(json_object_get(a, "name"));
        const char *aid = json_string_value(json_object_get(a, "id"));
        char base[TOOL_NAME_MAX - 8], name[TOOL_NAME_MAX + 1];
        if (!module || !aid || strlen(aid) < 12)
            continue;
        bool seen = false;   /* the same approval listed twice: one tool */
        size_t k;
        const json_t *made;
        json_array_foreach(out, k, made) {
            seen |= strcmp(nc_mcp_approval_tool_id(made), aid) == 0;
        }
        if (seen)
            continue;
        tool_base_name(module, base, sizeof base);
        snprintf(name, sizeof name, "%s", base);
        if (name_taken(out, name))
            snprintf(name, sizeof name, "%s_%.8s", base, aid);
        if (name_taken(out, name))
            continue;   /* two approvals whose ids start alike under one name: the newest keeps it */
        json_t *t = approval_tool(a, name, agent);
        if (!t || json_array_append_new(out, t) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

const char *nc_mcp_approval_tool_id(const json_t *tool)
{
    return json_string_value(json_object_get(json_object_get(tool, "_meta"), NC_MCP_APPROVAL_META_KEY));
}
