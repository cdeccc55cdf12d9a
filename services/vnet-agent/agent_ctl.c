/* SPDX-License-Identifier: MIT */
/* The agent's control thread: its config keys, the control socket (links,
 * rules, probes, status), the learn and hello events the packet threads
 * send, and what it publishes: the local traffic matrix every period, and
 * its announcement and VM locations every hello period.  Every change to
 * forwarding is made on a copy of the table and published as a new
 * snapshot (agent_publish), all rules of a request at once. */
#include "agent_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eth.h"
#include "log.h"
#include "vtime.h"

LOG_MODULE("agent_ctl");

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
                "proxy: forget an agent silent this long"),
    CFG_KEY_U32("buffer_kb", T, buffer_kb, 64, 262144, 4096,
                "socket buffer size of the capture and overlay sockets"),
    CFG_KEY_U32("acct_pairs", T, acct_pairs, 16, 16777216, 65536,
                "MAC pairs the traffic accounting can hold"),
    CFG_KEY_BOOL("accounting", T, accounting, true,
                 "count traffic per MAC pair for inference; off only to "
                 "measure what counting costs"),
    CFG_KEY_BOOL("fastpath", T, fastpath, true,
                 "frames to VMs behind a circuit (a reserved path the "
                 "planner marks) cross it in the kernel (tc), not through "
                 "the agent; needs the afpacket capture"),
    CFG_KEY_STR("tc", T, tc, "tc",
                "the tc program (iproute2) the fast path runs"),
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

/* ------------------------------------------------------------------ */
/* Helpers */

static int
s_reply_ack(agent_t *self, const char *detail)
{
    Vr__Ack ack = VR__ACK__INIT;
    ack.detail = (char *) detail;
    return bus_send(self->bus, svc_control(self->svc), VR__MSG_TYPE__MSG_ACK,
                    &ack.base);
}

static int
s_error(agent_t *self, int code, int type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
s_error(agent_t *self, int code, int type, const char *fmt, ...)
{
    char text[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    return bus_send_error(self->bus, svc_control(self->svc), code, type,
                          "%s", text);
}

/* (Re)connects TCP link 'l' and has the overlay thread read it. */
static void
s_tcp_up(agent_t *self, agent_link_t *l, int timeout_ms)
{
    if (agent_link_tcp_connect(l, timeout_ms) == 0
        && agent_watch_tcp(self, l) != 0) {
        agent_link_tcp_close(l);
    }
}

/* Keeps TCP links connected: a link whose reader let go is reconnected; a
 * link whose writer failed is shut down, so that its reader lets go. */
static void
s_tcp_tend(agent_t *self, agent_link_t *l)
{
    if (l->tcp_fd < 0 || atomic_load(&l->tcp_rx_dead)) {
        s_tcp_up(self, l, 200);
    } else if (atomic_load(&l->tcp_broken)) {
        shutdown(l->tcp_fd, SHUT_RDWR);
    }
}

/* How a link's datagrams are protected, for link list. */
static const char *
s_link_security(const agent_t *self, const agent_link_t *l)
{
    if (!l->sec) {
        return "insecure";
    }
    bool up = link_sec_tx(l->sec) != NULL;
    if (l->circuit && agent_circuits_trusted(self)) {
        return up ? "trusted" : "trusted, no session";
    }
    if (l->sec->encrypt) {
        return up ? "encrypted" : "encrypted, no session";
    }
    return up ? "authenticated" : "authenticated, no session";
}

static void
s_link_to_proto(const agent_t *self, const agent_link_t *l, Vr__Link *out,
                Vr__LinkCounters *c)
{
    struct link_stats st;
    agent_link_totals(l, &st);
    vr__link__init(out);
    vr__link_counters__init(c);
    out->name = (char *) l->name;
    out->proto = l->tcp ? VR__LINK_PROTO__LINK_PROTO_TCP
                        : VR__LINK_PROTO__LINK_PROTO_UDP;
    out->peer = (char *) l->peer_str;
    out->peer_agent = (char *) l->peer_agent;
    out->mtu = l->mtu;
    out->circuit = l->circuit;
    out->fast_dev = (char *) l->fast_dev;
    out->security = (char *) s_link_security(self, l);
    uint64_t last = atomic_load(&l->last_rx_us);
    uint64_t quiet = vtime_mono_us() - last;
    if (l->tcp) {
        out->state = l->tcp_fd >= 0 && !atomic_load(&l->tcp_broken)
                         ? VR__LINK_STATE__LINK_STATE_UP
                         : VR__LINK_STATE__LINK_STATE_CONNECTING;
    } else {
        out->state = last && quiet < 3000ull * self->cfg->hello_ms
                         ? VR__LINK_STATE__LINK_STATE_UP
                         : VR__LINK_STATE__LINK_STATE_DOWN;
    }
    c->tx_frames = st.tx_frames;
    c->tx_bytes = st.tx_bytes;
    c->tx_drops = st.tx_drops;
    c->rx_frames = st.rx_frames;
    c->rx_bytes = st.rx_bytes;
    c->rx_drops = st.rx_drops;
    c->rx_bad_header = st.rx_bad;
    c->rx_forged = st.rx_forged;
    c->rx_replayed = st.rx_replayed;
    c->tx_nokey = st.tx_nokey;
    out->counters = c;
}

/* Finds link 'name' for request 'type', or answers NOT_FOUND and returns
 * -1. */
static int
s_named_link(agent_t *self, const char *name, int type)
{
    int index = name ? agent_find_link(self, name) : -1;
    if (index < 0) {
        s_error(self, VR__ERROR_CODE__ERR_NOT_FOUND, type, "no link '%s'",
                name ? name : "");
    }
    return index;
}

/* Sends reply 'body' of 'type' on the control socket. */
static int
s_reply(agent_t *self, int type, const ProtobufCMessage *body)
{
    return bus_send(self->bus, svc_control(self->svc), type, body);
}

/* "local:<iface>" or a link name -> an action; false if neither. */
static bool
s_resolve(const agent_t *self, const char *target, struct fwd_action *a)
{
    if (!strncmp(target, "local:", 6)) {
        for (size_t i = 0; i < self->n_ports; i++) {
            if (!strcmp(agent_port_name(self->ports[i]), target + 6)) {
                *a = (struct fwd_action) { FWD_PORT, (uint16_t) i };
                return true;
            }
        }
        return false;
    }
    int i = agent_find_link(self, target);
    if (i < 0) {
        return false;
    }
    *a = (struct fwd_action) { FWD_LINK, (uint16_t) i };
    return true;
}

static const char *
s_target_name(const agent_t *self, struct fwd_action a, char *buf,
              size_t size)
{
    if (a.kind == FWD_PORT && a.index < self->n_ports) {
        snprintf(buf, size, "local:%s",
                 agent_port_name(self->ports[a.index]));
    } else if (a.kind == FWD_LINK && self->links[a.index]) {
        snprintf(buf, size, "%s", self->links[a.index]->name);
    } else if (a.kind == FWD_DROP) {
        snprintf(buf, size, "drop");
    } else {
        snprintf(buf, size, "?");
    }
    return buf;
}

/* ------------------------------------------------------------------ */
/* The fast path (agent_fast.h) */

/* Marks link 'l' as a circuit or not and finds the device the fast path
 * would send it on. */
static void
s_set_circuit(agent_t *self, agent_link_t *l, bool circuit)
{
    char dev[IF_NAMESIZE] = "";
    l->circuit = circuit;
    if (l->sec) {
        agent_link_secure(l, agent_link_wants_encryption(self, l));
    }
    if (circuit && self->fast && !l->tcp && agent_circuits_trusted(self)) {
        if (!agent_fast_circuit_dev(&l->peer, dev)) {
            VLOG_WARN("link %s: %s is not directly attached: no fast path",
                      l->name, l->peer_str);
        }
        for (size_t i = 0; i < self->n_ports && dev[0]; i++) {
            if (!strcmp(agent_port_name(self->ports[i]), dev)) {
                dev[0] = '\0';        /* a VM port is no circuit */
            }
        }
    }
    if (strcmp(dev, l->fast_dev) != 0) {
        if (dev[0]) {
            VLOG_INFO("link %s: fast path over %s", l->name, dev);
        }
        snprintf(l->fast_dev, sizeof l->fast_dev, "%s", dev);
        agent_fast_sync(self);
    }
}

struct s_fast_acc {
    const agent_t *self;
    const fwd_table_t *fwd;
    struct fast_filter *want;
    size_t n, cap;
    uint64_t *mixed;            /* MACs with a source-specific rule */
    size_t n_mixed, cap_mixed;
    bool oom;
};

static void
s_fast_want(struct s_fast_acc *acc, const char *dev, const char *to,
            uint64_t mac, bool egress)
{
    for (size_t i = 0; i < acc->n; i++) {
        const struct fast_filter *f = &acc->want[i];
        if (f->mac == mac && !strcmp(f->dev, dev) && !strcmp(f->to, to)) {
            return;
        }
    }
    if (acc->n == acc->cap) {
        size_t cap = acc->cap ? 2 * acc->cap : 64;
        struct fast_filter *p = realloc(acc->want, cap * sizeof *p);
        if (!p) {
            acc->oom = true;
            return;
        }
        acc->want = p;
        acc->cap = cap;
    }
    struct fast_filter *f = &acc->want[acc->n++];
    memset(f, 0, sizeof *f);
    snprintf(f->dev, sizeof f->dev, "%s", dev);
    snprintf(f->to, sizeof f->to, "%s", to);
    f->mac = mac;
    f->egress = egress;
}

static void
s_fast_visit(uint64_t dst, uint64_t src, enum fwd_origin origin,
             struct fwd_action a, void *arg)
{
    struct s_fast_acc *acc = arg;
    const agent_t *self = acc->self;
    if (src != 0) {
        if (origin == FWD_RULE && acc->n_mixed < acc->cap_mixed) {
            acc->mixed[acc->n_mixed++] = dst;
        }
        return;
    }
    /* Only what the agent's own lookup would do (a rule beats a learned
     * entry for the same MAC). */
    struct fwd_action eff = fwd_table_lookup(acc->fwd, dst, 0);
    if (eff.kind != a.kind || eff.index != a.index) {
        return;
    }
    if (a.kind == FWD_LINK && origin == FWD_RULE
        && a.index < AGENT_MAX_LINKS && self->links[a.index]
        && self->links[a.index]->fast_dev[0]) {
        /* Frames from every local VM to 'dst' leave over the circuit. */
        for (size_t p = 0; p < self->n_ports; p++) {
            s_fast_want(acc, agent_port_name(self->ports[p]),
                        self->links[a.index]->fast_dev, dst, true);
        }
    } else if (a.kind == FWD_PORT && a.index < self->n_ports) {
        /* A local VM: frames to it from the other local VMs go straight
         * in, and so do frames to it arriving raw on a circuit. */
        for (size_t p = 0; p < self->n_ports; p++) {
            if (p != a.index) {
                s_fast_want(acc, agent_port_name(self->ports[p]),
                            agent_port_name(self->ports[a.index]), dst,
                            true);
            }
        }
        for (int i = 0; i < AGENT_MAX_LINKS; i++) {
            if (self->links[i] && self->links[i]->fast_dev[0]) {
                s_fast_want(acc, self->links[i]->fast_dev,
                            agent_port_name(self->ports[a.index]), dst,
                            false);
            }
        }
    }
}

static int
s_fast_cut(const char *dev, const uint64_t *macs, size_t n, void *arg)
{
    agent_t *self = arg;
    for (size_t i = 0; i < self->n_ports; i++) {
        if (!strcmp(agent_port_name(self->ports[i]), dev)) {
            return agent_port_set_cut(self->ports[i], macs, n);
        }
    }
    return -1;
}

void
agent_fast_sync(agent_t *self)
{
    if (!self->fast) {
        return;
    }
    const fwd_table_t *fwd = agent_current(self)->fwd;
    struct s_fast_acc acc = { .self = self, .fwd = fwd };
    acc.cap_mixed = fwd_table_count(fwd, FWD_RULE);
    acc.mixed = calloc(acc.cap_mixed + 1, sizeof *acc.mixed);
    if (!acc.mixed) {
        return;
    }
    fwd_table_foreach(fwd, s_fast_visit, &acc);
    if (acc.oom) {
        free(acc.want);
        free(acc.mixed);
        return;                 /* the next change or period tries again */
    }
    /* A destination with source-specific rules stays in user space:
     * only the agent can tell its sources apart. */
    size_t k = 0;
    for (size_t i = 0; i < acc.n; i++) {
        bool mixed = false;
        for (size_t j = 0; j < acc.n_mixed && !mixed; j++) {
            mixed = acc.want[i].egress && acc.mixed[j] == acc.want[i].mac;
        }
        if (!mixed) {
            acc.want[k++] = acc.want[i];
        }
    }
    const char *ports[AGENT_MAX_PORTS];
    for (size_t i = 0; i < self->n_ports; i++) {
        ports[i] = agent_port_name(self->ports[i]);
    }
    agent_fast_apply(self->fast, acc.want, k, ports, self->n_ports,
                     s_fast_cut, self);
    free(acc.want);
    free(acc.mixed);
}

/* ------------------------------------------------------------------ */
/* Requests */

static int
s_link_create(agent_t *self, const Vr__LinkCreate *req, int type)
{
    const Vr__Link *l = req->link;
    if (!l || !l->name || !*l->name || !l->peer || !*l->peer) {
        return s_error(self, VR__ERROR_CODE__ERR_BAD_REQUEST, type,
                       "link needs a name and a peer");
    }
    bool tcp = l->proto == VR__LINK_PROTO__LINK_PROTO_TCP;
    if (!tcp && l->proto != VR__LINK_PROTO__LINK_PROTO_UDP) {
        return s_error(self, VR__ERROR_CODE__ERR_BAD_REQUEST, type,
                       "link %s: unknown protocol %d", l->name,
                       (int) l->proto);
    }
    if (l->local && *l->local) {
        return s_error(self, VR__ERROR_CODE__ERR_BAD_REQUEST, type,
                       "link %s: 'local' is not supported: the overlay "
                       "socket sends from the address the route picks",
                       l->name);
    }
    struct sockaddr_in peer;
    if (!agent_link_parse_addr(l->peer, &peer)) {
        return s_error(self, VR__ERROR_CODE__ERR_BAD_REQUEST, type,
                       "link %s: bad peer '%s': expected ipv4:port",
                       l->name, l->peer);
    }
    int index = agent_find_link(self, l->name);
    if (index >= 0) {
        agent_link_t *old = self->links[index];
        if (strcmp(old->peer_str, l->peer) != 0 || old->tcp != tcp) {
            return s_error(self, VR__ERROR_CODE__ERR_EXISTS, type,
                           "link %s exists, to %s", l->name, old->peer_str);
        }
        s_set_circuit(self, old, l->circuit);
    } else if (!tcp && (index = agent_find_link_by_peer(self, &peer)) >= 0
               && self->links[index]->learned) {
        /* The proxy learned this peer from its hellos: it becomes the
         * named link, so traffic from it keeps one path. */
        agent_link_t *adopt = self->links[index];
        snprintf(adopt->name, sizeof adopt->name, "%s", l->name);
        adopt->learned = false;
    } else {
        uint32_t mtu = l->mtu ? l->mtu : self->cfg->mtu;
        agent_link_t *link = tcp ? agent_link_new_tcp(l->name, l->peer)
                                 : agent_link_new(l->name, l->peer,
                                                  self->udp_fd, mtu);
        if (!link) {
            return s_error(self, VR__ERROR_CODE__ERR_BAD_REQUEST, type,
                           "link %s: cannot create (mtu %u?)", l->name, mtu);
        }
        if (l->peer_agent) {
            snprintf(link->peer_agent, sizeof link->peer_agent, "%s",
                     l->peer_agent);
        }
        link->circuit = l->circuit;
        if (self->hs
            && agent_link_secure(link,
                                 agent_link_wants_encryption(self, link))
                   != 0) {
            agent_link_destroy(&link);
            return s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                           "link %s: out of memory", LOG_ESC(l->name));
        }
        index = agent_add_link(self, link);
        fwd_table_t *fwd = fwd_table_clone(agent_current(self)->fwd);
        if (index < 0 || !fwd || agent_publish(self, fwd) != 0) {
            if (index >= 0) {
                self->links[index] = NULL;
            }
            agent_link_destroy(&link);
            return s_error(self, VR__ERROR_CODE__ERR_LIMIT, type,
                           "link %s: no room for another link", l->name);
        }
        VLOG_INFO("link %s: created to %s over %s%s", l->name, l->peer,
                  tcp ? "TCP" : "UDP", l->circuit ? ", a circuit" : "");
        s_set_circuit(self, link, l->circuit);
        /* The peer may not have its end yet: the hello timer retries. */
        if (tcp) {
            s_tcp_up(self, link, 1000);
        }
    }
    Vr__Link out;
    Vr__LinkCounters c;
    s_link_to_proto(self, self->links[index], &out, &c);
    Vr__LinkInfo info = VR__LINK_INFO__INIT;
    info.link = &out;
    return s_reply(self, VR__MSG_TYPE__MSG_LINK_INFO, &info.base);
}

static int
s_link_remove(agent_t *self, const Vr__LinkRemove *req, int type)
{
    int index = s_named_link(self, req->name, type);
    if (index < 0) {
        return 0;
    }
    if (index == self->proxy_link) {
        return s_error(self, VR__ERROR_CODE__ERR_ILLEGAL_STATE, type,
                       "link '%s' is the star's link to the proxy",
                       req->name);
    }
    if (agent_remove_link(self, index) != 0) {
        return s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                       "link '%s': out of memory", req->name);
    }
    VLOG_INFO("link %s: removed", req->name);
    agent_fast_sync(self);
    return s_reply_ack(self, "removed");
}

static int
s_link_list(agent_t *self)
{
    Vr__Link links[AGENT_MAX_LINKS];
    Vr__LinkCounters counters[AGENT_MAX_LINKS];
    Vr__Link *ptrs[AGENT_MAX_LINKS];
    size_t n = 0;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        if (self->links[i]) {
            s_link_to_proto(self, self->links[i], &links[n], &counters[n]);
            ptrs[n] = &links[n];
            n++;
        }
    }
    Vr__LinkList list = VR__LINK_LIST__INIT;
    list.links = ptrs;
    list.n_links = n;
    return s_reply(self, VR__MSG_TYPE__MSG_LINK_LIST, &list.base);
}

static int
s_link_probe(agent_t *self, const Vr__LinkProbe *req, int type)
{
    int index = s_named_link(self, req->name, type);
    if (index < 0) {
        return 0;
    }
    uint32_t timeout = req->timeout_ms ? req->timeout_ms : 500;
    if (timeout > 5000) {
        timeout = 5000;     /* the control socket waits meanwhile */
    }
    uint64_t cookie, got;
    if (getrandom(&cookie, sizeof cookie, 0) != sizeof cookie) {
        cookie = vtime_mono_us();
    }
    while (read(self->probe_pipe[0], &got, sizeof got) > 0) {
        continue;           /* stale replies of earlier probes */
    }
    uint64_t t0 = vtime_mono_us();
    uint64_t deadline = t0 + timeout * 1000ull;
    uint64_t next_send = 0;
    Vr__LinkProbeReply reply = VR__LINK_PROBE_REPLY__INIT;
    for (uint64_t now = t0; now < deadline; now = vtime_mono_us()) {
        if (now >= next_send) {
            /* Re-sent every 100 ms: a probe is a datagram too. */
            agent_link_send_ctl(self->links[index], AGENT_T_CTL,
                                ENCAP_PROBE, &cookie, sizeof cookie);
            next_send = now + 100000;
        }
        struct pollfd pfd = { self->probe_pipe[0], POLLIN, 0 };
        uint64_t wait = next_send < deadline ? next_send : deadline;
        poll(&pfd, 1, (int) ((wait - now) / 1000) + 1);
        while (read(self->probe_pipe[0], &got, sizeof got)
               == (ssize_t) sizeof got) {
            if (got == cookie) {
                reply.ok = true;
                reply.rtt_us = vtime_mono_us() - t0;
                goto done;
            }
        }
    }
done:
    return s_reply(self, VR__MSG_TYPE__MSG_LINK_PROBE_REPLY, &reply.base);
}

static int
s_rule_add(agent_t *self, const Vr__RuleAdd *req, int type)
{
    fwd_table_t *fwd = fwd_table_clone(agent_current(self)->fwd);
    if (!fwd) {
        return s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                       "out of memory");
    }
    for (size_t i = 0; i < req->n_rules; i++) {
        const Vr__Rule *r = req->rules[i];
        struct fwd_action a;
        char mac[ETH_MAC_STRLEN];
        if (r->dst_mac == 0 || r->dst_mac > ETH_MAC_BROADCAST
            || r->src_mac > ETH_MAC_BROADCAST) {
            fwd_table_destroy(&fwd);
            return s_error(self, VR__ERROR_CODE__ERR_BAD_REQUEST, type,
                           "rule %zu: bad MAC", i);
        }
        if (!r->link || !s_resolve(self, r->link, &a)) {
            fwd_table_destroy(&fwd);
            return s_error(self, VR__ERROR_CODE__ERR_NOT_FOUND, type,
                           "rule %zu (dst %s): no link or port '%s'", i,
                           eth_mac_format(r->dst_mac, mac),
                           r->link ? r->link : "");
        }
        if (fwd_table_set(fwd, r->dst_mac, r->src_mac, FWD_RULE, a) != 0) {
            fwd_table_destroy(&fwd);
            return s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                           "out of memory");
        }
    }
    if (agent_publish(self, fwd) != 0) {
        return s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                       "out of memory");
    }
    VLOG_INFO("%zu rule(s) set", req->n_rules);
    agent_fast_sync(self);
    return s_reply_ack(self, "set");
}

static int
s_rule_remove(agent_t *self, const Vr__RuleRemove *req, int type)
{
    fwd_table_t *fwd = fwd_table_clone(agent_current(self)->fwd);
    if (!fwd) {
        return s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                       "out of memory");
    }
    for (size_t i = 0; i < req->n_rules; i++) {
        const Vr__Rule *r = req->rules[i];
        if (!fwd_table_remove(fwd, r->dst_mac, r->src_mac, FWD_RULE)) {
            char d[ETH_MAC_STRLEN], s[ETH_MAC_STRLEN];
            fwd_table_destroy(&fwd);
            return s_error(self, VR__ERROR_CODE__ERR_NOT_FOUND, type,
                           "no rule for dst %s src %s",
                           eth_mac_format(r->dst_mac, d),
                           r->src_mac ? eth_mac_format(r->src_mac, s)
                                      : "any");
        }
    }
    if (agent_publish(self, fwd) != 0) {
        return s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                       "out of memory");
    }
    agent_fast_sync(self);
    return s_reply_ack(self, "removed");
}

struct s_rule_acc {
    const agent_t *agent;
    Vr__Rule *rules;
    Vr__Rule **ptrs;
    char (*names)[80];
    size_t n, cap;
};

static void
s_rule_visit(uint64_t dst, uint64_t src, enum fwd_origin origin,
             struct fwd_action action, void *arg)
{
    struct s_rule_acc *acc = arg;
    if (origin != FWD_RULE || acc->n == acc->cap) {
        return;
    }
    Vr__Rule *r = &acc->rules[acc->n];
    vr__rule__init(r);
    r->dst_mac = dst;
    r->src_mac = src;
    r->link = (char *) s_target_name(acc->agent, action, acc->names[acc->n],
                                     sizeof acc->names[acc->n]);
    acc->ptrs[acc->n] = r;
    acc->n++;
}

static int
s_rule_list(agent_t *self, int type)
{
    const fwd_table_t *fwd = agent_current(self)->fwd;
    size_t cap = fwd_table_count(fwd, FWD_RULE);
    struct s_rule_acc acc = {
        .agent = self,
        .cap = cap,
        .rules = calloc(cap + 1, sizeof(Vr__Rule)),
        .ptrs = calloc(cap + 1, sizeof(Vr__Rule *)),
        .names = calloc(cap + 1, sizeof *acc.names),
    };
    int rc;
    if (!acc.rules || !acc.ptrs || !acc.names) {
        rc = s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                     "out of memory");
    } else {
        fwd_table_foreach(fwd, s_rule_visit, &acc);
        Vr__RuleList list = VR__RULE_LIST__INIT;
        list.rules = acc.ptrs;
        list.n_rules = acc.n;
        rc = s_reply(self, VR__MSG_TYPE__MSG_RULE_LIST, &list.base);
    }
    free(acc.rules);
    free(acc.ptrs);
    free(acc.names);
    return rc;
}

static int
s_on_request(svc_t *svc, bus_msg_t *req, void *arg)
{
    agent_t *self = arg;
    switch (req->type) {
    case VR__MSG_TYPE__MSG_LINK_CREATE:
        s_link_create(self, (Vr__LinkCreate *) req->body, req->type);
        return 0;
    case VR__MSG_TYPE__MSG_LINK_REMOVE:
        s_link_remove(self, (Vr__LinkRemove *) req->body, req->type);
        return 0;
    case VR__MSG_TYPE__MSG_LINK_LIST_REQUEST:
        s_link_list(self);
        return 0;
    case VR__MSG_TYPE__MSG_LINK_PROBE:
        s_link_probe(self, (Vr__LinkProbe *) req->body, req->type);
        return 0;
    case VR__MSG_TYPE__MSG_RULE_ADD:
        s_rule_add(self, (Vr__RuleAdd *) req->body, req->type);
        return 0;
    case VR__MSG_TYPE__MSG_RULE_REMOVE:
        s_rule_remove(self, (Vr__RuleRemove *) req->body, req->type);
        return 0;
    case VR__MSG_TYPE__MSG_RULE_LIST_REQUEST:
        s_rule_list(self, req->type);
        return 0;
    default:
        return -1;
    }
}

static void
s_on_status(svc_t *svc, Vr__StatusReply *reply, void *arg)
{
    agent_t *self = arg;
    const struct agent_snap *snap = agent_current(self);
    size_t n_links = 0;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        n_links += self->links[i] != NULL;
    }
    bus_status_add_info(reply, "mode", self->cfg->proxy ? "proxy" : "member");
    bus_status_add_info(reply, "overlay", self->cfg->listen);
    bus_status_add_info(reply, "capture", self->cfg->capture);
    bus_status_add_info(reply, "fastpath", self->fast ? "on" : "off");
    bus_status_add_info(reply, "overlay_security",
                        !self->hs ? "INSECURE (overlay.insecure)"
                        : self->cfg->encrypt ? "encrypted" : "authenticated");
    bus_status_add_counter(reply, "ports", self->n_ports, true);
    bus_status_add_counter(reply, "links", n_links, true);
    bus_status_add_counter(reply, "rules", fwd_table_count(snap->fwd,
                                                           FWD_RULE), true);
    bus_status_add_counter(reply, "learned_macs",
                           fwd_table_count(snap->fwd, FWD_LEARNED), true);
    bus_status_add_counter(reply, "vm_frames_in",
                           atomic_load(&self->tstats[0].frames_in), false);
    bus_status_add_counter(reply, "vm_bytes_in",
                           atomic_load(&self->tstats[0].bytes_in), false);
    bus_status_add_counter(reply, "overlay_datagrams_in",
                           atomic_load(&self->tstats[1].frames_in), false);
    bus_status_add_counter(reply, "overlay_bytes_in",
                           atomic_load(&self->tstats[1].bytes_in), false);
    bus_status_add_counter(reply, "injected", AGENT_TSTAT(self, injected),
                           false);
    bus_status_add_counter(reply, "inject_errors",
                           AGENT_TSTAT(self, inject_errors), false);
    bus_status_add_counter(reply, "flooded", AGENT_TSTAT(self, flooded),
                           false);
    bus_status_add_counter(reply, "relayed", AGENT_TSTAT(self, relayed),
                           false);
    bus_status_add_counter(reply, "no_route", AGENT_TSTAT(self, no_route),
                           false);
    bus_status_add_counter(reply, "unknown_peer",
                           AGENT_TSTAT(self, unknown_peer), false);
    bus_status_add_counter(reply, "bad_header",
                           AGENT_TSTAT(self, bad_header), false);
    bus_status_add_counter(reply, "fast_filters",
                           self->fast ? agent_fast_count(self->fast) : 0,
                           true);
    bus_status_add_counter(reply, "fast_frames",
                           AGENT_TSTAT(self, fast_frames), false);
    bus_status_add_counter(reply, "fast_bytes", AGENT_TSTAT(self, fast_bytes),
                           false);
    bus_status_add_counter(reply, "unauthenticated",
                           AGENT_TSTAT(self, unauth), false);
    bus_status_add_counter(reply, "forged", AGENT_TSTAT(self, forged),
                           false);
    bus_status_add_counter(reply, "replayed", AGENT_TSTAT(self, replayed),
                           false);
    bus_status_add_counter(reply, "downgraded",
                           AGENT_TSTAT(self, downgraded), false);
    bus_status_add_counter(reply, "hello_refused",
                           AGENT_TSTAT(self, hello_refused), false);
    if (self->hs) {
        const struct agent_hs_ctx *hs = self->hs;
        bus_status_add_counter(reply, "admitted_keys", hs->peers.n, true);
        bus_status_add_counter(reply, "handshakes",
                               atomic_load(&hs->n_handshakes), false);
        bus_status_add_counter(reply, "rekeys", atomic_load(&hs->n_rekeys),
                               false);
        bus_status_add_counter(reply, "unknown_keys",
                               atomic_load(&hs->n_unknown_key), false);
        bus_status_add_counter(reply, "wrong_keys",
                               atomic_load(&hs->n_wrong_key), false);
        bus_status_add_counter(reply, "handshakes_bad",
                               atomic_load(&hs->n_hs_bad), false);
        bus_status_add_counter(reply, "handshakes_limited",
                               atomic_load(&hs->n_hs_limited), false);
    }
    bus_status_add_counter(reply, "learn_events", self->n_learned, false);
    bus_status_add_counter(reply, "hellos", self->n_hellos, false);
    bus_status_add_counter(reply, "snapshots", self->n_snapshots, false);
    bus_status_add_counter(reply, "acct_pairs", acct_size(self->acct), true);
    bus_status_add_counter(reply, "acct_overflow", acct_overflow(self->acct),
                           false);
    bus_status_add_counter(reply, "fwd_cache_hits",
                           self->caches[0].hits + self->caches[1].hits,
                           false);
    bus_status_add_counter(reply, "fwd_cache_misses",
                           self->caches[0].misses + self->caches[1].misses,
                           false);
}

/* ------------------------------------------------------------------ */
/* Events from the packet threads */

static int
s_on_learn(svc_t *svc, int fd, void *arg)
{
    agent_t *self = arg;
    struct agent_learn_ev evs[256];
    ssize_t got = read(fd, evs, sizeof evs);
    if (got < (ssize_t) sizeof evs[0]) {
        return 0;
    }
    fwd_table_t *fwd = fwd_table_clone(agent_current(self)->fwd);
    if (!fwd) {
        return 0;           /* the packet threads will report it again */
    }
    size_t n = (size_t) got / sizeof evs[0];
    for (size_t i = 0; i < n; i++) {
        struct fwd_action a = { evs[i].kind, evs[i].index };
        bool valid = a.kind == FWD_PORT ? a.index < self->n_ports
                                        : self->links[a.index] != NULL;
        if (valid) {
            fwd_table_set(fwd, evs[i].mac, 0, FWD_LEARNED, a);
            self->n_learned++;
        }
    }
    if (agent_publish(self, fwd) == 0) {
        agent_fast_sync(self);
    }
    return 0;
}

/* The proxy keeps one link per agent it hears from, named after it. */
static void
s_hello_link(agent_t *self, fwd_table_t *fwd,
             const struct agent_hello_ev *ev)
{
    int index = agent_find_link_by_peer(self, &ev->from);
    if (index < 0) {
        if (!self->cfg->proxy || self->hs) {
            return;     /* with keys, the proxy's links come from joins */
        }
        char name[80], peer[64], ip[INET_ADDRSTRLEN];
        snprintf(name, sizeof name, "agent:%s", ev->agent_id);
        inet_ntop(AF_INET, &ev->from.sin_addr, ip, sizeof ip);
        snprintf(peer, sizeof peer, "%s:%u", ip, ntohs(ev->from.sin_port));
        int old = agent_find_link(self, name);
        if (old >= 0 && self->links[old]->learned) {
            /* The agent came back from another address.  Our copy of the
             * table predates the removal: drop the old link's entries from
             * it too, since its index is about to be reused. */
            agent_remove_link(self, old);
            fwd_table_remove_target(fwd, FWD_LINK, (uint16_t) old);
        } else if (old >= 0) {
            snprintf(name, sizeof name, "agent:%s#%u", ev->agent_id,
                     ++self->link_seq);
        }
        agent_link_t *l = agent_link_new(name, peer, self->udp_fd,
                                         self->cfg->mtu);
        if (!l) {
            return;
        }
        l->learned = true;
        atomic_store(&l->last_rx_us, vtime_mono_us());
        index = agent_add_link(self, l);
        if (index < 0) {
            agent_link_destroy(&l);
            return;
        }
        VLOG_INFO("proxy: agent '%s' joined from %s", ev->agent_id, peer);
    }
    agent_link_t *l = self->links[index];
    snprintf(l->peer_agent, sizeof l->peer_agent, "%s", ev->agent_id);
    if (self->cfg->proxy) {
        for (uint32_t i = 0; i < ev->n_macs; i++) {
            struct fwd_action a = { FWD_LINK, (uint16_t) index };
            fwd_table_set(fwd, ev->macs[i], 0, FWD_LEARNED, a);
        }
    }
}

/* The proxy made a session with an admitted agent it had no link for:
 * the agent's link, named after the id its key speaks for.  A learned
 * link of that id at another address is the same agent, moved. */
static void
s_join(agent_t *self, const struct agent_join_ev *ev)
{
    const char *id = self->hs->peers.v[ev->bound].id;
    char name[80], peer[64], ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &ev->from.sin_addr, ip, sizeof ip);
    snprintf(peer, sizeof peer, "%s:%u", ip, ntohs(ev->from.sin_port));
    int index = agent_find_link_by_peer(self, &ev->from);
    if (index >= 0) {
        /* A link to it was made meanwhile, and only the overlay thread
         * may change a published link's sessions: this one is dropped,
         * and the agent, never hearing on it, shakes hands again. */
        return;
    }
    snprintf(name, sizeof name, "agent:%s", id);
    int old = agent_find_link(self, name);
    if (old >= 0 && self->links[old]->learned) {
        VLOG_INFO("proxy: agent '%s' moved to %s", id, peer);
        agent_remove_link(self, old);
    } else if (old >= 0) {
        snprintf(name, sizeof name, "agent:%s#%u", id, ++self->link_seq);
    }
    agent_link_t *l = agent_link_new(name, peer, self->udp_fd,
                                     self->cfg->mtu);
    if (!l || agent_link_secure(l, self->cfg->encrypt) != 0) {
        agent_link_destroy(&l);
        return;
    }
    l->learned = true;
    snprintf(l->peer_agent, sizeof l->peer_agent, "%s", id);
    link_sec_adopt(l->sec, &ev->session, ev->bound);
    atomic_store(&l->last_rx_us, vtime_mono_us());
    index = agent_add_link(self, l);
    fwd_table_t *fwd = fwd_table_clone(agent_current(self)->fwd);
    if (index < 0 || !fwd || agent_publish(self, fwd) != 0) {
        if (index >= 0) {
            self->links[index] = NULL;
        }
        agent_link_destroy(&l);
        VLOG_WARN_RL("proxy: no room for agent '%s'", id);
        return;
    }
    VLOG_INFO("proxy: agent '%s' joined from %s", id, peer);
}

static int
s_on_join(svc_t *svc, int fd, void *arg)
{
    agent_t *self = arg;
    struct agent_join_ev ev;
    (void) svc;
    while (read(fd, &ev, sizeof ev) == (ssize_t) sizeof ev) {
        if (ev.bound >= 0 && (size_t) ev.bound < self->hs->peers.n) {
            s_join(self, &ev);
        }
        sodium_memzero(&ev, sizeof ev);
    }
    return 0;
}

static int s_on_hello_timer(svc_t *svc, void *arg);

/* A session came up: hello at once, so the star has the agent's VMs
 * without waiting for the next period. */
static int
s_on_kick(svc_t *svc, int fd, void *arg)
{
    uint8_t buf[64];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    return s_on_hello_timer(svc, arg);
}

static int
s_on_hello(svc_t *svc, int fd, void *arg)
{
    agent_t *self = arg;
    struct agent_hello_ev ev;
    fwd_table_t *fwd = NULL;
    while (read(fd, &ev, sizeof ev) == (ssize_t) sizeof ev) {
        self->n_hellos++;
        if (!fwd) {
            fwd = fwd_table_clone(agent_current(self)->fwd);
            if (!fwd) {
                return 0;
            }
        }
        s_hello_link(self, fwd, &ev);
    }
    if (fwd) {
        agent_publish(self, fwd);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Publishing */

static int
s_on_period(svc_t *svc, void *arg)
{
    agent_t *self = arg;
    if (self->fast) {
        bool sync = agent_fast_retry_due(self->fast);
        for (int i = 0; i < AGENT_MAX_LINKS; i++) {
            agent_link_t *l = self->links[i];
            if (l && l->fast_dev[0] && if_nametoindex(l->fast_dev) == 0) {
                VLOG_WARN("link %s: circuit device %s is gone: the fast "
                          "path stops using it", l->name, l->fast_dev);
                l->fast_dev[0] = '\0';
                sync = true;
            }
        }
        if (sync) {
            agent_fast_sync(self);
        }
    }
    size_t cap = acct_size(self->acct) + 64;
    struct acct_entry *e = malloc(cap * sizeof *e);
    Vr__MatrixEntry *me = malloc(cap * sizeof *me);
    Vr__MatrixEntry **mp = malloc(cap * sizeof *mp);
    if (!e || !me || !mp) {
        goto done;
    }
    size_t n = acct_snapshot(self->acct, e, cap);
    if (n > cap) {
        n = cap;
    }
    for (size_t i = 0; i < n; i++) {
        vr__matrix_entry__init(&me[i]);
        me[i].src_mac = e[i].src;
        me[i].dst_mac = e[i].dst;
        me[i].bytes = e[i].bytes;
        me[i].frames = e[i].frames;
        mp[i] = &me[i];
    }
    Vr__LocalMatrix m = VR__LOCAL_MATRIX__INIT;
    m.agent_id = (char *) svc_id(self->svc);
    m.boot_id = self->boot_id;
    m.period_us = self->cfg->period_ms * 1000ull;
    m.time_us = vtime_now_us();
    m.entries = mp;
    m.n_entries = n;
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_LOCAL_MATRIX,
             &m.base);
done:
    free(e);
    free(me);
    free(mp);
    return 0;
}

struct s_local_acc {
    uint64_t *macs;
    uint16_t *ports;
    size_t n, cap;
};

static void
s_local_visit(uint64_t dst, uint64_t src, enum fwd_origin origin,
              struct fwd_action action, void *arg)
{
    struct s_local_acc *acc = arg;
    if (origin == FWD_LEARNED && action.kind == FWD_PORT
        && acc->n < acc->cap) {
        acc->macs[acc->n] = dst;
        acc->ports[acc->n] = action.index;
        acc->n++;
    }
}

static void
s_send_hellos(agent_t *self, const struct s_local_acc *local)
{
    uint8_t buf[64 + AGENT_HELLO_MACS * ETH_ADDR_LEN];
    const char *id = svc_id(self->svc);
    size_t len = strlen(id) + 1;
    if (len > 64) {
        return;
    }
    memcpy(buf, id, len);
    for (size_t i = 0; i < local->n && i < AGENT_HELLO_MACS; i++) {
        eth_mac_from_u64(local->macs[i], buf + len);
        len += ETH_ADDR_LEN;
    }
    uint64_t now = vtime_mono_us();
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        agent_link_t *l = self->links[i];
        if (!l) {
            continue;
        }
        /* The overlay thread may have heard from it since 'now'. */
        uint64_t last = atomic_load(&l->last_rx_us);
        if (l->learned && last < now
            && now - last > self->cfg->peer_timeout_ms * 1000ull) {
            VLOG_INFO("proxy: agent '%s' silent, link %s removed",
                      l->peer_agent, l->name);
            agent_remove_link(self, i);
            continue;
        }
        if (l->tcp) {
            s_tcp_tend(self, l);
        } else {
            agent_link_send_ctl(l, AGENT_T_CTL, ENCAP_HELLO, buf, len);
        }
    }
}

static int
s_on_hello_timer(svc_t *svc, void *arg)
{
    agent_t *self = arg;
    const struct agent_snap *snap = agent_current(self);
    size_t cap = fwd_table_count(snap->fwd, FWD_LEARNED) + 1;
    struct s_local_acc local = {
        .macs = calloc(cap, sizeof(uint64_t)),
        .ports = calloc(cap, sizeof(uint16_t)),
        .cap = cap,
    };
    Vr__VmLocation *locs = calloc(cap, sizeof *locs);
    Vr__VmLocation **lp = calloc(cap, sizeof *lp);
    if (!local.macs || !local.ports || !locs || !lp) {
        goto done;
    }
    fwd_table_foreach(snap->fwd, s_local_visit, &local);
    s_send_hellos(self, &local);

    const char *id = svc_id(self->svc);
    Vr__AgentAnnounce ann = VR__AGENT_ANNOUNCE__INIT;
    ann.agent_id = (char *) id;
    ann.boot_id = self->boot_id;
    ann.control_endpoint = self->cfg->announce_control
                               ? self->cfg->announce_control
                               : self->cfg->common.control;
    ann.overlay_addr = self->cfg->listen;
    ann.proxy = self->cfg->proxy;
    ann.host_ip = self->cfg->host_ip ? self->cfg->host_ip : "";
    ann.local_macs = local.macs;
    ann.n_local_macs = local.n;
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_AGENT_ANNOUNCE,
             &ann.base);

    uint64_t now = vtime_now_us();
    for (size_t i = 0; i < local.n; i++) {
        vr__vm_location__init(&locs[i]);
        locs[i].mac = local.macs[i];
        locs[i].agent_id = (char *) id;
        locs[i].iface = (char *) agent_port_name(self->ports[local.ports[i]]);
        locs[i].seen_us = now;
        lp[i] = &locs[i];
    }
    Vr__VmLocations vl = VR__VM_LOCATIONS__INIT;
    vl.reporter = (char *) id;
    vl.vms = lp;
    vl.n_vms = local.n;
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_VM_LOCATIONS,
             &vl.base);
done:
    free(local.macs);
    free(local.ports);
    free(locs);
    free(lp);
    return 0;
}

int
agent_ctl_start(agent_t *self)
{
    svc_on_request(self->svc, s_on_request, s_on_status, self);
    if (svc_add_fd(self->svc, self->learn_pipe[0], s_on_learn, self) != 0
        || svc_add_fd(self->svc, self->hello_pipe[0], s_on_hello, self) != 0
        || svc_add_fd(self->svc, self->join_pipe[0], s_on_join, self) != 0
        || svc_add_fd(self->svc, self->kick_pipe[0], s_on_kick, self) != 0
        || svc_add_timer(self->svc, self->cfg->period_ms, s_on_period, self)
               != 0
        || svc_add_timer(self->svc, self->cfg->hello_ms, s_on_hello_timer,
                         self) != 0) {
        return -1;
    }
    /* Say hello at once: a restarted agent is back in the star before its
     * first period is over. */
    s_on_hello_timer(self->svc, self);
    return 0;
}
