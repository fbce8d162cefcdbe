#include "trust/sign.h"
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include "common/fs.h"
#include "common/limits.h"
#include "trust/sshsig.h"

extern char **environ;

/* Runs argv (ssh-keygen) with the caller's terminal, waits, returns its status. */
static nc_err run_ssh_keygen(char *const argv[], int *status, char *msg, size_t msg_len)
{
    pid_t pid;
    int rc = posix_spawnp(&pid, "ssh-keygen", NULL, NULL, argv, environ);
    if (rc != 0) {
        snprintf(msg, msg_len, "cannot run ssh-keygen (%s): install openssh-client", strerror(rc));
        return NC_ERR_IO;
    }
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR) {
            snprintf(msg, msg_len, "waiting for ssh-keygen: %s", strerror(errno));
            return NC_ERR_IO;
        }
    }
    return NC_OK;
}

nc_err nc_sign_with_ssh_keygen(const char *key, const char *ns, const void *data, size_t len, uint8_t **sig,
                               size_t *sig_len, char *msg, size_t msg_len)
{
    char dir[] = "/tmp/nightcore-sign-XXXXXX", file[64], sigfile[72];
    nc_err err = NC_ERR_IO;
    *sig = NULL;
    *sig_len = 0;
    if (!mkdtemp(dir)) {
        snprintf(msg, msg_len, "cannot create a temporary directory: %s", strerror(errno));
        return NC_ERR_IO;
    }
    snprintf(file, sizeof file, "%s/statement", dir);
    snprintf(sigfile, sizeof sigfile, "%s.sig", file);
    if (nc_write_file_atomic(file, data, len, 0600) != NC_OK) {
        snprintf(msg, msg_len, "cannot write the statement to %s", file);
        goto done;
    }
    char *const argv[] = {"ssh-keygen", "-q", "-Y", "sign", "-n", (char *)ns, "-f", (char *)key, file, NULL};
    int status = 0;
    err = run_ssh_keygen(argv, &status, msg, msg_len);
    if (err != NC_OK)
        goto done;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(msg, msg_len, "ssh-keygen -Y sign failed (wrong passphrase, key not found, or no touch): key %.300s", key);
        err = NC_ERR_BAD_SIGNATURE;
        goto done;
    }
    err = nc_read_file(sigfile, NC_MAX_SSHSIG_ARMOR_BYTES, sig, sig_len);
    if (err != NC_OK)
        snprintf(msg, msg_len, "ssh-keygen wrote no signature");
done:
    unlink(sigfile);
    unlink(file);
    rmdir(dir);
    return err;
}

/* ---- signing without a terminal (the console) ---- */

#define ASKPASS_CHILD_FD 3

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* environ without the variables we set, plus ours; NULL on allocation failure. */
static char **askpass_env(char *const ours[], size_t nours)
{
    /* SSH_AUTH_SOCK too: without a terminal a signature must come from a typed
     * passphrase or a security key's touch, never silently from ssh-agent. */
    static const char *const drop[] = {"SSH_ASKPASS=", "SSH_ASKPASS_REQUIRE=", "DISPLAY=", NC_ASKPASS_FD_ENV "=",
                                       "SSH_AUTH_SOCK=", NULL};
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = calloc(n + nours + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool skip = false;
        for (size_t d = 0; drop[d]; d++)
            if (strncmp(environ[i], drop[d], strlen(drop[d])) == 0)
                skip = true;
        if (!skip)
            env[k++] = environ[i];
    }
    for (size_t i = 0; i < nours; i++)
        env[k++] = ours[i];
    env[k] = NULL;
    return env;
}

nc_err nc_sign_with_ssh_keygen_askpass(const char *key, const char *ns, const void *data, size_t len, const char *passphrase,
                                       const char *askpass_prog, int timeout_ms, uint8_t **sig, size_t *sig_len,
                                       char *msg, size_t msg_len)
{
    char dir[] = "/tmp/nightcore-sign-XXXXXX", file[64], sigfile[72];
    char askpass_var[4200], fd_var[32];
    int pfd[2] = {-1, -1}, rfd = -1;
    char **env = NULL;
    bool attr_ok = false, fa_ok = false, have_dir = false;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    nc_err err = NC_ERR_IO;

    *sig = NULL;
    *sig_len = 0;
    if (!key || !askpass_prog || timeout_ms <= 0) {
        snprintf(msg, msg_len, "invalid arguments");
        return NC_ERR_USAGE;
    }
    size_t plen = passphrase ? strlen(passphrase) : 0;
    if (plen > NC_ASKPASS_MAX_BYTES || (passphrase && strpbrk(passphrase, "\r\n"))) {
        snprintf(msg, msg_len, "the passphrase must be at most %u bytes, on one line", NC_ASKPASS_MAX_BYTES);
        return NC_ERR_USAGE;
    }
    if ((size_t)snprintf(askpass_var, sizeof askpass_var, "SSH_ASKPASS=%s", askpass_prog) >= sizeof askpass_var) {
        snprintf(msg, msg_len, "askpass program path too long");
        return NC_ERR_TOO_LARGE;
    }
    snprintf(fd_var, sizeof fd_var, NC_ASKPASS_FD_ENV "=%d", ASKPASS_CHILD_FD);
    if (!mkdtemp(dir)) {
        snprintf(msg, msg_len, "cannot create a temporary directory: %s", strerror(errno));
        return NC_ERR_IO;
    }
    have_dir = true;
    snprintf(file, sizeof file, "%s/statement", dir);
    snprintf(sigfile, sizeof sigfile, "%s.sig", file);
    if (nc_write_file_atomic(file, data, len, 0600) != NC_OK) {
        snprintf(msg, msg_len, "cannot write the statement to %s", file);
        goto done;
    }
    /* The pipe holds the passphrase (a few bytes: it fits in the pipe buffer,
     * so writing cannot block) and is closed, so askpass reads it and then
     * end of file. Both ends close-on-exec; only the copy dup2'd onto fd 3 in
     * the child survives exec (rfd is above 3, so dup2 really copies). */
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        snprintf(msg, msg_len, "pipe: %s", strerror(errno));
        goto done;
    }
    rfd = fcntl(pfd[0], F_DUPFD_CLOEXEC, ASKPASS_CHILD_FD + 1);
    if (rfd < 0) {
        snprintf(msg, msg_len, "fcntl: %s", strerror(errno));
        goto done;
    }
    close(pfd[0]);
    pfd[0] = -1;
    if (plen && nc_write_all(pfd[1], passphrase, plen) != NC_OK) {
        snprintf(msg, msg_len, "cannot hand the passphrase to ssh-keygen");
        goto done;
    }
    close(pfd[1]);
    pfd[1] = -1;

    char *ours[] = {askpass_var, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0", fd_var};
    env = askpass_env(ours, sizeof ours / sizeof ours[0]);
    if (!env) {
        err = NC_ERR_NOMEM;
        goto done;
    }
    if (posix_spawnattr_init(&attr) != 0)
        goto done;
    attr_ok = true;
    if (posix_spawn_file_actions_init(&fa) != 0)
        goto done;
    fa_ok = true;
    sigset_t none;
    sigemptyset(&none);
    if (posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK) != 0 ||
        posix_spawnattr_setsigmask(&attr, &none) != 0 ||
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0) != 0 ||
        posix_spawn_file_actions_adddup2(&fa, rfd, ASKPASS_CHILD_FD) != 0) {
        snprintf(msg, msg_len, "cannot set up ssh-keygen");
        goto done;
    }
    char *const argv[] = {"ssh-keygen", "-q", "-Y", "sign", "-n", (char *)ns, "-f", (char *)key, file, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "ssh-keygen", &fa, &attr, argv, env);
    if (rc != 0) {
        snprintf(msg, msg_len, "cannot run ssh-keygen (%s): install openssh-client", strerror(rc));
        goto done;
    }
    close(rfd);
    rfd = -1;
    int status = 0, waited = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            snprintf(msg, msg_len, "waiting for ssh-keygen: %s", strerror(errno));
            goto done;
        }
        if (waited >= timeout_ms) {
            kill(-pid, SIGKILL);   /* its own session: the group is ssh-keygen and its askpass */
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            snprintf(msg, msg_len, "ssh-keygen did not finish within %d s (a security key waiting for a touch?)",
                     timeout_ms / 1000);
            err = NC_ERR_BAD_SIGNATURE;
            goto done;
        }
        sleep_ms(10);
        waited += 10;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(msg, msg_len, "ssh-keygen -Y sign failed (wrong or missing passphrase, or key not found): key %.300s",
                 key);
        err = NC_ERR_BAD_SIGNATURE;
        goto done;
    }
    err = nc_read_file(sigfile, NC_MAX_SSHSIG_ARMOR_BYTES, sig, sig_len);
    if (err != NC_OK)
        snprintf(msg, msg_len, "ssh-keygen wrote no signature");
done:
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_ok)
        posix_spawnattr_destroy(&attr);
    free(env);
    if (rfd >= 0)
        close(rfd);
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    if (have_dir) {
        unlink(sigfile);
        unlink(file);
        rmdir(dir);
    }
    return err;
}

nc_err nc_keygen_ed25519(const char *path, const char *comment, bool no_passphrase, char *msg, size_t msg_len)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        snprintf(msg, msg_len, "%.300s already exists; not overwriting a key", path);
        return NC_ERR_USAGE;
    }
    char *const with_n[] = {"ssh-keygen", "-q", "-t", "ed25519", "-f", (char *)path, "-C", (char *)comment, "-N", "", NULL};
    char *const ask[] = {"ssh-keygen", "-q", "-t", "ed25519", "-f", (char *)path, "-C", (char *)comment, NULL};
    int status = 0;
    nc_err err = run_ssh_keygen(no_passphrase ? with_n : ask, &status, msg, msg_len);
    if (err != NC_OK)
        return err;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(msg, msg_len, "ssh-keygen could not create %.300s", path);
        return NC_ERR_IO;
    }
    return NC_OK;
}
