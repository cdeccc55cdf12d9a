/* SPDX-License-Identifier: MIT */
/* The 'sim' backend: a path is a lightpath in the simulator
 * (adapter_sim.h).  Admission routes it and reserves its lambda at once
 * (or refuses: blocked); the simulator's schedule then says when it is up,
 * failed or down, and 'tick' passes that on to the core.  The hooks let
 * adapter_backend_netns.c make something real at those moments. */
#include "adapter_backend_sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_svc.h"
#include "log.h"
#include "vtime.h"

LOG_MODULE("adapter");

#define P(X) ADAPTER_PATH_##X

/* The network used when the config names none, so that the adapter starts
 * with no arguments: four sites, fully connected, four lambdas a fibre
 * (deploy/config/sim-network.yaml explains it).  The config's own delays,
 * time scale and failure settings still apply. */
static const char s_default_network[] =
    "sim:\n"
    "  switches: [evanston, starlight, uic, federal]\n"
    "  fibres:\n"
    "    - { ends: [evanston, starlight], lambdas: 4, length_km: 25 }\n"
    "    - { ends: [evanston, uic], lambdas: 4, length_km: 30 }\n"
    "    - { ends: [evanston, federal], lambdas: 4, length_km: 28 }\n"
    "    - { ends: [starlight, uic], lambdas: 4, length_km: 8 }\n"
    "    - { ends: [starlight, federal], lambdas: 4, length_km: 5 }\n"
    "    - { ends: [uic, federal], lambdas: 4, length_km: 4 }\n"
    "  hosts:\n"
    "    - { ip: 10.210.0.1, switch: evanston }\n"
    "    - { ip: 10.210.0.2, switch: starlight }\n"
    "    - { ip: 10.210.0.3, switch: uic }\n"
    "    - { ip: 10.210.0.4, switch: federal }\n";

/* A simulator transition, applied after adapter_sim_advance() returns
 * (its callback may not call into the simulator). */
struct s_pending {
    uint64_t sim_id;            /* the path's id in the simulator */
    int state;                  /* its new state */
    char reason[160];           /* FAILED: why */
};

struct adapter_backend_sim_be {
    adapter_core_t *core;       /* where paths are reported */
    adapter_sim_t *sim;         /* the network */
    struct adapter_backend_sim_hooks hooks;
    bool configured;            /* the network came from the config */
    double time_scale, fail_rate;   /* for the description */
    uint64_t t0_us;             /* the simulator's clock origin */
    struct s_pending *pending;  /* transitions not yet applied */
    size_t n_pending, cap_pending;
};

static uint64_t
s_now(const adapter_backend_sim_t *self)
{
    return vtime_mono_us() - self->t0_us;
}

adapter_backend_sim_t *
adapter_backend_sim_new(adapter_core_t *core, const struct adapter_cfg *cfg,
                        const char *cfg_path, const char *network,
                        const char *name,
                        const struct adapter_backend_sim_hooks *hooks,
                        char *err, size_t size)
{
    struct adapter_sim_config builtin = { 0 }, mixed;
    const struct adapter_sim_config *net = &cfg->sim;
    if (cfg->sim.switches.n == 0) {
        if (adapter_sim_config_load_string(&builtin, name, network,
                                           strlen(network), err, size)
            != 0) {
            return NULL;
        }
        /* The built-in topology with the config's timing and failures. */
        mixed = cfg->sim;
        mixed.switches = builtin.switches;
        mixed.fibres = builtin.fibres;
        mixed.hosts = builtin.hosts;
        net = &mixed;
    } else if (!adapter_sim_config_check(&cfg->sim, "sim", cfg_path, err,
                                         size)) {
        return NULL;
    }
    adapter_backend_sim_t *self = calloc(1, sizeof *self);
    if (self) {
        /* The simulator copies what it needs from the config. */
        self->sim = adapter_sim_new(net, err, size);
    } else {
        log_format(err, size, "out of memory");
    }
    adapter_sim_config_free(&builtin);
    if (!self || !self->sim) {
        free(self);
        return NULL;
    }
    self->core = core;
    if (hooks) {
        self->hooks = *hooks;
    }
    self->configured = cfg->sim.switches.n > 0;
    self->time_scale = cfg->sim.time_scale;
    self->fail_rate = cfg->sim.fail_rate;
    self->t0_us = vtime_mono_us();
    return self;
}

void
adapter_backend_sim_close(void *arg)
{
    adapter_backend_sim_t *self = arg;
    if (self) {
        adapter_sim_destroy(&self->sim);
        free(self->pending);
        free(self);
    }
}

void
adapter_backend_sim_describe(void *arg, char *buf, size_t size)
{
    adapter_backend_sim_t *self = arg;
    snprintf(buf, size, "%s network, time scale %g, fail rate %g",
             self->configured ? "configured" : "built-in", self->time_scale,
             self->fail_rate);
}

static void
s_on_sim_event(const struct adapter_sim_event *ev, void *arg)
{
    adapter_backend_sim_t *self = arg;
    if (self->n_pending == self->cap_pending) {
        size_t cap = self->cap_pending ? 2 * self->cap_pending : 16;
        struct s_pending *v = realloc(self->pending, cap * sizeof *v);
        if (!v) {
            VLOG_ERR("out of memory: path %" PRIu64 " event lost",
                     ev->path->id);
            return;
        }
        self->pending = v;
        self->cap_pending = cap;
    }
    struct s_pending *e = &self->pending[self->n_pending++];
    e->sim_id = ev->path->id;
    e->state = (int) ev->path->state;
    snprintf(e->reason, sizeof e->reason, "%s",
             ev->reason ? ev->reason : "");
}

/* Collects the transitions due by now; applied by s_apply(). */
static void
s_advance(adapter_backend_sim_t *self)
{
    uint64_t now = s_now(self);
    if (adapter_sim_next_due_us(self->sim) <= now) {
        adapter_sim_advance(self->sim, now, s_on_sim_event, self);
    }
}

static struct adapter_path *
s_find(adapter_backend_sim_t *self, uint64_t sim_id)
{
    for (size_t i = adapter_core_n_paths(self->core); i-- > 0;) {
        struct adapter_path *p = adapter_core_path_at(self->core, i);
        if (p->r.sim_id == sim_id && !adapter_path_ended(p->r.state)) {
            return p;
        }
    }
    return NULL;
}

static void
s_release(adapter_backend_sim_t *self, struct adapter_path *p)
{
    char dummy[8];
    if (self->hooks.down) {
        self->hooks.down(self->hooks.arg, p, NULL, 0);
    }
    adapter_sim_teardown(self->sim, p->r.sim_id, s_now(self), NULL, dummy,
                         sizeof dummy);
}

/* 'p''s set-up completed in the simulator. */
static void
s_up(adapter_backend_sim_t *self, struct adapter_path *p)
{
    char err[256], why[300];
    if (p->r.state != P(PROVISIONING)) {
        return;     /* torn down meanwhile: nothing to make */
    }
    if (self->hooks.up) {
        char detail[256];
        if (self->hooks.up(self->hooks.arg, p, detail, sizeof detail, err,
                           sizeof err) != 0) {
            char dummy[8];
            adapter_sim_teardown(self->sim, p->r.sim_id, s_now(self), NULL,
                                 dummy, sizeof dummy);
            adapter_core_set_state(self->core, p, P(FAILED), err);
            return;
        }
        size_t len = strlen(p->r.detail);
        snprintf(p->r.detail + len, sizeof p->r.detail - len, "%s%s",
                 len ? " " : "", detail);
    }
    if (adapter_core_up(self->core, p, why, sizeof why) != 0) {
        s_release(self, p);
        adapter_core_set_state(self->core, p, P(FAILED), why);
    }
}

/* Applies the collected transitions. */
static void
s_apply(adapter_backend_sim_t *self)
{
    /* s_up() may run commands but adds no transitions: the list stays. */
    for (size_t i = 0; i < self->n_pending; i++) {
        const struct s_pending *e = &self->pending[i];
        struct adapter_path *p = s_find(self, e->sim_id);
        if (!p) {
            continue;   /* already ended here (a failed set-up) */
        }
        if (e->state == P(UP)) {
            s_up(self, p);
        } else {
            adapter_core_set_state(self->core, p, e->state,
                                   e->reason[0] ? e->reason : NULL);
        }
    }
    self->n_pending = 0;
}

int
adapter_backend_sim_admit(void *arg, struct adapter_path *p, char *err,
                          size_t size)
{
    adapter_backend_sim_t *self = arg;
    struct adapter_path_rec *r = &p->r;
    struct adapter_sim_setup setup = { 0 };
    /* Free what is due first; what came up is made on the loop. */
    s_advance(self);
    if (self->n_pending) {
        adapter_core_wake(self->core);
    }
    int rc = adapter_sim_create(self->sim, r->src, r->dst, r->bandwidth_mbps,
                                s_now(self), &setup, err, size);
    if (rc != 0) {
        return rc;
    }
    r->sim_id = setup.id;
    struct adapter_sim_path sp;
    if (adapter_sim_lookup(self->sim, setup.id, &sp)) {
        adapter_sim_path_detail(&sp, r->detail, sizeof r->detail);
    }
    VLOG_INFO("path %s (%s -> %s, request %s): provisioning, up in %.3f s "
              "(%s)", r->path_id, r->src, r->dst, r->request_id,
              setup.total_us / 1e6, r->detail);
    return 0;
}

void
adapter_backend_sim_cancel(void *arg, struct adapter_path *p)
{
    adapter_backend_sim_t *self = arg;
    char dummy[8];
    adapter_sim_teardown(self->sim, p->r.sim_id, s_now(self), NULL, dummy,
                         sizeof dummy);
}

void
adapter_backend_sim_create(void *arg, struct adapter_path *p)
{
    /* The admission set the schedule; 'tick' follows it. */
    (void) arg;
    (void) p;
}

void
adapter_backend_sim_teardown(void *arg, struct adapter_path *p)
{
    adapter_backend_sim_t *self = arg;
    char err[256];
    s_advance(self);
    s_apply(self);
    if (adapter_path_ended(p->r.state)) {
        return;     /* failed or went down meanwhile */
    }
    struct adapter_sim_path sp;
    if (self->hooks.down && adapter_sim_lookup(self->sim, p->r.sim_id, &sp)
        && sp.state == ADAPTER_SIM_UP
        && self->hooks.down(self->hooks.arg, p, err, sizeof err) != 0) {
        VLOG_WARN("path %s: %s (the sweep at the next start retries)",
                  p->r.path_id, err);
    }
    if (adapter_sim_teardown(self->sim, p->r.sim_id, s_now(self), NULL, err,
                             sizeof err) != 0) {
        adapter_core_set_state(self->core, p, P(DOWN), NULL);
    }
}

void
adapter_backend_sim_tick(void *arg, uint64_t now_ms)
{
    adapter_backend_sim_t *self = arg;
    (void) now_ms;      /* the simulator keeps microseconds */
    s_advance(self);
    s_apply(self);
}

void
adapter_backend_sim_adopt(void *arg, struct adapter_path *p)
{
    adapter_backend_sim_t *self = arg;
    struct adapter_path_rec *r = &p->r;
    char err[256], why[300];
    if (r->state == P(PROVISIONING)) {
        if (self->hooks.down) {
            self->hooks.down(self->hooks.arg, p, err, sizeof err);
        }
        adapter_core_lost(self->core, p, "the adapter restarted during the "
                          "set-up: released");
        return;
    }
    if (r->state == P(TEARING_DOWN)) {
        if (self->hooks.down) {
            self->hooks.down(self->hooks.arg, p, err, sizeof err);
        }
        adapter_core_set_state(self->core, p, P(DOWN), NULL);
        return;
    }
    /* UP.  The lambda and route are in front of any other part of
     * 'detail'. */
    if (adapter_sim_adopt(self->sim, r->sim_id, r->src, r->dst,
                          r->bandwidth_mbps, r->detail, s_now(self), err,
                          sizeof err) != 0) {
        if (self->hooks.down) {
            self->hooks.down(self->hooks.arg, p, NULL, 0);
        }
        log_format(why, sizeof why, "not adopted after a restart: %s", err);
        adapter_core_lost(self->core, p, why);
        return;
    }
    if (self->hooks.adopt && !self->hooks.adopt(self->hooks.arg, p)) {
        s_release(self, p);
        adapter_core_lost(self->core, p, "vanished: its veth pair is gone");
        return;
    }
    adapter_core_adopted(self->core, p, r->detail);
}

void
adapter_backend_sim_status(void *arg, struct adapter_status *st)
{
    adapter_backend_sim_t *self = arg;
    struct adapter_sim_stats s;
    adapter_sim_get_stats(self->sim, &s);
    adapter_core_status_counter(st, "sim_blocked", s.n_blocked, false);
    adapter_core_status_counter(st, "sim_failed", s.n_failed, false);
    adapter_core_status_counter(st, "sim_down", s.n_down, false);
}

/* The 'sim' table: the simulator alone.  A simulated lightpath has no
 * interfaces of its own: the overlay link over it uses the endpoint
 * addresses. */

static void *
s_open(adapter_core_t *core, const struct adapter_cfg *cfg,
       const char *cfg_path, char *err, size_t size)
{
    return adapter_backend_sim_new(core, cfg, cfg_path, s_default_network,
                                   "(built-in network)", NULL, err, size);
}

static int
s_admit(void *arg, struct adapter_path *p, char *err, size_t size)
{
    int rc = adapter_backend_sim_admit(arg, p, err, size);
    if (rc == 0) {
        snprintf(p->r.src_link, sizeof p->r.src_link, "%s", p->r.src);
        snprintf(p->r.dst_link, sizeof p->r.dst_link, "%s", p->r.dst);
    }
    return rc;
}

const struct adapter_backend adapter_backend_sim = {
    .name = "sim",
    .open = s_open,
    .close = adapter_backend_sim_close,
    .describe = adapter_backend_sim_describe,
    .admit = s_admit,
    .cancel = adapter_backend_sim_cancel,
    .create = adapter_backend_sim_create,
    .teardown = adapter_backend_sim_teardown,
    .tick = adapter_backend_sim_tick,
    .adopt = adapter_backend_sim_adopt,
    .status = adapter_backend_sim_status,
};
