/* SPDX-License-Identifier: MIT */
/* Bookings ahead: the paths the planner asks the broker for because a
 * phase is predicted (plan_predict.h), before any demand for them.  Each
 * booking is one host link of the predicted phase:
 *
 *   WAIT ──(due: its set-up would end at the phase's start)──▶ ASKED
 *     │                                 │  the link selected: ADOPTED
 *     │ held already, or the prediction │  (becomes a held link)
 *     │ decided                         │  the prediction missed, or
 *     ▼                                 ▼  the path ended: CANCELLED
 *   dropped                           dropped
 *
 * A booking in ASKED is the planner's reservation at the broker that no
 * held link stands behind yet: reconcile must leave it alone.  Pure: no
 * bus, no clock, no logging; plan_svc.c does the I/O. */
#ifndef PLAN_BOOK_H
#define PLAN_BOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan_link.h"
#include "plan_predict.h"

enum {
    PLAN_BOOK_MAX = PLAN_PREDICT_MAX_LINKS, /* one open prediction's */
};

enum plan_book_state {
    PLAN_BOOK_WAIT,             /* not asked yet: due at book_at_us */
    PLAN_BOOK_ASKED,            /* asked (answered or to be asked again) */
    PLAN_BOOK_ADOPTED,          /* taken by a held link: to be dropped */
    PLAN_BOOK_CANCELLED,        /* released or never asked: to be dropped */
};

struct plan_booking {
    char a[PLAN_HOST_LEN];      /* a < b */
    char b[PLAN_HOST_LEN];
    uint64_t pred_id;           /* the prediction it serves */
    uint64_t book_at_us;        /* ask then (monotonic) */
    uint64_t start_us;          /* the path is to be set up from then */
    uint64_t take_at_us;        /* taken then, selected or not (0: only
                                   once the core selects its link) */
    enum plan_book_state state;
    char request_id[PLAN_LINK_ID_LEN];  /* stable: retries are the same */
    char resv_id[PLAN_LINK_ID_LEN];     /* the broker's, once known */
    int resv_state;             /* vr.ResvState as last heard */
    bool answered;              /* the broker gave its id */
    uint32_t asks;
    bool limited;               /* refused for a limit, asked again */
    char path_host_a[PLAN_HOST_LEN];    /* the path's ends, once active */
    char addr_a[PLAN_LINK_ADDR_LEN];
    char addr_b[PLAN_LINK_ADDR_LEN];
};

struct plan_books {
    struct plan_booking v[PLAN_BOOK_MAX];
    size_t n;
    uint64_t nonce;             /* in request ids, random per start */
    uint64_t next_seq;
};

void plan_books_init(struct plan_books *self, uint64_t nonce);

/* Adds the bookings for prediction 'pr': one per link, due 'setup_us' +
 * 'lead_us' before the predicted start (at 'now_us' if that has passed),
 * to be set up from 'setup_us' before it, taken at 'take_at_us' (0: when
 * selected).  Links already booked are skipped.  Returns how many were
 * added (the table holds PLAN_BOOK_MAX). */
size_t plan_books_add(struct plan_books *self, const struct plan_prediction *pr,
                      uint64_t setup_us, uint64_t lead_us, uint64_t take_at_us,
                      uint64_t now_us);

/* Finds a live booking (WAIT or ASKED) by its link (either order), its
 * reservation id or its request id; NULL if none ("" never matches). */
struct plan_booking *plan_books_find(struct plan_books *self, const char *a,
                                     const char *b);
struct plan_booking *plan_books_by_resv(struct plan_books *self,
                                        const char *resv_id);
struct plan_booking *plan_books_by_request(struct plan_books *self,
                                           const char *request_id);

/* Records the broker's id for 'bk' (bounded, non-empty: else false). */
bool plan_booking_asked(struct plan_booking *bk, const char *resv_id);

/* Drops ADOPTED and CANCELLED bookings. */
void plan_books_sweep(struct plan_books *self);

/* Bookings in 'state'. */
size_t plan_books_count(const struct plan_books *self,
                        enum plan_book_state state);

/* "wait", "asked", ... */
const char *plan_book_state_name(enum plan_book_state s);

#endif /* PLAN_BOOK_H */
