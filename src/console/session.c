/* The start-up token and the sessions it is exchanged for (docs/console.md
 * "Security"). All of it lives in one sodium_malloc'd block (guard pages, no
 * swap, wiped on free). */
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <time.h>
#include "console/console.h"

typedef struct {
    bool used;
    int64_t last_used;        /* CLOCK_MONOTONIC seconds */
    char id[CON_HEX_TOKEN_LEN + 1];
    char csrf[CON_HEX_TOKEN_LEN + 1];
} session;

typedef struct {
    char token[CON_HEX_TOKEN_LEN + 1];
    session s[CON_MAX_SESSIONS];
} secrets;

static secrets *g_sec;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static void random_hex(char out[CON_HEX_TOKEN_LEN + 1])
{
    unsigned char raw[CON_HEX_TOKEN_LEN / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, CON_HEX_TOKEN_LEN + 1, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
}

/* Both NUL-terminated; constant time in the contents for equal lengths. */
static bool hex_eq(const char *a, const char *b)
{
    size_t la = strnlen(a, CON_HEX_TOKEN_LEN + 1);
    if (la != CON_HEX_TOKEN_LEN || strnlen(b, CON_HEX_TOKEN_LEN + 1) != CON_HEX_TOKEN_LEN)
        return false;
    return sodium_memcmp(a, b, CON_HEX_TOKEN_LEN) == 0;
}

nc_err con_session_init(void)
{
    if (sodium_init() < 0)
        return NC_ERR_INTERNAL;
    g_sec = sodium_malloc(sizeof *g_sec);
    if (!g_sec)
        return NC_ERR_NOMEM;
    memset(g_sec, 0, sizeof *g_sec);
    random_hex(g_sec->token);
    return NC_OK;
}

const char *con_session_token(void)
{
    return g_sec ? g_sec->token : "";
}

bool con_session_token_ok(const char *given)
{
    return g_sec && given && hex_eq(given, g_sec->token);
}

nc_err con_session_new(char sid[CON_HEX_TOKEN_LEN + 1])
{
    if (!g_sec)
        return NC_ERR_INTERNAL;
    pthread_mutex_lock(&g_lock);
    int64_t now = mono_s();
    size_t pick = 0;
    bool found = false;
    for (size_t i = 0; i < CON_MAX_SESSIONS; i++) {
        session *s = &g_sec->s[i];
        if (s->used && now - s->last_used > CON_SESSION_IDLE_S) {
            sodium_memzero(s, sizeof *s);
        }
        if (!s->used && !found) {
            pick = i;
            found = true;
        }
    }
    if (!found) {   /* all in use: the least recently used one goes */
        for (size_t i = 1; i < CON_MAX_SESSIONS; i++)
            if (g_sec->s[i].last_used < g_sec->s[pick].last_used)
                pick = i;
    }
    session *s = &g_sec->s[pick];
    sodium_memzero(s, sizeof *s);
    random_hex(s->id);
    random_hex(s->csrf);
    s->used = true;
    s->last_used = now;
    memcpy(sid, s->id, CON_HEX_TOKEN_LEN + 1);
    pthread_mutex_unlock(&g_lock);
    return NC_OK;
}

bool con_session_lookup(const char *sid, char csrf[CON_HEX_TOKEN_LEN + 1])
{
    bool ok = false;
    if (csrf)
        csrf[0] = '\0';
    if (!g_sec || !sid)
        return false;
    pthread_mutex_lock(&g_lock);
    int64_t now = mono_s();
    for (size_t i = 0; i < CON_MAX_SESSIONS; i++) {
        session *s = &g_sec->s[i];
        if (!s->used)
            continue;
        if (now - s->last_used > CON_SESSION_IDLE_S) {
            sodium_memzero(s, sizeof *s);
            continue;
        }
        if (!ok && hex_eq(sid, s->id)) {
            ok = true;
            s->last_used = now;
            if (csrf)
                memcpy(csrf, s->csrf, CON_HEX_TOKEN_LEN + 1);
        }
    }
    pthread_mutex_unlock(&g_lock);
    return ok;
}
