/* Rights: inherited on path_open, only ever dropped by fd_fdstat_set_rights,
 * and enforced once dropped (the truncation right on a directory, read and
 * write on a file). A host that does not track rights answers
 * fd_fdstat_set_rights with NOTSUP; the rest is then skipped. */
#include "p1.h"

int main(void)
{
    __wasi_fd_t scratch = preopen("/scratch"), d, f;
    __wasi_fdstat_t st;
    check("preopen_fdstat", __wasi_fd_fdstat_get(scratch, &st));
    __wasi_errno_t e = __wasi_fd_fdstat_set_rights(scratch, st.fs_rights_base, st.fs_rights_inheriting);
    check("set_rights_same", e);
    say_u("supports_rights", e == 0);
    check("set_rights_closed", __wasi_fd_fdstat_set_rights(70, 0, 0));
    check("mkdir", __wasi_path_create_directory(scratch, "r"));
    check("open_dir", p_open(scratch, 0, "r", __WASI_OFLAGS_DIRECTORY, st.fs_rights_base, st.fs_rights_inheriting, 0, &d));
    check("put", put_file(d, "file", "0123456789"));
    if (e == 0) {
        __wasi_fdstat_t ds;
        check("dir_fdstat", __wasi_fd_fdstat_get(d, &ds));
        has_bits("dir_base_path_set_size", ds.fs_rights_base, __WASI_RIGHTS_PATH_FILESTAT_SET_SIZE);
        /* Truncation needs PATH_FILESTAT_SET_SIZE on the directory, not
         * FD_FILESTAT_SET_SIZE on the file. */
        check("trunc_no_file_rights", p_open(d, 0, "file", __WASI_OFLAGS_TRUNC, 0, 0, 0, &f));
        if (f != (__wasi_fd_t)-1)
            (void)__wasi_fd_close(f);
        check("drop_inh_set_size", __wasi_fd_fdstat_set_rights(d, ds.fs_rights_base, ds.fs_rights_inheriting & ~__WASI_RIGHTS_FD_FILESTAT_SET_SIZE));
        check("trunc_without_inh", p_open(d, 0, "file", __WASI_OFLAGS_TRUNC, 0, 0, 0, &f));
        if (f != (__wasi_fd_t)-1)
            (void)__wasi_fd_close(f);
        check("drop_path_set_size", __wasi_fd_fdstat_set_rights(d, ds.fs_rights_base & ~__WASI_RIGHTS_PATH_FILESTAT_SET_SIZE, ds.fs_rights_inheriting & ~__WASI_RIGHTS_FD_FILESTAT_SET_SIZE));
        check("dir_fdstat2", __wasi_fd_fdstat_get(d, &ds));
        has_bits("dir_base_path_set_size2", ds.fs_rights_base, __WASI_RIGHTS_PATH_FILESTAT_SET_SIZE);
        check("trunc_refused", p_open(d, 0, "file", __WASI_OFLAGS_TRUNC, 0, 0, 0, &f));
        check("regrow_refused", __wasi_fd_fdstat_set_rights(d, ds.fs_rights_base | __WASI_RIGHTS_PATH_FILESTAT_SET_SIZE, ds.fs_rights_inheriting));
        check("drop_create_file", __wasi_fd_fdstat_set_rights(d, ds.fs_rights_base & ~__WASI_RIGHTS_PATH_CREATE_FILE, ds.fs_rights_inheriting));
        check("create_refused", p_open(d, 0, "new", __WASI_OFLAGS_CREAT, 0, 0, 0, &f));
        check("open_existing_ok", p_open(d, 0, "file", 0, __WASI_RIGHTS_FD_READ, 0, 0, &f));
        if (f != (__wasi_fd_t)-1)
            (void)__wasi_fd_close(f);
        /* Files: rights asked for are capped by what the directory passes on. */
        check("open_rw", p_open(d, 0, "file", 0, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL, 0, 0, &f));
        __wasi_fdstat_t fs;
        check("file_fdstat", __wasi_fd_fdstat_get(f, &fs));
        has_bits("file_has_rw", fs.fs_rights_base, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE);
        has_bits("file_no_path_rights", fs.fs_rights_base, __WASI_RIGHTS_PATH_OPEN);
        check("file_drop_rw", __wasi_fd_fdstat_set_rights(f, fs.fs_rights_base & ~(__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE), 0));
        uint8_t b[4];
        __wasi_iovec_t iov = {b, 4};
        __wasi_size_t n;
        check("file_read_dropped", __wasi_fd_read(f, &iov, 1, &n));
        check("file_write_dropped", write_str(f, "x", &n));
        __wasi_filesize_t pos;
        check("file_seek_kept", __wasi_fd_seek(f, 1, __WASI_WHENCE_SET, &pos));
        check("file_regrant", __wasi_fd_fdstat_set_rights(f, fs.fs_rights_base, 0));
        check("file_drop_seek", __wasi_fd_fdstat_set_rights(f, __WASI_RIGHTS_FD_TELL, 0));
        check("file_seek_dropped", __wasi_fd_seek(f, 1, __WASI_WHENCE_SET, &pos));
        check("file_tell_kept", __wasi_fd_tell(f, &pos));
        say_u("file_tell_pos", pos);
        check("file_filestat_dropped", __wasi_fd_filestat_get(f, &(__wasi_filestat_t){0}));
        check("close_file", __wasi_fd_close(f));
        /* A directory without PATH_OPEN opens nothing. */
        check("drop_open", __wasi_fd_fdstat_set_rights(d, ds.fs_rights_base & ~(__WASI_RIGHTS_PATH_OPEN | __WASI_RIGHTS_PATH_CREATE_FILE), ds.fs_rights_inheriting));
        check("open_refused", p_open(d, 0, "file", 0, 0, 0, 0, &f));
        check("readdir_kept", __wasi_fd_readdir(d, b, sizeof b, 0, &n));
        check("drop_all", __wasi_fd_fdstat_set_rights(d, 0, 0));
        check("readdir_dropped", __wasi_fd_readdir(d, b, sizeof b, 0, &n));
        check("unlink_dropped", __wasi_path_unlink_file(d, "file"));
        check("mkdir_dropped", __wasi_path_create_directory(d, "x"));
        check("stat_dropped", __wasi_path_filestat_get(d, 0, "file", &(__wasi_filestat_t){0}));
    }
    check("close_dir", __wasi_fd_close(d));
    check("cleanup_file", __wasi_path_unlink_file(scratch, "r/file"));
    check("cleanup_dir", __wasi_path_remove_directory(scratch, "r"));
    return 0;
}
