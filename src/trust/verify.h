/* The approval verification pipeline: one call says yes or no, with the
 * first failure in the order of DESIGN.md §3 (docs/approvals.md). */
#ifndef NC_TRUST_VERIFY_H
#define NC_TRUST_VERIFY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"
#include "policy/policy.h"
#include "trust/sshkey.h"
#include "trust/admin.h"
#include "trust/statement.h"
#include "trust/truststore.h"

typedef struct {
    const uint8_t *statement; size_t statement_len;   /* exact signed bytes */
    const uint8_t *signature; size_t signature_len;   /* armored SSHSIG */
    const nc_trust_store *trust;
    const char *worker_id;                            /* this worker */
    int64_t now;                                      /* unix seconds */
    bool approval_revoked;                            /* from the worker's records */
    uint64_t runs_so_far;                             /* runs recorded under this approval */
    const uint8_t *module; size_t module_len;         /* the bytes about to run */
    /* The requested run. invoker NULL: checking an approval before storing it
     * (no run): the invoker and capability steps are skipped. */
    const char *invoker;                              /* "operator" or "agent:NAME" */
    const nc_caps *requested;                         /* what this run uses */
    bool require_user_verification;                   /* sk keys: also require UV */
} nc_verify_input;

typedef struct {
    nc_statement statement;                           /* parsed, valid */
    char approval_id[NC_SHA256_HEX_LEN + 1];
    char key_fingerprint[NC_SSHKEY_FINGERPRINT_LEN];
    nc_sshkey_type key_type;                          /* the signing key's type */
    uint8_t sk_flags;                                 /* security keys: the signature's flags */
} nc_verify_output;

/* NC_OK and *out filled, or the first failing step's code with msg saying
 * what was wrong and what to do. *out is cleared on entry. */
NC_MUST_CHECK nc_err nc_verify_approval(const nc_verify_input *in, nc_verify_output *out, char *msg,
                                        size_t msg_len);
void nc_verify_output_cleanup(nc_verify_output *out);

/* Admin statements (trust changes, policies): the same signature steps as
 * approvals in namespace nightcore-admin-v1, then the admin statement's
 * schema, the approver among the key's principals for that namespace, the
 * worker id, issued_at <= now (+ clock slack) < expires_at, and, when
 * trust_version is not 0, the statement's trust_version equal to it
 * (NC_ERR_STALE_STATEMENT): a change is signed against the store it changes.
 * module/invoker/requested/approval fields of in are ignored. */
#define NC_VERIFY_CLOCK_SLACK_S 300
typedef struct {
    nc_admin_statement statement;
    char id[NC_SHA256_HEX_LEN + 1];
    char key_fingerprint[NC_SSHKEY_FINGERPRINT_LEN];
    nc_sshkey signer;
} nc_verify_admin_output;
NC_MUST_CHECK nc_err nc_verify_admin(const nc_verify_input *in, uint64_t trust_version, nc_verify_admin_output *out,
                                     char *msg, size_t msg_len);
void nc_verify_admin_output_cleanup(nc_verify_admin_output *out);

/* Does the trust store require user verification (PIN) from this key? */
bool nc_trust_requires_uv(const nc_trust_store *ts, const nc_sshkey *key);

#endif
