/* SPDX-License-Identifier: MIT */
/* vttif-aggregator/vttif_tm: synthetic agents on a fake clock publish
 * cumulative counters for BSP patterns (all-to-all, ring, 2-D torus,
 * binary tree, neighbour) with background chatter at 1-5% of a heavy edge
 * and TCP-ACK-like reverse traffic at 3%.  Checks: the exact edge set and
 * rates within 5% of truth at 8, 16 and 64 VMs, the first event within 2 s
 * at 100 ms periods, no oscillation when the pattern alternates every 1,
 * 3 or 10 s, aging of a silent agent, no spike on an agent restart, no
 * double counting of a pair two agents report, a lost message, a light
 * pattern published within 2.5 s of a heavy flow stopping, no flapping of
 * a ring sending in bursts, the caps on VMs and pairs (eviction of the
 * oldest or idle, refusal, aging), a counter that jumps implausibly.  Prints (does not assert) the cost per entry
 * and per tick at 1,000 VMs.
 * VTTIF_TM_VERBOSE=1 prints every event; VTTIF_TM_SEED=n draws other
 * traffic (the default data is fixed). */
#undef NDEBUG
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vttif_tm.h"

enum pattern { PAT_NONE, PAT_ALL, PAT_RING, PAT_TORUS, PAT_TREE, PAT_NEIGH,
               PAT_GROUPS };

static const char *const pat_name[] = {
    "none", "all-to-all", "ring", "torus", "tree", "neighbour", "groups",
};

enum { MAX_HOSTS = 128, GROUP = 10 };

static const double R = 20e6;       /* a heavy directed flow, bits/s */
static const uint64_t MAC0 = UINT64_C(0x020000000000);

struct flow {
    uint32_t src, dst;              /* VM indices */
    double chatter;                 /* its background, bits/s */
    double rate;                    /* nominal rate now, bits/s */
    double acc;                     /* bytes the agent has counted */
    double t_acc;                   /* sim time 'acc' is up to */
    uint64_t frames;
};

struct sim {
    size_t n, n_hosts;
    double period;
    struct flow *flows;
    size_t n_flows;
    int32_t *idx;                   /* n * n: flow of (src, dst), or -1 */
    uint32_t *host_flows[MAX_HOSTS];
    size_t n_host_flows[MAX_HOSTS];
    uint64_t boot[MAX_HOSTS];
    char id[MAX_HOSTS][16];
    struct vttif_tm_entry *buf;
    uint64_t rng;
    enum pattern pat;
    /* event log */
    size_t n_events;
    double first_event;
    enum vttif_tm_change last_change;
    bool saw_union;
    double t_last_event;
};

static uint64_t g_seed;             /* VTTIF_TM_SEED: to try other data */
static double g_worst;              /* worst relative rate error seen */

static double
rnd(struct sim *s)
{
    s->rng = s->rng * UINT64_C(6364136223846793005)
             + UINT64_C(1442695040888963407);
    return (double) (s->rng >> 11) / 9007199254740992.0;
}

static uint64_t
mac(size_t i)
{
    return MAC0 + 1 + i;
}

static size_t
host_of(const struct sim *s, size_t vm)
{
    return vm % s->n_hosts;
}

static void
torus_dims(size_t n, size_t *rows, size_t *cols)
{
    size_t r = 1;
    for (size_t d = 1; d * d <= n; d++) {
        if (n % d == 0) {
            r = d;
        }
    }
    *rows = r;
    *cols = n / r;
}

/* True if 'pat' sends heavy traffic from VM i to VM j. */
static bool
heavy(enum pattern pat, size_t n, size_t i, size_t j)
{
    if (i == j) {
        return false;
    }
    switch (pat) {
    case PAT_NONE:
        return false;
    case PAT_ALL:
        return true;
    case PAT_RING:
        return j == (i + 1) % n;
    case PAT_TORUS: {
        size_t r, c;
        torus_dims(n, &r, &c);
        size_t yi = i / c, xi = i % c, yj = j / c, xj = j % c;
        bool row = yi == yj && (xj == (xi + 1) % c || xi == (xj + 1) % c);
        bool col = xi == xj && (yj == (yi + 1) % r || yi == (yj + 1) % r);
        return row || col;
    }
    case PAT_TREE:
        return (i > 0 && j == (i - 1) / 2) || (j > 0 && i == (j - 1) / 2);
    case PAT_NEIGH:
        return j == i + 1 || i == j + 1;
    case PAT_GROUPS:
        return i / GROUP == j / GROUP;
    }
    return false;
}

static bool
is_edge(enum pattern pat, size_t n, size_t i, size_t j)
{
    return heavy(pat, n, i, j) || heavy(pat, n, j, i);
}

/* Background chatter is 1-5% of a heavy flow while the application runs;
 * without it (PAT_NONE) the VMs are idle: ARP, pings, 100 times less. */
static double
nominal(enum pattern pat, size_t n, const struct flow *f)
{
    double rate = pat == PAT_NONE ? f->chatter / 100 : f->chatter;
    if (heavy(pat, n, f->src, f->dst)) {
        rate += R;
    } else if (heavy(pat, n, f->dst, f->src)) {
        rate += 0.03 * R; /* ACKs of the reverse direction */
    }
    return rate;
}

static void
sim_add_flow(struct sim *s, size_t i, size_t j, double chatter)
{
    if (i == j || s->idx[i * s->n + j] >= 0) {
        return;
    }
    struct flow *f = &s->flows[s->n_flows];
    *f = (struct flow) { .src = (uint32_t) i, .dst = (uint32_t) j,
                         .chatter = chatter };
    s->idx[i * s->n + j] = (int32_t) s->n_flows++;
}

/* 'n' VMs over 'n_hosts' agents (VM i behind agent i % n_hosts).  Up to
 * 64 VMs every ordered pair chatters; above, each VM chatters with 5
 * random peers and the heavy pairs are those of PAT_GROUPS. */
static struct sim *
sim_new(size_t n, size_t n_hosts, double period, uint64_t seed)
{
    struct sim *s = calloc(1, sizeof *s);
    assert(s && n_hosts <= MAX_HOSTS);
    s->n = n;
    s->n_hosts = n_hosts;
    s->period = period;
    s->rng = seed + g_seed * 7919;
    s->first_event = -1;
    s->t_last_event = -1;
    size_t max_flows = n <= 64 ? n * n : n * (GROUP + 5);
    s->flows = calloc(max_flows, sizeof *s->flows);
    s->buf = calloc(max_flows, sizeof *s->buf);
    s->idx = malloc(n * n * sizeof *s->idx);
    assert(s->flows && s->buf && s->idx);
    memset(s->idx, 0xff, n * n * sizeof *s->idx);
    for (size_t i = 0; i < n; i++) {
        if (n <= 64) {
            for (size_t j = 0; j < n; j++) {
                sim_add_flow(s, i, j, R * (0.01 + 0.04 * rnd(s)));
            }
            continue;
        }
        for (size_t j = i / GROUP * GROUP; j < (i / GROUP + 1) * GROUP; j++) {
            sim_add_flow(s, i, j, R * (0.01 + 0.04 * rnd(s)));
        }
        for (int k = 0; k < 5; k++) {
            sim_add_flow(s, i, (size_t) (rnd(s) * (double) n),
                         R * (0.01 + 0.04 * rnd(s)));
        }
    }
    for (size_t h = 0; h < n_hosts; h++) {
        s->host_flows[h] = malloc(s->n_flows * sizeof(uint32_t));
        assert(s->host_flows[h]);
        s->boot[h] = 1000 + h;
        snprintf(s->id[h], sizeof s->id[h], "h%zu", h);
    }
    for (size_t k = 0; k < s->n_flows; k++) {
        size_t h = host_of(s, s->flows[k].src);
        s->host_flows[h][s->n_host_flows[h]++] = (uint32_t) k;
    }
    return s;
}

static void
sim_destroy(struct sim *s)
{
    for (size_t h = 0; h < s->n_hosts; h++) {
        free(s->host_flows[h]);
    }
    free(s->flows);
    free(s->buf);
    free(s->idx);
    free(s);
}

/* Counts flow 'f' up to 't' at its rate, each period's bytes +-10%. */
static void
flow_advance(struct sim *s, struct flow *f, double t)
{
    if (t > f->t_acc) {
        double b = f->rate * (t - f->t_acc) / 8 * (0.9 + 0.2 * rnd(s));
        f->acc += b;
        f->frames += (uint64_t) (b / 1200) + 1;
        f->t_acc = t;
    }
}

static void
sim_set_pattern(struct sim *s, enum pattern pat, double t)
{
    for (size_t k = 0; k < s->n_flows; k++) {
        struct flow *f = &s->flows[k];
        flow_advance(s, f, t);
        f->rate = nominal(pat, s->n, f);
    }
    s->pat = pat;
}

static void
sim_locate(struct sim *s, vttif_tm_t *tm)
{
    for (size_t i = 0; i < s->n; i++) {
        assert(!vttif_tm_feed_location(tm, mac(i), s->id[host_of(s, i)],
                                       false, 0));
    }
}

/* Agent 'h' publishes its cumulative counters at 't'.  Its clock is the
 * sim's plus an offset, so rates must come from its own clock. */
static double cpu_now(void);
static double g_feed_cpu;           /* CPU seconds spent in vttif_tm_feed */

static void
sim_publish_as(struct sim *s, vttif_tm_t *tm, size_t h, double t,
               const char *id, uint64_t boot, double scale)
{
    size_t n = 0;
    for (size_t k = 0; k < s->n_host_flows[h]; k++) {
        struct flow *f = &s->flows[s->host_flows[h][k]];
        flow_advance(s, f, t);
        if (f->acc >= 1) {
            s->buf[n++] = (struct vttif_tm_entry) {
                .src = mac(f->src), .dst = mac(f->dst),
                .bytes = (uint64_t) (f->acc * scale), .frames = f->frames,
            };
        }
    }
    struct vttif_tm_update u = {
        .agent_id = id, .boot_id = boot, .period_s = s->period,
        .time_s = 5000 + t + 0.001 * (double) h,
        .entries = s->buf, .n_entries = n,
    };
    double c = cpu_now();
    assert(vttif_tm_feed(tm, &u, t) == 0);
    g_feed_cpu += cpu_now() - c;
}

static void
sim_publish(struct sim *s, vttif_tm_t *tm, size_t h, double t)
{
    sim_publish_as(s, tm, h, t, s->id[h], s->boot[h], 1.0);
}

static void
sim_tick(struct sim *s, vttif_tm_t *tm, double t)
{
    struct vttif_tm_event ev;
    if (vttif_tm_tick(tm, t, &ev)) {
        s->n_events++;
        if (s->first_event < 0) {
            s->first_event = t;
        }
        s->last_change = ev.change;
        s->saw_union |= ev.change == VTTIF_TM_UNION;
        s->t_last_event = t;
        assert(ev.version == s->n_events);
        assert(strlen(ev.reason) > 10);
        if (getenv("VTTIF_TM_VERBOSE")) {
            printf("  t=%6.2f v%llu %s: %s\n", t,
                   (unsigned long long) ev.version,
                   vttif_tm_change_name(ev.change), ev.reason);
        }
    }
}

/* One period: agents publish staggered over it (skipping 'skip', or none
 * if it is MAX_HOSTS), then a tick at its end.  Returns the end time. */
static double
sim_period(struct sim *s, vttif_tm_t *tm, double t0, size_t skip)
{
    for (size_t h = 0; h < s->n_hosts; h++) {
        if (h != skip) {
            sim_publish(s, tm, h, t0 + s->period * (double) h
                                           / (double) s->n_hosts);
        }
    }
    double t1 = t0 + s->period;
    sim_tick(s, tm, t1);
    return t1;
}

static double
sim_run(struct sim *s, vttif_tm_t *tm, double t, double until)
{
    while (t < until - 1e-9) {
        t = sim_period(s, tm, t, MAX_HOSTS);
    }
    return t;
}

/* Truth: the nominal undirected rate of (i, j). */
static double
truth(const struct sim *s, size_t i, size_t j)
{
    double r = 0;
    int32_t a = s->idx[i * s->n + j], b = s->idx[j * s->n + i];
    r += a >= 0 ? s->flows[a].rate : 0;
    r += b >= 0 ? s->flows[b].rate : 0;
    return r;
}

static size_t
vm_of(uint64_t m)
{
    return (size_t) (m - MAC0 - 1);
}

/* The published topology is exactly the edges of 'a' (or of 'a' or 'b'),
 * each within 'tol' of its true rate when 'tol' > 0.  Returns the number
 * of edges. */
static size_t
check_topology(const struct sim *s, vttif_tm_t *tm, enum pattern a,
               enum pattern b, double tol)
{
    size_t n_exp = 0;
    for (size_t i = 0; i < s->n; i++) {
        for (size_t j = i + 1; j < s->n; j++) {
            n_exp += is_edge(a, s->n, i, j) || is_edge(b, s->n, i, j);
        }
    }
    size_t max = n_exp + 64;
    struct vttif_tm_edge *e = calloc(max, sizeof *e);
    assert(e);
    size_t n = vttif_tm_topology(tm, e, max, NULL);
    if (n != n_exp) {
        fprintf(stderr, "%s/%s n=%zu: %zu edges, expected %zu\n",
                pat_name[a], pat_name[b], s->n, n, n_exp);
    }
    assert(n == n_exp);
    for (size_t k = 0; k < n; k++) {
        size_t i = vm_of(e[k].a), j = vm_of(e[k].b);
        assert(i < j && j < s->n);
        assert(is_edge(a, s->n, i, j) || is_edge(b, s->n, i, j));
        assert(k == 0 || e[k - 1].a < e[k].a
               || (e[k - 1].a == e[k].a && e[k - 1].b < e[k].b));
        double want = truth(s, i, j);
        if (tol > 0 && fabs(e[k].rate_bps - want) / want > g_worst) {
            g_worst = fabs(e[k].rate_bps - want) / want;
        }
        if (tol > 0 && fabs(e[k].rate_bps - want) > tol * want) {
            fprintf(stderr, "edge %zu-%zu: %.3f Mbit/s, truth %.3f\n", i, j,
                    e[k].rate_bps / 1e6, want / 1e6);
            assert(!"rate within tolerance");
        }
        assert(fabs(e[k].rate_bps - e[k].rate_ab_bps - e[k].rate_ba_bps)
               < 1);
        assert(e[k].norm > 0 && e[k].norm <= 1 + 1e-9);
    }
    free(e);
    return n;
}

/* Largest undirected true rate and estimate (from the matrix). */
static void
max_rates(const struct sim *s, vttif_tm_t *tm, double *est, double *tru)
{
    size_t max = s->n_flows + 16;
    struct vttif_tm_rate *m = calloc(max, sizeof *m);
    assert(m);
    size_t n = vttif_tm_matrix(tm, m, max, NULL);
    assert(n <= max);
    double *u = calloc(s->n * s->n, sizeof *u);
    assert(u);
    *est = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = vm_of(m[k].src), j = vm_of(m[k].dst);
        size_t lo = i < j ? i : j, hi = i < j ? j : i;
        u[lo * s->n + hi] += m[k].rate_bps;
        *est = u[lo * s->n + hi] > *est ? u[lo * s->n + hi] : *est;
    }
    *tru = 0;
    for (size_t i = 0; i < s->n; i++) {
        for (size_t j = i + 1; j < s->n; j++) {
            double t = truth(s, i, j);
            *tru = t > *tru ? t : *tru;
        }
    }
    free(u);
    free(m);
}

static size_t
hosts_for(size_t n)
{
    return n <= 16 ? 4 : n / 4;
}

/* One pattern at 'n' VMs: chatter alone for 3 s, then the pattern from
 * t = 3 s for 6 s.  Exactly one event (NEW) within 2 s; exact edges. */
static void
test_pattern(enum pattern pat, size_t n)
{
    vttif_tm_t *tm = vttif_tm_new(NULL);
    assert(tm);
    struct sim *s = sim_new(n, hosts_for(n), 0.1, 42 + n + pat);
    sim_locate(s, tm);
    sim_set_pattern(s, PAT_NONE, 0);
    double t = sim_run(s, tm, 0, 3.0);
    assert(s->n_events == 0);       /* chatter is never a topology */
    sim_set_pattern(s, pat, t);
    t = sim_run(s, tm, t, 9.0);
    assert(s->n_events == 1 && s->last_change == VTTIF_TM_NEW);
    double first = s->first_event - 3.0;
    assert(first > 0 && first <= 2.0);
    size_t n_edges = check_topology(s, tm, pat, pat, 0.05);
    double est, tru;
    max_rates(s, tm, &est, &tru);
    assert(fabs(est - tru) <= 0.05 * tru);
    printf("  %-10s %3zu VMs: %4zu edges expected, %4zu found, "
           "first event %.1f s\n", pat_name[pat], n, n_edges, n_edges,
           first);
    sim_destroy(s);
    vttif_tm_destroy(&tm);
    assert(!tm);
}

/* Phases: ring and tree alternate every 'T' s for 'dur' s. */
static struct sim *
run_phases(vttif_tm_t *tm, double T, double dur)
{
    struct sim *s = sim_new(16, 4, 0.1, 7);
    sim_locate(s, tm);
    double t = 0;
    int k = 0;
    while (t < dur - 1e-9) {
        sim_set_pattern(s, k++ % 2 ? PAT_TREE : PAT_RING, t);
        size_t before = s->n_events;
        t = sim_run(s, tm, t, t + T);
        if (T >= 10) {
            /* One event per phase, and the phase's exact edges. */
            assert(s->n_events == before + 1);
            check_topology(s, tm, s->pat, s->pat, 0.05);
        }
    }
    return s;
}

static void
test_phases(void)
{
    vttif_tm_t *tm = vttif_tm_new(NULL);
    struct sim *s = run_phases(tm, 10, 40);
    assert(s->n_events == 4 && !s->saw_union);
    printf("  phases every 10 s, 40 s: %zu events (1 per phase)\n",
           s->n_events);
    sim_destroy(s);
    vttif_tm_destroy(&tm);

    /* Every 1 s: the 2 s window already blends the two patterns, so the
     * set settles on their union after a few events, then stays. */
    tm = vttif_tm_new(NULL);
    s = run_phases(tm, 1, 30);
    assert(s->n_events >= 1 && s->n_events <= 3);
    assert(s->t_last_event < 10);
    check_topology(s, tm, PAT_RING, PAT_TREE, 0);
    printf("  phases every 1 s, 30 s: %zu events, last at %.1f s, "
           "union held\n", s->n_events, s->t_last_event);
    sim_destroy(s);
    vttif_tm_destroy(&tm);

    /* Every 3 s (below settle_s): each pattern is seen alone, edges flip
     * back, and the union rule holds both instead of oscillating. */
    tm = vttif_tm_new(NULL);
    s = run_phases(tm, 3, 45);
    assert(s->n_events >= 1 && s->n_events <= 3 && s->saw_union);
    assert(s->t_last_event < 15);
    check_topology(s, tm, PAT_RING, PAT_TREE, 0);
    printf("  phases every 3 s, 45 s: %zu events, last at %.1f s, "
           "union held\n", s->n_events, s->t_last_event);
    /* Then the traffic stays on one pattern: after settle_s the union
     * shrinks to it, with one event. */
    size_t before = s->n_events;
    double t = 45;
    sim_set_pattern(s, PAT_TREE, t);
    t = sim_run(s, tm, t, t + 15);
    assert(s->n_events == before + 1 && s->last_change == VTTIF_TM_UPDATED);
    check_topology(s, tm, PAT_TREE, PAT_TREE, 0.05);
    /* And when it stops, CLEARED. */
    sim_set_pattern(s, PAT_NONE, t);
    t = sim_run(s, tm, t, t + 8);
    assert(s->n_events == before + 2 && s->last_change == VTTIF_TM_CLEARED);
    assert(vttif_tm_topology(tm, NULL, 0, NULL) == 0);
    sim_destroy(s);
    vttif_tm_destroy(&tm);
}

/* A silent agent ages out with all its pairs; its edges leave. */
static void
test_aging(void)
{
    vttif_tm_t *tm = vttif_tm_new(NULL);
    struct sim *s = sim_new(16, 4, 0.1, 11);
    sim_locate(s, tm);
    sim_set_pattern(s, PAT_RING, 0);
    double t = sim_run(s, tm, 0, 5);
    assert(s->n_events == 1);
    struct vttif_tm_agent_info ag[8];
    assert(vttif_tm_agents(tm, ag, 8) == 4);
    /* Agent h1 goes silent: still there before 3 s, gone after. */
    while (t < 7.85) {
        t = sim_period(s, tm, t, 1);
    }
    assert(vttif_tm_agents(tm, ag, 8) == 4);
    while (t < 12) {
        t = sim_period(s, tm, t, 1);
    }
    size_t n_ag = vttif_tm_agents(tm, ag, 8);
    assert(n_ag == 3);
    for (size_t i = 0; i < n_ag; i++) {
        assert(strcmp(ag[i].id, "h1") && ag[i].n_updates > 0);
        assert(ag[i].last_seen > 11.5 && ag[i].period_s == 0.1);
    }
    struct vttif_tm_counters c;
    vttif_tm_get_counters(tm, &c);
    assert(c.agents_aged == 1 && c.n_agents == 3);
    /* Nothing of h1 is left in the matrix: VMs 1, 5, 9, 13 send nothing. */
    struct vttif_tm_rate m[512];
    size_t n = vttif_tm_matrix(tm, m, 512, NULL);
    assert(n <= 512);
    for (size_t k = 0; k < n; k++) {
        assert(host_of(s, vm_of(m[k].src)) != 1);
    }
    /* Its ring edges (i -> i+1 for i on h1) are gone, in one event. */
    assert(s->n_events == 2 && s->last_change == VTTIF_TM_UPDATED);
    struct vttif_tm_edge e[32];
    uint64_t version;
    size_t ne = vttif_tm_topology(tm, e, 32, &version);
    assert(ne == 12 && version == 2);
    for (size_t k = 0; k < ne; k++) {
        size_t i = vm_of(e[k].a), j = vm_of(e[k].b);
        size_t from = j == (i + 1) % 16 ? i : j;
        assert(host_of(s, from) != 1);
    }
    /* Per-VM totals: the location is gone with the agent, but h1's VMs
     * still receive. */
    struct vttif_tm_vm_total vt[32];
    assert(vttif_tm_vm_totals(tm, vt, 32) == 16);
    for (size_t k = 0; k < 16; k++) {
        size_t i = vm_of(vt[k].mac);
        if (host_of(s, i) == 1) {
            assert(vt[k].tx_bps == 0 && vt[k].rx_bps > 0.9 * R);
        } else {
            assert(!strcmp(vt[k].agent_id, s->id[host_of(s, i)]));
            assert(vt[k].tx_bps > 0.9 * R);
        }
    }
    sim_destroy(s);
    vttif_tm_destroy(&tm);
}

/* Restart: new boot id, counters from 0, a 0.5 s gap, and (another
 * agent) a counter reset under the same boot id.  No spike, no event. */
static void
test_restart(void)
{
    vttif_tm_t *tm = vttif_tm_new(NULL);
    struct sim *s = sim_new(16, 4, 0.1, 13);
    sim_locate(s, tm);
    sim_set_pattern(s, PAT_TORUS, 0);
    double t = sim_run(s, tm, 0, 5);
    assert(s->n_events == 1);
    double est, tru;
    max_rates(s, tm, &est, &tru);
    assert(fabs(est - tru) <= 0.05 * tru);
    /* h2 restarts: silent 0.5 s, then counts from 0 with a new boot id;
     * h3's counters drop to 0 with the same boot id. */
    for (size_t k = 0; k < s->n_host_flows[2]; k++) {
        struct flow *f = &s->flows[s->host_flows[2][k]];
        flow_advance(s, f, t);
        f->acc = 0;
        f->frames = 0;
    }
    s->boot[2] = 99;
    double restart_end = t + 0.5;
    while (t < restart_end) {
        t = sim_period(s, tm, t, 2);
    }
    for (size_t k = 0; k < s->n_host_flows[2]; k++) {
        s->flows[s->host_flows[2][k]].t_acc = t; /* lost while down */
    }
    for (size_t k = 0; k < s->n_host_flows[3]; k++) {
        struct flow *f = &s->flows[s->host_flows[3][k]];
        flow_advance(s, f, t);
        f->acc = 0;
        f->frames = 0;
    }
    double worst = 0;
    for (double end = t + 4; t < end;) {
        t = sim_period(s, tm, t, MAX_HOSTS);
        max_rates(s, tm, &est, &tru);
        worst = fabs(est - tru) / tru > worst ? fabs(est - tru) / tru : worst;
    }
    assert(worst <= 0.05);
    assert(s->n_events == 1);
    check_topology(s, tm, PAT_TORUS, PAT_TORUS, 0.05);
    struct vttif_tm_counters c;
    vttif_tm_get_counters(tm, &c);
    assert(c.resets_boot == 1 && c.resets_counter >= 4);
    printf("  restart: max rate within %.1f%% of truth throughout\n",
           100 * worst);
    sim_destroy(s);
    vttif_tm_destroy(&tm);
}

/* Two agents report the same pairs: a proxy relays h0's VMs' traffic and
 * counts it too.  With locations, h0's report wins; without, the larger;
 * never the sum. */
static void
test_dedupe(void)
{
    for (int located = 0; located < 2; located++) {
        vttif_tm_t *tm = vttif_tm_new(NULL);
        struct sim *s = sim_new(16, 4, 0.1, 17);
        if (located) {
            sim_locate(s, tm);
        }
        sim_set_pattern(s, PAT_NEIGH, 0);
        double t = 0;
        while (t < 5) {
            /* The proxy publishes h0's counters as its own, a little off:
             * 110% where the location rule must pick h0 anyway, 90%
             * where the highest-rate rule does. */
            t = sim_period(s, tm, t, MAX_HOSTS);
            sim_publish_as(s, tm, 0, t, "proxy", 7, located ? 1.1 : 0.9);
        }
        struct vttif_tm_counters c;
        vttif_tm_get_counters(tm, &c);
        assert(c.n_pairs_multi > 0 && c.n_agents == 5);
        check_topology(s, tm, PAT_NEIGH, PAT_NEIGH, 0.05);
        double est, tru;
        max_rates(s, tm, &est, &tru);
        assert(fabs(est - tru) <= 0.05 * tru);
        struct vttif_tm_vm_total vt[32];
        assert(vttif_tm_vm_totals(tm, vt, 32) == 16);
        for (size_t k = 0; k < 16; k++) {
            size_t i = vm_of(vt[k].mac);
            double tx = 0;
            for (size_t j = 0; j < 16; j++) {
                int32_t f = s->idx[i * 16 + j];
                tx += f >= 0 ? s->flows[f].rate : 0;
            }
            assert(fabs(vt[k].tx_bps - tx) <= 0.05 * tx);
            if (host_of(s, i) == 0 && !located) {
                /* Either reporter may be named without a location. */
                assert(!strcmp(vt[k].agent_id, "h0")
                       || !strcmp(vt[k].agent_id, "proxy"));
            } else if (located) {
                assert(!strcmp(vt[k].agent_id, s->id[host_of(s, i)]));
            }
        }
        sim_destroy(s);
        vttif_tm_destroy(&tm);
    }
    printf("  dedupe: a pair reported by two agents counts once\n");
}

/* Lost messages (one, then three in a row) and duplicated or reordered
 * ones: rates stay within 5%. */
static void
test_lost_and_stale(void)
{
    vttif_tm_t *tm = vttif_tm_new(NULL);
    struct sim *s = sim_new(8, 4, 0.1, 19);
    sim_locate(s, tm);
    sim_set_pattern(s, PAT_ALL, 0);
    double t = sim_run(s, tm, 0, 4);
    double worst = 0, est, tru;
    for (int k = 0; k < 40; k++) {
        size_t skip = (k == 5 || (k >= 20 && k < 23)) ? 1 : MAX_HOSTS;
        t = sim_period(s, tm, t, skip);
        max_rates(s, tm, &est, &tru);
        worst = fabs(est - tru) / tru > worst ? fabs(est - tru) / tru : worst;
        check_topology(s, tm, PAT_ALL, PAT_ALL, 0.05);
    }
    assert(worst <= 0.05);
    struct vttif_tm_counters c;
    vttif_tm_get_counters(tm, &c);
    assert(c.gaps == 2 && c.stale == 0);

    /* A duplicate and an older message are ignored. */
    struct vttif_tm_entry e = { .src = mac(0), .dst = mac(1),
                                .bytes = 1, .frames = 1 };
    struct vttif_tm_update u = { .agent_id = "h0", .boot_id = s->boot[0],
                                 .period_s = 0.1, .time_s = 5000 + t - 0.2,
                                 .entries = &e, .n_entries = 1 };
    assert(vttif_tm_feed(tm, &u, t) == -1);
    vttif_tm_get_counters(tm, &c);
    assert(c.stale == 1 && c.resets_counter == 0);
    t = sim_period(s, tm, t, MAX_HOSTS);
    max_rates(s, tm, &est, &tru);
    assert(fabs(est - tru) <= 0.05 * tru);

    /* Bad input is rejected or skipped, not trusted. */
    u.agent_id = "";
    assert(vttif_tm_feed(tm, &u, t) == -1);
    struct vttif_tm_entry bad[3] = {
        { .src = mac(0), .dst = mac(0), .bytes = 5 },
        { .src = 0, .dst = mac(1), .bytes = 5 },
        { .src = mac(0), .dst = UINT64_C(0xffffffffffff), .bytes = 5 },
    };
    u = (struct vttif_tm_update) { .agent_id = "odd", .boot_id = 1,
                                   .entries = bad, .n_entries = 3 };
    assert(vttif_tm_feed(tm, &u, t) == 0);
    vttif_tm_get_counters(tm, &c);
    assert(c.rejected == 1 && c.entries_skipped == 3);
    assert(vttif_tm_feed_location(tm, 0, "h0", false, t) == -1);
    printf("  lost messages: max rate within %.1f%% of truth\n",
           100 * worst);
    sim_destroy(s);
    vttif_tm_destroy(&tm);
}

/* Sets flow i -> j to its chatter plus 'extra' bits/s from 't' on. */
static void
sim_set_flow(struct sim *s, size_t i, size_t j, double extra, double t)
{
    struct flow *f = &s->flows[s->idx[i * s->n + j]];
    flow_advance(s, f, t);
    f->rate = f->chatter + extra;
}

/* True if the published topology holds the edge between VMs i and j. */
static bool
published(vttif_tm_t *tm, size_t i, size_t j)
{
    struct vttif_tm_edge e[64];
    size_t n = vttif_tm_topology(tm, e, 64, NULL);
    assert(n <= 64);
    for (size_t k = 0; k < n; k++) {
        if ((vm_of(e[k].a) == i && vm_of(e[k].b) == j)
            || (vm_of(e[k].a) == j && vm_of(e[k].b) == i)) {
            return true;
        }
    }
    return false;
}

/* iperf3 between VMs 0 and 1 at 1 Gbit/s (ACKs at 3% back) for 10 s;
 * as it stops, an all-to-all starts among VMs 2-5 at 80 Mbit/s per pair,
 * a tenth of it.  Returns how long after the switch the six light edges
 * were all published (they then stay) and, in '*heavy_out', the heavy
 * edge gone; checks that the switch took at most 'max_events' events and
 * ends on the six light edges. */
static double
run_heavy_then_light(const struct vttif_tm_params *p, double *heavy_out,
                     size_t max_events)
{
    vttif_tm_t *tm = vttif_tm_new(p);
    assert(tm);
    struct sim *s = sim_new(8, 4, 0.1, 29);
    sim_locate(s, tm);
    for (size_t k = 0; k < s->n_flows; k++) {
        s->flows[k].rate = s->flows[k].chatter;
    }
    sim_set_flow(s, 0, 1, 1e9, 0);
    sim_set_flow(s, 1, 0, 30e6, 0);
    double t = sim_run(s, tm, 0, 10);
    assert(s->n_events == 1 && published(tm, 0, 1));
    assert(vttif_tm_topology(tm, NULL, 0, NULL) == 1);

    const double start = t;
    sim_set_flow(s, 0, 1, 0, t);
    sim_set_flow(s, 1, 0, 0, t);
    for (size_t i = 2; i < 6; i++) {
        for (size_t j = 2; j < 6; j++) {
            if (i != j) {
                sim_set_flow(s, i, j, 40e6, t);
            }
        }
    }
    double light_in = -1;
    *heavy_out = -1;
    while (t < start + 15) {
        t = sim_period(s, tm, t, MAX_HOSTS);
        size_t n_light = 0;
        for (size_t i = 2; i < 6; i++) {
            for (size_t j = i + 1; j < 6; j++) {
                n_light += published(tm, i, j);
            }
        }
        if (light_in < 0 && n_light == 6) {
            light_in = t - start;
        }
        assert(light_in < 0 || n_light == 6);
        if (*heavy_out < 0 && !published(tm, 0, 1)) {
            *heavy_out = t - start;
        }
        assert(*heavy_out < 0 || !published(tm, 0, 1));
    }
    assert(light_in > 0 && *heavy_out > 0);
    assert(s->n_events - 1 <= max_events);
    assert(vttif_tm_topology(tm, NULL, 0, NULL) == 6);
    sim_destroy(s);
    vttif_tm_destroy(&tm);
    return light_in;
}

/* The finished pair must stop setting the scale at once: the light edges
 * are published within 2.5 s of their start, in one event that also
 * removes the heavy edge.  With idle_s 0 (smoothed rates only) they wait
 * for the heavy pair's rate to drain; printed for comparison. */
static void
test_heavy_then_light(void)
{
    double heavy_out, heavy_out0;
    double light_in = run_heavy_then_light(NULL, &heavy_out, 1);
    struct vttif_tm_params p;
    vttif_tm_params_default(&p);
    p.idle_s = 0;
    double light_in0 = run_heavy_then_light(&p, &heavy_out0, 2);
    printf("  heavy then light: light edges in after %.1f s, heavy edge out "
           "after %.1f s (idle_s 0: %.1f s, %.1f s)\n", light_in, heavy_out,
           light_in0, heavy_out0);
    assert(light_in <= 2.5);
    assert(heavy_out <= light_in);
}

/* A ring whose heavy flows send in bursts: on for 'on_ms' of every
 * 'cycle_ms' (the rest is the BSP's compute), all in step or, with
 * 'skew', odd senders half a cycle late; chatter goes on throughout.
 * Agents publish every 100 ms as elsewhere, on a 1 ms clock.  The ring is
 * published once and nothing flips after: no edge leaves or comes back,
 * no chatter edge enters while the ring pauses. */
static void
run_bursts(long on_ms, long cycle_ms, bool skew)
{
    vttif_tm_t *tm = vttif_tm_new(NULL);
    struct sim *s = sim_new(16, 4, 0.1, 31);
    sim_locate(s, tm);
    const long period_ms = 100, end_ms = 20000;
    bool was_on[2] = { false, false };
    for (long ms = 0; ms <= end_ms; ms++) {
        double t = (double) ms / 1000;
        if (ms > 0 && ms % period_ms == 0) {
            sim_tick(s, tm, t);
        }
        for (int g = 0; g < 2; g++) {
            long phase = skew && g ? cycle_ms / 2 : 0;
            bool on = (ms + cycle_ms - phase) % cycle_ms < on_ms;
            if (ms > 0 && on == was_on[g]) {
                continue;
            }
            was_on[g] = on;
            for (size_t k = 0; k < s->n_flows; k++) {
                struct flow *f = &s->flows[k];
                size_t sender = heavy(PAT_RING, s->n, f->src, f->dst)
                                    ? f->src
                                    : f->dst;
                if (sender % 2 == (size_t) g) {
                    flow_advance(s, f, t);
                    f->rate = on ? nominal(PAT_RING, s->n, f) : f->chatter;
                }
            }
        }
        for (size_t h = 0; h < s->n_hosts; h++) {
            if (ms % period_ms == (long) h * period_ms / (long) s->n_hosts) {
                sim_publish(s, tm, h, t);
            }
        }
    }
    struct vttif_tm_counters c;
    vttif_tm_get_counters(tm, &c);
    printf("  bursts %4ld of %4ld ms%s: %zu event at %.1f s, %llu flips\n",
           on_ms, cycle_ms, skew ? ", skewed" : "", s->n_events,
           s->first_event, (unsigned long long) c.flips);
    assert(s->n_events == 1 && s->last_change == VTTIF_TM_NEW);
    assert(s->first_event <= 2.0);
    assert(c.flips == 16);          /* each ring edge entered, once */
    check_topology(s, tm, PAT_RING, PAT_RING, 0);
    sim_destroy(s);
    vttif_tm_destroy(&tm);
}

static void
test_bursts(void)
{
    run_bursts(60, 100, false);
    run_bursts(60, 100, true);
    run_bursts(500, 1000, false);
    run_bursts(500, 1000, true);
}

/* One agent, one pair, by hand: an agent that restarts and no longer
 * lists the pair lets it decay (not freeze); a clock set back far is a
 * new baseline, not a stale agent; a pair it stops listing is forgotten
 * after pair_timeout_s. */
static void
test_by_hand(void)
{
    vttif_tm_t *tm = vttif_tm_new(NULL);
    struct vttif_tm_entry e[2] = {
        { .src = mac(0), .dst = mac(1) },
        { .src = mac(0), .dst = mac(2) },
    };
    struct vttif_tm_update u = { .agent_id = "a", .boot_id = 1,
                                 .period_s = 0.1, .entries = e,
                                 .n_entries = 2 };
    struct vttif_tm_event ev;
    struct vttif_tm_rate m[4];
    double t = 10, clock = 1e9; /* the agent's clock: wall-clock like */
    for (; t < 14; t += 0.1, clock += 0.1) {
        e[0].bytes += 1250000;      /* 100 Mbit/s */
        e[0].frames += 1000;
        e[1].bytes += 125000;       /* 10 Mbit/s */
        e[1].frames += 100;
        u.time_s = clock;
        assert(vttif_tm_feed(tm, &u, t) == 0);
        vttif_tm_tick(tm, t, &ev);
    }
    assert(vttif_tm_matrix(tm, m, 4, NULL) == 2);
    assert(fabs(m[0].rate_bps + m[1].rate_bps - 110e6) < 1e5);

    /* The clock is set back an hour: a new baseline, rates carry on. */
    clock -= 3600;
    for (double end = t + 1; t < end; t += 0.1, clock += 0.1) {
        e[0].bytes += 1250000;
        e[1].bytes += 125000;
        u.time_s = clock;
        assert(vttif_tm_feed(tm, &u, t) == 0);
        vttif_tm_tick(tm, t, &ev);
        assert(vttif_tm_matrix(tm, m, 4, NULL) == 2);
        assert(fabs(m[0].rate_bps + m[1].rate_bps - 110e6) < 2e6);
    }
    struct vttif_tm_counters c;
    vttif_tm_get_counters(tm, &c);
    assert(c.clock_jumps == 1 && c.stale == 0 && c.resets_counter == 0);

    /* Restart: counters from 0, only the first pair is listed again. */
    u.boot_id = 2;
    u.n_entries = 1;
    e[0].bytes = e[0].frames = 0;
    for (double end = t + 3; t < end; t += 0.1, clock += 0.1) {
        e[0].bytes += 1250000;
        e[0].frames += 1000;
        u.time_s = clock;
        assert(vttif_tm_feed(tm, &u, t) == 0);
        vttif_tm_tick(tm, t, &ev);
    }
    size_t n = vttif_tm_matrix(tm, m, 4, NULL);
    for (size_t k = 0; k < n; k++) {
        if (m[k].dst == mac(1)) {
            assert(fabs(m[k].rate_bps - 100e6) < 2e6);
        } else {
            assert(m[k].rate_bps < 0.5e6); /* decayed, not frozen */
        }
    }
    vttif_tm_get_counters(tm, &c);
    assert(c.resets_boot == 1 && c.resets_counter == 0);
    assert(c.n_reports == 2);
    for (double end = t + VTTIF_TM_DEFAULT_PAIR_TIMEOUT_S; t < end;
         t += 0.1, clock += 0.1) {
        u.time_s = clock;
        assert(vttif_tm_feed(tm, &u, t) == 0);
        vttif_tm_tick(tm, t, &ev);
    }
    vttif_tm_get_counters(tm, &c);
    assert(c.n_reports == 1 && c.reports_aged == 1);
    vttif_tm_destroy(&tm);
}

/* The matrix's current rate: the smoothed one while traffic flows; about
 * 0 within idle_s of its stop, while the smoothed rate still drains (what
 * the planner reserves by). */
static void
test_current(void)
{
    vttif_tm_t *tm = vttif_tm_new(NULL);
    struct vttif_tm_entry e = { .src = mac(0), .dst = mac(1) };
    struct vttif_tm_update u = { .agent_id = "a", .boot_id = 1,
                                 .period_s = 0.1, .entries = &e,
                                 .n_entries = 1 };
    struct vttif_tm_event ev;
    struct vttif_tm_rate m[2];
    double t = 10, idle = vttif_tm_get_params(tm)->idle_s;
    assert(idle > 0);
    for (; t < 14; t += 0.1) {
        e.bytes += 1250000;         /* 100 Mbit/s */
        u.time_s = t;
        assert(vttif_tm_feed(tm, &u, t) == 0);
        vttif_tm_tick(tm, t, &ev);
    }
    assert(vttif_tm_matrix(tm, m, 2, NULL) == 1);
    assert(fabs(m[0].rate_bps - 100e6) < 2e6);
    assert(m[0].current_bps == m[0].rate_bps);
    for (double end = t + idle + 0.25; t < end; t += 0.1) {
        u.time_s = t;               /* listed, no bytes: stopped */
        assert(vttif_tm_feed(tm, &u, t) == 0);
        vttif_tm_tick(tm, t, &ev);
    }
    assert(vttif_tm_matrix(tm, m, 2, NULL) == 1);
    assert(m[0].rate_bps > 10e6);   /* still draining */
    assert(m[0].current_bps < 1e6);
    vttif_tm_destroy(&tm);
}

static void
test_params(void)
{
    struct vttif_tm_params p;
    vttif_tm_params_default(&p);
    char err[128];
    assert(vttif_tm_params_check(&p, err, sizeof err));
    p.drop_frac = 0.3;
    assert(!vttif_tm_params_check(&p, err, sizeof err));
    assert(strstr(err, "drop_frac") && strstr(err, "'0.3'"));
    assert(!vttif_tm_new(&p));
    vttif_tm_params_default(&p);
    p.window_s = NAN;
    assert(!vttif_tm_params_check(&p, err, sizeof err));
    assert(strstr(err, "window_s"));
    vttif_tm_params_default(&p);
    p.settle_changes = 0;
    assert(!vttif_tm_params_check(&p, NULL, 0));

    vttif_tm_t *tm = vttif_tm_new(NULL);
    vttif_tm_params_default(&p);
    p.window_s = 1;
    assert(vttif_tm_set_params(tm, &p) == 0);
    assert(vttif_tm_get_params(tm)->window_s == 1);
    p.add_frac = 0;
    assert(vttif_tm_set_params(tm, &p) == -1);
    assert(vttif_tm_get_params(tm)->add_frac == VTTIF_TM_DEFAULT_ADD_FRAC);
    vttif_tm_destroy(&tm);
    vttif_tm_destroy(&tm);
}

/* idle_s: in [0, window_s]; a reload takes a new span. */
static void
test_params_idle(void)
{
    struct vttif_tm_params p;
    vttif_tm_params_default(&p);
    char err[128];
    p.idle_s = 0;
    assert(vttif_tm_params_check(&p, err, sizeof err));
    p.idle_s = p.window_s + 0.5;
    assert(!vttif_tm_params_check(&p, err, sizeof err));
    assert(strstr(err, "idle_s") && strstr(err, "'2.5'"));
    p.idle_s = -0.1;
    assert(!vttif_tm_params_check(&p, err, sizeof err));
    assert(strstr(err, "idle_s"));

    vttif_tm_t *tm = vttif_tm_new(NULL);
    vttif_tm_params_default(&p);
    p.idle_s = 1;
    assert(vttif_tm_set_params(tm, &p) == 0);
    assert(vttif_tm_get_params(tm)->idle_s == 1);
    p.window_s = 0.5;
    assert(vttif_tm_set_params(tm, &p) == -1);
    assert(vttif_tm_get_params(tm)->window_s == VTTIF_TM_DEFAULT_WINDOW_S);
    vttif_tm_destroy(&tm);
}

static double
cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* 1,000 VMs behind 100 agents at 100 ms: all-to-all within groups of 10
 * plus chatter.  Prints the cost; checks the edges. */
static void
test_scale(void)
{
    vttif_tm_t *tm = vttif_tm_new(NULL);
    struct sim *s = sim_new(1000, 100, 0.1, 23);
    sim_locate(s, tm);
    sim_set_pattern(s, PAT_GROUPS, 0);
    double t = 0, tick = 0;
    uint64_t n_ticks = 0;
    struct vttif_tm_counters c0;
    for (int k = 0; k < 40; k++) {
        if (k == 10) {
            vttif_tm_get_counters(tm, &c0);
            g_feed_cpu = tick = 0;
            n_ticks = 0;
        }
        for (size_t h = 0; h < s->n_hosts; h++) {
            sim_publish(s, tm, h, t + 0.001 * (double) h);
        }
        t += s->period;
        double c = cpu_now();
        sim_tick(s, tm, t);
        tick += cpu_now() - c;
        n_ticks++;
    }
    struct vttif_tm_counters c1;
    vttif_tm_get_counters(tm, &c1);
    uint64_t entries = c1.entries - c0.entries;
    double ns_entry = g_feed_cpu * 1e9 / (double) entries;
    double ns_tick = tick * 1e9 / (double) n_ticks;
    double per_s = (double) entries / (30 * s->period);
    printf("  1000 VMs / 100 agents: %llu reports, %llu pairs, "
           "%.0f entries/s; %.0f ns per entry, "
           "%.0f us per tick; about %.1f%% of a core at 10 ticks/s\n",
           (unsigned long long) c1.n_reports,
           (unsigned long long) c1.n_pairs, per_s, ns_entry,
           ns_tick / 1e3, (per_s * ns_entry + 10 * ns_tick) / 1e7);
    assert(s->n_events == 1);
    check_topology(s, tm, PAT_GROUPS, PAT_GROUPS, 0.05);
    sim_destroy(s);
    vttif_tm_destroy(&tm);
}

/* VM cap: a new VM evicts the least recently located one no pair names;
 * with every VM in a pair, a new one is refused; locations not renewed
 * age out.  All counted. */
static void
test_caps_vms(void)
{
    struct vttif_tm_params p;
    vttif_tm_params_default(&p);
    p.max_vms = 16;
    p.vm_timeout_s = 10;
    vttif_tm_t *tm = vttif_tm_new(&p);
    struct vttif_tm_counters c;
    double t = 1;
    for (size_t i = 0; i < 16; i++, t += 0.01) {
        assert(vttif_tm_feed_location(tm, mac(i), "a", false, t) == 0);
    }
    /* Renewing VM 0 makes VM 1 the oldest. */
    assert(vttif_tm_feed_location(tm, mac(0), "a", false, t) == 0);
    assert(vttif_tm_feed_location(tm, mac(100), "a", false, t) == 0);
    vttif_tm_get_counters(tm, &c);
    assert(c.n_vms == 16 && c.vms_evicted == 1 && c.vms_refused == 0);
    struct vttif_tm_vm_total tot[32];
    size_t n = vttif_tm_vm_totals(tm, tot, 32);
    assert(n == 16);
    for (size_t i = 0; i < n; i++) {
        assert(tot[i].mac != mac(1));
    }

    /* Pairs name all 16 VMs: a new location has nowhere to go. */
    struct vttif_tm_entry e[8];
    uint64_t vm[16];
    for (size_t i = 0; i < n; i++) {
        vm[i] = tot[i].mac;
    }
    for (size_t i = 0; i < 8; i++) {
        e[i] = (struct vttif_tm_entry) { .src = vm[2 * i],
                                         .dst = vm[2 * i + 1],
                                         .bytes = 1000, .frames = 1 };
    }
    struct vttif_tm_update u = { .agent_id = "a", .boot_id = 1,
                                 .period_s = 0.1, .entries = e,
                                 .n_entries = 8 };
    assert(vttif_tm_feed(tm, &u, t) == 0);
    assert(vttif_tm_feed_location(tm, mac(200), "a", false, t) == -1);
    vttif_tm_get_counters(tm, &c);
    assert(c.n_vms == 16 && c.n_pairs == 8 && c.vms_refused == 1);

    /* Ten seconds on, the locations are forgotten; the VMs in pairs stay
     * (unlocated) while the agent lists them, and go with their pairs. */
    struct vttif_tm_event ev;
    for (double end = t + 11; t < end;) {
        t += 0.5;
        u.time_s = t;
        assert(vttif_tm_feed(tm, &u, t) == 0);
        vttif_tm_tick(tm, t, &ev);
    }
    vttif_tm_get_counters(tm, &c);
    assert(c.vms_aged == 16 && c.n_vms == 16);
    for (double end = t + 11 + VTTIF_TM_DEFAULT_PAIR_TIMEOUT_S
                      + VTTIF_TM_DEFAULT_SETTLE_S + 1;
         t < end; t += 1) {
        vttif_tm_tick(tm, t, &ev);
    }
    vttif_tm_get_counters(tm, &c);
    assert(c.n_agents == 0 && c.n_pairs == 0 && c.n_vms == 0);
    vttif_tm_destroy(&tm);
}

/* Pair and report caps: when full, a new pair evicts an idle one (no
 * traffic, not an edge), never one that carries traffic; with none idle,
 * the entry is dropped.  Counted. */
static void
test_caps_pairs(void)
{
    struct vttif_tm_params p;
    vttif_tm_params_default(&p);
    p.max_pairs = 8;
    p.max_reports = 9;          /* the pair cap binds, but for one */
    vttif_tm_t *tm = vttif_tm_new(&p);
    struct vttif_tm_counters c;
    struct vttif_tm_event ev;
    struct vttif_tm_entry busy[4], junk[64];
    for (size_t i = 0; i < 4; i++) {
        busy[i] = (struct vttif_tm_entry) { .src = mac(i), .dst = mac(i + 4) };
    }
    for (size_t i = 0; i < 64; i++) {
        junk[i] = (struct vttif_tm_entry) { .src = mac(100 + i),
                                            .dst = mac(200 + i) };
    }
    struct vttif_tm_update ub = { .agent_id = "busy", .boot_id = 1,
                                  .period_s = 0.1, .entries = busy,
                                  .n_entries = 4 };
    struct vttif_tm_update uj = { .agent_id = "junk", .boot_id = 1,
                                  .period_s = 0.1, .entries = junk,
                                  .n_entries = 64 };
    double t = 1;
    for (; t < 4; t += 0.1) {
        for (size_t i = 0; i < 4; i++) {
            busy[i].bytes += 125000;        /* 10 Mbit/s */
            busy[i].frames += 100;
        }
        assert(vttif_tm_feed(tm, &ub, t) == 0);
        vttif_tm_tick(tm, t, &ev);
    }
    /* 64 new idle pairs through a table of 8 holding 4 busy ones. */
    assert(vttif_tm_feed(tm, &uj, t) == 0);
    vttif_tm_get_counters(tm, &c);
    assert(c.n_pairs <= 8 && c.n_reports <= 9);
    assert(c.pairs_evicted >= 56);
    struct vttif_tm_rate m[16];
    size_t n = vttif_tm_matrix(tm, m, 16, NULL);
    assert(n == 4);
    for (size_t i = 0; i < n; i++) {
        assert(fabs(m[i].rate_bps - 10e6) < 0.5e6);
    }
    uint64_t evicted = c.pairs_evicted;

    /* Every pair busy: new ones are dropped, the busy ones stay. */
    struct vttif_tm_entry more[8];
    for (size_t i = 0; i < 8; i++) {
        more[i] = (struct vttif_tm_entry) { .src = mac(i), .dst = mac(i + 8) };
    }
    struct vttif_tm_update um = { .agent_id = "busy2", .boot_id = 1,
                                  .period_s = 0.1, .entries = more,
                                  .n_entries = 4 };
    for (double end = t + 3; t < end; t += 0.1) {
        for (size_t i = 0; i < 4; i++) {
            busy[i].bytes += 125000;
            more[i].bytes += 125000;
        }
        assert(vttif_tm_feed(tm, &ub, t) == 0);
        assert(vttif_tm_feed(tm, &um, t) == 0);
        vttif_tm_tick(tm, t, &ev);
    }
    vttif_tm_get_counters(tm, &c);
    assert(c.n_pairs == 8);
    evicted = c.pairs_evicted;  /* the junk left made room for busy2 */
    um.entries = more + 4;
    for (size_t i = 4; i < 8; i++) {
        more[i].bytes += 125000;
    }
    assert(vttif_tm_feed(tm, &um, t) == 0);
    vttif_tm_get_counters(tm, &c);
    assert(c.n_pairs == 8 && c.pairs_refused >= 4 && c.entries_dropped >= 4);
    assert(vttif_tm_matrix(tm, m, 16, NULL) == 8);
    assert(c.pairs_evicted == evicted);

    /* The report cap: a second report of a busy pair (another agent)
     * finds no idle pair to evict and is dropped. */
    struct vttif_tm_update u2 = { .agent_id = "other", .boot_id = 1,
                                  .period_s = 0.1, .entries = busy,
                                  .n_entries = 4 };
    uint64_t dropped = c.entries_dropped;
    assert(vttif_tm_feed(tm, &u2, t) == 0);
    vttif_tm_get_counters(tm, &c);
    assert(c.n_reports == 9 && c.entries_dropped == dropped + 3);
    vttif_tm_destroy(&tm);
}

/* A counter that jumps by more than max_rate_bps allows (a garbled or
 * hostile one) is a new baseline: the rates do not move, it is counted,
 * and the pair goes on from the new value. */
static void
test_implausible(void)
{
    vttif_tm_t *tm = vttif_tm_new(NULL);
    struct vttif_tm_entry e[2] = {
        { .src = mac(0), .dst = mac(1) },
        { .src = mac(2), .dst = mac(3) },
    };
    struct vttif_tm_update u = { .agent_id = "a", .boot_id = 1,
                                 .period_s = 0.1, .entries = e,
                                 .n_entries = 2 };
    struct vttif_tm_event ev;
    struct vttif_tm_rate m[4];
    double t = 1;
    for (; t < 4; t += 0.1) {
        e[0].bytes += 1250000;      /* 100 Mbit/s each */
        e[1].bytes += 1250000;
        assert(vttif_tm_feed(tm, &u, t) == 0);
        vttif_tm_tick(tm, t, &ev);
    }
    e[1].bytes += UINT64_C(1) << 61;    /* 1.8e20 bit/s in 0.1 s */
    assert(vttif_tm_feed(tm, &u, t) == 0);
    struct vttif_tm_counters c;
    vttif_tm_get_counters(tm, &c);
    assert(c.entries_implausible == 1 && c.resets_counter == 0);
    double max_bps = 0;
    assert(vttif_tm_matrix(tm, m, 4, &max_bps) == 2);
    assert(max_bps < 110e6);
    for (t += 0.1; t < 6; t += 0.1) {
        e[0].bytes += 1250000;
        e[1].bytes += 1250000;
        assert(vttif_tm_feed(tm, &u, t) == 0);
        vttif_tm_tick(tm, t, &ev);
    }
    assert(vttif_tm_matrix(tm, m, 4, &max_bps) == 2);
    /* The period of the jump is lost, as on a reset: within 5%. */
    assert(fabs(m[0].rate_bps - 100e6) < 5e6);
    assert(fabs(m[1].rate_bps - 100e6) < 5e6);
    vttif_tm_get_counters(tm, &c);
    assert(c.entries_implausible == 1);
    vttif_tm_destroy(&tm);
}

static int
cmp_rate(const void *a, const void *b)
{
    const struct vttif_tm_rate *x = a, *y = b;
    if (x->src != y->src) {
        return x->src < y->src ? -1 : 1;
    }
    return x->dst < y->dst ? -1 : x->dst > y->dst;
}

/* The order an agent lists its pairs in changes nothing: one core fed
 * every message in the same order, another the same messages shuffled
 * every third time (and otherwise in its last order), both with a pair
 * left out now and then and one listed twice, give the same matrix and
 * the same counts after every period.  (The core guesses each report from
 * the agent's last order; a wrong guess must only cost a lookup.) */
static void
test_listing_order(void)
{
    enum { HOSTS = 4, PER = 4, VMS = HOSTS * PER, PAIRS = VMS * (VMS - 1) };
    struct vttif_tm_params p;
    vttif_tm_params_default(&p);
    vttif_tm_t *a = vttif_tm_new(&p), *b = vttif_tm_new(&p);
    assert(a && b);
    static struct vttif_tm_entry ord[HOSTS][PAIRS], shuf[HOSTS][PAIRS];
    static struct vttif_tm_rate ra[PAIRS], rb[PAIRS];
    size_t n[HOSTS] = { 0 };
    uint64_t rng = 12345;
    for (size_t s = 0; s < VMS; s++) {
        for (size_t d = 0; d < VMS; d++) {
            if (s == d) {
                continue;
            }
            /* The source's host lists it; every third pair the
             * destination's host too (two reports to dedupe). */
            size_t hs = s / PER, hd = d / PER;
            ord[hs][n[hs]++] = (struct vttif_tm_entry) {
                .src = mac(s), .dst = mac(d) };
            if ((s + d) % 3 == 0 && hd != hs) {
                ord[hd][n[hd]++] = (struct vttif_tm_entry) {
                    .src = mac(s), .dst = mac(d) };
            }
        }
    }
    memcpy(shuf, ord, sizeof ord);
    for (int k = 0; k < 80; k++) {
        double t = 0.1 * k;
        for (size_t h = 0; h < HOSTS; h++) {
            struct vttif_tm_entry ea[PAIRS + 1], eb[PAIRS + 1];
            size_t na = 0, nb = 0;
            for (size_t i = 0; i < n[h]; i++) {
                struct vttif_tm_entry *e = &ord[h][i];
                /* Rates differ per pair and change over time. */
                uint64_t step = (uint64_t) ((e->src * 7 + e->dst * 13) % 97)
                                * 1000 * (uint64_t) (1 + (k / 20) % 3);
                e->bytes += step;
                e->frames += step / 1000;
            }
            if (k % 3 == 0) {
                for (size_t i = n[h] - 1; i > 0; i--) {
                    rng = rng * UINT64_C(6364136223846793005) + 1;
                    size_t j = (size_t) (rng >> 33) % (i + 1);
                    struct vttif_tm_entry x = shuf[h][i];
                    shuf[h][i] = shuf[h][j];
                    shuf[h][j] = x;
                }
            }
            /* Same counters in the shuffled order. */
            for (size_t i = 0; i < n[h]; i++) {
                for (size_t j = 0; j < n[h]; j++) {
                    if (shuf[h][i].src == ord[h][j].src
                        && shuf[h][i].dst == ord[h][j].dst) {
                        shuf[h][i] = ord[h][j];
                        break;
                    }
                }
            }
            uint64_t left_out = mac((size_t) k % VMS);
            for (size_t i = 0; i < n[h]; i++) {
                if (ord[h][i].src != left_out || k % 5) {
                    ea[na++] = ord[h][i];
                }
                if (shuf[h][i].src != left_out || k % 5) {
                    eb[nb++] = shuf[h][i];
                }
            }
            ea[na++] = ea[0];       /* listed twice: skipped */
            eb[nb++] = ea[0];
            char id[8];
            snprintf(id, sizeof id, "h%zu", h);
            struct vttif_tm_update u = {
                .agent_id = id, .boot_id = 1, .period_s = 0.1,
                .time_s = 100 + t, .entries = ea, .n_entries = na };
            assert(vttif_tm_feed(a, &u, t) == 0);
            u.entries = eb;
            u.n_entries = nb;
            assert(vttif_tm_feed(b, &u, t) == 0);
        }
        struct vttif_tm_event ev;
        bool ca = vttif_tm_tick(a, t + 0.05, &ev);
        bool cb = vttif_tm_tick(b, t + 0.05, &ev);
        assert(ca == cb);
        double ma, mb;
        size_t na = vttif_tm_matrix(a, ra, PAIRS, &ma);
        size_t nb = vttif_tm_matrix(b, rb, PAIRS, &mb);
        assert(na == nb && na <= PAIRS && fabs(ma - mb) <= 1e-9 * ma);
        qsort(ra, na, sizeof ra[0], cmp_rate);
        qsort(rb, nb, sizeof rb[0], cmp_rate);
        for (size_t i = 0; i < na; i++) {
            assert(ra[i].src == rb[i].src && ra[i].dst == rb[i].dst);
            assert(fabs(ra[i].rate_bps - rb[i].rate_bps)
                   <= 1e-9 * ra[i].rate_bps);
            assert(fabs(ra[i].current_bps - rb[i].current_bps)
                   <= 1e-9 * ra[i].current_bps);
        }
        if (k == 79) {
            assert(na > PAIRS / 2);     /* the test saw real rates */
        }
    }
    struct vttif_tm_counters c1, c2;
    vttif_tm_get_counters(a, &c1);
    vttif_tm_get_counters(b, &c2);
    assert(c1.entries == c2.entries && c1.entries_skipped
           == c2.entries_skipped && c1.n_reports == c2.n_reports
           && c1.baselines == c2.baselines);
    assert(c1.entries_skipped >= 80 * HOSTS);
    vttif_tm_destroy(&a);
    vttif_tm_destroy(&b);
    printf("  listing order: same matrix whatever the order\n");
}

int
main(void)
{
    const char *seed = getenv("VTTIF_TM_SEED");
    g_seed = seed ? strtoull(seed, NULL, 0) : 0;
    test_params();
    test_params_idle();
    test_by_hand();
    test_current();
    static const enum pattern pats[] = { PAT_ALL, PAT_RING, PAT_TORUS,
                                         PAT_TREE, PAT_NEIGH };
    static const size_t sizes[] = { 8, 16, 64 };
    for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++) {
        for (size_t k = 0; k < 3; k++) {
            test_pattern(pats[p], sizes[k]);
        }
    }
    test_phases();
    test_aging();
    test_restart();
    test_dedupe();
    test_lost_and_stale();
    test_heavy_then_light();
    test_bursts();
    test_scale();
    test_caps_vms();
    test_caps_pairs();
    test_implausible();
    test_listing_order();
    printf("  worst edge rate error: %.1f%%\n", 100 * g_worst);
    printf("test_vttif_tm: ok\n");
    return 0;
}
