/* Calls to the worker over control.sock: one connection per call. */
#include <stdio.h>
#include <string.h>
#include "console/console.h"

static void set_err(con_call_error *err, unsigned status, const char *code, const char *message)
{
    err->http_status = status;
    snprintf(err->code, sizeof err->code, "%s", code);
    snprintf(err->message, sizeof err->message, "%.*s", (int)sizeof err->message - 1, message);
}

nc_err con_worker_call(const con_ctx *c, const char *op, json_t *params, json_t **result, con_call_error *err)
{
    return con_worker_call_timeout(c, op, params, CON_RPC_TIMEOUT_MS, result, err);
}

nc_err con_worker_call_timeout(const con_ctx *c, const char *op, json_t *params, int timeout_ms, json_t **result,
                               con_call_error *err)
{
    nc_rpc *rpc = NULL;
    nc_rpc_error rerr;
    char msg[512];
    *result = NULL;
    memset(err, 0, sizeof *err);
    nc_err e = nc_rpc_connect_as(c->control_sock, c->home.worker_uid, &rpc, msg, sizeof msg);
    if (e != NC_OK) {
        json_decref(params);
        if (e == NC_ERR_NOT_FOUND)
            set_err(err, 502, "worker_not_running",
                    "the worker is not running: start it with `nightcore worker start`");
        else
            set_err(err, 502, "worker_unreachable", msg);
        return e;
    }
    nc_rpc_set_timeout(rpc, timeout_ms);
    e = nc_rpc_call(rpc, op, params, result, &rerr);
    nc_rpc_free(rpc);
    if (e == NC_OK)
        return NC_OK;
    if (e == NC_RPC_REFUSED) {
        unsigned status = strcmp(rerr.code, "not_found") == 0         ? 404
                          : strcmp(rerr.code, "invalid_request") == 0 ? 400
                                                                      : 409;
        set_err(err, status, rerr.code, rerr.message);
    } else {
        char m[512];
        snprintf(m, sizeof m, "talking to the worker failed: %.400s", rerr.message);
        set_err(err, 502, "worker_error", m);
    }
    return e;
}

enum MHD_Result con_send_call_error(struct MHD_Connection *conn, const con_call_error *err)
{
    return con_send_error(conn, err->http_status ? err->http_status : 500, err->code[0] ? err->code : "internal", "%s",
                          err->message);
}

enum MHD_Result con_proxy(const con_ctx *c, struct MHD_Connection *conn, const char *op, json_t *params)
{
    json_t *res = NULL;
    con_call_error err;
    if (con_worker_call(c, op, params, &res, &err) != NC_OK)
        return con_send_call_error(conn, &err);
    return con_send_json(conn, 200, res);
}

bool con_id_ok(const char *s)
{
    size_t n = 0;
    if (!s)
        return false;
    for (; s[n]; n++) {
        char ch = s[n];
        if (n >= 80 || !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                         ch == '_' || ch == '-'))
            return false;
    }
    return n > 0;
}
