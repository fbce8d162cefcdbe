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

#ifdef __cplusplus
}
#endif

#endif
