/* The worker's event stream: one background thread keeps an events.subscribe
 * connection (reconnecting with backoff), remembers the last alerts, and fans
 * every event out to the Server-Sent Events clients. Each client is a stream
 * of the shared server (src/httpd/stream.c) with a bounded queue; a client
 * that falls CON_SSE_QUEUE_MAX events behind is dropped (the browser
 * reconnects and re-reads state), so a slow reader never holds up the others
 * or grows memory, and a stream with nothing to send holds no thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "console/console.h"

#define EVENT_MAX_TEXT (1024u * 1024)    /* a longer event is announced, not relayed */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;   /* stopping */
static nc_httpd_stream *g_clients[CON_MAX_SSE_CLIENTS];    /* open streams, each with a reference */
static size_t g_nclients;
static json_t *g_alerts[CON_MAX_ALERTS];   /* ring, oldest at g_alert_head */
static size_t g_alert_head, g_nalerts;
static bool g_stopping, g_started;
static pthread_t g_thread;
static const con_ctx *g_ctx;
static nc_httpd *g_httpd;

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

/* "event: TYPE\ndata: JSON\n\n" to every client. The JSON is compact and
 * ASCII-escaped: it holds no newline, so it cannot end the data line early
 * (nc_httpd_sse_event refuses one that would). A type that is not ours to
 * put on an "event:" line (not lower-case words and dots) goes as "message". */
static void broadcast(const char *type, const json_t *data)
{
    char *json = json_dumps(data, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!json)
        return;
    if (strlen(json) > EVENT_MAX_TEXT) {
        free(json);
        if (!(json = strdup("{\"truncated\":true}")))
            return;
    }
    size_t len;
    char *text = nc_httpd_sse_event(type, json, strlen(json), &len);
    if (!text)
        text = nc_httpd_sse_event("message", json, strlen(json), &len);
    free(json);
    if (!text)
        return;
    /* pushed outside the lock (a push may resume a connection), each stream held meanwhile */
    nc_httpd_stream *to[CON_MAX_SSE_CLIENTS];
    size_t n = 0;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_nclients; i++)
        to[n++] = nc_httpd_stream_ref(g_clients[i]);
    pthread_mutex_unlock(&g_lock);
    for (size_t i = 0; i < n; i++) {
        (void)nc_httpd_stream_push(to[i], text, len);   /* a client that fell behind is dropped */
        nc_httpd_stream_release(to[i]);
    }
    free(text);
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
                    broadcast(type ? type : "message", ev);
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

nc_err con_events_start(const con_ctx *c, nc_httpd *h)
{
    g_ctx = c;
    g_httpd = h;
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

void con_events_free(void)
{
    pthread_mutex_lock(&g_lock);
    size_t n = g_nclients;
    nc_httpd_stream *left[CON_MAX_SSE_CLIENTS];
    memcpy(left, g_clients, n * sizeof *left);
    g_nclients = 0;
    pthread_mutex_unlock(&g_lock);
    for (size_t i = 0; i < n; i++)
        nc_httpd_stream_release(left[i]);
}

/* ---- SSE responses ---- */

/* The connection is done with a client's stream: it leaves the list. */
static void client_closed(void *arg, nc_httpd_stream *st)
{
    (void)arg;
    bool found = false;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_nclients; i++) {
        if (g_clients[i] == st) {
            g_clients[i] = g_clients[--g_nclients];
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    if (found)
        nc_httpd_stream_release(st);
}

enum MHD_Result con_api_events(struct MHD_Connection *conn)
{
    static const char hello[] = "retry: 3000\n: nightcore-console events\n\n";
    nc_httpd_stream *st = g_httpd ? nc_httpd_stream_new(g_httpd, CON_SSE_QUEUE_MAX) : NULL;
    if (!st)
        return con_send_error(conn, 500, "internal", "out of memory");
    pthread_mutex_lock(&g_lock);
    bool full = g_nclients >= CON_MAX_SSE_CLIENTS || g_stopping;
    if (!full)
        g_clients[g_nclients++] = nc_httpd_stream_ref(st);   /* the list's reference */
    pthread_mutex_unlock(&g_lock);
    if (full) {
        nc_httpd_stream_release(st);
        return con_send_error(conn, 503, "busy", "too many event streams open (at most %u)", CON_MAX_SSE_CLIENTS);
    }
    (void)nc_httpd_stream_push(st, hello, sizeof hello - 1);
    nc_httpd_stream_on_close(st, client_closed, NULL);
    enum MHD_Result ret = nc_httpd_stream_answer(st, conn, NULL, NULL);
    nc_httpd_stream_release(st);   /* ours; the list and the connection keep theirs */
    return ret;
}
