/* SPDX-License-Identifier: MIT */
/* resv_cal: the peak number of booked spans over a window, against a
 * brute-force count at every instant on random calendars; touching spans
 * do not overlap; open-ended spans; the instant reported. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "resv_cal.h"

static size_t
s_brute(const struct resv_span *v, size_t n, uint64_t s, uint64_t e,
        uint64_t *at)
{
    size_t peak = 0;
    *at = s;
    for (uint64_t t = s; t < e; t++) {
        size_t c = 0;
        for (size_t i = 0; i < n; i++) {
            c += v[i].start <= t && t < v[i].end;
        }
        if (c > peak) {
            peak = c;
            *at = t;
        }
    }
    return peak;
}

int
main(void)
{
    const struct resv_span a[] = {
        { 10, 20 }, { 20, 30 }, { 15, 25 }, { 40, RESV_CAL_FOREVER },
    };
    uint64_t at;
    assert(resv_cal_peak(a, 4, 0, 100, &at) == 2 && at == 15);
    assert(resv_cal_peak(a, 4, 25, 40, &at) == 1);      /* touching */
    assert(resv_cal_peak(a, 4, 30, 40, &at) == 0 && at == 30);
    assert(resv_cal_peak(a, 4, 50, RESV_CAL_FOREVER, &at) == 1);
    assert(resv_cal_peak(a, 4, 50, 50, &at) == 0);      /* empty window */
    assert(resv_cal_peak(NULL, 0, 0, 10, &at) == 0);

    srand(3);
    for (int round = 0; round < 3000; round++) {
        struct resv_span v[12];
        size_t n = (size_t) (rand() % 12);
        for (size_t i = 0; i < n; i++) {
            v[i].start = (uint64_t) (rand() % 60);
            v[i].end = rand() % 8 == 0 ? RESV_CAL_FOREVER
                                       : (uint64_t) (rand() % 70);
        }
        uint64_t s = (uint64_t) (rand() % 60), e = s + (uint64_t) (rand() % 40);
        uint64_t at2;
        size_t want = s_brute(v, n, s, e, &at2);
        assert(resv_cal_peak(v, n, s, e, &at) == want);
        if (want) {
            assert(at == at2);
        }
    }
    printf("resv_cal: ok\n");
    return 0;
}
