#include "mcp/runview.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/buf.h"

#define HEAD_BYTES 6000
#define TAIL_BYTES 1500

/* Length of the valid UTF-8 sequence at p[0..n), or 0. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    if (len == 2 && c < 0xc2)
        return 0;
    if (len == 3) {
        uint32_t cp = (uint32_t)(c & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
        if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
    }
    if (len == 4) {
        uint32_t cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 | (uint32_t)(p[2] & 0x3f) << 6 |
                      (p[3] & 0x3f);
        if (cp < 0x10000 || cp > 0x10ffff)
            return 0;
    }
    return len;
}

/* keep_nul false: a NUL byte becomes U+FFFD too (the summary is a C string). */
static bool append_utf8_as(nc_buf *b, const uint8_t *p, size_t n, bool keep_nul)
{
    size_t i = 0;
    while (i < n) {
        size_t len = utf8_seq(p + i, n - i);
        if (len && (keep_nul || p[i] != 0)) {
            if (nc_buf_append(b, p + i, len) != NC_OK)
                return false;
            i += len;
        } else {
            if (nc_buf_append(b, "\xef\xbf\xbd", 3) != NC_OK)
                return false;
            i++;
        }
    }
    return true;
}

static bool append_utf8(nc_buf *b, const uint8_t *p, size_t n)
{
    return append_utf8_as(b, p, n, false);
}

json_t *nc_mcp_utf8_json(const uint8_t *p, size_t n)
{
    nc_buf b;
    nc_buf_init(&b, n * 3 + 1);
    json_t *s = append_utf8_as(&b, p, n, true) ? json_stringn(b.data ? (const char *)b.data : "", b.len) : NULL;
    nc_buf_cleanup(&b);
    return s;
}

/* One stream's bytes: decoded from NAME_b64 (the exact bytes), else the text
 * of NAME. *owned is what to free. */
static const uint8_t *stream_bytes(const json_t *run, const char *name, size_t *len, uint8_t **owned)
{
    char key[32];
    *owned = NULL;
    *len = 0;
    snprintf(key, sizeof key, "%s_b64", name);
    const json_t *b64 = json_object_get(run, key);
    if (json_is_string(b64)) {
        size_t n = json_string_length(b64), cap = n / 4 * 3 + 3, got = 0;
        uint8_t *buf = malloc(cap ? cap : 1);
        if (buf && sodium_base642bin(buf, cap, json_string_value(b64), n, NULL, &got, NULL,
                                     sodium_base64_VARIANT_ORIGINAL) == 0) {
            *owned = buf;
            *len = got;
            return buf;
        }
        free(buf);
    }
    const json_t *text = json_object_get(run, name);
    if (json_is_string(text)) {
        *len = json_string_length(text);
        return (const uint8_t *)json_string_value(text);
    }
    return (const uint8_t *)"";
}

static bool page_stream(json_t *view, const json_t *run, const char *name, int64_t offset, int64_t limit,
                        bool binary, bool worker_paged)
{
    char key[40];
    size_t len;
    uint8_t *owned;
    snprintf(key, sizeof key, "%s_total", name);
    const json_t *worker_total = json_object_get(run, key);
    const uint8_t *bytes = stream_bytes(run, name, &len, &owned);
    int64_t total, start = offset;
    const uint8_t *page;
    size_t page_len;
    if (worker_paged) {
        /* the worker cut the page itself: its bytes start at offset */
        total = json_is_integer(worker_total) ? json_integer_value(worker_total) : offset + (int64_t)len;
        if (start > total)
            start = total;
        page = bytes;
        page_len = len > (size_t)limit ? (size_t)limit : len;
    } else {
        total = (int64_t)len;
        if (start > total)
            start = total;
        page = bytes + start;
        page_len = (size_t)(total - start) > (size_t)limit ? (size_t)limit : (size_t)(total - start);
    }
    json_t *text = nc_mcp_utf8_json(page, page_len);
    bool ok = text && json_object_set_new(view, name, text) == 0;
    snprintf(key, sizeof key, "%s_offset", name);
    ok = ok && json_object_set_new(view, key, json_integer(start)) == 0;
    snprintf(key, sizeof key, "%s_total", name);
    ok = ok && json_object_set_new(view, key, json_integer(total)) == 0;
    snprintf(key, sizeof key, "%s_more", name);
    ok = ok && json_object_set_new(view, key, json_boolean(start + (int64_t)page_len < total)) == 0;
    if (ok && binary) {
        size_t cap = sodium_base64_encoded_len(page_len, sodium_base64_VARIANT_ORIGINAL);
        char *enc = malloc(cap);
        ok = enc != NULL;
        if (ok) {
            sodium_bin2base64(enc, cap, page_len ? page : (const uint8_t *)"", page_len, sodium_base64_VARIANT_ORIGINAL);
            snprintf(key, sizeof key, "%s_b64", name);
            ok = json_object_set_new(view, key, json_string(enc)) == 0;
            free(enc);
        }
    }
    free(owned);
    return ok;
}

json_t *nc_mcp_run_view(const json_t *run, const nc_mcp_page *page)
{
    json_t *view = json_deep_copy(run);
    if (!view)
        return NULL;
    static const char *const drop[] = {"stdout", "stderr", "stdout_b64", "stderr_b64", "stdout_total",
                                       "stderr_total", "stdout_offset", "stderr_offset", NULL};
    for (size_t i = 0; drop[i]; i++)
        json_object_del(view, drop[i]);
    const char *outcome = json_string_value(json_object_get(run, "outcome"));
    bool finished = json_is_string(json_object_get(run, "state"))
                        ? strcmp(json_string_value(json_object_get(run, "state")), "finished") == 0
                        : outcome && strcmp(outcome, "running") != 0 && strcmp(outcome, "queued") != 0;
    if (!json_object_get(view, "state"))
        json_object_set_new(view, "state", json_string(finished ? "finished" : "running"));
    if (!page_stream(view, run, "stdout", page->stdout_offset, page->stdout_limit, page->binary, page->worker_paged) ||
        !page_stream(view, run, "stderr", page->stderr_offset, page->stderr_limit, page->binary, page->worker_paged)) {
        json_decref(view);
        return NULL;
    }
    return view;
}

/* ---- the summary ---- */

/* A cut at or before `at` that does not split a UTF-8 sequence. */
static size_t back_to_boundary(const uint8_t *p, size_t at)
{
    size_t k = at;
    while (k > 0 && at - k < 4 && (p[k] & 0xc0) == 0x80)
        k--;
    return k;
}

static bool summarize_stream(nc_buf *b, const json_t *run, const char *name, const char *id)
{
    size_t len;
    uint8_t *owned;
    const uint8_t *bytes = stream_bytes(run, name, &len, &owned);
    char line[320];
    char key[40];
    snprintf(key, sizeof key, "%s_total", name);
    const json_t *wt = json_object_get(run, key);
    size_t total = json_is_integer(wt) && !owned ? (size_t)json_integer_value(wt) : len;
    snprintf(key, sizeof key, "%s_truncated", name);
    bool cut_by_limit = json_is_true(json_object_get(run, key));
    bool ok = true;
    if (total == 0) {
        snprintf(line, sizeof line, "%s: empty\n", name);
        ok = nc_buf_append(b, line, strlen(line)) == NC_OK;
    } else if (len <= HEAD_BYTES + TAIL_BYTES && len == total) {
        snprintf(line, sizeof line, "%s (%zu bytes%s):\n", name, total,
                 cut_by_limit ? "; the run wrote more than its limit allowed, the rest was dropped" : "");
        ok = nc_buf_append(b, line, strlen(line)) == NC_OK && append_utf8(b, bytes, len) &&
             nc_buf_append(b, "\n", 1) == NC_OK;
    } else {
        size_t head = back_to_boundary(bytes, len < HEAD_BYTES ? len : HEAD_BYTES);
        size_t tail_start = len > TAIL_BYTES ? len - TAIL_BYTES : len;
        if (tail_start < head)
            tail_start = head;
        while (tail_start < len && (bytes[tail_start] & 0xc0) == 0x80)
            tail_start++;
        snprintf(line, sizeof line, "%s (%zu bytes%s; the first %zu and the last %zu shown; read the rest with "
                 "get_run {\"run_id\":\"%.40s\",\"%s_offset\":%zu}):\n", name, total,
                 cut_by_limit ? ", cut at its limit" : "", head, len - tail_start, id ? id : "?", name, head);
        ok = nc_buf_append(b, line, strlen(line)) == NC_OK && append_utf8(b, bytes, head);
        snprintf(line, sizeof line, "\n[... %zu bytes not shown ...]\n", tail_start - head + (total - len));
        ok = ok && nc_buf_append(b, line, strlen(line)) == NC_OK && append_utf8(b, bytes + tail_start, len - tail_start) &&
             nc_buf_append(b, "\n", 1) == NC_OK;
    }
    free(owned);
    return ok;
}

char *nc_mcp_run_summary(const json_t *run)
{
    nc_buf b;
    char line[1024];
    nc_buf_init(&b, NC_MCP_SUMMARY_MAX_BYTES * 2);
    const char *id = json_string_value(json_object_get(run, "id"));
    const char *name = json_string_value(json_object_get(run, "name"));
    const char *aid = json_string_value(json_object_get(run, "approval_id"));
    const char *outcome = json_string_value(json_object_get(run, "outcome"));
    const json_t *ec = json_object_get(run, "exit_code");
    const char *message = json_string_value(json_object_get(run, "message"));
    char exit_text[48];
    if (json_is_integer(ec))
        snprintf(exit_text, sizeof exit_text, "exit code %lld", (long long)json_integer_value(ec));
    else
        snprintf(exit_text, sizeof exit_text, "no exit code (it did not exit)");
    snprintf(line, sizeof line, "Run %s of %.80s (approval %.12s): %s, %s, %lld ms.\n", id ? id : "?",
             name ? name : "?", aid ? aid : "?", outcome ? outcome : "?", exit_text,
             (long long)json_integer_value(json_object_get(run, "duration_ms")));
    bool ok = nc_buf_append(&b, line, strlen(line)) == NC_OK;
    if (ok && message && message[0]) {
        snprintf(line, sizeof line, "Message: %.400s\n", message);
        ok = nc_buf_append(&b, line, strlen(line)) == NC_OK;
    }
    const json_t *limits = json_object_get(run, "limits_hit");
    if (ok && json_array_size(limits) > 0) {
        char *l = json_dumps(limits, JSON_COMPACT);
        snprintf(line, sizeof line, "Limits hit: %.300s\n", l ? l : "?");
        free(l);
        ok = nc_buf_append(&b, line, strlen(line)) == NC_OK;
    }
    const json_t *denied = json_object_get(run, "denied_calls"), *threat = json_object_get(run, "threat");
    if (ok && (json_integer_value(denied) > 0 || json_is_object(threat))) {
        snprintf(line, sizeof line, "Denied system calls: %lld. Threat score: %lld/100.\n",
                 (long long)json_integer_value(denied),
                 (long long)json_integer_value(json_object_get(threat, "score")));
        ok = nc_buf_append(&b, line, strlen(line)) == NC_OK;
    }
    ok = ok && summarize_stream(&b, run, "stdout", id) && summarize_stream(&b, run, "stderr", id);
    if (!ok) {
        nc_buf_cleanup(&b);
        return NULL;
    }
    /* Over the cap (long messages): cut at a character boundary. */
    size_t n = b.len;
    if (n > NC_MCP_SUMMARY_MAX_BYTES - 1)
        n = back_to_boundary(b.data, NC_MCP_SUMMARY_MAX_BYTES - 1);
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, b.data, n);
        out[n] = '\0';
    }
    nc_buf_cleanup(&b);
    return out;
}
