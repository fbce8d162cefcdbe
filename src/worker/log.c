/* The worker's side of the audit log (docs/audit.md): appends in the same
 * transaction as the change they record, refusals, signed checkpoints every
 * second while the log grows, and the rollback check at start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/fs.h"
#include "worker/worker.h"

nc_err nc_log(nc_worker *w, const char *type, json_t *fields, uint64_t *seq)
{
    nc_err err = nc_audit_append(&w->audit, type, nc_unix_now(), fields, seq);
    json_decref(fields);
    return err;
}

void nc_log_abort(nc_worker *w)
{
    nc_db_rollback(w->db);
    if (nc_audit_reload(&w->audit) != NC_OK)
        fprintf(stderr, "nightcore-worker: cannot reload the audit log after a rollback\n");
}

static void append_own(nc_worker *w, const char *type, json_t *fields)
{
    if (nc_db_begin(w->db) != NC_OK) {
        json_decref(fields);
        return;
    }
    if (nc_log(w, type, fields, NULL) != NC_OK || nc_db_commit(w->db) != NC_OK)
        nc_log_abort(w);
}

/* Every refusal is recorded, within a budget per peer (socket and uid): a
 * burst, then one every NC_WORKER_REFUSAL_EVERY_S; the others are counted and
 * written as one summary a minute, so nobody can grow the log faster than
 * that however many connections they open. */
static nc_refusal_bucket *refusal_bucket(nc_worker *w, bool agent_socket, uid_t uid)
{
    for (unsigned i = 0; i < w->nrefusal_peers; i++)
        if (w->refusal_peers[i].agent_socket == agent_socket && w->refusal_peers[i].uid == uid)
            return &w->refusal_peers[i];
    nc_refusal_bucket *b;
    if (w->nrefusal_peers < NC_WORKER_REFUSAL_PEERS) {
        b = &w->refusal_peers[w->nrefusal_peers++];
    } else {
        /* all taken: the emptiest one is reused (its count is flushed first) */
        b = &w->refusal_peers[0];
        for (unsigned i = 1; i < w->nrefusal_peers; i++)
            if (w->refusal_peers[i].tokens > b->tokens)
                b = &w->refusal_peers[i];
        nc_log_refusal_summaries(w);
    }
    *b = (nc_refusal_bucket){.agent_socket = agent_socket, .uid = uid, .tokens = NC_WORKER_REFUSAL_BURST,
                             .updated_ms = w->loop ? uv_now(w->loop) : 0};
    return b;
}

void nc_log_refused(nc_worker *w, nc_client *c, const char *code, const char *message)
{
    if (!w->audit.db)
        return;
    if (c) {
        nc_refusal_bucket *b = refusal_bucket(w, c->agent_socket, c->uid);
        uint64_t now = w->loop ? uv_now(w->loop) : 0;
        b->tokens += (double)(now - b->updated_ms) / 1000.0 / NC_WORKER_REFUSAL_EVERY_S;
        if (b->tokens > NC_WORKER_REFUSAL_BURST)
            b->tokens = NC_WORKER_REFUSAL_BURST;
        b->updated_ms = now;
        if (b->tokens < 1.0) {
            b->suppressed++;
            return;
        }
        b->tokens -= 1.0;
    }
    json_t *f = json_pack("{s:s, s:s, s:s, s:s%}", "op", c && c->op[0] ? c->op : "(none)", "code", code, "socket",
                          c && c->agent_socket ? "agent" : "control", "message", message,
                          strlen(message) > 300 ? (size_t)300 : strlen(message));
    if (f && c)
        json_object_set_new(f, "uid", json_integer((json_int_t)c->uid));
    append_own(w, "refused", f);
}

void nc_log_refusal_summaries(nc_worker *w)
{
    if (!w->audit.db)
        return;
    for (unsigned i = 0; i < w->nrefusal_peers; i++) {
        nc_refusal_bucket *b = &w->refusal_peers[i];
        if (!b->suppressed)
            continue;
        append_own(w, "refused.summary", json_pack("{s:s, s:I, s:I}", "socket", b->agent_socket ? "agent" : "control",
                                                    "uid", (json_int_t)b->uid, "count", (json_int_t)b->suppressed));
        b->suppressed = 0;
    }
}

nc_err nc_log_checkpoint(nc_worker *w, bool force, char *note, size_t note_len)
{
    if (!force && w->audit.tree.size == w->checkpoint_size)
        return NC_OK;
    nc_err err = nc_audit_checkpoint(&w->audit, w->sk, nc_unix_now(), note, note_len);
    if (err != NC_OK)
        return err;
    /* The copy outside the database never covers entries a power loss could
     * still take away: what it signs is on disk first. */
    if ((err = nc_durable_now(w)) != NC_OK)
        return err;
    err = nc_write_file_atomic(w->checkpoint_path, note, strlen(note), 0600);
    if (err == NC_OK)
        w->checkpoint_size = w->audit.tree.size;
    return err;
}

static void on_checkpoint_timer(uv_timer_t *t)
{
    nc_worker *w = t->data;
    char note[NC_AUDIT_MAX_NOTE_BYTES];
    static unsigned ticks;
    if (++ticks % 60 == 0)
        nc_log_refusal_summaries(w);
    if (w->unrecorded)
        nc_runs_record_pending(w, false);
    if (nc_log_checkpoint(w, false, note, sizeof note) != NC_OK)
        fprintf(stderr, "nightcore-worker: cannot write an audit checkpoint: %s\n", nc_db_errmsg(w->db));
}

void nc_log_start_timer(nc_worker *w)
{
    uv_timer_init(w->loop, &w->checkpoint_timer);
    w->checkpoint_timer.data = w;
    uv_timer_start(&w->checkpoint_timer, on_checkpoint_timer, 1000, 1000);
    uv_unref((uv_handle_t *)&w->checkpoint_timer);
}

nc_err nc_log_check_anchor(nc_worker *w, char *msg, size_t msg_len)
{
    uint8_t *data = NULL;
    size_t len = 0;
    nc_err err = nc_read_file(w->checkpoint_path, NC_AUDIT_MAX_NOTE_BYTES, &data, &len);
    if (err == NC_ERR_NOT_FOUND) {
        if (w->audit.tree.size == 0)
            return NC_OK;   /* a new log */
        snprintf(msg, msg_len, "%s is missing but the audit log has %llu entries: restore it, or check the log with "
                 "`nightcore audit verify` before trusting it", w->checkpoint_path,
                 (unsigned long long)w->audit.tree.size);
        return NC_ERR_TRUST_ROLLBACK;
    }
    if (err != NC_OK) {
        snprintf(msg, msg_len, "cannot read %s", w->checkpoint_path);
        return err;
    }
    nc_checkpoint cp;
    char inner[256];
    err = nc_audit_checkpoint_parse((const char *)data, len, w->audit.origin, w->pk, &cp, inner, sizeof inner);
    free(data);
    if (err != NC_OK) {
        snprintf(msg, msg_len, "%s: %s", w->checkpoint_path, inner);
        return err;
    }
    /* The log must still hold what that checkpoint signed (recomputed from
     * the stored leaves), and its stored tree must be the one they make. */
    err = nc_audit_check_leaves(&w->audit, &cp, inner, sizeof inner);
    if (err != NC_OK) {
        snprintf(msg, msg_len, "the audit log (%llu entries) does not match the checkpoint this worker last signed "
                 "(%llu entries): %s. The database was truncated, edited or replaced with an older copy. Refusing to "
                 "start; see `nightcore audit verify`", (unsigned long long)w->audit.tree.size,
                 (unsigned long long)cp.size, inner);
        return NC_ERR_TRUST_ROLLBACK;
    }
    w->checkpoint_size = cp.size;
    return NC_OK;
}

/* ---- audit.verify: the worker verifies its own log (the service deployment,
 * where nobody else can read the database) ---- */

typedef struct {
    uv_work_t work;
    nc_worker *w;
    nc_client *c;
    json_t *id;
    char *anchor;
    size_t anchor_len;
    bool default_anchor;
    nc_audit_report rep;
    nc_err err;
    char msg[512];
} nc_verify_job;

static void verify_work(uv_work_t *req)
{
    nc_verify_job *j = req->data;
    nc_db *db = NULL;
    memset(&j->rep, 0, sizeof j->rep);
    j->rep.bad_seq = -1;
    /* its own read-only connection: a snapshot, off the loop */
    j->err = nc_db_open_readonly(j->w->db_path, &db, j->msg, sizeof j->msg);
    if (j->err == NC_OK)
        j->err = nc_db_snapshot_begin(db);
    if (j->err == NC_OK) {
        j->err = nc_audit_verify(db, j->w->audit.origin, j->w->pk, j->anchor, j->anchor_len, &j->rep);
        nc_db_snapshot_end(db);
        if (j->err != NC_OK)
            snprintf(j->msg, sizeof j->msg, "cannot read the audit log: %s", nc_strerror(j->err));
    }
    nc_db_close(db);
}

static void verify_done(uv_work_t *req, int status)
{
    nc_verify_job *j = req->data;
    (void)status;
    if (j->err != NC_OK) {
        nc_reply_error(j->c, j->id, NC_ERR_INTERNAL, "%s", j->msg);
    } else {
        nc_audit_report *r = &j->rep;
        nc_reply(j->c, j->id,
                 json_pack("{s:b, s:I, s:I, s:I, s:o, s:o, s:s?, s:b}", "ok", r->ok, "entries", (json_int_t)r->entries,
                           "checkpoints", (json_int_t)r->checkpoints, "unsigned_tail", (json_int_t)r->unsigned_tail,
                           "bad_seq", r->bad_seq >= 0 ? json_integer(r->bad_seq) : json_null(), "error",
                           r->error[0] ? json_string(r->error) : json_null(), "anchor",
                           j->default_anchor ? "state/audit.checkpoint" : j->anchor ? "given" : NULL, "by_worker", 1));
    }
    nc_client_done(j->c);
    json_decref(j->id);
    free(j->anchor);
    j->w->compiling--;
    nc_worker_maybe_stop(j->w);
    free(j);
}

void nc_op_audit_verify(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"anchor", NULL};
    nc_worker *w = c->w;
    if (!nc_params_ok(c, id, req, p))
        return;
    json_t *an = json_object_get(req, "anchor");
    if (an && (!json_is_string(an) || json_string_length(an) > NC_AUDIT_MAX_NOTE_BYTES)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "anchor must be the text of a checkpoint note");
        return;
    }
    nc_verify_job *j = calloc(1, sizeof *j);
    if (!j) {
        nc_reply_error(c, id, NC_ERR_NOMEM, "out of memory");
        return;
    }
    if (an) {
        j->anchor = malloc(json_string_length(an) + 1);
        if (j->anchor) {
            memcpy(j->anchor, json_string_value(an), json_string_length(an) + 1);
            j->anchor_len = json_string_length(an);
        }
    } else {
        uint8_t *data = NULL;
        size_t len = 0;
        if (nc_read_file(w->checkpoint_path, NC_AUDIT_MAX_NOTE_BYTES, &data, &len) == NC_OK) {
            j->anchor = (char *)data;
            j->anchor_len = len;
            j->default_anchor = true;
        }
    }
    j->w = w;
    j->c = c;
    j->id = json_incref(id);
    j->work.data = j;
    nc_client_ref(c);
    c->busy = true;
    w->compiling++;   /* counts as work in flight for a clean stop */
    if (uv_queue_work(w->loop, &j->work, verify_work, verify_done) != 0) {
        j->err = NC_ERR_INTERNAL;
        snprintf(j->msg, sizeof j->msg, "cannot schedule the verification");
        verify_done(&j->work, 0);
    }
}
