/* What nightcore-mcp's transports share: the diagnostics sink and the
 * threads that run tool calls (transport.h). */
#include "mcp/transport.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- diagnostics: stderr only ---- */

void nc_mcp_log_stderr(void *ctx, const char *text)
{
    (void)ctx;
    char out[2048];
    size_t o = 0;
    /* Escape what an agent or a worker message could put there (terminal
     * control sequences, newlines). */
    for (const unsigned char *p = (const unsigned char *)text; *p && o + 5 < sizeof out; p++) {
        if (*p >= 0x20 && *p != 0x7f && *p != '\\') {
            out[o++] = (char)*p;
        } else {
            int n = snprintf(out + o, sizeof out - o, "\\x%02x", *p);
            if (n < 0 || (size_t)n >= sizeof out - o)
                break;
            o += (size_t)n;
        }
    }
    out[o] = '\0';
    fprintf(stderr, "nightcore-mcp: %s\n", out);
}

/* ---- threads for tool calls ---- */

typedef struct {
    void (*fn)(void *);
    void *arg;
} spawned;

static void *spawned_main(void *p)
{
    spawned sp = *(spawned *)p;
    free(p);
    sp.fn(sp.arg);
    return NULL;
}

bool nc_mcp_spawn_thread(void *ctx, void (*fn)(void *), void *arg)
{
    (void)ctx;
    pthread_t t;
    pthread_attr_t attr;
    spawned *sp = malloc(sizeof *sp);
    if (!sp)
        return false;
    sp->fn = fn;
    sp->arg = arg;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, spawned_main, sp);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        free(sp);
        return false;
    }
    return true;
}
