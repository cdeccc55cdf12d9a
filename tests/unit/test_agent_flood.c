/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_flood: a source's burst and rate, sources apart (by
 * MAC and by ingress), made-up sources limited to the ingress's rate of
 * new sources plus its overflow bucket, other ingresses untouched,
 * buckets reused once idle, and a long idle that only refills. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>

#include "agent_flood.h"

enum { MS = 1000, S = 1000000 };

static int
s_allowed(flood_t *f, uint64_t src, uint32_t in, uint64_t now, int n)
{
    int ok = 0;
    for (int i = 0; i < n; i++) {
        ok += flood_allow(f, src, in, now);
    }
    return ok;
}

int
main(void)
{
    struct flood_cfg cfg = {
        .rate = 10, .burst = 5, .n_sources = 8, .idle_us = 2 * S,
        .n_ingress = 4,
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
    bad = cfg;
    bad.n_ingress = 0;
    assert(!flood_new(&bad));
    assert(!flood_new(NULL));

    /* A burst of 5, then 10 a second. */
    flood_t *f = flood_new(&cfg);
    assert(f);
    uint64_t a = UINT64_C(0x020000000001), b = a + 1;
    uint64_t t = 10 * S;
    assert(s_allowed(f, a, 0, t, 20) == 5);
    assert(!flood_allow(f, a, 0, t + 50 * MS));  /* half a token */
    assert(flood_allow(f, a, 0, t + 100 * MS));
    assert(!flood_allow(f, a, 0, t + 100 * MS));
    assert(s_allowed(f, a, 0, t + 1100 * MS, 20) == 5); /* capped */
    /* Another source has its own bucket; so has the same MAC come in by
     * another ingress (forged elsewhere, it cannot spend a's floods). */
    assert(s_allowed(f, b, 0, t, 20) == 5);
    assert(s_allowed(f, a, 1, t + 1100 * MS, 20) == 5);
    const struct flood_stats *st = flood_stats(f);
    assert(st->allowed == 5 + 1 + 5 + 5 + 5);
    assert(st->limited == 15 + 2 + 15 + 15 + 15);
    flood_destroy(&f);
    assert(!f);
    flood_destroy(&f);

    /* 1000 made-up sources at once by ingress 2, one flood each: a burst
     * of new buckets, then one burst of the overflow bucket. */
    f = flood_new(&cfg);
    int ok = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        ok += flood_allow(f, a + i * 7919, 2, t);
    }
    assert(ok == 5 + 5);
    /* Made up for 10 s more, 1000 a second: the rate of new buckets plus
     * the overflow bucket's rate, whatever the table can hold. */
    ok = 0;
    for (uint64_t i = 0; i < 10000; i++) {
        ok += flood_allow(f, b + i * 7919, 2, t + i * MS);
    }
    assert(ok <= 2 * (10 * 10) + 2);
    /* Another ingress is untouched: its sources get their bursts. */
    assert(s_allowed(f, UINT64_C(0x02cc00000001), 3, t + 10 * S, 10) == 5);
    flood_destroy(&f);

    /* Ingresses past n_ingress count as the last one. */
    f = flood_new(&cfg);
    assert(s_allowed(f, a, 99, t, 10) == 5);
    assert(s_allowed(f, a, 3, t, 10) == 0);
    assert(s_allowed(f, a, 2, t, 10) == 5);
    flood_destroy(&f);

    /* A busy source keeps its bucket while made-up ones churn. */
    f = flood_new(&cfg);
    assert(s_allowed(f, a, 0, t, 1) == 1);
    for (uint64_t i = 0; i < 1000; i++) {
        flood_allow(f, b + i * 7919, 0, t + S);
    }
    assert(s_allowed(f, a, 0, t + S, 10) == 5);   /* its own, refilled */
    /* Idle for 2 s, buckets are reused by new sources, within the rate
     * of new ones (refilled by now). */
    uint64_t c = UINT64_C(0x02bb00000000);
    ok = 0;
    for (uint64_t i = 0; i < 5; i++) {
        ok += s_allowed(f, c + i, 0, t + 5 * S, 1);
    }
    assert(ok == 5);
    assert(s_allowed(f, c, 0, t + 5 * S, 10) == 4);    /* c's own burst */
    /* A very long idle only refills (no overflow in the refill). */
    assert(s_allowed(f, a, 0, UINT64_MAX / 2, 10) == 5);
    assert(s_allowed(f, a, 0, UINT64_MAX / 2 - 1, 10) == 0); /* time back */
    flood_destroy(&f);
    printf("test_agent_flood: ok\n");
    return 0;
}
