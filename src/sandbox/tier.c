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
