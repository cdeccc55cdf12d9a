/* SPDX-License-Identifier: MIT */
/* UDP links.  A frame that fits goes out as one datagram with the header
 * and the frame as two iovecs (no copy); a larger one is cut into
 * max_payload chunks, each behind its own header. */
#include "agent_link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

LOG_MODULE("link");

/* IPv4 (20) and UDP (8) headers, then ours, within the path MTU. */
enum { S_IP_UDP = 28 };

static inline void
s_add(_Atomic uint64_t *c, uint64_t n)
{
    /* Single writer per counter set: load and store, no locked RMW. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed)
                                 + n, memory_order_relaxed);
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
        VLOG_ERR("link %s: bad peer '%s': expected ipv4:port", name, peer);
        goto error;
    }
    if (mtu < 576 || mtu > 65535) {
        VLOG_ERR("link %s: bad mtu %u", name, mtu);
        goto error;
    }
    snprintf(self->name, sizeof self->name, "%s", name);
    snprintf(self->peer_str, sizeof self->peer_str, "%s", peer);
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
    encap_reasm_uninit(&self->reasm[0]);
    encap_reasm_uninit(&self->reasm[1]);
    free(self);
    *self_p = NULL;
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
    struct msghdr mh = {
        .msg_name = &self->peer,
        .msg_namelen = sizeof self->peer,
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
    struct msghdr mh = {
        .msg_name = &self->peer,
        .msg_namelen = sizeof self->peer,
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
#undef S_SUM
    }
}
