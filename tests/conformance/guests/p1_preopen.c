/* Preopened directories: discovery, the rights they report, reopening them
 * with those rights, closing and renumbering them. /data is granted
 * read-only, /scratch read-write. */
#include "p1.h"

#define DIR_RIGHTS                                                                          \
    (__WASI_RIGHTS_PATH_CREATE_DIRECTORY | __WASI_RIGHTS_PATH_CREATE_FILE |                 \
     __WASI_RIGHTS_PATH_LINK_SOURCE | __WASI_RIGHTS_PATH_LINK_TARGET | __WASI_RIGHTS_PATH_OPEN | \
     __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_READLINK | __WASI_RIGHTS_PATH_RENAME_SOURCE | \
     __WASI_RIGHTS_PATH_RENAME_TARGET | __WASI_RIGHTS_PATH_SYMLINK |                         \
     __WASI_RIGHTS_PATH_REMOVE_DIRECTORY | __WASI_RIGHTS_PATH_UNLINK_FILE |                  \
     __WASI_RIGHTS_PATH_FILESTAT_GET | __WASI_RIGHTS_PATH_FILESTAT_SET_TIMES |               \
     __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_FILESTAT_SET_TIMES)
#define FILE_RIGHTS                                                                         \
    (__WASI_RIGHTS_FD_DATASYNC | __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK |             \
     __WASI_RIGHTS_FD_FDSTAT_SET_FLAGS | __WASI_RIGHTS_FD_SYNC | __WASI_RIGHTS_FD_TELL |      \
     __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_ADVISE | __WASI_RIGHTS_FD_ALLOCATE |          \
     __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE |                    \
     __WASI_RIGHTS_FD_FILESTAT_SET_TIMES | __WASI_RIGHTS_POLL_FD_READWRITE)
#define READ_DIR_RIGHTS                                                                     \
    (__WASI_RIGHTS_PATH_OPEN | __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_READLINK |     \
     __WASI_RIGHTS_PATH_FILESTAT_GET | __WASI_RIGHTS_FD_FILESTAT_GET)

static void stat_rights(const char *pfx, __wasi_fd_t fd)
{
    __wasi_fdstat_t st;
    char key[64];
    __wasi_errno_t e = __wasi_fd_fdstat_get(fd, &st);
    snprintf(key, sizeof key, "%s_fdstat", pfx);
    check(key, e);
    if (e)
        return;
    snprintf(key, sizeof key, "%s_filetype", pfx);
    say_u(key, st.fs_filetype);
    snprintf(key, sizeof key, "%s_flags", pfx);
    say_u(key, st.fs_flags);
    snprintf(key, sizeof key, "%s_base_has_seek", pfx);
    has_bits(key, st.fs_rights_base, __WASI_RIGHTS_FD_SEEK);
    snprintf(key, sizeof key, "%s_base_has_readdir_open", pfx);
    has_bits(key, st.fs_rights_base, __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_PATH_OPEN);
    snprintf(key, sizeof key, "%s_base_has_fd_filestat_set_size", pfx);
    has_bits(key, st.fs_rights_base, __WASI_RIGHTS_FD_FILESTAT_SET_SIZE);
}

int main(void)
{
    __wasi_fd_t data = preopen("/data"), scratch = preopen("/scratch");
    say_u("data_fd", data);
    say_u("scratch_fd", scratch);

    __wasi_prestat_t ps;
    check("prestat_stdin", __wasi_fd_prestat_get(0, &ps));
    check("prestat_unused", __wasi_fd_prestat_get(40, &ps));
    check("prestat_scratch", __wasi_fd_prestat_get(scratch, &ps));
    say_u("prestat_scratch_tag", ps.tag);
    say_u("prestat_scratch_len", ps.u.dir.pr_name_len);
    char name[16];
    memset(name, 0, sizeof name);
    check("dir_name_zero", __wasi_fd_prestat_dir_name(scratch, (uint8_t *)name, 0));
    check("dir_name_short", __wasi_fd_prestat_dir_name(scratch, (uint8_t *)name, 3));
    check("dir_name_long", __wasi_fd_prestat_dir_name(scratch, (uint8_t *)name, sizeof name - 1));
    say_s("dir_name", name);
    check("dir_name_stdout", __wasi_fd_prestat_dir_name(1, (uint8_t *)name, sizeof name - 1));

    /* The rights a preopen reports: directory rights as base, directory and
     * file rights to pass on; no file rights (FD_READ, FD_WRITE, FD_SEEK) as
     * base, so that reopening the directory with them works. */
    __wasi_fdstat_t st;
    check("scratch_fdstat", __wasi_fd_fdstat_get(scratch, &st));
    say_u("scratch_filetype", st.fs_filetype);
    say_u("scratch_flags", st.fs_flags);
    has_bits("scratch_base_dir_rights", st.fs_rights_base, DIR_RIGHTS);
    has_bits("scratch_base_fd_read", st.fs_rights_base, __WASI_RIGHTS_FD_READ);
    has_bits("scratch_base_fd_write", st.fs_rights_base, __WASI_RIGHTS_FD_WRITE);
    has_bits("scratch_base_fd_seek", st.fs_rights_base, __WASI_RIGHTS_FD_SEEK);
    has_bits("scratch_base_fd_filestat_set_size", st.fs_rights_base,
             __WASI_RIGHTS_FD_FILESTAT_SET_SIZE);
    has_bits("scratch_inh_dir_and_file_rights", st.fs_rights_inheriting, DIR_RIGHTS | FILE_RIGHTS);
    __wasi_rights_t base = st.fs_rights_base, inh = st.fs_rights_inheriting;
    __wasi_fdstat_t dst;
    check("data_fdstat", __wasi_fd_fdstat_get(data, &dst));
    say_u("data_filetype", dst.fs_filetype);
    has_bits("data_base_read_dir_rights", dst.fs_rights_base, READ_DIR_RIGHTS);
    has_bits("data_inh_read", dst.fs_rights_inheriting, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK);
    has_bits("data_base_create_file", dst.fs_rights_base, __WASI_RIGHTS_PATH_CREATE_FILE);
    has_bits("data_inh_fd_write", dst.fs_rights_inheriting, __WASI_RIGHTS_FD_WRITE);

    /* Reopen "." the way programs find their scratch directory. */
    __wasi_fd_t d1, d2, d3, d4, d5, tmp;
    check("reopen_same_rights_dir", p_open(scratch, 0, ".", __WASI_OFLAGS_DIRECTORY, base, inh, 0, &d1));
    say_u("reopen_fd", d1);
    stat_rights("reopen", d1);
    check("reopen_same_rights_plain", p_open(scratch, 0, ".", 0, base, inh, 0, &d2));
    check("reopen_no_rights", p_open(scratch, 0, ".", 0, 0, 0, 0, &d3));
    check("reopen_dir_no_rights", p_open(scratch, 0, ".", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &d4));
    check("reopen_dir_read", p_open(scratch, 0, ".", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READ, 0, 0, &d5));
    check("reopen_dir_read_write",
          p_open(scratch, 0, ".", __WASI_OFLAGS_DIRECTORY,
                 __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE, 0, 0, &tmp));
    check("reopen_plain_write", p_open(scratch, 0, ".", 0, __WASI_RIGHTS_FD_WRITE, 0, 0, &tmp));
    check("reopen_nonblock", p_open(scratch, 0, ".", 0, 0, 0, __WASI_FDFLAGS_NONBLOCK, &tmp));
    if (tmp != (__wasi_fd_t)-1)
        check("close_nonblock", __wasi_fd_close(tmp));
    check("dir_creat", p_open(scratch, 0, "x", __WASI_OFLAGS_DIRECTORY | __WASI_OFLAGS_CREAT, 0, 0, 0, &tmp));
    check("dir_trunc", p_open(scratch, 0, ".", __WASI_OFLAGS_DIRECTORY | __WASI_OFLAGS_TRUNC, 0, 0, 0, &tmp));
    check("dir_excl", p_open(scratch, 0, ".", __WASI_OFLAGS_DIRECTORY | __WASI_OFLAGS_EXCL, 0, 0, 0, &tmp));
    check("subdir_seek_rights",
          __wasi_path_create_directory(d1, "sub"));
    check("open_subdir_seek", p_open(d1, 0, "sub", __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_SEEK, 0, 0, &tmp));
    stat_rights("subdir", tmp);
    __wasi_filedelta_t pos = 0;
    __wasi_filesize_t newpos = 0;
    check("subdir_seek", __wasi_fd_seek(tmp, pos, __WASI_WHENCE_CUR, &newpos));
    check("subdir_close", __wasi_fd_close(tmp));
    check("subdir_remove", __wasi_path_remove_directory(scratch, "sub"));

    /* Closing a preopen leaves descriptors opened from it working. */
    check("close_preopen", __wasi_fd_close(scratch));
    check("closed_preopen_fdstat", __wasi_fd_fdstat_get(scratch, &st));
    check("closed_preopen_prestat", __wasi_fd_prestat_get(scratch, &ps));
    check("reopened_still_works", __wasi_fd_fdstat_get(d1, &st));
    say_u("reopened_filetype", st.fs_filetype);
    check("reopened_put_file", put_file(d1, "made-after-close", "still here\n"));

    /* Renumbering over a preopen replaces it. */
    __wasi_filestat_t fs1, fs2;
    check("d2_filestat", __wasi_fd_filestat_get(d2, &fs1));
    check("renumber_over_preopen", __wasi_fd_renumber(d2, data));
    check("renumbered_filestat", __wasi_fd_filestat_get(data, &fs2));
    say_u("renumbered_same_ino", fs1.ino == fs2.ino && fs1.dev == fs2.dev);
    check("renumbered_prestat", __wasi_fd_prestat_get(data, &ps));
    check("renumber_source_gone", __wasi_fd_fdstat_get(d2, &st));
    check("renumber_to_closed", __wasi_fd_renumber(d3, d2));
    check("renumber_from_closed", __wasi_fd_renumber(d2, d3));
    check("renumber_same", __wasi_fd_renumber(d3, d3));

    /* Which numbers new descriptors get after closes. */
    check("close_d4", __wasi_fd_close(d4));
    check("close_d5", __wasi_fd_close(d5));
    check("open_after_close", p_open(d1, 0, ".", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &tmp));
    say_u("fd_after_close_is_d5", tmp == d5);
    say_u("fd_after_close_is_d4", tmp == d4);
    check("open_after_close2", p_open(d1, 0, ".", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &tmp));
    say_u("fd_after_close2_is_d5", tmp == d5);
    say_u("fd_after_close2_is_d4", tmp == d4);
    check("unlink_made", __wasi_path_unlink_file(d1, "made-after-close"));
    return 0;
}
