/* SPDX-License-Identifier: MIT */
/* The fast path's filters, installed with tc (iproute2) through proc_run:
 * u32 matching the destination MAC at its place before the network
 * header, action mirred.  On a VM port the action mirrors: what leaves is
 * a clone, which owns no socket, and the frame itself goes on up the
 * host's stack, which drops it (not its MAC) as it drops every VM frame
 * the agent captures.  A redirect would send the VM's own skb, still
 * charged to the VM's TCP socket until the far VM takes it in: TCP small
 * queues then throttle the sender while it waits in the circuit's
 * shaper (all-to-all BSP ran at 45% of the routed bed that way; routing
 * frees the skb at the host's IP layer).  On a circuit device the frame
 * no longer belongs to a socket, so a redirect is right.  Filters are
 * few (VM ports x
 * MACs behind circuits) and change only when the planner moves rules, so
 * one tc run per filter is cheap enough and keeps netlink's u32 and
 * mirred encodings out of this code. */
#include "agent_fast.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_priv.h"
#include "eth.h"
#include "log.h"
#include "proc.h"
#include "vtime.h"

LOG_MODULE("fast");

enum {
    S_TC_TIMEOUT_MS = 5000,
    S_RETRY_MS = 5000,          /* pause after tc refused an addition */
    S_PRIO_FIRST = 100,
    S_MAX_DEVS = 256,           /* devices with a clsact qdisc of ours */
};

struct agent_fast {
    char *tc;
    struct fast_filter *have;   /* installed */
    size_t n_have, cap_have;
    char (*devs)[IF_NAMESIZE];  /* devices whose clsact we (re)made */
    size_t n_devs;
    uint64_t retry_at_ms;       /* no additions before (after a failure) */
    uint64_t warn_at_ms;        /* tc's refusals are logged once a minute */
    size_t failed;              /* what the last apply could not do */
};

/* ------------------------------------------------------------------ */
/* Pure parts */

void
agent_fast_argv_add(const char *tc, const struct fast_filter *f,
                    const char **argv, char *buf)
{
    /* buf: "<prio>\0<first 2 bytes>\0<last 4>\0"; u32 keys are 32-bit
     * words, so the MAC (14 bytes before the network header) is cut
     * where the word boundaries fall. */
    int a = snprintf(buf, AGENT_FAST_BUF, "%u", f->prio) + 1;
    int b = snprintf(buf + a, (size_t) (AGENT_FAST_BUF - a), "0x%04x",
                     (unsigned) (f->mac >> 32)) + 1;
    snprintf(buf + a + b, (size_t) (AGENT_FAST_BUF - a - b), "0x%08x",
             (unsigned) (f->mac & 0xffffffff));
    const char *w[] = {
        tc, "filter", "add", "dev", f->dev, "ingress", "prio", buf,
        "protocol", "all", "u32",
        "match", "u16", buf + a, "0xffff", "at", "-14",
        "match", "u32", buf + a + b, "0xffffffff", "at", "-12",
        "action", "mirred", "egress", f->egress ? "mirror" : "redirect",
        "dev", f->to, NULL,
    };
    memcpy(argv, w, sizeof w);
}

void
agent_fast_argv_del(const char *tc, const struct fast_filter *f,
                    const char **argv, char *buf)
{
    snprintf(buf, AGENT_FAST_BUF, "%u", f->prio);
    const char *w[] = {
        tc, "filter", "del", "dev", f->dev, "ingress", "prio", buf,
        "protocol", "all", "u32", NULL,
    };
    memcpy(argv, w, sizeof w);
}

bool
agent_fast_circuit_dev(const struct sockaddr_in *peer, char dev[IF_NAMESIZE])
{
    /* The address the route to 'peer' sends from tells the device. */
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    struct sockaddr_in to = *peer, local;
    socklen_t len = sizeof local;
    if (to.sin_port == 0) {
        to.sin_port = htons(9);
    }
    bool ok = connect(fd, (struct sockaddr *) &to, sizeof to) == 0
              && getsockname(fd, (struct sockaddr *) &local, &len) == 0;
    close(fd);
    if (!ok) {
        return false;
    }
    struct ifaddrs *all;
    if (getifaddrs(&all) != 0) {
        return false;
    }
    bool found = false;
    for (struct ifaddrs *i = all; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET
            || !i->ifa_netmask) {
            continue;
        }
        uint32_t a = ((struct sockaddr_in *) i->ifa_addr)->sin_addr.s_addr;
        uint32_t m = ((struct sockaddr_in *) i->ifa_netmask)->sin_addr.s_addr;
        if (a == local.sin_addr.s_addr
            && (a & m) == (peer->sin_addr.s_addr & m) && m != 0
            && peer->sin_addr.s_addr != a) {
            snprintf(dev, IF_NAMESIZE, "%s", i->ifa_name);
            found = true;
        }
    }
    freeifaddrs(all);
    return found;
}

/* ------------------------------------------------------------------ */
/* Running tc */

static int
s_tc(const char *const *argv, bool quiet)
{
    char err[768];
    if (proc_run_ok(argv, S_TC_TIMEOUT_MS, err, sizeof err) != 0) {
        if (!quiet) {
            /* tc's own words: escaped like any text from outside. */
            char shown[4 * sizeof err];
            VLOG_WARN_RL("%s", log_escape(shown, sizeof shown, err,
                                          SIZE_MAX));
        }
        return -1;
    }
    return 0;
}

static bool
s_has_dev(const agent_fast_t *self, const char *dev)
{
    for (size_t i = 0; i < self->n_devs; i++) {
        if (!strcmp(self->devs[i], dev)) {
            return true;
        }
    }
    return false;
}

int
agent_fast_reset_dev(agent_fast_t *self, const char *dev)
{
    s_tc((const char *[]) { self->tc, "qdisc", "del", "dev", dev, "clsact",
                            NULL }, true);
    if (s_tc((const char *[]) { self->tc, "qdisc", "add", "dev", dev,
                                "clsact", NULL }, false) != 0) {
        return -1;
    }
    /* Every filter we had there went with the old qdisc. */
    size_t k = 0;
    for (size_t i = 0; i < self->n_have; i++) {
        if (strcmp(self->have[i].dev, dev) != 0) {
            self->have[k++] = self->have[i];
        }
    }
    self->n_have = k;
    if (!s_has_dev(self, dev) && self->n_devs < S_MAX_DEVS) {
        snprintf(self->devs[self->n_devs++], IF_NAMESIZE, "%s", dev);
    }
    return 0;
}

agent_fast_t *
agent_fast_new(const char *tc)
{
    agent_fast_t *self = calloc(1, sizeof *self);
    if (!self || !(self->tc = strdup(tc))
        || !(self->devs = calloc(S_MAX_DEVS, sizeof *self->devs))) {
        if (self) {
            free(self->tc);
        }
        free(self);
        return NULL;
    }
    return self;
}

void
agent_fast_destroy(agent_fast_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    agent_fast_t *self = *self_p;
    for (size_t i = 0; i < self->n_devs; i++) {
        if (if_nametoindex(self->devs[i]) != 0) {
            s_tc((const char *[]) { self->tc, "qdisc", "del", "dev",
                                    self->devs[i], "clsact", NULL }, true);
        }
    }
    free(self->have);
    free(self->devs);
    free(self->tc);
    free(self);
    *self_p = NULL;
}

size_t
agent_fast_count(const agent_fast_t *self)
{
    return self->n_have;
}

/* ------------------------------------------------------------------ */
/* Applying a wanted set */

static bool
s_same(const struct fast_filter *a, const struct fast_filter *b)
{
    return a->mac == b->mac && a->egress == b->egress
           && !strcmp(a->dev, b->dev) && !strcmp(a->to, b->to);
}

static bool
s_in(const struct fast_filter *set, size_t n, const struct fast_filter *f)
{
    for (size_t i = 0; i < n; i++) {
        if (s_same(&set[i], f)) {
            return true;
        }
    }
    return false;
}

/* The lowest priority from S_PRIO_FIRST no installed filter on 'dev'
 * uses. */
static uint16_t
s_free_prio(const agent_fast_t *self, const char *dev)
{
    for (uint32_t p = S_PRIO_FIRST; p < 0xffff; p++) {
        bool used = false;
        for (size_t i = 0; i < self->n_have && !used; i++) {
            used = self->have[i].prio == p && !strcmp(self->have[i].dev, dev);
        }
        if (!used) {
            return (uint16_t) p;
        }
    }
    return 0;
}

static int
s_add(agent_fast_t *self, const struct fast_filter *want)
{
    if (!s_has_dev(self, want->dev) && agent_fast_reset_dev(self,
                                                            want->dev)) {
        return -1;
    }
    if (self->n_have == self->cap_have) {
        size_t cap = self->cap_have ? 2 * self->cap_have : 64;
        struct fast_filter *p = realloc(self->have, cap * sizeof *p);
        if (!p) {
            return -1;
        }
        self->have = p;
        self->cap_have = cap;
    }
    struct fast_filter f = *want;
    if ((f.prio = s_free_prio(self, f.dev)) == 0) {
        return -1;
    }
    const char *argv[AGENT_FAST_ARGV];
    char buf[AGENT_FAST_BUF];
    agent_fast_argv_add(self->tc, &f, argv, buf);
    uint64_t now = vtime_mono_ms();
    if (s_tc(argv, now < self->warn_at_ms) != 0) {
        if (now >= self->warn_at_ms) {
            VLOG_WARN("fast path: frames stay in the agent until tc takes "
                      "the filter (retried every %d s, said once a minute)",
                      S_RETRY_MS / 1000);
            self->warn_at_ms = now + 60000;
        }
        return -1;
    }
    char mac[ETH_MAC_STRLEN];
    VLOG_INFO_RL("%s: frames to %s now go out of %s in the kernel", f.dev,
                 eth_mac_format(f.mac, mac), f.to);
    self->have[self->n_have++] = f;
    return 0;
}

/* Removes installed filter 'i'; returns 0, or -1 if it is still there. */
static int
s_del(agent_fast_t *self, size_t i)
{
    struct fast_filter f = self->have[i];
    const char *argv[AGENT_FAST_ARGV];
    char buf[AGENT_FAST_BUF];
    agent_fast_argv_del(self->tc, &f, argv, buf);
    bool gone = if_nametoindex(f.dev) == 0;     /* went with its device */
    if (s_tc(argv, gone) != 0 && !gone && if_nametoindex(f.dev) != 0) {
        return -1;
    }
    char mac[ETH_MAC_STRLEN];
    VLOG_INFO_RL("%s: frames to %s no longer go out of %s in the kernel",
                 f.dev, eth_mac_format(f.mac, mac), f.to);
    self->have[i] = self->have[--self->n_have];
    return 0;
}

static size_t s_apply(agent_fast_t *self, const struct fast_filter *want,
                      size_t n_want, const char *const *ports,
                      size_t n_ports, agent_fast_cut_fn *cut, void *arg);

size_t
agent_fast_apply(agent_fast_t *self, const struct fast_filter *want,
                 size_t n_want, const char *const *ports, size_t n_ports,
                 agent_fast_cut_fn *cut, void *arg)
{
    self->failed = s_apply(self, want, n_want, ports, n_ports, cut, arg);
    return self->failed;
}

bool
agent_fast_retry_due(const agent_fast_t *self)
{
    return self->failed && vtime_mono_ms() >= self->retry_at_ms;
}

static size_t
s_apply(agent_fast_t *self, const struct fast_filter *want, size_t n_want,
        const char *const *ports, size_t n_ports, agent_fast_cut_fn *cut,
        void *arg)
{
    size_t failed = 0;
    uint64_t now = vtime_mono_ms();
    bool adding = now >= self->retry_at_ms;
    bool changed = false;
    size_t n_before = self->n_have;     /* additions go after these */
    /* Receiving ends first, then sending ends. */
    for (int pass = 0; pass < 2 && adding; pass++) {
        for (size_t i = 0; i < n_want; i++) {
            if (want[i].egress != (pass == 1)
                || s_in(self->have, self->n_have, &want[i])) {
                continue;
            }
            if (s_add(self, &want[i]) != 0) {
                failed++;
                self->retry_at_ms = now + S_RETRY_MS;
            } else {
                changed = true;
            }
        }
    }
    bool removing = false;
    for (size_t i = 0; i < self->n_have && !removing; i++) {
        removing = !s_in(want, n_want, &self->have[i]);
    }
    if (!changed && !removing) {
        return failed;
    }
    /* The capture cut: the MACs each port's installed filters carry and
     * that stay wanted. */
    uint64_t *macs = calloc(self->n_have + 1, sizeof *macs);
    bool *stuck = calloc(n_ports + 1, sizeof *stuck);
    if (!macs || !stuck) {
        free(macs);
        free(stuck);
        return failed + 1;      /* nothing removed: frames still flow */
    }
    for (size_t p = 0; p < n_ports; p++) {
        size_t n = 0;
        for (size_t i = 0; i < self->n_have; i++) {
            const struct fast_filter *f = &self->have[i];
            if (f->egress && !strcmp(f->dev, ports[p])
                && s_in(want, n_want, f)) {
                macs[n++] = f->mac;
            }
        }
        if (cut(ports[p], macs, n, arg) == 0) {
            continue;
        }
        /* The old cut stays: this round's filters on the port would carry
         * frames the agent forwards too, and removing its old ones would
         * lose frames the agent still ignores.  Both wait for a retry. */
        failed++;
        stuck[p] = true;
        self->retry_at_ms = now + S_RETRY_MS;
        for (size_t i = self->n_have; i-- > n_before;) {
            if (self->have[i].egress && !strcmp(self->have[i].dev, ports[p])
                && s_del(self, i) != 0) {
                failed++;
            }
        }
    }
    free(macs);
    /* Removals: sending ends, then receiving ends. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = self->n_have; i-- > 0;) {
            const struct fast_filter *f = &self->have[i];
            bool keep = s_in(want, n_want, f) || f->egress != (pass == 0);
            for (size_t p = 0; p < n_ports && !keep; p++) {
                keep = stuck[p] && !strcmp(f->dev, ports[p]);
            }
            if (!keep && s_del(self, i) != 0) {
                failed++;
            }
        }
    }
    free(stuck);
    return failed;
}

/* ------------------------------------------------------------------ */
/* The agent's intent: which filters its table and links call for */

/* Marks link 'l' as a circuit or not and finds the device the fast path
 * would send it on. */
void
agent_fast_set_circuit(agent_t *self, agent_link_t *l, bool circuit)
{
    char dev[IF_NAMESIZE] = "";
    l->circuit = circuit;
    if (l->sec) {
        agent_link_secure(l, agent_link_wants_encryption(self, l));
    }
    /* Only a trusted circuit carries frames raw. */
    if (circuit && self->fast && !l->tcp && agent_circuits_trusted(self)) {
        if (!agent_fast_circuit_dev(&l->peer, dev)) {
            VLOG_WARN_RL("link %s: %s is not directly attached: no fast "
                         "path", LOG_ESC(l->name), LOG_ESC(l->peer_str));
        }
        for (size_t i = 0; i < self->n_ports && dev[0]; i++) {
            if (!strcmp(agent_port_name(self->ports[i]), dev)) {
                dev[0] = '\0';        /* a VM port is no circuit */
            }
        }
    }
    if (strcmp(dev, l->fast_dev) != 0) {
        if (dev[0]) {
            VLOG_INFO_RL("link %s: fast path over %s", LOG_ESC(l->name),
                         dev);
        }
        snprintf(l->fast_dev, sizeof l->fast_dev, "%s", dev);
        agent_fast_sync(self);
    }
}

struct s_fast_acc {
    const agent_t *self;
    const fwd_table_t *fwd;
    struct fast_filter *want;
    size_t n, cap;
    uint64_t *mixed;            /* MACs with a source-specific rule */
    size_t n_mixed, cap_mixed;
    bool oom;
};

static void
s_fast_want(struct s_fast_acc *acc, const char *dev, const char *to,
            uint64_t mac, bool egress)
{
    for (size_t i = 0; i < acc->n; i++) {
        const struct fast_filter *f = &acc->want[i];
        if (f->mac == mac && !strcmp(f->dev, dev) && !strcmp(f->to, to)) {
            return;
        }
    }
    if (acc->n == acc->cap) {
        size_t cap = acc->cap ? 2 * acc->cap : 64;
        struct fast_filter *p = realloc(acc->want, cap * sizeof *p);
        if (!p) {
            acc->oom = true;
            return;
        }
        acc->want = p;
        acc->cap = cap;
    }
    struct fast_filter *f = &acc->want[acc->n++];
    memset(f, 0, sizeof *f);
    snprintf(f->dev, sizeof f->dev, "%s", dev);
    snprintf(f->to, sizeof f->to, "%s", to);
    f->mac = mac;
    f->egress = egress;
}

static void
s_fast_visit(uint64_t dst, uint64_t src, enum fwd_origin origin,
             struct fwd_action a, void *arg)
{
    struct s_fast_acc *acc = arg;
    const agent_t *self = acc->self;
    if (src != 0) {
        if (origin == FWD_RULE && acc->n_mixed < acc->cap_mixed) {
            acc->mixed[acc->n_mixed++] = dst;
        }
        return;
    }
    /* Only what the agent's own lookup would do (a rule beats a learned
     * entry for the same MAC). */
    struct fwd_action eff = fwd_table_lookup(acc->fwd, dst, 0);
    if (eff.kind != a.kind || eff.index != a.index) {
        return;
    }
    if (a.kind == FWD_LINK && origin == FWD_RULE
        && a.index < AGENT_MAX_LINKS && self->links[a.index]
        && self->links[a.index]->fast_dev[0]) {
        /* Frames from every local VM to 'dst' leave over the circuit. */
        for (size_t p = 0; p < self->n_ports; p++) {
            s_fast_want(acc, agent_port_name(self->ports[p]),
                        self->links[a.index]->fast_dev, dst, true);
        }
    } else if (a.kind == FWD_PORT && a.index < self->n_ports) {
        /* A local VM: frames to it from the other local VMs go straight
         * in, and so do frames to it arriving raw on a circuit. */
        for (size_t p = 0; p < self->n_ports; p++) {
            if (p != a.index) {
                s_fast_want(acc, agent_port_name(self->ports[p]),
                            agent_port_name(self->ports[a.index]), dst,
                            true);
            }
        }
        for (int i = 0; i < AGENT_MAX_LINKS; i++) {
            if (self->links[i] && self->links[i]->fast_dev[0]) {
                s_fast_want(acc, self->links[i]->fast_dev,
                            agent_port_name(self->ports[a.index]), dst,
                            false);
            }
        }
    }
}

static int
s_fast_cut(const char *dev, const uint64_t *macs, size_t n, void *arg)
{
    agent_t *self = arg;
    for (size_t i = 0; i < self->n_ports; i++) {
        if (!strcmp(agent_port_name(self->ports[i]), dev)) {
            return agent_port_set_cut(self->ports[i], macs, n);
        }
    }
    return -1;
}

void
agent_fast_sync(agent_t *self)
{
    if (!self->fast) {
        return;
    }
    const fwd_table_t *fwd = agent_current(self)->fwd;
    struct s_fast_acc acc = { .self = self, .fwd = fwd };
    acc.cap_mixed = fwd_table_count(fwd, FWD_RULE);
    acc.mixed = calloc(acc.cap_mixed + 1, sizeof *acc.mixed);
    if (!acc.mixed) {
        return;
    }
    fwd_table_foreach(fwd, s_fast_visit, &acc);
    if (acc.oom) {
        free(acc.want);
        free(acc.mixed);
        return;                 /* the next change or period tries again */
    }
    /* A destination with source-specific rules stays in user space:
     * only the agent can tell its sources apart. */
    size_t k = 0;
    for (size_t i = 0; i < acc.n; i++) {
        bool mixed = false;
        for (size_t j = 0; j < acc.n_mixed && !mixed; j++) {
            mixed = acc.want[i].egress && acc.mixed[j] == acc.want[i].mac;
        }
        if (!mixed) {
            acc.want[k++] = acc.want[i];
        }
    }
    const char *ports[AGENT_MAX_PORTS];
    for (size_t i = 0; i < self->n_ports; i++) {
        ports[i] = agent_port_name(self->ports[i]);
    }
    agent_fast_apply(self->fast, acc.want, k, ports, self->n_ports,
                     s_fast_cut, self);
    free(acc.want);
    free(acc.mixed);
}

/* Every period: a circuit device that went away stops being used, and
 * what tc refused is tried again once its pause is over. */
static int
s_on_period(svc_t *svc, void *arg)
{
    agent_t *self = arg;
    (void) svc;
    if (!self->fast) {
        return 0;
    }
    bool sync = agent_fast_retry_due(self->fast);
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        agent_link_t *l = self->links[i];
        if (l && l->fast_dev[0] && if_nametoindex(l->fast_dev) == 0) {
            VLOG_WARN_RL("link %s: circuit device %s is gone: the fast "
                         "path stops using it", LOG_ESC(l->name),
                         l->fast_dev);
            l->fast_dev[0] = '\0';
            sync = true;
        }
    }
    if (sync) {
        agent_fast_sync(self);
    }
    return 0;
}

int
agent_fast_start(agent_t *self)
{
    return svc_add_timer(self->svc, self->cfg->period_ms, s_on_period, self);
}
