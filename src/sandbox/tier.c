/* Names of the isolation tiers and of the vm tier's accelerators. */
#include <string.h>
#include "sandbox/sandbox.h"

const char *nc_tier_name(nc_tier t)
{
    switch (t) {
    case NC_TIER_PROCESS: return "process";
    case NC_TIER_INPROCESS: return "inprocess";
    case NC_TIER_VM: return "vm";
    default: return "?";
    }
}

const char *nc_vm_accel_name(nc_vm_accel a)
{
    switch (a) {
    case NC_VM_ACCEL_KVM: return "kvm";
    case NC_VM_ACCEL_TCG: return "tcg";
    case NC_VM_ACCEL_PROBING: return "probing";
    default: return "none";
    }
}

nc_err nc_tier_from_name(const char *name, nc_tier *out)
{
    if (name && strcmp(name, "process") == 0)
        *out = NC_TIER_PROCESS;
    else if (name && strcmp(name, "vm") == 0)
        *out = NC_TIER_VM;
    else
        return NC_ERR_USAGE;
    return NC_OK;
}

static size_t add(nc_isolation_feature *out, size_t n, size_t max, const char *name, int kind, long long v,
                  const char *text)
{
    if (n < max)
        out[n] = (nc_isolation_feature){.name = name, .kind = kind, .value = v, .text = text};
    return n + 1;
}

size_t nc_isolation_features(const nc_isolation_report *r, nc_isolation_feature *out, size_t max)
{
    size_t n = 0;
    n = add(out, n, max, "tier", NC_FEATURE_TEXT, 0, nc_tier_name(r->tier));
    if (r->tier == NC_TIER_VM) {
        n = add(out, n, max, "accel", NC_FEATURE_TEXT, 0, nc_vm_accel_name(r->accel));
        n = add(out, n, max, "vm_pooled", NC_FEATURE_BOOL, r->vm_pooled, NULL);
        n = add(out, n, max, "vm_memory_mib", NC_FEATURE_INT, r->vm_memory_mib, NULL);
        n = add(out, n, max, "qemu_userns", NC_FEATURE_BOOL, r->qemu_userns, NULL);
        n = add(out, n, max, "qemu_netns", NC_FEATURE_BOOL, r->qemu_netns, NULL);
        n = add(out, n, max, "qemu_landlock", NC_FEATURE_BOOL, r->qemu_landlock, NULL);
    }
    n = add(out, n, max, "userns", NC_FEATURE_BOOL, r->userns, NULL);
    n = add(out, n, max, "netns", NC_FEATURE_BOOL, r->netns, NULL);
    n = add(out, n, max, "no_new_privs", NC_FEATURE_BOOL, r->no_new_privs, NULL);
    n = add(out, n, max, "caps_dropped", NC_FEATURE_BOOL, r->caps_dropped, NULL);
    n = add(out, n, max, "rlimits", NC_FEATURE_BOOL, r->rlimits, NULL);
    n = add(out, n, max, "landlock_abi", NC_FEATURE_INT, r->landlock_abi, NULL);
    n = add(out, n, max, "seccomp", NC_FEATURE_BOOL, r->seccomp, NULL);
    return n < max ? n : max;
}
