#include "trust/privkey.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "common/fs.h"
#include "common/reader.h"

#define ARMOR_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define ARMOR_END "-----END OPENSSH PRIVATE KEY-----"
#define AUTH_MAGIC "openssh-key-v1"   /* followed by a NUL byte */

const char *nc_key_protection_name(nc_key_protection p)
{
    switch (p) {
    case NC_KEYPROT_NONE:
        return "none";
    case NC_KEYPROT_PASSPHRASE:
        return "passphrase";
    case NC_KEYPROT_FIDO:
        return "fido";
    case NC_KEYPROT_UNKNOWN:
        break;
    }
    return "unknown";
}

nc_key_protection nc_key_protection_of(const nc_sshkey *key, const nc_privkey_info *file)
{
    if (key && key->type == NC_SSHKEY_SK_ED25519)
        return NC_KEYPROT_FIDO;
    if (!file)
        return NC_KEYPROT_UNKNOWN;
    return file->encrypted ? NC_KEYPROT_PASSPHRASE : NC_KEYPROT_NONE;
}

static bool starts_with(const char *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    return n >= k && memcmp(p, s, k) == 0;
}

/* A name field: printable ASCII, no NUL. */
static bool copy_name(const uint8_t *p, size_t n, char *out)
{
    if (n == 0 || n > NC_PRIVKEY_MAX_NAME_BYTES)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x21 || p[i] > 0x7e)
            return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

nc_err nc_privkey_info_parse(const void *text, size_t len, nc_privkey_info *out, const char **reason)
{
    const char *why = "not an OpenSSH private key file";
    nc_err err = NC_ERR_MALFORMED;
    char *b64 = NULL;
    uint8_t *bin = NULL;
    size_t b64_len = 0, bin_len = 0;
    memset(out, 0, sizeof *out);
    if (reason)
        *reason = NULL;
    if (!text) {
        err = NC_ERR_USAGE;
        goto done;
    }
    if (len > NC_PRIVKEY_MAX_FILE_BYTES) {
        err = NC_ERR_TOO_LARGE;
        why = "private key file too large";
        goto done;
    }
    const char *p = text;
    if (memchr(p, '\0', len)) {
        why = "NUL byte in a private key file";
        goto done;
    }
    /* Lines: the begin marker, base64 lines, the end marker, then nothing
     * but line ends. */
    size_t pos = 0, line = 0;
    bool in_body = false, ended = false;
    b64 = malloc(len + 1);
    if (!b64) {
        err = NC_ERR_NOMEM;
        goto done;
    }
    while (pos < len) {
        size_t end = pos;
        while (end < len && p[end] != '\n')
            end++;
        size_t e = end;
        if (e > pos && p[e - 1] == '\r')
            e--;
        size_t n = e - pos;
        line++;
        if (ended) {
            if (n != 0) {
                why = "bytes after the end of the private key";
                goto done;
            }
        } else if (!in_body) {
            if (!(n == strlen(ARMOR_BEGIN) && starts_with(p + pos, n, ARMOR_BEGIN))) {
                why = starts_with(p + pos, n, "-----BEGIN ") ? "not an OpenSSH-format private key (PEM or PKCS#8)"
                                                             : "missing " ARMOR_BEGIN;
                goto done;
            }
            in_body = true;
        } else if (n == strlen(ARMOR_END) && starts_with(p + pos, n, ARMOR_END)) {
            ended = true;
        } else {
            for (size_t i = 0; i < n; i++) {
                char c = p[pos + i];
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                      c == '/' || c == '=')) {
                    why = "invalid base64 in the private key";
                    goto done;
                }
            }
            memcpy(b64 + b64_len, p + pos, n);
            b64_len += n;
        }
        pos = end < len ? end + 1 : end;
    }
    (void)line;
    if (!ended) {
        why = "missing " ARMOR_END;
        goto done;
    }
    b64[b64_len] = '\0';
    bin = malloc(b64_len / 4 * 3 + 3);
    if (!bin) {
        err = NC_ERR_NOMEM;
        goto done;
    }
    const char *b64_end = NULL;
    if (sodium_base642bin(bin, b64_len / 4 * 3 + 3, b64, b64_len, NULL, &bin_len, &b64_end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        b64_end != b64 + b64_len) {
        why = "invalid base64 in the private key";
        goto done;
    }
    nc_reader r;
    const uint8_t *magic, *cipher, *kdf, *kdfopts, *pub, *priv;
    size_t cipher_len, kdf_len, kdfopts_len, pub_len, priv_len;
    uint32_t nkeys;
    nc_reader_init(&r, bin, bin_len);
    if (nc_read_bytes(&r, sizeof AUTH_MAGIC, &magic) != NC_OK || memcmp(magic, AUTH_MAGIC, sizeof AUTH_MAGIC) != 0) {
        why = "not an openssh-key-v1 container";
        goto done;
    }
    if (nc_read_string(&r, NC_PRIVKEY_MAX_NAME_BYTES, &cipher, &cipher_len) != NC_OK ||
        nc_read_string(&r, NC_PRIVKEY_MAX_NAME_BYTES, &kdf, &kdf_len) != NC_OK ||
        nc_read_string(&r, 1024, &kdfopts, &kdfopts_len) != NC_OK || nc_read_u32be(&r, &nkeys) != NC_OK) {
        why = "truncated private key header";
        goto done;
    }
    if (!copy_name(cipher, cipher_len, out->cipher) || !copy_name(kdf, kdf_len, out->kdf)) {
        why = "invalid cipher or KDF name";
        goto done;
    }
    if (nkeys != 1) {
        why = "a private key file must hold exactly one key";
        goto done;
    }
    if (nc_read_string(&r, NC_SSHKEY_MAX_BLOB + 1024, &pub, &pub_len) != NC_OK ||
        nc_read_string(&r, NC_PRIVKEY_MAX_FILE_BYTES, &priv, &priv_len) != NC_OK || nc_read_expect_end(&r) != NC_OK) {
        why = "malformed private key body";
        goto done;
    }
    (void)kdfopts;
    (void)priv;
    bool none_cipher = strcmp(out->cipher, "none") == 0, none_kdf = strcmp(out->kdf, "none") == 0;
    /* OpenSSH pairs them: no cipher without a KDF, no KDF without a cipher. */
    if (none_cipher != none_kdf || (none_kdf && kdfopts_len != 0)) {
        why = "cipher and KDF do not agree";
        goto done;
    }
    nc_err e = nc_sshkey_from_blob(pub, pub_len, &out->key);
    if (e != NC_OK) {
        err = e == NC_ERR_SIG_KEY_TYPE ? NC_ERR_SIG_KEY_TYPE : NC_ERR_MALFORMED;
        why = e == NC_ERR_SIG_KEY_TYPE ? "unsupported key type (only ssh-ed25519 and sk-ssh-ed25519@openssh.com)"
                                       : "malformed public key in the private key file";
        goto done;
    }
    out->encrypted = !none_cipher;
    err = NC_OK;
    why = NULL;
done:
    if (b64) {
        sodium_memzero(b64, b64_len);
        free(b64);
    }
    if (bin) {
        sodium_memzero(bin, bin_len);
        free(bin);
    }
    if (err != NC_OK)
        memset(out, 0, sizeof *out);
    if (reason)
        *reason = why;
    return err;
}

nc_err nc_privkey_info_load(const char *path, nc_privkey_info *out, const char **reason)
{
    memset(out, 0, sizeof *out);
    if (reason)
        *reason = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (reason)
            *reason = errno == ENOENT ? "no such file" : "cannot open the private key file";
        return errno == ENOENT ? NC_ERR_NOT_FOUND : NC_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        if (reason)
            *reason = "not a regular file";
        return NC_ERR_MALFORMED;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    nc_err err = nc_read_fd(fd, NC_PRIVKEY_MAX_FILE_BYTES, &data, &len);
    close(fd);
    if (err != NC_OK) {
        if (reason)
            *reason = err == NC_ERR_TOO_LARGE ? "private key file too large" : "cannot read the private key file";
        return err;
    }
    err = nc_privkey_info_parse(data, len, out, reason);
    sodium_memzero(data, len);
    free(data);
    return err;
}
