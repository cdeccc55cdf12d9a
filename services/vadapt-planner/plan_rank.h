/* SPDX-License-Identifier: MIT */
/* Incremental ranking for the planner core (plan_core.c): items 0 to n-1
 * kept in the order of a key (a rank, descending; then a flag, set
 * first; then the item's index, ascending, so the order is total and
 * deterministic).  The order is kept across updates, so that an update in
 * which k items changed their key costs O(n + k log k) instead of a full
 * sort: the items whose key is unchanged keep their relative order, the
 * changed ones are sorted alone and merged in.  Items are renumbered
 * with plan_rank_remap() when the caller's array changes.  No I/O. */
#ifndef PLAN_RANK_H
#define PLAN_RANK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A removed item in a plan_rank_remap() map. */
#define PLAN_RANK_GONE UINT32_MAX

/* The key of one item. */
struct plan_rank_key {
    double rank;                /* higher first; never NaN */
    bool first;                 /* on equal ranks, set goes first */
};

typedef struct plan_rank plan_rank_t;

/* Creates an empty ranking; NULL when memory is short.  The caller owns
 * the result. */
plan_rank_t *plan_rank_new(void);

/* Frees '*self_p' if it is not NULL, then sets it to NULL. */
void plan_rank_destroy(plan_rank_t **self_p);

/* Makes room for 'n' items (at most UINT32_MAX - 1).  Returns 0, or -1
 * when memory is short (then nothing changed). */
int plan_rank_reserve(plan_rank_t *self, size_t n);

/* Brings the order up to date for items 0 to 'n' - 1 with 'keys': an
 * item whose key differs from the one it was placed with, or that was not
 * placed since it appeared (plan_rank_remap()), is placed again; with
 * 'full' every item is (a from-scratch sort).  Room for 'n' items must
 * have been reserved.  Returns the items in order ('n' of them), borrowed
 * until the next call. */
const uint32_t *plan_rank_update(plan_rank_t *self,
                                 const struct plan_rank_key *keys, size_t n,
                                 bool full);

/* The items were renumbered: item i (i < 'n_old') is now item 'map'[i],
 * or is gone if that is PLAN_RANK_GONE.  The kept items must keep their
 * relative order (map increasing over them), so that the index still
 * breaks ties as before.  Items not named by the map are new: the next
 * update places them.  Room for 'n_new' items must have been reserved. */
void plan_rank_remap(plan_rank_t *self, const uint32_t *map, size_t n_old,
                     size_t n_new);

#endif /* PLAN_RANK_H */
