"""Operator policies and grants (docs/policies.md): policies signed when they widen, narrowed
without a signature, versioned, removed; approvals that grant directories and environment within
a policy, resolved and shown before signing, used by a real module; everything a grant must refuse."""
import json
import os
import shutil
import sqlite3
import subprocess

import pytest

from conftest import Conn, fixture


@pytest.fixture
def srv(tmp_path):
    """Host directories to grant: a read-only data set and a scratch directory."""
    ro = tmp_path / "srv" / "ro"
    (ro / "sub").mkdir(parents=True)
    (ro / "hello.txt").write_text("hello from the host")
    scratch = tmp_path / "srv" / "scratch"
    scratch.mkdir()
    return tmp_path / "srv"


def policy_file(tmp_path, name, caps, **extra):
    p = tmp_path / (name + ".json")
    p.write_text(json.dumps({"name": name, "capabilities": caps, **extra}))
    return str(p)


def files_caps(srv, rw_quota=1 << 20):
    return {"args": True, "env": {"LANG": "C", "GREETING": None},
            "dirs": [{"host": str(srv / "ro"), "guest": "/ro", "mode": "ro"},
                     {"host": str(srv / "scratch"), "guest": "/data", "mode": "rw", "quota_bytes": rw_quota,
                      "quota_files": 100}]}


def audit_entries(home, kind):
    db = sqlite3.connect(os.path.join(home.path, "state", "nightcore.db"))
    rows = [json.loads(e) for (e,) in db.execute("SELECT entry FROM audit_log WHERE kind = ? ORDER BY seq", (kind,))]
    db.close()
    return rows


def test_policy_add_is_signed_narrowing_is_not(worker, srv, tmp_path):
    pf = policy_file(tmp_path, "files", files_caps(srv))
    p = worker.nc("policy", "add", pf, "--yes")
    assert p.returncode == 0, p.stderr
    assert b"You are about to change a policy" in p.stdout and b"policy files is now version 1" in p.stdout
    assert b"READ-WRITE" in p.stdout and b"(the approver's choice)" in p.stdout
    rc, lst = worker.ncj("policy", "list")
    files = [x for x in lst["items"] if x["name"] == "files"][0]
    assert files["version"] == 1 and files["builtin"] is False
    assert {x["name"]: x["version"] for x in lst["items"] if x["builtin"]} == {"default": 1, "strict": 1}
    (entry,) = audit_entries(worker, "policy.set")
    assert entry["how"] == "signed" and entry["version"] == 1 and "nightcore-admin-v1" not in entry["statement"]
    assert entry["signature"].startswith("-----BEGIN SSH SIGNATURE-----")
    # narrowing (the scratch directory goes): no signature, version 2
    caps = files_caps(srv)
    caps["dirs"] = caps["dirs"][:1]
    narrow = tmp_path / "narrow"
    narrow.mkdir()
    p = worker.nc("policy", "add", policy_file(narrow, "files", caps))
    assert p.returncode == 0 and b"narrowed: now version 2 (no signature needed" in p.stdout, p.stderr
    # the same again changes nothing
    assert worker.nc("policy", "add", policy_file(narrow, "files", caps)).returncode == 0
    assert worker.ncj("policy", "show", "files")[1]["version"] == 2
    assert audit_entries(worker, "policy.set")[-1]["how"] == "narrowed"
    # widening without a signature, straight to the socket: refused
    c = worker.sock()
    ans = c.call("policy.add", policy=json.loads(open(pf).read()))
    assert ans["error"]["code"] == "signature_required" and "READ-WRITE" not in ans["error"]["message"]
    assert "raises authority" in ans["error"]["message"]
    # a key that is not trusted cannot sign it
    evil = tmp_path / "evil"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(evil)], check=True)
    p = worker.nc("policy", "add", pf, "--yes", "--key", str(evil))
    assert p.returncode == 3 and b"untrusted_key" in p.stderr
    rc, shown = worker.ncj("policy", "show", "files")
    assert shown["version"] == 2 and len(shown["capabilities"]["dirs"]) == 1
    # signed again: version 3
    assert worker.nc("policy", "add", pf, "--yes").returncode == 0
    assert worker.ncj("policy", "show", "files")[1]["version"] == 3
    # the built-ins cannot be replaced
    p = worker.nc("policy", "add", policy_file(tmp_path, "default", {"args": True}), "--yes")
    assert p.returncode == 3 and b"built-in" in p.stderr


def test_policy_survives_a_restart_and_hand_edits_have_no_effect(worker, srv, tmp_path):
    pf = policy_file(tmp_path, "files", files_caps(srv))
    assert worker.nc("policy", "add", pf, "--yes").returncode == 0
    path = os.path.join(worker.path, "policies", "files.json")
    wider = json.load(open(path))
    wider["capabilities"]["dirs"][0]["mode"] = "rw"   # an agent's edit
    with open(path, "w") as f:
        json.dump(wider, f)
    rc, lst = worker.ncj("policy", "list")
    assert "policies/files.json was edited outside Night Core" in lst["problem"]
    worker.nc("worker", "stop", check=True)
    worker.nc("worker", "start", check=True)
    rc, shown = worker.ncj("policy", "show", "files")
    assert shown["version"] == 1 and shown["capabilities"]["dirs"][0]["mode"] == "ro"
    sub = worker.submit("hello", "hello")
    p = worker.nc("approve", sub["id"], "--yes", "--policy", "files", "--dir", str(srv / "ro") + ":/ro:rw")
    assert p.returncode == 3 and b"capability_denied" in p.stderr and b"read-only" in p.stderr


def test_remove_and_version_numbers_go_on(worker, srv, tmp_path):
    pf = policy_file(tmp_path, "files", files_caps(srv))
    assert worker.nc("policy", "add", pf, "--yes").returncode == 0
    p = worker.nc("policy", "remove", "files")
    assert p.returncode == 0 and b"removed" in p.stdout
    assert not os.path.exists(os.path.join(worker.path, "policies", "files.json"))
    sub = worker.submit("hello", "hello")
    p = worker.nc("approve", sub["id"], "--yes", "--policy", "files")
    assert p.returncode == 1 and b"no policy named files" in p.stderr
    assert worker.nc("policy", "remove", "default").returncode == 3
    assert worker.nc("policy", "add", pf, "--yes").returncode == 0
    assert worker.ncj("policy", "show", "files")[1]["version"] == 3   # 1, removed at 2, back at 3


def test_grants_reach_a_real_module(worker, srv, tmp_path):
    assert worker.nc("policy", "add", policy_file(tmp_path, "files", files_caps(srv)), "--yes").returncode == 0
    sub = worker.submit("guest_wasi_files", "files")
    p = worker.nc("approve", sub["id"], "--yes", "--policy", "files", "--dir", str(srv / "ro") + ":/ro:ro",
                  "--dir", str(srv / "scratch") + ":/data:rw", "--env", "GREETING=hi")
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    # shown before signing: each directory, its mode, quota, device and inode; the env; the policy version
    assert "policy        files, version 1" in out
    assert f"{srv / 'ro'} as /ro, read-only (device " in out
    assert f"{srv / 'scratch'} as /data, READ-WRITE, may add 1.0 MiB and 100 files" in out
    assert "env GREETING=hi" in out
    rc, run = worker.ncj("run", "files")
    assert rc == 0, run
    lines = dict(line.split("=", 1) for line in run["stdout"].splitlines())
    assert lines["ro_read"] == "hello from the host"
    assert lines["ro_create"] == "err76" and lines["ro_mkdir"] == "err76"   # ENOTCAPABLE: a read-only grant
    assert lines["write"] == "0" and lines["rmdir"] == "0"
    assert sorted(os.listdir(srv / "scratch")) == ["kept.txt"]
    assert run["denied_calls"] >= 4
    # the approval records the policy and its version; the run's score counts the rw grant
    rc, aps = worker.ncj("approvals", "--name", "files")
    assert aps["items"][0]["policy"] == "files" and aps["items"][0]["policy_version"] == 1
    factors = {f["factor"]: f["points"] for f in run["threat"]["factors"]}
    assert factors["granted_rw_dirs"] == 10 and factors["granted_env"] == 2


def test_grants_are_refused_outside_the_policy(worker, srv, tmp_path):
    assert worker.nc("policy", "add", policy_file(tmp_path, "files", files_caps(srv)), "--yes").returncode == 0
    sub = worker.submit("hello", "hello")
    (tmp_path / "elsewhere").mkdir()
    os.symlink(srv / "ro", tmp_path / "link")
    (srv / "ro" / "afile").write_text("x")
    cases = [
        (["--dir", str(tmp_path / "elsewhere") + ":/x"], b"not at or beneath a directory of the policy"),
        (["--dir", str(srv / "ro") + ":/x:rw"], b"the policy allows it read-only"),
        (["--dir", str(tmp_path / "link") + ":/x"], b"not at or beneath"),
        (["--dir", str(srv / "ro" / "missing") + ":/x"], b"No such file or directory"),
        (["--dir", str(srv / "ro" / "afile") + ":/x"], b"is not a directory"),
        (["--env", "LANG=fr_FR"], b"environment variable LANG is not allowed"),
        (["--env", "HOME=/root"], b"environment variable HOME is not allowed"),
    ]
    for extra, needle in cases:
        p = worker.nc("approve", sub["id"], "--yes", "--policy", "files", *extra)
        assert p.returncode == 3 and needle in p.stderr, (extra, p.stderr)
    # a symlink component beneath a granted directory
    os.symlink(tmp_path / "elsewhere", srv / "ro" / "sneaky")
    p = worker.nc("approve", sub["id"], "--yes", "--policy", "files", "--dir", str(srv / "ro" / "sneaky") + ":/x")
    assert p.returncode == 3 and b"symbolic link" in p.stderr, p.stderr
    # the home, or a parent of it, is never granted, whatever the policy says
    wide = policy_file(tmp_path, "wide", {"dirs": [{"host": "/", "guest": "/all", "mode": "ro"}]})
    assert worker.nc("policy", "add", wide, "--yes").returncode == 0
    for d in (worker.path, os.path.join(worker.path, "state"), os.path.dirname(worker.path)):
        p = worker.nc("approve", sub["id"], "--yes", "--policy", "wide", "--dir", d + ":/x")
        assert p.returncode == 3 and b"Night Core home" in p.stderr, (d, p.stderr)
    # malformed flags never reach the worker
    for bad in (["--dir", "relative:/x"], ["--dir", "/a"], ["--dir", "/a:/b:rx"], ["--env", "NOEQUALS"]):
        p = worker.nc("approve", sub["id"], "--yes", *bad)
        assert p.returncode == 2, (bad, p.stderr)
    assert worker.ncj("approvals")[1]["items"] == []


def test_grant_requested(worker, srv, tmp_path):
    assert worker.nc("policy", "add", policy_file(tmp_path, "files", files_caps(srv)), "--yes").returncode == 0
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"description": "reads data", "capabilities": {
        "args": True, "env": {"GREETING": "hello"}, "dirs": [{"host": str(srv / "ro"), "guest": "/ro", "mode": "ro"}]}}))
    rc, sub = worker.ncj("submit", fixture("guest_wasi_files"), "--name", "asks", "--manifest", str(manifest))
    assert rc == 0, sub
    p = worker.nc("inbox", "show", sub["id"])
    out = p.stdout.decode()
    assert "grantable" in out
    assert any(l.split()[:4] == ["files", "v1", "all", "of"] for l in out.splitlines())
    assert any(l.split()[:3] == ["default", "v1", "not"] for l in out.splitlines())
    assert f"nightcore approve {sub['id']} --policy files --grant-requested" in out
    factors = {f["factor"]: f["points"] for f in sub["threat"]["factors"]}
    assert factors["requested_dirs"] == 5
    # under a policy that does not allow it: refused, naming what
    p = worker.nc("approve", sub["id"], "--yes", "--grant-requested")
    assert p.returncode == 3 and b"capability_denied" in p.stderr and b"is not allowed" in p.stderr
    p = worker.nc("approve", sub["id"], "--yes", "--grant-requested", "--policy", "files")
    assert p.returncode == 0, p.stderr
    rc, ap = worker.ncj("approvals", "--name", "asks")
    caps = ap["items"][0]["capabilities"]
    assert caps["env"] == {"GREETING": "hello"} and [d["guest"] for d in caps["dirs"]] == ["/ro"]
    assert worker.nc("approve", sub["id"], "--yes", "--grant-requested", "--dir", "/a:/b").returncode == 2


def test_policy_change_never_widens_an_existing_approval(worker, srv, tmp_path):
    caps = files_caps(srv)
    assert worker.nc("policy", "add", policy_file(tmp_path, "files", caps), "--yes").returncode == 0
    sub = worker.submit("hello", "hello")
    worker.approve(sub["id"], "--policy", "files", "--dir", str(srv / "ro") + ":/ro")
    # a statement prepared now, signed later, after the policy changed: stale
    stmt = tmp_path / "stmt.json"
    sub2 = worker.submit("compute", "compute")
    assert worker.nc("approve", sub2["id"], "--policy", "files", "--statement-out", str(stmt)).returncode == 0
    caps["args"] = False
    assert worker.nc("policy", "add", policy_file(tmp_path, "files", caps)).returncode == 0   # narrowed: v2
    subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-n", "nightcore-approval-v1", "-f",
                    os.path.join(worker.path, "keys", "approver"), str(stmt)], check=True)
    p = worker.nc("approve", sub2["id"], "--statement", str(stmt), "--signature", str(stmt) + ".sig")
    assert p.returncode == 3 and b"stale_statement" in p.stderr and b"version 2" in p.stderr
    # the first approval keeps exactly what it was signed with
    p = worker.nc("run", "hello", "--", "an-arg")
    assert p.returncode == 0, p.stderr
    rc, aps = worker.ncj("approvals", "--name", "hello")
    assert aps["items"][0]["policy_version"] == 1 and aps["items"][0]["capabilities"]["args"] is True


def test_policy_can_require_a_security_key(worker, srv, tmp_path):
    pf = policy_file(tmp_path, "fido-only", {"args": True}, require_key="security-key")
    assert worker.nc("policy", "add", pf, "--yes").returncode == 0
    sub = worker.submit("hello", "hello")
    p = worker.nc("approve", sub["id"], "--yes", "--policy", "fido-only")
    assert p.returncode == 3 and b"requires approvals signed by a security key" in p.stderr, p.stderr
    assert worker.ncj("approvals")[1]["items"] == []


# ---- hostile guests against real grants, through the whole signed flow ----

def grant_policy(worker, tmp_path, dirs, name="g"):
    pf = policy_file(tmp_path, name, {"dirs": dirs})
    assert worker.nc("policy", "add", pf, "--yes").returncode == 0


def test_guest_cannot_leave_its_grant(worker, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "hello.txt").write_text("hi\n")
    os.symlink("/etc", data / "link")
    grant_policy(worker, tmp_path, [{"host": str(data), "guest": "/data", "mode": "rw", "quota_bytes": 1 << 20,
                                     "quota_files": 10}])
    sub = worker.submit("guest_fs_escape", "escape")
    worker.approve(sub["id"], "--policy", "g", "--dir", f"{data}:/data:rw")
    rc, run = worker.ncj("run", "escape")
    assert rc == 0, run
    got = dict(line.split("=", 1) for line in run["stdout"].splitlines() if "=" in line)
    assert got["etc_passwd"] == "denied" and got["dotdot"] == "denied" and got["symlink"] == "denied", got
    assert got["inside_read"] == "ok" and got["inside_create"] == "ok", got
    reasons = {d["reason"] for d in run["denied"]}
    assert "path_escape" in reasons or "not_capable" in reasons, run["denied"]


def test_grant_swapped_after_approval_is_refused(worker, tmp_path):
    """The directory a human approved is bound by device and inode: replaced
    by another directory, or by a symlink to one, after approval, the run is
    refused and nothing runs."""
    data = tmp_path / "data"
    data.mkdir()
    grant_policy(worker, tmp_path, [{"host": str(tmp_path), "guest": "/data", "mode": "ro"}])
    sub = worker.submit("guest_wasi_files", "files")
    worker.approve(sub["id"], "--policy", "g", "--dir", f"{data}:/data:ro")
    os.rename(data, tmp_path / "approved")
    (tmp_path / "other").mkdir()
    os.symlink(tmp_path / "other", data)                  # a symlink in its place
    rc, r = worker.ncj("run", "files")
    assert rc == 3 and r["error"]["code"] == "capability_denied", r
    os.unlink(data)
    data.mkdir()                                          # another directory of the same name
    rc, r = worker.ncj("run", "files")
    assert rc == 3 and r["error"]["code"] == "capability_denied", r
    assert "inode" in r["error"]["message"], r
    assert worker.ncj("approvals")[1]["items"][0]["runs"] == 0   # refusals use up nothing


def test_quota_and_read_only_hold(worker, tmp_path):
    scratch, ro = tmp_path / "scratch", tmp_path / "ro"
    scratch.mkdir()
    ro.mkdir()
    grant_policy(worker, tmp_path, [{"host": str(scratch), "guest": "/data", "mode": "rw", "quota_bytes": 10000,
                                     "quota_files": 10}])
    sub = worker.submit("quota_fill", "fill")
    worker.approve(sub["id"], "--policy", "g", "--dir", f"{scratch}:/data:rw")
    rc, run = worker.ncj("run", "fill")
    assert run["outcome"] == "exit" and run["exit_code"] == 19, run      # DQUOT
    assert "dir_quota" in run["limits_hit"]
    assert os.path.getsize(scratch / "fill") == 8192
    # the same module under a read-only grant writes nothing at all
    grant_policy(worker, tmp_path, [{"host": str(ro), "guest": "/data", "mode": "ro"}], name="r")
    sub2 = worker.submit("quota_fill", "fill-ro")
    worker.approve(sub2["id"], "--policy", "r", "--dir", f"{ro}:/data:ro")
    rc, run = worker.ncj("run", "fill-ro")
    assert run["outcome"] == "exit" and run["exit_code"] == 76, run      # ENOTCAPABLE
    assert os.listdir(ro) == []
