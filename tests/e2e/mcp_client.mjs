// Drives the real nightcore-mcp with the official MCP TypeScript SDK client
// (Client + StdioClientTransport, or StreamableHTTPClientTransport with --url)
// and prints one JSON summary on stdout for tests/integration/test_mcp_sdk.py
// and test_mcp_http.py to assert on.
//
//   NIGHTCORE_AGENT_TOKEN=... node mcp_client.mjs MODE --bin DIR --home DIR --agent NAME [--wasm FILE] [--name NAME]
//       [--url http://127.0.0.1:PORT/mcp]
//
// With --url the client connects to a running `nightcore-mcp --http` over
// Streamable HTTP, the token as "Authorization: Bearer"; at the end it ends
// its session (DELETE) and the summary says what the session id looked like.
//
// MODE submit: list tools, submit_module, get_submission, list_submissions,
//              run_module (expected to be refused: not approved yet).
// MODE run:    list tools, get_submission (--submission ID), run_module
//              (--ref REF, default: the submission's name), get_run.
// MODE async:  with "sleepy" approved for the agent: run_module with a
//              progressToken, ping and list_submissions while it runs, the
//              request aborted (notifications/cancelled), then the run read
//              back with get_run; tools/list_changed awaited after the test
//              approves --submission for the agent (printed "ready" line), and
//              that approval's own tool called.
// The SDK itself checks every structuredContent against the tool's
// outputSchema (ajv); the script also compiles every inputSchema and checks
// its own arguments against it, so the schemas nightcore-mcp publishes are
// valid JSON Schema that a real client accepts.
import { readFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { createInterface } from "node:readline";

function parseArgs(argv) {
  const [mode, ...rest] = argv;
  const opts = { mode };
  for (let i = 0; i < rest.length; i += 2) {
    if (!rest[i].startsWith("--") || i + 1 >= rest.length) throw new Error(`bad argument ${rest[i]}`);
    opts[rest[i].slice(2)] = rest[i + 1];
  }
  for (const k of ["bin", "home", "agent"]) if (!opts[k]) throw new Error(`--${k} is required`);
  if (!["submit", "run", "async"].includes(mode)) throw new Error("MODE is submit, run or async");
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const token = process.env.NIGHTCORE_AGENT_TOKEN;
if (!token) throw new Error("NIGHTCORE_AGENT_TOKEN is not set");

const validator = new AjvJsonSchemaValidator();
const inputValidators = new Map();

// A tool call, with the arguments first checked against the published inputSchema.
async function call(client, name, args, options) {
  const check = inputValidators.get(name)(args);
  if (!check.valid) throw new Error(`arguments for ${name} do not match its inputSchema: ${check.errorMessage}`);
  const result = await client.callTool({ name, arguments: args }, undefined, options);
  const text = result.content?.[0]?.type === "text" ? result.content[0].text : null;
  return { isError: result.isError === true, structured: result.structuredContent ?? null, text };
}

function refusal(r) {
  return r.isError ? { isError: true, code: r.structured?.error?.code ?? null, text: r.text } : { isError: false };
}

const transport = opts.url
  ? new StreamableHTTPClientTransport(new URL(opts.url), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    })
  : new StdioClientTransport({
      command: path.join(opts.bin, "nightcore-mcp"),
      args: ["--agent", opts.agent, "--home", opts.home],
      env: { NIGHTCORE_AGENT_TOKEN: token, PATH: process.env.PATH ?? "/usr/bin:/bin" },
      stderr: "inherit",
    });
const client = new Client({ name: "nightcore-e2e", version: "1.0.0" });
await client.connect(transport);

const summary = { mode: opts.mode, serverInfo: client.getServerVersion(), instructions: client.getInstructions() };
const { tools } = await client.listTools();
summary.tools = tools.map((t) => t.name);
for (const t of tools) {
  inputValidators.set(t.name, validator.getValidator(t.inputSchema));
  validator.getValidator(t.outputSchema); // throws if it does not compile
}

if (opts.mode === "submit") {
  const wasm = readFileSync(opts.wasm).toString("base64");
  const sub = await call(client, "submit_module", {
    name: opts.name ?? "hello",
    wasm_base64: wasm,
    description: "prints hello, world",
    requested_capabilities: { args: false, stdin: false, env: {}, dirs: [] },
  });
  summary.submit = { ...refusal(sub), id: sub.structured?.id, status: sub.structured?.status, text_is_json: false };
  try {
    summary.submit.text_is_json = JSON.parse(sub.text).id === sub.structured?.id;
  } catch {
    /* not JSON */
  }
  if (!sub.isError) {
    const got = await call(client, "get_submission", { submission_id: sub.structured.id });
    summary.get = { ...refusal(got), id: got.structured?.id, status: got.structured?.status };
    const list = await call(client, "list_submissions", { status: "pending", limit: 10 });
    summary.list = { ...refusal(list), total: list.structured?.total, ids: (list.structured?.items ?? []).map((s) => s.id) };
    const run = await call(client, "run_module", { ref: opts.name ?? "hello" });
    summary.run = refusal(run);
    const bad = await call(client, "get_submission", { submission_id: "s_0000000000000000" });
    summary.not_found = refusal(bad);
  }
} else if (opts.mode === "async") {
  let listChanged = 0;
  let changedWaiter = null;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    listChanged++;
    if (changedWaiter) changedWaiter();
  });
  const progress = [];
  let startedResolve;
  const started = new Promise((r) => (startedResolve = r));
  const abort = new AbortController();
  const runPromise = call(client, "run_module", { ref: "sleepy" }, {
    signal: abort.signal,
    timeout: 300000,
    onprogress: (p) => {
      progress.push(p.message);
      if (p.message?.includes("started")) startedResolve();
    },
  }).then(
    () => "answered",
    (e) => `rejected: ${e?.message ?? e}`,
  );
  await started;
  await client.ping();
  const during = await call(client, "list_submissions", {});
  summary.during_run = { pinged: true, list_total: during.structured?.total };
  const runId = progress.find((m) => m?.startsWith("run r_"))?.split(" ")[1];
  abort.abort("the user changed their mind");
  summary.run_call = await runPromise;
  let got;
  for (let i = 0; i < 600; i++) {
    got = await call(client, "get_run", { run_id: runId });
    if (got.structured?.state === "finished") break;
    await new Promise((r) => setTimeout(r, 200));
  }
  summary.cancelled_run = { id: runId, outcome: got.structured?.outcome, exit_code: got.structured?.exit_code };
  summary.progress = progress;
  // the test approves --submission for the agent once it reads this line
  const changed = new Promise((r) => (changedWaiter = r));
  process.stdout.write(JSON.stringify({ ready: true }) + "\n");
  await changed;
  const after = await client.listTools();
  for (const t of after.tools) {
    inputValidators.set(t.name, validator.getValidator(t.inputSchema));
    validator.getValidator(t.outputSchema);
  }
  summary.tools_after = after.tools.map((t) => t.name);
  const tool = after.tools.find((t) => t.name === opts.tool);
  summary.tool = tool ? { properties: Object.keys(tool.inputSchema.properties ?? {}).sort() } : null;
  if (tool) {
    const ran = await call(client, opts.tool, { args: ["from", "typescript"] });
    summary.tool_run = { ...refusal(ran), stdout: ran.structured?.stdout, text: ran.text };
  }
  summary.list_changed = listChanged;
} else {
  const got = await call(client, "get_submission", { submission_id: opts.submission });
  summary.get = { ...refusal(got), status: got.structured?.status, name: got.structured?.name };
  // --ref, or the module's name: its newest valid approval
  const ref = opts.ref ?? got.structured?.name;
  const run = await call(client, "run_module", { ref });
  summary.run = {
    ref,
    ...refusal(run),
    id: run.structured?.id,
    outcome: run.structured?.outcome,
    exit_code: run.structured?.exit_code,
    stdout: run.structured?.stdout,
    invoker: run.structured?.invoker,
  };
  if (!run.isError) {
    const again = await call(client, "get_run", { run_id: run.structured.id });
    summary.get_run = { ...refusal(again), id: again.structured?.id, stdout: again.structured?.stdout };
  }
}

if (opts.url) {
  const sid = transport.sessionId ?? "";
  summary.http = { session_id_hex64: /^[0-9a-f]{64}$/.test(sid), protocol: transport.protocolVersion ?? null };
  await transport.terminateSession(); // DELETE: the server ends the session
  summary.http.terminated = transport.sessionId === undefined;
}
await client.close();
process.stdout.write(JSON.stringify(summary) + "\n");
