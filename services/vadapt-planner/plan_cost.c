/* SPDX-License-Identifier: MIT */
/* Path costs per network, learned from reservation records.  See
 * plan_cost.h. */
#include "plan_cost.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "fieldcheck.h"

enum { S_ID_LEN = 64 };

static const uint64_t s_day_us = UINT64_C(86400000000);

/* A reservation followed. */
struct s_track {
    char id[S_ID_LEN];
    uint64_t releasing_us;      /* its RELEASING record's time; 0: none */
    bool setup_done;            /* its set-up was measured */
    bool teardown_done;
    bool used;
};

struct plan_costs {
    struct plan_cost_est nets[PLAN_COST_NETWORKS];
    size_t n_nets;
    struct s_track track[PLAN_COST_TRACKED];
    size_t next;                /* ring position of the next new one */
    uint64_t prior_setup, prior_teardown;
    uint64_t refused;
};

plan_costs_t *
plan_costs_new(uint64_t prior_setup_us, uint64_t prior_teardown_us)
{
    plan_costs_t *self = calloc(1, sizeof *self);
    if (self) {
        self->prior_setup = prior_setup_us;
        self->prior_teardown = prior_teardown_us;
    }
    return self;
}

void
plan_costs_destroy(plan_costs_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

static struct s_track *
s_track(plan_costs_t *self, const char *id)
{
    for (size_t i = 0; i < PLAN_COST_TRACKED; i++) {
        if (self->track[i].used && !strcmp(self->track[i].id, id)) {
            return &self->track[i];
        }
    }
    struct s_track *t = &self->track[self->next];
    self->next = (self->next + 1) % PLAN_COST_TRACKED;
    memset(t, 0, sizeof *t);
    strcpy(t->id, id);          /* length checked by the caller */
    t->used = true;
    return t;
}

/* The network's estimate, made (from the prior) if new: the least
 * recently updated one makes room when full. */
static struct plan_cost_est *
s_net(plan_costs_t *self, const char *network, uint64_t now)
{
    for (size_t i = 0; i < self->n_nets; i++) {
        if (!strcmp(self->nets[i].network, network)) {
            return &self->nets[i];
        }
    }
    size_t at = self->n_nets;
    if (at == PLAN_COST_NETWORKS) {
        at = 0;
        for (size_t i = 1; i < self->n_nets; i++) {
            if (self->nets[i].updated_us < self->nets[at].updated_us) {
                at = i;
            }
        }
    } else {
        self->n_nets++;
    }
    struct plan_cost_est *e = &self->nets[at];
    memset(e, 0, sizeof *e);
    strcpy(e->network, network);
    e->setup_us = self->prior_setup;
    e->teardown_us = self->prior_teardown;
    e->updated_us = now;
    return e;
}

static uint64_t
s_mean(uint64_t old, uint32_t n, uint64_t x)
{
    if (n == 0 || old == 0) {
        return x;               /* the first measure replaces the prior */
    }
    return (uint64_t) ((1 - PLAN_COST_WEIGHT) * (double) old
                       + PLAN_COST_WEIGHT * (double) x);
}

bool
plan_costs_feed(plan_costs_t *self, const char *resv_id, const char *network,
                enum plan_cost_phase phase, uint64_t created_us,
                uint64_t updated_us, uint64_t now_us,
                struct plan_cost_est *est)
{
    assert(self);
    if (phase == PLAN_COST_OTHER) {
        return false;
    }
    if (!resv_id || !fieldcheck_is_id(resv_id, S_ID_LEN - 1) || !network
        || !fieldcheck_is_id(network, PLAN_COST_NAME_LEN - 1)
        || updated_us < created_us || updated_us - created_us > s_day_us) {
        self->refused++;
        return false;
    }
    struct s_track *t = s_track(self, resv_id);
    struct plan_cost_est *e = NULL;
    switch (phase) {
    case PLAN_COST_ACTIVE:
        if (!t->setup_done) {
            t->setup_done = true;
            e = s_net(self, network, now_us);
            e->setup_us = s_mean(e->setup_us, e->n_setups,
                                 updated_us - created_us);
            e->n_setups++;
        }
        break;
    case PLAN_COST_RELEASING:
        if (!t->releasing_us) {
            t->releasing_us = updated_us;
        }
        break;
    case PLAN_COST_RELEASED:
        if (t->releasing_us && !t->teardown_done) {
            t->teardown_done = true;
            if (updated_us < t->releasing_us
                || updated_us - t->releasing_us > s_day_us) {
                self->refused++;
                break;
            }
            e = s_net(self, network, now_us);
            e->teardown_us = s_mean(e->teardown_us, e->n_teardowns,
                                    updated_us - t->releasing_us);
            e->n_teardowns++;
        }
        break;
    case PLAN_COST_OTHER:
        break;
    }
    if (!e) {
        return false;
    }
    e->updated_us = now_us;
    if (est) {
        *est = *e;
    }
    return true;
}

bool
plan_costs_default(const plan_costs_t *self, uint64_t *setup_us,
                   uint64_t *teardown_us)
{
    assert(self && setup_us && teardown_us);
    double s = 0, t = 0;
    size_t n = 0;
    for (size_t i = 0; i < self->n_nets; i++) {
        if (self->nets[i].n_setups) {
            s += (double) self->nets[i].setup_us;
            t += (double) self->nets[i].teardown_us;
            n++;
        }
    }
    if (n) {
        *setup_us = (uint64_t) (s / (double) n);
        *teardown_us = (uint64_t) (t / (double) n);
    } else {
        *setup_us = self->prior_setup;
        *teardown_us = self->prior_teardown;
    }
    return *setup_us > 0;
}

size_t
plan_costs_list(const plan_costs_t *self, struct plan_cost_est *out,
                size_t max)
{
    assert(self);
    for (size_t i = 0; i < self->n_nets && i < max; i++) {
        out[i] = self->nets[i];
    }
    return self->n_nets;
}

uint64_t
plan_costs_refused(const plan_costs_t *self)
{
    return self->refused;
}
