/* nightcore: the operator command line. The command table, the option parser
 * and the dispatcher; each command lives in cmd_*.c (docs/cli.md). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"

static const cli_opt json_only[] = {
    [OPT_JSON] = {"json", false, false, "print JSON instead of text"},
    {NULL, false, false, NULL},
};
static const cli_opt no_opts[] = {{NULL, false, false, NULL}};

static const cli_opt init_opts[] = {
    [INIT_GENERATE] = {"generate-key", false, false,
                       "make an approver key with ssh-keygen at $NIGHTCORE_HOME/keys/approver and trust it"},
    [INIT_NO_PASS] = {"no-passphrase", false, false, "with --generate-key: no passphrase (for tests and demos)"},
    [INIT_APPROVER_KEY] = {"approver-key", true, false, "KEY.pub: trust an existing OpenSSH ed25519 key"},
    [INIT_PRINCIPAL] = {"principal", true, false, "P: the approver's name in the trust store (default $USER@host)"},
    {NULL, false, false, NULL},
};
static const cli_opt submit_opts[] = {
    [SUBMIT_NAME] = {"name", true, false, "NAME: module name (1-64 of A-Z a-z 0-9 . _ -)"},
    [SUBMIT_MANIFEST] = {"manifest", true, false,
                         "M.json: {\"description\": \"...\", \"capabilities\": {...}} (what it asks for)"},
    [SUBMIT_JSON] = {"json", false, false, "print the submission as JSON"},
    {NULL, false, false, NULL},
};
static const cli_opt inbox_opts[] = {
    [INBOX_JSON] = {"json", false, false, "print JSON instead of a table"},
    [INBOX_ALL] = {"all", false, false, "every submission, not only pending ones"},
    {NULL, false, false, NULL},
};
static const cli_opt reject_opts[] = {
    [REJECT_REASON] = {"reason", true, false, "TEXT: why (recorded in the audit log)"},
    [REJECT_JSON] = {"json", false, false, "print the submission as JSON"},
    {NULL, false, false, NULL},
};
static const cli_opt approve_opts[] = {
    [APPROVE_POLICY] = {"policy", true, false, "NAME: policy (capability and limit ceiling; default \"default\")"},
    [APPROVE_MAX_RUNS] = {"max-runs", true, false, "N: how many runs it allows (1-1000000000; default 10)"},
    [APPROVE_EXPIRES] = {"expires", true, false, "SPAN: valid for 3600s, 30m, 24h (default) or 7d (60s to 366d)"},
    [APPROVE_ALLOW_AGENT] = {"allow-agent", true, true, "NAME: agent NAME may run it too (repeatable)"},
    [APPROVE_KEY] = {"key", true, false,
                     "KEY: approver key for ssh-keygen (default: config.json approver_key, else keys/approver)"},
    [APPROVE_YES] = {"yes", false, false, "do not ask for confirmation (required without a terminal)"},
    [APPROVE_STATEMENT_OUT] = {"statement-out", true, false, "FILE: only write the statement to sign elsewhere"},
    [APPROVE_STATEMENT] = {"statement", true, false, "FILE: a statement signed elsewhere (with --signature)"},
    [APPROVE_SIGNATURE] = {"signature", true, false, "FILE.sig: its ssh-keygen -Y sign signature"},
    [APPROVE_PRINCIPAL] = {"principal", true, false, "P: approver principal (default: config.json principal)"},
    [APPROVE_JSON] = {"json", false, false, "print the approval as JSON"},
    [APPROVE_DIR] = {"dir", true, true, "HOST:GUEST[:ro|rw]: grant a directory (within the policy; repeatable)"},
    [APPROVE_ENV] = {"env", true, true, "KEY=VALUE: grant an environment variable (within the policy; repeatable)"},
    [APPROVE_NO_ARGS] = {"no-args", false, false, "grant no arguments"},
    [APPROVE_NO_STDIN] = {"no-stdin", false, false, "grant no stdin"},
    [APPROVE_GRANT_REQUESTED] = {"grant-requested", false, false,
                                 "grant exactly what the submission asked for (refused if the policy does not allow it)"},
    {NULL, false, false, NULL},
};
static const cli_opt policy_add_opts[] = {
    [POLICY_ADD_KEY] = {"key", true, false, "KEY: your admin key (default: config.json approver_key, else keys/approver)"},
    [POLICY_ADD_APPROVER] = {"approver", true, false, "P: your principal (default: config.json principal)"},
    [POLICY_ADD_YES] = {"yes", false, false, "do not ask for confirmation (required without a terminal)"},
    [POLICY_ADD_STATEMENT_OUT] = {"statement-out", true, false, "FILE: only write the statement to sign elsewhere"},
    [POLICY_ADD_STATEMENT] = {"statement", true, false, "FILE: a statement signed elsewhere (with --signature)"},
    [POLICY_ADD_SIGNATURE] = {"signature", true, false, "FILE.sig: its `ssh-keygen -Y sign -n nightcore-admin-v1` signature"},
    [POLICY_ADD_JSON] = {"json", false, false, "print the policy as JSON"},
    {NULL, false, false, NULL},
};
static const cli_opt approvals_opts[] = {
    [APPROVALS_JSON] = {"json", false, false, "print JSON instead of a table"},
    [APPROVALS_NAME] = {"name", true, false, "NAME: only approvals of this module"},
    [APPROVALS_LIMIT] = {"limit", true, false, "N: at most N (default 50, at most 1000)"},
    {NULL, false, false, NULL},
};
static const cli_opt run_opts[] = {
    [RUN_STDIN] = {"stdin", true, false, "FILE: bytes for the module's stdin (\"-\": this program's stdin)"},
    [RUN_JSON] = {"json", false, false, "print the run object as JSON instead of the module's output"},
    [RUN_EXIT_CODE] = {"exit-code", false, false,
                       "exit 4+N when the module exits N (1-251; 255 beyond); 0-3 keep their meaning"},
    {NULL, false, false, NULL},
};
static const cli_opt runs_opts[] = {
    [RUNS_JSON] = {"json", false, false, "print JSON instead of a table"},
    [RUNS_LIMIT] = {"limit", true, false, "N: at most N runs, newest first (default 20, at most 1000)"},
    [RUNS_NAME] = {"name", true, false, "NAME: only runs of this module"},
    {NULL, false, false, NULL},
};
static const cli_opt trust_add_opts[] = {
    [TRUST_ADD_PRINCIPAL] = {"principal", true, false, "P: the name approvals signed by the new key will carry"},
    [TRUST_ADD_APPROVER_ONLY] = {"approver-only", false, false,
                                 "the new key approves modules but cannot sign trust or policy changes"},
    [TRUST_ADD_REQUIRE_UV] = {"require-verification", false, false,
                              "security keys: require the PIN (user verification) on every signature, not only a touch"},
    [TRUST_ADD_KEY] = {"key", true, false,
                       "KEY: your admin key that signs the change (default: config.json approver_key, else keys/approver)"},
    [TRUST_ADD_APPROVER] = {"approver", true, false, "P: your principal (default: config.json principal)"},
    [TRUST_ADD_YES] = {"yes", false, false, "do not ask for confirmation (required without a terminal)"},
    [TRUST_ADD_EXPIRES] = {"expires", true, false, "SPAN: how long the statement may be handed over (default 1h, at most 7d)"},
    [TRUST_ADD_STATEMENT_OUT] = {"statement-out", true, false, "FILE: only write the statement to sign elsewhere"},
    [TRUST_ADD_STATEMENT] = {"statement", true, false, "FILE: a statement signed elsewhere (with --signature)"},
    [TRUST_ADD_SIGNATURE] = {"signature", true, false, "FILE.sig: its `ssh-keygen -Y sign -n nightcore-admin-v1` signature"},
    [TRUST_ADD_JSON] = {"json", false, false, "print the result as JSON"},
    {NULL, false, false, NULL},
};
static const cli_opt trust_revoke_opts[] = {
    [TRUST_REVOKE_FORCE] = {"force", false, false, "revoke even the last admin key (no key can be added afterwards)"},
    [TRUST_REVOKE_JSON] = {"json", false, false, "print the result as JSON"},
    {NULL, false, false, NULL},
};
static const cli_opt worker_start_opts[] = {
    [WORKER_START_DEV] = {"insecure-dev", false, false,
                          "development and tests: the console may sign with keys without a passphrase"},
    {NULL, false, false, NULL},
};

static const cli_opt system_install_opts[] = {
    [SYS_USER] = {"user", true, false, "NAME: the worker's account (default nightcore)"},
    [SYS_OPERATOR] = {"operator", true, true, "USER: may use control.sock (repeatable; default $SUDO_USER)"},
    [SYS_APPROVER_KEY] = {"approver-key", true, false, "KEY.pub: the root of trust (an OpenSSH or FIDO public key)"},
    [SYS_PRINCIPAL] = {"principal", true, false, "P: its principal"},
    [SYS_PREFIX] = {"prefix", true, false, "DIR: where the programs go (default /usr/local; bin/ below it)"},
    [SYS_HOME] = {"state-dir", true, false, "DIR: the worker's home (default /var/lib/nightcore)"},
    [SYS_RUN_DIR] = {"run-dir", true, false, "DIR: its sockets (default /run/nightcore)"},
    [SYS_NO_SYSTEMD] = {"no-systemd", false, false, "write no systemd unit; start it with `nightcore system start`"},
    {NULL, false, false, NULL},
};
static const cli_opt system_uninstall_opts[] = {
    [SYS_PURGE] = {"purge", false, false, "also delete the worker's home (its state and audit log)"},
    {NULL, false, false, NULL},
};

static const cli_opt runs_show_opts[] = {
    [RUNS_SHOW_JSON] = {"json", false, false, "print JSON instead of text"},
    [RUNS_SHOW_RECEIPT] = {"receipt", false, false,
                           "the run's signed receipt: its audit entry, checked against a checkpoint"},
    {NULL, false, false, NULL},
};
static const cli_opt audit_verify_opts[] = {
    [AUDIT_VERIFY_ANCHOR] = {"anchor", true, false,
                             "FILE: a checkpoint saved earlier (default: state/audit.checkpoint if it exists)"},
    [AUDIT_VERIFY_JSON] = {"json", false, false, "print the report as JSON"},
    {NULL, false, false, NULL},
};
static const cli_opt audit_checkpoint_opts[] = {
    [AUDIT_CHECKPOINT_KEY] = {"key", false, false, "print the note-verifier key instead (needs no worker)"},
    [AUDIT_CHECKPOINT_JSON] = {"json", false, false, "print JSON (note, size, root, verifier_key, source)"},
    {NULL, false, false, NULL},
};
static const cli_opt audit_export_opts[] = {
    [AUDIT_EXPORT_FORMAT] = {"format", true, false, "jsonl|html: every entry as stored, or a page to read"},
    [AUDIT_EXPORT_OUT] = {"out", true, false, "FILE: where to write it (atomically, mode 0600)"},
    {NULL, false, false, NULL},
};
static const cli_opt audit_tail_opts[] = {
    [AUDIT_TAIL_N] = {"n", true, false, "N: how many of the newest entries (default 20)"},
    [AUDIT_TAIL_FOLLOW] = {"follow", false, false, "keep printing new entries (every 0.5 s) until interrupted"},
    [AUDIT_TAIL_JSON] = {"json", false, false, "print the entries' JSON, one per line"},
    {NULL, false, false, NULL},
};

static const cli_cmd commands[] = {
    {"init", "[--generate-key [--no-passphrase]] [--approver-key KEY.pub] [--principal P]",
     "create the home, the worker key and the trust store",
     "Creates $NIGHTCORE_HOME (keys/ trust/ state/ run/ logs/, mode 0700), the worker's Ed25519 key\n"
     "and an empty trust store, and writes config.json. The first key trusted is the root of trust;\n"
     "later keys are added with `nightcore trust add`, signed by a trusted key. --generate-key asks\n"
     "ssh-keygen for a passphrase on a terminal and refuses an empty one; without a terminal it makes\n"
     "no key (unless --no-passphrase, for tests) and says how to add one. Safe to run again: existing\n"
     "keys and trust are kept and reported. Does not need the worker.",
     init_opts, 0, 0, false, cmd_init},
    {"worker start", "[--insecure-dev]", "start the worker in the background",
     "Starts `nightcore-worker serve` (next to this program, else from PATH) detached, logging to\n"
     "logs/worker.log, and returns once it answers on run/control.sock (at most 15 s). For the\n"
     "single-user home; the service deployment's worker is started by `nightcore system start`.",
     worker_start_opts, 0, 0, false, cmd_worker_start},
    {"worker stop", "", "stop the worker", "Asks the worker to shut down and waits (at most 10 s) until it has exited.",
     no_opts, 0, 0, false, cmd_worker_stop},
    {"worker status", "[--json]", "pid, uptime, queue, isolation features, counts", NULL, json_only, 0, 0, false,
     cmd_worker_status},
    {"submit", "FILE.wasm --name NAME [--manifest M.json] [--json]", "put a module into the inbox",
     "Submits a module (at most 16 MiB) for review; prints the submission id. Nothing submitted can\n"
     "run until it is approved.",
     submit_opts, 1, 1, false, cmd_submit},
    {"inbox", "[--all] [--json]", "list pending submissions", NULL, inbox_opts, 0, 0, false, cmd_inbox},
    {"inbox show", "ID [--json]", "one submission in full: analysis, drift, threat score", NULL, json_only, 1, 1,
     false, cmd_inbox_show},
    {"approve",
     "ID [--policy NAME] [--max-runs N] [--expires 24h] [--allow-agent NAME]... [--key KEY] [--yes]\n"
     "       [--dir HOST:GUEST[:ro|rw]]... [--env KEY=VALUE]... [--no-args] [--no-stdin] [--grant-requested]\n"
     "       nightcore approve ID --statement-out FILE\n"
     "       nightcore approve ID --statement FILE --signature FILE.sig",
     "sign an approval for a submission",
     "Asks the worker to prepare the approval statement, shows what will be signed, asks\n"
     "\"Sign and approve? [y/N]\" on a terminal (--yes skips it; without a terminal it refuses\n"
     "unless --yes is given), signs it with `ssh-keygen -Y sign -n nightcore-approval-v1` and\n"
     "hands statement and signature to the worker, which verifies them against the trust store.",
     approve_opts, 1, 1, false, cmd_approve},
    {"reject", "ID --reason TEXT [--json]", "reject a submission", NULL, reject_opts, 1, 1, false, cmd_reject},
    {"approvals", "[--name NAME] [--limit N] [--json]", "list approvals", NULL, approvals_opts, 0, 0, false,
     cmd_approvals},
    {"revoke", "APPROVAL_ID [--json]", "revoke an approval (it can never run again)", NULL, json_only, 1, 1, false,
     cmd_revoke},
    {"run", "REF [--stdin FILE] [--exit-code] [--json] [-- ARGS...]", "run an approved module",
     "REF is an approval id (or the 12+ digits `nightcore approvals` shows), a module name or a\n"
     "module sha256 prefix of 12+ hex digits (the newest approval that passes every check).\n"
     "The module's stdout and stderr are passed through byte for byte as the module writes them\n"
     "(streamed by the worker); a summary line follows on stderr, naming the limit when one was\n"
     "hit. This program's stdin, when it is not a terminal, is the module's stdin (the approval\n"
     "must grant stdin; </dev/null gives none); --stdin FILE reads a file instead.\n"
     "Exit code 0 if it ran and exited 0, 1 if it ran and did not (non-zero exit, trap, limit,\n"
     "crash, cancelled), 2 for usage errors, 3 if the worker refused to run it. With --exit-code a\n"
     "module that exits N (N >= 1) makes this exit 4+N (at most 255), so the module's own code\n"
     "is $? - 4 and never collides with 1-3; a run that did not exit (trap, limit, crash) is 1.",
     run_opts, 1, 1, true, cmd_run},
    {"runs cancel", "RUN [--json]", "cancel a run that is queued or running",
     "A queued run leaves the queue and is given back to its approval; a running one is killed\n"
     "(it counts as used). Either way its outcome is `cancelled` and the audit log records who\n"
     "cancelled it (run.cancel). A run that already finished is left as it is (exit 0).",
     json_only, 1, 1, false, cmd_runs_cancel},
    {"runs", "[--limit N] [--name NAME] [--json]", "run history, newest first", NULL, runs_opts, 0, 0, false,
     cmd_runs},
    {"runs show", "RUN [--receipt] [--json]", "one run in full, or its verified receipt",
     "--receipt asks the worker for the run's audit entry with an inclusion proof and a signed\n"
     "checkpoint, and checks all three here against keys/worker.pub (exit 1 if anything fails).",
     runs_show_opts, 1, 1, false, cmd_runs_show},
    {"policy list", "[--json]", "policies (capability and limit ceilings)", NULL, json_only, 0, 0, false,
     cmd_policy_list},
    {"policy show", "NAME [--json]", "one policy in full", NULL, json_only, 1, 1, false, cmd_policy_show},
    {"policy add",
     "FILE [--key KEY] [--yes] [--json]\n"
     "       nightcore policy add FILE --statement-out OUT\n"
     "       nightcore policy add --statement OUT --signature OUT.sig",
     "add or change a policy (signed when it widens)",
     "FILE: a policy in JSON (docs/policies.md). A new policy, or a change that lets more run, is an\n"
     "admin statement signed like `trust add` (ssh-keygen -Y sign -n nightcore-admin-v1 with an admin\n"
     "key); a change that only narrows a policy needs no signature. Each change raises the policy's\n"
     "version; approvals keep what they were signed with.",
     policy_add_opts, 0, 1, false, cmd_policy_add},
    {"policy remove", "NAME [--json]", "remove an operator policy (unsigned: it lowers authority)", NULL, json_only, 1,
     1, false, cmd_policy_remove},
    {"trust list", "[--json]", "trusted approver keys",
     "Asks the worker; when it is not running, reads trust/ directly.", json_only, 0, 0, false, cmd_trust_list},
    {"trust add",
     "KEY.pub --principal P [--approver-only] [--require-verification] [--key KEY] [--yes]\n"
     "       nightcore trust add KEY.pub --principal P --statement-out FILE\n"
     "       nightcore trust add --statement FILE --signature FILE.sig",
     "trust an approver key (signed by a trusted admin key)",
     "KEY.pub: an OpenSSH ssh-ed25519 or sk-ssh-ed25519@openssh.com public key. Trusting a key raises\n"
     "authority, so it is a statement signed by a key already trusted as an admin key: the worker\n"
     "prepares it, this shows it, asks, signs it with `ssh-keygen -Y sign -n nightcore-admin-v1` and\n"
     "hands it over; the worker verifies it and records it in the audit log. The only exception is a\n"
     "home without any key: its first key becomes the root of trust.",
     trust_add_opts, 0, 1, false, cmd_trust_add},
    {"trust revoke", "KEY.pub [--force] [--json]", "revoke an approver key (its approvals stop working)", NULL,
     trust_revoke_opts, 1, 1, false, cmd_trust_revoke},
    {"trust restore", "[--json]", "rewrite trust/ from the audit log (undo hand edits)",
     "The worker refuses every verification while trust/allowed_signers or trust/revoked_keys differ\n"
     "from the signed trust entries of its audit log (it names the difference). This writes them\n"
     "again from the log; it can only restore what signed entries say.",
     json_only, 0, 0, false, cmd_trust_restore},
    {"doctor", "[--json]", "check the whole setup and say what is weak and how to fix it",
     "Deployment mode, approver keys and how each proves a human, home ownership and modes, the\n"
     "worker and its trust store, kernel isolation features, the engine. Exit 0 when nothing is\n"
     "wrong (warnings allowed), 1 when something must be fixed.",
     json_only, 0, 0, false, cmd_doctor},
    {"system install",
     "[--user NAME] [--operator USER]... [--approver-key KEY.pub --principal P] [--prefix DIR] [--no-systemd]",
     "the service-account deployment (as root)",
     "Installs the programs under PREFIX (default /usr/local), creates the worker's own account\n"
     "(default nightcore) and its home /var/lib/nightcore (0700), out of reach of the operators' and\n"
     "agents' processes, writes /etc/nightcore/system.json, and a systemd unit when systemd runs.\n"
     "Operators (--operator) reach the worker through /run/nightcore/control.sock; agents through\n"
     "agent.sock with their token. --approver-key sets the root of trust.",
     system_install_opts, 0, 0, false, cmd_system_install},
    {"system start", "", "start the service deployment's worker without systemd (as root)", NULL, no_opts, 0, 0,
     false, cmd_system_start},
    {"system stop", "", "stop the service deployment's worker started by `system start` (as root)", NULL, no_opts, 0,
     0, false, cmd_system_stop},
    {"system uninstall", "[--purge]", "remove the service deployment (as root); --purge removes its home too", NULL,
     system_uninstall_opts, 0, 0, false, cmd_system_uninstall},
    {"agent add", "NAME [--json]", "create an agent identity; prints its token once and MCP client config",
     "Agents submit modules through nightcore-mcp with this token; they can never approve or run\n"
     "anything unless an approval names them (`approve ID --allow-agent NAME`).",
     json_only, 1, 1, false, cmd_agent_add},
    {"agent list", "[--json]", "agents, their pending submissions and rate-limit state", NULL, json_only, 0, 0, false,
     cmd_agent_list},
    {"agent remove", "NAME [--json]", "revoke an agent's token immediately", NULL, json_only, 1, 1, false,
     cmd_agent_remove},
    {"audit verify", "[--anchor FILE] [--json]", "check the audit log (and that it extends the anchor)",
     "Reads state/nightcore.db read-only (the worker need not run), recomputes every leaf and the\n"
     "Merkle tree, checks every checkpoint's signature against keys/worker.pub, and checks that the\n"
     "log still extends the anchor: --anchor FILE, else state/audit.checkpoint if it exists.\n"
     "Exit 0 only when the log is intact.",
     audit_verify_opts, 0, 0, false, cmd_audit_verify},
    {"audit checkpoint", "[--key] [--json]", "print a signed checkpoint of the log (an anchor)",
     "With the worker running it signs one of the log as it is now; without, it prints the newest\n"
     "one in the database (and says so on stderr). `nightcore audit checkpoint > FILE` saves an\n"
     "anchor for `audit verify --anchor FILE`. --key prints the note-verifier key instead.",
     audit_checkpoint_opts, 0, 0, false, cmd_audit_checkpoint},
    {"audit export", "--format jsonl|html --out FILE", "export the log (JSON lines, or a self-contained page)",
     "jsonl: every entry exactly as stored, one per line, then the latest checkpoint and the\n"
     "verification report. html: one page, no scripts or external files: status, counts, latest\n"
     "checkpoint, and the newest 100,000 entries. Exit 1 if the log is not intact (the file is\n"
     "written all the same and says so).",
     audit_export_opts, 0, 0, false, cmd_audit_export},
    {"audit tail", "[-n N] [--follow] [--json]", "the newest entries of the audit log", NULL, audit_tail_opts, 0, 0,
     false, cmd_audit_tail},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_overview(FILE *f)
{
    fprintf(f, "usage: nightcore [--home DIR] COMMAND [ARGS...]\n"
               "       nightcore --version\n\n"
               "Night Core runs untrusted WebAssembly only after a human has signed an approval.\n\n"
               "Commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nGlobal options (before or after the command):\n"
               "  --home DIR      Night Core home (default: $NIGHTCORE_HOME, else the service deployment's\n"
               "                  /etc/nightcore/system.json if installed, else ~/.nightcore)\n"
               "  --help          help for nightcore or for a command\n"
               "  --version       print the version\n\n"
               "Exit codes: 0 success, 1 failure, 2 usage error, 3 refused by the worker.\n"
               "Run `nightcore COMMAND --help` for a command's options; docs/cli.md has the details.\n");
}

void cli_print_usage(FILE *f, const cli_cmd *cmd)
{
    fprintf(f, "usage: nightcore %s%s%s\n", cmd->name, cmd->synopsis[0] ? " " : "", cmd->synopsis);
}

/* "-" for a one-letter option (-n), "--" otherwise. */
static const char *dashes(const cli_opt *o)
{
    return o->name[0] && !o->name[1] ? "-" : "--";
}

static void print_help(const cli_cmd *cmd)
{
    cli_print_usage(stdout, cmd);
    printf("\n%s.\n", cmd->summary);
    if (cmd->details)
        printf("\n%s\n", cmd->details);
    printf("\nOptions:\n");
    for (const cli_opt *o = cmd->opts; o->name; o++) {
        const char *colon = o->has_value ? strchr(o->help, ':') : NULL;
        char left[64];
        if (colon)
            snprintf(left, sizeof left, "%s%s %.*s", dashes(o), o->name, (int)(colon - o->help), o->help);
        else
            snprintf(left, sizeof left, "%s%s", dashes(o), o->name);
        printf("  %-22s %s\n", left, colon ? colon + 2 : o->help);
    }
    printf("  %-22s %s\n  %-22s %s\n", "--home DIR", "Night Core home (default $NIGHTCORE_HOME, system.json, ~/.nightcore)",
           "--help", "this help");
}

int cli_usage_error(const cli_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "nightcore %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cli_print_usage(stderr, cmd);
    fprintf(stderr, "Run `nightcore %s --help` for the options.\n", cmd->name);
    return CLI_USAGE;
}

/* Looks up a long option by name. */
static int find_opt(const cli_opt *opts, const char *name, size_t len)
{
    for (int i = 0; opts[i].name; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return i;
    return -1;
}

/* Parses argv (after the command words). Returns -1 to go on, or an exit
 * code (help printed: 0; usage error: 2). */
static int parse_args(cli_ctx *ctx, const cli_cmd *cmd, int argc, char **argv, cli_args *a)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    for (int i = 0; i < argc; i++) {
        char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            if (!cmd->takes_rest)
                return cli_usage_error(cmd, "does not take arguments after --");
            a->rest = argv + i + 1;
            a->nrest = argc - i - 1;
            break;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            print_help(cmd);
            return CLI_OK;
        }
        if (arg[0] == '-' && arg[1] != '\0') {
            bool is_short = arg[1] != '-';
            if (is_short && (arg[2] != '\0' || find_opt(cmd->opts, arg + 1, 1) < 0)) {
                char safe_c = (arg[1] >= 0x21 && arg[1] <= 0x7e) ? arg[1] : '?';
                return cli_usage_error(cmd, "unknown option -%c", safe_c);
            }
            const char *name = arg + (is_short ? 1 : 2), *eq = is_short ? NULL : strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            const char *value = NULL;
            if (nlen == 4 && strncmp(name, "home", 4) == 0) {
                if (eq)
                    value = eq + 1;
                else if (i + 1 < argc)
                    value = argv[++i];
                if (!value || !value[0])
                    return cli_usage_error(cmd, "--home needs a directory");
                ctx->home_override = value;
                continue;
            }
            int o = find_opt(cmd->opts, name, nlen);
            if (o >= 0 && !is_short && nlen == 1)
                o = -1;   /* one-letter options only as -X */
            if (o < 0) {
                char *s = cli_safe(arg);
                int rc = cli_usage_error(cmd, "unknown option %s", s);
                free(s);
                return rc;
            }
            const cli_opt *opt = &cmd->opts[o];
            if (opt->has_value) {
                if (eq)
                    value = eq + 1;
                else if (i + 1 < argc)
                    value = argv[++i];
                else
                    return cli_usage_error(cmd, "%s%s needs a value", dashes(opt), opt->name);
            } else {
                if (eq)
                    return cli_usage_error(cmd, "--%s takes no value", opt->name);
                value = "";
            }
            if (a->count[o] && !opt->repeat)
                return cli_usage_error(cmd, "%s%s given twice", dashes(opt), opt->name);
            if (a->count[o] >= CLI_MAX_REPEAT)
                return cli_usage_error(cmd, "%s%s given more than %d times", dashes(opt), opt->name, CLI_MAX_REPEAT);
            a->multi[o][a->count[o]] = value;
            a->count[o]++;
            a->val[o] = value;
            continue;
        }
        if (a->npos >= cmd->max_pos || a->npos >= CLI_MAX_POS) {
            char *s = cli_safe(arg);
            int rc = cli_usage_error(cmd, cmd->takes_rest ? "unexpected argument %s (module arguments go after --)"
                                                          : "unexpected argument %s", s);
            free(s);
            return rc;
        }
        a->pos[a->npos++] = arg;
    }
    if (a->npos < cmd->min_pos)
        return cli_usage_error(cmd, "missing argument");
    for (int i = 0; cmd->opts[i].name; i++)
        if (strcmp(cmd->opts[i].name, "json") == 0 && a->count[i])
            ctx->json = true;
    return -1;
}

/* The command named by argv[0] (and argv[1] for two-word commands). */
static const cli_cmd *find_command(int argc, char **argv, int *words)
{
    if (argc >= 2) {
        for (size_t i = 0; i < NCOMMANDS; i++) {
            const char *sp = strchr(commands[i].name, ' ');
            if (sp && strncmp(commands[i].name, argv[0], (size_t)(sp - commands[i].name)) == 0 &&
                argv[0][sp - commands[i].name] == '\0' && strcmp(sp + 1, argv[1]) == 0) {
                *words = 2;
                return &commands[i];
            }
        }
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, argv[0]) == 0) {
            *words = 1;
            return &commands[i];
        }
    return NULL;
}

/* "worker", "policy", "trust" without a known subcommand. */
static int group_usage(const char *group, const char *sub)
{
    size_t glen = strlen(group);
    bool known = false;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strncmp(commands[i].name, group, glen) == 0 && commands[i].name[glen] == ' ')
            known = true;
    if (!known)
        return -1;
    if (sub && (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)) {
        printf("usage:\n");
        for (size_t i = 0; i < NCOMMANDS; i++)
            if (strncmp(commands[i].name, group, glen) == 0 && commands[i].name[glen] == ' ')
                printf("  nightcore %s%s%s\n      %s\n", commands[i].name, commands[i].synopsis[0] ? " " : "",
                       commands[i].synopsis, commands[i].summary);
        return CLI_OK;
    }
    if (sub) {
        char *s = cli_safe(sub);
        fprintf(stderr, "nightcore %s: unknown subcommand %s\n", group, s);
        free(s);
    } else {
        fprintf(stderr, "nightcore %s: missing subcommand\n", group);
    }
    fprintf(stderr, "usage:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strncmp(commands[i].name, group, glen) == 0 && commands[i].name[glen] == ' ')
            fprintf(stderr, "  nightcore %s%s%s\n", commands[i].name, commands[i].synopsis[0] ? " " : "",
                    commands[i].synopsis);
    return CLI_USAGE;
}

int main(int argc, char **argv)
{
    cli_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    int i = 1;
    /* Global options before the command. */
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--version") == 0 || strcmp(arg, "version") == 0) {
            printf("nightcore %s\n", NC_VERSION);
            return CLI_OK;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0) {
            if (strcmp(arg, "help") == 0 && i + 1 < argc) {
                int words = 0;
                const cli_cmd *c = find_command(argc - i - 1, argv + i + 1, &words);
                if (c) {
                    print_help(c);
                    return CLI_OK;
                }
                int rc = group_usage(argv[i + 1], "--help");
                if (rc >= 0)
                    return rc;
                char *s = cli_safe(argv[i + 1]);
                fprintf(stderr, "nightcore: unknown command %s\n", s);
                free(s);
                return CLI_USAGE;
            }
            print_overview(stdout);
            return CLI_OK;
        }
        if (strcmp(arg, "--home") == 0 || strncmp(arg, "--home=", 7) == 0) {
            const char *value = arg[6] == '=' ? arg + 7 : i + 1 < argc ? argv[++i] : NULL;
            if (!value || !value[0]) {
                fprintf(stderr, "nightcore: --home needs a directory\n");
                return CLI_USAGE;
            }
            ctx.home_override = value;
            continue;
        }
        if (arg[0] == '-') {
            char *s = cli_safe(arg);
            fprintf(stderr, "nightcore: unknown option %s\nRun `nightcore --help` for usage.\n", s);
            free(s);
            return CLI_USAGE;
        }
        break;
    }
    if (i >= argc) {
        print_overview(stderr);
        return CLI_USAGE;
    }
    int words = 0;
    const cli_cmd *cmd = find_command(argc - i, argv + i, &words);
    if (!cmd) {
        int rc = group_usage(argv[i], i + 1 < argc ? argv[i + 1] : NULL);
        if (rc >= 0)
            return rc;
        char *s = cli_safe(argv[i]);
        fprintf(stderr, "nightcore: unknown command %s\nRun `nightcore --help` for the list of commands.\n", s);
        free(s);
        return CLI_USAGE;
    }
    cli_args args;
    int rc = parse_args(&ctx, cmd, argc - i - words, argv + i + words, &args);
    if (rc >= 0)
        return rc;
    rc = cmd->run(&ctx, &args);
    if (fflush(stdout) != 0 && rc == CLI_OK) {
        fprintf(stderr, "nightcore: cannot write the output\n");
        rc = CLI_FAIL;
    }
    return rc;
}
