/* SPDX-License-Identifier: MIT */
/* The adapter's bus side.  Each path has a record here (adapter_store.h:
 * its request id, state, addresses, why it failed), written to SQLite at
 * every transition; the backend owns the resources.  sim and netns paths
 * are timed by the simulator, advanced every tick_ms; oclient paths are
 * child processes stepped every tick_ms.  Each transition becomes a
 * PathEvent.  Ended paths are kept (up to max_paths records) so that a
 * repeated request id or a status query still gets an answer. */
#include "adapter_svc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_check.h"
#include "adapter_runq.h"
#include "adapter_store.h"
#include "bus.h"
#include "log.h"
#include "proc.h"
#include "vtime.h"

LOG_MODULE("adapter");

#define P(X) VR__PATH_STATE__PATH_STATE_##X

#define T struct adapter_cfg
const struct cfg_key adapter_cfg_keys[] = {
    SVC_CFG_COMMON_KEYS(T, ADAPTER_DEFAULT_CONTROL),
    CFG_KEY_STR("bus.events", T, events, ADAPTER_DEFAULT_EVENTS,
                "endpoint the events (PUB) socket binds"),
    CFG_KEY_STR("backend", T, backend, "sim",
                "the reservation system: sim, netns or oclient"),
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

/* The network used by 'sim' when the config names none, so that the
 * adapter starts with no arguments: four sites, fully connected, four
 * lambdas a fibre (deploy/config/sim-network.yaml explains it).  The
 * config's own delays, time scale and failure settings still apply. */
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

enum s_backend { B_SIM, B_NETNS, B_OCLIENT };
enum s_op { OP_NONE, OP_CREATE, OP_TEARDOWN };

struct s_path {
    struct adapter_path_rec r;
    proc_t *proc;                   /* oclient: the command running */
    enum s_op op;                   /* what 'proc' is */
    enum s_op queued;               /* waiting in 'runq' to run */
    bool abandon;                   /* torn down while 'oclient -c' ran */
    uint32_t tries;                 /* failed teardowns so far */
    uint64_t retry_ms;              /* next teardown try (monotonic ms) */
};

/* A simulator transition, applied after adapter_sim_advance() returns
 * (the callback may not call into the simulator). */
struct s_pending {
    uint64_t sim_id;
    int state;
    char reason[160];
};

struct adapter_svc {
    svc_t *svc;
    const struct adapter_cfg *cfg;
    enum s_backend backend;
    bus_t *bus;
    zsock_t *events;
    adapter_sim_t *sim;         /* sim and netns */
    adapter_netns_t *netns;
    adapter_store_t *store;
    adapter_runq_t *runq;       /* oclient: children at once, the rest */
    struct s_path *paths;       /* records, oldest first */
    size_t n_paths, cap;
    struct s_pending *pending;
    size_t n_pending, cap_pending;
    uint64_t next_n;            /* number of the next path */
    uint64_t t0_us;             /* sim clock origin (monotonic) */
    uint64_t n_created, n_refused, n_events, n_adopted, n_lost, n_swept;
    uint64_t n_oclient_runs, n_oclient_errors, n_store_errors;
    uint64_t n_bad_requests;    /* refused by adapter_check */
};

static uint64_t
s_now(const adapter_svc_t *self)
{
    return vtime_mono_us() - self->t0_us;
}

static uint64_t
s_now_ms(void)
{
    return vtime_mono_us() / 1000;
}

static bool
s_ended(int s)
{
    return s == P(DOWN) || s == P(FAILED);
}

static const char *
s_state_name(int s)
{
    static const char *const names[] = { "unknown", "provisioning", "up",
                                         "tearing-down", "down", "failed" };
    return s >= 0 && s < 6 ? names[s] : "?";
}

static void
s_to_proto(const adapter_svc_t *self, const struct s_path *p, Vr__Path *out)
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
}

/* Records 'p'.  Returns 0, or -1 (counted, logged rate-limited) if the
 * store could not take it. */
static int
s_save(adapter_svc_t *self, const struct s_path *p)
{
    if (self->store && adapter_store_put(self->store, &p->r) != 0) {
        self->n_store_errors++;
        VLOG_WARN_RL("path %s: state store write failed: %s", p->r.path_id,
                     adapter_store_error(self->store));
        return -1;
    }
    return 0;
}

static void s_announce(adapter_svc_t *self, struct s_path *p, int old);

/* Moves 'p' to 'state' (with 'error' when not NULL), records it and
 * publishes the event.  Returns 0, or -1 when the record could not be
 * written (the move and the event happen all the same: the backend has
 * already done it). */
static int
s_set_state(adapter_svc_t *self, struct s_path *p, int state,
            const char *error)
{
    int old = p->r.state;
    p->r.state = state;
    if (error) {
        snprintf(p->r.error, sizeof p->r.error, "%s", error);
    }
    p->r.updated_us = vtime_now_us();
    int rc = s_save(self, p);
    s_announce(self, p, old);
    return rc;
}

/* Moves 'p' to 'state' only if the record can be written first; on -1
 * nothing changed, in memory or on disk, and nothing was published.  For
 * the moves a restart must know of: a new path, a path up. */
static int
s_commit_state(adapter_svc_t *self, struct s_path *p, int state)
{
    struct adapter_path_rec before = p->r;
    p->r.state = state;
    p->r.updated_us = vtime_now_us();
    if (s_save(self, p) != 0) {
        p->r = before;
        return -1;
    }
    s_announce(self, p, before.state);
    return 0;
}

/* Logs and publishes the move of 'p' from 'old'. */
static void
s_announce(adapter_svc_t *self, struct s_path *p, int old)
{
    int state = p->r.state;
    if (state == P(FAILED)) {
        VLOG_WARN("path %s (%s -> %s): %s -> failed: %s", p->r.path_id,
                  p->r.src, p->r.dst, s_state_name(old), p->r.error);
    } else {
        VLOG_INFO("path %s (%s -> %s): %s -> %s", p->r.path_id, p->r.src,
                  p->r.dst, s_state_name(old), s_state_name(state));
    }
    Vr__Path path;
    s_to_proto(self, p, &path);
    Vr__PathEvent ev = VR__PATH_EVENT__INIT;
    ev.path = &path;
    ev.old_state = (Vr__PathState) old;
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_PATH_EVENT, &ev.base);
    self->n_events++;
}

/* The reason a path made by the backend is torn down again when its
 * record could not be written. */
static void
s_unrecorded(adapter_svc_t *self, const struct s_path *p, char *why,
             size_t size)
{
    log_format(why, size, "the adapter's state store failed (%s): torn "
               "down, since a restart would forget it",
               self->store ? adapter_store_error(self->store) : "?");
    VLOG_WARN_RL("path %s: %s", p->r.path_id, why);
}

static struct s_path *
s_find(adapter_svc_t *self, const char *path_id, const char *request_id)
{
    for (size_t i = self->n_paths; i-- > 0;) {
        struct s_path *p = &self->paths[i];
        if ((path_id && !strcmp(p->r.path_id, path_id))
            || (request_id && *request_id
                && !strcmp(p->r.request_id, request_id))) {
            return p;
        }
    }
    return NULL;
}

static struct s_path *
s_find_sim(adapter_svc_t *self, uint64_t sim_id)
{
    for (size_t i = self->n_paths; i-- > 0;) {
        if (self->paths[i].r.sim_id == sim_id
            && !s_ended(self->paths[i].r.state)) {
            return &self->paths[i];
        }
    }
    return NULL;
}

/* Makes room for one record: drops the oldest ended one when full. */
static struct s_path *
s_new_record(adapter_svc_t *self)
{
    if (self->n_paths == self->cfg->max_paths) {
        size_t i = 0;
        while (i < self->n_paths && !s_ended(self->paths[i].r.state)) {
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
/* sim and netns: the simulator's schedule. */

static void
s_on_sim_event(const struct adapter_sim_event *ev, void *arg)
{
    adapter_svc_t *self = arg;
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

/* A sim or netns path's set-up completed in the simulator. */
static void
s_sim_up(adapter_svc_t *self, struct s_path *p)
{
    if (self->backend == B_NETNS) {
        char err[256], detail[256];
        if (adapter_netns_up(self->netns, p->r.n, p->r.src, p->r.dst,
                             p->r.bandwidth_mbps, p->r.src_link,
                             p->r.dst_link, sizeof p->r.src_link, detail,
                             sizeof detail, err, sizeof err) != 0) {
            char dummy[8];
            adapter_sim_teardown(self->sim, p->r.sim_id, s_now(self), NULL,
                                 dummy, sizeof dummy);
            s_set_state(self, p, P(FAILED), err);
            return;
        }
        size_t len = strlen(p->r.detail);
        snprintf(p->r.detail + len, sizeof p->r.detail - len, "%s%s",
                 len ? " " : "", detail);
    }
    if (s_commit_state(self, p, P(UP)) != 0) {
        char why[300], dummy[8];
        s_unrecorded(self, p, why, sizeof why);
        if (self->backend == B_NETNS) {
            adapter_netns_down(self->netns, p->r.n, p->r.src, NULL, 0);
        }
        adapter_sim_teardown(self->sim, p->r.sim_id, s_now(self), NULL,
                             dummy, sizeof dummy);
        s_set_state(self, p, P(FAILED), why);
    }
}

static void
s_sim_tick(adapter_svc_t *self)
{
    uint64_t now = s_now(self);
    if (adapter_sim_next_due_us(self->sim) > now) {
        return;
    }
    self->n_pending = 0;
    adapter_sim_advance(self->sim, now, s_on_sim_event, self);
    for (size_t i = 0; i < self->n_pending; i++) {
        const struct s_pending *e = &self->pending[i];
        struct s_path *p = s_find_sim(self, e->sim_id);
        if (!p) {
            continue;   /* already ended here (a failed netns set-up) */
        }
        if (e->state == P(UP)) {
            s_sim_up(self, p);
        } else {
            s_set_state(self, p, e->state, e->reason[0] ? e->reason : NULL);
        }
    }
}

/* ------------------------------------------------------------------ */
/* oclient: child processes. */

/* Runs 'op' for 'p' in a slot already taken from 'runq'. */
static void
s_oclient_run(adapter_svc_t *self, struct s_path *p, enum s_op op)
{
    struct adapter_oclient_cmd cmd;
    char err[256];
    bool ok = op == OP_CREATE
        ? adapter_oclient_build_create(&self->cfg->oclient, p->r.src,
                                       p->r.dst, 0, &cmd, err, sizeof err)
        : adapter_oclient_build_teardown(&self->cfg->oclient,
                                         p->r.backend_ref, &cmd, err,
                                         sizeof err);
    if (ok) {
        int e = 0;
        uint32_t limit = op == OP_CREATE
                             ? self->cfg->oclient.create_timeout_ms
                             : self->cfg->oclient.teardown_timeout_ms;
        p->proc = proc_start(cmd.argv, limit,
                             (size_t) self->cfg->oclient.max_output_kb << 10,
                             s_now_ms(), &e);
        if (!p->proc) {
            log_format(err, sizeof err, "cannot run %s: %s",
                       cmd.argv[0], strerror(e));
            ok = false;
        }
    }
    if (!ok) {
        adapter_runq_done(self->runq);
        self->n_oclient_errors++;
        s_set_state(self, p, P(FAILED), err);
        return;
    }
    char line[256];
    VLOG_INFO("path %s: running '%s'", p->r.path_id,
              adapter_oclient_cmd_format(&cmd, line, sizeof line));
    p->op = op;
    self->n_oclient_runs++;
}

/* Runs 'op' for 'p' now if fewer than oclient.max_running commands run,
 * else queues it: each child is a process and ODIN's server is one, so
 * a burst of requests must not become a burst of children. */
static void
s_oclient_start(adapter_svc_t *self, struct s_path *p, enum s_op op)
{
    if (adapter_runq_admit(self->runq)) {
        s_oclient_run(self, p, op);
        return;
    }
    if (adapter_runq_push(self->runq, p->r.n, (int) op) != 0) {
        self->n_oclient_errors++;
        s_set_state(self, p, P(FAILED), "out of memory queueing oclient");
        return;
    }
    p->queued = op;
    VLOG_INFO_RL("path %s: %s queued behind %zu running, %zu waiting",
                 p->r.path_id, op == OP_CREATE ? "create" : "teardown",
                 adapter_runq_running(self->runq),
                 adapter_runq_queued(self->runq) - 1);
}

static void
s_oclient_done(adapter_svc_t *self, struct s_path *p)
{
    struct proc_output out;
    struct adapter_oclient_result res;
    enum s_op op = p->op;
    proc_finish(&p->proc, &out);
    p->op = OP_NONE;
    adapter_runq_done(self->runq);
    if (op == OP_CREATE) {
        bool ok = adapter_oclient_parse_create(&out, &res);
        proc_output_uninit(&out);
        if (!ok) {
            self->n_oclient_errors++;
            s_set_state(self, p, p->abandon ? P(DOWN) : P(FAILED),
                        res.error);
            return;
        }
        snprintf(p->r.backend_ref, sizeof p->r.backend_ref, "%s",
                 res.path_id);
        snprintf(p->r.detail, sizeof p->r.detail, "odin=%s", res.path_id);
        if (p->abandon) {
            s_save(self, p);
            VLOG_INFO("path %s: came up as %s after its teardown was "
                      "asked: tearing it down", p->r.path_id, res.path_id);
            s_oclient_start(self, p, OP_TEARDOWN);
        } else if (s_commit_state(self, p, P(UP)) != 0) {
            /* ODIN holds a path that only this process knows of: give it
             * back now rather than lose it in a restart. */
            char why[300];
            s_unrecorded(self, p, why, sizeof why);
            s_set_state(self, p, P(TEARING_DOWN), why);
            s_oclient_start(self, p, OP_TEARDOWN);
        }
        return;
    }
    bool ok = adapter_oclient_parse_teardown(&out, p->r.backend_ref, &res);
    proc_output_uninit(&out);
    if (ok || res.not_found) {
        s_set_state(self, p, P(DOWN), NULL);
        return;
    }
    self->n_oclient_errors++;
    if (p->tries++ < self->cfg->teardown_retries) {
        VLOG_WARN("path %s: teardown of %s failed (%s): again in 2 s",
                  p->r.path_id, p->r.backend_ref, res.error);
        p->retry_ms = s_now_ms() + 2000;
        return;
    }
    char why[256];
    log_format(why, sizeof why, "teardown failed %u times (%s): ODIN may "
               "still hold %s", p->tries, res.error, p->r.backend_ref);
    s_set_state(self, p, P(FAILED), why);
}

static void
s_oclient_tick(adapter_svc_t *self)
{
    uint64_t now = s_now_ms();
    for (size_t i = 0; i < self->n_paths; i++) {
        struct s_path *p = &self->paths[i];
        if (p->proc) {
            if (proc_step(p->proc, now)) {
                s_oclient_done(self, p);
            }
        } else if (p->r.state == P(TEARING_DOWN) && p->retry_ms
                   && now >= p->retry_ms && p->queued == OP_NONE) {
            p->retry_ms = 0;
            s_oclient_start(self, p, OP_TEARDOWN);
        }
    }
    /* Slots freed above go to those waiting, oldest first. */
    uint64_t n;
    int op;
    while (adapter_runq_next(self->runq, &n, &op)) {
        struct s_path *p = NULL;
        for (size_t i = 0; i < self->n_paths && !p; i++) {
            if (self->paths[i].r.n == n) {
                p = &self->paths[i];
            }
        }
        if (!p || p->queued != (enum s_op) op || s_ended(p->r.state)) {
            adapter_runq_done(self->runq);
            continue;
        }
        p->queued = OP_NONE;
        s_oclient_run(self, p, (enum s_op) op);
    }
}

static int
s_on_tick(svc_t *svc, void *arg)
{
    (void) svc;
    adapter_svc_t *self = arg;
    if (self->backend == B_OCLIENT) {
        s_oclient_tick(self);
    } else {
        s_sim_tick(self);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Requests. */

static void
s_reply_path(adapter_svc_t *self, const struct s_path *p)
{
    Vr__Path path;
    s_to_proto(self, p, &path);
    Vr__PathReply reply = VR__PATH_REPLY__INIT;
    reply.path = &path;
    bus_send(self->bus, svc_control(self->svc), VR__MSG_TYPE__MSG_PATH_REPLY,
             &reply.base);
}

static void
s_refuse(adapter_svc_t *self, int rc, int type, const char *src,
         const char *dst, const char *err)
{
    self->n_refused++;
    int code = rc == EBUSY ? VR__ERROR_CODE__ERR_BLOCKED
               : rc == ENOMEM ? VR__ERROR_CODE__ERR_INTERNAL
               : rc == EINVAL ? VR__ERROR_CODE__ERR_BAD_REQUEST
                              : VR__ERROR_CODE__ERR_NOT_RESERVABLE;
    VLOG_INFO_RL("path %s -> %s refused: %s", src, dst, err);
    bus_send_error(self->bus, svc_control(self->svc), code, type, "%s", err);
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

static void
s_create(adapter_svc_t *self, const Vr__PathCreate *req, int type)
{
    zsock_t *ctl = svc_control(self->svc);
    char err[256];
    if (!adapter_check_create(req, err, sizeof err)) {
        s_bad_request(self, type, err);
        return;
    }
    struct s_path *p = s_find(self, NULL, req->request_id);
    if (p) {
        s_reply_path(self, p);      /* the same request again */
        return;
    }
    if (self->backend == B_NETNS) {
        const char *ip = !adapter_netns_knows(self->netns, req->src_ip)
                             ? req->src_ip
                         : !adapter_netns_knows(self->netns, req->dst_ip)
                             ? req->dst_ip : NULL;
        if (ip) {
            log_format(err, sizeof err, "%s is not a host of netns.hosts",
                       ip);
            s_refuse(self, ENOENT, type, req->src_ip, req->dst_ip, err);
            return;
        }
    }
    struct adapter_sim_setup setup = { 0 };
    if (self->backend != B_OCLIENT) {
        s_sim_tick(self);           /* free what is due first */
        int rc = adapter_sim_create(self->sim, req->src_ip, req->dst_ip,
                                    req->bandwidth_mbps, s_now(self), &setup,
                                    err, sizeof err);
        if (rc != 0) {
            s_refuse(self, rc, type, req->src_ip, req->dst_ip, err);
            return;
        }
    }
    p = s_new_record(self);
    if (!p) {
        if (self->backend != B_OCLIENT) {
            adapter_sim_teardown(self->sim, setup.id, s_now(self), NULL, err,
                                 sizeof err);
        }
        bus_send_error(self->bus, ctl, VR__ERROR_CODE__ERR_LIMIT, type,
                       "%u paths already", self->cfg->max_paths);
        return;
    }
    struct adapter_path_rec *r = &p->r;
    r->n = self->next_n++;
    snprintf(r->path_id, sizeof r->path_id, "p-%" PRIu64, r->n);
    r->sim_id = setup.id;
    snprintf(r->request_id, sizeof r->request_id, "%s",
             req->request_id ? req->request_id : "");
    snprintf(r->src, sizeof r->src, "%s", req->src_ip);
    snprintf(r->dst, sizeof r->dst, "%s", req->dst_ip);
    r->bandwidth_mbps = req->bandwidth_mbps;
    r->latency_ms = req->latency_ms;
    r->created_us = vtime_now_us();
    if (self->backend == B_SIM) {
        /* A simulated lightpath has no interfaces of its own: the overlay
         * link over it uses the endpoint addresses. */
        snprintf(r->src_link, sizeof r->src_link, "%s", r->src);
        snprintf(r->dst_link, sizeof r->dst_link, "%s", r->dst);
    }
    if (self->backend != B_OCLIENT) {
        struct adapter_sim_path sp;
        if (adapter_sim_lookup(self->sim, setup.id, &sp)) {
            adapter_sim_path_detail(&sp, r->detail, sizeof r->detail);
        }
        VLOG_INFO("path %s (%s -> %s, request %s): provisioning, up in "
                  "%.3f s (%s)", r->path_id, r->src, r->dst, r->request_id,
                  setup.total_us / 1e6, r->detail);
    }
    if (self->backend == B_OCLIENT) {
        /* On the oclient backend the source and destination addresses are
         * the link addresses too. */
        snprintf(r->src_link, sizeof r->src_link, "%s", r->src);
        snprintf(r->dst_link, sizeof r->dst_link, "%s", r->dst);
    }
    /* Recorded before anything is asked of ODIN, and given back to the
     * simulator if it cannot be: no path a restart would forget. */
    if (s_commit_state(self, p, P(PROVISIONING)) != 0) {
        if (self->backend != B_OCLIENT) {
            adapter_sim_teardown(self->sim, setup.id, s_now(self), NULL, err,
                                 sizeof err);
        }
        self->n_paths--;            /* 'p' is the newest record */
        self->n_refused++;
        bus_send_error(self->bus, ctl, VR__ERROR_CODE__ERR_INTERNAL, type,
                       "path refused: the adapter's state store failed "
                       "(%s); nothing was made",
                       adapter_store_error(self->store));
        return;
    }
    self->n_created++;
    if (self->backend == B_OCLIENT) {
        s_oclient_start(self, p, OP_CREATE);
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
    struct s_path *p = s_find(self, req->path_id, NULL);
    if (!p) {
        bus_send_error(self->bus, svc_control(self->svc),
                       VR__ERROR_CODE__ERR_NOT_FOUND, type, "no path '%s'",
                       req->path_id);
        return;
    }
    if (s_ended(p->r.state) || p->r.state == P(TEARING_DOWN)) {
        s_reply_path(self, p);
        return;
    }
    if (self->backend == B_OCLIENT) {
        if (p->queued == OP_CREATE) {
            /* 'oclient -c' never ran: nothing to give back. */
            adapter_runq_cancel(self->runq, p->r.n);
            p->queued = OP_NONE;
            s_set_state(self, p, P(DOWN), NULL);
            s_reply_path(self, p);
            return;
        }
        if (p->op == OP_CREATE) {
            p->abandon = true;      /* torn down when 'oclient -c' ends */
        } else {
            s_oclient_start(self, p, OP_TEARDOWN);
        }
        if (!s_ended(p->r.state)) {
            s_set_state(self, p, P(TEARING_DOWN), NULL);
        }
        s_reply_path(self, p);
        return;
    }
    s_sim_tick(self);
    p = s_find(self, req->path_id, NULL);   /* the tick may move records */
    if (!p || s_ended(p->r.state)) {
        if (p) {
            s_reply_path(self, p);
        }
        return;
    }
    if (self->backend == B_NETNS && p->r.state == P(UP)
        && adapter_netns_down(self->netns, p->r.n, p->r.src, err,
                              sizeof err) != 0) {
        VLOG_WARN("path %s: %s (the sweep at the next start retries)",
                  p->r.path_id, err);
    }
    if (adapter_sim_teardown(self->sim, p->r.sim_id, s_now(self), NULL, err,
                             sizeof err) == 0) {
        s_set_state(self, p, P(TEARING_DOWN), NULL);
    } else {
        s_set_state(self, p, P(DOWN), NULL);
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
        if (!s_ended(self->paths[i].r.state)) {
            s_to_proto(self, &self->paths[i], &v[n]);
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
        struct s_path *p = s_find(self, r->path_id, NULL);
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
    size_t by_state[6] = { 0 };
    for (size_t i = 0; i < self->n_paths; i++) {
        if (self->paths[i].r.state >= 0 && self->paths[i].r.state < 6) {
            by_state[self->paths[i].r.state]++;
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
    bus_status_add_counter(reply, "paths_adopted", self->n_adopted, false);
    bus_status_add_counter(reply, "paths_lost_in_restart", self->n_lost,
                           false);
    bus_status_add_counter(reply, "path_events", self->n_events, false);
    bus_status_add_counter(reply, "store_errors", self->n_store_errors,
                           false);
    bus_status_add_counter(reply, "bad_requests", self->n_bad_requests,
                           false);
    if (self->sim) {
        struct adapter_sim_stats st;
        adapter_sim_get_stats(self->sim, &st);
        bus_status_add_counter(reply, "sim_blocked", st.n_blocked, false);
        bus_status_add_counter(reply, "sim_failed", st.n_failed, false);
        bus_status_add_counter(reply, "sim_down", st.n_down, false);
    }
    if (self->backend == B_NETNS) {
        bus_status_add_counter(reply, "netns_swept", self->n_swept, false);
    }
    if (self->backend == B_OCLIENT) {
        bus_status_add_counter(reply, "oclient_runs", self->n_oclient_runs,
                               false);
        bus_status_add_counter(reply, "oclient_errors",
                               self->n_oclient_errors, false);
        bus_status_add_counter(reply, "oclient_running",
                               adapter_runq_running(self->runq), true);
        bus_status_add_counter(reply, "oclient_queued",
                               adapter_runq_queued(self->runq), true);
    }
}

/* ------------------------------------------------------------------ */
/* Start: the backend, then the recorded paths. */

static void
s_on_loaded(const struct adapter_path_rec *rec, void *arg)
{
    adapter_svc_t *self = arg;
    struct s_path *p = s_new_record(self);
    if (!p) {
        VLOG_ERR("out of memory: path %s not taken back", rec->path_id);
        return;
    }
    p->r = *rec;
    if (rec->n >= self->next_n) {
        self->next_n = rec->n + 1;
    }
}

/* Takes path 'p', recorded before a restart, back into the backend. */
static void
s_take_back(adapter_svc_t *self, struct s_path *p)
{
    char err[256];
    struct adapter_path_rec *r = &p->r;
    if (r->state == P(PROVISIONING)) {
        if (self->backend == B_NETNS) {
            adapter_netns_down(self->netns, r->n, r->src, err, sizeof err);
        }
        self->n_lost++;
        s_set_state(self, p, P(FAILED),
                    self->backend == B_OCLIENT
                        ? "the adapter restarted while 'oclient -c' ran: "
                          "ODIN's answer was lost"
                        : "the adapter restarted during the set-up: "
                          "released");
        return;
    }
    if (r->state == P(TEARING_DOWN)) {
        if (self->backend == B_OCLIENT && r->backend_ref[0]) {
            s_oclient_start(self, p, OP_TEARDOWN);
            return;
        }
        if (self->backend == B_NETNS) {
            adapter_netns_down(self->netns, r->n, r->src, err, sizeof err);
        }
        s_set_state(self, p, P(DOWN), NULL);
        return;
    }
    /* UP. */
    if (self->backend == B_OCLIENT) {
        self->n_adopted++;
        VLOG_INFO("path %s (%s -> %s): adopted, ODIN path %s", r->path_id,
                  r->src, r->dst, r->backend_ref);
        return;
    }
    /* The lambda and route are in front of the netns part of 'detail'. */
    if (adapter_sim_adopt(self->sim, r->sim_id, r->src, r->dst,
                          r->bandwidth_mbps, r->detail, s_now(self), err,
                          sizeof err) != 0) {
        self->n_lost++;
        if (self->backend == B_NETNS) {
            adapter_netns_down(self->netns, r->n, r->src, NULL, 0);
        }
        char why[300];
        log_format(why, sizeof why, "not adopted after a restart: %s", err);
        s_set_state(self, p, P(FAILED), why);
        return;
    }
    if (self->backend == B_NETNS
        && !adapter_netns_adopt(self->netns, r->n, r->src, r->dst,
                                r->src_link)) {
        self->n_lost++;
        adapter_sim_teardown(self->sim, r->sim_id, s_now(self), NULL, err,
                             sizeof err);
        adapter_netns_down(self->netns, r->n, r->src, NULL, 0);
        s_set_state(self, p, P(FAILED), "vanished: its veth pair is gone");
        return;
    }
    self->n_adopted++;
    VLOG_INFO("path %s (%s -> %s): adopted (%s)", r->path_id, r->src, r->dst,
              r->detail);
}

static bool
s_keep_dev(uint64_t n, void *arg)
{
    adapter_svc_t *self = arg;
    for (size_t i = 0; i < self->n_paths; i++) {
        if (self->paths[i].r.n == n && self->paths[i].r.state == P(UP)) {
            return true;
        }
    }
    return false;
}

static int
s_restore(adapter_svc_t *self, char *err, size_t size)
{
    if (!self->cfg->state || !self->cfg->state[0]) {
        VLOG_WARN("state: none kept (paths are forgotten on restart)");
        return 0;
    }
    self->store = adapter_store_open(self->cfg->state, err, size);
    if (!self->store) {
        return -1;
    }
    if (adapter_store_trim(self->store, self->cfg->max_paths) != 0) {
        VLOG_WARN("state '%s': old records not trimmed: %s",
                  self->cfg->state, adapter_store_error(self->store));
    }
    uint64_t next = 1;
    if (adapter_store_next_n(self->store, &next) != 0
        || adapter_store_load(self->store, s_on_loaded, self) < 0) {
        log_format(err, size, "state '%s': unreadable", self->cfg->state);
        return -1;
    }
    if (next > self->next_n) {
        self->next_n = next;
    }
    size_t n_open = 0;
    for (size_t i = 0; i < self->n_paths; i++) {
        if (!s_ended(self->paths[i].r.state)) {
            n_open++;
            s_take_back(self, &self->paths[i]);
        }
    }
    if (self->backend == B_NETNS) {
        self->n_swept = adapter_netns_sweep(self->netns, s_keep_dev, self);
    }
    VLOG_INFO("state %s: %zu paths recorded, %zu open at the last stop: "
              "%" PRIu64 " adopted, %" PRIu64 " lost; %" PRIu64 " stray "
              "devices deleted; next path p-%" PRIu64, self->cfg->state,
              self->n_paths, n_open, self->n_adopted, self->n_lost,
              self->n_swept, self->next_n);
    return 0;
}

static int
s_make_sim(adapter_svc_t *self, const char *path, char *err, size_t size)
{
    const struct adapter_cfg *cfg = self->cfg;
    struct adapter_sim_config builtin = { 0 }, mixed;
    const struct adapter_sim_config *net = &cfg->sim;
    if (cfg->sim.switches.n == 0) {
        char text[16384];
        const char *src = s_default_network;
        const char *name = "(built-in network)";
        if (self->backend == B_NETNS) {
            if (!adapter_netns_sim_network(self->netns, text, sizeof text)) {
                log_format(err, size, "netns.hosts: too many hosts");
                return -1;
            }
            src = text;
            name = "(netns network)";
        }
        if (adapter_sim_config_load_string(&builtin, name, src, strlen(src),
                                           err, size) != 0) {
            return -1;
        }
        /* The built-in topology with the config's timing and failures. */
        mixed = cfg->sim;
        mixed.switches = builtin.switches;
        mixed.fibres = builtin.fibres;
        mixed.hosts = builtin.hosts;
        net = &mixed;
    } else if (!adapter_sim_config_check(&cfg->sim, "sim", path, err,
                                         size)) {
        return -1;
    }
    /* The simulator copies what it needs from the config. */
    self->sim = adapter_sim_new(net, err, size);
    adapter_sim_config_free(&builtin);
    return self->sim ? 0 : -1;
}

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
    enum s_backend backend;
    if (!strcmp(cfg->backend, "sim")) {
        backend = B_SIM;
    } else if (!strcmp(cfg->backend, "netns")) {
        backend = B_NETNS;
    } else if (!strcmp(cfg->backend, "oclient")) {
        backend = B_OCLIENT;
    } else {
        log_format(err, size, "backend '%s': want sim, netns or oclient",
                   cfg->backend);
        return NULL;
    }
    if (backend == B_OCLIENT
        && !adapter_oclient_config_check(&cfg->oclient, err, size)) {
        return NULL;
    }
    adapter_svc_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->svc = svc;
    self->cfg = cfg;
    self->backend = backend;
    self->bus = svc_bus(svc);
    self->t0_us = vtime_mono_us();
    self->next_n = 1;
    self->runq = adapter_runq_new(cfg->oclient.max_running);
    if (!self->runq) {
        goto error;
    }
    if (backend == B_NETNS) {
        self->netns = adapter_netns_new(&cfg->netns, err, size);
        if (!self->netns) {
            goto error;
        }
    }
    if (backend != B_OCLIENT && s_make_sim(self, path, err, size) != 0) {
        goto error;
    }
    self->events = bus_bind(self->bus, ZMQ_PUB, cfg->events);
    if (!self->events) {
        goto error;
    }
    if (s_restore(self, err, size) != 0) {
        goto error;
    }
    svc_on_request(svc, s_on_request, s_on_status, self);
    svc_set_authz(svc, s_authz, AUTHZ_N(s_authz));
    if (svc_add_timer(svc, cfg->tick_ms, s_on_tick, self) != 0) {
        goto error;
    }
    if (backend == B_OCLIENT) {
        VLOG_INFO("backend oclient: %s", cfg->oclient.path);
    } else {
        VLOG_INFO("backend %s: %s network, time scale %g, fail rate %g",
                  cfg->backend,
                  cfg->sim.switches.n ? "configured" : "built-in",
                  cfg->sim.time_scale, cfg->sim.fail_rate);
    }
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
    for (size_t i = 0; i < self->n_paths; i++) {
        proc_destroy(&self->paths[i].proc);
    }
    zsock_destroy(&self->events);
    adapter_sim_destroy(&self->sim);
    adapter_netns_destroy(&self->netns);
    adapter_store_close(&self->store);
    adapter_runq_destroy(&self->runq);
    free(self->paths);
    free(self->pending);
    free(self);
    *self_p = NULL;
}

adapter_store_t *
adapter_svc_store(adapter_svc_t *self)
{
    return self->store;
}
