/* src/trust/sshkey + sshsig: OpenSSH keys and SSHSIG signatures.
 * Interop with the system ssh-keygen (signatures it makes verify here, and
 * signatures built here verify there), synthesized sk-ed25519 signatures, and
 * one test per rejection, each asserting its exact error. */
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
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>
#include "common/buf.h"
#include "common/fs.h"
#include "common/hash.h"
#include "trust/sshkey.h"
#include "trust/sshsig.h"

#define NS NC_SSHSIG_NAMESPACE

/* ------------------------------------------------------------ helpers */

static char g_dir[64];
static bool g_have_keygen;
static uint8_t g_pk[crypto_sign_PUBLICKEYBYTES], g_sk[crypto_sign_SECRETKEYBYTES];

/* Runs argv in dir with stdin from in_path (or /dev/null), stdout to out_path
 * (or /dev/null), stderr appended to g_dir/stderr.log. Returns the exit status, -1 if it
 * did not exit. */
static int run_in(const char *dir, const char *in_path, const char *out_path, char *const argv[])
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
        int out = out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600)
                           : open("/dev/null", O_WRONLY);
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

static void write_bytes(const char *name, const void *data, size_t len)
{
    char p[256];
    path_in(p, sizeof p, name);
    assert_int_equal(nc_write_file_atomic(p, data, len, 0600), NC_OK);
}

static uint8_t *read_bytes(const char *name, size_t *len)
{
    char p[256];
    uint8_t *data = NULL;
    path_in(p, sizeof p, name);
    assert_int_equal(nc_read_file(p, 1u << 20, &data, len), NC_OK);
    return data;
}

/* ssh-keygen -q -t ed25519 -N '' -f NAME */
static void keygen(const char *name)
{
    char p[256];
    path_in(p, sizeof p, name);
    unlink(p);
    snprintf(p, sizeof p, "%s/%s.pub", g_dir, name);
    unlink(p);
    char *argv[] = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f",
                    (char *)name, NULL};
    assert_int_equal(run_in(g_dir, NULL, NULL, argv), 0);
}

/* ssh-keygen -Y sign -f KEY -n NS [-O hashalg=H] MSG  -> MSG.sig */
static void keygen_sign(const char *key, const char *ns, const char *hashalg, const char *msg)
{
    char opt[32];
    char *argv[12];
    int a = 0;
    argv[a++] = "ssh-keygen";
    argv[a++] = "-Y";
    argv[a++] = "sign";
    argv[a++] = "-f";
    argv[a++] = (char *)key;
    argv[a++] = "-n";
    argv[a++] = (char *)ns;
    if (hashalg) {
        snprintf(opt, sizeof opt, "hashalg=%s", hashalg);
        argv[a++] = "-O";
        argv[a++] = opt;
    }
    argv[a++] = (char *)msg;
    argv[a] = NULL;
    char sig[256];
    snprintf(sig, sizeof sig, "%s/%s.sig", g_dir, msg);
    unlink(sig);
    assert_int_equal(run_in(g_dir, NULL, NULL, argv), 0);
}

/* ssh-keygen -Y verify -f AS -I PRINCIPAL -n NS -s SIG < MSG ; returns exit status */
static int keygen_verify(const char *as, const char *principal, const char *ns, const char *sig,
                         const char *msg)
{
    char in[256];
    char *argv[] = {"ssh-keygen", "-Y", "verify", "-f", (char *)as, "-I", (char *)principal,
                    "-n", (char *)ns, "-s", (char *)sig, NULL};
    path_in(in, sizeof in, msg);
    return run_in(g_dir, in, NULL, argv);
}

static nc_sshkey key_from_pub_file(const char *name)
{
    size_t len;
    uint8_t *text = read_bytes(name, &len);
    nc_sshkey k;
    const char *why;
    /* drop the newline: a key line ends there */
    while (len > 0 && text[len - 1] == '\n')
        len--;
    assert_int_equal(nc_sshkey_from_text((char *)text, len, &k, &why), NC_OK);
    free(text);
    return k;
}

#define SKIP_WITHOUT_KEYGEN()                                        \
    do {                                                             \
        if (!g_have_keygen) {                                        \
            print_message("ssh-keygen not found: interop skipped\n"); \
            skip();                                                  \
        }                                                            \
    } while (0)

/* ------------------------------------------------- building signatures */

static void put_str(nc_buf *b, const void *p, size_t n)
{
    assert_int_equal(nc_buf_put_string(b, p, n), NC_OK);
}

static void put_cstr(nc_buf *b, const char *s)
{
    put_str(b, s, strlen(s));
}

typedef struct {
    nc_sshkey_type key_type;
    const char *app;           /* sk application */
    const char *magic;
    uint32_t version;
    const char *ns;
    size_t ns_len;             /* (size_t)-1: strlen(ns) */
    size_t reserved_len;
    const char *hash;          /* name written and signed */
    const char *sig_type;      /* NULL: the key's type */
    size_t sig_len;            /* bytes of signature in the sub-blob */
    uint8_t flags;
    uint32_t counter;
    size_t outer_trailing, sig_trailing;
    bool omit_sk_tail;         /* sk: leave out flags and counter */
    const uint8_t *key_blob;   /* overrides the key blob */
    size_t key_blob_len;
    const void *msg;
    size_t msg_len;
} sig_opts;

static sig_opts defaults(nc_sshkey_type t)
{
    sig_opts o;
    memset(&o, 0, sizeof o);
    o.key_type = t;
    o.app = "ssh:";
    o.magic = "SSHSIG";
    o.version = 1;
    o.ns = NS;
    o.ns_len = (size_t)-1;
    o.hash = "sha512";
    o.sig_len = 64;
    o.flags = 0x01;
    o.counter = 7;
    o.msg = "approve me";
    o.msg_len = 10;
    return o;
}

static void key_blob(nc_sshkey_type t, const char *app, nc_buf *b)
{
    nc_buf_init(b, 4096);
    put_cstr(b, nc_sshkey_type_name(t));
    put_str(b, g_pk, sizeof g_pk);
    if (t == NC_SSHKEY_SK_ED25519)
        put_cstr(b, app);
}

/* An SSHSIG blob signed with the global keypair, shaped by o. */
static void make_blob(const sig_opts *o, nc_buf *out)
{
    nc_buf kb, signed_data, sigb;
    uint8_t digest[64], sig[64], app_hash[32], data_hash[32];
    size_t dlen = 64, ns_len = o->ns_len == (size_t)-1 ? strlen(o->ns) : o->ns_len;
    uint8_t *zeros = calloc(1, 64 + o->reserved_len + o->outer_trailing + o->sig_trailing);
    assert_non_null(zeros);

    if (strcmp(o->hash, "sha256") == 0)
        dlen = 32;
    assert_int_equal(nc_sshsig_hash_message(dlen == 32 ? NC_SSHSIG_SHA256 : NC_SSHSIG_SHA512,
                                            o->msg, o->msg_len, digest, &dlen),
                     NC_OK);
    /* The signed data, built here independently of nc_sshsig_signed_data. */
    nc_buf_init(&signed_data, 4096);
    assert_int_equal(nc_buf_append(&signed_data, "SSHSIG", 6), NC_OK);
    put_str(&signed_data, o->ns, ns_len);
    put_str(&signed_data, "", 0);
    put_cstr(&signed_data, o->hash);
    put_str(&signed_data, digest, dlen);
    if (o->key_type == NC_SSHKEY_SK_ED25519) {
        uint8_t m[32 + 1 + 4 + 32];
        assert_int_equal(nc_sha256(o->app, strlen(o->app), app_hash), NC_OK);
        assert_int_equal(nc_sha256(signed_data.data, signed_data.len, data_hash), NC_OK);
        memcpy(m, app_hash, 32);
        m[32] = o->flags;
        m[33] = (uint8_t)(o->counter >> 24);
        m[34] = (uint8_t)(o->counter >> 16);
        m[35] = (uint8_t)(o->counter >> 8);
        m[36] = (uint8_t)o->counter;
        memcpy(m + 37, data_hash, 32);
        crypto_sign_detached(sig, NULL, m, sizeof m, g_sk);
    } else {
        crypto_sign_detached(sig, NULL, signed_data.data, signed_data.len, g_sk);
    }

    nc_buf_init(&sigb, 4096);
    put_cstr(&sigb, o->sig_type ? o->sig_type : nc_sshkey_type_name(o->key_type));
    {
        uint8_t s[128];
        memset(s, 0xAB, sizeof s);
        memcpy(s, sig, 64);
        assert_true(o->sig_len <= sizeof s);
        put_str(&sigb, s, o->sig_len);
    }
    if (o->key_type == NC_SSHKEY_SK_ED25519 && !o->omit_sk_tail) {
        assert_int_equal(nc_buf_put_u8(&sigb, o->flags), NC_OK);
        assert_int_equal(nc_buf_put_u32be(&sigb, o->counter), NC_OK);
    }
    assert_int_equal(nc_buf_append(&sigb, zeros, o->sig_trailing), NC_OK);

    key_blob(o->key_type, o->app, &kb);
    nc_buf_init(out, 1u << 20);
    assert_int_equal(nc_buf_append(out, o->magic, strlen(o->magic)), NC_OK);
    assert_int_equal(nc_buf_put_u32be(out, o->version), NC_OK);
    if (o->key_blob)
        put_str(out, o->key_blob, o->key_blob_len);
    else
        put_str(out, kb.data, kb.len);
    put_str(out, o->ns, ns_len);
    put_str(out, zeros, o->reserved_len);
    put_cstr(out, o->hash);
    put_str(out, sigb.data, sigb.len);
    assert_int_equal(nc_buf_append(out, zeros, o->outer_trailing), NC_OK);

    nc_buf_cleanup(&kb);
    nc_buf_cleanup(&sigb);
    nc_buf_cleanup(&signed_data);
    free(zeros);
}

static nc_err parse_opts(const sig_opts *o, nc_sshsig *sig)
{
    nc_buf b;
    make_blob(o, &b);
    nc_err e = nc_sshsig_parse_blob(b.data, b.len, NS, sig);
    nc_buf_cleanup(&b);
    return e;
}

/* parse + verify of o's own message */
static nc_err parse_verify(const sig_opts *o, unsigned options)
{
    nc_sshsig sig;
    nc_err e = parse_opts(o, &sig);
    if (e != NC_OK)
        return e;
    return nc_sshsig_verify(&sig, o->msg, o->msg_len, options);
}

/* ---------------------------------------------- ssh-keygen interop */

static void check_keygen_signature(const char *hashalg, nc_sshsig_hash want)
{
    SKIP_WITHOUT_KEYGEN();
    static const char msg[] = "{\"_type\":\"https://in-toto.io/Statement/v1\"}\n";
    size_t sig_len;
    uint8_t *armored;
    nc_sshsig sig;
    nc_sshkey pub;

    keygen("key");
    write_bytes("msg", msg, sizeof msg - 1);
    keygen_sign("key", NS, hashalg, "msg");
    armored = read_bytes("msg.sig", &sig_len);
    pub = key_from_pub_file("key.pub");

    assert_int_equal(nc_sshsig_parse_armored(armored, sig_len, NS, &sig), NC_OK);
    assert_int_equal(sig.hash, want);
    assert_string_equal(sig.sig_namespace, NS);
    assert_int_equal(sig.key.type, NC_SSHKEY_ED25519);
    assert_true(nc_sshkey_equal(&sig.key, &pub));
    assert_int_equal(nc_sshsig_verify(&sig, msg, sizeof msg - 1, 0), NC_OK);
    /* REQUIRE_UV means nothing for a plain ed25519 key */
    assert_int_equal(nc_sshsig_verify(&sig, msg, sizeof msg - 1, NC_SSHSIG_REQUIRE_UV), NC_OK);
    /* another message, one byte shorter, one byte changed */
    assert_int_equal(nc_sshsig_verify(&sig, msg, sizeof msg - 2, 0), NC_ERR_BAD_SIGNATURE);
    assert_int_equal(nc_sshsig_verify(&sig, "{\"_type\":\"https://in-toto.io/Statement/v2\"}\n",
                                      sizeof msg - 1, 0),
                     NC_ERR_BAD_SIGNATURE);
    /* a flipped signature bit */
    for (int bit = 0; bit < 512; bit += 37) {
        nc_sshsig bad = sig;
        bad.sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(nc_sshsig_verify(&bad, msg, sizeof msg - 1, 0), NC_ERR_BAD_SIGNATURE);
    }
    /* the wrong namespace is refused before any cryptography */
    assert_int_equal(nc_sshsig_parse_armored(armored, sig_len, "file", &sig), NC_ERR_SIG_NAMESPACE);
    assert_int_equal(sig.key.type, NC_SSHKEY_NONE);   /* out cleared on failure */
    free(armored);
}

static void test_keygen_default_hash(void **state)
{
    (void)state;
    check_keygen_signature(NULL, NC_SSHSIG_SHA512);   /* ssh-keygen's default */
}

static void test_keygen_sha256(void **state)
{
    (void)state;
    check_keygen_signature("sha256", NC_SSHSIG_SHA256);
}

static void test_keygen_sha512(void **state)
{
    (void)state;
    check_keygen_signature("sha512", NC_SSHSIG_SHA512);
}

/* A signature from another message by the same key does not verify. */
static void test_keygen_signature_from_other_message(void **state)
{
    (void)state;
    SKIP_WITHOUT_KEYGEN();
    size_t len;
    uint8_t *armored;
    nc_sshsig sig;
    keygen("key2");
    write_bytes("m1", "message one", 11);
    keygen_sign("key2", NS, NULL, "m1");
    armored = read_bytes("m1.sig", &len);
    assert_int_equal(nc_sshsig_parse_armored(armored, len, NS, &sig), NC_OK);
    assert_int_equal(nc_sshsig_verify(&sig, "message one", 11, 0), NC_OK);
    assert_int_equal(nc_sshsig_verify(&sig, "message two", 11, 0), NC_ERR_BAD_SIGNATURE);
    assert_int_equal(nc_sshsig_verify(&sig, "", 0, 0), NC_ERR_BAD_SIGNATURE);
    assert_int_equal(nc_sshsig_verify(&sig, NULL, 0, 0), NC_ERR_BAD_SIGNATURE);
    free(armored);
}

/* Binary and empty messages are signed as exact bytes. */
static void test_keygen_binary_and_empty_messages(void **state)
{
    (void)state;
    SKIP_WITHOUT_KEYGEN();
    static const uint8_t bin[] = {0, 1, 2, 0xff, '\n', '\r', 0, 'x'};
    size_t len;
    uint8_t *armored;
    nc_sshsig sig;
    keygen("key3");
    write_bytes("bin", bin, sizeof bin);
    write_bytes("empty", "", 0);
    keygen_sign("key3", NS, "sha256", "bin");
    keygen_sign("key3", NS, NULL, "empty");
    armored = read_bytes("bin.sig", &len);
    assert_int_equal(nc_sshsig_parse_armored(armored, len, NS, &sig), NC_OK);
    assert_int_equal(nc_sshsig_verify(&sig, bin, sizeof bin, 0), NC_OK);
    assert_int_equal(nc_sshsig_verify(&sig, bin, sizeof bin - 1, 0), NC_ERR_BAD_SIGNATURE);
    free(armored);
    armored = read_bytes("empty.sig", &len);
    assert_int_equal(nc_sshsig_parse_armored(armored, len, NS, &sig), NC_OK);
    assert_int_equal(nc_sshsig_verify(&sig, NULL, 0, 0), NC_OK);
    assert_int_equal(nc_sshsig_verify(&sig, "", 0, 0), NC_OK);
    free(armored);
}

/* ssh-keygen signing with another namespace: SIG_NAMESPACE. */
static void test_keygen_other_namespace(void **state)
{
    (void)state;
    SKIP_WITHOUT_KEYGEN();
    size_t len;
    uint8_t *armored;
    nc_sshsig sig;
    keygen("key4");
    write_bytes("m", "x", 1);
    keygen_sign("key4", "git", NULL, "m");
    armored = read_bytes("m.sig", &len);
    assert_int_equal(nc_sshsig_parse_armored(armored, len, NS, &sig), NC_ERR_SIG_NAMESPACE);
    assert_int_equal(nc_sshsig_parse_armored(armored, len, "git", &sig), NC_OK);
    free(armored);
}

/* Key lines and fingerprints agree with ssh-keygen. */
static void test_keygen_key_line_and_fingerprint(void **state)
{
    (void)state;
    SKIP_WITHOUT_KEYGEN();
    char fp[NC_SSHKEY_FINGERPRINT_LEN], text[NC_SSHKEY_TEXT_MAX], out_path[128];
    char *argv[] = {"ssh-keygen", "-l", "-E", "sha256", "-f", "key5.pub", NULL};
    size_t len, pub_len;
    uint8_t *listing, *pub;
    nc_sshkey k;

    keygen("key5");
    k = key_from_pub_file("key5.pub");
    path_in(out_path, sizeof out_path, "fp.txt");
    assert_int_equal(run_in(g_dir, NULL, out_path, argv), 0);
    listing = read_bytes("fp.txt", &len);
    assert_int_equal(nc_sshkey_fingerprint(&k, fp), NC_OK);
    /* "256 SHA256:xxxx test (ED25519)\n" */
    assert_true(len > 4 + strlen(fp));
    assert_memory_equal(listing + 4, fp, strlen(fp));
    assert_int_equal(strlen(fp), NC_SSHKEY_FINGERPRINT_LEN - 1);
    /* "TYPE BASE64" is the .pub file without its comment */
    pub = read_bytes("key5.pub", &pub_len);
    assert_int_equal(nc_sshkey_to_text(&k, text, sizeof text), NC_OK);
    assert_memory_equal(pub, text, strlen(text));
    assert_int_equal(pub[strlen(text)], ' ');
    assert_int_equal(nc_sshkey_to_text(&k, text, 20), NC_ERR_TOO_LARGE);
    free(listing);
    free(pub);
}

/* Signatures built here (libsodium) verify with ssh-keygen, for both key types:
 * this pins the signed-data layout, including the sk one, to OpenSSH's. */
static void check_keygen_accepts_ours(nc_sshkey_type t, const char *hash, uint8_t flags,
                                      nc_err ours)
{
    SKIP_WITHOUT_KEYGEN();
    sig_opts o = defaults(t);
    nc_buf blob, armored;
    nc_sshkey key;
    nc_sshsig sig;
    char line[NC_SSHKEY_TEXT_MAX + 16], text[NC_SSHKEY_TEXT_MAX];
    o.hash = hash;
    o.flags = flags;
    make_blob(&o, &blob);
    nc_buf_init(&armored, 1u << 16);
    assert_int_equal(nc_sshsig_armor(blob.data, blob.len, &armored), NC_OK);
    /* our armor round-trips through our parser */
    assert_int_equal(nc_sshsig_parse_armored(armored.data, armored.len, NS, &sig), NC_OK);
    assert_int_equal(nc_sshsig_verify(&sig, o.msg, o.msg_len, 0), ours);

    assert_int_equal(nc_sshkey_from_blob(sig.key.blob, sig.key.blob_len, &key), NC_OK);
    assert_int_equal(nc_sshkey_to_text(&key, text, sizeof text), NC_OK);
    snprintf(line, sizeof line, "alice %s\n", text);
    write_bytes("ours_as", line, strlen(line));
    write_bytes("ours_msg", o.msg, o.msg_len);
    write_bytes("ours.sig", armored.data, armored.len);
    assert_int_equal(keygen_verify("ours_as", "alice", NS, "ours.sig", "ours_msg"), 0);
    write_bytes("ours_msg", "approve mf", 10);
    assert_int_not_equal(keygen_verify("ours_as", "alice", NS, "ours.sig", "ours_msg"), 0);
    nc_buf_cleanup(&blob);
    nc_buf_cleanup(&armored);
}

static void test_keygen_accepts_our_ed25519(void **state)
{
    (void)state;
    check_keygen_accepts_ours(NC_SSHKEY_ED25519, "sha512", 0, NC_OK);
    check_keygen_accepts_ours(NC_SSHKEY_ED25519, "sha256", 0, NC_OK);
}

static void test_keygen_accepts_our_sk_ed25519(void **state)
{
    (void)state;
    check_keygen_accepts_ours(NC_SSHKEY_SK_ED25519, "sha512", 0x01, NC_OK);
    check_keygen_accepts_ours(NC_SSHKEY_SK_ED25519, "sha256", 0x05, NC_OK);
}

/* ssh-keygen -Y verify accepts an sk signature made without user presence;
 * we do not (DESIGN.md §3). */
static void test_keygen_ignores_presence_we_require(void **state)
{
    (void)state;
    check_keygen_accepts_ours(NC_SSHKEY_SK_ED25519, "sha512", 0x00, NC_ERR_SK_NO_PRESENCE);
}

/* ------------------------------------------------------ sk-ed25519 */

static void test_sk_flags(void **state)
{
    (void)state;
    sig_opts o = defaults(NC_SSHKEY_SK_ED25519);
    nc_sshsig sig;

    o.flags = 0x01;
    assert_int_equal(parse_opts(&o, &sig), NC_OK);
    assert_int_equal(sig.key.type, NC_SSHKEY_SK_ED25519);
    assert_int_equal(sig.sk_flags, 0x01);
    assert_int_equal(sig.sk_counter, 7);
    assert_int_equal(sig.key.application_len, 4);
    assert_memory_equal(sig.key.blob + sig.key.application_off, "ssh:", 4);
    assert_int_equal(parse_verify(&o, 0), NC_OK);
    assert_int_equal(parse_verify(&o, NC_SSHSIG_REQUIRE_UV), NC_ERR_SK_NO_VERIFICATION);

    o.flags = 0x00;
    assert_int_equal(parse_verify(&o, 0), NC_ERR_SK_NO_PRESENCE);
    assert_int_equal(parse_verify(&o, NC_SSHSIG_REQUIRE_UV), NC_ERR_SK_NO_PRESENCE);

    o.flags = 0x05;
    assert_int_equal(parse_verify(&o, 0), NC_OK);
    assert_int_equal(parse_verify(&o, NC_SSHSIG_REQUIRE_UV), NC_OK);

    o.flags = 0x04;   /* verified but not present: presence is checked first */
    assert_int_equal(parse_verify(&o, NC_SSHSIG_REQUIRE_UV), NC_ERR_SK_NO_PRESENCE);

    o.hash = "sha256";
    o.flags = 0x01;
    assert_int_equal(parse_verify(&o, 0), NC_OK);
}

/* Flags and counter are signed: changing either breaks the signature, and a
 * bad signature is reported before the flags are looked at. */
static void test_sk_flags_and_counter_are_signed(void **state)
{
    (void)state;
    sig_opts o = defaults(NC_SSHKEY_SK_ED25519);
    nc_sshsig sig;
    assert_int_equal(parse_opts(&o, &sig), NC_OK);
    nc_sshsig bad = sig;
    bad.sk_flags = 0x05;
    assert_int_equal(nc_sshsig_verify(&bad, o.msg, o.msg_len, 0), NC_ERR_BAD_SIGNATURE);
    bad = sig;
    bad.sk_counter++;
    assert_int_equal(nc_sshsig_verify(&bad, o.msg, o.msg_len, 0), NC_ERR_BAD_SIGNATURE);
    o.flags = 0x00;
    assert_int_equal(parse_opts(&o, &sig), NC_OK);
    sig.sig[10] ^= 1;
    assert_int_equal(nc_sshsig_verify(&sig, o.msg, o.msg_len, 0), NC_ERR_BAD_SIGNATURE);
    /* another application: a different key */
    o = defaults(NC_SSHKEY_SK_ED25519);
    assert_int_equal(parse_opts(&o, &sig), NC_OK);
    o.app = "ssh:other";
    nc_sshsig other;
    assert_int_equal(parse_opts(&o, &other), NC_OK);
    assert_false(nc_sshkey_equal(&sig.key, &other.key));
    memcpy(other.sig, sig.sig, 64);
    assert_int_equal(nc_sshsig_verify(&other, o.msg, o.msg_len, 0), NC_ERR_BAD_SIGNATURE);
}

static void test_sk_sig_blob_format(void **state)
{
    (void)state;
    sig_opts o = defaults(NC_SSHKEY_SK_ED25519);
    nc_sshsig sig;
    o.omit_sk_tail = true;
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_FORMAT);
    o = defaults(NC_SSHKEY_SK_ED25519);
    o.sig_trailing = 1;
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_FORMAT);
    o = defaults(NC_SSHKEY_SK_ED25519);
    o.app = "";   /* an empty application is still a key */
    assert_int_equal(parse_verify(&o, 0), NC_OK);
}

/* --------------------------------------------- blob-level rejections */

static void test_ed25519_synthesized_ok(void **state)
{
    (void)state;
    sig_opts o = defaults(NC_SSHKEY_ED25519);
    assert_int_equal(parse_verify(&o, 0), NC_OK);
    o.hash = "sha256";
    assert_int_equal(parse_verify(&o, 0), NC_OK);
}

static void test_wrong_magic(void **state)
{
    (void)state;
    sig_opts o = defaults(NC_SSHKEY_ED25519);
    nc_sshsig sig;
    o.magic = "SSHSIH";
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_FORMAT);
    o.magic = "sshsig";
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_FORMAT);
}

static void test_versions(void **state)
{
    (void)state;
    sig_opts o = defaults(NC_SSHKEY_ED25519);
    nc_sshsig sig;
    o.version = 0;
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_FORMAT);
    o.version = 2;
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_FORMAT);
    o.version = 0x01000000;
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_FORMAT);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    sig_opts o = defaults(NC_SSHKEY_ED25519);
    nc_sshsig sig;
    o.outer_trailing = 1;
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_FORMAT);
    o = defaults(NC_SSHKEY_ED25519);
    o.sig_trailing = 1;
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_FORMAT);
    o = defaults(NC_SSHKEY_ED25519);
    o.sig_len = 63;
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_FORMAT);
    o.sig_len = 65;
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_FORMAT);
    o = defaults(NC_SSHKEY_ED25519);
    o.reserved_len = 1;
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_FORMAT);
}

/* Every truncation of a good blob is a format error, never a crash. */
static void test_truncations(void **state)
{
    (void)state;
    sig_opts o = defaults(NC_SSHKEY_SK_ED25519);
    nc_buf b;
    nc_sshsig sig;
    make_blob(&o, &b);
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, b.data, n);
        assert_int_equal(nc_sshsig_parse_blob(copy, n, NS, &sig), NC_ERR_SIG_FORMAT);
        free(copy);
    }
    assert_int_equal(nc_sshsig_parse_blob(b.data, b.len, NS, &sig), NC_OK);
    assert_int_equal(nc_sshsig_parse_blob(NULL, 0, NS, &sig), NC_ERR_SIG_FORMAT);
    nc_buf_cleanup(&b);
}

static void test_namespace(void **state)
{
    (void)state;
    sig_opts o = defaults(NC_SSHKEY_ED25519);
    nc_sshsig sig;
    nc_buf b;
    o.ns = "";
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_NAMESPACE);
    o.ns = "nightcore-approval-v2";
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_NAMESPACE);
    o.ns = "nightcore-approval-v1\0";
    o.ns_len = sizeof("nightcore-approval-v1");   /* with the NUL */
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_NAMESPACE);
    o = defaults(NC_SSHKEY_ED25519);
    o.ns = "nightcore-approval-v";
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_NAMESPACE);
    /* the caller's namespace must be usable */
    o = defaults(NC_SSHKEY_ED25519);
    make_blob(&o, &b);
    assert_int_equal(nc_sshsig_parse_blob(b.data, b.len, "", &sig), NC_ERR_USAGE);
    assert_int_equal(nc_sshsig_parse_blob(b.data, b.len, NULL, &sig), NC_ERR_USAGE);
    nc_buf_cleanup(&b);
}

static void test_hash_algorithms(void **state)
{
    (void)state;
    static const char *const refused[] = {"sha1", "SHA256", "sha384", "sha256 ", "", "md5"};
    sig_opts o = defaults(NC_SSHKEY_ED25519);
    nc_sshsig sig;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        o.hash = refused[i];
        assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_HASH_ALG);
    }
}

/* ssh-rsa and ecdsa keys (well-formed blobs of their kind) are refused by type. */
static void test_unknown_key_types(void **state)
{
    (void)state;
    sig_opts o = defaults(NC_SSHKEY_ED25519);
    nc_sshsig sig;
    nc_buf kb;
    uint8_t big[257];
    memset(big, 0xC3, sizeof big);
    big[0] = 0x00;

    nc_buf_init(&kb, 4096);   /* ssh-rsa: string type, mpint e, mpint n */
    put_cstr(&kb, "ssh-rsa");
    put_str(&kb, "\x01\x00\x01", 3);
    put_str(&kb, big, sizeof big);
    o.key_blob = kb.data;
    o.key_blob_len = kb.len;
    o.sig_type = "rsa-sha2-512";
    o.sig_len = 64;
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_KEY_TYPE);
    nc_buf_cleanup(&kb);

    nc_buf_init(&kb, 4096);   /* ecdsa: string type, string curve, string Q */
    put_cstr(&kb, "ecdsa-sha2-nistp256");
    put_cstr(&kb, "nistp256");
    put_str(&kb, big, 65);
    o.key_blob = kb.data;
    o.key_blob_len = kb.len;
    o.sig_type = "ecdsa-sha2-nistp256";
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_KEY_TYPE);
    /* with an ed25519 signature sub-blob: still the key's type that is refused */
    o.sig_type = NULL;
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_KEY_TYPE);
    nc_buf_cleanup(&kb);

    nc_buf_init(&kb, 4096);   /* a malformed ed25519 key blob: format */
    put_cstr(&kb, "ssh-ed25519");
    put_str(&kb, g_pk, 31);
    o.key_blob = kb.data;
    o.key_blob_len = kb.len;
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_FORMAT);
    nc_buf_cleanup(&kb);
}

static void test_sig_type_must_match_key_type(void **state)
{
    (void)state;
    sig_opts o = defaults(NC_SSHKEY_ED25519);
    nc_sshsig sig;
    o.sig_type = "ssh-rsa";
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_KEY_TYPE);
    o.sig_type = NC_SSHKEY_SK_ED25519_NAME;   /* sk sig blob shape, ed25519 key */
    o.sig_trailing = 5;                       /* room for flags + counter */
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_KEY_TYPE);
    o = defaults(NC_SSHKEY_SK_ED25519);
    o.sig_type = NC_SSHKEY_ED25519_NAME;      /* ed25519 sig blob, sk key */
    o.omit_sk_tail = true;
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_KEY_TYPE);
}

/* First failure wins, in DESIGN.md order: format, namespace, hash, key type. */
static void test_check_order(void **state)
{
    (void)state;
    sig_opts o = defaults(NC_SSHKEY_ED25519);
    nc_sshsig sig;
    o.ns = "other";
    o.hash = "sha1";
    o.sig_type = "ssh-rsa";
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_NAMESPACE);
    o.ns = NS;
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_HASH_ALG);
    o.hash = "sha256";
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_KEY_TYPE);
    o.outer_trailing = 3;
    o.ns = "other";
    assert_int_equal(parse_opts(&o, &sig), NC_ERR_SIG_FORMAT);
}

/* ------------------------------------------------------- armor */

static nc_err parse_text(const char *s)
{
    nc_sshsig sig;
    return nc_sshsig_parse_armored(s, strlen(s), NS, &sig);
}

static void good_armor(nc_buf *armored)
{
    sig_opts o = defaults(NC_SSHKEY_ED25519);
    nc_buf b;
    make_blob(&o, &b);
    nc_buf_init(armored, 1u << 16);
    assert_int_equal(nc_sshsig_armor(b.data, b.len, armored), NC_OK);
    assert_int_equal(nc_buf_put_u8(armored, 0), NC_OK);   /* as a C string */
    armored->len--;
    nc_buf_cleanup(&b);
}

/* Replaces the first occurrence of from in s with to, into out. */
static void edit(const char *s, const char *from, const char *to, char *out, size_t n)
{
    const char *at = strstr(s, from);
    assert_non_null(at);
    snprintf(out, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
}

static void test_armor(void **state)
{
    (void)state;
    nc_buf a;
    char buf[4096], tmp[4096];
    const char *s;
    good_armor(&a);
    s = (const char *)a.data;
    assert_int_equal(parse_text(s), NC_OK);
    /* without the final newline */
    snprintf(buf, sizeof buf, "%.*s", (int)a.len - 1, s);
    assert_int_equal(parse_text(buf), NC_OK);
    /* lines re-wrapped at 76 (other tools) */
    {
        char b64[2048];
        size_t n = 0, o = 0;
        const char *body = s + strlen("-----BEGIN SSH SIGNATURE-----\n");
        const char *end = strstr(s, "-----END");
        for (const char *p = body; p < end; p++)
            if (*p != '\n')
                b64[n++] = *p;
        o = (size_t)snprintf(buf, sizeof buf, "-----BEGIN SSH SIGNATURE-----\n");
        for (size_t i = 0; i < n; i += 76)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%.*s\n", (int)(n - i < 76 ? n - i : 76),
                                  b64 + i);
        snprintf(buf + o, sizeof buf - o, "-----END SSH SIGNATURE-----\n");
        assert_int_equal(parse_text(buf), NC_OK);
        /* 77 is too long */
        o = (size_t)snprintf(buf, sizeof buf, "-----BEGIN SSH SIGNATURE-----\n");
        for (size_t i = 0; i < n; i += 77)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%.*s\n", (int)(n - i < 77 ? n - i : 77),
                                  b64 + i);
        snprintf(buf + o, sizeof buf - o, "-----END SSH SIGNATURE-----\n");
        assert_int_equal(parse_text(buf), NC_ERR_SIG_ARMOR);
    }

    static const struct {
        const char *from, *to;
    } bad[] = {
        {"-----BEGIN SSH SIGNATURE-----\n", "-----BEGIN SSH SIGNATURE-----\r\n"},
        {"-----BEGIN SSH SIGNATURE-----\n", "-----BEGIN SSH SIGNATURE----- \n"},
        {"-----BEGIN SSH SIGNATURE-----\n", " -----BEGIN SSH SIGNATURE-----\n"},
        {"-----BEGIN SSH SIGNATURE-----\n", "x\n-----BEGIN SSH SIGNATURE-----\n"},
        {"-----BEGIN SSH SIGNATURE-----\n", "-----BEGIN SSH SIGNATURE-----"},
        {"-----BEGIN SSH SIGNATURE-----\n", "-----BEGIN SSH SIGNATURE-----\n\n"},
        {"-----BEGIN SSH SIGNATURE-----\n", "-----BEGIN PGP SIGNATURE-----\n"},
        {"-----END SSH SIGNATURE-----\n", "-----END SSH SIGNATURE-----\n\n"},
        {"-----END SSH SIGNATURE-----\n", "-----END SSH SIGNATURE-----\r\n"},
        {"-----END SSH SIGNATURE-----\n", "-----END SSH SIGNATURE----- \n"},
        {"-----END SSH SIGNATURE-----\n", "-----END SSH SIGNATURE-----\nx"},
        {"-----END SSH SIGNATURE-----\n", "-----END SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n"},
        {"-----END SSH SIGNATURE-----\n", ""},
        {"-----END SSH SIGNATURE-----\n", "-----END SSH SIGNATURE----"},
        {"\n-----END", "\n\n-----END"},
        {"\n-----END", "\r\n-----END"},
        {"\n-----END", " \n-----END"},
        {"\n-----END", "-----END"},
        {"U1NIU0lH", "U1NIU0l"},            /* bad base64: length */
        {"U1NIU0lH", "U1NI U0lH"},
        {"U1NIU0lH", "U1NI\tU0lH"},
        {"U1NIU0lH", "U1NI\nU0lH\n\n"},
        {"U1NIU0lH", "U1NI!0lH"},
        {"U1NIU0lH", "U1N=U0lH"},           /* padding in the middle */
        {"U1NIU0lH", "U1NIU0lH=="},
        {"U1NIU0lH", "U1NIU0lH-_"},         /* url-safe alphabet */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        edit(s, bad[i].from, bad[i].to, buf, sizeof buf);
        if (parse_text(buf) != NC_ERR_SIG_ARMOR)
            fail_msg("case %zu (%s) not refused as SIG_ARMOR", i, bad[i].to);
    }
    /* a NUL byte right after END (length-delimited input) */
    {
        memcpy(tmp, s, a.len);
        tmp[a.len] = '\0';
        nc_sshsig sig;
        assert_int_equal(nc_sshsig_parse_armored(tmp, a.len + 1, NS, &sig), NC_ERR_SIG_ARMOR);
        assert_int_equal(nc_sshsig_parse_armored(tmp, a.len - 2, NS, &sig), NC_ERR_SIG_ARMOR);
        assert_int_equal(nc_sshsig_parse_armored(tmp, 0, NS, &sig), NC_ERR_SIG_ARMOR);
        assert_int_equal(nc_sshsig_parse_armored(NULL, 0, NS, &sig), NC_ERR_SIG_ARMOR);
    }
    /* only the armor and no body */
    assert_int_equal(parse_text("-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n"),
                     NC_ERR_SIG_ARMOR);
    /* non-canonical base64: the last character carries bits that must be zero */
    assert_int_equal(parse_text("-----BEGIN SSH SIGNATURE-----\nU1NIU0lI\nAB==\n"
                                "-----END SSH SIGNATURE-----\n"),
                     NC_ERR_SIG_ARMOR);
    /* valid base64 of a non-SSHSIG blob: format, not armor */
    assert_int_equal(parse_text("-----BEGIN SSH SIGNATURE-----\naGVsbG8=\n"
                                "-----END SSH SIGNATURE-----\n"),
                     NC_ERR_SIG_FORMAT);
    nc_buf_cleanup(&a);
}

static void test_armor_size_cap(void **state)
{
    (void)state;
    size_t n = NC_MAX_SSHSIG_ARMOR_BYTES + 1;
    char *big = malloc(n);
    nc_sshsig sig;
    assert_non_null(big);
    memset(big, 'A', n);
    assert_int_equal(nc_sshsig_parse_armored(big, n, NS, &sig), NC_ERR_TOO_LARGE);
    /* at the cap it is parsed (and refused for its content) */
    assert_int_equal(nc_sshsig_parse_armored(big, n - 1, NS, &sig), NC_ERR_SIG_ARMOR);
    free(big);
}

/* ------------------------------------------------------- keys */

static void test_key_blobs(void **state)
{
    (void)state;
    nc_buf b;
    nc_sshkey k;
    key_blob(NC_SSHKEY_ED25519, NULL, &b);
    assert_int_equal(nc_sshkey_from_blob(b.data, b.len, &k), NC_OK);
    assert_int_equal(k.type, NC_SSHKEY_ED25519);
    assert_memory_equal(k.pk, g_pk, 32);
    assert_int_equal(k.blob_len, b.len);
    assert_true(nc_sshkey_equal_blob(&k, b.data, b.len));
    assert_false(nc_sshkey_equal_blob(&k, b.data, b.len - 1));
    assert_int_equal(nc_buf_put_u8(&b, 0), NC_OK);
    assert_int_equal(nc_sshkey_from_blob(b.data, b.len, &k), NC_ERR_MALFORMED);   /* trailing */
    assert_int_equal(k.type, NC_SSHKEY_NONE);
    nc_buf_cleanup(&b);

    key_blob(NC_SSHKEY_SK_ED25519, "ssh:", &b);
    assert_int_equal(nc_sshkey_from_blob(b.data, b.len, &k), NC_OK);
    assert_int_equal(k.type, NC_SSHKEY_SK_ED25519);
    nc_buf_cleanup(&b);
    key_blob(NC_SSHKEY_SK_ED25519, "ssh:\0x", &b);   /* NUL cut: "ssh:" */
    assert_int_equal(nc_sshkey_from_blob(b.data, b.len, &k), NC_OK);
    nc_buf_cleanup(&b);

    nc_buf_init(&b, 4096);   /* application with an embedded NUL */
    put_cstr(&b, NC_SSHKEY_SK_ED25519_NAME);
    put_str(&b, g_pk, 32);
    put_str(&b, "ssh:\0x", 6);
    assert_int_equal(nc_sshkey_from_blob(b.data, b.len, &k), NC_ERR_MALFORMED);
    nc_buf_cleanup(&b);

    {   /* application over the cap */
        char app[NC_MAX_SSH_APPLICATION_BYTES + 2];
        memset(app, 'a', sizeof app - 1);
        app[sizeof app - 1] = '\0';
        key_blob(NC_SSHKEY_SK_ED25519, app, &b);
        assert_int_equal(nc_sshkey_from_blob(b.data, b.len, &k), NC_ERR_TOO_LARGE);
        nc_buf_cleanup(&b);
        app[sizeof app - 2] = '\0';   /* exactly the cap */
        key_blob(NC_SSHKEY_SK_ED25519, app, &b);
        assert_int_equal(nc_sshkey_from_blob(b.data, b.len, &k), NC_OK);
        assert_int_equal(k.blob_len, b.len);
        nc_buf_cleanup(&b);
    }

    nc_buf_init(&b, 4096);
    put_cstr(&b, "ssh-dss");
    put_str(&b, g_pk, 32);
    assert_int_equal(nc_sshkey_from_blob(b.data, b.len, &k), NC_ERR_SIG_KEY_TYPE);
    nc_buf_cleanup(&b);
    assert_int_equal(nc_sshkey_from_blob("", 0, &k), NC_ERR_MALFORMED);
    assert_int_equal(nc_sshkey_from_blob("\0\0\0\x20", 4, &k), NC_ERR_MALFORMED);
}

static void test_key_text(void **state)
{
    (void)state;
    nc_buf b;
    nc_sshkey k, k2;
    char text[NC_SSHKEY_TEXT_MAX], line[1024];
    const char *why;
    key_blob(NC_SSHKEY_ED25519, NULL, &b);
    assert_int_equal(nc_sshkey_from_blob(b.data, b.len, &k), NC_OK);
    assert_int_equal(nc_sshkey_to_text(&k, text, sizeof text), NC_OK);
    assert_int_equal(nc_sshkey_from_text(text, strlen(text), &k2, &why), NC_OK);
    assert_null(why);
    assert_true(nc_sshkey_equal(&k, &k2));
    snprintf(line, sizeof line, "%s a comment, with anything: \"*?!", text);
    assert_int_equal(nc_sshkey_from_text(line, strlen(line), &k2, NULL), NC_OK);
    edit(text, " ", "\t \t", line, sizeof line);
    assert_int_equal(nc_sshkey_from_text(line, strlen(line), &k2, NULL), NC_OK);

    /* the refusals */
    edit(text, "ssh-ed25519", NC_SSHKEY_SK_ED25519_NAME, line, sizeof line);
    assert_int_equal(nc_sshkey_from_text(line, strlen(line), &k2, &why), NC_ERR_MALFORMED);
    assert_string_equal(why, "key type does not match the key blob");
    edit(text, "ssh-ed25519", "ssh-rsa", line, sizeof line);
    assert_int_equal(nc_sshkey_from_text(line, strlen(line), &k2, &why), NC_ERR_SIG_KEY_TYPE);
    snprintf(line, sizeof line, " %s", text);
    assert_int_equal(nc_sshkey_from_text(line, strlen(line), &k2, &why), NC_ERR_MALFORMED);
    assert_int_equal(nc_sshkey_from_text("ssh-ed25519", 11, &k2, &why), NC_ERR_MALFORMED);
    assert_int_equal(nc_sshkey_from_text("ssh-ed25519 ", 12, &k2, &why), NC_ERR_MALFORMED);
    snprintf(line, sizeof line, "%s", text);
    line[strlen(line) - 1] = '!';
    assert_int_equal(nc_sshkey_from_text(line, strlen(line), &k2, &why), NC_ERR_MALFORMED);
    assert_string_equal(why, "invalid base64 in public key");
    snprintf(line, sizeof line, "%sAAAA", text);
    assert_int_equal(nc_sshkey_from_text(line, strlen(line), &k2, &why), NC_ERR_MALFORMED);
    assert_int_equal(k2.type, NC_SSHKEY_NONE);
    nc_buf_cleanup(&b);
}

static void test_fingerprint_format(void **state)
{
    (void)state;
    nc_buf b;
    nc_sshkey k;
    char fp[NC_SSHKEY_FINGERPRINT_LEN];
    key_blob(NC_SSHKEY_ED25519, NULL, &b);
    assert_int_equal(nc_sshkey_from_blob(b.data, b.len, &k), NC_OK);
    assert_int_equal(nc_sshkey_fingerprint(&k, fp), NC_OK);
    assert_int_equal(strncmp(fp, "SHA256:", 7), 0);
    assert_int_equal(strlen(fp), 50);
    assert_null(strchr(fp, '='));
    nc_buf_cleanup(&b);
}

static void test_usage_errors(void **state)
{
    (void)state;
    nc_sshsig sig;
    memset(&sig, 0, sizeof sig);
    assert_int_equal(nc_sshsig_verify(&sig, "x", 1, 0), NC_ERR_USAGE);
    assert_int_equal(nc_sshsig_verify(NULL, "x", 1, 0), NC_ERR_USAGE);
    assert_int_equal(parse_text("x"), NC_ERR_SIG_ARMOR);
    assert_int_equal(nc_sshsig_parse_armored("x", 1, "", &sig), NC_ERR_USAGE);
    sig_opts o = defaults(NC_SSHKEY_ED25519);
    assert_int_equal(parse_opts(&o, &sig), NC_OK);
    assert_int_equal(nc_sshsig_verify(&sig, NULL, 3, 0), NC_ERR_USAGE);
    assert_int_equal(nc_sshsig_verify(&sig, o.msg, o.msg_len, 0x80), NC_ERR_USAGE);
}

/* ------------------------------------------------------- main */

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    crypto_sign_keypair(g_pk, g_sk);
    snprintf(g_dir, sizeof g_dir, "/tmp/nc-sshsig-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    char *argv[] = {"ssh-keygen", "-?", NULL};
    g_have_keygen = run_in(g_dir, NULL, NULL, argv) != 127;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char *argv[] = {"rm", "-rf", g_dir, NULL};
    return run_in("/", NULL, NULL, argv) == 0 ? 0 : -1;
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen_default_hash),
        cmocka_unit_test(test_keygen_sha256),
        cmocka_unit_test(test_keygen_sha512),
        cmocka_unit_test(test_keygen_signature_from_other_message),
        cmocka_unit_test(test_keygen_binary_and_empty_messages),
        cmocka_unit_test(test_keygen_other_namespace),
        cmocka_unit_test(test_keygen_key_line_and_fingerprint),
        cmocka_unit_test(test_keygen_accepts_our_ed25519),
        cmocka_unit_test(test_keygen_accepts_our_sk_ed25519),
        cmocka_unit_test(test_keygen_ignores_presence_we_require),
        cmocka_unit_test(test_sk_flags),
        cmocka_unit_test(test_sk_flags_and_counter_are_signed),
        cmocka_unit_test(test_sk_sig_blob_format),
        cmocka_unit_test(test_ed25519_synthesized_ok),
        cmocka_unit_test(test_wrong_magic),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_namespace),
        cmocka_unit_test(test_hash_algorithms),
        cmocka_unit_test(test_unknown_key_types),
        cmocka_unit_test(test_sig_type_must_match_key_type),
        cmocka_unit_test(test_check_order),
        cmocka_unit_test(test_armor),
        cmocka_unit_test(test_armor_size_cap),
        cmocka_unit_test(test_key_blobs),
        cmocka_unit_test(test_key_text),
        cmocka_unit_test(test_fingerprint_format),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
