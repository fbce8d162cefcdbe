/* fd_readdir: entries, types, inode numbers against fd_filestat_get, cookies,
 * buffers too small for an entry, and a directory too big for one call. */
#include "p1.h"

struct ent {
    __wasi_dircookie_t next;
    __wasi_inode_t ino;
    uint8_t type;
    char name[64];
};

/* Parses complete entries from buf; returns how many (at most cap). */
static size_t parse(const uint8_t *buf, size_t used, struct ent *out, size_t cap)
{
    size_t pos = 0, n = 0;
    while (used - pos >= sizeof(__wasi_dirent_t) && n < cap) {
        __wasi_dirent_t d;
        memcpy(&d, buf + pos, sizeof d);
        if (used - pos - sizeof d < d.d_namlen)
            break;
        out[n].next = d.d_next;
        out[n].ino = d.d_ino;
        out[n].type = d.d_type;
        size_t l = d.d_namlen < sizeof out[n].name - 1 ? d.d_namlen : sizeof out[n].name - 1;
        memcpy(out[n].name, buf + pos + sizeof d, l);
        out[n].name[l] = '\0';
        n++;
        pos += sizeof d + d.d_namlen;
    }
    return n;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct ent *)a)->name, ((const struct ent *)b)->name);
}

static __wasi_inode_t ino_of(__wasi_fd_t dir, const char *p)
{
    __wasi_filestat_t st;
    return __wasi_path_filestat_get(dir, 0, p, &st) ? 0 : st.ino;
}

static void list(const char *key, __wasi_fd_t dir)
{
    static uint8_t buf[4096];
    static struct ent e[64];
    __wasi_size_t used = 0;
    __wasi_errno_t err = __wasi_fd_readdir(dir, buf, sizeof buf, 0, &used);
    if (err) {
        check(key, err);
        return;
    }
    size_t n = parse(buf, used, e, 64);
    qsort(e, n, sizeof e[0], by_name);
    printf("%s=", key);
    for (size_t i = 0; i < n; i++)
        printf("%s%s:%u", i ? "," : "", e[i].name, e[i].type);
    printf("\n");
    for (size_t i = 0; i < n; i++) {
        if (strcmp(e[i].name, "..") == 0)
            continue;
        char k[128];
        snprintf(k, sizeof k, "%s_ino_matches_%s", key, e[i].name);
        say_u(k, e[i].ino == ino_of(dir, e[i].name));
    }
}

int main(void)
{
    __wasi_fd_t scratch = preopen("/scratch"), data = preopen("/data");
    __wasi_fd_t d, f;
    check("mkdir", __wasi_path_create_directory(scratch, "rd"));
    check("open", p_open(scratch, 0, "rd", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_OPEN | __WASI_RIGHTS_PATH_CREATE_FILE | __WASI_RIGHTS_PATH_CREATE_DIRECTORY | __WASI_RIGHTS_PATH_SYMLINK | __WASI_RIGHTS_PATH_FILESTAT_GET | __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_PATH_UNLINK_FILE | __WASI_RIGHTS_PATH_REMOVE_DIRECTORY,
                          __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE, 0, &d));
    list("empty", d);
    static uint8_t buf[4096];
    static struct ent e[64];
    __wasi_size_t used = 0;
    check("empty_raw", __wasi_fd_readdir(d, buf, sizeof buf, 0, &used));
    size_t n = parse(buf, used, e, 64);
    say_u("empty_count", n);
    if (n >= 2) {
        say_s("first_name", e[0].name);
        say_u("first_next", e[0].next);
        say_s("second_name", e[1].name);
        say_u("second_next", e[1].next);
    }
    __wasi_filestat_t dst;
    check("dir_filestat", __wasi_fd_filestat_get(d, &dst));
    say_u("dot_ino_is_dir_ino", n >= 1 && e[0].ino == dst.ino);

    check("create_file", p_open(d, 0, "file", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, 0, &f));
    check("close_file", __wasi_fd_close(f));
    check("create_sub", __wasi_path_create_directory(d, "sub"));
    check("create_link", __wasi_path_symlink("file", d, "link"));
    list("three", d);

    /* Cookies: reading from the cookie after entry k gives the rest. */
    check("raw3", __wasi_fd_readdir(d, buf, sizeof buf, 0, &used));
    n = parse(buf, used, e, 64);
    say_u("raw3_count", n);
    say_u("raw3_used_lt_buf", used < sizeof buf);
    size_t tail_ok = 1;
    for (size_t k = 0; k < n; k++) {
        static uint8_t b2[4096];
        static struct ent e2[64];
        __wasi_size_t u2 = 0;
        if (__wasi_fd_readdir(d, b2, sizeof b2, e[k].next, &u2) != 0) {
            tail_ok = 0;
            break;
        }
        size_t m = parse(b2, u2, e2, 64);
        if (m != n - k - 1 || (m && strcmp(e2[0].name, e[k + 1].name) != 0))
            tail_ok = 0;
    }
    say_u("cookie_tails_ok", tail_ok);
    check("readdir_past_end", __wasi_fd_readdir(d, buf, sizeof buf, e[n ? n - 1 : 0].next + 100, &used));
    say_u("readdir_past_end_used", used);

    /* A buffer that cuts entries: the call fills it, the caller retries from
     * the last complete entry. */
    check("small_zero", __wasi_fd_readdir(d, buf, 0, 0, &used));
    say_u("small_zero_used", used);
    check("small_10", __wasi_fd_readdir(d, buf, 10, 0, &used));
    say_u("small_10_used", used);
    check("small_25", __wasi_fd_readdir(d, buf, 25, 0, &used));
    say_u("small_25_used", used);
    __wasi_dircookie_t cookie = 0;
    size_t total = 0, calls = 0;
    for (;;) {
        if (++calls > 100)
            break;
        if (__wasi_fd_readdir(d, buf, 40, cookie, &used) != 0)
            break;
        size_t m = parse(buf, used, e, 64);
        total += m;
        if (used < 40)
            break;
        if (m == 0)
            break;
        cookie = e[m - 1].next;
    }
    say_u("paged_total", total);

    /* Many entries, read 256 bytes at a time. */
    check("mkdir_many", __wasi_path_create_directory(scratch, "many"));
    __wasi_fd_t md;
    check("open_many", p_open(scratch, 0, "many", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_OPEN | __WASI_RIGHTS_PATH_CREATE_FILE | __WASI_RIGHTS_PATH_UNLINK_FILE,
                               __WASI_RIGHTS_FD_WRITE, 0, &md));
    for (int i = 0; i < 300; i++) {
        char name[32];
        snprintf(name, sizeof name, "file.%d", i);
        __wasi_fd_t t;
        if (p_open(md, 0, name, __WASI_OFLAGS_CREAT, 0, 0, 0, &t) == 0)
            (void)__wasi_fd_close(t);
    }
    cookie = 0;
    total = 0;
    calls = 0;
    for (;;) {
        if (++calls > 1000)
            break;
        if (__wasi_fd_readdir(md, buf, 256, cookie, &used) != 0)
            break;
        size_t m = parse(buf, used, e, 64);
        total += m;
        if (used < 256 || m == 0)
            break;
        cookie = e[m - 1].next;
    }
    say_u("many_total", total);
    for (int i = 0; i < 300; i++) {
        char name[32];
        snprintf(name, sizeof name, "file.%d", i);
        (void)__wasi_path_unlink_file(md, name);
    }
    check("close_many", __wasi_fd_close(md));
    check("rmdir_many", __wasi_path_remove_directory(scratch, "many"));

    /* Errors. */
    check("open_file_for_readdir", p_open(d, 0, "file", 0, __WASI_RIGHTS_FD_READDIR, 0, 0, &f));
    check("readdir_on_file", __wasi_fd_readdir(f, buf, sizeof buf, 0, &used));
    check("close_file2", __wasi_fd_close(f));
    check("readdir_closed", __wasi_fd_readdir(60, buf, sizeof buf, 0, &used));

    /* The preopens themselves, and the read-only data. */
    list("data", data);
    __wasi_fd_t sub;
    check("open_data_sub", p_open(data, 0, "sub", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_FILESTAT_GET, 0, 0, &sub));
    list("data_sub", sub);

    check("unlink_file", __wasi_path_unlink_file(d, "file"));
    check("unlink_link", __wasi_path_unlink_file(d, "link"));
    check("rmdir_sub", __wasi_path_remove_directory(d, "sub"));
    list("emptied", d);
    check("close_dir", __wasi_fd_close(d));
    check("rmdir_rd", __wasi_path_remove_directory(scratch, "rd"));
    return 0;
}
