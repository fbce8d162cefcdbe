/* Runs and approvals: verified on the loop thread, executed (or compiled) in
 * the thread pool, recorded back on the loop thread. */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/limits.h"
#include "store/blobs.h"
#include "trust/sshsig.h"
#include "trust/verify.h"
#include "worker/threat.h"
#include "worker/worker.h"

struct nc_queued_run {
    nc_queued_run *next;
    uv_work_t work;
    nc_worker *w;
    nc_client *c;
    json_t *id;
    char run_id[40], approval_id[65], name[80], sha256[65], cap_digest[65], invoker[80];
    nc_artifact art;
    nc_run_spec spec;
    char **argv, **env;
    nc_dir_grant *dirs;
    uint8_t *stdin_data;
    nc_caps granted;
    uint8_t *module;
    size_t module_len;
    nc_run_result res;
    nc_err err;
    char msg[512];
    int64_t started_at;
    uint64_t gen;           /* commits up to its run.start: on disk before it starts (durable.c) */
    /* the artifact was missing or corrupt and was rebuilt from the verified
     * module (run_work): recorded with the run's end */
    bool rebuilt;
    char rebuilt_from[NC_SHA256_HEX_LEN + 1], rebuild_reason[256];
    uint64_t received_ns;   /* the request reached the worker (for the gate's own cost) */
    /* live state (loop thread unless said otherwise) */
    enum { RUN_QUEUED, RUN_RUNNING } state;
    bool stream;            /* q->c gets run.progress and run.output events */
    bool raw_output;        /* run.output events carry raw bytes; the reply no output */
    bool cancel_queued;     /* cancelled before it started: given back */
    uint64_t accepted_ms;   /* uv_now when accepted (elapsed_ms counts from here) */
    nc_run_cancel *cancel;
    nc_queued_run *active_next;
    struct nc_cancel_waiter *waiters;   /* run.cancel requests answered at the end */
    uint64_t out_sent, err_sent;        /* bytes sent in run.output events */
    /* a large stdin is hashed for the receipt on another pool thread while
     * the module runs; the run is finished once both are done */
    uv_work_t hash_work;
    bool hashing, run_over;
    char stdin_hex[65];
    /* written by the sandbox thread, read by the loop, under mu */
    pthread_mutex_t mu;
    uint64_t live_out, live_err;        /* output so far */
    nc_buf pend_out, pend_err;          /* not yet sent to the streaming client */
};

typedef struct nc_cancel_waiter {
    struct nc_cancel_waiter *next;
    nc_client *c;
    json_t *id;
} nc_cancel_waiter;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void queued_free(nc_queued_run *q)
{
    nc_run_cancel_free(q->cancel);
    pthread_mutex_destroy(&q->mu);
    nc_buf_cleanup(&q->pend_out);
    nc_buf_cleanup(&q->pend_err);
    free_strv(q->argv, q->spec.nargs);
    free_strv(q->env, q->spec.nenv);
    free(q->dirs);
    free(q->stdin_data);
    free(q->module);
    nc_caps_cleanup(&q->granted);
    nc_run_result_cleanup(&q->res);
    json_decref(q->id);
    free(q);
}

/* Valid UTF-8 copy (invalid bytes become U+FFFD) for the text fields: runs
 * of valid bytes are copied whole, into one buffer sized for the worst case. */
static json_t *utf8_text(const uint8_t *p, size_t n)
{
    if (n > (SIZE_MAX - 1) / 3)
        return json_null();
    char *out = malloc(n * 3 + 1);
    if (!out)
        return json_null();
    size_t i = 0, o = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && p[run] < 0x80)   /* ASCII, the common case */
            run++;
        memcpy(out + o, p + i, run - i);
        o += run - i;
        i = run;
        if (i >= n)
            break;
        uint8_t c = p[i];
        size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        bool ok = len > 0 && len <= n - i;
        for (size_t k = 1; ok && k < len; k++)
            ok = (p[i + k] & 0xc0) == 0x80;
        if (ok && len == 2)
            ok = c >= 0xc2;
        if (ok && len == 3) {
            uint32_t cp = (uint32_t)(c & 0x0f) << 12 | (uint32_t)(p[i + 1] & 0x3f) << 6 | (p[i + 2] & 0x3f);
            ok = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
        }
        if (ok && len == 4) {
            uint32_t cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(p[i + 1] & 0x3f) << 12 |
                          (uint32_t)(p[i + 2] & 0x3f) << 6 | (p[i + 3] & 0x3f);
            ok = cp >= 0x10000 && cp <= 0x10ffff;
        }
        if (ok) {
            memcpy(out + o, p + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    /* valid UTF-8 by construction: no second check */
    json_t *s = json_stringn_nocheck(out, o);
    free(out);
    return s ? s : json_null();
}

/* Standard base64 with padding (RFC 4648 §4), by table: a run's output is
 * not secret, so it needs none of sodium's constant-time encoding, which
 * costs several times more per megabyte. */
static size_t b64_encode(const uint8_t *p, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = tab[v >> 6 & 63];
        out[o++] = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = tab[v >> 18];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = tab[v >> 18];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = tab[v >> 6 & 63];
        out[o++] = '=';
    }
    return o;
}

static json_t *b64_json(const uint8_t *p, size_t n)
{
    if (n > SIZE_MAX / 4 * 3 - 3)
        return json_null();
    char *s = malloc((n + 2) / 3 * 4 + 1);
    if (!s)
        return json_null();
    size_t len = b64_encode(p ? p : (const uint8_t *)"", n, s);
    json_t *v = json_stringn_nocheck(s, len);   /* base64 is ASCII */
    free(s);
    return v ? v : json_null();
}

/* The exact bytes of a run's KEY_b64 field (malloc'd; NULL and 0 if none). */
static uint8_t *b64_bytes(const json_t *run, const char *b64key, size_t *n)
{
    const json_t *b = json_object_get(run, b64key);
    *n = 0;
    if (!json_is_string(b) || !json_string_length(b))
        return NULL;
    size_t blen = json_string_length(b), cap = blen / 4 * 3 + 3;
    uint8_t *bytes = malloc(cap);
    if (!bytes || sodium_base642bin(bytes, cap, json_string_value(b), blen, NULL, n, NULL,
                                    sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(bytes);
        *n = 0;
        return NULL;
    }
    return bytes;
}

/* The text fields (stdout, stderr) are not recorded: they are derived from
 * the exact bytes (stdout_b64, stderr_b64) when a run is shown. */
static void add_text(json_t *run)
{
    static const char *const keys[][2] = {{"stdout", "stdout_b64"}, {"stderr", "stderr_b64"}};
    for (int k = 0; k < 2; k++) {
        if (json_object_get(run, keys[k][0]) || !json_object_get(run, keys[k][1]))
            continue;
        size_t n;
        uint8_t *bytes = b64_bytes(run, keys[k][1], &n);
        json_object_set_new(run, keys[k][0], utf8_text(bytes ? bytes : (const uint8_t *)"", n));
        free(bytes);
    }
}

/* A shallow copy of the run without the keys given (the big strings are
 * shared, not copied). */
static json_t *run_without(const json_t *run, const char *const *drop)
{
    json_t *o = json_object();
    const char *key;
    json_t *v;
    if (!o)
        return NULL;
    json_object_foreach((json_t *)run, key, v) {
        bool skip = false;
        for (const char *const *d = drop; *d && !skip; d++)
            skip = strcmp(key, *d) == 0;
        if (!skip)
            json_object_set(o, key, v);
    }
    return o;
}

static const char *const output_keys[] = {"stdout", "stderr", "stdout_b64", "stderr_b64", NULL};

/* The tier and what it had in effect, whichever tier it was (the sandbox names them). */
static json_t *isolation_json(const nc_isolation_report *iso)
{
    nc_isolation_feature f[NC_ISOLATION_MAX_FEATURES];
    size_t n = nc_isolation_features(iso, f, NC_ISOLATION_MAX_FEATURES);
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++)
        json_object_set_new(o, f[i].name, f[i].kind == NC_FEATURE_TEXT   ? json_string(f[i].text)
                                          : f[i].kind == NC_FEATURE_BOOL ? json_boolean(f[i].value)
                                                                         : json_integer(f[i].value));
    return o;
}

static json_t *run_json(const nc_queued_run *q, int64_t finished_at, json_t *threat)
{
    const nc_run_result *r = &q->res;
    json_t *limits = json_array(), *denied = json_array(), *calls = json_object();
    for (unsigned b = 0; b < NC_LIMIT_COUNT; b++)
        if (r->limits_hit & (1u << b))
            json_array_append_new(limits, json_string(nc_limit_name(b)));
    for (uint32_t i = 0; i < r->ndenied; i++)
        json_array_append_new(denied, json_pack("{s:s, s:s, s:s}", "call", nc_wasi_fn_name(r->denied[i].fn), "reason",
                                                nc_denial_code(r->denied[i].reason), "detail", r->denied[i].detail));
    for (unsigned f = 0; f < NC_WASI_FN_COUNT; f++)
        if (r->calls[f])
            json_object_set_new(calls, nc_wasi_fn_name(f), json_integer(r->calls[f]));
    /* an exit code only when the module exited (ok is exit 0); traps, limits and crashes have none */
    json_t *exit_code = r->outcome == NC_OUTCOME_OK || r->outcome == NC_OUTCOME_EXIT ? json_integer(r->exit_code)
                                                                                     : json_null();
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:b, s:b, s:I, s:o,"
                          " s:I, s:o, s:o, s:I, s:I}",
                          "id", q->run_id, "approval_id", q->approval_id, "name", q->name, "sha256", q->sha256,
                          "invoker", q->invoker, "outcome", nc_outcome_name(r->outcome), "exit_code", exit_code,
                          "trap_kind", r->trap_kind, "message", r->message, "stdout_b64", b64_json(r->out, r->out_len),
                          "stderr_b64", b64_json(r->err, r->err_len), "stdout_truncated", r->out_truncated,
                          "stderr_truncated", r->err_truncated, "duration_ms", (json_int_t)(r->t_total_ns / 1000000),
                          "limits_hit", limits, "denied_calls", (json_int_t)r->denied_total, "denied", denied,
                          "wasi_calls", calls, "fuel_used", (json_int_t)r->fuel_used, "peak_memory_bytes",
                          (json_int_t)r->peak_memory_bytes);
    if (!o)
        return NULL;
    json_object_set_new(o, "isolation", isolation_json(&r->isolation));
    json_object_set_new(o, "timings_us", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "worker",
                                                   (json_int_t)((mono_ns() - q->received_ns) / 1000), "spawn",
                                                   (json_int_t)(r->t_spawn_ns / 1000), "handoff",
                                                   (json_int_t)(r->t_handoff_ns / 1000), "isolate",
                                                   (json_int_t)(r->t_isolate_ns / 1000), "load",
                                                   (json_int_t)(r->t_load_ns / 1000), "instantiate",
                                                   (json_int_t)(r->t_instantiate_ns / 1000), "execute",
                                                   (json_int_t)(r->t_execute_ns / 1000), "total",
                                                   (json_int_t)(r->t_total_ns / 1000)));
    /* the limits it ran under, to name the one it hit */
    const nc_limits *l = &q->spec.limits;
    json_object_set_new(o, "limits", json_pack("{s:I, s:I, s:I, s:I, s:I}", "timeout_ms", (json_int_t)l->timeout_ms,
                                               "memory_bytes", (json_int_t)l->memory_bytes, "fuel",
                                               (json_int_t)l->fuel, "stdout_bytes", (json_int_t)l->stdout_bytes,
                                               "stderr_bytes", (json_int_t)l->stderr_bytes));
    json_object_set_new(o, "threat", threat ? threat : json_null());
    json_object_set_new(o, "started_at", json_integer(q->started_at));
    json_object_set_new(o, "finished_at", json_integer(finished_at));
    return o;
}

static json_t *hex_digest(const void *p, size_t n)
{
    uint8_t h[NC_SHA256_LEN];
    char hex[NC_SHA256_HEX_LEN + 1];
    if (nc_sha256(p ? p : "", n, h) != NC_OK)
        return json_null();
    nc_hex(h, sizeof h, hex);
    return json_string(hex);
}

/* The run's receipt (docs/audit.md): what ran, under which approval and
 * capabilities, on what input, with what result; digests, not contents. */
static json_t *receipt_json(const nc_queued_run *q, json_t *run, json_int_t score)
{
    nc_buf args;
    nc_buf_init(&args, NC_MAX_ARGS * (NC_MAX_ARG_BYTES + 1));
    for (size_t i = 0; i < q->spec.nargs; i++)   /* NUL-separated argv */
        if (nc_buf_append(&args, q->argv[i], strlen(q->argv[i]) + 1) != NC_OK)
            break;
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:O, s:O, s:O, s:I, s:O}", "run", q->run_id,
                          "approval_id", q->approval_id, "name", q->name, "module_sha256", q->sha256,
                          "capability_digest", q->cap_digest, "args_sha256", hex_digest(args.data, args.len),
                          "stdin_sha256",
                          q->stdin_hex[0] ? json_string(q->stdin_hex) : hex_digest(q->stdin_data, q->spec.stdin_len),
                          "stdout_sha256",
                          hex_digest(q->res.out, q->res.out_len), "stderr_sha256", hex_digest(q->res.err, q->res.err_len),
                          "outcome", json_object_get(run, "outcome"), "exit_code", json_object_get(run, "exit_code"),
                          "limits_hit", json_object_get(run, "limits_hit"), "threat_score", score, "denied_calls",
                          json_object_get(run, "denied_calls"));
    /* which tier enforced it (and for a vm run, on which accelerator) */
    const json_t *iso = json_object_get(run, "isolation");
    if (r && iso) {
        json_t *ri = json_pack("{s:O}", "tier", json_object_get(iso, "tier"));
        if (ri && json_object_get(iso, "accel"))
            json_object_set(ri, "accel", json_object_get(iso, "accel"));
        json_object_set_new(r, "isolation", ri);
    }
    nc_buf_cleanup(&args);
    return r;
}

static void start_next(nc_worker *w);

struct nc_unrecorded {
    nc_unrecorded *next;
    char run_id[40], outcome[24], approval_id[65];
    bool refund;        /* it could not run through no doing of the module: the run is given back */
    char refund_reason[64];
    json_t *rebuilt;    /* artifact.rebuilt fields, or NULL */
    char artifact_file[300], artifact_sha256[NC_SHA256_HEX_LEN + 1];
    int64_t finished_at, duration_ms;
    json_int_t score;
    json_t *run, *receipt;
};

static void free_unrecorded(nc_unrecorded *u)
{
    if (!u)
        return;
    json_decref(u->run);
    json_decref(u->receipt);
    json_decref(u->rebuilt);
    free(u);
}

/* The run as JSON text for its row: the output (base64, which needs no
 * escaping) written as it is, the rest by jansson. Escaping megabytes of
 * output character by character cost more than the run itself. */
static nc_err run_text(const json_t *run, char **text, size_t *len)
{
    static const char *const b64keys[] = {"stderr_b64", "stdout_b64", NULL};
    *text = NULL;
    *len = 0;
    json_t *small = run_without(run, b64keys);
    char *rest = small ? json_dumps(small, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(small);
    if (!rest)
        return NC_ERR_NOMEM;
    size_t rlen = strlen(rest), total = rlen + 1;
    const char *val[2];
    size_t vlen[2];
    for (int k = 0; k < 2; k++) {
        const json_t *v = json_object_get(run, b64keys[k]);
        val[k] = json_is_string(v) ? json_string_value(v) : "";
        vlen[k] = json_is_string(v) ? json_string_length(v) : 0;
        if (strspn(val[k], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != vlen[k]) {
            free(rest);   /* not base64: never written unescaped */
            return NC_ERR_INTERNAL;
        }
        total += strlen(b64keys[k]) + vlen[k] + 6;
    }
    char *out = malloc(total + 1);
    if (!out) {
        free(rest);
        return NC_ERR_NOMEM;
    }
    size_t o = 0;
    out[o++] = '{';
    for (int k = 0; k < 2; k++) {
        o += (size_t)snprintf(out + o, total + 1 - o, "\"%s\":\"", b64keys[k]);
        memcpy(out + o, val[k], vlen[k]);
        o += vlen[k];
        out[o++] = '"';
        out[o++] = ',';
    }
    if (rlen > 2) {   /* the rest's members, after its '{' */
        memcpy(out + o, rest + 1, rlen - 1);
        o += rlen - 1;
    } else {
        out[o - 1] = '}';
    }
    out[o] = '\0';
    free(rest);
    *text = out;
    *len = o;
    return NC_OK;
}

/* A run's end: its receipt in the audit log and its row finished, in one
 * transaction; with it, a rebuilt artifact and a run given back. */
static nc_err record_end(nc_worker *w, nc_unrecorded *u)
{
    uint64_t seq = 0;
    nc_err err = nc_db_begin(w->db);
    if (err == NC_OK && u->rebuilt) {
        err = nc_db_approval_set_artifact(w->db, u->approval_id, u->artifact_file, u->artifact_sha256);
        if (err == NC_OK)
            err = nc_log(w, "artifact.rebuilt", json_incref(u->rebuilt), NULL);
    }
    if (err == NC_OK && u->refund) {
        err = nc_db_approval_refund_run(w->db, u->approval_id);
        if (err == NC_OK)
            err = nc_log(w, "run.refund", json_pack("{s:s, s:s, s:s}", "run", u->run_id, "approval_id",
                                                    u->approval_id, "reason", u->refund_reason),
                         NULL);
    }
    if (err == NC_OK)
        err = nc_log(w, "run.end", json_incref(u->receipt), &seq);
    if (err == NC_OK) {
        json_object_set_new(u->run, "audit_seq", json_integer((json_int_t)seq));
        char *text = NULL;
        size_t len = 0;
        err = run_text(u->run, &text, &len);
        if (err == NC_OK)
            err = nc_db_run_finish_text(w->db, u->run_id, u->outcome, u->finished_at, u->duration_ms, u->score, text,
                                        len, seq);
        free(text);
    }
    if (err == NC_OK)
        err = nc_db_commit(w->db);
    if (err != NC_OK)
        nc_log_abort(w);
    return err;
}

/* A copy of the run without its output, with the output's sizes. */
static json_t *without_output(const json_t *run, const nc_run_result *r)
{
    json_t *o = run_without(run, output_keys);
    if (!o)
        return NULL;
    json_object_set_new(o, "stdout_total", json_integer((json_int_t)r->out_len));
    json_object_set_new(o, "stderr_total", json_integer((json_int_t)r->err_len));
    return o;
}

/* The run as answered: with its output as text beside the exact bytes. */
static json_t *with_text(const json_t *run)
{
    static const char *const none[] = {NULL};
    json_t *o = run_without(run, none);
    if (o)
        add_text(o);
    return o;
}

/* run.finished for the console and subscribers: the listing, without output. */
static void emit_finished(nc_worker *w, const json_t *run)
{
    json_t *listing = run_without(run, output_keys);
    nc_emit(w, "run.finished", json_pack("{s:O?, s:O?, s:o}", "run_id", json_object_get(run, "id"), "invoker",
                                         json_object_get(run, "invoker"), "run", listing));
}

void nc_runs_record_pending(nc_worker *w, bool last)
{
    nc_unrecorded **pp = &w->unrecorded;
    while (*pp) {
        nc_unrecorded *u = *pp;
        if (record_end(w, u) != NC_OK) {
            if (!last)
                return;   /* still failing: the next tick tries again */
            fprintf(stderr, "nightcore-worker: run %s (%s) could not be recorded before stopping; the next start "
                    "records it as interrupted\n", u->run_id, u->outcome);
            *pp = u->next;
            w->nunrecorded--;
            free_unrecorded(u);
            continue;
        }
        fprintf(stderr, "nightcore-worker: run %s is recorded now (%s)\n", u->run_id, u->outcome);
        emit_finished(w, u->run);
        *pp = u->next;
        w->nunrecorded--;
        free_unrecorded(u);
    }
}

/* ---- runs in progress: output and progress ---- */

/* A run the worker holds (queued or running), or NULL. */
static nc_queued_run *find_live(nc_worker *w, const char *run_id)
{
    for (nc_queued_run *q = w->queue_head; q; q = q->next)
        if (strcmp(q->run_id, run_id) == 0)
            return q;
    for (nc_queued_run *q = w->active; q; q = q->active_next)
        if (strcmp(q->run_id, run_id) == 0)
            return q;
    return NULL;
}

/* The invoker's run in progress (an agent has at most one), or NULL. */
static nc_queued_run *live_of(nc_worker *w, const char *invoker)
{
    for (nc_queued_run *q = w->queue_head; q; q = q->next)
        if (strcmp(q->invoker, invoker) == 0)
            return q;
    for (nc_queued_run *q = w->active; q; q = q->active_next)
        if (strcmp(q->invoker, invoker) == 0)
            return q;
    return NULL;
}

/* On the sandbox thread: counted, kept for a streaming client, and the loop
 * woken (uv_async_send coalesces). */
static void on_run_output(void *ctx, int stream, const uint8_t *data, size_t len)
{
    nc_queued_run *q = ctx;
    pthread_mutex_lock(&q->mu);
    if (stream == 1)
        q->live_out += len;
    else
        q->live_err += len;
    if (q->stream) {
        /* within the run's caps by construction (the sandbox checks them) */
        nc_err e = nc_buf_append(stream == 1 ? &q->pend_out : &q->pend_err, data, len);
        (void)e;
    }
    pthread_mutex_unlock(&q->mu);
    uv_async_send(&q->w->run_async);
}

static json_t *progress_fields(const nc_queued_run *q, uint64_t now_ms, uint64_t out, uint64_t err)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "run_id", q->run_id, "invoker", q->invoker, "state",
                     q->state == RUN_RUNNING ? "running" : "queued", "elapsed_ms",
                     (json_int_t)(now_ms - q->accepted_ms), "stdout_bytes", (json_int_t)out, "stderr_bytes",
                     (json_int_t)err);
}

/* run.progress to the run's streaming client and to subscribers. */
static void emit_progress(nc_worker *w, nc_queued_run *q)
{
    pthread_mutex_lock(&q->mu);
    uint64_t out = q->live_out, err = q->live_err;
    pthread_mutex_unlock(&q->mu);
    uint64_t now = uv_now(w->loop);
    if (q->stream && q->c)
        nc_send_event(q->c, "run.progress", progress_fields(q, now, out, err));
    nc_emit(w, "run.progress", progress_fields(q, now, out, err));
}

static json_t *b64_json(const uint8_t *p, size_t n);

/* What the module wrote since the last call, to the streaming client as
 * run.output events of at most NC_WORKER_OUTPUT_CHUNK bytes. */
static void drain_output(nc_queued_run *q)
{
    if (!q->stream)
        return;
    uint8_t *d[2];
    size_t n[2];
    pthread_mutex_lock(&q->mu);
    d[0] = nc_buf_steal(&q->pend_out, &n[0]);
    d[1] = nc_buf_steal(&q->pend_err, &n[1]);
    pthread_mutex_unlock(&q->mu);
    for (int k = 0; k < 2; k++) {
        uint64_t *sent = k == 0 ? &q->out_sent : &q->err_sent;
        for (size_t off = 0; off < n[k] && q->c;) {
            size_t take = n[k] - off > NC_WORKER_OUTPUT_CHUNK ? NC_WORKER_OUTPUT_CHUNK : n[k] - off;
            json_t *f = json_pack("{s:s, s:s, s:s, s:I}", "run_id", q->run_id, "invoker", q->invoker, "stream",
                                  k == 0 ? "stdout" : "stderr", "offset", (json_int_t)*sent);
            if (q->raw_output) {
                nc_send_event_raw(q->c, "run.output", f, d[k] + off, take);
            } else {
                json_object_set_new(f, "data_b64", b64_json(d[k] + off, take));
                nc_send_event(q->c, "run.output", f);
            }
            *sent += take;
            off += take;
        }
        free(d[k]);
    }
}

static void on_run_async(uv_async_t *a)
{
    nc_worker *w = a->data;
    for (nc_queued_run *q = w->active; q; q = q->active_next)
        drain_output(q);
}

/* Every NC_WORKER_PROGRESS_MS while runs are in progress. */
static void on_progress_timer(uv_timer_t *t)
{
    nc_worker *w = t->data;
    for (nc_queued_run *q = w->active; q; q = q->active_next) {
        drain_output(q);
        emit_progress(w, q);
    }
}

static void active_add(nc_worker *w, nc_queued_run *q)
{
    q->active_next = w->active;
    w->active = q;
    if (!uv_is_active((uv_handle_t *)&w->progress_timer))
        uv_timer_start(&w->progress_timer, on_progress_timer, NC_WORKER_PROGRESS_MS, NC_WORKER_PROGRESS_MS);
}

static void active_remove(nc_worker *w, nc_queued_run *q)
{
    nc_queued_run **pp = &w->active;
    while (*pp && *pp != q)
        pp = &(*pp)->active_next;
    if (*pp)
        *pp = q->active_next;
    q->active_next = NULL;
    if (!w->active)
        uv_timer_stop(&w->progress_timer);
}

nc_err nc_runs_init(nc_worker *w)
{
    if (uv_async_init(w->loop, &w->run_async, on_run_async) != 0 || uv_timer_init(w->loop, &w->progress_timer) != 0)
        return NC_ERR_INTERNAL;
    w->run_async.data = w;
    w->progress_timer.data = w;
    uv_unref((uv_handle_t *)&w->run_async);
    uv_unref((uv_handle_t *)&w->progress_timer);
    return NC_OK;
}

/* On the thread pool. An artifact that is missing or fails its own digest
 * (a moved home, a cleaned cache, a bad disk) is compiled again from the
 * module bytes the verification pipeline just checked against the approved
 * hash, and the run tried once more with it: loading still checks the new
 * artifact against its digest. */
static void run_work(uv_work_t *req)
{
    nc_queued_run *q = req->data;
    nc_run_hooks hooks = {.on_output = on_run_output, .ctx = q, .cancel = q->cancel};
    q->err = nc_sandbox_run_ex(q->w->sandbox, &q->art, &q->spec, &hooks, &q->res, q->msg, sizeof q->msg);
    if (q->err != NC_ERR_ARTIFACT || !q->module)
        return;
    nc_artifact fresh;
    char msg[512];
    snprintf(q->rebuild_reason, sizeof q->rebuild_reason, "%.200s", q->msg);
    if (nc_artifact_compile_tier(q->w->sandbox, q->art.tier, q->module, q->module_len, q->art.fuel, &fresh, msg,
                                 sizeof msg) != NC_OK) {
        snprintf(q->msg, sizeof q->msg, "the artifact was unusable (%.200s) and could not be rebuilt: %.200s",
                 q->rebuild_reason, msg);
        return;
    }
    nc_hex(q->art.sha256, NC_SHA256_LEN, q->rebuilt_from);
    q->art = fresh;
    q->rebuilt = true;
    nc_run_result_cleanup(&q->res);
    memset(&q->res, 0, sizeof q->res);
    q->err = nc_sandbox_run_ex(q->w->sandbox, &q->art, &q->spec, &hooks, &q->res, q->msg, sizeof q->msg);
}

static void run_finish(nc_worker *w, nc_queued_run *q);

static void run_done(uv_work_t *req, int status)
{
    nc_queued_run *q = req->data;
    nc_worker *w = q->w;
    (void)status;
    active_remove(w, q);
    if (q->hashing) {   /* hash_done finishes it */
        q->run_over = true;
        return;
    }
    w->running--;
    run_finish(w, q);
}

static void hash_work(uv_work_t *req)
{
    nc_queued_run *q = req->data;
    uint8_t h[NC_SHA256_LEN];
    if (nc_sha256(q->stdin_data, q->spec.stdin_len, h) == NC_OK)
        nc_hex(h, sizeof h, q->stdin_hex);
}

static void hash_done(uv_work_t *req, int status)
{
    nc_queued_run *q = req->data;
    (void)status;
    q->hashing = false;
    if (q->run_over) {
        q->w->running--;
        run_finish(q->w, q);
    }
}

/* Stdin this large is hashed beside the run rather than after it. */
#define PARALLEL_HASH_BYTES (256u * 1024)

/* run.cancel requests waiting for this run's end. */
static void answer_cancel_waiters(nc_queued_run *q)
{
    while (q->waiters) {
        nc_cancel_waiter *cw = q->waiters;
        q->waiters = cw->next;
        nc_reply(cw->c, cw->id, json_pack("{s:s, s:s, s:b}", "run_id", q->run_id, "state", "finished", "cancelled",
                                          q->res.outcome == NC_OUTCOME_CANCELLED));
        json_decref(cw->id);
        nc_client_done(cw->c);
        free(cw);
    }
}

/* A run's end, whether it ran or was cancelled in the queue: recorded, and
 * answered to whoever waits for it. */
static void run_finish(nc_worker *w, nc_queued_run *q)
{
    drain_output(q);   /* every output event before the final reply */
    int64_t now = nc_unix_now();
    if (q->err != NC_OK) {
        /* It could not run at all: record that, as a crash with the reason. */
        nc_run_result_cleanup(&q->res);
        q->res.outcome = NC_OUTCOME_CRASH;
        snprintf(q->res.message, sizeof q->res.message, "could not run: %.480s", q->msg);
        if (q->err == NC_ERR_ARTIFACT)
            nc_emit(w, "alert", json_pack("{s:s, s:s, s:s}", "kind", "tamper", "message", q->msg, "approval_id",
                                          q->approval_id));
    }
    if (q->rebuilt)
        nc_emit(w, "alert", json_pack("{s:s, s:s, s:s}", "kind", "artifact_rebuilt", "message", q->rebuild_reason,
                                      "approval_id", q->approval_id));
    json_t *threat = nc_threat_run(q->module, q->module_len, &q->granted, &q->res);
    json_int_t score = json_integer_value(json_object_get(threat, "score"));
    json_t *run = run_json(q, now, threat);
    json_t *receipt = run ? receipt_json(q, run, score) : NULL;
    nc_err err = run && receipt ? NC_OK : NC_ERR_NOMEM;
    nc_unrecorded *u = NULL;
    if (err == NC_OK && !(u = calloc(1, sizeof *u)))
        err = NC_ERR_NOMEM;
    if (err == NC_OK) {
        snprintf(u->run_id, sizeof u->run_id, "%s", q->run_id);
        snprintf(u->approval_id, sizeof u->approval_id, "%s", q->approval_id);
        snprintf(u->outcome, sizeof u->outcome, "%s", nc_outcome_name(q->res.outcome));
        /* Our failure (the module never ran) does not use up a run, nor
         * does a cancel before it started. */
        u->refund = q->err != NC_OK || q->cancel_queued;
        snprintf(u->refund_reason, sizeof u->refund_reason, "%s",
                 q->cancel_queued ? "cancelled before it started" : "it could not run (see run.end)");
        json_object_set_new(run, "refunded", json_boolean(u->refund));
        if (q->rebuilt) {
            const char *slash = strrchr(q->art.path, '/');
            snprintf(u->artifact_file, sizeof u->artifact_file, "%.280s", slash ? slash + 1 : q->art.path);
            nc_hex(q->art.sha256, NC_SHA256_LEN, u->artifact_sha256);
            u->rebuilt = json_pack("{s:s, s:s, s:s, s:s, s:s}", "approval_id", q->approval_id, "run", q->run_id,
                                   "artifact_sha256", u->artifact_sha256, "previous_artifact_sha256",
                                   q->rebuilt_from, "reason", q->rebuild_reason);
            if (!u->rebuilt)
                err = NC_ERR_NOMEM;
        }
        u->finished_at = now;
        u->duration_ms = (int64_t)(q->res.t_total_ns / 1000000);
        u->score = score;
        u->run = json_incref(run);
        u->receipt = json_incref(receipt);
        if (err == NC_OK)
            err = record_end(w, u);
    }
    json_decref(receipt);
    if (err != NC_OK) {
        char why[512];
        nc_worker_failure(w, err, why, sizeof why);
        if (u) {
            /* Kept, and recorded once the database takes it (nc_runs_record_pending). */
            u->next = w->unrecorded;
            w->unrecorded = u;
            w->nunrecorded++;
            fprintf(stderr, "nightcore-worker: run %s finished (%s) but could not be recorded: %s; it will be "
                    "recorded when that is fixed\n", q->run_id, u->outcome, why);
            if (q->c)
                nc_reply_error(q->c, q->id, err, "the run finished (%s) but could not be recorded yet: %s. It is "
                               "kept and recorded as soon as that is fixed (see `nightcore runs`)", u->outcome, why);
        } else if (q->c) {
            nc_reply_error(q->c, q->id, err, "the run finished but could not be recorded: %s", why);
        }
    } else {
        free_unrecorded(u);
        emit_finished(w, run);
        if (!q->c)
            ;   /* run.start: nobody waits for the end */
        else if (q->err != NC_OK)
            nc_reply_error(q->c, q->id, q->err, "%s (the module did not run; the run was given back to the approval: "
                           "see `nightcore runs show %s`)", q->msg, q->run_id);
        else if (q->raw_output)   /* the client has the output from the events */
            nc_reply(q->c, q->id, without_output(run, &q->res));
        else
            nc_reply(q->c, q->id, with_text(run));
    }
    json_decref(run);
    answer_cancel_waiters(q);
    if (q->c)
        nc_client_done(q->c);
    queued_free(q);
    start_next(w);
    nc_worker_maybe_stop(w);
}

void nc_runs_resume(nc_worker *w)
{
    start_next(w);
}

void nc_runs_drop_undurable(nc_worker *w)
{
    while (w->queue_head && !nc_durable(w, w->queue_head->gen)) {
        nc_queued_run *q = w->queue_head;
        w->queue_head = q->next;
        if (!w->queue_head)
            w->queue_tail = NULL;
        w->queued--;
        if (q->c) {
            nc_reply_error(q->c, q->id, NC_ERR_IO, "the run was not started: its record could not be flushed to disk");
            nc_client_done(q->c);
        }
        queued_free(q);
    }
}

static void start_next(nc_worker *w)
{
    /* A run starts only once its run.start is on disk: a power loss never
     * forgets a run that happened, so max_runs holds. */
    while (w->running < w->limit && w->queue_head) {
        nc_queued_run *q = w->queue_head;
        if (!nc_durable(w, q->gen)) {
            nc_durable_request(w);
            break;
        }
        w->queue_head = q->next;
        if (!w->queue_head)
            w->queue_tail = NULL;
        w->queued--;
        w->running++;
        q->state = RUN_RUNNING;
        active_add(w, q);
        emit_progress(w, q);
        q->work.data = q;
        if (uv_queue_work(w->loop, &q->work, run_work, run_done) != 0) {
            q->err = NC_ERR_INTERNAL;
            snprintf(q->msg, sizeof q->msg, "cannot schedule the run");
            run_done(&q->work, 0);
            continue;
        }
        q->hash_work.data = q;
        if (q->spec.stdin_len >= PARALLEL_HASH_BYTES &&
            uv_queue_work(w->loop, &q->hash_work, hash_work, hash_done) == 0)
            q->hashing = true;   /* else the receipt hashes it when the run ends */
    }
}

/* Builds the sandbox specification from the verified statement. */
static nc_err build_spec(nc_queued_run *q, const nc_statement *st, json_t *args, uint8_t **stdin_data,
                         size_t stdin_len)
{
    size_t nargs = 1 + (args ? json_array_size(args) : 0);
    q->argv = calloc(nargs, sizeof(char *));
    q->env = calloc(st->caps.nenv ? st->caps.nenv : 1, sizeof(char *));
    q->dirs = calloc(st->caps.ndirs ? st->caps.ndirs : 1, sizeof(nc_dir_grant));
    if (!q->argv || !q->env || !q->dirs)
        return NC_ERR_NOMEM;
    q->argv[0] = strdup(st->name);
    q->spec.nargs = 1;
    if (!q->argv[0])
        return NC_ERR_NOMEM;
    for (size_t i = 1; i < nargs; i++) {
        q->argv[i] = strdup(json_string_value(json_array_get(args, i - 1)));
        if (!q->argv[i])
            return NC_ERR_NOMEM;
        q->spec.nargs++;
    }
    for (size_t i = 0; i < st->caps.nenv; i++) {
        size_t n = strlen(st->caps.env[i].key) + strlen(st->caps.env[i].value) + 2;
        q->env[i] = malloc(n);
        if (!q->env[i])
            return NC_ERR_NOMEM;
        snprintf(q->env[i], n, "%s=%s", st->caps.env[i].key, st->caps.env[i].value);
        q->spec.nenv++;
    }
    if (nc_caps_copy(&st->caps, &q->granted) != NC_OK)
        return NC_ERR_NOMEM;
    for (size_t i = 0; i < q->granted.ndirs; i++) {
        const nc_cap_dir *d = &q->granted.dirs[i];
        q->dirs[i] = (nc_dir_grant){.host = d->host, .guest = d->guest, .readonly = d->readonly, .dev = d->dev,
                                    .ino = d->ino, .quota_bytes = d->quota_bytes, .quota_files = d->quota_files};
    }
    q->spec.args = (const char *const *)q->argv;
    q->spec.env = (const char *const *)q->env;
    q->spec.dirs = q->dirs;
    q->spec.ndirs = q->granted.ndirs;
    q->stdin_data = *stdin_data;   /* taken, not copied (up to 16 MiB) */
    *stdin_data = NULL;
    q->spec.stdin_data = q->stdin_data;
    q->spec.stdin_len = stdin_len;
    nc_limits_default(&q->spec.limits);
    q->spec.limits.timeout_ms = (uint32_t)st->limits.timeout_ms;
    q->spec.limits.memory_bytes = st->limits.memory_bytes;
    q->spec.limits.fuel = st->limits.fuel;
    q->spec.limits.stdout_bytes = (uint32_t)st->limits.stdout_bytes;
    q->spec.limits.stderr_bytes = (uint32_t)st->limits.stderr_bytes;
    return NC_OK;
}

/* The approval's row against the audit log, which the database's own
 * columns cannot rewrite without breaking the Merkle tree: the approval was
 * recorded, its used runs are the run.start entries, a revocation stays, and
 * the artifact is the one compiled at approval. */
static nc_err check_against_log(nc_worker *w, const nc_db_approval *row, char *msg, size_t msg_len)
{
    json_t *entry = NULL, *rebuilt = NULL;
    uint64_t started = 0, refunded = 0, revocations = 0;
    nc_err err = nc_audit_first_ref(w->db, "approval", row->id, &entry);
    if (err == NC_OK)
        err = nc_audit_last_ref(w->db, "artifact.rebuilt", row->id, &rebuilt);
    if (err == NC_OK)
        err = nc_audit_count_ref(w->db, "run.start", row->id, &started);
    if (err == NC_OK)
        err = nc_audit_count_ref(w->db, "run.refund", row->id, &refunded);
    if (err == NC_OK)
        err = nc_audit_count_ref(w->db, "revocation", row->id, &revocations);
    if (err != NC_OK) {
        snprintf(msg, msg_len, "cannot read the audit log: %s", nc_db_errmsg(w->db));
        json_decref(entry);
        json_decref(rebuilt);
        return err == NC_ERR_CORRUPT || err == NC_ERR_NO_SPACE ? err : NC_ERR_INTERNAL;
    }
    uint64_t used = started >= refunded ? started - refunded : 0;
    if (!entry) {
        snprintf(msg, msg_len, "approval %.12s is in the database but was never recorded in the audit log: it was "
                 "inserted outside Night Core. Refusing to run it", row->id);
        err = NC_ERR_TAMPERED;
    } else if ((uint64_t)row->runs != used) {
        snprintf(msg, msg_len, "approval %.12s says %lld runs were used; the audit log recorded %llu: its run count "
                 "was edited outside Night Core. Refusing to run it", row->id, (long long)row->runs,
                 (unsigned long long)used);
        err = NC_ERR_TAMPERED;
    } else if (revocations && !row->revoked) {
        snprintf(msg, msg_len, "approval %.12s was revoked (audit log) but the database says it is not: it was "
                 "un-revoked outside Night Core. Refusing to run it", row->id);
        err = NC_ERR_TAMPERED;
    } else {
        /* the artifact compiled at approval, or the latest rebuilt from the module */
        const char *art = json_string_value(json_object_get(rebuilt ? rebuilt : entry, "artifact_sha256"));
        if (art && strcmp(art, row->artifact_sha256) != 0) {
            snprintf(msg, msg_len, "approval %.12s points at an artifact other than the one compiled for it "
                     "(audit log): refusing to run it", row->id);
            err = NC_ERR_TAMPERED;
        }
    }
    json_decref(entry);
    json_decref(rebuilt);
    return err;
}

static bool refused(nc_err e);

/* One candidate approval, all the way through: its row against the audit
 * log, its module bytes, its signature, trust, hash, limits and invoker. */
static nc_err try_approval(nc_worker *w, const char *aid, const char *invoker, const nc_caps *want,
                           const nc_trust_store *ts, nc_db_approval *row, nc_verify_output *vo, uint8_t **module,
                           size_t *module_len, char *msg, size_t msg_len)
{
    nc_err err = nc_db_approval_load(w->db, aid, row);
    if (err != NC_OK) {
        snprintf(msg, msg_len, "cannot read approval %.12s: %s", aid, nc_db_errmsg(w->db));
        return err == NC_ERR_NOT_FOUND ? NC_ERR_INTERNAL : err;
    }
    err = check_against_log(w, row, msg, msg_len);
    if (err != NC_OK) {
        if (err == NC_ERR_TAMPERED)
            nc_emit(w, "alert", json_pack("{s:s, s:s, s:s, s:s}", "kind", "tamper", "message", msg, "approval_id",
                                          row->id, "name", row->name));
        goto fail;
    }
    err = nc_blob_get(w->blobs, row->sha256, NC_MAX_MODULE_BYTES, module, module_len);
    if (err != NC_OK && err != NC_ERR_NOT_FOUND) {
        snprintf(msg, msg_len, "cannot read the module's bytes: %s", nc_strerror(err));
        goto fail;
    }
    nc_verify_input in = {
        .statement = row->statement, .statement_len = row->statement_len, .signature = row->signature,
        .signature_len = row->signature_len, .trust = ts, .worker_id = w->worker_id, .now = nc_unix_now(),
        .approval_revoked = row->revoked, .runs_so_far = (uint64_t)row->runs,
        .module = *module ? *module : (const uint8_t *)"", .module_len = *module_len,
        .invoker = invoker, .requested = want,
    };
    err = nc_verify_approval(&in, vo, msg, msg_len);
    if (err == NC_OK)
        return NC_OK;
    if (err == NC_ERR_HASH_MISMATCH)
        nc_emit(w, "alert", json_pack("{s:s, s:s, s:s, s:s}", "kind", "hash_mismatch", "message",
                                      "stored module bytes do not match the approved sha256", "approval_id", row->id,
                                      "name", row->name));
fail:
    free(*module);
    *module = NULL;
    *module_len = 0;
    nc_db_approval_cleanup(row);
    memset(row, 0, sizeof *row);
    return err;
}

/* What `ref` names, for this invoker: an approval id (or the prefix
 * `nightcore approvals` prints) is that approval alone; a module name or
 * hash is the newest approval that passes every check, older ones tried in
 * turn, so one revoked key or used-up approval never hides a valid one. When
 * none passes, the refusal is the newest one's. Another invoker's approval
 * and no approval at all get the same refusal. Tampering stops the search. */
static nc_err select_approval(nc_worker *w, const char *ref, const char *invoker, const nc_caps *want,
                              const nc_trust_store *ts, nc_db_approval *row, nc_verify_output *vo, uint8_t **module,
                              size_t *module_len, char *msg, size_t msg_len)
{
    char ids[16][65];
    size_t n = 0;
    bool by_id;
    nc_err err = nc_db_approval_candidates(w->db, ref, strcmp(invoker, "operator") ? invoker : NULL, nc_unix_now(),
                                           ids, sizeof ids / sizeof ids[0], &n, &by_id);
    if (err == NC_ERR_NOT_FOUND) {
        snprintf(msg, msg_len, "nothing approved under \"%s\" for %s: submit it, then approve it (`nightcore inbox`, "
                 "`nightcore approve`)", ref, invoker);
        return NC_ERR_NOT_APPROVED;
    }
    if (err == NC_ERR_USAGE) {
        snprintf(msg, msg_len, "\"%s\" is the start of more than one approval id: give more digits", ref);
        return NC_ERR_USAGE;
    }
    if (err != NC_OK) {
        snprintf(msg, msg_len, "cannot look up approvals: %s", nc_db_errmsg(w->db));
        return err;
    }
    nc_err first = NC_OK;
    char other[1024];
    for (size_t i = 0; i < n; i++) {
        err = try_approval(w, ids[i], invoker, want, ts, row, vo, module, module_len, i ? other : msg,
                           i ? sizeof other : msg_len);
        if (err == NC_OK)
            return NC_OK;
        if (i == 0)
            first = err;
        if (err == NC_ERR_TAMPERED || !refused(err)) {
            if (i)
                snprintf(msg, msg_len, "%s", other);
            return err;
        }
    }
    return first;
}

static bool refused(nc_err e)
{
    return e != NC_ERR_NOMEM && e != NC_ERR_IO && e != NC_ERR_INTERNAL && e != NC_ERR_NO_SPACE && e != NC_ERR_CORRUPT;
}

typedef enum { RUN_WAIT, RUN_START } run_mode;
static void run_request(nc_client *c, json_t *id, json_t *req, const char *invoker, run_mode mode);

void nc_op_run(nc_client *c, json_t *id, json_t *req)
{
    run_request(c, id, req, "operator", RUN_WAIT);
}

void nc_op_run_start(nc_client *c, json_t *id, json_t *req)
{
    run_request(c, id, req, "operator", RUN_START);
}

void nc_run_as(nc_client *c, json_t *id, json_t *req, const char *invoker)
{
    run_request(c, id, req, invoker, RUN_WAIT);
}

void nc_run_start_as(nc_client *c, json_t *id, json_t *req, const char *invoker)
{
    run_request(c, id, req, invoker, RUN_START);
}

/* run (answered at the end; with stream: true, progress and output events
 * before that) and run.start (answered once the run is recorded and queued). */
static void run_request(nc_client *c, json_t *id, json_t *req, const char *invoker, run_mode mode)
{
    const char *opname = mode == RUN_START ? "run.start" : "run";
    uint64_t received_ns = mono_ns();
    nc_worker *w = c->w;
    nc_queued_run *q = NULL;
    nc_db_approval row;
    nc_trust_store ts;
    nc_verify_output vo;
    uint8_t *stdin_data = NULL;
    size_t stdin_len = 0;
    char msg[1024];
    bool have_row = false, have_ts = false, have_vo = false;
    memset(&row, 0, sizeof row);

    const char *key;
    json_t *v;
    json_object_foreach(req, key, v) {
        if (strcmp(key, "id") && strcmp(key, "op") && strcmp(key, "ref") && strcmp(key, "args") &&
            strcmp(key, "stdin_b64") && strcmp(key, "stdin_bytes") && (strcmp(key, "token") || !c->agent_socket) &&
            ((strcmp(key, "stream") && strcmp(key, "output")) || mode != RUN_WAIT)) {
            nc_reply_error(c, id, NC_ERR_USAGE, "unknown parameter \"%.64s\" for %s", key, opname);
            return;
        }
    }
    json_t *stream_param = json_object_get(req, "stream");
    if (stream_param && !json_is_boolean(stream_param)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "stream must be true or false");
        return;
    }
    bool stream = json_is_true(stream_param);
    const char *output = json_string_value(json_object_get(req, "output"));
    if (json_object_get(req, "output") &&
        (!output || (strcmp(output, "raw") && strcmp(output, "json")) || (!strcmp(output, "raw") && !stream))) {
        nc_reply_error(c, id, NC_ERR_USAGE, "output must be \"json\" or \"raw\" (raw only with stream: true)");
        return;
    }
    bool raw_output = output && strcmp(output, "raw") == 0;
    /* stdin as raw bytes after the request line (the server read them) */
    bool raw_stdin = json_object_get(req, "stdin_bytes") != NULL;
    if (raw_stdin && json_object_get(req, "stdin_b64")) {
        nc_reply_error(c, id, NC_ERR_USAGE, "give stdin_b64 or stdin_bytes, not both");
        return;
    }
    const char *ref = json_string_value(json_object_get(req, "ref"));
    json_t *args = json_object_get(req, "args");
    const char *stdin_b64 = json_string_value(json_object_get(req, "stdin_b64"));
    if (!ref || strlen(ref) > 128) {
        nc_reply_error(c, id, NC_ERR_USAGE, "run needs ref: an approval id, a module name or a sha256 prefix");
        return;
    }
    if (args && (!json_is_array(args) || json_array_size(args) >= NC_MAX_ARGS)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "args must be an array of at most %u strings", NC_MAX_ARGS - 1);
        return;
    }
    for (size_t i = 0; args && i < json_array_size(args); i++) {
        json_t *a = json_array_get(args, i);
        if (!json_is_string(a) || json_string_length(a) > NC_MAX_ARG_BYTES ||
            memchr(json_string_value(a), 0, json_string_length(a))) {
            nc_reply_error(c, id, NC_ERR_USAGE, "args[%zu] must be a string of at most %u bytes", i, NC_MAX_ARG_BYTES);
            return;
        }
    }
    if (json_object_get(req, "stdin_b64") && !stdin_b64) {
        nc_reply_error(c, id, NC_ERR_USAGE, "stdin_b64 must be a base64 string");
        return;
    }
    if (raw_stdin) {
        stdin_len = c->raw_len;
        if (stdin_len) {
            stdin_data = malloc(stdin_len);
            if (!stdin_data) {
                nc_reply_error(c, id, NC_ERR_NOMEM, "out of memory");
                return;
            }
            memcpy(stdin_data, c->raw, stdin_len);
        }
    } else if (stdin_b64) {
        size_t n = strlen(stdin_b64);
        if (n / 4 * 3 > NC_MAX_STDIN_BYTES + 3) {
            nc_reply_error(c, id, NC_ERR_TOO_LARGE, "stdin larger than %u bytes", NC_MAX_STDIN_BYTES);
            return;
        }
        stdin_data = malloc(n / 4 * 3 + 3);
        if (!stdin_data || sodium_base642bin(stdin_data, n / 4 * 3 + 3, stdin_b64, n, NULL, &stdin_len, NULL,
                                             sodium_base64_VARIANT_ORIGINAL) != 0) {
            nc_reply_error(c, id, NC_ERR_USAGE, "stdin_b64 is not valid base64");
            goto done;
        }
    }
    if (w->running >= w->limit && w->queued >= w->queue_limit) {
        nc_reply_error(c, id, NC_ERR_BUSY, "%u runs in progress and %u queued; retry shortly", w->running, w->queued);
        goto done;
    }
    if (strcmp(invoker, "operator") != 0) {   /* an agent: one run at a time */
        int64_t mine = 0;
        nc_err cerr = nc_db_count_running(w->db, invoker, &mine);
        if (cerr != NC_OK) {
            nc_reply_store_error(c, id, cerr, "the runs in progress");
            goto done;
        }
        if (mine >= NC_WORKER_AGENT_MAX_RUNS) {
            const nc_queued_run *busy = live_of(w, invoker);
            if (!busy) {
                nc_reply_error(c, id, NC_ERR_BUSY, "%s already has a run in progress; wait for it to finish",
                               invoker);
                goto done;
            }
            nc_reply_error_fields(c, id, NC_ERR_BUSY, json_pack("{s:s}", "run_id", busy->run_id),
                                  "%s already has a run in progress (%s); wait for it to finish (run.get) or "
                                  "cancel it (run.cancel)", invoker, busy->run_id);
            goto done;
        }
    }
    q = calloc(1, sizeof *q);
    if (!q) {
        nc_reply_error(c, id, NC_ERR_NOMEM, "out of memory");
        goto done;
    }
    q->w = w;
    q->received_ns = received_ns;
    q->accepted_ms = uv_now(w->loop);
    q->state = RUN_QUEUED;
    q->stream = stream;
    q->raw_output = raw_output;
    pthread_mutex_init(&q->mu, NULL);
    nc_buf_init(&q->pend_out, NC_MAX_OUTPUT_BYTES);
    nc_buf_init(&q->pend_err, NC_MAX_OUTPUT_BYTES);
    if (nc_run_cancel_new(&q->cancel) != NC_OK) {
        nc_reply_error(c, id, NC_ERR_INTERNAL, "cannot prepare the run (no event descriptor)");
        goto done;
    }
    /* Agents resolve only among approvals that name them; the operator among all. */
    nc_caps want = {.args = args && json_array_size(args) > 0, .stdin = stdin_len > 0};
    nc_err err = nc_worker_trust_load(w, &ts, msg, sizeof msg);
    if (err != NC_OK) {
        nc_reply_error(c, id, err, "%s", msg);
        goto done;
    }
    have_ts = true;
    err = select_approval(w, ref, invoker, &want, &ts, &row, &vo, &q->module, &q->module_len, msg, sizeof msg);
    if (err != NC_OK) {
        nc_reply_error(c, id, err, "%s", msg);
        goto done;
    }
    have_row = true;
    snprintf(q->approval_id, sizeof q->approval_id, "%s", row.id);
    snprintf(q->name, sizeof q->name, "%s", row.name);
    snprintf(q->sha256, sizeof q->sha256, "%s", row.sha256);
    have_vo = true;
    /* Counting the run and recording its start are one transaction, so a
     * kill -9 never loses a run that was allowed, nor allows one twice. */
    nc_random_id("r_", q->run_id, sizeof q->run_id);
    snprintf(q->invoker, sizeof q->invoker, "%s", invoker);
    q->started_at = nc_unix_now();
    if ((err = nc_db_begin(w->db)) != NC_OK) {
        nc_worker_failure(w, err, msg, sizeof msg);
        nc_reply_error(c, id, err, "the run could not be recorded, so it did not run: %s", msg);
        goto done;
    }
    char capd[NC_SHA256_HEX_LEN + 1];
    nc_hex(vo.statement.cap_digest, NC_SHA256_LEN, capd);
    snprintf(q->cap_digest, sizeof q->cap_digest, "%s", capd);
    err = nc_db_approval_take_run(w->db, row.id);
    if (err == NC_OK)
        err = nc_db_run_start(w->db, q->run_id, row.id, row.name, row.sha256, invoker, q->started_at);
    /* Fail closed: a run that cannot be recorded does not happen. */
    if (err == NC_OK)
        err = nc_log(w, "run.start", json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "run", q->run_id, "approval_id",
                                               row.id, "name", row.name, "module_sha256", row.sha256, "invoker",
                                               invoker, "capability_digest", capd), NULL);
    if (err == NC_OK)
        err = nc_db_commit(w->db);
    if (err != NC_OK) {
        nc_worker_failure(w, err, msg, sizeof msg);
        nc_log_abort(w);
        if (refused(err))
            nc_reply_error(c, id, err, "%s", nc_strerror(err));
        else
            nc_reply_error(c, id, err, "the run could not be recorded, so it did not run: %s", msg);
        goto done;
    }
    /* The artifact by its file name in this home's cache: a moved or copied
     * home keeps working (older rows hold an absolute path: its last part). */
    const char *art_file = strrchr(row.artifact_path, '/');
    art_file = art_file ? art_file + 1 : row.artifact_path;
    if (snprintf(q->art.path, sizeof q->art.path, "%s/%s", w->artifacts, art_file) >= (int)sizeof q->art.path)
        q->art.path[0] = '\0';   /* fails as a missing artifact, and is rebuilt */
    q->art.fuel = row.artifact_fuel;
    /* The tier the human signed: the artifact was compiled for it, and the
     * sandbox refuses the run rather than use another. */
    if (nc_tier_from_name(vo.statement.isolation[0] ? vo.statement.isolation : "process", &q->art.tier) != NC_OK ||
        nc_unhex(row.artifact_sha256, strlen(row.artifact_sha256), q->art.sha256, sizeof q->art.sha256) != NC_OK ||
        build_spec(q, &vo.statement, args, &stdin_data, stdin_len) != NC_OK) {
        /* the run was counted and recorded: finish it as failed, never drop it */
        q->err = NC_ERR_INTERNAL;
        snprintf(q->msg, sizeof q->msg, "cannot prepare the run");
    }
    if (mode == RUN_WAIT) {   /* answered at the end */
        q->c = c;
        q->id = json_incref(id);
        nc_client_ref(c);
        c->busy = true;
    }
    nc_emit(w, "run.started", json_pack("{s:s, s:s, s:s, s:s}", "run_id", q->run_id, "approval_id", q->approval_id,
                                        "name", q->name, "invoker", invoker));
    char run_id[sizeof q->run_id];
    snprintf(run_id, sizeof run_id, "%s", q->run_id);
    if (q->err != NC_OK) {
        w->running++;
        active_add(w, q);
        run_done(&q->work, 0);
    } else {
        q->gen = nc_db_commits(w->db);
        if (w->queue_tail)
            w->queue_tail->next = q;
        else
            w->queue_head = q;
        w->queue_tail = q;
        w->queued++;
        emit_progress(w, q);   /* queued */
        start_next(w);
    }
    q = NULL;
    if (mode == RUN_START) {
        /* Sent once the run.start record is on disk (replies wait for it). */
        const nc_queued_run *live = find_live(w, run_id);
        nc_reply(c, id, json_pack("{s:s, s:s}", "run_id", run_id, "state",
                                  !live ? "finished" : live->state == RUN_RUNNING ? "running" : "queued"));
    }
    goto done;
done:
    if (q)
        queued_free(q);
    if (have_vo)
        nc_verify_output_cleanup(&vo);
    if (have_ts)
        nc_trust_cleanup(&ts);
    if (have_row)
        nc_db_approval_cleanup(&row);
    free(stdin_data);
}

/* ---- run.get, run.cancel ---- */

/* key ("stdout"/"stderr") of a finished run, sliced to [offset, offset +
 * limit) when asked (limit < 0: to the end), with KEY_total: the whole
 * output's size. The exact bytes come from KEY_b64. */
static void slice_output(json_t *r, const char *key, int64_t offset, int64_t limit, bool slice)
{
    char b64key[16], totalkey[16];
    snprintf(b64key, sizeof b64key, "%s_b64", key);
    snprintf(totalkey, sizeof totalkey, "%s_total", key);
    const json_t *b = json_object_get(r, b64key);
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (json_is_string(b) && json_string_length(b)) {
        size_t blen = json_string_length(b), cap = blen / 4 * 3 + 3;
        bytes = malloc(cap);
        if (!bytes || sodium_base642bin(bytes, cap, json_string_value(b), blen, NULL, &n, NULL,
                                        sodium_base64_VARIANT_ORIGINAL) != 0)
            n = 0;
    }
    json_object_set_new(r, totalkey, json_integer((json_int_t)n));
    if (slice) {
        size_t from = (uint64_t)offset < n ? (size_t)offset : n;
        size_t len = limit < 0 || (uint64_t)limit > n - from ? n - from : (size_t)limit;
        json_object_set_new(r, b64key, b64_json(bytes ? bytes + from : NULL, len));
        json_object_set_new(r, key, utf8_text(bytes ? bytes + from : (const uint8_t *)"", len));
    }
    free(bytes);
}

/* A run's state and progress for run.get: held by the worker (queued or
 * running), finished (recorded, or waiting to be recorded), or running
 * according to the database alone. */
static void add_state(nc_worker *w, json_t *r, const nc_queued_run *q)
{
    if (q) {
        pthread_mutex_lock((pthread_mutex_t *)&q->mu);
        uint64_t out = q->live_out, err = q->live_err;
        pthread_mutex_unlock((pthread_mutex_t *)&q->mu);
        json_object_set_new(r, "state", json_string(q->state == RUN_RUNNING ? "running" : "queued"));
        json_object_set_new(r, "progress", json_pack("{s:I, s:I, s:I}", "elapsed_ms",
                                                     (json_int_t)(uv_now(w->loop) - q->accepted_ms), "stdout_bytes",
                                                     (json_int_t)out, "stderr_bytes", (json_int_t)err));
        return;
    }
    bool finished = json_object_get(r, "finished_at") != NULL;
    json_object_set_new(r, "state", json_string(finished ? "finished" : "running"));
}

static nc_unrecorded *find_unrecorded(nc_worker *w, const char *run_id)
{
    for (nc_unrecorded *u = w->unrecorded; u; u = u->next)
        if (strcmp(u->run_id, run_id) == 0)
            return u;
    return NULL;
}

/* The run as the database has it, or a finished one waiting to be recorded;
 * agents see only their own (others are not_found). */
static nc_err load_run(nc_worker *w, const char *rid, const char *agent, json_t **out)
{
    *out = NULL;
    nc_unrecorded *u = find_unrecorded(w, rid);
    nc_err err = NC_OK;
    if (u)
        *out = json_deep_copy(u->run);
    else
        err = nc_db_run_get(w->db, rid, out);
    if (err == NC_OK && !*out)
        err = NC_ERR_NOMEM;
    if (err == NC_OK && agent) {
        const char *inv = json_string_value(json_object_get(*out, "invoker"));
        if (!inv || strcmp(inv, agent) != 0)
            err = NC_ERR_NOT_FOUND;   /* another invoker's run: as if it did not exist */
    }
    if (err != NC_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return err;
}

static void run_get(nc_client *c, json_t *id, json_t *req, const char *agent)
{
    static const char *const p[] = {"run", "stdout_offset", "stdout_limit", "stderr_offset", "stderr_limit",
                                    "token", NULL};
    static const char *const op[] = {"run", "stdout_offset", "stdout_limit", "stderr_offset", "stderr_limit", NULL};
    nc_worker *w = c->w;
    int64_t so, sl, eo, el;
    if (!nc_params_ok(c, id, req, agent ? p : op) ||
        !nc_int_param(c, id, req, "stdout_offset", 0, 0, NC_MAX_OUTPUT_BYTES, &so) ||
        !nc_int_param(c, id, req, "stdout_limit", -1, 0, NC_MAX_OUTPUT_BYTES, &sl) ||
        !nc_int_param(c, id, req, "stderr_offset", 0, 0, NC_MAX_OUTPUT_BYTES, &eo) ||
        !nc_int_param(c, id, req, "stderr_limit", -1, 0, NC_MAX_OUTPUT_BYTES, &el))
        return;
    const char *rid = nc_str_param(req, "run");
    json_t *r = NULL;
    nc_err err = rid ? load_run(w, rid, agent, &r) : NC_ERR_NOT_FOUND;
    if (err != NC_OK) {
        nc_reply_db_error(c, id, err, agent ? "run of yours" : "run");
        return;
    }
    const nc_queued_run *q = find_live(w, rid);
    add_state(w, r, q);
    if (!q && json_object_get(r, "finished_at")) {
        bool slice_out = json_object_get(req, "stdout_offset") || json_object_get(req, "stdout_limit");
        bool slice_err = json_object_get(req, "stderr_offset") || json_object_get(req, "stderr_limit");
        slice_output(r, "stdout", so, sl, slice_out);
        slice_output(r, "stderr", eo, el, slice_err);
        add_text(r);   /* the whole output's text where it was not sliced */
        json_object_set_new(r, "progress", json_pack("{s:O?, s:O, s:O}", "elapsed_ms",
                                                     json_object_get(r, "duration_ms"), "stdout_bytes",
                                                     json_object_get(r, "stdout_total"), "stderr_bytes",
                                                     json_object_get(r, "stderr_total")));
    }
    nc_reply(c, id, r);
}

void nc_op_run_get(nc_client *c, json_t *id, json_t *req)
{
    run_get(c, id, req, NULL);
}

void nc_run_get_as(nc_client *c, json_t *id, json_t *req, const char *invoker)
{
    run_get(c, id, req, invoker);
}

/* run.cancel: a queued run leaves the queue, is recorded cancelled and given
 * back to its approval; a running one is killed (cancelled, and it counts).
 * Who asked is in the audit log (run.cancel) before anything changes; the
 * answer comes once the run's end is recorded. */
static void run_cancel(nc_client *c, json_t *id, json_t *req, const char *agent)
{
    static const char *const p[] = {"run", "token", NULL};
    static const char *const op[] = {"run", NULL};
    nc_worker *w = c->w;
    if (!nc_params_ok(c, id, req, agent ? p : op))
        return;
    const char *rid = nc_str_param(req, "run");
    nc_queued_run *q = rid ? find_live(w, rid) : NULL;
    if (q && agent && strcmp(q->invoker, agent) != 0)
        q = NULL;
    if (!q) {   /* not in progress: finished, someone else's, or nothing */
        json_t *r = NULL;
        nc_err err = rid ? load_run(w, rid, agent, &r) : NC_ERR_NOT_FOUND;
        if (err != NC_OK) {
            nc_reply_db_error(c, id, err, agent ? "run of yours" : "run");
            return;
        }
        bool finished = json_object_get(r, "finished_at") != NULL;
        nc_reply(c, id, json_pack("{s:s, s:s, s:b}", "run_id", rid, "state", finished ? "finished" : "running",
                                  "cancelled", 0));
        json_decref(r);
        return;
    }
    if (nc_run_cancel_fired(q->cancel)) {   /* already being cancelled: wait with the others */
        goto wait;
    }
    const char *was = q->state == RUN_RUNNING ? "running" : "queued";
    nc_err err = nc_db_begin(w->db);
    if (err == NC_OK)
        err = nc_log(w, "run.cancel", json_pack("{s:s, s:s, s:s, s:s}", "run", q->run_id, "approval_id",
                                                q->approval_id, "by", agent ? agent : "operator", "state", was),
                     NULL);
    if (err == NC_OK)
        err = nc_db_commit(w->db);
    if (err != NC_OK) {
        nc_log_abort(w);
        nc_reply_store_error(c, id, err, "the cancellation (the run goes on)");
        return;
    }
    nc_run_cancel_fire(q->cancel);
    if (q->state == RUN_QUEUED) {
        nc_queued_run **pp = &w->queue_head, *prev = NULL;
        while (*pp && *pp != q) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        *pp = q->next;
        if (w->queue_tail == q)
            w->queue_tail = prev;
        q->next = NULL;
        w->queued--;
        q->cancel_queued = true;
        q->res.outcome = NC_OUTCOME_CANCELLED;
        snprintf(q->res.message, sizeof q->res.message, "cancelled before it started (by %s)",
                 agent ? agent : "operator");
        char run_id[sizeof q->run_id];
        snprintf(run_id, sizeof run_id, "%s", q->run_id);
        run_finish(w, q);   /* recorded, given back, and answered */
        nc_reply(c, id, json_pack("{s:s, s:s, s:b}", "run_id", run_id, "state", "finished", "cancelled", 1));
        return;
    }
wait:;
    nc_cancel_waiter *cw = calloc(1, sizeof *cw);
    if (!cw) {
        nc_reply(c, id, json_pack("{s:s, s:s, s:b}", "run_id", q->run_id, "state", "running", "cancelled", 1));
        return;
    }
    cw->c = c;
    cw->id = json_incref(id);
    cw->next = q->waiters;
    q->waiters = cw;
    nc_client_ref(c);
    c->busy = true;   /* answered from run_finish */
}

void nc_op_run_cancel(nc_client *c, json_t *id, json_t *req)
{
    run_cancel(c, id, req, NULL);
}

void nc_run_cancel_as(nc_client *c, json_t *id, json_t *req, const char *invoker)
{
    run_cancel(c, id, req, invoker);
}

/* ---- approval.submit ---- */

typedef struct {
    nc_compile_job job;   /* first: the job is the approval */
    nc_worker *w;
    nc_client *c;
    json_t *id;
    nc_db_approval row;
    nc_statement st;
    uint8_t *module;
    size_t module_len;
} nc_pending_approval;

static void approval_free(nc_pending_approval *p)
{
    nc_statement_cleanup(&p->st);
    free(p->row.statement);
    free(p->row.signature);
    free(p->module);
    json_decref(p->id);
    free(p);
}

/* The module compiled (in a compile child, compile.c): record the approval. */
static void approval_compiled(nc_compile_job *job)
{
    nc_pending_approval *p = (nc_pending_approval *)job;
    nc_worker *w = p->w;
    if (job->err != NC_OK) {
        if (w->stopping)
            nc_reply_error(p->c, p->id, NC_ERR_BUSY,
                           "the worker is stopping: the approval was not recorded; submit the same signed "
                           "statement again once it runs (nightcore approve ID --statement FILE --signature FILE)");
        else
            nc_reply_error(p->c, p->id, job->err, "cannot compile the module: %s", job->msg);
        goto done;
    }
    /* Stored relative to the home's artifact cache: the home may move. */
    const char *art_file = strrchr(job->art.path, '/');
    snprintf(p->row.artifact_path, sizeof p->row.artifact_path, "%s", art_file ? art_file + 1 : job->art.path);
    nc_hex(job->art.sha256, NC_SHA256_LEN, p->row.artifact_sha256);
    p->row.artifact_fuel = job->art.fuel;
    json_t *caps = nc_caps_to_json(&p->st.caps), *limits = nc_limits_to_json(&p->st.limits), *inv = json_array();
    for (size_t i = 0; i < p->st.ninvokers; i++)
        json_array_append_new(inv, json_string(p->st.invokers[i]));
    nc_err err = nc_db_begin(w->db);
    if (err == NC_OK)
        err = nc_db_approval_insert(w->db, &p->row, caps, limits, inv);
    if (err == NC_OK)
        err = nc_db_submission_set_status(w->db, p->row.submission, "approved", NULL);
    if (err == NC_OK)
        err = nc_log(w, "approval", json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s%, s:s%, s:s}",
                                              "approval_id", p->row.id, "submission", p->row.submission, "name",
                                              p->row.name, "module_sha256", p->row.sha256, "approver", p->row.approver,
                                              "key_fingerprint", p->row.key_fingerprint, "policy", p->row.policy,
                                              "policy_version", (json_int_t)p->row.policy_version,
                                              "statement", (const char *)p->row.statement, p->row.statement_len,
                                              "signature", (const char *)p->row.signature, p->row.signature_len,
                                              "artifact_sha256", p->row.artifact_sha256),
                     NULL);
    if (err == NC_OK)
        err = nc_db_commit(w->db);
    json_decref(caps);
    json_decref(limits);
    json_decref(inv);
    json_t *a = NULL;
    if (err == NC_OK)
        err = nc_db_approval_get(w->db, p->row.id, &a);
    if (err != NC_OK) {
        nc_log_abort(w);
        nc_reply_store_error(p->c, p->id, err, "the approval");
        goto done;
    }
    nc_emit(w, "approval.created", json_pack("{s:O}", "approval", a));
    nc_reply(p->c, p->id, a);
done:
    nc_client_done(p->c);
    approval_free(p);
}

void nc_op_approval_submit(nc_client *c, json_t *id, json_t *req)
{
    nc_worker *w = c->w;
    nc_pending_approval *p = calloc(1, sizeof *p);
    nc_trust_store ts;
    nc_verify_output vo;
    nc_statement pre;
    json_t *sub = NULL, *existing = NULL;
    char msg[1024];
    bool have_ts = false, have_vo = false;

    const char *key;
    json_t *v;
    json_object_foreach(req, key, v) {
        if (strcmp(key, "id") && strcmp(key, "op") && strcmp(key, "statement") && strcmp(key, "signature") &&
            strcmp(key, "progress")) {
            nc_reply_error(c, id, NC_ERR_USAGE, "unknown parameter \"%.64s\" for approval.submit", key);
            free(p);
            return;
        }
    }
    if (!p) {
        nc_reply_error(c, id, NC_ERR_NOMEM, "out of memory");
        return;
    }
    json_t *stmt = json_object_get(req, "statement"), *sig = json_object_get(req, "signature");
    if (!json_is_string(stmt) || !json_is_string(sig)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "approval.submit needs statement and signature (strings)");
        goto fail;
    }
    json_t *progress = json_object_get(req, "progress");
    if (progress && !json_is_boolean(progress)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "progress must be true or false");
        goto fail;
    }
    const uint8_t *sbytes = (const uint8_t *)json_string_value(stmt);
    size_t slen = json_string_length(stmt);
    /* Find the module the statement names; the pipeline then checks everything. */
    if (nc_statement_parse(sbytes, slen, &pre, msg, sizeof msg) == NC_OK) {
        char hex[NC_SHA256_HEX_LEN + 1];
        nc_hex(pre.sha256, NC_SHA256_LEN, hex);
        if (nc_blob_get(w->blobs, hex, NC_MAX_MODULE_BYTES, &p->module, &p->module_len) != NC_OK) {
            p->module = NULL;
            p->module_len = 0;
        }
        nc_statement_cleanup(&pre);
    }
    nc_err err = nc_worker_trust_load(w, &ts, msg, sizeof msg);
    if (err != NC_OK) {
        nc_reply_error(c, id, err, "%s", msg);
        goto fail;
    }
    have_ts = true;
    nc_verify_input in = {
        .statement = sbytes, .statement_len = slen, .signature = (const uint8_t *)json_string_value(sig),
        .signature_len = json_string_length(sig), .trust = &ts, .worker_id = w->worker_id, .now = nc_unix_now(),
        .module = p->module ? p->module : (const uint8_t *)"", .module_len = p->module_len, .invoker = NULL,
    };
    err = nc_verify_approval(&in, &vo, msg, sizeof msg);
    if (err != NC_OK) {
        nc_reply_error(c, id, err, "%s", msg);
        goto fail;
    }
    have_vo = true;
    if (nc_db_approval_get(w->db, vo.approval_id, &existing) == NC_OK) {
        nc_reply(c, id, existing);   /* the same signed statement again: idempotent */
        goto fail;
    }
    if (nc_db_submission_get(w->db, vo.statement.submission, false, &sub) != NC_OK) {
        nc_reply_error(c, id, NC_ERR_NOT_FOUND, "the statement names submission %s, which this worker does not have",
                       vo.statement.submission);
        goto fail;
    }
    char hex[NC_SHA256_HEX_LEN + 1];
    nc_hex(vo.statement.sha256, NC_SHA256_LEN, hex);
    if (strcmp(json_string_value(json_object_get(sub, "sha256")), hex) ||
        strcmp(json_string_value(json_object_get(sub, "name")), vo.statement.name) ||
        !strcmp(json_string_value(json_object_get(sub, "status")), "rejected")) {
        nc_reply_error(c, id, NC_ERR_USAGE, "the statement does not match submission %s (name, sha256), or it was rejected",
                       vo.statement.submission);
        goto fail;
    }
    const nc_policy *pol = NULL;
    err = nc_worker_check_statement_policy(w, &vo.statement, vo.key_type, vo.sk_flags, &pol, msg, sizeof msg);
    if (err != NC_OK) {
        nc_reply_error(c, id, err, "%s", msg);
        goto fail;
    }
    nc_tier tier = NC_TIER_PROCESS;   /* the artifact is compiled for the statement's tier */
    if (nc_tier_from_name(vo.statement.isolation[0] ? vo.statement.isolation : "process", &tier) != NC_OK) {
        nc_reply_error(c, id, NC_ERR_STATEMENT, "unknown isolation tier %s", vo.statement.isolation);
        goto fail;
    }
    nc_db_approval *r = &p->row;
    snprintf(r->id, sizeof r->id, "%s", vo.approval_id);
    snprintf(r->submission, sizeof r->submission, "%s", vo.statement.submission);
    snprintf(r->name, sizeof r->name, "%s", vo.statement.name);
    snprintf(r->sha256, sizeof r->sha256, "%s", hex);
    snprintf(r->approver, sizeof r->approver, "%s", vo.statement.approver);
    snprintf(r->key_fingerprint, sizeof r->key_fingerprint, "%s", vo.key_fingerprint);
    snprintf(r->policy, sizeof r->policy, "%s", pol->name);
    r->policy_version = (int64_t)pol->version;
    r->statement = malloc(slen ? slen : 1);
    r->signature = malloc(json_string_length(sig) + 1);
    if (!r->statement || !r->signature) {
        nc_reply_error(c, id, NC_ERR_NOMEM, "out of memory");
        goto fail;
    }
    memcpy(r->statement, sbytes, slen);
    r->statement_len = slen;
    memcpy(r->signature, json_string_value(sig), json_string_length(sig));
    r->signature_len = json_string_length(sig);
    r->max_runs = (int64_t)vo.statement.max_runs;
    r->not_before = (int64_t)vo.statement.not_before;
    r->expires_at = (int64_t)vo.statement.expires_at;
    r->created_at = nc_unix_now();
    p->st = vo.statement;   /* moved */
    memset(&vo.statement, 0, sizeof vo.statement);
    p->w = w;
    p->c = c;
    p->id = json_incref(id);
    nc_client_ref(c);
    c->busy = true;
    /* Compiled in a compile child for the statement's tier, off the loop;
     * answered from approval_compiled. */
    p->job = (nc_compile_job){.c = c, .progress = json_is_true(progress), .module = p->module,
                              .module_len = p->module_len, .fuel = p->st.limits.fuel != 0, .tier = tier,
                              .submission = r->submission, .name = r->name, .sha256 = r->sha256,
                              .done = approval_compiled};
    nc_compile_start(w, &p->job);
    p = NULL;
fail:
    json_decref(sub);
    if (have_vo)
        nc_verify_output_cleanup(&vo);
    if (have_ts)
        nc_trust_cleanup(&ts);
    if (p)
        approval_free(p);
}
