/* Fuzz what the Streamable HTTP transport parses from request heads
 * (src/mcp/httphead.c: Authorization, Content-Type, Accept), the shared
 * server's strict numbers and secrets (Content-Length, Mcp-Session-Id) and
 * its Server-Sent Events framing (src/httpd/stream.c). The first byte picks
 * the parser; the rest is the header value (up to its first NUL, as
 * libmicrohttpd hands it over) or, for the framing, the data.
 *
 * Invariants: a token found is inside the value, has the token shape and
 * follows the Bearer scheme; a media type accepted really names it; a framed
 * event reads back as exactly one event with the data unchanged and no line
 * break inside it; a number parsed prints back as the digits given. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "httpd/httpd.h"
#include "mcp/httphead.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_bearer(const char *v)
{
    const char *tok;
    size_t len;
    if (!nc_mcp_http_bearer(v, &tok, &len))
        return;
    if (strncasecmp(v, "Bearer ", 7) != 0 || tok < v + 7 || tok + len != v + strlen(v) ||
        !nc_mcp_token_shape_ok(tok, len))
        abort();
}

static bool contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

static void check_media(const char *v)
{
    if (nc_mcp_http_json_body(v) && !contains_nocase(v, "application/json"))
        abort();
    if (nc_mcp_http_accepts(v, "text/event-stream") && !strchr(v, '*') && !contains_nocase(v, "text/event-stream"))
        abort();
}

static void check_numbers(const char *v)
{
    uint64_t n;
    if (nc_httpd_parse_u64(v, UINT64_MAX, &n)) {
        char back[32];
        snprintf(back, sizeof back, "%llu", (unsigned long long)n);
        /* leading zeros are digits too: compare without them */
        const char *digits = v;
        while (digits[0] == '0' && digits[1])
            digits++;
        if (strcmp(back, digits) != 0)
            abort();
    }
    if (nc_httpd_secret_ok(v) && strlen(v) != NC_HTTPD_SECRET_HEX_LEN)
        abort();
}

static void check_framing(const uint8_t *d, size_t n)
{
    static const char *const names[] = {NULL, "message", "run.progress", "x"};
    size_t len;
    const char *name = names[n ? d[0] % 4 : 0];
    char *ev = nc_httpd_sse_event(name, (const char *)d, n, &len);
    if (!ev) {
        if (!memchr(d, '\n', n) && !memchr(d, '\r', n) && !memchr(d, '\0', n))
            abort();   /* only data that could break its line is refused */
        return;
    }
    const char *p = ev;
    if (name) {
        size_t nl = strlen(name);
        if (strncmp(p, "event: ", 7) != 0 || strncmp(p + 7, name, nl) != 0 || p[7 + nl] != '\n')
            abort();
        p += 8 + nl;
    }
    if (strncmp(p, "data: ", 6) != 0)
        abort();
    p += 6;
    if ((size_t)(ev + len - p) != n + 2 || memcmp(p, d, n) != 0 || p[n] != '\n' || p[n + 1] != '\n' ||
        strlen(ev) != len)
        abort();
    free(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t which = data[0];
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    if (which % 4 == 3) {
        check_framing(rest, n);
        return 0;
    }
    char *v = malloc(n + 1);
    if (!v)
        return 0;
    memcpy(v, rest, n);
    v[n] = '\0';
    switch (which % 4) {
    case 0:
        check_bearer(v);
        break;
    case 1:
        check_media(v);
        break;
    default:
        check_numbers(v);
        break;
    }
    free(v);
    return 0;
}
