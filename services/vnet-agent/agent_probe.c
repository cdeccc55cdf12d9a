/* SPDX-License-Identifier: MIT */
/* The table of waiting link probes: a small fixed array, scanned (it holds
 * at most PROBE_MAX entries). */
#include "agent_probe.h"

#include <stdio.h>
#include <string.h>

struct agent_probe *
agent_probe_add(struct agent_probes *t, int link, const char *name,
                uint64_t cookie, uint64_t now_us, uint32_t timeout_ms)
{
    if (timeout_ms == 0) {
        timeout_ms = PROBE_TIMEOUT_MS;
    } else if (timeout_ms > PROBE_MAX_TIMEOUT_MS) {
        timeout_ms = PROBE_MAX_TIMEOUT_MS;
    }
    for (size_t i = 0; i < PROBE_MAX; i++) {
        struct agent_probe *p = &t->slot[i];
        if (p->used) {
            continue;
        }
        memset(p, 0, sizeof *p);
        p->used = true;
        p->cookie = cookie;
        p->link = link;
        snprintf(p->link_name, sizeof p->link_name, "%s", name);
        p->t0_us = now_us;
        p->deadline_us = now_us + timeout_ms * 1000ull;
        p->next_send_us = now_us;
        t->n++;
        return p;
    }
    return NULL;
}

struct agent_probe *
agent_probe_find(struct agent_probes *t, uint64_t cookie)
{
    for (size_t i = 0; i < PROBE_MAX && t->n; i++) {
        if (t->slot[i].used && t->slot[i].cookie == cookie) {
            return &t->slot[i];
        }
    }
    return NULL;
}

struct agent_probe *
agent_probe_expired(struct agent_probes *t, uint64_t now_us)
{
    for (size_t i = 0; i < PROBE_MAX && t->n; i++) {
        if (t->slot[i].used && now_us >= t->slot[i].deadline_us) {
            return &t->slot[i];
        }
    }
    return NULL;
}

struct agent_probe *
agent_probe_due(struct agent_probes *t, uint64_t now_us)
{
    for (size_t i = 0; i < PROBE_MAX && t->n; i++) {
        struct agent_probe *p = &t->slot[i];
        if (p->used && now_us >= p->next_send_us) {
            p->next_send_us = now_us + PROBE_RESEND_MS * 1000ull;
            return p;
        }
    }
    return NULL;
}

void
agent_probe_done(struct agent_probes *t, struct agent_probe *p)
{
    if (p->used) {
        p->used = false;
        t->n--;
    }
}
