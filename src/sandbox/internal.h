/* Sandbox internals shared by the executor, the child and the supervisor. */
#ifndef NC_SANDBOX_INTERNAL_H
#define NC_SANDBOX_INTERNAL_H
#include <stdint.h>
#include "common/buf.h"
#include "sandbox/sandbox.h"

/* 1 in AddressSanitizer builds (make asan): its runtime needs a little more
 * of the children's profiles (isolate.c, compile.c). */
#if defined(__SANITIZE_ADDRESS__)
#define NC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NC_ASAN 1
#endif
#endif
#ifndef NC_ASAN
#define NC_ASAN 0
#endif

uint64_t nc_now_ns(void);   /* CLOCK_MONOTONIC, comparable across processes */

/* Engine fingerprint: what must match for an artifact to load. */
void nc_engine_fingerprint(bool fuel, char out[65]);

/* Which CPU an artifact's code is for: this host's, or the vm tier's guests'
 * (a fixed level every guest CPU has, vm_compile.c). */
typedef enum { NC_COMPILE_TARGET_HOST = 0, NC_COMPILE_TARGET_VM = 1 } nc_compile_target;

/* Compile wasm bytes to a serialized artifact (malloc'd), in this process:
 * the in-process tier's compile (tests, benchmarks). The process and vm
 * tiers compile in a compile child (compile.c). */
NC_MUST_CHECK nc_err nc_exec_compile(const uint8_t *wasm, size_t len, bool fuel, nc_compile_target target,
                                     uint8_t **artifact, size_t *artifact_len, char *msg, size_t msg_len);

/* The same in two steps, for the compile child: the engine is made before
 * the seccomp profile is loaded, the module compiled after. The artifact
 * belongs to the compiler (valid until the next run or nc_compiler_free). */
typedef struct nc_compiler nc_compiler;
NC_MUST_CHECK nc_err nc_compiler_new(bool fuel, nc_compile_target target, nc_compiler **out);
NC_MUST_CHECK nc_err nc_compiler_run(nc_compiler *c, const uint8_t *wasm, size_t len, const uint8_t **artifact,
                                     size_t *artifact_len, char *msg, size_t msg_len);
void nc_compiler_free(nc_compiler *c);

typedef enum {
    NC_TIMER_THREAD,   /* a watchdog thread signals the running thread (in-process tier) */
    NC_TIMER_SIGNAL,   /* ITIMER_REAL + SIGALRM (single-threaded sandbox child) */
} nc_timer_kind;

/* A verified artifact to run: its bytes, or a sealed memfd holding them (no
 * one can change a sealed memfd's contents, so it needs no second check). */
typedef struct {
    const uint8_t *bytes;
    size_t len;
    int sealed_fd;   /* >= 0: load from this descriptor instead of bytes */
} nc_exec_artifact;

/* Sends the result of a run stopped by its deadline, from the deadline's
 * signal handler, and ends the process: it must be async-signal-safe (no
 * allocation) and must not return. out/err in `partial` are borrowed. */
typedef void (*nc_deadline_report)(const nc_run_result *partial);

/* Runs an artifact in this process. dir_fds[i] correspond to spec->dirs[i].
 * Fills res (outcome, output, observations, timings for load/instantiate/
 * execute). Returns an error only when the module could not be run at all.
 * on_output (may be NULL) sees the output as the module writes it.
 * With a report function the deadline stops the guest wherever it is (see
 * exec.c); without one, at its next host call. */
NC_MUST_CHECK nc_err nc_exec_run(const nc_exec_artifact *artifact, bool fuel,
                                 const nc_run_spec *spec, const int *dir_fds,
                                 nc_timer_kind timer, nc_deadline_report report,
                                 nc_output_fn on_output, void *output_ctx,
                                 nc_run_result *res, char *msg, size_t msg_len);

/* Isolation steps of the child (isolate.c). */
void nc_isolate_early(nc_isolation_report *r);   /* namespaces, caps, nnp, rlimits */
/* The zygote enters the namespaces once; its children then share that empty
 * network namespace instead of building one each (setup and teardown of a
 * network namespace cost more CPU than the rest of a run). */
void nc_isolate_namespaces_entered(bool userns, bool netns);
NC_MUST_CHECK nc_err nc_isolate_late(const nc_run_spec *spec, const int *dir_fds,
                                     nc_isolation_report *r, char *msg, size_t msg_len);
/* Pieces of the same for the compile child (compile.c): every capability
 * dropped; a Landlock ruleset that handles every right and allows nothing
 * (no filesystem at all; *abi 0 where the kernel has no Landlock). */
bool nc_isolate_drop_caps(void);
NC_MUST_CHECK nc_err nc_isolate_landlock_nothing(int *abi, char *msg, size_t msg_len);

/* Wire format between supervisor and child (wire.c). Spec and result are
 * binary, length-prefixed; both sides parse with the bounded reader. The
 * supervisor treats everything the child sends as hostile. */
#define NC_WIRE_SPEC_MAGIC 0x4e435333u   /* "NCS3": a flags byte (fuel, stream) */
#define NC_WIRE_RESULT_MAGIC 0x4e435231u /* "NCR1" */
#define NC_WIRE_CHUNK_MAGIC 0x4e434f31u  /* "NCO1": output as the module writes it */
/* The spec's flags byte. */
#define NC_WIRE_SPEC_FUEL 1u     /* the artifact was compiled with fuel metering */
#define NC_WIRE_SPEC_STREAM 2u   /* send output chunks as the module writes */

typedef struct {
    nc_run_spec spec;
    bool fuel, stream;
    uint8_t artifact_sha256[NC_SHA256_LEN];
    uint64_t sent_ns;
    /* storage owned by the decoded spec */
    char **argv_store, **env_store;
    nc_dir_grant *dirs_store;
    char **guest_store;
} nc_wire_spec;

/* flags: NC_WIRE_SPEC_FUEL | NC_WIRE_SPEC_STREAM (a bool true is fuel alone). */
NC_MUST_CHECK nc_err nc_wire_encode_spec(const nc_run_spec *spec, uint8_t flags,
                                         const uint8_t artifact_sha256[NC_SHA256_LEN],
                                         uint64_t sent_ns, nc_buf *out);
/* The same body in three parts, so that stdin (up to 16 MiB) is sent from
 * where it is: head, then spec->stdin_data, then tail. */
NC_MUST_CHECK nc_err nc_wire_encode_spec_parts(const nc_run_spec *spec, uint8_t flags,
                                               const uint8_t artifact_sha256[NC_SHA256_LEN],
                                               uint64_t sent_ns, nc_buf *head, nc_buf *tail);
/* out->spec.stdin_data points into data: keep data until the spec is done with. */
NC_MUST_CHECK nc_err nc_wire_decode_spec(const uint8_t *data, size_t len, nc_wire_spec *out);
void nc_wire_spec_cleanup(nc_wire_spec *s);

/* status: NC_OK when the module ran, else why it could not. */
NC_MUST_CHECK nc_err nc_wire_encode_result(nc_err status, const nc_run_result *r, nc_buf *out);

/* The same result as a whole frame (u32be body length, then the body) in
 * NC_WIRE_RESULT_IOVS pieces for writev(): the fixed fields are written into
 * scratch (at least NC_WIRE_RESULT_FIXED_MAX bytes), stdout and stderr are
 * referenced where they are, not copied. Allocates nothing and calls only
 * async-signal-safe functions: the deadline's signal handler uses it. */
#define NC_WIRE_RESULT_FIXED_MAX 8192u
#define NC_WIRE_RESULT_IOVS 5
struct iovec;
NC_MUST_CHECK nc_err nc_wire_result_frame(nc_err status, const nc_run_result *r, uint8_t *scratch,
                                          size_t scratch_len, struct iovec *iov);
/* Caps output lengths at the caps the supervisor asked for. */
NC_MUST_CHECK nc_err nc_wire_decode_result(const uint8_t *data, size_t len, size_t stdout_cap,
                                           size_t stderr_cap, nc_err *status,
                                           nc_run_result *out);

/* Output chunks (child -> supervisor, only when the spec asked for a
 * stream): a frame (u32be body length, then the body) whose body is the
 * magic "NCO1", a stream byte (1 stdout, 2 stderr) and the bytes (u32be
 * length, 1 .. NC_WIRE_CHUNK_MAX). Any number of them precede the result
 * frame. The supervisor checks each against the run's caps and, at the end,
 * that the result's output begins with exactly what was streamed. */
#define NC_WIRE_CHUNK_MAX (64u * 1024)
#define NC_WIRE_CHUNK_HEADER 13u   /* frame length + magic + stream + data length */
/* The frame header for a chunk of len bytes (1 .. NC_WIRE_CHUNK_MAX) of
 * stream; the data follows it on the wire. Async-signal-safe. */
NC_MUST_CHECK nc_err nc_wire_chunk_header(unsigned stream, size_t len, uint8_t hdr[NC_WIRE_CHUNK_HEADER]);

/* The sandbox child's sending side (child.c, and the guest runner's in the
 * vm tier): all of iov to fd, a result frame, output as chunk frames.
 * Async-signal-safe (the deadline's handler sends through them); a write
 * that fails ends the process with status 3, which the supervisor reports
 * as a crash. */
void nc_wire_send_iov(int fd, struct iovec *v, int n);
void nc_wire_send_result(int fd, nc_err status, const nc_run_result *res);
void nc_wire_send_output(int fd, unsigned stream, const uint8_t *data, size_t len);

/* What was streamed so far, per stream, bounded by the run's caps. */
typedef struct {
    nc_buf out, err;
} nc_wire_stream;
void nc_wire_stream_init(nc_wire_stream *s, size_t stdout_cap, size_t stderr_cap);
void nc_wire_stream_cleanup(nc_wire_stream *s);
/* A frame body that starts with NC_WIRE_CHUNK_MAGIC? (Else it is a result.) */
bool nc_wire_is_chunk(const uint8_t *body, size_t len);
/* Parses a chunk frame body strictly and appends it to its stream.
 * NC_ERR_MALFORMED for a bad stream byte, an empty or oversized chunk,
 * trailing bytes, or bytes beyond the stream's cap (the child's own host
 * never writes past it). *stream, *data, *len: the chunk (data borrowed from
 * body). Nothing is appended on failure. */
NC_MUST_CHECK nc_err nc_wire_stream_chunk(nc_wire_stream *s, const uint8_t *body, size_t len, unsigned *stream,
                                          const uint8_t **data, size_t *data_len);
/* The result agrees with the stream: its stdout and stderr each begin with
 * exactly the bytes streamed (NC_ERR_MALFORMED otherwise). *out_from and
 * *err_from: where the bytes never streamed begin. */
NC_MUST_CHECK nc_err nc_wire_stream_check(const nc_wire_stream *s, const nc_run_result *r, size_t *out_from,
                                          size_t *err_from);
/* The supervisors' use of the above (sandbox.c, vm.c): a chunk frame body
 * checked, appended and handed to hooks->on_output (NC_ERR_MALFORMED for a
 * child that lies about its output); what was streamed, kept as the run's
 * output (a run that ended without a usable result: exactly the bytes the
 * caller was shown); and the output the result carries beyond what was
 * streamed, handed to hooks->on_output so that what the caller was shown
 * is what is recorded. */
NC_MUST_CHECK nc_err nc_wire_stream_forward(nc_wire_stream *s, const uint8_t *body, size_t len,
                                            const nc_run_hooks *hooks);
void nc_wire_stream_keep(nc_wire_stream *s, nc_run_result *res);
/* The result frame that ends a run: decoded under the caps and, if the run
 * streamed, checked against the stream (*out_from, *err_from: where what
 * was never streamed begins; 0 without a stream). NC_ERR_MALFORMED (res
 * cleaned up) for a result that is malformed or disagrees with the stream. */
NC_MUST_CHECK nc_err nc_wire_stream_result(const nc_wire_stream *s, bool streaming, const uint8_t *body, size_t len,
                                           size_t stdout_cap, size_t stderr_cap, nc_err *status, nc_run_result *res,
                                           size_t *out_from, size_t *err_from);
void nc_wire_stream_rest(const nc_run_hooks *hooks, const nc_run_result *res, size_t out_from, size_t err_from);

#endif
