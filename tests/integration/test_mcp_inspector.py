"""The MCP Inspector CLI (pinned in tests/e2e/package.json) lists nightcore-mcp's
tools with --strict, so any tool-schema portability finding fails, and calls
every tool, the approvals' own tools too; it checks each result against the
tool's outputSchema."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import BIN, ROOT, b64file, fixture

E2E = os.path.join(ROOT, "tests", "e2e")
INSPECTOR = os.path.join(E2E, "node_modules", "@modelcontextprotocol", "inspector", "clients", "launcher", "build",
                         "index.js")

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed: the Inspector needs Node.js 20+"),
    pytest.mark.skipif(not os.path.exists(INSPECTOR),
                       reason="the MCP Inspector is not installed: run scripts/npm-test-deps (make test does)"),
]


def inspector(home, token, tmp_path, *args):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    p = subprocess.run(["node", INSPECTOR, "--cli", "--format", "json", "-e", "NIGHTCORE_AGENT_TOKEN=" + token,
                        *args, os.path.join(BIN, "nightcore-mcp"), "--agent", "claude", "--home", home.path],
                       env=env, capture_output=True, timeout=120, cwd=str(tmp_path))
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def call(home, token, tmp_path, name, arguments):
    rc, out, err = inspector(home, token, tmp_path, "--method", "tools/call", "--tool-name", name,
                             "--tool-args-json", json.dumps(arguments))
    assert rc == 0, (name, rc, out, err)
    assert "Warning" not in err and "portability" not in err, err
    result = json.loads(out)["result"]
    assert result["isError"] is False, (name, result)
    return result["structuredContent"]


def test_inspector_lists_and_calls_every_tool_without_warnings(worker, tmp_path):
    rc, agent = worker.ncj("agent", "add", "claude")
    assert rc == 0, agent
    token = agent["token"]
    greet = worker.submit("wasi_args", "greet")
    worker.approve(greet["id"], "--allow-agent", "claude", "--no-stdin", "--max-runs", "10")

    rc, out, err = inspector(worker, token, tmp_path, "--method", "tools/list", "--strict")
    assert rc == 0, (out, err)
    envelope = json.loads(out)
    assert "schemaFindings" not in envelope, envelope.get("schemaFindings")
    assert "portability" not in err and "Warning" not in err, err
    names = {t["name"] for t in envelope["result"]["tools"]}
    assert names == {"submit_module", "get_submission", "list_submissions", "wait_for_submission",
                     "list_approvals", "run_module", "start_run", "cancel_run", "get_run", "greet"}

    called = set()
    sub = call(worker, token, tmp_path, "submit_module", {"name": "hello", "wasm_base64": b64file(fixture("hello"))})
    called.add("submit_module")
    assert call(worker, token, tmp_path, "get_submission", {"submission_id": sub["id"]})["id"] == sub["id"]
    called.add("get_submission")
    assert call(worker, token, tmp_path, "list_submissions", {})["total"] == 1
    called.add("list_submissions")
    waited = call(worker, token, tmp_path, "wait_for_submission", {"submission_id": sub["id"], "timeout_s": 1})
    assert waited["timed_out"] is True
    called.add("wait_for_submission")
    assert [a["tool"] for a in call(worker, token, tmp_path, "list_approvals", {})["items"]] == ["greet"]
    called.add("list_approvals")
    run = call(worker, token, tmp_path, "run_module", {"ref": "greet", "args": ["x"]})
    assert run["outcome"] == "ok" and run["stdout"].startswith("greet\nx\n")
    called.add("run_module")
    started = call(worker, token, tmp_path, "start_run", {"ref": "greet"})
    called.add("start_run")
    got = call(worker, token, tmp_path, "get_run", {"run_id": started["run_id"]})
    assert got["id"] == started["run_id"]
    called.add("get_run")
    cancelled = call(worker, token, tmp_path, "cancel_run", {"run_id": started["run_id"]})
    assert cancelled["run_id"] == started["run_id"]
    called.add("cancel_run")
    ran = call(worker, token, tmp_path, "greet", {"args": ["inspected"]})
    assert ran["stdout"].startswith("greet\ninspected\n")
    called.add("greet")
    assert called == names
