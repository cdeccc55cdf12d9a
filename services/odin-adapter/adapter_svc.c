/* SPDX-License-Identifier: MIT */
/* The adapter's bus side over the sim backend.  Each path has a record
 * here (its request id, its state, why it failed); the backend owns the
 * resources (lambdas).  The backend is advanced every tick_ms and each of
 * its transitions becomes a PathEvent.  Ended paths are kept (up to
 * max_paths records) so that a repeated request id or a status query still
 * gets an answer. */
#include "adapter_svc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "log.h"
#include "vtime.h"

LOG_MODULE("adapter");

#define P(X) VR__PATH_STATE__PATH_STATE_##X

#define T struct adapter_cfg
const struct cfg_key adapter_cfg_keys[] = {
    SVC_CFG_COMMON_KEYS(T, ADAPTER_DEFAULT_CONTROL),
    CFG_KEY_STR("bus.events", T, events, ADAPTER_DEFAULT_EVENTS,
                "endpoint the events (PUB) socket binds"),
    CFG_KEY_STR("backend", T, backend, "sim",
                "the reservation system: sim (oclient and netns: to come)"),
    CFG_KEY_U32("tick_ms", T, tick_ms, 1, 10000, 10,
                "how often the backend's pending set-ups are advanced"),
    CFG_KEY_U32("max_paths", T, max_paths, 16, 10000000, 100000,
                "path records kept, ended ones included"),
    ADAPTER_SIM_CFG_KEYS("sim.", offsetof(T, sim)),
    CFG_KEYS_END,
};
#undef T

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

struct s_path {
    char path_id[32];           /* "p-<sim id>" */
    uint64_t sim_id;
    char request_id[96];
    char src[64], dst[64];
    double bandwidth_mbps, latency_ms;
    Vr__PathState state;
    char detail[256];
    char error[256];
    uint64_t created_us, updated_us;
};

struct adapter_svc {
    svc_t *svc;
    const struct adapter_cfg *cfg;
    bus_t *bus;
    zsock_t *events;
    adapter_sim_t *sim;
    struct s_path *paths;       /* records, oldest first */
    size_t n_paths, cap;
    uint64_t t0_us;             /* sim clock origin (monotonic) */
    uint64_t n_created, n_refused, n_events;
};

static uint64_t
s_now(const adapter_svc_t *self)
{
    return vtime_mono_us() - self->t0_us;
}

static void
s_to_proto(const struct s_path *p, Vr__Path *out)
{
    vr__path__init(out);
    out->path_id = (char *) p->path_id;
    out->request_id = (char *) p->request_id;
    out->src_ip = (char *) p->src;
    out->dst_ip = (char *) p->dst;
    out->bandwidth_mbps = p->bandwidth_mbps;
    out->latency_ms = p->latency_ms;
    out->state = p->state;
    out->backend = "sim";
    out->detail = (char *) p->detail;
    out->created_us = p->created_us;
    out->updated_us = p->updated_us;
    out->error = (char *) p->error;
    out->backend_ref = (char *) p->path_id;
    /* A simulated lightpath has no interfaces of its own: the overlay link
     * over it uses the endpoint addresses. */
    out->src_link_addr = (char *) p->src;
    out->dst_link_addr = (char *) p->dst;
}

static void
s_event(adapter_svc_t *self, struct s_path *p, Vr__PathState old)
{
    p->updated_us = vtime_now_us();
    Vr__Path path;
    s_to_proto(p, &path);
    Vr__PathEvent ev = VR__PATH_EVENT__INIT;
    ev.path = &path;
    ev.old_state = old;
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_PATH_EVENT, &ev.base);
    self->n_events++;
}

static struct s_path *
s_find(adapter_svc_t *self, const char *path_id, const char *request_id)
{
    for (size_t i = self->n_paths; i-- > 0;) {
        struct s_path *p = &self->paths[i];
        if ((path_id && !strcmp(p->path_id, path_id))
            || (request_id && *request_id
                && !strcmp(p->request_id, request_id))) {
            return p;
        }
    }
    return NULL;
}

static struct s_path *
s_find_sim(adapter_svc_t *self, uint64_t sim_id)
{
    for (size_t i = self->n_paths; i-- > 0;) {
        if (self->paths[i].sim_id == sim_id) {
            return &self->paths[i];
        }
    }
    return NULL;
}

static bool
s_ended(Vr__PathState s)
{
    return s == P(DOWN) || s == P(FAILED);
}

/* Makes room for one record: drops the oldest ended one when full. */
static struct s_path *
s_new_record(adapter_svc_t *self)
{
    if (self->n_paths == self->cfg->max_paths) {
        size_t i = 0;
        while (i < self->n_paths && !s_ended(self->paths[i].state)) {
            i++;
        }
        if (i == self->n_paths) {
            return NULL;
        }
        memmove(&self->paths[i], &self->paths[i + 1],
                (self->n_paths - i - 1) * sizeof *self->paths);
        self->n_paths--;
    }
    if (self->n_paths == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 64;
        struct s_path *v = realloc(self->paths, cap * sizeof *v);
        if (!v) {
            return NULL;
        }
        self->paths = v;
        self->cap = cap;
    }
    struct s_path *p = &self->paths[self->n_paths++];
    memset(p, 0, sizeof *p);
    return p;
}

/* ------------------------------------------------------------------ */

static void
s_on_sim_event(const struct adapter_sim_event *ev, void *arg)
{
    adapter_svc_t *self = arg;
    struct s_path *p = s_find_sim(self, ev->path->id);
    if (!p) {
        return;
    }
    Vr__PathState old = p->state;
    p->state = (Vr__PathState) ev->path->state;
    if (ev->reason) {
        snprintf(p->error, sizeof p->error, "%s", ev->reason);
    }
    VLOG_INFO("path %s (%s -> %s): %s", p->path_id, p->src, p->dst,
              adapter_sim_state_name(ev->path->state));
    s_event(self, p, old);
}

static int
s_on_tick(svc_t *svc, void *arg)
{
    adapter_svc_t *self = arg;
    uint64_t now = s_now(self);
    if (adapter_sim_next_due_us(self->sim) <= now) {
        adapter_sim_advance(self->sim, now, s_on_sim_event, self);
    }
    return 0;
}

static void
s_reply_path(adapter_svc_t *self, const struct s_path *p)
{
    Vr__Path path;
    s_to_proto(p, &path);
    Vr__PathReply reply = VR__PATH_REPLY__INIT;
    reply.path = &path;
    bus_send(self->bus, svc_control(self->svc), VR__MSG_TYPE__MSG_PATH_REPLY,
             &reply.base);
}

static void
s_create(adapter_svc_t *self, const Vr__PathCreate *req, int type)
{
    zsock_t *ctl = svc_control(self->svc);
    struct s_path *p = s_find(self, NULL, req->request_id);
    if (p) {
        s_reply_path(self, p);      /* the same request again */
        return;
    }
    if (!req->src_ip || !req->dst_ip
        || (req->request_id && strlen(req->request_id) >= sizeof p->request_id)
        || strlen(req->src_ip) >= sizeof p->src
        || strlen(req->dst_ip) >= sizeof p->dst) {
        bus_send_error(self->bus, ctl, VR__ERROR_CODE__ERR_BAD_REQUEST, type,
                       "a path needs src_ip and dst_ip (and a request id "
                       "under 96 characters)");
        return;
    }
    char err[256];
    struct adapter_sim_setup setup;
    s_on_tick(self->svc, self);     /* free what is due first */
    int rc = adapter_sim_create(self->sim, req->src_ip, req->dst_ip,
                                req->bandwidth_mbps, s_now(self), &setup,
                                err, sizeof err);
    if (rc != 0) {
        self->n_refused++;
        int code = rc == EBUSY ? VR__ERROR_CODE__ERR_BLOCKED
                   : rc == ENOMEM ? VR__ERROR_CODE__ERR_INTERNAL
                   : rc == EINVAL ? VR__ERROR_CODE__ERR_BAD_REQUEST
                                  : VR__ERROR_CODE__ERR_NOT_RESERVABLE;
        VLOG_INFO("path %s -> %s refused: %s", req->src_ip, req->dst_ip, err);
        bus_send_error(self->bus, ctl, code, type, "%s", err);
        return;
    }
    p = s_new_record(self);
    if (!p) {
        char dummy[8];
        adapter_sim_teardown(self->sim, setup.id, s_now(self), NULL, dummy,
                             sizeof dummy);
        bus_send_error(self->bus, ctl, VR__ERROR_CODE__ERR_LIMIT, type,
                       "%u paths already", self->cfg->max_paths);
        return;
    }
    snprintf(p->path_id, sizeof p->path_id, "p-%llu",
             (unsigned long long) setup.id);
    p->sim_id = setup.id;
    snprintf(p->request_id, sizeof p->request_id, "%s",
             req->request_id ? req->request_id : "");
    snprintf(p->src, sizeof p->src, "%s", req->src_ip);
    snprintf(p->dst, sizeof p->dst, "%s", req->dst_ip);
    p->bandwidth_mbps = req->bandwidth_mbps;
    p->latency_ms = req->latency_ms;
    p->state = P(PROVISIONING);
    p->created_us = vtime_now_us();
    struct adapter_sim_path sp;
    if (adapter_sim_lookup(self->sim, setup.id, &sp)) {
        adapter_sim_path_detail(&sp, p->detail, sizeof p->detail);
    }
    self->n_created++;
    VLOG_INFO("path %s (%s -> %s, request %s): provisioning, up in %.3f s "
              "(%s)", p->path_id, p->src, p->dst, p->request_id,
              setup.total_us / 1e6, p->detail);
    s_event(self, p, P(UNKNOWN));
    s_reply_path(self, p);
}

static void
s_teardown(adapter_svc_t *self, const Vr__PathTeardown *req, int type)
{
    struct s_path *p = req->path_id ? s_find(self, req->path_id, NULL) : NULL;
    if (!p) {
        bus_send_error(self->bus, svc_control(self->svc),
                       VR__ERROR_CODE__ERR_NOT_FOUND, type, "no path '%s'",
                       req->path_id ? req->path_id : "");
        return;
    }
    if (!s_ended(p->state) && p->state != P(TEARING_DOWN)) {
        char err[256];
        s_on_tick(self->svc, self);
        uint64_t down_at;
        if (adapter_sim_teardown(self->sim, p->sim_id, s_now(self), &down_at,
                                 err, sizeof err) == 0) {
            Vr__PathState old = p->state;
            p->state = P(TEARING_DOWN);
            s_event(self, p, old);
        }
    }
    s_reply_path(self, p);
}

static void
s_list(adapter_svc_t *self)
{
    Vr__Path *v = calloc(self->n_paths + 1, sizeof *v);
    Vr__Path **pv = calloc(self->n_paths + 1, sizeof *pv);
    size_t n = 0;
    for (size_t i = 0; v && pv && i < self->n_paths; i++) {
        if (!s_ended(self->paths[i].state)) {
            s_to_proto(&self->paths[i], &v[n]);
            pv[n] = &v[n];
            n++;
        }
    }
    Vr__PathList list = VR__PATH_LIST__INIT;
    list.paths = pv;
    list.n_paths = n;
    bus_send(self->bus, svc_control(self->svc), VR__MSG_TYPE__MSG_PATH_LIST,
             &list.base);
    free(v);
    free(pv);
}

static int
s_on_request(svc_t *svc, bus_msg_t *req, void *arg)
{
    adapter_svc_t *self = arg;
    switch (req->type) {
    case VR__MSG_TYPE__MSG_PATH_CREATE:
        s_create(self, (Vr__PathCreate *) req->body, req->type);
        return 0;
    case VR__MSG_TYPE__MSG_PATH_TEARDOWN:
        s_teardown(self, (Vr__PathTeardown *) req->body, req->type);
        return 0;
    case VR__MSG_TYPE__MSG_PATH_LIST_REQUEST:
        s_list(self);
        return 0;
    case VR__MSG_TYPE__MSG_PATH_STATUS_REQUEST: {
        const Vr__PathStatusRequest *r = (Vr__PathStatusRequest *) req->body;
        struct s_path *p = r->path_id ? s_find(self, r->path_id, NULL) : NULL;
        if (p) {
            s_reply_path(self, p);
        } else {
            bus_send_error(self->bus, svc_control(svc),
                           VR__ERROR_CODE__ERR_NOT_FOUND, req->type,
                           "no path '%s'", r->path_id ? r->path_id : "");
        }
        return 0;
    }
    default:
        return -1;
    }
}

static void
s_on_status(svc_t *svc, Vr__StatusReply *reply, void *arg)
{
    adapter_svc_t *self = arg;
    struct adapter_sim_stats st;
    adapter_sim_get_stats(self->sim, &st);
    size_t by_state[6] = { 0 };
    for (size_t i = 0; i < self->n_paths; i++) {
        if ((int) self->paths[i].state < 6) {
            by_state[self->paths[i].state]++;
        }
    }
    bus_status_add_info(reply, "backend", self->cfg->backend);
    bus_status_add_counter(reply, "paths_provisioning",
                           by_state[P(PROVISIONING)], true);
    bus_status_add_counter(reply, "paths_up", by_state[P(UP)], true);
    bus_status_add_counter(reply, "paths_tearing_down",
                           by_state[P(TEARING_DOWN)], true);
    bus_status_add_counter(reply, "paths_created", self->n_created, false);
    bus_status_add_counter(reply, "paths_refused", self->n_refused, false);
    bus_status_add_counter(reply, "sim_blocked", st.n_blocked, false);
    bus_status_add_counter(reply, "sim_failed", st.n_failed, false);
    bus_status_add_counter(reply, "sim_down", st.n_down, false);
    bus_status_add_counter(reply, "path_events", self->n_events, false);
}

adapter_svc_t *
adapter_svc_new(svc_t *svc, const struct adapter_cfg *cfg, const char *path,
                char *err, size_t size)
{
    err[0] = '\0';
    if (strcmp(cfg->backend, "sim") != 0) {
        log_format(err, size, "backend '%s': only 'sim' is implemented so "
                   "far", cfg->backend);
        return NULL;
    }
    struct adapter_sim_config builtin = { 0 }, mixed;
    const struct adapter_sim_config *net = &cfg->sim;
    if (cfg->sim.switches.n == 0) {
        if (adapter_sim_config_load_string(&builtin, "(built-in network)",
                                           s_default_network,
                                           sizeof s_default_network - 1,
                                           err, size) != 0) {
            return NULL;
        }
        /* The built-in topology with the config's timing and failures. */
        mixed = cfg->sim;
        mixed.switches = builtin.switches;
        mixed.fibres = builtin.fibres;
        mixed.hosts = builtin.hosts;
        net = &mixed;
    } else if (!adapter_sim_config_check(&cfg->sim, "sim", path, err,
                                         size)) {
        return NULL;
    }
    adapter_svc_t *self = calloc(1, sizeof *self);
    if (!self) {
        adapter_sim_config_free(&builtin);
        return NULL;
    }
    self->svc = svc;
    self->cfg = cfg;
    self->bus = svc_bus(svc);
    self->t0_us = vtime_mono_us();
    /* The simulator copies what it needs from the config. */
    self->sim = adapter_sim_new(net, err, size);
    adapter_sim_config_free(&builtin);
    if (!self->sim) {
        goto error;
    }
    self->events = bus_bind(self->bus, ZMQ_PUB, cfg->events);
    if (!self->events) {
        goto error;
    }
    svc_on_request(svc, s_on_request, s_on_status, self);
    if (svc_add_timer(svc, cfg->tick_ms, s_on_tick, self) != 0) {
        goto error;
    }
    VLOG_INFO("backend sim: %s network, time scale %g, fail rate %g",
              cfg->sim.switches.n ? "configured" : "built-in",
              cfg->sim.time_scale, cfg->sim.fail_rate);
    svc_set_state(svc, "running");
    return self;

error:
    adapter_svc_destroy(&self);
    return NULL;
}

void
adapter_svc_destroy(adapter_svc_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    adapter_svc_t *self = *self_p;
    zsock_destroy(&self->events);
    adapter_sim_destroy(&self->sim);
    free(self->paths);
    free(self);
    *self_p = NULL;
}
