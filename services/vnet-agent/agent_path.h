/* SPDX-License-Identifier: MIT */
/* What both packet threads do per frame (agent_vm.c, agent_ovl.c): count
 * without atomic read-modify-writes, find a link by its peer's address
 * in a snapshot, report learned MACs to the control thread (at most once
 * per MAC and place in a while), inject into a local port, flood within
 * the source's limit, send to a link.  Inline: they are the hot path.
 * Not for use outside the agent. */
#ifndef AGENT_PATH_H
#define AGENT_PATH_H

#include <arpa/inet.h>
#include <unistd.h>

#include "agent_priv.h"
#include "eth.h"
#include "hash.h"

/* Adds 'n' to counter 'c', which only the calling thread writes: a load
 * and a store, no locked read-modify-write. */
static inline void
agent_path_inc(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed)
                                 + n, memory_order_relaxed);
}

/* The key of address 'sin' in a snapshot's peer table, and its first
 * slot there. */
static inline uint64_t
agent_path_peer_key(const struct sockaddr_in *sin)
{
    return (uint64_t) ntohl(sin->sin_addr.s_addr) << 16
           | ntohs(sin->sin_port);
}

static inline size_t
agent_path_peer_slot(uint64_t key)
{
    return (size_t) hash_mix64(key) & (AGENT_PEER_HASH - 1);
}

/* The key of link 'l' in the peer table: its endpoint's, without the
 * port for a TCP link (its records come on any connection from its IP). */
static inline uint64_t
agent_path_link_key(const agent_link_t *l)
{
    struct sockaddr_in a;
    agent_link_endpoint(l, &a);
    if (l->tcp) {
        a.sin_port = 0;
    }
    return agent_path_peer_key(&a);
}

/* The index of the link whose endpoint is 'sin' in 'snap' (the first
 * one, if two share it), or -1; '*shared' (if not NULL) says whether
 * other links share it. */
static inline int
agent_path_peer_find(const struct agent_snap *snap,
                     const struct sockaddr_in *sin, bool *shared)
{
    uint64_t key = agent_path_peer_key(sin);
    for (size_t i = agent_path_peer_slot(key);;
         i = (i + 1) & (AGENT_PEER_HASH - 1)) {
        if (snap->peers[i].key == key) {
            if (shared) {
                *shared = snap->peers[i].shared;
            }
            return snap->peers[i].index;
        }
        if (snap->peers[i].key == 0) {
            return -1;
        }
    }
}

static inline int
agent_path_peer_lookup(const struct agent_snap *snap,
                       const struct sockaddr_in *sin)
{
    return agent_path_peer_find(snap, sin, NULL);
}

/* A per-thread memory of what was last reported for a MAC, so a train of
 * frames from a VM sends one learn event, not one per frame; and the
 * thread's clock, read once per burst. */
enum { AGENT_SEEN = 1024 };
struct agent_seen {
    uint64_t mac[AGENT_SEEN];
    uint32_t where[AGENT_SEEN];     /* kind << 16 | index */
    uint64_t when_ms[AGENT_SEEN];
    uint64_t now_us;            /* monotonic, at the start of the burst */
};

/* How often a MAC already learned where it is seen is reported again, so
 * that its owner's claim stays live (learn.claim_ms is at least 1 s). */
enum { AGENT_SEEN_REFRESH_MS = 500, AGENT_SEEN_REPORT_MS = 200 };

/* Reports 'mac' seen behind port or link 'kind'/'index' to the control
 * thread (the learn pipe), unless thread 't' did so a moment ago. */
static inline void
agent_path_learn(agent_t *self, int t, struct agent_seen *seen,
        const struct agent_snap *snap, uint64_t mac, uint16_t kind,
        uint16_t index)
{
    if (eth_mac_is_multicast(mac) || mac == 0) {
        return;
    }
    struct fwd_action a = fwd_table_learned(snap->fwd, mac);
    bool known = a.kind == kind && a.index == index;
    size_t k = (size_t) (mac * HASH_GOLDEN >> 54) & (AGENT_SEEN - 1);
    uint32_t where = (uint32_t) kind << 16 | index;
    uint64_t now = seen->now_us / 1000;
    uint64_t again = known ? AGENT_SEEN_REFRESH_MS : AGENT_SEEN_REPORT_MS;
    if (seen->mac[k] == mac && seen->where[k] == where
        && now - seen->when_ms[k] < again) {
        /* Known: refreshed a moment ago.  Not: reported a moment ago,
         * not applied yet (or refused: the control thread counts it). */
        return;
    }
    seen->mac[k] = mac;
    seen->where[k] = where;
    seen->when_ms[k] = now;
    struct agent_learn_ev ev = { .mac = mac, .kind = kind, .index = index };
    /* A full pipe loses the event; the next frame reports it again. */
    if (write(self->learn_pipe[1], &ev, sizeof ev) == (ssize_t) sizeof ev) {
        agent_path_inc(&self->tstats[t].learn_events, 1);
    }
}

/* Injects 'frame' into local port 'port' of 'snap', counted. */
static inline void
agent_path_inject(agent_t *self, int t, const struct agent_snap *snap,
                  size_t port, const uint8_t *frame, size_t size,
                  const struct encap_vnet *vnet)
{
    agent_port_t *p = port < snap->n_ports ? snap->ports[port] : NULL;
    if (!p) {
        agent_path_inc(&self->tstats[t].no_route, 1);
        return;
    }
    if (agent_port_send(p, frame, size, vnet) == 0) {
        agent_path_inc(&self->tstats[t].injected, 1);
    } else {
        agent_path_inc(&self->tstats[t].inject_errors, 1);
    }
}

/* Whether source 'src', come in through port or link 'ingress', may flood
 * now (its token bucket); a refusal is counted.  Every flood goes through
 * here first.  The ingress is part of the source, so that frames forged
 * with a VM's source MAC elsewhere do not use up that VM's own floods,
 * and MACs made up behind one port or link cost the others nothing.
 * Copies of unknown unicast ('unicast') are counted in buckets of their
 * own: a member knows no remote MAC, so a VM's every frame over the star
 * is unknown unicast here, and in one bucket a busy flow used up the
 * VM's broadcasts, its ARP among them (a VM lost its neighbours over
 * the star for seconds after its agent restarted). */
static inline bool
agent_path_flood_ok(agent_t *self, int t, const struct agent_seen *seen,
                    uint64_t src, uint16_t ingress, bool unicast)
{
    if (unicast) {
        ingress = (uint16_t) (ingress + AGENT_FLOOD_UNICAST);
    }
    if (flood_allow(self->flood[t], src, ingress, seen->now_us)) {
        agent_path_inc(&self->tstats[t].flooded, 1);
        return true;
    }
    agent_path_inc(&self->tstats[t].flood_limited, 1);
    return false;
}

/* Sends to every local port but 'except' (SIZE_MAX for none). */
static inline void
agent_path_flood_ports(agent_t *self, int t, const struct agent_snap *snap,
              size_t except, const uint8_t *frame, size_t size,
              const struct encap_vnet *vnet)
{
    uint64_t n = 0;
    for (size_t i = 0; i < snap->n_ports; i++) {
        if (i != except && snap->ports[i]) {
            agent_path_inject(self, t, snap, i, frame, size, vnet);
            n++;
        }
    }
    agent_path_inc(&self->tstats[t].flood_copies, n);
}

/* Sends to every link but 'except' (-1 for none). */
static inline void
agent_path_flood_links(agent_t *self, int t, const struct agent_snap *snap,
              int except, const uint8_t *frame, size_t size,
              const struct encap_vnet *vnet, uint8_t flags)
{
    uint64_t n = 0;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        if (snap->links[i] && i != except) {
            agent_link_send(snap->links[i], (enum agent_thread) t, frame,
                            size, vnet, flags);
            n++;
        }
    }
    agent_path_inc(&self->tstats[t].flood_copies, n);
}

/* Sends 'frame' on link 'index' of 'snap' (no link: counted no_route). */
static inline void
agent_path_to_link(agent_t *self, int t, const struct agent_snap *snap,
                   int index, const uint8_t *frame, size_t size,
                   const struct encap_vnet *vnet, uint8_t flags)
{
    agent_link_t *l = index >= 0 && index < AGENT_MAX_LINKS
                          ? snap->links[index] : NULL;
    if (!l) {
        agent_path_inc(&self->tstats[t].no_route, 1);
        return;
    }
    agent_link_send(l, (enum agent_thread) t, frame, size, vnet, flags);
}

#endif /* AGENT_PATH_H */
