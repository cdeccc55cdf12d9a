/* SPDX-License-Identifier: MIT */
/* Maximum-weight b-matching for the planner core's port-limited policy
 * (plan_core.c): vertices are hosts with b(v) ports, edges are host links
 * weighted by their demand; a b-matching takes at most b(v) edges at each
 * vertex and, if k > 0, at most k edges in all.  Two solvers: the greedy
 * (heaviest edge first; a 1/2-approximation when k is 0) and an exact one
 * by branch and bound, bounded by the LP relaxation solved as a flow on
 * the bipartite double cover.  Pure computation: no I/O, no clock. */
#ifndef PLAN_MATCH_H
#define PLAN_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    PLAN_MATCH_MAX_EDGES = 1 << 20,     /* edges per problem at most */
    PLAN_MATCH_MAX_VERTICES = 1 << 20,  /* vertices per problem at most */
    PLAN_MATCH_MAX_DEPTH = 4096,        /* branching depth at most */
};

/* The exact solver's budget by default: search nodes, and work units
 * (arcs scanned by the shortest-path searches, about 10 ns each), about
 * 0.2 s on one core. */
#define PLAN_MATCH_DEFAULT_MAX_NODES UINT64_C(100000)
#define PLAN_MATCH_DEFAULT_MAX_WORK UINT64_C(20000000)

/* An edge between vertices 'u' and 'v' (u != v, both below the vertex
 * count) of weight 'w' (finite, > 0).  Parallel edges are allowed. */
struct plan_match_edge {
    uint32_t u, v;              /* its two vertices */
    double w;                   /* its weight */
};

/* A problem. */
struct plan_match_problem {
    const uint32_t *cap;        /* b(v) by vertex */
    size_t n_vertices;
    const struct plan_match_edge *edges;
    size_t n_edges;
    uint32_t k;                 /* edges taken at most; 0: no cap */
};

/* The exact solver's budget; a zero field means its default. */
struct plan_match_budget {
    uint64_t max_nodes;         /* search nodes at most */
    uint64_t max_work;          /* work units at most (see above) */
};

/* What a solver did. */
struct plan_match_stats {
    double weight;              /* total weight of the edges taken */
    size_t n_taken;             /* edges taken */
    bool optimal;               /* proven maximum (exact solver only) */
    uint64_t nodes;             /* search nodes visited */
    uint64_t work;              /* work units spent */
    size_t n_forced;            /* edges taken by reduction, unsearched */
    size_t n_components;        /* parts searched separately */
};

/* Returns true if 'pr' is well formed (see the structs above); otherwise
 * false, with a sentence naming the first fault in 'err' ('err_size'
 * bytes, may be 0). */
bool plan_match_check(const struct plan_match_problem *pr, char *err,
                      size_t err_size);

/* Greedy: walks the edges by weight, descending (ties by index,
 * ascending), and takes each one both of whose vertices have a free port
 * while fewer than k are taken.  Sets 'taken'[i] for each edge i
 * ('pr->n_edges' of them) and fills 'st' (may be NULL).  Returns 0, or
 * -1 if 'pr' is not well formed or memory is short. */
int plan_match_greedy(const struct plan_match_problem *pr, bool *taken,
                      struct plan_match_stats *st);

/* Exact: a maximum-weight b-matching of 'pr' (weights are rounded to
 * multiples of 2^-36 of the largest one first, so ties closer than that
 * may go either way).  Within 'budget' (NULL: the defaults) the result
 * is proven optimal ('st->optimal'); past it the best found is returned,
 * which is never lighter than the greedy's.  Deterministic: the same
 * problem gives the same result.  Sets 'taken' and 'st' as
 * plan_match_greedy() does.  Returns 0, or -1 if 'pr' is not well formed
 * or memory is short. */
int plan_match_exact(const struct plan_match_problem *pr,
                     const struct plan_match_budget *budget, bool *taken,
                     struct plan_match_stats *st);

#endif /* PLAN_MATCH_H */
