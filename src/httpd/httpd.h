/* A small HTTP server on libmicrohttpd for the local programs that speak
 * HTTP: nightcore-console and nightcore-mcp --http (docs/console.md,
 * docs/agents.md "Streamable HTTP"). It owns what both need and neither
 * should get wrong on its own:
 *
 *   - the server: an epoll loop on a few threads, a connection limit, an
 *     idle timeout, a cap on the memory of each connection; loopback TCP or
 *     a Unix socket (mode 0600, the peer's uid checked);
 *   - the checks on every request head, in this order, before the program
 *     sees it: the Host header (only this server's own address: DNS
 *     rebinding), the head's size (431), the method (405); then the
 *     program's own head callback decides (credentials, routes, Origin, a
 *     lower body cap); then a declared body over the cap is refused (413),
 *     all before any body is read;
 *   - bodies: capped, counted against a budget shared by all requests,
 *     optionally in sodium memory (wiped when freed);
 *   - answers: every response that goes out through nc_httpd_queue (all of
 *     them) carries the security headers; the program's own refusal format;
 *   - handlers that may wait (a worker call, a signature) run on handler
 *     threads while their connection is suspended, never on the polling
 *     threads (jobs.c);
 *   - Server-Sent Events streams fed from any thread, suspended while they
 *     have nothing to send, kept alive by comment lines (stream.c).
 *
 * One nc_httpd per listening socket; a program may run several. */
#ifndef NC_HTTPD_HTTPD_H
#define NC_HTTPD_HTTPD_H
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/error.h"

/* 32 random bytes as lower-case hex: session secrets and link tokens. */
#define NC_HTTPD_SECRET_HEX_LEN 64
/* A Server-Sent Events text (event and data lines) at most this long. */
#define NC_HTTPD_SSE_MAX_DATA (64u * 1024 * 1024)   /* a sanity bound: no message comes near it */
#define NC_HTTPD_SSE_MAX_EVENT_NAME 64u

typedef struct nc_httpd nc_httpd;
typedef struct nc_httpd_req nc_httpd_req;
typedef struct nc_httpd_stream nc_httpd_stream;

/* What the program's head callback decided. */
typedef enum {
    NC_HTTPD_ANSWERED,   /* it queued an answer (a refusal); a body that follows is read and dropped */
    NC_HTTPD_INLINE,     /* handle() runs on the polling thread once the body is in: it must not wait */
    NC_HTTPD_JOB,        /* handle() runs on a handler thread, the connection suspended meanwhile */
} nc_httpd_plan;

typedef struct {
    const char *name;                 /* "nightcore-console": in log lines */
    const char *csp;                  /* the Content-Security-Policy of every response */
    const char *const *methods;       /* the methods served, NULL-terminated; others get 405 */
    unsigned host_refused_status;     /* a Host that is not this server's: 421, or 403 */
    unsigned poll_threads;            /* libmicrohttpd's epoll threads */
    unsigned handler_threads;         /* threads that run NC_HTTPD_JOB handlers */
    unsigned max_jobs;                /* handlers waiting for a thread; more get 503 */
    unsigned idle_timeout_s;          /* a connection silent this long is closed */
    unsigned max_connections;         /* see nc_httpd_connection_budget */
    unsigned keepalive_s;             /* an SSE stream silent this long gets a comment line */
    size_t conn_memory_bytes;         /* per connection (touched as used): a head up to about this reaches us */
    size_t max_head_bytes;            /* request line and headers (else 431) */
    size_t max_body_bytes;            /* a body, unless the head callback lowers it (else 413) */
    size_t discard_body_bytes;        /* of a refused body, read and drop up to this, then close */
    size_t body_budget_bytes;         /* bodies buffered at once over all requests (0: no budget; else 503) */
    bool secret_bodies;               /* bodies in sodium memory, wiped when freed (they may hold a passphrase) */

    /* The program's side; ctx is passed to each. */
    nc_httpd_plan (*head)(void *ctx, nc_httpd_req *req);
    /* The whole request is in: answer it (nc_httpd_queue and the rest).
     * MHD_NO closes the connection (inline handlers only). */
    enum MHD_Result (*handle)(void *ctx, nc_httpd_req *req);
    void (*done)(void *ctx, nc_httpd_req *req);   /* the request is over: free what it set; may be NULL */
    /* Queues a refusal in the program's format (the library's own: Host,
     * 431, 405, 413, 503). message is plain text. */
    enum MHD_Result (*refuse)(struct MHD_Connection *conn, unsigned status, const char *code, const char *message);
    void *ctx;
} nc_httpd_config;

typedef struct {
    bool unix_socket;
    uint16_t port;                    /* loopback TCP (127.0.0.1): 0 picks a free port */
    const char *path;                 /* a Unix socket: created with mode 0600; only this uid is served */
} nc_httpd_listen;

/* ---- the server ---- */

/* Listens and serves. cfg is copied (its strings must outlive the server).
 * NC_ERR_BUSY: the address is in use (msg says so). */
NC_MUST_CHECK nc_err nc_httpd_start(const nc_httpd_config *cfg, const nc_httpd_listen *where, nc_httpd **out,
                                    char *msg, size_t msg_len);
/* Ends every stream, answers waiting handlers with 503, waits for running
 * ones, stops the daemon. Streams the program still holds stay valid (their
 * pushes fail) until released; free the server after that. */
void nc_httpd_stop(nc_httpd *h);
void nc_httpd_free(nc_httpd *h);
/* The bound TCP port (0 for a Unix socket). */
uint16_t nc_httpd_port(const nc_httpd *h);
/* What a Host header must be: "127.0.0.1:PORT" and "localhost:PORT", or
 * "localhost" for a Unix socket (name may be NULL there). */
const char *nc_httpd_host(const nc_httpd *h);
const char *nc_httpd_host_name(const nc_httpd *h);
/* "http://" + the above. */
const char *nc_httpd_origin(const nc_httpd *h);

/* Every idle or slow client costs a descriptor: raises the soft limit to
 * the hard one (call before any thread starts) and returns how many
 * connections fit, at most max, keeping reserve descriptors for the rest. */
unsigned nc_httpd_connection_budget(unsigned max, unsigned reserve);

/* ---- a request (valid from the head callback until done) ---- */

nc_httpd *nc_httpd_req_server(const nc_httpd_req *r);
struct MHD_Connection *nc_httpd_req_conn(const nc_httpd_req *r);
const char *nc_httpd_req_method(const nc_httpd_req *r);
const char *nc_httpd_req_url(const nc_httpd_req *r);
/* A header's value (libmicrohttpd's, trimmed), or NULL. */
const char *nc_httpd_req_header(const nc_httpd_req *r, const char *name);
/* The body, NUL-terminated (writable: a handler may wipe it); "" if none. */
char *nc_httpd_req_body(const nc_httpd_req *r, size_t *len);
/* Content-Length declared more than the body cap, or is not a number. */
bool nc_httpd_req_too_big(const nc_httpd_req *r);
/* The head callback may lower this request's body cap. */
void nc_httpd_req_set_body_cap(nc_httpd_req *r, size_t cap);
size_t nc_httpd_req_body_cap(const nc_httpd_req *r);
/* The program's own per-request state: a route number, and a pointer it
 * frees in done(). */
void nc_httpd_req_set_route(nc_httpd_req *r, int route);
int nc_httpd_req_route(const nc_httpd_req *r);
void nc_httpd_req_set_user(nc_httpd_req *r, void *user);
void *nc_httpd_req_user(const nc_httpd_req *r);
/* Origin: present and this server's own. */
bool nc_httpd_req_origin_ours(const nc_httpd_req *r);
/* Origin: absent (not a browser), or this server's own. */
bool nc_httpd_req_origin_absent_or_ours(const nc_httpd_req *r);
/* The program's refusal format, with a formatted message. */
enum MHD_Result nc_httpd_refuse(nc_httpd_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- answers ---- */

/* Adds the security headers, queues r and destroys it. On a handler thread
 * the answer is kept until the connection resumes (the first one wins). */
enum MHD_Result nc_httpd_queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r);
/* Bytes as the answer; with MHD_RESPMEM_MUST_FREE, data is freed even on failure. */
enum MHD_Result nc_httpd_send(struct MHD_Connection *conn, unsigned status, const char *content_type,
                              const void *data, size_t len, enum MHD_ResponseMemoryMode mode);

/* ---- Server-Sent Events (stream.c) ---- */

/* One "event: NAME\ndata: DATA\n\n" text (malloc'd, NUL-terminated, *len
 * set), or NULL: name not 1-64 of a-z . _ (NULL name: no event line), data
 * holding CR, LF or NUL (it could end the data line early and forge events)
 * or over NC_HTTPD_SSE_MAX_DATA, or out of memory. */
char *nc_httpd_sse_event(const char *name, const char *data, size_t data_len, size_t *len);

/* A stream of at most queue_max waiting texts; one that falls further
 * behind is ended (the client may reconnect and re-read state). The caller
 * holds one reference. NULL when out of memory. */
nc_httpd_stream *nc_httpd_stream_new(nc_httpd *h, size_t queue_max);
/* Called once when the connection is done with the stream (closed,
 * dropped, ended; on a polling thread), or when nc_httpd_stream_answer could
 * not put it on one; set before nc_httpd_stream_answer. */
void nc_httpd_stream_on_close(nc_httpd_stream *st, void (*fn)(void *arg, nc_httpd_stream *st), void *arg);
/* Answers conn with the stream (200, text/event-stream, the security
 * headers, and one extra header if name is not NULL). The connection then
 * holds its own reference until it closes. */
enum MHD_Result nc_httpd_stream_answer(nc_httpd_stream *st, struct MHD_Connection *conn, const char *header,
                                       const char *value);
/* Queues a copy of text (from any thread). false: the stream has ended,
 * closed or fallen behind (then it ends). */
bool nc_httpd_stream_push(nc_httpd_stream *st, const char *text, size_t len);
/* Ends the stream once what is queued has gone out (from any thread). */
void nc_httpd_stream_end(nc_httpd_stream *st);
/* Another reference (returns st); each is given back with release. */
nc_httpd_stream *nc_httpd_stream_ref(nc_httpd_stream *st);
void nc_httpd_stream_release(nc_httpd_stream *st);

/* ---- secrets ---- */

/* 32 random bytes as lower-case hex into out (the caller wipes it). */
void nc_httpd_secret_new(char out[NC_HTTPD_SECRET_HEX_LEN + 1]);
/* Exactly NC_HTTPD_SECRET_HEX_LEN lower-case hex digits, nothing else. */
bool nc_httpd_secret_ok(const char *s);
/* Strict decimal: digits only (1-20), no sign or space, <= max. */
bool nc_httpd_parse_u64(const char *s, uint64_t max, uint64_t *out);

#endif
