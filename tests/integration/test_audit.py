"""`nightcore audit verify|checkpoint|export|tail` and `runs show --receipt`
against the real worker (docs/audit.md, docs/cli.md).

Every tampering case stops the worker first and edits the database with
Python's sqlite3 module, as an attacker with write access to the home would;
`nightcore audit verify` must then exit 1 and name the problem."""
import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import time

import pytest

from conftest import BIN, wait_for


def db_path(h):
    return os.path.join(h.path, "state", "nightcore.db")


def anchor_path(h):
    return os.path.join(h.path, "state", "audit.checkpoint")


def flow(h, name="hello"):
    """submit, approve (--yes), run: returns the run object."""
    sub = h.submit("hello", name)
    h.approve(sub["id"])
    rc, run = h.ncj("run", name)
    assert rc == 0, run
    return run


def stop(h):
    p = h.nc("worker", "stop", timeout=30)
    assert p.returncode == 0, p.stderr


def verify(h, *extra):
    rc, rep = h.ncj("audit", "verify", *extra)
    return rc, rep


def edit_db(h, *statements):
    db = sqlite3.connect(db_path(h))
    try:
        for sql, args in statements:
            db.execute(sql, args)
        db.commit()
    finally:
        db.close()


def rows(h, sql, args=()):
    db = sqlite3.connect(db_path(h))
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def frontier(leaves):
    """The RFC 6962 right edge of a tree of these leaves: {level: hash}."""
    edge, size = {}, 0
    for leaf in leaves:
        carry, level = leaf, 0
        while (size >> level) & 1:
            carry = hashlib.sha256(b"\x01" + edge[level] + carry).digest()
            level += 1
        edge[level] = carry
        size += 1
    return {lvl: h for lvl, h in edge.items() if (size >> lvl) & 1}


def truncate_consistently(h, keep):
    """What an attacker who understands the log does: drop the newest
    entries, every checkpoint covering them and the stored tree nodes over
    them, then rebuild the stored right edge so that every check but the
    anchor's passes."""
    leaves = [bytes(l) for (l,) in rows(h, "SELECT leaf FROM audit_log WHERE seq < ? ORDER BY seq", (keep,))]
    assert len(leaves) == keep
    db = sqlite3.connect(db_path(h))
    db.execute("DELETE FROM audit_log WHERE seq >= ?", (keep,))
    db.execute("DELETE FROM audit_checkpoints WHERE size > ?", (keep,))
    db.execute("DELETE FROM audit_nodes WHERE ((idx + 1) << level) > ?", (keep,))
    db.execute("DELETE FROM audit_frontier")
    for level, hsh in frontier(leaves).items():
        db.execute("INSERT INTO audit_frontier(level, hash) VALUES(?, ?)", (level, hsh))
    db.commit()
    db.close()


# ---- 1. intact ----

def test_intact_log_verifies(worker):
    flow(worker)
    p = worker.nc("audit", "checkpoint")
    assert p.returncode == 0, p.stderr
    rc, rep = verify(worker)   # with the worker running
    assert rc == 0, rep
    assert rep["ok"] is True and rep["bad_seq"] is None and rep["error"] is None
    stop(worker)
    rc, rep = verify(worker)   # and without it
    assert rc == 0, rep
    assert rep["ok"] is True
    assert rep["entries"] > 0 and rep["checkpoints"] >= 1
    assert set(rep) >= {"ok", "entries", "checkpoints", "unsigned_tail", "bad_seq", "error", "anchor"}
    assert rep["anchor"] == anchor_path(worker)
    assert rep["entries"] == rows(worker, "SELECT count(*) FROM audit_log")[0][0]
    p = worker.nc("audit", "verify")
    out = p.stdout.decode()
    assert p.returncode == 0
    assert re.match(r"audit log intact: \d+ entries, \d+ checkpoints \(\d+ entries after the last checkpoint\)\n", out)
    assert "anchor: " + anchor_path(worker) in out
    # verifying changed nothing, and created nothing beside the database
    assert verify(worker)[1] == rep


def test_verify_without_a_database(home):
    rc, rep = verify(home)
    assert rc == 1 and rep["ok"] is False
    assert "no audit log at " + db_path(home) in rep["error"]
    p = home.nc("audit", "verify")
    assert p.returncode == 1 and b"is this the right home?" in p.stderr
    assert not os.path.exists(db_path(home))   # read-only: never creates it


def test_verify_missing_anchor_file(worker, tmp_path):
    stop(worker)
    rc, rep = verify(worker, "--anchor", str(tmp_path / "nope"))
    assert rc == 1 and rep["ok"] is False and "no such file" in rep["error"]


# ---- 2. an edited entry ----

def first_entry_with(worker, needle):
    for seq, entry in rows(worker, "SELECT seq, entry FROM audit_log ORDER BY seq"):
        if needle in bytes(entry):
            return seq, bytes(entry)
    raise AssertionError(f"no entry contains {needle!r}")


def test_edited_entry_is_named(worker):
    flow(worker)
    stop(worker)
    seq, entry = first_entry_with(worker, b'"name":"hello"')
    edited = entry.replace(b'"name":"hello"', b'"name":"hellO"')
    edit_db(worker, ("UPDATE audit_log SET entry = ? WHERE seq = ?", (edited, seq)))
    rc, rep = verify(worker)
    assert rc == 1 and rep["ok"] is False
    assert rep["bad_seq"] == seq
    assert f"entry {seq}" in rep["error"] and "edited" in rep["error"]
    p = worker.nc("audit", "verify")
    assert p.returncode == 1 and p.stdout.decode().startswith(f"audit log BROKEN at entry {seq}: ")


def test_edited_entry_with_recomputed_leaf_is_caught_by_checkpoint(worker):
    flow(worker)
    stop(worker)
    seq, entry = first_entry_with(worker, b'"name":"hello"')
    edited = entry.replace(b'"name":"hello"', b'"name":"hellO"')
    leaf = hashlib.sha256(b"\x00" + edited).digest()
    edit_db(worker, ("UPDATE audit_log SET entry = ?, leaf = ? WHERE seq = ?", (edited, leaf, seq)))
    rc, rep = verify(worker)
    assert rc == 1 and rep["ok"] is False
    assert rep["bad_seq"] is not None and rep["bad_seq"] >= seq
    assert "checkpoint" in rep["error"] or "edge" in rep["error"]


# ---- 3. a deleted row ----

def test_deleted_middle_entry_is_named(worker):
    flow(worker)
    stop(worker)
    edit_db(worker, ("DELETE FROM audit_log WHERE seq = 2", ()))
    rc, rep = verify(worker)
    assert rc == 1 and rep["bad_seq"] == 2
    assert "entry 2 is missing" in rep["error"]


# ---- 4. truncation, with the tree edge rebuilt ----

def test_consistent_truncation_needs_the_anchor(worker, tmp_path):
    flow(worker)
    saved = tmp_path / "anchor"
    p = worker.nc("audit", "checkpoint")
    assert p.returncode == 0, p.stderr
    saved.write_bytes(p.stdout)
    anchored = int(p.stdout.split(b"\n")[1])
    stop(worker)
    keep = 3
    assert anchored > keep
    truncate_consistently(worker, keep)

    # the default anchor (state/audit.checkpoint) catches it
    rc, rep = verify(worker)
    assert rc == 1 and rep["ok"] is False
    assert "truncated or rolled back" in rep["error"] and rep["bad_seq"] == keep
    assert rep["anchor"] == anchor_path(worker)
    p = worker.nc("audit", "verify")
    assert p.returncode == 1 and b"BROKEN" in p.stdout

    # so does an anchor exported earlier
    rc, rep = verify(worker, "--anchor", str(saved))
    assert rc == 1 and rep["anchor"] == str(saved)
    assert f"fewer than the anchor's {anchored}" in rep["error"]

    # without any anchor the rewrite is self-consistent: that is what anchors are for
    os.rename(anchor_path(worker), str(tmp_path / "moved"))
    rc, rep = verify(worker)
    assert rc == 0 and rep["ok"] is True and rep["entries"] == keep and rep["anchor"] is None
    p = worker.nc("audit", "verify")
    assert p.returncode == 0 and b"no anchor" in p.stderr


# ---- 5. an older copy of the database ----

def test_rollback_to_an_older_copy(worker, tmp_path):
    flow(worker)
    stop(worker)
    old = tmp_path / "old"
    old.mkdir()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db_path(worker) + suffix):
            shutil.copy2(db_path(worker) + suffix, old / ("nightcore.db" + suffix))
    old_count = rows(worker, "SELECT count(*) FROM audit_log")[0][0]

    worker.nc("worker", "start", check=True)
    sub = worker.submit("exit_code", "later")
    assert worker.nc("reject", sub["id"], "--reason", "not needed").returncode == 0
    saved = tmp_path / "anchor"
    p = worker.nc("audit", "checkpoint")
    assert p.returncode == 0
    saved.write_bytes(p.stdout)
    stop(worker)

    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db_path(worker) + suffix):
            os.unlink(db_path(worker) + suffix)
        if os.path.exists(old / ("nightcore.db" + suffix)):
            shutil.copy2(old / ("nightcore.db" + suffix), db_path(worker) + suffix)
    assert rows(worker, "SELECT count(*) FROM audit_log")[0][0] == old_count

    rc, rep = verify(worker)
    assert rc == 1 and rep["ok"] is False and "rolled back" in rep["error"]
    rc, rep = verify(worker, "--anchor", str(saved))
    assert rc == 1 and "rolled back" in rep["error"]


# ---- 6. forged checkpoints ----

def flip(c):
    return "A" if c != "A" else "B"


def test_forged_checkpoint_signature(worker):
    flow(worker)
    stop(worker)
    size, note = rows(worker, "SELECT size, note FROM audit_checkpoints ORDER BY size LIMIT 1")[0]
    lines = note.split("\n")
    sig = lines[4]
    assert sig.startswith("\u2014 ")
    i = len(sig) - 20   # inside the Ed25519 signature
    lines[4] = sig[:i] + flip(sig[i]) + sig[i + 1:]
    edit_db(worker, ("UPDATE audit_checkpoints SET note = ? WHERE size = ?", ("\n".join(lines), size)))
    rc, rep = verify(worker)
    assert rc == 1 and rep["ok"] is False
    assert f"checkpoint at size {size}" in rep["error"] and "signature" in rep["error"]


def test_changed_checkpoint_root(worker):
    flow(worker)
    stop(worker)
    (size,) = rows(worker, "SELECT size FROM audit_checkpoints ORDER BY size DESC LIMIT 1")[0]
    edit_db(worker, ("UPDATE audit_checkpoints SET root = ? WHERE size = ?", (os.urandom(32), size)))
    rc, rep = verify(worker)
    assert rc == 1 and rep["ok"] is False
    assert f"checkpoint at size {size}" in rep["error"]


# ---- 7. export ----

XSS = "<script>alert(1)</script><img src=x onerror=alert(1)>"


def test_export_html_escapes_and_is_self_contained(worker, tmp_path):
    flow(worker)
    sub = worker.submit("exit_code", "other")
    assert worker.nc("reject", sub["id"], "--reason", XSS + " & 'q' \"d\"").returncode == 0
    out = tmp_path / "audit.html"
    p = worker.nc("audit", "export", "--format", "html", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    page = out.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&amp; &#39;q&#39; &quot;d&quot;" in page
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "http://" not in page and "https://" not in page
    assert re.search(r"<(link|iframe|object|embed|base)\b", page) is None
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "Intact" in page and "run.end" in page and "rejection" in page
    # newest first
    assert page.index(">rejection<") < page.index(">run.end<") < page.index(">worker.start<")


def test_export_html_broken_log_says_so(worker, tmp_path):
    flow(worker)
    stop(worker)
    edit_db(worker, ("DELETE FROM audit_log WHERE seq = 2", ()))
    out = tmp_path / "audit.html"
    p = worker.nc("audit", "export", "--format", "html", "--out", str(out))
    assert p.returncode == 1 and b"BROKEN at entry 2" in p.stderr
    page = out.read_text(encoding="utf-8")
    assert "BROKEN" in page and "at entry 2" in page and "entry 2 is missing" in page


def test_export_jsonl_is_the_stored_entries(worker, tmp_path):
    flow(worker)
    sub = worker.submit("exit_code", "other")
    assert worker.nc("reject", sub["id"], "--reason", XSS).returncode == 0
    stop(worker)
    out = tmp_path / "audit.jsonl"
    p = worker.nc("audit", "export", "--format", "jsonl", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    lines = out.read_bytes().split(b"\n")
    assert lines[-1] == b""
    lines = lines[:-1]
    stored = [bytes(e) for (e,) in rows(worker, "SELECT entry FROM audit_log ORDER BY seq")]
    assert lines[:-2] == stored
    for line in lines:
        json.loads(line)
    cp = json.loads(lines[-2])
    note, size = rows(worker, "SELECT note, size FROM audit_checkpoints ORDER BY size DESC LIMIT 1")[0]
    assert cp == {"checkpoint": note, "size": size}
    rep = json.loads(lines[-1])["verify"]
    assert rep["ok"] is True and rep["entries"] == len(stored)


def test_export_usage(home, tmp_path):
    assert home.nc("audit", "export", "--format", "csv", "--out", str(tmp_path / "x")).returncode == 2
    assert home.nc("audit", "export", "--format", "html").returncode == 2
    assert home.nc("audit", "export", "--out", str(tmp_path / "x")).returncode == 2


# ---- 8. receipts ----

def test_run_receipt_verifies(worker):
    run = flow(worker)
    rc, rec = worker.ncj("runs", "show", run["id"], "--receipt")
    assert rc == 0, rec
    assert rec["verified"] is True and rec["run"] == run["id"]
    entry = json.loads(rec["entry"])
    assert entry["type"] == "run.end" and entry["run"] == run["id"] and entry["seq"] == rec["seq"]
    assert hashlib.sha256(b"\x00" + rec["entry"].encode()).hexdigest() == rec["leaf"]
    p = worker.nc("runs", "show", run["id"], "--receipt")
    out = p.stdout.decode()
    assert p.returncode == 0, p.stderr
    assert f"inclusion proof verified against checkpoint of size {rec['size']}" in out
    assert entry["module_sha256"] in out and entry["stdout_sha256"] in out and entry["approval_id"] in out
    # an unknown run is not_found (exit 1)
    p = worker.nc("runs", "show", "r_0000000000000000", "--receipt")
    assert p.returncode == 1


def test_receipt_refuses_a_checkpoint_of_another_key(worker):
    """The worker's answer is checked against keys/worker.pub: with another
    public key in place, the same receipt no longer verifies."""
    run = flow(worker)
    pub = os.path.join(worker.path, "keys", "worker.pub")
    orig = open(pub, "rb").read()
    try:
        import base64
        with open(pub, "wb") as f:
            f.write(base64.b64encode(os.urandom(32)) + b"\n")
        rc, rec = worker.ncj("runs", "show", run["id"], "--receipt")
        assert rc == 1 and rec["verified"] is False and "checkpoint" in rec["verify_error"]
    finally:
        with open(pub, "wb") as f:
            f.write(orig)


# ---- 9. tail, checkpoint ----

def test_tail_and_checkpoint_key(worker):
    flow(worker)
    p = worker.nc("audit", "tail", "-n", "5")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert len(lines) == 5
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  #\d+  \S+", lines[0])
    seqs = [int(l.split("#")[1].split()[0]) for l in lines]
    assert seqs == sorted(seqs)
    end = [l for l in lines if "  run.end  " in l]
    assert end and "  hello  ok  exit 0  score " in end[0]

    p = worker.nc("audit", "tail", "-n", "3", "--json")
    entries = [json.loads(l) for l in p.stdout.decode().splitlines()]
    assert len(entries) == 3 and entries[-1]["seq"] == seqs[-1]

    p = worker.nc("audit", "checkpoint", "--key")
    assert p.returncode == 0
    assert re.fullmatch(rb"nightcore/w_[0-9a-f]{16}\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}\n", p.stdout), p.stdout
    assert worker.nc("audit", "tail", "-x").returncode == 2
    assert worker.nc("audit", "tail", "--n", "3").returncode == 2
    assert worker.nc("audit", "tail", "-n", "x").returncode == 2


def test_tail_escapes_control_characters(worker):
    sub = worker.submit("exit_code", "other")
    assert worker.nc("reject", sub["id"], "--reason", "evil\x1b[2J\u202eright").returncode == 0
    p = worker.nc("audit", "tail", "-n", "2")
    assert b"\x1b" not in p.stdout and "\u202e".encode() not in p.stdout
    assert b"evil\\x1b[2J\\u{202e}right" in p.stdout
    p = worker.nc("audit", "tail", "-n", "2", "--json")
    assert b"\x1b" not in p.stdout and "\u202e".encode() not in p.stdout
    assert json.loads(p.stdout.splitlines()[-1])["reason"] == "evil\x1b[2J\u202eright"


def test_tail_follow(worker):
    proc = subprocess.Popen([os.path.join(BIN, "nightcore"), "audit", "tail", "-n", "0", "--follow"],
                            env=worker.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.7)
        worker.submit("hello", "followed")
        line = proc.stdout.readline().decode()
        assert "  submission  followed  " in line
    finally:
        proc.kill()
        proc.wait()


def test_checkpoint_makes_an_anchor_with_or_without_worker(worker, tmp_path):
    flow(worker)
    p = worker.nc("audit", "checkpoint")
    assert p.returncode == 0 and p.stdout.startswith(b"nightcore/w_")
    a1 = tmp_path / "a1"
    a1.write_bytes(p.stdout)
    rc, cp = worker.ncj("audit", "checkpoint")
    assert rc == 0 and cp["source"] == "worker" and cp["verifier_key"].startswith("nightcore/w_")
    assert int(cp["note"].split("\n")[1]) == cp["size"]
    stop(worker)
    p = worker.nc("audit", "checkpoint")
    assert p.returncode == 0 and b"may be older" in p.stderr
    a2 = tmp_path / "a2"
    a2.write_bytes(p.stdout)
    for a in (a1, a2):
        rc, rep = verify(worker, "--anchor", str(a))
        assert rc == 0 and rep["ok"] is True, rep
    # a note that does not verify is not an anchor
    bad = tmp_path / "bad"
    note = a1.read_text()
    i = len(note) - 20
    bad.write_text(note[:i] + flip(note[i]) + note[i + 1:])
    rc, rep = verify(worker, "--anchor", str(bad))
    assert rc == 1 and rep["error"].startswith("anchor: ")


# ---- 10. the stored tree nodes ----

def count_nodes(h):
    return rows(h, "SELECT count(*) FROM audit_nodes")[0][0]


def complete_subtrees(n):
    return n - bin(n).count("1")


def test_edited_tree_node_is_named_and_refused_at_start(worker):
    flow(worker)
    stop(worker)
    n = rows(worker, "SELECT count(*) FROM audit_log")[0][0]
    assert n >= 2 and count_nodes(worker) == complete_subtrees(n)
    edit_db(worker, ("UPDATE audit_nodes SET hash = ? WHERE level = 1 AND idx = 0", (os.urandom(32),)))
    rc, rep = verify(worker)
    assert rc == 1 and rep["ok"] is False and rep["bad_seq"] == 0
    assert "stored tree node over entries 0 to 1 does not match them" in rep["error"]
    assert rep["entries"] == n   # the entries themselves verified
    p = worker.nc("worker", "start", timeout=60)
    assert p.returncode != 0
    with open(os.path.join(worker.path, "logs", "worker.log"), "rb") as f:
        log = f.read()
    assert b"Refusing to start" in log and b"stored tree node over entries 0 to 1" in log


def test_log_from_before_the_tree_nodes_gets_them_at_start(worker):
    """A database of schema 5 (no stored nodes): read as it is by `audit
    verify`, migrated and given its nodes by the worker's next start."""
    run = flow(worker)
    stop(worker)
    edit_db(worker, ("DROP TABLE audit_nodes", ()), ("DROP INDEX approvals_submission", ()),
            ("ALTER TABLE submissions DROP COLUMN previous_submission", ()), ("PRAGMA user_version = 5", ()))
    rc, rep = verify(worker)
    assert rc == 0 and rep["ok"] is True, rep
    worker.nc("worker", "start", check=True)
    rc, rec = worker.ncj("runs", "show", run["id"], "--receipt")
    assert rc == 0 and rec["verified"] is True, rec
    stop(worker)
    assert rows(worker, "PRAGMA user_version")[0][0] == 7
    n = rows(worker, "SELECT count(*) FROM audit_log")[0][0]
    assert count_nodes(worker) == complete_subtrees(n)
    rc, rep = verify(worker)
    assert rc == 0 and rep["ok"] is True, rep


# ---- 11. a corrupt database ----

def test_corrupt_database_is_never_intact(worker, tmp_path):
    """A bad sector in a table the log does not even read (approvals): `audit
    verify` says the database is corrupt and fails, never "intact"."""
    flow(worker)
    for i in range(12):
        sub = worker.submit("hello", f"m{i}")
        worker.approve(sub["id"])
    stop(worker)
    db = sqlite3.connect(db_path(worker))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    pages = [p for (p,) in db.execute("SELECT pageno FROM dbstat WHERE name = 'approvals' AND pagetype = 'leaf'")]
    db.close()
    assert len(pages) >= 2
    with open(db_path(worker), "r+b") as f:
        for p in pages:
            f.seek((p - 1) * page_size)
            f.write(b"\x5a" * page_size)
    assert not os.path.exists(db_path(worker) + "-wal") or os.path.getsize(db_path(worker) + "-wal") == 0

    rc, rep = verify(worker)
    assert rc == 1 and rep["ok"] is False and rep["bad_seq"] is None
    assert rep["error"].startswith("the database is corrupt: ") and "restore it from a backup" in rep["error"]
    p = worker.nc("audit", "verify")
    assert p.returncode == 1
    assert p.stdout.decode().startswith("audit log not verified: the database is corrupt: ")
    assert b"intact" not in p.stdout
    out = tmp_path / "audit.jsonl"
    p = worker.nc("audit", "export", "--format", "jsonl", "--out", str(out))
    assert p.returncode == 1 and b"audit log BROKEN: the database is corrupt" in p.stderr
    assert json.loads(out.read_bytes().split(b"\n")[-2])["verify"]["ok"] is False


@pytest.mark.parametrize("words", [["audit", "verify"], ["audit", "checkpoint"], ["audit", "export"],
                                   ["audit", "tail"]])
def test_audit_help(home, words):
    p = home.nc(*words, "--help")
    assert p.returncode == 0 and p.stdout.decode().startswith("usage: nightcore " + " ".join(words))
    assert home.nc("help", *words).stdout == p.stdout


def test_audit_group_usage(home):
    p = home.nc("audit")
    assert p.returncode == 2 and b"audit verify" in p.stderr
