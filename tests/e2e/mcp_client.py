"""Drives the real nightcore-mcp with the official MCP Python SDK (pinned in
tests/e2e/requirements.txt; run with tests/e2e/.venv/bin/python) for
tests/integration/test_mcp_python_sdk.py. Prints JSON lines on stdout: steps
the test reacts to (a submission waiting for the human), then one summary.

  NIGHTCORE_AGENT_TOKEN=... python mcp_client.py MODE --bin DIR --home DIR --agent NAME --fixtures DIR
      [--transcript FILE] [--url URL [--socket PATH]]

Without --url the SDK starts nightcore-mcp and speaks stdio. With --url it
connects to a running `nightcore-mcp --http` over Streamable HTTP (the SDK's
streamable_http_client), the token as "Authorization: Bearer"; with --socket
as well, through that Unix socket (--http-socket). Over HTTP the summary also
says which session the server gave, and whether it ended on close (DELETE).

MODE story:  the whole agent story: submit, tell the user, wait for the
             decision (the test approves meanwhile), the approved module as a
             tool, runs until the approval is used up, resources.
MODE cancel: a long run (already approved as "sleepy") started, ping answered
             while it runs, the request cancelled, the run recorded cancelled.

Every tool result, refusals too, is checked against its tool's outputSchema
(the SDK itself checks successful ones as well)."""
import argparse
import base64
import json
import os
import sys

import contextlib

import anyio
import httpx2
import jsonschema
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import Implementation


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Agent:
    def __init__(self, opts):
        self.opts = opts
        self.schemas = {}
        self.events = {"tools/list_changed": 0, "resources/updated": []}
        self.changed = anyio.Event()
        self.updated = anyio.Event()
        self.transcript = []
        self.http = {"session_ids": set(), "requests": []}

    def http_summary(self):
        return {"sessions": len(self.http["session_ids"]),
                "session_id_hex64": all(len(i) == 64 and all(ch in "0123456789abcdef" for ch in i)
                                        for i in self.http["session_ids"]),
                "deleted": ["DELETE", 204] in self.http["requests"],
                "statuses": sorted({st for _, st in self.http["requests"]})}

    async def on_message(self, message):
        if isinstance(message, Exception):
            return
        method = getattr(message, "method", None)
        if method == "notifications/tools/list_changed":
            self.events["tools/list_changed"] += 1
            self.changed.set()
            self.note("server", "notifications/tools/list_changed")
        elif method == "notifications/resources/updated":
            self.events["resources/updated"].append(message.params.uri)
            self.updated.set()
            self.note("server", "notifications/resources/updated " + message.params.uri)

    def note(self, who, text):
        self.transcript.append((who, text))

    @contextlib.asynccontextmanager
    async def client(self):
        token = os.environ["NIGHTCORE_AGENT_TOKEN"]
        # mode "auto": the SDK first probes server/discover (2026-07-28), and
        # falls back to initialize when the server declines it
        kw = dict(mode="auto", message_handler=self.on_message,
                  client_info=Implementation(name="nightcore-e2e-python", version="1.0.0"))
        if not self.opts.url:
            params = StdioServerParameters(
                command=os.path.join(self.opts.bin, "nightcore-mcp"),
                args=["--agent", self.opts.agent, "--home", self.opts.home],
                env={"NIGHTCORE_AGENT_TOKEN": token},
            )
            async with Client(params, **kw) as c:
                yield c
            return
        # Streamable HTTP: the token is the bearer credential of every request
        transport = httpx2.AsyncHTTPTransport(uds=self.opts.socket) if self.opts.socket else None
        hc = httpx2.AsyncClient(headers={"Authorization": "Bearer " + token}, transport=transport,
                                timeout=httpx2.Timeout(30, read=600), event_hooks={"response": [self.on_response]})
        async with hc:
            async with Client(streamable_http_client(self.opts.url, http_client=hc), **kw) as c:
                yield c

    async def on_response(self, response):
        """What the HTTP side saw: the session the server gave, and how it ended."""
        sid = response.headers.get("mcp-session-id")
        if sid:
            self.http["session_ids"].add(sid)
        self.http["requests"].append([response.request.method, response.status_code])

    async def tools(self, c):
        listed = await c.list_tools()
        for t in listed.tools:
            self.schemas[t.name] = t.output_schema
            jsonschema.Draft202012Validator.check_schema(t.input_schema)
            jsonschema.Draft202012Validator.check_schema(t.output_schema)
        return {t.name: t for t in listed.tools}

    async def call(self, c, name, args, **kw):
        self.note("agent", "%s %s" % (name, json.dumps(args)[:300]))
        r = await c.call_tool(name, args, **kw)
        jsonschema.validate(r.structured_content, self.schemas[name])
        text = r.content[0].text if r.content else ""
        self.note("server", ("error " if r.is_error else "") + text)
        return r


def wasm(opts, fx):
    with open(os.path.join(opts.fixtures, fx + ".wasm"), "rb") as f:
        return base64.b64encode(f.read()).decode()


async def story(opts):
    a = Agent(opts)
    out = {}
    async with a.client() as c:
        out["protocol_version"] = c.protocol_version
        out["server"] = c.server_info.name
        out["instructions"] = c.instructions
        out["capabilities"] = c.server_capabilities.model_dump(exclude_none=True, by_alias=True)
        tools = await a.tools(c)
        out["tools"] = sorted(tools)
        try:
            await c.list_tools(cursor="not-a-cursor", cache_mode="refresh")
            out["bad_cursor"] = None
        except MCPError as e:
            out["bad_cursor"] = e.code

        r = await a.call(c, "submit_module", {
            "name": "greet", "wasm_base64": wasm(opts, "wasi_args"),
            "description": "Prints its arguments, one per line.",
            "requested_capabilities": {"args": True}})
        sub = r.structured_content
        out["submitted"] = {"isError": r.is_error, "state": sub["agent_state"]["state"],
                            "has_analysis": "analysis" in sub}
        await c.subscribe_resource("nightcore://submissions/" + sub["id"])
        # what the agent tells its user, then it waits
        emit({"step": "submitted", "id": sub["id"], "message": sub["agent_state"]["message"]})
        progress = []

        async def on_progress(p, total, message):
            progress.append(message)

        r = await a.call(c, "wait_for_submission", {"submission_id": sub["id"], "timeout_s": 600},
                         progress_callback=on_progress)
        out["waited"] = {"timed_out": r.structured_content["timed_out"],
                         "state": r.structured_content["submission"]["agent_state"]["state"]}
        with anyio.fail_after(120):
            await a.changed.wait()
            await a.updated.wait()
        a.changed = anyio.Event()
        tools = await a.tools(c)
        greet = tools.get("greet")
        out["greet_tool"] = None if greet is None else {
            "properties": sorted(greet.input_schema["properties"]), "description": greet.description}
        r = await a.call(c, "greet", {"args": ["hello", "from", "python"]})
        out["tool_run"] = {"isError": r.is_error, "stdout": r.structured_content.get("stdout"),
                           "outcome": r.structured_content.get("outcome"), "text": r.content[0].text}
        run_progress = []

        async def on_run_progress(p, total, message):
            run_progress.append(message)

        r = await a.call(c, "run_module", {"ref": "greet", "args": ["again"]}, progress_callback=on_run_progress)
        out["second_run"] = {"isError": r.is_error, "stdout": r.structured_content.get("stdout"),
                             "progress": run_progress}
        with anyio.fail_after(120):
            await a.changed.wait()
        out["tools_after_used_up"] = sorted(await a.tools(c))
        r = await a.call(c, "run_module", {"ref": "greet"})
        out["third_run"] = {"isError": r.is_error, "error": r.structured_content.get("error")}
        got = await c.read_resource("nightcore://submissions/" + sub["id"])
        out["resource_state"] = json.loads(got.contents[0].text)["agent_state"]["state"]
        await c.send_ping()
        out["events"] = a.events
    out["transcript"] = a.transcript
    out["http"] = a.http_summary()
    if opts.transcript:
        with open(opts.transcript, "w") as f:
            json.dump(a.transcript, f, indent=1)
    emit({"step": "done", "summary": out})


async def cancel(opts):
    a = Agent(opts)
    out = {}
    async with a.client() as c:
        await a.tools(c)
        started = anyio.Event()
        seen = []

        async def on_progress(p, total, message):
            seen.append(message)
            if "started" in message:
                started.set()

        result = {}

        async def run():
            try:
                result["r"] = await c.call_tool("run_module", {"ref": "sleepy"}, progress_callback=on_progress)
            except anyio.get_cancelled_exc_class():
                result["cancelled"] = True
                raise

        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            with anyio.fail_after(120):
                await started.wait()
            # the run is in progress; the session still answers
            await c.send_ping()
            listed = await a.call(c, "list_submissions", {})
            out["answered_during_run"] = listed.structured_content["total"]
            out["run_pending_at_ping"] = "r" not in result
            tg.cancel_scope.cancel()
        run_id = next(m.split()[1] for m in seen if m.startswith("run r_"))
        out["run_id"] = run_id
        # the worker records the run as cancelled (poll the server's get_run, bounded)
        with anyio.fail_after(120):
            while True:
                r = await a.call(c, "get_run", {"run_id": run_id})
                if r.structured_content.get("state") == "finished":
                    break
                await anyio.sleep(0.2)
        out["outcome"] = r.structured_content["outcome"]
        out["exit_code"] = r.structured_content.get("exit_code", "absent")
        out["progress"] = seen
        out["cancelled_in_client"] = result.get("cancelled", False)
    out["http"] = a.http_summary()
    emit({"step": "done", "summary": out})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["story", "cancel"])
    for k in ("bin", "home", "agent", "fixtures"):
        p.add_argument("--" + k, required=True)
    p.add_argument("--transcript")
    p.add_argument("--url")
    p.add_argument("--socket")
    opts = p.parse_args()
    anyio.run(story if opts.mode == "story" else cancel, opts)


if __name__ == "__main__":
    main()
