/* The engine path: compile, load an artifact, instantiate with our WASI,
 * run _start under the resource envelope, classify what happened. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <wasmtime.h>
#include "sandbox/internal.h"

#define WASMTIME_VERSION_STR "wasmtime-c-api-48.0.8"

uint64_t nc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void nc_engine_fingerprint(bool fuel, char out[65])
{
    char text[256];
    uint8_t h[NC_SHA256_LEN];
    int n = snprintf(text, sizeof text, "%s;%s;fuel=%d;epoch=1;opt=speed;cow=0", WASMTIME_VERSION_STR,
#if defined(__x86_64__)
                     "x86_64-linux",
#elif defined(__aarch64__)
                     "aarch64-linux",
#else
                     "other-linux",
#endif
                     fuel ? 1 : 0);
    if (n < 0 || nc_sha256(text, (size_t)n, h) != NC_OK)
        memset(h, 0, sizeof h);
    nc_hex(h, sizeof h, out);
}

static void copy_msg(char *msg, size_t msg_len, const char *prefix, const char *text, size_t text_len)
{
    if (!msg || !msg_len)
        return;
    int n = snprintf(msg, msg_len, "%s%.*s", prefix, (int)(text_len > 400 ? 400 : text_len), text);
    (void)n;
}

static void error_msg(wasmtime_error_t *e, char *msg, size_t msg_len, const char *prefix)
{
    wasm_name_t m;
    wasmtime_error_message(e, &m);
    copy_msg(msg, msg_len, prefix, m.data, m.size);
    wasm_byte_vec_delete(&m);
}

/* ---- linear memory under our control: we see every growth request ---- */

typedef struct {
    uint64_t limit;          /* bytes per memory */
    uint64_t peak;           /* largest size any memory reached */
    bool limit_hit;
} nc_memctx;

typedef struct {
    nc_memctx *ctx;
    uint8_t *base;
    size_t size, capacity, mapping;
} nc_linear_memory;

static uint8_t *mem_get(void *env, size_t *byte_size, size_t *byte_capacity)
{
    nc_linear_memory *m = env;
    *byte_size = m->size;
    *byte_capacity = m->capacity;
    return m->base;
}

static wasmtime_error_t *mem_grow(void *env, size_t new_size)
{
    nc_linear_memory *m = env;
    if (new_size > m->ctx->limit) {
        m->ctx->limit_hit = true;
        return wasmtime_error_new("nightcore: linear memory limit reached");
    }
    if (new_size > m->capacity)
        return wasmtime_error_new("nightcore: linear memory reservation exhausted");
    if (new_size > m->size) {
        if (mprotect(m->base + m->size, new_size - m->size, PROT_READ | PROT_WRITE) != 0)
            return wasmtime_error_new("nightcore: cannot commit linear memory");
        m->size = new_size;
        if (new_size > m->ctx->peak)
            m->ctx->peak = new_size;
    }
    return NULL;
}

static void mem_free(void *env)
{
    nc_linear_memory *m = env;
    if (m->base)
        munmap(m->base, m->mapping);
    free(m);
}

static size_t page_round(size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    return n > SIZE_MAX - pg ? SIZE_MAX : (n + pg - 1) / pg * pg;
}

static wasmtime_error_t *mem_new(void *env, const wasm_memorytype_t *ty, size_t minimum,
                                 size_t maximum, size_t reserved, size_t guard,
                                 wasmtime_linear_memory_t *ret)
{
    nc_memctx *ctx = env;
    (void)ty;
    if (minimum > ctx->limit) {
        ctx->limit_hit = true;
        return wasmtime_error_new("nightcore: module's initial linear memory exceeds the limit");
    }
    nc_linear_memory *m = calloc(1, sizeof *m);
    if (!m)
        return wasmtime_error_new("nightcore: out of memory");
    m->ctx = ctx;
    /* Never move: reserve what the compiled code assumes (reserved) or, for
     * dynamic memories, up to the limit. */
    size_t cap = reserved ? reserved : page_round((size_t)(maximum < ctx->limit ? maximum : ctx->limit));
    if (cap < minimum)
        cap = page_round(minimum);
    m->capacity = cap;
    if (guard > SIZE_MAX - cap) {
        free(m);
        return wasmtime_error_new("nightcore: memory reservation too large");
    }
    m->mapping = cap + guard;
    void *p = m->mapping ? mmap(NULL, m->mapping, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
                         : NULL;
    if (m->mapping && p == MAP_FAILED) {
        free(m);
        return wasmtime_error_new("nightcore: cannot reserve linear memory");
    }
    m->base = p;
    if (minimum && mprotect(m->base, minimum, PROT_READ | PROT_WRITE) != 0) {
        mem_free(m);
        return wasmtime_error_new("nightcore: cannot commit linear memory");
    }
    m->size = minimum;
    if (minimum > ctx->peak)
        ctx->peak = minimum;
    ret->env = m;
    ret->get_memory = mem_get;
    ret->grow_memory = mem_grow;
    ret->finalizer = mem_free;
    return NULL;
}

static wasm_engine_t *engine_new(bool fuel, uint32_t stack_bytes, nc_memctx *mc)
{
    wasm_config_t *config = wasm_config_new();
    if (!config)
        return NULL;
    wasmtime_config_epoch_interruption_set(config, true);
    wasmtime_config_consume_fuel_set(config, fuel);
    wasmtime_config_cranelift_opt_level_set(config, WASMTIME_OPT_LEVEL_SPEED);
    /* Linear memories come from our memory creator, which copy-on-write images
     * cannot use; data segments are copied at instantiation instead. */
    wasmtime_config_memory_init_cow_set(config, false);
    if (stack_bytes)
        wasmtime_config_max_wasm_stack_set(config, stack_bytes);
    if (mc) {
        wasmtime_memory_creator_t creator = {.env = mc, .new_memory = mem_new, .finalizer = NULL};
        wasmtime_config_host_memory_creator_set(config, &creator);
    }
    return wasm_engine_new_with_config(config);   /* takes config */
}

nc_err nc_exec_compile(const uint8_t *wasm, size_t len, bool fuel, uint8_t **artifact,
                       size_t *artifact_len, char *msg, size_t msg_len)
{
    wasm_engine_t *engine = NULL;
    wasmtime_module_t *module = NULL;
    wasmtime_error_t *werr = NULL;
    wasm_byte_vec_t ser = {0, NULL};
    nc_err err = NC_ERR_INTERNAL;

    *artifact = NULL;
    *artifact_len = 0;
    if (len > NC_MAX_MODULE_BYTES) {
        copy_msg(msg, msg_len, "module larger than the size cap", "", 0);
        return NC_ERR_TOO_LARGE;
    }
    engine = engine_new(fuel, 0, NULL);
    if (!engine)
        goto done;
    werr = wasmtime_module_new(engine, wasm, len, &module);
    if (werr) {
        error_msg(werr, msg, msg_len, "invalid module: ");
        err = NC_ERR_INVALID_MODULE;
        goto done;
    }
    werr = wasmtime_module_serialize(module, &ser);
    if (werr) {
        error_msg(werr, msg, msg_len, "cannot serialize module: ");
        goto done;
    }
    *artifact = malloc(ser.size ? ser.size : 1);
    if (!*artifact) {
        err = NC_ERR_NOMEM;
        goto done;
    }
    memcpy(*artifact, ser.data, ser.size);
    *artifact_len = ser.size;
    err = NC_OK;
done:
    if (werr)
        wasmtime_error_delete(werr);
    if (ser.data)
        wasm_byte_vec_delete(&ser);
    if (module)
        wasmtime_module_delete(module);
    if (engine)
        wasm_engine_delete(engine);
    return err;
}

nc_err nc_module_validate(const uint8_t *wasm, size_t len, char *msg, size_t msg_len)
{
    if (len > NC_MAX_MODULE_BYTES) {
        copy_msg(msg, msg_len, "module larger than the size cap", "", 0);
        return NC_ERR_TOO_LARGE;
    }
    wasm_engine_t *engine = engine_new(false, 0, NULL);
    if (!engine)
        return NC_ERR_INTERNAL;
    wasmtime_error_t *werr = wasmtime_module_validate(engine, wasm, len);
    nc_err err = NC_OK;
    if (werr) {
        error_msg(werr, msg, msg_len, "invalid module: ");
        wasmtime_error_delete(werr);
        err = NC_ERR_INVALID_MODULE;
    }
    wasm_engine_delete(engine);
    return err;
}

/* ---- deadline: bump the engine epoch once the wall-clock budget is spent ---- */

static const wasm_engine_t *volatile alarm_engine;

static void on_alarm(int sig)
{
    (void)sig;
    const wasm_engine_t *e = alarm_engine;
    if (e)
        wasmtime_engine_increment_epoch(e);
}

typedef struct {
    nc_timer_kind kind;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    struct timespec deadline;
    const wasm_engine_t *engine;
    pthread_t runner;   /* interrupted at the deadline so a sleeping host call returns */
} nc_deadline;

static void *watchdog(void *arg)
{
    nc_deadline *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        if (pthread_cond_timedwait(&d->cv, &d->mu, &d->deadline) == ETIMEDOUT) {
            wasmtime_engine_increment_epoch(d->engine);
            pthread_kill(d->runner, SIGALRM);
            break;
        }
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

static nc_err deadline_start(nc_deadline *d, nc_timer_kind kind, const wasm_engine_t *engine,
                             uint32_t timeout_ms)
{
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->engine = engine;
    if (kind == NC_TIMER_SIGNAL) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;   /* no SA_RESTART: a sleeping host call returns */
        sigemptyset(&sa.sa_mask);
        alarm_engine = engine;
        if (sigaction(SIGALRM, &sa, NULL) != 0)
            return NC_ERR_INTERNAL;
        struct itimerval it = {{0, 0}, {timeout_ms / 1000, (timeout_ms % 1000) * 1000}};
        if (setitimer(ITIMER_REAL, &it, NULL) != 0)
            return NC_ERR_INTERNAL;
        return NC_OK;
    }
    /* The watchdog interrupts the running thread with SIGALRM (handler without
     * SA_RESTART, no engine set: it only makes a blocking call return). */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) != 0)
        return NC_ERR_INTERNAL;
    d->runner = pthread_self();
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&d->mu, NULL);
    clock_gettime(CLOCK_MONOTONIC, &d->deadline);
    d->deadline.tv_sec += timeout_ms / 1000;
    d->deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (d->deadline.tv_nsec >= 1000000000L) {
        d->deadline.tv_sec++;
        d->deadline.tv_nsec -= 1000000000L;
    }
    if (pthread_create(&d->thread, NULL, watchdog, d) != 0)
        return NC_ERR_INTERNAL;
    d->thread_started = true;
    return NC_OK;
}

static void deadline_stop(nc_deadline *d)
{
    if (d->kind == NC_TIMER_SIGNAL) {
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
        alarm_engine = NULL;
        return;
    }
    if (!d->thread_started)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
}

/* ---- classification ---- */

static const char *trap_kind_name(wasmtime_trap_code_t code)
{
    switch (code) {
    case WASMTIME_TRAP_CODE_STACK_OVERFLOW: return "stack_overflow";
    case WASMTIME_TRAP_CODE_MEMORY_OUT_OF_BOUNDS: return "memory_out_of_bounds";
    case WASMTIME_TRAP_CODE_HEAP_MISALIGNED: return "heap_misaligned";
    case WASMTIME_TRAP_CODE_TABLE_OUT_OF_BOUNDS: return "table_out_of_bounds";
    case WASMTIME_TRAP_CODE_INDIRECT_CALL_TO_NULL: return "indirect_call_to_null";
    case WASMTIME_TRAP_CODE_BAD_SIGNATURE: return "bad_signature";
    case WASMTIME_TRAP_CODE_INTEGER_OVERFLOW: return "integer_overflow";
    case WASMTIME_TRAP_CODE_INTEGER_DIVISION_BY_ZERO: return "integer_division_by_zero";
    case WASMTIME_TRAP_CODE_BAD_CONVERSION_TO_INTEGER: return "bad_conversion_to_integer";
    case WASMTIME_TRAP_CODE_UNREACHABLE_CODE_REACHED: return "unreachable";
    case WASMTIME_TRAP_CODE_INTERRUPT: return "interrupt";
    case WASMTIME_TRAP_CODE_OUT_OF_FUEL: return "out_of_fuel";
    case WASMTIME_TRAP_CODE_ALLOCATION_TOO_LARGE: return "allocation_too_large";
    default: return "other";
    }
}

static void set_kind(nc_run_result *res, const char *kind)
{
    snprintf(res->trap_kind, sizeof res->trap_kind, "%s", kind);
}

/* A trap or error ended the call: decide the outcome. The WASI host's own
 * stop reasons win: they are why the trap was raised. */
static void classify_stop(nc_run_result *res, const nc_wasi *w, const nc_memctx *mc,
                          wasm_trap_t *trap, wasmtime_error_t *werr)
{
    if (w->stop == NC_WASI_STOP_EXIT) {
        res->exit_code = w->exit_code;
        res->outcome = w->exit_code == 0 ? NC_OUTCOME_OK : NC_OUTCOME_EXIT;
        return;
    }
    if (w->stop == NC_WASI_STOP_OUTPUT_LIMIT) {
        res->outcome = NC_OUTCOME_OUTPUT_LIMIT;
        res->limits_hit |= w->out.truncated ? NC_LIMIT(NC_LIMIT_STDOUT) : 0;
        res->limits_hit |= w->err.truncated ? NC_LIMIT(NC_LIMIT_STDERR) : 0;
        snprintf(res->message, sizeof res->message, "output exceeded its cap; stopped");
        return;
    }
    if (w->stop == NC_WASI_STOP_DEADLINE) {
        res->outcome = NC_OUTCOME_TIMEOUT;
        res->limits_hit |= NC_LIMIT(NC_LIMIT_TIMEOUT);
        snprintf(res->message, sizeof res->message, "deadline reached while the module waited in a host call");
        return;
    }
    if (w->stop == NC_WASI_STOP_FAULT) {
        res->outcome = NC_OUTCOME_TRAP;
        set_kind(res, "bad_pointer");
        snprintf(res->message, sizeof res->message,
                 "module passed %s a pointer outside its memory, or misaligned; stopped",
                 nc_wasi_fn_name(w->stop_fn));
        return;
    }
    if (w->stop == NC_WASI_STOP_RAISE) {
        res->outcome = NC_OUTCOME_TRAP;
        set_kind(res, "proc_raise");
        snprintf(res->message, sizeof res->message, "module called proc_raise; stopped");
        return;
    }
    wasm_name_t m = {0, NULL};
    wasmtime_trap_code_t code;
    if (trap) {
        wasm_trap_message(trap, &m);
        if (wasmtime_trap_code(trap, &code)) {
            if (code == WASMTIME_TRAP_CODE_INTERRUPT) {
                res->outcome = NC_OUTCOME_TIMEOUT;
                res->limits_hit |= NC_LIMIT(NC_LIMIT_TIMEOUT);
            } else if (code == WASMTIME_TRAP_CODE_OUT_OF_FUEL) {
                res->outcome = NC_OUTCOME_FUEL;
                res->limits_hit |= NC_LIMIT(NC_LIMIT_FUEL);
            } else {
                res->outcome = NC_OUTCOME_TRAP;
                if (code == WASMTIME_TRAP_CODE_STACK_OVERFLOW)
                    res->limits_hit |= NC_LIMIT(NC_LIMIT_STACK);
            }
            set_kind(res, trap_kind_name(code));
        } else {
            res->outcome = NC_OUTCOME_TRAP;
            set_kind(res, "host");
        }
    } else {
        wasmtime_error_message(werr, &m);
        res->outcome = mc->limit_hit ? NC_OUTCOME_MEMORY : NC_OUTCOME_TRAP;
        set_kind(res, mc->limit_hit ? "memory_limit" : "error");
    }
    snprintf(res->message, sizeof res->message, "%.*s", (int)(m.size > 400 ? 400 : m.size),
             m.data ? m.data : "");
    if (m.data)
        wasm_byte_vec_delete(&m);
}

/* Instantiation failed: a limit of the envelope, or a module we cannot run. */
static nc_err classify_instantiate(nc_run_result *res, const nc_wasi *w, const nc_memctx *mc,
                                   wasm_trap_t *trap, wasmtime_error_t *werr, char *msg,
                                   size_t msg_len)
{
    if (trap) {   /* the start function ran and trapped */
        classify_stop(res, w, mc, trap, NULL);
        return NC_OK;
    }
    wasm_name_t m;
    wasmtime_error_message(werr, &m);
    const char *text = m.data ? m.data : "";
    size_t n = m.size;
    nc_err err = NC_OK;
    uint32_t hit = 0;
    if (mc->limit_hit)
        hit = NC_LIMIT(NC_LIMIT_MEMORY);
    else if (memmem(text, n, "table minimum size", 18) || memmem(text, n, "table elements", 14))
        hit = NC_LIMIT(NC_LIMIT_TABLE_ELEMENTS);
    else if (memmem(text, n, "instance count", 14))
        hit = NC_LIMIT(NC_LIMIT_INSTANCES);
    else if (memmem(text, n, "table count", 11))
        hit = NC_LIMIT(NC_LIMIT_TABLES);
    else if (memmem(text, n, "memory count", 12))
        hit = NC_LIMIT(NC_LIMIT_MEMORIES);
    if (hit) {
        res->outcome = NC_OUTCOME_MEMORY;
        res->limits_hit |= hit;
        set_kind(res, "resource_limit");
        snprintf(res->message, sizeof res->message, "%.*s", (int)(n > 400 ? 400 : n), text);
    } else if (memmem(text, n, "unknown import", 14) || memmem(text, n, "incompatible import", 19)) {
        copy_msg(msg, msg_len, "", text, n);
        err = NC_ERR_UNSUPPORTED_IMPORT;
    } else {
        copy_msg(msg, msg_len, "cannot instantiate: ", text, n);
        err = NC_ERR_INVALID_MODULE;
    }
    wasm_byte_vec_delete(&m);
    return err;
}

nc_err nc_exec_run(const uint8_t *artifact, size_t artifact_len, bool fuel, const nc_run_spec *spec,
                   const int *dir_fds, nc_timer_kind timer, nc_run_result *res, char *msg,
                   size_t msg_len)
{
    nc_memctx mc = {.limit = spec->limits.memory_bytes};
    wasm_engine_t *engine = NULL;
    wasmtime_module_t *module = NULL;
    wasmtime_store_t *store = NULL;
    wasmtime_linker_t *linker = NULL;
    wasmtime_error_t *werr = NULL;
    wasm_trap_t *trap = NULL;
    nc_wasi *w = NULL;
    nc_wasi_preopen pre[NC_MAX_DIRS];
    nc_deadline dl;
    bool dl_started = false;
    nc_err err = NC_ERR_INTERNAL;
    uint64_t t0 = nc_now_ns(), t1, t2;

    if (spec->ndirs > NC_MAX_DIRS)
        return NC_ERR_USAGE;
    engine = engine_new(fuel, spec->limits.stack_bytes, &mc);
    if (!engine) {
        copy_msg(msg, msg_len, "cannot create the engine", "", 0);
        goto done;
    }
    werr = wasmtime_module_deserialize(engine, artifact, artifact_len, &module);
    if (werr) {
        error_msg(werr, msg, msg_len, "cannot load artifact: ");
        err = NC_ERR_ARTIFACT;
        goto done;
    }
    t1 = nc_now_ns();
    res->t_load_ns = t1 - t0;

    for (size_t i = 0; i < spec->ndirs; i++) {
        pre[i].host_fd = dir_fds[i];
        pre[i].guest_path = spec->dirs[i].guest;
        pre[i].readonly = spec->dirs[i].readonly;
        pre[i].quota_bytes = spec->dirs[i].quota_bytes;
        pre[i].quota_files = spec->dirs[i].quota_files;
    }
    nc_wasi_config wc = {
        .args = spec->args, .nargs = spec->nargs, .env = spec->env, .nenv = spec->nenv,
        .stdin_data = spec->stdin_data, .stdin_len = spec->stdin_len,
        .stdout_cap = spec->limits.stdout_bytes, .stderr_cap = spec->limits.stderr_bytes,
        .preopens = pre, .npreopens = spec->ndirs,
        .deadline_ns = nc_now_ns() + (uint64_t)spec->limits.timeout_ms * 1000000ull,
    };
    err = nc_wasi_new(&wc, &w);
    if (err != NC_OK)
        goto done;
    err = NC_ERR_INTERNAL;

    store = wasmtime_store_new(engine, NULL, NULL);
    if (!store)
        goto done;
    wasmtime_context_t *ctx = wasmtime_store_context(store);
    /* Memory size is enforced by our memory creator (so we see the refusal). */
    wasmtime_store_limiter(store, -1, spec->limits.table_elements, spec->limits.instances,
                           spec->limits.tables, spec->limits.memories);
    if (fuel) {
        werr = wasmtime_context_set_fuel(ctx, spec->limits.fuel ? spec->limits.fuel : UINT64_MAX);
        if (werr)
            goto done;
    }
    wasmtime_context_set_epoch_deadline(ctx, 1);
    linker = wasmtime_linker_new(engine);
    if (!linker)
        goto done;
    err = nc_wasi_define(w, linker);
    if (err != NC_OK)
        goto done;
    err = NC_ERR_INTERNAL;

    if (deadline_start(&dl, timer, engine, spec->limits.timeout_ms) != NC_OK) {
        copy_msg(msg, msg_len, "cannot arm the deadline timer", "", 0);
        goto done;
    }
    dl_started = true;

    wasmtime_instance_t instance;
    werr = wasmtime_linker_instantiate(linker, ctx, module, &instance, &trap);
    t2 = nc_now_ns();
    res->t_instantiate_ns = t2 - t1;
    if (werr || trap) {
        err = classify_instantiate(res, w, &mc, trap, werr, msg, msg_len);
        goto collect;
    }
    wasmtime_extern_t start;
    if (!wasmtime_instance_export_get(ctx, &instance, "_start", 6, &start) ||
        start.kind != WASMTIME_EXTERN_FUNC) {
        copy_msg(msg, msg_len, "the module exports no _start function (only WASI commands can run)", "", 0);
        err = NC_ERR_NO_ENTRY;
        goto collect;
    }
    werr = wasmtime_func_call(ctx, &start.of.func, NULL, 0, NULL, 0, &trap);
    res->t_execute_ns = nc_now_ns() - t2;
    if (werr || trap)
        classify_stop(res, w, &mc, trap, werr);
    else
        res->outcome = NC_OUTCOME_OK;
    err = NC_OK;

collect:
    deadline_stop(&dl);
    dl_started = false;
    if (mc.limit_hit) {
        res->limits_hit |= NC_LIMIT(NC_LIMIT_MEMORY);
        /* A refused grow followed by a trap (an allocator aborting) is the
         * memory limit's doing; a module that coped keeps its outcome. */
        if (res->outcome == NC_OUTCOME_TRAP)
            res->outcome = NC_OUTCOME_MEMORY;
    }
    if (fuel) {
        uint64_t left = 0;
        wasmtime_error_t *fe = wasmtime_context_get_fuel(ctx, &left);
        if (fe)
            wasmtime_error_delete(fe);
        else
            res->fuel_used = (spec->limits.fuel ? spec->limits.fuel : UINT64_MAX) - left;
    }
    if (w->quota_hit)
        res->limits_hit |= NC_LIMIT(NC_LIMIT_DIR_QUOTA);
    res->peak_memory_bytes = mc.peak;
    memcpy(res->calls, w->calls, sizeof res->calls);
    res->denied_total = w->denied_total;
    res->ndenied = w->ndenied;
    memcpy(res->denied, w->denied, sizeof res->denied);
    res->out_truncated = w->out.truncated;
    res->err_truncated = w->err.truncated;
    res->out = nc_buf_steal(&w->out, &res->out_len);
    res->err = nc_buf_steal(&w->err, &res->err_len);
done:
    if (dl_started)
        deadline_stop(&dl);
    if (werr)
        wasmtime_error_delete(werr);
    if (trap)
        wasm_trap_delete(trap);
    if (linker)
        wasmtime_linker_delete(linker);
    if (store)
        wasmtime_store_delete(store);
    nc_wasi_free(w);
    if (module)
        wasmtime_module_delete(module);
    if (engine)
        wasm_engine_delete(engine);
    res->t_total_ns = nc_now_ns() - t0;
    return err;
}
