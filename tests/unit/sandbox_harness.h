/* Shared by the sandbox tests: fixtures, a temp artifact cache, run helpers. */
#ifndef NC_TEST_SANDBOX_HARNESS_H
#define NC_TEST_SANDBOX_HARNESS_H
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "common/fs.h"
#include "sandbox/sandbox.h"

static inline const char *fixture_path(const char *name, char *buf, size_t len)
{
    const char *dir = getenv("NC_FIXTURES");
    snprintf(buf, len, "%s/%s.wasm", dir ? dir : "build/fixtures", name);
    return buf;
}

static inline nc_err compile_fixture(nc_sandbox *sb, const char *name, bool fuel, nc_artifact *art,
                                     char *msg, size_t msg_len)
{
    char path[4096];
    uint8_t *wasm = NULL;
    size_t len = 0;
    nc_err err = nc_read_file(fixture_path(name, path, sizeof path), 64u << 20, &wasm, &len);
    if (err != NC_OK) {
        snprintf(msg, msg_len, "cannot read fixture %.400s", path);
        return err;
    }
    err = nc_artifact_compile(sb, wasm, len, fuel, art, msg, msg_len);
    free(wasm);
    return err;
}

static inline nc_run_spec default_spec(void)
{
    static const char *const argv0[] = {"module"};
    nc_run_spec s;
    memset(&s, 0, sizeof s);
    nc_limits_default(&s.limits);
    s.args = argv0;
    s.nargs = 1;
    return s;
}

#endif
