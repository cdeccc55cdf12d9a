/* SPDX-License-Identifier: MIT */
#include "plan_agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
plan_agents_init(struct plan_agents *t, size_t max, uint64_t forget_us,
                 plan_agent_in_use_fn *in_use, void *arg)
{
    *t = (struct plan_agents) {
        .max = max ? max : 1,
        .forget_us = forget_us,
        .in_use = in_use,
        .arg = arg,
    };
}

void
plan_agents_uninit(struct plan_agents *t)
{
    for (size_t i = 0; i < t->n; i++) {
        bus_client_destroy(&t->v[i].client);
    }
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

struct plan_agent *
plan_agents_find(struct plan_agents *t, const char *id)
{
    for (size_t i = 0; i < t->n; i++) {
        if (!strcmp(t->v[i].id, id)) {
            return &t->v[i];
        }
    }
    return NULL;
}

static bool
s_in_use(const struct plan_agents *t, const struct plan_agent *ag)
{
    return t->in_use && t->in_use(t->arg, ag->id);
}

/* Drops agent 'i': its client goes, the last takes its place. */
static void
s_remove(struct plan_agents *t, size_t i)
{
    bus_client_destroy(&t->v[i].client);
    t->v[i] = t->v[--t->n];
}

/* Of the PLAN_AGENTS_EVICT_TRIES agents heard from longest ago, the
 * oldest not in use; -1 if none. */
static long
s_victim(const struct plan_agents *t)
{
    size_t tried[PLAN_AGENTS_EVICT_TRIES];
    size_t n_tried = 0;
    while (n_tried < PLAN_AGENTS_EVICT_TRIES) {
        long best = -1;
        for (size_t i = 0; i < t->n; i++) {
            bool seen = false;
            for (size_t j = 0; j < n_tried && !seen; j++) {
                seen = tried[j] == i;
            }
            if (!seen && (best < 0
                          || t->v[i].heard_us < t->v[best].heard_us)) {
                best = (long) i;
            }
        }
        if (best < 0) {
            return -1;
        }
        if (!s_in_use(t, &t->v[best])) {
            return best;
        }
        tried[n_tried++] = (size_t) best;
    }
    return -1;
}

struct plan_agent *
plan_agents_add(struct plan_agents *t, const char *id, uint64_t boot_id,
                uint64_t now_us)
{
    if (t->n >= t->max) {
        long victim = s_victim(t);
        if (victim < 0) {
            t->n_refused++;
            return NULL;
        }
        s_remove(t, (size_t) victim);
        t->n_evicted++;
    } else {
        struct plan_agent *v = realloc(t->v, (t->n + 1) * sizeof *v);
        if (!v) {
            return NULL;
        }
        t->v = v;
    }
    struct plan_agent *ag = &t->v[t->n++];
    memset(ag, 0, sizeof *ag);
    snprintf(ag->id, sizeof ag->id, "%s", id);
    ag->boot_id = boot_id;
    ag->heard_us = now_us;
    return ag;
}

size_t
plan_agents_age(struct plan_agents *t, uint64_t now_us)
{
    size_t gone = 0;
    for (size_t i = 0; i < t->n;) {
        const struct plan_agent *ag = &t->v[i];
        if (now_us > ag->heard_us && now_us - ag->heard_us > t->forget_us
            && !s_in_use(t, ag)) {
            s_remove(t, i);
            gone++;
        } else {
            i++;
        }
    }
    t->n_forgotten += gone;
    return gone;
}
