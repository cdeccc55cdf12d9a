/* SPDX-License-Identifier: MIT */
/* The aggregator's table of agent announcements: the last checked
 * AgentAnnounce of each agent, for AgentListQuery and for republishing.
 * Only the fields we know are kept, so nothing else a publisher put in
 * is stored or passed on.  Bounded: at most 'max' agents (when full, the
 * one heard from longest ago makes room) and each forgotten once not
 * renewed for a while.  vttif_agg.c feeds it with announcements that
 * vttif_check_announce() passed. */
#ifndef VTTIF_ANN_H
#define VTTIF_ANN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msgtype.h"
#include "vttif_check.h"

typedef struct vttif_ann vttif_ann_t;

/* Counters; all monotonic. */
struct vttif_ann_counters {
    uint64_t added;             /* agents first announced */
    uint64_t aged;              /* forgotten, not renewed in time */
    uint64_t evicted;           /* forgotten to make room, the oldest */
};

/* Creates an empty table for at most 'max' agents (1 or more), its
 * memory allocated at once.  Returns NULL when memory is short.  The
 * caller owns the result. */
vttif_ann_t *vttif_ann_new(size_t max);

/* Frees '*self_p' if it is not NULL, then sets it to NULL. */
void vttif_ann_destroy(vttif_ann_t **self_p);

/* Stores announcement 'a' (checked: vttif_check_announce()), heard at
 * 'now' (seconds, monotonic), in place of the agent's last one.  When the
 * table is full and the agent is new, the one heard from longest ago is
 * forgotten first, its id copied into 'evicted' (if not NULL; "" when
 * none was).  Returns 1 for a new agent, 0 for a known one, -1 (nothing
 * changed) when memory is short. */
int vttif_ann_put(vttif_ann_t *self, const Vr__AgentAnnounce *a, double now,
                  char evicted[VTTIF_CHECK_ID_LEN]);

/* Forgets every announcement not renewed for more than 'timeout_s' at
 * 'now'; returns how many. */
size_t vttif_ann_age(vttif_ann_t *self, double now, double timeout_s);

/* The number of agents in the table. */
size_t vttif_ann_count(const vttif_ann_t *self);

/* Fills '*out' with announcement 'i' (below vttif_ann_count()), as it is
 * to be sent: its strings and MACs are borrowed from the table until the
 * next vttif_ann_put() or vttif_ann_age(). */
void vttif_ann_get(const vttif_ann_t *self, size_t i, Vr__AgentAnnounce *out);

/* Returns the index of agent 'id', or -1. */
long vttif_ann_find(const vttif_ann_t *self, const char *id);

/* Copies the counters into '*out'. */
void vttif_ann_get_counters(const vttif_ann_t *self,
                            struct vttif_ann_counters *out);

#endif /* VTTIF_ANN_H */
