/* $NIGHTCORE_HOME layout (docs/cli.md "Home"):
 *   keys/      approver (+ .pub) made by `init --generate-key`; worker.key, worker.pub
 *   trust/     allowed_signers, revoked_keys, version
 *   state/     nightcore.db, trust_version (the rollback record), blobs/, artifacts/
 *   run/       control.sock, agent.sock, worker.pid
 *   logs/      worker.log
 *   config.json  {"approver_key": path, "principal": name}
 *
 * Two deployments (docs/sandbox.md "Deployments"):
 *   single-user   the home belongs to the operator; the worker runs as the
 *                 operator; sockets in HOME/run; config.json in the home.
 *   service       `nightcore system install`: the worker runs as its own
 *                 account, its home (0700) out of the operator's reach;
 *                 /etc/nightcore/system.json (root's) says where the home and
 *                 the sockets are and which account must answer on them; the
 *                 operator's config.json is ~/.config/nightcore/config.json. */
#ifndef NC_COMMON_HOME_H
#define NC_COMMON_HOME_H
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "common/error.h"

#define NC_SYSTEM_CONFIG "/etc/nightcore/system.json"
#define NC_SYSTEM_CONFIG_ENV "NIGHTCORE_SYSTEM"   /* another system.json (tests); it must be root's too */

typedef struct {
    char root[PATH_MAX];        /* the worker's home */
    char run_dir[PATH_MAX];     /* control.sock and agent.sock */
    char config[PATH_MAX];      /* the operator's config.json */
    bool service;               /* the service-account deployment */
    uid_t worker_uid;           /* who must answer on control.sock */
    char worker_user[64];
    char worker_key[64];        /* service: base64 of the worker's public key (system.json), else "" */
} nc_home;

/* override (--home) wins, then $NIGHTCORE_HOME (single-user homes), then the
 * service deployment's system.json if there is one, then ~/.nightcore. The
 * path is made absolute; it need not exist yet. NC_ERR_UNAUTHORIZED (msg)
 * for a system.json that is not root's or is writable by others,
 * NC_ERR_MALFORMED for one that does not parse. */
NC_MUST_CHECK nc_err nc_home_resolve_ex(const char *override, nc_home *out, char *msg, size_t msg_len);
NC_MUST_CHECK nc_err nc_home_resolve(const char *override, nc_home *out);
/* root/rel into out; NC_ERR_TOO_LARGE if it does not fit. */
NC_MUST_CHECK nc_err nc_home_path(const nc_home *h, const char *rel, char *out, size_t out_len);
/* run_dir/name (a socket) into out. */
NC_MUST_CHECK nc_err nc_home_socket(const nc_home *h, const char *name, char *out, size_t out_len);

#define NC_CONTROL_SOCK "control.sock"
#define NC_AGENT_SOCK "agent.sock"
/* nightcore-mcp --http: the port `nightcore agent add` puts in the HTTP configuration it prints */
#define NC_MCP_HTTP_DEFAULT_PORT 8421
#define NC_HOME_PIDFILE "run/worker.pid"
#define NC_HOME_DB "state/nightcore.db"
#define NC_HOME_TRUST_DIR "trust"
#define NC_HOME_TRUST_RECORD "state/trust_version"
#define NC_HOME_BLOBS "state/blobs"
#define NC_HOME_ARTIFACTS "state/artifacts"
#define NC_HOME_WORKER_KEY "keys/worker.key"
#define NC_HOME_WORKER_PUB "keys/worker.pub"
#define NC_HOME_APPROVER_KEY "keys/approver"
#define NC_HOME_CONFIG "config.json"
#define NC_HOME_LOG "logs/worker.log"

#endif
