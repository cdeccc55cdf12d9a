/* SPDX-License-Identifier: MIT */
/* The adapter's request checks (adapter_check.h).  Each field has one
 * rule; the message quotes the value through log_escape() so whatever a
 * client sends can be logged and echoed back safely. */
#include "adapter_check.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fieldcheck.h"
#include "vtime.h"

static bool
s_ip(const char *field, const char *v, char *err, size_t errsize)
{
    unsigned char buf[16];
    if (!v || !*v) {
        return fieldcheck_bad(field, "", "is missing", err, errsize);
    }
    if (strlen(v) > ADAPTER_CHECK_IP_MAX
        || (inet_pton(AF_INET, v, buf) != 1
            && inet_pton(AF_INET6, v, buf) != 1)) {
        return fieldcheck_bad(field, v, "is not an IPv4 or IPv6 address",
                              err, errsize);
    }
    return true;
}

static bool
s_time_bad(const char *field, uint64_t v, const char *rule, char *err,
           size_t errsize)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return fieldcheck_bad(field, buf, rule, err, errsize);
}

bool
adapter_check_schedule(uint64_t start_us, uint64_t end_us, uint64_t now_us,
                       char *err, size_t errsize)
{
    uint64_t horizon = now_us + ADAPTER_CHECK_HORIZON_US;
    if (start_us && start_us + ADAPTER_CHECK_PAST_SKEW_US < now_us) {
        return s_time_bad("start_us", start_us, "is in the past", err,
                          errsize);
    }
    if (start_us > horizon) {
        return s_time_bad("start_us", start_us, "is more than 366 days "
                          "ahead", err, errsize);
    }
    uint64_t from = start_us > now_us ? start_us : now_us;
    if (end_us && end_us <= from) {
        return s_time_bad("end_us", end_us, "is not after the start", err,
                          errsize);
    }
    if (end_us > horizon) {
        return s_time_bad("end_us", end_us, "is more than 366 days ahead",
                          err, errsize);
    }
    return true;
}

bool
adapter_check_create(const Vr__PathCreate *req, char *err, size_t errsize)
{
    return fieldcheck_id("request_id", req->request_id,
                         ADAPTER_CHECK_REQUEST_ID_MAX, false, err, errsize)
           && s_ip("src_ip", req->src_ip, err, errsize)
           && s_ip("dst_ip", req->dst_ip, err, errsize)
           && fieldcheck_figure("bandwidth_mbps", req->bandwidth_mbps,
                                ADAPTER_CHECK_MAX_BANDWIDTH_MBPS, err,
                                errsize)
           && fieldcheck_figure("latency_ms", req->latency_ms,
                                ADAPTER_CHECK_MAX_LATENCY_MS, err, errsize)
           && adapter_check_schedule(req->start_us, req->end_us,
                                     vtime_now_us(), err, errsize);
}

bool
adapter_check_teardown(const Vr__PathTeardown *req, char *err,
                       size_t errsize)
{
    return fieldcheck_id("path_id", req->path_id, ADAPTER_CHECK_PATH_ID_MAX,
                         true, err, errsize);
}

bool
adapter_check_status(const Vr__PathStatusRequest *req, char *err,
                     size_t errsize)
{
    return fieldcheck_id("path_id", req->path_id, ADAPTER_CHECK_PATH_ID_MAX,
                         true, err, errsize);
}
