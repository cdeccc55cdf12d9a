/* SPDX-License-Identifier: MIT */
/* The aggregator's bus side.  All work happens on the service's one
 * thread: a message in is fed to the core at once (work proportional to
 * its entries), the core is ticked every tick_ms, and what is published or
 * answered is read back from the core then. */
#include "vttif_agg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "log.h"
#include "vtime.h"

LOG_MODULE("vttif");

#define T struct agg_cfg
#define D(NAME, FIELD, MIN, MAX, DEF, HELP) \
    CFG_KEY_DOUBLE("vttif." NAME, T, tm.FIELD, MIN, MAX, DEF, HELP)
const struct cfg_key agg_cfg_keys[] = {
    SVC_CFG_COMMON_KEYS(T, AGG_DEFAULT_CONTROL),
    CFG_KEY_STR("bus.events", T, events, AGG_DEFAULT_EVENTS,
                "endpoint the events (PUB) socket binds"),
    CFG_KEY_STR("bus.ingest", T, ingest, AGG_DEFAULT_INGEST,
                "endpoint the ingest (SUB) socket binds; agents connect"),
    CFG_KEY_U32("tick_ms", T, tick_ms, 10, 10000, 100,
                "how often rates and the topology are recomputed"),
    CFG_KEY_U32("matrix_ms", T, matrix_ms, 100, 600000, 1000,
                "global matrix publishing period"),
    D("window_s", window_s, 0.1, 3600, VTTIF_TM_DEFAULT_WINDOW_S,
      "sliding window the rates are taken over"),
    D("tau_s", tau_s, 0, 3600, VTTIF_TM_DEFAULT_TAU_S,
      "low-pass (EWMA) time constant after the window; 0: none"),
    D("add_frac", add_frac, 0, 1, VTTIF_TM_DEFAULT_ADD_FRAC,
      "an edge enters at this share of the largest rate"),
    D("drop_frac", drop_frac, 0, 1, VTTIF_TM_DEFAULT_DROP_FRAC,
      "and leaves below this share (hysteresis)"),
    D("min_rate_bps", min_rate_bps, 0, 1e13, VTTIF_TM_DEFAULT_MIN_RATE_BPS,
      "an edge needs at least this rate to enter"),
    D("drop_rate_bps", drop_rate_bps, 0, 1e13,
      VTTIF_TM_DEFAULT_DROP_RATE_BPS, "and leaves below this rate"),
    D("hold_add_s", hold_add_s, 0, 3600, VTTIF_TM_DEFAULT_HOLD_ADD_S,
      "the enter condition must hold this long"),
    D("hold_drop_s", hold_drop_s, 0, 3600, VTTIF_TM_DEFAULT_HOLD_DROP_S,
      "the leave condition must hold this long"),
    D("idle_s", idle_s, 0, 3600, VTTIF_TM_DEFAULT_IDLE_S,
      "a pair whose traffic stopped this long stops setting the scale; "
      "0: off"),
    D("quiet_new_s", quiet_new_s, 0, 3600, VTTIF_TM_DEFAULT_QUIET_NEW_S,
      "a first (or cleared) topology waits for this much calm"),
    D("quiet_s", quiet_s, 0, 3600, VTTIF_TM_DEFAULT_QUIET_S,
      "an updated topology waits for this much calm"),
    D("min_interval_s", min_interval_s, 0, 3600,
      VTTIF_TM_DEFAULT_MIN_INTERVAL_S, "least time between two events"),
    D("settle_s", settle_s, 0, 3600, VTTIF_TM_DEFAULT_SETTLE_S,
      "faster changes than this settle on the union of the patterns"),
    CFG_KEY_U32("vttif.settle_changes", T, settle_changes, 1, 1000,
                VTTIF_TM_DEFAULT_SETTLE_CHANGES,
                "changes tolerated within settle_s before the union"),
    D("settle_max_s", settle_max_s, 0, 86400, VTTIF_TM_DEFAULT_SETTLE_MAX_S,
      "most calm the union may ask for before it shrinks"),
    D("agent_timeout_periods", agent_timeout_periods, 1, 1000,
      VTTIF_TM_DEFAULT_AGENT_TIMEOUT_PERIODS,
      "a silent agent ages out after this many of its periods"),
    D("agent_timeout_min_s", agent_timeout_min_s, 0, 86400,
      VTTIF_TM_DEFAULT_AGENT_TIMEOUT_MIN_S, "and not before this"),
    D("pair_timeout_s", pair_timeout_s, 0, 86400,
      VTTIF_TM_DEFAULT_PAIR_TIMEOUT_S,
      "a pair an agent stopped listing is forgotten after this"),
    D("default_period_s", default_period_s, 0.01, 3600,
      VTTIF_TM_DEFAULT_DEFAULT_PERIOD_S,
      "period assumed for an agent that gives none"),
    D("matrix_min_frac", matrix_min_frac, 0, 1,
      VTTIF_TM_DEFAULT_MATRIX_MIN_FRAC,
      "the published matrix omits entries below this share"),
    CFG_KEY_U32("vttif.max_agents", T, max_agents, 1, 1000000,
                VTTIF_TM_DEFAULT_MAX_AGENTS, "agents beyond are refused"),
    CFG_KEY_U32("vttif.max_reports", T, max_reports, 16, 1u << 30,
                VTTIF_TM_DEFAULT_MAX_REPORTS,
                "(agent, pair) reports beyond are dropped"),
    CFG_KEYS_END,
};
#undef D
#undef T

bool
agg_cfg_finish(struct agg_cfg *cfg, char *err, size_t err_size)
{
    cfg->tm.settle_changes = cfg->settle_changes;
    cfg->tm.max_agents = cfg->max_agents;
    cfg->tm.max_reports = cfg->max_reports;
    return vttif_tm_params_check(&cfg->tm, err, err_size);
}

/* What an agent last announced, for AgentListQuery. */
struct s_agent {
    char *id;
    uint8_t *packed;            /* its AgentAnnounce, as received */
    size_t size;
};

struct vttif_agg {
    svc_t *svc;
    const struct agg_cfg *cfg;
    bus_t *bus;
    vttif_tm_t *tm;
    zsock_t *events;            /* PUB */
    zsock_t *ingest;            /* SUB, bound */
    struct vttif_tm_entry *buf; /* conversion buffer for entries */
    size_t buf_cap;
    struct s_agent *agents;     /* announcements */
    size_t n_agents;
    uint64_t t0_us;             /* monotonic origin of 'now' */
    uint64_t n_matrices;        /* local matrices taken */
    uint64_t n_rejected;        /* refused by the core */
    uint64_t n_events;          /* topology events published */
};

static double
s_now(const vttif_agg_t *self)
{
    return (double) (vtime_mono_us() - self->t0_us) / 1e6;
}

/* ------------------------------------------------------------------ */
/* Ingest */

static void
s_take_matrix(vttif_agg_t *self, const Vr__LocalMatrix *m)
{
    if (m->n_entries > self->buf_cap) {
        size_t cap = m->n_entries * 2;
        struct vttif_tm_entry *b = realloc(self->buf, cap * sizeof *b);
        if (!b) {
            self->n_rejected++;
            return;
        }
        self->buf = b;
        self->buf_cap = cap;
    }
    for (size_t i = 0; i < m->n_entries; i++) {
        self->buf[i] = (struct vttif_tm_entry) {
            .src = m->entries[i]->src_mac,
            .dst = m->entries[i]->dst_mac,
            .bytes = m->entries[i]->bytes,
            .frames = m->entries[i]->frames,
        };
    }
    struct vttif_tm_update u = {
        .agent_id = m->agent_id,
        .boot_id = m->boot_id,
        .period_s = (double) m->period_us / 1e6,
        .time_s = (double) m->time_us / 1e6,
        .entries = self->buf,
        .n_entries = m->n_entries,
    };
    if (vttif_tm_feed(self->tm, &u, s_now(self)) == 0) {
        self->n_matrices++;
    } else {
        self->n_rejected++;
    }
}

static void
s_take_announce(vttif_agg_t *self, const Vr__AgentAnnounce *a)
{
    if (!a->agent_id || !*a->agent_id) {
        return;
    }
    size_t i = 0;
    while (i < self->n_agents && strcmp(self->agents[i].id, a->agent_id)) {
        i++;
    }
    if (i == self->n_agents) {
        if (self->n_agents >= self->cfg->max_agents) {
            return;
        }
        struct s_agent *v = realloc(self->agents,
                                    (self->n_agents + 1) * sizeof *v);
        if (!v) {
            return;
        }
        self->agents = v;
        self->agents[i] = (struct s_agent) { .id = strdup(a->agent_id) };
        if (!self->agents[i].id) {
            return;
        }
        self->n_agents++;
        VLOG_INFO("agent '%s' announced itself (control %s)", a->agent_id,
                  a->control_endpoint ? a->control_endpoint : "?");
    }
    size_t size = vr__agent_announce__get_packed_size(a);
    uint8_t *p = malloc(size ? size : 1);
    if (p) {
        vr__agent_announce__pack(a, p);
        free(self->agents[i].packed);
        self->agents[i].packed = p;
        self->agents[i].size = size;
    }
}

static int
s_on_ingest(svc_t *svc, zsock_t *sock, void *arg)
{
    vttif_agg_t *self = arg;
    bus_msg_t msg;
    if (bus_recv(self->bus, sock, &msg) != 0) {
        return 0;
    }
    switch (msg.type) {
    case VR__MSG_TYPE__MSG_LOCAL_MATRIX:
        s_take_matrix(self, (Vr__LocalMatrix *) msg.body);
        break;
    case VR__MSG_TYPE__MSG_VM_LOCATIONS: {
        const Vr__VmLocations *v = (Vr__VmLocations *) msg.body;
        for (size_t i = 0; i < v->n_vms; i++) {
            vttif_tm_feed_location(self->tm, v->vms[i]->mac,
                                   v->vms[i]->agent_id, v->vms[i]->gone,
                                   s_now(self));
        }
        bus_send(self->bus, self->events, msg.type, msg.body);
        break;
    }
    case VR__MSG_TYPE__MSG_AGENT_ANNOUNCE:
        s_take_announce(self, (Vr__AgentAnnounce *) msg.body);
        bus_send(self->bus, self->events, msg.type, msg.body);
        break;
    default:
        break;      /* valid, but not for us: counted by the bus as rx */
    }
    bus_msg_clear(&msg);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Building replies and events */

static int
s_cmp_total(const void *a, const void *b)
{
    uint64_t x = ((const struct vttif_tm_vm_total *) a)->mac;
    uint64_t y = ((const struct vttif_tm_vm_total *) b)->mac;
    return x < y ? -1 : x > y;
}

/* Builds the Topology message; everything it points to is in '*mem', to
 * be freed with free() after sending. */
struct s_topo_mem {
    struct vttif_tm_edge *edges;
    Vr__TopologyEdge *te;
    Vr__TopologyEdge **tp;
    struct vttif_tm_vm_total *totals;
    Vr__VmLocation *locs;
    Vr__VmLocation **lp;
};

static void
s_topo_free(struct s_topo_mem *m)
{
    free(m->edges);
    free(m->te);
    free(m->tp);
    free(m->totals);
    free(m->locs);
    free(m->lp);
}

static int
s_topology(vttif_agg_t *self, Vr__Topology *t, struct s_topo_mem *m)
{
    memset(m, 0, sizeof *m);
    vr__topology__init(t);
    uint64_t version;
    size_t n = vttif_tm_topology(self->tm, NULL, 0, &version);
    size_t nv = vttif_tm_vm_totals(self->tm, NULL, 0);
    m->edges = calloc(n + 1, sizeof *m->edges);
    m->te = calloc(n + 1, sizeof *m->te);
    m->tp = calloc(n + 1, sizeof *m->tp);
    m->totals = calloc(nv + 1, sizeof *m->totals);
    m->locs = calloc(2 * n + 1, sizeof *m->locs);
    m->lp = calloc(2 * n + 1, sizeof *m->lp);
    if (!m->edges || !m->te || !m->tp || !m->totals || !m->locs || !m->lp) {
        s_topo_free(m);
        return -1;
    }
    n = vttif_tm_topology(self->tm, m->edges, n, &version);
    nv = vttif_tm_vm_totals(self->tm, m->totals, nv);
    qsort(m->totals, nv, sizeof *m->totals, s_cmp_total);
    size_t nl = 0;
    for (size_t i = 0; i < n; i++) {
        vr__topology_edge__init(&m->te[i]);
        m->te[i].src_mac = m->edges[i].a;
        m->te[i].dst_mac = m->edges[i].b;
        m->te[i].rate_bps = m->edges[i].rate_bps;
        m->te[i].norm = m->edges[i].norm;
        m->tp[i] = &m->te[i];
        uint64_t ends[2] = { m->edges[i].a, m->edges[i].b };
        for (int e = 0; e < 2; e++) {
            bool seen = false;
            for (size_t k = 0; k < nl && !seen; k++) {
                seen = m->locs[k].mac == ends[e];
            }
            struct vttif_tm_vm_total key = { .mac = ends[e] };
            const struct vttif_tm_vm_total *where = bsearch(
                &key, m->totals, nv, sizeof key, s_cmp_total);
            if (!seen && where) {
                vr__vm_location__init(&m->locs[nl]);
                m->locs[nl].mac = ends[e];
                m->locs[nl].agent_id = (char *) where->agent_id;
                m->lp[nl] = &m->locs[nl];
                nl++;
            }
        }
    }
    t->version = version;
    t->time_us = vtime_now_us();
    t->directed = false;
    t->edges = m->tp;
    t->n_edges = n;
    t->vms = m->lp;
    t->n_vms = nl;
    return 0;
}

/* The smoothed matrix; 'm' holds what it points to. */
static int
s_matrix(vttif_agg_t *self, Vr__GlobalMatrix *g, Vr__MatrixRate **ep,
         Vr__MatrixRate ***pp, struct vttif_tm_rate **rp)
{
    vr__global_matrix__init(g);
    size_t n = vttif_tm_matrix(self->tm, NULL, 0, NULL);
    *rp = calloc(n + 1, sizeof **rp);
    *ep = calloc(n + 1, sizeof **ep);
    *pp = calloc(n + 1, sizeof **pp);
    if (!*rp || !*ep || !*pp) {
        return -1;
    }
    double max_bps = 0;
    n = vttif_tm_matrix(self->tm, *rp, n, &max_bps);
    for (size_t i = 0; i < n; i++) {
        vr__matrix_rate__init(&(*ep)[i]);
        (*ep)[i].src_mac = (*rp)[i].src;
        (*ep)[i].dst_mac = (*rp)[i].dst;
        (*ep)[i].rate_bps = (*rp)[i].rate_bps;
        (*ep)[i].norm = (*rp)[i].norm;
        (*pp)[i] = &(*ep)[i];
    }
    g->time_us = vtime_now_us();
    g->window_us = (uint64_t) (self->cfg->tm.window_s * 1e6);
    g->max_rate_bps = max_bps;
    g->entries = *pp;
    g->n_entries = n;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Timers */

static int
s_on_tick(svc_t *svc, void *arg)
{
    vttif_agg_t *self = arg;
    struct vttif_tm_event ev;
    if (!vttif_tm_tick(self->tm, s_now(self), &ev)) {
        return 0;
    }
    Vr__Topology t;
    struct s_topo_mem mem;
    if (s_topology(self, &t, &mem) != 0) {
        return 0;
    }
    Vr__TopologyEvent te = VR__TOPOLOGY_EVENT__INIT;
    te.topology = &t;
    te.change = (Vr__TopologyChange) ev.change;
    te.n_added = ev.n_added;
    te.n_removed = ev.n_removed;
    te.reason = ev.reason;
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_TOPOLOGY_EVENT,
             &te.base);
    self->n_events++;
    VLOG_INFO("topology v%llu %s: %u edges (+%u -%u): %s",
              (unsigned long long) ev.version,
              vttif_tm_change_name(ev.change), ev.n_edges, ev.n_added,
              ev.n_removed, ev.reason);
    s_topo_free(&mem);
    return 0;
}

static int
s_on_matrix_timer(svc_t *svc, void *arg)
{
    vttif_agg_t *self = arg;
    Vr__GlobalMatrix g;
    Vr__MatrixRate *e = NULL, **p = NULL;
    struct vttif_tm_rate *r = NULL;
    if (s_matrix(self, &g, &e, &p, &r) == 0) {
        bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_GLOBAL_MATRIX,
                 &g.base);
    }
    free(e);
    free(p);
    free(r);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Queries */

static void
s_reply_agents(vttif_agg_t *self)
{
    Vr__AgentAnnounce **v = calloc(self->n_agents + 1, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; v && i < self->n_agents; i++) {
        if (self->agents[i].packed) {
            v[n] = vr__agent_announce__unpack(NULL, self->agents[i].size,
                                              self->agents[i].packed);
            n += v[n] != NULL;
        }
    }
    Vr__AgentList list = VR__AGENT_LIST__INIT;
    list.agents = v;
    list.n_agents = n;
    bus_send(self->bus, svc_control(self->svc), VR__MSG_TYPE__MSG_AGENT_LIST,
             &list.base);
    for (size_t i = 0; i < n; i++) {
        vr__agent_announce__free_unpacked(v[i], NULL);
    }
    free(v);
}

static void
s_reply_totals(vttif_agg_t *self)
{
    size_t n = vttif_tm_vm_totals(self->tm, NULL, 0);
    struct vttif_tm_vm_total *t = calloc(n + 1, sizeof *t);
    Vr__VmTotal *e = calloc(n + 1, sizeof *e);
    Vr__VmTotal **p = calloc(n + 1, sizeof *p);
    if (t && e && p) {
        n = vttif_tm_vm_totals(self->tm, t, n);
        for (size_t i = 0; i < n; i++) {
            vr__vm_total__init(&e[i]);
            e[i].mac = t[i].mac;
            e[i].agent_id = t[i].agent_id;
            e[i].tx_bps = t[i].tx_bps;
            e[i].rx_bps = t[i].rx_bps;
            p[i] = &e[i];
        }
        Vr__VmTotals totals = VR__VM_TOTALS__INIT;
        totals.vms = p;
        totals.n_vms = n;
        bus_send(self->bus, svc_control(self->svc),
                 VR__MSG_TYPE__MSG_VM_TOTALS, &totals.base);
    } else {
        bus_send_error(self->bus, svc_control(self->svc),
                       VR__ERROR_CODE__ERR_INTERNAL,
                       VR__MSG_TYPE__MSG_VM_TOTALS_QUERY, "out of memory");
    }
    free(t);
    free(e);
    free(p);
}

static int
s_on_request(svc_t *svc, bus_msg_t *req, void *arg)
{
    vttif_agg_t *self = arg;
    zsock_t *ctl = svc_control(svc);
    switch (req->type) {
    case VR__MSG_TYPE__MSG_TOPOLOGY_QUERY: {
        Vr__Topology t;
        struct s_topo_mem mem;
        if (s_topology(self, &t, &mem) == 0) {
            bus_send(self->bus, ctl, VR__MSG_TYPE__MSG_TOPOLOGY, &t.base);
            s_topo_free(&mem);
        } else {
            bus_send_error(self->bus, ctl, VR__ERROR_CODE__ERR_INTERNAL,
                           req->type, "out of memory");
        }
        return 0;
    }
    case VR__MSG_TYPE__MSG_MATRIX_QUERY: {
        Vr__GlobalMatrix g;
        Vr__MatrixRate *e = NULL, **p = NULL;
        struct vttif_tm_rate *r = NULL;
        if (s_matrix(self, &g, &e, &p, &r) == 0) {
            bus_send(self->bus, ctl, VR__MSG_TYPE__MSG_GLOBAL_MATRIX,
                     &g.base);
        } else {
            bus_send_error(self->bus, ctl, VR__ERROR_CODE__ERR_INTERNAL,
                           req->type, "out of memory");
        }
        free(e);
        free(p);
        free(r);
        return 0;
    }
    case VR__MSG_TYPE__MSG_VM_TOTALS_QUERY:
        s_reply_totals(self);
        return 0;
    case VR__MSG_TYPE__MSG_AGENT_LIST_QUERY:
        s_reply_agents(self);
        return 0;
    default:
        return -1;
    }
}

static void
s_on_status(svc_t *svc, Vr__StatusReply *reply, void *arg)
{
    vttif_agg_t *self = arg;
    struct vttif_tm_counters c;
    vttif_tm_get_counters(self->tm, &c);
    bus_status_add_counter(reply, "matrices_taken", self->n_matrices, false);
    bus_status_add_counter(reply, "matrices_rejected", self->n_rejected,
                           false);
    bus_status_add_counter(reply, "topology_events", self->n_events, false);
    bus_status_add_counter(reply, "tm_entries", c.entries, false);
    bus_status_add_counter(reply, "tm_stale", c.stale, false);
    bus_status_add_counter(reply, "tm_resets_boot", c.resets_boot, false);
    bus_status_add_counter(reply, "tm_resets_counter", c.resets_counter,
                           false);
    bus_status_add_counter(reply, "tm_gaps", c.gaps, false);
    bus_status_add_counter(reply, "tm_agents_aged", c.agents_aged, false);
    bus_status_add_counter(reply, "tm_events_union", c.events_union, false);
    bus_status_add_counter(reply, "agents", c.n_agents, true);
    bus_status_add_counter(reply, "vms", c.n_vms, true);
    bus_status_add_counter(reply, "pairs", c.n_pairs, true);
    bus_status_add_counter(reply, "edges", c.n_edges, true);
}

/* Who may send what to the aggregator (common/authz.h): queries from
 * the planner and operators; on the ingest, an agent's matrix, VM
 * locations and announcement only from that agent's own key. */
static const struct authz_rule s_authz[] = {
    { VR__MSG_TYPE__MSG_TOPOLOGY_QUERY, AUTHZ_PLANNER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_MATRIX_QUERY, AUTHZ_PLANNER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_VM_TOTALS_QUERY, AUTHZ_PLANNER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_AGENT_LIST_QUERY, AUTHZ_PLANNER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_LOCAL_MATRIX, AUTHZ_AGENT,
      { "agent_id" } },
    { VR__MSG_TYPE__MSG_VM_LOCATIONS, AUTHZ_AGENT,
      { "reporter", "vms.agent_id" } },
    { VR__MSG_TYPE__MSG_AGENT_ANNOUNCE, AUTHZ_AGENT,
      { "agent_id" } },
};

/* ------------------------------------------------------------------ */

vttif_agg_t *
vttif_agg_new(svc_t *svc, const struct agg_cfg *cfg)
{
    vttif_agg_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->svc = svc;
    self->cfg = cfg;
    self->bus = svc_bus(svc);
    self->t0_us = vtime_mono_us();
    self->tm = vttif_tm_new(&cfg->tm);
    self->events = bus_bind(self->bus, ZMQ_PUB, cfg->events);
    self->ingest = bus_bind(self->bus, ZMQ_SUB, cfg->ingest);
    if (!self->tm || !self->events || !self->ingest) {
        goto error;
    }
    bus_subscribe(self->ingest, "");
    svc_on_request(svc, s_on_request, s_on_status, self);
    svc_set_authz(svc, s_authz, AUTHZ_N(s_authz));
    if (svc_add_reader(svc, self->ingest, s_on_ingest, self) != 0
        || svc_add_timer(svc, cfg->tick_ms, s_on_tick, self) != 0
        || svc_add_timer(svc, cfg->matrix_ms, s_on_matrix_timer, self)
               != 0) {
        goto error;
    }
    svc_set_state(svc, "running");
    return self;

error:
    vttif_agg_destroy(&self);
    return NULL;
}

void
vttif_agg_destroy(vttif_agg_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    vttif_agg_t *self = *self_p;
    zsock_destroy(&self->ingest);
    zsock_destroy(&self->events);
    vttif_tm_destroy(&self->tm);
    for (size_t i = 0; i < self->n_agents; i++) {
        free(self->agents[i].id);
        free(self->agents[i].packed);
    }
    free(self->agents);
    free(self->buf);
    free(self);
    *self_p = NULL;
}
