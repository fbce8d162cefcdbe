/* Starting the console's HTTP server (http.c, on src/httpd/). */
#ifndef NC_CONSOLE_HTTP_H
#define NC_CONSOLE_HTTP_H
#include <stdint.h>
#include "console/console.h"
#include "httpd/httpd.h"

/* Listens on 127.0.0.1:port (0: a free one) for at most max_connections
 * clients. NC_ERR_BUSY: the port is in use. */
NC_MUST_CHECK nc_err con_http_start(con_ctx *c, uint16_t port, unsigned max_connections, nc_httpd **out, char *msg,
                                    size_t msg_len);

#endif
