/* SPDX-License-Identifier: MIT */
/* The control endpoint and the commodity address an agent announces.
 *
 * One config serves every node of an orchestrator's global service, so
 * it cannot name a node's address: the agent binds a wildcard (a
 * bus.control of tcp:// with host "*", an overlay.listen of 0.0.0.0) and
 * finds the address others reach it at when it announces, every hello
 * period afresh (an address may change under it):
 *   - bus.announce_iface set: that interface's first IPv4 address;
 *   - else the source address the host's routes pick toward the
 *     aggregator (bus.aggregator, tcp:// and an IPv4 address): a UDP
 *     socket connected there and never sent on, so nothing leaves.
 * The wildcard host of the announced endpoint (bus.announce_control, or
 * bus.control when unset: "*", "0.0.0.0", "[::]") is replaced by that
 * address; an endpoint with a host of its own is announced as it is.
 * The same address is the announced overlay.host_ip when that is unset
 * and the overlay listens on a wildcard.  A wildcard endpoint with no
 * way to find the address is a config error. */
#ifndef AGENT_ANNOUNCE_H
#define AGENT_ANNOUNCE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

enum agent_ann_from {
    AGENT_ANN_NONE,             /* nothing to find */
    AGENT_ANN_IFACE,            /* bus.announce_iface's address */
    AGENT_ANN_ROUTE,            /* the route toward the aggregator */
};

enum { AGENT_ANN_EP = 256 };    /* endpoint bytes, with the NUL */

struct agent_ann {
    enum agent_ann_from from;
    bool ctl_wild;              /* the endpoint's host is a wildcard */
    bool want_ip;               /* host_ip is to be found too */
    char ctl[AGENT_ANN_EP];     /* the endpoint as configured */
    char port[8];               /* its port, when ctl_wild */
    char iface[16];             /* AGENT_ANN_IFACE */
    struct sockaddr_in toward;  /* AGENT_ANN_ROUTE */
    char ip[INET_ADDRSTRLEN];   /* the address found last, or "" */
    char endpoint[AGENT_ANN_EP];    /* what is announced, or "" */
};

/* Whether 'ep' is "tcp://HOST:PORT" with a wildcard HOST; PORT (1 to
 * 65535, digits only) into 'port' ('size' bytes).  Pure. */
bool agent_ann_wildcard(const char *ep, char *port, size_t size);

/* Parses "tcp://A.B.C.D:PORT" into '*out'; false for anything else
 * (names, IPv6, ipc://).  Pure. */
bool agent_ann_tcp_ipv4(const char *ep, struct sockaddr_in *out);

/* Whether "ip:port" 'addr' (overlay.listen) is on a wildcard address.
 * Pure. */
bool agent_ann_listen_wild(const char *addr);

/* Sets 'a' up for announcing endpoint 'ctl', finding the address from
 * interface 'iface' (NULL or "": none) or the route to 'aggregator';
 * 'want_ip': the host's address is announced as host_ip too.  Returns
 * 0, or -1 with the reason in 'why' ('size' bytes; values escaped). */
int agent_ann_init(struct agent_ann *a, const char *ctl, const char *iface,
                   const char *aggregator, bool want_ip, char *why,
                   size_t size);

/* Finds the address now (when 'a' needs one) and builds a->endpoint.
 * Returns 1 when the endpoint or address changed since the last call, 0
 * when not, -1 when the address cannot be found (the reason in 'why';
 * a->ip emptied, and a->endpoint too when the endpoint needs it). */
int agent_ann_refresh(struct agent_ann *a, char *why, size_t size);

#endif /* AGENT_ANNOUNCE_H */
