"""Shared fixtures: real binaries on a temporary home."""
import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("NC_BIN", os.path.join(ROOT, "build", "bin"))
FIXTURES = os.environ.get("NC_FIXTURES", os.path.join(os.path.dirname(BIN), "fixtures"))


def fixture(name):
    return os.path.join(FIXTURES, name + ".wasm")


class Home:
    """A Night Core home with a trusted passphrase-less approver key."""

    def __init__(self, path):
        self.path = path
        self.env = dict(os.environ, NIGHTCORE_HOME=path)
        self.env.pop("SSH_AUTH_SOCK", None)
        # The vm tier boots nothing ahead and probes no KVM unless a test asks
        # (tests/integration/test_vm.py): most tests never use it.
        self.env.setdefault("NIGHTCORE_VM_POOL", "0")
        self.env.setdefault("NIGHTCORE_VM_ACCEL", "tcg")

    def nc(self, *args, check=False, timeout=60, stdin=subprocess.DEVNULL, input=None):
        kwargs = {"stdin": stdin} if input is None else {"input": input}
        p = subprocess.run([os.path.join(BIN, "nightcore"), *args], env=self.env, capture_output=True,
                           timeout=timeout, **kwargs)
        if check and p.returncode != 0:
            raise AssertionError(f"nightcore {' '.join(args)} -> {p.returncode}\n{p.stdout.decode()}\n{p.stderr.decode()}")
        return p

    def ncj(self, *args, **kw):
        p = self.nc(*args, "--json", **kw)
        try:
            return p.returncode, json.loads(p.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"not JSON from nightcore {' '.join(args)}: {p.stdout!r} {p.stderr!r}")

    def sock(self, name="control"):
        return Conn(os.path.join(self.path, "run", name + ".sock"))

    def submit(self, fixture_name, name):
        rc, sub = self.ncj("submit", fixture(fixture_name), "--name", name)
        assert rc == 0, sub
        return sub

    def approve(self, sub_id, *extra):
        p = self.nc("approve", sub_id, "--yes", *extra)
        assert p.returncode == 0, p.stderr.decode()
        return p


class Conn:
    """A raw protocol client (docs/protocol.md)."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(30)
        self.s.connect(path)
        self.buf = b""
        self.next_id = 1

    def send_raw(self, data):
        self.s.sendall(data)

    def read_line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, op, **params):
        rid = self.next_id
        self.next_id += 1
        self.send_raw(json.dumps({"id": rid, "op": op, **params}).encode() + b"\n")
        while True:
            msg = self.read_line()
            if "event" in msg:
                continue
            assert msg.get("id") == rid, msg
            return msg

    def close(self):
        self.s.close()


@pytest.fixture
def home():
    path = tempfile.mkdtemp(prefix="nc-it-")
    h = Home(path)
    h.nc("init", "--generate-key", "--no-passphrase", "--principal", "tester@example.com", check=True)
    yield h
    h.nc("worker", "stop", timeout=30)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def worker(home):
    home.nc("worker", "start", check=True)
    return home


def b64file(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def wait_for(cond, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False
