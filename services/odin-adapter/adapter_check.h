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

#include "msgtype.h"

#define ADAPTER_CHECK_MAX_BANDWIDTH_MBPS 1e7    /* 10 Tb/s */
#define ADAPTER_CHECK_MAX_LATENCY_MS 3.6e6      /* an hour */

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
bool adapter_check_teardown(const Vr__PathTeardown *req, char *err,
                            size_t errsize);
bool adapter_check_status(const Vr__PathStatusRequest *req, char *err,
                          size_t errsize);

#endif /* ADAPTER_CHECK_H */
