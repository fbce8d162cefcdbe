/* The CLI's audit helpers (src/cli/audit_fmt.c): HTML escaping, entry
 * descriptions, and the local check of a run receipt against every way a
 * receipt can be wrong (the integration tests only see honest workers). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <cmocka.h>
#include "cli/audit_fmt.h"
#include "common/json.h"

/* ---- HTML ---- */

static char *html(const char *s, bool multiline)
{
    nc_buf b;
    nc_buf_init(&b, 1 << 20);
    assert_int_equal(cli_html_escape(&b, s, s ? strlen(s) : 0, multiline), NC_OK);
    assert_int_equal(nc_buf_append(&b, "", 1), NC_OK);
    size_t len;
    return (char *)nc_buf_steal(&b, &len);
}

static void check_html(const char *in, bool multiline, const char *want)
{
    char *got = html(in, multiline);
    assert_string_equal(got, want);
    free(got);
}

static void test_html_escape(void **state)
{
    (void)state;
    check_html("<img src=x onerror=alert(1)>", false, "&lt;img src=x onerror=alert(1)&gt;");
    check_html("<script>alert(1)</script>", false, "&lt;script&gt;alert(1)&lt;/script&gt;");
    check_html("a & b \"c\" 'd'", false, "a &amp; b &quot;c&quot; &#39;d&#39;");
    check_html("&amp;", false, "&amp;amp;");
    check_html("", false, "");
    check_html(NULL, false, "");
    check_html("plain text, caf\xc3\xa9 \xe2\x80\x94 ok", false, "plain text, caf\xc3\xa9 \xe2\x80\x94 ok");
    /* terminal and layout tricks become visible text */
    check_html("evil\x1b[2J", false, "evil\\x1b[2J");
    check_html("left\xe2\x80\xaeright", false, "left\\u{202e}right");
    check_html("bad \xff byte", false, "bad \\xff byte");
    check_html("two\nlines\r", false, "two\\nlines\\r");
    check_html("two\nlines <b>", true, "two\nlines &lt;b&gt;");
    /* a full buffer is an error, never a silent cut */
    nc_buf b;
    nc_buf_init(&b, 8);
    assert_int_equal(cli_html_escape(&b, "<<<<", 4, false), NC_ERR_TOO_LARGE);
    nc_buf_cleanup(&b);
}

/* ---- descriptions ---- */

static void describe(const char *json, cli_audit_desc *d)
{
    cli_audit_describe(json, strlen(json), d);
}

static void test_describe(void **state)
{
    (void)state;
    cli_audit_desc d;
    describe("{\"exit_code\":0,\"limits_hit\":[],\"module_sha256\":\"79688135c37054f40d232e6df57cf1bf\","
             "\"name\":\"hello\",\"outcome\":\"ok\",\"run\":\"r_1\",\"seq\":4,\"threat_score\":5,\"time\":1795917291,"
             "\"type\":\"run.end\"}",
             &d);
    assert_int_equal(d.seq, 4);
    assert_int_equal(d.time, 1795917291);
    assert_string_equal(d.type, "run.end");
    assert_string_equal(d.name, "hello");
    assert_string_equal(d.sha, "79688135c370");
    assert_string_equal(d.outcome, "ok");
    assert_string_equal(d.detail, "exit 0  score 5");
    assert_string_equal(d.ids, "run r_1");
    assert_int_equal(d.cls, CLI_AUDIT_OK);
    assert_string_equal(cli_audit_class_name(d.cls), "ok");

    describe("{\"type\":\"run.end\",\"outcome\":\"trap\",\"limits_hit\":[\"fuel\",\"memory\"]}", &d);
    assert_int_equal(d.cls, CLI_AUDIT_WARN);
    assert_string_equal(d.detail, "limits fuel,memory");
    describe("{\"type\":\"run.end\",\"outcome\":\"output_limit\"}", &d);
    assert_int_equal(d.cls, CLI_AUDIT_WARN);
    describe("{\"type\":\"run.end\",\"outcome\":\"crash\"}", &d);
    assert_int_equal(d.cls, CLI_AUDIT_BAD);
    describe("{\"type\":\"refused\",\"op\":\"run\",\"code\":\"not_approved\",\"message\":\"m\"}", &d);
    assert_int_equal(d.cls, CLI_AUDIT_BAD);
    assert_string_equal(d.name, "run");
    describe("{\"type\":\"approval\",\"name\":\"hello\"}", &d);
    assert_int_equal(d.cls, CLI_AUDIT_GRANT);
    describe("{\"type\":\"rejection\",\"reason\":\"<b>\"}", &d);
    assert_int_equal(d.cls, CLI_AUDIT_WITHDRAW);
    assert_string_equal(d.detail, "reason: <b>");   /* raw here: the printer escapes */
    describe("{\"type\":\"revocation\",\"approval_id\":\"0123456789abcdef\"}", &d);
    assert_int_equal(d.cls, CLI_AUDIT_WITHDRAW);
    assert_string_equal(d.ids, "approval 0123456789ab");
    describe("{\"type\":\"trust.change\",\"action\":\"revoke\",\"fingerprint\":\"SHA256:x\"}", &d);
    assert_int_equal(d.cls, CLI_AUDIT_WITHDRAW);
    describe("{\"type\":\"trust.change\",\"action\":\"add\",\"principal\":\"a@b\",\"fingerprint\":\"SHA256:x\"}", &d);
    assert_int_equal(d.cls, CLI_AUDIT_GRANT);
    assert_string_equal(d.name, "a@b");
    describe("{\"type\":\"worker.stop\",\"seq\":9}", &d);
    assert_int_equal(d.cls, CLI_AUDIT_INFO);

    /* damaged entries */
    describe("not json", &d);
    assert_string_equal(d.type, "(unreadable entry)");
    assert_int_equal(d.cls, CLI_AUDIT_BAD);
    assert_int_equal(d.seq, -1);
    describe("[1,2]", &d);
    assert_int_equal(d.cls, CLI_AUDIT_BAD);
    describe("{\"seq\":1,\"seq\":2}", &d);   /* duplicate keys are not an entry */
    assert_int_equal(d.cls, CLI_AUDIT_BAD);
    cli_audit_describe(NULL, 0, &d);
    assert_int_equal(d.cls, CLI_AUDIT_BAD);

    /* long text is cut at a character boundary and marked */
    char long_json[4096];
    size_t n = (size_t)snprintf(long_json, sizeof long_json, "{\"type\":\"rejection\",\"reason\":\"");
    for (int i = 0; i < 700; i++)
        n += (size_t)snprintf(long_json + n, sizeof long_json - n, "\xc3\xa9");
    snprintf(long_json + n, sizeof long_json - n, "\"}");
    describe(long_json, &d);
    size_t dl = strlen(d.detail);
    assert_true(dl < sizeof d.detail);
    assert_string_equal(d.detail + dl - 3, "...");
    /* the byte before "..." ends a whole "é" */
    assert_int_equal((unsigned char)d.detail[dl - 4], 0xa9);
}

/* ---- receipts ---- */

typedef struct {
    nc_db *db;
    nc_audit audit;
    uint8_t pk[32];
    unsigned char sk[64];
    char origin[96];
    json_t *res;        /* an honest run.receipt result for run r_run */
    uint64_t start_seq; /* the run.start entry of r_run */
} fixture;

static json_t *receipt_for(fixture *f, uint64_t seq, const char *run, const char *note)
{
    char hex[65];
    uint8_t proof[NC_AUDIT_MAX_LEVELS][32], leaf[32], *bytes;
    size_t n = 0, len;
    assert_int_equal(nc_auditlog_entry(f->db, seq, &bytes, &len, leaf), NC_OK);
    json_t *entry = json_stringn((const char *)bytes, len);
    free(bytes);
    nc_hex(leaf, 32, hex);
    assert_non_null(entry);
    assert_int_equal(nc_audit_inclusion_proof(f->db, seq, f->audit.tree.size, proof, NC_AUDIT_MAX_LEVELS, &n), NC_OK);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char ph[65];
        nc_hex(proof[i], 32, ph);
        json_array_append_new(arr, json_string(ph));
    }
    json_t *r = json_pack("{s:s, s:I, s:o, s:s, s:I, s:s, s:o}", "run", run, "seq", (json_int_t)seq, "entry", entry,
                          "leaf", hex, "size", (json_int_t)f->audit.tree.size, "checkpoint", note, "proof", arr);
    assert_non_null(r);
    return r;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char msg[256], note[NC_AUDIT_MAX_NOTE_BYTES];
    assert_non_null(f);
    assert_true(sodium_init() >= 0);
    crypto_sign_keypair(f->pk, f->sk);
    assert_int_equal(nc_db_open(":memory:", &f->db, msg, sizeof msg), NC_OK);
    assert_int_equal(nc_audit_open(f->db, "w_0123456789abcdef", &f->audit), NC_OK);
    snprintf(f->origin, sizeof f->origin, "%s", f->audit.origin);
    uint64_t seq, end_seq = 0;
    for (int i = 0; i < 13; i++) {
        json_t *fields = json_pack("{s:s, s:s}", "run", i == 9 || i == 6 ? "r_run" : "r_other", "name", "hello");
        const char *type = i == 6 ? "run.start" : i == 9 ? "run.end" : "submission";
        assert_int_equal(nc_audit_append(&f->audit, type, 1795917291 + i, fields, &seq), NC_OK);
        json_decref(fields);
        if (i == 9)
            end_seq = seq;
        if (i == 6)
            f->start_seq = seq;
    }
    assert_int_equal(nc_audit_checkpoint(&f->audit, f->sk, 1795917400, note, sizeof note), NC_OK);
    f->res = receipt_for(f, end_seq, "r_run", note);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    json_decref(f->res);
    nc_db_close(f->db);
    free(f);
    return 0;
}

static nc_err check(fixture *f, const json_t *res, const char *run, char *msg, size_t msg_len)
{
    nc_checkpoint cp;
    json_t *entry = (json_t *)(uintptr_t)1;
    nc_err err = cli_receipt_verify(res, run, f->origin, f->pk, &cp, &entry, msg, msg_len);
    if (err == NC_OK) {
        assert_non_null(entry);
        assert_int_equal(cp.size, 13);
        json_decref(entry);
    } else {
        assert_null(entry);
        assert_int_equal(cp.size, 0);
        assert_true(msg[0] != '\0');
    }
    return err;
}

/* A copy of the honest receipt with key set to v (stolen). */
static json_t *with(fixture *f, const char *key, json_t *v)
{
    json_t *r = json_deep_copy(f->res);
    assert_int_equal(json_object_set_new(r, key, v), 0);
    return r;
}

static void expect(fixture *f, json_t *r /* stolen */, nc_err want, const char *words)
{
    char msg[512];
    nc_err got = check(f, r, "r_run", msg, sizeof msg);
    if (got != want || !strstr(msg, words))
        fail_msg("want %s (\"%s\"), got %s: %s", nc_strerror(want), words, nc_strerror(got), msg);
    json_decref(r);
}

static void test_receipt_honest(void **state)
{
    fixture *f = *state;
    char msg[512];
    assert_int_equal(check(f, f->res, "r_run", msg, sizeof msg), NC_OK);
}

static void test_receipt_entry_changed(void **state)
{
    fixture *f = *state;
    const char *entry = json_string_value(json_object_get(f->res, "entry"));
    char *edited = strdup(entry);
    char *p = strstr(edited, "hello");
    assert_non_null(p);
    p[4] = 'O';
    expect(f, with(f, "entry", json_string(edited)), NC_ERR_HASH_MISMATCH, "does not hash to the receipt's leaf");

    /* with the leaf recomputed to match, the proof no longer reaches the root */
    uint8_t leaf[32];
    char hex[65];
    nc_audit_leaf_hash(edited, strlen(edited), leaf);
    nc_hex(leaf, 32, hex);
    json_t *r = with(f, "entry", json_string(edited));
    json_object_set_new(r, "leaf", json_string(hex));
    expect(f, r, NC_ERR_HASH_MISMATCH, "inclusion proof does not lead");
    free(edited);
}

static void test_receipt_proof_changed(void **state)
{
    fixture *f = *state;
    json_t *proof = json_deep_copy(json_object_get(f->res, "proof"));
    assert_true(json_array_size(proof) >= 2);
    char h[65];
    snprintf(h, sizeof h, "%s", json_string_value(json_array_get(proof, 1)));
    h[0] = h[0] == '0' ? '1' : '0';
    json_array_set_new(proof, 1, json_string(h));
    expect(f, with(f, "proof", proof), NC_ERR_HASH_MISMATCH, "inclusion proof");

    proof = json_deep_copy(json_object_get(f->res, "proof"));
    json_array_remove(proof, json_array_size(proof) - 1);
    expect(f, with(f, "proof", proof), NC_ERR_HASH_MISMATCH, "inclusion proof");

    proof = json_array();
    for (int i = 0; i < NC_AUDIT_MAX_LEVELS + 1; i++)
        json_array_append_new(proof, json_string(h));
    expect(f, with(f, "proof", proof), NC_ERR_MALFORMED, "at most");

    proof = json_pack("[s]", "ABCDEF");
    expect(f, with(f, "proof", proof), NC_ERR_MALFORMED, "proof hash 1");
    expect(f, with(f, "proof", json_string("x")), NC_ERR_MALFORMED, "proof");
}

static void test_receipt_positions(void **state)
{
    fixture *f = *state;
    /* another size than the checkpoint's */
    expect(f, with(f, "size", json_integer(14)), NC_ERR_MALFORMED, "the checkpoint covers 13 entries");
    /* another position than the entry's own */
    expect(f, with(f, "seq", json_integer(8)), NC_ERR_MALFORMED, "own position");
    expect(f, with(f, "seq", json_integer(-1)), NC_ERR_MALFORMED, "whole number");
    expect(f, with(f, "seq", json_string("9")), NC_ERR_MALFORMED, "whole number");
    expect(f, with(f, "leaf", json_string("zz")), NC_ERR_MALFORMED, "leaf");
    json_t *r = json_deep_copy(f->res);
    json_object_del(r, "entry");
    expect(f, r, NC_ERR_MALFORMED, "no entry");
}

static void test_receipt_wrong_run_or_type(void **state)
{
    fixture *f = *state;
    char msg[512];
    /* the receipt of r_run presented for another run */
    assert_int_equal(check(f, f->res, "r_other", msg, sizeof msg), NC_ERR_MALFORMED);
    assert_non_null(strstr(msg, "not for run r_other"));
    /* the run field relabelled: the entry still says r_run */
    json_t *r = with(f, "run", json_string("r_other"));
    assert_int_equal(check(f, r, "r_other", msg, sizeof msg), NC_ERR_MALFORMED);
    assert_non_null(strstr(msg, "records another run"));
    json_decref(r);
    /* a valid proof of the run's start entry is not a receipt */
    r = receipt_for(f, f->start_seq, "r_run", json_string_value(json_object_get(f->res, "checkpoint")));
    expect(f, r, NC_ERR_MALFORMED, "not a run.end entry");
}

static void test_receipt_checkpoint(void **state)
{
    fixture *f = *state;
    char msg[512];
    nc_checkpoint cp;
    json_t *entry = NULL;
    const char *note = json_string_value(json_object_get(f->res, "checkpoint"));

    /* signature changed */
    char *bad = strdup(note);
    size_t n = strlen(bad);
    bad[n - 10] = bad[n - 10] == 'A' ? 'B' : 'A';
    expect(f, with(f, "checkpoint", json_string(bad)), NC_ERR_BAD_SIGNATURE, "no valid signature");
    free(bad);

    /* root line changed (the signature then fails) */
    bad = strdup(note);
    char *root = strchr(strchr(bad, '\n') + 1, '\n') + 1;
    root[0] = root[0] == 'A' ? 'B' : 'A';
    expect(f, with(f, "checkpoint", json_string(bad)), NC_ERR_BAD_SIGNATURE, "no valid signature");
    free(bad);

    /* a checkpoint by another key, or for another origin */
    uint8_t pk2[32];
    unsigned char sk2[64];
    crypto_sign_keypair(pk2, sk2);
    assert_int_equal(cli_receipt_verify(f->res, "r_run", f->origin, pk2, &cp, &entry, msg, sizeof msg),
                     NC_ERR_BAD_SIGNATURE);
    assert_null(entry);
    assert_int_not_equal(cli_receipt_verify(f->res, "r_run", "nightcore/w_ffffffffffffffff", f->pk, &cp, &entry, msg,
                                            sizeof msg),
                         NC_OK);
    assert_non_null(strstr(msg, "checkpoint is for"));

    /* an honest signature by the other key over the right root still fails */
    uint8_t r[32];
    char note2[NC_AUDIT_MAX_NOTE_BYTES];
    nc_audit_tree_root(&f->audit.tree, r);
    assert_int_equal(nc_audit_checkpoint_sign(f->origin, 13, r, sk2, note2, sizeof note2), NC_OK);
    expect(f, with(f, "checkpoint", json_string(note2)), NC_ERR_BAD_SIGNATURE, "no valid signature");
    /* and the same by the right key passes: the check is on the key, not the bytes */
    assert_int_equal(nc_audit_checkpoint_sign(f->origin, 13, r, f->sk, note2, sizeof note2), NC_OK);
    json_t *ok = with(f, "checkpoint", json_string(note2));
    assert_int_equal(check(f, ok, "r_run", msg, sizeof msg), NC_OK);
    json_decref(ok);
    expect(f, with(f, "checkpoint", json_integer(1)), NC_ERR_MALFORMED, "no checkpoint");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_escape),
        cmocka_unit_test(test_describe),
        cmocka_unit_test_setup_teardown(test_receipt_honest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipt_entry_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipt_proof_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipt_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipt_wrong_run_or_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receipt_checkpoint, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
