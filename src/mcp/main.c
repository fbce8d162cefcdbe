/* nightcore-mcp: the MCP server through which one agent submits modules to
 * Night Core's inbox and runs what a human approved for it (docs/agents.md).
 * It holds no key and links no Wasmtime; it speaks only the agent ops of
 * agent.sock, with the agent's token. This file reads the command line,
 * finds the worker and hands over to one transport (transport.h): stdio, or
 * Streamable HTTP with --http / --http-socket. The protocol is in server.c,
 * the worker link in link.c. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include "common/home.h"
#include "httpd/httpd.h"
#include "mcp/transport.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: nightcore-mcp --agent NAME [--home DIR]\n"
            "       nightcore-mcp --agent NAME [--home DIR] --http 127.0.0.1:PORT [--http-socket PATH]\n"
            "       nightcore-mcp --agent NAME [--home DIR] --http-socket PATH\n"
            "       nightcore-mcp --help | --version\n"
            "\n"
            "The MCP server through which agent NAME submits WebAssembly modules to the Night Core\n"
            "inbox, waits for a human's decision, and runs the ones a human approved for it (each\n"
            "approval is also a tool of its own). It holds no key: it cannot approve, sign, trust or\n"
            "change policy. It logs to stderr.\n"
            "\n"
            "  --agent NAME        the agent (1-64 of a-z 0-9 _ -), as created with `nightcore agent add NAME`\n"
            "  --home DIR          the Night Core home (default $NIGHTCORE_HOME, else ~/.nightcore)\n"
            "  --http ADDR         serve MCP Streamable HTTP on 127.0.0.1:PORT (or :PORT; 0 picks a free\n"
            "                      port) at /mcp instead of stdio; no other address is accepted\n"
            "  --http-socket PATH  the same on a Unix socket (created 0600; only your uid is served)\n"
            "  --session-idle S    an HTTP session with no request and no open stream ends after S\n"
            "                      seconds (1-%u, default %u)\n"
            "\n"
            "stdio (the default): speak MCP on stdin/stdout. The agent's token comes from the\n"
            "environment:\n"
            "  NIGHTCORE_AGENT_TOKEN  printed once by `nightcore agent add NAME` (required)\n"
            "\n"
            "HTTP: every request carries the token as \"Authorization: Bearer TOKEN\"; the worker\n"
            "checks it, and each session stays bound to the token that opened it. The first line on\n"
            "stdout is the endpoint: MCP endpoint: http://127.0.0.1:PORT/mcp\n"
            "\n"
            "Setup for Claude Code, Claude Desktop and other MCP clients: docs/agents.md.\n",
            NC_MCP_HTTP_SESSION_IDLE_MAX_S, NC_MCP_HTTP_SESSION_IDLE_S);
}

static int usage_error(const char *what)
{
    fprintf(stderr, "nightcore-mcp: %s\n", what);
    usage(stderr);
    return 2;
}

/* "--opt VALUE" or "--opt=VALUE"; advances *i past what it used. */
static bool option_value(int argc, char **argv, int *i, const char *opt, const char **out, bool *missing)
{
    size_t n = strlen(opt);
    *missing = false;
    if (strncmp(argv[*i], opt, n) != 0)
        return false;
    if (argv[*i][n] == '=') {
        *out = argv[*i] + n + 1;
        return true;
    }
    if (argv[*i][n] != '\0')
        return false;
    if (*i + 1 >= argc) {
        *missing = true;
        return true;
    }
    *out = argv[++*i];
    return true;
}

/* "127.0.0.1:PORT" or ":PORT"; anything else is refused. */
static bool parse_http(const char *s, uint16_t *port)
{
    static const char prefix[] = "127.0.0.1:";
    uint64_t p;
    const char *ps;
    if (strncmp(s, prefix, sizeof prefix - 1) == 0)
        ps = s + sizeof prefix - 1;
    else if (s[0] == ':')
        ps = s + 1;
    else
        return false;
    if (!nc_httpd_parse_u64(ps, 65535, &p))
        return false;
    *port = (uint16_t)p;
    return true;
}

int main(int argc, char **argv)
{
    const char *home_dir = NULL, *http = NULL;
    nc_mcp_options opt = {0};
    nc_home home;
    char socket_path[PATH_MAX];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool missing;
        if (strcmp(a, "--version") == 0 || strcmp(a, "version") == 0) {
            printf("nightcore-mcp %s\n", NC_VERSION);
            return 0;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0) {
            usage(stdout);
            return 0;
        }
        const char *v = NULL;
        if (option_value(argc, argv, &i, "--agent", &v, &missing)) {
            if (missing || opt.agent)
                return usage_error(missing ? "--agent needs a NAME" : "--agent given twice");
            opt.agent = v;
        } else if (option_value(argc, argv, &i, "--home", &v, &missing)) {
            if (missing || home_dir || !v[0])
                return usage_error(missing || !v[0] ? "--home needs a DIR" : "--home given twice");
            home_dir = v;
        } else if (option_value(argc, argv, &i, "--http-socket", &v, &missing)) {
            if (missing || opt.http_socket || !v[0])
                return usage_error(missing || !v[0] ? "--http-socket needs a PATH" : "--http-socket given twice");
            opt.http_socket = v;
        } else if (option_value(argc, argv, &i, "--session-idle", &v, &missing)) {
            uint64_t idle;
            if (missing || opt.session_idle_s)
                return usage_error(missing ? "--session-idle needs SECONDS" : "--session-idle given twice");
            if (!nc_httpd_parse_u64(v, NC_MCP_HTTP_SESSION_IDLE_MAX_S, &idle) || idle == 0)
                return usage_error("--session-idle must be 1 to 86400 seconds");
            opt.session_idle_s = (unsigned)idle;
        } else if (option_value(argc, argv, &i, "--http", &v, &missing)) {
            if (missing || http)
                return usage_error(missing ? "--http needs 127.0.0.1:PORT" : "--http given twice");
            if (!parse_http(v, &opt.http_port))
                return usage_error("--http must be 127.0.0.1:PORT (it listens on the loopback address only)");
            http = v;
            opt.http = true;
        } else {
            char what[160];
            snprintf(what, sizeof what, "unknown argument \"%.100s\"", a);
            return usage_error(what);
        }
    }
    if (!opt.agent)
        return usage_error("--agent NAME is required: the agent this server speaks for");
    if (!nc_mcp_agent_name_ok(opt.agent))
        return usage_error("--agent NAME: NAME is 1-64 of a-z 0-9 _ -");
    if (opt.session_idle_s && !opt.http && !opt.http_socket)
        return usage_error("--session-idle is for --http and --http-socket");
    if (!opt.session_idle_s)
        opt.session_idle_s = NC_MCP_HTTP_SESSION_IDLE_S;
    if (nc_home_resolve(home_dir, &home) != NC_OK ||
        nc_home_socket(&home, NC_AGENT_SOCK, socket_path, sizeof socket_path) != NC_OK) {
        fprintf(stderr, "nightcore-mcp: cannot work out the Night Core home (set --home DIR or NIGHTCORE_HOME)\n");
        return 2;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "nightcore-mcp: cannot initialise libsodium\n");
        return 1;
    }
    nc_mcp_link *link = NULL;
    if (nc_mcp_link_new(socket_path, home.worker_uid, opt.agent, &link) != NC_OK) {
        fprintf(stderr, "nightcore-mcp: out of memory\n");
        return 1;
    }
    /* the one choice of transport */
    const nc_mcp_transport *t = opt.http || opt.http_socket ? &nc_mcp_transport_http : &nc_mcp_transport_stdio;
    int status = t->serve(link, &opt);
    nc_mcp_link_free(link);
    return status;
}
