#include "trust/truststore.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/buf.h"
#include "common/fs.h"
#include "common/json.h"
#include "trust/sshsig.h"
#include "trust/statement.h"

#define VERSION_MAX_BYTES 4096

void nc_trust_cleanup(nc_trust_store *ts)
{
    nc_allowed_signers_free(ts->signers);
    nc_revoked_keys_free(ts->revoked);
    free(ts->uv_keys);
    memset(ts, 0, sizeof *ts);
}

static nc_err path_in(const char *dir, const char *name, char *out, size_t out_len)
{
    int n = snprintf(out, out_len, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= out_len ? NC_ERR_TOO_LARGE : NC_OK;
}

static nc_err read_version(const char *trust_dir, uint64_t *version, int64_t *expires, char *msg, size_t msg_len)
{
    static const char *const keys[] = {"version", "expires_at", NULL};
    char path[4096];
    uint8_t *data = NULL;
    size_t len;
    json_t *root = NULL;
    nc_err err = path_in(trust_dir, "version", path, sizeof path);
    if (err != NC_OK)
        return err;
    err = nc_read_file(path, VERSION_MAX_BYTES, &data, &len);
    if (err != NC_OK) {
        snprintf(msg, msg_len, "%.300s: %s", path, err == NC_ERR_NOT_FOUND ? "missing (run `nightcore init`)" : nc_strerror(err));
        return NC_ERR_TRUST_FILE;
    }
    uint64_t exp = 0;
    err = NC_ERR_TRUST_FILE;
    if (nc_json_parse_strict(data, len, &root, NULL, 0) != NC_OK || !json_is_object(root) ||
        nc_json_only_keys(root, keys, NULL, 0) != NC_OK ||
        nc_json_uint(json_object_get(root, "version"), (uint64_t)INT64_MAX, version) != NC_OK || *version == 0 ||
        (json_object_get(root, "expires_at") && !json_is_null(json_object_get(root, "expires_at")) &&
         nc_json_uint(json_object_get(root, "expires_at"), (uint64_t)INT64_MAX, &exp) != NC_OK)) {
        snprintf(msg, msg_len, "%.300s: expected {\"version\": N >= 1, \"expires_at\": unix-seconds or null}", path);
        goto done;
    }
    *expires = (int64_t)exp;
    err = NC_OK;
done:
    json_decref(root);
    free(data);
    return err;
}

static nc_err write_version(const char *trust_dir, uint64_t version, int64_t expires)
{
    char path[4096], text[128];
    nc_err err = path_in(trust_dir, "version", path, sizeof path);
    if (err != NC_OK)
        return err;
    int n = expires ? snprintf(text, sizeof text, "{\"expires_at\":%lld,\"version\":%llu}\n", (long long)expires,
                               (unsigned long long)version)
                    : snprintf(text, sizeof text, "{\"expires_at\":null,\"version\":%llu}\n", (unsigned long long)version);
    return nc_write_file_atomic(path, text, (size_t)n, 0644);
}

/* The record: the highest version seen, as decimal digits and a newline. */
static nc_err read_record(const char *record_path, uint64_t *out, bool *exists)
{
    uint8_t *data = NULL;
    size_t len;
    *out = 0;
    *exists = false;
    nc_err err = nc_read_file(record_path, 64, &data, &len);
    if (err == NC_ERR_NOT_FOUND)
        return NC_OK;
    if (err != NC_OK)
        return err;
    *exists = true;
    uint64_t v = 0;
    size_t i = 0;
    for (; i < len && data[i] >= '0' && data[i] <= '9'; i++) {
        if (v > (UINT64_MAX - 9) / 10) {
            free(data);
            return NC_ERR_TRUST_FILE;
        }
        v = v * 10 + (uint64_t)(data[i] - '0');
    }
    bool ok = i > 0 && (i == len || (i + 1 == len && data[i] == '\n'));
    free(data);
    if (!ok)
        return NC_ERR_TRUST_FILE;
    *out = v;
    return NC_OK;
}

static nc_err write_record(const char *record_path, uint64_t v)
{
    char text[32];
    int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)v);
    return nc_write_file_atomic(record_path, text, (size_t)n, 0600);
}

nc_err nc_trust_load(const char *trust_dir, const char *record_path, nc_trust_store *out, char *msg, size_t msg_len)
{
    char path[4096], inner[NC_TRUST_ERRMSG_LEN];
    uint8_t *data = NULL;
    size_t len = 0;
    uint64_t recorded;
    bool have_record;
    nc_err err;

    memset(out, 0, sizeof *out);
    err = read_version(trust_dir, &out->version, &out->expires_at, msg, msg_len);
    if (err != NC_OK)
        return err;
    err = read_record(record_path, &recorded, &have_record);
    if (err != NC_OK) {
        snprintf(msg, msg_len, "%.300s: unreadable trust version record", record_path);
        return NC_ERR_TRUST_FILE;
    }
    if (have_record && out->version < recorded) {
        snprintf(msg, msg_len, "trust store version %llu is older than the recorded %llu: the trust folder was "
                 "rolled back; restore it or re-add the keys with `nightcore trust add`",
                 (unsigned long long)out->version, (unsigned long long)recorded);
        return NC_ERR_TRUST_ROLLBACK;
    }
    if ((!have_record || out->version > recorded) && write_record(record_path, out->version) != NC_OK) {
        snprintf(msg, msg_len, "%.300s: cannot record the trust version", record_path);
        return NC_ERR_IO;
    }

    err = path_in(trust_dir, "allowed_signers", path, sizeof path);
    if (err == NC_OK)
        err = nc_read_file(path, NC_TRUST_MAX_FILE_BYTES, &data, &len);
    if (err == NC_ERR_NOT_FOUND) {
        data = NULL;
        len = 0;
        err = NC_OK;
    }
    if (err == NC_OK)
        err = nc_allowed_signers_parse(data ? (const void *)data : "", len, &out->signers, inner, sizeof inner);
    free(data);
    data = NULL;
    if (err != NC_OK) {
        snprintf(msg, msg_len, "%.300s: %s", path, inner);
        goto done;
    }
    err = path_in(trust_dir, "revoked_keys", path, sizeof path);
    if (err == NC_OK)
        err = nc_read_file(path, NC_TRUST_MAX_FILE_BYTES, &data, &len);
    if (err == NC_ERR_NOT_FOUND) {
        data = NULL;
        len = 0;
        err = NC_OK;
    }
    if (err == NC_OK)
        err = nc_revoked_keys_parse(data ? (const void *)data : "", len, &out->revoked, inner, sizeof inner);
    free(data);
    if (err != NC_OK)
        snprintf(msg, msg_len, "%.300s: %s", path, inner);
done:
    if (err != NC_OK) {
        nc_trust_cleanup(out);
        if (err != NC_ERR_NOMEM)
            err = NC_ERR_TRUST_FILE;
    }
    return err;
}

nc_err nc_trust_init(const char *trust_dir, const char *record_path, char *msg, size_t msg_len)
{
    char path[4096];
    if (nc_mkdir_p(trust_dir, 0700) != NC_OK || path_in(trust_dir, "version", path, sizeof path) != NC_OK) {
        snprintf(msg, msg_len, "cannot create %.300s", trust_dir);
        return NC_ERR_IO;
    }
    uint8_t *data;
    size_t len;
    nc_err err = nc_read_file(path, VERSION_MAX_BYTES, &data, &len);
    if (err == NC_OK) {
        free(data);
        return NC_OK;   /* already there: never reset a store */
    }
    if (err != NC_ERR_NOT_FOUND)
        return err;
    uint64_t recorded;
    bool have;
    if (read_record(record_path, &recorded, &have) != NC_OK) {
        snprintf(msg, msg_len, "%.300s: unreadable trust version record", record_path);
        return NC_ERR_TRUST_FILE;
    }
    /* A deleted store comes back above the record, never below it. */
    uint64_t version = have ? recorded + 1 : 1;
    static const char header[] = "# Night Core approver keys (OpenSSH allowed_signers format).\n"
                                 "# The worker writes this file; add keys with `nightcore trust add KEY.pub --principal NAME`.\n";
    if (path_in(trust_dir, "allowed_signers", path, sizeof path) != NC_OK ||
        nc_write_file_atomic(path, header, sizeof header - 1, 0644) != NC_OK ||
        path_in(trust_dir, "revoked_keys", path, sizeof path) != NC_OK ||
        nc_write_file_atomic(path, "", 0, 0644) != NC_OK || write_version(trust_dir, version, 0) != NC_OK ||
        write_record(record_path, version) != NC_OK) {
        snprintf(msg, msg_len, "cannot write the trust store in %.300s", trust_dir);
        return NC_ERR_IO;
    }
    return NC_OK;
}

/* Appends line to trust_dir/name and bumps the version. */
static nc_err append_and_bump(const char *trust_dir, const char *record_path, const char *name, const char *line,
                              const nc_trust_store *cur, char *msg, size_t msg_len)
{
    char path[4096];
    uint8_t *data = NULL;
    size_t len = 0;
    nc_buf b;
    nc_err err = path_in(trust_dir, name, path, sizeof path);
    if (err != NC_OK)
        return err;
    err = nc_read_file(path, NC_TRUST_MAX_FILE_BYTES, &data, &len);
    if (err == NC_ERR_NOT_FOUND)
        err = NC_OK;
    if (err != NC_OK)
        return err;
    nc_buf_init(&b, NC_TRUST_MAX_FILE_BYTES);
    if ((len && nc_buf_append(&b, data, len) != NC_OK) ||
        (len && data[len - 1] != '\n' && nc_buf_put_u8(&b, '\n') != NC_OK) ||
        nc_buf_append(&b, line, strlen(line)) != NC_OK || nc_buf_put_u8(&b, '\n') != NC_OK) {
        snprintf(msg, msg_len, "%.300s would exceed %u bytes", path, NC_TRUST_MAX_FILE_BYTES);
        err = NC_ERR_TOO_LARGE;
        goto done;
    }
    err = nc_write_file_atomic(path, b.data, b.len, 0644);
    if (err == NC_OK)
        err = write_version(trust_dir, cur->version + 1, cur->expires_at);
    if (err == NC_OK)
        err = write_record(record_path, cur->version + 1);
    if (err != NC_OK)
        snprintf(msg, msg_len, "cannot update the trust store in %.300s", trust_dir);
done:
    free(data);
    nc_buf_cleanup(&b);
    return err;
}

nc_err nc_trust_add_key(const char *trust_dir, const char *record_path, const char *key_line,
                        const char *principal, const char *namespaces, char *msg, size_t msg_len)
{
    nc_sshkey key;
    nc_trust_store cur;
    const char *reason = NULL;
    char text[NC_SSHKEY_TEXT_MAX], line[NC_SSHKEY_TEXT_MAX + 256];
    if (!nc_principal_ok(principal)) {
        snprintf(msg, msg_len, "principal must be 1-128 of A-Z a-z 0-9 @ . _ - + : (no wildcards)");
        return NC_ERR_USAGE;
    }
    size_t n = strcspn(key_line, "\n");
    if (nc_sshkey_from_text(key_line, n, &key, &reason) != NC_OK) {
        snprintf(msg, msg_len, "not an accepted public key (ssh-ed25519 or sk-ssh-ed25519@openssh.com)%s%s",
                 reason ? ": " : "", reason ? reason : "");
        return NC_ERR_SIG_KEY_TYPE;
    }
    nc_err err = nc_trust_load(trust_dir, record_path, &cur, msg, msg_len);
    if (err != NC_OK)
        return err;
    if (nc_revoked_keys_contains(cur.revoked, &key)) {
        snprintf(msg, msg_len, "this key is revoked; generate a new one");
        err = NC_ERR_REVOKED_KEY;
        goto done;
    }
    if (nc_allowed_signers_has_principal(cur.signers, &key, NC_SSHSIG_NAMESPACE, INT64_MAX / 2, principal) == NC_OK) {
        snprintf(msg, msg_len, "this key is already trusted for %.128s", principal);
        err = NC_OK;
        goto done;
    }
    err = nc_sshkey_to_text(&key, text, sizeof text);
    if (err != NC_OK)
        goto done;
    snprintf(line, sizeof line, "%s namespaces=\"%s\" %s", principal, namespaces, text);
    err = append_and_bump(trust_dir, record_path, "allowed_signers", line, &cur, msg, msg_len);
done:
    nc_trust_cleanup(&cur);
    return err;
}

nc_err nc_trust_revoke_key(const char *trust_dir, const char *record_path, const char *key_line, char *msg,
                           size_t msg_len)
{
    nc_sshkey key;
    nc_trust_store cur;
    const char *reason = NULL;
    char text[NC_SSHKEY_TEXT_MAX];
    size_t n = strcspn(key_line, "\n");
    if (nc_sshkey_from_text(key_line, n, &key, &reason) != NC_OK) {
        snprintf(msg, msg_len, "not an accepted public key%s%s", reason ? ": " : "", reason ? reason : "");
        return NC_ERR_SIG_KEY_TYPE;
    }
    nc_err err = nc_trust_load(trust_dir, record_path, &cur, msg, msg_len);
    if (err != NC_OK)
        return err;
    if (nc_revoked_keys_contains(cur.revoked, &key)) {
        err = NC_OK;
        goto done;
    }
    err = nc_sshkey_to_text(&key, text, sizeof text);
    if (err == NC_OK)
        err = append_and_bump(trust_dir, record_path, "revoked_keys", text, &cur, msg, msg_len);
done:
    nc_trust_cleanup(&cur);
    return err;
}

nc_err nc_trust_replace(const char *trust_dir, const char *record_path, const void *allowed, size_t allowed_len,
                        const void *revoked, size_t revoked_len, char *msg, size_t msg_len)
{
    char path[4096];
    uint64_t version = 0, recorded = 0;
    int64_t expires = 0;
    bool have;
    char inner[512];
    if (read_version(trust_dir, &version, &expires, inner, sizeof inner) != NC_OK)
        version = 0;   /* a missing or damaged version file: continue above the record */
    if (read_record(record_path, &recorded, &have) != NC_OK)
        recorded = 0;
    uint64_t next = (version > recorded ? version : recorded) + 1;
    if (path_in(trust_dir, "allowed_signers", path, sizeof path) != NC_OK ||
        nc_write_file_atomic(path, allowed, allowed_len, 0644) != NC_OK ||
        path_in(trust_dir, "revoked_keys", path, sizeof path) != NC_OK ||
        nc_write_file_atomic(path, revoked, revoked_len, 0644) != NC_OK || write_version(trust_dir, next, expires) != NC_OK ||
        write_record(record_path, next) != NC_OK) {
        snprintf(msg, msg_len, "cannot write the trust store in %.300s", trust_dir);
        return NC_ERR_IO;
    }
    return NC_OK;
}
