/* SPDX-License-Identifier: MIT */
/* Maximum-weight b-matching (plan_match.h).
 *
 * The exact solver is a depth-first branch and bound over the edges.
 * A search node fixes some edges in (taken) or out; the others are free.
 *  - Reduction: a free edge with a vertex of no free port is out; with
 *    no k cap, a free edge both of whose vertices have at most as many
 *    free edges as free ports is in, since adding it to any b-matching
 *    without it keeps the degrees within bounds and adds weight.
 *  - Bound: the LP relaxation (0 <= x_e <= 1, degree of v <= b(v)) over
 *    the free edges.  Its optimum is half that of a bipartite problem:
 *    each vertex v split into a left copy L_v and a right copy R_v, both
 *    of capacity b(v), each edge {u, v} as the two arcs L_u -> R_v and
 *    L_v -> R_u; x_e is the mean of its two arcs' flows, so the bound is
 *    half-integral.  The bipartite problem is a min-cost flow (source ->
 *    L -> R -> sink, cost -w on the edge arcs) solved by successive
 *    shortest paths with potentials, one unit a path, stopping at the
 *    first path that no longer lowers the cost (maximum weight, not
 *    maximum flow) or, with a k cap, at flow 2(k - edges fixed in).
 *  - If both arcs of every edge carry the same flow the LP optimum is a
 *    b-matching, so it is the node's best.  Otherwise the node's LP
 *    solution is rounded (both arcs used first, then one, then unused
 *    edges, each by weight while ports are free) into a b-matching that
 *    may improve the incumbent, and the search branches on the heaviest
 *    edge with one arc used: in first, then out.  A node whose bound is
 *    no better than the incumbent is cut.
 * Weights are scaled to integers first, so bounds and comparisons are
 * exact.  Without a k cap, the reduced problem falls apart into connected
 * parts that are searched one after another, each from its own greedy
 * incumbent, and their optima add up. */
#include "plan_match.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S_FREE = 0, S_IN = 1, S_OUT = 2 };

#define S_INF (INT64_MAX / 4)
#define S_NONE UINT32_MAX

/* An arc of the flow network; arc a ^ 1 is its reverse. */
struct s_arc {
    uint32_t from, to;
    int32_t cap;                /* residual capacity */
    int64_t cost;
};

/* A heap entry of the shortest-path search (lazy: stale ones skipped). */
struct s_heap {
    int64_t d;
    uint32_t v;
};

/* An edge with its key, for sorting. */
struct s_key {
    double w;
    int64_t q;
    uint32_t e;
};

struct s_ctx {
    size_t n, m;                /* vertices, edges */
    uint32_t k;                 /* edges at most; 0: no cap */
    const struct plan_match_edge *edges;
    int64_t *w;                 /* by edge: scaled weight */
    uint8_t *st;                /* by edge: S_FREE, S_IN, S_OUT */
    uint32_t *cap;              /* by vertex: free ports */
    uint32_t *deg;              /* by vertex: free edges at it */
    uint32_t *trail;            /* edges fixed, in order, for undo */
    size_t n_trail;
    uint32_t n_in;              /* edges fixed in by the search */
    int64_t w_in;               /* their weight */
    uint32_t *inc_off, *inc;    /* edges at each vertex */

    uint32_t *ce;               /* the part searched: its edges, by weight,
                                   descending, then index */
    size_t n_ce;
    uint32_t *cv;               /* its vertices */
    size_t n_cv;
    uint32_t *loc;              /* by vertex: its index in 'cv' */

    bool *best;                 /* by edge of the part: in the incumbent */
    int64_t best_w;             /* the incumbent's weight */
    bool *tmp;                  /* by edge: rounding scratch */
    uint32_t *tcap;             /* by vertex: rounding scratch */
    uint8_t *x2;                /* by edge: twice the LP value */

    struct s_arc *arcs;         /* the flow network */
    size_t n_arcs;
    uint32_t *arc_of;           /* by edge: its first arc (then its
                                   reverse, its second arc, reverse) */
    uint32_t *adj_off, *adj;    /* arcs by tail */
    int64_t *pi, *dist;         /* by network node */
    uint32_t *prev;             /* by network node: arc into it */
    uint8_t *done;
    struct s_heap *heap;
    size_t n_heap;

    uint64_t nodes, work;       /* spent */
    uint64_t max_nodes, max_work;
    bool cut;                   /* the budget stopped the search */
};

static void __attribute__((format(printf, 3, 4)))
s_fmt(char *err, size_t size, const char *fmt, ...)
{
    if (!size) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}

bool
plan_match_check(const struct plan_match_problem *pr, char *err,
                 size_t err_size)
{
    if (!pr) {
        s_fmt(err, err_size, "no problem");
        return false;
    }
    if (pr->n_vertices > PLAN_MATCH_MAX_VERTICES) {
        s_fmt(err, err_size, "vertices: '%zu' over %d", pr->n_vertices,
              PLAN_MATCH_MAX_VERTICES);
        return false;
    }
    if (pr->n_edges > PLAN_MATCH_MAX_EDGES) {
        s_fmt(err, err_size, "edges: '%zu' over %d", pr->n_edges,
              PLAN_MATCH_MAX_EDGES);
        return false;
    }
    if ((pr->n_vertices && !pr->cap) || (pr->n_edges && !pr->edges)) {
        s_fmt(err, err_size, "NULL array with %zu vertices, %zu edges",
              pr->n_vertices, pr->n_edges);
        return false;
    }
    for (size_t i = 0; i < pr->n_edges; i++) {
        const struct plan_match_edge *e = &pr->edges[i];
        if (e->u >= pr->n_vertices || e->v >= pr->n_vertices
            || e->u == e->v) {
            s_fmt(err, err_size, "edge %zu: bad vertices '%u' '%u'", i,
                  e->u, e->v);
            return false;
        }
        if (!isfinite(e->w) || e->w <= 0) {
            s_fmt(err, err_size, "edge %zu: bad weight '%g'", i, e->w);
            return false;
        }
    }
    return true;
}

static int
s_cmp_key_w(const void *x, const void *y)
{
    const struct s_key *a = x, *b = y;
    if (a->w != b->w) {
        return a->w > b->w ? -1 : 1;
    }
    return a->e < b->e ? -1 : a->e > b->e;
}

static int
s_cmp_key_q(const void *x, const void *y)
{
    const struct s_key *a = x, *b = y;
    if (a->q != b->q) {
        return a->q > b->q ? -1 : 1;
    }
    return a->e < b->e ? -1 : a->e > b->e;
}

/* Greedy over 'keys' (sorted): sets 'taken', with 'tcap' ('n' vertices)
 * as scratch. */
static void
s_greedy(const struct plan_match_problem *pr, const struct s_key *keys,
         uint32_t *tcap, bool *taken)
{
    if (pr->n_vertices) {
        memcpy(tcap, pr->cap, pr->n_vertices * sizeof *tcap);
    }
    if (pr->n_edges) {
        memset(taken, 0, pr->n_edges * sizeof *taken);
    }
    uint32_t n = 0;
    for (size_t i = 0; i < pr->n_edges && (!pr->k || n < pr->k); i++) {
        const struct plan_match_edge *e = &pr->edges[keys[i].e];
        if (tcap[e->u] && tcap[e->v]) {
            tcap[e->u]--;
            tcap[e->v]--;
            taken[keys[i].e] = true;
            n++;
        }
    }
}

static void
s_stats(const struct plan_match_problem *pr, const bool *taken,
        struct plan_match_stats *st)
{
    if (!st) {
        return;
    }
    st->weight = 0;
    st->n_taken = 0;
    for (size_t i = 0; i < pr->n_edges; i++) {
        if (taken[i]) {
            st->weight += pr->edges[i].w;
            st->n_taken++;
        }
    }
}

int
plan_match_greedy(const struct plan_match_problem *pr, bool *taken,
                  struct plan_match_stats *st)
{
    if (!plan_match_check(pr, NULL, 0)) {
        return -1;
    }
    struct s_key *keys = calloc(pr->n_edges + 1, sizeof *keys);
    uint32_t *tcap = calloc(pr->n_vertices + 1, sizeof *tcap);
    if (!keys || !tcap) {
        free(keys);
        free(tcap);
        return -1;
    }
    for (size_t i = 0; i < pr->n_edges; i++) {
        keys[i] = (struct s_key) { pr->edges[i].w, 0, (uint32_t) i };
    }
    qsort(keys, pr->n_edges, sizeof *keys, s_cmp_key_w);
    s_greedy(pr, keys, tcap, taken);
    if (st) {
        memset(st, 0, sizeof *st);
    }
    s_stats(pr, taken, st);
    free(keys);
    free(tcap);
    return 0;
}

/* ---- fixing edges, with undo ---- */

static void
s_set(struct s_ctx *c, uint32_t e, uint8_t to)
{
    assert(c->st[e] == S_FREE && to != S_FREE);
    uint32_t u = c->edges[e].u, v = c->edges[e].v;
    c->st[e] = to;
    c->deg[u]--;
    c->deg[v]--;
    if (to == S_IN) {
        assert(c->cap[u] && c->cap[v]);
        c->cap[u]--;
        c->cap[v]--;
        c->n_in++;
        c->w_in += c->w[e];
    }
    c->trail[c->n_trail++] = e;
}

static void
s_undo(struct s_ctx *c, size_t mark)
{
    while (c->n_trail > mark) {
        uint32_t e = c->trail[--c->n_trail];
        uint32_t u = c->edges[e].u, v = c->edges[e].v;
        if (c->st[e] == S_IN) {
            c->cap[u]++;
            c->cap[v]++;
            c->n_in--;
            c->w_in -= c->w[e];
        }
        c->deg[u]++;
        c->deg[v]++;
        c->st[e] = S_FREE;
    }
}

/* Applies the reductions to the free edges of 'list' until none applies
 * (see the top of the file). */
static void
s_reduce(struct s_ctx *c, const uint32_t *list, size_t n_list)
{
    bool changed = true;
    while (changed) {
        changed = false;
        c->work += n_list;
        for (size_t i = 0; i < n_list; i++) {
            uint32_t e = list[i];
            if (c->st[e] != S_FREE) {
                continue;
            }
            uint32_t u = c->edges[e].u, v = c->edges[e].v;
            if (!c->cap[u] || !c->cap[v]) {
                s_set(c, e, S_OUT);
                changed = true;
            } else if (!c->k && c->deg[u] <= c->cap[u]
                       && c->deg[v] <= c->cap[v]) {
                s_set(c, e, S_IN);
                changed = true;
            }
        }
    }
}

/* ---- the bound: min-cost flow on the double cover ---- */

static void
s_arc_add(struct s_ctx *c, uint32_t from, uint32_t to, int32_t cap,
          int64_t cost)
{
    c->arcs[c->n_arcs++] = (struct s_arc) { from, to, cap, cost };
    c->arcs[c->n_arcs++] = (struct s_arc) { to, from, 0, -cost };
}

static void
s_heap_push(struct s_ctx *c, int64_t d, uint32_t v)
{
    size_t i = c->n_heap++;
    while (i) {
        size_t p = (i - 1) / 2;
        if (c->heap[p].d <= d) {
            break;
        }
        c->heap[i] = c->heap[p];
        i = p;
    }
    c->heap[i] = (struct s_heap) { d, v };
}

static struct s_heap
s_heap_pop(struct s_ctx *c)
{
    struct s_heap top = c->heap[0];
    struct s_heap last = c->heap[--c->n_heap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= c->n_heap) {
            break;
        }
        if (l + 1 < c->n_heap && c->heap[l + 1].d < c->heap[l].d) {
            l++;
        }
        if (last.d <= c->heap[l].d) {
            break;
        }
        c->heap[i] = c->heap[l];
        i = l;
    }
    if (c->n_heap) {
        c->heap[i] = last;
    }
    return top;
}

/* Shortest paths by reduced cost from the source, stopping once the sink
 * 't' is settled. */
static void
s_dijkstra(struct s_ctx *c, uint32_t n_nodes, uint32_t t)
{
    for (uint32_t v = 0; v < n_nodes; v++) {
        c->dist[v] = S_INF;
        c->done[v] = 0;
    }
    c->n_heap = 0;
    c->dist[0] = 0;
    s_heap_push(c, 0, 0);
    while (c->n_heap) {
        struct s_heap h = s_heap_pop(c);
        uint32_t v = h.v;
        if (c->done[v]) {
            continue;
        }
        c->done[v] = 1;
        if (v == t) {
            break;
        }
        for (uint32_t i = c->adj_off[v]; i < c->adj_off[v + 1]; i++) {
            const struct s_arc *a = &c->arcs[c->adj[i]];
            if (a->cap <= 0 || c->done[a->to]) {
                continue;
            }
            int64_t nd = c->dist[v] + a->cost + c->pi[v] - c->pi[a->to];
            assert(nd >= c->dist[v]);
            if (nd < c->dist[a->to]) {
                c->dist[a->to] = nd;
                c->prev[a->to] = c->adj[i];
                s_heap_push(c, nd, a->to);
            }
        }
        c->work += c->adj_off[v + 1] - c->adj_off[v] + 1;
    }
}

/* Solves the node's LP: sets '*lp2' to twice its optimum over the free
 * edges of the part and 'x2' of those edges.  Returns false if the work
 * budget ran out first. */
static bool
s_lp(struct s_ctx *c, int64_t *lp2)
{
    /* Nodes: 0 source, 1 sink, 2 + i L of cv[i], 2 + n_cv + i R. */
    uint32_t nv = (uint32_t) c->n_cv;
    uint32_t n_nodes = 2 + 2 * nv, t = 1;
    c->n_arcs = 0;
    for (uint32_t i = 0; i < nv; i++) {
        uint32_t b = c->cap[c->cv[i]];
        if (b) {
            int32_t cb = b > INT32_MAX ? INT32_MAX : (int32_t) b;
            s_arc_add(c, 0, 2 + i, cb, 0);
            s_arc_add(c, 2 + nv + i, t, cb, 0);
        }
    }
    for (size_t i = 0; i < c->n_ce; i++) {
        uint32_t e = c->ce[i];
        if (c->st[e] != S_FREE) {
            continue;
        }
        uint32_t lu = c->loc[c->edges[e].u], lv = c->loc[c->edges[e].v];
        c->arc_of[e] = (uint32_t) c->n_arcs;
        s_arc_add(c, 2 + lu, 2 + nv + lv, 1, -c->w[e]);
        s_arc_add(c, 2 + lv, 2 + nv + lu, 1, -c->w[e]);
    }
    /* Arcs by tail (a counting sort). */
    memset(c->adj_off, 0, (n_nodes + 1) * sizeof *c->adj_off);
    for (size_t a = 0; a < c->n_arcs; a++) {
        c->adj_off[c->arcs[a].from + 1]++;
    }
    for (uint32_t v = 0; v < n_nodes; v++) {
        c->adj_off[v + 1] += c->adj_off[v];
    }
    for (uint32_t v = 0; v < n_nodes; v++) {
        c->prev[v] = c->adj_off[v];     /* fill cursor, for now */
    }
    for (size_t a = 0; a < c->n_arcs; a++) {
        c->adj[c->prev[c->arcs[a].from]++] = (uint32_t) a;
    }
    /* Potentials: the distances from the source before any flow, which
     * the layered network gives at once.  Reduced costs are then never
     * negative on arcs with room. */
    for (uint32_t v = 0; v < n_nodes; v++) {
        c->pi[v] = 0;
    }
    for (size_t a = 0; a < c->n_arcs; a += 2) {
        const struct s_arc *x = &c->arcs[a];
        if (x->from >= 2 && x->from < 2 + nv && x->cost < c->pi[x->to]) {
            c->pi[x->to] = x->cost;
        }
    }
    for (uint32_t i = 0; i < nv; i++) {
        if (c->pi[2 + nv + i] < c->pi[t]) {
            c->pi[t] = c->pi[2 + nv + i];
        }
    }

    uint64_t limit = c->k ? 2 * (uint64_t) (c->k - c->n_in) : UINT64_MAX;
    uint64_t flow = 0;
    int64_t cost = 0;
    while (flow < limit) {
        if (c->work >= c->max_work) {
            return false;
        }
        s_dijkstra(c, n_nodes, t);
        int64_t dt = c->dist[t];
        if (dt >= S_INF) {
            break;
        }
        int64_t path = dt + c->pi[t] - c->pi[0];
        if (path >= 0) {
            break;
        }
        for (uint32_t v = 0; v < n_nodes; v++) {
            c->pi[v] += c->dist[v] < dt ? c->dist[v] : dt;
        }
        for (uint32_t v = t; v != 0;) {
            uint32_t a = c->prev[v];
            c->arcs[a].cap--;
            c->arcs[a ^ 1].cap++;
            v = c->arcs[a].from;
        }
        cost += path;
        flow++;
    }
    for (size_t i = 0; i < c->n_ce; i++) {
        uint32_t e = c->ce[i];
        if (c->st[e] == S_FREE) {
            uint32_t a = c->arc_of[e];
            c->x2[e] = (uint8_t) (c->arcs[a + 1].cap + c->arcs[a + 3].cap);
        }
    }
    *lp2 = -cost;
    return true;
}

/* ---- the search ---- */

/* Rounds the node's LP solution ('use_lp'; otherwise no LP: the greedy)
 * into a b-matching of the part and keeps it if it beats the
 * incumbent. */
static void
s_round(struct s_ctx *c, bool use_lp)
{
    for (size_t i = 0; i < c->n_cv; i++) {
        c->tcap[c->cv[i]] = c->cap[c->cv[i]];
    }
    uint32_t n = c->n_in;
    int64_t w = c->w_in;
    for (size_t i = 0; i < c->n_ce; i++) {
        c->tmp[c->ce[i]] = false;
    }
    for (int pass = use_lp ? 2 : 0; pass >= 0; pass--) {
        for (size_t i = 0; i < c->n_ce && (!c->k || n < c->k); i++) {
            uint32_t e = c->ce[i];
            if (c->st[e] != S_FREE || c->tmp[e]
                || (use_lp && c->x2[e] != pass)) {
                continue;
            }
            uint32_t u = c->edges[e].u, v = c->edges[e].v;
            if (c->tcap[u] && c->tcap[v]) {
                c->tcap[u]--;
                c->tcap[v]--;
                c->tmp[e] = true;
                n++;
                w += c->w[e];
            }
        }
    }
    if (w > c->best_w) {
        c->best_w = w;
        for (size_t i = 0; i < c->n_ce; i++) {
            uint32_t e = c->ce[i];
            c->best[e] = c->st[e] == S_IN || c->tmp[e];
        }
    }
}

static void
s_node(struct s_ctx *c, unsigned depth)
{
    if (c->nodes >= c->max_nodes || c->work >= c->max_work
        || depth >= PLAN_MATCH_MAX_DEPTH) {
        c->cut = true;
        return;
    }
    c->nodes++;
    size_t mark = c->n_trail;
    s_reduce(c, c->ce, c->n_ce);
    int64_t lp2;
    if (!s_lp(c, &lp2)) {
        c->cut = true;
        goto out;
    }
    int64_t ub = (2 * c->w_in + lp2) / 2;
    if (ub <= c->best_w) {
        goto out;
    }
    s_round(c, true);
    if (c->best_w >= ub) {
        goto out;
    }
    /* Branch on the heaviest edge the LP takes by half. */
    uint32_t f = S_NONE;
    for (size_t i = 0; i < c->n_ce; i++) {
        uint32_t e = c->ce[i];
        if (c->st[e] == S_FREE && c->x2[e] == 1) {
            f = e;
            break;
        }
    }
    if (f == S_NONE) {
        goto out;               /* integral: rounding found it */
    }
    size_t mark2 = c->n_trail;
    s_set(c, f, S_IN);
    s_node(c, depth + 1);
    s_undo(c, mark2);
    s_set(c, f, S_OUT);
    s_node(c, depth + 1);
    s_undo(c, mark2);
out:
    s_undo(c, mark);
}

/* ---- set-up ---- */

static void
s_ctx_free(struct s_ctx *c)
{
    free(c->w);
    free(c->st);
    free(c->cap);
    free(c->deg);
    free(c->trail);
    free(c->inc_off);
    free(c->inc);
    free(c->ce);
    free(c->cv);
    free(c->loc);
    free(c->best);
    free(c->tmp);
    free(c->tcap);
    free(c->x2);
    free(c->arcs);
    free(c->arc_of);
    free(c->adj_off);
    free(c->adj);
    free(c->pi);
    free(c->dist);
    free(c->prev);
    free(c->done);
    free(c->heap);
}

static bool
s_ctx_alloc(struct s_ctx *c)
{
    size_t n = c->n + 1, m = c->m + 1;
    size_t nodes = 2 + 2 * c->n + 1, arcs = 4 * c->m + 4 * c->n + 1;
    c->w = calloc(m, sizeof *c->w);
    c->st = calloc(m, sizeof *c->st);
    c->cap = calloc(n, sizeof *c->cap);
    c->deg = calloc(n, sizeof *c->deg);
    c->trail = calloc(m, sizeof *c->trail);
    c->inc_off = calloc(n + 1, sizeof *c->inc_off);
    c->inc = calloc(2 * m, sizeof *c->inc);
    c->ce = calloc(m, sizeof *c->ce);
    c->cv = calloc(n, sizeof *c->cv);
    c->loc = calloc(n, sizeof *c->loc);
    c->best = calloc(m, sizeof *c->best);
    c->tmp = calloc(m, sizeof *c->tmp);
    c->tcap = calloc(n, sizeof *c->tcap);
    c->x2 = calloc(m, sizeof *c->x2);
    c->arcs = calloc(arcs, sizeof *c->arcs);
    c->arc_of = calloc(m, sizeof *c->arc_of);
    c->adj_off = calloc(nodes + 1, sizeof *c->adj_off);
    c->adj = calloc(arcs, sizeof *c->adj);
    c->pi = calloc(nodes, sizeof *c->pi);
    c->dist = calloc(nodes, sizeof *c->dist);
    c->prev = calloc(nodes, sizeof *c->prev);
    c->done = calloc(nodes, sizeof *c->done);
    c->heap = calloc(arcs + nodes, sizeof *c->heap);
    return c->w && c->st && c->cap && c->deg && c->trail && c->inc_off
           && c->inc && c->ce && c->cv && c->loc && c->best && c->tmp
           && c->tcap && c->x2 && c->arcs && c->arc_of && c->adj_off
           && c->adj && c->pi && c->dist && c->prev && c->done && c->heap;
}

/* Scales the weights to integers below 2^36 by a power of two, so that
 * integer weights stay exact and sums of up to 2^20 of them fit with
 * room to spare. */
static void
s_scale(struct s_ctx *c)
{
    double wmax = 0;
    for (size_t i = 0; i < c->m; i++) {
        if (c->edges[i].w > wmax) {
            wmax = c->edges[i].w;
        }
    }
    int ex = 0;
    frexp(wmax, &ex);           /* wmax < 2^ex */
    for (size_t i = 0; i < c->m; i++) {
        int64_t q = llround(ldexp(c->edges[i].w, 36 - ex));
        c->w[i] = q < 1 ? 1 : q;
    }
}

/* Collects in 'ce' and 'cv' the free edges and vertices connected to
 * vertex 'root' (not yet 'seen'), by breadth-first search. */
static void
s_part(struct s_ctx *c, uint32_t root, bool *seen_v, bool *seen_e)
{
    c->n_ce = 0;
    c->n_cv = 0;
    seen_v[root] = true;
    c->cv[c->n_cv++] = root;
    for (size_t h = 0; h < c->n_cv; h++) {
        uint32_t x = c->cv[h];
        for (uint32_t i = c->inc_off[x]; i < c->inc_off[x + 1]; i++) {
            uint32_t e = c->inc[i];
            if (c->st[e] != S_FREE || seen_e[e]) {
                continue;
            }
            seen_e[e] = true;
            c->ce[c->n_ce++] = e;
            uint32_t y = c->edges[e].u == x ? c->edges[e].v : c->edges[e].u;
            if (!seen_v[y]) {
                seen_v[y] = true;
                c->cv[c->n_cv++] = y;
            }
        }
    }
}

/* Sorts the part's edges by scaled weight, descending, then index, and
 * numbers its vertices. */
static void
s_part_order(struct s_ctx *c, struct s_key *keys)
{
    for (size_t i = 0; i < c->n_ce; i++) {
        keys[i] = (struct s_key) { 0, c->w[c->ce[i]], c->ce[i] };
    }
    qsort(keys, c->n_ce, sizeof *keys, s_cmp_key_q);
    for (size_t i = 0; i < c->n_ce; i++) {
        c->ce[i] = keys[i].e;
    }
    for (size_t i = 0; i < c->n_cv; i++) {
        c->loc[c->cv[i]] = (uint32_t) i;
    }
}

/* Searches the part in 'ce' and 'cv' and copies its best into 'taken'. */
static void
s_search_part(struct s_ctx *c, bool *taken)
{
    c->n_in = 0;
    c->w_in = 0;
    c->best_w = -1;
    s_round(c, false);
    s_node(c, 0);
    for (size_t i = 0; i < c->n_ce; i++) {
        taken[c->ce[i]] = c->best[c->ce[i]];
    }
}

int
plan_match_exact(const struct plan_match_problem *pr,
                 const struct plan_match_budget *budget, bool *taken,
                 struct plan_match_stats *st)
{
    if (!plan_match_check(pr, NULL, 0)) {
        return -1;
    }
    struct s_ctx c = {
        .n = pr->n_vertices,
        .m = pr->n_edges,
        .k = pr->k,
        .edges = pr->edges,
        .max_nodes = budget && budget->max_nodes ? budget->max_nodes
                     : PLAN_MATCH_DEFAULT_MAX_NODES,
        .max_work = budget && budget->max_work ? budget->max_work
                    : PLAN_MATCH_DEFAULT_MAX_WORK,
    };
    struct s_key *keys = calloc(c.m + 1, sizeof *keys);
    bool *seen_v = calloc(c.n + 1, sizeof *seen_v);
    bool *seen_e = calloc(c.m + 1, sizeof *seen_e);
    bool *greedy = calloc(c.m + 1, sizeof *greedy);
    int rc = -1;
    if (!keys || !seen_v || !seen_e || !greedy || !s_ctx_alloc(&c)) {
        goto out;
    }
    s_scale(&c);
    if (c.n) {
        memcpy(c.cap, pr->cap, c.n * sizeof *c.cap);
    }
    for (size_t i = 0; i < c.m; i++) {
        c.deg[c.edges[i].u]++;
        c.deg[c.edges[i].v]++;
    }
    for (size_t v = 0; v < c.n; v++) {
        c.inc_off[v + 1] = c.inc_off[v] + c.deg[v];
    }
    for (size_t v = 0; v < c.n; v++) {
        c.tcap[v] = c.inc_off[v];       /* fill cursor, for now */
    }
    for (size_t i = 0; i < c.m; i++) {
        c.inc[c.tcap[c.edges[i].u]++] = (uint32_t) i;
        c.inc[c.tcap[c.edges[i].v]++] = (uint32_t) i;
    }

    /* Reductions over the whole problem; what they fix in stays in. */
    for (size_t i = 0; i < c.m; i++) {
        c.ce[i] = (uint32_t) i;
    }
    s_reduce(&c, c.ce, c.m);
    size_t forced = 0;
    for (size_t i = 0; i < c.m; i++) {
        taken[i] = c.st[i] == S_IN;
        forced += taken[i];
    }
    size_t n_parts = 0;
    if (c.k) {
        /* The cap ties every part to the others: one search. */
        assert(!forced);
        c.n_ce = 0;
        c.n_cv = 0;
        for (size_t i = 0; i < c.m; i++) {
            if (c.st[i] != S_FREE) {
                continue;
            }
            c.ce[c.n_ce++] = (uint32_t) i;
            uint32_t ends[2] = { c.edges[i].u, c.edges[i].v };
            for (int j = 0; j < 2; j++) {
                if (!seen_v[ends[j]]) {
                    seen_v[ends[j]] = true;
                    c.cv[c.n_cv++] = ends[j];
                }
            }
        }
        if (c.n_ce) {
            s_part_order(&c, keys);
            s_search_part(&c, taken);
            n_parts = 1;
        }
    } else {
        c.n_in = 0;
        c.w_in = 0;
        size_t base = c.n_trail;
        (void) base;
        /* The trail below 'base' holds the forced edges: the search
         * never undoes past its own marks. */
        for (size_t i = 0; i < c.m; i++) {
            uint32_t u = c.edges[i].u;
            if (c.st[i] != S_FREE || seen_v[u]) {
                continue;
            }
            s_part(&c, u, seen_v, seen_e);
            s_part_order(&c, keys);
            s_search_part(&c, taken);
            n_parts++;
            assert(c.n_trail == base);
        }
    }

    /* Never lighter than the greedy (the budget may have cut the search
     * after the forced edges made its start worse). */
    for (size_t i = 0; i < c.m; i++) {
        keys[i] = (struct s_key) { 0, c.w[i], (uint32_t) i };
    }
    qsort(keys, c.m, sizeof *keys, s_cmp_key_q);
    s_greedy(pr, keys, c.tcap, greedy);
    int64_t wg = 0, wx = 0;
    for (size_t i = 0; i < c.m; i++) {
        wg += greedy[i] ? c.w[i] : 0;
        wx += taken[i] ? c.w[i] : 0;
    }
    bool optimal = !c.cut;
    if (wg > wx) {
        assert(!optimal);
        memcpy(taken, greedy, c.m * sizeof *taken);   /* wg > 0: m > 0 */
    }
    if (st) {
        memset(st, 0, sizeof *st);
        st->optimal = optimal;
        st->nodes = c.nodes;
        st->work = c.work;
        st->n_forced = forced;
        st->n_components = n_parts;
    }
    s_stats(pr, taken, st);
    rc = 0;
out:
    s_ctx_free(&c);
    free(keys);
    free(seen_v);
    free(seen_e);
    free(greedy);
    return rc;
}
