/* SPDX-License-Identifier: MIT */
/* The adapter's request checks (adapter_check.h).  Each field has one
 * rule; the message quotes the value through log_escape() so whatever a
 * client sends can be logged and echoed back safely. */
#include "adapter_check.h"

#include <arpa/inet.h>
#include <string.h>

#include "fieldcheck.h"

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
                                ADAPTER_CHECK_MAX_LATENCY_MS, err, errsize);
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
