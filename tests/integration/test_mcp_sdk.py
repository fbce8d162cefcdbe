"""nightcore-mcp driven by the official MCP TypeScript SDK client
(tests/e2e/mcp_client.mjs: Client + StdioClientTransport) against a real
worker: submit, look up, be refused before approval; a human approves naming
the agent; the agent runs it."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import BIN, ROOT, fixture

E2E = os.path.join(ROOT, "tests", "e2e")
SCRIPT = os.path.join(E2E, "mcp_client.mjs")
SDK = os.path.join(E2E, "node_modules", "@modelcontextprotocol", "sdk")

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None,
                       reason="node is not installed: the MCP SDK end-to-end test needs Node.js 20+"),
    pytest.mark.skipif(not os.path.isdir(SDK),
                       reason="tests/e2e/node_modules is missing: run scripts/npm-test-deps (make test does)"),
]


def node_client(home, token, mode, *extra):
    p = subprocess.run(["node", SCRIPT, mode, "--bin", BIN, "--home", home.path, "--agent", "claude", *extra],
                       env={**os.environ, "NIGHTCORE_AGENT_TOKEN": token}, capture_output=True, timeout=120)
    assert p.returncode == 0, f"mcp_client.mjs {mode} -> {p.returncode}\n{p.stdout.decode()}\n{p.stderr.decode()}"
    lines = p.stdout.decode().splitlines()
    assert len(lines) == 1, lines
    return json.loads(lines[0])


def test_sdk_client_submit_then_run_after_human_approval(worker):
    rc, agent = worker.ncj("agent", "add", "claude")
    assert rc == 0, agent
    token = agent["token"]

    s = node_client(worker, token, "submit", "--wasm", fixture("hello"), "--name", "hello")
    assert s["serverInfo"]["name"] == "nightcore-mcp"
    assert "human" in s["instructions"]
    assert sorted(s["tools"]) == ["cancel_run", "get_run", "get_submission", "list_approvals", "list_submissions",
                                  "run_module", "start_run", "submit_module", "wait_for_submission"]
    assert s["submit"]["isError"] is False, s["submit"]
    assert s["submit"]["status"] == "pending" and s["submit"]["id"].startswith("s_")
    assert s["submit"]["text_is_json"] is True
    sid = s["submit"]["id"]
    assert s["get"] == {"isError": False, "id": sid, "status": "pending"}
    assert s["list"]["isError"] is False and s["list"]["ids"] == [sid] and s["list"]["total"] == 1
    # nothing runs before a human approves it: a tool error, not a protocol error
    assert s["run"]["isError"] is True and s["run"]["code"] == "pending_review", s["run"]
    assert s["not_found"]["isError"] is True and s["not_found"]["code"] == "not_found"

    # The operator sees it in the inbox and approves it, naming the agent.
    rc, inbox = worker.ncj("inbox")
    assert rc == 0 and [(i["id"], i["agent"]) for i in inbox["items"]] == [(sid, "claude")]
    p = worker.nc("approve", sid, "--yes", "--allow-agent", "claude")
    assert p.returncode == 0, p.stderr.decode()

    r = node_client(worker, token, "run", "--submission", sid)
    assert r["get"]["isError"] is False and r["get"]["status"] == "approved"
    assert r["run"]["isError"] is False, r["run"]
    assert r["run"]["outcome"] == "ok" and r["run"]["exit_code"] == 0
    assert r["run"]["stdout"] == "hello, world\n"
    assert r["run"]["invoker"] == "agent:claude"
    assert r["get_run"] == {"isError": False, "id": r["run"]["id"], "stdout": "hello, world\n"}

    # The run is on the operator's record.
    rc, runs = worker.ncj("runs")
    assert rc == 0 and runs["items"][0]["id"] == r["run"]["id"] and runs["items"][0]["invoker"] == "agent:claude"


def test_sdk_client_refused_when_approval_does_not_name_the_agent(worker):
    rc, agent = worker.ncj("agent", "add", "claude")
    assert rc == 0, agent
    s = node_client(worker, agent["token"], "submit", "--wasm", fixture("hello"), "--name", "hello")
    sid = s["submit"]["id"]
    worker.approve(sid)                       # for the operator only
    r = node_client(worker, agent["token"], "run", "--submission", sid)
    assert r["run"]["isError"] is True and r["run"]["code"] == "not_approved_for_you", r["run"]


def test_sdk_client_progress_cancel_and_approved_tool(worker):
    rc, agent = worker.ncj("agent", "add", "claude")
    assert rc == 0, agent
    sleepy = worker.submit("sleep_forever", "sleepy")
    worker.approve(sleepy["id"], "--allow-agent", "claude")
    greet = worker.submit("wasi_args", "greet")
    p = subprocess.Popen(["node", SCRIPT, "async", "--bin", BIN, "--home", worker.path, "--agent", "claude",
                          "--tool", "greet"], env={**os.environ, "NIGHTCORE_AGENT_TOKEN": agent["token"]},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ready = p.stdout.readline()
    assert ready, p.stderr.read().decode()[-4000:]
    assert json.loads(ready) == {"ready": True}
    worker.approve(greet["id"], "--allow-agent", "claude", "--no-stdin")
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err.decode()[-4000:]
    s = json.loads(out.decode().splitlines()[-1])
    assert s["during_run"] == {"pinged": True, "list_total": 0}
    assert s["run_call"].startswith("rejected:"), s["run_call"]      # the SDK gave up on it: aborted
    assert s["cancelled_run"]["outcome"] == "cancelled" and s["cancelled_run"]["exit_code"] is None
    assert any("queued" in m for m in s["progress"]) and any("started" in m for m in s["progress"])
    assert s["list_changed"] >= 1 and "greet" in s["tools_after"]
    assert s["tool"] == {"properties": ["args"]}
    assert s["tool_run"]["isError"] is False and s["tool_run"]["stdout"].startswith("greet\nfrom\ntypescript\n")
    assert b"run_module: cancelled by the client; no response sent" in err
