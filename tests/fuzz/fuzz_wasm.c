/* Fuzz the WebAssembly static analysis: parse the input as a module and, when
 * it parses, build everything that is built from an analysis (its JSON, the
 * drift against itself and a fixed module, a score with every input set). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "analyze/score.h"
#include "analyze/wasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* hello.wat without its code: type, one import (fd_write), memory */
static const uint8_t base_module[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x09, 0x01, 0x60, 0x04, 0x7f, 0x7f,
    0x7f, 0x7f, 0x01, 0x7f, 0x02, 0x23, 0x01, 0x16, 'w',  'a',  's',  'i',  '_',  's',  'n',
    'a',  'p',  's',  'h',  'o',  't',  '_',  'p',  'r',  'e',  'v',  'i',  'e',  'w',  '1',
    0x08, 'f',  'd',  '_',  'w',  'r',  'i',  't',  'e',  0x00, 0x00, 0x05, 0x03, 0x01, 0x00,
    0x01};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nc_analysis *a = NULL, *base = NULL;
    char msg[256];
    if (nc_wasm_analyze(data, size, &a, msg, sizeof msg) != NC_OK) {
        if (a || memchr(msg, '\0', sizeof msg) == NULL)
            abort();   /* no result on failure, and a terminated message */
        return 0;
    }
    json_t *j = nc_analysis_to_json(a);
    if (!j)
        abort();   /* names are valid UTF-8, so the JSON always builds */
    char *text = json_dumps(j, JSON_COMPACT);
    free(text);
    json_decref(j);

    if (nc_wasm_analyze(base_module, sizeof base_module, &base, msg, sizeof msg) != NC_OK)
        abort();
    json_decref(nc_drift_changes_json(base, a));
    json_decref(nc_drift_changes_json(a, a));

    nc_caps none = {0};
    nc_score_run run = {.outcome = "trap", .trap_kind = "unreachable", .denied_total = 3,
                        .limits_hit = 1, .stdout_truncated = true};
    nc_score_input in = {.analysis = a, .drift = NC_DRIFT_DRIFT, .previous = base,
                         .new_submitter = true, .granted = &none, .run = &run};
    nc_score s;
    if (nc_score_compute(&in, &s) != NC_OK || s.score < 0 || s.score > NC_SCORE_MAX)
        abort();
    j = nc_score_to_json(&s);
    if (!j)
        abort();
    json_decref(j);
    nc_analysis_free(base);
    nc_analysis_free(a);
    return 0;
}
