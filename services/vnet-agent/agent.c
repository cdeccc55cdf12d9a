/* SPDX-License-Identifier: MIT */
/* The agent's lifecycle, its snapshots and its two packet threads.
 *
 * Snapshots: the control thread builds a new struct agent_snap for every
 * change (a rule, a link, a learned MAC), swaps it in with one atomic
 * exchange and bumps 'epoch'.  A packet thread writes the epoch it saw into
 * 'active[t]' before it loads the snapshot for a burst and clears it after;
 * the old snapshot is freed once no thread is inside a burst that began
 * before the swap.  Packet threads take no lock and never block on the
 * control thread.
 *
 * Forwarding (split horizon): a frame from a local VM may go to a local
 * port or to the overlay; a frame from the overlay goes to local ports
 * only, except on the proxy, which relays between agents and floods what
 * it does not know, so that a fresh star carries ARP, ping and TCP between
 * every pair of VMs before anything adapts. */
#include "agent_priv.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <net/ethernet.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eth.h"
#include "hash.h"
#include "log.h"
#include "vtime.h"

LOG_MODULE("agent");

#define T struct agent_cfg
const struct cfg_key agent_cfg_keys[] = {
    SVC_CFG_COMMON_KEYS(T, AGENT_DEFAULT_CONTROL),
    CFG_KEY_STR("bus.aggregator", T, aggregator, AGENT_DEFAULT_AGGREGATOR,
                "aggregator ingest endpoint the events socket connects to"),
    CFG_KEY_STR("bus.announce_control", T, announce_control, NULL,
                "control endpoint announced to others (default: "
                "bus.control)"),
    CFG_KEY_STR("proxy_addr", T, proxy_addr, NULL,
                "the proxy's overlay ip:port; unset: this agent is the "
                "proxy, the centre of the star"),
    CFG_KEY_STR("overlay.listen", T, listen, AGENT_DEFAULT_LISTEN,
                "overlay UDP ip:port to listen on"),
    CFG_KEY_STR("overlay.host_ip", T, host_ip, NULL,
                "this host's address on the commodity network, announced"),
    CFG_KEY_U32("overlay.mtu", T, mtu, 576, 65535, 9000,
                "underlay path MTU; larger frames are sent in chunks"),
    CFG_KEY_STRLIST("ports", T, ports,
                    "host-side interfaces of the local VMs to capture"),
    CFG_KEY_STR("capture", T, capture, "afpacket",
                "afpacket (fast, GSO kept) or pcap (portable, offloads "
                "off)"),
    CFG_KEY_U32("period_ms", T, period_ms, 100, 60000, 1000,
                "local traffic matrix publishing period"),
    CFG_KEY_U32("hello_ms", T, hello_ms, 100, 60000, 1000,
                "hello to peers and announcement period"),
    CFG_KEY_U32("peer_timeout_ms", T, peer_timeout_ms, 1000, 3600000, 10000,
                "forget a silent agent (proxy), close an idle inbound "
                "TCP connection"),
    CFG_KEY_U32("buffer_kb", T, buffer_kb, 64, 262144, 4096,
                "socket buffer size of the capture and overlay sockets"),
    CFG_KEY_U32("acct_pairs", T, acct_pairs, 16, 16777216, 65536,
                "MAC pairs the traffic accounting can hold"),
    CFG_KEY_U32("acct_age_ms", T, acct_age_ms, 1000, 86400000, 60000,
                "an accounting pair with no frame this long is dropped; "
                "a full table evicts pairs idle for a period first"),
    CFG_KEY_U32("learn.max", T, learn_max, 16, 1048576, 8192,
                "learned MACs held in all; more are not learned"),
    CFG_KEY_U32("learn.max_per_agent", T, learn_max_agent, 1, 1048576, 1024,
                "learned MACs one remote agent may hold (proxy)"),
    CFG_KEY_U32("learn.max_per_port", T, learn_max_port, 1, 1048576, 1024,
                "learned MACs one local port may hold"),
    CFG_KEY_U32("learn.claim_ms", T, learn_claim_ms, 1000, 3600000, 10000,
                "a MAC stays its owner's while the owner showed it (a "
                "frame, a hello) this recently; then another may take it "
                "(a migrated VM)"),
    CFG_KEY_U32("learn.age_ms", T, learn_age_ms, 1000, 86400000, 300000,
                "a learned MAC its owner has not shown this long is "
                "forgotten (>= learn.claim_ms)"),
    CFG_KEY_U32("flood.rate", T, flood_rate, 1, 1000000, 100,
                "broadcasts and unknown unicast a second one source MAC "
                "may flood; more are dropped"),
    CFG_KEY_U32("flood.burst", T, flood_burst, 1, 1000000, 200,
                "floods one source MAC may make at once"),
    CFG_KEY_U32("flood.sources", T, flood_sources, 16, 1048576, 4096,
                "source MACs the flood limiter tracks; the rest share one "
                "limit"),
    CFG_KEY_U32("flood.age_ms", T, flood_age_ms, 100, 3600000, 10000,
                "a source's limit unused this long is reused for another"),
    CFG_KEY_BOOL("accounting", T, accounting, true,
                 "count traffic per MAC pair for inference; off only to "
                 "measure what counting costs"),
    CFG_KEY_BOOL("fastpath", T, fastpath, true,
                 "frames to VMs behind a circuit (a reserved path the "
                 "planner marks) cross it in the kernel (tc), not through "
                 "the agent; needs the afpacket capture"),
    CFG_KEY_STR("tc", T, tc, AGENT_DEFAULT_TC,
                "the tc program (iproute2) the fast path runs: an absolute "
                "path to a file owned by root that nobody else may write"),
    CFG_KEY_U32("tc_timeout_ms", T, tc_timeout_ms, 100, 60000, 5000,
                "a tc run taking longer is killed and counted; the filter "
                "is tried again later"),
    CFG_KEY_STR("overlay.key", T, overlay_key, NULL,
                "this agent's certificate (vnetctl keygen; its secret "
                "half beside it, in <file>_secret): its overlay identity"),
    CFG_KEY_STR("overlay.peers_dir", T, peers_dir, NULL,
                "directory of the admitted agents' certificates, "
                "agent-<agent id>.key each (other files are ignored)"),
    CFG_KEY_STRLIST("overlay.peers", T, peers,
                    "admitted agents as 'ID=KEY' (Z85 public key), beside "
                    "overlay.peers_dir"),
    CFG_KEY_BOOL("overlay.insecure", T, insecure, false,
                 "UNSAFE: no keys, no authentication, no encryption: "
                 "anyone who reaches the overlay port can join"),
    CFG_KEY_BOOL("overlay.encrypt", T, encrypt, true,
                 "encrypt overlay datagrams (AEAD); false: authenticate "
                 "only"),
    CFG_KEY_STR("overlay.circuits", T, circuits, "trusted",
                "reserved circuits: trusted (frames cross raw, through "
                "the kernel), encrypt or auth (sealed like the overlay)"),
    CFG_KEY_U32("overlay.rekey_s", T, rekey_s, 10, 86400, 120,
                "new session keys after this many seconds"),
    CFG_KEY_U32("overlay.rekey_mb", T, rekey_mb, 1, 16777216, 65536,
                "new session keys after sealing this many MiB"),
    CFG_KEYS_END,
};
#undef T

enum { S_T_VM = 0, S_T_OVL = 1 };
enum { S_UDP_BURST = 32, S_UDP_SLOT = 65536 };

/* Inbound TCP connections: at most S_MAX_CONNS, S_CONNS_PER_PEER from one
 * address (a newer one replaces the oldest: a restarted peer reconnects
 * before we notice), and closed when idle (s_ovl_reap). */
enum { S_MAX_CONNS = 256, S_CONNS_PER_PEER = 4, S_REAP_EVERY_US = 1000000 };

static inline void
s_inc(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed)
                                 + n, memory_order_relaxed);
}

static inline uint64_t
s_peer_key(const struct sockaddr_in *sin)
{
    return (uint64_t) ntohl(sin->sin_addr.s_addr) << 16
           | ntohs(sin->sin_port);
}

static inline size_t
s_peer_slot(uint64_t key)
{
    return (size_t) hash_mix64(key) & (AGENT_PEER_HASH - 1);
}

static int
s_peer_lookup(const struct agent_snap *snap, const struct sockaddr_in *sin)
{
    uint64_t key = s_peer_key(sin);
    for (size_t i = s_peer_slot(key);; i = (i + 1) & (AGENT_PEER_HASH - 1)) {
        if (snap->peers[i].key == key) {
            return snap->peers[i].index;
        }
        if (snap->peers[i].key == 0) {
            return -1;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Snapshots */

const struct agent_snap *
agent_current(const agent_t *self)
{
    return atomic_load((_Atomic(struct agent_snap *) *) &self->snap);
}

int
agent_publish(agent_t *self, fwd_table_t *fwd)
{
    struct agent_snap *snap = calloc(1, sizeof *snap);
    if (!snap) {
        fwd_table_destroy(&fwd);
        return -1;
    }
    snap->fwd = fwd;
    snap->n_ports = self->n_ports;
    memcpy(snap->ports, self->ports, sizeof snap->ports);
    memcpy(snap->links, self->links, sizeof snap->links);
    snap->proxy_link = self->proxy_link;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        if (!self->links[i]) {
            continue;
        }
        struct sockaddr_in a;
        agent_link_endpoint(self->links[i], &a);
        if (self->links[i]->tcp) {
            a.sin_port = 0;     /* records on any connection from its IP */
        }
        uint64_t key = s_peer_key(&a);
        size_t k = s_peer_slot(key);
        while (snap->peers[k].key && snap->peers[k].key != key) {
            k = (k + 1) & (AGENT_PEER_HASH - 1);
        }
        /* Two links to one peer address: the first one receives. */
        if (!snap->peers[k].key) {
            snap->peers[k].key = key;
            snap->peers[k].index = (uint16_t) i;
        }
    }

    struct agent_snap *old = atomic_exchange(&self->snap, snap);
    uint64_t e = atomic_fetch_add(&self->epoch, 1) + 1;
    /* Grace period: bursts are microseconds long, so this waits little. */
    for (int t = 0; t < 2; t++) {
        uint64_t a;
        while ((a = atomic_load(&self->active[t])) != 0 && a < e) {
            usleep(50);
        }
    }
    if (old) {
        fwd_table_destroy(&old->fwd);
        free(old);
    }
    self->n_snapshots++;
    return 0;
}

int
agent_change(agent_t *self, agent_edit_fn *edit, void *arg)
{
    fwd_table_t *fwd = fwd_table_clone(agent_current(self)->fwd);
    if (!fwd) {
        return -1;
    }
    int rc = edit ? edit(self, fwd, arg) : 0;
    if (rc != 0) {
        fwd_table_destroy(&fwd);
        return rc;
    }
    if (agent_publish(self, fwd) != 0) {
        return -1;
    }
    agent_fast_sync(self);
    return 0;
}

int
agent_add_link(agent_t *self, agent_link_t *link)
{
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        if (!self->links[i]) {
            link->index = (uint16_t) i;
            self->links[i] = link;
            return i;
        }
    }
    return -1;
}

int
agent_find_link(const agent_t *self, const char *name)
{
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        if (self->links[i] && !strcmp(self->links[i]->name, name)) {
            return i;
        }
    }
    return -1;
}

int
agent_find_link_by_peer(const agent_t *self, const struct sockaddr_in *peer)
{
    uint64_t key = agent_link_addr_key(peer);
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        const agent_link_t *l = self->links[i];
        if (l && atomic_load_explicit((_Atomic uint64_t *) &l->endpoint,
                                      memory_order_relaxed) == key) {
            return i;
        }
    }
    return -1;
}

const char *
agent_target_name(const agent_t *self, struct fwd_action a, char *buf,
                  size_t size)
{
    if (a.kind == FWD_PORT && a.index < self->n_ports) {
        snprintf(buf, size, "local:%s",
                 agent_port_name(self->ports[a.index]));
    } else if (a.kind == FWD_LINK && a.index < AGENT_MAX_LINKS
               && self->links[a.index]) {
        snprintf(buf, size, "%s", self->links[a.index]->name);
    } else if (a.kind == FWD_DROP) {
        snprintf(buf, size, "drop");
    } else {
        snprintf(buf, size, "?");
    }
    return buf;
}

static int
s_unlink(agent_t *self, fwd_table_t *fwd, void *arg)
{
    int index = *(const int *) arg;
    fwd_table_remove_target(fwd, FWD_LINK, (uint16_t) index);
    /* Its claims go too: the index will be reused by another agent. */
    learn_forget(self->learn,
                 (struct fwd_action) { FWD_LINK, (uint16_t) index });
    self->links[index] = NULL;
    return 0;
}

int
agent_remove_link(agent_t *self, int index)
{
    agent_link_t *link = self->links[index];
    if (!link) {
        return -1;
    }
    int proxy_link = self->proxy_link;
    if (proxy_link == index) {
        self->proxy_link = -1;
    }
    if (agent_change(self, s_unlink, &index) != 0) {
        self->links[index] = link;
        self->proxy_link = proxy_link;
        return -1;
    }
    /* No snapshot holds it any more, and no thread is inside an old one. */
    agent_link_destroy(&link);
    return 0;
}

uint64_t
agent_tstat_sum(const agent_t *self, size_t offset)
{
    uint64_t sum = 0;
    for (int t = 0; t < 2; t++) {
        const _Atomic uint64_t *c = (const _Atomic uint64_t *) (
            (const char *) &self->tstats[t] + offset);
        sum += atomic_load_explicit(c, memory_order_relaxed);
    }
    return sum;
}

/* ------------------------------------------------------------------ */
/* Packet path helpers */

/* A per-thread memory of what was last reported for a MAC, so a train of
 * frames from a VM sends one learn event, not one per frame; and the
 * thread's clock, read once per burst. */
enum { S_SEEN = 1024 };
struct s_seen {
    uint64_t mac[S_SEEN];
    uint32_t where[S_SEEN];     /* kind << 16 | index */
    uint64_t when_ms[S_SEEN];
    uint64_t now_us;            /* monotonic, at the start of the burst */
};

/* How often a MAC already learned where it is seen is reported again, so
 * that its owner's claim stays live (learn.claim_ms is at least 1 s). */
enum { S_REFRESH_MS = 500, S_REPORT_MS = 200 };

static void
s_learn(agent_t *self, int t, struct s_seen *seen,
        const struct agent_snap *snap, uint64_t mac, uint16_t kind,
        uint16_t index)
{
    if (eth_mac_is_multicast(mac) || mac == 0) {
        return;
    }
    struct fwd_action a = fwd_table_learned(snap->fwd, mac);
    bool known = a.kind == kind && a.index == index;
    size_t k = (size_t) (mac * HASH_GOLDEN >> 54)
               & (S_SEEN - 1);
    uint32_t where = (uint32_t) kind << 16 | index;
    uint64_t now = seen->now_us / 1000;
    if (seen->mac[k] == mac && seen->where[k] == where
        && now - seen->when_ms[k] < (known ? S_REFRESH_MS : S_REPORT_MS)) {
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
        s_inc(&self->tstats[t].learn_events, 1);
    }
}

static void
s_inject(agent_t *self, int t, const struct agent_snap *snap, size_t port,
         const uint8_t *frame, size_t size, const struct encap_vnet *vnet)
{
    agent_port_t *p = port < snap->n_ports ? snap->ports[port] : NULL;
    if (!p) {
        s_inc(&self->tstats[t].no_route, 1);
        return;
    }
    if (agent_port_send(p, frame, size, vnet) == 0) {
        s_inc(&self->tstats[t].injected, 1);
    } else {
        s_inc(&self->tstats[t].inject_errors, 1);
    }
}

/* Whether source 'src', come in through port or link 'ingress', may flood
 * now (its token bucket); a refusal is counted.  Every flood goes through
 * here first.  The ingress is part of the source, so that frames forged
 * with a VM's source MAC elsewhere do not use up that VM's own floods,
 * and MACs made up behind one port or link cost the others nothing. */
static bool
s_flood_ok(agent_t *self, int t, const struct s_seen *seen, uint64_t src,
           uint16_t ingress)
{
    if (flood_allow(self->flood[t], src, ingress, seen->now_us)) {
        s_inc(&self->tstats[t].flooded, 1);
        return true;
    }
    s_inc(&self->tstats[t].flood_limited, 1);
    return false;
}

/* Sends to every local port but 'except' (SIZE_MAX for none). */
static void
s_flood_ports(agent_t *self, int t, const struct agent_snap *snap,
              size_t except, const uint8_t *frame, size_t size,
              const struct encap_vnet *vnet)
{
    uint64_t n = 0;
    for (size_t i = 0; i < snap->n_ports; i++) {
        if (i != except) {
            s_inject(self, t, snap, i, frame, size, vnet);
            n++;
        }
    }
    s_inc(&self->tstats[t].flood_copies, n);
}

/* Sends to every link but 'except' (-1 for none). */
static void
s_flood_links(agent_t *self, int t, const struct agent_snap *snap,
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
    s_inc(&self->tstats[t].flood_copies, n);
}

static void
s_to_link(agent_t *self, int t, const struct agent_snap *snap, int index,
          const uint8_t *frame, size_t size, const struct encap_vnet *vnet,
          uint8_t flags)
{
    agent_link_t *l = index >= 0 && index < AGENT_MAX_LINKS
                          ? snap->links[index] : NULL;
    if (!l) {
        s_inc(&self->tstats[t].no_route, 1);
        return;
    }
    agent_link_send(l, (enum agent_thread) t, frame, size, vnet, flags);
}

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
s_vm_flood(agent_t *self, struct s_seen *seen, const struct agent_snap *snap,
           size_t port, const struct port_frame *f,
           const struct encap_vnet *vnet, bool unicast)
{
    uint64_t src = eth_mac_to_u64(f->data + ETH_ADDR_LEN);
    bool member = !self->cfg->proxy;
    if (member && unicast) {
        s_to_link(self, S_T_VM, snap, snap->proxy_link, f->data, f->size,
                  vnet, 0);
        if (snap->n_ports > 1
            && s_flood_ok(self, S_T_VM, seen, src, (uint16_t) port)) {
            s_flood_ports(self, S_T_VM, snap, port, f->data, f->size, vnet);
        }
        return;
    }
    if (!s_flood_ok(self, S_T_VM, seen, src, (uint16_t) port)) {
        return;
    }
    s_flood_ports(self, S_T_VM, snap, port, f->data, f->size, vnet);
    if (member) {
        s_to_link(self, S_T_VM, snap, snap->proxy_link, f->data, f->size,
                  vnet, 0);
        s_inc(&self->tstats[S_T_VM].flood_copies, 1);
    } else {
        s_flood_links(self, S_T_VM, snap, -1, f->data, f->size, vnet, 0);
    }
}

static void
s_vm_frame(agent_t *self, struct s_seen *seen, const struct agent_snap *snap,
           size_t port, const struct port_frame *f)
{
    struct agent_tstats *st = &self->tstats[S_T_VM];
    const struct encap_vnet *vnet = f->has_vnet ? &f->vnet : NULL;
    uint64_t dst = eth_mac_to_u64(f->data);
    uint64_t src = eth_mac_to_u64(f->data + ETH_ADDR_LEN);

    s_inc(&st->frames_in, 1);
    s_inc(&st->bytes_in, f->size);
    s_learn(self, S_T_VM, seen, snap, src, FWD_PORT, (uint16_t) port);
    if (self->cfg->accounting) {
        acct_count(self->acct, src, dst, f->size, s_n_segments(f));
    }
    if (f->cut) {
        /* The fast path's: the kernel sent it over a circuit. */
        s_inc(&st->fast_frames, 1);
        s_inc(&st->fast_bytes, f->size);
        return;
    }

    if (eth_mac_is_multicast(dst)) {
        s_vm_flood(self, seen, snap, port, f, vnet, false);
        return;
    }
    struct fwd_action a = fwd_cache_lookup(&self->caches[S_T_VM], snap->fwd,
                                           dst, src);
    switch (a.kind) {
    case FWD_LINK:
        s_to_link(self, S_T_VM, snap, a.index, f->data, f->size, vnet, 0);
        break;
    case FWD_PORT:
        if (a.index != port) {
            s_inject(self, S_T_VM, snap, a.index, f->data, f->size, vnet);
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

static void *
s_vm_thread(void *arg)
{
    agent_t *self = arg;
    struct epoll_event evs[AGENT_MAX_PORTS];
    struct port_frame frames[PORT_BURST];
    struct s_seen *seen = calloc(1, sizeof *seen);
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
        atomic_store(&self->active[S_T_VM], atomic_load(&self->epoch));
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
        atomic_store(&self->active[S_T_VM], 0);
    }
    free(seen);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Overlay thread: datagrams from other agents */

/* A broadcast or unknown unicast from link 'from': to the local ports
 * and, on the proxy, to every other agent, within the source's limit. */
static void
s_ovl_flood(agent_t *self, struct s_seen *seen, const struct agent_snap *snap,
            const agent_link_t *from, uint64_t src, const uint8_t *frame,
            size_t size, const struct encap_vnet *vnet)
{
    if (!s_flood_ok(self, S_T_OVL, seen, src, from->index)) {
        return;
    }
    s_flood_ports(self, S_T_OVL, snap, SIZE_MAX, frame, size, vnet);
    if (self->cfg->proxy) {
        s_flood_links(self, S_T_OVL, snap, from->index, frame, size, vnet,
                      ENCAP_F_RELAY);
    }
}

static void
s_ovl_frame(agent_t *self, struct s_seen *seen, const struct agent_snap *snap,
            agent_link_t *from, const uint8_t *frame, size_t size,
            const struct encap_vnet *vnet)
{
    struct agent_tstats *st = &self->tstats[S_T_OVL];
    if (size < ETH_HDR_LEN) {
        s_inc(&st->bad_header, 1);
        return;
    }
    if (vnet && !encap_vnet_ok(vnet, size)) {
        s_inc(&st->bad_offload, 1);     /* never handed to a kernel */
        return;
    }
    uint64_t dst = eth_mac_to_u64(frame);
    uint64_t src = eth_mac_to_u64(frame + ETH_ADDR_LEN);
    bool proxy = self->cfg->proxy;

    if (proxy) {
        s_learn(self, S_T_OVL, seen, snap, src, FWD_LINK, from->index);
    }
    if (eth_mac_is_multicast(dst)) {
        s_ovl_flood(self, seen, snap, from, src, frame, size, vnet);
        return;
    }
    struct fwd_action a = fwd_cache_lookup(&self->caches[S_T_OVL], snap->fwd,
                                           dst, src);
    switch (a.kind) {
    case FWD_PORT:
        s_inject(self, S_T_OVL, snap, a.index, frame, size, vnet);
        break;
    case FWD_LINK:
        if (proxy && a.index != from->index) {
            s_inc(&st->relayed, 1);
            s_to_link(self, S_T_OVL, snap, a.index, frame, size, vnet,
                      ENCAP_F_RELAY);
        } else {
            s_inc(&st->no_route, 1);    /* split horizon */
        }
        break;
    case FWD_DROP:
        break;
    default:
        /* Not known here: maybe a local VM that has not sent yet. */
        s_ovl_flood(self, seen, snap, from, src, frame, size, vnet);
        break;
    }
}

static void
s_ovl_hello(agent_t *self, const agent_link_t *link,
            const struct sockaddr_in *from, const uint8_t *payload, size_t n)
{
    struct agent_hello_ev ev = { .from = *from };
    size_t id_len = strnlen((const char *) payload, n);
    if (id_len == n || id_len == 0 || id_len >= sizeof ev.agent_id) {
        s_inc(&self->tstats[S_T_OVL].bad_header, 1);
        return;
    }
    memcpy(ev.agent_id, payload, id_len);
    if (self->hs) {
        /* An agent speaks only for the id its key is admitted as. */
        int bound = link && link->sec ? atomic_load(&link->sec->bound) : -1;
        if (bound < 0 || strcmp(self->hs->peers.v[bound].id, ev.agent_id)) {
            s_inc(&self->tstats[S_T_OVL].hello_refused, 1);
            return;
        }
    }
    const uint8_t *p = payload + id_len + 1;
    size_t left = n - id_len - 1;
    while (left >= ETH_ADDR_LEN && ev.n_macs < AGENT_HELLO_MACS) {
        ev.macs[ev.n_macs++] = eth_mac_to_u64(p);
        p += ETH_ADDR_LEN;
        left -= ETH_ADDR_LEN;
    }
    if (write(self->hello_pipe[1], &ev, sizeof ev) < 0) {
        /* Full: hellos repeat every second; drop this one. */
    }
}

/* One datagram's contents, once its link is known (and, with keys, once
 * its seal is checked). */
static void
s_ovl_inner(agent_t *self, struct s_seen *seen, const struct agent_snap *snap,
            agent_link_t *link, const struct sockaddr_in *from,
            const uint8_t *buf, size_t len)
{
    struct encap_hdr h;
    if (encap_decode(buf, len, &h) != ENCAP_OK) {
        s_inc(&link->stats[AGENT_T_OVL].rx_bad, 1);
        return;
    }
    const uint8_t *payload = buf + h.hdr_len;
    size_t n = len - h.hdr_len;
    atomic_store_explicit(&link->last_rx_us, vtime_mono_us(),
                          memory_order_relaxed);
    switch (h.type) {
    case ENCAP_HELLO:
        s_ovl_hello(self, link, from, payload, n);
        return;
    case ENCAP_PROBE:
        agent_link_send_ctl(link, AGENT_T_OVL, ENCAP_PROBE_REPLY, payload, n);
        return;
    case ENCAP_PROBE_REPLY:
        if (n == sizeof(uint64_t)
            && write(self->probe_pipe[1], payload, n) < 0) {
            /* Nobody waiting any more. */
        }
        return;
    case ENCAP_DATA:
        break;
    default:
        return;
    }
    const uint8_t *frame;
    size_t frame_len;
    struct encap_reasm *r = &link->reasm[(h.flags & ENCAP_F_RELAY) ? 1 : 0];
    uint64_t dropped = r->n_dropped;
    int rc = encap_reasm_add(r, &h, payload, n, &frame, &frame_len);
    if (r->n_dropped != dropped) {
        s_inc(&link->stats[AGENT_T_OVL].rx_drops, r->n_dropped - dropped);
    }
    if (rc != 1) {
        return;
    }
    s_inc(&link->stats[AGENT_T_OVL].rx_frames, 1);
    s_inc(&link->stats[AGENT_T_OVL].rx_bytes, frame_len);
    s_ovl_frame(self, seen, snap, link, frame, frame_len,
                (h.flags & ENCAP_F_VNET) ? &h.vnet : NULL);
}

/* Where the overlay thread sends a handshake message: the UDP socket,
 * or a TCP link's connection. */
struct s_hs_dest {
    agent_t *self;
    agent_link_t *link;             /* NULL: none yet (UDP) */
};

static void
s_hs_send(const struct sockaddr_in *to, const uint8_t *buf, size_t n,
          void *arg)
{
    struct s_hs_dest *d = arg;
    if (d->link && d->link->tcp) {
        agent_link_send_raw(d->link, to, buf, n);
    } else if (sendto(d->self->udp_fd, buf, n, MSG_DONTWAIT,
                      (const struct sockaddr *) to, sizeof *to) < 0) {
        /* Lost like any datagram: the handshake is tried again. */
    }
}

static void
s_kick(agent_t *self)
{
    uint8_t b = 1;
    if (write(self->kick_pipe[1], &b, 1) < 0) {
        /* Already kicked. */
    }
}

/* The link a receiver index names: by its slot, or (a session the proxy
 * made before the link existed) by the sender's address. */
static agent_link_t *
s_idx_link(const struct agent_snap *snap, uint32_t idx,
           const struct sockaddr_in *from)
{
    int li = agent_hs_idx_link(idx);
    if (li < 0) {
        li = s_peer_lookup(snap, from);
    }
    return li >= 0 && li < AGENT_MAX_LINKS ? snap->links[li] : NULL;
}

static void
s_ovl_handshake(agent_t *self, const struct agent_snap *snap,
                const struct sockaddr_in *from, const uint8_t *buf,
                size_t len)
{
    agent_link_t *link;
    if (buf[0] == SEC_T_HS1) {
        int li = s_peer_lookup(snap, from);
        link = li >= 0 ? snap->links[li] : NULL;
        if (!link && !self->cfg->proxy) {
            s_inc(&self->tstats[S_T_OVL].unknown_peer, 1);
            return;
        }
    } else {
        /* A message 3 to a pending index finds the link by address, if
         * the control thread made it meanwhile. */
        uint32_t idx = sec_receiver(buf, len);
        link = agent_hs_idx_link(idx) >= 0 || buf[0] == SEC_T_HS3
                   ? s_idx_link(snap, idx, from)
                   : NULL;
    }
    if (link && !link->sec) {
        link = NULL;
    }
    struct agent_hs_result res;
    struct s_hs_dest dest = { self, link };
    agent_hs_input(self->hs, link ? link->sec : NULL,
                   link ? link->index : -1, link ? link->peer_agent : NULL,
                   from, buf, len, vtime_mono_ms(), s_hs_send, &dest, &res);
    if (res.established) {
        struct sec_session *tx = link_sec_tx(link->sec);
        VLOG_INFO_RL("link %s: session with '%s' up (%s, receives at "
                     "%08x, sends to %08x)", link->name,
                     self->hs->peers.v[atomic_load(&link->sec->bound)].id,
                     buf[0] == SEC_T_HS2 ? "we started" : "they started",
                     link->sec->sess[link->sec->last_slot].local_idx,
                     tx ? tx->remote_idx : 0);
    }
    if (res.joined) {
        struct agent_join_ev ev = { .from = res.from, .bound = res.bound,
                                    .session = *res.session };
        if (write(self->join_pipe[1], &ev, sizeof ev) < 0) {
            /* Full: the agent tries again within a second. */
        }
        sodium_memzero(&ev, sizeof ev);
    }
}

/* A sealed datagram: its session by receiver index, its seal checked,
 * then its contents as any datagram's. */
static bool
s_ovl_sealed(agent_t *self, struct s_seen *seen,
             const struct agent_snap *snap, const struct sockaddr_in *from,
             uint8_t *buf, size_t len)
{
    struct agent_tstats *st = &self->tstats[S_T_OVL];
    uint32_t idx = sec_receiver(buf, len);
    agent_link_t *link = s_idx_link(snap, idx, from);
    struct sec_session *s = link && link->sec ? link_sec_rx(link->sec, idx)
                                              : NULL;
    if (!s) {
        s_inc(&st->unauth, 1);
        VLOG_WARN_RL("sealed datagram from %s:%u for index %08x: %s",
                     inet_ntoa(from->sin_addr), ntohs(from->sin_port), idx,
                     link ? "no such session" : "no such link");
        return false;
    }
    const uint8_t *inner;
    size_t n;
    bool encrypted;
    switch (sec_open(s, buf, len, &inner, &n, &encrypted)) {
    case SEC_OK:
        break;
    case SEC_REPLAYED:
        s_inc(&st->replayed, 1);
        s_inc(&link->stats[AGENT_T_OVL].rx_replayed, 1);
        return false;
    case SEC_FORGED:
        s_inc(&st->forged, 1);
        s_inc(&link->stats[AGENT_T_OVL].rx_forged, 1);
        return false;
    default:
        s_inc(&st->unauth, 1);
        VLOG_WARN_RL("sealed datagram from %s:%u for index %08x: malformed",
                     inet_ntoa(from->sin_addr), ntohs(from->sin_port), idx);
        return false;
    }
    if (!encrypted && link->sec->encrypt) {
        s_inc(&st->downgraded, 1);
        return false;
    }
    link_sec_confirm(link->sec, s);
    /* Authentic and fresh: the peer is where it sent this from.  As
     * WireGuard does, replies follow it (a roaming peer, a NAT that
     * rebound); nothing unauthenticated moves a link. */
    if (agent_link_roam(link, from)) {
        uint16_t index = link->index;
        if (write(self->roam_pipe[1], &index, sizeof index) < 0) {
            /* Full: the next authentic datagram tells it again. */
        }
    }
    if (n == 0) {           /* a keepalive */
        atomic_store_explicit(&link->last_rx_us, vtime_mono_us(),
                              memory_order_relaxed);
        return true;
    }
    s_ovl_inner(self, seen, snap, link, from, inner, n);
    return true;
}

static bool
s_ovl_datagram(agent_t *self, struct s_seen *seen,
               const struct agent_snap *snap, const struct sockaddr_in *from,
               uint8_t *buf, size_t len)
{
    struct agent_tstats *st = &self->tstats[S_T_OVL];
    s_inc(&st->frames_in, 1);
    s_inc(&st->bytes_in, len);
    if (self->hs) {
        /* With keys, nothing in the clear is taken. */
        switch (len ? buf[0] : 0) {
        case SEC_T_DATA:
        case SEC_T_AUTH:
            return s_ovl_sealed(self, seen, snap, from, buf, len);
        case SEC_T_HS1:
        case SEC_T_HS2:
        case SEC_T_HS3:
            s_ovl_handshake(self, snap, from, buf, len);
            return true;    /* how authentication begins */
        default:
            s_inc(&st->unauth, 1);
            return false;
        }
    }
    int index = s_peer_lookup(snap, from);
    agent_link_t *link = index >= 0 ? snap->links[index] : NULL;
    if (!link) {
        struct encap_hdr h;
        enum encap_error e = encap_decode(buf, len, &h);
        /* Only the proxy takes in agents it has not been told about. */
        if (e != ENCAP_OK) {
            s_inc(&st->bad_header, 1);
        } else if (h.type == ENCAP_HELLO && self->cfg->proxy) {
            s_ovl_hello(self, NULL, from, buf + h.hdr_len, len - h.hdr_len);
        } else {
            s_inc(&st->unknown_peer, 1);
        }
        return true;
    }
    s_ovl_inner(self, seen, snap, link, from, buf, len);
    return true;
}

/* Every 100 ms: handshakes due on the UDP links, and a hello as soon as
 * a session comes up. */
static void
s_ovl_tick(agent_t *self, const struct agent_snap *snap, uint64_t now_ms)
{
    bool kick = false;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        agent_link_t *l = snap->links[i];
        if (!l || !l->sec
            || (l->tcp && (l->tcp_fd < 0 || atomic_load(&l->tcp_broken)))) {
            continue;
        }
        struct s_hs_dest dest = { self, l };
        uint64_t last_rx_ms = atomic_load_explicit(&l->last_rx_us,
                                                   memory_order_relaxed)
                              / 1000;
        struct sockaddr_in to;
        agent_link_endpoint(l, &to);
        agent_hs_tick(self->hs, l->sec, i, &to, now_ms, last_rx_ms,
                      s_hs_send, &dest);
        if (atomic_exchange(&l->sec->kick, false)) {
            kick = true;
        }
    }
    if (kick) {
        s_kick(self);
    }
}

struct s_ovl_ctx {
    agent_t *self;
    struct s_seen *seen;
    const struct agent_snap *snap;
    const struct sockaddr_in *from;
    struct agent_tcp_rx *rx;        /* the connection */
    bool refused;                   /* a record was not authentic */
};

static void
s_ovl_record(const uint8_t *rec, size_t len, void *arg)
{
    struct s_ovl_ctx *c = arg;
    /* The record is in the connection's own buffer, ours to change. */
    if (s_ovl_datagram(c->self, c->seen, c->snap, c->from, (uint8_t *) rec,
                       len)) {
        c->rx->last_us = c->seen->now_us;   /* idle only when silent */
    } else {
        c->refused = true;
    }
}

/* Room for the UDP_GRO control message of one received buffer. */
union s_gro_ctrl {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
};

/* The segment size the kernel coalesced a buffer at (UDP_GRO), or 0. */
static size_t
s_gro_size(struct msghdr *mh)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
         cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
            int size;
            memcpy(&size, CMSG_DATA(cm), sizeof size);
            return size > 0 ? (size_t) size : 0;
        }
    }
    return 0;
}

static void
s_ovl_udp(agent_t *self, struct s_seen *seen, const struct agent_snap *snap,
          struct mmsghdr *msgs, struct iovec *iovs, struct sockaddr_in *from,
          uint8_t *bufs)
{
    union s_gro_ctrl ctrl[S_UDP_BURST];
    for (int i = 0; i < S_UDP_BURST; i++) {
        iovs[i] = (struct iovec) { bufs + (size_t) i * S_UDP_SLOT,
                                   S_UDP_SLOT };
        msgs[i].msg_hdr = (struct msghdr) {
            .msg_name = &from[i],
            .msg_namelen = sizeof from[i],
            .msg_iov = &iovs[i],
            .msg_iovlen = 1,
            .msg_control = ctrl[i].buf,
            .msg_controllen = sizeof ctrl[i].buf,
        };
    }
    int n = recvmmsg(self->udp_fd, msgs, S_UDP_BURST, MSG_DONTWAIT, NULL);
    for (int i = 0; i < n; i++) {
        if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
            s_inc(&self->tstats[S_T_OVL].bad_header, 1);
            continue;
        }
        /* With UDP_GRO one buffer may hold a train of datagrams from one
         * peer, all 'seg' bytes but the last. */
        uint8_t *p = iovs[i].iov_base;
        size_t len = msgs[i].msg_len;
        size_t seg = s_gro_size(&msgs[i].msg_hdr);
        if (seg == 0 || seg > len) {
            seg = len;
        }
        size_t off = 0;
        do {    /* an empty datagram is still one, and counted as bad */
            size_t d = len - off < seg ? len - off : seg;
            s_ovl_datagram(self, seen, snap, &from[i], p + off, d);
            off += d;
        } while (off < len);
    }
}

static void s_ovl_conn_close(agent_t *self, struct agent_tcp_rx **conns,
                             size_t *n_conns, struct agent_tcp_rx *rx);

/* Closes the inbound connections that gave no record for the idle time
 * (a peer that stopped, or a socket opened and left): peers' TCP links
 * send a keepalive every hello period. */
static void
s_ovl_reap(agent_t *self, struct agent_tcp_rx **conns, size_t *n_conns,
           uint64_t now)
{
    uint64_t idle = self->cfg->peer_timeout_ms * 1000ull;
    if (idle < 3000ull * self->cfg->hello_ms) {
        idle = 3000ull * self->cfg->hello_ms;
    }
    for (size_t i = *n_conns; i-- > 0;) {
        if (now - conns[i]->last_us > idle) {
            s_ovl_conn_close(self, conns, n_conns, conns[i]);
            s_inc(&self->tstats[S_T_OVL].tcp_idle_closed, 1);
        }
    }
}

/* Accepts a connection, if it comes from the IP of one of our TCP links:
 * records from anyone else would be dropped anyway. */
static void
s_ovl_accept(agent_t *self, const struct agent_snap *snap,
             struct agent_tcp_rx **conns, size_t *n_conns)
{
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    int fd = accept4(self->tcp_fd, (struct sockaddr *) &from, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        return;
    }
    from.sin_port = 0;
    int index = s_peer_lookup(snap, &from);
    struct agent_tcp_rx *rx = NULL;
    struct agent_tcp_rx *oldest = NULL;
    size_t n_peer = 0;
    for (size_t i = 0; i < *n_conns; i++) {
        if (conns[i]->from.sin_addr.s_addr == from.sin_addr.s_addr) {
            n_peer++;
            if (!oldest || conns[i]->last_us < oldest->last_us) {
                oldest = conns[i];
            }
        }
    }
    if (index >= 0 && n_peer >= S_CONNS_PER_PEER) {
        s_ovl_conn_close(self, conns, n_conns, oldest);
        s_inc(&self->tstats[S_T_OVL].tcp_evicted, 1);
    }
    if (index < 0 || !snap->links[index]->tcp || *n_conns == S_MAX_CONNS
        || !(rx = malloc(sizeof *rx))
        || agent_tcp_rx_init(rx, AGENT_RX_ACCEPTED, fd) != 0) {
        s_inc(&self->tstats[S_T_OVL].unknown_peer, 1);
        free(rx);
        close(fd);
        return;
    }
    rx->from = from;
    rx->last_us = vtime_mono_us();
    rx->sealed = self->hs != NULL;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = rx };
    if (epoll_ctl(self->ovl_epoll, EPOLL_CTL_ADD, fd, &ev) != 0) {
        agent_tcp_rx_uninit(rx);
        free(rx);
        close(fd);
        return;
    }
    conns[(*n_conns)++] = rx;
}

static void
s_ovl_conn_close(agent_t *self, struct agent_tcp_rx **conns, size_t *n_conns,
                 struct agent_tcp_rx *rx)
{
    for (size_t i = 0; i < *n_conns; i++) {
        if (conns[i] == rx) {
            conns[i] = conns[--*n_conns];
            break;
        }
    }
    epoll_ctl(self->ovl_epoll, EPOLL_CTL_DEL, rx->fd, NULL);
    close(rx->fd);
    agent_tcp_rx_uninit(rx);
    free(rx);
}

/* The link whose outgoing connection 'rx' is, if it is still in 'snap'; the
 * event may be for a link removed since epoll_wait returned it, so 'rx' is
 * compared, never read, until it is found. */
static agent_link_t *
s_outgoing_link(const struct agent_snap *snap, const void *rx)
{
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        if (snap->links[i] && &snap->links[i]->tcp_rx == rx) {
            return snap->links[i];
        }
    }
    return NULL;
}

static void *
s_ovl_thread(void *arg)
{
    agent_t *self = arg;
    struct mmsghdr msgs[S_UDP_BURST];
    struct iovec iovs[S_UDP_BURST];
    struct sockaddr_in from[S_UDP_BURST];
    struct epoll_event evs[16];
    struct agent_tcp_rx *conns[S_MAX_CONNS];
    size_t n_conns = 0;
    uint64_t reap_at = vtime_mono_us() + S_REAP_EVERY_US;
    uint8_t *bufs = malloc((size_t) S_UDP_BURST * S_UDP_SLOT);
    struct s_seen *seen = calloc(1, sizeof *seen);
    if (!bufs || !seen) {
        VLOG_ERR("overlay thread: out of memory");
        free(bufs);
        free(seen);
        return NULL;
    }
    uint64_t last_tick = 0;
    while (!atomic_load_explicit(&self->stop, memory_order_relaxed)) {
        /* Before the wait: no event returned may be for a reaped one. */
        if (n_conns > 0) {
            uint64_t now = vtime_mono_us();
            if (now >= reap_at) {
                s_ovl_reap(self, conns, &n_conns, now);
                reap_at = now + S_REAP_EVERY_US;
            }
        }
        int n = epoll_wait(self->ovl_epoll, evs, 16, 50);
        seen->now_us = vtime_mono_us();
        uint64_t now_ms = seen->now_us / 1000;
        bool tick = self->hs && now_ms - last_tick >= 100;
        if (n <= 0 && !tick) {
            continue;
        }
        atomic_store(&self->active[S_T_OVL], atomic_load(&self->epoch));
        const struct agent_snap *snap = atomic_load(&self->snap);
        if (tick) {
            last_tick = now_ms;
            s_ovl_tick(self, snap, now_ms);
        }
        for (int i = 0; i < n; i++) {
            struct agent_tcp_rx *rx = evs[i].data.ptr;
            if (rx == &self->rx_udp) {
                s_ovl_udp(self, seen, snap, msgs, iovs, from, bufs);
                continue;
            }
            if (rx == &self->rx_listen) {
                s_ovl_accept(self, snap, conns, &n_conns);
                continue;
            }
            agent_link_t *out = NULL;
            bool accepted = false;
            for (size_t k = 0; k < n_conns && !accepted; k++) {
                accepted = conns[k] == rx;
            }
            if (!accepted && !(out = s_outgoing_link(snap, rx))) {
                continue;       /* a link removed meanwhile */
            }
            if (out && (evs[i].events & EPOLLOUT)) {
                agent_link_tcp_flush(out);  /* room for what is queued */
            }
            if (out && !(evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
                continue;
            }
            struct s_ovl_ctx ctx = { self, seen, snap, &rx->from, rx,
                                     false };
            if (!self->hs && accepted) {
                rx->last_us = vtime_mono_us();
            }
            /* With keys, a connection is kept only while what it sends
             * is authentic: one record that is not closes it. */
            if (agent_tcp_rx_feed(rx, s_ovl_record, &ctx) == 0
                && !(ctx.refused && self->hs && accepted)) {
                continue;
            }
            if (accepted) {
                s_ovl_conn_close(self, conns, &n_conns, rx);
            } else {
                /* The control thread closes and reconnects it. */
                epoll_ctl(self->ovl_epoll, EPOLL_CTL_DEL, rx->fd, NULL);
                atomic_store(&out->tcp_rx_dead, true);
            }
        }
        atomic_store(&self->active[S_T_OVL], 0);
    }
    while (n_conns > 0) {
        s_ovl_conn_close(self, conns, &n_conns, conns[0]);
    }
    free(bufs);
    free(seen);
    return NULL;
}

int
agent_watch_tcp(agent_t *self, agent_link_t *link)
{
    pthread_mutex_lock(&link->tcp_lock);
    link->tcp_epoll = self->ovl_epoll;
    /* Records queued before the overlay thread watched it wait for room
     * too. */
    uint32_t events = EPOLLIN | (link->tcp_q_len ? EPOLLOUT : 0);
    struct epoll_event ev = { .events = events, .data.ptr = &link->tcp_rx };
    int rc = epoll_ctl(self->ovl_epoll, EPOLL_CTL_ADD, link->tcp_fd, &ev);
    pthread_mutex_unlock(&link->tcp_lock);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Lifecycle */

static int
s_open_udp(agent_t *self)
{
    const struct agent_cfg *cfg = self->cfg;
    if (!agent_link_parse_addr(cfg->listen, &self->listen)) {
        VLOG_ERR("listen: bad address '%s': expected ipv4:port",
                 cfg->listen);
        return -1;
    }
    self->udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          0);
    if (self->udp_fd < 0) {
        VLOG_ERR("overlay socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    int size = (int) cfg->buffer_kb * 1024;
    /* Never let IP fragment a datagram: chunking is ours (agent_encap). */
    int pmtu = IP_PMTUDISC_DO;
    /* Take trains of datagrams in one buffer where the kernel coalesces
     * them (a device with GRO on); without that, nothing changes. */
    setsockopt(self->udp_fd, SOL_UDP, UDP_GRO, &one, sizeof one);
    setsockopt(self->udp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(self->udp_fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu,
               sizeof pmtu);
    if (setsockopt(self->udp_fd, SOL_SOCKET, SO_RCVBUFFORCE, &size,
                   sizeof size) != 0) {
        setsockopt(self->udp_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    if (setsockopt(self->udp_fd, SOL_SOCKET, SO_SNDBUFFORCE, &size,
                   sizeof size) != 0) {
        setsockopt(self->udp_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }
    if (bind(self->udp_fd, (struct sockaddr *) &self->listen,
             sizeof self->listen) != 0) {
        VLOG_ERR("overlay socket: bind %s: %s", cfg->listen,
                 strerror(errno));
        return -1;
    }
    /* TCP links arrive on the same port number; with port 0 the kernel
     * picked one for UDP, and TCP takes the same. */
    socklen_t alen = sizeof self->listen;
    getsockname(self->udp_fd, (struct sockaddr *) &self->listen, &alen);
    self->tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          0);
    if (self->tcp_fd < 0
        || setsockopt(self->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one,
                      sizeof one) != 0
        || bind(self->tcp_fd, (struct sockaddr *) &self->listen,
                sizeof self->listen) != 0
        || listen(self->tcp_fd, 64) != 0) {
        VLOG_ERR("overlay TCP socket: %s: %s", cfg->listen, strerror(errno));
        return -1;
    }
    return 0;
}

static int
s_pipe(int fds[2])
{
    return pipe2(fds, O_NONBLOCK | O_CLOEXEC);
}

bool
agent_circuits_trusted(const agent_t *self)
{
    return !self->hs || !strcmp(self->cfg->circuits, "trusted");
}

bool
agent_link_wants_encryption(const agent_t *self, const agent_link_t *l)
{
    if (l->circuit) {
        return !strcmp(self->cfg->circuits, "encrypt");
    }
    return self->cfg->encrypt;
}

/* Loads this agent's key and the admitted ones; without keys, refuses to
 * start unless overlay.insecure says so, loudly. */
static int
s_sec_open(agent_t *self)
{
    const struct agent_cfg *cfg = self->cfg;
    if (strcmp(cfg->circuits, "trusted") && strcmp(cfg->circuits, "encrypt")
        && strcmp(cfg->circuits, "auth")) {
        VLOG_ERR("overlay.circuits: '%s' is none of trusted, encrypt, auth",
                 LOG_ESC(cfg->circuits));
        return -1;
    }
    if (cfg->insecure) {
        VLOG_WARN("overlay.insecure is on: overlay links are neither "
                  "authenticated nor encrypted; anyone who reaches %s can "
                  "join the overlay, inject frames and read them",
                  cfg->listen);
        return 0;
    }
    if (!cfg->overlay_key || !*cfg->overlay_key) {
        VLOG_ERR("overlay.key is not set: every agent needs its own key "
                 "(vnetctl keygen DIR NAME) and its peers' keys "
                 "(overlay.peers_dir, overlay.peers); 'overlay.insecure: "
                 "true' runs without, unsafe");
        return -1;
    }
    if (sec_init() != 0) {
        VLOG_ERR("libsodium would not start");
        return -1;
    }
    size_t size = (sizeof(struct agent_hs_ctx) + 63) & ~(size_t) 63;
    self->hs = aligned_alloc(64, size);
    if (!self->hs) {
        return -1;
    }
    memset(self->hs, 0, sizeof *self->hs);
    struct agent_hs_ctx *hs = self->hs;
    char err[512];
    if (sec_identity_load(&hs->me, cfg->overlay_key, err, sizeof err) != 0
        || agent_peers_load(&hs->peers, cfg->peers_dir, &cfg->peers, err,
                            sizeof err) != 0) {
        VLOG_ERR("overlay: %s", err);
        return -1;
    }
    if (hs->peers.n == 0) {
        VLOG_ERR("overlay: no admitted keys (overlay.peers_dir, "
                 "overlay.peers): no agent could join");
        return -1;
    }
    int me = agent_peers_find(&hs->peers, hs->me.pub);
    if (me >= 0 && strcmp(hs->peers.v[me].id, svc_id(self->svc)) != 0) {
        VLOG_ERR("overlay: this agent's key is admitted as '%s', not as its "
                 "id '%s'", hs->peers.v[me].id, LOG_ESC(svc_id(self->svc)));
        return -1;
    }
    hs->flags = sec_aes_available() ? SEC_F_AES : 0;
    hs->rekey_ms = cfg->rekey_s * 1000ull;
    hs->rekey_bytes = (uint64_t) cfg->rekey_mb << 20;
    hs->accept_unknown_addr = cfg->proxy;
    hs->quiet_ms = 3ull * cfg->hello_ms > 5000 ? 3ull * cfg->hello_ms : 5000;
    char z85[41];
    sec_key_to_z85(hs->me.pub, z85);
    VLOG_INFO("overlay: key %s, %zu admitted key(s), %s with %s, circuits "
              "%s", z85, hs->peers.n,
              cfg->encrypt ? "encrypted" : "authenticated only",
              hs->flags ? "AES-256-GCM" : "ChaCha20-Poly1305",
              cfg->circuits);
    return 0;
}

agent_t *
agent_new(svc_t *svc, const struct agent_cfg *cfg)
{
    agent_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->svc = svc;
    self->cfg = cfg;
    self->bus = svc_bus(svc);
    self->udp_fd = self->tcp_fd = self->vm_epoll = self->ovl_epoll = -1;
    self->rx_udp.kind = AGENT_RX_UDP;
    self->rx_listen.kind = AGENT_RX_LISTEN;
    self->learn_pipe[0] = self->learn_pipe[1] = -1;
    self->hello_pipe[0] = self->hello_pipe[1] = -1;
    self->probe_pipe[0] = self->probe_pipe[1] = -1;
    self->join_pipe[0] = self->join_pipe[1] = -1;
    self->kick_pipe[0] = self->kick_pipe[1] = -1;
    self->roam_pipe[0] = self->roam_pipe[1] = -1;
    self->proxy_link = -1;
    if (getrandom(&self->boot_id, sizeof self->boot_id, 0) < 0) {
        self->boot_id = vtime_now_us();
    }
    fwd_cache_init(&self->caches[0]);
    fwd_cache_init(&self->caches[1]);

    if (cfg->ports.n > AGENT_MAX_PORTS) {
        VLOG_ERR("config: %zu ports, at most %d", cfg->ports.n,
                 AGENT_MAX_PORTS);
        goto error;
    }
    if (cfg->learn_age_ms < cfg->learn_claim_ms) {
        VLOG_ERR("config: learn.age_ms %u is shorter than learn.claim_ms "
                 "%u", cfg->learn_age_ms, cfg->learn_claim_ms);
        goto error;
    }
    const struct learn_cfg lc = {
        .max = cfg->learn_max,
        .max_per_link = cfg->learn_max_agent,
        .max_per_port = cfg->learn_max_port,
        .claim_us = cfg->learn_claim_ms * 1000ull,
        .age_us = cfg->learn_age_ms * 1000ull,
    };
    const struct flood_cfg fc = {
        .rate = cfg->flood_rate,
        .burst = cfg->flood_burst,
        .n_sources = cfg->flood_sources,
        .idle_us = cfg->flood_age_ms * 1000ull,
        .n_ingress = AGENT_MAX_LINKS,   /* ports or links */
    };
    static_assert((int) AGENT_MAX_LINKS <= (int) LEARN_MAX_OWNERS
                  && (int) AGENT_MAX_PORTS <= (int) LEARN_MAX_OWNERS,
                  "owners fit");
    self->learn = learn_new(&lc);
    self->flood[S_T_VM] = flood_new(&fc);
    self->flood[S_T_OVL] = flood_new(&fc);
    self->acct = acct_new(cfg->acct_pairs);
    self->vm_epoll = epoll_create1(EPOLL_CLOEXEC);
    self->ovl_epoll = epoll_create1(EPOLL_CLOEXEC);
    if (!self->acct || !self->learn || !self->flood[0] || !self->flood[1]
        || self->vm_epoll < 0 || self->ovl_epoll < 0
        || s_pipe(self->learn_pipe) || s_pipe(self->hello_pipe)
        || s_pipe(self->probe_pipe) || s_pipe(self->join_pipe)
        || s_pipe(self->kick_pipe) || s_pipe(self->roam_pipe)
        || s_sec_open(self) != 0
        || s_open_udp(self) != 0) {
        goto error;
    }
    for (size_t i = 0; i < cfg->ports.n; i++) {
        agent_port_t *p = agent_port_open(cfg->ports.v[i], cfg->capture,
                                          (size_t) cfg->buffer_kb * 1024);
        if (!p) {
            goto error;
        }
        self->ports[self->n_ports++] = p;
        struct epoll_event ev = { .events = EPOLLIN,
                                  .data.u32 = (uint32_t) i };
        if (epoll_ctl(self->vm_epoll, EPOLL_CTL_ADD, agent_port_fd(p),
                      &ev) != 0) {
            VLOG_ERR("port %s: epoll: %s", cfg->ports.v[i], strerror(errno));
            goto error;
        }
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &self->rx_udp };
    struct epoll_event lev = { .events = EPOLLIN,
                               .data.ptr = &self->rx_listen };
    if (epoll_ctl(self->ovl_epoll, EPOLL_CTL_ADD, self->udp_fd, &ev) != 0
        || epoll_ctl(self->ovl_epoll, EPOLL_CTL_ADD, self->tcp_fd, &lev)
               != 0) {
        goto error;
    }
    if (!cfg->proxy) {
        agent_link_t *l = agent_link_new("proxy", cfg->proxy_addr,
                                         self->udp_fd, cfg->mtu);
        if (!l || (self->hs && agent_link_secure(l, cfg->encrypt) != 0)) {
            agent_link_destroy(&l);
            goto error;
        }
        self->proxy_link = agent_add_link(self, l);
    }
    if (agent_fast_open(self) != 0) {
        goto error;
    }
    fwd_table_t *fwd = fwd_table_new(256);
    if (!fwd || agent_publish(self, fwd) != 0) {
        goto error;
    }
    self->events = bus_connect(self->bus, ZMQ_PUB, cfg->aggregator,
                               "aggregator");
    if (!self->events || agent_ctl_start(self) != 0
        || agent_claim_start(self) != 0 || agent_star_start(self) != 0
        || agent_fast_start(self) != 0 || agent_pub_start(self) != 0) {
        goto error;
    }
    if (pthread_create(&self->threads[S_T_VM], NULL, s_vm_thread, self)
        != 0) {
        goto error;
    }
    self->threads_started[S_T_VM] = true;
    if (pthread_create(&self->threads[S_T_OVL], NULL, s_ovl_thread, self)
        != 0) {
        goto error;
    }
    self->threads_started[S_T_OVL] = true;
    VLOG_INFO("agent %s: %s, overlay %s, mtu %u, %zu port(s) (%s)",
              svc_id(svc), cfg->proxy ? "proxy" : "member", cfg->listen,
              cfg->mtu, self->n_ports, cfg->capture);
    return self;

error:
    agent_destroy(&self);
    return NULL;
}

static void
s_close(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

void
agent_destroy(agent_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    agent_t *self = *self_p;
    atomic_store(&self->stop, true);
    for (int t = 0; t < 2; t++) {
        if (self->threads_started[t]) {
            pthread_join(self->threads[t], NULL);
        }
    }
    /* Kernel redirects first: nobody will forward for them any more. */
    agent_fast_destroy(&self->fast);
    struct agent_snap *snap = atomic_exchange(&self->snap, NULL);
    if (snap) {
        fwd_table_destroy(&snap->fwd);
        free(snap);
    }
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        agent_link_destroy(&self->links[i]);
    }
    for (size_t i = 0; i < self->n_ports; i++) {
        agent_port_close(&self->ports[i]);
    }
    zsock_destroy(&self->events);
    acct_destroy(&self->acct);
    learn_destroy(&self->learn);
    flood_destroy(&self->flood[0]);
    flood_destroy(&self->flood[1]);
    s_close(&self->udp_fd);
    s_close(&self->tcp_fd);
    s_close(&self->vm_epoll);
    s_close(&self->ovl_epoll);
    for (int i = 0; i < 2; i++) {
        s_close(&self->learn_pipe[i]);
        s_close(&self->hello_pipe[i]);
        s_close(&self->probe_pipe[i]);
        s_close(&self->join_pipe[i]);
        s_close(&self->kick_pipe[i]);
        s_close(&self->roam_pipe[i]);
    }
    if (self->hs) {
        agent_peers_free(&self->hs->peers);
        sodium_memzero(self->hs, sizeof *self->hs);
        free(self->hs);
    }
    free(self);
    *self_p = NULL;
}
