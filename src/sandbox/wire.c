/* Supervisor <-> child messages. Both directions are parsed strictly with the
 * bounded reader; the result comes from a process that ran hostile code and is
 * treated as hostile: every count and length is checked against a cap before
 * anything is allocated or copied. */
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/uio.h>
#include <unistd.h>
#include "common/reader.h"
#include "sandbox/internal.h"

#define TRY(x)                       \
    do {                             \
        nc_err e_ = (x);             \
        if (e_ != NC_OK) {           \
            err = e_;                \
            goto done;               \
        }                            \
    } while (0)

static nc_err put_cstr(nc_buf *b, const char *s)
{
    return nc_buf_put_string(b, s, strlen(s));
}

nc_err nc_wire_encode_spec_parts(const nc_run_spec *spec, uint8_t flags,
                                 const uint8_t artifact_sha256[NC_SHA256_LEN], uint64_t sent_ns,
                                 nc_buf *head, nc_buf *tail)
{
    nc_err err = NC_OK;
    const nc_limits *l = &spec->limits;
    if (spec->stdin_len > UINT32_MAX)
        return NC_ERR_TOO_LARGE;
    if (flags & ~(NC_WIRE_SPEC_FUEL | NC_WIRE_SPEC_STREAM))
        return NC_ERR_USAGE;
    TRY(nc_buf_put_u32be(head, NC_WIRE_SPEC_MAGIC));
    TRY(nc_buf_put_u64be(head, sent_ns));
    TRY(nc_buf_put_u8(head, flags));
    TRY(nc_buf_append(head, artifact_sha256, NC_SHA256_LEN));
    TRY(nc_buf_put_u32be(head, l->timeout_ms));
    TRY(nc_buf_put_u64be(head, l->fuel));
    TRY(nc_buf_put_u64be(head, l->memory_bytes));
    TRY(nc_buf_put_u32be(head, l->table_elements));
    TRY(nc_buf_put_u32be(head, l->instances));
    TRY(nc_buf_put_u32be(head, l->tables));
    TRY(nc_buf_put_u32be(head, l->memories));
    TRY(nc_buf_put_u32be(head, l->stack_bytes));
    TRY(nc_buf_put_u32be(head, l->stdout_bytes));
    TRY(nc_buf_put_u32be(head, l->stderr_bytes));
    TRY(nc_buf_put_u32be(head, (uint32_t)spec->nargs));
    for (size_t i = 0; i < spec->nargs; i++)
        TRY(put_cstr(head, spec->args[i]));
    TRY(nc_buf_put_u32be(head, (uint32_t)spec->nenv));
    for (size_t i = 0; i < spec->nenv; i++)
        TRY(put_cstr(head, spec->env[i]));
    TRY(nc_buf_put_u32be(head, (uint32_t)spec->stdin_len));   /* the bytes go between head and tail */
    TRY(nc_buf_put_u32be(tail, (uint32_t)spec->ndirs));
    for (size_t i = 0; i < spec->ndirs; i++) {
        const nc_dir_grant *d = &spec->dirs[i];
        TRY(put_cstr(tail, d->guest));
        TRY(nc_buf_put_u8(tail, d->readonly ? 1 : 0));
        /* A quota means something only where the guest can write. */
        TRY(nc_buf_put_u64be(tail, d->readonly ? 0 : d->quota_bytes));
        TRY(nc_buf_put_u64be(tail, d->readonly ? 0 : d->quota_files));
    }
done:
    return err;
}

nc_err nc_wire_encode_spec(const nc_run_spec *spec, uint8_t flags,
                           const uint8_t artifact_sha256[NC_SHA256_LEN], uint64_t sent_ns,
                           nc_buf *out)
{
    nc_buf tail;
    nc_buf_init(&tail, NC_MAX_SPEC_BYTES);
    nc_err err = nc_wire_encode_spec_parts(spec, flags, artifact_sha256, sent_ns, out, &tail);
    if (err == NC_OK && spec->stdin_len)
        err = nc_buf_append(out, spec->stdin_data, spec->stdin_len);
    if (err == NC_OK)
        err = nc_buf_append(out, tail.data, tail.len);
    nc_buf_cleanup(&tail);
    return err;
}

/* A NUL-free string of at most max bytes, copied into a fresh C string. */
static nc_err read_cstr(nc_reader *r, size_t max, char **out)
{
    const uint8_t *p;
    size_t n;
    *out = NULL;
    nc_err err = nc_read_string(r, max, &p, &n);
    if (err != NC_OK)
        return err;
    if (memchr(p, 0, n))
        return NC_ERR_MALFORMED;
    char *s = malloc(n + 1);
    if (!s)
        return NC_ERR_NOMEM;
    memcpy(s, p, n);
    s[n] = '\0';
    *out = s;
    return NC_OK;
}

static void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void nc_wire_spec_cleanup(nc_wire_spec *s)
{
    free_strv(s->argv_store, s->spec.nargs);
    free_strv(s->env_store, s->spec.nenv);
    free_strv(s->guest_store, s->spec.ndirs);
    free(s->dirs_store);
    memset(s, 0, sizeof *s);
}

nc_err nc_wire_decode_spec(const uint8_t *data, size_t len, nc_wire_spec *out)
{
    nc_reader r;
    nc_err err = NC_OK;
    uint32_t magic, n;
    uint8_t u8;
    const uint8_t *p;
    size_t plen;
    nc_limits *l = &out->spec.limits;

    memset(out, 0, sizeof *out);
    nc_reader_init(&r, data, len);
    TRY(nc_read_u32be(&r, &magic));
    if (magic != NC_WIRE_SPEC_MAGIC) {
        err = NC_ERR_MALFORMED;
        goto done;
    }
    TRY(nc_read_u64be(&r, &out->sent_ns));
    TRY(nc_read_u8(&r, &u8));
    if (u8 & ~(NC_WIRE_SPEC_FUEL | NC_WIRE_SPEC_STREAM)) {
        err = NC_ERR_MALFORMED;
        goto done;
    }
    out->fuel = u8 & NC_WIRE_SPEC_FUEL;
    out->stream = (u8 & NC_WIRE_SPEC_STREAM) != 0;
    TRY(nc_read_bytes(&r, NC_SHA256_LEN, &p));
    memcpy(out->artifact_sha256, p, NC_SHA256_LEN);
    TRY(nc_read_u32be(&r, &l->timeout_ms));
    TRY(nc_read_u64be(&r, &l->fuel));
    TRY(nc_read_u64be(&r, &l->memory_bytes));
    TRY(nc_read_u32be(&r, &l->table_elements));
    TRY(nc_read_u32be(&r, &l->instances));
    TRY(nc_read_u32be(&r, &l->tables));
    TRY(nc_read_u32be(&r, &l->memories));
    TRY(nc_read_u32be(&r, &l->stack_bytes));
    TRY(nc_read_u32be(&r, &l->stdout_bytes));
    TRY(nc_read_u32be(&r, &l->stderr_bytes));
    TRY(nc_limits_check(l));

    TRY(nc_read_u32be(&r, &n));
    if (n > NC_MAX_ARGS) {
        err = NC_ERR_TOO_LARGE;
        goto done;
    }
    if (n) {
        out->argv_store = calloc(n, sizeof(char *));
        if (!out->argv_store) {
            err = NC_ERR_NOMEM;
            goto done;
        }
    }
    for (; out->spec.nargs < n; out->spec.nargs++)
        TRY(read_cstr(&r, NC_MAX_ARG_BYTES, &out->argv_store[out->spec.nargs]));

    TRY(nc_read_u32be(&r, &n));
    if (n > NC_MAX_ENV) {
        err = NC_ERR_TOO_LARGE;
        goto done;
    }
    if (n) {
        out->env_store = calloc(n, sizeof(char *));
        if (!out->env_store) {
            err = NC_ERR_NOMEM;
            goto done;
        }
    }
    while (out->spec.nenv < n) {
        TRY(read_cstr(&r, NC_MAX_ENV_BYTES, &out->env_store[out->spec.nenv]));
        const char *entry = out->env_store[out->spec.nenv++];
        const char *eq = strchr(entry, '=');
        if (!eq || eq == entry) {
            err = NC_ERR_MALFORMED;
            goto done;
        }
    }

    TRY(nc_read_string(&r, NC_MAX_STDIN_BYTES, &p, &plen));
    out->spec.stdin_data = plen ? p : NULL;   /* borrowed from data: up to 16 MiB, not copied */
    out->spec.stdin_len = plen;

    TRY(nc_read_u32be(&r, &n));
    if (n > NC_MAX_DIRS) {
        err = NC_ERR_TOO_LARGE;
        goto done;
    }
    if (n) {
        out->dirs_store = calloc(n, sizeof(nc_dir_grant));
        out->guest_store = calloc(n, sizeof(char *));
        if (!out->dirs_store || !out->guest_store) {
            err = NC_ERR_NOMEM;
            goto done;
        }
    }
    while (out->spec.ndirs < n) {
        size_t i = out->spec.ndirs;
        TRY(read_cstr(&r, NC_MAX_GUEST_PATH, &out->guest_store[i]));
        out->spec.ndirs++;   /* owned from here: cleanup frees it */
        if (out->guest_store[i][0] != '/') {
            err = NC_ERR_MALFORMED;
            goto done;
        }
        TRY(nc_read_u8(&r, &u8));
        if (u8 > 1) {
            err = NC_ERR_MALFORMED;
            goto done;
        }
        nc_dir_grant *d = &out->dirs_store[i];
        d->guest = out->guest_store[i];
        d->readonly = u8;
        d->host = NULL;   /* the child gets descriptors, never host paths */
        TRY(nc_read_u64be(&r, &d->quota_bytes));
        TRY(nc_read_u64be(&r, &d->quota_files));
        if (d->readonly && (d->quota_bytes || d->quota_files)) {
            err = NC_ERR_MALFORMED;
            goto done;
        }
    }
    TRY(nc_read_expect_end(&r));

    out->spec.args = (const char *const *)out->argv_store;
    out->spec.env = (const char *const *)out->env_store;
    out->spec.dirs = out->dirs_store;
done:
    if (err != NC_OK)
        nc_wire_spec_cleanup(out);
    return err;
}

/* A writer over a fixed buffer: no allocation (see nc_wire_result_frame). */
typedef struct {
    uint8_t *p;
    size_t cap, len;
    bool overflow;
} fixed_writer;

static void fw_bytes(fixed_writer *w, const void *d, size_t n)
{
    if (w->overflow || n > w->cap - w->len) {
        w->overflow = true;
        return;
    }
    memcpy(w->p + w->len, d, n);
    w->len += n;
}

static void fw_u8(fixed_writer *w, uint8_t v)
{
    fw_bytes(w, &v, 1);
}

static void fw_u32(fixed_writer *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    fw_bytes(w, b, sizeof b);
}

static void fw_u64(fixed_writer *w, uint64_t v)
{
    fw_u32(w, (uint32_t)(v >> 32));
    fw_u32(w, (uint32_t)v);
}

/* A NUL-terminated field of at most size - 1 bytes, length-prefixed. */
static void fw_text(fixed_writer *w, const char *s, size_t size)
{
    size_t n = strnlen(s, size - 1);
    fw_u32(w, (uint32_t)n);
    fw_bytes(w, s, n);
}

/* What the fixed parts can take at most (every text field full). */
#define RESULT_FIXED_BYTES                                                                       \
    (4 + 4 * 4 + 4 + sizeof(((nc_run_result *)0)->trap_kind) + 4 +                                \
     sizeof(((nc_run_result *)0)->message) + 4 + 1 + 4 + 1 + 4 + 8 + 8 + 4 +                     \
     4 * NC_WASI_FN_COUNT + 4 + 4 + NC_WASI_MAX_DENIED * (2 + 4 + sizeof(((nc_wasi_denied *)0)->detail)) + \
     1 + 4 + 5 * 8)
_Static_assert(RESULT_FIXED_BYTES <= NC_WIRE_RESULT_FIXED_MAX, "result scratch too small");

nc_err nc_wire_result_frame(nc_err status, const nc_run_result *r, uint8_t *scratch, size_t scratch_len,
                            struct iovec *iov)
{
    const nc_isolation_report *iso = &r->isolation;
    if (r->out_len > UINT32_MAX || r->err_len > UINT32_MAX)
        return NC_ERR_TOO_LARGE;
    fixed_writer w = {.p = scratch, .cap = scratch_len};
    fw_u32(&w, 0);   /* body length, filled in below */
    fw_u32(&w, NC_WIRE_RESULT_MAGIC);
    fw_u32(&w, (uint32_t)status);
    fw_u32(&w, (uint32_t)r->outcome);
    fw_u32(&w, (uint32_t)r->exit_code);
    fw_text(&w, r->trap_kind, sizeof r->trap_kind);
    fw_text(&w, r->message, sizeof r->message);
    fw_u32(&w, (uint32_t)r->out_len);
    size_t head = w.len;
    fw_u8(&w, r->out_truncated);
    fw_u32(&w, (uint32_t)r->err_len);
    size_t mid = w.len;
    fw_u8(&w, r->err_truncated);
    fw_u32(&w, r->limits_hit);
    fw_u64(&w, r->fuel_used);
    fw_u64(&w, r->peak_memory_bytes);
    fw_u32(&w, NC_WASI_FN_COUNT);
    for (unsigned i = 0; i < NC_WASI_FN_COUNT; i++)
        fw_u32(&w, r->calls[i]);
    fw_u32(&w, r->denied_total);
    fw_u32(&w, r->ndenied);
    for (uint32_t i = 0; i < r->ndenied && i < NC_WASI_MAX_DENIED; i++) {
        fw_u8(&w, r->denied[i].fn);
        fw_u8(&w, r->denied[i].reason);
        fw_text(&w, r->denied[i].detail, sizeof r->denied[i].detail);
    }
    uint8_t bits = (uint8_t)(iso->userns | iso->netns << 1 | iso->no_new_privs << 2 |
                             iso->caps_dropped << 3 | iso->rlimits << 4 | iso->seccomp << 5);
    fw_u8(&w, bits);
    fw_u32(&w, (uint32_t)iso->landlock_abi);
    fw_u64(&w, r->t_handoff_ns);
    fw_u64(&w, r->t_isolate_ns);
    fw_u64(&w, r->t_load_ns);
    fw_u64(&w, r->t_instantiate_ns);
    fw_u64(&w, r->t_execute_ns);
    if (w.overflow)
        return NC_ERR_TOO_LARGE;
    uint64_t body = (uint64_t)w.len - 4 + r->out_len + r->err_len;
    if (body > NC_MAX_RESULT_BYTES)
        return NC_ERR_TOO_LARGE;
    scratch[0] = (uint8_t)(body >> 24);
    scratch[1] = (uint8_t)(body >> 16);
    scratch[2] = (uint8_t)(body >> 8);
    scratch[3] = (uint8_t)body;
    iov[0] = (struct iovec){scratch, head};
    iov[1] = (struct iovec){r->out_len ? r->out : NULL, r->out_len};
    iov[2] = (struct iovec){scratch + head, mid - head};
    iov[3] = (struct iovec){r->err_len ? r->err : NULL, r->err_len};
    iov[4] = (struct iovec){scratch + mid, w.len - mid};
    return NC_OK;
}

nc_err nc_wire_encode_result(nc_err status, const nc_run_result *r, nc_buf *out)
{
    uint8_t scratch[NC_WIRE_RESULT_FIXED_MAX];
    struct iovec iov[NC_WIRE_RESULT_IOVS];
    nc_err err = nc_wire_result_frame(status, r, scratch, sizeof scratch, iov);
    if (err != NC_OK)
        return err;
    iov[0].iov_base = scratch + 4;   /* the body only: no length prefix */
    iov[0].iov_len -= 4;
    for (int i = 0; i < NC_WIRE_RESULT_IOVS && err == NC_OK; i++)
        if (iov[i].iov_len)
            err = nc_buf_append(out, iov[i].iov_base, iov[i].iov_len);
    return err;
}

static nc_err read_into(nc_reader *r, size_t max, char *dst, size_t dst_size)
{
    const uint8_t *p;
    size_t n;
    nc_err err = nc_read_string(r, max < dst_size - 1 ? max : dst_size - 1, &p, &n);
    if (err != NC_OK)
        return err;
    if (memchr(p, 0, n))
        return NC_ERR_MALFORMED;
    memcpy(dst, p, n);
    dst[n] = '\0';
    return NC_OK;
}

static nc_err read_output(nc_reader *r, size_t cap, uint8_t **out, size_t *out_len, bool *trunc)
{
    const uint8_t *p;
    size_t n;
    uint8_t t;
    nc_err err = nc_read_string(r, cap, &p, &n);
    if (err != NC_OK)
        return err;
    err = nc_read_u8(r, &t);
    if (err != NC_OK)
        return err;
    if (t > 1)
        return NC_ERR_MALFORMED;
    if (n) {
        *out = malloc(n);
        if (!*out)
            return NC_ERR_NOMEM;
        memcpy(*out, p, n);
    }
    *out_len = n;
    *trunc = t;
    return NC_OK;
}

nc_err nc_wire_decode_result(const uint8_t *data, size_t len, size_t stdout_cap, size_t stderr_cap,
                             nc_err *status, nc_run_result *out)
{
    nc_reader r;
    nc_err err = NC_OK;
    uint32_t magic, v, n;
    uint8_t u8;

    *status = NC_ERR_CHILD;
    nc_reader_init(&r, data, len);
    TRY(nc_read_u32be(&r, &magic));
    if (magic != NC_WIRE_RESULT_MAGIC) {
        err = NC_ERR_MALFORMED;
        goto done;
    }
    TRY(nc_read_u32be(&r, &v));
    if (v >= NC_ERR_COUNT) {
        err = NC_ERR_MALFORMED;
        goto done;
    }
    nc_err st = (nc_err)v;
    TRY(nc_read_u32be(&r, &v));
    if (v >= NC_OUTCOME_COUNT) {
        err = NC_ERR_MALFORMED;
        goto done;
    }
    out->outcome = (nc_outcome)v;
    /* Only the supervisor cancels a run, and only the worker says a run
     * was interrupted: a child claiming either is lying. */
    if (v == NC_OUTCOME_CANCELLED || v == NC_OUTCOME_INTERRUPTED) {
        err = NC_ERR_MALFORMED;
        goto done;
    }
    TRY(nc_read_u32be(&r, &v));
    out->exit_code = (int)v;
    TRY(read_into(&r, sizeof out->trap_kind - 1, out->trap_kind, sizeof out->trap_kind));
    TRY(read_into(&r, sizeof out->message - 1, out->message, sizeof out->message));
    TRY(read_output(&r, stdout_cap, &out->out, &out->out_len, &out->out_truncated));
    TRY(read_output(&r, stderr_cap, &out->err, &out->err_len, &out->err_truncated));
    TRY(nc_read_u32be(&r, &out->limits_hit));
    if (out->limits_hit >> NC_LIMIT_COUNT) {
        err = NC_ERR_MALFORMED;
        goto done;
    }
    TRY(nc_read_u64be(&r, &out->fuel_used));
    TRY(nc_read_u64be(&r, &out->peak_memory_bytes));
    TRY(nc_read_u32be(&r, &n));
    if (n != NC_WASI_FN_COUNT) {
        err = NC_ERR_MALFORMED;
        goto done;
    }
    for (unsigned i = 0; i < NC_WASI_FN_COUNT; i++)
        TRY(nc_read_u32be(&r, &out->calls[i]));
    TRY(nc_read_u32be(&r, &out->denied_total));
    TRY(nc_read_u32be(&r, &n));
    if (n > NC_WASI_MAX_DENIED || n > out->denied_total) {
        err = NC_ERR_MALFORMED;
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        nc_wasi_denied *d = &out->denied[i];
        TRY(nc_read_u8(&r, &d->fn));
        TRY(nc_read_u8(&r, &d->reason));
        if (d->fn >= NC_WASI_FN_COUNT || d->reason >= NC_DENY_COUNT) {
            err = NC_ERR_MALFORMED;
            goto done;
        }
        TRY(read_into(&r, sizeof d->detail - 1, d->detail, sizeof d->detail));
        out->ndenied = i + 1;
    }
    TRY(nc_read_u8(&r, &u8));
    if (u8 >> 6) {
        err = NC_ERR_MALFORMED;
        goto done;
    }
    out->isolation.userns = u8 & 1;
    out->isolation.netns = u8 >> 1 & 1;
    out->isolation.no_new_privs = u8 >> 2 & 1;
    out->isolation.caps_dropped = u8 >> 3 & 1;
    out->isolation.rlimits = u8 >> 4 & 1;
    out->isolation.seccomp = u8 >> 5 & 1;
    TRY(nc_read_u32be(&r, &v));
    if (v > 1000) {
        err = NC_ERR_MALFORMED;
        goto done;
    }
    out->isolation.landlock_abi = (int)v;
    TRY(nc_read_u64be(&r, &out->t_handoff_ns));
    TRY(nc_read_u64be(&r, &out->t_isolate_ns));
    TRY(nc_read_u64be(&r, &out->t_load_ns));
    TRY(nc_read_u64be(&r, &out->t_instantiate_ns));
    TRY(nc_read_u64be(&r, &out->t_execute_ns));
    TRY(nc_read_expect_end(&r));
    *status = st;
done:
    if (err != NC_OK)
        nc_run_result_cleanup(out);
    return err;
}

/* ---- output chunks ---- */

nc_err nc_wire_chunk_header(unsigned stream, size_t len, uint8_t hdr[NC_WIRE_CHUNK_HEADER])
{
    if ((stream != 1 && stream != 2) || len == 0 || len > NC_WIRE_CHUNK_MAX)
        return NC_ERR_USAGE;
    uint32_t body = (uint32_t)(NC_WIRE_CHUNK_HEADER - 4 + len);
    uint32_t v[2] = {body, NC_WIRE_CHUNK_MAGIC};
    for (int i = 0; i < 2; i++) {
        hdr[4 * i] = (uint8_t)(v[i] >> 24);
        hdr[4 * i + 1] = (uint8_t)(v[i] >> 16);
        hdr[4 * i + 2] = (uint8_t)(v[i] >> 8);
        hdr[4 * i + 3] = (uint8_t)v[i];
    }
    hdr[8] = (uint8_t)stream;
    hdr[9] = (uint8_t)(len >> 24);
    hdr[10] = (uint8_t)(len >> 16);
    hdr[11] = (uint8_t)(len >> 8);
    hdr[12] = (uint8_t)len;
    return NC_OK;
}

void nc_wire_stream_init(nc_wire_stream *s, size_t stdout_cap, size_t stderr_cap)
{
    nc_buf_init(&s->out, stdout_cap);
    nc_buf_init(&s->err, stderr_cap);
}

void nc_wire_stream_cleanup(nc_wire_stream *s)
{
    nc_buf_cleanup(&s->out);
    nc_buf_cleanup(&s->err);
}

bool nc_wire_is_chunk(const uint8_t *body, size_t len)
{
    nc_reader r;
    uint32_t magic;
    nc_reader_init(&r, body, len);
    return nc_read_u32be(&r, &magic) == NC_OK && magic == NC_WIRE_CHUNK_MAGIC;
}

nc_err nc_wire_stream_chunk(nc_wire_stream *s, const uint8_t *body, size_t len, unsigned *stream,
                            const uint8_t **data, size_t *data_len)
{
    nc_reader r;
    uint32_t magic;
    uint8_t which;
    const uint8_t *p;
    size_t n;
    nc_err err = NC_OK;
    *stream = 0;
    *data = NULL;
    *data_len = 0;
    nc_reader_init(&r, body, len);
    TRY(nc_read_u32be(&r, &magic));
    TRY(nc_read_u8(&r, &which));
    TRY(nc_read_string(&r, NC_WIRE_CHUNK_MAX, &p, &n));
    TRY(nc_read_expect_end(&r));
    if (magic != NC_WIRE_CHUNK_MAGIC || (which != 1 && which != 2) || n == 0)
        return NC_ERR_MALFORMED;
    nc_buf *b = which == 1 ? &s->out : &s->err;
    if (n > b->max - b->len)
        return NC_ERR_MALFORMED;   /* past the cap: the child's host never writes there */
    TRY(nc_buf_append(b, p, n));
    *stream = which;
    *data = p;
    *data_len = n;
done:
    return err == NC_ERR_TOO_LARGE ? NC_ERR_MALFORMED : err;
}

nc_err nc_wire_stream_check(const nc_wire_stream *s, const nc_run_result *r, size_t *out_from, size_t *err_from)
{
    *out_from = *err_from = 0;
    if (r->out_len < s->out.len || r->err_len < s->err.len ||
        (s->out.len && memcmp(r->out, s->out.data, s->out.len) != 0) ||
        (s->err.len && memcmp(r->err, s->err.data, s->err.len) != 0))
        return NC_ERR_MALFORMED;
    *out_from = s->out.len;
    *err_from = s->err.len;
    return NC_OK;
}

nc_err nc_wire_stream_forward(nc_wire_stream *s, const uint8_t *body, size_t len, const nc_run_hooks *hooks)
{
    unsigned which;
    const uint8_t *data;
    size_t dlen;
    nc_err err = nc_wire_stream_chunk(s, body, len, &which, &data, &dlen);
    if (err == NC_OK && hooks && hooks->on_output)
        hooks->on_output(hooks->ctx, (int)which, data, dlen);
    return err;
}

void nc_wire_stream_keep(nc_wire_stream *s, nc_run_result *res)
{
    res->out = nc_buf_steal(&s->out, &res->out_len);
    res->err = nc_buf_steal(&s->err, &res->err_len);
}

nc_err nc_wire_stream_result(const nc_wire_stream *s, bool streaming, const uint8_t *body, size_t len,
                             size_t stdout_cap, size_t stderr_cap, nc_err *status, nc_run_result *res,
                             size_t *out_from, size_t *err_from)
{
    *out_from = *err_from = 0;
    nc_err err = nc_wire_decode_result(body, len, stdout_cap, stderr_cap, status, res);
    if (err == NC_OK && streaming) {
        err = nc_wire_stream_check(s, res, out_from, err_from);
        if (err != NC_OK)
            nc_run_result_cleanup(res);
    }
    return err;
}

void nc_wire_stream_rest(const nc_run_hooks *hooks, const nc_run_result *res, size_t out_from, size_t err_from)
{
    if (!hooks || !hooks->on_output)
        return;
    if (res->out_len > out_from)
        hooks->on_output(hooks->ctx, 1, res->out + out_from, res->out_len - out_from);
    if (res->err_len > err_from)
        hooks->on_output(hooks->ctx, 2, res->err + err_from, res->err_len - err_from);
}

/* ---- the child's sending side ---- */

void nc_wire_send_iov(int fd, struct iovec *v, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, v, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(3);   /* the supervisor is gone, or reports the run as a crash */
        nc_iov_consume(&v, &n, (size_t)w);
    }
}

void nc_wire_send_result(int fd, nc_err status, const nc_run_result *res)
{
    static uint8_t scratch[NC_WIRE_RESULT_FIXED_MAX];
    struct iovec iov[NC_WIRE_RESULT_IOVS];
    if (nc_wire_result_frame(status, res, scratch, sizeof scratch, iov) != NC_OK)
        _exit(3);
    nc_wire_send_iov(fd, iov, NC_WIRE_RESULT_IOVS);
}

void nc_wire_send_output(int fd, unsigned stream, const uint8_t *data, size_t len)
{
    while (len > 0) {
        size_t n = len > NC_WIRE_CHUNK_MAX ? NC_WIRE_CHUNK_MAX : len;
        uint8_t hdr[NC_WIRE_CHUNK_HEADER];
        if (nc_wire_chunk_header(stream, n, hdr) != NC_OK)
            _exit(3);
        struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)data, n}};
        nc_wire_send_iov(fd, iov, 2);
        data += n;
        len -= n;
    }
}
