"""Agents: identities, the agent socket's own small set of ops, and
flooding. Raw protocol on agent.sock; the operator side through the CLI."""
import json
import os
import sqlite3
import threading
import time

from conftest import Conn, b64file, fixture


def add_agent(worker, name):
    rc, out = worker.ncj("agent", "add", name)
    assert rc == 0, out
    assert out["token"].startswith("nca_") and out["mcp_config"]["mcpServers"]["nightcore"]["args"][1] == name
    return out["token"]


def agent_call(conn, token, op, **params):
    return conn.call(op, token=token, **params)


OPERATOR_ONLY = ["status", "inbox.list", "approval.prepare", "approval.submit", "approval.list", "approval.revoke",
                 "reject", "trust.add", "trust.revoke", "trust.list", "policy.list", "policy.get", "agent.add",
                 "agent.list", "agent.remove", "audit.checkpoint", "run.receipt", "runs.list", "shutdown"]


def test_agent_socket_has_no_operator_ops(worker):
    token = add_agent(worker, "claude")
    a = worker.sock("agent")
    for op in OPERATOR_ONLY:
        r = agent_call(a, token, op)
        assert r["ok"] is False and r["error"]["code"] == "unauthorized", (op, r)
    assert agent_call(a, token, "hello")["result"]["agent"] == "claude"
    # bad, missing, removed tokens
    assert a.call("hello", token="nca_" + "A" * 43)["error"]["code"] == "unauthorized"
    assert a.call("hello")["error"]["code"] == "unauthorized"
    a.send_raw(b"garbage\n")
    assert a.read_line()["error"]["code"] == "invalid_request"
    worker.nc("agent", "remove", "claude", check=True)
    assert agent_call(a, token, "hello")["error"]["code"] == "unauthorized"
    a.close()
    rc, agents = worker.ncj("agent", "list")
    assert agents["items"][0]["removed"] is True
    # the worker is unharmed and every refusal is on the record: a burst of
    # 16 one by one, the rest counted in a summary (written at the latest on stop)
    assert worker.sock().call("status")["ok"]
    worker.nc("worker", "stop", check=True)
    db = sqlite3.connect(os.path.join(worker.path, "state", "nightcore.db"))
    entries = [json.loads(e) for (e,) in db.execute("SELECT entry FROM audit_log ORDER BY seq")]
    db.close()
    single = sum(1 for e in entries if e["type"] == "refused" and e["socket"] == "agent")
    counted = sum(e["count"] for e in entries if e["type"] == "refused.summary" and e["socket"] == "agent")
    assert single == 16 and single + counted >= len(OPERATOR_ONLY) + 4, (single, counted)


def test_agent_submission_needs_human_and_naming(worker):
    alice = add_agent(worker, "alice")
    bob = add_agent(worker, "bob")
    a = worker.sock("agent")
    sub = agent_call(a, alice, "submit", name="hello", wasm_b64=b64file(fixture("hello")), description="says hi")
    assert sub["ok"], sub
    sid = sub["result"]["id"]
    assert sub["result"]["source"] == "agent:alice" and sub["result"]["status"] == "pending"
    # identical resubmission: the same entry
    again = agent_call(a, alice, "submit", name="hello", wasm_b64=b64file(fixture("hello")))
    assert again["result"]["id"] == sid
    # the operator sees it; bob does not
    rc, inbox = worker.ncj("inbox")
    assert [s["id"] for s in inbox["items"]] == [sid] and inbox["items"][0]["agent"] == "alice"
    assert agent_call(a, bob, "submission.get", submission=sid)["error"]["code"] == "not_found"
    assert agent_call(a, bob, "submissions.list")["result"]["items"] == []
    # nothing runs before approval: its own submission is waiting for review
    r = agent_call(a, alice, "run", ref="hello")
    assert r["error"]["code"] == "pending_review"
    # approved for the operator only: nothing is approved for the agent, and it is told so
    worker.approve(sid)
    r = agent_call(a, alice, "run", ref="hello")
    assert r["error"]["code"] == "not_approved_for_you"
    # approved naming alice: alice may run it, bob may not
    worker.approve(sid, "--allow-agent", "alice")
    r = agent_call(a, alice, "run", ref="hello")
    assert r["ok"], r
    run = r["result"]
    assert run["outcome"] == "ok" and run["stdout"] == "hello, world\n" and run["invoker"] == "agent:alice"
    assert agent_call(a, bob, "run", ref="hello")["error"]["code"] == "not_approved"
    assert agent_call(a, alice, "run.get", run=run["id"])["ok"]
    assert agent_call(a, bob, "run.get", run=run["id"])["error"]["code"] == "not_found"
    # every agent run is visible to the operator
    rc, runs = worker.ncj("runs")
    assert runs["items"][0]["invoker"] == "agent:alice"
    a.close()


def test_agent_flood_is_contained(worker):
    token = add_agent(worker, "flood")
    wasm = b64file(fixture("hello"))
    codes = {}
    latencies = []
    stop = threading.Event()

    def operator_probe():
        c = worker.sock()
        while not stop.is_set():
            t0 = time.time()
            assert c.call("status")["ok"]
            latencies.append(time.time() - t0)
            time.sleep(0.02)
        c.close()

    probe = threading.Thread(target=operator_probe)
    probe.start()
    a = worker.sock("agent")
    for i in range(1000):
        r = agent_call(a, token, "submit", name=f"m{i}", wasm_b64=wasm)
        code = "ok" if r["ok"] else r["error"]["code"]
        codes[code] = codes.get(code, 0) + 1
    stop.set()
    probe.join()
    a.close()
    assert codes.get("ok", 0) <= 20, codes
    assert codes.get("rate_limited", 0) + codes.get("quota_exceeded", 0) >= 980, codes
    rc, inbox = worker.ncj("inbox", "--all")
    assert len([s for s in inbox["items"] if s["source"] == "agent:flood"]) <= 20
    latencies.sort()
    assert latencies and latencies[len(latencies) // 2] < 0.2, latencies[-5:]
