/* SPDX-License-Identifier: MIT */
/* Where each VM runs, as the topologies said: the VMs of a host.  A path
 * taken for a phase that is known or predicted (plan_book.h) gets the
 * rules for every VM of the host at its other end at once, so the
 * phase's traffic starts on it instead of waiting for the aggregator to
 * report each VM pair's demand (plan_svc.c).
 *
 * A topology names only the VMs its edges use, so the table remembers
 * VMs across topologies: a VM not named for 'max_age_us' is forgotten,
 * and at most PLAN_VMLOC_MAX are kept (the least recently named go
 * first).  A VM named again on another host has moved: its host is
 * replaced.  Pure: no bus, no clock (the caller passes the time). */
#ifndef PLAN_VMLOC_H
#define PLAN_VMLOC_H

#include <stddef.h>
#include <stdint.h>

#include "plan_core.h"

enum { PLAN_VMLOC_MAX = 65536 };

typedef struct plan_vmloc plan_vmloc_t;

/* NULL when memory is short. */
plan_vmloc_t *plan_vmloc_new(uint64_t max_age_us);
void plan_vmloc_destroy(plan_vmloc_t **self_p);

/* Takes the VMs of a topology received at 'now_us': each (MAC, host) is
 * remembered or refreshed; a zero MAC, a MAC over 48 bits or a bad host
 * name (plan_core.h's rules) is skipped.  Forgets what has aged.
 * Returns 0, or -1 when memory is short (the table is then unchanged). */
int plan_vmloc_update(plan_vmloc_t *self, uint64_t now_us,
                      const struct plan_vm_host *vms, size_t n);

/* Copies up to 'max' MACs of the VMs on 'host' (named within max_age_us
 * of 'now_us'), in ascending order, into 'out'; returns how many there
 * are in all. */
size_t plan_vmloc_host(const plan_vmloc_t *self, const char *host,
                       uint64_t now_us, uint64_t *out, size_t max);

/* VMs remembered (aged ones included until the next update). */
size_t plan_vmloc_count(const plan_vmloc_t *self);

#endif
