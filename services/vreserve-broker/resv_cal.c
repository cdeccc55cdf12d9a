/* SPDX-License-Identifier: MIT */
/* The broker's calendar: a sweep over the booked spans.  See resv_cal.h. */
#include "resv_cal.h"

#include <stdlib.h>

/* A span's edge: +1 at its start, -1 at its end. */
struct s_edge {
    uint64_t t;
    int delta;
};

static int
s_cmp_edge(const void *x, const void *y)
{
    const struct s_edge *a = x, *b = y;
    if (a->t != b->t) {
        return a->t < b->t ? -1 : 1;
    }
    /* An end before a start at the same instant: [s, e) spans that only
     * touch do not overlap. */
    return a->delta - b->delta;
}

size_t
resv_cal_peak(const struct resv_span *spans, size_t n, uint64_t start,
              uint64_t end, uint64_t *at)
{
    if (at) {
        *at = start;
    }
    if (end <= start || n == 0) {
        return 0;
    }
    if (n > SIZE_MAX / 2 / sizeof(struct s_edge)) {
        return SIZE_MAX;
    }
    struct s_edge *e = malloc(2 * n * sizeof *e);
    if (!e) {
        return SIZE_MAX;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        /* Clipped to the window: what lies outside cannot matter. */
        uint64_t s = spans[i].start > start ? spans[i].start : start;
        uint64_t t = spans[i].end < end ? spans[i].end : end;
        if (t <= s) {
            continue;
        }
        e[m++] = (struct s_edge) { s, +1 };
        e[m++] = (struct s_edge) { t, -1 };
    }
    qsort(e, m, sizeof *e, s_cmp_edge);
    size_t cur = 0, peak = 0;
    for (size_t i = 0; i < m; i++) {
        if (e[i].delta > 0) {
            cur++;
            if (cur > peak) {
                peak = cur;
                if (at) {
                    *at = e[i].t;
                }
            }
        } else {
            cur--;
        }
    }
    free(e);
    return peak;
}
