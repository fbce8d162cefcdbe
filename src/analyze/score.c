/* Threat score (docs/threat-score.md): points = min(cap, weight * n) per
 * factor, summed and clamped to 100. The weights live only in
 * NC_SCORE_FACTORS (score.h). */
#include "analyze/score.h"
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/limits.h"

static const nc_score_weight weights[NC_SF_COUNT] = {
#define NC_SF_ROW(sym, id, weight, cap, n) [sym] = {id, weight, cap, n},
    NC_SCORE_FACTORS(NC_SF_ROW)
#undef NC_SF_ROW
};

const nc_score_weight *nc_score_weights(size_t *count)
{
    *count = NC_SF_COUNT;
    return weights;
}

static const char *const outcomes[] = {"ok",     "exit",         "trap",  "timeout",     "fuel",
                                       "memory", "output_limit", "crash", "interrupted", "cancelled"};

#define PAGE_BYTES UINT64_C(65536)
#define MIB (UINT64_C(1024) * 1024)

/* min(cap, weight * n) without overflow. */
static int points_for(nc_score_factor_id id, uint64_t n)
{
    const nc_score_weight *w = &weights[id];
    if (n == 0)
        return 0;
    if (n >= (uint64_t)w->cap)
        return w->cap;
    uint64_t p = (uint64_t)w->weight * n;
    return p > (uint64_t)w->cap ? w->cap : (int)p;
}

/* After a cut, drops a UTF-8 sequence left incomplete at the end (names in
 * details are UTF-8; JSON needs whole characters). */
static void trim_utf8(char *text)
{
    size_t len = strlen(text), i = len;
    while (i > 0 && ((unsigned char)text[i - 1] & 0xc0) == 0x80)
        i--;
    if (i == 0 || (unsigned char)text[i - 1] < 0x80)
        return;
    unsigned char lead = (unsigned char)text[i - 1];
    size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (len - (i - 1) < want)
        text[i - 1] = '\0';
}

__attribute__((format(printf, 4, 5))) static void add(nc_score *s, nc_score_factor_id id,
                                                       uint64_t count, const char *fmt, ...)
{
    int pts = points_for(id, count);
    if (pts <= 0)
        return;
    nc_score_factor *f = &s->factors[s->nfactors++];
    f->factor = weights[id].factor;
    f->points = pts;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(f->detail, sizeof f->detail, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof f->detail)
        trim_utf8(f->detail);
    s->total += pts;
}

/* Appends text to a detail buffer; once something did not fit, says so. */
typedef struct {
    char text[160];
    size_t len;
    size_t left_out;
} listbuf;

static void list_add(listbuf *b, const char *a, const char *sep_b, const char *bname)
{
    size_t need = (b->len ? 2 : 0) + strlen(a) + (bname ? strlen(sep_b) + strlen(bname) : 0);
    if (b->left_out || need >= sizeof b->text - 16 - b->len) {
        b->left_out++;
        return;
    }
    int n = snprintf(b->text + b->len, sizeof b->text - b->len, "%s%s%s%s", b->len ? ", " : "", a,
                     bname ? sep_b : "", bname ? bname : "");
    if (n > 0)
        b->len += (size_t)n;
}

static const char *list_end(listbuf *b)
{
    if (b->left_out)
        snprintf(b->text + b->len, sizeof b->text - b->len, " and %zu more", b->left_out);
    return b->text;
}

static bool same_import(const nc_wasm_import *x, const nc_wasm_import *y)
{
    return strcmp(x->module, y->module) == 0 && strcmp(x->name, y->name) == 0;
}

static int import_cmp(const void *a, const void *b)
{
    const nc_wasm_import *x = *(const nc_wasm_import *const *)a, *y = *(const nc_wasm_import *const *)b;
    int c = strcmp(x->module, y->module);
    return c ? c : strcmp(x->name, y->name);
}

/* Imports counted once per (module, name): a module may import the same
 * function twice (Go's runtime imports fd_write twice). */
static size_t distinct_imports(const nc_analysis *a)
{
    if (a->nimports < 2)
        return a->nimports;
    const nc_wasm_import **v = malloc(a->nimports * sizeof *v);
    if (!v)
        return a->nimports;
    for (size_t i = 0; i < a->nimports; i++)
        v[i] = &a->imports[i];
    qsort(v, a->nimports, sizeof *v, import_cmp);
    size_t n = 1;
    for (size_t i = 1; i < a->nimports; i++)
        n += !same_import(v[i - 1], v[i]);
    free(v);
    return n;
}

static void imports_with(const nc_analysis *a, nc_wasm_cap cap, listbuf *b)
{
    for (size_t i = 0; i < a->nimports; i++) {
        const nc_wasm_import *im = &a->imports[i];
        if (im->capability != cap)
            continue;
        bool seen = false;   /* listed once (a short scan: details stop at 160 bytes) */
        for (size_t j = 0; j < i && !seen && !b->left_out; j++)
            seen = a->imports[j].capability == cap && same_import(&a->imports[j], im);
        if (seen)
            continue;
        if (cap == NC_WASM_CAP_OUTSIDE_WASI)
            list_add(b, im->module, ".", im->name);
        else
            list_add(b, im->name, "", NULL);
    }
}

bool nc_score_sensitive_dir(const char *host)
{
    static const char *const system[] = {"/", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/boot", "/dev",
                                         "/proc", "/sys", "/var", "/root", "/home", "/run", NULL};
    for (const char *const *d = system; *d; d++)
        if (strcmp(host, *d) == 0)
            return true;
    /* a home directory itself (/home/NAME, /root) or a dot-directory in one (keys, shells, tokens) */
    if (strncmp(host, "/home/", 6) == 0) {
        const char *rest = strchr(host + 6, '/');
        if (!rest || rest[1] == '.')
            return true;
    }
    if (strncmp(host, "/root/", 6) == 0)
        return true;
    return false;
}

static void static_factors(const nc_score_input *in, nc_score *s, uint64_t imports_added)
{
    const nc_analysis *a = in->analysis;

    /* Imports are what the toolchain links in, not requests (a Go program
     * imports the filesystem and environment functions whatever it does):
     * only an import that cannot run here scores. */
    if (a->capabilities & NC_WASM_CAP_BIT(NC_WASM_CAP_OUTSIDE_WASI)) {
        listbuf b = {.len = 0};
        imports_with(a, NC_WASM_CAP_OUTSIDE_WASI, &b);
        add(s, NC_SF_CAP_OUTSIDE_WASI, 1, "imports outside_wasi: %s", list_end(&b));
    }

    if (in->requested && in->requested->ndirs) {
        uint64_t rw = 0;
        for (size_t i = 0; i < in->requested->ndirs; i++)
            rw += !in->requested->dirs[i].readonly;
        add(s, NC_SF_REQUESTED_DIRS, in->requested->ndirs, "asks for %zu director%s", in->requested->ndirs,
            in->requested->ndirs == 1 ? "y" : "ies");
        add(s, NC_SF_REQUESTED_RW, rw, "%llu of them read-write", (unsigned long long)rw);
    }
    if (in->requested && in->requested->nenv)
        add(s, NC_SF_REQUESTED_ENV, in->requested->nenv, "asks for %zu environment variable%s", in->requested->nenv,
            in->requested->nenv == 1 ? "" : "s");
    if (in->granted) {
        uint64_t rw = 0, sensitive = 0;
        const char *which = NULL;
        for (size_t i = 0; i < in->granted->ndirs; i++) {
            rw += !in->granted->dirs[i].readonly;
            if (nc_score_sensitive_dir(in->granted->dirs[i].host)) {
                sensitive++;
                which = in->granted->dirs[i].host;
            }
        }
        add(s, NC_SF_GRANTED_RW, rw, "%llu read-write director%s granted", (unsigned long long)rw, rw == 1 ? "y" : "ies");
        add(s, NC_SF_GRANTED_SENSITIVE, sensitive, "granted %.120s%s", which ? which : "",
            sensitive > 1 ? " and more" : "");
        add(s, NC_SF_GRANTED_ENV, in->granted->nenv, "%zu environment variable%s granted", in->granted->nenv,
            in->granted->nenv == 1 ? "" : "s");
    }
    uint64_t pages = 0, max_over = 0;
    bool mem64 = false, shared = false;
    for (size_t i = 0; i < a->nmemories; i++) {
        const nc_wasm_memory *m = &a->memories[i];
        pages += m->min_pages;   /* <= 100 memories of <= 2^48 pages: no overflow */
        mem64 |= m->memory64;
        shared |= m->shared;
        if (m->has_max && m->max_pages > NC_DEFAULT_MEMORY_BYTES / PAGE_BYTES && m->max_pages > max_over)
            max_over = m->max_pages;
    }
    add(s, NC_SF_INITIAL_MEMORY, pages / (16 * MIB / PAGE_BYTES),
        "initial linear memory %" PRIu64 " MiB", pages * PAGE_BYTES / MIB);
    add(s, NC_SF_MAXIMUM_MEMORY, max_over ? 1 : 0, "declares a maximum of %" PRIu64 " MiB",
        max_over / (MIB / PAGE_BYTES));
    add(s, NC_SF_UNUSUAL_MEMORY, (uint64_t)(a->nmemories > 1) + mem64 + shared,
        "%zu memor%s%s%s", a->nmemories, a->nmemories == 1 ? "y" : "ies",
        mem64 ? ", 64-bit" : "", shared ? ", shared" : "");

    uint32_t big_table = 0;
    for (size_t i = 0; i < a->ntables; i++)
        if (a->tables[i].min > NC_DEFAULT_TABLE_ELEMENTS && a->tables[i].min > big_table)
            big_table = a->tables[i].min;
    add(s, NC_SF_LARGE_TABLE, big_table ? 1 : 0, "a table starts with %" PRIu32 " elements",
        big_table);

    add(s, NC_SF_MODULE_SIZE, a->size / MIB, "module size: %zu bytes", a->size);
    size_t distinct = distinct_imports(a);
    add(s, NC_SF_MANY_IMPORTS, distinct > 32 ? distinct - 32 : 0, "distinct imports: %zu", distinct);
    add(s, NC_SF_START_FUNCTION, a->has_start, "runs a start function while being instantiated");

    listbuf cb = {.len = 0};
    uint64_t unusual = 0, unusual_bytes = 0;
    for (size_t i = 0; i < a->ncustoms; i++)
        if (!a->customs[i].known) {
            list_add(&cb, a->customs[i].name, "", NULL);
            unusual++;
            unusual_bytes += a->customs[i].size;
        }
    add(s, NC_SF_UNUSUAL_CUSTOM, unusual, "custom sections: %s", list_end(&cb));
    add(s, NC_SF_CUSTOM_BYTES, unusual_bytes / (64 * 1024),
        "bytes in unusual custom sections: %" PRIu64, unusual_bytes);
    add(s, NC_SF_SUSPICIOUS_NAMES, a->suspicious_names,
        "names with control or bidirectional-override characters: %" PRIu32,
        a->suspicious_names);

    add(s, NC_SF_DRIFT, in->drift == NC_DRIFT_DRIFT,
        "this name was submitted before with a different hash");
    add(s, NC_SF_DRIFT_IMPORTS, imports_added, "imports added since the last version: %" PRIu64,
        imports_added);
    add(s, NC_SF_NEW_SUBMITTER, in->new_submitter, "first submission from this source");
}

static void dynamic_factors(const nc_score_run *run, nc_score *s)
{
    const char *outcome = run->outcome;
    add(s, NC_SF_DENIED, run->denied_total, "calls refused for lack of a capability: %" PRIu32,
        run->denied_total);
    add(s, NC_SF_TRIED_NETWORK, run->denied_network > 0,
        "tried the network %" PRIu32 " time%s (never granted)", run->denied_network,
        run->denied_network == 1 ? "" : "s");
    add(s, NC_SF_TRIED_ESCAPE, run->denied_escape > 0,
        "tried %" PRIu32 " path%s outside its granted directories", run->denied_escape,
        run->denied_escape == 1 ? "" : "s");
    add(s, NC_SF_TRIED_SIGNAL, run->denied_signal > 0, "tried to raise a signal");
    if (strcmp(outcome, "trap") == 0)
        add(s, NC_SF_TRAP, 1, "trapped: %s",
            run->trap_kind && run->trap_kind[0] ? run->trap_kind : "unknown");
    add(s, NC_SF_TIMEOUT, strcmp(outcome, "timeout") == 0, "ran past its time limit");
    add(s, NC_SF_CRASH, strcmp(outcome, "crash") == 0, "the sandbox child died without a result");
    add(s, NC_SF_LIMITS_HIT, run->limits_hit, "resource limits hit: %" PRIu32, run->limits_hit);
    add(s, NC_SF_OUTPUT_TRUNCATED, (uint64_t)run->stdout_truncated + run->stderr_truncated,
        "%s%s%s truncated", run->stdout_truncated ? "stdout" : "",
        run->stdout_truncated && run->stderr_truncated ? " and " : "",
        run->stderr_truncated ? "stderr" : "");
}

nc_err nc_score_compute(const nc_score_input *in, nc_score *out)
{
    nc_err e = NC_OK;
    nc_drift_counts dc = {0};
    memset(out, 0, sizeof *out);
    if (!in || !in->analysis) {
        e = NC_ERR_USAGE;
        goto done;
    }
    if (in->run) {
        bool known = false;
        for (size_t i = 0; in->run->outcome && i < sizeof outcomes / sizeof outcomes[0]; i++)
            known |= strcmp(in->run->outcome, outcomes[i]) == 0;
        if (!known) {
            e = NC_ERR_USAGE;
            goto done;
        }
    }
    if (in->drift == NC_DRIFT_DRIFT && in->previous &&
        (e = nc_drift_count(in->previous, in->analysis, &dc)) != NC_OK)
        goto done;
    static_factors(in, out, dc.imports_added);
    if (in->run)
        dynamic_factors(in->run, out);
    out->score = out->total > NC_SCORE_MAX ? NC_SCORE_MAX : out->total;
done:
    if (e != NC_OK)
        memset(out, 0, sizeof *out);
    return e;
}

json_t *nc_score_to_json(const nc_score *s)
{
    json_t *o = json_object(), *factors = json_array();
    if (!o || !factors)
        goto fail;
    for (size_t i = 0; i < s->nfactors; i++) {
        json_t *f = json_pack("{s:s, s:i, s:s}", "factor", s->factors[i].factor, "points",
                              s->factors[i].points, "detail", s->factors[i].detail);
        if (!f || json_array_append_new(factors, f) != 0)
            goto fail;
    }
    if (json_object_set_new(o, "score", json_integer(s->score)) != 0)
        goto fail;
    if (json_object_set_new(o, "factors", factors) != 0) {
        factors = NULL;   /* taken (and released) by jansson */
        goto fail;
    }
    return o;
fail:
    json_decref(o);
    json_decref(factors);
    return NULL;
}
