/* Runs WebAssembly fixtures against Night Core's WASI host for unit tests.
 *
 *   wh h;
 *   wh_open(&h, "wasi_proxy", &cfg);             // $NC_FIXTURES/wasi_proxy.wasm
 *   int32_t e = WH_CALL(&h, "x_fd_write", WH_I32(1), WH_I32(0), WH_I32(1), WH_I32(8));
 *   ... inspect h.w (the nc_wasi), wh_mem(&h), h.trapped ...
 *   wh_close(&h);
 *
 * One engine per process (wh_global_setup/teardown); modules are compiled once
 * and cached; every wh_open makes a fresh store, linker and nc_wasi. Include
 * after <cmocka.h>. */
#ifndef NC_TESTS_WASI_HARNESS_H
#define NC_TESTS_WASI_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasmtime.h>
#include "sandbox/wasi.h"

typedef struct {
    wasmtime_store_t *store;
    wasmtime_context_t *ctx;
    wasmtime_linker_t *linker;
    wasmtime_instance_t inst;
    nc_wasi *w;
    bool trapped;        /* the last call ended in a trap */
    char trap[256];      /* its message */
} wh;

#define WH_I32(x) ((wasmtime_val_t){.kind = WASMTIME_I32, .of.i32 = (int32_t)(x)})
#define WH_I64(x) ((wasmtime_val_t){.kind = WASMTIME_I64, .of.i64 = (int64_t)(x)})
#define WH_CALL(h, fn, ...)                                                                      \
    wh_call((h), (fn), (wasmtime_val_t[]){__VA_ARGS__},                                          \
            sizeof((wasmtime_val_t[]){__VA_ARGS__}) / sizeof(wasmtime_val_t))
#define WH_CALL0(h, fn) wh_call((h), (fn), NULL, 0)

static wasm_engine_t *wh_engine;
static struct {
    char name[64];
    wasmtime_module_t *module;
} wh_cache[16];

static inline void wh_fail_error(const char *what, wasmtime_error_t *err)
{
    wasm_name_t m;
    wasmtime_error_message(err, &m);
    fprintf(stderr, "%s: %.*s\n", what, (int)m.size, m.data);
    wasm_byte_vec_delete(&m);
    wasmtime_error_delete(err);
    fail_msg("%s failed", what);
}

static inline int wh_global_setup(void **state)
{
    (void)state;
    wh_engine = wasm_engine_new();
    return wh_engine ? 0 : -1;
}

static inline int wh_global_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof wh_cache / sizeof wh_cache[0]; i++) {
        if (wh_cache[i].module)
            wasmtime_module_delete(wh_cache[i].module);
        wh_cache[i].module = NULL;
    }
    if (wh_engine)
        wasm_engine_delete(wh_engine);
    wh_engine = NULL;
    return 0;
}

static inline wasmtime_module_t *wh_module(const char *name)
{
    size_t slot = SIZE_MAX;
    for (size_t i = 0; i < sizeof wh_cache / sizeof wh_cache[0]; i++) {
        if (wh_cache[i].module && strcmp(wh_cache[i].name, name) == 0)
            return wh_cache[i].module;
        if (!wh_cache[i].module && slot == SIZE_MAX)
            slot = i;
    }
    assert_true(slot != SIZE_MAX);
    assert_true(strlen(name) < sizeof wh_cache[0].name);
    const char *dir = getenv("NC_FIXTURES");
    assert_non_null(dir);
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s.wasm", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open fixture %s", path);
    static uint8_t bytes[4u << 20];
    size_t len = fread(bytes, 1, sizeof bytes, f);
    assert_true(len > 0 && len < sizeof bytes);
    fclose(f);
    wasmtime_module_t *m = NULL;
    wasmtime_error_t *err = wasmtime_module_new(wh_engine, bytes, len, &m);
    if (err)
        wh_fail_error("compile fixture", err);
    memcpy(wh_cache[slot].name, name, strlen(name) + 1);
    wh_cache[slot].module = m;
    return m;
}

static inline void wh_open(wh *h, const char *fixture, const nc_wasi_config *cfg)
{
    memset(h, 0, sizeof *h);
    wasmtime_module_t *m = wh_module(fixture);
    assert_int_equal(nc_wasi_new(cfg, &h->w), NC_OK);
    h->store = wasmtime_store_new(wh_engine, NULL, NULL);
    assert_non_null(h->store);
    h->ctx = wasmtime_store_context(h->store);
    h->linker = wasmtime_linker_new(wh_engine);
    assert_non_null(h->linker);
    assert_int_equal(nc_wasi_define(h->w, h->linker), NC_OK);
    wasm_trap_t *trap = NULL;
    wasmtime_error_t *err = wasmtime_linker_instantiate(h->linker, h->ctx, m, &h->inst, &trap);
    if (err)
        wh_fail_error("instantiate", err);
    if (trap) {
        wasm_trap_delete(trap);
        fail_msg("start function trapped");
    }
}

/* Calls an export; returns its i32 result (0 if it has none, -1 after a trap). */
static inline int32_t wh_call(wh *h, const char *fn, const wasmtime_val_t *args, size_t nargs)
{
    wasmtime_extern_t item;
    h->trapped = false;
    h->trap[0] = '\0';
    if (!wasmtime_instance_export_get(h->ctx, &h->inst, fn, strlen(fn), &item) ||
        item.kind != WASMTIME_EXTERN_FUNC)
        fail_msg("no exported function %s", fn);
    wasm_functype_t *ty = wasmtime_func_type(h->ctx, &item.of.func);
    size_t nresults = wasm_functype_results(ty)->size;
    wasm_functype_delete(ty);
    assert_true(nresults <= 1);
    wasmtime_val_t result = {.kind = WASMTIME_I32};
    wasm_trap_t *trap = NULL;
    wasmtime_error_t *err =
        wasmtime_func_call(h->ctx, &item.of.func, args, nargs, &result, nresults, &trap);
    wasmtime_extern_delete(&item);
    if (err) {
        /* A trap raised by a host function (proc_exit, the output cap)
         * comes back as an error, not a wasm_trap_t. */
        wasm_name_t m;
        wasmtime_error_message(err, &m);
        size_t n = m.size < sizeof h->trap - 1 ? m.size : sizeof h->trap - 1;
        memcpy(h->trap, m.data, n);
        h->trap[n] = '\0';
        wasm_byte_vec_delete(&m);
        wasmtime_error_delete(err);
        h->trapped = true;
        return -1;
    }
    if (trap) {
        wasm_message_t m;
        wasm_trap_message(trap, &m);
        size_t n = m.size < sizeof h->trap - 1 ? m.size : sizeof h->trap - 1;
        memcpy(h->trap, m.data, n);
        h->trap[n] = '\0';
        wasm_byte_vec_delete(&m);
        wasm_trap_delete(trap);
        h->trapped = true;
        return -1;
    }
    return nresults ? result.of.i32 : 0;
}

static inline uint8_t *wh_mem(wh *h, size_t *len)
{
    wasmtime_extern_t item;
    if (!wasmtime_instance_export_get(h->ctx, &h->inst, "memory", 6, &item) ||
        item.kind != WASMTIME_EXTERN_MEMORY)
        fail_msg("fixture exports no memory");
    uint8_t *p = wasmtime_memory_data(h->ctx, &item.of.memory);
    *len = wasmtime_memory_data_size(h->ctx, &item.of.memory);
    wasmtime_extern_delete(&item);
    return p;
}

static inline void wh_put(wh *h, uint32_t at, const void *src, size_t n)
{
    size_t len;
    uint8_t *m = wh_mem(h, &len);
    assert_true(at <= len && n <= len - at);
    memcpy(m + at, src, n);
}

/* Writes a string (no NUL) into guest memory; returns its length. */
static inline uint32_t wh_str(wh *h, uint32_t at, const char *s)
{
    wh_put(h, at, s, strlen(s));
    return (uint32_t)strlen(s);
}

static inline void wh_get(wh *h, uint32_t at, void *dst, size_t n)
{
    size_t len;
    uint8_t *m = wh_mem(h, &len);
    assert_true(at <= len && n <= len - at);
    memcpy(dst, m + at, n);
}

static inline uint16_t wh_u16(wh *h, uint32_t at)
{
    uint8_t b[2];
    wh_get(h, at, b, 2);
    return (uint16_t)(b[0] | (b[1] << 8));
}

static inline uint32_t wh_u32(wh *h, uint32_t at)
{
    uint8_t b[4];
    wh_get(h, at, b, 4);
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
           ((uint32_t)b[3] << 24);
}

static inline uint64_t wh_u64(wh *h, uint32_t at)
{
    return (uint64_t)wh_u32(h, at) | ((uint64_t)wh_u32(h, at + 4) << 32);
}

static inline void wh_put_u32(wh *h, uint32_t at, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    wh_put(h, at, b, 4);
}

static inline void wh_put_u64(wh *h, uint32_t at, uint64_t v)
{
    wh_put_u32(h, at, (uint32_t)v);
    wh_put_u32(h, at + 4, (uint32_t)(v >> 32));
}

static inline void wh_close(wh *h)
{
    if (h->linker)
        wasmtime_linker_delete(h->linker);
    if (h->store)
        wasmtime_store_delete(h->store);
    nc_wasi_free(h->w);
    memset(h, 0, sizeof *h);
}

#endif
