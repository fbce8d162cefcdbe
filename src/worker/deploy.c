/* Where the worker's state lives and who can reach it (docs/sandbox.md,
 * "Deployments"): the checks at start, and the one-line truth about the
 * deployment that status, doctor and the console show. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "worker/worker.h"

/* Paths in the home whose owner and mode are checked at start. Missing ones
 * are fine (created later with safe modes). */
static const char *const checked[] = {
    "",   /* the home itself */
    "state", "trust", "keys", "run", "logs", NC_HOME_DB, NC_HOME_TRUST_RECORD, NC_HOME_WORKER_KEY,
    "trust/allowed_signers", "trust/revoked_keys", "trust/version", "state/audit.checkpoint", NC_HOME_BLOBS,
    NC_HOME_ARTIFACTS, NULL,
};

nc_err nc_worker_check_home(nc_worker *w, char *msg, size_t msg_len)
{
    uid_t me = geteuid();
    for (const char *const *rel = checked; *rel; rel++) {
        char path[4096];
        if ((*rel)[0] ? nc_home_path(&w->home, *rel, path, sizeof path) != NC_OK
                      : (size_t)snprintf(path, sizeof path, "%s", w->home.root) >= sizeof path) {
            snprintf(msg, msg_len, "home path too long");
            return NC_ERR_TOO_LARGE;
        }
        struct stat st;
        if (lstat(path, &st) != 0) {
            if (errno == ENOENT && (*rel)[0])
                continue;
            snprintf(msg, msg_len, "%s: %s", path, strerror(errno));
            return NC_ERR_IO;
        }
        if (S_ISLNK(st.st_mode) && (*rel)[0]) {
            snprintf(msg, msg_len, "%s is a symbolic link: the worker's state must be plain files and directories "
                     "in its home", path);
            return NC_ERR_UNAUTHORIZED;
        }
        if (S_ISLNK(st.st_mode) && stat(path, &st) != 0) {
            snprintf(msg, msg_len, "%s: %s", path, strerror(errno));
            return NC_ERR_IO;
        }
        if (st.st_uid != me) {
            struct passwd *pw = getpwuid(st.st_uid);
            snprintf(msg, msg_len, "%s belongs to %s (uid %u), not to the user the worker runs as (uid %u): "
                     "refusing to start. A worker only serves a home its own user owns",
                     path, pw ? pw->pw_name : "another user", (unsigned)st.st_uid, (unsigned)me);
            return NC_ERR_UNAUTHORIZED;
        }
        if (st.st_mode & (S_IWGRP | S_IWOTH)) {
            snprintf(msg, msg_len, "%s is writable by %s (mode %04o): refusing to start. Fix it with "
                     "`chmod go-w %s`", path, st.st_mode & S_IWOTH ? "every user" : "its group",
                     (unsigned)(st.st_mode & 07777), path);
            return NC_ERR_UNAUTHORIZED;
        }
    }
    return NC_OK;
}

json_t *nc_worker_deployment_json(const nc_worker *w)
{
    char user[64];
    struct passwd *pw = getpwuid(geteuid());
    snprintf(user, sizeof user, "%s", pw ? pw->pw_name : "?");
    if (w->service) {
        json_t *ops = json_array();
        for (unsigned i = 0; i < w->noperators; i++) {
            struct passwd *op = getpwuid(w->operator_uids[i]);
            json_array_append_new(ops, json_pack("{s:i, s:s}", "uid", (int)w->operator_uids[i], "user",
                                                 op ? op->pw_name : "?"));
        }
        char note[512];
        snprintf(note, sizeof note, "service account %s: its home is out of reach of other users' processes; "
                 "operators reach it through control.sock only", user);
        return json_pack("{s:s, s:s, s:i, s:o, s:s, s:s}", "mode", "service", "user", user, "uid", (int)geteuid(),
                         "operators", ops, "run_dir", w->run_dir, "note", note);
    }
    char note[512];
    snprintf(note, sizeof note, "single-user home: anything running as %s (an agent too) can edit its state; "
             "edits are detected, not prevented. For agents on this machine use the service account "
             "(`nightcore system install`)", user);
    return json_pack("{s:s, s:s, s:i, s:s, s:s}", "mode", "single-user", "user", user, "uid", (int)geteuid(),
                     "run_dir", w->run_dir, "note", note);
}
