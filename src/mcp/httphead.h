/* The request headers the Streamable HTTP transport reads itself
 * (docs/agents.md "Streamable HTTP"), parsed strictly: pure functions over
 * libmicrohttpd's header values (NUL-terminated, surrounding white space
 * already trimmed), fuzzed by tests/fuzz/fuzz_mcp_http.c. */
#ifndef NC_MCP_HTTPHEAD_H
#define NC_MCP_HTTPHEAD_H
#include <stdbool.h>
#include <stddef.h>

/* The longest header value looked at; a longer one is refused unread. */
#define NC_MCP_HTTP_MAX_HEADER_VALUE 1024u

/* A token's shape before anyone is asked (the worker decides whether it is
 * a token): 1-128 characters of the bearer token alphabet (RFC 6750
 * b64token: A-Z a-z 0-9 - . _ ~ + /, then =), nothing else. */
bool nc_mcp_token_shape_ok(const char *t, size_t n);

/* Authorization: "Bearer" (any case), one or more spaces, then a token of
 * that shape, nothing after it. *token points into value. false for anything else: no
 * header, another scheme, an empty or oversized token, a comma, a second
 * token, a control character. */
bool nc_mcp_http_bearer(const char *value, const char **token, size_t *len);

/* Content-Type: application/json (any case), optionally with parameters of
 * which only charset=utf-8 (any case, quoted or not) is accepted. */
bool nc_mcp_http_json_body(const char *value);

/* Accept (NULL: absent, which accepts anything): does one of its media
 * ranges take type ("text/event-stream")? A range matches as itself,
 * "major/" + "*" or the any-range, all without case, unless its q is 0.
 * At most 32 ranges are read; a malformed range matches nothing. */
bool nc_mcp_http_accepts(const char *value, const char *type);

#endif
