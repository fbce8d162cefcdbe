/* nightcore init: the home, the worker key, the trust store, an approver key
 * and config.json. Local files only; safe to run again. */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/cli.h"
#include "approver/approver.h"
#include "common/fs.h"
#include "common/workerkey.h"
#include "trust/admin.h"
#include "trust/privkey.h"
#include "trust/sign.h"
#include "trust/sshkey.h"
#include "trust/statement.h"
#include "trust/truststore.h"

#define KEY_FILE_MAX (16u * 1024)

/* $USER@hostname with every character nc_principal_ok() refuses replaced by '-'. */
static void default_principal(char *out, size_t n)
{
    char host[256] = "";
    const char *user = getenv("USER");
    if (!user || !user[0]) {
        struct passwd *pw = getpwuid(getuid());
        user = pw && pw->pw_name ? pw->pw_name : "operator";
    }
    if (gethostname(host, sizeof host - 1) != 0 || !host[0])
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(out, n, "%s@%s", user, host);
    for (char *p = out; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("@._-+:", c)))
            *p = '-';
    }
    if (strlen(out) > NC_PRINCIPAL_MAX)
        out[NC_PRINCIPAL_MAX] = '\0';
    if (!nc_principal_ok(out))
        snprintf(out, n, "operator@localhost");
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Creates dir (0700) if missing; reports whether it was created. */
static int make_dir(const char *path, bool *created)
{
    struct stat st;
    *created = false;
    if (stat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            char *p = cli_safe(path);
            cli_error("%s exists and is not a directory", p);
            free(p);
            return CLI_FAIL;
        }
        return CLI_OK;
    }
    if (nc_mkdir_p(path, 0700) != NC_OK) {
        int e = errno;
        char *p = cli_safe(path);
        cli_error("cannot create %s: %s", p, strerror(e));
        free(p);
        return CLI_FAIL;
    }
    *created = true;
    return CLI_OK;
}

int cli_read_pub_key(const char *path, char **line_out, char *fp)
{
    uint8_t *data = NULL;
    size_t len = 0;
    *line_out = NULL;
    int rc = cli_read_file(path, KEY_FILE_MAX, "a public key file", &data, &len);
    if (rc != CLI_OK)
        return rc;
    size_t i = 0;
    rc = CLI_FAIL;
    while (i < len) {
        size_t end = i;
        while (end < len && data[end] != '\n')
            end++;
        size_t s = i;
        while (s < end && (data[s] == ' ' || data[s] == '\t'))
            s++;
        size_t e = end;
        if (e > s && data[e - 1] == '\r')
            e--;
        if (s < e && data[s] != '#') {
            nc_sshkey key;
            const char *reason = NULL;
            if (memchr(data + s, '\0', e - s) || nc_sshkey_from_text((const char *)data + s, e - s, &key, &reason) != NC_OK ||
                nc_sshkey_fingerprint(&key, fp) != NC_OK) {
                char *p = cli_safe(path);
                cli_error("%s: not an accepted public key (ssh-ed25519 or sk-ssh-ed25519@openssh.com)%s%s", p,
                          reason ? ": " : "", reason ? reason : "");
                free(p);
                goto done;
            }
            char *line = cli_xmalloc(e - s + 1);
            memcpy(line, data + s, e - s);
            line[e - s] = '\0';
            *line_out = line;
            rc = CLI_OK;
            goto done;
        }
        i = end + 1;
    }
    {
        char *p = cli_safe(path);
        cli_error("%s: no public key in the file", p);
        free(p);
    }
done:
    free(data);
    return rc;
}

/* Trusts the key in pub_path for principal as the root of trust; prints the
 * outcome. Only the first key: once the home trusts a key, more keys are
 * added through the worker, signed (`nightcore trust add`). */
static int trust_key(cli_ctx *ctx, const char *pub_path, const char *principal)
{
    char trust_dir[PATH_MAX], record[PATH_MAX], msg[512] = "", fp[NC_SSHKEY_FINGERPRINT_LEN];
    char *line = NULL;
    int rc = cli_home_path(ctx, NC_HOME_TRUST_DIR, trust_dir, sizeof trust_dir);
    if (rc == CLI_OK)
        rc = cli_home_path(ctx, NC_HOME_TRUST_RECORD, record, sizeof record);
    if (rc == CLI_OK)
        rc = cli_read_pub_key(pub_path, &line, fp);
    if (rc != CLI_OK)
        return rc;
    nc_trust_store cur;
    nc_sshkey key;
    if (nc_trust_load(trust_dir, record, &cur, msg, sizeof msg) == NC_OK) {
        size_t n = nc_allowed_signers_count(cur.signers);
        bool same = false;
        if (nc_sshkey_from_text(line, strlen(line), &key, NULL) == NC_OK)
            for (size_t i = 0; i < n && !same; i++)
                same = nc_sshkey_equal(&nc_allowed_signers_get(cur.signers, i)->key, &key);
        nc_trust_cleanup(&cur);
        if (n > 0 && !same) {
            free(line);
            cli_error("this home already has a root of trust (%zu key%s): more keys are added with `nightcore trust "
                      "add KEY.pub --principal P`, signed by a trusted admin key", n, n == 1 ? "" : "s");
            return CLI_REFUSED;
        }
    }
    msg[0] = '\0';
    nc_err err = nc_trust_add_key(trust_dir, record, line, principal, NC_TRUST_NAMESPACES_ADMIN, msg, sizeof msg);
    free(line);
    char *m = cli_safe(msg), *pr = cli_safe(principal);
    if (err != NC_OK) {
        cli_error("cannot trust the key: %s", m[0] ? m : nc_strerror(err));
        rc = err == NC_ERR_REVOKED_KEY ? CLI_REFUSED : CLI_FAIL;
    } else {
        /* nc_trust_add_key says so in msg when the key was already there. */
        printf("  %-14s %s for %s (%s)\n", "trusted", fp, pr, msg[0] ? "already trusted" : "the root of trust");
    }
    free(m);
    free(pr);
    return rc;
}

/* ssh-keygen accepts an empty passphrase when asked for one: a key that ends
 * up without one is removed again (only --no-passphrase makes such keys). */
static nc_err refuse_unprotected(const char *path, char *msg, size_t msg_len)
{
    nc_privkey_info info;
    nc_err err = nc_privkey_info_load(path, &info, NULL);
    if (err == NC_OK && info.encrypted)
        return NC_OK;
    char pub[PATH_MAX + 8];
    snprintf(pub, sizeof pub, "%s.pub", path);
    unlink(path);
    unlink(pub);
    snprintf(msg, msg_len, "the new key got an empty passphrase, so any process of this user could sign with it: "
             "removed it. Run `nightcore init --generate-key` again and type a passphrase (or use a security "
             "key: `ssh-keygen -t ed25519-sk`, then `nightcore init --approver-key KEY.pub`)");
    return NC_ERR_UNAUTHORIZED;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int write_config(cli_ctx *ctx, json_t *cfg)
{
    char path[PATH_MAX];
    int rc = cli_home(ctx);
    if (rc != CLI_OK)
        return rc;
    snprintf(path, sizeof path, "%s", ctx->home.config);
    /* a key inside the home is stored relative to it (the home may move) */
    const char *key = cli_jstr(cfg, "approver_key");
    if (key && json_object_set_new(cfg, "approver_key", json_string(nc_approver_config_relative(path, key))) != 0)
        cli_oom();
    char *text = json_dumps(cfg, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text)
        cli_oom();
    size_t n = strlen(text);
    char *with_nl = cli_xmalloc(n + 2);
    memcpy(with_nl, text, n);
    with_nl[n] = '\n';
    free(text);
    nc_err err = nc_write_file_atomic(path, with_nl, n + 1, 0600);
    free(with_nl);
    if (err != NC_OK) {
        char *p = cli_safe(path);
        cli_error("cannot write %s", p);
        free(p);
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* The service deployment: the worker's home was made by `system install`;
 * an operator's init only writes their own config.json (principal, key). */
static int operator_config(cli_ctx *ctx, bool generate, const char *approver_pub, const char *principal_opt)
{
    char principal[NC_PRINCIPAL_MAX + 1], path[PATH_MAX], dir[PATH_MAX];
    json_t *cfg = NULL;
    if (generate) {
        cli_error("this machine runs the service deployment (%s): make your key with ssh-keygen (with a passphrase, "
                  "or `ssh-keygen -t ed25519-sk`), then `nightcore init --approver-key KEY.pub`; an admin trusts it "
                  "with `nightcore trust add`", NC_SYSTEM_CONFIG);
        return CLI_USAGE;
    }
    int rc = cli_config_load(ctx, &cfg);
    if (rc != CLI_OK)
        return rc;
    if (principal_opt)
        snprintf(principal, sizeof principal, "%s", principal_opt);
    else if (cli_jstr(cfg, "principal") && nc_principal_ok(cli_jstr(cfg, "principal")))
        snprintf(principal, sizeof principal, "%s", cli_jstr(cfg, "principal"));
    else
        default_principal(principal, sizeof principal);
    json_object_set_new(cfg, "principal", json_string(principal));
    if (approver_pub) {
        char fp[NC_SSHKEY_FINGERPRINT_LEN], *line = NULL;
        if (!realpath(approver_pub, path)) {
            char *p = cli_safe(approver_pub);
            cli_error("%s: %s", p, strerror(errno));
            free(p);
            json_decref(cfg);
            return CLI_FAIL;
        }
        rc = cli_read_pub_key(path, &line, fp);
        free(line);
        if (rc != CLI_OK) {
            json_decref(cfg);
            return rc;
        }
        size_t n = strlen(path);
        if (ends_with(path, ".pub") && n - 4 < sizeof dir) {
            memcpy(dir, path, n - 4);
            dir[n - 4] = '\0';
            if (exists(dir))
                snprintf(path, sizeof path, "%s", dir);
        }
        json_object_set_new(cfg, "approver_key", json_string(path));
    }
    snprintf(dir, sizeof dir, "%s", ctx->home.config);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    if (nc_mkdir_p(dir, 0700) != NC_OK) {
        char *d = cli_safe(dir);
        cli_error("cannot create %s", d);
        free(d);
        json_decref(cfg);
        return CLI_FAIL;
    }
    rc = write_config(ctx, cfg);
    if (rc == CLI_OK) {
        char *c = cli_safe(ctx->home.config), *pr = cli_safe(principal), *k = cli_safe(cli_jstr(cfg, "approver_key"));
        printf("Service deployment: the worker runs as %s (home %s).\n", ctx->home.worker_user, ctx->home.root);
        printf("  %-14s %s\n  %-14s %s\n  %-14s %s\n", "config", c, "principal", pr, "approver key",
               k[0] ? k : "none (pass --approver-key KEY.pub)");
        printf("An admin trusts your key with `nightcore trust add KEY.pub --principal %s` (signed).\n", pr);
        free(c);
        free(pr);
        free(k);
    }
    json_decref(cfg);
    return rc;
}

int cmd_init(cli_ctx *ctx, const cli_args *a)
{
    static const char *const dirs[] = {"keys", "trust", "state", "run", "logs", NC_HOME_BLOBS, NC_HOME_ARTIFACTS};
    const bool generate = cli_has(a, INIT_GENERATE), no_pass = cli_has(a, INIT_NO_PASS);
    const char *approver_pub = cli_val(a, INIT_APPROVER_KEY), *principal_opt = cli_val(a, INIT_PRINCIPAL);
    char path[PATH_MAX], path2[PATH_MAX], principal[NC_PRINCIPAL_MAX + 1];
    json_t *cfg = NULL;
    bool created, cfg_changed = false;
    int rc;

    if (no_pass && !generate)
        return cli_usage_error(a->cmd, "--no-passphrase goes with --generate-key");
    if (generate && approver_pub)
        return cli_usage_error(a->cmd, "use either --generate-key or --approver-key, not both");
    if (principal_opt && !nc_principal_ok(principal_opt))
        return cli_usage_error(a->cmd, "--principal must be 1-128 of A-Z a-z 0-9 @ . _ - + : (no spaces or wildcards)");
    rc = cli_home(ctx);
    if (rc != CLI_OK)
        return rc;
    if (ctx->home.service)
        return operator_config(ctx, generate, approver_pub, principal_opt);

    char *home_s = cli_safe(ctx->home.root);
    rc = make_dir(ctx->home.root, &created);
    if (rc != CLI_OK)
        goto done;
    printf("Night Core home %s (%s)\n", home_s, created ? "created" : "exists");
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        bool c;
        rc = cli_home_path(ctx, dirs[i], path, sizeof path);
        if (rc == CLI_OK)
            rc = make_dir(path, &c);
        if (rc != CLI_OK)
            goto done;
    }

    /* The worker's key: generated once, never replaced. */
    uint8_t pk[32];
    char wid[NC_WORKER_ID_LEN];
    const char *wstate = "exists";
    rc = cli_home_path(ctx, NC_HOME_WORKER_KEY, path, sizeof path);
    if (rc != CLI_OK)
        goto done;
    nc_err err;
    if (!exists(path)) {
        err = nc_worker_key_generate(&ctx->home);
        wstate = "created";
    } else {
        err = nc_worker_key_load_public(&ctx->home, pk);
        if (err != NC_OK) {   /* the .pub went missing or is damaged: derive it again */
            err = nc_worker_key_write_public(&ctx->home);
            wstate = "exists; public key rewritten";
        }
    }
    if (err == NC_OK)
        err = nc_worker_key_load_public(&ctx->home, pk);
    if (err != NC_OK) {
        cli_error("worker key %s: %s (keys/worker.key must be mode 0600 and hold base64 of 32 bytes)",
                  NC_HOME_WORKER_KEY, nc_strerror(err));
        rc = CLI_FAIL;
        goto done;
    }
    nc_worker_id(pk, wid);
    printf("  %-14s %s  %s (%s)\n", "worker key", wid, NC_HOME_WORKER_PUB, wstate);

    /* The trust store. */
    char trust_dir[PATH_MAX], record[PATH_MAX], msg[512] = "";
    rc = cli_home_path(ctx, NC_HOME_TRUST_DIR, trust_dir, sizeof trust_dir);
    if (rc == CLI_OK)
        rc = cli_home_path(ctx, NC_HOME_TRUST_RECORD, record, sizeof record);
    if (rc == CLI_OK)
        rc = cli_home_path(ctx, "trust/version", path, sizeof path);
    if (rc != CLI_OK)
        goto done;
    bool trust_existed = exists(path);
    err = nc_trust_init(trust_dir, record, msg, sizeof msg);
    if (err != NC_OK) {
        char *m = cli_safe(msg);
        cli_error("trust store: %s", m[0] ? m : nc_strerror(err));
        free(m);
        rc = CLI_FAIL;
        goto done;
    }
    printf("  %-14s %s/ (%s)\n", "trust store", NC_HOME_TRUST_DIR, trust_existed ? "exists" : "created");

    rc = cli_config_load(ctx, &cfg);
    if (rc != CLI_OK)
        goto done;
    if (principal_opt)
        snprintf(principal, sizeof principal, "%s", principal_opt);
    else if (cli_jstr(cfg, "principal") && nc_principal_ok(cli_jstr(cfg, "principal")))
        snprintf(principal, sizeof principal, "%s", cli_jstr(cfg, "principal"));
    else
        default_principal(principal, sizeof principal);
    if (!cli_jstr(cfg, "principal") || strcmp(cli_jstr(cfg, "principal"), principal) != 0) {
        if (json_object_set_new(cfg, "principal", json_string(principal)) != 0)
            cli_oom();
        cfg_changed = true;
    }

    /* The approver key. */
    const char *approver_key = NULL;
    if (generate) {
        rc = cli_home_path(ctx, NC_HOME_APPROVER_KEY, path, sizeof path);
        if (rc != CLI_OK)
            goto done;
        char *p = cli_safe(path);
        bool skip = false;
        if (exists(path)) {
            printf("  %-14s %s (exists)\n", "approver key", p);
        } else if (!no_pass && !isatty(STDIN_FILENO)) {
            /* A key nobody typed a passphrase for could be used by any
             * process of this user, agents included: make none. */
            printf("  %-14s none: no terminal to type a passphrase on, so no key was made (a key without a\n"
                   "  %-14s passphrase could sign for any process of this user). Add one:\n"
                   "  %-14s on a terminal:  nightcore init --generate-key\n"
                   "  %-14s or an existing OpenSSH or FIDO key:  nightcore init --approver-key ~/.ssh/id_ed25519_sk.pub\n",
                   "approver key", "", "", "");
            skip = true;
        } else {
            err = nc_keygen_ed25519(path, principal, no_pass, msg, sizeof msg);
            if (err == NC_OK && !no_pass)
                err = refuse_unprotected(path, msg, sizeof msg);
            if (err != NC_OK) {
                char *m = cli_safe(msg);
                cli_error("%s", m);
                free(m);
                free(p);
                rc = CLI_FAIL;
                goto done;
            }
            printf("  %-14s %s (created%s)\n", "approver key", p,
                   no_pass ? ", NO PASSPHRASE: any process of this user can sign with it (tests only)" : "");
        }
        free(p);
        if (skip)
            goto key_done;
        if (snprintf(path2, sizeof path2, "%s.pub", path) >= (int)sizeof path2) {
            cli_error("key path too long");
            rc = CLI_FAIL;
            goto done;
        }
        rc = trust_key(ctx, path2, principal);
        if (rc != CLI_OK)
            goto done;
        approver_key = path;
    } else if (approver_pub && strcmp(approver_pub, "-") == 0) {
        /* the key line on stdin (`system install` hands the root key over so) */
        rc = trust_key(ctx, "-", principal);
        if (rc != CLI_OK)
            goto done;
    } else if (approver_pub) {
        if (!realpath(approver_pub, path)) {
            char *p = cli_safe(approver_pub);
            cli_error("%s: %s", p, strerror(errno));
            free(p);
            rc = CLI_FAIL;
            goto done;
        }
        rc = trust_key(ctx, path, principal);
        if (rc != CLI_OK)
            goto done;
        /* Sign with the private half when it sits next to the .pub; else
         * ssh-keygen uses the .pub and asks ssh-agent for the private key. */
        approver_key = path;
        size_t n = strlen(path);
        if (ends_with(path, ".pub") && n - 4 < sizeof path2) {
            memcpy(path2, path, n - 4);
            path2[n - 4] = '\0';
            if (exists(path2))
                approver_key = path2;
        }
        char *k = cli_safe(approver_key);
        printf("  %-14s %s\n", "approver key", k);
        free(k);
    }
key_done:
    if (approver_key) {
        const char *old = cli_jstr(cfg, "approver_key");
        if (!old || strcmp(old, approver_key) != 0) {
            if (json_object_set_new(cfg, "approver_key", json_string(approver_key)) != 0)
                cli_oom();
            cfg_changed = true;
        }
    }
    const char *configured = cli_jstr(cfg, "approver_key");
    char *pr = cli_safe(principal);
    printf("  %-14s %s\n", "principal", pr);
    free(pr);
    if (!approver_key) {
        if (configured) {
            char *k = cli_safe(configured);
            printf("  %-14s %s (from config.json)\n", "approver key", k);
            free(k);
        } else {
            printf("  %-14s none yet: on a terminal `nightcore init --generate-key`, or trust an existing key\n"
                   "  %-14s `nightcore init --approver-key ~/.ssh/id_ed25519.pub`\n",
                   "approver key", "");
        }
    }
    rc = cli_home_path(ctx, NC_HOME_CONFIG, path, sizeof path);
    if (rc != CLI_OK)
        goto done;
    bool cfg_existed = exists(path);
    if (cfg_changed || !cfg_existed) {
        rc = write_config(ctx, cfg);
        if (rc != CLI_OK)
            goto done;
    }
    printf("  %-14s %s (%s)\n", "config", NC_HOME_CONFIG,
           !cfg_existed ? "created" : cfg_changed ? "updated" : "unchanged");

    printf("\nNext steps:\n");
    if (!configured)
        printf("  nightcore init --generate-key                  make and trust an approver key\n");
    printf("  nightcore worker start                         start the worker\n"
           "  nightcore submit FILE.wasm --name NAME         put a module into the inbox\n"
           "  nightcore inbox                                review what is waiting\n"
           "  nightcore approve ID                           sign an approval\n"
           "  nightcore run NAME                             run it\n");
    rc = CLI_OK;
done:
    free(home_s);
    json_decref(cfg);
    return rc;
}
