/* Policies: the file format (strict), ceilings and grants, widening and
 * narrowing, and the admin statement that sets a policy. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/json.h"
#include "policy/policy.h"
#include "trust/admin.h"

static const char base[] =
    "{\"name\":\"data\",\"description\":\"d\",\"require_key\":\"security-key\","
    "\"limits\":{\"timeout_ms\":2000},"
    "\"capabilities\":{\"args\":true,\"env\":{\"LANG\":\"C\",\"API\":null},"
    "\"dirs\":[{\"host\":\"/srv/data\",\"guest\":\"/data\",\"mode\":\"ro\"},"
    "{\"host\":\"/srv/scratch\",\"guest\":\"/scratch\",\"mode\":\"rw\",\"quota_bytes\":1000,\"quota_files\":10}]}}";

static void parse_ok(const char *text, nc_policy *p)
{
    char msg[256];
    if (nc_policy_parse(text, strlen(text), p, msg, sizeof msg) != NC_OK)
        fail_msg("parse: %s", msg);
}

static void test_parse(void **state)
{
    (void)state;
    nc_policy p;
    parse_ok(base, &p);
    assert_string_equal(p.name, "data");
    assert_int_equal(p.require_key, NC_KEYREQ_SECURITY_KEY);
    assert_string_equal(p.isolation, "process");
    assert_int_equal(p.limits.timeout_ms, 2000);
    assert_int_equal(p.limits.memory_bytes, nc_policy_builtin("default")->limits.memory_bytes);
    assert_int_equal(p.caps.nenv, 2);
    assert_null(p.caps.env[0].value);   /* sorted: API (any value) */
    assert_string_equal(p.caps.env[1].value, "C");
    assert_int_equal(p.caps.ndirs, 2);
    assert_int_equal(p.caps.dirs[1].quota_bytes, 1000);
    /* round trip through the canonical form */
    json_t *o = nc_policy_to_json(&p);
    size_t n;
    char *text = nc_json_canonical(o, &n);
    nc_policy q;
    parse_ok(text, &q);
    assert_null(nc_policy_widens(&p, &q));
    assert_null(nc_policy_widens(&q, &p));
    free(text);
    json_decref(o);
    nc_policy_cleanup(&q);
    nc_policy_cleanup(&p);
}

static void test_parse_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"name\":\"Data\"}",                                         /* upper case */
        "{\"name\":\"x\",\"extra\":1}",                                /* unknown field */
        "{\"name\":\"x\",\"isolation\":\"container\"}",                /* unknown tier */
        "{\"name\":\"x\",\"require_key\":\"fido\"}",                   /* unknown requirement */
        "{\"name\":\"x\",\"capabilities\":{\"dirs\":[{\"host\":\"srv\",\"guest\":\"/d\",\"mode\":\"ro\"}]}}",
        "{\"name\":\"x\",\"capabilities\":{\"dirs\":[{\"host\":\"/srv/../etc\",\"guest\":\"/d\",\"mode\":\"ro\"}]}}",
        "{\"name\":\"x\",\"capabilities\":{\"dirs\":[{\"host\":\"/srv\",\"guest\":\"/d\",\"mode\":\"wo\"}]}}",
        "{\"name\":\"x\",\"capabilities\":{\"dirs\":[{\"host\":\"/srv\",\"guest\":\"/d\",\"mode\":\"ro\",\"quota_bytes\":5}]}}",
        "{\"name\":\"x\",\"capabilities\":{\"dirs\":[{\"host\":\"/srv\",\"guest\":\"/d\",\"mode\":\"rw\",\"quota_bytes\":0}]}}",
        "{\"name\":\"x\",\"capabilities\":{\"dirs\":[{\"host\":\"/srv\",\"guest\":\"/d\",\"mode\":\"rw\",\"dev\":1,\"ino\":2}]}}",
        "{\"name\":\"x\",\"capabilities\":{\"dirs\":[{\"host\":\"/a\",\"guest\":\"/d\",\"mode\":\"ro\"},"
        "{\"host\":\"/b\",\"guest\":\"/d\",\"mode\":\"ro\"}]}}",       /* guest twice */
        "{\"name\":\"x\",\"capabilities\":{\"env\":{\"1X\":\"v\"}}}",
        "{\"name\":\"x\",\"limits\":{\"timeout_ms\":0}}",
        "{\"name\":\"x\",\"limits\":{\"fuel\":1.5}}",
        "{\"name\":\"x\",\"name\":\"y\"}",                             /* duplicate key */
        "[]",
        "{\"name\":\"x\"} trailing",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nc_policy p;
        char msg[256] = "";
        if (nc_policy_parse(bad[i], strlen(bad[i]), &p, msg, sizeof msg) == NC_OK)
            fail_msg("accepted %zu: %s", i, bad[i]);
        assert_true(msg[0] != '\0');
    }
}

static void grant(const char *caps_json, nc_caps *out)
{
    json_t *o = NULL;
    char msg[256];
    assert_int_equal(nc_json_parse_strict(caps_json, strlen(caps_json), &o, NULL, 0), NC_OK);
    if (nc_caps_from_json(o, out, msg, sizeof msg) != NC_OK)
        fail_msg("caps: %s", msg);
    json_decref(o);
}

static void test_grants_within(void **state)
{
    (void)state;
    nc_policy p;
    parse_ok(base, &p);
    static const struct {
        const char *caps;
        bool ok;
        const char *why;
    } cases[] = {
        {"{\"args\":true}", true, NULL},
        {"{\"stdin\":true}", false, "stdin"},
        {"{\"env\":{\"LANG\":\"C\"}}", true, NULL},
        {"{\"env\":{\"LANG\":\"fr\"}}", false, "LANG"},
        {"{\"env\":{\"API\":\"https://x\"}}", true, NULL},   /* the approver chooses */
        {"{\"env\":{\"HOME\":\"/\"}}", false, "HOME"},
        {"{\"dirs\":[{\"host\":\"/srv/data\",\"guest\":\"/x\",\"mode\":\"ro\"}]}", true, NULL},
        {"{\"dirs\":[{\"host\":\"/srv/data/sub\",\"guest\":\"/x\",\"mode\":\"ro\"}]}", true, NULL},
        {"{\"dirs\":[{\"host\":\"/srv/database\",\"guest\":\"/x\",\"mode\":\"ro\"}]}", false, "not at or beneath"},
        {"{\"dirs\":[{\"host\":\"/srv\",\"guest\":\"/x\",\"mode\":\"ro\"}]}", false, "not at or beneath"},
        {"{\"dirs\":[{\"host\":\"/srv/data\",\"guest\":\"/x\",\"mode\":\"rw\"}]}", false, "read-only"},
        {"{\"dirs\":[{\"host\":\"/srv/scratch/j\",\"guest\":\"/s\",\"mode\":\"rw\",\"quota_bytes\":500,\"quota_files\":5}]}",
         true, NULL},
        {"{\"dirs\":[{\"host\":\"/srv/scratch\",\"guest\":\"/s\",\"mode\":\"rw\",\"quota_bytes\":5000,\"quota_files\":5}]}",
         false, "quota"},
        {"{\"dirs\":[{\"host\":\"/srv/scratch\",\"guest\":\"/s\",\"mode\":\"rw\"}]}", false, "quota"},
        {"{\"dirs\":[{\"host\":\"/srv/scratch\",\"guest\":\"/s\",\"mode\":\"ro\"}]}", true, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nc_caps g;
        char msg[256] = "";
        grant(cases[i].caps, &g);
        nc_err err = nc_caps_grant_within(&g, &p.caps, msg, sizeof msg);
        if ((err == NC_OK) != cases[i].ok)
            fail_msg("case %zu (%s): %s", i, cases[i].caps, msg);
        if (!cases[i].ok && !strstr(msg, cases[i].why))
            fail_msg("case %zu: %s", i, msg);
        nc_caps_cleanup(&g);
    }
    assert_true(nc_path_within("/srv/data/x", "/srv/data"));
    assert_true(nc_path_within("/srv/data", "/srv/data"));
    assert_false(nc_path_within("/srv/datax", "/srv/data"));
    assert_true(nc_path_within("/anything", "/"));
    nc_policy_cleanup(&p);
}

static void test_widening(void **state)
{
    (void)state;
    nc_policy p;
    parse_ok(base, &p);
    assert_non_null(nc_policy_widens(NULL, &p));
    static const struct {
        const char *text;
        bool widens;
    } cases[] = {
        /* narrower: a subdirectory, a smaller quota, fewer env keys, lower limits, a PIN as well */
        {"{\"name\":\"data\",\"require_key\":\"security-key-pin\",\"limits\":{\"timeout_ms\":1000},"
         "\"capabilities\":{\"env\":{\"LANG\":\"C\"},\"dirs\":[{\"host\":\"/srv/data/a\",\"guest\":\"/data\",\"mode\":\"ro\"}]}}",
         false},
        /* wider: each of these alone */
        {"{\"name\":\"data\",\"require_key\":\"any\",\"limits\":{\"timeout_ms\":2000},\"capabilities\":{\"args\":true}}", true},
        {"{\"name\":\"data\",\"require_key\":\"security-key\",\"limits\":{\"timeout_ms\":3000},\"capabilities\":{}}", true},
        {"{\"name\":\"data\",\"require_key\":\"security-key\",\"limits\":{\"timeout_ms\":2000},"
         "\"capabilities\":{\"stdin\":true}}", true},
        {"{\"name\":\"data\",\"require_key\":\"security-key\",\"limits\":{\"timeout_ms\":2000},"
         "\"capabilities\":{\"env\":{\"LANG\":null}}}", true},
        {"{\"name\":\"data\",\"require_key\":\"security-key\",\"limits\":{\"timeout_ms\":2000},"
         "\"capabilities\":{\"dirs\":[{\"host\":\"/srv/data\",\"guest\":\"/data\",\"mode\":\"rw\"}]}}", true},
        {"{\"name\":\"data\",\"require_key\":\"security-key\",\"limits\":{\"timeout_ms\":2000},"
         "\"capabilities\":{\"dirs\":[{\"host\":\"/srv\",\"guest\":\"/data\",\"mode\":\"ro\"}]}}", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nc_policy q;
        parse_ok(cases[i].text, &q);
        const char *why = nc_policy_widens(&p, &q);
        if ((why != NULL) != cases[i].widens)
            fail_msg("case %zu: %s", i, why ? why : "(narrows)");
        nc_policy_cleanup(&q);
    }
    /* vm to process is weaker isolation */
    nc_policy vm, pr;
    parse_ok("{\"name\":\"v\",\"isolation\":\"vm\"}", &vm);
    parse_ok("{\"name\":\"v\"}", &pr);
    assert_non_null(nc_policy_widens(&vm, &pr));
    assert_null(nc_policy_widens(&pr, &vm));
    nc_policy_cleanup(&vm);
    nc_policy_cleanup(&pr);
    nc_policy_cleanup(&p);
}

static void test_policy_statement(void **state)
{
    (void)state;
    nc_admin_statement st, back;
    char *text = NULL, msg[256];
    size_t len;
    memset(&st, 0, sizeof st);
    st.kind = NC_ADMIN_POLICY_SET;
    parse_ok(base, &st.policy);
    st.policy_version = 3;
    snprintf(st.approver, sizeof st.approver, "alice@example.com");
    snprintf(st.worker, sizeof st.worker, "w_0123456789abcdef");
    st.issued_at = 1795000000;
    st.expires_at = st.issued_at + 600;
    st.trust_version = 5;
    assert_int_equal(nc_admin_build(&st, &text, &len, msg, sizeof msg), NC_OK);
    assert_non_null(strstr(text, "\"name\":\"policy:data\""));
    assert_int_equal(nc_admin_parse(text, len, &back, msg, sizeof msg), NC_OK);
    assert_int_equal(back.kind, NC_ADMIN_POLICY_SET);
    assert_int_equal(back.policy_version, 3);
    assert_null(nc_policy_widens(&st.policy, &back.policy));
    assert_null(nc_policy_widens(&back.policy, &st.policy));
    nc_admin_cleanup(&back);
    /* the subject binds the content: change one byte of the policy */
    char *edit = strdup(text);
    char *at = strstr(edit, "\"timeout_ms\":2000");
    assert_non_null(at);
    at[14] = '3';
    assert_int_equal(nc_admin_parse(edit, len, &back, msg, sizeof msg), NC_ERR_STATEMENT);
    assert_non_null(strstr(msg, "subject"));
    free(edit);
    free(text);
    nc_admin_cleanup(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_grants_within),
        cmocka_unit_test(test_widening),
        cmocka_unit_test(test_policy_statement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
