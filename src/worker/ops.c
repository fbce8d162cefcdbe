/* Operator ops that answer at once (docs/protocol.md). The two that wait for
 * the thread pool (run, approval.submit) are in run.c. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/json.h"
#include "common/limits.h"
#include "store/auditlog.h"
#include "store/blobs.h"
#include "trust/sshsig.h"
#include "trust/statement.h"
#include "trust/truststore.h"
#include "worker/threat.h"
#include "worker/worker.h"

int64_t nc_unix_now(void)
{
    return (int64_t)time(NULL);
}

void nc_random_id(const char *prefix, char *out, size_t out_len)
{
    uint8_t r[8];
    char hex[17];
    randombytes_buf(r, sizeof r);
    nc_hex(r, sizeof r, hex);
    snprintf(out, out_len, "%s%s", prefix, hex);
}

/* ---- parameter helpers: unknown params are refused ---- */

bool nc_params_ok(nc_client *c, json_t *id, json_t *req, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(req, key, v) {
        (void)v;
        if (strcmp(key, "id") == 0 || strcmp(key, "op") == 0)
            continue;
        bool known = false;
        for (const char *const *a = allowed; *a; a++)
            known |= strcmp(*a, key) == 0;
        if (!known) {
            nc_reply_error(c, id, NC_ERR_USAGE, "unknown parameter \"%.64s\" for %s", key,
                           json_string_value(json_object_get(req, "op")));
            return false;
        }
    }
    return true;
}

const char *nc_str_param(json_t *req, const char *key)
{
    json_t *v = json_object_get(req, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool nc_int_param(nc_client *c, json_t *id, json_t *req, const char *key, int64_t def, int64_t min, int64_t max,
                      int64_t *out)
{
    json_t *v = json_object_get(req, key);
    *out = def;
    if (!v)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        nc_reply_error(c, id, NC_ERR_USAGE, "%s must be an integer from %lld to %lld", key, (long long)min,
                       (long long)max);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

void nc_reply_db_error(nc_client *c, json_t *id, nc_err err, const char *what)
{
    if (err == NC_ERR_NOT_FOUND)
        nc_reply_error(c, id, NC_ERR_NOT_FOUND, "no %s with that id", what);
    else
        nc_reply_store_error(c, id, err, what);
}

void nc_reply_store_error(nc_client *c, json_t *id, nc_err err, const char *what)
{
    char why[512];
    nc_worker_failure(c->w, err, why, sizeof why);
    nc_reply_error(c, id, err == NC_OK || err == NC_ERR_NOT_FOUND ? NC_ERR_INTERNAL : err,
                   "could not read or record %s: %s", what, why);
}

void nc_worker_failure(nc_worker *w, nc_err err, char *out, size_t out_len)
{
    switch (err) {
    case NC_ERR_NO_SPACE:
        snprintf(out, out_len, "no space left on the device holding %s; free some space and retry (nothing was "
                 "changed)", w->db_path);
        break;
    case NC_ERR_CORRUPT:
        snprintf(out, out_len, "the database is corrupt (%s); stop the worker and run `nightcore doctor`",
                 nc_db_errmsg(w->db));
        break;
    case NC_ERR_NOMEM:
        snprintf(out, out_len, "out of memory");
        break;
    case NC_ERR_TOO_LARGE:
        snprintf(out, out_len, "larger than the audit log accepts in one entry");
        break;
    case NC_ERR_IO:
        snprintf(out, out_len, "input/output error (%s)", nc_db_errmsg(w->db));
        break;
    default:
        snprintf(out, out_len, "%s", nc_strerror(err));
        break;
    }
}

/* ---- hello, status ---- */

static void op_hello(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {NULL};
    if (!nc_params_ok(c, id, req, p))
        return;
    nc_reply(c, id, json_pack("{s:i, s:s, s:s}", "protocol", 1, "worker_id", c->w->worker_id, "version", NC_VERSION));
}

/* The isolation tiers and what each offers here (the sandbox reports them). */
json_t *nc_worker_tiers_json(nc_worker *w)
{
    nc_tier_status st[NC_TIER_COUNT];
    size_t n = nc_sandbox_tiers(w->sandbox, st, NC_TIER_COUNT);
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:b, s:s, s:s, s:i, s:i, s:i, s:I, s:I}", "tier",
                                           nc_tier_name(st[i].tier), "available", st[i].available, "note", st[i].note,
                                           "accel", nc_vm_accel_name(st[i].accel), "pool_size", (int)st[i].pool_size,
                                           "pool_ready", (int)st[i].pool_ready, "pool_memory_mib",
                                           (int)st[i].pool_memory_mib, "boots", (json_int_t)st[i].boots,
                                           "boot_failures", (json_int_t)st[i].boot_failures));
    return a;
}

static void op_status(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {NULL};
    nc_worker *w = c->w;
    if (!nc_params_ok(c, id, req, p))
        return;
    int64_t pending = 0, approvals = 0, runs = 0;
    if (nc_db_count_pending(w->db, NULL, &pending) || nc_db_count_approvals(w->db, &approvals) ||
        nc_db_count_runs(w->db, &runs)) {
        nc_reply_db_error(c, id, NC_ERR_IO, "status");
        return;
    }
    nc_isolation_report iso;
    nc_isolation_probe(&iso);
    nc_trust_store ts;
    char msg[1024];
    int64_t trust_version = -1;
    nc_err terr = nc_worker_trust_load(w, &ts, msg, sizeof msg);
    if (terr == NC_OK) {
        trust_version = (int64_t)ts.version;
        nc_trust_cleanup(&ts);
    }
    size_t active = 0;
    for (size_t i = 0; i < nc_ledger_count(w->ledger); i++)
        active += !nc_ledger_get(w->ledger, i)->revoked;
    json_t *res = json_pack("{s:i, s:s, s:s, s:I, s:s, s:I, s:{s:i, s:i, s:i, s:i}, s:{s:b, s:b, s:i, s:b},"
                            " s:{s:I, s:I, s:I}}",
                            "pid", (int)getpid(), "worker_id", w->worker_id, "version", NC_VERSION, "uptime_s",
                            (json_int_t)(nc_unix_now() - w->started_at), "home", w->home.root, "trust_version",
                            (json_int_t)trust_version, "queue", "running", (int)w->running, "queued", (int)w->queued,
                            "limit", (int)w->limit, "queue_limit", (int)w->queue_limit, "isolation", "userns",
                            iso.userns, "netns", iso.netns, "landlock_abi", iso.landlock_abi, "seccomp", iso.seccomp,
                            "counts", "pending", (json_int_t)pending, "approvals", (json_int_t)approvals, "runs",
                            (json_int_t)runs);
    if (!res) {
        nc_reply_error(c, id, NC_ERR_NOMEM, "out of memory");
        return;
    }
    json_object_set_new(res, "trust", json_pack("{s:b, s:I, s:o, s:s?}", "root", nc_ledger_has_root(w->ledger),
                                                "active_keys", (json_int_t)active, "keys",
                                                nc_worker_trust_keys_json(w), "problem",
                                                terr == NC_OK ? NULL : msg));
    json_object_set_new(res, "tiers", nc_worker_tiers_json(w));
    json_object_set_new(res, "deployment", nc_worker_deployment_json(w));
    json_object_set_new(res, "dev_mode", json_boolean(w->dev_mode));
    json_object_set_new(res, "unrecorded_runs", json_integer(w->nunrecorded));
    json_object_set_new(res, "compiles", nc_compiles_status(w));
    json_object_set_new(res, "durability", json_pack("{s:I, s:I}", "commits", (json_int_t)nc_db_commits(w->db),
                                                     "syncs", (json_int_t)w->syncs));
    json_object_set_new(res, "connections", json_pack("{s:i, s:i, s:I, s:I, s:i, s:i}", "agent", (int)w->nagent_conns,
                                                      "control", (int)w->ncontrol_conns, "refused",
                                                      (json_int_t)w->conns_refused, "descriptor_errors",
                                                      (json_int_t)w->emfile_errors, "agent_limit",
                                                      (int)w->max_agent_conns, "agent_limit_per_uid",
                                                      (int)w->max_agent_conns_per_uid));
    nc_reply(c, id, res);
}

/* ---- submit ---- */

/* Token bucket per source; true if a submission may go ahead now. */
static bool rate_take(nc_worker *w, const char *source, const nc_submit_limits *lim)
{
    uint64_t now = uv_now(w->loop);
    nc_rate_bucket *b = NULL;
    for (unsigned i = 0; i < w->nrates && !b; i++)
        if (strcmp(w->rates[i].source, source) == 0)
            b = &w->rates[i];
    if (!b) {
        if (w->nrates == NC_WORKER_MAX_RATE_SOURCES)
            w->nrates = 0;   /* forget the oldest sources: they start full again */
        b = &w->rates[w->nrates++];
        snprintf(b->source, sizeof b->source, "%s", source);
        b->tokens = lim->burst;
        b->updated_ms = now;
    }
    b->tokens += (double)(now - b->updated_ms) / 1000.0 * lim->per_sec;
    if (b->tokens > lim->burst)
        b->tokens = lim->burst;
    b->updated_ms = now;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

/* Shared by the operator's and the agents' submit. */
/* sha256 of v's canonical form, as hex. */
static nc_err json_digest(const json_t *v, char hex[NC_SHA256_HEX_LEN + 1])
{
    size_t len;
    uint8_t d[NC_SHA256_LEN];
    char *text = nc_json_canonical(v, &len);
    if (!text)
        return NC_ERR_NOMEM;
    nc_err err = nc_sha256(text, len, d);
    free(text);
    if (err == NC_OK)
        nc_hex(d, sizeof d, hex);
    return err;
}

/* The first line of a message, at most 300 bytes (Wasmtime's errors carry
 * a multi-line backtrace-like dump). */
static void one_line(char *msg)
{
    size_t n = strcspn(msg, "\r\n");
    if (n > 300)
        n = 300;
    msg[n] = '\0';
    while (n > 0 && (msg[n - 1] == ' ' || msg[n - 1] == ':'))
        msg[--n] = '\0';
}

/* A module an agent may submit: a WASI command (a _start function) whose
 * every import is a preview 1 function the worker provides. */
static nc_err agent_module_ok(const nc_analysis *an, char *msg, size_t msg_len)
{
    bool has_start = false;
    for (size_t i = 0; i < an->nexports; i++)
        has_start |= an->exports[i].kind == NC_WASM_KIND_FUNC && strcmp(an->exports[i].name, "_start") == 0;
    if (!has_start) {
        snprintf(msg, msg_len, "the module exports no _start function: only WASI command modules can run (build "
                 "it as a wasm32-wasip1 executable, not a library)");
        return NC_ERR_NO_ENTRY;
    }
    for (size_t i = 0; i < an->nimports; i++) {
        const nc_wasm_import *im = &an->imports[i];
        if (im->legacy_wasi || strcmp(im->module, "wasi_snapshot_preview1") != 0 ||
            im->capability == NC_WASM_CAP_OUTSIDE_WASI) {
            snprintf(msg, msg_len, "the module imports %.64s.%.64s (%s), which Night Core never provides: only "
                     "wasi_snapshot_preview1 functions can be imported (%zu import%s in all)",
                     im->module, im->name, nc_wasm_kind_name(im->kind), an->nimports, an->nimports == 1 ? "" : "s");
            return NC_ERR_UNSUPPORTED_IMPORT;
        }
    }
    return NC_OK;
}

/* Parse and analyse (our own parser: one clear line for a file that is not
 * a module), then what agents may submit, then Wasmtime's validation. */
static nc_err submit_check_module(const uint8_t *wasm, size_t len, bool agent, nc_analysis **an, json_t **an_json,
                                  char *msg, size_t msg_len)
{
    nc_err err = nc_threat_analyze(wasm, len, an, an_json, msg, msg_len);
    if (err == NC_OK && agent)
        err = agent_module_ok(*an, msg, msg_len);
    if (err == NC_OK && (err = nc_module_validate(wasm, len, msg, msg_len)) != NC_OK)
        err = NC_ERR_INVALID_MODULE;
    if (err != NC_OK) {
        one_line(msg);
        if (err != NC_ERR_NOMEM && strncmp(msg, "invalid module", 14) != 0 && strncmp(msg, "the module", 10) != 0) {
            char tmp[400];
            snprintf(tmp, sizeof tmp, "%.300s", msg);
            snprintf(msg, msg_len, "not a WebAssembly module Night Core accepts: %s", tmp);
        }
    }
    return err;
}

void nc_submit(nc_client *c, json_t *id, json_t *req, const char *source, const nc_submit_limits *lim)
{
    static const char *const p[] = {"name", "wasm_b64", "description", "requested", "token", "review_again", NULL};
    nc_worker *w = c->w;
    uint8_t *wasm = NULL, *prev = NULL;
    size_t wasm_len = 0, prev_len = 0;
    nc_analysis *an = NULL, *prev_analysis = NULL;
    json_t *an_json = NULL, *changes = NULL, *threat = NULL, *requested_json = NULL, *prev_an = NULL, *sub = NULL;
    json_t *log_analysis = NULL, *log_changes = NULL;
    nc_err err = NC_ERR_NOMEM;
    const char *what = "the submission";
    char an_digest[NC_SHA256_HEX_LEN + 1], changes_digest[NC_SHA256_HEX_LEN + 1];
    nc_caps requested;
    char msg[512], sha_hex[NC_SHA256_HEX_LEN + 1], sub_id[40];
    uint8_t sha[NC_SHA256_LEN];
    memset(&requested, 0, sizeof requested);

    if (!nc_params_ok(c, id, req, p))
        return;
    const char *name = nc_str_param(req, "name"), *b64 = nc_str_param(req, "wasm_b64");
    const char *desc = nc_str_param(req, "description");
    json_t *again = json_object_get(req, "review_again");
    if (again && !json_is_boolean(again)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "review_again must be true or false");
        return;
    }
    if (!name || !nc_module_name_ok(name)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "name must be 1-64 of A-Z a-z 0-9 . _ - (not starting with . or -)");
        return;
    }
    if (!b64) {
        nc_reply_error(c, id, NC_ERR_USAGE, "wasm_b64 (the module, base64) is required");
        return;
    }
    if (desc && strlen(desc) > 4096) {
        nc_reply_error(c, id, NC_ERR_TOO_LARGE, "description longer than 4096 bytes");
        return;
    }
    size_t b64_len = strlen(b64);
    if (b64_len / 4 * 3 > NC_MAX_MODULE_BYTES + 3) {
        nc_reply_error(c, id, NC_ERR_TOO_LARGE, "module larger than %u bytes", NC_MAX_MODULE_BYTES);
        return;
    }
    /* Flooding (THREAT_MODEL §6.4): rate, then pending caps, all per source. */
    if (!rate_take(w, source, lim)) {
        nc_reply_error(c, id, NC_ERR_RATE_LIMITED, "too many submissions from %s; wait and retry", source);
        return;
    }
    int64_t pending_src = 0, pending_all = 0;
    if (nc_db_count_pending(w->db, source, &pending_src) || nc_db_count_pending(w->db, NULL, &pending_all)) {
        nc_reply_db_error(c, id, NC_ERR_IO, "submission");
        return;
    }
    if (pending_src >= lim->max_pending || pending_all >= NC_WORKER_MAX_PENDING_TOTAL) {
        nc_reply_error(c, id, NC_ERR_QUOTA_EXCEEDED,
                       "the inbox is full (%lld pending from %s, %lld in all); review or reject pending submissions",
                       (long long)pending_src, source, (long long)pending_all);
        return;
    }
    wasm = malloc(b64_len / 4 * 3 + 3);
    if (!wasm || sodium_base642bin(wasm, b64_len / 4 * 3 + 3, b64, b64_len, NULL, &wasm_len, NULL,
                                   sodium_base64_VARIANT_ORIGINAL) != 0) {
        nc_reply_error(c, id, NC_ERR_USAGE, "wasm_b64 is not valid base64");
        goto done;
    }
    if (wasm_len > NC_MAX_MODULE_BYTES) {
        nc_reply_error(c, id, NC_ERR_TOO_LARGE, "module larger than %u bytes", NC_MAX_MODULE_BYTES);
        goto done;
    }
    json_t *rq = json_object_get(req, "requested");
    if (rq && nc_caps_from_json(rq, &requested, msg, sizeof msg) != NC_OK) {
        nc_reply_error(c, id, NC_ERR_USAGE, "requested: %s", msg);
        goto done;
    }
    if ((err = nc_sha256(wasm, wasm_len, sha)) != NC_OK)
        goto fail;
    nc_hex(sha, sizeof sha, sha_hex);
    /* An identical resubmission returns the existing entry, unless a new
     * review is asked for (the old approval used up, expired or revoked):
     * then a new submission links the newest identical one. A pending one is
     * already waiting for review and is returned as it is. */
    char prev_status[16] = "", previous_sub[40] = "";
    err = json_is_true(again) ? nc_db_submission_find_any(w->db, source, name, sha_hex, previous_sub, prev_status)
                              : nc_db_submission_find(w->db, source, name, sha_hex, sub_id);
    if (err == NC_OK && json_is_true(again) && strcmp(prev_status, "pending") == 0)
        snprintf(sub_id, sizeof sub_id, "%s", previous_sub);
    if (err == NC_OK && (!json_is_true(again) || strcmp(prev_status, "pending") == 0)) {
        if ((err = nc_db_submission_get(w->db, sub_id, lim->agent, &sub)) != NC_OK)
            goto fail;
        nc_reply(c, id, lim->agent ? nc_agent_submission_view(w, sub, source) : sub);
        sub = NULL;
        goto done;
    }
    if (err == NC_ERR_NOT_FOUND)
        previous_sub[0] = '\0';
    else if (err != NC_OK)
        goto fail;
    if ((err = submit_check_module(wasm, wasm_len, lim->agent, &an, &an_json, msg, sizeof msg)) != NC_OK) {
        nc_reply_error(c, id, err == NC_ERR_NOMEM ? err : NC_ERR_INVALID_MODULE, "%s", msg);
        goto done;
    }
    /* Drift against the name's history. */
    bool seen, known, new_author;
    char prev_sha[65];
    if ((err = nc_db_name_history(w->db, name, &seen, prev_sha, &prev_an, &known, sha_hex)) != NC_OK ||
        (err = nc_db_source_seen(w->db, source, &new_author)) != NC_OK)
        goto fail;
    new_author = !new_author;
    nc_drift_state drift = !seen ? NC_DRIFT_NEW : known ? NC_DRIFT_KNOWN : NC_DRIFT_DRIFT;
    const char *drift_name = drift == NC_DRIFT_NEW ? "new" : drift == NC_DRIFT_KNOWN ? "known" : "drift";
    if (seen && strcmp(prev_sha, sha_hex) != 0 &&
        nc_blob_get(w->blobs, prev_sha, NC_MAX_MODULE_BYTES, &prev, &prev_len) == NC_OK &&
        nc_wasm_analyze(prev, prev_len, &prev_analysis, msg, sizeof msg) == NC_OK)
        changes = nc_drift_changes_json(prev_analysis, an);
    threat = nc_threat_static(an, drift, prev_analysis, new_author, &requested);
    requested_json = nc_caps_to_json(&requested);
    if (!threat || !requested_json) {
        err = NC_ERR_NOMEM;
        goto fail;
    }

    nc_random_id("s_", sub_id, sizeof sub_id);
    nc_db_submission s = {
        .id = sub_id, .name = name, .sha256 = sha_hex, .source = source, .description = desc ? desc : "",
        .size = (int64_t)wasm_len, .created_at = nc_unix_now(), .drift_state = drift_name,
        .previous_sha256 = seen && strcmp(prev_sha, sha_hex) != 0 ? prev_sha : NULL,
        .requested = requested_json, .drift_changes = changes ? changes : json_null(), .analysis = an_json,
        .threat = threat, .previous_submission = previous_sub[0] ? previous_sub : NULL,
    };
    /* The audit entry carries a bounded summary of the analysis and the
     * drift, with the digests of the full ones (kept in the database), so
     * every module that may be submitted can be logged. */
    log_analysis = nc_json_bounded(an_json, NC_WORKER_LOG_ITEMS, NC_WORKER_LOG_STRING);
    log_changes = nc_json_bounded(s.drift_changes, NC_WORKER_LOG_ITEMS, NC_WORKER_LOG_STRING);
    if (!log_analysis || !log_changes || json_digest(an_json, an_digest) != NC_OK ||
        json_digest(s.drift_changes, changes_digest) != NC_OK) {
        err = NC_ERR_NOMEM;
        goto fail;
    }
    /* The blob first, then the row; a blob this submission wrote is removed
     * again if the row does not commit. */
    bool had_blob = nc_blob_exists(w->blobs, sha_hex);
    if ((err = nc_blob_put(w->blobs, wasm, wasm_len, sha_hex)) != NC_OK) {
        what = "the module's bytes";
        goto fail;
    }
    if ((err = nc_db_begin(w->db)) == NC_OK && (err = nc_db_submission_insert(w->db, &s)) == NC_OK)
        err = nc_log(w, "submission",
                     json_pack("{s:s, s:s, s:s, s:I, s:s, s:{s:s, s:s?, s:O, s:s}, s:O, s:O, s:s, s:O}", "submission",
                               sub_id, "name", name, "sha256", sha_hex, "size", (json_int_t)wasm_len, "source",
                               source, "drift", "state", drift_name, "previous_sha256", s.previous_sha256, "changes",
                               log_changes, "changes_sha256", changes_digest, "threat", threat, "analysis",
                               log_analysis, "analysis_sha256", an_digest, "requested", requested_json),
                     NULL);
    if (err == NC_OK && previous_sub[0])
        err = nc_log(w, "submission.review_again", json_pack("{s:s, s:s}", "submission", sub_id, "previous",
                                                             previous_sub), NULL);
    if (err == NC_OK)
        err = nc_db_commit(w->db);
    if (err != NC_OK) {
        nc_log_abort(w);
        if (!had_blob)
            nc_blob_remove(w->blobs, sha_hex);
        goto fail;
    }
    if ((err = nc_db_submission_get(w->db, sub_id, lim->agent, &sub)) != NC_OK) {
        what = "the submission (it was stored; `nightcore inbox` shows it)";
        goto fail;
    }
    {
        json_t *listing = json_deep_copy(sub);
        json_object_del(listing, "analysis");
        json_object_del(listing, "approvals");
        nc_emit(w, "submission.created", json_pack("{s:o}", "submission", listing));
    }
    if (drift == NC_DRIFT_DRIFT)
        nc_emit(w, "alert", json_pack("{s:s, s:s, s:s, s:s}", "kind", "drift", "message",
                                       "a module name was resubmitted with different bytes", "submission", sub_id,
                                       "name", name));
    nc_reply(c, id, lim->agent ? nc_agent_submission_view(w, sub, source) : sub);
    sub = NULL;
    goto done;
fail:
    nc_reply_store_error(c, id, err, what);
done:
    json_decref(log_analysis);
    json_decref(log_changes);
    json_decref(sub);
    json_decref(an_json);
    json_decref(changes);
    json_decref(threat);
    json_decref(requested_json);
    json_decref(prev_an);
    nc_analysis_free(an);
    nc_analysis_free(prev_analysis);
    nc_caps_cleanup(&requested);
    free(wasm);
    free(prev);
}

static void op_submit(nc_client *c, json_t *id, json_t *req)
{
    if (json_object_get(req, "token")) {
        nc_reply_error(c, id, NC_ERR_USAGE, "unknown parameter \"token\" for submit");
        return;
    }
    static const nc_submit_limits operator_limits = {NC_WORKER_RATE_BURST, NC_WORKER_RATE_PER_SEC,
                                                     NC_WORKER_MAX_PENDING_PER_SOURCE, false};
    nc_submit(c, id, req, "operator", &operator_limits);
}

/* ---- inbox, submissions ---- */

static void op_inbox_list(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"status", "limit", "offset", NULL};
    int64_t limit, offset, total;
    if (!nc_params_ok(c, id, req, p) || !nc_int_param(c, id, req, "limit", 100, 1, 1000, &limit) ||
        !nc_int_param(c, id, req, "offset", 0, 0, INT64_MAX / 2, &offset))
        return;
    const char *status = nc_str_param(req, "status");
    if (!status)
        status = "pending";
    if (strcmp(status, "pending") && strcmp(status, "approved") && strcmp(status, "rejected") && strcmp(status, "all")) {
        nc_reply_error(c, id, NC_ERR_USAGE, "status must be pending, approved, rejected or all");
        return;
    }
    json_t *items;
    nc_err err = nc_db_submission_list(c->w->db, strcmp(status, "all") ? status : NULL, limit, offset, &items, &total);
    if (err != NC_OK) {
        nc_reply_db_error(c, id, err, "submission");
        return;
    }
    nc_reply(c, id, json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)total));
}

static void op_submission_get(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"submission", NULL};
    if (!nc_params_ok(c, id, req, p))
        return;
    const char *sid = nc_str_param(req, "submission");
    json_t *sub;
    nc_err err = sid ? nc_db_submission_get(c->w->db, sid, true, &sub) : NC_ERR_NOT_FOUND;
    if (err != NC_OK) {
        nc_reply_db_error(c, id, err, "submission");
        return;
    }
    json_object_set_new(sub, "grantable", nc_worker_grantable(c->w, json_object_get(sub, "requested")));
    nc_reply(c, id, sub);
}

static void op_reject(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"submission", "reason", NULL};
    if (!nc_params_ok(c, id, req, p))
        return;
    const char *sid = nc_str_param(req, "submission"), *reason = nc_str_param(req, "reason");
    if (!sid || !reason || !reason[0] || strlen(reason) > 2048) {
        nc_reply_error(c, id, NC_ERR_USAGE, "reject needs submission and a reason (1-2048 bytes)");
        return;
    }
    json_t *sub;
    nc_err err = nc_db_submission_get(c->w->db, sid, false, &sub);
    if (err != NC_OK) {
        nc_reply_db_error(c, id, err, "submission");
        return;
    }
    const char *status = json_string_value(json_object_get(sub, "status"));
    bool pending = status && strcmp(status, "pending") == 0;
    json_decref(sub);
    if (!pending) {
        nc_reply_error(c, id, NC_ERR_USAGE, "only pending submissions can be rejected (this one is %s)", status);
        return;
    }
    if ((err = nc_db_begin(c->w->db)) != NC_OK ||
        (err = nc_db_submission_set_status(c->w->db, sid, "rejected", reason)) != NC_OK ||
        (err = nc_log(c->w, "rejection", json_pack("{s:s, s:s}", "submission", sid, "reason", reason), NULL)) != NC_OK ||
        (err = nc_db_commit(c->w->db)) != NC_OK) {
        nc_log_abort(c->w);
        nc_reply_store_error(c, id, err, "the rejection (nothing changed)");
        return;
    }
    if ((err = nc_db_submission_get(c->w->db, sid, false, &sub)) != NC_OK) {
        nc_reply_db_error(c, id, err, "submission");
        return;
    }
    nc_emit(c->w, "submission.rejected", json_pack("{s:s, s:s}", "id", sid, "reason", reason));
    nc_reply(c, id, sub);
}

/* ---- approvals ---- */

static void op_approval_prepare(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"submission", "policy", "max_runs", "expires_in_s", "invokers", "approver",
                                    "grants", "grant_requested", NULL};
    nc_worker *w = c->w;
    int64_t max_runs, expires_in;
    json_t *sub = NULL;
    nc_statement st;
    char msg[512], *text = NULL;
    size_t len;
    memset(&st, 0, sizeof st);
    if (!nc_params_ok(c, id, req, p) || !nc_int_param(c, id, req, "max_runs", 10, 1, 1000000000, &max_runs) ||
        !nc_int_param(c, id, req, "expires_in_s", 86400, 60, 366LL * 86400, &expires_in))
        return;
    const char *sid = nc_str_param(req, "submission"), *policy_name = nc_str_param(req, "policy");
    const char *approver = nc_str_param(req, "approver");
    if (!sid || !approver || !nc_principal_ok(approver)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "approval.prepare needs submission and approver (a principal of your key)");
        return;
    }
    const nc_policy *pol = nc_ledger_policy(w->ledger, policy_name ? policy_name : "default");
    if (!pol) {
        nc_reply_error(c, id, NC_ERR_NOT_FOUND, "no policy named %.64s (see `nightcore policy list`)", policy_name);
        return;
    }
    json_t *grants = json_object_get(req, "grants"), *greq = json_object_get(req, "grant_requested");
    if ((grants && !json_is_object(grants)) || (greq && !json_is_boolean(greq))) {
        nc_reply_error(c, id, NC_ERR_USAGE, "grants must be an object {args, stdin, dirs, env}; grant_requested true "
                       "or false");
        return;
    }
    nc_err err = nc_db_submission_get(w->db, sid, false, &sub);
    if (err != NC_OK) {
        nc_reply_db_error(c, id, err, "submission");
        return;
    }
    const char *status = json_string_value(json_object_get(sub, "status"));
    if (strcmp(status, "rejected") == 0) {
        nc_reply_error(c, id, NC_ERR_USAGE, "submission %s was rejected; it cannot be approved", sid);
        goto done;
    }
    snprintf(st.name, sizeof st.name, "%s", json_string_value(json_object_get(sub, "name")));
    const char *sha = json_string_value(json_object_get(sub, "sha256"));
    if (nc_unhex(sha, strlen(sha), st.sha256, sizeof st.sha256) != NC_OK)
        goto fail;
    snprintf(st.approver, sizeof st.approver, "%s", approver);
    snprintf(st.worker, sizeof st.worker, "%s", w->worker_id);
    snprintf(st.submission, sizeof st.submission, "%s", sid);
    nc_err gerr = nc_worker_build_grant(w, pol, grants, json_is_true(greq), json_object_get(sub, "requested"), &st.caps,
                                        msg, sizeof msg);
    if (gerr != NC_OK) {
        nc_reply_error(c, id, gerr, "%s", msg);
        goto done;
    }
    st.limits = pol->limits;
    snprintf(st.policy, sizeof st.policy, "%s", pol->name);
    st.policy_version = pol->version;
    /* The policy's tier, signed into the statement. A tier this host cannot
     * give, or cannot give these grants in, is refused now, not at the run. */
    snprintf(st.isolation, sizeof st.isolation, "%s", pol->isolation[0] ? pol->isolation : "process");
    nc_tier tier;
    if (nc_tier_from_name(st.isolation, &tier) != NC_OK) {
        nc_reply_error(c, id, NC_ERR_USAGE, "policy %s names an unknown isolation tier %s", pol->name, st.isolation);
        goto done;
    }
    gerr = nc_sandbox_tier_check(w->sandbox, tier, st.caps.ndirs, msg, sizeof msg);
    if (gerr != NC_OK) {
        nc_reply_error(c, id, gerr, "policy %s runs in the %s tier: %s", pol->name, st.isolation, msg);
        goto done;
    }
    st.issued_at = st.not_before = (uint64_t)nc_unix_now();
    st.expires_at = st.issued_at + (uint64_t)expires_in;
    st.max_runs = (uint64_t)max_runs;
    json_t *inv = json_object_get(req, "invokers");
    if (!inv) {
        snprintf(st.invokers[0], sizeof st.invokers[0], "operator");
        st.ninvokers = 1;
    } else {
        if (!json_is_array(inv) || json_array_size(inv) == 0 || json_array_size(inv) > NC_MAX_INVOKERS) {
            nc_reply_error(c, id, NC_ERR_USAGE, "invokers must list 1-%d of \"operator\", \"agent:NAME\"", NC_MAX_INVOKERS);
            goto done;
        }
        for (size_t i = 0; i < json_array_size(inv); i++) {
            const char *s = json_string_value(json_array_get(inv, i));
            if (!s || !nc_invoker_ok(s)) {
                nc_reply_error(c, id, NC_ERR_USAGE, "invoker %zu must be \"operator\" or \"agent:NAME\"", i);
                goto done;
            }
            snprintf(st.invokers[st.ninvokers++], sizeof st.invokers[0], "%s", s);
        }
    }
    randombytes_buf(st.nonce, sizeof st.nonce);
    nc_trust_store ts;
    nc_err terr = nc_worker_trust_load(w, &ts, msg, sizeof msg);
    if (terr != NC_OK) {
        nc_reply_error(c, id, terr, "%s", msg);
        goto done;
    }
    st.trust_version = ts.version;
    nc_trust_cleanup(&ts);
    if (nc_statement_build(&st, &text, &len, msg, sizeof msg) != NC_OK) {
        nc_reply_error(c, id, NC_ERR_USAGE, "%s", msg);
        goto done;
    }
    json_t *summary = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:I, s:I, s:I, s:o, s:s, s:s}", "name", st.name,
                                "sha256", sha, "submission", sid, "policy", pol->name, "policy_version",
                                (json_int_t)pol->version, "capabilities",
                                nc_caps_to_json(&st.caps), "limits", nc_limits_to_json(&st.limits), "max_runs",
                                (json_int_t)st.max_runs, "not_before", (json_int_t)st.not_before, "expires_at",
                                (json_int_t)st.expires_at, "invokers", json_deep_copy(inv ? inv : json_pack("[s]", "operator")),
                                "approver", st.approver, "worker", st.worker);
    nc_reply(c, id, json_pack("{s:s%, s:o}", "statement", text, len, "summary", summary));
    goto done;
fail:
    nc_reply_error(c, id, NC_ERR_INTERNAL, "cannot build the statement");
done:
    free(text);
    nc_statement_cleanup(&st);
    json_decref(sub);
}

/* approval.list and runs.list: one page, optionally of one module name. */
typedef nc_err (*nc_name_list_fn)(nc_db *db, const char *name, int64_t limit, int64_t offset, json_t **items,
                                  int64_t *total);

static void name_list(nc_client *c, json_t *id, json_t *req, nc_name_list_fn fn, const char *what)
{
    static const char *const p[] = {"name", "limit", "offset", NULL};
    int64_t limit, offset, total;
    if (!nc_params_ok(c, id, req, p) || !nc_int_param(c, id, req, "limit", 100, 1, 1000, &limit) ||
        !nc_int_param(c, id, req, "offset", 0, 0, INT64_MAX / 2, &offset))
        return;
    json_t *items;
    nc_err err = fn(c->w->db, nc_str_param(req, "name"), limit, offset, &items, &total);
    if (err != NC_OK) {
        nc_reply_db_error(c, id, err, what);
        return;
    }
    nc_reply(c, id, json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)total));
}

static void op_approval_list(nc_client *c, json_t *id, json_t *req)
{
    name_list(c, id, req, nc_db_approval_list, "approval");
}

static void op_approval_get(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"approval", NULL};
    if (!nc_params_ok(c, id, req, p))
        return;
    const char *aid = nc_str_param(req, "approval");
    json_t *a;
    nc_err err = aid ? nc_db_approval_get(c->w->db, aid, &a) : NC_ERR_NOT_FOUND;
    if (err != NC_OK) {
        nc_reply_db_error(c, id, err, "approval");
        return;
    }
    nc_reply(c, id, a);
}

static void op_approval_revoke(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"approval", NULL};
    if (!nc_params_ok(c, id, req, p))
        return;
    const char *aid = nc_str_param(req, "approval");
    json_t *a;
    nc_err err = aid ? nc_db_begin(c->w->db) : NC_ERR_NOT_FOUND;
    if (err == NC_OK)
        err = nc_db_approval_revoke(c->w->db, aid);
    if (err == NC_OK)
        err = nc_log(c->w, "revocation", json_pack("{s:s}", "approval_id", aid), NULL);
    if (err == NC_OK)
        err = nc_db_commit(c->w->db);
    if (err != NC_OK)
        nc_log_abort(c->w);
    if (err == NC_OK)
        err = nc_db_approval_get(c->w->db, aid, &a);
    if (err != NC_OK) {
        nc_reply_db_error(c, id, err, "approval");
        return;
    }
    nc_emit(c->w, "approval.revoked", json_pack("{s:s}", "id", aid));
    nc_reply(c, id, a);
}

/* ---- runs ---- */

static void op_runs_list(nc_client *c, json_t *id, json_t *req)
{
    name_list(c, id, req, nc_db_run_list, "run");
}

/* ---- audit ---- */

static void op_audit_checkpoint(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {NULL};
    nc_worker *w = c->w;
    char note[NC_AUDIT_MAX_NOTE_BYTES], key[256], hex[NC_SHA256_HEX_LEN + 1];
    uint8_t root[NC_SHA256_LEN];
    if (!nc_params_ok(c, id, req, p))
        return;
    if (nc_log_checkpoint(w, true, note, sizeof note) != NC_OK ||
        nc_audit_verifier_key(w->audit.origin, w->pk, key, sizeof key) != NC_OK) {
        nc_reply_error(c, id, NC_ERR_INTERNAL, "cannot write a checkpoint: %s", nc_db_errmsg(w->db));
        return;
    }
    nc_audit_tree_root(&w->audit.tree, root);
    nc_hex(root, sizeof root, hex);
    nc_reply(c, id, json_pack("{s:s, s:I, s:s, s:s}", "note", note, "size", (json_int_t)w->audit.tree.size, "root",
                              hex, "verifier_key", key));
}

/* A run's receipt: its run.end entry, an inclusion proof, the checkpoint. */
static void op_run_receipt(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"run", NULL};
    nc_worker *w = c->w;
    char note[NC_AUDIT_MAX_NOTE_BYTES], hex[NC_SHA256_HEX_LEN + 1];
    uint8_t proof[NC_AUDIT_MAX_LEVELS][NC_SHA256_LEN], leaf[NC_SHA256_LEN], root[NC_SHA256_LEN], *bytes = NULL;
    size_t n = 0, len = 0;
    uint64_t seq;
    if (!nc_params_ok(c, id, req, p))
        return;
    const char *rid = nc_str_param(req, "run");
    nc_err err = rid ? nc_db_run_audit_seq(w->db, rid, &seq) : NC_ERR_NOT_FOUND;
    if (err != NC_OK) {
        nc_reply_error(c, id, NC_ERR_NOT_FOUND, "no finished run with that id has a receipt");
        return;
    }
    /* a checkpoint that covers the entry: write one now if needed */
    if (nc_log_checkpoint(w, true, note, sizeof note) != NC_OK) {
        nc_reply_error(c, id, NC_ERR_INTERNAL, "cannot write a checkpoint");
        return;
    }
    uint64_t size = w->audit.tree.size;
    json_t *entry = NULL;
    if (nc_auditlog_entry(w->db, seq, &bytes, &len, leaf) == NC_OK)
        entry = json_stringn((const char *)bytes, len);
    free(bytes);
    if (!entry || nc_audit_inclusion_proof(w->db, seq, size, proof, NC_AUDIT_MAX_LEVELS, &n) != NC_OK) {
        json_decref(entry);
        nc_reply_error(c, id, NC_ERR_INTERNAL, "cannot build the inclusion proof");
        return;
    }
    /* made of stored nodes: held against the tree's own root before it goes out */
    nc_audit_tree_root(&w->audit.tree, root);
    if (!nc_audit_inclusion_check(seq, size, leaf, (const uint8_t(*)[NC_SHA256_LEN])proof, n, root)) {
        json_decref(entry);
        nc_reply_error(c, id, NC_ERR_INTERNAL, "the stored audit tree does not prove entry %llu: run `nightcore "
                       "audit verify`", (unsigned long long)seq);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        nc_hex(proof[i], NC_SHA256_LEN, hex);
        json_array_append_new(arr, json_string(hex));
    }
    nc_hex(leaf, NC_SHA256_LEN, hex);
    nc_reply(c, id, json_pack("{s:s, s:I, s:o, s:s, s:I, s:s, s:o}", "run", rid, "seq", (json_int_t)seq, "entry", entry,
                              "leaf", hex, "size", (json_int_t)size, "checkpoint", note, "proof", arr));
}

/* ---- events, shutdown ---- */

static void op_events_subscribe(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {NULL};
    if (!nc_params_ok(c, id, req, p))
        return;
    c->subscribed = true;
    nc_reply(c, id, json_pack("{s:b}", "subscribed", 1));
}

static void op_shutdown(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {NULL};
    if (!nc_params_ok(c, id, req, p))
        return;
    nc_reply(c, id, json_pack("{s:b}", "stopping", 1));
    c->w->stopping = true;
    nc_server_stop(c->w);
}

typedef void (*nc_op_fn)(nc_client *c, json_t *id, json_t *req);

static const struct {
    const char *name;
    nc_op_fn fn;
} control_ops[] = {
    {"hello", op_hello},
    {"status", op_status},
    {"submit", op_submit},
    {"inbox.list", op_inbox_list},
    {"submission.get", op_submission_get},
    {"reject", op_reject},
    {"approval.prepare", op_approval_prepare},
    {"approval.submit", nc_op_approval_submit},
    {"approval.list", op_approval_list},
    {"approval.get", op_approval_get},
    {"approval.revoke", op_approval_revoke},
    {"run", nc_op_run},
    {"run.start", nc_op_run_start},
    {"run.cancel", nc_op_run_cancel},
    {"runs.list", op_runs_list},
    {"run.get", nc_op_run_get},
    {"policy.list", nc_op_policy_list},
    {"policy.get", nc_op_policy_get},
    {"policy.prepare", nc_op_policy_prepare},
    {"policy.add", nc_op_policy_add},
    {"policy.remove", nc_op_policy_remove},
    {"trust.list", nc_op_trust_list},
    {"trust.prepare", nc_op_trust_prepare},
    {"trust.add", nc_op_trust_add},
    {"trust.revoke", nc_op_trust_revoke},
    {"trust.restore", nc_op_trust_restore},
    {"agent.add", nc_op_agent_add},
    {"agent.list", nc_op_agent_list},
    {"agent.remove", nc_op_agent_remove},
    {"audit.checkpoint", op_audit_checkpoint},
    {"audit.verify", nc_op_audit_verify},
    {"run.receipt", op_run_receipt},
    {"events.subscribe", op_events_subscribe},
    {"shutdown", op_shutdown},
};

void nc_dispatch(nc_client *c, json_t *req)
{
    json_t *id = json_object_get(req, "id");
    const char *op = json_string_value(json_object_get(req, "op"));
    /* The agent socket has its own table (agent.c); nothing on it reaches
     * the operator ops below. */
    if (c->agent_socket) {
        nc_agent_dispatch(c, req);
        return;
    }
    if (c->w->stopping) {
        nc_reply_error(c, id, NC_ERR_BUSY, "the worker is stopping");
        return;
    }
    for (size_t i = 0; i < sizeof control_ops / sizeof control_ops[0]; i++)
        if (strcmp(control_ops[i].name, op) == 0) {
            control_ops[i].fn(c, id, req);
            return;
        }
    if (nc_views_dispatch(c, id, op, req))
        return;
    nc_reply_error(c, id, NC_ERR_USAGE, "unknown op \"%.64s\"", op);
}
