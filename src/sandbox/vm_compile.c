/* Artifacts for the vm tier. A guest's CPU is not the host's: under TCG,
 * QEMU's `max` CPU lacks much of what a recent host has (AVX-512, AVX-VNNI,
 * ...), and Wasmtime refuses to load code compiled for features the CPU it
 * runs on does not have. So the vm tier's artifacts are compiled for a fixed
 * CPU level every such guest has, x86-64-v2 (SSE3, SSSE3, SSE4.1, SSE4.2,
 * POPCNT), with the same engine settings as the process tier's (exec.c), and
 * carry their own fingerprint. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nightcore_engine.h>
#include <wasmtime.h>
#include "common/limits.h"
#include "sandbox/internal.h"
#include "sandbox/vm_host.h"

static const char *const vm_cpu_flags[] = {"has_sse3", "has_ssse3", "has_sse41", "has_sse42", "has_popcnt"};

void nc_vm_engine_fingerprint(bool fuel, char out[65])
{
    char base[65], text[160];
    uint8_t h[NC_SHA256_LEN];
    nc_engine_fingerprint(fuel, base);
    int n = snprintf(text, sizeof text, "%s;cpu=" NC_VM_CPU_LEVEL, base);
    if (n < 0 || nc_sha256(text, (size_t)n, h) != NC_OK)
        memset(h, 0, sizeof h);
    nc_hex(h, sizeof h, out);
}

static void message(char *msg, size_t msg_len, const char *prefix, wasmtime_error_t *e)
{
    wasm_name_t m;
    wasmtime_error_message(e, &m);
    snprintf(msg, msg_len, "%s%.*s", prefix, (int)(m.size > 400 ? 400 : m.size), m.data ? m.data : "");
    wasm_byte_vec_delete(&m);
}

nc_err nc_vm_compile(const uint8_t *wasm, size_t len, bool fuel, uint8_t **artifact, size_t *artifact_len,
                     char *msg, size_t msg_len)
{
    wasm_engine_t *engine = NULL;
    wasmtime_module_t *module = NULL;
    wasmtime_error_t *werr = NULL;
    wasm_byte_vec_t ser = {0, NULL};
    nc_err err = NC_ERR_INTERNAL;

    *artifact = NULL;
    *artifact_len = 0;
    if (len > NC_MAX_MODULE_BYTES) {
        snprintf(msg, msg_len, "module larger than the size cap");
        return NC_ERR_TOO_LARGE;
    }
    wasm_config_t *config = wasm_config_new();
    if (!config)
        return NC_ERR_NOMEM;
    /* The process tier's settings (exec.c, engine_new), then the guest's CPU. */
    wasmtime_config_epoch_interruption_set(config, false);
    wasmtime_config_consume_fuel_set(config, fuel);
    wasmtime_config_cranelift_opt_level_set(config, WASMTIME_OPT_LEVEL_SPEED);
    wasmtime_config_memory_init_cow_set(config, true);
    wasmtime_config_signals_based_traps_set(config, true);
    wasmtime_config_parallel_compilation_set(config, true);
    werr = wasmtime_config_target_set(config, "x86_64-unknown-linux-gnu");
    if (werr) {
        message(msg, msg_len, "cannot set the vm tier's target: ", werr);
        wasmtime_error_delete(werr);
        wasm_config_delete(config);
        return NC_ERR_INTERNAL;
    }
    for (size_t i = 0; i < sizeof vm_cpu_flags / sizeof vm_cpu_flags[0]; i++)
        wasmtime_config_cranelift_flag_enable(config, vm_cpu_flags[i]);
    engine = wasm_engine_new_with_config(config);
    if (!engine)
        goto done;
    werr = wasmtime_module_new(engine, wasm, len, &module);
    if (werr) {
        message(msg, msg_len, "invalid module: ", werr);
        err = NC_ERR_INVALID_MODULE;
        goto done;
    }
    werr = wasmtime_module_serialize(module, &ser);
    if (werr) {
        message(msg, msg_len, "cannot serialize module: ", werr);
        goto done;
    }
    *artifact = malloc(ser.size ? ser.size : 1);
    if (!*artifact) {
        err = NC_ERR_NOMEM;
        goto done;
    }
    memcpy(*artifact, ser.data, ser.size);
    *artifact_len = ser.size;
    err = NC_OK;
done:
    if (werr)
        wasmtime_error_delete(werr);
    if (ser.data)
        wasm_byte_vec_delete(&ser);
    if (module)
        wasmtime_module_delete(module);
    if (engine)
        wasm_engine_delete(engine);
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    return err;
}
