/* The threat score: 0-100 with named factors (docs/threat-score.md). It
 * informs the human reviewing a module or a run; it never approves, refuses,
 * revokes or retries anything.
 *
 * Every factor is points = min(cap, weight * n), where n is a count the factor
 * defines (1 or 0 for a yes/no factor); the score is the sum, clamped to 100.
 * The weights are the table below and nowhere else; docs/threat-score.md
 * repeats it and a unit test checks that the two agree. */
#ifndef NC_ANALYZE_SCORE_H
#define NC_ANALYZE_SCORE_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "analyze/wasm.h"
#include "common/error.h"
#include "policy/policy.h"

/* X(symbol, factor id, weight, cap, what n counts) */
#define NC_SCORE_FACTORS(X)                                                                        \
    /* static: what the module is (an import is not a request: only one     \
     * that cannot run here scores) and what its manifest asks for */       \
    X(NC_SF_CAP_OUTSIDE_WASI, "capability_outside_wasi", 25, 25,                                   \
      "imports something WASI preview 1 does not define")                                          \
    X(NC_SF_REQUESTED_DIRS, "requested_dirs", 5, 15, "directories the manifest asks for")          \
    X(NC_SF_REQUESTED_RW, "requested_rw_dirs", 10, 20, "of those, read-write")                     \
    X(NC_SF_REQUESTED_ENV, "requested_env", 2, 10, "environment variables the manifest asks for")  \
    X(NC_SF_GRANTED_RW, "granted_rw_dirs", 10, 20, "read-write directories granted")               \
    X(NC_SF_GRANTED_SENSITIVE, "granted_sensitive_dir", 30, 30,                                    \
      "granted directories that are, or hold, a home or system directory")                         \
    X(NC_SF_GRANTED_ENV, "granted_env", 2, 10, "environment variables granted")                    \
    X(NC_SF_INITIAL_MEMORY, "initial_memory", 2, 15, "whole 16 MiB steps of initial memory")       \
    X(NC_SF_MAXIMUM_MEMORY, "maximum_memory", 3, 3,                                                \
      "a memory declares a maximum above the default 64 MiB limit")                               \
    X(NC_SF_UNUSUAL_MEMORY, "unusual_memory", 5, 10,                                               \
      "of: more than one memory, a 64-bit memory, a shared memory")                               \
    X(NC_SF_LARGE_TABLE, "large_table", 10, 10,                                                    \
      "a table starts above the default 100000-element limit")                                     \
    X(NC_SF_MODULE_SIZE, "module_size", 1, 10, "whole MiB of module size")                         \
    X(NC_SF_MANY_IMPORTS, "many_imports", 1, 10, "distinct imports beyond the first 32")           \
    X(NC_SF_START_FUNCTION, "start_function", 5, 5,                                                \
      "has a start function (runs during instantiation)")                                         \
    X(NC_SF_UNUSUAL_CUSTOM, "unusual_custom_sections", 2, 10,                                      \
      "custom sections with a name toolchains do not emit")                                        \
    X(NC_SF_CUSTOM_BYTES, "unusual_custom_bytes", 1, 10,                                           \
      "whole 64 KiB steps of bytes in those custom sections")                                      \
    X(NC_SF_SUSPICIOUS_NAMES, "suspicious_names", 5, 10,                                           \
      "names with control or bidirectional-override characters")                                   \
    /* static: where the module comes from */                                                       \
    X(NC_SF_DRIFT, "drift", 10, 10, "the name had a different hash before")                       \
    X(NC_SF_DRIFT_IMPORTS, "drift_imports_added", 5, 20, "imports added since that version")      \
    X(NC_SF_NEW_SUBMITTER, "new_submitter", 10, 10, "first submission from this source")           \
    /* dynamic: what a run did */                                                                   \
    X(NC_SF_DENIED, "denied_calls", 5, 30, "calls refused for lack of a capability")               \
    X(NC_SF_TRIED_NETWORK, "tried_network", 25, 25, "1 if a call was refused: network is never granted") \
    X(NC_SF_TRIED_ESCAPE, "tried_escape", 15, 15, "1 if a path was refused for leaving its directory") \
    X(NC_SF_TRIED_SIGNAL, "tried_signal", 10, 10, "1 if proc_raise was refused")                     \
    X(NC_SF_TRAP, "trap", 10, 10, "the run trapped")                                               \
    X(NC_SF_TIMEOUT, "timeout", 10, 10, "the run timed out")                                       \
    X(NC_SF_CRASH, "crash", 30, 30, "the sandbox child crashed")                                   \
    X(NC_SF_LIMITS_HIT, "limits_hit", 5, 20, "resource limits hit")                                \
    X(NC_SF_OUTPUT_TRUNCATED, "output_truncated", 2, 4, "of stdout, stderr truncated")

typedef enum {
#define NC_SF_ENUM(sym, id, weight, cap, n) sym,
    NC_SCORE_FACTORS(NC_SF_ENUM)
#undef NC_SF_ENUM
    NC_SF_COUNT
} nc_score_factor_id;

#define NC_SCORE_MAX 100

typedef struct {
    const char *factor;   /* snake_case id, static */
    int weight, cap;
    const char *counts;   /* what n counts, static */
} nc_score_weight;

/* A directory whose grant deserves attention: a system directory, a home
 * directory, or a dot-directory in one. */
bool nc_score_sensitive_dir(const char *host);

/* The weights table; static storage. */
const nc_score_weight *nc_score_weights(size_t *count);

typedef enum { NC_DRIFT_NEW = 0, NC_DRIFT_KNOWN, NC_DRIFT_DRIFT } nc_drift_state;

/* What a run did (CONTRACT.md run shape). */
typedef struct {
    const char *outcome;     /* ok|exit|trap|timeout|fuel|memory|output_limit|crash|interrupted|cancelled */
    uint32_t denied_total;   /* calls refused for lack of a capability */
    /* of those (as far as the run kept them), refused because: */
    uint32_t denied_network, denied_escape, denied_signal;
    uint32_t limits_hit;     /* how many distinct limits were hit */
    const char *trap_kind;   /* for outcome trap; may be NULL */
    bool stdout_truncated, stderr_truncated;
} nc_score_run;

typedef struct {
    const nc_analysis *analysis;   /* required */
    nc_drift_state drift;
    const nc_analysis *previous;   /* for drift: the version before; NULL if unknown */
    bool new_submitter;            /* first submission from this source */
    const nc_caps *granted;        /* NULL: not known yet (before approval) */
    const nc_caps *requested;      /* what the manifest asked for; NULL: nothing */
    const nc_score_run *run;       /* NULL: static score only */
} nc_score_input;

typedef struct {
    const char *factor;   /* snake_case id, static */
    int points;           /* > 0 */
    char detail[192];     /* human text */
} nc_score_factor;

typedef struct {
    int score;            /* 0..100 */
    int total;            /* sum of the factors before clamping */
    nc_score_factor factors[NC_SF_COUNT];   /* only factors with points > 0, table order */
    size_t nfactors;
} nc_score;

/* NC_ERR_USAGE if in->analysis is NULL or the run outcome is not one of the
 * names above; NC_ERR_NOMEM. out is cleared first. */
NC_MUST_CHECK nc_err nc_score_compute(const nc_score_input *in, nc_score *out);
/* {"score":N,"factors":[{"factor","points","detail"}]}; NULL on allocation failure. */
json_t *nc_score_to_json(const nc_score *s);

#endif
