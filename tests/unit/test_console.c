/* src/console: one-time link tokens and sessions (session.c), the control
 * socket's request parser and path (ctl.c). The HTTP side is driven by
 * tests/integration/test_console.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "console/console.h"

static void test_token_is_single_use(void **state)
{
    (void)state;
    char tok[CON_HEX_TOKEN_LEN + 1], sid[CON_HEX_TOKEN_LEN + 1], sid2[CON_HEX_TOKEN_LEN + 1];
    assert_int_equal(con_token_mint(tok), NC_OK);
    assert_true(nc_httpd_secret_ok(tok));
    assert_false(con_session_lookup(tok));   /* a token is not a session */
    assert_true(con_token_exchange(tok, sid));
    assert_true(nc_httpd_secret_ok(sid));
    assert_true(con_session_lookup(sid));
    assert_false(con_token_exchange(tok, sid2));   /* once */
    assert_string_equal(sid2, "");
    assert_false(con_token_exchange(sid, sid2));   /* a session is not a token */
}

static void test_malformed_secrets_refused(void **state)
{
    (void)state;
    char tok[CON_HEX_TOKEN_LEN + 1], sid[CON_HEX_TOKEN_LEN + 1], bad[CON_HEX_TOKEN_LEN + 2];
    assert_int_equal(con_token_mint(tok), NC_OK);
    const char *shapes[] = {"", "0", "zz", NULL};
    for (size_t i = 0; shapes[i]; i++) {
        assert_false(nc_httpd_secret_ok(shapes[i]));
        assert_false(con_token_exchange(shapes[i], sid));
        assert_false(con_session_lookup(shapes[i]));
    }
    assert_false(con_session_lookup(NULL));
    assert_false(nc_httpd_secret_ok(NULL));
    /* one character short, one too many, upper case, a non-hex digit */
    memcpy(bad, tok, sizeof tok);
    bad[CON_HEX_TOKEN_LEN - 1] = '\0';
    assert_false(con_token_exchange(bad, sid));
    memcpy(bad, tok, sizeof tok);
    bad[CON_HEX_TOKEN_LEN] = '0';
    bad[CON_HEX_TOKEN_LEN + 1] = '\0';
    assert_false(con_token_exchange(bad, sid));
    memcpy(bad, tok, sizeof tok);
    for (size_t i = 0; i < CON_HEX_TOKEN_LEN; i++)
        if (bad[i] >= 'a' && bad[i] <= 'f')
            bad[i] = (char)(bad[i] - 'a' + 'A');
    if (strcmp(bad, tok) != 0)
        assert_false(con_token_exchange(bad, sid));
    memcpy(bad, tok, sizeof tok);
    bad[5] = 'g';
    assert_false(con_token_exchange(bad, sid));
    assert_true(con_token_exchange(tok, sid));   /* none of those used it up */
}

static void test_outstanding_tokens_are_capped(void **state)
{
    (void)state;
    char toks[CON_MAX_TOKENS + 1][CON_HEX_TOKEN_LEN + 1], sid[CON_HEX_TOKEN_LEN + 1];
    for (size_t i = 0; i <= CON_MAX_TOKENS; i++)
        assert_int_equal(con_token_mint(toks[i]), NC_OK);
    /* the oldest went; the others are good, once each */
    size_t good = 0;
    for (size_t i = 0; i <= CON_MAX_TOKENS; i++)
        good += con_token_exchange(toks[i], sid);
    assert_int_equal(good, CON_MAX_TOKENS);
    assert_false(con_token_exchange(toks[CON_MAX_TOKENS], sid));
}

static void test_sessions_are_capped(void **state)
{
    (void)state;
    char tok[CON_HEX_TOKEN_LEN + 1], sids[CON_MAX_SESSIONS + 1][CON_HEX_TOKEN_LEN + 1];
    for (size_t i = 0; i <= CON_MAX_SESSIONS; i++) {
        assert_int_equal(con_token_mint(tok), NC_OK);
        assert_true(con_token_exchange(tok, sids[i]));
    }
    size_t live = 0;
    for (size_t i = 0; i <= CON_MAX_SESSIONS; i++)
        live += con_session_lookup(sids[i]);
    assert_int_equal(live, CON_MAX_SESSIONS);
    assert_false(con_session_lookup(sids[0]));   /* the least recently used went */
    assert_true(con_session_lookup(sids[CON_MAX_SESSIONS]));
    /* using a session keeps it: the next one evicts another */
    assert_true(con_session_lookup(sids[1]));
    assert_int_equal(con_token_mint(tok), NC_OK);
    char extra[CON_HEX_TOKEN_LEN + 1];
    assert_true(con_token_exchange(tok, extra));
    assert_true(con_session_lookup(sids[1]));
    assert_false(con_session_lookup(sids[2]));
}

static void parse(const char *line, bool ok)
{
    uint64_t id;
    bool have_id;
    const char *bad = con_ctl_parse_request(line, strlen(line), &id, &have_id);
    if (ok)
        assert_null(bad);
    else
        assert_non_null(bad);
}

static void test_ctl_request_parser(void **state)
{
    (void)state;
    uint64_t id;
    bool have_id;
    parse("{\"id\":1,\"op\":\"link\"}", true);
    parse("{\"op\":\"link\",\"id\":2147483647}", true);
    assert_null(con_ctl_parse_request("{\"id\":42,\"op\":\"link\"}", 21, &id, &have_id));
    assert_int_equal(id, 42);
    assert_true(have_id);
    const char *bad[] = {
        "", "x", "[]", "null", "1", "\"link\"", "{}", "{\"id\":1}", "{\"op\":\"link\"}",
        "{\"id\":-1,\"op\":\"link\"}", "{\"id\":1.0,\"op\":\"link\"}", "{\"id\":\"1\",\"op\":\"link\"}",
        "{\"id\":2147483648,\"op\":\"link\"}", "{\"id\":1,\"op\":\"status\"}", "{\"id\":1,\"op\":1}",
        "{\"id\":1,\"op\":\"link\",\"x\":1}", "{\"id\":1,\"op\":\"link\",\"op\":\"link\"}",
        "{\"id\":1,\"op\":\"LINK\"}", "{\"id\":1,\"op\":\"link \"}", "{\"id\":1,\"op\":\"link\"} x",
        "{\"id\":1,\"op\":\"link\"}{}", "{\"id\":1,\"op\":\"li\\u0000nk\"}", "{\"id\":1,\"op\":\"link\\u0000\"}",
        "{\"id\":1,\"op\":\"link\"", NULL,
    };
    for (size_t i = 0; bad[i]; i++) {
        print_message("refusing %s\n", bad[i]);
        parse(bad[i], false);
    }
    /* over the line cap, even when well-formed */
    char big[CON_CTL_MAX_LINE + 64];
    int n = snprintf(big, sizeof big, "{\"id\":1,\"op\":\"link\",\"pad\":\"%0*d\"}", (int)CON_CTL_MAX_LINE, 0);
    assert_true(n > (int)CON_CTL_MAX_LINE);
    assert_non_null(con_ctl_parse_request(big, strlen(big), &id, &have_id));
    /* embedded NUL within the length */
    assert_non_null(con_ctl_parse_request("{\"id\":1,\"op\":\"link\"}\0", 21, &id, &have_id));
}

static void test_ctl_path(void **state)
{
    (void)state;
    nc_home h;
    char out[PATH_MAX], msg[256];
    memset(&h, 0, sizeof h);
    snprintf(h.run_dir, sizeof h.run_dir, "/tmp/nc-home/run");
    assert_int_equal(con_ctl_path(&h, out, sizeof out, msg, sizeof msg), NC_OK);
    assert_string_equal(out, "/tmp/nc-home/run/console.sock");
    /* service deployment: no usable XDG_RUNTIME_DIR: beside the operator's config.json */
    h.service = true;
    snprintf(h.config, sizeof h.config, "/home/op/.config/nightcore/config.json");
    setenv("XDG_RUNTIME_DIR", "relative/dir", 1);
    assert_int_equal(con_ctl_path(&h, out, sizeof out, msg, sizeof msg), NC_OK);
    assert_string_equal(out, "/home/op/.config/nightcore/console.sock");
    setenv("XDG_RUNTIME_DIR", "/nonexistent-xdg-dir", 1);
    assert_int_equal(con_ctl_path(&h, out, sizeof out, msg, sizeof msg), NC_OK);
    assert_string_equal(out, "/home/op/.config/nightcore/console.sock");
    /* a private directory of ours: there */
    char dir[] = "/tmp/nc-xdg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    setenv("XDG_RUNTIME_DIR", dir, 1);
    assert_int_equal(con_ctl_path(&h, out, sizeof out, msg, sizeof msg), NC_OK);
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s/nightcore-console.sock", dir);
    assert_string_equal(out, want);
    rmdir(dir);
    /* too long for sun_path */
    h.service = false;
    memset(h.run_dir, 'a', 200);
    h.run_dir[0] = '/';
    h.run_dir[200] = '\0';
    assert_int_equal(con_ctl_path(&h, out, sizeof out, msg, sizeof msg), NC_ERR_TOO_LARGE);
    assert_string_equal(out, "");
    unsetenv("XDG_RUNTIME_DIR");
}

int main(void)
{
    if (con_session_init(600) != NC_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_is_single_use),       cmocka_unit_test(test_malformed_secrets_refused),
        cmocka_unit_test(test_outstanding_tokens_are_capped), cmocka_unit_test(test_sessions_are_capped),
        cmocka_unit_test(test_ctl_request_parser),        cmocka_unit_test(test_ctl_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
