/* Writes seed inputs for the wire-format fuzz targets from the real encoders:
 *   make_seeds DIR   (creates DIR/wire_spec/ and DIR/wire_result/) */
#include <stdio.h>
#include <string.h>
#include "common/fs.h"
#include "sandbox/internal.h"

static int save(const char *dir, const char *sub, const char *name, const nc_buf *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    if (nc_mkdir_p(path, 0755) != NC_OK)
        return 1;
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    return nc_write_file_atomic(path, b->data, b->len, 0644) != NC_OK;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    const char *const args[] = {"prog", "--x"};
    const char *const env[] = {"LANG=C"};
    nc_dir_grant dirs[] = {{"/srv", "/data", true}, {"/tmp", "/scratch", false}};
    nc_run_spec s;
    memset(&s, 0, sizeof s);
    nc_limits_default(&s.limits);
    uint8_t sha[32] = {0};
    nc_buf b;
    int rc = 0;
    nc_buf_init(&b, 1u << 20);
    rc |= nc_wire_encode_spec(&s, false, sha, 1, &b) != NC_OK || save(argv[1], "wire_spec", "empty", &b);
    s.args = args, s.nargs = 2, s.env = env, s.nenv = 1, s.dirs = dirs, s.ndirs = 2;
    s.stdin_data = (const uint8_t *)"input", s.stdin_len = 5, s.limits.fuel = 1000;
    nc_buf_reset(&b);
    rc |= nc_wire_encode_spec(&s, true, sha, 2, &b) != NC_OK || save(argv[1], "wire_spec", "full", &b);

    nc_run_result r;
    memset(&r, 0, sizeof r);
    nc_buf_reset(&b);
    rc |= nc_wire_encode_result(NC_OK, &r, &b) != NC_OK || save(argv[1], "wire_result", "empty", &b);
    r.outcome = NC_OUTCOME_OUTPUT_LIMIT;
    r.out = (uint8_t *)"hello";
    r.out_len = 5;
    r.out_truncated = true;
    r.calls[NC_WASI_FN_fd_write] = 3;
    r.denied_total = 2;
    r.ndenied = 2;
    r.denied[0] = (nc_wasi_denied){NC_WASI_FN_path_open, NC_DENY_ESCAPE, "../etc"};
    r.denied[1] = (nc_wasi_denied){NC_WASI_FN_sock_send, NC_DENY_NETWORK, "fd 3"};
    r.isolation.landlock_abi = 7;
    r.isolation.seccomp = true;
    nc_buf_reset(&b);
    rc |= nc_wire_encode_result(NC_OK, &r, &b) != NC_OK || save(argv[1], "wire_result", "full", &b);
    nc_buf_reset(&b);
    snprintf(r.message, sizeof r.message, "artifact mismatch");
    rc |= nc_wire_encode_result(NC_ERR_ARTIFACT, &r, &b) != NC_OK || save(argv[1], "wire_result", "error", &b);
    nc_buf_cleanup(&b);
    return rc;
}
