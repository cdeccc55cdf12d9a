/* SPDX-License-Identifier: MIT */
/* The broker's calendar: whether a reservation booked for [start, end)
 * fits under a limit given the reservations already booked, each over its
 * own span, as OpenNSA's calendar books a port over time.  A limit of N
 * paths on a host or a network holds at every instant: the reservations
 * whose spans cover that instant are fewer than N before the new one is
 * added.  Pure: no store, no clock. */
#ifndef RESV_CAL_H
#define RESV_CAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESV_CAL_FOREVER UINT64_MAX

/* A booked span, [start, end); end RESV_CAL_FOREVER: until released. */
struct resv_span {
    uint64_t start;
    uint64_t end;
};

/* The largest number of 'spans' ('n') that overlap one instant within
 * [start, end), and the first instant it is reached at ('*at', if not
 * NULL; 'start' when none overlaps).  Empty spans (end <= start) count
 * for nothing.  O(n log n); allocates nothing beyond 2n counters, and
 * returns SIZE_MAX if that allocation fails. */
size_t resv_cal_peak(const struct resv_span *spans, size_t n, uint64_t start,
                     uint64_t end, uint64_t *at);

#endif /* RESV_CAL_H */
