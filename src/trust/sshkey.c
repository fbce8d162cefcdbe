#include "trust/sshkey.h"
#include <string.h>
#include <sodium.h>
#include "common/hash.h"
#include "common/reader.h"

/* Base64 characters that can encode a blob of at most NC_SSHKEY_MAX_BLOB bytes. */
#define MAX_BLOB_B64 (4 * ((NC_SSHKEY_MAX_BLOB + 2) / 3))

const char *nc_sshkey_type_name(nc_sshkey_type type)
{
    switch (type) {
    case NC_SSHKEY_ED25519:
        return NC_SSHKEY_ED25519_NAME;
    case NC_SSHKEY_SK_ED25519:
        return NC_SSHKEY_SK_ED25519_NAME;
    case NC_SSHKEY_NONE:
        break;
    }
    return NULL;
}

static bool name_is(const void *name, size_t len, const char *want)
{
    size_t n = strlen(want);
    return len == n && memcmp(name, want, n) == 0;
}

nc_sshkey_type nc_sshkey_type_from_name(const void *name, size_t len)
{
    if (name == NULL)
        return NC_SSHKEY_NONE;
    if (name_is(name, len, NC_SSHKEY_ED25519_NAME))
        return NC_SSHKEY_ED25519;
    if (name_is(name, len, NC_SSHKEY_SK_ED25519_NAME))
        return NC_SSHKEY_SK_ED25519;
    return NC_SSHKEY_NONE;
}

nc_err nc_sshkey_from_blob(const void *blob, size_t len, nc_sshkey *out)
{
    nc_err err = NC_ERR_MALFORMED;
    nc_reader r;
    const uint8_t *type_name, *pk, *app = NULL;
    size_t type_len, pk_len, app_len = 0, app_off = 0;
    nc_sshkey_type type;

    memset(out, 0, sizeof(*out));
    nc_reader_init(&r, blob, len);
    if (nc_read_string(&r, NC_MAX_SSH_KEY_TYPE_BYTES, &type_name, &type_len) != NC_OK)
        goto done;
    type = nc_sshkey_type_from_name(type_name, type_len);
    if (type == NC_SSHKEY_NONE) {
        err = NC_ERR_SIG_KEY_TYPE;
        goto done;
    }
    if (nc_read_string(&r, NC_SSHKEY_PK_LEN, &pk, &pk_len) != NC_OK || pk_len != NC_SSHKEY_PK_LEN)
        goto done;
    if (type == NC_SSHKEY_SK_ED25519) {
        app_off = r.pos + 4;
        nc_err e = nc_read_string(&r, NC_MAX_SSH_APPLICATION_BYTES, &app, &app_len);
        if (e != NC_OK) {
            err = e == NC_ERR_TOO_LARGE ? NC_ERR_TOO_LARGE : NC_ERR_MALFORMED;
            goto done;
        }
        /* OpenSSH reads it as a C string: an embedded NUL is not a key. */
        if (app_len > 0 && memchr(app, 0, app_len) != NULL)
            goto done;
    }
    /* The field caps above bound a well-formed blob to NC_SSHKEY_MAX_BLOB. */
    if (nc_read_expect_end(&r) != NC_OK || len > sizeof(out->blob))
        goto done;

    out->type = type;
    memcpy(out->pk, pk, NC_SSHKEY_PK_LEN);
    out->application_off = app ? app_off : 0;
    out->application_len = app_len;
    memcpy(out->blob, blob, len);
    out->blob_len = len;
    err = NC_OK;
done:
    if (err != NC_OK)
        memset(out, 0, sizeof(*out));
    return err;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

nc_err nc_sshkey_from_text(const char *text, size_t len, nc_sshkey *out, const char **reason)
{
    nc_err err = NC_ERR_MALFORMED;
    const char *why = "malformed public key";
    uint8_t bin[NC_SSHKEY_MAX_BLOB];
    size_t pos = 0, type_start, type_len, b64_start, b64_len, bin_len = 0;
    const char *b64_end = NULL;
    nc_sshkey_type type;

    memset(out, 0, sizeof(*out));
    if (reason)
        *reason = NULL;
    if (text == NULL)
        goto done;

    type_start = pos;
    while (pos < len && !is_blank(text[pos]))
        pos++;
    type_len = pos - type_start;
    if (type_len == 0) {
        why = "missing key type";
        goto done;
    }
    type = nc_sshkey_type_from_name(text + type_start, type_len);
    if (type == NC_SSHKEY_NONE) {
        err = NC_ERR_SIG_KEY_TYPE;
        why = "unsupported key type (only ssh-ed25519 and sk-ssh-ed25519@openssh.com)";
        goto done;
    }
    if (pos == len) {
        why = "missing base64 key after the key type";
        goto done;
    }
    while (pos < len && is_blank(text[pos]))
        pos++;
    b64_start = pos;
    while (pos < len && !is_blank(text[pos]))
        pos++;
    b64_len = pos - b64_start;
    if (b64_len == 0) {
        why = "missing base64 key after the key type";
        goto done;
    }
    if (b64_len > MAX_BLOB_B64) {
        why = "public key too long";
        goto done;
    }
    /* Anything after the base64 and a blank is the comment, ignored. */
    if (sodium_base642bin(bin, sizeof(bin), text + b64_start, b64_len, NULL, &bin_len, &b64_end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        b64_end != text + b64_start + b64_len) {
        why = "invalid base64 in public key";
        goto done;
    }
    nc_err e = nc_sshkey_from_blob(bin, bin_len, out);
    if (e != NC_OK) {
        why = e == NC_ERR_TOO_LARGE ? "security key application too long" : "malformed key blob";
        goto done;
    }
    if (out->type != type) {
        why = "key type does not match the key blob";
        goto done;
    }
    err = NC_OK;
    why = NULL;
done:
    if (err != NC_OK)
        memset(out, 0, sizeof(*out));
    sodium_memzero(bin, sizeof(bin));
    if (reason)
        *reason = why;
    return err;
}

bool nc_sshkey_equal_blob(const nc_sshkey *key, const void *blob, size_t len)
{
    if (key == NULL || blob == NULL || key->blob_len == 0 || key->blob_len != len)
        return false;
    return sodium_memcmp(key->blob, blob, len) == 0;
}

bool nc_sshkey_equal(const nc_sshkey *a, const nc_sshkey *b)
{
    if (a == NULL || b == NULL)
        return false;
    return nc_sshkey_equal_blob(a, b->blob, b->blob_len);
}

nc_err nc_sshkey_fingerprint(const nc_sshkey *key, char out[NC_SSHKEY_FINGERPRINT_LEN])
{
    static const char prefix[] = "SHA256:";
    uint8_t digest[NC_SHA256_LEN];
    nc_err err;

    out[0] = '\0';
    if (key == NULL || key->blob_len == 0)
        return NC_ERR_USAGE;
    err = nc_sha256(key->blob, key->blob_len, digest);
    if (err != NC_OK)
        return err;
    memcpy(out, prefix, sizeof(prefix) - 1);
    sodium_bin2base64(out + sizeof(prefix) - 1, NC_SSHKEY_FINGERPRINT_LEN - (sizeof(prefix) - 1),
                      digest, sizeof(digest), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    return NC_OK;
}

nc_err nc_sshkey_to_text(const nc_sshkey *key, char *out, size_t out_len)
{
    const char *name;
    size_t name_len, b64_len;

    if (out != NULL && out_len > 0)
        out[0] = '\0';
    if (key == NULL || out == NULL || key->blob_len == 0)
        return NC_ERR_USAGE;
    name = nc_sshkey_type_name(key->type);
    if (name == NULL)
        return NC_ERR_USAGE;
    name_len = strlen(name);
    b64_len = sodium_base64_ENCODED_LEN(key->blob_len, sodium_base64_VARIANT_ORIGINAL); /* with NUL */
    if (out_len < name_len + 1 || out_len - (name_len + 1) < b64_len)
        return NC_ERR_TOO_LARGE;
    memcpy(out, name, name_len);
    out[name_len] = ' ';
    sodium_bin2base64(out + name_len + 1, out_len - (name_len + 1), key->blob, key->blob_len,
                      sodium_base64_VARIANT_ORIGINAL);
    return NC_OK;
}
