/* Fuzz the SSHSIG parsers: the input as armored text, as a raw blob, and as
 * a public key (blob and text). Checks: failures leave the output cleared;
 * a parsed signature has an accepted key type, hash and the expected
 * namespace, re-armors to the same result, and verifies without crashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/buf.h"
#include "trust/sshkey.h"
#include "trust/sshsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_parsed(const nc_sshsig *sig, const uint8_t *data, size_t size)
{
    if (sig->key.type != NC_SSHKEY_ED25519 && sig->key.type != NC_SSHKEY_SK_ED25519)
        abort();
    if (sig->hash != NC_SSHSIG_SHA256 && sig->hash != NC_SSHSIG_SHA512)
        abort();
    if (strcmp(sig->sig_namespace, NC_SSHSIG_NAMESPACE) != 0)
        abort();
    if (sig->key.blob_len == 0 || sig->key.blob_len > sizeof(sig->key.blob))
        abort();
    /* The message is the input itself: almost never a valid signature, but
     * the whole verification path runs. */
    nc_err e = nc_sshsig_verify(sig, data, size, NC_SSHSIG_REQUIRE_UV);
    if (e != NC_OK && e != NC_ERR_BAD_SIGNATURE && e != NC_ERR_SK_NO_PRESENCE &&
        e != NC_ERR_SK_NO_VERIFICATION)
        abort();
}

static bool is_cleared(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nc_sshsig sig, again;
    nc_sshkey key;
    nc_buf armored;

    if (nc_sshsig_parse_armored(data, size, NC_SSHSIG_NAMESPACE, &sig) == NC_OK)
        check_parsed(&sig, data, size);
    else if (!is_cleared(&sig, sizeof(sig)))
        abort();

    if (nc_sshsig_parse_blob(data, size, NC_SSHSIG_NAMESPACE, &sig) == NC_OK) {
        check_parsed(&sig, data, size);
        nc_buf_init(&armored, 2 * NC_MAX_SSHSIG_ARMOR_BYTES);
        if (size <= NC_MAX_SSHSIG_ARMOR_BYTES / 2 && nc_sshsig_armor(data, size, &armored) == NC_OK) {
            if (nc_sshsig_parse_armored(armored.data, armored.len, NC_SSHSIG_NAMESPACE, &again) !=
                    NC_OK ||
                memcmp(&sig, &again, sizeof(sig)) != 0)
                abort();
        }
        nc_buf_cleanup(&armored);
    } else if (!is_cleared(&sig, sizeof(sig))) {
        abort();
    }

    if (nc_sshkey_from_blob(data, size, &key) == NC_OK) {
        if (key.blob_len != size || memcmp(key.blob, data, size) != 0)
            abort();
    } else if (!is_cleared(&key, sizeof(key))) {
        abort();
    }
    if (nc_sshkey_from_text((const char *)data, size, &key, NULL) == NC_OK) {
        char text[NC_SSHKEY_TEXT_MAX];
        nc_sshkey back;
        if (nc_sshkey_to_text(&key, text, sizeof(text)) != NC_OK ||
            nc_sshkey_from_text(text, strlen(text), &back, NULL) != NC_OK ||
            !nc_sshkey_equal(&key, &back))
            abort();
    }
    return 0;
}
