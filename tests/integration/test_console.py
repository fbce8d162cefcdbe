"""nightcore-console over HTTP (docs/console.md): the session token, Host,
Origin and CSRF checks, the security headers, the API proxied to the worker,
approving with the operator's key (with and without a passphrase), the event
stream, the audit view, body caps, the worker being down, and what the binary
links."""
import http.client
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, fixture

CONSOLE = os.path.join(BIN, "nightcore-console")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class Resp:
    def __init__(self, r, body):
        self.status = r.status
        self.headers = r.headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class Console:
    """nightcore-console on a free port, logged in or not."""

    def __init__(self, home, *extra):
        self.home = home
        self.stderr = tempfile.TemporaryFile()
        self.p = subprocess.Popen([CONSOLE, "--home", home.path, "--listen", "127.0.0.1:0", *extra],
                                  stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL,
                                  env=home.env)
        r, _, _ = select.select([self.p.stdout], [], [], 10)
        assert r, "no URL from nightcore-console; stderr: " + self.err()
        line = self.p.stdout.readline().decode()
        m = re.fullmatch(r"Console: http://127\.0\.0\.1:(\d+)/\?token=([0-9a-f]{64})\n", line)
        assert m, line
        self.port, self.token = int(m.group(1)), m.group(2)
        self.host = f"127.0.0.1:{self.port}"
        self.origin = f"http://{self.host}"
        self.cookie = None
        self.csrf = None

    def err(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def request(self, method, path, body=None, headers=None, host=None, cookie=True, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Host": host or self.host}
        if cookie and self.cookie:
            h["Cookie"] = self.cookie
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return Resp(r, data)

    def login(self):
        r = self.request("GET", "/?token=" + self.token, cookie=False)
        assert r.status == 303, (r.status, r.body)
        assert r.headers["Location"] == "/"
        sc = r.headers["Set-Cookie"]
        m = re.match(r"nc_session=([0-9a-f]{64});", sc)
        assert m, sc
        self.cookie = "nc_session=" + m.group(1)
        s = self.get("/api/session")
        assert s.status == 200, s.body
        self.csrf = s.json()["csrf"]
        return sc

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, obj=None, origin=True, csrf=True, headers=None, **kw):
        h = {"Content-Type": "application/json"}
        if origin:
            h["Origin"] = self.origin if origin is True else origin
        if csrf:
            h["X-CSRF-Token"] = self.csrf if csrf is True else csrf
        h.update(headers or {})
        body = obj if isinstance(obj, bytes) else json.dumps(obj if obj is not None else {}).encode()
        return self.request("POST", path, body=body, headers=h, **kw)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p.stdout.close()


@pytest.fixture
def console(worker):
    c = Console(worker)
    yield c
    c.stop()


@pytest.fixture
def logged_in(console):
    console.login()
    return console


def assert_security_headers(r):
    for k, v in SECURITY_HEADERS.items():
        assert r.headers.get(k) == v, (k, r.headers.get(k), r.status)


def test_help_and_version():
    p = subprocess.run([CONSOLE, "--version"], capture_output=True, timeout=10)
    assert p.returncode == 0 and b"nightcore-console" in p.stdout
    p = subprocess.run([CONSOLE, "--help"], capture_output=True, timeout=10)
    assert p.returncode == 0 and b"--listen" in p.stdout


@pytest.mark.parametrize("addr", ["0.0.0.0:8420", "192.168.1.1:80", "localhost:8420", "[::1]:8420",
                                  "127.0.0.1:99999", "127.0.0.1:x"])
def test_listen_refuses_other_addresses(addr, tmp_path):
    p = subprocess.run([CONSOLE, "--home", str(tmp_path), "--listen", addr], capture_output=True, timeout=10)
    assert p.returncode == 2, p
    assert p.stdout == b""


def test_token_and_session(console):
    # nothing without a session
    for path in ("/", "/api/status", "/app.js", "/api/session"):
        r = console.get(path, cookie=False)
        assert r.status == 401, (path, r.status)
        assert_security_headers(r)
    # a wrong token, or one of the wrong length
    for tok in ("0" * 64, console.token[:-1], console.token + "0", ""):
        r = console.get("/?token=" + tok, cookie=False)
        assert r.status == 401, tok
        assert_security_headers(r)
        assert "Set-Cookie" not in r.headers
    # a made-up cookie
    r = console.get("/api/status", headers={"Cookie": "nc_session=" + "a" * 64}, cookie=False)
    assert r.status == 401
    sc = console.login()
    parts = [p.strip() for p in sc.split(";")]
    assert "HttpOnly" in parts and "SameSite=Strict" in parts and "Path=/" in parts
    r = console.get("/api/status")
    assert r.status == 200, r.body
    assert r.json()["worker_id"].startswith("w_")
    assert_security_headers(r)
    r = console.get("/")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
    assert_security_headers(r)
    s = console.get("/api/session").json()
    assert set(s) >= {"csrf", "worker_id", "version", "home"}
    assert s["home"] == console.home.path


def test_host_header_checked(logged_in):
    c = logged_in
    for host in ("evil.example:%d" % c.port, "127.0.0.1", "127.0.0.1:1", "localhost", "attacker.localhost:%d" % c.port):
        r = c.get("/api/status", host=host)
        assert r.status == 421, host
        assert_security_headers(r)
    # the token exchange too
    r = c.get("/?token=" + c.token, host="rebind.example:%d" % c.port, cookie=False)
    assert r.status == 421
    assert c.get("/api/status", host="localhost:%d" % c.port).status == 200


def test_post_needs_origin_and_csrf(worker, logged_in):
    c = logged_in
    sub = worker.submit("hello", "csrf-probe")
    path = "/api/submissions/%s/reject" % sub["id"]
    body = {"reason": "no"}
    for kw in ({"origin": False}, {"origin": "http://evil.example"}, {"origin": "null"},
               {"origin": "http://127.0.0.1:%d" % (c.port + 1)}, {"csrf": False}, {"csrf": "0" * 64},
               {"csrf": c.csrf[:-1]}):
        r = c.post(path, body, **kw)
        assert r.status == 403, (kw, r.status, r.body)
        assert_security_headers(r)
    # no session at all: 401 first
    r = c.post(path, body, cookie=False)
    assert r.status == 401
    # nothing was rejected by any of those
    assert c.get("/api/submissions/" + sub["id"]).json()["status"] == "pending"
    r = c.post(path, body)
    assert r.status == 200, r.body
    assert r.json()["status"] == "rejected"


def test_security_headers_on_404(logged_in):
    r = logged_in.get("/no-such-page")
    assert r.status == 404
    assert_security_headers(r)
    r = logged_in.get("/api/no-such-api")
    assert r.status == 404
    assert_security_headers(r)
    assert r.json()["error"]["code"] == "not_found"
    r = logged_in.get("/api/submissions/../../etc/passwd")
    assert r.status == 404


def test_console_does_not_link_wasmtime():
    p = subprocess.run(["nm", "-D", "--defined-only", CONSOLE], capture_output=True, text=True)
    q = subprocess.run(["nm", CONSOLE], capture_output=True, text=True)
    syms = p.stdout + q.stdout
    assert "wasmtime_" not in syms and "wasm_engine_new" not in syms


def restart_worker(home, *flags):
    home.nc("worker", "stop", check=True)
    home.nc("worker", "start", *flags, check=True)


def test_console_will_not_sign_with_an_unprotected_key(worker, logged_in):
    """A session (stolen or not) is no human: with a passphrase-less key the
    console refuses to sign unless the worker runs in development mode."""
    c = logged_in
    signer = c.get("/api/signer").json()
    assert signer["protection"] == "none" and signer["can_sign"] is False and signer["dev_mode"] is False
    assert "no passphrase" in signer["problem"]
    sub = worker.submit("hello", "stolen-session")
    prep = c.post("/api/submissions/%s/prepare" % sub["id"], {"max_runs": 3}).json()
    assert prep["signer"]["can_sign"] is False
    r = c.post("/api/submissions/%s/approve" % sub["id"], {"approval_id": prep["approval_id"]})
    assert r.status == 403 and r.json()["error"]["code"] == "human_required", r.body
    assert c.get("/api/approvals").json()["items"] == []
    rc, s2 = worker.ncj("inbox", "show", sub["id"])
    assert s2["status"] == "pending"


def test_approve_through_the_api(worker, logged_in):
    c = logged_in
    restart_worker(worker, "--insecure-dev")
    assert c.get("/api/signer").json()["dev_mode"] is True
    sub = worker.submit("hello", "hello-console")
    r = c.post("/api/submissions/%s/prepare" % sub["id"], {"max_runs": 3, "expires_in_s": 3600})
    assert r.status == 200, r.body
    prep = r.json()
    assert prep["summary"]["max_runs"] == 3 and prep["summary"]["approver"] == "tester@example.com"
    assert ["runs", "at most 3"] in prep["words"]
    r = c.post("/api/submissions/%s/approve" % sub["id"], {"approval_id": prep["approval_id"]})
    assert r.status == 200, (r.body, c.err())
    ap = r.json()
    assert ap["submission"] == sub["id"] and ap["max_runs"] == 3
    assert ap["id"] == prep["approval_id"]
    listed = c.get("/api/approvals").json()["items"]
    assert [a["id"] for a in listed] == [ap["id"]]
    assert c.get("/api/approvals/" + ap["id"]).json()["id"] == ap["id"]
    # it runs (through the CLI: the console cannot run anything)
    p = worker.nc("run", ap["id"])
    assert p.returncode == 0, p.stderr
    # only a statement this console prepared, for this submission, is signed:
    # a page cannot bring its own
    sub2 = worker.submit("compute", "other-module")
    prep2 = c.post("/api/submissions/%s/prepare" % sub2["id"], {}).json()
    r = c.post("/api/submissions/%s/approve" % sub["id"], {"approval_id": prep2["approval_id"]})
    assert r.status == 400 and r.json()["error"]["code"] == "invalid_request"
    r = c.post("/api/submissions/%s/approve" % sub2["id"], {"statement": prep2["statement"]})
    assert r.status == 400
    r = c.post("/api/submissions/%s/approve" % sub2["id"], {"approval_id": "0" * 64})
    assert r.status == 400
    # unknown fields, duplicate keys, non-objects
    r = c.post("/api/submissions/%s/prepare" % sub2["id"], {"max_runs": 3, "admin": True})
    assert r.status == 400
    r = c.post("/api/submissions/%s/prepare" % sub2["id"], b'{"max_runs": 3, "max_runs": 4}')
    assert r.status == 400
    r = c.post("/api/submissions/%s/prepare" % sub2["id"], b'[1]')
    assert r.status == 400
    r = c.post("/api/submissions/%s/prepare" % sub2["id"], {"max_runs": 1.5})
    assert r.status == 400
    # revoke
    r = c.post("/api/approvals/%s/revoke" % ap["id"])
    assert r.status == 200 and r.json()["revoked"] is True
    p = worker.nc("run", ap["id"])
    assert p.returncode == 3


def test_reject_reason_is_data(worker, logged_in):
    c = logged_in
    sub = worker.submit("hello", "xss-probe")
    reason = "<script>alert(1)</script>"
    r = c.post("/api/submissions/%s/reject" % sub["id"], {"reason": reason})
    assert r.status == 200, r.body
    assert r.headers["Content-Type"] == "application/json"
    assert r.json()["reason"] == reason
    got = c.get("/api/submissions/" + sub["id"])
    assert got.json()["reason"] == reason
    assert got.headers["Content-Type"] == "application/json"
    # approving a rejected submission: the worker's refusal, as 409 with its code
    r = c.post("/api/submissions/%s/prepare" % sub["id"], {})
    assert r.status in (400, 409), r.body
    assert "error" in r.json()


def read_sse_until(resp, etype, deadline):
    buf = b""
    cur = None
    while time.time() < deadline:
        line = resp.fp.readline()
        if not line:
            break
        buf += line
        line = line.decode().rstrip("\n")
        if line.startswith("event: "):
            cur = line[7:]
        elif line.startswith("data: ") and cur == etype:
            return json.loads(line[6:])
    raise AssertionError("no %s event; got %r" % (etype, buf[-2000:]))


def test_events_stream(worker, logged_in):
    c = logged_in
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=10)
    conn.request("GET", "/api/events", headers={"Host": c.host, "Cookie": c.cookie})
    r = conn.getresponse()
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/event-stream"
    assert r.headers["Content-Security-Policy"] == CSP
    # give the console's subscription a moment if it has just started
    time.sleep(0.5)
    sub = worker.submit("hello", "sse-probe")
    ev = read_sse_until(r, "submission.created", time.time() + 8)
    assert ev["submission"]["id"] == sub["id"]
    conn.close()


def test_events_needs_session(console):
    assert console.get("/api/events", cookie=False).status == 401


def test_audit_and_dashboard(worker, logged_in):
    c = logged_in
    sub = worker.submit("hello", "audited")
    worker.approve(sub["id"])
    assert worker.nc("run", "audited").returncode == 0
    a = c.get("/api/audit").json()
    assert a["ok"] is True and a["entries"] > 0 and a["error"] is None, a
    assert a["checkpoint"] is None or a["checkpoint"]["note"].startswith("nightcore/")
    d = c.get("/api/dashboard")
    assert d.status == 200, d.body
    d = d.json()
    assert d["audit"]["ok"] is True
    assert len(d["score_histogram"]) == 10 and len(d["runs_by_hour"]) == 24
    assert d["runs_today"].get("ok", 0) >= 1
    assert isinstance(d["alerts"], list) and isinstance(d["pending"], int)
    r = c.get("/api/audit/export?format=jsonl")
    assert r.status == 200, r.body
    assert "attachment" in r.headers["Content-Disposition"]
    lines = r.body.decode().strip().split("\n")
    assert json.loads(lines[-1])["verify"]["ok"] is True
    r = c.get("/api/audit/export?format=html")
    assert r.status == 200 and b"<html" in r.body
    assert c.get("/api/audit/export?format=pdf").status == 400


def test_big_body_refused(worker, logged_in):
    c = logged_in
    sub = worker.submit("hello", "big-body")
    r = c.post("/api/submissions/%s/reject" % sub["id"], {"reason": "x" * (70 * 1024)})
    assert r.status == 413, r.status
    assert_security_headers(r)
    assert c.get("/api/submissions/" + sub["id"]).json()["status"] == "pending"


def test_worker_stopped(worker, logged_in):
    c = logged_in
    assert c.get("/api/status").status == 200
    worker.nc("worker", "stop", check=True, timeout=30)
    r = c.get("/api/status")
    assert r.status == 502
    assert r.json()["error"]["code"] == "worker_not_running"
    assert "worker start" in r.json()["error"]["message"]
    assert c.get("/api/dashboard").status == 502
    # the console itself keeps answering
    assert c.get("/api/session").status == 200


def passphrase_home(home, tmp_path):
    key = str(tmp_path / "k")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-C", "p@x", "-f", key], check=True,
                   stdin=subprocess.DEVNULL, timeout=30)
    # adding a key is signed by a trusted admin key (the home's own, here)
    home.nc("trust", "add", key + ".pub", "--principal", "p@x", "--yes", check=True)
    return key


def test_approve_with_passphrase(worker, tmp_path):
    key = passphrase_home(worker, tmp_path)
    c = Console(worker, "--key", key, "--principal", "p@x")
    try:
        c.login()
        sub = worker.submit("hello", "with-passphrase")
        prep = c.post("/api/submissions/%s/prepare" % sub["id"], {}).json()
        assert "statement" in prep, prep
        assert prep["signer"]["protection"] == "passphrase" and prep["signer"]["needs_passphrase"] is True
        aid = prep["approval_id"]
        # no passphrase: refused before ssh-keygen runs (a session alone is not a human)
        r = c.post("/api/submissions/%s/approve" % sub["id"], {"approval_id": aid})
        assert r.status == 403 and r.json()["error"]["code"] == "human_required", r.body
        # a wrong one: refused, promptly (ssh-keygen never waits for a terminal)
        t0 = time.time()
        r = c.post("/api/submissions/%s/approve" % sub["id"], {"approval_id": aid, "passphrase": "wrong"}, timeout=30)
        assert r.status == 409, r.body
        assert r.json()["error"]["code"] == "signing_failed"
        assert time.time() - t0 < 20
        assert c.get("/api/approvals").json()["items"] == []
        # a passphrase with a newline is refused before anything runs
        r = c.post("/api/submissions/%s/approve" % sub["id"], {"approval_id": aid, "passphrase": "secret\nmore"})
        assert r.status == 400
        r = c.post("/api/submissions/%s/approve" % sub["id"], {"approval_id": aid, "passphrase": "secret"})
        assert r.status == 200, (r.body, c.err())
        assert r.json()["approver"] == "p@x"
        # never logged
        assert "secret" not in c.err() and "wrong" not in c.err()
    finally:
        c.stop()


def test_approve_with_passphrase_from_config(worker, tmp_path):
    key = passphrase_home(worker, tmp_path)
    cfg_path = os.path.join(worker.path, "config.json")
    with open(cfg_path, "w") as f:
        json.dump({"approver_key": key, "principal": "p@x"}, f)
    c = Console(worker)
    try:
        c.login()
        sub = worker.submit("hello", "cfg-passphrase")
        prep = c.post("/api/submissions/%s/prepare" % sub["id"], {}).json()
        r = c.post("/api/submissions/%s/approve" % sub["id"], {"approval_id": prep["approval_id"], "passphrase": "secret"})
        assert r.status == 200, (r.body, c.err())
    finally:
        c.stop()


def test_stops_with_an_open_event_stream(worker):
    c = Console(worker)
    c.login()
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=10)
    conn.request("GET", "/api/events", headers={"Host": c.host, "Cookie": c.cookie})
    r = conn.getresponse()
    assert r.status == 200
    t0 = time.time()
    c.p.terminate()
    assert c.p.wait(10) == 0
    assert time.time() - t0 < 8
    conn.close()
    c.stop()


def test_event_stream_limit(logged_in):
    c = logged_in
    conns = []
    try:
        for _ in range(8):
            conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=10)
            conn.request("GET", "/api/events", headers={"Host": c.host, "Cookie": c.cookie})
            assert conn.getresponse().status == 200
            conns.append(conn)
        r = c.get("/api/events")
        assert r.status == 503
        assert_security_headers(r)
        # the rest of the API still answers
        assert c.get("/api/status").status == 200
    finally:
        for conn in conns:
            conn.close()


def test_holds_up_with_10000_runs_and_1000_pending(worker):
    """The console's pages ask for one page at a time; with a large history
    every request it makes stays fast. The history is seeded straight into the
    database (worker stopped): runs and submissions are plain rows."""
    import sqlite3
    import time as _time
    sub = worker.submit("hello", "hello")
    worker.approve(sub["id"], "--max-runs", "20000")
    rc, run = worker.ncj("run", "hello")
    assert rc == 0
    worker.nc("worker", "stop", check=True)
    db = sqlite3.connect(os.path.join(worker.path, "state", "nightcore.db"))
    base = db.execute("SELECT result FROM runs WHERE id=?", (run["id"],)).fetchone()[0]
    rows = []
    for i in range(10000):
        r = json.loads(base)
        r["id"] = f"r_seed{i:012d}"
        r["outcome"] = ("ok", "trap", "timeout", "exit")[i % 4]
        rows.append((r["id"], run["approval_id"], "hello", run["sha256"], "operator", "finished", r["outcome"],
                     1795000000 + i, 1795000000 + i, 1, 5, json.dumps(r), None))
    db.executemany("INSERT INTO runs(id, approval_id, name, sha256, invoker, status, outcome, started_at, finished_at,"
                   " duration_ms, score, result, audit_seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.executemany("INSERT INTO submissions(id, name, sha256, size, source, status, created_at, description,"
                   " requested, reason, drift_state, previous_sha256, drift_changes, analysis, threat)"
                   " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   [(f"s_seed{i:012d}", f"seed{i}", "0" * 64, 1, "agent:seed", "pending", 1795000000 + i, "",
                     "{}", None, "new", None, "null", "{}", '{"score":3,"factors":[]}') for i in range(1000)])
    db.commit()
    db.close()
    worker.nc("worker", "start", check=True)
    c = Console(worker)
    try:
        c.login()
        for path in ("/api/dashboard", "/api/runs?limit=50", "/api/runs?limit=50&offset=9950",
                     "/api/inbox?limit=50", "/api/inbox?limit=50&offset=950", "/api/approvals?limit=50"):
            t0 = _time.time()
            r = c.get(path)
            took = _time.time() - t0
            assert r.status == 200, (path, r.status, r.body[:200])
            assert took < 2.0, (path, took)
        runs = c.get("/api/runs?limit=50&offset=9950").json()
        assert runs["total"] == 10001 and len(runs["items"]) == 50
        inbox = c.get("/api/inbox?limit=50").json()
        assert inbox["total"] == 1000 and len(inbox["items"]) == 50
    finally:
        c.stop()


def test_console_grants_what_was_asked_within_a_policy(worker, logged_in, tmp_path):
    c = logged_in
    restart_worker(worker, "--insecure-dev")
    data = tmp_path / "data"
    data.mkdir()
    pol = tmp_path / "p.json"
    pol.write_text(json.dumps({"name": "data-ro", "capabilities": {
        "args": True, "env": {"MODE": None}, "dirs": [{"host": str(data), "guest": "/data", "mode": "ro"}]}}))
    assert worker.nc("policy", "add", str(pol), "--yes").returncode == 0
    man = tmp_path / "m.json"
    man.write_text(json.dumps({"capabilities": {"env": {"MODE": "fast"},
                                                "dirs": [{"host": str(data), "guest": "/data", "mode": "ro"}]}}))
    rc, sub = worker.ncj("submit", fixture("hello"), "--name", "asks", "--manifest", str(man))
    assert rc == 0, sub
    shown = c.get("/api/submissions/" + sub["id"]).json()
    assert [g["policy"] for g in shown["grantable"] if g["allows_request"]] == ["data-ro"]
    body = {"policy": "data-ro", "grants": {"dirs": [{"host": str(data), "guest": "/data", "mode": "ro"}],
                                            "env": {"MODE": "fast"}, "stdin": False}}
    prep = c.post("/api/submissions/%s/prepare" % sub["id"], body).json()
    assert "statement" in prep, prep
    assert any(w[0] == "directory" and str(data) in w[1] for w in prep["words"])
    r = c.post("/api/submissions/%s/approve" % sub["id"], {"approval_id": prep["approval_id"]})
    assert r.status == 200, (r.body, c.err())
    caps = r.json()["capabilities"]
    assert caps["env"] == {"MODE": "fast"} and caps["stdin"] is False and caps["dirs"][0]["host"] == str(data)
    # a grant outside the policy is refused before anything is signed
    body["grants"]["dirs"][0]["host"] = str(tmp_path)
    r = c.post("/api/submissions/%s/prepare" % sub["id"], body)
    assert r.status == 409 and r.json()["error"]["code"] == "capability_denied"
    r = c.post("/api/submissions/%s/prepare" % sub["id"], {"grants": {"dirs": "nope"}})
    assert r.status == 400
