/* SPDX-License-Identifier: MIT */
/* The overlay thread: datagrams from the UDP socket (recvmmsg, UDP_GRO
 * trains cut back into datagrams) and records from TCP connections,
 * checked and opened (agent_sec, agent_peer: handshakes run here, their
 * one writer), then delivered to local VMs, relayed (the proxy) or
 * handed to the control thread (hellos, joins, probe echoes, roams)
 * through pipes.  Inbound TCP connections are accepted from links'
 * addresses only, bounded, and reaped when idle. */
#include "agent_path.h"

#include <errno.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "log.h"
#include "vtime.h"

LOG_MODULE("agent_ovl");

enum { S_UDP_BURST = 32, S_UDP_SLOT = 65536 };

/* Inbound TCP connections: at most S_MAX_CONNS, S_CONNS_PER_PEER from one
 * address (a newer one replaces the oldest: a restarted peer reconnects
 * before we notice), and closed when idle (s_ovl_reap). */
enum { S_MAX_CONNS = 256, S_CONNS_PER_PEER = 4, S_REAP_EVERY_US = 1000000 };

/* ------------------------------------------------------------------ */
/* Overlay thread: datagrams from other agents */

/* A broadcast or unknown unicast ('unicast') from link 'from': to the
 * local ports and, on the proxy, to every other agent, within the
 * source's limit. */
static void
s_ovl_flood(agent_t *self, struct agent_seen *seen,
            const struct agent_snap *snap, const agent_link_t *from,
            uint64_t src, const uint8_t *frame, size_t size,
            const struct encap_vnet *vnet, bool unicast)
{
    if (!agent_path_flood_ok(self, AGENT_T_OVL, seen, src, from->index,
                             unicast)) {
        return;
    }
    agent_path_flood_ports(self, AGENT_T_OVL, snap, SIZE_MAX, frame, size,
                           vnet);
    if (self->cfg->proxy) {
        agent_path_flood_links(self, AGENT_T_OVL, snap, from->index, frame,
                               size, vnet, ENCAP_F_RELAY);
    }
}

static void
s_ovl_frame(agent_t *self, struct agent_seen *seen,
            const struct agent_snap *snap, agent_link_t *from,
            const uint8_t *frame, size_t size, const struct encap_vnet *vnet)
{
    struct agent_tstats *st = &self->tstats[AGENT_T_OVL];
    if (size < ETH_HDR_LEN) {
        agent_path_inc(&st->bad_header, 1);
        return;
    }
    if (vnet && !encap_vnet_ok(vnet, size)) {
        agent_path_inc(&st->bad_offload, 1);     /* never handed to a kernel */
        return;
    }
    uint64_t dst = eth_mac_to_u64(frame);
    uint64_t src = eth_mac_to_u64(frame + ETH_ADDR_LEN);
    bool proxy = self->cfg->proxy;

    if (proxy) {
        agent_path_learn(self, AGENT_T_OVL, seen, snap, src, FWD_LINK,
                         from->index);
    }
    if (eth_mac_is_multicast(dst)) {
        s_ovl_flood(self, seen, snap, from, src, frame, size, vnet, false);
        return;
    }
    struct fwd_action a =
        fwd_cache_lookup(&self->caches[AGENT_T_OVL], snap->fwd, dst, src);
    switch (a.kind) {
    case FWD_PORT:
        agent_path_inject(self, AGENT_T_OVL, snap, a.index, frame, size, vnet);
        break;
    case FWD_LINK:
        if (proxy && a.index != from->index) {
            agent_path_inc(&st->relayed, 1);
            agent_path_to_link(self, AGENT_T_OVL, snap, a.index, frame, size,
                               vnet, ENCAP_F_RELAY);
        } else {
            agent_path_inc(&st->no_route, 1);    /* split horizon */
        }
        break;
    case FWD_DROP:
        break;
    default:
        /* Not known here: maybe a local VM that has not sent yet. */
        s_ovl_flood(self, seen, snap, from, src, frame, size, vnet, true);
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
        agent_path_inc(&self->tstats[AGENT_T_OVL].bad_header, 1);
        return;
    }
    memcpy(ev.agent_id, payload, id_len);
    if (self->hs) {
        /* An agent speaks only for the id its key is admitted as. */
        int bound = link && link->sec ? atomic_load(&link->sec->bound) : -1;
        if (bound < 0 || strcmp(self->hs->peers.v[bound].id, ev.agent_id)) {
            agent_path_inc(&self->tstats[AGENT_T_OVL].hello_refused, 1);
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
s_ovl_inner(agent_t *self, struct agent_seen *seen,
            const struct agent_snap *snap, agent_link_t *link,
            const struct sockaddr_in *from, const uint8_t *buf, size_t len)
{
    struct encap_hdr h;
    if (encap_decode(buf, len, &h) != ENCAP_OK) {
        agent_path_inc(&link->stats[AGENT_T_OVL].rx_bad, 1);
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
        agent_path_inc(&link->stats[AGENT_T_OVL].rx_drops,
                       r->n_dropped - dropped);
    }
    if (rc != 1) {
        return;
    }
    agent_path_inc(&link->stats[AGENT_T_OVL].rx_frames, 1);
    agent_path_inc(&link->stats[AGENT_T_OVL].rx_bytes, frame_len);
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
        li = agent_path_peer_lookup(snap, from);
    }
    return li >= 0 && li < AGENT_MAX_LINKS ? snap->links[li] : NULL;
}

/* The link a handshake's first message from 'from' is for.  Message 1
 * is the only one that names no link of ours (the others carry our
 * receiver index), and two links may lead to one peer address (a
 * reserved path over the hosts' own addresses, a new link made before
 * the old one goes): it carries its link's tag, and the link at 'from'
 * with the same tag answers, so each pairs with its namesake at the far
 * end.  Else (the star, or links named differently at the two ends) the
 * first link at 'from' does, as with one link. */
static agent_link_t *
s_hs1_link(const struct agent_snap *snap, const struct sockaddr_in *from,
           uint32_t tag)
{
    bool shared = false;
    int li = agent_path_peer_find(snap, from, &shared);
    if (li < 0) {
        return NULL;
    }
    if (shared && !(snap->links[li]->sec
                    && snap->links[li]->sec->tag == tag)) {
        uint64_t key = agent_path_peer_key(from);
        for (int i = 0; i < AGENT_MAX_LINKS; i++) {
            agent_link_t *l = snap->links[i];
            if (l && l->sec && l->sec->tag == tag
                && agent_path_link_key(l) == key) {
                return l;
            }
        }
    }
    return snap->links[li];
}

static void
s_ovl_handshake(agent_t *self, const struct agent_snap *snap,
                const struct sockaddr_in *from, const uint8_t *buf,
                size_t len)
{
    agent_link_t *link;
    if (buf[0] == SEC_T_HS1) {
        link = s_hs1_link(snap, from, sec_hs1_tag(buf, len));
        if (!link && !self->cfg->proxy) {
            agent_path_inc(&self->tstats[AGENT_T_OVL].unknown_peer, 1);
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
s_ovl_sealed(agent_t *self, struct agent_seen *seen,
             const struct agent_snap *snap, const struct sockaddr_in *from,
             uint8_t *buf, size_t len)
{
    struct agent_tstats *st = &self->tstats[AGENT_T_OVL];
    uint32_t idx = sec_receiver(buf, len);
    agent_link_t *link = s_idx_link(snap, idx, from);
    struct sec_session *s = link && link->sec ? link_sec_rx(link->sec, idx)
                                              : NULL;
    if (!s) {
        agent_path_inc(&st->unauth, 1);
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
        agent_path_inc(&st->replayed, 1);
        agent_path_inc(&link->stats[AGENT_T_OVL].rx_replayed, 1);
        return false;
    case SEC_FORGED:
        agent_path_inc(&st->forged, 1);
        agent_path_inc(&link->stats[AGENT_T_OVL].rx_forged, 1);
        return false;
    default:
        agent_path_inc(&st->unauth, 1);
        VLOG_WARN_RL("sealed datagram from %s:%u for index %08x: malformed",
                     inet_ntoa(from->sin_addr), ntohs(from->sin_port), idx);
        return false;
    }
    if (!encrypted && link->sec->encrypt) {
        agent_path_inc(&st->downgraded, 1);
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
s_ovl_datagram(agent_t *self, struct agent_seen *seen,
               const struct agent_snap *snap, const struct sockaddr_in *from,
               uint8_t *buf, size_t len)
{
    struct agent_tstats *st = &self->tstats[AGENT_T_OVL];
    agent_path_inc(&st->frames_in, 1);
    agent_path_inc(&st->bytes_in, len);
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
            agent_path_inc(&st->unauth, 1);
            return false;
        }
    }
    int index = agent_path_peer_lookup(snap, from);
    agent_link_t *link = index >= 0 ? snap->links[index] : NULL;
    if (!link) {
        struct encap_hdr h;
        enum encap_error e = encap_decode(buf, len, &h);
        /* Only the proxy takes in agents it has not been told about. */
        if (e != ENCAP_OK) {
            agent_path_inc(&st->bad_header, 1);
        } else if (h.type == ENCAP_HELLO && self->cfg->proxy) {
            s_ovl_hello(self, NULL, from, buf + h.hdr_len, len - h.hdr_len);
        } else {
            agent_path_inc(&st->unknown_peer, 1);
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
        if (!l || !l->sec || atomic_load(&l->lingering)
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
    struct agent_seen *seen;
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
s_ovl_udp(agent_t *self, struct agent_seen *seen,
          const struct agent_snap *snap, struct mmsghdr *msgs,
          struct iovec *iovs, struct sockaddr_in *from, uint8_t *bufs)
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
            agent_path_inc(&self->tstats[AGENT_T_OVL].bad_header, 1);
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
            agent_path_inc(&self->tstats[AGENT_T_OVL].tcp_idle_closed, 1);
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
    int index = agent_path_peer_lookup(snap, &from);
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
        agent_path_inc(&self->tstats[AGENT_T_OVL].tcp_evicted, 1);
    }
    if (index < 0 || !snap->links[index]->tcp || *n_conns == S_MAX_CONNS
        || !(rx = malloc(sizeof *rx))
        || agent_tcp_rx_init(rx, AGENT_RX_ACCEPTED, fd) != 0) {
        agent_path_inc(&self->tstats[AGENT_T_OVL].unknown_peer, 1);
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

void *
agent_ovl_thread(void *arg)
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
    struct agent_seen *seen = calloc(1, sizeof *seen);
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
        atomic_store(&self->active[AGENT_T_OVL], atomic_load(&self->epoch));
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
        atomic_store(&self->active[AGENT_T_OVL], 0);
    }
    while (n_conns > 0) {
        s_ovl_conn_close(self, conns, &n_conns, conns[0]);
    }
    free(bufs);
    free(seen);
    return NULL;
}

int
agent_ovl_watch_tcp(agent_t *self, agent_link_t *link)
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
