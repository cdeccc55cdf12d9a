/* SPDX-License-Identifier: MIT */
/* UDP and TCP links.  Over UDP, a frame that fits goes out as one datagram
 * with the header and the frame as two iovecs (no copy); a larger one is
 * cut into max_payload chunks, each behind its own header.  Over TCP every
 * frame is one record, the header and the whole frame: the header's
 * frame_len is the length prefix. */
#include "agent_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/udp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "log.h"
#include "vtime.h"

LOG_MODULE("link");

/* IPv4 (20) and UDP (8) headers, then ours, within the path MTU. */
enum { S_IP_UDP = 28 };

/* Where a sending thread seals its datagrams: one UDP_SEGMENT send's
 * worth.  Per thread, so sealing takes no lock and allocates nothing. */
enum { S_SEAL_BUF = 65536 + 1024 };
static _Thread_local uint8_t s_seal_buf[S_SEAL_BUF];

static int s_tcp_write(agent_link_t *self, const struct iovec *iov, int n);

/* Room for a UDP_SEGMENT control message. */
union s_gso_ctrl {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
};

/* Asks the kernel to cut the datagram of 'mh' into 'seg'-byte ones. */
static void
s_set_segment(struct msghdr *mh, union s_gso_ctrl *ctrl, size_t seg)
{
    mh->msg_control = ctrl->buf;
    mh->msg_controllen = sizeof ctrl->buf;
    struct cmsghdr *cm = CMSG_FIRSTHDR(mh);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t gso = (uint16_t) seg;
    memcpy(CMSG_DATA(cm), &gso, sizeof gso);
}

/* One UDP_SEGMENT send carries at most this many datagrams (the kernel's
 * UDP_MAX_SEGMENTS on older kernels) and 64 KiB of payload in all. */
enum { S_GSO_SEGS = 64, S_UDP_MAX = 65507 };

static inline void
s_add(_Atomic uint64_t *c, uint64_t n)
{
    /* Single writer per counter set: load and store, no locked RMW. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed)
                                 + n, memory_order_relaxed);
}

void
agent_link_endpoint(const agent_link_t *self, struct sockaddr_in *out)
{
    uint64_t k = atomic_load_explicit(
        (_Atomic uint64_t *) &self->endpoint, memory_order_relaxed);
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_addr.s_addr = (uint32_t) (k >> 16);
    out->sin_port = (uint16_t) k;
}

bool
agent_link_roam(agent_link_t *self, const struct sockaddr_in *to)
{
    uint64_t k = agent_link_addr_key(to);
    if (self->tcp || to->sin_port == 0 || to->sin_addr.s_addr == 0
        || atomic_load_explicit(&self->endpoint, memory_order_relaxed)
               == k) {
        return false;
    }
    atomic_store_explicit(&self->endpoint, k, memory_order_relaxed);
    s_add(&self->stats[AGENT_T_OVL].roamed, 1);
    return true;
}

bool
agent_link_parse_addr(const char *s, struct sockaddr_in *sin)
{
    char host[64];
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon || (size_t) (colon - s) >= sizeof host || colon == s) {
        return false;
    }
    memcpy(host, s, (size_t) (colon - s));
    host[colon - s] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || end == colon + 1) {
        return false;
    }
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t) port);
    return inet_pton(AF_INET, host, &sin->sin_addr) == 1;
}

agent_link_t *
agent_link_new(const char *name, const char *peer, int fd, uint32_t mtu)
{
    agent_link_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    if (!agent_link_parse_addr(peer, &self->peer)
        || self->peer.sin_port == 0) {
        VLOG_ERR_RL("link %s: bad peer '%s': expected ipv4:port",
                    LOG_ESC(name), LOG_ESC(peer));
        goto error;
    }
    if (mtu < 576 || mtu > 65535) {
        VLOG_ERR_RL("link %s: bad mtu %u", LOG_ESC(name), mtu);
        goto error;
    }
    snprintf(self->name, sizeof self->name, "%s", name);
    snprintf(self->peer_str, sizeof self->peer_str, "%s", peer);
    atomic_init(&self->endpoint, agent_link_addr_key(&self->peer));
    self->fd = fd;
    self->mtu = mtu;
    self->max_payload = mtu - S_IP_UDP - ENCAP_HDR_LEN;
    if (encap_reasm_init(&self->reasm[0]) != 0
        || encap_reasm_init(&self->reasm[1]) != 0) {
        goto error;
    }
    return self;

error:
    agent_link_destroy(&self);
    return NULL;
}

void
agent_link_destroy(agent_link_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    agent_link_t *self = *self_p;
    if (self->tcp) {
        agent_link_tcp_close(self);
        agent_tcp_rx_uninit(&self->tcp_rx);
        pthread_mutex_destroy(&self->tcp_lock);
        free(self->tcp_q);
    }
    encap_reasm_uninit(&self->reasm[0]);
    encap_reasm_uninit(&self->reasm[1]);
    link_sec_destroy(&self->sec);
    free(self);
    *self_p = NULL;
}

int
agent_link_secure(agent_link_t *self, bool encrypt)
{
    if (!self->sec) {
        self->sec = link_sec_new();
        if (!self->sec) {
            return -1;
        }
        if (!self->tcp) {
            self->max_payload -= SEC_OVERHEAD;
        }
        self->tcp_rx.sealed = true;
    }
    self->sec->encrypt = encrypt;
    return 0;
}

/* Writes one sealed record, its length first. */
static int
s_tcp_write_sealed(agent_link_t *self, uint8_t *rec, size_t n)
{
    uint32_t len = htonl((uint32_t) n);
    memcpy(rec, &len, sizeof len);
    struct iovec iov = { rec, 4 + n };
    return s_tcp_write(self, &iov, 1);
}

int
agent_link_send_raw(agent_link_t *self, const struct sockaddr_in *to,
                    const uint8_t *buf, size_t n)
{
    if (self->tcp) {
        if (n > S_SEAL_BUF - 4) {
            return EMSGSIZE;
        }
        memcpy(s_seal_buf + 4, buf, n);
        return s_tcp_write_sealed(self, s_seal_buf, n);
    }
    if (sendto(self->fd, buf, n, MSG_DONTWAIT, (const struct sockaddr *) to,
               sizeof *to) < 0) {
        return errno ? errno : EIO;
    }
    return 0;
}

/* Sends a frame (or a control payload) sealed: each chunk behind header
 * 'h' becomes one datagram of the link's session, and up to S_GSO_SEGS
 * of them leave in one UDP_SEGMENT send, as s_send_gso does in the
 * clear.  Returns 0 or an errno (ENOTCONN: no session yet). */
static int
s_send_sealed(agent_link_t *self, struct link_stats *st, struct encap_hdr *h,
              const uint8_t *frame, size_t size)
{
    struct sec_session *s = link_sec_tx(self->sec);
    if (!s) {
        s_add(&st->tx_nokey, 1);
        return ENOTCONN;
    }
    bool encrypt = self->sec->encrypt;
    size_t seg = SEC_OVERHEAD + ENCAP_HDR_LEN + self->max_payload;
    size_t per_send = 1;
    if (size > self->max_payload
        && !atomic_load_explicit(&self->no_gso, memory_order_relaxed)) {
        per_send = S_UDP_MAX / seg;
        if (per_send > S_GSO_SEGS) {
            per_send = S_GSO_SEGS;
        }
    }
    union s_gso_ctrl ctrl;
    uint8_t hbuf[ENCAP_HDR_LEN];
    size_t off = 0;
    do {
        size_t k = 0, used = 0;
        do {
            size_t n = size - off < self->max_payload ? size - off
                                                      : self->max_payload;
            h->offset = (uint32_t) off;
            encap_encode(h, hbuf);
            size_t d = sec_seal(s, encrypt, hbuf, ENCAP_HDR_LEN,
                                frame + off, n, s_seal_buf + used);
            if (d == 0) {
                return EKEYEXPIRED;     /* rekeyed long before this */
            }
            used += d;
            off += n;
            k++;
        } while (k < per_send && off < size);
        struct iovec iov = { s_seal_buf, used };
        struct sockaddr_in to;
        agent_link_endpoint(self, &to);
        struct msghdr mh = {
            .msg_name = &to,
            .msg_namelen = sizeof to,
            .msg_iov = &iov,
            .msg_iovlen = 1,
        };
        if (k > 1) {
            s_set_segment(&mh, &ctrl, seg);
        }
        if (sendmsg(self->fd, &mh, MSG_DONTWAIT) < 0) {
            int rc = errno ? errno : EIO;
            if (k > 1 && (rc == EIO || rc == EINVAL || rc == EOPNOTSUPP)
                && !atomic_exchange(&self->no_gso, true)) {
                VLOG_WARN("link %s: UDP GSO refused (%s), sending chunks "
                          "singly", self->name, strerror(rc));
            }
            return rc;
        }
    } while (off < size);
    return 0;
}

/* Asks the overlay thread to wait for room on the socket ('out') or to
 * stop waiting.  Under tcp_lock. */
static void
s_tcp_want_room(agent_link_t *self, bool out)
{
    if (self->tcp_epoll < 0) {
        return;
    }
    struct epoll_event ev = {
        .events = EPOLLIN | (out ? EPOLLOUT : 0),
        .data.ptr = &self->tcp_rx,
    };
    /* ENOENT: the overlay thread let go of it; it is being reconnected. */
    epoll_ctl(self->tcp_epoll, EPOLL_CTL_MOD, self->tcp_fd, &ev);
}

/* Writes a record ('n' iovecs) to the link's stream, or queues what the
 * socket does not take, under the link's lock: the VM, overlay and
 * control threads all send, and records must not interleave.  Nothing
 * here blocks: the socket is non-blocking, a full queue drops the record
 * (counted), an error marks the connection broken (the control thread
 * reconnects it). */
static int
s_tcp_write(agent_link_t *self, const struct iovec *iov, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        total += iov[i].iov_len;
    }
    int rc = 0;
    size_t sent = 0;
    pthread_mutex_lock(&self->tcp_lock);
    if (self->tcp_fd < 0 || atomic_load(&self->tcp_broken)) {
        rc = ENOTCONN;
        goto done;
    }
    if (self->tcp_q_len == 0) {
        struct msghdr mh = { .msg_iov = (struct iovec *) iov,
                             .msg_iovlen = (size_t) n };
        ssize_t w;
        do {
            w = sendmsg(self->tcp_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        } while (w < 0 && errno == EINTR);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            rc = errno;
            atomic_store(&self->tcp_broken, true);
            goto done;
        }
        sent = w > 0 ? (size_t) w : 0;
        if (sent == total) {
            goto done;
        }
    } else if (self->tcp_q_len + total > AGENT_TCP_QUEUE) {
        atomic_fetch_add(&self->tcp_q_full, 1);
        rc = ENOBUFS;
        goto done;
    }
    /* The rest goes to the queue, whole: a record is never cut short.
     * The queue is made the first time it is needed: most links never
     * back up, and a link that never connects holds none. */
    if (!self->tcp_q && !(self->tcp_q = malloc(AGENT_TCP_QUEUE))) {
        atomic_fetch_add(&self->tcp_q_full, 1);
        if (sent > 0) {
            /* Part of the record is on the stream: the stream is cut. */
            atomic_store(&self->tcp_broken, true);
        }
        rc = ENOBUFS;
        goto done;
    }
    if (self->tcp_q_off + self->tcp_q_len + (total - sent)
        > AGENT_TCP_QUEUE) {
        memmove(self->tcp_q, self->tcp_q + self->tcp_q_off,
                self->tcp_q_len);
        self->tcp_q_off = 0;
    }
    uint8_t *to = self->tcp_q + self->tcp_q_off + self->tcp_q_len;
    size_t skip = sent;
    for (int i = 0; i < n; i++) {
        size_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        memcpy(to, (const uint8_t *) iov[i].iov_base + skip, len - skip);
        to += len - skip;
        skip = 0;
    }
    bool was_empty = self->tcp_q_len == 0;
    self->tcp_q_len += total - sent;
    if (was_empty) {
        s_tcp_want_room(self, true);
    }
done:
    pthread_mutex_unlock(&self->tcp_lock);
    return rc;
}

int
agent_link_tcp_flush(agent_link_t *self)
{
    int rc = 0;
    pthread_mutex_lock(&self->tcp_lock);
    if (self->tcp_fd < 0) {
        rc = ENOTCONN;
        goto done;
    }
    while (self->tcp_q_len > 0) {
        ssize_t w = send(self->tcp_fd, self->tcp_q + self->tcp_q_off,
                         self->tcp_q_len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                rc = errno;
                atomic_store(&self->tcp_broken, true);
            }
            break;
        }
        self->tcp_q_off += (size_t) w;
        self->tcp_q_len -= (size_t) w;
    }
    if (self->tcp_q_len == 0) {
        self->tcp_q_off = 0;
        s_tcp_want_room(self, false);
    }
done:
    pthread_mutex_unlock(&self->tcp_lock);
    return rc;
}

/* Sends a frame that needs several chunks with UDP_SEGMENT: each datagram
 * is one header and one chunk, all the same size but the last, so up to
 * S_GSO_SEGS of them leave in one system call and the kernel cuts them
 * apart (perf-anchors.md B.2).  Headers and chunks alternate in the iovec:
 * no copy.  Returns 0 or an errno. */
static int
s_send_gso(agent_link_t *self, struct encap_hdr *h, const uint8_t *frame,
           size_t size)
{
    uint8_t hbufs[S_GSO_SEGS][ENCAP_HDR_LEN];
    struct iovec iov[2 * S_GSO_SEGS];
    size_t seg = ENCAP_HDR_LEN + self->max_payload;
    size_t per_send = S_UDP_MAX / seg;
    if (per_send > S_GSO_SEGS) {
        per_send = S_GSO_SEGS;
    }
    union s_gso_ctrl ctrl;
    size_t off = 0;
    while (off < size) {
        size_t k = 0;
        for (; k < per_send && off < size; k++) {
            size_t n = size - off < self->max_payload ? size - off
                                                      : self->max_payload;
            h->offset = (uint32_t) off;
            encap_encode(h, hbufs[k]);
            iov[2 * k] = (struct iovec) { hbufs[k], ENCAP_HDR_LEN };
            iov[2 * k + 1] = (struct iovec) { (void *) (frame + off), n };
            off += n;
        }
        struct sockaddr_in to;
        agent_link_endpoint(self, &to);
        struct msghdr mh = {
            .msg_name = &to,
            .msg_namelen = sizeof to,
            .msg_iov = iov,
            .msg_iovlen = 2 * k,
        };
        if (k > 1) {
            s_set_segment(&mh, &ctrl, seg);
        }
        if (sendmsg(self->fd, &mh, MSG_DONTWAIT) < 0) {
            return errno ? errno : EIO;
        }
    }
    return 0;
}

/* A whole frame (or control payload) behind header 'hbuf' as one sealed
 * record on a TCP link. */
static int
s_tcp_send_sealed(agent_link_t *self, struct link_stats *st,
                  const uint8_t *hbuf, const uint8_t *frame, size_t size)
{
    struct sec_session *s = link_sec_tx(self->sec);
    if (!s) {
        s_add(&st->tx_nokey, 1);
        return ENOTCONN;
    }
    if (SEC_OVERHEAD + ENCAP_HDR_LEN + size > S_SEAL_BUF - 4) {
        return EMSGSIZE;
    }
    size_t n = sec_seal(s, self->sec->encrypt, hbuf, ENCAP_HDR_LEN, frame,
                        size, s_seal_buf + 4);
    return n ? s_tcp_write_sealed(self, s_seal_buf, n) : EKEYEXPIRED;
}

int
agent_link_send(agent_link_t *self, enum agent_thread t, const uint8_t *frame,
                size_t size, const struct encap_vnet *vnet, uint8_t flags)
{
    struct link_stats *st = &self->stats[t];
    uint32_t id = atomic_load_explicit(&self->frame_id[t],
                                       memory_order_relaxed);
    atomic_store_explicit(&self->frame_id[t], id + 1, memory_order_relaxed);
    struct encap_hdr h = {
        .version = ENCAP_VERSION,
        .type = ENCAP_DATA,
        .flags = flags,
        .hdr_len = ENCAP_HDR_LEN,
        .frame_id = id,
        .frame_len = (uint32_t) size,
    };
    if (vnet) {
        h.flags |= ENCAP_F_VNET;
        h.vnet = *vnet;
    }
    uint8_t hbuf[ENCAP_HDR_LEN];
    struct iovec iov[2] = { { hbuf, ENCAP_HDR_LEN }, { NULL, 0 } };
    if (self->tcp) {
        encap_encode(&h, hbuf);
        iov[1] = (struct iovec) { (void *) frame, size };
        int rc = self->sec ? s_tcp_send_sealed(self, st, hbuf, frame, size)
                           : s_tcp_write(self, iov, 2);
        if (rc != 0) {
            s_add(&st->tx_drops, 1);
            return rc;
        }
        s_add(&st->tx_frames, 1);
        s_add(&st->tx_bytes, size);
        return 0;
    }
    if (self->sec) {
        int rc = s_send_sealed(self, st, &h, frame, size);
        if (rc != 0) {
            s_add(&st->tx_drops, 1);
            return rc;
        }
        s_add(&st->tx_frames, 1);
        s_add(&st->tx_bytes, size);
        return 0;
    }
    if (size > self->max_payload
        && !atomic_load_explicit(&self->no_gso, memory_order_relaxed)) {
        int rc = s_send_gso(self, &h, frame, size);
        if (rc == 0) {
            s_add(&st->tx_frames, 1);
            s_add(&st->tx_bytes, size);
            return 0;
        }
        if (rc != EIO && rc != EINVAL && rc != EOPNOTSUPP) {
            s_add(&st->tx_drops, 1);
            return rc;
        }
        /* The device cannot segment UDP (no checksum offload): send the
         * chunks one by one from now on. */
        atomic_store(&self->no_gso, true);
        VLOG_WARN_RL("link %s: UDP GSO refused (%s), sending chunks singly",
                     LOG_ESC(self->name), strerror(rc));
    }
    struct sockaddr_in to;
    agent_link_endpoint(self, &to);
    struct msghdr mh = {
        .msg_name = &to,
        .msg_namelen = sizeof to,
        .msg_iov = iov,
        .msg_iovlen = 2,
    };
    size_t off = 0;
    do {
        size_t n = size - off < self->max_payload ? size - off
                                                  : self->max_payload;
        h.offset = (uint32_t) off;
        encap_encode(&h, hbuf);
        iov[1].iov_base = (void *) (frame + off);
        iov[1].iov_len = n;
        if (sendmsg(self->fd, &mh, MSG_DONTWAIT) < 0) {
            s_add(&st->tx_drops, 1);
            return errno ? errno : EIO;
        }
        off += n;
    } while (off < size);
    s_add(&st->tx_frames, 1);
    s_add(&st->tx_bytes, size);
    return 0;
}

int
agent_link_send_ctl(agent_link_t *self, enum agent_thread t, int type,
                    const void *payload, size_t n)
{
    struct encap_hdr h = {
        .version = ENCAP_VERSION,
        .type = (uint8_t) type,
        .hdr_len = ENCAP_HDR_LEN,
        .frame_len = (uint32_t) n,
    };
    uint8_t hbuf[ENCAP_HDR_LEN];
    encap_encode(&h, hbuf);
    struct iovec iov[2] = { { hbuf, ENCAP_HDR_LEN },
                            { (void *) payload, n } };
    if (self->tcp) {
        return self->sec ? s_tcp_send_sealed(self, &self->stats[t], hbuf,
                                             payload, n)
                         : s_tcp_write(self, iov, 2);
    }
    if (self->sec) {
        if (n > self->max_payload) {
            return EMSGSIZE;
        }
        return s_send_sealed(self, &self->stats[t], &h, payload, n);
    }
    struct sockaddr_in to;
    agent_link_endpoint(self, &to);
    struct msghdr mh = {
        .msg_name = &to,
        .msg_namelen = sizeof to,
        .msg_iov = iov,
        .msg_iovlen = 2,
    };
    if (sendmsg(self->fd, &mh, MSG_DONTWAIT) < 0) {
        return errno ? errno : EIO;
    }
    return 0;
}

void
agent_link_totals(const agent_link_t *self, struct link_stats *out)
{
    memset(out, 0, sizeof *out);
    for (int t = 0; t < AGENT_N_THREADS; t++) {
        const struct link_stats *s = &self->stats[t];
#define S_SUM(F) \
    atomic_store_explicit(&out->F, atomic_load(&out->F) + atomic_load(&s->F), \
                          memory_order_relaxed)
        S_SUM(tx_frames);
        S_SUM(tx_bytes);
        S_SUM(tx_drops);
        S_SUM(rx_frames);
        S_SUM(rx_bytes);
        S_SUM(rx_drops);
        S_SUM(rx_bad);
        S_SUM(tx_nokey);
        S_SUM(rx_forged);
        S_SUM(rx_replayed);
        S_SUM(roamed);
#undef S_SUM
    }
}

/* ------------------------------------------------------------------ */
/* TCP */

agent_link_t *
agent_link_new_tcp(const char *name, const char *peer)
{
    agent_link_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->tcp = true;
    self->tcp_fd = -1;
    self->tcp_connecting = -1;
    self->tcp_epoll = -1;
    self->fd = -1;
    pthread_mutex_init(&self->tcp_lock, NULL);
    if (!agent_link_parse_addr(peer, &self->peer)
        || self->peer.sin_port == 0) {
        VLOG_ERR_RL("link %s: bad peer '%s': expected ipv4:port",
                    LOG_ESC(name), LOG_ESC(peer));
        goto error;
    }
    snprintf(self->name, sizeof self->name, "%s", name);
    snprintf(self->peer_str, sizeof self->peer_str, "%s", peer);
    atomic_init(&self->endpoint, agent_link_addr_key(&self->peer));
    self->mtu = 65535;                  /* TCP carries any frame whole */
    self->max_payload = ENCAP_MAX_FRAME;
    if (agent_tcp_rx_init(&self->tcp_rx, AGENT_RX_OUTGOING, -1) != 0
        || encap_reasm_init(&self->reasm[0]) != 0
        || encap_reasm_init(&self->reasm[1]) != 0) {
        goto error;
    }
    self->tcp_rx.from = self->peer;
    self->tcp_rx.from.sin_port = 0;
    return self;

error:
    agent_link_destroy(&self);
    return NULL;
}

/* Makes connected socket 'fd' the link's stream. */
static void
s_tcp_install(agent_link_t *self, int fd)
{
    pthread_mutex_lock(&self->tcp_lock);
    self->tcp_fd = fd;
    self->tcp_rx.fd = fd;
    self->tcp_rx.have = 0;
    self->tcp_q_off = self->tcp_q_len = 0;
    atomic_store(&self->tcp_broken, false);
    atomic_store(&self->tcp_rx_dead, false);
    pthread_mutex_unlock(&self->tcp_lock);
    VLOG_INFO_RL("link %s: connected to %s over TCP", LOG_ESC(self->name),
                 LOG_ESC(self->peer_str));
}

int
agent_link_tcp_connect(agent_link_t *self, int timeout_ms)
{
    agent_link_tcp_close(self);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *) &self->peer, sizeof self->peer)
        == 0) {
        s_tcp_install(self, fd);
        return 0;
    }
    int rc = errno;
    if (rc != EINPROGRESS) {
        VLOG_WARN_RL("link %s: connect %s: %s", LOG_ESC(self->name),
                     LOG_ESC(self->peer_str), strerror(rc));
        close(fd);
        return rc;
    }
    /* The socket stays non-blocking: writers queue, never wait. */
    self->tcp_connecting = fd;
    self->tcp_connect_by_us = vtime_mono_us() + timeout_ms * 1000ull;
    return EINPROGRESS;
}

int
agent_link_tcp_connect_poll(agent_link_t *self)
{
    if (self->tcp_connecting < 0) {
        return self->tcp_fd >= 0 ? 0 : ENOTCONN;
    }
    int fd = self->tcp_connecting;
    struct pollfd pfd = { fd, POLLOUT, 0 };
    int rc = 0;
    socklen_t len = sizeof rc;
    if (poll(&pfd, 1, 0) <= 0) {
        if (vtime_mono_us() < self->tcp_connect_by_us) {
            return EINPROGRESS;
        }
        rc = ETIMEDOUT;
    } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &rc, &len) != 0) {
        rc = errno;
    }
    self->tcp_connecting = -1;
    if (rc != 0) {
        VLOG_WARN_RL("link %s: connect %s: %s", LOG_ESC(self->name),
                     LOG_ESC(self->peer_str), strerror(rc));
        close(fd);
        return rc;
    }
    s_tcp_install(self, fd);
    return 0;
}

void
agent_link_tcp_close(agent_link_t *self)
{
    if (self->tcp_connecting >= 0) {
        close(self->tcp_connecting);
        self->tcp_connecting = -1;
    }
    pthread_mutex_lock(&self->tcp_lock);
    if (self->tcp_fd >= 0) {
        close(self->tcp_fd);
    }
    self->tcp_fd = -1;
    self->tcp_rx.fd = -1;
    self->tcp_q_off = self->tcp_q_len = 0;
    atomic_store(&self->tcp_broken, true);
    pthread_mutex_unlock(&self->tcp_lock);
}

int
agent_tcp_rx_init(struct agent_tcp_rx *rx, enum agent_rx_kind kind, int fd)
{
    memset(rx, 0, sizeof *rx);
    rx->kind = kind;
    rx->fd = fd;
    rx->buf = malloc(AGENT_TCP_REC_MAX);
    return rx->buf ? 0 : -1;
}

void
agent_tcp_rx_uninit(struct agent_tcp_rx *rx)
{
    free(rx->buf);
    rx->buf = NULL;
}

int
agent_tcp_rx_feed(struct agent_tcp_rx *rx, agent_tcp_rec_fn *fn, void *arg)
{
    const size_t cap = rx->sealed ? AGENT_TCP_REC_MAX
                                  : ENCAP_HDR_LEN + ENCAP_MAX_FRAME;
    for (;;) {
        ssize_t r = recv(rx->fd, rx->buf + rx->have, cap - rx->have,
                         MSG_DONTWAIT);
        if (r == 0) {
            return -1;
        }
        if (r < 0) {
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        }
        rx->have += (size_t) r;
        size_t off = 0;
        while (rx->sealed && rx->have - off >= 4) {
            uint32_t len;
            memcpy(&len, rx->buf + off, sizeof len);
            len = ntohl(len);
            if (len < SEC_HDR_LEN || len > cap - 4) {
                return -1;      /* not our stream: cannot resynchronise */
            }
            if (rx->have - off < 4 + (size_t) len) {
                break;
            }
            fn(rx->buf + off + 4, len, arg);
            off += 4 + (size_t) len;
        }
        while (!rx->sealed && rx->have - off >= ENCAP_HDR_LEN) {
            const uint8_t *p = rx->buf + off;
            /* Byte 3 is hdr_len, bytes 8..11 frame_len: the prefix. */
            size_t hdr_len = p[3];
            uint32_t flen;
            memcpy(&flen, p + 8, sizeof flen);
            flen = ntohl(flen);
            size_t rec = hdr_len + flen;
            if (hdr_len < ENCAP_HDR_LEN || rec > cap) {
                return -1;      /* not our stream: cannot resynchronise */
            }
            if (rx->have - off < rec) {
                break;
            }
            fn(p, rec, arg);
            off += rec;
        }
        memmove(rx->buf, rx->buf + off, rx->have - off);
        rx->have -= off;
    }
}
