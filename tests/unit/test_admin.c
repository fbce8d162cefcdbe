/* Authority-raising changes: private key files (how a key is protected),
 * admin statements (strict, canonical), their verification in their own
 * namespace (never interchangeable with approvals), and the trust ledger
 * replayed from audit entries (tampering named). Real ssh-keygen keys. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>
#include "common/fs.h"
#include "trust/admin.h"
#include "trust/ledger.h"
#include "trust/privkey.h"
#include "trust/sign.h"
#include "trust/sshsig.h"
#include "trust/verify.h"

static char dir[] = "/tmp/nc-test-admin-XXXXXX";
static char key_a[4200], key_b[4200], key_p[4200], key_n[4200];   /* admin, approver-only, with passphrase, new */
static int64_t now;

__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static char *read_text(const char *path, size_t *len)
{
    uint8_t *d;
    size_t n;
    if (nc_read_file(path, 1u << 20, &d, &n) != NC_OK)
        return NULL;
    char *s = realloc(d, n + 1);
    s[n] = '\0';
    if (len)
        *len = n;
    return s;
}

static void pubkey(const char *key, nc_sshkey *out)
{
    char path[4300];
    snprintf(path, sizeof path, "%s.pub", key);
    char *line = read_text(path, NULL);
    assert_non_null(line);
    assert_int_equal(nc_sshkey_from_text(line, strcspn(line, "\n"), out, NULL), NC_OK);
    free(line);
}

static int setup(void **state)
{
    (void)state;
    char msg[512];
    if (!mkdtemp(dir))
        return -1;
    snprintf(key_a, sizeof key_a, "%s/a", dir);
    snprintf(key_b, sizeof key_b, "%s/b", dir);
    snprintf(key_p, sizeof key_p, "%s/p", dir);
    snprintf(key_n, sizeof key_n, "%s/n", dir);
    if (nc_keygen_ed25519(key_a, "alice", true, msg, sizeof msg) || nc_keygen_ed25519(key_b, "bob", true, msg, sizeof msg) ||
        nc_keygen_ed25519(key_n, "new", true, msg, sizeof msg) ||
        sh("ssh-keygen -q -t ed25519 -N secret -C p -f %s </dev/null", key_p) != 0)
        return -1;
    now = (int64_t)time(NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return sh("rm -rf %s", dir) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- private key files */

static void test_privkey_real_keys(void **state)
{
    (void)state;
    nc_privkey_info info;
    nc_sshkey pub;
    const char *why;
    assert_int_equal(nc_privkey_info_load(key_a, &info, &why), NC_OK);
    assert_false(info.encrypted);
    assert_string_equal(info.cipher, "none");
    pubkey(key_a, &pub);
    assert_true(nc_sshkey_equal(&info.key, &pub));
    assert_int_equal(nc_key_protection_of(&info.key, &info), NC_KEYPROT_NONE);
    assert_int_equal(nc_privkey_info_load(key_p, &info, &why), NC_OK);
    assert_true(info.encrypted);
    assert_string_equal(info.kdf, "bcrypt");
    assert_int_equal(nc_key_protection_of(&info.key, &info), NC_KEYPROT_PASSPHRASE);
    assert_string_equal(nc_key_protection_name(NC_KEYPROT_PASSPHRASE), "passphrase");
    assert_int_equal(nc_key_protection_of(&pub, NULL), NC_KEYPROT_UNKNOWN);
    char path[4300];
    snprintf(path, sizeof path, "%s/missing", dir);
    assert_int_equal(nc_privkey_info_load(path, &info, &why), NC_ERR_NOT_FOUND);
    snprintf(path, sizeof path, "%s.pub", key_a);   /* a public key is no private key file */
    assert_int_equal(nc_privkey_info_load(path, &info, &why), NC_ERR_MALFORMED);
    assert_non_null(why);
}

/* The container with fields as given, armored. */
static char *container(const char *cipher, const char *kdf, uint32_t nkeys, const nc_sshkey *key, const char *trail)
{
    nc_buf b;
    nc_buf_init(&b, 1u << 16);
    assert_int_equal(nc_buf_append(&b, "openssh-key-v1", 15), NC_OK);
    assert_int_equal(nc_buf_put_string(&b, cipher, strlen(cipher)), NC_OK);
    assert_int_equal(nc_buf_put_string(&b, kdf, strlen(kdf)), NC_OK);
    assert_int_equal(nc_buf_put_string(&b, "", 0), NC_OK);
    assert_int_equal(nc_buf_put_u32be(&b, nkeys), NC_OK);
    assert_int_equal(nc_buf_put_string(&b, key->blob, key->blob_len), NC_OK);
    assert_int_equal(nc_buf_put_string(&b, "private", 7), NC_OK);
    if (trail)
        assert_int_equal(nc_buf_append(&b, trail, strlen(trail)), NC_OK);
    size_t cap = sodium_base64_ENCODED_LEN(b.len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(cap), *out = malloc(cap + 200);
    sodium_bin2base64(b64, cap, b.data, b.len, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap + 200, "-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n-----END OPENSSH PRIVATE KEY-----\n", b64);
    free(b64);
    nc_buf_cleanup(&b);
    return out;
}

static void test_privkey_malformed(void **state)
{
    (void)state;
    nc_privkey_info info;
    nc_sshkey key;
    const char *why;
    pubkey(key_a, &key);
    char *good = container("none", "none", 1, &key, NULL);
    assert_int_equal(nc_privkey_info_parse(good, strlen(good), &info, &why), NC_OK);
    assert_false(info.encrypted);
    char *t;
    t = container("none", "none", 2, &key, NULL);   /* two keys */
    assert_int_equal(nc_privkey_info_parse(t, strlen(t), &info, &why), NC_ERR_MALFORMED);
    free(t);
    t = container("aes256-ctr", "none", 1, &key, NULL);   /* cipher without KDF */
    assert_int_equal(nc_privkey_info_parse(t, strlen(t), &info, &why), NC_ERR_MALFORMED);
    free(t);
    t = container("none", "none", 1, &key, "x");   /* bytes after the body */
    assert_int_equal(nc_privkey_info_parse(t, strlen(t), &info, &why), NC_ERR_MALFORMED);
    free(t);
    t = container("no ne", "none", 1, &key, NULL);   /* a name with a space */
    assert_int_equal(nc_privkey_info_parse(t, strlen(t), &info, &why), NC_ERR_MALFORMED);
    free(t);
    /* truncation at every length of the armored text */
    for (size_t n = 0; n < strlen(good) - 40; n += 7)
        assert_int_not_equal(nc_privkey_info_parse(good, n, &info, &why), NC_OK);
    /* text after the end marker; a NUL; a PEM key; bad base64 */
    size_t gl = strlen(good);
    char *after = malloc(gl + 10);
    snprintf(after, gl + 10, "%sjunk\n", good);
    assert_int_equal(nc_privkey_info_parse(after, strlen(after), &info, &why), NC_ERR_MALFORMED);
    free(after);
    char withnul[64] = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
    assert_int_equal(nc_privkey_info_parse(withnul, sizeof withnul, &info, &why), NC_ERR_MALFORMED);
    static const char pem[] = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    assert_int_equal(nc_privkey_info_parse(pem, sizeof pem - 1, &info, &why), NC_ERR_MALFORMED);
    assert_non_null(strstr(why, "PEM"));
    static const char badb64[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n@@@@\n-----END OPENSSH PRIVATE KEY-----\n";
    assert_int_equal(nc_privkey_info_parse(badb64, sizeof badb64 - 1, &info, &why), NC_ERR_MALFORMED);
    char *huge = calloc(1, NC_PRIVKEY_MAX_FILE_BYTES + 2);
    memset(huge, 'A', NC_PRIVKEY_MAX_FILE_BYTES + 1);
    assert_int_equal(nc_privkey_info_parse(huge, NC_PRIVKEY_MAX_FILE_BYTES + 1, &info, &why), NC_ERR_TOO_LARGE);
    free(huge);
    /* an RSA key in the container: not an accepted type */
    uint8_t rsa_blob[] = {0, 0, 0, 7, 's', 's', 'h', '-', 'r', 's', 'a', 0, 0, 0, 1, 3, 0, 0, 0, 1, 1};
    nc_sshkey fake;
    memset(&fake, 0, sizeof fake);
    memcpy(fake.blob, rsa_blob, sizeof rsa_blob);
    fake.blob_len = sizeof rsa_blob;
    t = container("none", "none", 1, &fake, NULL);
    assert_int_equal(nc_privkey_info_parse(t, strlen(t), &info, &why), NC_ERR_SIG_KEY_TYPE);
    free(t);
    free(good);
}

/* ---------------------------------------------------------------- admin statements */

static void sample(nc_admin_statement *st)
{
    memset(st, 0, sizeof *st);
    st->kind = NC_ADMIN_TRUST_ADD;
    snprintf(st->approver, sizeof st->approver, "alice@example.com");
    snprintf(st->worker, sizeof st->worker, "w_0123456789abcdef");
    snprintf(st->principal, sizeof st->principal, "new@example.com");
    st->issued_at = (uint64_t)now - 5;
    st->expires_at = (uint64_t)now + 3600;
    st->trust_version = 7;
    st->admin = true;
    memset(st->nonce, 3, sizeof st->nonce);
    pubkey(key_n, &st->key);
}

static nc_err parse_text(const char *text, nc_admin_statement *out, char *msg, size_t n)
{
    return nc_admin_parse(text, strlen(text), out, msg, n);
}

static void test_admin_roundtrip_and_strictness(void **state)
{
    (void)state;
    nc_admin_statement st, back;
    char *text = NULL, msg[256];
    size_t len;
    sample(&st);
    assert_int_equal(nc_admin_build(&st, &text, &len, msg, sizeof msg), NC_OK);
    assert_int_equal(nc_admin_parse(text, len, &back, msg, sizeof msg), NC_OK);
    assert_true(nc_sshkey_equal(&back.key, &st.key));
    assert_string_equal(back.principal, "new@example.com");
    assert_true(back.admin);
    assert_int_equal(back.trust_version, 7);
    assert_int_equal(nc_admin_peek_kind(text, len), NC_ADMIN_TRUST_ADD);
    /* not canonical: a space; a key with its comment; another predicate type */
    char *bad = malloc(len + 64);
    snprintf(bad, len + 64, " %s", text);
    assert_int_equal(parse_text(bad, &back, msg, sizeof msg), NC_ERR_STATEMENT);
    struct {
        const char *from, *to, *why;
    } edits[] = {
        {"\"admin\":true", "\"admin\":1", "admin must be true or false"},
        {"urn:nightcore:trust-add:v1", "urn:nightcore:approval:v1", "not an admin statement"},
        {"\"principal\":\"new@example.com\"", "\"principal\":\"new example\"", "principal"},
        {"\"trust_version\":7", "\"trust_version\":7.0", "trust_version"},
        {"\"worker\":", "\"extra\":1,\"worker\":", "unknown"},
        {"\"name\":\"SHA256:", "\"name\":\"SHA256:x", "subject must name the key"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        const char *at = strstr(text, edits[i].from);
        assert_non_null(at);
        snprintf(bad, len + 64, "%.*s%s%s", (int)(at - text), text, edits[i].to, at + strlen(edits[i].from));
        assert_int_equal(parse_text(bad, &back, msg, sizeof msg), NC_ERR_STATEMENT);
        if (!strstr(msg, edits[i].why))
            fail_msg("edit %zu: %s", i, msg);
    }
    free(bad);
    free(text);
    /* fields build refuses, so parse does too */
    sample(&st);
    st.expires_at = st.issued_at + NC_ADMIN_MAX_VALID_S + 1;
    assert_int_equal(nc_admin_build(&st, &text, &len, msg, sizeof msg), NC_ERR_STATEMENT);
    sample(&st);
    st.expires_at = st.issued_at;
    assert_int_equal(nc_admin_build(&st, &text, &len, msg, sizeof msg), NC_ERR_STATEMENT);
    sample(&st);
    snprintf(st.approver, sizeof st.approver, "*");
    assert_int_equal(nc_admin_build(&st, &text, &len, msg, sizeof msg), NC_ERR_STATEMENT);
    assert_int_equal(nc_admin_peek_kind("{}", 2), NC_ADMIN_NONE);
    assert_int_equal(nc_admin_peek_kind("not json", 8), NC_ADMIN_NONE);
}

/* ---------------------------------------------------------------- verification */

/* A trust store in files: key_a as admin, key_b approver-only. */
static void store(nc_trust_store *ts)
{
    char text[2048], tmp[4300];
    nc_sshkey a, b;
    char at[NC_SSHKEY_TEXT_MAX], bt[NC_SSHKEY_TEXT_MAX], inner[256];
    pubkey(key_a, &a);
    pubkey(key_b, &b);
    assert_int_equal(nc_sshkey_to_text(&a, at, sizeof at), NC_OK);
    assert_int_equal(nc_sshkey_to_text(&b, bt, sizeof bt), NC_OK);
    snprintf(text, sizeof text, "alice@example.com namespaces=\"%s\" %s\nbob@example.com namespaces=\"%s\" %s\n",
             NC_TRUST_NAMESPACES_ADMIN, at, NC_TRUST_NAMESPACES_APPROVER, bt);
    memset(ts, 0, sizeof *ts);
    assert_int_equal(nc_allowed_signers_parse(text, strlen(text), &ts->signers, inner, sizeof inner), NC_OK);
    assert_int_equal(nc_revoked_keys_parse("", 0, &ts->revoked, inner, sizeof inner), NC_OK);
    ts->version = 7;
    (void)tmp;
}

static void sign(const char *key, const char *ns, const char *text, size_t len, uint8_t **sig, size_t *sig_len)
{
    char msg[512];
    nc_err err = nc_sign_with_ssh_keygen(key, ns, text, len, sig, sig_len, msg, sizeof msg);
    if (err != NC_OK)
        fail_msg("sign: %s", msg);
}

static nc_err verify(const char *text, size_t len, const uint8_t *sig, size_t sig_len, uint64_t version, char *msg,
                     size_t msg_len)
{
    nc_trust_store ts;
    store(&ts);
    nc_verify_input in = {.statement = (const uint8_t *)text, .statement_len = len, .signature = sig,
                          .signature_len = sig_len, .trust = &ts, .worker_id = "w_0123456789abcdef", .now = now};
    nc_verify_admin_output out;
    nc_err err = nc_verify_admin(&in, version, &out, msg, msg_len);
    nc_trust_cleanup(&ts);
    return err;
}

static void test_admin_verification(void **state)
{
    (void)state;
    nc_admin_statement st;
    char *text = NULL, msg[512];
    size_t len, sig_len;
    uint8_t *sig = NULL;
    sample(&st);
    assert_int_equal(nc_admin_build(&st, &text, &len, msg, sizeof msg), NC_OK);

    sign(key_a, NC_ADMIN_NAMESPACE, text, len, &sig, &sig_len);
    assert_int_equal(verify(text, len, sig, sig_len, 7, msg, sizeof msg), NC_OK);
    assert_int_equal(verify(text, len, sig, sig_len, 0, msg, sizeof msg), NC_OK);
    /* the store changed since it was prepared */
    assert_int_equal(verify(text, len, sig, sig_len, 8, msg, sizeof msg), NC_ERR_STALE_STATEMENT);
    /* an admin signature is never an approval */
    nc_trust_store ts;
    store(&ts);
    nc_verify_input in = {.statement = (const uint8_t *)text, .statement_len = len, .signature = sig,
                          .signature_len = sig_len, .trust = &ts, .worker_id = "w_0123456789abcdef", .now = now,
                          .module = (const uint8_t *)"", .module_len = 0};
    nc_verify_output vo;
    assert_int_equal(nc_verify_approval(&in, &vo, msg, sizeof msg), NC_ERR_SIG_NAMESPACE);
    nc_trust_cleanup(&ts);
    free(sig);

    /* nor is an approval-namespace signature an admin change */
    sign(key_a, NC_SSHSIG_NAMESPACE, text, len, &sig, &sig_len);
    assert_int_equal(verify(text, len, sig, sig_len, 7, msg, sizeof msg), NC_ERR_SIG_NAMESPACE);
    free(sig);
    /* an approver-only key cannot sign trust changes */
    snprintf(st.approver, sizeof st.approver, "bob@example.com");
    free(text);
    assert_int_equal(nc_admin_build(&st, &text, &len, msg, sizeof msg), NC_OK);
    sign(key_b, NC_ADMIN_NAMESPACE, text, len, &sig, &sig_len);
    assert_int_equal(verify(text, len, sig, sig_len, 7, msg, sizeof msg), NC_ERR_UNTRUSTED_KEY);
    assert_non_null(strstr(msg, "admin keys"));
    free(sig);
    /* an untrusted key */
    sign(key_n, NC_ADMIN_NAMESPACE, text, len, &sig, &sig_len);
    assert_int_equal(verify(text, len, sig, sig_len, 7, msg, sizeof msg), NC_ERR_UNTRUSTED_KEY);
    free(sig);
    /* the approver must be the signing key's principal */
    sign(key_a, NC_ADMIN_NAMESPACE, text, len, &sig, &sig_len);
    assert_int_equal(verify(text, len, sig, sig_len, 7, msg, sizeof msg), NC_ERR_NOT_PRINCIPAL);
    free(sig);
    free(text);
    /* expired, another worker, changed bytes */
    sample(&st);
    st.issued_at = (uint64_t)now - 7200;
    st.expires_at = (uint64_t)now - 10;
    assert_int_equal(nc_admin_build(&st, &text, &len, msg, sizeof msg), NC_OK);
    sign(key_a, NC_ADMIN_NAMESPACE, text, len, &sig, &sig_len);
    assert_int_equal(verify(text, len, sig, sig_len, 7, msg, sizeof msg), NC_ERR_EXPIRED);
    free(sig);
    free(text);
    sample(&st);
    snprintf(st.worker, sizeof st.worker, "w_other");
    assert_int_equal(nc_admin_build(&st, &text, &len, msg, sizeof msg), NC_OK);
    sign(key_a, NC_ADMIN_NAMESPACE, text, len, &sig, &sig_len);
    assert_int_equal(verify(text, len, sig, sig_len, 7, msg, sizeof msg), NC_ERR_WRONG_WORKER);
    text[20] ^= 1;
    assert_int_equal(verify(text, len, sig, sig_len, 7, msg, sizeof msg), NC_ERR_BAD_SIGNATURE);
    free(sig);
    free(text);
}

/* ---------------------------------------------------------------- the ledger */

static json_t *entry(json_t *fields, const char *type, uint64_t seq)
{
    json_object_set_new(fields, "type", json_string(type));
    json_object_set_new(fields, "seq", json_integer((json_int_t)seq));
    json_object_set_new(fields, "time", json_integer(now));
    return fields;
}

static void files_of(const nc_trust_ledger *l, nc_trust_store *ts, const char *extra_as, bool drop_revoked)
{
    nc_buf as, rk;
    char inner[256];
    nc_buf_init(&as, 1u << 20);
    nc_buf_init(&rk, 1u << 20);
    assert_int_equal(nc_ledger_render(l, &as, &rk), NC_OK);
    if (extra_as)
        assert_int_equal(nc_buf_append(&as, extra_as, strlen(extra_as)), NC_OK);
    memset(ts, 0, sizeof *ts);
    assert_int_equal(nc_allowed_signers_parse(as.data, as.len, &ts->signers, inner, sizeof inner), NC_OK);
    assert_int_equal(nc_revoked_keys_parse(drop_revoked ? (const void *)"" : (const void *)rk.data,
                                           drop_revoked ? 0 : rk.len, &ts->revoked, inner, sizeof inner),
                     NC_OK);
    nc_buf_cleanup(&as);
    nc_buf_cleanup(&rk);
}

static void test_ledger_replay_and_compare(void **state)
{
    (void)state;
    nc_trust_ledger *l;
    nc_trust_store files, ts;
    char msg[1024], *text;
    size_t len, sig_len;
    uint8_t *sig;
    assert_int_equal(nc_ledger_new(&l), NC_OK);
    /* the root: the files of an older home (approval namespace only) are adopted as admin */
    store(&ts);
    json_t *root = nc_ledger_root_fields(&ts, "adopted");
    nc_trust_cleanup(&ts);
    assert_non_null(root);
    json_t *add_early = entry(json_pack("{s:s}", "key", "x"), "trust.add", 0);
    assert_int_equal(nc_ledger_apply(l, add_early, "w_0123456789abcdef", msg, sizeof msg), NC_ERR_TAMPERED);
    json_decref(add_early);
    json_t *e = entry(root, "trust.root", 0);
    assert_int_equal(nc_ledger_apply(l, e, "w_0123456789abcdef", msg, sizeof msg), NC_OK);
    assert_true(nc_ledger_has_root(l));
    assert_int_equal(nc_ledger_count(l), 2);
    assert_true(nc_ledger_get(l, 1)->admin);   /* bob: approval-only in the old file, a root key now */
    assert_int_equal(nc_ledger_apply(l, e, "w_0123456789abcdef", msg, sizeof msg), NC_ERR_TAMPERED);
    assert_non_null(strstr(msg, "second root"));
    json_decref(e);

    /* a signed trust.add */
    nc_admin_statement st;
    sample(&st);
    st.trust_version = 99;   /* replay does not check it: the worker did when it was made */
    assert_int_equal(nc_admin_build(&st, &text, &len, msg, sizeof msg), NC_OK);
    sign(key_a, NC_ADMIN_NAMESPACE, text, len, &sig, &sig_len);
    char fp[NC_SSHKEY_FINGERPRINT_LEN];
    nc_sshkey signer;
    pubkey(key_a, &signer);
    assert_int_equal(nc_sshkey_fingerprint(&signer, fp), NC_OK);
    /* an entry that says something else than its statement */
    json_t *lie = entry(nc_ledger_add_fields(text, len, (const char *)sig, sig_len, fp, &st.key, "liar@example.com",
                                             true, false), "trust.add", 1);
    assert_int_equal(nc_ledger_apply(l, lie, "w_0123456789abcdef", msg, sizeof msg), NC_ERR_TAMPERED);
    assert_non_null(strstr(msg, "does not say what its signed statement says"));
    json_decref(lie);
    /* a signature from an untrusted key */
    uint8_t *sig2;
    size_t sig2_len;
    sign(key_n, NC_ADMIN_NAMESPACE, text, len, &sig2, &sig2_len);
    json_t *forged = entry(nc_ledger_add_fields(text, len, (const char *)sig2, sig2_len, fp, &st.key,
                                                "new@example.com", true, false), "trust.add", 1);
    assert_int_equal(nc_ledger_apply(l, forged, "w_0123456789abcdef", msg, sizeof msg), NC_ERR_TAMPERED);
    assert_non_null(strstr(msg, "does not verify"));
    json_decref(forged);
    free(sig2);
    json_t *ok = entry(nc_ledger_add_fields(text, len, (const char *)sig, sig_len, fp, &st.key, "new@example.com", true,
                                            false), "trust.add", 2);
    assert_int_equal(nc_ledger_apply(l, ok, "w_0123456789abcdef", msg, sizeof msg), NC_OK);
    assert_int_equal(nc_ledger_count(l), 3);
    assert_string_equal(nc_ledger_get(l, 2)->added_by, fp);
    /* the same key again: refused */
    assert_int_equal(nc_ledger_apply(l, ok, "w_0123456789abcdef", msg, sizeof msg), NC_ERR_TAMPERED);
    json_decref(ok);
    free(text);
    free(sig);
    /* a revocation */
    nc_sshkey b;
    pubkey(key_b, &b);
    json_t *rev = entry(nc_ledger_revoke_fields(&b), "trust.revoke", 3);
    assert_int_equal(nc_ledger_apply(l, rev, "w_0123456789abcdef", msg, sizeof msg), NC_OK);
    json_decref(rev);
    assert_true(nc_ledger_revoked(l, &b));
    assert_int_equal(nc_ledger_active_admins(l), 2);
    /* other entry types are ignored */
    json_t *other = entry(json_object(), "run.start", 4);
    assert_int_equal(nc_ledger_apply(l, other, "w_0123456789abcdef", msg, sizeof msg), NC_OK);
    json_decref(other);

    /* the files it renders compare equal; hand edits are named */
    files_of(l, &files, NULL, false);
    assert_int_equal(nc_ledger_compare(l, &files, msg, sizeof msg), NC_OK);
    nc_trust_cleanup(&files);
    char pt[NC_SSHKEY_TEXT_MAX], extra[NC_SSHKEY_TEXT_MAX + 64];
    nc_sshkey p;
    pubkey(key_p, &p);
    assert_int_equal(nc_sshkey_to_text(&p, pt, sizeof pt), NC_OK);
    snprintf(extra, sizeof extra, "mallory namespaces=\"%s\" %s\n", NC_SSHSIG_NAMESPACE, pt);
    files_of(l, &files, extra, false);
    assert_int_equal(nc_ledger_compare(l, &files, msg, sizeof msg), NC_ERR_TAMPERED);
    assert_non_null(strstr(msg, "(mallory) was not added through Night Core"));
    nc_trust_cleanup(&files);
    files_of(l, &files, NULL, true);
    assert_int_equal(nc_ledger_compare(l, &files, msg, sizeof msg), NC_ERR_TAMPERED);
    assert_non_null(strstr(msg, "revoked_keys is missing key"));
    nc_trust_cleanup(&files);
    nc_ledger_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_privkey_real_keys),
        cmocka_unit_test(test_privkey_malformed),
        cmocka_unit_test(test_admin_roundtrip_and_strictness),
        cmocka_unit_test(test_admin_verification),
        cmocka_unit_test(test_ledger_replay_and_compare),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
