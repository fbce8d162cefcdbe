/* src/trust/allowed_signers: the allowed_signers and revoked_keys files.
 * Strict parsing (every rejection with its line number), lookups by key,
 * namespace and time, and agreement with `ssh-keygen -Y verify` on the same
 * files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>
#include "common/buf.h"
#include "common/fs.h"
#include "trust/allowed_signers.h"
#include "trust/sshkey.h"
#include "trust/sshsig.h"

#define NS NC_SSHSIG_NAMESPACE

static char g_dir[64];
static bool g_have_keygen;
/* Two synthetic keys (libsodium), as key lines "ssh-ed25519 AAAA..." */
static nc_sshkey g_key1, g_key2, g_sk_key;
static char g_text1[NC_SSHKEY_TEXT_MAX], g_text2[NC_SSHKEY_TEXT_MAX], g_sk_text[NC_SSHKEY_TEXT_MAX];

/* ------------------------------------------------------------ helpers */

static int run_in(const char *dir, const char *in_path, char *const argv[])
{
    char errlog[256];
    int status;
    pid_t pid;
    snprintf(errlog, sizeof errlog, "%s/stderr.log", g_dir);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
        int out = open("/dev/null", O_WRONLY);
        int err = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (in < 0 || out < 0 || err < 0 || chdir(dir) != 0 || dup2(in, 0) < 0 ||
            dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void path_in(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", g_dir, name);
}

static void write_text(const char *name, const char *text)
{
    char p[256];
    path_in(p, sizeof p, name);
    assert_int_equal(nc_write_file_atomic(p, text, strlen(text), 0600), NC_OK);
}

static uint8_t *read_bytes(const char *name, size_t *len)
{
    char p[256];
    uint8_t *data = NULL;
    path_in(p, sizeof p, name);
    assert_int_equal(nc_read_file(p, 1u << 20, &data, len), NC_OK);
    return data;
}

#define SKIP_WITHOUT_KEYGEN()                                         \
    do {                                                              \
        if (!g_have_keygen) {                                         \
            print_message("ssh-keygen not found: interop skipped\n"); \
            skip();                                                   \
        }                                                             \
    } while (0)

static void make_key(nc_sshkey_type t, nc_sshkey *key, char *text)
{
    uint8_t pk[32], sk[64];
    nc_buf b;
    crypto_sign_keypair(pk, sk);
    nc_buf_init(&b, 1024);
    assert_int_equal(nc_buf_put_string(&b, nc_sshkey_type_name(t), strlen(nc_sshkey_type_name(t))),
                     NC_OK);
    assert_int_equal(nc_buf_put_string(&b, pk, 32), NC_OK);
    if (t == NC_SSHKEY_SK_ED25519)
        assert_int_equal(nc_buf_put_string(&b, "ssh:", 4), NC_OK);
    assert_int_equal(nc_sshkey_from_blob(b.data, b.len, key), NC_OK);
    assert_int_equal(nc_sshkey_to_text(key, text, NC_SSHKEY_TEXT_MAX), NC_OK);
    nc_buf_cleanup(&b);
}

/* Expands "K1", "K2", "SK" in a template to the key lines. */
static char *expand(const char *tmpl)
{
    nc_buf b;
    size_t len;
    nc_buf_init(&b, 1u << 22);
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "K1", 2) == 0) {
            assert_int_equal(nc_buf_append(&b, g_text1, strlen(g_text1)), NC_OK);
            p += 2;
        } else if (strncmp(p, "K2", 2) == 0) {
            assert_int_equal(nc_buf_append(&b, g_text2, strlen(g_text2)), NC_OK);
            p += 2;
        } else if (strncmp(p, "SK", 2) == 0) {
            assert_int_equal(nc_buf_append(&b, g_sk_text, strlen(g_sk_text)), NC_OK);
            p += 2;
        } else {
            assert_int_equal(nc_buf_put_u8(&b, (uint8_t)*p), NC_OK);
            p++;
        }
    }
    assert_int_equal(nc_buf_put_u8(&b, 0), NC_OK);
    return (char *)nc_buf_steal(&b, &len);
}

static nc_allowed_signers *parse_ok(const char *tmpl)
{
    char err[NC_TRUST_ERRMSG_LEN];
    nc_allowed_signers *as = NULL;
    char *text = expand(tmpl);
    nc_err e = nc_allowed_signers_parse(text, strlen(text), &as, err, sizeof err);
    if (e != NC_OK)
        fail_msg("parse failed: %s (%s)", nc_strerror(e), err);
    assert_string_equal(err, "");
    free(text);
    return as;
}

/* Asserts the template is refused with NC_ERR_TRUST_FILE and a message that
 * starts with "allowed_signers:LINE: " and contains want. */
static void parse_refused(const char *tmpl, size_t line, const char *want)
{
    char err[NC_TRUST_ERRMSG_LEN], prefix[64];
    nc_allowed_signers *as = (nc_allowed_signers *)1;
    char *text = expand(tmpl);
    nc_err e = nc_allowed_signers_parse(text, strlen(text), &as, err, sizeof err);
    if (e != NC_ERR_TRUST_FILE)
        fail_msg("not refused: %s -> %s", tmpl, nc_strerror(e));
    assert_null(as);
    snprintf(prefix, sizeof prefix, "allowed_signers:%zu: ", line);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err, prefix, want);
    free(text);
}

/* ------------------------------------------------------ parsing */

static void test_parse_good(void **state)
{
    (void)state;
    nc_allowed_signers *as = parse_ok(
        "# approvers\n"
        "\n"
        "alice@example.com K1\n"
        "   \t# indented comment\n"
        "bob,carol K2 bob's laptop key\n"
        "\"dave,erin\" namespaces=\"nightcore-approval-v1,git\" K1\n"
        "frank valid-after=\"20240101\",valid-before=\"20991231235959Z\" SK\n"
        "\tgrace\t\tK2\t comment\twith tabs\n"
        "heidi namespaces=\"file\" K1");   /* no final newline */
    assert_int_equal(nc_allowed_signers_count(as), 6);

    const nc_allowed_signer *e = nc_allowed_signers_get(as, 0);
    assert_int_equal(e->line, 3);
    assert_int_equal(e->nprincipals, 1);
    assert_string_equal(e->principals[0], "alice@example.com");
    assert_int_equal(e->nnamespaces, 0);
    assert_true(nc_sshkey_equal(&e->key, &g_key1));

    e = nc_allowed_signers_get(as, 1);
    assert_int_equal(e->line, 5);
    assert_int_equal(e->nprincipals, 2);
    assert_string_equal(e->principals[0], "bob");
    assert_string_equal(e->principals[1], "carol");
    assert_true(nc_sshkey_equal(&e->key, &g_key2));

    e = nc_allowed_signers_get(as, 2);
    assert_int_equal(e->nprincipals, 2);
    assert_string_equal(e->principals[0], "dave");
    assert_string_equal(e->principals[1], "erin");
    assert_int_equal(e->nnamespaces, 2);
    assert_string_equal(e->namespaces[0], "nightcore-approval-v1");
    assert_string_equal(e->namespaces[1], "git");

    e = nc_allowed_signers_get(as, 3);
    assert_int_equal(e->key.type, NC_SSHKEY_SK_ED25519);
    assert_true(e->has_valid_after);
    assert_int_equal(e->valid_after, 1704067200);   /* 2024-01-01T00:00:00Z */
    assert_true(e->has_valid_before);
    assert_int_equal(e->valid_before, 4102444799);  /* 2099-12-31T23:59:59Z */

    e = nc_allowed_signers_get(as, 4);
    assert_int_equal(e->line, 8);
    assert_string_equal(e->principals[0], "grace");
    e = nc_allowed_signers_get(as, 5);
    assert_int_equal(e->line, 9);
    assert_string_equal(e->namespaces[0], "file");
    assert_null(nc_allowed_signers_get(as, 6));
    nc_allowed_signers_free(as);
}

static void test_parse_empty(void **state)
{
    (void)state;
    nc_allowed_signers *as = parse_ok("");
    assert_int_equal(nc_allowed_signers_count(as), 0);
    assert_int_equal(nc_allowed_signers_check(as, &g_key1, NS, 0), NC_ERR_UNTRUSTED_KEY);
    nc_allowed_signers_free(as);
    as = parse_ok("# nothing\n\n   \n");
    assert_int_equal(nc_allowed_signers_count(as), 0);
    nc_allowed_signers_free(as);
    nc_allowed_signers_free(NULL);
}

static void test_refusals(void **state)
{
    (void)state;
    /* wildcards, in principals and namespaces */
    parse_refused("# c\nal*ce K1\n", 2, "wildcard principals are not supported: \"al*ce\"");
    parse_refused("* K1\n", 1, "wildcard principals");
    parse_refused("alice,b?b K1\n", 1, "wildcard principals");
    parse_refused("!mallory,alice K1\n", 1, "wildcard principals");
    parse_refused("\"alice,*\" K1\n", 1, "wildcard principals");
    parse_refused("alice namespaces=\"nightcore-*\" K1\n", 1, "wildcard namespaces");
    /* options */
    parse_refused("alice K1\n\n\n\n\n\nbob foo=\"bar\" K2\n", 7, "unknown option \"foo\"");
    parse_refused("alice foo K1\n", 1, "unknown option \"foo\"");
    parse_refused("alice Namespaces=\"x\" K1\n", 1, "unknown option \"Namespaces\"");
    parse_refused("alice cert-authority K1\n", 1, "cert-authority is not supported");
    parse_refused("alice namespaces=\"x\",cert-authority K1\n", 1, "cert-authority");
    parse_refused("alice namespaces=x K1\n", 1, "must be in double quotes");
    parse_refused("alice valid-after=20240101 K1\n", 1, "must be in double quotes");
    parse_refused("alice namespaces K1\n", 1, "needs a value");
    parse_refused("alice namespaces=\"x K1\n", 1, "missing closing quote");
    parse_refused("alice namespaces=\"a\\\"b\" K1\n", 1, "backslash");
    parse_refused("alice namespaces=\"\" K1\n", 1, "empty namespace");
    parse_refused("alice namespaces=\"a,,b\" K1\n", 1, "empty namespace");
    parse_refused("alice namespaces=\"a b\" K1\n", 1, "invalid character in namespace");
    parse_refused("alice namespaces=\"a\",namespaces=\"b\" K1\n", 1, "duplicate option namespaces");
    parse_refused("alice valid-after=\"20240101\",valid-after=\"20240102\" K1\n", 1,
                  "duplicate option valid-after");
    parse_refused("alice namespaces=\"a\", K1\n", 1, "trailing comma");
    parse_refused("alice namespaces=\"a\"x K1\n", 1, "unexpected text after option namespaces");
    parse_refused("alice ,namespaces=\"a\" K1\n", 1, "malformed options");
    /* times */
    parse_refused("alice valid-after=\"20230230\" K1\n", 1, "invalid valid-after time \"20230230\"");
    parse_refused("alice valid-before=\"2023013\" K1\n", 1, "invalid valid-before time");
    parse_refused("alice valid-before=\"20230101X\" K1\n", 1, "invalid valid-before time");
    parse_refused("alice valid-before=\"20230101UTC\" K1\n", 1, "invalid valid-before time");
    parse_refused("alice valid-before=\"202301011260\" K1\n", 1, "invalid valid-before time");
    parse_refused("alice valid-before=\"20230101235960\" K1\n", 1, "invalid valid-before time");
    parse_refused("alice valid-before=\"19700101\" K1\n", 1, "invalid valid-before time");
    parse_refused("alice valid-before=\"\" K1\n", 1, "invalid valid-before time");
    parse_refused("alice valid-after=\"20240102\",valid-before=\"20240101\" K1\n", 1,
                  "valid-before is not later than valid-after");
    parse_refused("alice valid-after=\"20240101\",valid-before=\"20240101\" K1\n", 1,
                  "valid-before is not later than valid-after");
    /* keys */
    parse_refused("alice ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== rsa\n", 1,
                  "unsupported key type \"ssh-rsa\"");
    parse_refused("alice ecdsa-sha2-nistp256 AAAA\n", 1, "unsupported key type \"ecdsa-sha2-nistp256\"");
    parse_refused("alice ssh-ed25519-cert-v01@openssh.com AAAA\n", 1, "unsupported key type");
    parse_refused("alice namespaces=\"x\" ssh-rsa AAAA\n", 1, "unsupported key type \"ssh-rsa\"");
    parse_refused("alice ssh-ed25519 AAAA!!!!\n", 1, "invalid base64");
    parse_refused("alice ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\n", 1, "invalid base64");
    parse_refused("alice ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n", 1, "malformed key blob");
    parse_refused("alice ssh-ed25519\n", 1, "missing base64 key");
    parse_refused("alice\n", 1, "missing key after principals");
    parse_refused("alice  \t\n", 1, "missing key after principals");
    parse_refused("alice namespaces=\"x\"\n", 1, "missing key after options");
    /* principals */
    parse_refused("alice,,bob K1\n", 1, "empty principal");
    parse_refused("alice, K1\n", 1, "empty principal");
    parse_refused("\"\" K1\n", 1, "empty principal");
    parse_refused("\"alice K1\n", 1, "missing closing quote in principals");
    parse_refused("\"alice\"x K1\n", 1, "text after the closing quote");
    parse_refused("\"alice bob\" K1\n", 1, "invalid character in principal");
    parse_refused("ali\"ce K1\n", 1, "invalid character in principal");
    parse_refused("al\xc3\xa9 K1\n", 1, "invalid character in principal");
    /* bytes */
    parse_refused("alice K1\r\n", 1, "carriage return");
    parse_refused("alice K1\n\x01\n", 2, "control character 0x01");
    parse_refused("alice K1 comment\x7f\n", 1, "control character 0x7f");
}

static void test_refusals_binary(void **state)
{
    (void)state;
    char err[NC_TRUST_ERRMSG_LEN];
    nc_allowed_signers *as;
    char *text = expand("alice K1");
    size_t n = strlen(text);
    char *with_nul = malloc(n + 2);
    assert_non_null(with_nul);
    memcpy(with_nul, text, n);
    with_nul[n] = '\0';
    with_nul[n + 1] = '\n';
    assert_int_equal(nc_allowed_signers_parse(with_nul, n + 2, &as, err, sizeof err),
                     NC_ERR_TRUST_FILE);
    assert_string_equal(err, "allowed_signers:1: control character 0x00");
    free(with_nul);
    free(text);
    /* errbuf is optional, and small buffers are truncated safely */
    assert_int_equal(nc_allowed_signers_parse("*", 1, &as, NULL, 0), NC_ERR_TRUST_FILE);
    assert_int_equal(nc_allowed_signers_parse("* K", 3, &as, err, 8), NC_ERR_TRUST_FILE);
    assert_string_equal(err, "allowed");
    assert_int_equal(nc_allowed_signers_parse(NULL, 1, &as, err, sizeof err), NC_ERR_USAGE);
    assert_int_equal(nc_allowed_signers_parse(NULL, 0, &as, err, sizeof err), NC_OK);
    nc_allowed_signers_free(as);
}

static void test_caps(void **state)
{
    (void)state;
    char err[NC_TRUST_ERRMSG_LEN];
    nc_allowed_signers *as;
    nc_buf b;
    size_t len;
    char *text;

    /* a line over the cap: refused by its length, with its number */
    nc_buf_init(&b, 1u << 22);
    assert_int_equal(nc_buf_append(&b, "alice K1\n", 9), NC_OK);
    assert_int_equal(nc_buf_append(&b, "bob K1 ", 7), NC_OK);
    for (size_t i = 0; i < NC_MAX_TRUST_LINE_BYTES; i++)
        assert_int_equal(nc_buf_put_u8(&b, 'x'), NC_OK);
    assert_int_equal(nc_buf_append(&b, "\n", 2), NC_OK);   /* with the NUL */
    text = (char *)nc_buf_steal(&b, &len);
    parse_refused(text, 2, "line longer than 4096 bytes");
    free(text);

    /* exactly at the cap is fine */
    char *k = expand("bob K1 ");
    nc_buf_init(&b, 1u << 22);
    assert_int_equal(nc_buf_append(&b, k, strlen(k)), NC_OK);
    while (b.len < NC_MAX_TRUST_LINE_BYTES)
        assert_int_equal(nc_buf_put_u8(&b, 'x'), NC_OK);
    assert_int_equal(nc_buf_append(&b, "\n", 2), NC_OK);
    text = (char *)nc_buf_steal(&b, &len);
    assert_int_equal(nc_allowed_signers_parse(text, strlen(text), &as, err, sizeof err), NC_OK);
    assert_int_equal(nc_allowed_signers_count(as), 1);
    nc_allowed_signers_free(as);
    free(text);
    free(k);

    /* principals per line */
    nc_buf_init(&b, 1u << 22);
    for (size_t i = 0; i <= NC_MAX_PRINCIPALS_PER_LINE; i++) {
        char p[16];
        snprintf(p, sizeof p, "%sp%zu", i ? "," : "", i);
        assert_int_equal(nc_buf_append(&b, p, strlen(p)), NC_OK);
    }
    assert_int_equal(nc_buf_append(&b, " K1\n", 5), NC_OK);
    text = (char *)nc_buf_steal(&b, &len);
    parse_refused(text, 1, "more than 32 principals");
    free(text);

    /* a principal over its cap */
    nc_buf_init(&b, 1u << 22);
    for (size_t i = 0; i <= NC_MAX_PRINCIPAL_BYTES; i++)
        assert_int_equal(nc_buf_put_u8(&b, 'p'), NC_OK);
    assert_int_equal(nc_buf_append(&b, " K1\n", 5), NC_OK);
    text = (char *)nc_buf_steal(&b, &len);
    parse_refused(text, 1, "principal longer than 256 bytes");
    free(text);

    /* entries */
    nc_buf_init(&b, 1u << 22);
    for (size_t i = 0; i <= NC_MAX_ALLOWED_SIGNERS; i++)
        assert_int_equal(nc_buf_append(&b, "a K1\n", 5), NC_OK);
    assert_int_equal(nc_buf_put_u8(&b, 0), NC_OK);
    text = (char *)nc_buf_steal(&b, &len);
    parse_refused(text, NC_MAX_ALLOWED_SIGNERS + 1, "more than 1024 entries");
    free(text);

    /* the file */
    nc_buf_init(&b, 1u << 22);
    while (b.len <= NC_MAX_TRUST_FILE_BYTES)
        assert_int_equal(nc_buf_append(&b, "# padding padding padding\n", 26), NC_OK);
    assert_int_equal(nc_allowed_signers_parse(b.data, b.len, &as, err, sizeof err),
                     NC_ERR_TRUST_FILE);
    assert_string_equal(err, "allowed_signers: file larger than 1048576 bytes");
    assert_int_equal(nc_revoked_keys_parse(b.data, b.len, &(nc_revoked_keys *){NULL}, err,
                                           sizeof err),
                     NC_ERR_TRUST_FILE);
    assert_string_equal(err, "revoked_keys: file larger than 1048576 bytes");
    nc_buf_cleanup(&b);
}

static void test_times(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t t;   /* 0: refused */
    } cases[] = {
        {"19700102", 86400},
        {"19700102Z", 86400},
        {"19700101000001", 1},
        {"19700101", 0},
        {"20240229", 1709164800},
        {"20230229", 0},
        {"21000229", 0},           /* not a leap year */
        {"20000229", 951782400},   /* a leap year */
        {"202402291230", 1709209800},
        {"20240229123059Z", 1709209859},
        {"20241231235959", 1735689599},
        {"99991231235959", 253402300799},
        {"20240001", 0},
        {"20241301", 0},
        {"20240100", 0},
        {"20240431", 0},
        {"202401012400", 0},
        {"19691231", 0},
        {"2024010", 0},
        {"202401011", 0},
        {"2024-01-01", 0},
        {"+2024010", 0},
        {"20240101z", 0},
        {"20240101ZZ", 0},
        {"Z", 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t t = -1;
        nc_err e = nc_allowed_signers_parse_time(cases[i].s, strlen(cases[i].s), &t);
        if (cases[i].t == 0) {
            if (e != NC_ERR_MALFORMED)
                fail_msg("time \"%s\" accepted", cases[i].s);
            assert_int_equal(t, 0);
        } else {
            if (e != NC_OK || t != cases[i].t)
                fail_msg("time \"%s\": %lld, want %lld", cases[i].s, (long long)t,
                         (long long)cases[i].t);
        }
    }
}

/* ------------------------------------------------------ lookups */

static void test_lookup(void **state)
{
    (void)state;
    const int64_t t2024 = 1704067200;   /* 2024-01-01T00:00:00Z */
    nc_allowed_signers *as = parse_ok(
        "alice K1\n"
        "bob namespaces=\"git,file\" K2\n"
        "carol valid-after=\"20240101\",valid-before=\"20250101\" SK\n"
        "dave valid-before=\"20200101\" K2\n");

    /* K1: any namespace, any time */
    assert_int_equal(nc_allowed_signers_check(as, &g_key1, NS, 0), NC_OK);
    assert_int_equal(nc_allowed_signers_check(as, &g_key1, "git", t2024), NC_OK);
    assert_int_equal(nc_allowed_signers_has_principal(as, &g_key1, NS, t2024, "alice"), NC_OK);
    assert_int_equal(nc_allowed_signers_has_principal(as, &g_key1, NS, t2024, "Alice"),
                     NC_ERR_NOT_PRINCIPAL);
    assert_int_equal(nc_allowed_signers_has_principal(as, &g_key1, NS, t2024, "bob"),
                     NC_ERR_NOT_PRINCIPAL);
    assert_int_equal(nc_allowed_signers_has_principal(as, &g_key1, NS, t2024, "alic"),
                     NC_ERR_NOT_PRINCIPAL);

    /* K2: namespaces= excludes ours; the other line (dave) is expired */
    assert_int_equal(nc_allowed_signers_check(as, &g_key2, "git", t2024), NC_OK);
    assert_int_equal(nc_allowed_signers_check(as, &g_key2, NS, t2024), NC_ERR_KEY_NOT_VALID_NOW);
    assert_int_equal(nc_allowed_signers_check(as, &g_key2, NS, 1500000000), NC_OK);
    assert_int_equal(nc_allowed_signers_has_principal(as, &g_key2, NS, 1500000000, "dave"), NC_OK);
    /* bob's line does not allow NS, so bob is not a principal for it */
    assert_int_equal(nc_allowed_signers_has_principal(as, &g_key2, NS, 1500000000, "bob"),
                     NC_ERR_NOT_PRINCIPAL);
    assert_int_equal(nc_allowed_signers_has_principal(as, &g_key2, "git", 1500000000, "bob"),
                     NC_OK);
    assert_int_equal(nc_allowed_signers_has_principal(as, &g_key2, NS, t2024, "dave"),
                     NC_ERR_KEY_NOT_VALID_NOW);

    /* SK: the window, boundaries included */
    assert_int_equal(nc_allowed_signers_check(as, &g_sk_key, NS, t2024 - 1),
                     NC_ERR_KEY_NOT_VALID_NOW);
    assert_int_equal(nc_allowed_signers_check(as, &g_sk_key, NS, t2024), NC_OK);
    assert_int_equal(nc_allowed_signers_check(as, &g_sk_key, NS, 1735689600), NC_OK);
    assert_int_equal(nc_allowed_signers_check(as, &g_sk_key, NS, 1735689601),
                     NC_ERR_KEY_NOT_VALID_NOW);
    assert_int_equal(nc_allowed_signers_check(as, &g_sk_key, NS, -1), NC_ERR_KEY_NOT_VALID_NOW);
    assert_int_equal(nc_allowed_signers_check(as, &g_sk_key, NS, INT64_MAX),
                     NC_ERR_KEY_NOT_VALID_NOW);

    /* a key nowhere in the file */
    nc_sshkey other;
    char other_text[NC_SSHKEY_TEXT_MAX];
    make_key(NC_SSHKEY_ED25519, &other, other_text);
    assert_int_equal(nc_allowed_signers_check(as, &other, NS, t2024), NC_ERR_UNTRUSTED_KEY);
    assert_int_equal(nc_allowed_signers_has_principal(as, &other, NS, t2024, "alice"),
                     NC_ERR_UNTRUSTED_KEY);
    /* same pk, other type: a different key */
    nc_sshkey sk_same_pk;
    {
        nc_buf b;
        nc_buf_init(&b, 1024);
        assert_int_equal(nc_buf_put_string(&b, NC_SSHKEY_SK_ED25519_NAME,
                                           strlen(NC_SSHKEY_SK_ED25519_NAME)),
                         NC_OK);
        assert_int_equal(nc_buf_put_string(&b, g_key1.pk, 32), NC_OK);
        assert_int_equal(nc_buf_put_string(&b, "ssh:", 4), NC_OK);
        assert_int_equal(nc_sshkey_from_blob(b.data, b.len, &sk_same_pk), NC_OK);
        nc_buf_cleanup(&b);
    }
    assert_int_equal(nc_allowed_signers_check(as, &sk_same_pk, NS, t2024), NC_ERR_UNTRUSTED_KEY);

    assert_int_equal(nc_allowed_signers_check(NULL, &g_key1, NS, 0), NC_ERR_USAGE);
    assert_int_equal(nc_allowed_signers_check(as, NULL, NS, 0), NC_ERR_USAGE);
    assert_int_equal(nc_allowed_signers_has_principal(as, &g_key1, NS, 0, NULL), NC_ERR_USAGE);
    nc_allowed_signers_free(as);
}

/* Several lines for one key: any usable one counts, and the iterator sees
 * exactly the usable ones, in file order. */
static void test_iterator(void **state)
{
    (void)state;
    const int64_t now = 1750000000;   /* mid-2025 */
    nc_allowed_signers *as = parse_ok(
        "a1 K1\n"
        "a2 namespaces=\"git\" K1\n"
        "b K2\n"
        "a3 valid-before=\"20200101\" K1\n"
        "a4,a5 namespaces=\"nightcore-approval-v1\" K1\n");
    size_t pos = 0;
    const nc_allowed_signer *e;
    e = nc_allowed_signers_next(as, &g_key1, NS, now, &pos);
    assert_non_null(e);
    assert_int_equal(e->line, 1);
    e = nc_allowed_signers_next(as, &g_key1, NS, now, &pos);
    assert_non_null(e);
    assert_int_equal(e->line, 5);
    assert_null(nc_allowed_signers_next(as, &g_key1, NS, now, &pos));
    assert_null(nc_allowed_signers_next(as, &g_key1, NS, now, &pos));
    assert_int_equal(nc_allowed_signers_has_principal(as, &g_key1, NS, now, "a5"), NC_OK);
    assert_int_equal(nc_allowed_signers_has_principal(as, &g_key1, NS, now, "a3"),
                     NC_ERR_NOT_PRINCIPAL);
    assert_int_equal(nc_allowed_signers_has_principal(as, &g_key1, NS, now, "a2"),
                     NC_ERR_NOT_PRINCIPAL);
    assert_int_equal(nc_allowed_signers_has_principal(as, &g_key1, "git", now, "a2"), NC_OK);
    assert_true(nc_allowed_signer_allows_namespace(nc_allowed_signers_get(as, 0), "anything"));
    assert_false(nc_allowed_signer_allows_namespace(nc_allowed_signers_get(as, 1), NS));
    assert_false(nc_allowed_signer_valid_at(nc_allowed_signers_get(as, 3), now));
    nc_allowed_signers_free(as);
}

/* ------------------------------------------------------ revoked_keys */

static void test_revoked_keys(void **state)
{
    (void)state;
    char err[NC_TRUST_ERRMSG_LEN];
    nc_revoked_keys *rk = NULL;
    char *text = expand("# revoked\n\nK1 lost laptop\n  SK\n");
    assert_int_equal(nc_revoked_keys_parse(text, strlen(text), &rk, err, sizeof err), NC_OK);
    assert_string_equal(err, "");
    free(text);
    assert_int_equal(nc_revoked_keys_count(rk), 2);
    assert_true(nc_revoked_keys_contains(rk, &g_key1));
    assert_true(nc_revoked_keys_contains(rk, &g_sk_key));
    assert_false(nc_revoked_keys_contains(rk, &g_key2));
    assert_int_equal(nc_revoked_keys_check(rk, &g_key1), NC_ERR_REVOKED_KEY);
    assert_int_equal(nc_revoked_keys_check(rk, &g_key2), NC_OK);
    assert_int_equal(nc_revoked_keys_check(NULL, &g_key2), NC_ERR_USAGE);
    nc_revoked_keys_free(rk);
    nc_revoked_keys_free(NULL);

    assert_int_equal(nc_revoked_keys_parse("", 0, &rk, err, sizeof err), NC_OK);
    assert_int_equal(nc_revoked_keys_count(rk), 0);
    assert_false(nc_revoked_keys_contains(rk, &g_key1));
    nc_revoked_keys_free(rk);

    static const struct {
        const char *tmpl;
        const char *msg;
    } bad[] = {
        {"K1\nalice K2\n", "revoked_keys:2: unsupported key type \"alice\""},
        {"K1\n\nnamespaces=\"x\" K2\n", "revoked_keys:3: unsupported key type"},
        {"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ==\n", "revoked_keys:1: unsupported key type \"ssh-rsa\""},
        {"ssh-ed25519 AAAA!!!!\n", "revoked_keys:1: invalid base64 in public key"},
        {"ssh-ed25519\n", "revoked_keys:1: missing base64 key"},
        {"K1\r\n", "revoked_keys:1: carriage return"},
        {"# a\n# b\nK1 \x02\n", "revoked_keys:3: control character 0x02"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        text = expand(bad[i].tmpl);
        rk = (nc_revoked_keys *)1;
        assert_int_equal(nc_revoked_keys_parse(text, strlen(text), &rk, err, sizeof err),
                         NC_ERR_TRUST_FILE);
        assert_null(rk);
        if (strncmp(err, bad[i].msg, strlen(bad[i].msg)) != 0)
            fail_msg("case %zu: \"%s\", want \"%s\"", i, err, bad[i].msg);
        free(text);
    }
}

/* ------------------------------------------- agreement with ssh-keygen */

static char g_keygen_pub[2][NC_SSHKEY_TEXT_MAX + 64];
static nc_sshkey g_keygen_key[2];
static nc_sshsig g_keygen_sig;
static const char g_msg[] = "{\"approval\":\"for agreement tests\"}";

static void keygen_prepare(void)
{
    static bool done;
    if (done)
        return;
    for (int i = 0; i < 2; i++) {
        char name[16], pub[32];
        snprintf(name, sizeof name, "ka%d", i);
        snprintf(pub, sizeof pub, "ka%d.pub", i);
        char *argv[] = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "c", "-f", name, NULL};
        assert_int_equal(run_in(g_dir, NULL, argv), 0);
        size_t len;
        uint8_t *t = read_bytes(pub, &len);
        while (len > 0 && t[len - 1] == '\n')
            len--;
        assert_int_equal(nc_sshkey_from_text((char *)t, len, &g_keygen_key[i], NULL), NC_OK);
        assert_int_equal(nc_sshkey_to_text(&g_keygen_key[i], g_keygen_pub[i],
                                           sizeof g_keygen_pub[i]),
                         NC_OK);
        free(t);
    }
    write_text("amsg", g_msg);
    char *argv[] = {"ssh-keygen", "-Y", "sign", "-f", "ka0", "-n", NS, "amsg", NULL};
    assert_int_equal(run_in(g_dir, NULL, argv), 0);
    size_t len;
    uint8_t *sig = read_bytes("amsg.sig", &len);
    assert_int_equal(nc_sshsig_parse_armored(sig, len, NS, &g_keygen_sig), NC_OK);
    assert_int_equal(nc_sshsig_verify(&g_keygen_sig, g_msg, strlen(g_msg), 0), NC_OK);
    free(sig);
    done = true;
}

/* Expands A (the signing key's line) and B (another key's line). */
static char *expand_keygen(const char *tmpl)
{
    nc_buf b;
    size_t len;
    nc_buf_init(&b, 1u << 20);
    for (const char *p = tmpl; *p; p++) {
        if (*p == '@' && (p[1] == 'A' || p[1] == 'B')) {
            const char *k = g_keygen_pub[p[1] == 'B'];
            assert_int_equal(nc_buf_append(&b, k, strlen(k)), NC_OK);
            p++;
        } else {
            assert_int_equal(nc_buf_put_u8(&b, (uint8_t)*p), NC_OK);
        }
    }
    assert_int_equal(nc_buf_put_u8(&b, 0), NC_OK);
    return (char *)nc_buf_steal(&b, &len);
}

/* Our decision for "does this file let alice sign NS now": parse, key usable,
 * alice is its principal; with revoked (or NULL) checked first. */
static nc_err our_decision(const char *as_text, const char *revoked_text, const char *principal)
{
    char err[NC_TRUST_ERRMSG_LEN];
    nc_allowed_signers *as = NULL;
    nc_revoked_keys *rk = NULL;
    nc_err e;
    int64_t now = (int64_t)time(NULL);
    if (revoked_text) {
        e = nc_revoked_keys_parse(revoked_text, strlen(revoked_text), &rk, err, sizeof err);
        if (e != NC_OK)
            return e;
        e = nc_revoked_keys_check(rk, &g_keygen_sig.key);
        nc_revoked_keys_free(rk);
        if (e != NC_OK)
            return e;
    }
    e = nc_allowed_signers_parse(as_text, strlen(as_text), &as, err, sizeof err);
    if (e != NC_OK)
        return e;
    e = nc_allowed_signers_has_principal(as, &g_keygen_sig.key, NS, now, principal);
    nc_allowed_signers_free(as);
    return e;
}

static int keygen_decision(const char *as_text, const char *revoked_text, const char *principal)
{
    char in[256];
    write_text("agree_as", as_text);
    path_in(in, sizeof in, "amsg");
    if (revoked_text) {
        write_text("agree_rev", revoked_text);
        char *argv[] = {"ssh-keygen", "-Y", "verify", "-f", "agree_as", "-I", (char *)principal,
                        "-n", NS, "-s", "amsg.sig", "-r", "agree_rev", NULL};
        return run_in(g_dir, in, argv);
    }
    char *argv[] = {"ssh-keygen", "-Y", "verify", "-f", "agree_as", "-I", (char *)principal,
                    "-n", NS, "-s", "amsg.sig", NULL};
    return run_in(g_dir, in, argv);
}

typedef struct {
    const char *as;        /* template: @A signing key, @B another */
    const char *revoked;   /* template or NULL */
    const char *principal;
    nc_err ours;           /* our exact decision */
    bool keygen_accepts;
} agreement_case;

static void run_cases(const agreement_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *as = expand_keygen(cases[i].as);
        char *rev = cases[i].revoked ? expand_keygen(cases[i].revoked) : NULL;
        nc_err ours = our_decision(as, rev, cases[i].principal);
        int theirs = keygen_decision(as, rev, cases[i].principal);
        if (ours != cases[i].ours)
            fail_msg("case %zu (%s): ours %s, want %s", i, cases[i].as, nc_strerror(ours),
                     nc_strerror(cases[i].ours));
        if ((theirs == 0) != cases[i].keygen_accepts)
            fail_msg("case %zu (%s): ssh-keygen exit %d, want %s", i, cases[i].as, theirs,
                     cases[i].keygen_accepts ? "accept" : "reject");
        free(as);
        free(rev);
    }
}

/* Files both sides read the same way: we accept exactly when ssh-keygen does. */
static void test_agrees_with_ssh_keygen(void **state)
{
    (void)state;
    SKIP_WITHOUT_KEYGEN();
    keygen_prepare();
    static const agreement_case cases[] = {
        {"alice @A\n", NULL, "alice", NC_OK, true},
        {"alice @A comment with spaces\n", NULL, "alice", NC_OK, true},
        {"# c\n\n  alice\t@A\n", NULL, "alice", NC_OK, true},
        {"bob,alice,carol @A\n", NULL, "alice", NC_OK, true},
        {"\"bob,alice\" @A\n", NULL, "alice", NC_OK, true},
        {"alice @A", NULL, "alice", NC_OK, true},
        {"bob @A\n", NULL, "alice", NC_ERR_NOT_PRINCIPAL, false},
        {"Alice @A\n", NULL, "alice", NC_ERR_NOT_PRINCIPAL, false},
        {"alice @B\n", NULL, "alice", NC_ERR_UNTRUSTED_KEY, false},
        {"alice @B\nbob @A\n", NULL, "alice", NC_ERR_NOT_PRINCIPAL, false},
        {"alice @B\nalice @A\n", NULL, "alice", NC_OK, true},
        {"alice namespaces=\"nightcore-approval-v1\" @A\n", NULL, "alice", NC_OK, true},
        {"alice namespaces=\"git,nightcore-approval-v1\" @A\n", NULL, "alice", NC_OK, true},
        {"alice namespaces=\"git\" @A\n", NULL, "alice", NC_ERR_UNTRUSTED_KEY, false},
        {"alice namespaces=\"nightcore-approval\" @A\n", NULL, "alice", NC_ERR_UNTRUSTED_KEY,
         false},
        {"alice namespaces=\"git\" @A\nalice @A\n", NULL, "alice", NC_OK, true},
        {"alice valid-after=\"20200101\" @A\n", NULL, "alice", NC_OK, true},
        {"alice valid-after=\"20200101Z\" @A\n", NULL, "alice", NC_OK, true},
        {"alice valid-after=\"202001011200\",valid-before=\"20991231235959\" @A\n", NULL, "alice",
         NC_OK, true},
        {"alice valid-after=\"20990101\" @A\n", NULL, "alice", NC_ERR_KEY_NOT_VALID_NOW, false},
        {"alice valid-before=\"20200101\" @A\n", NULL, "alice", NC_ERR_KEY_NOT_VALID_NOW, false},
        {"alice valid-before=\"20200101Z\" @A\nalice @A\n", NULL, "alice", NC_OK, true},
        /* revoked_keys (ssh-keygen -r) */
        {"alice @A\n", "@A\n", "alice", NC_ERR_REVOKED_KEY, false},
        {"alice @A\n", "# none\n@B old\n", "alice", NC_OK, true},
        /* malformed lines: we refuse the file, ssh-keygen skips the line;
         * both reject the signature */
        {"alice foo=\"bar\" @A\n", NULL, "alice", NC_ERR_TRUST_FILE, false},
        {"alice cert-authority @A\n", NULL, "alice", NC_ERR_TRUST_FILE, false},
        {"alice valid-after=20200101 @A\n", NULL, "alice", NC_ERR_TRUST_FILE, false},
        {"alice namespaces=\"a\",namespaces=\"b\" @A\n", NULL, "alice", NC_ERR_TRUST_FILE, false},
        {"alice valid-after=\"20240102\",valid-before=\"20240101\" @A\n", NULL, "alice",
         NC_ERR_TRUST_FILE, false},
        {"alice sk-ssh-ed25519@openssh.com AAAAC3NzaC1lZDI1NTE5AAAAIHu58OCOP0wTUfG4rAthVjowRXrApt0tfaBFt+JLXBux\n",
         NULL, "alice", NC_ERR_TRUST_FILE, false},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* Where we are deliberately stricter: ssh-keygen accepts, we refuse the file. */
static void test_stricter_than_ssh_keygen(void **state)
{
    (void)state;
    SKIP_WITHOUT_KEYGEN();
    keygen_prepare();
    static const agreement_case cases[] = {
        {"* @A\n", NULL, "alice", NC_ERR_TRUST_FILE, true},              /* wildcard */
        {"al?ce @A\n", NULL, "alice", NC_ERR_TRUST_FILE, true},
        {"alice namespaces=\"nightcore-*\" @A\n", NULL, "alice", NC_ERR_TRUST_FILE, true},
        {"alice Namespaces=\"nightcore-approval-v1\" @A\n", NULL, "alice", NC_ERR_TRUST_FILE,
         true},                                                          /* option case */
        {"alice valid-after=\"20200230\" @A\n", NULL, "alice", NC_ERR_TRUST_FILE, true},
        {"alice valid-after=\"20200101UTC\" @A\n", NULL, "alice", NC_ERR_TRUST_FILE, true},
        {"bob foo=\"x\" @B\nalice @A\n", NULL, "alice", NC_ERR_TRUST_FILE, true}, /* whole file */
        {"alice @A\r\n", NULL, "alice", NC_ERR_TRUST_FILE, true},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* ------------------------------------------------------ main */

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    make_key(NC_SSHKEY_ED25519, &g_key1, g_text1);
    make_key(NC_SSHKEY_ED25519, &g_key2, g_text2);
    make_key(NC_SSHKEY_SK_ED25519, &g_sk_key, g_sk_text);
    snprintf(g_dir, sizeof g_dir, "/tmp/nc-allowed-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    char *argv[] = {"ssh-keygen", "-?", NULL};
    g_have_keygen = run_in(g_dir, NULL, argv) != 127;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char *argv[] = {"rm", "-rf", g_dir, NULL};
    return run_in("/", NULL, argv) == 0 ? 0 : -1;
}

int main(void)
{
    setenv("TZ", "UTC", 1);   /* ssh-keygen reads times without Z as local time */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_empty),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_refusals_binary),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_iterator),
        cmocka_unit_test(test_revoked_keys),
        cmocka_unit_test(test_agrees_with_ssh_keygen),
        cmocka_unit_test(test_stricter_than_ssh_keygen),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
