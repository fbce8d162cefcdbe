/* Supervisor <-> child wire format: round trips and hostile results. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/uio.h>
#include "sandbox/compile.h"
#include "sandbox/internal.h"

static nc_run_result sample_result(void)
{
    nc_run_result r;
    memset(&r, 0, sizeof r);
    r.outcome = NC_OUTCOME_EXIT;
    r.exit_code = 3;
    snprintf(r.trap_kind, sizeof r.trap_kind, "none");
    snprintf(r.message, sizeof r.message, "exited");
    r.out = (uint8_t *)"out!";
    r.out_len = 4;
    r.err = (uint8_t *)"e";
    r.err_len = 1;
    r.limits_hit = NC_LIMIT(NC_LIMIT_MEMORY);
    r.calls[NC_WASI_FN_fd_write] = 9;
    r.denied_total = 5;
    r.ndenied = 1;
    r.denied[0].fn = NC_WASI_FN_path_open;
    r.denied[0].reason = NC_DENY_ESCAPE;
    snprintf(r.denied[0].detail, sizeof r.denied[0].detail, "../x");
    r.isolation.seccomp = true;
    r.isolation.landlock_abi = 7;
    r.t_execute_ns = 1234;
    return r;
}

static void encode_sample(nc_buf *b)
{
    nc_run_result r = sample_result();
    nc_buf_init(b, 1u << 20);
    assert_int_equal(nc_wire_encode_result(NC_OK, &r, b), NC_OK);
}

static void test_result_round_trip(void **state)
{
    (void)state;
    nc_buf b;
    encode_sample(&b);
    nc_run_result out;
    memset(&out, 0, sizeof out);
    nc_err status;
    assert_int_equal(nc_wire_decode_result(b.data, b.len, 100, 100, &status, &out), NC_OK);
    assert_int_equal(status, NC_OK);
    assert_int_equal(out.outcome, NC_OUTCOME_EXIT);
    assert_int_equal(out.exit_code, 3);
    assert_memory_equal(out.out, "out!", 4);
    assert_int_equal(out.calls[NC_WASI_FN_fd_write], 9);
    assert_int_equal(out.denied_total, 5);
    assert_string_equal(out.denied[0].detail, "../x");
    assert_int_equal(out.isolation.landlock_abi, 7);
    assert_true(out.isolation.seccomp);
    assert_int_equal(out.t_execute_ns, 1234);
    nc_run_result_cleanup(&out);
    nc_buf_cleanup(&b);
}

/* The frame the child writes (iovecs, output not copied) is the length
 * prefix followed by exactly the encoded result; fields at their longest fit
 * the fixed scratch, and a scratch too small is refused, not overrun. */
static void test_result_frame(void **state)
{
    (void)state;
    nc_run_result r = sample_result();
    nc_buf b;
    encode_sample(&b);
    uint8_t scratch[NC_WIRE_RESULT_FIXED_MAX], frame[8192];
    struct iovec iov[NC_WIRE_RESULT_IOVS];
    assert_int_equal(nc_wire_result_frame(NC_OK, &r, scratch, sizeof scratch, iov), NC_OK);
    assert_ptr_equal(iov[1].iov_base, r.out);
    size_t n = 0;
    for (int i = 0; i < NC_WIRE_RESULT_IOVS; i++) {
        memcpy(frame + n, iov[i].iov_base, iov[i].iov_len);
        n += iov[i].iov_len;
    }
    assert_int_equal(n, 4 + b.len);
    assert_int_equal((uint32_t)frame[0] << 24 | (uint32_t)frame[1] << 16 | (uint32_t)frame[2] << 8 | frame[3], b.len);
    assert_memory_equal(frame + 4, b.data, b.len);
    nc_buf_cleanup(&b);

    memset(r.message, 'm', sizeof r.message - 1);
    memset(r.trap_kind, 'k', sizeof r.trap_kind - 1);
    r.ndenied = NC_WASI_MAX_DENIED;
    r.denied_total = NC_WASI_MAX_DENIED;
    for (unsigned i = 0; i < NC_WASI_MAX_DENIED; i++)
        memset(r.denied[i].detail, 'd', sizeof r.denied[i].detail - 1);
    assert_int_equal(nc_wire_result_frame(NC_OK, &r, scratch, sizeof scratch, iov), NC_OK);
    assert_int_equal(nc_wire_result_frame(NC_OK, &r, scratch, 100, iov), NC_ERR_TOO_LARGE);
}

/* Output longer than the cap the supervisor asked for is refused. */
static void test_result_over_cap_refused(void **state)
{
    (void)state;
    nc_buf b;
    encode_sample(&b);
    nc_run_result out;
    memset(&out, 0, sizeof out);
    nc_err status;
    assert_int_equal(nc_wire_decode_result(b.data, b.len, 3, 100, &status, &out), NC_ERR_TOO_LARGE);
    assert_null(out.out);
    nc_buf_cleanup(&b);
}

/* Every truncation and every single-byte corruption is either refused or
 * decodes to something within the caps; never a crash (ASan checks). */
static void test_result_truncations_and_flips(void **state)
{
    (void)state;
    nc_buf b;
    encode_sample(&b);
    nc_run_result out;
    nc_err status;
    for (size_t cut = 0; cut < b.len; cut++) {
        memset(&out, 0, sizeof out);
        assert_int_not_equal(nc_wire_decode_result(b.data, cut, 100, 100, &status, &out), NC_OK);
    }
    for (size_t i = 0; i < b.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b.data[i] ^= (uint8_t)(1 << bit);
            memset(&out, 0, sizeof out);
            if (nc_wire_decode_result(b.data, b.len, 100, 100, &status, &out) == NC_OK) {
                assert_true(out.out_len <= 100 && out.err_len <= 100);
                assert_true(out.ndenied <= NC_WASI_MAX_DENIED);
                assert_true(out.outcome < NC_OUTCOME_COUNT);
                nc_run_result_cleanup(&out);
            }
            b.data[i] ^= (uint8_t)(1 << bit);
        }
    }
    /* trailing byte */
    assert_int_equal(nc_buf_put_u8(&b, 0), NC_OK);
    memset(&out, 0, sizeof out);
    assert_int_equal(nc_wire_decode_result(b.data, b.len, 100, 100, &status, &out), NC_ERR_TRAILING);
    nc_buf_cleanup(&b);
}

static void test_spec_round_trip_and_refusals(void **state)
{
    (void)state;
    const char *const argv[] = {"prog", "a"};
    const char *const env[] = {"K=V"};
    nc_dir_grant dirs[] = {{.host = "/host", .guest = "/data", .readonly = true, .dev = 9, .ino = 10},
                           {.host = "/scratch", .guest = "/scratch", .readonly = false,
                            .quota_bytes = 1u << 20, .quota_files = 100}};
    nc_run_spec s;
    memset(&s, 0, sizeof s);
    nc_limits_default(&s.limits);
    s.args = argv;
    s.nargs = 2;
    s.env = env;
    s.nenv = 1;
    s.stdin_data = (const uint8_t *)"in";
    s.stdin_len = 2;
    s.dirs = dirs;
    s.ndirs = 2;
    uint8_t sha[32] = {1, 2, 3};
    nc_buf b;
    nc_buf_init(&b, 1u << 20);
    assert_int_equal(nc_wire_encode_spec(&s, true, sha, 42, &b), NC_OK);
    nc_wire_spec ws;
    assert_int_equal(nc_wire_decode_spec(b.data, b.len, &ws), NC_OK);
    assert_int_equal(ws.spec.nargs, 2);
    assert_string_equal(ws.spec.args[1], "a");
    assert_string_equal(ws.spec.env[0], "K=V");
    assert_int_equal(ws.spec.stdin_len, 2);
    /* borrowed, not copied: stdin sits just before the directories (their count,
     * then per directory its guest path, ro flag and two u64 quotas) */
    size_t dirs_len = 4 + (4 + strlen("/data") + 1 + 16) + (4 + strlen("/scratch") + 1 + 16);
    assert_ptr_equal(ws.spec.stdin_data, b.data + (b.len - 2 - dirs_len));
    assert_memory_equal(ws.spec.stdin_data, "in", 2);
    assert_string_equal(ws.spec.dirs[0].guest, "/data");
    assert_true(ws.spec.dirs[0].readonly);
    assert_null(ws.spec.dirs[0].host);
    /* the child learns neither host paths nor inode numbers, only quotas */
    assert_int_equal(ws.spec.dirs[0].dev, 0);
    assert_int_equal(ws.spec.dirs[0].ino, 0);
    assert_int_equal(ws.spec.dirs[0].quota_bytes, 0);
    assert_int_equal(ws.spec.ndirs, 2);
    assert_false(ws.spec.dirs[1].readonly);
    assert_int_equal(ws.spec.dirs[1].quota_bytes, 1u << 20);
    assert_int_equal(ws.spec.dirs[1].quota_files, 100);
    assert_true(ws.fuel);
    assert_int_equal(ws.sent_ns, 42);
    assert_memory_equal(ws.artifact_sha256, sha, 32);
    nc_wire_spec_cleanup(&ws);
    for (size_t cut = 0; cut < b.len; cut++)
        assert_int_not_equal(nc_wire_decode_spec(b.data, cut, &ws), NC_OK);

    /* The three parts the supervisor sends are the same body. */
    nc_buf head, tail;
    nc_buf_init(&head, 1u << 20);
    nc_buf_init(&tail, 1u << 20);
    assert_int_equal(nc_wire_encode_spec_parts(&s, true, sha, 42, &head, &tail), NC_OK);
    assert_int_equal(head.len + s.stdin_len + tail.len, b.len);
    assert_memory_equal(head.data, b.data, head.len);
    assert_memory_equal(b.data + head.len, "in", 2);
    assert_memory_equal(tail.data, b.data + head.len + 2, tail.len);
    nc_buf_cleanup(&head);
    nc_buf_cleanup(&tail);
    nc_buf_cleanup(&b);

    /* a quota on a read-only grant is never sent... */
    dirs[0].quota_bytes = 5;
    nc_buf_init(&b, 1u << 20);
    assert_int_equal(nc_wire_encode_spec(&s, true, sha, 42, &b), NC_OK);
    assert_int_equal(nc_wire_decode_spec(b.data, b.len, &ws), NC_OK);
    assert_int_equal(ws.spec.dirs[0].quota_bytes, 0);
    nc_wire_spec_cleanup(&ws);
    /* ...and refused if one arrives: patch the read-only flag of the second
     * directory (the byte before its two quotas) */
    size_t flag = b.len - 17;
    assert_int_equal(b.data[flag], 0);
    b.data[flag] = 1;
    assert_int_equal(nc_wire_decode_spec(b.data, b.len, &ws), NC_ERR_MALFORMED);
    b.data[flag] = 2;
    assert_int_equal(nc_wire_decode_spec(b.data, b.len, &ws), NC_ERR_MALFORMED);
    nc_buf_cleanup(&b);
    dirs[0].quota_bytes = 0;

    /* env without '=' and relative guest paths are refused */
    const char *const badenv[] = {"NOEQ"};
    s.env = badenv;
    nc_buf_init(&b, 1u << 20);
    assert_int_equal(nc_wire_encode_spec(&s, false, sha, 0, &b), NC_OK);
    assert_int_equal(nc_wire_decode_spec(b.data, b.len, &ws), NC_ERR_MALFORMED);
    nc_buf_cleanup(&b);
    s.env = env;
    nc_dir_grant rel[] = {{.host = "/host", .guest = "data", .readonly = false}};
    s.dirs = rel;
    s.ndirs = 1;
    nc_buf_init(&b, 1u << 20);
    assert_int_equal(nc_wire_encode_spec(&s, false, sha, 0, &b), NC_OK);
    assert_int_equal(nc_wire_decode_spec(b.data, b.len, &ws), NC_ERR_MALFORMED);
    nc_buf_cleanup(&b);
    s.dirs = dirs;
    s.ndirs = 2;
    s.limits.timeout_ms = 0;
    nc_buf_init(&b, 1u << 20);
    assert_int_equal(nc_wire_encode_spec(&s, false, sha, 0, &b), NC_OK);
    assert_int_equal(nc_wire_decode_spec(b.data, b.len, &ws), NC_ERR_USAGE);
    nc_buf_cleanup(&b);
}

/* A chunk frame as the child writes it: header, then the data. */
static size_t chunk_frame(uint8_t *frame, unsigned stream, const void *data, size_t len)
{
    uint8_t hdr[NC_WIRE_CHUNK_HEADER];
    assert_int_equal(nc_wire_chunk_header(stream, len, hdr), NC_OK);
    memcpy(frame, hdr, sizeof hdr);
    memcpy(frame + sizeof hdr, data, len);
    return sizeof hdr + len;
}

static void test_chunks_round_trip_and_caps(void **state)
{
    (void)state;
    static uint8_t frame[NC_WIRE_CHUNK_HEADER + NC_WIRE_CHUNK_MAX + 8];
    nc_wire_stream st;
    nc_wire_stream_init(&st, 10, 4);
    unsigned which;
    const uint8_t *data;
    size_t dlen;
    size_t n = chunk_frame(frame, 1, "hello", 5);
    /* the frame's length prefix counts the body */
    assert_int_equal((size_t)frame[3] + 4, n);
    assert_true(nc_wire_is_chunk(frame + 4, n - 4));
    assert_int_equal(nc_wire_stream_chunk(&st, frame + 4, n - 4, &which, &data, &dlen), NC_OK);
    assert_int_equal(which, 1);
    assert_int_equal(dlen, 5);
    assert_memory_equal(data, "hello", 5);
    n = chunk_frame(frame, 2, "ab", 2);
    assert_int_equal(nc_wire_stream_chunk(&st, frame + 4, n - 4, &which, &data, &dlen), NC_OK);
    assert_int_equal(which, 2);
    /* exactly to the cap is fine; one byte past it is a lie */
    n = chunk_frame(frame, 1, "12345", 5);
    assert_int_equal(nc_wire_stream_chunk(&st, frame + 4, n - 4, &which, &data, &dlen), NC_OK);
    assert_int_equal(st.out.len, 10);
    n = chunk_frame(frame, 1, "x", 1);
    assert_int_equal(nc_wire_stream_chunk(&st, frame + 4, n - 4, &which, &data, &dlen), NC_ERR_MALFORMED);
    assert_int_equal(st.out.len, 10);   /* nothing appended */
    assert_null(data);
    n = chunk_frame(frame, 2, "cde", 3);
    assert_int_equal(nc_wire_stream_chunk(&st, frame + 4, n - 4, &which, &data, &dlen), NC_ERR_MALFORMED);
    assert_int_equal(st.err.len, 2);

    /* hostile frames: bad stream, empty, oversized, trailing bytes, short,
     * wrong magic */
    n = chunk_frame(frame, 2, "z", 1);
    frame[8] = 3;
    assert_int_equal(nc_wire_stream_chunk(&st, frame + 4, n - 4, &which, &data, &dlen), NC_ERR_MALFORMED);
    frame[8] = 0;
    assert_int_equal(nc_wire_stream_chunk(&st, frame + 4, n - 4, &which, &data, &dlen), NC_ERR_MALFORMED);
    frame[8] = 2;
    frame[12] = 0;   /* declared length 0 */
    assert_int_not_equal(nc_wire_stream_chunk(&st, frame + 4, n - 4, &which, &data, &dlen), NC_OK);
    frame[12] = 1;
    assert_int_not_equal(nc_wire_stream_chunk(&st, frame + 4, n - 4 + 1, &which, &data, &dlen), NC_OK);
    for (size_t cut = 0; cut < n - 4; cut++)
        assert_int_not_equal(nc_wire_stream_chunk(&st, frame + 4, cut, &which, &data, &dlen), NC_OK);
    frame[4] ^= 1;
    assert_false(nc_wire_is_chunk(frame + 4, n - 4));
    assert_int_equal(nc_wire_stream_chunk(&st, frame + 4, n - 4, &which, &data, &dlen), NC_ERR_MALFORMED);
    assert_false(nc_wire_is_chunk(frame + 4, 3));
    /* a declared length over NC_WIRE_CHUNK_MAX is refused before anything */
    nc_wire_stream big;
    nc_wire_stream_init(&big, NC_MAX_OUTPUT_BYTES, NC_MAX_OUTPUT_BYTES);
    static uint8_t filler[NC_WIRE_CHUNK_MAX + 1];
    n = chunk_frame(frame, 1, filler, NC_WIRE_CHUNK_MAX);
    assert_int_equal(nc_wire_stream_chunk(&big, frame + 4, n - 4, &which, &data, &dlen), NC_OK);
    uint32_t over = NC_WIRE_CHUNK_MAX + 1;
    frame[9] = (uint8_t)(over >> 24), frame[10] = (uint8_t)(over >> 16), frame[11] = (uint8_t)(over >> 8),
    frame[12] = (uint8_t)over;
    frame[n] = 'x';
    assert_int_not_equal(nc_wire_stream_chunk(&big, frame + 4, n - 4 + 1, &which, &data, &dlen), NC_OK);
    assert_int_equal(big.out.len, NC_WIRE_CHUNK_MAX);
    nc_wire_stream_cleanup(&big);
    /* the encoder refuses what the decoder would */
    uint8_t hdr[NC_WIRE_CHUNK_HEADER];
    assert_int_equal(nc_wire_chunk_header(0, 1, hdr), NC_ERR_USAGE);
    assert_int_equal(nc_wire_chunk_header(3, 1, hdr), NC_ERR_USAGE);
    assert_int_equal(nc_wire_chunk_header(1, 0, hdr), NC_ERR_USAGE);
    assert_int_equal(nc_wire_chunk_header(1, NC_WIRE_CHUNK_MAX + 1, hdr), NC_ERR_USAGE);
    nc_wire_stream_cleanup(&st);
}

/* The result must begin with what was streamed. */
static void test_stream_check(void **state)
{
    (void)state;
    static uint8_t frame[64];
    nc_wire_stream st;
    nc_wire_stream_init(&st, 100, 100);
    unsigned which;
    const uint8_t *data;
    size_t dlen;
    size_t n = chunk_frame(frame, 1, "ou", 2);
    assert_int_equal(nc_wire_stream_chunk(&st, frame + 4, n - 4, &which, &data, &dlen), NC_OK);
    nc_run_result r = sample_result();   /* out "out!", err "e" */
    size_t of, ef;
    assert_int_equal(nc_wire_stream_check(&st, &r, &of, &ef), NC_OK);
    assert_int_equal(of, 2);
    assert_int_equal(ef, 0);
    n = chunk_frame(frame, 2, "x", 1);   /* stderr streamed "x", result says "e" */
    assert_int_equal(nc_wire_stream_chunk(&st, frame + 4, n - 4, &which, &data, &dlen), NC_OK);
    assert_int_equal(nc_wire_stream_check(&st, &r, &of, &ef), NC_ERR_MALFORMED);
    nc_wire_stream_cleanup(&st);
    /* more streamed than the result holds */
    nc_wire_stream_init(&st, 100, 100);
    n = chunk_frame(frame, 1, "out!!", 5);
    assert_int_equal(nc_wire_stream_chunk(&st, frame + 4, n - 4, &which, &data, &dlen), NC_OK);
    assert_int_equal(nc_wire_stream_check(&st, &r, &of, &ef), NC_ERR_MALFORMED);
    nc_wire_stream_cleanup(&st);
}

/* Only the supervisor cancels, only the worker interrupts: a child that
 * claims either outcome is refused; the spec's flags byte is strict. */
static void test_outcomes_children_cannot_claim(void **state)
{
    (void)state;
    nc_run_result r = sample_result();
    nc_run_result out;
    nc_err status;
    nc_outcome claims[] = {NC_OUTCOME_CANCELLED, NC_OUTCOME_INTERRUPTED};
    for (int i = 0; i < 2; i++) {
        r.outcome = claims[i];
        nc_buf b;
        nc_buf_init(&b, 1u << 20);
        assert_int_equal(nc_wire_encode_result(NC_OK, &r, &b), NC_OK);
        memset(&out, 0, sizeof out);
        assert_int_equal(nc_wire_decode_result(b.data, b.len, 100, 100, &status, &out), NC_ERR_MALFORMED);
        nc_buf_cleanup(&b);
    }
    nc_run_spec s;
    memset(&s, 0, sizeof s);
    nc_limits_default(&s.limits);
    uint8_t sha[32] = {0};
    nc_buf b;
    nc_buf_init(&b, 1u << 20);
    assert_int_equal(nc_wire_encode_spec(&s, NC_WIRE_SPEC_FUEL | NC_WIRE_SPEC_STREAM, sha, 1, &b), NC_OK);
    nc_wire_spec ws;
    assert_int_equal(nc_wire_decode_spec(b.data, b.len, &ws), NC_OK);
    assert_true(ws.fuel);
    assert_true(ws.stream);
    nc_wire_spec_cleanup(&ws);
    b.data[12] = 4;   /* the flags byte: magic (4), sent_ns (8), flags */
    assert_int_equal(nc_wire_decode_spec(b.data, b.len, &ws), NC_ERR_MALFORMED);
    b.data[12] = NC_WIRE_SPEC_STREAM;
    assert_int_equal(nc_wire_decode_spec(b.data, b.len, &ws), NC_OK);
    assert_false(ws.fuel);
    assert_true(ws.stream);
    nc_wire_spec_cleanup(&ws);
    nc_buf_reset(&b);
    assert_int_equal(nc_wire_encode_spec(&s, 4, sha, 1, &b), NC_ERR_USAGE);
    nc_buf_cleanup(&b);
}

/* ---- compile child frames (compile.h) ---- */

/* A request body (without the frame length) for a module of len bytes. */
static void compile_request(nc_buf *b, bool fuel, nc_compile_target target, const uint8_t *wasm, size_t len)
{
    uint8_t head[NC_WIRE_COMPILE_HEAD];
    nc_buf_init(b, 1u << 20);
    assert_int_equal(nc_wire_compile_head(fuel, target, 0, len, head), NC_OK);
    assert_int_equal(nc_buf_append(b, head + 4, sizeof head - 4), NC_OK);
    assert_int_equal(nc_buf_append(b, wasm, len), NC_OK);
    uint32_t framed = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
    assert_int_equal(framed, b->len);
}

static void test_compile_request_round_trip_and_refusals(void **state)
{
    (void)state;
    static const uint8_t wasm[] = "\0asm\1\0\0\0";
    nc_buf b;
    nc_wire_compile rq;
    /* the vm tier's target round-trips too */
    compile_request(&b, false, NC_COMPILE_TARGET_VM, wasm, 8);
    assert_int_equal(nc_wire_decode_compile(b.data, b.len, &rq), NC_OK);
    assert_false(rq.fuel);
    assert_int_equal(rq.target, NC_COMPILE_TARGET_VM);
    nc_buf_cleanup(&b);
    compile_request(&b, true, NC_COMPILE_TARGET_HOST, wasm, 8);
    assert_int_equal(nc_wire_decode_compile(b.data, b.len, &rq), NC_OK);
    assert_true(rq.fuel);
    assert_int_equal(rq.target, NC_COMPILE_TARGET_HOST);
    assert_int_equal(rq.hook, 0);
    assert_int_equal(rq.wasm_len, 8);
    assert_memory_equal(rq.wasm, wasm, 8);
    /* every truncation, and a byte too many */
    for (size_t n = 0; n < b.len; n++)
        assert_int_not_equal(nc_wire_decode_compile(b.data, n, &rq), NC_OK);
    assert_int_equal(nc_buf_put_u8(&b, 0), NC_OK);
    assert_int_equal(nc_wire_decode_compile(b.data, b.len, &rq), NC_ERR_MALFORMED);
    assert_null(rq.wasm);
    b.len--;
    /* flags: unknown bits, and a test action, which a production build refuses */
    static const uint8_t bad_flags[] = {0x04, 0x08, 0x0c, 0x10, 0x11, 0x13, 0x70, 0xf1};
    for (size_t i = 0; i < sizeof bad_flags; i++) {
        uint8_t keep = b.data[4];
        b.data[4] = bad_flags[i];
        assert_int_equal(nc_wire_decode_compile(b.data, b.len, &rq), NC_ERR_MALFORMED);
        b.data[4] = keep;
    }
    b.data[0] ^= 1;   /* magic */
    assert_int_equal(nc_wire_decode_compile(b.data, b.len, &rq), NC_ERR_MALFORMED);
    b.data[0] ^= 1;
    /* a module length past the cap, and one past the bytes */
    b.data[5] = 0x01;   /* 16 MiB + 1 */
    b.data[6] = b.data[7] = 0x00;
    b.data[8] = 0x01;
    assert_int_equal(nc_wire_decode_compile(b.data, b.len, &rq), NC_ERR_TOO_LARGE);
    b.data[5] = b.data[6] = b.data[7] = 0x00;
    b.data[8] = 9;
    assert_int_equal(nc_wire_decode_compile(b.data, b.len, &rq), NC_ERR_MALFORMED);
    /* an empty module */
    b.data[8] = 0;
    assert_int_equal(nc_wire_decode_compile(b.data, 9, &rq), NC_ERR_MALFORMED);
    nc_buf_cleanup(&b);
    uint8_t head[NC_WIRE_COMPILE_HEAD];
    assert_int_equal(nc_wire_compile_head(false, NC_COMPILE_TARGET_HOST, 0, 0, head), NC_ERR_TOO_LARGE);
    assert_int_equal(nc_wire_compile_head(false, NC_COMPILE_TARGET_HOST, 0, NC_MAX_MODULE_BYTES + 1, head),
                     NC_ERR_TOO_LARGE);
    assert_int_equal(nc_wire_compile_head(false, NC_COMPILE_TARGET_HOST, NC_COMPILE_HOOK_HANG, 8, head), NC_ERR_USAGE);
    assert_int_equal(nc_wire_compile_head(false, (nc_compile_target)2, 0, 8, head), NC_ERR_USAGE);
    assert_int_equal(nc_wire_compile_head(false, NC_COMPILE_TARGET_VM, 0, NC_MAX_MODULE_BYTES, head), NC_OK);
}

/* A reply body (without the frame length). */
static void compile_reply(nc_buf *b, nc_err status, const char *message, const void *art, size_t art_len)
{
    uint8_t head[NC_WIRE_ARTIFACT_FIXED + NC_COMPILE_MAX_MESSAGE];
    size_t hl;
    nc_isolation_report iso = {.userns = true, .netns = true, .no_new_privs = true, .caps_dropped = true,
                               .rlimits = true, .seccomp = true, .landlock_abi = 6};
    nc_buf_init(b, 1u << 20);
    assert_int_equal(nc_wire_artifact_head(status, &iso, 1234, message, art_len, head, sizeof head, &hl), NC_OK);
    assert_int_equal(nc_buf_append(b, head + 4, hl - 4), NC_OK);
    if (art_len)
        assert_int_equal(nc_buf_append(b, art, art_len), NC_OK);
}

static void test_compile_reply_round_trip(void **state)
{
    (void)state;
    nc_buf b;
    nc_wire_artifact rep;
    compile_reply(&b, NC_OK, "", "\x7f" "ELF\2\1\1", 7);
    assert_int_equal(nc_wire_decode_artifact(b.data, b.len, &rep), NC_OK);
    assert_int_equal(rep.status, NC_OK);
    assert_int_equal(rep.artifact_len, 7);
    assert_true(rep.artifact == b.data + b.len - 7);   /* borrowed, not copied */
    assert_true(rep.isolation.seccomp && rep.isolation.userns && rep.isolation.rlimits);
    assert_int_equal(rep.isolation.landlock_abi, 6);
    assert_int_equal(rep.compile_ns, 1234);
    assert_string_equal(rep.message, "");
    nc_buf_cleanup(&b);
    compile_reply(&b, NC_ERR_INVALID_MODULE, "invalid module: bad magic", NULL, 0);
    assert_int_equal(nc_wire_decode_artifact(b.data, b.len, &rep), NC_OK);
    assert_int_equal(rep.status, NC_ERR_INVALID_MODULE);
    assert_string_equal(rep.message, "invalid module: bad magic");
    assert_null(rep.artifact);
    nc_buf_cleanup(&b);
    /* the encoder: a long message is cut at the cap; no status a compiler cannot give */
    char longmsg[NC_COMPILE_MAX_MESSAGE + 100];
    memset(longmsg, 'x', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    compile_reply(&b, NC_ERR_INTERNAL, longmsg, NULL, 0);
    assert_int_equal(nc_wire_decode_artifact(b.data, b.len, &rep), NC_OK);
    assert_int_equal(strlen(rep.message), NC_COMPILE_MAX_MESSAGE);
    nc_buf_cleanup(&b);
    uint8_t head[NC_WIRE_ARTIFACT_FIXED + NC_COMPILE_MAX_MESSAGE];
    size_t hl;
    nc_isolation_report iso = {0};
    assert_int_not_equal(nc_wire_artifact_head(NC_ERR_HASH_MISMATCH, &iso, 0, "x", 0, head, sizeof head, &hl), NC_OK);
    assert_int_not_equal(nc_wire_artifact_head(NC_OK, &iso, 0, "", NC_MAX_ARTIFACT_BYTES + 1ull, head, sizeof head, &hl),
                         NC_OK);
    assert_int_not_equal(nc_wire_artifact_head(NC_OK, &iso, 0, "", 8, head, NC_WIRE_ARTIFACT_FIXED - 1, &hl), NC_OK);
}

/* What a compromised compile child might send instead. */
static void test_compile_reply_lies_refused(void **state)
{
    (void)state;
    nc_buf b;
    nc_wire_artifact rep;
    compile_reply(&b, NC_OK, "", "\x7f" "ELF\2\1\1", 7);
    for (size_t n = 0; n < b.len; n++)   /* every truncation */
        assert_int_equal(nc_wire_decode_artifact(b.data, n, &rep), NC_ERR_MALFORMED);
    assert_int_equal(nc_buf_put_u8(&b, 0), NC_OK);   /* trailing */
    assert_int_equal(nc_wire_decode_artifact(b.data, b.len, &rep), NC_ERR_MALFORMED);
    b.len--;
    /* status: one a compiler cannot report, and one past the enum */
    static const uint32_t lies[] = {NC_ERR_HASH_MISMATCH, NC_ERR_EXPIRED, NC_ERR_CHILD, NC_ERR_COUNT, 0xffffffffu};
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        uint8_t keep[4];
        memcpy(keep, b.data + 4, 4);
        b.data[4] = (uint8_t)(lies[i] >> 24), b.data[5] = (uint8_t)(lies[i] >> 16);
        b.data[6] = (uint8_t)(lies[i] >> 8), b.data[7] = (uint8_t)lies[i];
        assert_int_equal(nc_wire_decode_artifact(b.data, b.len, &rep), NC_ERR_MALFORMED);
        memcpy(b.data + 4, keep, 4);
    }
    b.data[8] |= 0x40;   /* isolation bits that mean nothing */
    assert_int_equal(nc_wire_decode_artifact(b.data, b.len, &rep), NC_ERR_MALFORMED);
    b.data[8] &= 0x3f;
    b.data[11] = 1;   /* Landlock ABI 256 + 6 */
    assert_int_equal(nc_wire_decode_artifact(b.data, b.len, &rep), NC_ERR_MALFORMED);
    b.data[11] = 0;
    b.data[b.len - 7] = 'X';   /* success with bytes that are not ELF */
    assert_int_equal(nc_wire_decode_artifact(b.data, b.len, &rep), NC_ERR_MALFORMED);
    nc_buf_cleanup(&b);
    /* success without an artifact, or with a message; failure with an artifact, or without a message */
    compile_reply(&b, NC_OK, "", NULL, 0);
    assert_int_equal(nc_wire_decode_artifact(b.data, b.len, &rep), NC_ERR_MALFORMED);
    nc_buf_cleanup(&b);
    compile_reply(&b, NC_OK, "fine", "\x7f" "ELF", 4);
    assert_int_equal(nc_wire_decode_artifact(b.data, b.len, &rep), NC_ERR_MALFORMED);
    nc_buf_cleanup(&b);
    compile_reply(&b, NC_ERR_INVALID_MODULE, "bad", "\x7f" "ELF", 4);
    assert_int_equal(nc_wire_decode_artifact(b.data, b.len, &rep), NC_ERR_MALFORMED);
    nc_buf_cleanup(&b);
    compile_reply(&b, NC_ERR_INVALID_MODULE, "", NULL, 0);
    assert_int_equal(nc_wire_decode_artifact(b.data, b.len, &rep), NC_ERR_MALFORMED);
    nc_buf_cleanup(&b);
    /* a message that is not one printable line */
    static const char bytes[] = {'\n', '\r', '\x1b', '\x7f', (char)0x80, '\0'};
    for (size_t i = 0; i < sizeof bytes; i++) {
        compile_reply(&b, NC_ERR_INVALID_MODULE, "invalid module: x", NULL, 0);
        b.data[b.len - 4 - 1] = (uint8_t)bytes[i];   /* the message's last byte, before the artifact's length */
        assert_int_equal(nc_wire_decode_artifact(b.data, b.len, &rep), NC_ERR_MALFORMED);
        assert_int_equal(rep.message[0], '\0');
        nc_buf_cleanup(&b);
    }
    /* lengths past the caps */
    compile_reply(&b, NC_ERR_INVALID_MODULE, "m", NULL, 0);
    size_t mpos = 4 + 4 + 1 + 4 + 8;   /* magic, status, bits, abi, time: the message's length */
    b.data[mpos + 2] = 0x10;           /* 4097 + ... bytes */
    assert_int_equal(nc_wire_decode_artifact(b.data, b.len, &rep), NC_ERR_MALFORMED);
    nc_buf_cleanup(&b);
    compile_reply(&b, NC_OK, "", "\x7f" "ELF", 4);
    b.data[b.len - 8] = 0x10;   /* the artifact's length: 256 MiB + 4 */
    assert_int_equal(nc_wire_decode_artifact(b.data, b.len, &rep), NC_ERR_MALFORMED);
    nc_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_round_trip),
        cmocka_unit_test(test_result_frame),
        cmocka_unit_test(test_result_over_cap_refused),
        cmocka_unit_test(test_result_truncations_and_flips),
        cmocka_unit_test(test_spec_round_trip_and_refusals),
        cmocka_unit_test(test_chunks_round_trip_and_caps),
        cmocka_unit_test(test_stream_check),
        cmocka_unit_test(test_outcomes_children_cannot_claim),
        cmocka_unit_test(test_compile_request_round_trip_and_refusals),
        cmocka_unit_test(test_compile_reply_round_trip),
        cmocka_unit_test(test_compile_reply_lies_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
