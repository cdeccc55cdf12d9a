/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_fwd: lookup order, replace and remove, clones and
 * generations, growth to 100k entries, the cache across table swaps, and
 * foreach. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_fwd.h"

enum { N_BIG = 100000 };

static const uint64_t A = UINT64_C(0x02000000000a);
static const uint64_t B = UINT64_C(0x02000000000b);
static const uint64_t C = UINT64_C(0x02000000000c);

static struct fwd_action
s_act(enum fwd_kind kind, uint16_t index)
{
    return (struct fwd_action) { .kind = kind, .index = index };
}

static bool
s_is(struct fwd_action a, enum fwd_kind kind, uint16_t index)
{
    return a.kind == kind && (kind == FWD_NONE || a.index == index);
}

/* The big table's contents, as a function of the entry number. */
static uint64_t
s_big_mac(size_t i)
{
    return UINT64_C(0x020000000000) + i * 2654435761u % 0xffffffffu + 1;
}

struct visit {
    size_t n_rules;
    size_t n_learned;
    uint64_t dst_sum;
};

static void
s_visit(uint64_t dst, uint64_t src, enum fwd_origin origin,
        struct fwd_action action, void *arg)
{
    struct visit *v = arg;
    (void) src;
    (void) action;
    if (origin == FWD_RULE) {
        v->n_rules++;
    } else {
        v->n_learned++;
    }
    v->dst_sum += dst;
}

int
main(void)
{
    fwd_table_t *t = fwd_table_new(0);
    assert(t);
    assert(s_is(fwd_table_lookup(t, A, B), FWD_NONE, 0));

    /* Learned entries, then a rule for the same MAC: the rule wins. */
    uint64_t gen = fwd_table_generation(t);
    assert(fwd_table_set(t, A, 0, FWD_LEARNED, s_act(FWD_LINK, 1)) == 0);
    assert(fwd_table_generation(t) != gen);
    assert(s_is(fwd_table_lookup(t, A, B), FWD_LINK, 1));
    assert(s_is(fwd_table_lookup(t, A, 0), FWD_LINK, 1));
    assert(fwd_table_set(t, A, 0, FWD_RULE, s_act(FWD_PORT, 2)) == 0);
    assert(s_is(fwd_table_lookup(t, A, B), FWD_PORT, 2));
    assert(s_is(fwd_table_learned(t, A), FWD_LINK, 1));

    /* A rule for (dst, src) beats (dst, any), for that source only. */
    assert(fwd_table_set(t, A, B, FWD_RULE, s_act(FWD_DROP, 0)) == 0);
    assert(s_is(fwd_table_lookup(t, A, B), FWD_DROP, 0));
    assert(s_is(fwd_table_lookup(t, A, C), FWD_PORT, 2));
    assert(fwd_table_count(t, FWD_RULE) == 2);
    assert(fwd_table_count(t, FWD_LEARNED) == 1);

    /* Set replaces the entry with the same key and origin. */
    gen = fwd_table_generation(t);
    assert(fwd_table_set(t, A, 0, FWD_RULE, s_act(FWD_LINK, 7)) == 0);
    assert(fwd_table_generation(t) != gen);
    assert(s_is(fwd_table_lookup(t, A, C), FWD_LINK, 7));
    assert(fwd_table_count(t, FWD_RULE) == 2);

    /* Remove: each key and origin on its own. */
    gen = fwd_table_generation(t);
    assert(fwd_table_remove(t, A, B, FWD_RULE));
    assert(fwd_table_generation(t) != gen);
    assert(!fwd_table_remove(t, A, B, FWD_RULE));
    assert(fwd_table_remove(t, A, 0, FWD_LEARNED));
    assert(s_is(fwd_table_lookup(t, A, B), FWD_LINK, 7));
    assert(fwd_table_remove(t, A, 0, FWD_RULE));
    assert(s_is(fwd_table_lookup(t, A, B), FWD_NONE, 0));
    assert(s_is(fwd_table_learned(t, A), FWD_NONE, 0));
    assert(fwd_table_count(t, FWD_RULE) == 0);
    assert(fwd_table_count(t, FWD_LEARNED) == 0);

    /* Remove every entry that points at link 3, whatever its origin. */
    assert(fwd_table_set(t, A, 0, FWD_LEARNED, s_act(FWD_LINK, 3)) == 0);
    assert(fwd_table_set(t, B, 0, FWD_RULE, s_act(FWD_LINK, 3)) == 0);
    assert(fwd_table_set(t, B, A, FWD_RULE, s_act(FWD_LINK, 3)) == 0);
    assert(fwd_table_set(t, C, 0, FWD_LEARNED, s_act(FWD_PORT, 3)) == 0);
    gen = fwd_table_generation(t);
    assert(fwd_table_remove_target(t, FWD_LINK, 3) == 3);
    assert(fwd_table_generation(t) != gen);
    assert(s_is(fwd_table_lookup(t, A, 0), FWD_NONE, 0));
    assert(s_is(fwd_table_lookup(t, B, A), FWD_NONE, 0));
    assert(s_is(fwd_table_lookup(t, C, A), FWD_PORT, 3));
    assert(fwd_table_count(t, FWD_RULE) == 0);
    assert(fwd_table_count(t, FWD_LEARNED) == 1);

    /* A clone is independent of its source, and a new table. */
    fwd_table_t *t2 = fwd_table_clone(t);
    assert(t2);
    assert(fwd_table_generation(t2) != fwd_table_generation(t));
    assert(s_is(fwd_table_lookup(t2, C, A), FWD_PORT, 3));
    assert(fwd_table_set(t2, C, 0, FWD_LEARNED, s_act(FWD_PORT, 4)) == 0);
    assert(fwd_table_set(t2, A, 0, FWD_RULE, s_act(FWD_DROP, 0)) == 0);
    assert(s_is(fwd_table_lookup(t, C, A), FWD_PORT, 3));
    assert(s_is(fwd_table_lookup(t, A, 0), FWD_NONE, 0));
    assert(s_is(fwd_table_lookup(t2, C, A), FWD_PORT, 4));
    assert(fwd_table_remove(t, C, 0, FWD_LEARNED));
    assert(s_is(fwd_table_lookup(t2, C, A), FWD_PORT, 4));
    fwd_table_destroy(&t2);
    assert(!t2);
    fwd_table_destroy(&t2);             /* NULL is fine */

    /* Growth from 16 slots to 100k learned entries and 1000 rules. */
    for (size_t i = 0; i < N_BIG; i++) {
        assert(fwd_table_set(t, s_big_mac(i), 0, FWD_LEARNED,
                             s_act(FWD_LINK, (uint16_t) i)) == 0);
    }
    for (size_t i = 0; i < N_BIG; i += 100) {
        assert(fwd_table_set(t, s_big_mac(i), 0, FWD_RULE,
                             s_act(FWD_PORT, (uint16_t) i)) == 0);
    }
    assert(fwd_table_count(t, FWD_LEARNED) == N_BIG);
    assert(fwd_table_count(t, FWD_RULE) == N_BIG / 100);
    for (size_t i = 0; i < N_BIG; i++) {
        struct fwd_action a = fwd_table_lookup(t, s_big_mac(i), A);
        if (i % 100 == 0) {
            assert(s_is(a, FWD_PORT, (uint16_t) i));
        } else {
            assert(s_is(a, FWD_LINK, (uint16_t) i));
        }
        assert(s_is(fwd_table_learned(t, s_big_mac(i)), FWD_LINK,
                    (uint16_t) i));
    }
    assert(s_is(fwd_table_lookup(t, s_big_mac(N_BIG), A), FWD_NONE, 0));

    /* Remove every third entry: the others must still be found. */
    for (size_t i = 0; i < N_BIG; i += 3) {
        assert(fwd_table_remove(t, s_big_mac(i), 0, FWD_LEARNED));
    }
    for (size_t i = 0; i < N_BIG; i++) {
        struct fwd_action a = fwd_table_learned(t, s_big_mac(i));
        if (i % 3 == 0) {
            assert(s_is(a, FWD_NONE, 0));
        } else {
            assert(s_is(a, FWD_LINK, (uint16_t) i));
        }
    }

    /* foreach sees every entry once. */
    struct visit v = { 0 };
    uint64_t dst_sum = 0;
    size_t n_learned = 0;
    for (size_t i = 0; i < N_BIG; i++) {
        dst_sum += i % 3 ? s_big_mac(i) : 0;
        dst_sum += i % 100 ? 0 : s_big_mac(i);
        n_learned += i % 3 ? 1 : 0;
    }
    fwd_table_foreach(t, s_visit, &v);
    assert(v.n_rules == N_BIG / 100 && v.n_learned == n_learned);
    assert(v.dst_sum == dst_sum);
    assert(fwd_table_count(t, FWD_LEARNED) == n_learned);

    /* Remove, in place in a big table, the learned entries pointing at
     * link 1 (entries 1 and 65537: indexes wrap), then each rule by its
     * port. */
    assert(fwd_table_remove_target(t, FWD_LINK, 1) == 2);
    for (size_t i = 0; i < N_BIG; i += 100) {
        assert(fwd_table_remove_target(t, FWD_PORT, (uint16_t) i) == 1);
    }
    assert(fwd_table_count(t, FWD_RULE) == 0);
    assert(fwd_table_count(t, FWD_LEARNED) == n_learned - 2);
    for (size_t i = 0; i < N_BIG; i++) {
        struct fwd_action a = fwd_table_lookup(t, s_big_mac(i), B);
        if (i % 3 == 0 || (uint16_t) i == 1) {
            assert(s_is(a, FWD_NONE, 0));
        } else {
            assert(s_is(a, FWD_LINK, (uint16_t) i));
        }
    }
    fwd_table_destroy(&t);

    /* The cache: a hit after the first miss, and never a stale action
     * after the table it was filled from is replaced. */
    static struct fwd_cache cache;
    fwd_cache_init(&cache);
    fwd_table_t *cur = fwd_table_new(16);
    assert(fwd_table_set(cur, A, 0, FWD_LEARNED, s_act(FWD_LINK, 1)) == 0);
    assert(s_is(fwd_cache_lookup(&cache, cur, A, B), FWD_LINK, 1));
    assert(cache.hits == 0 && cache.misses == 1);
    assert(s_is(fwd_cache_lookup(&cache, cur, A, B), FWD_LINK, 1));
    assert(s_is(fwd_cache_lookup(&cache, cur, A, B), FWD_LINK, 1));
    assert(cache.hits == 2 && cache.misses == 1);
    assert(s_is(fwd_cache_lookup(&cache, cur, C, B), FWD_NONE, 0));
    assert(s_is(fwd_cache_lookup(&cache, cur, C, B), FWD_NONE, 0));
    assert(cache.hits == 3 && cache.misses == 2);

    fwd_table_t *next = fwd_table_clone(cur);
    assert(fwd_table_set(next, A, 0, FWD_LEARNED, s_act(FWD_LINK, 2)) == 0);
    assert(fwd_table_set(next, C, 0, FWD_RULE, s_act(FWD_DROP, 0)) == 0);
    fwd_table_destroy(&cur);            /* the swap */
    cur = next;
    assert(s_is(fwd_cache_lookup(&cache, cur, A, B), FWD_LINK, 2));
    assert(s_is(fwd_cache_lookup(&cache, cur, C, B), FWD_DROP, 0));
    assert(cache.hits == 3 && cache.misses == 4);
    assert(s_is(fwd_cache_lookup(&cache, cur, A, B), FWD_LINK, 2));
    assert(cache.hits == 4 && cache.misses == 4);

    /* A table changed after it filled the cache (before it is published)
     * has a new generation: no stale hit either. */
    assert(fwd_table_set(cur, A, B, FWD_RULE, s_act(FWD_PORT, 9)) == 0);
    assert(s_is(fwd_cache_lookup(&cache, cur, A, B), FWD_PORT, 9));
    assert(fwd_table_remove(cur, A, B, FWD_RULE));
    assert(s_is(fwd_cache_lookup(&cache, cur, A, B), FWD_LINK, 2));
    assert(cache.hits == 4 && cache.misses == 6);

    /* Many keys and many swaps: the cache agrees with the table. */
    uint64_t seen_gen = fwd_table_generation(cur);
    for (int round = 0; round < 20; round++) {
        next = fwd_table_clone(cur);
        assert(fwd_table_generation(next) != seen_gen);
        seen_gen = fwd_table_generation(next);
        for (uint64_t k = 0; k < 500; k++) {
            uint64_t dst = A + (k * 7 + (uint64_t) round) % 600;
            assert(fwd_table_set(next, dst, 0, FWD_LEARNED,
                                 s_act(FWD_LINK, (uint16_t) round)) == 0);
            assert(fwd_table_generation(next) != seen_gen);
            seen_gen = fwd_table_generation(next);
        }
        fwd_table_destroy(&cur);
        cur = next;
        for (uint64_t k = 0; k < 3000; k++) {
            uint64_t dst = A + k % 600;
            uint64_t src = B + k % 5;
            struct fwd_action a = fwd_cache_lookup(&cache, cur, dst, src);
            struct fwd_action want = fwd_table_lookup(cur, dst, src);
            assert(a.kind == want.kind && a.index == want.index);
        }
    }
    assert(cache.hits > cache.misses);
    fwd_table_destroy(&cur);
    printf("test_agent_fwd: ok\n");
    return 0;
}
