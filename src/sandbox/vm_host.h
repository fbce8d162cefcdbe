/* The vm tier's host side (vm.c): QEMU microVMs, their accelerator, their
 * pool. Sandbox-internal: the tier interface (tier.h) is how the rest of
 * Night Core reaches it. */
#ifndef NC_SANDBOX_VM_HOST_H
#define NC_SANDBOX_VM_HOST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"
#include "common/hash.h"
#include "sandbox/sandbox.h"

#define NC_VM_QEMU_DEFAULT "/usr/bin/qemu-system-x86_64"
#define NC_VM_QEMU_FD 3   /* QEMU's end of the port's socketpair */
#define NC_VM_NO_DIRS_TEXT                                                                         \
    "the vm tier grants no directories: Debian's cloud kernel has no 9p and Debian packages no "  \
    "virtiofsd for QEMU 7.2, so a microVM has no way to reach a host directory; approve it "      \
    "under a process-tier policy to grant directories"

typedef enum {
    NC_VM_ACCEL_CHOICE_AUTO = 0,   /* KVM when a probe guest boots under it, else TCG */
    NC_VM_ACCEL_CHOICE_KVM,        /* KVM or nothing */
    NC_VM_ACCEL_CHOICE_TCG,
} nc_vm_accel_choice;

typedef struct {
    const char *qemu;          /* NULL: NC_VM_QEMU_DEFAULT */
    const char *kernel;        /* the guest kernel (scripts/guest-kernel) */
    const char *initrd;        /* the initramfs with the guest runner */
    nc_vm_accel_choice accel;
    unsigned pool_size;        /* VMs kept booted */
    uint32_t boot_timeout_ms;  /* 0: NC_VM_BOOT_TIMEOUT_MS */
    const char *console_log;   /* NULL: the guest's console is discarded */
} nc_vm_host_opts;

typedef struct nc_vm_host nc_vm_host;

typedef struct {
    nc_vm_accel accel;
    char accel_note[256];
    unsigned pool_size, pool_ready;
    uint32_t pool_mem_mib;
    uint64_t boots, boot_failures;
} nc_vm_host_status;

/* Checks that QEMU, the kernel and the initramfs are there
 * (NC_ERR_TIER_UNAVAILABLE with what to do otherwise) and starts the pool
 * thread, which first chooses the accelerator. */
NC_MUST_CHECK nc_err nc_vm_host_new(const nc_vm_host_opts *opts, nc_vm_host **out, char *msg,
                                    size_t msg_len);
void nc_vm_host_free(nc_vm_host *h);
/* The accelerator (wait: until the probe has decided). note: why. */
nc_vm_accel nc_vm_host_accel(nc_vm_host *h, bool wait, char *note, size_t note_len);
void nc_vm_host_stats(nc_vm_host *h, nc_vm_host_status *st);
/* The VM size for a run: NC_VM_OVERHEAD_BYTES + linear memories + stdin +
 * the artifact (at least NC_VM_POOL_ARTIFACT_BYTES) + output caps, in 16 MiB
 * steps, at most NC_VM_MAX_MEMORY_MIB. */
uint32_t nc_vm_memory_mib(const nc_run_spec *spec, size_t artifact_len);

/* One VM with this host's settings, its port handed over once its guest has
 * said hello (tests and benchmarks: what boots is whatever /init the
 * initramfs holds). nc_vm_host_kill ends it. */
NC_MUST_CHECK nc_err nc_vm_host_boot(nc_vm_host *h, uint32_t mem_mib, int *sock, int *pid, uint64_t *boot_ns,
                                     char *msg, size_t msg_len);
void nc_vm_host_kill(int sock, int pid);

/* The vm tier's artifacts: compiled for NC_VM_CPU_LEVEL, which every guest
 * CPU offers (vm_compile.c), with a fingerprint of their own. */
#define NC_VM_CPU_LEVEL "x86-64-v2"
void nc_vm_engine_fingerprint(bool fuel, char out[65]);
/* Sets an engine configuration's target to the guests' CPU level; false if
 * the engine refuses it. */
struct wasm_config_t;
bool nc_vm_config_target(struct wasm_config_t *config);

/* Runs one verified artifact in a fresh microVM, its output streamed to
 * hooks->on_output and cancellable through hooks->cancel (hooks may be
 * NULL), as nc_sandbox_run_ex does. As nc_sandbox_run: NC_OK
 * when the module ran (whatever its outcome), an error when it could not. */
NC_MUST_CHECK nc_err nc_vm_host_run(nc_vm_host *h, const uint8_t *artifact, size_t artifact_len,
                                    bool fuel, const uint8_t artifact_sha256[NC_SHA256_LEN],
                                    const nc_run_spec *spec, const nc_run_hooks *hooks,
                                    nc_run_result *res, char *msg, size_t msg_len);

#endif
