/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_learn: the claim rules (first owner keeps a MAC while
 * its claim is live, a local port beats a link, a lapsed claim moves),
 * the per-owner and global caps, aging, forgetting a link, and a table
 * full of churned claims that stays within its cap. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>

#include "agent_learn.h"

static const struct fwd_action PORT0 = { FWD_PORT, 0 };
static const struct fwd_action PORT1 = { FWD_PORT, 1 };
static const struct fwd_action LINK3 = { FWD_LINK, 3 };
static const struct fwd_action LINK4 = { FWD_LINK, 4 };

enum { S = 1000000 };           /* one second in us */

static bool
s_eq(struct fwd_action a, struct fwd_action b)
{
    return a.kind == b.kind && a.index == b.index;
}

struct gone {
    size_t n;
    uint64_t macs[16];
};

static void
s_gone(uint64_t mac, struct fwd_action owner, void *arg)
{
    struct gone *g = arg;
    (void) owner;
    if (g->n < 16) {
        g->macs[g->n] = mac;
    }
    g->n++;
}

int
main(void)
{
    const struct learn_cfg cfg = {
        .max = 8, .max_per_link = 4, .max_per_port = 3,
        .claim_us = 10 * S, .age_us = 60 * S,
    };
    /* Unusable limits are refused. */
    assert(!learn_new(NULL));
    struct learn_cfg bad = cfg;
    bad.max = 0;
    assert(!learn_new(&bad));
    bad = cfg;
    bad.age_us = bad.claim_us - 1;
    assert(!learn_new(&bad));

    learn_t *l = learn_new(&cfg);
    assert(l);
    uint64_t m = UINT64_C(0x020000000001);
    struct fwd_action prev = { FWD_NONE, 0 };

    /* Not learnable: 0, multicast, out of range, bad owners. */
    assert(learn_claim(l, 0, PORT0, S, NULL) == LEARN_INVALID);
    assert(learn_claim(l, UINT64_C(0xffffffffffff), PORT0, S, NULL)
           == LEARN_INVALID);
    assert(learn_claim(l, UINT64_C(0x010000000001), PORT0, S, NULL)
           == LEARN_INVALID);
    assert(learn_claim(l, UINT64_C(0x1020000000001), PORT0, S, NULL)
           == LEARN_INVALID);
    struct fwd_action far = { FWD_LINK, LEARN_MAX_OWNERS };
    assert(learn_claim(l, m, far, S, NULL) == LEARN_INVALID);
    struct fwd_action drop = { FWD_DROP, 0 };
    assert(learn_claim(l, m, drop, S, NULL) == LEARN_INVALID);
    assert(learn_size(l) == 0);

    /* First claim, refresh, and another link's claim refused while the
     * first is live. */
    assert(learn_claim(l, m, LINK3, 1 * S, NULL) == LEARN_ADDED);
    assert(learn_claim(l, m, LINK3, 2 * S, NULL) == LEARN_REFRESHED);
    assert(learn_claim(l, m, LINK4, 11 * S, NULL) == LEARN_REFUSED);
    assert(s_eq(learn_owner(l, m, NULL), LINK3));
    assert(learn_live(l, m, 11 * S));
    assert(!learn_live(l, m, 12 * S));
    assert(learn_stats(l)->refused == 1);

    /* Lapsed (no refresh for claim_us): the other link takes it. */
    assert(learn_claim(l, m, LINK4, 12 * S, &prev) == LEARN_MOVED);
    assert(s_eq(prev, LINK3) && s_eq(learn_owner(l, m, NULL), LINK4));
    assert(learn_count(l, LINK3) == 0 && learn_count(l, LINK4) == 1);

    /* A local port beats a live remote claim at once... */
    assert(learn_claim(l, m, PORT0, 13 * S, &prev) == LEARN_MOVED);
    assert(s_eq(prev, LINK4));
    /* ...and a link cannot take it back while the port's claim lives. */
    assert(learn_claim(l, m, LINK4, 14 * S, NULL) == LEARN_REFUSED);
    /* Nor can another local port (a VM spoofing its neighbour). */
    assert(learn_claim(l, m, PORT1, 14 * S, NULL) == LEARN_REFUSED);
    /* Once the port stops showing it, the VM may have moved away. */
    uint64_t seen = 0;
    assert(s_eq(learn_owner(l, m, &seen), PORT0) && seen == 13 * S);
    assert(learn_claim(l, m, LINK4, 23 * S, NULL) == LEARN_MOVED);
    assert(learn_stats(l)->moved == 3 && learn_stats(l)->refused == 3);

    /* Per-owner caps: a link holds 4, a port 3. */
    for (uint64_t i = 2; i <= 4; i++) {
        assert(learn_claim(l, m + i, LINK4, 24 * S, NULL) == LEARN_ADDED);
    }
    assert(learn_count(l, LINK4) == 4);
    assert(learn_claim(l, m + 5, LINK4, 24 * S, NULL) == LEARN_CAPPED);
    for (uint64_t i = 10; i < 13; i++) {
        assert(learn_claim(l, m + i, PORT1, 24 * S, NULL) == LEARN_ADDED);
    }
    assert(learn_claim(l, m + 13, PORT1, 24 * S, NULL) == LEARN_CAPPED);
    /* A capped owner cannot take a lapsed MAC either. */
    assert(learn_claim(l, m + 10, LINK4, 60 * S, NULL) == LEARN_CAPPED);
    assert(learn_stats(l)->cap_hits == 3);

    /* The global cap: 7 held, one more fits, then no more. */
    assert(learn_size(l) == 7);
    assert(learn_claim(l, m + 20, LINK3, 24 * S, NULL) == LEARN_ADDED);
    assert(learn_claim(l, m + 21, LINK3, 24 * S, NULL) == LEARN_CAPPED);
    assert(learn_size(l) == 8);

    /* Aging: refreshed claims stay, the rest go, reported one by one. */
    assert(learn_claim(l, m + 2, LINK4, 70 * S, NULL) == LEARN_REFRESHED);
    struct gone g = { 0 };
    assert(learn_expire(l, 60 * S, s_gone, &g) == 0);
    assert(learn_expire(l, 84 * S, s_gone, &g) == 7 && g.n == 7);
    assert(learn_size(l) == 1 && learn_stats(l)->aged == 7);
    assert(s_eq(learn_owner(l, m + 2, NULL), LINK4));
    assert(learn_count(l, LINK4) == 1 && learn_count(l, PORT1) == 0);
    assert(learn_owner(l, m, NULL).kind == FWD_NONE);

    /* A link that goes away leaves no claims for its index's next user. */
    assert(learn_claim(l, m + 30, LINK4, 85 * S, NULL) == LEARN_ADDED);
    assert(learn_forget(l, LINK4) == 2);
    assert(learn_forget(l, LINK4) == 0);
    assert(learn_size(l) == 0 && learn_count(l, LINK4) == 0);
    assert(learn_claim(l, m + 2, LINK3, 85 * S, NULL) == LEARN_ADDED);
    learn_destroy(&l);
    assert(!l);
    learn_destroy(&l);

    /* Churn: 100,000 made-up MACs from one port into a 4096 table with a
     * per-port cap of 1024: never more than the cap, and the real MAC of
     * another port, refreshed all along, stays. */
    struct learn_cfg big = {
        .max = 4096, .max_per_link = 1024, .max_per_port = 1024,
        .claim_us = 2 * S, .age_us = 5 * S,
    };
    l = learn_new(&big);
    assert(l);
    uint64_t real = UINT64_C(0x02aa00000001);
    uint64_t junk = UINT64_C(0x0200000000ff) * 17;
    size_t n_capped = 0;
    for (uint64_t i = 0; i < 100000; i++) {
        uint64_t now = i * 100;         /* 10 s in all */
        junk = (junk * 6364136223846793005ull + 1) & UINT64_C(0xfeffffffffff);
        enum learn_result r = learn_claim(l, junk | 2, PORT0, now, NULL);
        n_capped += r == LEARN_CAPPED;
        if (i % 1000 == 0) {
            assert(learn_claim(l, real, PORT1, now, NULL) <= LEARN_ADDED);
            learn_expire(l, now, NULL, NULL);
        }
        assert(learn_count(l, PORT0) <= 1024 && learn_size(l) <= 4096);
    }
    assert(n_capped > 90000);
    assert(s_eq(learn_owner(l, real, NULL), PORT1));
    assert(learn_stats(l)->aged > 0);
    learn_destroy(&l);
    printf("test_agent_learn: ok\n");
    return 0;
}
