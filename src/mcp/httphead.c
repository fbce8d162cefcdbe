/* Strict parsers of the request headers the Streamable HTTP transport reads
 * (httphead.h). Every read is bounded by the value's length, itself capped. */
#include "mcp/httphead.h"
#include <string.h>
#include <strings.h>

#define MAX_TOKEN 128u   /* the worker reads no longer token (docs/protocol.md) */
#define MAX_RANGES 32u

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The value's length, or 0 when it is absent, empty or over the cap. */
static size_t bounded_len(const char *value)
{
    if (!value)
        return 0;
    size_t n = strnlen(value, NC_MCP_HTTP_MAX_HEADER_VALUE + 1);
    return n > NC_MCP_HTTP_MAX_HEADER_VALUE ? 0 : n;
}

bool nc_mcp_token_shape_ok(const char *t, size_t n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";
    if (!t || n == 0 || n > MAX_TOKEN)
        return false;
    size_t i = 0;
    while (i < n && t[i] && strchr(alphabet, t[i]))
        i++;
    if (i == 0)
        return false;
    while (i < n && t[i] == '=')
        i++;
    return i == n;
}

bool nc_mcp_http_bearer(const char *value, const char **token, size_t *len)
{
    static const char scheme[] = "Bearer";
    const size_t sl = sizeof scheme - 1;
    *token = NULL;
    *len = 0;
    size_t n = bounded_len(value);
    if (n <= sl + 1 || strncasecmp(value, scheme, sl) != 0 || value[sl] != ' ')
        return false;
    size_t i = sl;
    while (i < n && value[i] == ' ')
        i++;
    if (!nc_mcp_token_shape_ok(value + i, n - i))
        return false;
    *token = value + i;
    *len = n - i;
    return true;
}

/* [from, to) with OWS trimmed both ends. */
static void trim(const char *s, size_t *from, size_t *to)
{
    while (*from < *to && is_ows(s[*from]))
        (*from)++;
    while (*to > *from && is_ows(s[*to - 1]))
        (*to)--;
}

static bool equals_nocase(const char *s, size_t from, size_t to, const char *want)
{
    size_t wl = strlen(want);
    return to - from == wl && strncasecmp(s + from, want, wl) == 0;
}

bool nc_mcp_http_json_body(const char *value)
{
    size_t n = bounded_len(value);
    if (!n)
        return false;
    const char *semi = memchr(value, ';', n);
    size_t from = 0, to = semi ? (size_t)(semi - value) : n;
    trim(value, &from, &to);
    if (!equals_nocase(value, from, to, "application/json"))
        return false;
    if (!semi)
        return true;
    /* one parameter, charset=utf-8 (or "utf-8"), nothing else */
    from = (size_t)(semi - value) + 1;
    to = n;
    trim(value, &from, &to);
    const char *eq = memchr(value + from, '=', to - from);
    if (!eq)
        return false;
    size_t name_to = (size_t)(eq - value), val_from = name_to + 1;
    if (!equals_nocase(value, from, name_to, "charset"))
        return false;
    if (to - val_from >= 2 && value[val_from] == '"' && value[to - 1] == '"') {
        val_from++;
        to--;
    }
    return equals_nocase(value, val_from, to, "utf-8");
}

/* q=0 (0, 0., 0.0, 0.00, 0.000) among the parameters [from, to). */
static bool q_is_zero(const char *s, size_t from, size_t to)
{
    while (from < to) {
        const char *semi = memchr(s + from, ';', to - from);
        size_t p_from = from, p_to = semi ? (size_t)(semi - s) : to;
        trim(s, &p_from, &p_to);
        if (p_to - p_from >= 2 && (s[p_from] == 'q' || s[p_from] == 'Q') && s[p_from + 1] == '=') {
            size_t v = p_from + 2;
            if (v < p_to && s[v] == '0') {
                v++;
                if (v < p_to && s[v] == '.') {
                    v++;
                    while (v < p_to && s[v] == '0')
                        v++;
                }
                if (v == p_to)
                    return true;
            }
        }
        if (!semi)
            break;
        from = (size_t)(semi - s) + 1;
    }
    return false;
}

bool nc_mcp_http_accepts(const char *value, const char *type)
{
    if (!value)
        return true;   /* no Accept: any media type (RFC 9110) */
    size_t n = bounded_len(value);
    const char *slash = strchr(type, '/');
    if (!n || !slash)
        return false;
    size_t major = (size_t)(slash - type);
    size_t from = 0;
    for (unsigned ranges = 0; from <= n && ranges < MAX_RANGES; ranges++) {
        const char *comma = memchr(value + from, ',', n - from);
        size_t r_from = from, r_to = comma ? (size_t)(comma - value) : n;
        const char *semi = memchr(value + r_from, ';', r_to - r_from);
        size_t m_from = r_from, m_to = semi ? (size_t)(semi - value) : r_to;
        trim(value, &m_from, &m_to);
        bool match = equals_nocase(value, m_from, m_to, type) || equals_nocase(value, m_from, m_to, "*/*") ||
                     (m_to - m_from == major + 2 && strncasecmp(value + m_from, type, major + 1) == 0 &&
                      value[m_to - 1] == '*');
        if (match && !(semi && q_is_zero(value, (size_t)(semi - value) + 1, r_to)))
            return true;
        if (!comma)
            break;
        from = (size_t)(comma - value) + 1;
    }
    return false;
}
