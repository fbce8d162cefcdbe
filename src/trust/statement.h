/* Approval statements: in-toto Statement v1 shaped JSON, produced in
 * canonical form (sorted keys, no spaces, integers only) and verified as the
 * exact signed bytes. The format is specified in docs/approvals.md. */
#ifndef NC_TRUST_STATEMENT_H
#define NC_TRUST_STATEMENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"
#include "common/hash.h"
#include "policy/policy.h"

#define NC_STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define NC_STATEMENT_PREDICATE_TYPE "urn:nightcore:approval:v1"
#define NC_STATEMENT_MAX_BYTES (64u * 1024)
#define NC_MODULE_NAME_MAX 64
#define NC_PRINCIPAL_MAX 128
#define NC_ID_MAX 64            /* worker and submission ids */
#define NC_MAX_INVOKERS 16
#define NC_INVOKER_MAX (6 + 64) /* "agent:" + agent name */
#define NC_NONCE_LEN 16

typedef struct {
    char name[NC_MODULE_NAME_MAX + 1];
    uint8_t sha256[NC_SHA256_LEN];
    char approver[NC_PRINCIPAL_MAX + 1];
    char worker[NC_ID_MAX + 1];
    char submission[NC_ID_MAX + 1];
    nc_caps caps;
    nc_policy_limits limits;
    uint8_t cap_digest[NC_SHA256_LEN];   /* filled by build; checked by parse */
    uint64_t issued_at, not_before, expires_at;   /* unix seconds */
    uint64_t max_runs;
    char invokers[NC_MAX_INVOKERS][NC_INVOKER_MAX + 1];
    size_t ninvokers;
    uint8_t nonce[NC_NONCE_LEN];
    uint64_t trust_version;
    /* The policy (name and version) the grant was checked against; "" in
     * statements made before policies were versioned (the field is then
     * absent, and only the built-in ceilings apply). */
    char policy[NC_POLICY_MAX_NAME + 1];
    uint64_t policy_version;
    /* The isolation tier every run of the approval gets: "process" or "vm"
     * (the policy's; the worker always names it). "": the field is absent,
     * as in statements made before tiers were signed: the process tier. */
    char isolation[NC_ISOLATION_MAX + 1];
} nc_statement;

void nc_statement_cleanup(nc_statement *st);

/* Canonical statement bytes for st (computes and stores st->cap_digest).
 * Refuses fields that parse would refuse. *out is malloc'd. */
NC_MUST_CHECK nc_err nc_statement_build(nc_statement *st, char **out, size_t *out_len, char *msg,
                                        size_t msg_len);

/* Strict parse of exact bytes: valid JSON, no duplicate keys, exactly the
 * known fields with the right types, integers only (no floats, no negatives),
 * one subject, lower-case 64-hex digests, capability digest matching the
 * capabilities, and the bytes in canonical form. NC_ERR_STATEMENT + msg. */
NC_MUST_CHECK nc_err nc_statement_parse(const void *data, size_t len, nc_statement *out, char *msg,
                                        size_t msg_len);

/* Approval id: lower-case hex sha256 of the statement bytes. */
NC_MUST_CHECK nc_err nc_statement_id(const void *data, size_t len, char out[NC_SHA256_HEX_LEN + 1]);

/* Does the statement name this invoker ("operator" or "agent:NAME")? */
bool nc_statement_has_invoker(const nc_statement *st, const char *invoker);

/* Name rules shared with the rest of Night Core. */
bool nc_module_name_ok(const char *s);
bool nc_invoker_ok(const char *s);
bool nc_principal_ok(const char *s);

#endif
