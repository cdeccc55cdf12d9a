/* SPDX-License-Identifier: MIT */
/* vadapt-planner/plan_rank: after random updates (a few keys moved, all
 * moved, none), removals and insertions (plan_rank_remap()), the order
 * is the one a full sort by (rank descending, flag first, index
 * ascending) gives.  Ranks are drawn from a few values, so ties are
 * common. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "plan_rank.h"

enum { MAX_N = 300 };

static struct plan_rank_key g_keys[MAX_N];

static int
cmp_full(const void *x, const void *y)
{
    uint32_t i = *(const uint32_t *) x, j = *(const uint32_t *) y;
    const struct plan_rank_key *a = &g_keys[i], *b = &g_keys[j];
    if (a->rank != b->rank) {
        return a->rank > b->rank ? -1 : 1;
    }
    if (a->first != b->first) {
        return a->first ? -1 : 1;
    }
    return i < j ? -1 : i > j;
}

static void
check(const uint32_t *order, size_t n)
{
    uint32_t want[MAX_N];
    for (size_t i = 0; i < n; i++) {
        want[i] = (uint32_t) i;
    }
    qsort(want, n, sizeof *want, cmp_full);
    for (size_t i = 0; i < n; i++) {
        assert(order[i] == want[i]);
    }
}

static struct plan_rank_key
rkey(void)
{
    return (struct plan_rank_key) { (double) (rand() % 5), rand() % 2 };
}

int
main(void)
{
    srand(6);
    plan_rank_t *r = plan_rank_new();
    assert(r);
    plan_rank_update(r, NULL, 0, false);     /* empty: no order needed */
    size_t n = 0;
    for (int step = 0; step < 3000; step++) {
        int what = rand() % 6;
        if (what == 0) {
            /* Remove some items and insert others, keeping the kept ones
             * in their order, as the core's link array does. */
            uint32_t map[MAX_N];
            struct plan_rank_key next[MAX_N];
            size_t m = 0;
            for (size_t i = 0; i < n; i++) {
                while (m < MAX_N - 1 && rand() % 8 == 0) {
                    next[m++] = rkey();             /* a new item */
                }
                if (rand() % 6 == 0 || m == MAX_N) {
                    map[i] = PLAN_RANK_GONE;
                } else {
                    map[i] = (uint32_t) m;
                    next[m++] = g_keys[i];
                }
            }
            while (m < 40 && rand() % 2) {
                next[m++] = rkey();
            }
            assert(plan_rank_reserve(r, m > n ? m : n) == 0);
            plan_rank_remap(r, map, n, m);
            n = m;
            for (size_t i = 0; i < n; i++) {
                g_keys[i] = next[i];
            }
        } else if (what == 1) {
            for (size_t i = 0; i < n; i++) {
                g_keys[i] = rkey();
            }
        } else if (what <= 4) {
            for (int k = rand() % 4; k > 0 && n; k--) {
                g_keys[rand() % n] = rkey();
            }
        }
        const uint32_t *order = plan_rank_update(r, g_keys, n,
                                                 rand() % 20 == 0);
        check(order, n);
    }
    plan_rank_destroy(&r);
    assert(!r);
    plan_rank_destroy(&r);
    printf("plan_rank: ok\n");
    return 0;
}
