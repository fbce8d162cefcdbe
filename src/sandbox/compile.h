/* The compile child: Cranelift runs on attacker-chosen bytes in a process of
 * its own (`nightcore-worker sandbox-compile`, one per compile), isolated like
 * a run child, with no filesystem at all and a seccomp profile of its own;
 * the supervisor sends it the module, hashes and writes the artifact it sends
 * back, and kills it past a deadline. docs/sandbox.md, "Compiling".
 *
 * Wire format (compile_wire.c), over a SOCK_STREAM socketpair, each message
 * a frame: u32be body length, then the body.
 *   request (supervisor -> child): "NCC1", a flags byte (bit 0: fuel
 *     metering; bit 1: code for the vm tier's guests, not this host; bits
 *     4-7: a test action, accepted only by test builds), the
 *     module (u32be length, 1 .. NC_MAX_MODULE_BYTES bytes). Nothing after.
 *   reply (child -> supervisor): "NCA1", status (u32be nc_err, one of the few
 *     a compiler may report), the isolation report (a bits byte, u32be
 *     Landlock ABI), the compile time in ns (u64be), a message (u32be length,
 *     at most NC_COMPILE_MAX_MESSAGE bytes, no NUL), the artifact (u32be
 *     length, at most NC_MAX_ARTIFACT_BYTES). Success carries an artifact
 *     that starts with the ELF magic and no message; a failure carries a
 *     message and no artifact. Nothing after.
 * The reply comes from a process that compiled hostile code: it is parsed as
 * hostile input. */
#ifndef NC_SANDBOX_COMPILE_H
#define NC_SANDBOX_COMPILE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "sandbox/internal.h"
#include "sandbox/sandbox.h"

#define NC_WIRE_COMPILE_MAGIC 0x4e434331u    /* "NCC1" */
#define NC_WIRE_ARTIFACT_MAGIC 0x4e434131u   /* "NCA1" */
#define NC_WIRE_COMPILE_FUEL 1u
#define NC_WIRE_COMPILE_VM 2u                /* NC_COMPILE_TARGET_VM */
#define NC_WIRE_COMPILE_HOOK_SHIFT 4u        /* test builds only: bits 4-7 name a test action */
#define NC_WIRE_COMPILE_HEAD 13u             /* frame length, magic, flags, module length */
#define NC_WIRE_ARTIFACT_FIXED 33u           /* frame length .. the artifact's length, without the message */

/* Test actions the compile child of a test build performs after isolating
 * itself, instead of compiling (tests/unit/test_compile.c). A production
 * build refuses a request that names one. */
enum {
    NC_COMPILE_HOOK_NONE = 0,
    NC_COMPILE_HOOK_HANG = 1,        /* wait for ever: the supervisor's deadline */
    NC_COMPILE_HOOK_SYSCALL = 2,     /* a system call outside the profile (socket): SIGSYS */
    NC_COMPILE_HOOK_EXEC_MAP = 3,    /* an executable mapping: SIGSYS */
    NC_COMPILE_HOOK_OPEN = 4,        /* before seccomp: open a file, make a directory; reports errno */
    NC_COMPILE_HOOK_GREEDY = 5,      /* allocate until refused: RLIMIT_DATA; reports how much it got */
    NC_COMPILE_HOOK_THREAD = 6,      /* start a thread as rayon does, then fork (SIGSYS) */
    NC_COMPILE_HOOK_LIE = 7,         /* send a reply that claims success with bytes that are no artifact */
    NC_COMPILE_HOOK_CRASH = 8,       /* a fault, as a compiler bug would: SIGSEGV */
    NC_COMPILE_HOOK_MAX = 8
};

#ifdef NC_TEST_HOOKS
/* The action the next compile child is asked for (tests only). */
extern unsigned nc_compile_test_hook;
#endif

typedef struct {
    bool fuel;
    nc_compile_target target;
    unsigned hook;          /* NC_COMPILE_HOOK_* (always 0 outside test builds) */
    const uint8_t *wasm;    /* borrowed from the body */
    size_t wasm_len;
} nc_wire_compile;

/* The request's frame up to the module bytes (NC_WIRE_COMPILE_HEAD bytes);
 * the module follows it on the wire, sent from the caller's buffer. */
NC_MUST_CHECK nc_err nc_wire_compile_head(bool fuel, nc_compile_target target, unsigned hook, size_t wasm_len,
                                          uint8_t head[NC_WIRE_COMPILE_HEAD]);
/* A request body (after the frame length), strictly. */
NC_MUST_CHECK nc_err nc_wire_decode_compile(const uint8_t *body, size_t len, nc_wire_compile *out);

typedef struct {
    nc_err status;
    nc_isolation_report isolation;
    uint64_t compile_ns;
    char message[NC_COMPILE_MAX_MESSAGE + 1];   /* printable ASCII only once decoded */
    const uint8_t *artifact;                    /* borrowed from the body */
    size_t artifact_len;
} nc_wire_artifact;

/* The reply's frame up to the artifact bytes, into head (at least
 * NC_WIRE_ARTIFACT_FIXED + NC_COMPILE_MAX_MESSAGE bytes); the artifact
 * follows it. Async-signal-safe, allocates nothing. */
NC_MUST_CHECK nc_err nc_wire_artifact_head(nc_err status, const nc_isolation_report *iso, uint64_t compile_ns,
                                           const char *message, size_t artifact_len, uint8_t *head,
                                           size_t head_cap, size_t *head_len);
/* A reply body, strictly: NC_ERR_MALFORMED for anything the compile child
 * has no business sending (an unknown or impossible status, success without
 * an artifact or with one that is not ELF, a failure with one, a message
 * with NUL or control bytes, lengths past the caps, trailing bytes). */
NC_MUST_CHECK nc_err nc_wire_decode_artifact(const uint8_t *body, size_t len, nc_wire_artifact *out);

/* The descriptor that becomes readable when c fires; -1 for NULL (sandbox.c). */
int nc_run_cancel_fd(const nc_run_cancel *c);

/* The compile child: call when argv[1] is "sandbox-compile" (child.c's
 * nc_sandbox_dispatch does). Expects the supervisor's socket on fd 3. */
__attribute__((noreturn)) void nc_sandbox_compile_main(void);

/* The supervisor's side: compiles wasm in a compile child started from
 * child_exe, within timeout_ms (the child is killed past it, or when cancel
 * fires). *artifact (malloc'd) on success. Errors: NC_ERR_INVALID_MODULE
 * with the engine's reason in one line; NC_ERR_TOO_LARGE; NC_ERR_CHILD (wire
 * code "internal") for a compiler that crashed (msg names the signal), ran
 * past its deadline or lied; NC_ERR_CHILD "cancelled" when cancel fired. */
NC_MUST_CHECK nc_err nc_compile_in_child(const char *child_exe, uint32_t timeout_ms, const uint8_t *wasm,
                                         size_t len, bool fuel, nc_compile_target target, nc_run_cancel *cancel,
                                         uint8_t **artifact,
                                         size_t *artifact_len, nc_compile_report *report, char *msg,
                                         size_t msg_len);

#endif
