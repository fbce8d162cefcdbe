/* nightcore-console: the local web console (docs/console.md). Shows
 * everything the worker knows, signs approvals with the operator's key,
 * cannot execute anything.
 *
 *   nightcore-console [--home DIR] [--listen 127.0.0.1:PORT] [--key KEY] [--principal P] [--link-ttl S]
 *   nightcore-console link [--home DIR]      a new one-time link from the running console (ctl.c)
 *
 * Run by ssh-keygen as its askpass helper (NC_ASKPASS_FD set, or argv[1] ==
 * "askpass"), it prints the passphrase it reads from that descriptor. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/fs.h"
#include "console/console.h"
#include "console/http.h"
#include "trust/sign.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: nightcore-console [--home DIR] [--listen 127.0.0.1:PORT] [--key KEY] [--principal P]\n"
               "                         [--link-ttl SECONDS]\n"
               "       nightcore-console link [--home DIR]\n"
               "\n"
               "The local web console: shows everything the worker knows and approves with your key.\n"
               "It cannot execute anything; it talks to the worker only through control.sock.\n"
               "\n"
               "  --home DIR          Night Core home (default: $NIGHTCORE_HOME, else ~/.nightcore)\n"
               "  --listen ADDR       127.0.0.1:PORT (default 127.0.0.1:%d; :0 picks a free port);\n"
               "                      no other address is accepted\n"
               "  --key KEY           approver key to sign with (default: config.json approver_key,\n"
               "                      else keys/approver)\n"
               "  --principal P       approver principal (default: config.json principal)\n"
               "  --link-ttl SECONDS  how long an unused one-time link lives (1-%d, default %d)\n"
               "  --version, --help\n"
               "\n"
               "The first line on stdout is a one-time link to open: Console: http://127.0.0.1:PORT/?token=...\n"
               "It works once, for %d minutes; `nightcore-console link` asks the running console for another.\n",
            CON_DEFAULT_PORT, CON_TOKEN_TTL_S, CON_TOKEN_TTL_S, CON_TOKEN_TTL_S / 60);
}

/* ssh-keygen's askpass: the passphrase from the inherited pipe, on stdout. */
static int askpass_main(void)
{
    const char *fds = getenv(NC_ASKPASS_FD_ENV);
    uint64_t fd = 0;
    if (!fds || !nc_httpd_parse_u64(fds, 1024, &fd) || fd < 3 || sodium_init() < 0)
        return 1;
    char *buf = sodium_malloc(NC_ASKPASS_MAX_BYTES + 2);
    if (!buf)
        return 1;
    size_t len = 0;
    int rc = 0;
    for (;;) {
        ssize_t r = read((int)fd, buf + len, NC_ASKPASS_MAX_BYTES + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len > NC_ASKPASS_MAX_BYTES) {
            rc = 1;
            break;
        }
    }
    close((int)fd);
    if (rc == 0) {
        buf[len++] = '\n';
        if (nc_write_all(STDOUT_FILENO, buf, len) != NC_OK)
            rc = 1;
    }
    sodium_free(buf);
    return rc;
}

/* "127.0.0.1:PORT" (or ":PORT"); anything else is refused. */
static bool parse_listen(const char *s, uint16_t *port)
{
    static const char prefix[] = "127.0.0.1:";
    uint64_t p;
    const char *ps;
    if (strncmp(s, prefix, sizeof prefix - 1) == 0)
        ps = s + sizeof prefix - 1;
    else if (s[0] == ':')
        ps = s + 1;
    else
        return false;
    if (!nc_httpd_parse_u64(ps, 65535, &p))
        return false;
    *port = (uint16_t)p;
    return true;
}

static bool copy_opt(char *dst, size_t n, const char *v)
{
    return v && v[0] && (size_t)snprintf(dst, n, "%s", v) < n;
}

int main(int argc, char **argv)
{
    static con_ctx c;
    const char *home_opt = NULL;
    uint16_t port = CON_DEFAULT_PORT;
    uint64_t link_ttl = CON_TOKEN_TTL_S;
    char msg[512];

    if (getenv(NC_ASKPASS_FD_ENV) || (argc >= 2 && strcmp(argv[1], "askpass") == 0))
        return askpass_main();
    if (argc >= 2 && strcmp(argv[1], "link") == 0)
        return con_link_main(argc, argv);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--version") == 0 || strcmp(a, "version") == 0) {
            printf("nightcore-console %s\n", NC_VERSION);
            return 0;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--home") == 0 && v) {
            home_opt = v;
            i++;
        } else if (strcmp(a, "--listen") == 0 && v) {
            if (!parse_listen(v, &port)) {
                fprintf(stderr, "nightcore-console: --listen must be 127.0.0.1:PORT (the console listens on the "
                                "loopback address only)\n");
                return 2;
            }
            i++;
        } else if (strcmp(a, "--key") == 0 && v) {
            if (!copy_opt(c.key_override, sizeof c.key_override, v)) {
                fprintf(stderr, "nightcore-console: --key needs a key file path\n");
                return 2;
            }
            i++;
        } else if (strcmp(a, "--link-ttl") == 0 && v) {
            if (!nc_httpd_parse_u64(v, CON_TOKEN_TTL_S, &link_ttl) || link_ttl == 0) {
                fprintf(stderr, "nightcore-console: --link-ttl must be 1 to %d seconds\n", CON_TOKEN_TTL_S);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--principal") == 0 && v) {
            if (!copy_opt(c.principal_override, sizeof c.principal_override, v)) {
                fprintf(stderr, "nightcore-console: --principal needs a principal\n");
                return 2;
            }
            i++;
        } else {
            fprintf(stderr, "nightcore-console: unknown or incomplete argument: %.200s\n\n", a);
            usage(stderr);
            return 2;
        }
    }

    if (sodium_init() < 0) {
        fprintf(stderr, "nightcore-console: cannot initialise libsodium\n");
        return 1;
    }
    char hmsg[512] = "";
    if (nc_home_resolve_ex(home_opt, &c.home, hmsg, sizeof hmsg) != NC_OK ||
        nc_home_socket(&c.home, NC_CONTROL_SOCK, c.control_sock, sizeof c.control_sock) != NC_OK) {
        fprintf(stderr, "nightcore-console: cannot find the Night Core home (--home DIR or $NIGHTCORE_HOME)%s%s\n",
                hmsg[0] ? ": " : "", hmsg);
        return 1;
    }
    ssize_t n = readlink("/proc/self/exe", c.self_exe, sizeof c.self_exe - 1);
    if (n <= 0 || (size_t)n >= sizeof c.self_exe - 1) {
        fprintf(stderr, "nightcore-console: cannot find its own binary (/proc/self/exe)\n");
        return 1;
    }
    c.self_exe[n] = '\0';
    if (nc_worker_key_load_public(&c.home, c.worker_pk) == NC_OK) {
        c.have_worker_key = true;
        nc_worker_id(c.worker_pk, c.worker_id);
    } else {
        fprintf(stderr, "nightcore-console: warning: no worker key in %s/keys (run `nightcore init`): the audit log "
                        "cannot be verified\n",
                c.home.root);
    }
    if (con_session_init((unsigned)link_ttl) != NC_OK) {
        fprintf(stderr, "nightcore-console: cannot allocate secure memory\n");
        return 1;
    }
    /* every idle or slow client costs a descriptor */
    unsigned max_connections = nc_httpd_connection_budget(CON_MAX_CONNECTIONS, CON_FD_RESERVE);
    nc_err cerr = con_ctl_listen(&c, msg, sizeof msg);
    if (cerr != NC_OK) {
        fprintf(stderr, "nightcore-console: %s\n", msg[0] ? msg : "cannot open the control socket");
        return 1;
    }

    /* Signals go to the main thread only (sigwait below): block them before
     * any thread starts, so every thread inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    nc_httpd *d = NULL;
    nc_err herr = con_http_start(&c, port, max_connections, &d, msg, sizeof msg);
    if (herr != NC_OK) {
        if (herr == NC_ERR_BUSY)
            fprintf(stderr, "nightcore-console: cannot listen on 127.0.0.1:%u: in use (try --listen 127.0.0.1:0)\n",
                    (unsigned)port);
        else
            fprintf(stderr, "nightcore-console: %s\n", msg[0] ? msg : "cannot start the HTTP server");
        con_ctl_stop();
        return 1;
    }
    c.port = nc_httpd_port(d);
    snprintf(c.host_ip, sizeof c.host_ip, "%s", nc_httpd_host(d));
    char *url = sodium_malloc(128);
    if (con_events_start(&c, d) != NC_OK || con_ctl_start(&c) != NC_OK || !url ||
        con_link_url(&c, url, 128) != NC_OK) {
        fprintf(stderr, "nightcore-console: cannot start the event and control threads\n");
        con_ctl_stop();
        con_events_stop();
        nc_httpd_stop(d);
        nc_httpd_free(d);
        return 1;
    }
    /* The link goes to stdout only, never to a log: `make run` sends stdout
     * nowhere and prints a fresh link from `nightcore-console link`. */
    printf("Console: %s\n", url);
    fflush(stdout);
    sodium_free(url);
    fprintf(stderr, "nightcore-console: listening on http://%s (home %s; up to %u connections; links: %s)\n",
            c.host_ip, c.home.root, max_connections, c.ctl_sock);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    snprintf(msg, sizeof msg, "nightcore-console: stopping (signal %d)\n", sig);
    fputs(msg, stderr);
    con_ctl_stop();
    con_events_stop();   /* the worker's events: nothing more is pushed */
    nc_httpd_stop(d);    /* ends the streams, answers or finishes the API requests, stops serving */
    con_events_free();   /* the streams it still held */
    nc_httpd_free(d);
    return 0;
}
