/* SPDX-License-Identifier: MIT */
/* rtnetlink link messages, checked.  Every length is checked against
 * what is left of its container before it is used: a message against the
 * datagram, an attribute against its message (or its nest), a string
 * against its attribute; headers are copied out, never cast in place, so
 * the buffer need not be aligned. */
#include "agent_netlink.h"

#include <errno.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

LOG_MODULE("netlink");

enum { S_ATTR_HDR = RTA_LENGTH(0) };

/* One attribute's type (flags masked off) and payload. */
typedef bool s_attr_fn(uint16_t type, const uint8_t *p, size_t n,
                       void *arg);

/* Walks the attributes in 'p' ('n' bytes), calling 'fn' for each; false
 * if one's length is impossible or 'fn' refused one.  Up to 3 bytes of
 * padding may trail. */
static bool
s_attrs(const uint8_t *p, size_t n, s_attr_fn *fn, void *arg)
{
    size_t off = 0;
    while (n - off >= sizeof(struct rtattr)) {
        struct rtattr a;
        memcpy(&a, p + off, sizeof a);
        if (a.rta_len < S_ATTR_HDR || a.rta_len > n - off) {
            return false;
        }
        if (!fn((uint16_t) (a.rta_type & NLA_TYPE_MASK), p + off + S_ATTR_HDR,
                a.rta_len - (size_t) S_ATTR_HDR, arg)) {
            return false;
        }
        size_t step = RTA_ALIGN((size_t) a.rta_len);
        off = step > n - off ? n : off + step;
    }
    return true;
}

/* A NUL-terminated string in payload 'p' ('n' bytes) into 'out' ('cap'
 * bytes).  Returns 1 if it fits, 0 if it is longer than 'out' holds
 * ('out' is then ""), -1 if it is empty or not terminated. */
static int
s_str(const uint8_t *p, size_t n, char *out, size_t cap)
{
    const uint8_t *z = memchr(p, 0, n);
    if (!z || z == p) {
        return -1;
    }
    size_t len = (size_t) (z - p);
    if (len >= cap) {
        out[0] = '\0';
        return 0;
    }
    memcpy(out, p, len);
    out[len] = '\0';
    return 1;
}

static bool
s_u8(const uint8_t *p, size_t n, uint8_t *out)
{
    if (n < 1) {
        return false;
    }
    *out = p[0];
    return true;
}

static bool
s_tun_attr(uint16_t type, const uint8_t *p, size_t n, void *arg)
{
    struct agent_nl_link *l = arg;
    uint8_t v;
    switch (type) {
    case IFLA_TUN_TYPE:
        if (!s_u8(p, n, &v)) {
            return false;
        }
        l->tap = v == IFF_TAP;
        return true;
    case IFLA_TUN_VNET_HDR:
        if (!s_u8(p, n, &v)) {
            return false;
        }
        l->vnet_hdr = v != 0;
        return true;
    default:
        return true;
    }
}

struct s_info {
    struct agent_nl_link *link;
    const uint8_t *data;        /* IFLA_INFO_DATA, read once the kind is
                                 * known */
    size_t n_data;
};

static bool
s_info_attr(uint16_t type, const uint8_t *p, size_t n, void *arg)
{
    struct s_info *in = arg;
    switch (type) {
    case IFLA_INFO_KIND:
        return s_str(p, n, in->link->kind, sizeof in->link->kind) >= 0;
    case IFLA_INFO_DATA:
        in->data = p;
        in->n_data = n;
        return true;
    default:
        return true;
    }
}

static bool
s_link_attr(uint16_t type, const uint8_t *p, size_t n, void *arg)
{
    struct agent_nl_link *l = arg;
    switch (type) {
    case IFLA_IFNAME:
        /* A name too long for an interface is no interface's. */
        return s_str(p, n, l->name, sizeof l->name) == 1;
    case IFLA_LINKINFO: {
        /* The last one says it all: nothing of an earlier one's kind or
         * tun flags is left to mix with it. */
        l->kind[0] = '\0';
        l->tap = false;
        l->vnet_hdr = false;
        struct s_info in = { .link = l };
        if (!s_attrs(p, n, s_info_attr, &in)) {
            return false;
        }
        if (in.data && !strcmp(l->kind, "tun")) {
            return s_attrs(in.data, in.n_data, s_tun_attr, l);
        }
        return true;
    }
    default:
        return true;
    }
}

/* An RTM_NEWLINK or RTM_DELLINK's payload 'p' ('n' bytes) into 'l'. */
static bool
s_link(const uint8_t *p, size_t n, bool gone, struct agent_nl_link *l)
{
    struct ifinfomsg ifi;
    if (n < sizeof ifi) {
        return false;
    }
    memcpy(&ifi, p, sizeof ifi);
    if (ifi.ifi_index <= 0) {
        return false;
    }
    memset(l, 0, sizeof *l);
    l->gone = gone;
    l->ifindex = ifi.ifi_index;
    l->flags = ifi.ifi_flags;
    size_t start = NLMSG_ALIGN(sizeof ifi);
    if (start >= n) {
        return true;
    }
    return s_attrs(p + start, n - start, s_link_attr, l);
}

struct agent_nl_result
agent_nl_parse(const void *buf, size_t len, agent_nl_fn *fn, void *arg)
{
    struct agent_nl_result res = { 0 };
    const uint8_t *b = buf;
    size_t off = 0;
    while (len - off >= NLMSG_HDRLEN) {
        struct nlmsghdr h;
        memcpy(&h, b + off, sizeof h);
        if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - off) {
            res.broken = true;
            return res;
        }
        const uint8_t *p = b + off + NLMSG_HDRLEN;
        size_t n = h.nlmsg_len - (size_t) NLMSG_HDRLEN;
        switch (h.nlmsg_type) {
        case RTM_NEWLINK:
        case RTM_DELLINK: {
            struct agent_nl_link l;
            if (s_link(p, n, h.nlmsg_type == RTM_DELLINK, &l)) {
                res.links++;
                fn(&l, arg);
            } else {
                res.bad++;
            }
            break;
        }
        case NLMSG_ERROR: {
            int err;
            if (n < sizeof err) {
                res.bad++;
                break;
            }
            memcpy(&err, p, sizeof err);
            if (err < 0) {
                res.error = err >= -4095 ? -err : EPROTO;
            }
            break;
        }
        case NLMSG_DONE:
            res.done = true;
            break;
        case NLMSG_OVERRUN:
            res.overrun = true;
            break;
        default:
            break;              /* NLMSG_NOOP, other groups' news */
        }
        size_t step = NLMSG_ALIGN((size_t) h.nlmsg_len);
        off = step > len - off ? len : off + step;
    }
    if (off < len) {
        res.broken = true;      /* bytes too few for a header */
    }
    return res;
}

int
agent_nl_open(size_t rcvbuf)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    NETLINK_ROUTE);
    if (fd < 0) {
        VLOG_ERR("netlink socket: %s", strerror(errno));
        return -1;
    }
    int size = rcvbuf > (size_t) 1 << 30 ? 1 << 30 : (int) rcvbuf;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
                              .nl_groups = RTMGRP_LINK };
    if (bind(fd, (struct sockaddr *) &sa, sizeof sa) != 0) {
        VLOG_ERR("netlink bind: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int
agent_nl_request_dump(int fd, uint32_t seq)
{
    struct {
        struct nlmsghdr h;
        struct ifinfomsg ifi;
    } req = {
        .h = { .nlmsg_len = sizeof req, .nlmsg_type = RTM_GETLINK,
               .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = seq },
        .ifi = { .ifi_family = AF_UNSPEC },
    };
    struct sockaddr_nl to = { .nl_family = AF_NETLINK };
    if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *) &to,
               sizeof to) != (ssize_t) sizeof req) {
        VLOG_ERR("netlink: asking for the links: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int
agent_nl_recv(int fd, uint8_t *buf, agent_nl_fn *fn, void *arg,
              struct agent_nl_result *res)
{
    memset(res, 0, sizeof *res);
    struct sockaddr_nl from;
    struct iovec iov = { .iov_base = buf, .iov_len = AGENT_NL_BUF };
    struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof from,
                         .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t got = recvmsg(fd, &mh, MSG_DONTWAIT);
    if (got < 0) {
        if (errno == ENOBUFS) {
            return -1;          /* the kernel dropped events for us */
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            VLOG_WARN_RL("netlink: %s", strerror(errno));
        }
        return 0;
    }
    if (mh.msg_flags & MSG_TRUNC) {
        return -1;
    }
    if (mh.msg_namelen < sizeof from || from.nl_family != AF_NETLINK
        || from.nl_pid != 0) {
        res->bad++;             /* not the kernel's: a process's */
        return 1;
    }
    *res = agent_nl_parse(buf, (size_t) got, fn, arg);
    return 1;
}
