/* Approval statements: canonical build, strict parse, every malformation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "trust/statement.h"

static void sample(nc_statement *st)
{
    memset(st, 0, sizeof *st);
    snprintf(st->name, sizeof st->name, "hello");
    memset(st->sha256, 0xab, sizeof st->sha256);
    snprintf(st->approver, sizeof st->approver, "alice@example.com");
    snprintf(st->worker, sizeof st->worker, "w_1234");
    snprintf(st->submission, sizeof st->submission, "s_42");
    st->caps.args = true;
    st->limits = nc_policy_builtin("default")->limits;
    st->issued_at = 1000;
    st->not_before = 1000;
    st->expires_at = 2000;
    st->max_runs = 3;
    snprintf(st->invokers[0], sizeof st->invokers[0], "operator");
    snprintf(st->invokers[1], sizeof st->invokers[1], "agent:claude");
    st->ninvokers = 2;
    memset(st->nonce, 7, sizeof st->nonce);
    st->trust_version = 5;
}

static char *built(size_t *len)
{
    nc_statement st;
    char msg[256];
    char *text = NULL;
    sample(&st);
    assert_int_equal(nc_statement_build(&st, &text, len, msg, sizeof msg), NC_OK);
    nc_statement_cleanup(&st);
    return text;
}

static void test_round_trip(void **state)
{
    (void)state;
    size_t len;
    char *s = built(&len);
    assert_null(strchr(s, ' '));
    assert_null(strchr(s, '\n'));
    assert_true(strncmp(s, "{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicate\":{\"approver\":", 66) == 0);
    nc_statement st;
    char msg[256] = "";
    assert_int_equal(nc_statement_parse(s, len, &st, msg, sizeof msg), NC_OK);
    assert_string_equal(st.name, "hello");
    assert_string_equal(st.approver, "alice@example.com");
    assert_int_equal(st.max_runs, 3);
    assert_true(nc_statement_has_invoker(&st, "agent:claude"));
    assert_false(nc_statement_has_invoker(&st, "agent:other"));
    assert_true(st.caps.args);
    assert_false(st.caps.stdin);
    char id[65];
    assert_int_equal(nc_statement_id(s, len, id), NC_OK);
    assert_int_equal(strlen(id), 64);
    nc_statement_cleanup(&st);
    free(s);
}

/* Replaces the first occurrence of `from` with `to` and expects a refusal. */
static void expect_refused(const char *from, const char *to, const char *why)
{
    size_t len;
    char *s = built(&len);
    const char *at = strstr(s, from);
    if (!at)
        fail_msg("sample has no %s", from);
    size_t off = (size_t)(at - s), flen = strlen(from), tlen = strlen(to);
    char *t = malloc(len - flen + tlen + 1);
    memcpy(t, s, off);
    memcpy(t + off, to, tlen);
    memcpy(t + off + tlen, s + off + flen, len - off - flen + 1);
    nc_statement st;
    char msg[256] = "";
    nc_err err = nc_statement_parse(t, strlen(t), &st, msg, sizeof msg);
    if (err != NC_ERR_STATEMENT)
        fail_msg("%s: accepted (%d) %s", why, err, t);
    assert_true(strlen(msg) > 0);
    free(t);
    free(s);
}

static void test_malformations(void **state)
{
    (void)state;
    expect_refused("\"max_runs\":3", "\"max_runs\":3.0", "float");
    expect_refused("\"max_runs\":3", "\"max_runs\":-3", "negative");
    expect_refused("\"max_runs\":3", "\"max_runs\":\"3\"", "string for integer");
    expect_refused("\"max_runs\":3", "\"max_runs\":0", "zero runs");
    expect_refused("\"max_runs\":3", "\"max_runs\":3,\"max_runs\":4", "duplicate key");
    expect_refused("\"max_runs\":3", "\"max_runs\":3,\"extra\":1", "unknown field");
    expect_refused("\"max_runs\":3,", "", "missing field");
    expect_refused("\"_type\":\"https://in-toto.io/Statement/v1\"", "\"_type\":\"https://in-toto.io/Statement/v0.1\"", "type");
    expect_refused("\"predicateType\":\"urn:nightcore:approval:v1\"", "\"predicateType\":\"urn:x\"", "predicate type");
    expect_refused("abababababababababababababababababababababababababababababababab",
                   "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB", "upper-case digest");
    expect_refused("abababababababababababababababababababababababababababababababab", "abab", "short digest");
    expect_refused("\"subject\":[{", "\"subject\":[{\"digest\":{\"sha256\":\"abababababababababababababababababababababababababababababababab\"},\"name\":\"x\"},{", "two subjects");
    expect_refused("\"subject\":[", "\"subject\": [", "whitespace");
    expect_refused("\"approver\":\"alice@example.com\"", "\"approver\":\"*\"", "wildcard approver");
    expect_refused("\"agent:claude\"", "\"agent:Claude!\"", "bad invoker");
    expect_refused("\"agent:claude\"", "\"operator\"", "duplicate invoker");
    expect_refused("\"args\":true", "\"args\":false", "capabilities changed without digest");
    expect_refused("\"expires_at\":2000", "\"expires_at\":999", "expires before not_before");
    expect_refused("\"name\":\"hello\"", "\"name\":\"../x\"", "bad module name");
    expect_refused("\"nonce\":\"07070707070707070707070707070707\"", "\"nonce\":\"0707\"", "short nonce");
    expect_refused("{\"_type\"", "[{\"_type\"", "not an object");
}

static void test_not_json_and_trailing(void **state)
{
    (void)state;
    size_t len;
    char *s = built(&len);
    nc_statement st;
    char msg[256];
    assert_int_equal(nc_statement_parse(s, len - 1, &st, msg, sizeof msg), NC_ERR_STATEMENT);
    char *t = malloc(len + 2);
    memcpy(t, s, len);
    t[len] = '\n';
    assert_int_equal(nc_statement_parse(t, len + 1, &st, msg, sizeof msg), NC_ERR_STATEMENT);
    t[len] = '{';
    assert_int_equal(nc_statement_parse(t, len + 1, &st, msg, sizeof msg), NC_ERR_STATEMENT);
    memcpy(t, "\0", 1);
    assert_int_equal(nc_statement_parse(t, len, &st, msg, sizeof msg), NC_ERR_STATEMENT);
    assert_int_equal(nc_statement_parse("", 0, &st, msg, sizeof msg), NC_ERR_STATEMENT);
    free(t);
    free(s);
}

static void test_build_refuses_bad_fields(void **state)
{
    (void)state;
    nc_statement st;
    char msg[256], *out;
    size_t len;
    sample(&st);
    st.ninvokers = 0;
    assert_int_equal(nc_statement_build(&st, &out, &len, msg, sizeof msg), NC_ERR_STATEMENT);
    sample(&st);
    snprintf(st.worker, sizeof st.worker, "bad worker");
    assert_int_equal(nc_statement_build(&st, &out, &len, msg, sizeof msg), NC_ERR_STATEMENT);
    sample(&st);
    st.not_before = 3000;
    assert_int_equal(nc_statement_build(&st, &out, &len, msg, sizeof msg), NC_ERR_STATEMENT);
}

static void test_name_rules(void **state)
{
    (void)state;
    assert_true(nc_module_name_ok("my-tool_1.2"));
    assert_false(nc_module_name_ok(""));
    assert_false(nc_module_name_ok(".hidden"));
    assert_false(nc_module_name_ok("a/b"));
    assert_false(nc_module_name_ok("<img onerror=x>"));
    assert_true(nc_invoker_ok("operator"));
    assert_true(nc_invoker_ok("agent:claude-code"));
    assert_false(nc_invoker_ok("agent:"));
    assert_false(nc_invoker_ok("agent:UPPER"));
    assert_false(nc_invoker_ok("root"));
    assert_true(nc_principal_ok("alice@example.com"));
    assert_false(nc_principal_ok("a,b"));
    assert_false(nc_principal_ok("a b"));
    assert_false(nc_principal_ok("*"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformations),
        cmocka_unit_test(test_not_json_and_trailing),
        cmocka_unit_test(test_build_refuses_bad_fields),
        cmocka_unit_test(test_name_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
