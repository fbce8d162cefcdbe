#include "common/fs.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

nc_err nc_errno_err(int e)
{
    return e == ENOSPC || e == EDQUOT ? NC_ERR_NO_SPACE : e == ENOMEM ? NC_ERR_NOMEM : NC_ERR_IO;
}

nc_err nc_write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return nc_errno_err(errno);
        }
        p += n;
        len -= (size_t)n;
    }
    return NC_OK;
}

nc_err nc_read_exact(int fd, void *data, size_t len)
{
    uint8_t *p = data;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return NC_ERR_IO;
        }
        if (n == 0)
            return NC_ERR_TRUNCATED;
        p += n;
        len -= (size_t)n;
    }
    return NC_OK;
}

nc_err nc_read_fd(int fd, size_t max, uint8_t **out, size_t *out_len)
{
    struct stat st;
    uint8_t *data = NULL;
    size_t len = 0, cap;
    nc_err err = NC_ERR_IO;

    *out = NULL;
    *out_len = 0;
    if (fstat(fd, &st) != 0)
        goto done;
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
        err = NC_ERR_TOO_LARGE;
        goto done;
    }
    cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
    if (cap > max + 1)
        cap = max + 1;
    data = malloc(cap);
    if (!data) {
        err = NC_ERR_NOMEM;
        goto done;
    }
    for (;;) {
        if (len == cap) {
            if (cap > max) {      /* read one byte past max: too large */
                err = NC_ERR_TOO_LARGE;
                goto done;
            }
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            uint8_t *p = realloc(data, ncap);
            if (!p) {
                err = NC_ERR_NOMEM;
                goto done;
            }
            data = p;
            cap = ncap;
        }
        ssize_t n = read(fd, data + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            goto done;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max) {
            err = NC_ERR_TOO_LARGE;
            goto done;
        }
    }
    *out = data;
    *out_len = len;
    data = NULL;
    err = NC_OK;
done:
    free(data);
    return err;
}

nc_err nc_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT ? NC_ERR_NOT_FOUND : NC_ERR_IO;
    nc_err err = nc_read_fd(fd, max, out, out_len);
    close(fd);
    return err;
}

nc_err nc_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    int fd = -1, dfd = -1;
    nc_err err = NC_ERR_IO;

    int n = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return NC_ERR_TOO_LARGE;
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return nc_errno_err(errno);
    if (fchmod(fd, mode) != 0) {
        err = nc_errno_err(errno);
        goto done;
    }
    if ((err = nc_write_all(fd, data, len)) != NC_OK)
        goto done;
    if (fsync(fd) != 0) {
        err = nc_errno_err(errno);
        goto done;
    }
    int crc = close(fd);
    fd = -1;
    if (crc != 0) {
        err = nc_errno_err(errno);
        goto done;
    }
    err = NC_ERR_IO;
    if (rename(tmp, path) != 0)
        goto done;
    tmp[0] = '\0';
    /* Make the rename itself durable. */
    n = snprintf(dir, sizeof dir, "%s", path);
    if (n < 0 || (size_t)n >= sizeof dir)
        goto done;
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        memcpy(dir, ".", 2);
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0)
        goto done;
    err = NC_OK;
done:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    if (tmp[0])
        unlink(tmp);
    return err;
}

nc_err nc_mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    int n = snprintf(buf, sizeof buf, "%s", path);
    if (n < 0 || (size_t)n >= sizeof buf)
        return NC_ERR_TOO_LARGE;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return NC_ERR_IO;
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return NC_ERR_IO;
    return NC_OK;
}
