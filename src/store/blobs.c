#include "store/blobs.h"
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/fs.h"

static nc_err blob_path(const char *dir, const char *hex, char *out, size_t out_len)
{
    uint8_t raw[NC_SHA256_LEN];
    if (strlen(hex) != NC_SHA256_HEX_LEN || nc_unhex(hex, NC_SHA256_HEX_LEN, raw, sizeof raw) != NC_OK)
        return NC_ERR_USAGE;
    int n = snprintf(out, out_len, "%s/%s", dir, hex);
    return n < 0 || (size_t)n >= out_len ? NC_ERR_TOO_LARGE : NC_OK;
}

nc_err nc_blob_put(const char *dir, const uint8_t *data, size_t len, const char hex[NC_SHA256_HEX_LEN + 1])
{
    char path[4096];
    struct stat st;
    nc_err err = blob_path(dir, hex, path, sizeof path);
    if (err != NC_OK)
        return err;
    if (lstat(path, &st) == 0)
        return S_ISREG(st.st_mode) ? NC_OK : NC_ERR_IO;   /* never overwritten */
    return nc_write_file_atomic(path, data, len, 0600);
}

nc_err nc_blob_get(const char *dir, const char hex[NC_SHA256_HEX_LEN + 1], size_t max, uint8_t **out,
                   size_t *out_len)
{
    char path[4096];
    *out = NULL;
    *out_len = 0;
    nc_err err = blob_path(dir, hex, path, sizeof path);
    if (err != NC_OK)
        return err;
    return nc_read_file(path, max, out, out_len);
}

bool nc_blob_exists(const char *dir, const char hex[NC_SHA256_HEX_LEN + 1])
{
    char path[4096];
    struct stat st;
    return blob_path(dir, hex, path, sizeof path) == NC_OK && lstat(path, &st) == 0;
}

void nc_blob_remove(const char *dir, const char hex[NC_SHA256_HEX_LEN + 1])
{
    char path[4096];
    if (blob_path(dir, hex, path, sizeof path) == NC_OK)
        (void)unlink(path);
}
