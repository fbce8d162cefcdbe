/* GET /api/dashboard: numbers for the overview, computed from the worker's
 * own answers (runs.list, inbox.list, status), the audit verification and the
 * alerts the event stream brought. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "console/console.h"

#define DASH_RUNS 1000
#define DASH_HOURS 24
#define DASH_BUCKETS 10

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

static void count_outcome(json_t *obj, const char *outcome)
{
    json_t *v = json_object_get(obj, outcome);
    json_object_set_new(obj, outcome, json_integer(json_is_integer(v) ? json_integer_value(v) + 1 : 1));
}

enum MHD_Result con_api_dashboard(con_ctx *c, struct MHD_Connection *conn)
{
    json_t *runs = NULL, *inbox = NULL, *status = NULL, *out = NULL, *today = NULL, *hours = NULL, *hist = NULL;
    con_call_error err;
    enum MHD_Result ret;
    int64_t hist_n[DASH_BUCKETS] = {0};

    if (con_worker_call(c, "runs.list", json_pack("{s:i}", "limit", DASH_RUNS), &runs, &err) != NC_OK ||
        con_worker_call(c, "inbox.list", json_pack("{s:s, s:i}", "status", "pending", "limit", 1), &inbox, &err) !=
            NC_OK ||
        con_worker_call(c, "status", NULL, &status, &err) != NC_OK) {
        ret = con_send_call_error(conn, &err);
        goto done;
    }
    int64_t now = (int64_t)time(NULL), midnight = local_midnight(now);
    int64_t first_hour = (now - now % 3600) - (DASH_HOURS - 1) * 3600;
    today = json_object();
    hours = json_array();
    hist = json_array();
    if (!today || !hours || !hist)
        goto oom;
    for (int i = 0; i < DASH_HOURS; i++)
        if (json_array_append_new(hours, json_pack("{s:I}", "hour", (json_int_t)(first_hour + i * 3600))) != 0)
            goto oom;
    const json_t *items = json_object_get(runs, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *r = json_array_get(items, i);
        const char *outcome = json_string_value(json_object_get(r, "outcome"));
        json_int_t started = json_integer_value(json_object_get(r, "started_at"));
        const json_t *score = json_object_get(json_object_get(r, "threat"), "score");
        char oc[32];
        /* outcome names are keys in the answer: keep them to a known shape */
        snprintf(oc, sizeof oc, "%s", outcome && strlen(outcome) < sizeof oc ? outcome : "unknown");
        for (size_t k = 0; oc[k]; k++)
            if (!((oc[k] >= 'a' && oc[k] <= 'z') || oc[k] == '_'))
                oc[k] = '_';
        if (started >= midnight)
            count_outcome(today, oc);
        if (started >= first_hour && started < first_hour + DASH_HOURS * 3600)
            count_outcome(json_array_get(hours, (size_t)((started - first_hour) / 3600)), oc);
        if (json_is_integer(score)) {
            json_int_t s = json_integer_value(score);
            int b = s < 0 ? 0 : s >= 100 ? DASH_BUCKETS - 1 : (int)(s / 10);
            hist_n[b]++;
        }
    }
    for (int i = 0; i < DASH_BUCKETS; i++)
        if (json_array_append_new(hist, json_integer(hist_n[i])) != 0)
            goto oom;
    json_t *audit = con_audit_report(c, false);
    json_t *alerts = con_alerts();
    const json_t *refused = json_object_get(audit, "refused_today");
    out = json_pack("{s:I, s:O?, s:o, s:o, s:{s:O?, s:O?, s:O?}, s:o, s:o, s:I, s:O}", "pending",
                    json_integer_value(json_object_get(inbox, "total")), "refused_today", refused, "runs_today",
                    today, "alerts", alerts ? alerts : json_array(), "audit", "ok", json_object_get(audit, "ok"),
                    "entries", json_object_get(audit, "entries"), "error", json_object_get(audit, "error"),
                    "runs_by_hour", hours, "score_histogram", hist, "runs_considered",
                    (json_int_t)json_array_size(items), "worker", status);
    today = hours = hist = NULL;
    json_decref(audit);
    ret = con_send_json(conn, 200, out);
    goto done;
oom:
    ret = con_send_error(conn, 500, "internal", "out of memory");
done:
    json_decref(runs);
    json_decref(inbox);
    json_decref(status);
    json_decref(today);
    json_decref(hours);
    json_decref(hist);
    return ret;
}
