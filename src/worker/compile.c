/* Approvals' compiles, off the loop. The sandbox compiles each module in a
 * compile child (docs/sandbox.md, "Compiling"); here a thread of its own
 * waits for that child, so the thread pool stays free for runs and the
 * database's syncs, and the loop keeps serving every other request. At most
 * NC_WORKER_MAX_COMPILES compile at once (each uses every core); the others
 * wait in order. While a compile waits or runs, approval.progress events
 * (docs/protocol.md) go to the subscribers and to the client that asked for
 * them, once when it is accepted, every NC_WORKER_COMPILE_PROGRESS_MS, and
 * once at its end, all before the reply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "worker/worker.h"

static json_t *progress_fields(const nc_compile_job *j, const char *phase, uint64_t now_ms)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "submission", j->submission, "name", j->name, "sha256",
                     j->sha256, "phase", phase, "elapsed_ms", (json_int_t)(now_ms - j->accepted_ms), "module_bytes",
                     (json_int_t)j->module_len);
}

/* One approval.progress event to the subscribers and, if it asked, the client. */
static void emit(nc_worker *w, nc_compile_job *j, json_t *fields /* stolen */)
{
    if (!fields)
        return;
    if (j->progress && j->c && !j->c->closing)
        nc_send_event(j->c, "approval.progress", json_deep_copy(fields));
    nc_emit(w, "approval.progress", fields);
}

static void *compile_thread(void *arg)
{
    nc_compile_job *j = arg;
    j->err = nc_artifact_compile_ex(j->w->sandbox, j->tier, j->module, j->module_len, j->fuel, j->cancel, &j->art,
                                    &j->report, j->msg, sizeof j->msg);
    __atomic_store_n(&j->finished, 1, __ATOMIC_RELEASE);
    uv_async_send(&j->w->compile_async);
    return NULL;
}

/* A job that ends without a compile (it could not start, or the worker stops
 * before its turn): reported through the same path as a finished one. */
static void fail_early(nc_worker *w, nc_compile_job *j, nc_err err, const char *why)
{
    j->err = err;
    snprintf(j->msg, sizeof j->msg, "%s", why);
    __atomic_store_n(&j->finished, 1, __ATOMIC_RELEASE);
    uv_async_send(&w->compile_async);
}

/* Starts queued compiles while there is room. */
static void pump(nc_worker *w)
{
    for (nc_compile_job *j = w->compile_head; j && w->compiles_running < NC_WORKER_MAX_COMPILES; j = j->next) {
        if (j->running || __atomic_load_n(&j->finished, __ATOMIC_ACQUIRE))
            continue;
        j->running = true;
        w->compiles_running++;
        if (nc_run_cancel_new(&j->cancel) != NC_OK) {
            fail_early(w, j, NC_ERR_NOMEM, "out of memory");
            continue;
        }
        if (pthread_create(&j->thread, NULL, compile_thread, j) != 0) {
            fail_early(w, j, NC_ERR_INTERNAL, "cannot start a thread to wait for the compile child");
            continue;
        }
        j->thread_started = true;
        emit(w, j, progress_fields(j, "compiling", uv_now(w->loop)));
    }
}

static void unlink_job(nc_worker *w, nc_compile_job *j)
{
    nc_compile_job **pp = &w->compile_head, *prev = NULL;
    while (*pp && *pp != j) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = j->next;
    if (w->compile_tail == j)
        w->compile_tail = prev;
    j->next = NULL;
}

/* The end of a compile, on the loop: the last event, then the caller's done. */
static void finish(nc_worker *w, nc_compile_job *j)
{
    if (j->thread_started)
        pthread_join(j->thread, NULL);
    if (j->running)
        w->compiles_running--;
    nc_run_cancel_free(j->cancel);
    j->cancel = NULL;
    json_t *f = progress_fields(j, j->err == NC_OK ? "compiled" : "failed", uv_now(w->loop));
    if (f && j->err == NC_OK) {
        json_object_set_new(f, "artifact_bytes", json_integer((json_int_t)j->report.artifact_bytes));
        json_object_set_new(f, "compile_ms", json_integer((json_int_t)(j->report.t_compile_ns / 1000000)));
    } else if (f) {
        json_object_set_new(f, "error", json_pack("{s:s, s:s}", "code", nc_errcode(j->err), "message", j->msg));
    }
    emit(w, j, f);
    w->compiling--;
    j->done(j);   /* may free j */
}

static void on_compile_async(uv_async_t *a)
{
    nc_worker *w = a->data;
    for (;;) {
        nc_compile_job *j = w->compile_head;
        while (j && !__atomic_load_n(&j->finished, __ATOMIC_ACQUIRE))
            j = j->next;
        if (!j)
            break;
        unlink_job(w, j);
        finish(w, j);
    }
    pump(w);
    if (!w->compile_head)
        uv_timer_stop(&w->compile_timer);
    nc_worker_maybe_stop(w);
}

static void on_compile_timer(uv_timer_t *t)
{
    nc_worker *w = t->data;
    uint64_t now = uv_now(w->loop);
    for (nc_compile_job *j = w->compile_head; j; j = j->next)
        if (!__atomic_load_n(&j->finished, __ATOMIC_ACQUIRE))
            emit(w, j, progress_fields(j, j->running ? "compiling" : "queued", now));
}

nc_err nc_compiles_init(nc_worker *w)
{
    if (uv_async_init(w->loop, &w->compile_async, on_compile_async) != 0 ||
        uv_timer_init(w->loop, &w->compile_timer) != 0)
        return NC_ERR_INTERNAL;
    w->compile_async.data = w;
    w->compile_timer.data = w;
    uv_unref((uv_handle_t *)&w->compile_async);
    uv_unref((uv_handle_t *)&w->compile_timer);
    return NC_OK;
}

void nc_compile_start(nc_worker *w, nc_compile_job *j)
{
    j->w = w;
    j->next = NULL;
    j->running = j->thread_started = false;
    j->finished = 0;
    j->cancel = NULL;
    j->accepted_ms = uv_now(w->loop);
    if (w->compile_tail)
        w->compile_tail->next = j;
    else
        w->compile_head = j;
    w->compile_tail = j;
    w->compiling++;
    if (!uv_is_active((uv_handle_t *)&w->compile_timer))
        uv_timer_start(&w->compile_timer, on_compile_timer, NC_WORKER_COMPILE_PROGRESS_MS,
                       NC_WORKER_COMPILE_PROGRESS_MS);
    bool room = w->compiles_running < NC_WORKER_MAX_COMPILES;
    if (!room)
        emit(w, j, progress_fields(j, "queued", j->accepted_ms));
    pump(w);
}

void nc_compiles_stop(nc_worker *w)
{
    for (nc_compile_job *j = w->compile_head; j; j = j->next) {
        if (__atomic_load_n(&j->finished, __ATOMIC_ACQUIRE))
            continue;
        if (j->running)
            nc_run_cancel_fire(j->cancel);   /* the thread returns once the child is killed */
        else
            fail_early(w, j, NC_ERR_BUSY, "the worker is stopping");
    }
}

json_t *nc_compiles_status(const nc_worker *w)
{
    unsigned queued = 0;
    for (const nc_compile_job *j = w->compile_head; j; j = j->next)
        if (!j->running)
            queued++;
    return json_pack("{s:i, s:i, s:i}", "running", (int)w->compiles_running, "queued", (int)queued, "limit",
                     (int)NC_WORKER_MAX_COMPILES);
}
