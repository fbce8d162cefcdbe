/* nightcore doctor: the whole setup in one look, and what to do about each
 * weak spot (docs/cli.md). Every check is one line: ok, warn or FAIL, with a
 * fix. Exit 1 when a check fails. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "approver/approver.h"
#include "cli/cli.h"
#include "common/fs.h"
#include "store/db.h"
#include "trust/sshkey.h"

extern char **environ;

typedef struct {
    json_t *checks;
    bool failed;
} report;

static void check(report *r, const char *level, const char *what, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void check(report *r, const char *level, const char *what, const char *fix, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (strcmp(level, "fail") == 0)
        r->failed = true;
    json_array_append_new(r->checks, json_pack("{s:s, s:s, s:s, s:s?}", "check", what, "level", level, "message",
                                               text, "fix", fix));
}

/* The database's structure (SQLite's quick_check), read-only beside the worker. */
static void check_database(report *r, const nc_home *h)
{
    char path[4096], msg[1024];
    nc_db *db = NULL;
    if (nc_home_path(h, NC_HOME_DB, path, sizeof path) != NC_OK)
        return;
    nc_err err = nc_db_open_readonly(path, &db, msg, sizeof msg);
    if (err == NC_ERR_NOT_FOUND) {
        check(r, "ok", "database", NULL, "no database yet (the worker creates it at its first start)");
        return;
    }
    if (err == NC_OK)
        err = nc_db_quick_check(db, msg, sizeof msg);
    nc_db_close(db);
    if (err == NC_OK)
        check(r, "ok", "database", NULL, "%s passes SQLite's quick_check", path);
    else
        check(r, "fail", "database",
              "stop the worker, keep a copy of the state directory, restore it from a backup (or salvage with "
              "`sqlite3 nightcore.db .recover`), then `nightcore audit verify --anchor FILE`",
              "%s: %s", path, msg);
}

static void check_home_modes(report *r, const nc_home *h)
{
    static const char *const rel[] = {"", "state", "trust", "keys", NC_HOME_DB, NC_HOME_WORKER_KEY, NULL};
    uid_t me = geteuid();
    for (const char *const *p = rel; *p; p++) {
        char path[PATH_MAX];
        if ((*p)[0] ? nc_home_path(h, *p, path, sizeof path) != NC_OK
                    : (size_t)snprintf(path, sizeof path, "%s", h->root) >= sizeof path)
            continue;
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (st.st_uid != me) {
            check(r, "fail", "home", "the home must belong to the user its worker runs as",
                  "%s belongs to uid %u, not to you (uid %u): the worker refuses to start on it", path,
                  (unsigned)st.st_uid, (unsigned)me);
            return;
        }
        if (st.st_mode & (S_IWGRP | S_IWOTH)) {
            check(r, "fail", "home", "chmod go-w on it", "%s is writable by %s (mode %04o)", path,
                  st.st_mode & S_IWOTH ? "everyone" : "its group", (unsigned)(st.st_mode & 07777));
            return;
        }
        if (strcmp(*p, NC_HOME_WORKER_KEY) == 0 && (st.st_mode & 077)) {
            check(r, "fail", "home", "chmod 600 keys/worker.key", "%s is readable by others (mode %04o)", path,
                  (unsigned)(st.st_mode & 07777));
            return;
        }
    }
    check(r, "ok", "home", NULL, "%s and its state belong to you and only you can write them", h->root);
}

/* Keys that ssh-agent holds: `ssh-add -L`, one public key a line. */
static json_t *agent_keys(void)
{
    json_t *fps = json_array();
    if (!getenv("SSH_AUTH_SOCK"))
        return fps;
    int pfd[2];
    if (pipe(pfd) != 0)
        return fps;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    char *const argv[] = {"ssh-add", "-L", NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "ssh-add", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (rc == 0) {
        uint8_t *data = NULL;
        size_t len = 0;
        if (nc_read_fd(pfd[0], 256 * 1024, &data, &len) == NC_OK) {
            size_t i = 0;
            while (i < len) {
                size_t e = i;
                while (e < len && data[e] != '\n')
                    e++;
                nc_sshkey k;
                char fp[NC_SSHKEY_FINGERPRINT_LEN];
                if (nc_sshkey_from_text((const char *)data + i, e - i, &k, NULL) == NC_OK &&
                    nc_sshkey_fingerprint(&k, fp) == NC_OK)
                    json_array_append_new(fps, json_string(fp));
                i = e + 1;
            }
            free(data);
        }
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
    }
    close(pfd[0]);
    return fps;
}

static bool in_array(const json_t *arr, const char *s)
{
    for (size_t i = 0; s && i < json_array_size(arr); i++)
        if (json_string_value(json_array_get(arr, i)) && strcmp(json_string_value(json_array_get(arr, i)), s) == 0)
            return true;
    return false;
}

/* The operator's own key, when doctor can read it: (fingerprint, protection). */
typedef struct {
    bool have;
    char fingerprint[NC_SSHKEY_FINGERPRINT_LEN];
    const char *protection;
} my_key;

static void check_keys(report *r, const json_t *status, json_t *agent_fps, const my_key *mine)
{
    const json_t *trust = json_object_get(status, "trust"), *keys = json_object_get(trust, "keys");
    if (cli_jstr(trust, "problem"))
        check(r, "fail", "trust", "find out what edited it, then `nightcore trust restore`", "%s",
              cli_jstr(trust, "problem"));
    size_t active = 0;
    for (size_t i = 0; i < json_array_size(keys); i++) {
        const json_t *k = json_array_get(keys, i);
        if (cli_jbool(k, "revoked"))
            continue;
        active++;
        const char *prot = cli_jstr(k, "protection"), *fp = cli_jstr(k, "fingerprint");
        if (mine->have && fp && strcmp(fp, mine->fingerprint) == 0 && prot && strcmp(prot, "unknown") == 0)
            prot = mine->protection;   /* the key file is yours: doctor read it */
        const char *who = json_string_value(json_array_get(json_object_get(k, "principals"), 0));
        if (prot && strcmp(prot, "none") == 0)
            check(r, "fail", "approver key", "give it a passphrase: ssh-keygen -p -f KEYFILE (or use a security key)",
                  "%s (%s) is a key file without a passphrase: any process of its user, an agent too, can sign "
                  "approvals with it", fp, who ? who : "?");
        else if (in_array(agent_fps, fp))
            check(r, "warn", "approver key",
                  "if it is not, remove it (ssh-add -d KEY) and add it with confirmation: ssh-add -c KEY",
                  "%s (%s) is loaded in ssh-agent: without confirmation (ssh-add -c) any process of this user can "
                  "sign with it", fp, who ? who : "?");
        else if (prot && strcmp(prot, "unknown") == 0)
            check(r, "warn", "approver key", "prefer a security key (ssh-keygen -t ed25519-sk) or a passphrase",
                  "%s (%s): its private key is not in this home, so how it is protected cannot be checked here", fp,
                  who ? who : "?");
        else
            check(r, "ok", "approver key", NULL, "%s (%s): %s", fp, who ? who : "?", cli_protection_words(prot));
    }
    if (!active)
        check(r, "fail", "approver key",
              "on a terminal: nightcore init --generate-key; or an existing OpenSSH or FIDO key: nightcore init "
              "--approver-key ~/.ssh/id_ed25519_sk.pub",
              "no approver key is trusted: nothing can be approved");
}

static void find_my_key(cli_ctx *ctx, my_key *mine)
{
    json_t *cfg = NULL;
    char key[PATH_MAX], msg[512], def[PATH_MAX];
    nc_approver_key_info ki;
    memset(mine, 0, sizeof *mine);
    if (cli_config_load(ctx, &cfg) != CLI_OK)
        return;
    const char *dflt = NULL;
    if (!ctx->home.service && nc_home_path(&ctx->home, NC_HOME_APPROVER_KEY, def, sizeof def) == NC_OK)
        dflt = def;
    if (nc_approver_key_resolve(NULL, cfg, dflt, key, sizeof key, msg, sizeof msg) == NC_OK &&
        nc_approver_key_inspect(key, &ki, msg, sizeof msg) == NC_OK && ki.have_private) {
        mine->have = true;
        snprintf(mine->fingerprint, sizeof mine->fingerprint, "%s", ki.fingerprint);
        mine->protection = nc_key_protection_name(ki.protection);
    }
    json_decref(cfg);
}

static void check_my_key(report *r, cli_ctx *ctx, const json_t *status)
{
    json_t *cfg = NULL;
    char key[PATH_MAX], msg[512], def[PATH_MAX];
    if (cli_config_load(ctx, &cfg) != CLI_OK)
        return;
    const char *dflt = NULL;
    if (!ctx->home.service && nc_home_path(&ctx->home, NC_HOME_APPROVER_KEY, def, sizeof def) == NC_OK)
        dflt = def;
    if (nc_approver_key_resolve(NULL, cfg, dflt, key, sizeof key, msg, sizeof msg) != NC_OK) {
        check(r, "warn", "your key", "nightcore init --approver-key KEY.pub (records it in config.json)",
              "no signing key configured for you: %s", msg);
        json_decref(cfg);
        return;
    }
    json_decref(cfg);
    nc_approver_key_info ki;
    if (nc_approver_key_inspect(key, &ki, msg, sizeof msg) != NC_OK) {
        check(r, "fail", "your key", "point approver_key in config.json at your key", "%s", msg);
        return;
    }
    bool trusted = false;
    const json_t *keys = json_object_get(json_object_get(status, "trust"), "keys");
    for (size_t i = 0; i < json_array_size(keys); i++) {
        const json_t *k = json_array_get(keys, i);
        if (!cli_jbool(k, "revoked") && cli_jstr(k, "fingerprint") && strcmp(cli_jstr(k, "fingerprint"), ki.fingerprint) == 0)
            trusted = true;
    }
    if (ki.protection == NC_KEYPROT_NONE)
        check(r, "fail", "your key", "ssh-keygen -p -f KEYFILE", "%s (%s) has no passphrase: any process of yours "
              "can sign with it", key, ki.fingerprint);
    else
        check(r, trusted ? "ok" : "warn", "your key", trusted ? NULL : "an admin runs: nightcore trust add KEY.pub "
              "--principal P", "%s (%s): %s%s", key, ki.fingerprint, nc_key_protection_name(ki.protection),
              trusted ? ", trusted" : ", NOT trusted by the worker");
}

int cmd_doctor(cli_ctx *ctx, const cli_args *a)
{
    (void)a;
    report r = {.checks = json_array(), .failed = false};
    json_t *status = NULL, *agent_fps = NULL;
    nc_rpc *rpc = NULL;
    char msg[512];
    if (!r.checks)
        cli_oom();
    int rc = cli_home(ctx);
    if (rc != CLI_OK)
        return rc;
    /* the deployment */
    if (ctx->home.service) {
        if (access(ctx->home.root, R_OK | X_OK) == 0 && geteuid() != ctx->home.worker_uid && geteuid() != 0)
            check(&r, "fail", "deployment", "chmod 700 the worker's home, owned by its account",
                  "service account %s, but its home %s is readable by you", ctx->home.worker_user, ctx->home.root);
        else
            check(&r, "ok", "deployment", NULL, "service account %s: its home %s is out of reach of your processes "
                  "(and of agents running as you)", ctx->home.worker_user, ctx->home.root);
    } else {
        check(&r, "warn", "deployment", "for agents on this machine: sudo nightcore system install",
              "single-user home %s: anything running as you (an agent too) can edit its state; edits are detected, "
              "not prevented", ctx->home.root);
        check_home_modes(&r, &ctx->home);
        check_database(&r, &ctx->home);
    }
    /* the worker */
    nc_err err = cli_rpc_open(ctx, &rpc, msg, sizeof msg);
    if (err == NC_OK) {
        nc_rpc_error rerr;
        nc_rpc_set_timeout(rpc, 5000);
        if (nc_rpc_call(rpc, "status", NULL, &status, &rerr) != NC_OK) {
            check(&r, "fail", "worker", NULL, "the worker does not answer status: %s", rerr.message);
            status = NULL;
        }
        nc_rpc_free(rpc);
    } else if (err == NC_ERR_UNAUTHORIZED) {
        check(&r, "fail", "worker", "find out what put the socket there; stop it", "%s", msg);
    } else {
        check(&r, "fail", "worker", ctx->home.service ? "sudo nightcore system start (or systemctl start nightcore-worker)"
                                                      : "nightcore worker start",
              "the worker is not running (%s)", msg);
    }
    if (status) {
        check(&r, "ok", "worker", NULL, "worker %s (version %s) answers on its socket, served by %s",
              cli_jstr(status, "worker_id") ? cli_jstr(status, "worker_id") : "?",
              cli_jstr(status, "version") ? cli_jstr(status, "version") : "?", ctx->home.worker_user);
        if (cli_jbool(status, "dev_mode"))
            check(&r, "fail", "worker", "restart it without --insecure-dev",
                  "DEVELOPMENT MODE: the console may sign with keys that have no passphrase");
        agent_fps = agent_keys();
        my_key mine;
        find_my_key(ctx, &mine);
        check_keys(&r, status, agent_fps, &mine);
        const json_t *iso = json_object_get(status, "isolation");
        if (!cli_jbool(iso, "seccomp") || cli_jint(iso, "landlock_abi", 0) < 1 || !cli_jbool(iso, "userns"))
            check(&r, "warn", "isolation", "a kernel with user namespaces, Landlock and seccomp enabled",
                  "the kernel lacks some isolation: user namespaces %s, Landlock ABI %lld, seccomp %s",
                  cli_jbool(iso, "userns") ? "yes" : "no", (long long)cli_jint(iso, "landlock_abi", 0),
                  cli_jbool(iso, "seccomp") ? "yes" : "no");
        else
            check(&r, "ok", "isolation", NULL, "user and network namespaces, Landlock ABI %lld, seccomp",
                  (long long)cli_jint(iso, "landlock_abi", 0));
        /* The tiers (docs/sandbox.md): one that is not available refuses its approvals' runs. */
        size_t ti;
        const json_t *t;
        json_array_foreach(json_object_get(status, "tiers"), ti, t) {
            char what[32];
            snprintf(what, sizeof what, "tier %.16s", cli_jstr(t, "tier") ? cli_jstr(t, "tier") : "?");
            const char *accel = cli_jstr(t, "accel");
            if (cli_jbool(t, "available"))
                check(&r, "ok", what, NULL, "available%s%s", accel && strcmp(accel, "none") != 0 ? ", accelerator " : "",
                      accel && strcmp(accel, "none") != 0 ? accel : "");
            else
                check(&r, "warn", what, "scripts/deps and make (QEMU and the guest kernel), or NIGHTCORE_VM_* settings",
                      "not available: %s; approvals that need it are refused", cli_jstr(t, "note") ? cli_jstr(t, "note") : "");
        }
    }
    check_my_key(&r, ctx, status);
    if (getenv("SSH_AUTH_SOCK") && json_array_size(agent_fps) == 0)
        check(&r, "ok", "ssh-agent", NULL, "ssh-agent holds none of the approver keys");

    if (ctx->json) {
        json_t *o = json_pack("{s:b, s:O}", "ok", !r.failed, "checks", r.checks);
        cli_print_json(o);
        json_decref(o);
    } else {
        for (size_t i = 0; i < json_array_size(r.checks); i++) {
            const json_t *c = json_array_get(r.checks, i);
            const char *lvl = cli_jstr(c, "level");
            char *m = cli_safe(cli_jstr(c, "message")), *w = cli_safe(cli_jstr(c, "check"));
            printf("%-4s %-13s %s\n", strcmp(lvl, "ok") == 0 ? "ok" : strcmp(lvl, "warn") == 0 ? "warn" : "FAIL", w, m);
            if (cli_jstr(c, "fix")) {
                char *f = cli_safe(cli_jstr(c, "fix"));
                printf("     %-13s fix: %s\n", "", f);
                free(f);
            }
            free(m);
            free(w);
        }
        printf("%s\n", r.failed ? "Something must be fixed (FAIL above)." : "Nothing must be fixed.");
    }
    json_decref(status);
    json_decref(agent_fps);
    json_decref(r.checks);
    return r.failed ? CLI_FAIL : CLI_OK;
}
