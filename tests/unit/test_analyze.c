/* src/analyze/wasm.c: static analysis of real fixtures (exact imports and
 * capabilities), hand-built modules for every feature the parser accepts,
 * and every malformation it must refuse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "analyze/wasm.h"
#include "common/limits.h"
#include "sandbox/wasi.h"

/* ---- helpers ---------------------------------------------------------------- */

static uint8_t *load_fixture(const char *name, size_t *len)
{
    const char *dir = getenv("NC_FIXTURES");
    char path[4096];
    if (!dir)
        fail_msg("NC_FIXTURES is not set");
    snprintf(path, sizeof path, "%s/%s.wasm", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (n == cap)
            b = realloc(b, cap *= 2);
        size_t got = fread(b + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    *len = n;
    return b;
}

static nc_analysis *analyze_fixture(const char *name)
{
    size_t len;
    uint8_t *b = load_fixture(name, &len);
    nc_analysis *a = NULL;
    char msg[256] = "";
    nc_err e = nc_wasm_analyze(b, len, &a, msg, sizeof msg);
    free(b);
    if (e != NC_OK)
        fail_msg("%s: %s: %s", name, nc_strerror(e), msg);
    assert_int_equal(a->size, len);
    return a;
}

/* A module under construction. */
typedef struct {
    uint8_t b[1 << 14];
    size_t n;
} mod;

static void put(mod *m, const uint8_t *p, size_t n)
{
    assert_true(n <= sizeof m->b - m->n);
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void put_leb(mod *m, uint64_t v)
{
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        if (v)
            byte |= 0x80;
        put(m, &byte, 1);
    } while (v);
}

static void header(mod *m)
{
    static const uint8_t h[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
    m->n = 0;
    put(m, h, sizeof h);
}

static void sec(mod *m, uint8_t id, const uint8_t *p, size_t n)
{
    put(m, &id, 1);
    put_leb(m, n);
    put(m, p, n);
}

#define BYTES(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})
#define SEC(m, id, ...) sec(m, id, BYTES(__VA_ARGS__))
#define RAW(m, ...) put(m, BYTES(__VA_ARGS__))

/* type ()->(); one function of it; its body */
static void type_section(mod *m)
{
    SEC(m, 1, 0x01, 0x60, 0x00, 0x00);
}
static void function_section(mod *m)
{
    SEC(m, 3, 0x01, 0x00);
}
static void code(mod *m)
{
    SEC(m, 10, 0x01, 0x02, 0x00, 0x0b);
}

static void expect_invalid(const mod *m, const char *want)
{
    nc_analysis *a = (nc_analysis *)1;
    char msg[256] = "";
    assert_int_equal(nc_wasm_analyze(m->b, m->n, &a, msg, sizeof msg), NC_ERR_INVALID_MODULE);
    assert_null(a);
    if (!strstr(msg, want))
        fail_msg("message \"%s\" does not contain \"%s\"", msg, want);
}

static nc_analysis *expect_valid(const mod *m)
{
    nc_analysis *a = NULL;
    char msg[256] = "";
    nc_err e = nc_wasm_analyze(m->b, m->n, &a, msg, sizeof msg);
    if (e != NC_OK)
        fail_msg("%s: %s", nc_strerror(e), msg);
    return a;
}

static const nc_wasm_import *import_named(const nc_analysis *a, const char *name)
{
    for (size_t i = 0; i < a->nimports; i++)
        if (strcmp(a->imports[i].name, name) == 0)
            return &a->imports[i];
    fail_msg("no import %s", name);
    return NULL;
}

static void check_import(const nc_wasm_import *im, const char *module, const char *name,
                         const char *signature, nc_wasm_cap cap)
{
    assert_string_equal(im->module, module);
    assert_string_equal(im->name, name);
    assert_int_equal(im->kind, NC_WASM_KIND_FUNC);
    assert_string_equal(im->signature, signature);
    assert_int_equal(im->capability, cap);
}

#define W "wasi_snapshot_preview1"
#define CAP(c) NC_WASM_CAP_BIT(NC_WASM_CAP_##c)

/* ---- real modules ----------------------------------------------------------------- */

static void test_hello(void **state)
{
    (void)state;
    nc_analysis *a = analyze_fixture("hello");
    assert_int_equal(a->nimports, 1);
    check_import(&a->imports[0], W, "fd_write", "(i32,i32,i32,i32)->i32", NC_WASM_CAP_STDIO);
    assert_false(a->imports[0].legacy_wasi);
    assert_int_equal(a->nexports, 2);
    assert_string_equal(a->exports[0].name, "memory");
    assert_int_equal(a->exports[0].kind, NC_WASM_KIND_MEMORY);
    assert_string_equal(a->exports[1].name, "_start");
    assert_int_equal(a->exports[1].kind, NC_WASM_KIND_FUNC);
    assert_int_equal(a->exports[1].index, 1);
    assert_int_equal(a->nmemories, 1);
    assert_int_equal(a->memories[0].min_pages, 1);
    assert_false(a->memories[0].has_max);
    assert_false(a->memories[0].memory64);
    assert_int_equal(a->ntables, 0);
    assert_int_equal(a->ntypes, 2);
    assert_int_equal(a->nfunctions, 1);
    assert_int_equal(a->nimported_functions, 1);
    assert_int_equal(a->ndata, 1);
    assert_int_equal(a->nelements, 0);
    assert_false(a->has_start);
    assert_int_equal(a->capabilities, CAP(STDIO));
    assert_int_equal(a->suspicious_names, 0);

    /* The JSON form, exactly. */
    json_t *j = nc_analysis_to_json(a);
    assert_non_null(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        s, "{\"capabilities\":[\"stdio\"],\"counts\":{\"data\":1,\"elements\":0,\"functions\":1,"
           "\"globals\":0,\"imported_functions\":1,\"tags\":0,\"types\":2},\"custom_sections\":[],"
           "\"exports\":[{\"kind\":\"memory\",\"name\":\"memory\"},{\"kind\":\"func\",\"name\":"
           "\"_start\"}],\"has_start\":false,\"imports\":[{\"capability\":\"stdio\",\"kind\":"
           "\"func\",\"module\":\"wasi_snapshot_preview1\",\"name\":\"fd_write\",\"signature\":"
           "\"(i32,i32,i32,i32)->i32\"}],\"memories\":[{\"imported\":false,\"max_pages\":null,"
           "\"memory64\":false,\"min_pages\":1,\"shared\":false}],\"size\":141,"
           "\"suspicious_names\":0,\"tables\":[],\"wasi_unstable\":false}");
    free(s);
    json_decref(j);
    nc_analysis_free(a);
}

static void test_hostile_fixtures(void **state)
{
    (void)state;
    nc_analysis *a = analyze_fixture("path_traversal");
    assert_int_equal(a->nimports, 2);
    check_import(&a->imports[0], W, "path_open", "(i32,i32,i32,i32,i32,i64,i64,i32,i32)->i32",
                 NC_WASM_CAP_FILESYSTEM);
    check_import(&a->imports[1], W, "proc_exit", "(i32)->()", NC_WASM_CAP_PROC_EXIT);
    assert_int_equal(a->capabilities, CAP(FILESYSTEM) | CAP(PROC_EXIT));
    nc_analysis_free(a);

    a = analyze_fixture("network_attempt");
    assert_int_equal(a->nimports, 2);
    check_import(&a->imports[0], W, "sock_send", "(i32,i32,i32,i32,i32)->i32", NC_WASM_CAP_NETWORK);
    assert_int_equal(a->capabilities, CAP(NETWORK) | CAP(PROC_EXIT));
    nc_analysis_free(a);

    a = analyze_fixture("unknown_import");
    assert_int_equal(a->nimports, 1);
    check_import(&a->imports[0], "env", "launch_missiles", "()->()", NC_WASM_CAP_OUTSIDE_WASI);
    assert_int_equal(a->capabilities, CAP(OUTSIDE_WASI));
    nc_analysis_free(a);

    a = analyze_fixture("proc_raise");
    check_import(&a->imports[0], W, "proc_raise", "(i32)->i32", NC_WASM_CAP_SIGNALS);
    assert_int_equal(a->capabilities, CAP(SIGNALS));
    nc_analysis_free(a);

    a = analyze_fixture("sleep_forever");
    assert_int_equal(a->capabilities, CAP(POLL));
    nc_analysis_free(a);

    a = analyze_fixture("two_memories");
    assert_int_equal(a->nmemories, 2);
    assert_int_equal(a->nimports, 0);
    assert_int_equal(a->capabilities, 0);
    nc_analysis_free(a);

    a = analyze_fixture("giant_table");
    assert_int_equal(a->ntables, 1);
    assert_string_equal(a->tables[0].elem_type, "funcref");
    assert_int_equal(a->tables[0].min, 10000000);
    assert_false(a->tables[0].has_max);
    nc_analysis_free(a);

    a = analyze_fixture("big_initial_memory");
    assert_int_equal(a->memories[0].min_pages, 2000);
    nc_analysis_free(a);

    a = analyze_fixture("start_loop");
    assert_true(a->has_start);
    assert_int_equal(a->nfunctions, 2);
    nc_analysis_free(a);

    a = analyze_fixture("reentry_bomb");
    assert_int_equal(a->nelements, 1);
    assert_int_equal(a->ntables, 1);
    nc_analysis_free(a);

    a = analyze_fixture("wasi_nomem");
    assert_int_equal(a->nmemories, 0);
    assert_int_equal(a->capabilities, CAP(STDIO) | CAP(ARGS));
    nc_analysis_free(a);
}

static void test_c_guest(void **state)
{
    (void)state;
    nc_analysis *a = analyze_fixture("guest_env");
    static const struct {
        const char *name, *sig;
        nc_wasm_cap cap;
    } want[] = {
        {"args_get", "(i32,i32)->i32", NC_WASM_CAP_ARGS},
        {"args_sizes_get", "(i32,i32)->i32", NC_WASM_CAP_ARGS},
        {"environ_get", "(i32,i32)->i32", NC_WASM_CAP_ENV},
        {"environ_sizes_get", "(i32,i32)->i32", NC_WASM_CAP_ENV},
        {"fd_close", "(i32)->i32", NC_WASM_CAP_STDIO},
        {"fd_fdstat_get", "(i32,i32)->i32", NC_WASM_CAP_STDIO},
        {"fd_read", "(i32,i32,i32,i32)->i32", NC_WASM_CAP_STDIO},
        {"fd_seek", "(i32,i64,i32,i32)->i32", NC_WASM_CAP_STDIO},
        {"fd_write", "(i32,i32,i32,i32)->i32", NC_WASM_CAP_STDIO},
        {"proc_exit", "(i32)->()", NC_WASM_CAP_PROC_EXIT},
    };
    assert_int_equal(a->nimports, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < a->nimports; i++)
        check_import(&a->imports[i], W, want[i].name, want[i].sig, want[i].cap);
    assert_int_equal(a->capabilities, CAP(ARGS) | CAP(ENV) | CAP(STDIO) | CAP(PROC_EXIT));
    assert_int_equal(a->ntables, 1);
    assert_true(a->ncustoms >= 3);
    bool saw_debug = false, saw_producers = false;
    for (size_t i = 0; i < a->ncustoms; i++) {
        assert_true(a->customs[i].known);   /* clang emits only names we know */
        assert_true(a->customs[i].size > 0);
        saw_debug |= strcmp(a->customs[i].name, ".debug_info") == 0;
        saw_producers |= strcmp(a->customs[i].name, "producers") == 0;
    }
    assert_true(saw_debug && saw_producers);
    nc_analysis_free(a);

    a = analyze_fixture("guest_fs_escape");
    assert_true(a->capabilities & CAP(FILESYSTEM));
    assert_int_equal(import_named(a, "fd_prestat_get")->capability, NC_WASM_CAP_FILESYSTEM);
    assert_int_equal(import_named(a, "path_open")->capability, NC_WASM_CAP_FILESYSTEM);
    nc_analysis_free(a);
}

/* Every function Night Core's WASI host implements belongs to a WASI group,
 * and wasi_proxy (which imports all of them) is classified completely. */
static void test_every_wasi_function_classified(void **state)
{
    (void)state;
    for (unsigned fn = 0; fn < NC_WASI_FN_COUNT; fn++) {
        const char *name = nc_wasi_fn_name(fn);
        nc_wasm_cap c = nc_wasm_classify_import(W, strlen(W), name, strlen(name),
                                                NC_WASM_KIND_FUNC, NULL);
        if (c == NC_WASM_CAP_OUTSIDE_WASI)
            fail_msg("%s is not classified", name);
    }
    nc_analysis *a = analyze_fixture("wasi_proxy");
    assert_int_equal(a->nimports, NC_WASI_FN_COUNT);
    assert_false(a->capabilities & CAP(OUTSIDE_WASI));
    assert_int_equal(import_named(a, "sock_accept")->capability, NC_WASM_CAP_NETWORK);
    assert_int_equal(import_named(a, "random_get")->capability, NC_WASM_CAP_RANDOM);
    assert_int_equal(import_named(a, "sched_yield")->capability, NC_WASM_CAP_POLL);
    assert_int_equal(import_named(a, "clock_res_get")->capability, NC_WASM_CAP_CLOCKS);
    assert_int_equal(import_named(a, "fd_prestat_dir_name")->capability, NC_WASM_CAP_FILESYSTEM);
    assert_int_equal(import_named(a, "fd_tell")->capability, NC_WASM_CAP_FILESYSTEM);
    assert_int_equal(import_named(a, "path_symlink")->capability, NC_WASM_CAP_FILESYSTEM);
    nc_analysis_free(a);
}

static void test_classify(void **state)
{
    (void)state;
    bool legacy = true;
    assert_int_equal(nc_wasm_classify_import(W, strlen(W), "fd_write", 8, NC_WASM_KIND_FUNC, &legacy),
                     NC_WASM_CAP_STDIO);
    assert_false(legacy);
    assert_int_equal(nc_wasm_classify_import("wasi_unstable", 13, "path_open", 9, NC_WASM_KIND_FUNC,
                                             &legacy),
                     NC_WASM_CAP_FILESYSTEM);
    assert_true(legacy);
    /* length-aware: a longer name is not the WASI function */
    assert_int_equal(nc_wasm_classify_import(W, strlen(W), "fd_writeX", 9, NC_WASM_KIND_FUNC, NULL),
                     NC_WASM_CAP_OUTSIDE_WASI);
    assert_int_equal(nc_wasm_classify_import(W, strlen(W) - 1, "fd_write", 8, NC_WASM_KIND_FUNC, NULL),
                     NC_WASM_CAP_OUTSIDE_WASI);
    /* names WASI does not define, and non-function imports, are outside WASI */
    assert_int_equal(nc_wasm_classify_import(W, strlen(W), "fd_frobnicate", 13, NC_WASM_KIND_FUNC, NULL),
                     NC_WASM_CAP_OUTSIDE_WASI);
    assert_int_equal(nc_wasm_classify_import(W, strlen(W), "fd_write", 8, NC_WASM_KIND_MEMORY, NULL),
                     NC_WASM_CAP_OUTSIDE_WASI);
    assert_int_equal(nc_wasm_classify_import("env", 3, "fd_write", 8, NC_WASM_KIND_FUNC, NULL),
                     NC_WASM_CAP_OUTSIDE_WASI);
    assert_string_equal(nc_wasm_cap_name(NC_WASM_CAP_OUTSIDE_WASI), "outside_wasi");
    assert_string_equal(nc_wasm_cap_name(NC_WASM_CAP_COUNT), "?");
    assert_string_equal(nc_wasm_kind_name(NC_WASM_KIND_TAG), "tag");
}

static void test_drift(void **state)
{
    (void)state;
    nc_analysis *old = analyze_fixture("hello"), *cur = analyze_fixture("path_traversal");
    json_t *j = nc_drift_changes_json(old, cur);
    assert_non_null(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"exports_added\":[],\"exports_removed\":[],\"imports_added\":["
                           "\"wasi_snapshot_preview1.path_open\",\"wasi_snapshot_preview1.proc_exit\"],"
                           "\"imports_removed\":[\"wasi_snapshot_preview1.fd_write\"],\"size_delta\":53}");
    free(s);
    json_decref(j);
    nc_drift_counts dc;
    assert_int_equal(nc_drift_count(old, cur, &dc), NC_OK);
    assert_int_equal(dc.imports_added, 2);
    assert_int_equal(dc.imports_removed, 1);
    assert_int_equal(dc.exports_added, 0);
    /* the other way round */
    j = nc_drift_changes_json(cur, old);
    assert_int_equal(json_integer_value(json_object_get(j, "size_delta")), -53);
    assert_int_equal(json_array_size(json_object_get(j, "imports_added")), 1);
    json_decref(j);
    nc_analysis_free(cur);
    /* exports changed, imports the same */
    cur = analyze_fixture("no_start");
    nc_analysis *none = analyze_fixture("unreachable");
    assert_int_equal(nc_drift_count(none, cur, &dc), NC_OK);
    assert_int_equal(dc.exports_added, 1);    /* add */
    assert_int_equal(dc.exports_removed, 1);  /* _start */
    assert_int_equal(dc.imports_added + dc.imports_removed, 0);
    /* identical */
    assert_int_equal(nc_drift_count(old, old, &dc), NC_OK);
    assert_int_equal(dc.imports_added + dc.imports_removed + dc.exports_added + dc.exports_removed, 0);
    assert_null(nc_drift_changes_json(NULL, old));
    assert_int_equal(nc_drift_count(old, NULL, &dc), NC_ERR_USAGE);
    nc_analysis_free(none);
    nc_analysis_free(cur);
    nc_analysis_free(old);
}

/* ---- hand-built modules: everything the parser accepts -------------------- */

static void test_empty_module(void **state)
{
    (void)state;
    mod m;
    header(&m);
    nc_analysis *a = expect_valid(&m);
    assert_int_equal(a->size, 8);
    assert_int_equal(a->nimports + a->nexports + a->nmemories + a->ntables + a->ncustoms, 0);
    json_t *j = nc_analysis_to_json(a);
    assert_non_null(j);
    json_decref(j);
    nc_analysis_free(a);
    /* msg is optional */
    assert_int_equal(nc_wasm_analyze(m.b, 4, &a, NULL, 0), NC_ERR_INVALID_MODULE);
    assert_null(a);
}

static void test_features(void **state)
{
    (void)state;
    static mod m;
    header(&m);
    SEC(&m, 0, 0x04, 'n', 'a', 'm', 'e');   /* a custom section before everything */
    /* types: 0 ()->(), 1 (i64 v128 externref)->(f32 f64) */
    SEC(&m, 1, 0x02, 0x60, 0x00, 0x00, 0x60, 0x03, 0x7e, 0x7b, 0x6f, 0x02, 0x7d, 0x7c);
    /* imports: func, table, memory64, shared memory, global, tag; one from wasi_unstable */
    SEC(&m, 2, 0x07,
        0x03, 'e', 'n', 'v', 0x01, 'f', 0x00, 0x01,
        0x03, 'e', 'n', 'v', 0x01, 't', 0x01, 0x6f, 0x01, 0x02, 0x05,
        0x03, 'e', 'n', 'v', 0x01, 'm', 0x02, 0x05, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f,
        0x03, 'e', 'n', 'v', 0x01, 's', 0x02, 0x03, 0x01, 0x02,
        0x03, 'e', 'n', 'v', 0x01, 'g', 0x03, 0x7f, 0x01,
        0x03, 'e', 'n', 'v', 0x01, 'x', 0x04, 0x00, 0x00,
        0x0d, 'w', 'a', 's', 'i', '_', 'u', 'n', 's', 't', 'a', 'b', 'l', 'e',
        0x0a, 'r', 'a', 'n', 'd', 'o', 'm', '_', 'g', 'e', 't', 0x00, 0x00);
    SEC(&m, 3, 0x01, 0x00);                          /* one defined function */
    SEC(&m, 4, 0x01, 0x70, 0x00, 0x01);             /* table funcref min 1 */
    SEC(&m, 5, 0x01, 0x00, 0x01);                   /* memory min 1 */
    SEC(&m, 13, 0x01, 0x00, 0x00);                  /* tag of type 0 */
    SEC(&m, 6, 0x03,                                /* globals */
        0x7f, 0x00, 0x41, 0x7f, 0x0b,               /* i32.const -1 */
        0x7b, 0x00, 0xfd, 0x0c, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0x0b,
        0x70, 0x01, 0xd2, 0x01, 0x0b);              /* ref.func 1 */
    SEC(&m, 7, 0x03, 0x03, 'r', 'u', 'n', 0x00, 0x02, 0x03, 't', 'a', 'g', 0x04, 0x01,
        0x02, 'm', '2', 0x02, 0x02);
    SEC(&m, 8, 0x02);                               /* start: function 2 */
    SEC(&m, 9, 0x08,                                /* one element segment of each form */
        0x00, 0x41, 0x00, 0x0b, 0x01, 0x00,
        0x01, 0x00, 0x01, 0x00,
        0x02, 0x01, 0x41, 0x00, 0x0b, 0x00, 0x01, 0x00,
        0x03, 0x00, 0x01, 0x00,
        0x04, 0x41, 0x00, 0x0b, 0x01, 0xd2, 0x00, 0x0b,
        0x05, 0x70, 0x01, 0xd0, 0x70, 0x0b,
        0x06, 0x01, 0x41, 0x00, 0x0b, 0x70, 0x01, 0xd2, 0x00, 0x0b,
        0x07, 0x70, 0x01, 0xd2, 0x00, 0x0b);
    SEC(&m, 12, 0x03);                              /* datacount */
    SEC(&m, 10, 0x01, 0x02, 0x00, 0x0b);
    SEC(&m, 11, 0x03,                               /* one data segment of each form */
        0x00, 0x41, 0x00, 0x0b, 0x02, 'h', 'i',
        0x01, 0x01, 'x',
        0x02, 0x02, 0x42, 0x00, 0x0b, 0x00);
    /* custom sections: unknown name, a bidi override, a control character */
    SEC(&m, 0, 0x06, 'p', 'a', 'y', 'l', 'd', 'x', 1, 2, 3);
    SEC(&m, 0, 0x03, 0xe2, 0x80, 0xae);
    SEC(&m, 0, 0x05, 0x1b, '[', '3', '1', 'm');
    SEC(&m, 0, 0x0a, '.', 'd', 'e', 'b', 'u', 'g', '_', 'l', 'o', 'c');

    nc_analysis *a = expect_valid(&m);
    assert_int_equal(a->nimports, 7);
    assert_string_equal(a->imports[0].signature, "(i64,v128,externref)->(f32,f64)");
    assert_int_equal(a->imports[0].capability, NC_WASM_CAP_OUTSIDE_WASI);
    assert_int_equal(a->imports[1].kind, NC_WASM_KIND_TABLE);
    assert_null(a->imports[1].signature);
    assert_int_equal(a->imports[2].kind, NC_WASM_KIND_MEMORY);
    assert_int_equal(a->imports[4].kind, NC_WASM_KIND_GLOBAL);
    assert_int_equal(a->imports[5].kind, NC_WASM_KIND_TAG);
    assert_int_equal(a->imports[5].capability, NC_WASM_CAP_OUTSIDE_WASI);
    check_import(&a->imports[6], "wasi_unstable", "random_get", "()->()", NC_WASM_CAP_RANDOM);
    assert_true(a->imports[6].legacy_wasi);
    assert_true(a->wasi_unstable);
    assert_int_equal(a->capabilities, CAP(OUTSIDE_WASI) | CAP(RANDOM));

    assert_int_equal(a->ntables, 2);
    assert_true(a->tables[0].imported);
    assert_string_equal(a->tables[0].elem_type, "externref");
    assert_true(a->tables[0].has_max);
    assert_int_equal(a->tables[0].min, 2);
    assert_int_equal(a->tables[0].max, 5);
    assert_false(a->tables[1].imported);

    assert_int_equal(a->nmemories, 3);
    assert_true(a->memories[0].memory64 && a->memories[0].has_max && a->memories[0].imported);
    assert_int_equal(a->memories[0].min_pages, 1ull << 40);
    assert_int_equal(a->memories[0].max_pages, (1ull << 48) - 1);
    assert_true(a->memories[1].shared);
    assert_int_equal(a->memories[1].max_pages, 2);
    assert_false(a->memories[2].imported);

    assert_int_equal(a->ntypes, 2);
    assert_int_equal(a->nfunctions, 1);
    assert_int_equal(a->nimported_functions, 2);
    assert_int_equal(a->nglobals, 3);
    assert_int_equal(a->ntags, 1);
    assert_int_equal(a->nelements, 8);
    assert_int_equal(a->ndata, 3);
    assert_true(a->has_start);
    assert_int_equal(a->nexports, 3);
    assert_int_equal(a->exports[1].kind, NC_WASM_KIND_TAG);

    assert_int_equal(a->ncustoms, 5);
    assert_string_equal(a->customs[0].name, "name");
    assert_true(a->customs[0].known);
    assert_int_equal(a->customs[0].size, 0);
    assert_string_equal(a->customs[1].name, "payldx");
    assert_false(a->customs[1].known);
    assert_int_equal(a->customs[1].size, 3);
    assert_false(a->customs[2].known);
    assert_true(a->customs[4].known);
    assert_int_equal(a->suspicious_names, 2);

    json_t *j = nc_analysis_to_json(a);
    assert_non_null(j);
    json_t *mem = json_array_get(json_object_get(j, "memories"), 0);
    assert_int_equal(json_integer_value(json_object_get(mem, "min_pages")), 1ll << 40);
    assert_true(json_is_true(json_object_get(mem, "memory64")));
    assert_true(json_is_true(json_object_get(json_array_get(json_object_get(j, "imports"), 6),
                                             "legacy_wasi")));
    assert_null(json_object_get(json_array_get(json_object_get(j, "imports"), 1), "signature"));
    json_decref(j);
    nc_analysis_free(a);
}

static void test_signature_text(void **state)
{
    (void)state;
    mod m;
    header(&m);
    /* type 0: 100 i64 params -> (i32, i32) */
    uint8_t t[110];
    size_t n = 0;
    t[n++] = 0x01;
    t[n++] = 0x60;
    t[n++] = 100;
    for (int i = 0; i < 100; i++)
        t[n++] = 0x7e;
    t[n++] = 0x02;
    t[n++] = 0x7f;
    t[n++] = 0x7f;
    sec(&m, 1, t, n);
    SEC(&m, 2, 0x01, 0x01, 'a', 0x01, 'b', 0x00, 0x00);
    nc_analysis *a = expect_valid(&m);
    const char *sig = a->imports[0].signature;
    assert_true(strlen(sig) <= NC_WASM_MAX_SIGNATURE_TEXT);
    assert_true(strncmp(sig, "(i64,i64,", 9) == 0);
    assert_string_equal(sig + strlen(sig) - 3, "...");
    nc_analysis_free(a);

    header(&m);
    SEC(&m, 1, 0x01, 0x60, 0x01, 0x7f, 0x02, 0x7e, 0x7d);
    SEC(&m, 2, 0x01, 0x01, 'a', 0x01, 'b', 0x00, 0x00);
    a = expect_valid(&m);
    assert_string_equal(a->imports[0].signature, "(i32)->(i64,f32)");
    nc_analysis_free(a);
}

/* ---- malformations ------------------------------------------------------------- */

static void test_every_truncation_fails(void **state)
{
    (void)state;
    const char *names[] = {"hello", "path_traversal", "wasi_proxy", "reentry_bomb"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        size_t len;
        uint8_t *b = load_fixture(names[k], &len);
        for (size_t cut = 0; cut < len; cut++) {
            /* a copy of exactly cut bytes, so ASan sees any read past it */
            uint8_t *p = malloc(cut ? cut : 1);
            memcpy(p, b, cut);
            nc_analysis *a = (nc_analysis *)1;
            char msg[256] = "";
            nc_err e = nc_wasm_analyze(p, cut, &a, msg, sizeof msg);
            /* cutting exactly at a section boundary leaves a valid module,
             * unless the code section for declared functions is missing */
            if (e == NC_OK) {
                assert_non_null(a);
                nc_analysis_free(a);
            } else {
                assert_int_equal(e, NC_ERR_INVALID_MODULE);
                assert_null(a);
                assert_true(msg[0] != '\0');
                for (const char *c = msg; *c; c++)   /* messages are printable ASCII */
                    assert_true(*c >= 0x20 && *c < 0x7f);
            }
            free(p);
        }
        nc_analysis *a;
        char msg[256];
        assert_int_equal(nc_wasm_analyze(b, len - 1, &a, msg, sizeof msg), NC_ERR_INVALID_MODULE);
        assert_non_null(strstr(msg, "truncated"));
        free(b);
    }
    /* the fixture made with head -c 40 */
    size_t len;
    uint8_t *b = load_fixture("truncated", &len);
    nc_analysis *a;
    char msg[256];
    assert_int_equal(nc_wasm_analyze(b, len, &a, msg, sizeof msg), NC_ERR_INVALID_MODULE);
    assert_string_equal(msg, "section 2 (import) at offset 0x16: truncated: section size 35 runs "
                             "past the end of the module (16 bytes left)");
    free(b);
}

static void test_header(void **state)
{
    (void)state;
    mod m;
    m.n = 0;
    RAW(&m, 0x00, 0x61, 0x73, 0x6e, 0x01, 0x00, 0x00, 0x00);
    expect_invalid(&m, "at offset 0x0: bad magic");
    m.n = 0;
    RAW(&m, 0x00, 0x61, 0x73, 0x6d, 0x02, 0x00, 0x00, 0x00);
    expect_invalid(&m, "at offset 0x4: unsupported version 2");
    m.n = 0;
    RAW(&m, 0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00);
    expect_invalid(&m, "a WebAssembly component, not a core module");
    m.n = 0;
    RAW(&m, 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00);
    expect_invalid(&m, "truncated: 6 bytes");
    m.n = 0;
    RAW(&m, 'h', 'e', 'l', 'l', 'o');
    expect_invalid(&m, "bad magic");
    m.n = 0;
    expect_invalid(&m, "truncated: 0 bytes");

    size_t len;
    uint8_t *b = load_fixture("not_wasm", &len);
    nc_analysis *a;
    char msg[256];
    assert_int_equal(nc_wasm_analyze(b, len, &a, msg, sizeof msg), NC_ERR_INVALID_MODULE);
    assert_non_null(strstr(msg, "bad magic"));
    free(b);
}

static void test_too_large(void **state)
{
    (void)state;
    size_t len = NC_MAX_MODULE_BYTES + 1;
    uint8_t *b = calloc(1, len);
    nc_analysis *a = (nc_analysis *)1;
    char msg[256];
    assert_int_equal(nc_wasm_analyze(b, len, &a, msg, sizeof msg), NC_ERR_TOO_LARGE);
    assert_null(a);
    assert_non_null(strstr(msg, "over the 16777216-byte cap"));
    free(b);
}

static void test_section_framing(void **state)
{
    (void)state;
    mod m;
    /* out of order: function before type */
    header(&m);
    SEC(&m, 3, 0x00);
    type_section(&m);
    expect_invalid(&m, "section 1 (type) at offset 0xb: out of order");
    /* duplicate */
    header(&m);
    type_section(&m);
    type_section(&m);
    expect_invalid(&m, "section 1 (type) at offset 0xe: appears twice");
    /* datacount must come before code; tag between memory and global */
    header(&m);
    type_section(&m);
    function_section(&m);
    code(&m);
    SEC(&m, 12, 0x00);
    expect_invalid(&m, "section 12 (datacount) at offset 0x18: out of order");
    header(&m);
    SEC(&m, 6, 0x00);
    SEC(&m, 13, 0x00);
    expect_invalid(&m, "section 13 (tag)");
    /* unknown section id */
    header(&m);
    SEC(&m, 14, 0x00);
    expect_invalid(&m, "at offset 0x8: unknown section id 14");
    /* size past the end */
    header(&m);
    RAW(&m, 0x01, 0x10, 0x00);
    expect_invalid(&m, "section 1 (type) at offset 0x8: truncated: section size 16 runs past the "
                       "end of the module (1 bytes left)");
    /* LEB128 too long, and over 32 bits */
    header(&m);
    RAW(&m, 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
    expect_invalid(&m, "section size: malformed LEB128");
    header(&m);
    RAW(&m, 0x01, 0xff, 0xff, 0xff, 0xff, 0x1f);
    expect_invalid(&m, "section size: malformed LEB128");
    /* bytes left over inside a section */
    header(&m);
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x00, 0xaa);
    expect_invalid(&m, "section 1 (type) at offset 0xe: 1 bytes left over");
    /* a section's contents cannot read into the next section */
    header(&m);
    SEC(&m, 1, 0x01, 0x60, 0x01, 0x7f);
    SEC(&m, 3, 0x00);
    expect_invalid(&m, "section 1 (type) at offset 0xe: truncated: result count runs past the end "
                       "of the section");
    /* trailing bytes after the last section */
    size_t len;
    uint8_t *b = load_fixture("hello", &len);
    m.n = 0;
    put(&m, b, len);
    RAW(&m, 0x00);
    expect_invalid(&m, "section 0 (custom) at offset 0x8e: truncated: section size");
    m.n = len;
    RAW(&m, 0xff, 0x00);
    expect_invalid(&m, "at offset 0x8d: unknown section id 255");
    m.n = len;
    RAW(&m, 0x0b, 0x01, 0x00);
    expect_invalid(&m, "section 11 (data) at offset 0x8d: appears twice");
    m.n = len;
    RAW(&m, 0x00, 0x01, 0x00);   /* an empty-named custom section is fine */
    nc_analysis *a = expect_valid(&m);
    assert_int_equal(a->ncustoms, 1);
    nc_analysis_free(a);
    free(b);
}

static void test_counts_and_caps(void **state)
{
    (void)state;
    mod m;
    /* the import count from the brief: 4000000000 */
    header(&m);
    uint8_t p[8];
    mod tmp;
    tmp.n = 0;
    put_leb(&tmp, 4000000000u);
    memcpy(p, tmp.b, tmp.n);
    sec(&m, 2, p, tmp.n);
    expect_invalid(&m, "section 2 (import) at offset 0xa: count 4000000000 exceeds the 10000 cap");
    /* under the cap but more than the bytes can hold */
    header(&m);
    SEC(&m, 2, 0x05, 0x00, 0x00);
    expect_invalid(&m, "count 5 cannot fit in the 2 bytes left in the section");
    header(&m);
    SEC(&m, 1, 0x03, 0x60, 0x00, 0x00);
    expect_invalid(&m, "count 3 cannot fit");
    /* params over the cap */
    header(&m);
    SEC(&m, 1, 0x01, 0x60, 0xe9, 0x07);
    expect_invalid(&m, "param count 1001 exceeds the 1000 cap");
    /* function count over its cap, in a section of the right size */
    header(&m);
    SEC(&m, 3, 0xc1, 0x84, 0x3d);
    expect_invalid(&m, "count 1000001 exceeds the 1000000 cap");
    /* code count must equal the function count */
    header(&m);
    type_section(&m);
    function_section(&m);
    SEC(&m, 10, 0x02, 0x02, 0x00, 0x0b, 0x02, 0x00, 0x0b);
    expect_invalid(&m, "2 function bodies for the 1 functions the function section declares");
    header(&m);
    type_section(&m);
    code(&m);
    expect_invalid(&m, "1 function bodies for the 0 functions");
    header(&m);
    type_section(&m);
    function_section(&m);
    expect_invalid(&m, "declares 1 functions but there is no code section");
    /* a body that runs past the section */
    header(&m);
    type_section(&m);
    function_section(&m);
    SEC(&m, 10, 0x01, 0x05, 0x00, 0x0b);
    expect_invalid(&m, "function body of 5 bytes runs past the end of the section");
    /* data count mismatch, both ways */
    header(&m);
    SEC(&m, 5, 0x01, 0x00, 0x01);
    SEC(&m, 12, 0x02);
    SEC(&m, 11, 0x01, 0x01, 0x00);
    expect_invalid(&m, "1 data segments but the datacount section says 2");
    header(&m);
    SEC(&m, 12, 0x02);
    expect_invalid(&m, "the datacount section says 2 data segments but there is no data section");
    /* too many custom sections */
    static mod big;
    header(&big);
    for (unsigned i = 0; i <= NC_WASM_MAX_CUSTOM_SECTIONS; i++)
        SEC(&big, 0, 0x00);
    expect_invalid(&big, "more than 1000 custom sections");
    /* a name over the cap */
    header(&m);
    SEC(&m, 0, 0x81, 0x20, 'x');
    expect_invalid(&m, "custom section name of 4097 bytes exceeds the 4096-byte cap");
    /* too many memories (imported + defined) */
    header(&big);
    uint8_t mems[2 + 2 * 101];
    size_t n = 0;
    mems[n++] = 101;
    for (int i = 0; i < 101; i++) {
        mems[n++] = 0x00;
        mems[n++] = 0x00;
    }
    sec(&big, 5, mems, n);
    expect_invalid(&big, "count 101 exceeds the 100 cap");
}

static void test_names(void **state)
{
    (void)state;
    static const struct {
        uint8_t bytes[5];
        size_t len;
        const char *why;
    } bad[] = {
        {{0xff}, 1, "invalid byte"},
        {{0xc0, 0x80}, 2, "overlong NUL"},
        {{0xe0, 0x80, 0x80}, 3, "overlong"},
        {{0xed, 0xa0, 0x80}, 3, "surrogate"},
        {{0xf4, 0x90, 0x80, 0x80}, 4, "past U+10FFFF"},
        {{0xe2, 0x82}, 2, "cut sequence"},
        {{'a', 0x80}, 2, "stray continuation"},
        {{'a', 0x00, 'b'}, 3, "U+0000"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mod m;
        header(&m);
        type_section(&m);
        uint8_t imp[32];
        size_t n = 0;
        imp[n++] = 0x01;
        imp[n++] = (uint8_t)bad[i].len;
        memcpy(imp + n, bad[i].bytes, bad[i].len);
        n += bad[i].len;
        imp[n++] = 0x01;
        imp[n++] = 'f';
        imp[n++] = 0x00;
        imp[n++] = 0x00;
        sec(&m, 2, imp, n);
        nc_analysis *a = (nc_analysis *)1;
        char msg[256] = "";
        if (nc_wasm_analyze(m.b, m.n, &a, msg, sizeof msg) != NC_ERR_INVALID_MODULE)
            fail_msg("%s accepted", bad[i].why);
        assert_null(a);
        assert_non_null(strstr(msg, "import module name is not valid UTF-8"));
    }
    /* valid multi-byte names are kept as they are */
    mod m;
    header(&m);
    SEC(&m, 0, 0x09, 'n', 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98);
    expect_invalid(&m, "custom section name is not valid UTF-8");
    header(&m);
    SEC(&m, 0, 0x0a, 'n', 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80);
    nc_analysis *a = expect_valid(&m);
    assert_string_equal(a->customs[0].name, "n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_int_equal(a->suspicious_names, 0);
    nc_analysis_free(a);
    /* duplicate export names */
    header(&m);
    type_section(&m);
    function_section(&m);
    SEC(&m, 7, 0x02, 0x01, 'a', 0x00, 0x00, 0x01, 'a', 0x00, 0x00);
    code(&m);
    expect_invalid(&m, "section 7 (export) at offset 0x19: duplicate export name \"a\"");
    /* a name that is not printable ASCII is not copied into the message */
    header(&m);
    type_section(&m);
    function_section(&m);
    SEC(&m, 7, 0x02, 0x02, 0x1b, 'a', 0x00, 0x00, 0x02, 0x1b, 'a', 0x00, 0x00);
    code(&m);
    expect_invalid(&m, "section 7 (export) at offset 0x1a: duplicate export name");
    char msg[256];
    assert_int_equal(nc_wasm_analyze(m.b, m.n, &a, msg, sizeof msg), NC_ERR_INVALID_MODULE);
    assert_null(strchr(msg, 0x1b));
}

static void test_types_and_indices(void **state)
{
    (void)state;
    mod m;
    header(&m);
    SEC(&m, 1, 0x01, 0x5f, 0x00, 0x00);
    expect_invalid(&m, "type 0: form 0x5f is not a function type");
    header(&m);
    SEC(&m, 1, 0x01, 0x60, 0x01, 0x40, 0x00);
    expect_invalid(&m, "param type: unknown value type 0x40");
    header(&m);
    SEC(&m, 1, 0x01, 0x60, 0x00, 0x01, 0x63);   /* typed references (GC) are not supported */
    expect_invalid(&m, "result type: unknown value type 0x63");
    header(&m);
    type_section(&m);
    SEC(&m, 2, 0x01, 0x01, 'a', 0x01, 'b', 0x00, 0x01);
    expect_invalid(&m, "type index 1 out of range (1 types)");
    header(&m);
    SEC(&m, 2, 0x01, 0x01, 'a', 0x01, 'b', 0x05, 0x00);
    expect_invalid(&m, "import 0: unknown kind 0x05");
    header(&m);
    SEC(&m, 3, 0x01, 0x00);
    expect_invalid(&m, "type index 0 out of range (0 types)");
    header(&m);
    type_section(&m);
    function_section(&m);
    SEC(&m, 7, 0x01, 0x01, 'a', 0x00, 0x01);
    expect_invalid(&m, "export 0: func index 1 out of range (1)");
    header(&m);
    SEC(&m, 7, 0x01, 0x01, 'a', 0x02, 0x00);
    expect_invalid(&m, "export 0: memory index 0 out of range (0)");
    header(&m);
    SEC(&m, 7, 0x01, 0x01, 'a', 0x07, 0x00);
    expect_invalid(&m, "export 0: unknown kind 0x07");
    header(&m);
    type_section(&m);
    function_section(&m);
    SEC(&m, 8, 0x01);
    expect_invalid(&m, "start function 1 out of range (1 functions)");
    header(&m);
    SEC(&m, 13, 0x01, 0x01, 0x00);
    expect_invalid(&m, "tag attribute 0x01 is not 0");
}

static void test_limits(void **state)
{
    (void)state;
    mod m;
    header(&m);
    SEC(&m, 5, 0x01, 0x08, 0x00);
    expect_invalid(&m, "memory limits flags 0x08 not supported");
    header(&m);
    SEC(&m, 5, 0x01, 0x02, 0x01);
    expect_invalid(&m, "a shared memory must declare a maximum");
    header(&m);
    SEC(&m, 5, 0x01, 0x00, 0x81, 0x80, 0x04);
    expect_invalid(&m, "memory minimum of 65537 pages is over the 65536-page limit");
    header(&m);
    SEC(&m, 5, 0x01, 0x01, 0x02, 0x01);
    expect_invalid(&m, "memory maximum 1 is below its minimum 2");
    header(&m);
    SEC(&m, 5, 0x01, 0x04, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40);
    expect_invalid(&m, "memory minimum of 281474976710657 pages is over the 281474976710656-page limit");
    header(&m);   /* an 11-byte LEB128 for a 64-bit value */
    SEC(&m, 5, 0x01, 0x04, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
    expect_invalid(&m, "memory minimum: malformed LEB128");
    header(&m);   /* 10 bytes but bits past 64 set */
    SEC(&m, 5, 0x01, 0x04, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02);
    expect_invalid(&m, "memory minimum: malformed LEB128");
    header(&m);
    SEC(&m, 4, 0x01, 0x70, 0x04, 0x00);   /* table64 is not supported */
    expect_invalid(&m, "table limits flags 0x04 not supported");
    header(&m);
    SEC(&m, 4, 0x01, 0x7f, 0x00, 0x00);
    expect_invalid(&m, "table element type: 0x7f is not funcref");
    header(&m);
    SEC(&m, 4, 0x01, 0x70, 0x01, 0x05, 0x04);
    expect_invalid(&m, "table maximum 4 is below its minimum 5");
}

static void test_const_exprs(void **state)
{
    (void)state;
    mod m;
    header(&m);
    SEC(&m, 6, 0x01, 0x7f, 0x00, 0x20, 0x00, 0x0b);   /* local.get */
    expect_invalid(&m, "opcode 0x20 is not allowed in a constant expression");
    header(&m);
    SEC(&m, 6, 0x01, 0x7f, 0x02, 0x41, 0x00, 0x0b);
    expect_invalid(&m, "global mutability 0x02");
    header(&m);
    SEC(&m, 6, 0x01, 0x7f, 0x00, 0x41, 0xff, 0xff, 0xff, 0xff, 0x4f, 0x0b);
    expect_invalid(&m, "i32.const: malformed LEB128");
    header(&m);   /* -1 as a full-length s32 is fine */
    SEC(&m, 6, 0x01, 0x7f, 0x00, 0x41, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x0b);
    nc_analysis *a = expect_valid(&m);
    nc_analysis_free(a);
    header(&m);
    SEC(&m, 6, 0x01, 0x7e, 0x00, 0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x0b);
    expect_invalid(&m, "i64.const: malformed LEB128");
    header(&m);
    SEC(&m, 6, 0x01, 0x7b, 0x00, 0xfd, 0x0d, 0x0b);
    expect_invalid(&m, "SIMD opcode 13 is not allowed");
    header(&m);
    SEC(&m, 6, 0x01, 0x7f, 0x00, 0x41, 0x00);   /* no end */
    expect_invalid(&m, "truncated: constant expression");
    /* longer than the cap */
    header(&m);
    uint8_t g[64];
    size_t n = 0;
    g[n++] = 0x01;
    g[n++] = 0x7f;
    g[n++] = 0x00;
    for (unsigned i = 0; i <= NC_WASM_MAX_CONST_EXPR_OPS; i++) {
        g[n++] = 0x23;
        g[n++] = 0x00;
    }
    g[n++] = 0x0b;
    sec(&m, 6, g, n);
    expect_invalid(&m, "constant expression longer than 16 instructions");
    /* element and data segment forms */
    header(&m);
    SEC(&m, 9, 0x01, 0x08, 0x00, 0x00);
    expect_invalid(&m, "element segment 0: flags 8 not supported");
    header(&m);
    SEC(&m, 9, 0x01, 0x01, 0x01, 0x00);
    expect_invalid(&m, "element kind 0x01 is not funcref");
    header(&m);
    SEC(&m, 11, 0x01, 0x03, 0x00);
    expect_invalid(&m, "data segment 0: flags 3 not supported");
    header(&m);
    SEC(&m, 11, 0x01, 0x01, 0x05, 'a');
    expect_invalid(&m, "data segment of 5 bytes runs past the end of the section");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_hostile_fixtures),
        cmocka_unit_test(test_c_guest),
        cmocka_unit_test(test_every_wasi_function_classified),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_drift),
        cmocka_unit_test(test_empty_module),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_signature_text),
        cmocka_unit_test(test_every_truncation_fails),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_section_framing),
        cmocka_unit_test(test_counts_and_caps),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_types_and_indices),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_const_exprs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
