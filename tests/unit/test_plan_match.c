/* SPDX-License-Identifier: MIT */
/* vadapt-planner/plan_match: the blossom algorithm and the b-matching
 * reduction against brute force.  Hand-made graphs first (an odd cycle
 * that needs a blossom, nested blossoms, a T blossom that must be
 * expanded, ties, a zero-capacity host), then thousands of random small
 * graphs: plain matchings on dense graphs (odd cycles everywhere) and
 * b-matchings with capacities 0 to 3, each result checked feasible and of
 * the brute-force optimum's weight; on larger graphs, feasible and never
 * below greedy.  Bad arguments are refused. */
#undef NDEBUG
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_match.h"

static uint64_t g_rng = 0x2545f4914f6cdd1du;

static uint32_t
rnd(uint32_t n)
{
    g_rng = g_rng * UINT64_C(6364136223846793005)
            + UINT64_C(1442695040888963407);
    return (uint32_t) ((g_rng >> 33) % n);
}

/* Best weight of a b-matching by enumeration (<= 16 edges). */
static double
brute_b(size_t n_hosts, const uint32_t *cap, size_t m,
        const struct plan_match_edge *e)
{
    double best = 0;
    for (uint32_t mask = 0; mask < 1u << m; mask++) {
        uint32_t deg[16] = { 0 };
        double w = 0;
        bool ok = true;
        for (size_t i = 0; i < m && ok; i++) {
            if (mask & 1u << i) {
                if (!(e[i].w > 0)) {
                    ok = false;         /* never useful; skip the set */
                    break;
                }
                w += e[i].w;
                ok = ++deg[e[i].a] <= cap[e[i].a]
                     && ++deg[e[i].b] <= cap[e[i].b];
            }
        }
        if (ok && w > best) {
            best = w;
        }
    }
    (void) n_hosts;
    return best;
}

/* Checks 'take' feasible and returns its weight. */
static double
check_b(size_t n_hosts, const uint32_t *cap, size_t m,
        const struct plan_match_edge *e, const bool *take)
{
    uint32_t deg[64] = { 0 };
    double w = 0;
    assert(n_hosts <= 64);
    for (size_t i = 0; i < m; i++) {
        if (take[i]) {
            assert(e[i].w > 0);
            w += e[i].w;
            deg[e[i].a]++;
            deg[e[i].b]++;
        }
    }
    for (size_t h = 0; h < n_hosts; h++) {
        assert(deg[h] <= cap[h]);
    }
    return w;
}

/* plan_match_b() on one graph must reach the brute-force optimum. */
static void
expect_b(size_t n_hosts, const uint32_t *cap, size_t m,
         const struct plan_match_edge *e)
{
    bool take[16];
    assert(plan_match_b(n_hosts, cap, m, e, take) == 0);
    double got = check_b(n_hosts, cap, m, e, take);
    double opt = brute_b(n_hosts, cap, m, e);
    if (fabs(got - opt) > 1e-9 * (1 + opt)) {
        fprintf(stderr, "got %g, optimum %g on %zu hosts:\n", got, opt,
                n_hosts);
        for (size_t i = 0; i < m; i++) {
            fprintf(stderr, "  %u-%u %g (caps %u %u)%s\n", e[i].a, e[i].b,
                    e[i].w, cap[e[i].a], cap[e[i].b], take[i] ? " *" : "");
        }
        abort();
    }
}

/* Brute-force maximum-weight matching (<= 16 edges). */
static int64_t
brute_mwm(size_t n, size_t m, const uint32_t *u, const uint32_t *v,
          const int64_t *w)
{
    int64_t best = 0;
    for (uint32_t mask = 0; mask < 1u << m; mask++) {
        uint32_t used = 0;
        int64_t t = 0;
        bool ok = true;
        for (size_t i = 0; i < m && ok; i++) {
            if (mask & 1u << i) {
                ok = !(used & (1u << u[i])) && !(used & (1u << v[i]));
                used |= 1u << u[i] | 1u << v[i];
                t += w[i];
            }
        }
        if (ok && t > best) {
            best = t;
        }
    }
    (void) n;
    return best;
}

static int64_t
check_mwm(size_t n, size_t m, const uint32_t *u, const uint32_t *v,
          const int64_t *w, const int64_t *mate)
{
    int64_t t = 0;
    for (size_t x = 0; x < n; x++) {
        if (mate[x] < 0) {
            continue;
        }
        assert((size_t) mate[x] < m);
        size_t k = (size_t) mate[x];
        assert(u[k] == x || v[k] == x);
        uint32_t y = u[k] == x ? v[k] : u[k];
        assert(mate[y] == mate[x]);     /* symmetric */
        if (x < y) {
            t += w[k];
        }
    }
    return t;
}

static void
expect_mwm(size_t n, size_t m, const uint32_t *u, const uint32_t *v,
           const int64_t *w)
{
    int64_t mate[32];
    assert(n <= 32);
    assert(plan_match_mwm(n, m, u, v, w, mate) == 0);
    int64_t got = check_mwm(n, m, u, v, w, mate);
    int64_t opt = brute_mwm(n, m, u, v, w);
    if (got != opt) {
        fprintf(stderr, "mwm: got %lld, optimum %lld\n", (long long) got,
                (long long) opt);
        for (size_t i = 0; i < m; i++) {
            fprintf(stderr, "  %u-%u %lld\n", u[i], v[i], (long long) w[i]);
        }
        abort();
    }
}

static void
test_known(void)
{
    /* A triangle with a pendant edge on each corner: the optimum takes
     * the three pendants, which needs the triangle shrunk and expanded. */
    {
        const uint32_t u[] = { 0, 1, 2, 0, 1, 2 };
        const uint32_t v[] = { 1, 2, 0, 3, 4, 5 };
        const int64_t w[] = { 10, 10, 10, 6, 6, 6 };
        int64_t mate[6];
        assert(plan_match_mwm(6, 6, u, v, w, mate) == 0);
        assert(check_mwm(6, 6, u, v, w, mate) == 18);
        expect_mwm(6, 6, u, v, w);
    }
    /* A 5-cycle with a heavy chord out of it, and a nested odd cycle:
     * blossoms in blossoms. */
    {
        const uint32_t u[] = { 0, 1, 2, 3, 4, 0, 5, 6, 7, 5 };
        const uint32_t v[] = { 1, 2, 3, 4, 0, 5, 6, 7, 5, 8 };
        const int64_t w[] = { 8, 8, 8, 8, 8, 9, 7, 7, 7, 3 };
        expect_mwm(9, 10, u, v, w);
    }
    /* The classic case where a T blossom must be expanded mid-stage. */
    {
        const uint32_t u[] = { 1, 1, 2, 2, 3, 4, 5, 4, 5 };
        const uint32_t v[] = { 2, 3, 3, 4, 5, 5, 6, 7, 8 };
        const int64_t w[] = { 23, 22, 15, 25, 25, 18, 10, 28, 26 };
        expect_mwm(9, 9, u, v, w);
    }
    /* A maximum-weight matching is not a maximum-size one. */
    {
        const uint32_t u[] = { 0, 1, 2 };
        const uint32_t v[] = { 1, 2, 3 };
        const int64_t w[] = { 5, 11, 5 };
        int64_t mate[4];
        assert(plan_match_mwm(4, 3, u, v, w, mate) == 0);
        assert(mate[1] == 1 && mate[2] == 1 && mate[0] == -1);
    }
    /* b-matching: the path on which greedy gets half; capacity 2 at the
     * middle takes all three; a zero-capacity host gets nothing. */
    {
        const struct plan_match_edge e[] = {
            { 0, 1, 100 }, { 1, 2, 100.5 }, { 2, 3, 100 },
        };
        const uint32_t c1[] = { 1, 1, 1, 1 };
        bool take[3];
        assert(plan_match_b(4, c1, 3, e, take) == 0);
        assert(take[0] && !take[1] && take[2]);
        const uint32_t c2[] = { 1, 2, 2, 1 };
        assert(plan_match_b(4, c2, 3, e, take) == 0);
        assert(take[0] && take[1] && take[2]);
        const uint32_t c0[] = { 1, 0, 1, 1 };
        assert(plan_match_b(4, c0, 3, e, take) == 0);
        assert(!take[0] && !take[1] && take[2]);
    }
    /* A triangle of hosts with 2 ports each takes all; with one port, the
     * heaviest link; a 5-cycle with 1 port, the best two. */
    {
        const struct plan_match_edge e[] = {
            { 0, 1, 3 }, { 1, 2, 4 }, { 2, 0, 5 },
        };
        const uint32_t c2[] = { 2, 2, 2 }, c1[] = { 1, 1, 1 };
        bool take[3];
        assert(plan_match_b(3, c2, 3, e, take) == 0);
        assert(take[0] && take[1] && take[2]);
        assert(plan_match_b(3, c1, 3, e, take) == 0);
        assert(!take[0] && !take[1] && take[2]);
        const struct plan_match_edge c5[] = {
            { 0, 1, 5 }, { 1, 2, 5 }, { 2, 3, 5 }, { 3, 4, 5 }, { 4, 0, 6 },
        };
        const uint32_t c5c[] = { 1, 1, 1, 1, 1 };
        expect_b(5, c5c, 5, c5);
    }
    /* Ties, zero and bad weights: never taken, never a failure. */
    {
        const struct plan_match_edge e[] = {
            { 0, 1, 7 }, { 1, 2, 7 }, { 2, 0, 7 }, { 0, 3, 0 },
            { 1, 3, -4 }, { 2, 3, NAN },
        };
        const uint32_t c[] = { 1, 1, 1, 1 };
        bool take[6];
        assert(plan_match_b(4, c, 6, e, take) == 0);
        assert(check_b(4, c, 6, e, take) == 7);
        assert(!take[3] && !take[4] && !take[5]);
    }
}

static void
test_bad(void)
{
    const struct plan_match_edge self_loop[] = { { 1, 1, 3 } };
    const struct plan_match_edge out[] = { { 0, 9, 3 } };
    const uint32_t c[] = { 1, 1 };
    bool take[1] = { true };
    assert(plan_match_b(2, c, 1, self_loop, take) == -1 && !take[0]);
    assert(plan_match_b(2, c, 1, out, take) == -1);
    assert(plan_match_b(2, NULL, 1, out, take) == -1);
    assert(plan_match_b(0, NULL, 0, NULL, NULL) == 0);
    const uint32_t u[] = { 0 }, v[] = { 0 }, v2[] = { 5 };
    const int64_t w[] = { 1 }, neg[] = { -1 };
    int64_t mate[2];
    assert(plan_match_mwm(2, 1, u, v, w, mate) == -1);
    assert(plan_match_mwm(2, 1, u, v2, w, mate) == -1);
    const uint32_t one[] = { 1 };
    assert(plan_match_mwm(2, 1, u, one, neg, mate) == -1);
    assert(plan_match_mwm(2, 0, NULL, NULL, NULL, mate) == 0);
    assert(mate[0] == -1 && mate[1] == -1);
}

/* Plain matchings on random graphs of up to 10 vertices and 14 edges:
 * dense, so odd cycles and nested blossoms are everywhere. */
static void
test_random_mwm(void)
{
    for (int iter = 0; iter < 4000; iter++) {
        size_t n = 2 + rnd(9);
        size_t want = 1 + rnd(14);
        uint32_t u[16], v[16];
        int64_t w[16];
        size_t m = 0;
        for (size_t t = 0; t < 200 && m < want; t++) {
            uint32_t a = rnd((uint32_t) n), b = rnd((uint32_t) n);
            bool dup = a == b;
            for (size_t i = 0; i < m && !dup; i++) {
                dup = (u[i] == a && v[i] == b) || (u[i] == b && v[i] == a);
            }
            if (!dup) {
                u[m] = a;
                v[m] = b;
                /* Few values half the time, so ties happen. */
                w[m++] = iter & 1 ? 1 + rnd(4) : 1 + rnd(1000);
            }
        }
        expect_mwm(n, m, u, v, w);
    }
}

/* b-matchings on random graphs of up to 7 hosts and 12 links, capacities
 * 0 to 3, integer and fractional weights, repeated host pairs. */
static void
test_random_b(void)
{
    int n_graphs = 0;
    for (int iter = 0; iter < 6000; iter++) {
        size_t n_hosts = 2 + rnd(6);
        size_t m = 1 + rnd(12);
        struct plan_match_edge e[16];
        for (size_t i = 0; i < m; i++) {
            uint32_t a = rnd((uint32_t) n_hosts), b;
            do {
                b = rnd((uint32_t) n_hosts);
            } while (b == a);
            double w = iter % 3 == 0 ? 1 + rnd(3)
                       : iter % 3 == 1 ? 1 + rnd(100)
                                       : (1 + rnd(1000000)) * 1e3 / 7;
            e[i] = (struct plan_match_edge) { a, b, w };
        }
        uint32_t cap[8];
        for (size_t h = 0; h < n_hosts; h++) {
            cap[h] = rnd(5) ? 1 + rnd(3) : 0;
        }
        expect_b(n_hosts, cap, m, e);
        n_graphs++;
    }
    printf("b-matching: exact == brute force on %d random graphs\n",
           n_graphs);
}

static int
cmp_w_desc(const void *x, const void *y)
{
    const struct plan_match_edge *a = x, *b = y;
    return a->w > b->w ? -1 : a->w < b->w ? 1 : 0;
}

/* Larger graphs, beyond brute force (40 hosts, 300 links, deep blossom
 * nesting): feasible, and never worse than greedy, which is feasible. */
static void
test_random_large(void)
{
    static struct plan_match_edge e[300];
    static bool take[300];
    uint32_t cap[40], deg[40];
    for (int iter = 0; iter < 20; iter++) {
        for (size_t h = 0; h < 40; h++) {
            cap[h] = rnd(4);
            deg[h] = 0;
        }
        for (size_t i = 0; i < 300; i++) {
            uint32_t a = rnd(40), b;
            do {
                b = rnd(40);
            } while (b == a);
            e[i] = (struct plan_match_edge) { a, b, 1 + rnd(50) };
        }
        qsort(e, 300, sizeof *e, cmp_w_desc);
        double greedy = 0;
        for (size_t i = 0; i < 300; i++) {
            if (deg[e[i].a] < cap[e[i].a] && deg[e[i].b] < cap[e[i].b]) {
                deg[e[i].a]++;
                deg[e[i].b]++;
                greedy += e[i].w;
            }
        }
        assert(plan_match_b(40, cap, 300, e, take) == 0);
        double got = check_b(40, cap, 300, e, take);
        assert(got >= greedy && got <= 2 * greedy);
    }
}

int
main(void)
{
    test_known();
    test_bad();
    test_random_mwm();
    test_random_b();
    test_random_large();
    printf("ok\n");
    return 0;
}
