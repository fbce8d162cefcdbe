/* Strict, bounded parser of the WebAssembly binary format for static
 * analysis (docs/analysis.md). Every byte is read through the bounded reader;
 * every section is read as a sub-reader over exactly its declared payload, so
 * nothing inside a section can reach the next one; every declared count is
 * checked against a cap and against the bytes left before it is used. */
#include "analyze/wasm.h"
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/limits.h"
#include "common/reader.h"

static const char *const kind_names[] = {
#define NC_WASM_KIND_NAME(sym, name) [sym] = name,
    NC_WASM_KINDS(NC_WASM_KIND_NAME)
#undef NC_WASM_KIND_NAME
};

static const char *const cap_names[] = {
#define NC_WASM_CAP_NAME(sym, name) [sym] = name,
    NC_WASM_CAPS(NC_WASM_CAP_NAME)
#undef NC_WASM_CAP_NAME
};

const char *nc_wasm_kind_name(unsigned kind)
{
    return kind < NC_WASM_KIND_COUNT ? kind_names[kind] : "?";
}

const char *nc_wasm_cap_name(unsigned cap)
{
    return cap < NC_WASM_CAP_COUNT ? cap_names[cap] : "?";
}

/* ---- Capability classification ------------------------------------------ */

/* Every WASI preview 1 function and the capability it belongs to. The stdio
 * group is what a program needs for its standard streams; fd_prestat_* are
 * filesystem because they discover the preopened directories. */
static const struct {
    const char *name;
    nc_wasm_cap cap;
} wasi_functions[] = {
    {"args_get", NC_WASM_CAP_ARGS},
    {"args_sizes_get", NC_WASM_CAP_ARGS},
    {"environ_get", NC_WASM_CAP_ENV},
    {"environ_sizes_get", NC_WASM_CAP_ENV},
    {"clock_res_get", NC_WASM_CAP_CLOCKS},
    {"clock_time_get", NC_WASM_CAP_CLOCKS},
    {"fd_advise", NC_WASM_CAP_FILESYSTEM},
    {"fd_allocate", NC_WASM_CAP_FILESYSTEM},
    {"fd_close", NC_WASM_CAP_STDIO},
    {"fd_datasync", NC_WASM_CAP_FILESYSTEM},
    {"fd_fdstat_get", NC_WASM_CAP_STDIO},
    {"fd_fdstat_set_flags", NC_WASM_CAP_FILESYSTEM},
    {"fd_fdstat_set_rights", NC_WASM_CAP_FILESYSTEM},
    {"fd_filestat_get", NC_WASM_CAP_FILESYSTEM},
    {"fd_filestat_set_size", NC_WASM_CAP_FILESYSTEM},
    {"fd_filestat_set_times", NC_WASM_CAP_FILESYSTEM},
    {"fd_pread", NC_WASM_CAP_FILESYSTEM},
    {"fd_prestat_get", NC_WASM_CAP_FILESYSTEM},
    {"fd_prestat_dir_name", NC_WASM_CAP_FILESYSTEM},
    {"fd_pwrite", NC_WASM_CAP_FILESYSTEM},
    {"fd_read", NC_WASM_CAP_STDIO},
    {"fd_readdir", NC_WASM_CAP_FILESYSTEM},
    {"fd_renumber", NC_WASM_CAP_FILESYSTEM},
    {"fd_seek", NC_WASM_CAP_STDIO},
    {"fd_sync", NC_WASM_CAP_FILESYSTEM},
    {"fd_tell", NC_WASM_CAP_FILESYSTEM},
    {"fd_write", NC_WASM_CAP_STDIO},
    {"path_create_directory", NC_WASM_CAP_FILESYSTEM},
    {"path_filestat_get", NC_WASM_CAP_FILESYSTEM},
    {"path_filestat_set_times", NC_WASM_CAP_FILESYSTEM},
    {"path_link", NC_WASM_CAP_FILESYSTEM},
    {"path_open", NC_WASM_CAP_FILESYSTEM},
    {"path_readlink", NC_WASM_CAP_FILESYSTEM},
    {"path_remove_directory", NC_WASM_CAP_FILESYSTEM},
    {"path_rename", NC_WASM_CAP_FILESYSTEM},
    {"path_symlink", NC_WASM_CAP_FILESYSTEM},
    {"path_unlink_file", NC_WASM_CAP_FILESYSTEM},
    {"poll_oneoff", NC_WASM_CAP_POLL},
    {"proc_exit", NC_WASM_CAP_PROC_EXIT},
    {"proc_raise", NC_WASM_CAP_SIGNALS},
    {"sched_yield", NC_WASM_CAP_POLL},
    {"random_get", NC_WASM_CAP_RANDOM},
    {"sock_accept", NC_WASM_CAP_NETWORK},
    {"sock_recv", NC_WASM_CAP_NETWORK},
    {"sock_send", NC_WASM_CAP_NETWORK},
    {"sock_shutdown", NC_WASM_CAP_NETWORK},
};

static bool bytes_eq(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len == n && memcmp(s, lit, n) == 0;
}

nc_wasm_cap nc_wasm_classify_import(const char *module, size_t module_len, const char *name,
                                    size_t name_len, nc_wasm_kind kind, bool *legacy)
{
    bool preview1 = bytes_eq(module, module_len, "wasi_snapshot_preview1");
    bool unstable = bytes_eq(module, module_len, "wasi_unstable");
    if (legacy)
        *legacy = unstable;
    if (!(preview1 || unstable) || kind != NC_WASM_KIND_FUNC)
        return NC_WASM_CAP_OUTSIDE_WASI;
    for (size_t i = 0; i < sizeof wasi_functions / sizeof wasi_functions[0]; i++)
        if (bytes_eq(name, name_len, wasi_functions[i].name))
            return wasi_functions[i].cap;
    return NC_WASM_CAP_OUTSIDE_WASI;
}

/* Custom section names that toolchains emit. Anything else is reported as
 * not known (the threat score counts those). */
static bool custom_known(const char *name, size_t len)
{
    static const char *const exact[] = {"name", "producers", "target_features",
                                        "sourceMappingURL", "external_debug_info", "build_id",
                                        "linking", "dylink", "dylink.0"};
    static const char *const prefixes[] = {".debug_", "reloc.", "metadata.code."};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (bytes_eq(name, len, exact[i]))
            return true;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        if (len > n && memcmp(name, prefixes[i], n) == 0)
            return true;
    }
    return false;
}

/* ---- Parser state and error reporting ------------------------------------ */

enum {
    SEC_CUSTOM = 0, SEC_TYPE = 1, SEC_IMPORT = 2, SEC_FUNCTION = 3, SEC_TABLE = 4,
    SEC_MEMORY = 5, SEC_GLOBAL = 6, SEC_EXPORT = 7, SEC_START = 8, SEC_ELEMENT = 9,
    SEC_CODE = 10, SEC_DATA = 11, SEC_DATACOUNT = 12, SEC_TAG = 13, SEC_COUNT
};

static const char *const section_names[SEC_COUNT] = {
    "custom", "type", "import", "function", "table", "memory", "global",
    "export", "start", "element", "code", "data", "datacount", "tag"};

/* Position in the required order (custom sections may appear anywhere). */
static const int section_rank[SEC_COUNT] = {
    [SEC_CUSTOM] = 0, [SEC_TYPE] = 1, [SEC_IMPORT] = 2, [SEC_FUNCTION] = 3, [SEC_TABLE] = 4,
    [SEC_MEMORY] = 5, [SEC_TAG] = 6, [SEC_GLOBAL] = 7, [SEC_EXPORT] = 8, [SEC_START] = 9,
    [SEC_ELEMENT] = 10, [SEC_DATACOUNT] = 11, [SEC_CODE] = 12, [SEC_DATA] = 13};

/* A function type: borrowed pointers into the module bytes, valid while parsing. */
typedef struct {
    const uint8_t *params, *results;
    uint32_t nparams, nresults;
} functype;

typedef struct {
    const uint8_t *base;   /* the whole module, for absolute offsets */
    char *msg;
    size_t msg_len;
    int section;           /* section being parsed, -1 outside any */
    bool in_payload;       /* reading inside that section's payload */
    nc_analysis *a;
    functype *types;
    uint32_t nimported_globals, nimported_tags;
    size_t tables_cap, memories_cap, customs_cap;
    bool have_datacount;
    uint32_t datacount;
    bool have_code, have_data;
} parser;

static size_t offset_of(const parser *p, const nc_reader *r)
{
    return (size_t)(r->data - p->base) + r->pos;
}

__attribute__((format(printf, 3, 4))) static nc_err fail(parser *p, size_t off, const char *fmt, ...)
{
    if (!p->msg || p->msg_len == 0)
        return NC_ERR_INVALID_MODULE;
    int n;
    if (p->section >= 0)
        n = snprintf(p->msg, p->msg_len, "section %d (%s) at offset 0x%zx: ", p->section,
                     section_names[p->section], off);
    else
        n = snprintf(p->msg, p->msg_len, "at offset 0x%zx: ", off);
    if (n >= 0 && (size_t)n < p->msg_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->msg + n, p->msg_len - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return NC_ERR_INVALID_MODULE;
}

static const char *where(const parser *p)
{
    return p->in_payload ? "section" : "module";
}

/* ---- Primitive reads ------------------------------------------------------ */

NC_MUST_CHECK static nc_err rd_u8(parser *p, nc_reader *r, uint8_t *v, const char *what)
{
    if (nc_read_u8(r, v) != NC_OK)
        return fail(p, offset_of(p, r), "truncated: %s runs past the end of the %s", what, where(p));
    return NC_OK;
}

NC_MUST_CHECK static nc_err rd_u32(parser *p, nc_reader *r, uint32_t *v, const char *what)
{
    size_t at = offset_of(p, r);
    nc_err e = nc_read_uleb32(r, v);
    if (e == NC_ERR_TRUNCATED)
        return fail(p, at, "truncated: %s runs past the end of the %s", what, where(p));
    if (e != NC_OK)
        return fail(p, at, "%s: malformed LEB128 (longer than 5 bytes or over 32 bits)", what);
    return NC_OK;
}

/* LEB128 of `bits` bits (33..64), unsigned or signed, through nc_read_u8.
 * The last byte's unused bits must be zero (unsigned) or copies of the sign
 * bit (signed), as the spec requires. On failure the cursor does not move. */
NC_MUST_CHECK static nc_err rd_leb(parser *p, nc_reader *r, unsigned bits, bool is_signed,
                                   uint64_t *v, const char *what)
{
    size_t save = r->pos, at = offset_of(p, r);
    unsigned maxbytes = (bits + 6) / 7;
    uint64_t value = 0;
    *v = 0;
    for (unsigned i = 0;; i++) {
        uint8_t b;
        if (nc_read_u8(r, &b) != NC_OK) {
            r->pos = save;
            return fail(p, at, "truncated: %s runs past the end of the %s", what, where(p));
        }
        if (i == maxbytes - 1) {
            unsigned used = bits - 7 * i;   /* value bits this byte carries, 1..7 */
            uint8_t rest = (uint8_t)((b & 0x7f) >> used);
            uint8_t want = is_signed && ((b >> (used - 1)) & 1) ? (uint8_t)(0x7f >> used) : 0;
            if ((b & 0x80) || rest != want) {
                r->pos = save;
                return fail(p, at, "%s: malformed LEB128 (longer than %u bytes or over %u bits)",
                            what, maxbytes, bits);
            }
        }
        value |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            break;
    }
    *v = value;
    return NC_OK;
}

NC_MUST_CHECK static nc_err rd_bytes(parser *p, nc_reader *r, size_t n, const uint8_t **out,
                                     const char *what)
{
    size_t at = offset_of(p, r);
    if (nc_read_bytes(r, n, out) != NC_OK)
        return fail(p, at, "truncated: %s of %zu bytes runs past the end of the %s (%zu left)", what,
                    n, where(p), nc_reader_remaining(r));
    return NC_OK;
}

/* A vector length: at most `cap`, and small enough that `min_entry` bytes per
 * entry fit in what is left, so a count can never size an allocation alone. */
NC_MUST_CHECK static nc_err rd_count(parser *p, nc_reader *r, uint32_t cap, size_t min_entry,
                                     uint32_t *out, const char *what)
{
    size_t at = offset_of(p, r);
    nc_err e = rd_u32(p, r, out, what);
    if (e != NC_OK)
        return e;
    if (*out > cap)
        return fail(p, at, "%s %" PRIu32 " exceeds the %" PRIu32 " cap", what, *out, cap);
    if (*out > nc_reader_remaining(r) / min_entry)
        return fail(p, at, "%s %" PRIu32 " cannot fit in the %zu bytes left in the section", what,
                    *out, nc_reader_remaining(r));
    return NC_OK;
}

/* ---- Names ------------------------------------------------------------------ */

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF) and no
 * U+0000. Returns the index of the first bad byte, or n when valid. Counts
 * C0/C1 controls and bidirectional overrides, which can make a name display
 * as something it is not, in *suspicious. */
static size_t utf8_check(const uint8_t *s, size_t n, bool *suspicious)
{
    *suspicious = false;
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        uint32_t cp;
        size_t len;
        if (c < 0x80) {
            cp = c;
            len = 1;
        } else if (c >= 0xc2 && c <= 0xdf) {
            cp = c & 0x1f;
            len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            cp = c & 0x0f;
            len = 3;
        } else if (c >= 0xf0 && c <= 0xf4) {
            cp = c & 0x07;
            len = 4;
        } else {
            return i;
        }
        if (len > n - i)
            return i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || cp == 0)
            return i;
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
            cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
            *suspicious = true;
        i += len;
    }
    return n;
}

NC_MUST_CHECK static nc_err rd_name(parser *p, nc_reader *r, const char **out, size_t *out_len,
                                    const char *what)
{
    size_t at = offset_of(p, r);
    uint32_t n;
    const uint8_t *s;
    bool suspicious;
    *out = NULL;
    *out_len = 0;
    nc_err e = rd_u32(p, r, &n, what);
    if (e != NC_OK)
        return e;
    if (n > NC_WASM_MAX_NAME_BYTES)
        return fail(p, at, "%s of %" PRIu32 " bytes exceeds the %u-byte cap", what, n,
                    NC_WASM_MAX_NAME_BYTES);
    if ((e = rd_bytes(p, r, n, &s, what)) != NC_OK)
        return e;
    size_t bad = utf8_check(s, n, &suspicious);
    if (bad < n)
        return fail(p, at, "%s is not valid UTF-8 (or contains U+0000) at byte %zu", what, bad);
    if (suspicious)
        p->a->suspicious_names++;
    *out = (const char *)s;
    *out_len = n;
    return NC_OK;
}

static char *dup_bytes(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        if (n)
            memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* ---- Types --------------------------------------------------------------- */

static const char *valtype_name(uint8_t t)
{
    switch (t) {
    case 0x7f: return "i32";
    case 0x7e: return "i64";
    case 0x7d: return "f32";
    case 0x7c: return "f64";
    case 0x7b: return "v128";
    case 0x70: return "funcref";
    case 0x6f: return "externref";
    default: return NULL;
    }
}

NC_MUST_CHECK static nc_err rd_valtype(parser *p, nc_reader *r, uint8_t *t, const char *what)
{
    size_t at = offset_of(p, r);
    nc_err e = rd_u8(p, r, t, what);
    if (e == NC_OK && !valtype_name(*t))
        return fail(p, at, "%s: unknown value type 0x%02x", what, *t);
    return e;
}

NC_MUST_CHECK static nc_err rd_reftype(parser *p, nc_reader *r, uint8_t *t, const char *what)
{
    size_t at = offset_of(p, r);
    nc_err e = rd_u8(p, r, t, what);
    if (e == NC_OK && *t != 0x70 && *t != 0x6f)
        return fail(p, at, "%s: 0x%02x is not funcref (0x70) or externref (0x6f)", what, *t);
    return e;
}

/* "(i32,i64)->i32", "()->()", "(i32)->(i32,i64)"; longer than the cap: cut, ending in "...". */
typedef struct {
    char text[NC_WASM_MAX_SIGNATURE_TEXT + 1];
    size_t len;
    bool cut;
} sigbuf;

static void sig_put(sigbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->cut || n > NC_WASM_MAX_SIGNATURE_TEXT - 3 - b->len) {
        b->cut = true;
        return;
    }
    memcpy(b->text + b->len, s, n);
    b->len += n;
    b->text[b->len] = '\0';
}

static void sig_list(sigbuf *b, const uint8_t *types, uint32_t n)
{
    sig_put(b, "(");
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            sig_put(b, ",");
        sig_put(b, valtype_name(types[i]));
    }
    sig_put(b, ")");
}

static char *signature_text(const functype *t)
{
    sigbuf b = {.len = 0, .cut = false};
    b.text[0] = '\0';
    sig_list(&b, t->params, t->nparams);
    sig_put(&b, "->");
    if (t->nresults == 1)
        sig_put(&b, valtype_name(t->results[0]));
    else
        sig_list(&b, t->results, t->nresults);
    if (b.cut) {
        memcpy(b.text + b.len, "...", 4);
        b.len += 3;
    }
    return dup_bytes(b.text, b.len);
}

NC_MUST_CHECK static nc_err parse_types(parser *p, nc_reader *r)
{
    uint32_t count;
    nc_err e = rd_count(p, r, NC_WASM_MAX_TYPES, 3, &count, "count");
    if (e != NC_OK)
        return e;
    if (count && !(p->types = calloc(count, sizeof *p->types)))
        return NC_ERR_NOMEM;
    for (uint32_t i = 0; i < count; i++) {
        functype *t = &p->types[i];
        size_t at = offset_of(p, r);
        uint8_t form;
        if ((e = rd_u8(p, r, &form, "type form")) != NC_OK)
            return e;
        if (form != 0x60)
            return fail(p, at, "type %" PRIu32 ": form 0x%02x is not a function type (0x60)", i,
                        form);
        if ((e = rd_count(p, r, NC_WASM_MAX_FUNC_PARAMS, 1, &t->nparams, "param count")) != NC_OK)
            return e;
        t->params = r->data + r->pos;
        for (uint32_t k = 0; k < t->nparams; k++) {
            uint8_t vt;
            if ((e = rd_valtype(p, r, &vt, "param type")) != NC_OK)
                return e;
        }
        if ((e = rd_count(p, r, NC_WASM_MAX_FUNC_RESULTS, 1, &t->nresults, "result count")) != NC_OK)
            return e;
        t->results = r->data + r->pos;
        for (uint32_t k = 0; k < t->nresults; k++) {
            uint8_t vt;
            if ((e = rd_valtype(p, r, &vt, "result type")) != NC_OK)
                return e;
        }
    }
    p->a->ntypes = count;
    return NC_OK;
}

NC_MUST_CHECK static nc_err rd_typeidx(parser *p, nc_reader *r, uint32_t *idx)
{
    size_t at = offset_of(p, r);
    nc_err e = rd_u32(p, r, idx, "type index");
    if (e == NC_OK && *idx >= p->a->ntypes)
        return fail(p, at, "type index %" PRIu32 " out of range (%" PRIu32 " types)", *idx,
                    p->a->ntypes);
    return e;
}

/* ---- Tables, memories, globals, tags ------------------------------------- */

/* Grows arr (elements of size elem) to hold at least need; need never passes
 * a cap the caller has checked. */
NC_MUST_CHECK static nc_err grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return NC_OK;
    size_t n = *cap ? *cap * 2 : 4;
    if (n < need)
        n = need;
    void *q = realloc(*arr, n * elem);
    if (!q)
        return NC_ERR_NOMEM;
    *arr = q;
    *cap = n;
    return NC_OK;
}

NC_MUST_CHECK static nc_err parse_tabletype(parser *p, nc_reader *r, bool imported)
{
    nc_analysis *a = p->a;
    size_t at = offset_of(p, r);
    uint8_t rt, flags;
    nc_err e;
    if (a->ntables >= NC_WASM_MAX_TABLES)
        return fail(p, at, "more than %u tables", NC_WASM_MAX_TABLES);
    if ((e = rd_reftype(p, r, &rt, "table element type")) != NC_OK)
        return e;
    at = offset_of(p, r);
    if ((e = rd_u8(p, r, &flags, "table limits")) != NC_OK)
        return e;
    if (flags > 1)
        return fail(p, at, "table limits flags 0x%02x not supported", flags);
    nc_wasm_table t = {.elem_type = rt == 0x70 ? "funcref" : "externref",
                       .has_max = flags == 1, .imported = imported};
    if ((e = rd_u32(p, r, &t.min, "table minimum")) != NC_OK)
        return e;
    if (t.has_max) {
        if ((e = rd_u32(p, r, &t.max, "table maximum")) != NC_OK)
            return e;
        if (t.max < t.min)
            return fail(p, at, "table maximum %" PRIu32 " is below its minimum %" PRIu32, t.max,
                        t.min);
    }
    if ((e = grow((void **)&a->tables, &p->tables_cap, a->ntables + 1, sizeof *a->tables)) != NC_OK)
        return e;
    a->tables[a->ntables++] = t;
    return NC_OK;
}

#define WASM_PAGES_32 65536ull            /* 4 GiB of 64 KiB pages */
#define WASM_PAGES_64 (1ull << 48)        /* 2^64 bytes of 64 KiB pages */

NC_MUST_CHECK static nc_err parse_memtype(parser *p, nc_reader *r, bool imported)
{
    nc_analysis *a = p->a;
    size_t at = offset_of(p, r);
    uint8_t flags;
    nc_err e;
    if (a->nmemories >= NC_WASM_MAX_MEMORIES)
        return fail(p, at, "more than %u memories", NC_WASM_MAX_MEMORIES);
    if ((e = rd_u8(p, r, &flags, "memory limits")) != NC_OK)
        return e;
    /* bit 0: has maximum; bit 1: shared (threads); bit 2: 64-bit (memory64) */
    if (flags > 7)
        return fail(p, at, "memory limits flags 0x%02x not supported", flags);
    nc_wasm_memory m = {.has_max = flags & 1, .shared = flags & 2, .memory64 = flags & 4,
                        .imported = imported};
    if (m.shared && !m.has_max)
        return fail(p, at, "a shared memory must declare a maximum");
    uint64_t limit = m.memory64 ? WASM_PAGES_64 : WASM_PAGES_32;
    for (int i = 0; i < (m.has_max ? 2 : 1); i++) {
        const char *what = i ? "memory maximum" : "memory minimum";
        size_t vat = offset_of(p, r);
        uint64_t v;
        if (m.memory64) {
            if ((e = rd_leb(p, r, 64, false, &v, what)) != NC_OK)
                return e;
        } else {
            uint32_t v32;
            if ((e = rd_u32(p, r, &v32, what)) != NC_OK)
                return e;
            v = v32;
        }
        if (v > limit)
            return fail(p, vat, "%s of %" PRIu64 " pages is over the %" PRIu64 "-page limit", what,
                        v, limit);
        *(i ? &m.max_pages : &m.min_pages) = v;
    }
    if (m.has_max && m.max_pages < m.min_pages)
        return fail(p, at, "memory maximum %" PRIu64 " is below its minimum %" PRIu64,
                    m.max_pages, m.min_pages);
    if ((e = grow((void **)&a->memories, &p->memories_cap, a->nmemories + 1, sizeof *a->memories)) !=
        NC_OK)
        return e;
    a->memories[a->nmemories++] = m;
    return NC_OK;
}

NC_MUST_CHECK static nc_err parse_globaltype(parser *p, nc_reader *r)
{
    uint8_t vt, mut;
    nc_err e = rd_valtype(p, r, &vt, "global type");
    if (e != NC_OK)
        return e;
    size_t at = offset_of(p, r);
    if ((e = rd_u8(p, r, &mut, "global mutability")) != NC_OK)
        return e;
    if (mut > 1)
        return fail(p, at, "global mutability 0x%02x is not 0 or 1", mut);
    return NC_OK;
}

NC_MUST_CHECK static nc_err parse_tagtype(parser *p, nc_reader *r)
{
    size_t at = offset_of(p, r);
    uint8_t attr;
    uint32_t idx;
    nc_err e = rd_u8(p, r, &attr, "tag attribute");
    if (e != NC_OK)
        return e;
    if (attr != 0)
        return fail(p, at, "tag attribute 0x%02x is not 0 (exception)", attr);
    return rd_typeidx(p, r, &idx);
}

/* A constant expression: the instructions the spec allows there, then end.
 * Operands are skipped, not evaluated; types are Wasmtime's to check. */
NC_MUST_CHECK static nc_err skip_const_expr(parser *p, nc_reader *r)
{
    nc_err e;
    for (unsigned ops = 0;; ops++) {
        size_t at = offset_of(p, r);
        uint8_t op;
        uint64_t v;
        uint32_t u;
        const uint8_t *skip;
        if (ops > NC_WASM_MAX_CONST_EXPR_OPS)
            return fail(p, at, "constant expression longer than %u instructions",
                        NC_WASM_MAX_CONST_EXPR_OPS);
        if ((e = rd_u8(p, r, &op, "constant expression")) != NC_OK)
            return e;
        switch (op) {
        case 0x0b: /* end */
            return NC_OK;
        case 0x41: /* i32.const */
            e = rd_leb(p, r, 32, true, &v, "i32.const");
            break;
        case 0x42: /* i64.const */
            e = rd_leb(p, r, 64, true, &v, "i64.const");
            break;
        case 0x43: /* f32.const */
            e = rd_bytes(p, r, 4, &skip, "f32.const");
            break;
        case 0x44: /* f64.const */
            e = rd_bytes(p, r, 8, &skip, "f64.const");
            break;
        case 0x23: /* global.get */
            e = rd_u32(p, r, &u, "global index");
            break;
        case 0xd0: { /* ref.null */
            uint8_t rt;
            e = rd_reftype(p, r, &rt, "ref.null type");
            break;
        }
        case 0xd2: /* ref.func */
            e = rd_u32(p, r, &u, "function index");
            break;
        case 0xfd: /* v128.const */
            if ((e = rd_u32(p, r, &u, "SIMD opcode")) != NC_OK)
                return e;
            if (u != 12)
                return fail(p, at, "SIMD opcode %" PRIu32 " is not allowed in a constant expression",
                            u);
            e = rd_bytes(p, r, 16, &skip, "v128.const");
            break;
        default:
            return fail(p, at, "opcode 0x%02x is not allowed in a constant expression", op);
        }
        if (e != NC_OK)
            return e;
    }
}

/* ---- Sections ------------------------------------------------------------- */

NC_MUST_CHECK static nc_err parse_imports(parser *p, nc_reader *r)
{
    nc_analysis *a = p->a;
    uint32_t count;
    nc_err e = rd_count(p, r, NC_WASM_MAX_IMPORTS, 4, &count, "count");
    if (e != NC_OK)
        return e;
    if (count && !(a->imports = calloc(count, sizeof *a->imports)))
        return NC_ERR_NOMEM;
    for (uint32_t i = 0; i < count; i++) {
        const char *module, *name;
        size_t module_len, name_len;
        uint8_t kind;
        char *signature = NULL;
        if ((e = rd_name(p, r, &module, &module_len, "import module name")) != NC_OK ||
            (e = rd_name(p, r, &name, &name_len, "import name")) != NC_OK)
            return e;
        size_t at = offset_of(p, r);
        if ((e = rd_u8(p, r, &kind, "import kind")) != NC_OK)
            return e;
        switch (kind) {
        case NC_WASM_KIND_FUNC: {
            uint32_t idx;
            if ((e = rd_typeidx(p, r, &idx)) != NC_OK)
                return e;
            if (!(signature = signature_text(&p->types[idx])))
                return NC_ERR_NOMEM;
            a->nimported_functions++;
            break;
        }
        case NC_WASM_KIND_TABLE:
            e = parse_tabletype(p, r, true);
            break;
        case NC_WASM_KIND_MEMORY:
            e = parse_memtype(p, r, true);
            break;
        case NC_WASM_KIND_GLOBAL:
            e = parse_globaltype(p, r);
            p->nimported_globals++;
            break;
        case NC_WASM_KIND_TAG:
            e = parse_tagtype(p, r);
            p->nimported_tags++;
            break;
        default:
            return fail(p, at, "import %" PRIu32 ": unknown kind 0x%02x", i, kind);
        }
        if (e != NC_OK)
            return e;
        nc_wasm_import *im = &a->imports[a->nimports];
        im->signature = signature;
        im->kind = (nc_wasm_kind)kind;
        im->capability = nc_wasm_classify_import(module, module_len, name, name_len, im->kind,
                                                 &im->legacy_wasi);
        a->nimports++;   /* owns signature from here on, for nc_analysis_free */
        if (!(im->module = dup_bytes(module, module_len)) || !(im->name = dup_bytes(name, name_len)))
            return NC_ERR_NOMEM;
        a->capabilities |= NC_WASM_CAP_BIT(im->capability);
        if (im->legacy_wasi)
            a->wasi_unstable = true;
    }
    return NC_OK;
}

NC_MUST_CHECK static nc_err parse_functions(parser *p, nc_reader *r)
{
    uint32_t count, idx;
    nc_err e = rd_count(p, r, NC_WASM_MAX_FUNCTIONS, 1, &count, "count");
    for (uint32_t i = 0; e == NC_OK && i < count; i++)
        e = rd_typeidx(p, r, &idx);
    if (e == NC_OK)
        p->a->nfunctions = count;
    return e;
}

NC_MUST_CHECK static nc_err parse_tables(parser *p, nc_reader *r)
{
    uint32_t count;
    nc_err e = rd_count(p, r, NC_WASM_MAX_TABLES, 3, &count, "count");
    for (uint32_t i = 0; e == NC_OK && i < count; i++)
        e = parse_tabletype(p, r, false);
    return e;
}

NC_MUST_CHECK static nc_err parse_memories(parser *p, nc_reader *r)
{
    uint32_t count;
    nc_err e = rd_count(p, r, NC_WASM_MAX_MEMORIES, 2, &count, "count");
    for (uint32_t i = 0; e == NC_OK && i < count; i++)
        e = parse_memtype(p, r, false);
    return e;
}

NC_MUST_CHECK static nc_err parse_tags(parser *p, nc_reader *r)
{
    uint32_t count;
    nc_err e = rd_count(p, r, NC_WASM_MAX_TAGS, 2, &count, "count");
    for (uint32_t i = 0; e == NC_OK && i < count; i++)
        e = parse_tagtype(p, r);
    if (e == NC_OK)
        p->a->ntags = count;
    return e;
}

NC_MUST_CHECK static nc_err parse_globals(parser *p, nc_reader *r)
{
    uint32_t count;
    nc_err e = rd_count(p, r, NC_WASM_MAX_GLOBALS, 3, &count, "count");
    for (uint32_t i = 0; e == NC_OK && i < count; i++) {
        e = parse_globaltype(p, r);
        if (e == NC_OK)
            e = skip_const_expr(p, r);
    }
    if (e == NC_OK)
        p->a->nglobals = count;
    return e;
}

typedef struct {
    const char *name;
    size_t offset;   /* of the export's name in the module */
} export_name;

/* By name, then by position, so a duplicate is reported where it repeats. */
static int cmp_export_name(const void *x, const void *y)
{
    const export_name *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    return c ? c : (a->offset > b->offset) - (a->offset < b->offset);
}

NC_MUST_CHECK static nc_err parse_exports(parser *p, nc_reader *r)
{
    nc_analysis *a = p->a;
    uint32_t count;
    export_name *names = NULL;
    nc_err e = rd_count(p, r, NC_WASM_MAX_EXPORTS, 3, &count, "count");
    if (e != NC_OK || count == 0)
        goto done;
    if (!(a->exports = calloc(count, sizeof *a->exports)) || !(names = calloc(count, sizeof *names))) {
        e = NC_ERR_NOMEM;
        goto done;
    }
    for (uint32_t i = 0; i < count; i++) {
        const char *name;
        size_t name_len, name_at = offset_of(p, r);
        uint8_t kind;
        uint32_t idx, limit = 0;
        if ((e = rd_name(p, r, &name, &name_len, "export name")) != NC_OK)
            goto done;
        size_t at = offset_of(p, r);
        if ((e = rd_u8(p, r, &kind, "export kind")) != NC_OK)
            goto done;
        switch (kind) {
        case NC_WASM_KIND_FUNC: limit = a->nimported_functions + a->nfunctions; break;
        case NC_WASM_KIND_TABLE: limit = (uint32_t)a->ntables; break;
        case NC_WASM_KIND_MEMORY: limit = (uint32_t)a->nmemories; break;
        case NC_WASM_KIND_GLOBAL: limit = p->nimported_globals + a->nglobals; break;
        case NC_WASM_KIND_TAG: limit = p->nimported_tags + a->ntags; break;
        default:
            e = fail(p, at, "export %" PRIu32 ": unknown kind 0x%02x", i, kind);
            goto done;
        }
        at = offset_of(p, r);
        if ((e = rd_u32(p, r, &idx, "export index")) != NC_OK)
            goto done;
        if (idx >= limit) {
            e = fail(p, at, "export %" PRIu32 ": %s index %" PRIu32 " out of range (%" PRIu32 ")", i,
                     nc_wasm_kind_name(kind), idx, limit);
            goto done;
        }
        nc_wasm_export *ex = &a->exports[a->nexports];
        if (!(ex->name = dup_bytes(name, name_len))) {
            e = NC_ERR_NOMEM;
            goto done;
        }
        ex->kind = (nc_wasm_kind)kind;
        ex->index = idx;
        names[a->nexports] = (export_name){ex->name, name_at};
        a->nexports++;
    }
    /* Export names must be unique (the spec requires it). */
    qsort(names, count, sizeof *names, cmp_export_name);
    for (uint32_t i = 1; i < count; i++)
        if (strcmp(names[i - 1].name, names[i].name) == 0) {
            /* Messages stay printable ASCII: they reach terminals and JSON. */
            const char *n = names[i].name;
            bool plain = strlen(n) <= 64;
            for (const char *c = n; plain && *c; c++)
                plain = *c >= 0x20 && *c < 0x7f;
            e = plain ? fail(p, names[i].offset, "duplicate export name \"%s\"", n)
                      : fail(p, names[i].offset, "duplicate export name");
            goto done;
        }
done:
    free(names);
    return e;
}

NC_MUST_CHECK static nc_err parse_start(parser *p, nc_reader *r)
{
    size_t at = offset_of(p, r);
    uint32_t idx, total = p->a->nimported_functions + p->a->nfunctions;
    nc_err e = rd_u32(p, r, &idx, "start function index");
    if (e != NC_OK)
        return e;
    if (idx >= total)
        return fail(p, at, "start function %" PRIu32 " out of range (%" PRIu32 " functions)", idx,
                    total);
    p->a->has_start = true;
    return NC_OK;
}

NC_MUST_CHECK static nc_err parse_elements(parser *p, nc_reader *r)
{
    uint32_t count;
    nc_err e = rd_count(p, r, NC_WASM_MAX_ELEM_SEGMENTS, 3, &count, "count");
    for (uint32_t i = 0; e == NC_OK && i < count; i++) {
        size_t at = offset_of(p, r);
        uint32_t flags, u, n;
        if ((e = rd_u32(p, r, &flags, "element segment flags")) != NC_OK)
            return e;
        if (flags > 7)
            return fail(p, at, "element segment %" PRIu32 ": flags %" PRIu32 " not supported", i,
                        flags);
        /* bit 0: passive or declarative; bit 1: explicit table index (active)
         * or declarative; bit 2: items are expressions, not function indices */
        if (!(flags & 1)) {
            if ((flags & 2) && (e = rd_u32(p, r, &u, "table index")) != NC_OK)
                return e;
            if ((e = skip_const_expr(p, r)) != NC_OK)
                return e;
        }
        if (flags & 3) {
            uint8_t t;
            at = offset_of(p, r);
            if (flags & 4) {
                if ((e = rd_reftype(p, r, &t, "element type")) != NC_OK)
                    return e;
            } else {
                if ((e = rd_u8(p, r, &t, "element kind")) != NC_OK)
                    return e;
                if (t != 0)
                    return fail(p, at, "element kind 0x%02x is not funcref (0x00)", t);
            }
        }
        if ((e = rd_count(p, r, NC_WASM_MAX_ELEM_ITEMS, 1, &n, "element count")) != NC_OK)
            return e;
        for (uint32_t k = 0; e == NC_OK && k < n; k++)
            e = (flags & 4) ? skip_const_expr(p, r) : rd_u32(p, r, &u, "function index");
    }
    if (e == NC_OK)
        p->a->nelements = count;
    return e;
}

NC_MUST_CHECK static nc_err parse_datacount(parser *p, nc_reader *r)
{
    size_t at = offset_of(p, r);
    nc_err e = rd_u32(p, r, &p->datacount, "data count");
    if (e != NC_OK)
        return e;
    if (p->datacount > NC_WASM_MAX_DATA_SEGMENTS)
        return fail(p, at, "data count %" PRIu32 " exceeds the %u cap", p->datacount,
                    NC_WASM_MAX_DATA_SEGMENTS);
    p->have_datacount = true;
    return NC_OK;
}

NC_MUST_CHECK static nc_err parse_code(parser *p, nc_reader *r)
{
    size_t at = offset_of(p, r);
    uint32_t count;
    nc_err e = rd_count(p, r, NC_WASM_MAX_FUNCTIONS, 1, &count, "count");
    if (e != NC_OK)
        return e;
    if (count != p->a->nfunctions)
        return fail(p, at, "%" PRIu32 " function bodies for the %" PRIu32
                    " functions the function section declares", count, p->a->nfunctions);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t size;
        const uint8_t *body;
        if ((e = rd_u32(p, r, &size, "function body size")) != NC_OK ||
            (e = rd_bytes(p, r, size, &body, "function body")) != NC_OK)
            return e;
    }
    p->have_code = true;
    return NC_OK;
}

NC_MUST_CHECK static nc_err parse_data(parser *p, nc_reader *r)
{
    size_t at = offset_of(p, r);
    uint32_t count;
    nc_err e = rd_count(p, r, NC_WASM_MAX_DATA_SEGMENTS, 2, &count, "count");
    if (e != NC_OK)
        return e;
    if (p->have_datacount && count != p->datacount)
        return fail(p, at, "%" PRIu32 " data segments but the datacount section says %" PRIu32,
                    count, p->datacount);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t flags, u, n;
        const uint8_t *bytes;
        at = offset_of(p, r);
        if ((e = rd_u32(p, r, &flags, "data segment flags")) != NC_OK)
            return e;
        if (flags > 2)
            return fail(p, at, "data segment %" PRIu32 ": flags %" PRIu32 " not supported", i, flags);
        if (flags == 2 && (e = rd_u32(p, r, &u, "memory index")) != NC_OK)
            return e;
        if (flags != 1 && (e = skip_const_expr(p, r)) != NC_OK)
            return e;
        if ((e = rd_u32(p, r, &n, "data segment size")) != NC_OK ||
            (e = rd_bytes(p, r, n, &bytes, "data segment")) != NC_OK)
            return e;
    }
    p->a->ndata = count;
    p->have_data = true;
    return NC_OK;
}

NC_MUST_CHECK static nc_err parse_custom(parser *p, nc_reader *r)
{
    nc_analysis *a = p->a;
    size_t at = offset_of(p, r);
    const char *name;
    size_t name_len;
    const uint8_t *rest;
    nc_err e;
    if (a->ncustoms >= NC_WASM_MAX_CUSTOM_SECTIONS)
        return fail(p, at, "more than %u custom sections", NC_WASM_MAX_CUSTOM_SECTIONS);
    if ((e = rd_name(p, r, &name, &name_len, "custom section name")) != NC_OK)
        return e;
    size_t size = nc_reader_remaining(r);
    if ((e = rd_bytes(p, r, size, &rest, "custom section")) != NC_OK)
        return e;
    if ((e = grow((void **)&a->customs, &p->customs_cap, a->ncustoms + 1, sizeof *a->customs)) !=
        NC_OK)
        return e;
    nc_wasm_custom *c = &a->customs[a->ncustoms];
    if (!(c->name = dup_bytes(name, name_len)))
        return NC_ERR_NOMEM;
    c->size = (uint32_t)size;   /* within a section, whose size is a u32 */
    c->known = custom_known(name, name_len);
    a->ncustoms++;
    return NC_OK;
}

NC_MUST_CHECK static nc_err parse_section(parser *p, nc_reader *r)
{
    switch (p->section) {
    case SEC_CUSTOM: return parse_custom(p, r);
    case SEC_TYPE: return parse_types(p, r);
    case SEC_IMPORT: return parse_imports(p, r);
    case SEC_FUNCTION: return parse_functions(p, r);
    case SEC_TABLE: return parse_tables(p, r);
    case SEC_MEMORY: return parse_memories(p, r);
    case SEC_GLOBAL: return parse_globals(p, r);
    case SEC_EXPORT: return parse_exports(p, r);
    case SEC_START: return parse_start(p, r);
    case SEC_ELEMENT: return parse_elements(p, r);
    case SEC_CODE: return parse_code(p, r);
    case SEC_DATA: return parse_data(p, r);
    case SEC_DATACOUNT: return parse_datacount(p, r);
    case SEC_TAG: return parse_tags(p, r);
    default: return NC_ERR_INTERNAL;
    }
}

NC_MUST_CHECK static nc_err parse_module(parser *p, const uint8_t *bytes, size_t len)
{
    static const uint8_t magic[4] = {0x00, 0x61, 0x73, 0x6d};
    nc_reader r;
    const uint8_t *hdr;
    nc_err e;
    int last_rank = 0;
    nc_reader_init(&r, bytes, len);
    p->section = -1;
    if (len < 8) {
        if (len >= 4 && memcmp(bytes, magic, 4) != 0)
            return fail(p, 0, "bad magic: not a WebAssembly module");
        return fail(p, 0, "truncated: %zu bytes, shorter than the 8-byte module header", len);
    }
    if ((e = rd_bytes(p, &r, 8, &hdr, "module header")) != NC_OK)
        return e;
    if (memcmp(hdr, magic, 4) != 0)
        return fail(p, 0, "bad magic: not a WebAssembly module");
    uint32_t version = (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 | (uint32_t)hdr[6] << 16 |
                       (uint32_t)hdr[7] << 24;
    if (version == 0x1000d)
        return fail(p, 4, "unsupported version 0x1000d: a WebAssembly component, not a core module");
    if (version != 1)
        return fail(p, 4, "unsupported version %" PRIu32, version);

    while (nc_reader_remaining(&r) > 0) {
        size_t sec_off = r.pos;
        uint8_t id;
        uint32_t size;
        const uint8_t *payload;
        p->section = -1;
        p->in_payload = false;
        if ((e = rd_u8(p, &r, &id, "section id")) != NC_OK)
            return e;
        if (id >= SEC_COUNT)
            return fail(p, sec_off, "unknown section id %u", id);
        p->section = id;
        if ((e = rd_u32(p, &r, &size, "section size")) != NC_OK)
            return e;
        if (size > nc_reader_remaining(&r))
            return fail(p, sec_off, "truncated: section size %" PRIu32 " runs past the end of the "
                        "module (%zu bytes left)", size, nc_reader_remaining(&r));
        if ((e = rd_bytes(p, &r, size, &payload, "section")) != NC_OK)
            return e;
        if (id != SEC_CUSTOM) {
            int rank = section_rank[id];
            if (rank == last_rank)
                return fail(p, sec_off, "appears twice");
            if (rank < last_rank)
                return fail(p, sec_off, "out of order (it must come before the sections already seen)");
            last_rank = rank;
        }
        nc_reader sub;
        nc_reader_init(&sub, payload, size);
        p->in_payload = true;
        if ((e = parse_section(p, &sub)) != NC_OK)
            return e;
        if (nc_reader_remaining(&sub) != 0)
            return fail(p, offset_of(p, &sub), "%zu bytes left over after the section's contents",
                        nc_reader_remaining(&sub));
    }
    p->section = -1;
    p->in_payload = false;
    if (p->a->nfunctions > 0 && !p->have_code)
        return fail(p, len, "the function section declares %" PRIu32
                    " functions but there is no code section", p->a->nfunctions);
    if (p->have_datacount && !p->have_data && p->datacount != 0)
        return fail(p, len, "the datacount section says %" PRIu32
                    " data segments but there is no data section", p->datacount);
    return NC_OK;
}

nc_err nc_wasm_analyze(const uint8_t *bytes, size_t len, nc_analysis **out, char *msg,
                       size_t msg_len)
{
    nc_err e;
    parser p = {.base = bytes, .msg = msg, .msg_len = msg_len, .section = -1};
    *out = NULL;
    if (msg && msg_len)
        msg[0] = '\0';
    if (len > NC_MAX_MODULE_BYTES) {
        if (msg && msg_len)
            snprintf(msg, msg_len, "module is %zu bytes, over the %u-byte cap", len,
                     NC_MAX_MODULE_BYTES);
        e = NC_ERR_TOO_LARGE;
        goto done;
    }
    if (!bytes && len) {
        e = NC_ERR_USAGE;
        goto done;
    }
    if (!(p.a = calloc(1, sizeof *p.a))) {
        e = NC_ERR_NOMEM;
        goto done;
    }
    p.a->size = len;
    if ((e = parse_module(&p, bytes, len)) != NC_OK)
        goto done;
    *out = p.a;
    p.a = NULL;
done:
    if (e == NC_ERR_NOMEM && msg && msg_len)
        snprintf(msg, msg_len, "out of memory while analyzing the module");
    nc_analysis_free(p.a);
    free(p.types);
    return e;
}

void nc_analysis_free(nc_analysis *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nimports; i++) {
        free(a->imports[i].module);
        free(a->imports[i].name);
        free(a->imports[i].signature);
    }
    for (size_t i = 0; i < a->nexports; i++)
        free(a->exports[i].name);
    for (size_t i = 0; i < a->ncustoms; i++)
        free(a->customs[i].name);
    free(a->imports);
    free(a->exports);
    free(a->memories);
    free(a->tables);
    free(a->customs);
    free(a);
}

/* ---- JSON -------------------------------------------------------------------- */

/* Sets o[key] = v, taking v's reference either way; false on failure. */
static bool put(json_t *o, const char *key, json_t *v)
{
    return v && json_object_set_new(o, key, v) == 0;
}

static bool push(json_t *arr, json_t *v)
{
    return v && json_array_append_new(arr, v) == 0;
}

static json_t *import_json(const nc_wasm_import *im)
{
    json_t *o = json_object();
    if (!o || !put(o, "module", json_string(im->module)) || !put(o, "name", json_string(im->name)) ||
        !put(o, "kind", json_string(nc_wasm_kind_name(im->kind))) ||
        (im->signature && !put(o, "signature", json_string(im->signature))) ||
        !put(o, "capability", json_string(nc_wasm_cap_name(im->capability))) ||
        (im->legacy_wasi && !put(o, "legacy_wasi", json_true()))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *memory_json(const nc_wasm_memory *m)
{
    json_t *o = json_object();
    if (!o || !put(o, "min_pages", json_integer((json_int_t)m->min_pages)) ||
        !put(o, "max_pages", m->has_max ? json_integer((json_int_t)m->max_pages) : json_null()) ||
        !put(o, "memory64", json_boolean(m->memory64)) || !put(o, "shared", json_boolean(m->shared)) ||
        !put(o, "imported", json_boolean(m->imported))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *table_json(const nc_wasm_table *t)
{
    json_t *o = json_object();
    if (!o || !put(o, "type", json_string(t->elem_type)) || !put(o, "min", json_integer(t->min)) ||
        !put(o, "max", t->has_max ? json_integer(t->max) : json_null()) ||
        !put(o, "imported", json_boolean(t->imported))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *nc_analysis_to_json(const nc_analysis *a)
{
    json_t *o = json_object(), *imports = json_array(), *exports = json_array(),
           *memories = json_array(), *tables = json_array(), *customs = json_array(),
           *counts = json_object(), *caps = json_array();
    bool ok = o && imports && exports && memories && tables && customs && counts && caps;
    for (size_t i = 0; ok && i < a->nimports; i++)
        ok = push(imports, import_json(&a->imports[i]));
    for (size_t i = 0; ok && i < a->nexports; i++)
        ok = push(exports, json_pack("{s:s, s:s}", "name", a->exports[i].name, "kind",
                                     nc_wasm_kind_name(a->exports[i].kind)));
    for (size_t i = 0; ok && i < a->nmemories; i++)
        ok = push(memories, memory_json(&a->memories[i]));
    for (size_t i = 0; ok && i < a->ntables; i++)
        ok = push(tables, table_json(&a->tables[i]));
    for (size_t i = 0; ok && i < a->ncustoms; i++)
        ok = push(customs, json_pack("{s:s, s:I, s:b}", "name", a->customs[i].name, "size",
                                     (json_int_t)a->customs[i].size, "known", a->customs[i].known));
    for (unsigned c = 0; ok && c < NC_WASM_CAP_COUNT; c++)
        if (a->capabilities & NC_WASM_CAP_BIT(c))
            ok = push(caps, json_string(nc_wasm_cap_name(c)));
    ok = ok && put(counts, "types", json_integer(a->ntypes)) &&
         put(counts, "functions", json_integer(a->nfunctions)) &&
         put(counts, "imported_functions", json_integer(a->nimported_functions)) &&
         put(counts, "globals", json_integer(a->nglobals)) &&
         put(counts, "data", json_integer(a->ndata)) &&
         put(counts, "elements", json_integer(a->nelements)) &&
         put(counts, "tags", json_integer(a->ntags));
    /* From here each container is owned by o once put, whether or not put succeeds. */
    if (ok && put(o, "size", json_integer((json_int_t)a->size))) {
        ok = put(o, "imports", imports);
        ok = put(o, "exports", exports) && ok;
        ok = put(o, "memories", memories) && ok;
        ok = put(o, "tables", tables) && ok;
        ok = put(o, "custom_sections", customs) && ok;
        ok = put(o, "counts", counts) && ok;
        ok = put(o, "capabilities", caps) && ok;
        imports = exports = memories = tables = customs = counts = caps = NULL;
        ok = ok && put(o, "has_start", json_boolean(a->has_start)) &&
             put(o, "wasi_unstable", json_boolean(a->wasi_unstable)) &&
             put(o, "suspicious_names", json_integer(a->suspicious_names));
    } else {
        ok = false;
    }
    json_decref(imports);
    json_decref(exports);
    json_decref(memories);
    json_decref(tables);
    json_decref(customs);
    json_decref(counts);
    json_decref(caps);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- Drift ---------------------------------------------------------------- */

static int cmp_import_ptr(const void *x, const void *y)
{
    const nc_wasm_import *a = *(const nc_wasm_import *const *)x;
    const nc_wasm_import *b = *(const nc_wasm_import *const *)y;
    int c = strcmp(a->module, b->module);
    return c ? c : strcmp(a->name, b->name);
}

static int cmp_export_ptr(const void *x, const void *y)
{
    const nc_wasm_export *a = *(const nc_wasm_export *const *)x;
    const nc_wasm_export *b = *(const nc_wasm_export *const *)y;
    return strcmp(a->name, b->name);
}

/* Pointers to the n items of arr (each elem bytes), sorted. */
NC_MUST_CHECK static nc_err sorted_ptrs(const void *arr, size_t n, size_t elem,
                                        int (*cmp)(const void *, const void *), const void ***out)
{
    *out = NULL;
    if (n == 0)
        return NC_OK;
    const void **v = malloc(n * sizeof *v);
    if (!v)
        return NC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = (const char *)arr + i * elem;
    qsort(v, n, sizeof *v, cmp);
    *out = v;
    return NC_OK;
}

typedef struct {
    json_t *added, *removed;   /* NULL when only counting */
    size_t nadded, nremoved;
    bool imports;
} diff_sink;

NC_MUST_CHECK static nc_err emit(diff_sink *s, const void *item, bool added)
{
    *(added ? &s->nadded : &s->nremoved) += 1;
    if (!s->added)
        return NC_OK;
    json_t *v;
    if (s->imports) {
        const nc_wasm_import *im = item;
        size_t ml = strlen(im->module), nl = strlen(im->name);
        char *key = malloc(ml + nl + 2);
        if (!key)
            return NC_ERR_NOMEM;
        memcpy(key, im->module, ml);
        key[ml] = '.';
        memcpy(key + ml + 1, im->name, nl + 1);
        v = json_string(key);
        free(key);
    } else {
        v = json_string(((const nc_wasm_export *)item)->name);
    }
    return push(added ? s->added : s->removed, v) ? NC_OK : NC_ERR_NOMEM;
}

/* Set difference of two sorted lists (duplicates within a list count once). */
NC_MUST_CHECK static nc_err diff(const void **o, size_t no, const void **c, size_t nc,
                                 int (*cmp)(const void *, const void *), diff_sink *s)
{
    size_t i = 0, j = 0;
    nc_err e = NC_OK;
    while (e == NC_OK && (i < no || j < nc)) {
        int r = i == no ? 1 : j == nc ? -1 : cmp(&o[i], &c[j]);
        if (r < 0)
            e = emit(s, o[i], false);
        else if (r > 0)
            e = emit(s, c[j], true);
        if (r <= 0) {   /* skip o[i] and its duplicates */
            const void *x = o[i++];
            while (i < no && cmp(&o[i], &x) == 0)
                i++;
        }
        if (r >= 0) {
            const void *x = c[j++];
            while (j < nc && cmp(&c[j], &x) == 0)
                j++;
        }
    }
    return e;
}

NC_MUST_CHECK static nc_err drift(const nc_analysis *old, const nc_analysis *cur, diff_sink *imp,
                                  diff_sink *exp)
{
    const void **oi = NULL, **ci = NULL, **oe = NULL, **ce = NULL;
    nc_err e;
    if ((e = sorted_ptrs(old->imports, old->nimports, sizeof *old->imports, cmp_import_ptr, &oi)) ||
        (e = sorted_ptrs(cur->imports, cur->nimports, sizeof *cur->imports, cmp_import_ptr, &ci)) ||
        (e = sorted_ptrs(old->exports, old->nexports, sizeof *old->exports, cmp_export_ptr, &oe)) ||
        (e = sorted_ptrs(cur->exports, cur->nexports, sizeof *cur->exports, cmp_export_ptr, &ce)))
        goto done;
    imp->imports = true;
    exp->imports = false;
    if ((e = diff(oi, old->nimports, ci, cur->nimports, cmp_import_ptr, imp)) != NC_OK)
        goto done;
    e = diff(oe, old->nexports, ce, cur->nexports, cmp_export_ptr, exp);
done:
    free(oi);
    free(ci);
    free(oe);
    free(ce);
    return e;
}

nc_err nc_drift_count(const nc_analysis *old, const nc_analysis *cur, nc_drift_counts *out)
{
    diff_sink imp = {0}, exp = {0};
    memset(out, 0, sizeof *out);
    if (!old || !cur)
        return NC_ERR_USAGE;
    nc_err e = drift(old, cur, &imp, &exp);
    if (e != NC_OK)
        return e;
    out->imports_added = imp.nadded;
    out->imports_removed = imp.nremoved;
    out->exports_added = exp.nadded;
    out->exports_removed = exp.nremoved;
    return NC_OK;
}

json_t *nc_drift_changes_json(const nc_analysis *old, const nc_analysis *cur)
{
    if (!old || !cur)
        return NULL;
    json_t *o = json_object();
    diff_sink imp = {.added = json_array(), .removed = json_array()};
    diff_sink exp = {.added = json_array(), .removed = json_array()};
    bool ok = o && imp.added && imp.removed && exp.added && exp.removed &&
              drift(old, cur, &imp, &exp) == NC_OK;
    json_int_t delta = (json_int_t)cur->size - (json_int_t)old->size;
    if (ok && put(o, "size_delta", json_integer(delta))) {
        ok = put(o, "imports_added", imp.added);
        ok = put(o, "imports_removed", imp.removed) && ok;
        ok = put(o, "exports_added", exp.added) && ok;
        ok = put(o, "exports_removed", exp.removed) && ok;
        imp.added = imp.removed = exp.added = exp.removed = NULL;
    } else {
        ok = false;
    }
    json_decref(imp.added);
    json_decref(imp.removed);
    json_decref(exp.added);
    json_decref(exp.removed);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}
