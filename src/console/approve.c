/* Approving from the console. The worker prepares the statement; the console
 * checks it with the approver library the CLI uses (what was asked: module,
 * runs, invokers, validity window, approver), keeps it, and shows it in
 * words. Signing then names that kept statement by its id, so a page can
 * never get something else signed, and needs a fresh human act: the
 * passphrase of a passphrase-protected key typed now, or a security key's
 * touch. A key without a passphrase signs only when the worker runs in
 * development mode; ssh-agent is never used (nc_approver_may_sign_unattended).
 * The worker verifies the signed approval as always. */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "approver/approver.h"
#include "common/hash.h"
#include "common/json.h"
#include "common/limits.h"
#include "console/console.h"
#include "policy/policy.h"
#include "trust/admin.h"
#include "trust/sign.h"
#include "trust/sshsig.h"
#include "trust/statement.h"

#define MAX_EXPIRES_S (366ll * 86400)
#define PENDING_MAX 32u
#define PENDING_TTL_S 3600

/* Statements prepared and checked here, waiting for a signature. */
typedef struct {
    bool used;
    int64_t created;
    char id[NC_SHA256_HEX_LEN + 1];
    char submission[NC_ID_MAX + 1];
    char policy[80];
    char *statement;
    size_t len;
} pending;

static pending pendings[PENDING_MAX];
static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;

static void pending_put(const char *id, const char *sid, const char *policy, const char *stmt, size_t len)
{
    int64_t now = (int64_t)time(NULL);
    pthread_mutex_lock(&pending_lock);
    pending *slot = NULL;
    for (size_t i = 0; i < PENDING_MAX; i++) {
        pending *p = &pendings[i];
        if (p->used && now - p->created > PENDING_TTL_S) {
            free(p->statement);
            memset(p, 0, sizeof *p);
        }
        if (!p->used && !slot)
            slot = p;
    }
    if (!slot) {   /* full: the oldest goes */
        slot = &pendings[0];
        for (size_t i = 1; i < PENDING_MAX; i++)
            if (pendings[i].created < slot->created)
                slot = &pendings[i];
        free(slot->statement);
        memset(slot, 0, sizeof *slot);
    }
    slot->statement = malloc(len + 1);
    if (slot->statement) {
        memcpy(slot->statement, stmt, len);
        slot->statement[len] = '\0';
        slot->len = len;
        slot->used = true;
        slot->created = now;
        snprintf(slot->id, sizeof slot->id, "%s", id);
        snprintf(slot->submission, sizeof slot->submission, "%s", sid);
        snprintf(slot->policy, sizeof slot->policy, "%s", policy);
    }
    pthread_mutex_unlock(&pending_lock);
}

/* A copy of the kept statement id for submission sid; NULL if none. */
static char *pending_get(const char *id, const char *sid, size_t *len, char *policy, size_t policy_len)
{
    char *copy = NULL;
    pthread_mutex_lock(&pending_lock);
    for (size_t i = 0; i < PENDING_MAX; i++) {
        pending *p = &pendings[i];
        if (p->used && strcmp(p->id, id) == 0 && strcmp(p->submission, sid) == 0 &&
            (int64_t)time(NULL) - p->created <= PENDING_TTL_S) {
            copy = malloc(p->len + 1);
            if (copy) {
                memcpy(copy, p->statement, p->len + 1);
                *len = p->len;
                snprintf(policy, policy_len, "%s", p->policy);
            }
            break;
        }
    }
    pthread_mutex_unlock(&pending_lock);
    return copy;
}

static void pending_drop(const char *id)
{
    pthread_mutex_lock(&pending_lock);
    for (size_t i = 0; i < PENDING_MAX; i++)
        if (pendings[i].used && strcmp(pendings[i].id, id) == 0) {
            free(pendings[i].statement);
            memset(&pendings[i], 0, sizeof pendings[i]);
        }
    pthread_mutex_unlock(&pending_lock);
}

/* ---- the signer: principal, key, how it proves a human ---- */

typedef struct {
    char principal[NC_PRINCIPAL_MAX + 1];
    char key[PATH_MAX];
    nc_approver_key_info info;
    bool have_principal, have_key;
    char problem[512];
} signer;

static void load_signer(const con_ctx *c, signer *s)
{
    json_t *cfg = NULL;
    char def[PATH_MAX];
    memset(s, 0, sizeof *s);
    if (nc_approver_config_load(c->home.config, &cfg, s->problem, sizeof s->problem) != NC_OK)
        return;
    s->have_principal = nc_approver_principal(c->principal_override, cfg, s->principal, sizeof s->principal);
    const char *dflt = NULL;
    if (!c->home.service && nc_home_path(&c->home, NC_HOME_APPROVER_KEY, def, sizeof def) == NC_OK)
        dflt = def;
    if (nc_approver_key_resolve(c->key_override, cfg, dflt, s->key, sizeof s->key, s->problem, sizeof s->problem) ==
            NC_OK &&
        nc_approver_key_inspect(s->key, &s->info, s->problem, sizeof s->problem) == NC_OK)
        s->have_key = true;
    json_decref(cfg);
}

/* The worker's development mode (status.dev_mode); false if it cannot tell. */
static bool worker_dev_mode(const con_ctx *c)
{
    json_t *st = NULL;
    con_call_error err;
    bool dev = false;
    if (con_worker_call(c, "status", NULL, &st, &err) == NC_OK)
        dev = json_is_true(json_object_get(st, "dev_mode"));
    json_decref(st);
    return dev;
}

static json_t *signer_json(const signer *s, bool dev)
{
    char why[512] = "";
    bool may_without = false, needs_passphrase = false;
    if (s->have_key) {
        may_without = nc_approver_may_sign_unattended(&s->info, false, dev, why, sizeof why) == NC_OK;
        needs_passphrase = s->info.protection == NC_KEYPROT_PASSPHRASE;
        if (!may_without && needs_passphrase)
            why[0] = '\0';
    }
    return json_pack("{s:s?, s:s?, s:s?, s:s, s:b, s:b, s:b, s:s?}", "principal",
                     s->have_principal ? s->principal : NULL, "key", s->have_key ? s->key : NULL, "fingerprint",
                     s->have_key ? s->info.fingerprint : NULL, "protection",
                     s->have_key ? nc_key_protection_name(s->info.protection) : "none", "needs_passphrase",
                     needs_passphrase, "can_sign", s->have_key && (may_without || needs_passphrase), "dev_mode", dev,
                     "problem", !s->have_key ? s->problem : why[0] ? why : NULL);
}

enum MHD_Result con_api_signer(con_ctx *c, struct MHD_Connection *conn)
{
    signer s;
    load_signer(c, &s);
    return con_send_json(conn, 200, signer_json(&s, worker_dev_mode(c)));
}

/* Adds the prepare body's options to params; NULL message when all are fine. */
static const char *prepare_options(const json_t *o, json_t *params, uint64_t *max_runs, uint64_t *expires,
                                   const char **invokers, size_t *ninvokers, nc_caps *asked, bool *check_dirs,
                                   bool *check_env, bool *no_args, bool *no_stdin)
{
    const json_t *v;
    uint64_t u;
    *max_runs = 10;
    *expires = 86400;
    invokers[0] = "operator";
    *ninvokers = 1;
    if ((v = json_object_get(o, "policy"))) {
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 64)
            return "policy must be a policy name";
        json_object_set(params, "policy", (json_t *)v);
    }
    if ((v = json_object_get(o, "max_runs"))) {
        if (nc_json_uint(v, 1000000000ull, &u) != NC_OK || u == 0)
            return "max_runs must be a whole number from 1 to 1000000000";
        *max_runs = u;
    }
    json_object_set_new(params, "max_runs", json_integer((json_int_t)*max_runs));
    if ((v = json_object_get(o, "expires_in_s"))) {
        if (nc_json_uint(v, (uint64_t)MAX_EXPIRES_S, &u) != NC_OK || u < 60)
            return "expires_in_s must be a whole number of seconds from 60 to 31622400";
        *expires = u;
    }
    json_object_set_new(params, "expires_in_s", json_integer((json_int_t)*expires));
    if ((v = json_object_get(o, "invokers"))) {
        if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > NC_MAX_INVOKERS)
            return "invokers must list 1-16 of \"operator\", \"agent:NAME\"";
        *ninvokers = 0;
        for (size_t i = 0; i < json_array_size(v); i++) {
            const char *s = json_string_value(json_array_get(v, i));
            if (!s || strlen(s) != json_string_length(json_array_get(v, i)) || !nc_invoker_ok(s))
                return "invokers must list 1-16 of \"operator\", \"agent:NAME\"";
            for (size_t j = 0; j < *ninvokers; j++)
                if (strcmp(invokers[j], s) == 0)
                    return "invokers lists an entry twice";
            invokers[(*ninvokers)++] = s;
        }
    }
    json_t *inv = json_array();
    for (size_t i = 0; inv && i < *ninvokers; i++)
        json_array_append_new(inv, json_string(invokers[i]));
    json_object_set_new(params, "invokers", inv);
    if ((v = json_object_get(o, "grants"))) {
        static const char *const gkeys[] = {"args", "stdin", "dirs", "env", NULL};
        char inner[200];
        if (!json_is_object(v) || nc_json_only_keys(v, gkeys, inner, sizeof inner) != NC_OK)
            return "grants must be an object with args, stdin, dirs, env";
        const json_t *a = json_object_get(v, "args"), *s = json_object_get(v, "stdin");
        if ((a && !json_is_boolean(a)) || (s && !json_is_boolean(s)))
            return "grants.args and grants.stdin must be true or false";
        json_t *part = json_object();
        if (part && json_object_get(v, "dirs"))
            json_object_set(part, "dirs", json_object_get(v, "dirs"));
        if (part && json_object_get(v, "env"))
            json_object_set(part, "env", json_object_get(v, "env"));
        bool ok = part && nc_caps_from_json(part, asked, inner, sizeof inner) == NC_OK;
        json_decref(part);
        if (!ok)
            return "grants: directories must be {host, guest, mode} with absolute paths; env NAME: value";
        *check_dirs = json_object_get(v, "dirs") != NULL;
        *check_env = json_object_get(v, "env") != NULL;
        *no_args = a && json_is_false(a);
        *no_stdin = s && json_is_false(s);
        json_object_set(params, "grants", (json_t *)v);
    }
    return NULL;
}

enum MHD_Result con_api_prepare(con_ctx *c, struct MHD_Connection *conn, const char *sid, const char *body,
                                size_t body_len)
{
    static const char *const keys[] = {"policy", "max_runs", "expires_in_s", "invokers", "grants", NULL};
    enum MHD_Result ret = MHD_NO;
    char msg[512] = "";
    json_t *o = NULL, *params = NULL, *res = NULL, *sub = NULL;
    nc_statement st;
    con_call_error err;
    signer s;
    nc_caps asked;
    bool check_dirs = false, check_env = false, no_args = false, no_stdin = false;
    memset(&st, 0, sizeof st);
    memset(&asked, 0, sizeof asked);

    o = con_parse_body(conn, body, body_len, keys, &ret);
    if (!o)
        goto done;
    load_signer(c, &s);
    if (!s.have_principal) {
        ret = con_send_error(conn, 409, "no_principal",
                             "no approver principal: set \"principal\" in config.json (`nightcore init` records one) "
                             "or start the console with --principal");
        goto done;
    }
    params = json_pack("{s:s, s:s}", "submission", sid, "approver", s.principal);
    if (!params) {
        ret = con_send_error(conn, 500, "internal", "out of memory");
        goto done;
    }
    uint64_t max_runs, expires;
    const char *invokers[NC_MAX_INVOKERS];
    size_t ninvokers;
    const char *bad = prepare_options(o, params, &max_runs, &expires, invokers, &ninvokers, &asked, &check_dirs,
                                      &check_env, &no_args, &no_stdin);
    if (bad) {
        ret = con_send_error(conn, 400, "invalid_request", "%s", bad);
        goto done;
    }
    if (con_worker_call(c, "submission.get", json_pack("{s:s}", "submission", sid), &sub, &err) != NC_OK) {
        ret = con_send_call_error(conn, &err);
        goto done;
    }
    nc_err e = con_worker_call(c, "approval.prepare", params, &res, &err);
    params = NULL;
    if (e != NC_OK) {
        ret = con_send_call_error(conn, &err);
        goto done;
    }
    /* What we will be asked to sign: check it says what was asked. */
    const json_t *sj = json_object_get(res, "statement");
    if (!json_is_string(sj) ||
        nc_statement_parse(json_string_value(sj), json_string_length(sj), &st, msg, sizeof msg) != NC_OK) {
        ret = con_send_error(conn, 502, "worker_error", "the worker prepared a statement this console cannot read");
        goto done;
    }
    nc_approval_request rq = {
        .submission = sid, .name = json_string_value(json_object_get(sub, "name")),
        .sha256 = json_string_value(json_object_get(sub, "sha256")), .max_runs = max_runs, .expires_in = expires,
        .invokers = invokers, .ninvokers = ninvokers, .principal = s.principal, .grant = &asked,
        .check_dirs = check_dirs, .check_env = check_env, .no_args = no_args, .no_stdin = no_stdin,
    };
    bad = nc_approver_check_approval(&st, &rq, (int64_t)time(NULL));
    if (bad) {
        ret = con_send_error(conn, 502, "worker_error", "the worker prepared a statement that does not match the "
                             "request: %s", bad);
        goto done;
    }
    char id[NC_SHA256_HEX_LEN + 1];
    if (nc_statement_id(json_string_value(sj), json_string_length(sj), id) != NC_OK) {
        ret = con_send_error(conn, 500, "internal", "cannot hash the statement");
        goto done;
    }
    const char *policy = json_string_value(json_object_get(json_object_get(res, "summary"), "policy"));
    pending_put(id, sid, policy ? policy : "default", json_string_value(sj), json_string_length(sj));
    json_object_set_new(res, "approval_id", json_string(id));
    json_object_set_new(res, "words", nc_approver_describe_approval(&st, policy, sub));
    json_object_set_new(res, "signer", signer_json(&s, worker_dev_mode(c)));
    ret = con_send_json(conn, 200, res);
    res = NULL;
done:
    nc_statement_cleanup(&st);
    nc_caps_cleanup(&asked);
    json_decref(o);
    json_decref(params);
    json_decref(res);
    json_decref(sub);
    return ret;
}

/* The passphrase out of the body, into sodium memory; the JSON's copy wiped. */
static bool take_passphrase(json_t *o, char **pass, struct MHD_Connection *conn, enum MHD_Result *ret)
{
    json_t *pj = json_object_get(o, "passphrase");
    *pass = NULL;
    if (!pj || json_is_null(pj))
        return true;
    size_t plen = json_is_string(pj) ? json_string_length(pj) : 0;
    bool ok = json_is_string(pj) && plen <= NC_ASKPASS_MAX_BYTES && strlen(json_string_value(pj)) == plen &&
              !strpbrk(json_string_value(pj), "\r\n");
    if (ok && plen) {
        *pass = sodium_malloc(plen + 1);
        if (*pass)
            memcpy(*pass, json_string_value(pj), plen + 1);
    }
    if (json_is_string(pj))
        sodium_memzero((char *)json_string_value(pj), plen);
    if (!ok) {
        *ret = con_send_error(conn, 400, "invalid_request", "passphrase must be text of at most %u bytes on one line",
                              NC_ASKPASS_MAX_BYTES);
        return false;
    }
    if (plen && !*pass) {
        *ret = con_send_error(conn, 500, "internal", "out of memory");
        return false;
    }
    return true;
}

enum MHD_Result con_api_approve(con_ctx *c, struct MHD_Connection *conn, const char *sid, char *body,
                                size_t body_len)
{
    static const char *const keys[] = {"approval_id", "passphrase", NULL};
    enum MHD_Result ret = MHD_NO;
    char msg[512] = "", policy[80] = "";
    char *pass = NULL, *stmt = NULL;   /* pass: sodium_malloc'd */
    size_t stmt_len = 0;
    json_t *o = NULL, *sub = NULL, *res = NULL, *params = NULL;
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    nc_statement st;
    con_call_error err;
    signer s;
    memset(&st, 0, sizeof st);

    o = con_parse_body(conn, body, body_len, keys, &ret);
    if (body)
        sodium_memzero(body, body_len);   /* the passphrase, in the request buffer */
    if (!o || !take_passphrase(o, &pass, conn, &ret))
        goto done;
    const char *aid = json_string_value(json_object_get(o, "approval_id"));
    if (!aid || strlen(aid) != NC_SHA256_HEX_LEN ||
        !(stmt = pending_get(aid, sid, &stmt_len, policy, sizeof policy))) {
        ret = con_send_error(conn, 400, "invalid_request", "approval_id must name a statement this console prepared "
                             "for this submission in the last hour: prepare it again");
        goto done;
    }
    load_signer(c, &s);
    if (!s.have_principal || !s.have_key) {
        ret = con_send_error(conn, 409, "no_key", "%s", s.problem[0] ? s.problem : "no approver principal or key");
        goto done;
    }
    if (nc_approver_may_sign_unattended(&s.info, pass != NULL, worker_dev_mode(c), msg, sizeof msg) != NC_OK) {
        ret = con_send_error(conn, 403, "human_required", "%s", msg);
        goto done;
    }
    if (con_worker_call(c, "submission.get", json_pack("{s:s}", "submission", sid), &sub, &err) != NC_OK) {
        ret = con_send_call_error(conn, &err);
        goto done;
    }
    if (nc_statement_parse(stmt, stmt_len, &st, msg, sizeof msg) != NC_OK) {
        ret = con_send_error(conn, 400, "bad_statement", "not an approval statement: %s", msg);
        goto done;
    }
    /* Again at signing time: the same submission, module and approver, still valid. */
    nc_approval_request rq = {
        .submission = sid, .name = json_string_value(json_object_get(sub, "name")),
        .sha256 = json_string_value(json_object_get(sub, "sha256")), .principal = s.principal,
    };
    const char *bad = nc_approver_check_approval(&st, &rq, (int64_t)time(NULL));
    if (bad) {
        ret = con_send_error(conn, 400, "bad_statement", "%s; not signing it", bad);
        goto done;
    }
    if (nc_sign_with_ssh_keygen_askpass(s.key, NC_SSHSIG_NAMESPACE, stmt, stmt_len, pass, c->self_exe,
                                        CON_SIGN_TIMEOUT_MS, &sig, &sig_len, msg, sizeof msg) != NC_OK) {
        fprintf(stderr, "nightcore-console: signing an approval of %s failed\n", sid);
        ret = con_send_error(conn, 409, "signing_failed", "%s", msg);
        goto done;
    }
    if (pass) {
        sodium_free(pass);
        pass = NULL;
    }
    params = json_pack("{s:s%, s:s%}", "statement", stmt, stmt_len, "signature", (const char *)sig, sig_len);
    if (!params) {
        ret = con_send_error(conn, 500, "internal", "ssh-keygen wrote a signature that is not text");
        goto done;
    }
    /* The worker compiles the module before it answers: the page shows its
     * approval.progress events meanwhile (the event stream). */
    nc_err e = con_worker_call_timeout(c, "approval.submit", params, CON_APPROVE_TIMEOUT_MS, &res, &err);
    params = NULL;
    if (e != NC_OK) {
        ret = con_send_call_error(conn, &err);
        goto done;
    }
    pending_drop(aid);
    fprintf(stderr, "nightcore-console: approved %s\n", sid);
    ret = con_send_json(conn, 200, res);
    res = NULL;
done:
    if (pass)
        sodium_free(pass);
    nc_statement_cleanup(&st);
    json_decref(o);
    json_decref(sub);
    json_decref(res);
    json_decref(params);
    free(stmt);
    free(sig);
    return ret;
}

/* ---- policies, signed as `nightcore policy add` signs them ----
 * The worker prepares the admin statement for the policy the page sent; the
 * console checks it says exactly that policy (nc_approver_check_policy_set),
 * keeps it under its id, and signs only that, under the same human rules as
 * an approval. A change that only narrows needs no signature: the kept
 * policy is set as it is (the worker decides what narrows). */

#define POLICY_PENDING_MAX 8u

typedef struct {
    bool used;
    int64_t created;
    char id[NC_SHA256_HEX_LEN + 1];
    char *statement, *policy;   /* the exact statement; the policy as JSON text */
    size_t len;
    bool widens;
} policy_pending;

static policy_pending ppend[POLICY_PENDING_MAX];

static void ppend_clear(policy_pending *p)
{
    free(p->statement);
    free(p->policy);
    memset(p, 0, sizeof *p);
}

static void ppend_put(const char *id, const char *stmt, size_t len, const json_t *policy, bool widens)
{
    int64_t now = (int64_t)time(NULL);
    pthread_mutex_lock(&pending_lock);
    policy_pending *slot = &ppend[0];
    for (size_t i = 0; i < POLICY_PENDING_MAX; i++) {
        if (ppend[i].used && now - ppend[i].created > PENDING_TTL_S)
            ppend_clear(&ppend[i]);
        if (!ppend[i].used) {
            slot = &ppend[i];
            break;
        }
        if (ppend[i].created < slot->created)
            slot = &ppend[i];
    }
    ppend_clear(slot);
    slot->statement = malloc(len + 1);
    slot->policy = json_dumps(policy, JSON_COMPACT | JSON_SORT_KEYS);
    if (slot->statement && slot->policy) {
        memcpy(slot->statement, stmt, len);
        slot->statement[len] = '\0';
        slot->len = len;
        slot->used = true;
        slot->created = now;
        slot->widens = widens;
        snprintf(slot->id, sizeof slot->id, "%s", id);
    } else {
        ppend_clear(slot);
    }
    pthread_mutex_unlock(&pending_lock);
}

/* Takes the kept statement out (it is used once). */
static bool ppend_take(const char *id, policy_pending *out)
{
    bool found = false;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&pending_lock);
    for (size_t i = 0; i < POLICY_PENDING_MAX; i++)
        if (ppend[i].used && strcmp(ppend[i].id, id) == 0 && (int64_t)time(NULL) - ppend[i].created <= PENDING_TTL_S) {
            *out = ppend[i];
            memset(&ppend[i], 0, sizeof ppend[i]);   /* ownership moves to out */
            found = true;
            break;
        }
    pthread_mutex_unlock(&pending_lock);
    return found;
}

enum MHD_Result con_api_policy_prepare(con_ctx *c, struct MHD_Connection *conn, const char *body, size_t body_len)
{
    static const char *const keys[] = {"policy", NULL};
    enum MHD_Result ret = MHD_NO;
    char msg[512] = "", id[NC_SHA256_HEX_LEN + 1];
    json_t *o = NULL, *obj = NULL, *res = NULL;
    nc_policy want;
    nc_admin_statement st;
    signer s;
    con_call_error err;
    memset(&want, 0, sizeof want);
    memset(&st, 0, sizeof st);

    o = con_parse_body(conn, body, body_len, keys, &ret);
    if (!o)
        goto done;
    if (!json_is_object(json_object_get(o, "policy")) ||
        nc_policy_from_json(json_object_get(o, "policy"), &want, msg, sizeof msg) != NC_OK) {
        ret = con_send_error(conn, 400, "invalid_request", "policy: %s", msg[0] ? msg : "must be a policy object");
        goto done;
    }
    load_signer(c, &s);
    if (!s.have_principal) {
        ret = con_send_error(conn, 409, "no_principal", "no approver principal: set \"principal\" in config.json");
        goto done;
    }
    obj = nc_policy_to_json(&want);
    if (!obj || con_worker_call(c, "policy.prepare", json_pack("{s:O, s:s}", "policy", obj, "approver", s.principal),
                                &res, &err) != NC_OK) {
        ret = obj ? con_send_call_error(conn, &err) : con_send_error(conn, 500, "internal", "out of memory");
        goto done;
    }
    const json_t *sj = json_object_get(res, "statement");
    if (!json_is_string(sj) ||
        nc_admin_parse(json_string_value(sj), json_string_length(sj), &st, msg, sizeof msg) != NC_OK) {
        ret = con_send_error(conn, 502, "worker_error", "the worker prepared a statement this console cannot read");
        goto done;
    }
    const char *bad = nc_approver_check_policy_set(&st, &want, s.principal, (int64_t)time(NULL));
    if (bad) {
        ret = con_send_error(conn, 502, "worker_error", "the statement the worker prepared does not match the policy: "
                             "%s; not keeping it", bad);
        goto done;
    }
    if (nc_statement_id(json_string_value(sj), json_string_length(sj), id) != NC_OK) {
        ret = con_send_error(conn, 500, "internal", "cannot hash the statement");
        goto done;
    }
    const json_t *summary = json_object_get(res, "summary");
    bool widens = !json_is_false(json_object_get(summary, "widens"));
    ppend_put(id, json_string_value(sj), json_string_length(sj), obj, widens);
    json_object_set_new(res, "statement_id", json_string(id));
    json_object_set_new(res, "signature_needed", json_boolean(widens));
    json_object_set_new(res, "words",
                        nc_approver_describe_policy_set(&st, json_string_value(json_object_get(summary, "why"))));
    json_object_set_new(res, "signer", signer_json(&s, worker_dev_mode(c)));
    ret = con_send_json(conn, 200, res);
    res = NULL;
done:
    nc_admin_cleanup(&st);
    nc_policy_cleanup(&want);
    json_decref(o);
    json_decref(obj);
    json_decref(res);
    return ret;
}

enum MHD_Result con_api_policy_sign(con_ctx *c, struct MHD_Connection *conn, char *body, size_t body_len)
{
    static const char *const keys[] = {"statement_id", "passphrase", NULL};
    enum MHD_Result ret = MHD_NO;
    char msg[512] = "";
    char *pass = NULL;
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    json_t *o = NULL, *params = NULL, *policy = NULL;
    policy_pending pp;
    signer s;
    memset(&pp, 0, sizeof pp);

    o = con_parse_body(conn, body, body_len, keys, &ret);
    if (body)
        sodium_memzero(body, body_len);
    if (!o || !take_passphrase(o, &pass, conn, &ret))
        goto done;
    const char *sid = json_string_value(json_object_get(o, "statement_id"));
    if (!sid || strlen(sid) != NC_SHA256_HEX_LEN || !ppend_take(sid, &pp)) {
        ret = con_send_error(conn, 400, "invalid_request", "statement_id must name a policy statement this console "
                             "prepared in the last hour (each is used once): prepare it again");
        goto done;
    }
    if (!pp.widens) {
        /* it only narrows: no signature (the worker refuses it if it does widen) */
        policy = json_loads(pp.policy, 0, NULL);
        params = policy ? json_pack("{s:O}", "policy", policy) : NULL;
    } else {
        load_signer(c, &s);
        if (!s.have_principal || !s.have_key) {
            ret = con_send_error(conn, 409, "no_key", "%s", s.problem[0] ? s.problem : "no approver principal or key");
            goto done;
        }
        if (nc_approver_may_sign_unattended(&s.info, pass != NULL, worker_dev_mode(c), msg, sizeof msg) != NC_OK) {
            ret = con_send_error(conn, 403, "human_required", "%s", msg);
            goto done;
        }
        if (nc_sign_with_ssh_keygen_askpass(s.key, NC_ADMIN_NAMESPACE, pp.statement, pp.len, pass, c->self_exe,
                                            CON_SIGN_TIMEOUT_MS, &sig, &sig_len, msg, sizeof msg) != NC_OK) {
            ret = con_send_error(conn, 409, "signing_failed", "%s", msg);
            goto done;
        }
        params = json_pack("{s:s%, s:s%}", "statement", pp.statement, pp.len, "signature", (const char *)sig, sig_len);
    }
    if (pass) {
        sodium_free(pass);
        pass = NULL;
    }
    if (!params) {
        ret = con_send_error(conn, 500, "internal", "cannot build the request");
        goto done;
    }
    fprintf(stderr, "nightcore-console: setting a policy%s\n", pp.widens ? " (signed)" : " (narrowing, unsigned)");
    ret = con_proxy(c, conn, "policy.add", params);
    params = NULL;
done:
    if (pass)
        sodium_free(pass);
    free(pp.statement);
    free(pp.policy);
    free(sig);
    json_decref(o);
    json_decref(params);
    json_decref(policy);
    return ret;
}
