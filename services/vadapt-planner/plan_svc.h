/* SPDX-License-Identifier: MIT */
/* vadapt-planner, the service (VADAPT): topology events in, reservations
 * and forwarding changes out.
 *
 * It follows the aggregator's topology events (VM pairs with rates, and
 * where each VM runs) and agent announcements, hands them to plan_core
 * (which derives the host links E, selects H, runs the T_up/T_down timers
 * and the reservation cap), and carries out what the core decides:
 *  - RESERVE a host link: ask the broker (owner "planner", one request id
 *    per held link, plan_link.h).  When the
 *    reservation is ACTIVE, create an overlay link "vr-<resv_id>" on both
 *    agents over the path (the path's link addresses), probe it from both
 *    ends, and only then move the VM pairs' forwarding rules onto it
 *    (make-before-break: until then the frames keep their old path).  If
 *    the broker refuses (not reservable, a limit, blocked) or the path
 *    fails, a direct link "vd-<a>-<b>" over the commodity network takes
 *    its place (H - R).
 *  - RELEASE a host link: remove the rules first (frames fall back to the
 *    star), then the links, then release the reservation.
 * Every action is logged and published as a vr.Decision.
 *
 * Every reconcile_ms it compares the broker's list with its held links
 * (releasing reservations of ours it does not hold, re-planning links
 * whose reservation is gone) and the agents' links and rules with those
 * of its links in use (putting back what an operator removed).
 *
 * Restart: nothing is kept in memory across a restart.  Before planning,
 * the planner reads the broker's open reservations it owns (and seeds the
 * core with them, so none is asked for twice) and, as each agent appears,
 * its links: ownership is by reservation (see README.md). */
#ifndef PLAN_SVC_H
#define PLAN_SVC_H

#include "cfg.h"
#include "svc.h"

#define PLAN_DEFAULT_CONTROL "tcp://127.0.0.1:7130"
#define PLAN_DEFAULT_EVENTS "tcp://127.0.0.1:7131"
#define PLAN_DEFAULT_AGGREGATOR "tcp://127.0.0.1:7120"
#define PLAN_DEFAULT_AGG_EVENTS "tcp://127.0.0.1:7121"
#define PLAN_DEFAULT_BROKER "tcp://127.0.0.1:7140"
#define PLAN_DEFAULT_BROKER_EVENTS "tcp://127.0.0.1:7141"
/* The broker's list every 5 s, as the broker reads the adapter's: a lost
 * event costs at most that.  RESERVING gives up after 3 min: a path takes
 * ~17.5 s on OMNInet and the broker's own provisioning timeout is 2 min,
 * so its verdict normally comes first. */
#define PLAN_DEFAULT_RECONCILE_MS 5000
#define PLAN_DEFAULT_RESERVING_TIMEOUT_MS 180000

/* A host's number of reservable ports, for b-matching. */
struct plan_ports_cfg {
    char *host;
    uint32_t ports;
};

struct plan_cfg {
    struct svc_common_cfg common;
    char *events;               /* PUB: decisions */
    char *aggregator;           /* REQ: topology and agent list at start */
    char *aggregator_events;    /* SUB: topology, announcements */
    char *broker;               /* REQ: reservations */
    char *broker_events;        /* SUB: reservation events */
    char *policy;               /* "top-k" or "b-matching" */
    char *selection;            /* b-matching: "greedy" or "exact" */
    uint32_t exact_max_links;   /* exact: greedy above this many links */
    uint32_t k;
    uint32_t ports;             /* b(h) of hosts not listed */
    struct cfg_seq port_limits; /* struct plan_ports_cfg */
    double min_demand_mbps;
    double release_mbps;
    double keep_bonus;
    uint32_t t_up_ms;
    uint32_t t_down_ms;
    uint32_t live_max_age_ms;
    double hold_cost;           /* cost rule (plan_core.h) */
    uint32_t select_grace_ms;   /* hysteresis (plan_core.h) */
    uint32_t wait_min_ms;
    uint32_t max_agents;        /* agents known at most */
    uint32_t agent_forget_ms;   /* silent and unused this long: forgotten */
    uint32_t restart_hold_ms;   /* held paths kept over an agent's restart */
    uint32_t path_setup_ms;     /* prior; 0: unknown until learned */
    uint32_t path_teardown_ms;
    bool learn_costs;           /* from the broker's reservations */
    uint32_t max_adds;          /* reservations per window */
    uint32_t add_window_s;
    uint32_t tick_ms;
    bool reserve;               /* false: commodity direct links only */
    double bandwidth_mbps;      /* asked of the broker; 0: its default */
    uint32_t link_mtu;          /* of reserved links; 0: agent default */
    uint32_t probe_timeout_ms;
    uint32_t call_timeout_ms;
    uint32_t reconcile_ms;      /* broker list and agents' rules checked */
    uint32_t reserving_timeout_ms; /* RESERVING at most this long */
    bool predict;               /* book predicted phases ahead */
    uint32_t predict_min_phase_ms;
    uint32_t predict_repeats;
    uint32_t predict_tolerance_ms;
    uint32_t predict_lead_ms;   /* booked this long before set-up */
    struct cfg_seq schedule;    /* struct plan_sched_cfg: known phases */
};

extern const struct cfg_key plan_cfg_keys[];

/* The service: its name, role and config (main.c, and the tests and
 * fuzz harnesses that drive it without sockets). */
extern const struct svc_def plan_svc_def;

typedef struct plan_svc plan_svc_t;

/* Builds the core from 'cfg', binds and connects the sockets and
 * registers the handlers with 'svc'.  Returns NULL with the reason in
 * 'err' (a config error: the caller exits 2) or logged. */
/* Checks 'cfg' as plan_svc_new() would (policy, params against each
 * other), for --check.  Returns false with the reason in 'err'. */
bool plan_cfg_check(const struct plan_cfg *cfg, char *err, size_t size);

plan_svc_t *plan_svc_new(svc_t *svc, const struct plan_cfg *cfg, char *err,
                         size_t size);

/* Frees '*self_p' if not NULL and sets it to NULL. */
void plan_svc_destroy(plan_svc_t **self_p);

/* Takes one message of the planner's subscriptions (TopologyEvent,
 * AgentAnnounce, GlobalMatrix, ResvEvent), as received there.  Returns
 * false for any other type.  The subscriptions' reader calls it; so does
 * tests/fuzz/fuzz_planner_svc.c. */
bool plan_svc_take(plan_svc_t *self, const bus_msg_t *msg);

#endif /* PLAN_SVC_H */
