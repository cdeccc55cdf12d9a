/* SPDX-License-Identifier: MIT */
/* Bookings ahead: see plan_book.h. */
#include "plan_book.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void
plan_books_init(struct plan_books *self, uint64_t nonce)
{
    memset(self, 0, sizeof *self);
    self->nonce = nonce;
}

static bool
s_live(const struct plan_booking *bk)
{
    return bk->state == PLAN_BOOK_WAIT || bk->state == PLAN_BOOK_ASKED;
}

size_t
plan_books_add(struct plan_books *self, const struct plan_prediction *pr,
               uint64_t setup_us, uint64_t lead_us, uint64_t take_at_us,
               uint64_t now_us)
{
    size_t added = 0;
    uint64_t start = pr->start_us > setup_us ? pr->start_us - setup_us : 0;
    uint64_t due = start > lead_us ? start - lead_us : 0;
    for (size_t i = 0; i < pr->n_links && self->n < PLAN_BOOK_MAX; i++) {
        const struct plan_predict_link *l = &pr->links[i];
        if (plan_books_find(self, l->host_a, l->host_b)) {
            continue;
        }
        struct plan_booking *bk = &self->v[self->n++];
        memset(bk, 0, sizeof *bk);
        snprintf(bk->a, sizeof bk->a, "%s", l->host_a);
        snprintf(bk->b, sizeof bk->b, "%s", l->host_b);
        bk->pred_id = pr->id;
        bk->book_at_us = due > now_us ? due : now_us;
        bk->start_us = start > now_us ? start : now_us;
        bk->take_at_us = take_at_us;
        bk->state = PLAN_BOOK_WAIT;
        /* No clock in it: a retry after a timeout is the same request. */
        snprintf(bk->request_id, sizeof bk->request_id,
                 "vbook-%016" PRIx64 "-%" PRIu64, self->nonce,
                 ++self->next_seq);
        added++;
    }
    return added;
}

struct plan_booking *
plan_books_find(struct plan_books *self, const char *a, const char *b)
{
    for (size_t i = 0; i < self->n; i++) {
        struct plan_booking *bk = &self->v[i];
        if (s_live(bk)
            && ((!strcmp(bk->a, a) && !strcmp(bk->b, b))
                || (!strcmp(bk->a, b) && !strcmp(bk->b, a)))) {
            return bk;
        }
    }
    return NULL;
}

struct plan_booking *
plan_books_by_resv(struct plan_books *self, const char *resv_id)
{
    for (size_t i = 0; resv_id && *resv_id && i < self->n; i++) {
        if (s_live(&self->v[i]) && !strcmp(self->v[i].resv_id, resv_id)) {
            return &self->v[i];
        }
    }
    return NULL;
}

struct plan_booking *
plan_books_by_request(struct plan_books *self, const char *request_id)
{
    for (size_t i = 0; request_id && *request_id && i < self->n; i++) {
        if (s_live(&self->v[i])
            && !strcmp(self->v[i].request_id, request_id)) {
            return &self->v[i];
        }
    }
    return NULL;
}

bool
plan_booking_asked(struct plan_booking *bk, const char *resv_id)
{
    char name[PLAN_LINK_NAME_LEN];
    if (!resv_id || !*resv_id || strlen(resv_id) >= sizeof bk->resv_id
        || !plan_link_name_resv(resv_id, name)) {
        return false;
    }
    snprintf(bk->resv_id, sizeof bk->resv_id, "%s", resv_id);
    bk->answered = true;
    bk->state = PLAN_BOOK_ASKED;
    return true;
}

void
plan_books_sweep(struct plan_books *self)
{
    size_t k = 0;
    for (size_t i = 0; i < self->n; i++) {
        if (s_live(&self->v[i])) {
            if (k != i) {
                self->v[k] = self->v[i];
            }
            k++;
        }
    }
    self->n = k;
}

size_t
plan_books_count(const struct plan_books *self, enum plan_book_state state)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n; i++) {
        n += self->v[i].state == state;
    }
    return n;
}

const char *
plan_book_state_name(enum plan_book_state s)
{
    switch (s) {
    case PLAN_BOOK_WAIT:
        return "wait";
    case PLAN_BOOK_ASKED:
        return "asked";
    case PLAN_BOOK_ADOPTED:
        return "adopted";
    case PLAN_BOOK_CANCELLED:
        return "cancelled";
    }
    return "?";
}
