/* One out-of-range argument per run (argv[1] names it): an enum value the
 * witx does not define, or flag bits it does not define. Night Core answers
 * INVAL; a host may also stop the guest with a trap. */
#include "p1.h"

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *p = argv[1];
    __wasi_fd_t scratch = preopen("/scratch"), fd;
    __wasi_errno_t e;
    __wasi_filesize_t pos;
    __wasi_timestamp_t t;
    __wasi_size_t n;
    __wasi_subscription_t s;
    __wasi_event_t ev;
    e = put_file(scratch, "f", "data");
    if (e)
        return 3;
    e = p_open(scratch, 0, "f", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_ADVISE | __WASI_RIGHTS_FD_FILESTAT_GET, 0, 0, &fd);
    if (e)
        return 4;
    /* Unlinked now, so a guest stopped by the probe leaves the same tree. */
    (void)__wasi_path_unlink_file(scratch, "f");
    if (strcmp(p, "whence") == 0)
        e = __wasi_fd_seek(fd, 0, 3, &pos);
    else if (strcmp(p, "advice") == 0)
        e = __wasi_fd_advise(fd, 0, 0, 6);
    else if (strcmp(p, "clock_res") == 0)
        e = __wasi_clock_res_get(4, &t);
    else if (strcmp(p, "clock_time") == 0)
        e = __wasi_clock_time_get(99, 0, &t);
    else if (strcmp(p, "eventtype") == 0) {
        memset(&s, 0, sizeof s);
        s.u.tag = 7;
        e = __wasi_poll_oneoff(&s, &ev, 1, &n);
    } else if (strcmp(p, "lookupflags") == 0)
        e = p_open(scratch, 2, "f", 0, 0, 0, 0, &fd);
    else if (strcmp(p, "oflags") == 0)
        e = p_open(scratch, 0, "f", 0x10, 0, 0, 0, &fd);
    else if (strcmp(p, "fdflags_open") == 0)
        e = p_open(scratch, 0, "f", 0, 0, 0, 0x20, &fd);
    else if (strcmp(p, "fdflags_set") == 0)
        e = __wasi_fd_fdstat_set_flags(fd, 0x40);
    else if (strcmp(p, "fstflags") == 0)
        e = __wasi_fd_filestat_set_times(fd, 0, 0, 0x10);
    else if (strcmp(p, "link_flags") == 0)
        e = __wasi_path_link(scratch, 2, "missing", scratch, "g");
    else if (strcmp(p, "sdflags") == 0)
        e = __wasi_sock_shutdown(1, 4);
    else if (strcmp(p, "path_len") == 0)   /* a path length far past the end of memory */
        e = p_open_n(scratch, "f", 0x7ffffff0, &fd);
    else if (strcmp(p, "result_ptr") == 0)   /* a result pointer past the end of memory */
        e = __wasi_fd_fdstat_get(1, (__wasi_fdstat_t *)0xfffffff0);
    else if (strcmp(p, "result_misaligned") == 0)   /* a filestat pointer not 8-aligned */
        e = __wasi_fd_filestat_get(fd, (__wasi_filestat_t *)(uintptr_t)0x1004);
    else
        return 5;
    printf("%s=%s\n", p, en(e));
    return 0;
}
