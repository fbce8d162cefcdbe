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

/* Signs the exact bytes with `ssh-keygen -Y sign -n NS -f key` (NS:
 * nightcore-approval-v1 for approvals, nightcore-admin-v1 for admin
 * statements).
 * key may be a private key file, or a public key whose private half is in
 * ssh-agent. *sig (malloc'd) is the armored signature. */
NC_MUST_CHECK nc_err nc_sign_with_ssh_keygen(const char *key, const char *ns, const void *data, size_t len,
                                             uint8_t **sig, size_t *sig_len, char *msg, size_t msg_len);

/* The same, for a program without a terminal (the web console): ssh-keygen
 * runs in a new session (setsid: no controlling terminal), stdin from
 * /dev/null, with SSH_ASKPASS=askpass_prog, SSH_ASKPASS_REQUIRE=force and
 * DISPLAY set, so it never waits for a terminal, and without SSH_AUTH_SOCK:
 * ssh-agent is never used. If the key has no passphrase, none is asked for.
 * Otherwise ssh-keygen runs askpass_prog, which must print the passphrase
 * it reads from the inherited pipe whose descriptor number is in the
 * environment variable NC_ASKPASS_FD (the pipe holds `passphrase`, or
 * nothing when passphrase is NULL, and is then closed: a second prompt reads
 * end of file). passphrase must not contain CR, LF or NUL and is at most
 * NC_ASKPASS_MAX_BYTES; it is never copied into this process's memory, only
 * into the pipe. ssh-keygen is killed after timeout_ms. */
#define NC_ASKPASS_FD_ENV "NC_ASKPASS_FD"
#define NC_ASKPASS_MAX_BYTES 1024u
NC_MUST_CHECK nc_err nc_sign_with_ssh_keygen_askpass(const char *key, const char *ns, const void *data, size_t len,
                                                     const char *passphrase, const char *askpass_prog, int timeout_ms,
                                                     uint8_t **sig, size_t *sig_len, char *msg, size_t msg_len);

/* `ssh-keygen -t ed25519 -f path -C comment [-N '']`: refuses to overwrite. */
NC_MUST_CHECK nc_err nc_keygen_ed25519(const char *path, const char *comment, bool no_passphrase, char *msg,
                                       size_t msg_len);

#endif
