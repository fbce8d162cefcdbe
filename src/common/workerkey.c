#include "common/workerkey.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/fs.h"
#include "common/hash.h"

#define SEED_LEN crypto_sign_SEEDBYTES
/* base64 of 32 bytes is 44 characters; allow a newline and refuse anything longer. */
#define KEY_FILE_MAX 64

static nc_err sodium_ready(void)
{
    return sodium_init() < 0 ? NC_ERR_INTERNAL : NC_OK;
}

/* Decodes exactly 32 bytes from standard padded base64, with at most one
 * trailing newline. */
static nc_err decode32(const char *text, size_t len, unsigned char out[32])
{
    if (len && text[len - 1] == '\n')
        len--;
    size_t bin_len = 0;
    const char *end = NULL;
    if (len != sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL) - 1 ||
        sodium_base642bin(out, 32, text, len, NULL, &bin_len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bin_len != 32 || end != text + len)
        return NC_ERR_MALFORMED;
    return NC_OK;
}

/* path gets the file; dir gets its folder. */
static nc_err key_paths(const nc_home *h, char *key, char *pub, char *dir, size_t len)
{
    nc_err err = nc_home_path(h, NC_HOME_WORKER_KEY, key, len);
    if (err == NC_OK)
        err = nc_home_path(h, NC_HOME_WORKER_PUB, pub, len);
    if (err == NC_OK) {
        int n = snprintf(dir, len, "%s", key);
        char *slash = n > 0 && (size_t)n < len ? strrchr(dir, '/') : NULL;
        if (!slash)
            return NC_ERR_TOO_LARGE;
        *slash = '\0';
    }
    return err;
}

static nc_err fsync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return NC_ERR_IO;
    int rc = fsync(dfd);
    close(dfd);
    return rc == 0 ? NC_OK : NC_ERR_IO;
}

/* Writes data to a temporary file next to path and link()s it into place:
 * fails with NC_ERR_USAGE (and leaves path alone) if path exists. */
static nc_err write_exclusive(const char *path, const char *dir, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX];
    int fd = -1;
    nc_err err = NC_ERR_IO;
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return NC_ERR_TOO_LARGE;
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return NC_ERR_IO;
    if (fchmod(fd, mode) != 0 || nc_write_all(fd, data, len) != NC_OK || fsync(fd) != 0)
        goto done;
    if (close(fd) != 0) {
        fd = -1;
        goto done;
    }
    fd = -1;
    if (link(tmp, path) != 0) {
        err = errno == EEXIST ? NC_ERR_USAGE : NC_ERR_IO;
        goto done;
    }
    err = fsync_dir(dir);
done:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return err;
}

static nc_err write_public(const char *pub_path, const unsigned char pk[32])
{
    char text[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL) + 1];
    sodium_bin2base64(text, sizeof text - 1, pk, 32, sodium_base64_VARIANT_ORIGINAL);
    size_t n = strlen(text);
    text[n++] = '\n';
    return nc_write_file_atomic(pub_path, text, n, 0644);
}

nc_err nc_worker_key_generate(const nc_home *h)
{
    char key[PATH_MAX], pub[PATH_MAX], dir[PATH_MAX];
    unsigned char *seed = NULL, *sk = NULL;
    char *text = NULL;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    const size_t text_cap = sodium_base64_ENCODED_LEN(SEED_LEN, sodium_base64_VARIANT_ORIGINAL) + 1;
    struct stat st;
    nc_err err = sodium_ready();
    if (err != NC_OK)
        return err;
    err = key_paths(h, key, pub, dir, sizeof key);
    if (err != NC_OK)
        return err;
    if (lstat(key, &st) == 0)
        return NC_ERR_USAGE;   /* never replace a worker's identity */
    err = nc_mkdir_p(dir, 0700);
    if (err != NC_OK)
        return err;
    err = NC_ERR_NOMEM;
    seed = sodium_malloc(SEED_LEN);
    sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    text = sodium_malloc(text_cap);
    if (!seed || !sk || !text)
        goto done;
    randombytes_buf(seed, SEED_LEN);
    err = NC_ERR_INTERNAL;
    if (crypto_sign_seed_keypair(pk, sk, seed) != 0)
        goto done;
    sodium_bin2base64(text, text_cap - 1, seed, SEED_LEN, sodium_base64_VARIANT_ORIGINAL);
    size_t n = strlen(text);
    text[n++] = '\n';
    err = write_exclusive(key, dir, text, n, 0600);
    if (err == NC_OK)
        err = write_public(pub, pk);
done:
    sodium_free(seed);   /* sodium_free wipes before freeing; NULL-safe */
    sodium_free(sk);
    sodium_free(text);
    return err;
}

/* Reads keys/worker.key into sodium memory and derives the key pair. */
static nc_err load_keypair(const nc_home *h, unsigned char **sk_out, unsigned char pk[32])
{
    char key[PATH_MAX], pub[PATH_MAX], dir[PATH_MAX];
    unsigned char *seed = NULL, *sk = NULL;
    char *text = NULL;
    size_t len = 0;
    int fd = -1;
    struct stat st;
    nc_err err;

    *sk_out = NULL;
    err = sodium_ready();
    if (err != NC_OK)
        return err;
    err = key_paths(h, key, pub, dir, sizeof key);
    if (err != NC_OK)
        return err;
    fd = open(key, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? NC_ERR_NOT_FOUND : NC_ERR_IO;
    err = NC_ERR_IO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) != 0)
        goto done;
    err = NC_ERR_MALFORMED;
    if (st.st_size > KEY_FILE_MAX)
        goto done;
    err = NC_ERR_NOMEM;
    text = sodium_malloc(KEY_FILE_MAX + 1);
    seed = sodium_malloc(SEED_LEN);
    sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!text || !seed || !sk)
        goto done;
    /* Read directly into secure memory, one byte past the cap to notice growth. */
    for (;;) {
        ssize_t r = read(fd, text + len, KEY_FILE_MAX + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = NC_ERR_IO;
            goto done;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > KEY_FILE_MAX) {
            err = NC_ERR_MALFORMED;
            goto done;
        }
    }
    err = decode32(text, len, seed);
    if (err != NC_OK)
        goto done;
    err = NC_ERR_INTERNAL;
    if (crypto_sign_seed_keypair(pk, sk, seed) != 0)
        goto done;
    *sk_out = sk;
    sk = NULL;
    err = NC_OK;
done:
    if (fd >= 0)
        close(fd);
    sodium_free(text);
    sodium_free(seed);
    sodium_free(sk);
    return err;
}

nc_err nc_worker_key_load_secret(const nc_home *h, unsigned char **sk)
{
    unsigned char pk[32];
    return load_keypair(h, sk, pk);
}

nc_err nc_worker_key_write_public(const nc_home *h)
{
    char key[PATH_MAX], pub[PATH_MAX], dir[PATH_MAX];
    unsigned char *sk = NULL, pk[32];
    nc_err err = key_paths(h, key, pub, dir, sizeof key);
    if (err != NC_OK)
        return err;
    err = load_keypair(h, &sk, pk);
    if (err == NC_OK)
        err = write_public(pub, pk);
    sodium_free(sk);
    return err;
}

nc_err nc_worker_key_load_public(const nc_home *h, uint8_t pk[NC_WORKER_PK_LEN])
{
    char pub[PATH_MAX];
    uint8_t *data = NULL;
    size_t len = 0;
    memset(pk, 0, NC_WORKER_PK_LEN);
    if (h->service && h->worker_key[0]) {   /* system.json carries it: the home is not ours to read */
        unsigned char tmp[32];
        nc_err e = sodium_ready();
        if (e == NC_OK)
            e = decode32(h->worker_key, strlen(h->worker_key), tmp);
        if (e == NC_OK)
            memcpy(pk, tmp, 32);
        return e;
    }
    nc_err err = nc_home_path(h, NC_HOME_WORKER_PUB, pub, sizeof pub);
    if (err == NC_OK)
        err = sodium_ready();
    if (err == NC_OK)
        err = nc_read_file(pub, KEY_FILE_MAX, &data, &len);
    if (err == NC_ERR_TOO_LARGE)
        err = NC_ERR_MALFORMED;
    if (err == NC_OK) {
        unsigned char tmp[32];
        err = decode32((const char *)data, len, tmp);
        if (err == NC_OK)
            memcpy(pk, tmp, 32);
    }
    free(data);
    return err;
}

void nc_worker_id(const uint8_t pk[NC_WORKER_PK_LEN], char out[NC_WORKER_ID_LEN])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[2 * 8 + 1];
    crypto_hash_sha256(digest, pk, NC_WORKER_PK_LEN);
    nc_hex(digest, 8, hex);
    snprintf(out, NC_WORKER_ID_LEN, "w_%s", hex);
}
