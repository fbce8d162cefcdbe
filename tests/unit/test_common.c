/* src/common: bounded reader, capped buffer, hashing, files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <cmocka.h>
#include "common/buf.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/reader.h"

static void test_reader_reads_and_never_overruns(void **state)
{
    (void)state;
    const uint8_t d[] = {0x01, 0x00, 0x00, 0x01, 0x00, 0x02, 'a', 'b'};
    nc_reader r;
    uint8_t u8;
    uint32_t u32;
    const uint8_t *p;
    size_t n;
    nc_reader_init(&r, d, sizeof d);
    assert_int_equal(nc_read_u8(&r, &u8), NC_OK);
    assert_int_equal(u8, 1);
    assert_int_equal(nc_read_u32be(&r, &u32), NC_OK);
    assert_int_equal(u32, 0x00000100);
    /* string of declared length 2 but only "b" and nothing after 0x02,'a'... */
    nc_reader_init(&r, d + 2, 6);   /* 00 01 00 02 'a' 'b' : length 0x00010002 */
    assert_int_equal(nc_read_string(&r, 1u << 20, &p, &n), NC_ERR_TRUNCATED);
    assert_int_equal(r.pos, 0);   /* a failed read does not move */
    assert_null(p);
    assert_int_equal(nc_read_string(&r, 16, &p, &n), NC_ERR_TOO_LARGE);
    assert_int_equal(r.pos, 0);
    assert_int_equal(nc_read_bytes(&r, 7, &p), NC_ERR_TRUNCATED);
    assert_int_equal(nc_read_bytes(&r, SIZE_MAX, &p), NC_ERR_TRUNCATED);
    assert_int_equal(nc_read_bytes(&r, 6, &p), NC_OK);
    assert_int_equal(nc_read_expect_end(&r), NC_OK);
    assert_int_equal(nc_read_u8(&r, &u8), NC_ERR_TRUNCATED);
    nc_reader_init(&r, d, 1);
    assert_int_equal(nc_read_expect_end(&r), NC_ERR_TRAILING);
}

static void test_uleb(void **state)
{
    (void)state;
    nc_reader r;
    uint32_t v;
    const uint8_t ok1[] = {0xe5, 0x8e, 0x26};
    nc_reader_init(&r, ok1, sizeof ok1);
    assert_int_equal(nc_read_uleb32(&r, &v), NC_OK);
    assert_int_equal(v, 624485);
    const uint8_t max[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    nc_reader_init(&r, max, sizeof max);
    assert_int_equal(nc_read_uleb32(&r, &v), NC_OK);
    assert_int_equal(v, UINT32_MAX);
    const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
    nc_reader_init(&r, over, sizeof over);
    assert_int_equal(nc_read_uleb32(&r, &v), NC_ERR_MALFORMED);
    assert_int_equal(r.pos, 0);
    const uint8_t toolong[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    nc_reader_init(&r, toolong, sizeof toolong);
    assert_int_equal(nc_read_uleb32(&r, &v), NC_ERR_MALFORMED);
    const uint8_t cut[] = {0x80, 0x80};
    nc_reader_init(&r, cut, sizeof cut);
    assert_int_equal(nc_read_uleb32(&r, &v), NC_ERR_TRUNCATED);
    assert_int_equal(r.pos, 0);
}

static void test_buf_caps(void **state)
{
    (void)state;
    nc_buf b;
    nc_buf_init(&b, 10);
    assert_int_equal(nc_buf_append(&b, "hello", 5), NC_OK);
    assert_false(b.truncated);
    assert_int_equal(nc_buf_append(&b, "world!!", 7), NC_ERR_TOO_LARGE);
    assert_true(b.truncated);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "helloworld", 10);
    assert_true(b.cap <= 10);
    assert_int_equal(nc_buf_append(&b, "x", 1), NC_ERR_TOO_LARGE);
    nc_buf_cleanup(&b);
    nc_buf_init(&b, 0);
    assert_int_equal(nc_buf_append(&b, "x", 1), NC_ERR_TOO_LARGE);
    assert_int_equal(nc_buf_append(&b, "", 0), NC_OK);
    nc_buf_cleanup(&b);
}

static void test_sha256_and_hex(void **state)
{
    (void)state;
    uint8_t h[32];
    char hex[65];
    assert_int_equal(nc_sha256("abc", 3, h), NC_OK);
    nc_hex(h, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    uint8_t back[32];
    assert_int_equal(nc_unhex(hex, 64, back, 32), NC_OK);
    assert_memory_equal(back, h, 32);
    hex[5] = 'A';
    assert_int_equal(nc_unhex(hex, 64, back, 32), NC_ERR_MALFORMED);
    assert_int_equal(nc_unhex(hex, 63, back, 32), NC_ERR_MALFORMED);
    /* the prefixed form is sha256 of the prefix byte and the data together */
    static const uint8_t zabc[] = {0x00, 'a', 'b', 'c'};
    uint8_t whole[32];
    assert_int_equal(nc_sha256_prefixed(0x00, "abc", 3, h), NC_OK);
    assert_int_equal(nc_sha256(zabc, sizeof zabc, whole), NC_OK);
    assert_memory_equal(h, whole, 32);
    nc_hex(h, 32, hex);
    assert_string_equal(hex, "609f6e36d2405585188d5cfd761f407c7cc46a7d3f314c88270469dde315fcd1");
    assert_int_equal(nc_sha256_prefixed(0x01, "", 0, h), NC_OK);
    assert_int_equal(nc_sha256("\x01", 1, whole), NC_OK);
    assert_memory_equal(h, whole, 32);
}

/* The canonical form compared as it is written: equal bytes only, not a
 * prefix, not a longer text, not another order or spacing. */
static void test_is_canonical(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:i, s:s, s:[i,i]}", "seq", 7, "kind", "x", "a", 1, 2);
    size_t len = 0;
    char *text = nc_json_canonical(v, &len);
    assert_string_equal(text, "{\"a\":[1,2],\"kind\":\"x\",\"seq\":7}");
    assert_true(nc_json_is_canonical(v, text, len));
    assert_false(nc_json_is_canonical(v, text, len - 1));
    char longer[64];
    snprintf(longer, sizeof longer, "%s ", text);
    assert_false(nc_json_is_canonical(v, longer, len + 1));
    static const char reordered[] = "{\"seq\":7,\"kind\":\"x\",\"a\":[1,2]}";
    assert_false(nc_json_is_canonical(v, reordered, sizeof reordered - 1));
    static const char spaced[] = "{\"a\": [1,2],\"kind\":\"x\",\"seq\":7}";
    assert_false(nc_json_is_canonical(v, spaced, sizeof spaced - 1));
    assert_false(nc_json_is_canonical(v, "", 0));
    free(text);
    json_decref(v);
}

/* A short write consumes whole iovecs, then part of the next. */
static void test_iov_consume(void **state)
{
    (void)state;
    char a[4] = "abcd", b[3] = "efg";
    struct iovec iov[2] = {{a, 4}, {b, 3}}, *v = iov;
    int n = 2;
    nc_iov_consume(&v, &n, 0);
    assert_int_equal(n, 2);
    assert_ptr_equal(v, iov);
    nc_iov_consume(&v, &n, 5);
    assert_int_equal(n, 1);
    assert_ptr_equal(v, iov + 1);
    assert_ptr_equal(v->iov_base, b + 1);
    assert_int_equal(v->iov_len, 2);
    nc_iov_consume(&v, &n, 2);
    assert_int_equal(n, 0);
}

static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/nc-test-fs-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[256];
    snprintf(p, sizeof p, "%s/a/b/c", dir);
    assert_int_equal(nc_mkdir_p(p, 0700), NC_OK);
    snprintf(p, sizeof p, "%s/a/file", dir);
    assert_int_equal(nc_write_file_atomic(p, "0123456789", 10, 0600), NC_OK);
    uint8_t *data;
    size_t len;
    assert_int_equal(nc_read_file(p, 10, &data, &len), NC_OK);
    assert_int_equal(len, 10);
    free(data);
    assert_int_equal(nc_read_file(p, 9, &data, &len), NC_ERR_TOO_LARGE);
    assert_null(data);
    snprintf(p, sizeof p, "%s/missing", dir);
    assert_int_equal(nc_read_file(p, 9, &data, &len), NC_ERR_NOT_FOUND);
    /* a pipe (no size up front) is bounded too */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "abcdefgh", 8), 8);
    close(fds[1]);
    assert_int_equal(nc_read_fd(fds[0], 4, &data, &len), NC_ERR_TOO_LARGE);
    close(fds[0]);
    snprintf(p, sizeof p, "rm -rf %s", dir);
    assert_int_equal(system(p), 0);
}

static void test_error_table(void **state)
{
    (void)state;
    assert_string_equal(nc_errcode(NC_ERR_TOO_LARGE), "too_large");
    assert_string_equal(nc_errcode(NC_ERR_INVALID_MODULE), "invalid_module");
    assert_string_equal(nc_strerror((nc_err)9999), "unknown error");
    for (int e = 0; e < NC_ERR_COUNT; e++) {
        assert_non_null(nc_strerror((nc_err)e));
        assert_non_null(nc_errcode((nc_err)e));
    }
}

/* Whatever goes in, what comes out is small: wide, deep and long inputs. */
static void test_json_bounded(void **state)
{
    (void)state;
    json_t *wide = json_array();
    for (int i = 0; i < 100000; i++)
        json_array_append_new(wide, json_pack("{s:s, s:i}", "name", "x", "i", i));
    json_t *deep = json_array(), *cur = deep;
    for (int i = 0; i < 100; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    char *big = malloc(4u << 20);
    assert_non_null(big);
    memset(big, 'a', 4u << 20);
    big[0] = (char)0xc3;   /* a two-byte character straddling nothing */
    big[1] = (char)0xa9;
    memcpy(big + 199, "\xc3\xa9", 2);   /* one straddling the cut at 200 */
    json_t *in = json_pack("{s:o, s:o, s:s%, s:i}", "wide", wide, "deep", deep, "long", big, (size_t)(4u << 20), "n", 7);
    free(big);
    assert_non_null(in);
    json_t *out = nc_json_bounded(in, 64, 200);
    assert_non_null(out);
    size_t len;
    char *text = nc_json_canonical(out, &len);
    assert_non_null(text);
    assert_true(len < 300u * NC_JSON_BOUNDED_NODES);
    assert_int_equal(json_integer_value(json_object_get(out, "n")), 7);
    json_t *w = json_object_get(out, "wide");
    assert_int_equal(json_array_size(w), 65);
    assert_string_equal(json_string_value(json_array_get(w, 64)), "... and 99936 more");
    const char *l = json_string_value(json_object_get(out, "long"));
    assert_non_null(l);
    assert_int_equal(strncmp(l + 199, "... (4194304 bytes)", 19), 0);   /* cut before the character */
    assert_non_null(strstr(text, "\"...\""));   /* the deep nesting cut */
    /* a node budget, not just a per-level one: 64 x 64 x 64 nested arrays */
    json_t *cube = json_array();
    for (int i = 0; i < 64; i++) {
        json_t *sq = json_array();
        for (int j = 0; j < 64; j++) {
            json_t *row = json_array();
            for (int k = 0; k < 64; k++)
                json_array_append_new(row, json_string("0123456789"));
            json_array_append_new(sq, row);
        }
        json_array_append_new(cube, sq);
    }
    json_t *cb = nc_json_bounded(cube, 64, 200);
    char *ct = nc_json_canonical(cb, &len);
    assert_true(len < 20u * NC_JSON_BOUNDED_NODES);
    free(ct);
    json_decref(cb);
    json_decref(cube);
    free(text);
    json_decref(out);
    json_decref(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_reads_and_never_overruns),
        cmocka_unit_test(test_uleb),
        cmocka_unit_test(test_buf_caps),
        cmocka_unit_test(test_sha256_and_hex),
        cmocka_unit_test(test_is_canonical),
        cmocka_unit_test(test_iov_consume),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_json_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
