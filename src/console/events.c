/* The worker's event stream: one background thread keeps an events.subscribe
 * connection (reconnecting with backoff), remembers the last alerts, and fans
 * every event out to the Server-Sent Events clients. Each client has a
 * bounded queue; a client that falls CON_SSE_QUEUE_MAX events behind is
 * dropped (the browser reconnects and re-reads state), so a slow reader never
 * holds up the others or grows memory. */
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
    char *q[CON_SSE_QUEUE_MAX];   /* ring of malloc'd, ready-to-send texts */
    size_t head, count, off;      /* off: bytes of q[head] already sent */
    bool dropped;
} sse_client;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;   /* new event, or stopping */
static sse_client *g_clients;
static size_t g_nclients;
static json_t *g_alerts[CON_MAX_ALERTS];   /* ring, oldest at g_alert_head */
static size_t g_alert_head, g_nalerts;
static bool g_stopping, g_started;
static pthread_t g_thread;
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

nc_err con_events_start(const con_ctx *c)
{
    g_ctx = c;
    if (pthread_create(&g_thread, NULL, event_thread, NULL) != 0)
        return NC_ERR_INTERNAL;
    g_started = true;
    return NC_OK;
}

void con_events_stop(void)
{
    pthread_mutex_lock(&g_lock);
    g_stopping = true;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
    if (g_started)
        pthread_join(g_thread, NULL);
    g_started = false;
}

/* ---- SSE responses ---- */

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse_client *cl = cls;
    static const char keepalive[] = ": keepalive\n\n";
    struct timespec ts;
    ssize_t ret;
    deadline_in_ms(&ts, CON_SSE_KEEPALIVE_S * 1000L);
    pthread_mutex_lock(&g_lock);
    for (;;) {
        if (g_stopping) {
            ret = MHD_CONTENT_READER_END_OF_STREAM;
            break;
        }
        if (cl->dropped) {
            ret = MHD_CONTENT_READER_END_WITH_ERROR;
            break;
        }
        if (cl->count) {
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
            ret = (ssize_t)n;
            break;
        }
        if (pthread_cond_timedwait(&g_cond, &g_lock, &ts) != 0 && !cl->count && !g_stopping && !cl->dropped) {
            size_t n = sizeof keepalive - 1 < max ? sizeof keepalive - 1 : max;
            memcpy(buf, keepalive, n);
            ret = (ssize_t)n;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
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
    enum MHD_Result ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}
