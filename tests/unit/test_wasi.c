/* Unit tests for src/sandbox/wasi.c: Night Core's WASI preview 1 host.
 *
 * Most tests instantiate tests/fixtures/wat/wasi_proxy.wat, which re-exports
 * every WASI function as "x_<name>", and call them directly with hostile
 * arguments; the scenario fixtures (wasi_stdio, wasi_args, the C guests built
 * with wasi-libc) run through _start. Each test gets a fresh temp directory
 * with data/ (granted read-write) and ro/ (granted read-only). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wasi_harness.h"

/* WASI errno values (wasi_snapshot_preview1.witx) */
enum {
    E_OK = 0, E_BADF = 8, E_EXIST = 20, E_FAULT = 21, E_INVAL = 28, E_ISDIR = 31, E_LOOP = 32,
    E_NAMETOOLONG = 37, E_NFILE = 41, E_NOENT = 44, E_NOTDIR = 54, E_NOTEMPTY = 55,
    E_NOTSUP = 58, E_PERM = 63, E_SPIPE = 70, E_NOTCAPABLE = 76, E_DQUOT = 19, E_ILSEQ = 25,
    E_NOTSOCK = 57, E_XDEV = 75,
};

/* rights */
#define R_FD_DATASYNC (1ull << 0)
#define R_FD_READ (1ull << 1)
#define R_FD_SEEK (1ull << 2)
#define R_FD_FDSTAT_SET_FLAGS (1ull << 3)
#define R_FD_SYNC (1ull << 4)
#define R_FD_TELL (1ull << 5)
#define R_FD_WRITE (1ull << 6)
#define R_FD_ADVISE (1ull << 7)
#define R_FD_ALLOCATE (1ull << 8)
#define R_PATH_CREATE_DIRECTORY (1ull << 9)
#define R_PATH_CREATE_FILE (1ull << 10)
#define R_PATH_LINK_SOURCE (1ull << 11)
#define R_PATH_LINK_TARGET (1ull << 12)
#define R_PATH_OPEN (1ull << 13)
#define R_FD_READDIR (1ull << 14)
#define R_PATH_READLINK (1ull << 15)
#define R_PATH_RENAME_SOURCE (1ull << 16)
#define R_PATH_RENAME_TARGET (1ull << 17)
#define R_PATH_FILESTAT_GET (1ull << 18)
#define R_PATH_FILESTAT_SET_SIZE (1ull << 19)
#define R_PATH_FILESTAT_SET_TIMES (1ull << 20)
#define R_PATH_SYMLINK (1ull << 24)
#define R_PATH_REMOVE_DIRECTORY (1ull << 25)
#define R_POLL_FD_READWRITE (1ull << 27)
#define R_PATH_UNLINK_FILE (1ull << 26)
#define R_FD_FILESTAT_GET (1ull << 21)
#define R_FD_FILESTAT_SET_SIZE (1ull << 22)
#define R_FD_FILESTAT_SET_TIMES (1ull << 23)
/* Write rights a read-only tree never grants (fdatasync only flushes: it may stay). */
#define R_WRITES                                                                            \
    (R_FD_WRITE | R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE |                                  \
     R_PATH_CREATE_DIRECTORY | R_PATH_CREATE_FILE | R_PATH_UNLINK_FILE |                    \
     R_FD_FILESTAT_SET_TIMES | (0x3ull << 11) | (0x3ull << 16) | (0x3ull << 19) | (0x7ull << 24))
#define R_READ_FILE (R_FD_READ | R_FD_SEEK | R_FD_TELL | R_FD_FILESTAT_GET)
#define R_RW_FILE                                                                          \
    (R_READ_FILE | R_FD_WRITE | R_FD_FILESTAT_SET_SIZE | R_FD_ALLOCATE | R_FD_DATASYNC |    \
     R_FD_SYNC | R_FD_ADVISE | R_FD_FDSTAT_SET_FLAGS | R_FD_FILESTAT_SET_TIMES)

#define FOLLOW 1
#define O_CREAT_ 1
#define O_DIRECTORY_ 2
#define O_EXCL_ 4
#define O_TRUNC_ 8
#define FDF_APPEND 1

/* Guest memory layout used with wasi_proxy (2 pages). */
#define MEMSZ 131072u
#define OUT 256u
#define OUT2 320u
#define IOV 512u
#define PATH 1024u
#define PATH2 2048u
#define BUF 8192u
#define EVENTS 16384u

typedef struct {
    char root[64];
    char data[96], ro[96];
    int data_fd, ro_fd;
} tmpdirs;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void write_file(const char *dir, const char *name, const char *content)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static int read_file(const char *dir, const char *name, char *buf, size_t cap)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return (int)n;
}

static bool exists(const char *dir, const char *name)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return lstat(p, &st) == 0;
}

static int tmp_setup(void **state)
{
    tmpdirs *t = calloc(1, sizeof *t);
    if (!t)
        return -1;
    snprintf(t->root, sizeof t->root, "/tmp/nc-wasi-XXXXXX");
    if (!mkdtemp(t->root))
        return -1;
    snprintf(t->data, sizeof t->data, "%s/data", t->root);
    snprintf(t->ro, sizeof t->ro, "%s/ro", t->root);
    if (mkdir(t->data, 0755) != 0 || mkdir(t->ro, 0755) != 0)
        return -1;
    write_file(t->ro, "hello.txt", "hello from ro\n");
    char sub[128];
    snprintf(sub, sizeof sub, "%s/sub", t->ro);
    if (mkdir(sub, 0755) != 0)
        return -1;
    write_file(sub, "inner.txt", "inner\n");
    write_file(t->root, "outside.txt", "secret\n");
    t->data_fd = open(t->data, O_PATH | O_DIRECTORY | O_CLOEXEC);
    t->ro_fd = open(t->ro, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (t->data_fd < 0 || t->ro_fd < 0)
        return -1;
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    tmpdirs *t = *state;
    if (!t)
        return 0;
    close(t->data_fd);
    close(t->ro_fd);
    nftw(t->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
    return 0;
}

static nc_wasi_config cfg_plain(void)
{
    return (nc_wasi_config){.stdout_cap = 1u << 20, .stderr_cap = 1u << 20};
}

/* data/ at fd 3 (read-write) and ro/ at fd 4 (read-only) */
static nc_wasi_preopen g_pre[2];
static nc_wasi_config cfg_dirs(const tmpdirs *t)
{
    nc_wasi_config c = cfg_plain();
    g_pre[0] = (nc_wasi_preopen){.host_fd = t->data_fd, .guest_path = "/data", .readonly = false};
    g_pre[1] = (nc_wasi_preopen){.host_fd = t->ro_fd, .guest_path = "/ro", .readonly = true};
    c.preopens = g_pre;
    c.npreopens = 2;
    return c;
}

static size_t count_open_fds(void)
{
    size_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* path_open through the proxy; returns errno, the new fd in *fd. */
static int32_t open_at(wh *h, uint32_t dirfd, uint32_t lookup, const char *path, uint32_t oflags,
                       uint64_t rights, uint32_t fdflags, uint32_t *fd)
{
    uint32_t len = wh_str(h, PATH, path);
    wh_put_u32(h, OUT, 0xdeadbeef);
    int32_t e = WH_CALL(h, "x_path_open", WH_I32(dirfd), WH_I32(lookup), WH_I32(PATH),
                        WH_I32(len), WH_I32(oflags), WH_I64(rights), WH_I64(rights),
                        WH_I32(fdflags), WH_I32(OUT));
    if (fd)
        *fd = wh_u32(h, OUT);
    return e;
}

/* One-path calls: path_create_directory, path_unlink_file, path_remove_directory. */
static int32_t path1(wh *h, const char *fn, uint32_t dirfd, const char *path)
{
    uint32_t len = wh_str(h, PATH, path);
    return WH_CALL(h, fn, WH_I32(dirfd), WH_I32(PATH), WH_I32(len));
}

static int32_t rename_at(wh *h, uint32_t fd1, const char *p1, uint32_t fd2, const char *p2)
{
    uint32_t l1 = wh_str(h, PATH, p1), l2 = wh_str(h, PATH2, p2);
    return WH_CALL(h, "x_path_rename", WH_I32(fd1), WH_I32(PATH), WH_I32(l1), WH_I32(fd2),
                   WH_I32(PATH2), WH_I32(l2));
}

static int32_t symlink_at(wh *h, const char *target, uint32_t fd, const char *path)
{
    uint32_t l1 = wh_str(h, PATH, target), l2 = wh_str(h, PATH2, path);
    return WH_CALL(h, "x_path_symlink", WH_I32(PATH), WH_I32(l1), WH_I32(fd), WH_I32(PATH2),
                   WH_I32(l2));
}

static int32_t link_at(wh *h, uint32_t fd1, uint32_t flags, const char *p1, uint32_t fd2,
                       const char *p2)
{
    uint32_t l1 = wh_str(h, PATH, p1), l2 = wh_str(h, PATH2, p2);
    return WH_CALL(h, "x_path_link", WH_I32(fd1), WH_I32(flags), WH_I32(PATH), WH_I32(l1),
                   WH_I32(fd2), WH_I32(PATH2), WH_I32(l2));
}

static int32_t stat_at(wh *h, uint32_t fd, uint32_t flags, const char *path)
{
    uint32_t len = wh_str(h, PATH, path);
    return WH_CALL(h, "x_path_filestat_get", WH_I32(fd), WH_I32(flags), WH_I32(PATH),
                   WH_I32(len), WH_I32(BUF));
}

static int32_t readlink_at(wh *h, uint32_t fd, const char *path, uint32_t buf_len, char *out)
{
    uint32_t len = wh_str(h, PATH, path);
    int32_t e = WH_CALL(h, "x_path_readlink", WH_I32(fd), WH_I32(PATH), WH_I32(len), WH_I32(BUF),
                        WH_I32(buf_len), WH_I32(OUT));
    if (e == E_OK) {
        uint32_t used = wh_u32(h, OUT);
        assert_true(used <= buf_len);
        wh_get(h, BUF, out, used);
        out[used] = '\0';
    }
    return e;
}

/* fd_write/fd_read of one buffer through one iovec at IOV; *n = bytes moved. */
static int32_t write_fd(wh *h, uint32_t fd, const char *s, uint32_t *n)
{
    uint32_t len = wh_str(h, BUF, s);
    wh_put_u32(h, IOV, BUF);
    wh_put_u32(h, IOV + 4, len);
    int32_t e = WH_CALL(h, "x_fd_write", WH_I32(fd), WH_I32(IOV), WH_I32(1), WH_I32(OUT));
    if (n)
        *n = wh_u32(h, OUT);
    return e;
}

static int32_t read_fd(wh *h, uint32_t fd, char *out, uint32_t cap)
{
    wh_put_u32(h, IOV, BUF);
    wh_put_u32(h, IOV + 4, cap - 1);
    int32_t e = WH_CALL(h, "x_fd_read", WH_I32(fd), WH_I32(IOV), WH_I32(1), WH_I32(OUT));
    if (e == E_OK) {
        uint32_t n = wh_u32(h, OUT);
        assert_true(n < cap);
        wh_get(h, BUF, out, n);
        out[n] = '\0';
    }
    return e;
}

static void assert_denial(const nc_wasi *w, uint32_t i, nc_wasi_fn fn, nc_denial reason,
                          const char *detail)
{
    assert_true(i < w->ndenied);
    assert_int_equal(w->denied[i].fn, fn);
    assert_int_equal(w->denied[i].reason, reason);
    if (detail)
        assert_string_equal(w->denied[i].detail, detail);
}

/* ---------------------------------------------------------------- tests */

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(NC_WASI_FN_COUNT, 46);
    assert_string_equal(nc_wasi_fn_name(NC_WASI_FN_args_get), "args_get");
    assert_string_equal(nc_wasi_fn_name(NC_WASI_FN_path_open), "path_open");
    assert_string_equal(nc_wasi_fn_name(NC_WASI_FN_sock_shutdown), "sock_shutdown");
    assert_string_equal(nc_wasi_fn_name(NC_WASI_FN_COUNT), "?");
    assert_string_equal(nc_denial_code(NC_DENY_ESCAPE), "path_escape");
    assert_string_equal(nc_denial_code(NC_DENY_FD_LIMIT), "fd_limit");
    assert_string_equal(nc_denial_code(NC_DENY_COUNT), "?");
    assert_string_equal(nc_denial_message(NC_DENY_NETWORK), "network access is never granted");
    assert_string_equal(nc_denial_message(99), "?");
}

static void test_new_rejects(void **state)
{
    tmpdirs *t = *state;
    nc_wasi *w = (nc_wasi *)1;
    assert_int_equal(nc_wasi_new(NULL, &w), NC_ERR_USAGE);
    assert_null(w);
    nc_wasi_config c = cfg_plain();
    c.nargs = 1;   /* args missing */
    assert_int_equal(nc_wasi_new(&c, &w), NC_ERR_USAGE);
    c = cfg_plain();
    c.stdin_len = 3;   /* data missing */
    assert_int_equal(nc_wasi_new(&c, &w), NC_ERR_USAGE);
    nc_wasi_preopen bad = {.host_fd = -1, .guest_path = "/x"};
    c = cfg_plain();
    c.preopens = &bad;
    c.npreopens = 1;
    assert_int_equal(nc_wasi_new(&c, &w), NC_ERR_USAGE);
    char p[256];
    snprintf(p, sizeof p, "%s/hello.txt", t->ro);
    bad.host_fd = open(p, O_RDONLY | O_CLOEXEC);   /* not a directory */
    assert_true(bad.host_fd >= 0);
    assert_int_equal(nc_wasi_new(&c, &w), NC_ERR_USAGE);
    close(bad.host_fd);
    nc_wasi_preopen many[NC_WASI_MAX_FDS];
    for (size_t i = 0; i < NC_WASI_MAX_FDS; i++)
        many[i] = (nc_wasi_preopen){.host_fd = t->data_fd, .guest_path = "/d"};
    c.preopens = many;
    c.npreopens = NC_WASI_MAX_FDS - 2;
    assert_int_equal(nc_wasi_new(&c, &w), NC_ERR_TOO_LARGE);
    assert_null(w);
    nc_wasi_free(NULL);
}

/* The proxy imports all 46 functions with their exact preview 1 types:
 * instantiation succeeding proves the definitions match. */
static void test_signatures(void **state)
{
    (void)state;
    nc_wasi_config c = cfg_plain();
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    assert_int_equal(WH_CALL0(&h, "x_sched_yield"), E_OK);
    assert_int_equal(h.w->calls[NC_WASI_FN_sched_yield], 1);
    for (unsigned i = 0; i < NC_WASI_FN_COUNT; i++)
        if (i != NC_WASI_FN_sched_yield)
            assert_int_equal(h.w->calls[i], 0);
    wh_close(&h);
}

static void test_stdio(void **state)
{
    (void)state;
    static const char in[] = "The quick brown fox";   /* 19 bytes: reads of 8, 8, 3, then EOF */
    nc_wasi_config c = cfg_plain();
    c.stdin_data = (const uint8_t *)in;
    c.stdin_len = strlen(in);
    wh h;
    wh_open(&h, "wasi_stdio", &c);
    WH_CALL0(&h, "_start");
    assert_false(h.trapped);
    const char want[] = "hello stdout\nThe quick brown fox";
    assert_int_equal(h.w->out.len, strlen(want));
    assert_memory_equal(h.w->out.data, want, strlen(want));
    assert_int_equal(h.w->err.len, 13);
    assert_memory_equal(h.w->err.data, "hello stderr\n", 13);
    assert_int_equal(h.w->calls[NC_WASI_FN_fd_read], 4);
    assert_int_equal(h.w->calls[NC_WASI_FN_fd_write], 5);
    assert_int_equal(h.w->stop, NC_WASI_STOP_NONE);
    assert_false(h.w->out.truncated);
    wh_close(&h);
}

static void test_output_cap(void **state)
{
    (void)state;
    nc_wasi_config c = cfg_plain();
    c.stdout_cap = 4096;
    c.stderr_cap = 100;
    wh h;
    wh_open(&h, "wasi_stdio", &c);
    WH_CALL(&h, "flood", WH_I32(1));
    assert_true(h.trapped);
    assert_non_null(strstr(h.trap, "nightcore: output limit"));
    assert_int_equal(h.w->stop, NC_WASI_STOP_OUTPUT_LIMIT);
    assert_int_equal(h.w->out.len, 4096);   /* what fit is kept */
    assert_true(h.w->out.truncated);
    assert_int_equal(h.w->calls[NC_WASI_FN_fd_write], 5);
    wh_close(&h);

    wh_open(&h, "wasi_stdio", &c);
    WH_CALL(&h, "flood", WH_I32(2));
    assert_true(h.trapped);
    assert_int_equal(h.w->stop, NC_WASI_STOP_OUTPUT_LIMIT);
    assert_int_equal(h.w->err.len, 100);
    assert_true(h.w->err.truncated);
    assert_false(h.w->out.truncated);
    assert_int_equal(h.w->calls[NC_WASI_FN_fd_write], 1);
    wh_close(&h);

    /* A cap of zero: the first non-empty write stops the guest. */
    c.stdout_cap = 0;
    wh_open(&h, "wasi_proxy", &c);
    assert_int_equal(write_fd(&h, 1, "", NULL), E_OK);
    write_fd(&h, 1, "x", NULL);
    assert_true(h.trapped);
    assert_int_equal(h.w->out.len, 0);
    wh_close(&h);
}

static void test_stdin_and_streams(void **state)
{
    (void)state;
    static const char in[] = "abcdefghij";
    nc_wasi_config c = cfg_plain();
    c.stdin_data = (const uint8_t *)in;
    c.stdin_len = 10;
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    /* two iovecs: 3 bytes then 4 */
    wh_put_u32(&h, IOV, BUF);
    wh_put_u32(&h, IOV + 4, 3);
    wh_put_u32(&h, IOV + 8, BUF + 100);
    wh_put_u32(&h, IOV + 12, 4);
    assert_int_equal(WH_CALL(&h, "x_fd_read", WH_I32(0), WH_I32(IOV), WH_I32(2), WH_I32(OUT)), 0);
    assert_int_equal(wh_u32(&h, OUT), 7);
    char got[8];
    wh_get(&h, BUF, got, 3);
    assert_memory_equal(got, "abc", 3);
    wh_get(&h, BUF + 100, got, 4);
    assert_memory_equal(got, "defg", 4);
    char rest[16];
    assert_int_equal(read_fd(&h, 0, rest, sizeof rest), E_OK);
    assert_string_equal(rest, "hij");
    assert_int_equal(read_fd(&h, 0, rest, sizeof rest), E_OK);   /* EOF, never blocks */
    assert_string_equal(rest, "");

    assert_int_equal(read_fd(&h, 1, rest, sizeof rest), E_BADF);
    assert_int_equal(write_fd(&h, 0, "x", NULL), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_fd_pread", WH_I32(0), WH_I32(IOV), WH_I32(1), WH_I64(0),
                             WH_I32(OUT)),
                     E_SPIPE);
    assert_int_equal(WH_CALL(&h, "x_fd_seek", WH_I32(1), WH_I64(0), WH_I32(0), WH_I32(OUT)),
                     E_SPIPE);
    assert_int_equal(WH_CALL(&h, "x_fd_tell", WH_I32(2), WH_I32(OUT)), E_SPIPE);
    assert_int_equal(WH_CALL(&h, "x_fd_sync", WH_I32(1)), E_BADF);   /* only files sync */

    /* fdstat: stdin readable, stdout writable, neither seekable nor a tty */
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_get", WH_I32(0), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u16(&h, OUT) & 0xff, 0);
    assert_true(wh_u64(&h, OUT + 8) & R_FD_READ);
    assert_false(wh_u64(&h, OUT + 8) & (R_FD_WRITE | R_FD_SEEK | R_FD_TELL));
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_get", WH_I32(1), WH_I32(OUT)), E_OK);
    assert_true(wh_u64(&h, OUT + 8) & R_FD_WRITE);
    assert_int_equal(WH_CALL(&h, "x_fd_filestat_get", WH_I32(1), WH_I32(BUF)), E_OK);
    assert_int_equal(wh_u64(&h, BUF + 24), 0);   /* no host inode: no links, as in Wasmtime */
    /* flags change on files only, as in Wasmtime */
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_set_flags", WH_I32(1), WH_I32(4)), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_set_flags", WH_I32(0), WH_I32(1)), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_set_flags", WH_I32(1), WH_I32(0x20)), E_INVAL);

    /* a closed stream stays closed */
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(1)), E_OK);
    assert_int_equal(write_fd(&h, 1, "x", NULL), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(1)), E_BADF);
    assert_int_equal(h.w->out.len, 0);
    wh_close(&h);
}

static void test_args_env(void **state)
{
    (void)state;
    const char *args[] = {"prog", "hello world", "x"};
    const char *env[] = {"A=1", "EMPTY="};
    nc_wasi_config c = cfg_plain();
    c.args = args;
    c.nargs = 3;
    c.env = env;
    c.nenv = 2;
    wh h;
    wh_open(&h, "wasi_args", &c);
    WH_CALL0(&h, "_start");
    assert_false(h.trapped);
    const char want[] = "prog\nhello world\nx\nA=1\nEMPTY=\n";
    assert_int_equal(h.w->out.len, strlen(want));
    assert_memory_equal(h.w->out.data, want, strlen(want));
    wh_close(&h);

    /* sizes through the proxy */
    wh_open(&h, "wasi_proxy", &c);
    assert_int_equal(WH_CALL(&h, "x_args_sizes_get", WH_I32(OUT), WH_I32(OUT + 4)), E_OK);
    assert_int_equal(wh_u32(&h, OUT), 3);
    assert_int_equal(wh_u32(&h, OUT + 4), 5 + 12 + 2);
    assert_int_equal(WH_CALL(&h, "x_environ_sizes_get", WH_I32(OUT), WH_I32(OUT + 4)), E_OK);
    assert_int_equal(wh_u32(&h, OUT), 2);
    assert_int_equal(wh_u32(&h, OUT + 4), 4 + 7);
    assert_int_equal(WH_CALL(&h, "x_args_get", WH_I32(OUT), WH_I32(BUF)), E_OK);
    assert_int_equal(wh_u32(&h, OUT), BUF);
    assert_int_equal(wh_u32(&h, OUT + 4), BUF + 5);
    assert_int_equal(wh_u32(&h, OUT + 8), BUF + 17);
    char s[16];
    wh_get(&h, BUF + 5, s, 12);
    assert_string_equal(s, "hello world");
    wh_close(&h);

    /* no args, no env */
    c = cfg_plain();
    wh_open(&h, "wasi_args", &c);
    WH_CALL0(&h, "_start");
    assert_false(h.trapped);
    assert_int_equal(h.w->out.len, 0);
    wh_close(&h);
}

/* The call must stop the guest with the bad-pointer trap. The harness can
 * call on after a trap; the stop reason is reset for the next check. */
#define ASSERT_FAULT(h, ...)                                                          \
    do {                                                                              \
        (h)->w->stop = NC_WASI_STOP_NONE;                                             \
        assert_int_equal(WH_CALL(h, __VA_ARGS__), -1);                                \
        assert_true((h)->trapped);                                                    \
        assert_int_equal((h)->w->stop, NC_WASI_STOP_FAULT);                           \
        assert_non_null(strstr((h)->trap, "out of bounds or misaligned"));            \
        (h)->w->stop = NC_WASI_STOP_NONE;                                             \
    } while (0)

/* Every guest pointer is bounds-checked by subtraction: pointers near 4 GiB
 * that would wrap if added, ranges just past the end and misaligned pointers
 * stop the guest with a trap, as the witx requires ("If an out-of-bounds
 * pointer is passed to a function and the function needs to dereference it,
 * the function shall trap"), and change nothing. */
static void test_efault(void **state)
{
    tmpdirs *t = *state;
    static const char in[] = "stdin!";
    const char *args[] = {"prog"};
    nc_wasi_config c = cfg_dirs(t);
    c.stdin_data = (const uint8_t *)in;
    c.stdin_len = 6;
    c.args = args;
    c.nargs = 1;
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    size_t len;
    wh_mem(&h, &len);
    assert_int_equal(len, MEMSZ);

    /* iovec array */
    ASSERT_FAULT(&h, "x_fd_write", WH_I32(1), WH_I32(0xfffffff8), WH_I32(1), WH_I32(OUT));
    ASSERT_FAULT(&h, "x_fd_write", WH_I32(1), WH_I32(MEMSZ - 4), WH_I32(1), WH_I32(OUT));
    assert_int_equal(WH_CALL(&h, "x_fd_write", WH_I32(1), WH_I32(IOV), WH_I32(0x20000000), WH_I32(OUT)), E_INVAL);
    assert_int_equal(WH_CALL(&h, "x_fd_write", WH_I32(1), WH_I32(IOV), WH_I32(NC_WASI_MAX_IOVS + 1), WH_I32(OUT)), E_INVAL);
    /* iovec buffers */
    wh_put_u32(&h, IOV, 0xfffffff0);
    wh_put_u32(&h, IOV + 4, 0x20);
    ASSERT_FAULT(&h, "x_fd_write", WH_I32(1), WH_I32(IOV), WH_I32(1), WH_I32(OUT));
    wh_put_u32(&h, IOV, MEMSZ - 10);
    wh_put_u32(&h, IOV + 4, 11);
    ASSERT_FAULT(&h, "x_fd_write", WH_I32(1), WH_I32(IOV), WH_I32(1), WH_I32(OUT));
    /* the second of two iovecs is bad: nothing is written at all */
    wh_put_u32(&h, IOV, BUF);
    wh_put_u32(&h, IOV + 4, 4);
    wh_put_u32(&h, IOV + 8, MEMSZ);
    wh_put_u32(&h, IOV + 12, 1);
    ASSERT_FAULT(&h, "x_fd_write", WH_I32(1), WH_I32(IOV), WH_I32(2), WH_I32(OUT));
    /* result pointer */
    ASSERT_FAULT(&h, "x_fd_write", WH_I32(1), WH_I32(IOV), WH_I32(1), WH_I32(MEMSZ - 3));
    assert_int_equal(h.w->out.len, 0);
    /* the very end with length zero is fine */
    wh_put_u32(&h, IOV, MEMSZ);
    wh_put_u32(&h, IOV + 4, 0);
    assert_int_equal(WH_CALL(&h, "x_fd_write", WH_I32(1), WH_I32(IOV), WH_I32(1), WH_I32(MEMSZ - 4)), E_OK);
    /* a bad read buffer consumes no stdin */
    wh_put_u32(&h, IOV, 0xffffff00);
    wh_put_u32(&h, IOV + 4, 0x200);
    ASSERT_FAULT(&h, "x_fd_read", WH_I32(0), WH_I32(IOV), WH_I32(1), WH_I32(OUT));
    char s[16];
    assert_int_equal(read_fd(&h, 0, s, sizeof s), E_OK);
    assert_string_equal(s, "stdin!");

    ASSERT_FAULT(&h, "x_args_sizes_get", WH_I32(0xffffffff), WH_I32(OUT));
    ASSERT_FAULT(&h, "x_args_sizes_get", WH_I32(OUT), WH_I32(MEMSZ - 2));
    ASSERT_FAULT(&h, "x_args_get", WH_I32(MEMSZ - 2), WH_I32(BUF));
    ASSERT_FAULT(&h, "x_args_get", WH_I32(OUT), WH_I32(MEMSZ - 3));
    /* with nothing to write the pointers are never used (as in Wasmtime) */
    assert_int_equal(WH_CALL(&h, "x_environ_get", WH_I32(0xfffffffc), WH_I32(0xfffffffc)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_environ_get", WH_I32(MEMSZ), WH_I32(MEMSZ)), E_OK);
    ASSERT_FAULT(&h, "x_clock_time_get", WH_I32(1), WH_I64(0), WH_I32(MEMSZ - 4));
    assert_int_equal(WH_CALL(&h, "x_clock_time_get", WH_I32(1), WH_I64(0), WH_I32(MEMSZ - 8)), E_OK);
    ASSERT_FAULT(&h, "x_clock_res_get", WH_I32(0), WH_I32(0xfffffff9));
    ASSERT_FAULT(&h, "x_random_get", WH_I32(MEMSZ - 50), WH_I32(100));
    ASSERT_FAULT(&h, "x_random_get", WH_I32(0xffffff00), WH_I32(0x200));
    assert_int_equal(WH_CALL(&h, "x_random_get", WH_I32(MEMSZ), WH_I32(0)), E_OK);
    ASSERT_FAULT(&h, "x_path_open", WH_I32(3), WH_I32(0), WH_I32(0xfffffffe), WH_I32(4), WH_I32(0), WH_I64(R_FD_READ), WH_I64(0), WH_I32(0), WH_I32(OUT));
    uint32_t plen = wh_str(&h, PATH, "x");
    ASSERT_FAULT(&h, "x_path_open", WH_I32(3), WH_I32(0), WH_I32(PATH), WH_I32(plen), WH_I32(O_CREAT_), WH_I64(R_RW_FILE), WH_I64(0), WH_I32(0), WH_I32(MEMSZ - 2));
    assert_false(exists(t->data, "x"));   /* checked before anything is created */
    ASSERT_FAULT(&h, "x_fd_prestat_get", WH_I32(3), WH_I32(MEMSZ - 7));
    ASSERT_FAULT(&h, "x_fd_prestat_dir_name", WH_I32(3), WH_I32(0xffffffff), WH_I32(10));
    ASSERT_FAULT(&h, "x_fd_fdstat_get", WH_I32(3), WH_I32(MEMSZ - 23));
    ASSERT_FAULT(&h, "x_fd_filestat_get", WH_I32(1), WH_I32(MEMSZ - 63));
    ASSERT_FAULT(&h, "x_fd_readdir", WH_I32(3), WH_I32(MEMSZ - 100), WH_I32(1000), WH_I64(0), WH_I32(OUT));
    ASSERT_FAULT(&h, "x_fd_readdir", WH_I32(3), WH_I32(BUF), WH_I32(100), WH_I64(0), WH_I32(0xfffffffd));
    ASSERT_FAULT(&h, "x_poll_oneoff", WH_I32(0), WH_I32(BUF), WH_I32(0x10000000), WH_I32(OUT));
    ASSERT_FAULT(&h, "x_poll_oneoff", WH_I32(BUF), WH_I32(MEMSZ - 31), WH_I32(1), WH_I32(OUT));
    ASSERT_FAULT(&h, "x_path_filestat_get", WH_I32(3), WH_I32(0), WH_I32(PATH), WH_I32(1), WH_I32(MEMSZ - 8));
    ASSERT_FAULT(&h, "x_path_readlink", WH_I32(3), WH_I32(PATH), WH_I32(1), WH_I32(MEMSZ), WH_I32(1), WH_I32(OUT));
    ASSERT_FAULT(&h, "x_path_create_directory", WH_I32(3), WH_I32(MEMSZ - 1), WH_I32(2));
    ASSERT_FAULT(&h, "x_path_symlink", WH_I32(0xfffffff0), WH_I32(0x20), WH_I32(3), WH_I32(PATH), WH_I32(1));
    assert_int_equal(WH_CALL(&h, "x_fd_seek", WH_I32(0), WH_I64(0), WH_I32(0), WH_I32(MEMSZ - 7)), E_SPIPE);
    /* misaligned: results and structures must sit at their natural alignment */
    ASSERT_FAULT(&h, "x_fd_write", WH_I32(1), WH_I32(IOV + 2), WH_I32(1), WH_I32(OUT));
    ASSERT_FAULT(&h, "x_fd_write", WH_I32(1), WH_I32(IOV), WH_I32(1), WH_I32(OUT + 1));
    ASSERT_FAULT(&h, "x_args_sizes_get", WH_I32(OUT + 2), WH_I32(OUT2));
    ASSERT_FAULT(&h, "x_clock_time_get", WH_I32(1), WH_I64(0), WH_I32(OUT + 4));
    ASSERT_FAULT(&h, "x_fd_fdstat_get", WH_I32(1), WH_I32(OUT + 4));
    ASSERT_FAULT(&h, "x_fd_filestat_get", WH_I32(1), WH_I32(BUF + 4));
    ASSERT_FAULT(&h, "x_fd_prestat_get", WH_I32(3), WH_I32(OUT + 2));
    ASSERT_FAULT(&h, "x_poll_oneoff", WH_I32(BUF + 4), WH_I32(EVENTS), WH_I32(1), WH_I32(OUT));
    assert_int_equal(h.w->out.len, 0);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_get", WH_I32(1), WH_I32(OUT)), E_OK);
    assert_false(h.trapped);
    assert_int_equal(h.w->stop, NC_WASI_STOP_NONE);
    assert_int_equal(h.w->denied_total, 0);
    wh_close(&h);

    /* no memory export at all: nothing to point into */
    c = cfg_plain();
    wh_open(&h, "wasi_nomem", &c);
    ASSERT_FAULT(&h, "try");
    assert_int_equal(h.w->calls[NC_WASI_FN_fd_write], 1);
    wh_close(&h);
}

static void test_path_arguments(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    wh_put(&h, PATH, "a\0b", 3);   /* embedded NUL */
    assert_int_equal(WH_CALL(&h, "x_path_open", WH_I32(3), WH_I32(0), WH_I32(PATH), WH_I32(3), WH_I32(0), WH_I64(R_FD_READ), WH_I64(0), WH_I32(0), WH_I32(OUT)), E_INVAL);
    static char longp[NC_WASI_MAX_PATH + 2];
    memset(longp, 'a', sizeof longp - 1);
    wh_put(&h, BUF, longp, NC_WASI_MAX_PATH + 1);
    assert_int_equal(WH_CALL(&h, "x_path_open", WH_I32(3), WH_I32(0), WH_I32(BUF), WH_I32(NC_WASI_MAX_PATH + 1), WH_I32(0), WH_I64(R_FD_READ), WH_I64(0), WH_I32(0), WH_I32(OUT)), E_NAMETOOLONG);
    assert_int_equal(WH_CALL(&h, "x_path_create_directory", WH_I32(3), WH_I32(BUF), WH_I32(NC_WASI_MAX_PATH + 1)), E_NAMETOOLONG);
    assert_int_equal(open_at(&h, 3, 0, "", 0, R_FD_READ, 0, NULL), E_NOENT);
    assert_int_equal(path1(&h, "x_path_create_directory", 3, ""), E_NOENT);
    assert_int_equal(open_at(&h, 3, 0, "x", 0x10, R_FD_READ, 0, NULL), E_INVAL);   /* unknown oflag */
    assert_int_equal(open_at(&h, 3, 0, "x", 0, R_FD_READ, 0x20, NULL), E_INVAL);   /* unknown fdflag */
    assert_int_equal(open_at(&h, 3, 2, "x", 0, R_FD_READ, 0, NULL), E_INVAL);      /* unknown lookupflag */
    assert_int_equal(h.w->denied_total, 0);
    wh_close(&h);
}

static void test_ro_read_allowed(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    /* preopen discovery */
    assert_int_equal(WH_CALL(&h, "x_fd_prestat_get", WH_I32(4), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u32(&h, OUT) & 0xff, 0);
    assert_int_equal(wh_u32(&h, OUT + 4), 3);
    assert_int_equal(WH_CALL(&h, "x_fd_prestat_dir_name", WH_I32(4), WH_I32(BUF), WH_I32(3)), E_OK);
    char name[8] = {0};
    wh_get(&h, BUF, name, 3);
    assert_string_equal(name, "/ro");
    assert_int_equal(WH_CALL(&h, "x_fd_prestat_dir_name", WH_I32(4), WH_I32(BUF), WH_I32(2)), E_NAMETOOLONG);
    assert_int_equal(WH_CALL(&h, "x_fd_prestat_get", WH_I32(5), WH_I32(OUT)), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_fd_prestat_get", WH_I32(1), WH_I32(OUT)), E_BADF);

    /* a read-only directory grants and passes on no write right */
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_get", WH_I32(4), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u16(&h, OUT) & 0xff, 3);
    uint64_t base = wh_u64(&h, OUT + 8), inh = wh_u64(&h, OUT + 16);
    assert_int_equal(base & R_WRITES, 0);
    assert_int_equal(inh & R_WRITES, 0);
    assert_true(inh & R_FD_READ);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_get", WH_I32(3), WH_I32(OUT)), E_OK);
    assert_true(wh_u64(&h, OUT + 16) & R_FD_WRITE);   /* the rw one does */

    /* what wasi-libc's open(O_RDONLY) asks for: every right it may have, minus writes */
    uint64_t libc_ro = ~(R_FD_DATASYNC | R_FD_WRITE | R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE) & inh;
    uint32_t fd;
    assert_int_equal(open_at(&h, 4, FOLLOW, "hello.txt", 0, libc_ro, 0, &fd), E_OK);
    assert_int_equal(fd, 5);
    char got[64];
    assert_int_equal(read_fd(&h, fd, got, sizeof got), E_OK);
    assert_string_equal(got, "hello from ro\n");
    assert_int_equal(WH_CALL(&h, "x_fd_seek", WH_I32(fd), WH_I64(-3), WH_I32(2), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u64(&h, OUT), 11);
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(fd)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(fd)), E_BADF);

    /* what Rust's std asks for on File::open: includes set_times and sync,
     * tolerated but set_times is not granted */
    uint64_t rust_ro = R_FD_READ | R_FD_READDIR | R_FD_ADVISE | (1ull << 3) |
                       R_FD_FILESTAT_GET | R_FD_FILESTAT_SET_TIMES | R_FD_SEEK | R_FD_SYNC |
                       R_FD_TELL;
    assert_int_equal(open_at(&h, 4, FOLLOW, "hello.txt", 0, rust_ro, 0, &fd), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_get", WH_I32(fd), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u16(&h, OUT) & 0xff, 4);
    assert_int_equal(wh_u64(&h, OUT + 8) & R_FD_FILESTAT_SET_TIMES, 0);
    assert_true(wh_u64(&h, OUT + 8) & R_FD_READ);
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(fd)), E_OK);

    /* a subdirectory, and a file in it */
    uint32_t sub;
    /* (the same rights are asked for as base and inheriting: FD_READ is
     * passed on to the file, and not kept by the directory) */
    assert_int_equal(open_at(&h, 4, FOLLOW, "sub", O_DIRECTORY_, R_FD_READDIR | R_PATH_OPEN | R_FD_READ, 0, &sub), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_get", WH_I32(sub), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u64(&h, OUT + 8), R_FD_READDIR | R_PATH_OPEN);
    assert_int_equal(open_at(&h, sub, FOLLOW, "inner.txt", 0, R_FD_READ, 0, &fd), E_OK);
    assert_int_equal(read_fd(&h, fd, got, sizeof got), E_OK);
    assert_string_equal(got, "inner\n");
    assert_int_equal(stat_at(&h, 4, FOLLOW, "hello.txt"), E_OK);
    assert_int_equal(wh_u64(&h, BUF + 32), 14);
    assert_int_equal(wh_u32(&h, BUF + 16) & 0xff, 4);
    assert_int_equal(stat_at(&h, 4, 0, "sub/"), E_OK);
    assert_int_equal(wh_u32(&h, BUF + 16) & 0xff, 3);
    assert_int_equal(h.w->denied_total, 0);
    wh_close(&h);
}

static void test_ro_writes_denied(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    uint32_t n = 0;
    assert_int_equal(open_at(&h, 4, FOLLOW, "new.txt", O_CREAT_, R_RW_FILE, 0, NULL), E_NOTCAPABLE);
    assert_denial(h.w, n++, NC_WASI_FN_path_open, NC_DENY_READONLY, "new.txt");
    assert_false(exists(t->ro, "new.txt"));
    assert_int_equal(open_at(&h, 4, FOLLOW, "new.txt", O_CREAT_, R_FD_READ, 0, NULL), E_NOTCAPABLE);
    n++;
    assert_false(exists(t->ro, "new.txt"));
    assert_int_equal(open_at(&h, 4, FOLLOW, "hello.txt", O_TRUNC_, R_FD_READ, 0, NULL), E_NOTCAPABLE);
    n++;
    /* O_EXCL without O_CREAT changes nothing (Linux and Wasmtime ignore it) */
    uint32_t ex;
    assert_int_equal(open_at(&h, 4, FOLLOW, "hello.txt", O_EXCL_, R_FD_READ, 0, &ex), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(ex)), E_OK);
    assert_int_equal(open_at(&h, 4, FOLLOW, "hello.txt", 0, R_FD_READ | R_FD_WRITE, 0, NULL), E_NOTCAPABLE);
    n++;
    assert_int_equal(open_at(&h, 4, FOLLOW, "hello.txt", 0, R_FD_READ, FDF_APPEND, NULL), E_NOTCAPABLE);
    n++;
    /* write rights other than FD_WRITE are simply not granted (Go asks for
     * them on every read-only open) */
    assert_int_equal(open_at(&h, 4, FOLLOW, "sub", O_DIRECTORY_, R_FD_READDIR | R_PATH_CREATE_FILE, 0, &ex), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_get", WH_I32(ex), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u64(&h, OUT + 8), R_FD_READDIR);
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(ex)), E_OK);
    assert_int_equal(path1(&h, "x_path_create_directory", 4, "newdir"), E_NOTCAPABLE);
    assert_denial(h.w, n++, NC_WASI_FN_path_create_directory, NC_DENY_READONLY, "newdir");
    assert_int_equal(path1(&h, "x_path_unlink_file", 4, "hello.txt"), E_NOTCAPABLE);
    n++;
    assert_int_equal(path1(&h, "x_path_remove_directory", 4, "sub"), E_NOTCAPABLE);
    n++;
    assert_int_equal(rename_at(&h, 4, "hello.txt", 4, "moved.txt"), E_NOTCAPABLE);
    n++;
    assert_int_equal(rename_at(&h, 3, "whatever", 4, "moved.txt"), E_NOTCAPABLE);   /* into ro */
    n++;
    assert_int_equal(symlink_at(&h, "hello.txt", 4, "lnk"), E_NOTCAPABLE);
    n++;
    assert_int_equal(link_at(&h, 4, 0, "hello.txt", 4, "h2"), E_NOTCAPABLE);
    n++;
    /* linking out of the ro tree would make its file writable through data/ */
    assert_int_equal(link_at(&h, 4, 0, "hello.txt", 3, "h2"), E_NOTCAPABLE);
    assert_denial(h.w, n++, NC_WASI_FN_path_link, NC_DENY_READONLY, "hello.txt");
    assert_false(exists(t->data, "h2"));
    uint32_t len = wh_str(&h, PATH, "hello.txt");
    assert_int_equal(WH_CALL(&h, "x_path_filestat_set_times", WH_I32(4), WH_I32(0), WH_I32(PATH), WH_I32(len), WH_I64(0), WH_I64(0), WH_I32(2 | 8)), E_NOTCAPABLE);
    n++;

    /* writes through a descriptor opened for reading */
    uint32_t fd;
    assert_int_equal(open_at(&h, 4, FOLLOW, "hello.txt", 0, R_READ_FILE, 0, &fd), E_OK);
    assert_int_equal(write_fd(&h, fd, "pwned", NULL), E_NOTCAPABLE);
    assert_denial(h.w, n++, NC_WASI_FN_fd_write, NC_DENY_READONLY, "fd 5");
    assert_int_equal(WH_CALL(&h, "x_fd_pwrite", WH_I32(fd), WH_I32(IOV), WH_I32(1), WH_I64(0), WH_I32(OUT)), E_NOTCAPABLE);
    n++;
    assert_int_equal(WH_CALL(&h, "x_fd_allocate", WH_I32(fd), WH_I64(0), WH_I64(4096)), E_NOTCAPABLE);
    n++;
    assert_int_equal(WH_CALL(&h, "x_fd_filestat_set_size", WH_I32(fd), WH_I64(0)), E_NOTCAPABLE);
    n++;
    assert_int_equal(WH_CALL(&h, "x_fd_filestat_set_times", WH_I32(fd), WH_I64(0), WH_I64(0), WH_I32(2)), E_NOTCAPABLE);
    n++;
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_set_flags", WH_I32(fd), WH_I32(FDF_APPEND)), E_NOTCAPABLE);
    n++;
    assert_int_equal(WH_CALL(&h, "x_fd_filestat_set_times", WH_I32(4), WH_I64(0), WH_I64(0), WH_I32(2)), E_NOTCAPABLE);
    n++;
    /* a directory opened beneath the ro preopen is read-only too */
    uint32_t sub;
    assert_int_equal(open_at(&h, 4, FOLLOW, "sub", O_DIRECTORY_, R_FD_READDIR, 0, &sub), E_OK);
    assert_int_equal(path1(&h, "x_path_unlink_file", sub, "inner.txt"), E_NOTCAPABLE);
    n++;
    assert_int_equal(open_at(&h, sub, FOLLOW, "n", O_CREAT_, R_FD_READ, 0, NULL), E_NOTCAPABLE);
    n++;

    char got[64];
    assert_int_equal(read_file(t->ro, "hello.txt", got, sizeof got), 14);
    assert_string_equal(got, "hello from ro\n");
    assert_true(exists(t->ro, "sub/inner.txt"));
    assert_int_equal(h.w->denied_total, n);
    for (uint32_t i = 0; i < h.w->ndenied; i++)
        assert_int_equal(h.w->denied[i].reason, NC_DENY_READONLY);
    wh_close(&h);
}

static void test_escape_dotdot(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    char p[256];
    snprintf(p, sizeof p, "%s/a", t->data);
    assert_int_equal(mkdir(p, 0755), 0);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    uint32_t n = 0;
    assert_int_equal(open_at(&h, 3, FOLLOW, "../outside.txt", 0, R_FD_READ, 0, NULL), E_NOTCAPABLE);
    assert_denial(h.w, n++, NC_WASI_FN_path_open, NC_DENY_ESCAPE, "../outside.txt");
    assert_int_equal(open_at(&h, 3, FOLLOW, "a/../../outside.txt", 0, R_FD_READ, 0, NULL), E_NOTCAPABLE);
    assert_denial(h.w, n++, NC_WASI_FN_path_open, NC_DENY_ESCAPE, "a/../../outside.txt");
    assert_int_equal(open_at(&h, 3, FOLLOW, "..", O_DIRECTORY_, R_FD_READDIR, 0, NULL), E_NOTCAPABLE);
    n++;
    assert_int_equal(open_at(&h, 3, FOLLOW, "../ro/hello.txt", 0, R_FD_READ, 0, NULL), E_NOTCAPABLE);
    n++;
    assert_int_equal(stat_at(&h, 3, 0, ".."), E_NOTCAPABLE);
    assert_denial(h.w, n++, NC_WASI_FN_path_filestat_get, NC_DENY_ESCAPE, "..");
    assert_int_equal(stat_at(&h, 3, 0, "a/../.."), E_NOTCAPABLE);
    n++;
    assert_int_equal(path1(&h, "x_path_create_directory", 3, "../evil"), E_NOTCAPABLE);
    assert_denial(h.w, n++, NC_WASI_FN_path_create_directory, NC_DENY_ESCAPE, "../evil");
    assert_false(exists(t->root, "evil"));
    assert_int_equal(path1(&h, "x_path_unlink_file", 3, "../outside.txt"), E_NOTCAPABLE);
    n++;
    assert_int_equal(path1(&h, "x_path_remove_directory", 3, "../ro"), E_NOTCAPABLE);
    n++;
    assert_int_equal(path1(&h, "x_path_remove_directory", 3, ".."), E_NOTCAPABLE);
    n++;
    assert_int_equal(rename_at(&h, 3, "a", 3, "../moved"), E_NOTCAPABLE);
    n++;
    assert_int_equal(rename_at(&h, 3, "../outside.txt", 3, "stolen"), E_NOTCAPABLE);
    n++;
    assert_int_equal(link_at(&h, 3, 0, "../outside.txt", 3, "stolen"), E_NOTCAPABLE);
    n++;
    char lnk[64];
    assert_int_equal(readlink_at(&h, 3, "../x", 64, lnk), E_NOTCAPABLE);
    n++;
    assert_true(exists(t->root, "outside.txt"));
    assert_false(exists(t->data, "stolen"));
    assert_true(exists(t->data, "a"));
    /* staying inside with ".." is fine */
    assert_int_equal(open_at(&h, 3, FOLLOW, "a/../a/..", O_DIRECTORY_, R_FD_READDIR, 0, NULL), E_OK);
    assert_int_equal(stat_at(&h, 3, 0, "."), E_OK);
    /* a relative symlink that climbs out is refused when followed */
    assert_int_equal(symlink_at(&h, "../..", 3, "up"), E_OK);
    assert_int_equal(open_at(&h, 3, FOLLOW, "up/outside.txt", 0, R_FD_READ, 0, NULL), E_NOTCAPABLE);
    assert_denial(h.w, n++, NC_WASI_FN_path_open, NC_DENY_ESCAPE, "up/outside.txt");
    assert_int_equal(h.w->denied_total, n);
    wh_close(&h);
}

static void test_escape_symlink(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    char p[256];
    snprintf(p, sizeof p, "%s/link_etc", t->data);
    assert_int_equal(symlink("/etc", p), 0);
    snprintf(p, sizeof p, "%s/pw", t->data);
    assert_int_equal(symlink("/etc/passwd", p), 0);
    snprintf(p, sizeof p, "%s/up", t->data);
    assert_int_equal(symlink("..", p), 0);
    char target[256];
    snprintf(target, sizeof target, "%s/made-through-link", t->root);
    snprintf(p, sizeof p, "%s/dangling", t->data);
    assert_int_equal(symlink(target, p), 0);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    uint32_t n = 0;
    assert_int_equal(open_at(&h, 3, FOLLOW, "link_etc/passwd", 0, R_FD_READ, 0, NULL), E_NOTCAPABLE);
    assert_denial(h.w, n++, NC_WASI_FN_path_open, NC_DENY_ESCAPE, "link_etc/passwd");
    assert_int_equal(open_at(&h, 3, FOLLOW, "link_etc", O_DIRECTORY_, R_FD_READDIR, 0, NULL), E_NOTCAPABLE);
    n++;
    assert_int_equal(open_at(&h, 3, FOLLOW, "pw", 0, R_FD_READ, 0, NULL), E_NOTCAPABLE);
    n++;
    assert_int_equal(open_at(&h, 3, FOLLOW, "up/outside.txt", 0, R_FD_READ, 0, NULL), E_NOTCAPABLE);
    n++;
    assert_int_equal(open_at(&h, 3, FOLLOW, "up/data/pw", 0, R_FD_READ, 0, NULL), E_NOTCAPABLE);
    n++;
    /* creating through the link: nothing may appear under /etc or next to data/ */
    assert_int_equal(open_at(&h, 3, FOLLOW, "up/created.txt", O_CREAT_, R_RW_FILE, 0, NULL), E_NOTCAPABLE);
    n++;
    assert_false(exists(t->root, "created.txt"));
    assert_int_equal(path1(&h, "x_path_create_directory", 3, "up/evil"), E_NOTCAPABLE);
    n++;
    assert_false(exists(t->root, "evil"));
    /* a dangling link whose target is outside: O_CREAT must not create the target */
    assert_int_equal(open_at(&h, 3, FOLLOW, "dangling", O_CREAT_, R_RW_FILE, 0, NULL), E_NOTCAPABLE);
    n++;
    assert_false(exists(t->root, "made-through-link"));
    /* not followed: the link itself, inside, is fine */
    assert_int_equal(open_at(&h, 3, 0, "link_etc", 0, R_FD_READ, 0, NULL), E_LOOP);
    assert_int_equal(stat_at(&h, 3, FOLLOW, "link_etc"), E_NOTCAPABLE);
    n++;
    assert_int_equal(stat_at(&h, 3, 0, "link_etc/"), E_NOTCAPABLE);   /* a trailing slash follows */
    n++;
    assert_int_equal(stat_at(&h, 3, 0, "link_etc"), E_OK);
    assert_int_equal(wh_u32(&h, BUF + 16) & 0xff, 7);
    char lnk[64];
    assert_int_equal(readlink_at(&h, 3, "link_etc", 64, lnk), E_OK);
    assert_string_equal(lnk, "/etc");
    assert_int_equal(readlink_at(&h, 3, "link_etc/", 64, lnk), E_NOTCAPABLE);
    n++;
    /* a hard link to what the symlink points at would be a copy of /etc/passwd */
    assert_int_equal(link_at(&h, 3, FOLLOW, "pw", 3, "pw2"), E_INVAL);
    assert_int_equal(link_at(&h, 3, 0, "pw", 3, "pw2"), E_OK);   /* links the symlink itself */
    assert_int_equal(stat_at(&h, 3, 0, "pw2"), E_OK);
    assert_int_equal(wh_u32(&h, BUF + 16) & 0xff, 7);
    assert_int_equal(path1(&h, "x_path_unlink_file", 3, "link_etc"), E_OK);   /* the link, not /etc */
    assert_false(exists(t->data, "link_etc"));
    struct stat st;
    assert_int_equal(stat("/etc/passwd", &st), 0);
    assert_int_equal(h.w->denied_total, n);
    for (uint32_t i = 0; i < h.w->ndenied; i++)
        assert_int_equal(h.w->denied[i].reason, NC_DENY_ESCAPE);
    wh_close(&h);
}

static void test_escape_absolute(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    assert_int_equal(open_at(&h, 3, FOLLOW, "/etc/passwd", 0, R_FD_READ, 0, NULL), E_NOTCAPABLE);
    assert_denial(h.w, 0, NC_WASI_FN_path_open, NC_DENY_ESCAPE, "/etc/passwd");
    assert_int_equal(stat_at(&h, 3, 0, "/"), E_NOTCAPABLE);
    assert_int_equal(stat_at(&h, 3, 0, "/etc"), E_NOTCAPABLE);
    assert_int_equal(path1(&h, "x_path_create_directory", 3, "/tmp/nc-wasi-evil"), E_NOTCAPABLE);
    assert_false(exists("/tmp", "nc-wasi-evil"));
    assert_int_equal(path1(&h, "x_path_unlink_file", 3, "//etc/passwd"), E_NOTCAPABLE);
    assert_int_equal(symlink_at(&h, "/etc", 3, "abs"), E_NOTCAPABLE);
    assert_denial(h.w, 5, NC_WASI_FN_path_symlink, NC_DENY_ESCAPE, "/etc");
    assert_false(exists(t->data, "abs"));
    assert_int_equal(h.w->denied_total, 6);
    wh_close(&h);
}

static void test_no_preopen(void **state)
{
    (void)state;
    nc_wasi_config c = cfg_plain();
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    assert_int_equal(WH_CALL(&h, "x_fd_prestat_get", WH_I32(3), WH_I32(OUT)), E_BADF);
    assert_int_equal(h.w->denied_total, 0);   /* probing for preopens is not a refusal */
    assert_int_equal(open_at(&h, 3, FOLLOW, "etc/passwd", 0, R_FD_READ, 0, NULL), E_BADF);
    assert_denial(h.w, 0, NC_WASI_FN_path_open, NC_DENY_NO_PREOPEN, "fd 3");
    assert_int_equal(stat_at(&h, 3, 0, "x"), E_BADF);
    assert_denial(h.w, 1, NC_WASI_FN_path_filestat_get, NC_DENY_NO_PREOPEN, "fd 3");
    assert_int_equal(path1(&h, "x_path_create_directory", 7, "x"), E_BADF);
    assert_denial(h.w, 2, NC_WASI_FN_path_create_directory, NC_DENY_NO_PREOPEN, "fd 7");
    assert_int_equal(open_at(&h, 1, FOLLOW, "x", 0, R_FD_READ, 0, NULL), E_BADF);
    assert_denial(h.w, 3, NC_WASI_FN_path_open, NC_DENY_NO_PREOPEN, "fd 1");
    assert_int_equal(open_at(&h, 0xffffffff, FOLLOW, "x", 0, R_FD_READ, 0, NULL), E_BADF);
    assert_denial(h.w, 4, NC_WASI_FN_path_open, NC_DENY_NO_PREOPEN, "fd 4294967295");
    assert_int_equal(rename_at(&h, 3, "a", 3, "b"), E_BADF);
    assert_int_equal(symlink_at(&h, "a", 3, "b"), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(3)), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_fd_readdir", WH_I32(3), WH_I32(BUF), WH_I32(100), WH_I64(0), WH_I32(OUT)), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_fd_renumber", WH_I32(1), WH_I32(3)), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_get", WH_I32(64), WH_I32(OUT)), E_BADF);
    assert_int_equal(h.w->denied_total, 7);
    wh_close(&h);
}

static void test_rw_roundtrip(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    assert_int_equal(path1(&h, "x_path_create_directory", 3, "sub/"), E_OK);
    assert_int_equal(path1(&h, "x_path_create_directory", 3, "sub"), E_EXIST);
    uint32_t fd;
    assert_int_equal(open_at(&h, 3, FOLLOW, "sub/f.txt", O_CREAT_ | O_TRUNC_, R_RW_FILE, 0, &fd), E_OK);
    /* two iovecs */
    wh_str(&h, BUF, "hello, ");
    wh_str(&h, BUF + 100, "file");
    wh_put_u32(&h, IOV, BUF);
    wh_put_u32(&h, IOV + 4, 7);
    wh_put_u32(&h, IOV + 8, BUF + 100);
    wh_put_u32(&h, IOV + 12, 4);
    assert_int_equal(WH_CALL(&h, "x_fd_write", WH_I32(fd), WH_I32(IOV), WH_I32(2), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u32(&h, OUT), 11);
    assert_int_equal(WH_CALL(&h, "x_fd_tell", WH_I32(fd), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u64(&h, OUT), 11);
    assert_int_equal(WH_CALL(&h, "x_fd_seek", WH_I32(fd), WH_I64(0), WH_I32(0), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u64(&h, OUT), 0);
    assert_int_equal(WH_CALL(&h, "x_fd_seek", WH_I32(fd), WH_I64(0), WH_I32(3), WH_I32(OUT)), E_INVAL);
    char got[64];
    assert_int_equal(read_fd(&h, fd, got, sizeof got), E_OK);
    assert_string_equal(got, "hello, file");
    /* positional I/O */
    wh_str(&h, BUF, "J");
    wh_put_u32(&h, IOV, BUF);
    wh_put_u32(&h, IOV + 4, 1);
    assert_int_equal(WH_CALL(&h, "x_fd_pwrite", WH_I32(fd), WH_I32(IOV), WH_I32(1), WH_I64(0), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u32(&h, OUT), 1);
    wh_put_u32(&h, IOV + 4, 5);
    assert_int_equal(WH_CALL(&h, "x_fd_pread", WH_I32(fd), WH_I32(IOV), WH_I32(1), WH_I64(0), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u32(&h, OUT), 5);
    wh_get(&h, BUF, got, 5);
    assert_memory_equal(got, "Jello", 5);
    assert_int_equal(WH_CALL(&h, "x_fd_pread", WH_I32(fd), WH_I32(IOV), WH_I32(1), WH_I64(-1), WH_I32(OUT)), E_INVAL);
    assert_int_equal(WH_CALL(&h, "x_fd_seek", WH_I32(fd), WH_I64(-4), WH_I32(2), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u64(&h, OUT), 7);
    /* metadata */
    assert_int_equal(WH_CALL(&h, "x_fd_filestat_get", WH_I32(fd), WH_I32(BUF)), E_OK);
    assert_int_equal(wh_u64(&h, BUF + 32), 11);
    assert_int_equal(wh_u32(&h, BUF + 16) & 0xff, 4);
    assert_int_equal(WH_CALL(&h, "x_fd_filestat_set_size", WH_I32(fd), WH_I64(5)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_filestat_set_size", WH_I32(fd), WH_I64(-1)), E_INVAL);
    int32_t e = WH_CALL(&h, "x_fd_allocate", WH_I32(fd), WH_I64(0), WH_I64(5));
    assert_true(e == E_OK || e == E_NOTSUP);
    assert_int_equal(WH_CALL(&h, "x_fd_allocate", WH_I32(fd), WH_I64(0), WH_I64(0)), E_INVAL);
    assert_int_equal(WH_CALL(&h, "x_fd_datasync", WH_I32(fd)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_sync", WH_I32(fd)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_sync", WH_I32(3)), E_BADF);   /* files only, as in Wasmtime */
    assert_int_equal(WH_CALL(&h, "x_fd_advise", WH_I32(fd), WH_I64(0), WH_I64(0), WH_I32(1)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_advise", WH_I32(fd), WH_I64(0), WH_I64(0), WH_I32(6)), E_INVAL);
    assert_int_equal(WH_CALL(&h, "x_fd_filestat_set_times", WH_I32(fd), WH_I64(0), WH_I64(0), WH_I32(1 | 2)), E_INVAL);
    /* append mode, then rights that only shrink */
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_set_flags", WH_I32(fd), WH_I32(FDF_APPEND)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_get", WH_I32(fd), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u16(&h, OUT + 2), FDF_APPEND);
    assert_int_equal(write_fd(&h, fd, "!", NULL), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_set_flags", WH_I32(fd), WH_I32(2)), E_INVAL);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_set_rights", WH_I32(fd), WH_I64(R_READ_FILE), WH_I64(0)), E_OK);
    assert_int_equal(write_fd(&h, fd, "?", NULL), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_set_rights", WH_I32(fd), WH_I64(R_RW_FILE), WH_I64(0)), E_NOTCAPABLE);
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(fd)), E_OK);
    char sub[256];
    snprintf(sub, sizeof sub, "%s/sub", t->data);
    assert_int_equal(read_file(sub, "f.txt", got, sizeof got), 6);
    assert_string_equal(got, "Jello!");

    /* path metadata */
    assert_int_equal(stat_at(&h, 3, FOLLOW, "sub/f.txt"), E_OK);
    assert_int_equal(wh_u64(&h, BUF + 32), 6);
    uint32_t len = wh_str(&h, PATH, "sub/f.txt");
    assert_int_equal(WH_CALL(&h, "x_path_filestat_set_times", WH_I32(3), WH_I32(FOLLOW), WH_I32(PATH), WH_I32(len), WH_I64(1000000000000ull), WH_I64(2000000000000ull), WH_I32(1 | 4)), E_OK);
    struct stat st;
    char fp[512];
    snprintf(fp, sizeof fp, "%s/f.txt", sub);
    assert_int_equal(stat(fp, &st), 0);
    assert_int_equal(st.st_mtime, 2000);
    assert_int_equal(st.st_atime, 1000);

    /* names */
    assert_int_equal(rename_at(&h, 3, "sub/f.txt", 3, "sub/g.txt"), E_OK);
    assert_false(exists(sub, "f.txt"));
    assert_true(exists(sub, "g.txt"));
    assert_int_equal(rename_at(&h, 3, "sub/g.txt/", 3, "sub/x"), E_NOTDIR);
    assert_int_equal(symlink_at(&h, "g.txt", 3, "sub/l"), E_OK);
    char lnk[64];
    assert_int_equal(readlink_at(&h, 3, "sub/l", 64, lnk), E_OK);
    assert_string_equal(lnk, "g.txt");
    assert_int_equal(readlink_at(&h, 3, "sub/l", 2, lnk), E_OK);   /* truncated */
    assert_string_equal(lnk, "g.");
    assert_int_equal(readlink_at(&h, 3, "sub/g.txt", 64, lnk), E_INVAL);
    assert_int_equal(symlink_at(&h, "g.txt", 3, "sub/l"), E_EXIST);
    assert_int_equal(symlink_at(&h, "g.txt", 3, "sub/m/"), E_NOENT);
    assert_int_equal(link_at(&h, 3, 0, "sub/g.txt", 3, "sub/h.txt"), E_OK);
    snprintf(fp, sizeof fp, "%s/h.txt", sub);
    assert_int_equal(stat(fp, &st), 0);
    assert_int_equal(st.st_nlink, 2);
    assert_int_equal(link_at(&h, 3, 0, "sub", 3, "sub2"), E_PERM);
    assert_int_equal(path1(&h, "x_path_unlink_file", 3, "sub/g.txt/"), E_NOTDIR);
    assert_int_equal(path1(&h, "x_path_unlink_file", 3, "sub"), E_ISDIR);
    assert_int_equal(path1(&h, "x_path_remove_directory", 3, "sub"), E_NOTEMPTY);
    assert_int_equal(path1(&h, "x_path_remove_directory", 3, "sub/l"), E_NOTDIR);
    assert_int_equal(path1(&h, "x_path_remove_directory", 3, "."), E_INVAL);
    assert_int_equal(path1(&h, "x_path_unlink_file", 3, "sub/h.txt"), E_OK);
    assert_int_equal(path1(&h, "x_path_unlink_file", 3, "sub/g.txt"), E_OK);
    assert_int_equal(path1(&h, "x_path_unlink_file", 3, "sub/l"), E_OK);
    assert_int_equal(path1(&h, "x_path_unlink_file", 3, "sub/l"), E_NOENT);
    assert_int_equal(path1(&h, "x_path_remove_directory", 3, "sub/"), E_OK);
    assert_false(exists(t->data, "sub"));

    /* opening a file as a directory, readdir on a file, paths from a file */
    uint32_t a, b;
    assert_int_equal(open_at(&h, 3, FOLLOW, "a.txt", O_CREAT_, R_RW_FILE, 0, &a), E_OK);
    assert_int_equal(open_at(&h, 3, FOLLOW, "a.txt", O_DIRECTORY_, R_FD_READDIR, 0, NULL), E_NOTDIR);
    assert_int_equal(open_at(&h, 3, FOLLOW, "a.txt", O_CREAT_ | O_EXCL_, R_RW_FILE, 0, NULL), E_EXIST);
    assert_int_equal(WH_CALL(&h, "x_fd_readdir", WH_I32(a), WH_I32(BUF), WH_I32(100), WH_I64(0), WH_I32(OUT)), E_BADF);
    assert_int_equal(open_at(&h, a, FOLLOW, "x", 0, R_FD_READ, 0, NULL), E_NOTDIR);
    assert_int_equal(h.w->denied_total, 1);   /* a file is not a granted directory */
    assert_int_equal(write_fd(&h, a, "AAA", NULL), E_OK);
    assert_int_equal(open_at(&h, 3, FOLLOW, "b.txt", O_CREAT_, R_RW_FILE, 0, &b), E_OK);
    /* renumber: a's description moves to b's number, b's is closed */
    assert_int_equal(WH_CALL(&h, "x_fd_renumber", WH_I32(a), WH_I32(b)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(a)), E_BADF);
    assert_int_equal(write_fd(&h, b, "BB", NULL), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_renumber", WH_I32(b), WH_I32(b)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(b)), E_OK);
    assert_int_equal(read_file(t->data, "a.txt", got, sizeof got), 5);
    assert_string_equal(got, "AAABB");
    /* a preopen renumbered keeps working as a preopen */
    assert_int_equal(WH_CALL(&h, "x_fd_renumber", WH_I32(4), WH_I32(3)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_prestat_dir_name", WH_I32(3), WH_I32(BUF), WH_I32(3)), E_OK);
    wh_get(&h, BUF, got, 3);
    assert_memory_equal(got, "/ro", 3);
    assert_int_equal(WH_CALL(&h, "x_fd_prestat_get", WH_I32(4), WH_I32(OUT)), E_BADF);
    wh_close(&h);
}

/* Parses WASI dirents in guest memory like wasi-libc does; appends complete
 * names to names (comma-separated), returns the cookie after the last
 * complete entry and whether the buffer ended in a truncated entry. */
static uint64_t parse_dirents(wh *h, uint32_t used, char *names, size_t cap, unsigned *count,
                              uint64_t cookie)
{
    uint32_t pos = 0;
    while (used - pos >= 24) {
        uint64_t next = wh_u64(h, BUF + pos);
        uint32_t namlen = wh_u32(h, BUF + pos + 16);
        uint8_t type;
        wh_get(h, BUF + pos + 20, &type, 1);
        if (used - pos - 24 < namlen)
            break;
        char name[256];
        assert_true(namlen < sizeof name);
        wh_get(h, BUF + pos + 24, name, namlen);
        name[namlen] = '\0';
        if (strcmp(name, "dddd") == 0)
            assert_int_equal(type, 3);
        if (strcmp(name, "a") == 0)
            assert_int_equal(type, 4);
        size_t l = strlen(names);
        snprintf(names + l, cap - l, "%s/", name);
        (*count)++;
        cookie = next;
        pos += 24 + namlen;
    }
    return cookie;
}

static bool has_name(const char *names, const char *name)
{
    char want[64];
    snprintf(want, sizeof want, "/%s/", name);
    char wrapped[1024];
    snprintf(wrapped, sizeof wrapped, "/%s", names);
    return strstr(wrapped, want) != NULL;
}

static void test_readdir(void **state)
{
    tmpdirs *t = *state;
    write_file(t->data, "a", "1");
    write_file(t->data, "bb", "22");
    write_file(t->data, "ccc", "333");
    char p[256];
    snprintf(p, sizeof p, "%s/dddd", t->data);
    assert_int_equal(mkdir(p, 0755), 0);
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    uint32_t dfd;
    assert_int_equal(open_at(&h, 3, FOLLOW, ".", O_DIRECTORY_, R_FD_READDIR, 0, &dfd), E_OK);
    uint32_t dirs[2] = {dfd, 3};   /* an opened directory, and the O_PATH preopen itself */
    for (int k = 0; k < 2; k++) {
        char names[1024] = "";
        unsigned count = 0;
        assert_int_equal(WH_CALL(&h, "x_fd_readdir", WH_I32(dirs[k]), WH_I32(BUF), WH_I32(4096), WH_I64(0), WH_I32(OUT)), E_OK);
        uint32_t used = wh_u32(&h, OUT);
        assert_true(used < 4096);
        uint64_t end = parse_dirents(&h, used, names, sizeof names, &count, 0);
        assert_int_equal(count, 6);
        assert_true(has_name(names, ".") && has_name(names, "..") && has_name(names, "a") &&
                    has_name(names, "bb") && has_name(names, "ccc") && has_name(names, "dddd"));
        /* from the last cookie: nothing more */
        assert_int_equal(WH_CALL(&h, "x_fd_readdir", WH_I32(dirs[k]), WH_I32(BUF), WH_I32(4096), WH_I64(end), WH_I32(OUT)), E_OK);
        assert_int_equal(wh_u32(&h, OUT), 0);
    }
    /* a 30-byte buffer: one entry fits, the next is truncated (used == 30) */
    char names[1024] = "";
    unsigned count = 0, truncated = 0, calls = 0;
    uint64_t cookie = 0;
    for (;;) {
        assert_true(++calls < 50);
        assert_int_equal(WH_CALL(&h, "x_fd_readdir", WH_I32(dfd), WH_I32(BUF), WH_I32(30), WH_I64(cookie), WH_I32(OUT)), E_OK);
        uint32_t used = wh_u32(&h, OUT);
        assert_true(used <= 30);
        unsigned before = count;
        cookie = parse_dirents(&h, used, names, sizeof names, &count, cookie);
        if (used < 30)
            break;
        truncated++;
        assert_true(count > before);   /* progress */
    }
    assert_int_equal(count, 6);
    assert_true(truncated >= 5);
    assert_true(has_name(names, "ccc") && has_name(names, "dddd"));
    /* zero-length buffer */
    assert_int_equal(WH_CALL(&h, "x_fd_readdir", WH_I32(dfd), WH_I32(BUF), WH_I32(0), WH_I64(0), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u32(&h, OUT), 0);
    /* a cookie past the end: no entries */
    assert_int_equal(WH_CALL(&h, "x_fd_readdir", WH_I32(dfd), WH_I32(BUF), WH_I32(100), WH_I64(-1), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u32(&h, OUT), 0);
    assert_int_equal(WH_CALL(&h, "x_fd_readdir", WH_I32(1), WH_I32(BUF), WH_I32(100), WH_I64(0), WH_I32(OUT)), E_BADF);
    wh_close(&h);
}

static void test_proc_exit_raise(void **state)
{
    (void)state;
    nc_wasi_config c = cfg_plain();
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    WH_CALL(&h, "x_proc_exit", WH_I32(7));
    assert_true(h.trapped);
    assert_non_null(strstr(h.trap, "nightcore: proc_exit"));
    assert_int_equal(h.w->stop, NC_WASI_STOP_EXIT);
    assert_int_equal(h.w->exit_code, 7);
    assert_int_equal(h.w->calls[NC_WASI_FN_proc_exit], 1);
    assert_int_equal(h.w->denied_total, 0);
    wh_close(&h);

    wh_open(&h, "wasi_proxy", &c);
    WH_CALL(&h, "x_proc_raise", WH_I32(9));
    assert_true(h.trapped);
    assert_int_equal(h.w->stop, NC_WASI_STOP_RAISE);
    assert_denial(h.w, 0, NC_WASI_FN_proc_raise, NC_DENY_SIGNAL, "signal 9");
    wh_close(&h);
}

static void test_sockets_denied(void **state)
{
    (void)state;
    nc_wasi_config c = cfg_plain();
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    size_t before = count_open_fds();
    /* No descriptor is ever a socket: an open one is NOTSOCK, any other BADF. */
    assert_int_equal(WH_CALL(&h, "x_sock_accept", WH_I32(3), WH_I32(0), WH_I32(OUT)), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_sock_recv", WH_I32(0), WH_I32(IOV), WH_I32(1), WH_I32(0), WH_I32(OUT), WH_I32(OUT2)), E_NOTSOCK);
    assert_int_equal(WH_CALL(&h, "x_sock_send", WH_I32(1), WH_I32(IOV), WH_I32(1), WH_I32(0), WH_I32(OUT)), E_NOTSOCK);
    assert_int_equal(WH_CALL(&h, "x_sock_shutdown", WH_I32(2), WH_I32(3)), E_NOTSOCK);
    assert_int_equal(count_open_fds(), before);
    assert_int_equal(h.w->denied_total, 4);
    assert_denial(h.w, 0, NC_WASI_FN_sock_accept, NC_DENY_NETWORK, "fd 3");
    assert_denial(h.w, 1, NC_WASI_FN_sock_recv, NC_DENY_NETWORK, "fd 0");
    assert_denial(h.w, 2, NC_WASI_FN_sock_send, NC_DENY_NETWORK, "fd 1");
    assert_denial(h.w, 3, NC_WASI_FN_sock_shutdown, NC_DENY_NETWORK, "fd 2");
    assert_int_equal(h.w->out.len, 0);
    wh_close(&h);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* subscription i at BUF + 48 * i */
static void sub_clock(wh *h, uint32_t i, uint64_t userdata, uint32_t clock, uint64_t timeout,
                      uint16_t flags)
{
    uint8_t s[48] = {0};
    memcpy(s, &userdata, 8);
    s[8] = 0;
    memcpy(s + 16, &clock, 4);
    memcpy(s + 24, &timeout, 8);
    memcpy(s + 40, &flags, 2);
    wh_put(h, BUF + 48 * i, s, sizeof s);
}

static void sub_fd(wh *h, uint32_t i, uint64_t userdata, uint8_t type, uint32_t fd)
{
    uint8_t s[48] = {0};
    memcpy(s, &userdata, 8);
    s[8] = type;
    memcpy(s + 16, &fd, 4);
    wh_put(h, BUF + 48 * i, s, sizeof s);
}


static void test_clock_poll_random(void **state)
{
    (void)state;
    static const char in[] = "12345";
    nc_wasi_config c = cfg_plain();
    c.stdin_data = (const uint8_t *)in;
    c.stdin_len = 5;
    c.stdout_cap = 1000;
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    for (uint32_t id = 0; id < 4; id++) {
        assert_int_equal(WH_CALL(&h, "x_clock_time_get", WH_I32(id), WH_I64(1), WH_I32(OUT)), E_OK);
        assert_int_equal(WH_CALL(&h, "x_clock_res_get", WH_I32(id), WH_I32(OUT2)), E_OK);
        assert_true(wh_u64(&h, OUT2) > 0);
    }
    assert_int_equal(WH_CALL(&h, "x_clock_time_get", WH_I32(0), WH_I64(1), WH_I32(OUT)), E_OK);
    assert_true(wh_u64(&h, OUT) > 1600000000ull * 1000000000ull);
    assert_int_equal(WH_CALL(&h, "x_clock_time_get", WH_I32(4), WH_I64(1), WH_I32(OUT)), E_INVAL);
    assert_int_equal(WH_CALL(&h, "x_clock_res_get", WH_I32(-1), WH_I32(OUT)), E_INVAL);

    assert_int_equal(WH_CALL(&h, "x_poll_oneoff", WH_I32(BUF), WH_I32(EVENTS), WH_I32(0), WH_I32(OUT)), E_INVAL);
    /* a relative 5 ms sleep */
    sub_clock(&h, 0, 0xabcd, 1, 5000000, 0);
    uint64_t t0 = now_ns();
    assert_int_equal(WH_CALL(&h, "x_poll_oneoff", WH_I32(BUF), WH_I32(EVENTS), WH_I32(1), WH_I32(OUT)), E_OK);
    assert_true(now_ns() - t0 >= 5000000);
    assert_int_equal(wh_u32(&h, OUT), 1);
    assert_int_equal(wh_u64(&h, EVENTS), 0xabcd);
    assert_int_equal(wh_u16(&h, EVENTS + 8), 0);
    /* absolute on the monotonic clock, 3 ms ahead; a later one does not fire */
    assert_int_equal(WH_CALL(&h, "x_clock_time_get", WH_I32(1), WH_I64(1), WH_I32(OUT)), E_OK);
    uint64_t now = wh_u64(&h, OUT);
    sub_clock(&h, 0, 1, 1, now + 60000000000ull, 1);
    sub_clock(&h, 1, 2, 1, now + 3000000, 1);
    t0 = now_ns();
    assert_int_equal(WH_CALL(&h, "x_poll_oneoff", WH_I32(BUF), WH_I32(EVENTS), WH_I32(2), WH_I32(OUT)), E_OK);
    assert_true(now_ns() - t0 >= 2000000 && now_ns() - t0 < 10000000000ull);
    assert_int_equal(wh_u32(&h, OUT), 1);
    assert_int_equal(wh_u64(&h, EVENTS), 2);
    /* CPU-time clocks sleep on the monotonic clock: bounded, not forever */
    sub_clock(&h, 0, 3, 2, 1000000, 0);
    assert_int_equal(WH_CALL(&h, "x_poll_oneoff", WH_I32(BUF), WH_I32(EVENTS), WH_I32(1), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u32(&h, OUT), 1);
    /* fd subscriptions are ready at once, even next to a 60 s clock */
    sub_clock(&h, 0, 10, 1, 60000000000ull, 0);
    sub_fd(&h, 1, 11, 1, 0);
    sub_fd(&h, 2, 12, 2, 1);
    sub_fd(&h, 3, 13, 1, 40);
    t0 = now_ns();
    assert_int_equal(WH_CALL(&h, "x_poll_oneoff", WH_I32(BUF), WH_I32(EVENTS), WH_I32(4), WH_I32(OUT)), E_OK);
    assert_true(now_ns() - t0 < 1000000000ull);
    assert_int_equal(wh_u32(&h, OUT), 3);
    assert_int_equal(wh_u64(&h, EVENTS), 11);
    assert_int_equal(wh_u32(&h, EVENTS + 8) & 0xffffff, 1u << 16);   /* no error, type fd_read */
    assert_int_equal(wh_u64(&h, EVENTS + 16), 5);                    /* stdin bytes ready */
    assert_int_equal(wh_u64(&h, EVENTS + 32), 12);
    assert_int_equal(wh_u64(&h, EVENTS + 32 + 16), 1000);            /* room under the cap */
    assert_int_equal(wh_u64(&h, EVENTS + 64), 13);
    assert_int_equal(wh_u16(&h, EVENTS + 64 + 8), E_BADF);
    /* an unknown clock fails the whole call, as in Wasmtime */
    sub_clock(&h, 0, 14, 9, 0, 0);
    assert_int_equal(WH_CALL(&h, "x_poll_oneoff", WH_I32(BUF), WH_I32(EVENTS), WH_I32(1), WH_I32(OUT)), E_INVAL);
    /* an unknown subscription type */
    sub_fd(&h, 0, 1, 7, 0);
    assert_int_equal(WH_CALL(&h, "x_poll_oneoff", WH_I32(BUF), WH_I32(EVENTS), WH_I32(1), WH_I32(OUT)), E_INVAL);

    uint8_t r1[64], r2[64];
    assert_int_equal(WH_CALL(&h, "x_random_get", WH_I32(BUF), WH_I32(64)), E_OK);
    wh_get(&h, BUF, r1, 64);
    assert_int_equal(WH_CALL(&h, "x_random_get", WH_I32(BUF), WH_I32(64)), E_OK);
    wh_get(&h, BUF, r2, 64);
    assert_memory_not_equal(r1, r2, 64);
    assert_int_equal(WH_CALL(&h, "x_random_get", WH_I32(0), WH_I32(MEMSZ)), E_OK);
    assert_int_equal(WH_CALL0(&h, "x_sched_yield"), E_OK);
    wh_close(&h);
}

static void test_fd_limit_and_no_leaks(void **state)
{
    tmpdirs *t = *state;
    size_t before = count_open_fds();
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    assert_int_equal(open_at(&h, 3, FOLLOW, "f", O_CREAT_, R_RW_FILE, 0, NULL), E_OK);
    uint32_t opened = 1, fd = 0;
    int32_t e;
    while ((e = open_at(&h, 3, FOLLOW, "f", 0, R_FD_READ, 0, &fd)) == E_OK)
        opened++;
    assert_int_equal(e, E_NFILE);
    assert_int_equal(opened, NC_WASI_MAX_FDS - 5);   /* 0-2 stdio, 3-4 preopens */
    assert_denial(h.w, 0, NC_WASI_FN_path_open, NC_DENY_FD_LIMIT, NULL);
    /* the preopens' readers for getdents are ours too */
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(10)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_readdir", WH_I32(4), WH_I32(BUF), WH_I32(256), WH_I64(0), WH_I32(OUT)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(4)), E_OK);   /* a preopen: borrowed fd stays open */
    wh_close(&h);
    assert_int_equal(count_open_fds(), before);
    assert_true(fcntl(t->ro_fd, F_GETFD) >= 0);
}

static void test_denial_cap(void **state)
{
    (void)state;
    nc_wasi_config c = cfg_plain();
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    for (int i = 0; i < 40; i++)
        assert_int_equal(WH_CALL(&h, "x_sock_send", WH_I32(i), WH_I32(0), WH_I32(0), WH_I32(0), WH_I32(0)), i < 3 ? E_NOTSOCK : E_BADF);
    assert_int_equal(h.w->denied_total, 40);
    assert_int_equal(h.w->ndenied, NC_WASI_MAX_DENIED);
    assert_string_equal(h.w->denied[NC_WASI_MAX_DENIED - 1].detail, "fd 31");
    assert_int_equal(h.w->calls[NC_WASI_FN_sock_send], 40);
    wh_close(&h);

    /* long and unprintable details are cut and made printable */
    tmpdirs *t = *state;
    c = cfg_dirs(t);
    wh_open(&h, "wasi_proxy", &c);
    char p[300] = "../";
    memset(p + 3, 'x', 250);
    p[10] = '\n';
    p[253] = '\0';
    assert_int_equal(open_at(&h, 3, FOLLOW, p, 0, R_FD_READ, 0, NULL), E_NOTCAPABLE);
    assert_int_equal(strlen(h.w->denied[0].detail), sizeof h.w->denied[0].detail - 1);
    assert_int_equal(h.w->denied[0].detail[10], '?');
    wh_close(&h);
}

/* A FIFO under a preopen cannot make a call block: host descriptors are
 * O_NONBLOCK, so opening and reading return at once. */
static void test_fifo_never_blocks(void **state)
{
    tmpdirs *t = *state;
    char p[256];
    snprintf(p, sizeof p, "%s/fifo", t->data);
    assert_int_equal(mkfifo(p, 0644), 0);
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    uint64_t t0 = now_ns();
    assert_int_equal(open_at(&h, 3, FOLLOW, "fifo", 0, R_FD_WRITE, 0, NULL), 60);   /* ENXIO: no reader */
    uint32_t fd;
    assert_int_equal(open_at(&h, 3, FOLLOW, "fifo", 0, R_FD_READ, 0, &fd), E_OK);
    char got[16];
    assert_int_equal(read_fd(&h, fd, got, sizeof got), E_OK);   /* no writer: EOF */
    assert_string_equal(got, "");
    assert_true(now_ns() - t0 < 2000000000ull);
    wh_close(&h);
}

static volatile sig_atomic_t g_alarms;
static void on_alarm(int sig)
{
    (void)sig;
    g_alarms++;
}

/* The sandbox child's deadline is SIGALRM without SA_RESTART: a guest asleep
 * in poll_oneoff must come back when it fires, not sleep on. */
static void test_poll_interrupted(void **state)
{
    (void)state;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    nc_wasi_config c = cfg_plain();
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    sub_clock(&h, 0, 77, 1, 30000000000ull, 0);   /* 30 s */
    struct itimerval it = {{0, 0}, {0, 50000}};
    g_alarms = 0;
    uint64_t t0 = now_ns();
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
    assert_int_equal(WH_CALL(&h, "x_poll_oneoff", WH_I32(BUF), WH_I32(EVENTS), WH_I32(1), WH_I32(OUT)), E_OK);
    assert_true(now_ns() - t0 < 5000000000ull);
    assert_int_equal(g_alarms, 1);
    assert_int_equal(wh_u32(&h, OUT), 1);
    assert_int_equal(wh_u64(&h, EVENTS), 77);
    wh_close(&h);
    assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
}

/* ------------------------------------------------- wasi-libc guests */

static void assert_output(const nc_buf *b, const char *want)
{
    if (b->len != strlen(want) || memcmp(b->data, want, b->len) != 0) {
        fprintf(stderr, "--- got ---\n%.*s--- want ---\n%s", (int)b->len, (const char *)b->data,
                want);
        fail_msg("output differs");
    }
}

static void test_guest_files(void **state)
{
    tmpdirs *t = *state;
    const char *args[] = {"guest_wasi_files"};
    nc_wasi_config c = cfg_dirs(t);
    c.args = args;
    c.nargs = 1;
    wh h;
    wh_open(&h, "guest_wasi_files", &c);
    WH_CALL0(&h, "_start");
    assert_false(h.trapped);
    assert_output(&h.w->out,
                  "ro_read=hello from ro\n"
                  "ro_create=err76\n"
                  "ro_rw_open=0\n"
                  "ro_rw_write=err76\n"
                  "ro_mkdir=err76\n"
                  "ro_unlink=err76\n"
                  "mkdir=0\n"
                  "write=0\n"
                  "tell=5\n"
                  "readback=4\n"
                  "size=28\n"
                  "rename=0\n"
                  "ls_sub=moved.txt\n"
                  "ls_ro=hello.txt,sub\n"
                  "symlink=0\n"
                  "readlink=sub/moved.txt\n"
                  "unlink=0\n"
                  "keep=0\n"
                  "rmdir=0\n");
    char got[64];
    assert_int_equal(read_file(t->data, "kept.txt", got, sizeof got), 28);
    assert_string_equal(got, "line 1\nline 2\nline 3\nline 4\n");
    assert_false(exists(t->data, "sub"));
    assert_false(exists(t->ro, "new.txt"));
    assert_true(exists(t->ro, "hello.txt"));
    assert_int_equal(h.w->denied_total, 4);
    assert_denial(h.w, 1, NC_WASI_FN_fd_write, NC_DENY_READONLY, NULL);
    for (uint32_t i = 0; i < h.w->ndenied; i++)
        assert_int_equal(h.w->denied[i].reason, NC_DENY_READONLY);
    assert_true(h.w->calls[NC_WASI_FN_fd_readdir] > 0);
    wh_close(&h);
}

static void test_guest_stdio(void **state)
{
    (void)state;
    static const char in[] = "piped input";
    const char *args[] = {"guest", "one", "two words"};
    const char *env[] = {"NC_TEST=yes", "OTHER=1"};
    nc_wasi_config c = cfg_plain();
    c.stdin_data = (const uint8_t *)in;
    c.stdin_len = strlen(in);
    c.args = args;
    c.nargs = 3;
    c.env = env;
    c.nenv = 2;
    wh h;
    wh_open(&h, "guest_wasi_stdio", &c);
    WH_CALL0(&h, "_start");
    assert_true(h.trapped);   /* exit(3) */
    assert_int_equal(h.w->stop, NC_WASI_STOP_EXIT);
    assert_int_equal(h.w->exit_code, 3);
    assert_output(&h.w->out,
                  "stdin=11:piped input\n"
                  "argc=3\n"
                  "argv[0]=guest\n"
                  "argv[1]=one\n"
                  "argv[2]=two words\n"
                  "env=yes\n"
                  "slept=0 elapsed_ok=1\n"
                  "random=1\n");
    assert_output(&h.w->err, "to stderr\n");
    assert_int_equal(h.w->denied_total, 0);
    wh_close(&h);
}

static void test_guest_escape(void **state)
{
    tmpdirs *t = *state;
    char p[256];
    snprintf(p, sizeof p, "%s/link_out", t->data);
    assert_int_equal(symlink("/", p), 0);
    snprintf(p, sizeof p, "%s/a", t->data);
    assert_int_equal(mkdir(p, 0755), 0);
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "guest_wasi_escape", &c);
    WH_CALL0(&h, "_start");
    assert_false(h.trapped);
    assert_output(&h.w->out,
                  "dotdot=76\n"
                  "deep_dotdot=76\n"
                  "symlink=76\n"
                  "symlink_create=76\n"
                  "stat_dotdot=76\n"
                  "lstat_link=0\n"
                  "opendir_link=76\n"
                  "mkdir_dotdot=76\n"
                  "unlink_dotdot=76\n"
                  "symlink_abs=76\n");
    assert_true(exists(t->root, "outside.txt"));
    assert_false(exists(t->root, "evil"));
    assert_false(exists("/tmp", "nc-escape"));
    assert_int_equal(h.w->denied_total, 9);
    for (uint32_t i = 0; i < h.w->ndenied; i++)
        assert_int_equal(h.w->denied[i].reason, NC_DENY_ESCAPE);
    wh_close(&h);
}

/* ------------------------------------------- preview 1 conformance */

/* path_open with separate base and inheriting rights. */
static int32_t open_rights(wh *h, uint32_t dirfd, const char *path, uint32_t oflags, uint64_t base,
                           uint64_t inh, uint32_t *fd)
{
    uint32_t len = wh_str(h, PATH, path);
    int32_t e = WH_CALL(h, "x_path_open", WH_I32(dirfd), WH_I32(0), WH_I32(PATH), WH_I32(len),
                        WH_I32(oflags), WH_I64(base), WH_I64(inh), WH_I32(0), WH_I32(OUT));
    if (fd)
        *fd = wh_u32(h, OUT);
    return e;
}

static void fdstat_rights(wh *h, uint32_t fd, uint64_t *base, uint64_t *inh)
{
    assert_int_equal(WH_CALL(h, "x_fd_fdstat_get", WH_I32(fd), WH_I32(OUT2)), E_OK);
    *base = wh_u64(h, OUT2 + 8);
    *inh = wh_u64(h, OUT2 + 16);
}

static int32_t set_rights(wh *h, uint32_t fd, uint64_t base, uint64_t inh)
{
    return WH_CALL(h, "x_fd_fdstat_set_rights", WH_I32(fd), WH_I64(base), WH_I64(inh));
}

#define R_DIR_WANT                                                                          \
    (R_PATH_CREATE_DIRECTORY | R_PATH_CREATE_FILE | R_PATH_LINK_SOURCE | R_PATH_LINK_TARGET | \
     R_PATH_OPEN | R_FD_READDIR | R_PATH_READLINK | R_PATH_RENAME_SOURCE |                  \
     R_PATH_RENAME_TARGET | R_PATH_SYMLINK | R_PATH_REMOVE_DIRECTORY | R_PATH_UNLINK_FILE |  \
     R_PATH_FILESTAT_GET | R_PATH_FILESTAT_SET_TIMES | R_FD_FILESTAT_GET |                  \
     R_FD_FILESTAT_SET_TIMES)

/* Cause 1: a preopen reported file rights (FD_READ, FD_WRITE, FD_SEEK) as
 * its base; programs pass them back to path_open(".", DIRECTORY) to open
 * their scratch directory and got ISDIR (FD_WRITE became O_RDWR). */
static void test_preopen_reports_directory_rights(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    uint64_t base, inh;
    fdstat_rights(&h, 3, &base, &inh);
    assert_int_equal(base & R_DIR_WANT, R_DIR_WANT);   /* what userlands expect of a directory */
    assert_int_equal(base & (R_FD_READ | R_FD_WRITE | R_FD_SEEK | R_FD_TELL | R_FD_FILESTAT_SET_SIZE), 0);
    assert_true(base & R_PATH_FILESTAT_SET_SIZE);   /* truncation through paths */
    assert_int_equal(inh & (R_DIR_WANT | R_RW_FILE | R_POLL_FD_READWRITE),
                     R_DIR_WANT | R_RW_FILE | R_POLL_FD_READWRITE);
    /* the scratch-directory idiom: reopen "." with the rights it reports */
    uint32_t d;
    assert_int_equal(open_rights(&h, 3, ".", O_DIRECTORY_, base, inh, &d), E_OK);
    uint64_t b2, i2;
    fdstat_rights(&h, d, &b2, &i2);
    assert_int_equal(b2, base);
    assert_int_equal(i2, inh);
    assert_int_equal(wh_u16(&h, OUT2) & 0xff, 3);
    assert_int_equal(open_rights(&h, 3, ".", 0, base, inh, NULL), E_OK);
    assert_int_equal(open_rights(&h, 3, ".", 0, 0, 0, NULL), E_OK);
    assert_int_equal(open_rights(&h, 3, ".", O_DIRECTORY_, R_FD_READ, 0, NULL), E_OK);
    /* asking to write a directory is still ISDIR, as open(2) says */
    assert_int_equal(open_rights(&h, 3, ".", O_DIRECTORY_, R_FD_READ | R_FD_WRITE, 0, NULL), E_ISDIR);
    /* and a file opened through the reopened directory can be written */
    uint32_t f;
    assert_int_equal(open_rights(&h, d, "f", O_CREAT_, R_FD_WRITE, 0, &f), E_OK);
    assert_int_equal(write_fd(&h, f, "ok", NULL), E_OK);
    /* the read-only preopen reports no write right at all */
    fdstat_rights(&h, 4, &base, &inh);
    assert_int_equal(base & R_WRITES, 0);
    assert_int_equal(inh & R_WRITES, 0);
    assert_true(base & R_PATH_OPEN);
    assert_true(inh & R_FD_READ);
    assert_int_equal(open_rights(&h, 4, ".", O_DIRECTORY_, base, inh, NULL), E_OK);
    assert_int_equal(h.w->denied_total, 0);
    wh_close(&h);
}

/* Cause 2: a directory opened with file rights kept them (FD_SEEK...). */
static void test_directory_keeps_directory_rights_only(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    assert_int_equal(path1(&h, "x_path_create_directory", 3, "d"), E_OK);
    uint32_t d;
    assert_int_equal(open_rights(&h, 3, "d", O_DIRECTORY_, R_FD_SEEK | R_FD_READ | R_FD_READDIR | R_FD_WRITE, R_FD_READ, &d), E_ISDIR);
    assert_int_equal(open_rights(&h, 3, "d", O_DIRECTORY_, R_FD_SEEK | R_FD_TELL | R_FD_READ | R_FD_READDIR | R_PATH_OPEN, R_FD_READ, &d), E_OK);
    uint64_t base, inh;
    fdstat_rights(&h, d, &base, &inh);
    assert_int_equal(base, R_FD_READDIR | R_PATH_OPEN);
    assert_int_equal(inh, R_FD_READ);
    assert_int_equal(WH_CALL(&h, "x_fd_seek", WH_I32(d), WH_I64(0), WH_I32(1), WH_I32(OUT)), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_fd_tell", WH_I32(d), WH_I32(OUT)), E_BADF);
    /* a file keeps file rights only */
    uint32_t f;
    assert_int_equal(open_rights(&h, 3, "f", O_CREAT_, R_FD_READ | R_FD_SEEK | R_PATH_OPEN | R_FD_READDIR, 0, &f), E_OK);
    fdstat_rights(&h, f, &base, &inh);
    assert_int_equal(base, R_FD_READ | R_FD_SEEK);
    wh_close(&h);
}

/* Cause 3: OFLAGS_TRUNC ignored that the directory had dropped
 * PATH_FILESTAT_SET_SIZE through fd_fdstat_set_rights. */
static void test_truncation_needs_path_filestat_set_size(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    write_file(t->data, "file", "0123456789");
    uint64_t base, inh;
    fdstat_rights(&h, 3, &base, &inh);
    uint32_t d, f;
    assert_int_equal(open_rights(&h, 3, ".", O_DIRECTORY_, base, inh, &d), E_OK);
    /* no file rights needed: the directory's right decides */
    assert_int_equal(open_rights(&h, d, "file", O_TRUNC_, 0, 0, &f), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(f)), E_OK);
    write_file(t->data, "file", "0123456789");
    assert_int_equal(set_rights(&h, d, base, inh & ~R_FD_FILESTAT_SET_SIZE), E_OK);
    assert_int_equal(open_rights(&h, d, "file", O_TRUNC_, 0, 0, &f), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(f)), E_OK);
    write_file(t->data, "file", "0123456789");
    assert_int_equal(set_rights(&h, d, base & ~R_PATH_FILESTAT_SET_SIZE, inh & ~R_FD_FILESTAT_SET_SIZE), E_OK);
    uint64_t b2, i2;
    fdstat_rights(&h, d, &b2, &i2);
    assert_int_equal(b2 & R_PATH_FILESTAT_SET_SIZE, 0);
    assert_int_equal(open_rights(&h, d, "file", O_TRUNC_, 0, 0, &f), E_NOTCAPABLE);
    assert_int_equal(open_rights(&h, d, "file", O_TRUNC_ | O_CREAT_, R_FD_WRITE, 0, &f), E_NOTCAPABLE);
    char got[32];
    assert_int_equal(read_file(t->data, "file", got, sizeof got), 10);   /* untouched */
    /* rights never grow back */
    assert_int_equal(set_rights(&h, d, base, inh), E_NOTCAPABLE);
    /* the preopen itself still truncates */
    assert_int_equal(open_rights(&h, 3, "file", O_TRUNC_, 0, 0, &f), E_OK);
    assert_int_equal(read_file(t->data, "file", got, sizeof got), 0);
    /* a right the guest dropped itself is not a refusal to record */
    assert_int_equal(h.w->denied_total, 0);
    wh_close(&h);
}

/* Cause 4: sock_shutdown answered NOTSUP whatever the descriptor. */
static void test_sock_shutdown_badf_or_notsock(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    assert_int_equal(WH_CALL(&h, "x_sock_shutdown", WH_I32(30), WH_I32(1)), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_sock_shutdown", WH_I32(1), WH_I32(1)), E_NOTSOCK);
    assert_int_equal(WH_CALL(&h, "x_sock_shutdown", WH_I32(3), WH_I32(2)), E_NOTSOCK);
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(1)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_sock_shutdown", WH_I32(1), WH_I32(1)), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_sock_shutdown", WH_I32(0), WH_I32(4)), E_INVAL);   /* unknown sdflags */
    assert_int_equal(WH_CALL(&h, "x_sock_accept", WH_I32(0), WH_I32(0x40), WH_I32(OUT)), E_INVAL);
    /* every attempt is still a recorded network attempt */
    assert_int_equal(h.w->denied_total, 4);
    assert_denial(h.w, 0, NC_WASI_FN_sock_shutdown, NC_DENY_NETWORK, "fd 30");
    wh_close(&h);
}

static void test_path_open_flags(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    write_file(t->data, "f", "x");
    char p[256];
    snprintf(p, sizeof p, "%s/dirlink", t->data);
    assert_int_equal(symlink(".", p), 0);
    snprintf(p, sizeof p, "%s/dangling", t->data);
    assert_int_equal(symlink("nothing", p), 0);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    assert_int_equal(open_at(&h, 3, 0, "x", O_DIRECTORY_ | O_CREAT_, 0, 0, NULL), E_INVAL);
    assert_false(exists(t->data, "x"));
    assert_int_equal(open_at(&h, 3, 0, ".", O_DIRECTORY_ | O_TRUNC_, 0, 0, NULL), E_INVAL);
    assert_int_equal(open_at(&h, 3, 0, ".", O_DIRECTORY_ | O_EXCL_, 0, 0, NULL), E_INVAL);
    assert_int_equal(open_at(&h, 3, 0, "f", O_CREAT_ | O_EXCL_, 0, 0, NULL), E_EXIST);
    /* not following: a symlink is LOOP, also when a directory is asked for */
    assert_int_equal(open_at(&h, 3, 0, "dirlink", O_DIRECTORY_, 0, 0, NULL), E_LOOP);
    assert_int_equal(open_at(&h, 3, 0, "dangling", O_DIRECTORY_, 0, 0, NULL), E_LOOP);
    assert_int_equal(open_at(&h, 3, 0, "dangling", 0, 0, 0, NULL), E_LOOP);
    assert_int_equal(open_at(&h, 3, FOLLOW, "dirlink", O_DIRECTORY_, 0, 0, NULL), E_OK);
    assert_int_equal(open_at(&h, 3, FOLLOW, "dangling", O_DIRECTORY_, 0, 0, NULL), E_NOENT);
    assert_int_equal(open_at(&h, 3, 0, "f", O_DIRECTORY_, 0, 0, NULL), E_NOTDIR);
    /* paths are UTF-8 */
    wh_put(&h, PATH, "a\xff", 2);
    assert_int_equal(WH_CALL(&h, "x_path_open", WH_I32(3), WH_I32(0), WH_I32(PATH), WH_I32(2), WH_I32(0), WH_I64(0), WH_I64(0), WH_I32(0), WH_I32(OUT)), E_ILSEQ);
    wh_put(&h, PATH, "\xc3\xa9t\xc3\xa9", 5);   /* "été" is fine */
    assert_int_equal(WH_CALL(&h, "x_path_open", WH_I32(3), WH_I32(0), WH_I32(PATH), WH_I32(5), WH_I32(O_CREAT_), WH_I64(0), WH_I64(0), WH_I32(0), WH_I32(OUT)), E_OK);
    assert_true(exists(t->data, "\xc3\xa9t\xc3\xa9"));
    /* PATH_OPEN, and PATH_CREATE_FILE to create */
    uint64_t base, inh;
    fdstat_rights(&h, 3, &base, &inh);
    uint32_t d;
    assert_int_equal(open_rights(&h, 3, ".", O_DIRECTORY_, base & ~R_PATH_CREATE_FILE, inh, &d), E_OK);
    assert_int_equal(open_rights(&h, d, "new", O_CREAT_, 0, 0, NULL), E_NOTCAPABLE);
    assert_int_equal(open_rights(&h, d, "f", 0, 0, 0, NULL), E_OK);
    assert_int_equal(set_rights(&h, d, base & ~(R_PATH_CREATE_FILE | R_PATH_OPEN), inh), E_OK);
    assert_int_equal(open_rights(&h, d, "f", 0, 0, 0, NULL), E_NOTCAPABLE);
    /* what a file may be granted is capped by its directory's inheriting rights */
    assert_int_equal(open_rights(&h, 3, ".", O_DIRECTORY_, base, R_FD_READ, &d), E_OK);
    uint32_t f;
    assert_int_equal(open_rights(&h, d, "f", 0, R_FD_READ | R_FD_WRITE, 0, &f), E_OK);
    fdstat_rights(&h, f, &base, &inh);
    assert_int_equal(base, R_FD_READ);
    assert_int_equal(write_fd(&h, f, "no", NULL), E_BADF);
    assert_false(h.trapped);
    wh_close(&h);
}

/* Descriptor numbers are handed out as Wasmtime does: the highest number
 * closed since, else the next never used. */
static void test_descriptor_numbers(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    uint32_t a, b, x;
    assert_int_equal(open_at(&h, 3, 0, ".", O_DIRECTORY_, 0, 0, &a), E_OK);
    assert_int_equal(open_at(&h, 3, 0, ".", O_DIRECTORY_, 0, 0, &b), E_OK);
    assert_int_equal(a, 5);
    assert_int_equal(b, 6);
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(a)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_close", WH_I32(1)), E_OK);
    assert_int_equal(open_at(&h, 3, 0, ".", O_DIRECTORY_, 0, 0, &x), E_OK);
    assert_int_equal(x, 5);
    assert_int_equal(open_at(&h, 3, 0, ".", O_DIRECTORY_, 0, 0, &x), E_OK);
    assert_int_equal(x, 1);   /* a closed stdio number is reused too */
    assert_int_equal(open_at(&h, 3, 0, ".", O_DIRECTORY_, 0, 0, &x), E_OK);
    assert_int_equal(x, 7);
    /* a failed open hands out nothing */
    assert_int_equal(open_at(&h, 3, 0, "missing", 0, 0, 0, NULL), E_NOENT);
    assert_int_equal(open_at(&h, 3, 0, ".", O_DIRECTORY_, 0, 0, &x), E_OK);
    assert_int_equal(x, 8);
    /* renumber frees the source number */
    assert_int_equal(WH_CALL(&h, "x_fd_renumber", WH_I32(8), WH_I32(b)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_get", WH_I32(8), WH_I32(OUT)), E_BADF);
    assert_int_equal(open_at(&h, 3, 0, ".", O_DIRECTORY_, 0, 0, &x), E_OK);
    assert_int_equal(x, 8);
    wh_close(&h);
}

/* Parses complete dirents at BUF; fills names (up to max) and their d_next. */
static unsigned dirents(wh *h, uint32_t used, char names[][32], uint64_t *next, uint64_t *ino, unsigned max)
{
    uint32_t pos = 0;
    unsigned n = 0;
    while (used - pos >= 24 && n < max) {
        uint32_t namlen = wh_u32(h, BUF + pos + 16);
        if (used - pos - 24 < namlen || namlen >= 32)
            break;
        next[n] = wh_u64(h, BUF + pos);
        ino[n] = wh_u64(h, BUF + pos + 8);
        wh_get(h, BUF + pos + 24, names[n], namlen);
        names[n][namlen] = '\0';
        n++;
        pos += 24 + namlen;
    }
    return n;
}

/* Cookies count entries, "." and ".." first, as in Wasmtime. */
static void test_readdir_cookies(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    char names[400][32];
    uint64_t next[400], ino[400];
    assert_int_equal(WH_CALL(&h, "x_fd_readdir", WH_I32(3), WH_I32(BUF), WH_I32(4096), WH_I64(0), WH_I32(OUT)), E_OK);
    unsigned n = dirents(&h, wh_u32(&h, OUT), names, next, ino, 400);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], ".");
    assert_string_equal(names[1], "..");
    assert_int_equal(next[0], 1);
    assert_int_equal(next[1], 2);
    struct stat st;
    assert_int_equal(fstat(t->data_fd, &st), 0);
    assert_int_equal(ino[0], st.st_ino);
    assert_int_equal(ino[1], st.st_ino);   /* the parent is outside the grant */
    for (int i = 0; i < 300; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "file.%d", i);
        write_file(t->data, nm, "");
    }
    /* 256 bytes at a time, on from the last complete entry */
    uint64_t cookie = 0;
    unsigned total = 0, calls = 0;
    bool seen[300] = {false};
    for (;;) {
        assert_true(++calls < 1000);
        assert_int_equal(WH_CALL(&h, "x_fd_readdir", WH_I32(3), WH_I32(BUF), WH_I32(256), WH_I64(cookie), WH_I32(OUT)), E_OK);
        uint32_t used = wh_u32(&h, OUT);
        unsigned m = dirents(&h, used, names, next, ino, 400);
        for (unsigned k = 0; k < m; k++) {
            assert_int_equal(next[k], cookie + k + 1);
            if (strncmp(names[k], "file.", 5) == 0) {
                char *end;
                long idx = strtol(names[k] + 5, &end, 10);
                assert_true(*end == '\0' && idx >= 0 && idx < 300);
                seen[idx] = true;
            }
        }
        total += m;
        if (used < 256)
            break;
        assert_true(m > 0);
        cookie = next[m - 1];
    }
    assert_int_equal(total, 302);
    for (int i = 0; i < 300; i++)
        assert_true(seen[i]);
    /* any cookie, not just the last one, restarts there */
    assert_int_equal(WH_CALL(&h, "x_fd_readdir", WH_I32(3), WH_I32(BUF), WH_I32(4096), WH_I64(299), WH_I32(OUT)), E_OK);
    n = dirents(&h, wh_u32(&h, OUT), names, next, ino, 400);
    assert_int_equal(n, 3);
    assert_int_equal(next[0], 300);
    assert_int_equal(next[2], 302);
    assert_int_equal(WH_CALL(&h, "x_fd_readdir", WH_I32(3), WH_I32(BUF), WH_I32(4096), WH_I64(302), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u32(&h, OUT), 0);
    /* the right to read entries */
    uint64_t base, inh;
    fdstat_rights(&h, 3, &base, &inh);
    assert_int_equal(set_rights(&h, 3, base & ~R_FD_READDIR, inh), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_readdir", WH_I32(3), WH_I32(BUF), WH_I32(4096), WH_I64(0), WH_I32(OUT)), E_NOTCAPABLE);
    wh_close(&h);
}

static void test_names_and_trailing_slashes(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    assert_int_equal(path1(&h, "x_path_create_directory", 3, "src"), E_OK);
    assert_int_equal(path1(&h, "x_path_create_directory", 3, "empty"), E_OK);
    assert_int_equal(path1(&h, "x_path_create_directory", 3, "full"), E_OK);
    write_file(t->data, "full/f", "1");
    write_file(t->data, "file", "1");
    assert_int_equal(rename_at(&h, 3, "src", 3, "full"), E_NOTEMPTY);
    assert_int_equal(rename_at(&h, 3, "src", 3, "file"), E_NOTDIR);
    assert_int_equal(rename_at(&h, 3, "file", 3, "empty"), E_ISDIR);
    assert_int_equal(rename_at(&h, 3, "src/", 3, "empty/"), E_OK);   /* onto an empty directory */
    assert_int_equal(rename_at(&h, 3, "empty", 3, "src/"), E_OK);
    assert_int_equal(rename_at(&h, 3, "file/", 3, "x"), E_NOTDIR);
    assert_int_equal(rename_at(&h, 3, "file", 3, "x/"), E_NOTDIR);
    assert_int_equal(path1(&h, "x_path_remove_directory", 3, "full"), E_NOTEMPTY);
    assert_int_equal(path1(&h, "x_path_remove_directory", 3, "file"), E_NOTDIR);
    assert_int_equal(path1(&h, "x_path_remove_directory", 3, "file/"), E_NOTDIR);
    assert_int_equal(path1(&h, "x_path_unlink_file", 3, "full"), E_ISDIR);
    assert_int_equal(path1(&h, "x_path_unlink_file", 3, "full/"), E_ISDIR);
    assert_int_equal(path1(&h, "x_path_unlink_file", 3, "file/"), E_NOTDIR);
    assert_int_equal(symlink_at(&h, "x", 3, "missing/"), E_NOENT);
    assert_int_equal(symlink_at(&h, "x", 3, "full/"), E_EXIST);
    assert_int_equal(symlink_at(&h, "x", 3, "file/"), E_NOTDIR);
    assert_int_equal(symlink_at(&h, "x", 3, "file"), E_EXIST);
    assert_int_equal(link_at(&h, 3, 0, "file", 3, "missing/"), E_NOENT);
    assert_int_equal(link_at(&h, 3, 0, "file", 3, "file"), E_EXIST);
    /* symlink loops */
    assert_int_equal(symlink_at(&h, "loop", 3, "loop"), E_OK);
    assert_int_equal(open_at(&h, 3, FOLLOW, "loop", 0, 0, 0, NULL), E_LOOP);
    assert_int_equal(open_at(&h, 3, 0, "loop", 0, 0, 0, NULL), E_LOOP);
    assert_int_equal(stat_at(&h, 3, FOLLOW, "loop"), E_LOOP);
    assert_int_equal(stat_at(&h, 3, 0, "loop"), E_OK);
    assert_int_equal(link_at(&h, 3, 0, "loop", 3, "loop2"), E_OK);   /* the link itself */
    assert_int_equal(path1(&h, "x_path_unlink_file", 3, "loop"), E_OK);
    assert_int_equal(path1(&h, "x_path_unlink_file", 3, "loop2"), E_OK);
    assert_int_equal(h.w->denied_total, 0);
    wh_close(&h);
}

static void test_descriptor_rights_enforced(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    write_file(t->data, "f", "0123456789");
    uint32_t f;
    assert_int_equal(open_rights(&h, 3, "f", 0, R_FD_READ | R_FD_TELL, 0, &f), E_OK);
    /* FD_TELL alone answers "where am I", nothing else */
    assert_int_equal(WH_CALL(&h, "x_fd_seek", WH_I32(f), WH_I64(0), WH_I32(1), WH_I32(OUT)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_seek", WH_I32(f), WH_I64(1), WH_I32(0), WH_I32(OUT)), E_NOTCAPABLE);
    assert_int_equal(WH_CALL(&h, "x_fd_tell", WH_I32(f), WH_I32(OUT)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_filestat_get", WH_I32(f), WH_I32(BUF)), E_NOTCAPABLE);
    assert_int_equal(WH_CALL(&h, "x_fd_filestat_set_size", WH_I32(f), WH_I64(1)), E_NOTCAPABLE);
    assert_int_equal(WH_CALL(&h, "x_fd_advise", WH_I32(f), WH_I64(0), WH_I64(0), WH_I32(0)), E_NOTCAPABLE);
    assert_int_equal(WH_CALL(&h, "x_fd_datasync", WH_I32(f)), E_NOTCAPABLE);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_set_flags", WH_I32(f), WH_I32(0)), E_NOTCAPABLE);
    assert_int_equal(WH_CALL(&h, "x_fd_filestat_set_times", WH_I32(f), WH_I64(0), WH_I64(0), WH_I32(2)), E_NOTCAPABLE);
    char got[16];
    assert_int_equal(read_fd(&h, f, got, sizeof got), E_OK);
    assert_string_equal(got, "0123456789");
    assert_int_equal(set_rights(&h, f, R_FD_TELL, 0), E_OK);
    assert_int_equal(read_fd(&h, f, got, sizeof got), E_BADF);   /* as the kernel says */
    /* file-only calls on a directory and on stdio are BADF */
    assert_int_equal(WH_CALL(&h, "x_fd_filestat_set_size", WH_I32(3), WH_I64(0)), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_fd_allocate", WH_I32(3), WH_I64(0), WH_I64(1)), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_fd_advise", WH_I32(1), WH_I64(0), WH_I64(0), WH_I32(0)), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_fd_datasync", WH_I32(3)), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_set_flags", WH_I32(3), WH_I32(0)), E_BADF);
    assert_int_equal(write_fd(&h, 3, "x", NULL), E_BADF);
    assert_int_equal(read_fd(&h, 3, got, sizeof got), E_BADF);
    assert_int_equal(WH_CALL(&h, "x_fd_prestat_dir_name", WH_I32(f), WH_I32(BUF), WH_I32(10)), E_NOTDIR);
    assert_int_equal(h.w->denied_total, 0);
    wh_close(&h);
}

static void test_fdstat_set_flags(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_dirs(t);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    uint32_t f;
    assert_int_equal(open_at(&h, 3, 0, "f", O_CREAT_, R_RW_FILE, 0, &f), E_OK);
    assert_int_equal(write_fd(&h, f, "abc", NULL), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_set_flags", WH_I32(f), WH_I32(FDF_APPEND | 4)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_get", WH_I32(f), WH_I32(OUT)), E_OK);
    assert_int_equal(wh_u16(&h, OUT + 2), FDF_APPEND | 4);
    assert_int_equal(WH_CALL(&h, "x_fd_seek", WH_I32(f), WH_I64(0), WH_I32(0), WH_I32(OUT)), E_OK);
    assert_int_equal(write_fd(&h, f, "d", NULL), E_OK);
    char got[16];
    assert_int_equal(read_file(t->data, "f", got, sizeof got), 4);
    assert_string_equal(got, "abcd");
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_set_flags", WH_I32(f), WH_I32(0)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_seek", WH_I32(f), WH_I64(0), WH_I32(0), WH_I32(OUT)), E_OK);
    assert_int_equal(write_fd(&h, f, "X", NULL), E_OK);
    assert_int_equal(read_file(t->data, "f", got, sizeof got), 4);
    assert_string_equal(got, "Xbcd");
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_set_flags", WH_I32(f), WH_I32(0x10)), E_INVAL);   /* SYNC */
    /* opened with SYNC, keeping it is fine, dropping it is not */
    uint32_t s;
    assert_int_equal(open_at(&h, 3, 0, "f", 0, R_RW_FILE, 0x10, &s), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_set_flags", WH_I32(s), WH_I32(0x10 | FDF_APPEND)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_fdstat_set_flags", WH_I32(s), WH_I32(0)), E_INVAL);
    wh_close(&h);
}

/* ------------------------------------------------ directory quotas */

/* data/ read-write with a quota at fd 3, ro/ at fd 4, other/ read-write
 * without one at fd 5. */
static nc_wasi_preopen g_qpre[3];
static int g_other_fd = -1;
static nc_wasi_config cfg_quota(const tmpdirs *t, uint64_t qbytes, uint64_t qfiles)
{
    nc_wasi_config c = cfg_plain();
    char other[160];
    snprintf(other, sizeof other, "%s/other", t->root);
    (void)mkdir(other, 0755);
    if (g_other_fd >= 0)   /* left open by a failed test */
        close(g_other_fd);
    g_other_fd = open(other, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(g_other_fd >= 0);
    g_qpre[0] = (nc_wasi_preopen){.host_fd = t->data_fd, .guest_path = "/data", .readonly = false,
                                  .quota_bytes = qbytes, .quota_files = qfiles};
    /* a quota on a read-only grant means nothing and is ignored */
    g_qpre[1] = (nc_wasi_preopen){.host_fd = t->ro_fd, .guest_path = "/ro", .readonly = true,
                                  .quota_bytes = 1, .quota_files = 1};
    g_qpre[2] = (nc_wasi_preopen){.host_fd = g_other_fd, .guest_path = "/other", .readonly = false};
    c.preopens = g_qpre;
    c.npreopens = 3;
    return c;
}

static void close_other(void)
{
    if (g_other_fd >= 0)
        close(g_other_fd);
    g_other_fd = -1;
}

static off_t file_size(const char *dir, const char *name)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 ? st.st_size : -1;
}

static int32_t pwrite_at(wh *h, uint32_t fd, const char *s, uint64_t off)
{
    uint32_t len = wh_str(h, BUF, s);
    wh_put_u32(h, IOV, BUF);
    wh_put_u32(h, IOV + 4, len);
    return WH_CALL(h, "x_fd_pwrite", WH_I32(fd), WH_I32(IOV), WH_I32(1), WH_I64(off), WH_I32(OUT));
}

static void test_quota_bytes(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_quota(t, 100, 0);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    static char sixty[61], forty[41];
    memset(sixty, 'a', 60);
    memset(forty, 'b', 40);
    uint32_t f;
    assert_int_equal(open_at(&h, 3, 0, "f", O_CREAT_, R_RW_FILE, 0, &f), E_OK);
    assert_int_equal(write_fd(&h, f, sixty, NULL), E_OK);
    /* overwriting in place adds nothing */
    assert_int_equal(pwrite_at(&h, f, sixty, 0), E_OK);
    assert_int_equal(pwrite_at(&h, f, "zz", 10), E_OK);
    /* 50 more at offset 50 would end at 110: refused whole, nothing written */
    assert_int_equal(pwrite_at(&h, f, forty, 70), E_DQUOT);
    assert_int_equal(file_size(t->data, "f"), 60);
    assert_true(h.w->quota_hit);
    assert_denial(h.w, 0, NC_WASI_FN_fd_pwrite, NC_DENY_QUOTA, "fd 6");
    /* exactly up to the quota */
    assert_int_equal(write_fd(&h, f, forty, NULL), E_OK);
    assert_int_equal(file_size(t->data, "f"), 100);
    assert_int_equal(write_fd(&h, f, "x", NULL), E_DQUOT);
    assert_int_equal(pwrite_at(&h, f, "x", 100), E_DQUOT);
    assert_int_equal(pwrite_at(&h, f, "y", 99), E_OK);   /* still inside */
    /* truncation gives nothing back: space cannot be cycled */
    assert_int_equal(WH_CALL(&h, "x_fd_filestat_set_size", WH_I32(f), WH_I64(0)), E_OK);
    assert_int_equal(pwrite_at(&h, f, "x", 0), E_DQUOT);
    assert_int_equal(WH_CALL(&h, "x_fd_filestat_set_size", WH_I32(f), WH_I64(10)), E_DQUOT);
    assert_int_equal(WH_CALL(&h, "x_fd_allocate", WH_I32(f), WH_I64(0), WH_I64(10)), E_DQUOT);
    assert_int_equal(file_size(t->data, "f"), 0);
    /* and neither does deleting */
    assert_int_equal(path1(&h, "x_path_unlink_file", 3, "f"), E_OK);
    uint32_t g;
    assert_int_equal(open_at(&h, 3, 0, "g", O_CREAT_, R_RW_FILE, FDF_APPEND, &g), E_OK);
    assert_int_equal(write_fd(&h, g, "x", NULL), E_DQUOT);
    assert_false(h.trapped);
    assert_int_equal(h.w->denied_total, 7);
    for (uint32_t i = 0; i < h.w->ndenied; i++)
        assert_int_equal(h.w->denied[i].reason, NC_DENY_QUOTA);
    /* other grants are not limited by data/'s quota */
    uint32_t o;
    assert_int_equal(open_at(&h, 5, 0, "o", O_CREAT_, R_RW_FILE, 0, &o), E_OK);
    assert_int_equal(write_fd(&h, o, sixty, NULL), E_OK);
    assert_int_equal(write_fd(&h, o, sixty, NULL), E_OK);
    wh_close(&h);
    close_other();
}

static void test_quota_growth_calls(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_quota(t, 1000, 0);
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    write_file(t->data, "old", "0123456789");   /* there before the run: not counted */
    uint32_t f, o;
    assert_int_equal(open_at(&h, 3, 0, "old", 0, R_RW_FILE, 0, &o), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_filestat_set_size", WH_I32(o), WH_I64(5)), E_OK);
    assert_int_equal(WH_CALL(&h, "x_fd_filestat_set_size", WH_I32(o), WH_I64(10)), E_OK);   /* 5 */
    assert_int_equal(open_at(&h, 3, 0, "f", O_CREAT_, R_RW_FILE, 0, &f), E_OK);
    int32_t e = WH_CALL(&h, "x_fd_allocate", WH_I32(f), WH_I64(0), WH_I64(500));   /* 505 */
    assert_true(e == E_OK || e == E_NOTSUP);
    if (e == E_OK) {
        assert_int_equal(file_size(t->data, "f"), 500);
        assert_int_equal(WH_CALL(&h, "x_fd_allocate", WH_I32(f), WH_I64(100), WH_I64(100)), E_OK);   /* inside */
        /* 5 + 500 used, 495 left: growing f to 995 fits, to 996 not */
        assert_int_equal(WH_CALL(&h, "x_fd_allocate", WH_I32(f), WH_I64(0), WH_I64(996)), E_DQUOT);
        assert_int_equal(WH_CALL(&h, "x_fd_filestat_set_size", WH_I32(f), WH_I64(995)), E_OK);
        assert_int_equal(WH_CALL(&h, "x_fd_filestat_set_size", WH_I32(f), WH_I64(996)), E_DQUOT);
        assert_int_equal(pwrite_at(&h, o, "x", 10), E_DQUOT);   /* old grew back to 10 */
    }
    assert_false(h.trapped);
    wh_close(&h);
    close_other();
}

static void test_quota_names(void **state)
{
    tmpdirs *t = *state;
    nc_wasi_config c = cfg_quota(t, 0, 3);
    write_file(t->data, "old", "x");   /* there before the run: not counted */
    wh h;
    wh_open(&h, "wasi_proxy", &c);
    assert_int_equal(open_at(&h, 3, 0, "a", O_CREAT_, R_RW_FILE, 0, NULL), E_OK);   /* 1 */
    assert_int_equal(open_at(&h, 3, 0, "a", O_CREAT_, R_RW_FILE, 0, NULL), E_OK);   /* exists: 1 */
    assert_int_equal(open_at(&h, 3, 0, "old", O_CREAT_ | O_TRUNC_, R_RW_FILE, 0, NULL), E_OK);
    assert_int_equal(path1(&h, "x_path_create_directory", 3, "d"), E_OK);          /* 2 */
    assert_int_equal(path1(&h, "x_path_create_directory", 3, "d"), E_EXIST);
    assert_int_equal(symlink_at(&h, "a", 3, "s"), E_OK);                             /* 3 */
    assert_int_equal(open_at(&h, 3, 0, "b", O_CREAT_, R_RW_FILE, 0, NULL), E_DQUOT);
    assert_false(exists(t->data, "b"));
    assert_int_equal(open_at(&h, 3, 0, "b", O_CREAT_ | O_EXCL_, R_RW_FILE, 0, NULL), E_DQUOT);
    assert_int_equal(path1(&h, "x_path_create_directory", 3, "e"), E_DQUOT);
    assert_int_equal(symlink_at(&h, "a", 3, "t"), E_DQUOT);
    assert_int_equal(link_at(&h, 3, 0, "a", 3, "hard"), E_DQUOT);
    assert_false(exists(t->data, "e") || exists(t->data, "t") || exists(t->data, "hard"));
    assert_true(h.w->quota_hit);
    assert_int_equal(h.w->denied_total, 5);
    assert_denial(h.w, 0, NC_WASI_FN_path_open, NC_DENY_QUOTA, "b");
    assert_denial(h.w, 2, NC_WASI_FN_path_create_directory, NC_DENY_QUOTA, "e");
    /* renames within the grant are free; removing gives nothing back */
    assert_int_equal(rename_at(&h, 3, "a", 3, "d/a2"), E_OK);
    assert_int_equal(path1(&h, "x_path_unlink_file", 3, "s"), E_OK);
    assert_int_equal(open_at(&h, 3, 0, "c", O_CREAT_, R_RW_FILE, 0, NULL), E_DQUOT);
    /* a rename or link into the quota'd grant from another grant would move
     * data in uncounted: EXDEV, as across devices; out of it is fine */
    char other[160];
    snprintf(other, sizeof other, "%s/other", t->root);
    write_file(other, "big", "0123456789");
    assert_int_equal(rename_at(&h, 5, "big", 3, "big"), E_XDEV);
    assert_int_equal(link_at(&h, 5, 0, "big", 3, "big"), E_XDEV);
    assert_int_equal(rename_at(&h, 3, "d/a2", 5, "a3"), E_OK);
    assert_true(exists(other, "a3"));
    /* the read-only grant's quota is ignored: it refuses writes anyway */
    assert_int_equal(open_at(&h, 4, 0, "x", O_CREAT_, R_RW_FILE, 0, NULL), E_NOTCAPABLE);
    assert_int_equal(h.w->denied[h.w->ndenied - 1].reason, NC_DENY_READONLY);
    wh_close(&h);
    close_other();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_new_rejects, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_signatures),
        cmocka_unit_test(test_stdio),
        cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_stdin_and_streams),
        cmocka_unit_test(test_args_env),
        cmocka_unit_test_setup_teardown(test_efault, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_path_arguments, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_ro_read_allowed, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_ro_writes_denied, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_escape_dotdot, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_escape_symlink, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_escape_absolute, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_no_preopen),
        cmocka_unit_test_setup_teardown(test_rw_roundtrip, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_readdir, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_proc_exit_raise),
        cmocka_unit_test(test_sockets_denied),
        cmocka_unit_test(test_clock_poll_random),
        cmocka_unit_test_setup_teardown(test_fd_limit_and_no_leaks, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_denial_cap, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_fifo_never_blocks, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_poll_interrupted),
        cmocka_unit_test_setup_teardown(test_guest_files, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_guest_stdio),
        cmocka_unit_test_setup_teardown(test_guest_escape, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_preopen_reports_directory_rights, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_directory_keeps_directory_rights_only, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_truncation_needs_path_filestat_set_size, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_sock_shutdown_badf_or_notsock, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_path_open_flags, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_descriptor_numbers, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_readdir_cookies, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_names_and_trailing_slashes, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_descriptor_rights_enforced, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_fdstat_set_flags, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_quota_bytes, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_quota_growth_calls, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_quota_names, tmp_setup, tmp_teardown),
    };
    return cmocka_run_group_tests(tests, wh_global_setup, wh_global_teardown);
}
