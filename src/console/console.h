/* nightcore-console: the local web console (docs/console.md). It shows what
 * the worker knows and signs approvals with the operator's key; it cannot
 * execute anything (no Wasmtime) and talks to the worker only through
 * control.sock, where the worker verifies every approval as always.
 *
 * Threads: libmicrohttpd runs one thread per connection (bounded); one
 * background thread keeps an events.subscribe connection to the worker. The
 * modules below keep their own state behind their own mutex. */
#ifndef NC_CONSOLE_CONSOLE_H
#define NC_CONSOLE_CONSOLE_H
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/error.h"
#include "common/home.h"
#include "common/rpc.h"
#include "common/workerkey.h"

#define CON_DEFAULT_PORT 8420
#define CON_MAX_CONNECTIONS 32u
#define CON_MAX_SSE_CLIENTS 8u
#define CON_MAX_BODY_BYTES (64u * 1024)          /* a POST body we accept */
#define CON_DISCARD_BODY_BYTES (1024u * 1024)    /* read and drop up to this, then answer 413 */
#define CON_MAX_SESSIONS 16u
#define CON_SESSION_IDLE_S (12 * 3600)
#define CON_RPC_TIMEOUT_MS 60000
#define CON_SIGN_TIMEOUT_MS 60000
#define CON_AUDIT_CACHE_S 5
#define CON_MAX_ALERTS 100u
#define CON_SSE_QUEUE_MAX 256u                   /* events queued per SSE client before it is dropped */
#define CON_SSE_KEEPALIVE_S 15
#define CON_HEX_TOKEN_LEN 64                     /* 32 random bytes, hex */

typedef struct {
    nc_home home;
    char control_sock[PATH_MAX];
    char self_exe[PATH_MAX];          /* this binary: the askpass helper */
    char key_override[PATH_MAX];      /* --key, or "" */
    char principal_override[160];     /* --principal, or "" */
    bool have_worker_key;
    uint8_t worker_pk[NC_WORKER_PK_LEN];
    char worker_id[NC_WORKER_ID_LEN];
    uint16_t port;
    char host_ip[40], host_name[40];        /* "127.0.0.1:PORT", "localhost:PORT" */
    char origin_ip[48], origin_name[48];    /* "http://" + the above */
} con_ctx;

/* ---- session.c: the start-up token and sessions (secrets in sodium_malloc memory) ---- */
NC_MUST_CHECK nc_err con_session_init(void);
/* The start-up token (hex), for the URL printed once. Lives until exit. */
const char *con_session_token(void);
/* Constant-time comparison with the start-up token. */
bool con_session_token_ok(const char *given);
/* A new session: its cookie value (hex) into sid. Evicts the least recently used
 * session when all slots are taken. */
NC_MUST_CHECK nc_err con_session_new(char sid[CON_HEX_TOKEN_LEN + 1]);
/* Looks up a cookie value (constant-time per slot); refreshes its idle timer.
 * csrf (may be NULL) gets the session's CSRF token. */
bool con_session_lookup(const char *sid, char csrf[CON_HEX_TOKEN_LEN + 1]);

/* ---- http.c: responses (every one carries the security headers) ---- */
enum MHD_Result con_send(struct MHD_Connection *conn, unsigned status, const char *content_type, const void *data,
                         size_t len, enum MHD_ResponseMemoryMode mode, const char *disposition);
/* json is stolen. */
enum MHD_Result con_send_json(struct MHD_Connection *conn, unsigned status, json_t *json);
enum MHD_Result con_send_error(struct MHD_Connection *conn, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void con_add_security_headers(struct MHD_Response *r);

/* ---- worker.c: calls to the worker ---- */
typedef struct {
    unsigned http_status;     /* 502 transport, 404 not_found, 400 invalid_request, 409 other refusals */
    char code[64];
    char message[512];
} con_call_error;
/* One connection per call. params is stolen. *result on NC_OK. */
NC_MUST_CHECK nc_err con_worker_call(const con_ctx *c, const char *op, json_t *params, json_t **result,
                                     con_call_error *err);
/* Answers a worker call: the result as JSON (200), or the error. params stolen. */
enum MHD_Result con_proxy(const con_ctx *c, struct MHD_Connection *conn, const char *op, json_t *params);
enum MHD_Result con_send_call_error(struct MHD_Connection *conn, const con_call_error *err);

/* ---- api.c: the /api routes (session, CSRF already checked) ---- */
enum MHD_Result con_api(con_ctx *c, struct MHD_Connection *conn, const char *method, const char *url,
                        char *body, size_t body_len, const char *csrf);

/* The body as a JSON object (strict: no duplicate keys, no trailing bytes)
 * with only the allowed keys; an empty body is {}. NULL after a 400 has been
 * queued (*ret is what to return). */
json_t *con_parse_body(struct MHD_Connection *conn, const char *body, size_t len, const char *const *allowed,
                       enum MHD_Result *ret);

/* ---- approve.c ---- */
enum MHD_Result con_api_prepare(con_ctx *c, struct MHD_Connection *conn, const char *sid, const char *body,
                                size_t body_len);
/* GET /api/signer: the principal and key the console signs with, how the key
 * proves a human, whether it can sign here (and why not), the worker's
 * development mode. */
enum MHD_Result con_api_signer(con_ctx *c, struct MHD_Connection *conn);
/* body is wiped before returning (it may hold a passphrase). */
enum MHD_Result con_api_approve(con_ctx *c, struct MHD_Connection *conn, const char *sid, char *body,
                                size_t body_len);

/* ---- audit.c: read-only verification of the log, cached ---- */
/* {ok, entries, checkpoints, unsigned_tail, bad_seq, error, anchor, refused_today, checkpoint{...}|null, verified_at} */
json_t *con_audit_report(const con_ctx *c, bool fresh);
enum MHD_Result con_api_audit_export(con_ctx *c, struct MHD_Connection *conn, const char *format);

/* ---- events.c: the worker's event stream, alerts, SSE ---- */
NC_MUST_CHECK nc_err con_events_start(const con_ctx *c);
void con_events_stop(void);
/* The last alerts, newest first (new reference). */
json_t *con_alerts(void);
enum MHD_Result con_api_events(struct MHD_Connection *conn);

/* ---- dashboard.c ---- */
enum MHD_Result con_api_dashboard(con_ctx *c, struct MHD_Connection *conn);

/* ---- util ---- */
/* Strict decimal: digits only, no sign, <= max. */
bool con_parse_u64(const char *s, uint64_t max, uint64_t *out);
/* ids the API passes on: 1-80 of [A-Za-z0-9_-]. */
bool con_id_ok(const char *s);

#endif
