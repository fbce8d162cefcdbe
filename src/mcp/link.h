/* nightcore-mcp's side of agent.sock (docs/protocol.md "Agent ops"), shared
 * by its transports: a pool of worker connections, the agent's token as a
 * credential in guarded memory, and the subscription to the agent's events
 * that feeds a protocol core.
 *
 * The worker is the only judge of a token: hello with it says whose it is
 * (nc_mcp_link_verify); nothing here keeps a list of tokens or their hashes.
 * Pooled connections carry no identity of their own: every request names
 * its token. */
#ifndef NC_MCP_LINK_H
#define NC_MCP_LINK_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "common/rpc.h"
#include "mcp/mcp.h"

/* The worker's agent socket for one agent (the name given with --agent). */
typedef struct nc_mcp_link nc_mcp_link;
/* One agent token, in sodium memory; wiped when freed. */
typedef struct nc_mcp_cred nc_mcp_cred;

/* What the core's call functions need (nc_mcp_backend.worker). */
typedef struct {
    nc_mcp_link *link;
    const nc_mcp_cred *cred;
} nc_mcp_caller;

NC_MUST_CHECK nc_err nc_mcp_link_new(const char *socket_path, uid_t worker_uid, const char *agent,
                                     nc_mcp_link **out);
void nc_mcp_link_free(nc_mcp_link *l);
const char *nc_mcp_link_agent(const nc_mcp_link *l);
const char *nc_mcp_link_socket(const nc_mcp_link *l);

/* A copy of token, its shape checked (nc_mcp_token_shape_ok). NC_ERR_MALFORMED
 * for a bad shape. */
NC_MUST_CHECK nc_err nc_mcp_cred_new(const char *token, size_t len, nc_mcp_cred **out);
void nc_mcp_cred_free(nc_mcp_cred *c);
/* The same token (constant time in the length of the stored one). */
bool nc_mcp_cred_same(const nc_mcp_cred *c, const char *token, size_t len);

/* hello with the credential: NC_OK when the worker takes it as this link's
 * agent; NC_ERR_UNAUTHORIZED when it does not (an unknown or removed token,
 * or another agent's; err.code "unauthorized"); any other code when the
 * worker cannot say (away, stopping: err.code "unavailable" or "busy"). */
NC_MUST_CHECK nc_err nc_mcp_link_verify(nc_mcp_link *l, const nc_mcp_cred *c, nc_rpc_error *err);

/* nc_mcp_call_fn and nc_mcp_call_stream_fn with an nc_mcp_caller as ctx. */
nc_err nc_mcp_link_call(void *caller, const char *op, json_t *params, json_t **result, nc_rpc_error *err);
nc_err nc_mcp_link_call_stream(void *caller, const char *op, json_t *params, nc_mcp_event_cb on_event,
                               void *cb_ctx, json_t **result, nc_rpc_error *err);

/* The agent's events for core s, until *stop: subscribes with the
 * credential, feeds every event to s (and a tick once a second), and
 * subscribes again with a growing delay when the subscription drops.
 * Returns NC_OK when stopped, NC_ERR_UNAUTHORIZED when the worker refuses
 * the credential (the agent was removed). log may be NULL. */
nc_err nc_mcp_feed_run(nc_mcp_link *l, const nc_mcp_cred *c, nc_mcp_server *s, atomic_bool *stop,
                       nc_mcp_log_fn log, void *log_ctx);

#endif
