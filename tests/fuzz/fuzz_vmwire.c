/* Fuzz the vm tier's own messages (vm.h): the guest's hello as the host
 * reads it, the host's request header as the guest reads it, and a guest's
 * reply frame as the host takes it (length against the caps, then the
 * process tier's result parser). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sandbox/internal.h"
#include "sandbox/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (nc_vmwire_check_hello(data, size < NC_VM_HELLO_LEN ? size : NC_VM_HELLO_LEN) == NC_OK &&
        (size < NC_VM_HELLO_LEN || memcmp(data, "NCVH", 4) != 0))
        abort();
    uint32_t alen = 0, slen = 0;
    if (nc_vmwire_parse_request_header(data, size < NC_VM_REQUEST_HEADER_LEN ? size : NC_VM_REQUEST_HEADER_LEN,
                                       &alen, &slen) == NC_OK &&
        (alen == 0 || alen > NC_MAX_ARTIFACT_BYTES || slen > NC_MAX_SPEC_BYTES))
        abort();
    /* After a hello: a result frame, as the host reads it (caps of a small run). */
    if (size >= NC_VM_HELLO_LEN + 4) {
        const uint8_t *p = data + NC_VM_HELLO_LEN;
        uint32_t rlen = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        size_t stdout_cap = 4096, stderr_cap = 4096, cap = stdout_cap + stderr_cap + 64 * 1024;
        if (rlen <= cap && rlen <= size - NC_VM_HELLO_LEN - 4) {
            nc_run_result r;
            nc_err status;
            memset(&r, 0, sizeof r);
            if (nc_wire_decode_result(p + 4, rlen, stdout_cap, stderr_cap, &status, &r) == NC_OK) {
                if (r.out_len > stdout_cap || r.err_len > stderr_cap || r.ndenied > NC_WASI_MAX_DENIED)
                    abort();
                nc_run_result_cleanup(&r);
            }
        }
    }
    return 0;
}
