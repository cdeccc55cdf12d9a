/* SPDX-License-Identifier: MIT */
/* The VM thread: bursts of frames from the local VMs' ports (one epoll),
 * each learned, counted for VTTIF (agent_acct) and forwarded by the
 * current snapshot: to another local port, to a link, or flooded within
 * the source's limit.  Frames the fast path carries arrive cut, and are
 * only counted.  It also ages the accounting pairs, their one writer. */
#include "agent_path.h"

#include <sys/epoll.h>

#include "log.h"
#include "vtime.h"

LOG_MODULE("agent_vm");

/* Wire frames in a super-frame, for the matrix's frame counts. */
static uint64_t
s_n_segments(const struct port_frame *f)
{
    if (!f->has_vnet || f->vnet.gso_size == 0
        || f->size <= (size_t) f->vnet.csum_start + 60) {
        return 1;
    }
    size_t payload = f->size - f->vnet.csum_start;
    return (payload + f->vnet.gso_size - 1) / f->vnet.gso_size;
}
/* ------------------------------------------------------------------ */
/* VM thread: frames from local VMs */

/* A broadcast, or a frame for an unknown MAC ('unicast'), from local port
 * 'port': to the other local VMs, and to every agent (the proxy) or to the
 * proxy, within the source's flood limit.  A member's unknown unicast
 * goes to the proxy whatever the limit: that is its route to every remote
 * VM, not a flood; only its copies to the other local ports are one. */
static void
s_vm_flood(agent_t *self, struct agent_seen *seen,
           const struct agent_snap *snap, size_t port,
           const struct port_frame *f, const struct encap_vnet *vnet,
           bool unicast)
{
    uint64_t src = eth_mac_to_u64(f->data + ETH_ADDR_LEN);
    bool member = !self->cfg->proxy;
    if (member && unicast) {
        agent_path_to_link(self, AGENT_T_VM, snap, snap->proxy_link, f->data,
                           f->size, vnet, 0);
        if (snap->n_ports > 1 && agent_path_flood_ok(self, AGENT_T_VM, seen,
                                                     src, (uint16_t) port,
                                                     true)) {
            agent_path_flood_ports(self, AGENT_T_VM, snap, port, f->data,
                                   f->size, vnet);
        }
        return;
    }
    if (!agent_path_flood_ok(self, AGENT_T_VM, seen, src, (uint16_t) port,
                             unicast)) {
        return;
    }
    agent_path_flood_ports(self, AGENT_T_VM, snap, port, f->data, f->size,
                           vnet);
    if (member) {
        agent_path_to_link(self, AGENT_T_VM, snap, snap->proxy_link, f->data,
                           f->size, vnet, 0);
        agent_path_inc(&self->tstats[AGENT_T_VM].flood_copies, 1);
    } else {
        agent_path_flood_links(self, AGENT_T_VM, snap, -1, f->data, f->size,
                               vnet, 0);
    }
}

static void
s_vm_frame(agent_t *self, struct agent_seen *seen,
           const struct agent_snap *snap, size_t port,
           const struct port_frame *f)
{
    struct agent_tstats *st = &self->tstats[AGENT_T_VM];
    const struct encap_vnet *vnet = f->has_vnet ? &f->vnet : NULL;
    uint64_t dst = eth_mac_to_u64(f->data);
    uint64_t src = eth_mac_to_u64(f->data + ETH_ADDR_LEN);

    agent_path_inc(&st->frames_in, 1);
    agent_path_inc(&st->bytes_in, f->size);
    agent_path_learn(self, AGENT_T_VM, seen, snap, src, FWD_PORT,
                     (uint16_t) port);
    if (self->cfg->accounting) {
        acct_count(self->acct, src, dst, f->size, s_n_segments(f));
    }
    if (f->cut) {
        /* The fast path's: the kernel sent it over a circuit. */
        agent_path_inc(&st->fast_frames, 1);
        agent_path_inc(&st->fast_bytes, f->size);
        return;
    }

    if (eth_mac_is_multicast(dst)) {
        s_vm_flood(self, seen, snap, port, f, vnet, false);
        return;
    }
    struct fwd_action a =
        fwd_cache_lookup(&self->caches[AGENT_T_VM], snap->fwd, dst, src);
    switch (a.kind) {
    case FWD_LINK:
        agent_path_to_link(self, AGENT_T_VM, snap, a.index, f->data, f->size,
                           vnet, 0);
        break;
    case FWD_PORT:
        if (a.index != port) {
            agent_path_inject(self, AGENT_T_VM, snap, a.index, f->data,
                              f->size, vnet);
        }
        break;
    case FWD_DROP:
        break;
    default:
        /* Unknown unicast: like a switch, everywhere it might be. */
        s_vm_flood(self, seen, snap, port, f, vnet, true);
        break;
    }
}

void *
agent_vm_thread(void *arg)
{
    agent_t *self = arg;
    struct epoll_event evs[AGENT_MAX_PORTS];
    struct port_frame frames[PORT_BURST];
    struct agent_seen *seen = calloc(1, sizeof *seen);
    if (!seen) {
        VLOG_ERR("vm thread: out of memory");
        return NULL;
    }
    /* A pair idle for a whole period has been published since its last
     * frame; acct_age_ms is rounded up to whole periods. */
    uint64_t sweep_us = self->cfg->period_ms * 1000ull;
    uint32_t sweep_rounds = (uint32_t) ((self->cfg->acct_age_ms
                                         + self->cfg->period_ms - 1)
                                        / self->cfg->period_ms);
    uint64_t next_sweep_us = vtime_mono_us() + sweep_us;
    while (!atomic_load_explicit(&self->stop, memory_order_relaxed)) {
        int n = epoll_wait(self->vm_epoll, evs, AGENT_MAX_PORTS, 100);
        seen->now_us = vtime_mono_us();
        if (seen->now_us >= next_sweep_us && self->cfg->accounting) {
            /* The accounting's writer ages its pairs, once a period. */
            acct_sweep(self->acct, sweep_rounds);
            next_sweep_us = seen->now_us + sweep_us;
        }
        if (n <= 0) {
            continue;
        }
        atomic_store(&self->active[AGENT_T_VM], atomic_load(&self->epoch));
        const struct agent_snap *snap = atomic_load(&self->snap);
        for (int i = 0; i < n; i++) {
            size_t port = evs[i].data.u32;
            if (port >= snap->n_ports || !snap->ports[port]) {
                continue;
            }
            size_t m = agent_port_recv(snap->ports[port], frames,
                                       PORT_BURST);
            for (size_t k = 0; k < m; k++) {
                s_vm_frame(self, seen, snap, port, &frames[k]);
            }
        }
        atomic_store(&self->active[AGENT_T_VM], 0);
    }
    free(seen);
    return NULL;
}

