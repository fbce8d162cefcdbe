/* OpenSSH public keys: the two types Night Core accepts as approver keys.
 *
 *   ssh-ed25519                 blob: string "ssh-ed25519", string pk[32]
 *   sk-ssh-ed25519@openssh.com  blob: string type, string pk[32], string application
 *
 * A key is a plain value (no heap): it keeps the exact blob bytes, and two keys
 * are the same key iff their blobs are byte-equal. docs/ssh-formats.md. */
#ifndef NC_TRUST_SSHKEY_H
#define NC_TRUST_SSHKEY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"
#include "common/limits.h"

#define NC_SSHKEY_ED25519_NAME "ssh-ed25519"
#define NC_SSHKEY_SK_ED25519_NAME "sk-ssh-ed25519@openssh.com"
#define NC_SSHKEY_PK_LEN 32
/* Largest blob of an accepted key: an sk key with the longest application. */
#define NC_SSHKEY_MAX_BLOB (4 + NC_MAX_SSH_KEY_TYPE_BYTES + 4 + NC_SSHKEY_PK_LEN + 4 + \
                            NC_MAX_SSH_APPLICATION_BYTES)
/* "SHA256:" + 43 base64 characters (no padding) + NUL, as ssh-keygen -l prints. */
#define NC_SSHKEY_FINGERPRINT_LEN (7 + 43 + 1)
/* "TYPE BASE64" of the longest accepted blob, + NUL. */
#define NC_SSHKEY_TEXT_MAX (NC_MAX_SSH_KEY_TYPE_BYTES + 1 + 4 * ((NC_SSHKEY_MAX_BLOB + 2) / 3) + 1)

typedef enum {
    NC_SSHKEY_NONE = 0,
    NC_SSHKEY_ED25519,
    NC_SSHKEY_SK_ED25519,
} nc_sshkey_type;

typedef struct {
    nc_sshkey_type type;
    uint8_t pk[NC_SSHKEY_PK_LEN];
    /* sk keys: the application string, inside blob[] (not NUL-terminated). */
    size_t application_off;
    size_t application_len;
    size_t blob_len;
    uint8_t blob[NC_SSHKEY_MAX_BLOB];
} nc_sshkey;

/* The type name as it appears in blobs and key lines ("ssh-ed25519", ...);
 * static string, NULL for NC_SSHKEY_NONE. */
const char *nc_sshkey_type_name(nc_sshkey_type type);
/* The accepted type with this exact name, or NC_SSHKEY_NONE. */
nc_sshkey_type nc_sshkey_type_from_name(const void *name, size_t len);

/* Parses a key blob. NC_ERR_SIG_KEY_TYPE if the blob's type string is any type
 * other than the two above; NC_ERR_MALFORMED if the blob is not a well-formed
 * key of its type (wrong pk length, NUL in the application, trailing bytes, ...);
 * NC_ERR_TOO_LARGE if the application exceeds NC_MAX_SSH_APPLICATION_BYTES.
 * *out is cleared on entry. */
NC_MUST_CHECK nc_err nc_sshkey_from_blob(const void *blob, size_t len, nc_sshkey *out);

/* Parses an authorized_keys-style public key: "TYPE BASE64 [comment]" with
 * spaces or tabs between the fields and nothing before TYPE; the comment is
 * anything and is ignored. TYPE must be an accepted type (else
 * NC_ERR_SIG_KEY_TYPE) and equal the blob's own type (else NC_ERR_MALFORMED);
 * the base64 is strict (padding, canonical; else NC_ERR_MALFORMED).
 * reason, if not NULL, gets a static description of the failure. */
NC_MUST_CHECK nc_err nc_sshkey_from_text(const char *text, size_t len, nc_sshkey *out,
                                         const char **reason);

/* Keys are equal iff their blobs are byte-equal. */
bool nc_sshkey_equal(const nc_sshkey *a, const nc_sshkey *b);
bool nc_sshkey_equal_blob(const nc_sshkey *key, const void *blob, size_t len);

/* "SHA256:<base64 of sha256(blob), no padding>", like ssh-keygen -l. */
NC_MUST_CHECK nc_err nc_sshkey_fingerprint(const nc_sshkey *key, char out[NC_SSHKEY_FINGERPRINT_LEN]);

/* "TYPE BASE64" (no comment, no newline) into out (NUL-terminated). */
NC_MUST_CHECK nc_err nc_sshkey_to_text(const nc_sshkey *key, char *out, size_t out_len);

#endif
