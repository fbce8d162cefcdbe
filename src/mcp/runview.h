/* A run as an agent reads it: one page of its output in structuredContent,
 * and a short text summary (outcome, exit code, head and tail of stdout and
 * stderr) as the text content, so a run that wrote megabytes does not become
 * megabytes of model context. The full output stays with the worker and is
 * paged through get_run. */
#ifndef NC_MCP_RUNVIEW_H
#define NC_MCP_RUNVIEW_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The text summary is at most this long. */
#define NC_MCP_SUMMARY_MAX_BYTES 16384

typedef struct {
    int64_t stdout_offset, stdout_limit, stderr_offset, stderr_limit;
    bool binary;   /* include the pages' bytes in base64 (stdout_b64, stderr_b64) */
    bool worker_paged;   /* run.get was asked for these pages: its output is the page, not the whole */
} nc_mcp_page;

/* The worker's run object (run.get or run: full output in stdout_b64 /
 * stderr_b64, or with worker_paged the page the worker cut, with
 * stdout_total) as the
 * agent's view: everything but the output, plus for each stream the page
 * asked for as text (stdout), where it starts (stdout_offset), how much
 * there is (stdout_total), whether more follows (stdout_more) and, with
 * binary, its bytes (stdout_b64). New object; NULL on allocation failure. */
json_t *nc_mcp_run_view(const json_t *run, const nc_mcp_page *page);

/* At most NC_MCP_SUMMARY_MAX_BYTES of text (malloc'd, NUL-terminated, valid
 * UTF-8) describing the run for a model: id, module, outcome, exit code,
 * limits, denied calls, threat score, and the head and tail of each stream
 * with how much was left out and how to read it. NULL on allocation failure. */
char *nc_mcp_run_summary(const json_t *run);

/* bytes as a JSON string: valid UTF-8 kept, every invalid byte U+FFFD. */
json_t *nc_mcp_utf8_json(const uint8_t *p, size_t n);

#endif
