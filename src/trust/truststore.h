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
    /* Keys whose trust entry requires user verification (security-key PIN)
     * on top of presence. Not in the files (OpenSSH's allowed_signers has no
     * such option): the worker fills it from its trust ledger. Owned. */
    nc_sshkey *uv_keys;
    size_t nuv_keys;
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

/* Offline changes (`init`, tests): each rewrites the file atomically and
 * bumps the version (in the store and in the record). The key is an
 * authorized_keys-style line; principal follows nc_principal_ok();
 * namespaces is the namespaces= value ("nightcore-approval-v1", or with
 * ",nightcore-admin-v1" for an admin key). A running worker records the
 * first keys as the root of trust and refuses any later file edit: it adds
 * keys itself, from signed statements (trust/ledger.h). */
NC_MUST_CHECK nc_err nc_trust_add_key(const char *trust_dir, const char *record_path, const char *key_line,
                                      const char *principal, const char *namespaces, char *msg, size_t msg_len);
NC_MUST_CHECK nc_err nc_trust_revoke_key(const char *trust_dir, const char *record_path,
                                         const char *key_line, char *msg, size_t msg_len);

/* The worker's write: both files replaced atomically (each) with the given
 * text, the version raised above both the store's and the record's. */
NC_MUST_CHECK nc_err nc_trust_replace(const char *trust_dir, const char *record_path, const void *allowed,
                                      size_t allowed_len, const void *revoked, size_t revoked_len, char *msg,
                                      size_t msg_len);

#endif
