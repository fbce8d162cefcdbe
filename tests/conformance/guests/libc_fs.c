/* An ordinary C program (wasi-libc) working with files: reads the read-only
 * /data tree, builds and rewrites a tree in /scratch. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void res(const char *key, int rc)
{
    if (rc < 0)
        printf("%s=err:%s\n", key, strerror(errno));
    else
        printf("%s=%d\n", key, rc);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ls(const char *key, const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        printf("%s=err:%s\n", key, strerror(errno));
        return;
    }
    char *names[128];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 128) {
        char full[512];
        struct stat st;
        snprintf(full, sizeof full, "%s/%s", path, e->d_name);
        int ok = lstat(full, &st) == 0 && st.st_ino == e->d_ino;
        size_t len = strlen(e->d_name) + 8;
        names[n] = malloc(len);
        if (!names[n])
            break;
        snprintf(names[n], len, "%s%s", e->d_name, ok ? "" : "(ino?)");
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    printf("%s=", key);
    for (size_t i = 0; i < n; i++) {
        printf("%s%s", i ? "," : "", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static void cat(const char *key, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("%s=err:%s\n", key, strerror(errno));
        return;
    }
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\n')
            buf[i] = '|';
    printf("%s=%s\n", key, buf);
    fclose(f);
}

int main(void)
{
    /* read-only data */
    cat("hello", "/data/hello.txt");
    cat("inner", "/data/sub/inner.txt");
    ls("ls_data", "/data");
    ls("ls_data_sub", "/data/sub");
    struct stat st, st2;
    res("stat_hello", stat("/data/hello.txt", &st));
    printf("hello_size=%lld regular=%d\n", (long long)st.st_size, S_ISREG(st.st_mode));
    res("stat_inner", stat("/data/sub/inner.txt", &st2));
    printf("same_dev=%d distinct_ino=%d\n", st.st_dev == st2.st_dev, st.st_ino != st2.st_ino);
    res("stat_sub", stat("/data/sub", &st));
    printf("sub_is_dir=%d\n", S_ISDIR(st.st_mode));
    res("stat_missing", stat("/data/missing", &st));
    res("access_hello", access("/data/hello.txt", R_OK));
    int fd = open("/data/hello.txt", O_RDONLY);
    res("open_ro", fd >= 0 ? 0 : -1);
    printf("isatty_file=%d isatty_stdout=%d\n", isatty(fd), isatty(1));
    char buf[64];
    res("pread_ro", (int)pread(fd, buf, 5, 6));
    buf[5] = '\0';
    printf("pread_ro_data=%s\n", buf);
    res("lseek_end", (int)lseek(fd, 0, SEEK_END));
    close(fd);

    /* a tree in scratch */
    res("mkdir_a", mkdir("/scratch/a", 0755));
    res("mkdir_ab", mkdir("/scratch/a/b", 0755));
    res("mkdir_exists", mkdir("/scratch/a", 0755));
    FILE *f = fopen("/scratch/a/b/notes.txt", "w");
    res("fopen_w", f ? 0 : -1);
    if (f) {
        for (int i = 1; i <= 5; i++)
            fprintf(f, "line %d\n", i);
        fclose(f);
    }
    f = fopen("/scratch/a/b/notes.txt", "a");
    if (f) {
        fputs("appended\n", f);
        fclose(f);
    }
    cat("notes", "/scratch/a/b/notes.txt");
    res("rename", rename("/scratch/a/b/notes.txt", "/scratch/a/notes.txt"));
    res("rename_missing", rename("/scratch/a/b/notes.txt", "/scratch/x"));
    ls("ls_a", "/scratch/a");
    res("symlink", symlink("notes.txt", "/scratch/a/link"));
    char target[64];
    ssize_t tl = readlink("/scratch/a/link", target, sizeof target - 1);
    res("readlink", (int)tl);
    target[tl > 0 ? tl : 0] = '\0';
    printf("readlink_target=%s\n", target);
    cat("through_link", "/scratch/a/link");
    res("lstat_link", lstat("/scratch/a/link", &st));
    printf("link_is_lnk=%d\n", S_ISLNK(st.st_mode));
    res("link_hard", link("/scratch/a/notes.txt", "/scratch/a/hard"));
    res("stat_hard", stat("/scratch/a/hard", &st));
    printf("hard_nlink=%d\n", (int)st.st_nlink);
    res("unlink_hard", unlink("/scratch/a/hard"));
    res("rmdir_nonempty", rmdir("/scratch/a"));
    res("unlink_dir", unlink("/scratch/a/b"));
    res("rmdir_b", rmdir("/scratch/a/b"));
    res("remove_link", remove("/scratch/a/link"));

    /* pwrite on a file opened O_APPEND, then truncation */
    fd = open("/scratch/pw", O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0644);
    res("open_append", fd >= 0 ? 0 : -1);
    res("write1", (int)write(fd, "ab", 2));
    res("lseek0", (int)lseek(fd, 0, SEEK_SET));
    res("write2", (int)write(fd, "cd", 2));
    res("lseek_cur", (int)lseek(fd, 0, SEEK_CUR));
    res("pwrite", (int)pwrite(fd, "XYZ", 3, 0));
    res("lseek_cur2", (int)lseek(fd, 0, SEEK_CUR));
    res("lseek_end2", (int)lseek(fd, 0, SEEK_END));
    close(fd);
    cat("pw", "/scratch/pw");
    fd = open("/scratch/pw", O_RDWR);
    res("ftruncate", ftruncate(fd, 2));
    res("fstat", fstat(fd, &st));
    printf("truncated_size=%lld\n", (long long)st.st_size);
    close(fd);
    fd = open("/scratch/pw", O_WRONLY | O_TRUNC);
    res("open_trunc", fd >= 0 ? 0 : -1);
    close(fd);
    res("stat_pw", stat("/scratch/pw", &st));
    printf("pw_size=%lld\n", (long long)st.st_size);
    res("open_excl", open("/scratch/pw", O_CREAT | O_EXCL | O_WRONLY, 0644));
    res("open_dir_wr", open("/scratch/a", O_WRONLY));
    res("open_notdir", open("/scratch/pw/x", O_RDONLY));

    /* relative paths through the working directory */
    char cwd[128];
    printf("cwd=%s\n", getcwd(cwd, sizeof cwd) ? cwd : "err");
    res("chdir", chdir("/scratch/a"));
    printf("cwd2=%s\n", getcwd(cwd, sizeof cwd) ? cwd : "err");
    cat("relative", "notes.txt");
    res("mkdir_rel", mkdir("rel", 0755));
    res("chdir_up", chdir(".."));
    ls("ls_scratch", ".");
    res("rmdir_rel", rmdir("a/rel"));
    ls("ls_final", "/scratch");
    return 0;
}
