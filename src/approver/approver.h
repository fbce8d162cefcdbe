/* The human's side of a signature, one copy shared by the CLI and the
 * console: which key and principal to sign with, how that key proves a
 * human is there, what a prepared statement must say before it is signed
 * (checked against what the operator asked for), the statement in words, and
 * the rule for signing without a terminal. The worker verifies everything
 * again; this is what keeps the operator from signing something other than
 * what they meant. docs/approvals.md. */
#ifndef NC_APPROVER_APPROVER_H
#define NC_APPROVER_APPROVER_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"
#include "common/limits.h"
#include "trust/admin.h"
#include "trust/privkey.h"
#include "trust/sshkey.h"
#include "trust/statement.h"

#define NC_APPROVER_CONFIG_MAX_BYTES (64u * 1024)
#define NC_APPROVER_CLOCK_SLACK_S 300   /* worker and client clocks may differ this much */

/* ---- configuration and key ---- */

/* config.json as an object; {} if the file does not exist. A relative
 * "approver_key" is returned resolved against config.json's directory. */
NC_MUST_CHECK nc_err nc_approver_config_load(const char *path, json_t **cfg, char *msg, size_t msg_len);
/* key as config.json stores it: relative when under config.json's
 * directory (a pointer into key), else unchanged. */
const char *nc_approver_config_relative(const char *config_path, const char *key);
/* The approver principal: override, else config "principal". */
bool nc_approver_principal(const char *override, const json_t *cfg, char *out, size_t out_len);
/* The signing key: override, else config "approver_key", else default_path;
 * it must exist as a regular file (a private key, or a .pub whose private
 * half is in ssh-agent or on a security key). */
NC_MUST_CHECK nc_err nc_approver_key_resolve(const char *override, const json_t *cfg, const char *default_path,
                                             char *out, size_t out_len, char *msg, size_t msg_len);

typedef struct {
    nc_sshkey key;                            /* the public key it signs as */
    char fingerprint[NC_SSHKEY_FINGERPRINT_LEN];
    bool have_private;                        /* a private key file was read */
    nc_key_protection protection;             /* fido / passphrase / none / unknown */
} nc_approver_key_info;

/* What path is: a private key file (its public half and whether it has a
 * passphrase), or a .pub (then the private file next to it, if any, is read
 * too). NC_ERR_MALFORMED / NC_ERR_SIG_KEY_TYPE with msg otherwise. */
NC_MUST_CHECK nc_err nc_approver_key_inspect(const char *path, nc_approver_key_info *out, char *msg, size_t msg_len);

/* ---- before signing: the prepared statement says what was asked ---- */

typedef struct {
    const char *submission;                   /* the submission id */
    const char *name, *sha256;                /* the module as the worker holds it (hex) */
    uint64_t max_runs;                        /* 0: not checked (the console shows what it got) */
    uint64_t expires_in;                      /* seconds; the window must not be longer */
    const char *const *invokers;              /* NULL: not checked */
    size_t ninvokers;
    const char *principal;                    /* the approver it must name */
    /* Grants asked for explicitly (NULL: none): the statement's directories
     * (host, guest, mode) and environment must be exactly these where
     * check_dirs / check_env, and it must not grant args or stdin where
     * no_args / no_stdin. Device, inode and quotas are the worker's to fill. */
    const nc_caps *grant;
    bool check_dirs, check_env, no_args, no_stdin;
} nc_approval_request;

/* NULL if st says what rq asks (at now), else what differs, in words. */
const char *nc_approver_check_approval(const nc_statement *st, const nc_approval_request *rq, int64_t now);

typedef struct {
    const nc_sshkey *key;                     /* the key to trust */
    const char *principal;
    bool admin, require_verification;
    const char *approver;                     /* the principal signing it */
    const char *worker;                       /* NULL: not checked */
} nc_trust_request;

const char *nc_approver_check_trust_add(const nc_admin_statement *st, const nc_trust_request *rq, int64_t now);
/* A policy.set statement says exactly the policy asked for (from the file),
 * names this approver and is valid now. */
const char *nc_approver_check_policy_set(const nc_admin_statement *st, const nc_policy *want, const char *approver,
                                         int64_t now);

/* ---- the statement in words ----
 * Both return an array of [label, text] pairs, in the order the CLI prints
 * them and the console shows them. sub (may be NULL) adds the review line. */
json_t *nc_approver_describe_approval(const nc_statement *st, const char *policy, const json_t *sub);
json_t *nc_approver_describe_trust_add(const nc_admin_statement *st);
/* why: what the change widens (NULL for a new policy or a narrowing). */
json_t *nc_approver_describe_policy_set(const nc_admin_statement *st, const char *why);

/* ---- without a terminal ----
 * The console may sign only with a fresh human act: a security key (touch,
 * checked by the worker), or a passphrase-protected key file with the
 * passphrase typed now. A key without a passphrase only when the worker runs
 * in development mode; ssh-agent is never used (it cannot show whether it
 * asks for confirmation). NC_OK, or NC_ERR_UNAUTHORIZED with msg saying what
 * to do. */
NC_MUST_CHECK nc_err nc_approver_may_sign_unattended(const nc_approver_key_info *k, bool passphrase_given,
                                                     bool dev_mode, char *msg, size_t msg_len);

#endif
