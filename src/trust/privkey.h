/* What an OpenSSH private key file says about how it is protected, read
 * without decrypting anything: the "openssh-key-v1" container (PROTOCOL.key)
 * names its cipher and KDF and carries the public key in clear. A file whose
 * cipher is "none" can be used by any process that can read it; one with a
 * cipher needs its passphrase; a security key (sk-ssh-ed25519) needs the
 * authenticator and a touch whatever the file's cipher.
 *
 * The file is untrusted input (it may sit in a home another process can
 * write): parsed strictly with the bounded reader, fuzzed
 * (tests/fuzz/fuzz_privkey.c). Format: docs/ssh-formats.md. */
#ifndef NC_TRUST_PRIVKEY_H
#define NC_TRUST_PRIVKEY_H
#include <stdbool.h>
#include <stddef.h>
#include "common/error.h"
#include "trust/sshkey.h"

#define NC_PRIVKEY_MAX_FILE_BYTES (16u * 1024)
#define NC_PRIVKEY_MAX_NAME_BYTES 64u   /* cipher and KDF names */

typedef struct {
    char cipher[NC_PRIVKEY_MAX_NAME_BYTES + 1];   /* "none", "aes256-ctr", ... */
    char kdf[NC_PRIVKEY_MAX_NAME_BYTES + 1];      /* "none", "bcrypt" */
    bool encrypted;                               /* cipher != "none" */
    nc_sshkey key;                                /* the public half */
} nc_privkey_info;

/* Parses the text of a private key file ("-----BEGIN OPENSSH PRIVATE
 * KEY-----" armor, base64, end line). Only one key per file; the public key
 * must be an accepted type (else NC_ERR_SIG_KEY_TYPE). NC_ERR_MALFORMED for
 * anything else that is not such a file (PEM keys, truncated blobs, trailing
 * bytes after the armor), NC_ERR_TOO_LARGE above NC_PRIVKEY_MAX_FILE_BYTES.
 * reason (may be NULL) gets a static description. *out cleared on entry. */
NC_MUST_CHECK nc_err nc_privkey_info_parse(const void *text, size_t len, nc_privkey_info *out,
                                           const char **reason);

/* How a key proves a human is there when it signs. */
typedef enum {
    NC_KEYPROT_UNKNOWN = 0,   /* no private key file to look at (ssh-agent, elsewhere) */
    NC_KEYPROT_NONE,          /* a key file without a passphrase: any process that reads it can sign */
    NC_KEYPROT_PASSPHRASE,    /* a key file with a passphrase */
    NC_KEYPROT_FIDO,          /* a security key: a touch on every signature, checked by the worker */
} nc_key_protection;

/* "unknown", "none", "passphrase", "fido". */
const char *nc_key_protection_name(nc_key_protection p);
/* The protection of key given its private key file's parsed info (NULL: no
 * file). A security key is FIDO whatever its file says. */
nc_key_protection nc_key_protection_of(const nc_sshkey *key, const nc_privkey_info *file);

/* Reads and parses the private key file at path (bounded, no symlink
 * following at the last component). NC_ERR_NOT_FOUND if there is none. */
NC_MUST_CHECK nc_err nc_privkey_info_load(const char *path, nc_privkey_info *out, const char **reason);

#endif
