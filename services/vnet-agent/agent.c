/* SPDX-License-Identifier: MIT */
/* The agent's config keys, its lifecycle (sockets, keys, ports, the
 * threads) and its snapshots.  The packet threads are agent_vm.c and
 * agent_ovl.c, the control thread's modules agent_ctl.c, agent_claim.c,
 * agent_star.c, agent_pub.c and agent_fast.c.
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
#include "agent_path.h"
#include "agent_portcfg.h"

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
                "bus.control); a wildcard host (tcp://*:7110) is replaced "
                "by this host's address, found at run time"),
    CFG_KEY_STR("bus.announce_iface", T, announce_iface, NULL,
                "the interface whose IPv4 address replaces a wildcard in "
                "the announced endpoint (unset: the address the route "
                "toward bus.aggregator leaves from)"),
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
                    "host-side interfaces of the local VMs to capture: "
                    "names and globs (vnet*, tap[0-9]*; a glob starts with "
                    "2 literal characters), followed as they come and go"),
    CFG_KEY_U32("ports_max", T, ports_max, 1, 64, 64,
                "ports captured at most; more matching interfaces are "
                "refused (logged, counted)"),
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
    CFG_KEY_U32("max_links", T, max_links, 1, AGENT_MAX_LINKS,
                AGENT_MAX_LINKS,
                "links held at most (the star's, the planner's, by hand); "
                "one more is refused"),
    CFG_KEY_U32("max_rules", T, max_rules, 1, AGENT_MAX_RULES,
                AGENT_DEFAULT_MAX_RULES,
                "forwarding rules held at most (RuleAdd); a request that "
                "would go beyond is refused whole"),
    CFG_KEY_U32("link_linger_ms", T, link_linger_ms, 0, 10000, 500,
                "a link removed by request stops sending at once but takes "
                "the frames still on their way over its path this long "
                "before it is freed (queues, propagation); 0: freed at "
                "once"),
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
    CFG_KEY_STR("overlay.circuit_nic", T, circuit_nic, "",
                "the NIC VLAN circuits arrive on (a device name): a link "
                "over a VLAN circuit gets a sub-interface of it; empty: "
                "VLAN circuits are refused"),
    CFG_KEY_STR("overlay.circuit_kind", T, circuit_kind, "vlan",
                "vlan (802.1Q sub-interfaces) or macvlan (an untagged "
                "stand-in for kernels without 802.1Q: test beds only)"),
    CFG_KEY_STR("ip", T, ip, AGENT_DEFAULT_IP,
                "the ip program (iproute2) VLAN sub-interfaces are made "
                "with: an absolute path to a file owned by root that "
                "nobody else may write; each run is killed after "
                "tc_timeout_ms"),
    CFG_KEYS_END,
};
#undef T

int
agent_ann_setup(const struct agent_cfg *cfg, struct agent_ann *a, char *why,
                size_t size)
{
    return agent_ann_init(a,
                          cfg->announce_control ? cfg->announce_control
                                                : cfg->common.control,
                          cfg->announce_iface, cfg->aggregator,
                          !cfg->host_ip && agent_ann_listen_wild(cfg->listen),
                          why, size);
}

bool
agent_cfg_finish(void *arg, char *err, size_t err_size)
{
    const struct agent_cfg *cfg = arg;
    char why[512];
    if (agent_port_patterns_check((const char *const *) cfg->ports.v,
                                  cfg->ports.n, why, sizeof why) != 0) {
        snprintf(err, err_size, "ports: %s", why);
        return false;
    }
    struct agent_ann a;
    if (agent_ann_setup(cfg, &a, why, sizeof why) != 0) {
        snprintf(err, err_size, "%s", why);
        return false;
    }
    return true;
}

const struct svc_def agent_svc_def = {
    .name = "vnet-agent",
    .role = "agent",
    .summary = "Overlay data plane for the VMs on this host (VNET).",
    .keys = agent_cfg_keys,
    .finish = agent_cfg_finish,
    .common_offset = offsetof(struct agent_cfg, common),
    .deferred_replies = true,   /* LinkProbe answers when the echo comes */
};

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
    /* Live links first, then lingering ones (agent_linger.c): of two
     * links to one peer, the live one receives what names no link. */
    for (int j = 0; j < 2 * AGENT_MAX_LINKS; j++) {
        int i = j % AGENT_MAX_LINKS;
        if (!self->links[i]
            || atomic_load(&self->links[i]->lingering)
                   != (j >= AGENT_MAX_LINKS)) {
            continue;
        }
        uint64_t key = agent_path_link_key(self->links[i]);
        size_t k = agent_path_peer_slot(key);
        while (snap->peers[k].key && snap->peers[k].key != key) {
            k = (k + 1) & (AGENT_PEER_HASH - 1);
        }
        /* Two links to one peer address: the first one receives what
         * names no link (plain datagrams, a handshake's first message
         * whose tag no link there carries); see s_hs1_link. */
        if (!snap->peers[k].key) {
            snap->peers[k].key = key;
            snap->peers[k].index = (uint16_t) i;
        } else {
            snap->peers[k].shared = true;
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
    /* Every link is added here, so no index reaches max_links. */
    for (int i = 0; i < (int) self->cfg->max_links; i++) {
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
        if (self->links[i] && !atomic_load(&self->links[i]->lingering)
            && !strcmp(self->links[i]->name, name)) {
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
        if (l && !atomic_load(&l->lingering)
            && atomic_load_explicit((_Atomic uint64_t *) &l->endpoint,
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
    if (a.kind == FWD_PORT && a.index < self->n_ports
        && self->ports[a.index]) {
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
    if (self->vlan && link->vlan) {
        agent_vlan_drop(self->vlan, link->name);
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
/* Lifecycle */

/* The overlay's datagram socket on `self->listen`. */
static int
s_open_dgram(agent_t *self)
{
    const struct agent_cfg *cfg = self->cfg;
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
    socklen_t alen = sizeof self->listen;
    getsockname(self->udp_fd, (struct sockaddr *) &self->listen, &alen);
    return 0;
}

/* The TCP listener for links, on the datagram socket's port number.
 * Leaves errno set on failure. */
static int
s_open_stream(agent_t *self)
{
    int one = 1;
    self->tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          0);
    if (self->tcp_fd < 0
        || setsockopt(self->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one,
                      sizeof one) != 0
        || bind(self->tcp_fd, (struct sockaddr *) &self->listen,
                sizeof self->listen) != 0
        || listen(self->tcp_fd, 64) != 0) {
        return -1;
    }
    return 0;
}

static void
s_close(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* With port 0 the kernel picks a UDP port, and TCP must take the same
 * number; another program may hold that TCP port, so pick again. */
enum { S_PORT_TRIES = 32 };

static int
s_open_udp(agent_t *self)
{
    const struct agent_cfg *cfg = self->cfg;
    if (!agent_link_parse_addr(cfg->listen, &self->listen)) {
        VLOG_ERR("listen: bad address '%s': expected ipv4:port",
                 cfg->listen);
        return -1;
    }
    bool any_port = self->listen.sin_port == 0;
    for (int i = 0; i < S_PORT_TRIES; i++) {
        if (s_open_dgram(self) != 0) {
            return -1;
        }
        if (s_open_stream(self) == 0) {
            return 0;
        }
        int err = errno;
        s_close(&self->tcp_fd);
        if (!any_port || err != EADDRINUSE) {
            VLOG_ERR("overlay TCP socket: %s: %s", cfg->listen,
                     strerror(err));
            return -1;
        }
        s_close(&self->udp_fd);
        self->listen.sin_port = 0;
    }
    VLOG_ERR("overlay TCP socket: %s: no port free for both UDP and TCP "
             "after %d tries", cfg->listen, S_PORT_TRIES);
    return -1;
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
    /* Three hellos missed, a second at least: a restarted peer (the
     * proxy above all, which cannot know its members) is found again in
     * that time; a needless handshake costs one round trip. */
    hs->quiet_ms = 3ull * cfg->hello_ms > 1000 ? 3ull * cfg->hello_ms : 1000;
    char z85[41];
    sec_key_to_z85(hs->me.pub, z85);
    VLOG_INFO("overlay: key %s, %zu admitted key(s), %s with %s, circuits "
              "%s", z85, hs->peers.n,
              cfg->encrypt ? "encrypted" : "authenticated only",
              hs->flags ? "AES-256-GCM" : "ChaCha20-Poly1305",
              cfg->circuits);
    return 0;
}

/* agent_new, with or without the packet threads. */
static agent_t *
s_new(svc_t *svc, const struct agent_cfg *cfg, bool threads)
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
    self->nl_fd = -1;
    self->proxy_link = -1;
    char why[512];
    if (agent_ann_setup(cfg, &self->ann, why, sizeof why) != 0) {
        VLOG_ERR("config: %s", why);
        free(self);
        return NULL;
    }
    if (getrandom(&self->boot_id, sizeof self->boot_id, 0) < 0) {
        self->boot_id = vtime_now_us();
    }
    fwd_cache_init(&self->caches[0]);
    fwd_cache_init(&self->caches[1]);

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
        /* ports or links, for broadcasts and for unknown unicast */
        .n_ingress = AGENT_MAX_LINKS + AGENT_FLOOD_UNICAST,
    };
    static_assert((int) AGENT_MAX_LINKS <= (int) LEARN_MAX_OWNERS
                  && (int) AGENT_MAX_PORTS <= (int) LEARN_MAX_OWNERS,
                  "owners fit");
    self->learn = learn_new(&lc);
    self->flood[AGENT_T_VM] = flood_new(&fc);
    self->flood[AGENT_T_OVL] = flood_new(&fc);
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
    if (agent_attach_open(self) != 0) {
        goto error;
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
    if (agent_fast_open(self) != 0 || agent_circuit_open(self) != 0) {
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
        || agent_fast_start(self) != 0 || agent_circuit_start(self) != 0
        || agent_pub_start(self) != 0 || agent_attach_start(self) != 0
        || agent_linger_start(self) != 0) {
        goto error;
    }
    if (!threads) {
        return self;
    }
    if (pthread_create(&self->threads[AGENT_T_VM], NULL, agent_vm_thread,
                       self) != 0) {
        goto error;
    }
    self->threads_started[AGENT_T_VM] = true;
    if (pthread_create(&self->threads[AGENT_T_OVL], NULL, agent_ovl_thread,
                       self) != 0) {
        goto error;
    }
    self->threads_started[AGENT_T_OVL] = true;
    VLOG_INFO("agent %s: %s, overlay %s, mtu %u, %zu port(s) (%s)",
              svc_id(svc), cfg->proxy ? "proxy" : "member", cfg->listen,
              cfg->mtu, agent_ports_live(self), cfg->capture);
    return self;

error:
    agent_destroy(&self);
    return NULL;
}

agent_t *
agent_new(svc_t *svc, const struct agent_cfg *cfg)
{
    return s_new(svc, cfg, true);
}

agent_t *
agent_new_control_only(svc_t *svc, const struct agent_cfg *cfg)
{
    return s_new(svc, cfg, false);
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
    agent_vlan_destroy(&self->vlan);
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
    agent_attach_close(self);
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
