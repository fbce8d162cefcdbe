/* Path calls: create/remove directories, unlink, rename, symlinks, hard
 * links, readlink, stat and times through paths; trailing slashes, "..",
 * absolute paths, symlink loops and dangling links. Works in /scratch. */
#include "p1.h"

static __wasi_fd_t D;

static void mk(const char *key, const char *p) { check(key, __wasi_path_create_directory(D, p)); }
static void rmd(const char *key, const char *p) { check(key, __wasi_path_remove_directory(D, p)); }
static void unl(const char *key, const char *p) { check(key, __wasi_path_unlink_file(D, p)); }
static void ren(const char *key, const char *a, const char *b) { check(key, __wasi_path_rename(D, a, D, b)); }
static void sym(const char *key, const char *t, const char *p) { check(key, __wasi_path_symlink(t, D, p)); }
static void lnk(const char *key, __wasi_lookupflags_t f, const char *a, const char *b)
{
    check(key, __wasi_path_link(D, f, a, D, b));
}
static void touch(const char *key, const char *p)
{
    __wasi_fd_t fd;
    __wasi_errno_t e = p_open(D, 0, p, __WASI_OFLAGS_CREAT, 0, 0, 0, &fd);
    if (!e)
        e = __wasi_fd_close(fd);
    check(key, e);
}
static void opn(const char *key, __wasi_lookupflags_t l, const char *p, __wasi_oflags_t of)
{
    __wasi_fd_t fd;
    __wasi_errno_t e = p_open(D, l, p, of, 0, 0, 0, &fd);
    check(key, e);
    if (!e)
        (void)__wasi_fd_close(fd);
}
static void ftype(const char *key, __wasi_lookupflags_t l, const char *p)
{
    __wasi_filestat_t st;
    __wasi_errno_t e = __wasi_path_filestat_get(D, l, p, &st);
    if (e)
        check(key, e);
    else
        say_u(key, st.filetype);
}
static void rdlink(const char *key, const char *p, size_t cap)
{
    char buf[64];
    memset(buf, '#', sizeof buf);
    __wasi_size_t n = 0;
    __wasi_errno_t e = __wasi_path_readlink(D, p, (uint8_t *)buf, cap, &n);
    if (e) {
        check(key, e);
        return;
    }
    buf[n < sizeof buf - 1 ? n : sizeof buf - 1] = '\0';
    printf("%s=%s n=%u next=%c\n", key, buf, (unsigned)n, n < sizeof buf ? '#' : '-');
}

static void directories(void)
{
    mk("mkdir", "dir");
    mk("mkdir_exists", "dir");
    mk("mkdir_nested", "dir/nested");
    mk("mkdir_slash", "dir2/");
    mk("mkdir_missing_parent", "nope/child");
    mk("mkdir_dot", ".");
    mk("mkdir_empty", "");
    touch("touch_nested_file", "dir/nested/file");
    rmd("rmdir_nonempty", "dir");
    rmd("rmdir_nonempty_nested", "dir/nested");
    rmd("rmdir_file", "dir/nested/file");
    rmd("rmdir_file_slash", "dir/nested/file/");
    rmd("rmdir_missing", "nothing");
    rmd("rmdir_dot", ".");
    rmd("rmdir_slash", "dir2/");
    (void)__wasi_path_remove_directory(D, "dir2");   /* in case the host refused the slash */
    unl("unlink_dir", "dir");
    unl("unlink_dir_slash", "dir/");
    unl("unlink_file_slash", "dir/nested/file/");
    unl("unlink_missing", "nothing");
    unl("unlink_file", "dir/nested/file");
    rmd("rmdir_nested", "dir/nested");
    rmd("rmdir_dir", "dir");
}

static void renames(void)
{
    mk("ren_mk_source", "source");
    ren("ren_dir_to_new", "source", "target");
    opn("ren_old_gone", 0, "source", __WASI_OFLAGS_DIRECTORY);
    opn("ren_new_there", 0, "target", __WASI_OFLAGS_DIRECTORY);
    ren("ren_dir_slash_src", "target/", "source");
    ren("ren_dir_slash_dst", "source", "target/");
    ren("ren_dir_slash_both", "target/", "source/");
    mk("ren_mk_empty_target", "target");
    ren("ren_dir_to_empty_dir", "source", "target");
    mk("ren_mk_source2", "source");
    touch("ren_touch_target_file", "target/file");
    ren("ren_dir_to_nonempty", "source", "target");
    ren("ren_dir_to_file", "source", "target/file");
    touch("ren_touch_src_file", "sf");
    ren("ren_file_to_new", "sf", "tf");
    touch("ren_touch_sf_again", "sf");
    ren("ren_file_over_file", "sf", "tf");
    ren("ren_file_to_dir", "tf", "source");
    ren("ren_file_slash", "tf/", "tg");
    ren("ren_file_to_slash", "tf", "tg/");
    ren("ren_missing", "nothing", "x");
    ren("ren_into_self", "target", "target/sub");
    ren("ren_same", "tf", "tf");
    ren("ren_dot", ".", "x");
    unl("ren_cleanup_file", "target/file");
    rmd("ren_cleanup_target", "target");
    rmd("ren_cleanup_source", "source");
    unl("ren_cleanup_tf", "tf");
}

static void symlinks(void)
{
    touch("sym_touch_target", "target");
    sym("sym_create", "target", "symlink");
    sym("sym_exists", "target", "symlink");
    sym("sym_dangling", "missing", "dangling");
    sym("sym_slash_dst_missing", "missing", "nowhere/");
    mk("sym_mk_dir", "tdir");
    sym("sym_over_dir", "x", "tdir");
    sym("sym_over_dir_slash", "x", "tdir/");
    sym("sym_over_file_slash", "x", "target/");
    sym("sym_absolute", "/", "abs");
    sym("sym_dotdot_out", "../..", "up");
    sym("sym_loop", "loop", "loop");
    sym("sym_to_dir", "tdir", "dirlink");
    ftype("stat_symlink_nofollow", 0, "symlink");
    ftype("stat_symlink_follow", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "symlink");
    ftype("stat_dirlink_follow", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "dirlink");
    ftype("stat_dirlink_slash", 0, "dirlink/");
    ftype("stat_dangling_nofollow", 0, "dangling");
    ftype("stat_dangling_follow", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "dangling");
    ftype("stat_loop_follow", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "loop");
    ftype("stat_up_follow", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "up");
    opn("open_symlink_nofollow", 0, "symlink", 0);
    opn("open_symlink_follow", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "symlink", 0);
    opn("open_symlink_dir_nofollow", 0, "symlink", __WASI_OFLAGS_DIRECTORY);
    opn("open_symlink_to_file_as_dir", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "symlink", __WASI_OFLAGS_DIRECTORY);
    opn("open_dirlink_dir_nofollow", 0, "dirlink", __WASI_OFLAGS_DIRECTORY);
    opn("open_dirlink_dir_follow", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "dirlink", __WASI_OFLAGS_DIRECTORY);
    opn("open_dirlink_slash", 0, "dirlink/", 0);
    opn("open_dangling_nofollow", 0, "dangling", 0);
    opn("open_dangling_dir", 0, "dangling", __WASI_OFLAGS_DIRECTORY);
    opn("open_loop", 0, "loop", 0);
    opn("open_loop_follow", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "loop", 0);
    opn("open_loop_component", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "loop/x", 0);
    opn("open_up_follow", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "up", __WASI_OFLAGS_DIRECTORY);
    rdlink("readlink", "symlink", 10);
    rdlink("readlink_short", "symlink", 4);
    rdlink("readlink_zero", "symlink", 0);
    rdlink("readlink_file", "target", 10);
    rdlink("readlink_missing", "nothing", 10);
    rdlink("readlink_slash", "dirlink/", 10);
    rdlink("readlink_dangling", "dangling", 20);
    /* Times on the link itself, and through it. */
    __wasi_filestat_t fst, sst, s2;
    check("times_stat_file", __wasi_path_filestat_get(D, 0, "target", &fst));
    check("times_stat_link", __wasi_path_filestat_get(D, 0, "symlink", &sst));
    check("times_set_link", __wasi_path_filestat_set_times(D, 0, "symlink", 0, sst.mtim - 200, __WASI_FSTFLAGS_MTIM));
    check("times_stat_link2", __wasi_path_filestat_get(D, 0, "symlink", &s2));
    say_u("times_link_changed", s2.mtim == sst.mtim - 200);
    check("times_stat_file2", __wasi_path_filestat_get(D, 0, "target", &s2));
    say_u("times_file_unchanged", s2.mtim == fst.mtim);
    check("times_set_follow", __wasi_path_filestat_set_times(D, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "symlink", 0, fst.mtim - 300, __WASI_FSTFLAGS_MTIM));
    check("times_stat_file3", __wasi_path_filestat_get(D, 0, "target", &s2));
    say_u("times_file_changed", s2.mtim == fst.mtim - 300);
    check("times_bad_flags", __wasi_path_filestat_set_times(D, 0, "target", 0, 0, __WASI_FSTFLAGS_MTIM | __WASI_FSTFLAGS_MTIM_NOW));
    check("times_missing", __wasi_path_filestat_set_times(D, 0, "nothing", 0, 0, __WASI_FSTFLAGS_MTIM_NOW));
    /* Hard links. */
    lnk("link_file", 0, "target", "hard");
    check("link_stat", __wasi_path_filestat_get(D, 0, "hard", &s2));
    say_u("link_nlink", s2.nlink);
    say_u("link_same_ino", s2.ino == fst.ino);
    lnk("link_exists", 0, "target", "hard");
    lnk("link_to_itself", 0, "target", "target");
    lnk("link_over_dir", 0, "target", "tdir");
    lnk("link_dir", 0, "tdir", "dirhard");
    lnk("link_dst_slash", 0, "target", "newhard/");
    lnk("link_src_slash", 0, "target/", "newhard");
    lnk("link_follow", __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "symlink", "newhard");
    lnk("link_symlink", 0, "symlink", "symhard");
    ftype("link_symlink_type", 0, "symhard");
    lnk("link_dangling", 0, "dangling", "danglehard");
    lnk("link_missing", 0, "nothing", "x");
    /* Cleanup. */
    unl("unlink_symlink", "symlink");
    unl("unlink_dirlink", "dirlink");
    unl("unlink_dirlink_slash", "dirlink/");
    unl("unlink_dangling", "dangling");
    unl("unlink_loop", "loop");
    unl("unlink_up", "up");
    unl("unlink_hard", "hard");
    unl("unlink_symhard", "symhard");
    unl("unlink_danglehard", "danglehard");
    unl("unlink_target", "target");
    rmd("rmdir_tdir", "tdir");
}

static void odd_paths(void)
{
    mk("odd_mk", "dir");
    mk("odd_mk_nested", "dir/nested");
    touch("odd_touch", "dir/nested/file");
    opn("odd_absolute", 0, "/dir/nested/file", 0);
    opn("odd_dotdot_inside", 0, "dir/.//nested/../../dir/nested/../nested///./file", 0);
    opn("odd_dotdot_escape", 0, "dir/nested/../../../scratch/dir/nested/file", 0);
    opn("odd_dotdot", 0, "..", __WASI_OFLAGS_DIRECTORY);
    opn("odd_file_slash", 0, "dir/nested/file/", 0);
    opn("odd_file_slashes", 0, "dir/nested/file///", 0);
    opn("odd_dir_slash", 0, "dir/nested/", 0);
    opn("odd_dir_slashes", 0, "dir/nested///", 0);
    opn("odd_dot", 0, ".", 0);
    ftype("odd_stat_dot", 0, ".");
    ftype("odd_stat_dotdot", 0, "..");
    ftype("odd_stat_abs", 0, "/");
    mk("odd_mk_abs", "/x");
    mk("odd_mk_dotdot", "../x");
    unl("odd_unlink_dotdot", "../x");
    __wasi_fd_t fd;
    /* Paths with a NUL inside: the call sees the bytes, not a C string. */
    static const char with_nul[] = "dir/nested/file\0";
    check("odd_nul_trailing", p_open_n(D, with_nul, sizeof with_nul - 1, &fd));
    check("odd_nul_inside", p_open_n(D, "dir\0nested", 10, &fd));
    unl("odd_cleanup_file", "dir/nested/file");
    rmd("odd_cleanup_nested", "dir/nested");
    rmd("odd_cleanup_dir", "dir");
}

int main(void)
{
    D = preopen("/scratch");
    directories();
    renames();
    symlinks();
    odd_paths();
    return 0;
}
