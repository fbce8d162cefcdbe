/* What Night Core's engine crate (engine/src/lib.rs) adds to the Wasmtime C API. */
#ifndef NIGHTCORE_ENGINE_H
#define NIGHTCORE_ENGINE_H
#include <stdbool.h>
#include <stdint.h>
#include <wasmtime.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A store's resource limits, and what the engine saw of them. The caller
 * fills the limits; the engine updates the last two fields as the module
 * runs. */
typedef struct nightcore_limits_t {
    uint64_t memory_bytes;       /* per linear memory */
    uint64_t table_elements;     /* per table */
    uint32_t instances, tables, memories;
    uint64_t peak_memory_bytes;  /* largest size any linear memory was allowed to reach */
    bool memory_refused;         /* a grow (or an initial size) above memory_bytes was refused */
} nightcore_limits_t;

/* Installs the limits as the store's resource limiter. `limits` is borrowed:
 * it must outlive the store and is read and written by the engine only while
 * the store runs code (instantiation, calls). Unlike wasmtime_store_limiter(),
 * refusals are recorded instead of only failing the grow. */
void nightcore_store_limiter(wasmtime_store_t *store, nightcore_limits_t *limits);

/* Compiles wasm (len bytes) with the engine's settings to the bytes
 * wasmtime_module_deserialize() loads, as `wasmtime compile` does: the code is
 * generated and serialized, never mapped executable here (the compile child's
 * seccomp profile refuses executable mappings). On success *out holds the
 * artifact (free it with wasm_byte_vec_delete) and NULL is returned; else the
 * error (free it with wasmtime_error_delete). */
wasmtime_error_t *nightcore_precompile_module(const wasm_engine_t *engine, const uint8_t *wasm, size_t len,
                                              wasm_byte_vec_t *out);

#ifdef __cplusplus
}
#endif

#endif
