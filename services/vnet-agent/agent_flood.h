/* SPDX-License-Identifier: MIT */
/* The flood limiter: a token bucket per source MAC for broadcasts and
 * unknown unicast, so no source can turn the agent (above all the proxy,
 * which copies a flood to every agent) into an amplifier.  One limiter
 * per packet thread, used by that thread only.  A source is a MAC and the
 * port or link it came in by (its ingress).  The buckets sit in a fixed
 * 4-way set-associative table, and a bucket unused for 'idle_us' may be
 * reused for another source.  Made-up source MACs cannot buy themselves a
 * fresh burst each: a new source gets a bucket only within its ingress's
 * admission bucket (the same rate and burst), and a source without one
 * shares its ingress's overflow bucket.  So one ingress floods at most
 * about twice the rate of one source, however many MACs it makes up, and
 * sources behind other ingresses are not affected. */
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
    uint32_t n_ingress;         /* ingress indices are below this (>0) */
};

struct flood_stats {
    uint64_t allowed;           /* floods let through */
    uint64_t limited;           /* floods refused */
    uint64_t shared;            /* floods charged to an overflow bucket */
};

typedef struct flood flood_t;

/* Creates a limiter with the limits of '*cfg' (copied), or NULL when out
 * of memory or 'cfg' is unusable.  The caller owns it. */
flood_t *flood_new(const struct flood_cfg *cfg);

/* Frees '*self_p' if not NULL and sets it to NULL. */
void flood_destroy(flood_t **self_p);

/* Takes a token from the bucket of 'src' (a MAC, 48 bits) come in by
 * 'ingress' (below n_ingress; larger ones share the last) at 'now_us'
 * (monotonic): true if the flood may go.  No allocation; a few probes of
 * one cache line. */
bool flood_allow(flood_t *self, uint64_t src, uint32_t ingress,
                 uint64_t now_us);

/* The counters: the owner thread's only (the agent counts what it
 * publishes in its own per-thread atomics). */
const struct flood_stats *flood_stats(const flood_t *self);

#endif /* AGENT_FLOOD_H */
