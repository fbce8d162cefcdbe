/* An isolation tier: one member of a family of interchangeable parts behind
 * one table of functions (in the manner of curl's Curl_handler). The
 * supervisor (sandbox.c) prepares each tier once, and picks the table for a
 * run from the tier its artifact was compiled for; nothing outside
 * src/sandbox/ branches on which tier is in use.
 *
 * Members: process (sandbox.c with child.c, isolate.c: a locked-down child
 * process per run), inprocess (benchmarks and tests only: no isolation), vm
 * (vm.c with vm/guest.c: the same sandbox child inside a throw-away microVM). */
#ifndef NC_SANDBOX_TIER_H
#define NC_SANDBOX_TIER_H
#include "sandbox/sandbox.h"

typedef struct nc_tier_ops {
    nc_tier id;
    /* Prepare and warm (pools, accelerator probe): called once by
     * nc_sandbox_new; *state is the tier's own. An error leaves the tier
     * unavailable, with msg saying why; the others still run. */
    nc_err (*prepare)(nc_sandbox *sb, const nc_sandbox_opts *opts, void **state, char *msg, size_t msg_len);
    /* The artifact flavour this tier loads (compiled in a compile child but
     * for inprocess; cancel may be NULL; report filled in), and the
     * fingerprint naming it. */
    nc_err (*compile)(nc_sandbox *sb, const uint8_t *wasm, size_t len, bool fuel, nc_run_cancel *cancel,
                      uint8_t **artifact, size_t *artifact_len, nc_compile_report *report, char *msg, size_t msg_len);
    void (*fingerprint)(bool fuel, char out[65]);
    /* Whether a run with ndirs granted directories can happen in it here. */
    nc_err (*check)(void *state, size_t ndirs, char *msg, size_t msg_len);
    /* Run one verified artifact under spec. dir_fds: the granted
     * directories, opened and checked by the supervisor. */
    nc_err (*run)(nc_sandbox *sb, void *state, const nc_artifact *art, const nc_run_spec *spec, const int *dir_fds,
                  const nc_run_hooks *hooks, nc_run_result *res, char *msg, size_t msg_len);
    /* What it offers now (availability, accelerator, pool). */
    void (*report)(void *state, nc_tier_status *st);
    /* Stop pools and threads; free state. */
    void (*shutdown)(void *state);
} nc_tier_ops;

extern const nc_tier_ops nc_tier_process_ops;
extern const nc_tier_ops nc_tier_inprocess_ops;
extern const nc_tier_ops nc_tier_vm_ops;

/* For the tiers: a sealed memfd holding the artifact's verified bytes (the
 * caller closes it), and the descriptor a cancel token makes readable (-1: none). */
NC_MUST_CHECK nc_err nc_sandbox_artifact_fd(nc_sandbox *sb, const nc_artifact *art, int *fd, size_t *len,
                                            char *msg, size_t msg_len);
int nc_run_cancel_fd(const nc_run_cancel *c);
void nc_run_set_cancelled(nc_run_result *res, const char *when);
/* The vm tier's compile: a compile child, for the guests' CPU (sandbox.c). */
NC_MUST_CHECK nc_err nc_sandbox_compile_for_vm(nc_sandbox *sb, const uint8_t *wasm, size_t len, bool fuel,
                                               nc_run_cancel *cancel, uint8_t **artifact, size_t *artifact_len,
                                               nc_compile_report *report, char *msg, size_t msg_len);

#endif
