/* HTML escaping, entry descriptions and the receipt check (audit_fmt.h). */
#include "cli/audit_fmt.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "common/hash.h"
#include "common/json.h"

/* ---- HTML ---- */

nc_err cli_html_escape(nc_buf *b, const char *s, size_t len, bool multiline)
{
    char *t = cli_safe_ex(s ? s : "", s ? len : 0, multiline);
    nc_err err = NC_OK;
    const char *run = t;
    for (const char *p = t;; p++) {
        const char *ent = NULL;
        switch (*p) {
        case '&': ent = "&amp;"; break;
        case '<': ent = "&lt;"; break;
        case '>': ent = "&gt;"; break;
        case '"': ent = "&quot;"; break;
        case '\'': ent = "&#39;"; break;
        default: break;
        }
        if (!ent && *p != '\0')
            continue;
        if (p > run && (err = nc_buf_append(b, run, (size_t)(p - run))) != NC_OK)
            goto done;
        if (!ent)
            break;
        if ((err = nc_buf_append(b, ent, strlen(ent))) != NC_OK)
            goto done;
        run = p + 1;
    }
done:
    free(t);
    return err;
}

/* ---- entry descriptions ---- */

/* Appends text to out (after two spaces if out is not empty); what does not
 * fit is cut at a UTF-8 character boundary and marked with "...". */
static void add(char *out, size_t n, const char *text)
{
    size_t used = strlen(out), tl = strlen(text);
    if (tl == 0)
        return;
    const char *sep = used ? "  " : "";
    size_t need = strlen(sep) + tl;
    if (used + need < n) {
        memcpy(out + used, sep, strlen(sep));
        memcpy(out + used + strlen(sep), text, tl + 1);
        return;
    }
    if (used + strlen(sep) + 3 >= n)
        return;   /* no room left even for "..." */
    size_t room = n - used - strlen(sep) - 4, take = room < tl ? room : tl;
    while (take > 0 && ((unsigned char)text[take] & 0xc0) == 0x80)
        take--;
    memcpy(out + used, sep, strlen(sep));
    used += strlen(sep);
    memcpy(out + used, text, take);
    memcpy(out + used + take, "...", 4);
}

static void addf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void addf(char *out, size_t n, const char *fmt, ...)
{
    /* larger than any out, so that add() makes the cut, at a character boundary */
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    add(out, n, tmp);
}

static const char *str(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool outcome_is(const char *o, const char *const *list)
{
    for (; o && *list; list++)
        if (strcmp(o, *list) == 0)
            return true;
    return false;
}

const char *cli_audit_class_name(cli_audit_class c)
{
    switch (c) {
    case CLI_AUDIT_OK: return "ok";
    case CLI_AUDIT_WARN: return "warn";
    case CLI_AUDIT_BAD: return "bad";
    case CLI_AUDIT_GRANT: return "grant";
    case CLI_AUDIT_WITHDRAW: return "withdraw";
    case CLI_AUDIT_INFO: break;
    }
    return "info";
}

static cli_audit_class classify(const char *type, const json_t *e)
{
    static const char *const amber[] = {"exit",         "trap",        "timeout",   "fuel", "memory",
                                        "output_limit", "interrupted", "cancelled", NULL};
    static const char *const grants[] = {"approval", NULL};
    static const char *const withdrawals[] = {"rejection", "revocation", NULL};
    const char *outcome = str(e, "outcome");
    if (strcmp(type, "run.end") == 0) {
        if (outcome && strcmp(outcome, "ok") == 0)
            return CLI_AUDIT_OK;
        return outcome_is(outcome, amber) ? CLI_AUDIT_WARN : CLI_AUDIT_BAD;
    }
    if (strcmp(type, "refused") == 0)
        return CLI_AUDIT_BAD;
    if (outcome_is(type, grants))
        return CLI_AUDIT_GRANT;
    if (outcome_is(type, withdrawals))
        return CLI_AUDIT_WITHDRAW;
    if (strcmp(type, "trust.change") == 0) {
        const char *action = str(e, "action");
        return action && strcmp(action, "add") == 0 ? CLI_AUDIT_GRANT : CLI_AUDIT_WITHDRAW;
    }
    return CLI_AUDIT_INFO;
}

static void set(char *out, size_t n, const char *text)
{
    out[0] = '\0';
    if (text)
        add(out, n, text);
}

void cli_audit_describe(const void *entry, size_t len, cli_audit_desc *d)
{
    json_t *e = NULL;
    memset(d, 0, sizeof *d);
    d->seq = d->time = -1;
    if (nc_json_parse_strict(entry ? entry : "", entry ? len : 0, &e, NULL, 0) != NC_OK || !json_is_object(e)) {
        set(d->type, sizeof d->type, "(unreadable entry)");
        d->cls = CLI_AUDIT_BAD;
        goto done;
    }
    const json_t *v = json_object_get(e, "seq");
    if (json_is_integer(v))
        d->seq = (int64_t)json_integer_value(v);
    v = json_object_get(e, "time");
    if (json_is_integer(v))
        d->time = (int64_t)json_integer_value(v);
    const char *type = str(e, "type");
    set(d->type, sizeof d->type, type ? type : "(no type)");
    d->cls = type ? classify(type, e) : CLI_AUDIT_BAD;

    /* what it is about */
    const char *name = str(e, "name");
    if (!name && type && strcmp(type, "trust.change") == 0)
        name = str(e, "principal") ? str(e, "principal") : str(e, "fingerprint");
    if (!name && type && strcmp(type, "refused") == 0)
        name = str(e, "op");
    set(d->name, sizeof d->name, name);
    const char *sha = str(e, "module_sha256") ? str(e, "module_sha256") : str(e, "sha256");
    if (sha)
        snprintf(d->sha, sizeof d->sha, "%.12s", sha);
    if (type && strcmp(type, "run.end") == 0)
        set(d->outcome, sizeof d->outcome, str(e, "outcome") ? str(e, "outcome") : "?");

    /* the other key fields, most telling first */
    char *dt = d->detail;
    size_t dn = sizeof d->detail;
    const char *outcome = str(e, "outcome");
    v = json_object_get(e, "exit_code");
    if (json_is_integer(v) && outcome && (strcmp(outcome, "ok") == 0 || strcmp(outcome, "exit") == 0))
        addf(dt, dn, "exit %lld", (long long)json_integer_value(v));
    v = json_object_get(e, "limits_hit");
    if (json_array_size(v)) {
        char lim[256] = "";
        for (size_t i = 0; i < json_array_size(v); i++) {
            const char *l = json_string_value(json_array_get(v, i));
            size_t used = strlen(lim);
            snprintf(lim + used, sizeof lim - used, "%s%s", i ? "," : "", l ? l : "?");
        }
        addf(dt, dn, "limits %s", lim);
    }
    v = json_object_get(e, "threat_score");
    if (json_is_integer(v))
        addf(dt, dn, "score %lld", (long long)json_integer_value(v));
    v = json_object_get(json_object_get(e, "threat"), "score");
    if (json_is_integer(v))
        addf(dt, dn, "threat %lld", (long long)json_integer_value(v));
    v = json_object_get(e, "denied_calls");
    if (json_is_integer(v) && json_integer_value(v) > 0)
        addf(dt, dn, "%lld denied call%s", (long long)json_integer_value(v), json_integer_value(v) == 1 ? "" : "s");
    if (str(e, "action"))
        add(dt, dn, str(e, "action"));
    if (str(e, "principal") && name != str(e, "principal"))
        addf(dt, dn, "principal %s", str(e, "principal"));
    if (str(e, "fingerprint") && name != str(e, "fingerprint"))
        add(dt, dn, str(e, "fingerprint"));
    if (str(e, "source"))
        addf(dt, dn, "from %s", str(e, "source"));
    if (str(json_object_get(e, "drift"), "state"))
        addf(dt, dn, "drift %s", str(json_object_get(e, "drift"), "state"));
    if (str(e, "invoker"))
        addf(dt, dn, "by %s", str(e, "invoker"));
    if (str(e, "approver"))
        addf(dt, dn, "approver %s", str(e, "approver"));
    if (str(e, "policy"))
        addf(dt, dn, "policy %s", str(e, "policy"));
    if (str(e, "code"))
        add(dt, dn, str(e, "code"));
    if (str(e, "op") && name != str(e, "op"))
        addf(dt, dn, "op %s", str(e, "op"));
    if (str(e, "socket"))
        addf(dt, dn, "on %s socket", str(e, "socket"));
    if (str(e, "reason"))
        addf(dt, dn, "reason: %s", str(e, "reason"));
    if (str(e, "message"))
        addf(dt, dn, "message: %s", str(e, "message"));
    if (str(e, "version"))
        addf(dt, dn, "version %s", str(e, "version"));
    v = json_object_get(e, "pid");
    if (json_is_integer(v))
        addf(dt, dn, "pid %lld", (long long)json_integer_value(v));
    v = json_object_get(e, "interrupted_runs");
    if (json_array_size(v))
        addf(dt, dn, "%zu interrupted run%s", json_array_size(v), json_array_size(v) == 1 ? "" : "s");

    if (str(e, "run"))
        addf(d->ids, sizeof d->ids, "run %s", str(e, "run"));
    if (str(e, "submission"))
        addf(d->ids, sizeof d->ids, "submission %s", str(e, "submission"));
    if (str(e, "approval_id"))
        addf(d->ids, sizeof d->ids, "approval %.12s", str(e, "approval_id"));
done:
    json_decref(e);
}

/* ---- receipts ---- */

#define RFAIL(code, ...)                           \
    do {                                           \
        err = (code);                              \
        snprintf(msg, msg_len, __VA_ARGS__);       \
        goto done;                                 \
    } while (0)

static bool hex32(const json_t *v, uint8_t out[NC_SHA256_LEN])
{
    return json_is_string(v) && json_string_length(v) == NC_SHA256_HEX_LEN &&
           nc_unhex(json_string_value(v), NC_SHA256_HEX_LEN, out, NC_SHA256_LEN) == NC_OK;
}

nc_err cli_receipt_verify(const json_t *res, const char *run_id, const char *origin, const uint8_t pk[32],
                          nc_checkpoint *cp, json_t **entry_out, char *msg, size_t msg_len)
{
    nc_err err = NC_ERR_MALFORMED;
    json_t *e = NULL;
    uint8_t (*proof)[NC_SHA256_LEN] = NULL;
    uint8_t leaf[NC_SHA256_LEN], want[NC_SHA256_LEN];
    uint64_t seq, size;
    char inner[256];

    *entry_out = NULL;
    memset(cp, 0, sizeof *cp);
    msg[0] = '\0';
    const json_t *jrun = json_object_get(res, "run"), *jentry = json_object_get(res, "entry"),
                 *jcp = json_object_get(res, "checkpoint"), *jproof = json_object_get(res, "proof");
    if (!json_is_object(res))
        RFAIL(NC_ERR_MALFORMED, "the receipt is not a JSON object");
    if (!json_is_string(jrun) || strcmp(json_string_value(jrun), run_id) != 0)
        RFAIL(NC_ERR_MALFORMED, "the receipt is not for run %s", run_id);
    if (nc_json_uint(json_object_get(res, "seq"), INT64_MAX, &seq) != NC_OK ||
        nc_json_uint(json_object_get(res, "size"), INT64_MAX, &size) != NC_OK)
        RFAIL(NC_ERR_MALFORMED, "the receipt's seq or size is not a whole number");
    if (!json_is_string(jentry) || !json_is_string(jcp))
        RFAIL(NC_ERR_MALFORMED, "the receipt has no entry or no checkpoint");
    if (!hex32(json_object_get(res, "leaf"), want))
        RFAIL(NC_ERR_MALFORMED, "the receipt's leaf is not 64 lower-case hex digits");
    size_t n = json_array_size(jproof);
    if (!json_is_array(jproof) || n > NC_AUDIT_MAX_LEVELS)
        RFAIL(NC_ERR_MALFORMED, "the receipt's proof is not a list of at most %d hashes", NC_AUDIT_MAX_LEVELS);
    proof = calloc(n ? n : 1, sizeof *proof);
    if (!proof)
        RFAIL(NC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (!hex32(json_array_get(jproof, i), proof[i]))
            RFAIL(NC_ERR_MALFORMED, "proof hash %zu is not 64 lower-case hex digits", i + 1);

    /* 1. the entry is the leaf */
    const char *entry = json_string_value(jentry);
    size_t entry_len = json_string_length(jentry);
    nc_audit_leaf_hash(entry, entry_len, leaf);
    if (memcmp(leaf, want, NC_SHA256_LEN) != 0)
        RFAIL(NC_ERR_HASH_MISMATCH, "the entry does not hash to the receipt's leaf: the entry was changed");
    /* 2. the entry records the end of this run, at this position */
    if (nc_json_parse_strict(entry, entry_len, &e, NULL, 0) != NC_OK || !json_is_object(e))
        RFAIL(NC_ERR_MALFORMED, "the entry is not a JSON object");
    if (!str(e, "type") || strcmp(str(e, "type"), "run.end") != 0)
        RFAIL(NC_ERR_MALFORMED, "the entry is not a run.end entry");
    if (!str(e, "run") || strcmp(str(e, "run"), run_id) != 0)
        RFAIL(NC_ERR_MALFORMED, "the entry records another run");
    uint64_t eseq;
    if (nc_json_uint(json_object_get(e, "seq"), INT64_MAX, &eseq) != NC_OK || eseq != seq)
        RFAIL(NC_ERR_MALFORMED, "the entry's own position is not the receipt's seq %llu", (unsigned long long)seq);
    /* 3. the checkpoint is this worker's, for exactly `size` entries */
    err = nc_audit_checkpoint_parse(json_string_value(jcp), json_string_length(jcp), origin, pk, cp, inner,
                                    sizeof inner);
    if (err != NC_OK)
        RFAIL(err, "checkpoint: %s", inner);
    if (cp->size != size)
        RFAIL(NC_ERR_MALFORMED, "the checkpoint covers %llu entries, the receipt says %llu",
              (unsigned long long)cp->size, (unsigned long long)size);
    /* 4. the proof leads from the leaf to the signed root */
    if (seq >= size)
        RFAIL(NC_ERR_MALFORMED, "entry %llu is not inside a checkpoint of %llu entries", (unsigned long long)seq,
              (unsigned long long)size);
    if (!nc_audit_inclusion_check(seq, size, leaf, (const uint8_t (*)[NC_SHA256_LEN])proof, n, cp->root))
        RFAIL(NC_ERR_HASH_MISMATCH,
              "the inclusion proof does not lead from entry %llu to the root of the checkpoint of size %llu",
              (unsigned long long)seq, (unsigned long long)size);
    *entry_out = e;
    e = NULL;
    err = NC_OK;
done:
    if (err != NC_OK)
        memset(cp, 0, sizeof *cp);
    json_decref(e);
    free(proof);
    return err;
}
