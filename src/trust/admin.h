/* Admin statements: the signed form of every change that raises authority
 * besides approving a module (docs/approvals.md "Trust changes"). Same
 * envelope and rules as approval statements (in-toto Statement v1 shape,
 * canonical bytes, strict parse), but their own predicate types and their
 * own SSHSIG namespace, nightcore-admin-v1: an admin signature is never
 * accepted as an approval, nor an approval signature as an admin change.
 *
 *   trust.add   predicateType urn:nightcore:trust-add:v1
 *               subject: {name: key fingerprint, digest.sha256: sha256 of the key blob}
 *               predicate: {admin, approver, expires_at, issued_at, key, nonce, principal,
 *                           require_verification, trust_version, worker}
 *   policy.set  predicateType urn:nightcore:policy:v1
 *               subject: {name: "policy:NAME", digest.sha256: sha256 of the canonical policy}
 *               predicate: {approver, expires_at, issued_at, nonce, policy (the policy object,
 *                           canonical), trust_version, version (the version it creates), worker}
 */
#ifndef NC_TRUST_ADMIN_H
#define NC_TRUST_ADMIN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"
#include "policy/policy.h"
#include "trust/sshkey.h"
#include "trust/sshsig.h"
#include "trust/statement.h"

#define NC_ADMIN_NAMESPACE "nightcore-admin-v1"
#define NC_ADMIN_TRUST_ADD_TYPE "urn:nightcore:trust-add:v1"
#define NC_ADMIN_POLICY_TYPE "urn:nightcore:policy:v1"
/* An admin statement is short-lived: at most this long between issued_at
 * and expires_at. */
#define NC_ADMIN_MAX_VALID_S (7u * 86400)
#define NC_ADMIN_DEFAULT_VALID_S 3600u

typedef enum {
    NC_ADMIN_NONE = 0,
    NC_ADMIN_TRUST_ADD,
    NC_ADMIN_POLICY_SET,
} nc_admin_kind;

typedef struct {
    nc_admin_kind kind;
    char approver[NC_PRINCIPAL_MAX + 1];   /* the signer's principal */
    char worker[NC_ID_MAX + 1];
    uint64_t issued_at, expires_at;        /* valid while issued_at <= now < expires_at */
    uint64_t trust_version;                /* the trust store version it changes */
    uint8_t nonce[NC_NONCE_LEN];
    /* NC_ADMIN_TRUST_ADD */
    nc_sshkey key;                         /* the key to trust */
    char principal[NC_PRINCIPAL_MAX + 1];  /* its principal */
    bool admin;                            /* may also sign admin statements */
    bool require_verification;             /* security keys: require the PIN (UV) too */
    /* NC_ADMIN_POLICY_SET */
    nc_policy policy;                      /* its version field is policy_version */
    uint64_t policy_version;               /* the version this statement creates */
} nc_admin_statement;

void nc_admin_cleanup(nc_admin_statement *st);

/* Canonical bytes for st; refuses what parse would refuse. *out malloc'd. */
NC_MUST_CHECK nc_err nc_admin_build(const nc_admin_statement *st, char **out, size_t *out_len, char *msg,
                                    size_t msg_len);
/* Strict parse of exact bytes (canonical form required). NC_ERR_STATEMENT. */
NC_MUST_CHECK nc_err nc_admin_parse(const void *data, size_t len, nc_admin_statement *out, char *msg,
                                    size_t msg_len);
/* The statement's id: lower-case hex sha256 of its bytes. */
NC_MUST_CHECK nc_err nc_admin_id(const void *data, size_t len, char out[NC_SHA256_HEX_LEN + 1]);
/* Which kind of admin statement these bytes claim to be (by predicateType),
 * without checking the rest; NC_ADMIN_NONE if none. */
nc_admin_kind nc_admin_peek_kind(const void *data, size_t len);

/* The allowed_signers namespaces a trusted key gets. */
#define NC_TRUST_NAMESPACES_APPROVER NC_SSHSIG_NAMESPACE
#define NC_TRUST_NAMESPACES_ADMIN NC_SSHSIG_NAMESPACE "," NC_ADMIN_NAMESPACE

#endif
