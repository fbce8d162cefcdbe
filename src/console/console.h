/* nightcore-console: the local web console (docs/console.md). It shows what
 * the worker knows and signs approvals with the operator's key; it cannot
 * execute anything (no Wasmtime) and talks to the worker only through
 * control.sock, where the worker verifies every approval as always.
 *
 * Threads: the shared HTTP server (src/httpd/) runs libmicrohttpd's epoll
 * loop on a small pool of threads that does all the network I/O, so slow or
 * idle connections cost a file descriptor each, never a thread; API requests
 * run on its few handler threads while their connection is suspended, so a
 * slow worker call or a signature never stalls other connections; event
 * streams are suspended while they have nothing to send (events.c). One
 * background thread keeps an events.subscribe connection to the worker, one
 * serves the console's own
 * control socket (ctl.c). The modules below keep their own state behind
 * their own mutex. */
#ifndef NC_CONSOLE_CONSOLE_H
#define NC_CONSOLE_CONSOLE_H
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include "common/error.h"
#include "common/home.h"
#include "common/limits.h"
#include "common/rpc.h"
#include "common/workerkey.h"
#include "httpd/httpd.h"

#define CON_DEFAULT_PORT 8420
#define CON_MAX_CONNECTIONS 4096u                /* at most; less when RLIMIT_NOFILE is lower */
#define CON_FD_RESERVE 64u                       /* descriptors kept for everything but HTTP clients */
#define CON_POLL_THREADS 2u                      /* libmicrohttpd's epoll threads */
#define CON_HANDLER_THREADS 4u                   /* threads that run API requests */
#define CON_MAX_JOBS 64u                         /* API requests waiting for a handler thread */
#define CON_IDLE_TIMEOUT_S 10u                   /* a connection silent this long is closed */
#define CON_CONN_MEMORY_BYTES (128u * 1024)      /* per connection (touched as used): a head up to about this reaches us */
#define CON_MAX_HEAD_BYTES (64u * 1024)          /* request line and headers we accept (else 431) */
#define CON_MAX_SSE_CLIENTS 8u
#define CON_MAX_BODY_BYTES (64u * 1024)          /* a POST body we accept */
#define CON_DISCARD_BODY_BYTES (1024u * 1024)    /* read and drop up to this, then answer 413 */
#define CON_MAX_SESSIONS 16u
#define CON_SESSION_IDLE_S (12 * 3600)
#define CON_MAX_TOKENS 8u                        /* one-time link tokens outstanding */
#define CON_TOKEN_TTL_S 600                      /* an unused link dies after this */
#define CON_CTL_SOCK "console.sock"              /* the console's own control socket */
#define CON_CTL_SERVICE_SOCK "nightcore-console.sock"
#define CON_CTL_MAX_LINE 1024u                   /* a control request line */
#define CON_CTL_TIMEOUT_MS 2000                  /* to send it */
#define CON_RPC_TIMEOUT_MS 60000
/* approval.submit: the worker compiles the module first (its compile child
 * is killed past NC_COMPILE_TIMEOUT_MS), then records the approval. */
#define CON_APPROVE_TIMEOUT_MS ((int)NC_COMPILE_TIMEOUT_MS + CON_RPC_TIMEOUT_MS)
#define CON_SIGN_TIMEOUT_MS 60000
#define CON_AUDIT_CACHE_S 5
#define CON_MAX_ALERTS 100u
#define CON_SSE_QUEUE_MAX 256u                   /* events queued per SSE client before it is dropped */
#define CON_SSE_KEEPALIVE_S 15
#define CON_HEX_TOKEN_LEN NC_HTTPD_SECRET_HEX_LEN /* 32 random bytes, hex */
#define CON_SESSION_HEADER "Authorization"        /* "Bearer <session secret>" */

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
    char host_ip[48];                       /* "127.0.0.1:PORT": what links name */
    char ctl_sock[PATH_MAX];                /* the console's control socket (ctl.c) */
} con_ctx;

/* ---- session.c: one-time link tokens and per-tab sessions (sodium_malloc memory) ---- */
/* token_ttl_s: how long an unused link lives (0: CON_TOKEN_TTL_S). */
NC_MUST_CHECK nc_err con_session_init(unsigned token_ttl_s);
unsigned con_token_ttl(void);
/* A new one-time token (hex) into out. The oldest outstanding one is dropped
 * when CON_MAX_TOKENS are outstanding. The caller wipes out. */
NC_MUST_CHECK nc_err con_token_mint(char out[CON_HEX_TOKEN_LEN + 1]);
/* A fresh, unused token for a new session secret (into sid; the caller wipes
 * it): true once per token. Constant-time; the token is dead afterwards. */
bool con_token_exchange(const char *token, char sid[CON_HEX_TOKEN_LEN + 1]);
/* A session secret (constant-time per slot); refreshes its idle timer. */
bool con_session_lookup(const char *sid);
/* Log-out: the session is forgotten at once (true if it was live). */
bool con_session_end(const char *sid);

/* ---- http.c: responses in the console's format (the server adds the
 * security headers to every one) ---- */
enum MHD_Result con_send(struct MHD_Connection *conn, unsigned status, const char *content_type, const void *data,
                         size_t len, enum MHD_ResponseMemoryMode mode, const char *disposition);
/* Queues r (a response the caller made) and destroys it; on a handler
 * thread the answer is kept until the connection resumes (nc_httpd_queue). */
enum MHD_Result con_queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r);
/* json is stolen. */
enum MHD_Result con_send_json(struct MHD_Connection *conn, unsigned status, json_t *json);
enum MHD_Result con_send_error(struct MHD_Connection *conn, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- worker.c: calls to the worker ---- */
typedef struct {
    unsigned http_status;     /* 502 transport, 404 not_found, 400 invalid_request, 409 other refusals */
    char code[64];
    char message[512];
} con_call_error;
/* One connection per call. params is stolen. *result on NC_OK. */
NC_MUST_CHECK nc_err con_worker_call(const con_ctx *c, const char *op, json_t *params, json_t **result,
                                     con_call_error *err);
/* The same with its own timeout (approval.submit waits for the compile). */
NC_MUST_CHECK nc_err con_worker_call_timeout(const con_ctx *c, const char *op, json_t *params, int timeout_ms,
                                             json_t **result, con_call_error *err);
/* Answers a worker call: the result as JSON (200), or the error. params stolen. */
enum MHD_Result con_proxy(const con_ctx *c, struct MHD_Connection *conn, const char *op, json_t *params);
enum MHD_Result con_send_call_error(struct MHD_Connection *conn, const con_call_error *err);

/* ---- api.c: the /api routes (session and Origin already checked) ---- */
enum MHD_Result con_api(con_ctx *c, struct MHD_Connection *conn, const char *method, const char *url,
                        char *body, size_t body_len);
/* POST /api/session {token}: the one-time token for a session secret. */
enum MHD_Result con_api_exchange(struct MHD_Connection *conn, const char *body, size_t body_len);

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
/* The event streams are streams of server h. */
NC_MUST_CHECK nc_err con_events_start(const con_ctx *c, nc_httpd *h);
/* Stops the worker's event stream (nothing more is pushed); the server's
 * stop ends the clients' streams. */
void con_events_stop(void);
/* After the server stopped: the streams it still holds are released. */
void con_events_free(void);
/* The last alerts, newest first (new reference). */
json_t *con_alerts(void);
enum MHD_Result con_api_events(struct MHD_Connection *conn);

/* ---- ctl.c: the console's control socket (owner uid only) and `nightcore-console link` ---- */
/* Where the control socket of the console for home h lives (docs/console.md):
 * HOME/run/console.sock for a single-user home; for the service deployment
 * $XDG_RUNTIME_DIR/nightcore-console.sock, else beside the operator's
 * config.json. */
NC_MUST_CHECK nc_err con_ctl_path(const nc_home *h, char *out, size_t out_len, char *msg, size_t msg_len);
/* Binds c->ctl_sock (0600); refuses when another console answers there.
 * Call before any thread starts. */
NC_MUST_CHECK nc_err con_ctl_listen(con_ctx *c, char *msg, size_t msg_len);
/* Serves it on a thread (after the HTTP port is known). */
NC_MUST_CHECK nc_err con_ctl_start(const con_ctx *c);
void con_ctl_stop(void);
/* A control request line (without its newline): NULL for {"id": N, "op":
 * "link"}, else what is wrong; *id / *have_id for the error answer. */
const char *con_ctl_parse_request(const char *line, size_t len, uint64_t *id, bool *have_id);
/* The URL of a new one-time link into out ("http://127.0.0.1:PORT/?token=..."); the caller wipes it. */
NC_MUST_CHECK nc_err con_link_url(const con_ctx *c, char *out, size_t out_len);
/* `nightcore-console link [--home DIR]`. */
int con_link_main(int argc, char **argv);

/* ---- views.c: filtered lists, modules, the audit log's entries and
 * proofs, refusals, alerts, receipts checked here, and management (agent
 * removal, key revocation, alert acknowledgement, log-out). The bool says
 * whether the route was one of these. ---- */
bool con_views_get(con_ctx *c, struct MHD_Connection *conn, char **seg, size_t n, enum MHD_Result *ret);
bool con_views_post(con_ctx *c, struct MHD_Connection *conn, char **seg, size_t n, char *body, size_t len,
                    enum MHD_Result *ret);
/* A receipt or an entry's proof checked here, independently of the worker:
 * the leaf from the entry, the checkpoint's signature with the worker's key
 * (keys/worker.pub), the proof against the checkpoint's root.
 * {leaf, signature, proof, ok, error} */
json_t *con_check_proof(const con_ctx *c, const json_t *res);

/* approve.c: a policy signed as the CLI signs it (nightcore policy add) */
enum MHD_Result con_api_policy_prepare(con_ctx *c, struct MHD_Connection *conn, const char *body, size_t body_len);
enum MHD_Result con_api_policy_sign(con_ctx *c, struct MHD_Connection *conn, char *body, size_t body_len);

/* ---- dashboard.c ---- */
enum MHD_Result con_api_dashboard(con_ctx *c, struct MHD_Connection *conn);

/* ---- util ---- */
/* ids the API passes on: 1-80 of [A-Za-z0-9_-]. */
bool con_id_ok(const char *s);

#endif
