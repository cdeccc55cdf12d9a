/* SPDX-License-Identifier: MIT */
/* The announced control endpoint and host address (agent_announce.h):
 * the endpoint's parsing is pure; finding the address asks the kernel
 * (getifaddrs, or a connected UDP socket's source address). */
#include "agent_announce.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_portcfg.h"
#include "log.h"

/* "tcp://" HOST ":" PORT: splits at the last ':'; HOST into 'host'. */
static bool
s_split(const char *ep, char *host, size_t hsize, char *port, size_t psize)
{
    static const char scheme[] = "tcp://";
    if (!ep || strncmp(ep, scheme, sizeof scheme - 1) != 0
        || strnlen(ep, AGENT_ANN_EP) >= AGENT_ANN_EP) {
        return false;
    }
    const char *h = ep + sizeof scheme - 1;
    const char *colon = strrchr(h, ':');
    if (!colon || colon == h || (size_t) (colon - h) >= hsize) {
        return false;
    }
    const char *p = colon + 1;
    size_t n = strlen(p);
    if (n < 1 || n > 5 || n >= psize || strspn(p, "0123456789") != n) {
        return false;
    }
    long v = strtol(p, NULL, 10);
    if (v < 1 || v > 65535) {
        return false;
    }
    snprintf(host, hsize, "%.*s", (int) (colon - h), h);
    snprintf(port, psize, "%s", p);
    return true;
}

static bool
s_wild_host(const char *host)
{
    return !strcmp(host, "*") || !strcmp(host, "0.0.0.0")
           || !strcmp(host, "[::]");
}

bool
agent_ann_wildcard(const char *ep, char *port, size_t size)
{
    char host[64], p[8];
    if (!s_split(ep, host, sizeof host, p, sizeof p) || !s_wild_host(host)) {
        return false;
    }
    snprintf(port, size, "%s", p);
    return strlen(p) < size;
}

bool
agent_ann_tcp_ipv4(const char *ep, struct sockaddr_in *out)
{
    char host[64], port[8];
    struct in_addr a;
    if (!s_split(ep, host, sizeof host, port, sizeof port)
        || inet_pton(AF_INET, host, &a) != 1) {
        return false;
    }
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_addr = a;
    out->sin_port = htons((uint16_t) strtol(port, NULL, 10));
    return true;
}

bool
agent_ann_listen_wild(const char *addr)
{
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (!colon) {
        return false;
    }
    return colon - addr == 7 && !strncmp(addr, "0.0.0.0", 7);
}

int
agent_ann_init(struct agent_ann *a, const char *ctl, const char *iface,
               const char *aggregator, bool want_ip, char *why, size_t size)
{
    memset(a, 0, sizeof *a);
    if (!ctl || !*ctl || strnlen(ctl, AGENT_ANN_EP) >= AGENT_ANN_EP) {
        log_format(why, size, "the announced control endpoint is empty or "
                   "longer than %d bytes", AGENT_ANN_EP - 1);
        return -1;
    }
    snprintf(a->ctl, sizeof a->ctl, "%s", ctl);
    a->ctl_wild = agent_ann_wildcard(ctl, a->port, sizeof a->port);
    if (iface && *iface) {
        if (!agent_port_name_ok(iface)) {
            log_format(why, size, "bus.announce_iface: '%s' is not an "
                       "interface name", LOG_ESC(iface));
            return -1;
        }
        snprintf(a->iface, sizeof a->iface, "%s", iface);
        a->from = AGENT_ANN_IFACE;
    } else if (agent_ann_tcp_ipv4(aggregator, &a->toward)) {
        a->from = AGENT_ANN_ROUTE;
    }
    if (a->ctl_wild && a->from == AGENT_ANN_NONE) {
        log_format(why, size, "the announced control endpoint '%s' is a "
                   "wildcard that others cannot connect to: set "
                   "bus.announce_control, or bus.announce_iface, or a "
                   "bus.aggregator of tcp:// and an IPv4 address (the "
                   "address is then the one its route leaves from)",
                   LOG_ESC(ctl));
        return -1;
    }
    /* Only an operator who asked for it gets a found host_ip: a
     * wildcard endpoint, or an interface named. */
    a->want_ip = want_ip && (a->ctl_wild || a->from == AGENT_ANN_IFACE);
    if (!a->ctl_wild) {
        snprintf(a->endpoint, sizeof a->endpoint, "%s", a->ctl);
    }
    return 0;
}

/* The first IPv4 address of interface 'name' into 'out'. */
static int
s_from_iface(const char *name, char *out, size_t size, char *why,
             size_t wsize)
{
    struct ifaddrs *all;
    if (getifaddrs(&all) != 0) {
        log_format(why, wsize, "getifaddrs: %s", strerror(errno));
        return -1;
    }
    int rc = -1;
    bool seen = false;
    for (struct ifaddrs *i = all; i; i = i->ifa_next) {
        if (!i->ifa_name || strcmp(i->ifa_name, name) != 0) {
            continue;
        }
        seen = true;
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET) {
            const struct sockaddr_in *sin =
                (const struct sockaddr_in *) (const void *) i->ifa_addr;
            if (inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t) size)) {
                rc = 0;
                break;
            }
        }
    }
    freeifaddrs(all);
    if (rc != 0) {
        log_format(why, wsize, "bus.announce_iface %s: %s", name,
                   seen ? "no IPv4 address" : "no such interface");
    }
    return rc;
}

/* The source address of the route toward 'to' into 'out'. */
static int
s_from_route(const struct sockaddr_in *to, char *out, size_t size,
             char *why, size_t wsize)
{
    char dst[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &to->sin_addr, dst, sizeof dst);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_format(why, wsize, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_in src;
    socklen_t len = sizeof src;
    int rc = -1;
    if (connect(fd, (const struct sockaddr *) to, sizeof *to) != 0) {
        log_format(why, wsize, "no route toward the aggregator %s: %s", dst,
                   strerror(errno));
    } else if (getsockname(fd, (struct sockaddr *) &src, &len) != 0
               || src.sin_family != AF_INET
               || src.sin_addr.s_addr == htonl(INADDR_ANY)) {
        log_format(why, wsize, "no source address toward the aggregator "
                   "%s", dst);
    } else if (inet_ntop(AF_INET, &src.sin_addr, out, (socklen_t) size)) {
        rc = 0;
    }
    close(fd);
    return rc;
}

int
agent_ann_refresh(struct agent_ann *a, char *why, size_t size)
{
    if (!a->ctl_wild && !a->want_ip) {
        return 0;
    }
    char ip[INET_ADDRSTRLEN];
    int rc = a->from == AGENT_ANN_IFACE
                 ? s_from_iface(a->iface, ip, sizeof ip, why, size)
                 : s_from_route(&a->toward, ip, sizeof ip, why, size);
    if (rc != 0) {
        a->ip[0] = '\0';
        if (a->ctl_wild) {
            a->endpoint[0] = '\0';
        }
        return -1;
    }
    if (!strcmp(ip, a->ip)) {
        return 0;
    }
    snprintf(a->ip, sizeof a->ip, "%s", ip);
    if (a->ctl_wild) {
        snprintf(a->endpoint, sizeof a->endpoint, "tcp://%s:%s", ip,
                 a->port);
    }
    return 1;
}
