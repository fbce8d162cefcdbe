#include "trust/sshsig.h"
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <sodium.h>
#include "common/hash.h"
#include "common/reader.h"

#define SSHSIG_MAGIC "SSHSIG"
#define SSHSIG_MAGIC_LEN (sizeof(SSHSIG_MAGIC) - 1)
#define SSHSIG_VERSION 1u
#define ARMOR_BEGIN "-----BEGIN SSH SIGNATURE-----\n"
#define ARMOR_END "-----END SSH SIGNATURE-----"
#define ARMOR_WRAP 70u   /* what ssh-keygen writes */

const char *nc_sshsig_hash_name(nc_sshsig_hash hash)
{
    switch (hash) {
    case NC_SSHSIG_SHA256:
        return "sha256";
    case NC_SSHSIG_SHA512:
        return "sha512";
    case NC_SSHSIG_HASH_NONE:
        break;
    }
    return NULL;
}

static nc_sshsig_hash hash_from_name(const uint8_t *name, size_t len)
{
    if (len == 6 && memcmp(name, "sha256", 6) == 0)
        return NC_SSHSIG_SHA256;
    if (len == 6 && memcmp(name, "sha512", 6) == 0)
        return NC_SSHSIG_SHA512;
    return NC_SSHSIG_HASH_NONE;
}

static bool namespace_usable(const char *ns)
{
    return ns != NULL && ns[0] != '\0' &&
           strnlen(ns, NC_MAX_SSHSIG_NAMESPACE_BYTES + 1) <= NC_MAX_SSHSIG_NAMESPACE_BYTES;
}

/* The signature sub-blob of an accepted type: string type, string sig[64],
 * and for sk keys byte flags, u32 counter; nothing after. */
static nc_err parse_sig_blob(nc_reader *r, nc_sshkey_type type, nc_sshsig *out)
{
    const uint8_t *sig;
    size_t sig_len;
    if (nc_read_string(r, NC_SSHSIG_ED25519_SIG_LEN, &sig, &sig_len) != NC_OK ||
        sig_len != NC_SSHSIG_ED25519_SIG_LEN)
        return NC_ERR_SIG_FORMAT;
    memcpy(out->sig, sig, NC_SSHSIG_ED25519_SIG_LEN);
    if (type == NC_SSHKEY_SK_ED25519) {
        if (nc_read_u8(r, &out->sk_flags) != NC_OK || nc_read_u32be(r, &out->sk_counter) != NC_OK)
            return NC_ERR_SIG_FORMAT;
    }
    return nc_read_expect_end(r) == NC_OK ? NC_OK : NC_ERR_SIG_FORMAT;
}

nc_err nc_sshsig_parse_blob(const void *blob, size_t len, const char *expected_namespace,
                            nc_sshsig *out)
{
    nc_err err = NC_ERR_SIG_FORMAT;
    nc_err key_err;
    nc_reader r, sr;
    uint32_t version;
    const uint8_t *magic, *key_blob, *ns, *reserved, *hash_alg, *sig_blob, *sig_type;
    size_t key_len, ns_len, reserved_len, hash_len, sig_blob_len, sig_type_len;
    nc_sshkey_type sig_key_type;

    memset(out, 0, sizeof(*out));
    if (!namespace_usable(expected_namespace)) {
        err = NC_ERR_USAGE;
        goto done;
    }

    /* Format: the outer blob. */
    nc_reader_init(&r, blob, len);
    if (nc_read_bytes(&r, SSHSIG_MAGIC_LEN, &magic) != NC_OK ||
        memcmp(magic, SSHSIG_MAGIC, SSHSIG_MAGIC_LEN) != 0)
        goto done;
    if (nc_read_u32be(&r, &version) != NC_OK || version != SSHSIG_VERSION)
        goto done;
    if (nc_read_string(&r, NC_MAX_SSHSIG_FIELD_BYTES, &key_blob, &key_len) != NC_OK ||
        nc_read_string(&r, NC_MAX_SSHSIG_FIELD_BYTES, &ns, &ns_len) != NC_OK ||
        nc_read_string(&r, NC_MAX_SSHSIG_FIELD_BYTES, &reserved, &reserved_len) != NC_OK ||
        nc_read_string(&r, NC_MAX_SSHSIG_FIELD_BYTES, &hash_alg, &hash_len) != NC_OK ||
        nc_read_string(&r, NC_MAX_SSHSIG_FIELD_BYTES, &sig_blob, &sig_blob_len) != NC_OK)
        goto done;
    /* OpenSSH signs and verifies an empty reserved field whatever the blob
     * says; a non-empty one would be bytes nobody checks. */
    if (reserved_len != 0)
        goto done;
    if (nc_read_expect_end(&r) != NC_OK)
        goto done;

    /* Format: the nested key and signature blobs, for the types we know.
     * Other types are refused below as NC_ERR_SIG_KEY_TYPE. */
    key_err = nc_sshkey_from_blob(key_blob, key_len, &out->key);
    if (key_err != NC_OK && key_err != NC_ERR_SIG_KEY_TYPE)
        goto done;
    nc_reader_init(&sr, sig_blob, sig_blob_len);
    if (nc_read_string(&sr, NC_MAX_SSH_KEY_TYPE_BYTES, &sig_type, &sig_type_len) != NC_OK)
        goto done;
    sig_key_type = nc_sshkey_type_from_name(sig_type, sig_type_len);
    if (sig_key_type != NC_SSHKEY_NONE && parse_sig_blob(&sr, sig_key_type, out) != NC_OK)
        goto done;

    /* Namespace. An empty one never matches (expected_namespace is non-empty). */
    if (ns_len != strlen(expected_namespace) || memcmp(ns, expected_namespace, ns_len) != 0) {
        err = NC_ERR_SIG_NAMESPACE;
        goto done;
    }
    /* Hash algorithm. */
    out->hash = hash_from_name(hash_alg, hash_len);
    if (out->hash == NC_SSHSIG_HASH_NONE) {
        err = NC_ERR_SIG_HASH_ALG;
        goto done;
    }
    /* Key type, and the signature made by that type of key. */
    if (key_err != NC_OK || sig_key_type != out->key.type) {
        err = NC_ERR_SIG_KEY_TYPE;
        goto done;
    }
    memcpy(out->sig_namespace, ns, ns_len);
    out->sig_namespace[ns_len] = '\0';
    err = NC_OK;
done:
    if (err != NC_OK)
        memset(out, 0, sizeof(*out));
    return err;
}

static bool is_b64_char(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/' || c == '=';
}

nc_err nc_sshsig_parse_armored(const void *armored, size_t len, const char *expected_namespace,
                               nc_sshsig *out)
{
    static const char begin[] = ARMOR_BEGIN, end[] = ARMOR_END;
    const size_t begin_len = sizeof(begin) - 1, end_len = sizeof(end) - 1;
    const uint8_t *p = armored;
    nc_err err = NC_ERR_SIG_ARMOR;
    char *b64 = NULL;
    uint8_t *bin = NULL;
    size_t b64_len = 0, bin_len = 0, bin_max, pos, lines = 0;
    const char *b64_end = NULL;

    memset(out, 0, sizeof(*out));
    if (!namespace_usable(expected_namespace)) {
        err = NC_ERR_USAGE;
        goto done;
    }
    if (len > NC_MAX_SSHSIG_ARMOR_BYTES) {
        err = NC_ERR_TOO_LARGE;
        goto done;
    }
    if (p == NULL || len < begin_len || memcmp(p, begin, begin_len) != 0)
        goto done;
    if ((b64 = malloc(len + 1)) == NULL) {
        err = NC_ERR_NOMEM;
        goto done;
    }
    pos = begin_len;
    for (;;) {
        size_t n = 0;
        if (len - pos >= end_len && memcmp(p + pos, end, end_len) == 0)
            break;
        while (pos + n < len && n <= NC_MAX_SSHSIG_ARMOR_LINE && is_b64_char(p[pos + n]))
            n++;
        if (n == 0 || n > NC_MAX_SSHSIG_ARMOR_LINE || pos + n >= len || p[pos + n] != '\n')
            goto done;   /* empty line, overlong line, stray byte, or no END */
        memcpy(b64 + b64_len, p + pos, n);
        b64_len += n;
        pos += n + 1;
        lines++;
    }
    if (lines == 0)
        goto done;
    pos += end_len;
    if (!(pos == len || (pos + 1 == len && p[pos] == '\n')))
        goto done;
    b64[b64_len] = '\0';

    bin_max = b64_len / 4 * 3 + 3;
    if ((bin = malloc(bin_max)) == NULL) {
        err = NC_ERR_NOMEM;
        goto done;
    }
    if (sodium_base642bin(bin, bin_max, b64, b64_len, NULL, &bin_len, &b64_end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        b64_end != b64 + b64_len)
        goto done;
    err = nc_sshsig_parse_blob(bin, bin_len, expected_namespace, out);
done:
    if (err != NC_OK)
        memset(out, 0, sizeof(*out));
    free(b64);
    free(bin);
    return err;
}

nc_err nc_sshsig_hash_message(nc_sshsig_hash hash, const void *msg, size_t msg_len,
                              uint8_t out[64], size_t *out_len)
{
    static const uint8_t empty[1] = {0};
    const EVP_MD *md;
    unsigned int n = 0;

    *out_len = 0;
    switch (hash) {
    case NC_SSHSIG_SHA256:
        md = EVP_sha256();
        break;
    case NC_SSHSIG_SHA512:
        md = EVP_sha512();
        break;
    case NC_SSHSIG_HASH_NONE:
    default:
        return NC_ERR_USAGE;
    }
    if (msg == NULL) {
        if (msg_len != 0)
            return NC_ERR_USAGE;
        msg = empty;
    }
    if (EVP_Digest(msg, msg_len, out, &n, md, NULL) != 1 || n != (unsigned)EVP_MD_get_size(md) ||
        n > 64)
        return NC_ERR_INTERNAL;
    *out_len = n;
    return NC_OK;
}

nc_err nc_sshsig_signed_data(const char *sig_namespace, nc_sshsig_hash hash, const uint8_t *digest,
                             size_t digest_len, nc_buf *out)
{
    nc_err err;
    const char *hash_name = nc_sshsig_hash_name(hash);
    if (hash_name == NULL || sig_namespace == NULL || digest == NULL)
        return NC_ERR_USAGE;
    if ((err = nc_buf_append(out, SSHSIG_MAGIC, SSHSIG_MAGIC_LEN)) != NC_OK ||
        (err = nc_buf_put_string(out, sig_namespace, strlen(sig_namespace))) != NC_OK ||
        (err = nc_buf_put_string(out, NULL, 0)) != NC_OK ||   /* reserved */
        (err = nc_buf_put_string(out, hash_name, strlen(hash_name))) != NC_OK ||
        (err = nc_buf_put_string(out, digest, digest_len)) != NC_OK)
        return err;
    return NC_OK;
}

nc_err nc_sshsig_verify(const nc_sshsig *sig, const void *msg, size_t msg_len, unsigned options)
{
    nc_err err;
    nc_buf data;
    uint8_t digest[64];
    size_t digest_len = 0;
    /* sk: sha256(application) || flags || u32be counter || sha256(signed data) */
    uint8_t sk_msg[NC_SHA256_LEN + 1 + 4 + NC_SHA256_LEN];

    nc_buf_init(&data, 1024);
    if (sig == NULL || (options & ~NC_SSHSIG_REQUIRE_UV) != 0 ||
        (sig->key.type != NC_SSHKEY_ED25519 && sig->key.type != NC_SSHKEY_SK_ED25519) ||
        sig->key.blob_len > sizeof(sig->key.blob) ||
        sig->key.application_off > sig->key.blob_len ||
        sig->key.application_len > sig->key.blob_len - sig->key.application_off ||
        !namespace_usable(sig->sig_namespace)) {
        err = NC_ERR_USAGE;
        goto done;
    }
    if (sodium_init() < 0) {
        err = NC_ERR_INTERNAL;
        goto done;
    }
    if ((err = nc_sshsig_hash_message(sig->hash, msg, msg_len, digest, &digest_len)) != NC_OK)
        goto done;
    if ((err = nc_sshsig_signed_data(sig->sig_namespace, sig->hash, digest, digest_len, &data)) !=
        NC_OK)
        goto done;

    if (sig->key.type == NC_SSHKEY_ED25519) {
        if (crypto_sign_verify_detached(sig->sig, data.data, data.len, sig->key.pk) != 0) {
            err = NC_ERR_BAD_SIGNATURE;
            goto done;
        }
        err = NC_OK;
        goto done;
    }

    if ((err = nc_sha256(sig->key.blob + sig->key.application_off, sig->key.application_len,
                         sk_msg)) != NC_OK)
        goto done;
    sk_msg[NC_SHA256_LEN] = sig->sk_flags;
    sk_msg[NC_SHA256_LEN + 1] = (uint8_t)(sig->sk_counter >> 24);
    sk_msg[NC_SHA256_LEN + 2] = (uint8_t)(sig->sk_counter >> 16);
    sk_msg[NC_SHA256_LEN + 3] = (uint8_t)(sig->sk_counter >> 8);
    sk_msg[NC_SHA256_LEN + 4] = (uint8_t)sig->sk_counter;
    if ((err = nc_sha256(data.data, data.len, sk_msg + NC_SHA256_LEN + 5)) != NC_OK)
        goto done;
    if (crypto_sign_verify_detached(sig->sig, sk_msg, sizeof(sk_msg), sig->key.pk) != 0) {
        err = NC_ERR_BAD_SIGNATURE;
        goto done;
    }
    /* Checked only after the signature: the flags are signed data. */
    if (!(sig->sk_flags & NC_SSHSIG_SK_USER_PRESENT)) {
        err = NC_ERR_SK_NO_PRESENCE;
        goto done;
    }
    if ((options & NC_SSHSIG_REQUIRE_UV) && !(sig->sk_flags & NC_SSHSIG_SK_USER_VERIFIED)) {
        err = NC_ERR_SK_NO_VERIFICATION;
        goto done;
    }
    err = NC_OK;
done:
    nc_buf_cleanup(&data);
    return err;
}

nc_err nc_sshsig_armor(const void *blob, size_t len, nc_buf *out)
{
    nc_err err;
    char *b64 = NULL;
    size_t b64_cap, b64_len;

    if (blob == NULL || len == 0 || len > NC_MAX_SSHSIG_ARMOR_BYTES)
        return NC_ERR_USAGE;
    b64_cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    if ((b64 = malloc(b64_cap)) == NULL)
        return NC_ERR_NOMEM;
    sodium_bin2base64(b64, b64_cap, blob, len, sodium_base64_VARIANT_ORIGINAL);
    b64_len = strlen(b64);
    if ((err = nc_buf_append(out, ARMOR_BEGIN, sizeof(ARMOR_BEGIN) - 1)) != NC_OK)
        goto done;
    for (size_t off = 0; off < b64_len; off += ARMOR_WRAP) {
        size_t n = b64_len - off < ARMOR_WRAP ? b64_len - off : ARMOR_WRAP;
        if ((err = nc_buf_append(out, b64 + off, n)) != NC_OK ||
            (err = nc_buf_put_u8(out, '\n')) != NC_OK)
            goto done;
    }
    if ((err = nc_buf_append(out, ARMOR_END "\n", sizeof(ARMOR_END "\n") - 1)) != NC_OK)
        goto done;
    err = NC_OK;
done:
    free(b64);
    return err;
}
