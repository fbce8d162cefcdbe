/* Night Core's WASI preview 1 host. See wasi.h for the contract.
 *
 * Everything the guest hands us is hostile: every pointer and length is
 * checked against the linear memory by subtraction before it is touched (a
 * bad one stops the guest, as the witx requires), every path is copied into
 * a bounded buffer, and every path is resolved by the kernel with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) relative to a directory the
 * guest was granted. Nothing is allocated in proportion to a size the guest
 * declares: I/O goes straight between the kernel and the (bounds-checked)
 * linear memory, or through fixed buffers in nc_wasi_priv.
 *
 * Rights: a preopen reports directory rights as its base and directory plus
 * file rights as inheriting (what Wasmtime reports). A descriptor opened with
 * path_open gets what it asked for, capped by its directory's inheriting
 * rights and by what its type can use (directory or file rights). Rights only
 * ever shrink (fd_fdstat_set_rights) and are enforced by every call the witx
 * ties to one; a missing right is NOTCAPABLE, except read and write, which
 * answer BADF as the kernel does for a descriptor not open for it.
 *
 * Calls that would need a capability the run was not given are refused with
 * the spec's error and recorded in w->denied. Host descriptors are opened
 * O_NONBLOCK so that no FIFO or device under a preopen can make a call block.
 *
 * Quotas: a read-write preopen may carry a byte and a name quota (wasi.h).
 * Growth is measured on each descriptor call that can grow a file (size
 * before and after), names on each call that creates one; shrinking and
 * deleting give nothing back, so a guest cannot cycle space. Renames and
 * links into a quota'd grant from another grant are EXDEV (as across
 * devices): the guest copies instead, which is counted. */
#include "sandbox/wasi.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ---- WASI preview 1 constants (wasi_snapshot_preview1.witx) ---- */

enum {
    W_SUCCESS = 0, W_2BIG = 1, W_ACCES = 2, W_ADDRINUSE = 3, W_ADDRNOTAVAIL = 4,
    W_AFNOSUPPORT = 5, W_AGAIN = 6, W_ALREADY = 7, W_BADF = 8, W_BADMSG = 9, W_BUSY = 10,
    W_CANCELED = 11, W_CHILD = 12, W_CONNABORTED = 13, W_CONNREFUSED = 14, W_CONNRESET = 15,
    W_DEADLK = 16, W_DESTADDRREQ = 17, W_DOM = 18, W_DQUOT = 19, W_EXIST = 20, W_FAULT = 21,
    W_FBIG = 22, W_HOSTUNREACH = 23, W_IDRM = 24, W_ILSEQ = 25, W_INPROGRESS = 26,
    W_INTR = 27, W_INVAL = 28, W_IO = 29, W_ISCONN = 30, W_ISDIR = 31, W_LOOP = 32,
    W_MFILE = 33, W_MLINK = 34, W_MSGSIZE = 35, W_MULTIHOP = 36, W_NAMETOOLONG = 37,
    W_NETDOWN = 38, W_NETRESET = 39, W_NETUNREACH = 40, W_NFILE = 41, W_NOBUFS = 42,
    W_NODEV = 43, W_NOENT = 44, W_NOEXEC = 45, W_NOLCK = 46, W_NOLINK = 47, W_NOMEM = 48,
    W_NOMSG = 49, W_NOPROTOOPT = 50, W_NOSPC = 51, W_NOSYS = 52, W_NOTCONN = 53,
    W_NOTDIR = 54, W_NOTEMPTY = 55, W_NOTRECOVERABLE = 56, W_NOTSOCK = 57, W_NOTSUP = 58,
    W_NOTTY = 59, W_NXIO = 60, W_OVERFLOW = 61, W_OWNERDEAD = 62, W_PERM = 63, W_PIPE = 64,
    W_PROTO = 65, W_PROTONOSUPPORT = 66, W_PROTOTYPE = 67, W_RANGE = 68, W_ROFS = 69,
    W_SPIPE = 70, W_SRCH = 71, W_STALE = 72, W_TIMEDOUT = 73, W_TXTBSY = 74, W_XDEV = 75,
    W_NOTCAPABLE = 76,
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
#define R_FD_FILESTAT_GET (1ull << 21)
#define R_FD_FILESTAT_SET_SIZE (1ull << 22)
#define R_FD_FILESTAT_SET_TIMES (1ull << 23)
#define R_PATH_SYMLINK (1ull << 24)
#define R_PATH_REMOVE_DIRECTORY (1ull << 25)
#define R_PATH_UNLINK_FILE (1ull << 26)
#define R_POLL_FD_READWRITE (1ull << 27)
#define R_SOCK_SHUTDOWN (1ull << 28)
#define R_SOCK_ACCEPT (1ull << 29)
#define R_ALL ((1ull << 30) - 1)

/* What a directory descriptor can use: the rights of the path calls made
 * through it, reading its entries, and its own metadata. */
#define R_DIR                                                                              \
    (R_PATH_CREATE_DIRECTORY | R_PATH_CREATE_FILE | R_PATH_LINK_SOURCE |                   \
     R_PATH_LINK_TARGET | R_PATH_OPEN | R_FD_READDIR | R_PATH_READLINK |                   \
     R_PATH_RENAME_SOURCE | R_PATH_RENAME_TARGET | R_PATH_FILESTAT_GET |                   \
     R_PATH_FILESTAT_SET_SIZE | R_PATH_FILESTAT_SET_TIMES | R_FD_FILESTAT_GET |            \
     R_FD_FILESTAT_SET_TIMES | R_PATH_SYMLINK | R_PATH_REMOVE_DIRECTORY | R_PATH_UNLINK_FILE)
/* What a file descriptor can use. */
#define R_FILE                                                                             \
    (R_FD_DATASYNC | R_FD_READ | R_FD_SEEK | R_FD_FDSTAT_SET_FLAGS | R_FD_SYNC | R_FD_TELL | \
     R_FD_WRITE | R_FD_ADVISE | R_FD_ALLOCATE | R_FD_FILESTAT_GET | R_FD_FILESTAT_SET_SIZE | \
     R_FD_FILESTAT_SET_TIMES | R_POLL_FD_READWRITE)

/* Rights that change stored data, names or metadata: never granted or
 * passed on beneath a read-only preopen. */
#define R_WRITE_ALL                                                                        \
    (R_FD_WRITE | R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE |                                \
     R_FD_FILESTAT_SET_TIMES | R_PATH_CREATE_DIRECTORY | R_PATH_CREATE_FILE |             \
     R_PATH_LINK_SOURCE | R_PATH_LINK_TARGET | R_PATH_RENAME_SOURCE |                     \
     R_PATH_RENAME_TARGET | R_PATH_FILESTAT_SET_SIZE | R_PATH_FILESTAT_SET_TIMES |        \
     R_PATH_SYMLINK | R_PATH_REMOVE_DIRECTORY | R_PATH_UNLINK_FILE)

#define R_STDIN (R_FD_READ | R_FD_FILESTAT_GET | R_POLL_FD_READWRITE)
#define R_STDOUT (R_FD_WRITE | R_FD_FILESTAT_GET | R_POLL_FD_READWRITE)

/* filetype */
enum {
    FT_UNKNOWN = 0, FT_BLOCK_DEVICE = 1, FT_CHARACTER_DEVICE = 2, FT_DIRECTORY = 3,
    FT_REGULAR_FILE = 4, FT_SOCKET_DGRAM = 5, FT_SOCKET_STREAM = 6, FT_SYMBOLIC_LINK = 7,
};

/* fdflags */
#define FDF_APPEND 0x01u
#define FDF_DSYNC 0x02u
#define FDF_NONBLOCK 0x04u
#define FDF_RSYNC 0x08u
#define FDF_SYNC 0x10u
#define FDF_ALL 0x1fu
#define FDF_SYNCS (FDF_DSYNC | FDF_RSYNC | FDF_SYNC)

/* oflags */
#define OF_CREAT 0x1u
#define OF_DIRECTORY 0x2u
#define OF_EXCL 0x4u
#define OF_TRUNC 0x8u
#define OF_ALL 0xfu

/* lookupflags */
#define LOOKUP_SYMLINK_FOLLOW 0x1u

/* fstflags */
#define FST_ATIM 0x1u
#define FST_ATIM_NOW 0x2u
#define FST_MTIM 0x4u
#define FST_MTIM_NOW 0x8u
#define FST_ALL 0xfu

/* sdflags */
#define SD_ALL 0x3u

/* poll_oneoff */
#define EV_CLOCK 0
#define EV_FD_READ 1
#define EV_FD_WRITE 2
#define SUBCLOCK_ABSTIME 0x1u
#define SUB_SIZE 48u
#define EVENT_SIZE 32u

#define DIRENT_HEADER 24u
#define FILESTAT_SIZE 64u
#define FDSTAT_SIZE 24u

/* ---- private state ---- */

enum fd_kind { FDK_FREE = 0, FDK_STDIN, FDK_STDOUT, FDK_STDERR, FDK_DIR, FDK_FILE };

#define NO_GRANT 0xffu

struct fd_entry {
    uint8_t kind;           /* enum fd_kind */
    uint8_t filetype;       /* WASI filetype */
    uint8_t grant;          /* the preopen this descends from; NO_GRANT for stdio */
    bool readonly;          /* at or beneath a read-only preopen */
    bool owned;             /* host_fd is ours to close (preopens are borrowed) */
    uint16_t fdflags;       /* as the guest sees them; host fds are always O_NONBLOCK */
    int host_fd;            /* -1 for stdio */
    int read_fd;            /* readable directory fd for getdents when host_fd is O_PATH */
    uint64_t rights_base, rights_inh;
    char *name;             /* preopen guest path (owned), NULL if not a preopen */
    uint32_t name_len;
    /* fd_readdir: cookies count entries ("." is 0, ".." 1, then the
     * directory's own); rd_off is the kernel offset of entry rd_cookie, so a
     * sequential listing never rescans from the start. */
    uint64_t rd_cookie;
    int64_t rd_off;
};

struct grant_use {
    uint64_t quota_bytes, quota_files;   /* 0 = unlimited */
    uint64_t bytes, files;               /* added so far */
};

struct nc_wasi_priv {
    struct fd_entry fds[NC_WASI_MAX_FDS];
    uint32_t fd_high;            /* descriptors ever handed out: 0 .. fd_high-1 */
    struct grant_use grants[NC_WASI_MAX_FDS];
    const uint8_t *stdin_data;   /* borrowed for the run */
    size_t stdin_len, stdin_pos;
    void (*on_output)(void *ctx, int stream, const uint8_t *data, size_t len);
    void *output_ctx;
    char *args, *env;            /* NUL-terminated strings back to back */
    uint32_t nargs, args_bytes, nenv, env_bytes;
    struct iovec iov[NC_WASI_MAX_IOVS];
    char path[2][NC_WASI_MAX_PATH + 1];     /* guest paths, as given */
    char scratch[2][NC_WASI_MAX_PATH + 1];  /* parent/last splits */
    uint8_t dents[NC_WASI_DIRENT_BYTES];
    uint64_t deadline_ns;        /* CLOCK_MONOTONIC, 0 = none */
    volatile sig_atomic_t in_call;           /* a host call is running */
    volatile sig_atomic_t deadline_marked;   /* the deadline's signal came */
};

/* One host call in progress. */
struct call {
    nc_wasi *w;
    struct nc_wasi_priv *p;
    const wasmtime_val_t *args;
    uint8_t *mem;           /* guest linear memory, fetched for this call; NULL if none */
    size_t mem_len;
    wasm_trap_t *trap;      /* set to stop the guest */
    unsigned fn;
};

/* ---- names ---- */

static const char *const fn_names[NC_WASI_FN_COUNT] = {
#define NC_WASI_NAME(name) #name,
    NC_WASI_FUNCS(NC_WASI_NAME)
#undef NC_WASI_NAME
};

static const char *const denial_codes[NC_DENY_COUNT] = {
#define NC_DENY_CODE(sym, code, msg) [sym] = code,
    NC_DENIALS(NC_DENY_CODE)
#undef NC_DENY_CODE
};

static const char *const denial_messages[NC_DENY_COUNT] = {
#define NC_DENY_MSG(sym, code, msg) [sym] = msg,
    NC_DENIALS(NC_DENY_MSG)
#undef NC_DENY_MSG
};

const char *nc_wasi_fn_name(unsigned fn)
{
    return fn < NC_WASI_FN_COUNT ? fn_names[fn] : "?";
}

const char *nc_denial_code(unsigned d)
{
    return d < NC_DENY_COUNT ? denial_codes[d] : "?";
}

const char *nc_denial_message(unsigned d)
{
    return d < NC_DENY_COUNT ? denial_messages[d] : "?";
}
/* ---- Linux errno -> WASI errno ---- */

static const uint8_t errno_map[] = {
    [E2BIG] = W_2BIG, [EACCES] = W_ACCES, [EADDRINUSE] = W_ADDRINUSE,
    [EADDRNOTAVAIL] = W_ADDRNOTAVAIL, [EAFNOSUPPORT] = W_AFNOSUPPORT, [EAGAIN] = W_AGAIN,
    [EALREADY] = W_ALREADY, [EBADF] = W_BADF, [EBADMSG] = W_BADMSG, [EBUSY] = W_BUSY,
    [ECANCELED] = W_CANCELED, [ECHILD] = W_CHILD, [ECONNABORTED] = W_CONNABORTED,
    [ECONNREFUSED] = W_CONNREFUSED, [ECONNRESET] = W_CONNRESET, [EDEADLK] = W_DEADLK,
    [EDESTADDRREQ] = W_DESTADDRREQ, [EDOM] = W_DOM, [EDQUOT] = W_DQUOT, [EEXIST] = W_EXIST,
    [EFAULT] = W_FAULT, [EFBIG] = W_FBIG, [EHOSTUNREACH] = W_HOSTUNREACH, [EIDRM] = W_IDRM,
    [EILSEQ] = W_ILSEQ, [EINPROGRESS] = W_INPROGRESS, [EINTR] = W_INTR, [EINVAL] = W_INVAL,
    [EIO] = W_IO, [EISCONN] = W_ISCONN, [EISDIR] = W_ISDIR, [ELOOP] = W_LOOP,
    [EMFILE] = W_MFILE, [EMLINK] = W_MLINK, [EMSGSIZE] = W_MSGSIZE, [EMULTIHOP] = W_MULTIHOP,
    [ENAMETOOLONG] = W_NAMETOOLONG, [ENETDOWN] = W_NETDOWN, [ENETRESET] = W_NETRESET,
    [ENETUNREACH] = W_NETUNREACH, [ENFILE] = W_NFILE, [ENOBUFS] = W_NOBUFS,
    [ENODEV] = W_NODEV, [ENOENT] = W_NOENT, [ENOEXEC] = W_NOEXEC, [ENOLCK] = W_NOLCK,
    [ENOLINK] = W_NOLINK, [ENOMEM] = W_NOMEM, [ENOMSG] = W_NOMSG,
    [ENOPROTOOPT] = W_NOPROTOOPT, [ENOSPC] = W_NOSPC, [ENOSYS] = W_NOSYS,
    [ENOTCONN] = W_NOTCONN, [ENOTDIR] = W_NOTDIR, [ENOTEMPTY] = W_NOTEMPTY,
    [ENOTRECOVERABLE] = W_NOTRECOVERABLE, [ENOTSOCK] = W_NOTSOCK, [ENOTSUP] = W_NOTSUP,
    [ENOTTY] = W_NOTTY, [ENXIO] = W_NXIO, [EOVERFLOW] = W_OVERFLOW,
    [EOWNERDEAD] = W_OWNERDEAD, [EPERM] = W_PERM, [EPIPE] = W_PIPE, [EPROTO] = W_PROTO,
    [EPROTONOSUPPORT] = W_PROTONOSUPPORT, [EPROTOTYPE] = W_PROTOTYPE, [ERANGE] = W_RANGE,
    [EROFS] = W_ROFS, [ESPIPE] = W_SPIPE, [ESRCH] = W_SRCH, [ESTALE] = W_STALE,
    [ETIMEDOUT] = W_TIMEDOUT, [ETXTBSY] = W_TXTBSY, [EXDEV] = W_XDEV,
    /* Linux-only codes with a close WASI meaning */
    [ETIME] = W_TIMEDOUT, [EHOSTDOWN] = W_HOSTUNREACH, [ESHUTDOWN] = W_PIPE,
    [EPFNOSUPPORT] = W_AFNOSUPPORT, [ESOCKTNOSUPPORT] = W_NOTSUP,
    [ENOTUNIQ] = W_IO, [ENOMEDIUM] = W_NODEV, [EREMOTEIO] = W_IO, [ENOTBLK] = W_NOTSUP,
};

/* errno (or an error number returned directly) to WASI; unknown -> EIO. */
static uint16_t werr(int e)
{
    if (e > 0 && (size_t)e < sizeof errno_map && errno_map[e] != W_SUCCESS)
        return errno_map[e];
    return W_IO;
}

/* ---- little-endian encoding of guest structures ---- */

static void le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

/* ---- guest memory ---- */

/* Stops the guest: the witx says a call handed an out-of-bounds or misaligned
 * pointer it needs to use traps rather than returns an errno. */
static uint16_t fault(struct call *c)
{
    if (!c->trap) {
        static const char msg[] = "nightcore: guest pointer out of bounds or misaligned";
        c->w->stop = NC_WASI_STOP_FAULT;
        c->w->stop_fn = c->fn;
        c->trap = wasmtime_trap_new(msg, sizeof msg - 1);
    }
    return W_FAULT;
}

/* True if [ptr, ptr + len) lies inside the guest memory (by subtraction) and
 * ptr is a multiple of align (a power of two); otherwise the guest is stopped. */
static bool g_ok(struct call *c, uint32_t ptr, uint64_t len, uint32_t align)
{
    if (c->mem && ptr <= c->mem_len && len <= c->mem_len - ptr && (ptr & (align - 1)) == 0)
        return true;
    fault(c);
    return false;
}

/* Copies n host bytes to the guest (checked, unaligned). */
static uint16_t mem_put(struct call *c, uint32_t ptr, const void *src, size_t n)
{
    if (!g_ok(c, ptr, n, 1))
        return W_FAULT;
    if (n)
        memcpy(c->mem + ptr, src, n);
    return W_SUCCESS;
}

static uint16_t put_u32(struct call *c, uint32_t ptr, uint32_t v)
{
    uint8_t b[4];
    if (!g_ok(c, ptr, 4, 4))
        return W_FAULT;
    le32(b, v);
    memcpy(c->mem + ptr, b, 4);
    return W_SUCCESS;
}

static uint16_t put_u64(struct call *c, uint32_t ptr, uint64_t v)
{
    uint8_t b[8];
    if (!g_ok(c, ptr, 8, 8))
        return W_FAULT;
    le64(b, v);
    memcpy(c->mem + ptr, b, 8);
    return W_SUCCESS;
}

static uint32_t arg32(const struct call *c, size_t i)
{
    return (uint32_t)c->args[i].of.i32;
}

static uint64_t arg64(const struct call *c, size_t i)
{
    return (uint64_t)c->args[i].of.i64;
}

/* Reads the guest's iovec array into p->iov (pointers into guest memory,
 * every non-empty one bounds-checked). Totals above 4 GiB cannot be reported
 * in a u32 and are refused. */
static uint16_t iovs_get(struct call *c, uint32_t ptr, uint32_t n, size_t *count, uint64_t *total_out)
{
    *count = 0;
    *total_out = 0;
    if (n > NC_WASI_MAX_IOVS)
        return W_INVAL;
    if (!g_ok(c, ptr, (uint64_t)n * 8, 4))
        return W_FAULT;
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *rec = c->mem + ptr + (size_t)i * 8;
        uint32_t buf = rd32(rec), len = rd32(rec + 4);
        if (len && !g_ok(c, buf, len, 1))
            return W_FAULT;
        total += len;
        c->p->iov[i].iov_base = len ? c->mem + buf : c->mem;
        c->p->iov[i].iov_len = len;
    }
    if (total > UINT32_MAX)
        return W_INVAL;
    *count = n;
    *total_out = total;
    return W_SUCCESS;
}

/* ---- denials ---- */

static void deny(struct call *c, nc_denial reason, const char *detail, size_t len)
{
    nc_wasi *w = c->w;
    if (w->denied_total < UINT32_MAX)
        w->denied_total++;
    if (w->ndenied >= NC_WASI_MAX_DENIED)
        return;
    nc_wasi_denied *d = &w->denied[w->ndenied++];
    d->fn = (uint8_t)c->fn;
    d->reason = (uint8_t)reason;
    size_t n = len < sizeof d->detail - 1 ? len : sizeof d->detail - 1;
    /* The detail ends up in logs and reports: keep it printable. */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)detail[i];
        d->detail[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    d->detail[n] = '\0';
}

static void deny_str(struct call *c, nc_denial reason, const char *s)
{
    deny(c, reason, s, strlen(s));
}

/* "<prefix><decimal>" into buf (which holds at least 32 bytes). */
static size_t fmt_num(char *buf, size_t cap, const char *prefix, uint32_t v)
{
    char digits[10];
    size_t nd = 0, n = 0;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (; prefix[n] && n < cap - 1; n++)
        buf[n] = prefix[n];
    while (nd && n < cap - 1)
        buf[n++] = digits[--nd];
    buf[n] = '\0';
    return n;
}

static void deny_num(struct call *c, nc_denial reason, const char *prefix, uint32_t v)
{
    char buf[32];
    size_t n = fmt_num(buf, sizeof buf, prefix, v);
    deny(c, reason, buf, n);
}

/* ---- descriptor table ---- */

static void entry_reset(struct fd_entry *e)
{
    memset(e, 0, sizeof *e);
    e->host_fd = -1;
    e->read_fd = -1;
    e->grant = NO_GRANT;
}

static void entry_close(struct fd_entry *e)
{
    if (e->owned && e->host_fd >= 0)
        close(e->host_fd);
    if (e->read_fd >= 0)
        close(e->read_fd);
    free(e->name);
    entry_reset(e);
}

static struct fd_entry *fd_get(struct call *c, uint32_t fd)
{
    if (fd >= NC_WASI_MAX_FDS)
        return NULL;
    struct fd_entry *e = &c->p->fds[fd];
    return e->kind == FDK_FREE ? NULL : e;
}

/* The number a new descriptor gets, as Wasmtime hands them out: the highest
 * number given out before and closed since, else the next never used one.
 * ENFILE (and a denial) when the table is full. */
static uint16_t fd_alloc(struct call *c, uint32_t *out)
{
    struct nc_wasi_priv *p = c->p;
    for (uint32_t i = p->fd_high; i-- > 0;) {
        if (p->fds[i].kind == FDK_FREE) {
            *out = i;
            return W_SUCCESS;
        }
    }
    if (p->fd_high < NC_WASI_MAX_FDS) {
        *out = p->fd_high++;
        return W_SUCCESS;
    }
    deny_num(c, NC_DENY_FD_LIMIT, "table full at ", NC_WASI_MAX_FDS);
    return W_NFILE;
}

/* A descriptor the call needs a right on: NOTCAPABLE when it lacks it. */
static uint16_t need(const struct fd_entry *e, uint64_t rights)
{
    return (e->rights_base & rights) == rights ? W_SUCCESS : W_NOTCAPABLE;
}

static uint8_t filetype_of(mode_t m)
{
    if (S_ISREG(m))
        return FT_REGULAR_FILE;
    if (S_ISDIR(m))
        return FT_DIRECTORY;
    if (S_ISLNK(m))
        return FT_SYMBOLIC_LINK;
    if (S_ISCHR(m))
        return FT_CHARACTER_DEVICE;
    if (S_ISBLK(m))
        return FT_BLOCK_DEVICE;
    if (S_ISSOCK(m))
        return FT_SOCKET_STREAM;
    return FT_UNKNOWN;
}

/* ---- quotas ---- */

static struct grant_use *grant_of(struct call *c, const struct fd_entry *e)
{
    return e->grant == NO_GRANT ? NULL : &c->p->grants[e->grant];
}

static void quota_refused(struct call *c, const char *detail, size_t len)
{
    c->w->quota_hit = true;
    deny(c, NC_DENY_QUOTA, detail, len);
}

/* Before creating a name beneath base: DQUOT (and a denial) if the grant's
 * name quota is used up. */
static uint16_t quota_name(struct call *c, const struct fd_entry *base, const char *path)
{
    struct grant_use *g = grant_of(c, base);
    if (!g || !g->quota_files || g->files < g->quota_files)
        return W_SUCCESS;
    quota_refused(c, path, strlen(path));
    return W_DQUOT;
}

static void quota_name_used(struct call *c, const struct fd_entry *base)
{
    struct grant_use *g = grant_of(c, base);
    if (g && g->files < UINT64_MAX)
        g->files++;
}

/* True if growth beneath e must be measured. */
static bool quota_bytes_on(struct call *c, const struct fd_entry *e)
{
    struct grant_use *g = grant_of(c, e);
    return g && g->quota_bytes;
}

/* Before growing a file by grow bytes through descriptor fd. */
static uint16_t quota_bytes(struct call *c, const struct fd_entry *e, uint32_t fd, uint64_t grow)
{
    struct grant_use *g = grant_of(c, e);
    if (!g || !g->quota_bytes || grow == 0)
        return W_SUCCESS;
    if (g->bytes <= g->quota_bytes && grow <= g->quota_bytes - g->bytes)
        return W_SUCCESS;
    char buf[32];
    size_t n = fmt_num(buf, sizeof buf, "fd ", fd);
    quota_refused(c, buf, n);
    return W_DQUOT;
}

static void quota_bytes_used(struct call *c, const struct fd_entry *e, uint64_t grow)
{
    struct grant_use *g = grant_of(c, e);
    if (g)
        g->bytes = grow > UINT64_MAX - g->bytes ? UINT64_MAX : g->bytes + grow;
}

/* The size of the file behind a descriptor, for measuring growth. */
static uint16_t size_of_fd(int fd, uint64_t *out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return werr(errno);
    *out = st.st_size > 0 ? (uint64_t)st.st_size : 0;
    return W_SUCCESS;
}

/* ---- host path resolution ---- */

/* openat2 beneath dirfd; never follows magic links. Returns the fd or -1/errno. */
static int beneath_open(int dirfd, const char *path, int flags, mode_t mode)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(unsigned)(flags | O_CLOEXEC);
    how.mode = (flags & O_CREAT) ? (uint64_t)mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    for (unsigned i = 0;; i++) {
        long r = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
        if (r >= 0)
            return (int)r;
        /* EAGAIN: a concurrent rename raced a ".." check; the kernel asks us to retry. */
        if ((errno == EAGAIN || errno == EINTR) && i < NC_WASI_SYSCALL_RETRIES)
            continue;
        return -1;
    }
}

/* openat2 under the granted directory; EXDEV (the path tried to leave it)
 * becomes ENOTCAPABLE and a denial naming the guest path. */
static uint16_t open_under(struct call *c, const struct fd_entry *base, const char *path,
                           const char *guest_path, int flags, mode_t mode, int *out)
{
    *out = -1;
    int fd = beneath_open(base->host_fd, path, flags, mode);
    if (fd < 0) {
        if (errno == EXDEV) {
            deny_str(c, NC_DENY_ESCAPE, guest_path);
            return W_NOTCAPABLE;
        }
        return werr(errno);
    }
    *out = fd;
    return W_SUCCESS;
}

/* The directory a path call starts from. A descriptor that is not open, or
 * not a directory, is a request for a capability the run does not have. */
static uint16_t path_base(struct call *c, uint32_t fd, struct fd_entry **out)
{
    *out = NULL;
    struct fd_entry *e = fd_get(c, fd);
    if (!e || e->kind != FDK_DIR) {
        deny_num(c, NC_DENY_NO_PREOPEN, "fd ", fd);
        return W_BADF;
    }
    *out = e;
    return W_SUCCESS;
}

/* The witx `string` is UTF-8: anything else is ILSEQ. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        size_t need_bytes;
        uint32_t cp;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xe0) == 0xc0) {
            need_bytes = 1;
            cp = b & 0x1f;
        } else if ((b & 0xf0) == 0xe0) {
            need_bytes = 2;
            cp = b & 0x0f;
        } else if ((b & 0xf8) == 0xf0) {
            need_bytes = 3;
            cp = b & 0x07;
        } else {
            return false;
        }
        if (n - i - 1 < need_bytes)
            return false;
        for (size_t k = 1; k <= need_bytes; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        /* overlong forms, surrogates, beyond U+10FFFF */
        if ((need_bytes == 1 && cp < 0x80) || (need_bytes == 2 && cp < 0x800) ||
            (need_bytes == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need_bytes + 1;
    }
    return true;
}

/* Copies a guest path (not NUL-terminated) into buf, NUL-terminated. */
static uint16_t path_copy(struct call *c, uint32_t ptr, uint32_t len, char *buf)
{
    if (!g_ok(c, ptr, len, 1))
        return W_FAULT;
    if (len > NC_WASI_MAX_PATH)
        return W_NAMETOOLONG;
    if (!utf8_valid(c->mem + ptr, len))
        return W_ILSEQ;
    if (len && memchr(c->mem + ptr, '\0', len))
        return W_INVAL;
    if (len)
        memcpy(buf, c->mem + ptr, len);
    buf[len] = '\0';
    return W_SUCCESS;
}

static uint16_t refuse_readonly(struct call *c, const struct fd_entry *base, const char *detail)
{
    if (!base->readonly)
        return W_SUCCESS;
    deny_str(c, NC_DENY_READONLY, detail);
    return W_NOTCAPABLE;
}

/* Base directory + path copied into p->path[slot]; a call that writes is
 * refused (and recorded) under a read-only preopen before its right is
 * checked, so the record says why. */
static uint16_t path_arg(struct call *c, uint32_t fd, uint32_t ptr, uint32_t len, int slot,
                         uint64_t right, bool writes, struct fd_entry **base)
{
    uint16_t e = path_base(c, fd, base);
    if (e == W_SUCCESS)
        e = path_copy(c, ptr, len, c->p->path[slot]);
    if (e == W_SUCCESS && writes)
        e = refuse_readonly(c, *base, c->p->path[slot]);
    if (e == W_SUCCESS)
        e = need(*base, right);
    return e;
}

static uint16_t refuse_readonly_fd(struct call *c, const struct fd_entry *e, uint32_t fd)
{
    if (!e->readonly)
        return W_SUCCESS;
    deny_num(c, NC_DENY_READONLY, "fd ", fd);
    return W_NOTCAPABLE;
}

/* A path split into an opened parent directory and a final component that
 * no *at call will follow: `last` never contains a '/'. */
struct split {
    int dirfd;
    const char *last;
    bool slash;   /* the guest path ended in '/' */
};

static void split_close(struct split *s)
{
    if (s->dirfd >= 0)
        close(s->dirfd);
    s->dirfd = -1;
}

static uint16_t split_open(struct call *c, const struct fd_entry *base, const char *path,
                           char *scratch, struct split *s)
{
    s->dirfd = -1;
    s->last = NULL;
    s->slash = false;
    size_t n = strlen(path);
    if (n == 0)
        return W_NOENT;
    memcpy(scratch, path, n + 1);
    while (n > 1 && scratch[n - 1] == '/') {
        scratch[--n] = '\0';
        s->slash = true;
    }
    size_t i = n;
    while (i > 0 && scratch[i - 1] != '/')
        i--;
    const char *last = scratch + i;
    const char *parent;
    if (last[0] == '\0' || strcmp(last, ".") == 0 || strcmp(last, "..") == 0) {
        /* "x/..", ".", "/": the final component is a directory already
         * reached by resolution. Resolve all of it and act on ".", so no *at
         * call ever sees "..". */
        parent = scratch;
        last = ".";
    } else if (i == 0) {
        parent = ".";
    } else if (i == 1) {
        parent = "/";   /* absolute: openat2 refuses it (EXDEV) */
    } else {
        scratch[i - 1] = '\0';
        parent = scratch;
    }
    int fd;
    uint16_t e = open_under(c, base, parent, path, O_PATH | O_DIRECTORY, 0, &fd);
    if (e != W_SUCCESS)
        return e;
    s->dirfd = fd;
    s->last = last;
    return W_SUCCESS;
}

/* A trailing '/' asks for a directory; `last` had it stripped, so emulate:
 * ENOTDIR unless the entry (not followed) is a directory or a link to one. */
static uint16_t slash_needs_dir(const struct split *s)
{
    if (!s->slash)
        return W_SUCCESS;
    struct stat st;
    if (fstatat(s->dirfd, s->last, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return werr(errno);
    return S_ISDIR(st.st_mode) ? W_SUCCESS : W_NOTDIR;
}

/* A trailing '/' on a name to create as a non-directory: NOENT if nothing
 * is there, EXIST if a directory is, NOTDIR if something else is. */
static uint16_t slash_create(const struct split *s)
{
    if (!s->slash)
        return W_SUCCESS;
    struct stat st;
    if (fstatat(s->dirfd, s->last, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return W_NOENT;
    return S_ISDIR(st.st_mode) ? W_EXIST : W_NOTDIR;
}

/* A readable descriptor for getdents64 on a directory entry. */
static uint16_t dir_reader(struct fd_entry *e, int *out)
{
    *out = -1;
    if (e->read_fd >= 0) {
        *out = e->read_fd;
        return W_SUCCESS;
    }
    int fl = fcntl(e->host_fd, F_GETFL);
    if (fl < 0)
        return werr(errno);
    if (!(fl & O_PATH) && (fl & O_ACCMODE) != O_WRONLY) {
        *out = e->host_fd;
        return W_SUCCESS;
    }
    int fd = beneath_open(e->host_fd, ".", O_RDONLY | O_DIRECTORY | O_NONBLOCK, 0);
    if (fd < 0)
        return werr(errno);
    e->read_fd = fd;
    *out = fd;
    return W_SUCCESS;
}
/* ---- time ---- */

static bool clock_of(uint32_t id, clockid_t *out)
{
    switch (id) {
    case 0: *out = CLOCK_REALTIME; return true;
    case 1: *out = CLOCK_MONOTONIC; return true;
    case 2: *out = CLOCK_PROCESS_CPUTIME_ID; return true;
    case 3: *out = CLOCK_THREAD_CPUTIME_ID; return true;
    default: return false;
    }
}

/* Timestamps before 1970 clamp to 0, beyond 2554 to UINT64_MAX. */
static uint64_t ts_ns(const struct timespec *ts)
{
    if (ts->tv_sec < 0)
        return 0;
    uint64_t s = (uint64_t)ts->tv_sec;
    if (s > (UINT64_MAX - 999999999u) / 1000000000u)
        return UINT64_MAX;
    return s * 1000000000u + (uint64_t)ts->tv_nsec;
}

static struct timespec ns_ts(uint64_t ns)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    return ts;
}

/* fst_flags + values -> utimensat times; EINVAL on contradictory flags. */
static uint16_t times_of(uint64_t atim, uint64_t mtim, uint32_t fst, struct timespec ts[2])
{
    if ((fst & ~FST_ALL) || ((fst & FST_ATIM) && (fst & FST_ATIM_NOW)) ||
        ((fst & FST_MTIM) && (fst & FST_MTIM_NOW)))
        return W_INVAL;
    ts[0].tv_sec = 0;
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1] = ts[0];
    if (fst & FST_ATIM)
        ts[0] = ns_ts(atim);
    else if (fst & FST_ATIM_NOW)
        ts[0].tv_nsec = UTIME_NOW;
    if (fst & FST_MTIM)
        ts[1] = ns_ts(mtim);
    else if (fst & FST_MTIM_NOW)
        ts[1].tv_nsec = UTIME_NOW;
    return W_SUCCESS;
}

static void filestat_bytes(uint8_t b[FILESTAT_SIZE], const struct stat *st)
{
    memset(b, 0, FILESTAT_SIZE);
    le64(b + 0, (uint64_t)st->st_dev);
    le64(b + 8, (uint64_t)st->st_ino);
    b[16] = filetype_of(st->st_mode);
    le64(b + 24, (uint64_t)st->st_nlink);
    le64(b + 32, st->st_size > 0 ? (uint64_t)st->st_size : 0);
    le64(b + 40, ts_ns(&st->st_atim));
    le64(b + 48, ts_ns(&st->st_mtim));
    le64(b + 56, ts_ns(&st->st_ctim));
}

/* ---- args and environment ---- */

static uint16_t strings_sizes(struct call *c, uint32_t count, uint32_t bytes)
{
    uint32_t pcount = arg32(c, 0), pbytes = arg32(c, 1);
    if (!g_ok(c, pcount, 4, 4) || !g_ok(c, pbytes, 4, 4))
        return W_FAULT;
    (void)put_u32(c, pcount, count);
    (void)put_u32(c, pbytes, bytes);
    return W_SUCCESS;
}

static uint16_t strings_get(struct call *c, const char *strs, uint32_t count, uint32_t bytes)
{
    uint32_t pptrs = arg32(c, 0), pbuf = arg32(c, 1);
    if (count == 0)
        return W_SUCCESS;   /* nothing to write: the pointers are never used */
    if (!g_ok(c, pptrs, (uint64_t)count * 4, 4) || !g_ok(c, pbuf, bytes, 1))
        return W_FAULT;
    memcpy(c->mem + pbuf, strs, bytes);
    /* Offsets come from our copy, never from guest memory the guest may
     * have overlapped with the pointer array. */
    uint32_t off = 0;
    for (uint32_t i = 0; i < count; i++) {
        (void)put_u32(c, pptrs + 4 * i, pbuf + off);
        off += (uint32_t)strlen(strs + off) + 1;
    }
    return W_SUCCESS;
}

static uint16_t do_args_get(struct call *c)
{
    return strings_get(c, c->p->args, c->p->nargs, c->p->args_bytes);
}

static uint16_t do_args_sizes_get(struct call *c)
{
    return strings_sizes(c, c->p->nargs, c->p->args_bytes);
}

static uint16_t do_environ_get(struct call *c)
{
    return strings_get(c, c->p->env, c->p->nenv, c->p->env_bytes);
}

static uint16_t do_environ_sizes_get(struct call *c)
{
    return strings_sizes(c, c->p->nenv, c->p->env_bytes);
}

/* ---- clocks, randomness, scheduling ---- */

static uint16_t do_clock_res_get(struct call *c)
{
    clockid_t id;
    uint32_t out = arg32(c, 1);
    if (!clock_of(arg32(c, 0), &id))
        return W_INVAL;
    if (!g_ok(c, out, 8, 8))
        return W_FAULT;
    struct timespec ts;
    if (clock_getres(id, &ts) != 0)
        return werr(errno);
    return put_u64(c, out, ts_ns(&ts));
}

static uint16_t do_clock_time_get(struct call *c)
{
    clockid_t id;
    uint32_t out = arg32(c, 2);   /* arg 1 is the precision: best effort is allowed */
    if (!clock_of(arg32(c, 0), &id))
        return W_INVAL;
    if (!g_ok(c, out, 8, 8))
        return W_FAULT;
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return werr(errno);
    if (ts.tv_sec < 0)
        return W_OVERFLOW;
    return put_u64(c, out, ts_ns(&ts));
}

static uint16_t do_random_get(struct call *c)
{
    uint32_t buf = arg32(c, 0), len = arg32(c, 1);
    if (!g_ok(c, buf, len, 1))
        return W_FAULT;
    size_t done = 0;
    while (done < len) {
        ssize_t r = getrandom(c->mem + buf + done, len - done, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return werr(errno);
        }
        done += (size_t)r;
    }
    return W_SUCCESS;
}

static uint16_t do_sched_yield(struct call *c)
{
    (void)c;
    return W_SUCCESS;
}

/* ---- process ---- */

static uint16_t do_proc_exit(struct call *c)
{
    c->w->stop = NC_WASI_STOP_EXIT;
    c->w->exit_code = c->args[0].of.i32;
    c->trap = wasmtime_trap_new("nightcore: proc_exit", 20);
    return W_SUCCESS;
}

static uint16_t do_proc_raise(struct call *c)
{
    c->w->stop = NC_WASI_STOP_RAISE;
    deny_num(c, NC_DENY_SIGNAL, "signal ", arg32(c, 0));
    c->trap = wasmtime_trap_new("nightcore: proc_raise", 21);
    return W_NOTSUP;
}

/* ---- sockets: none ever exists ---- */

/* Every sock_* call is a network attempt (recorded); no descriptor is a
 * socket, so an open one is NOTSOCK and any other BADF. */
static uint16_t refuse_socket(struct call *c)
{
    uint32_t fd = arg32(c, 0);
    deny_num(c, NC_DENY_NETWORK, "fd ", fd);
    return fd_get(c, fd) ? W_NOTSOCK : W_BADF;
}

static uint16_t do_sock_accept(struct call *c)
{
    if (arg32(c, 1) & ~FDF_ALL)
        return W_INVAL;
    return refuse_socket(c);
}

static uint16_t do_sock_recv(struct call *c)
{
    return refuse_socket(c);
}

static uint16_t do_sock_send(struct call *c)
{
    return refuse_socket(c);
}

static uint16_t do_sock_shutdown(struct call *c)
{
    if (arg32(c, 1) & ~SD_ALL)
        return W_INVAL;
    return refuse_socket(c);
}

/* ---- descriptors ---- */

/* A descriptor that must be an open file (not a directory, not stdio):
 * BADF otherwise, as in Wasmtime. */
static struct fd_entry *file_get(struct call *c, uint32_t fd)
{
    struct fd_entry *e = fd_get(c, fd);
    return e && e->kind == FDK_FILE ? e : NULL;
}

static uint16_t do_fd_advise(struct call *c)
{
    uint32_t fd = arg32(c, 0);
    uint64_t off = arg64(c, 1), len = arg64(c, 2);
    uint32_t advice = arg32(c, 3);
    static const int advices[] = {POSIX_FADV_NORMAL, POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                                  POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED, POSIX_FADV_NOREUSE};
    if (advice >= sizeof advices / sizeof advices[0])
        return W_INVAL;
    struct fd_entry *e = file_get(c, fd);
    if (!e)
        return W_BADF;
    uint16_t err = need(e, R_FD_ADVISE);
    if (err != W_SUCCESS)
        return err;
    if (off > INT64_MAX || len > INT64_MAX)
        return W_INVAL;
    int r = posix_fadvise(e->host_fd, (off_t)off, (off_t)len, advices[advice]);
    return r ? werr(r) : W_SUCCESS;
}

static uint16_t do_fd_allocate(struct call *c)
{
    uint32_t fd = arg32(c, 0);
    uint64_t off = arg64(c, 1), len = arg64(c, 2);
    struct fd_entry *e = file_get(c, fd);
    if (!e)
        return W_BADF;
    uint16_t err = refuse_readonly_fd(c, e, fd);
    if (err == W_SUCCESS)
        err = need(e, R_FD_ALLOCATE);
    if (err != W_SUCCESS)
        return err;
    if (len == 0)
        return W_INVAL;
    if (off > INT64_MAX || len > (uint64_t)INT64_MAX - off)
        return W_FBIG;
    uint64_t before = 0, after = 0;
    bool measure = quota_bytes_on(c, e);
    if (measure) {
        if ((err = size_of_fd(e->host_fd, &before)) != W_SUCCESS)
            return err;
        if ((err = quota_bytes(c, e, fd, off + len > before ? off + len - before : 0)) != W_SUCCESS)
            return err;
    }
    /* fallocate(2), not posix_fallocate(3): no fallback that writes zeros. */
    err = fallocate(e->host_fd, 0, (off_t)off, (off_t)len) != 0 ? werr(errno) : W_SUCCESS;
    if (measure && size_of_fd(e->host_fd, &after) == W_SUCCESS && after > before)
        quota_bytes_used(c, e, after - before);
    return err;
}

static uint16_t do_fd_close(struct call *c)
{
    struct fd_entry *e = fd_get(c, arg32(c, 0));
    if (!e)
        return W_BADF;
    entry_close(e);
    return W_SUCCESS;
}

static uint16_t sync_fd(struct call *c, bool data_only)
{
    struct fd_entry *e = file_get(c, arg32(c, 0));
    if (!e)
        return W_BADF;
    uint16_t err = need(e, data_only ? R_FD_DATASYNC : R_FD_SYNC);
    if (err != W_SUCCESS)
        return err;
    if ((data_only ? fdatasync(e->host_fd) : fsync(e->host_fd)) != 0)
        return werr(errno);
    return W_SUCCESS;
}

static uint16_t do_fd_datasync(struct call *c)
{
    return sync_fd(c, true);
}

static uint16_t do_fd_sync(struct call *c)
{
    return sync_fd(c, false);
}

static uint16_t do_fd_fdstat_get(struct call *c)
{
    uint32_t out = arg32(c, 1);
    struct fd_entry *e = fd_get(c, arg32(c, 0));
    if (!e)
        return W_BADF;
    if (!g_ok(c, out, FDSTAT_SIZE, 8))
        return W_FAULT;
    uint8_t b[FDSTAT_SIZE];
    memset(b, 0, sizeof b);
    b[0] = e->filetype;
    le16(b + 2, e->fdflags);
    le64(b + 8, e->rights_base);
    le64(b + 16, e->rights_inh);
    return mem_put(c, out, b, sizeof b);
}

static uint16_t do_fd_fdstat_set_flags(struct call *c)
{
    uint32_t fd = arg32(c, 0), flags = arg32(c, 1);
    if (flags & ~FDF_ALL)
        return W_INVAL;
    struct fd_entry *e = file_get(c, fd);
    if (!e)
        return W_BADF;   /* only files: stdio and directories keep their flags */
    uint32_t changed = flags ^ e->fdflags;
    uint16_t err = W_SUCCESS;
    if ((changed & FDF_APPEND) && (flags & FDF_APPEND))
        err = refuse_readonly_fd(c, e, fd);
    if (err == W_SUCCESS)
        err = need(e, R_FD_FDSTAT_SET_FLAGS);
    if (err != W_SUCCESS)
        return err;
    /* Linux cannot switch the sync modes of an open file. */
    if (changed & FDF_SYNCS)
        return W_INVAL;
    if (changed & FDF_APPEND) {
        int fl = fcntl(e->host_fd, F_GETFL);
        if (fl < 0)
            return werr(errno);
        fl = (flags & FDF_APPEND) ? (fl | O_APPEND) : (fl & ~O_APPEND);
        if (fcntl(e->host_fd, F_SETFL, fl | O_NONBLOCK) != 0)
            return werr(errno);
    }
    e->fdflags = (uint16_t)flags;   /* NONBLOCK is the guest's view: nothing here ever blocks */
    return W_SUCCESS;
}

static uint16_t do_fd_fdstat_set_rights(struct call *c)
{
    uint64_t base = arg64(c, 1), inh = arg64(c, 2);
    struct fd_entry *e = fd_get(c, arg32(c, 0));
    if (!e)
        return W_BADF;
    /* Rights only ever shrink. */
    if ((base & ~e->rights_base) || (inh & ~e->rights_inh))
        return W_NOTCAPABLE;
    e->rights_base = base;
    e->rights_inh = inh;
    return W_SUCCESS;
}

static uint16_t do_fd_filestat_get(struct call *c)
{
    uint32_t out = arg32(c, 1);
    struct fd_entry *e = fd_get(c, arg32(c, 0));
    if (!e)
        return W_BADF;
    uint16_t err = need(e, R_FD_FILESTAT_GET);
    if (err != W_SUCCESS)
        return err;
    if (!g_ok(c, out, FILESTAT_SIZE, 8))
        return W_FAULT;
    uint8_t b[FILESTAT_SIZE];
    memset(b, 0, sizeof b);
    if (e->host_fd >= 0) {
        struct stat st;
        if (fstat(e->host_fd, &st) != 0)
            return werr(errno);
        filestat_bytes(b, &st);
    } else {
        b[16] = e->filetype;   /* stdio: in-memory streams, no host inode to show */
    }
    return mem_put(c, out, b, sizeof b);
}

static uint16_t do_fd_filestat_set_size(struct call *c)
{
    uint32_t fd = arg32(c, 0);
    uint64_t size = arg64(c, 1);
    struct fd_entry *e = file_get(c, fd);
    if (!e)
        return W_BADF;
    uint16_t err = refuse_readonly_fd(c, e, fd);
    if (err == W_SUCCESS)
        err = need(e, R_FD_FILESTAT_SET_SIZE);
    if (err != W_SUCCESS)
        return err;
    if (size > INT64_MAX)
        return W_INVAL;
    uint64_t before = 0, after = 0;
    bool measure = quota_bytes_on(c, e);
    if (measure) {
        if ((err = size_of_fd(e->host_fd, &before)) != W_SUCCESS)
            return err;
        if ((err = quota_bytes(c, e, fd, size > before ? size - before : 0)) != W_SUCCESS)
            return err;
    }
    err = ftruncate(e->host_fd, (off_t)size) != 0 ? werr(errno) : W_SUCCESS;
    if (measure && size_of_fd(e->host_fd, &after) == W_SUCCESS && after > before)
        quota_bytes_used(c, e, after - before);
    return err;
}

static uint16_t do_fd_filestat_set_times(struct call *c)
{
    uint32_t fd = arg32(c, 0);
    struct timespec ts[2];
    uint16_t err = times_of(arg64(c, 1), arg64(c, 2), arg32(c, 3), ts);
    if (err != W_SUCCESS)
        return err;
    struct fd_entry *e = fd_get(c, fd);
    if (!e || e->host_fd < 0)
        return W_BADF;   /* stdio has no file to stamp */
    err = refuse_readonly_fd(c, e, fd);
    if (err == W_SUCCESS)
        err = need(e, R_FD_FILESTAT_SET_TIMES);
    if (err != W_SUCCESS)
        return err;
    /* AT_EMPTY_PATH works on O_PATH descriptors too (preopens). */
    if (utimensat(e->host_fd, "", ts, AT_EMPTY_PATH) != 0)
        return werr(errno);
    return W_SUCCESS;
}

static uint16_t do_fd_prestat_get(struct call *c)
{
    uint32_t out = arg32(c, 1);
    struct fd_entry *e = fd_get(c, arg32(c, 0));
    if (!e || !e->name)
        return W_BADF;   /* how the guest's preopen scan learns it has reached the end */
    if (!g_ok(c, out, 8, 4))
        return W_FAULT;
    uint8_t b[8];
    memset(b, 0, sizeof b);   /* tag 0 = dir */
    le32(b + 4, e->name_len);
    return mem_put(c, out, b, sizeof b);
}

static uint16_t do_fd_prestat_dir_name(struct call *c)
{
    uint32_t ptr = arg32(c, 1), len = arg32(c, 2);
    struct fd_entry *e = fd_get(c, arg32(c, 0));
    if (!e)
        return W_BADF;
    if (!e->name)
        return W_NOTDIR;
    if (len < e->name_len)
        return W_NAMETOOLONG;
    return mem_put(c, ptr, e->name, e->name_len);
}

/* Reads from the in-memory stdin into the gathered iovecs; never blocks. */
static uint32_t stdin_read(struct nc_wasi_priv *p, size_t niov)
{
    size_t got = 0;
    for (size_t i = 0; i < niov && p->stdin_pos < p->stdin_len; i++) {
        size_t avail = p->stdin_len - p->stdin_pos;
        size_t take = p->iov[i].iov_len < avail ? p->iov[i].iov_len : avail;
        if (take)
            memcpy(p->iov[i].iov_base, p->stdin_data + p->stdin_pos, take);
        p->stdin_pos += take;
        got += take;
    }
    return (uint32_t)got;   /* <= the iovec total, checked <= UINT32_MAX */
}

/* Appends the gathered iovecs to a capped output buffer. At the cap the guest
 * is stopped with a trap: what fit is kept, truncated is set. */
/* What the output buffer took since `from`, to the caller's live view. */
static void out_notify(struct call *c, const nc_buf *b, size_t from)
{
    if (c->p->on_output && b->len > from)
        c->p->on_output(c->p->output_ctx, b == &c->w->out ? 1 : 2, b->data + from, b->len - from);
}

static uint16_t out_write(struct call *c, nc_buf *b, size_t niov, uint32_t *written)
{
    uint64_t total = 0;
    size_t from = b->len;
    *written = 0;
    for (size_t i = 0; i < niov; i++) {
        nc_err e = nc_buf_append(b, c->p->iov[i].iov_base, c->p->iov[i].iov_len);
        if (e == NC_ERR_TOO_LARGE) {
            out_notify(c, b, from);
            c->w->stop = NC_WASI_STOP_OUTPUT_LIMIT;
            c->trap = wasmtime_trap_new("nightcore: output limit", 23);
            return W_FBIG;
        }
        if (e != NC_OK) {
            out_notify(c, b, from);
            return W_NOMEM;
        }
        total += c->p->iov[i].iov_len;
    }
    out_notify(c, b, from);
    *written = (uint32_t)total;
    return W_SUCCESS;
}

/* Where a write of total bytes through e ends, for the quota. */
static uint16_t write_end(const struct fd_entry *e, bool positional, uint64_t off, uint64_t total,
                          uint64_t size, uint64_t *end)
{
    uint64_t start = off;
    if (e->fdflags & FDF_APPEND) {
        start = size;   /* Linux appends even for pwrite on an O_APPEND file */
    } else if (!positional) {
        off_t cur = lseek(e->host_fd, 0, SEEK_CUR);
        if (cur < 0)
            return werr(errno);
        start = (uint64_t)cur;
    }
    *end = total > UINT64_MAX - start ? UINT64_MAX : start + total;
    return W_SUCCESS;
}

/* File I/O for fd_read/fd_pread/fd_write/fd_pwrite, with the byte quota
 * measured around writes that can grow the file. */
static uint16_t file_rw(struct call *c, struct fd_entry *e, uint32_t fd, bool write,
                        bool positional, uint64_t off, size_t n, uint64_t total, uint32_t *done)
{
    uint16_t err;
    if (write) {
        err = refuse_readonly_fd(c, e, fd);
        if (err != W_SUCCESS)
            return err;
    }
    if (!(e->rights_base & (write ? R_FD_WRITE : R_FD_READ)))
        return W_BADF;
    if (positional && off > INT64_MAX)
        return W_INVAL;
    uint64_t before = 0, after = 0;
    bool measure = write && total && quota_bytes_on(c, e);
    if (measure) {
        uint64_t end;
        if ((err = size_of_fd(e->host_fd, &before)) != W_SUCCESS ||
            (err = write_end(e, positional, off, total, before, &end)) != W_SUCCESS)
            return err;
        if ((err = quota_bytes(c, e, fd, end > before ? end - before : 0)) != W_SUCCESS)
            return err;
    }
    ssize_t r;
    unsigned tries = 0;
    int cnt = (int)n;
    do {
        if (write)
            r = positional ? pwritev(e->host_fd, c->p->iov, cnt, (off_t)off)
                           : writev(e->host_fd, c->p->iov, cnt);
        else
            r = positional ? preadv(e->host_fd, c->p->iov, cnt, (off_t)off)
                           : readv(e->host_fd, c->p->iov, cnt);
    } while (r < 0 && errno == EINTR && ++tries < NC_WASI_SYSCALL_RETRIES);
    int saved = errno;
    if (measure && size_of_fd(e->host_fd, &after) == W_SUCCESS && after > before)
        quota_bytes_used(c, e, after - before);
    if (r < 0)
        return werr(saved);
    *done = (uint32_t)r;   /* the kernel moves at most ~2 GiB per call */
    return W_SUCCESS;
}

/* Shared by fd_read/fd_pread/fd_write/fd_pwrite. Unlike Wasmtime, which
 * moves only the first non-empty buffer per call, all buffers are used. */
static uint16_t rw_common(struct call *c, bool write, bool positional)
{
    uint32_t fd = arg32(c, 0), iovs = arg32(c, 1), niovs = arg32(c, 2);
    uint64_t off = positional ? arg64(c, 3) : 0;
    uint32_t pout = arg32(c, positional ? 4 : 3);
    size_t n;
    uint64_t total;
    uint16_t err = iovs_get(c, iovs, niovs, &n, &total);
    if (err != W_SUCCESS)
        return err;
    if (!g_ok(c, pout, 4, 4))
        return W_FAULT;
    struct fd_entry *e = fd_get(c, fd);
    if (!e)
        return W_BADF;
    uint32_t done = 0;
    switch (e->kind) {
    case FDK_STDIN:
        if (write)
            return W_BADF;
        if (positional)
            return W_SPIPE;
        if (!(e->rights_base & R_FD_READ))
            return W_BADF;
        done = stdin_read(c->p, n);
        break;
    case FDK_STDOUT:
    case FDK_STDERR:
        if (!write)
            return W_BADF;
        if (positional)
            return W_SPIPE;
        if (!(e->rights_base & R_FD_WRITE))
            return W_BADF;
        err = out_write(c, e->kind == FDK_STDOUT ? &c->w->out : &c->w->err, n, &done);
        if (err != W_SUCCESS)
            return err;
        break;
    case FDK_FILE:
        err = file_rw(c, e, fd, write, positional, off, n, total, &done);
        if (err != W_SUCCESS)
            return err;
        break;
    default:
        return W_BADF;   /* a directory: Wasmtime answers BADF, not ISDIR */
    }
    return put_u32(c, pout, done);
}

static uint16_t do_fd_read(struct call *c)
{
    return rw_common(c, false, false);
}

static uint16_t do_fd_pread(struct call *c)
{
    return rw_common(c, false, true);
}

static uint16_t do_fd_write(struct call *c)
{
    return rw_common(c, true, false);
}

static uint16_t do_fd_pwrite(struct call *c)
{
    return rw_common(c, true, true);
}
static uint8_t dirent_type(uint8_t t)
{
    switch (t) {
    case DT_BLK: return FT_BLOCK_DEVICE;
    case DT_CHR: return FT_CHARACTER_DEVICE;
    case DT_DIR: return FT_DIRECTORY;
    case DT_REG: return FT_REGULAR_FILE;
    case DT_SOCK: return FT_SOCKET_STREAM;
    case DT_LNK: return FT_SYMBOLIC_LINK;
    default: return FT_UNKNOWN;
    }
}

/* Copies up to n bytes to guest buf at *used, never past buf_len. */
static void dirent_emit(struct call *c, uint32_t buf, uint32_t buf_len, uint32_t *used,
                        const void *src, size_t n)
{
    uint32_t room = buf_len - *used;
    uint32_t take = n < room ? (uint32_t)n : room;
    if (take)
        memcpy(c->mem + buf + *used, src, take);
    *used += take;
}

/* One dirent: header then name; the last one is cut to fill the buffer, as
 * the spec says. True if it fit whole. */
static bool dirent_put(struct call *c, uint32_t buf, uint32_t buf_len, uint32_t *used,
                       uint64_t next, uint64_t ino, uint8_t type, const char *name, size_t namlen)
{
    uint8_t hdr[DIRENT_HEADER];
    memset(hdr, 0, sizeof hdr);
    le64(hdr, next);
    le64(hdr + 8, ino);
    le32(hdr + 16, (uint32_t)namlen);
    hdr[20] = type;
    dirent_emit(c, buf, buf_len, used, hdr, sizeof hdr);
    dirent_emit(c, buf, buf_len, used, name, namlen);
    return *used < buf_len || (*used == buf_len && buf_len > 0);
}

/* Cookies count entries: 0 is ".", 1 "..", then the directory's own entries
 * in the kernel's order (Wasmtime's numbering). The kernel offset of the
 * next entry is remembered, so reading on from the last cookie does not
 * rescan; any other cookie rescans from the start. */
static uint16_t do_fd_readdir(struct call *c)
{
    uint32_t buf = arg32(c, 1), buf_len = arg32(c, 2), pused = arg32(c, 4);
    uint64_t cookie = arg64(c, 3);
    if (!g_ok(c, buf, buf_len, 1) || !g_ok(c, pused, 4, 4))
        return W_FAULT;
    struct fd_entry *e = fd_get(c, arg32(c, 0));
    if (!e || e->kind != FDK_DIR)
        return W_BADF;
    uint16_t err = need(e, R_FD_READDIR);
    if (err != W_SUCCESS)
        return err;
    int dfd;
    err = dir_reader(e, &dfd);
    if (err != W_SUCCESS)
        return err;
    struct stat dst;
    if (fstat(dfd, &dst) != 0)
        return werr(errno);
    uint32_t used = 0;
    uint64_t idx = cookie;
    /* ".." carries the directory's own inode, as in Wasmtime: the parent of a
     * preopen is outside the grant. */
    for (; idx < 2 && used < buf_len; idx++)
        dirent_put(c, buf, buf_len, &used, idx + 1, (uint64_t)dst.st_ino, FT_DIRECTORY, "..",
                   idx + 1);
    if (used >= buf_len || buf_len == 0)
        return put_u32(c, pused, used);

    uint64_t skip = 0;
    off_t start = 0;
    if (e->rd_cookie == idx && idx > 2) {
        start = (off_t)e->rd_off;
    } else {
        skip = idx - 2;
    }
    if (lseek(dfd, start, SEEK_SET) < 0)
        return werr(errno);
    uint8_t *d = c->p->dents;
    unsigned tries = 0;
    bool full = false;
    while (!full) {
        long got = syscall(SYS_getdents64, dfd, d, (size_t)NC_WASI_DIRENT_BYTES);
        if (got < 0) {
            if (errno == EINTR && ++tries < NC_WASI_SYSCALL_RETRIES)
                continue;
            return werr(errno);
        }
        if (got == 0)
            break;
        size_t n = (size_t)got, off = 0;
        /* linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, name[] */
        while (off < n) {
            if (n - off < 20)
                return W_IO;
            uint16_t reclen = rd16(d + off + 16);
            if (reclen < 20 || reclen > n - off)
                return W_IO;
            const char *name = (const char *)d + off + 19;
            size_t namlen = strnlen(name, (size_t)reclen - 19);
            uint64_t next_off = rd64(d + off + 8);
            uint8_t type = dirent_type(d[off + 18]);
            off += reclen;
            if ((namlen == 1 && name[0] == '.') || (namlen == 2 && name[0] == '.' && name[1] == '.'))
                continue;
            if (skip) {
                skip--;
                continue;
            }
            if (type == FT_UNKNOWN) {
                struct stat st;
                char nm[256];
                size_t l = namlen < sizeof nm ? namlen : sizeof nm - 1;
                memcpy(nm, name, l);
                nm[l] = '\0';
                if (fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) == 0)
                    type = filetype_of(st.st_mode);
            }
            bool whole = dirent_put(c, buf, buf_len, &used, idx + 1, rd64(d + off - reclen), type,
                                    name, namlen);
            if (!whole || used >= buf_len) {
                if (whole) {   /* ended exactly at this entry: the next call starts after it */
                    e->rd_cookie = idx + 1;
                    e->rd_off = (int64_t)next_off;
                }
                full = true;
                break;
            }
            idx++;
            e->rd_cookie = idx;
            e->rd_off = (int64_t)next_off;
        }
    }
    return put_u32(c, pused, used);
}

static uint16_t do_fd_renumber(struct call *c)
{
    uint32_t from = arg32(c, 0), to = arg32(c, 1);
    struct fd_entry *src = fd_get(c, from), *dst = fd_get(c, to);
    if (!src || !dst)
        return W_BADF;
    if (src == dst)
        return W_SUCCESS;
    entry_close(dst);
    *dst = *src;
    entry_reset(src);
    return W_SUCCESS;
}

static uint16_t do_fd_seek(struct call *c)
{
    int64_t delta = c->args[1].of.i64;
    uint32_t whence = arg32(c, 2), out = arg32(c, 3);
    static const int whences[] = {SEEK_SET, SEEK_CUR, SEEK_END};
    if (whence > 2)
        return W_INVAL;
    struct fd_entry *e = fd_get(c, arg32(c, 0));
    if (!e)
        return W_BADF;
    if (e->kind != FDK_FILE)
        return e->kind == FDK_DIR ? W_BADF : W_SPIPE;
    /* Asking where we are needs only FD_TELL. */
    uint16_t err = need(e, delta == 0 && whence == 1 ? R_FD_TELL : R_FD_SEEK);
    if (err != W_SUCCESS && delta == 0 && whence == 1)
        err = need(e, R_FD_SEEK);
    if (err != W_SUCCESS)
        return err;
    if (!g_ok(c, out, 8, 8))
        return W_FAULT;
    off_t r = lseek(e->host_fd, (off_t)delta, whences[whence]);
    if (r < 0)
        return werr(errno);
    return put_u64(c, out, (uint64_t)r);
}

static uint16_t do_fd_tell(struct call *c)
{
    uint32_t out = arg32(c, 1);
    struct fd_entry *e = fd_get(c, arg32(c, 0));
    if (!e)
        return W_BADF;
    if (e->kind != FDK_FILE)
        return e->kind == FDK_DIR ? W_BADF : W_SPIPE;
    uint16_t err = need(e, R_FD_TELL);
    if (err != W_SUCCESS)
        return err;
    if (!g_ok(c, out, 8, 8))
        return W_FAULT;
    off_t r = lseek(e->host_fd, 0, SEEK_CUR);
    if (r < 0)
        return werr(errno);
    return put_u64(c, out, (uint64_t)r);
}

/* ---- paths ---- */

/* open(2) flags for a path_open request. */
static int open_flags(uint32_t dirflags, uint32_t oflags, uint32_t fdflags, uint64_t rights)
{
    int flags = O_NONBLOCK | O_NOCTTY;
    bool rd = rights & (R_FD_READ | R_FD_READDIR);
    bool wr = (rights & R_FD_WRITE) || (oflags & OF_TRUNC);
    if (!wr)
        flags |= O_RDONLY;
    else
        flags |= rd ? O_RDWR : O_WRONLY;
    if (oflags & OF_CREAT)
        flags |= O_CREAT | ((oflags & OF_EXCL) ? O_EXCL : 0);
    if (oflags & OF_DIRECTORY)
        flags |= O_DIRECTORY;
    if (oflags & OF_TRUNC)
        flags |= O_TRUNC;
    if (fdflags & FDF_APPEND)
        flags |= O_APPEND;
    if (fdflags & FDF_DSYNC)
        flags |= O_DSYNC;
    if (fdflags & (FDF_SYNC | FDF_RSYNC))
        flags |= O_SYNC;
    if (!(dirflags & LOOKUP_SYMLINK_FOLLOW))
        flags |= O_NOFOLLOW;
    return flags;
}

/* Opens, counting a file the open creates against the grant's name quota:
 * with a quota, an existing file is opened without O_CREAT first, so a
 * creation is known for certain (O_EXCL). */
static uint16_t open_counted(struct call *c, struct fd_entry *base, const char *path, int flags,
                             int *fd)
{
    struct grant_use *g = grant_of(c, base);
    if (!(flags & O_CREAT) || !g || !g->quota_files)
        return open_under(c, base, path, path, flags, 0666, fd);
    uint16_t err;
    if (!(flags & O_EXCL)) {
        err = open_under(c, base, path, path, flags & ~O_CREAT, 0, fd);
        if (err != W_NOENT)
            return err;
    }
    err = quota_name(c, base, path);
    if (err != W_SUCCESS)
        return err;
    err = open_under(c, base, path, path, flags | O_EXCL, 0666, fd);
    if (err == W_EXIST && !(flags & O_EXCL))   /* a dangling symlink, or a race: still a creation */
        err = open_under(c, base, path, path, flags, 0666, fd);
    if (err == W_SUCCESS)
        quota_name_used(c, base);
    return err;
}

/* O_NOFOLLOW|O_DIRECTORY on a symlink is ENOTDIR on Linux; Wasmtime answers
 * LOOP (a symlink was not followed), and so do we. */
static uint16_t nofollow_dir_error(struct call *c, const struct fd_entry *base, const char *path)
{
    struct split s;
    uint16_t err = W_NOTDIR;
    if (split_open(c, base, path, c->p->scratch[1], &s) == W_SUCCESS) {
        struct stat st;
        if (!s.slash && fstatat(s.dirfd, s.last, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
            err = W_LOOP;
        split_close(&s);
    }
    return err;
}

static uint16_t do_path_open(struct call *c)
{
    uint32_t dirfd = arg32(c, 0), dirflags = arg32(c, 1), oflags = arg32(c, 4),
             fdflags = arg32(c, 7), pout = arg32(c, 8);
    uint64_t rb = arg64(c, 5), ri = arg64(c, 6);
    const char *path = c->p->path[0];
    if ((dirflags & ~LOOKUP_SYMLINK_FOLLOW) || (oflags & ~OF_ALL) || (fdflags & ~FDF_ALL))
        return W_INVAL;
    if (!g_ok(c, pout, 4, 4))
        return W_FAULT;
    struct fd_entry *base = fd_get(c, dirfd);
    if (!base || base->kind != FDK_DIR) {
        deny_num(c, NC_DENY_NO_PREOPEN, "fd ", dirfd);
        return base && base->kind == FDK_FILE ? W_NOTDIR : W_BADF;
    }
    uint16_t err = path_copy(c, arg32(c, 2), arg32(c, 3), c->p->path[0]);
    if (err != W_SUCCESS)
        return err;
    if ((oflags & OF_DIRECTORY) && (oflags & (OF_CREAT | OF_EXCL | OF_TRUNC)))
        return W_INVAL;
    /* Under a read-only preopen, asking to create, truncate, append or write
     * is refused and recorded; other write rights are simply not granted. */
    if ((oflags & (OF_CREAT | OF_TRUNC)) || (fdflags & FDF_APPEND) || (rb & R_FD_WRITE)) {
        err = refuse_readonly(c, base, path);
        if (err != W_SUCCESS)
            return err;
    }
    err = need(base, R_PATH_OPEN | ((oflags & OF_CREAT) ? R_PATH_CREATE_FILE : 0) |
                         ((oflags & OF_TRUNC) ? R_PATH_FILESTAT_SET_SIZE : 0));
    if (err != W_SUCCESS)
        return err;
    uint64_t keep = base->readonly ? ~R_WRITE_ALL : ~0ull;
    uint64_t wanted = rb & base->rights_inh & keep;
    uint32_t slot;
    err = fd_alloc(c, &slot);
    if (err != W_SUCCESS)
        return err;

    int fd;
    err = open_counted(c, base, path, open_flags(dirflags, oflags, fdflags, wanted), &fd);
    if (err == W_NOTDIR && (oflags & OF_DIRECTORY) && !(dirflags & LOOKUP_SYMLINK_FOLLOW))
        err = nofollow_dir_error(c, base, path);
    if (err != W_SUCCESS) {
        if (slot + 1 == c->p->fd_high && c->p->fds[slot].kind == FDK_FREE)
            c->p->fd_high--;   /* not handed out after all */
        return err;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err = werr(errno);
        close(fd);
        return err;
    }
    bool dir = S_ISDIR(st.st_mode);
    struct fd_entry *e = &c->p->fds[slot];
    entry_reset(e);
    e->kind = dir ? FDK_DIR : FDK_FILE;
    e->filetype = filetype_of(st.st_mode);
    e->grant = base->grant;
    e->readonly = base->readonly;
    e->owned = true;
    e->fdflags = (uint16_t)(fdflags & (dir ? FDF_NONBLOCK : FDF_ALL));
    e->host_fd = fd;
    e->rights_base = wanted & (dir ? R_DIR : R_FILE);
    e->rights_inh = ri & base->rights_inh & keep;
    return put_u32(c, pout, slot);
}

static uint16_t do_path_create_directory(struct call *c)
{
    struct fd_entry *base;
    struct split s = {.dirfd = -1};
    const char *path = c->p->path[0];
    uint16_t err = path_arg(c, arg32(c, 0), arg32(c, 1), arg32(c, 2), 0, R_PATH_CREATE_DIRECTORY,
                            true, &base);
    if (err == W_SUCCESS)
        err = quota_name(c, base, path);
    if (err == W_SUCCESS)
        err = split_open(c, base, path, c->p->scratch[0], &s);
    if (err == W_SUCCESS) {
        if (mkdirat(s.dirfd, s.last, 0777) != 0)
            err = werr(errno);
        else
            quota_name_used(c, base);
    }
    split_close(&s);
    return err;
}

static uint16_t do_path_filestat_get(struct call *c)
{
    uint32_t flags = arg32(c, 1), out = arg32(c, 4);
    struct fd_entry *base;
    const char *path = c->p->path[0];
    if (flags & ~LOOKUP_SYMLINK_FOLLOW)
        return W_INVAL;
    if (!g_ok(c, out, FILESTAT_SIZE, 8))
        return W_FAULT;
    uint16_t err = path_arg(c, arg32(c, 0), arg32(c, 2), arg32(c, 3), 0, R_PATH_FILESTAT_GET,
                            false, &base);
    if (err != W_SUCCESS)
        return err;
    /* O_PATH|O_NOFOLLOW names the final symlink itself; the walk to it is
     * still kept beneath the base by the kernel. */
    int fd;
    int of = O_PATH | ((flags & LOOKUP_SYMLINK_FOLLOW) ? 0 : O_NOFOLLOW);
    err = open_under(c, base, path, path, of, 0, &fd);
    if (err != W_SUCCESS)
        return err;
    struct stat st;
    if (fstat(fd, &st) != 0)
        err = werr(errno);
    close(fd);
    if (err != W_SUCCESS)
        return err;
    uint8_t b[FILESTAT_SIZE];
    filestat_bytes(b, &st);
    return mem_put(c, out, b, sizeof b);
}

static uint16_t do_path_filestat_set_times(struct call *c)
{
    uint32_t flags = arg32(c, 1);
    struct timespec ts[2];
    struct fd_entry *base;
    const char *path = c->p->path[0];
    if (flags & ~LOOKUP_SYMLINK_FOLLOW)
        return W_INVAL;
    uint16_t err = times_of(arg64(c, 4), arg64(c, 5), arg32(c, 6), ts);
    if (err == W_SUCCESS)
        err = path_arg(c, arg32(c, 0), arg32(c, 2), arg32(c, 3), 0, R_PATH_FILESTAT_SET_TIMES,
                       true, &base);
    if (err != W_SUCCESS)
        return err;
    bool follow = flags & LOOKUP_SYMLINK_FOLLOW;
    int fd;
    err = open_under(c, base, path, path, O_PATH | (follow ? 0 : O_NOFOLLOW), 0, &fd);
    if (err != W_SUCCESS)
        return err;
    if (utimensat(fd, "", ts, AT_EMPTY_PATH | (follow ? 0 : AT_SYMLINK_NOFOLLOW)) != 0)
        err = werr(errno);
    close(fd);
    return err;
}

/* A rename or link from one grant into another that has a quota would move
 * data in uncounted: refused as a cross-device move (EXDEV). */
static uint16_t cross_grant(struct call *c, const struct fd_entry *from, const struct fd_entry *to)
{
    struct grant_use *g = grant_of(c, to);
    if (from->grant == to->grant || !g || (!g->quota_bytes && !g->quota_files))
        return W_SUCCESS;
    return W_XDEV;
}

static uint16_t do_path_link(struct call *c)
{
    uint32_t oflags = arg32(c, 1);
    struct fd_entry *ob, *nb;
    struct split so = {.dirfd = -1}, sn = {.dirfd = -1};
    const char *op = c->p->path[0], *np = c->p->path[1];
    /* Following a symlink at the source would hand linkat a path the kernel
     * resolves without RESOLVE_BENEATH; refused (EINVAL), as Wasmtime does. */
    if (oflags != 0)
        return W_INVAL;
    uint16_t err = path_arg(c, arg32(c, 0), arg32(c, 2), arg32(c, 3), 0, R_PATH_LINK_SOURCE, true,
                            &ob);
    if (err == W_SUCCESS)
        err = path_arg(c, arg32(c, 4), arg32(c, 5), arg32(c, 6), 1, R_PATH_LINK_TARGET, true, &nb);
    if (err == W_SUCCESS)
        err = cross_grant(c, ob, nb);
    if (err == W_SUCCESS)
        err = quota_name(c, nb, np);
    if (err == W_SUCCESS)
        err = split_open(c, ob, op, c->p->scratch[0], &so);
    if (err == W_SUCCESS)
        err = split_open(c, nb, np, c->p->scratch[1], &sn);
    if (err == W_SUCCESS && so.slash)
        err = slash_needs_dir(&so) == W_SUCCESS ? W_PERM : W_NOTDIR;
    if (err == W_SUCCESS)
        err = slash_create(&sn);
    if (err == W_SUCCESS) {
        if (linkat(so.dirfd, so.last, sn.dirfd, sn.last, 0) != 0)
            err = werr(errno);
        else
            quota_name_used(c, nb);
    }
    split_close(&so);
    split_close(&sn);
    return err;
}

static uint16_t do_path_readlink(struct call *c)
{
    uint32_t buf = arg32(c, 3), buf_len = arg32(c, 4), pused = arg32(c, 5);
    struct fd_entry *base;
    struct split s = {.dirfd = -1};
    const char *path = c->p->path[0];
    uint16_t err = path_arg(c, arg32(c, 0), arg32(c, 1), arg32(c, 2), 0, R_PATH_READLINK, false,
                            &base);
    if (err != W_SUCCESS)
        return err;
    if (!g_ok(c, buf, buf_len, 1) || !g_ok(c, pused, 4, 4))
        return W_FAULT;
    if (path[0] && path[strlen(path) - 1] == '/') {
        /* "link/" names the directory the link points to, never a link:
         * resolve it (beneath the base) only to report the right error. */
        int fd;
        err = open_under(c, base, path, path, O_PATH | O_DIRECTORY, 0, &fd);
        if (err != W_SUCCESS)
            return err;
        close(fd);
        return W_INVAL;
    }
    err = split_open(c, base, path, c->p->scratch[0], &s);
    if (err == W_SUCCESS) {
        /* Into a fixed bounce buffer: the result is truncated to buf_len. */
        char *tmp = c->p->scratch[1];
        ssize_t n = readlinkat(s.dirfd, s.last, tmp, NC_WASI_MAX_PATH);
        if (n < 0) {
            err = werr(errno);
        } else {
            uint32_t take = (size_t)n < buf_len ? (uint32_t)n : buf_len;
            (void)mem_put(c, buf, tmp, take);
            (void)put_u32(c, pused, take);
        }
    }
    split_close(&s);
    return err;
}

static uint16_t do_path_remove_directory(struct call *c)
{
    struct fd_entry *base;
    struct split s = {.dirfd = -1};
    const char *path = c->p->path[0];
    uint16_t err = path_arg(c, arg32(c, 0), arg32(c, 1), arg32(c, 2), 0, R_PATH_REMOVE_DIRECTORY,
                            true, &base);
    if (err == W_SUCCESS)
        err = split_open(c, base, path, c->p->scratch[0], &s);
    if (err == W_SUCCESS && unlinkat(s.dirfd, s.last, AT_REMOVEDIR) != 0)
        err = werr(errno);
    split_close(&s);
    return err;
}

static uint16_t do_path_rename(struct call *c)
{
    struct fd_entry *ob, *nb;
    struct split so = {.dirfd = -1}, sn = {.dirfd = -1};
    const char *op = c->p->path[0], *np = c->p->path[1];
    uint16_t err = path_arg(c, arg32(c, 0), arg32(c, 1), arg32(c, 2), 0, R_PATH_RENAME_SOURCE,
                            true, &ob);
    if (err == W_SUCCESS)
        err = path_arg(c, arg32(c, 3), arg32(c, 4), arg32(c, 5), 1, R_PATH_RENAME_TARGET, true,
                       &nb);
    if (err == W_SUCCESS)
        err = cross_grant(c, ob, nb);
    if (err == W_SUCCESS)
        err = split_open(c, ob, op, c->p->scratch[0], &so);
    if (err == W_SUCCESS)
        err = split_open(c, nb, np, c->p->scratch[1], &sn);
    if (err == W_SUCCESS && (so.slash || sn.slash)) {
        so.slash = true;
        err = slash_needs_dir(&so);
    }
    /* EXDEV here is a real cross-device rename, not an escape. */
    if (err == W_SUCCESS && renameat(so.dirfd, so.last, sn.dirfd, sn.last) != 0)
        err = werr(errno);
    split_close(&so);
    split_close(&sn);
    return err;
}

static uint16_t do_path_symlink(struct call *c)
{
    struct fd_entry *base;
    struct split s = {.dirfd = -1};
    char *target = c->p->path[1];
    const char *path = c->p->path[0];
    uint16_t err = path_copy(c, arg32(c, 0), arg32(c, 1), target);
    if (err == W_SUCCESS)
        err = path_arg(c, arg32(c, 2), arg32(c, 3), arg32(c, 4), 0, R_PATH_SYMLINK, true, &base);
    /* Resolution never leaves the preopen anyway, but an absolute link would
     * point the host's own tools outside it. */
    if (err == W_SUCCESS && target[0] == '/') {
        deny_str(c, NC_DENY_ESCAPE, target);
        err = W_NOTCAPABLE;
    }
    if (err == W_SUCCESS)
        err = quota_name(c, base, path);
    if (err == W_SUCCESS)
        err = split_open(c, base, path, c->p->scratch[0], &s);
    if (err == W_SUCCESS)
        err = slash_create(&s);
    if (err == W_SUCCESS) {
        if (symlinkat(target, s.dirfd, s.last) != 0)
            err = werr(errno);
        else
            quota_name_used(c, base);
    }
    split_close(&s);
    return err;
}

static uint16_t do_path_unlink_file(struct call *c)
{
    struct fd_entry *base;
    struct split s = {.dirfd = -1};
    const char *path = c->p->path[0];
    uint16_t err = path_arg(c, arg32(c, 0), arg32(c, 1), arg32(c, 2), 0, R_PATH_UNLINK_FILE, true,
                            &base);
    if (err == W_SUCCESS)
        err = split_open(c, base, path, c->p->scratch[0], &s);
    if (err == W_SUCCESS)
        err = slash_needs_dir(&s);   /* "file/" is ENOTDIR; "dir/" goes on to EISDIR */
    if (err == W_SUCCESS && unlinkat(s.dirfd, s.last, 0) != 0)
        err = werr(errno);
    split_close(&s);
    return err;
}
/* ---- poll_oneoff ---- */

/* How long until a clock subscription fires, from now; false if its clock is unknown. */
static bool clock_wait(const uint8_t *sub, uint64_t *rel)
{
    clockid_t id;
    uint64_t timeout = rd64(sub + 24);
    uint16_t flags = rd16(sub + 40);
    if (!clock_of(rd32(sub + 16), &id))
        return false;
    if (!(flags & SUBCLOCK_ABSTIME)) {
        *rel = timeout;
        return true;
    }
    struct timespec now;
    if (clock_gettime(id, &now) != 0)
        return false;
    uint64_t n = ts_ns(&now);
    *rel = timeout > n ? timeout - n : 0;
    return true;
}

/* An fd_read/fd_write subscription: ready at once (nothing here ever blocks). */
static void fd_event(struct call *c, const uint8_t *sub, uint8_t type, uint8_t ev[EVENT_SIZE])
{
    struct fd_entry *e = fd_get(c, rd32(sub + 16));
    uint64_t nbytes = 0;
    uint16_t err = W_SUCCESS;
    if (!e) {
        err = W_BADF;
    } else if (type == EV_FD_READ) {
        if (e->kind == FDK_STDIN) {
            nbytes = c->p->stdin_len - c->p->stdin_pos;
        } else if (e->kind == FDK_FILE) {
            struct stat st;
            off_t pos = lseek(e->host_fd, 0, SEEK_CUR);
            if (fstat(e->host_fd, &st) == 0 && S_ISREG(st.st_mode) && pos >= 0 &&
                st.st_size > pos)
                nbytes = (uint64_t)(st.st_size - pos);
        } else {
            err = W_BADF;   /* stdout, stderr, a directory */
        }
    } else {
        if (e->kind == FDK_STDOUT || e->kind == FDK_STDERR) {
            nc_buf *b = e->kind == FDK_STDOUT ? &c->w->out : &c->w->err;
            nbytes = b->max - b->len;
        } else if (e->kind != FDK_FILE) {
            err = W_BADF;
        }
    }
    le16(ev + 8, err);
    le64(ev + 16, nbytes);
}

static uint64_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* True (and the guest stopped) if the deadline has passed, or would pass
 * during a sleep of want_ns: then sleeps only until the deadline. */
static bool p_deadline_passed(struct call *c, uint64_t want_ns)
{
    uint64_t deadline = c->p->deadline_ns, now = mono_now();
    if (!deadline)
        return false;
    if (now < deadline && want_ns < deadline - now)
        return false;
    if (now < deadline) {
        struct timespec ts = ns_ts(deadline - now);
        (void)clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
    }
    c->w->stop = NC_WASI_STOP_DEADLINE;
    c->trap = wasmtime_trap_new("nightcore: deadline", 19);
    return true;
}

static uint16_t do_poll_oneoff(struct call *c)
{
    uint32_t in = arg32(c, 0), out = arg32(c, 1), n = arg32(c, 2), pn = arg32(c, 3);
    if (n == 0)
        return W_INVAL;   /* no subscription would mean sleeping forever */
    if (!g_ok(c, in, (uint64_t)n * SUB_SIZE, 8) || !g_ok(c, out, (uint64_t)n * EVENT_SIZE, 8) ||
        !g_ok(c, pn, 4, 4))
        return W_FAULT;

    /* Pass 1: is anything ready now, and which clock fires first? */
    bool ready = false, have_clock = false;
    uint64_t min_rel = UINT64_MAX;
    uint32_t min_i = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *sub = c->mem + in + (size_t)i * SUB_SIZE;
        uint64_t rel;
        switch (sub[8]) {
        case EV_CLOCK:
            if (!clock_wait(sub, &rel)) {
                return W_INVAL;   /* an unknown clock, as Wasmtime answers */
            } else if (!have_clock || rel < min_rel) {
                have_clock = true;
                min_rel = rel;
                min_i = i;
            }
            break;
        case EV_FD_READ:
        case EV_FD_WRITE:
            ready = true;
            break;
        default:
            return W_INVAL;
        }
    }
    if (have_clock && min_rel == 0)
        ready = true;

    /* Nothing ready: sleep until the first clock, but never past the run's
     * deadline. A signal (the deadline timer) also cuts the sleep short. A
     * guest that reaches the deadline in here is stopped here. */
    if (!ready && p_deadline_passed(c, min_rel))
        return W_SUCCESS;
    if (!ready) {
        const uint8_t *sub = c->mem + in + (size_t)min_i * SUB_SIZE;
        clockid_t id;
        struct timespec ts;
        bool abs = (rd16(sub + 40) & SUBCLOCK_ABSTIME) && clock_of(rd32(sub + 16), &id) &&
                   (id == CLOCK_REALTIME || id == CLOCK_MONOTONIC);
        if (abs) {
            ts = ns_ts(rd64(sub + 24));
            (void)clock_nanosleep(id, TIMER_ABSTIME, &ts, NULL);
        } else {
            /* Relative, or a CPU-time clock that would not advance while we sleep. */
            ts = ns_ts(min_rel);
            (void)clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
        }
    }

    if (!ready && p_deadline_passed(c, 0))
        return W_SUCCESS;

    /* Pass 2: write the events that occurred. */
    uint32_t count = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *sub = c->mem + in + (size_t)i * SUB_SIZE;
        uint8_t ev[EVENT_SIZE];
        uint8_t type = sub[8];
        uint64_t rel = 0;
        memset(ev, 0, sizeof ev);
        memcpy(ev, sub, 8);   /* userdata */
        ev[10] = type;
        if (type == EV_CLOCK) {
            bool fired;
            if (!clock_wait(sub, &rel)) {
                le16(ev + 8, W_INVAL);   /* the clock failed since pass 1 */
                fired = true;
            } else if (ready) {
                fired = rel == 0;
            } else if (rd16(sub + 40) & SUBCLOCK_ABSTIME) {
                fired = i == min_i || rel == 0;     /* rel is recomputed: 0 once passed */
            } else {
                fired = i == min_i || rel <= min_rel;   /* we slept min_rel */
            }
            if (!fired)
                continue;
        } else {
            fd_event(c, sub, type, ev);
        }
        memcpy(c->mem + out + (size_t)count * EVENT_SIZE, ev, sizeof ev);
        count++;
    }
    return put_u32(c, pn, count);
}

/* ---- dispatch ---- */

typedef uint16_t (*impl_fn)(struct call *c);

/* Parameter types per function ('i' = i32, 'I' = i64); every function
 * returns an i32 errno except proc_exit. From wasi_snapshot_preview1.witx. */
static const char *const fn_params[NC_WASI_FN_COUNT] = {
    [NC_WASI_FN_args_get] = "ii",
    [NC_WASI_FN_args_sizes_get] = "ii",
    [NC_WASI_FN_environ_get] = "ii",
    [NC_WASI_FN_environ_sizes_get] = "ii",
    [NC_WASI_FN_clock_res_get] = "ii",
    [NC_WASI_FN_clock_time_get] = "iIi",
    [NC_WASI_FN_fd_advise] = "iIIi",
    [NC_WASI_FN_fd_allocate] = "iII",
    [NC_WASI_FN_fd_close] = "i",
    [NC_WASI_FN_fd_datasync] = "i",
    [NC_WASI_FN_fd_fdstat_get] = "ii",
    [NC_WASI_FN_fd_fdstat_set_flags] = "ii",
    [NC_WASI_FN_fd_fdstat_set_rights] = "iII",
    [NC_WASI_FN_fd_filestat_get] = "ii",
    [NC_WASI_FN_fd_filestat_set_size] = "iI",
    [NC_WASI_FN_fd_filestat_set_times] = "iIIi",
    [NC_WASI_FN_fd_pread] = "iiiIi",
    [NC_WASI_FN_fd_prestat_get] = "ii",
    [NC_WASI_FN_fd_prestat_dir_name] = "iii",
    [NC_WASI_FN_fd_pwrite] = "iiiIi",
    [NC_WASI_FN_fd_read] = "iiii",
    [NC_WASI_FN_fd_readdir] = "iiiIi",
    [NC_WASI_FN_fd_renumber] = "ii",
    [NC_WASI_FN_fd_seek] = "iIii",
    [NC_WASI_FN_fd_sync] = "i",
    [NC_WASI_FN_fd_tell] = "ii",
    [NC_WASI_FN_fd_write] = "iiii",
    [NC_WASI_FN_path_create_directory] = "iii",
    [NC_WASI_FN_path_filestat_get] = "iiiii",
    [NC_WASI_FN_path_filestat_set_times] = "iiiiIIi",
    [NC_WASI_FN_path_link] = "iiiiiii",
    [NC_WASI_FN_path_open] = "iiiiiIIii",
    [NC_WASI_FN_path_readlink] = "iiiiii",
    [NC_WASI_FN_path_remove_directory] = "iii",
    [NC_WASI_FN_path_rename] = "iiiiii",
    [NC_WASI_FN_path_symlink] = "iiiii",
    [NC_WASI_FN_path_unlink_file] = "iii",
    [NC_WASI_FN_poll_oneoff] = "iiii",
    [NC_WASI_FN_proc_exit] = "i",
    [NC_WASI_FN_proc_raise] = "i",
    [NC_WASI_FN_sched_yield] = "",
    [NC_WASI_FN_random_get] = "ii",
    [NC_WASI_FN_sock_accept] = "iii",
    [NC_WASI_FN_sock_recv] = "iiiiii",
    [NC_WASI_FN_sock_send] = "iiiii",
    [NC_WASI_FN_sock_shutdown] = "ii",
};

static wasm_trap_t *dispatch_call(nc_wasi *w, wasmtime_caller_t *caller, const wasmtime_val_t *args,
                                  size_t nargs, wasmtime_val_t *results, size_t nresults, unsigned fn,
                                  impl_fn impl);

/* The deadline was marked (by its signal) and nothing else stopped the guest:
 * stop it now. */
static wasm_trap_t *deadline_trap(nc_wasi *w)
{
    if (!w->priv->deadline_marked || w->stop != NC_WASI_STOP_NONE)
        return NULL;
    w->stop = NC_WASI_STOP_DEADLINE;
    return wasmtime_trap_new("nightcore: deadline", 19);
}

/* Every host call: counted, checked, run; the deadline checked before and after. */
static wasm_trap_t *dispatch(void *env, wasmtime_caller_t *caller, const wasmtime_val_t *args,
                             size_t nargs, wasmtime_val_t *results, size_t nresults, unsigned fn,
                             impl_fn impl)
{
    nc_wasi *w = env;
    struct nc_wasi_priv *p = w->priv;
    p->in_call = 1;
    wasm_trap_t *trap = deadline_trap(w);
    if (!trap)
        trap = dispatch_call(w, caller, args, nargs, results, nresults, fn, impl);
    p->in_call = 0;
    /* Cleared before the check: a deadline signal from here on finds no host
     * call running and is handled by its own handler. */
    if (!trap)
        trap = deadline_trap(w);
    return trap;
}

bool nc_wasi_in_host_call(const nc_wasi *w)
{
    return w->priv->in_call != 0;
}

void nc_wasi_mark_deadline(nc_wasi *w)
{
    w->priv->deadline_marked = 1;
}

static wasm_trap_t *dispatch_call(nc_wasi *w, wasmtime_caller_t *caller, const wasmtime_val_t *args,
                                  size_t nargs, wasmtime_val_t *results, size_t nresults, unsigned fn,
                                  impl_fn impl)
{
    if (w->calls[fn] < UINT32_MAX)
        w->calls[fn]++;
    size_t want_results = fn == NC_WASI_FN_proc_exit ? 0 : 1;
    if (nargs != strlen(fn_params[fn]) || nresults != want_results)
        return wasmtime_trap_new("nightcore: bad host call", 24);
    struct call c = {.w = w, .p = w->priv, .args = args, .fn = fn};
    /* Re-fetched on every call: memory.grow may have moved it. */
    wasmtime_extern_t item;
    if (wasmtime_caller_export_get(caller, "memory", 6, &item)) {
        if (item.kind == WASMTIME_EXTERN_MEMORY) {
            wasmtime_context_t *ctx = wasmtime_caller_context(caller);
            c.mem = wasmtime_memory_data(ctx, &item.of.memory);
            c.mem_len = wasmtime_memory_data_size(ctx, &item.of.memory);
        }
        wasmtime_extern_delete(&item);
    }
    uint16_t err = impl(&c);
    if (c.trap)
        return c.trap;
    if (want_results) {
        results[0].kind = WASMTIME_I32;
        results[0].of.i32 = err;
    }
    return NULL;
}

#define NC_WASI_CALLBACK(name)                                                                 \
    static uint16_t do_##name(struct call *c);                                                 \
    static wasm_trap_t *cb_##name(void *env, wasmtime_caller_t *caller,                        \
                                  const wasmtime_val_t *args, size_t nargs,                    \
                                  wasmtime_val_t *results, size_t nresults)                    \
    {                                                                                          \
        return dispatch(env, caller, args, nargs, results, nresults, NC_WASI_FN_##name,        \
                        do_##name);                                                            \
    }
NC_WASI_FUNCS(NC_WASI_CALLBACK)
#undef NC_WASI_CALLBACK

static const wasmtime_func_callback_t callbacks[NC_WASI_FN_COUNT] = {
#define NC_WASI_CB_REF(name) [NC_WASI_FN_##name] = cb_##name,
    NC_WASI_FUNCS(NC_WASI_CB_REF)
#undef NC_WASI_CB_REF
};

static wasm_functype_t *functype_for(unsigned fn)
{
    const char *sig = fn_params[fn];
    size_t np = strlen(sig);
    wasm_valtype_t *params[16];
    wasm_valtype_t *res[1];
    wasm_valtype_vec_t pv, rv;
    if (np > sizeof params / sizeof params[0])
        return NULL;
    for (size_t i = 0; i < np; i++)
        params[i] = wasm_valtype_new(sig[i] == 'I' ? WASM_I64 : WASM_I32);
    wasm_valtype_vec_new(&pv, np, params);
    if (fn == NC_WASI_FN_proc_exit) {
        wasm_valtype_vec_new_empty(&rv);
    } else {
        res[0] = wasm_valtype_new(WASM_I32);
        wasm_valtype_vec_new(&rv, 1, res);
    }
    return wasm_functype_new(&pv, &rv);   /* takes both vectors */
}

nc_err nc_wasi_define(nc_wasi *w, wasmtime_linker_t *linker)
{
    if (!w || !linker)
        return NC_ERR_USAGE;
    for (unsigned fn = 0; fn < NC_WASI_FN_COUNT; fn++) {
        if (!fn_params[fn] || !callbacks[fn])
            return NC_ERR_INTERNAL;
        wasm_functype_t *ty = functype_for(fn);
        if (!ty)
            return NC_ERR_NOMEM;
        const char *name = fn_names[fn];
        wasmtime_error_t *werror = wasmtime_linker_define_func(
            linker, "wasi_snapshot_preview1", 22, name, strlen(name), ty, callbacks[fn], w, NULL);
        wasm_functype_delete(ty);
        if (werror) {
            wasmtime_error_delete(werror);
            return NC_ERR_INTERNAL;
        }
    }
    return NC_OK;
}

/* ---- lifetime ---- */

/* Copies count C strings back to back; total must fit a guest u32. */
static nc_err strings_copy(const char *const *src, size_t count, size_t max_count, char **out,
                           uint32_t *n_out, uint32_t *bytes_out)
{
    *out = NULL;
    *n_out = 0;
    *bytes_out = 0;
    if (count == 0)
        return NC_OK;
    if (!src)
        return NC_ERR_USAGE;
    if (count > max_count)
        return NC_ERR_TOO_LARGE;
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        if (!src[i])
            return NC_ERR_USAGE;
        size_t len = strlen(src[i]) + 1;
        if (len > UINT32_MAX - total)
            return NC_ERR_TOO_LARGE;
        total += len;
    }
    char *buf = malloc(total);
    if (!buf)
        return NC_ERR_NOMEM;
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(src[i]) + 1;
        memcpy(buf + off, src[i], len);
        off += len;
    }
    *out = buf;
    *n_out = (uint32_t)count;
    *bytes_out = (uint32_t)total;
    return NC_OK;
}

nc_err nc_wasi_new(const nc_wasi_config *cfg, nc_wasi **out)
{
    nc_err err = NC_ERR_USAGE;
    nc_wasi *w = NULL;
    struct nc_wasi_priv *p;
    if (out)
        *out = NULL;
    if (!cfg || !out)
        goto done;
    if ((cfg->stdin_len && !cfg->stdin_data) || (cfg->npreopens && !cfg->preopens))
        goto done;
    err = NC_ERR_TOO_LARGE;
    if (cfg->npreopens > NC_WASI_MAX_FDS - 3)
        goto done;
    err = NC_ERR_NOMEM;
    w = calloc(1, sizeof *w);
    if (!w)
        goto done;
    nc_buf_init(&w->out, cfg->stdout_cap);
    nc_buf_init(&w->err, cfg->stderr_cap);
    p = calloc(1, sizeof *p);
    if (!p)
        goto done;
    w->priv = p;
    for (size_t i = 0; i < NC_WASI_MAX_FDS; i++)
        entry_reset(&p->fds[i]);

    err = strings_copy(cfg->args, cfg->nargs, NC_MAX_ARGS, &p->args, &p->nargs, &p->args_bytes);
    if (err != NC_OK)
        goto done;
    err = strings_copy(cfg->env, cfg->nenv, NC_MAX_ENV, &p->env, &p->nenv, &p->env_bytes);
    if (err != NC_OK)
        goto done;
    p->stdin_data = cfg->stdin_data;
    p->deadline_ns = cfg->deadline_ns;
    p->on_output = cfg->on_output;
    p->output_ctx = cfg->output_ctx;
    p->stdin_len = cfg->stdin_len;

    static const uint8_t stdio_kind[3] = {FDK_STDIN, FDK_STDOUT, FDK_STDERR};
    for (size_t i = 0; i < 3; i++) {
        p->fds[i].kind = stdio_kind[i];
        p->fds[i].filetype = FT_UNKNOWN;   /* not a tty: in-memory streams */
        p->fds[i].rights_base = i == 0 ? R_STDIN : R_STDOUT;
        p->fds[i].rights_inh = p->fds[i].rights_base;
    }
    for (size_t i = 0; i < cfg->npreopens; i++) {
        const nc_wasi_preopen *po = &cfg->preopens[i];
        struct fd_entry *e = &p->fds[3 + i];
        struct stat st;
        err = NC_ERR_USAGE;
        if (po->host_fd < 0 || !po->guest_path)
            goto done;
        if (fstat(po->host_fd, &st) != 0 || !S_ISDIR(st.st_mode))
            goto done;
        size_t len = strnlen(po->guest_path, NC_WASI_MAX_PATH + 1);
        err = NC_ERR_TOO_LARGE;
        if (len > NC_WASI_MAX_PATH)
            goto done;
        err = NC_ERR_NOMEM;
        e->name = malloc(len + 1);
        if (!e->name)
            goto done;
        memcpy(e->name, po->guest_path, len + 1);
        e->name_len = (uint32_t)len;
        e->kind = FDK_DIR;
        e->filetype = FT_DIRECTORY;
        e->readonly = po->readonly;
        e->owned = false;   /* borrowed: the caller closes it */
        e->host_fd = po->host_fd;
        e->grant = (uint8_t)i;
        /* Directory rights as base, directory and file rights to pass on
         * (what Wasmtime reports): programs reopen "." with these. */
        uint64_t keep = po->readonly ? ~R_WRITE_ALL : ~0ull;
        e->rights_base = R_DIR & keep;
        e->rights_inh = (R_DIR | R_FILE) & keep;
        if (!po->readonly) {
            p->grants[i].quota_bytes = po->quota_bytes;
            p->grants[i].quota_files = po->quota_files;
        }
    }
    p->fd_high = (uint32_t)(3 + cfg->npreopens);
    *out = w;
    w = NULL;
    err = NC_OK;
done:
    nc_wasi_free(w);
    return err;
}

void nc_wasi_free(nc_wasi *w)
{
    if (!w)
        return;
    struct nc_wasi_priv *p = w->priv;
    if (p) {
        for (size_t i = 0; i < NC_WASI_MAX_FDS; i++)
            entry_close(&p->fds[i]);
        free(p->args);
        free(p->env);
        free(p);
    }
    nc_buf_cleanup(&w->out);
    nc_buf_cleanup(&w->err);
    free(w);
}
