/* The worker's event stream: one background thread keeps an events.subscribe
 * connection (reconnecting with backoff), remembers the last alerts, and fans
 * every event out to the Server-Sent Events clients. Each client has a
 * bounded queue; a client that falls CON_SSE_QUEUE_MAX events behind is
 * dropped (the browser reconnects and re-reads state), so a slow reader never
 * holds up the others or grows memory.
 *
 * A stream with nothing to send is suspended (MHD_suspend_connection from its
 * content reader) and resumed when an event or its keep-alive is due: it
 * never holds one of libmicrohttpd's polling threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "console/console.h"

#define SSE_BLOCK 4096
#define EVENT_MAX_TEXT (1024u * 1024)    /* a longer event is announced, not relayed */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000

typedef struct sse_client {
    struct sse_client *next;
    struct MHD_Connection *conn;
    char *q[CON_SSE_QUEUE_MAX];   /* ring of malloc'd, ready-to-send texts */
    size_t head, count, off;      /* off: bytes of q[head] already sent */
    bool dropped;
    bool suspended;               /* its reader suspended the connection: resume it to go on */
    int64_t last_sent;            /* CLOCK_MONOTONIC seconds */
} sse_client;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;   /* new event, or stopping */
static sse_client *g_clients;
static size_t g_nclients;
static json_t *g_alerts[CON_MAX_ALERTS];   /* ring, oldest at g_alert_head */
static size_t g_alert_head, g_nalerts;
static bool g_stopping, g_started, g_ticker_started;
static pthread_t g_thread, g_ticker;
static const con_ctx *g_ctx;

static void deadline_in_ms(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* Resumes the suspended streams that have something to send (all of them
 * when everything is stopping, or a keep-alive is due). A client's connection
 * stays valid here: a suspended connection is never closed, and a client
 * whose reader is running cannot be freed under it. */
static void wake_clients(bool keepalive_due_only)
{
    struct MHD_Connection *wake[CON_MAX_SSE_CLIENTS];
    size_t n = 0;
    int64_t now = mono_s();
    pthread_mutex_lock(&g_lock);
    for (sse_client *cl = g_clients; cl && n < CON_MAX_SSE_CLIENTS; cl = cl->next) {
        bool due = g_stopping || cl->dropped || cl->count ||
                   (keepalive_due_only && now - cl->last_sent >= CON_SSE_KEEPALIVE_S);
        if (cl->suspended && due) {
            cl->suspended = false;
            wake[n++] = cl->conn;
        }
    }
    pthread_mutex_unlock(&g_lock);
    for (size_t i = 0; i < n; i++)
        MHD_resume_connection(wake[i]);
}

static void client_clear(sse_client *cl)
{
    while (cl->count) {
        free(cl->q[cl->head]);
        cl->q[cl->head] = NULL;
        cl->head = (cl->head + 1) % CON_SSE_QUEUE_MAX;
        cl->count--;
    }
    cl->off = 0;
}

/* Under g_lock. text is copied. */
static void push_locked(sse_client *cl, const char *text)
{
    if (cl->dropped)
        return;
    if (cl->count >= CON_SSE_QUEUE_MAX) {
        cl->dropped = true;
        client_clear(cl);
        return;
    }
    char *copy = strdup(text);
    if (!copy) {
        cl->dropped = true;
        client_clear(cl);
        return;
    }
    cl->q[(cl->head + cl->count) % CON_SSE_QUEUE_MAX] = copy;
    cl->count++;
}

/* Event types are ours to put on an "event:" line: lower-case words and dots only. */
static bool type_ok(const char *t)
{
    size_t n = 0;
    if (!t)
        return false;
    for (; t[n]; n++)
        if (n >= 64 || !((t[n] >= 'a' && t[n] <= 'z') || t[n] == '.' || t[n] == '_'))
            return false;
    return n > 0;
}

/* "event: TYPE\ndata: JSON\n\n" to every client. The JSON is compact and
 * ASCII-escaped: it holds no newline, so it cannot end the data line early. */
static void broadcast(const char *type, const json_t *data)
{
    char *json = json_dumps(data, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!json)
        return;
    size_t jl = strlen(json);
    if (jl > EVENT_MAX_TEXT) {
        free(json);
        json = strdup("{\"truncated\":true}");
        if (!json)
            return;
        jl = strlen(json);
    }
    size_t n = jl + strlen(type) + 32;
    char *text = malloc(n);
    if (text) {
        snprintf(text, n, "event: %s\ndata: %s\n\n", type, json);
        pthread_mutex_lock(&g_lock);
        for (sse_client *cl = g_clients; cl; cl = cl->next)
            push_locked(cl, text);
        pthread_cond_broadcast(&g_cond);
        pthread_mutex_unlock(&g_lock);
        wake_clients(false);
    }
    free(text);
    free(json);
}

static void remember_alert(json_t *ev)
{
    pthread_mutex_lock(&g_lock);
    if (g_nalerts == CON_MAX_ALERTS) {
        json_decref(g_alerts[g_alert_head]);
        g_alerts[g_alert_head] = json_incref(ev);
        g_alert_head = (g_alert_head + 1) % CON_MAX_ALERTS;
    } else {
        g_alerts[(g_alert_head + g_nalerts) % CON_MAX_ALERTS] = json_incref(ev);
        g_nalerts++;
    }
    pthread_mutex_unlock(&g_lock);
}

json_t *con_alerts(void)
{
    json_t *a = json_array();
    if (!a)
        return NULL;
    pthread_mutex_lock(&g_lock);
    for (size_t i = g_nalerts; i > 0; i--)
        json_array_append(a, g_alerts[(g_alert_head + i - 1) % CON_MAX_ALERTS]);
    pthread_mutex_unlock(&g_lock);
    return a;
}

/* Waits ms unless stopping; false when stopping. */
static bool pause_ms(long ms)
{
    struct timespec ts;
    deadline_in_ms(&ts, ms);
    pthread_mutex_lock(&g_lock);
    while (!g_stopping && pthread_cond_timedwait(&g_cond, &g_lock, &ts) == 0) {
    }
    bool go_on = !g_stopping;
    pthread_mutex_unlock(&g_lock);
    return go_on;
}

static bool stopping(void)
{
    pthread_mutex_lock(&g_lock);
    bool s = g_stopping;
    pthread_mutex_unlock(&g_lock);
    return s;
}

static void announce(bool connected)
{
    json_t *o = json_pack("{s:b, s:I}", "connected", connected, "at", (json_int_t)time(NULL));
    if (o)
        broadcast("console.worker", o);
    json_decref(o);
}

static void *event_thread(void *arg)
{
    (void)arg;
    long backoff = BACKOFF_MIN_MS;
    bool was_connected = false;
    while (!stopping()) {
        nc_rpc *rpc = NULL;
        json_t *res = NULL;
        char msg[256];
        nc_rpc_error rerr;
        if (nc_rpc_connect_as(g_ctx->control_sock, g_ctx->home.worker_uid, &rpc, msg, sizeof msg) == NC_OK) {
            nc_rpc_set_timeout(rpc, 10000);
            if (nc_rpc_call(rpc, "events.subscribe", NULL, &res, &rerr) == NC_OK) {
                json_decref(res);
                backoff = BACKOFF_MIN_MS;
                if (!was_connected)
                    fprintf(stderr, "nightcore-console: subscribed to the worker's events\n");
                was_connected = true;
                announce(true);
                for (;;) {
                    json_t *ev = NULL;
                    nc_err e = nc_rpc_read_event(rpc, &ev, 1000);
                    if (e == NC_ERR_MALFORMED)
                        continue;   /* one bad line: skip it */
                    if (e != NC_OK)
                        break;      /* closed (or dropped us): resubscribe */
                    if (!ev) {
                        if (stopping())
                            break;
                        continue;
                    }
                    const char *type = json_string_value(json_object_get(ev, "type"));
                    if (type && strcmp(type, "alert") == 0)
                        remember_alert(ev);
                    broadcast(type_ok(type) ? type : "message", ev);
                    json_decref(ev);
                }
            }
        }
        nc_rpc_free(rpc);
        if (was_connected && !stopping()) {
            fprintf(stderr, "nightcore-console: lost the worker's event stream; reconnecting\n");
            announce(false);
            was_connected = false;
        }
        if (!pause_ms(backoff))
            break;
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
}

/* Wakes suspended streams whose keep-alive is due, once a second. */
static void *ticker_thread(void *arg)
{
    (void)arg;
    while (pause_ms(1000))
        wake_clients(true);
    return NULL;
}

nc_err con_events_start(const con_ctx *c)
{
    g_ctx = c;
    if (pthread_create(&g_thread, NULL, event_thread, NULL) != 0)
        return NC_ERR_INTERNAL;
    g_started = true;
    if (pthread_create(&g_ticker, NULL, ticker_thread, NULL) != 0)
        return NC_ERR_INTERNAL;
    g_ticker_started = true;
    return NC_OK;
}

void con_events_stop(void)
{
    pthread_mutex_lock(&g_lock);
    g_stopping = true;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
    wake_clients(false);   /* their readers now end the streams and never suspend again */
    if (g_started)
        pthread_join(g_thread, NULL);
    if (g_ticker_started)
        pthread_join(g_ticker, NULL);
    g_started = g_ticker_started = false;
}

/* ---- SSE responses ---- */

/* Runs on a polling thread: never waits. Nothing to send: the connection is
 * suspended until wake_clients resumes it. */
static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse_client *cl = cls;
    static const char keepalive[] = ": keepalive\n\n";
    ssize_t ret;
    int64_t now = mono_s();
    pthread_mutex_lock(&g_lock);
    if (g_stopping) {
        ret = MHD_CONTENT_READER_END_OF_STREAM;
    } else if (cl->dropped) {
        ret = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (cl->count) {
        const char *t = cl->q[cl->head];
        size_t left = strlen(t) - cl->off, n = left < max ? left : max;
        memcpy(buf, t + cl->off, n);
        cl->off += n;
        if (cl->off == strlen(t)) {
            free(cl->q[cl->head]);
            cl->q[cl->head] = NULL;
            cl->head = (cl->head + 1) % CON_SSE_QUEUE_MAX;
            cl->count--;
            cl->off = 0;
        }
        cl->last_sent = now;
        ret = (ssize_t)n;
    } else if (now - cl->last_sent >= CON_SSE_KEEPALIVE_S) {
        size_t n = sizeof keepalive - 1 < max ? sizeof keepalive - 1 : max;
        memcpy(buf, keepalive, n);
        cl->last_sent = now;
        ret = (ssize_t)n;
    } else {
        cl->suspended = true;
        ret = 0;
    }
    pthread_mutex_unlock(&g_lock);
    /* A resume that comes before this suspend makes it a no-op (libmicrohttpd
     * then calls this reader again), so the order cannot lose a wake-up. */
    if (ret == 0)
        MHD_suspend_connection(cl->conn);
    return ret;
}

static void sse_free(void *cls)
{
    sse_client *cl = cls;
    pthread_mutex_lock(&g_lock);
    for (sse_client **pp = &g_clients; *pp; pp = &(*pp)->next) {
        if (*pp == cl) {
            *pp = cl->next;
            g_nclients--;
            break;
        }
    }
    client_clear(cl);
    pthread_mutex_unlock(&g_lock);
    free(cl);
}

enum MHD_Result con_api_events(struct MHD_Connection *conn)
{
    sse_client *cl = calloc(1, sizeof *cl);
    if (!cl)
        return con_send_error(conn, 500, "internal", "out of memory");
    pthread_mutex_lock(&g_lock);
    if (g_nclients >= CON_MAX_SSE_CLIENTS || g_stopping) {
        pthread_mutex_unlock(&g_lock);
        free(cl);
        return con_send_error(conn, 503, "busy", "too many event streams open (at most %u)", CON_MAX_SSE_CLIENTS);
    }
    push_locked(cl, "retry: 3000\n: nightcore-console events\n\n");
    cl->conn = conn;
    cl->last_sent = mono_s();
    cl->next = g_clients;
    g_clients = cl;
    g_nclients++;
    pthread_mutex_unlock(&g_lock);

    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read, cl, sse_free);
    if (!r) {
        sse_free(cl);
        return MHD_NO;
    }
    con_add_security_headers(r);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    return con_queue(conn, 200, r);
}
