/* The parts of `nightcore audit` and `runs show --receipt` that do no I/O
 * (unit-tested in tests/unit/test_cli_audit.c): HTML escaping, one-line
 * descriptions of log entries, and the local check of a run receipt. */
#ifndef NC_CLI_AUDIT_FMT_H
#define NC_CLI_AUDIT_FMT_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "audit/audit.h"
#include "common/buf.h"
#include "common/error.h"

/* Appends len bytes of s as HTML text. Control characters, invalid UTF-8 and
 * invisible or bidirectional format characters are first made visible as in
 * cli_safe_ex() (\n, \xNN, \u{NNNN}; multiline keeps newlines and tabs); then
 * & < > " ' become &amp; &lt; &gt; &quot; &#39;. The result is safe in element
 * content and in quoted attribute values. NC_ERR_TOO_LARGE when b is full. */
NC_MUST_CHECK nc_err cli_html_escape(nc_buf *b, const char *s, size_t len, bool multiline);

/* How an entry is coloured (docs/audit.md, "Export formats"). */
typedef enum {
    CLI_AUDIT_INFO,      /* worker start/stop, submissions, run starts */
    CLI_AUDIT_OK,        /* run ended ok */
    CLI_AUDIT_WARN,      /* run ended with exit/trap/timeout/fuel/memory/output_limit/interrupted */
    CLI_AUDIT_BAD,       /* run crashed, refused request, unreadable entry */
    CLI_AUDIT_GRANT,     /* approval, trust add */
    CLI_AUDIT_WITHDRAW,  /* rejection, revocation, trust revoke */
} cli_audit_class;

/* One entry in words. Strings are the entry's own text (cut at a character
 * boundary with "..." when long): escape them before printing. */
typedef struct {
    int64_t seq, time;          /* -1 when missing */
    char type[64];
    char name[160];             /* module name, or what the entry is about */
    char sha[13];               /* first 12 hex digits of the module sha256, "" if none */
    char outcome[32];           /* run.end only */
    char detail[1024];          /* the other key fields, separated by two spaces */
    char ids[256];              /* run, submission and approval ids */
    cli_audit_class cls;
} cli_audit_desc;

/* Describes one entry as stored. Bytes that are not a JSON object give type
 * "(unreadable entry)" and CLI_AUDIT_BAD. */
void cli_audit_describe(const void *entry, size_t len, cli_audit_desc *d);
/* "info", "ok", "warn", "bad", "grant", "withdraw" (CSS classes). */
const char *cli_audit_class_name(cli_audit_class c);

/* Checks a `run.receipt` result (docs/protocol.md) for run_id against the
 * local worker key: the entry is a run.end entry for run_id at position seq,
 * leaf == sha256(0x00 || entry), the checkpoint is a valid note of `origin`
 * signed by pk for exactly `size` entries, and the proof leads from the leaf
 * to the checkpoint's root. On NC_OK *cp is the checkpoint and *entry_out the
 * parsed entry (caller json_decref); otherwise msg says what failed. */
NC_MUST_CHECK nc_err cli_receipt_verify(const json_t *res, const char *run_id, const char *origin,
                                        const uint8_t pk[32], nc_checkpoint *cp, json_t **entry_out, char *msg,
                                        size_t msg_len);

#endif
