/* The trust ledger: which approver keys are trusted, as the audit log says.
 *
 * The trust files (trust/allowed_signers, trust/revoked_keys) are what
 * OpenSSH reads; the source of truth is the audit log's trust entries:
 *
 *   trust.root    the root of trust, once: the first keys, set by `init` (or
 *                 adopted from the files the first time a worker of this
 *                 version starts on a home), and any revocations then
 *   trust.add     a key added by an admin statement (admin.h) signed by a key
 *                 the ledger already trusts as an admin key; the statement
 *                 and signature are in the entry and are checked again here
 *   trust.revoke  a key revoked (lowering authority: unsigned)
 *
 *   policy.set    a policy added or changed: signed by an admin key (an admin
 *                 statement of kind policy.set) unless it only narrows the
 *                 policy it replaces ("narrowed"); versions count up per name
 *   policy.remove a policy removed (unsigned)
 *
 * Replaying them gives the ledger; the trust files must say exactly the same. A
 * key appended by hand, a changed principal or an emptied revoked_keys shows
 * up as a difference, named by nc_ledger_compare(). docs/approvals.md. */
#ifndef NC_TRUST_LEDGER_H
#define NC_TRUST_LEDGER_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "common/error.h"
#include "common/limits.h"
#include "trust/sshkey.h"
#include "trust/statement.h"
#include "trust/truststore.h"

typedef struct {
    nc_sshkey key;
    char fingerprint[NC_SSHKEY_FINGERPRINT_LEN];
    size_t nprincipals;
    char principals[NC_MAX_PRINCIPALS_PER_LINE][NC_PRINCIPAL_MAX + 1];
    bool admin;                 /* trusted for nightcore-admin-v1 too */
    bool require_verification;  /* security keys: PIN as well as touch */
    int64_t valid_after, valid_before;   /* 0: none */
    uint64_t seq;               /* the audit entry that trusted it */
    bool root;                  /* from trust.root (else a signed trust.add) */
    char added_by[NC_SSHKEY_FINGERPRINT_LEN];   /* signer of its trust.add */
    bool revoked;
} nc_ledger_key;

typedef struct nc_trust_ledger nc_trust_ledger;

NC_MUST_CHECK nc_err nc_ledger_new(nc_trust_ledger **out);
void nc_ledger_free(nc_trust_ledger *l);   /* NULL-safe */

/* No trust.root yet: the home has no root of trust. */
bool nc_ledger_has_root(const nc_trust_ledger *l);
size_t nc_ledger_count(const nc_trust_ledger *l);
const nc_ledger_key *nc_ledger_get(const nc_trust_ledger *l, size_t i);
const nc_ledger_key *nc_ledger_find(const nc_trust_ledger *l, const nc_sshkey *key);
bool nc_ledger_revoked(const nc_trust_ledger *l, const nc_sshkey *key);
/* Keys that can still sign admin statements (trusted as admin, not revoked). */
size_t nc_ledger_active_admins(const nc_trust_ledger *l);
/* Trust changes applied so far (root + adds + revokes). */
uint64_t nc_ledger_changes(const nc_trust_ledger *l);

/* Applies one audit entry (the whole entry object: seq, time, type, fields).
 * Entries of other types are ignored. A trust.add is verified as the worker
 * verified it when it was made: its signature by an admin key trusted at that
 * point of the log, at the entry's time; the entry's key and principal must
 * be the statement's. NC_ERR_TAMPERED (msg names the entry) for a second
 * root, a change before the root, a bad or unverifiable signature, an entry
 * that does not match its statement. */
NC_MUST_CHECK nc_err nc_ledger_apply(nc_trust_ledger *l, const json_t *entry, const char *worker_id, char *msg,
                                     size_t msg_len);

/* The fields of a trust.root entry describing the keys and revocations in
 * files (adoption of a home's existing store, or the root set by init).
 * Keys trusted only for approvals (the format older homes were written in)
 * are made admin keys: a root key signs trust changes. NULL on OOM. */
json_t *nc_ledger_root_fields(const nc_trust_store *files, const char *how);

/* The fields of a trust.add entry (statement, signature and what they say),
 * and of a trust.revoke entry. */
json_t *nc_ledger_add_fields(const char *statement, size_t statement_len, const char *signature,
                             size_t signature_len, const char *signer_fp, const nc_sshkey *key,
                             const char *principal, bool admin, bool require_verification);
json_t *nc_ledger_revoke_fields(const nc_sshkey *key);

/* allowed_signers and revoked_keys as the ledger says they must read. */
NC_MUST_CHECK nc_err nc_ledger_render(const nc_trust_ledger *l, nc_buf *allowed_signers, nc_buf *revoked_keys);

/* NC_OK if files say exactly what the ledger says (same keys, principals,
 * namespaces, validity, revocations; order and comments do not matter).
 * NC_ERR_TAMPERED otherwise, msg naming the first difference and what to do. */
NC_MUST_CHECK nc_err nc_ledger_compare(const nc_trust_ledger *l, const nc_trust_store *files, char *msg,
                                       size_t msg_len);

/* Copies the keys that require user verification into ts->uv_keys. */
NC_MUST_CHECK nc_err nc_ledger_fill_uv(const nc_trust_ledger *l, nc_trust_store *ts);
/* The ledger as a trust store (files rendered and parsed), e.g. to verify a
 * signed statement against the keys trusted now. */
NC_MUST_CHECK nc_err nc_ledger_store(const nc_trust_ledger *l, nc_trust_store *ts);

/* ---- policies ----
 * The current version of a policy: an operator policy of that name, else a
 * built-in one; NULL if neither (or it was removed). Borrowed from l. */
const nc_policy *nc_ledger_policy(const nc_trust_ledger *l, const char *name);
/* Operator policies (current versions, removed ones left out), in order of first creation. */
size_t nc_ledger_policy_count(const nc_trust_ledger *l);
const nc_policy *nc_ledger_policy_at(const nc_trust_ledger *l, size_t i);
/* The version the next change of name will get (1 for a name never used). */
uint64_t nc_ledger_policy_next_version(const nc_trust_ledger *l, const char *name);
/* Fields of a policy.set entry: the policy (with the version it gets), and
 * for a widening change the signed statement (statement, signature, signer;
 * NULLs for a narrowing, which is unsigned). */
json_t *nc_ledger_policy_fields(const nc_policy *p, uint64_t version, const char *statement, size_t statement_len,
                                const char *signature, size_t signature_len, const char *signer_fp);

#endif
