/* SPDX-License-Identifier: MIT */
/* A bound on the oclient children the adapter runs at once: at most
 * 'max_running' commands run; the others wait in a FIFO keyed by path
 * number with the operation to run, and start, oldest first, as running
 * ones end.  No processes here: adapter_svc asks for a slot, runs the
 * command itself and says when it is done. */
#ifndef ADAPTER_RUNQ_H
#define ADAPTER_RUNQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct adapter_runq adapter_runq_t;

/* A queue letting 'max_running' (at least 1) run at once.  Returns NULL
 * when out of memory.  The caller owns the result. */
adapter_runq_t *adapter_runq_new(uint32_t max_running);

/* Frees '*self_p' if not NULL and sets it to NULL. */
void adapter_runq_destroy(adapter_runq_t **self_p);

/* Takes a slot if one is free and nobody is waiting: true means "run it
 * now" (and call adapter_runq_done() when it ends); false means "queue it
 * with adapter_runq_push()". */
bool adapter_runq_admit(adapter_runq_t *self);

/* Queues 'op' for path 'key' at the back.  Returns 0, or -1 when out of
 * memory (nothing queued). */
int adapter_runq_push(adapter_runq_t *self, uint64_t key, int op);

/* Removes what is queued for 'key'.  Returns true if something was. */
bool adapter_runq_cancel(adapter_runq_t *self, uint64_t key);

/* A running command ended: frees its slot. */
void adapter_runq_done(adapter_runq_t *self);

/* If a slot is free and something waits, takes the slot, pops the oldest
 * entry into '*key' and '*op' and returns true. */
bool adapter_runq_next(adapter_runq_t *self, uint64_t *key, int *op);

/* Commands running, and waiting. */
size_t adapter_runq_running(const adapter_runq_t *self);
size_t adapter_runq_queued(const adapter_runq_t *self);

/* The most commands that have run, and waited, at once since
 * adapter_runq_new(): a sampled count misses a short peak. */
size_t adapter_runq_peak_running(const adapter_runq_t *self);
size_t adapter_runq_peak_queued(const adapter_runq_t *self);

#endif /* ADAPTER_RUNQ_H */
