/* SPDX-License-Identifier: MIT */
/* The agents the planner knows, from the aggregator's announcements (its
 * agent list at start, its events after), each with a bus client to its
 * control endpoint.  A table with a cap and an aging rule, as every table
 * fed from outside: an agent not heard from for 'forget_us' that no held
 * link names is forgotten (plan_agents_age()), and at the cap a new agent
 * takes the place of the one heard from longest ago that no link names,
 * or is refused (counted) when the oldest ones are all in use.  The
 * caller says what "in use" is (a callback), and passes the time. */
#ifndef PLAN_AGENT_H
#define PLAN_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "plan_core.h"

enum {
    PLAN_AGENTS_MAX = 1000000,  /* the cap's own bound (config range) */
    /* At the cap, this many of the agents heard from longest ago are
     * looked at for one no link names: bounds an add's cost. */
    PLAN_AGENTS_EVICT_TRIES = 8,
};

/* An agent the planner knows (its announcement). */
struct plan_agent {
    char id[PLAN_HOST_LEN];
    char ctl[256];
    char ip[64];                /* overlay address (commodity) */
    char port[8];               /* overlay port */
    uint64_t boot_id;
    uint64_t heard_us;          /* its last announcement (caller's clock) */
    bus_client_t *client;
    bool scanned;               /* its links looked at once */
};

/* Whether agent 'id' must stay (a held link names it). */
typedef bool plan_agent_in_use_fn(void *arg, const char *id);

struct plan_agents {
    struct plan_agent *v;       /* 'n' agents, in no order */
    size_t n;
    size_t max;                 /* cap */
    uint64_t forget_us;         /* silent this long and unused: forgotten */
    plan_agent_in_use_fn *in_use;
    void *arg;
    uint64_t n_refused;         /* new agents refused at the cap */
    uint64_t n_evicted;         /* agents that gave their place at the cap */
    uint64_t n_forgotten;       /* agents aged out */
};

void plan_agents_init(struct plan_agents *t, size_t max, uint64_t forget_us,
                      plan_agent_in_use_fn *in_use, void *arg);
/* Destroys every agent's client and frees the table. */
void plan_agents_uninit(struct plan_agents *t);

struct plan_agent *plan_agents_find(struct plan_agents *t, const char *id);

/* A new agent 'id' (not in the table; a valid host name), zeroed but for
 * its id, boot id and heard_us = 'now_us'.  At the cap one heard from
 * longest ago that is not in use gives its place (its client destroyed).
 * NULL when the cap holds only agents in use (counted in n_refused) or
 * memory is short.  Any pointer into the table may move. */
struct plan_agent *plan_agents_add(struct plan_agents *t, const char *id,
                                   uint64_t boot_id, uint64_t now_us);

/* Forgets every agent last heard from more than forget_us before 'now_us'
 * that is not in use; returns how many went.  Any pointer into the table
 * may move. */
size_t plan_agents_age(struct plan_agents *t, uint64_t now_us);

#endif
