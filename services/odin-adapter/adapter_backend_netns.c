/* SPDX-License-Identifier: MIT */
/* The 'netns' backend: the simulator's admission, timing and blocking
 * (adapter_backend_sim.h), and a real veth pair between two test-bed
 * namespaces (adapter_netns.h) made when the simulator says the path is
 * up, deleted at teardown, found again after a restart; pairs no path
 * owns are swept at start.  With netns.vlans a path is a VLAN circuit
 * instead: a VLAN and a /30, no device (the agents make theirs). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "adapter_backend_sim.h"
#include "adapter_netns.h"
#include "adapter_svc.h"
#include "log.h"

struct s_netns {
    adapter_netns_t *netns;     /* the veth pairs */
    adapter_backend_sim_t *sim; /* the schedule */
    size_t n_swept;             /* stray pairs deleted at start */
};

static int
s_up(void *arg, struct adapter_path *p, char *detail, size_t detail_size,
     char *err, size_t size)
{
    struct s_netns *self = arg;
    /* Both kinds hand out /30s. */
    p->r.prefix_len = 30;
    if (adapter_netns_vlan_mode(self->netns)) {
        return adapter_netns_vlan_take(self->netns, p->r.n, p->r.src,
                                       p->r.dst, &p->r.vlan, p->r.src_link,
                                       p->r.dst_link, sizeof p->r.src_link,
                                       detail, detail_size, err, size);
    }
    return adapter_netns_up(self->netns, p->r.n, p->r.src, p->r.dst,
                            p->r.bandwidth_mbps, p->r.src_link,
                            p->r.dst_link, sizeof p->r.src_link, detail,
                            detail_size, err, size);
}

static int
s_down(void *arg, struct adapter_path *p, char *err, size_t size)
{
    struct s_netns *self = arg;
    if (adapter_netns_vlan_mode(self->netns)) {
        /* The agents remove their sub-interfaces with their links. */
        adapter_netns_vlan_free(self->netns, p->r.n);
        return 0;
    }
    return adapter_netns_down(self->netns, p->r.n, p->r.src, err, size);
}

static bool
s_adopt_pair(void *arg, struct adapter_path *p)
{
    struct s_netns *self = arg;
    if (adapter_netns_vlan_mode(self->netns)) {
        return adapter_netns_vlan_adopt(self->netns, p->r.n, p->r.vlan,
                                        p->r.src_link);
    }
    return adapter_netns_adopt(self->netns, p->r.n, p->r.src, p->r.dst,
                               p->r.src_link);
}

static void
s_close(void *arg)
{
    struct s_netns *self = arg;
    if (self) {
        adapter_backend_sim_close(self->sim);
        adapter_netns_destroy(&self->netns);
        free(self);
    }
}

static void *
s_open(adapter_core_t *core, const struct adapter_cfg *cfg,
       const char *cfg_path, char *err, size_t size)
{
    char *text = NULL;
    struct s_netns *self = calloc(1, sizeof *self);
    if (!self) {
        log_format(err, size, "out of memory");
        return NULL;
    }
    self->netns = adapter_netns_new(&cfg->netns, err, size);
    if (!self->netns) {
        goto error;
    }
    /* With no sim.* network: one switch per host, fully connected. */
    enum { TEXT_SIZE = 16384 };
    text = cfg->sim.switches.n ? NULL : malloc(TEXT_SIZE);
    if (!cfg->sim.switches.n
        && (!text || !adapter_netns_sim_network(self->netns, text,
                                                TEXT_SIZE))) {
        log_format(err, size, "netns.hosts: too many hosts");
        goto error;
    }
    const struct adapter_backend_sim_hooks hooks = {
        .up = s_up, .down = s_down, .adopt = s_adopt_pair, .arg = self,
    };
    self->sim = adapter_backend_sim_new(core, cfg, cfg_path, text,
                                        "(netns network)", &hooks, err,
                                        size);
    if (!self->sim) {
        goto error;
    }
    free(text);
    return self;

error:
    free(text);
    s_close(self);
    return NULL;
}

static void
s_describe(void *arg, char *buf, size_t size)
{
    struct s_netns *self = arg;
    adapter_backend_sim_describe(self->sim, buf, size);
}

static int
s_admit(void *arg, struct adapter_path *p, char *err, size_t size)
{
    struct s_netns *self = arg;
    const char *ip = !adapter_netns_knows(self->netns, p->r.src) ? p->r.src
                     : !adapter_netns_knows(self->netns, p->r.dst) ? p->r.dst
                                                                   : NULL;
    if (ip) {
        log_format(err, size, "%s is not a host of netns.hosts", ip);
        return ENOENT;
    }
    return adapter_backend_sim_admit(self->sim, p, err, size);
}

static void
s_cancel(void *arg, struct adapter_path *p)
{
    struct s_netns *self = arg;
    adapter_backend_sim_cancel(self->sim, p);
}

static void
s_create(void *arg, struct adapter_path *p)
{
    struct s_netns *self = arg;
    adapter_backend_sim_create(self->sim, p);
}

static void
s_teardown(void *arg, struct adapter_path *p)
{
    struct s_netns *self = arg;
    adapter_backend_sim_teardown(self->sim, p);
}

static void
s_tick(void *arg, uint64_t now_ms)
{
    struct s_netns *self = arg;
    adapter_backend_sim_tick(self->sim, now_ms);
}

static void
s_adopt(void *arg, struct adapter_path *p)
{
    struct s_netns *self = arg;
    adapter_backend_sim_adopt(self->sim, p);
}

static size_t
s_sweep(void *arg, adapter_backend_keep_fn *keep, void *keep_arg)
{
    struct s_netns *self = arg;
    self->n_swept = adapter_netns_sweep(self->netns, keep, keep_arg);
    return self->n_swept;
}

static void
s_status(void *arg, struct adapter_status *st)
{
    struct s_netns *self = arg;
    adapter_backend_sim_status(self->sim, st);
    adapter_core_status_counter(st, "netns_swept", self->n_swept, false);
}

const struct adapter_backend adapter_backend_netns = {
    .name = "netns",
    .open = s_open,
    .close = s_close,
    .describe = s_describe,
    .admit = s_admit,
    .cancel = s_cancel,
    .create = s_create,
    .teardown = s_teardown,
    .tick = s_tick,
    .adopt = s_adopt,
    .sweep = s_sweep,
    .status = s_status,
};
