/* The engine path: compile, load an artifact, instantiate with our WASI,
 * run _start under the resource envelope, classify what happened.
 *
 * Engine settings, and why (measured in bench/README.md, "Real programs"):
 *   - no epoch interruption: its checks on every loop back-edge and function
 *     entry cost 5-19% on real programs. The deadline is a signal instead
 *     (below): it stops the guest wherever it is and reports the run.
 *   - copy-on-write memory images (Wasmtime's default): without them every
 *     data segment becomes code in one start-up function, which for a Go
 *     program is megabytes of machine code, most of its compile time and a
 *     third of its artifact. Linear memories therefore come from Wasmtime's
 *     own allocator; the resource limiter (nightcore_engine.h) enforces and
 *     observes their size.
 *   - signals-based traps (the default on Linux): bounds checks are elided
 *     behind guard regions, and Wasmtime's own SIGSEGV/SIGBUS handlers turn a
 *     fault in wasm code into a trap. We install no handler for those. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <nightcore_engine.h>
#include <wasmtime.h>
#include "sandbox/internal.h"
#include "sandbox/vm_host.h"

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
    int n = snprintf(text, sizeof text, "%s;%s;fuel=%d;epoch=0;opt=speed;cow=1;sbt=1", WASMTIME_VERSION_STR,
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

static wasm_config_t *config_new(bool fuel, uint32_t stack_bytes)
{
    wasm_config_t *config = wasm_config_new();
    if (!config)
        return NULL;
    wasmtime_config_epoch_interruption_set(config, false);
    wasmtime_config_consume_fuel_set(config, fuel);
    wasmtime_config_cranelift_opt_level_set(config, WASMTIME_OPT_LEVEL_SPEED);
    wasmtime_config_memory_init_cow_set(config, true);
    wasmtime_config_signals_based_traps_set(config, true);
    wasmtime_config_parallel_compilation_set(config, true);   /* compiling only */
    if (stack_bytes)
        wasmtime_config_max_wasm_stack_set(config, stack_bytes);
    return config;
}

static wasm_engine_t *engine_new(bool fuel, uint32_t stack_bytes)
{
    wasm_config_t *config = config_new(fuel, stack_bytes);
    return config ? wasm_engine_new_with_config(config) : NULL;   /* takes config */
}

/* The engine's message on one printable line: wasmtime's errors carry their
 * causes on further lines ("Caused by:"), and the reason goes into a reply:
 * "failed to parse\n\nCaused by:\n    bad magic" -> "failed to parse: bad magic". */
static void one_line(char *msg, size_t msg_len)
{
    char out[NC_COMPILE_MAX_MESSAGE + 1];
    size_t w = 0;
    int gap = 0;   /* before the next word: 0 nothing, 1 a space, 2 a line break */
    for (size_t r = 0; msg[r] && w + 3 < sizeof out;) {
        unsigned char ch = (unsigned char)msg[r];
        if (ch == '\n' || ch < 0x20 || ch > 0x7e || ch == ' ') {
            gap = ch == '\n' ? 2 : gap ? gap : 1;
            r++;
            continue;
        }
        if (gap == 2 && strncmp(msg + r, "Caused by:", 10) == 0) {
            r += 10;
            continue;
        }
        if (gap && w) {
            if (gap == 2 && out[w - 1] != ':')
                out[w++] = ':';
            out[w++] = ' ';
        }
        gap = 0;
        out[w++] = (char)ch;
        r++;
    }
    out[w] = '\0';
    snprintf(msg, msg_len, "%s", out);
}

struct nc_compiler {
    wasm_engine_t *engine;
    wasm_byte_vec_t artifact;
};

nc_err nc_compiler_new(bool fuel, nc_compile_target target, nc_compiler **out)
{
    *out = NULL;
    nc_compiler *c = calloc(1, sizeof *c);
    if (!c)
        return NC_ERR_NOMEM;
    wasm_config_t *config = config_new(fuel, 0);
    if (config && target == NC_COMPILE_TARGET_VM && !nc_vm_config_target(config)) {
        wasm_config_delete(config);
        config = NULL;
    }
    c->engine = config ? wasm_engine_new_with_config(config) : NULL;   /* takes config */
    if (!c->engine) {
        free(c);
        return NC_ERR_INTERNAL;
    }
    *out = c;
    return NC_OK;
}

void nc_compiler_free(nc_compiler *c)
{
    if (!c)
        return;
    if (c->artifact.data)
        wasm_byte_vec_delete(&c->artifact);
    wasm_engine_delete(c->engine);
    free(c);
}

nc_err nc_compiler_run(nc_compiler *c, const uint8_t *wasm, size_t len, const uint8_t **artifact,
                       size_t *artifact_len, char *msg, size_t msg_len)
{
    *artifact = NULL;
    *artifact_len = 0;
    if (len > NC_MAX_MODULE_BYTES) {
        copy_msg(msg, msg_len, "module larger than the size cap", "", 0);
        return NC_ERR_TOO_LARGE;
    }
    if (c->artifact.data)
        wasm_byte_vec_delete(&c->artifact);
    c->artifact = (wasm_byte_vec_t){0, NULL};
    /* As `wasmtime compile`: the code is generated and serialized, never
     * mapped executable in this process. */
    wasmtime_error_t *werr = nightcore_precompile_module(c->engine, wasm, len, &c->artifact);
    if (werr) {
        error_msg(werr, msg, msg_len, "invalid module: ");
        wasmtime_error_delete(werr);
        if (msg && msg_len)
            one_line(msg, msg_len);
        return NC_ERR_INVALID_MODULE;
    }
    if (!c->artifact.data || c->artifact.size == 0 || c->artifact.size > NC_MAX_ARTIFACT_BYTES) {
        copy_msg(msg, msg_len, "the engine produced no artifact, or one past the size cap", "", 0);
        return NC_ERR_INTERNAL;
    }
    *artifact = (const uint8_t *)c->artifact.data;
    *artifact_len = c->artifact.size;
    return NC_OK;
}

nc_err nc_exec_compile(const uint8_t *wasm, size_t len, bool fuel, nc_compile_target target, uint8_t **artifact,
                       size_t *artifact_len, char *msg, size_t msg_len)
{
    nc_compiler *c = NULL;
    const uint8_t *bytes;
    size_t n;

    *artifact = NULL;
    *artifact_len = 0;
    nc_err err = nc_compiler_new(fuel, target, &c);
    if (err == NC_OK)
        err = nc_compiler_run(c, wasm, len, &bytes, &n, msg, msg_len);
    if (err == NC_OK) {
        *artifact = malloc(n);
        if (*artifact) {
            memcpy(*artifact, bytes, n);
            *artifact_len = n;
        } else {
            err = NC_ERR_NOMEM;
        }
    }
    nc_compiler_free(c);
#ifdef __GLIBC__
    /* Hand the compiler's freed memory back: compiling gofmt otherwise leaves
     * about 100 MB in malloc's per-thread arenas of a long-lived process. */
    malloc_trim(0);
#endif
    return err;
}

nc_err nc_module_validate(const uint8_t *wasm, size_t len, char *msg, size_t msg_len)
{
    if (len > NC_MAX_MODULE_BYTES) {
        copy_msg(msg, msg_len, "module larger than the size cap", "", 0);
        return NC_ERR_TOO_LARGE;
    }
    wasm_engine_t *engine = engine_new(false, 0);
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

/* ---- deadline: a signal stops the guest wherever it is ----
 *
 * Compiled code has no interruption checks (see the top of this file). When
 * the wall-clock budget is spent, SIGALRM arrives on the thread running the
 * guest (ITIMER_REAL in the single-threaded sandbox child, pthread_kill from a
 * watchdog in the in-process tier). Its handler:
 *   - in a host call: marks the deadline; the call stops the guest when it
 *     returns (a sleeping call is woken: the handler has no SA_RESTART);
 *   - anywhere else while the guest may run (wasm code, the engine's own
 *     code, between our calls into the engine): everything the run observed
 *     is consistent, so it builds the timeout result from it, without
 *     allocating, and hands it to the tier's report function, which sends it
 *     and ends the process. The engine is never re-entered.
 * Without a report function (in-process tier) the deadline is only marked: a
 * guest spinning in wasm code runs on until its next host call. */

typedef struct {
    nc_wasi *wasi;
    const nightcore_limits_t *limits;
    nc_deadline_report report;
    uint64_t t_start_ns, t_loaded_ns;
    uint64_t volatile t_instantiated_ns;   /* 0 while instantiating */
} nc_run_window;

/* The run the handler may act on: per thread, set only while the guest may run. */
static _Thread_local nc_run_window *volatile armed_run;
static _Thread_local nc_run_result deadline_result;   /* not on the guest's stack */

static void copy_text(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Async-signal-safe: reads our own state, calls no allocator, no engine. */
static void report_deadline(const nc_run_window *rw)
{
    nc_run_result *r = &deadline_result;
    const nc_wasi *w = rw->wasi;
    uint64_t now = nc_now_ns(), inst = rw->t_instantiated_ns;
    memset(r, 0, sizeof *r);
    r->outcome = NC_OUTCOME_TIMEOUT;
    r->limits_hit = NC_LIMIT(NC_LIMIT_TIMEOUT) | (rw->limits->memory_refused ? NC_LIMIT(NC_LIMIT_MEMORY) : 0);
    copy_text(r->trap_kind, sizeof r->trap_kind, "interrupt");
    copy_text(r->message, sizeof r->message, "deadline reached: the module was stopped");
    r->peak_memory_bytes = rw->limits->peak_memory_bytes;
    memcpy(r->calls, w->calls, sizeof r->calls);
    r->denied_total = w->denied_total;
    r->ndenied = w->ndenied;
    memcpy(r->denied, w->denied, sizeof r->denied);
    r->out = w->out.data;   /* borrowed: the process ends after the report */
    r->out_len = w->out.len;
    r->out_truncated = w->out.truncated;
    r->err = w->err.data;
    r->err_len = w->err.len;
    r->err_truncated = w->err.truncated;
    r->t_load_ns = rw->t_loaded_ns - rw->t_start_ns;
    r->t_instantiate_ns = (inst ? inst : now) - rw->t_loaded_ns;
    r->t_execute_ns = inst ? now - inst : 0;
    rw->report(r);
}

static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    nc_run_window *rw = armed_run;
    if (rw && rw->wasi->stop == NC_WASI_STOP_NONE) {
        if (rw->report && !nc_wasi_in_host_call(rw->wasi))
            report_deadline(rw);   /* does not return */
        nc_wasi_mark_deadline(rw->wasi);
    }
    errno = saved;
}

typedef struct {
    nc_timer_kind kind;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    struct timespec deadline;
    pthread_t runner;   /* interrupted at the deadline */
} nc_deadline;

static void *watchdog(void *arg)
{
    nc_deadline *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        if (pthread_cond_timedwait(&d->cv, &d->mu, &d->deadline) == ETIMEDOUT) {
            pthread_kill(d->runner, SIGALRM);
            break;
        }
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

static nc_err deadline_start(nc_deadline *d, nc_timer_kind kind, uint32_t timeout_ms)
{
    memset(d, 0, sizeof *d);
    d->kind = kind;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_ONSTACK;   /* no SA_RESTART: a sleeping host call returns */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) != 0)
        return NC_ERR_INTERNAL;
    if (kind == NC_TIMER_SIGNAL) {
        struct itimerval it = {{0, 0}, {timeout_ms / 1000, (timeout_ms % 1000) * 1000}};
        if (setitimer(ITIMER_REAL, &it, NULL) != 0)
            return NC_ERR_INTERNAL;
        return NC_OK;
    }
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
    armed_run = NULL;
    if (d->kind == NC_TIMER_SIGNAL) {
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
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
static void classify_stop(nc_run_result *res, const nc_wasi *w, const nightcore_limits_t *lim,
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
        res->outcome = lim->memory_refused ? NC_OUTCOME_MEMORY : NC_OUTCOME_TRAP;
        set_kind(res, lim->memory_refused ? "memory_limit" : "error");
    }
    snprintf(res->message, sizeof res->message, "%.*s", (int)(m.size > 400 ? 400 : m.size),
             m.data ? m.data : "");
    if (m.data)
        wasm_byte_vec_delete(&m);
}

/* Instantiation failed: a limit of the envelope, or a module we cannot run. */
static nc_err classify_instantiate(nc_run_result *res, const nc_wasi *w,
                                   const nightcore_limits_t *lim, wasm_trap_t *trap,
                                   wasmtime_error_t *werr, char *msg, size_t msg_len)
{
    if (trap) {   /* the start function ran and trapped */
        classify_stop(res, w, lim, trap, NULL);
        return NC_OK;
    }
    wasm_name_t m;
    wasmtime_error_message(werr, &m);
    const char *text = m.data ? m.data : "";
    size_t n = m.size;
    nc_err err = NC_OK;
    uint32_t hit = 0;
    if (lim->memory_refused)
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

/* Loads a verified artifact. A sealed memfd is mapped by the engine itself
 * (no copy; memory images map from it too), through /proc/self/fd: opening a
 * memfd that way passes Landlock, which only governs real paths. Without
 * /proc it is mapped here and the engine copies it. */
static wasmtime_error_t *load_module(wasm_engine_t *engine, const nc_exec_artifact *a,
                                     wasmtime_module_t **module)
{
    if (a->sealed_fd < 0)
        return wasmtime_module_deserialize(engine, a->bytes, a->len, module);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", a->sealed_fd);
    wasmtime_error_t *werr = wasmtime_module_deserialize_file(engine, path, module);
    if (!werr)
        return NULL;
    struct stat st;
    if (fstat(a->sealed_fd, &st) != 0 || st.st_size <= 0)
        return werr;
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, a->sealed_fd, 0);
    if (p == MAP_FAILED)
        return werr;
    wasmtime_error_delete(werr);
    werr = wasmtime_module_deserialize(engine, p, (size_t)st.st_size, module);
    munmap(p, (size_t)st.st_size);
    return werr;
}

nc_err nc_exec_run(const nc_exec_artifact *artifact, bool fuel, const nc_run_spec *spec,
                   const int *dir_fds, nc_timer_kind timer, nc_deadline_report report,
                   nc_output_fn on_output, void *output_ctx,
                   nc_run_result *res, char *msg, size_t msg_len)
{
    nightcore_limits_t lim = {
        .memory_bytes = spec->limits.memory_bytes, .table_elements = spec->limits.table_elements,
        .instances = spec->limits.instances, .tables = spec->limits.tables,
        .memories = spec->limits.memories,
    };
    wasm_engine_t *engine = NULL;
    wasmtime_module_t *module = NULL;
    wasmtime_store_t *store = NULL;
    wasmtime_linker_t *linker = NULL;
    wasmtime_error_t *werr = NULL;
    wasm_trap_t *trap = NULL;
    nc_wasi *w = NULL;
    nc_wasi_preopen pre[NC_MAX_DIRS];
    nc_deadline dl;
    nc_run_window window;
    bool dl_started = false;
    nc_err err = NC_ERR_INTERNAL;
    uint64_t t0 = nc_now_ns(), t1, t2;

    if (spec->ndirs > NC_MAX_DIRS)
        return NC_ERR_USAGE;
    engine = engine_new(fuel, spec->limits.stack_bytes);
    if (!engine) {
        copy_msg(msg, msg_len, "cannot create the engine", "", 0);
        goto done;
    }
    werr = load_module(engine, artifact, &module);
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
        .on_output = on_output, .output_ctx = output_ctx,
    };
    err = nc_wasi_new(&wc, &w);
    if (err != NC_OK)
        goto done;
    err = NC_ERR_INTERNAL;

    store = wasmtime_store_new(engine, NULL, NULL);
    if (!store)
        goto done;
    wasmtime_context_t *ctx = wasmtime_store_context(store);
    nightcore_store_limiter(store, &lim);
    if (fuel) {
        werr = wasmtime_context_set_fuel(ctx, spec->limits.fuel ? spec->limits.fuel : UINT64_MAX);
        if (werr)
            goto done;
    }
    linker = wasmtime_linker_new(engine);
    if (!linker)
        goto done;
    err = nc_wasi_define(w, linker);
    if (err != NC_OK)
        goto done;
    err = NC_ERR_INTERNAL;

    window = (nc_run_window){.wasi = w, .limits = &lim, .report = report, .t_start_ns = t0,
                             .t_loaded_ns = t1, .t_instantiated_ns = 0};
    armed_run = &window;
    if (deadline_start(&dl, timer, spec->limits.timeout_ms) != NC_OK) {
        armed_run = NULL;
        copy_msg(msg, msg_len, "cannot arm the deadline timer", "", 0);
        goto done;
    }
    dl_started = true;

    wasmtime_instance_t instance;
    werr = wasmtime_linker_instantiate(linker, ctx, module, &instance, &trap);
    t2 = nc_now_ns();
    window.t_instantiated_ns = t2;
    res->t_instantiate_ns = t2 - t1;
    if (werr || trap) {
        armed_run = NULL;
        err = classify_instantiate(res, w, &lim, trap, werr, msg, msg_len);
        goto collect;
    }
    wasmtime_extern_t start;
    if (!wasmtime_instance_export_get(ctx, &instance, "_start", 6, &start) ||
        start.kind != WASMTIME_EXTERN_FUNC) {
        armed_run = NULL;
        copy_msg(msg, msg_len, "the module exports no _start function (only WASI commands can run)", "", 0);
        err = NC_ERR_NO_ENTRY;
        goto collect;
    }
    werr = wasmtime_func_call(ctx, &start.of.func, NULL, 0, NULL, 0, &trap);
    armed_run = NULL;
    res->t_execute_ns = nc_now_ns() - t2;
    if (werr || trap)
        classify_stop(res, w, &lim, trap, werr);
    else
        res->outcome = NC_OUTCOME_OK;
    err = NC_OK;

collect:
    deadline_stop(&dl);
    dl_started = false;
    if (lim.memory_refused) {
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
    res->peak_memory_bytes = lim.peak_memory_bytes;
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
