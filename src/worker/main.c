/* nightcore-worker: the only Night Core program that links the engine and the
 * only one that can execute a module. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "common/fs.h"
#include "common/limits.h"
#include "common/workerkey.h"
#include "worker/worker.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: nightcore-worker serve [--home DIR] [--run-dir DIR] [--operator USER]... [--insecure-dev]\n"
            "       nightcore-worker --version\n"
            "\n"
            "The Night Core worker: verifies, sandboxes and records every run.\n"
            "Usually started with `nightcore worker start` (single-user home) or by\n"
            "`nightcore system install` (service account). The home must exist\n"
            "(`nightcore init`) and belong to the user the worker runs as.\n"
            "\n"
            "  --home DIR       the home (default $NIGHTCORE_HOME, then ~/.nightcore)\n"
            "  --run-dir DIR    where control.sock and agent.sock go (default HOME/run)\n"
            "  --operator USER  service account: USER (name or uid) may use control.sock;\n"
            "                   repeatable. Without it only the worker's own user may.\n"
            "  --insecure-dev   development and tests: lets the console sign with a key\n"
            "                   that has no passphrase (shown in red everywhere)\n"
            "\n"
            "The vm isolation tier (policies with \"isolation\": \"vm\"), from the environment:\n"
            "  NIGHTCORE_VM_KERNEL, NIGHTCORE_VM_INITRD  the guest kernel and initramfs\n"
            "                   (default: nightcore-vm/vmlinuz and nightcore-vm/initramfs.img\n"
            "                   beside this program; without them vm runs are refused)\n"
            "  NIGHTCORE_VM_QEMU  QEMU (default /usr/bin/qemu-system-x86_64)\n"
            "  NIGHTCORE_VM_ACCEL auto (default: KVM if a probe guest boots, else TCG), kvm, tcg\n"
            "  NIGHTCORE_VM_POOL  microVMs kept booted, 0-%u (default 1)\n", NC_VM_MAX_POOL);
}

/* The vm tier's settings (usage above). Its kernel and initramfs default to
 * the build's or installation's nightcore-vm/ beside this program; when
 * they are not there the tier is simply not set up, and vm runs are refused
 * with that reason. */
static nc_err vm_settings(nc_sandbox_opts *so, char *kernel, size_t klen, char *initrd, size_t ilen)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    const char *k = getenv("NIGHTCORE_VM_KERNEL"), *i = getenv("NIGHTCORE_VM_INITRD");
    if ((k && k[0] ? snprintf(kernel, klen, "%s", k) : snprintf(kernel, klen, "%s/nightcore-vm/vmlinuz", exe)) >=
            (int)klen ||
        (i && i[0] ? snprintf(initrd, ilen, "%s", i) : snprintf(initrd, ilen, "%s/nightcore-vm/initramfs.img", exe)) >=
            (int)ilen) {
        fprintf(stderr, "nightcore-worker: the vm tier's kernel or initramfs path is too long\n");
        return NC_ERR_TOO_LARGE;
    }
    so->vm_kernel = kernel;
    so->vm_initrd = initrd;
    const char *q = getenv("NIGHTCORE_VM_QEMU");
    so->vm_qemu = q && q[0] ? q : NULL;
    const char *a = getenv("NIGHTCORE_VM_ACCEL");
    if (a && a[0] && strcmp(a, "auto") != 0 && strcmp(a, "kvm") != 0 && strcmp(a, "tcg") != 0) {
        fprintf(stderr, "nightcore-worker: NIGHTCORE_VM_ACCEL must be auto, kvm or tcg\n");
        return NC_ERR_USAGE;
    }
    so->vm_accel = a && a[0] ? a : NULL;
    so->vm_pool_size = 1;
    const char *p = getenv("NIGHTCORE_VM_POOL");
    if (p && p[0]) {
        char *end;
        long v = strtol(p, &end, 10);
        if (*end || v < 0 || v > (long)NC_VM_MAX_POOL) {
            fprintf(stderr, "nightcore-worker: NIGHTCORE_VM_POOL must be 0..%u\n", NC_VM_MAX_POOL);
            return NC_ERR_USAGE;
        }
        so->vm_pool_size = (unsigned)v;
    }
    return NC_OK;
}

static void print_version(void)
{
    nc_isolation_report iso;
    nc_isolation_probe(&iso);
    printf("nightcore-worker %s (engine: Wasmtime C API 48.0.8)\n", NC_VERSION);
    printf("isolation available: user+net namespaces %s, Landlock ABI %d, seccomp %s\n",
           iso.userns ? "yes" : "no", iso.landlock_abi, iso.seccomp ? "yes" : "no");
}

static void on_signal(uv_signal_t *s, int sig)
{
    nc_worker *w = s->data;
    (void)sig;
    if (w->stopping)
        return;
    w->stopping = true;
    nc_server_stop(w);
}

static void on_walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static int path_of(nc_worker *w, const char *rel, char *out, size_t n)
{
    if (nc_home_path(&w->home, rel, out, n) != NC_OK) {
        fprintf(stderr, "nightcore-worker: home path too long\n");
        return -1;
    }
    return 0;
}

typedef struct {
    const char *home, *run_dir;
    const char *operators[NC_WORKER_MAX_OPERATORS];
    unsigned noperators;
    bool dev;
} serve_opts;

static int resolve_operators(nc_worker *w, const serve_opts *o)
{
    for (unsigned i = 0; i < o->noperators; i++) {
        const char *s = o->operators[i];
        struct passwd *pw = getpwnam(s);
        char *end = NULL;
        long v = pw ? (long)pw->pw_uid : strtol(s, &end, 10);
        if (!pw && (!s[0] || !end || *end || v < 0 || v > 0x7fffffffL)) {
            fprintf(stderr, "nightcore-worker: --operator %s: no such user\n", s);
            return -1;
        }
        w->operator_uids[w->noperators++] = (uid_t)v;
    }
    w->service = w->noperators > 0;
    return 0;
}

static int serve(const serve_opts *o)
{
    static nc_worker worker;
    nc_worker *w = &worker;
    char msg[1024], pid_text[32];
    int rc = 1;
    const char *home_arg = o->home;

    if (nc_home_resolve(home_arg, &w->home) != NC_OK) {
        fprintf(stderr, "nightcore-worker: cannot resolve the home directory\n");
        return 1;
    }
    w->dev_mode = o->dev;
    if (resolve_operators(w, o) != 0)
        return 2;
    if (o->run_dir) {
        if (o->run_dir[0] != '/' || strlen(o->run_dir) > 80) {
            fprintf(stderr, "nightcore-worker: --run-dir must be an absolute path of at most 80 bytes\n");
            return 2;
        }
        snprintf(w->run_dir, sizeof w->run_dir, "%s", o->run_dir);
    } else if (path_of(w, "run", w->run_dir, sizeof w->run_dir)) {
        return 1;
    }
    if (snprintf(w->control_path, sizeof w->control_path, "%s/control.sock", w->run_dir) >= (int)sizeof w->control_path ||
        snprintf(w->agent_path, sizeof w->agent_path, "%s/agent.sock", w->run_dir) >= (int)sizeof w->agent_path)
        return 1;
    if (nc_worker_check_home(w, msg, sizeof msg) != NC_OK) {
        fprintf(stderr, "nightcore-worker: %s\n", msg);
        return 1;
    }
    if (path_of(w, NC_HOME_DB, w->db_path, sizeof w->db_path) || path_of(w, NC_HOME_TRUST_DIR, w->trust_dir, sizeof w->trust_dir) ||
        path_of(w, NC_HOME_TRUST_RECORD, w->trust_record, sizeof w->trust_record) ||
        path_of(w, NC_HOME_BLOBS, w->blobs, sizeof w->blobs) || path_of(w, NC_HOME_ARTIFACTS, w->artifacts, sizeof w->artifacts) ||
        path_of(w, NC_HOME_PIDFILE, w->pid_path, sizeof w->pid_path))
        return 1;
    uint8_t pk[32];
    if (nc_worker_key_load_public(&w->home, pk) != NC_OK) {
        fprintf(stderr, "nightcore-worker: %s is not initialised (no worker key): run `nightcore init`\n", w->home.root);
        return 1;
    }
    nc_worker_id(pk, w->worker_id);
    char run_dir[4096];
    if (path_of(w, "run", run_dir, sizeof run_dir) || nc_mkdir_p(run_dir, 0700) != NC_OK ||
        nc_mkdir_p(w->run_dir, 0755) != NC_OK ||
        nc_mkdir_p(w->blobs, 0700) != NC_OK || nc_mkdir_p(w->artifacts, 0700) != NC_OK) {
        fprintf(stderr, "nightcore-worker: cannot create the state directories in %s\n", w->home.root);
        return 1;
    }
    /* One worker per home: the pid file is locked for the worker's lifetime. */
    w->pid_fd = open(w->pid_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (w->pid_fd < 0 || flock(w->pid_fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "nightcore-worker: another worker is running on %s\n", w->home.root);
        return 1;
    }
    int n = snprintf(pid_text, sizeof pid_text, "%d\n", (int)getpid());
    if (ftruncate(w->pid_fd, 0) != 0 || pwrite(w->pid_fd, pid_text, (size_t)n, 0) != n) {
        fprintf(stderr, "nightcore-worker: cannot write %s\n", w->pid_path);
        return 1;
    }
    if (nc_db_open(w->db_path, &w->db, msg, sizeof msg) != NC_OK) {
        fprintf(stderr, "nightcore-worker: %s\n", msg);
        return 1;
    }
    if (snprintf(w->wal_path, sizeof w->wal_path, "%s-wal", w->db_path) >= (int)sizeof w->wal_path ||
        path_of(w, "state", w->state_dir, sizeof w->state_dir))
        goto done;
    nc_err qerr = nc_db_quick_check(w->db, msg, sizeof msg);
    if (qerr != NC_OK) {
        fprintf(stderr, "nightcore-worker: %s %s (%s). Refusing to start: nothing was changed. Keep a copy of the "
                "state directory, then restore it from a backup; `sqlite3 %s .recover` can salvage what is readable, "
                "and `nightcore audit verify --anchor FILE` checks the result against an anchor you kept\n",
                w->db_path, qerr == NC_ERR_CORRUPT ? "is corrupt" : "cannot be checked", msg, w->db_path);
        goto done;
    }
    /* The audit log: its signing key, its state, and the rollback check. */
    if (nc_worker_key_load_secret(&w->home, &w->sk) != NC_OK) {
        fprintf(stderr, "nightcore-worker: cannot read the worker key %s/%s (mode must be 0600)\n", w->home.root,
                NC_HOME_WORKER_KEY);
        goto done;
    }
    memcpy(w->pk, pk, sizeof pk);
    if (path_of(w, "state/audit.checkpoint", w->checkpoint_path, sizeof w->checkpoint_path))
        goto done;
    nc_err aerr = nc_audit_open(w->db, w->worker_id, &w->audit);
    if (aerr == NC_ERR_MALFORMED) {
        fprintf(stderr, "nightcore-worker: the audit log in %s is inconsistent (its stored tree does not match its "
                "entries): it was edited. Refusing to start; see `nightcore audit verify`\n", w->db_path);
        goto done;
    }
    if (aerr != NC_OK) {
        fprintf(stderr, "nightcore-worker: cannot open the audit log in %s\n", w->db_path);
        goto done;
    }
    if (nc_log_check_anchor(w, msg, sizeof msg) != NC_OK) {
        fprintf(stderr, "nightcore-worker: %s\n", msg);
        goto done;
    }
    if (nc_worker_trust_open(w, msg, sizeof msg) != NC_OK) {
        fprintf(stderr, "nightcore-worker: the trust entries of the audit log do not verify: %s. Refusing to start; "
                "see `nightcore audit verify`\n", msg);
        goto done;
    }
    json_t *interrupted = NULL;
    if (nc_db_begin(w->db) != NC_OK || nc_db_runs_interrupted(w->db, nc_unix_now(), &interrupted) != NC_OK ||
        nc_log(w, "worker.start", json_pack("{s:s, s:i, s:O}", "version", NC_VERSION, "pid", (int)getpid(),
                                           "interrupted_runs", interrupted), NULL) != NC_OK ||
        nc_db_commit(w->db) != NC_OK) {
        nc_log_abort(w);
        json_decref(interrupted);
        fprintf(stderr, "nightcore-worker: cannot record the start in the audit log: %s\n", nc_db_errmsg(w->db));
        goto done;
    }
    if (nc_durable_now(w) != NC_OK)
        goto done;
    if (json_array_size(interrupted))
        fprintf(stderr, "nightcore-worker: %zu run(s) were in flight when the worker last stopped; recorded as interrupted\n",
                json_array_size(interrupted));
    json_decref(interrupted);
    /* Descriptors: as many as allowed; connection caps keep well below them. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &nofile);
    }
    /* The caps fit what is left after a reserve: half to agent.sock, a
     * quarter to control.sock, so neither can take the other's. */
    rlim_t fds = getrlimit(RLIMIT_NOFILE, &nofile) == 0 ? nofile.rlim_cur : 1024;
    rlim_t spare = fds > NC_WORKER_FD_RESERVE + 64 ? fds - NC_WORKER_FD_RESERVE : 64;
    w->max_agent_conns = spare / 2 < NC_WORKER_MAX_AGENT_CONNS ? (unsigned)(spare / 2) : NC_WORKER_MAX_AGENT_CONNS;
    w->max_control_conns = spare / 4 < NC_WORKER_MAX_CONTROL_CONNS ? (unsigned)(spare / 4) : NC_WORKER_MAX_CONTROL_CONNS;
    w->max_agent_conns_per_uid = w->max_agent_conns / 4 < NC_WORKER_MAX_AGENT_CONNS_PER_UID
                                     ? w->max_agent_conns / 4 : NC_WORKER_MAX_AGENT_CONNS_PER_UID;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    w->limit = cores > 0 ? (unsigned)cores : 1;
    const char *lim = getenv("NIGHTCORE_MAX_RUNS");   /* concurrency override, for tests and tuning */
    if (lim && lim[0]) {
        char *end;
        long v = strtol(lim, &end, 10);
        if (*end || v < 1 || v > 64) {
            fprintf(stderr, "nightcore-worker: NIGHTCORE_MAX_RUNS must be 1..64\n");
            goto done;
        }
        w->limit = (unsigned)v;
    }
    w->queue_limit = NC_WORKER_QUEUE_LIMIT;
    const char *ql = getenv("NIGHTCORE_QUEUE_LIMIT");   /* runs waiting beyond the concurrency limit */
    if (ql && ql[0]) {
        char *end;
        long v = strtol(ql, &end, 10);
        if (*end || v < 0 || v > 4096) {
            fprintf(stderr, "nightcore-worker: NIGHTCORE_QUEUE_LIMIT must be 0..4096\n");
            goto done;
        }
        w->queue_limit = (unsigned)v;
    }
    /* Connection deadlines (tuning and tests): NIGHTCORE_AUTH_TIMEOUT_MS, NIGHTCORE_STALL_TIMEOUT_MS. */
    w->auth_timeout_ms = NC_WORKER_AUTH_TIMEOUT_MS;
    w->stall_timeout_ms = NC_WORKER_STALL_TIMEOUT_MS;
    static const struct {
        const char *env;
        size_t off;
    } knobs[] = {{"NIGHTCORE_AUTH_TIMEOUT_MS", offsetof(nc_worker, auth_timeout_ms)},
                 {"NIGHTCORE_STALL_TIMEOUT_MS", offsetof(nc_worker, stall_timeout_ms)}};
    for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
        const char *v = getenv(knobs[i].env);
        if (v && v[0]) {
            char *end;
            long x = strtol(v, &end, 10);
            if (*end || x < 100 || x > 3600000) {
                fprintf(stderr, "nightcore-worker: %s must be 100..3600000 (milliseconds)\n", knobs[i].env);
                goto done;
            }
            *(uint64_t *)((char *)w + knobs[i].off) = (uint64_t)x;
        }
    }
    char threads[16], vm_kernel[PATH_MAX], vm_initrd[PATH_MAX];
    snprintf(threads, sizeof threads, "%u", w->limit + 2);
    setenv("UV_THREADPOOL_SIZE", threads, 1);
    nc_sandbox_opts so = {.tier = NC_TIER_PROCESS, .pool_size = w->limit, .cache_dir = w->artifacts};
    if (vm_settings(&so, vm_kernel, sizeof vm_kernel, vm_initrd, sizeof vm_initrd) != NC_OK)
        goto done;
    if (nc_sandbox_new(&so, &w->sandbox) != NC_OK) {
        fprintf(stderr, "nightcore-worker: cannot set up the sandbox (artifact cache %s)\n", w->artifacts);
        goto done;
    }
    w->loop = uv_default_loop();
    w->started_at = nc_unix_now();
    if (nc_runs_init(w) != NC_OK) {
        fprintf(stderr, "nightcore-worker: cannot set up the event loop's run handles\n");
        goto done;
    }
    if (nc_compiles_init(w) != NC_OK) {
        fprintf(stderr, "nightcore-worker: cannot set up the event loop's compile handles\n");
        goto done;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_signal_init(w->loop, &w->sigterm);
    uv_signal_init(w->loop, &w->sigint);
    w->sigterm.data = w->sigint.data = w;
    uv_signal_start(&w->sigterm, on_signal, SIGTERM);
    uv_signal_start(&w->sigint, on_signal, SIGINT);
    if (nc_server_listen(w, msg, sizeof msg) != NC_OK) {
        fprintf(stderr, "nightcore-worker: %s\n", msg);
        goto done;
    }
    fprintf(stderr, "nightcore-worker %s: worker %s serving %s (%u concurrent runs)\n", NC_VERSION, w->worker_id,
            w->home.root, w->limit);
    if (w->dev_mode)
        fprintf(stderr, "nightcore-worker: DEVELOPMENT MODE (--insecure-dev): the console may sign with keys that "
                "have no passphrase\n");
    char note[NC_AUDIT_MAX_NOTE_BYTES];
    if (nc_log_checkpoint(w, false, note, sizeof note) != NC_OK) {
        fprintf(stderr, "nightcore-worker: cannot write an audit checkpoint\n");
        goto done;
    }
    nc_log_start_timer(w);
    /* Runs until asked to stop (signal or `shutdown`) and everything in
     * flight has been recorded: nc_worker_maybe_stop() leaves the loop. */
    uv_run(w->loop, UV_RUN_DEFAULT);
    nc_runs_record_pending(w, true);
    nc_log_refusal_summaries(w);
    if (nc_db_begin(w->db) != NC_OK || nc_log(w, "worker.stop", NULL, NULL) != NC_OK || nc_db_commit(w->db) != NC_OK)
        nc_log_abort(w);
    if (nc_log_checkpoint(w, false, note, sizeof note) != NC_OK)
        fprintf(stderr, "nightcore-worker: cannot write the final audit checkpoint\n");
    uv_timer_stop(&w->checkpoint_timer);
    uv_signal_stop(&w->sigterm);
    uv_signal_stop(&w->sigint);
    uv_walk(w->loop, on_walk_close, NULL);
    uv_run(w->loop, UV_RUN_DEFAULT);
    fprintf(stderr, "nightcore-worker: stopped\n");
    rc = 0;
done:
    nc_sandbox_free(w->sandbox);
    if (w->sk)
        sodium_free(w->sk);
    nc_db_close(w->db);
    nc_ledger_free(w->ledger);
    if (w->pid_fd >= 0) {
        unlink(w->pid_path);
        close(w->pid_fd);
    }
    return rc;
}

int main(int argc, char **argv)
{
    nc_sandbox_dispatch(argc, argv);
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
        print_version();
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "serve") == 0) {
        serve_opts o;
        memset(&o, 0, sizeof o);
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
                o.home = argv[++i];
            else if (strcmp(argv[i], "--run-dir") == 0 && i + 1 < argc)
                o.run_dir = argv[++i];
            else if (strcmp(argv[i], "--operator") == 0 && i + 1 < argc && o.noperators < NC_WORKER_MAX_OPERATORS)
                o.operators[o.noperators++] = argv[++i];
            else if (strcmp(argv[i], "--insecure-dev") == 0)
                o.dev = true;
            else {
                usage(stderr);
                return 2;
            }
        }
        return serve(&o);
    }
    usage(stderr);
    return 2;
}
