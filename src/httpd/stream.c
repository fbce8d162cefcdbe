/* Server-Sent Events streams. Texts pushed from any thread wait in a
 * bounded queue per stream; a stream that falls its queue's length behind is
 * ended, so a slow reader never holds up the others or grows memory.
 *
 * A stream with nothing to send is suspended (MHD_suspend_connection from
 * its content reader) and resumed when a text, its end or its keep-alive is
 * due: it never holds one of libmicrohttpd's polling threads. One ticker
 * thread per server wakes the streams whose keep-alive is due. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "httpd/internal.h"

#define SSE_BLOCK 4096
#define WAKE_BATCH 128

struct nc_httpd_stream {
    nc_httpd *h;
    nc_httpd_stream *next;          /* h->streams, from the answer until the connection closes */
    struct MHD_Connection *conn;
    char **q;                       /* ring of max malloc'd texts */
    size_t *qlen;
    size_t max, head, count, off;   /* off: bytes of q[head] already sent */
    unsigned refs;                  /* the program's, and the connection's */
    bool answered, ended, dropped, suspended, closed;
    int64_t last_sent;              /* CLOCK_MONOTONIC seconds */
    void (*on_close)(void *arg, nc_httpd_stream *st);
    void *arg;
};

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* ---- framing ---- */

static bool event_name_ok(const char *t)
{
    size_t n = 0;
    for (; t[n]; n++)
        if (n >= NC_HTTPD_SSE_MAX_EVENT_NAME || !((t[n] >= 'a' && t[n] <= 'z') || t[n] == '.' || t[n] == '_'))
            return false;
    return n > 0;
}

char *nc_httpd_sse_event(const char *name, const char *data, size_t data_len, size_t *len)
{
    static const char ev[] = "event: ", dl[] = "data: ";
    *len = 0;
    if ((name && !event_name_ok(name)) || data_len > NC_HTTPD_SSE_MAX_DATA)
        return NULL;
    /* One data line: a CR or LF inside would end it and start a field (or
     * an event) the sender chose; a NUL ends the text for some readers. */
    for (size_t i = 0; i < data_len; i++)
        if (data[i] == '\r' || data[i] == '\n' || data[i] == '\0')
            return NULL;
    size_t nlen = name ? strlen(name) : 0;
    size_t total = (name ? sizeof ev - 1 + nlen + 1 : 0) + sizeof dl - 1 + data_len + 2;
    char *out = malloc(total + 1), *p = out;
    if (!out)
        return NULL;
    if (name) {
        memcpy(p, ev, sizeof ev - 1);
        p += sizeof ev - 1;
        memcpy(p, name, nlen);
        p += nlen;
        *p++ = '\n';
    }
    memcpy(p, dl, sizeof dl - 1);
    p += sizeof dl - 1;
    memcpy(p, data, data_len);
    p += data_len;
    *p++ = '\n';
    *p++ = '\n';
    *p = '\0';
    *len = total;
    return out;
}

/* ---- waking suspended streams ---- */

/* Resumes the suspended streams that are due: all of them when stopping
 * (or all_due), else those with something to send or a keep-alive to make.
 * A suspended connection is never closed, so its pointer stays valid until
 * it is resumed here. */
static void wake(nc_httpd *h, bool all_due)
{
    struct MHD_Connection *batch[WAKE_BATCH];
    for (;;) {
        size_t n = 0;
        int64_t now = mono_s();
        pthread_mutex_lock(&h->st_mu);
        for (nc_httpd_stream *st = h->streams; st && n < WAKE_BATCH; st = st->next) {
            bool due = all_due || h->st_stopping || st->dropped || st->ended || st->count ||
                       now - st->last_sent >= (int64_t)h->cfg.keepalive_s;
            if (st->suspended && due) {
                st->suspended = false;
                batch[n++] = st->conn;
            }
        }
        pthread_mutex_unlock(&h->st_mu);
        for (size_t i = 0; i < n; i++)
            MHD_resume_connection(batch[i]);
        if (n < WAKE_BATCH)
            return;
    }
}

/* Under st_mu: the stream's connection, if it must be resumed now. */
static struct MHD_Connection *take_wake_locked(nc_httpd_stream *st)
{
    if (!st->suspended)
        return NULL;
    st->suspended = false;
    return st->conn;
}

static void clear_locked(nc_httpd_stream *st)
{
    while (st->count) {
        free(st->q[st->head]);
        st->q[st->head] = NULL;
        st->head = (st->head + 1) % st->max;
        st->count--;
    }
    st->off = 0;
}

static void *ticker_thread(void *arg)
{
    nc_httpd *h = arg;
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_mutex_lock(&h->st_mu);
        while (!h->st_stopping && pthread_cond_timedwait(&h->st_cond, &h->st_mu, &ts) == 0) {
        }
        bool stop = h->st_stopping;
        pthread_mutex_unlock(&h->st_mu);
        if (stop)
            return NULL;
        wake(h, false);
    }
}

nc_err httpd_streams_start(nc_httpd *h)
{
    if (pthread_create(&h->ticker, NULL, ticker_thread, h) != 0)
        return NC_ERR_INTERNAL;
    h->ticker_started = true;
    return NC_OK;
}

void httpd_streams_stop(nc_httpd *h)
{
    pthread_mutex_lock(&h->st_mu);
    h->st_stopping = true;
    pthread_cond_broadcast(&h->st_cond);
    pthread_mutex_unlock(&h->st_mu);
    wake(h, true);   /* their readers now end the streams and never suspend again */
    if (h->ticker_started)
        pthread_join(h->ticker, NULL);
    h->ticker_started = false;
}

/* ---- a stream ---- */

nc_httpd_stream *nc_httpd_stream_new(nc_httpd *h, size_t queue_max)
{
    if (!queue_max)
        return NULL;
    nc_httpd_stream *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->q = calloc(queue_max, sizeof *st->q);
    st->qlen = calloc(queue_max, sizeof *st->qlen);
    if (!st->q || !st->qlen) {
        free(st->q);
        free(st->qlen);
        free(st);
        return NULL;
    }
    st->h = h;
    st->max = queue_max;
    st->refs = 1;
    return st;
}

void nc_httpd_stream_on_close(nc_httpd_stream *st, void (*fn)(void *arg, nc_httpd_stream *st), void *arg)
{
    pthread_mutex_lock(&st->h->st_mu);
    st->on_close = fn;
    st->arg = arg;
    pthread_mutex_unlock(&st->h->st_mu);
}

nc_httpd_stream *nc_httpd_stream_ref(nc_httpd_stream *st)
{
    pthread_mutex_lock(&st->h->st_mu);
    st->refs++;
    pthread_mutex_unlock(&st->h->st_mu);
    return st;
}

void nc_httpd_stream_release(nc_httpd_stream *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&st->h->st_mu);
    bool last = --st->refs == 0;
    if (last)
        clear_locked(st);
    pthread_mutex_unlock(&st->h->st_mu);
    if (last) {
        free(st->q);
        free(st->qlen);
        free(st);
    }
}

bool nc_httpd_stream_push(nc_httpd_stream *st, const char *text, size_t len)
{
    nc_httpd *h = st->h;
    char *copy = malloc(len + 1);
    struct MHD_Connection *resume = NULL;
    bool ok = false;
    pthread_mutex_lock(&h->st_mu);
    if (st->closed || st->ended || st->dropped || h->st_stopping) {
        /* nothing more goes out */
    } else if (st->count >= st->max || !copy) {
        st->dropped = true;   /* fell behind: the reader ends it */
        clear_locked(st);
        resume = take_wake_locked(st);
    } else {
        memcpy(copy, text, len);
        copy[len] = '\0';
        size_t at = (st->head + st->count) % st->max;
        st->q[at] = copy;
        st->qlen[at] = len;
        st->count++;
        copy = NULL;
        ok = true;
        resume = take_wake_locked(st);
    }
    pthread_mutex_unlock(&h->st_mu);
    free(copy);
    if (resume)
        MHD_resume_connection(resume);
    return ok;
}

void nc_httpd_stream_end(nc_httpd_stream *st)
{
    pthread_mutex_lock(&st->h->st_mu);
    st->ended = true;
    struct MHD_Connection *resume = take_wake_locked(st);
    pthread_mutex_unlock(&st->h->st_mu);
    if (resume)
        MHD_resume_connection(resume);
}

/* Runs on a polling thread: never waits. Nothing to send: the connection is
 * suspended until a push, an end, the ticker or stopping resumes it. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    nc_httpd_stream *st = cls;
    nc_httpd *h = st->h;
    static const char keepalive[] = ": keepalive\n\n";
    ssize_t ret;
    int64_t now = mono_s();
    pthread_mutex_lock(&h->st_mu);
    if (h->st_stopping) {
        ret = MHD_CONTENT_READER_END_OF_STREAM;
    } else if (st->dropped) {
        ret = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (st->count) {
        size_t left = st->qlen[st->head] - st->off, n = left < max ? left : max;
        memcpy(buf, st->q[st->head] + st->off, n);
        st->off += n;
        if (st->off == st->qlen[st->head]) {
            free(st->q[st->head]);
            st->q[st->head] = NULL;
            st->head = (st->head + 1) % st->max;
            st->count--;
            st->off = 0;
        }
        st->last_sent = now;
        ret = (ssize_t)n;
    } else if (st->ended) {
        ret = MHD_CONTENT_READER_END_OF_STREAM;
    } else if (now - st->last_sent >= (int64_t)h->cfg.keepalive_s) {
        size_t n = sizeof keepalive - 1 < max ? sizeof keepalive - 1 : max;
        memcpy(buf, keepalive, n);
        st->last_sent = now;
        ret = (ssize_t)n;
    } else {
        st->suspended = true;
        ret = 0;
    }
    pthread_mutex_unlock(&h->st_mu);
    /* A resume that comes before this suspend makes it a no-op (libmicrohttpd
     * then calls this reader again), so the order cannot lose a wake-up. */
    if (ret == 0)
        MHD_suspend_connection(st->conn);
    return ret;
}

/* The connection is done with the stream (libmicrohttpd frees the response). */
static void stream_free(void *cls)
{
    nc_httpd_stream *st = cls;
    nc_httpd *h = st->h;
    pthread_mutex_lock(&h->st_mu);
    for (nc_httpd_stream **pp = &h->streams; *pp; pp = &(*pp)->next) {
        if (*pp == st) {
            *pp = st->next;
            break;
        }
    }
    st->closed = true;
    st->suspended = false;
    clear_locked(st);
    void (*fn)(void *, nc_httpd_stream *) = st->on_close;
    void *arg = st->arg;
    st->on_close = NULL;
    pthread_mutex_unlock(&h->st_mu);
    if (fn)
        fn(arg, st);
    nc_httpd_stream_release(st);
}

enum MHD_Result nc_httpd_stream_answer(nc_httpd_stream *st, struct MHD_Connection *conn, const char *header,
                                       const char *value)
{
    nc_httpd *h = st->h;
    pthread_mutex_lock(&h->st_mu);
    if (st->answered) {   /* a stream answers one connection */
        pthread_mutex_unlock(&h->st_mu);
        return MHD_NO;
    }
    bool refused = h->st_stopping;
    if (!refused) {
        st->answered = true;
        st->conn = conn;
        st->last_sent = mono_s();
        st->refs++;   /* the connection's */
        st->next = h->streams;
        h->streams = st;
    }
    void (*fn)(void *, nc_httpd_stream *) = refused ? st->on_close : NULL;
    void *arg = st->arg;
    if (refused)
        st->on_close = NULL;
    pthread_mutex_unlock(&h->st_mu);
    if (refused) {
        if (fn)
            fn(arg, st);   /* once, as for a stream that closed */
        return h->cfg.refuse(conn, 503, "busy", "the server is stopping");
    }
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, stream_read, st,
                                                               stream_free);
    if (!r) {
        stream_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    if (header && value)
        MHD_add_response_header(r, header, value);
    return nc_httpd_queue(conn, 200, r);
}
