/* SPDX-License-Identifier: MIT */
/* Known phases (issue 18): a schedule of phases given ahead, by whoever
 * knows the job's plan (a batch scheduler, an operator, the benchmark's
 * oracle), in the planner's config:
 *
 *   schedule:
 *     - {start_unix_ms: 1765000000000, duration_ms: 20000,
 *        links: ["h1 h2", "h2 h3"]}
 *
 * Each entry is a phase: the host links it needs from its start, for its
 * duration.  The service books each phase's paths ahead as it books a
 * predicted phase's (plan_book.h), so they are up at its start, and moves
 * the phase's traffic onto them at the start without waiting to see the
 * traffic.  An entry whose end has passed is dropped (the aging rule);
 * one that started already is booked at once.  Pure: no bus, no clock
 * (the caller passes wall-clock time), no logging. */
#ifndef PLAN_SCHED_H
#define PLAN_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "plan_predict.h"

enum {
    PLAN_SCHED_MAX = 1024,          /* entries of a schedule */
};

/* Prediction ids of scheduled phases: PLAN_SCHED_ID_BASE + the entry's
 * index, apart from the predictor's (1, 2, ...). */
#define PLAN_SCHED_ID_BASE (UINT64_C(1) << 62)
#define PLAN_SCHED_MAX_START_MS INT64_C(32503680000000)  /* year 3000 */
#define PLAN_SCHED_MAX_DURATION_MS UINT32_C(86400000)      /* a day */

/* One entry as the config gives it (plan_sched_cfg_keys). */
struct plan_sched_cfg {
    int64_t start_unix_ms;          /* wall clock, ms since the epoch */
    uint32_t duration_ms;
    struct cfg_strlist links;       /* "hostA hostB" each */
};

/* The key table of one entry, for a CFG_KEY_SEQ. */
extern const struct cfg_key plan_sched_cfg_keys[];

typedef struct plan_sched plan_sched_t;

/* A schedule of the 'n' entries at 'v': NULL with the entry and what is
 * wrong with it in 'err' when one is bad (more than PLAN_SCHED_MAX
 * entries, no links, more than PLAN_PREDICT_MAX_LINKS, a link not two
 * distinct host names of 1 to PLAN_HOST_LEN - 1 characters, a link
 * twice in one entry) or memory is short.  Entries may overlap. */
plan_sched_t *plan_sched_new(const struct plan_sched_cfg *v, size_t n,
                             char *err, size_t size);
void plan_sched_destroy(plan_sched_t **self_p);

/* Hands out the next entry due by 'now_unix_us': one not handed out yet,
 * whose end is still ahead and whose start is at most 'ahead_us' away.
 * Fills '*out' (id PLAN_SCHED_ID_BASE + index, start_us and made_us in
 * wall-clock us, duration, links host_a < host_b) and returns true;
 * false when none is due.  Entries whose end has passed without being
 * handed out are dropped and counted. */
bool plan_sched_next(plan_sched_t *self, uint64_t now_unix_us,
                     uint64_t ahead_us, struct plan_prediction *out);

struct plan_sched_counters {
    uint64_t entries;           /* in the schedule */
    uint64_t handed;            /* handed out */
    uint64_t expired;           /* ended before they were due */
};

void plan_sched_get_counters(const plan_sched_t *self,
                             struct plan_sched_counters *out);

#endif /* PLAN_SCHED_H */
