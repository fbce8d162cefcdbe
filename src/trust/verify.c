/* Each step below is one line of the order in docs/approvals.md; the first
 * failure wins and nothing after it is evaluated. */
#include "trust/verify.h"
#include <stdio.h>
#include <string.h>
#include "common/limits.h"
#include "trust/sshsig.h"

void nc_verify_output_cleanup(nc_verify_output *out)
{
    nc_statement_cleanup(&out->statement);
    memset(out, 0, sizeof *out);
}

#define FAIL(code, ...)                          \
    do {                                         \
        snprintf(msg, msg_len, __VA_ARGS__);     \
        err = (code);                            \
        goto done;                               \
    } while (0)

bool nc_trust_requires_uv(const nc_trust_store *ts, const nc_sshkey *key)
{
    for (size_t i = 0; ts && i < ts->nuv_keys; i++)
        if (nc_sshkey_equal(&ts->uv_keys[i], key))
            return true;
    return false;
}

/* Steps 1-12, shared by approvals and admin statements: sizes, trust store,
 * signature format and namespace, key type, key not revoked and trusted for
 * the namespace now, the signature itself, security-key flags. */
static nc_err verify_signature(const nc_verify_input *in, const char *ns, nc_sshsig *sig,
                               char fp[NC_SSHKEY_FINGERPRINT_LEN], char *msg, size_t msg_len)
{
    nc_err err;
    /* 1. size caps */
    if (in->statement_len > NC_STATEMENT_MAX_BYTES)
        FAIL(NC_ERR_TOO_LARGE, "statement larger than %u bytes", NC_STATEMENT_MAX_BYTES);
    if (in->signature_len > NC_MAX_SSHSIG_ARMOR_BYTES)
        FAIL(NC_ERR_TOO_LARGE, "signature larger than %u bytes", NC_MAX_SSHSIG_ARMOR_BYTES);
    if (in->module_len > NC_MAX_MODULE_BYTES)
        FAIL(NC_ERR_TOO_LARGE, "module larger than %u bytes", NC_MAX_MODULE_BYTES);
    /* 2. trust store: loaded (rollback is refused at load), not expired */
    if (!in->trust || !in->trust->signers)
        FAIL(NC_ERR_TRUST_FILE, "no trust store loaded");
    if (in->trust->expires_at && in->now > in->trust->expires_at)
        FAIL(NC_ERR_TRUST_EXPIRED, "the trust store expired at %lld; renew it (trust/version)",
             (long long)in->trust->expires_at);
    /* 3-6. armor, magic, version, trailing bytes, namespace, hash, key type */
    err = nc_sshsig_parse_armored(in->signature, in->signature_len, ns, sig);
    if (err == NC_ERR_SIG_NAMESPACE)
        FAIL(err, "signature: %s (sign with -n %s)", nc_strerror(err), ns);
    if (err != NC_OK)
        FAIL(err, "signature: %s", nc_strerror(err));
    if (nc_sshkey_fingerprint(&sig->key, fp) != NC_OK)
        FAIL(NC_ERR_INTERNAL, "cannot fingerprint the signing key");
    /* 7. key not revoked */
    if (nc_revoked_keys_contains(in->trust->revoked, &sig->key))
        FAIL(NC_ERR_REVOKED_KEY, "the signing key %s has been revoked", fp);
    /* 8. key in allowed_signers for the namespace and valid now */
    err = nc_allowed_signers_check(in->trust->signers, &sig->key, ns, in->now);
    if (err == NC_ERR_KEY_NOT_VALID_NOW)
        FAIL(err, "the signing key %s is outside its valid-after/valid-before window", fp);
    if (err != NC_OK)
        FAIL(NC_ERR_UNTRUSTED_KEY, "the signing key %s is not trusted for %s; %s", fp, ns,
             strcmp(ns, NC_SSHSIG_NAMESPACE) == 0 ? "add it with `nightcore trust add` (signed by a trusted key)"
                                                  : "only keys trusted as admin keys sign trust and policy changes");
    /* 9-10. signature over the exact statement bytes; sk presence (and UV) */
    bool uv = in->require_user_verification || nc_trust_requires_uv(in->trust, &sig->key);
    err = nc_sshsig_verify(sig, in->statement, in->statement_len, uv ? NC_SSHSIG_REQUIRE_UV : 0);
    if (err == NC_ERR_SK_NO_PRESENCE)
        FAIL(err, "the security key signed without a touch (user presence); sign again and touch the key");
    if (err == NC_ERR_SK_NO_VERIFICATION)
        FAIL(err, "the security key signed without user verification (PIN), which its trust entry requires");
    if (err != NC_OK)
        FAIL(NC_ERR_BAD_SIGNATURE, "the signature does not match the statement bytes (changed after signing?)");
    err = NC_OK;
done:
    return err;
}

nc_err nc_verify_approval(const nc_verify_input *in, nc_verify_output *out, char *msg, size_t msg_len)
{
    nc_sshsig sig;
    nc_err err;
    char inner[256] = "";
    uint8_t digest[NC_SHA256_LEN];

    memset(out, 0, sizeof *out);
    if (msg_len)
        msg[0] = '\0';
    err = verify_signature(in, NC_SSHSIG_NAMESPACE, &sig, out->key_fingerprint, msg, msg_len);
    if (err != NC_OK)
        goto done;
    out->key_type = sig.key.type;
    out->sk_flags = sig.sk_flags;
    /* 11. statement schema */
    err = nc_statement_parse(in->statement, in->statement_len, &out->statement, inner, sizeof inner);
    if (err != NC_OK)
        FAIL(NC_ERR_STATEMENT, "approval statement: %s", inner);
    nc_statement *st = &out->statement;
    /* 12. the approver is one of the key's principals */
    if (nc_allowed_signers_has_principal(in->trust->signers, &sig.key, NC_SSHSIG_NAMESPACE, in->now, st->approver) !=
        NC_OK)
        FAIL(NC_ERR_NOT_PRINCIPAL, "the statement names approver %s, which is not a principal of key %s",
             st->approver, out->key_fingerprint);
    /* 13. worker id */
    if (!in->worker_id || strcmp(st->worker, in->worker_id) != 0)
        FAIL(NC_ERR_WRONG_WORKER, "the approval is for worker %s, this is %s", st->worker,
             in->worker_id ? in->worker_id : "(unknown)");
    /* 14. time window */
    if (in->now < 0 || (uint64_t)in->now < st->not_before)
        FAIL(NC_ERR_NOT_YET_VALID, "the approval is valid from %llu (now %lld)", (unsigned long long)st->not_before,
             (long long)in->now);
    if ((uint64_t)in->now >= st->expires_at)
        FAIL(NC_ERR_EXPIRED, "the approval expired at %llu; approve the module again",
             (unsigned long long)st->expires_at);
    /* 15. not revoked, run count below max */
    if (in->approval_revoked)
        FAIL(NC_ERR_REVOKED_APPROVAL, "the approval has been revoked; approve the module again");
    if (in->runs_so_far >= st->max_runs)
        FAIL(NC_ERR_MAX_RUNS, "the approval allowed %llu runs and all were used; approve the module again",
             (unsigned long long)st->max_runs);
    /* 16. module bytes hash to the subject digest */
    if (!in->module || nc_sha256(in->module, in->module_len, digest) != NC_OK ||
        memcmp(digest, st->sha256, NC_SHA256_LEN) != 0)
        FAIL(NC_ERR_HASH_MISMATCH, "the module's bytes do not hash to the approved sha256 (changed on disk?)");
    /* 17. the requested run is within the approval */
    if (in->invoker) {
        if (!nc_statement_has_invoker(st, in->invoker))
            FAIL(NC_ERR_NOT_INVOKER, "the approval does not allow %s to run it", in->invoker);
        if (in->requested && nc_caps_within(in->requested, &st->caps, inner, sizeof inner) != NC_OK)
            FAIL(NC_ERR_CAPABILITY_DENIED, "%s", inner);
    }
    if (nc_statement_id(in->statement, in->statement_len, out->approval_id) != NC_OK)
        FAIL(NC_ERR_INTERNAL, "cannot hash the statement");
    err = NC_OK;
done:
    if (err != NC_OK) {
        nc_statement_cleanup(&out->statement);
        memset(out, 0, sizeof *out);
    }
    return err;
}

void nc_verify_admin_output_cleanup(nc_verify_admin_output *out)
{
    nc_admin_cleanup(&out->statement);
    memset(out, 0, sizeof *out);
}

nc_err nc_verify_admin(const nc_verify_input *in, uint64_t trust_version, nc_verify_admin_output *out, char *msg,
                       size_t msg_len)
{
    nc_sshsig sig;
    nc_err err;
    char inner[256] = "";
    memset(out, 0, sizeof *out);
    if (msg_len)
        msg[0] = '\0';
    err = verify_signature(in, NC_ADMIN_NAMESPACE, &sig, out->key_fingerprint, msg, msg_len);
    if (err != NC_OK)
        goto done;
    out->signer = sig.key;
    err = nc_admin_parse(in->statement, in->statement_len, &out->statement, inner, sizeof inner);
    if (err != NC_OK)
        FAIL(NC_ERR_STATEMENT, "admin statement: %s", inner);
    nc_admin_statement *st = &out->statement;
    if (nc_allowed_signers_has_principal(in->trust->signers, &sig.key, NC_ADMIN_NAMESPACE, in->now, st->approver) !=
        NC_OK)
        FAIL(NC_ERR_NOT_PRINCIPAL, "the statement names approver %s, which is not a principal of key %s", st->approver,
             out->key_fingerprint);
    if (!in->worker_id || strcmp(st->worker, in->worker_id) != 0)
        FAIL(NC_ERR_WRONG_WORKER, "the statement is for worker %s, this is %s", st->worker,
             in->worker_id ? in->worker_id : "(unknown)");
    if (in->now < 0 || (uint64_t)in->now + NC_VERIFY_CLOCK_SLACK_S < st->issued_at)
        FAIL(NC_ERR_NOT_YET_VALID, "the statement is issued at %llu, in the future (now %lld)",
             (unsigned long long)st->issued_at, (long long)in->now);
    if ((uint64_t)in->now >= st->expires_at)
        FAIL(NC_ERR_EXPIRED, "the statement expired at %llu; prepare and sign it again",
             (unsigned long long)st->expires_at);
    if (trust_version && st->trust_version != trust_version)
        FAIL(NC_ERR_STALE_STATEMENT, "the statement was prepared for trust store version %llu; it is now %llu: "
             "prepare and sign it again", (unsigned long long)st->trust_version, (unsigned long long)trust_version);
    if (nc_admin_id(in->statement, in->statement_len, out->id) != NC_OK)
        FAIL(NC_ERR_INTERNAL, "cannot hash the statement");
    err = NC_OK;
done:
    if (err != NC_OK) {
        nc_admin_cleanup(&out->statement);
        memset(out, 0, sizeof *out);
    }
    return err;
}
