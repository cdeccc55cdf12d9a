/* SPDX-License-Identifier: MIT */
/* Exact selection for the planner's port-limited policy: maximum-weight
 * b-matching, solved exactly.  A pure library: no I/O, no clock, no
 * global state.
 *
 * Maximum-weight matching.  plan_match_mwm() is Edmonds' weighted
 * blossom algorithm in its O(n^3) primal-dual form (as Galil, "Efficient
 * algorithms for finding maximum matching in graphs", ACM Computing
 * Surveys 1986, describes it): stages of alternating trees grown from
 * every free vertex over tight edges, odd cycles shrunk into blossoms,
 * dual variables moved by the largest step that keeps them feasible, and
 * an augmentation per stage until no free vertex has a positive dual.
 * Weights are integers, so every dual stays an integer and no comparison
 * depends on rounding.  It finds a matching of maximum total weight, not
 * of maximum size.
 *
 * b-matching.  plan_match_b() reduces it to a matching: host h becomes
 * c(h) = min(b(h), deg(h)) copies; a link u-v of weight w becomes two
 * vertices e_u, e_v with edges u_i-e_u, e_u-e_v and e_v-v_j, each of
 * weight w.  A maximum matching takes e_u-e_v (w) or both outer edges
 * (2w) of every gadget, so its weight is W + the weight of the links
 * whose gadget is matched on both sides, and those links form a
 * b-matching of maximum weight.  Before the reduction, a link whose two
 * hosts have more ports than links is taken outright, and a link with
 * one such host gets a single vertex e (u_i-e, w): the graph stays small.
 * Weights are doubles > 0, scaled to integers of at most 2^40, so two
 * selections whose weights differ by less than about 2^-40 of the largest
 * weight per link count as equal.
 *
 * The gadget's middle edge weighs 2 W (W the largest weight) and its
 * outer ones W + w, which keeps the optimum (every link counts twice) and
 * makes every middle edge as heavy as the heaviest edge, so the solver
 * starts with all of them matched and augments about once per link taken
 * instead of once per link: 9 times faster on 100 hosts and 2,749 links
 * (670 ms to 71 ms), twice on 500 links with 8 ports.
 *
 * Cost.  For l links between h hosts with at most b ports each, the
 * reduction has up to 2 l + b h vertices and (2 b + 1) l edges, and the
 * algorithm is O(n^3) in its vertices; measured (tests/bench/
 * plan_match.sh, CPU time of one core) at most 28 ms for 500 links, 60 ms
 * for 800, 1.1 s for 4,000 links on 1,000 hosts, so the planner uses it
 * only up to PLAN_EXACT_MAX_LINKS links (plan_core.h).  No cardinality
 * cap: the planner keeps its greedy when k > 0. */
#ifndef PLAN_MATCH_H
#define PLAN_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    PLAN_MATCH_MAX_VERTICES = 1 << 24,  /* bound of the reduction's size */
};

/* A link between two hosts (indexes into the caller's host array). */
struct plan_match_edge {
    uint32_t a, b;              /* a != b, both < n_hosts */
    double w;                   /* weight; <= 0 or not finite: never taken */
};

/* Maximum-weight matching of the graph with 'n' vertices and 'm' edges
 * u[i]-v[i] of weight w[i] (u[i] != v[i], both < n; weights in
 * [0, 2^50]; an edge of weight 0 is never useful).  Fills mate[v] with
 * the index of the edge v is matched by, or -1.  Returns 0, or -1 for bad
 * arguments or when memory is short. */
int plan_match_mwm(size_t n, size_t m, const uint32_t *u, const uint32_t *v,
                   const int64_t *w, int64_t *mate);

/* Maximum-weight b-matching: 'n_hosts' hosts, host i with cap[i] ports,
 * 'n_edges' links 'e'.  Sets take[i] when link i is in the optimum.
 * Links given twice between the same hosts count as two links.  Returns
 * 0, or -1 for bad arguments, a reduction over PLAN_MATCH_MAX_VERTICES,
 * or when memory is short (then 'take' is all false). */
int plan_match_b(size_t n_hosts, const uint32_t *cap, size_t n_edges,
                 const struct plan_match_edge *e, bool *take);

#endif /* PLAN_MATCH_H */
