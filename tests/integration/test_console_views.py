"""The console's views and management over HTTP (issue #15; docs/console.md "HTTP API"): counts
true at scale from the worker's aggregate queries, alerts persisted and acknowledged in the audit
log (surviving a console restart), refusals that matter, filtered runs and inbox, modules, audit
entries with proofs checked by the console, receipts, agent removal, key revocation, policies signed
as the CLI signs them, log-out; each endpoint needs a session, checks its input, and refuses the
rest."""
import json
import os
import sqlite3
import time

import pytest

from conftest import b64file, fixture
from test_console import Console, console, logged_in, restart_worker  # noqa: F401 (fixtures)


def day_start():
    t = time.localtime()
    return int(time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1)))


def test_numbers_true_at_scale(worker):
    """12,000 runs today and 300 submissions seeded as rows (worker stopped): the dashboard counts
    every one of them, by outcome, hour and day, and plots submissions' scores, not runs'."""
    sub = worker.submit("hello", "hello")
    worker.approve(sub["id"], "--max-runs", "20000")
    rc, run = worker.ncj("run", "hello")
    assert rc == 0
    worker.nc("worker", "stop", check=True)
    db = sqlite3.connect(os.path.join(worker.path, "state", "nightcore.db"))
    base = db.execute("SELECT result FROM runs WHERE id=?", (run["id"],)).fetchone()[0]
    now = int(time.time())
    start = max(day_start(), now - 3 * 3600)
    outcomes = ("ok", "trap", "timeout", "exit", "cancelled")
    rows = []
    for i in range(12000):
        r = json.loads(base)
        r["id"] = f"r_seed{i:012d}"
        r["outcome"] = outcomes[i % 5]
        t = start + (i % max(1, now - start))
        rows.append((r["id"], run["approval_id"], "hello", run["sha256"], "operator", "finished", r["outcome"], t, t, 1,
                     5, json.dumps(r), None))
    db.executemany("INSERT INTO runs(id, approval_id, name, sha256, invoker, status, outcome, started_at, finished_at,"
                   " duration_ms, score, result, audit_seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    # 300 submissions scored 0..99 (3 per score), a run score of 5 never shows in their histogram
    db.executemany("INSERT INTO submissions(id, name, sha256, size, source, status, created_at, description, requested,"
                   " reason, drift_state, previous_sha256, drift_changes, analysis, threat)"
                   " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   [(f"s_seed{i:012d}", f"seed{i}", "0" * 64, 1, "agent:seed", "pending" if i % 2 else "rejected",
                     now - i, "", "{}", None, "new", None, "null", "{}",
                     json.dumps({"score": i % 100, "factors": []})) for i in range(300)])
    db.commit()
    db.close()
    worker.nc("worker", "start", check=True)
    c = Console(worker)
    try:
        c.login()
        t0 = time.time()
        r = c.get(f"/api/dashboard?day_start={day_start()}")
        assert r.status == 200, r.body
        took = time.time() - t0
        d = r.json()
        today = d["runs_today"]
        assert sum(today.values()) == 12001, today
        assert today["ok"] == 2401 and today["cancelled"] == 2400 and today["trap"] == 2400, today
        assert sum(sum(v for k, v in h.items() if k != "hour") for h in d["runs_by_hour"]) == 12001
        assert sum(sum(v for k, v in x.items() if k != "day") for x in d["runs_by_day"]) == 12001
        assert d["runs_total"] == 12001
        hist = d["score_histogram"]
        assert [b.get("pending", 0) + b.get("rejected", 0) for b in hist] == [30] * 10, hist
        assert sum(b.get("approved", 0) for b in hist) == 1   # hello itself
        assert sum(b.get("pending", 0) for b in hist) == 150
        assert d["submissions"]["total"] == 301 and d["pending"] == 150
        assert d["submissions"]["riskiest_pending"][0]["threat"]["score"] == 99
        print("dashboard at 12,001 runs:", round(took * 1000), "ms")
        # filters over the whole table
        assert c.get("/api/runs?outcome=cancelled&limit=1").json()["total"] == 2400
        assert c.get("/api/runs?outcome=ok&name=hello&invoker=operator&limit=1").json()["total"] == 2401
        assert c.get(f"/api/runs?from={now + 3600}&limit=5").json()["total"] == 0
        srt = c.get("/api/runs?sort=score&order=asc&limit=3").json()["items"]
        assert len(srt) == 3
        inbox = c.get("/api/inbox?status=all&min_score=90&sort=score&order=desc&limit=50").json()
        assert inbox["total"] == 30 and inbox["items"][0]["threat"]["score"] == 99
        assert all(s["threat"]["score"] >= 90 for s in inbox["items"])
        assert c.get("/api/inbox?status=all&q=seed29&limit=50").json()["total"] == 11   # seed29, seed290..299
        assert c.get(f"/api/inbox?status=all&to={now - 200}&limit=1").json()["total"] == 99
    finally:
        c.stop()


def test_alerts_persist_and_acknowledgement_is_audited(worker):
    sub = worker.submit("hello", "greeter")
    worker.approve(sub["id"])
    drift = worker.submit("path_traversal", "greeter")
    c = Console(worker)
    try:
        c.login()
        a = c.get("/api/alerts").json()
        ids = [x["id"] for x in a["items"]]
        assert "drift-" + drift["id"] in ids and a["open"] >= 1, a
        alert = [x for x in a["items"] if x["id"] == "drift-" + drift["id"]][0]
        assert alert["name"] == "greeter" and alert["submission"] == drift["id"] and alert["acknowledged"] is None
    finally:
        c.stop()
    # a restart of the console loses nothing: the alerts are the worker's
    c = Console(worker)
    try:
        c.login()
        d = c.get("/api/dashboard").json()
        assert d["alerts_open"] >= 1 and any(x["id"] == "drift-" + drift["id"] for x in d["alerts"]), d["alerts"]
        # acknowledging: session, Origin and a well-formed id needed
        path = "/api/alerts/drift-%s/ack" % drift["id"]
        assert c.post(path, {}, auth=False).status == 401
        assert c.post(path, {}, origin="http://evil.example").status == 403
        assert c.post(path, {"x": 1}).status == 400
        assert c.post("/api/alerts/nope/ack", {}).status == 400
        assert c.post("/api/alerts/audit-999999/ack", {}).status == 404
        r = c.post(path, {})
        assert r.status == 200, r.body
        ack = r.json()["acknowledged"]
        assert ack and ack["seq"] > 0
        again = c.post(path, {}).json()["acknowledged"]
        assert again["seq"] == ack["seq"]   # once in the log
        assert all(x["id"] != "drift-" + drift["id"] for x in c.get("/api/alerts").json()["items"])
        assert any(x["id"] == "drift-" + drift["id"] and x["acknowledged"] for x in
                   c.get("/api/alerts?all=1").json()["items"])
        entries = c.get("/api/audit/entries?kind=alert.ack").json()["items"]
        assert len(entries) == 1
        e = json.loads(entries[0]["entry"])
        assert e["alert"] == "drift-" + drift["id"] and e["name"] == "greeter" and e["seq"] == ack["seq"]
        assert c.get("/api/audit").json()["ok"] is True
    finally:
        c.stop()


def test_worker_alert_events_are_audit_entries(worker):
    """An alert the worker raises (here: an approval's compiled artifact missing, rebuilt before the
    run) is an `alert` entry in the log, listed with the module's name, once."""
    sub = worker.submit("hello", "rebuilt")
    worker.approve(sub["id"])
    art = os.path.join(worker.path, "state", "artifacts")
    for f in os.listdir(art):
        os.unlink(os.path.join(art, f))
    assert worker.nc("run", "rebuilt").returncode == 0
    c = Console(worker)
    try:
        c.login()
        items = c.get("/api/alerts").json()["items"]
        rebuilt = [x for x in items if x["kind"] == "artifact_rebuilt"]
        assert len(rebuilt) == 1 and rebuilt[0]["name"] == "rebuilt" and rebuilt[0]["id"].startswith("audit-"), items
        e = c.get("/api/audit/entries?kind=alert").json()["items"]
        assert len(e) == 1 and json.loads(e[0]["entry"])["approval_id"]
    finally:
        c.stop()


def test_refusals_that_matter(worker, tmp_path):
    rc, agent = worker.ncj("agent", "add", "bot")
    assert rc == 0
    a = worker.sock("agent")
    for _ in range(3):
        assert not a.call("hello", token="nca_" + "y" * 43)["ok"]
    assert not a.call("run", token=agent["token"], ref="nothing-here")["ok"]
    a.close()
    ctl = worker.sock()
    for _ in range(5):   # the operator's own lookups of unknown ids are not refusals that matter
        assert not ctl.call("submission.get", submission="s_0000000000000000")["ok"]
    assert not ctl.call("run", ref="nothing-here")["ok"]   # an operator run refused is
    ctl.close()
    c = Console(worker)
    try:
        c.login()
        r = c.get("/api/refusals").json()
        assert r["total"] == 5 and r["refusals"] == 5, r
        assert r["by_code"] == {"unauthorized": 3, "not_approved": 2}, r["by_code"]
        assert c.get("/api/refusals?socket=agent").json()["total"] == 4
        assert c.get("/api/refusals?socket=control").json()["total"] == 1
        assert c.get("/api/refusals?request=run").json()["total"] == 2
        assert c.get("/api/refusals?code=unauthorized&socket=agent").json()["total"] == 3
        assert c.get("/api/refusals?from=%d" % (time.time() + 3600)).json()["total"] == 0
        assert c.get("/api/dashboard").json()["refused_today"] == 5
        assert c.get("/api/refusals?socket=bogus").status == 400
        assert c.get("/api/refusals?op=run").status == 400   # unknown argument
        assert c.get("/api/refusals", auth=False).status == 401
    finally:
        c.stop()


def test_modules_audit_entries_and_proofs(worker):
    sub = worker.submit("hello", "mod")
    worker.approve(sub["id"])
    rc, run = worker.ncj("run", "mod")
    assert rc == 0
    worker.submit("path_traversal", "mod")
    c = Console(worker)
    try:
        c.login()
        mods = c.get("/api/modules").json()
        m = [x for x in mods["items"] if x["name"] == "mod"][0]
        assert m["versions"] == 2 and m["pending"] == 1 and m["approved"] == 1 and m["runs"] == 1, m
        one = c.get("/api/module?name=mod").json()
        assert one["versions"]["total"] == 2 and one["approvals"]["total"] == 1 and one["runs"]["total"] == 1
        approved = [s for s in one["versions"]["items"] if s["status"] == "approved"][0]
        assert approved["approval_state"]["state"] == "active"
        assert c.get("/api/module?name=nope").status == 404
        assert c.get("/api/module?name=a%20b").status == 400
        assert c.get("/api/module").status == 400
        # audit entries by kind, actor, module, time; each with a proof the console checks
        e = c.get("/api/audit/entries?kind=approval").json()
        assert e["total"] == 1 and e["items"][0]["name"] == "mod" and e["items"][0]["actor"] == "tester@example.com"
        assert c.get("/api/audit/entries?name=mod&kind=run.end").json()["items"][0]["run"] == run["id"]
        assert c.get("/api/audit/entries?actor=operator&kind=submission").json()["total"] == 2
        assert c.get("/api/audit/entries?from=%d" % (time.time() + 3600)).json()["total"] == 0
        seq = e["items"][0]["seq"]
        p = c.get(f"/api/audit/proof?seq={seq}").json()
        assert p["verification"] == {**p["verification"], "ok": True, "leaf": True, "signature": True, "proof": True}
        assert p["verifier_key"].startswith("nightcore/")
        assert c.get("/api/audit/proof?seq=999999").status == 404
        assert c.get("/api/audit/proof").status == 400
        assert c.get("/api/audit/proof?seq=-1").status == 400
        assert c.get("/api/audit/entries?kind=Bad%20Kind").status == 400
        assert c.get("/api/audit/entries?limit=0").status == 400
        rc_ = c.get(f"/api/runs/{run['id']}/receipt").json()
        assert rc_["verification"]["ok"] is True and rc_["run"] == run["id"]
        assert c.get("/api/runs/%s/receipt?x=1" % run["id"]).status == 400
    finally:
        c.stop()


def test_list_arguments_are_checked(worker, logged_in):
    c = logged_in
    for path in ["/api/runs?outcome=OK!", "/api/runs?invoker=root", "/api/runs?sort=size", "/api/runs?order=up",
                 "/api/runs?from=x", "/api/runs?limit=5000", "/api/runs?approval=abc", "/api/runs?bogus=1",
                 "/api/inbox?min_score=101", "/api/inbox?sort=size", "/api/inbox?sha256=zz", "/api/inbox?q=%01",
                 "/api/modules?q=" + "x" * 300, "/api/alerts?all=2", "/api/alerts?open=1"]:
        r = c.get(path)
        assert r.status == 400, (path, r.status, r.body)
        assert r.json()["error"]["code"] == "invalid_request"
    for path in ["/api/runs", "/api/inbox", "/api/modules", "/api/module?name=x", "/api/alerts", "/api/refusals",
                 "/api/audit/entries", "/api/audit/proof?seq=0"]:
        assert c.get(path, auth=False).status == 401, path


def test_management(worker, tmp_path):
    restart_worker(worker, "--insecure-dev")
    rc, _ = worker.ncj("agent", "add", "gone")
    assert rc == 0
    c = Console(worker)
    try:
        c.login()
        # remove an agent: no signature (it lowers authority), but a session and the Origin
        assert c.post("/api/agents/gone/remove", {}, auth=False).status == 401
        assert c.post("/api/agents/gone/remove", {}, origin=False).status == 403
        assert c.post("/api/agents/gone/remove", {"force": True}).status == 400
        r = c.post("/api/agents/gone/remove", {})
        assert r.status == 200, r.body
        assert [a["removed"] for a in c.get("/api/agents").json()["items"] if a["name"] == "gone"] != [None]
        assert c.post("/api/agents/nobody/remove", {}).status in (400, 404, 409)
        # revoke a key by its fingerprint: the last admin key is refused with the reason
        fp = c.get("/api/trust").json()["keys"][0]["fingerprint"]
        r = c.post("/api/trust/revoke", {"fingerprint": fp})
        assert r.status == 400 and "last admin key" in r.json()["error"]["message"], r.body
        assert c.post("/api/trust/revoke", {"fingerprint": "SHA256:nope"}).status == 404
        assert c.post("/api/trust/revoke", {"fingerprint": "md5:x"}).status == 400
        assert c.post("/api/trust/revoke", {"key": "ssh-ed25519 AAAA"}).status == 400
        # a policy: prepared by the worker, checked and kept by the console, signed as the CLI signs it
        pol = {"name": "from-console", "capabilities": {"args": True}}
        r = c.post("/api/policies/prepare", {"policy": pol})
        assert r.status == 200, r.body
        prep = r.json()
        assert prep["signature_needed"] is True and any(w[0] == "action" for w in prep["words"])
        assert c.post("/api/policies/sign", {"statement_id": "0" * 64}).status == 400
        r = c.post("/api/policies/sign", {"statement_id": prep["statement_id"]})
        assert r.status == 200, (r.body, c.err())
        assert r.json()["name"] == "from-console" and r.json()["version"] == 1
        assert c.post("/api/policies/sign", {"statement_id": prep["statement_id"]}).status == 400   # used once
        signed = c.get("/api/audit/entries?kind=policy.set").json()
        assert signed["total"] >= 1
        # narrowing needs no signature
        r = c.post("/api/policies/prepare", {"policy": {"name": "from-console", "capabilities": {"args": False}}})
        assert r.status == 200 and r.json()["signature_needed"] is False, r.body
        r = c.post("/api/policies/sign", {"statement_id": r.json()["statement_id"]})
        assert r.status == 200 and r.json()["version"] == 2, r.body
        assert c.post("/api/policies/prepare", {"policy": {"name": "Bad Name!"}}).status == 400
        assert c.post("/api/policies/prepare", {"policy": "x"}).status == 400
        # log out: the session ends on the console
        assert c.post("/api/session/end", {}, origin=False).status == 403
        r = c.post("/api/session/end", {})
        assert r.status == 200 and r.json()["ended"] is True
        assert c.get("/api/status").status == 401
    finally:
        c.stop()


def test_a_policy_needs_a_human_without_dev_mode(worker, logged_in):
    """The key in these homes has no passphrase: outside development mode the console refuses to sign
    a widening policy (403 human_required), as it refuses approvals."""
    c = logged_in
    prep = c.post("/api/policies/prepare", {"policy": {"name": "wider", "capabilities": {"args": True}}}).json()
    r = c.post("/api/policies/sign", {"statement_id": prep["statement_id"]})
    assert r.status == 403 and r.json()["error"]["code"] == "human_required", r.body
