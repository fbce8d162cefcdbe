/* OpenSSH signatures (PROTOCOL.sshsig), as made by `ssh-keygen -Y sign`.
 *
 * Two steps, so the verification pipeline can run its checks in the order of
 * DESIGN.md §3:
 *   1. nc_sshsig_parse_armored() / nc_sshsig_parse_blob(): armor, magic,
 *      version, lengths, trailing bytes, namespace, hash algorithm, key type.
 *      No cryptography; the result names the signing key.
 *   2. (the caller checks revoked_keys and allowed_signers for sig.key)
 *   3. nc_sshsig_verify(): the Ed25519 signature over the message, then the
 *      security-key flags.
 * docs/ssh-formats.md lists every accepted byte and the error for each deviation. */
#ifndef NC_TRUST_SSHSIG_H
#define NC_TRUST_SSHSIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "common/error.h"
#include "common/limits.h"
#include "trust/sshkey.h"

#define NC_SSHSIG_NAMESPACE "nightcore-approval-v1"
#define NC_SSHSIG_ED25519_SIG_LEN 64

/* Security-key flags (FIDO authenticator data). */
#define NC_SSHSIG_SK_USER_PRESENT 0x01
#define NC_SSHSIG_SK_USER_VERIFIED 0x04

/* nc_sshsig_verify() options. */
#define NC_SSHSIG_REQUIRE_UV 0x1u   /* sk keys: also require user verification (PIN) */

typedef enum {
    NC_SSHSIG_HASH_NONE = 0,
    NC_SSHSIG_SHA256,
    NC_SSHSIG_SHA512,
} nc_sshsig_hash;

/* A parsed, checked signature. A plain value (no heap, nothing to free). */
typedef struct {
    nc_sshkey key;                  /* the signing key, exact blob kept */
    char sig_namespace[NC_MAX_SSHSIG_NAMESPACE_BYTES + 1]; /* == the expected one */
    nc_sshsig_hash hash;
    uint8_t sig[NC_SSHSIG_ED25519_SIG_LEN];
    /* sk keys only: the authenticator flags and counter from the signature. */
    uint8_t sk_flags;
    uint32_t sk_counter;
} nc_sshsig;

/* Step 1, armored text. The input must be exactly
 *   "-----BEGIN SSH SIGNATURE-----\n"
 *   1+ lines of 1..NC_MAX_SSHSIG_ARMOR_LINE base64 characters, each ending "\n"
 *   "-----END SSH SIGNATURE-----" and at most one "\n"
 * whose joined base64 is strict (padded, canonical). Errors, first failure wins:
 *   NC_ERR_TOO_LARGE     input over NC_MAX_SSHSIG_ARMOR_BYTES
 *   NC_ERR_SIG_ARMOR     anything else wrong with the armor or the base64
 *   then as nc_sshsig_parse_blob().
 * expected_namespace must be a non-empty C string (else NC_ERR_USAGE).
 * *out is cleared on entry and set only on success. */
NC_MUST_CHECK nc_err nc_sshsig_parse_armored(const void *armored, size_t len,
                                             const char *expected_namespace, nc_sshsig *out);

/* Step 1, the binary blob. Errors, in this order:
 *   NC_ERR_SIG_FORMAT     magic, version != 1, a string past the end or over
 *                         NC_MAX_SSHSIG_FIELD_BYTES, non-empty reserved field,
 *                         trailing bytes; and, for the accepted key and
 *                         signature types, a malformed key blob or signature
 *                         blob (signature length != 64, missing sk flags or
 *                         counter, trailing bytes)
 *   NC_ERR_SIG_NAMESPACE  namespace empty or not expected_namespace
 *   NC_ERR_SIG_HASH_ALG   hash algorithm not exactly "sha256" or "sha512"
 *   NC_ERR_SIG_KEY_TYPE   key type not ssh-ed25519 / sk-ssh-ed25519@openssh.com,
 *                         or the signature's type differs from the key's */
NC_MUST_CHECK nc_err nc_sshsig_parse_blob(const void *blob, size_t len,
                                          const char *expected_namespace, nc_sshsig *out);

/* Step 3: verifies sig over the exact message bytes (hashed with sig->hash).
 *   NC_OK
 *   NC_ERR_BAD_SIGNATURE       the Ed25519 signature does not verify
 *   NC_ERR_SK_NO_PRESENCE      sk key, valid signature, user-presence flag clear
 *   NC_ERR_SK_NO_VERIFICATION  sk key, NC_SSHSIG_REQUIRE_UV, user-verified flag clear
 * options: 0 or NC_SSHSIG_REQUIRE_UV (ignored for ssh-ed25519 keys). */
NC_MUST_CHECK nc_err nc_sshsig_verify(const nc_sshsig *sig, const void *msg, size_t msg_len,
                                      unsigned options);

/* "sha256" / "sha512"; static string, NULL for NC_SSHSIG_HASH_NONE. */
const char *nc_sshsig_hash_name(nc_sshsig_hash hash);

/* Armors a blob the way ssh-keygen does (70 base64 characters a line, final
 * newline). Appends to out; for producing signatures and for tests. */
NC_MUST_CHECK nc_err nc_sshsig_armor(const void *blob, size_t len, nc_buf *out);

/* The bytes an SSHSIG signer signs for this namespace, hash and message digest:
 * "SSHSIG" || string(namespace) || string("") || string(hash name) || string(digest).
 * Appends to out. Exposed for tests and for building signatures. */
NC_MUST_CHECK nc_err nc_sshsig_signed_data(const char *sig_namespace, nc_sshsig_hash hash,
                                           const uint8_t *digest, size_t digest_len, nc_buf *out);

/* Hashes msg with the signature hash; out must hold 64 bytes; *out_len is set. */
NC_MUST_CHECK nc_err nc_sshsig_hash_message(nc_sshsig_hash hash, const void *msg, size_t msg_len,
                                            uint8_t out[64], size_t *out_len);

#endif
