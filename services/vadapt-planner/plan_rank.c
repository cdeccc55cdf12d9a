/* SPDX-License-Identifier: MIT */
/* Incremental ranking (plan_rank.h): an order of item indices, the key
 * each item was placed with, and scratch for the merge, all grown by
 * plan_rank_reserve() so that update and remap never allocate. */
#include "plan_rank.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define S_TAG 0x72616e6bu       /* "rank" */
#define S_DEAD 0xdeadbeefu

/* An item with the key it is placed with, for the sort. */
struct s_item {
    double rank;
    uint32_t idx;
    bool first;
};

struct plan_rank {
    uint32_t tag;
    uint32_t *order;            /* placed items, in order */
    size_t n_order;
    struct plan_rank_key *placed; /* by item: key it was placed with */
    bool *is_placed;            /* by item: in 'order' */
    struct s_item *dirty;       /* scratch: items to place */
    uint32_t *tmp;              /* scratch: the merge's output */
    size_t cap;
};

plan_rank_t *
plan_rank_new(void)
{
    plan_rank_t *self = calloc(1, sizeof *self);
    if (self) {
        self->tag = S_TAG;
    }
    return self;
}

void
plan_rank_destroy(plan_rank_t **self_p)
{
    assert(self_p);
    plan_rank_t *self = *self_p;
    if (!self) {
        return;
    }
    assert(self->tag == S_TAG);
    self->tag = S_DEAD;
    free(self->order);
    free(self->placed);
    free(self->is_placed);
    free(self->dirty);
    free(self->tmp);
    free(self);
    *self_p = NULL;
}

/* Grows '*p' to 'n' elements of 'size' bytes; false if memory is short
 * ('*p' is then unchanged). */
static bool
s_grow(void **p, size_t n, size_t size)
{
    void *q = realloc(*p, n * size);
    if (!q) {
        return false;
    }
    *p = q;
    return true;
}

int
plan_rank_reserve(plan_rank_t *self, size_t n)
{
    assert(self && self->tag == S_TAG);
    if (n <= self->cap) {
        return 0;
    }
    if (n >= UINT32_MAX || n > SIZE_MAX / 2 / sizeof(struct s_item)) {
        return -1;
    }
    size_t cap = self->cap * 2 > n ? self->cap * 2 : n;
    if (cap >= UINT32_MAX) {
        cap = n;
    }
    /* Each array grown alone keeps its content, so a failure half way
     * leaves arrays larger than 'cap' says, which is harmless. */
    if (!s_grow((void **) &self->order, cap, sizeof *self->order)
        || !s_grow((void **) &self->placed, cap, sizeof *self->placed)
        || !s_grow((void **) &self->is_placed, cap, sizeof *self->is_placed)
        || !s_grow((void **) &self->dirty, cap, sizeof *self->dirty)
        || !s_grow((void **) &self->tmp, cap, sizeof *self->tmp)) {
        return -1;
    }
    memset(self->is_placed + self->cap, 0,
           (cap - self->cap) * sizeof *self->is_placed);
    self->cap = cap;
    return 0;
}

/* True if item 'x' with key 'kx' goes before item 'y' with key 'ky'. */
static bool
s_before(const struct plan_rank_key *kx, uint32_t x,
         const struct plan_rank_key *ky, uint32_t y)
{
    if (kx->rank != ky->rank) {
        return kx->rank > ky->rank;
    }
    if (kx->first != ky->first) {
        return kx->first;
    }
    return x < y;
}

static int
s_cmp_item(const void *p, const void *q)
{
    const struct s_item *x = p, *y = q;
    struct plan_rank_key kx = { x->rank, x->first };
    struct plan_rank_key ky = { y->rank, y->first };
    return s_before(&kx, x->idx, &ky, y->idx) ? -1 : 1;
}

const uint32_t *
plan_rank_update(plan_rank_t *self, const struct plan_rank_key *keys,
                 size_t n, bool full)
{
    assert(self && self->tag == S_TAG);
    assert(n <= self->cap);
    assert(keys || !n);

    /* The items to place: new ones and those whose key moved. */
    size_t n_dirty = 0;
    for (size_t i = 0; i < n; i++) {
        const struct plan_rank_key *k = &keys[i];
        if (full || !self->is_placed[i] || k->rank != self->placed[i].rank
            || k->first != self->placed[i].first) {
            self->is_placed[i] = false;
            self->placed[i] = *k;
            self->dirty[n_dirty++] = (struct s_item) { k->rank, (uint32_t) i,
                                                       k->first };
        }
    }
    /* The others keep their relative order. */
    size_t n_clean = 0;
    for (size_t i = 0; i < self->n_order; i++) {
        uint32_t x = self->order[i];
        if (x >= n) {
            self->is_placed[x] = false;     /* gone without a remap */
        } else if (self->is_placed[x]) {
            self->order[n_clean++] = x;
        }
    }
    if (n_dirty > 1) {
        qsort(self->dirty, n_dirty, sizeof *self->dirty, s_cmp_item);
    }
    size_t i = 0, j = 0, o = 0;
    while (i < n_clean || j < n_dirty) {
        bool take_clean;
        if (i == n_clean) {
            take_clean = false;
        } else if (j == n_dirty) {
            take_clean = true;
        } else {
            uint32_t x = self->order[i];
            struct plan_rank_key kd = { self->dirty[j].rank,
                                        self->dirty[j].first };
            take_clean = s_before(&self->placed[x], x, &kd,
                                  self->dirty[j].idx);
        }
        if (take_clean) {
            self->tmp[o++] = self->order[i++];
        } else {
            uint32_t x = self->dirty[j++].idx;
            self->is_placed[x] = true;
            self->tmp[o++] = x;
        }
    }
    assert(o == n);
    uint32_t *t = self->order;
    self->order = self->tmp;
    self->tmp = t;
    self->n_order = o;
    return self->order;
}

void
plan_rank_remap(plan_rank_t *self, const uint32_t *map, size_t n_old,
                size_t n_new)
{
    assert(self && self->tag == S_TAG);
    assert(n_old <= self->cap && n_new <= self->cap);
    /* The keys and flags move through 'tmp'-sized scratch: 'dirty' holds
     * the keys of the kept items meanwhile. */
    size_t u = 0;
    for (size_t i = 0; i < self->n_order; i++) {
        uint32_t x = self->order[i];
        uint32_t y = x < n_old ? map[x] : PLAN_RANK_GONE;
        if (y != PLAN_RANK_GONE && self->is_placed[x]) {
            assert(y < n_new);
            self->dirty[u] = (struct s_item) { self->placed[x].rank, y,
                                               self->placed[x].first };
            self->order[u++] = y;
        }
    }
    self->n_order = u;
    if (self->cap) {
        memset(self->is_placed, 0, self->cap * sizeof *self->is_placed);
    }
    for (size_t i = 0; i < u; i++) {
        uint32_t y = self->dirty[i].idx;
        self->placed[y] = (struct plan_rank_key) { self->dirty[i].rank,
                                                   self->dirty[i].first };
        self->is_placed[y] = true;
    }
}
