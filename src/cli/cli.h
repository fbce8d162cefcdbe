/* nightcore, the operator CLI: shared types and helpers (docs/cli.md).
 *
 * Every command is a row in the table in main.c: its options, positional
 * arguments and help text, and a function that gets the parsed arguments and
 * returns the process exit code. */
#ifndef NC_CLI_CLI_H
#define NC_CLI_CLI_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "common/home.h"
#include "common/rpc.h"

/* Exit codes (CONTRACT.md). */
enum {
    CLI_OK = 0,
    CLI_FAIL = 1,       /* failed; for `run`: it ran and did not succeed */
    CLI_USAGE = 2,      /* bad command line */
    CLI_REFUSED = 3,    /* the worker refused: nothing ran / nothing changed */
};

#define CLI_MAX_OPTS 20
#define CLI_MAX_REPEAT 16
#define CLI_MAX_POS 4

typedef struct {
    const char *name;   /* long name without "--" (a one-letter name is given as -X); NULL ends a table */
    bool has_value;     /* --name VALUE or --name=VALUE */
    bool repeat;        /* may be given more than once (values kept in order) */
    const char *help;   /* "VALUE: what it does" line for --help */
} cli_opt;

typedef struct cli_cmd cli_cmd;

typedef struct {
    const cli_cmd *cmd;
    int count[CLI_MAX_OPTS];                       /* times given */
    const char *val[CLI_MAX_OPTS];                 /* last value ("" for flags) */
    const char *multi[CLI_MAX_OPTS][CLI_MAX_REPEAT]; /* every value of a repeat option */
    const char *pos[CLI_MAX_POS];
    int npos;
    char **rest;        /* after "--" (commands with takes_rest) */
    int nrest;
} cli_args;

typedef struct {
    const char *home_override;  /* --home */
    nc_home home;
    bool home_resolved;
    bool json;                  /* --json given to this command */
    char refusal[64];           /* the code of the last refusal cli_call printed, "" if none */
} cli_ctx;

struct cli_cmd {
    const char *name;       /* "inbox show" */
    const char *synopsis;   /* arguments after the name, for usage lines */
    const char *summary;    /* one line for the overview */
    const char *details;    /* paragraph(s) for --help; may be NULL */
    const cli_opt *opts;    /* --home and --help are implicit */
    int min_pos, max_pos;
    bool takes_rest;        /* accepts "-- ARGS..." */
    int (*run)(cli_ctx *ctx, const cli_args *a);
};

/* ---- arguments ---- */
static inline bool cli_has(const cli_args *a, int opt) { return a->count[opt] > 0; }
static inline const char *cli_val(const cli_args *a, int opt) { return a->count[opt] ? a->val[opt] : NULL; }
/* Prints "nightcore CMD: <why>", the usage line and a hint; returns CLI_USAGE. */
int cli_usage_error(const cli_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_print_usage(FILE *f, const cli_cmd *cmd);
/* Strict decimal in [min, max]; false on anything else. */
bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "90s", "30m", "24h", "7d" (or plain seconds) in (0, max_s]. */
bool cli_parse_duration(const char *s, uint64_t max_s, uint64_t *out);

/* ---- messages ---- */
/* "nightcore: " + message on stderr. The format's own text is trusted; pass
 * anything from the worker or a file through cli_safe() first. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Escaped copy for a terminal: control characters, invalid UTF-8, bidi and
 * invisible format characters become \n, \xNN or \u{NNNN}. multiline keeps
 * '\n' (and '\t') as they are. Returns a malloc'd string (exits on OOM). */
char *cli_safe_ex(const char *s, size_t len, bool multiline);
char *cli_safe(const char *s);   /* NULL -> "" */
/* Writes s escaped. */
void cli_put_safe(FILE *f, const char *s);
/* Printed width of an escaped string (code points). */
size_t cli_width(const char *s);
void *cli_xmalloc(size_t n);
char *cli_xstrdup(const char *s);
void cli_oom(void) __attribute__((noreturn));

/* ---- formatting ---- */
void cli_fmt_age(int64_t t, char *out, size_t n);        /* "3m ago", "in 2h", "-" for 0 */
void cli_fmt_span(uint64_t seconds, char *out, size_t n); /* "45s", "30m", "24h", "7d", "1d 2h" */
void cli_fmt_size(uint64_t bytes, char *out, size_t n);   /* "512 B", "1.5 KiB" */
void cli_fmt_time(int64_t t, char *out, size_t n);        /* "2026-01-02 03:04:05 UTC" */

/* Aligned table; cells are escaped when added. */
typedef struct {
    size_t ncols, nrows, cap;
    const char *const *headers;
    char **cells;               /* nrows * ncols */
    unsigned right;             /* bit i: right-align column i */
} cli_table;
void cli_table_init(cli_table *t, size_t ncols, const char *const *headers, unsigned right_align);
/* ncols strings (NULL prints "-"). */
void cli_table_add(cli_table *t, ...);
void cli_table_print(const cli_table *t, FILE *f);
void cli_table_cleanup(cli_table *t);

/* ---- JSON ---- */
const char *cli_jstr(const json_t *o, const char *key);        /* NULL if absent / not a string */
int64_t cli_jint(const json_t *o, const char *key, int64_t def);
bool cli_jbool(const json_t *o, const char *key);
/* Pretty JSON on stdout, non-ASCII escaped. */
void cli_print_json(const json_t *v);
/* Compact JSON into a malloc'd string (escaped for a terminal). */
char *cli_json_compact(const json_t *v);

/* ---- home, files, worker ---- */
/* Resolves the home once (--home, $NIGHTCORE_HOME, ~/.nightcore); prints on error. */
int cli_home(cli_ctx *ctx);
int cli_home_path(cli_ctx *ctx, const char *rel, char *out, size_t n);
/* Reads a file the user named ("-": stdin), bounded; prints what went wrong. */
int cli_read_file(const char *path, size_t max, const char *what, uint8_t **data, size_t *len);
/* config.json as an object (empty object if missing). */
int cli_config_load(cli_ctx *ctx, json_t **cfg);
/* Connects to control.sock and checks the worker's uid at the other end
 * (nc_rpc_connect_as); prints nothing. */
nc_err cli_rpc_open(cli_ctx *ctx, nc_rpc **rpc, char *msg, size_t msg_len);
/* The same; prints "worker not running: ..." (or why not) on failure. */
int cli_connect(cli_ctx *ctx, nc_rpc **rpc);
/* One request: prints refusals (JSON on stdout with --json) and transport
 * errors. Returns CLI_OK, CLI_FAIL (transport, not_found, internal) or
 * CLI_REFUSED (every other refusal code). params stolen. */
int cli_call(cli_ctx *ctx, nc_rpc *rpc, const char *op, json_t *params, json_t **result);
/* The same, with raw stdin after the request (in_data may be NULL) and the
 * event lines before the response handed to on_event (nc_rpc_call_events). */
int cli_call_events(cli_ctx *ctx, nc_rpc *rpc, const char *op, json_t *params, const uint8_t *in_data,
                    size_t in_len, nc_rpc_event_fn on_event, void *ev_ctx, json_t **result);
/* Connect, call, close. */
int cli_request(cli_ctx *ctx, const char *op, json_t *params, json_t **result);
/* A listing: requests it; under --json prints it, and with no items prints
 * empty_msg. *result is set (and the caller prints a table of its "items")
 * only when there is something left to show; the return value is the exit code. */
int cli_list_request(cli_ctx *ctx, const char *op, json_t *params, const char *empty_msg, json_t **result);
/* The exit code for a refusal code. */
int cli_refusal_exit(const char *code);

/* ---- shared displays ---- */
/* Worker ids (submission, run, approval): 1-128 of A-Z a-z 0-9 _ -. */
bool cli_id_ok(const char *s);
/* A capabilities object in words, one line per kind, each line indented. */
void cli_print_caps(const char *indent, const json_t *caps);
/* "threat N/100" and the factors, one per line. */
void cli_print_threat(const json_t *threat);

/* First key line of a .pub file (blank lines and # comments skipped), checked
 * to be an accepted OpenSSH key (ssh-ed25519, sk-ssh-ed25519@openssh.com).
 * *line_out is malloc'd; fp gets its "SHA256:..." fingerprint
 * (NC_SSHKEY_FINGERPRINT_LEN bytes). Prints what is wrong. */
int cli_read_pub_key(const char *path, char **line_out, char *fp);

/* How a key proves a human ("fido", "passphrase", "none", "unknown") in words. */
const char *cli_protection_words(const char *protection);
/* status.trust: approver keys with their protection, the problem if any. */
void cli_print_trust_summary(const json_t *trust);

/* ---- signing (sign_flow.c) ---- */
/* The approver principal (--principal, config.json) and, if need_key, the
 * key (--key, config.json approver_key, keys/approver). Prints what is missing. */
int cli_approver_setup(cli_ctx *ctx, const char *key_opt, const char *principal_opt, bool need_key, char *key,
                       size_t key_len, char *principal, size_t principal_len);
/* [label, text] pairs as aligned lines. */
void cli_print_pairs(FILE *f, const json_t *pairs);
typedef struct {
    const char *title;            /* "You are about to approve:" */
    const json_t *pairs;          /* the statement in words (approver library) */
    const char *stmt;             /* the exact bytes */
    size_t stmt_len;
    const char *ns;               /* SSHSIG namespace */
    const char *key;              /* signing key (NULL with out_path) */
    bool yes;                     /* do not ask */
    const char *out_path;         /* only write the statement there */
    const char *handover;         /* the command that hands a signature over, for the hint */
    const char *question;         /* "Sign and approve?" */
} cli_sign_req;
/* Shows the statement, then writes it (out_path: *sig stays NULL), or asks
 * and signs with ssh-keygen (*sig malloc'd). CLI_REFUSED if signing failed. */
int cli_sign_flow(cli_ctx *ctx, const cli_sign_req *r, uint8_t **sig, size_t *sig_len);

/* ---- commands ---- */
int cmd_init(cli_ctx *ctx, const cli_args *a);
int cmd_worker_start(cli_ctx *ctx, const cli_args *a);
int cmd_worker_stop(cli_ctx *ctx, const cli_args *a);
int cmd_worker_status(cli_ctx *ctx, const cli_args *a);
int cmd_submit(cli_ctx *ctx, const cli_args *a);
int cmd_inbox(cli_ctx *ctx, const cli_args *a);
int cmd_inbox_show(cli_ctx *ctx, const cli_args *a);
int cmd_reject(cli_ctx *ctx, const cli_args *a);
int cmd_approve(cli_ctx *ctx, const cli_args *a);
int cmd_approvals(cli_ctx *ctx, const cli_args *a);
int cmd_revoke(cli_ctx *ctx, const cli_args *a);
int cmd_run(cli_ctx *ctx, const cli_args *a);
int cmd_runs(cli_ctx *ctx, const cli_args *a);
int cmd_runs_show(cli_ctx *ctx, const cli_args *a);
int cmd_runs_cancel(cli_ctx *ctx, const cli_args *a);
int cmd_policy_list(cli_ctx *ctx, const cli_args *a);
int cmd_policy_show(cli_ctx *ctx, const cli_args *a);
int cmd_policy_add(cli_ctx *ctx, const cli_args *a);
int cmd_policy_remove(cli_ctx *ctx, const cli_args *a);
int cmd_trust_list(cli_ctx *ctx, const cli_args *a);
int cmd_trust_add(cli_ctx *ctx, const cli_args *a);
int cmd_agent_add(cli_ctx *ctx, const cli_args *a);
int cmd_agent_list(cli_ctx *ctx, const cli_args *a);
int cmd_agent_remove(cli_ctx *ctx, const cli_args *a);
int cmd_trust_revoke(cli_ctx *ctx, const cli_args *a);
int cmd_trust_restore(cli_ctx *ctx, const cli_args *a);
int cmd_doctor(cli_ctx *ctx, const cli_args *a);
int cmd_system_install(cli_ctx *ctx, const cli_args *a);
int cmd_system_start(cli_ctx *ctx, const cli_args *a);
int cmd_system_stop(cli_ctx *ctx, const cli_args *a);
int cmd_system_uninstall(cli_ctx *ctx, const cli_args *a);
int cmd_audit_verify(cli_ctx *ctx, const cli_args *a);
int cmd_audit_checkpoint(cli_ctx *ctx, const cli_args *a);
int cmd_audit_export(cli_ctx *ctx, const cli_args *a);
int cmd_audit_tail(cli_ctx *ctx, const cli_args *a);
/* runs show RUN --receipt (cmd_audit.c) */
int cmd_runs_receipt(cli_ctx *ctx, const cli_args *a);

/* Option indexes, shared by the table in main.c and the commands. */
enum { OPT_JSON = 0 };                                   /* listing commands: --json only */
enum { INIT_GENERATE, INIT_NO_PASS, INIT_APPROVER_KEY, INIT_PRINCIPAL };
enum { SUBMIT_NAME, SUBMIT_MANIFEST, SUBMIT_JSON };
enum { INBOX_JSON, INBOX_ALL };
enum { REJECT_REASON, REJECT_JSON };
enum { APPROVE_POLICY, APPROVE_MAX_RUNS, APPROVE_EXPIRES, APPROVE_ALLOW_AGENT, APPROVE_KEY, APPROVE_YES,
       APPROVE_STATEMENT_OUT, APPROVE_STATEMENT, APPROVE_SIGNATURE, APPROVE_PRINCIPAL, APPROVE_JSON, APPROVE_DIR,
       APPROVE_ENV, APPROVE_NO_ARGS, APPROVE_NO_STDIN, APPROVE_GRANT_REQUESTED };
enum { APPROVALS_JSON, APPROVALS_NAME, APPROVALS_LIMIT };
enum { RUN_STDIN, RUN_JSON, RUN_EXIT_CODE };
enum { RUNS_JSON, RUNS_LIMIT, RUNS_NAME };
enum { TRUST_ADD_PRINCIPAL, TRUST_ADD_APPROVER_ONLY, TRUST_ADD_REQUIRE_UV, TRUST_ADD_KEY, TRUST_ADD_APPROVER,
       TRUST_ADD_YES, TRUST_ADD_EXPIRES, TRUST_ADD_STATEMENT_OUT, TRUST_ADD_STATEMENT, TRUST_ADD_SIGNATURE,
       TRUST_ADD_JSON };
enum { TRUST_REVOKE_FORCE, TRUST_REVOKE_JSON };
enum { WORKER_START_DEV };
enum { POLICY_ADD_KEY, POLICY_ADD_APPROVER, POLICY_ADD_YES, POLICY_ADD_STATEMENT_OUT, POLICY_ADD_STATEMENT,
       POLICY_ADD_SIGNATURE, POLICY_ADD_JSON };
enum { SYS_USER, SYS_OPERATOR, SYS_APPROVER_KEY, SYS_PRINCIPAL, SYS_PREFIX, SYS_HOME, SYS_RUN_DIR, SYS_NO_SYSTEMD };
enum { SYS_PURGE };
enum { RUNS_SHOW_JSON, RUNS_SHOW_RECEIPT };
enum { AUDIT_VERIFY_ANCHOR, AUDIT_VERIFY_JSON };
enum { AUDIT_CHECKPOINT_KEY, AUDIT_CHECKPOINT_JSON };
enum { AUDIT_EXPORT_FORMAT, AUDIT_EXPORT_OUT };
enum { AUDIT_TAIL_N, AUDIT_TAIL_FOLLOW, AUDIT_TAIL_JSON };   /* "n": one-letter options are given as -n */

#endif
