/* nightcore-mcp's transports: how MCP messages reach the protocol core
 * (mcp.h) and its answers reach the client. A family of two members behind
 * this table, chosen once by main.c:
 *
 *   stdio.c  one session on stdin/stdout for the client that started the
 *            program; the token comes from NIGHTCORE_AGENT_TOKEN.
 *   http.c   MCP Streamable HTTP on 127.0.0.1 or a Unix socket for clients
 *            that do not start servers; each session is bound to the bearer
 *            token that opened it (docs/agents.md "Streamable HTTP").
 *
 * Both drive the same core and the same worker link (link.h); nothing
 * outside src/mcp/ knows which one runs. */
#ifndef NC_MCP_TRANSPORT_H
#define NC_MCP_TRANSPORT_H
#include <stdbool.h>
#include <stdint.h>
#include "mcp/link.h"

/* What the command line chose (main.c). */
typedef struct {
    const char *agent;           /* --agent NAME */
    bool http;                   /* --http 127.0.0.1:PORT */
    uint16_t http_port;          /*   0: a free port */
    const char *http_socket;     /* --http-socket PATH, or NULL */
    unsigned session_idle_s;     /* --session-idle: an HTTP session idle this long ends */
} nc_mcp_options;

typedef struct {
    const char *name;
    /* Serves until the end (end of input, a signal); the exit status. Runs
     * before any thread of the program starts. */
    int (*serve)(nc_mcp_link *link, const nc_mcp_options *opt);
} nc_mcp_transport;

extern const nc_mcp_transport nc_mcp_transport_stdio;
extern const nc_mcp_transport nc_mcp_transport_http;

/* ---- shared by the transports (transport.c) ---- */

/* nc_mcp_log_fn: one line on stderr, "nightcore-mcp: TEXT", with control
 * characters and backslashes escaped (the text may hold an agent's bytes). */
void nc_mcp_log_stderr(void *ctx, const char *text);
/* nc_mcp_spawn_fn: fn(arg) on a detached thread. */
bool nc_mcp_spawn_thread(void *ctx, void (*fn)(void *arg), void *arg);

#endif
