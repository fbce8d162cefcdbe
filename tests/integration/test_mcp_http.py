"""nightcore-mcp over MCP Streamable HTTP (--http, --http-socket; docs/agents.md "Streamable HTTP")
with a real worker: the official Python SDK (streamable_http_client, also through the Unix socket)
and TypeScript SDK (StreamableHTTPClientTransport) connect, list and call tools, get progress and
cancel a run; raw requests check the refusals: no or a bad bearer (401), a wrong Origin or Host
(403), a session used with another token (403), an oversized body (413), an unknown session (404),
the other head checks, sessions capped and expired, and slow clients that do not lock others out."""
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, ROOT, fixture, wait_for

MCP = os.path.join(BIN, "nightcore-mcp")
E2E = os.path.join(ROOT, "tests", "e2e")
PYTHON = os.path.join(E2E, ".venv", "bin", "python")
PY_CLIENT = os.path.join(E2E, "mcp_client.py")
TS_CLIENT = os.path.join(E2E, "mcp_client.mjs")
TS_SDK = os.path.join(E2E, "node_modules", "@modelcontextprotocol", "sdk")
CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}


def python_sdk_missing():
    if os.path.exists(os.path.join(E2E, ".venv-unavailable")):
        with open(os.path.join(E2E, ".venv-unavailable")) as f:
            return f.read().strip()
    return None if os.path.exists(PYTHON) else "tests/e2e/.venv is missing: run scripts/py-test-deps (make test does)"


def ts_sdk_missing():
    if shutil.which("node") is None:
        return "node is not installed: the TypeScript SDK test needs Node.js 20+"
    return None if os.path.isdir(TS_SDK) else "tests/e2e/node_modules is missing: run scripts/npm-test-deps"


needs_python_sdk = pytest.mark.skipif(python_sdk_missing() is not None, reason=python_sdk_missing() or "")
needs_ts_sdk = pytest.mark.skipif(ts_sdk_missing() is not None, reason=ts_sdk_missing() or "")


class Resp:
    def __init__(self, r, body):
        self.status = r.status
        self.headers = r.headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def messages(self):
        """The JSON-RPC messages of the answer: its JSON, or its event stream's data lines."""
        if self.headers.get("Content-Type", "").startswith("text/event-stream"):
            return [json.loads(line[6:]) for line in self.body.decode().split("\n") if line.startswith("data: ")]
        return [self.json()]


class HttpMcp:
    """nightcore-mcp --http on a free port of 127.0.0.1 (and on a Unix socket with socket_path)."""

    def __init__(self, home, *extra, socket_path=None, agent="claude"):
        self.home = home
        args = [MCP, "--agent", agent, "--home", home.path, "--http", "127.0.0.1:0", *extra]
        if socket_path:
            args += ["--http-socket", socket_path]
        self.stderr = tempfile.TemporaryFile()
        self.out = b""
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL,
                                  env=home.env)
        line = self.readline()
        m = re.fullmatch(r"MCP endpoint: http://127\.0\.0\.1:(\d+)/mcp\n", line)
        assert m, (line, self.err())
        self.port = int(m.group(1))
        self.host = "127.0.0.1:%d" % self.port
        self.origin = "http://" + self.host
        self.url = "http://%s/mcp" % self.host
        if socket_path:
            assert self.readline() == "MCP endpoint: http://localhost/mcp on unix:%s\n" % socket_path

    def readline(self):
        """One line of stdout, read by hand (a buffered reader would hide the next one from select)."""
        while b"\n" not in self.out:
            r, _, _ = select.select([self.p.stdout], [], [], 30)
            assert r, "nightcore-mcp printed no endpoint; stderr: " + self.err()
            chunk = os.read(self.p.stdout.fileno(), 4096)
            assert chunk, "nightcore-mcp ended: " + self.err()
            self.out += chunk
        line, self.out = self.out.split(b"\n", 1)
        return line.decode() + "\n"

    def err(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def request(self, method="POST", body=None, token=None, sid=None, headers=None, host=None, path="/mcp",
                timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Host": host or self.host, "Accept": "application/json, text/event-stream"}
        if token:
            h["Authorization"] = "Bearer " + token
        if sid:
            h["Mcp-Session-Id"] = sid
        if body is not None:
            h["Content-Type"] = "application/json"
            if not isinstance(body, bytes):
                body = json.dumps(body).encode()
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return Resp(r, data)

    def initialize(self, token):
        r = self.request(body=INIT, token=token)
        assert r.status == 200, (r.status, r.body)
        sid = r.headers["Mcp-Session-Id"]
        assert re.fullmatch(r"[0-9a-f]{64}", sid)
        r = self.request(body={"jsonrpc": "2.0", "method": "notifications/initialized"}, token=token, sid=sid)
        assert r.status == 202, (r.status, r.body)
        return sid

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p.stdout.close()
        return self.p.returncode


def assert_security_headers(r):
    assert r.headers.get("Content-Security-Policy") == CSP, dict(r.headers)
    assert r.headers.get("X-Frame-Options") == "DENY"
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    assert r.headers.get("Referrer-Policy") == "no-referrer"
    assert r.headers.get("Cache-Control") == "no-store"
    assert "Set-Cookie" not in r.headers


def add_agent(home, name="claude"):
    rc, out = home.ncj("agent", "add", name)
    assert rc == 0, out
    return out["token"]


@pytest.fixture
def served(worker):
    token = add_agent(worker)
    m = HttpMcp(worker)
    yield m, token
    assert m.stop() == 0, m.err()


# ---- the official SDKs over HTTP ----


def python_client(home, token, mode, url, *extra):
    return subprocess.Popen([PYTHON, PY_CLIENT, mode, "--bin", BIN, "--home", home.path, "--agent", "claude",
                             "--fixtures", os.environ.get("NC_FIXTURES", os.path.dirname(fixture("hello"))),
                             "--url", url, *extra],
                            env={**os.environ, "NIGHTCORE_AGENT_TOKEN": token}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def python_finish(p):
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err.decode()[-4000:]
    done = json.loads(out.decode().splitlines()[-1])
    assert done["step"] == "done"
    return done["summary"]


@needs_python_sdk
def test_python_sdk_story_over_http(worker):
    token = add_agent(worker)
    m = HttpMcp(worker)
    try:
        p = python_client(worker, token, "story", m.url)
        submitted = json.loads(p.stdout.readline())
        assert submitted["step"] == "submitted", p.stderr.read().decode()[-4000:]
        assert "nightcore approve %s --allow-agent claude" % submitted["id"] in submitted["message"]
        worker.approve(submitted["id"], "--allow-agent", "claude", "--grant-requested", "--max-runs", "2")
        s = python_finish(p)
    finally:
        rc = m.stop()
    assert rc == 0, m.err()
    err = m.err()
    assert s["protocol_version"] == "2025-11-25" and s["server"] == "nightcore-mcp"
    assert "server/discover for protocol 2026-07-28: declined" in err   # probed over HTTP too, then initialize
    assert s["capabilities"]["tools"]["listChanged"] is True
    assert {"submit_module", "wait_for_submission", "start_run", "cancel_run", "get_run"} <= set(s["tools"])
    assert s["bad_cursor"] == -32602
    assert s["submitted"] == {"isError": False, "state": "pending", "has_analysis": True}
    assert s["waited"] == {"timed_out": False, "state": "approved_for_you"}
    # the approval became a tool: tools/list_changed came on the session's GET stream
    assert s["greet_tool"]["properties"] == ["args"]
    assert s["tool_run"]["isError"] is False and s["tool_run"]["stdout"].startswith("greet\nhello\nfrom\npython\n")
    assert any("started" in msg for msg in s["second_run"]["progress"]), s["second_run"]["progress"]
    assert "greet" not in s["tools_after_used_up"]
    assert s["third_run"]["isError"] is True and s["third_run"]["error"]["code"] == "max_runs_exceeded"
    assert s["resource_state"] == "used_up"
    assert s["events"]["tools/list_changed"] >= 2
    assert "nightcore://submissions/" + submitted["id"] in s["events"]["resources/updated"]
    # one session, a 256-bit id, ended with DELETE when the client closed
    assert s["http"]["sessions"] == 1 and s["http"]["session_id_hex64"] is True
    assert s["http"]["deleted"] is True
    assert "HTTP session 1 started for agent claude" in err and "HTTP session 1 ended: the client ended it" in err
    assert token not in err


@needs_python_sdk
def test_python_sdk_cancels_a_run_over_the_unix_socket(worker, tmp_path):
    token = add_agent(worker)
    sub = worker.submit("sleep_forever", "sleepy")
    worker.approve(sub["id"], "--allow-agent", "claude")
    path = str(tmp_path / "mcp.sock")
    m = HttpMcp(worker, socket_path=path)
    try:
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
        p = python_client(worker, token, "cancel", "http://localhost/mcp", "--socket", path)
        s = python_finish(p)
    finally:
        rc = m.stop()
    assert rc == 0, m.err()
    assert s["answered_during_run"] == 0 and s["run_pending_at_ping"] is True
    assert s["cancelled_in_client"] is True
    assert s["outcome"] == "cancelled" and s["exit_code"] is None
    assert any("started" in msg for msg in s["progress"])
    assert "run_module: cancelled by the client; no response sent" in m.err()
    assert not os.path.exists(path)   # removed when the server stopped


def node_client(home, token, mode, url, *extra):
    p = subprocess.run(["node", TS_CLIENT, mode, "--bin", BIN, "--home", home.path, "--agent", "claude", "--url", url,
                        *extra], env={**os.environ, "NIGHTCORE_AGENT_TOKEN": token}, capture_output=True, timeout=300)
    assert p.returncode == 0, f"mcp_client.mjs {mode} -> {p.returncode}\n{p.stdout.decode()}\n{p.stderr.decode()}"
    return json.loads(p.stdout.decode().splitlines()[-1])


@needs_ts_sdk
def test_ts_sdk_over_http(worker):
    token = add_agent(worker)
    sleepy = worker.submit("sleep_forever", "sleepy")
    worker.approve(sleepy["id"], "--allow-agent", "claude")
    m = HttpMcp(worker)
    try:
        s = node_client(worker, token, "submit", m.url, "--wasm", fixture("hello"), "--name", "hello")
        assert s["serverInfo"]["name"] == "nightcore-mcp"
        assert "submit_module" in s["tools"] and "sleepy" in s["tools"]
        assert s["submit"]["isError"] is False and s["submit"]["status"] == "pending"
        sid = s["submit"]["id"]
        assert s["run"]["isError"] is True and s["run"]["code"] == "pending_review"
        assert s["http"] == {"session_id_hex64": True, "protocol": "2025-11-25", "terminated": True}
        worker.approve(sid, "--allow-agent", "claude")
        r = node_client(worker, token, "run", m.url, "--submission", sid)
        assert r["run"]["isError"] is False and r["run"]["stdout"] == "hello, world\n"
        assert r["run"]["invoker"] == "agent:claude"
        assert r["get_run"]["stdout"] == "hello, world\n"
        # progress, a ping and another call while a run is in progress, then the run cancelled
        greet = worker.submit("wasi_args", "greet")
        p = subprocess.Popen(["node", TS_CLIENT, "async", "--bin", BIN, "--home", worker.path, "--agent", "claude",
                              "--url", m.url, "--tool", "greet"], env={**os.environ, "NIGHTCORE_AGENT_TOKEN": token},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready = p.stdout.readline()
        assert ready, p.stderr.read().decode()[-4000:]
        worker.approve(greet["id"], "--allow-agent", "claude", "--no-stdin")
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-4000:]
        a = json.loads(out.decode().splitlines()[-1])
        assert a["during_run"] == {"pinged": True, "list_total": 1}
        assert a["run_call"].startswith("rejected:"), a["run_call"]
        assert a["cancelled_run"]["outcome"] == "cancelled" and a["cancelled_run"]["exit_code"] is None
        assert any("started" in msg for msg in a["progress"])
        assert a["list_changed"] >= 1 and "greet" in a["tools_after"]
        assert a["tool_run"]["isError"] is False and a["tool_run"]["stdout"].startswith("greet\nfrom\ntypescript\n")
    finally:
        rc = m.stop()
    assert rc == 0, m.err()
    assert "run_module: cancelled by the client; no response sent" in m.err()


# ---- refusals, with raw requests ----


def test_bearer_is_required_and_checked_by_the_worker(served, worker):
    m, token = served
    for headers, kind in (({}, None), ({"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_token"),
                          ({"Authorization": "Bearer"}, "invalid_token"),
                          ({"Authorization": "Bearer a b"}, "invalid_token"),
                          ({"Authorization": "Bearer nca_" + "x" * 200}, "invalid_token"),
                          ({"Authorization": "Bearer nca_not_a_real_token"}, "invalid_token")):
        r = m.request(body=INIT, headers=headers)
        assert r.status == 401, (headers, r.status, r.body)
        assert r.headers["WWW-Authenticate"].startswith('Bearer realm="nightcore-mcp"')
        assert ('error="invalid_token"' in r.headers["WWW-Authenticate"]) == (kind == "invalid_token")
        assert r.json()["error"]["code"] == -32600 and r.json()["id"] is None
        assert_security_headers(r)
    # the worker's answer for a well-formed token it does not know
    assert "does not accept this agent's token" in r.json()["error"]["message"]
    # another agent's token is not this server's agent
    other = add_agent(worker, "other")
    r = m.request(body=INIT, token=other)
    assert r.status == 401 and "belongs to another agent" in r.json()["error"]["message"]
    assert m.request(body=INIT, token=token).status == 200
    assert token not in m.err() and other not in m.err()


def test_origin_and_host_checked(served):
    m, token = served
    for host in ("evil.example:%d" % m.port, "127.0.0.1", "127.0.0.1:1", "localhost", "rebind.localhost:%d" % m.port):
        r = m.request(body=INIT, token=token, host=host)
        assert r.status == 403, (host, r.status)
        assert_security_headers(r)
    for origin in ("http://evil.example", "null", "http://127.0.0.1:%d" % (m.port + 1), "https://" + m.host):
        r = m.request(body=INIT, token=token, headers={"Origin": origin})
        assert r.status == 403, (origin, r.status)
        assert_security_headers(r)
    # this server's own names and origins, and no Origin at all (not a browser)
    assert m.request(body=INIT, token=token, host="localhost:%d" % m.port).status == 200
    assert m.request(body=INIT, token=token, headers={"Origin": m.origin}).status == 200
    r = m.request(body=INIT, token=token)
    assert r.status == 200 and "Set-Cookie" not in r.headers
    assert_security_headers(r)


def test_a_session_is_bound_to_its_token(served, worker):
    m, token = served
    sid = m.initialize(token)
    other = add_agent(worker, "other")
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    for t in (other, token + "x", token[:-1], "nca_forged"):
        r = m.request(body=ping, token=t, sid=sid)
        assert r.status == 403, (t, r.status, r.body)
        assert_security_headers(r)
    r = m.request(body=ping, token=token, sid=sid)
    assert r.status == 200 and r.json() == {"jsonrpc": "2.0", "id": 2, "result": {}}
    # other sessions of the same token are other sessions
    sid2 = m.initialize(token)
    assert sid2 != sid
    assert m.request(body=ping, token=token, sid=sid2).status == 200


def test_unknown_malformed_and_ended_sessions(served):
    m, token = served
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    r = m.request(body=ping, token=token, sid="0" * 64)
    assert r.status == 404 and "no such session" in r.json()["error"]["message"]
    assert_security_headers(r)
    for bad in ("0" * 63, "0" * 65, "A" * 64, "zz", "0" * 62 + " 0"):
        r = m.request(body=ping, token=token, sid=bad)
        assert r.status == 400, (bad, r.status)
    # nothing but initialize without a session
    r = m.request(body={"jsonrpc": "2.0", "id": 3, "method": "tools/list"}, token=token)
    assert r.status == 400 and "initialize" in r.json()["error"]["message"]
    assert m.request("GET", token=token, headers={"Accept": "text/event-stream"}).status == 400
    # server/discover (2026-07-28) is declined as on stdio, so that clients fall back to initialize
    r = m.request(body={"jsonrpc": "2.0", "id": 4, "method": "server/discover"}, token=token)
    assert r.status == 200 and r.json()["error"]["code"] == -32022
    assert "Mcp-Session-Id" not in r.headers
    # an initialize the core refuses gets its error, and no session
    r = m.request(body={"jsonrpc": "2.0", "id": 5, "method": "initialize", "params": {}}, token=token)
    assert r.status == 200 and r.json()["error"]["code"] == -32602 and r.json()["id"] == 5
    assert "Mcp-Session-Id" not in r.headers
    sid = m.initialize(token)
    r = m.request("DELETE", token=token, sid=sid)
    assert r.status == 204
    r = m.request(body=ping, token=token, sid=sid)
    assert r.status == 404


def test_head_checks(served):
    m, token = served
    sid = m.initialize(token)
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    r = m.request(body=json.dumps(ping).encode(), token=token, sid=sid, headers={"Content-Type": "text/plain"})
    assert r.status == 415
    r = m.request(body=ping, token=token, sid=sid, headers={"Accept": "application/json"})
    assert r.status == 406
    r = m.request("GET", token=token, sid=sid, headers={"Accept": "application/json"})
    assert r.status == 406
    r = m.request(body=ping, token=token, sid=sid, headers={"MCP-Protocol-Version": "2025-06-18"})
    assert r.status == 400 and "2025-11-25" in r.json()["error"]["message"]
    r = m.request(body=ping, token=token, sid=sid, headers={"MCP-Protocol-Version": "2025-11-25"})
    assert r.status == 200
    for method in ("PUT", "PATCH", "OPTIONS"):
        r = m.request(method, token=token, sid=sid)
        assert r.status == 405 and "GET" in r.headers.get("Allow", ""), (method, r.status)
        assert_security_headers(r)
    r = m.request(body=INIT, token=token, path="/other")
    assert r.status == 404
    # a head over 32 KiB: refused by the server itself, with its headers
    r = m.request(body=ping, token=token, sid=sid, headers={"X-Big": "a" * (40 * 1024)})
    assert r.status == 431
    assert_security_headers(r)
    # not JSON-RPC: 400 with the error; a batch too
    for body in (b"{", b"[]", b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", b"7", b" "):
        r = m.request(body=body, token=token, sid=sid)
        assert r.status == 400, (body, r.status, r.body)
        assert "error" in r.json()
    # a notification or a response from the client: 202, no body
    r = m.request(body={"jsonrpc": "2.0", "id": "x", "result": {}}, token=token, sid=sid)
    assert r.status == 202 and r.body == b""


def test_bodies_are_capped(served):
    m, token = served
    sid = m.initialize(token)
    # declared over the cap: refused on its head, nothing of it read
    for sid_, n in ((None, 64 * 1024 + 1), (sid, 32 * 1024 * 1024 + 1)):
        s = socket.create_connection(("127.0.0.1", m.port), timeout=30)
        head = ("POST /mcp HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                "Accept: application/json, text/event-stream\r\nContent-Length: %d\r\n" % (m.host, token, n))
        if sid_:
            head += "Mcp-Session-Id: %s\r\n" % sid_
        s.sendall((head + "\r\n").encode())
        out = s.recv(4096)
        s.close()
        assert out.startswith(b"HTTP/1.1 413"), out[:200]
        assert b"Content-Security-Policy" in out
    # sent without a length (chunked): refused once it passes the cap
    s = socket.create_connection(("127.0.0.1", m.port), timeout=30)
    chunk = b"x" * 8192
    s.sendall(("POST /mcp HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
               "Accept: application/json, text/event-stream\r\nTransfer-Encoding: chunked\r\n"
               "Connection: close\r\n\r\n" % (m.host, token)).encode())
    for _ in range(10):   # 80 KiB: over the 64 KiB of a message without a session
        s.sendall(b"2000\r\n" + chunk + b"\r\n")
    s.sendall(b"0\r\n\r\n")
    out = s.recv(4096)
    s.close()
    assert out.startswith(b"HTTP/1.1 413"), out[:200]
    # a large message within the cap is served (a 16 MiB module in base64 fits)
    big = {"jsonrpc": "2.0", "id": 9, "method": "ping", "params": {"_meta": {"pad": "x" * (20 * 1024 * 1024)}}}
    r = m.request(body=big, token=token, sid=sid, timeout=120)
    assert r.status == 200 and r.json()["id"] == 9


def test_tool_calls_stream_their_progress_and_sessions_get_notifications(served, worker):
    m, token = served
    sid = m.initialize(token)
    # the session's GET stream, opened before anything happens
    g = socket.create_connection(("127.0.0.1", m.port), timeout=60)
    g.sendall(("GET /mcp HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nMcp-Session-Id: %s\r\n"
               "Accept: text/event-stream\r\n\r\n" % (m.host, token, sid)).encode())
    got = b""
    while b"\r\n\r\n" not in got:
        got += g.recv(4096)
    assert got.startswith(b"HTTP/1.1 200") and b"text/event-stream" in got
    sub = worker.submit("wasi_args", "greet")
    # a tool call answers on an event stream
    r = m.request(body={"jsonrpc": "2.0", "id": 5, "method": "tools/list"}, token=token, sid=sid)
    assert r.headers["Content-Type"].startswith("application/json")
    worker.approve(sub["id"], "--allow-agent", "claude")
    call = {"jsonrpc": "2.0", "id": 6, "method": "tools/call",
            "params": {"name": "run_module", "arguments": {"ref": "greet", "args": ["a"]},
                       "_meta": {"progressToken": "p6"}}}
    r = m.request(body=call, token=token, sid=sid)
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
    msgs = r.messages()
    assert msgs[-1]["id"] == 6 and msgs[-1]["result"]["structuredContent"]["stdout"].startswith("greet\na\n")
    assert all(x["method"] == "notifications/progress" and x["params"]["progressToken"] == "p6" for x in msgs[:-1])
    assert len(msgs) >= 2
    # the approval's notification went to the GET stream, never to a request's stream
    assert not any(x.get("method") == "notifications/tools/list_changed" for x in msgs)
    g.settimeout(60)
    end = time.time() + 60
    while b"notifications/tools/list_changed" not in got and time.time() < end:
        got += g.recv(65536)
    assert b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}" in got
    g.close()


def test_sessions_are_capped_and_expire(worker):
    token = add_agent(worker)
    m = HttpMcp(worker, "--session-idle", "2")
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    streams = []
    try:
        sids = [m.initialize(token) for _ in range(16)]
        # each with its GET stream open: in use, so none can be made room of
        for sid in sids:
            g = socket.create_connection(("127.0.0.1", m.port), timeout=60)
            g.sendall(("GET /mcp HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nMcp-Session-Id: %s\r\n"
                       "Accept: text/event-stream\r\n\r\n" % (m.host, token, sid)).encode())
            assert g.recv(4096).startswith(b"HTTP/1.1 200")
            streams.append(g)
        r = m.request(body=INIT, token=token)
        assert r.status == 503 and "16 sessions" in r.json()["error"]["message"]
        # while a stream is open a session does not expire, however idle
        time.sleep(3)
        assert m.request(body=ping, token=token, sid=sids[0]).status == 200
        # end one client's stream: its session goes once the server sees it closed and it is idle
        # (asked with another token, which tells 403 from 404 without counting as the session's use)
        streams.pop(0).close()
        assert wait_for(lambda: m.request(body=ping, token="nca_someone_else", sid=sids[0]).status == 404,
                        timeout=90), m.err()
        assert "idle, with no stream open" in m.err() or "to make room" in m.err()
        assert m.request(body=INIT, token=token).status == 200   # room again
    finally:
        for g in streams:
            g.close()
        assert m.stop() == 0, m.err()


def test_a_removed_agent_loses_its_sessions(served, worker):
    m, token = served
    sid = m.initialize(token)
    p = worker.nc("agent", "remove", "claude")
    assert p.returncode == 0, p.stderr
    r = m.request(body={"jsonrpc": "2.0", "id": 2, "method": "ping"}, token=token, sid=sid)
    assert r.status == 401
    assert m.request(body={"jsonrpc": "2.0", "id": 3, "method": "ping"}, token=token, sid=sid).status == 404
    assert "HTTP session 1 ended: the worker no longer accepts its token" in m.err()


def test_worker_down_is_503_not_a_pass(worker):
    token = add_agent(worker)
    m = HttpMcp(worker)
    try:
        sid = m.initialize(token)
        worker.nc("worker", "stop", check=True, timeout=60)
        r = m.request(body={"jsonrpc": "2.0", "id": 2, "method": "ping"}, token=token, sid=sid)
        assert r.status == 503 and "worker" in r.json()["error"]["message"]
        assert m.request(body=INIT, token=token).status == 503
        worker.nc("worker", "start", check=True, timeout=60)
        assert m.request(body={"jsonrpc": "2.0", "id": 3, "method": "ping"}, token=token, sid=sid).status == 200
    finally:
        assert m.stop() == 0, m.err()


def test_slow_clients_do_not_lock_others_out(served):
    """300 connections that send part of a request head and then a byte every 2 s are all held
    open, and meanwhile a client initializes, lists and calls tools; nothing here asks how fast."""
    m, token = served
    slow = []
    try:
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", m.port), timeout=30)
            s.sendall(b"POST /mcp HTTP/1.1\r\nHost: ")
            slow.append(s)
        last = time.time()
        for i in range(5):
            if time.time() - last >= 2:
                for s in slow:
                    s.send(b"1")
                last = time.time()
            sid = m.initialize(token)
            r = m.request(body={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, token=token, sid=sid, timeout=120)
            assert r.status == 200 and len(r.json()["result"]["tools"]) >= 9
            r = m.request(body={"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                                "params": {"name": "list_submissions", "arguments": {}}}, token=token, sid=sid,
                          timeout=120)
            assert r.status == 200 and r.messages()[-1]["result"]["isError"] is False
            assert m.request("DELETE", token=token, sid=sid).status == 204
        alive = 0
        for s in slow:
            s.setblocking(False)
            try:
                alive += s.recv(1) != b""
            except BlockingIOError:
                alive += 1
        assert alive >= 290, alive
    finally:
        for s in slow:
            s.close()


@pytest.mark.parametrize("argv,needle", [
    (["--http", "0.0.0.0:1"], b"127.0.0.1:PORT"),
    (["--http", "localhost:1"], b"127.0.0.1:PORT"),
    (["--http", "127.0.0.1:65536"], b"127.0.0.1:PORT"),
    (["--http", "127.0.0.1:"], b"127.0.0.1:PORT"),
    (["--http"], b"--http needs"),
    (["--http", ":0", "--http", ":0"], b"twice"),
    (["--http-socket", ""], b"--http-socket needs"),
    (["--session-idle", "5"], b"is for --http"),
    (["--http", ":0", "--session-idle", "0"], b"1 to 86400"),
    (["--http", ":0", "--session-idle", "86401"], b"1 to 86400"),
])
def test_usage_errors(argv, needle):
    p = subprocess.run([MCP, "--agent", "claude", *argv], capture_output=True, input=b"", timeout=30,
                       env={"PATH": "/usr/bin:/bin"})
    assert p.returncode == 2 and needle in p.stderr, p.stderr
    assert p.stdout == b""


def test_http_socket_refuses_a_file_and_a_busy_path(worker, tmp_path):
    token = add_agent(worker)
    path = tmp_path / "not-a-socket"
    path.write_text("keep me")
    p = subprocess.run([MCP, "--agent", "claude", "--home", worker.path, "--http-socket", str(path)],
                       capture_output=True, timeout=30, env=worker.env)
    assert p.returncode != 0 and b"not a socket" in p.stderr
    assert path.read_text() == "keep me"
    sock = str(tmp_path / "s.sock")
    m = HttpMcp(worker, socket_path=sock)
    try:
        p = subprocess.run([MCP, "--agent", "claude", "--home", worker.path, "--http-socket", sock],
                           capture_output=True, timeout=30, env=worker.env)
        assert p.returncode != 0 and b"in use" in p.stderr
        # the token is the credential here too
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(sock)
        c.sendall(b"POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 2\r\n\r\n{}")
        assert c.recv(4096).startswith(b"HTTP/1.1 401")
        c.close()
        assert token
    finally:
        assert m.stop() == 0, m.err()


def test_agent_add_prints_an_http_configuration_that_works(worker):
    rc, out = worker.ncj("agent", "add", "claude")
    assert rc == 0, out
    cfg = out["mcp_http_config"]["mcpServers"]["nightcore"]
    assert cfg["type"] == "http" and cfg["url"] == "http://127.0.0.1:8421/mcp"
    assert cfg["headers"] == {"Authorization": "Bearer " + out["token"]}
    cmd = out["mcp_http_command"]
    assert cmd[0].endswith("/nightcore-mcp") and cmd[1:] == ["--agent", "claude", "--home", worker.path, "--http",
                                                            "127.0.0.1:8421"]
    # the command as printed, on a free port instead of 8421 (which this machine may be using)
    m = HttpMcp.__new__(HttpMcp)
    m.home, m.stderr, m.out = worker, tempfile.TemporaryFile(), b""
    m.p = subprocess.Popen([os.path.join(BIN, "nightcore-mcp"), *cmd[1:-1], "127.0.0.1:0"], stdout=subprocess.PIPE,
                           stderr=m.stderr, stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"})
    try:
        port = int(re.fullmatch(r"MCP endpoint: http://127\.0\.0\.1:(\d+)/mcp\n", m.readline()).group(1))
        m.port, m.host = port, "127.0.0.1:%d" % port
        r = m.request(body=INIT, headers=cfg["headers"])
        assert r.status == 200 and r.json()["result"]["serverInfo"]["name"] == "nightcore-mcp"
        # and the text output says the same
        p = worker.nc("agent", "add", "codex")
        text = p.stdout.decode()
        assert "--http 127.0.0.1:8421" in text and "claude mcp add --transport http nightcore " in text
        assert '"Authorization": "Bearer nca_' in text
    finally:
        assert m.stop() == 0, m.err()
