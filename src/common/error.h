/* Night Core error codes: one enum, generated from one table.
 * Each entry: symbol, wire code (CONTRACT.md refusal codes where one exists),
 * and a message that says what went wrong. */
#ifndef NC_COMMON_ERROR_H
#define NC_COMMON_ERROR_H

#define NC_ERRORS(X)                                                                   \
    X(NC_OK, "ok", "success")                                                          \
    X(NC_ERR_NOMEM, "internal", "out of memory")                                       \
    X(NC_ERR_IO, "internal", "input/output error")                                     \
    X(NC_ERR_INTERNAL, "internal", "internal error")                                   \
    X(NC_ERR_USAGE, "invalid_request", "invalid arguments")                            \
    X(NC_ERR_TRUNCATED, "invalid_request", "input ends before the declared length")   \
    X(NC_ERR_TRAILING, "invalid_request", "unexpected bytes after the end of input")  \
    X(NC_ERR_MALFORMED, "invalid_request", "malformed input")                          \
    X(NC_ERR_TOO_LARGE, "too_large", "input exceeds a size limit")                     \
    X(NC_ERR_INVALID_MODULE, "invalid_module", "not a valid WebAssembly module")      \
    X(NC_ERR_UNSUPPORTED_IMPORT, "invalid_module",                                     \
      "the module imports something Night Core does not provide")                     \
    X(NC_ERR_NO_ENTRY, "invalid_module", "the module has no _start export")          \
    X(NC_ERR_ARTIFACT, "internal", "precompiled artifact missing or corrupt")         \
    X(NC_ERR_CHILD, "internal", "sandbox child failed before running the module")     \
    X(NC_ERR_ISOLATION, "internal", "could not set up process isolation")             \
    X(NC_ERR_NOT_FOUND, "not_found", "not found")                                     \
    X(NC_ERR_BUSY, "busy", "too many runs in progress")

typedef enum {
#define NC_ERR_ENUM(sym, code, msg) sym,
    NC_ERRORS(NC_ERR_ENUM)
#undef NC_ERR_ENUM
    NC_ERR_COUNT
} nc_err;

#define NC_MUST_CHECK __attribute__((warn_unused_result))

/* Static strings, valid for the life of the program. */
const char *nc_strerror(nc_err err);
const char *nc_errcode(nc_err err);

#endif
