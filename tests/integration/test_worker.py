"""The worker and the CLI together, on a temporary home: the signed flow,
refusals, drift, limits, flooding, malformed frames, crash recovery, and the
hostile corpus run again through approvals."""
import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

from conftest import BIN, Conn, b64file, fixture, wait_for


def test_whole_flow(worker):
    sub = worker.submit("hello", "hello")
    assert sub["status"] == "pending"
    assert sub["drift"]["state"] == "new"
    assert isinstance(sub["threat"]["score"], int)
    rc, inbox = worker.ncj("inbox")
    assert rc == 0 and [s["id"] for s in inbox["items"]] == [sub["id"]]
    rc, full = worker.ncj("inbox", "show", sub["id"])
    assert rc == 0 and full["analysis"]["imports"][0]["name"] == "fd_write"

    # Nothing runs before a human approves it.
    rc, out = worker.ncj("run", "hello")
    assert rc == 3 and out["error"]["code"] == "not_approved"

    worker.approve(sub["id"], "--max-runs", "2")
    rc, run = worker.ncj("run", "hello")
    assert rc == 0, run
    assert run["outcome"] == "ok" and run["stdout"] == "hello, world\n"
    assert run["isolation"]["seccomp"] is True
    p = worker.nc("run", "hello")
    assert p.returncode == 0 and p.stdout == b"hello, world\n"
    # max runs 2: the third is refused
    rc, out = worker.ncj("run", "hello")
    assert rc == 3 and out["error"]["code"] == "max_runs_exceeded"
    rc, runs = worker.ncj("runs")
    assert rc == 0 and len(runs["items"]) == 2
    rc, shown = worker.ncj("runs", "show", run["id"])
    assert rc == 0 and shown["id"] == run["id"] and shown["stdout"] == "hello, world\n"
    rc, sub2 = worker.ncj("inbox", "show", sub["id"])
    assert sub2["status"] == "approved"


def test_untrusted_key_refused(worker, tmp_path):
    sub = worker.submit("hello", "hello")
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    p = worker.nc("approve", sub["id"], "--yes", "--key", str(other))
    assert p.returncode == 3, p.stderr
    assert b"untrusted_key" in p.stderr or b"not trusted" in p.stderr
    rc, s = worker.ncj("inbox", "show", sub["id"])
    assert s["status"] == "pending"
    rc, out = worker.ncj("run", "hello")
    assert rc == 3 and out["error"]["code"] == "not_approved"


def test_tampered_blob_refused_with_alert(worker):
    sub = worker.submit("hello", "hello")
    worker.approve(sub["id"])
    events = worker.sock()
    assert events.call("events.subscribe")["ok"]
    blob = os.path.join(worker.path, "state", "blobs", sub["sha256"])
    os.chmod(blob, 0o600)
    with open(blob, "r+b") as f:
        f.seek(20)
        f.write(b"X")
    rc, out = worker.ncj("run", "hello")
    assert rc == 3 and out["error"]["code"] == "hash_mismatch"
    ev = events.read_line()["event"]
    while ev["type"] != "alert":
        ev = events.read_line()["event"]
    assert ev["kind"] == "hash_mismatch"
    events.close()


def test_drift_detected(worker):
    first = worker.submit("hello", "tool")
    worker.approve(first["id"])
    again = worker.submit("hello", "tool")          # identical: the same entry
    assert again["id"] == first["id"]
    changed = worker.submit("path_traversal", "tool")
    assert changed["drift"]["state"] == "drift"
    assert changed["drift"]["previous_sha256"] == first["sha256"]
    added = changed["drift"]["changes"]["imports_added"]
    assert any("path_open" in i for i in added)
    assert any(f["factor"] == "drift" for f in changed["threat"]["factors"])
    # running by name still runs the approved bytes
    rc, run = worker.ncj("run", "tool")
    assert rc == 0 and run["sha256"] == first["sha256"]


def assert_stopped_by_a_limit(run):
    """A spinning module ends at whichever limit the policy reaches first:
    out of fuel, or the deadline. Which one depends on the policy and on the
    machine's speed, never on the module; either way that limit is named."""
    assert run["outcome"] in ("fuel", "timeout"), run
    assert run["outcome"] in run["limits_hit"], run


def test_limits_enforced_through_policy(worker):
    # strict has a timeout and (today) fuel. A module that burns fuel fast
    # runs out of it in milliseconds whenever fuel is metered; a spinning one
    # ends at a limit either way; a sleeping one (no fuel used) reaches the
    # deadline.
    sub = worker.submit("fuel_burner", "burn")
    worker.approve(sub["id"], "--policy", "strict")
    rc, run = worker.ncj("run", "burn")
    assert rc == 1, run
    assert_stopped_by_a_limit(run)
    sub = worker.submit("infinite_loop", "spin")
    worker.approve(sub["id"], "--policy", "strict")
    rc, run = worker.ncj("run", "spin")
    assert rc == 1, run
    assert_stopped_by_a_limit(run)
    sub = worker.submit("sleep_forever", "sleeper")
    worker.approve(sub["id"], "--policy", "strict")
    t0 = time.time()
    rc, run = worker.ncj("run", "sleeper")
    assert rc == 1 and run["outcome"] == "timeout" and "timeout" in run["limits_hit"], run
    assert time.time() - t0 < 5


def test_busy_beyond_queue(home):
    env = dict(home.env, NIGHTCORE_MAX_RUNS="1", NIGHTCORE_QUEUE_LIMIT="0")
    p = subprocess.run([os.path.join(BIN, "nightcore"), "worker", "start"], env=env, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    sub = home.submit("sleep_forever", "spin")
    home.approve(sub["id"], "--policy", "strict", "--max-runs", "5")
    c1 = home.sock()
    c1.send_raw(json.dumps({"id": 1, "op": "run", "ref": "spin"}).encode() + b"\n")
    time.sleep(0.3)
    rc, out = home.ncj("run", "spin")
    assert rc == 3 and out["error"]["code"] == "busy"
    assert c1.read_line()["result"]["outcome"] == "timeout"
    c1.close()


def test_submission_rate_limit(worker):
    c = worker.sock()
    wasm = b64file(fixture("hello"))
    codes = []
    for i in range(70):
        r = c.call("submit", name=f"m{i}", wasm_b64=wasm)
        codes.append("ok" if r["ok"] else r["error"]["code"])
    assert codes[:60] == ["ok"] * 60
    assert "rate_limited" in codes[60:]
    # the operator socket still answers promptly
    t0 = time.time()
    assert c.call("status")["ok"]
    assert time.time() - t0 < 1
    c.close()


def test_malformed_and_oversized_frames(worker):
    c = worker.sock()
    c.send_raw(b"this is not json\n")
    r = c.read_line()
    assert r["ok"] is False and r["error"]["code"] == "invalid_request"
    c.send_raw(b'{"id": 5, "op": "no.such.op"}\n')
    assert c.read_line()["error"]["code"] == "invalid_request"
    c.send_raw(b'{"id": 6, "op": "status", "bogus": 1}\n')
    assert c.read_line()["error"]["code"] == "invalid_request"
    c.send_raw(b'[1,2,3]\n')
    assert c.read_line()["ok"] is False
    assert c.call("hello")["ok"]          # the same connection keeps working
    big = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    big.connect(os.path.join(worker.path, "run", "control.sock"))
    chunk = b"x" * (1 << 20)
    try:
        for _ in range(40):
            big.sendall(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    big.settimeout(5)
    try:
        data = big.recv(65536)
        assert b"too_large" in data
    except (ConnectionResetError, socket.timeout):
        pass
    big.close()
    assert c.call("status")["ok"]          # the worker keeps serving
    c.close()


def test_agent_socket_refuses_everything(worker):
    a = worker.sock("agent")
    for op in ("status", "submit", "approval.submit", "trust.add", "run", "shutdown"):
        r = a.call(op)
        assert r["ok"] is False and r["error"]["code"] == "unauthorized", (op, r)
    a.close()
    mode = stat.S_IMODE(os.stat(os.path.join(worker.path, "run", "control.sock")).st_mode)
    assert mode == 0o600


def test_kill9_during_run_then_restart(worker):
    sub = worker.submit("sleep_forever", "sleeper")
    worker.approve(sub["id"], "--max-runs", "3")
    before = worker.submit("hello", "kept")          # acknowledged before the crash
    events = worker.sock()
    events.call("events.subscribe")
    runner = worker.sock()
    runner.send_raw(json.dumps({"id": 1, "op": "run", "ref": "sleeper"}).encode() + b"\n")
    ev = events.read_line()["event"]
    while ev["type"] != "run.started":
        ev = events.read_line()["event"]
    with open(os.path.join(worker.path, "run", "worker.pid")) as f:
        pid = int(f.read())
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0)
    runner.close()
    events.close()
    worker.nc("worker", "start", check=True)
    rc, runs = worker.ncj("runs")
    assert rc == 0
    [r] = [r for r in runs["items"] if r["id"] == ev["run_id"]]
    assert r["outcome"] == "interrupted"
    rc, s = worker.ncj("inbox", "show", before["id"])
    assert rc == 0 and s["status"] == "pending"
    rc, a = worker.ncj("approvals")
    assert a["items"][0]["runs"] == 1          # counted, never silently re-run


HOSTILE = [
    # fixture, policy, expected outcome, extra check
    ("infinite_loop", "strict", "fuel", None),
    ("sleep_forever", "strict", "timeout", None),
    ("memory_bomb", "default", "memory", lambda r: "memory_bytes" in r["limits_hit"]),
    ("deep_recursion", "default", "trap", lambda r: r["trap_kind"] == "stack_overflow"),
    ("huge_stdout", "default", "output_limit", lambda r: r["stdout_truncated"]),
    ("no_preopen_read", "default", "exit", lambda r: r["denied_calls"] == 1),
    ("proc_raise", "default", "trap", lambda r: r["trap_kind"] == "proc_raise"),
    ("unreachable", "default", "trap", lambda r: r["trap_kind"] == "unreachable"),
    ("giant_table", "default", "memory", lambda r: "table_elements" in r["limits_hit"]),
    ("reentry_bomb", "strict", "fuel", None),
    ("network_attempt", "default", "exit", lambda r: r["denied"][0]["reason"] == "network"),
]


@pytest.mark.parametrize("name,policy,outcome,check", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_corpus_through_signed_flow(worker, name, policy, outcome, check):
    sub = worker.submit(name, name.replace("_", "-"))
    worker.approve(sub["id"], "--policy", policy)
    rc, run = worker.ncj("run", name.replace("_", "-"))
    assert rc == 1, run
    if outcome == "fuel":
        # Fuel against the deadline is a race the machine's speed decides.
        assert_stopped_by_a_limit(run)
    else:
        assert run["outcome"] == outcome, run
    if check:
        assert check(run), run
    assert run["threat"]["score"] > 0
    rc, st = worker.ncj("worker", "status")
    assert rc == 0                                       # the worker is unharmed


def test_invalid_modules_refused_at_submit(worker):
    # The worker refuses them whatever the client checked first.
    c = worker.sock()
    for bad in ("not_wasm", "truncated"):
        r = c.call("submit", name=bad.replace("_", "-"), wasm_b64=b64file(fixture(bad)))
        assert r["ok"] is False and r["error"]["code"] == "invalid_module", r
        assert r["error"]["message"]
    r = c.call("submit", name="x", wasm_b64="not base64!")
    assert r["error"]["code"] == "invalid_request"
    r = c.call("submit", name="../evil", wasm_b64=b64file(fixture("hello")))
    assert r["error"]["code"] == "invalid_request"
    c.close()
    rc, inbox = worker.ncj("inbox")
    assert inbox["items"] == []
    assert os.listdir(os.path.join(worker.path, "state", "blobs")) == []   # nothing stored half-way


def test_unwritable_log_stops_runs(worker):
    """Fail closed: while the database cannot be written, nothing runs."""
    import sqlite3
    sub = worker.submit("hello", "hello")
    worker.approve(sub["id"])
    db = sqlite3.connect(os.path.join(worker.path, "state", "nightcore.db"), timeout=1, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")        # reads still work; no one else can write
    try:
        p = worker.nc("run", "hello", timeout=60)
        assert p.returncode != 0 and p.stdout == b"", p
        assert b"did not run" in p.stderr, p.stderr
    finally:
        db.execute("ROLLBACK")
        db.close()
    rc, run = worker.ncj("run", "hello")
    assert rc == 0 and run["outcome"] == "ok"
    rc, a = worker.ncj("approvals")
    assert a["items"][0]["runs"] == 1        # the refused run was not counted


def test_shrunken_log_refused_at_start(worker):
    """The worker keeps its last checkpoint outside the database and refuses a
    log that no longer contains it."""
    import sqlite3
    sub = worker.submit("hello", "hello")
    worker.approve(sub["id"])
    worker.nc("worker", "stop", check=True)
    db = sqlite3.connect(os.path.join(worker.path, "state", "nightcore.db"))
    n = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    db.execute("DELETE FROM audit_log WHERE seq >= ?", (n - 2,))
    db.execute("DELETE FROM audit_checkpoints WHERE size > ?", (n - 2,))
    db.commit()
    db.close()
    p = worker.nc("worker", "start", timeout=60)
    assert p.returncode != 0
    with open(os.path.join(worker.path, "logs", "worker.log"), "rb") as f:
        assert b"Refusing to start" in f.read()


def test_every_change_is_in_the_log(worker):
    import sqlite3
    sub = worker.submit("hello", "hello")
    worker.approve(sub["id"])
    worker.ncj("run", "hello")
    other = worker.submit("exit_code", "other")
    worker.nc("reject", other["id"], "--reason", "not needed", check=True)
    worker.ncj("run", "nothing-here")                       # refused
    rc, a = worker.ncj("approvals")
    worker.nc("revoke", a["items"][0]["id"], check=True)
    worker.nc("worker", "stop", check=True)
    db = sqlite3.connect(os.path.join(worker.path, "state", "nightcore.db"))
    types = [json.loads(e)["type"] for (e,) in db.execute("SELECT entry FROM audit_log ORDER BY seq")]
    db.close()
    for t in ("worker.start", "submission", "approval", "run.start", "run.end", "rejection", "refused",
              "revocation", "worker.stop"):
        assert t in types, (t, types)
    assert types.index("run.start") < types.index("run.end")
