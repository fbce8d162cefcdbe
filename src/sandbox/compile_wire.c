/* Supervisor <-> compile child messages (compile.h has the format). Both are
 * parsed with the bounded reader; the reply comes from a process that
 * compiled hostile code and is checked against every cap before anything of
 * it is used. */
#include <string.h>
#include "common/reader.h"
#include "sandbox/compile.h"
#include "sandbox/internal.h"

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static unsigned hook_max(void)
{
#ifdef NC_TEST_HOOKS
    return NC_COMPILE_HOOK_MAX;
#else
    return 0;   /* a production build takes no test action */
#endif
}

nc_err nc_wire_compile_head(bool fuel, nc_compile_target target, unsigned hook, size_t wasm_len,
                            uint8_t head[NC_WIRE_COMPILE_HEAD])
{
    if (wasm_len == 0 || wasm_len > NC_MAX_MODULE_BYTES)
        return NC_ERR_TOO_LARGE;
    if (hook > hook_max() || (target != NC_COMPILE_TARGET_HOST && target != NC_COMPILE_TARGET_VM))
        return NC_ERR_USAGE;
    put32(head, (uint32_t)(NC_WIRE_COMPILE_HEAD - 4 + wasm_len));
    put32(head + 4, NC_WIRE_COMPILE_MAGIC);
    head[8] = (uint8_t)((fuel ? NC_WIRE_COMPILE_FUEL : 0) | (target == NC_COMPILE_TARGET_VM ? NC_WIRE_COMPILE_VM : 0) |
                        hook << NC_WIRE_COMPILE_HOOK_SHIFT);
    put32(head + 9, (uint32_t)wasm_len);
    return NC_OK;
}

nc_err nc_wire_decode_compile(const uint8_t *body, size_t len, nc_wire_compile *out)
{
    nc_reader r;
    uint32_t magic;
    uint8_t flags;
    memset(out, 0, sizeof *out);
    nc_reader_init(&r, body, len);
    nc_err err = nc_read_u32be(&r, &magic);
    if (err == NC_OK && magic != NC_WIRE_COMPILE_MAGIC)
        err = NC_ERR_MALFORMED;
    if (err == NC_OK)
        err = nc_read_u8(&r, &flags);
    unsigned hook = err == NC_OK ? (unsigned)flags >> NC_WIRE_COMPILE_HOOK_SHIFT : 0;
    if (err == NC_OK && ((flags & 0x0f & ~(NC_WIRE_COMPILE_FUEL | NC_WIRE_COMPILE_VM)) || hook > hook_max()))
        err = NC_ERR_MALFORMED;
    if (err == NC_OK)
        err = nc_read_string(&r, NC_MAX_MODULE_BYTES, &out->wasm, &out->wasm_len);
    if (err == NC_OK && out->wasm_len == 0)
        err = NC_ERR_MALFORMED;
    if (err == NC_OK)
        err = nc_read_expect_end(&r);
    if (err != NC_OK) {
        memset(out, 0, sizeof *out);
        return err == NC_ERR_TOO_LARGE ? NC_ERR_TOO_LARGE : NC_ERR_MALFORMED;
    }
    out->fuel = flags & NC_WIRE_COMPILE_FUEL;
    out->target = flags & NC_WIRE_COMPILE_VM ? NC_COMPILE_TARGET_VM : NC_COMPILE_TARGET_HOST;
    out->hook = hook;
    return NC_OK;
}

/* What a compiler may report: anything else (a verification failure, a
 * hash mismatch, ...) from a compile child is a lie. */
static bool compile_status_ok(uint32_t s)
{
    return s == NC_OK || s == NC_ERR_INVALID_MODULE || s == NC_ERR_TOO_LARGE || s == NC_ERR_NOMEM ||
           s == NC_ERR_INTERNAL || s == NC_ERR_ISOLATION || s == NC_ERR_MALFORMED;
}

static uint8_t iso_bits(const nc_isolation_report *iso)
{
    return (uint8_t)(iso->userns | iso->netns << 1 | iso->no_new_privs << 2 | iso->caps_dropped << 3 |
                     iso->rlimits << 4 | iso->seccomp << 5);
}

nc_err nc_wire_artifact_head(nc_err status, const nc_isolation_report *iso, uint64_t compile_ns,
                             const char *message, size_t artifact_len, uint8_t *head, size_t head_cap,
                             size_t *head_len)
{
    size_t mlen = strnlen(message, NC_COMPILE_MAX_MESSAGE);
    *head_len = 0;
    if (artifact_len > NC_MAX_ARTIFACT_BYTES || head_cap < NC_WIRE_ARTIFACT_FIXED + mlen ||
        !compile_status_ok((uint32_t)status))
        return NC_ERR_TOO_LARGE;
    size_t n = NC_WIRE_ARTIFACT_FIXED + mlen;
    put32(head, (uint32_t)(n - 4 + artifact_len));
    put32(head + 4, NC_WIRE_ARTIFACT_MAGIC);
    put32(head + 8, (uint32_t)status);
    head[12] = iso_bits(iso);
    put32(head + 13, (uint32_t)iso->landlock_abi);
    put64(head + 17, compile_ns);
    put32(head + 25, (uint32_t)mlen);
    memcpy(head + 29, message, mlen);
    put32(head + 29 + mlen, (uint32_t)artifact_len);
    *head_len = n;
    return NC_OK;
}

nc_err nc_wire_decode_artifact(const uint8_t *body, size_t len, nc_wire_artifact *out)
{
    static const uint8_t elf[4] = {0x7f, 'E', 'L', 'F'};
    nc_reader r;
    uint32_t magic, status, abi;
    uint8_t bits;
    const uint8_t *m;
    size_t mlen;
    memset(out, 0, sizeof *out);
    nc_reader_init(&r, body, len);
    nc_err err = nc_read_u32be(&r, &magic);
    if (err == NC_OK && magic != NC_WIRE_ARTIFACT_MAGIC)
        err = NC_ERR_MALFORMED;
    if (err == NC_OK)
        err = nc_read_u32be(&r, &status);
    if (err == NC_OK && !compile_status_ok(status))
        err = NC_ERR_MALFORMED;
    if (err == NC_OK)
        err = nc_read_u8(&r, &bits);
    if (err == NC_OK && (bits & 0xc0))
        err = NC_ERR_MALFORMED;
    if (err == NC_OK)
        err = nc_read_u32be(&r, &abi);
    if (err == NC_OK && abi > 255)
        err = NC_ERR_MALFORMED;
    if (err == NC_OK)
        err = nc_read_u64be(&r, &out->compile_ns);
    if (err == NC_OK)
        err = nc_read_string(&r, NC_COMPILE_MAX_MESSAGE, &m, &mlen);
    for (size_t i = 0; err == NC_OK && i < mlen; i++)
        if (m[i] < 0x20 || m[i] > 0x7e)   /* one printable line: it goes into replies and logs */
            err = NC_ERR_MALFORMED;
    if (err == NC_OK)
        err = nc_read_string(&r, NC_MAX_ARTIFACT_BYTES, &out->artifact, &out->artifact_len);
    if (err == NC_OK)
        err = nc_read_expect_end(&r);
    if (err == NC_OK && status == NC_OK &&
        (out->artifact_len < sizeof elf || memcmp(out->artifact, elf, sizeof elf) != 0 || mlen != 0))
        err = NC_ERR_MALFORMED;
    if (err == NC_OK && status != NC_OK && (out->artifact_len != 0 || mlen == 0))
        err = NC_ERR_MALFORMED;
    if (err != NC_OK) {
        memset(out, 0, sizeof *out);
        return NC_ERR_MALFORMED;
    }
    out->status = (nc_err)status;
    out->isolation.userns = bits & 1;
    out->isolation.netns = bits >> 1 & 1;
    out->isolation.no_new_privs = bits >> 2 & 1;
    out->isolation.caps_dropped = bits >> 3 & 1;
    out->isolation.rlimits = bits >> 4 & 1;
    out->isolation.seccomp = bits >> 5 & 1;
    out->isolation.landlock_abi = (int)abi;
    if (out->artifact_len == 0)
        out->artifact = NULL;
    memcpy(out->message, m, mlen);
    out->message[mlen] = '\0';
    return NC_OK;
}
