/* $NIGHTCORE_HOME layout (docs/cli.md "Home"):
 *   keys/      approver (+ .pub) made by `init --generate-key`; worker.key, worker.pub
 *   trust/     allowed_signers, revoked_keys, version
 *   state/     nightcore.db, trust_version (the rollback record), blobs/, artifacts/
 *   run/       control.sock, agent.sock, worker.pid
 *   logs/      worker.log
 *   config.json  {"approver_key": path, "principal": name}
 */
#ifndef NC_COMMON_HOME_H
#define NC_COMMON_HOME_H
#include <limits.h>
#include <stddef.h>
#include "common/error.h"

typedef struct {
    char root[PATH_MAX];
} nc_home;

/* override (--home) wins, then $NIGHTCORE_HOME, then ~/.nightcore. The path is
 * made absolute; it need not exist yet. */
NC_MUST_CHECK nc_err nc_home_resolve(const char *override, nc_home *out);
/* root/rel into out; NC_ERR_TOO_LARGE if it does not fit. */
NC_MUST_CHECK nc_err nc_home_path(const nc_home *h, const char *rel, char *out, size_t out_len);

#define NC_HOME_CONTROL_SOCK "run/control.sock"
#define NC_HOME_AGENT_SOCK "run/agent.sock"
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
