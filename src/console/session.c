/* One-time link tokens and the per-tab sessions they are exchanged for
 * (docs/console.md "Security"). All of it lives in one sodium_malloc'd block
 * (guard pages, no swap, wiped on free); every comparison is constant-time.
 *
 * A token is exchanged once (then wiped) and dies unused after the link TTL.
 * A session is a secret the page keeps in sessionStorage and sends in an
 * Authorization header: nothing a browser sends on its own (a cookie) is one. */
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <time.h>
#include "console/console.h"

typedef struct {
    bool used;
    int64_t at;               /* CLOCK_MONOTONIC seconds: minted (tokens), last used (sessions) */
    uint64_t seq;             /* order of the same events, for eviction (seconds tie) */
    char secret[CON_HEX_TOKEN_LEN + 1];
} slot;

typedef struct {
    slot tokens[CON_MAX_TOKENS];
    slot sessions[CON_MAX_SESSIONS];
} secrets;

static secrets *g_sec;
static uint64_t g_seq;
static int64_t g_token_ttl = CON_TOKEN_TTL_S;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* Wipes the slots older than max_age; then returns the index of the slot
 * whose secret equals given (constant time per slot, every live slot
 * compared), or -1. */
static int find_locked(slot *s, size_t n, int64_t max_age, const char *given, int64_t now)
{
    int hit = -1;
    for (size_t i = 0; i < n; i++) {
        if (!s[i].used)
            continue;
        if (now - s[i].at > max_age) {
            sodium_memzero(&s[i], sizeof s[i]);
            continue;
        }
        if (given && sodium_memcmp(given, s[i].secret, CON_HEX_TOKEN_LEN) == 0 && hit < 0)
            hit = (int)i;
    }
    return hit;
}

/* A free slot, else the least recently made or used one (wiped). */
static slot *take_locked(slot *s, size_t n)
{
    size_t pick = 0;
    for (size_t i = 0; i < n; i++) {
        if (!s[i].used) {
            pick = i;
            break;
        }
        if (s[i].seq < s[pick].seq)
            pick = i;
    }
    sodium_memzero(&s[pick], sizeof s[pick]);
    return &s[pick];
}

nc_err con_session_init(unsigned token_ttl_s)
{
    if (sodium_init() < 0)
        return NC_ERR_INTERNAL;
    g_sec = sodium_malloc(sizeof *g_sec);
    if (!g_sec)
        return NC_ERR_NOMEM;
    memset(g_sec, 0, sizeof *g_sec);
    g_token_ttl = token_ttl_s ? (int64_t)token_ttl_s : CON_TOKEN_TTL_S;
    return NC_OK;
}

unsigned con_token_ttl(void)
{
    return (unsigned)g_token_ttl;
}

nc_err con_token_mint(char out[CON_HEX_TOKEN_LEN + 1])
{
    out[0] = '\0';
    if (!g_sec)
        return NC_ERR_INTERNAL;
    pthread_mutex_lock(&g_lock);
    int64_t now = mono_s();
    (void)find_locked(g_sec->tokens, CON_MAX_TOKENS, g_token_ttl, NULL, now);
    slot *t = take_locked(g_sec->tokens, CON_MAX_TOKENS);
    nc_httpd_secret_new(t->secret);
    t->used = true;
    t->at = now;
    t->seq = ++g_seq;
    memcpy(out, t->secret, CON_HEX_TOKEN_LEN + 1);
    pthread_mutex_unlock(&g_lock);
    return NC_OK;
}

bool con_token_exchange(const char *token, char sid[CON_HEX_TOKEN_LEN + 1])
{
    sid[0] = '\0';
    if (!g_sec || !nc_httpd_secret_ok(token))
        return false;
    pthread_mutex_lock(&g_lock);
    int64_t now = mono_s();
    int hit = find_locked(g_sec->tokens, CON_MAX_TOKENS, g_token_ttl, token, now);
    if (hit >= 0) {
        sodium_memzero(&g_sec->tokens[hit], sizeof g_sec->tokens[hit]);   /* single use */
        (void)find_locked(g_sec->sessions, CON_MAX_SESSIONS, CON_SESSION_IDLE_S, NULL, now);
        slot *s = take_locked(g_sec->sessions, CON_MAX_SESSIONS);
        nc_httpd_secret_new(s->secret);
        s->used = true;
        s->at = now;
        s->seq = ++g_seq;
        memcpy(sid, s->secret, CON_HEX_TOKEN_LEN + 1);
    }
    pthread_mutex_unlock(&g_lock);
    return hit >= 0;
}

bool con_session_lookup(const char *sid)
{
    if (!g_sec || !nc_httpd_secret_ok(sid))
        return false;
    pthread_mutex_lock(&g_lock);
    int64_t now = mono_s();
    int hit = find_locked(g_sec->sessions, CON_MAX_SESSIONS, CON_SESSION_IDLE_S, sid, now);
    if (hit >= 0) {
        g_sec->sessions[hit].at = now;
        g_sec->sessions[hit].seq = ++g_seq;
    }
    pthread_mutex_unlock(&g_lock);
    return hit >= 0;
}

bool con_session_end(const char *sid)
{
    if (!g_sec || !nc_httpd_secret_ok(sid))
        return false;
    pthread_mutex_lock(&g_lock);
    int hit = find_locked(g_sec->sessions, CON_MAX_SESSIONS, CON_SESSION_IDLE_S, sid, mono_s());
    if (hit >= 0)
        sodium_memzero(&g_sec->sessions[hit], sizeof g_sec->sessions[hit]);
    pthread_mutex_unlock(&g_lock);
    return hit >= 0;
}
