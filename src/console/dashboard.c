/* GET /api/dashboard[?day_start=T]: the overview. Every number comes from
 * the worker's aggregate queries over the whole period (stats: counted in
 * SQL, never from a page of rows), its open alerts (alerts.list: derived
 * from the audit log and the inbox, so they survive a restart of either
 * program), its status, and the console's own verification of the log.
 * day_start is the start of "today" in the browser's time zone. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "console/console.h"

#define DASH_ALERTS 10

static int64_t local_midnight(int64_t now)
{
    time_t t = (time_t)now;
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return now - now % 86400;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

enum MHD_Result con_api_dashboard(con_ctx *c, struct MHD_Connection *conn)
{
    json_t *stats = NULL, *alerts = NULL, *status = NULL, *out = NULL;
    con_call_error err;
    enum MHD_Result ret;
    int64_t now = (int64_t)time(NULL), day_start = local_midnight(now);
    uint64_t v;
    const char *ds = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "day_start");
    if (ds && ds[0]) {
        if (!nc_httpd_parse_u64(ds, (uint64_t)now + 86400, &v) || (int64_t)v < now - 2 * 86400)
            return con_send_error(conn, 400, "invalid_request",
                                  "day_start must be the unix time of the start of today (within two days of now)");
        day_start = (int64_t)v;
    }
    if (con_worker_call(c, "stats", json_pack("{s:I}", "day_start", (json_int_t)day_start), &stats, &err) != NC_OK ||
        con_worker_call(c, "alerts.list", json_pack("{s:i}", "limit", DASH_ALERTS), &alerts, &err) != NC_OK ||
        con_worker_call(c, "status", NULL, &status, &err) != NC_OK) {
        ret = con_send_call_error(conn, &err);
        goto done;
    }
    json_t *audit = con_audit_report(c, false);
    const json_t *runs = json_object_get(stats, "runs"), *subs = json_object_get(stats, "submissions");
    const json_t *by_status = json_object_get(subs, "by_status");
    out = json_pack("{s:I, s:O, s:O, s:O, s:I, s:O, s:O, s:O, s:O, s:{s:O?, s:O?, s:O?, s:O?}, s:O, s:O, s:O, s:I}",
                    "pending", json_integer_value(json_object_get(by_status, "pending")),
                    "refused_today", json_object_get(json_object_get(stats, "refusals"), "today"),
                    "refusals", json_object_get(stats, "refusals"),
                    "runs_today", json_object_get(runs, "today"),
                    "runs_total", json_integer_value(json_object_get(runs, "total")),
                    "runs_by_hour", json_object_get(runs, "by_hour"),
                    "runs_by_day", json_object_get(runs, "by_day"),
                    "score_histogram", json_object_get(subs, "score_histogram"),
                    "submissions", subs,
                    "audit", "ok", json_object_get(audit, "ok"), "entries", json_object_get(audit, "entries"),
                    "error", json_object_get(audit, "error"), "verified_at", json_object_get(audit, "verified_at"),
                    "alerts", json_object_get(alerts, "items"),
                    "alerts_open", json_object_get(alerts, "open"),
                    "worker", status,
                    "day_start", (json_int_t)day_start);
    json_decref(audit);
    ret = con_send_json(conn, 200, out);
done:
    json_decref(stats);
    json_decref(alerts);
    json_decref(status);
    return ret;
}
