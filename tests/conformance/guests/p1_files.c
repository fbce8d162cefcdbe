/* Descriptor calls on files, directories and stdio: read/write/pread/pwrite,
 * seek/tell, sizes, times, flags, allocate, advise, sync, close, renumber. */
#include "p1.h"

#define RW_RIGHTS                                                                         \
    (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK |             \
     __WASI_RIGHTS_FD_TELL | __WASI_RIGHTS_FD_FILESTAT_GET |                              \
     __WASI_RIGHTS_FD_FILESTAT_SET_SIZE | __WASI_RIGHTS_FD_FILESTAT_SET_TIMES |           \
     __WASI_RIGHTS_FD_ADVISE | __WASI_RIGHTS_FD_ALLOCATE | __WASI_RIGHTS_FD_DATASYNC |    \
     __WASI_RIGHTS_FD_SYNC | __WASI_RIGHTS_FD_FDSTAT_SET_FLAGS)

static __wasi_filesize_t size_of(__wasi_fd_t fd)
{
    __wasi_filestat_t st;
    if (__wasi_fd_filestat_get(fd, &st) != 0)
        return (__wasi_filesize_t)-1;
    return st.size;
}

static void seek(const char *key, __wasi_fd_t fd, __wasi_filedelta_t off, __wasi_whence_t wh)
{
    __wasi_filesize_t pos = 12345;
    __wasi_errno_t e = __wasi_fd_seek(fd, off, wh, &pos);
    if (e)
        check(key, e);
    else
        say_u(key, pos);
}

static void tell(const char *key, __wasi_fd_t fd)
{
    __wasi_filesize_t pos = 12345;
    __wasi_errno_t e = __wasi_fd_tell(fd, &pos);
    if (e)
        check(key, e);
    else
        say_u(key, pos);
}

static void file_ops(__wasi_fd_t dir)
{
    __wasi_fd_t fd, fd2, tmp;
    check("create", p_open(dir, 0, "f", __WASI_OFLAGS_CREAT, RW_RIGHTS, 0, 0, &fd));
    tell("tell_new", fd);
    static uint8_t buf[256];
    memset(buf, 'a', 60);
    memset(buf + 60, 'b', 40);
    __wasi_ciovec_t two[3] = {{buf, 60}, {buf, 0}, {buf + 60, 40}};
    __wasi_size_t n = 0;
    /* Scattered writes and reads may be short (a host may use only the first
     * buffer); they get a file of their own so the rest does not depend on it. */
    check("scatter_create", p_open(dir, 0, "scatter", __WASI_OFLAGS_CREAT, RW_RIGHTS, 0, 0, &fd2));
    check("write_3iov", __wasi_fd_write(fd2, two, 3, &n));
    say_u("write_3iov_n", n);
    check("write_no_iov", __wasi_fd_write(fd2, two, 0, &n));
    say_u("write_no_iov_n", n);
    seek("scatter_seek0", fd2, 0, __WASI_WHENCE_SET);
    __wasi_iovec_t sg[2] = {{buf + 100, 30}, {buf + 130, 100}};
    check("read_2iov", __wasi_fd_read(fd2, sg, 2, &n));
    say_u("read_2iov_n", n);
    check("scatter_close", __wasi_fd_close(fd2));
    check("scatter_unlink", __wasi_path_unlink_file(dir, "scatter"));
    for (size_t done = 0; done < 100;) {
        __wasi_ciovec_t one = {buf + done, 100 - done};
        if (__wasi_fd_write(fd, &one, 1, &n) != 0 || n == 0)
            break;
        done += n;
    }
    tell("tell_after_write", fd);
    seek("seek_cur_back", fd, -50, __WASI_WHENCE_CUR);
    seek("seek_set0", fd, 0, __WASI_WHENCE_SET);
    seek("seek_past_end", fd, 1000, __WASI_WHENCE_CUR);
    seek("seek_before_0", fd, -2000, __WASI_WHENCE_CUR);
    seek("seek_end", fd, 0, __WASI_WHENCE_END);
    seek("seek_end_minus", fd, -10, __WASI_WHENCE_END);
    seek("seek_set_negative", fd, -1, __WASI_WHENCE_SET);
    seek("seek_set0_again", fd, 0, __WASI_WHENCE_SET);
    memset(buf, 0, sizeof buf);
    size_t got = 0;
    for (;;) {
        __wasi_iovec_t r = {buf + got, 200 - got};
        if (__wasi_fd_read(fd, &r, 1, &n) != 0 || n == 0)
            break;
        got += n;
    }
    say_u("read_all_n", got);
    say_u("read_content_ok", buf[0] == 'a' && buf[59] == 'a' && buf[60] == 'b' && buf[99] == 'b');
    __wasi_iovec_t r2[2] = {{buf, 30}, {buf + 30, 200}};
    check("read_eof", __wasi_fd_read(fd, r2, 2, &n));
    say_u("read_eof_n", n);
    tell("tell_after_read", fd);
    __wasi_iovec_t r1 = {buf, 20};
    check("pread", __wasi_fd_pread(fd, &r1, 1, 55, &n));
    say_u("pread_n", n);
    buf[20] = 0;
    say_s("pread_data", (char *)buf);
    check("pread_past_end", __wasi_fd_pread(fd, &r1, 1, 1000, &n));
    say_u("pread_past_end_n", n);
    __wasi_ciovec_t w1 = {(const uint8_t *)"AB", 2};
    check("pwrite", __wasi_fd_pwrite(fd, &w1, 1, 0, &n));
    say_u("pwrite_n", n);
    tell("tell_after_pwrite", fd);
    check("pwrite_past_end", __wasi_fd_pwrite(fd, &w1, 1, 120, &n));
    say_u("size_after_pwrite_past_end", size_of(fd));

    __wasi_filestat_t st;
    check("filestat", __wasi_fd_filestat_get(fd, &st));
    say_u("filestat_type", st.filetype);
    say_u("filestat_nlink", st.nlink);
    say_u("filestat_size", st.size);
    check("set_size_grow", __wasi_fd_filestat_set_size(fd, 150));
    say_u("size_grown", size_of(fd));
    check("set_size_shrink", __wasi_fd_filestat_set_size(fd, 20));
    say_u("size_shrunk", size_of(fd));
    tell("tell_after_shrink", fd);
    __wasi_timestamp_t mt = st.mtim - 100;
    check("set_mtim", __wasi_fd_filestat_set_times(fd, 0, mt, __WASI_FSTFLAGS_MTIM));
    __wasi_filestat_t st2;
    check("filestat2", __wasi_fd_filestat_get(fd, &st2));
    say_u("mtim_exact", st2.mtim == mt);
    say_u("atim_kept", st2.atim == st.atim);
    check("set_times_atim_both", __wasi_fd_filestat_set_times(fd, 1, 1, __WASI_FSTFLAGS_ATIM | __WASI_FSTFLAGS_ATIM_NOW));
    check("set_times_mtim_both", __wasi_fd_filestat_set_times(fd, 1, 1, __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW));
    check("set_times_now", __wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_ATIM_NOW | __WASI_FSTFLAGS_MTIM_NOW));
    check("set_times_none", __wasi_fd_filestat_set_times(fd, 0, 0, 0));

    __wasi_fdstat_t fst;
    check("fdstat", __wasi_fd_fdstat_get(fd, &fst));
    say_u("fdstat_type", fst.fs_filetype);
    say_u("fdstat_flags", fst.fs_flags);
    has_bits("fdstat_base_rw", fst.fs_rights_base, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE);
    check("set_flags_append", __wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_APPEND));
    check("fdstat_append", __wasi_fd_fdstat_get(fd, &fst));
    say_u("fdstat_append_flags", fst.fs_flags);
    seek("seek_before_append", fd, 0, __WASI_WHENCE_SET);
    check("append_write", write_str(fd, "xyz", &n));
    say_u("size_after_append", size_of(fd));
    tell("tell_after_append", fd);
    check("set_flags_none", __wasi_fd_fdstat_set_flags(fd, 0));
    seek("seek_before_overwrite", fd, 0, __WASI_WHENCE_SET);
    check("overwrite", write_str(fd, "Q", &n));
    say_u("size_after_overwrite", size_of(fd));
    check("set_flags_sync", __wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_SYNC));
    check("set_flags_dsync", __wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_DSYNC));
    check("set_flags_nonblock", __wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_NONBLOCK));
    check("fdstat_nonblock", __wasi_fd_fdstat_get(fd, &fst));
    say_u("fdstat_nonblock_flags", fst.fs_flags);
    check("set_flags_back", __wasi_fd_fdstat_set_flags(fd, 0));

    check("advise", __wasi_fd_advise(fd, 0, 10, __WASI_ADVICE_NORMAL));
    check("advise_dontneed", __wasi_fd_advise(fd, 0, 0, __WASI_ADVICE_DONTNEED));
    check("allocate_grow", __wasi_fd_allocate(fd, 0, 200));
    say_u("size_after_allocate", size_of(fd));
    check("allocate_zero_len", __wasi_fd_allocate(fd, 0, 0));
    check("datasync", __wasi_fd_datasync(fd));
    check("sync", __wasi_fd_sync(fd));

    /* Read-only and write-only descriptors. */
    check("open_ro", p_open(dir, 0, "f", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_FILESTAT_GET, 0, 0, &fd2));
    check("fdstat_ro", __wasi_fd_fdstat_get(fd2, &fst));
    has_bits("ro_has_read", fst.fs_rights_base, __WASI_RIGHTS_FD_READ);
    has_bits("ro_has_write", fst.fs_rights_base, __WASI_RIGHTS_FD_WRITE);
    check("write_on_ro", write_str(fd2, "no", &n));
    __wasi_iovec_t rr = {buf, 4};
    check("read_on_ro", __wasi_fd_read(fd2, &rr, 1, &n));
    say_u("read_on_ro_n", n);
    check("close_ro", __wasi_fd_close(fd2));
    check("open_wo", p_open(dir, 0, "f", 0, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd2));
    check("read_on_wo", __wasi_fd_read(fd2, &rr, 1, &n));
    check("write_on_wo", write_str(fd2, "W", &n));
    check("close_wo", __wasi_fd_close(fd2));

    /* Append from open, and pwrite on an appending descriptor. */
    check("open_append", p_open(dir, 0, "ap", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC,
                                __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL |
                                    __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_READ,
                                0, __WASI_FDFLAGS_APPEND, &fd2));
    check("ap_fdstat", __wasi_fd_fdstat_get(fd2, &fst));
    say_u("ap_flags", fst.fs_flags);
    check("ap_write1", write_str(fd2, "12", &n));
    seek("ap_seek0", fd2, 0, __WASI_WHENCE_SET);
    check("ap_write2", write_str(fd2, "34", &n));
    tell("ap_tell", fd2);
    __wasi_ciovec_t w3 = {(const uint8_t *)"567", 3};
    check("ap_pwrite", __wasi_fd_pwrite(fd2, &w3, 1, 0, &n));
    tell("ap_tell_after_pwrite", fd2);
    say_u("ap_size", size_of(fd2));
    check("ap_close", __wasi_fd_close(fd2));
    char content[64];
    check("ap_read_back", get_file(dir, "ap", content, sizeof content));
    say_s("ap_content", content);

    /* Open flags on files. */
    check("open_trunc", p_open(dir, 0, "f", __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_FILESTAT_GET, 0, 0, &fd2));
    say_u("size_after_trunc", size_of(fd));
    check("close_trunc", __wasi_fd_close(fd2));
    check("creat_excl_existing", p_open(dir, 0, "f", __WASI_OFLAGS_CREAT | __WASI_OFLAGS_EXCL, 0, 0, 0, &tmp));
    check("creat_existing", p_open(dir, 0, "f", __WASI_OFLAGS_CREAT, 0, 0, 0, &tmp));
    if (tmp != (__wasi_fd_t)-1)
        check("close_creat_existing", __wasi_fd_close(tmp));
    check("excl_without_creat", p_open(dir, 0, "f", __WASI_OFLAGS_EXCL, 0, 0, 0, &tmp));
    if (tmp != (__wasi_fd_t)-1)
        check("close_excl_without_creat", __wasi_fd_close(tmp));
    check("open_missing", p_open(dir, 0, "missing", 0, 0, 0, 0, &tmp));
    check("open_missing_dir_component", p_open(dir, 0, "nodir/x", __WASI_OFLAGS_CREAT, 0, 0, 0, &tmp));
    check("open_file_slash", p_open(dir, 0, "f/", 0, 0, 0, 0, &tmp));
    check("open_file_as_dir", p_open(dir, 0, "f", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &tmp));
    check("open_file_component", p_open(dir, 0, "f/x", 0, 0, 0, 0, &tmp));
    check("open_empty_path", p_open(dir, 0, "", 0, 0, 0, 0, &tmp));
    check("open_via_file_fd", p_open(fd, 0, "x", 0, 0, 0, 0, &tmp));
    check("open_via_stdout", p_open(1, 0, "x", 0, 0, 0, 0, &tmp));
    check("open_via_closed", p_open(50, 0, "x", 0, 0, 0, 0, &tmp));

    /* Files and renumber. */
    check("open_g", p_open(dir, 0, "g", __WASI_OFLAGS_CREAT, __WASI_RIGHTS_FD_WRITE, 0, 0, &fd2));
    check("renumber_f_to_g", __wasi_fd_renumber(fd, fd2));
    check("close_old_f", __wasi_fd_close(fd));
    check("write_renumbered", write_str(fd2, "R", &n));
    check("close_renumbered", __wasi_fd_close(fd2));
    check("close_twice", __wasi_fd_close(fd2));
}

static void dir_fd_ops(__wasi_fd_t dir)
{
    __wasi_fd_t d;
    check("mkdir_d", __wasi_path_create_directory(dir, "d"));
    check("open_d", p_open(dir, 0, "d", __WASI_OFLAGS_DIRECTORY,
                           __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_FILESTAT_SET_TIMES |
                               __WASI_RIGHTS_FD_READDIR,
                           0, 0, &d));
    static uint8_t buf[64];
    __wasi_iovec_t iov = {buf, sizeof buf};
    __wasi_ciovec_t ciov = {buf, sizeof buf};
    __wasi_size_t n;
    __wasi_filesize_t pos;
    check("dir_read", __wasi_fd_read(d, &iov, 1, &n));
    check("dir_pread", __wasi_fd_pread(d, &iov, 1, 0, &n));
    check("dir_write", __wasi_fd_write(d, &ciov, 1, &n));
    check("dir_pwrite", __wasi_fd_pwrite(d, &ciov, 1, 0, &n));
    check("dir_seek", __wasi_fd_seek(d, 0, __WASI_WHENCE_SET, &pos));
    check("dir_tell", __wasi_fd_tell(d, &pos));
    check("dir_allocate", __wasi_fd_allocate(d, 0, 1));
    check("dir_set_size", __wasi_fd_filestat_set_size(d, 0));
    check("dir_advise", __wasi_fd_advise(d, 0, 0, __WASI_ADVICE_NORMAL));
    check("dir_datasync", __wasi_fd_datasync(d));
    check("dir_sync", __wasi_fd_sync(d));
    check("dir_set_flags", __wasi_fd_fdstat_set_flags(d, __WASI_FDFLAGS_NONBLOCK));
    __wasi_filestat_t st;
    check("dir_filestat", __wasi_fd_filestat_get(d, &st));
    say_u("dir_filestat_type", st.filetype);
    check("dir_set_times", __wasi_fd_filestat_set_times(d, 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
    check("preopen_sync", __wasi_fd_sync(dir));
    check("close_d", __wasi_fd_close(d));
    /* Opened asking for no rights at all. */
    check("open_d_no_rights", p_open(dir, 0, "d", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &d));
    check("no_rights_filestat", __wasi_fd_filestat_get(d, &st));
    check("no_rights_readdir", __wasi_fd_readdir(d, buf, sizeof buf, 0, &n));
    check("close_d_no_rights", __wasi_fd_close(d));
    check("rmdir_d", __wasi_path_remove_directory(dir, "d"));
}

static void stdio_ops(void)
{
    static uint8_t buf[8];
    __wasi_iovec_t iov = {buf, sizeof buf};
    __wasi_ciovec_t ciov = {buf, 0};
    __wasi_size_t n;
    __wasi_filesize_t pos;
    check("stdout_seek", __wasi_fd_seek(1, 0, __WASI_WHENCE_CUR, &pos));
    check("stdin_tell", __wasi_fd_tell(0, &pos));
    check("stdin_pread", __wasi_fd_pread(0, &iov, 1, 0, &n));
    check("stdout_pwrite", __wasi_fd_pwrite(1, &ciov, 1, 0, &n));
    check("stdin_write", __wasi_fd_write(0, &ciov, 1, &n));
    check("stdout_read", __wasi_fd_read(1, &iov, 1, &n));
    check("stdout_sync", __wasi_fd_sync(1));
    check("stdout_datasync", __wasi_fd_datasync(1));
    check("stdout_advise", __wasi_fd_advise(1, 0, 0, __WASI_ADVICE_NORMAL));
    check("stdout_allocate", __wasi_fd_allocate(1, 0, 1));
    check("stdout_set_size", __wasi_fd_filestat_set_size(1, 0));
    check("stdout_set_times", __wasi_fd_filestat_set_times(1, 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
    check("stdout_readdir", __wasi_fd_readdir(1, buf, sizeof buf, 0, &n));
    check("stdout_set_flags", __wasi_fd_fdstat_set_flags(1, __WASI_FDFLAGS_APPEND));
    __wasi_fdstat_t fst;
    check("stdout_fdstat", __wasi_fd_fdstat_get(1, &fst));
    say_u("stdout_filetype", fst.fs_filetype);
    has_bits("stdout_can_write", fst.fs_rights_base, __WASI_RIGHTS_FD_WRITE);
    has_bits("stdout_can_seek", fst.fs_rights_base, __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL);
    check("stdin_fdstat", __wasi_fd_fdstat_get(0, &fst));
    has_bits("stdin_can_read", fst.fs_rights_base, __WASI_RIGHTS_FD_READ);
    __wasi_filestat_t st;
    check("stdout_filestat", __wasi_fd_filestat_get(1, &st));
    say_u("stdout_filestat_type", st.filetype);
    say_u("stdout_filestat_nlink", st.nlink);
    say_u("stdout_filestat_size", st.size);
    check("close_invalid", __wasi_fd_close(77));
    check("close_huge", __wasi_fd_close(0x7fffffff));
    check("fdstat_invalid", __wasi_fd_fdstat_get(77, &fst));
    check("write_invalid", __wasi_fd_write(77, &ciov, 1, &n));
    check("renumber_invalid_from", __wasi_fd_renumber(77, 1));
    check("renumber_invalid_to", __wasi_fd_renumber(1, 77));
}

int main(void)
{
    __wasi_fd_t scratch = preopen("/scratch");
    file_ops(scratch);
    dir_fd_ops(scratch);
    stdio_ops();
    return 0;
}
