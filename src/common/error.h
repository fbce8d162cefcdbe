/* Night Core error codes: one enum, generated from one table.
 * Each entry: symbol, wire code (CONTRACT.md refusal codes where one exists),
 * and a message that says what went wrong. */
#ifndef NC_COMMON_ERROR_H
#define NC_COMMON_ERROR_H

#define NC_ERRORS(X)                                                                   \
    X(NC_OK, "ok", "success")                                                          \
    X(NC_ERR_NOMEM, "internal", "out of memory")                                       \
    X(NC_ERR_IO, "internal", "input/output error")                                     \
    X(NC_ERR_INTERNAL, "internal", "internal error")                                   \
    X(NC_ERR_NO_SPACE, "no_space", "no space left on the device (or over a disk quota)") \
    X(NC_ERR_CORRUPT, "corrupt", "the database is corrupt")                           \
    X(NC_ERR_USAGE, "invalid_request", "invalid arguments")                            \
    X(NC_ERR_TRUNCATED, "invalid_request", "input ends before the declared length")   \
    X(NC_ERR_TRAILING, "invalid_request", "unexpected bytes after the end of input")  \
    X(NC_ERR_MALFORMED, "invalid_request", "malformed input")                          \
    X(NC_ERR_TOO_LARGE, "too_large", "input exceeds a size limit")                     \
    X(NC_ERR_INVALID_MODULE, "invalid_module", "not a valid WebAssembly module")      \
    X(NC_ERR_UNSUPPORTED_IMPORT, "invalid_module",                                     \
      "the module imports something Night Core does not provide")                     \
    X(NC_ERR_NO_ENTRY, "invalid_module", "the module has no _start export")          \
    X(NC_ERR_ARTIFACT, "internal", "precompiled artifact missing or corrupt")         \
    X(NC_ERR_CHILD, "internal", "sandbox child failed before running the module")     \
    X(NC_ERR_ISOLATION, "internal", "could not set up process isolation")             \
    X(NC_ERR_TIER_UNAVAILABLE, "tier_unavailable",                                     \
      "the isolation tier this run requires is not available on this host")           \
    X(NC_ERR_NOT_FOUND, "not_found", "not found")                                     \
    X(NC_ERR_BUSY, "busy", "too many runs in progress")                               \
    X(NC_ERR_RATE_LIMITED, "rate_limited", "too many requests; wait and retry")       \
    X(NC_ERR_QUOTA_EXCEEDED, "quota_exceeded", "a quota is full")                     \
    X(NC_ERR_UNAUTHORIZED, "unauthorized", "not allowed on this connection")          \
    X(NC_ERR_REFUSED, "refused", "the worker refused the request (its error code says why)") \
    /* trust: one code per verification step (docs/approvals.md) */                  \
    X(NC_ERR_TRUST_FILE, "untrusted_key", "the trust store is malformed")             \
    X(NC_ERR_TRUST_ROLLBACK, "trust_rollback",                                         \
      "the trust store is older than the recorded version (possible rollback)")       \
    X(NC_ERR_TRUST_EXPIRED, "trust_expired", "the trust store has expired")           \
    X(NC_ERR_SIG_ARMOR, "bad_signature", "signature armor or base64 is malformed")    \
    X(NC_ERR_SIG_FORMAT, "bad_signature",                                              \
      "signature blob is malformed (magic, version, lengths or trailing bytes)")      \
    X(NC_ERR_SIG_NAMESPACE, "bad_signature", "signature namespace is not the expected one") \
    X(NC_ERR_SIG_HASH_ALG, "bad_signature", "signature hash algorithm is not sha256 or sha512") \
    X(NC_ERR_SIG_KEY_TYPE, "bad_signature",                                            \
      "signing key type is not ssh-ed25519 or sk-ssh-ed25519@openssh.com")            \
    X(NC_ERR_REVOKED_KEY, "revoked_key", "the signing key has been revoked")           \
    X(NC_ERR_UNTRUSTED_KEY, "untrusted_key",                                           \
      "the signing key is not in allowed_signers for this namespace")                 \
    X(NC_ERR_KEY_NOT_VALID_NOW, "untrusted_key",                                       \
      "the signing key is outside its valid-after/valid-before window")               \
    X(NC_ERR_BAD_SIGNATURE, "bad_signature", "the signature does not verify")          \
    X(NC_ERR_SK_NO_PRESENCE, "bad_signature",                                          \
      "security-key signature made without user presence (touch)")                    \
    X(NC_ERR_SK_NO_VERIFICATION, "bad_signature",                                      \
      "security-key signature made without user verification (PIN)")                  \
    X(NC_ERR_STATEMENT, "bad_statement", "the approval statement is malformed")        \
    X(NC_ERR_NOT_PRINCIPAL, "untrusted_key",                                           \
      "the approver is not a principal of the signing key")                           \
    X(NC_ERR_WRONG_WORKER, "wrong_worker", "the approval names a different worker")    \
    X(NC_ERR_NOT_YET_VALID, "not_yet_valid", "the approval is not valid yet")          \
    X(NC_ERR_EXPIRED, "expired", "the approval has expired")                           \
    X(NC_ERR_REVOKED_APPROVAL, "revoked_approval", "the approval has been revoked")    \
    X(NC_ERR_MAX_RUNS, "max_runs_exceeded", "the approval's run count is used up")     \
    X(NC_ERR_HASH_MISMATCH, "hash_mismatch",                                           \
      "the module bytes do not hash to the approved digest")                          \
    X(NC_ERR_CAPABILITY_DENIED, "capability_denied",                                   \
      "the run asks for a capability the approval does not grant")                    \
    X(NC_ERR_NOT_INVOKER, "not_invoker", "the approval does not name this invoker")    \
    X(NC_ERR_NOT_APPROVED, "not_approved", "the module has no valid approval")          \
    /* authority: what a uid alone cannot do (docs/approvals.md) */                    \
    X(NC_ERR_SIGNATURE_REQUIRED, "signature_required",                                 \
      "this change raises authority and needs a statement signed by a trusted key")   \
    X(NC_ERR_STALE_STATEMENT, "stale_statement",                                       \
      "the statement was prepared for an earlier state; prepare and sign it again")   \
    X(NC_ERR_REPLAYED, "replayed", "this signed statement has been used already")      \
    X(NC_ERR_TAMPERED, "tampered",                                                     \
      "the worker's state disagrees with its audit log (edited outside Night Core)")  \
    /* an agent's run of a module it submitted, with no approval naming it */          \
    X(NC_ERR_PENDING_REVIEW, "pending_review", "the submission is waiting for a human to review it") \
    X(NC_ERR_REJECTED, "rejected", "a human rejected the submission")                  \
    X(NC_ERR_NOT_APPROVED_FOR_YOU, "not_approved_for_you",                             \
      "the submission was approved, but not for this agent")

typedef enum {
#define NC_ERR_ENUM(sym, code, msg) sym,
    NC_ERRORS(NC_ERR_ENUM)
#undef NC_ERR_ENUM
    NC_ERR_COUNT
} nc_err;

#define NC_MUST_CHECK __attribute__((warn_unused_result))

/* Static strings, valid for the life of the program. */
const char *nc_strerror(nc_err err);
const char *nc_errcode(nc_err err);

#endif
