/* SPDX-License-Identifier: MIT */
/* Advance reservations at an NSI provider's calendar (the nsi backend's
 * booking rules, pure and unit-tested): the startTime a reserve carries,
 * whether two bookings' time spans meet (a VLAN is the provider's per
 * port and time span), how long a booked connection waits between polls
 * before its start, and how a booking is shown in a path's detail. */
#ifndef ADAPTER_NSI_BOOK_H
#define ADAPTER_NSI_BOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter_nsi_state.h"

/* A start closer than this to now is sent as "now" (no startTime): a
 * startTime in the past, even by a little, is a fault at OpenNSA. */
#define ADAPTER_NSI_BOOK_MARGIN_MS 1000

/* The reserve's startTime (Unix ms) for a path booked from 'start_us'
 * (wall clock us, 0: at once) at wall clock 'now_ms': 0 (now) unless the
 * start is more than ADAPTER_NSI_BOOK_MARGIN_MS ahead. */
int64_t adapter_nsi_book_start_ms(uint64_t start_us, int64_t now_ms);

/* Whether spans [a_from, a_to) and [b_from, b_to) meet (wall clock us;
 * a 'from' of 0 is "from now", a 'to' of 0 is "no end"). */
bool adapter_nsi_book_overlap(uint64_t a_from, uint64_t a_to,
                              uint64_t b_from, uint64_t b_to);

/* The wait (ms) before the next poll of a connection booked from
 * 'start_us', provisioned and waiting for its start, at wall clock
 * 'now_ms': 'poll_ms' from the start on, else until the start but at
 * most 'max_ms'. */
uint32_t adapter_nsi_book_wait_ms(uint64_t start_us, int64_t now_ms,
                                  uint32_t poll_ms, uint32_t max_ms);

/* The step of a teardown ('next', from adapter_nsi_state_next()) for a
 * connection booked to end at 'end_us' (0: none) at wall clock 'now_ms':
 * from ADAPTER_NSI_BOOK_END_MARGIN_MS before its end on, the provider
 * is ending it itself, and a release races that (OpenNSA refuses it,
 * "Scheduled transition is not in the future", or stays Releasing): a
 * release, or a wait in Provisioning or Releasing, becomes a terminate,
 * which every state takes.  Otherwise 'next'. */
#define ADAPTER_NSI_BOOK_END_MARGIN_MS 2000
enum adapter_nsi_next adapter_nsi_book_down_step(
    enum adapter_nsi_next next, const struct adapter_nsi_states *s,
    uint64_t end_us, int64_t now_ms);

/* " booked from 2026-12-07T00:00:05Z" into 'buf' (at least 40 bytes);
 * "" for a 'start_us' of 0. */
void adapter_nsi_book_format(uint64_t start_us, char *buf, size_t size);

#endif /* ADAPTER_NSI_BOOK_H */
