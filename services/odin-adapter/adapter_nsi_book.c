/* SPDX-License-Identifier: MIT */
/* The nsi backend's booking rules (adapter_nsi_book.h). */
#include "adapter_nsi_book.h"

#include <stdio.h>
#include <time.h>

int64_t
adapter_nsi_book_start_ms(uint64_t start_us, int64_t now_ms)
{
    if (start_us > (uint64_t) INT64_MAX) {
        return 0;
    }
    int64_t start = (int64_t) (start_us / 1000);
    return start > now_ms + ADAPTER_NSI_BOOK_MARGIN_MS ? start : 0;
}

bool
adapter_nsi_book_overlap(uint64_t a_from, uint64_t a_to, uint64_t b_from,
                         uint64_t b_to)
{
    uint64_t at = a_to ? a_to : UINT64_MAX;
    uint64_t bt = b_to ? b_to : UINT64_MAX;
    return a_from < bt && b_from < at;
}

uint32_t
adapter_nsi_book_wait_ms(uint64_t start_us, int64_t now_ms, uint32_t poll_ms,
                         uint32_t max_ms)
{
    int64_t until = (int64_t) (start_us / 1000) - now_ms;
    if (until <= (int64_t) poll_ms) {
        return poll_ms;
    }
    return until < (int64_t) max_ms ? (uint32_t) until : max_ms;
}

enum adapter_nsi_next
adapter_nsi_book_down_step(enum adapter_nsi_next next,
                           const struct adapter_nsi_states *s,
                           uint64_t end_us, int64_t now_ms)
{
    if (!end_us || end_us > (uint64_t) INT64_MAX
        || now_ms + ADAPTER_NSI_BOOK_END_MARGIN_MS < (int64_t) (end_us / 1000)
        || s->lsm != ADAPTER_NSI_LSM_CREATED) {
        return next;
    }
    if (next == ADAPTER_NSI_NEXT_RELEASE
        || (next == ADAPTER_NSI_NEXT_WAIT
            && (s->psm == ADAPTER_NSI_PSM_RELEASING
                || s->psm == ADAPTER_NSI_PSM_PROVISIONING))) {
        return ADAPTER_NSI_NEXT_TERMINATE;
    }
    return next;
}

void
adapter_nsi_book_format(uint64_t start_us, char *buf, size_t size)
{
    if (!size) {
        return;
    }
    buf[0] = '\0';
    time_t t = (time_t) (start_us / 1000000);
    struct tm tm;
    if (!start_us || !gmtime_r(&t, &tm)) {
        return;
    }
    char iso[32];
    if (strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        return;
    }
    snprintf(buf, size, " booked from %s", iso);
}
