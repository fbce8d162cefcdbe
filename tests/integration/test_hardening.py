"""Local denial of service and faults against a running worker, as a
hostile process of the operator's own user would try them."""
import json
import os
import resource
import shutil
import socket
import subprocess
import sqlite3
import time

import pytest

from conftest import Conn, fixture, wait_for


def worker_pid(home):
    with open(os.path.join(home.path, "run", "worker.pid")) as f:
        return int(f.read())


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def raw_connect(path):
    """Connects, waiting while the listen backlog is full."""
    end = time.time() + 60
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            if time.time() > end:
                raise
            time.sleep(0.01)


def audit_entries(home):
    db = sqlite3.connect(os.path.join(home.path, "state", "nightcore.db"))
    try:
        return [json.loads(e) for (e,) in db.execute("SELECT entry FROM audit_log ORDER BY seq")]
    finally:
        db.close()


def start_worker(home, **env):
    saved = dict(home.env)
    home.env.update({k: str(v) for k, v in env.items()})
    try:
        home.nc("worker", "start", check=True)
    finally:
        home.env = saved


@pytest.fixture
def many_fds():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 4096)
    if want < 1200:
        pytest.skip(f"needs 1200 descriptors in the test process (hard limit {hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_idle_agent_connections_capped_control_served(worker, many_fds):
    """A flood of idle connections to agent.sock is capped per peer; the
    operator is served throughout and the worker's descriptors stay bounded."""
    status = worker.sock().call("status")["result"]["connections"]
    per_uid = status["agent_limit_per_uid"]
    assert 0 < per_uid <= status["agent_limit"]
    pid = worker_pid(worker)
    agent_path = os.path.join(worker.path, "run", "agent.sock")
    held, refused = [], 0
    for _ in range(per_uid + 400):
        s = raw_connect(agent_path)
        held.append(s)
    # the ones over the cap get one line and are closed; the others stay
    for s in held[per_uid:]:
        s.settimeout(30)
        line = b""
        while not line.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            line += chunk
        msg = json.loads(line)
        assert msg["ok"] is False and msg["error"]["code"] == "busy", msg
        assert "too many connections" in msg["error"]["message"]
        assert s.recv(4096) == b""   # closed
        refused += 1
    assert refused == 400
    assert open_fds(pid) < per_uid + 200, open_fds(pid)
    # the operator is served, and a run goes through
    st = worker.sock().call("status")["result"]["connections"]
    assert st["agent"] == per_uid and st["refused"] >= 400, st
    rc, out = worker.ncj("worker", "status")
    assert rc == 0, out
    sub = worker.submit("hello", "hello")
    worker.approve(sub["id"])
    rc, run = worker.ncj("run", "hello")
    assert rc == 0 and run["exit_code"] == 0, run
    for s in held:
        s.close()
    # once closed, new agent connections are accepted again
    assert wait_for(lambda: worker.sock().call("status")["result"]["connections"]["agent"] == 0, 30)
    a = worker.sock("agent")
    assert a.call("hello")["error"]["code"] == "unauthorized"
    a.close()


def test_unauthenticated_agent_connection_times_out(home):
    start_worker(home, NIGHTCORE_AUTH_TIMEOUT_MS=300)
    silent = raw_connect(os.path.join(home.path, "run", "agent.sock"))
    assert silent.recv(4096) == b""     # closed by the worker, never having said anything
    # a token-less request does not count as authenticating
    talker = home.sock("agent")
    assert talker.call("hello")["error"]["code"] == "unauthorized"
    with pytest.raises(EOFError):
        talker.read_line()
    # one with a valid token is kept past the deadline
    rc, out = home.ncj("agent", "add", "bot")
    assert rc == 0, out
    ok = home.sock("agent")
    assert ok.call("hello", token=out["token"])["ok"]
    time.sleep(1.5)   # well past the 300 ms deadline (lower bound only: no speed assumption)
    assert ok.call("hello", token=out["token"])["ok"]
    ok.close()


def test_pipelined_requests_without_reading_are_bounded(home):
    """3 MB of requests whose replies are never read: the worker stops
    reading, its memory stays bounded, and the connection is dropped."""
    start_worker(home, NIGHTCORE_STALL_TIMEOUT_MS=1000)
    pid = worker_pid(home)
    before = rss_kib(pid)
    s = raw_connect(os.path.join(home.path, "run", "agent.sock"))
    s.setblocking(False)
    payload = b"{}\n" * (1024 * 1024)
    sent = 0
    deadline = time.time() + 120
    closed = False
    while sent < len(payload) and time.time() < deadline:
        try:
            sent += s.send(payload[sent:sent + 65536])
        except BlockingIOError:
            time.sleep(0.05)
            continue
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
    # the worker stops reading long before 3 MB (its queue is bounded), so
    # the send blocks; then the stalled connection is closed
    assert sent < len(payload) or closed
    s.setblocking(True)
    s.settimeout(60)

    def dropped():
        try:
            while True:
                s.settimeout(1)
                chunk = s.recv(1 << 20)
                if not chunk:
                    return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
    assert closed or wait_for(dropped, 60)
    s.close()
    grown = rss_kib(pid) - before
    assert grown < 64 * 1024, f"worker grew by {grown} KiB"
    assert home.sock().call("status")["ok"]


def test_refusals_logged_at_a_bounded_rate(worker):
    """200 connections each sending 20 bad requests add at most a burst of
    entries, and every refusal is counted in a summary."""
    before = len(audit_entries(worker))
    started = time.monotonic()
    for _ in range(200):
        c = worker.sock("agent")
        c.send_raw(b"{}\n" * 20)
        for _ in range(20):
            assert c.read_line()["ok"] is False
        c.close()
    elapsed = time.monotonic() - started
    worker.nc("worker", "stop", check=True)
    entries = audit_entries(worker)
    new = entries[before:]
    single = [e for e in new if e["type"] == "refused"]
    summaries = [e for e in new if e["type"] == "refused.summary"]
    # the burst, plus one per 10 s the test took (however slow the machine)
    assert len(single) <= 16 + elapsed / 10 + 1, (len(single), elapsed)
    assert len(new) <= len(single) + elapsed / 60 + 3, len(new)
    assert len(single) + sum(e["count"] for e in summaries) == 4000
    assert all(e["socket"] == "agent" and e["uid"] == os.getuid() for e in single + summaries)


def test_module_file_modes_do_not_depend_on_the_workers_umask(home, tmp_path):
    """A worker started under a hostile umask: a module still creates a
    directory and writes inside it, with the documented modes."""
    scratch = tmp_path / "scratch"
    ro = tmp_path / "ro"
    (ro / "sub").mkdir(parents=True)
    (ro / "hello.txt").write_text("hello from the host")
    scratch.mkdir()
    pf = tmp_path / "files.json"
    pf.write_text(json.dumps({"name": "files", "capabilities": {
        "dirs": [{"host": str(ro), "guest": "/ro", "mode": "ro"},
                 {"host": str(scratch), "guest": "/data", "mode": "rw", "quota_bytes": 1 << 20, "quota_files": 100}]}}))
    old = os.umask(0o177)
    try:
        home.nc("worker", "start", check=True)
    finally:
        os.umask(old)
    assert home.nc("policy", "add", str(pf), "--yes").returncode == 0
    sub = home.submit("guest_wasi_files", "files")
    home.approve(sub["id"], "--policy", "files", "--dir", f"{ro}:/ro:ro", "--dir", f"{scratch}:/data:rw")
    rc, run = home.ncj("run", "files")
    assert rc == 0, run
    lines = dict(line.split("=", 1) for line in run["stdout"].splitlines())
    assert lines["mkdir"] == "0" and lines["write"] == "0", lines
    assert os.stat(scratch / "kept.txt").st_mode & 0o777 == 0o644


# ---- which approval a reference names ----

def test_agent_names_match_exactly_and_refusals_are_alike(worker):
    tokens = {}
    for name in ("bot-1", "bot_1"):
        rc, out = worker.ncj("agent", "add", name)
        assert rc == 0, out
        tokens[name] = out["token"]
    sub = worker.submit("hello", "greet")
    worker.approve(sub["id"], "--allow-agent", "bot-1")
    rc, aps = worker.ncj("approvals")
    aid = aps["items"][0]["id"]
    a = worker.sock("agent")
    assert a.call("run", token=tokens["bot-1"], ref="greet")["ok"]
    # `_` is not a wildcard: bot_1 is not bot-1, by name or by id
    answers = [a.call("run", token=tokens["bot_1"], ref=ref) for ref in ("greet", aid, aid[:12], "nothing-here")]
    for r in answers:
        assert r["ok"] is False and r["error"]["code"] == "not_approved", r
    # another agent's approval and no approval read the same, apart from the ref
    msgs = [r["error"]["message"].replace(ref, "REF") for r, ref in zip(answers, ("greet", aid, aid[:12], "nothing-here"))]
    assert len(set(msgs)) == 1, msgs
    a.close()


def test_approval_id_prefix_as_printed_is_a_ref(worker):
    sub = worker.submit("hello", "greet")
    worker.approve(sub["id"])
    out = worker.nc("approvals", check=True).stdout.decode()
    rc, aps = worker.ncj("approvals")
    short = aps["items"][0]["id"][:12]
    assert short in out          # what the listing shows
    rc, run = worker.ncj("run", short)
    assert rc == 0 and run["approval_id"] == aps["items"][0]["id"], run
    assert worker.ncj("run", short[:11])[1]["error"]["code"] == "not_approved"   # too short to be an id


def test_newest_valid_approval_wins_over_a_revoked_key(worker, tmp_path):
    """The newest approval was signed by a key since revoked: the run uses
    the older approval that still verifies, and refuses only when none does."""
    second = tmp_path / "second"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "second", "-f", str(second)], check=True)
    p = worker.nc("trust", "add", str(second) + ".pub", "--principal", "second@example.com", "--yes")
    assert p.returncode == 0, p.stderr
    sub = worker.submit("hello", "greet")
    worker.approve(sub["id"])                                          # older: the root key
    worker.approve(sub["id"], "--key", str(second), "--principal", "second@example.com")   # newer: second
    rc, aps = worker.ncj("approvals")
    newest, older = aps["items"][0]["id"], aps["items"][1]["id"]
    rc, run = worker.ncj("run", "greet")
    assert rc == 0 and run["approval_id"] == newest
    assert worker.nc("trust", "revoke", str(second) + ".pub").returncode == 0
    rc, run = worker.ncj("run", "greet")
    assert rc == 0 and run["approval_id"] == older, run
    # asked for by id, the revoked one is refused as such
    rc, r = worker.ncj("run", newest[:12])
    assert rc == 3 and r["error"]["code"] == "revoked_key", r
    # with the older one revoked too, the refusal is the newest's
    worker.nc("revoke", older, check=True)
    rc, r = worker.ncj("run", "greet")
    assert rc == 3 and r["error"]["code"] == "revoked_key", r


# ---- power loss ----

POWERCUT = os.path.join(os.environ.get("NC_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "bin")),
                        "nc_powercut.so")


def power_cut(home):
    """kill -9, then the database and WAL as they were at their last flush."""
    os.kill(worker_pid(home), 9)
    wait_for(lambda: home.nc("worker", "status").returncode != 0, 30)
    state = os.path.join(home.path, "state")
    for name in ("nightcore.db", "nightcore.db-wal"):
        path = os.path.join(state, name)
        if os.path.exists(path + ".synced"):
            os.replace(path + ".synced", path)
        elif name.endswith("-wal") and os.path.exists(path):
            os.unlink(path)   # never flushed: gone
    for leftover in ("nightcore.db-shm",):
        if os.path.exists(os.path.join(state, leftover)):
            os.unlink(os.path.join(state, leftover))


@pytest.mark.skipif(not os.path.exists(POWERCUT), reason="needs build/bin/nc_powercut.so")
def test_power_cut_loses_nothing_acknowledged(home):
    """Every run the CLI saw finish is still there after a power cut, the run
    count holds (max_runs is never exceeded), and the checkpoint kept outside
    the database is not ahead of it (no false tampering alarm)."""
    start_worker(home, LD_PRELOAD=POWERCUT, NC_POWERCUT_DIR=os.path.join(home.path, "state"))
    sub = home.submit("hello", "greet")
    home.approve(sub["id"], "--max-runs", "8")
    acked = []
    for _ in range(5):
        rc, run = home.ncj("run", "greet")
        assert rc == 0, run
        acked.append(run["id"])
    rc, agent = home.ncj("agent", "add", "bot")
    assert rc == 0
    time.sleep(1.5)   # let a checkpoint be written outside the database (a lower bound only)
    power_cut(home)
    p = home.nc("worker", "start")
    assert p.returncode == 0, p.stderr.decode()
    rc, runs = home.ncj("runs")
    assert rc == 0
    finished = {r["id"]: r for r in runs["items"]}
    for rid in acked:
        assert rid in finished and finished[rid]["outcome"] == "ok", (rid, runs)
    rc, aps = home.ncj("approvals")
    assert aps["items"][0]["runs"] == 5
    assert home.ncj("agent", "list")[1]["items"][0]["name"] == "bot"
    rc, v = home.ncj("audit", "verify")
    assert rc == 0 and v["ok"], v
    # exactly max_runs in all
    for _ in range(3):
        assert home.ncj("run", "greet")[0] == 0
    rc, r = home.ncj("run", "greet")
    assert rc == 3 and r["error"]["code"] == "max_runs_exceeded", r


# ---- a full disk ----

@pytest.fixture
def small_disk(tmp_path):
    """A 64 MiB tmpfs holding the home (root only: it mounts)."""
    if os.geteuid() != 0:
        pytest.skip("mounts a tmpfs: needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", str(mnt)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    from conftest import Home
    h = Home(str(mnt / "home"))
    h.nc("init", "--generate-key", "--no-passphrase", "--principal", "tester@example.com", check=True)
    yield h, mnt
    h.nc("worker", "stop", timeout=60)
    subprocess.run(["umount", "-l", str(mnt)])


def fill(path):
    """Writes until the device is full; returns the filler's path."""
    filler = os.path.join(path, "filler")
    with open(filler, "wb") as f:
        chunk = b"\0" * (1 << 20)
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError as e:
            assert e.errno == 28, e   # ENOSPC
    # the last partial page too
    try:
        with open(filler, "ab") as f:
            while True:
                f.write(b"\0" * 512)
                f.flush()
    except OSError:
        pass
    return filler


def test_full_disk_names_its_cause_and_loses_nothing(small_disk, tmp_path):
    home, mnt = small_disk
    gate = tmp_path / "gate"
    gate.mkdir()
    pf = tmp_path / "big.json"
    pf.write_text(json.dumps({"name": "big", "limits": {"timeout_ms": 600000, "stdout_bytes": 16 << 20},
                              "capabilities": {"dirs": [{"host": str(gate), "guest": "/data", "mode": "ro"}]}}))
    home.nc("worker", "start", check=True)
    assert home.nc("policy", "add", str(pf), "--yes").returncode == 0
    hello = home.submit("hello", "hello")
    home.approve(hello["id"])
    waiter = home.submit("guest_wait_go", "waiter")
    home.approve(waiter["id"], "--policy", "big", "--dir", f"{gate}:/data:ro")
    blobs = sorted(os.listdir(mnt / "home" / "state" / "blobs"))
    # a run in progress while the disk fills
    env = dict(home.env)
    running = subprocess.Popen([os.path.join(os.environ.get("NC_BIN", os.path.join(os.path.dirname(__file__), "..",
                                                                                   "..", "build", "bin")), "nightcore"),
                                "run", "waiter", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert wait_for(lambda: any(r["outcome"] == "running" for r in home.ncj("runs")[1]["items"]), 60)
    # no space SQLite already holds (the WAL emptied), then no space at all
    db = sqlite3.connect(str(mnt / "home" / "state" / "nightcore.db"))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    filler = fill(str(mnt))
    # every failure names its cause; nothing half-done is left behind
    for args in (["agent", "add", "bot"], ["submit", fixture("exit_code"), "--name", "other"], ["run", "hello"]):
        p = home.nc(*args)
        err = p.stderr.decode()
        assert p.returncode == 1, (args, p.returncode, err)
        assert "failed (no_space)" in err and "no space left" in err, (args, err)
        assert "not an error" not in err and "success" not in err
    assert sorted(os.listdir(mnt / "home" / "state" / "blobs")) == blobs   # no orphan
    # the run in progress finishes: it is kept, and recorded once there is room
    (gate / "go").write_text("")
    out, err = running.communicate(timeout=120)
    assert running.returncode == 1, (out, err)
    assert json.loads(out)["error"]["code"] == "no_space"
    assert home.ncj("worker", "status")[1]["unrecorded_runs"] == 1
    os.unlink(filler)
    def recorded():
        items = home.ncj("runs")[1]["items"]
        w = [r for r in items if r["name"] == "waiter"]
        return w and w[0]["outcome"] == "ok"
    assert wait_for(recorded, 60)
    assert home.ncj("worker", "status")[1]["unrecorded_runs"] == 0
    # and everything works again
    assert home.ncj("run", "hello")[0] == 0
    assert home.ncj("agent", "add", "bot")[0] == 0
    rc, v = home.ncj("audit", "verify")
    assert rc == 0 and v["ok"], v


# ---- a large module ----

def leb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def section(sid, body):
    return bytes([sid]) + leb(len(body)) + body


def many_exports_module(count, name_len):
    """One function exported under `count` long names: a valid module whose
    analysis is many times larger than an audit entry may be."""
    types = section(1, leb(1) + b"\x60\x00\x00")
    funcs = section(3, leb(1) + leb(0))
    body = bytearray(leb(count))
    for i in range(count):
        name = (f"e{i:07d}" + "x" * name_len)[:name_len].encode()
        body += leb(len(name)) + name + b"\x00" + leb(0)
    exports = section(7, bytes(body))
    code = section(10, leb(1) + leb(2) + b"\x00\x0b")
    return b"\0asm\x01\0\0\0" + types + funcs + exports + code


def test_largest_module_is_submittable_and_logged_bounded(worker, tmp_path):
    wasm = many_exports_module(100000, 150)
    assert 14 << 20 < len(wasm) <= 16 << 20
    path = tmp_path / "big.wasm"
    path.write_bytes(wasm)
    rc, sub = worker.ncj("submit", str(path), "--name", "big")
    assert rc == 0, sub
    blobs = os.listdir(os.path.join(worker.path, "state", "blobs"))
    assert sub["sha256"] in blobs
    entry = [e for e in audit_entries(worker) if e["type"] == "submission" and e["submission"] == sub["id"]][0]
    assert len(json.dumps(entry)) < 1 << 20
    assert len(entry["analysis"]["exports"]) == 65 and entry["analysis"]["exports"][-1].startswith("... and ")
    assert len(entry["analysis_sha256"]) == 64 and len(entry["drift"]["changes_sha256"]) == 64
    # the digest is of the full analysis the database keeps
    rc, full = worker.ncj("inbox", "show", sub["id"])
    assert rc == 0
    assert len(full["analysis"]["exports"]) == 100000
    import hashlib
    canon = json.dumps(full["analysis"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canon.encode()).hexdigest() == entry["analysis_sha256"]


# ---- artifacts, a moved home, and runs that never ran ----

def artifacts_dir(home):
    return os.path.join(home.path, "state", "artifacts")


def test_moved_home_keeps_running(home, tmp_path):
    home.nc("worker", "start", check=True)
    sub = home.submit("hello", "hello")
    home.approve(sub["id"], "--max-runs", "3")
    assert home.ncj("run", "hello")[0] == 0
    home.nc("worker", "stop", check=True)
    from conftest import Home
    moved = Home(str(tmp_path / "moved"))
    shutil.move(home.path, moved.path)   # nothing is left where it was
    try:
        assert moved.nc("worker", "start").returncode == 0
        rc, run = moved.ncj("run", "hello")
        assert rc == 0 and run["exit_code"] == 0, run
        assert moved.ncj("approvals")[1]["items"][0]["runs"] == 2
        # the human's key moved with it: approving still works
        other = moved.submit("exit_code", "other")
        moved.approve(other["id"])
    finally:
        moved.nc("worker", "stop")


def test_lost_or_corrupt_artifact_is_rebuilt(worker):
    sub = worker.submit("hello", "hello")
    worker.approve(sub["id"], "--max-runs", "5")
    (art,) = os.listdir(artifacts_dir(worker))
    path = os.path.join(artifacts_dir(worker), art)
    os.unlink(path)                                   # lost
    rc, run = worker.ncj("run", "hello")
    assert rc == 0 and run["exit_code"] == 0, run
    with open(path, "r+b") as f:                      # corrupt
        f.seek(100)
        f.write(b"\xff" * 64)
    rc, run = worker.ncj("run", "hello")
    assert rc == 0 and run["exit_code"] == 0, run
    worker.nc("worker", "stop", check=True)
    entries = audit_entries(worker)
    rebuilt = [e for e in entries if e["type"] == "artifact.rebuilt"]
    assert len(rebuilt) == 2 and all(len(e["artifact_sha256"]) == 64 for e in rebuilt)
    assert "recompile" in rebuilt[0]["reason"] or "No such file" in rebuilt[0]["reason"], rebuilt[0]
    # the log and the database still agree on the run count after a restart
    worker.nc("worker", "start", check=True)
    assert worker.ncj("run", "hello")[0] == 0
    assert worker.ncj("approvals")[1]["items"][0]["runs"] == 3


def test_a_failure_of_ours_does_not_use_up_a_run(worker):
    sub = worker.submit("hello", "hello")
    worker.approve(sub["id"], "--max-runs", "1")
    cache = artifacts_dir(worker)
    (art,) = os.listdir(cache)
    keep = cache + ".kept"
    os.rename(cache, keep)
    with open(cache, "w") as f:     # no artifact, and none can be written
        f.write("not a directory")
    rc, r = worker.ncj("run", "hello")
    assert rc == 1 and r["error"]["code"] == "internal", r
    assert "could not be rebuilt" in r["error"]["message"] and "given back" in r["error"]["message"], r
    (run,) = worker.ncj("runs")[1]["items"]
    assert run["outcome"] == "crash" and run["refunded"] is True, run
    assert worker.ncj("approvals")[1]["items"][0]["runs"] == 0
    os.unlink(cache)
    os.rename(keep, cache)
    rc, run = worker.ncj("run", "hello")              # the one run it had
    assert rc == 0 and run["refunded"] is False, run
    assert worker.ncj("run", "hello")[1]["error"]["code"] == "max_runs_exceeded"
    worker.nc("worker", "stop", check=True)
    refunds = [e for e in audit_entries(worker) if e["type"] == "run.refund"]
    assert len(refunds) == 1
    worker.nc("worker", "start", check=True)          # the log and the database agree
    assert worker.ncj("run", "hello")[1]["error"]["code"] == "max_runs_exceeded"


# ---- a corrupt database ----

def corrupt_table(db_path, table):
    """Overwrites the table's leaf pages with garbage (a bad sector, a torn
    write), the worker stopped."""
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = db.execute("PRAGMA page_size").fetchone()[0]
    pages = [p for (p,) in db.execute("SELECT pageno FROM dbstat WHERE name=? AND pagetype='leaf'", (table,))]
    db.close()
    assert pages, f"{table} has no leaf pages"
    with open(db_path, "r+b") as f:
        for p in pages:
            f.seek((p - 1) * page)
            f.write(b"\x5a" * page)


def test_corrupt_database_is_refused_with_what_to_do(worker):
    sub = worker.submit("hello", "hello")
    for _ in range(6):
        worker.approve(sub["id"])
    worker.nc("worker", "stop", check=True)
    db_path = os.path.join(worker.path, "state", "nightcore.db")
    corrupt_table(db_path, "approvals")
    p = worker.nc("worker", "start")
    err = p.stderr.decode()
    assert p.returncode != 0
    log = open(os.path.join(worker.path, "logs", "worker.log")).read()
    assert "is corrupt" in log and "Refusing to start" in log and ".recover" in log, log[-2000:]
    p = worker.nc("doctor")
    out = p.stdout.decode()
    assert p.returncode != 0 and "FAIL database" in out and "restore it from a backup" in out, out
