/* Capabilities, limits and policies. A policy is a ceiling: an approval may
 * grant less, never more. The approval statement carries capabilities and
 * limits inline; their digest binds them (docs/policies.md). */
#ifndef NC_POLICY_POLICY_H
#define NC_POLICY_POLICY_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"

#define NC_POLICY_MAX_NAME 64
#define NC_CAP_MAX_ENV_KEY 128
#define NC_CAP_MAX_ENV_VALUE 1024
#define NC_POLICY_MAX_FILE_BYTES (64u * 1024)

typedef struct {
    char *key;
    char *value;   /* NULL only in a policy's ceiling: "any value the approver gives" */
} nc_cap_env;

typedef struct {
    char *host, *guest;
    bool readonly;
    /* An approval's grant: the directory as it was when approved (0, 0 in a
     * policy or a request). The run is refused if host is not that directory. */
    uint64_t dev, ino;
    /* Read-write: what a run may add beneath it (0 = no quota of its own). In a
     * policy, the most an approval may grant (and its default). */
    uint64_t quota_bytes, quota_files;
} nc_cap_dir;

typedef struct {
    bool args;     /* may the run pass arguments */
    bool stdin;    /* may the run pass stdin bytes */
    nc_cap_env *env; size_t nenv;     /* sorted by key */
    nc_cap_dir *dirs; size_t ndirs;
} nc_caps;

typedef struct {
    uint64_t timeout_ms, memory_bytes, fuel /* 0 = unmetered */, stdout_bytes, stderr_bytes;
} nc_policy_limits;

/* Which approver keys may sign an approval under a policy. */
typedef enum {
    NC_KEYREQ_ANY = 0,          /* any trusted key */
    NC_KEYREQ_SECURITY_KEY,     /* a security key (sk-ssh-ed25519): a touch */
    NC_KEYREQ_SECURITY_KEY_PIN, /* a security key, touch and PIN (user verification) */
} nc_key_requirement;

#define NC_POLICY_MAX_DESCRIPTION 1024
#define NC_ISOLATION_MAX 16

typedef struct {
    char name[NC_POLICY_MAX_NAME + 1];
    uint64_t version;                      /* 1 for the built-ins; raised at every change */
    char isolation[NC_ISOLATION_MAX + 1];  /* "process" (default) or "vm" */
    nc_key_requirement require_key;
    char description[NC_POLICY_MAX_DESCRIPTION + 1];
    nc_policy_limits limits;
    nc_caps caps;
} nc_policy;

void nc_caps_cleanup(nc_caps *c);
void nc_policy_cleanup(nc_policy *p);
NC_MUST_CHECK nc_err nc_caps_copy(const nc_caps *src, nc_caps *dst);

/* {"args":bool,"stdin":bool,"env":{K:V},"dirs":[{"host","guest","mode",
 * ["quota_bytes"], ["quota_files"], ["dev", "ino"]}]}; missing fields mean "not
 * granted". Strict: unknown fields, bad names, relative or `..` paths, modes
 * other than ro/rw, duplicate guest paths, quotas on read-only directories,
 * zero-valued optional numbers (absent means 0: one encoding) are errors. */
NC_MUST_CHECK nc_err nc_caps_from_json(const json_t *obj, nc_caps *out, char *msg, size_t msg_len);
/* The same for a policy's ceiling: an env value may also be null (the
 * approver chooses it); dev/ino are refused (a policy names no inode). */
NC_MUST_CHECK nc_err nc_caps_ceiling_from_json(const json_t *obj, nc_caps *out, char *msg, size_t msg_len);
json_t *nc_caps_to_json(const nc_caps *c);
/* {"timeout_ms","memory_bytes","fuel"(int|null),"stdout_bytes","stderr_bytes"};
 * missing fields take the `default` policy's values. */
NC_MUST_CHECK nc_err nc_limits_from_json(const json_t *obj, nc_policy_limits *out, char *msg,
                                         size_t msg_len);
json_t *nc_limits_to_json(const nc_policy_limits *l);

/* A policy file (CONTRACT.md "Policy files", docs/policies.md): name,
 * [description], [isolation], [require_key], [limits], [capabilities]. The
 * version is not part of the file (the worker assigns it). */
NC_MUST_CHECK nc_err nc_policy_parse(const void *data, size_t len, nc_policy *out, char *msg,
                                     size_t msg_len);
NC_MUST_CHECK nc_err nc_policy_from_json(const json_t *root, nc_policy *out, char *msg, size_t msg_len);
/* Without the version: the canonical content a signature covers. */
json_t *nc_policy_to_json(const nc_policy *p);
NC_MUST_CHECK nc_err nc_policy_copy(const nc_policy *src, nc_policy *dst);
const char *nc_key_requirement_name(nc_key_requirement r);   /* "any", "security-key", "security-key-pin" */
/* Built-in policies: "default", "strict" (version 1). NULL if unknown. Static storage. */
const nc_policy *nc_policy_builtin(const char *name);
size_t nc_policy_builtin_count(void);
const nc_policy *nc_policy_builtin_at(size_t i);
bool nc_policy_name_ok(const char *s);

/* Does `after` let anything run that `before` did not? NULL if not (a
 * narrowing, or the same); else what it widens, in words. A new policy
 * (before NULL) always widens. */
const char *nc_policy_widens(const nc_policy *before, const nc_policy *after);

/* An approval's grant within a policy's ceiling: args and stdin only if the
 * ceiling allows them; each env key in the ceiling, with its value or any
 * value where the ceiling's is null; each directory at or beneath a ceiling
 * directory (by path components), read-only beneath read-only, and a
 * read-write grant's quota no larger than the ceiling's (a ceiling quota
 * requires one). NC_ERR_CAPABILITY_DENIED naming what does not fit. */
NC_MUST_CHECK nc_err nc_caps_grant_within(const nc_caps *grant, const nc_caps *ceiling, char *msg, size_t msg_len);
/* Is path equal to or beneath dir (by whole components)? */
bool nc_path_within(const char *path, const char *dir);

/* sha256 over canonical {"capabilities":...,"limits":...}. */
NC_MUST_CHECK nc_err nc_caps_digest(const nc_caps *c, const nc_policy_limits *l, uint8_t out[32]);

/* NC_OK if every capability in `want` is granted by `ceiling` (a rw dir covers
 * ro; env must match key and value); else NC_ERR_CAPABILITY_DENIED naming it. */
NC_MUST_CHECK nc_err nc_caps_within(const nc_caps *want, const nc_caps *ceiling, char *msg,
                                    size_t msg_len);
NC_MUST_CHECK nc_err nc_limits_within(const nc_policy_limits *want, const nc_policy_limits *ceiling,
                                      char *msg, size_t msg_len);

#endif
