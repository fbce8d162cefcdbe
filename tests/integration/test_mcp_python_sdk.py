"""nightcore-mcp driven by the official MCP Python SDK (pinned in
tests/e2e/requirements.txt, installed into tests/e2e/.venv by
scripts/py-test-deps, which `make test` runs): the whole agent story and a
cancelled run, with every tool result checked against its outputSchema."""
import json
import os
import subprocess

import pytest

from conftest import BIN, FIXTURES, ROOT

E2E = os.path.join(ROOT, "tests", "e2e")
PYTHON = os.path.join(E2E, ".venv", "bin", "python")
SCRIPT = os.path.join(E2E, "mcp_client.py")
UNAVAILABLE = os.path.join(E2E, ".venv-unavailable")


def skip_reason():
    if os.path.exists(UNAVAILABLE):
        with open(UNAVAILABLE) as f:
            return f.read().strip()
    if not os.path.exists(PYTHON):
        return "tests/e2e/.venv is missing: run scripts/py-test-deps (make test does)"
    return None


pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


class SdkAgent:
    def __init__(self, home, token, mode, transcript=None):
        args = [PYTHON, SCRIPT, mode, "--bin", BIN, "--home", home.path, "--agent", "claude", "--fixtures", FIXTURES]
        if transcript:
            args += ["--transcript", transcript]
        self.p = subprocess.Popen(args, env={**os.environ, "NIGHTCORE_AGENT_TOKEN": token}, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)

    def step(self):
        line = self.p.stdout.readline()
        assert line, "the SDK client ended early: %s" % self.p.stderr.read().decode()[-4000:]
        return json.loads(line)

    def finish(self):
        done = self.step()
        rc = self.p.wait(timeout=120)
        err = self.p.stderr.read().decode()
        assert rc == 0 and done["step"] == "done", err[-4000:]
        return done["summary"], err


def test_python_sdk_agent_story(worker, tmp_path):
    rc, agent = worker.ncj("agent", "add", "claude")
    assert rc == 0, agent
    a = SdkAgent(worker, agent["token"], "story", transcript=str(tmp_path / "transcript.json"))
    submitted = a.step()
    assert submitted["step"] == "submitted"
    # what the agent is told to tell its user is what the human does
    assert "nightcore approve %s --allow-agent claude" % submitted["id"] in submitted["message"]
    worker.approve(submitted["id"], "--allow-agent", "claude", "--grant-requested", "--max-runs", "2")
    s, err = a.finish()
    assert s["protocol_version"] == "2025-11-25"       # server/discover declined, initialize used
    assert "server/discover for protocol 2026-07-28: declined" in err
    assert s["server"] == "nightcore-mcp" and "wait_for_submission" in s["instructions"]
    assert s["capabilities"]["tools"]["listChanged"] is True and s["capabilities"]["resources"]["subscribe"] is True
    assert {"submit_module", "wait_for_submission", "start_run", "cancel_run", "get_run"} <= set(s["tools"])
    assert s["bad_cursor"] == -32602
    assert s["submitted"] == {"isError": False, "state": "pending", "has_analysis": True}
    assert s["waited"] == {"timed_out": False, "state": "approved_for_you"}
    assert s["greet_tool"]["properties"] == ["args"]
    assert s["greet_tool"]["description"].startswith("Prints its arguments")
    assert s["tool_run"]["isError"] is False and s["tool_run"]["outcome"] == "ok"
    assert s["tool_run"]["stdout"].startswith("greet\nhello\nfrom\npython\n")
    assert s["tool_run"]["text"].startswith("Run r_")
    assert s["second_run"]["isError"] is False and s["second_run"]["stdout"].startswith("greet\nagain\n")
    assert any("started" in m for m in s["second_run"]["progress"]), s["second_run"]["progress"]
    assert "greet" not in s["tools_after_used_up"]
    assert s["third_run"]["isError"] is True and s["third_run"]["error"]["code"] == "max_runs_exceeded"
    assert "review_again" in s["third_run"]["error"]["message"]
    assert s["resource_state"] == "used_up"
    assert s["events"]["tools/list_changed"] >= 2
    assert "nightcore://submissions/" + submitted["id"] in s["events"]["resources/updated"]
    assert json.loads((tmp_path / "transcript.json").read_text())[0][0] == "agent"


def test_python_sdk_cancels_a_run(worker):
    rc, agent = worker.ncj("agent", "add", "claude")
    assert rc == 0, agent
    # the operator's module, approved for the agent: it runs it by name
    sub = worker.submit("sleep_forever", "sleepy")
    worker.approve(sub["id"], "--allow-agent", "claude")
    a = SdkAgent(worker, agent["token"], "cancel")
    s, err = a.finish()
    assert s["answered_during_run"] == 0 and s["run_pending_at_ping"] is True
    assert s["cancelled_in_client"] is True
    assert s["outcome"] == "cancelled" and s["exit_code"] is None
