/* Artifacts for the vm tier. A guest's CPU is not the host's: under TCG,
 * QEMU's `max` CPU lacks much of what a recent host has (AVX-512, AVX-VNNI,
 * ...), and Wasmtime refuses to load code compiled for features the CPU it
 * runs on does not have. So the vm tier's artifacts are compiled (in a
 * compile child, as the process tier's: compile.c) for a fixed CPU level
 * every such guest has, x86-64-v2 (SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT), with
 * the same engine settings as the process tier's (exec.c), and carry their
 * own fingerprint. */
#include <stdio.h>
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

bool nc_vm_config_target(struct wasm_config_t *config)
{
    wasmtime_error_t *werr = wasmtime_config_target_set(config, "x86_64-unknown-linux-gnu");
    if (werr) {
        wasmtime_error_delete(werr);
        return false;
    }
    for (size_t i = 0; i < sizeof vm_cpu_flags / sizeof vm_cpu_flags[0]; i++)
        wasmtime_config_cranelift_flag_enable(config, vm_cpu_flags[i]);
    return true;
}
