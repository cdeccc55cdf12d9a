/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_flood: a source's burst and rate, sources apart, a
 * full table sharing one overflow bucket (so made-up sources gain only
 * that), buckets reused once idle, and a long idle that only refills. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>

#include "agent_flood.h"

enum { MS = 1000, S = 1000000 };

static int
s_allowed(flood_t *f, uint64_t src, uint64_t now, int n)
{
    int ok = 0;
    for (int i = 0; i < n; i++) {
        ok += flood_allow(f, src, now);
    }
    return ok;
}

int
main(void)
{
    struct flood_cfg cfg = {
        .rate = 10, .burst = 5, .n_sources = 8, .idle_us = 2 * S,
    };
    struct flood_cfg bad = cfg;
    bad.rate = 0;
    assert(!flood_new(&bad));
    bad = cfg;
    bad.burst = 0;
    assert(!flood_new(&bad));
    bad = cfg;
    bad.n_sources = 0;
    assert(!flood_new(&bad));
    assert(!flood_new(NULL));

    /* A burst of 5, then 10 a second. */
    flood_t *f = flood_new(&cfg);
    assert(f);
    uint64_t a = UINT64_C(0x020000000001), b = a + 1;
    uint64_t t = 10 * S;
    assert(s_allowed(f, a, t, 20) == 5);
    assert(!flood_allow(f, a, t + 50 * MS));     /* half a token */
    assert(flood_allow(f, a, t + 100 * MS));
    assert(!flood_allow(f, a, t + 100 * MS));
    assert(s_allowed(f, a, t + 1100 * MS, 20) == 5); /* capped at burst */
    /* Another source has its own bucket. */
    assert(s_allowed(f, b, t, 20) == 5);
    const struct flood_stats *st = flood_stats(f);
    assert(st->allowed == 5 + 1 + 5 + 5 && st->limited == 15 + 2 + 15 + 15);
    flood_destroy(&f);
    assert(!f);
    flood_destroy(&f);

    /* 1000 made-up sources at once, one flood each: at most 8 get a
     * bucket (a burst each) and the rest share one burst. */
    f = flood_new(&cfg);
    int ok = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        ok += flood_allow(f, a + i * 7919, t);
    }
    assert(ok <= 8 + 5 && ok >= 5);
    assert(flood_stats(f)->shared >= 1000 - 8);
    /* Still within 2 s: no bucket is reusable, the shared one refills at
     * the rate only. */
    ok = 0;
    for (uint64_t i = 1000; i < 2000; i++) {
        ok += flood_allow(f, a + i * 7919, t + S);
    }
    assert(ok <= 10);
    /* A source that holds a bucket keeps it while it is busy. */
    flood_destroy(&f);

    f = flood_new(&cfg);
    assert(s_allowed(f, a, t, 1) == 1);
    for (uint64_t i = 0; i < 1000; i++) {
        flood_allow(f, b + i * 7919, t + S);
    }
    assert(s_allowed(f, a, t + S, 10) == 5);    /* its own, refilled */
    /* Idle for 2 s, buckets are reused by new sources: each new one
     * gets a whole burst. */
    uint64_t c = UINT64_C(0x02bb00000000);
    ok = 0;
    for (uint64_t i = 0; i < 8; i++) {
        ok += s_allowed(f, c + i, t + 5 * S, 1);
    }
    assert(ok >= 5);    /* not all 8 land in free ways, but most */
    /* A very long idle only refills (no overflow in the refill). */
    assert(s_allowed(f, a, UINT64_MAX / 2, 10) == 5);
    assert(s_allowed(f, a, UINT64_MAX / 2 - 1, 10) == 0); /* time back */
    flood_destroy(&f);
    printf("test_agent_flood: ok\n");
    return 0;
}
