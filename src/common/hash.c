#include "common/hash.h"
#include <openssl/evp.h>

nc_err nc_sha256(const void *data, size_t len, uint8_t out[NC_SHA256_LEN])
{
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != NC_SHA256_LEN)
        return NC_ERR_INTERNAL;
    return NC_OK;
}

nc_err nc_sha256_prefixed(uint8_t prefix, const void *data, size_t len, uint8_t out[NC_SHA256_LEN])
{
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(ctx, &prefix, 1) == 1 &&
             EVP_DigestUpdate(ctx, data, len) == 1 && EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == NC_SHA256_LEN;
    EVP_MD_CTX_free(ctx);
    return ok ? NC_OK : NC_ERR_INTERNAL;
}

void nc_hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

nc_err nc_unhex(const char *in, size_t in_len, uint8_t *out, size_t len)
{
    if (in_len != 2 * len)
        return NC_ERR_MALFORMED;
    for (size_t i = 0; i < len; i++) {
        int hi = nibble(in[2 * i]), lo = nibble(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return NC_ERR_MALFORMED;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return NC_OK;
}
