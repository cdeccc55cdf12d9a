/* SPDX-License-Identifier: MIT */
/* The broker's request checks (resv_check.h).  Each field has one rule;
 * the message quotes the value through log_escape() so that whatever a
 * client sends can be logged and echoed back safely. */
#include "resv_check.h"

#include <stdio.h>

#include "fieldcheck.h"

/* Free text: at most 'max' bytes, printable ASCII only. */
static bool
s_text_ok(const char *s, size_t max)
{
    size_t len = 0;
    for (const char *c = s; *c; c++, len++) {
        if (len >= max || (unsigned char) *c < 0x20
            || (unsigned char) *c > 0x7e) {
            return false;
        }
    }
    return true;
}

/* A booked time: 0 (none) or a wall-clock time before 2100. */
static bool
s_time(const char *field, uint64_t us, char *err, size_t errsize)
{
    if (us <= RESV_CHECK_MAX_TIME_US) {
        return true;
    }
    char v[32];
    snprintf(v, sizeof v, "%llu", (unsigned long long) us);
    return fieldcheck_bad(field, v, "is not a time before 2100 (us)", err,
                          errsize);
}

bool
resv_check_request(const Vr__ResvRequest *req, char *err, size_t errsize)
{
    return s_time("start_us", req->start_us, err, errsize)
           && s_time("end_us", req->end_us, err, errsize)
           && fieldcheck_id("host_a", req->host_a, RESV_CHECK_HOST_MAX, true,
                         err, errsize)
           && fieldcheck_id("host_b", req->host_b, RESV_CHECK_HOST_MAX, true,
                            err, errsize)
           && fieldcheck_figure("bandwidth_mbps", req->bandwidth_mbps,
                                RESV_CHECK_MAX_BANDWIDTH_MBPS, err, errsize)
           && fieldcheck_figure("latency_ms", req->latency_ms,
                                RESV_CHECK_MAX_LATENCY_MS, err, errsize)
           && fieldcheck_id("request_id", req->request_id,
                            RESV_CHECK_REQUEST_ID_MAX, false, err, errsize)
           && fieldcheck_id("owner", req->owner, RESV_CHECK_OWNER_MAX, false,
                            err, errsize);
}

bool
resv_check_release(const Vr__ResvRelease *req, char *err, size_t errsize)
{
    if (!fieldcheck_id("resv_id", req->resv_id, RESV_CHECK_RESV_ID_MAX, true,
                       err, errsize)) {
        return false;
    }
    if (req->reason && !s_text_ok(req->reason, RESV_CHECK_REASON_MAX)) {
        char rule[80];
        snprintf(rule, sizeof rule, "is not printable text of at most %d "
                 "bytes", RESV_CHECK_REASON_MAX);
        return fieldcheck_bad("reason", req->reason, rule, err, errsize);
    }
    return true;
}

bool
resv_check_list(const Vr__ResvListRequest *req, char *err, size_t errsize)
{
    /* page_size is any uint32: the broker caps it. */
    return fieldcheck_id("after", req->after, RESV_CHECK_RESV_ID_MAX, false,
                         err, errsize);
}

bool
resv_check_show(const Vr__ResvShowRequest *req, char *err, size_t errsize)
{
    return fieldcheck_id("resv_id", req->resv_id, RESV_CHECK_RESV_ID_MAX,
                         true, err, errsize);
}

bool
resv_check_reservable(const Vr__ReservableQuery *req, char *err,
                      size_t errsize)
{
    return fieldcheck_id("host_a", req->host_a, RESV_CHECK_HOST_MAX, true,
                         err, errsize)
           && fieldcheck_id("host_b", req->host_b, RESV_CHECK_HOST_MAX, true,
                            err, errsize);
}
