/* src/analyze/score.c: the documented weights produce the documented scores
 * (including the worked example in docs/threat-score.md), the table in the
 * doc is the table in the code, caps and clamping hold. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "analyze/score.h"
#include "analyze/wasm.h"
#include "policy/policy.h"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    for (;;) {
        if (n == cap)
            b = realloc(b, (cap *= 2) + 1);
        size_t got = fread(b + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    b[n] = '\0';
    *len = n;
    return b;
}

static nc_analysis *fixture(const char *name)
{
    const char *dir = getenv("NC_FIXTURES");
    char path[4096];
    if (!dir)
        fail_msg("NC_FIXTURES is not set");
    snprintf(path, sizeof path, "%s/%s.wasm", dir, name);
    size_t len;
    char *b = read_file(path, &len);
    nc_analysis *a = NULL;
    char msg[256];
    if (nc_wasm_analyze((const uint8_t *)b, len, &a, msg, sizeof msg) != NC_OK)
        fail_msg("%s: %s", name, msg);
    free(b);
    return a;
}

static int points_of(const nc_score *s, const char *factor)
{
    for (size_t i = 0; i < s->nfactors; i++)
        if (strcmp(s->factors[i].factor, factor) == 0)
            return s->factors[i].points;
    return 0;
}

static int sum(const nc_score *s)
{
    int t = 0;
    for (size_t i = 0; i < s->nfactors; i++) {
        assert_true(s->factors[i].points > 0);
        t += s->factors[i].points;
    }
    return t;
}

/* The "Factors" table of docs/threat-score.md lists exactly NC_SCORE_FACTORS,
 * in order, with the same weights and caps. */
static void test_doc_table_matches_code(void **state)
{
    (void)state;
    const char *src = getenv("NC_SOURCE");
    char path[4096];
    size_t len, count, row = 0;
    if (!src)
        fail_msg("NC_SOURCE is not set");
    snprintf(path, sizeof path, "%s/docs/threat-score.md", src);
    char *doc = read_file(path, &len);
    const nc_score_weight *w = nc_score_weights(&count);
    assert_int_equal(count, NC_SF_COUNT);
    char *line = strstr(doc, "\n| factor | weight | cap | n counts |\n|---|---|---|---|\n");
    assert_non_null(line);
    line = strchr(line + 1, '\n') + 1;
    line = strchr(line, '\n') + 1;
    while (line[0] == '|') {
        char *end = strchr(line, '\n');
        assert_non_null(end);
        *end = '\0';
        char name[64];
        long weight, cap;
        /* "| `name` | weight | cap | ..." */
        char *p = line + 3, *tick = strchr(p, '`');
        assert_non_null(tick);
        assert_true((size_t)(tick - p) < sizeof name);
        memcpy(name, p, (size_t)(tick - p));
        name[tick - p] = '\0';
        p = tick + 3;   /* "` | " */
        weight = strtol(p + 1, &p, 10);
        assert_true(strncmp(p, " | ", 3) == 0);
        cap = strtol(p + 3, &p, 10);
        assert_true(strncmp(p, " | ", 3) == 0);
        if (row >= count)
            fail_msg("doc lists %s, beyond the code's table", name);
        if (strcmp(name, w[row].factor) != 0 || weight != w[row].weight || cap != w[row].cap)
            fail_msg("doc row %zu: %s %ld %ld; code: %s %d %d", row, name, weight, cap,
                     w[row].factor, w[row].weight, w[row].cap);
        row++;
        line = end + 1;
    }
    assert_int_equal(row, count);
    free(doc);
}

/* The worked example of docs/threat-score.md, exactly: the submission score
 * and the run score, with the inputs the worker gives for each. */
static void test_worked_example(void **state)
{
    (void)state;
    nc_analysis *prev = fixture("hello"), *cur = fixture("path_traversal");
    nc_score s;

    nc_score_input sub = {.analysis = cur, .drift = NC_DRIFT_DRIFT, .previous = prev,
                          .new_submitter = false};
    assert_int_equal(nc_score_compute(&sub, &s), NC_OK);
    assert_int_equal(s.score, 20);
    assert_int_equal(s.nfactors, 2);
    assert_int_equal(points_of(&s, "drift"), 10);
    assert_int_equal(points_of(&s, "drift_imports_added"), 10);

    nc_caps granted;
    assert_int_equal(nc_caps_copy(&nc_policy_builtin("default")->caps, &granted), NC_OK);
    nc_score_run run = {.outcome = "exit", .denied_total = 1};
    nc_score_input in = {.analysis = cur, .drift = NC_DRIFT_KNOWN, .granted = &granted, .run = &run};
    assert_int_equal(nc_score_compute(&in, &s), NC_OK);
    assert_int_equal(s.score, 5);
    assert_int_equal(s.total, 5);
    json_t *j = nc_score_to_json(&s);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_string_equal(
        text,
        "{\"score\":5,\"factors\":["
        "{\"factor\":\"denied_calls\",\"points\":5,\"detail\":\"calls refused for lack of a capability: 1\"}]}");
    free(text);
    json_decref(j);

    /* the same refusal for leaving a granted directory: tried_escape, 20 */
    run.denied_escape = 1;
    assert_int_equal(nc_score_compute(&in, &s), NC_OK);
    assert_int_equal(s.score, 20);
    assert_int_equal(points_of(&s, "tried_escape"), 15);

    /* both at once (a caller may pass everything): 40 */
    in.drift = NC_DRIFT_DRIFT;
    in.previous = prev;
    assert_int_equal(nc_score_compute(&in, &s), NC_OK);
    assert_int_equal(s.score, 40);
    nc_caps_cleanup(&granted);
    nc_analysis_free(prev);
    nc_analysis_free(cur);
}

/* Importing a function is not a request: a module that imports what a Go
 * runtime imports (filesystem, env, args, clocks, random, poll, the same
 * function twice) scores nothing for it, before or after approval; what its
 * manifest asks for and what a run tries do. */
static void test_imports_are_not_requests(void **state)
{
    (void)state;
    nc_wasm_import imports[] = {
        {.module = (char *)"wasi_snapshot_preview1", .name = (char *)"fd_write", .kind = NC_WASM_KIND_FUNC,
         .capability = NC_WASM_CAP_STDIO},
        {.module = (char *)"wasi_snapshot_preview1", .name = (char *)"path_open", .kind = NC_WASM_KIND_FUNC,
         .capability = NC_WASM_CAP_FILESYSTEM},
        {.module = (char *)"wasi_snapshot_preview1", .name = (char *)"environ_get", .kind = NC_WASM_KIND_FUNC,
         .capability = NC_WASM_CAP_ENV},
        {.module = (char *)"wasi_snapshot_preview1", .name = (char *)"sock_accept", .kind = NC_WASM_KIND_FUNC,
         .capability = NC_WASM_CAP_NETWORK},
        {.module = (char *)"wasi_snapshot_preview1", .name = (char *)"proc_raise", .kind = NC_WASM_KIND_FUNC,
         .capability = NC_WASM_CAP_SIGNALS},
        {.module = (char *)"wasi_snapshot_preview1", .name = (char *)"fd_write", .kind = NC_WASM_KIND_FUNC,
         .capability = NC_WASM_CAP_STDIO},
    };
    nc_analysis a = {.size = 1000, .imports = imports, .nimports = 6,
                     .capabilities = NC_WASM_CAP_BIT(NC_WASM_CAP_STDIO) | NC_WASM_CAP_BIT(NC_WASM_CAP_FILESYSTEM) |
                                     NC_WASM_CAP_BIT(NC_WASM_CAP_ENV) | NC_WASM_CAP_BIT(NC_WASM_CAP_NETWORK) |
                                     NC_WASM_CAP_BIT(NC_WASM_CAP_SIGNALS)};
    nc_caps none = {0};
    nc_score s;
    nc_score_input sub = {.analysis = &a};
    assert_int_equal(nc_score_compute(&sub, &s), NC_OK);
    assert_int_equal(s.score, 0);
    nc_score_run quiet = {.outcome = "ok"};
    nc_score_input run = {.analysis = &a, .granted = &none, .run = &quiet};
    assert_int_equal(nc_score_compute(&run, &s), NC_OK);
    assert_int_equal(s.score, 0);
    /* the manifest's requests */
    nc_cap_env env[] = {{.key = (char *)"A", .value = (char *)"1"}, {.key = (char *)"B", .value = (char *)"2"},
                        {.key = (char *)"C", .value = (char *)"3"}};
    nc_caps requested = {.env = env, .nenv = 3};
    sub.requested = &requested;
    assert_int_equal(nc_score_compute(&sub, &s), NC_OK);
    assert_int_equal(points_of(&s, "requested_env"), 6);
    assert_int_equal(s.score, 6);
    /* what a run tried */
    nc_score_run tried = {.outcome = "exit", .denied_total = 3, .denied_network = 1, .denied_escape = 1,
                          .denied_signal = 1};
    run.run = &tried;
    assert_int_equal(nc_score_compute(&run, &s), NC_OK);
    assert_int_equal(points_of(&s, "denied_calls"), 15);
    assert_int_equal(points_of(&s, "tried_network"), 25);
    assert_int_equal(points_of(&s, "tried_escape"), 15);
    assert_int_equal(points_of(&s, "tried_signal"), 10);
    assert_int_equal(s.score, 65);
    /* many_imports counts each (module, name) once */
    static nc_wasm_import many[40];
    for (size_t i = 0; i < 40; i++)
        many[i] = (nc_wasm_import){.module = (char *)"wasi_snapshot_preview1",
                                   .name = (char *)(i % 2 ? "fd_write" : "fd_read"), .kind = NC_WASM_KIND_FUNC,
                                   .capability = NC_WASM_CAP_STDIO};
    nc_analysis dup = {.size = 1000, .imports = many, .nimports = 40};
    sub = (nc_score_input){.analysis = &dup};
    assert_int_equal(nc_score_compute(&sub, &s), NC_OK);
    assert_int_equal(points_of(&s, "many_imports"), 0);
}

static void test_fixture_scores(void **state)
{
    (void)state;
    nc_score s;
    nc_caps none = {0};
    struct {
        const char *name;
        bool new_submitter;
        const nc_caps *granted;
        int score;
        const char *factor;
        int points;
    } cases[] = {
        {"hello", false, NULL, 0, NULL, 0},                    /* stdio only */
        {"hello", true, NULL, 10, "new_submitter", 10},
        {"network_attempt", false, &none, 0, NULL, 0},         /* importing sock_* is not a request */
        {"unknown_import", false, &none, 25, "capability_outside_wasi", 25},
        {"proc_raise", false, &none, 0, NULL, 0},
        {"big_initial_memory", false, NULL, 14, "initial_memory", 14},     /* 125 MiB: 7 steps */
        {"giant_table", false, NULL, 10, "large_table", 10},
        {"two_memories", false, NULL, 5, "unusual_memory", 5},
        {"start_loop", false, NULL, 5, "start_function", 5},
        {"guest_env", false, &none, 0, NULL, 0},               /* imports env and args: not requests */
        {"wasi_proxy", false, NULL, 10, "many_imports", 10},   /* 45 distinct imports */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nc_analysis *a = fixture(cases[i].name);
        nc_score_input in = {.analysis = a, .new_submitter = cases[i].new_submitter,
                             .granted = cases[i].granted};
        assert_int_equal(nc_score_compute(&in, &s), NC_OK);
        if (s.score != cases[i].score)
            fail_msg("%s: score %d, want %d", cases[i].name, s.score, cases[i].score);
        assert_int_equal(sum(&s), s.score);
        if (cases[i].factor)
            assert_int_equal(points_of(&s, cases[i].factor), cases[i].points);
        nc_analysis_free(a);
    }
}

static void test_dynamic_factors(void **state)
{
    (void)state;
    nc_analysis *a = fixture("hello");
    nc_score s;
    nc_score_run run = {.outcome = "trap", .trap_kind = "unreachable"};
    nc_score_input in = {.analysis = a, .run = &run};
    assert_int_equal(nc_score_compute(&in, &s), NC_OK);
    assert_int_equal(s.score, 10);
    assert_string_equal(s.factors[0].detail, "trapped: unreachable");

    run = (nc_score_run){.outcome = "timeout", .limits_hit = 1};
    assert_int_equal(nc_score_compute(&in, &s), NC_OK);
    assert_int_equal(points_of(&s, "timeout"), 10);
    assert_int_equal(points_of(&s, "limits_hit"), 5);
    assert_int_equal(s.score, 15);

    run = (nc_score_run){.outcome = "crash"};
    assert_int_equal(nc_score_compute(&in, &s), NC_OK);
    assert_int_equal(s.score, 30);

    run = (nc_score_run){.outcome = "output_limit", .limits_hit = 2, .stdout_truncated = true,
                         .stderr_truncated = true};
    assert_int_equal(nc_score_compute(&in, &s), NC_OK);
    assert_int_equal(points_of(&s, "output_truncated"), 4);
    assert_int_equal(s.score, 14);

    /* caps: 1000 denied calls are 30 points, 10 limits are 20 */
    run = (nc_score_run){.outcome = "ok", .denied_total = 1000, .limits_hit = 10};
    assert_int_equal(nc_score_compute(&in, &s), NC_OK);
    assert_int_equal(points_of(&s, "denied_calls"), 30);
    assert_int_equal(points_of(&s, "limits_hit"), 20);
    assert_int_equal(s.score, 50);

    /* ok, exit, interrupted alone score nothing */
    const char *quiet[] = {"ok", "exit", "fuel", "memory", "output_limit", "interrupted"};
    for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++) {
        run = (nc_score_run){.outcome = quiet[i]};
        assert_int_equal(nc_score_compute(&in, &s), NC_OK);
        assert_int_equal(s.score, 0);
        assert_int_equal(s.nfactors, 0);
    }

    /* refused inputs */
    run = (nc_score_run){.outcome = "exploded"};
    assert_int_equal(nc_score_compute(&in, &s), NC_ERR_USAGE);
    assert_int_equal(s.score, 0);
    run = (nc_score_run){.outcome = NULL};
    assert_int_equal(nc_score_compute(&in, &s), NC_ERR_USAGE);
    nc_score_input empty = {0};
    assert_int_equal(nc_score_compute(&empty, &s), NC_ERR_USAGE);
    nc_analysis_free(a);
}

/* The clamping example of docs/threat-score.md: 130 points, score 100. */
/* What is asked for and what is granted: a read-write grant of a home
 * directory is never a low score. */
static void test_grant_factors(void **state)
{
    (void)state;
    nc_analysis *a = fixture("hello");
    nc_score s;
    nc_cap_dir asked[] = {{.host = (char *)"/srv/in", .guest = (char *)"/in", .readonly = true},
                          {.host = (char *)"/srv/out", .guest = (char *)"/out", .readonly = false}};
    nc_caps requested = {.dirs = asked, .ndirs = 2};
    nc_score_input sub = {.analysis = a, .drift = NC_DRIFT_KNOWN, .requested = &requested};
    assert_int_equal(nc_score_compute(&sub, &s), NC_OK);
    assert_int_equal(points_of(&s, "requested_dirs"), 10);
    assert_int_equal(points_of(&s, "requested_rw_dirs"), 10);

    nc_cap_env env[] = {{.key = (char *)"A", .value = (char *)"1"}, {.key = (char *)"B", .value = (char *)"2"}};
    nc_cap_dir home = {.host = (char *)"/home/alice", .guest = (char *)"/h", .readonly = false};
    nc_caps granted = {.args = true, .env = env, .nenv = 2, .dirs = &home, .ndirs = 1};
    nc_score_input run = {.analysis = a, .drift = NC_DRIFT_KNOWN, .granted = &granted};
    assert_int_equal(nc_score_compute(&run, &s), NC_OK);
    assert_int_equal(points_of(&s, "granted_rw_dirs"), 10);
    assert_int_equal(points_of(&s, "granted_sensitive_dir"), 30);
    assert_int_equal(points_of(&s, "granted_env"), 4);
    assert_true(s.score >= 44);
    /* a scratch directory elsewhere is not sensitive; a dot-directory is */
    assert_false(nc_score_sensitive_dir("/srv/scratch"));
    assert_false(nc_score_sensitive_dir("/home/alice/project"));
    assert_true(nc_score_sensitive_dir("/home/alice/.ssh"));
    assert_true(nc_score_sensitive_dir("/etc"));
    assert_true(nc_score_sensitive_dir("/"));
    nc_analysis_free(a);
}

static void test_clamped(void **state)
{
    (void)state;
    nc_wasm_import imports[] = {
        {.module = (char *)"wasi_snapshot_preview1", .name = (char *)"sock_send",
         .kind = NC_WASM_KIND_FUNC, .capability = NC_WASM_CAP_NETWORK},
        {.module = (char *)"env", .name = (char *)"system", .kind = NC_WASM_KIND_FUNC,
         .capability = NC_WASM_CAP_OUTSIDE_WASI},
    };
    nc_wasm_memory mem = {.min_pages = 32768};   /* 2 GiB */
    nc_analysis a = {.size = 1000, .imports = imports, .nimports = 2, .memories = &mem,
                     .nmemories = 1, .has_start = true,
                     .capabilities = NC_WASM_CAP_BIT(NC_WASM_CAP_NETWORK) |
                                     NC_WASM_CAP_BIT(NC_WASM_CAP_OUTSIDE_WASI)};
    nc_score_run run = {.outcome = "crash", .denied_total = 12, .denied_network = 1};
    nc_score_input in = {.analysis = &a, .run = &run};
    nc_score s;
    assert_int_equal(nc_score_compute(&in, &s), NC_OK);
    assert_int_equal(s.total, 130);
    assert_int_equal(s.score, 100);
    assert_int_equal(points_of(&s, "initial_memory"), 15);
    assert_int_equal(points_of(&s, "denied_calls"), 30);
    assert_int_equal(points_of(&s, "tried_network"), 25);
    assert_string_equal(s.factors[0].detail, "imports outside_wasi: env.system");

    /* everything at once, far past 100: still 100, and every factor at most its cap */
    static nc_wasm_custom customs[40];
    for (size_t i = 0; i < 40; i++)
        customs[i] = (nc_wasm_custom){.name = (char *)"payload", .size = 1u << 20};
    nc_wasm_memory mems[2] = {{.min_pages = UINT64_C(1) << 48, .max_pages = UINT64_C(1) << 48,
                               .has_max = true, .memory64 = true},
                              {.min_pages = 1, .max_pages = 2, .has_max = true, .shared = true}};
    nc_wasm_table table = {.elem_type = "funcref", .min = 1u << 30};
    a = (nc_analysis){.size = 16u << 20, .imports = imports, .nimports = 2000, .memories = mems,
                      .nmemories = 2, .tables = &table, .ntables = 1, .customs = customs,
                      .ncustoms = 40, .has_start = true, .capabilities = 0xffff,
                      .suspicious_names = 1000};
    a.nimports = 2;   /* the list is only read for details */
    nc_caps none = {0};
    run = (nc_score_run){.outcome = "crash", .denied_total = UINT32_MAX, .limits_hit = UINT32_MAX,
                         .denied_network = UINT32_MAX, .denied_escape = UINT32_MAX, .denied_signal = UINT32_MAX,
                         .stdout_truncated = true, .stderr_truncated = true};
    in = (nc_score_input){.analysis = &a, .drift = NC_DRIFT_DRIFT, .new_submitter = true,
                          .granted = &none, .run = &run};
    assert_int_equal(nc_score_compute(&in, &s), NC_OK);
    assert_int_equal(s.score, 100);
    size_t count;
    const nc_score_weight *w = nc_score_weights(&count);
    for (size_t i = 0; i < s.nfactors; i++)
        for (size_t k = 0; k < count; k++)
            if (strcmp(w[k].factor, s.factors[i].factor) == 0)
                assert_true(s.factors[i].points <= w[k].cap);
    /* every cap except many_imports, drift_imports_added, trap and timeout */
    assert_int_equal(s.total, 262);
    json_t *j = nc_score_to_json(&s);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "score")), 100);
    assert_int_equal(json_array_size(json_object_get(j, "factors")), s.nfactors);
    json_decref(j);
}

/* A detail cut in the middle of a multi-byte name still makes valid JSON. */
static void test_detail_utf8(void **state)
{
    (void)state;
    static nc_wasm_custom customs[20];
    for (size_t i = 0; i < 20; i++)
        customs[i] = (nc_wasm_custom){.name = (char *)"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac",
                                      .size = 1};
    nc_analysis a = {.size = 100, .customs = customs, .ncustoms = 20};
    nc_score_input in = {.analysis = &a};
    nc_score s;
    assert_int_equal(nc_score_compute(&in, &s), NC_OK);
    assert_int_equal(points_of(&s, "unusual_custom_sections"), 10);
    assert_non_null(strstr(s.factors[0].detail, "more"));
    json_t *j = nc_score_to_json(&s);
    assert_non_null(j);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_table_matches_code),
        cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_imports_are_not_requests),
        cmocka_unit_test(test_fixture_scores),
        cmocka_unit_test(test_dynamic_factors),
        cmocka_unit_test(test_grant_factors),
        cmocka_unit_test(test_clamped),
        cmocka_unit_test(test_detail_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
