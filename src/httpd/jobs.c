/* Handlers that may wait run here, on a few handler threads, while
 * libmicrohttpd keeps their connection suspended: a worker call that takes a
 * while, a signature waiting for a security key's touch or an audit export
 * never holds up the epoll threads that serve every other connection. What a
 * handler queues is kept in its request's answer slot (nc_httpd_queue sees
 * httpd_job_answer()) and handed to libmicrohttpd when the connection
 * resumes (server.c). */
#include <stdlib.h>
#include "httpd/internal.h"

static _Thread_local httpd_answer *tl_answer;

httpd_answer *httpd_job_answer(void)
{
    return tl_answer;
}

/* Runs the handler with its answers captured, then lets the connection go on. */
static void run_job(nc_httpd *h, job *j, bool stopping)
{
    nc_httpd_req *r = j->req;
    struct MHD_Connection *conn = r->conn;
    tl_answer = &r->answer;
    if (stopping)
        (void)h->cfg.refuse(conn, 503, "busy", "the server is stopping");
    else
        (void)h->cfg.handle(h->cfg.ctx, r);
    tl_answer = NULL;
    r->answer.done = true;
    /* After this the connection (and the request in it) belong to
     * libmicrohttpd again: nothing here touches them. */
    MHD_resume_connection(conn);
    free(j);
}

static void *handler_thread(void *arg)
{
    nc_httpd *h = arg;
    for (;;) {
        pthread_mutex_lock(&h->job_mu);
        while (!h->job_head && !h->jobs_stopping)
            pthread_cond_wait(&h->job_cond, &h->job_mu);
        job *j = h->job_head;
        if (!j) {
            pthread_mutex_unlock(&h->job_mu);
            return NULL;
        }
        h->job_head = j->next;
        if (!h->job_head)
            h->job_tail = NULL;
        h->jobs_waiting--;
        pthread_mutex_unlock(&h->job_mu);
        run_job(h, j, false);
    }
}

nc_err httpd_jobs_start(nc_httpd *h)
{
    for (size_t i = 0; i < h->cfg.handler_threads; i++) {
        if (pthread_create(&h->job_threads[i], NULL, handler_thread, h) != 0)
            return NC_ERR_INTERNAL;
        h->njob_threads++;
    }
    return NC_OK;
}

bool httpd_job_submit(nc_httpd *h, nc_httpd_req *r)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return false;
    j->req = r;
    r->answer.done = false;
    r->answer.response = NULL;
    pthread_mutex_lock(&h->job_mu);
    if (h->jobs_stopping || h->jobs_waiting >= h->cfg.max_jobs || h->njob_threads == 0) {
        pthread_mutex_unlock(&h->job_mu);
        free(j);
        return false;
    }
    /* Suspended before any handler can resume it: the resume always comes
     * after the suspend. */
    MHD_suspend_connection(r->conn);
    if (h->job_tail)
        h->job_tail->next = j;
    else
        h->job_head = j;
    h->job_tail = j;
    h->jobs_waiting++;
    pthread_cond_signal(&h->job_cond);
    pthread_mutex_unlock(&h->job_mu);
    return true;
}

void httpd_jobs_stop(nc_httpd *h)
{
    pthread_mutex_lock(&h->job_mu);
    h->jobs_stopping = true;
    job *waiting = h->job_head;
    h->job_head = h->job_tail = NULL;
    h->jobs_waiting = 0;
    pthread_cond_broadcast(&h->job_cond);
    pthread_mutex_unlock(&h->job_mu);
    while (waiting) {
        job *next = waiting->next;
        run_job(h, waiting, true);
        waiting = next;
    }
    for (size_t i = 0; i < h->njob_threads; i++)
        pthread_join(h->job_threads[i], NULL);
    h->njob_threads = 0;
}
