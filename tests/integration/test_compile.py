"""Approving compiles the module in a compile child, off the worker's loop
(docs/sandbox.md "Compiling", docs/protocol.md approval.submit): progress
events come before the reply, other requests are answered meanwhile, a
crashed compiler is an `internal` refusal naming its signal, and the worker
never runs the compiler's threads itself. Nothing here depends on speed: the
compile child is stopped (SIGSTOP) while the worker is checked."""
import json
import os
import signal
import subprocess
import time

from conftest import Conn, wait_for


def uleb(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def section(sid, payload):
    return bytes([sid]) + uleb(len(payload)) + payload


def heavy_module(nfuncs=40, ops=2000, nlocals=64):
    """A valid WASI command whose functions are long chains of if/else over
    many locals: small to send, seconds of register allocation to compile."""
    types = section(1, b"\x02" + b"\x60\x01\x7f\x01\x7f" + b"\x60\x00\x00")
    funcs = section(3, uleb(nfuncs + 1) + b"\x00" * nfuncs + b"\x01")
    memory = section(5, b"\x01\x00\x01")
    exports = section(7, b"\x02" + b"\x06_start\x00" + uleb(nfuncs) + b"\x06memory\x02\x00")
    body = bytearray(b"\x01" + uleb(nlocals) + b"\x7f")
    for i in range(ops):
        a, b, c = 1 + (i * 7) % nlocals, 1 + (i * 13) % nlocals, 1 + (i * 5) % nlocals
        body += (b"\x20" + uleb(a) + b"\x04\x40" + b"\x20" + uleb(a) + b"\x20" + uleb(b) + b"\x6a\x21" + uleb(c) +
                 b"\x05" + b"\x20" + uleb(a) + b"\x20" + uleb(b) + b"\x6c\x21" + uleb(c) + b"\x0b")
    body += b"\x20\x00\x20\x01\x6a\x0b"
    code = section(10, uleb(nfuncs + 1) + (uleb(len(body)) + bytes(body)) * nfuncs + b"\x02\x00\x0b")
    return b"\0asm\1\0\0\0" + types + funcs + memory + exports + code


def submit_bytes(home, tmp_path, data, name):
    path = tmp_path / (name + ".wasm")
    path.write_bytes(data)
    rc, sub = home.ncj("submit", str(path), "--name", name)
    assert rc == 0, sub
    return sub


def signed_statement(home, tmp_path, sub_id):
    """The statement the worker prepares for sub_id, signed with the home's key."""
    stmt = tmp_path / (sub_id + ".json")
    home.nc("approve", sub_id, "--statement-out", str(stmt), check=True)
    key = os.path.join(home.path, "keys", "approver")
    subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-f", key, "-n", "nightcore-approval-v1", str(stmt)],
                   check=True, capture_output=True)
    return stmt.read_text(), (tmp_path / (sub_id + ".json.sig")).read_text()


def worker_pid(home):
    with open(os.path.join(home.path, "run", "worker.pid")) as f:
        return int(f.read())


def compile_children(parent):
    """Pids of parent's children running as `... sandbox-compile`."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and len(argv) > 1 and argv[1] == b"sandbox-compile":
            found.append(int(d))
    return found


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def read_until_reply(conn, rid):
    events = []
    while True:
        msg = conn.read_line()
        if "event" in msg:
            events.append(msg["event"])
            continue
        assert msg.get("id") == rid, msg
        return events, msg


def test_progress_events_come_before_the_reply(worker, tmp_path):
    data = heavy_module(nfuncs=2, ops=200)
    sub = submit_bytes(worker, tmp_path, data, "small")
    stmt, sig = signed_statement(worker, tmp_path, sub["id"])
    subscriber = worker.sock()
    assert subscriber.call("events.subscribe")["ok"]
    c = worker.sock()
    c.send_raw(json.dumps({"id": 7, "op": "approval.submit", "statement": stmt, "signature": sig,
                           "progress": True}).encode() + b"\n")
    events, reply = read_until_reply(c, 7)
    assert reply["ok"], reply
    assert events and all(e["type"] == "approval.progress" for e in events)
    first, last = events[0], events[-1]
    assert first["phase"] == "compiling" and first["elapsed_ms"] >= 0
    for e in events:
        assert e["submission"] == sub["id"] and e["name"] == "small" and e["sha256"] == sub["sha256"]
        assert e["module_bytes"] == len(data)
    assert [e["phase"] for e in events[1:-1]] == ["compiling"] * (len(events) - 2)
    assert last["phase"] == "compiled" and last["artifact_bytes"] > 0 and last["compile_ms"] >= 0
    # the subscriber saw the same compile, then the approval
    seen = []
    while not seen or seen[-1]["type"] != "approval.created":
        seen.append(subscriber.read_line()["event"])
    phases = [e["phase"] for e in seen if e["type"] == "approval.progress"]
    assert phases[0] == "compiling" and phases[-1] == "compiled"
    assert seen[-1]["approval"]["id"] == reply["result"]["id"]
    # without progress: the reply is the first line
    sub2 = submit_bytes(worker, tmp_path, heavy_module(nfuncs=3, ops=100), "small2")
    stmt, sig = signed_statement(worker, tmp_path, sub2["id"])
    c.send_raw(json.dumps({"id": 8, "op": "approval.submit", "statement": stmt, "signature": sig}).encode() + b"\n")
    first_line = c.read_line()
    assert first_line.get("id") == 8 and first_line["ok"], first_line
    r = c.call("approval.submit", statement=stmt, signature=sig, progress="yes")
    assert r["ok"] is False and r["error"]["code"] == "invalid_request"
    c.close()
    subscriber.close()


def deep_module(depth):
    """A WASI command whose _start is depth nested blocks: under a megabyte,
    hundreds of MiB to compile, an artifact of tens of KiB."""
    types = section(1, b"\x01\x60\x00\x00")
    funcs = section(3, b"\x01\x00")
    exports = section(7, b"\x01\x06_start\x00\x00")
    body = b"\x00" + b"\x02\x40" * depth + b"\x0b" * (depth + 1)
    code = section(10, b"\x01" + uleb(len(body)) + body)
    return b"\0asm\1\0\0\0" + types + funcs + exports + code


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_the_worker_never_compiles_itself(worker, tmp_path):
    # compiling this takes about 290 MB wherever it happens: the compile
    # child's, never the worker's (measured after the submission, whose
    # analysis is the worker's own)
    sub = submit_bytes(worker, tmp_path, deep_module(300000), "deep")
    pid = worker_pid(worker)
    before = peak_rss_kib(pid)
    p = worker.approve(sub["id"])
    assert "approved:" in p.stdout.decode()
    grown = peak_rss_kib(pid) - before
    assert grown < 96 * 1024, f"the worker grew by {grown} KiB while approving"
    # not a terminal: no line rewritten in place
    assert "\r" not in p.stderr.decode() and "\033[" not in p.stderr.decode()
    assert worker.nc("run", "deep").returncode == 0


def test_worker_serves_while_a_compile_runs_and_reports_a_crash(worker, tmp_path):
    hello = worker.submit("hello", "hello")
    worker.approve(hello["id"])
    data = heavy_module()
    sub = submit_bytes(worker, tmp_path, data, "heavy")
    stmt, sig = signed_statement(worker, tmp_path, sub["id"])
    pid = worker_pid(worker)
    c = worker.sock()
    c.send_raw(json.dumps({"id": 1, "op": "approval.submit", "statement": stmt, "signature": sig,
                           "progress": True}).encode() + b"\n")
    assert c.read_line()["event"]["phase"] == "compiling"
    found = []

    def child_isolated():
        # the child isolates itself before it compiles: stopped only once its
        # profile is on (the compile then takes seconds; polling takes 50 ms)
        found[:] = compile_children(pid)
        try:
            return bool(found) and proc_status(found[0])["Seccomp"].strip() == "2"
        except (OSError, KeyError):
            return False

    assert wait_for(child_isolated, timeout=60), "no isolated compile child while compiling"
    child = found[0]
    os.kill(child, signal.SIGSTOP)   # the compile cannot finish until it is continued
    try:
        st = proc_status(child)
        assert st["Seccomp"].strip() == "2" and st["NoNewPrivs"].strip() == "1"
        assert st["CapEff"].strip() == "0000000000000000"
        other = worker.sock()
        status = other.call("status")["result"]
        assert status["compiles"] == {"running": 1, "queued": 0, "limit": 2}
        r = other.call("run", ref="hello")
        assert r["ok"] and r["result"]["outcome"] == "ok", r
        assert other.call("inbox.list")["ok"]
        other.close()
        # progress keeps coming while the compile cannot end
        ev = c.read_line()
        assert "event" in ev and ev["event"]["phase"] == "compiling", ev
        # the compiler crashes
        os.kill(child, signal.SIGSEGV)
    finally:
        os.kill(child, signal.SIGCONT)
    events, reply = read_until_reply(c, 1)
    assert reply["ok"] is False, reply
    assert reply["error"]["code"] == "internal"
    assert "signal 11" in reply["error"]["message"], reply
    assert events[-1]["phase"] == "failed" and events[-1]["error"]["code"] == "internal"
    assert wait_for(lambda: not compile_children(pid))
    # the worker is unharmed: the same approval goes through now
    c.send_raw(json.dumps({"id": 2, "op": "approval.submit", "statement": stmt, "signature": sig}).encode() + b"\n")
    _, reply = read_until_reply(c, 2)
    assert reply["ok"], reply
    assert worker.nc("run", "heavy").returncode == 0
    c.close()
