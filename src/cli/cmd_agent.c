/* nightcore agent add|list|remove: agent identities (docs/agents.md). */
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"

static bool agent_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* The nightcore-mcp next to this program (how agents will start it). */
static void mcp_path(char *out, size_t n)
{
    char self[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k > 0) {
        self[k] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(out, n, "%s/nightcore-mcp", self);
            return;
        }
    }
    snprintf(out, n, "nightcore-mcp");
}

int cmd_agent_add(cli_ctx *ctx, const cli_args *a)
{
    const char *name = a->pos[0];
    if (!agent_name_ok(name))
        return cli_usage_error(a->cmd, "NAME must be 1-64 of a-z 0-9 _ -");
    json_t *res = NULL;
    int rc = cli_request(ctx, "agent.add", json_pack("{s:s}", "name", name), &res);
    if (rc != CLI_OK)
        return rc;
    const char *token = cli_jstr(res, "token");
    if (!token) {
        json_decref(res);
        cli_error("the worker returned no token");
        return CLI_FAIL;
    }
    char mcp[PATH_MAX + 32];
    mcp_path(mcp, sizeof mcp);
    if (cli_home(ctx) != CLI_OK) {
        json_decref(res);
        return CLI_FAIL;
    }
    json_t *server = json_pack("{s:s, s:[s, s, s, s], s:{s:s}}", "command", mcp, "args", "--agent", name, "--home",
                               ctx->home.root, "env", "NIGHTCORE_AGENT_TOKEN", token);
    json_t *config = json_pack("{s:{s:o}}", "mcpServers", "nightcore", server);
    /* Streamable HTTP, for clients that connect to a URL: the same server,
     * started once with --http, the token as the bearer of each request */
    char url[64], listen[32], bearer[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/mcp", NC_MCP_HTTP_DEFAULT_PORT);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", NC_MCP_HTTP_DEFAULT_PORT);
    snprintf(bearer, sizeof bearer, "Bearer %s", token);
    json_t *http = json_pack("{s:{s:{s:s, s:s, s:{s:s}}}}", "mcpServers", "nightcore", "type", "http", "url", url,
                             "headers", "Authorization", bearer);
    json_t *http_command = json_pack("[s, s, s, s, s, s, s]", mcp, "--agent", name, "--home", ctx->home.root,
                                     "--http", listen);
    sodium_memzero(bearer, sizeof bearer);   /* in the JSON now */
    if (ctx->json) {
        json_object_set_new(res, "mcp_config", config);
        json_object_set_new(res, "mcp_http_config", http);
        json_object_set_new(res, "mcp_http_command", http_command);
        cli_print_json(res);
        json_decref(res);
        return CLI_OK;
    }
    char *cfg = json_dumps(config, JSON_INDENT(2)), *hcfg = json_dumps(http, JSON_INDENT(2));
    printf("agent %s added. Its token (shown only now; Night Core keeps only its hash):\n\n  %s\n\n", name, token);
    printf("MCP client configuration (Claude Desktop: claude_desktop_config.json; any stdio MCP client):\n\n%s\n\n",
           cfg ? cfg : "");
    printf("Claude Code, as one command:\n\n  claude mcp add nightcore -e NIGHTCORE_AGENT_TOKEN=%s -- %s --agent %s --home %s\n\n",
           token, mcp, name, ctx->home.root);
    printf("Or over HTTP, for clients that connect to a URL: keep this server running\n\n  %s --agent %s --home %s "
           "--http %s\n\nand configure the client with\n\n%s\n\n",
           mcp, name, ctx->home.root, listen, hcfg ? hcfg : "");
    printf("Claude Code over HTTP:\n\n  claude mcp add --transport http nightcore %s --header \"Authorization: Bearer %s\"\n\n",
           url, token);
    printf("Its submissions land in the inbox; it can run only what you approve with --allow-agent %s.\n", name);
    free(cfg);
    free(hcfg);
    json_decref(config);
    json_decref(http);
    json_decref(http_command);
    json_decref(res);
    return CLI_OK;
}

int cmd_agent_list(cli_ctx *ctx, const cli_args *a)
{
    (void)a;
    json_t *res = NULL;
    int rc = cli_list_request(ctx, "agent.list", NULL, "No agents. Add one with `nightcore agent add NAME`.\n",
                              &res);
    if (rc != CLI_OK || !res)
        return rc;
    const json_t *items = json_object_get(res, "items");
    static const char *const hdr[] = {"NAME", "STATE", "PENDING", "RUNS", "LAST SUBMISSION", "RATE TOKENS", "ADDED"};
    cli_table t;
    cli_table_init(&t, 7, hdr, 0x3eu & ~0x20u);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        char pending[24], runs[24], last[32], added[32], tokens[24];
        snprintf(pending, sizeof pending, "%lld", (long long)cli_jint(it, "pending", 0));
        snprintf(runs, sizeof runs, "%lld", (long long)cli_jint(it, "runs", 0));
        cli_fmt_age(cli_jint(it, "last_submission_at", 0), last, sizeof last);
        cli_fmt_age(cli_jint(it, "created_at", 0), added, sizeof added);
        const json_t *tk = json_object_get(it, "rate_tokens");
        if (json_is_integer(tk))
            snprintf(tokens, sizeof tokens, "%lld", (long long)json_integer_value(tk));
        else
            snprintf(tokens, sizeof tokens, "full");
        cli_table_add(&t, cli_jstr(it, "name"), cli_jbool(it, "removed") ? "removed" : "active", pending, runs, last,
                      tokens, added);
    }
    cli_table_print(&t, stdout);
    cli_table_cleanup(&t);
    json_decref(res);
    return CLI_OK;
}

int cmd_agent_remove(cli_ctx *ctx, const cli_args *a)
{
    const char *name = a->pos[0];
    if (!agent_name_ok(name))
        return cli_usage_error(a->cmd, "NAME must be 1-64 of a-z 0-9 _ -");
    json_t *res = NULL;
    int rc = cli_request(ctx, "agent.remove", json_pack("{s:s}", "name", name), &res);
    if (rc != CLI_OK)
        return rc;
    if (ctx->json)
        cli_print_json(res);
    else
        printf("agent %s removed: its token no longer works\n", name);
    json_decref(res);
    return CLI_OK;
}
