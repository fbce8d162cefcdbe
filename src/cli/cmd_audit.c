/* nightcore audit verify|checkpoint|export|tail, runs show --receipt
 * (docs/cli.md, docs/audit.md).
 *
 * These read the worker's database themselves, read-only (state/nightcore.db,
 * WAL: safe beside a running worker), so that a log can be checked whether or
 * not the worker runs; only `audit checkpoint` (to sign a fresh checkpoint)
 * and `runs show --receipt` ask the worker. What the worker sends is checked
 * against the local copy of its public key, never taken on trust. */
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "audit/audit.h"
#include "cli/audit_fmt.h"
#include "cli/cli.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/workerkey.h"
#include "store/auditlog.h"
#include "store/db.h"

#define ORIGIN_MAX 96
#define HTML_MAX_ENTRIES 100000
#define HTML_MAX_BYTES ((size_t)512 * 1024 * 1024)
#define JSONL_MAX_BYTES ((size_t)4 * 1024 * 1024 * 1024)
#define TAIL_MAX_LINES 100000u
#define TAIL_POLL_NS 500000000L
#define NC_HOME_AUDIT_CHECKPOINT "state/audit.checkpoint"

/* The worker's public key and checkpoint origin, from keys/worker.pub. */
static int audit_key(cli_ctx *ctx, uint8_t pk[NC_WORKER_PK_LEN], char origin[ORIGIN_MAX], char *msg, size_t msg_len)
{
    char path[4096], id[NC_WORKER_ID_LEN];
    int rc = cli_home_path(ctx, NC_HOME_WORKER_PUB, path, sizeof path);
    if (rc != CLI_OK) {
        snprintf(msg, msg_len, "cannot find the Night Core home");
        return rc;
    }
    if (sodium_init() < 0) {
        snprintf(msg, msg_len, "cannot initialise libsodium");
        return CLI_FAIL;
    }
    nc_err err = nc_worker_key_load_public(&ctx->home, pk);
    if (err == NC_ERR_NOT_FOUND) {
        snprintf(msg, msg_len, "no worker key at %.600s: is this the right home? (`nightcore init` creates one)", path);
        return CLI_FAIL;
    }
    if (err != NC_OK) {
        snprintf(msg, msg_len, "%.600s is not a worker public key (base64 of 32 bytes): %s", path, nc_strerror(err));
        return CLI_FAIL;
    }
    nc_worker_id(pk, id);
    snprintf(origin, ORIGIN_MAX, "nightcore/%s", id);
    return CLI_OK;
}

static int open_db(cli_ctx *ctx, nc_db **db, char *msg, size_t msg_len)
{
    char path[4096];
    *db = NULL;
    int rc = cli_home_path(ctx, NC_HOME_DB, path, sizeof path);
    if (rc != CLI_OK) {
        snprintf(msg, msg_len, "cannot find the Night Core home");
        return rc;
    }
    return nc_db_open_readonly(path, db, msg, msg_len) == NC_OK ? CLI_OK : CLI_FAIL;
}

/* One read snapshot for everything a command reads: with the worker
 * appending meanwhile, the entries, checkpoints and stored tree edge must be
 * of the same moment. */
static bool snapshot_begin(nc_db *db)
{
    return nc_db_snapshot_begin(db) == NC_OK;
}

static void snapshot_end(nc_db *db)
{
    nc_db_snapshot_end(db);
}

static void print_error_msg(const char *msg)
{
    char *m = cli_safe(msg);
    cli_error("%s", m);
    free(m);
}

/* The anchor: FILE if given, else state/audit.checkpoint if it exists
 * (path "" and *data NULL when there is none). Read before the database, so
 * that it is never newer than the snapshot verified against it. */
static int load_anchor(cli_ctx *ctx, const char *given, char *path, size_t path_len, uint8_t **data, size_t *len,
                       char *msg, size_t msg_len)
{
    *data = NULL;
    *len = 0;
    path[0] = '\0';
    if (given) {
        snprintf(path, path_len, "%s", given);
    } else {
        int rc = cli_home_path(ctx, NC_HOME_AUDIT_CHECKPOINT, path, path_len);
        if (rc != CLI_OK) {
            snprintf(msg, msg_len, "cannot find the Night Core home");
            return rc;
        }
    }
    nc_err err = nc_read_file(path, NC_AUDIT_MAX_NOTE_BYTES, data, len);
    if (err == NC_OK)
        return CLI_OK;
    int e = errno;
    if (err == NC_ERR_NOT_FOUND && !given) {
        path[0] = '\0';
        return CLI_OK;
    }
    if (err == NC_ERR_NOT_FOUND)
        snprintf(msg, msg_len, "anchor %s: no such file", path);
    else if (err == NC_ERR_TOO_LARGE)
        snprintf(msg, msg_len, "anchor %s is larger than %u bytes: it is not a checkpoint note", path,
                 NC_AUDIT_MAX_NOTE_BYTES);
    else
        snprintf(msg, msg_len, "cannot read the anchor %s: %s", path, e ? strerror(e) : nc_strerror(err));
    return CLI_FAIL;
}

/* The verification report in the shape of `audit verify --json`. */
static json_t *report_json(const nc_audit_report *rep, const char *error, const char *anchor_path)
{
    json_t *o = json_pack("{s:b, s:I, s:I, s:I, s:o, s:o, s:o}", "ok", rep->ok, "entries", (json_int_t)rep->entries,
                          "checkpoints", (json_int_t)rep->checkpoints, "unsigned_tail",
                          (json_int_t)rep->unsigned_tail, "bad_seq",
                          rep->bad_seq >= 0 ? json_integer(rep->bad_seq) : json_null(), "error",
                          error && error[0] ? json_string(error) : json_null(), "anchor",
                          anchor_path && anchor_path[0] ? json_string(anchor_path) : json_null());
    if (!o)
        cli_oom();
    return o;
}

/* Runs nc_audit_verify on an open database inside one snapshot. Returns
 * CLI_OK when the verification ran (rep says what it found). */
static int run_verify(nc_db *db, const char *origin, const uint8_t *pk, const uint8_t *anchor, size_t anchor_len,
                      nc_audit_report *rep, char *msg, size_t msg_len)
{
    memset(rep, 0, sizeof *rep);
    rep->bad_seq = -1;
    nc_err err = nc_audit_verify(db, origin, pk, (const char *)anchor, anchor_len, rep);
    if (err != NC_OK) {
        snprintf(msg, msg_len, "cannot read the audit log: %s (%s)", nc_strerror(err), nc_db_errmsg(db));
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* ---- audit verify ---- */

/* The service deployment: the log is not ours to read; the worker verifies
 * it (against its own last checkpoint, or the anchor given). */
static int verify_by_worker(cli_ctx *ctx, const cli_args *a)
{
    uint8_t *anchor = NULL;
    size_t anchor_len = 0;
    json_t *res = NULL, *params = json_object();
    const char *given = cli_val(a, AUDIT_VERIFY_ANCHOR);
    if (!params)
        cli_oom();
    if (given) {
        int rc = cli_read_file(given, NC_AUDIT_MAX_NOTE_BYTES, "a checkpoint note", &anchor, &anchor_len);
        if (rc != CLI_OK) {
            json_decref(params);
            return rc;
        }
        json_object_set_new(params, "anchor", json_stringn((const char *)anchor, anchor_len));
        free(anchor);
    }
    int rc = cli_request(ctx, "audit.verify", params, &res);
    if (rc != CLI_OK)
        return rc;
    if (ctx->json) {
        cli_print_json(res);
    } else {
        char *err = cli_safe(cli_jstr(res, "error"));
        if (cli_jbool(res, "ok"))
            printf("audit log intact: %lld entries, %lld checkpoints (%lld entries after the last checkpoint); "
                   "verified by the worker (service deployment)\n", (long long)cli_jint(res, "entries", 0),
                   (long long)cli_jint(res, "checkpoints", 0), (long long)cli_jint(res, "unsigned_tail", 0));
        else if (cli_jint(res, "bad_seq", -1) >= 0)
            printf("audit log BROKEN at entry %lld: %s\n", (long long)cli_jint(res, "bad_seq", -1), err);
        else
            printf("audit log not verified: %s\n", err);   /* a corrupt database, an anchor of another worker */
        free(err);
    }
    rc = cli_jbool(res, "ok") ? CLI_OK : CLI_FAIL;
    json_decref(res);
    return rc;
}

int cmd_audit_verify(cli_ctx *ctx, const cli_args *a)
{
    if (cli_home(ctx) == CLI_OK && ctx->home.service)
        return verify_by_worker(ctx, a);

    uint8_t pk[NC_WORKER_PK_LEN], *anchor = NULL;
    size_t anchor_len = 0;
    char origin[ORIGIN_MAX], anchor_path[4096] = "", msg[1024] = "";
    nc_db *db = NULL;
    nc_audit_report rep;
    memset(&rep, 0, sizeof rep);
    rep.bad_seq = -1;

    int rc = audit_key(ctx, pk, origin, msg, sizeof msg);
    if (rc == CLI_OK)
        rc = load_anchor(ctx, cli_val(a, AUDIT_VERIFY_ANCHOR), anchor_path, sizeof anchor_path, &anchor, &anchor_len,
                         msg, sizeof msg);
    if (rc == CLI_OK)
        rc = open_db(ctx, &db, msg, sizeof msg);
    if (rc == CLI_OK && !snapshot_begin(db)) {
        snprintf(msg, sizeof msg, "cannot read the database: %s", nc_db_errmsg(db));
        rc = CLI_FAIL;
    }
    if (rc == CLI_OK)
        rc = run_verify(db, origin, pk, anchor, anchor_len, &rep, msg, sizeof msg);
    if (db)
        snapshot_end(db);
    if (rc != CLI_OK) {
        /* could not verify: not intact as far as anyone can tell */
        rep.ok = false;
        if (ctx->json) {
            json_t *o = report_json(&rep, msg, anchor_path);
            cli_print_json(o);
            json_decref(o);
        } else {
            print_error_msg(msg);
        }
        rc = CLI_FAIL;
        goto done;
    }
    if (ctx->json) {
        json_t *o = report_json(&rep, rep.error, anchor_path);
        cli_print_json(o);
        json_decref(o);
    } else {
        char *err = cli_safe(rep.error);
        if (rep.ok)
            printf("audit log intact: %llu entries, %llu checkpoints (%llu entries after the last checkpoint)\n",
                   (unsigned long long)rep.entries, (unsigned long long)rep.checkpoints,
                   (unsigned long long)rep.unsigned_tail);
        else if (rep.bad_seq >= 0)
            printf("audit log BROKEN at entry %lld: %s\n", (long long)rep.bad_seq, err);
        else
            printf("audit log not verified: %s\n", err);   /* a corrupt database, an anchor of another worker */
        free(err);
        char *p = cli_safe(anchor_path);
        if (anchor_path[0]) {
            nc_checkpoint cp;
            char inner[256];
            if (rep.ok && nc_audit_checkpoint_parse((const char *)anchor, anchor_len, origin, pk, &cp, inner,
                                                    sizeof inner) == NC_OK)
                printf("anchor: %s (checkpoint of %llu entries): the log still extends it\n", p,
                       (unsigned long long)cp.size);
            else
                printf("anchor: %s\n", p);
        } else {
            cli_note("note: no anchor (%s does not exist): deleting the newest entries together with their "
                     "checkpoints would not be detected; keep one with `nightcore audit checkpoint > FILE` and "
                     "pass --anchor FILE",
                     NC_HOME_AUDIT_CHECKPOINT);
        }
        free(p);
    }
    rc = rep.ok ? CLI_OK : CLI_FAIL;
done:
    nc_db_close(db);
    free(anchor);
    return rc;
}

/* ---- audit checkpoint ---- */

/* The newest checkpoint stored in the database (*note malloc'd; NULL when
 * there is none). */
typedef struct {
    char *note;
    uint64_t size;
    int64_t created_at;
} stored_checkpoint;

static nc_err copy_checkpoint(const nc_auditlog_checkpoint *cp, void *ctx)
{
    stored_checkpoint *out = ctx;
    out->note = cli_xmalloc(cp->note_len + 1);
    memcpy(out->note, cp->note, cp->note_len);
    out->note[cp->note_len] = '\0';
    out->size = cp->size;
    out->created_at = cp->created_at;
    return NC_OK;
}

static int latest_checkpoint(nc_db *db, char **note, uint64_t *size, int64_t *created_at, char *msg, size_t msg_len)
{
    stored_checkpoint cp = {NULL, 0, 0};
    nc_err err = nc_auditlog_checkpoint_latest(db, copy_checkpoint, &cp);
    *note = cp.note;
    *size = cp.size;
    *created_at = cp.created_at;
    if (err != NC_OK && err != NC_ERR_NOT_FOUND) {
        snprintf(msg, msg_len, "cannot read the checkpoints: %s", nc_db_errmsg(db));
        return CLI_FAIL;
    }
    return CLI_OK;
}

static void print_note(const char *note)
{
    /* exactly the note (it ends with a newline): `> FILE` makes an anchor */
    fwrite(note, 1, strlen(note), stdout);
}

static int checkpoint_from_db(cli_ctx *ctx, const uint8_t *pk, const char *origin)
{
    nc_db *db = NULL;
    char msg[1024], *note = NULL, when[40], key[256], hex[NC_SHA256_HEX_LEN + 1];
    uint64_t size = 0;
    int64_t created = 0;
    int rc = open_db(ctx, &db, msg, sizeof msg);
    if (rc == CLI_OK)
        rc = latest_checkpoint(db, &note, &size, &created, msg, sizeof msg);
    if (rc != CLI_OK) {
        print_error_msg(msg);
        goto done;
    }
    if (!note) {
        cli_error("worker not running, and the database holds no checkpoint yet: start it with `nightcore worker "
                  "start`");
        rc = CLI_FAIL;
        goto done;
    }
    nc_checkpoint cp;
    char inner[256];
    bool parsed = nc_audit_checkpoint_parse(note, strlen(note), origin, pk, &cp, inner, sizeof inner) == NC_OK;
    if (!parsed || cp.size != size) {
        char *m = cli_safe(parsed ? "its note is for another size" : inner);
        cli_error("the newest checkpoint in the database (size %llu) does not verify with keys/worker.pub: %s; run "
                  "`nightcore audit verify`",
                  (unsigned long long)size, m);
        free(m);
        rc = CLI_FAIL;
        goto done;
    }
    cli_fmt_time(created, when, sizeof when);
    cli_note("nightcore: worker not running: this is the newest checkpoint stored in the database (%llu entries, "
             "signed %s); it may be older than the log",
             (unsigned long long)size, when);
    if (ctx->json) {
        if (nc_audit_verifier_key(origin, pk, key, sizeof key) != NC_OK)
            cli_oom();
        nc_hex(cp.root, sizeof cp.root, hex);
        json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:I, s:s}", "note", note, "size", (json_int_t)size, "root", hex,
                              "verifier_key", key, "created_at", (json_int_t)created, "source", "database");
        if (!o)
            cli_oom();
        cli_print_json(o);
        json_decref(o);
    } else {
        print_note(note);
    }
    rc = CLI_OK;
done:
    free(note);
    nc_db_close(db);
    return rc;
}

int cmd_audit_checkpoint(cli_ctx *ctx, const cli_args *a)
{
    uint8_t pk[NC_WORKER_PK_LEN];
    char origin[ORIGIN_MAX], msg[1024], key[256];
    nc_rpc *rpc = NULL;
    json_t *res = NULL;

    int rc = audit_key(ctx, pk, origin, msg, sizeof msg);
    if (rc != CLI_OK) {
        print_error_msg(msg);
        return rc;
    }
    if (cli_has(a, AUDIT_CHECKPOINT_KEY)) {
        if (nc_audit_verifier_key(origin, pk, key, sizeof key) != NC_OK) {
            cli_error("cannot encode the verifier key");
            return CLI_FAIL;
        }
        if (ctx->json) {
            json_t *o = json_pack("{s:s, s:s}", "verifier_key", key, "origin", origin);
            if (!o)
                cli_oom();
            cli_print_json(o);
            json_decref(o);
        } else {
            printf("%s\n", key);
        }
        return CLI_OK;
    }
    nc_err err = cli_rpc_open(ctx, &rpc, msg, sizeof msg);
    if (err == NC_ERR_NOT_FOUND)
        return checkpoint_from_db(ctx, pk, origin);
    if (err != NC_OK) {
        print_error_msg(msg);
        return CLI_FAIL;
    }
    rc = cli_call(ctx, rpc, "audit.checkpoint", NULL, &res);
    nc_rpc_free(rpc);
    if (rc != CLI_OK)
        return rc;
    const char *note = cli_jstr(res, "note");
    nc_checkpoint cp;
    char inner[256];
    if (!note || nc_audit_checkpoint_parse(note, strlen(note), origin, pk, &cp, inner, sizeof inner) != NC_OK) {
        char *m = cli_safe(note ? inner : "no note in the answer");
        cli_error("the worker's checkpoint does not verify with keys/worker.pub: %s", m);
        free(m);
        rc = CLI_FAIL;
        goto done;
    }
    if (ctx->json) {
        if (json_object_set_new(res, "source", json_string("worker")) != 0)
            cli_oom();
        cli_print_json(res);
    } else {
        print_note(note);
    }
    rc = CLI_OK;
done:
    json_decref(res);
    return rc;
}

/* ---- output buffer for exports ---- */

typedef struct {
    nc_buf b;
    nc_err err;
} outbuf;

static void o_raw(outbuf *o, const char *s, size_t n)
{
    if (o->err == NC_OK)
        o->err = nc_buf_append(&o->b, s, n);
}

static void o_str(outbuf *o, const char *s)
{
    o_raw(o, s, strlen(s));
}

/* Trusted text only (numbers, our own words). */
static void o_fmt(outbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void o_fmt(outbuf *o, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        o_raw(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Anything from the log or the database. */
static void o_text(outbuf *o, const char *s)
{
    if (o->err == NC_OK)
        o->err = cli_html_escape(&o->b, s ? s : "", s ? strlen(s) : 0, false);
}

/* The same, keeping line breaks (inside <pre>). */
static void o_lines(outbuf *o, const char *s)
{
    if (o->err == NC_OK)
        o->err = cli_html_escape(&o->b, s ? s : "", s ? strlen(s) : 0, true);
}

static void o_json_line(outbuf *o, json_t *v /* stolen */)
{
    if (!v)
        cli_oom();
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(v);
    if (!s)
        cli_oom();
    o_str(o, s);
    o_str(o, "\n");
    free(s);
}

static void fmt_utc(int64_t t, char *out, size_t n)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t < 0 || !gmtime_r(&tt, &tm) || strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(out, n, "-");
}

/* ---- audit export ---- */

typedef struct {
    outbuf *o;
    uint64_t *count;
} export_ctx;

/* exactly the stored bytes (canonical JSON has no raw newline) */
static nc_err jsonl_line(const nc_auditlog_row *row, void *ctx)
{
    export_ctx *x = ctx;
    o_raw(x->o, (const char *)row->entry, row->len);
    o_str(x->o, "\n");
    (*x->count)++;
    return x->o->err;   /* full: stop, the caller says so */
}

static int export_jsonl(nc_db *db, outbuf *o, const nc_audit_report *rep, const char *anchor_path, uint64_t *count,
                        char *msg, size_t msg_len)
{
    char *note = NULL;
    uint64_t size = 0;
    int64_t created = 0;
    int rc = CLI_FAIL;
    const nc_auditlog_range all = {.entries = true};
    export_ctx x = {o, count};
    if (nc_auditlog_each(db, &all, jsonl_line, &x) != NC_OK && o->err == NC_OK) {
        snprintf(msg, msg_len, "cannot read the audit log: %s", nc_db_errmsg(db));
        goto done;
    }
    if (latest_checkpoint(db, &note, &size, &created, msg, msg_len) != CLI_OK)
        goto done;
    o_json_line(o, json_pack("{s:o, s:I}", "checkpoint", note ? json_string(note) : json_null(), "size",
                             (json_int_t)size));
    o_json_line(o, json_pack("{s:o}", "verify", report_json(rep, rep->error, anchor_path)));
    rc = CLI_OK;
done:
    free(note);
    return rc;
}

static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    /* no script, no network: even a mistake in escaping could not run or load anything */
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>Night Core audit log</title>\n<style>\n"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em 2em;color:#1f2328;background:#fff}\n"
    "h1{font-size:1.4em;margin:0 0 .6em}h2{font-size:1.1em;margin:1.6em 0 .5em}\n"
    ".status{padding:.8em 1em;border-radius:6px;font-size:1.25em;font-weight:600;margin-bottom:1em}\n"
    ".intact{background:#e6f4ea;color:#0d652d;border:1px solid #0d652d}\n"
    ".broken{background:#fce8e6;color:#a50e0e;border:1px solid #a50e0e}\n"
    ".status .why{display:block;font-size:.8em;font-weight:400;margin-top:.3em;word-break:break-word}\n"
    "dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1.2em;margin:0}dt{color:#59636e}dd{margin:0}\n"
    "pre,code,.mono{font-family:ui-monospace,'SFMono-Regular',Menlo,Consolas,monospace;font-size:.92em}\n"
    "pre{background:#f6f8fa;padding:.6em .8em;border-radius:6px;overflow-x:auto}\n"
    ".note{background:#fff8c5;border:1px solid #d4a72c;padding:.5em .8em;border-radius:6px}\n"
    "table{border-collapse:collapse;width:100%}\n"
    "th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #e5e7eb;vertical-align:top}\n"
    "th{position:sticky;top:0;background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    "td.detail{word-break:break-word;white-space:pre-wrap}\n"
    ".o{font-weight:600;padding:0 .4em;border-radius:4px}\n"
    ".c-ok .o{background:#e6f4ea;color:#0d652d}.c-warn .o{background:#fef7e0;color:#8a4b00}\n"
    ".c-bad .o{background:#fce8e6;color:#a50e0e}\n"
    "tr.c-bad{background:#fdf3f2}tr.c-warn{background:#fffbeb}\n"
    "tr.c-grant{background:#eaf1fe}tr.c-grant td.type{color:#1a56c4;font-weight:600}\n"
    "tr.c-withdraw{background:#f4ecfd}tr.c-withdraw td.type{color:#6b2fb3;font-weight:600}\n"
    "tr.c-bad td.type{color:#a50e0e;font-weight:600}\n"
    "tr.badrow td{border-top:2px solid #a50e0e;border-bottom:2px solid #a50e0e}\n"
    ".legend span{display:inline-block;margin-right:1em}\n"
    ".sw{display:inline-block;width:.9em;height:.9em;border-radius:2px;vertical-align:middle;margin-right:.3em}\n"
    "footer{margin-top:2em;color:#59636e;font-size:.9em}\n"
    "</style>\n</head>\n<body>\n";

static void html_report(outbuf *o, const nc_audit_report *rep, const char *anchor_path, const char *origin,
                        const char *key, const char *note, uint64_t cp_size, int64_t cp_created, uint64_t total,
                        uint64_t shown)
{
    char when[40], now[40];
    o_str(o, html_head);
    o_str(o, "<h1>Night Core audit log <span class=\"mono\">");
    o_text(o, origin);
    o_str(o, "</span></h1>\n");
    if (rep->ok) {
        o_fmt(o, "<div class=\"status intact\">Intact: %llu entries, %llu checkpoints",
              (unsigned long long)rep->entries, (unsigned long long)rep->checkpoints);
    } else {
        o_str(o, "<div class=\"status broken\">BROKEN");
        if (rep->bad_seq >= 0)
            o_fmt(o, " at entry %lld", (long long)rep->bad_seq);
        o_str(o, "<span class=\"why\">");
        o_text(o, rep->error);
        o_str(o, "</span>");
    }
    o_str(o, "</div>\n<dl>\n");
    o_fmt(o, "<dt>entries</dt><dd>%llu</dd>\n", (unsigned long long)total);
    o_fmt(o, "<dt>checkpoints</dt><dd>%llu</dd>\n", (unsigned long long)rep->checkpoints);
    if (rep->ok)
        o_fmt(o, "<dt>after the last checkpoint</dt><dd>%llu entries</dd>\n", (unsigned long long)rep->unsigned_tail);
    o_str(o, "<dt>anchor</dt><dd>");
    if (anchor_path && anchor_path[0]) {
        o_str(o, "<code>");
        o_text(o, anchor_path);
        o_str(o, "</code>");
    } else {
        o_str(o, "none (truncation of the newest entries would not be detected)");
    }
    o_str(o, "</dd>\n<dt>verifier key</dt><dd><code>");
    o_text(o, key);
    o_str(o, "</code></dd>\n");
    fmt_utc((int64_t)time(NULL), now, sizeof now);
    o_fmt(o, "<dt>exported</dt><dd>%s UTC</dd>\n</dl>\n", now);

    o_str(o, "<h2>Latest checkpoint</h2>\n");
    if (note) {
        fmt_utc(cp_created, when, sizeof when);
        o_fmt(o, "<p>%llu entries, signed %s UTC</p>\n<pre>", (unsigned long long)cp_size, when);
        o_lines(o, note);
        o_str(o, "</pre>\n");
    } else {
        o_str(o, "<p>none yet</p>\n");
    }

    o_str(o, "<h2>Timeline, newest first</h2>\n");
    if (shown < total)
        o_fmt(o, "<p class=\"note\">Showing the newest %llu of %llu entries (the page is capped at %d); "
                 "<code>nightcore audit export --format jsonl</code> has all of them.</p>\n",
              (unsigned long long)shown, (unsigned long long)total, HTML_MAX_ENTRIES);
    o_str(o, "<p class=\"legend\"><span><i class=\"sw\" style=\"background:#0d652d\"></i>ok</span>"
             "<span><i class=\"sw\" style=\"background:#d18f00\"></i>exit, trap, timeout, fuel, memory, output limit, "
             "interrupted</span><span><i class=\"sw\" style=\"background:#a50e0e\"></i>crash, refused</span>"
             "<span><i class=\"sw\" style=\"background:#1a56c4\"></i>approval, trust added</span>"
             "<span><i class=\"sw\" style=\"background:#6b2fb3\"></i>rejection, revocation, trust revoked</span></p>\n");
    o_str(o, "<table>\n<thead><tr><th>#</th><th>time (UTC)</th><th>type</th><th>name</th><th>sha256</th>"
             "<th>outcome</th><th>details</th></tr></thead>\n<tbody>\n");
}

static void html_row(outbuf *o, int64_t seq, const void *entry, size_t len, int64_t bad_seq)
{
    cli_audit_desc d;
    char when[40];
    cli_audit_describe(entry, len, &d);
    fmt_utc(d.time, when, sizeof when);
    o_fmt(o, "<tr class=\"c-%s%s\"><td class=\"num\">%lld</td><td class=\"mono\">%s</td><td class=\"type\">",
          cli_audit_class_name(d.cls), seq == bad_seq ? " badrow" : "", (long long)seq, when);
    o_text(o, d.type);
    o_str(o, "</td><td>");
    o_text(o, d.name);
    o_str(o, "</td><td class=\"mono\">");
    o_text(o, d.sha);
    o_str(o, "</td><td>");
    if (d.outcome[0]) {
        o_str(o, "<span class=\"o\">");
        o_text(o, d.outcome);
        o_str(o, "</span>");
    }
    o_str(o, "</td><td class=\"detail\">");
    o_text(o, d.detail);
    if (d.detail[0] && d.ids[0])
        o_str(o, " &middot; ");
    o_str(o, "<span class=\"mono\">");
    o_text(o, d.ids);
    o_str(o, "</span></td></tr>\n");
}

typedef struct {
    outbuf *o;
    uint64_t *count;
    int64_t bad_seq;
} html_ctx;

static nc_err html_line(const nc_auditlog_row *row, void *ctx)
{
    html_ctx *x = ctx;
    html_row(x->o, row->seq, row->entry, row->len, x->bad_seq);
    (*x->count)++;
    return x->o->err;   /* full: stop, the caller says so */
}

static int export_html(nc_db *db, outbuf *o, const nc_audit_report *rep, const char *anchor_path, const char *origin,
                       const uint8_t *pk, uint64_t *count, char *msg, size_t msg_len)
{
    char *note = NULL, key[256] = "";
    uint64_t cp_size = 0, total = 0;
    int64_t created = 0;
    int rc = CLI_FAIL;
    if (nc_audit_verifier_key(origin, pk, key, sizeof key) != NC_OK)
        key[0] = '\0';
    if (latest_checkpoint(db, &note, &cp_size, &created, msg, msg_len) != CLI_OK)
        goto done;
    if (nc_auditlog_count(db, &total) != NC_OK) {
        snprintf(msg, msg_len, "cannot read the audit log: %s", nc_db_errmsg(db));
        goto done;
    }
    uint64_t shown = total < HTML_MAX_ENTRIES ? total : HTML_MAX_ENTRIES;
    html_report(o, rep, anchor_path, origin, key, note, cp_size, created, total, shown);
    const nc_auditlog_range newest = {.limit = HTML_MAX_ENTRIES, .newest = true, .newest_first = true, .entries = true};
    html_ctx x = {o, count, rep->ok ? -1 : rep->bad_seq};
    if (nc_auditlog_each(db, &newest, html_line, &x) != NC_OK && o->err == NC_OK) {
        snprintf(msg, msg_len, "cannot read the audit log: %s", nc_db_errmsg(db));
        goto done;
    }
    if (total == 0)
        o_str(o, "<tr><td colspan=\"7\">The log is empty.</td></tr>\n");
    o_str(o, "</tbody>\n</table>\n<footer>Exported by <code>nightcore audit export</code>. Check the log itself with "
             "<code>nightcore audit verify</code>: this page only reports what that check found when it was "
             "written.</footer>\n</body>\n</html>\n");
    rc = CLI_OK;
done:
    free(note);
    return rc;
}

int cmd_audit_export(cli_ctx *ctx, const cli_args *a)
{
    const char *format = cli_val(a, AUDIT_EXPORT_FORMAT), *out = cli_val(a, AUDIT_EXPORT_OUT);
    uint8_t pk[NC_WORKER_PK_LEN], *anchor = NULL;
    size_t anchor_len = 0;
    char origin[ORIGIN_MAX], anchor_path[4096] = "", msg[1024] = "";
    nc_db *db = NULL;
    nc_audit_report rep;
    uint64_t count = 0;
    outbuf o;
    memset(&o, 0, sizeof o);

    if (!format || (strcmp(format, "jsonl") != 0 && strcmp(format, "html") != 0))
        return cli_usage_error(a->cmd, "--format must be jsonl or html");
    if (!out || !out[0])
        return cli_usage_error(a->cmd, "--out FILE is required");
    bool html = strcmp(format, "html") == 0;
    nc_buf_init(&o.b, html ? HTML_MAX_BYTES : JSONL_MAX_BYTES);

    int rc = audit_key(ctx, pk, origin, msg, sizeof msg);
    if (rc == CLI_OK)
        rc = load_anchor(ctx, NULL, anchor_path, sizeof anchor_path, &anchor, &anchor_len, msg, sizeof msg);
    if (rc == CLI_OK)
        rc = open_db(ctx, &db, msg, sizeof msg);
    if (rc == CLI_OK && !snapshot_begin(db)) {
        snprintf(msg, sizeof msg, "cannot read the database: %s", nc_db_errmsg(db));
        rc = CLI_FAIL;
    }
    /* the report and the exported entries come from the same snapshot */
    if (rc == CLI_OK)
        rc = run_verify(db, origin, pk, anchor, anchor_len, &rep, msg, sizeof msg);
    if (rc == CLI_OK)
        rc = html ? export_html(db, &o, &rep, anchor_path, origin, pk, &count, msg, sizeof msg)
                  : export_jsonl(db, &o, &rep, anchor_path, &count, msg, sizeof msg);
    if (db)
        snapshot_end(db);
    if (rc != CLI_OK) {
        print_error_msg(msg);
        goto done;
    }
    char *p = cli_safe(out);
    if (o.err != NC_OK) {
        cli_error("the export is larger than %s: nothing written", html ? "512 MiB" : "4 GiB");
        rc = CLI_FAIL;
    } else if (nc_write_file_atomic(out, o.b.data ? (const void *)o.b.data : "", o.b.len, 0600) != NC_OK) {
        int e = errno;
        cli_error("cannot write %s: %s", p, e ? strerror(e) : "input/output error");
        rc = CLI_FAIL;
    } else {
        char *err = cli_safe(rep.error);
        if (rep.ok)
            cli_note("wrote %s (%s, %llu entries); audit log intact", p, format, (unsigned long long)count);
        else if (rep.bad_seq >= 0)
            cli_note("wrote %s (%s, %llu entries); audit log BROKEN at entry %lld: %s", p, format,
                     (unsigned long long)count, (long long)rep.bad_seq, err);
        else
            cli_note("wrote %s (%s, %llu entries); audit log BROKEN: %s", p, format, (unsigned long long)count, err);
        free(err);
        rc = rep.ok ? CLI_OK : CLI_FAIL;
    }
    free(p);
done:
    nc_buf_cleanup(&o.b);
    nc_db_close(db);
    free(anchor);
    return rc;
}

/* ---- audit tail ---- */

/* An entry as JSON for a terminal: the stored bytes when they are printable
 * ASCII, else the same JSON with every non-ASCII character escaped. */
static void print_entry_json(const void *entry, size_t len)
{
    const unsigned char *p = entry;
    bool plain = true;
    for (size_t i = 0; i < len && plain; i++)
        plain = p[i] >= 0x20 && p[i] < 0x7f;
    if (plain) {
        fwrite(entry, 1, len, stdout);
        fputc('\n', stdout);
        return;
    }
    json_t *v = NULL;
    if (nc_json_parse_strict(entry, len, &v, NULL, 0) == NC_OK) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
        json_decref(v);
        if (s) {
            printf("%s\n", s);
            free(s);
            return;
        }
    }
    /* not JSON at all (a damaged log): show it escaped, as a JSON string */
    json_t *s = json_stringn_nocheck((const char *)entry, len);
    char *d = s ? json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
    json_decref(s);
    char *safe = cli_safe(d ? d : "\"(unreadable entry)\"");
    printf("%s\n", safe);
    free(safe);
    free(d);
}

static void print_entry_line(int64_t seq, const void *entry, size_t len)
{
    cli_audit_desc d;
    char when[40];
    cli_audit_describe(entry, len, &d);
    fmt_utc(d.time, when, sizeof when);
    char sha[32] = "";
    if (d.sha[0])
        snprintf(sha, sizeof sha, "sha256 %s", d.sha);
    const char *parts[] = {d.type, d.name, d.outcome, d.detail, sha, d.ids};
    printf("%s  #%lld", when, (long long)seq);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (!parts[i][0])
            continue;
        char *s = cli_safe(parts[i]);
        printf("  %s", s);
        free(s);
    }
    printf("\n");
}

typedef struct {
    bool json;
    int64_t *last;
} tail_ctx;

static nc_err tail_line(const nc_auditlog_row *row, void *ctx)
{
    tail_ctx *t = ctx;
    if (t->json)
        print_entry_json(row->entry, row->len);
    else
        print_entry_line(row->seq, row->entry, row->len);
    if (row->seq > *t->last)
        *t->last = row->seq;
    return NC_OK;
}

/* Prints entries with seq > *last (all of the newest `limit` when first),
 * oldest first; *last gets the newest printed. */
static int tail_batch(nc_db *db, bool json, bool first, uint64_t limit, int64_t *last, char *msg, size_t msg_len)
{
    nc_auditlog_range range = {.limit = limit, .entries = true};
    if (first)
        range.newest = true;
    else
        range.from = (uint64_t)(*last + 1);
    if (limit == 0)
        return CLI_OK;   /* a limit of 0 would mean all of them */
    tail_ctx t = {json, last};
    if (nc_auditlog_each(db, &range, tail_line, &t) != NC_OK) {
        snprintf(msg, msg_len, "cannot read the audit log: %s", nc_db_errmsg(db));
        return CLI_FAIL;
    }
    return CLI_OK;
}

int cmd_audit_tail(cli_ctx *ctx, const cli_args *a)
{
    uint64_t n = 20;
    char msg[1024];
    nc_db *db = NULL;
    int64_t last = -1;
    if (cli_has(a, AUDIT_TAIL_N) && !cli_parse_u64(cli_val(a, AUDIT_TAIL_N), 0, TAIL_MAX_LINES, &n))
        return cli_usage_error(a->cmd, "-n must be a whole number from 0 to %u", TAIL_MAX_LINES);
    int rc = open_db(ctx, &db, msg, sizeof msg);
    if (rc == CLI_OK)
        rc = tail_batch(db, ctx->json, true, n, &last, msg, sizeof msg);
    if (rc == CLI_OK && n == 0 && last < 0) {
        /* -n 0: start after the newest entry */
        uint64_t newest;
        nc_err err = nc_auditlog_last_seq(db, &newest);
        if (err == NC_OK)
            last = (int64_t)newest;
        else if (err != NC_ERR_NOT_FOUND) {
            snprintf(msg, sizeof msg, "cannot read the audit log: %s", nc_db_errmsg(db));
            rc = CLI_FAIL;
        }
    }
    while (rc == CLI_OK && cli_has(a, AUDIT_TAIL_FOLLOW)) {
        if (fflush(stdout) != 0)
            break;   /* the reader went away */
        struct timespec ts = {0, TAIL_POLL_NS};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        rc = tail_batch(db, ctx->json, false, 1000, &last, msg, sizeof msg);
    }
    if (rc != CLI_OK)
        print_error_msg(msg);
    nc_db_close(db);
    return rc;
}

/* ---- runs show RUN --receipt ---- */

static void receipt_line(const char *label, const json_t *e, const char *key)
{
    const json_t *v = json_object_get(e, key);
    if (!v)
        return;
    char *s = json_is_string(v) ? cli_safe(json_string_value(v)) : cli_json_compact(v);
    printf("%-13s%s\n", label, s);
    free(s);
}

static void print_receipt(const json_t *e, const nc_checkpoint *cp, uint64_t seq)
{
    static const char *const shown[] = {"seq",          "time",         "type",          "run",          "name",
                                        "module_sha256", "approval_id", "capability_digest", "args_sha256",
                                        "stdin_sha256", "stdout_sha256", "stderr_sha256", "outcome",    "exit_code",
                                        "limits_hit",   "threat_score", "denied_calls",  NULL};
    char when[40], root[NC_SHA256_HEX_LEN + 1];
    cli_fmt_time(cli_jint(e, "time", 0), when, sizeof when);
    char *run = cli_safe(cli_jstr(e, "run"));
    printf("%-13srun %s, audit entry #%llu, %s\n", "receipt", run, (unsigned long long)seq, when);
    free(run);
    receipt_line("module", e, "name");
    receipt_line("sha256", e, "module_sha256");
    receipt_line("approval", e, "approval_id");
    receipt_line("capabilities", e, "capability_digest");
    receipt_line("args", e, "args_sha256");
    receipt_line("stdin", e, "stdin_sha256");
    receipt_line("stdout", e, "stdout_sha256");
    receipt_line("stderr", e, "stderr_sha256");
    const char *outcome = cli_jstr(e, "outcome");
    const json_t *ec = json_object_get(e, "exit_code");
    char *o = cli_safe(outcome ? outcome : "?");
    if (json_is_integer(ec))
        printf("%-13s%s (exit %lld)\n", "outcome", o, (long long)json_integer_value(ec));
    else
        printf("%-13s%s\n", "outcome", o);
    free(o);
    const json_t *lh = json_object_get(e, "limits_hit");
    if (json_is_array(lh)) {
        printf("%-13s", "limits hit");
        if (!json_array_size(lh))
            printf("none");
        for (size_t i = 0; i < json_array_size(lh); i++) {
            char *s = cli_safe(json_string_value(json_array_get(lh, i)));
            printf("%s%s", i ? ", " : "", s);
            free(s);
        }
        printf("\n");
    }
    receipt_line("denied calls", e, "denied_calls");
    receipt_line("threat score", e, "threat_score");
    /* whatever else the entry records */
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)e, k, v) {
        bool known = false;
        for (const char *const *s = shown; *s && !known; s++)
            known = strcmp(*s, k) == 0;
        if (!known) {
            char *ks = cli_safe(k);
            char label[64];
            snprintf(label, sizeof label, "%.60s", ks);
            receipt_line(label, e, k);
            free(ks);
        }
    }
    nc_hex(cp->root, sizeof cp->root, root);
    printf("%-13s%llu entries, root %s\n", "checkpoint", (unsigned long long)cp->size, root);
    printf("inclusion proof verified against checkpoint of size %llu\n", (unsigned long long)cp->size);
}

int cmd_runs_receipt(cli_ctx *ctx, const cli_args *a)
{
    const char *id = a->pos[0];
    uint8_t pk[NC_WORKER_PK_LEN];
    char origin[ORIGIN_MAX], msg[1024];
    json_t *res = NULL, *entry = NULL;
    nc_checkpoint cp;
    if (!cli_id_ok(id))
        return cli_usage_error(a->cmd, "RUN must be a run id (see `nightcore runs`)");
    int rc = audit_key(ctx, pk, origin, msg, sizeof msg);
    if (rc != CLI_OK) {
        print_error_msg(msg);
        return rc;
    }
    json_t *params = json_pack("{s:s}", "run", id);
    if (!params)
        cli_oom();
    rc = cli_request(ctx, "run.receipt", params, &res);
    if (rc != CLI_OK)
        return rc;
    bool verified = cli_receipt_verify(res, id, origin, pk, &cp, &entry, msg, sizeof msg) == NC_OK;
    if (ctx->json) {
        if (json_object_set_new(res, "verified", json_boolean(verified)) != 0 ||
            (!verified && json_object_set_new(res, "verify_error", json_string(msg)) != 0))
            cli_oom();
        cli_print_json(res);
    } else if (verified) {
        print_receipt(entry, &cp, (uint64_t)cli_jint(res, "seq", 0));
    }
    if (!verified) {
        char *m = cli_safe(msg);
        cli_error("receipt NOT verified: %s", m);
        free(m);
    }
    json_decref(entry);
    json_decref(res);
    return verified ? CLI_OK : CLI_FAIL;
}
