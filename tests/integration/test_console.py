"""nightcore-console over HTTP (docs/console.md): one-time links and per-tab
sessions (no cookie), the console's control socket and `nightcore-console
link`, the Host and Origin checks, the security headers (also on oversized
requests), slow clients, the API proxied to the worker, approving with the
operator's key (with and without a passphrase), the event stream, the audit
view, body caps, the worker being down, and what the binary links."""
import http.client
import json
import os
import re
import select
import shutil
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, ROOT, fixture

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
        self.secret = None

    def err(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def request(self, method, path, body=None, headers=None, host=None, auth=True, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Host": host or self.host}
        if auth and self.secret:
            h["Authorization"] = "Bearer " + self.secret
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return Resp(r, data)

    def exchange(self, token, origin=True, **kw):
        """POST /api/session {token}: what the page does with the token of its link."""
        h = {"Content-Type": "application/json"}
        if origin:
            h["Origin"] = self.origin if origin is True else origin
        body = token if isinstance(token, bytes) else json.dumps({"token": token}).encode()
        return self.request("POST", "/api/session", body=body, headers=h, auth=False, **kw)

    def login(self, token=None):
        r = self.exchange(token or self.token)
        assert r.status == 200, (r.status, r.body)
        assert "Set-Cookie" not in r.headers
        self.secret = r.json()["session"]
        assert re.fullmatch(r"[0-9a-f]{64}", self.secret)
        s = self.get("/api/session")
        assert s.status == 200, s.body
        return r

    def link(self):
        """A new one-time link from `nightcore-console link`: its token."""
        p = subprocess.run([CONSOLE, "link", "--home", self.home.path], capture_output=True, env=self.home.env,
                           timeout=20)
        assert p.returncode == 0, p.stderr
        m = re.fullmatch(r"Console: http://127\.0\.0\.1:(\d+)/\?token=([0-9a-f]{64})\n", p.stdout.decode())
        assert m and int(m.group(1)) == self.port, p.stdout
        return m.group(2)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, obj=None, origin=True, headers=None, **kw):
        h = {"Content-Type": "application/json"}
        if origin:
            h["Origin"] = self.origin if origin is True else origin
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
    # the page holds no secret: it is served to anyone who passes the Host check
    for path in ("/", "/app.js", "/?token=" + "0" * 64):
        r = console.get(path, auth=False)
        assert r.status == 200, (path, r.status)
        assert_security_headers(r)
        assert "Set-Cookie" not in r.headers
    # nothing of the API without a session
    for path in ("/api/status", "/api/session", "/api/events", "/api/signer"):
        r = console.get(path, auth=False)
        assert r.status == 401, (path, r.status)
        assert_security_headers(r)
        assert "nightcore-console link" in r.json()["error"]["message"]
    # a wrong token, or one of the wrong length or shape
    for tok in ("0" * 64, console.token[:-1], console.token + "0", "", console.token.upper(), 5, None):
        r = console.exchange(tok)
        assert r.status in (400, 401), (tok, r.status)
        assert_security_headers(r)
        assert "Set-Cookie" not in r.headers and "session" not in r.json()
    # malformed exchange bodies
    for body in (b"", b"{", b"[]", b'{"token": "%s", "x": 1}' % console.token.encode(),
                 b'{"token": "%s", "token": "%s"}' % (console.token.encode(), console.token.encode())):
        r = console.exchange(body)
        assert r.status == 400, (body, r.status, r.body)
    # the exchange needs the console's own Origin
    for origin in (False, "http://evil.example", "null", "http://127.0.0.1:%d" % (console.port + 1)):
        r = console.exchange(console.token, origin=origin)
        assert r.status == 403, (origin, r.status)
    console.login()
    r = console.get("/api/status")
    assert r.status == 200, r.body
    assert r.json()["worker_id"].startswith("w_")
    assert_security_headers(r)
    s = console.get("/api/session").json()
    assert set(s) >= {"worker_id", "version", "home"} and "csrf" not in s and "session" not in s
    assert s["home"] == console.home.path


def test_link_is_single_use(console):
    """#13: the start-up token was reusable for ever. A link is exchanged once, then dead."""
    console.login()
    first = console.secret
    r = console.exchange(console.token)
    assert r.status == 401 and r.json()["error"]["code"] == "link_used_or_expired", r.body
    assert "nightcore-console link" in r.json()["error"]["message"]
    # the session it gave still works; the token is not a session secret
    assert console.get("/api/status").status == 200
    assert console.get("/api/status", auth=False, headers={"Authorization": "Bearer " + console.token}).status == 401
    # a fresh link from the console's control socket: once, and another session
    tok = console.link()
    assert tok != console.token
    console.login(tok)
    assert console.secret != first
    assert console.exchange(tok).status == 401
    # both sessions live side by side (one per tab)
    assert console.get("/api/status", auth=False, headers={"Authorization": "Bearer " + first}).status == 200


def test_link_expires_unused(worker):
    c = Console(worker, "--link-ttl", "2")
    try:
        tok = c.link()
        time.sleep(3.2)
        for t in (c.token, tok):
            r = c.exchange(t)
            assert r.status == 401 and r.json()["error"]["code"] == "link_used_or_expired", r.body
        c.login(c.link())   # a new one works
    finally:
        c.stop()
    for bad in ("0", "601", "-1", "x"):
        p = subprocess.run([CONSOLE, "--home", worker.path, "--listen", "127.0.0.1:0", "--link-ttl", bad],
                           capture_output=True, timeout=10)
        assert p.returncode == 2, bad


ALL_API = [("GET", "/api/session"), ("GET", "/api/status"), ("GET", "/api/signer"), ("GET", "/api/inbox"),
           ("GET", "/api/dashboard"), ("GET", "/api/events"), ("GET", "/api/audit/export?format=jsonl"),
           ("POST", "/api/submissions/%s/prepare"), ("POST", "/api/submissions/%s/approve"),
           ("POST", "/api/submissions/%s/reject")]


def test_a_cookie_is_never_a_credential(worker, logged_in):
    """#13, attack 1: cookies are not scoped by port, so whatever the browser sends on its own reaches
    a page another local user serves on another port of 127.0.0.1. With the old nc_session cookie,
    GET /api/session handed out the CSRF token and prepare + approve signed. Now no response ever sets
    a cookie, and a cookie (even one holding the session secret) opens nothing; only the per-tab
    secret in the Authorization header does, and no response a cookie can reach returns a secret."""
    c = logged_in
    restart_worker(worker, "--insecure-dev")
    sub = worker.submit("hello", "stolen-cookie")
    seen_headers = []
    for cookie in ("nc_session=" + c.secret, "nc_session=" + c.token, "session=" + c.secret):
        for method, path in ALL_API:
            path = path % sub["id"] if "%s" in path else path
            h = {"Cookie": cookie}
            if method == "POST":
                r = c.post(path, {"max_runs": 1}, headers=h, auth=False)
            else:
                r = c.get(path, headers=h, auth=False)
            seen_headers.append(r.headers)
            assert r.status == 401, (cookie, method, path, r.status, r.body[:200])
            assert c.secret.encode() not in r.body and b"csrf" not in r.body
    # the session secret must come in the Authorization header, exactly "Bearer <64 hex>"
    for auth in (c.secret, "bearer " + c.secret, "Bearer  " + c.secret, "Bearer " + c.secret.upper(),
                 "Bearer " + c.secret + "0", "Bearer " + c.secret[:-1], "Basic " + c.secret, "Bearer ",
                 "Bearer " + "g" * 64, "Bearer " + c.secret + " "):
        r = c.get("/api/status", auth=False, headers={"Authorization": auth})
        assert r.status == 401, (auth, r.status)
    # no query-string credential either
    assert c.get("/api/status?session=" + c.secret, auth=False).status == 401
    # nothing was prepared or approved by any of that; with the header it works
    assert c.get("/api/approvals").json()["items"] == []
    assert c.get("/api/submissions/" + sub["id"]).json()["status"] == "pending"
    for r in [c.get("/"), c.get("/api/status"), c.exchange(c.link())] :
        seen_headers.append(r.headers)
    assert not [h for h in seen_headers if "Set-Cookie" in h]


def test_host_header_checked(logged_in):
    c = logged_in
    for host in ("evil.example:%d" % c.port, "127.0.0.1", "127.0.0.1:1", "localhost", "attacker.localhost:%d" % c.port):
        r = c.get("/api/status", host=host)
        assert r.status == 421, host
        assert_security_headers(r)
    # the token exchange and the page too
    r = c.exchange(c.link(), host="rebind.example:%d" % c.port)
    assert r.status == 421
    assert c.get("/", host="rebind.example:%d" % c.port, auth=False).status == 421
    assert c.get("/api/status", host="localhost:%d" % c.port).status == 200


def test_post_needs_origin_and_session(worker, logged_in):
    c = logged_in
    sub = worker.submit("hello", "origin-probe")
    path = "/api/submissions/%s/reject" % sub["id"]
    body = {"reason": "no"}
    for kw in ({"origin": False}, {"origin": "http://evil.example"}, {"origin": "null"},
               {"origin": "http://127.0.0.1:%d" % (c.port + 1)}):
        r = c.post(path, body, **kw)
        assert r.status == 403, (kw, r.status, r.body)
        assert_security_headers(r)
    # no session at all: 401 first
    r = c.post(path, body, auth=False)
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


def test_huge_header_gets_security_headers(logged_in):
    """#13, item 5: an oversized request head used to get libmicrohttpd's own 431, without the CSP,
    X-Frame-Options, nosniff, no-referrer and no-store headers. Heads up to the connection's memory
    (128 KiB) now reach the console, which answers 431 itself, with them."""
    c = logged_in
    for size in (70 * 1024, 100 * 1024):
        for headers in ({"X-Big": "a" * size}, {"X-H%d" % i: "b" * 1000 for i in range(size // 1010)}):
            r = c.get("/api/status", headers=headers)
            assert r.status == 431, (size, r.status)
            assert_security_headers(r)
            assert r.json()["error"]["code"] == "too_large"
        r = c.get("/?" + "q=" + "c" * size)
        assert r.status == 431, r.status
        assert_security_headers(r)
    # heads under the cap are served as usual
    assert c.get("/api/status", headers={"X-Big": "a" * 30000}).status == 200


def raw_http(port, data, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out


def test_malformed_requests(logged_in):
    """What the console's own parser layer sees first: requests libmicrohttpd passes on get our
    answers (and our headers); the ones it refuses itself never reach a route."""
    c = logged_in
    host = c.host.encode()
    # no Host at all (HTTP/1.0 allows it): refused by the Host check
    out = raw_http(c.port, b"GET /api/status HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 421") and b"Content-Security-Policy" in out, out[:200]
    # a method we do not serve
    out = raw_http(c.port, b"PUT /api/status HTTP/1.1\r\nHost: " + host + b"\r\nContent-Length: 0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 405") and b"X-Frame-Options: DENY" in out, out[:200]
    # a declared body over the cap is refused on its head, before any of it is read
    out = raw_http(c.port, b"POST /api/submissions/x/reject HTTP/1.1\r\nHost: " + host + b"\r\nOrigin: " +
                   c.origin.encode() + b"\r\nAuthorization: Bearer " + c.secret.encode() +
                   b"\r\nContent-Length: 99999999\r\n\r\n{")
    assert out.startswith(b"HTTP/1.1 413") and b"Content-Security-Policy" in out, out[:200]
    out = raw_http(c.port, b"POST /api/session HTTP/1.1\r\nHost: " + host + b"\r\nOrigin: " + c.origin.encode() +
                   b"\r\nContent-Length: -1\r\n\r\n")
    assert b"Set-Cookie" not in out and b'"session"' not in out
    # garbage is closed on; the console goes on
    raw_http(c.port, b"\x00\x01GARBAGE\r\n\r\n", timeout=3)
    assert c.get("/api/status").status == 200


def test_slow_clients_do_not_lock_the_operator_out(logged_in):
    """#13, item 4 (slowloris): 40 half-open connections from another local user used to lock the
    operator out (32 connections, a thread each, 120 s timeout). Now 300 connections that send part
    of a request line and then trickle a byte every 2 s are all held open, and the operator's API
    calls are answered promptly all along."""
    c = logged_in
    slow = []
    try:
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", c.port), timeout=5)
            s.sendall(b"GET /api/status HTTP/1.1\r\nHost: ")
            slow.append(s)
        took = []
        last = time.time()
        end = time.time() + 14
        while time.time() < end:
            if time.time() - last >= 2:
                for s in slow:
                    s.send(b"1")
                last = time.time()
            t0 = time.time()
            r = c.get("/api/status", timeout=10)
            took.append(time.time() - t0)
            assert r.status == 200, r.status
            time.sleep(0.3)
        took.sort()
        print("slow clients: %d api calls, median %.1f ms, max %.1f ms" % (len(took), took[len(took) // 2] * 1000,
                                                                          took[-1] * 1000))
        assert took[-1] < 1.0, took[-5:]
        # the slow ones were really held, not dropped
        alive = 0
        for s in slow:
            s.setblocking(False)
            try:
                alive += s.recv(1) != b""
            except BlockingIOError:
                alive += 1
        assert alive >= 295, alive
    finally:
        for s in slow:
            s.close()
    # a connection that sends nothing is closed after the idle timeout
    s = socket.create_connection(("127.0.0.1", c.port), timeout=20)
    s.sendall(b"GET / HTTP/1.1\r\n")
    t0 = time.time()
    assert s.recv(100) == b""
    assert 5 < time.time() - t0 < 15, time.time() - t0
    s.close()


def ctl_path(home):
    return os.path.join(home.path, "run", "console.sock")


def ctl_raw(home, data, wait=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(wait)
    s.connect(ctl_path(home))
    if data:
        s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        out += b"<timeout>"
    except ConnectionResetError:   # closed on with our bytes unread
        pass
    s.close()
    return out


def test_control_socket(worker, console):
    """#13, item 2: a new one-time link comes from the console's control socket (mode 0600, its own
    user only), never from a file or a log."""
    path = ctl_path(worker)
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    out = ctl_raw(worker, b'{"id":7,"op":"link"}\n')
    ans = json.loads(out)
    assert ans["id"] == 7 and ans["ok"] is True and ans["result"]["expires_in_s"] == 600, ans
    m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/\?token=([0-9a-f]{64})", ans["result"]["url"])
    assert m and int(m.group(1)) == console.port
    console.login(m.group(2))
    # negative: every malformed request gets an error (or nothing) and mints no link
    for bad in (b"not json\n", b"[1]\n", b'{"id":1}\n', b'{"op":"link"}\n', b'{"id":1,"op":"link","x":1}\n',
                b'{"id":-1,"op":"link"}\n', b'{"id":1.5,"op":"link"}\n', b'{"id":1,"op":"status"}\n',
                b'{"id":1,"op":"link","op":"link"}\n', b'{"id":1,"op":"link"}\n{"id":2,"op":"link"}\n',
                b'{"id":1,"op":"link"}', b"x" * 5000 + b"\n", rb'{"id":1,"op":"li\u0000nk"}' + b"\n"):
        out = ctl_raw(worker, bad)
        assert b"token=" not in out, (bad, out)
        if out and out != b"<timeout>":
            assert json.loads(out)["ok"] is False, (bad, out)
    # a client that sends nothing is closed on within the 2 s allowed, and the socket keeps serving
    t0 = time.time()
    assert b"token=" not in ctl_raw(worker, b"", wait=5)
    assert time.time() - t0 < 4
    assert json.loads(ctl_raw(worker, b'{"id":1,"op":"link"}\n'))["ok"] is True
    # the links it made went to no log
    for tok in re.findall(r"token=([0-9a-f]{64})", console.err()):
        raise AssertionError("a token in the console's stderr: " + tok)
    assert "token=" not in console.err()


@pytest.mark.skipif(os.geteuid() != 0, reason="connects as another user: needs root")
def test_control_socket_refuses_other_users(worker, console):
    """SO_PEERCRED: even when the socket's mode would let another user connect (here: opened up on
    purpose), a peer of another uid is closed on without an answer."""
    path = ctl_path(worker)
    for d in (worker.path, os.path.join(worker.path, "run")):
        os.chmod(d, 0o711)
    os.chmod(path, 0o666)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(path)   # the mode lets it connect; the console closes on it at once
            got = b""
            try:
                s.sendall(b'{"id":1,"op":"link"}\n')
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except (BrokenPipeError, ConnectionResetError):
                pass
            os.write(w, b"answer:" + got)
        except Exception as e:   # noqa: BLE001 - reported to the parent
            os.write(w, b"error:" + repr(e).encode())
        finally:
            os._exit(0)
    os.close(w)
    got = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        got += chunk
    os.waitpid(pid, 0)
    assert got.startswith(b"answer:") and b"token" not in got, got
    assert got == b"answer:", got
    assert "refused a control connection from uid 65534" in console.err()


def test_link_without_a_console(worker, tmp_path):
    p = subprocess.run([CONSOLE, "link", "--home", worker.path], capture_output=True, env=worker.env, timeout=10)
    assert p.returncode == 1 and p.stdout == b""
    assert b"no console is running" in p.stderr, p.stderr
    p = subprocess.run([CONSOLE, "link", "--bogus"], capture_output=True, env=worker.env, timeout=10)
    assert p.returncode == 2
    # one console per home: a second one says where the first is
    c = Console(worker)
    try:
        p = subprocess.run([CONSOLE, "--home", worker.path, "--listen", "127.0.0.1:0"], capture_output=True,
                           env=worker.env, timeout=10)
        assert p.returncode == 1 and p.stdout == b"" and b"nightcore-console link" in p.stderr, p.stderr
    finally:
        c.stop()
    # it removes its socket when it stops; a stale socket file does not stop the next one
    assert not os.path.exists(ctl_path(worker))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(ctl_path(worker))
    s.close()
    c = Console(worker)
    c.login(c.link())
    c.stop()


def test_make_run_prints_fresh_links_and_writes_none(home):
    """#13, item 2: scripts/run (`make run`) used to send the console's stdout, and with it the token,
    to logs/console.log and write it to run/console.url. Now it prints a fresh one-time link each
    time (a second `make run` with the console running prints another) and no token is in any file."""
    env = dict(home.env, NIGHTCORE_HOME=home.path)
    runs = []
    try:
        for _ in range(2):
            p = subprocess.run([os.path.join(ROOT, "scripts", "run")], capture_output=True, env=env, timeout=120,
                               stdin=subprocess.DEVNULL)
            assert p.returncode == 0, (p.stdout, p.stderr)
            m = re.search(r"^Console: http://127\.0\.0\.1:(\d+)/\?token=([0-9a-f]{64})$", p.stdout.decode(), re.M)
            assert m, p.stdout
            runs.append((int(m.group(1)), m.group(2)))
        assert runs[0][0] == runs[1][0] and runs[0][1] != runs[1][1]
        assert not os.path.exists(os.path.join(home.path, "run", "console.url"))
        for d, _, files in os.walk(home.path):
            for f in files:
                fp = os.path.join(d, f)
                if stat.S_ISREG(os.lstat(fp).st_mode):
                    data = open(fp, "rb").read()
                    for _, tok in runs:
                        assert tok.encode() not in data, fp
        # both links work, once each
        port = runs[0][0]
        for _, tok in runs:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            h = {"Host": "127.0.0.1:%d" % port, "Origin": "http://127.0.0.1:%d" % port}
            conn.request("POST", "/api/session", body=json.dumps({"token": tok}), headers=h)
            assert conn.getresponse().status == 200
            conn.close()
    finally:
        pidfile = os.path.join(home.path, "run", "console.pid")
        if os.path.exists(pidfile):
            pid = int(open(pidfile).read())
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass


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
    conn.request("GET", "/api/events", headers={"Host": c.host, "Authorization": "Bearer " + c.secret})
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
    assert console.get("/api/events", auth=False).status == 401


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
    conn.request("GET", "/api/events", headers={"Host": c.host, "Authorization": "Bearer " + c.secret})
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
            conn.request("GET", "/api/events", headers={"Host": c.host, "Authorization": "Bearer " + c.secret})
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
