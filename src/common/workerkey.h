/* The worker's own Ed25519 key (libsodium). It signs audit checkpoints and run
 * receipts, never approvals (DESIGN.md §1).
 *
 *   keys/worker.key   base64 (standard alphabet, padded) of the 32-byte seed + "\n", mode 0600
 *   keys/worker.pub   base64 of the 32-byte public key + "\n", mode 0644
 *
 * The worker id, which approvals name, is "w_" + the first 16 lower-case hex
 * digits of sha256(public key). */
#ifndef NC_COMMON_WORKERKEY_H
#define NC_COMMON_WORKERKEY_H
#include <stdint.h>
#include "common/error.h"
#include "common/home.h"

#define NC_WORKER_PK_LEN 32
#define NC_WORKER_SK_LEN 64   /* libsodium's seed || public key form */
#define NC_WORKER_ID_LEN 20   /* "w_" + 16 hex + NUL fits */

/* Creates both files (keys/ is created 0700 if missing). Refuses to replace an
 * existing worker.key: NC_ERR_USAGE. The secret key file appears atomically
 * and exclusively (link(2) of a finished temporary file); the seed only ever
 * lives in sodium_malloc memory and is wiped. */
NC_MUST_CHECK nc_err nc_worker_key_generate(const nc_home *h);

/* (Re)writes keys/worker.pub from keys/worker.key, for a home whose public
 * file was lost. */
NC_MUST_CHECK nc_err nc_worker_key_write_public(const nc_home *h);

/* Reads keys/worker.pub. NC_ERR_NOT_FOUND if missing, NC_ERR_MALFORMED if it
 * is not exactly base64 of 32 bytes (an optional trailing newline allowed). */
NC_MUST_CHECK nc_err nc_worker_key_load_public(const nc_home *h, uint8_t pk[NC_WORKER_PK_LEN]);

/* Reads keys/worker.key into *sk: 64 bytes of sodium_malloc memory (seed ||
 * public key, as crypto_sign_detached wants); the caller sodium_free()s it.
 * NC_ERR_NOT_FOUND if missing; NC_ERR_IO if the file is readable or writable
 * by group or others (like OpenSSH, a key others can read is refused);
 * NC_ERR_MALFORMED for bad contents. *sk is NULL unless NC_OK. */
NC_MUST_CHECK nc_err nc_worker_key_load_secret(const nc_home *h, unsigned char **sk);

/* "w_" + first 16 lower-case hex digits of sha256(pk). */
void nc_worker_id(const uint8_t pk[NC_WORKER_PK_LEN], char out[NC_WORKER_ID_LEN]);

#endif
