"""Human authority is structural: nothing running as the operator's user can raise
authority without a human's key (docs/approvals.md, docs/sandbox.md "Deployments").

Every test here acts as an agent would: a process of the operator's own user, never
root (root ignores file permissions). The test creates an ordinary operator account
and, for the service deployment, the worker's own account; the binaries and fixtures
are copied where those accounts can run them. The "human" is the same account with a
passphrase-protected key and the passphrase (handed to ssh-keygen through
SSH_ASKPASS); the "agent" is that account without the passphrase.

Needs root (to create the accounts); skipped otherwise."""
import json
import os
import pwd
import secrets
import shutil
import socket
import sqlite3
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, FIXTURES

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="creates accounts: needs root (CI runs as root)")

PROGRAMS = ["nightcore", "nightcore-worker", "nightcore-console", "nightcore-mcp"]
PASS = "correct horse battery staple"


def run(argv, user=None, env=None, input=None, timeout=60, cwd=None):
    kw = {}
    if user is not None:
        pw = pwd.getpwnam(user)
        kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        cwd = cwd or pw.pw_dir
    return subprocess.run(argv, env=env, input=input, capture_output=True, timeout=timeout,
                          stdin=None if input is not None else subprocess.DEVNULL, cwd=cwd, **kw)


class Account:
    def __init__(self, name, system=False):
        self.name = name
        args = ["useradd", "--shell", "/bin/sh"]
        args += ["--system", "--no-create-home", "--home-dir", "/nonexistent"] if system else ["--create-home"]
        subprocess.run(args + [name], check=True, capture_output=True)
        pw = pwd.getpwnam(name)
        self.uid, self.gid, self.home = pw.pw_uid, pw.pw_gid, pw.pw_dir

    def env(self, **extra):
        e = {"HOME": self.home, "USER": self.name, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        e.update(extra)
        return e

    def remove(self):
        subprocess.run(["userdel", "--remove", self.name], capture_output=True)


@pytest.fixture(scope="module")
def world():
    """An operator account, another account, and a copy of the programs they can run."""
    tag = secrets.token_hex(3)
    root = tempfile.mkdtemp(prefix="nc-auth-")
    os.chmod(root, 0o755)
    bindir = os.path.join(root, "bin")
    os.makedirs(bindir)
    for p in PROGRAMS:
        shutil.copy2(os.path.join(BIN, p), bindir)
    fx = os.path.join(root, "fixtures")
    shutil.copytree(FIXTURES, fx)
    for d, _, files in os.walk(root):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o755)
    askpass = os.path.join(root, "askpass")
    with open(askpass, "w") as f:
        f.write("#!/bin/sh\necho '%s'\n" % PASS)
    os.chmod(askpass, 0o755)
    op, other = Account("ncop" + tag), Account("ncot" + tag)
    w = type("World", (), {})()
    w.root, w.bin, w.fixtures, w.askpass, w.op, w.other, w.tag = root, bindir, fx, askpass, op, other, tag
    yield w
    for a in (op, other):
        subprocess.run(["pkill", "-u", a.name], capture_output=True)
    time.sleep(0.3)
    op.remove()
    other.remove()
    shutil.rmtree(root, ignore_errors=True)


def keygen(w, acct, name, passphrase):
    path = os.path.join(acct.home, name)
    for p in (path, path + ".pub"):
        if os.path.exists(p):
            os.unlink(p)
    r = run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f", path], user=acct.name)
    assert r.returncode == 0, r.stderr
    return path


class Operator:
    """The operator's account: as the human (with the passphrase) or as an agent (without)."""

    def __init__(self, w, acct, env):
        self.w, self.acct, self.env = w, acct, env

    def nc(self, *args, human=False, input=None, timeout=60):
        env = dict(self.env)
        if human:   # the human types the passphrase (ssh-keygen reads it through askpass)
            env.update(SSH_ASKPASS=self.w.askpass, SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        return run([os.path.join(self.w.bin, "nightcore"), *args], user=self.acct.name, env=env, input=input,
                   timeout=timeout)

    def ncj(self, *args, **kw):
        r = self.nc(*args, "--json", **kw)
        try:
            return r.returncode, json.loads(r.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"not JSON: {r.stdout!r} {r.stderr!r}")

    def submit(self, fixture, name):
        rc, sub = self.ncj("submit", os.path.join(self.w.fixtures, fixture + ".wasm"), "--name", name)
        assert rc == 0, sub
        return sub

    def approve(self, sid, *extra):
        r = self.nc("approve", sid, "--yes", *extra, human=True)
        assert r.returncode == 0, r.stderr
        return r


def refused(r, code):
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    assert code.encode() in r.stdout + r.stderr, (r.stdout, r.stderr)


SOCK_CALL = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    s.sendall(sys.argv[2].encode() + b"\\n")
except (BrokenPipeError, ConnectionResetError):
    print("CLOSED")   # the worker hung up on a peer it does not serve
    sys.exit(0)
buf = b""
while b"\\n" not in buf:
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:
        chunk = b""
    if not chunk:
        break
    buf += chunk
print(buf.split(b"\\n")[0].decode() or "CLOSED")
"""


def sock_call(user, path, op, **params):
    """One request on a worker socket, made by user (as an agent would, by hand)."""
    r = run(["python3", "-c", SOCK_CALL, path, json.dumps({"id": 1, "op": op, **params})], user=user)
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip()
    return None if out == b"CLOSED" else json.loads(out)


# ------------------------------------------------------------------ the single-user home

@pytest.fixture
def single(world):
    """The operator's own home, its root key passphrase-protected, the worker running as the operator."""
    acct = world.op
    home = os.path.join(acct.home, ".nightcore-" + secrets.token_hex(3))
    op = Operator(world, acct, acct.env(NIGHTCORE_HOME=home))
    key = keygen(world, acct, "approver-" + os.path.basename(home), PASS)
    r = op.nc("init", "--approver-key", key + ".pub", "--principal", "human@example.com")
    assert r.returncode == 0, r.stderr
    r = op.nc("worker", "start")
    assert r.returncode == 0, r.stderr
    op.home, op.key = home, key
    yield op
    op.nc("worker", "stop")
    shutil.rmtree(home, ignore_errors=True)


def test_init_without_a_terminal_makes_no_unprotected_key(world):
    acct = world.op
    home = os.path.join(acct.home, ".nc-fresh-" + secrets.token_hex(3))
    op = Operator(world, acct, acct.env(NIGHTCORE_HOME=home))
    r = op.nc("init", "--generate-key")
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(home, "keys", "approver"))
    out = r.stdout.decode()
    assert "no key was made" in out and "nightcore init --generate-key" in out and "nightcore init --approver-key" in out
    # the worker starts without a key and says so
    assert op.nc("worker", "start").returncode == 0
    rc, st = op.ncj("worker", "status")
    assert st["trust"]["root"] is False and st["trust"]["active_keys"] == 0
    assert b"approvers  none yet" in op.nc("worker", "status").stdout
    # nothing can be approved with a key the agent makes itself afterwards... but the
    # very first key of a keyless home becomes its root: that is the documented
    # trust-on-first-use moment, closed by `system install --approver-key`
    op.nc("worker", "stop")
    shutil.rmtree(home, ignore_errors=True)


def test_self_trust_is_refused(single):
    op = single
    evil = keygen(op.w, op.acct, "evil", "")
    # the CLI prepares a statement for the operator's admin key: without its passphrase, no signature
    r = op.nc("trust", "add", evil + ".pub", "--principal", "evil", "--yes")
    assert r.returncode == 3 and b"signing failed" in r.stderr, r.stderr
    # signing it with the agent's own key: that key is not trusted
    r = op.nc("trust", "add", evil + ".pub", "--principal", "evil", "--yes", "--key", evil)
    refused(r, "untrusted_key")
    # straight to the socket, unsigned
    ans = sock_call(op.acct.name, os.path.join(op.home, "run", "control.sock"), "trust.add",
                    key=open(evil + ".pub").read().strip(), principal="evil")
    assert ans["ok"] is False and ans["error"]["code"] == "signature_required", ans
    rc, lst = op.ncj("trust", "list")
    assert [k["principals"] for k in lst["keys"]] == [["human@example.com"]]
    # and so the self-approval of its own submission fails
    sub = op.submit("hello", "agent-tool")
    r = op.nc("approve", sub["id"], "--yes", "--key", evil, "--principal", "evil")
    refused(r, "untrusted_key")
    refused(op.nc("run", "agent-tool"), "not_approved")


def test_a_human_adds_a_key_with_a_signature(single):
    op = single
    second = keygen(op.w, op.acct, "second", PASS)
    r = op.nc("trust", "add", second + ".pub", "--principal", "second@example.com", "--yes", human=True)
    assert r.returncode == 0, r.stderr
    rc, lst = op.ncj("trust", "list")
    added = [k for k in lst["keys"] if k["principals"] == ["second@example.com"]][0]
    assert added["added"] == "signed" and added["added_by"] == lst["keys"][0]["fingerprint"]
    # ssh-keygen itself accepts the files the worker wrote
    msg = os.path.join(op.acct.home, "m")
    with open(msg, "w") as f:
        f.write("x")
    os.chown(msg, op.acct.uid, op.acct.gid)
    env = dict(op.env, SSH_ASKPASS=op.w.askpass, SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    assert run(["ssh-keygen", "-q", "-Y", "sign", "-n", "nightcore-approval-v1", "-f", second, msg], user=op.acct.name,
               env=env).returncode == 0
    v = run(["ssh-keygen", "-Y", "verify", "-f", os.path.join(op.home, "trust", "allowed_signers"), "-I",
             "second@example.com", "-n", "nightcore-approval-v1", "-s", msg + ".sig"], user=op.acct.name,
            input=b"x")
    assert v.returncode == 0, v.stderr


def test_approve_with_a_protected_key_needs_its_passphrase(single):
    op = single
    sub = op.submit("hello", "hello")
    r = op.nc("approve", sub["id"], "--yes")
    assert r.returncode == 3 and b"signing failed" in r.stderr, r.stderr
    rc, s = op.ncj("inbox", "show", sub["id"])
    assert s["status"] == "pending"
    op.approve(sub["id"])
    assert op.nc("run", "hello").returncode == 0


def test_hand_added_key_is_refused_and_named(single):
    op = single
    evil = keygen(op.w, op.acct, "evil", "")
    sub = op.submit("hello", "hello")
    line = "evil namespaces=\"nightcore-approval-v1\" " + " ".join(open(evil + ".pub").read().split()[:2]) + "\n"
    with open(os.path.join(op.home, "trust", "allowed_signers"), "a") as f:   # an agent's edit
        f.write(line)
    r = op.nc("approve", sub["id"], "--yes", "--key", evil, "--principal", "evil")
    refused(r, "tampered")
    assert b"was not added through Night Core" in r.stderr and b"(evil)" in r.stderr
    rc, st = op.ncj("worker", "status")
    assert "not added through Night Core" in st["trust"]["problem"]
    assert b"FAIL trust" in op.nc("doctor").stdout
    # an approval signed elsewhere with that key: refused the same way
    stmt = os.path.join(op.acct.home, "stmt.json")
    r = op.nc("approve", sub["id"], "--statement-out", stmt)
    assert r.returncode == 3   # even preparing needs an intact trust store
    # restoring from the audit log undoes the edit; then the key is simply untrusted
    r = op.nc("trust", "restore")
    assert r.returncode == 0 and b"they differed" in r.stdout, r.stderr
    refused(op.nc("approve", sub["id"], "--yes", "--key", evil, "--principal", "evil"), "untrusted_key")


def test_emptied_revoked_keys_is_refused(single):
    op = single
    second = keygen(op.w, op.acct, "second", PASS)
    assert op.nc("trust", "add", second + ".pub", "--principal", "second@example.com", "--yes",
                 human=True).returncode == 0
    sub = op.submit("hello", "hello")
    op.approve(sub["id"], "--key", second, "--principal", "second@example.com")
    assert op.nc("run", "hello").returncode == 0
    assert op.nc("trust", "revoke", second + ".pub").returncode == 0
    refused(op.nc("run", "hello"), "revoked_key")
    for how in ("empty", "delete"):
        path = os.path.join(op.home, "trust", "revoked_keys")
        saved = open(path).read()
        if how == "empty":
            open(path, "w").close()
        else:
            os.unlink(path)
        r = op.nc("run", "hello")
        refused(r, "tampered")
        assert b"revoked_keys is missing key" in r.stderr and b"a revocation was removed" in r.stderr
        with open(path, "w") as f:
            f.write(saved)
        os.chown(path, op.acct.uid, op.acct.gid)
        refused(op.nc("run", "hello"), "revoked_key")


def db_edit(op, sql, *args):
    c = sqlite3.connect(os.path.join(op.home, "state", "nightcore.db"))
    c.execute(sql, args)
    c.commit()
    c.close()


def test_database_edits_of_runs_and_revocations_are_refused(single):
    op = single
    sub = op.submit("hello", "hello")
    op.approve(sub["id"], "--max-runs", "1")
    rc, run1 = op.ncj("run", "hello")
    assert rc == 0, run1
    refused(op.nc("run", run1["approval_id"]), "max_runs_exceeded")
    db_edit(op, "UPDATE approvals SET runs = 0")   # the agent resets the counter
    r = op.nc("run", run1["approval_id"])
    refused(r, "tampered")
    assert b"its run count was edited outside Night Core" in r.stderr
    db_edit(op, "UPDATE approvals SET runs = 1")
    sub2 = op.submit("compute", "compute")
    op.approve(sub2["id"], "--max-runs", "5")
    rc, ap = op.ncj("approvals", "--name", "compute")
    aid = ap["items"][0]["id"]
    assert op.nc("revoke", aid).returncode == 0
    db_edit(op, "UPDATE approvals SET revoked = 0 WHERE id = ?", aid)   # the agent un-revokes it
    r = op.nc("run", aid)
    refused(r, "tampered")
    assert b"un-revoked outside Night Core" in r.stderr


def test_home_owned_by_another_user_is_refused(world):
    home = tempfile.mkdtemp(prefix="nc-foreign-", dir=world.root)
    os.chmod(home, 0o755)
    r = run([os.path.join(world.bin, "nightcore"), "--home", home, "init"], env=world.op.env())
    assert r.returncode == 0
    for d, dirs, files in os.walk(home):
        os.chmod(d, 0o755)
    # the operator starts a worker on root's home: refused, named
    r = run([os.path.join(world.bin, "nightcore-worker"), "serve", "--home", home], user=world.op.name,
            env=world.op.env(), timeout=20)
    assert r.returncode == 1 and b"belongs to root" in r.stderr and b"refusing to start" in r.stderr, r.stderr
    # a home of the operator's with a group-writable state directory: refused
    own = os.path.join(world.op.home, ".nc-gw-" + secrets.token_hex(3))
    op = Operator(world, world.op, world.op.env(NIGHTCORE_HOME=own))
    assert op.nc("init").returncode == 0
    os.chmod(os.path.join(own, "state"), 0o770)
    r = run([os.path.join(world.bin, "nightcore-worker"), "serve", "--home", own], user=world.op.name,
            env=world.op.env(), timeout=20)
    assert r.returncode == 1 and b"writable by its group" in r.stderr, r.stderr
    shutil.rmtree(own, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)


def planted_server(path, uid):
    """A control.sock served by another user (bound, then that user listens)."""
    r, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.bind(path)
            os.chmod(path, 0o666)
            os.setgid(uid)
            os.setuid(uid)
            s.listen(4)   # SO_PEERCRED reports who listened
            os.write(wfd, b"x")
            while True:
                c, _ = s.accept()
                try:
                    if c.recv(65536):
                        c.sendall(b'{"id":1,"ok":true,"result":{"protocol":1,"worker_id":"w_fake","version":"0"}}\n')
                except OSError:
                    pass
                c.close()
        finally:
            os._exit(0)
    os.read(r, 1)
    return pid


def test_planted_control_socket_is_refused(single):
    op = single
    assert op.nc("worker", "stop").returncode == 0
    path = os.path.join(op.home, "run", "control.sock")
    pid = planted_server(path, op.w.other.uid)
    try:
        r = op.nc("worker", "status")
        assert r.returncode == 1 and b"not by the worker's user" in r.stderr, r.stderr
        assert op.w.other.name.encode() in r.stderr
        sub_r = op.nc("submit", os.path.join(op.w.fixtures, "hello.wasm"), "--name", "x")
        assert sub_r.returncode == 1 and b"refusing to talk to it" in sub_r.stderr
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.unlink(path)
    assert op.nc("worker", "start").returncode == 0


def test_console_with_a_stolen_session_cannot_sign(single):
    """A console session alone is not a human: the key's passphrase is."""
    import http.client
    import re
    import select
    op = single
    env = dict(op.env)
    p = subprocess.Popen([os.path.join(op.w.bin, "nightcore-console"), "--listen", "127.0.0.1:0", "--principal",
                          "human@example.com", "--key", op.key], env=env, user=op.acct.uid, group=op.acct.gid,
                         extra_groups=[], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL, cwd=op.acct.home)
    try:
        assert select.select([p.stdout], [], [], 15)[0]
        m = re.search(rb"http://127\.0\.0\.1:(\d+)/\?token=([0-9a-f]+)", p.stdout.readline())
        port, token = int(m.group(1)), m.group(2).decode()
        host = f"127.0.0.1:{port}"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/api/session", body=json.dumps({"token": token}),
                     headers={"Host": host, "Origin": "http://" + host, "Content-Type": "application/json"})
        resp = conn.getresponse()
        secret = json.loads(resp.read())["session"]
        hdr = {"Host": host, "Authorization": "Bearer " + secret, "Origin": "http://" + host,
               "Content-Type": "application/json"}
        sub = op.submit("hello", "stolen")

        def post(path, body):
            conn.request("POST", path, body=json.dumps(body), headers=hdr)
            r = conn.getresponse()
            return r.status, json.loads(r.read() or b"{}")

        st, prep = post(f"/api/submissions/{sub['id']}/prepare", {})
        assert st == 200, prep
        assert prep["signer"]["protection"] == "passphrase"
        st, ans = post(f"/api/submissions/{sub['id']}/approve", {"approval_id": prep["approval_id"]})
        assert st == 403 and ans["error"]["code"] == "human_required", ans
        st, ans = post(f"/api/submissions/{sub['id']}/approve", {"approval_id": prep["approval_id"],
                                                                 "passphrase": "a guess"})
        assert st == 409 and ans["error"]["code"] == "signing_failed", ans
        rc, s = op.ncj("inbox", "show", sub["id"])
        assert s["status"] == "pending"
        # the human, with the passphrase
        st, ans = post(f"/api/submissions/{sub['id']}/approve", {"approval_id": prep["approval_id"],
                                                                 "passphrase": PASS})
        assert st == 200, ans
    finally:
        p.terminate()
        p.wait(10)


# ------------------------------------------------------------------ the service deployment

@pytest.fixture(scope="module")
def service(world):
    """`nightcore system install` into a scratch prefix, its worker started without systemd."""
    svc = "ncsv" + world.tag
    base = os.path.join(world.root, "sys")
    os.makedirs(base)
    os.chmod(base, 0o755)
    sysjson = os.path.join(base, "etc", "system.json")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NIGHTCORE_SYSTEM": sysjson, "HOME": "/root"}
    key = keygen(world, world.op, "svc-approver", PASS)
    r = run([os.path.join(world.bin, "nightcore"), "system", "install", "--user", svc, "--operator", world.op.name,
             "--approver-key", key + ".pub", "--principal", "human@example.com", "--prefix", base, "--state-dir",
             os.path.join(base, "var", "nightcore"), "--run-dir", os.path.join(base, "run"), "--no-systemd"],
            env=env, timeout=120)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    r = run([os.path.join(base, "bin", "nightcore"), "system", "start"], env=env, timeout=60)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    op = Operator(world, world.op, world.op.env(NIGHTCORE_SYSTEM=sysjson))
    op.w = type("W", (), dict(vars(world)))()
    op.w.bin = os.path.join(base, "bin")
    op.w.fixtures, op.w.askpass = world.fixtures, world.askpass
    op.key, op.state, op.run_dir, op.sysjson, op.svc = key, os.path.join(base, "var", "nightcore"), \
        os.path.join(base, "run"), sysjson, svc
    r = op.nc("init", "--approver-key", key + ".pub", "--principal", "human@example.com")
    assert r.returncode == 0, r.stderr
    yield op
    run([os.path.join(base, "bin", "nightcore"), "system", "uninstall", "--purge"], env=env, timeout=60)


def test_service_install_runs_modules(service):
    op = service
    st = os.stat(op.state)
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == pwd.getpwnam(op.svc).pw_uid
    rc, status = op.ncj("worker", "status")
    assert rc == 0 and status["deployment"]["mode"] == "service" and status["deployment"]["user"] == op.svc
    sub = op.submit("hello", "svc-hello")
    op.approve(sub["id"])
    r = op.nc("run", "svc-hello")
    assert r.returncode == 0 and r.stdout == b"hello, world\n", r.stderr
    d = op.nc("doctor")
    assert d.returncode == 0, d.stdout
    assert b"ok   deployment    service account" in d.stdout and b"passphrase, trusted" in d.stdout
    # the operator cannot read the log; the worker verifies it
    rc, rep = op.ncj("audit", "verify")
    assert rc == 0 and rep["ok"] is True and rep["by_worker"] is True and rep["entries"] > 0, rep
    assert b"verified by the worker" in op.nc("audit", "verify").stdout


def test_service_state_is_out_of_the_agents_reach(service):
    op = service
    py = "import sys\ntry:\n    open(sys.argv[1], sys.argv[2])\nexcept PermissionError:\n    print('EACCES')\n"
    for path, mode in [(os.path.join(op.state, "keys", "worker.key"), "r"),
                       (os.path.join(op.state, "state", "nightcore.db"), "r+b"),
                       (os.path.join(op.state, "trust", "allowed_signers"), "a"),
                       (os.path.join(op.state, "trust", "revoked_keys"), "w"),
                       (os.path.join(op.run_dir, "planted.sock"), "w")]:
        r = run(["python3", "-c", py, path, mode], user=op.acct.name)
        assert r.stdout.strip() == b"EACCES", (path, r.stdout, r.stderr)
    # unsigned trust changes: refused by the worker
    evil = keygen(op.w, op.acct, "evil-svc", "")
    ans = sock_call(op.acct.name, os.path.join(op.run_dir, "control.sock"), "trust.add",
                    key=open(evil + ".pub").read().strip(), principal="evil")
    assert ans["error"]["code"] == "signature_required"
    refused(op.nc("trust", "add", evil + ".pub", "--principal", "evil", "--yes", "--key", evil), "untrusted_key")
    r = op.nc("trust", "add", evil + ".pub", "--principal", "evil", "--yes")
    assert r.returncode == 3 and b"signing failed" in r.stderr
    # the operator's key without its passphrase approves nothing
    sub = op.submit("hello", "svc-agent")
    assert op.nc("approve", sub["id"], "--yes").returncode == 3
    refused(op.nc("run", "svc-agent"), "not_approved")
    # another user reaches the agent socket (where a token is needed), never the control socket
    assert sock_call(op.w.other.name, os.path.join(op.run_dir, "control.sock"), "hello") is None
    ans = sock_call(op.w.other.name, os.path.join(op.run_dir, "agent.sock"), "hello")
    assert ans["error"]["code"] == "unauthorized", ans
