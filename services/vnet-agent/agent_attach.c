/* SPDX-License-Identifier: MIT */
/* VM ports that come and go.  `ports:` names interfaces and globs
 * (agent_portcfg); the kernel's link news (agent_netlink) say when one
 * appears, is renamed or goes.  A matching interface is captured at once
 * (a free port index, its socket in the VM thread's epoll, a snapshot
 * that has it, a fresh clsact for the fast path); a removed one is
 * released: out of the epoll, its forwarding entries, rules and claims
 * out of a new snapshot (so the packet threads let go of it first, and
 * the fast path drops its filters), then closed, and the next hello and
 * VM locations no longer list its MACs.  Nothing else stops: the other
 * ports' frames flow through all of it.  At start, one dump of the links
 * captures what is there already.
 *
 * Port indices are handed out round-robin, so a released index is not
 * reused while learn events from its old port may still be in the pipe.
 * Missed news (a full socket buffer) makes a new dump; every period the
 * captured ports' interfaces are checked to still exist.  Control
 * thread. */
#include "agent_priv.h"

#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "agent_netlink.h"
#include "agent_portcfg.h"
#include "log.h"
#include "vtime.h"

LOG_MODULE("agent_attach");

enum {
    S_NL_RCVBUF = 1 << 20,      /* link news buffered by the kernel */
    S_START_MS = 3000,          /* the first dump must come in this time */
    S_DUMP_MS = 5000,           /* a dump not over by then is asked again */
    S_BATCH = 64,               /* datagrams read per wake-up */
};

static bool
s_wanted(const agent_t *self, const char *name)
{
    return agent_port_matches((const char *const *) self->cfg->ports.v,
                              self->cfg->ports.n, name);
}

static int
s_find_ifindex(const agent_t *self, int ifindex)
{
    for (size_t i = 0; i < self->n_ports; i++) {
        if (self->ports[i] && agent_port_ifindex(self->ports[i]) == ifindex) {
            return (int) i;
        }
    }
    return -1;
}

static int
s_find_name(const agent_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_ports; i++) {
        if (self->ports[i] && !strcmp(agent_port_name(self->ports[i]), name)) {
            return (int) i;
        }
    }
    return -1;
}

size_t
agent_ports_live(const agent_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n_ports; i++) {
        n += self->ports[i] != NULL;
    }
    return n;
}

static int
s_free_index(agent_t *self)
{
    for (size_t k = 0; k < AGENT_MAX_PORTS; k++) {
        size_t i = (self->next_port + k) % AGENT_MAX_PORTS;
        if (!self->ports[i]) {
            self->next_port = (i + 1) % AGENT_MAX_PORTS;
            return (int) i;
        }
    }
    return -1;
}

static void
s_shrink(agent_t *self)
{
    while (self->n_ports > 0 && !self->ports[self->n_ports - 1]) {
        self->n_ports--;
    }
}

/* Takes port 'i' out of the tables; 0, or -1 (out of memory: nothing
 * changed). */
static int
s_unport_edit(agent_t *self, fwd_table_t *fwd, void *arg)
{
    uint16_t i = *(const uint16_t *) arg;
    fwd_table_remove_target(fwd, FWD_PORT, i);
    learn_forget(self->learn, (struct fwd_action) { FWD_PORT, i });
    return 0;
}

static void s_dump(agent_t *self);

static void
s_release(agent_t *self, size_t i, const char *why)
{
    agent_port_t *p = self->ports[i];
    char name[IF_NAMESIZE];
    snprintf(name, sizeof name, "%s", agent_port_name(p));
    epoll_ctl(self->vm_epoll, EPOLL_CTL_DEL, agent_port_fd(p), NULL);
    size_t n_ports = self->n_ports;
    self->ports[i] = NULL;
    s_shrink(self);
    uint16_t index = (uint16_t) i;
    if (self->snap && agent_change(self, s_unport_edit, &index) != 0) {
        /* Out of memory: it stays until the period tries again. */
        self->ports[i] = p;
        self->n_ports = n_ports;
        self->port_gone[i] = true;
        VLOG_WARN_RL("port %s: %s, but could not be released yet", name,
                     why);
        return;
    }
    if (!self->snap) {
        learn_forget(self->learn, (struct fwd_action) { FWD_PORT, index });
    }
    /* No snapshot holds it now, and no packet thread is inside an old
     * one: it can go. */
    self->port_gone[i] = false;
    agent_port_close(&p);
    self->ports_released++;
    VLOG_INFO_RL("port %s: released (%s)", name, why);
    if (self->snap && self->events) {
        agent_pub_hello_period(self);   /* its MACs withdrawn at once */
    }
    if (self->ports_waiting && self->nl_fd >= 0) {
        s_dump(self);           /* one refused for room may fit now */
    }
}

/* Captures interface 'l' (it matches).  -1 if it could not be opened. */
static int
s_capture(agent_t *self, const struct agent_nl_link *l)
{
    if (l->flags & IFF_LOOPBACK) {
        return 0;
    }
    if (agent_ports_live(self) >= self->cfg->ports_max) {
        self->ports_refused++;
        self->ports_waiting = true;
        VLOG_WARN_RL("port %s: not captured: %u ports are already (ports_max)",
                     l->name, self->cfg->ports_max);
        return 0;
    }
    int i = s_free_index(self);
    if (i < 0) {
        self->ports_refused++;
        return 0;
    }
    /* Past the qdisc only into a veth, which takes every super-frame. */
    agent_port_t *p = agent_port_open(l->name, self->cfg->capture,
                                      (size_t) self->cfg->buffer_kb * 1024,
                                      !strcmp(l->kind, "veth"));
    if (!p) {
        self->ports_failed++;
        return -1;
    }
    if (agent_port_ifindex(p) != l->ifindex) {
        /* The name went to another interface meanwhile: its news come. */
        agent_port_close(&p);
        return 0;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t) i };
    if (epoll_ctl(self->vm_epoll, EPOLL_CTL_ADD, agent_port_fd(p), &ev)
            != 0) {
        VLOG_ERR_RL("port %s: epoll: %s", l->name, strerror(errno));
        agent_port_close(&p);
        self->ports_failed++;
        return -1;
    }
    self->ports[i] = p;
    size_t n_ports = self->n_ports;
    if ((size_t) i >= self->n_ports) {
        self->n_ports = (size_t) i + 1;
    }
    if (self->snap) {
        if (self->fast) {
            agent_fast_reset_dev(self->fast, l->name);
        }
        if (agent_change(self, NULL, NULL) != 0) {
            epoll_ctl(self->vm_epoll, EPOLL_CTL_DEL, agent_port_fd(p), NULL);
            self->ports[i] = NULL;
            self->n_ports = n_ports;
            agent_port_close(&p);
            self->ports_failed++;
            return -1;
        }
    }
    self->ports_captured++;
    if (!strcmp(l->kind, "tun")) {
        VLOG_INFO_RL("port %s: captured at %d (ifindex %d, %s, vnet "
                     "header %s)", l->name, i, l->ifindex,
                     l->tap ? "tap" : "tun", l->vnet_hdr ? "on" : "off");
        if (l->vnet_hdr && !agent_port_has_vnet(p)) {
            /* The VM may hand over super-frames; pcap cannot tell. */
            VLOG_WARN_RL("port %s: a tap with a vnet header, captured with "
                         "pcap: the VM's offloads (TSO, GSO) must be off, "
                         "or use capture: afpacket", l->name);
        }
    } else {
        VLOG_INFO_RL("port %s: captured at %d (ifindex %d%s%s)", l->name, i,
                     l->ifindex, l->kind[0] ? ", " : "", l->kind);
    }
    return 0;
}

struct s_link_ctx {
    agent_t *self;
    int rc;                     /* -1 once a capture failed */
};

static void
s_on_link(const struct agent_nl_link *l, void *arg)
{
    struct s_link_ctx *ctx = arg;
    agent_t *self = ctx->self;
    int at = s_find_ifindex(self, l->ifindex);
    if (at >= 0) {
        self->port_seen[at] = true;
    }
    if (l->gone) {
        if (at >= 0) {
            s_release(self, (size_t) at, "its interface is gone");
        }
        return;
    }
    if (!l->name[0]) {
        return;
    }
    if (at >= 0) {
        if (!strcmp(agent_port_name(self->ports[at]), l->name)) {
            return;             /* up, down, a new address: still ours */
        }
        s_release(self, (size_t) at, "its interface was renamed");
    }
    if (!s_wanted(self, l->name)) {
        return;
    }
    if (!agent_port_name_ok(l->name)) {
        self->ports_refused++;
        VLOG_WARN_RL("interface '%s' matches ports: but its name holds "
                     "characters other than letters, digits, _ - .: not "
                     "captured", LOG_ESC(l->name));
        return;
    }
    int stale = s_find_name(self, l->name);
    if (stale >= 0) {
        /* A new interface took the name of one we missed going. */
        s_release(self, (size_t) stale, "a new interface has its name");
    }
    if (s_capture(self, l) != 0) {
        ctx->rc = -1;
    }
    at = s_find_ifindex(self, l->ifindex);
    if (at >= 0) {
        self->port_seen[at] = true;
    }
}

/* Asks for every link again (news were lost); ports not in the answer
 * are released when it is over. */
static void
s_dump(agent_t *self)
{
    if (self->nl_dumping) {
        self->nl_resync = true; /* again once this one is over */
        return;
    }
    self->nl_resync = false;
    self->ports_waiting = false;
    if (agent_nl_request_dump(self->nl_fd, ++self->nl_seq) != 0) {
        self->nl_resync = true; /* the period tries again */
        return;
    }
    self->nl_resyncs++;
    self->nl_dumping = true;
    self->nl_dump_ms = vtime_mono_ms();
    memset(self->port_seen, 0, sizeof self->port_seen);
}

/* Reads what the socket holds (up to S_BATCH datagrams).  Returns -1 if
 * a capture failed, else 0. */
static int
s_read(agent_t *self)
{
    struct s_link_ctx ctx = { .self = self };
    for (int k = 0; k < S_BATCH; k++) {
        struct agent_nl_result r;
        int rc = agent_nl_recv(self->nl_fd, self->nl_buf, s_on_link, &ctx,
                               &r);
        if (rc == 0) {
            break;
        }
        if (rc < 0 || r.overrun || r.broken) {
            VLOG_WARN_RL("netlink: link news were lost: asking for every "
                         "link again");
            self->nl_lost++;
            self->nl_dumping = false;
            s_dump(self);
            continue;
        }
        if (r.bad > 0) {
            self->nl_bad += r.bad;
            VLOG_WARN_RL("netlink: %zu malformed link message(s) dropped",
                         r.bad);
        }
        if (r.error && self->nl_dumping) {
            VLOG_WARN_RL("netlink: the dump was refused: %s",
                         strerror(r.error));
            self->nl_dumping = false;
            self->nl_resync = true;
        }
        if (r.done && self->nl_dumping) {
            self->nl_dumping = false;
            /* A release may start the next dump, which clears these. */
            bool seen[AGENT_MAX_PORTS];
            memcpy(seen, self->port_seen, sizeof seen);
            for (size_t i = 0; i < self->n_ports; i++) {
                if (self->ports[i] && !seen[i]) {
                    s_release(self, i, "its interface is gone");
                }
            }
            if (self->nl_resync) {
                s_dump(self);
            }
        }
    }
    return ctx.rc;
}

static int
s_on_netlink(svc_t *svc, int fd, void *arg)
{
    (void) svc;
    (void) fd;
    s_read(arg);
    return 0;
}

/* Every period: ports whose interface went without news go, releases
 * that failed are tried again, and a dump that never ended is asked
 * again. */
static int
s_on_period(svc_t *svc, void *arg)
{
    agent_t *self = arg;
    (void) svc;
    for (size_t i = 0; i < self->n_ports; i++) {
        agent_port_t *p = self->ports[i];
        char name[IF_NAMESIZE];
        if (!p) {
            continue;
        }
        if (self->port_gone[i]) {
            s_release(self, i, "its interface is gone");
        } else if (!if_indextoname((unsigned) agent_port_ifindex(p), name)
                   || strcmp(name, agent_port_name(p)) != 0) {
            s_release(self, i, "its interface is gone or renamed");
            self->nl_resync = true;     /* a renamed one may match */
        }
    }
    if (self->nl_dumping
        && vtime_mono_ms() - self->nl_dump_ms > S_DUMP_MS) {
        self->nl_dumping = false;
        self->nl_resync = true;
    }
    if (self->nl_resync && !self->nl_dumping) {
        s_dump(self);
    }
    return 0;
}

int
agent_attach_open(agent_t *self)
{
    const struct agent_cfg *cfg = self->cfg;
    char why[256];
    if (agent_port_patterns_check((const char *const *) cfg->ports.v,
                                  cfg->ports.n, why, sizeof why) != 0) {
        VLOG_ERR("config: ports: %s", why);
        return -1;
    }
    if (cfg->ports.n == 0) {
        return 0;               /* nothing to follow */
    }
    self->nl_buf = malloc(AGENT_NL_BUF);
    if (!self->nl_buf) {
        return -1;
    }
    self->nl_fd = agent_nl_open(S_NL_RCVBUF);
    if (self->nl_fd < 0) {
        return -1;
    }
    /* The links there now, before the threads start: a port that cannot
     * be opened stops the start, as a named port always did. */
    s_dump(self);
    uint64_t until = vtime_mono_ms() + S_START_MS;
    while (self->nl_dumping && vtime_mono_ms() < until) {
        struct pollfd pfd = { .fd = self->nl_fd, .events = POLLIN };
        if (poll(&pfd, 1, 100) < 0 && errno != EINTR) {
            break;
        }
        if (s_read(self) != 0) {
            return -1;
        }
    }
    if (self->nl_dumping || self->nl_resync) {
        VLOG_ERR("netlink: the kernel's list of links did not come");
        return -1;
    }
    for (size_t i = 0; i < cfg->ports.n; i++) {
        const char *pat = cfg->ports.v[i];
        if (!agent_port_is_glob(pat) && s_find_name(self, pat) < 0) {
            VLOG_WARN("port %s: no such interface yet: captured when it "
                      "appears", LOG_ESC(pat));
        }
    }
    return 0;
}

int
agent_attach_start(agent_t *self)
{
    if (self->nl_fd < 0) {
        return 0;
    }
    if (svc_add_fd(self->svc, self->nl_fd, s_on_netlink, self) != 0
        || svc_add_timer(self->svc, self->cfg->period_ms, s_on_period, self)
               != 0) {
        return -1;
    }
    return 0;
}

void
agent_attach_close(agent_t *self)
{
    if (self->nl_fd >= 0) {
        close(self->nl_fd);
        self->nl_fd = -1;
    }
    free(self->nl_buf);
    self->nl_buf = NULL;
}
