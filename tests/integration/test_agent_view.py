"""What an agent is told on agent.sock (issue #14, worker side): the
agent_state of its own submissions, a precise refusal for a run of a module it
submitted, the approvals it can run, events about its own things only,
validation at submit, and a new review of the same bytes."""
import base64
import os
import select

from conftest import b64file, fixture


def add_agent(worker, name):
    rc, out = worker.ncj("agent", "add", name)
    assert rc == 0, out
    return out["token"]


def submit(a, token, fixture_name, name, **extra):
    r = a.call("submit", token=token, name=name, wasm_b64=b64file(fixture(fixture_name)), **extra)
    assert r["ok"], r
    return r["result"]


def state_of(a, token, sid):
    r = a.call("submission.get", token=token, submission=sid)
    assert r["ok"], r
    assert "approvals" not in r["result"]
    return r["result"]["agent_state"]


def approvals_of(worker, sid):
    rc, aps = worker.ncj("approvals")
    return [x for x in aps["items"] if x["submission"] == sid]


def test_agent_state_through_the_life_of_a_submission(worker):
    token = add_agent(worker, "claude")
    a = worker.sock("agent")
    sub = submit(a, token, "wasi_args", "greet", description="prints its arguments",
                 requested={"args": True})
    sid = sub["id"]
    # the submit answer carries the analysis and the agent's view
    assert sub["analysis"]["exports"] and "approvals" not in sub
    st = sub["agent_state"]
    assert st["state"] == "pending" and st["approval_id"] is None and st["granted"] is None
    assert "nightcore approve %s --allow-agent claude" % sid in st["message"]
    assert state_of(a, token, sid)["state"] == "pending"

    worker.approve(sid)                                   # the operator's alone
    st = state_of(a, token, sid)
    assert st["state"] == "approved_not_for_you", st
    assert "--allow-agent claude" in st["message"] and st["approval_id"] is None

    worker.approve(sid, "--allow-agent", "claude", "--max-runs", "1", "--grant-requested")
    st = state_of(a, token, sid)
    assert st["state"] == "approved_for_you", st
    assert st["runs_left"] == 1 and st["expires_at"] > 0 and len(st["approval_id"]) == 64
    assert st["granted"]["capabilities"]["args"] is True and st["granted"]["limits"]["timeout_ms"] > 0
    listed = a.call("submissions.list", token=token)["result"]["items"]
    assert [(s["id"], s["agent_state"]["state"]) for s in listed] == [(sid, "approved_for_you")]

    r = a.call("run", token=token, ref="greet", args=["a"])
    assert r["ok"], r
    st = state_of(a, token, sid)
    assert st["state"] == "used_up" and st["runs_left"] == 0 and "review_again" in st["message"]

    worker.nc("revoke", st["approval_id"], check=True)
    assert state_of(a, token, sid)["state"] == "revoked"
    a.close()


def test_rejected_state_carries_the_reason(worker):
    token = add_agent(worker, "claude")
    a = worker.sock("agent")
    sid = submit(a, token, "hello", "hello")["id"]
    worker.nc("reject", sid, "--reason", "asks for too much", check=True)
    st = state_of(a, token, sid)
    assert st["state"] == "rejected" and st["reason"] == "asks for too much"
    assert "asks for too much" in st["message"]
    a.close()


def test_run_refusals_say_why_for_own_submissions(worker):
    claude = add_agent(worker, "claude")
    other = add_agent(worker, "other")
    a = worker.sock("agent")
    pend = submit(a, claude, "hello", "pend")["id"]
    rej = submit(a, claude, "exit_code", "rej")["id"]
    nfy = submit(a, claude, "wasi_args", "nfy")["id"]
    used = submit(a, claude, "wasi_stdio", "used")["id"]
    worker.nc("reject", rej, "--reason", "not today", check=True)
    worker.approve(nfy)
    worker.approve(used, "--allow-agent", "claude", "--max-runs", "1")
    assert a.call("run", token=claude, ref="used")["ok"]

    def refusal(token, ref):
        r = a.call("run", token=token, ref=ref)
        assert r["ok"] is False, r
        return r["error"]

    e = refusal(claude, "pend")
    assert e["code"] == "pending_review" and "nightcore approve %s --allow-agent claude" % pend in e["message"]
    e = refusal(claude, "rej")
    assert e["code"] == "rejected" and "not today" in e["message"]
    e = refusal(claude, "nfy")
    assert e["code"] == "not_approved_for_you" and "--allow-agent claude" in e["message"]
    # by the approval id of its own submission, too
    aid = approvals_of(worker, nfy)[0]["id"]
    assert refusal(claude, aid[:16])["code"] == "not_approved_for_you"
    e = refusal(claude, "used")
    assert e["code"] == "max_runs_exceeded" and "review_again" in e["message"]
    worker.nc("revoke", approvals_of(worker, used)[0]["id"], check=True)
    assert refusal(claude, "used")["code"] == "revoked_approval"

    # names that are not the agent's own: one refusal, one message, whether
    # they exist for someone else or not at all
    answers = [refusal(other, ref) for ref in ("pend", "nfy", aid, "nothing-here")]
    assert {e["code"] for e in answers} == {"not_approved"}
    msgs = {e["message"].replace(ref, "REF") for e, ref in zip(answers, ("pend", "nfy", aid, "nothing-here"))}
    assert len(msgs) == 1, msgs
    a.close()


def test_submissions_list_status_filter(worker):
    token = add_agent(worker, "claude")
    a = worker.sock("agent")
    sid = submit(a, token, "hello", "hello")["id"]
    for status, expect in (("pending", [sid]), ("approved", []), ("rejected", [])):
        r = a.call("submissions.list", token=token, status=status)
        assert [s["id"] for s in r["result"]["items"]] == expect, (status, r)
    for bad in ("expired", "all", "", 1):
        r = a.call("submissions.list", token=token, status=bad)
        assert r["ok"] is False and r["error"]["code"] == "invalid_request", (bad, r)
    a.close()


def test_approvals_list_names_only_usable_approvals_for_the_agent(worker):
    claude = add_agent(worker, "claude")
    add_agent(worker, "other")
    a = worker.sock("agent")
    assert a.call("approvals.list", token=claude)["result"] == {"items": [], "total": 0}
    sid = submit(a, claude, "wasi_args", "args-tool", description="echoes its arguments",
                 requested={"args": True, "stdin": False})["id"]
    op = worker.submit("hello", "operator-tool")
    worker.approve(sid, "--allow-agent", "claude", "--grant-requested", "--max-runs", "3")
    worker.approve(op["id"], "--allow-agent", "claude", "--no-args", "--no-stdin")
    worker.approve(op["id"], "--allow-agent", "other")
    items = a.call("approvals.list", token=claude)["result"]["items"]
    assert [i["name"] for i in items] == ["operator-tool", "args-tool"]
    mine = items[1]
    assert mine["grants"] == {"args": True, "stdin": False} and mine["runs_left"] == 3
    assert mine["description"] == "echoes its arguments" and mine["submission"] == sid
    assert mine["policy"] == "default" and mine["expires_at"] > 0 and len(mine["id"]) == 64
    assert items[0]["grants"] == {"args": False, "stdin": False}
    worker.nc("revoke", items[0]["id"], check=True)
    assert [i["name"] for i in a.call("approvals.list", token=claude)["result"]["items"]] == ["args-tool"]
    r = a.call("approvals.list", token=claude, name="x")
    assert r["ok"] is False and r["error"]["code"] == "invalid_request"
    r = a.call("approvals.list", token=claude, limit=0)
    assert r["ok"] is False and r["error"]["code"] == "invalid_request"
    a.close()


class Events:
    def __init__(self, worker, token):
        self.c = worker.sock("agent")
        r = self.c.call("events.subscribe", token=token)
        assert r["ok"] and r["result"] == {"subscribed": True}, r

    def read(self):
        return self.c.read_line()["event"]

    def quiet(self):
        """Nothing is waiting (everything sent so far was read)."""
        return not self.c.buf and not select.select([self.c.s], [], [], 0)[0]


def test_agent_events_only_about_its_own(worker):
    claude = add_agent(worker, "claude")
    other = add_agent(worker, "other")
    bad = worker.sock("agent")
    r = bad.call("events.subscribe", token=claude, all=True)
    assert r["ok"] is False and r["error"]["code"] == "invalid_request", r
    assert bad.call("events.subscribe", token="nca_" + "B" * 43)["error"]["code"] == "unauthorized"
    bad.close()
    ev = Events(worker, claude)
    a = worker.sock("agent")
    # someone else's submissions, approvals and runs: nothing
    osid = submit(a, other, "hello", "theirs")["id"]
    op = worker.submit("hello", "ops")
    worker.approve(op["id"])
    worker.approve(osid, "--allow-agent", "other")
    worker.nc("run", "ops", check=True)
    assert a.call("run", token=other, ref="theirs")["ok"]
    worker.nc("reject", worker.submit("exit_code", "nope")["id"], "--reason", "x", check=True)
    # its own: submitted, approved for it, run, used up
    sid = submit(a, claude, "hello", "mine")["id"]
    e = ev.read()
    assert e["type"] == "submission.updated" and e["submission"] == sid and e["agent_state"]["state"] == "pending"
    worker.approve(sid, "--allow-agent", "claude", "--max-runs", "1")
    got = [ev.read(), ev.read()]
    types = sorted(e["type"] for e in got)
    assert types == ["approvals.changed", "submission.updated"], got
    changed = next(e for e in got if e["type"] == "approvals.changed")
    assert changed["reason"] == "created" and changed["name"] == "mine"
    assert next(e for e in got if e["type"] == "submission.updated")["agent_state"]["state"] == "approved_for_you"
    r = a.call("run", token=claude, ref="mine")
    assert r["ok"], r
    seen = []
    while not any(e["type"] == "run.finished" for e in seen):
        seen.append(ev.read())
    kinds = [e["type"] for e in seen]
    assert kinds[0] == "run.started" and seen[0]["invoker"] == "agent:claude", seen
    assert "approvals.changed" in kinds and "submission.updated" in kinds, kinds
    used = next(e for e in seen if e["type"] == "approvals.changed")
    assert used["reason"] == "used_up"
    assert next(e for e in seen if e["type"] == "run.finished")["run"]["id"] == r["result"]["id"]
    worker.nc("reject", submit(a, claude, "exit_code", "mine2")["id"], "--reason", "no", check=True)
    e1, e2 = ev.read(), ev.read()
    assert (e1["agent_state"]["state"], e2["agent_state"]["state"]) == ("pending", "rejected")
    # nothing about anyone else arrived in between: every event named the agent's own things
    for e in [e, *got, *seen, e1, e2]:
        assert e.get("submission", sid) != osid and e.get("invoker", "agent:claude") == "agent:claude"
    assert ev.quiet()
    a.close()
    ev.c.close()


def test_submit_refuses_modules_that_can_never_run(worker):
    token = add_agent(worker, "claude")
    a = worker.sock("agent")
    cases = {
        "no_start": "_start",
        "unknown_import": "env.launch_missiles",
    }
    for fx, needle in cases.items():
        r = a.call("submit", token=token, name=fx, wasm_b64=b64file(fixture(fx)))
        assert r["ok"] is False and r["error"]["code"] == "invalid_module", r
        assert needle in r["error"]["message"] and "\n" not in r["error"]["message"], r
    for junk in (b"this is not wasm at all", b"\0asm\x01\0\0\0\x01\xff\xff\xff\xff\x0f", b"\0asm\x02\0\0\0"):
        r = a.call("submit", token=token, name="junk", wasm_b64=base64.b64encode(junk).decode())
        assert r["ok"] is False and r["error"]["code"] == "invalid_module", r
        msg = r["error"]["message"]
        assert "\n" not in msg and len(msg) < 400 and "WebAssembly" in msg, msg
    # nothing was stored
    assert a.call("submissions.list", token=token)["result"]["total"] == 0
    # the operator may still submit a library to inspect it
    rc, sub = worker.ncj("submit", fixture("no_start"), "--name", "lib")
    assert rc == 0, sub
    a.close()


def test_review_again_makes_a_new_submission_linking_the_old(worker):
    token = add_agent(worker, "claude")
    a = worker.sock("agent")
    first = submit(a, token, "hello", "hello")["id"]
    # still pending: review_again returns the one waiting
    assert submit(a, token, "hello", "hello", review_again=True)["id"] == first
    worker.approve(first, "--allow-agent", "claude", "--max-runs", "1")
    assert a.call("run", token=token, ref="hello")["ok"]
    # used up: the same bytes again return the old, used-up submission
    again = submit(a, token, "hello", "hello")
    assert again["id"] == first and again["agent_state"]["state"] == "used_up"
    new = submit(a, token, "hello", "hello", review_again=True)
    assert new["id"] != first and new["previous_submission"] == first
    assert new["status"] == "pending" and new["agent_state"]["state"] == "pending"
    assert new["drift"]["state"] == "known"
    rc, inbox = worker.ncj("inbox")
    assert [s["id"] for s in inbox["items"]] == [new["id"]]
    assert inbox["items"][0]["previous_submission"] == first
    # and a run now says what to do: the new one is pending review
    r = a.call("run", token=token, ref="hello")
    assert r["error"]["code"] == "pending_review" and new["id"] in r["error"]["message"], r
    r = a.call("submit", token=token, name="hello", wasm_b64=b64file(fixture("hello")), review_again="yes")
    assert r["ok"] is False and r["error"]["code"] == "invalid_request"
    a.close()
