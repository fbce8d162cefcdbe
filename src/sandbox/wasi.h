/* Night Core's own WASI preview 1 host (module "wasi_snapshot_preview1").
 *
 * Implemented here rather than taken from Wasmtime so that every call can be
 * counted and every call refused for lack of a capability can be recorded.
 * Paths resolve with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) against
 * the preopened directory descriptors, so `..` and symlinks cannot leave a
 * preopen; the kernel does the containment, Landlock backs it up.
 *
 * Behaviour follows wasi_snapshot_preview1.witx and, where the witx leaves a
 * choice (which errno, which rights a directory reports), Wasmtime's own
 * preview 1 implementation; docs/sandbox.md ("WASI conformance") lists where
 * Night Core differs on purpose. As the witx requires, a pointer or length
 * that leaves the guest's memory, or a misaligned pointer, stops the guest
 * with a trap (NC_WASI_STOP_FAULT) instead of returning an errno.
 *
 * Lifetime: one nc_wasi per run, single-threaded. */
#ifndef NC_SANDBOX_WASI_H
#define NC_SANDBOX_WASI_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wasmtime.h>
#include "common/buf.h"
#include "common/error.h"
#include "common/limits.h"

/* Every preview 1 function, in a fixed order (the index is stable on the wire). */
#define NC_WASI_FUNCS(X)                                                          \
    X(args_get) X(args_sizes_get) X(environ_get) X(environ_sizes_get)             \
    X(clock_res_get) X(clock_time_get) X(fd_advise) X(fd_allocate) X(fd_close)    \
    X(fd_datasync) X(fd_fdstat_get) X(fd_fdstat_set_flags)                        \
    X(fd_fdstat_set_rights) X(fd_filestat_get) X(fd_filestat_set_size)            \
    X(fd_filestat_set_times) X(fd_pread) X(fd_prestat_get)                        \
    X(fd_prestat_dir_name) X(fd_pwrite) X(fd_read) X(fd_readdir) X(fd_renumber)   \
    X(fd_seek) X(fd_sync) X(fd_tell) X(fd_write) X(path_create_directory)         \
    X(path_filestat_get) X(path_filestat_set_times) X(path_link) X(path_open)     \
    X(path_readlink) X(path_remove_directory) X(path_rename) X(path_symlink)      \
    X(path_unlink_file) X(poll_oneoff) X(proc_exit) X(proc_raise) X(sched_yield)  \
    X(random_get) X(sock_accept) X(sock_recv) X(sock_send) X(sock_shutdown)

typedef enum {
#define NC_WASI_ENUM(name) NC_WASI_FN_##name,
    NC_WASI_FUNCS(NC_WASI_ENUM)
#undef NC_WASI_ENUM
    NC_WASI_FN_COUNT
} nc_wasi_fn;

const char *nc_wasi_fn_name(unsigned fn);   /* static string; "?" if out of range */

/* Why a call was refused. Stable on the wire. */
#define NC_DENIALS(X)                                                              \
    X(NC_DENY_NO_PREOPEN, "no_preopen", "descriptor is not a granted directory")  \
    X(NC_DENY_ESCAPE, "path_escape", "path leaves the granted directory")         \
    X(NC_DENY_READONLY, "read_only", "write to a read-only directory")            \
    X(NC_DENY_NETWORK, "network", "network access is never granted")             \
    X(NC_DENY_SIGNAL, "signal", "raising signals is not allowed")                 \
    X(NC_DENY_FD_LIMIT, "fd_limit", "too many open descriptors")                 \
    X(NC_DENY_QUOTA, "dir_quota", "the directory's write quota is used up")

typedef enum {
#define NC_DENY_ENUM(sym, code, msg) sym,
    NC_DENIALS(NC_DENY_ENUM)
#undef NC_DENY_ENUM
    NC_DENY_COUNT
} nc_denial;

const char *nc_denial_code(unsigned d);     /* "path_escape", ...; "?" out of range */
const char *nc_denial_message(unsigned d);

typedef struct {
    uint8_t fn;        /* nc_wasi_fn */
    uint8_t reason;    /* nc_denial */
    char detail[128];  /* the path or descriptor involved, NUL-terminated, truncated */
} nc_wasi_denied;

typedef struct {
    int host_fd;            /* directory, O_PATH is enough; borrowed, caller closes */
    const char *guest_path; /* e.g. "/data"; copied */
    bool readonly;
    /* Read-write preopens: bytes the run may add beneath it (file growth by
     * writes, fd_allocate, fd_filestat_set_size) and names it may create
     * (files, directories, symlinks, hard links). 0 = unlimited. Shrinking
     * and deleting give nothing back. Ignored when readonly. */
    uint64_t quota_bytes, quota_files;
} nc_wasi_preopen;

typedef struct {
    const char *const *args;  size_t nargs;   /* argv, args[0] is the program name */
    const char *const *env;   size_t nenv;    /* "KEY=VALUE" */
    const uint8_t *stdin_data; size_t stdin_len;  /* borrowed for the run */
    size_t stdout_cap, stderr_cap;
    const nc_wasi_preopen *preopens; size_t npreopens;
    uint64_t deadline_ns;   /* CLOCK_MONOTONIC; 0 = none. Sleeps never pass it. */
    /* Called after each write to stdout (stream 1) or stderr (2) with the
     * bytes the output buffer took (never beyond the cap), during the host
     * call; NULL for none. */
    void (*on_output)(void *ctx, int stream, const uint8_t *data, size_t len);
    void *output_ctx;
} nc_wasi_config;

/* Why the guest stopped from inside a host call (checked after a trap). */
typedef enum {
    NC_WASI_STOP_NONE = 0,
    NC_WASI_STOP_EXIT,          /* proc_exit(code) */
    NC_WASI_STOP_OUTPUT_LIMIT,  /* stdout/stderr cap reached */
    NC_WASI_STOP_RAISE,         /* proc_raise(sig) */
    NC_WASI_STOP_DEADLINE,      /* the run's deadline came during (or before) a host call */
    NC_WASI_STOP_FAULT,         /* a pointer outside guest memory, or misaligned */
} nc_wasi_stop;

typedef struct nc_wasi {
    /* results, readable after the run */
    nc_wasi_stop stop;
    int exit_code;                        /* valid when stop == EXIT */
    unsigned stop_fn;                     /* the call that stopped the guest (nc_wasi_fn) */
    nc_buf out, err;                      /* max = caps; .truncated set at the cap */
    bool quota_hit;                       /* a call was refused by a directory quota */
    uint32_t calls[NC_WASI_FN_COUNT];
    uint32_t denied_total;
    uint32_t ndenied;                     /* entries kept in denied[] */
    nc_wasi_denied denied[NC_WASI_MAX_DENIED];
    /* private state follows in wasi.c */
    struct nc_wasi_priv *priv;
} nc_wasi;

NC_MUST_CHECK nc_err nc_wasi_new(const nc_wasi_config *cfg, nc_wasi **out);
void nc_wasi_free(nc_wasi *w);
/* Defines every preview 1 function in the linker, with w as the host env.
 * w must outlive every store that uses the linker's definitions. */
NC_MUST_CHECK nc_err nc_wasi_define(nc_wasi *w, wasmtime_linker_t *linker);

/* The deadline's signal handler asks these (both async-signal-safe). While a
 * host call runs, the host's state (output buffers, counters, denials) may be
 * half-updated: the handler then only marks the deadline, and the host call
 * stops the guest when it returns (so does any later host call). Outside host
 * calls that state is consistent and may be read. */
bool nc_wasi_in_host_call(const nc_wasi *w);
void nc_wasi_mark_deadline(nc_wasi *w);

#endif
