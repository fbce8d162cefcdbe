/* API requests run here, on a few handler threads, while libmicrohttpd keeps
 * their connection suspended: a worker call that takes a while, a signature
 * waiting for a security key's touch or an audit export never holds up the
 * epoll threads that serve every other connection. What a job queues is kept
 * in its con_answer (con_queue sees con_job_current()) and handed to
 * libmicrohttpd when the connection resumes (http.c). */
#include <pthread.h>
#include <stdlib.h>
#include "console/console.h"

typedef struct job {
    struct job *next;
    struct MHD_Connection *conn;
    con_answer *answer;
    con_job_fn fn;
    void *arg;
} job;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static job *g_head, *g_tail;
static size_t g_waiting;
static bool g_stopping;
static pthread_t g_threads[CON_HANDLER_THREADS];
static size_t g_nthreads;
static _Thread_local con_answer *tl_answer;

con_answer *con_job_current(void)
{
    return tl_answer;
}

/* Runs fn with its answers captured, then lets the connection go on. */
static void run_job(job *j)
{
    tl_answer = j->answer;
    j->fn(j->arg);
    tl_answer = NULL;
    j->answer->done = true;
    /* After this the connection (and the answer slot in it) belong to
     * libmicrohttpd again: nothing here touches them. */
    MHD_resume_connection(j->conn);
    free(j);
}

static void *handler_thread(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&g_lock);
        while (!g_head && !g_stopping)
            pthread_cond_wait(&g_cond, &g_lock);
        job *j = g_head;
        if (!j) {
            pthread_mutex_unlock(&g_lock);
            return NULL;
        }
        g_head = j->next;
        if (!g_head)
            g_tail = NULL;
        g_waiting--;
        pthread_mutex_unlock(&g_lock);
        run_job(j);
    }
}

nc_err con_jobs_start(void)
{
    for (size_t i = 0; i < CON_HANDLER_THREADS; i++) {
        if (pthread_create(&g_threads[i], NULL, handler_thread, NULL) != 0)
            return NC_ERR_INTERNAL;
        g_nthreads++;
    }
    return NC_OK;
}

bool con_job_submit(struct MHD_Connection *conn, con_answer *answer, con_job_fn fn, void *arg)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return false;
    j->conn = conn;
    j->answer = answer;
    j->fn = fn;
    j->arg = arg;
    answer->done = false;
    answer->response = NULL;
    pthread_mutex_lock(&g_lock);
    if (g_stopping || g_waiting >= CON_MAX_JOBS || g_nthreads == 0) {
        pthread_mutex_unlock(&g_lock);
        free(j);
        return false;
    }
    /* Suspended before any handler can resume it: the resume always comes
     * after the suspend. */
    MHD_suspend_connection(conn);
    if (g_tail)
        g_tail->next = j;
    else
        g_head = j;
    g_tail = j;
    g_waiting++;
    pthread_cond_signal(&g_cond);
    pthread_mutex_unlock(&g_lock);
    return true;
}

static void answer_busy(void *arg)
{
    struct MHD_Connection *conn = arg;
    (void)con_send_error(conn, 503, "busy", "the console is stopping");
}

void con_jobs_stop(void)
{
    pthread_mutex_lock(&g_lock);
    g_stopping = true;
    job *waiting = g_head;
    g_head = g_tail = NULL;
    g_waiting = 0;
    pthread_cond_broadcast(&g_cond);
    pthread_mutex_unlock(&g_lock);
    while (waiting) {
        job *next = waiting->next;
        waiting->fn = answer_busy;
        waiting->arg = waiting->conn;
        run_job(waiting);
        waiting = next;
    }
    for (size_t i = 0; i < g_nthreads; i++)
        pthread_join(g_threads[i], NULL);
    g_nthreads = 0;
}
