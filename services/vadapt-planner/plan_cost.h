/* SPDX-License-Identifier: MIT */
/* What a path costs on each reservable network, learned from the
 * network's own history as the broker reports it: the set-up time is
 * from a reservation's creation to its first ACTIVE record (created_us to
 * updated_us, both the broker's clock), the teardown time from its
 * RELEASING record to its RELEASED one.  Each network keeps an
 * exponentially weighted mean of both (weight PLAN_COST_WEIGHT to the
 * newest), starting from the configured prior.  The planner's cost rule
 * (plan_core.h) goes by them.
 *
 * Bounded: at most PLAN_COST_NETWORKS networks (the least recently
 * updated is forgotten for a new one) and PLAN_COST_TRACKED reservations
 * followed at once (a ring: the oldest is forgotten).  Times outside
 * [0, a day], a clock going back, and bad names are refused and counted.
 * Pure: no bus, no clock; the caller passes the time in. */
#ifndef PLAN_COST_H
#define PLAN_COST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    PLAN_COST_NETWORKS = 32,
    PLAN_COST_TRACKED = 1024,
    PLAN_COST_NAME_LEN = 64,
};

#define PLAN_COST_WEIGHT 0.3

/* What a reservation record says, for the learning. */
enum plan_cost_phase {
    PLAN_COST_OTHER,            /* requested, pending... */
    PLAN_COST_ACTIVE,
    PLAN_COST_RELEASING,
    PLAN_COST_RELEASED,
};

/* One network's estimate. */
struct plan_cost_est {
    char network[PLAN_COST_NAME_LEN];
    uint64_t setup_us;          /* 0 until learned or given */
    uint64_t teardown_us;
    uint32_t n_setups;          /* set-ups measured */
    uint32_t n_teardowns;
    uint64_t updated_us;        /* the caller's clock */
};

typedef struct plan_costs plan_costs_t;

/* A table whose networks start from 'prior_setup_us' and
 * 'prior_teardown_us' (0: unknown until measured).  NULL if out of
 * memory. */
plan_costs_t *plan_costs_new(uint64_t prior_setup_us,
                             uint64_t prior_teardown_us);

void plan_costs_destroy(plan_costs_t **self_p);

/* Takes a reservation record (an event or a list entry) seen at 'now_us'.
 * Returns true when the estimate of its network changed (then '*est', if
 * not NULL, gets it). */
bool plan_costs_feed(plan_costs_t *self, const char *resv_id,
                     const char *network, enum plan_cost_phase phase,
                     uint64_t created_us, uint64_t updated_us,
                     uint64_t now_us, struct plan_cost_est *est);

/* The estimate for a link whose network is not known yet: the mean of
 * the networks measured, else the prior.  False if there is none. */
bool plan_costs_default(const plan_costs_t *self, uint64_t *setup_us,
                        uint64_t *teardown_us);

/* Copies up to 'max' estimates into 'out'; returns how many there are. */
size_t plan_costs_list(const plan_costs_t *self, struct plan_cost_est *out,
                       size_t max);

/* Records refused: bad names or times. */
uint64_t plan_costs_refused(const plan_costs_t *self);

#endif
