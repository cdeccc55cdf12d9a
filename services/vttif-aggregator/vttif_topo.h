/* SPDX-License-Identifier: MIT */
/* The topology half of the VTTIF inference core (vttif_topo.c): what
 * vttif_tm.c calls to turn the pairs' rates into candidate edges, events
 * and the published topology.  Only vttif_tm.c calls these; the rules
 * are in vttif_tm.h. */
#ifndef VTTIF_TOPO_H
#define VTTIF_TOPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vttif_tm.h"

/* Puts the topology state of a new core 'self' in its initial state: no
 * candidates, no event yet, normal mode. */
void vttif_topo_init(vttif_tm_t *self);

/* Sets the scales of the topology rules and the largest directed rate
 * from the pairs' current rates.  Rates move with every vttif_tm_feed(),
 * so ticks and queries call this first. */
void vttif_topo_scale(vttif_tm_t *self);

/* The topology part of vttif_tm_tick() at 'now' (after the aging):
 * updates the candidates and, if a rule says so, publishes them into
 * '*ev' and returns true. */
bool vttif_topo_tick(vttif_tm_t *self, double now, struct vttif_tm_event *ev);

/* vttif_tm_topology(): the published edges, sorted. */
size_t vttif_topo_edges(vttif_tm_t *self, struct vttif_tm_edge *out,
                        size_t max, uint64_t *version);

#endif /* VTTIF_TOPO_H */
