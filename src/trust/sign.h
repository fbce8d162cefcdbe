/* The operator side of approvals: keys and signatures are made by OpenSSH's
 * ssh-keygen. Night Core never sees a private key: ssh-keygen reads it (or
 * asks ssh-agent, or the FIDO key), and prompts for a passphrase on the
 * terminal itself. */
#ifndef NC_TRUST_SIGN_H
#define NC_TRUST_SIGN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"

/* Signs the exact bytes with `ssh-keygen -Y sign -n nightcore-approval-v1 -f key`.
 * key may be a private key file, or a public key whose private half is in
 * ssh-agent. *sig (malloc'd) is the armored signature. */
NC_MUST_CHECK nc_err nc_sign_with_ssh_keygen(const char *key, const void *data, size_t len, uint8_t **sig,
                                             size_t *sig_len, char *msg, size_t msg_len);

/* `ssh-keygen -t ed25519 -f path -C comment [-N '']`: refuses to overwrite. */
NC_MUST_CHECK nc_err nc_keygen_ed25519(const char *path, const char *comment, bool no_passphrase, char *msg,
                                       size_t msg_len);

#endif
