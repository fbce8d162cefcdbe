/* The operator's side of every signature the CLI makes (approve, trust add):
 * which key and principal, the statement in words and its exact bytes, the
 * question, and ssh-keygen. The checks of what the statement says are the
 * approver library's (src/approver/), shared with the console. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "approver/approver.h"
#include "cli/cli.h"
#include "common/fs.h"
#include "trust/sign.h"

int cli_approver_setup(cli_ctx *ctx, const char *key_opt, const char *principal_opt, bool need_key, char *key,
                       size_t key_len, char *principal, size_t principal_len)
{
    json_t *cfg = NULL;
    char msg[512], def[PATH_MAX];
    int rc = cli_config_load(ctx, &cfg);
    if (rc != CLI_OK)
        return rc;
    if (!nc_approver_principal(principal_opt, cfg, principal, principal_len)) {
        cli_error("no approver principal: run `nightcore init` (it records one in config.json) or pass --principal");
        json_decref(cfg);
        return CLI_FAIL;
    }
    if (need_key) {
        const char *dflt = NULL;
        if (!ctx->home.service && nc_home_path(&ctx->home, NC_HOME_APPROVER_KEY, def, sizeof def) == NC_OK)
            dflt = def;
        if (nc_approver_key_resolve(key_opt, cfg, dflt, key, key_len, msg, sizeof msg) != NC_OK) {
            char *m = cli_safe(msg);
            cli_error("%s", m);
            free(m);
            json_decref(cfg);
            return CLI_FAIL;
        }
    }
    json_decref(cfg);
    return CLI_OK;
}

static bool confirm(const char *question)
{
    char line[64];
    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    if (!fgets(line, sizeof line, stdin))
        return false;
    size_t i = 0;
    while (line[i] == ' ' || line[i] == '\t')
        i++;
    char *w = line + i;
    w[strcspn(w, " \t\r\n")] = '\0';
    return strcasecmp(w, "y") == 0 || strcasecmp(w, "yes") == 0;
}

void cli_print_pairs(FILE *f, const json_t *pairs)
{
    for (size_t i = 0; i < json_array_size(pairs); i++) {
        const json_t *p = json_array_get(pairs, i);
        char *l = cli_safe(json_string_value(json_array_get(p, 0))), *t = cli_safe(json_string_value(json_array_get(p, 1)));
        fprintf(f, "  %-13s %s\n", l, t);
        free(l);
        free(t);
    }
}

int cli_sign_flow(cli_ctx *ctx, const cli_sign_req *r, uint8_t **sig, size_t *sig_len)
{
    char msg[512], id[NC_SHA256_HEX_LEN + 1];
    FILE *f = ctx->json ? stderr : stdout;
    *sig = NULL;
    *sig_len = 0;
    if (nc_statement_id(r->stmt, r->stmt_len, id) != NC_OK)
        snprintf(id, sizeof id, "?");
    fprintf(f, "%s\n", r->title);
    cli_print_pairs(f, r->pairs);
    if (r->key) {
        nc_approver_key_info ki;
        char *k = cli_safe(r->key);
        if (nc_approver_key_inspect(r->key, &ki, msg, sizeof msg) == NC_OK) {
            char *fp = cli_safe(ki.fingerprint);
            fprintf(f, "  %-13s %s %s (%s)\n", "signing key", k, fp, nc_key_protection_name(ki.protection));
            free(fp);
        } else {
            fprintf(f, "  %-13s %s\n", "signing key", k);
        }
        free(k);
    }
    char *exact = cli_safe_ex(r->stmt, r->stmt_len, false);
    fprintf(f, "Statement (the exact %zu bytes to sign; id %s):\n%s\n", r->stmt_len, id, exact);
    free(exact);
    if (r->out_path) {
        if (nc_write_file_atomic(r->out_path, r->stmt, r->stmt_len, 0644) != NC_OK) {
            char *p = cli_safe(r->out_path);
            cli_error("cannot write %s", p);
            free(p);
            return CLI_FAIL;
        }
        char *p = cli_safe(r->out_path);
        fprintf(f, "\nWrote the statement to %s. Sign it where your key is:\n"
                   "  ssh-keygen -Y sign -n %s -f KEY %s\n"
                   "then hand it over:\n"
                   "  %s --statement %s --signature %s.sig\n",
                p, r->ns, p, r->handover, p, p);
        free(p);
        return CLI_OK;
    }
    if (!r->yes && !confirm(r->question)) {
        cli_error("not signed");
        return CLI_FAIL;
    }
    /* ssh-keygen may ask for the key's passphrase (or a touch) on the terminal. */
    fflush(stdout);
    if (nc_sign_with_ssh_keygen(r->key, r->ns, r->stmt, r->stmt_len, sig, sig_len, msg, sizeof msg) != NC_OK) {
        char *m = cli_safe(msg);
        cli_error("signing failed: %s", m);
        free(m);
        return CLI_REFUSED;
    }
    return CLI_OK;
}
