/* SPDX-License-Identifier: MIT */
/* The flood limiter: a token bucket per source MAC for broadcasts and
 * unknown unicast, so no source can turn the agent (above all the proxy,
 * which copies a flood to every agent) into an amplifier.  One limiter
 * per packet thread, used by that thread only.  The buckets sit in a
 * fixed 4-way set-associative table: a bucket unused for 'idle_us' may be
 * reused for another source; a source that finds none shares one
 * overflow bucket with every other such source, so made-up source MACs
 * cannot buy themselves fresh buckets without bound. */
#ifndef AGENT_FLOOD_H
#define AGENT_FLOOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct flood_cfg {
    uint32_t rate;              /* floods a second a source may make (>0) */
    uint32_t burst;             /* floods it may make at once (>0) */
    uint32_t n_sources;         /* buckets (rounded up to a power of 2) */
    uint64_t idle_us;           /* a bucket unused this long is reusable */
};

struct flood_stats {
    uint64_t allowed;           /* floods let through */
    uint64_t limited;           /* floods refused */
    uint64_t shared;            /* floods charged to the overflow bucket */
};

typedef struct flood flood_t;

/* Creates a limiter with the limits of '*cfg' (copied), or NULL when out
 * of memory or 'cfg' is unusable.  The caller owns it. */
flood_t *flood_new(const struct flood_cfg *cfg);

/* Frees '*self_p' if not NULL and sets it to NULL. */
void flood_destroy(flood_t **self_p);

/* Takes a token from the bucket of 'src' at 'now_us' (monotonic): true
 * if the flood may go.  No allocation; a few probes of one cache line. */
bool flood_allow(flood_t *self, uint64_t src, uint64_t now_us);

/* The counters: the owner thread's only (the agent counts what it
 * publishes in its own per-thread atomics). */
const struct flood_stats *flood_stats(const flood_t *self);

#endif /* AGENT_FLOOD_H */
