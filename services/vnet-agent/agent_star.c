/* SPDX-License-Identifier: MIT */
/* The star and the upkeep of links: the hellos this agent sends on every
 * UDP link each hello period and those it hears (on the proxy, each
 * makes or refreshes the link of the agent that sent it and claims that
 * agent's MACs), the links the proxy makes for agents that shook hands
 * with it (joins), agents gone silent, and TCP links kept connected
 * (reconnects, keepalives).  Control thread; the overlay thread hands
 * hellos and joins over through pipes (agent_ovl.c). */
#include "agent_priv.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eth.h"
#include "log.h"
#include "vtime.h"

LOG_MODULE("agent_star");

/* How often TCP connects under way are looked at. */
enum { S_CONNECT_TICK_MS = 20 };

/* A TCP link's connect is given up after this long (and retried at the
 * next hello period). */
enum { S_CONNECT_MS = 3000 };

/* Has the overlay thread read TCP link 'l' once it is connected. */
static void
s_tcp_watch(agent_t *self, agent_link_t *l, int rc)
{
    if (rc == 0 && agent_ovl_watch_tcp(self, l) != 0) {
        agent_link_tcp_close(l);
    }
}

void
agent_star_tcp_up(agent_t *self, agent_link_t *l)
{
    s_tcp_watch(self, l, agent_link_tcp_connect(l, S_CONNECT_MS));
}

/* Keeps TCP links connected: a link whose reader let go is reconnected; a
 * link whose writer failed is shut down, so that its reader lets go.  A
 * connected link says it is alive (an empty PROBE_REPLY: ignored but for
 * that), so the peer does not take its connection for an idle one. */
static void
s_tcp_tend(agent_t *self, agent_link_t *l)
{
    if (l->tcp_connecting >= 0) {
        return;
    }
    if (l->tcp_fd < 0 || atomic_load(&l->tcp_rx_dead)) {
        agent_star_tcp_up(self, l);
    } else if (atomic_load(&l->tcp_broken)) {
        shutdown(l->tcp_fd, SHUT_RDWR);
    } else {
        agent_link_send_ctl(l, AGENT_T_CTL, ENCAP_PROBE_REPLY, NULL, 0);
    }
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
        VLOG_INFO_RL("proxy: agent '%s' joined from %s",
                     LOG_ESC(ev->agent_id), peer);
    }
    agent_link_t *l = self->links[index];
    snprintf(l->peer_agent, sizeof l->peer_agent, "%s", ev->agent_id);
    if (self->cfg->proxy) {
        /* An agent's hello claims its local MACs for it alone. */
        struct fwd_action a = { FWD_LINK, (uint16_t) index };
        uint64_t now = vtime_mono_us();
        for (uint32_t i = 0; i < ev->n_macs; i++) {
            if (agent_claim(self, fwd, ev->macs[i], a, now)) {
                fwd_table_set(fwd, ev->macs[i], 0, FWD_LEARNED, a);
            }
        }
    }
}

struct s_hello_batch {
    const struct agent_hello_ev *evs;
    size_t n;
};

static int
s_hello_edit(agent_t *self, fwd_table_t *fwd, void *arg)
{
    const struct s_hello_batch *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        s_hello_link(self, fwd, &b->evs[i]);
    }
    return 0;
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
    if (index < 0 || agent_change(self, NULL, NULL) != 0) {
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

/* A session came up: hello at once, so the star has the agent's VMs
 * without waiting for the next period. */
static int
s_on_kick(svc_t *svc, int fd, void *arg)
{
    uint8_t buf[64];
    (void) svc;
    while (read(fd, buf, sizeof buf) > 0) {
    }
    agent_pub_hello_period(arg);
    return 0;
}

static int
s_on_hello(svc_t *svc, int fd, void *arg)
{
    agent_t *self = arg;
    enum { BATCH = 16 };
    struct agent_hello_ev evs[BATCH];
    size_t n = 0;
    while (n < BATCH
           && read(fd, &evs[n], sizeof evs[n]) == (ssize_t) sizeof evs[n]) {
        self->n_hellos++;
        n++;
    }
    if (n > 0) {
        struct s_hello_batch b = { evs, n };
        agent_change(self, s_hello_edit, &b);
    }
    return 0;
}
void
agent_star_hello(agent_t *self, const uint64_t *macs, size_t n_macs)
{
    uint8_t buf[64 + AGENT_HELLO_MACS * ETH_ADDR_LEN];
    const char *id = svc_id(self->svc);
    size_t len = strlen(id) + 1;
    if (len > 64) {
        return;
    }
    memcpy(buf, id, len);
    /* Only MACs seen lately: a VM that went quiet here (migrated) must
     * stop being claimed, so that its new host can take it. */
    uint64_t now = vtime_mono_us();
    for (size_t i = 0, n = 0; i < n_macs && n < AGENT_HELLO_MACS; i++) {
        if (learn_live(self->learn, macs[i], now)) {
            eth_mac_from_u64(macs[i], buf + len);
            len += ETH_ADDR_LEN;
            n++;
        }
    }
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        agent_link_t *l = self->links[i];
        if (!l) {
            continue;
        }
        /* The overlay thread may have heard from it since 'now'. */
        uint64_t last = atomic_load(&l->last_rx_us);
        if (l->learned && last < now
            && now - last > self->cfg->peer_timeout_ms * 1000ull) {
            VLOG_INFO_RL("proxy: agent '%s' silent, link %s removed",
                         LOG_ESC(l->peer_agent), LOG_ESC(l->name));
            agent_remove_link(self, i);
            continue;
        }
        if (atomic_load(&l->lingering)) {
            continue;   /* removed: it says nothing more */
        }
        if (l->tcp) {
            s_tcp_tend(self, l);
        } else {
            agent_link_send_ctl(l, AGENT_T_CTL, ENCAP_HELLO, buf, len);
        }
    }
}

/* Links whose peer moved (agent_link_roam, in the overlay thread): the
 * snapshot's address table is made again, so that the peer's next
 * handshake from there finds its link. */
static int
s_on_roam(svc_t *svc, int fd, void *arg)
{
    agent_t *self = arg;
    (void) svc;
    uint16_t idx[64];
    ssize_t got;
    bool moved = false;
    while ((got = read(fd, idx, sizeof idx)) >= (ssize_t) sizeof idx[0]) {
        for (size_t i = 0; i < (size_t) got / sizeof idx[0]; i++) {
            agent_link_t *l = idx[i] < AGENT_MAX_LINKS ? self->links[idx[i]]
                                                       : NULL;
            if (!l) {
                continue;
            }
            struct sockaddr_in ep;
            char ip[INET_ADDRSTRLEN];
            agent_link_endpoint(l, &ep);
            inet_ntop(AF_INET, &ep.sin_addr, ip, sizeof ip);
            VLOG_INFO_RL("link %s: peer '%s' now at %s:%u (authenticated)",
                         LOG_ESC(l->name), LOG_ESC(l->peer_agent), ip,
                         ntohs(ep.sin_port));
            moved = true;
        }
    }
    if (moved) {
        agent_change(self, NULL, NULL);
    }
    return 0;
}

/* TCP connects under way are looked at. */
static int
s_on_tick(svc_t *svc, void *arg)
{
    agent_t *self = arg;
    (void) svc;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        agent_link_t *l = self->links[i];
        if (l && l->tcp && l->tcp_connecting >= 0) {
            s_tcp_watch(self, l, agent_link_tcp_connect_poll(l));
        }
    }
    return 0;
}

int
agent_star_start(agent_t *self)
{
    if (svc_add_fd(self->svc, self->hello_pipe[0], s_on_hello, self) != 0
        || svc_add_fd(self->svc, self->join_pipe[0], s_on_join, self) != 0
        || svc_add_fd(self->svc, self->kick_pipe[0], s_on_kick, self) != 0
        || svc_add_fd(self->svc, self->roam_pipe[0], s_on_roam, self) != 0
        || svc_add_timer(self->svc, S_CONNECT_TICK_MS, s_on_tick, self)
               != 0) {
        return -1;
    }
    return 0;
}
