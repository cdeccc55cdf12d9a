/* SPDX-License-Identifier: MIT */
/* The nsi backend's booking rules: the startTime a reserve carries (none
 * for a start at hand), spans that meet or not, the wait between polls of
 * a booked connection, and the detail's "booked from". */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "adapter_nsi_book.h"

int
main(void)
{
    const int64_t now = INT64_C(1800000000000);     /* ms */
    const uint64_t now_us = (uint64_t) now * 1000, s = 1000000;

    /* Start: none, at hand (under the margin), past: "now"; ahead: it. */
    assert(adapter_nsi_book_start_ms(0, now) == 0);
    assert(adapter_nsi_book_start_ms(now_us + s / 2, now) == 0);
    assert(adapter_nsi_book_start_ms(now_us - s, now) == 0);
    assert(adapter_nsi_book_start_ms(now_us + 5 * s, now) == now + 5000);
    assert(adapter_nsi_book_start_ms(UINT64_MAX, now) == 0);

    /* Spans: disjoint, touching (the end is open), overlapping, open. */
    assert(!adapter_nsi_book_overlap(10, 20, 20, 30));
    assert(!adapter_nsi_book_overlap(20, 30, 10, 20));
    assert(adapter_nsi_book_overlap(10, 21, 20, 30));
    assert(adapter_nsi_book_overlap(0, 0, 20, 30));     /* now, for ever */
    assert(adapter_nsi_book_overlap(10, 0, 100, 200));
    assert(!adapter_nsi_book_overlap(300, 0, 100, 200));

    /* Polls while booked: until the start, at most max; then poll_ms. */
    assert(adapter_nsi_book_wait_ms(now_us + 60 * s, now, 10, 5000) == 5000);
    assert(adapter_nsi_book_wait_ms(now_us + 2 * s, now, 10, 5000) == 2000);
    assert(adapter_nsi_book_wait_ms(now_us + 5000, now, 10, 5000) == 10);
    assert(adapter_nsi_book_wait_ms(now_us - s, now, 10, 5000) == 10);
    assert(adapter_nsi_book_wait_ms(0, now, 10, 5000) == 10);

    /* A teardown at the booked end: terminate, not release. */
    struct adapter_nsi_states st = { .rsm = ADAPTER_NSI_RSM_START,
                                     .psm = ADAPTER_NSI_PSM_PROVISIONED,
                                     .lsm = ADAPTER_NSI_LSM_CREATED };
    const uint64_t end = now_us + 10 * s;
    assert(adapter_nsi_book_down_step(ADAPTER_NSI_NEXT_RELEASE, &st, end,
                                      now) == ADAPTER_NSI_NEXT_RELEASE);
    assert(adapter_nsi_book_down_step(ADAPTER_NSI_NEXT_RELEASE, &st, 0,
                                      now + 20000)
           == ADAPTER_NSI_NEXT_RELEASE);            /* no end */
    assert(adapter_nsi_book_down_step(ADAPTER_NSI_NEXT_RELEASE, &st, end,
                                      now + 8500)
           == ADAPTER_NSI_NEXT_TERMINATE);          /* within the margin */
    st.psm = ADAPTER_NSI_PSM_RELEASING;
    assert(adapter_nsi_book_down_step(ADAPTER_NSI_NEXT_WAIT, &st, end,
                                      now + 11000)
           == ADAPTER_NSI_NEXT_TERMINATE);          /* stuck Releasing */
    st.lsm = ADAPTER_NSI_LSM_TERMINATING;
    assert(adapter_nsi_book_down_step(ADAPTER_NSI_NEXT_WAIT, &st, end,
                                      now + 11000) == ADAPTER_NSI_NEXT_WAIT);

    char buf[64];
    adapter_nsi_book_format(0, buf, sizeof buf);
    assert(!strcmp(buf, ""));
    adapter_nsi_book_format(UINT64_C(1800000000) * s, buf, sizeof buf);
    assert(!strcmp(buf, " booked from 2027-01-15T08:00:00Z"));
    adapter_nsi_book_format(UINT64_C(1800000000) * s, buf, 8);
    assert(strlen(buf) == 7);
    printf("test_adapter_nsi_book: ok\n");
    return 0;
}
