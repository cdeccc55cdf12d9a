/* SPDX-License-Identifier: MIT */
/* What the agent publishes on the bus (the events socket to the
 * aggregator): its local traffic matrix every period (agent_acct), and
 * every hello period its announcement and the locations of its VMs,
 * with the hellos to its peers (agent_star) from the same list of local
 * MACs.  Control thread. */
#include "agent_priv.h"

#include <stdlib.h>
#include <string.h>

#include "lmatrix.h"
#include "log.h"
#include "vtime.h"

LOG_MODULE("agent_pub");

/* The local traffic matrix of the period just over. */
static int
s_on_period(svc_t *svc, void *arg)
{
    agent_t *self = arg;
    (void) svc;
    size_t cap = acct_size(self->acct) + 64;
    struct acct_entry *e = malloc(cap * sizeof *e);
    Vr__LocalMatrix m = VR__LOCAL_MATRIX__INIT;
    if (!e || lmatrix_alloc(&m, cap) < 0) {
        goto done;
    }
    size_t n = acct_snapshot(self->acct, e, cap);
    if (n > cap) {
        n = cap;
    }
    for (size_t i = 0; i < n; i++) {
        lmatrix_set(&m, i, e[i].src, e[i].dst, e[i].bytes, e[i].frames);
    }
    lmatrix_len_set(&m, n);
    m.agent_id = (char *) svc_id(self->svc);
    m.boot_id = self->boot_id;
    m.period_us = self->cfg->period_ms * 1000ull;
    m.time_us = vtime_now_us();
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_LOCAL_MATRIX,
             &m.base);
done:
    free(e);
    lmatrix_free(&m);
    return 0;
}

struct s_local_acc {
    const agent_t *self;
    uint64_t *macs;
    uint16_t *ports;
    size_t n, cap;
};

static void
s_local_visit(uint64_t dst, uint64_t src, enum fwd_origin origin,
              struct fwd_action action, void *arg)
{
    struct s_local_acc *acc = arg;
    if (origin == FWD_LEARNED && action.kind == FWD_PORT
        && action.index < acc->self->n_ports
        && acc->self->ports[action.index] && acc->n < acc->cap) {
        acc->macs[acc->n] = dst;
        acc->ports[acc->n] = action.index;
        acc->n++;
    }
}

/* The announcement, its endpoint and host address found afresh
 * (agent_announce.h); held back while a wildcard endpoint has no address
 * to stand for it: others could not connect to it. */
static void
s_announce(agent_t *self, const char *id, uint64_t *macs, size_t n)
{
    char why[256];
    int rc = agent_ann_refresh(&self->ann, why, sizeof why);
    if (rc > 0) {
        VLOG_INFO_RL("announcing control %s, host %s (from %s)",
                     self->ann.endpoint,
                     self->ann.ip[0] ? self->ann.ip : "-",
                     self->ann.from == AGENT_ANN_IFACE
                         ? "bus.announce_iface"
                         : "the route to the aggregator");
    } else if (rc < 0) {
        VLOG_WARN_RL("cannot find this host's address: %s%s",
                     LOG_ESC(why),
                     self->ann.ctl_wild ? "; not announcing" : "");
    }
    if (!self->ann.endpoint[0]) {
        self->ann_unresolved++;
        return;
    }
    Vr__AgentAnnounce ann = VR__AGENT_ANNOUNCE__INIT;
    ann.agent_id = (char *) id;
    ann.boot_id = self->boot_id;
    ann.control_endpoint = self->ann.endpoint;
    ann.overlay_addr = self->cfg->listen;
    ann.proxy = self->cfg->proxy;
    ann.host_ip = self->cfg->host_ip ? self->cfg->host_ip : self->ann.ip;
    ann.local_macs = macs;
    ann.n_local_macs = n;
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_AGENT_ANNOUNCE,
             &ann.base);
}

void
agent_pub_hello_period(agent_t *self)
{
    const struct agent_snap *snap = agent_current(self);
    size_t cap = fwd_table_count(snap->fwd, FWD_LEARNED) + 1;
    struct s_local_acc local = {
        .self = self,
        .macs = calloc(cap, sizeof(uint64_t)),
        .ports = calloc(cap, sizeof(uint16_t)),
        .cap = cap,
    };
    Vr__VmLocation *locs = calloc(cap, sizeof *locs);
    Vr__VmLocation **lp = calloc(cap, sizeof *lp);
    if (!local.macs || !local.ports || !locs || !lp) {
        goto done;
    }
    fwd_table_foreach(snap->fwd, s_local_visit, &local);
    agent_star_hello(self, local.macs, local.n);

    const char *id = svc_id(self->svc);
    s_announce(self, id, local.macs, local.n);

    uint64_t now = vtime_now_us();
    for (size_t i = 0; i < local.n; i++) {
        vr__vm_location__init(&locs[i]);
        locs[i].mac = local.macs[i];
        locs[i].agent_id = (char *) id;
        locs[i].iface = (char *) agent_port_name(self->ports[local.ports[i]]);
        locs[i].seen_us = now;
        lp[i] = &locs[i];
    }
    Vr__VmLocations vl = VR__VM_LOCATIONS__INIT;
    vl.reporter = (char *) id;
    vl.vms = lp;
    vl.n_vms = local.n;
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_VM_LOCATIONS,
             &vl.base);
done:
    free(local.macs);
    free(local.ports);
    free(locs);
    free(lp);
}


static int
s_on_hello_timer(svc_t *svc, void *arg)
{
    (void) svc;
    agent_pub_hello_period(arg);
    return 0;
}

int
agent_pub_start(agent_t *self)
{
    if (svc_add_timer(self->svc, self->cfg->period_ms, s_on_period, self)
            != 0
        || svc_add_timer(self->svc, self->cfg->hello_ms, s_on_hello_timer,
                         self) != 0) {
        return -1;
    }
    /* Say hello at once: a restarted agent is back in the star before its
     * first period is over. */
    agent_pub_hello_period(self);
    return 0;
}
