/* SPDX-License-Identifier: MIT */
/* Checks of every field of the adapter's requests before any is used:
 * addresses are IP literals, figures finite and in range, ids bounded and
 * made of id characters.  A failed check names the field and quotes its
 * value (escaped), for an ERR_BAD_REQUEST reply.  No bus, no backend:
 * adapter_svc calls these first thing in each handler. */
#ifndef ADAPTER_CHECK_H
#define ADAPTER_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msgtype.h"

#define ADAPTER_CHECK_MAX_BANDWIDTH_MBPS 1e7    /* 10 Tb/s */
#define ADAPTER_CHECK_MAX_LATENCY_MS 3.6e6      /* an hour */

/* An advance booking (PathCreate start_us/end_us): a start this far in
 * the past is taken as now (clocks and the bus are not instant), and
 * neither end may be further ahead than the horizon. */
#define ADAPTER_CHECK_PAST_SKEW_US UINT64_C(2000000)             /* 2 s */
#define ADAPTER_CHECK_HORIZON_US (UINT64_C(366) * 86400 * 1000000) /* 1 y */

/* Lengths, without the NUL, that fit struct adapter_path_rec. */
enum {
    ADAPTER_CHECK_REQUEST_ID_MAX = 95,
    ADAPTER_CHECK_PATH_ID_MAX = 31,
    ADAPTER_CHECK_IP_MAX = 63,
};

/* Each returns true if every field of 'req' is acceptable; otherwise
 * writes "field 'NAME': 'VALUE' ..." (the value escaped) into 'err'.
 * PathListRequest has no fields. */
bool adapter_check_create(const Vr__PathCreate *req, char *err,
                          size_t errsize);
/* The schedule of a PathCreate at wall clock 'now_us': 0/0 is at once
 * for ever; a start not more than ADAPTER_CHECK_PAST_SKEW_US in the past
 * nor beyond the horizon; an end after the start (or after now) and
 * within the horizon. */
bool adapter_check_schedule(uint64_t start_us, uint64_t end_us,
                            uint64_t now_us, char *err, size_t errsize);
bool adapter_check_teardown(const Vr__PathTeardown *req, char *err,
                            size_t errsize);
bool adapter_check_status(const Vr__PathStatusRequest *req, char *err,
                          size_t errsize);

#endif /* ADAPTER_CHECK_H */
