/* The console checks the audit log itself, read-only, the way `nightcore
 * audit verify` does (src/cli/cmd_audit.c): the worker's public key from
 * keys/worker.pub, origin "nightcore/<worker id>", anchor
 * state/audit.checkpoint when it exists, one read snapshot. The result is
 * cached for a few seconds: verifying re-hashes the whole log. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <spawn.h>
#include <time.h>
#include <unistd.h>
#include "audit/audit.h"
#include "common/fs.h"
#include "console/console.h"
#include "store/auditlog.h"
#include "store/db.h"

#define NC_HOME_AUDIT_CHECKPOINT "state/audit.checkpoint"
#define EXPORT_MAX_BYTES (256u * 1024 * 1024)
#define EXPORT_TIMEOUT_MS 120000

extern char **environ;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *g_cached;
static int64_t g_cached_at;

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* Local midnight today, unix seconds. */
static int64_t today_start(void)
{
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm))
        return (int64_t)now - (int64_t)now % 86400;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

typedef struct {
    const con_ctx *c;
    json_t *o;
} checkpoint_ctx;

static nc_err checkpoint_json(const nc_auditlog_checkpoint *cp, void *ctx)
{
    checkpoint_ctx *x = ctx;
    char key[256] = "", origin[96];
    snprintf(origin, sizeof origin, "nightcore/%s", x->c->worker_id);
    if (nc_audit_verifier_key(origin, x->c->worker_pk, key, sizeof key) != NC_OK)
        key[0] = '\0';
    x->o = json_pack("{s:s%, s:I, s:I, s:s}", "note", cp->note, cp->note_len, "size", (json_int_t)cp->size,
                     "created_at", (json_int_t)cp->created_at, "verifier_key", key);
    return x->o ? NC_OK : NC_ERR_NOMEM;
}

static json_t *latest_checkpoint(nc_db *db, const con_ctx *c)
{
    checkpoint_ctx x = {c, NULL};
    if (nc_auditlog_checkpoint_latest(db, checkpoint_json, &x) != NC_OK) {
        json_decref(x.o);
        return NULL;
    }
    return x.o;
}

static int64_t refused_since(nc_db *db, int64_t since)
{
    uint64_t n;
    return nc_auditlog_count_kind_since(db, "refused", since, &n) == NC_OK ? (int64_t)n : -1;
}

/* The service deployment: the database is the worker's alone; it verifies. */
static json_t *verify_by_worker(const con_ctx *c)
{
    json_t *rep = NULL, *cp = NULL;
    con_call_error err;
    if (con_worker_call(c, "audit.verify", NULL, &rep, &err) != NC_OK)
        return json_pack("{s:b, s:s, s:I}", "ok", 0, "error", err.message, "verified_at", (json_int_t)time(NULL));
    if (con_worker_call(c, "audit.checkpoint", NULL, &cp, &err) != NC_OK)
        cp = NULL;
    json_object_set_new(rep, "checkpoint", cp ? cp : json_null());
    json_object_set_new(rep, "refused_today", json_null());
    json_object_set_new(rep, "verified_at", json_integer((json_int_t)time(NULL)));
    return rep;
}

static json_t *verify_now(const con_ctx *c)
{
    if (c->home.service)
        return verify_by_worker(c);
    char path[PATH_MAX], anchor_path[PATH_MAX] = "", msg[600] = "", origin[96];
    uint8_t *anchor = NULL;
    size_t anchor_len = 0;
    nc_db *db = NULL;
    json_t *cp = NULL;
    int64_t refused = -1;
    nc_audit_report rep;
    memset(&rep, 0, sizeof rep);
    rep.bad_seq = -1;

    if (!c->have_worker_key) {
        snprintf(msg, sizeof msg, "no worker key (keys/worker.pub): is this the right home?");
        goto done;
    }
    snprintf(origin, sizeof origin, "nightcore/%s", c->worker_id);
    /* The anchor first, so it is never newer than the snapshot. */
    if (nc_home_path(&c->home, NC_HOME_AUDIT_CHECKPOINT, anchor_path, sizeof anchor_path) == NC_OK) {
        nc_err e = nc_read_file(anchor_path, NC_AUDIT_MAX_NOTE_BYTES, &anchor, &anchor_len);
        if (e == NC_ERR_NOT_FOUND)
            anchor_path[0] = '\0';
        else if (e != NC_OK) {
            snprintf(msg, sizeof msg, "cannot read the anchor %.400s: %s", anchor_path, nc_strerror(e));
            goto done;
        }
    }
    if (nc_home_path(&c->home, NC_HOME_DB, path, sizeof path) != NC_OK ||
        nc_db_open_readonly(path, &db, msg, sizeof msg) != NC_OK)
        goto done;
    if (nc_db_snapshot_begin(db) != NC_OK) {
        snprintf(msg, sizeof msg, "cannot read the database: %s", nc_db_errmsg(db));
        goto done;
    }
    nc_err e = nc_audit_verify(db, origin, c->worker_pk, (const char *)anchor, anchor_len, &rep);
    if (e != NC_OK) {
        snprintf(msg, sizeof msg, "cannot read the audit log: %s (%s)", nc_strerror(e), nc_db_errmsg(db));
        rep.ok = false;
    }
    cp = latest_checkpoint(db, c);
    refused = refused_since(db, today_start());
done:
    if (db) {
        nc_db_snapshot_end(db);
        nc_db_close(db);
    }
    free(anchor);
    const char *error = msg[0] ? msg : rep.error[0] ? rep.error : NULL;
    return json_pack("{s:b, s:I, s:I, s:I, s:o, s:s?, s:s?, s:o, s:o, s:I}", "ok", msg[0] ? 0 : rep.ok, "entries",
                     (json_int_t)rep.entries, "checkpoints", (json_int_t)rep.checkpoints, "unsigned_tail",
                     (json_int_t)rep.unsigned_tail, "bad_seq",
                     rep.bad_seq >= 0 ? json_integer(rep.bad_seq) : json_null(), "error", error, "anchor",
                     anchor_path[0] ? anchor_path : NULL, "checkpoint", cp ? cp : json_null(), "refused_today",
                     refused >= 0 ? json_integer(refused) : json_null(), "verified_at", (json_int_t)time(NULL));
}

json_t *con_audit_report(const con_ctx *c, bool fresh)
{
    json_t *r = NULL;
    pthread_mutex_lock(&g_lock);
    if (!fresh && g_cached && mono_s() - g_cached_at < CON_AUDIT_CACHE_S) {
        r = json_incref(g_cached);
    } else {
        json_decref(g_cached);
        g_cached = verify_now(c);
        g_cached_at = mono_s();
        r = json_incref(g_cached);
    }
    pthread_mutex_unlock(&g_lock);
    return r ? r : json_pack("{s:b, s:s}", "ok", 0, "error", "out of memory");
}

/* The `nightcore` CLI beside this binary (else on PATH): the export is
 * exactly what `nightcore audit export` writes. */
static void cli_path(const con_ctx *c, char *out, size_t n)
{
    const char *slash = strrchr(c->self_exe, '/');
    if (slash && (size_t)(slash - c->self_exe) + 11 < n) {
        snprintf(out, n, "%.*s/nightcore", (int)(slash - c->self_exe), c->self_exe);
        if (access(out, X_OK) == 0)
            return;
    }
    snprintf(out, n, "nightcore");
}

enum MHD_Result con_api_audit_export(con_ctx *c, struct MHD_Connection *conn, const char *format)
{
    char dir[] = "/tmp/nightcore-export-XXXXXX", out[64], cli[PATH_MAX];
    uint8_t *data = NULL;
    size_t len = 0;
    enum MHD_Result ret;
    bool html = strcmp(format, "html") == 0;
    if (!html && strcmp(format, "jsonl") != 0)
        return con_send_error(conn, 400, "invalid_request", "format must be jsonl or html");
    if (!mkdtemp(dir))
        return con_send_error(conn, 500, "internal", "cannot create a temporary directory");
    snprintf(out, sizeof out, "%s/export", dir);
    cli_path(c, cli, sizeof cli);
    char *const argv[] = {"nightcore", "--home", c->home.root, "audit", "export", "--format", html ? "html" : "jsonl",
                          "--out", out, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    pid_t pid;
    int status = 0, rc = -1;
    sigemptyset(&none);
    if (posix_spawn_file_actions_init(&fa) == 0) {
        if (posix_spawnattr_init(&attr) == 0) {
            if (posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0) == 0 &&
                posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0) == 0 &&
                posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK) == 0 &&
                posix_spawnattr_setsigmask(&attr, &none) == 0)
                rc = strchr(cli, '/') ? posix_spawn(&pid, cli, &fa, &attr, argv, environ)
                                      : posix_spawnp(&pid, cli, &fa, &attr, argv, environ);
            posix_spawnattr_destroy(&attr);
        }
        posix_spawn_file_actions_destroy(&fa);
    }
    if (rc != 0) {
        ret = con_send_error(conn, 500, "internal", "cannot run nightcore audit export");
        goto done;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    nc_err e = nc_read_file(out, EXPORT_MAX_BYTES, &data, &len);
    if (e != NC_OK) {
        ret = con_send_error(conn, 500, "internal", "nightcore audit export wrote nothing (exit status %d)",
                             WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        goto done;
    }
    ret = con_send(conn, 200, html ? "text/html; charset=utf-8" : "application/x-ndjson", data, len,
                   MHD_RESPMEM_MUST_FREE,
                   html ? "attachment; filename=\"nightcore-audit.html\""
                        : "attachment; filename=\"nightcore-audit.jsonl\"");
    data = NULL;
done:
    free(data);
    unlink(out);
    rmdir(dir);
    return ret;
}
