/* Fuzz the allowed_signers and revoked_keys parsers. Checks: a refusal has a
 * message naming the file; every accepted entry obeys the format's rules and
 * is found again by the lookups at a time inside its window. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "trust/allowed_signers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_entry(const nc_allowed_signers *as, const nc_allowed_signer *e)
{
    const char *ns = e->nnamespaces ? e->namespaces[0] : "nightcore-approval-v1";
    int64_t now = e->has_valid_after ? e->valid_after : (e->has_valid_before ? e->valid_before : 0);

    if (e->nprincipals == 0 || e->nprincipals > NC_MAX_PRINCIPALS_PER_LINE ||
        e->nnamespaces > NC_MAX_NAMESPACES_PER_LINE || e->line == 0)
        abort();
    if (e->key.type != NC_SSHKEY_ED25519 && e->key.type != NC_SSHKEY_SK_ED25519)
        abort();
    for (size_t i = 0; i < e->nprincipals; i++)
        if (e->principals[i][0] == '\0' || strpbrk(e->principals[i], "*?!,\" \t") != NULL ||
            strlen(e->principals[i]) > NC_MAX_PRINCIPAL_BYTES)
            abort();
    for (size_t i = 0; i < e->nnamespaces; i++)
        if (e->namespaces[i][0] == '\0' || strpbrk(e->namespaces[i], "*?!,\" \t") != NULL)
            abort();
    if (e->has_valid_after && e->has_valid_before && e->valid_before <= e->valid_after)
        abort();
    if ((e->has_valid_after && e->valid_after <= 0) || (e->has_valid_before && e->valid_before <= 0))
        abort();
    if (!nc_allowed_signer_valid_at(e, now) || !nc_allowed_signer_allows_namespace(e, ns))
        abort();
    if (nc_allowed_signers_check(as, &e->key, ns, now) != NC_OK)
        abort();
    if (nc_allowed_signers_has_principal(as, &e->key, ns, now, e->principals[0]) != NC_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[NC_TRUST_ERRMSG_LEN];
    nc_allowed_signers *as = NULL;
    nc_revoked_keys *rk = NULL;

    nc_err e = nc_allowed_signers_parse(data, size, &as, err, sizeof(err));
    if (e == NC_OK) {
        if (err[0] != '\0' || nc_allowed_signers_count(as) > NC_MAX_ALLOWED_SIGNERS)
            abort();
        for (size_t i = 0; i < nc_allowed_signers_count(as); i++)
            check_entry(as, nc_allowed_signers_get(as, i));
        nc_allowed_signers_free(as);
    } else if (as != NULL || (e == NC_ERR_TRUST_FILE && strncmp(err, "allowed_signers:", 16) != 0) ||
               memchr(err, '\0', sizeof(err)) == NULL) {
        abort();
    }

    e = nc_revoked_keys_parse(data, size, &rk, err, sizeof(err));
    if (e == NC_OK) {
        /* each listed key is found: parse again key by key is not possible
         * here, so check the count bound and a negative lookup */
        nc_sshkey none;
        memset(&none, 0, sizeof(none));
        if (nc_revoked_keys_count(rk) > NC_MAX_REVOKED_KEYS || nc_revoked_keys_contains(rk, &none))
            abort();
        nc_revoked_keys_free(rk);
    } else if (rk != NULL || (e == NC_ERR_TRUST_FILE && strncmp(err, "revoked_keys:", 13) != 0)) {
        abort();
    }
    return 0;
}
