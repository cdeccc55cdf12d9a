/* SPDX-License-Identifier: MIT */
/* Links removed by request linger.  A path being released still carries
 * what was sent over it before the far end stopped sending: frames in
 * the queues of the underlay and on the wire (a tbf queue of 50 ms, a
 * lightpath's propagation).  Freed at once, the link would refuse them,
 * and the move back to the star would lose frames.  So a LinkRemove
 * retires the link: at once it sends nothing more (its rules and learned
 * MACs leave the forwarding table in one snapshot, it starts no
 * handshake and says no hello) and no request finds it by name, but it
 * still takes what arrives on it, in user space and on the kernel's fast
 * path, for link_linger_ms; then it is freed.  A link made again under
 * its name (or on its VLAN) replaces it at once, and one that needs its
 * slot takes it.  Control thread. */
#include "agent_priv.h"

#include <stdio.h>

#include "log.h"
#include "vtime.h"

LOG_MODULE("agent_linger");

enum { S_TICK_MS = 50 };

static uint64_t
s_rx_frames(const agent_link_t *l)
{
    struct link_stats st;
    agent_link_totals(l, &st);
    return st.rx_frames;
}

static int
s_retire_edit(agent_t *self, fwd_table_t *fwd, void *arg)
{
    int index = *(const int *) arg;
    fwd_table_remove_target(fwd, FWD_LINK, (uint16_t) index);
    learn_forget(self->learn,
                 (struct fwd_action) { FWD_LINK, (uint16_t) index });
    return 0;
}

int
agent_linger_retire(agent_t *self, int index, uint64_t now_us)
{
    agent_link_t *l = self->links[index];
    if (!l || atomic_load(&l->lingering)) {
        return -1;
    }
    if (!self->cfg->link_linger_ms || index == self->proxy_link) {
        return agent_remove_link(self, index);
    }
    /* Before the snapshot: from it on, nothing finds it to send on. */
    atomic_store(&l->lingering, true);
    if (agent_change(self, s_retire_edit, &index) != 0) {
        atomic_store(&l->lingering, false);
        return -1;
    }
    l->linger_until_us = now_us + self->cfg->link_linger_ms * 1000ull;
    l->linger_rx0 = s_rx_frames(l);
    self->links_retired++;
    return 0;
}

/* Frees lingering link 'index' (0, or -1 out of memory: left for the
 * next tick). */
static int
s_free(agent_t *self, int index, const char *why)
{
    agent_link_t *l = self->links[index];
    uint64_t took = s_rx_frames(l) - l->linger_rx0;
    char name[sizeof l->name];
    snprintf(name, sizeof name, "%s", l->name);
    if (agent_remove_link(self, index) != 0) {
        return -1;
    }
    self->linger_rx_done += took;
    self->links_freed++;
    VLOG_DEBUG("link %s: freed (%s), %llu frames taken while it lingered",
             LOG_ESC(name), why, (unsigned long long) took);
    return 0;
}

int
agent_linger_replace(agent_t *self, const char *name, uint32_t vlan)
{
    int rc = 0;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        const agent_link_t *l = self->links[i];
        if (l && atomic_load(&l->lingering)
            && (!strcmp(l->name, name) || (vlan && l->vlan == vlan))
            && s_free(self, i, "made again") != 0) {
            rc = -1;
        }
    }
    return rc;
}

bool
agent_linger_free_one(agent_t *self)
{
    int oldest = -1;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        const agent_link_t *l = self->links[i];
        if (l && atomic_load(&l->lingering)
            && (oldest < 0
                || l->linger_until_us
                       < self->links[oldest]->linger_until_us)) {
            oldest = i;
        }
    }
    return oldest >= 0 && s_free(self, oldest, "its slot needed") == 0;
}

size_t
agent_linger_count(const agent_t *self)
{
    size_t n = 0;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        n += self->links[i] && atomic_load(&self->links[i]->lingering);
    }
    return n;
}

uint64_t
agent_linger_rx(const agent_t *self)
{
    uint64_t n = self->linger_rx_done;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        const agent_link_t *l = self->links[i];
        if (l && atomic_load(&l->lingering)) {
            n += s_rx_frames(l) - l->linger_rx0;
        }
    }
    return n;
}

static int
s_on_tick(svc_t *svc, void *arg)
{
    agent_t *self = arg;
    (void) svc;
    uint64_t now = vtime_mono_us();
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        const agent_link_t *l = self->links[i];
        if (l && atomic_load(&l->lingering) && now >= l->linger_until_us) {
            s_free(self, i, "its linger is over");
        }
    }
    return 0;
}

int
agent_linger_start(agent_t *self)
{
    return svc_add_timer(self->svc, S_TICK_MS, s_on_tick, self);
}
