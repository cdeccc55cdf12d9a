/* SPDX-License-Identifier: MIT */
/* vadapt-planner/plan_core on a fake clock: E derived from VM pairs (sums,
 * intra-host and unknown VMs ignored), top-k and greedy b-matching on
 * hand-made graphs with known optima (a top-k choice that breaks port
 * limits; the path on which greedy gets half the optimum), greedy checked
 * against brute force on 3,000 random graphs of <= 8 links (feasible,
 * maximal, >= OPT / 2), the diff H -> H', the T_up / T_down timers, the
 * add cap, restart seeding, a held link kept for a phase (keep), and a
 * port handed from an old link to a new one.  A fake service holds what RESERVE says and drops what RELEASE
 * says.  Last, an incremental core against one computing from scratch,
 * fed the same 200 random sequences of topologies, live rates, seeds,
 * costs and ticks: every action and every link the same. */
#undef NDEBUG
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_core.h"

#define S 1000000ULL            /* one second in microseconds */
#define M 1e6                   /* one Mbit/s */

static const uint64_t MAC0 = UINT64_C(0x020000000000);

/* A link between hosts "h<a>" and "h<b>", for the hand-made graphs. */
struct edge {
    int a, b;
    double bps;
};

static const char *
hname(int i)
{
    static char names[16][8];
    assert(i >= 0 && i < 16);
    snprintf(names[i], sizeof names[i], "h%d", i);
    return names[i];
}

/* Gives the core one VM pair per edge, each VM on its own, so each edge
 * is one link of E with the edge's demand. */
static void
set_edges(plan_core_t *pc, uint64_t now, const struct edge *e, size_t n)
{
    struct plan_vm_pair pairs[32];
    struct plan_vm_host vms[64];
    assert(n <= 32);
    for (size_t i = 0; i < n; i++) {
        uint64_t va = MAC0 + 2 * i + 1, vb = MAC0 + 2 * i + 2;
        pairs[i] = (struct plan_vm_pair) { va, vb, e[i].bps };
        vms[2 * i] = (struct plan_vm_host) { va, hname(e[i].a) };
        vms[2 * i + 1] = (struct plan_vm_host) { vb, hname(e[i].b) };
    }
    assert(plan_core_set_topology(pc, now, pairs, n, vms, 2 * n) == 0);
}

static struct plan_link_info g_links[64];

static const struct plan_link_info *
link_of(plan_core_t *pc, int a, int b)
{
    size_t n = plan_core_links(pc, g_links, 64);
    assert(n <= 64);
    const char *x = hname(a < b ? a : b), *y = hname(a < b ? b : a);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(g_links[i].host_a, x) && !strcmp(g_links[i].host_b, y)) {
            return &g_links[i];
        }
    }
    return NULL;
}

static bool
selected(plan_core_t *pc, int a, int b)
{
    const struct plan_link_info *l = link_of(pc, a, b);
    return l && l->selected;
}

static bool
wanted(plan_core_t *pc, int a, int b)
{
    const struct plan_link_info *l = link_of(pc, a, b);
    return l && l->wanted;
}

static size_t
n_selected(plan_core_t *pc)
{
    size_t n = plan_core_links(pc, g_links, 64), k = 0;
    for (size_t i = 0; i < n; i++) {
        k += g_links[i].selected;
    }
    return k;
}

/* The action of 'kind' for link a-b, or NULL. */
static const struct plan_action *
act_of(const struct plan_actions *acts, enum plan_kind kind, int a, int b)
{
    const char *x = hname(a < b ? a : b), *y = hname(a < b ? b : a);
    for (size_t i = 0; i < acts->n; i++) {
        const struct plan_action *act = &acts->v[i];
        if (act->kind == kind && !strcmp(act->host_a, x)
            && !strcmp(act->host_b, y)) {
            return act;
        }
    }
    return NULL;
}

static size_t
n_kind(const struct plan_actions *acts, enum plan_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < acts->n; i++) {
        n += acts->v[i].kind == kind;
    }
    return n;
}

/* The fake service's held set. */
struct held {
    char a[16][PLAN_HOST_LEN], b[16][PLAN_HOST_LEN];
    struct plan_link_key keys[16];
    size_t n;
};

static void
held_add(struct held *h, const char *a, const char *b)
{
    assert(h->n < 16);
    snprintf(h->a[h->n], PLAN_HOST_LEN, "%s", a);
    snprintf(h->b[h->n], PLAN_HOST_LEN, "%s", b);
    h->n++;
}

static bool
held_has(const struct held *h, int a, int b)
{
    for (size_t i = 0; i < h->n; i++) {
        if ((!strcmp(h->a[i], hname(a)) && !strcmp(h->b[i], hname(b)))
            || (!strcmp(h->a[i], hname(b)) && !strcmp(h->b[i], hname(a)))) {
            return true;
        }
    }
    return false;
}

/* Ticks with the held set, prints the actions, and does what they say
 * (make-before-break: every RESERVE must come before every RELEASE). */
static void
tick(plan_core_t *pc, uint64_t now, struct held *h,
     struct plan_actions *acts)
{
    for (size_t i = 0; i < h->n; i++) {
        h->keys[i] = (struct plan_link_key) { h->a[i], h->b[i] };
    }
    assert(plan_core_tick(pc, now, h->keys, h->n, acts) == 0);
    bool seen_release = false;
    enum plan_kind prev = PLAN_KIND_PLAN;
    static const int rank[] = { [PLAN_KIND_PLAN] = 0, [PLAN_KIND_RESERVE] = 1,
                                [PLAN_KIND_RELEASE] = 2,
                                [PLAN_KIND_THROTTLE] = 3,
                                [PLAN_KIND_DEFER] = 4 };
    for (size_t i = 0; i < acts->n; i++) {
        const struct plan_action *act = &acts->v[i];
        assert(act->reason[0]);
        assert(rank[act->kind] >= rank[prev]);  /* documented order */
        prev = act->kind;
        if (getenv("PLAN_CORE_VERBOSE")) {
            printf("  t=%5.1f %-8s %s-%s %s%s\n", (double) now / S,
                   plan_kind_name(act->kind), act->host_a, act->host_b,
                   act->reason, act->is_new ? "" : " (again)");
        }
        if (act->kind == PLAN_KIND_RESERVE) {
            assert(!seen_release);
            held_add(h, act->host_a, act->host_b);
        } else if (act->kind == PLAN_KIND_RELEASE) {
            seen_release = true;
            size_t u = 0;
            for (size_t j = 0; j < h->n; j++) {
                bool same = (!strcmp(h->a[j], act->host_a)
                             && !strcmp(h->b[j], act->host_b))
                            || (!strcmp(h->a[j], act->host_b)
                                && !strcmp(h->b[j], act->host_a));
                if (!same) {
                    memmove(h->a[u], h->a[j], sizeof h->a[0]);
                    memmove(h->b[u], h->b[j], sizeof h->b[0]);
                    u++;
                }
            }
            h->n = u;
        }
    }
    size_t n = acts->n_reserve + acts->n_release + acts->n_throttle
               + acts->n_defer;
    assert(acts->n == n + n_kind(acts, PLAN_KIND_PLAN));
}

/* Default params, but the topology's rates count (the tests of every rule
 * but live demand, which test_live() checks). */
static void
topo_params(struct plan_params *p)
{
    plan_params_default(p);
    p->live_max_age_us = 0;
}

/* A core with topo_params(). */
static plan_core_t *
topo_core(void)
{
    struct plan_params p;
    topo_params(&p);
    plan_core_t *pc = plan_core_new(&p);
    assert(pc);
    return pc;
}

/* Params for the selection tests: no thresholds, no timers, no cap. */
static struct plan_params
fast_params(enum plan_policy policy, uint32_t k)
{
    struct plan_params p;
    topo_params(&p);
    p.policy = policy;
    p.k = k;
    p.min_demand_bps = 0;
    p.release_bps = 0;
    p.t_up_us = 0;
    p.t_down_us = 0;
    p.max_adds = 0;
    return p;
}

static void
test_params(void)
{
    struct plan_params p;
    char err[128];
    plan_params_default(&p);
    assert(plan_params_check(&p, err, sizeof err));
    assert(p.policy == PLAN_POLICY_TOP_K && p.k == 4);

    p.release_bps = p.min_demand_bps * 2;
    assert(!plan_params_check(&p, err, sizeof err));
    assert(strstr(err, "release_bps"));
    assert(!plan_core_new(&p));

    plan_params_default(&p);
    p.k = 0;
    assert(!plan_params_check(&p, err, sizeof err));
    assert(strstr(err, "k: '0'"));
    p.policy = PLAN_POLICY_B_MATCHING;      /* k 0: no cap, fine */
    assert(plan_params_check(&p, err, sizeof err));

    struct plan_port_limit twice[] = { { "h1", 2 }, { "h1", 3 } };
    p.port_limits = twice;
    p.n_port_limits = 2;
    assert(!plan_params_check(&p, err, sizeof err));
    assert(strstr(err, "'h1' given twice"));

    plan_params_default(&p);
    p.add_window_us = 0;
    assert(!plan_params_check(&p, NULL, 0));

    enum plan_policy pol;
    assert(plan_policy_parse("b-matching", &pol)
           && pol == PLAN_POLICY_B_MATCHING);
    assert(plan_policy_parse("top-k", &pol) && pol == PLAN_POLICY_TOP_K);
    assert(!plan_policy_parse("topk", &pol));
    assert(!strcmp(plan_kind_name(PLAN_KIND_THROTTLE), "throttle"));

    /* The port limits are copied. */
    char name[8] = "hx";
    struct plan_port_limit one = { name, 3 };
    plan_params_default(&p);
    p.port_limits = &one;
    p.n_port_limits = 1;
    plan_core_t *pc = plan_core_new(&p);
    assert(pc);
    name[1] = 'y';
    const struct plan_params *q = plan_core_get_params(pc);
    assert(q->n_port_limits == 1 && !strcmp(q->port_limits[0].host, "hx"));
    assert(plan_core_set_params(pc, &p) == 0);
    assert(!strcmp(plan_core_get_params(pc)->port_limits[0].host, "hy"));
    p.k = 0;
    assert(plan_core_set_params(pc, &p) == -1);     /* top-k needs k */
    assert(plan_core_get_params(pc)->k == 4);
    plan_core_destroy(&pc);
    assert(!pc);
    plan_core_destroy(&pc);
}

/* E: sums per host pair, orientation, what is ignored. */
static void
test_derive(void)
{
    struct plan_params tp;
    topo_params(&tp);
    plan_core_t *pc = plan_core_new(&tp);
    assert(pc);
    const uint64_t m1 = MAC0 + 1, m2 = MAC0 + 2, m3 = MAC0 + 3,
                   m4 = MAC0 + 4, m5 = MAC0 + 5, m9 = MAC0 + 9;
    const struct plan_vm_host vms[] = {
        { m1, "10.0.0.1" }, { m2, "10.0.0.1" }, { m3, "10.0.0.2" },
        { m4, "10.0.0.3" },
        { m5, "10.0.0.1" }, { m5, "10.0.0.2" },     /* moved: last counts */
        { MAC0 + 6, "" },                           /* bad host */
    };
    const struct plan_vm_pair pairs[] = {
        { m1, m3, 10 * M },
        { m3, m2, 5 * M },          /* the other way round */
        { m1, m2, 7 * M },          /* within 10.0.0.1 */
        { m1, m9, 9 * M },          /* m9 is nowhere */
        { m4, m1, 2 * M },
        { m3, m1, 1 * M },          /* m1-m3 again: the larger rate counts */
        { 0, m1, 1 * M },           /* bad */
        { m1, m4, NAN },            /* bad */
        { m5, m3, 3 * M },          /* within 10.0.0.2 now */
    };
    assert(plan_core_set_topology(pc, 0, pairs, 9, vms, 7) == 0);

    struct plan_link_info li[8];
    assert(plan_core_links(pc, li, 8) == 2);
    assert(!strcmp(li[0].host_a, "10.0.0.1"));
    assert(!strcmp(li[0].host_b, "10.0.0.2"));
    assert(li[0].demand_bps == 15 * M && li[0].n_vm_pairs == 2);
    assert(li[0].in_e && !li[0].wanted);
    assert(li[0].selected);                 /* 15 >= min 10 */
    assert(!strcmp(li[1].host_a, "10.0.0.1"));
    assert(!strcmp(li[1].host_b, "10.0.0.3"));
    assert(li[1].demand_bps == 2 * M && li[1].n_vm_pairs == 1);
    assert(!li[1].selected);                /* 2 < min 10 */

    /* Pairs come oriented: 'a' on host_a, either order of the names. */
    struct plan_vm_pair vp[4];
    assert(plan_core_link_pairs(pc, "10.0.0.2", "10.0.0.1", vp, 4) == 2);
    assert(vp[0].a == m1 && vp[0].b == m3 && vp[0].rate_bps == 10 * M);
    assert(vp[1].a == m2 && vp[1].b == m3 && vp[1].rate_bps == 5 * M);
    assert(plan_core_link_pairs(pc, "10.0.0.1", "10.0.0.3", vp, 1) == 1);
    assert(vp[0].a == m1 && vp[0].b == m4);
    assert(plan_core_link_pairs(pc, "10.0.0.2", "10.0.0.3", vp, 4) == 0);

    struct plan_counters c;
    plan_core_get_counters(pc, &c);
    assert(c.topologies == 1 && c.pairs == 9);
    assert(c.pairs_bad == 2);
    assert(c.pairs_intra_host == 2);
    assert(c.pairs_unknown_host == 1);
    assert(c.pairs_duplicate == 1);
    assert(c.vms_bad == 1 && c.vms_duplicate == 1);
    assert(c.n_links == 2);

    /* A new topology replaces E; a link not in it and not wanted goes. */
    const struct plan_vm_pair only[] = { { m1, m4, 12 * M } };
    assert(plan_core_set_topology(pc, 1 * S, only, 1, vms, 4) == 0);
    assert(plan_core_links(pc, li, 8) == 1);
    assert(!strcmp(li[0].host_b, "10.0.0.3") && li[0].selected);
    plan_core_destroy(&pc);
}

static void
test_top_k(void)
{
    struct plan_params p = fast_params(PLAN_POLICY_TOP_K, 2);
    p.min_demand_bps = 10 * M;
    plan_core_t *pc = plan_core_new(&p);
    assert(pc);
    const struct edge e[] = {
        { 0, 1, 50 * M }, { 1, 2, 80 * M }, { 2, 3, 30 * M },
        { 3, 4, 90 * M }, { 0, 4, 5 * M },
    };
    set_edges(pc, 0, e, 5);
    assert(n_selected(pc) == 2);
    assert(selected(pc, 3, 4) && selected(pc, 1, 2));

    /* Links under the threshold never count, even with k to spare. */
    p.k = 10;
    assert(plan_core_set_params(pc, &p) == 0);
    set_edges(pc, 1 * S, e, 5);
    assert(n_selected(pc) == 4 && !selected(pc, 0, 4));

    /* Ties go by host names: h0-h3 < h1-h2 < h2-h4. */
    p.k = 2;
    assert(plan_core_set_params(pc, &p) == 0);
    const struct edge tie[] = {
        { 4, 2, 20 * M }, { 2, 1, 20 * M }, { 3, 0, 20 * M },
    };
    set_edges(pc, 2 * S, tie, 3);
    assert(selected(pc, 0, 3) && selected(pc, 1, 2) && !selected(pc, 2, 4));
    plan_core_destroy(&pc);
}

/* The best total demand of a set of links within the port limits. */
static double
brute_opt(const struct edge *e, size_t n, const uint32_t *b, size_t n_hosts,
          unsigned *best_mask)
{
    double best = 0;
    *best_mask = 0;
    for (unsigned mask = 0; mask < 1u << n; mask++) {
        uint32_t deg[16] = { 0 };
        double w = 0;
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++) {
            if (mask & 1u << i) {
                w += e[i].bps;
                ok = ++deg[e[i].a] <= b[e[i].a] && ++deg[e[i].b] <= b[e[i].b];
            }
        }
        if (ok && w > best) {
            best = w;
            *best_mask = mask;
        }
    }
    (void) n_hosts;
    return best;
}

static void
test_b_matching_known(void)
{
    /* One port per host.  Top-k (k 2) takes h0-h1 and h0-h2, which needs
     * two ports at h0: infeasible.  The b-matching takes h0-h1 and h3-h4,
     * 150 Mbit/s, which brute force confirms is the optimum. */
    const struct edge e[] = {
        { 0, 1, 100 * M }, { 0, 2, 90 * M }, { 3, 4, 50 * M },
    };
    const uint32_t b1[5] = { 1, 1, 1, 1, 1 };
    unsigned mask;
    assert(brute_opt(e, 3, b1, 5, &mask) == 150 * M && mask == 0x5);

    struct plan_params p = fast_params(PLAN_POLICY_TOP_K, 2);
    plan_core_t *pc = plan_core_new(&p);
    assert(pc);
    set_edges(pc, 0, e, 3);
    assert(selected(pc, 0, 1) && selected(pc, 0, 2) && !selected(pc, 3, 4));
    plan_core_destroy(&pc);

    p = fast_params(PLAN_POLICY_B_MATCHING, 2);
    pc = plan_core_new(&p);
    assert(pc);
    set_edges(pc, 0, e, 3);
    assert(selected(pc, 0, 1) && !selected(pc, 0, 2) && selected(pc, 3, 4));
    struct held h = { .n = 0 };
    struct plan_actions acts;
    tick(pc, 0, &h, &acts);
    assert(acts.v[0].kind == PLAN_KIND_PLAN);
    assert(acts.v[0].demand_bps == 150 * M);
    assert(strstr(acts.v[0].reason, "b-matching, k 2: 2 of 3 links"));
    assert(strstr(acts.v[0].reason, "1 without a port"));
    plan_core_destroy(&pc);

    /* Two ports at h0 (an override): now both h0 links fit, 190 > 150. */
    const struct plan_port_limit two = { "h0", 2 };
    p.port_limits = &two;
    p.n_port_limits = 1;
    pc = plan_core_new(&p);
    assert(pc);
    set_edges(pc, 0, e, 3);
    assert(selected(pc, 0, 1) && selected(pc, 0, 2) && !selected(pc, 3, 4));
    plan_core_destroy(&pc);

    /* A host with 0 ports never gets a link. */
    const struct plan_port_limit none = { "h1", 0 };
    p.port_limits = &none;
    pc = plan_core_new(&p);
    assert(pc);
    set_edges(pc, 0, e, 3);
    assert(!selected(pc, 0, 1) && selected(pc, 0, 2) && selected(pc, 3, 4));
    plan_core_destroy(&pc);

    /* The path on which greedy is worst: it takes the middle link (just
     * heavier), which blocks both others.  It gets half the optimum and
     * no less (selection: greedy). */
    const struct edge path[] = {
        { 0, 1, 100 * M }, { 1, 2, 100 * M + 1 }, { 2, 3, 100 * M },
    };
    p = fast_params(PLAN_POLICY_B_MATCHING, 0);
    p.exact = false;
    pc = plan_core_new(&p);
    assert(pc);
    set_edges(pc, 0, path, 3);
    assert(n_selected(pc) == 1 && selected(pc, 1, 2));
    double opt = brute_opt(path, 3, b1, 4, &mask);
    assert(opt == 200 * M);
    double got = 100 * M + 1;
    assert(got >= opt / 2 && got < 0.51 * opt);
    plan_core_destroy(&pc);
}

/* selection exact: the path where greedy gets half, solved; over
 * exact_max_links eligible links, the greedy again; bad params
 * refused. */
static void
test_b_matching_exact(void)
{
    const struct edge path[] = {
        { 0, 1, 100 * M }, { 1, 2, 100 * M + 1 }, { 2, 3, 100 * M },
    };
    struct plan_params p = fast_params(PLAN_POLICY_B_MATCHING, 0);
    p.exact = true;
    plan_core_t *pc = plan_core_new(&p);
    assert(pc);
    set_edges(pc, 0, path, 3);
    assert(n_selected(pc) == 2 && selected(pc, 0, 1) && selected(pc, 2, 3));
    struct held h = { .n = 0 };
    struct plan_actions acts;
    tick(pc, 0, &h, &acts);
    assert(acts.v[0].kind == PLAN_KIND_PLAN);
    assert(acts.v[0].demand_bps == 200 * M);
    assert(strstr(acts.v[0].reason, "1 without a port"));
    struct plan_counters c;
    plan_core_get_counters(pc, &c);
    assert(c.exact >= 1 && !c.exact_unproven && !c.exact_greedy);
    /* The same problem again is not solved again. */
    tick(pc, 1 * S, &h, &acts);
    plan_core_get_counters(pc, &c);
    uint64_t solved = c.exact;
    tick(pc, 2 * S, &h, &acts);
    tick(pc, 3 * S, &h, &acts);
    plan_core_get_counters(pc, &c);
    assert(c.exact == solved);
    assert(selected(pc, 0, 1) && selected(pc, 2, 3));
    plan_core_destroy(&pc);

    /* With a cap k 1 it takes the heaviest link alone. */
    p.k = 1;
    pc = plan_core_new(&p);
    assert(pc);
    set_edges(pc, 0, path, 3);
    assert(n_selected(pc) == 1 && selected(pc, 1, 2));
    plan_core_destroy(&pc);

    /* Three eligible links, exact up to 2: the greedy. */
    p.k = 0;
    p.exact_max_links = 2;
    pc = plan_core_new(&p);
    assert(pc);
    set_edges(pc, 0, path, 3);
    assert(n_selected(pc) == 1 && selected(pc, 1, 2));
    plan_core_get_counters(pc, &c);
    assert(!c.exact && c.exact_greedy == 1);
    plan_core_destroy(&pc);

    char err[128];
    p.exact_max_links = 0;
    assert(!plan_params_check(&p, err, sizeof err));
    assert(strstr(err, "exact_max_links: '0'"));
    p.exact_max_links = PLAN_MAX_EXACT_LINKS + 1;
    assert(!plan_params_check(&p, err, sizeof err));
    assert(!plan_core_new(&p));
}

static uint64_t g_rng = 0x9e3779b97f4a7c15u;

static uint32_t
rnd(uint32_t n)
{
    g_rng = g_rng * UINT64_C(6364136223846793005)
            + UINT64_C(1442695040888963407);
    return (uint32_t) ((g_rng >> 33) % n);
}

/* Greedy and exact against brute force on random graphs of <= 8
 * links. */
static void
test_b_matching_random(void)
{
    double worst = 1;
    for (int iter = 0; iter < 3000; iter++) {
        size_t n_hosts = 2 + rnd(5);
        size_t n = 1 + rnd(8);
        struct edge e[8];
        size_t m = 0;
        for (size_t t = 0; t < 40 && m < n; t++) {
            int a = (int) rnd((uint32_t) n_hosts);
            int b = (int) rnd((uint32_t) n_hosts);
            bool dup = a == b;
            for (size_t i = 0; i < m && !dup; i++) {
                dup = (e[i].a == a && e[i].b == b)
                      || (e[i].a == b && e[i].b == a);
            }
            if (!dup) {
                /* Few distinct values, so ties happen too. */
                e[m++] = (struct edge) { a, b, (1 + rnd(12)) * 5 * M };
            }
        }
        uint32_t b[8];
        struct plan_port_limit lim[8];
        for (size_t h = 0; h < n_hosts; h++) {
            b[h] = rnd(4) ? 1 + rnd(2) : 0;
            lim[h] = (struct plan_port_limit) { hname((int) h), b[h] };
        }
        struct plan_params p = fast_params(PLAN_POLICY_B_MATCHING, 0);
        p.default_ports = 7;            /* every host has an override */
        p.exact = false;                /* the greedy first */
        p.port_limits = lim;
        p.n_port_limits = n_hosts;
        plan_core_t *pc = plan_core_new(&p);
        assert(pc);
        set_edges(pc, 0, e, m);

        uint32_t deg[8] = { 0 };
        double got = 0;
        for (size_t i = 0; i < m; i++) {
            if (selected(pc, e[i].a, e[i].b)) {
                got += e[i].bps;
                deg[e[i].a]++;
                deg[e[i].b]++;
            }
        }
        for (size_t h = 0; h < n_hosts; h++) {
            assert(deg[h] <= b[h]);         /* feasible */
        }
        for (size_t i = 0; i < m; i++) {    /* maximal */
            if (!selected(pc, e[i].a, e[i].b)) {
                assert(deg[e[i].a] == b[e[i].a] || deg[e[i].b] == b[e[i].b]);
            }
        }
        unsigned mask;
        double opt = brute_opt(e, m, b, n_hosts, &mask);
        assert(got <= opt);
        assert(got >= opt / 2);             /* the 1/2 bound */

        /* The exact selection finds the optimum itself. */
        p.exact = true;
        plan_core_t *px = plan_core_new(&p);
        assert(px);
        set_edges(px, 0, e, m);
        double exact = 0;
        for (size_t i = 0; i < m; i++) {
            exact += selected(px, e[i].a, e[i].b) ? e[i].bps : 0;
        }
        assert(exact == opt);
        plan_core_destroy(&px);
        if (opt > 0 && got / opt < worst) {
            worst = got / opt;
        }
        plan_core_destroy(&pc);
    }
    printf("b-matching: greedy / optimum >= %.3f over 3000 graphs\n", worst);
    assert(worst < 1);                      /* some graph was hard */
}

/* The diff H -> H', with no timers and no cap. */
static void
test_diff(void)
{
    struct plan_params p = fast_params(PLAN_POLICY_TOP_K, 3);
    plan_core_t *pc = plan_core_new(&p);
    assert(pc);
    struct held h = { .n = 0 };
    struct plan_actions acts;

    const struct edge e1[] = { { 0, 1, 30 * M }, { 1, 2, 20 * M } };
    set_edges(pc, 0, e1, 2);
    tick(pc, 0, &h, &acts);
    assert(acts.n == 3 && acts.n_reserve == 2);
    assert(acts.v[0].kind == PLAN_KIND_PLAN);
    assert(acts.v[1].kind == PLAN_KIND_RESERVE && acts.v[1].demand_bps
                                                      == 30 * M);
    assert(!strcmp(acts.v[1].host_a, "h0") && !strcmp(acts.v[1].host_b, "h1"));
    assert(acts.v[1].n_vm_pairs == 1 && acts.v[1].is_new);
    assert(acts.v[2].kind == PLAN_KIND_RESERVE);
    assert(h.n == 2);

    /* Nothing changed: nothing to do. */
    tick(pc, 1 * S, &h, &acts);
    assert(acts.n == 0);

    /* H' = {h1-h2, h2-h3}: add h2-h3 first, then remove h0-h1.  The
     * service also holds h5-h6, which the planner never heard of. */
    const struct edge e2[] = { { 1, 2, 20 * M }, { 2, 3, 40 * M } };
    set_edges(pc, 2 * S, e2, 2);
    held_add(&h, "h6", "h5");
    held_add(&h, "h5", "h6");               /* a repeat: one release */
    tick(pc, 2 * S, &h, &acts);
    assert(acts.n_reserve == 1 && acts.n_release == 2);
    const struct plan_action *add = act_of(&acts, PLAN_KIND_RESERVE, 2, 3);
    const struct plan_action *rm = act_of(&acts, PLAN_KIND_RELEASE, 0, 1);
    assert(add && rm && add < rm);          /* make before break */
    const struct plan_action *stray = act_of(&acts, PLAN_KIND_RELEASE, 5, 6);
    assert(stray && strstr(stray->reason, "unknown"));
    assert(!act_of(&acts, PLAN_KIND_RESERVE, 1, 2));
    assert(h.n == 2 && held_has(&h, 1, 2) && held_has(&h, 2, 3));

    /* The service lost h2-h3 (held h1-h2 only): reserve it again. */
    h.n = 1;
    tick(pc, 3 * S, &h, &acts);
    assert(acts.n == 1);
    const struct plan_action *again = act_of(&acts, PLAN_KIND_RESERVE, 2, 3);
    assert(again && !again->is_new);
    assert(strstr(again->reason, "reserving again"));
    assert(!link_of(pc, 0, 1));             /* forgotten once dropped */

    struct plan_counters c;
    plan_core_get_counters(pc, &c);
    assert(c.reserves == 4 && c.releases == 2 && c.plans == 2);
    assert(c.n_wanted == 2 && c.n_selected == 2 && c.n_links == 2);
    plan_core_destroy(&pc);
}

/* select_grace_us 2 s: a break of the selection that short (the live
 * rates of a stalled BSP exchange) does not restart T_up; a longer one does. */
static void
test_select_grace(void)
{
    struct plan_params p;
    topo_params(&p);
    p.k = 4;
    p.max_adds = 0;
    assert(p.select_grace_us == 2 * S);     /* the default */
    plan_core_t *pc = plan_core_new(&p);
    assert(pc);
    struct held h = { .n = 0 };
    struct plan_actions acts;
    const struct plan_action *a;
    /* A break: the link stays in the topology, its rate under the min. */
    const struct edge ab[] = { { 0, 1, 20 * M }, { 2, 3, 1000 } };
    const struct edge cd[] = { { 0, 1, 1000 }, { 2, 3, 20 * M } };
    const struct edge both[] = { { 0, 1, 20 * M }, { 2, 3, 20 * M } };

    /* 0-4 s selected, 4-6 s out (2 s: bridged), then in: 9 s at 9 s. */
    set_edges(pc, 0, ab, 2);
    set_edges(pc, 4 * S, cd, 2);
    set_edges(pc, 6 * S, ab, 2);
    tick(pc, 9 * S, &h, &acts);
    a = act_of(&acts, PLAN_KIND_DEFER, 0, 1);
    assert(a && strstr(a->reason, "selected for 9.0 s"));
    tick(pc, 10 * S, &h, &acts);
    assert(act_of(&acts, PLAN_KIND_RESERVE, 0, 1));

    /* 20-24 s selected, 24-26.5 s out (2.5 s: too long): from 26.5 s. */
    set_edges(pc, 20 * S, both, 2);         /* c-d selected since 20 s */
    set_edges(pc, 24 * S, ab, 2);
    set_edges(pc, 26 * S + 500000, both, 2);
    tick(pc, 30 * S, &h, &acts);
    a = act_of(&acts, PLAN_KIND_DEFER, 2, 3);
    assert(a && strstr(a->reason, "selected for 3.5 s"));
    tick(pc, 36 * S + 499999, &h, &acts);
    assert(!act_of(&acts, PLAN_KIND_RESERVE, 2, 3));
    tick(pc, 36 * S + 500000, &h, &acts);
    assert(act_of(&acts, PLAN_KIND_RESERVE, 2, 3));

    /* Out of range: refused. */
    p.select_grace_us = 61 * S;
    char err[128];
    assert(!plan_params_check(&p, err, sizeof err));
    assert(strstr(err, "select_grace_us"));
    plan_core_destroy(&pc);
}

/* T_up 10 s, T_down 30 s, min 10 Mbit/s, release 5 Mbit/s. */
static void
test_hysteresis(void)
{
    struct plan_params p;
    topo_params(&p);
    p.k = 4;
    p.max_adds = 0;
    p.select_grace_us = 0;      /* the paper's rule: any break restarts */
    plan_core_t *pc = plan_core_new(&p);
    assert(pc);
    struct held h = { .n = 0 };
    struct plan_actions acts;
    const struct plan_action *a;

    /* T_up not met: DEFER, said once as new, then as a repeat. */
    const struct edge ab[] = { { 0, 1, 20 * M } };
    set_edges(pc, 0, ab, 1);
    tick(pc, 0, &h, &acts);
    a = act_of(&acts, PLAN_KIND_DEFER, 0, 1);
    assert(a && a->is_new && strstr(a->reason, "< T_up 10.0 s"));
    assert(!wanted(pc, 0, 1) && acts.n_reserve == 0);
    tick(pc, 5 * S, &h, &acts);
    a = act_of(&acts, PLAN_KIND_DEFER, 0, 1);
    assert(a && !a->is_new && strstr(a->reason, "selected for 5.0 s"));
    assert(strstr(a->reason, "5.0 s to go"));
    tick(pc, 10 * S - 1, &h, &acts);
    assert(acts.n_reserve == 0 && !wanted(pc, 0, 1));

    /* T_up met: wanted, RESERVE. */
    tick(pc, 10 * S, &h, &acts);
    a = act_of(&acts, PLAN_KIND_RESERVE, 0, 1);
    assert(a && strstr(a->reason, ">= T_up 10.0 s"));
    assert(wanted(pc, 0, 1) && held_has(&h, 0, 1));

    /* A selection that breaks restarts T_up, even between ticks. */
    const struct edge both[] = { { 0, 1, 20 * M }, { 2, 3, 20 * M } };
    set_edges(pc, 11 * S, both, 2);
    set_edges(pc, 15 * S, ab, 1);
    set_edges(pc, 16 * S, both, 2);
    tick(pc, 25 * S, &h, &acts);
    a = act_of(&acts, PLAN_KIND_DEFER, 2, 3);
    assert(a && strstr(a->reason, "selected for 9.0 s"));
    tick(pc, 26 * S, &h, &acts);
    assert(act_of(&acts, PLAN_KIND_RESERVE, 2, 3));

    /* A dip shorter than T_down keeps the link. */
    const struct edge cd[] = { { 2, 3, 20 * M } };
    set_edges(pc, 30 * S, cd, 1);
    tick(pc, 31 * S, &h, &acts);
    a = act_of(&acts, PLAN_KIND_DEFER, 0, 1);
    assert(a && strstr(a->reason, "release waits"));
    assert(strstr(a->reason, "T_down 30.0 s"));
    assert(acts.n_release == 0 && wanted(pc, 0, 1));
    tick(pc, 59 * S, &h, &acts);
    assert(acts.n_release == 0);
    set_edges(pc, 59 * S, both, 2);         /* back after 29 s */
    tick(pc, 60 * S, &h, &acts);
    assert(acts.n == 1 && acts.v[0].kind == PLAN_KIND_PLAN);
    assert(wanted(pc, 0, 1) && held_has(&h, 0, 1));

    /* A long dip releases it, T_down after it began. */
    set_edges(pc, 70 * S, cd, 1);
    tick(pc, 99 * S, &h, &acts);
    assert(acts.n_release == 0);
    tick(pc, 100 * S, &h, &acts);
    a = act_of(&acts, PLAN_KIND_RELEASE, 0, 1);
    assert(a && strstr(a->reason, "for 30.0 s >= T_down 30.0 s"));
    assert(strstr(a->reason, "no demand"));
    assert(!held_has(&h, 0, 1) && !wanted(pc, 0, 1));

    /* The band: a wanted link at 7 Mbit/s (under min, over release) stays
     * selected; at 4 Mbit/s it is out, and released after T_down. */
    const struct edge cd7[] = { { 2, 3, 7 * M } };
    set_edges(pc, 110 * S, cd7, 1);
    tick(pc, 150 * S, &h, &acts);
    assert(selected(pc, 2, 3) && wanted(pc, 2, 3) && acts.n == 0);
    const struct edge cd4[] = { { 2, 3, 4 * M } };
    set_edges(pc, 150 * S, cd4, 1);
    tick(pc, 179 * S, &h, &acts);
    assert(acts.n_release == 0 && wanted(pc, 2, 3));
    tick(pc, 180 * S, &h, &acts);
    a = act_of(&acts, PLAN_KIND_RELEASE, 2, 3);
    assert(a && strstr(a->reason, "4.00 Mbit/s < release 5.00 Mbit/s"));
    /* Not wanted any more, 7 Mbit/s is under the min again. */
    set_edges(pc, 181 * S, cd7, 1);
    tick(pc, 300 * S, &h, &acts);
    assert(!selected(pc, 2, 3) && acts.n_reserve == 0 && h.n == 0);

    /* A clock that goes back counts as standing still. */
    tick(pc, 200 * S, &h, &acts);
    struct plan_counters c;
    plan_core_get_counters(pc, &c);
    assert(c.clock_back == 1);
    plan_core_destroy(&pc);
}

/* At most 2 RESERVEs per 60 s; the rest wait, reported as THROTTLE. */
/* keep_bonus: a held link is not traded for one barely busier, and a
 * tie keeps what is held; a clearly busier link still wins. */
static void
test_keep_bonus(void)
{
    struct plan_params p;
    topo_params(&p);
    p.k = 1;
    p.max_adds = 0;
    p.t_up_us = 0;
    p.t_down_us = 0;
    plan_core_t *pc = plan_core_new(&p);
    assert(pc);
    struct held h = { .n = 0 };
    struct plan_actions acts;

    const struct edge ab[] = { { 0, 1, 20 * M } };
    set_edges(pc, 0, ab, 1);
    tick(pc, 0, &h, &acts);
    assert(wanted(pc, 0, 1));
    /* A tie, then 5% busier: the held link stays. */
    const struct edge tie[] = { { 0, 1, 20 * M }, { 2, 3, 20 * M } };
    set_edges(pc, 1 * S, tie, 2);
    tick(pc, 1 * S, &h, &acts);
    assert(selected(pc, 0, 1) && !selected(pc, 2, 3));
    const struct edge near[] = { { 0, 1, 20 * M }, { 2, 3, 21 * M } };
    set_edges(pc, 2 * S, near, 2);
    tick(pc, 2 * S, &h, &acts);
    assert(selected(pc, 0, 1) && !selected(pc, 2, 3));
    assert(acts.n_reserve == 0 && acts.n_release == 0);
    /* 25% busier: it takes the place. */
    const struct edge far[] = { { 0, 1, 20 * M }, { 2, 3, 25 * M } };
    set_edges(pc, 3 * S, far, 2);
    tick(pc, 3 * S, &h, &acts);
    assert(selected(pc, 2, 3) && !selected(pc, 0, 1));

    /* With no bonus, 5% busier is enough. */
    tick(pc, 4 * S, &h, &acts);
    assert(wanted(pc, 2, 3) && !wanted(pc, 0, 1));
    p.keep_bonus = 0;
    assert(plan_core_set_params(pc, &p) == 0);
    const struct edge back[] = { { 0, 1, 21 * M }, { 2, 3, 20 * M } };
    set_edges(pc, 5 * S, back, 2);
    tick(pc, 5 * S, &h, &acts);
    assert(selected(pc, 0, 1) && !selected(pc, 2, 3));
    p.keep_bonus = -1;
    char err[128];
    assert(!plan_params_check(&p, err, sizeof err) && strstr(err, "keep_bonus"));
    plan_core_destroy(&pc);
}

static void
test_throttle(void)
{
    struct plan_params p = fast_params(PLAN_POLICY_TOP_K, 4);
    p.max_adds = 2;
    p.add_window_us = 60 * S;
    plan_core_t *pc = plan_core_new(&p);
    assert(pc);
    struct held h = { .n = 0 };
    struct plan_actions acts;
    const struct plan_action *a;

    const struct edge e[] = {
        { 0, 1, 40 * M }, { 2, 3, 30 * M }, { 4, 5, 20 * M },
        { 6, 7, 10 * M },
    };
    set_edges(pc, 0, e, 4);
    tick(pc, 0, &h, &acts);
    assert(acts.n_reserve == 2 && acts.n_throttle == 2);
    assert(act_of(&acts, PLAN_KIND_RESERVE, 0, 1));     /* heaviest first */
    assert(act_of(&acts, PLAN_KIND_RESERVE, 2, 3));
    a = act_of(&acts, PLAN_KIND_THROTTLE, 4, 5);
    assert(a && a->is_new && strstr(a->reason, "cap of 2"));
    assert(strstr(a->reason, "next slot in 60.0 s"));
    assert(wanted(pc, 4, 5) && wanted(pc, 6, 7));       /* not dropped */

    tick(pc, 30 * S, &h, &acts);
    assert(acts.n_reserve == 0 && acts.n_throttle == 2);
    a = act_of(&acts, PLAN_KIND_THROTTLE, 6, 7);
    assert(a && !a->is_new && strstr(a->reason, "next slot in 30.0 s"));

    tick(pc, 60 * S, &h, &acts);
    assert(acts.n_reserve == 2 && acts.n_throttle == 0);
    a = act_of(&acts, PLAN_KIND_RESERVE, 4, 5);
    assert(a && strstr(a->reason, "throttled until now"));
    /* The service lost h6-h7: reserving it again takes a slot too. */
    h.n = 3;
    tick(pc, 61 * S, &h, &acts);
    assert(acts.n_reserve == 0 && acts.n_throttle == 1);
    assert(strstr(act_of(&acts, PLAN_KIND_THROTTLE, 6, 7)->reason,
                  "next slot in 59.0 s"));
    tick(pc, 120 * S, &h, &acts);
    a = act_of(&acts, PLAN_KIND_RESERVE, 6, 7);
    assert(a && strstr(a->reason, "throttled until now"));

    struct plan_counters c;
    plan_core_get_counters(pc, &c);
    assert(c.reserves == 5 && c.throttled == 5);
    plan_core_destroy(&pc);
}

/* A RESERVE the service could not act on yet gives its slot back: the
 * link is asked for at the next tick, not throttled for the window. */
static void
test_unreserve(void)
{
    struct plan_params p = fast_params(PLAN_POLICY_TOP_K, 4);
    p.max_adds = 1;
    p.add_window_us = 60 * S;
    plan_core_t *pc = plan_core_new(&p);
    assert(pc);
    struct held h = { .n = 0 };
    struct plan_actions acts;
    const struct edge e[] = { { 0, 1, 40 * M } };
    set_edges(pc, 0, e, 1);
    tick(pc, 0, &h, &acts);
    assert(acts.n_reserve == 1 && act_of(&acts, PLAN_KIND_RESERVE, 0, 1));
    assert(plan_core_unreserve(pc, 1 * S) == -1);   /* none at that time */
    assert(plan_core_unreserve(pc, 0) == 0);
    assert(plan_core_unreserve(pc, 0) == -1);       /* given back once */
    h.n = 0;                                        /* not acted on */
    tick(pc, 1 * S, &h, &acts);
    assert(acts.n_reserve == 1 && acts.n_throttle == 0);
    /* Not given back this time: the next one waits for the window. */
    h.n = 0;
    tick(pc, 2 * S, &h, &acts);
    assert(acts.n_reserve == 0 && act_of(&acts, PLAN_KIND_THROTTLE, 0, 1));
    plan_core_destroy(&pc);
}

/* After a restart, links still held are seeded: no duplicate RESERVE. */
static void
test_seed(void)
{
    plan_core_t *pc = topo_core();
    struct held h = { .n = 0 };
    struct plan_actions acts;
    held_add(&h, "h1", "h0");
    held_add(&h, "h2", "h3");
    held_add(&h, "h4", "h5");               /* held, neither seeded nor
                                               unknown once selected */
    assert(plan_core_seed(pc, "h1", "h0", 0) == 0);
    assert(plan_core_seed(pc, "h2", "h3", 0) == 0);
    assert(plan_core_seed(pc, "h2", "h2", 0) == -1);
    assert(plan_core_seed(pc, "h2", NULL, 0) == -1);
    assert(wanted(pc, 0, 1) && link_of(pc, 0, 1)->seeded);

    const struct edge e[] = { { 0, 1, 20 * M }, { 4, 5, 20 * M } };
    set_edges(pc, 1 * S, e, 2);
    tick(pc, 1 * S, &h, &acts);
    assert(acts.n_reserve == 0 && acts.n_release == 0);
    assert(wanted(pc, 4, 5));               /* adopted, no T_up wait */
    assert(act_of(&acts, PLAN_KIND_DEFER, 2, 3));
    tick(pc, 29 * S, &h, &acts);
    assert(acts.n_release == 0);
    tick(pc, 30 * S, &h, &acts);            /* T_down after the seed */
    assert(acts.n_release == 1 && act_of(&acts, PLAN_KIND_RELEASE, 2, 3));
    assert(acts.n_reserve == 0 && h.n == 2);

    /* A seed taken back: a selected link stays, a seeded idle one is
     * released at the next tick ("held but not wanted"). */
    assert(plan_core_seed(pc, "h6", "h7", 31 * S) == 0);
    held_add(&h, "h6", "h7");
    tick(pc, 31 * S, &h, &acts);
    assert(wanted(pc, 6, 7) && acts.n_release == 0);
    assert(plan_core_unseed(pc, "h0", "h1") == 0);     /* selected */
    assert(plan_core_unseed(pc, "h5", "h4") == 0);     /* by demand */
    assert(plan_core_unseed(pc, "h8", "h9") == 0);     /* unknown */
    assert(plan_core_unseed(pc, "h6", "h6") == -1);
    assert(plan_core_unseed(pc, "h7", "h6") == 1);
    assert(!wanted(pc, 6, 7));
    tick(pc, 31 * S + 1, &h, &acts);
    const struct plan_action *a = act_of(&acts, PLAN_KIND_RELEASE, 6, 7);
    assert(a && strstr(a->reason, "held but not wanted"));
    assert(acts.n_reserve == 0);
    plan_core_destroy(&pc);
}

/* plan_core_keep(): a held idle link a phase will use is kept past its
 * wait for release until the time given, then released as any other; a
 * miss (unseed) gives it up at once. */
static void
test_keep(void)
{
    plan_core_t *pc = topo_core();
    struct held h = { .n = 0 };
    struct plan_actions acts;
    held_add(&h, "h2", "h3");
    held_add(&h, "h4", "h5");
    assert(plan_core_seed(pc, "h2", "h3", 0) == 0);
    assert(plan_core_seed(pc, "h4", "h5", 0) == 0);
    assert(plan_core_keep(pc, "h2", "h2", 0, S) == -1);
    tick(pc, 1 * S, &h, &acts);
    /* Wanted already (seeded): the keep sets a floor past T_down (30 s). */
    assert(plan_core_keep(pc, "h3", "h2", 10 * S, 50 * S) == 0);
    assert(plan_core_keep(pc, "h4", "h5", 10 * S, 50 * S) == 0);
    tick(pc, 30 * S, &h, &acts);
    assert(acts.n_release == 0);
    const struct plan_action *a = act_of(&acts, PLAN_KIND_DEFER, 2, 3);
    assert(a && strstr(a->reason, "kept") && strstr(a->reason, "20.0 s"));
    tick(pc, 45 * S, &h, &acts);
    assert(acts.n_release == 0);
    /* The phase did not come for h4-h5: given up at once. */
    assert(plan_core_unseed(pc, "h4", "h5") == 1);
    tick(pc, 46 * S, &h, &acts);
    assert(acts.n_release == 1 && act_of(&acts, PLAN_KIND_RELEASE, 4, 5));
    tick(pc, 50 * S - 1, &h, &acts);
    assert(acts.n_release == 0);
    tick(pc, 50 * S, &h, &acts);
    assert(acts.n_release == 1 && act_of(&acts, PLAN_KIND_RELEASE, 2, 3));
    assert(h.n == 0);

    /* A keep in the past, or on a link not held: no floor beyond now. */
    held_add(&h, "h6", "h7");
    assert(plan_core_keep(pc, "h6", "h7", 60 * S, 55 * S) == 0);
    tick(pc, 60 * S, &h, &acts);
    tick(pc, 90 * S - 1, &h, &acts);
    assert(acts.n_release == 0);
    tick(pc, 90 * S, &h, &acts);
    assert(acts.n_release == 1 && act_of(&acts, PLAN_KIND_RELEASE, 6, 7));
    plan_core_destroy(&pc);
}

/* One port per host: a new link waits for the old one's port. */
static void
test_port_handover(void)
{
    struct plan_params p;
    topo_params(&p);
    p.policy = PLAN_POLICY_B_MATCHING;
    p.k = 0;
    p.max_adds = 0;
    plan_core_t *pc = plan_core_new(&p);
    assert(pc);
    struct held h = { .n = 0 };
    struct plan_actions acts;
    const struct plan_action *a;

    const struct edge old[] = { { 0, 1, 20 * M } };
    set_edges(pc, 0, old, 1);
    tick(pc, 10 * S, &h, &acts);
    assert(act_of(&acts, PLAN_KIND_RESERVE, 0, 1));

    const struct edge moved[] = { { 0, 2, 30 * M } };
    set_edges(pc, 20 * S, moved, 1);
    tick(pc, 25 * S, &h, &acts);
    a = act_of(&acts, PLAN_KIND_DEFER, 0, 2);
    assert(a && strstr(a->reason, "< T_up"));
    tick(pc, 40 * S, &h, &acts);
    a = act_of(&acts, PLAN_KIND_DEFER, 0, 2);
    assert(a && a->is_new && strstr(a->reason, "host h0 has all 1 ports"));
    assert(act_of(&acts, PLAN_KIND_DEFER, 0, 1));   /* release waits */

    /* T_down of h0-h1 over: release it; the port is free only once the
     * service has dropped it, so h0-h2 waits for the next tick. */
    tick(pc, 50 * S, &h, &acts);
    assert(act_of(&acts, PLAN_KIND_RELEASE, 0, 1));
    assert(acts.n_reserve == 0 && act_of(&acts, PLAN_KIND_DEFER, 0, 2));
    tick(pc, 51 * S, &h, &acts);
    assert(act_of(&acts, PLAN_KIND_RESERVE, 0, 2) && acts.n == 1);
    assert(h.n == 1 && held_has(&h, 0, 2));
    plan_core_destroy(&pc);
}

/* A core that has seen nothing yet ticks cleanly (the service ticks from
 * its start, before any topology): no action, no wanted link. */
static void
test_empty(void)
{
    plan_core_t *c = plan_core_new(NULL);
    assert(c);
    struct plan_actions out;
    assert(plan_core_tick(c, 1000, NULL, 0, &out) == 0);
    assert(out.n_reserve == 0 && out.n_release == 0);
    assert(plan_core_set_topology(c, 2000, NULL, 0, NULL, 0) == 0);
    assert(plan_core_tick(c, 3000, NULL, 0, &out) == 0);
    assert(out.n_reserve == 0 && out.n_release == 0);
    plan_core_destroy(&c);
}

/* The live rates of edge 'i' of set_edges(): 'fwd' from its first VM,
 * 'back' the other way. */
static void
set_live(plan_core_t *pc, uint64_t now, int i, double fwd, double back)
{
    uint64_t va = MAC0 + 2 * (uint64_t) i + 1, vb = va + 1;
    const struct plan_vm_pair r[] = { { va, vb, fwd }, { vb, va, back } };
    assert(plan_core_set_live(pc, now, r, 2) == 0);
}

/* Live demand: a topology's rate alone reserves nothing; current rates
 * decide; a link whose traffic stopped is never reserved, whatever the
 * topology said; rates too old keep what is wanted and add nothing. */
static void
test_live(void)
{
    struct plan_params p;
    plan_params_default(&p);            /* live_max_age 3 s */
    p.t_up_us = 1 * S;
    p.t_down_us = 2 * S;
    p.max_adds = 0;
    plan_core_t *pc = plan_core_new(&p);
    assert(pc);
    struct held h = { .n = 0 };
    struct plan_actions acts;
    const struct plan_action *a;
    struct plan_counters c;

    /* A busy topology, no current rates yet: nothing, and it says why. */
    const struct edge ab[] = { { 0, 1, 100 * M } };
    set_edges(pc, 0, ab, 1);
    for (uint64_t t = 0; t <= 5 * S; t += S / 2) {
        tick(pc, t, &h, &acts);
        assert(acts.n_reserve == 0 && !selected(pc, 0, 1));
    }
    assert(link_of(pc, 0, 1)->demand_bps == 0);
    plan_core_get_counters(pc, &c);
    assert(c.stale > 0);

    /* The traffic had stopped: the live matrix says 0 (or leaves the
     * pair out), and the topology's 100 Mbit/s reserves nothing. */
    for (uint64_t t = 5 * S; t <= 12 * S; t += S / 2) {
        if (t % S == 0) {
            set_live(pc, t, 0, 0, 0);
        }
        tick(pc, t, &h, &acts);
        assert(acts.n_reserve == 0 && !selected(pc, 0, 1));
    }
    assert(plan_core_set_live(pc, 12 * S, NULL, 0) == 0);
    tick(pc, 14 * S, &h, &acts);
    assert(acts.n_reserve == 0);

    /* Traffic now: both directions add up; T_up still applies. */
    set_live(pc, 15 * S, 0, 30 * M, 25 * M);
    tick(pc, 15 * S, &h, &acts);
    assert(acts.n_reserve == 0 && selected(pc, 0, 1));
    assert(link_of(pc, 0, 1)->demand_bps == 55 * M);
    set_live(pc, 16 * S, 0, 30 * M, 25 * M);
    tick(pc, 16 * S, &h, &acts);
    a = act_of(&acts, PLAN_KIND_RESERVE, 0, 1);
    assert(a && a->demand_bps == 55 * M && held_has(&h, 0, 1));

    /* The aggregator goes quiet: the wanted link keeps its topology
     * demand, well past T_down, and a new busy link is not reserved. */
    const struct edge abc[] = { { 0, 1, 100 * M }, { 2, 3, 80 * M } };
    set_edges(pc, 17 * S, abc, 2);
    for (uint64_t t = 17 * S; t <= 30 * S; t += S) {
        tick(pc, t, &h, &acts);
        assert(acts.n_release == 0 && acts.n_reserve == 0);
    }
    assert(wanted(pc, 0, 1) && !selected(pc, 2, 3));
    a = act_of(&acts, PLAN_KIND_DEFER, 2, 3);
    assert(!a);     /* not selected at all: no wait to report */

    /* Current again, the first link's traffic gone: released T_down
     * after; the second's there: reserved after T_up. */
    for (uint64_t t = 31 * S; t <= 34 * S; t += S) {
        const struct plan_vm_pair r[] = {
            { MAC0 + 3, MAC0 + 4, 40 * M },
            { 0, MAC0 + 4, 1 * M },             /* ignored: bad */
            { MAC0 + 5, MAC0 + 5, 1 * M },      /* ignored: a == b */
            { MAC0 + 1, MAC0 + 2, NAN },        /* ignored: not finite */
            { MAC0 + 1, MAC0 + 2, -1 },         /* ignored: negative */
        };
        assert(plan_core_set_live(pc, t, r, 5) == 0);
        tick(pc, t, &h, &acts);
        if (t == 32 * S) {
            assert(act_of(&acts, PLAN_KIND_RESERVE, 2, 3));
        }
        if (t == 33 * S) {
            assert(act_of(&acts, PLAN_KIND_RELEASE, 0, 1));
        }
    }
    assert(!wanted(pc, 0, 1) && wanted(pc, 2, 3));
    plan_core_get_counters(pc, &c);
    assert(c.live_bad == 4 * 4 && c.live >= 10);

    /* The rule off: the topology's rates count, however old. */
    p.live_max_age_us = 0;
    assert(plan_core_set_params(pc, &p) == 0);
    set_edges(pc, 40 * S, ab, 1);
    tick(pc, 40 * S, &h, &acts);
    assert(selected(pc, 0, 1) && link_of(pc, 0, 1)->demand_bps == 100 * M);
    plan_core_destroy(&pc);
}

/* Cost rule: learned set-up and teardown times replace T_up and T_down,
 * clamped by wait_min and by them; the default cost; forgetting; bad
 * input; the table's cap. */
static void
test_cost(void)
{
    struct plan_params p;
    topo_params(&p);                    /* T_up 10 s, T_down 30 s */
    p.max_adds = 0;
    plan_core_t *pc = plan_core_new(&p);
    assert(pc);
    struct held h = { .n = 0 };
    struct plan_actions acts;
    const struct plan_action *a;

    assert(plan_core_set_cost(pc, "h0", "h1", 2 * S, 1 * S) == 0);
    const struct edge ab[] = { { 0, 1, 20 * M } };
    set_edges(pc, 0, ab, 1);
    tick(pc, 0, &h, &acts);
    a = act_of(&acts, PLAN_KIND_DEFER, 0, 1);
    assert(a && strstr(a->reason, "< break-even 2.0 s (set-up 2.00 s, "
                                  "T_up 10.0 s)"));
    tick(pc, 2 * S - 1, &h, &acts);
    assert(acts.n_reserve == 0);
    tick(pc, 2 * S, &h, &acts);
    a = act_of(&acts, PLAN_KIND_RESERVE, 0, 1);
    assert(a && strstr(a->reason, ">= break-even 2.0 s"));

    /* Idle: released after (2 + 1) / 1 = 3 s, not T_down's 30. */
    set_edges(pc, 5 * S, NULL, 0);
    tick(pc, 5 * S, &h, &acts);
    tick(pc, 8 * S - 1, &h, &acts);
    assert(acts.n_release == 0 && held_has(&h, 0, 1));
    a = act_of(&acts, PLAN_KIND_DEFER, 0, 1);
    assert(a && strstr(a->reason, "< break-even 3.0 s"));
    tick(pc, 8 * S, &h, &acts);
    a = act_of(&acts, PLAN_KIND_RELEASE, 0, 1);
    assert(a && strstr(a->reason, "hold cost 1"));
    assert(!held_has(&h, 0, 1));

    /* Holding dearer: half the break-even.  A cheap path waits
     * wait_min; a dear one T_up and T_down at most. */
    p.hold_cost = 2;
    assert(plan_core_set_params(pc, &p) == 0);
    assert(plan_core_set_cost(pc, "h1", "h0", S / 20, 0) == 0);
    set_edges(pc, 20 * S, ab, 1);
    tick(pc, 20 * S, &h, &acts);
    tick(pc, 21 * S - 1, &h, &acts);
    assert(acts.n_reserve == 0);
    tick(pc, 21 * S, &h, &acts);        /* wait_min 1 s, not 50 ms */
    assert(act_of(&acts, PLAN_KIND_RESERVE, 0, 1));
    assert(plan_core_set_cost(pc, "h0", "h1", 60 * S, 4 * S) == 0);
    set_edges(pc, 22 * S, NULL, 0);
    tick(pc, 22 * S, &h, &acts);
    tick(pc, 52 * S - 1, &h, &acts);    /* (60 + 4) / 2 = 32 > 30 */
    assert(acts.n_release == 0);
    tick(pc, 52 * S, &h, &acts);
    assert(act_of(&acts, PLAN_KIND_RELEASE, 0, 1));

    /* The default cost for links without their own; forgetting. */
    assert(plan_core_set_cost(pc, NULL, NULL, 3 * S, 0) == 0);
    const struct edge cd[] = { { 2, 3, 20 * M } };
    set_edges(pc, 60 * S, cd, 1);
    tick(pc, 60 * S, &h, &acts);
    tick(pc, 63 * S, &h, &acts);
    assert(act_of(&acts, PLAN_KIND_RESERVE, 2, 3));
    assert(plan_core_set_cost(pc, NULL, NULL, 0, 0) == 0);
    assert(plan_core_set_cost(pc, "h0", "h1", 0, 0) == 0);
    set_edges(pc, 70 * S, ab, 1);
    tick(pc, 70 * S, &h, &acts);
    a = act_of(&acts, PLAN_KIND_DEFER, 0, 1);
    assert(a && strstr(a->reason, "< T_up 10.0 s"));

    /* Bad input. */
    assert(plan_core_set_cost(pc, "h0", "h0", S, 0) == -1);
    assert(plan_core_set_cost(pc, "h0", NULL, S, 0) == -1);
    assert(plan_core_set_cost(pc, "h0", "h1", 86401 * S, 0) == -1);
    assert(plan_core_set_cost(pc, "", "h1", S, 0) == -1);

    /* The cap: costs of links the core does not know make room. */
    for (int i = 0; i < PLAN_MAX_COSTS; i++) {
        char x[16], y[16];
        snprintf(x, sizeof x, "x%d", i);
        snprintf(y, sizeof y, "y%d", i);
        assert(plan_core_set_cost(pc, x, y, S, 0) == 0);
    }
    assert(plan_core_set_cost(pc, "h0", "h1", 5 * S, 0) == 0);
    tick(pc, 71 * S, &h, &acts);
    a = act_of(&acts, PLAN_KIND_DEFER, 0, 1);
    assert(a && strstr(a->reason, "break-even 5.0 s"));
    plan_core_destroy(&pc);
}

/* The cost rule's bound, on the core itself: for random set-up times S
 * and demand durations D, the time the demand spends off a path (until
 * its RESERVE plus S, or all of D) is at most twice a clairvoyant
 * planner's, min(D, S) (plus a tick); for random idle gaps G, what an idle
 * path costs (hold_cost per second held, or S + T to set it up again if
 * released before the demand returns) is at most twice min(hold_cost *
 * G, S + T) (plus a tick). */
static void
test_cost_bound(void)
{
    srand(7);
    const uint64_t dt = S / 10;
    for (int round = 0; round < 300; round++) {
        struct plan_params p;
        topo_params(&p);
        p.max_adds = 0;
        p.t_up_us = 3600 * S;           /* out of the way */
        p.t_down_us = 3600 * S;
        p.wait_min_us = 0;
        p.hold_cost = 0.25 + (rand() % 16) / 4.0;
        plan_core_t *pc = plan_core_new(&p);
        uint64_t setup = (uint64_t) (1 + rand() % 100) * dt;
        uint64_t tear = (uint64_t) (rand() % 20) * dt;
        uint64_t d = (uint64_t) (1 + rand() % 300) * dt;
        uint64_t g = (uint64_t) (1 + rand() % 600) * dt;
        assert(plan_core_set_cost(pc, "h0", "h1", setup, tear) == 0);
        struct held h = { .n = 0 };
        struct plan_actions acts;
        const struct edge ab[] = { { 0, 1, 20 * M } };

        /* Demand for d: when is it reserved? */
        set_edges(pc, 0, ab, 1);
        uint64_t reserved = UINT64_MAX, t = 0;
        for (; t < d; t += dt) {
            tick(pc, t, &h, &acts);
            if (acts.n_reserve) {
                reserved = t;
            }
        }
        double off = reserved == UINT64_MAX ? (double) d
                     : (double) (reserved + setup < d ? reserved + setup : d);
        double opt = (double) (d < setup ? d : setup);
        assert(off <= 2 * opt + (double) dt);
        if (reserved == UINT64_MAX) {
            plan_core_destroy(&pc);
            continue;
        }

        /* Idle for g, then back: released or not? */
        set_edges(pc, t, NULL, 0);
        uint64_t idle_from = t, released = UINT64_MAX;
        for (; t < idle_from + g; t += dt) {
            tick(pc, t, &h, &acts);
            if (acts.n_release) {
                released = t - idle_from;
            }
        }
        double rebuild = (double) (setup + tear);
        double cost = released == UINT64_MAX
                          ? p.hold_cost * (double) g
                          : p.hold_cost * (double) released + rebuild;
        double best = p.hold_cost * (double) g < rebuild
                          ? p.hold_cost * (double) g : rebuild;
        assert(cost <= 2 * best + p.hold_cost * (double) dt);
        plan_core_destroy(&pc);
    }
}

/* ---- incremental against from scratch ---- */

/* Two cores, one incremental and one from scratch, fed the same random
 * calls. */
struct twin {
    plan_core_t *inc, *ref;
    char ha[64][PLAN_HOST_LEN], hb[64][PLAN_HOST_LEN]; /* the held set */
    size_t n_held;
};

static void
twin_same_actions(const struct plan_actions *x, const struct plan_actions *y)
{
    assert(x->n == y->n && x->n_reserve == y->n_reserve
           && x->n_release == y->n_release && x->n_throttle == y->n_throttle
           && x->n_defer == y->n_defer);
    for (size_t i = 0; i < x->n; i++) {
        const struct plan_action *a = &x->v[i], *b = &y->v[i];
        assert(a->kind == b->kind);
        assert(!strcmp(a->host_a, b->host_a) && !strcmp(a->host_b, b->host_b));
        assert(a->demand_bps == b->demand_bps);
        assert(a->n_vm_pairs == b->n_vm_pairs && a->is_new == b->is_new);
        assert(!strcmp(a->reason, b->reason));
    }
}

static void
twin_same_state(struct twin *t)
{
    static struct plan_link_info li[512], lr[512];
    size_t ni = plan_core_links(t->inc, li, 512);
    size_t nr = plan_core_links(t->ref, lr, 512);
    assert(ni == nr && ni <= 512);
    for (size_t i = 0; i < ni; i++) {
        assert(!strcmp(li[i].host_a, lr[i].host_a));
        assert(!strcmp(li[i].host_b, lr[i].host_b));
        assert(li[i].demand_bps == lr[i].demand_bps);
        assert(li[i].n_vm_pairs == lr[i].n_vm_pairs);
        assert(li[i].in_e == lr[i].in_e && li[i].selected == lr[i].selected);
        assert(li[i].wanted == lr[i].wanted && li[i].seeded == lr[i].seeded);
        assert(li[i].since_us == lr[i].since_us);
        struct plan_vm_pair pi[64], pr[64];
        size_t qi = plan_core_link_pairs(t->inc, li[i].host_a, li[i].host_b,
                                         pi, 64);
        size_t qr = plan_core_link_pairs(t->ref, lr[i].host_a, lr[i].host_b,
                                         pr, 64);
        assert(qi == qr);
        for (size_t j = 0; j < qi && j < 64; j++) {
            assert(pi[j].a == pr[j].a && pi[j].b == pr[j].b
                   && pi[j].rate_bps == pr[j].rate_bps);
        }
    }
    struct plan_counters ci, cr;
    plan_core_get_counters(t->inc, &ci);
    plan_core_get_counters(t->ref, &cr);
    assert(!memcmp(&ci, &cr, sizeof ci));
}

/* A host name from a pool in which names sort otherwise than numbers. */
static const char *
rhost(int pool)
{
    static const char *names[] = { "b", "a7", "zz", "h10", "h2", "h1", "m",
                                   "c0", "x", "h11", "k", "e5", "d", "q" };
    return names[rand() % pool];
}

/* Rates in steps of 5 Mbit/s, so that ties happen. */
static double
rrate(void)
{
    return rand() % 4 == 0 ? 0 : 5 * M * (rand() % 7);
}

/* Random params; 'lim' holds the port limits they point to. */
static struct plan_params
rparams(struct plan_port_limit lim[2])
{
    struct plan_params p;
    plan_params_default(&p);
    p.policy = rand() % 2 ? PLAN_POLICY_B_MATCHING : PLAN_POLICY_TOP_K;
    p.k = (uint32_t) (p.policy == PLAN_POLICY_TOP_K ? 1 + rand() % 5
                                                    : rand() % 6);
    p.default_ports = (uint32_t) (rand() % 3);
    lim[0] = (struct plan_port_limit) { "h10", 3 };
    lim[1] = (struct plan_port_limit) { "a7", (uint32_t) (rand() % 2) };
    p.port_limits = lim;
    p.n_port_limits = (size_t) (rand() % 3);
    p.min_demand_bps = 5 * M * (rand() % 3);
    p.release_bps = p.min_demand_bps / 2;
    p.t_up_us = (uint64_t) (rand() % 4) * S;
    p.t_down_us = (uint64_t) (rand() % 4) * S;
    p.max_adds = (uint32_t) (rand() % 4);
    p.keep_bonus = (rand() % 3) * 0.5;
    p.live_max_age_us = (uint64_t) (rand() % 3) * 2 * S;
    return p;
}

static void
test_incremental(void)
{
    srand(18);
    enum { N_VMS = 40 };
    for (int round = 0; round < 200; round++) {
        struct plan_port_limit lim[2];
        struct plan_params p = rparams(lim);
        struct twin t = { plan_core_new(&p), plan_core_new(&p), .n_held = 0 };
        assert(t.inc && t.ref);
        plan_core_set_from_scratch(t.ref, true);
        int pool = 3 + rand() % 12;
        uint64_t now = S;
        for (int step = 0; step < 60; step++) {
            int what = rand() % 11;
            now += (uint64_t) (rand() % 2000) * 1000;
            uint64_t at = rand() % 20 ? now : now - S;  /* clock back */
            if (what == 0) {
                /* A topology: VMs on random hosts, some unknown or bad,
                 * random pairs, some repeated or within a host. */
                struct plan_vm_host vms[N_VMS];
                struct plan_vm_pair pairs[60];
                size_t nv = 0, np = (size_t) (rand() % 60);
                for (int v = 0; v < N_VMS; v++) {
                    if (rand() % 10) {
                        vms[nv++] = (struct plan_vm_host) {
                            MAC0 + 1 + (uint64_t) v,
                            rand() % 50 ? rhost(pool) : "" };
                    }
                }
                for (size_t i = 0; i < np; i++) {
                    pairs[i] = (struct plan_vm_pair) {
                        MAC0 + 1 + (uint64_t) (rand() % (N_VMS + 2)),
                        MAC0 + 1 + (uint64_t) (rand() % (N_VMS + 2)),
                        rrate() };
                }
                assert(plan_core_set_topology(t.inc, at, pairs, np, vms, nv)
                       == 0);
                assert(plan_core_set_topology(t.ref, at, pairs, np, vms, nv)
                       == 0);
            } else if (what <= 3) {
                /* Live rates: random directions of random pairs. */
                struct plan_vm_pair r[80];
                size_t n = (size_t) (rand() % 80);
                for (size_t i = 0; i < n; i++) {
                    r[i] = (struct plan_vm_pair) {
                        MAC0 + 1 + (uint64_t) (rand() % N_VMS),
                        MAC0 + 1 + (uint64_t) (rand() % N_VMS), rrate() };
                }
                assert(plan_core_set_live(t.inc, at, r, n) == 0);
                assert(plan_core_set_live(t.ref, at, r, n) == 0);
            } else if (what == 4) {
                const char *a = rhost(pool + 1 < 14 ? pool + 1 : 14);
                const char *b = rhost(pool);
                int ri;
                if (rand() % 2) {
                    ri = plan_core_seed(t.inc, a, b, at);
                    assert(ri == plan_core_seed(t.ref, a, b, at));
                } else {
                    uint64_t until = at + (uint64_t) (rand() % 60) * S;
                    ri = plan_core_keep(t.inc, a, b, at, until);
                    assert(ri == plan_core_keep(t.ref, a, b, at, until));
                }
            } else if (what == 10) {
                /* A reload: ports, thresholds, bonus, policy. */
                struct plan_port_limit lim2[2];
                struct plan_params q = rparams(lim2);
                assert(plan_core_set_params(t.inc, &q) == 0);
                assert(plan_core_set_params(t.ref, &q) == 0);
            } else if (what == 5) {
                const char *a = rhost(pool), *b = rhost(pool);
                uint64_t su = (uint64_t) (rand() % 3) * S / 2;
                uint64_t td = (uint64_t) (rand() % 3) * S / 2;
                int ri = plan_core_set_cost(t.inc, a, b, su, td);
                assert(ri == plan_core_set_cost(t.ref, a, b, su, td));
            } else {
                /* A tick with the held set, which the fake service then
                 * changes as told, sometimes failing a RESERVE or
                 * holding a link nobody asked for. */
                struct plan_link_key keys[64];
                for (size_t i = 0; i < t.n_held; i++) {
                    keys[i] = (struct plan_link_key) { t.ha[i], t.hb[i] };
                }
                struct plan_actions ai, ar;
                assert(plan_core_tick(t.inc, at, keys, t.n_held, &ai) == 0);
                assert(plan_core_tick(t.ref, at, keys, t.n_held, &ar) == 0);
                twin_same_actions(&ai, &ar);
                size_t u = 0;
                for (size_t i = 0; i < t.n_held; i++) {
                    bool gone = false;
                    for (size_t j = 0; j < ai.n; j++) {
                        gone |= ai.v[j].kind == PLAN_KIND_RELEASE
                                && !strcmp(ai.v[j].host_a, t.ha[i])
                                && !strcmp(ai.v[j].host_b, t.hb[i]);
                    }
                    if (!gone) {
                        memcpy(t.ha[u], t.ha[i], PLAN_HOST_LEN);
                        memcpy(t.hb[u], t.hb[i], PLAN_HOST_LEN);
                        u++;
                    }
                }
                t.n_held = u;
                for (size_t j = 0; j < ai.n && t.n_held < 63; j++) {
                    if (ai.v[j].kind == PLAN_KIND_RESERVE && rand() % 8) {
                        snprintf(t.ha[t.n_held], PLAN_HOST_LEN, "%s",
                                 ai.v[j].host_a);
                        snprintf(t.hb[t.n_held++], PLAN_HOST_LEN, "%s",
                                 ai.v[j].host_b);
                    }
                }
                if (rand() % 20 == 0 && t.n_held < 63) {
                    snprintf(t.ha[t.n_held], PLAN_HOST_LEN, "%s",
                             rhost(14));
                    snprintf(t.hb[t.n_held++], PLAN_HOST_LEN, "%s",
                             rhost(14));
                }
            }
            twin_same_state(&t);
        }
        plan_core_destroy(&t.inc);
        plan_core_destroy(&t.ref);
    }
}

int
main(void)
{
    test_empty();
    test_params();
    test_derive();
    test_top_k();
    test_b_matching_known();
    test_b_matching_random();
    test_b_matching_exact();
    test_diff();
    test_hysteresis();
    test_select_grace();
    test_keep_bonus();
    test_throttle();
    test_unreserve();
    test_seed();
    test_keep();
    test_port_handover();
    test_live();
    test_cost();
    test_cost_bound();
    test_incremental();
    printf("plan_core: ok\n");
    return 0;
}
