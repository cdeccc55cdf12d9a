/* SPDX-License-Identifier: MIT */
/* Checks of every field of the broker's requests before any is used:
 * numbers finite and in range, ids bounded and made of id characters,
 * free text bounded and printable.  A failed check names the field and
 * quotes its value (escaped), for an ERR_BAD_REQUEST reply.  No bus, no
 * store: resv_broker calls these first thing in each handler. */
#ifndef RESV_CHECK_H
#define RESV_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msgtype.h"

/* Largest figures a reservation may ask for. */
#define RESV_CHECK_MAX_BANDWIDTH_MBPS 1e7   /* 10 Tb/s */
#define RESV_CHECK_MAX_LATENCY_MS 3.6e6     /* an hour */
/* Latest booked time: 2100-01-01, microseconds since the epoch. */
#define RESV_CHECK_MAX_TIME_US UINT64_C(4102444800000000)

/* Lengths, without the NUL, that fit struct resv_rec. */
enum {
    RESV_CHECK_HOST_MAX = 63,
    RESV_CHECK_OWNER_MAX = 63,
    RESV_CHECK_REQUEST_ID_MAX = 95,
    RESV_CHECK_RESV_ID_MAX = 31,
    RESV_CHECK_REASON_MAX = 255,
};


/* Each returns true if every field of 'req' is acceptable; otherwise
 * writes "field 'NAME': 'VALUE' ..." (the value escaped) into 'err'. */
bool resv_check_request(const Vr__ResvRequest *req, char *err,
                        size_t errsize);
bool resv_check_release(const Vr__ResvRelease *req, char *err,
                        size_t errsize);
bool resv_check_list(const Vr__ResvListRequest *req, char *err,
                     size_t errsize);
bool resv_check_show(const Vr__ResvShowRequest *req, char *err,
                     size_t errsize);
bool resv_check_reservable(const Vr__ReservableQuery *req, char *err,
                           size_t errsize);

#endif /* RESV_CHECK_H */
