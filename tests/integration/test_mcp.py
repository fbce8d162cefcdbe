"""nightcore-mcp over raw JSON-RPC on its stdin/stdout: the MCP lifecycle,
tools/list, malformed input, argument validation, the worker being down, the
token, and what the binary links. With a worker: the agent ops end to end."""
import base64
import json
import os
import select
import subprocess
import tempfile

import pytest

from conftest import BIN, fixture

MCP = os.path.join(BIN, "nightcore-mcp")
TOKEN = "nc_test_token_0123456789abcdef"
VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"]


class Mcp:
    """nightcore-mcp as a subprocess; every stdout line is parsed as JSON."""

    def __init__(self, home, agent="claude", token=TOKEN, extra_env=None, init=True):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home}
        if token is not None:
            env["NIGHTCORE_AGENT_TOKEN"] = token
        env.update(extra_env or {})
        self.stderr = tempfile.TemporaryFile()
        self.p = subprocess.Popen([MCP, "--agent", agent, "--home", home], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.stderr, env=env)
        self.buf = b""
        self.lines = []          # every line read from stdout, raw
        self.next_id = 1
        if init:
            self.initialize()

    def send_raw(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def send(self, obj):
        self.send_raw(json.dumps(obj).encode() + b"\n")

    def recv(self, timeout=30):
        while b"\n" not in self.buf:
            r, _, _ = select.select([self.p.stdout], [], [], timeout)
            assert r, "no reply from nightcore-mcp within %ss; stderr: %s" % (timeout, self.err())
            chunk = os.read(self.p.stdout.fileno(), 1 << 20)
            assert chunk, "nightcore-mcp closed stdout; stderr: %s" % self.err()
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        self.lines.append(line)
        msg = json.loads(line)
        assert msg.get("jsonrpc") == "2.0", msg
        return msg

    def request(self, method, params=None, **kw):
        rid = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        reply = self.recv(**kw)
        assert reply.get("id") == rid, reply
        return reply

    def initialize(self, version="2025-11-25"):
        r = self.request("initialize", {"protocolVersion": version, "capabilities": {},
                                        "clientInfo": {"name": "pytest", "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return r

    def call_tool(self, name, arguments, **kw):
        r = self.request("tools/call", {"name": name, "arguments": arguments}, **kw)
        assert "result" in r, r
        return r["result"]

    def err(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def close(self):
        """EOF on stdin: the server exits 0; every stdout byte was a JSON line."""
        self.p.stdin.close()
        rest = self.p.stdout.read()
        rc = self.p.wait(timeout=30)
        for line in (self.buf + rest).split(b"\n"):
            if line:
                self.lines.append(line)
        for line in self.lines:
            json.loads(line)
        assert rc == 0, self.err()
        return rc


@pytest.fixture
def nohome(tmp_path):
    return str(tmp_path / "home")     # no worker: nothing listens there


@pytest.fixture
def raw(nohome):
    """A server nobody has initialized yet."""
    m = Mcp(nohome, init=False)
    yield m
    if m.p.poll() is None:
        m.close()


@pytest.fixture
def mcp(raw):
    raw.initialize()
    return raw


def tool_error(result):
    assert result["isError"] is True, result
    err = result["structuredContent"]["error"]
    assert err["code"] in result["content"][0]["text"] and err["message"] in result["content"][0]["text"]
    assert result["content"][0]["type"] == "text"
    return err


# ---- lifecycle ----

@pytest.mark.parametrize("asked,answered", [(v, v) for v in VERSIONS] + [("2024-11-05", "2025-11-25"),
                                                                         ("1999-01-01", "2025-11-25")])
def test_initialize_negotiates_version(nohome, asked, answered):
    m = Mcp(nohome, init=False)
    r = m.initialize(asked)["result"]
    assert r["protocolVersion"] == answered
    assert r["capabilities"] == {"tools": {"listChanged": True}, "resources": {"subscribe": True, "listChanged": False}}
    assert r["serverInfo"]["name"] == "nightcore-mcp" and r["serverInfo"]["version"]
    assert "human" in r["instructions"] and "claude" in r["instructions"]
    assert m.request("ping")["result"] == {}
    m.close()


def test_initialize_needs_protocol_version(raw):
    r = raw.request("initialize", {"capabilities": {}})
    assert r["error"]["code"] == -32602


BUILTIN_TOOLS = ["submit_module", "get_submission", "list_submissions", "wait_for_submission", "list_approvals",
                 "run_module", "start_run", "cancel_run", "get_run"]


def test_tools_list(mcp):
    tools = mcp.request("tools/list")["result"]["tools"]
    names = [t["name"] for t in tools]
    assert sorted(names) == sorted(BUILTIN_TOOLS)
    for t in tools:
        assert t["inputSchema"]["type"] == "object" and t["inputSchema"]["additionalProperties"] is False
        assert t["outputSchema"]["type"] == "object"
        assert t["description"] and t["title"]
        for banned in ("approve", "sign", "trust", "policy", "revoke", "key"):
            assert banned not in t["name"]
    run = next(t for t in tools if t["name"] == "run_module")
    assert "agent:claude" in run["description"]
    submit = next(t for t in tools if t["name"] == "submit_module")
    assert "human" in submit["description"] and "never runs" in submit["description"]
    # calling a tool that does not exist is a protocol error
    r = mcp.request("tools/call", {"name": "approve", "arguments": {"submission": "s_1"}})
    assert r["error"]["code"] == -32602 and "approve" in r["error"]["message"]


def test_tool_schemas_are_valid_json_schema(mcp):
    jsonschema = pytest.importorskip("jsonschema")
    tools = mcp.request("tools/list")["result"]["tools"]
    for t in tools:
        jsonschema.Draft202012Validator.check_schema(t["inputSchema"])
        jsonschema.Draft202012Validator.check_schema(t["outputSchema"])
        jsonschema.Draft7Validator.check_schema(t["outputSchema"])
    # a refusal's structuredContent matches every outputSchema
    for t in tools:
        jsonschema.validate({"error": {"code": "unavailable", "message": "m"}}, t["outputSchema"])
    # and what the C validator refuses, a JSON Schema validator refuses too
    submit = next(t for t in tools if t["name"] == "submit_module")["inputSchema"]
    for bad in ({"name": "x"}, {"name": "-x", "wasm_base64": "AAAA"}, {"name": "x", "wasm_base64": "AAAA", "y": 1},
                {"name": "x", "wasm_base64": "AAAA", "requested_capabilities": {"dirs": [{"host": "a", "guest": "/g",
                                                                                         "mode": "ro"}]}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, submit)
        r = mcp.call_tool("submit_module", bad)
        assert tool_error(r)["code"] == "invalid_request"


def test_ping_before_initialize_and_notifications_get_no_reply(raw):
    mcp = raw
    assert mcp.request("ping")["result"] == {}
    mcp.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    mcp.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}})
    mcp.send({"jsonrpc": "2.0", "method": "no/such/notification", "params": [1]})
    mcp.send({"jsonrpc": "2.0", "method": "tools/list"})            # no id: a notification, not answered
    # a response from the client (we never send requests): ignored
    mcp.send({"jsonrpc": "2.0", "id": 99, "result": {}})
    r = mcp.request("ping")
    assert r["result"] == {}      # the very next line is this reply


def test_unknown_method(mcp):
    r = mcp.request("prompts/list")
    assert r["error"]["code"] == -32601
    r = mcp.request("tools/approve")
    assert r["error"]["code"] == -32601


@pytest.mark.parametrize("line,code,rid", [
    (b"this is not json", -32700, None),
    (b"{\"jsonrpc\":\"2.0\",\"id\":1,", -32700, None),
    (b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", -32600, None),
    (b"[]", -32600, None),
    (b"\"ping\"", -32600, None),
    (b"42", -32600, None),
    (b"{\"id\":5,\"method\":\"ping\"}", -32600, 5),
    (b"{\"jsonrpc\":\"1.0\",\"id\":\"a\",\"method\":\"ping\"}", -32600, "a"),
    (b"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", -32600, None),
    (b"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", -32600, None),
    (b"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", -32600, None),
    (b"{\"jsonrpc\":\"2.0\",\"id\":6}", -32600, 6),
    (b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":7}", -32600, 7),
    (b"{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\",\"params\":[1]}", -32602, 8),
    (b"{\"jsonrpc\":\"2.0\",\"id\":9,\"id\":10,\"method\":\"ping\"}", -32700, None),
    (b"{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"\\u0000ping\"}", -32601, 11),
    (b"\xff\xfe{}", -32700, None),
])
def test_malformed_lines_get_errors_and_the_server_keeps_going(raw, line, code, rid):
    mcp = raw
    mcp.send_raw(line + b"\n")
    r = mcp.recv()
    assert r["error"]["code"] == code, r
    assert r["id"] == rid
    assert mcp.request("ping")["result"] == {}


def test_blank_lines_and_crlf(raw):
    mcp = raw
    mcp.send_raw(b"\n   \n\r\n")
    mcp.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"ping\"}\r\n")
    assert mcp.recv() == {"jsonrpc": "2.0", "id": "x", "result": {}}


def test_line_over_32_mib_is_refused_then_the_server_continues(raw):
    mcp = raw
    big = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"x\":\"" + b"A" * (32 * 1024 * 1024) + b"\"}}\n"
    mcp.send_raw(big)
    r = mcp.recv(timeout=60)
    assert r["error"]["code"] == -32600 and r["id"] is None
    assert mcp.request("ping")["result"] == {}


def test_last_line_without_newline_is_answered(nohome):
    m = Mcp(nohome, init=False)
    m.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}")
    m.p.stdin.close()
    out = m.p.stdout.read()
    assert m.p.wait(timeout=30) == 0
    assert json.loads(out) == {"jsonrpc": "2.0", "id": 1, "result": {}}


def test_non_blocking_stdio(nohome):
    def nonblocking():
        os.set_blocking(0, False)
        os.set_blocking(1, False)
    p = subprocess.Popen([MCP, "--agent", "claude", "--home", nohome], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=nonblocking,
                         env={"PATH": "/usr/bin:/bin", "NIGHTCORE_AGENT_TOKEN": TOKEN})
    init = (b"{\"jsonrpc\":\"2.0\",\"id\":\"init\",\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
            b"\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n")
    out, _ = p.communicate(init + b"".join(b"{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/list\"}\n" % i
                                           for i in range(200)), timeout=60)
    assert p.returncode == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["init"] + list(range(200))


# ---- tool arguments are validated before anything reaches the worker ----

GOOD_WASM = base64.b64encode(b"\0asm\1\0\0\0").decode()


@pytest.mark.parametrize("tool,args,needle", [
    ("submit_module", {}, "arguments.name is required"),
    ("submit_module", {"name": "x"}, "wasm_base64 is required"),
    ("submit_module", {"name": "x", "wasm_base64": GOOD_WASM, "extra": 1}, "unknown property"),
    ("submit_module", {"name": "../x", "wasm_base64": GOOD_WASM}, "pattern"),
    ("submit_module", {"name": "x" * 65, "wasm_base64": GOOD_WASM}, "at most 64"),
    ("submit_module", {"name": "x", "wasm_base64": "not base64!"}, "base64"),
    ("submit_module", {"name": "x", "wasm_base64": "AAA"}, "at least 4"),
    ("submit_module", {"name": "x", "wasm_base64": "A=AA"}, "base64"),
    ("submit_module", {"name": 5, "wasm_base64": GOOD_WASM}, "must be a string"),
    ("submit_module", {"name": "x", "wasm_base64": GOOD_WASM, "description": "d" * 4097}, "at most 4096"),
    ("submit_module", {"name": "x", "wasm_base64": GOOD_WASM, "requested_capabilities": {"net": True}}, "unknown"),
    ("submit_module", {"name": "x", "wasm_base64": GOOD_WASM, "requested_capabilities": {"args": "yes"}},
     "must be a boolean"),
    ("submit_module", {"name": "x", "wasm_base64": GOOD_WASM, "requested_capabilities": {"env": {"A": 1}}},
     "must be a string"),
    ("submit_module", {"name": "x", "wasm_base64": GOOD_WASM,
                       "requested_capabilities": {"env": {"BAD-NAME": "v"}}}, "pattern"),
    ("submit_module", {"name": "x", "wasm_base64": GOOD_WASM,
                       "requested_capabilities": {"dirs": [{"host": "/h", "guest": "/g"}]}}, "mode is required"),
    ("submit_module", {"name": "x", "wasm_base64": GOOD_WASM,
                       "requested_capabilities": {"dirs": [{"host": "/h", "guest": "/g", "mode": "rwx"}]}},
     "must be one of"),
    ("submit_module", {"name": "x", "wasm_base64": GOOD_WASM,
                       "requested_capabilities": {"dirs": [{"host": "/h", "guest": "/g", "mode": "ro"}] * 17}},
     "at most 16"),
    ("submit_module", {"name": "x", "wasm_base64": GOOD_WASM,
                       "requested_capabilities": {"env": {"K%d" % i: "v" for i in range(129)}}}, "at most 128"),
    ("get_submission", {}, "submission_id is required"),
    ("get_submission", {"submission_id": "s_1; rm -rf /"}, "pattern"),
    ("get_submission", {"submission_id": "s_1", "submission": "s_1"}, "unknown property"),
    ("list_submissions", {"status": "everything"}, "must be one of"),
    ("list_submissions", {"limit": 0}, "at least 1"),
    ("list_submissions", {"limit": 101}, "at most 100"),
    ("list_submissions", {"limit": 5.0}, "must be an integer"),
    ("list_submissions", {"limit": True}, "must be an integer"),
    ("run_module", {}, "ref is required"),
    ("run_module", {"ref": ""}, "at least 1"),
    ("run_module", {"ref": "x", "args": "a b"}, "must be an array"),
    ("run_module", {"ref": "x", "args": [1]}, "must be a string"),
    ("run_module", {"ref": "x", "args": ["a\u0000b"]}, "NUL"),
    ("run_module", {"ref": "x", "args": ["a"] * 256}, "at most 255"),
    ("run_module", {"ref": "x", "args": ["a" * 4097]}, "at most 4096"),
    ("run_module", {"ref": "x", "stdin_base64": "***"}, "base64"),
    ("run_module", {"ref": "x", "invoker": "operator"}, "unknown property"),
    ("run_module", {"ref": "x", "token": "t"}, "unknown property"),
    ("get_run", {"run_id": ["r_1"]}, "must be a string"),
])
def test_invalid_arguments_are_tool_errors(mcp, tool, args, needle):
    r = mcp.call_tool(tool, args)
    err = tool_error(r)
    assert err["code"] == "invalid_request", err
    assert needle in err["message"], err


def test_arguments_must_be_an_object(mcp):
    for args in ([], "x", None):
        r = mcp.call_tool("get_run", args)
        assert tool_error(r)["code"] == "invalid_request"
    r = mcp.request("tools/call", {"arguments": {}})
    assert r["error"]["code"] == -32602


def test_code_points_not_bytes(mcp):
    # JSON Schema counts characters, and so does the C validator: 128
    # two-byte characters fit ref's maxLength 128 and reach the worker.
    r = mcp.call_tool("get_submission", {"submission_id": "s_" + "é" * 10})
    assert "pattern" in tool_error(r)["message"]
    r = mcp.call_tool("run_module", {"ref": "é" * 128})
    assert tool_error(r)["code"] == "unavailable"
    r = mcp.call_tool("run_module", {"ref": "é" * 129})
    assert tool_error(r)["code"] == "invalid_request"


# ---- the worker not running ----

def test_worker_not_running_is_unavailable_and_the_server_stays_up(mcp):
    for _ in range(2):
        r = mcp.call_tool("submit_module", {"name": "hello", "wasm_base64": GOOD_WASM, "description": "d"})
        err = tool_error(r)
        assert err["code"] == "unavailable"
        assert "not running" in err["message"] and "operator" in err["message"]
    for tool, args in (("get_submission", {"submission_id": "s_1"}), ("list_submissions", {}),
                       ("run_module", {"ref": "hello"}), ("get_run", {"run_id": "r_1"})):
        assert tool_error(mcp.call_tool(tool, args))["code"] == "unavailable"
    assert mcp.request("ping")["result"] == {}
    assert "not running" in mcp.err()          # logged on stderr too


# ---- start-up, token, binary ----

def test_missing_token_refuses_to_start(nohome):
    for token in (None, ""):
        env = {"PATH": "/usr/bin:/bin", "HOME": nohome}
        if token is not None:
            env["NIGHTCORE_AGENT_TOKEN"] = token
        p = subprocess.run([MCP, "--agent", "claude", "--home", nohome], env=env, capture_output=True,
                           input=b"", timeout=30)
        assert p.returncode != 0
        assert p.stdout == b""
        assert b"NIGHTCORE_AGENT_TOKEN" in p.stderr and b"nightcore agent add" in p.stderr


def test_malformed_token_is_not_echoed(nohome):
    secret = "secret value with spaces"
    p = subprocess.run([MCP, "--agent", "claude"], env={"PATH": "/usr/bin:/bin", "NIGHTCORE_AGENT_TOKEN": secret},
                       capture_output=True, input=b"", timeout=30)
    assert p.returncode != 0 and b"malformed" in p.stderr
    assert secret.encode() not in p.stderr + p.stdout


def test_token_never_printed_and_wiped_from_environ(mcp):
    mcp.call_tool("submit_module", {"name": "hello", "wasm_base64": GOOD_WASM})
    with open("/proc/%d/environ" % mcp.p.pid, "rb") as f:
        environ = f.read()
    assert TOKEN.encode() not in environ
    assert b"NIGHTCORE_AGENT_TOKEN=" + TOKEN.encode() not in environ
    mcp.close()
    assert TOKEN not in mcp.err()
    assert all(TOKEN.encode() not in line for line in mcp.lines)


@pytest.mark.parametrize("argv,needle", [
    ([], b"--agent NAME is required"),
    (["--agent"], b"--agent needs"),
    (["--agent", "Bad Name"], b"1-64 of a-z"),
    (["--agent", "a" * 65], b"1-64 of a-z"),
    (["--agent", "a", "--agent", "b"], b"twice"),
    (["--agent", "a", "--approve"], b"unknown argument"),
    (["--agent", "a", "extra"], b"unknown argument"),
])
def test_usage_errors(argv, needle):
    p = subprocess.run([MCP, *argv], env={"PATH": "/usr/bin:/bin", "NIGHTCORE_AGENT_TOKEN": TOKEN},
                       capture_output=True, input=b"", timeout=30)
    assert p.returncode == 2 and needle in p.stderr, p.stderr
    assert p.stdout == b""


def test_help_and_version():
    p = subprocess.run([MCP, "--help"], capture_output=True, timeout=30)
    assert p.returncode == 0 and b"--agent NAME" in p.stdout and b"NIGHTCORE_AGENT_TOKEN" in p.stdout
    p = subprocess.run([MCP, "--version"], capture_output=True, timeout=30)
    assert p.returncode == 0 and p.stdout.startswith(b"nightcore-mcp ")


def test_agent_name_forms(nohome):
    m = Mcp(nohome, agent="build-bot_2", init=False)
    assert "build-bot_2" in m.initialize()["result"]["instructions"]
    m.close()


def test_no_wasmtime_symbols():
    for args in (["nm", "-D", "--defined-only", MCP], ["nm", "--defined-only", MCP]):
        p = subprocess.run(args, capture_output=True, timeout=60)
        assert b"wasmtime_" not in p.stdout and b"wasm_engine" not in p.stdout, args
    # and it has symbols to look at (not a stripped binary hiding them)
    p = subprocess.run(["nm", "--defined-only", MCP], capture_output=True, timeout=60)
    assert p.returncode == 0 and b"nc_mcp_handle_message" in p.stdout


# ---- with a worker: the agent ops through the MCP server ----

def add_agent(home, name):
    rc, out = home.ncj("agent", "add", name)
    assert rc == 0, out
    assert out["name"] == name and out["token"]
    return out["token"]


def test_agent_flow_through_raw_jsonrpc(worker):
    token = add_agent(worker, "claude")
    m = Mcp(worker.path, token=token)
    m.initialize()
    with open(fixture("hello"), "rb") as f:
        wasm = base64.b64encode(f.read()).decode()
    r = m.call_tool("submit_module", {"name": "hello", "wasm_base64": wasm, "description": "says hello",
                                      "requested_capabilities": {"args": True}})
    assert r["isError"] is False, r
    sub = r["structuredContent"]
    assert sub["status"] == "pending" and sub["agent"] == "claude" and sub["source"] == "agent:claude"
    assert json.loads(r["content"][0]["text"])["id"] == sub["id"]
    # identical resubmission: the same submission
    again = m.call_tool("submit_module", {"name": "hello", "wasm_base64": wasm, "description": "says hello",
                                          "requested_capabilities": {"args": True}})
    assert again["structuredContent"]["id"] == sub["id"]
    got = m.call_tool("get_submission", {"submission_id": sub["id"]})
    assert got["isError"] is False and got["structuredContent"]["status"] == "pending"
    lst = m.call_tool("list_submissions", {})
    assert [s["id"] for s in lst["structuredContent"]["items"]] == [sub["id"]]
    # nothing runs before a human approves it
    assert tool_error(m.call_tool("run_module", {"ref": "hello"}))["code"] == "pending_review"
    # the operator sees the agent's submission in the inbox
    rc, inbox = worker.ncj("inbox")
    assert rc == 0 and [s["id"] for s in inbox["items"]] == [sub["id"]]
    # approved, but not for this agent: still refused
    worker.approve(sub["id"])
    assert tool_error(m.call_tool("run_module", {"ref": "hello"}))["code"] == "not_approved_for_you"
    # an operator's submission is not the agent's to see
    op = worker.submit("hello", "operator-hello")
    assert tool_error(m.call_tool("get_submission", {"submission_id": op["id"]}))["code"] == "not_found"
    m.close()


def test_wrong_token_and_wrong_agent(worker):
    token = add_agent(worker, "claude")
    add_agent(worker, "other")
    m = Mcp(worker.path, token="nc_wrong_" + "0" * 32)
    assert tool_error(m.call_tool("list_submissions", {}))["code"] == "unauthorized"
    m.close()
    # the token is claude's, the server was told it is "other"
    m = Mcp(worker.path, agent="other", token=token)
    err = tool_error(m.call_tool("list_submissions", {}))
    assert err["code"] == "unauthorized" and "another agent" in err["message"]
    m.close()


def test_reconnects_after_the_worker_restarts(worker):
    token = add_agent(worker, "claude")
    m = Mcp(worker.path, token=token)
    assert m.call_tool("list_submissions", {})["isError"] is False
    worker.nc("worker", "stop", check=True, timeout=30)
    assert tool_error(m.call_tool("list_submissions", {}))["code"] == "unavailable"
    worker.nc("worker", "start", check=True, timeout=60)
    assert m.call_tool("list_submissions", {})["isError"] is False
    m.close()
