/* SPDX-License-Identifier: MIT */
/* plan_predict: phases confirmed after min_phase and through flickers; a
 * successor predicted only after 'repeats' agreeing successions with a
 * steady offset; the prediction a hit when its phase starts in the window,
 * a miss when another starts or the window passes; at most one open;
 * bounded history; bad links dropped. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "plan_predict.h"

#define S 1000000ULL

static const struct plan_link_key RING[] = {
    { "h1", "h2" }, { "h2", "h3" }, { "h3", "h4" }, { "h4", "h1" },
};
static const struct plan_link_key PAIRS[] = { { "h2", "h1" }, { "h4", "h3" } };
static const struct plan_link_key MESH[] = {
    { "h1", "h3" }, { "h2", "h4" },
};

struct run {
    plan_predict_t *pp;
    uint64_t now;
    unsigned phases, predicted, hits, misses;
    uint64_t last_pred_start;
    size_t last_pred_links;
};

/* Observes 'sel' every 200 ms for 'secs' seconds, counting events. */
static void
s_hold(struct run *r, const struct plan_link_key *sel, size_t n, double secs)
{
    uint64_t end = r->now + (uint64_t) (secs * S);
    for (; r->now < end; r->now += S / 5) {
        struct plan_predict_events ev;
        assert(plan_predict_observe(r->pp, r->now, sel, n, &ev) == 0);
        assert(ev.n <= PLAN_PREDICT_MAX_EVENTS);
        for (size_t i = 0; i < ev.n; i++) {
            switch (ev.v[i].kind) {
            case PLAN_PREDICT_PHASE:
                r->phases++;
                break;
            case PLAN_PREDICT_PREDICTED:
                r->predicted++;
                r->last_pred_start = ev.v[i].at_us;
                r->last_pred_links = ev.v[i].n_links;
                assert(plan_predict_open(r->pp));
                break;
            case PLAN_PREDICT_HIT:
                r->hits++;
                break;
            case PLAN_PREDICT_MISS:
                r->misses++;
                break;
            }
            assert(ev.v[i].reason[0]);
        }
    }
}

#define HOLD(r, sel, secs) s_hold(r, sel, sizeof sel / sizeof sel[0], secs)

static void
test_params(void)
{
    struct plan_predict_params p;
    char err[128];
    plan_predict_params_default(&p);
    assert(plan_predict_params_check(&p, err, sizeof err));
    p.repeats = 0;
    assert(!plan_predict_params_check(&p, err, sizeof err));
    assert(strstr(err, "repeats"));
    assert(!plan_predict_new(&p));
    plan_predict_params_default(&p);
    p.tolerance_frac = 2;
    assert(!plan_predict_params_check(&p, err, sizeof err));
    p.tolerance_frac = 0.0 / 0.0;
    assert(!plan_predict_params_check(&p, err, sizeof err));
    plan_predict_params_default(&p);
    p.min_phase_us = 10;
    assert(!plan_predict_params_check(&p, err, sizeof err));
}

/* ring 10 s, pairs 10 s, repeated: from the third ring on, pairs is
 * predicted 10 s after the ring's start, and it comes: hits. */
static void
test_cycle(void)
{
    struct run r = { .pp = plan_predict_new(NULL), .now = 1000 * S };
    assert(r.pp);
    HOLD(&r, RING, 10);
    HOLD(&r, PAIRS, 10);
    HOLD(&r, RING, 10);
    /* Ring seen twice but its successor once: nothing yet. */
    assert(r.phases == 3 && r.predicted == 0);
    HOLD(&r, PAIRS, 10);
    /* Pairs seen twice, followed by ring once: nothing yet. */
    assert(r.predicted == 0);
    uint64_t ring3 = r.now;
    HOLD(&r, RING, 10);
    /* Ring→pairs twice, 10 s apart each time: predicted, two links, at
     * the third ring's start + 10 s. */
    assert(r.predicted == 1 && r.last_pred_links == 2);
    assert(r.last_pred_start == ring3 + 10 * S);
    HOLD(&r, PAIRS, 10);
    assert(r.hits == 1 && r.misses == 0);
    /* Pairs→ring now twice too: predicted again at once. */
    assert(r.predicted == 2);
    HOLD(&r, RING, 10);
    assert(r.hits == 2);
    struct plan_predict_counters c;
    plan_predict_get_counters(r.pp, &c);
    assert(c.phases == 7 && c.hits == 2 && c.misses == 0);
    plan_predict_destroy(&r.pp);
    assert(!r.pp);
}

/* A short transition between the two phases (the shared links, while
 * the aggregator has not yet published the new ones) is followed by
 * either phase: told apart by what came before it. */
static void
test_transition(void)
{
    static const struct plan_link_key shared[] = { { "h1", "h2" } };
    static const struct plan_link_key ring[] = {
        { "h1", "h2" }, { "h2", "h3" }, { "h1", "h4" } };
    static const struct plan_link_key mesh[] = {
        { "h1", "h2" }, { "h1", "h3" }, { "h2", "h4" } };
    struct run r = { .pp = plan_predict_new(NULL), .now = 5 * S };
    for (int i = 0; i < 2; i++) {
        HOLD(&r, ring, 8);
        HOLD(&r, shared, 3);
        HOLD(&r, mesh, 8);
        HOLD(&r, shared, 3);
    }
    unsigned before = r.predicted;
    HOLD(&r, ring, 8);
    HOLD(&r, shared, 3);
    /* (ring, shared) → mesh twice: mesh predicted, 3 links. */
    assert(r.predicted > before && r.last_pred_links == 3);
    HOLD(&r, mesh, 8);
    unsigned hits = r.hits;
    HOLD(&r, shared, 3);
    HOLD(&r, ring, 8);
    assert(r.hits > hits);
    plan_predict_destroy(&r.pp);
}

/* After learning ring→pairs, mesh comes instead of pairs: a miss, decided
 * when mesh is confirmed. */
static void
test_miss_other(void)
{
    struct run r = { .pp = plan_predict_new(NULL), .now = 5 * S };
    for (int i = 0; i < 2; i++) {
        HOLD(&r, RING, 8);
        HOLD(&r, PAIRS, 8);
    }
    HOLD(&r, RING, 8);
    assert(r.predicted == 1 && plan_predict_open(r.pp));
    HOLD(&r, MESH, 8);
    assert(r.misses == 1 && r.hits == 0);
    plan_predict_destroy(&r.pp);
}

/* The ring goes on past the predicted start: a miss once the window has
 * passed, not before. */
static void
test_miss_timeout(void)
{
    struct run r = { .pp = plan_predict_new(NULL), .now = 5 * S };
    for (int i = 0; i < 2; i++) {
        HOLD(&r, RING, 10);
        HOLD(&r, PAIRS, 10);
    }
    HOLD(&r, RING, 10);
    assert(r.predicted == 1);
    const struct plan_prediction *pr = plan_predict_open(r.pp);
    assert(pr && pr->window_us == 2 * S);   /* max(2 s, 20% of 10 s) */
    uint64_t deadline = pr->start_us + pr->window_us;
    HOLD(&r, RING, (double) (deadline - r.now) / S);
    assert(r.misses == 0);
    HOLD(&r, RING, 1);
    assert(r.misses == 1 && !plan_predict_open(r.pp));
    plan_predict_destroy(&r.pp);
}

/* Offsets that wander more than the tolerance: no prediction. */
static void
test_unsteady(void)
{
    struct run r = { .pp = plan_predict_new(NULL), .now = 5 * S };
    HOLD(&r, RING, 5);
    HOLD(&r, PAIRS, 10);
    HOLD(&r, RING, 20);
    HOLD(&r, PAIRS, 10);
    HOLD(&r, RING, 10);
    assert(r.phases == 5 && r.predicted == 0);
    plan_predict_destroy(&r.pp);
}

/* Flickers shorter than min_phase neither end a phase nor make one; a
 * selection shorter than min_phase is no phase; the empty selection is
 * none either; link order and repeats do not change a signature. */
static void
test_flicker(void)
{
    struct run r = { .pp = plan_predict_new(NULL), .now = 5 * S };
    HOLD(&r, RING, 5);
    uint64_t sig = plan_predict_current(r.pp);
    assert(r.phases == 1 && sig);
    HOLD(&r, PAIRS, 1);
    HOLD(&r, RING, 5);
    assert(r.phases == 1 && plan_predict_current(r.pp) == sig);
    static const struct plan_link_key ring2[] = {
        { "h4", "h1" }, { "h2", "h1" }, { "h3", "h4" }, { "h3", "h2" },
        { "h1", "h2" }, { "h1", "h1" }, { "", "h9" },
    };
    HOLD(&r, ring2, 3);
    assert(r.phases == 1 && plan_predict_current(r.pp) == sig);
    struct plan_predict_counters c;
    plan_predict_get_counters(r.pp, &c);
    assert(c.links_dropped > 0);
    s_hold(&r, NULL, 0, 5);
    assert(plan_predict_current(r.pp) == 0 && r.phases == 1);
    plan_predict_destroy(&r.pp);
}

/* The history is bounded: 200 distinct phases, the memory stays put (run
 * under ASan), the counters count them all. */
static void
test_bounded(void)
{
    struct run r = { .pp = plan_predict_new(NULL), .now = 5 * S };
    for (int i = 0; i < 200; i++) {
        char a[16], b[16];
        snprintf(a, sizeof a, "x%d", i);
        snprintf(b, sizeof b, "y%d", i);
        struct plan_link_key k = { a, b };
        s_hold(&r, &k, 1, 2.4);
    }
    struct plan_predict_counters c;
    plan_predict_get_counters(r.pp, &c);
    assert(c.phases == 200 && c.predictions == 0);
    plan_predict_destroy(&r.pp);
}

int
main(void)
{
    test_params();
    test_cycle();
    test_transition();
    test_miss_other();
    test_miss_timeout();
    test_unsteady();
    test_flicker();
    test_bounded();
    printf("plan_predict: ok\n");
    return 0;
}
