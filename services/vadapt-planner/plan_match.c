/* SPDX-License-Identifier: MIT */
/* Maximum-weight matching (Edmonds' blossom algorithm, primal-dual,
 * O(n^3)) and the reduction of b-matching to it; see plan_match.h.
 *
 * Notation.  Vertices are 0..n-1; blossoms n..2n-1, a pool of numbers
 * reused as blossoms are made and expanded.  Edge k has two endpoints,
 * 2k (its u) and 2k+1 (its v); p ^ 1 is the other end of endpoint p, and
 * a vertex's mate is the endpoint at the far side of its matched edge.
 * A top-level blossom (or lone vertex) is labelled S (1: even distance
 * from a free vertex in its alternating tree), T (2: odd) or not at all
 * (0); labelend says through which endpoint the label came.  Dual
 * variables: dual[v] for vertices, dual[b] for blossoms; an edge is tight
 * when dual[u] + dual[v] - 2 w = 0 (blossom duals do not enter the slack
 * of an edge between two top-level blossoms).  Each S blossom keeps its
 * least-slack edge to every other S blossom (best lists), so a stage's
 * dual step costs O(n) instead of O(m). */
#include "plan_match.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { S_FREE = 0, S_S = 1, S_T = 2, S_MARK = 4 };

struct s_st {
    int n, m;
    const uint32_t *eu, *ev;
    const int64_t *w;
    int *nb_off, *nb;           /* per vertex: far endpoints of its edges */
    int *mate;                  /* n */
    int *label, *labelend, *inb, *parent, *base, *best; /* 2n */
    int **childs, **endps, *n_childs;   /* per blossom */
    int **blist, *n_blist;      /* per blossom: best edges to S blossoms */
    int *unused, n_unused;
    int64_t *dual;              /* 2n */
    bool *allow;                /* m */
    int *queue, n_queue, queue_cap;
    int *leaves, *stack;        /* scratch: n, 2n */
    int *bestto;                /* scratch: 2n */
    bool oom;
};

static inline int
s_end(const struct s_st *s, int p)
{
    return (int) (p & 1 ? s->ev[p >> 1] : s->eu[p >> 1]);
}

static inline int64_t
s_slack(const struct s_st *s, int k)
{
    return s->dual[s->eu[k]] + s->dual[s->ev[k]] - 2 * s->w[k];
}

/* Fills s->leaves with the vertices inside 'b'; returns how many. */
static int
s_leaves(struct s_st *s, int b)
{
    int n_out = 0, top = 0;
    s->stack[top++] = b;
    while (top) {
        int t = s->stack[--top];
        if (t < s->n) {
            s->leaves[n_out++] = t;
            continue;
        }
        for (int i = 0; i < s->n_childs[t]; i++) {
            s->stack[top++] = s->childs[t][i];
        }
    }
    return n_out;
}

static void
s_push(struct s_st *s, int v)
{
    if (s->n_queue == s->queue_cap) {
        int cap = s->queue_cap * 2;
        int *q = realloc(s->queue, (size_t) cap * sizeof *q);
        if (!q) {
            s->oom = true;
            return;
        }
        s->queue = q;
        s->queue_cap = cap;
    }
    s->queue[s->n_queue++] = v;
}

/* Labels the top-level blossom of vertex 'w' with 't', reached through
 * endpoint 'p'; an S blossom's vertices go onto the queue, a T blossom's
 * mate gets S. */
static void
s_label(struct s_st *s, int w, int t, int p)
{
    for (;;) {
        int b = s->inb[w];
        s->label[w] = s->label[b] = t;
        s->labelend[w] = s->labelend[b] = p;
        s->best[w] = s->best[b] = -1;
        if (t == S_S) {
            int n_l = s_leaves(s, b);
            for (int i = 0; i < n_l; i++) {
                s_push(s, s->leaves[i]);
            }
            return;
        }
        int mb = s->mate[s->base[b]];
        assert(mb >= 0);
        w = s_end(s, mb);
        t = S_S;
        p = mb ^ 1;
    }
}

/* Walks up from 'v' and 'w' (an S-S edge) towards the roots; returns the
 * base of the new blossom if they meet, or -1 for an augmenting path. */
static int
s_scan(struct s_st *s, int v, int w)
{
    int n_path = 0, base = -1;
    while (v != -1 || w != -1) {
        int b = s->inb[v];
        if (s->label[b] & S_MARK) {
            base = s->base[b];
            break;
        }
        assert(s->label[b] == S_S);
        s->stack[n_path++] = b;
        s->label[b] = S_S | S_MARK;
        if (s->labelend[b] == -1) {
            v = -1;                     /* a root */
        } else {
            v = s_end(s, s->labelend[b]);
            b = s->inb[v];              /* the T blossom above */
            assert(s->label[b] == S_T && s->labelend[b] >= 0);
            v = s_end(s, s->labelend[b]);
        }
        if (w != -1) {
            int t = v;
            v = w;
            w = t;
        }
    }
    for (int i = 0; i < n_path; i++) {
        s->label[s->stack[i]] = S_S;
    }
    return base;
}

static void
s_reverse(int *a, int n)
{
    for (int i = 0, j = n - 1; i < j; i++, j--) {
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* Best-edge bookkeeping of a child 'bv' merged into new blossom 'b'. */
static void
s_best_one(struct s_st *s, int b, int k)
{
    int i = (int) s->eu[k], j = (int) s->ev[k];
    if (s->inb[j] == b) {
        j = i;
    }
    int bj = s->inb[j];
    if (bj != b && s->label[bj] == S_S
        && (s->bestto[bj] == -1
            || s_slack(s, k) < s_slack(s, s->bestto[bj]))) {
        s->bestto[bj] = k;
    }
}

/* Shrinks the odd cycle closed by edge 'k' with base 'base' into a new S
 * blossom.  Returns -1 when memory is short. */
static int
s_add_blossom(struct s_st *s, int base, int k)
{
    int v = (int) s->eu[k], w = (int) s->ev[k];
    int bb = s->inb[base], bv = s->inb[v], bw = s->inb[w];
    assert(s->n_unused > 0);
    int b = s->unused[--s->n_unused];
    /* A blossom has at most n children (odd, one per top-level blossom). */
    int *ch = malloc((size_t) s->n * sizeof *ch);
    int *ep = malloc((size_t) s->n * sizeof *ep);
    if (!ch || !ep) {
        free(ch);
        free(ep);
        s->unused[s->n_unused++] = b;
        return -1;
    }
    s->base[b] = base;
    s->parent[b] = -1;
    s->parent[bb] = b;
    int nc = 0;
    while (bv != bb) {
        s->parent[bv] = b;
        ch[nc] = bv;
        ep[nc++] = s->labelend[bv];
        v = s_end(s, s->labelend[bv]);
        bv = s->inb[v];
    }
    ch[nc] = bb;
    s_reverse(ch, nc + 1);
    s_reverse(ep, nc);
    nc++;
    ep[nc - 1] = 2 * k;
    while (bw != bb) {
        s->parent[bw] = b;
        ch[nc] = bw;
        ep[nc++] = s->labelend[bw] ^ 1;
        w = s_end(s, s->labelend[bw]);
        bw = s->inb[w];
    }
    s->childs[b] = ch;
    s->endps[b] = ep;
    s->n_childs[b] = nc;
    s->label[b] = S_S;
    s->labelend[b] = s->labelend[bb];
    s->dual[b] = 0;
    int n_l = s_leaves(s, b);
    for (int i = 0; i < n_l; i++) {
        int x = s->leaves[i];
        if (s->label[s->inb[x]] == S_T) {
            s_push(s, x);               /* T vertices become S */
        }
        s->inb[x] = b;
    }
    /* Least-slack edge from b to every other S blossom. */
    for (int i = 0; i < 2 * s->n; i++) {
        s->bestto[i] = -1;
    }
    for (int c = 0; c < nc; c++) {
        int cb = ch[c];
        if (cb >= s->n && s->blist[cb]) {
            for (int i = 0; i < s->n_blist[cb]; i++) {
                s_best_one(s, b, s->blist[cb][i]);
            }
        } else {
            int n_cl = s_leaves(s, cb);
            for (int i = 0; i < n_cl; i++) {
                int x = s->leaves[i];
                for (int q = s->nb_off[x]; q < s->nb_off[x + 1]; q++) {
                    s_best_one(s, b, s->nb[q] >> 1);
                }
            }
        }
        if (cb >= s->n) {
            free(s->blist[cb]);
            s->blist[cb] = NULL;
            s->n_blist[cb] = 0;
        }
        s->best[cb] = -1;
    }
    int cnt = 0;
    for (int i = 0; i < 2 * s->n; i++) {
        cnt += s->bestto[i] != -1;
    }
    int *bl = malloc((size_t) (cnt ? cnt : 1) * sizeof *bl);
    if (!bl) {
        return -1;
    }
    s->best[b] = -1;
    cnt = 0;
    for (int i = 0; i < 2 * s->n; i++) {
        int e = s->bestto[i];
        if (e == -1) {
            continue;
        }
        bl[cnt++] = e;
        if (s->best[b] == -1 || s_slack(s, e) < s_slack(s, s->best[b])) {
            s->best[b] = e;
        }
    }
    s->blist[b] = bl;
    s->n_blist[b] = cnt;
    return 0;
}

static int
s_index(const struct s_st *s, int b, int child)
{
    for (int i = 0; i < s->n_childs[b]; i++) {
        if (s->childs[b][i] == child) {
            return i;
        }
    }
    assert(0);
    return 0;
}

/* Python-style index into a blossom's cycle. */
static int
s_at(const struct s_st *s, int b, int j)
{
    int nc = s->n_childs[b];
    return ((j % nc) + nc) % nc;
}

/* Dissolves top-level blossom 'b' into its children; at the end of a
 * stage, recursively those with a zero dual too.  A T blossom expanded
 * mid-stage relabels its children along the even path from its entry to
 * its base. */
static void
s_expand(struct s_st *s, int b, bool endstage)
{
    for (int c = 0; c < s->n_childs[b]; c++) {
        int cb = s->childs[b][c];
        s->parent[cb] = -1;
        if (cb < s->n) {
            s->inb[cb] = cb;
        } else if (endstage && s->dual[cb] == 0) {
            s_expand(s, cb, endstage);
        } else {
            int n_l = s_leaves(s, cb);
            for (int i = 0; i < n_l; i++) {
                s->inb[s->leaves[i]] = cb;
            }
        }
    }
    if (!endstage && s->label[b] == S_T) {
        int *ch = s->childs[b], *ep = s->endps[b];
        int nc = s->n_childs[b];
        int entry = s->inb[s_end(s, s->labelend[b] ^ 1)];
        int j = s_index(s, b, entry);
        int jstep, trick;
        if (j & 1) {
            j -= nc;
            jstep = 1;
            trick = 0;
        } else {
            jstep = -1;
            trick = 1;
        }
        int p = s->labelend[b];
        while (j != 0) {
            s->label[s_end(s, p ^ 1)] = S_FREE;
            s->label[s_end(s, ep[s_at(s, b, j - trick)] ^ trick ^ 1)] =
                S_FREE;
            s_label(s, s_end(s, p ^ 1), S_T, p);
            s->allow[ep[s_at(s, b, j - trick)] >> 1] = true;
            j += jstep;
            p = ep[s_at(s, b, j - trick)] ^ trick;
            s->allow[p >> 1] = true;
            j += jstep;
        }
        int bv = ch[s_at(s, b, j)];
        s->label[s_end(s, p ^ 1)] = s->label[bv] = S_T;
        s->labelend[s_end(s, p ^ 1)] = s->labelend[bv] = p;
        s->best[bv] = -1;
        j += jstep;
        while (ch[s_at(s, b, j)] != entry) {
            bv = ch[s_at(s, b, j)];
            if (s->label[bv] == S_S) {
                j += jstep;
                continue;
            }
            int n_l = s_leaves(s, bv), x = -1;
            for (int i = 0; i < n_l; i++) {
                if (s->label[s->leaves[i]] != S_FREE) {
                    x = s->leaves[i];
                    break;
                }
            }
            if (x != -1) {
                assert(s->label[x] == S_T && s->inb[x] == bv);
                s->label[x] = S_FREE;
                s->label[s_end(s, s->mate[s->base[bv]])] = S_FREE;
                s_label(s, x, S_T, s->labelend[x]);
            }
            j += jstep;
        }
    }
    s->label[b] = s->labelend[b] = -1;
    free(s->childs[b]);
    free(s->endps[b]);
    free(s->blist[b]);
    s->childs[b] = s->endps[b] = s->blist[b] = NULL;
    s->n_childs[b] = s->n_blist[b] = 0;
    s->base[b] = -1;
    s->best[b] = -1;
    s->unused[s->n_unused++] = b;
}

/* Swaps matched and unmatched edges on the even path inside blossom 'b'
 * from vertex 'v' to the base, then makes v's child the new base. */
static void
s_augment_blossom(struct s_st *s, int b, int v)
{
    int t = v;
    while (s->parent[t] != b) {
        t = s->parent[t];
    }
    if (t >= s->n) {
        s_augment_blossom(s, t, v);
    }
    int nc = s->n_childs[b];
    int i = s_index(s, b, t), j = i, jstep, trick;
    if (i & 1) {
        j -= nc;
        jstep = 1;
        trick = 0;
    } else {
        jstep = -1;
        trick = 1;
    }
    int *ch = s->childs[b], *ep = s->endps[b];
    while (j != 0) {
        j += jstep;
        t = ch[s_at(s, b, j)];
        int p = ep[s_at(s, b, j - trick)] ^ trick;
        if (t >= s->n) {
            s_augment_blossom(s, t, s_end(s, p));
        }
        j += jstep;
        t = ch[s_at(s, b, j)];
        if (t >= s->n) {
            s_augment_blossom(s, t, s_end(s, p ^ 1));
        }
        s->mate[s_end(s, p)] = p ^ 1;
        s->mate[s_end(s, p ^ 1)] = p;
    }
    /* Rotate so that child i comes first; 'leaves' is free scratch here
     * only up to n, and a blossom has at most n children. */
    int *tmp = s->leaves;
    for (int c = 0; c < nc; c++) {
        tmp[c] = ch[(i + c) % nc];
    }
    memcpy(ch, tmp, (size_t) nc * sizeof *ch);
    for (int c = 0; c < nc; c++) {
        tmp[c] = ep[(i + c) % nc];
    }
    memcpy(ep, tmp, (size_t) nc * sizeof *ep);
    s->base[b] = s->base[ch[0]];
}

/* Augments along the path through S-S edge 'k' to both roots. */
static void
s_augment(struct s_st *s, int k)
{
    int ends[2][2] = { { (int) s->eu[k], 2 * k + 1 },
                       { (int) s->ev[k], 2 * k } };
    for (int side = 0; side < 2; side++) {
        int x = ends[side][0], p = ends[side][1];
        for (;;) {
            int bs = s->inb[x];
            assert(s->label[bs] == S_S);
            if (bs >= s->n) {
                s_augment_blossom(s, bs, x);
            }
            s->mate[x] = p;
            if (s->labelend[bs] == -1) {
                break;                  /* reached the root */
            }
            int t = s_end(s, s->labelend[bs]);
            int bt = s->inb[t];
            assert(s->label[bt] == S_T);
            x = s_end(s, s->labelend[bt]);
            int j = s_end(s, s->labelend[bt] ^ 1);
            if (bt >= s->n) {
                s_augment_blossom(s, bt, j);
            }
            s->mate[j] = s->labelend[bt];
            p = s->labelend[bt] ^ 1;
        }
    }
}

static void
s_free(struct s_st *s)
{
    if (s->childs) {
        for (int b = 0; b < 2 * s->n; b++) {
            free(s->childs[b]);
            free(s->endps[b]);
            free(s->blist[b]);
        }
    }
    free(s->nb_off);
    free(s->nb);
    free(s->mate);
    free(s->label);
    free(s->labelend);
    free(s->inb);
    free(s->parent);
    free(s->base);
    free(s->best);
    free(s->childs);
    free(s->endps);
    free(s->n_childs);
    free(s->blist);
    free(s->n_blist);
    free(s->unused);
    free(s->dual);
    free(s->allow);
    free(s->queue);
    free(s->leaves);
    free(s->stack);
    free(s->bestto);
}

static int
s_init(struct s_st *s)
{
    size_t n = (size_t) s->n, m = (size_t) s->m, n2 = 2 * n;
    s->nb_off = calloc(n + 1, sizeof *s->nb_off);
    s->nb = malloc((2 * m + 1) * sizeof *s->nb);
    s->mate = malloc(n * sizeof *s->mate);
    s->label = malloc(n2 * sizeof *s->label);
    s->labelend = malloc(n2 * sizeof *s->labelend);
    s->inb = malloc(n * sizeof *s->inb);
    s->parent = malloc(n2 * sizeof *s->parent);
    s->base = malloc(n2 * sizeof *s->base);
    s->best = malloc(n2 * sizeof *s->best);
    s->childs = calloc(n2, sizeof *s->childs);
    s->endps = calloc(n2, sizeof *s->endps);
    s->n_childs = calloc(n2, sizeof *s->n_childs);
    s->blist = calloc(n2, sizeof *s->blist);
    s->n_blist = calloc(n2, sizeof *s->n_blist);
    s->unused = malloc(n * sizeof *s->unused);
    s->dual = malloc(n2 * sizeof *s->dual);
    s->allow = malloc((m + 1) * sizeof *s->allow);
    s->queue_cap = (int) n2;
    s->queue = malloc(n2 * sizeof *s->queue);
    s->leaves = malloc(n * sizeof *s->leaves);
    s->stack = malloc(n2 * sizeof *s->stack);
    s->bestto = malloc(n2 * sizeof *s->bestto);
    if (!s->nb_off || !s->nb || !s->mate || !s->label || !s->labelend
        || !s->inb || !s->parent || !s->base || !s->best || !s->childs
        || !s->endps || !s->n_childs || !s->blist || !s->n_blist
        || !s->unused || !s->dual || !s->allow || !s->queue || !s->leaves
        || !s->stack || !s->bestto) {
        return -1;
    }
    /* Far endpoints of each vertex's edges (CSR). */
    for (size_t k = 0; k < m; k++) {
        s->nb_off[s->eu[k] + 1]++;
        s->nb_off[s->ev[k] + 1]++;
    }
    for (size_t i = 0; i < n; i++) {
        s->nb_off[i + 1] += s->nb_off[i];
    }
    int *fill = s->stack;       /* scratch: n <= 2n entries */
    for (size_t i = 0; i < n; i++) {
        fill[i] = s->nb_off[i];
    }
    int64_t maxw = 0;
    for (size_t k = 0; k < m; k++) {
        s->nb[fill[s->eu[k]]++] = (int) (2 * k + 1);
        s->nb[fill[s->ev[k]]++] = (int) (2 * k);
        maxw = s->w[k] > maxw ? s->w[k] : maxw;
    }
    for (size_t i = 0; i < n2; i++) {
        s->label[i] = S_FREE;
        s->labelend[i] = -1;
        s->parent[i] = -1;
        s->base[i] = i < n ? (int) i : -1;
        s->best[i] = -1;
        s->dual[i] = i < n ? maxw : 0;
    }
    for (size_t i = 0; i < n; i++) {
        s->mate[i] = -1;
        s->inb[i] = (int) i;
        s->unused[i] = (int) (n + i);
    }
    s->n_unused = (int) n;
    return 0;
}

/* One stage: grows the forest until an augmentation (returns 1) or until
 * the duals prove the matching optimal (0); -1 when memory is short. */
static int
s_stage(struct s_st *s)
{
    int n = s->n;
    for (int i = 0; i < 2 * n; i++) {
        s->label[i] = S_FREE;
        s->best[i] = -1;
        if (i >= n) {
            free(s->blist[i]);
            s->blist[i] = NULL;
            s->n_blist[i] = 0;
        }
    }
    memset(s->allow, 0, (size_t) s->m * sizeof *s->allow);
    s->n_queue = 0;
    for (int v = 0; v < n; v++) {
        if (s->mate[v] == -1 && s->label[s->inb[v]] == S_FREE) {
            s_label(s, v, S_S, -1);
        }
    }
    for (;;) {
        while (s->n_queue) {
            if (s->oom) {
                return -1;
            }
            int v = s->queue[--s->n_queue];
            assert(s->label[s->inb[v]] == S_S);
            for (int q = s->nb_off[v]; q < s->nb_off[v + 1]; q++) {
                int p = s->nb[q], k = p >> 1, w = s_end(s, p);
                int64_t ks = 0;
                if (s->inb[v] == s->inb[w]) {
                    continue;
                }
                if (!s->allow[k]) {
                    ks = s_slack(s, k);
                    if (ks <= 0) {
                        s->allow[k] = true;
                    }
                }
                int bw = s->inb[w];
                if (s->allow[k]) {
                    if (s->label[bw] == S_FREE) {
                        s_label(s, w, S_T, p ^ 1);
                    } else if (s->label[bw] == S_S) {
                        int base = s_scan(s, v, w);
                        if (base >= 0) {
                            if (s_add_blossom(s, base, k) < 0) {
                                return -1;
                            }
                        } else {
                            s_augment(s, k);
                            return 1;
                        }
                    } else if (s->label[w] == S_FREE) {
                        /* w inside a T blossom, reached for the first
                         * time: remember how, for its expansion. */
                        s->label[w] = S_T;
                        s->labelend[w] = p ^ 1;
                    }
                } else if (s->label[bw] == S_S) {
                    int b = s->inb[v];
                    if (s->best[b] == -1 || ks < s_slack(s, s->best[b])) {
                        s->best[b] = k;
                    }
                } else if (s->label[w] == S_FREE) {
                    if (s->best[w] == -1 || ks < s_slack(s, s->best[w])) {
                        s->best[w] = k;
                    }
                }
            }
        }
        if (s->oom) {
            return -1;
        }
        /* The largest dual step that keeps every slack >= 0. */
        int type = 1, dedge = -1, dblossom = -1;
        int64_t delta = INT64_MAX;
        for (int v = 0; v < n; v++) {
            delta = s->dual[v] < delta ? s->dual[v] : delta;
        }
        for (int v = 0; v < n; v++) {
            if (s->label[s->inb[v]] == S_FREE && s->best[v] != -1) {
                int64_t d = s_slack(s, s->best[v]);
                if (d < delta) {
                    delta = d;
                    type = 2;
                    dedge = s->best[v];
                }
            }
        }
        for (int b = 0; b < 2 * n; b++) {
            if (s->parent[b] == -1 && s->label[b] == S_S
                && s->best[b] != -1) {
                int64_t ks = s_slack(s, s->best[b]);
                assert(ks % 2 == 0);    /* integer weights */
                if (ks / 2 < delta) {
                    delta = ks / 2;
                    type = 3;
                    dedge = s->best[b];
                }
            }
        }
        for (int b = n; b < 2 * n; b++) {
            if (s->base[b] >= 0 && s->parent[b] == -1
                && s->label[b] == S_T && s->dual[b] < delta) {
                delta = s->dual[b];
                type = 4;
                dblossom = b;
            }
        }
        for (int v = 0; v < n; v++) {
            int l = s->label[s->inb[v]];
            s->dual[v] += l == S_S ? -delta : l == S_T ? delta : 0;
        }
        for (int b = n; b < 2 * n; b++) {
            if (s->base[b] >= 0 && s->parent[b] == -1) {
                int l = s->label[b];
                s->dual[b] += l == S_S ? delta : l == S_T ? -delta : 0;
            }
        }
        if (type == 1) {
            return 0;                   /* optimum */
        } else if (type == 2) {
            s->allow[dedge] = true;
            int i = (int) s->eu[dedge];
            if (s->label[s->inb[i]] == S_FREE) {
                i = (int) s->ev[dedge];
            }
            assert(s->label[s->inb[i]] == S_S);
            s_push(s, i);
        } else if (type == 3) {
            s->allow[dedge] = true;
            s_push(s, (int) s->eu[dedge]);
        } else {
            s_expand(s, dblossom, false);
        }
    }
}

/* plan_match_mwm(), starting from the matching 'init' (edges marked
 * true, NULL for none).  Every initial edge must weigh as much as the
 * heaviest edge: with all duals at that weight it is tight, and the start
 * is as valid as the empty matching. */
static int
s_mwm(size_t n, size_t m, const uint32_t *u, const uint32_t *v,
      const int64_t *w, const bool *init, int64_t *mate)
{
    if (n > PLAN_MATCH_MAX_VERTICES || m > (size_t) INT32_MAX / 2
        || (n && !mate) || (m && (!u || !v || !w))) {
        return -1;
    }
    for (size_t k = 0; k < m; k++) {
        if (u[k] >= n || v[k] >= n || u[k] == v[k] || w[k] < 0
            || w[k] > (INT64_C(1) << 50)) {
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        mate[i] = -1;
    }
    if (!n || !m) {
        return 0;
    }
    struct s_st s = { .n = (int) n, .m = (int) m, .eu = u, .ev = v,
                      .w = w };
    int rc = s_init(&s);
    for (size_t k = 0; !rc && init && k < m; k++) {
        if (!init[k]) {
            continue;
        }
        if (w[k] != s.dual[0] || s.mate[u[k]] != -1 || s.mate[v[k]] != -1) {
            rc = -1;                    /* not a valid start */
            break;
        }
        s.mate[u[k]] = (int) (2 * k + 1);
        s.mate[v[k]] = (int) (2 * k);
    }
    for (size_t t = 0; !rc && t < n; t++) {
        int r = s_stage(&s);
        if (r < 0) {
            rc = -1;
        } else if (r == 0) {
            break;
        }
        /* Blossoms whose dual reached 0 are dissolved between stages. */
        for (int b = (int) n; !rc && b < 2 * (int) n; b++) {
            if (s.parent[b] == -1 && s.base[b] >= 0 && s.label[b] == S_S
                && s.dual[b] == 0) {
                s_expand(&s, b, true);
            }
        }
    }
    if (!rc) {
        for (size_t i = 0; i < n; i++) {
            mate[i] = s.mate[i] >= 0 ? s.mate[i] >> 1 : -1;
        }
    }
    s_free(&s);
    return rc;
}

int
plan_match_mwm(size_t n, size_t m, const uint32_t *u, const uint32_t *v,
               const int64_t *w, int64_t *mate)
{
    return s_mwm(n, m, u, v, w, NULL, mate);
}

/* ---- b-matching ---- */

int
plan_match_b(size_t n_hosts, const uint32_t *cap, size_t n_edges,
             const struct plan_match_edge *e, bool *take)
{
    if ((n_hosts && !cap) || (n_edges && (!e || !take))
        || n_hosts > PLAN_MATCH_MAX_VERTICES
        || n_edges > PLAN_MATCH_MAX_VERTICES) {
        return -1;
    }
    for (size_t i = 0; i < n_edges; i++) {
        take[i] = false;
        if (e[i].a >= n_hosts || e[i].b >= n_hosts || e[i].a == e[i].b) {
            return -1;
        }
    }
    if (!n_edges) {
        return 0;
    }
    int rc = -1;
    uint32_t *deg = calloc(n_hosts, sizeof *deg);
    uint32_t *first = calloc(n_hosts, sizeof *first); /* first copy */
    uint32_t *copies = calloc(n_hosts, sizeof *copies);
    uint32_t *gv = calloc(n_edges, sizeof *gv); /* e's gadget: e_u, or e */
    uint32_t *u = NULL, *v = NULL;
    int64_t *w = NULL, *mate = NULL;
    bool *init = NULL;
    if (!deg || !first || !copies || !gv) {
        goto out;
    }
    double maxw = 0;
    for (size_t i = 0; i < n_edges; i++) {
        if (isfinite(e[i].w) && e[i].w > 0 && cap[e[i].a] && cap[e[i].b]) {
            deg[e[i].a]++;
            deg[e[i].b]++;
            maxw = e[i].w > maxw ? e[i].w : maxw;
        }
    }
    /* A host with no more links than ports limits nothing. */
    size_t nv = 0, ne = 0;
    for (size_t h = 0; h < n_hosts; h++) {
        if (deg[h] > cap[h]) {
            first[h] = (uint32_t) nv;
            copies[h] = cap[h];
            nv += cap[h];
        }
    }
    for (size_t i = 0; i < n_edges; i++) {
        if (!isfinite(e[i].w) || e[i].w <= 0 || !cap[e[i].a]
            || !cap[e[i].b]) {
            continue;
        }
        size_t ca = copies[e[i].a], cb = copies[e[i].b];
        if (!ca && !cb) {
            take[i] = true;
        } else if (!ca || !cb) {
            gv[i] = (uint32_t) nv;
            nv += 1;
            ne += ca + cb;
        } else {
            gv[i] = (uint32_t) nv;
            nv += 2;
            ne += ca + cb + 1;
        }
        if (nv > PLAN_MATCH_MAX_VERTICES || ne > (size_t) INT32_MAX / 2) {
            goto out;
        }
    }
    if (!ne) {
        rc = 0;
        goto out;
    }
    u = malloc(ne * sizeof *u);
    v = malloc(ne * sizeof *v);
    w = malloc(ne * sizeof *w);
    init = calloc(ne, sizeof *init);
    mate = malloc(nv * sizeof *mate);
    if (!u || !v || !w || !init || !mate) {
        goto out;
    }
    /* Integers of at most 2^40 (W), at least 1.  A two-sided gadget's
     * middle edge weighs 2 W and its outer edges W + w each: both outer
     * edges (2 W + 2 w) beat the middle (2 W), which beats one outer
     * edge, so the optimum is as with w everywhere, every link counting
     * twice (one-sided gadgets weigh 2 w).  Then every middle edge is as
     * heavy as the heaviest edge, and the solver starts with all of them
     * matched: it augments once per link taken, not once per link. */
    double scale = ldexp(1.0, 40) / maxw;
    const int64_t big = INT64_C(1) << 40;
    size_t k = 0;
    for (size_t i = 0; i < n_edges; i++) {
        if (take[i] || !isfinite(e[i].w) || e[i].w <= 0 || !cap[e[i].a]
            || !cap[e[i].b]) {
            continue;
        }
        int64_t iw = llround(e[i].w * scale);
        iw = iw < 1 ? 1 : iw;
        uint32_t ha = e[i].a, hb = e[i].b;
        if (!copies[ha] || !copies[hb]) {
            uint32_t h = copies[ha] ? ha : hb;
            for (uint32_t c = 0; c < copies[h]; c++, k++) {
                u[k] = first[h] + c;
                v[k] = gv[i];
                w[k] = 2 * iw;
            }
            continue;
        }
        for (uint32_t c = 0; c < copies[ha]; c++, k++) {
            u[k] = first[ha] + c;
            v[k] = gv[i];
            w[k] = big + iw;
        }
        u[k] = gv[i];
        v[k] = gv[i] + 1;
        init[k] = true;
        w[k++] = 2 * big;
        for (uint32_t c = 0; c < copies[hb]; c++, k++) {
            u[k] = gv[i] + 1;
            v[k] = first[hb] + c;
            w[k] = big + iw;
        }
    }
    assert(k == ne);
    /* The middle edges start matched only if they are the heaviest
     * (always, unless no gadget has two sides: then none is marked). */
    if (s_mwm(nv, ne, u, v, w, init, mate) < 0) {
        goto out;
    }
    /* A gadget matched to a host copy on each constrained side. */
    for (size_t i = 0; i < n_edges; i++) {
        if (take[i] || !isfinite(e[i].w) || e[i].w <= 0 || !cap[e[i].a]
            || !cap[e[i].b]) {
            continue;
        }
        uint32_t ha = e[i].a, hb = e[i].b;
        if (!copies[ha] || !copies[hb]) {
            take[i] = mate[gv[i]] >= 0;
        } else {
            int64_t ma = mate[gv[i]], mb = mate[gv[i] + 1];
            take[i] = ma >= 0 && mb >= 0 && ma != mb;
        }
    }
    rc = 0;
out:
    if (rc < 0) {
        for (size_t i = 0; i < n_edges; i++) {
            take[i] = false;
        }
    }
    free(deg);
    free(first);
    free(copies);
    free(gv);
    free(u);
    free(v);
    free(w);
    free(init);
    free(mate);
    return rc;
}
