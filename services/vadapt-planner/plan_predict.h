/* SPDX-License-Identifier: MIT */
/* Phase prediction for the vadapt-planner (issue 18, item 4): learns the
 * phases of an application from the planner's selection over time and
 * says which phase comes next, when, and for how long, so that the
 * service can book that phase's paths ahead and have them up when it
 * starts.  Pure: no bus, no clock (the caller passes monotonic time in
 * microseconds), no logging.
 *
 * Phases.  The caller gives, every tick, the set of host links the core
 * selects (plan_core_links(), 'selected'), whatever the hysteresis.  A set
 * that stays the same, and not empty, for min_phase_us is a phase; it
 * started when the selection left the phase before it, or stopped being
 * empty, whichever came later: the sets it went through on the way (links
 * fading out, new ones not yet known) belong to it, so phase starts keep
 * the application's rhythm, not the jitter of a transition.  A confirmed
 * phase goes on
 * through flickers: it ends only when the selection has been something
 * else for min_phase_us (then at the moment it changed).  A phase is
 * named by its signature, a 64-bit hash of its sorted links; at most
 * PLAN_PREDICT_MAX_LINKS links of a phase are kept (the hash covers all).
 * The last PLAN_PREDICT_HISTORY phases are kept, oldest dropped first.
 *
 * Prediction (a successor rule).  When a phase with signature S is
 * confirmed, the history is searched for the last 'repeats' phases with
 * signature S that had a successor (the next phase in the history), and
 * that came after a phase of the same signature as the one before this S
 * (order 2: a short transition between two phases is told apart by what
 * it follows); with fewer than 'repeats' such, any phase S counts.  If
 * those successors all have one signature T, and the offsets from each S
 * start to its successor's start agree (largest minus smallest within
 * max(tolerance_us, tolerance_frac x their mean)), the next phase is
 * predicted: T, starting at this S's start plus the mean offset, lasting
 * as long as T lasted last time.  At most one prediction is open at a
 * time: a phase that confirms before the open prediction was decided
 * decides it.  So a misprediction costs at most one unused booking per
 * phase.
 *
 * Outcome.  The open prediction is a HIT when a phase of signature T
 * starts within [start - window, start + window] (window as above, over
 * the offsets); a MISS when another phase starts from start - window on,
 * or when start + window passes without T.  A phase that starts before
 * start - window (an intermediate one) leaves it open. */
#ifndef PLAN_PREDICT_H
#define PLAN_PREDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan_core.h"

enum {
    PLAN_PREDICT_HISTORY = 64,      /* phases remembered */
    PLAN_PREDICT_MAX_LINKS = 256,   /* links kept per phase */
    PLAN_PREDICT_MAX_EVENTS = 4,    /* events one observation can give */
    PLAN_PREDICT_MAX_REPEATS = 16,  /* bound of 'repeats' */
};

#define PLAN_PREDICT_DEFAULT_MIN_PHASE_US UINT64_C(2000000)
#define PLAN_PREDICT_DEFAULT_REPEATS 2
#define PLAN_PREDICT_DEFAULT_TOLERANCE_US UINT64_C(2000000)
#define PLAN_PREDICT_DEFAULT_TOLERANCE_FRAC 0.2

struct plan_predict_params {
    uint64_t min_phase_us;      /* a selection this stable is a phase */
    uint32_t repeats;           /* successor seen this many times, 1..16 */
    uint64_t tolerance_us;      /* offsets agree within this... */
    double tolerance_frac;      /* ...or this fraction of their mean */
};

/* Fills 'p' with the defaults above. */
void plan_predict_params_default(struct plan_predict_params *p);

/* True if 'p' is in range (min_phase_us 100 ms..1 h, repeats 1..16,
 * tolerance_us at most 1 h, tolerance_frac in [0, 1]); else false with
 * the field named in 'err'. */
bool plan_predict_params_check(const struct plan_predict_params *p,
                               char *err, size_t size);

/* A host link, host_a < host_b. */
struct plan_predict_link {
    char host_a[PLAN_HOST_LEN];
    char host_b[PLAN_HOST_LEN];
};

/* A phase predicted. */
struct plan_prediction {
    uint64_t id;                /* 1, 2, ... */
    uint64_t made_us;           /* when */
    uint64_t sig;               /* the phase expected */
    uint64_t start_us;          /* its expected start */
    uint64_t window_us;         /* +- this */
    uint64_t duration_us;       /* how long it lasted last time */
    uint32_t seen;              /* successions it rests on */
    size_t n_links;
    struct plan_predict_link links[PLAN_PREDICT_MAX_LINKS];
};

enum plan_predict_kind {
    PLAN_PREDICT_PHASE = 1,     /* a phase confirmed */
    PLAN_PREDICT_PREDICTED,     /* the next phase predicted */
    PLAN_PREDICT_HIT,           /* the open prediction came true */
    PLAN_PREDICT_MISS,          /* it did not */
};

struct plan_predict_event {
    enum plan_predict_kind kind;
    uint64_t pred_id;           /* PREDICTED, HIT, MISS */
    uint64_t sig;               /* the phase confirmed, or predicted */
    uint64_t at_us;             /* PHASE: its start; HIT: the start */
    size_t n_links;             /* PHASE: the phase's links */
    char reason[PLAN_REASON_LEN];
};

struct plan_predict_events {
    size_t n;
    struct plan_predict_event v[PLAN_PREDICT_MAX_EVENTS];
};

typedef struct plan_predict plan_predict_t;

/* NULL when 'params' is invalid or memory is short; 'params' NULL: the
 * defaults. */
plan_predict_t *plan_predict_new(const struct plan_predict_params *params);
void plan_predict_destroy(plan_predict_t **self_p);

/* The selection at 'now_us' ('n' links, each either order, repeats and
 * bad names ignored).  Fills '*out' with what it led to, in order.
 * Returns 0, or -1 when memory is short (nothing changed). */
int plan_predict_observe(plan_predict_t *self, uint64_t now_us,
                         const struct plan_link_key *sel, size_t n,
                         struct plan_predict_events *out);

/* The open prediction, or NULL; borrowed until the next observe. */
const struct plan_prediction *plan_predict_open(const plan_predict_t *self);

/* The signature of the current phase (0 when none is confirmed). */
uint64_t plan_predict_current(const plan_predict_t *self);

struct plan_predict_counters {
    uint64_t phases;            /* confirmed */
    uint64_t predictions;
    uint64_t hits;
    uint64_t misses;
    uint64_t links_dropped;     /* over PLAN_PREDICT_MAX_LINKS or bad */
};

void plan_predict_get_counters(const plan_predict_t *self,
                               struct plan_predict_counters *out);

#endif /* PLAN_PREDICT_H */
