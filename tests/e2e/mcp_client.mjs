// Drives the real nightcore-mcp with the official MCP TypeScript SDK client
// (Client + StdioClientTransport) and prints one JSON summary on stdout for
// tests/integration/test_mcp_sdk.py to assert on.
//
//   NIGHTCORE_AGENT_TOKEN=... node mcp_client.mjs MODE --bin DIR --home DIR --agent NAME [--wasm FILE] [--name NAME]
//
// MODE submit: list tools, submit_module, get_submission, list_submissions,
//              run_module (expected to be refused: not approved yet).
// MODE run:    list tools, get_submission (--submission ID), run_module
//              (--ref REF, default: the submission's name), get_run.
// The SDK itself checks every structuredContent against the tool's
// outputSchema (ajv); the script also compiles every inputSchema and checks
// its own arguments against it, so the schemas nightcore-mcp publishes are
// valid JSON Schema that a real client accepts.
import { readFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { AjvJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/ajv";

function parseArgs(argv) {
  const [mode, ...rest] = argv;
  const opts = { mode };
  for (let i = 0; i < rest.length; i += 2) {
    if (!rest[i].startsWith("--") || i + 1 >= rest.length) throw new Error(`bad argument ${rest[i]}`);
    opts[rest[i].slice(2)] = rest[i + 1];
  }
  for (const k of ["bin", "home", "agent"]) if (!opts[k]) throw new Error(`--${k} is required`);
  if (mode !== "submit" && mode !== "run") throw new Error("MODE is submit or run");
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const token = process.env.NIGHTCORE_AGENT_TOKEN;
if (!token) throw new Error("NIGHTCORE_AGENT_TOKEN is not set");

const validator = new AjvJsonSchemaValidator();
const inputValidators = new Map();

// A tool call, with the arguments first checked against the published inputSchema.
async function call(client, name, args) {
  const check = inputValidators.get(name)(args);
  if (!check.valid) throw new Error(`arguments for ${name} do not match its inputSchema: ${check.errorMessage}`);
  const result = await client.callTool({ name, arguments: args });
  const text = result.content?.[0]?.type === "text" ? result.content[0].text : null;
  return { isError: result.isError === true, structured: result.structuredContent ?? null, text };
}

function refusal(r) {
  return r.isError ? { isError: true, code: r.structured?.error?.code ?? null, text: r.text } : { isError: false };
}

const transport = new StdioClientTransport({
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

await client.close();
process.stdout.write(JSON.stringify(summary) + "\n");
