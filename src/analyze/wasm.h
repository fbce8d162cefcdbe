/* Static analysis of a submitted WebAssembly module (docs/analysis.md).
 *
 * A strict, bounded parser of the core binary format: MVP, multi-value,
 * multi-memory, bulk memory, reference types, the memory64 and shared
 * limits flags, v128 value types and exception-handling tags. Anything
 * else is an error. Every section size and every declared count is checked
 * against what remains and against a cap in common/limits.h before anything
 * is allocated. Function bodies are not validated (Wasmtime does that when
 * the approved module is compiled); the code section is walked only by its
 * entry sizes, and its entry count must match the function section's. */
#ifndef NC_ANALYZE_WASM_H
#define NC_ANALYZE_WASM_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"

/* What an import or export is. */
#define NC_WASM_KINDS(X)                    \
    X(NC_WASM_KIND_FUNC, "func")            \
    X(NC_WASM_KIND_TABLE, "table")          \
    X(NC_WASM_KIND_MEMORY, "memory")        \
    X(NC_WASM_KIND_GLOBAL, "global")        \
    X(NC_WASM_KIND_TAG, "tag")

typedef enum {
#define NC_WASM_KIND_ENUM(sym, name) sym,
    NC_WASM_KINDS(NC_WASM_KIND_ENUM)
#undef NC_WASM_KIND_ENUM
    NC_WASM_KIND_COUNT
} nc_wasm_kind;

/* What an import asks the host for (the table is in docs/analysis.md). */
#define NC_WASM_CAPS(X)                                                   \
    X(NC_WASM_CAP_STDIO, "stdio")               /* fd_read/write/...    */ \
    X(NC_WASM_CAP_FILESYSTEM, "filesystem")     /* path_*, other fd_*   */ \
    X(NC_WASM_CAP_ENV, "env")                   /* environ_*            */ \
    X(NC_WASM_CAP_ARGS, "args")                 /* args_*               */ \
    X(NC_WASM_CAP_CLOCKS, "clocks")             /* clock_*              */ \
    X(NC_WASM_CAP_RANDOM, "random")             /* random_get           */ \
    X(NC_WASM_CAP_PROC_EXIT, "proc_exit")       /* proc_exit            */ \
    X(NC_WASM_CAP_SIGNALS, "signals")           /* proc_raise           */ \
    X(NC_WASM_CAP_NETWORK, "network")           /* sock_*               */ \
    X(NC_WASM_CAP_POLL, "poll")                 /* poll_oneoff, sched_yield */ \
    X(NC_WASM_CAP_OUTSIDE_WASI, "outside_wasi") /* anything else        */

typedef enum {
#define NC_WASM_CAP_ENUM(sym, name) sym,
    NC_WASM_CAPS(NC_WASM_CAP_ENUM)
#undef NC_WASM_CAP_ENUM
    NC_WASM_CAP_COUNT
} nc_wasm_cap;
#define NC_WASM_CAP_BIT(cap) (1u << (cap))

/* Static strings; "?" when out of range. */
const char *nc_wasm_kind_name(unsigned kind);
const char *nc_wasm_cap_name(unsigned cap);

/* The capability an import asks for. Module "wasi_snapshot_preview1" or
 * "wasi_unstable" (then *legacy is set) and a function that WASI preview 1
 * defines: its group; any other import: NC_WASM_CAP_OUTSIDE_WASI. Names are
 * compared byte for byte (length-aware). legacy may be NULL. */
nc_wasm_cap nc_wasm_classify_import(const char *module, size_t module_len, const char *name,
                                    size_t name_len, nc_wasm_kind kind, bool *legacy);

/* Names below are NUL-terminated copies of the module's UTF-8 names; the
 * parser refuses names that contain U+0000, so the copy is the whole name. */
typedef struct {
    char *module, *name;
    nc_wasm_kind kind;
    char *signature;          /* functions: "(i32,i64)->i32"; NULL otherwise */
    nc_wasm_cap capability;
    bool legacy_wasi;         /* module "wasi_unstable" */
} nc_wasm_import;

typedef struct {
    char *name;
    nc_wasm_kind kind;
    uint32_t index;
} nc_wasm_export;

typedef struct {
    uint64_t min_pages, max_pages;   /* 64 KiB pages; max_pages valid if has_max */
    bool has_max, memory64, shared, imported;
} nc_wasm_memory;

typedef struct {
    const char *elem_type;           /* "funcref" or "externref" (static) */
    uint32_t min, max;               /* max valid if has_max */
    bool has_max, imported;
} nc_wasm_table;

typedef struct {
    char *name;
    uint32_t size;                   /* payload bytes after the name */
    bool known;                      /* a name toolchains emit (docs/analysis.md) */
} nc_wasm_custom;

typedef struct {
    size_t size;                               /* the module, in bytes */
    nc_wasm_import *imports; size_t nimports;  /* in module order */
    nc_wasm_export *exports; size_t nexports;
    nc_wasm_memory *memories; size_t nmemories; /* imported first (index order) */
    nc_wasm_table *tables; size_t ntables;      /* imported first (index order) */
    nc_wasm_custom *customs; size_t ncustoms;   /* in module order */
    uint32_t ntypes;
    uint32_t nfunctions;       /* defined in this module (function section) */
    uint32_t nimported_functions;
    uint32_t nglobals;         /* defined */
    uint32_t ndata;            /* data segments */
    uint32_t nelements;        /* element segments */
    uint32_t ntags;            /* defined */
    bool has_start;
    uint32_t capabilities;     /* NC_WASM_CAP_BIT() of every import's capability */
    bool wasi_unstable;        /* some import uses the legacy "wasi_unstable" module */
    uint32_t suspicious_names; /* names with control or bidi-override characters */
} nc_analysis;

/* Parses bytes[0..len) and returns a new analysis (free with
 * nc_analysis_free). Errors: NC_ERR_INVALID_MODULE (msg says what and where:
 * "section 2 (import) at offset 0x18: count 4000000000 exceeds the 10000
 * cap"), NC_ERR_TOO_LARGE (more than NC_MAX_MODULE_BYTES), NC_ERR_NOMEM.
 * Does not keep a reference to bytes. msg may be NULL. */
NC_MUST_CHECK nc_err nc_wasm_analyze(const uint8_t *bytes, size_t len, nc_analysis **out, char *msg,
                                     size_t msg_len);
void nc_analysis_free(nc_analysis *a);

/* The analysis as JSON (docs/analysis.md); NULL on allocation failure. */
json_t *nc_analysis_to_json(const nc_analysis *a);

/* Import and export changes between two versions of a module, compared as
 * sets ("module.name" for imports, export names). */
typedef struct {
    size_t imports_added, imports_removed, exports_added, exports_removed;
} nc_drift_counts;
NC_MUST_CHECK nc_err nc_drift_count(const nc_analysis *old, const nc_analysis *cur,
                                    nc_drift_counts *out);
/* {"size_delta":N,"imports_added":["module.name",...],"imports_removed":[...],
 *  "exports_added":[...],"exports_removed":[...]}, each list sorted; NULL on
 * allocation failure or a NULL argument. */
json_t *nc_drift_changes_json(const nc_analysis *old, const nc_analysis *cur);

#endif
