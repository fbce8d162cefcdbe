#!/usr/bin/env python3
"""`make bench`: Night Core and its peers measured side by side on this
machine, written to bench/report.md (table + summary) and bench/report.json.

  bench/report.py [--quick]

Peers: the `wasmtime` CLI of the same major version (scripts/peer-wasmtime),
`wasmtime run m.wasm` and `wasmtime run --allow-precompiled m.cwasm`, and Night
Core's in-process engine path (bench_sandbox) as the floor.

Real programs (bench/guests/build.sh, built into the cache): Go (a sieve and
SHA-256; hello world for start-up), Go's own gofmt, SQLite and Lua, and raw
stdin/stdout, each run by `nightcore run` and by both peer commands in one
hyperfine call; gofmt's compile by Night Core's compile path (bench_guest)
and by `wasmtime compile`; and the phases inside the sandbox (bench_guest)."""
import argparse
import base64
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("NC_BIN", os.path.join(ROOT, "build", "bin"))
FIX = os.environ.get("NC_FIXTURES", os.path.join(ROOT, "build", "fixtures"))


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


class Home:
    def __init__(self, bin_dir=None):
        self.path = tempfile.mkdtemp(prefix="nc-report-")
        self.bin = bin_dir or BIN

    def nc(self, *args, env=None, check=True):
        p = subprocess.run([os.path.join(self.bin, "nightcore"), "--home", self.path, *args], capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=600, env=env)
        if check and p.returncode != 0:
            sys.exit(f"nightcore {' '.join(args)}: {p.stderr.decode()}")
        return p

    def ncj(self, *args, **kw):
        return json.loads(self.nc(*args, "--json", **kw).stdout)

    def add(self, path, name, *approve):
        sub = self.ncj("submit", path, "--name", name)
        self.nc("approve", sub["id"], "--yes", "--max-runs", "100000000", "--expires", "7d", *approve)
        return sub

    def worker_pid(self):
        with open(os.path.join(self.path, "run", "worker.pid")) as f:
            return int(f.read())

    def cleanup(self):
        self.nc("worker", "stop", check=False)
        shutil.rmtree(self.path, ignore_errors=True)


def call(f, obj):
    f.write(json.dumps(obj).encode() + b"\n")
    f.flush()
    return json.loads(f.readline())


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s, s.makefile("rwb")


def hyperfine(cmds, runs, warmup=5):
    out = tempfile.mktemp(suffix=".json")
    sh("hyperfine", "-N", "--warmup", str(warmup), "--runs", str(runs), "--export-json", out, *cmds)
    with open(out) as f:
        res = json.load(f)["results"]
    os.unlink(out)
    stats = []
    for r in res:
        t = sorted(r["times"])
        stats.append({"command": r["command"], "p50_ms": statistics.median(t) * 1000,
                      "p99_ms": t[min(len(t) - 1, int(0.99 * len(t)))] * 1000, "runs": len(t)})
    return stats


def interleaved(cmds, runs, warmup=2, stdin=None):
    """Medians of each command (argv lists), run in turns so that machine noise
    hits them alike (as bench_sandbox interleaves its variants): posix_spawn,
    stdout/stderr to /dev/null, stdin from a file or /dev/null, wall time to
    the child's exit. A non-zero exit fails the benchmark."""
    times = [[] for _ in cmds]
    for i in range(warmup + runs):
        for k, argv in enumerate(cmds):
            actions = [(os.POSIX_SPAWN_OPEN, 0, stdin or os.devnull, os.O_RDONLY, 0),
                       (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                       (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)]
            t0 = time.perf_counter()
            pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
            _, status = os.waitpid(pid, 0)
            dt = time.perf_counter() - t0
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit(f"benchmark command failed ({status}): {' '.join(argv)}")
            if i >= warmup:
                times[k].append(dt)
    out = []
    for argv, t in zip(cmds, times):
        t.sort()
        out.append({"command": " ".join(argv), "p50_ms": statistics.median(t) * 1000,
                    "p99_ms": t[min(len(t) - 1, int(0.99 * len(t)))] * 1000, "runs": len(t)})
    return out


def throughput(sock_path, clients, seconds, reqs):
    counts = [0] * clients
    errors = []

    def loop(i):
        s, f = connect(sock_path)
        end = time.time() + seconds
        while time.time() < end:
            r = call(f, reqs[i])
            if not r.get("ok"):
                errors.append(r)
                break
            counts[i] += 1
        s.close()

    t0 = time.time()
    ts = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    if errors:
        sys.exit(f"throughput run failed: {errors[0]}")
    return sum(counts) / (time.time() - t0)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def make_module(path, size):
    """A valid WASI command with a data segment of about `size` bytes."""
    wat = path + ".wat"
    pages = size // 65536 + 2
    with open(wat, "w") as f:
        f.write('(module (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))\n')
        f.write(f'(memory (export "memory") {pages})\n')
        f.write('(data (i32.const 1024) "')
        f.write("\\00\\11\\22\\33" * (size // 4))
        f.write('")\n(func (export "_start")))\n')
    sh("wat2wasm", wat, "-o", path)
    os.unlink(wat)


# name, module, args, stdin (a file in the guests dir, or "16MiB"), runs (full, quick)
PROGRAMS = [
    ("go_cpu", "gobench.wasm", ["cpu"], None, (10, 3)),
    ("lua", "lua_bench.wasm", [], None, (10, 3)),
    ("js", "js_bench.wasm", [], None, (10, 3)),
    ("sqlite", "sqlite_bench.wasm", [], None, (10, 3)),
    ("gofmt", "gofmt.wasm", [], "gofmt_input.go", (20, 5)),
    ("go_hello", "gobench.wasm", ["hello"], None, (50, 10)),
    ("stdin_16MiB", "io_bench.wasm", ["stdin"], "16MiB", (20, 5)),
    ("stdout_1MiB", "io_bench.wasm", ["stdout", "1048576"], None, (30, 5)),
]
CPU_HEAVY = ("go_cpu", "lua", "js", "sqlite")


def real_programs(home, wasmtime, work, q):
    """Real programs: Night Core against the peer, side by side."""
    guests = sh(os.path.join(ROOT, "bench", "guests", "build.sh")).stdout.decode().strip()
    nc = os.path.join(BIN, "nightcore")
    bench_guest = os.path.join(BIN, "bench_guest")
    big = os.path.join(work, "stdin-16MiB.bin")
    with open(big, "wb") as f:   # fixed, incompressible-looking bytes
        block = bytes((i * 131 + (i >> 8) * 7) & 0xFF for i in range(1 << 16))
        for _ in range(256):
            f.write(block)
    res = {"guests": guests, "programs": {}, "modules": {}}
    for module in sorted({p[1] for p in PROGRAMS}):
        path = os.path.join(guests, module)
        cwasm = os.path.join(work, module.replace(".wasm", ".cwasm"))
        sh(wasmtime, "compile", path, "-o", cwasm)
        name = "g-" + module.replace(".wasm", "").replace("_", "-")
        t0 = time.time()
        home.add(path, name)   # submit, approve (the worker precompiles), through the CLI
        res["modules"][module] = {"name": name, "wasm_bytes": os.path.getsize(path),
                                  "peer_cwasm_bytes": os.path.getsize(cwasm), "submit_approve_s": time.time() - t0}
    for prog, module, args, stdin, runs in PROGRAMS:
        path = os.path.join(guests, module)
        cwasm = os.path.join(work, module.replace(".wasm", ".cwasm"))
        name = res["modules"][module]["name"]
        src = (big if stdin == "16MiB" else os.path.join(guests, stdin)) if stdin else None
        hf = interleaved([[nc, "--home", home.path, "run", name, *(["--stdin", "-"] if src else []), "--", *args],
                          [wasmtime, "run", "--allow-precompiled", cwasm, *args],
                          [wasmtime, "run", path, *args]], runs[1 if q else 0], stdin=src)
        inside = os.path.join(work, prog + ".json")
        extra = ["--stdin", src] if src else []
        sh(bench_guest, "--runs", str(3 if q else 5), "--json", inside, *extra, path, "--", *args)
        with open(inside) as f:
            res["programs"][prog] = {"module": module, "args": args, "stdin": stdin, "hyperfine": hf,
                                     "sandbox": json.load(f)}
    # The worker's own time around the sandbox for a Go module (verification,
    # module hash, policy, recording, threat score), against its size.
    ctl = os.path.join(home.path, "run", "control.sock")
    s, f = connect(ctl)
    res["gate_us"] = {}
    for prog in ("go_hello", "gofmt"):
        p = res["programs"][prog]
        req = {"id": 1, "op": "run", "ref": res["modules"][p["module"]]["name"], "args": p["args"]}
        if p["stdin"]:
            with open(os.path.join(guests, p["stdin"]), "rb") as fh:
                req["stdin_b64"] = base64.b64encode(fh.read()).decode()
        t = [call(f, req)["result"]["timings_us"] for _ in range(10 if q else 50)]
        worker, total = statistics.median(x["worker"] for x in t), statistics.median(x["total"] for x in t)
        res["gate_us"][prog] = {"worker": worker, "sandbox": total, "gate": worker - total,
                                "module_bytes": res["modules"][p["module"]]["wasm_bytes"]}
    s.close()
    gofmt = os.path.join(guests, "gofmt.wasm")
    res["compile_gofmt"] = interleaved([[bench_guest, "--compile-only", gofmt],
                                        [wasmtime, "compile", "-C", "cache=n", gofmt, "-o",
                                         os.path.join(work, "gofmt-again.cwasm")]],
                                       3 if q else 10, warmup=1)
    return res


COMPILES = ("compile_gofmt", "approve_gofmt")


def compile_only(names, before, runs_override):
    """gofmt's compile, side by side in one loop: Night Core's compile path
    (bench_guest: this build compiles in a compile child; --tier inprocess is
    the same engine in the caller, without isolation), another build's
    (--before) and `wasmtime compile`; with approve_gofmt also `nightcore
    approve` of gofmt end to end (signing, verification, the worker's compile,
    recording) for each build. Prints a table; writes no report."""
    wasmtime = sh(os.path.join(ROOT, "scripts", "peer-wasmtime")).stdout.decode().strip()
    guests = sh(os.path.join(ROOT, "bench", "guests", "build.sh")).stdout.decode().strip()
    gofmt = os.path.join(guests, "gofmt.wasm")
    work = tempfile.mkdtemp(prefix="nc-report-work-")
    runs = runs_override or 10
    rows = []
    homes = []
    try:
        if "compile_gofmt" in names:
            cmds = [([os.path.join(BIN, "bench_guest"), "--compile-only", gofmt], "bench_guest --compile-only (compile child)"),
                    ([os.path.join(BIN, "bench_guest"), "--tier", "inprocess", "--compile-only", gofmt],
                     "bench_guest --tier inprocess --compile-only (in the caller)")]
            if before:
                cmds.append(([os.path.join(before, "bench_guest"), "--compile-only", gofmt], "before: bench_guest --compile-only"))
            cmds.append(([wasmtime, "compile", "-C", "cache=n", gofmt, "-o", os.path.join(work, "gofmt.cwasm")],
                         "wasmtime compile -C cache=n"))
            res = interleaved([c for c, _ in cmds], runs, warmup=1)
            rows += [(label, r) for (_, label), r in zip(cmds, res)]
        if "approve_gofmt" in names:
            homes = [Home()] + ([Home(before)] if before else [])
            cmds = []
            for h in homes:
                h.nc("init", "--generate-key", "--no-passphrase", "--principal", "bench@nightcore")
                h.nc("worker", "start")
                sub = h.ncj("submit", gofmt, "--name", "gofmt")
                cmds.append(([os.path.join(h.bin, "nightcore"), "--home", h.path, "approve", sub["id"], "--yes"],
                             "nightcore approve gofmt" + (" (before)" if h.bin != BIN else "")))
            cmds.append(([wasmtime, "compile", "-C", "cache=n", gofmt, "-o", os.path.join(work, "gofmt2.cwasm")],
                         "wasmtime compile -C cache=n"))
            res = interleaved([c for c, _ in cmds], runs, warmup=1)
            rows += [(label, r) for (_, label), r in zip(cmds, res)]
    finally:
        for h in homes:
            h.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    print("| command | p50 ms | p99 ms | runs | / wasmtime compile (same loop) |")
    print("|---|---|---|---|---|")
    peer = None
    for label, r in reversed(rows):   # each loop ends with its own peer
        if label.startswith("wasmtime compile"):
            peer = r["p50_ms"]
        r["ratio"] = r["p50_ms"] / peer
    for label, r in rows:
        print(f"| {label} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['runs']} | {r['ratio']:.3f} |")
    print(f"\n(gofmt {os.path.getsize(gofmt)} bytes; medians of {runs} interleaved runs each; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")


def real_only(names, before, runs_override):
    """Some real programs only: `nightcore run` (this build, and another
    build's bin/ with --before) against the peer, all in turns in one loop.
    Prints a table; for measuring a change without the whole report."""
    wasmtime = sh(os.path.join(ROOT, "scripts", "peer-wasmtime")).stdout.decode().strip()
    guests = sh(os.path.join(ROOT, "bench", "guests", "build.sh")).stdout.decode().strip()
    work = tempfile.mkdtemp(prefix="nc-report-work-")
    homes = [Home()] + ([Home(before)] if before else [])
    big = os.path.join(work, "stdin-16MiB.bin")
    with open(big, "wb") as f:   # the same bytes as the full report
        block = bytes((i * 131 + (i >> 8) * 7) & 0xFF for i in range(1 << 16))
        for _ in range(256):
            f.write(block)
    rows = []
    try:
        for h in homes:
            h.nc("init", "--generate-key", "--no-passphrase", "--principal", "bench@nightcore")
            h.nc("worker", "start")
        for prog, module, args, stdin, runs in PROGRAMS:
            if prog not in names:
                continue
            path = os.path.join(guests, module)
            cwasm = os.path.join(work, module.replace(".wasm", ".cwasm"))
            if not os.path.exists(cwasm):
                sh(wasmtime, "compile", path, "-o", cwasm)
            name = "g-" + prog.replace("_", "-")
            cmds = []
            for h in homes:
                h.add(path, name)
                cmds.append([os.path.join(h.bin, "nightcore"), "--home", h.path, "run", name,
                             *(["--stdin", "-"] if stdin else []), "--", *args])
            cmds += [[wasmtime, "run", "--allow-precompiled", cwasm, *args], [wasmtime, "run", path, *args]]
            src = (big if stdin == "16MiB" else os.path.join(guests, stdin)) if stdin else None
            res = interleaved(cmds, runs_override or runs[0], stdin=src)
            rows.append((prog, res))
    finally:
        for h in homes:
            h.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    labels = ["nightcore run"] + (["nightcore run (before)"] if before else []) + ["wasmtime precompiled",
                                                                                 "wasmtime run"]
    print("| program | " + " | ".join(f"{l} ms" for l in labels) + " | ratio to precompiled" +
          (" | before ratio" if before else "") + " |")
    print("|---" * (len(labels) + (3 if before else 2)) + "|")
    for prog, res in rows:
        med = [x["p50_ms"] for x in res]
        pre = med[-2]
        line = f"| {prog} | " + " | ".join(f"{m:.1f}" for m in med) + f" | {med[0] / pre:.3f}"
        if before:
            line += f" | {med[1] / pre:.3f}"
        print(line + " |")
    print(f"\n(medians of {runs_override or 'the default'} interleaved runs each; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--real-only", metavar="PROGS",
                    help="comma-separated real programs only (" + ", ".join([p[0] for p in PROGRAMS] + list(COMPILES)) +
                         "): a table on stdout, no report written")
    ap.add_argument("--before", metavar="BIN_DIR", help="with --real-only: another build's bin/ measured alongside")
    ap.add_argument("--runs", type=int, help="with --real-only: runs of each command")
    args = ap.parse_args()
    if args.real_only:
        names = args.real_only.split(",")
        if any(n in COMPILES for n in names):
            compile_only(names, args.before, args.runs)
            names = [n for n in names if n not in COMPILES]
        if names:
            real_only(names, args.before, args.runs)
        return
    q = args.quick
    wasmtime = sh(os.path.join(ROOT, "scripts", "peer-wasmtime")).stdout.decode().strip()
    wt_version = sh(wasmtime, "--version").stdout.decode().strip()
    work = tempfile.mkdtemp(prefix="nc-report-work-")
    report = {"machine": {"cores": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
                          "wasmtime_cli": wt_version, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}}
    home = Home()
    try:
        home.nc("init", "--generate-key", "--no-passphrase", "--principal", "bench@nightcore")
        home.nc("worker", "start")
        st = home.ncj("worker", "status")
        report["machine"]["isolation"] = st["isolation"]
        report["machine"]["worker_concurrency"] = st["queue"]["limit"]
        for m in ("hello", "compute"):
            home.add(os.path.join(FIX, m + ".wasm"), m)
            sh(wasmtime, "compile", os.path.join(FIX, m + ".wasm"), "-o", os.path.join(work, m + ".cwasm"))
        nc = os.path.join(BIN, "nightcore")

        # 1. end to end, same run
        runs = 20 if q else 200
        report["end_to_end_hello"] = hyperfine([
            f"{nc} --home {home.path} run hello",
            f"{wasmtime} run {FIX}/hello.wasm",
            f"{wasmtime} run --allow-precompiled {work}/hello.cwasm"], runs)
        report["end_to_end_compute"] = hyperfine([
            f"{nc} --home {home.path} run compute",
            f"{wasmtime} run {FIX}/compute.wasm",
            f"{wasmtime} run --allow-precompiled {work}/compute.cwasm"], 3 if q else 10, warmup=1)
        fl = os.path.join(work, "floor.json")
        sh(os.path.join(BIN, "bench_sandbox"), "--runs", "20" if q else "200", "--compute-runs", "2" if q else "10",
           "--json", fl, env=dict(os.environ, NC_FIXTURES=FIX))
        with open(fl) as f:
            report["floor"] = json.load(f)
        report["real_programs"] = real_programs(home, wasmtime, work, q)

        # 2. worker-side breakdown of one run (run object timings + verification)
        ctl = os.path.join(home.path, "run", "control.sock")
        s, f = connect(ctl)
        timings = []
        for i in range(20 if q else 200):
            r = call(f, {"id": i, "op": "run", "ref": "hello"})["result"]
            timings.append(r["timings_us"])
        s.close()
        report["breakdown_us"] = {k: statistics.median(t[k] for t in timings) for k in timings[0]}
        tr = os.path.join(work, "trust.md")
        sh(os.path.join(BIN, "bench_trust"), "--runs", "200" if q else "2000", "--out", tr)
        with open(tr) as f:
            report["trust_md"] = f.read()
        am = os.path.join(work, "audit.md")
        sh(os.path.join(BIN, "bench_audit"), "--max", "10000" if q else "1000000", "--out", am)
        with open(am) as f:
            report["audit_md"] = f.read()
        pm = os.path.join(work, "proof.md")
        sh(os.path.join(BIN, "bench_proof"), "--entries", "10000" if q else "100000", "--runs", "21" if q else "201",
           "--out", pm)
        with open(pm) as f:
            report["proof_md"] = f.read()

        # 3. throughput: control socket, and the agent path (one agent per client)
        secs = 1 if q else 5
        report["throughput_control"] = {n: throughput(ctl, n, secs, [{"id": 1, "op": "run", "ref": "hello"}] * n)
                                        for n in (1, 2, 4, 8)}
        sub = home.ncj("submit", os.path.join(FIX, "hello.wasm"), "--name", "hello-agents")
        tokens = []
        agents = []
        for i in range(8):
            tokens.append(home.ncj("agent", "add", f"bench{i}")["token"])
            agents += ["--allow-agent", f"bench{i}"]
        home.nc("approve", sub["id"], "--yes", "--max-runs", "100000000", "--expires", "7d", *agents)
        agent_sock = os.path.join(home.path, "run", "agent.sock")
        report["throughput_agent"] = {
            n: throughput(agent_sock, n, secs, [{"id": 1, "op": "run", "ref": "hello-agents", "token": tokens[i]}
                                                for i in range(n)])
            for n in (1, 2, 4, 8)}

        # 6. memory: worker RSS idle, under load
        pid = home.worker_pid()
        idle = rss_kib(pid)
        peak = [0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kib(pid))
                time.sleep(0.05)

        t = threading.Thread(target=sample)
        t.start()
        throughput(ctl, 4, secs, [{"id": 1, "op": "run", "ref": "hello"}] * 4)
        stop.set()
        t.join()
        children = subprocess.run(["pgrep", "-f", "sandbox-child"], capture_output=True).stdout.split()
        child_rss = [rss_kib(int(c)) for c in children if os.path.exists(f"/proc/{int(c)}")]
        report["memory_kib"] = {"worker_idle": idle, "worker_under_load": peak[0],
                                "pre_started_child": statistics.median(child_rss) if child_rss else None}

        # 4. size scaling: submit (hash + analysis), approve (verify + precompile), warm run
        sizes = {}
        for label, size in (("10KB", 10 * 1024), ("1MB", 1 << 20), ("10MB", 10 << 20)):
            path = os.path.join(work, f"m{label}.wasm")
            make_module(path, size)
            t0 = time.time()
            sub = home.ncj("submit", path, "--name", f"size{label}")
            t1 = time.time()
            home.nc("approve", sub["id"], "--yes", "--max-runs", "1000")
            t2 = time.time()
            home.nc("run", f"size{label}")
            warm = hyperfine([f"{nc} --home {home.path} run size{label}"], 5 if q else 20, warmup=2)[0]
            sizes[label] = {"bytes": os.path.getsize(path), "submit_ms": (t1 - t0) * 1000,
                            "approve_ms": (t2 - t1) * 1000, "warm_run_p50_ms": warm["p50_ms"]}
        report["size_scaling"] = sizes

        # 5. history scaling: run latency with a longer audit log and many pending submissions
        hist = {}
        db = os.path.join(home.path, "state", "nightcore.db")
        steps = (1000, 100000) if q else (1000, 100000, 1000000)
        for target in steps:
            home.nc("worker", "stop")
            con = sqlite3.connect(db)
            have = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
            con.close()
            if target > have:
                sh(os.path.join(BIN, "seed_audit"), home.path, str(target - have))
            t0 = time.time()
            home.nc("worker", "start")
            start_s = time.time() - t0
            lat = hyperfine([f"{nc} --home {home.path} run hello"], 20 if q else 100)[0]
            hist[f"audit_{target}"] = {"run_p50_ms": lat["p50_ms"], "worker_start_s": start_s}
        for pending in ((10000,) if q else (10000, 100000)):
            home.nc("worker", "stop")
            con = sqlite3.connect(db)
            have = con.execute("SELECT count(*) FROM submissions WHERE status='pending'").fetchone()[0]
            rows = [(f"s_seed{i:012d}", f"seed{i}", "0" * 64, 1, "agent:seed", "pending", 1795000000, "", "{}", None,
                     "new", None, "null", "{}", '{"score":0,"factors":[]}', None) for i in range(have, pending)]
            con.executemany("INSERT INTO submissions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            con.commit()
            con.close()
            home.nc("worker", "start")
            lat = hyperfine([f"{nc} --home {home.path} run hello"], 20 if q else 100)[0]
            inbox = hyperfine([f"{nc} --home {home.path} inbox --json"], 5 if q else 20)[0]
            hist[f"pending_{pending}"] = {"run_p50_ms": lat["p50_ms"], "inbox_first_page_p50_ms": inbox["p50_ms"]}
        report["history_scaling"] = hist
        home.nc("worker", "stop")
        v0 = time.time()
        vr = home.ncj("audit", "verify", check=False)
        report["audit_verify"] = {"entries": vr["entries"], "seconds": time.time() - v0,
                                  "entries_per_s": vr["entries"] / (time.time() - v0), "ok": vr["ok"]}
    finally:
        home.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    write(report, q)


def real_programs_md(rp):
    progs = rp["programs"]
    out = ["## Real programs (medians, same run)", "",
           "Guests built by `bench/guests/build.sh` (not committed). `nightcore run` goes through the CLI, the "
           "worker (verification, policy, audit) and a sandbox child; the peer runs the same module with "
           "`wasmtime run --allow-precompiled` on a `wasmtime compile`d artifact, and plain. The three commands "
           "run in turns (each run spawned directly, stdout to /dev/null, stdin from the file for the programs "
           "that read one; `nightcore run --stdin -`), so noise hits them alike.", "",
           "| program | nightcore run ms | wasmtime precompiled ms | wasmtime run ms | ratio to precompiled | "
           "in the sandbox: load / instantiate / execute ms |", "|---|---|---|---|---|---|"]
    for prog, p in progs.items():
        nc_, pre, plain = (x["p50_ms"] for x in p["hyperfine"])
        sb = p["sandbox"]
        mark = " (target <= 1.03)" if prog in CPU_HEAVY else " (target <= 1.00)" if prog == "go_hello" else ""
        out.append(f"| {prog} `{' '.join(p['args'])}`{' < ' + p['stdin'] if p['stdin'] else ''} | {nc_:.1f} | "
                   f"{pre:.1f} | {plain:.1f} | {nc_ / pre:.3f}{mark} | {sb['load_us'] / 1000:.2f} / "
                   f"{sb['instantiate_us'] / 1000:.2f} / {sb['execute_us'] / 1000:.2f} |")
    c = rp["compile_gofmt"]
    mods = rp["modules"]
    out += ["", "| compile | ms | artifact bytes |", "|---|---|---|",
            f"| Night Core, in a compile child (`bench_guest --compile-only gofmt.wasm`) | {c[0]['p50_ms']:.0f} | "
            f"{progs['gofmt']['sandbox']['artifact_bytes']} |",
            f"| `wasmtime compile -C cache=n gofmt.wasm` | {c[1]['p50_ms']:.0f} | {mods['gofmt.wasm']['peer_cwasm_bytes']} |",
            "", f"Compile ratio (target <= 1.2): {c[0]['p50_ms'] / c[1]['p50_ms']:.2f}. "
            f"`nightcore submit` + `approve` of gofmt ({mods['gofmt.wasm']['wasm_bytes']} bytes; analysis, "
            f"signing, verification and the worker's compile): {mods['gofmt.wasm']['submit_approve_s']:.1f} s.", ""]
    g = rp["gate_us"]
    out += ["The worker's own time around the sandbox child (medians over the control socket; verification, "
            "the per-run SHA-256 of the module, policy, recording, the threat score's re-analysis of the module):",
            "", "| module | bytes | worker us | sandbox us | gate us |", "|---|---|---|---|---|"]
    for prog, v in g.items():
        out.append(f"| {progs[prog]['module']} ({prog}) | {v['module_bytes']} | {v['worker']:.0f} | {v['sandbox']:.0f} | "
                   f"{v['gate']:.0f} |")
    out.append("")
    checks = [(p, progs[p]["hyperfine"][0]["p50_ms"] / progs[p]["hyperfine"][1]["p50_ms"], 1.03) for p in CPU_HEAVY]
    checks.append(("go_hello", progs["go_hello"]["hyperfine"][0]["p50_ms"] / progs["go_hello"]["hyperfine"][1]["p50_ms"],
                   1.0))
    checks.append(("compile gofmt", c[0]["p50_ms"] / c[1]["p50_ms"], 1.2))
    out.append("Targets: " + "; ".join(f"{n} {v:.3f} {'met' if v <= t else 'NOT met'} (<= {t})" for n, v, t in checks)
               + ".")
    out.append("")
    return out


def write(r, quick):
    e2e, comp, fl = r["end_to_end_hello"], r["end_to_end_compute"], r["floor"]
    b = r["breakdown_us"]
    gate_us = b["worker"] - b["instantiate"] - b["execute"]
    lines = ["# Night Core benchmark report", "",
             f"{r['machine']['when']}, {r['machine']['cores']} cores, kernel {r['machine']['kernel']}, "
             f"peer {r['machine']['wasmtime_cli']}, worker concurrency {r['machine']['worker_concurrency']}, "
             f"isolation {json.dumps(r['machine']['isolation'])}. Command: `make bench`"
             f"{' (quick)' if quick else ''}. All figures from one run; ratios pair by pair.", "",
             "## End to end (hyperfine, same run)", "", "| command | p50 ms | p99 ms |", "|---|---|---|"]
    for x in e2e + comp:
        lines.append(f"| `{x['command'].replace(ROOT + '/', '')}` | {x['p50_ms']:.2f} | {x['p99_ms']:.2f} |")
    lines += ["", f"Ratios (p50): nightcore run hello / wasmtime run hello.wasm = "
                  f"{e2e[0]['p50_ms'] / e2e[1]['p50_ms']:.2f}; / wasmtime run --allow-precompiled = "
                  f"{e2e[0]['p50_ms'] / e2e[2]['p50_ms']:.2f}. Compute: nightcore / wasmtime = "
                  f"{comp[0]['p50_ms'] / comp[1]['p50_ms']:.3f}; process tier / in-process floor (bench_sandbox) = "
                  f"{fl['compute_process_pooled']['p50_us'] / fl['compute_inprocess']['p50_us']:.3f}.", "",
              *real_programs_md(r["real_programs"]),
              "## One run inside the worker (medians, us)", "", "| phase | us |", "|---|---|"]
    for k, v in b.items():
        lines.append(f"| {k} | {v:.0f} |")
    lines += ["", "`worker` = from the request reaching the worker to the run's result (verification, module "
                  "hash, policy, recording the start, the sandbox child, scoring); `total` = the sandbox part.",
              f"The gate's own cost (worker time minus instantiate and execute) = {gate_us:.0f} us p50.", "", r["trust_md"].replace("# Trust benchmark", "### Verification and hashing"),
              "## Throughput (runs/s)", "", "| clients | control.sock | agent.sock |", "|---|---|---|"]
    for n in r["throughput_control"]:
        lines.append(f"| {n} | {r['throughput_control'][n]:.0f} | {r['throughput_agent'][n]:.0f} |")
    lines += ["", "## Module size", "", "| module | bytes | submit ms | approve ms | warm run p50 ms |",
              "|---|---|---|---|---|"]
    for k, v in r["size_scaling"].items():
        lines.append(f"| {k} | {v['bytes']} | {v['submit_ms']:.0f} | {v['approve_ms']:.0f} | {v['warm_run_p50_ms']:.2f} |")
    lines += ["", "(submit and approve include the CLI process; approve includes ssh-keygen signing.)", "",
              "## History", "", "| state | run p50 ms | other |", "|---|---|---|"]
    for k, v in r["history_scaling"].items():
        other = ", ".join(f"{a} {b:.2f}" for a, b in v.items() if a != "run_p50_ms")
        lines.append(f"| {k} | {v['run_p50_ms']:.2f} | {other} |")
    lines += ["", r["audit_md"].replace("# Audit log benchmark", "### Audit log append and verify (bench_audit)")]
    lines += ["", r["proof_md"].replace("# Inclusion proof benchmark", "### Inclusion proofs (bench_proof)")]
    av = r["audit_verify"]
    lines += ["", f"`nightcore audit verify` of {av['entries']} entries: {av['seconds']:.2f} s, "
                  f"{av['entries_per_s']:.0f} entries/s (ok: {av['ok']}).", "",
              "## Memory (KiB RSS)", "", f"worker idle {r['memory_kib']['worker_idle']}, under load "
              f"{r['memory_kib']['worker_under_load']}, one pre-started sandbox child "
              f"{r['memory_kib']['pre_started_child']}.", ""]
    md = "\n".join(lines) + "\n"
    with open(os.path.join(ROOT, "bench", "report.md"), "w") as f:
        f.write(md)
    with open(os.path.join(ROOT, "bench", "report.json"), "w") as f:
        json.dump(r, f, indent=2)
    print(md)


if __name__ == "__main__":
    main()
