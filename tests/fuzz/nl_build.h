/* SPDX-License-Identifier: MIT */
/* Builds rtnetlink link messages (RTM_NEWLINK, RTM_DELLINK) as the kernel
 * lays them out: for the netlink harness's round trip and for its seeds
 * (seeds.c).  Header only; every write is bounded by the buffer, and a
 * message that does not fit leaves 'ok' false. */
#ifndef VR_NL_BUILD_H
#define VR_NL_BUILD_H

#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "agent_netlink.h"

struct nlb {
    uint8_t *buf;
    size_t cap, len;
    bool ok;
};

static inline void
nlb_init(struct nlb *b, uint8_t *buf, size_t cap)
{
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    b->ok = true;
}

/* Appends 'n' bytes (zeros if 'p' is NULL), then zeros up to 4-byte
 * alignment. */
static inline void
nlb_put(struct nlb *b, const void *p, size_t n)
{
    size_t pad = NLMSG_ALIGN(n) - n;
    if (!b->ok || b->cap - b->len < n + pad) {
        b->ok = false;
        return;
    }
    if (p) {
        memcpy(b->buf + b->len, p, n);
    } else {
        memset(b->buf + b->len, 0, n);
    }
    memset(b->buf + b->len + n, 0, pad);
    b->len += n + pad;
}

/* Starts a message or an attribute; nlb_end() sets its length. */
static inline size_t
nlb_msg(struct nlb *b, uint16_t type)
{
    size_t at = b->len;
    struct nlmsghdr h = { .nlmsg_type = type };
    nlb_put(b, &h, sizeof h);
    return at;
}

static inline size_t
nlb_attr(struct nlb *b, uint16_t type)
{
    size_t at = b->len;
    struct rtattr a = { .rta_type = type };
    nlb_put(b, &a, sizeof a);
    return at;
}

static inline void
nlb_end_msg(struct nlb *b, size_t at)
{
    if (b->ok) {
        uint32_t n = (uint32_t) (b->len - at);
        memcpy(b->buf + at + offsetof(struct nlmsghdr, nlmsg_len), &n, sizeof n);
    }
}

static inline void
nlb_end_attr(struct nlb *b, size_t at)
{
    if (b->ok) {
        uint16_t n = (uint16_t) (b->len - at);
        memcpy(b->buf + at + offsetof(struct rtattr, rta_len), &n, sizeof n);
    }
}

static inline void
nlb_attr_data(struct nlb *b, uint16_t type, const void *p, size_t n)
{
    size_t at = nlb_attr(b, type);
    nlb_put(b, p, n);
    if (b->ok) {
        /* The length counts the payload, not its padding. */
        uint16_t len = (uint16_t) (RTA_LENGTH(n));
        memcpy(b->buf + at + offsetof(struct rtattr, rta_len), &len,
               sizeof len);
    }
}

/* The message that says what 'l' says: its name, its kind and, for a
 * tun device, its mode and vnet header flag. */
static inline void
nlb_link(struct nlb *b, const struct agent_nl_link *l)
{
    size_t m = nlb_msg(b, l->gone ? RTM_DELLINK : RTM_NEWLINK);
    struct ifinfomsg ifi = {
        .ifi_family = AF_UNSPEC,
        .ifi_index = l->ifindex,
        .ifi_flags = l->flags,
    };
    nlb_put(b, &ifi, sizeof ifi);
    if (l->name[0]) {
        nlb_attr_data(b, IFLA_IFNAME, l->name, strlen(l->name) + 1);
    }
    if (l->kind[0]) {
        size_t li = nlb_attr(b, IFLA_LINKINFO);
        nlb_attr_data(b, IFLA_INFO_KIND, l->kind, strlen(l->kind) + 1);
        if (!strcmp(l->kind, "tun")) {
            size_t d = nlb_attr(b, IFLA_INFO_DATA);
            uint8_t type = l->tap ? IFF_TAP : IFF_TUN, vh = l->vnet_hdr;
            nlb_attr_data(b, IFLA_TUN_TYPE, &type, 1);
            nlb_attr_data(b, IFLA_TUN_VNET_HDR, &vh, 1);
            nlb_end_attr(b, d);
        }
        nlb_end_attr(b, li);
    }
    nlb_end_msg(b, m);
}

#endif /* VR_NL_BUILD_H */
