/* Policies and grants (docs/policies.md). Policies live in the trust ledger
 * (trust/ledger.h), replayed from the audit log: the built-ins, and operator
 * policies added with a signed admin statement (or narrowed without one).
 * The worker writes policies/NAME.json for reading; it never reads them back.
 *
 * Grants: what an approval gives a module, built here for approval.prepare
 * within the chosen policy's ceiling, every host directory resolved now
 * (absolute, no symlink component, a directory, outside the home) and
 * recorded by device and inode, so a run can tell it is still the same one. */
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/fs.h"
#include "common/json.h"
#include "trust/admin.h"
#include "trust/ledger.h"
#include "trust/verify.h"
#include "worker/worker.h"

/* ---- the files (for people; never read back) ---- */

static nc_err policy_file_text(const nc_policy *p, char **text, size_t *len)
{
    json_t *o = nc_policy_to_json(p);
    if (!o || json_object_set_new(o, "version", json_integer((json_int_t)p->version)) != 0) {
        json_decref(o);
        return NC_ERR_NOMEM;
    }
    *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    if (!*text)
        return NC_ERR_NOMEM;
    *len = strlen(*text);
    return NC_OK;
}

static void write_policy_files(nc_worker *w)
{
    char dir[4096], path[4200];
    if (nc_home_path(&w->home, "policies", dir, sizeof dir) != NC_OK || nc_mkdir_p(dir, 0700) != NC_OK)
        return;
    for (size_t i = 0; i < nc_ledger_policy_count(w->ledger); i++) {
        const nc_policy *p = nc_ledger_policy_at(w->ledger, i);
        char *text;
        size_t len;
        snprintf(path, sizeof path, "%s/%s.json", dir, p->name);
        if (policy_file_text(p, &text, &len) == NC_OK) {
            if (nc_write_file_atomic(path, text, len, 0644) != NC_OK)
                fprintf(stderr, "nightcore-worker: cannot write %s\n", path);
            free(text);
        }
    }
}

static void remove_policy_file(nc_worker *w, const char *name)
{
    char path[4200];
    if (nc_home_path(&w->home, "policies", path, sizeof path) == NC_OK) {
        size_t n = strlen(path);
        snprintf(path + n, sizeof path - n, "/%s.json", name);
        unlink(path);
    }
}

/* The name of a policies/ file that says something else than the ledger. */
static bool files_differ(nc_worker *w, char *which, size_t which_len)
{
    char dir[4096], path[4200];
    if (nc_home_path(&w->home, "policies", dir, sizeof dir) != NC_OK)
        return false;
    for (size_t i = 0; i < nc_ledger_policy_count(w->ledger); i++) {
        const nc_policy *p = nc_ledger_policy_at(w->ledger, i);
        char *text;
        size_t len, flen = 0;
        uint8_t *data = NULL;
        snprintf(path, sizeof path, "%s/%s.json", dir, p->name);
        if (policy_file_text(p, &text, &len) != NC_OK)
            continue;
        bool same = nc_read_file(path, NC_POLICY_MAX_FILE_BYTES, &data, &flen) == NC_OK && flen == len &&
                    memcmp(data, text, len) == 0;
        free(text);
        free(data);
        if (!same) {
            snprintf(which, which_len, "policies/%s.json", p->name);
            return true;
        }
    }
    return false;
}

json_t *nc_worker_policy_json(const nc_policy *p, bool builtin)
{
    json_t *o = nc_policy_to_json(p);
    if (o) {
        json_object_set_new(o, "version", json_integer((json_int_t)p->version));
        json_object_set_new(o, "builtin", json_boolean(builtin));
    }
    return o;
}

/* ---- ops ---- */

void nc_op_policy_list(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {NULL};
    nc_worker *w = c->w;
    char which[128];
    if (!nc_params_ok(c, id, req, p))
        return;
    json_t *items = json_array();
    for (size_t i = 0; i < nc_policy_builtin_count(); i++) {
        const nc_policy *b = nc_policy_builtin_at(i);
        if (nc_ledger_policy(w->ledger, b->name) == b)
            json_array_append_new(items, nc_worker_policy_json(b, true));
    }
    for (size_t i = 0; i < nc_ledger_policy_count(w->ledger); i++)
        json_array_append_new(items, nc_worker_policy_json(nc_ledger_policy_at(w->ledger, i), false));
    char problem[300] = "";
    if (files_differ(w, which, sizeof which))
        snprintf(problem, sizeof problem, "%s was edited outside Night Core: it has no effect (the signed version "
                 "applies) and is written again at the next policy change", which);
    nc_reply(c, id, json_pack("{s:o, s:s?}", "items", items, "problem", problem[0] ? problem : NULL));
}

void nc_op_policy_get(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"name", NULL};
    if (!nc_params_ok(c, id, req, p))
        return;
    const char *name = nc_str_param(req, "name");
    const nc_policy *pol = name ? nc_ledger_policy(c->w->ledger, name) : NULL;
    if (!pol) {
        nc_reply_error(c, id, NC_ERR_NOT_FOUND, "no policy named %.64s (see `nightcore policy list`)",
                       name ? name : "(none)");
        return;
    }
    nc_reply(c, id, nc_worker_policy_json(pol, nc_policy_builtin(pol->name) == pol));
}

/* The policy in a request: {policy: {...}} as a policy file says it. */
static bool policy_param(nc_client *c, json_t *id, json_t *req, nc_policy *out)
{
    char msg[512];
    const json_t *o = json_object_get(req, "policy");
    if (!o || nc_policy_from_json(o, out, msg, sizeof msg) != NC_OK) {
        nc_reply_error(c, id, NC_ERR_USAGE, "policy: %s", o ? msg : "missing (the policy file's object)");
        return false;
    }
    if (nc_policy_builtin(out->name)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "%s is a built-in policy: choose another name", out->name);
        nc_policy_cleanup(out);
        return false;
    }
    return true;
}

void nc_op_policy_prepare(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"policy", "approver", "expires_in_s", NULL};
    nc_worker *w = c->w;
    nc_admin_statement st;
    nc_trust_store ts;
    int64_t valid;
    char msg[1024], *text = NULL;
    size_t len;
    memset(&st, 0, sizeof st);
    if (!nc_params_ok(c, id, req, p) ||
        !nc_int_param(c, id, req, "expires_in_s", NC_ADMIN_DEFAULT_VALID_S, 60, NC_ADMIN_MAX_VALID_S, &valid) ||
        !policy_param(c, id, req, &st.policy))
        return;
    const char *approver = nc_str_param(req, "approver");
    if (!approver || !nc_principal_ok(approver)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "policy.prepare needs approver: a principal of your admin key");
        goto done;
    }
    nc_err err = nc_worker_trust_load(w, &ts, msg, sizeof msg);
    if (err != NC_OK) {
        nc_reply_error(c, id, err, "%s", msg);
        goto done;
    }
    st.trust_version = ts.version;
    nc_trust_cleanup(&ts);
    const nc_policy *cur = nc_ledger_policy(w->ledger, st.policy.name);
    const char *widens = nc_policy_widens(cur, &st.policy);
    st.kind = NC_ADMIN_POLICY_SET;
    st.policy_version = nc_ledger_policy_next_version(w->ledger, st.policy.name);
    snprintf(st.approver, sizeof st.approver, "%s", approver);
    snprintf(st.worker, sizeof st.worker, "%s", w->worker_id);
    st.issued_at = (uint64_t)nc_unix_now();
    st.expires_at = st.issued_at + (uint64_t)valid;
    randombytes_buf(st.nonce, sizeof st.nonce);
    if (nc_admin_build(&st, &text, &len, msg, sizeof msg) != NC_OK) {
        nc_reply_error(c, id, NC_ERR_USAGE, "%s", msg);
        goto done;
    }
    nc_reply(c, id, json_pack("{s:s%, s:{s:s, s:s, s:I, s:o, s:s?, s:O?}}", "statement", text, len, "summary", "action",
                              "policy.set", "name", st.policy.name, "version", (json_int_t)st.policy_version,
                              "widens", json_boolean(widens != NULL), "why", widens, "current",
                              cur ? nc_worker_policy_json(cur, nc_policy_builtin(cur->name) == cur) : NULL));
    free(text);
done:
    nc_admin_cleanup(&st);
}

void nc_op_policy_add(nc_client *c, json_t *id, json_t *req)
{
    static const char *const signed_p[] = {"statement", "signature", NULL};
    static const char *const plain_p[] = {"policy", NULL};
    nc_worker *w = c->w;
    char msg[1024];
    json_t *stmt = json_object_get(req, "statement"), *sig = json_object_get(req, "signature");
    nc_policy pol;
    json_t *fields = NULL;
    memset(&pol, 0, sizeof pol);
    if (!stmt && !sig) {
        /* unsigned: only a narrowing of an existing policy */
        if (!nc_params_ok(c, id, req, plain_p) || !policy_param(c, id, req, &pol))
            return;
        const char *widens = nc_policy_widens(nc_ledger_policy(w->ledger, pol.name), &pol);
        if (widens) {
            nc_reply_error(c, id, NC_ERR_SIGNATURE_REQUIRED, "this change raises authority (%s): it takes a statement "
                           "signed by a trusted admin key (`nightcore policy add FILE` prepares and signs it)", widens);
            nc_policy_cleanup(&pol);
            return;
        }
        fields = nc_ledger_policy_fields(&pol, nc_ledger_policy_next_version(w->ledger, pol.name), NULL, 0, NULL, 0,
                                         NULL);
    } else {
        if (!nc_params_ok(c, id, req, signed_p))
            return;
        if (!json_is_string(stmt) || !json_is_string(sig)) {
            nc_reply_error(c, id, NC_ERR_USAGE, "policy.add needs statement and signature (strings), from policy.prepare");
            return;
        }
        nc_trust_store ts;
        nc_err err = nc_worker_trust_load(w, &ts, msg, sizeof msg);
        if (err != NC_OK) {
            nc_reply_error(c, id, err, "%s", msg);
            return;
        }
        nc_verify_input in = {
            .statement = (const uint8_t *)json_string_value(stmt), .statement_len = json_string_length(stmt),
            .signature = (const uint8_t *)json_string_value(sig), .signature_len = json_string_length(sig),
            .trust = &ts, .worker_id = w->worker_id, .now = nc_unix_now(),
        };
        nc_verify_admin_output vo;
        err = nc_verify_admin(&in, ts.version, &vo, msg, sizeof msg);
        nc_trust_cleanup(&ts);
        if (err != NC_OK) {
            nc_reply_error(c, id, err, "%s", msg);
            return;
        }
        if (vo.statement.kind != NC_ADMIN_POLICY_SET || nc_policy_builtin(vo.statement.policy.name)) {
            nc_verify_admin_output_cleanup(&vo);
            nc_reply_error(c, id, NC_ERR_STATEMENT, "this admin statement does not set an operator policy");
            return;
        }
        if (vo.statement.policy_version != nc_ledger_policy_next_version(w->ledger, vo.statement.policy.name)) {
            nc_reply_error(c, id, NC_ERR_STALE_STATEMENT, "policy %s changed since the statement was prepared (it "
                           "makes version %llu): prepare and sign it again", vo.statement.policy.name,
                           (unsigned long long)vo.statement.policy_version);
            nc_verify_admin_output_cleanup(&vo);
            return;
        }
        fields = nc_ledger_policy_fields(&vo.statement.policy, vo.statement.policy_version, json_string_value(stmt),
                                         json_string_length(stmt), json_string_value(sig), json_string_length(sig),
                                         vo.key_fingerprint);
        if (nc_policy_copy(&vo.statement.policy, &pol) != NC_OK) {
            json_decref(fields);
            fields = NULL;
        }
        nc_verify_admin_output_cleanup(&vo);
    }
    /* the same content again: nothing to record */
    const nc_policy *same = nc_ledger_policy(w->ledger, pol.name);
    json_t *a = same ? nc_policy_to_json(same) : NULL, *b = nc_policy_to_json(&pol);
    bool unchanged = a && b && json_equal(a, b);
    json_decref(a);
    json_decref(b);
    if (unchanged) {
        json_decref(fields);
        nc_reply(c, id, nc_worker_policy_json(same, false));
        nc_policy_cleanup(&pol);
        return;
    }
    nc_err err = fields ? nc_worker_ledger_record(w, "policy.set", fields, msg, sizeof msg) : NC_ERR_NOMEM;
    if (err != NC_OK) {
        nc_reply_error(c, id, err, "%s", err == NC_ERR_NOMEM ? "out of memory" : msg);
        nc_policy_cleanup(&pol);
        return;
    }
    write_policy_files(w);
    const nc_policy *now = nc_ledger_policy(w->ledger, pol.name);
    nc_emit(w, "policy.changed", json_pack("{s:s, s:s, s:I}", "action", "set", "name", pol.name, "version",
                                           (json_int_t)(now ? now->version : 0)));
    nc_reply(c, id, nc_worker_policy_json(now, false));
    nc_policy_cleanup(&pol);
}

void nc_op_policy_remove(nc_client *c, json_t *id, json_t *req)
{
    static const char *const p[] = {"name", NULL};
    nc_worker *w = c->w;
    char msg[512];
    if (!nc_params_ok(c, id, req, p))
        return;
    const char *name = nc_str_param(req, "name");
    if (!name || nc_policy_builtin(name)) {
        nc_reply_error(c, id, NC_ERR_USAGE, "name must be an operator policy (the built-ins cannot be removed)");
        return;
    }
    const nc_policy *cur = nc_ledger_policy(w->ledger, name);
    if (!cur) {
        nc_reply_error(c, id, NC_ERR_NOT_FOUND, "no policy named %.64s", name);
        return;
    }
    uint64_t version = cur->version;
    char keep[NC_POLICY_MAX_NAME + 1];
    snprintf(keep, sizeof keep, "%s", name);
    nc_err err = nc_worker_ledger_record(w, "policy.remove", json_pack("{s:s, s:I}", "name", keep, "version", (json_int_t)version),
                               msg, sizeof msg);
    if (err != NC_OK) {
        nc_reply_error(c, id, err, "%s", msg);
        return;
    }
    remove_policy_file(w, keep);
    nc_emit(w, "policy.changed", json_pack("{s:s, s:s}", "action", "remove", "name", keep));
    nc_reply(c, id, json_pack("{s:s, s:b}", "name", keep, "removed", 1));
}

/* ---- grants ---- */

/* The host directory as approved: the path must already be its own real
 * path (absolute, no symlink component, no . or ..), a directory, and
 * neither the home, inside it, nor a parent of it. */
static nc_err resolve_dir(nc_worker *w, nc_cap_dir *d, char *msg, size_t msg_len)
{
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(d->host, real)) {
        snprintf(msg, msg_len, "directory %.300s: %s", d->host, strerror(errno));
        return NC_ERR_CAPABILITY_DENIED;
    }
    if (strcmp(real, d->host) != 0) {
        snprintf(msg, msg_len, "directory %.300s is reached through a symbolic link (it is %.300s): grant the real "
                 "path", d->host, real);
        return NC_ERR_CAPABILITY_DENIED;
    }
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(msg, msg_len, "%.300s is not a directory", d->host);
        return NC_ERR_CAPABILITY_DENIED;
    }
    if (nc_path_within(w->home.root, real) || nc_path_within(real, w->home.root)) {
        snprintf(msg, msg_len, "directory %.300s is the Night Core home, inside it, or one of its parents: never "
                 "granted", d->host);
        return NC_ERR_CAPABILITY_DENIED;
    }
    d->dev = (uint64_t)st.st_dev;
    d->ino = (uint64_t)st.st_ino;
    return NC_OK;
}

/* A rw grant without its own quota takes the ceiling directory's. */
static void default_quota(nc_cap_dir *d, const nc_caps *ceiling)
{
    if (d->readonly)
        return;
    for (size_t j = 0; j < ceiling->ndirs; j++) {
        const nc_cap_dir *c = &ceiling->dirs[j];
        if (!c->readonly && nc_path_within(d->host, c->host)) {
            if (!d->quota_bytes)
                d->quota_bytes = c->quota_bytes;
            if (!d->quota_files)
                d->quota_files = c->quota_files;
            return;
        }
    }
}

static nc_err take_part(const json_t *src, const char *key, nc_caps *out, char *msg, size_t msg_len)
{
    json_t *one = json_pack("{s:O}", key, json_object_get(src, key));
    nc_caps part;
    nc_err err = one ? nc_caps_from_json(one, &part, msg, msg_len) : NC_ERR_NOMEM;
    json_decref(one);
    if (err != NC_OK)
        return err;
    if (strcmp(key, "dirs") == 0) {
        for (size_t i = 0; i < out->ndirs; i++) {
            free(out->dirs[i].host);
            free(out->dirs[i].guest);
        }
        free(out->dirs);
        out->dirs = part.dirs;
        out->ndirs = part.ndirs;
        part.dirs = NULL;
        part.ndirs = 0;
    } else {
        for (size_t i = 0; i < out->nenv; i++) {
            free(out->env[i].key);
            free(out->env[i].value);
        }
        free(out->env);
        out->env = part.env;
        out->nenv = part.nenv;
        part.env = NULL;
        part.nenv = 0;
    }
    nc_caps_cleanup(&part);
    return NC_OK;
}

nc_err nc_worker_build_grant(nc_worker *w, const nc_policy *pol, const json_t *grants, bool grant_requested,
                             const json_t *requested, nc_caps *out, char *msg, size_t msg_len)
{
    nc_err err;
    memset(out, 0, sizeof *out);
    if (grant_requested) {
        /* exactly what the submission asked for */
        err = nc_caps_from_json(requested ? requested : json_object(), out, msg, msg_len);
        if (err != NC_OK)
            return err;
    } else {
        /* the policy's own, without the env values the approver must choose */
        err = nc_caps_copy(&pol->caps, out);
        if (err != NC_OK)
            return err;
        size_t k = 0;
        for (size_t i = 0; i < out->nenv; i++) {
            if (out->env[i].value)
                out->env[k++] = out->env[i];
            else
                free(out->env[i].key);
        }
        out->nenv = k;
    }
    if (grants) {
        const json_t *v;
        if ((v = json_object_get(grants, "args"))) {
            if (!json_is_boolean(v))
                goto bad;
            out->args = out->args && json_is_true(v);
        }
        if ((v = json_object_get(grants, "stdin"))) {
            if (!json_is_boolean(v))
                goto bad;
            out->stdin = out->stdin && json_is_true(v);
        }
        if (json_object_get(grants, "dirs") && (err = take_part(grants, "dirs", out, msg, msg_len)) != NC_OK)
            goto fail;
        if (json_object_get(grants, "env") && (err = take_part(grants, "env", out, msg, msg_len)) != NC_OK)
            goto fail;
    }
    for (size_t i = 0; i < out->ndirs; i++) {
        out->dirs[i].dev = out->dirs[i].ino = 0;
        default_quota(&out->dirs[i], &pol->caps);
    }
    if ((err = nc_caps_grant_within(out, &pol->caps, msg, msg_len)) != NC_OK)
        goto fail;
    for (size_t i = 0; i < out->ndirs; i++)
        if ((err = resolve_dir(w, &out->dirs[i], msg, msg_len)) != NC_OK)
            goto fail;
    return NC_OK;
bad:
    snprintf(msg, msg_len, "grants: args and stdin must be true or false");
    err = NC_ERR_USAGE;
fail:
    nc_caps_cleanup(out);
    return err;
}

/* A run: every granted directory must still be the one approved (the
 * sandbox refuses otherwise); nothing else to check here. The statement's
 * policy: the current version of that policy must still allow what the
 * statement grants when it is handed over (approval.submit). */
nc_err nc_worker_check_statement_policy(nc_worker *w, const nc_statement *st, nc_sshkey_type key_type,
                                        uint8_t sk_flags, const nc_policy **out, char *msg, size_t msg_len)
{
    char inner[512];
    *out = NULL;
    const nc_policy *pol = NULL;
    if (st->policy[0]) {
        pol = nc_ledger_policy(w->ledger, st->policy);
        if (!pol) {
            snprintf(msg, msg_len, "the statement names policy %s, which does not exist (any more)", st->policy);
            return NC_ERR_CAPABILITY_DENIED;
        }
        if (pol->version != st->policy_version) {
            snprintf(msg, msg_len, "policy %s is at version %llu; the statement was checked against version %llu: "
                     "prepare and sign it again", st->policy, (unsigned long long)pol->version,
                     (unsigned long long)st->policy_version);
            return NC_ERR_STALE_STATEMENT;
        }
        if (nc_caps_grant_within(&st->caps, &pol->caps, inner, sizeof inner) != NC_OK ||
            nc_limits_within(&st->limits, &pol->limits, inner, sizeof inner) != NC_OK) {
            snprintf(msg, msg_len, "the statement grants more than policy %s allows: %s", st->policy, inner);
            return NC_ERR_CAPABILITY_DENIED;
        }
    } else {
        /* statements from before versioned policies: a built-in ceiling */
        for (size_t i = 0; i < nc_policy_builtin_count() && !pol; i++) {
            const nc_policy *b = nc_policy_builtin_at(i);
            if (nc_caps_grant_within(&st->caps, &b->caps, inner, sizeof inner) == NC_OK &&
                nc_limits_within(&st->limits, &b->limits, inner, sizeof inner) == NC_OK)
                pol = b;
        }
        if (!pol) {
            snprintf(msg, msg_len, "the statement grants more than any built-in policy allows and names no policy");
            return NC_ERR_CAPABILITY_DENIED;
        }
    }
    /* The tier is the policy's: a statement never names a weaker one (nor
     * another: the human approved what the policy says). */
    const char *want = pol->isolation[0] ? pol->isolation : "process";
    if (strcmp(st->isolation[0] ? st->isolation : "process", want) != 0) {
        snprintf(msg, msg_len, "the statement says isolation %s, but policy %s requires %s: prepare and sign it again",
                 st->isolation[0] ? st->isolation : "process", pol->name, want);
        return NC_ERR_CAPABILITY_DENIED;
    }
    nc_tier tier;
    if (nc_tier_from_name(want, &tier) != NC_OK) {
        snprintf(msg, msg_len, "policy %s names an unknown isolation tier %s", pol->name, want);
        return NC_ERR_CAPABILITY_DENIED;
    }
    nc_err terr = nc_sandbox_tier_check(w->sandbox, tier, st->caps.ndirs, inner, sizeof inner);
    if (terr != NC_OK) {
        snprintf(msg, msg_len, "policy %s runs in the %s tier: %s", pol->name, want, inner);
        return terr;
    }
    if (pol->require_key != NC_KEYREQ_ANY) {
        bool sk = key_type == NC_SSHKEY_SK_ED25519;
        bool uv = (sk_flags & NC_SSHSIG_SK_USER_VERIFIED) != 0;
        if (!sk || (pol->require_key == NC_KEYREQ_SECURITY_KEY_PIN && !uv)) {
            snprintf(msg, msg_len, "policy %s requires approvals signed by a security key%s", pol->name,
                     pol->require_key == NC_KEYREQ_SECURITY_KEY_PIN ? " with its PIN (user verification)" : "");
            return NC_ERR_UNTRUSTED_KEY;
        }
    }
    *out = pol;
    return NC_OK;
}

/* For review: which policies allow what the submission asked for. */
static json_t *grantable_one(const nc_policy *p, const nc_caps *req, bool builtin)
{
    char why[300] = "";
    bool ok = nc_caps_grant_within(req, &p->caps, why, sizeof why) == NC_OK;
    return json_pack("{s:s, s:I, s:b, s:b, s:s?}", "policy", p->name, "version", (json_int_t)p->version, "builtin",
                     builtin, "allows_request", ok, "why_not", ok ? NULL : why);
}

json_t *nc_worker_grantable(nc_worker *w, const json_t *requested)
{
    nc_caps req;
    char msg[256];
    json_t *none = json_object(), *out = json_array();
    nc_err err = nc_caps_from_json(requested ? requested : none, &req, msg, sizeof msg);
    json_decref(none);
    if (err != NC_OK || !out)
        return out;
    for (size_t i = 0; i < nc_policy_builtin_count(); i++) {
        const nc_policy *b = nc_policy_builtin_at(i);
        json_array_append_new(out, grantable_one(b, &req, true));
    }
    for (size_t i = 0; i < nc_ledger_policy_count(w->ledger); i++)
        json_array_append_new(out, grantable_one(nc_ledger_policy_at(w->ledger, i), &req, false));
    nc_caps_cleanup(&req);
    return out;
}
