/* The worker daemon: one libuv loop owns the sockets, the database and all
 * state; sandbox runs and artifact compilation go to the thread pool and come
 * back to the loop to be recorded. docs/protocol.md is the interface. */
#ifndef NC_WORKER_WORKER_H
#define NC_WORKER_WORKER_H
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "common/buf.h"
#include "audit/audit.h"
#include "common/home.h"
#include "sandbox/sandbox.h"
#include "store/db.h"
#include "trust/statement.h"
#include "trust/ledger.h"
#include "trust/privkey.h"
#include "trust/truststore.h"

#define NC_WORKER_MAX_LINE (32u * 1024 * 1024)
#define NC_WORKER_MAX_SUBSCRIBER_BACKLOG 1000u
#define NC_WORKER_QUEUE_LIMIT 64u
#define NC_WORKER_MAX_PENDING_PER_SOURCE 1000
#define NC_WORKER_MAX_PENDING_TOTAL 10000
#define NC_WORKER_RATE_BURST 60.0          /* submissions */
#define NC_WORKER_RATE_PER_SEC 1.0
#define NC_WORKER_MAX_RATE_SOURCES 256
#define NC_WORKER_AGENT_RATE_BURST 10.0
#define NC_WORKER_AGENT_RATE_PER_SEC 0.2
#define NC_WORKER_AGENT_MAX_PENDING 20
#define NC_WORKER_AGENT_MAX_RUNS 1
/* Streamed runs (docs/protocol.md): output events carry at most this many
 * bytes; progress comes at most this often while a run is in progress. */
#define NC_WORKER_OUTPUT_CHUNK (64u * 1024)
#define NC_WORKER_PROGRESS_MS 250u
/* Approvals' compiles (compile.c): at most this many compile children at
 * once (each uses every core and up to NC_COMPILE_MAX_DATA_BYTES), the
 * others queued in order; approval.progress this often while one waits. */
#define NC_WORKER_MAX_COMPILES 2u
#define NC_WORKER_COMPILE_PROGRESS_MS 1000u
#define NC_WORKER_MAX_OPERATORS 16
/* Connections (docs/protocol.md "Limits"): agent.sock is capped globally and
 * per peer uid, below the descriptors the worker has, so control.sock and the
 * runs always have theirs. */
#define NC_WORKER_MAX_AGENT_CONNS 512u
#define NC_WORKER_MAX_AGENT_CONNS_PER_UID 128u
#define NC_WORKER_MAX_CONTROL_CONNS 256u
#define NC_WORKER_FD_RESERVE 128u   /* descriptors kept for the database, runs and logs */
#define NC_WORKER_AUTH_TIMEOUT_MS 10000u       /* agent.sock: a valid token within this, or closed */
#define NC_WORKER_IDLE_TIMEOUT_MS 900000u      /* agent.sock: no request for this long: closed */
#define NC_WORKER_STALL_TIMEOUT_MS 60000u      /* replies not read for this long: closed */
/* Replies waiting to be read: past this, no more requests are read from
 * that connection until the peer catches up. */
#define NC_WORKER_QUEUE_PAUSE_BYTES (4u * 1024 * 1024)
#define NC_WORKER_QUEUE_PAUSE_WRITES 64u
/* Refusals in the audit log: per peer (socket, uid) a burst, then one every
 * NC_WORKER_REFUSAL_EVERY_S; the rest counted, one summary a minute. */
/* A submission's audit entry: analysis and drift bounded to this, with the
 * digests of the full ones. */
#define NC_WORKER_LOG_ITEMS 64u
#define NC_WORKER_LOG_STRING 200u
#define NC_WORKER_REFUSAL_BURST 16.0
#define NC_WORKER_REFUSAL_EVERY_S 10.0
#define NC_WORKER_REFUSAL_PEERS 64u   /* peers tracked; beyond that, one shared bucket */

typedef struct nc_worker nc_worker;
typedef struct nc_client nc_client;

struct nc_client {
    nc_worker *w;
    uv_pipe_t pipe;
    bool agent_socket;
    uid_t uid;          /* the peer's (SO_PEERCRED) */
    bool authenticated; /* agent.sock: a request with a valid token was seen */
    nc_buf in;
    size_t scanned;     /* bytes of `in` already searched for a newline */
    /* A request with "stdin_bytes": N is followed by N raw bytes (the
     * server reads them before dispatching): borrowed for the op's call. */
    const uint8_t *raw;
    size_t raw_len;
    bool busy;          /* an asynchronous op is in progress: later lines wait */
    bool paused;        /* too many replies unread: not reading requests */
    bool close_after_write;
    char op[40];        /* the op being answered (for the audit log's refusals) */
    bool subscribed;
    char agent_source[96];   /* agent.sock: "agent:NAME" once a request carried its token */
    bool closing;
    unsigned pending_writes;
    unsigned deferred;      /* of those, held until durable (durable.c) */
    size_t queued_bytes;    /* of those writes */
    uint64_t last_activity_ms, last_progress_ms;
    uv_timer_t timer;       /* authentication, idle and stall deadlines */
    int refs;           /* the loop's own + one per op in flight */
    nc_client *next;
};

typedef struct {
    bool agent_socket;
    uid_t uid;
    double tokens;
    uint64_t updated_ms;
    uint64_t suppressed;
} nc_refusal_bucket;

typedef struct nc_queued_run nc_queued_run;
typedef struct nc_unrecorded nc_unrecorded;
typedef struct nc_compile_job nc_compile_job;

typedef struct {
    char source[80];
    double tokens;
    uint64_t updated_ms;
} nc_rate_bucket;

struct nc_worker {
    uv_loop_t *loop;
    nc_home home;
    char db_path[4096], trust_dir[4096], trust_record[4096], blobs[4096], artifacts[4096];
    char control_path[4096], agent_path[4096], pid_path[4096], run_dir[4096];
    char worker_id[24];
    nc_db *db;
    nc_sandbox *sandbox;
    uv_pipe_t control, agent;
    uv_signal_t sigterm, sigint;
    nc_client *clients;
    int64_t started_at;
    unsigned running, limit, queued, queue_limit, compiling;
    nc_queued_run *queue_head, *queue_tail;
    nc_rate_bucket rates[NC_WORKER_MAX_RATE_SOURCES];
    unsigned nrates;
    bool stopping;
    int pid_fd;
    /* audit log */
    nc_audit audit;
    unsigned char *sk;          /* worker signing key (sodium_malloc), checkpoints only */
    uint8_t pk[32];
    char checkpoint_path[4096]; /* the latest checkpoint, outside the database */
    uint64_t checkpoint_size;
    uv_timer_t checkpoint_timer;
    /* durability (durable.c): replies and run starts wait for a sync of the
     * WAL covering the commits before them */
    char wal_path[4104], state_dir[4096];
    uint64_t synced_gen, sync_target, syncs;
    bool syncing, sync_wanted, dir_synced, sync_failed;
    int sync_errno;
    uv_work_t sync_req;
    struct nc_write *deferred_head, *deferred_tail;
    /* runs in progress (run.c): their output and progress reach the loop
     * from the sandbox threads through run_async; progress_timer ticks
     * while any runs */
    nc_queued_run *active;
    uv_async_t run_async;
    uv_timer_t progress_timer;
    /* approvals' compiles (compile.c): queued and running, in order; each
     * running one waits for its compile child on a thread of its own and
     * reports back through compile_async */
    nc_compile_job *compile_head, *compile_tail;
    unsigned compiles_running;
    uv_async_t compile_async;
    uv_timer_t compile_timer;
    /* runs that finished but could not be recorded yet (run.c) */
    nc_unrecorded *unrecorded;
    unsigned nunrecorded;
    /* connections and refusals (server.c, log.c) */
    unsigned nagent_conns, ncontrol_conns;
    unsigned max_agent_conns, max_agent_conns_per_uid, max_control_conns;   /* the caps, fitted to RLIMIT_NOFILE */
    uint64_t auth_timeout_ms, stall_timeout_ms;   /* NC_WORKER_*_TIMEOUT_MS, or the environment's */
    uint64_t conns_refused, emfile_errors, last_emfile_log_ms;
    nc_refusal_bucket refusal_peers[NC_WORKER_REFUSAL_PEERS];
    unsigned nrefusal_peers;
    /* trust (trust.c): the ledger replayed from the audit log */
    nc_trust_ledger *ledger;
    char trust_problem[1024];   /* the last difference found between files and ledger, "" if none */
    /* deployment */
    bool dev_mode;              /* --insecure-dev: the console may sign with passphrase-less keys */
    bool service;               /* sockets outside the home, operators by uid (docs/sandbox.md) */
    uid_t operator_uids[NC_WORKER_MAX_OPERATORS];
    unsigned noperators;
};

/* server.c */
void nc_client_ref(nc_client *c);
void nc_client_unref(nc_client *c);
void nc_reply(nc_client *c, json_t *id, json_t *result /* stolen */);
void nc_reply_error(nc_client *c, json_t *id, nc_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void nc_reply_error_code(nc_client *c, json_t *id, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A refusal whose error object carries more fields (stolen; may be NULL)
 * beside code and message, e.g. {"run_id": ...} for busy. */
void nc_reply_error_fields(nc_client *c, json_t *id, nc_err code, json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* One event line {"event": {type, at, ...fields}} to this connection alone,
 * in order with its replies (a streamed run's output and progress). */
void nc_send_event(nc_client *c, const char *type, json_t *fields /* stolen */);
/* The same with len raw bytes after the line; the line says "bytes": len. */
void nc_send_event_raw(nc_client *c, const char *type, json_t *fields /* stolen */, const uint8_t *data,
                       size_t len);
/* A failure to read or record state, by cause (no space, corrupt, ...):
 * "could not read or record WHAT: WHY". */
void nc_reply_store_error(nc_client *c, json_t *id, nc_err err, const char *what);
/* The cause of err in words that say what to do, for replies and logs. */
void nc_worker_failure(nc_worker *w, nc_err err, char *out, size_t out_len);
/* An asynchronous op finished: let the client's next request through. */
void nc_client_done(nc_client *c);
/* Durability (durable.c). nc_durable: the commits up to gen are on disk.
 * nc_durable_request: a sync of the WAL will cover every commit made so far.
 * nc_durable_now: the same, blocking (for the checkpoint file). */
bool nc_durable(const nc_worker *w, uint64_t gen);
void nc_durable_request(nc_worker *w);
NC_MUST_CHECK nc_err nc_durable_now(nc_worker *w);
/* server.c: writes held for durability go out (flush) or are dropped with
 * their connections (drop: the disk failed). */
void nc_server_flush_deferred(nc_worker *w);
void nc_server_drop_deferred(nc_worker *w);
/* run.c: queued runs whose start is durable now start; after a failed sync
 * none of those waiting start. */
void nc_runs_resume(nc_worker *w);
void nc_runs_drop_undurable(nc_worker *w);
/* agent.sock: the request carried a valid token. */
void nc_client_authenticated(nc_client *c);
void nc_emit(nc_worker *w, const char *type, json_t *fields /* stolen */);
NC_MUST_CHECK nc_err nc_server_listen(nc_worker *w, char *msg, size_t msg_len);
void nc_server_stop(nc_worker *w);
/* Stopping: once nothing is in flight, leave the loop. */
void nc_worker_maybe_stop(nc_worker *w);

/* ops.c */
void nc_dispatch(nc_client *c, json_t *req);
/* Parameter helpers: unknown params are refused (and answered). */
bool nc_params_ok(nc_client *c, json_t *id, json_t *req, const char *const *allowed);
const char *nc_str_param(json_t *req, const char *key);
bool nc_int_param(nc_client *c, json_t *id, json_t *req, const char *key, int64_t def, int64_t min, int64_t max,
                  int64_t *out);
void nc_reply_db_error(nc_client *c, json_t *id, nc_err err, const char *what);
int64_t nc_unix_now(void);
void nc_random_id(const char *prefix, char *out, size_t out_len);

/* log.c: the audit log. nc_log appends inside the caller's transaction; on
 * failure the caller rolls back and calls nc_log_abort. */
NC_MUST_CHECK nc_err nc_log(nc_worker *w, const char *type, json_t *fields /* stolen */, uint64_t *seq);
void nc_log_abort(nc_worker *w);
/* A trust or policy change: its entry appended and committed, then applied
 * to the ledger (trust.c). fields is stolen; msg says why on failure
 * ("nothing changed" when the log could not be written). */
NC_MUST_CHECK nc_err nc_worker_ledger_record(nc_worker *w, const char *type, json_t *fields, char *msg,
                                             size_t msg_len);
/* A refused request, in a transaction of its own, within the peer's budget
 * (the rest are counted and summarised once a minute). */
void nc_log_refused(nc_worker *w, nc_client *c, const char *code, const char *message);
/* One refused.summary entry per peer with refusals not logged one by one. */
void nc_log_refusal_summaries(nc_worker *w);
/* Signs a checkpoint if the log grew since the last one; writes it outside
 * the database too. */
NC_MUST_CHECK nc_err nc_log_checkpoint(nc_worker *w, bool force, char *note, size_t note_len);
/* At start: the database must still contain what the last checkpoint saw. */
NC_MUST_CHECK nc_err nc_log_check_anchor(nc_worker *w, char *msg, size_t msg_len);
void nc_log_start_timer(nc_worker *w);
/* audit.verify: the whole log verified off the loop, on a read-only connection. */
void nc_op_audit_verify(nc_client *c, json_t *id, json_t *req);

/* run.c */
/* The loop's handles for runs in progress; call once the loop exists. */
NC_MUST_CHECK nc_err nc_runs_init(nc_worker *w);
void nc_op_run(nc_client *c, json_t *id, json_t *req);
void nc_op_run_start(nc_client *c, json_t *id, json_t *req);
void nc_op_run_get(nc_client *c, json_t *id, json_t *req);
void nc_op_run_cancel(nc_client *c, json_t *id, json_t *req);
/* run.start, run.get, run.cancel on behalf of an agent ("agent:NAME"): only
 * its own runs; anything else is not_found. */
void nc_run_start_as(nc_client *c, json_t *id, json_t *req, const char *invoker);
void nc_run_get_as(nc_client *c, json_t *id, json_t *req, const char *invoker);
void nc_run_cancel_as(nc_client *c, json_t *id, json_t *req, const char *invoker);
/* Records the runs that finished while the database could not take their
 * end (a full disk): called every second, and once more before the worker
 * stops. */
void nc_runs_record_pending(nc_worker *w, bool last /* the worker is stopping: give up on what fails */);
/* A run on behalf of invoker ("operator" or "agent:NAME"). */
void nc_run_as(nc_client *c, json_t *id, json_t *req, const char *invoker);
/* Submission from a source ("operator" or "agent:NAME") under its limits. */
typedef struct {
    double burst, per_sec;          /* token bucket */
    int64_t max_pending;            /* pending submissions from this source */
    bool agent;                     /* an agent's: a WASI command with provided imports only; answered with the
                                       analysis and agent_state, without approval ids */
} nc_submit_limits;
void nc_submit(nc_client *c, json_t *id, json_t *req, const char *source, const nc_submit_limits *lim);
/* compile.c: an approval's module compiled in a compile child, off the
 * loop. The caller fills the first fields and keeps the job (and what it
 * points to) alive until done is called, on the loop, once, with err, msg,
 * art and report set; done may free the job. Meanwhile approval.progress
 * events go to subscribers and, with progress, to c. */
struct nc_compile_job {
    nc_client *c;                /* the asker (referenced by the caller), or NULL */
    bool progress;               /* c asked for approval.progress events */
    const uint8_t *module;
    size_t module_len;
    bool fuel;
    nc_tier tier;                /* the artifact's: the statement's isolation */
    const char *submission, *name, *sha256;   /* for the events */
    void (*done)(nc_compile_job *job);
    nc_err err;
    char msg[512];
    nc_artifact art;
    nc_compile_report report;
    /* compile.c's own */
    nc_worker *w;
    nc_compile_job *next;
    uint64_t accepted_ms;
    bool running, thread_started;
    int finished;                /* set by the compile thread (atomically) */
    pthread_t thread;
    nc_run_cancel *cancel;
};
NC_MUST_CHECK nc_err nc_compiles_init(nc_worker *w);
void nc_compile_start(nc_worker *w, nc_compile_job *job);
/* The worker stops: queued compiles fail, running ones are cancelled. */
void nc_compiles_stop(nc_worker *w);
/* {running, queued} for status. */
json_t *nc_compiles_status(const nc_worker *w);

/* agent.c */
void nc_agent_dispatch(nc_client *c, json_t *req);
/* sub (stolen) as its agent sees it: without approval ids, with agent_state
 * (docs/protocol.md "Agent ops"). */
json_t *nc_agent_submission_view(nc_worker *w, json_t *sub, const char *source);
/* An event for an agent's subscription (c->agent_source): NULL when it is
 * not about the agent's own submissions, runs or approvals; otherwise an
 * array of the events to send (new reference). */
json_t *nc_agent_events_for(nc_client *c, const char *type, const json_t *ev);
void nc_op_agent_add(nc_client *c, json_t *id, json_t *req);
void nc_op_agent_list(nc_client *c, json_t *id, json_t *req);
void nc_op_agent_remove(nc_client *c, json_t *id, json_t *req);
void nc_op_approval_submit(nc_client *c, json_t *id, json_t *req);

/* views.c: stats, filtered lists, audit entries, refusals, alerts
 * (docs/protocol.md "Views"); false when op is not one of them. */
bool nc_views_dispatch(nc_client *c, json_t *id, const char *op, json_t *req);
/* An alert event is also an audit entry (type "alert"), in its own
 * transaction, the same alert at most once in 10 minutes. */
void nc_views_record_alert(nc_worker *w, const json_t *ev);

/* policy.c */
void nc_op_policy_list(nc_client *c, json_t *id, json_t *req);
void nc_op_policy_get(nc_client *c, json_t *id, json_t *req);
void nc_op_policy_prepare(nc_client *c, json_t *id, json_t *req);
void nc_op_policy_add(nc_client *c, json_t *id, json_t *req);
void nc_op_policy_remove(nc_client *c, json_t *id, json_t *req);
json_t *nc_worker_policy_json(const nc_policy *p, bool builtin);
/* [{policy, version, builtin, allows_request, why_not}]: which policies allow
 * what a submission asked for (its "requested" capabilities). */
json_t *nc_worker_grantable(nc_worker *w, const json_t *requested);
/* What an approval grants under pol: the policy's own capabilities, or the
 * grants asked for ({args, stdin, dirs, env}: given parts replace the
 * policy's, args/stdin only narrow), or exactly what the submission requested;
 * within the ceiling, directories resolved and recorded by device and inode. */
NC_MUST_CHECK nc_err nc_worker_build_grant(nc_worker *w, const nc_policy *pol, const json_t *grants,
                                           bool grant_requested, const json_t *requested, nc_caps *out, char *msg,
                                           size_t msg_len);
/* A signed statement against the policy it names (current version, within the
 * ceiling, the key it requires); statements without a policy against the
 * built-ins. *out: the policy. */
NC_MUST_CHECK nc_err nc_worker_check_statement_policy(nc_worker *w, const nc_statement *st, nc_sshkey_type key_type,
                                                      uint8_t sk_flags, const nc_policy **out, char *msg,
                                                      size_t msg_len);

/* deploy.c */
/* The home and its state files belong to the worker's user and are not
 * writable by group or others; NC_ERR_UNAUTHORIZED (msg says what) if not. */
NC_MUST_CHECK nc_err nc_worker_check_home(nc_worker *w, char *msg, size_t msg_len);
/* {mode: single-user|service, user, uid, [operators], run_dir, note} */
json_t *nc_worker_deployment_json(const nc_worker *w);
json_t *nc_worker_tiers_json(nc_worker *w);   /* worker status: the isolation tiers */

/* trust.c */
/* At start: replays the audit log's trust entries into w->ledger (refusing a
 * log whose trust entries do not verify), adopts the files as the root of
 * trust if there is none yet, and reports a difference between files and
 * ledger (the worker still starts; what needs trust is refused). */
NC_MUST_CHECK nc_err nc_worker_trust_open(nc_worker *w, char *msg, size_t msg_len);
/* The trust store for a verification: the files, checked against the ledger
 * (NC_ERR_TAMPERED naming the difference), with the ledger's UV keys. */
NC_MUST_CHECK nc_err nc_worker_trust_load(nc_worker *w, nc_trust_store *ts, char *msg, size_t msg_len);
nc_key_protection nc_worker_key_protection(nc_worker *w, const nc_sshkey *key);
json_t *nc_worker_trust_keys_json(nc_worker *w);
void nc_op_trust_list(nc_client *c, json_t *id, json_t *req);
void nc_op_trust_prepare(nc_client *c, json_t *id, json_t *req);
void nc_op_trust_add(nc_client *c, json_t *id, json_t *req);
void nc_op_trust_revoke(nc_client *c, json_t *id, json_t *req);
void nc_op_trust_restore(nc_client *c, json_t *id, json_t *req);

#endif
