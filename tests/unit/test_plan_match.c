/* SPDX-License-Identifier: MIT */
/* vadapt-planner/plan_match: on thousands of small random graphs (up to 8
 * vertices and 12 edges, b(v) in {0, 1, 2, 3}, with and without a k cap,
 * integer weights with many ties and real ones) the exact solver's weight
 * is the brute force's, proven optimal, never below the greedy's, within
 * every port limit and the cap; the same on graphs of up to 22 edges
 * against a recursive brute force; a graph where the greedy is strictly
 * worse; a budget too small to prove anything still gives a valid
 * b-matching at least as heavy as the greedy's; bad problems are
 * refused with a reason. */
#undef NDEBUG
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_match.h"

enum { MAX_V = 8, MAX_E = 12, BIG_V = 40, BIG_E = 80 };

static uint64_t rng = 88172645463325252u;

static uint32_t
rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t) (rng % n);
}

/* The heaviest b-matching by trying every subset of edges. */
static double
brute(const struct plan_match_problem *pr)
{
    double best = 0;
    for (uint32_t s = 0; s < (1u << pr->n_edges); s++) {
        uint32_t used[MAX_V] = { 0 };
        uint32_t n = 0;
        double w = 0;
        bool ok = true;
        for (size_t i = 0; i < pr->n_edges && ok; i++) {
            if (!(s >> i & 1)) {
                continue;
            }
            const struct plan_match_edge *e = &pr->edges[i];
            ok = ++used[e->u] <= pr->cap[e->u]
                 && ++used[e->v] <= pr->cap[e->v];
            n++;
            w += e->w;
        }
        if (ok && (!pr->k || n <= pr->k) && w > best) {
            best = w;
        }
    }
    return best;
}

/* The heaviest b-matching by recursion over the edges (take or skip,
 * taking only where ports are free): for the larger graphs. */
static double
brute_rec(const struct plan_match_problem *pr, size_t i, uint32_t *left,
          uint32_t n)
{
    if (i == pr->n_edges || (pr->k && n == pr->k)) {
        return 0;
    }
    double best = brute_rec(pr, i + 1, left, n);
    const struct plan_match_edge *e = &pr->edges[i];
    if (left[e->u] && left[e->v]) {
        left[e->u]--;
        left[e->v]--;
        double w = e->w + brute_rec(pr, i + 1, left, n + 1);
        left[e->u]++;
        left[e->v]++;
        best = w > best ? w : best;
    }
    return best;
}

/* Asserts that 'taken' is a b-matching of 'pr' of weight 'w'. */
static void
check_valid(const struct plan_match_problem *pr, const bool *taken,
            const struct plan_match_stats *st)
{
    uint32_t *used = calloc(pr->n_vertices + 1, sizeof *used);
    assert(used);
    size_t n = 0;
    double w = 0;
    for (size_t i = 0; i < pr->n_edges; i++) {
        if (taken[i]) {
            used[pr->edges[i].u]++;
            used[pr->edges[i].v]++;
            n++;
            w += pr->edges[i].w;
        }
    }
    for (size_t v = 0; v < pr->n_vertices; v++) {
        assert(used[v] <= pr->cap[v]);
    }
    assert(!pr->k || n <= pr->k);
    assert(n == st->n_taken);
    assert(fabs(w - st->weight) <= 1e-9 * (1 + w));
    free(used);
}

static void
random_problem(struct plan_match_problem *pr, uint32_t *cap,
               struct plan_match_edge *edges, size_t max_v, size_t max_e,
               bool real)
{
    pr->n_vertices = 2 + rnd((uint32_t) max_v - 1);
    pr->n_edges = rnd((uint32_t) max_e + 1);
    for (size_t v = 0; v < pr->n_vertices; v++) {
        /* Mostly 1 to 3 ports, sometimes none. */
        cap[v] = rnd(10) ? 1 + rnd(3) : 0;
    }
    for (size_t i = 0; i < pr->n_edges; i++) {
        uint32_t u = rnd((uint32_t) pr->n_vertices);
        uint32_t v = rnd((uint32_t) pr->n_vertices - 1);
        v += v >= u;
        edges[i].u = u;
        edges[i].v = v;
        edges[i].w = real ? 1e6 * (1 + rnd(1000000)) / 1e3
                          : (double) (1 + rnd(6));
    }
    pr->cap = cap;
    pr->edges = edges;
    pr->k = rnd(3) ? 0 : 1 + rnd(4);
}

static void
test_against_brute_force(void)
{
    uint32_t cap[MAX_V];
    struct plan_match_edge edges[MAX_E];
    bool taken[MAX_E], gtaken[MAX_E];
    size_t n_greedy_worse = 0;
    for (int round = 0; round < 4000; round++) {
        struct plan_match_problem pr;
        random_problem(&pr, cap, edges, MAX_V, MAX_E, round % 2);
        struct plan_match_stats st, gst;
        assert(!plan_match_exact(&pr, NULL, taken, &st));
        assert(!plan_match_greedy(&pr, gtaken, &gst));
        check_valid(&pr, taken, &st);
        check_valid(&pr, gtaken, &gst);
        double opt = brute(&pr);
        assert(st.optimal);
        assert(fabs(st.weight - opt) <= 1e-9 * opt);
        assert(st.weight >= gst.weight - 1e-9 * opt);
        if (!pr.k) {
            assert(2 * gst.weight >= opt - 1e-9 * opt);
        }
        n_greedy_worse += gst.weight < opt - 1e-9 * opt;
    }
    /* The random graphs do exercise the search. */
    assert(n_greedy_worse > 100);
    printf("brute force: 4000 graphs, greedy below optimum in %zu\n",
           n_greedy_worse);
}

/* Graphs of 16 to 22 edges on 6 to 10 vertices, mostly one port: the
 * search branches there (odd cycles everywhere). */
static void
test_against_brute_force_larger(void)
{
    uint32_t cap[10], left[10];
    struct plan_match_edge edges[22];
    bool taken[22];
    uint64_t nodes = 0;
    size_t n_branched = 0;
    for (int round = 0; round < 150; round++) {
        struct plan_match_problem pr;
        random_problem(&pr, cap, edges, 10, 22, round % 2);
        pr.n_vertices = 6 + rnd(5);
        pr.n_edges = 16 + rnd(7);
        for (size_t i = 0; i < pr.n_edges; i++) {
            uint32_t u = rnd((uint32_t) pr.n_vertices);
            uint32_t v = rnd((uint32_t) pr.n_vertices - 1);
            edges[i].u = u;
            edges[i].v = v + (v >= u);
            edges[i].w = round % 2 ? 1e6 * (1 + rnd(1000000)) / 1e3
                                   : (double) (1 + rnd(6));
        }
        for (size_t v = 0; v < pr.n_vertices; v++) {
            cap[v] = rnd(3) ? 1 : 2;
            left[v] = cap[v];
        }
        struct plan_match_stats st;
        assert(!plan_match_exact(&pr, NULL, taken, &st));
        check_valid(&pr, taken, &st);
        double opt = brute_rec(&pr, 0, left, 0);
        assert(st.optimal);
        assert(fabs(st.weight - opt) <= 1e-9 * opt);
        nodes += st.nodes;
        n_branched += st.nodes > 1;
    }
    printf("brute force: 150 larger graphs, %llu search nodes, %zu "
           "branched\n", (unsigned long long) nodes, n_branched);
    assert(n_branched >= 10);
}

/* A path a-b-c-d with one port each, weights 2, 3, 2: the greedy takes
 * the middle edge (3), the optimum both ends (4). */
static void
test_greedy_worse(void)
{
    uint32_t cap[4] = { 1, 1, 1, 1 };
    struct plan_match_edge edges[3] = {
        { 0, 1, 2 }, { 1, 2, 3 }, { 2, 3, 2 },
    };
    struct plan_match_problem pr = { cap, 4, edges, 3, 0 };
    bool taken[3];
    struct plan_match_stats st;
    assert(!plan_match_greedy(&pr, taken, &st));
    assert(!taken[0] && taken[1] && !taken[2] && st.weight == 3);
    assert(!plan_match_exact(&pr, NULL, taken, &st));
    assert(taken[0] && !taken[1] && taken[2] && st.weight == 4);
    assert(st.optimal);

    /* A triangle with one port each: the LP takes every edge by half
     * (weight 4.5), so the search must branch to find the best edge. */
    uint32_t cap3[3] = { 1, 1, 1 };
    struct plan_match_edge tri[3] = { { 0, 1, 3 }, { 1, 2, 3 }, { 0, 2, 3 } };
    struct plan_match_problem pt = { cap3, 3, tri, 3, 0 };
    assert(!plan_match_exact(&pt, NULL, taken, &st));
    assert(st.optimal && st.weight == 3 && st.n_taken == 1);

    /* Two ports, the cap k = 1: only the heaviest edge. */
    uint32_t cap2[4] = { 2, 2, 2, 2 };
    pr.cap = cap2;
    pr.k = 1;
    assert(!plan_match_exact(&pr, NULL, taken, &st));
    assert(!taken[0] && taken[1] && !taken[2] && st.optimal);
}

/* A budget of one node on a larger graph: a valid b-matching, not
 * claimed optimal, at least the greedy's weight; the default budget
 * proves the optimum, no lighter. */
static void
test_budget(void)
{
    static uint32_t cap[BIG_V];
    static struct plan_match_edge edges[BIG_E];
    static bool taken[BIG_E], gtaken[BIG_E];
    size_t n_cut = 0;
    for (int round = 0; round < 20; round++) {
        struct plan_match_problem pr;
        random_problem(&pr, cap, edges, BIG_V, BIG_E, true);
        struct plan_match_stats st, gst, full;
        struct plan_match_budget tiny = { 1, 1 };
        assert(!plan_match_greedy(&pr, gtaken, &gst));
        assert(!plan_match_exact(&pr, &tiny, taken, &st));
        check_valid(&pr, taken, &st);
        assert(st.weight >= gst.weight - 1e-9 * gst.weight);
        n_cut += !st.optimal;
        assert(!plan_match_exact(&pr, NULL, taken, &full));
        check_valid(&pr, taken, &full);
        assert(full.optimal);
        assert(full.weight >= st.weight - 1e-9 * st.weight);
        assert(full.weight >= gst.weight - 1e-9 * gst.weight);
    }
    assert(n_cut > 0);
}

static void
test_refused(void)
{
    uint32_t cap[2] = { 1, 1 };
    struct plan_match_edge e = { 0, 1, 1 };
    struct plan_match_problem pr = { cap, 2, &e, 1, 0 };
    bool taken[1];
    char err[128];
    assert(plan_match_check(&pr, err, sizeof err));

    e = (struct plan_match_edge) { 0, 2, 1 };
    assert(!plan_match_check(&pr, err, sizeof err));
    assert(strstr(err, "edge 0: bad vertices '0' '2'"));
    assert(plan_match_exact(&pr, NULL, taken, NULL) == -1);
    assert(plan_match_greedy(&pr, taken, NULL) == -1);

    e = (struct plan_match_edge) { 1, 1, 1 };
    assert(!plan_match_check(&pr, err, sizeof err));
    e = (struct plan_match_edge) { 0, 1, NAN };
    assert(!plan_match_check(&pr, err, sizeof err));
    assert(strstr(err, "bad weight"));
    e.w = INFINITY;
    assert(!plan_match_check(&pr, err, sizeof err));
    e.w = 0;
    assert(!plan_match_check(&pr, err, sizeof err));
    e.w = -1;
    assert(!plan_match_check(&pr, err, sizeof err));
    pr.cap = NULL;
    e.w = 1;
    assert(!plan_match_check(&pr, err, sizeof err));
    assert(!plan_match_check(NULL, err, sizeof err));

    /* Empty problems are fine. */
    struct plan_match_problem empty = { NULL, 0, NULL, 0, 0 };
    struct plan_match_stats st;
    assert(!plan_match_exact(&empty, NULL, taken, &st));
    assert(st.optimal && st.n_taken == 0 && st.weight == 0);
}

int
main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    test_greedy_worse();
    test_refused();
    test_against_brute_force();
    test_against_brute_force_larger();
    test_budget();
    printf("plan_match: ok\n");
    return 0;
}
