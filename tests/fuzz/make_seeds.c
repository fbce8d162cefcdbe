/* Writes seed inputs for the wire-format fuzz targets from the real encoders:
 *   make_seeds DIR   (creates DIR/wire_spec/, DIR/wire_result/, DIR/wire_stream/, DIR/wire_compile/, ...) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/fs.h"
#include "sandbox/compile.h"
#include "sandbox/internal.h"
#include "trust/admin.h"
#include "trust/statement.h"

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
    nc_dir_grant dirs[] = {{.host = "/srv", .guest = "/data", .readonly = true},
                           {.host = "/tmp", .guest = "/scratch", .readonly = false,
                            .quota_bytes = 1u << 20, .quota_files = 64}};
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
    /* a streamed run: two chunks, then the result that agrees with them */
    nc_buf_reset(&b);
    uint8_t hdr[NC_WIRE_CHUNK_HEADER];
    rc |= nc_wire_chunk_header(1, 3, hdr) != NC_OK || nc_buf_append(&b, hdr, sizeof hdr) != NC_OK ||
          nc_buf_append(&b, "hel", 3) != NC_OK;
    rc |= nc_wire_chunk_header(1, 2, hdr) != NC_OK || nc_buf_append(&b, hdr, sizeof hdr) != NC_OK ||
          nc_buf_append(&b, "lo", 2) != NC_OK;
    nc_buf res;
    nc_buf_init(&res, 1u << 20);
    r.message[0] = '\0';
    rc |= nc_wire_encode_result(NC_OK, &r, &res) != NC_OK || nc_buf_put_u32be(&b, (uint32_t)res.len) != NC_OK ||
          nc_buf_append(&b, res.data, res.len) != NC_OK || save(argv[1], "wire_stream", "chunks_then_result", &b);
    nc_buf_cleanup(&res);

    /* the compile child's request and replies (bodies, without the frame length) */
    uint8_t chead[NC_WIRE_COMPILE_HEAD];
    nc_buf_reset(&b);
    rc |= nc_wire_compile_head(true, NC_COMPILE_TARGET_HOST, 0, 8, chead) != NC_OK || nc_buf_append(&b, chead + 4, sizeof chead - 4) != NC_OK ||
          nc_buf_append(&b, "\0asm\1\0\0\0", 8) != NC_OK || save(argv[1], "wire_compile", "request", &b);
    uint8_t ahead[NC_WIRE_ARTIFACT_FIXED + NC_COMPILE_MAX_MESSAGE];
    size_t alen;
    nc_isolation_report ciso = {.userns = true, .netns = true, .no_new_privs = true, .caps_dropped = true,
                                .rlimits = true, .seccomp = true, .landlock_abi = 6};
    nc_buf_reset(&b);
    rc |= nc_wire_artifact_head(NC_OK, &ciso, 123456, "", 8, ahead, sizeof ahead, &alen) != NC_OK ||
          nc_buf_append(&b, ahead + 4, alen - 4) != NC_OK || nc_buf_append(&b, "\x7f" "ELF\2\1\1\0", 8) != NC_OK ||
          save(argv[1], "wire_compile", "artifact", &b);
    nc_buf_reset(&b);
    rc |= nc_wire_artifact_head(NC_ERR_INVALID_MODULE, &ciso, 0, "invalid module: failed to parse: bad magic", 0,
                                ahead, sizeof ahead, &alen) != NC_OK ||
          nc_buf_append(&b, ahead + 4, alen - 4) != NC_OK || save(argv[1], "wire_compile", "invalid", &b);
    nc_buf_cleanup(&b);

    nc_statement st;
    memset(&st, 0, sizeof st);
    snprintf(st.name, sizeof st.name, "hello");
    snprintf(st.approver, sizeof st.approver, "alice@example.com");
    snprintf(st.worker, sizeof st.worker, "worker-1");
    snprintf(st.submission, sizeof st.submission, "sub-1");
    st.caps.args = true;
    nc_cap_env env1 = {"LANG", "C"};
    nc_cap_dir dir1 = {.host = "/srv/data", .guest = "/data", .readonly = true};
    st.caps.env = &env1, st.caps.nenv = 1, st.caps.dirs = &dir1, st.caps.ndirs = 1;
    st.limits = nc_policy_builtin("default")->limits;
    st.issued_at = st.not_before = 1794913600;
    st.expires_at = 1795000000;
    st.max_runs = 10;
    snprintf(st.invokers[0], sizeof st.invokers[0], "operator");
    snprintf(st.invokers[1], sizeof st.invokers[1], "agent:claude");
    st.ninvokers = 2;
    st.trust_version = 3;
    char *text = NULL, msg[256];
    size_t len = 0;
    if (nc_statement_build(&st, &text, &len, msg, sizeof msg) != NC_OK)
        return 1;
    nc_buf sb = {.data = (uint8_t *)text, .len = len};
    rc |= save(argv[1], "statement", "full", &sb);
    free(text);

    nc_admin_statement ad;
    memset(&ad, 0, sizeof ad);
    ad.kind = NC_ADMIN_TRUST_ADD;
    snprintf(ad.approver, sizeof ad.approver, "alice@example.com");
    snprintf(ad.worker, sizeof ad.worker, "w_0123456789abcdef");
    snprintf(ad.principal, sizeof ad.principal, "bob@example.com");
    ad.issued_at = 1794913600;
    ad.expires_at = ad.issued_at + 3600;
    ad.trust_version = 4;
    ad.admin = true;
    static const char key[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGal58JMhCuZ+RhgcX9MqDqXPKqZJ7zas01cv77c8mE9";
    if (nc_sshkey_from_text(key, sizeof key - 1, &ad.key, NULL) != NC_OK ||
        nc_admin_build(&ad, &text, &len, msg, sizeof msg) != NC_OK)
        return 1;
    nc_buf ab = {.data = (uint8_t *)text, .len = len};
    rc |= save(argv[1], "admin", "trust-add", &ab);
    free(text);
    return rc;
}
