#include "trust/sign.h"
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

nc_err nc_sign_with_ssh_keygen(const char *key, const void *data, size_t len, uint8_t **sig, size_t *sig_len,
                               char *msg, size_t msg_len)
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
    char *const argv[] = {"ssh-keygen", "-q", "-Y", "sign", "-n", NC_SSHSIG_NAMESPACE, "-f", (char *)key, file, NULL};
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
