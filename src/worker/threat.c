#include "worker/threat.h"
#include <stdio.h>

nc_err nc_threat_analyze(const uint8_t *wasm, size_t len, nc_analysis **out, json_t **json, char *msg,
                         size_t msg_len)
{
    *json = NULL;
    nc_err err = nc_wasm_analyze(wasm, len, out, msg, msg_len);
    if (err != NC_OK)
        return err;
    *json = nc_analysis_to_json(*out);
    if (!*json) {
        nc_analysis_free(*out);
        *out = NULL;
        return NC_ERR_NOMEM;
    }
    return NC_OK;
}

json_t *nc_threat_static(const nc_analysis *a, nc_drift_state drift, const nc_analysis *prev, bool new_submitter,
                         const nc_caps *requested)
{
    nc_score s;
    nc_score_input in = {.analysis = a, .drift = drift, .previous = prev, .new_submitter = new_submitter,
                         .requested = requested};
    if (nc_score_compute(&in, &s) != NC_OK)
        return NULL;
    return nc_score_to_json(&s);
}

json_t *nc_threat_run(const uint8_t *wasm, size_t len, const nc_caps *granted, const nc_run_result *r)
{
    nc_analysis *a = NULL;
    char msg[128];
    unsigned limits = 0;
    for (unsigned b = 0; b < NC_LIMIT_COUNT; b++)
        limits += (r->limits_hit >> b) & 1u;
    if (!wasm || nc_wasm_analyze(wasm, len, &a, msg, sizeof msg) != NC_OK)
        return json_pack("{s:i, s:[]}", "score", 0, "factors");
    nc_score_run run = {
        .outcome = nc_outcome_name(r->outcome), .denied_total = r->denied_total, .limits_hit = limits,
        .trap_kind = r->trap_kind[0] ? r->trap_kind : NULL, .stdout_truncated = r->out_truncated,
        .stderr_truncated = r->err_truncated,
    };
    /* what it tried, from the denials the run kept (the first NC_WASI_MAX_DENIED) */
    for (uint32_t i = 0; i < r->ndenied && i < NC_WASI_MAX_DENIED; i++) {
        run.denied_network += r->denied[i].reason == NC_DENY_NETWORK;
        run.denied_escape += r->denied[i].reason == NC_DENY_ESCAPE;
        run.denied_signal += r->denied[i].reason == NC_DENY_SIGNAL;
    }
    /* The run's module is approved: drift and provenance were scored at submission. */
    nc_score_input in = {.analysis = a, .drift = NC_DRIFT_KNOWN, .granted = granted, .run = &run};
    nc_score s;
    json_t *out = nc_score_compute(&in, &s) == NC_OK ? nc_score_to_json(&s) : NULL;
    nc_analysis_free(a);
    return out;
}
