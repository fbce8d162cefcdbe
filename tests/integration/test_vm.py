"""The vm isolation tier end to end (docs/sandbox.md, "vm"): a policy that says
"isolation": "vm", an approval under it that shows and signs the tier, runs in a
real microVM (QEMU microvm, TCG on these machines) from the CLI, through MCP, and
approved in the console; worker status and receipts name the tier and its
accelerator; directory grants and a host without QEMU are refused, never run in
a weaker tier. Few VM runs: each boots a kernel under emulation."""
import ctypes
import json
import os
import sqlite3

import pytest

from conftest import Home, wait_for
from test_console import Console, restart_worker
from test_mcp_agent import Session, add_agent, submit


def policy_file(tmp_path, name, caps=None, **extra):
    p = tmp_path / (name + ".json")
    p.write_text(json.dumps({"name": name, "isolation": "vm",
                             "capabilities": caps if caps is not None else {"args": True, "stdin": True}, **extra}))
    return str(p)


@pytest.fixture
def vmworker(home, tmp_path):
    home.env["NIGHTCORE_VM_POOL"] = "1"
    home.env["NIGHTCORE_VM_ACCEL"] = "tcg"
    home.nc("worker", "start", check=True)
    p = home.nc("policy", "add", policy_file(tmp_path, "vm"), "--yes")
    assert p.returncode == 0, p.stderr
    return home


def run_end_entries(home):
    db = sqlite3.connect(os.path.join(home.path, "state", "nightcore.db"))
    rows = [json.loads(e) for (e,) in db.execute("SELECT entry FROM audit_log WHERE kind = 'run.end' ORDER BY seq")]
    db.close()
    return rows


def tiers(home):
    rc, st = home.ncj("worker", "status")
    assert rc == 0, st
    return {t["tier"]: t for t in st["tiers"]}


def test_vm_policy_runs_in_a_microvm_from_the_cli(vmworker):
    w = vmworker
    sub = w.submit("hello", "hello-vm")
    p = w.nc("approve", sub["id"], "--yes", "--policy", "vm")
    assert p.returncode == 0, p.stderr
    # shown before signing, and signed
    assert "isolation     vm (each run in its own throw-away microVM" in p.stdout.decode()
    rc, aps = w.ncj("approvals", "--name", "hello-vm")
    assert rc == 0 and aps["items"][0]["policy"] == "vm"
    rc, run = w.ncj("run", "hello-vm", timeout=180)
    assert rc == 0, run
    assert run["outcome"] == "ok" and run["stdout"] == "hello, world\n"
    iso = run["isolation"]
    assert iso["tier"] == "vm" and iso["accel"] == "tcg" and iso["seccomp"] is True and iso["vm_memory_mib"] > 0
    # QEMU itself runs confined: its own namespaces, and Landlock where the kernel has it
    assert iso["qemu_userns"] is True and iso["qemu_netns"] is True, iso
    libc = ctypes.CDLL(None, use_errno=True)
    landlock = libc.syscall(444, None, 0, 1) > 0   # landlock_create_ruleset(NULL, 0, VERSION): the host's ABI
    assert iso["qemu_landlock"] is landlock, iso
    # the receipt names the tier and the accelerator
    assert run_end_entries(w)[-1]["isolation"] == {"tier": "vm", "accel": "tcg"}
    # worker status: both tiers, the vm one with its accelerator and pool
    t = tiers(w)
    assert t["process"]["available"] is True and t["process"]["accel"] == "none"
    assert t["vm"]["available"] is True and t["vm"]["accel"] == "tcg" and t["vm"]["pool_size"] == 1
    p = w.nc("worker", "status")
    assert b"vm      available, accelerator tcg, pool " in p.stdout, p.stdout
    assert b"ok   tier vm       available, accelerator tcg" in w.nc("doctor").stdout
    # a process-tier approval of the same module still runs as a process
    sub2 = w.submit("hello", "hello-proc")
    w.approve(sub2["id"])
    rc, run2 = w.ncj("run", "hello-proc")
    assert rc == 0 and run2["isolation"]["tier"] == "process" and "accel" not in run2["isolation"]
    assert run_end_entries(w)[-1]["isolation"] == {"tier": "process"}


def test_vm_runs_keep_their_limits_and_the_host_kills_a_hang(vmworker):
    w = vmworker
    sub = w.submit("infinite_loop", "spin-vm")
    assert w.nc("approve", sub["id"], "--yes", "--policy", "vm").returncode == 0
    rc, run = w.ncj("run", "spin-vm", timeout=180)
    assert run["outcome"] == "timeout" and "timeout" in run["limits_hit"], run
    assert run["isolation"]["tier"] == "vm"


def test_vm_policies_grant_no_directories(vmworker, tmp_path):
    w = vmworker
    d = tmp_path / "data"
    d.mkdir()
    pf = policy_file(tmp_path, "vmdirs", {"dirs": [{"host": str(d), "guest": "/data", "mode": "ro"}]})
    assert w.nc("policy", "add", pf, "--yes").returncode == 0
    sub = w.submit("hello", "hello-dirs")
    p = w.nc("approve", sub["id"], "--yes", "--policy", "vmdirs")
    assert p.returncode != 0
    assert b"the vm tier grants no directories" in p.stderr, p.stderr
    assert w.ncj("approvals")[1]["items"] == []


def test_no_qemu_refuses_vm_approvals_and_runs_never_fall_back(vmworker, tmp_path):
    w = vmworker
    sub = w.submit("hello", "hello-vm")
    assert w.nc("approve", sub["id"], "--yes", "--policy", "vm").returncode == 0
    w.nc("worker", "stop", check=True)
    w.env["NIGHTCORE_VM_QEMU"] = str(tmp_path / "no-such-qemu")
    w.nc("worker", "start", check=True)
    t = tiers(w)
    assert t["vm"]["available"] is False and "no-such-qemu" in t["vm"]["note"]
    assert t["process"]["available"] is True
    assert b"warn tier vm       not available" in w.nc("doctor").stdout
    # an existing vm approval is not run in the process tier: refused, and the run given back
    p = w.nc("run", "hello-vm")
    assert p.returncode != 0
    assert b"not available on this host" in p.stderr + p.stdout, (p.stdout, p.stderr)
    rc, runs = w.ncj("runs")
    assert all(r["outcome"] != "ok" for r in runs["items"]), runs
    # a new one is refused before anything is signed
    sub2 = w.submit("compute", "compute-vm")
    p = w.nc("approve", sub2["id"], "--yes", "--policy", "vm")
    assert p.returncode != 0 and b"not available on this host" in p.stderr, p.stderr


def test_vm_run_through_mcp(vmworker):
    w = vmworker
    s = Session(w, add_agent(w))
    sub = submit(s, "hello", "hello-agent")
    assert w.nc("approve", sub["id"], "--yes", "--policy", "vm", "--allow-agent", "claude").returncode == 0
    r = s.call("run_module", {"ref": "hello-agent"}, timeout=180)
    assert r["isError"] is False, r
    assert r["structuredContent"]["outcome"] == "ok"
    s.close()
    rc, runs = w.ncj("runs")
    rc, run = w.ncj("runs", "show", runs["items"][0]["id"])
    assert run["isolation"]["tier"] == "vm" and run["invoker"] == "agent:claude"


def test_vm_approval_in_the_console(vmworker):
    w = vmworker
    restart_worker(w, "--insecure-dev")
    c = Console(w)
    try:
        c.login()
        sub = w.submit("hello", "hello-console-vm")
        r = c.post("/api/submissions/%s/prepare" % sub["id"], {"policy": "vm", "max_runs": 2})
        assert r.status == 200, r.body
        prep = r.json()
        words = dict((k, v) for k, v in prep["words"])
        assert words["isolation"].startswith("vm (each run in its own throw-away microVM")
        r = c.post("/api/submissions/%s/approve" % sub["id"], {"approval_id": prep["approval_id"]})
        assert r.status == 200, r.body
        rc, run = w.ncj("run", prep["approval_id"], timeout=180)
        assert rc == 0 and run["outcome"] == "ok", run
        shown = c.get("/api/runs/" + run["id"]).json()
        assert shown["isolation"]["tier"] == "vm" and shown["isolation"]["accel"] == "tcg"
        st = c.get("/api/status").json()
        assert {t["tier"] for t in st["tiers"]} == {"process", "vm"}
    finally:
        c.stop()
