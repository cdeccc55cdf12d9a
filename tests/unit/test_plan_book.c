/* SPDX-License-Identifier: MIT */
/* plan_book: bookings made from a prediction, due set-up + lead before
 * its start (now if past), one per link; found by link (either order),
 * reservation id and request id while live; a bad id refused; swept once
 * taken or cancelled; the table bounded. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "plan_book.h"

#define S 1000000ULL

static struct plan_prediction s_pred;

static void
s_set_pred(uint64_t id, uint64_t start, size_t n)
{
    memset(&s_pred, 0, sizeof s_pred);
    s_pred.id = id;
    s_pred.start_us = start;
    s_pred.n_links = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(s_pred.links[i].host_a, PLAN_HOST_LEN, "a%zu", i);
        snprintf(s_pred.links[i].host_b, PLAN_HOST_LEN, "b%zu", i);
    }
}

int
main(void)
{
    struct plan_books bs;
    plan_books_init(&bs, 0x1234);

    /* Start at 100 s, set-up 5 s, lead 1 s: due at 94 s, set up at 95. */
    s_set_pred(7, 100 * S, 2);
    assert(plan_books_add(&bs, &s_pred, 5 * S, 1 * S, 0, 10 * S) == 2);
    assert(bs.n == 2 && bs.v[0].book_at_us == 94 * S);
    assert(bs.v[0].start_us == 95 * S && bs.v[0].pred_id == 7);
    assert(bs.v[0].state == PLAN_BOOK_WAIT);
    assert(bs.v[0].take_at_us == 0);
    assert(strcmp(bs.v[0].request_id, bs.v[1].request_id) != 0);
    assert(!strncmp(bs.v[0].request_id, "vbook-0000000000001234-", 23));
    /* The same links again: skipped. */
    assert(plan_books_add(&bs, &s_pred, 5 * S, 1 * S, 0, 10 * S) == 0);
    /* Due already: now. */
    s_set_pred(8, 12 * S, 3);
    assert(plan_books_add(&bs, &s_pred, 5 * S, 1 * S, 0, 10 * S) == 1);
    assert(bs.v[2].book_at_us == 10 * S && bs.v[2].start_us == 10 * S);
    /* A scheduled phase's: taken at its start. */
    s_set_pred(9, 30 * S, 1);
    snprintf(s_pred.links[0].host_a, PLAN_HOST_LEN, "s0");
    assert(plan_books_add(&bs, &s_pred, 5 * S, 1 * S, 30 * S, 10 * S) == 1);
    assert(bs.v[3].take_at_us == 30 * S && bs.v[3].book_at_us == 24 * S);

    /* Found by link either way, by request id; by reservation id once
     * asked; a bad reservation id refused. */
    struct plan_booking *bk = plan_books_find(&bs, "b1", "a1");
    assert(bk == &bs.v[1]);
    assert(plan_books_by_request(&bs, bk->request_id) == bk);
    assert(!plan_books_by_resv(&bs, "r-1") && !plan_books_by_resv(&bs, ""));
    assert(!plan_booking_asked(bk, ""));
    assert(!plan_booking_asked(bk, NULL));
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert(!plan_booking_asked(bk, big));
    assert(bk->state == PLAN_BOOK_WAIT);
    assert(plan_booking_asked(bk, "r-1") && bk->state == PLAN_BOOK_ASKED);
    assert(plan_books_by_resv(&bs, "r-1") == bk);
    assert(plan_books_count(&bs, PLAN_BOOK_ASKED) == 1);

    /* Taken and cancelled ones are no longer found, then swept. */
    bk->state = PLAN_BOOK_ADOPTED;
    bs.v[0].state = PLAN_BOOK_CANCELLED;
    assert(!plan_books_find(&bs, "a1", "b1"));
    assert(!plan_books_by_resv(&bs, "r-1"));
    bs.v[3].state = PLAN_BOOK_CANCELLED;
    plan_books_sweep(&bs);
    assert(bs.n == 1 && !strcmp(bs.v[0].a, "a2"));

    /* Bounded. */
    s_set_pred(9, 1000 * S, PLAN_PREDICT_MAX_LINKS);
    size_t added = plan_books_add(&bs, &s_pred, 0, 0, 0, 0);
    assert(bs.n == PLAN_BOOK_MAX && added == PLAN_BOOK_MAX - 1);
    assert(!strcmp(plan_book_state_name(PLAN_BOOK_ASKED), "asked"));
    printf("plan_book: ok\n");
    return 0;
}
