/* The trust store: $NIGHTCORE_HOME/trust/ holds allowed_signers, revoked_keys
 * and version (JSON {"version":N,"expires_at":T|null}). The highest version
 * ever seen is recorded outside the trust folder; a lower one is a rollback
 * and fails closed. Format details in docs/approvals.md. */
#ifndef NC_TRUST_TRUSTSTORE_H
#define NC_TRUST_TRUSTSTORE_H
#include <stdint.h>
#include "common/error.h"
#include "trust/allowed_signers.h"
#include "trust/sshkey.h"

#define NC_TRUST_MAX_FILE_BYTES (1024u * 1024)

typedef struct {
    nc_allowed_signers *signers;
    nc_revoked_keys *revoked;
    uint64_t version;
    int64_t expires_at;   /* 0 = never */
} nc_trust_store;

/* Loads trust_dir, checks its version against the counter in record_path
 * (created at the first load) and raises that counter when the store is
 * newer. NC_ERR_TRUST_ROLLBACK if older, NC_ERR_TRUST_FILE (with the file and
 * line in msg) if any file is malformed. */
NC_MUST_CHECK nc_err nc_trust_load(const char *trust_dir, const char *record_path, nc_trust_store *out,
                                   char *msg, size_t msg_len);
void nc_trust_cleanup(nc_trust_store *ts);

/* Creates an empty store (version 1) if trust_dir has none. */
NC_MUST_CHECK nc_err nc_trust_init(const char *trust_dir, const char *record_path, char *msg, size_t msg_len);

/* Operator changes: each rewrites the file atomically and bumps the version
 * (in the store and in the record). The key is an authorized_keys-style line;
 * principal follows nc_principal_ok(). */
NC_MUST_CHECK nc_err nc_trust_add_key(const char *trust_dir, const char *record_path, const char *key_line,
                                      const char *principal, char *msg, size_t msg_len);
NC_MUST_CHECK nc_err nc_trust_revoke_key(const char *trust_dir, const char *record_path,
                                         const char *key_line, char *msg, size_t msg_len);

#endif
