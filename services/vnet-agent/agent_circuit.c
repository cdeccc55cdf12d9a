/* SPDX-License-Identifier: MIT */
/* The agent's side of VLAN circuits (agent_vlan): the module opened from
 * the config (overlay.circuit_nic, overlay.circuit_kind, ip) with a sweep
 * of what an earlier life left, its 'ip' runs driven from the control
 * loop, a link's sub-interface asked for at LinkCreate (agent_ctl), and
 * the link bound on it once it is up: the fast path looks for the
 * circuit's device again (agent_fast_set_circuit), which the route to
 * the peer now names.  Control thread only. */
#include "agent_priv.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

LOG_MODULE("circuit");

enum { S_JOBS_TICK_MS = 100 };  /* 'ip' runs' deadlines checked this often */

/* A sub-interface is up (or failed): its link looks for its device. */
static void
s_on_ready(const char *link, void *arg)
{
    agent_t *self = arg;
    int i = agent_find_link(self, link);
    if (i >= 0) {
        agent_fast_set_circuit(self, self->links[i], self->links[i]->circuit);
    }
}

int
agent_circuit_open(agent_t *self)
{
    const struct agent_cfg *cfg = self->cfg;
    char why[256];
    if (strcmp(cfg->circuit_kind, "vlan") != 0
        && strcmp(cfg->circuit_kind, "macvlan") != 0) {
        VLOG_ERR("overlay.circuit_kind: '%s' is neither vlan nor macvlan",
                 LOG_ESC(cfg->circuit_kind));
        return -1;
    }
    if (!cfg->circuit_nic || !cfg->circuit_nic[0]) {
        return 0;
    }
    if (!agent_fast_tc_ok(cfg->ip, why, sizeof why)) {
        /* It runs as root: an ip others may change is refused. */
        VLOG_ERR("ip: '%s' will not be run: %s", LOG_ESC(cfg->ip),
                 LOG_ESC(why));
        return -1;
    }
    self->vlan = agent_vlan_new(cfg->circuit_nic, cfg->circuit_kind, cfg->ip,
                                svc_id(self->svc), cfg->tc_timeout_ms,
                                s_on_ready, self, why, sizeof why);
    if (!self->vlan) {
        VLOG_ERR("%s", why);
        return -1;
    }
    if (!strcmp(cfg->circuit_kind, "macvlan")) {
        VLOG_WARN("overlay.circuit_kind is macvlan: VLAN circuits get "
                  "untagged macvlan stand-ins on %s, with no isolation "
                  "between them: for test beds whose kernel has no 802.1Q",
                  cfg->circuit_nic);
    }
    size_t n = agent_vlan_sweep(self->vlan);
    VLOG_INFO("VLAN circuits on %s (%s)%s", cfg->circuit_nic,
              cfg->circuit_kind,
              n ? ", stale sub-interfaces of an earlier life removed" : "");
    return 0;
}

static int
s_on_jobs(svc_t *svc, int fd, void *arg)
{
    agent_t *self = arg;
    (void) svc;
    (void) fd;
    agent_vlan_step(self->vlan);
    return 0;
}

static int
s_on_jobs_tick(svc_t *svc, void *arg)
{
    return s_on_jobs(svc, -1, arg);
}

int
agent_circuit_start(agent_t *self)
{
    if (!self->vlan) {
        return 0;
    }
    if (svc_add_fd(self->svc, agent_vlan_fd(self->vlan), s_on_jobs, self)
        != 0) {
        return -1;
    }
    return svc_add_timer(self->svc, S_JOBS_TICK_MS, s_on_jobs_tick, self);
}

int
agent_circuit_want(agent_t *self, agent_link_t *l, uint32_t vlan,
                   const char *cidr, uint32_t mtu, char *why, size_t size)
{
    if (!self->vlan) {
        snprintf(why, size, "link %s: VLAN %u asked, but this agent has no "
                 "overlay.circuit_nic: it makes no VLAN sub-interfaces",
                 l->name, vlan);
        return -1;
    }
    if (agent_vlan_want(self->vlan, l->name, vlan, cidr, mtu, why, size)
        != 0) {
        return -1;
    }
    l->vlan = vlan;
    snprintf(l->vlan_cidr, sizeof l->vlan_cidr, "%s", cidr);
    return 0;
}
