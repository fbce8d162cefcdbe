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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_round_trip),
        cmocka_unit_test(test_result_frame),
        cmocka_unit_test(test_result_over_cap_refused),
        cmocka_unit_test(test_result_truncations_and_flips),
        cmocka_unit_test(test_spec_round_trip_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
