"""nightcore-mcp with a real worker, over raw JSON-RPC (issue #14): the
lifecycle, runs that never block the session (ping and other calls while a run
is in progress, cancellation, progress), waiting for a human's decision
without polling, approved modules as tools, resources with subscriptions, what
a run's result tells the agent, and every result against its outputSchema."""
import base64
import json
import time

import jsonschema
import pytest

from conftest import b64file, fixture, wait_for
from test_mcp import Mcp, nohome, tool_error  # noqa: F401 (nohome is a fixture)


def add_agent(home, name="claude"):
    rc, out = home.ncj("agent", "add", name)
    assert rc == 0, out
    return out["token"]


class Session(Mcp):
    """An initialized server that keeps notifications aside and checks every
    tool result against the tool's outputSchema."""

    def __init__(self, home, token, **kw):
        super().__init__(home.path, token=token, **kw)
        self.notes = []
        self.pending = {}
        self.schemas = {}

    def recv_any(self, timeout=60):
        msg = self.recv(timeout=timeout)
        if "id" not in msg:
            self.notes.append(msg)
        else:
            self.pending[msg["id"]] = msg
        return msg

    def response(self, rid, timeout=60):
        end = time.time() + timeout
        while rid not in self.pending:
            assert time.time() < end, "no response to %r" % rid
            self.recv_any(timeout=max(1, end - time.time()))
        return self.pending.pop(rid)

    def start(self, name, arguments, token=None):
        rid = self.next_id
        self.next_id += 1
        params = {"name": name, "arguments": arguments}
        if token is not None:
            params["_meta"] = {"progressToken": token}
        self.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params})
        return rid

    def tools(self):
        rid = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": rid, "method": "tools/list"})
        tools = self.response(rid)["result"]["tools"]
        for t in tools:
            self.schemas[t["name"]] = t["outputSchema"]
        return tools

    def call(self, name, arguments, timeout=60):
        if name not in self.schemas:
            self.tools()
        r = self.response(self.start(name, arguments), timeout=timeout)
        assert "result" in r, r
        res = r["result"]
        jsonschema.validate(res["structuredContent"], self.schemas[name])
        return res

    def note(self, method, pred=lambda n: True, timeout=60):
        end = time.time() + timeout
        while True:
            for n in self.notes:
                if n["method"] == method and pred(n):
                    self.notes.remove(n)
                    return n
            assert time.time() < end, "no %s notification; got %s" % (method, self.notes)
            self.recv_any(timeout=max(1, end - time.time()))


def submit(s, fx, name, **extra):
    r = s.call("submit_module", {"name": name, "wasm_base64": b64file(fixture(fx)), **extra})
    assert r["isError"] is False, r
    return r["structuredContent"]


# ---- lifecycle ----

def test_requests_before_initialize_and_a_second_initialize_are_refused(nohome):
    m = Mcp(nohome, init=False)
    for method in ("tools/list", "tools/call", "resources/list", "resources/read"):
        r = m.request(method, {"name": "list_submissions", "arguments": {}})
        assert r["error"]["code"] == -32600 and "initialize" in r["error"]["message"], r
    assert m.request("ping")["result"] == {}
    assert m.initialize()["result"]["protocolVersion"] == "2025-11-25"
    r = m.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                 "clientInfo": {"name": "again", "version": "1"}})
    assert r["error"]["code"] == -32600 and "already initialized" in r["error"]["message"]
    assert [t["name"] for t in m.request("tools/list")["result"]["tools"]][0] == "submit_module"
    m.close()


def test_server_discover_is_declined_with_the_versions_spoken(nohome):
    m = Mcp(nohome, init=False)
    r = m.request("server/discover", {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}})
    err = r["error"]
    assert err["code"] == -32022
    assert err["data"] == {"supported": ["2025-11-25", "2025-06-18", "2025-03-26"], "requested": "2026-07-28"}
    assert m.initialize()["result"]["protocolVersion"] == "2025-11-25"
    m.close()


@pytest.mark.parametrize("method", ["tools/list", "resources/list", "resources/templates/list"])
def test_unknown_cursor_is_invalid_params(nohome, method):
    m = Mcp(nohome)
    for cursor in ("nope", "o-1", "o99999999", "", 5):
        r = m.request(method, {"cursor": cursor})
        assert r["error"]["code"] == -32602, (cursor, r)
    m.close()


# ---- runs never block the session ----

def approved_sleeper(worker, s, max_runs="3"):
    sub = submit(s, "sleep_forever", "sleepy")
    worker.approve(sub["id"], "--allow-agent", "claude", "--max-runs", max_runs)
    return sub


def test_ping_and_calls_are_answered_while_a_run_is_in_progress(worker):
    s = Session(worker, add_agent(worker))
    approved_sleeper(worker, s)
    run = s.start("run_module", {"ref": "sleepy"}, token="run-1")
    # the run is in progress (it has started) ...
    s.note("notifications/progress", lambda n: "started" in n["params"]["message"])
    # ... and the session answers meanwhile
    rid = s.next_id
    s.next_id += 1
    s.send({"jsonrpc": "2.0", "id": rid, "method": "ping"})
    assert s.response(rid)["result"] == {}
    listed = s.call("list_submissions", {})
    assert listed["structuredContent"]["total"] == 1
    assert run not in s.pending, "the run answered before the ping"
    r = s.response(run, timeout=120)["result"]
    jsonschema.validate(r["structuredContent"], s.schemas["run_module"])
    assert r["structuredContent"]["outcome"] == "timeout" and r["structuredContent"]["exit_code"] is None
    # progress notifications: counted up, each saying where the run is
    progress = [n["params"] for n in s.notes if n["method"] == "notifications/progress"]
    assert all(p["progressToken"] == "run-1" for p in progress)
    values = [p["progress"] for p in progress]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert any("running" in p["message"] and "bytes of stdout" in p["message"] for p in progress), progress
    s.close()


def test_cancelling_a_run_request_cancels_the_run(worker):
    s = Session(worker, add_agent(worker))
    approved_sleeper(worker, s)
    run = s.start("run_module", {"ref": "sleepy"}, token="c")
    started = s.note("notifications/progress", lambda n: "started" in n["params"]["message"])
    run_id = started["params"]["message"].split()[1]
    s.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": run, "reason": "user"}})
    assert wait_for(lambda: "cancelled by the client; no response sent" in s.err(), timeout=60), s.err()
    rc, got = worker.ncj("runs", "show", run_id)
    assert rc in (0, 1) and got["outcome"] == "cancelled", got
    # nothing was sent for the cancelled request
    assert s.request("ping")["result"] == {}
    while True:
        try:
            s.recv_any(timeout=1)
        except AssertionError:
            break
    assert run not in s.pending
    s.close()


def test_start_get_cancel_run_and_busy(worker):
    s = Session(worker, add_agent(worker))
    approved_sleeper(worker, s)
    started = s.call("start_run", {"ref": "sleepy"})
    assert started["isError"] is False, started
    run_id = started["structuredContent"]["run_id"]
    assert started["structuredContent"]["state"] in ("queued", "running")
    got = s.call("get_run", {"run_id": run_id})["structuredContent"]
    assert got["state"] in ("queued", "running") and got["outcome"] == "running"
    assert got["progress"]["elapsed_ms"] >= 0
    busy = tool_error(s.call("start_run", {"ref": "sleepy"}))
    assert busy["code"] == "busy" and run_id in busy["message"]
    c = s.call("cancel_run", {"run_id": run_id})
    assert c["isError"] is False and c["structuredContent"]["cancelled"] is True, c
    done = s.call("get_run", {"run_id": run_id})["structuredContent"]
    assert done["state"] == "finished" and done["outcome"] == "cancelled" and done["exit_code"] is None
    again = s.call("cancel_run", {"run_id": run_id})["structuredContent"]
    assert again["cancelled"] is False
    assert tool_error(s.call("cancel_run", {"run_id": "r_0000000000000000"}))["code"] == "not_found"
    s.close()


# ---- waiting for a human without polling ----

def test_wait_for_submission_returns_when_the_human_decides(worker):
    s = Session(worker, add_agent(worker))
    sub = submit(s, "hello", "hello")
    assert sub["agent_state"]["state"] == "pending"
    assert "nightcore approve %s --allow-agent claude" % sub["id"] in sub["agent_state"]["message"]
    # a short wait on a pending submission times out and says so
    short = s.call("wait_for_submission", {"submission_id": sub["id"], "timeout_s": 1})["structuredContent"]
    assert short["timed_out"] is True and short["submission"]["agent_state"]["state"] == "pending"
    waiting = s.start("wait_for_submission", {"submission_id": sub["id"], "timeout_s": 600})
    assert s.request("ping")["result"] == {}          # the session is free while it waits
    assert waiting not in s.pending
    worker.approve(sub["id"], "--allow-agent", "claude")
    r = s.response(waiting, timeout=120)["result"]
    jsonschema.validate(r["structuredContent"], s.schemas["wait_for_submission"])
    assert r["structuredContent"]["timed_out"] is False
    assert r["structuredContent"]["submission"]["agent_state"]["state"] == "approved_for_you"
    # a rejection ends a wait too
    other = submit(s, "exit_code", "other")
    waiting = s.start("wait_for_submission", {"submission_id": other["id"], "timeout_s": 600})
    worker.nc("reject", other["id"], "--reason", "not needed", check=True)
    st = s.response(waiting, timeout=120)["result"]["structuredContent"]["submission"]["agent_state"]
    assert st["state"] == "rejected" and st["reason"] == "not needed"
    # a cancelled wait sends nothing
    third = submit(s, "wasi_args", "third")
    waiting = s.start("wait_for_submission", {"submission_id": third["id"], "timeout_s": 600})
    s.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": waiting}})
    assert wait_for(lambda: "wait_for_submission: cancelled by the client" in s.err(), timeout=60), s.err()
    assert s.request("ping")["result"] == {} and waiting not in s.pending
    s.close()


def test_wait_for_submission_of_someone_else_is_not_found(worker):
    s = Session(worker, add_agent(worker))
    op = worker.submit("hello", "ops")
    err = tool_error(s.call("wait_for_submission", {"submission_id": op["id"], "timeout_s": 5}))
    assert err["code"] == "not_found"
    assert tool_error(s.call("wait_for_submission", {"submission_id": op["id"], "timeout_s": 0}))["code"] == \
        "invalid_request"
    s.close()


# ---- approved modules as tools ----

def test_approved_modules_appear_as_tools_and_leave_when_used_up_or_revoked(worker):
    s = Session(worker, add_agent(worker))
    names = {t["name"] for t in s.tools()}
    args_sub = submit(s, "wasi_args", "echo.args", description="prints its arguments, one per line",
                      requested_capabilities={"args": True})
    cat_sub = submit(s, "wasi_stdio", "cat", description="copies standard input to standard output",
                     requested_capabilities={"stdin": True})
    worker.approve(args_sub["id"], "--allow-agent", "claude", "--grant-requested", "--max-runs", "1")
    s.note("notifications/tools/list_changed")
    worker.approve(cat_sub["id"], "--allow-agent", "claude", "--grant-requested", "--max-runs", "5")
    s.note("notifications/tools/list_changed")
    tools = {t["name"]: t for t in s.tools()}
    assert set(tools) - names == {"echo_args", "cat"}
    echo = tools["echo_args"]
    assert echo["inputSchema"]["properties"].keys() == {"args"}
    assert echo["inputSchema"]["additionalProperties"] is False
    assert echo["description"].startswith("prints its arguments") and "agent:claude" in echo["description"]
    assert tools["cat"]["inputSchema"]["properties"].keys() == {"stdin"}
    assert len(echo["_meta"]["nightcore/approval_id"]) == 64
    # the approvals are listed with the tool each one is
    listed = s.call("list_approvals", {})["structuredContent"]["items"]
    assert {(a["name"], a["tool"]) for a in listed} == {("echo.args", "echo_args"), ("cat", "cat")}
    # arguments the approval does not grant are refused before anything reaches the worker
    assert tool_error(s.call("cat", {"args": ["x"]}))["code"] == "invalid_request"
    r = s.call("cat", {"stdin": "meow\n"})
    assert r["isError"] is False, r
    assert r["structuredContent"]["stdout"] == "hello stdout\nmeow\n"
    assert r["structuredContent"]["approval_id"] == tools["cat"]["_meta"]["nightcore/approval_id"]
    r = s.call("echo_args", {"args": ["one", "two"]})
    assert r["isError"] is False and r["structuredContent"]["stdout"].startswith("echo.args\none\ntwo\n"), r
    # its only run is used: the tool goes
    s.note("notifications/tools/list_changed")
    assert "echo_args" not in {t["name"] for t in s.tools()}
    r = s.request("tools/call", {"name": "echo_args", "arguments": {}})
    assert r["error"]["code"] == -32602
    # a second approval of the same module: a second tool, named apart
    worker.approve(cat_sub["id"], "--allow-agent", "claude", "--grant-requested")
    s.note("notifications/tools/list_changed")
    cats = sorted(t["name"] for t in s.tools() if t["name"].startswith("cat"))
    assert len(cats) == 2 and cats[0] == "cat" and cats[1].startswith("cat_")
    # revoked: gone
    for a in s.call("list_approvals", {})["structuredContent"]["items"]:
        worker.nc("revoke", a["id"], check=True)
    s.note("notifications/tools/list_changed", timeout=60)
    assert wait_for(lambda: not [t for t in s.tools() if t["name"].startswith("cat")], timeout=60)
    s.close()


# ---- resources ----

def test_resources_for_submissions_and_runs(worker):
    s = Session(worker, add_agent(worker))
    sub = submit(s, "hello", "hello")
    uri = "nightcore://submissions/" + sub["id"]
    listed = s.request("resources/list")["result"]["resources"]
    assert [r["uri"] for r in listed] == [uri] and listed[0]["mimeType"] == "application/json"
    tmpl = s.request("resources/templates/list")["result"]["resourceTemplates"]
    assert {t["uriTemplate"] for t in tmpl} == {"nightcore://submissions/{id}", "nightcore://runs/{id}"}
    body = json.loads(s.request("resources/read", {"uri": uri})["result"]["contents"][0]["text"])
    assert body["id"] == sub["id"] and body["agent_state"]["state"] == "pending"
    assert s.request("resources/subscribe", {"uri": uri})["result"] == {}
    worker.approve(sub["id"], "--allow-agent", "claude")
    s.note("notifications/resources/updated", lambda n: n["params"]["uri"] == uri)
    body = json.loads(s.request("resources/read", {"uri": uri})["result"]["contents"][0]["text"])
    assert body["agent_state"]["state"] == "approved_for_you"
    run = s.call("run_module", {"ref": "hello"})["structuredContent"]
    run_body = json.loads(s.request("resources/read", {"uri": "nightcore://runs/" + run["id"]})
                          ["result"]["contents"][0]["text"])
    assert run_body["stdout"] == "hello, world\n" and run_body["outcome"] == "ok"
    for bad in ("nightcore://submissions/", "nightcore://submissions/../x", "file:///etc/passwd",
                "nightcore://runs/" + "a" * 65, "nightcore://approvals/x"):
        assert s.request("resources/read", {"uri": bad})["error"]["code"] == -32602, bad
        assert s.request("resources/subscribe", {"uri": bad})["error"]["code"] == -32602, bad
    r = s.request("resources/read", {"uri": "nightcore://runs/r_0000000000000000"})
    assert r["error"]["code"] == -32002 and r["error"]["data"]["uri"] == "nightcore://runs/r_0000000000000000"
    op = worker.submit("hello", "operator-only")
    assert s.request("resources/read", {"uri": "nightcore://submissions/" + op["id"]})["error"]["code"] == -32002
    assert s.request("resources/unsubscribe", {"uri": uri})["result"] == {}
    s.close()


# ---- what the agent is told ----

def test_a_large_output_is_a_short_summary_and_pages(worker):
    s = Session(worker, add_agent(worker))
    sub = submit(s, "huge_stdout", "flood")
    worker.approve(sub["id"], "--allow-agent", "claude")
    r = s.call("run_module", {"ref": "flood"}, timeout=120)
    run = r["structuredContent"]
    text = r["content"][0]["text"]
    assert len(text.encode()) <= 16384 and "bytes not shown" in text and "get_run" in text, text[:500]
    assert text.startswith("Run %s of flood" % run["id"]) and "output_limit" in text
    assert run["outcome"] == "output_limit" and run["exit_code"] is None
    assert run["stdout_total"] == 1048576 and run["stdout_more"] is True and run["stdout_truncated"] is True
    assert len(run["stdout"].encode()) == 16384 and "stdout_b64" not in run
    # paged through get_run: the pages put together are the whole output
    got = b""
    while True:
        page = s.call("get_run", {"run_id": run["id"], "stdout_offset": len(got), "stdout_limit": 300000,
                                  "binary": True})["structuredContent"]
        assert page["stdout_offset"] == len(got)
        got += base64.b64decode(page["stdout_b64"])
        if not page["stdout_more"]:
            break
    assert len(got) == 1048576 and got[:16384].decode() == run["stdout"]
    past = s.call("get_run", {"run_id": run["id"], "stdout_offset": 2000000})["structuredContent"]
    assert past["stdout"] == "" and past["stdout_more"] is False
    for bad in ({"run_id": run["id"], "stdout_limit": 0}, {"run_id": run["id"], "stdout_limit": 1048577},
                {"run_id": run["id"], "stdout_offset": -1}, {"run_id": run["id"], "binary": "yes"}):
        assert tool_error(s.call("get_run", bad))["code"] == "invalid_request", bad
    s.close()


def test_refusals_tell_the_agent_what_to_say(worker):
    s = Session(worker, add_agent(worker))
    pend = submit(s, "hello", "pend")
    err = tool_error(s.call("run_module", {"ref": "pend"}))
    assert err["code"] == "pending_review" and pend["id"] in err["message"]
    nfy = submit(s, "exit_code", "nfy")
    worker.approve(nfy["id"])
    err = tool_error(s.call("run_module", {"ref": "nfy"}))
    assert err["code"] == "not_approved_for_you" and "--allow-agent claude" in err["message"]
    st = s.call("get_submission", {"submission_id": nfy["id"]})["structuredContent"]["agent_state"]
    assert st["state"] == "approved_not_for_you"
    rej = submit(s, "wasi_args", "rej")
    worker.nc("reject", rej["id"], "--reason", "too broad", check=True)
    err = tool_error(s.call("start_run", {"ref": "rej"}))
    assert err["code"] == "rejected" and "too broad" in err["message"]
    assert tool_error(s.call("run_module", {"ref": "nothing"}))["code"] == "not_approved"
    # a module that can never run is refused at submit, in one line
    r = s.call("submit_module", {"name": "lib", "wasm_base64": b64file(fixture("no_start"))})
    err = tool_error(r)
    assert err["code"] == "invalid_module" and "_start" in err["message"] and "\n" not in err["message"]
    r = s.call("submit_module", {"name": "junk", "wasm_base64": base64.b64encode(b"#!/bin/sh\nrm -rf /\n").decode()})
    assert tool_error(r)["code"] == "invalid_module" and "\n" not in tool_error(r)["message"]
    # review_again through the tool
    assert s.call("submit_module", {"name": "pend", "wasm_base64": b64file(fixture("hello")),
                                    "review_again": True})["structuredContent"]["id"] == pend["id"]
    s.close()


def walk_types(node, path="$"):
    if isinstance(node, dict):
        if "type" in node:
            assert isinstance(node["type"], str), "%s: type %r" % (path, node["type"])
        for k, v in node.items():
            walk_types(v, path + "." + k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk_types(v, "%s[%d]" % (path, i))


def test_schemas_have_single_types_and_every_result_matches(worker):
    s = Session(worker, add_agent(worker))
    sub = submit(s, "wasi_args", "tool", requested_capabilities={"args": True})
    worker.approve(sub["id"], "--allow-agent", "claude", "--grant-requested")
    s.note("notifications/tools/list_changed")
    tools = s.tools()
    assert "tool" in {t["name"] for t in tools}
    for t in tools:
        walk_types(t["inputSchema"])
        walk_types(t["outputSchema"])
        jsonschema.Draft202012Validator.check_schema(t["outputSchema"])
        jsonschema.Draft7Validator.check_schema(t["inputSchema"])
        assert "not_invoker" not in json.dumps(t)
    # Session.call validated each of these against the tool's outputSchema
    results = [
        s.call("get_submission", {"submission_id": sub["id"]}),
        s.call("list_submissions", {"status": "approved"}),
        s.call("list_approvals", {}),
        s.call("tool", {"args": ["x"]}),
        s.call("run_module", {"ref": "tool"}),
        s.call("get_run", {"run_id": "r_0000000000000000"}),
        s.call("wait_for_submission", {"submission_id": sub["id"], "timeout_s": 1}),
        s.call("start_run", {"ref": "nothing"}),
        s.call("cancel_run", {"run_id": "r_0000000000000000"}),
        s.call("submit_module", {"name": "x", "wasm_base64": "AAAA"}),
    ]
    assert [r["isError"] for r in results] == [False] * 5 + [True] + [False] + [True] * 3
    s.close()


def test_an_expired_approval_leaves_the_tools_and_says_so(worker):
    """The shortest approval lasts 60 s: the tool goes when it expires, without
    any event from the worker (nightcore-mcp re-reads the approvals then)."""
    s = Session(worker, add_agent(worker))
    sub = submit(s, "hello", "brief")
    worker.approve(sub["id"], "--allow-agent", "claude", "--expires", "60s")
    s.note("notifications/tools/list_changed")
    assert "brief" in {t["name"] for t in s.tools()}
    s.note("notifications/tools/list_changed", timeout=240)
    assert "brief" not in {t["name"] for t in s.tools()}
    st = s.call("get_submission", {"submission_id": sub["id"]})["structuredContent"]["agent_state"]
    assert st["state"] == "expired" and "review_again" in st["message"]
    err = tool_error(s.call("run_module", {"ref": "brief"}))
    assert err["code"] == "expired"
    again = s.call("submit_module", {"name": "brief", "wasm_base64": b64file(fixture("hello")),
                                     "review_again": True})["structuredContent"]
    assert again["previous_submission"] == sub["id"] and again["agent_state"]["state"] == "pending"
    assert tool_error(s.call("run_module", {"ref": "brief"}))["code"] == "pending_review"
    s.close()
