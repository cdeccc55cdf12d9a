/* SPDX-License-Identifier: MIT */
/* Interfaces coming and going, from the kernel's rtnetlink: a
 * NETLINK_ROUTE socket in the RTMGRP_LINK group, and a parser that checks
 * every message (lengths, attribute bounds, strings) before it tells the
 * caller about a link.  The parser is pure, so that crafted and hostile
 * messages can be fed to it in tests.  Control thread. */
#ifndef AGENT_NETLINK_H
#define AGENT_NETLINK_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One interface, as a link message describes it. */
struct agent_nl_link {
    bool gone;                  /* RTM_DELLINK: it went away */
    int ifindex;                /* > 0 */
    unsigned flags;             /* IFF_UP, IFF_LOOPBACK... */
    char name[IF_NAMESIZE];     /* "" if the message had none */
    char kind[16];              /* IFLA_INFO_KIND ("veth", "tun"), or "" */
    bool tap;                   /* a tun device in tap mode */
    bool vnet_hdr;              /* a tun device with IFF_VNET_HDR */
};

typedef void agent_nl_fn(const struct agent_nl_link *link, void *arg);

/* What one datagram held. */
struct agent_nl_result {
    size_t links;               /* link messages given to the callback */
    size_t bad;                 /* messages refused (malformed) */
    bool broken;                /* the datagram's framing is malformed:
                                 * what follows the break was dropped */
    bool done;                  /* NLMSG_DONE: a dump is over */
    bool overrun;               /* NLMSG_OVERRUN: events were lost */
    int error;                  /* a positive errno from NLMSG_ERROR */
};

/* Parses datagram 'buf' ('len' bytes) from NETLINK_ROUTE: calls 'fn' for
 * each well-formed RTM_NEWLINK and RTM_DELLINK, skips other types, and
 * counts what it refused.  Never reads outside 'buf'; 'buf' need not be
 * aligned. */
struct agent_nl_result agent_nl_parse(const void *buf, size_t len,
                                      agent_nl_fn *fn, void *arg);

/* Opens a non-blocking NETLINK_ROUTE socket in the RTMGRP_LINK group with
 * a receive buffer of 'rcvbuf' bytes.  Returns it or -1 (logged). */
int agent_nl_open(size_t rcvbuf);

/* Asks the kernel for every link (a dump, tagged 'seq'); the answers come
 * on the socket like events.  0 or -1 (logged). */
int agent_nl_request_dump(int fd, uint32_t seq);

enum { AGENT_NL_BUF = 65536 };  /* a datagram's room: more than the kernel
                                 * ever puts in one */

/* Receives one datagram from the kernel into 'buf' (AGENT_NL_BUF bytes)
 * without blocking and parses it.  Returns 1 (parsed: 'res' says what it
 * held), 0 (nothing to read), -1 (the kernel dropped events, ENOBUFS, or
 * the datagram was cut: a new dump is needed).  Datagrams not from the
 * kernel are dropped and counted in 'res->bad'. */
int agent_nl_recv(int fd, uint8_t *buf, agent_nl_fn *fn, void *arg,
                  struct agent_nl_result *res);

#endif /* AGENT_NETLINK_H */
