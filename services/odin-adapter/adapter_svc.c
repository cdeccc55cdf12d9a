/* SPDX-License-Identifier: MIT */
/* The adapter's bus side: requests on the control socket become calls on
 * the path table (adapter_core.h), whose transitions become PathEvents on
 * the events socket.  Which backend runs is the table's business: nothing
 * here depends on it.  The backend's work runs on the loop, every tick_ms,
 * right after a request queued some (an eventfd wakes the loop), and as
 * soon as the backend's own descriptor has something (an answer). */
#include "adapter_svc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "adapter_check.h"
#include "adapter_core.h"
#include "bus.h"
#include "log.h"
#include "vtime.h"

LOG_MODULE("adapter");

#define P(X) VR__PATH_STATE__PATH_STATE_##X

_Static_assert((int) P(PROVISIONING) == ADAPTER_PATH_PROVISIONING
               && (int) P(UP) == ADAPTER_PATH_UP
               && (int) P(TEARING_DOWN) == ADAPTER_PATH_TEARING_DOWN
               && (int) P(DOWN) == ADAPTER_PATH_DOWN
               && (int) P(FAILED) == ADAPTER_PATH_FAILED,
               "adapter_path_state numbered like vr.PathState");

#define T struct adapter_cfg
const struct cfg_key adapter_cfg_keys[] = {
    SVC_CFG_COMMON_KEYS(T, ADAPTER_DEFAULT_CONTROL),
    CFG_KEY_STR("bus.events", T, events, ADAPTER_DEFAULT_EVENTS,
                "endpoint the events (PUB) socket binds"),
    CFG_KEY_STR("backend", T, backend, "sim",
                "the reservation system: sim, netns, oclient or nsi"),
    CFG_KEY_STR("state", T, state, ADAPTER_DEFAULT_STATE,
                "SQLite file of every path, read back on start (its "
                "directory is made if missing; empty: keep nothing)"),
    CFG_KEY_U32("tick_ms", T, tick_ms, 1, 10000, 10,
                "how often the backend's pending work is advanced"),
    CFG_KEY_U32("max_paths", T, max_paths, 16, 10000000, 100000,
                "path records kept, ended ones included"),
    CFG_KEY_U32("teardown_retries", T, teardown_retries, 0, 100, 3,
                "oclient: times a failed teardown is tried again (2 s "
                "apart) before the path is reported FAILED"),
    ADAPTER_SIM_CFG_KEYS("sim.", offsetof(T, sim)),
    ADAPTER_NETNS_CFG_KEYS("netns.", offsetof(T, netns)),
    ADAPTER_OCLIENT_CFG_KEYS("oclient.", offsetof(T, oclient)),
    ADAPTER_NSI_CFG_KEYS("nsi.", offsetof(T, nsi)),
    CFG_KEYS_END,
};
#undef T

const struct svc_def adapter_svc_def = {
    .name = "odin-adapter",
    .role = "adapter",
    .summary = "Reservation-system adapter (ODIN): paths on demand.",
    .keys = adapter_cfg_keys,
    .common_offset = offsetof(struct adapter_cfg, common),
};

struct adapter_svc {
    svc_t *svc;
    const struct adapter_cfg *cfg;
    bus_t *bus;
    zsock_t *events;            /* PUB: path events */
    adapter_core_t *core;       /* the paths, over the backend */
    int wake_fd;                /* eventfd: work queued for the loop */
    bool woken;                 /* 'wake_fd' written, not yet read */
    uint64_t n_bad_requests;    /* refused by adapter_check */
};

static void
s_to_proto(const adapter_svc_t *self, const struct adapter_path *p,
           Vr__Path *out)
{
    const struct adapter_path_rec *r = &p->r;
    vr__path__init(out);
    out->path_id = (char *) r->path_id;
    out->request_id = (char *) r->request_id;
    out->src_ip = (char *) r->src;
    out->dst_ip = (char *) r->dst;
    out->bandwidth_mbps = r->bandwidth_mbps;
    out->latency_ms = r->latency_ms;
    out->state = (Vr__PathState) r->state;
    out->backend = self->cfg->backend;
    out->detail = (char *) r->detail;
    out->created_us = r->created_us;
    out->updated_us = r->updated_us;
    out->error = (char *) r->error;
    out->backend_ref = (char *) r->backend_ref;
    out->src_link_addr = (char *) r->src_link;
    out->dst_link_addr = (char *) r->dst_link;
    out->vlan = r->vlan;
    out->vlan_dst = r->vlan_dst;
    out->link_prefix_len = r->prefix_len;
    out->start_us = r->start_us;
    out->end_us = r->end_us;
    out->provider_reservation_state = (char *) p->provider.reservation;
    out->provider_provision_state = (char *) p->provider.provision;
    out->provider_lifecycle_state = (char *) p->provider.lifecycle;
    out->provider_error_id = (char *) p->error_id;
}

/* The core's transitions, published. */
static void
s_on_event(const struct adapter_path *p, int old_state, void *arg)
{
    adapter_svc_t *self = arg;
    if (!self->events) {
        return;
    }
    Vr__Path path;
    s_to_proto(self, p, &path);
    Vr__PathEvent ev = VR__PATH_EVENT__INIT;
    ev.path = &path;
    ev.old_state = (Vr__PathState) old_state;
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_PATH_EVENT, &ev.base);
}

/* The core queued work: have the loop run it as soon as this handler
 * returns. */
static void
s_on_wake(void *arg)
{
    adapter_svc_t *self = arg;
    if (self->woken || self->wake_fd < 0) {
        return;
    }
    uint64_t one = 1;
    if (write(self->wake_fd, &one, sizeof one) == (ssize_t) sizeof one) {
        self->woken = true;
    }   /* else the next tick runs it */
}

static void
s_run(adapter_svc_t *self)
{
    adapter_core_run(self->core, vtime_mono_us() / 1000);
}

static int
s_on_wake_fd(svc_t *svc, int fd, void *arg)
{
    (void) svc;
    adapter_svc_t *self = arg;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN) {
        VLOG_WARN_RL("wake: read: %s", strerror(errno));
    }
    self->woken = false;
    s_run(self);
    return 0;
}

/* The backend has work (a provider's answer came in). */
static int
s_on_backend_fd(svc_t *svc, int fd, void *arg)
{
    (void) svc;
    (void) fd;
    s_run(arg);
    return 0;
}

static int
s_on_tick(svc_t *svc, void *arg)
{
    (void) svc;
    s_run(arg);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Requests. */

static void
s_reply_path(adapter_svc_t *self, const struct adapter_path *p)
{
    Vr__Path path;
    s_to_proto(self, p, &path);
    Vr__PathReply reply = VR__PATH_REPLY__INIT;
    reply.path = &path;
    bus_send(self->bus, svc_control(self->svc), VR__MSG_TYPE__MSG_PATH_REPLY,
             &reply.base);
}

/* Answers a request refused by adapter_check with ERR_BAD_REQUEST. */
static void
s_bad_request(adapter_svc_t *self, int type, const char *err)
{
    self->n_bad_requests++;
    VLOG_WARN_RL("%s refused: %s", msgtype_name(type), err);
    bus_send_error(self->bus, svc_control(self->svc),
                   VR__ERROR_CODE__ERR_BAD_REQUEST, type, "%s", err);
}

static int
s_error_code(enum adapter_core_refusal why)
{
    switch (why) {
    case ADAPTER_CORE_BAD_REQUEST:
        return VR__ERROR_CODE__ERR_BAD_REQUEST;
    case ADAPTER_CORE_BLOCKED:
        return VR__ERROR_CODE__ERR_BLOCKED;
    case ADAPTER_CORE_LIMIT:
        return VR__ERROR_CODE__ERR_LIMIT;
    case ADAPTER_CORE_NOT_FOUND:
        return VR__ERROR_CODE__ERR_NOT_FOUND;
    case ADAPTER_CORE_NOT_RESERVABLE:
        return VR__ERROR_CODE__ERR_NOT_RESERVABLE;
    case ADAPTER_CORE_NO_CALENDAR:
        return VR__ERROR_CODE__ERR_NO_CALENDAR;
    case ADAPTER_CORE_OK:
    case ADAPTER_CORE_INTERNAL:
    default:
        return VR__ERROR_CODE__ERR_INTERNAL;
    }
}

static void
s_create(adapter_svc_t *self, const Vr__PathCreate *req, int type)
{
    char err[320];
    if (!adapter_check_create(req, err, sizeof err)) {
        s_bad_request(self, type, err);
        return;
    }
    struct adapter_core_request cr = {
        .request_id = req->request_id,
        .src = req->src_ip,
        .dst = req->dst_ip,
        .bandwidth_mbps = req->bandwidth_mbps,
        .latency_ms = req->latency_ms,
        .start_us = req->start_us,
        .end_us = req->end_us,
    };
    enum adapter_core_refusal why;
    const struct adapter_path *p = adapter_core_create(self->core, &cr, &why,
                                                       err, sizeof err);
    if (!p) {
        bus_send_error(self->bus, svc_control(self->svc), s_error_code(why),
                       type, "%s", err);
        return;
    }
    s_reply_path(self, p);
}

static void
s_teardown(adapter_svc_t *self, const Vr__PathTeardown *req, int type)
{
    char err[256];
    if (!adapter_check_teardown(req, err, sizeof err)) {
        s_bad_request(self, type, err);
        return;
    }
    const struct adapter_path *p = adapter_core_teardown(self->core,
                                                         req->path_id);
    if (!p) {
        bus_send_error(self->bus, svc_control(self->svc),
                       VR__ERROR_CODE__ERR_NOT_FOUND, type, "no path '%s'",
                       req->path_id);
        return;
    }
    s_reply_path(self, p);
}

static void
s_list(adapter_svc_t *self)
{
    size_t n_paths = adapter_core_n_paths(self->core);
    Vr__Path *v = calloc(n_paths + 1, sizeof *v);
    Vr__Path **pv = calloc(n_paths + 1, sizeof *pv);
    size_t n = 0;
    for (size_t i = 0; v && pv && i < n_paths; i++) {
        const struct adapter_path *p = adapter_core_path_at(self->core, i);
        if (!adapter_path_ended(p->r.state)) {
            s_to_proto(self, p, &v[n]);
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
        char err[256];
        if (!adapter_check_status(r, err, sizeof err)) {
            s_bad_request(self, req->type, err);
            return 0;
        }
        const struct adapter_path *p = adapter_core_find(self->core,
                                                         r->path_id);
        if (p) {
            s_reply_path(self, p);
        } else {
            bus_send_error(self->bus, svc_control(svc),
                           VR__ERROR_CODE__ERR_NOT_FOUND, req->type,
                           "no path '%s'", r->path_id);
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
    (void) svc;
    adapter_svc_t *self = arg;
    struct adapter_core_stats st;
    adapter_core_get_stats(self->core, &st);
    bus_status_add_info(reply, "backend", self->cfg->backend);
    bus_status_add_counter(reply, "paths_provisioning",
                           st.by_state[P(PROVISIONING)], true);
    bus_status_add_counter(reply, "paths_up", st.by_state[P(UP)], true);
    bus_status_add_counter(reply, "paths_tearing_down",
                           st.by_state[P(TEARING_DOWN)], true);
    bus_status_add_counter(reply, "paths_created", st.n_created, false);
    bus_status_add_counter(reply, "paths_refused", st.n_refused, false);
    bus_status_add_counter(reply, "paths_adopted", st.n_adopted, false);
    bus_status_add_counter(reply, "paths_lost_in_restart", st.n_lost,
                           false);
    bus_status_add_counter(reply, "path_events", st.n_events, false);
    bus_status_add_counter(reply, "store_errors", st.n_store_errors, false);
    bus_status_add_counter(reply, "bad_requests", self->n_bad_requests,
                           false);
    adapter_core_backend_status(self->core, reply);
}

/* ------------------------------------------------------------------ */
/* Start. */

/* Who may ask what of the adapter (common/authz.h): paths are the
 * broker's business, and an operator's. */
static const struct authz_rule s_authz[] = {
    { VR__MSG_TYPE__MSG_PATH_CREATE, AUTHZ_BROKER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_PATH_TEARDOWN, AUTHZ_BROKER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_PATH_LIST_REQUEST, AUTHZ_BROKER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_PATH_STATUS_REQUEST, AUTHZ_BROKER | AUTHZ_OPERATOR,
      { NULL } },
};

adapter_svc_t *
adapter_svc_new(svc_t *svc, const struct adapter_cfg *cfg, const char *path,
                char *err, size_t size)
{
    err[0] = '\0';
    const struct adapter_backend *backend = adapter_backend_find(cfg->backend);
    if (!backend) {
        char names[128];
        adapter_backend_names(names, sizeof names);
        log_format(err, size, "backend '%s': want %s", cfg->backend, names);
        return NULL;
    }
    adapter_svc_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->svc = svc;
    self->cfg = cfg;
    self->bus = svc_bus(svc);
    self->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->core = adapter_core_new(backend, cfg->max_paths, s_on_event,
                                  s_on_wake, self);
    if (self->wake_fd < 0 || !self->core) {
        VLOG_ERR("cannot start: %s", self->core ? strerror(errno)
                                                : "out of memory");
        goto error;
    }
    if (adapter_core_open_backend(self->core, cfg, path, err, size) != 0) {
        goto error;
    }
    self->events = bus_bind(self->bus, ZMQ_PUB, cfg->events);
    if (!self->events) {
        goto error;
    }
    if (adapter_core_restore(self->core, cfg->state, err, size) != 0) {
        goto error;
    }
    svc_on_request(svc, s_on_request, s_on_status, self);
    svc_set_authz(svc, s_authz, AUTHZ_N(s_authz));
    if (svc_add_timer(svc, cfg->tick_ms, s_on_tick, self) != 0
        || svc_add_fd(svc, self->wake_fd, s_on_wake_fd, self) != 0) {
        goto error;
    }
    int be_fd = adapter_core_wait_fd(self->core);
    if (be_fd >= 0 && svc_add_fd(svc, be_fd, s_on_backend_fd, self) != 0) {
        goto error;
    }
    char what[256];
    adapter_core_describe(self->core, what, sizeof what);
    VLOG_INFO("backend %s: %s", cfg->backend, what);
    svc_set_state(svc, "running");
    return self;

error:
    adapter_svc_destroy(&self);
    return NULL;
}

adapter_svc_t *
adapter_svc_start(svc_t *svc, const struct adapter_cfg *cfg,
                  const char *prog, int *rc)
{
    char err[512];
    adapter_svc_t *self = adapter_svc_new(svc, cfg, svc_config_path(svc),
                                          err, sizeof err);
    if (!self && err[0]) {
        fprintf(stderr, "%s: %s\n", prog, err);
        *rc = SVC_EXIT_CONFIG;
    } else if (!self) {
        *rc = SVC_EXIT_FAIL;
    }
    return self;
}

void
adapter_svc_destroy(adapter_svc_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    adapter_svc_t *self = *self_p;
    adapter_core_destroy(&self->core);
    zsock_destroy(&self->events);
    if (self->wake_fd >= 0) {
        close(self->wake_fd);
    }
    free(self);
    *self_p = NULL;
}

adapter_store_t *
adapter_svc_store(adapter_svc_t *self)
{
    return adapter_core_store(self->core);
}
