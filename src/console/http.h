/* Starting the HTTP server (http.c). */
#ifndef NC_CONSOLE_HTTP_H
#define NC_CONSOLE_HTTP_H
#include <netinet/in.h>
#include <microhttpd.h>
#include "console/console.h"

/* Listens on addr (127.0.0.1:port) for at most max_connections clients;
 * NULL on failure. */
struct MHD_Daemon *con_http_start(con_ctx *c, const struct sockaddr_in *addr, unsigned max_connections);

#endif
