/* The OpenSSH allowed_signers file (ssh-keygen(1) "ALLOWED SIGNERS") and a
 * revoked_keys file (one public key a line), parsed strictly: one malformed
 * line fails the whole file with NC_ERR_TRUST_FILE and a message naming the
 * line, e.g.  allowed_signers:7: unknown option "foo".
 * What is accepted, exactly: docs/ssh-formats.md. */
#ifndef NC_TRUST_ALLOWED_SIGNERS_H
#define NC_TRUST_ALLOWED_SIGNERS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"
#include "common/limits.h"
#include "trust/sshkey.h"

/* A buffer of this size holds any parse error message. */
#define NC_TRUST_ERRMSG_LEN 256

/* One line of allowed_signers. Strings are NUL-terminated and live as long as
 * the nc_allowed_signers they came from. */
typedef struct {
    size_t line;                 /* 1-based line number in the file */
    nc_sshkey key;
    size_t nprincipals;          /* >= 1 */
    const char *principals[NC_MAX_PRINCIPALS_PER_LINE];
    size_t nnamespaces;          /* 0: no namespaces= option, any namespace */
    const char *namespaces[NC_MAX_NAMESPACES_PER_LINE];
    bool has_valid_after;        /* valid-after=: usable when now >= valid_after */
    int64_t valid_after;         /* unix seconds, UTC */
    bool has_valid_before;       /* valid-before=: usable when now <= valid_before */
    int64_t valid_before;
} nc_allowed_signer;

typedef struct nc_allowed_signers nc_allowed_signers;

/* Parses a whole allowed_signers file. On failure returns NC_ERR_TRUST_FILE
 * (or NC_ERR_NOMEM / NC_ERR_USAGE) and writes a one-line message to errbuf
 * (if errbuf_len > 0; NUL-terminated, cleared on entry). *out is NULL unless
 * NC_OK. An empty file (or only comments) is valid and trusts no key. */
NC_MUST_CHECK nc_err nc_allowed_signers_parse(const void *data, size_t len,
                                              nc_allowed_signers **out,
                                              char *errbuf, size_t errbuf_len);
void nc_allowed_signers_free(nc_allowed_signers *as);   /* NULL-safe */

size_t nc_allowed_signers_count(const nc_allowed_signers *as);
/* Entry i in file order, or NULL if out of range; borrowed from as. */
const nc_allowed_signer *nc_allowed_signers_get(const nc_allowed_signers *as, size_t i);

/* Whether entry e allows namespace ns (no namespaces= option allows every one). */
bool nc_allowed_signer_allows_namespace(const nc_allowed_signer *e, const char *ns);
/* Whether now (unix seconds) is inside e's valid-after/valid-before window. */
bool nc_allowed_signer_valid_at(const nc_allowed_signer *e, int64_t now);

/* May key sign in namespace ns at now?
 *   NC_OK                      at least one entry has this key, allows ns and is valid at now
 *   NC_ERR_KEY_NOT_VALID_NOW   entries have this key and allow ns, none is valid at now
 *   NC_ERR_UNTRUSTED_KEY       no entry has this key for ns
 * (NC_ERR_USAGE for NULL arguments.) */
NC_MUST_CHECK nc_err nc_allowed_signers_check(const nc_allowed_signers *as, const nc_sshkey *key,
                                              const char *ns, int64_t now);

/* Iterates the entries that match (key, ns, valid at now), in file order.
 * Start with *pos = 0; returns NULL when there are no more. */
const nc_allowed_signer *nc_allowed_signers_next(const nc_allowed_signers *as,
                                                 const nc_sshkey *key, const char *ns,
                                                 int64_t now, size_t *pos);

/* Is principal one of key's principals, on an entry that allows ns and is
 * valid at now? (Exact, case-sensitive match; the principal must be on the
 * same line as the key, as with ssh-keygen -Y verify -I.)
 *   NC_OK / NC_ERR_NOT_PRINCIPAL, or nc_allowed_signers_check()'s error when
 *   the key itself is not usable. */
NC_MUST_CHECK nc_err nc_allowed_signers_has_principal(const nc_allowed_signers *as,
                                                      const nc_sshkey *key, const char *ns,
                                                      int64_t now, const char *principal);

/* revoked_keys: "TYPE BASE64 [comment]" a line; '#' comments and blank lines.
 * Same error style as above ("revoked_keys:3: ..."). */
typedef struct nc_revoked_keys nc_revoked_keys;

NC_MUST_CHECK nc_err nc_revoked_keys_parse(const void *data, size_t len, nc_revoked_keys **out,
                                           char *errbuf, size_t errbuf_len);
void nc_revoked_keys_free(nc_revoked_keys *rk);   /* NULL-safe */
size_t nc_revoked_keys_count(const nc_revoked_keys *rk);
/* Key i in file order, or NULL; borrowed from rk. */
const nc_sshkey *nc_revoked_keys_get(const nc_revoked_keys *rk, size_t i);
/* Whether a key with exactly this blob is listed. */
bool nc_revoked_keys_contains(const nc_revoked_keys *rk, const nc_sshkey *key);
/* NC_ERR_REVOKED_KEY if listed, else NC_OK (NC_ERR_USAGE for NULL arguments). */
NC_MUST_CHECK nc_err nc_revoked_keys_check(const nc_revoked_keys *rk, const nc_sshkey *key);

/* Parses an allowed_signers time: YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS,
 * optionally followed by "Z"; always read as UTC. Year 1970-9999, real
 * calendar dates, 00:00:00-23:59:59; the result must be > 0. */
NC_MUST_CHECK nc_err nc_allowed_signers_parse_time(const char *s, size_t len, int64_t *out);

#endif
