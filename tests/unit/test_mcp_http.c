/* src/mcp's Streamable HTTP transport: the request headers it parses itself
 * (httphead.c) and the agent's credential (link.c), with hostile values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>
#include "mcp/httphead.h"
#include "mcp/link.h"

static void test_bearer(void **state)
{
    (void)state;
    const char *tok;
    size_t len;
    static const struct {
        const char *value, *token;
    } good[] = {
        {"Bearer nca_abcDEF012-_", "nca_abcDEF012-_"},
        {"bearer abc", "abc"},
        {"BEARER   a.b~c+d/e==", "a.b~c+d/e=="},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_true(nc_mcp_http_bearer(good[i].value, &tok, &len));
        assert_int_equal(len, strlen(good[i].token));
        assert_memory_equal(tok, good[i].token, len);
    }
    char big[200], huge[NC_MCP_HTTP_MAX_HEADER_VALUE + 64];
    snprintf(big, sizeof big, "Bearer %0129d", 0);   /* a token of 129 characters */
    memset(huge, 'a', sizeof huge - 1);
    memcpy(huge, "Bearer ", 7);
    huge[sizeof huge - 1] = '\0';
    const char *bad[] = {NULL, "", "Bearer", "Bearer ", "Bearer    ", "Basic abc", "Bearerabc", "Bearer\tabc",
                         "Bearer abc def", "Bearer abc,def", "Bearer abc ", " Bearer abc", "Bearer =abc", "Bearer a=b",
                         "Bearer a\x01", "Bearer a\x7f", "Bearer a\xc3\xa9", "Token abc", "Bearer \"abc\"", big, huge};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tok = "x";
        len = 9;
        assert_false(nc_mcp_http_bearer(bad[i], &tok, &len));
        assert_null(tok);
        assert_int_equal(len, 0);
    }
    snprintf(big, sizeof big, "Bearer %0128d", 0);   /* 128: the most */
    assert_true(nc_mcp_http_bearer(big, &tok, &len));
    assert_int_equal(len, 128);
}

static void test_token_shape(void **state)
{
    (void)state;
    assert_true(nc_mcp_token_shape_ok("nca_x", 5));
    assert_false(nc_mcp_token_shape_ok("nca_x", 0));
    assert_false(nc_mcp_token_shape_ok(NULL, 3));
    assert_false(nc_mcp_token_shape_ok("a\0b", 3));   /* a NUL inside */
    assert_false(nc_mcp_token_shape_ok("a b", 3));
    assert_false(nc_mcp_token_shape_ok("==", 2));
    assert_true(nc_mcp_token_shape_ok("a==", 3));
}

static void test_json_body(void **state)
{
    (void)state;
    const char *good[] = {"application/json", "Application/JSON", "application/json; charset=utf-8",
                          "application/json;charset=\"UTF-8\"", "application/json ;  charset=utf-8"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(nc_mcp_http_json_body(good[i]));
    const char *bad[] = {NULL, "", "text/plain", "application/jsonx", "xapplication/json", "application/json;",
                         "application/json; charset=latin1", "application/json; foo=bar", "application/json; charset",
                         "application/json; charset=utf-8; x=y", "application/json charset=utf-8",
                         "application/json; charset=\"utf-8", "application/x-www-form-urlencoded",
                         "multipart/form-data; boundary=x", "text/plain; charset=utf-8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(nc_mcp_http_json_body(bad[i]));
}

static void test_accepts(void **state)
{
    (void)state;
    const char *both = "application/json, text/event-stream";
    assert_true(nc_mcp_http_accepts(NULL, "text/event-stream"));   /* absent: anything */
    assert_true(nc_mcp_http_accepts(both, "application/json"));
    assert_true(nc_mcp_http_accepts(both, "text/event-stream"));
    assert_true(nc_mcp_http_accepts("*/*", "text/event-stream"));
    assert_true(nc_mcp_http_accepts("text/*", "text/event-stream"));
    assert_false(nc_mcp_http_accepts("text/*", "application/json"));
    assert_true(nc_mcp_http_accepts("TEXT/Event-Stream;q=0.5", "text/event-stream"));
    assert_true(nc_mcp_http_accepts("text/html, text/event-stream ; q=1", "text/event-stream"));
    const char *no[] = {"", ",,,", "text/event-streams", "text/event", "text/event-stream;q=0",
                        "text/event-stream; q=0.000", "text/event-stream;Q=0.", "*/*;q=0", "application/json",
                        "text/", "/*", "*", "text/e*"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(nc_mcp_http_accepts(no[i], "text/event-stream"));
    /* only the first 32 ranges are read */
    char many[40 * 4 + 32];
    size_t o = 0;
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(many + o, sizeof many - o, "a/b,");
    snprintf(many + o, sizeof many - o, "text/event-stream");
    assert_false(nc_mcp_http_accepts(many, "text/event-stream"));
    char over[NC_MCP_HTTP_MAX_HEADER_VALUE + 32];
    memset(over, ' ', sizeof over - 1);
    memcpy(over, "*/*", 3);
    over[sizeof over - 1] = '\0';
    assert_false(nc_mcp_http_accepts(over, "text/event-stream"));   /* too long to read at all */
}

static void test_credentials(void **state)
{
    (void)state;
    nc_mcp_cred *c = NULL;
    assert_int_equal(nc_mcp_cred_new("bad token", 9, &c), NC_ERR_MALFORMED);
    assert_null(c);
    assert_int_equal(nc_mcp_cred_new("nca_secret", 10, &c), NC_OK);
    assert_true(nc_mcp_cred_same(c, "nca_secret", 10));
    assert_false(nc_mcp_cred_same(c, "nca_secre", 9));
    assert_false(nc_mcp_cred_same(c, "nca_secretX", 11));
    assert_false(nc_mcp_cred_same(c, "nca_secreT", 10));
    assert_false(nc_mcp_cred_same(c, "", 0));
    nc_mcp_cred_free(c);
    nc_mcp_cred_free(NULL);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bearer),      cmocka_unit_test(test_token_shape), cmocka_unit_test(test_json_body),
        cmocka_unit_test(test_accepts),     cmocka_unit_test(test_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
