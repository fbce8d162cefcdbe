/* Helpers shared by the nightcore commands: safe printing, tables, times,
 * files, the worker connection. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli/cli.h"
#include "approver/approver.h"
#include "common/fs.h"
#include "common/json.h"

/* ---- memory ---- */

void cli_oom(void)
{
    fputs("nightcore: out of memory\n", stderr);
    exit(CLI_FAIL);
}

void *cli_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        cli_oom();
    return p;
}

char *cli_xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        cli_oom();
    return p;
}

/* ---- arguments ---- */

bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    *out = 0;
    if (!s || s[0] < '0' || s[0] > '9')
        return false;   /* no sign, no space, no empty string */
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || !end || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool cli_parse_duration(const char *s, uint64_t max_s, uint64_t *out)
{
    *out = 0;
    if (!s || !s[0])
        return false;
    size_t n = strlen(s);
    uint64_t unit = 1;
    char digits[32];
    char last = s[n - 1];
    if (last == 's' || last == 'm' || last == 'h' || last == 'd') {
        unit = last == 's' ? 1 : last == 'm' ? 60 : last == 'h' ? 3600 : 86400;
        n--;
    }
    if (n == 0 || n >= sizeof digits)
        return false;
    memcpy(digits, s, n);
    digits[n] = '\0';
    uint64_t v;
    if (!cli_parse_u64(digits, 1, max_s, &v) || v > max_s / unit)
        return false;
    *out = v * unit;
    return true;
}

/* ---- safe text ---- */

/* Decodes one UTF-8 sequence strictly (no overlongs, surrogates or values
 * above U+10FFFF). Returns its length, 0 if invalid. */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    size_t len;
    uint32_t c, min;
    if ((p[0] & 0xe0) == 0xc0) {
        len = 2;
        c = p[0] & 0x1f;
        min = 0x80;
    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3;
        c = p[0] & 0x0f;
        min = 0x800;
    } else if ((p[0] & 0xf8) == 0xf0) {
        len = 4;
        c = p[0] & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* Code points that move or hide text on a terminal: C1 controls, bidi
 * controls, zero-width and other invisible format characters, line/paragraph
 * separators, interlinear annotations, tags. */
static bool invisible(uint32_t c)
{
    return (c >= 0x80 && c <= 0x9f) || c == 0xad || c == 0x61c || c == 0x180e || (c >= 0x200b && c <= 0x200f) ||
           (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x206f) || c == 0xfeff ||
           (c >= 0xfff9 && c <= 0xfffb) || (c >= 0xe0000 && c <= 0xe007f);
}

char *cli_safe_ex(const char *s, size_t len, bool multiline)
{
    /* Worst case: every byte becomes "\xNN"; a code point escape "\u{NNNNN}"
     * (at most 9 characters) replaces at least 2 bytes. */
    if (len > (SIZE_MAX - 1) / 5)
        cli_oom();
    char *out = cli_xmalloc(len * 5 + 1), *o = out;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char b = p[i];
        if (b >= 0x20 && b < 0x7f) {
            *o++ = (char)b;
            i++;
            continue;
        }
        if (b == '\n' || b == '\t') {
            if (multiline) {
                *o++ = (char)b;
            } else {
                *o++ = '\\';
                *o++ = b == '\n' ? 'n' : 't';
            }
            i++;
            continue;
        }
        if (b == '\r') {
            *o++ = '\\';
            *o++ = 'r';
            i++;
            continue;
        }
        uint32_t cp = 0;
        size_t n = b >= 0x80 ? utf8_decode(p + i, len - i, &cp) : 0;
        if (n == 0) {
            o += snprintf(o, 5, "\\x%02x", b);
            i++;
            continue;
        }
        if (invisible(cp)) {
            o += snprintf(o, 10, "\\u{%04x}", (unsigned)cp);
        } else {
            memcpy(o, p + i, n);
            o += n;
        }
        i += n;
    }
    *o = '\0';
    return out;
}

char *cli_safe(const char *s)
{
    if (!s)
        return cli_xstrdup("");
    return cli_safe_ex(s, strlen(s), false);
}

void cli_put_safe(FILE *f, const char *s)
{
    char *t = cli_safe(s);
    fputs(t, f);
    free(t);
}

size_t cli_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xc0) != 0x80)
            w++;
    return w;
}

/* ---- messages ---- */

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("nightcore: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void cli_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- formatting ---- */

void cli_fmt_span(uint64_t s, char *out, size_t n)
{
    static const struct {
        uint64_t secs;
        char unit;
    } u[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
    if (s == 0) {
        snprintf(out, n, "0s");
        return;
    }
    for (size_t i = 0; i < 4; i++) {
        if (s < u[i].secs)
            continue;
        uint64_t a = s / u[i].secs, rest = s % u[i].secs;
        if (i < 3 && rest >= u[i + 1].secs)
            snprintf(out, n, "%llu%c %llu%c", (unsigned long long)a, u[i].unit,
                     (unsigned long long)(rest / u[i + 1].secs), u[i + 1].unit);
        else
            snprintf(out, n, "%llu%c", (unsigned long long)a, u[i].unit);
        return;
    }
}

void cli_fmt_age(int64_t t, char *out, size_t n)
{
    if (t <= 0) {
        snprintf(out, n, "-");
        return;
    }
    int64_t now = (int64_t)time(NULL), d = now - t;
    uint64_t a = d < 0 ? (uint64_t)(-d) : (uint64_t)d;
    char span[32];
    uint64_t unit = a < 60 ? 1 : a < 3600 ? 60 : a < 86400 ? 3600 : 86400;
    char uc = a < 60 ? 's' : a < 3600 ? 'm' : a < 86400 ? 'h' : 'd';
    snprintf(span, sizeof span, "%llu%c", (unsigned long long)(a / unit), uc);
    if (a < 2)
        snprintf(out, n, "just now");
    else if (d < 0)
        snprintf(out, n, "in %s", span);
    else
        snprintf(out, n, "%s ago", span);
}

void cli_fmt_size(uint64_t b, char *out, size_t n)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (b < 1024) {
        snprintf(out, n, "%llu B", (unsigned long long)b);
        return;
    }
    uint64_t div = 1024;
    size_t i = 0;
    while (i + 1 < 4 && b / div >= 1024) {
        div *= 1024;
        i++;
    }
    uint64_t whole = b / div, tenth = (b % div) * 10 / div;
    if (tenth)
        snprintf(out, n, "%llu.%llu %s", (unsigned long long)whole, (unsigned long long)tenth, units[i]);
    else
        snprintf(out, n, "%llu %s", (unsigned long long)whole, units[i]);
}

void cli_fmt_time(int64_t t, char *out, size_t n)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t <= 0 || !gmtime_r(&tt, &tm) || strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(out, n, "-");
}

/* ---- tables ---- */

void cli_table_init(cli_table *t, size_t ncols, const char *const *headers, unsigned right_align)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    t->headers = headers;
    t->right = right_align;
}

void cli_table_add(cli_table *t, ...)
{
    va_list ap;
    if (t->nrows == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        if (ncap > SIZE_MAX / sizeof(char *) / t->ncols)
            cli_oom();
        char **c = realloc(t->cells, ncap * t->ncols * sizeof *c);
        if (!c)
            cli_oom();
        t->cells = c;
        t->cap = ncap;
    }
    va_start(ap, t);
    for (size_t i = 0; i < t->ncols; i++) {
        const char *s = va_arg(ap, const char *);
        t->cells[t->nrows * t->ncols + i] = cli_safe(s && s[0] ? s : "-");
    }
    va_end(ap);
    t->nrows++;
}

void cli_table_print(const cli_table *t, FILE *f)
{
    size_t w[16] = {0};
    size_t ncols = t->ncols < 16 ? t->ncols : 16;
    for (size_t c = 0; c < ncols; c++) {
        w[c] = strlen(t->headers[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t cw = cli_width(t->cells[r * t->ncols + c]);
            if (cw > w[c])
                w[c] = cw;
        }
    }
    for (size_t r = 0; r <= t->nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *s = r == 0 ? t->headers[c] : t->cells[(r - 1) * t->ncols + c];
            size_t pad = w[c] - cli_width(s);
            bool last = c + 1 == ncols;
            if (t->right & (1u << c))
                fprintf(f, "%*s%s", (int)pad, "", s);
            else
                fprintf(f, "%s%*s", s, last ? 0 : (int)pad, "");
            if (!last)
                fputs("  ", f);
        }
        fputc('\n', f);
    }
}

void cli_table_cleanup(cli_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

/* ---- JSON ---- */

const char *cli_jstr(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t cli_jint(const json_t *o, const char *key, int64_t def)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

bool cli_jbool(const json_t *o, const char *key)
{
    return json_is_true(json_object_get(o, key));
}

void cli_print_json(const json_t *v)
{
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    fputc('\n', stdout);
}

char *cli_json_compact(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    if (!s)
        return cli_xstrdup("?");
    char *t = cli_safe(s);
    free(s);
    return t;
}

/* ---- home, files ---- */

int cli_home(cli_ctx *ctx)
{
    if (ctx->home_resolved)
        return CLI_OK;
    char msg[512] = "";
    nc_err err = nc_home_resolve_ex(ctx->home_override, &ctx->home, msg, sizeof msg);
    if (msg[0]) {
        char *m = cli_safe(msg);
        cli_error("%s", m);
        free(m);
        return CLI_FAIL;
    }
    if (err == NC_ERR_TOO_LARGE) {
        cli_error("the home path is too long: choose a shorter --home or $NIGHTCORE_HOME");
        return CLI_FAIL;
    }
    if (err != NC_OK) {
        cli_error("cannot find the Night Core home: set $NIGHTCORE_HOME or pass --home DIR");
        return CLI_FAIL;
    }
    ctx->home_resolved = true;
    return CLI_OK;
}

int cli_home_path(cli_ctx *ctx, const char *rel, char *out, size_t n)
{
    int rc = cli_home(ctx);
    if (rc != CLI_OK)
        return rc;
    if (nc_home_path(&ctx->home, rel, out, n) != NC_OK) {
        cli_error("the home path is too long: choose a shorter --home or $NIGHTCORE_HOME");
        return CLI_FAIL;
    }
    return CLI_OK;
}

int cli_read_file(const char *path, size_t max, const char *what, uint8_t **data, size_t *len)
{
    /* "-": this program's stdin */
    nc_err err = strcmp(path, "-") == 0 ? nc_read_fd(STDIN_FILENO, max, data, len) : nc_read_file(path, max, data, len);
    if (err == NC_OK)
        return CLI_OK;
    int e = errno;
    char *p = cli_safe(path), size[32];
    cli_fmt_size(max, size, sizeof size);
    if (err == NC_ERR_NOT_FOUND)
        cli_error("%s: no such file", p);
    else if (err == NC_ERR_TOO_LARGE)
        cli_error("%s is larger than %s, the limit for %s", p, size, what);
    else if (err == NC_ERR_NOMEM)
        cli_error("out of memory reading %s", p);
    else
        cli_error("cannot read %s: %s", p, e ? strerror(e) : nc_strerror(err));
    free(p);
    return CLI_FAIL;
}

int cli_config_load(cli_ctx *ctx, json_t **cfg)
{
    char msg[512];
    *cfg = NULL;
    int rc = cli_home(ctx);
    if (rc != CLI_OK)
        return rc;
    nc_err err = nc_approver_config_load(ctx->home.config, cfg, msg, sizeof msg);
    if (err == NC_ERR_NOMEM)
        cli_oom();
    if (err != NC_OK) {
        char *m = cli_safe(msg);
        cli_error("%s", m);
        free(m);
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* ---- the worker ---- */

nc_err cli_rpc_open(cli_ctx *ctx, nc_rpc **rpc, char *msg, size_t msg_len)
{
    char path[4096];
    *rpc = NULL;
    if (cli_home(ctx) != CLI_OK) {
        snprintf(msg, msg_len, "no home");
        return NC_ERR_USAGE;
    }
    if (nc_home_socket(&ctx->home, NC_CONTROL_SOCK, path, sizeof path) != NC_OK) {
        snprintf(msg, msg_len, "the home path is too long for a socket");
        return NC_ERR_TOO_LARGE;
    }
    return nc_rpc_connect_as(path, ctx->home.worker_uid, rpc, msg, msg_len);
}

int cli_connect(cli_ctx *ctx, nc_rpc **rpc)
{
    char msg[512];
    *rpc = NULL;
    int rc = cli_home(ctx);
    if (rc != CLI_OK)
        return rc;
    nc_err err = cli_rpc_open(ctx, rpc, msg, sizeof msg);
    if (err == NC_OK)
        return CLI_OK;
    if (err == NC_ERR_NOT_FOUND) {
        if (ctx->home.service)
            cli_error("worker not running: start it with `sudo systemctl start nightcore-worker` or "
                      "`sudo nightcore system start`");
        else
            cli_error("worker not running: start it with `nightcore worker start`");
    } else {
        char *m = cli_safe(msg);
        cli_error("%s", m);
        free(m);
    }
    return CLI_FAIL;
}

/* The worker could not do it (as opposed to refusing to): exit 1. */
static bool failure_code(const char *code)
{
    static const char *const failures[] = {"not_found", "internal", "no_space", "corrupt", NULL};
    for (const char *const *f = failures; *f; f++)
        if (strcmp(code, *f) == 0)
            return true;
    return false;
}

int cli_refusal_exit(const char *code)
{
    return failure_code(code) ? CLI_FAIL : CLI_REFUSED;
}

int cli_call(cli_ctx *ctx, nc_rpc *rpc, const char *op, json_t *params, json_t **result)
{
    return cli_call_events(ctx, rpc, op, params, NULL, 0, NULL, NULL, result);
}

int cli_call_events(cli_ctx *ctx, nc_rpc *rpc, const char *op, json_t *params, const uint8_t *in_data,
                    size_t in_len, nc_rpc_event_fn on_event, void *ev_ctx, json_t **result)
{
    nc_rpc_error rerr;
    nc_err err = nc_rpc_call_events(rpc, op, params, in_data, in_len, on_event, ev_ctx, result, &rerr);
    ctx->refusal[0] = '\0';
    if (err == NC_RPC_REFUSED)
        snprintf(ctx->refusal, sizeof ctx->refusal, "%s", rerr.code);
    if (err == NC_OK)
        return CLI_OK;
    if (err == NC_RPC_REFUSED) {
        if (ctx->json) {
            json_t *o = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", rerr.code, "message",
                                  rerr.message);
            if (!o)
                cli_oom();
            json_dumpf(o, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
            fputc('\n', stdout);
            json_decref(o);
        } else {
            char *c = cli_safe(rerr.code), *m = cli_safe(rerr.message[0] ? rerr.message : rerr.code);
            if (strcmp(rerr.code, "not_found") == 0)
                cli_error("not found: %s", m);
            else if (failure_code(rerr.code))
                cli_error("failed (%s): %s", c, m);
            else
                cli_error("refused (%s): %s", c, m);
            free(c);
            free(m);
        }
        return cli_refusal_exit(rerr.code);
    }
    char *m = cli_safe(rerr.message[0] ? rerr.message : nc_strerror(err));
    cli_error("talking to the worker (%s): %s", op, m);
    free(m);
    return CLI_FAIL;
}

int cli_request(cli_ctx *ctx, const char *op, json_t *params, json_t **result)
{
    nc_rpc *rpc = NULL;
    *result = NULL;
    int rc = cli_connect(ctx, &rpc);
    if (rc != CLI_OK) {
        json_decref(params);
        return rc;
    }
    rc = cli_call(ctx, rpc, op, params, result);
    nc_rpc_free(rpc);
    return rc;
}

int cli_list_request(cli_ctx *ctx, const char *op, json_t *params, const char *empty_msg, json_t **result)
{
    json_t *res = NULL;
    *result = NULL;
    int rc = cli_request(ctx, op, params, &res);
    if (rc != CLI_OK)
        return rc;
    if (ctx->json)
        cli_print_json(res);
    else if (json_array_size(json_object_get(res, "items")) == 0)
        fputs(empty_msg, stdout);
    else {
        *result = res;
        return CLI_OK;
    }
    json_decref(res);
    return CLI_OK;
}

/* ---- trust, as status and doctor show it ---- */

const char *cli_protection_words(const char *protection)
{
    if (!protection)
        return "unknown";
    if (strcmp(protection, "fido") == 0)
        return "security key: a touch on every signature";
    if (strcmp(protection, "passphrase") == 0)
        return "key file with a passphrase";
    if (strcmp(protection, "none") == 0)
        return "KEY FILE WITHOUT A PASSPHRASE: any process of its user can sign";
    return "not in this home (ssh-agent or elsewhere): cannot tell";
}

void cli_print_trust_summary(const json_t *trust)
{
    if (!json_is_object(trust))
        return;
    const json_t *keys = json_object_get(trust, "keys");
    const char *problem = cli_jstr(trust, "problem");
    if (!cli_jbool(trust, "root") || cli_jint(trust, "active_keys", 0) == 0)
        printf("approvers  none yet: nothing can be approved. On a terminal: `nightcore init --generate-key`;\n"
               "           or an existing OpenSSH or FIDO key: `nightcore init --approver-key ~/.ssh/id_ed25519_sk.pub`\n");
    for (size_t i = 0; i < json_array_size(keys); i++) {
        const json_t *k = json_array_get(keys, i);
        if (cli_jbool(k, "revoked"))
            continue;
        const json_t *pr = json_object_get(k, "principals");
        char *p = cli_safe(json_string_value(json_array_get(pr, 0))), *fp = cli_safe(cli_jstr(k, "fingerprint"));
        printf("approver   %s %s%s: %s\n", p, fp, cli_jbool(k, "admin") ? " (admin)" : "",
               cli_protection_words(cli_jstr(k, "protection")));
        free(p);
        free(fp);
    }
    if (problem) {
        char *m = cli_safe(problem);
        printf("TRUST      %s\n", m);
        free(m);
    }
}
