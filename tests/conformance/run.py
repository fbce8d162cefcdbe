#!/usr/bin/env python3
"""Differential WASI preview 1 conformance: Night Core's sandbox against the
wasmtime CLI (the peer, same Wasmtime version as our engine).

Every case runs a guest program with the same arguments, environment and
stdin, a read-only /data tree and a read-write /scratch tree, under Night
Core (nc_run, process tier) and under `wasmtime run --dir HOST::GUEST`. The
guests print "key=value" lines; the runner compares exit status, stdout line
by line and the resulting directory trees (names, types, sizes, sha256).

  run.py --peer WASMTIME [--update]   run both, compare; --update records the
                                      peer's results in expected/*.json
  run.py --check                      run Night Core only, compare with the
                                      recorded results (this is what `make
                                      test` does; no peer needed)

Intentional differences are listed in differences.json, each with Night
Core's value and the reason (under "_reasons"; docs/sandbox.md, "WASI
conformance", explains each). A listed
difference that no longer differs is reported as stale, so the list stays
true. Exit status 1 on any unexplained or stale difference.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# The read-only tree every case sees at /data.
DATA = {
    "hello.txt": b"hello from data\n",
    "sub/inner.txt": b"inner\n",
    "sub/deeper/bytes.bin": bytes(range(256)),
}

CASES = [
    {"name": "p1_preopen"},
    {"name": "p1_files"},
    {"name": "p1_paths"},
    {"name": "p1_readdir"},
    {"name": "p1_rights"},
    {"name": "p1_misc", "args": ["one", "two words", ""], "env": ["A=1", "EMPTY=", "WITH_EQ=a=b"],
     "stdin": "hello stdin\nsecond line\n"},
    {"name": "libc_fs"},
    {"name": "wat_stdio", "args": ["x", "y"], "env": ["K=V"], "stdin": "abcdefgh"},
    {"name": "go_fs", "args": ["alpha", "beta"], "env": ["A=from-env"], "optional": "Go"},
] + [{"name": "p1_invalid_" + p, "wasm": "p1_invalid", "args": [p]}
     for p in ("whence", "advice", "clock_res", "clock_time", "eventtype", "lookupflags", "oflags",
               "fdflags_open", "fdflags_set", "fstflags", "link_flags", "sdflags", "path_len",
               "result_ptr", "result_misaligned")]


def make_tree(root, files):
    os.makedirs(root)
    for rel, content in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(content)


def snapshot(root):
    """Every entry under root: path, type, size, sha256 or link target."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out.append([rel, "l", os.readlink(p)])
            elif os.path.isdir(p):
                out.append([rel, "d"])
            else:
                with open(p, "rb") as f:
                    data = f.read()
                out.append([rel, "f", len(data), hashlib.sha256(data).hexdigest()])
        # symlinks to directories are listed, not followed
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return sorted(out)


def run_case(case, wasm, runtime, tool):
    tmp = tempfile.mkdtemp(prefix="nc-conformance-")
    try:
        data, scratch = os.path.join(tmp, "data"), os.path.join(tmp, "scratch")
        make_tree(data, DATA)
        make_tree(scratch, {})
        stdin_path = os.path.join(tmp, "stdin")
        with open(stdin_path, "w") as f:
            f.write(case.get("stdin", ""))
        env_args = [x for e in case.get("env", []) for x in ("--env", e)]
        if runtime == "peer":
            cmd = [tool, "run", "--dir", data + "::/data", "--dir", scratch + "::/scratch",
                   *env_args, wasm, *case.get("args", [])]
        else:
            cmd = [tool, "--dir", data + "::/data::ro", "--dir", scratch + "::/scratch",
                   *env_args, "--stdin", stdin_path, wasm, *case.get("args", [])]
        with open(stdin_path, "rb") as stdin:
            p = subprocess.run(cmd, stdin=stdin, capture_output=True, timeout=120, cwd=tmp)
        return {
            "exit": p.returncode,
            "stdout": p.stdout.decode("utf-8", "replace").splitlines(),
            "trees": {"data": snapshot(data), "scratch": snapshot(scratch)},
            "stderr": p.stderr.decode("utf-8", "replace")[-2000:],
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def keyed(lines):
    """Ordered (key, value) pairs; repeated keys get #2, #3..."""
    seen, out = {}, []
    for line in lines:
        k, sep, v = line.partition("=")
        if not sep:
            k, v = line, ""
        seen[k] = seen.get(k, 0) + 1
        out.append((k if seen[k] == 1 else "%s#%d" % (k, seen[k]), v))
    return out


def compare(name, nc, peer, known):
    """Returns (checks, identical, documented, problems)."""
    problems, documented, identical = [], 0, 0
    a, b = dict(keyed(nc["stdout"])), dict(keyed(peer["stdout"]))
    order = [k for k, _ in keyed(peer["stdout"])] + [k for k, _ in keyed(nc["stdout"]) if k not in b]
    items = [("exit", nc["exit"], peer["exit"])]
    items += [(k, a.get(k), b.get(k)) for k in order]
    items += [("tree:" + d, nc["trees"][d], peer["trees"][d]) for d in ("data", "scratch")]
    for key, ours, theirs in items:
        if key in known:
            want = known[key]["nightcore"]
            if ours != want:
                problems.append("%s: %s: Night Core gives %r, the documented difference says %r"
                                % (name, key, ours, want))
            elif theirs == want:
                problems.append("%s: %s: documented difference is stale (both give %r)"
                                % (name, key, ours))
            else:
                documented += 1
        elif ours == theirs:
            identical += 1
        else:
            problems.append("%s: %s: Night Core %r, peer %r" % (name, key, ours, theirs))
    stale = [k for k in known if k not in dict((i[0], 1) for i in items)]
    for k in stale:
        problems.append("%s: %s: documented difference for a check that no longer exists" % (name, k))
    return len(items), identical, documented, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--peer", help="wasmtime CLI to compare with")
    ap.add_argument("--update", action="store_true", help="record the peer's results")
    ap.add_argument("--check", action="store_true", help="compare with the recorded results")
    ap.add_argument("--only", action="append", help="run only these cases")
    ap.add_argument("--nc-run", help="nc_run program to use (default BUILD/bin/nc_run)")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()
    if bool(args.peer) == bool(args.check):
        ap.error("give --peer WASMTIME or --check")
    nc_run = os.path.abspath(args.nc_run or os.path.join(args.build, "bin", "nc_run"))
    guests = os.path.abspath(os.path.join(args.build, "conformance"))
    with open(os.path.join(HERE, "differences.json")) as f:
        differences = json.load(f)
    reasons = differences.pop("_reasons", {})
    for case, diffs in differences.items():
        for key, d in diffs.items():
            if d.get("why") not in reasons:
                ap.error("differences.json: %s %s has no known reason" % (case, key))
    version = ""
    if args.peer:
        version = subprocess.run([args.peer, "--version"], capture_output=True, text=True).stdout.strip()

    totals = [0, 0, 0]
    cases_same = cases_run = 0
    problems = []
    for case in CASES:
        name = case["name"]
        if args.only and name not in args.only:
            continue
        wasm = os.path.join(guests, case.get("wasm", name) + ".wasm")
        if not os.path.exists(wasm):
            if case.get("optional"):
                print("%-24s skipped (%s not available to build it)" % (name, case["optional"]))
                continue
            problems.append("%s: %s is missing (build with make)" % (name, wasm))
            continue
        expected_path = os.path.join(HERE, "expected", name + ".json")
        if args.peer:
            peer = run_case(case, wasm, "peer", args.peer)
            if args.update:
                with open(expected_path, "w") as f:
                    json.dump({"peer": version, "exit": peer["exit"], "stdout": peer["stdout"],
                               "trees": peer["trees"]}, f, indent=1)
                    f.write("\n")
        else:
            if not os.path.exists(expected_path):
                problems.append("%s: no recorded peer result (run make conformance)" % name)
                continue
            with open(expected_path) as f:
                peer = json.load(f)
        nc = run_case(case, wasm, "nightcore", nc_run)
        n, same, doc, probs = compare(name, nc, peer, differences.get(name, {}))
        cases_run += 1
        cases_same += not probs
        totals[0] += n
        totals[1] += same
        totals[2] += doc
        problems += probs
        print("%-24s %4d checks: %4d identical, %3d documented differences, %3d unexplained"
              % (name, n, same, doc, len(probs)))
        if args.verbose and probs:
            print("  Night Core stderr:", nc["stderr"].strip()[-500:])
    print("total: %d checks, %d identical, %d documented differences, %d unexplained; "
          "%d/%d cases agree" % (totals[0], totals[1], totals[2], len(problems), cases_same, cases_run))
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
