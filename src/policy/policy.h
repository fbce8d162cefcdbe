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
    char *key, *value;
} nc_cap_env;

typedef struct {
    char *host, *guest;
    bool readonly;
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

typedef struct {
    char name[NC_POLICY_MAX_NAME + 1];
    nc_policy_limits limits;
    nc_caps caps;
} nc_policy;

void nc_caps_cleanup(nc_caps *c);
void nc_policy_cleanup(nc_policy *p);
NC_MUST_CHECK nc_err nc_caps_copy(const nc_caps *src, nc_caps *dst);

/* {"args":bool,"stdin":bool,"env":{K:V},"dirs":[{"host","guest","mode"}]}; missing
 * fields mean "not granted". Strict: unknown fields, bad names, relative or
 * `..` paths, modes other than ro/rw, duplicates are errors. */
NC_MUST_CHECK nc_err nc_caps_from_json(const json_t *obj, nc_caps *out, char *msg, size_t msg_len);
json_t *nc_caps_to_json(const nc_caps *c);
/* {"timeout_ms","memory_bytes","fuel"(int|null),"stdout_bytes","stderr_bytes"};
 * missing fields take the `default` policy's values. */
NC_MUST_CHECK nc_err nc_limits_from_json(const json_t *obj, nc_policy_limits *out, char *msg,
                                         size_t msg_len);
json_t *nc_limits_to_json(const nc_policy_limits *l);

/* A policy file (CONTRACT.md "Policy files"). */
NC_MUST_CHECK nc_err nc_policy_parse(const void *data, size_t len, nc_policy *out, char *msg,
                                     size_t msg_len);
json_t *nc_policy_to_json(const nc_policy *p);
/* Built-in policies: "default", "strict". NULL if unknown. Static storage. */
const nc_policy *nc_policy_builtin(const char *name);

/* sha256 over canonical {"capabilities":...,"limits":...}. */
NC_MUST_CHECK nc_err nc_caps_digest(const nc_caps *c, const nc_policy_limits *l, uint8_t out[32]);

/* NC_OK if every capability in `want` is granted by `ceiling` (a rw dir covers
 * ro; env must match key and value); else NC_ERR_CAPABILITY_DENIED naming it. */
NC_MUST_CHECK nc_err nc_caps_within(const nc_caps *want, const nc_caps *ceiling, char *msg,
                                    size_t msg_len);
NC_MUST_CHECK nc_err nc_limits_within(const nc_policy_limits *want, const nc_policy_limits *ceiling,
                                      char *msg, size_t msg_len);

#endif
