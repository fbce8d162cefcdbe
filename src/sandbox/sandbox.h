/* The sandbox: runs one WASI preview 1 module under a run specification and
 * returns what happened. Nothing here decides whether a module may run; the
 * caller (the worker) does that before calling nc_sandbox_run().
 *
 * Tiers:
 *   NC_TIER_PROCESS (default): each run in a fresh child process that enters
 *     new user+network namespaces, sets no_new_privs, drops capabilities,
 *     applies rlimits, a Landlock ruleset and a seccomp allowlist before it
 *     loads the module. The parent supervises it and kills it past the
 *     deadline. Children can be pre-started (a pool); each takes one run.
 *   NC_TIER_INPROCESS: the same engine path in the caller's process, with no
 *     isolation, and a deadline that stops the module only at a host call.
 *     Only for benchmarks (the floor) and tests. */
#ifndef NC_SANDBOX_SANDBOX_H
#define NC_SANDBOX_SANDBOX_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"
#include "common/hash.h"
#include "sandbox/wasi.h"

#define NC_OUTCOMES(X)                                                    \
    X(NC_OUTCOME_OK, "ok")                                                \
    X(NC_OUTCOME_EXIT, "exit")                                            \
    X(NC_OUTCOME_TRAP, "trap")                                            \
    X(NC_OUTCOME_TIMEOUT, "timeout")                                      \
    X(NC_OUTCOME_FUEL, "fuel")                                            \
    X(NC_OUTCOME_MEMORY, "memory")                                        \
    X(NC_OUTCOME_OUTPUT_LIMIT, "output_limit")                            \
    X(NC_OUTCOME_CRASH, "crash")                                          \
    X(NC_OUTCOME_INTERRUPTED, "interrupted")                              \
    X(NC_OUTCOME_CANCELLED, "cancelled")

typedef enum {
#define NC_OUTCOME_ENUM(sym, name) sym,
    NC_OUTCOMES(NC_OUTCOME_ENUM)
#undef NC_OUTCOME_ENUM
    NC_OUTCOME_COUNT
} nc_outcome;
const char *nc_outcome_name(unsigned outcome);

/* Limits hit during a run (bit set in nc_run_result.limits_hit). */
#define NC_LIMITS(X)                             \
    X(NC_LIMIT_TIMEOUT, "timeout")               \
    X(NC_LIMIT_FUEL, "fuel")                     \
    X(NC_LIMIT_MEMORY, "memory_bytes")           \
    X(NC_LIMIT_TABLE_ELEMENTS, "table_elements") \
    X(NC_LIMIT_INSTANCES, "instances")           \
    X(NC_LIMIT_TABLES, "tables")                 \
    X(NC_LIMIT_MEMORIES, "memories")             \
    X(NC_LIMIT_STACK, "stack")                   \
    X(NC_LIMIT_STDOUT, "stdout_bytes")           \
    X(NC_LIMIT_STDERR, "stderr_bytes")          \
    X(NC_LIMIT_DIR_QUOTA, "dir_quota")

enum {
#define NC_LIMIT_ENUM(sym, name) sym##_BIT,
    NC_LIMITS(NC_LIMIT_ENUM)
#undef NC_LIMIT_ENUM
    NC_LIMIT_COUNT
};
#define NC_LIMIT(sym) (1u << sym##_BIT)
const char *nc_limit_name(unsigned bit);

typedef struct {
    uint32_t timeout_ms;      /* wall clock; SIGALRM in the child + SIGKILL backstop */
    uint64_t fuel;            /* 0 = no fuel metering */
    uint64_t memory_bytes;    /* per linear memory */
    uint32_t table_elements;  /* per table */
    uint32_t instances, tables, memories;
    uint32_t stack_bytes;     /* wasm stack */
    uint32_t stdout_bytes, stderr_bytes;
} nc_limits;
void nc_limits_default(nc_limits *l);
/* Checks every limit against the hard caps in limits.h. */
NC_MUST_CHECK nc_err nc_limits_check(const nc_limits *l);

typedef struct {
    const char *host;    /* absolute host path of a directory */
    const char *guest;   /* absolute guest path, e.g. "/data" */
    bool readonly;
    /* The directory as it was when the grant was approved: the supervisor
     * opens host and refuses the run (NC_ERR_CAPABILITY_DENIED) unless it is
     * still that directory (same device and inode). Both 0: not checked. */
    uint64_t dev, ino;
    /* Read-write grants: what the run may add beneath it, enforced by the
     * WASI host (writes past it fail with NOSPC / DQUOT and set
     * NC_LIMIT_DIR_QUOTA). 0 = no quota of its own (RLIMIT_FSIZE still holds). */
    uint64_t quota_bytes, quota_files;
} nc_dir_grant;

typedef struct {
    nc_limits limits;
    const char *const *args; size_t nargs;   /* argv; args[0] is the program name */
    const char *const *env; size_t nenv;     /* "KEY=VALUE", only these */
    const uint8_t *stdin_data; size_t stdin_len;
    const nc_dir_grant *dirs; size_t ndirs;
} nc_run_spec;

/* Isolation tiers (tier.h has the interface each implements). */
typedef enum { NC_TIER_PROCESS = 0, NC_TIER_INPROCESS, NC_TIER_VM, NC_TIER_COUNT } nc_tier;
const char *nc_tier_name(nc_tier t);
/* "process" or "vm" (what policies and statements name); NC_ERR_USAGE otherwise. */
NC_MUST_CHECK nc_err nc_tier_from_name(const char *name, nc_tier *out);

/* The vm tier's accelerator. */
typedef enum {
    NC_VM_ACCEL_NONE = 0,   /* not a vm run, or no accelerator works */
    NC_VM_ACCEL_PROBING,    /* still finding out */
    NC_VM_ACCEL_KVM,
    NC_VM_ACCEL_TCG,
} nc_vm_accel;
const char *nc_vm_accel_name(nc_vm_accel a);

/* A precompiled module: produced only by nc_artifact_compile() from bytes the
 * caller has verified, stored in the cache under its module hash and engine
 * fingerprint, and checked against its own recorded hash before every load. */
typedef struct {
    char path[4096];
    uint8_t sha256[NC_SHA256_LEN];         /* of the artifact file */
    uint8_t module_sha256[NC_SHA256_LEN];  /* of the wasm it came from */
    bool fuel;                             /* compiled with fuel metering */
    nc_tier tier;                          /* the tier it was compiled for: runs in that tier */
} nc_artifact;


typedef struct {
    /* Set by the supervisor: the tier the run happened in, and for the vm
     * tier its accelerator, whether the VM came from the pool, its memory. */
    nc_tier tier;
    nc_vm_accel accel;
    bool vm_pooled;
    uint32_t vm_memory_mib;
    bool qemu_userns, qemu_netns, qemu_landlock;   /* what confines QEMU itself */
    /* Reported by the sandbox child (in the vm tier: the one in the guest). */
    bool userns, netns, no_new_privs, caps_dropped, rlimits, seccomp;
    int landlock_abi;    /* 0 = not available / not applied */
} nc_isolation_report;

typedef struct {
    nc_outcome outcome;
    int exit_code;             /* outcome exit (and 0 for ok) */
    char trap_kind[32];        /* "unreachable", "memory_out_of_bounds", "stack_overflow", ... */
    char message[512];         /* human-readable detail */
    uint8_t *out, *err;        /* captured stdout/stderr (malloc'd, may be NULL) */
    size_t out_len, err_len;
    bool out_truncated, err_truncated;
    uint32_t limits_hit;       /* NC_LIMIT(...) bits */
    uint64_t fuel_used;
    uint64_t peak_memory_bytes;
    uint32_t calls[NC_WASI_FN_COUNT];
    uint32_t denied_total, ndenied;
    nc_wasi_denied denied[NC_WASI_MAX_DENIED];
    nc_isolation_report isolation;
    int term_signal;           /* child killed by this signal (crash/timeout) */
    /* Timings in nanoseconds. Process tier: handoff = spec sent until the
     * child had it; isolate = Landlock + seccomp in the child. */
    uint64_t t_spawn_ns, t_handoff_ns, t_isolate_ns, t_load_ns, t_instantiate_ns,
        t_execute_ns, t_total_ns;
} nc_run_result;

void nc_run_result_cleanup(nc_run_result *r);

/* A run's isolation as name/value pairs, for reports: the tier, then what
 * that tier had in effect (process: namespaces, no_new_privs, capabilities,
 * rlimits, Landlock, seccomp; vm: the accelerator, whether the VM was
 * pooled, its memory, then the same list from the child inside the guest).
 * Lets a caller report any tier without knowing which it is. */
typedef struct {
    const char *name;
    enum { NC_FEATURE_BOOL, NC_FEATURE_INT, NC_FEATURE_TEXT } kind;
    long long value;     /* BOOL, INT */
    const char *text;    /* TEXT: static */
} nc_isolation_feature;
#define NC_ISOLATION_MAX_FEATURES 16
size_t nc_isolation_features(const nc_isolation_report *r, nc_isolation_feature *out, size_t max);

typedef struct {
    nc_tier tier;            /* the tier of nc_artifact_compile()'s artifacts: process or inprocess */
    const char *child_exe;   /* program that runs nc_sandbox_child_main() when
                                given argv[1] = "sandbox-child"; default /proc/self/exe */
    unsigned pool_size;      /* pre-started children kept ready (process tier) */
    const char *cache_dir;   /* artifact cache */
    /* The vm tier: prepared when vm_kernel is set. Runs that need it are
     * refused (NC_ERR_TIER_UNAVAILABLE, saying why) when it is not, or when
     * QEMU, the kernel or the initramfs is missing: never run in a weaker tier. */
    const char *vm_qemu;        /* NULL: /usr/bin/qemu-system-x86_64 */
    const char *vm_kernel, *vm_initrd;
    const char *vm_accel;       /* "auto" (NULL), "kvm" or "tcg" */
    unsigned vm_pool_size;      /* microVMs kept booted */
    const char *vm_console_log; /* NULL: guest consoles discarded */
    uint32_t compile_timeout_ms;   /* a compile child is killed past this; 0: NC_COMPILE_TIMEOUT_MS */
} nc_sandbox_opts;

/* What a tier offers on this host, for status reports. */
typedef struct {
    nc_tier tier;
    bool available;
    char note[320];            /* why not available; for vm: why this accelerator */
    nc_vm_accel accel;         /* vm only */
    unsigned pool_size, pool_ready;
    uint32_t pool_memory_mib;  /* vm only: size of the pooled VMs */
    uint64_t boots, boot_failures;
} nc_tier_status;

typedef struct nc_sandbox nc_sandbox;

NC_MUST_CHECK nc_err nc_sandbox_new(const nc_sandbox_opts *opts, nc_sandbox **out);
void nc_sandbox_free(nc_sandbox *sb);

/* Compiles verified module bytes to an artifact in the cache (or finds the
 * cached one). NC_ERR_INVALID_MODULE with a reason in msg for bad wasm. */
NC_MUST_CHECK nc_err nc_artifact_compile(nc_sandbox *sb, const uint8_t *wasm, size_t len, bool fuel,
                                         nc_artifact *out, char *msg, size_t msg_len);

/* The same for a given tier (each tier loads its own artifact flavour: the vm
 * tier's are compiled for its guests' CPU). */
NC_MUST_CHECK nc_err nc_artifact_compile_tier(nc_sandbox *sb, nc_tier tier, const uint8_t *wasm, size_t len,
                                              bool fuel, nc_artifact *out, char *msg, size_t msg_len);

/* Can runs in this tier be given ndirs granted directories, here? NC_OK, or
 * NC_ERR_TIER_UNAVAILABLE / NC_ERR_CAPABILITY_DENIED with what to do in msg.
 * The worker asks before it prepares an approval and before every run. */
NC_MUST_CHECK nc_err nc_sandbox_tier_check(nc_sandbox *sb, nc_tier tier, size_t ndirs, char *msg, size_t msg_len);

/* The tiers this sandbox knows (process, vm), with what they offer. */
size_t nc_sandbox_tiers(nc_sandbox *sb, nc_tier_status *out, size_t max);

/* How a compile went. */
typedef struct {
    bool in_child;                  /* compiled in a compile child (process tier) */
    nc_isolation_report isolation;  /* what the compile child reported it had applied */
    int term_signal;                /* the compile child died of this signal (0: it did not) */
    uint64_t t_compile_ns;          /* the engine's compile, as the compile child timed it */
    uint64_t t_total_ns;            /* from the start to the artifact written */
    size_t artifact_bytes;
} nc_compile_report;

/* The same for a tier, cancellable (cancel may be NULL): a fired token kills
 * the compile child and the compile fails (NC_ERR_CHILD, "cancelled"). report
 * may be NULL. The process and vm tiers always compile in a compile child,
 * never in the caller: Cranelift on hostile bytes is isolated like a run
 * (docs/sandbox.md, "Compiling"); the in-process tier compiles in the caller. */
struct nc_run_cancel;
NC_MUST_CHECK nc_err nc_artifact_compile_ex(nc_sandbox *sb, nc_tier tier, const uint8_t *wasm, size_t len,
                                            bool fuel, struct nc_run_cancel *cancel, nc_artifact *out,
                                            nc_compile_report *report, char *msg, size_t msg_len);

/* Validates module bytes with the engine (no compilation). */
NC_MUST_CHECK nc_err nc_module_validate(const uint8_t *wasm, size_t len, char *msg, size_t msg_len);

/* Output as the module writes it, for a caller that shows it live. Called on
 * the thread running nc_sandbox_run_ex(), in order; stream 1 is stdout, 2 is
 * stderr. Per stream, the pieces put together are exactly the result's
 * out/err (the caps hold: nothing beyond them is ever passed). The data is
 * borrowed for the call. */
typedef void (*nc_output_fn)(void *ctx, int stream, const uint8_t *data, size_t len);

/* Cancels a run from any thread: nc_run_cancel_fire() kills the sandbox
 * child (process tier) and the run's outcome is NC_OUTCOME_CANCELLED, with
 * the output streamed until then. Fired before the run starts, the run never
 * starts. The in-process tier (benchmarks, tests) honours it only before the
 * module starts. */
typedef struct nc_run_cancel nc_run_cancel;
NC_MUST_CHECK nc_err nc_run_cancel_new(nc_run_cancel **out);
void nc_run_cancel_free(nc_run_cancel *c);
void nc_run_cancel_fire(nc_run_cancel *c);   /* thread-safe, idempotent */
bool nc_run_cancel_fired(const nc_run_cancel *c);

typedef struct {
    nc_output_fn on_output;   /* NULL: output only in the result */
    void *ctx;
    nc_run_cancel *cancel;    /* NULL: not cancellable */
} nc_run_hooks;

/* Runs one module. Thread-safe. Returns NC_OK when the module ran (whatever its
 * outcome, including crash and timeout); an error when it could not be run at
 * all (bad spec, artifact corrupt, child could not start), with msg set. */
NC_MUST_CHECK nc_err nc_sandbox_run(nc_sandbox *sb, const nc_artifact *art, const nc_run_spec *spec,
                                    nc_run_result *out, char *msg, size_t msg_len);
/* The same, with output streamed to hooks->on_output and cancellable through
 * hooks->cancel (hooks may be NULL). */
NC_MUST_CHECK nc_err nc_sandbox_run_ex(nc_sandbox *sb, const nc_artifact *art, const nc_run_spec *spec,
                                       const nc_run_hooks *hooks, nc_run_result *out, char *msg,
                                       size_t msg_len);

/* The sandbox child: call from main() when argv[1] is "sandbox-child".
 * Expects the supervisor's socket on fd 3. Never returns. */
__attribute__((noreturn)) void nc_sandbox_child_main(void);

/* The zygote that forks sandbox children: call from main() when argv[1] is
 * "sandbox-zygote". Expects its supervisor's socket on fd 3. Never returns. */
__attribute__((noreturn)) void nc_sandbox_zygote_main(void);

/* For main(): becomes the child or the zygote when argv[1] asks for one
 * (these are how the sandbox re-enters the program); otherwise returns. */
void nc_sandbox_dispatch(int argc, char **argv);

/* What the kernel offers here (probed without applying anything). */
void nc_isolation_probe(nc_isolation_report *r);

#endif
