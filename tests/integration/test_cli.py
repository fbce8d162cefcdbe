"""Integration tests for the `nightcore` operator CLI (docs/cli.md).

They run the real binary from $NC_BIN (default build/bin). Tests that need a
worker talk to a small fake worker defined here, which speaks the protocol of
docs/protocol.md on $HOME/run/control.sock and records every request; that
checks the CLI's side of the protocol (framing, ids, fields, exit codes,
output) without the real daemon. Tests with the real worker live elsewhere.
"""
import base64
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import threading
import time

import pytest

NC_BIN = os.environ.get("NC_BIN", "build/bin")
NIGHTCORE = os.path.abspath(os.path.join(NC_BIN, "nightcore"))
HINT = "worker not running: start it with `nightcore worker start`"
WASM = b"\0asm\x01\0\0\0"
NAMESPACE = "nightcore-approval-v1"

COMMANDS = [
    ["init"], ["worker", "start"], ["worker", "stop"], ["worker", "status"], ["submit"], ["inbox"],
    ["inbox", "show"], ["approve"], ["reject"], ["approvals"], ["revoke"], ["run"], ["runs"],
    ["runs", "show"], ["policy", "list"], ["policy", "show"], ["trust", "list"], ["trust", "add"],
    ["trust", "revoke"],
]


def nc(args, home=None, env=None, stdin=subprocess.DEVNULL, timeout=30, input_bytes=None):
    full_env = dict(os.environ)
    full_env.pop("NIGHTCORE_HOME", None)
    if env:
        full_env.update(env)
    argv = [NIGHTCORE] + (["--home", str(home)] if home is not None else []) + list(args)
    if input_bytes is not None:
        stdin = None
    r = subprocess.run(argv, stdin=stdin, input=input_bytes, capture_output=True, timeout=timeout, env=full_env)
    assert b"Sanitizer" not in r.stderr, r.stderr.decode("utf-8", "replace")   # NC_SANITIZE builds
    return r


def text(r):
    return r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def inited(home):
    r = nc(["init", "--principal", "alice@example.com"], home=home)
    assert r.returncode == 0, r.stderr
    return home


# ---------------------------------------------------------------- fake worker

class Refuse(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


class Raw:
    """A handler result sent as these exact bytes instead of a response."""

    def __init__(self, data):
        self.data = data


class FakeWorker:
    def __init__(self, home, handlers):
        self.home, self.handlers, self.requests = home, handlers, []
        os.makedirs(home / "run", exist_ok=True)
        self.path = str(home / "run" / "control.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def ops(self):
        return [r.get("op") for r in self.requests]

    def last(self, op):
        return [r for r in self.requests if r.get("op") == op][-1]

    def _serve(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                self._conn(conn)

    def _conn(self, conn):
        buf = b""
        conn.settimeout(10)
        while not self.stopped:
            try:
                chunk = conn.recv(1 << 20)
            except (socket.timeout, OSError):
                return
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, rest = buf.split(b"\n", 1)
                req = json.loads(line)
                n = req.get("stdin_bytes")
                if n is not None and len(rest) < n:   # raw stdin follows the line: wait for all of it
                    break
                buf = rest
                if n is not None:
                    req["_stdin"], buf = buf[:n], buf[n:]
                self.requests.append(req)
                handler = self.handlers.get(req["op"])
                try:
                    if handler is None:
                        raise Refuse("invalid_request", "unknown op " + req["op"])
                    res = handler(req)
                    if isinstance(res, Raw):
                        out = res.data
                    else:
                        out = json.dumps({"id": req["id"], "ok": True, "result": res}).encode() + b"\n"
                except Refuse as e:
                    out = json.dumps({"id": req["id"], "ok": False,
                                      "error": {"code": e.code, "message": e.message}}).encode() + b"\n"
                try:
                    conn.sendall(out)
                except OSError:
                    return

    def close(self):
        self.stopped = True
        self.sock.close()
        self.thread.join(5)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


@pytest.fixture
def fake(inited):
    workers = []

    def start(handlers):
        w = FakeWorker(inited, handlers)
        workers.append(w)
        return w

    yield start
    for w in workers:
        w.close()


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


DEFAULT_CAPS = {"args": True, "dirs": [], "env": {}, "stdin": True}
DEFAULT_LIMITS = {"fuel": None, "memory_bytes": 67108864, "stderr_bytes": 1048576, "stdout_bytes": 1048576,
                  "timeout_ms": 5000}


def make_statement(sub_id, name, sha, approver="alice@example.com", max_runs=10, invokers=("operator",),
                   expires_in=86400, caps=None, limits=None):
    caps = caps if caps is not None else DEFAULT_CAPS
    limits = limits if limits is not None else DEFAULT_LIMITS
    now = int(time.time())
    digest = hashlib.sha256(canon({"capabilities": caps, "limits": limits})).hexdigest()
    return canon({
        "_type": "https://in-toto.io/Statement/v1",
        "predicate": {"approver": approver, "capabilities": caps, "capability_digest": digest,
                      "expires_at": now + expires_in, "invokers": list(invokers), "issued_at": now,
                      "limits": limits, "max_runs": max_runs, "nonce": os.urandom(16).hex(),
                      "not_before": now, "submission": sub_id, "trust_version": 2,
                      "worker": "w_0123456789abcdef"},
        "predicateType": "urn:nightcore:approval:v1",
        "subject": [{"digest": {"sha256": sha}, "name": name}],
    })


SHA = hashlib.sha256(WASM).hexdigest()
SUB = {"id": "s_3f9a0c1e5b7d2a46", "name": "hello", "sha256": SHA, "size": len(WASM), "source": "operator",
       "agent": None, "status": "pending", "created_at": int(time.time()) - 180, "description": "says hello",
       "reason": None, "requested": {"args": True, "stdin": False, "env": {"LANG": "C"}, "dirs": []},
       "drift": {"state": "new", "previous_sha256": None, "changes": None},
       "analysis": {"size": 8,
                    "imports": [{"module": "wasi_snapshot_preview1", "name": "fd_write", "kind": "func",
                                 "capability": "stdio"},
                                {"module": "wasi_snapshot_preview1", "name": "path_open", "kind": "func",
                                 "capability": "filesystem"},
                                {"module": "env", "name": "evil", "kind": "func", "capability": "outside_wasi"}],
                    "exports": [{"name": "_start", "kind": "func"}, {"name": "memory", "kind": "memory"}],
                    "memories": [{"min_pages": 17, "max_pages": None, "memory64": False, "shared": False,
                                  "imported": False}],
                    "custom_sections": [{"name": "name", "size": 100, "known": True}],
                    "capabilities": ["stdio", "filesystem", "outside_wasi"], "has_start": False},
       "threat": {"score": 12, "factors": [{"factor": "new_module", "points": 10, "detail": "first version"},
                                           {"factor": "unsupported_import", "points": 2, "detail": "env.evil"}]},
       "approvals": []}


def run_obj(**kw):
    r = {"id": "r_ab12", "approval_id": "a" * 64, "name": "hello", "sha256": SHA, "invoker": "operator",
         "outcome": "ok", "exit_code": 0, "trap_kind": "", "message": "", "stdout": "", "stderr": "",
         "stdout_b64": "", "stderr_b64": "", "stdout_truncated": False, "stderr_truncated": False,
         "duration_ms": 3, "limits_hit": [], "denied_calls": 0, "denied": [], "wasi_calls": {},
         "fuel_used": None, "peak_memory_bytes": 65536, "isolation": {"userns": True},
         "threat": {"score": 5, "factors": []}, "started_at": int(time.time()) - 5,
         "finished_at": int(time.time())}
    r.update(kw)
    return r


# ---------------------------------------------------------------- help and usage

def test_version():
    r = nc(["--version"])
    assert r.returncode == 0
    assert r.stdout.startswith(b"nightcore ")


def test_help_lists_every_command():
    r = nc(["--help"])
    assert r.returncode == 0
    out = r.stdout.decode()
    for words in COMMANDS:
        assert " ".join(words) in out
    assert "Exit codes" in out


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: "-".join(w))
def test_every_command_has_help(words):
    r = nc(words + ["--help"])
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.startswith("usage: nightcore " + " ".join(words))
    assert "--home DIR" in out
    r2 = nc(["help"] + words)
    assert r2.returncode == 0 and r2.stdout == r.stdout


def test_no_command_is_usage():
    r = nc([])
    assert r.returncode == 2
    assert b"usage: nightcore" in r.stderr


@pytest.mark.parametrize("args,needle", [
    (["frobnicate"], "unknown command"),
    (["--frob"], "unknown option"),
    (["inbox", "--bogus"], "unknown option --bogus"),
    (["inbox", "extra"], "unexpected argument"),
    (["inbox", "show"], "missing argument"),
    (["worker"], "missing subcommand"),
    (["worker", "restart"], "unknown subcommand"),
    (["trust"], "missing subcommand"),
    (["policy", "frob"], "unknown subcommand"),
    (["submit", "x.wasm"], "--name NAME is required"),
    (["submit", "x.wasm", "--name", "-bad"], "--name must be"),
    (["submit", "x.wasm", "--name", "a", "--name", "b"], "given twice"),
    (["reject", "s_1"], "--reason TEXT is required"),
    (["approve"], "missing argument"),
    (["approve", "s_1", "--max-runs", "0", "--yes"], "--max-runs"),
    (["approve", "s_1", "--max-runs", "-3", "--yes"], "--max-runs"),
    (["approve", "s_1", "--max-runs", "12abc", "--yes"], "--max-runs"),
    (["approve", "s_1", "--expires", "0h", "--yes"], "--expires"),
    (["approve", "s_1", "--expires", "5y", "--yes"], "--expires"),
    (["approve", "s_1", "--expires", "99999d", "--yes"], "--expires"),
    (["approve", "s_1", "--expires", "59s", "--yes"], "--expires"),
    (["approve", "s_1", "--expires", "367d", "--yes"], "--expires"),
    (["approve", "s_1", "--allow-agent", "Bad Name", "--yes"], "--allow-agent"),
    (["approve", "s_1", "--allow-agent", "a", "--allow-agent", "a", "--yes"], "twice"),
    (["approve", "s_1", "--statement", "f"], "go together"),
    (["approve", "s_1", "--statement", "f", "--signature", "g", "--policy", "x"], "cannot be combined"),
    (["approve", "s_1", "--statement-out", "f", "--key", "k"], "--statement-out"),
    (["approve", "../etc", "--yes"], "ID must be"),
    (["run"], "missing argument"),
    (["run", "hello", "extra"], "after --"),
    (["run", "hel lo"], "REF must be"),
    (["runs", "--limit", "0"], "--limit"),
    (["runs", "--limit", "1001"], "--limit"),
    (["inbox", "--json=yes"], "takes no value"),
    (["trust", "add", "k.pub"], "--principal P is required"),
    (["trust", "add", "k.pub", "--principal", "a*b"], "--principal must be"),
    (["init", "--no-passphrase"], "--generate-key"),
    (["init", "--generate-key", "--approver-key", "k.pub"], "not both"),
    (["init", "--principal", "has space"], "--principal must be"),
    (["policy", "show", "UPPER"], "NAME must be"),
    (["inbox", "--home"], "--home needs a directory"),
    (["inbox", "--home="], "--home needs a directory"),
])
def test_usage_errors_exit_2(tmp_path, args, needle):
    r = nc(args, home=tmp_path / "h")
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    err = r.stderr.decode()
    assert needle in err, err
    assert not (tmp_path / "h").exists() or args[0] == "init"


def test_usage_error_prints_command_usage(tmp_path):
    r = nc(["runs", "--frob"], home=tmp_path)
    assert r.returncode == 2
    assert b"usage: nightcore runs" in r.stderr
    assert b"nightcore runs --help" in r.stderr


def test_unknown_option_is_escaped(tmp_path):
    r = nc(["inbox", "--\x1b[31mred"], home=tmp_path)
    assert r.returncode == 2
    assert b"\x1b" not in r.stderr
    assert b"\\x1b" in r.stderr


# ---------------------------------------------------------------- init

def mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


def test_init_with_home_option(home):
    r = nc(["init", "--principal", "alice@example.com"], home=home)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "created" in out and "Next steps" in out
    for d in ["keys", "trust", "state", "run", "logs", "state/blobs", "state/artifacts"]:
        assert (home / d).is_dir(), d
        assert mode(home / d) == 0o700, d
    assert mode(home) == 0o700
    assert mode(home / "keys/worker.key") == 0o600
    assert mode(home / "keys/worker.pub") == 0o644
    seed = base64.b64decode((home / "keys/worker.key").read_text().strip(), validate=True)
    pub = base64.b64decode((home / "keys/worker.pub").read_text().strip(), validate=True)
    assert len(seed) == 32 and len(pub) == 32
    wid = "w_" + hashlib.sha256(pub).hexdigest()[:16]
    assert wid in out
    assert (home / "trust/allowed_signers").exists()
    assert (home / "trust/revoked_keys").exists()
    assert json.loads((home / "trust/version").read_text())["version"] >= 1
    cfg = json.loads((home / "config.json").read_text())
    assert cfg["principal"] == "alice@example.com"
    assert "approver_key" not in cfg
    assert "--generate-key" in out   # tells how to get an approver key


def test_init_with_environment_variable(tmp_path):
    h = tmp_path / "envhome"
    r = nc(["init"], env={"NIGHTCORE_HOME": str(h), "USER": "bob"})
    assert r.returncode == 0, r.stderr
    assert (h / "keys/worker.key").exists()
    principal = json.loads((h / "config.json").read_text())["principal"]
    assert principal.startswith("bob@")
    # --home wins over the environment variable
    other = tmp_path / "other"
    r = nc(["init"], home=other, env={"NIGHTCORE_HOME": str(h)})
    assert r.returncode == 0
    assert (other / "keys/worker.key").exists()


def test_home_option_after_the_command(tmp_path):
    h = tmp_path / "late"
    r = nc(["init", "--home", str(h)])
    assert r.returncode == 0, r.stderr
    assert (h / "keys/worker.key").exists()


def test_default_principal_is_sanitized(tmp_path):
    h = tmp_path / "h"
    r = nc(["init"], home=h, env={"USER": "we ird*user"})
    assert r.returncode == 0, r.stderr
    principal = json.loads((h / "config.json").read_text())["principal"]
    assert principal.startswith("we-ird-user@")
    assert all(c.isalnum() or c in "@._-+:" for c in principal)


def snapshot(home):
    files = {}
    for root, _, names in os.walk(home):
        for n in names:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                files[os.path.relpath(p, home)] = f.read()
    return files


def test_init_is_idempotent(home):
    assert nc(["init", "--generate-key", "--no-passphrase", "--principal", "alice@example.com"],
              home=home).returncode == 0
    before = snapshot(home)
    r = nc(["init"], home=home)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "exists" in out and "unchanged" in out
    r = nc(["init", "--generate-key", "--no-passphrase", "--principal", "alice@example.com"], home=home)
    assert r.returncode == 0, r.stderr
    assert "already trusted" in r.stdout.decode()
    assert snapshot(home) == before


def test_init_restores_a_lost_worker_pub(inited):
    pub = (inited / "keys/worker.pub").read_text()
    os.unlink(inited / "keys/worker.pub")
    r = nc(["init"], home=inited)
    assert r.returncode == 0, r.stderr
    assert (inited / "keys/worker.pub").read_text() == pub


def test_init_refuses_a_world_readable_worker_key(inited):
    os.chmod(inited / "keys/worker.key", 0o644)
    os.unlink(inited / "keys/worker.pub")
    r = nc(["init"], home=inited)
    assert r.returncode == 1
    assert b"0600" in r.stderr


@pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="needs ssh-keygen")
def test_init_generate_key_trusts_it(home):
    r = nc(["init", "--generate-key", "--no-passphrase", "--principal", "alice@example.com"], home=home)
    assert r.returncode == 0, r.stderr
    assert (home / "keys/approver").exists()
    assert mode(home / "keys/approver") == 0o600
    pub = (home / "keys/approver.pub").read_text().split()
    signers = [line for line in (home / "trust/allowed_signers").read_text().splitlines()
               if line and not line.startswith("#")]
    # the first key is the root of trust: it approves and signs trust changes
    assert signers == ['alice@example.com namespaces="%s,nightcore-admin-v1" %s %s' % (NAMESPACE, pub[0], pub[1])]
    cfg = json.loads((home / "config.json").read_text())
    # the key inside the home is recorded relative to it: a moved home keeps it
    assert cfg == {"approver_key": "keys/approver", "principal": "alice@example.com"}
    # the trust store lists it (read from the files: no worker running)
    r = nc(["trust", "list", "--json"], home=home)
    assert r.returncode == 0, r.stderr
    listing = json.loads(r.stdout)
    assert [k["principals"] for k in listing["keys"]] == [["alice@example.com"]]
    assert listing["keys"][0]["type"] == "ssh-ed25519"
    assert listing["keys"][0]["revoked"] is False
    assert listing["keys"][0]["fingerprint"].startswith("SHA256:")
    r = nc(["trust", "list"], home=home)
    assert r.returncode == 0
    assert b"alice@example.com" in r.stdout and b"trusted" in r.stdout
    # ssh-keygen agrees the store trusts the key: sign and verify
    msg = home / "m"
    msg.write_bytes(b"hello")
    subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-n", NAMESPACE, "-f", str(home / "keys/approver"),
                    str(msg)], check=True, capture_output=True)
    with open(msg, "rb") as f:
        v = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(home / "trust/allowed_signers"),
                            "-I", "alice@example.com", "-n", NAMESPACE, "-s", str(msg) + ".sig"],
                           stdin=f, capture_output=True)
    assert v.returncode == 0, v.stderr


@pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="needs ssh-keygen")
def test_init_approver_key_uses_existing_key(tmp_path):
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bob", "-f", str(key)], check=True)
    h = tmp_path / "h"
    r = nc(["init", "--approver-key", str(key) + ".pub", "--principal", "bob@example.com"], home=h)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((h / "config.json").read_text())
    assert cfg["approver_key"] == str(key)        # the private half, found next to the .pub
    assert "bob@example.com namespaces=" in (h / "trust/allowed_signers").read_text()


def test_init_approver_key_rejects_rsa(tmp_path):
    pub = tmp_path / "k.pub"
    pub.write_text("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 me\n")
    r = nc(["init", "--approver-key", str(pub)], home=tmp_path / "h")
    assert r.returncode == 1
    assert b"not an accepted public key" in r.stderr


# ---------------------------------------------------------------- no worker

def test_approve_without_terminal_never_waits(inited):
    start = time.monotonic()
    r = nc(["approve", "s_3f9a0c1e5b7d2a46"], home=inited, stdin=subprocess.DEVNULL, timeout=10)
    assert r.returncode == 2
    assert b"--yes" in r.stderr
    assert time.monotonic() - start < 5
    # a pipe is not a terminal either
    r = nc(["approve", "s_3f9a0c1e5b7d2a46"], home=inited, input_bytes=b"y\n", timeout=10)
    assert r.returncode == 2


@pytest.mark.parametrize("args", [
    ["worker", "status"], ["inbox"], ["inbox", "show", "s_1"], ["runs"], ["runs", "show", "r_1"],
    ["run", "hello"], ["approvals"], ["revoke", "a" * 64], ["reject", "s_1", "--reason", "no"],
    ["policy", "list"], ["policy", "show", "default"], ["approve", "s_1", "--statement-out", "x"],
])
def test_commands_needing_the_worker_say_how_to_start_it(inited, args):
    r = nc(args, home=inited)
    assert r.returncode == 1, (args, r.stderr)
    assert HINT in r.stderr.decode()


def test_submit_without_worker(inited, tmp_path):
    f = tmp_path / "m.wasm"
    f.write_bytes(WASM)
    r = nc(["submit", str(f), "--name", "hello"], home=inited)
    assert r.returncode == 1
    assert HINT in r.stderr.decode()


def test_trust_add_needs_the_worker(inited, tmp_path):
    if not shutil.which("ssh-keygen"):
        pytest.skip("needs ssh-keygen")
    key = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    r = nc(["trust", "add", str(key) + ".pub", "--principal", "carol"], home=inited)
    assert r.returncode == 1
    assert HINT in r.stderr.decode()


def test_approve_without_key(inited):
    r = nc(["approve", "s_1", "--yes"], home=inited)
    assert r.returncode == 1
    assert b"no approver key at " in r.stderr and b"`nightcore init --generate-key`" in r.stderr
    assert b"`nightcore init --approver-key KEY.pub`" in r.stderr and b"--key" in r.stderr


def test_submit_missing_file(inited, tmp_path):
    r = nc(["submit", str(tmp_path / "nope.wasm"), "--name", "hello"], home=inited)
    assert r.returncode == 1
    assert b"no such file" in r.stderr


def test_submit_too_large(inited, tmp_path):
    f = tmp_path / "big.wasm"
    with open(f, "wb") as fh:
        fh.write(WASM)
        fh.truncate(16 * 1024 * 1024 + 1)
    r = nc(["submit", str(f), "--name", "big"], home=inited)
    assert r.returncode == 1
    assert b"larger than 16 MiB" in r.stderr


def test_submit_not_wasm(inited, tmp_path):
    f = tmp_path / "x.wasm"
    f.write_bytes(b"#!/bin/sh\necho hi\n")
    r = nc(["submit", str(f), "--name", "x"], home=inited)
    assert r.returncode == 1
    assert b"not a WebAssembly module" in r.stderr


def test_submit_bad_manifest(inited, tmp_path):
    f = tmp_path / "m.wasm"
    f.write_bytes(WASM)
    m = tmp_path / "m.json"
    for body, needle in [('{"description": "x", "extra": 1}', b"unknown field"),
                         ('{"description": "x", "description": "y"}', b"duplicate"),
                         ('{"capabilities": {"dirs": [{"host": "rel", "guest": "/d", "mode": "ro"}]}}',
                          b"capabilities"),
                         ("[1]", b"object")]:
        m.write_text(body)
        r = nc(["submit", str(f), "--name", "m", "--manifest", str(m)], home=inited)
        assert r.returncode == 1, body
        assert needle in r.stderr, (body, r.stderr)


def test_worker_start_needs_init(tmp_path):
    r = nc(["worker", "start"], home=tmp_path / "nothing")
    assert r.returncode == 1
    assert b"nightcore init" in r.stderr


def test_worker_stop_when_not_running(inited):
    r = nc(["worker", "stop"], home=inited)
    assert r.returncode == 0
    assert b"not running" in r.stdout


def test_stale_socket_counts_as_not_running(inited):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(inited / "run/control.sock"))
    s.close()   # the file stays, nobody listens: ECONNREFUSED
    r = nc(["inbox"], home=inited)
    assert r.returncode == 1
    assert HINT in r.stderr.decode()


# ---------------------------------------------------------------- with a fake worker

def test_worker_status(fake, inited):
    st = {"pid": 4242, "worker_id": "w_0123456789abcdef", "version": "0.1.0", "uptime_s": 3700,
          "home": str(inited), "trust_version": 3,
          "queue": {"running": 1, "queued": 0, "limit": 2, "queue_limit": 16},
          "isolation": {"userns": True, "netns": True, "landlock_abi": 3, "seccomp": True},
          "counts": {"pending": 2, "approvals": 1, "runs": 7}}
    w = fake({"status": lambda r: st})
    r = nc(["worker", "status"], home=inited)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "pid 4242" in out and "up 1h 1m" in out and "landlock_abi 3" in out
    assert "2 pending, 1 approvals, 7 runs" in out
    r = nc(["worker", "status", "--json"], home=inited)
    assert json.loads(r.stdout) == st
    assert w.requests[0]["op"] == "status" and isinstance(w.requests[0]["id"], int)
    assert set(w.requests[0]) == {"id", "op"}


def test_worker_start_when_already_running(fake, inited):
    fake({"hello": lambda r: {"protocol": 1, "worker_id": "w_0123456789abcdef", "version": "0.1.0"},
          "status": lambda r: {"pid": 99}})
    r = nc(["worker", "start"], home=inited)
    assert r.returncode == 0, r.stderr
    assert b"already running (pid 99)" in r.stdout


def test_worker_stop_waits_for_exit(fake, inited):
    proc = subprocess.Popen(["sleep", "60"])

    def shutdown(req):
        proc.kill()   # exits; stays a zombie until reaped below
        return {"stopping": True}

    w = fake({"status": lambda r: {"pid": proc.pid}, "shutdown": shutdown})
    try:
        r = nc(["worker", "stop"], home=inited, timeout=20)
        assert r.returncode == 0, r.stderr
        assert ("worker stopped (pid %d)" % proc.pid).encode() in r.stdout
        assert "shutdown" in w.ops()
    finally:
        proc.kill()
        proc.wait()


def test_submit_sends_module_and_manifest(fake, inited, tmp_path):
    f = tmp_path / "m.wasm"
    f.write_bytes(WASM + b"\x00\xff" * 10)
    m = tmp_path / "m.json"
    m.write_text(json.dumps({"description": "greets", "capabilities": {"args": True, "env": {"LANG": "C"}}}))
    w = fake({"submit": lambda r: dict(SUB, name=r["name"])})
    r = nc(["submit", str(f), "--name", "hello", "--manifest", str(m)], home=inited)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"s_3f9a0c1e5b7d2a46\n"
    req = w.last("submit")
    assert base64.b64decode(req["wasm_b64"]) == f.read_bytes()
    assert req["name"] == "hello" and req["description"] == "greets"
    assert req["requested"] == {"args": True, "env": {"LANG": "C"}}
    r = nc(["submit", str(f), "--name", "hello", "--json"], home=inited)
    assert json.loads(r.stdout)["id"] == SUB["id"]
    assert "description" not in w.last("submit")


def test_inbox_table_and_escaping(fake, inited):
    evil = dict(SUB, id="s_2", name="evil\x1b[2J\u202ename", source="agent:x\r\n")
    # "3m ago" is relative to when the listing is answered, not when this file was imported
    w = fake({"inbox.list": lambda r: {"items": [dict(SUB, created_at=int(time.time()) - 180), evil], "total": 2}})
    r = nc(["inbox"], home=inited)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "SOURCE", "SIZE", "DRIFT", "SCORE", "AGE"]
    assert "s_3f9a0c1e5b7d2a46" in lines[1] and "3m ago" in lines[1] and "new" in lines[1]
    assert "\x1b" not in out and "\u202e" not in out and "\r" not in out
    assert "\\x1b[2J" in out and "\\u{202e}" in out
    assert len(lines) == 3
    assert w.last("inbox.list")["status"] == "pending"
    r = nc(["inbox", "--all"], home=inited)
    assert w.last("inbox.list")["status"] == "all"
    assert "STATUS" in r.stdout.decode().splitlines()[0]
    r = nc(["inbox", "--json"], home=inited)
    assert json.loads(r.stdout)["total"] == 2


def test_inbox_show(fake, inited):
    w = fake({"submission.get": lambda r: dict(SUB, id=r["submission"])})
    r = nc(["inbox", "show", "s_3f9a0c1e5b7d2a46"], home=inited)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    for needle in ["sha256     " + SHA, "threat     12/100", "new_module", "imports (3)",
                   "filesystem: wasi_snapshot_preview1.path_open", "outside_wasi: env.evil",
                   "exports   _start (func), memory (memory)", "initial 17 pages (1 MiB), maximum none",
                   "has_start", "LANG=C", "nightcore approve s_3f9a0c1e5b7d2a46"]:
        assert needle in out, needle
    assert w.last("submission.get")["submission"] == "s_3f9a0c1e5b7d2a46"
    r = nc(["inbox", "show", "s_3f9a0c1e5b7d2a46", "--json"], home=inited)
    assert json.loads(r.stdout)["analysis"]["exports"][0]["name"] == "_start"


def test_not_found_is_failure_not_refusal(fake, inited):
    def missing(r):
        raise Refuse("not_found", "no submission s_9")
    fake({"submission.get": missing})
    r = nc(["inbox", "show", "s_9"], home=inited)
    assert r.returncode == 1
    assert b"not found: no submission s_9" in r.stderr


def test_reject(fake, inited):
    w = fake({"reject": lambda r: dict(SUB, status="rejected", reason=r["reason"])})
    r = nc(["reject", "s_3f9a0c1e5b7d2a46", "--reason", "asks for too much"], home=inited)
    assert r.returncode == 0, r.stderr
    assert b"rejected s_3f9a0c1e5b7d2a46" in r.stdout
    req = w.last("reject")
    assert req["submission"] == "s_3f9a0c1e5b7d2a46" and req["reason"] == "asks for too much"
    assert set(req) == {"id", "op", "submission", "reason"}


def test_run_passes_exact_bytes(fake, inited):
    out_bytes = b"hello \xff\x00 world\n"
    err_bytes = b"\x1b[31mwarn\n"
    w = fake({"run": lambda r: run_obj(stdout_b64=base64.b64encode(out_bytes).decode(),
                                       stderr_b64=base64.b64encode(err_bytes).decode(),
                                       stdout="hello \ufffd\u0000 world\n")})
    r = nc(["run", "hello"], home=inited)
    assert r.returncode == 0, r.stderr
    assert r.stdout == out_bytes
    assert r.stderr.startswith(err_bytes)
    assert r.stderr.endswith(b"nightcore: run r_ab12 ok (exit 0) in 3 ms, threat 5\n")
    req = w.last("run")
    assert req["ref"] == "hello" and "args" not in req and "stdin_b64" not in req


def test_run_args_and_stdin(fake, inited, tmp_path):
    w = fake({"run": lambda r: run_obj()})
    stdin = tmp_path / "in"
    stdin.write_bytes(b"\x00\x01data")
    r = nc(["run", "a" * 64, "--stdin", str(stdin), "--", "--flag", "x y", ""], home=inited)
    assert r.returncode == 0, r.stderr
    req = w.last("run")
    assert req["ref"] == "a" * 64
    assert req["args"] == ["--flag", "x y", ""]
    # stdin goes raw after the request line, not base64 in it
    assert "stdin_b64" not in req and req["stdin_bytes"] == 6 and req["_stdin"] == b"\x00\x01data"
    r = nc(["run", "hello", "--stdin", "-"], home=inited, input_bytes=b"piped")
    assert w.last("run")["_stdin"] == b"piped"
    # piped without --stdin: passed through; an empty file is an empty stdin, sent explicitly
    r = nc(["run", "hello"], home=inited, input_bytes=b"through a pipe")
    assert r.returncode == 0, r.stderr
    assert w.last("run")["_stdin"] == b"through a pipe"
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    r = nc(["run", "hello", "--stdin", str(empty)], home=inited)
    assert w.last("run")["stdin_bytes"] == 0
    # /dev/null: no stdin asked for at all
    r = nc(["run", "hello"], home=inited)
    assert "stdin_bytes" not in w.last("run")


def test_run_failure_outcomes_exit_1(fake, inited):
    result = run_obj(outcome="trap", exit_code=0, trap_kind="unreachable", message="wasm trap: unreachable\x1b]0;x",
                     stdout_truncated=True, denied_calls=2, threat={"score": 40, "factors": []})
    fake({"run": lambda r: result})
    r = nc(["run", "hello"], home=inited)
    assert r.returncode == 1
    last = r.stderr.decode().splitlines()[-1]
    assert last.startswith("nightcore: run r_ab12 trap (unreachable) in 3 ms, threat 40: wasm trap: unreachable")
    assert "\x1b" not in last
    assert "stdout truncated" in last and "2 denied calls" in last
    r = nc(["run", "hello", "--json"], home=inited)
    assert r.returncode == 1
    assert json.loads(r.stdout)["outcome"] == "trap"


@pytest.mark.parametrize("outcome", ["exit", "timeout", "fuel", "memory", "output_limit", "crash"])
def test_run_other_outcomes_exit_1(fake, inited, outcome):
    fake({"run": lambda r: run_obj(outcome=outcome, exit_code=3 if outcome == "exit" else 0, trap_kind="")})
    r = nc(["run", "hello"], home=inited)
    assert r.returncode == 1
    assert ("run r_ab12 " + outcome).encode() in r.stderr


def test_run_refused_exit_3(fake, inited):
    def refuse(r):
        raise Refuse("max_runs_exceeded", "the approval's 10 runs are used up: approve it again")
    fake({"run": refuse})
    r = nc(["run", "hello"], home=inited)
    assert r.returncode == 3
    assert b"refused (max_runs_exceeded): the approval's 10 runs are used up" in r.stderr
    assert r.stdout == b""
    r = nc(["run", "hello", "--json"], home=inited)
    assert r.returncode == 3
    assert json.loads(r.stdout) == {"ok": False, "error": {"code": "max_runs_exceeded",
                                                           "message": "the approval's 10 runs are used up: approve it again"}}


def test_listing_refusal_json(fake, inited):
    def refuse(r):
        raise Refuse("unauthorized", "no")
    fake({"runs.list": refuse})
    r = nc(["runs", "--json"], home=inited)
    assert r.returncode == 3
    assert json.loads(r.stdout)["error"]["code"] == "unauthorized"


def test_runs_and_runs_show(fake, inited):
    full = run_obj(stdout="line1\nline2\x07\n", denied_calls=1,
                   denied=[{"call": "path_open", "reason": "outside preopens", "detail": "/etc/passwd"}],
                   wasi_calls={"fd_write": 2, "path_open": 1})
    w = fake({"runs.list": lambda r: {"items": [run_obj()], "total": 3}, "run.get": lambda r: full})
    r = nc(["runs", "--limit", "1"], home=inited)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.splitlines()[0].split() == ["ID", "NAME", "OUTCOME", "EXIT", "TIME", "THREAT", "INVOKER", "AGE"]
    assert "r_ab12" in out and "(1 of 3 shown" in out
    assert w.last("runs.list")["limit"] == 1
    r = nc(["runs", "show", "r_ab12"], home=inited)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "path_open" in out and "/etc/passwd" in out and "fd_write 2" in out
    assert "line1\nline2\\x07\n" in out


def test_policy_and_approvals(fake, inited):
    pol = {"name": "default", "limits": DEFAULT_LIMITS, "capabilities": DEFAULT_CAPS}
    ap = {"id": "b" * 64, "submission": SUB["id"], "name": "hello", "sha256": SHA, "approver": "alice@example.com",
          "key_fingerprint": "SHA256:x", "policy": "default", "invokers": ["operator", "agent:claude"],
          "max_runs": 10, "runs": 3, "not_before": int(time.time()) - 10, "expires_at": int(time.time()) + 7200,
          "revoked": False, "created_at": int(time.time()) - 10, "capabilities": DEFAULT_CAPS,
          "limits": DEFAULT_LIMITS}
    w = fake({"policy.list": lambda r: {"items": [pol]}, "policy.get": lambda r: pol,
              "approval.list": lambda r: {"items": [ap], "total": 1},
              "approval.revoke": lambda r: dict(ap, revoked=True)})
    r = nc(["policy", "list"], home=inited)
    assert r.returncode == 0 and b"default" in r.stdout and b"64 MiB" in r.stdout
    r = nc(["policy", "show", "default"], home=inited)
    assert r.returncode == 0 and b"timeout 5000 ms" in r.stdout
    assert w.last("policy.get")["name"] == "default"
    r = nc(["approvals"], home=inited)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "bbbbbbbbbbbb" in out and "3/10" in out and "active" in out and "operator,agent:claude" in out
    r = nc(["revoke", "b" * 64], home=inited)
    assert r.returncode == 0 and b"revoked approval" in r.stdout
    assert w.last("approval.revoke")["approval"] == "b" * 64


def approval_handlers(statement_for, submitted):
    def prepare(req):
        return {"statement": statement_for(req).decode(), "summary": {}}

    def submit(req):
        submitted.append(req)
        return {"id": hashlib.sha256(req["statement"].encode()).hexdigest(), "name": "hello"}

    return {"submission.get": lambda r: dict(SUB, id=r["submission"]), "approval.prepare": prepare,
            "approval.submit": submit}


@pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="needs ssh-keygen")
def test_approve_signs_what_it_shows(tmp_path):
    home = tmp_path / "h"
    assert nc(["init", "--generate-key", "--no-passphrase", "--principal", "alice@example.com"],
              home=home).returncode == 0
    submitted = []
    stmts = []

    def statement_for(req):
        st = make_statement(req["submission"], "hello", SHA, approver=req["approver"],
                            max_runs=req["max_runs"], invokers=req["invokers"], expires_in=req["expires_in_s"])
        stmts.append(st)
        return st

    w = FakeWorker(home, approval_handlers(statement_for, submitted))
    try:
        r = nc(["approve", SUB["id"], "--yes", "--max-runs", "5", "--expires", "2h", "--allow-agent", "claude",
                "--policy", "default"], home=home)
        assert r.returncode == 0, r.stderr
        out = r.stdout.decode()
        prep = w.last("approval.prepare")
        assert prep["submission"] == SUB["id"] and prep["policy"] == "default"
        assert prep["max_runs"] == 5 and prep["expires_in_s"] == 7200
        assert prep["invokers"] == ["operator", "agent:claude"]
        assert prep["approver"] == "alice@example.com"
        assert stmts[0].decode() in out                     # the exact bytes were shown
        assert "at most 5" in out and "agent:claude" in out and "(2h)" in out
        approval_id = hashlib.sha256(stmts[0]).hexdigest()
        assert ("approved: " + approval_id) in out
        sub = submitted[0]
        assert sub["statement"].encode() == stmts[0]
        assert sub["signature"].startswith("-----BEGIN SSH SIGNATURE-----")
        # ssh-keygen accepts the signature against the trust store init wrote
        (tmp_path / "s.sig").write_text(sub["signature"])
        v = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(home / "trust/allowed_signers"),
                            "-I", "alice@example.com", "-n", NAMESPACE, "-s", str(tmp_path / "s.sig")],
                           input=stmts[0], capture_output=True)
        assert v.returncode == 0, v.stderr
        assert w.ops() == ["submission.get", "approval.prepare", "approval.submit"]
        r = nc(["approve", SUB["id"], "--yes", "--json"], home=home)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["name"] == "hello"
        assert b"You are about to approve" in r.stderr
    finally:
        w.close()


@pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="needs ssh-keygen")
@pytest.mark.parametrize("tamper", ["max_runs", "invokers", "name", "sha", "expiry", "submission", "garbage"])
def test_approve_refuses_to_sign_a_different_statement(tmp_path, tamper):
    home = tmp_path / "h"
    assert nc(["init", "--generate-key", "--no-passphrase", "--principal", "alice@example.com"],
              home=home).returncode == 0
    submitted = []

    def statement_for(req):
        kw = dict(max_runs=req["max_runs"], invokers=req["invokers"], expires_in=req["expires_in_s"])
        name, sha, sub = "hello", SHA, req["submission"]
        if tamper == "max_runs":
            kw["max_runs"] = 1000
        elif tamper == "invokers":
            kw["invokers"] = ["operator", "agent:mallory"]
        elif tamper == "name":
            name = "other"
        elif tamper == "sha":
            sha = "0" * 64
        elif tamper == "expiry":
            kw["expires_in"] = 86400 * 365
        elif tamper == "submission":
            sub = "s_other"
        elif tamper == "garbage":
            return b'{"not": "a statement"}'
        return make_statement(sub, name, sha, **kw)

    w = FakeWorker(home, approval_handlers(statement_for, submitted))
    try:
        r = nc(["approve", SUB["id"], "--yes"], home=home)
        assert r.returncode == 1, (tamper, r.stdout, r.stderr)
        assert b"not signing" in r.stderr
        assert submitted == []
    finally:
        w.close()


@pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="needs ssh-keygen")
def test_approve_signed_elsewhere(tmp_path):
    home = tmp_path / "h"
    assert nc(["init", "--generate-key", "--no-passphrase", "--principal", "alice@example.com"],
              home=home).returncode == 0
    submitted = []
    stmts = []

    def statement_for(req):
        stmts.append(make_statement(req["submission"], "hello", SHA, max_runs=req["max_runs"],
                                    invokers=req["invokers"], expires_in=req["expires_in_s"]))
        return stmts[-1]

    w = FakeWorker(home, approval_handlers(statement_for, submitted))
    try:
        out_file = tmp_path / "statement.json"
        r = nc(["approve", SUB["id"], "--statement-out", str(out_file)], home=home)
        assert r.returncode == 0, r.stderr
        assert out_file.read_bytes() == stmts[0]
        assert ("ssh-keygen -Y sign -n %s -f KEY %s" % (NAMESPACE, out_file)).encode() in r.stdout
        assert submitted == []
        subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-n", NAMESPACE, "-f", str(home / "keys/approver"),
                        str(out_file)], check=True, capture_output=True)
        r = nc(["approve", SUB["id"], "--statement", str(out_file), "--signature", str(out_file) + ".sig"],
               home=home)
        assert r.returncode == 0, r.stderr
        assert submitted[0]["statement"].encode() == stmts[0]
        assert submitted[0]["signature"] == (tmp_path / "statement.json.sig").read_text()
        # a statement for another submission is a usage error
        r = nc(["approve", "s_other", "--statement", str(out_file), "--signature", str(out_file) + ".sig"],
               home=home)
        assert r.returncode == 2
    finally:
        w.close()


def progress_handlers(submitted):
    """approval.submit answered after approval.progress events: queued, 13 s
    of compiling (one a second), compiled."""
    def submit(req):
        submitted.append(req)
        ev = {"type": "approval.progress", "submission": SUB["id"], "name": "hello", "sha256": SHA,
              "module_bytes": 5 * 1024 * 1024, "at": int(time.time())}
        lines = [dict(ev, phase="queued", elapsed_ms=0)]
        lines += [dict(ev, phase="compiling", elapsed_ms=ms) for ms in range(0, 13001, 1000)]
        lines.append(dict(ev, phase="compiled", elapsed_ms=13400, artifact_bytes=11000000, compile_ms=13000))
        out = b"".join(json.dumps({"event": e}).encode() + b"\n" for e in lines)
        reply = {"id": hashlib.sha256(req["statement"].encode()).hexdigest(), "name": "hello"}
        return Raw(out + json.dumps({"id": req["id"], "ok": True, "result": reply}).encode() + b"\n")
    return {"approval.submit": submit}


def test_approve_shows_compile_progress(tmp_path):
    home = tmp_path / "h"
    assert nc(["init", "--principal", "alice@example.com"], home=home).returncode == 0
    stmt = tmp_path / "statement.json"
    stmt.write_bytes(make_statement(SUB["id"], "hello", SHA))
    sig = tmp_path / "statement.json.sig"
    sig.write_text("-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n")
    submitted = []
    w = FakeWorker(home, progress_handlers(submitted))
    args = ["--home", str(home), "approve", SUB["id"], "--statement", str(stmt), "--signature", str(sig)]
    try:
        # not a terminal: a line every 5 s of compiling, then the end
        r = nc(args[2:], home=home)
        assert r.returncode == 0, r.stderr
        assert submitted[-1]["progress"] is True
        err = r.stderr.decode()
        assert err == ("compiling hello (5 MiB): 5 s\ncompiling hello (5 MiB): 10 s\n"
                       "compiled hello (5 MiB) in 13.4 s\n"), err
        assert b"approved: " in r.stdout
        # a terminal: one line rewritten in place, then the end on a line of its own
        master, slave = os.openpty()
        p = subprocess.Popen([NIGHTCORE, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        assert p.wait(timeout=30) == 0
        tty = out.decode()
        assert "\r\x1b[Kwaiting to compile hello (5 MiB): 0 s" in tty
        assert "\r\x1b[Kcompiling hello (5 MiB): 13 s" in tty
        assert tty.endswith("\r\x1b[Kcompiled hello (5 MiB) in 13.4 s\r\n"), repr(tty)
    finally:
        w.close()


def test_approve_refusal_exit_3(tmp_path):
    if not shutil.which("ssh-keygen"):
        pytest.skip("needs ssh-keygen")
    home = tmp_path / "h"
    assert nc(["init", "--generate-key", "--no-passphrase"], home=home).returncode == 0

    def prepare(req):
        raise Refuse("capability_denied", "policy x grants more than ...")
    w = FakeWorker(home, {"submission.get": lambda r: dict(SUB, id=r["submission"]), "approval.prepare": prepare})
    try:
        r = nc(["approve", SUB["id"], "--yes"], home=home)
        assert r.returncode == 3
        assert b"refused (capability_denied)" in r.stderr
    finally:
        w.close()


def test_trust_add_and_revoke_go_through_the_worker(fake, inited, tmp_path):
    if not shutil.which("ssh-keygen"):
        pytest.skip("needs ssh-keygen")
    key = tmp_path / "k"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "c", "-f", str(key)], check=True)
    # a home without a root of trust: the first key goes in unsigned and becomes the root
    w = fake({"trust.add": lambda r: {"version": 3, "fingerprint": "SHA256:abc", "action": "root"},
              "trust.revoke": lambda r: {"version": 4, "fingerprint": "SHA256:abc"},
              "trust.list": lambda r: {"version": 4, "keys": [], "root": False}})
    r = nc(["trust", "add", str(key) + ".pub", "--principal", "carol@example.com"], home=inited)
    assert r.returncode == 0, r.stderr
    assert b"trusted as the root of trust (the first key of this home): SHA256:abc (trust store version 3)" in r.stdout
    req = w.last("trust.add")
    pub = (tmp_path / "k.pub").read_text().strip()
    assert req["key"] == pub and req["principal"] == "carol@example.com" and "statement" not in req
    r = nc(["trust", "revoke", str(key) + ".pub"], home=inited)
    assert r.returncode == 0 and b"revoked (approvals it signed no longer run): SHA256:abc" in r.stdout
    assert w.last("trust.revoke")["key"] == pub and w.last("trust.revoke")["force"] is False
    r = nc(["trust", "list"], home=inited)
    assert r.returncode == 0 and b"version 4" in r.stdout


# ---------------------------------------------------------------- protocol errors

@pytest.mark.parametrize("reply,needle", [
    (b"this is not json\n", b"not a JSON object"),
    (b'{"id": 999, "ok": true, "result": {}}\n', b"does not match"),
    (b'{"id": 1, "ok": "yes", "result": {}}\n', b"does not match"),
    (b'{"id": 1, "ok": true, "ok": true, "result": {}}\n', b"not a JSON object"),
    (b'{"id": 1, "ok": false, "error": {}}\n', b"without an error code"),
    (b'{"id": 1, "ok": true}\n', b"no result"),
    (b'{"id": 1, "ok": true, "res', b"closed the connection"),
])
def test_bad_responses_are_transport_errors(fake, inited, reply, needle):
    def handler(req):
        return Raw(reply)
    fake({"status": handler})
    r = nc(["worker", "status"], home=inited, timeout=20)
    assert r.returncode == 1, r.stderr
    assert needle in r.stderr, r.stderr


def test_events_before_the_response_are_skipped(fake, inited):
    def handler(req):
        ev = json.dumps({"event": {"type": "alert", "at": 1}}).encode()
        resp = json.dumps({"id": req["id"], "ok": True, "result": {"pid": 7}}).encode()
        return Raw(ev + b"\n" + resp + b"\n")
    fake({"status": handler})
    r = nc(["worker", "status", "--json"], home=inited)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"pid": 7}


def test_response_over_64_mib_is_refused(fake, inited):
    def handler(req):
        return Raw(b'{"id": 1, "ok": true, "result": "' + b"x" * (64 * 1024 * 1024 + 16) + b'"}\n')
    fake({"status": handler})
    r = nc(["worker", "status"], home=inited, timeout=60)
    assert r.returncode == 1
    assert b"longer than 67108864 bytes" in r.stderr


def test_id_null_refusal_is_accepted(fake, inited):
    def handler(req):
        return Raw(b'{"id": null, "ok": false, "error": {"code": "invalid_request", "message": "bad line"}}\n')
    fake({"status": handler})
    r = nc(["worker", "status"], home=inited)
    assert r.returncode == 3
    assert b"refused (invalid_request): bad line" in r.stderr


# ---------------------------------------------------------------- run: exit codes, limits, streamed output

@pytest.mark.parametrize("code,plain,mapped", [(3, 1, 7), (2, 1, 6), (1, 1, 5), (251, 1, 255), (300, 1, 255)])
def test_run_exit_code_mapping(fake, inited, code, plain, mapped):
    fake({"run": lambda r: run_obj(outcome="exit", exit_code=code)})
    assert nc(["run", "hello"], home=inited).returncode == plain
    r = nc(["run", "hello", "--exit-code"], home=inited)
    assert r.returncode == mapped, r.stderr
    assert f"exit (exit {code})".encode() in r.stderr


def test_run_exit_code_keeps_0_to_3(fake, inited):
    w = fake({"run": lambda r: run_obj()})
    assert nc(["run", "hello", "--exit-code"], home=inited).returncode == 0
    w.handlers["run"] = lambda r: run_obj(outcome="trap", exit_code=None, trap_kind="unreachable")
    assert nc(["run", "hello", "--exit-code"], home=inited).returncode == 1   # ran, did not exit

    def refuse(r):
        raise Refuse("not_approved", "nothing approved")
    w.handlers["run"] = refuse
    assert nc(["run", "hello", "--exit-code"], home=inited).returncode == 3
    assert nc(["run", "hello", "--exit-code", "--bogus"], home=inited).returncode == 2


def test_run_summary_names_the_limit(fake, inited):
    w = fake({"run": lambda r: run_obj(outcome="exit", exit_code=2, limits_hit=["memory_bytes"],
                                       limits={"memory_bytes": 64 << 20, "timeout_ms": 5000})})
    r = nc(["run", "hello"], home=inited)
    last = r.stderr.decode().splitlines()[-1]
    assert "memory (memory_bytes 64.0 MiB), exit (exit 2)" in last or "memory (memory_bytes 64 MiB), exit (exit 2)" in last, last
    w.handlers["run"] = lambda r: run_obj(outcome="timeout", exit_code=None, limits_hit=["timeout"],
                                          limits={"timeout_ms": 5000})
    last = nc(["run", "hello"], home=inited).stderr.decode().splitlines()[-1]
    assert "timeout (timeout_ms 5000)" in last, last
    w.handlers["run"] = lambda r: run_obj(outcome="ok", limits_hit=["dir_quota"])
    last = nc(["run", "hello"], home=inited).stderr.decode().splitlines()[-1]
    assert "ok (exit 0)" in last and "limit hit: dir_quota" in last, last


def test_run_writes_raw_events_as_they_come(fake, inited):
    """With output raw, each run.output line is followed by its bytes; the reply carries no output."""
    def events(req):
        assert req["stream"] is True and req["output"] == "raw"
        out = b""
        for stream, data, off in (("stdout", b"one \xff\x00", 0), ("stderr", b"warn", 0), ("stdout", b"two\n", 6)):
            ev = {"event": {"type": "run.output", "run_id": "r_ab12", "invoker": "operator", "stream": stream,
                            "offset": off, "bytes": len(data), "at": 1}}
            out += json.dumps(ev).encode() + b"\n" + data
        out += json.dumps({"event": {"type": "run.progress", "run_id": "r_ab12", "state": "running"}}).encode() + b"\n"
        run = run_obj(stdout_total=10, stderr_total=4)
        for k in ("stdout", "stderr", "stdout_b64", "stderr_b64"):
            del run[k]
        return Raw(out + json.dumps({"id": req["id"], "ok": True, "result": run}).encode() + b"\n")
    fake({"run": events})
    r = nc(["run", "hello"], home=inited)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"one \xff\x00two\n"
    assert r.stderr.startswith(b"warn\nnightcore: run r_ab12 ok")


def test_inbox_show_lists_each_import_once(fake, inited):
    imports = [{"module": "wasi_snapshot_preview1", "name": n, "kind": "func", "capability": "stdio"}
               for n in ("fd_write", "fd_close", "fd_write")]
    sub = dict(SUB, analysis=dict(SUB["analysis"], imports=imports))
    fake({"submission.get": lambda r: sub})
    r = nc(["inbox", "show", SUB["id"]], home=inited)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "imports (3)" in out and "(2 distinct; repeated imports listed once)" in out
    line = [l for l in out.splitlines() if l.strip().startswith("stdio:")][0]
    assert line.count("fd_write") == 1 and "fd_close" in line
