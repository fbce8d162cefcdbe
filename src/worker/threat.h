/* Glue between the worker and src/analyze: static analysis, drift and the
 * threat score, as JSON for the database and the protocol. */
#ifndef NC_WORKER_THREAT_H
#define NC_WORKER_THREAT_H
#include <jansson.h>
#include <stdbool.h>
#include "analyze/score.h"
#include "analyze/wasm.h"
#include "common/error.h"
#include "policy/policy.h"
#include "sandbox/sandbox.h"

/* Analysis of module bytes, and its JSON form. */
NC_MUST_CHECK nc_err nc_threat_analyze(const uint8_t *wasm, size_t len, nc_analysis **out, json_t **json,
                                       char *msg, size_t msg_len);
/* score at submission: {score, factors[]}; prev may be NULL */
json_t *nc_threat_static(const nc_analysis *a, nc_drift_state drift, const nc_analysis *prev,
                         bool new_submitter, const nc_caps *requested);
/* score after a run: the module's static factors plus what the run did */
json_t *nc_threat_run(const uint8_t *wasm, size_t len, const nc_caps *granted, const nc_run_result *r);

#endif
