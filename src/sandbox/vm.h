/* The vm tier (vm.c on the host, vm/guest.c in the guest) and the messages
 * between them (vmwire.c). Sandbox-internal: nothing outside src/sandbox/
 * includes this.
 *
 * Channel: one virtio serial port (a byte stream; a socketpair on the host
 * side, /dev/vport0p1 in the guest). One VM takes one run, then powers off.
 *   guest -> host  hello: "NCVH", protocol version (u32be): the guest is up
 *                  and waits for its run. Exactly NC_VM_HELLO_LEN bytes.
 *   host -> guest  request header: "NCVQ", artifact length, spec length,
 *                  zero (u32be each); then the artifact's bytes (the host
 *                  verified them against the recorded hash), then the run
 *                  specification, encoded as for the process tier's child
 *                  (wire.c) with no directories.
 *   guest -> host  output chunk frames ("NCO1") when the specification asks
 *                  for a stream, then the result frame ("NCR1"), each a u32be
 *                  body length and the body, as the process tier's child
 *                  sends them. The host parses them as hostile input, with
 *                  the same caps and the same check of the result against
 *                  what was streamed. */
#ifndef NC_SANDBOX_VM_H
#define NC_SANDBOX_VM_H
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"

#define NC_VM_HELLO_MAGIC 0x4e435648u     /* "NCVH" */
#define NC_VM_REQUEST_MAGIC 0x4e435651u   /* "NCVQ" */
#define NC_VM_PROTOCOL 1u
#define NC_VM_HELLO_LEN 8u
#define NC_VM_REQUEST_HEADER_LEN 16u
#define NC_VM_PORT_PATH "/dev/vport0p1"

void nc_vmwire_hello(uint8_t out[NC_VM_HELLO_LEN]);
/* Exactly a hello of this protocol version, nothing else. */
NC_MUST_CHECK nc_err nc_vmwire_check_hello(const uint8_t *p, size_t len);

void nc_vmwire_request_header(uint32_t artifact_len, uint32_t spec_len,
                              uint8_t out[NC_VM_REQUEST_HEADER_LEN]);
/* Checks the magic, the reserved word and both lengths against their caps
 * (NC_MAX_ARTIFACT_BYTES, NC_MAX_SPEC_BYTES; an artifact of 0 bytes is
 * malformed). Outputs are set only on success. */
NC_MUST_CHECK nc_err nc_vmwire_parse_request_header(const uint8_t *p, size_t len,
                                                    uint32_t *artifact_len, uint32_t *spec_len);

#endif
