/* nightcore system install|start|stop|uninstall: the service-account
 * deployment (docs/sandbox.md "Deployments"). Run as root. The worker gets
 * its own account and a home only that account can read or write, so no
 * process of an operator's user (and no agent running as one) can read the
 * worker key or edit the database, blobs, trust files or checkpoints.
 * Operators reach it through RUN_DIR/control.sock (their uid is checked),
 * agents through RUN_DIR/agent.sock (their token). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli/cli.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/workerkey.h"
#include "trust/sshkey.h"
#include "trust/statement.h"
#include <sodium.h>

extern char **environ;

#define DEFAULT_USER "nightcore"
#define DEFAULT_PREFIX "/usr/local"
#define DEFAULT_STATE "/var/lib/nightcore"
#define DEFAULT_RUN "/run/nightcore"
#define UNIT_PATH "/etc/systemd/system/nightcore-worker.service"
#define START_TIMEOUT_MS 15000
#define STOP_TIMEOUT_MS 15000

static const char *const programs[] = {"nightcore", "nightcore-worker", "nightcore-console", "nightcore-mcp"};
/* The vm tier's guest (docs/sandbox.md, "vm"), beside the worker: the worker
 * looks for it there. Installed when the build has it. */
static const char *const vm_files[] = {"vmlinuz", "initramfs.img", "kernel-version"};

static const char *system_json_path(void)
{
    const char *p = getenv(NC_SYSTEM_CONFIG_ENV);
    return p && p[0] ? p : NC_SYSTEM_CONFIG;
}

static int need_root(const char *what)
{
    if (geteuid() == 0)
        return CLI_OK;
    cli_error("%s needs root: sudo nightcore %s", what, what);
    return CLI_FAIL;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Runs argv (PATH lookup), waits; true if it exited 0. Output passes through. */
static bool run_cmd(char *const argv[])
{
    pid_t pid;
    if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
        return false;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return false;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Drops to pw's user and groups in a child (never to return on failure). */
static void become(const struct passwd *pw)
{
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0 || setuid(0) == 0)
        _exit(126);
}

/* argv as pw, stdin from `input` (may be NULL), environment HOME=home only. */
static bool run_as(const struct passwd *pw, const char *home, char *const argv[], const char *input)
{
    int pfd[2] = {-1, -1};
    if (input && pipe(pfd) != 0)
        return false;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        if (input) {
            close(pfd[1]);
            if (dup2(pfd[0], STDIN_FILENO) < 0)
                _exit(127);
        } else {
            int n = open("/dev/null", O_RDONLY);
            if (n < 0 || dup2(n, STDIN_FILENO) < 0)
                _exit(127);
        }
        int quiet = open("/dev/null", O_WRONLY);   /* its report would repeat ours; errors still show */
        if (quiet < 0 || dup2(quiet, STDOUT_FILENO) < 0)
            _exit(127);
        become(pw);
        char homevar[PATH_MAX + 8], uservar[96];
        snprintf(homevar, sizeof homevar, "HOME=%s", home);
        snprintf(uservar, sizeof uservar, "USER=%s", pw->pw_name);
        char *env[] = {homevar, uservar, "PATH=/usr/local/bin:/usr/bin:/bin", NULL};
        if (chdir(home) != 0)
            _exit(127);
        execve(argv[0], argv, env);
        _exit(127);
    }
    if (input) {
        close(pfd[0]);
        bool ok = nc_write_all(pfd[1], input, strlen(input)) == NC_OK;
        close(pfd[1]);
        (void)ok;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return false;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The directory this program runs from (where `make` put all four). */
static bool self_dir(char *out, size_t n)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return false;
    self[len] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return false;
    *slash = '\0';
    return (size_t)snprintf(out, n, "%s", self) < n;
}

static int install_programs(const char *prefix, char *bindir, size_t bindir_len)
{
    char src_dir[PATH_MAX];
    if (!self_dir(src_dir, sizeof src_dir)) {
        cli_error("cannot find where this program runs from");
        return CLI_FAIL;
    }
    if ((size_t)snprintf(bindir, bindir_len, "%s/bin", prefix) >= bindir_len || nc_mkdir_p(bindir, 0755) != NC_OK) {
        cli_error("cannot create %s/bin", prefix);
        return CLI_FAIL;
    }
    for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
        char src[PATH_MAX + 64], dst[PATH_MAX + 64], real_src[PATH_MAX], real_dst[PATH_MAX];
        snprintf(src, sizeof src, "%s/%s", src_dir, programs[i]);
        snprintf(dst, sizeof dst, "%s/%s", bindir, programs[i]);
        if (realpath(src, real_src) && realpath(dst, real_dst) && strcmp(real_src, real_dst) == 0)
            continue;   /* already running from there */
        uint8_t *data = NULL;
        size_t len = 0;
        if (nc_read_file(src, 512u * 1024 * 1024, &data, &len) != NC_OK) {
            char *s = cli_safe(src);
            cli_error("cannot read %s: build it first (`make`)", s);
            free(s);
            return CLI_FAIL;
        }
        nc_err err = nc_write_file_atomic(dst, data, len, 0755);
        free(data);
        if (err != NC_OK || chown(dst, 0, 0) != 0 || chmod(dst, 0755) != 0) {
            char *d = cli_safe(dst);
            cli_error("cannot install %s", d);
            free(d);
            return CLI_FAIL;
        }
    }
    char vm_src[PATH_MAX + 16], vm_dst[PATH_MAX + 16];
    snprintf(vm_src, sizeof vm_src, "%s/nightcore-vm", src_dir);
    snprintf(vm_dst, sizeof vm_dst, "%s/nightcore-vm", bindir);
    if (access(vm_src, R_OK) != 0)
        return CLI_OK;   /* a build without the vm tier's guest: vm runs are refused, saying so */
    if (nc_mkdir_p(vm_dst, 0755) != NC_OK || chown(vm_dst, 0, 0) != 0 || chmod(vm_dst, 0755) != 0) {
        cli_error("cannot create %s/nightcore-vm", bindir);
        return CLI_FAIL;
    }
    for (size_t i = 0; i < sizeof vm_files / sizeof vm_files[0]; i++) {
        char src[PATH_MAX + 64], dst[PATH_MAX + 64];
        snprintf(src, sizeof src, "%s/%s", vm_src, vm_files[i]);
        snprintf(dst, sizeof dst, "%s/%s", vm_dst, vm_files[i]);
        uint8_t *data = NULL;
        size_t len = 0;
        if (nc_read_file(src, 512u * 1024 * 1024, &data, &len) != NC_OK)
            continue;
        nc_err err = nc_write_file_atomic(dst, data, len, 0644);
        free(data);
        if (err != NC_OK || chown(dst, 0, 0) != 0 || chmod(dst, 0644) != 0) {
            char *d = cli_safe(dst);
            cli_error("cannot install %s", d);
            free(d);
            return CLI_FAIL;
        }
    }
    return CLI_OK;
}

static struct passwd *ensure_account(const char *user, const char *state)
{
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        char *const argv[] = {"useradd", "--system", "--user-group", "--home-dir", (char *)state, "--no-create-home",
                              "--shell", "/usr/sbin/nologin", (char *)user, NULL};
        if (!run_cmd(argv)) {
            cli_error("useradd could not create the account %s", user);
            return NULL;
        }
        pw = getpwnam(user);
    }
    if (pw && pw->pw_uid == 0) {
        cli_error("the worker's account must not be root");
        return NULL;
    }
    return pw;
}

/* dir exists (mode, owned by pw), creating its parents 0755. */
static int ensure_dir(const char *dir, mode_t mode, const struct passwd *pw)
{
    struct stat st;
    if (lstat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode) || (st.st_uid != pw->pw_uid && st.st_uid != 0)) {
            char *d = cli_safe(dir);
            cli_error("%s exists and is not a directory of %s's: refusing to use it", d, pw->pw_name);
            free(d);
            return CLI_FAIL;
        }
    } else if (nc_mkdir_p(dir, 0755) != NC_OK) {
        char *d = cli_safe(dir);
        cli_error("cannot create %s", d);
        free(d);
        return CLI_FAIL;
    }
    if (chown(dir, pw->pw_uid, pw->pw_gid) != 0 || chmod(dir, mode) != 0) {
        char *d = cli_safe(dir);
        cli_error("cannot set the owner and mode of %s", d);
        free(d);
        return CLI_FAIL;
    }
    return CLI_OK;
}

static json_t *load_system_json(void)
{
    const char *path = system_json_path();
    uint8_t *data = NULL;
    size_t len = 0;
    json_t *o = NULL;
    if (nc_read_file(path, 64 * 1024, &data, &len) != NC_OK) {
        char *p = cli_safe(path);
        cli_error("no service deployment here (%s): `sudo nightcore system install` first", p);
        free(p);
        return NULL;
    }
    if (nc_json_parse_strict(data, len, &o, NULL, 0) != NC_OK || !json_is_object(o) || !cli_jstr(o, "home") ||
        !cli_jstr(o, "run_dir") || !cli_jstr(o, "user") || !cli_jstr(o, "worker")) {
        json_decref(o);
        o = NULL;
        cli_error("%s is malformed: run `sudo nightcore system install` again", path);
    }
    free(data);
    return o;
}

static bool systemd_running(void)
{
    struct stat st;
    return stat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

static int write_unit(const char *worker, const char *state, const char *run, const struct passwd *pw,
                      const json_t *ops)
{
    struct group *gr = getgrgid(pw->pw_gid);
    char opargs[512] = "", text[4096];
    for (size_t i = 0; i < json_array_size(ops); i++)
        snprintf(opargs + strlen(opargs), sizeof opargs - strlen(opargs), " --operator %lld",
                 (long long)json_integer_value(json_array_get(ops, i)));
    bool own_run = strcmp(run, DEFAULT_RUN) == 0;
    int n = snprintf(text, sizeof text,
                     "# Written by `nightcore system install`.\n"
                     "[Unit]\n"
                     "Description=Night Core worker: the execution gate for untrusted WebAssembly\n"
                     "After=local-fs.target\n\n"
                     "[Service]\n"
                     "Type=simple\n"
                     "User=%s\n"
                     "Group=%s\n"
                     "%s"
                     "ExecStart=%s serve --home %s --run-dir %s%s\n"
                     "Restart=on-failure\n"
                     "UMask=0077\n"
                     "NoNewPrivileges=yes\n"
                     "PrivateTmp=yes\n"
                     "ProtectSystem=full\n\n"
                     "[Install]\n"
                     "WantedBy=multi-user.target\n",
                     pw->pw_name, gr ? gr->gr_name : pw->pw_name,
                     own_run ? "RuntimeDirectory=nightcore\nRuntimeDirectoryMode=0755\n" : "", worker, state, run,
                     opargs);
    if (n < 0 || (size_t)n >= sizeof text || nc_write_file_atomic(UNIT_PATH, text, (size_t)n, 0644) != NC_OK) {
        cli_error("cannot write %s", UNIT_PATH);
        return CLI_FAIL;
    }
    return CLI_OK;
}

int cmd_system_install(cli_ctx *ctx, const cli_args *a)
{
    (void)ctx;
    const char *user = cli_val(a, SYS_USER) ? cli_val(a, SYS_USER) : DEFAULT_USER;
    const char *prefix = cli_val(a, SYS_PREFIX) ? cli_val(a, SYS_PREFIX) : DEFAULT_PREFIX;
    const char *state = cli_val(a, SYS_HOME) ? cli_val(a, SYS_HOME) : DEFAULT_STATE;
    const char *run = cli_val(a, SYS_RUN_DIR) ? cli_val(a, SYS_RUN_DIR) : DEFAULT_RUN;
    const char *key_pub = cli_val(a, SYS_APPROVER_KEY), *principal = cli_val(a, SYS_PRINCIPAL);
    char bindir[PATH_MAX], worker[PATH_MAX + 32], cli_prog[PATH_MAX + 32], fp[NC_SSHKEY_FINGERPRINT_LEN];
    char *key_line = NULL;
    json_t *ops = NULL, *sys = NULL;
    int rc = need_root("system install");
    if (rc != CLI_OK)
        return rc;
    if (prefix[0] != '/' || state[0] != '/' || run[0] != '/' || strlen(run) > 80)
        return cli_usage_error(a->cmd, "--prefix, --state-dir and --run-dir must be absolute (--run-dir at most 80 bytes)");
    if ((key_pub != NULL) != (principal != NULL))
        return cli_usage_error(a->cmd, "--approver-key and --principal go together");
    if (principal && !nc_principal_ok(principal))
        return cli_usage_error(a->cmd, "--principal must be 1-128 of A-Z a-z 0-9 @ . _ - + :");
    if (key_pub && (rc = cli_read_pub_key(key_pub, &key_line, fp)) != CLI_OK)
        return rc;
    ops = json_array();
    if (!ops)
        cli_oom();
    const char *sudo_user = getenv("SUDO_USER");
    int nops = a->count[SYS_OPERATOR];
    for (int i = 0; i < (nops ? nops : (sudo_user && sudo_user[0] ? 1 : 0)); i++) {
        const char *name = nops ? a->multi[SYS_OPERATOR][i] : sudo_user;
        struct passwd *op = getpwnam(name);
        if (!op) {
            char *n = cli_safe(name);
            rc = cli_usage_error(a->cmd, "--operator %s: no such user", n);
            free(n);
            goto done;
        }
        json_array_append_new(ops, json_integer(op->pw_uid));
    }
    printf("Night Core service deployment\n");
    rc = install_programs(prefix, bindir, sizeof bindir);
    if (rc != CLI_OK)
        goto done;
    snprintf(worker, sizeof worker, "%s/nightcore-worker", bindir);
    snprintf(cli_prog, sizeof cli_prog, "%s/nightcore", bindir);
    printf("  %-12s %s/{nightcore,nightcore-worker,nightcore-console,nightcore-mcp} (root's, 0755), and the vm "
           "tier's guest in nightcore-vm/ beside them when built\n", "programs",
           bindir);
    struct passwd *pw = ensure_account(user, state);
    if (!pw) {
        rc = CLI_FAIL;
        goto done;
    }
    for (size_t i = 0; i < json_array_size(ops); i++)
        if ((uid_t)json_integer_value(json_array_get(ops, i)) == pw->pw_uid) {
            rc = cli_usage_error(a->cmd, "an operator cannot be the worker's own account");
            goto done;
        }
    printf("  %-12s %s (uid %u)\n", "account", pw->pw_name, (unsigned)pw->pw_uid);
    if ((rc = ensure_dir(state, 0700, pw)) != CLI_OK || (rc = ensure_dir(run, 0755, pw)) != CLI_OK)
        goto done;
    char *const init_argv[] = {cli_prog, "--home", (char *)state, "init", "--principal",
                               (char *)(principal ? principal : "operator@localhost"),
                               key_line ? "--approver-key" : NULL, "-", NULL};
    if (!run_as(pw, state, init_argv, key_line)) {
        cli_error("initialising %s as %s failed (see above)", state, pw->pw_name);
        rc = CLI_FAIL;
        goto done;
    }
    printf("  %-12s %s (0700, %s's only)\n", "home", state, pw->pw_name);
    nc_home h;
    memset(&h, 0, sizeof h);
    snprintf(h.root, sizeof h.root, "%s", state);
    uint8_t pk[NC_WORKER_PK_LEN];
    char pk_b64[64];
    if (nc_worker_key_load_public(&h, pk) != NC_OK) {
        cli_error("cannot read the new worker key in %s", state);
        rc = CLI_FAIL;
        goto done;
    }
    sodium_bin2base64(pk_b64, sizeof pk_b64, pk, sizeof pk, sodium_base64_VARIANT_ORIGINAL);
    sys = json_pack("{s:s, s:s, s:s, s:I, s:O, s:s, s:s}", "home", state, "run_dir", run, "user", pw->pw_name, "uid",
                    (json_int_t)pw->pw_uid, "operators", ops, "worker", worker, "worker_key", pk_b64);
    char *text = sys ? json_dumps(sys, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    char sysdir[PATH_MAX];
    snprintf(sysdir, sizeof sysdir, "%s", system_json_path());
    char *slash = strrchr(sysdir, '/');
    if (slash)
        *slash = '\0';
    if (!text || nc_mkdir_p(sysdir, 0755) != NC_OK ||
        nc_write_file_atomic(system_json_path(), text, strlen(text), 0644) != NC_OK) {
        free(text);
        cli_error("cannot write %s", system_json_path());
        rc = CLI_FAIL;
        goto done;
    }
    free(text);
    printf("  %-12s %s\n", "config", system_json_path());
    if (key_line)
        printf("  %-12s %s for %s (the root of trust)\n", "approver", fp, principal);
    else
        printf("  %-12s none yet: an operator trusts the first key with `nightcore trust add KEY.pub --principal P`\n"
               "  %-12s (until then whoever does that first owns this worker)\n", "approver", "");
    if (!cli_has(a, SYS_NO_SYSTEMD) && systemd_running()) {
        char *const reload[] = {"systemctl", "daemon-reload", NULL};
        char *const enable[] = {"systemctl", "enable", "--now", "nightcore-worker.service", NULL};
        if ((rc = write_unit(worker, state, run, pw, ops)) != CLI_OK)
            goto done;
        if (!run_cmd(reload) || !run_cmd(enable)) {
            cli_error("systemctl could not start nightcore-worker.service: `journalctl -u nightcore-worker`");
            rc = CLI_FAIL;
            goto done;
        }
        printf("  %-12s %s, enabled and started\n", "systemd", UNIT_PATH);
    } else {
        printf("  %-12s not used: start the worker with `sudo nightcore system start`\n", "systemd");
    }
    printf("\nOperators");
    for (size_t i = 0; i < json_array_size(ops); i++) {
        struct passwd *op = getpwuid((uid_t)json_integer_value(json_array_get(ops, i)));
        printf("%s%s", i ? ", " : " ", op ? op->pw_name : "?");
    }
    printf("%s use `nightcore` as usual (it finds %s); each sets up their key once:\n"
           "  nightcore init --approver-key ~/.ssh/id_ed25519_sk.pub --principal you@example.com\n"
           "Agents (any user) connect to %s/agent.sock with a token from `nightcore agent add NAME`.\n",
           json_array_size(ops) ? "" : " (none given: only root can reach control.sock; use --operator USER)",
           system_json_path(), run);
    rc = CLI_OK;
done:
    free(key_line);
    json_decref(ops);
    json_decref(sys);
    return rc;
}

/* The worker's control socket answers hello (as root, served by uid). */
static bool worker_answers(const char *run, uid_t uid)
{
    char path[PATH_MAX + 32], msg[256];
    nc_rpc *rpc = NULL;
    json_t *res = NULL;
    nc_rpc_error rerr;
    snprintf(path, sizeof path, "%s/%s", run, NC_CONTROL_SOCK);
    if (nc_rpc_connect_as(path, uid, &rpc, msg, sizeof msg) != NC_OK)
        return false;
    nc_rpc_set_timeout(rpc, 2000);
    bool ok = nc_rpc_call(rpc, "hello", NULL, &res, &rerr) == NC_OK;
    json_decref(res);
    nc_rpc_free(rpc);
    return ok;
}

int cmd_system_start(cli_ctx *ctx, const cli_args *a)
{
    (void)ctx;
    (void)a;
    int rc = need_root("system start");
    if (rc != CLI_OK)
        return rc;
    json_t *sys = load_system_json();
    if (!sys)
        return CLI_FAIL;
    const char *state = cli_jstr(sys, "home"), *run = cli_jstr(sys, "run_dir"), *worker = cli_jstr(sys, "worker");
    struct passwd *pw = getpwnam(cli_jstr(sys, "user"));
    if (!pw) {
        cli_error("the worker's account %s is gone: `sudo nightcore system install` again", cli_jstr(sys, "user"));
        json_decref(sys);
        return CLI_FAIL;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (worker_answers(run, uid)) {
        printf("worker already running (%s)\n", run);
        json_decref(sys);
        return CLI_OK;
    }
    if ((rc = ensure_dir(run, 0755, pw)) != CLI_OK) {
        json_decref(sys);
        return rc;
    }
    const json_t *ops = json_object_get(sys, "operators");
    char *argv[8 + 2 * 16 + 1];
    char opv[16][24];
    size_t n = 0;
    argv[n++] = (char *)worker;
    argv[n++] = "serve";
    argv[n++] = "--home";
    argv[n++] = (char *)state;
    argv[n++] = "--run-dir";
    argv[n++] = (char *)run;
    for (size_t i = 0; i < json_array_size(ops) && i < 16; i++) {
        snprintf(opv[i], sizeof opv[i], "%lld", (long long)json_integer_value(json_array_get(ops, i)));
        argv[n++] = "--operator";
        argv[n++] = opv[i];
    }
    argv[n] = NULL;
    char log[PATH_MAX + 32];
    snprintf(log, sizeof log, "%s/%s", state, NC_HOME_LOG);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        cli_error("fork: %s", strerror(errno));
        json_decref(sys);
        return CLI_FAIL;
    }
    if (pid == 0) {
        /* a daemon of the worker's account: own session, no terminal */
        if (setsid() < 0)
            _exit(127);
        if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0 || setuid(0) == 0)
            _exit(126);
        umask(077);
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 || chdir(state) != 0)
            _exit(127);
        close_range(3, ~0u, 0);
        char homevar[PATH_MAX + 8];
        snprintf(homevar, sizeof homevar, "HOME=%s", state);
        char *env[] = {homevar, "PATH=/usr/bin:/bin", NULL};
        execve(worker, argv, env);
        _exit(127);
    }
    for (int waited = 0; waited < START_TIMEOUT_MS; waited += 100) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            cli_error("the worker exited during startup; see %s", log);
            json_decref(sys);
            return CLI_FAIL;
        }
        if (worker_answers(run, uid)) {
            printf("worker started as %s (pid %d)\n  sockets %s\n  log     %s\n", pw->pw_name, (int)pid, run, log);
            json_decref(sys);
            return CLI_OK;
        }
        sleep_ms(100);
    }
    kill(pid, SIGTERM);
    cli_error("the worker did not answer within %d s; stopped it. See %s", START_TIMEOUT_MS / 1000, log);
    json_decref(sys);
    return CLI_FAIL;
}

static int stop_worker(const json_t *sys, bool quiet)
{
    const char *run = cli_jstr(sys, "run_dir");
    struct passwd *pw = getpwnam(cli_jstr(sys, "user"));
    char path[PATH_MAX + 32], msg[256];
    nc_rpc *rpc = NULL;
    json_t *res = NULL;
    nc_rpc_error rerr;
    if (!pw)
        return CLI_OK;
    snprintf(path, sizeof path, "%s/%s", run, NC_CONTROL_SOCK);
    if (nc_rpc_connect_as(path, pw->pw_uid, &rpc, msg, sizeof msg) != NC_OK) {
        if (!quiet)
            printf("worker not running\n");
        return CLI_OK;
    }
    nc_rpc_set_timeout(rpc, 5000);
    nc_err err = nc_rpc_call(rpc, "shutdown", NULL, &res, &rerr);
    json_decref(res);
    nc_rpc_free(rpc);
    if (err != NC_OK) {
        cli_error("the worker did not accept shutdown: %s", rerr.message);
        return CLI_FAIL;
    }
    for (int waited = 0; waited < STOP_TIMEOUT_MS; waited += 100) {
        if (!worker_answers(run, pw->pw_uid)) {
            if (!quiet)
                printf("worker stopped\n");
            return CLI_OK;
        }
        sleep_ms(100);
    }
    cli_error("the worker has not stopped within %d s", STOP_TIMEOUT_MS / 1000);
    return CLI_FAIL;
}

int cmd_system_stop(cli_ctx *ctx, const cli_args *a)
{
    (void)ctx;
    (void)a;
    int rc = need_root("system stop");
    if (rc != CLI_OK)
        return rc;
    json_t *sys = load_system_json();
    if (!sys)
        return CLI_FAIL;
    rc = stop_worker(sys, false);
    json_decref(sys);
    return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

int cmd_system_uninstall(cli_ctx *ctx, const cli_args *a)
{
    (void)ctx;
    int rc = need_root("system uninstall");
    if (rc != CLI_OK)
        return rc;
    json_t *sys = load_system_json();
    if (!sys)
        return CLI_FAIL;
    struct stat st;
    if (stat(UNIT_PATH, &st) == 0) {
        char *const disable[] = {"systemctl", "disable", "--now", "nightcore-worker.service", NULL};
        char *const reload[] = {"systemctl", "daemon-reload", NULL};
        if (systemd_running())
            (void)run_cmd(disable);
        unlink(UNIT_PATH);
        if (systemd_running())
            (void)run_cmd(reload);
    }
    rc = stop_worker(sys, true);
    if (rc != CLI_OK) {
        json_decref(sys);
        return rc;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", cli_jstr(sys, "worker"));
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
            char p[PATH_MAX + 64];
            snprintf(p, sizeof p, "%s/%s", dir, programs[i]);
            unlink(p);
        }
        for (size_t i = 0; i < sizeof vm_files / sizeof vm_files[0]; i++) {
            char p[PATH_MAX + 64];
            snprintf(p, sizeof p, "%s/nightcore-vm/%s", dir, vm_files[i]);
            unlink(p);
        }
        char vmdir[PATH_MAX + 16];
        snprintf(vmdir, sizeof vmdir, "%s/nightcore-vm", dir);
        rmdir(vmdir);
    }
    unlink(system_json_path());
    printf("removed the service deployment's programs, unit and %s\n", system_json_path());
    if (cli_has(a, SYS_PURGE)) {
        const char *home = cli_jstr(sys, "home");
        if (home && home[0] == '/' && strcmp(home, "/") != 0 && nftw(home, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0)
            printf("deleted %s\n", home);
        char *const del[] = {"userdel", (char *)cli_jstr(sys, "user"), NULL};
        if (run_cmd(del))
            printf("deleted the account %s\n", cli_jstr(sys, "user"));
    } else {
        printf("kept the worker's home %s and its account (--purge deletes them)\n", cli_jstr(sys, "home"));
    }
    json_decref(sys);
    return CLI_OK;
}
