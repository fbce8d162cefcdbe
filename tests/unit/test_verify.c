/* The verification pipeline end to end with real OpenSSH keys: every check
 * has a case that fails exactly there, and approvals interoperate with
 * `ssh-keygen -Y sign` / `-Y verify` both ways. */
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
#include "common/fs.h"
#include "trust/sign.h"
#include "trust/sshsig.h"
#include "trust/verify.h"

static char home[] = "/tmp/nc-test-verify-XXXXXX";
static char trust_dir[4200], record[4200];
static char key_a[4200], key_b[4200], key_c[4200];   /* trusted, untrusted, revoked */
static const uint8_t module[] = "\0asm\1\0\0\0 pretend module bytes";
static int64_t now;

static char *read_text(const char *path)
{
    uint8_t *d;
    size_t n;
    if (nc_read_file(path, 1u << 20, &d, &n) != NC_OK)
        return NULL;
    char *s = realloc(d, n + 1);
    s[n] = '\0';
    return s;
}

__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static int setup(void **state)
{
    (void)state;
    char msg[512];
    if (!mkdtemp(home))
        return -1;
    snprintf(trust_dir, sizeof trust_dir, "%s/trust", home);
    snprintf(record, sizeof record, "%s/trust_version", home);
    snprintf(key_a, sizeof key_a, "%s/a", home);
    snprintf(key_b, sizeof key_b, "%s/b", home);
    snprintf(key_c, sizeof key_c, "%s/c", home);
    if (nc_keygen_ed25519(key_a, "alice", true, msg, sizeof msg) || nc_keygen_ed25519(key_b, "bob", true, msg, sizeof msg) ||
        nc_keygen_ed25519(key_c, "carol", true, msg, sizeof msg))
        return -1;
    if (nc_trust_init(trust_dir, record, msg, sizeof msg) != NC_OK)
        return -1;
    const char *keys[] = {key_a, key_c};
    const char *principals[] = {"alice@example.com", "carol@example.com"};
    for (int i = 0; i < 2; i++) {
        char pub[4300];
        snprintf(pub, sizeof pub, "%s.pub", keys[i]);
        char *line = read_text(pub);
        if (!line || nc_trust_add_key(trust_dir, record, line, principals[i], NC_SSHSIG_NAMESPACE, msg, sizeof msg) != NC_OK)
            return -1;
        if (i == 1 && nc_trust_revoke_key(trust_dir, record, line, msg, sizeof msg) != NC_OK)
            return -1;
        free(line);
    }
    now = (int64_t)time(NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return sh("rm -rf %s", home) == 0 ? 0 : -1;
}

static void sample(nc_statement *st)
{
    memset(st, 0, sizeof *st);
    snprintf(st->name, sizeof st->name, "hello");
    assert_int_equal(nc_sha256(module, sizeof module, st->sha256), NC_OK);
    snprintf(st->approver, sizeof st->approver, "alice@example.com");
    snprintf(st->worker, sizeof st->worker, "worker-1");
    snprintf(st->submission, sizeof st->submission, "sub-1");
    st->caps.args = true;
    st->limits = nc_policy_builtin("default")->limits;
    st->issued_at = st->not_before = (uint64_t)now - 10;
    st->expires_at = (uint64_t)now + 3600;
    st->max_runs = 2;
    snprintf(st->invokers[0], sizeof st->invokers[0], "operator");
    st->ninvokers = 1;
    memset(st->nonce, 1, sizeof st->nonce);
    st->trust_version = 1;
}

typedef struct {
    char *stmt;
    size_t stmt_len;
    uint8_t *sig;
    size_t sig_len;
} approval;

static void make(nc_statement *st, const char *key, approval *a)
{
    char msg[512];
    assert_int_equal(nc_statement_build(st, &a->stmt, &a->stmt_len, msg, sizeof msg), NC_OK);
    nc_err err = nc_sign_with_ssh_keygen(key, NC_SSHSIG_NAMESPACE, a->stmt, a->stmt_len, &a->sig, &a->sig_len, msg, sizeof msg);
    if (err != NC_OK)
        fail_msg("sign: %s", msg);
    nc_statement_cleanup(st);
}

static void drop(approval *a)
{
    free(a->stmt);
    free(a->sig);
}

static nc_err verify_with(const approval *a, nc_verify_input *in, char *msg, size_t msg_len)
{
    nc_trust_store ts;
    char lmsg[512];
    if (nc_trust_load(trust_dir, record, &ts, lmsg, sizeof lmsg) != NC_OK)
        fail_msg("trust load: %s", lmsg);
    in->statement = (const uint8_t *)a->stmt;
    in->statement_len = a->stmt_len;
    in->signature = a->sig;
    in->signature_len = a->sig_len;
    in->trust = &ts;
    nc_verify_output out;
    nc_err err = nc_verify_approval(in, &out, msg, msg_len);
    if (err == NC_OK)
        nc_verify_output_cleanup(&out);
    nc_trust_cleanup(&ts);
    return err;
}

static nc_verify_input base_input(void)
{
    static nc_caps none;
    nc_verify_input in = {.worker_id = "worker-1", .now = now, .module = module, .module_len = sizeof module,
                          .invoker = "operator", .requested = &none};
    return in;
}

static nc_err verify(const approval *a, char *msg, size_t msg_len)
{
    nc_verify_input in = base_input();
    return verify_with(a, &in, msg, msg_len);
}

static void expect(nc_err got, nc_err want, const char *msg)
{
    if (got != want)
        fail_msg("got %s (%s), wanted %s", nc_strerror(got), msg, nc_strerror(want));
}

static void test_valid_approval_and_ssh_keygen_interop(void **state)
{
    (void)state;
    nc_statement st;
    approval a;
    char msg[512] = "";
    sample(&st);
    make(&st, key_a, &a);
    expect(verify(&a, msg, sizeof msg), NC_OK, msg);
    /* OpenSSH agrees, against the allowed_signers file our trust store wrote. */
    char sf[4300], stf[4300];
    snprintf(stf, sizeof stf, "%s/stmt", home);
    snprintf(sf, sizeof sf, "%s/stmt.sig", home);
    assert_int_equal(nc_write_file_atomic(stf, a.stmt, a.stmt_len, 0600), NC_OK);
    assert_int_equal(nc_write_file_atomic(sf, a.sig, a.sig_len, 0600), NC_OK);
    assert_int_equal(sh("ssh-keygen -Y verify -f %s/allowed_signers -I alice@example.com -n %s -s %s < %s >/dev/null 2>&1",
                        trust_dir, NC_SSHSIG_NAMESPACE, sf, stf), 0);
    /* ... and refuses what we refuse: another principal, a revoked key's principal */
    assert_int_not_equal(sh("ssh-keygen -Y verify -f %s/allowed_signers -I carol@example.com -n %s -s %s < %s >/dev/null 2>&1",
                            trust_dir, NC_SSHSIG_NAMESPACE, sf, stf), 0);
    drop(&a);
}

/* Signatures made by ssh-keygen directly, sha256 and sha512, verify with ours. */
static void test_ssh_keygen_hash_algorithms(void **state)
{
    (void)state;
    const char *algs[] = {"sha256", "sha512"};
    for (int i = 0; i < 2; i++) {
        nc_statement st;
        approval a;
        char msg[512] = "", stf[4300], sf[4300];
        sample(&st);
        assert_int_equal(nc_statement_build(&st, &a.stmt, &a.stmt_len, msg, sizeof msg), NC_OK);
        nc_statement_cleanup(&st);
        snprintf(stf, sizeof stf, "%s/direct", home);
        snprintf(sf, sizeof sf, "%s/direct.sig", home);
        unlink(sf);
        assert_int_equal(nc_write_file_atomic(stf, a.stmt, a.stmt_len, 0600), NC_OK);
        assert_int_equal(sh("ssh-keygen -q -Y sign -O hashalg=%s -n %s -f %s %s", algs[i], NC_SSHSIG_NAMESPACE, key_a, stf), 0);
        assert_int_equal(nc_read_file(sf, 1u << 20, &a.sig, &a.sig_len), NC_OK);
        expect(verify(&a, msg, sizeof msg), NC_OK, msg);
        drop(&a);
    }
}

static void test_signature_and_key_failures(void **state)
{
    (void)state;
    nc_statement st;
    approval a;
    char msg[512];

    sample(&st);
    make(&st, key_b, &a);   /* key not in allowed_signers */
    expect(verify(&a, msg, sizeof msg), NC_ERR_UNTRUSTED_KEY, msg);
    assert_non_null(strstr(msg, "nightcore trust add"));
    drop(&a);

    sample(&st);
    snprintf(st.approver, sizeof st.approver, "carol@example.com");
    make(&st, key_c, &a);   /* trusted, then revoked */
    expect(verify(&a, msg, sizeof msg), NC_ERR_REVOKED_KEY, msg);
    drop(&a);

    sample(&st);
    make(&st, key_a, &a);
    /* flipped signature bit: in the base64 body, well inside the signature */
    char *body = strstr((char *)a.sig, "\n") + 1;
    size_t pos = (size_t)(strstr(body, "-----END") - body) - 10;
    body[pos] = body[pos] == 'A' ? 'B' : 'A';
    expect(verify(&a, msg, sizeof msg), NC_ERR_BAD_SIGNATURE, msg);
    drop(&a);

    sample(&st);
    make(&st, key_a, &a);
    a.stmt[10] ^= 1;   /* statement changed after signing */
    expect(verify(&a, msg, sizeof msg), NC_ERR_BAD_SIGNATURE, msg);
    a.stmt[10] ^= 1;
    char *longer = malloc(a.stmt_len + 1);   /* whitespace added after signing */
    memcpy(longer, a.stmt, a.stmt_len);
    longer[a.stmt_len] = ' ';
    free(a.stmt);
    a.stmt = longer;
    a.stmt_len++;
    expect(verify(&a, msg, sizeof msg), NC_ERR_BAD_SIGNATURE, msg);
    drop(&a);

    /* a signature of another statement */
    approval other;
    sample(&st);
    st.max_runs = 1;
    make(&st, key_a, &other);
    sample(&st);
    make(&st, key_a, &a);
    free(a.sig);
    a.sig = other.sig;
    a.sig_len = other.sig_len;
    other.sig = NULL;
    expect(verify(&a, msg, sizeof msg), NC_ERR_BAD_SIGNATURE, msg);
    drop(&a);
    drop(&other);

    /* wrong namespace: signed by ssh-keygen for "file" */
    sample(&st);
    char m2[512], stf[4300], sf[4300];
    assert_int_equal(nc_statement_build(&st, &a.stmt, &a.stmt_len, m2, sizeof m2), NC_OK);
    nc_statement_cleanup(&st);
    snprintf(stf, sizeof stf, "%s/ns", home);
    snprintf(sf, sizeof sf, "%s/ns.sig", home);
    unlink(sf);
    assert_int_equal(nc_write_file_atomic(stf, a.stmt, a.stmt_len, 0600), NC_OK);
    assert_int_equal(sh("ssh-keygen -q -Y sign -n file -f %s %s", key_a, stf), 0);
    assert_int_equal(nc_read_file(sf, 1u << 20, &a.sig, &a.sig_len), NC_OK);
    expect(verify(&a, msg, sizeof msg), NC_ERR_SIG_NAMESPACE, msg);
    drop(&a);

    /* not a signature at all */
    sample(&st);
    make(&st, key_a, &a);
    memcpy(a.sig, "-----BEGIN SSH SIGNATUR", 23);
    a.sig[22] = 'X';
    expect(verify(&a, msg, sizeof msg), NC_ERR_SIG_ARMOR, msg);
    drop(&a);
}

/* allowed_signers lines written by hand: namespaces= and validity windows. */
static void test_allowed_signers_options(void **state)
{
    (void)state;
    char pub[4300], path[4300], msg[512];
    snprintf(pub, sizeof pub, "%s.pub", key_b);
    char *line = read_text(pub);
    *strchr(line, '\n') = '\0';
    *strrchr(line, ' ') = '\0';   /* drop the comment */
    snprintf(path, sizeof path, "%s/allowed_signers", trust_dir);
    char *orig = read_text(path);
    const char *opts[] = {"namespaces=\"file,git\"", "valid-before=\"20200101\"", "valid-after=\"29990101\""};
    nc_err want[] = {NC_ERR_UNTRUSTED_KEY, NC_ERR_KEY_NOT_VALID_NOW, NC_ERR_KEY_NOT_VALID_NOW};
    for (int i = 0; i < 3; i++) {
        char text[16384];
        int n = snprintf(text, sizeof text, "%sbob@example.com %s %s\n", orig, opts[i], line);
        assert_int_equal(nc_write_file_atomic(path, text, (size_t)n, 0644), NC_OK);
        nc_statement st;
        approval a;
        sample(&st);
        snprintf(st.approver, sizeof st.approver, "bob@example.com");
        make(&st, key_b, &a);
        expect(verify(&a, msg, sizeof msg), want[i], msg);
        drop(&a);
    }
    assert_int_equal(nc_write_file_atomic(path, orig, strlen(orig), 0644), NC_OK);
    free(orig);
    free(line);
}

static void test_statement_level_failures(void **state)
{
    (void)state;
    nc_statement st;
    approval a;
    char msg[512];
    nc_verify_input in;

    sample(&st);
    snprintf(st.approver, sizeof st.approver, "mallory@example.com");   /* not the key's principal */
    make(&st, key_a, &a);
    expect(verify(&a, msg, sizeof msg), NC_ERR_NOT_PRINCIPAL, msg);
    drop(&a);

    sample(&st);
    snprintf(st.worker, sizeof st.worker, "worker-2");
    make(&st, key_a, &a);
    expect(verify(&a, msg, sizeof msg), NC_ERR_WRONG_WORKER, msg);
    drop(&a);

    sample(&st);
    st.issued_at = st.not_before = (uint64_t)now - 7200;
    st.expires_at = (uint64_t)now - 3600;
    make(&st, key_a, &a);
    expect(verify(&a, msg, sizeof msg), NC_ERR_EXPIRED, msg);
    drop(&a);

    sample(&st);
    st.not_before = (uint64_t)now + 600;
    make(&st, key_a, &a);
    expect(verify(&a, msg, sizeof msg), NC_ERR_NOT_YET_VALID, msg);
    drop(&a);

    sample(&st);
    make(&st, key_a, &a);
    in = base_input();
    in.approval_revoked = true;
    expect(verify_with(&a, &in, msg, sizeof msg), NC_ERR_REVOKED_APPROVAL, msg);
    in = base_input();
    in.runs_so_far = 2;   /* max_runs is 2 */
    expect(verify_with(&a, &in, msg, sizeof msg), NC_ERR_MAX_RUNS, msg);
    in = base_input();
    in.runs_so_far = 1;
    expect(verify_with(&a, &in, msg, sizeof msg), NC_OK, msg);
    uint8_t changed[sizeof module];
    memcpy(changed, module, sizeof module);
    changed[12] ^= 1;
    in = base_input();
    in.module = changed;
    expect(verify_with(&a, &in, msg, sizeof msg), NC_ERR_HASH_MISMATCH, msg);
    in = base_input();
    in.invoker = "agent:claude";
    expect(verify_with(&a, &in, msg, sizeof msg), NC_ERR_NOT_INVOKER, msg);
    nc_caps want = {.args = true, .stdin = true};
    in = base_input();
    in.requested = &want;
    expect(verify_with(&a, &in, msg, sizeof msg), NC_ERR_CAPABILITY_DENIED, msg);
    assert_non_null(strstr(msg, "stdin"));
    nc_cap_dir d = {.host = "/etc", .guest = "/etc", .readonly = true};
    nc_caps want_dir = {.args = true, .dirs = &d, .ndirs = 1};
    in.requested = &want_dir;
    expect(verify_with(&a, &in, msg, sizeof msg), NC_ERR_CAPABILITY_DENIED, msg);
    in = base_input();
    in.invoker = NULL;   /* acceptance check before storing: no run */
    expect(verify_with(&a, &in, msg, sizeof msg), NC_OK, msg);
    in = base_input();
    in.worker_id = NULL;
    expect(verify_with(&a, &in, msg, sizeof msg), NC_ERR_WRONG_WORKER, msg);
    drop(&a);

    /* a malformed statement, validly signed, still fails at the schema step */
    const char *bad = "{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicate\":{\"max_runs\":1.5}}";
    a.stmt = strdup(bad);
    a.stmt_len = strlen(bad);
    assert_int_equal(nc_sign_with_ssh_keygen(key_a, NC_SSHSIG_NAMESPACE, a.stmt, a.stmt_len, &a.sig, &a.sig_len, msg, sizeof msg), NC_OK);
    expect(verify(&a, msg, sizeof msg), NC_ERR_STATEMENT, msg);
    drop(&a);
}

/* The trust store refuses a rollback and an expired store. */
static void test_trust_store_rollback_and_expiry(void **state)
{
    (void)state;
    char path[4300], msg[512];
    nc_trust_store ts;
    snprintf(path, sizeof path, "%s/version", trust_dir);
    char *orig = read_text(path);
    assert_int_equal(nc_write_file_atomic(path, "{\"expires_at\":null,\"version\":1}", 31, 0644), NC_OK);
    expect(nc_trust_load(trust_dir, record, &ts, msg, sizeof msg), NC_ERR_TRUST_ROLLBACK, msg);
    assert_non_null(strstr(msg, "rolled back"));
    assert_int_equal(nc_write_file_atomic(path, "{\"version\":1.0}", 15, 0644), NC_OK);
    expect(nc_trust_load(trust_dir, record, &ts, msg, sizeof msg), NC_ERR_TRUST_FILE, msg);

    /* expired: version raised (allowed), expiry in the past */
    char text[128];
    int n = snprintf(text, sizeof text, "{\"expires_at\":%lld,\"version\":999}", (long long)now - 1);
    assert_int_equal(nc_write_file_atomic(path, text, (size_t)n, 0644), NC_OK);
    nc_statement st;
    approval a;
    sample(&st);
    make(&st, key_a, &a);
    expect(verify(&a, msg, sizeof msg), NC_ERR_TRUST_EXPIRED, msg);
    drop(&a);
    /* the record followed to 999: the old version is now a rollback too */
    assert_int_equal(nc_write_file_atomic(path, orig, strlen(orig), 0644), NC_OK);
    expect(nc_trust_load(trust_dir, record, &ts, msg, sizeof msg), NC_ERR_TRUST_ROLLBACK, msg);
    n = snprintf(text, sizeof text, "{\"expires_at\":null,\"version\":1000}");
    assert_int_equal(nc_write_file_atomic(path, text, (size_t)n, 0644), NC_OK);
    expect(nc_trust_load(trust_dir, record, &ts, msg, sizeof msg), NC_OK, msg);
    nc_trust_cleanup(&ts);
    free(orig);
}

/* A malformed allowed_signers line fails the whole store, with its line number. */
static void test_trust_store_malformed_line(void **state)
{
    (void)state;
    char path[4300], msg[512];
    nc_trust_store ts;
    snprintf(path, sizeof path, "%s/allowed_signers", trust_dir);
    char *orig = read_text(path);
    char text[16384];
    int n = snprintf(text, sizeof text, "%s* ssh-ed25519 AAAA\n", orig);
    assert_int_equal(nc_write_file_atomic(path, text, (size_t)n, 0644), NC_OK);
    expect(nc_trust_load(trust_dir, record, &ts, msg, sizeof msg), NC_ERR_TRUST_FILE, msg);
    assert_non_null(strstr(msg, "allowed_signers"));
    assert_int_equal(nc_write_file_atomic(path, orig, strlen(orig), 0644), NC_OK);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_approval_and_ssh_keygen_interop),
        cmocka_unit_test(test_ssh_keygen_hash_algorithms),
        cmocka_unit_test(test_signature_and_key_failures),
        cmocka_unit_test(test_allowed_signers_options),
        cmocka_unit_test(test_statement_level_failures),
        cmocka_unit_test(test_trust_store_malformed_line),
        cmocka_unit_test(test_trust_store_rollback_and_expiry),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
