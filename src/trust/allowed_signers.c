#include "trust/allowed_signers.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nc_allowed_signers {
    char *text;                  /* copy of the file; entries' strings point into it */
    nc_allowed_signer *entries;
    size_t n, cap;
};

struct nc_revoked_keys {
    nc_sshkey *keys;
    size_t n, cap;
};

typedef struct {
    size_t off, len;
} span;

/* Where a parse is: the file's name for messages, the line, the error buffer. */
typedef struct {
    const char *file;
    size_t lineno;
    char *errbuf;
    size_t errbuf_len;
} parse_ctx;

__attribute__((format(printf, 2, 3))) static nc_err fail(parse_ctx *c, const char *fmt, ...)
{
    if (c->errbuf != NULL && c->errbuf_len > 0) {
        int n = c->lineno ? snprintf(c->errbuf, c->errbuf_len, "%s:%zu: ", c->file, c->lineno)
                          : snprintf(c->errbuf, c->errbuf_len, "%s: ", c->file);
        if (n >= 0 && (size_t)n < c->errbuf_len) {
            va_list ap;
            va_start(ap, fmt);
            (void)vsnprintf(c->errbuf + n, c->errbuf_len - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return NC_ERR_TRUST_FILE;
}

/* File bytes echoed in a message: printable ASCII only, at most 40 of them. */
#define SHOW_LEN 48
static const char *show(const char *p, size_t n, char out[SHOW_LEN])
{
    size_t o = 0;
    for (size_t i = 0; i < n && o < 40; i++) {
        unsigned char ch = (unsigned char)p[i];
        out[o++] = (ch >= 0x20 && ch < 0x7f && ch != '"') ? (char)ch : '?';
    }
    if (n > 40) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static bool span_is(const char *text, span s, const char *word)
{
    size_t n = strlen(word);
    return s.len == n && memcmp(text + s.off, word, n) == 0;
}

/* ------------------------------------------------------------------ times */

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int64_t days_in_month(int64_t y, int64_t m)
{
    static const int8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (y >= 1970). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = y / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t digits(const char *s, size_t n)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

nc_err nc_allowed_signers_parse_time(const char *s, size_t len, int64_t *out)
{
    int64_t y, mo, d, h = 0, mi = 0, sec = 0, t;

    *out = 0;
    if (s == NULL)
        return NC_ERR_MALFORMED;
    if (len > 0 && s[len - 1] == 'Z')
        len--;
    if (len != 8 && len != 12 && len != 14)
        return NC_ERR_MALFORMED;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return NC_ERR_MALFORMED;
    y = digits(s, 4);
    mo = digits(s + 4, 2);
    d = digits(s + 6, 2);
    if (len >= 12) {
        h = digits(s + 8, 2);
        mi = digits(s + 10, 2);
    }
    if (len == 14)
        sec = digits(s + 12, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 59)
        return NC_ERR_MALFORMED;
    t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    if (t <= 0)   /* OpenSSH reads 0 as "no limit"; refuse it rather than guess */
        return NC_ERR_MALFORMED;
    *out = t;
    return NC_OK;
}

/* ------------------------------------------------------------------ lines */

typedef nc_err (*line_fn)(parse_ctx *c, char *text, size_t start, size_t end, void *arg);

/* Splits data (already copied into text, NUL-terminated) into lines, checks
 * each for length and stray bytes, and hands the non-blank, non-comment ones
 * to fn with [start, end) past leading blanks. */
static nc_err for_each_line(parse_ctx *c, char *text, size_t len, line_fn fn, void *arg)
{
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t i;
        c->lineno++;
        if (end - pos > NC_MAX_TRUST_LINE_BYTES)
            return fail(c, "line longer than %u bytes", NC_MAX_TRUST_LINE_BYTES);
        for (i = pos; i < end; i++) {
            unsigned char ch = (unsigned char)text[i];
            if (ch == '\r')
                return fail(c, "carriage return (the file must use LF line endings)");
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
                return fail(c, "control character 0x%02x", ch);
        }
        i = pos;
        while (i < end && is_blank(text[i]))
            i++;
        if (i < end && text[i] != '#') {
            nc_err err = fn(c, text, i, end, arg);
            if (err != NC_OK)
                return err;
        }
        pos = end + 1;
    }
    return NC_OK;
}

/* ------------------------------------------------------- allowed_signers */

typedef struct {
    span principals[NC_MAX_PRINCIPALS_PER_LINE];
    size_t nprincipals;
    span namespaces[NC_MAX_NAMESPACES_PER_LINE];
    size_t nnamespaces;
    bool has_namespaces;
    bool has_valid_after, has_valid_before;
    int64_t valid_after, valid_before;
} line_parts;

/* Splits a comma-separated list into spans. Elements: 1..max_len bytes of
 * printable ASCII other than space, '"', '\\', and the OpenSSH pattern
 * characters '*', '?', '!' (Night Core matches exactly). */
static nc_err split_list(parse_ctx *c, const char *text, span list, const char *what,
                         size_t max_items, size_t max_len, span *items, size_t *nitems)
{
    char buf[SHOW_LEN];
    size_t start = list.off, end = list.off + list.len;
    *nitems = 0;
    for (;;) {
        size_t i = start;
        while (i < end && text[i] != ',')
            i++;
        span item = {start, i - start};
        if (item.len == 0)
            return fail(c, "empty %s in list", what);
        if (*nitems == max_items)
            return fail(c, "more than %zu %ss on one line", max_items, what);
        if (item.len > max_len)
            return fail(c, "%s longer than %zu bytes", what, max_len);
        for (size_t k = item.off; k < item.off + item.len; k++) {
            unsigned char ch = (unsigned char)text[k];
            if (ch == '*' || ch == '?' || ch == '!')
                return fail(c, "wildcard %ss are not supported: \"%s\"", what,
                            show(text + item.off, item.len, buf));
            if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
                return fail(c, "invalid character in %s \"%s\"", what,
                            show(text + item.off, item.len, buf));
        }
        items[(*nitems)++] = item;
        if (i == end)
            break;
        start = i + 1;
    }
    return NC_OK;
}

/* Key type names OpenSSH knows that Night Core refuses; a field starting with
 * one of these is a key, not options. */
static bool looks_like_key_type(const char *p, size_t n)
{
    static const char *const prefixes[] = {"ssh-", "ecdsa-", "sk-", "rsa-sha2-", "webauthn-",
                                           "x509v3-"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t k = strlen(prefixes[i]);
        if (n >= k && memcmp(p, prefixes[i], k) == 0)
            return true;
    }
    return false;
}

/* options: opt[,opt...] up to the first blank outside quotes; *pos ends there.
 * opt: namespaces="list" | valid-after="TIME" | valid-before="TIME" */
static nc_err parse_options(parse_ctx *c, const char *text, size_t *pos, size_t end,
                            line_parts *lp)
{
    char buf[SHOW_LEN];
    size_t i = *pos;
    nc_err err;

    for (;;) {
        size_t q;
        span name = {i, 0}, value;
        while (i < end && text[i] != '=' && text[i] != ',' && !is_blank(text[i]))
            i++;
        name.len = i - name.off;
        if (name.len == 0)
            return fail(c, "malformed options");
        if (span_is(text, name, "cert-authority"))
            return fail(c, "cert-authority is not supported (list the signing keys themselves)");
        if (!span_is(text, name, "namespaces") && !span_is(text, name, "valid-after") &&
            !span_is(text, name, "valid-before"))
            return fail(c, "unknown option \"%s\"", show(text + name.off, name.len, buf));
        show(text + name.off, name.len, buf);
        if (i == end || text[i] != '=')
            return fail(c, "option %s needs a value", buf);
        i++;
        if (i == end || text[i] != '"')
            return fail(c, "the value of %s must be in double quotes", buf);
        for (q = i + 1; q < end && text[q] != '"'; q++)
            if (text[q] == '\\')
                return fail(c, "backslash in the value of %s", buf);
        if (q == end)
            return fail(c, "missing closing quote in the value of %s", buf);
        value.off = i + 1;
        value.len = q - value.off;
        i = q + 1;

        if (span_is(text, name, "namespaces")) {
            if (lp->has_namespaces)
                return fail(c, "duplicate option namespaces");
            lp->has_namespaces = true;
            err = split_list(c, text, value, "namespace", NC_MAX_NAMESPACES_PER_LINE,
                             NC_MAX_SSHSIG_NAMESPACE_BYTES, lp->namespaces, &lp->nnamespaces);
            if (err != NC_OK)
                return err;
        } else {
            bool after = span_is(text, name, "valid-after");
            bool *has = after ? &lp->has_valid_after : &lp->has_valid_before;
            int64_t *t = after ? &lp->valid_after : &lp->valid_before;
            char tbuf[SHOW_LEN];
            if (*has)
                return fail(c, "duplicate option %s", buf);
            if (nc_allowed_signers_parse_time(text + value.off, value.len, t) != NC_OK)
                return fail(c,
                            "invalid %s time \"%s\" (YYYYMMDD[HHMM[SS]][Z], a real date, UTC)",
                            buf, show(text + value.off, value.len, tbuf));
            *has = true;
        }

        if (i == end || is_blank(text[i]))
            break;
        if (text[i] != ',')
            return fail(c, "unexpected text after option %s", buf);
        i++;
        if (i == end || is_blank(text[i]))
            return fail(c, "trailing comma in options");
    }
    if (lp->has_valid_after && lp->has_valid_before && lp->valid_before <= lp->valid_after)
        return fail(c, "valid-before is not later than valid-after");
    *pos = i;
    return NC_OK;
}

static nc_err grow_entries(parse_ctx *c, nc_allowed_signers *as)
{
    nc_allowed_signer *p;
    size_t cap;
    if (as->n < as->cap)
        return NC_OK;
    if (as->n >= NC_MAX_ALLOWED_SIGNERS)
        return fail(c, "more than %u entries", NC_MAX_ALLOWED_SIGNERS);
    cap = as->cap ? as->cap * 2 : 8;
    if (cap > NC_MAX_ALLOWED_SIGNERS)
        cap = NC_MAX_ALLOWED_SIGNERS;
    p = realloc(as->entries, cap * sizeof(*p));
    if (p == NULL)
        return NC_ERR_NOMEM;
    as->entries = p;
    as->cap = cap;
    return NC_OK;
}

/* principals [options] keytype base64 [comment] */
static nc_err allowed_line(parse_ctx *c, char *text, size_t start, size_t end, void *arg)
{
    nc_allowed_signers *as = arg;
    char buf[SHOW_LEN];
    line_parts lp;
    span principals, tok;
    size_t i = start;
    nc_sshkey key;
    const char *why = NULL;
    nc_err err;

    memset(&lp, 0, sizeof(lp));
    /* principals: a token, or a double-quoted string */
    if (text[i] == '"') {
        size_t q = i + 1;
        while (q < end && text[q] != '"')
            q++;
        if (q == end)
            return fail(c, "missing closing quote in principals");
        principals.off = i + 1;
        principals.len = q - principals.off;
        i = q + 1;
        if (i < end && !is_blank(text[i]))
            return fail(c, "text after the closing quote of principals");
    } else {
        while (i < end && !is_blank(text[i]))
            i++;
        principals.off = start;
        principals.len = i - start;
    }
    err = split_list(c, text, principals, "principal", NC_MAX_PRINCIPALS_PER_LINE,
                     NC_MAX_PRINCIPAL_BYTES, lp.principals, &lp.nprincipals);
    if (err != NC_OK)
        return err;
    while (i < end && is_blank(text[i]))
        i++;
    if (i == end)
        return fail(c, "missing key after principals");

    /* options, unless the next field is a key type */
    tok.off = i;
    while (i < end && !is_blank(text[i]))
        i++;
    tok.len = i - tok.off;
    i = tok.off;
    if (nc_sshkey_type_from_name(text + tok.off, tok.len) == NC_SSHKEY_NONE) {
        if (looks_like_key_type(text + tok.off, tok.len))
            return fail(c, "unsupported key type \"%s\" (only ssh-ed25519 and "
                           "sk-ssh-ed25519@openssh.com)",
                        show(text + tok.off, tok.len, buf));
        err = parse_options(c, text, &i, end, &lp);
        if (err != NC_OK)
            return err;
        while (i < end && is_blank(text[i]))
            i++;
        if (i == end)
            return fail(c, "missing key after options");
    }

    /* the key; the rest of the line is its comment */
    err = nc_sshkey_from_text(text + i, end - i, &key, &why);
    if (err == NC_ERR_SIG_KEY_TYPE) {
        tok.off = i;
        while (i < end && !is_blank(text[i]))
            i++;
        tok.len = i - tok.off;
        return fail(c, "unsupported key type \"%s\" (only ssh-ed25519 and "
                       "sk-ssh-ed25519@openssh.com)",
                    show(text + tok.off, tok.len, buf));
    }
    if (err != NC_OK)
        return fail(c, "%s", why ? why : "malformed public key");

    err = grow_entries(c, as);
    if (err != NC_OK)
        return err;
    nc_allowed_signer *e = &as->entries[as->n];
    memset(e, 0, sizeof(*e));
    e->line = c->lineno;
    e->key = key;
    /* Terminate the strings in place: every span is followed by a delimiter
     * (',', '"', a blank) that nothing reads any more. */
    for (size_t k = 0; k < lp.nprincipals; k++) {
        text[lp.principals[k].off + lp.principals[k].len] = '\0';
        e->principals[k] = text + lp.principals[k].off;
    }
    e->nprincipals = lp.nprincipals;
    for (size_t k = 0; k < lp.nnamespaces; k++) {
        text[lp.namespaces[k].off + lp.namespaces[k].len] = '\0';
        e->namespaces[k] = text + lp.namespaces[k].off;
    }
    e->nnamespaces = lp.nnamespaces;
    e->has_valid_after = lp.has_valid_after;
    e->valid_after = lp.valid_after;
    e->has_valid_before = lp.has_valid_before;
    e->valid_before = lp.valid_before;
    as->n++;
    return NC_OK;
}

static void clear_errbuf(char *errbuf, size_t errbuf_len)
{
    if (errbuf != NULL && errbuf_len > 0)
        errbuf[0] = '\0';
}

nc_err nc_allowed_signers_parse(const void *data, size_t len, nc_allowed_signers **out,
                                char *errbuf, size_t errbuf_len)
{
    parse_ctx c = {"allowed_signers", 0, errbuf, errbuf_len};
    nc_allowed_signers *as = NULL;
    nc_err err;

    clear_errbuf(errbuf, errbuf_len);
    *out = NULL;
    if (data == NULL && len != 0) {
        err = NC_ERR_USAGE;
        goto done;
    }
    if (len > NC_MAX_TRUST_FILE_BYTES) {
        err = fail(&c, "file larger than %u bytes", NC_MAX_TRUST_FILE_BYTES);
        goto done;
    }
    if ((as = calloc(1, sizeof(*as))) == NULL || (as->text = malloc(len + 1)) == NULL) {
        err = NC_ERR_NOMEM;
        goto done;
    }
    if (len)
        memcpy(as->text, data, len);
    as->text[len] = '\0';
    err = for_each_line(&c, as->text, len, allowed_line, as);
    if (err != NC_OK)
        goto done;
    *out = as;
    as = NULL;
done:
    if (err == NC_ERR_NOMEM)
        clear_errbuf(errbuf, errbuf_len);
    nc_allowed_signers_free(as);
    return err;
}

void nc_allowed_signers_free(nc_allowed_signers *as)
{
    if (as == NULL)
        return;
    free(as->entries);
    free(as->text);
    free(as);
}

size_t nc_allowed_signers_count(const nc_allowed_signers *as)
{
    return as ? as->n : 0;
}

const nc_allowed_signer *nc_allowed_signers_get(const nc_allowed_signers *as, size_t i)
{
    return as && i < as->n ? &as->entries[i] : NULL;
}

bool nc_allowed_signer_allows_namespace(const nc_allowed_signer *e, const char *ns)
{
    if (e == NULL || ns == NULL)
        return false;
    if (e->nnamespaces == 0)
        return true;
    for (size_t i = 0; i < e->nnamespaces; i++)
        if (strcmp(e->namespaces[i], ns) == 0)
            return true;
    return false;
}

bool nc_allowed_signer_valid_at(const nc_allowed_signer *e, int64_t now)
{
    if (e == NULL)
        return false;
    if (e->has_valid_after && now < e->valid_after)
        return false;
    if (e->has_valid_before && now > e->valid_before)
        return false;
    return true;
}

nc_err nc_allowed_signers_check(const nc_allowed_signers *as, const nc_sshkey *key, const char *ns,
                                int64_t now)
{
    bool listed = false;
    if (as == NULL || key == NULL || ns == NULL)
        return NC_ERR_USAGE;
    for (size_t i = 0; i < as->n; i++) {
        const nc_allowed_signer *e = &as->entries[i];
        if (!nc_sshkey_equal(&e->key, key) || !nc_allowed_signer_allows_namespace(e, ns))
            continue;
        if (nc_allowed_signer_valid_at(e, now))
            return NC_OK;
        listed = true;
    }
    return listed ? NC_ERR_KEY_NOT_VALID_NOW : NC_ERR_UNTRUSTED_KEY;
}

const nc_allowed_signer *nc_allowed_signers_next(const nc_allowed_signers *as,
                                                 const nc_sshkey *key, const char *ns,
                                                 int64_t now, size_t *pos)
{
    if (as == NULL || key == NULL || ns == NULL || pos == NULL)
        return NULL;
    while (*pos < as->n) {
        const nc_allowed_signer *e = &as->entries[(*pos)++];
        if (nc_sshkey_equal(&e->key, key) && nc_allowed_signer_allows_namespace(e, ns) &&
            nc_allowed_signer_valid_at(e, now))
            return e;
    }
    return NULL;
}

nc_err nc_allowed_signers_has_principal(const nc_allowed_signers *as, const nc_sshkey *key,
                                        const char *ns, int64_t now, const char *principal)
{
    const nc_allowed_signer *e;
    size_t pos = 0;
    nc_err err;
    if (principal == NULL)
        return NC_ERR_USAGE;
    if ((err = nc_allowed_signers_check(as, key, ns, now)) != NC_OK)
        return err;
    while ((e = nc_allowed_signers_next(as, key, ns, now, &pos)) != NULL)
        for (size_t i = 0; i < e->nprincipals; i++)
            if (strcmp(e->principals[i], principal) == 0)
                return NC_OK;
    return NC_ERR_NOT_PRINCIPAL;
}

/* ---------------------------------------------------------- revoked_keys */

static nc_err revoked_line(parse_ctx *c, char *text, size_t start, size_t end, void *arg)
{
    nc_revoked_keys *rk = arg;
    char buf[SHOW_LEN];
    const char *why = NULL;
    nc_sshkey key;
    nc_err err = nc_sshkey_from_text(text + start, end - start, &key, &why);
    if (err == NC_ERR_SIG_KEY_TYPE) {
        size_t i = start;
        while (i < end && !is_blank(text[i]))
            i++;
        return fail(c, "unsupported key type \"%s\" (only ssh-ed25519 and "
                       "sk-ssh-ed25519@openssh.com)",
                    show(text + start, i - start, buf));
    }
    if (err != NC_OK)
        return fail(c, "%s", why ? why : "malformed public key");
    if (rk->n == rk->cap) {
        nc_sshkey *p;
        size_t cap;
        if (rk->n >= NC_MAX_REVOKED_KEYS)
            return fail(c, "more than %u keys", NC_MAX_REVOKED_KEYS);
        cap = rk->cap ? rk->cap * 2 : 8;
        if (cap > NC_MAX_REVOKED_KEYS)
            cap = NC_MAX_REVOKED_KEYS;
        if ((p = realloc(rk->keys, cap * sizeof(*p))) == NULL)
            return NC_ERR_NOMEM;
        rk->keys = p;
        rk->cap = cap;
    }
    rk->keys[rk->n++] = key;
    return NC_OK;
}

nc_err nc_revoked_keys_parse(const void *data, size_t len, nc_revoked_keys **out, char *errbuf,
                             size_t errbuf_len)
{
    parse_ctx c = {"revoked_keys", 0, errbuf, errbuf_len};
    nc_revoked_keys *rk = NULL;
    char *text = NULL;
    nc_err err;

    clear_errbuf(errbuf, errbuf_len);
    *out = NULL;
    if (data == NULL && len != 0) {
        err = NC_ERR_USAGE;
        goto done;
    }
    if (len > NC_MAX_TRUST_FILE_BYTES) {
        err = fail(&c, "file larger than %u bytes", NC_MAX_TRUST_FILE_BYTES);
        goto done;
    }
    if ((rk = calloc(1, sizeof(*rk))) == NULL || (text = malloc(len + 1)) == NULL) {
        err = NC_ERR_NOMEM;
        goto done;
    }
    if (len)
        memcpy(text, data, len);
    text[len] = '\0';
    err = for_each_line(&c, text, len, revoked_line, rk);
    if (err != NC_OK)
        goto done;
    *out = rk;
    rk = NULL;
done:
    if (err == NC_ERR_NOMEM)
        clear_errbuf(errbuf, errbuf_len);
    free(text);
    nc_revoked_keys_free(rk);
    return err;
}

void nc_revoked_keys_free(nc_revoked_keys *rk)
{
    if (rk == NULL)
        return;
    free(rk->keys);
    free(rk);
}

size_t nc_revoked_keys_count(const nc_revoked_keys *rk)
{
    return rk ? rk->n : 0;
}

const nc_sshkey *nc_revoked_keys_get(const nc_revoked_keys *rk, size_t i)
{
    return rk && i < rk->n ? &rk->keys[i] : NULL;
}

bool nc_revoked_keys_contains(const nc_revoked_keys *rk, const nc_sshkey *key)
{
    if (rk == NULL || key == NULL)
        return false;
    for (size_t i = 0; i < rk->n; i++)
        if (nc_sshkey_equal(&rk->keys[i], key))
            return true;
    return false;
}

nc_err nc_revoked_keys_check(const nc_revoked_keys *rk, const nc_sshkey *key)
{
    if (rk == NULL || key == NULL)
        return NC_ERR_USAGE;
    return nc_revoked_keys_contains(rk, key) ? NC_ERR_REVOKED_KEY : NC_OK;
}
