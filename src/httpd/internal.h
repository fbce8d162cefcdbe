/* What the files of src/httpd share; nothing outside the folder includes it. */
#ifndef NC_HTTPD_INTERNAL_H
#define NC_HTTPD_INTERNAL_H
#include <pthread.h>
#include <sys/types.h>
#include <time.h>
#include "httpd/httpd.h"

#define HTTPD_MAX_HANDLER_THREADS 16u

/* What a handler thread queued, handed to libmicrohttpd when the connection
 * resumes. */
typedef struct {
    unsigned status;
    struct MHD_Response *response;   /* NULL: none queued */
    bool done;
} httpd_answer;

struct nc_httpd_req {
    nc_httpd *h;
    struct MHD_Connection *conn;
    const char *url;        /* libmicrohttpd's, valid for the whole request */
    const char *method;     /* likewise */
    nc_httpd_plan plan;
    bool answered;          /* an answer was queued when the head came in */
    bool submitted;         /* handed to a handler thread */
    bool too_big;
    bool over_budget;
    int route;
    void *user;
    char *body;             /* NULL until the first byte; NUL-terminated */
    size_t len;             /* bytes kept */
    size_t alloc;           /* bytes allocated (and counted against the budget) */
    size_t seen;            /* bytes received */
    size_t body_cap;
    size_t declared;        /* Content-Length, when given and within the cap */
    httpd_answer answer;
};

typedef struct job {
    struct job *next;
    nc_httpd_req *req;
} job;

struct nc_httpd {
    nc_httpd_config cfg;
    struct MHD_Daemon *d;
    int listen_fd;                  /* ours until libmicrohttpd has it */
    bool unix_socket;
    char unix_path[108];
    uid_t uid;
    uint16_t port;
    char host[48], host_name[48];   /* "127.0.0.1:PORT", "localhost:PORT"; or "localhost", "" */
    char origin[64], origin_name[64];

    pthread_mutex_t budget_mu;
    size_t budget_used;

    pthread_mutex_t log_mu;         /* libmicrohttpd's messages, rate-limited */
    time_t log_window;
    unsigned log_lines, log_dropped;

    /* jobs.c */
    pthread_mutex_t job_mu;
    pthread_cond_t job_cond;
    job *job_head, *job_tail;
    size_t jobs_waiting;
    bool jobs_stopping;
    pthread_t job_threads[HTTPD_MAX_HANDLER_THREADS];
    size_t njob_threads;

    /* stream.c */
    pthread_mutex_t st_mu;          /* every stream's state */
    pthread_cond_t st_cond;         /* stopping */
    nc_httpd_stream *streams;       /* those answered and not yet closed */
    bool st_stopping;
    pthread_t ticker;
    bool ticker_started;
};

/* jobs.c */
NC_MUST_CHECK nc_err httpd_jobs_start(nc_httpd *h);
/* Suspends the connection and queues the request's handler; false when
 * full or stopping (nothing suspended). */
bool httpd_job_submit(nc_httpd *h, nc_httpd_req *r);
void httpd_jobs_stop(nc_httpd *h);
/* The answer slot of the handler running on this thread, or NULL. */
httpd_answer *httpd_job_answer(void);

/* stream.c */
NC_MUST_CHECK nc_err httpd_streams_start(nc_httpd *h);
/* Ends every stream (none suspends again) and stops the keep-alive ticker. */
void httpd_streams_stop(nc_httpd *h);

/* answer.c */
void httpd_add_security_headers(const nc_httpd *h, struct MHD_Response *r);
/* The server a connection belongs to (its socket context). */
nc_httpd *httpd_of(struct MHD_Connection *conn);

#endif
