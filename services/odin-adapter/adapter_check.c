/* SPDX-License-Identifier: MIT */
/* The adapter's request checks (adapter_check.h).  Each field has one
 * rule; the message quotes the value through log_escape() so whatever a
 * client sends can be logged and echoed back safely. */
#include "adapter_check.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static bool
s_bad(const char *field, const char *value, const char *rule, char *err,
      size_t errsize)
{
    char esc[96];
    log_format(err, errsize, "field '%s': '%s' %s", field,
               log_escape(esc, sizeof esc, value ? value : "", SIZE_MAX),
               rule);
    return false;
}

/* 1 to 'max' of [A-Za-z0-9._:@-], not starting with '-'. */
static bool
s_id(const char *field, const char *v, size_t max, bool required, char *err,
     size_t errsize)
{
    if (!v || !*v) {
        return required ? s_bad(field, "", "is missing", err, errsize)
                        : true;
    }
    size_t len = 0;
    bool ok = *v != '-';
    for (const char *c = v; ok && *c; c++, len++) {
        ok = len < max
             && ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
                 || (*c >= '0' && *c <= '9') || strchr("._:@-", *c));
    }
    if (!ok) {
        char rule[96];
        snprintf(rule, sizeof rule, "is not an id (1 to %zu of "
                 "[A-Za-z0-9._:@-], not starting with '-')", max);
        return s_bad(field, v, rule, err, errsize);
    }
    return true;
}

static bool
s_ip(const char *field, const char *v, char *err, size_t errsize)
{
    unsigned char buf[16];
    if (!v || !*v) {
        return s_bad(field, "", "is missing", err, errsize);
    }
    if (strlen(v) > ADAPTER_CHECK_IP_MAX
        || (inet_pton(AF_INET, v, buf) != 1
            && inet_pton(AF_INET6, v, buf) != 1)) {
        return s_bad(field, v, "is not an IPv4 or IPv6 address", err,
                     errsize);
    }
    return true;
}

static bool
s_figure(const char *field, double v, double max, char *err,
         size_t errsize)
{
    if (isfinite(v) && v >= 0 && v <= max) {
        return true;
    }
    log_format(err, errsize, "field '%s': '%g' is not a finite number in "
               "[0, %g]", field, v, max);
    return false;
}

bool
adapter_check_create(const Vr__PathCreate *req, char *err, size_t errsize)
{
    return s_id("request_id", req->request_id, ADAPTER_CHECK_REQUEST_ID_MAX,
                false, err, errsize)
           && s_ip("src_ip", req->src_ip, err, errsize)
           && s_ip("dst_ip", req->dst_ip, err, errsize)
           && s_figure("bandwidth_mbps", req->bandwidth_mbps,
                       ADAPTER_CHECK_MAX_BANDWIDTH_MBPS, err, errsize)
           && s_figure("latency_ms", req->latency_ms,
                       ADAPTER_CHECK_MAX_LATENCY_MS, err, errsize);
}

bool
adapter_check_teardown(const Vr__PathTeardown *req, char *err,
                       size_t errsize)
{
    return s_id("path_id", req->path_id, ADAPTER_CHECK_PATH_ID_MAX, true,
                err, errsize);
}

bool
adapter_check_status(const Vr__PathStatusRequest *req, char *err,
                     size_t errsize)
{
    return s_id("path_id", req->path_id, ADAPTER_CHECK_PATH_ID_MAX, true,
                err, errsize);
}
