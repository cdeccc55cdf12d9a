/* SPDX-License-Identifier: MIT */
/* The planner service's insides, shared by its two files: plan_svc.c
 * (the loop, the links' lives, reconciling) and plan_svc_book.c (bookings
 * ahead: predicted and scheduled phases).  Not for other modules. */
#ifndef PLAN_SVC_INT_H
#define PLAN_SVC_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "authz.h"
#include "bus.h"
#include "plan_agent.h"
#include "plan_book.h"
#include "plan_core.h"
#include "plan_cost.h"
#include "plan_link.h"
#include "plan_predict.h"
#include "plan_sched.h"
#include "plan_svc.h"
#include "plan_vmloc.h"

#define RS(X) VR__RESV_STATE__RESV_STATE_##X
#define DK(X) VR__DECISION_KIND__DECISION_##X

/* A ResvRequest that got no reply is sent again (same id) after this. */
#define PLAN_SVC_ASK_RETRY_US UINT64_C(1000000)
/* Releases the broker did not take, remembered at most. */
#define PLAN_SVC_UNRELEASED_MAX 256

struct plan_svc {
    svc_t *svc;
    const struct plan_cfg *cfg;
    bus_t *bus;
    /* The owner the broker records for our reservations: the identity it
     * knows us by, "planner" (s_own_identity()). */
    char owner[AUTHZ_ROLE_SIZE + AUTHZ_NAME_SIZE];
    zsock_t *events, *agg_sub, *resv_sub;
    bus_client_t *broker, *aggregator;
    bus_client_t *sync;         /* broker, short timeout: its list */
    uint64_t next_sync_us, sync_backoff_us;
    plan_core_t *core;
    plan_costs_t *costs;        /* path costs per network */
    plan_vmloc_t *vmloc;        /* the VMs of each host, from topologies */
    struct plan_agents agents;  /* known from announcements */
    uint64_t next_age_us;       /* plan_svc_now() of the next aging */
    struct plan_links links;    /* the held links */
    bool synced;                /* broker's reservations read */
    bool agg_queried;           /* its agents and topology read */
    uint64_t next_agg_us, agg_backoff_us;   /* asked again then */
    uint64_t n_agg_query_failed;
    /* Reservations whose release the broker did not take (it was down):
     * their pair is not reserved again until they are gone, so that it
     * is never reserved twice.  The oldest goes when it is full. */
    struct plan_unreleased {
        char resv_id[PLAN_LINK_ID_LEN];
        char a[PLAN_HOST_LEN], b[PLAN_HOST_LEN];
    } unreleased[PLAN_SVC_UNRELEASED_MAX];
    size_t n_unreleased;
    uint64_t n_reserve_held_back;   /* reserves waiting for a release */
    uint64_t n_restart_holds;   /* paths kept over an agent's restart */
    uint64_t topo_version;
    uint64_t topo_gen;          /* topologies taken in: VM pairs may move */
    uint64_t t0_us;
    uint64_t next_decision;
    uint64_t next_reconcile_us; /* plan_svc_now() of the next reconcile */
    uint64_t n_reserve_limited;     /* refused for a limit, asked again */
    uint64_t n_topologies, n_reserve_asked, n_reserve_refused, n_switches,
        n_failures, n_released, n_adopted, n_stale_removed;
    uint64_t n_reserve_no_reply;    /* ResvRequests without a reply */
    uint64_t n_reserving_timeouts;  /* RESERVING given up */
    uint64_t n_reconciles, n_reconcile_failed;
    uint64_t n_orphans_released;    /* ours at the broker, not held */
    uint64_t n_replanned;           /* the broker lost their reservation */
    uint64_t n_rules_restored;      /* rules put back on agents */
    uint64_t n_links_rewired;       /* links made again on agents */
    uint64_t last_switch_us;    /* elapsed from RESERVE to SWITCH */
    /* Bookings ahead (predict: true). */
    plan_predict_t *predict;
    struct plan_books books;
    struct plan_link_info *infos;   /* the core's selection, each tick */
    size_t infos_max;
    uint64_t n_booked, n_book_refused, n_book_taken, n_book_cancelled;
    uint64_t pred_id;           /* the last prediction, and its paths */
    size_t pred_taken;          /* taken so far */
    plan_sched_t *sched;        /* known phases (schedule:), or NULL */
    struct plan_prediction *sched_pr;   /* scratch for s_sched_tick */
};


/* Microseconds since the service started (monotonic). */
uint64_t plan_svc_now(const plan_svc_t *self);

/* Logs a decision of 'kind' (vr.DecisionKind) and publishes it. */
void plan_svc_decide(plan_svc_t *self, int kind, const char *a,
                     const char *b, double demand, const char *resv_id,
                     const char *link, uint64_t elapsed_us,
                     const char *fmt, ...)
    __attribute__((format(printf, 9, 10)));

/* The name of a vr.ResvState. */
const char *plan_svc_resv_state_name(int s);

/* Applies 'ev' to held link 'h' (plan_link.h); a refused event is
 * logged and counted. */
int plan_svc_apply(plan_svc_t *self, struct plan_link *h,
                   enum plan_link_event ev, const char *resv_id);

/* A reservation request for 'a'-'b' under 'request_id' as the planner
 * asks for one (its bandwidth, its owner); the strings are borrowed. */
void plan_svc_resv_request(const plan_svc_t *self, Vr__ResvRequest *req,
                           const char *a, const char *b,
                           const char *request_id);

/* Asks the broker to release reservation 'resv_id' of link a-b; a
 * failure is left to the next reconcile, and the pair is not reserved
 * again before (plan_svc_unreleased()). */
void plan_svc_resv_release(plan_svc_t *self, const char *resv_id,
                           const char *why, const char *a, const char *b);

/* True if a reservation of pair a-b (either order) is still waiting for
 * its release to be taken by the broker. */
bool plan_svc_unreleased(const plan_svc_t *self, const char *a,
                         const char *b);

/* Held link 'h' takes reservation 'r' as its own. */
void plan_svc_take_resv(plan_svc_t *self, struct plan_link *h,
                        const Vr__Reservation *r);

/* plan_svc_book.c: bookings ahead. */

/* The booking reservation 'r' answers, or NULL. */
struct plan_booking *plan_svc_book_for(plan_svc_t *self,
                                       const Vr__Reservation *r);

/* Booking 'bk' heard of its reservation 'r' (a broker event or list). */
void plan_svc_book_heard(plan_svc_t *self, struct plan_booking *bk,
                         const Vr__Reservation *r);

/* The core wants the link of 'bk': its booked path is taken (true), or
 * false if it cannot be (not usable yet). */
bool plan_svc_book_take(plan_svc_t *self, struct plan_booking *bk,
                        double demand);

/* Cancels booking 'bk' (its reservation released), for 'why'. */
void plan_svc_book_cancel(plan_svc_t *self, struct plan_booking *bk,
                          const char *why);

/* Each tick: the predictor and the schedule fed, bookings asked for,
 * taken or cancelled. */
void plan_svc_book_tick(plan_svc_t *self, uint64_t now);

#endif
