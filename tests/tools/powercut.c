/* A power cut, simulated: preloaded into the worker (LD_PRELOAD), it copies
 * the SQLite database and its WAL under $NC_POWERCUT_DIR aside each time
 * they are flushed (fsync, fdatasync), to NAME.synced. After kill -9, a
 * test puts those copies back: what the disk would hold had the power gone
 * at that moment (everything not flushed is lost). Other files are written
 * with a flush before their rename, so they are left as they are. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool watched(const char *path)
{
    const char *dir = getenv("NC_POWERCUT_DIR");
    size_t n = dir ? strlen(dir) : 0;
    if (!n || strncmp(path, dir, n) != 0 || path[n] != '/')
        return false;
    const char *base = strrchr(path, '/') + 1;
    return strcmp(base, "nightcore.db") == 0 || strcmp(base, "nightcore.db-wal") == 0;
}

static void snapshot(int fd)
{
    char link[64], path[PATH_MAX], tmp[PATH_MAX + 16], dst[PATH_MAX + 16];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return;
    path[n] = '\0';
    if (!watched(path))
        return;
    snprintf(tmp, sizeof tmp, "%s.synced.tmp", path);
    snprintf(dst, sizeof dst, "%s.synced", path);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    char buf[1 << 16];
    ssize_t r;
    bool ok = in >= 0 && out >= 0;
    while (ok && (r = read(in, buf, sizeof buf)) > 0)
        ok = write(out, buf, (size_t)r) == r;
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (ok)
        rename(tmp, dst);
    else
        unlink(tmp);
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int rc = real(fd);
    if (rc == 0)
        snapshot(fd);
    return rc;
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int rc = real(fd);
    if (rc == 0)
        snapshot(fd);
    return rc;
}
