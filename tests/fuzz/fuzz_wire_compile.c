/* Fuzz the compile child's frames (src/sandbox/compile_wire.c): the reply
 * comes from a process that compiled hostile code. Whatever the bytes, an
 * accepted reply keeps its promises (a status a compiler may give, an ELF
 * artifact inside the input on success and none on failure, one printable
 * line of message), and it is canonical: encoding what was decoded gives the
 * same bytes. The same for the request the child parses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sandbox/compile.h"
#include "sandbox/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reply(const uint8_t *data, size_t size)
{
    nc_wire_artifact rep;
    if (nc_wire_decode_artifact(data, size, &rep) != NC_OK)
        return;
    size_t mlen = strlen(rep.message);
    if (mlen > NC_COMPILE_MAX_MESSAGE)
        abort();
    for (size_t i = 0; i < mlen; i++)
        if (rep.message[i] < 0x20 || rep.message[i] > 0x7e)
            abort();
    if (rep.status == NC_OK) {
        if (!rep.artifact || rep.artifact_len < 4 || mlen || rep.artifact < data ||
            rep.artifact_len > size || rep.artifact - data > (ptrdiff_t)(size - rep.artifact_len) ||
            memcmp(rep.artifact, "\x7f" "ELF", 4) != 0)
            abort();
    } else if (rep.artifact || rep.artifact_len || !mlen) {
        abort();
    }
    uint8_t head[NC_WIRE_ARTIFACT_FIXED + NC_COMPILE_MAX_MESSAGE];
    size_t hl;
    if (nc_wire_artifact_head(rep.status, &rep.isolation, rep.compile_ns, rep.message, rep.artifact_len, head,
                              sizeof head, &hl) != NC_OK)
        abort();
    if (hl - 4 + rep.artifact_len != size || memcmp(head + 4, data, hl - 4) != 0 ||
        (rep.artifact_len && rep.artifact != data + (hl - 4)))
        abort();
}

static void check_request(const uint8_t *data, size_t size)
{
    nc_wire_compile rq;
    if (nc_wire_decode_compile(data, size, &rq) != NC_OK)
        return;
    if (rq.hook != 0 || rq.wasm_len == 0 || rq.wasm_len > NC_MAX_MODULE_BYTES)
        abort();
    uint8_t head[NC_WIRE_COMPILE_HEAD];
    if (nc_wire_compile_head(rq.fuel, rq.target, rq.hook, rq.wasm_len, head) != NC_OK)
        abort();
    if (size != NC_WIRE_COMPILE_HEAD - 4 + rq.wasm_len || memcmp(head + 4, data, NC_WIRE_COMPILE_HEAD - 4) != 0 ||
        rq.wasm != data + NC_WIRE_COMPILE_HEAD - 4)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_reply(data, size);
    check_request(data, size);
    return 0;
}
