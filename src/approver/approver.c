#include "approver/approver.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "common/fs.h"
#include "common/hash.h"
#include "common/json.h"

/* ---- configuration and key ---- */

nc_err nc_approver_config_load(const char *path, json_t **cfg, char *msg, size_t msg_len)
{
    uint8_t *data = NULL;
    size_t len = 0;
    *cfg = NULL;
    nc_err err = nc_read_file(path, NC_APPROVER_CONFIG_MAX_BYTES, &data, &len);
    if (err == NC_ERR_NOT_FOUND) {
        *cfg = json_object();
        return *cfg ? NC_OK : NC_ERR_NOMEM;
    }
    if (err != NC_OK) {
        snprintf(msg, msg_len, "cannot read %.300s: %s", path,
                 err == NC_ERR_TOO_LARGE ? "larger than 64 KiB" : nc_strerror(err));
        return err;
    }
    char inner[200] = "";
    err = nc_json_parse_strict(data, len, cfg, inner, sizeof inner);
    free(data);
    if (err != NC_OK || !json_is_object(*cfg)) {
        json_decref(*cfg);
        *cfg = NULL;
        snprintf(msg, msg_len, "%.300s is not a JSON object (%s); fix it or remove it and run `nightcore init`", path,
                 err != NC_OK ? inner : "wrong type");
        return NC_ERR_MALFORMED;
    }
    /* A relative approver_key is relative to the directory of config.json
     * (`init --generate-key` writes "keys/approver"), so a moved home keeps
     * its key. */
    const char *key = json_string_value(json_object_get(*cfg, "approver_key"));
    const char *slash = strrchr(path, '/');
    if (key && key[0] && key[0] != '/' && slash) {
        char full[4096];
        int n = snprintf(full, sizeof full, "%.*s/%s", (int)(slash - path), path, key);
        if (n < 0 || (size_t)n >= sizeof full || json_object_set_new(*cfg, "approver_key", json_string(full)) != 0) {
            json_decref(*cfg);
            *cfg = NULL;
            snprintf(msg, msg_len, "%.300s: approver_key is too long", path);
            return NC_ERR_TOO_LARGE;
        }
    }
    return NC_OK;
}

const char *nc_approver_config_relative(const char *config_path, const char *key)
{
    const char *slash = strrchr(config_path, '/');
    size_t dir = slash ? (size_t)(slash - config_path) : 0;
    if (slash && strncmp(key, config_path, dir) == 0 && key[dir] == '/' && key[dir + 1])
        return key + dir + 1;
    return key;
}

bool nc_approver_principal(const char *override, const json_t *cfg, char *out, size_t out_len)
{
    const char *p = override && override[0] ? override : json_string_value(json_object_get(cfg, "principal"));
    if (!p || !nc_principal_ok(p))
        return false;
    return (size_t)snprintf(out, out_len, "%s", p) < out_len;
}

nc_err nc_approver_key_resolve(const char *override, const json_t *cfg, const char *default_path, char *out,
                               size_t out_len, char *msg, size_t msg_len)
{
    const char *key = override && override[0] ? override : json_string_value(json_object_get(cfg, "approver_key"));
    if (!key)
        key = default_path;
    struct stat st;
    if (!key || stat(key, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(msg, msg_len, "no approver key%s%.300s%s: make one on a terminal with `nightcore init "
                 "--generate-key`, use an existing key with `nightcore init --approver-key KEY.pub`, or pass "
                 "--key", key ? " at " : "", key ? key : "", key ? "" : " configured");
        return NC_ERR_NOT_FOUND;
    }
    if ((size_t)snprintf(out, out_len, "%s", key) >= out_len) {
        snprintf(msg, msg_len, "approver key path too long");
        return NC_ERR_TOO_LARGE;
    }
    return NC_OK;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

nc_err nc_approver_key_inspect(const char *path, nc_approver_key_info *out, char *msg, size_t msg_len)
{
    nc_privkey_info info;
    const char *reason = NULL;
    memset(out, 0, sizeof *out);
    nc_err err = nc_privkey_info_load(path, &info, &reason);
    if (err == NC_OK) {
        out->key = info.key;
        out->have_private = true;
        out->protection = nc_key_protection_of(&info.key, &info);
    } else {
        /* A public key line: "TYPE BASE64 [comment]". */
        uint8_t *data = NULL;
        size_t len = 0;
        if (nc_read_file(path, 16 * 1024, &data, &len) != NC_OK) {
            snprintf(msg, msg_len, "cannot read the key %.300s", path);
            return NC_ERR_IO;
        }
        size_t n = 0;
        while (n < len && data[n] != '\n' && data[n] != '\r')
            n++;
        err = memchr(data, 0, n) ? NC_ERR_MALFORMED : nc_sshkey_from_text((const char *)data, n, &out->key, &reason);
        free(data);
        if (err != NC_OK) {
            snprintf(msg, msg_len, "%.300s is neither an OpenSSH private key nor a public key line: %s", path,
                     reason ? reason : nc_strerror(err));
            return err;
        }
        /* the private half next to it? */
        char priv[4096];
        if (ends_with(path, ".pub") && strlen(path) - 4 < sizeof priv) {
            memcpy(priv, path, strlen(path) - 4);
            priv[strlen(path) - 4] = '\0';
            if (nc_privkey_info_load(priv, &info, NULL) == NC_OK && nc_sshkey_equal(&info.key, &out->key)) {
                out->have_private = true;
                out->protection = nc_key_protection_of(&out->key, &info);
            }
        }
        if (!out->have_private)
            out->protection = nc_key_protection_of(&out->key, NULL);
    }
    if (nc_sshkey_fingerprint(&out->key, out->fingerprint) != NC_OK)
        return NC_ERR_INTERNAL;
    return NC_OK;
}

/* ---- checks ---- */

const char *nc_approver_check_approval(const nc_statement *st, const nc_approval_request *rq, int64_t now)
{
    char hex[NC_SHA256_HEX_LEN + 1];
    nc_hex(st->sha256, NC_SHA256_LEN, hex);
    if (!rq->submission || strcmp(st->submission, rq->submission) != 0)
        return "the statement is for another submission";
    if (!rq->name || strcmp(st->name, rq->name) != 0)
        return "the statement names another module";
    if (!rq->sha256 || strcmp(hex, rq->sha256) != 0)
        return "the statement names another module digest";
    if (rq->max_runs && st->max_runs != rq->max_runs)
        return "the statement allows another number of runs than asked for";
    if (rq->invokers) {
        if (st->ninvokers != rq->ninvokers)
            return "the statement names other invokers than asked for";
        for (size_t i = 0; i < rq->ninvokers; i++)
            if (!nc_statement_has_invoker(st, rq->invokers[i]))
                return "the statement names other invokers than asked for";
    }
    if (!rq->principal || strcmp(st->approver, rq->principal) != 0)
        return "the statement names another approver";
    if ((rq->no_args && st->caps.args) || (rq->no_stdin && st->caps.stdin))
        return "the statement grants arguments or stdin that were not asked for";
    if (rq->grant && rq->check_dirs) {
        if (st->caps.ndirs != rq->grant->ndirs)
            return "the statement grants other directories than asked for";
        for (size_t i = 0; i < rq->grant->ndirs; i++) {
            const nc_cap_dir *g = &rq->grant->dirs[i];
            bool found = false;
            for (size_t j = 0; j < st->caps.ndirs && !found; j++)
                found = strcmp(st->caps.dirs[j].host, g->host) == 0 && strcmp(st->caps.dirs[j].guest, g->guest) == 0 &&
                        st->caps.dirs[j].readonly == g->readonly;
            if (!found)
                return "the statement grants other directories than asked for";
        }
    }
    if (rq->grant && rq->check_env) {
        if (st->caps.nenv != rq->grant->nenv)
            return "the statement grants another environment than asked for";
        for (size_t i = 0; i < rq->grant->nenv; i++) {
            bool found = false;
            for (size_t j = 0; j < st->caps.nenv && !found; j++)
                found = strcmp(st->caps.env[j].key, rq->grant->env[i].key) == 0 && st->caps.env[j].value &&
                        rq->grant->env[i].value && strcmp(st->caps.env[j].value, rq->grant->env[i].value) == 0;
            if (!found)
                return "the statement grants another environment than asked for";
        }
    }
    if ((int64_t)st->expires_at <= now)
        return "the statement has expired: prepare it again";
    if (rq->expires_in &&
        ((int64_t)st->expires_at > now + (int64_t)rq->expires_in + NC_APPROVER_CLOCK_SLACK_S ||
         (int64_t)st->not_before > now + NC_APPROVER_CLOCK_SLACK_S))
        return "the statement's validity window is not the one asked for";
    return NULL;
}

const char *nc_approver_check_trust_add(const nc_admin_statement *st, const nc_trust_request *rq, int64_t now)
{
    if (st->kind != NC_ADMIN_TRUST_ADD)
        return "the statement is not a trust change";
    if (!rq->key || !nc_sshkey_equal(&st->key, rq->key))
        return "the statement trusts another key";
    if (!rq->principal || strcmp(st->principal, rq->principal) != 0)
        return "the statement names another principal for the key";
    if (st->admin != rq->admin)
        return "the statement gives the key another role than asked for";
    if (st->require_verification != rq->require_verification)
        return "the statement differs in requiring user verification";
    if (!rq->approver || strcmp(st->approver, rq->approver) != 0)
        return "the statement names another approver";
    if (rq->worker && strcmp(st->worker, rq->worker) != 0)
        return "the statement is for another worker";
    if ((int64_t)st->expires_at <= now || (int64_t)st->issued_at > now + NC_APPROVER_CLOCK_SLACK_S)
        return "the statement is not valid now: prepare it again";
    return NULL;
}

const char *nc_approver_check_policy_set(const nc_admin_statement *st, const nc_policy *want, const char *approver,
                                         int64_t now)
{
    if (st->kind != NC_ADMIN_POLICY_SET)
        return "the statement is not a policy change";
    json_t *a = nc_policy_to_json(&st->policy), *b = nc_policy_to_json(want);
    bool same = a && b && json_equal(a, b);
    json_decref(a);
    json_decref(b);
    if (!same)
        return "the statement sets another policy than the file says";
    if (!approver || strcmp(st->approver, approver) != 0)
        return "the statement names another approver";
    if ((int64_t)st->expires_at <= now || (int64_t)st->issued_at > now + NC_APPROVER_CLOCK_SLACK_S)
        return "the statement is not valid now: prepare it again";
    return NULL;
}

/* ---- in words ---- */

static void fmt_time(uint64_t t, char *out, size_t n)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (!t || !gmtime_r(&tt, &tm) || strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(out, n, "-");
}

static void fmt_size(uint64_t b, char *out, size_t n)
{
    if (b < 1024)
        snprintf(out, n, "%llu B", (unsigned long long)b);
    else if (b < 1024ull * 1024)
        snprintf(out, n, "%.1f KiB", (double)b / 1024.0);
    else if (b < 1024ull * 1024 * 1024)
        snprintf(out, n, "%.1f MiB", (double)b / (1024.0 * 1024.0));
    else
        snprintf(out, n, "%.1f GiB", (double)b / (1024.0 * 1024.0 * 1024.0));
}

static void fmt_span(uint64_t s, char *out, size_t n)
{
    if (s % 86400 == 0 && s)
        snprintf(out, n, "%llud", (unsigned long long)(s / 86400));
    else if (s % 3600 == 0 && s)
        snprintf(out, n, "%lluh", (unsigned long long)(s / 3600));
    else if (s % 60 == 0 && s)
        snprintf(out, n, "%llum", (unsigned long long)(s / 60));
    else
        snprintf(out, n, "%llus", (unsigned long long)s);
}

static void add(json_t *pairs, const char *label, const char *text)
{
    json_array_append_new(pairs, json_pack("[s, s]", label, text));
}

/* "timeout 5000 ms, memory 64 MiB, fuel unmetered, stdout 1 MiB, stderr 1 MiB" */
static void limits_words(const nc_policy_limits *l, char *line, size_t line_len)
{
    char mem[32], out[32], err[32], fuel[32];
    fmt_size(l->memory_bytes, mem, sizeof mem);
    fmt_size(l->stdout_bytes, out, sizeof out);
    fmt_size(l->stderr_bytes, err, sizeof err);
    if (l->fuel)
        snprintf(fuel, sizeof fuel, "%llu", (unsigned long long)l->fuel);
    else
        snprintf(fuel, sizeof fuel, "unmetered");
    snprintf(line, line_len, "timeout %llu ms, memory %s, fuel %s, stdout %s, stderr %s",
             (unsigned long long)l->timeout_ms, mem, fuel, out, err);
}

json_t *nc_approver_describe_approval(const nc_statement *st, const char *policy, const json_t *sub)
{
    json_t *pairs = json_array();
    char hex[NC_SHA256_HEX_LEN + 1], line[1024], a[64], b[64], c[64];
    if (!pairs)
        return NULL;
    a[0] = '\0';
    nc_hex(st->sha256, NC_SHA256_LEN, hex);
    add(pairs, "module", st->name);
    add(pairs, "sha256", hex);
    add(pairs, "submission", st->submission);
    const json_t *drift = json_object_get(sub, "drift"), *threat = json_object_get(sub, "threat");
    if (sub && (drift || threat)) {
        const char *ds = json_string_value(json_object_get(drift, "state"));
        snprintf(line, sizeof line, "drift %s, threat score %lld/100", ds ? ds : "-",
                 (long long)json_integer_value(json_object_get(threat, "score")));
        add(pairs, "review", line);
    }
    if (st->policy[0])
        snprintf(line, sizeof line, "%s, version %llu", st->policy, (unsigned long long)st->policy_version);
    else
        snprintf(line, sizeof line, "%s", policy ? policy : "-");
    add(pairs, "policy", line);
    /* The tier is signed: the human sees which one every run will get. */
    const char *iso = st->isolation[0] ? st->isolation : "process";
    snprintf(line, sizeof line, "%s (%s)", iso,
             strcmp(iso, "vm") == 0 ? "each run in its own throw-away microVM, never in a weaker tier"
                                    : "each run in a locked-down child process");
    add(pairs, "isolation", line);
    snprintf(line, sizeof line, "args %s, stdin %s", st->caps.args ? "yes" : "no", st->caps.stdin ? "yes" : "no");
    if (st->caps.nenv == 0)
        snprintf(line + strlen(line), sizeof line - strlen(line), ", no environment");
    for (size_t i = 0; i < st->caps.nenv; i++)
        snprintf(line + strlen(line), sizeof line - strlen(line), ", env %s=%s", st->caps.env[i].key,
                 st->caps.env[i].value);
    if (st->caps.ndirs == 0)
        snprintf(line + strlen(line), sizeof line - strlen(line), ", no directories");
    add(pairs, "capabilities", line);
    for (size_t i = 0; i < st->caps.ndirs; i++) {
        const nc_cap_dir *d = &st->caps.dirs[i];
        snprintf(line, sizeof line, "%s as %s, %s", d->host, d->guest, d->readonly ? "read-only" : "READ-WRITE");
        if (!d->readonly && (d->quota_bytes || d->quota_files)) {
            fmt_size(d->quota_bytes, a, sizeof a);
            snprintf(line + strlen(line), sizeof line - strlen(line), ", may add %s%s and %llu files",
                     d->quota_bytes ? "" : "unlimited bytes", d->quota_bytes ? a : "",
                     (unsigned long long)d->quota_files);
        } else if (!d->readonly) {
            snprintf(line + strlen(line), sizeof line - strlen(line), ", no write quota");
        }
        if (d->ino)
            snprintf(line + strlen(line), sizeof line - strlen(line), " (device %llu, inode %llu)",
                     (unsigned long long)d->dev, (unsigned long long)d->ino);
        add(pairs, "directory", line);
    }
    limits_words(&st->limits, line, sizeof line);
    add(pairs, "limits", line);
    snprintf(line, sizeof line, "at most %llu", (unsigned long long)st->max_runs);
    add(pairs, "runs", line);
    fmt_time(st->not_before, a, sizeof a);
    fmt_time(st->expires_at, b, sizeof b);
    fmt_span(st->expires_at > st->not_before ? st->expires_at - st->not_before : 0, c, sizeof c);
    snprintf(line, sizeof line, "%s to %s (%s)", a, b, c);
    add(pairs, "valid", line);
    line[0] = '\0';
    for (size_t i = 0; i < st->ninvokers; i++)
        snprintf(line + strlen(line), sizeof line - strlen(line), "%s%s", i ? ", " : "", st->invokers[i]);
    add(pairs, "may run it", line);
    add(pairs, "approver", st->approver);
    add(pairs, "worker", st->worker);
    return pairs;
}

json_t *nc_approver_describe_trust_add(const nc_admin_statement *st)
{
    json_t *pairs = json_array();
    char fp[NC_SSHKEY_FINGERPRINT_LEN] = "?", line[512], a[64], b[64];
    if (!pairs)
        return NULL;
    if (nc_sshkey_fingerprint(&st->key, fp) != NC_OK)
        fp[0] = '?';
    add(pairs, "action", "trust a new approver key");
    snprintf(line, sizeof line, "%s %s", nc_sshkey_type_name(st->key.type), fp);
    add(pairs, "key", line);
    add(pairs, "principal", st->principal);
    add(pairs, "may", st->admin ? "approve modules and sign trust and policy changes (admin)"
                                : "approve modules (not trust or policy changes)");
    if (st->key.type == NC_SSHKEY_SK_ED25519)
        add(pairs, "security key", st->require_verification ? "touch and PIN on every signature"
                                                            : "touch on every signature");
    else
        add(pairs, "security key", "no: protect it with a passphrase");
    snprintf(line, sizeof line, "%llu", (unsigned long long)st->trust_version);
    add(pairs, "trust store", line);
    fmt_time(st->issued_at, a, sizeof a);
    fmt_time(st->expires_at, b, sizeof b);
    snprintf(line, sizeof line, "%s to %s (the statement; the key stays trusted until revoked)", a, b);
    add(pairs, "valid", line);
    add(pairs, "approver", st->approver);
    add(pairs, "worker", st->worker);
    return pairs;
}

json_t *nc_approver_describe_policy_set(const nc_admin_statement *st, const char *why)
{
    const nc_policy *p = &st->policy;
    json_t *pairs = json_array();
    char line[1024], a[64], b[64];
    if (!pairs)
        return NULL;
    snprintf(line, sizeof line, "%s policy %s (version %llu)%s%s", st->policy_version == 1 ? "add" : "change",
             p->name, (unsigned long long)st->policy_version, why ? ": widens " : "", why ? why : "");
    add(pairs, "action", line);
    if (p->description[0])
        add(pairs, "description", p->description);
    add(pairs, "isolation", p->isolation[0] ? p->isolation : "process");
    add(pairs, "approvals by", p->require_key == NC_KEYREQ_SECURITY_KEY_PIN ? "a security key, touch and PIN"
                               : p->require_key == NC_KEYREQ_SECURITY_KEY ? "a security key (touch)"
                                                                          : "any trusted approver key");
    snprintf(line, sizeof line, "args %s, stdin %s", p->caps.args ? "yes" : "no", p->caps.stdin ? "yes" : "no");
    for (size_t i = 0; i < p->caps.nenv; i++)
        snprintf(line + strlen(line), sizeof line - strlen(line), ", env %s=%s", p->caps.env[i].key,
                 p->caps.env[i].value ? p->caps.env[i].value : "(the approver's choice)");
    add(pairs, "may grant", line);
    for (size_t i = 0; i < p->caps.ndirs; i++) {
        const nc_cap_dir *d = &p->caps.dirs[i];
        snprintf(line, sizeof line, "%s (or beneath it) as %s, %s", d->host, d->guest,
                 d->readonly ? "read-only" : "READ-WRITE");
        if (!d->readonly && (d->quota_bytes || d->quota_files)) {
            fmt_size(d->quota_bytes, a, sizeof a);
            snprintf(line + strlen(line), sizeof line - strlen(line), ", quota %s and %llu files",
                     d->quota_bytes ? a : "unlimited bytes", (unsigned long long)d->quota_files);
        }
        add(pairs, "directory", line);
    }
    limits_words(&p->limits, line, sizeof line);
    add(pairs, "limits", line);
    fmt_time(st->issued_at, a, sizeof a);
    fmt_time(st->expires_at, b, sizeof b);
    snprintf(line, sizeof line, "%s to %s (the statement)", a, b);
    add(pairs, "valid", line);
    add(pairs, "approver", st->approver);
    add(pairs, "worker", st->worker);
    return pairs;
}

/* ---- without a terminal ---- */

nc_err nc_approver_may_sign_unattended(const nc_approver_key_info *k, bool passphrase_given, bool dev_mode, char *msg,
                                       size_t msg_len)
{
    switch (k->protection) {
    case NC_KEYPROT_FIDO:
        return NC_OK;   /* the touch is the human act; the worker requires its flag */
    case NC_KEYPROT_PASSPHRASE:
        if (passphrase_given)
            return NC_OK;
        snprintf(msg, msg_len, "type the key's passphrase: the console signs only with a passphrase typed now or a "
                 "security key's touch");
        return NC_ERR_UNAUTHORIZED;
    case NC_KEYPROT_NONE:
        if (dev_mode)
            return NC_OK;
        snprintf(msg, msg_len, "the approver key %s has no passphrase, so any process of this user could sign with "
                 "it: the console refuses to. Sign on a terminal (`nightcore approve`), give the key a passphrase "
                 "(`ssh-keygen -p -f KEY`), or use a security key", k->fingerprint);
        return NC_ERR_UNAUTHORIZED;
    case NC_KEYPROT_UNKNOWN:
        break;
    }
    snprintf(msg, msg_len, "the approver key %s is a public key whose private half is not in a file here (ssh-agent?): "
             "the console does not sign through ssh-agent. Sign on a terminal (`nightcore approve`) or configure a "
             "passphrase-protected key file or a security key", k->fingerprint);
    return NC_ERR_UNAUTHORIZED;
}
