/* Helpers for the conformance guests: raw WASI preview 1 calls through
 * wasi-libc's <wasi/api.h>, results printed as "key=value" lines so two
 * runtimes can be compared line by line. Guests print what a program can
 * rely on (errno names, sizes, contents, relations such as "d_ino equals
 * the file's ino"), never host-specific values (inode numbers, times). */
#ifndef NC_CONFORMANCE_P1_H
#define NC_CONFORMANCE_P1_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

/* Line-buffered stdout: a guest stopped by a trap keeps the lines it printed. */
__attribute__((constructor)) static void p1_line_buffered(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static const char *const p1_errno_names[] = {
    "SUCCESS", "2BIG", "ACCES", "ADDRINUSE", "ADDRNOTAVAIL", "AFNOSUPPORT", "AGAIN", "ALREADY",
    "BADF", "BADMSG", "BUSY", "CANCELED", "CHILD", "CONNABORTED", "CONNREFUSED", "CONNRESET",
    "DEADLK", "DESTADDRREQ", "DOM", "DQUOT", "EXIST", "FAULT", "FBIG", "HOSTUNREACH", "IDRM",
    "ILSEQ", "INPROGRESS", "INTR", "INVAL", "IO", "ISCONN", "ISDIR", "LOOP", "MFILE", "MLINK",
    "MSGSIZE", "MULTIHOP", "NAMETOOLONG", "NETDOWN", "NETRESET", "NETUNREACH", "NFILE", "NOBUFS",
    "NODEV", "NOENT", "NOEXEC", "NOLCK", "NOLINK", "NOMEM", "NOMSG", "NOPROTOOPT", "NOSPC",
    "NOSYS", "NOTCONN", "NOTDIR", "NOTEMPTY", "NOTRECOVERABLE", "NOTSOCK", "NOTSUP", "NOTTY",
    "NXIO", "OVERFLOW", "OWNERDEAD", "PERM", "PIPE", "PROTO", "PROTONOSUPPORT", "PROTOTYPE",
    "RANGE", "ROFS", "SPIPE", "SRCH", "STALE", "TIMEDOUT", "TXTBSY", "XDEV", "NOTCAPABLE",
};

static inline const char *en(__wasi_errno_t e)
{
    return e < sizeof p1_errno_names / sizeof p1_errno_names[0] ? p1_errno_names[e] : "?";
}

static inline void check(const char *key, __wasi_errno_t e)
{
    printf("%s=%s\n", key, en(e));
}

static inline void say_u(const char *key, unsigned long long v)
{
    printf("%s=%llu\n", key, v);
}

static inline void say_s(const char *key, const char *v)
{
    printf("%s=%s\n", key, v);
}

/* The fd of the preopen named name; exits if there is none. */
static inline __wasi_fd_t preopen(const char *name)
{
    for (__wasi_fd_t fd = 3; fd < 64; fd++) {
        __wasi_prestat_t ps;
        if (__wasi_fd_prestat_get(fd, &ps) != 0)
            break;
        char buf[256];
        if (ps.tag != __WASI_PREOPENTYPE_DIR || ps.u.dir.pr_name_len >= sizeof buf)
            continue;
        if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)buf, ps.u.dir.pr_name_len) != 0)
            continue;
        buf[ps.u.dir.pr_name_len] = '\0';
        if (strcmp(buf, name) == 0)
            return fd;
    }
    printf("no preopen %s\n", name);
    exit(1);
}

/* path_open with an explicit path length (wasi-libc's wrapper uses strlen). */
int32_t p1_raw_path_open(int32_t fd, int32_t look, int32_t path, int32_t len, int32_t of,
                         int64_t base, int64_t inh, int32_t fdf, int32_t out)
    __attribute__((import_module("wasi_snapshot_preview1"), import_name("path_open")));

static inline __wasi_errno_t p_open_n(__wasi_fd_t dir, const char *path, size_t len, __wasi_fd_t *out)
{
    return (__wasi_errno_t)p1_raw_path_open((int32_t)dir, 0, (int32_t)(uintptr_t)path, (int32_t)len,
                                            0, 0, 0, 0, (int32_t)(uintptr_t)out);
}

static inline __wasi_errno_t p_open(__wasi_fd_t dir, __wasi_lookupflags_t look, const char *path,
                                    __wasi_oflags_t of, __wasi_rights_t base, __wasi_rights_t inh,
                                    __wasi_fdflags_t fdf, __wasi_fd_t *out)
{
    *out = (__wasi_fd_t)-1;
    return __wasi_path_open(dir, look, path, of, base, inh, fdf, out);
}

/* Creates (or truncates) a file with the given content; 0 on success. */
static inline __wasi_errno_t put_file(__wasi_fd_t dir, const char *path, const char *content)
{
    __wasi_fd_t fd;
    __wasi_errno_t e = p_open(dir, 0, path, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC,
                              __WASI_RIGHTS_FD_WRITE, 0, 0, &fd);
    if (e)
        return e;
    size_t n = strlen(content), done = 0;
    while (done < n) {
        __wasi_ciovec_t iov = {(const uint8_t *)content + done, n - done};
        __wasi_size_t w = 0;
        e = __wasi_fd_write(fd, &iov, 1, &w);
        if (e || w == 0)
            break;
        done += w;
    }
    __wasi_errno_t c = __wasi_fd_close(fd);
    return e ? e : c;
}

/* Reads a whole (small) file into buf, NUL-terminated; 0 on success. */
static inline __wasi_errno_t get_file(__wasi_fd_t dir, const char *path, char *buf, size_t cap)
{
    __wasi_fd_t fd;
    __wasi_errno_t e = p_open(dir, 0, path, 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd);
    if (e)
        return e;
    size_t got = 0;
    for (;;) {
        __wasi_iovec_t iov = {(uint8_t *)buf + got, cap - 1 - got};
        __wasi_size_t n = 0;
        e = __wasi_fd_read(fd, &iov, 1, &n);
        if (e || n == 0 || got + n >= cap - 1) {
            got += n;
            break;
        }
        got += n;
    }
    buf[got] = '\0';
    __wasi_errno_t c = __wasi_fd_close(fd);
    return e ? e : c;
}

static inline __wasi_errno_t write_str(__wasi_fd_t fd, const char *s, __wasi_size_t *n)
{
    __wasi_ciovec_t iov = {(const uint8_t *)s, strlen(s)};
    return __wasi_fd_write(fd, &iov, 1, n);
}

/* Prints key=1 when all bits of want are in have, key=0 otherwise. */
static inline void has_bits(const char *key, uint64_t have, uint64_t want)
{
    printf("%s=%d\n", key, (have & want) == want);
}

#endif
