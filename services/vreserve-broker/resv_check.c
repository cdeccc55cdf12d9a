/* SPDX-License-Identifier: MIT */
/* The broker's request checks (resv_check.h).  Each field has one rule;
 * the message quotes the value through log_escape() so that whatever a
 * client sends can be logged and echoed back safely. */
#include "resv_check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

bool
resv_check_id(const char *s, size_t max)
{
    if (!s || !*s || *s == '-') {
        return false;
    }
    size_t len = 0;
    for (const char *c = s; *c; c++, len++) {
        if (len >= max) {
            return false;
        }
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
              || (*c >= '0' && *c <= '9') || strchr("._:@-", *c))) {
            return false;
        }
    }
    return true;
}

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

static bool
s_bad_str(const char *field, const char *value, const char *rule, char *err,
          size_t errsize)
{
    char esc[96];
    log_format(err, errsize, "field '%s': '%s' %s", field,
               log_escape(esc, sizeof esc, value ? value : "", SIZE_MAX),
               rule);
    return false;
}

static bool
s_id(const char *field, const char *value, size_t max, bool required,
     char *err, size_t errsize)
{
    if ((!value || !*value) && !required) {
        return true;
    }
    if (!value || !*value) {
        return s_bad_str(field, "", "is missing", err, errsize);
    }
    if (!resv_check_id(value, max)) {
        char rule[96];
        snprintf(rule, sizeof rule, "is not an id (1 to %zu of "
                 "[A-Za-z0-9._:@-], not starting with '-')", max);
        return s_bad_str(field, value, rule, err, errsize);
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
resv_check_request(const Vr__ResvRequest *req, char *err, size_t errsize)
{
    return s_id("host_a", req->host_a, RESV_CHECK_HOST_MAX, true, err,
                errsize)
           && s_id("host_b", req->host_b, RESV_CHECK_HOST_MAX, true, err,
                   errsize)
           && s_figure("bandwidth_mbps", req->bandwidth_mbps,
                       RESV_CHECK_MAX_BANDWIDTH_MBPS, err, errsize)
           && s_figure("latency_ms", req->latency_ms,
                       RESV_CHECK_MAX_LATENCY_MS, err, errsize)
           && s_id("request_id", req->request_id, RESV_CHECK_REQUEST_ID_MAX,
                   false, err, errsize)
           && s_id("owner", req->owner, RESV_CHECK_OWNER_MAX, false, err,
                   errsize);
}

bool
resv_check_release(const Vr__ResvRelease *req, char *err, size_t errsize)
{
    if (!s_id("resv_id", req->resv_id, RESV_CHECK_RESV_ID_MAX, true, err,
              errsize)) {
        return false;
    }
    if (req->reason && !s_text_ok(req->reason, RESV_CHECK_REASON_MAX)) {
        char rule[80];
        snprintf(rule, sizeof rule, "is not printable text of at most %d "
                 "bytes", RESV_CHECK_REASON_MAX);
        return s_bad_str("reason", req->reason, rule, err, errsize);
    }
    return true;
}

bool
resv_check_list(const Vr__ResvListRequest *req, char *err, size_t errsize)
{
    /* page_size is any uint32: the broker caps it. */
    return s_id("after", req->after, RESV_CHECK_RESV_ID_MAX, false, err,
                errsize);
}

bool
resv_check_show(const Vr__ResvShowRequest *req, char *err, size_t errsize)
{
    return s_id("resv_id", req->resv_id, RESV_CHECK_RESV_ID_MAX, true, err,
                errsize);
}

bool
resv_check_reservable(const Vr__ReservableQuery *req, char *err,
                      size_t errsize)
{
    return s_id("host_a", req->host_a, RESV_CHECK_HOST_MAX, true, err,
                errsize)
           && s_id("host_b", req->host_b, RESV_CHECK_HOST_MAX, true, err,
                   errsize);
}
