/* The vm tier's own messages (vm.h): the guest's hello and the host's request
 * header. The result comes back in the process tier's format (wire.c). */
#include <string.h>
#include "common/limits.h"
#include "common/reader.h"
#include "sandbox/vm.h"

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void nc_vmwire_hello(uint8_t out[NC_VM_HELLO_LEN])
{
    put_u32(out, NC_VM_HELLO_MAGIC);
    put_u32(out + 4, NC_VM_PROTOCOL);
}

nc_err nc_vmwire_check_hello(const uint8_t *p, size_t len)
{
    nc_reader r;
    uint32_t magic, version;
    nc_reader_init(&r, p, len);
    nc_err err = nc_read_u32be(&r, &magic);
    if (err == NC_OK)
        err = nc_read_u32be(&r, &version);
    if (err == NC_OK)
        err = nc_read_expect_end(&r);
    if (err != NC_OK)
        return err;
    return magic == NC_VM_HELLO_MAGIC && version == NC_VM_PROTOCOL ? NC_OK : NC_ERR_MALFORMED;
}

void nc_vmwire_request_header(uint32_t artifact_len, uint32_t spec_len,
                              uint8_t out[NC_VM_REQUEST_HEADER_LEN])
{
    put_u32(out, NC_VM_REQUEST_MAGIC);
    put_u32(out + 4, artifact_len);
    put_u32(out + 8, spec_len);
    put_u32(out + 12, 0);
}

nc_err nc_vmwire_parse_request_header(const uint8_t *p, size_t len, uint32_t *artifact_len,
                                      uint32_t *spec_len)
{
    nc_reader r;
    uint32_t magic, alen, slen, zero;
    nc_reader_init(&r, p, len);
    nc_err err = nc_read_u32be(&r, &magic);
    if (err == NC_OK)
        err = nc_read_u32be(&r, &alen);
    if (err == NC_OK)
        err = nc_read_u32be(&r, &slen);
    if (err == NC_OK)
        err = nc_read_u32be(&r, &zero);
    if (err == NC_OK)
        err = nc_read_expect_end(&r);
    if (err != NC_OK)
        return err;
    if (magic != NC_VM_REQUEST_MAGIC || zero != 0 || alen == 0)
        return NC_ERR_MALFORMED;
    if (alen > NC_MAX_ARTIFACT_BYTES || slen > NC_MAX_SPEC_BYTES)
        return NC_ERR_TOO_LARGE;
    *artifact_len = alen;
    *spec_len = slen;
    return NC_OK;
}
