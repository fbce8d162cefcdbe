/* Answers: every response goes out through nc_httpd_queue, which adds the
 * security headers of its server (found through the connection), so no
 * answer can leave without them. */
#include <stdlib.h>
#include "httpd/internal.h"

/* A response made outside any server (never expected): the strictest policy. */
#define FALLBACK_CSP "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

nc_httpd *httpd_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT)
                                              : NULL;
    return ci ? ci->socket_context : NULL;
}

void httpd_add_security_headers(const nc_httpd *h, struct MHD_Response *r)
{
    MHD_add_response_header(r, "Content-Security-Policy", h && h->cfg.csp ? h->cfg.csp : FALLBACK_CSP);
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
}

enum MHD_Result nc_httpd_queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    httpd_add_security_headers(httpd_of(conn), r);
    httpd_answer *a = httpd_job_answer();
    if (a) {   /* on a handler thread: kept until the connection resumes */
        if (!a->response) {
            a->response = r;
            a->status = status;
        } else {
            MHD_destroy_response(r);
        }
        return MHD_YES;
    }
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result nc_httpd_send(struct MHD_Connection *conn, unsigned status, const char *content_type,
                              const void *data, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free((void *)data);
        return MHD_NO;
    }
    if (content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    return nc_httpd_queue(conn, status, r);
}
