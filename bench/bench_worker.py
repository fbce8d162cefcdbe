#!/usr/bin/env python3
"""Worker benchmark: `nightcore run hello` end to end (CLI process included,
timed by hyperfine) and verified, sandboxed, recorded runs per second with
1, 2, 4 and 8 concurrent clients on the control socket.

  bench_worker.py [--quick] [--out FILE.md]
Needs build/bin (make) and hyperfine (scripts/deps)."""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("NC_BIN", os.path.join(ROOT, "build", "bin"))
FIX = os.environ.get("NC_FIXTURES", os.path.join(ROOT, "build", "fixtures"))


def nc(home, *args, check=True):
    p = subprocess.run([os.path.join(BIN, "nightcore"), "--home", home, *args], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=120)
    if check and p.returncode != 0:
        sys.exit(f"nightcore {' '.join(args)} failed: {p.stderr.decode()}")
    return p


def client_loop(path, deadline, counts, idx, errors):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    f = s.makefile("rwb")
    n = 0
    while time.time() < deadline:
        f.write(json.dumps({"id": n, "op": "run", "ref": "hello"}).encode() + b"\n")
        f.flush()
        r = json.loads(f.readline())
        if not r.get("ok") or r["result"]["outcome"] != "ok":
            errors.append(r)
            break
        n += 1
    counts[idx] = n
    s.close()


def throughput(home, clients, seconds):
    path = os.path.join(home, "run", "control.sock")
    counts = [0] * clients
    errors = []
    t0 = time.time()
    deadline = t0 + seconds
    threads = [threading.Thread(target=client_loop, args=(path, deadline, counts, i, errors)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    if errors:
        sys.exit(f"run failed during the throughput test: {errors[0]}")
    return sum(counts) / elapsed


def setup_home(parent):
    home = tempfile.mkdtemp(prefix="nc-bench-", dir=parent)
    nc(home, "init", "--generate-key", "--no-passphrase", "--principal", "bench@nightcore")
    nc(home, "worker", "start")
    sub = json.loads(nc(home, "submit", os.path.join(FIX, "hello.wasm"), "--name", "hello", "--json").stdout)
    nc(home, "approve", sub["id"], "--yes", "--max-runs", "100000000", "--expires", "7d")
    return home


def durability_cost(rounds, secs):
    """Runs/s with 4 clients, a home on disk against one in /dev/shm (where a
    flush costs nothing), alternating rounds so noise hits both alike; and how
    many commits each flush of the WAL covered (group commit)."""
    if not os.path.isdir("/dev/shm"):
        return None
    disk, mem = setup_home(None), setup_home("/dev/shm")
    try:
        got = {"disk": [], "mem": []}
        for _ in range(rounds):
            got["disk"].append(throughput(disk, 4, secs))
            got["mem"].append(throughput(mem, 4, secs))
        st = json.loads(nc(disk, "worker", "status", "--json").stdout)["durability"]
    finally:
        for h in (disk, mem):
            nc(h, "worker", "stop", check=False)
            shutil.rmtree(h, ignore_errors=True)
    return {"disk": statistics.median(got["disk"]), "mem": statistics.median(got["mem"]),
            "commits": st["commits"], "syncs": st["syncs"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smoke run: few repetitions")
    ap.add_argument("--out")
    args = ap.parse_args()
    if not shutil.which("hyperfine"):
        sys.exit("hyperfine not found: run scripts/deps")
    home = tempfile.mkdtemp(prefix="nc-bench-")
    try:
        nc(home, "init", "--generate-key", "--no-passphrase", "--principal", "bench@nightcore")
        nc(home, "worker", "start")
        sub = json.loads(nc(home, "submit", os.path.join(FIX, "hello.wasm"), "--name", "hello", "--json").stdout)
        nc(home, "approve", sub["id"], "--yes", "--max-runs", "100000000", "--expires", "7d")
        runs = 20 if args.quick else 300
        secs = 1 if args.quick else 5
        export = os.path.join(home, "hyperfine.json")
        subprocess.run(["hyperfine", "-N", "--warmup", "10", "--runs", str(runs), "--export-json", export,
                        f"{BIN}/nightcore --home {home} run hello"], check=True, capture_output=True)
        with open(export) as f:
            times = sorted(json.load(f)["results"][0]["times"])
        p50 = statistics.median(times) * 1000
        p99 = times[min(len(times) - 1, int(0.99 * len(times)))] * 1000
        tput = {n: throughput(home, n, secs) for n in (1, 2, 4, 8)}
        status = json.loads(nc(home, "worker", "status", "--json").stdout)
    finally:
        nc(home, "worker", "stop", check=False)
        shutil.rmtree(home, ignore_errors=True)
    dur = durability_cost(1 if args.quick else 5, secs)
    lines = [
        "# Worker benchmark",
        "",
        f"Machine: {os.cpu_count()} cores, kernel {os.uname().release}; worker concurrency {status['queue']['limit']}, "
        f"Landlock ABI {status['isolation']['landlock_abi']}.",
        f"Command: `bench/bench_worker.py{' --quick' if args.quick else ''}`.",
        "",
        "| measurement | value |",
        "|---|---|",
        f"| `nightcore run hello` end to end, p50 ({runs} runs, hyperfine) | {p50:.2f} ms |",
        f"| `nightcore run hello` end to end, p99 | {p99:.2f} ms |",
    ]
    for n, v in tput.items():
        lines.append(f"| runs/s, {n} client{'s' if n > 1 else ''} on control.sock ({secs} s) | {v:.0f} |")
    if dur:
        lines += [
            f"| runs/s, 4 clients, home on disk (every reply after a flush of the WAL; median of rounds) | "
            f"{dur['disk']:.0f} |",
            f"| runs/s, 4 clients, home in /dev/shm (flushes cost nothing), same rounds | {dur['mem']:.0f} |",
            f"| durable / free-flush throughput | {dur['disk'] / dur['mem']:.3f} |",
            f"| commits per flush of the WAL (disk home; group commit) | "
            f"{dur['commits'] / max(1, dur['syncs']):.2f} ({dur['commits']} commits, {dur['syncs']} flushes) |",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
