"""Runs that do not block: streamed output and progress, run.start,
run.get with paging, run.cancel (operator and agents), and the CLI on top.
A guest that writes, waits for a file the test creates, then writes again
shows streaming without any timing assumption."""
import base64
import json
import os
import sqlite3
import subprocess

import pytest

from conftest import BIN, Conn, fixture, wait_for


def setup_gate(home, tmp_path, name="gate", timeout_ms=600000, extra_approve=()):
    gate = tmp_path / ("gate-" + name)
    gate.mkdir()
    pf = tmp_path / (name + "-policy.json")
    pf.write_text(json.dumps({"name": "gated-" + name, "limits": {"timeout_ms": timeout_ms},
                              "capabilities": {"dirs": [{"host": str(gate), "guest": "/data", "mode": "ro"}]}}))
    assert home.nc("policy", "add", str(pf), "--yes").returncode == 0
    sub = home.submit("guest_stream_gate", name)
    home.approve(sub["id"], "--policy", "gated-" + name, "--dir", f"{gate}:/data:ro", *extra_approve)
    return gate


def read_until_reply(conn, rid):
    events = []
    while True:
        msg = conn.read_line()
        if "event" in msg:
            events.append(msg["event"])
            continue
        assert msg.get("id") == rid, msg
        return events, msg


def output_of(events, stream):
    chunks = [e for e in events if e["type"] == "run.output" and e["stream"] == stream]
    data, offset = b"", 0
    for e in chunks:
        assert e["offset"] == offset, chunks
        piece = base64.b64decode(e["data_b64"])
        assert 0 < len(piece) <= 65536
        data += piece
        offset += len(piece)
    return data


def audit_entries(home, kind):
    db = sqlite3.connect(os.path.join(home.path, "state", "nightcore.db"))
    try:
        return [json.loads(e) for (e,) in db.execute("SELECT entry FROM audit_log ORDER BY seq")
                if json.loads(e)["type"] == kind]
    finally:
        db.close()


def test_stream_shows_output_before_the_end(worker, tmp_path):
    gate = setup_gate(worker, tmp_path)
    c = worker.sock()
    c.send_raw(json.dumps({"id": 7, "op": "run", "ref": "gate", "stream": True}).encode() + b"\n")
    # the first line arrives while the run waits for the gate: no reply yet
    seen = []
    while not any(e["type"] == "run.output" and e["stream"] == "stdout" for e in seen):
        msg = c.read_line()
        assert "event" in msg, msg   # the reply cannot come before the gate opens
        seen.append(msg["event"])
    states = [e["state"] for e in seen if e["type"] == "run.progress"]
    assert states[:1] == ["queued"] and "running" in states, states
    run_id = seen[0]["run_id"]
    assert all(e["run_id"] == run_id and e["invoker"] == "operator" and isinstance(e["at"], int) for e in seen)
    (gate / "go").write_text("")
    events, reply = read_until_reply(c, 7)
    events = seen + events
    assert reply["ok"], reply
    run = reply["result"]
    assert run["id"] == run_id and run["outcome"] == "ok"
    # what was streamed is exactly what was recorded
    assert output_of(events, "stdout") == base64.b64decode(run["stdout_b64"]) == b"first\nsecond\n"
    assert output_of(events, "stderr") == base64.b64decode(run["stderr_b64"]) == b"warn\n"
    for e in events:
        if e["type"] == "run.progress":
            assert set(e) == {"type", "run_id", "invoker", "state", "elapsed_ms", "stdout_bytes", "stderr_bytes", "at"}
            assert e["state"] in ("queued", "running") and e["elapsed_ms"] >= 0
    # the connection goes on as usual
    assert c.call("hello")["ok"]
    # stream must be a boolean
    r = c.call("run", ref="gate", stream="yes")
    assert r["error"]["code"] == "invalid_request"
    c.close()


def test_run_start_get_cancel(worker, tmp_path):
    setup_gate(worker, tmp_path)
    events = worker.sock()
    assert events.call("events.subscribe")["ok"]
    c = worker.sock()
    r = c.call("run.start", ref="gate")
    assert r["ok"], r
    run_id = r["result"]["run_id"]
    assert r["result"]["state"] in ("queued", "running")
    # the connection that started it may go: the run lives on
    c.close()
    c = worker.sock()

    def progressed():
        g = c.call("run.get", run=run_id)["result"]
        return g["state"] == "running" and g["progress"]["stdout_bytes"] == 6 and g["progress"]["stderr_bytes"] == 5
    assert wait_for(progressed, 60)
    g = c.call("run.get", run=run_id)["result"]
    assert g["outcome"] == "running" and "stdout" not in g
    # cancel: killed, recorded as cancelled, with what it wrote
    r = c.call("run.cancel", run=run_id)
    assert r["ok"] and r["result"] == {"run_id": run_id, "state": "finished", "cancelled": True}, r
    g = c.call("run.get", run=run_id)["result"]
    assert g["state"] == "finished" and g["outcome"] == "cancelled" and g["exit_code"] is None
    assert g["stdout"] == "first\n" and g["stderr"] == "warn\n" and g["stdout_total"] == 6
    assert g["progress"]["stdout_bytes"] == 6
    # a second cancel changes nothing
    r = c.call("run.cancel", run=run_id)
    assert r["result"] == {"run_id": run_id, "state": "finished", "cancelled": False}
    assert c.call("run.cancel", run="r_nosuchrun")["error"]["code"] == "not_found"
    # a running run that was cancelled counts as used
    a = c.call("approval.list", name="gate")["result"]["items"][0]
    assert a["runs"] == 1
    # on the record: who cancelled, and the receipt's outcome
    cancels = audit_entries(worker, "run.cancel")
    assert cancels == [dict(cancels[0], run=run_id, by="operator", state="running")]
    ends = [e for e in audit_entries(worker, "run.end") if e["run"] == run_id]
    assert ends[0]["outcome"] == "cancelled"
    # subscribers saw the run's events, each with its invoker
    seen = []
    while not any(e.get("type") == "run.finished" for e in seen):
        seen.append(events.read_line()["event"])
    mine = [e for e in seen if e.get("run_id") == run_id]
    assert {e["type"] for e in mine} >= {"run.started", "run.progress", "run.finished"}
    assert all(e["invoker"] == "operator" for e in mine)
    rc, v = worker.ncj("audit", "verify")
    assert rc == 0 and v["ok"], v
    c.close()
    events.close()


@pytest.fixture
def one_at_a_time(home):
    home.env["NIGHTCORE_MAX_RUNS"] = "1"
    home.nc("worker", "start", check=True)
    return home


def test_cancel_queued_gives_the_run_back(one_at_a_time, tmp_path):
    w = one_at_a_time
    gate = setup_gate(w, tmp_path)
    c = w.sock()
    first = c.call("run.start", ref="gate")["result"]["run_id"]
    assert wait_for(lambda: c.call("run.get", run=first)["result"]["state"] == "running", 60)
    # a second run waits for the only slot; a client waiting on it with `run`
    waiter = w.sock()
    waiter.send_raw(json.dumps({"id": 3, "op": "run", "ref": "gate", "stream": True}).encode() + b"\n")
    ev = waiter.read_line()["event"]
    assert ev["type"] == "run.progress" and ev["state"] == "queued"
    second = ev["run_id"]
    assert c.call("run.get", run=second)["result"]["state"] == "queued"
    r = c.call("run.cancel", run=second)
    assert r["result"] == {"run_id": second, "state": "finished", "cancelled": True}, r
    # the client waiting on it gets the run, cancelled, without output
    events, reply = read_until_reply(waiter, 3)
    assert reply["ok"] and reply["result"]["outcome"] == "cancelled" and reply["result"]["refunded"] is True
    assert not [e for e in events if e["type"] == "run.output"]
    # given back: only the first run counts
    a = c.call("approval.list", name="gate")["result"]["items"][0]
    assert a["runs"] == 1
    refunds = [e for e in audit_entries(w, "run.refund") if e["run"] == second]
    assert refunds and refunds[0]["reason"] == "cancelled before it started"
    assert [e["state"] for e in audit_entries(w, "run.cancel")] == ["queued"]
    (gate / "go").write_text("")
    assert wait_for(lambda: c.call("run.get", run=first)["result"]["state"] == "finished", 60)
    g = c.call("run.get", run=first)["result"]
    assert g["outcome"] == "ok"
    rc, v = w.ncj("audit", "verify")
    assert rc == 0 and v["ok"], v


def test_run_get_pages_output(worker, tmp_path):
    gate = setup_gate(worker, tmp_path)
    (gate / "go").write_text("")
    c = worker.sock()
    run = c.call("run", ref="gate")["result"]
    full = c.call("run.get", run=run["id"])["result"]
    assert full["stdout"] == "first\nsecond\n" and full["stdout_total"] == 13 and full["stderr_total"] == 5
    assert full["state"] == "finished" and full["progress"]["stdout_bytes"] == 13
    page = c.call("run.get", run=run["id"], stdout_offset=6, stdout_limit=3, stderr_limit=0)["result"]
    assert page["stdout"] == "sec" and base64.b64decode(page["stdout_b64"]) == b"sec"
    assert page["stdout_total"] == 13 and page["stderr"] == "" and page["stderr_total"] == 5
    tail = c.call("run.get", run=run["id"], stdout_offset=100)["result"]
    assert tail["stdout"] == "" and tail["stdout_total"] == 13
    for bad in ({"stdout_offset": -1}, {"stdout_limit": "3"}, {"stderr_limit": 1 << 40}, {"nope": 1}):
        r = c.call("run.get", run=run["id"], **bad)
        assert r["error"]["code"] == "invalid_request", (bad, r)


def test_agent_runs_its_own_only(worker, tmp_path):
    rc, out = worker.ncj("agent", "add", "bot")
    token = out["token"]
    gate = setup_gate(worker, tmp_path, extra_approve=("--allow-agent", "bot"))
    a = worker.sock("agent")
    r = a.call("run.start", token=token, ref="gate")
    assert r["ok"], r
    mine = r["result"]["run_id"]
    # one run in progress per agent: busy names it
    for op in ("run.start", "run"):
        r = a.call(op, token=token, ref="gate")
        assert r["error"]["code"] == "busy" and r["error"]["run_id"] == mine and mine in r["error"]["message"], r
    assert a.call("run.get", token=token, run=mine)["result"]["state"] in ("queued", "running")
    # the operator's runs do not exist for the agent
    c = worker.sock()
    theirs = c.call("run.start", ref="gate")["result"]["run_id"]
    assert a.call("run.get", token=token, run=theirs)["error"]["code"] == "not_found"
    assert a.call("run.cancel", token=token, run=theirs)["error"]["code"] == "not_found"
    assert c.call("run.get", run=theirs)["result"]["state"] in ("queued", "running")
    # cancelled once it has written its first line (and waits for the gate), however slow the machine
    assert wait_for(lambda: a.call("run.get", token=token, run=mine)["result"]["progress"]["stdout_bytes"] == 6, 60)
    r = a.call("run.cancel", token=token, run=mine)
    assert r["result"]["cancelled"] is True, r
    assert [e["by"] for e in audit_entries(worker, "run.cancel")] == ["agent:bot"]
    g = a.call("run.get", token=token, run=mine, stdout_limit=2)["result"]
    assert g["outcome"] == "cancelled" and g["stdout"] == "fi" and g["stdout_total"] == 6
    # a streamed run for the agent: events carry its invoker
    a.send_raw(json.dumps({"id": 9, "op": "run", "token": token, "ref": "gate", "stream": True}).encode() + b"\n")
    ev = a.read_line()["event"]
    assert ev["invoker"] == "agent:bot"
    (gate / "go").write_text("")
    events, reply = read_until_reply(a, 9)
    assert reply["result"]["outcome"] == "ok" and output_of([ev] + events, "stdout") == b"first\nsecond\n"
    assert all(e["invoker"] == "agent:bot" for e in events)
    assert wait_for(lambda: c.call("run.get", run=theirs)["result"]["state"] == "finished", 60)


def test_cli_streams_and_cancels(worker, tmp_path):
    gate = setup_gate(worker, tmp_path)
    p = subprocess.Popen([os.path.join(BIN, "nightcore"), "run", "gate"], env=worker.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    # the module's first line reaches our stdout while it still waits
    assert p.stdout.readline() == b"first\n"
    assert p.poll() is None
    (gate / "go").write_text("")
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert out == b"second\n"
    assert b"warn\n" in err and b"ok (exit 0)" in err
    # nightcore runs cancel RUN
    c = worker.sock()
    os.unlink(gate / "go")
    run_id = c.call("run.start", ref="gate")["result"]["run_id"]
    rc, r = worker.ncj("runs", "cancel", run_id)
    assert rc == 0 and r["cancelled"] is True and r["state"] == "finished", r
    p = worker.nc("runs", "cancel", run_id)
    assert p.returncode == 0 and b"already finished" in p.stdout, p
    p = worker.nc("runs", "show", run_id)
    assert b"cancelled" in p.stdout
    p = worker.nc("runs")
    assert b"cancelled" in p.stdout
    assert worker.nc("runs", "cancel", "r_nosuch").returncode == 1
    assert worker.nc("runs", "cancel").returncode == 2


def test_raw_stdin_and_output(worker):
    sub = worker.submit("wasi_stdio", "echo")   # copies stdin to stdout
    worker.approve(sub["id"])
    c = worker.sock()
    data = bytes(range(256)) * 1100 + b"\n"   # over 256 KiB: hashed beside the run
    # stdin as raw bytes after the line, sent in pieces; output as raw bytes after each event
    line = json.dumps({"id": 1, "op": "run", "ref": "echo", "stdin_bytes": len(data), "stream": True,
                       "output": "raw"}).encode() + b"\n"
    c.send_raw(line + data[:1000])
    c.send_raw(data[1000:])
    got = {"stdout": b"", "stderr": b""}
    while True:
        nl = c.buf.find(b"\n")
        while nl < 0:
            c.buf += c.s.recv(65536)
            nl = c.buf.find(b"\n")
        msg = json.loads(c.buf[:nl])
        c.buf = c.buf[nl + 1:]
        if "event" not in msg:
            break
        ev = msg["event"]
        if ev["type"] == "run.output":
            assert ev["offset"] == len(got[ev["stream"]]) and "data_b64" not in ev
            while len(c.buf) < ev["bytes"]:
                c.buf += c.s.recv(65536)
            got[ev["stream"]] += c.buf[:ev["bytes"]]
            c.buf = c.buf[ev["bytes"]:]
    assert msg["ok"], msg
    run = msg["result"]
    assert "stdout" not in run and "stdout_b64" not in run
    assert got["stdout"] == b"hello stdout\n" + data and run["stdout_total"] == len(got["stdout"])
    assert got["stderr"] == b"hello stderr\n" and run["stderr_total"] == 13
    # what was recorded is the same bytes
    full = c.call("run.get", run=run["id"])["result"]
    assert base64.b64decode(full["stdout_b64"]) == got["stdout"]
    # the receipt's stdin digest is of the raw bytes
    end = [e for e in audit_entries(worker, "run.end") if e["run"] == run["id"]][0]
    import hashlib
    assert end["stdin_sha256"] == hashlib.sha256(data).hexdigest()
    # refusals that keep the connection: both kinds of stdin, raw output without stream
    r = c.call("run", ref="echo", stdin_b64="aGk=", stdin_bytes=0)
    assert r["error"]["code"] == "invalid_request"
    r = c.call("run", ref="echo", output="raw")
    assert r["error"]["code"] == "invalid_request"
    r = c.call("run", ref="echo", output="binary", stream=True)
    assert r["error"]["code"] == "invalid_request"
    # stdin_bytes on an op that takes none: its bytes are skipped, the op refuses the parameter
    c.send_raw(json.dumps({"id": 5, "op": "hello", "stdin_bytes": 3}).encode() + b"\n{}\n")
    r = c.read_line()
    assert r["id"] == 5 and r["error"]["code"] == "invalid_request"
    assert c.call("hello")["ok"]
    c.close()


@pytest.mark.parametrize("bad", [-1, 16 * 1024 * 1024 + 1, "10", 1.5, None])
def test_bad_stdin_bytes_closes_the_connection(worker, bad):
    c = worker.sock()
    c.send_raw(json.dumps({"id": 1, "op": "run", "ref": "x", "stdin_bytes": bad}).encode() + b"\nanything\n")
    r = c.read_line()
    assert r["ok"] is False and r["error"]["code"] == "invalid_request" and "stdin_bytes" in r["error"]["message"]
    with pytest.raises((EOFError, ConnectionResetError)):
        c.read_line()
    c.close()
    assert worker.sock().call("hello")["ok"]   # the worker is unharmed


def test_cli_piped_stdin(worker):
    sub = worker.submit("wasi_stdio", "echo")
    worker.approve(sub["id"])
    p = worker.nc("run", "echo", input=b"from a pipe\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"hello stdout\nfrom a pipe\n"
    # an approval without stdin: piped input is refused, saying how
    sub = worker.submit("wasi_stdio", "echo-nostdin")
    worker.approve(sub["id"], "--no-stdin")
    p = worker.nc("run", "echo-nostdin", input=b"x")
    assert p.returncode == 3, p.stderr
    assert b"does not grant stdin" in p.stderr and b"</dev/null" in p.stderr
    assert worker.nc("run", "echo-nostdin").returncode == 0   # stdin /dev/null: nothing to give


def test_cli_exit_code_and_limit_summary(worker):
    sub = worker.submit("exit_code", "exiter")
    worker.approve(sub["id"])
    p = worker.nc("run", "exiter")
    code = json.loads(worker.nc("runs", "--json").stdout)["items"][0]["exit_code"]
    assert p.returncode == 1 and code >= 1
    assert worker.nc("run", "exiter", "--exit-code").returncode == min(4 + code, 255)
    sub = worker.submit("memory_bomb", "bomb")
    worker.approve(sub["id"])
    p = worker.nc("run", "bomb")
    last = p.stderr.decode().splitlines()[-1]
    assert p.returncode == 1 and "memory (memory_bytes " in last, last


def test_recorded_output_is_exact_at_every_length(worker):
    """The worker's own base64 and the row's text as written: every length
    modulo 3, bytes that are not UTF-8, NUL, quotes and backslashes."""
    sub = worker.submit("wasi_stdio", "echo")
    worker.approve(sub["id"])
    c = worker.sock()
    for tail in (b"", b"\x00", b"\xff\"", b"\\\n\x01", b"\xe2\x82"):
        r = c.call("run", ref="echo", stdin_b64=base64.b64encode(tail).decode())["result"]
        want = b"hello stdout\n" + tail
        assert base64.b64decode(r["stdout_b64"]) == want
        g = c.call("run.get", run=r["id"])["result"]
        assert base64.b64decode(g["stdout_b64"]) == want and g["stdout_total"] == len(want)
        assert g["stdout"] == r["stdout"]   # derived from the same bytes, invalid ones as U+FFFD
        assert g["stdout"].encode() == want if tail in (b"", b"\x00", b"\\\n\x01") else "\ufffd" in g["stdout"]
        listing = c.call("runs.list", limit=1)["result"]["items"][0]
        assert listing["id"] == r["id"] and "stdout_b64" not in listing
