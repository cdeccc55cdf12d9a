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
#include "lmatrix.h"
#include "log.h"
#include "pbcheck.h"
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
    CFG_KEY_U32("ingest.max_msg_size", T, max_msg_size, 64 * 1024,
                BUS_MAX_MSG_SIZE, AGG_DEFAULT_MAX_MSG_SIZE,
                "largest ingest message (bytes); a publisher sending more "
                "is disconnected"),
    CFG_KEY_U32("ingest.rcvhwm", T, rcvhwm, 1, 100000, AGG_DEFAULT_RCVHWM,
                "ingest messages queued per publisher; more are dropped"),
    CFG_KEY_U32("ingest.max_decoded_size", T, max_decoded, 1024 * 1024,
                256u << 20, AGG_DEFAULT_MAX_DECODED,
                "heap a decoded message may take (bytes); more: refused"),
    CFG_KEY_U32("ingest.max_matrix_entries", T, lim.max_entries, 1,
                1u << 20, VTTIF_CHECK_DEFAULT_MAX_ENTRIES,
                "entries a LocalMatrix may have; more: refused whole"),
    CFG_KEY_U32("ingest.max_locations", T, lim.max_locations, 1, 1u << 20,
                VTTIF_CHECK_DEFAULT_MAX_LOCATIONS,
                "VMs a VmLocations may list; more: refused whole"),
    CFG_KEY_U32("ingest.max_local_macs", T, lim.max_local_macs, 0,
                1u << 20, VTTIF_CHECK_DEFAULT_MAX_LOCAL_MACS,
                "local MACs an AgentAnnounce may list; more: refused"),
    CFG_KEY_DOUBLE("ingest.announce_timeout_s", T, announce_timeout_s, 1,
                   86400, AGG_DEFAULT_ANNOUNCE_TIMEOUT_S,
                   "an announcement not renewed this long is forgotten"),
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
                VTTIF_TM_DEFAULT_MAX_AGENTS,
                "agents beyond are refused; announcements beyond evict "
                "the oldest"),
    CFG_KEY_U32("vttif.max_reports", T, max_reports, 16, 1u << 30,
                VTTIF_TM_DEFAULT_MAX_REPORTS,
                "(agent, pair) reports; when full a new one evicts an idle "
                "pair, or is dropped"),
    CFG_KEY_U32("vttif.max_pairs", T, max_pairs, 16, 1u << 30,
                VTTIF_TM_DEFAULT_MAX_PAIRS,
                "VM pairs; when full a new one evicts an idle pair, or is "
                "dropped"),
    CFG_KEY_U32("vttif.max_vms", T, max_vms, 16, 1u << 30,
                VTTIF_TM_DEFAULT_MAX_VMS,
                "VMs; when full a new one evicts the least recently "
                "located VM in no pair, or is refused"),
    D("max_rate_bps", max_rate_bps, 1e6, 1e15, VTTIF_TM_DEFAULT_MAX_RATE_BPS,
      "a counter that moved faster than this is garbage: a new baseline"),
    D("vm_timeout_s", vm_timeout_s, 1, 86400, VTTIF_TM_DEFAULT_VM_TIMEOUT_S,
      "a VM location not renewed this long is forgotten"),
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
    cfg->tm.max_pairs = cfg->max_pairs;
    cfg->tm.max_vms = cfg->max_vms;
    /* A message at the caps must fit the decode budget: each entry is
     * four 64-bit values; a location is a struct, a pointer and its
     * strings. */
    size_t need_m = (size_t) cfg->lim.max_entries * 4 * sizeof(uint64_t);
    size_t need_l = (size_t) cfg->lim.max_locations
                    * (sizeof(Vr__VmLocation) + sizeof(void *)
                       + VTTIF_CHECK_ID_LEN + VTTIF_CHECK_IFACE_LEN);
    size_t need = (need_m > need_l ? need_m : need_l) + 65536;
    if (cfg->max_decoded < need) {
        snprintf(err, err_size,
                 "ingest.max_decoded_size: '%u' is below the %zu bytes a "
                 "message at ingest.max_matrix_entries or "
                 "ingest.max_locations takes", cfg->max_decoded, need);
        return false;
    }
    return vttif_tm_params_check(&cfg->tm, err, err_size);
}

/* The inference parameters are checked against each other here, so that
 * --check says what the start would. */
static bool
s_cfg_finish(void *cfg, char *err, size_t err_size)
{
    char why[256];
    if (agg_cfg_finish(cfg, why, sizeof why)) {
        return true;
    }
    snprintf(err, err_size, "vttif: %s", why);
    return false;
}

const struct svc_def agg_svc_def = {
    .name = "vttif-aggregator",
    .role = "aggregator",
    .summary = "Traffic matrix and topology inference (VTTIF).",
    .keys = agg_cfg_keys,
    .common_offset = offsetof(struct agg_cfg, common),
    .finish = s_cfg_finish,
};

/* Refusals of ingest messages, by type. */
enum { S_MATRIX, S_LOCATIONS, S_ANNOUNCE, S_N_KINDS };

struct vttif_agg {
    svc_t *svc;
    const struct agg_cfg *cfg;
    bus_t *bus;
    vttif_tm_t *tm;
    zsock_t *events;            /* PUB */
    zsock_t *ingest;            /* SUB, bound */
    struct vttif_tm_entry *buf; /* conversion buffer, max_entries long */
    Vr__VmLocation *locs;       /* republishing buffers, max_locations */
    Vr__VmLocation **lp;
    vttif_ann_t *ann;           /* announcements */
    uint64_t n_refused[S_N_KINDS]; /* ingest messages that failed a check */
    uint64_t n_queries_refused; /* queries with fields */
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

/* Counts and logs (rate-limited) an ingest message that failed its
 * check.  'why' names the field and quotes the value, escaped. */
static void
s_refuse(vttif_agg_t *self, int kind, const bus_msg_t *msg, const char *why)
{
    self->n_refused[kind]++;
    VLOG_WARN_RL("refused %s from '%s': %s", msgtype_name(msg->type),
                 LOG_ESC(msg->sender), why);
}

static bool
s_take_matrix(vttif_agg_t *self, const bus_msg_t *msg)
{
    const Vr__LocalMatrix *m = (const Vr__LocalMatrix *) msg->body;
    char why[256];
    if (!vttif_check_matrix(m, &self->cfg->lim, why, sizeof why)) {
        s_refuse(self, S_MATRIX, msg, why);
        return false;
    }
    size_t n = lmatrix_len(m);     /* checked: the columns agree */
    for (size_t i = 0; i < n; i++) {
        self->buf[i] = (struct vttif_tm_entry) {
            .src = m->src_mac[i],
            .dst = m->dst_mac[i],
            .bytes = m->bytes[i],
            .frames = m->frames[i],
        };
    }
    struct vttif_tm_update u = {
        .agent_id = m->agent_id,
        .boot_id = m->boot_id,
        .period_s = (double) m->period_us / 1e6,
        .time_s = (double) m->time_us / 1e6,
        .entries = self->buf,
        .n_entries = n,
    };
    if (vttif_tm_feed(self->tm, &u, s_now(self)) == 0) {
        self->n_matrices++;
        return true;
    }
    self->n_rejected++;
    return false;
}

/* Takes the checked locations and republishes them: a copy of the
 * fields we know, pointing into 'v', in buffers sized at start. */
static bool
s_take_locations(vttif_agg_t *self, const bus_msg_t *msg)
{
    const Vr__VmLocations *v = (const Vr__VmLocations *) msg->body;
    char why[256];
    if (!vttif_check_locations(v, &self->cfg->lim, why, sizeof why)) {
        s_refuse(self, S_LOCATIONS, msg, why);
        return false;
    }
    Vr__VmLocation *locs = self->locs;
    double now = s_now(self);
    for (size_t i = 0; i < v->n_vms; i++) {
        vttif_tm_feed_location(self->tm, v->vms[i]->mac,
                               v->vms[i]->agent_id, v->vms[i]->gone, now);
        vr__vm_location__init(&locs[i]);
        locs[i].mac = v->vms[i]->mac;
        locs[i].agent_id = v->vms[i]->agent_id;
        locs[i].iface = v->vms[i]->iface;
        locs[i].seen_us = v->vms[i]->seen_us;
        locs[i].gone = v->vms[i]->gone;
        self->lp[i] = &locs[i];
    }
    Vr__VmLocations out = VR__VM_LOCATIONS__INIT;
    out.reporter = v->reporter;
    out.vms = self->lp;
    out.n_vms = v->n_vms;
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_VM_LOCATIONS,
             &out.base);
    return true;
}

static bool
s_take_announce(vttif_agg_t *self, const bus_msg_t *msg)
{
    const Vr__AgentAnnounce *a = (const Vr__AgentAnnounce *) msg->body;
    char why[256];
    if (!vttif_check_announce(a, &self->cfg->lim, why, sizeof why)) {
        s_refuse(self, S_ANNOUNCE, msg, why);
        return false;
    }
    char evicted[VTTIF_CHECK_ID_LEN];
    int rc = vttif_ann_put(self->ann, a, s_now(self), evicted);
    if (rc < 0) {
        return false;
    }
    if (*evicted) {
        VLOG_WARN_RL("%u announcements, the most: forgot agent '%s', "
                     "heard from longest ago", self->cfg->max_agents,
                     evicted);
    }
    if (rc == 1) {
        VLOG_INFO_RL("agent '%s' announced itself (control %s)",
                     a->agent_id, LOG_ESC(a->control_endpoint));
    }
    /* Republished as stored: only the fields we know. */
    Vr__AgentAnnounce out;
    vttif_ann_get(self->ann, (size_t) vttif_ann_find(self->ann, a->agent_id),
                  &out);
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_AGENT_ANNOUNCE,
             &out.base);
    return true;
}

bool
vttif_agg_ingest(vttif_agg_t *self, const bus_msg_t *msg)
{
    switch (msg->type) {
    case VR__MSG_TYPE__MSG_LOCAL_MATRIX:
        return s_take_matrix(self, msg);
    case VR__MSG_TYPE__MSG_VM_LOCATIONS:
        return s_take_locations(self, msg);
    case VR__MSG_TYPE__MSG_AGENT_ANNOUNCE:
        return s_take_announce(self, msg);
    default:
        return false;   /* valid, but not for us: counted by the bus */
    }
}

static int
s_on_ingest(svc_t *svc, zsock_t *sock, void *arg)
{
    vttif_agg_t *self = arg;
    bus_msg_t msg;
    if (bus_recv(self->bus, sock, &msg) != 0) {
        return 0;       /* counted and logged by the bus */
    }
    vttif_agg_ingest(self, &msg);
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
        (*ep)[i].current_bps = (*rp)[i].current_bps;
        (*pp)[i] = &(*ep)[i];
    }
    g->time_us = vtime_now_us();
    g->window_us = (uint64_t) (self->cfg->tm.window_s * 1e6);
    g->max_rate_bps = max_bps;
    g->has_current = true;
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
    size_t aged = vttif_ann_age(self->ann, s_now(self),
                                self->cfg->announce_timeout_s);
    if (aged) {
        VLOG_INFO_RL("%zu agents not heard for %.0f s: forgotten", aged,
                     self->cfg->announce_timeout_s);
    }
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
    size_t n = vttif_ann_count(self->ann);
    Vr__AgentAnnounce *v = calloc(n + 1, sizeof *v);
    Vr__AgentAnnounce **p = calloc(n + 1, sizeof *p);
    if (!v || !p) {
        bus_send_error(self->bus, svc_control(self->svc),
                       VR__ERROR_CODE__ERR_INTERNAL,
                       VR__MSG_TYPE__MSG_AGENT_LIST_QUERY, "out of memory");
        free(v);
        free(p);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        vttif_ann_get(self->ann, i, &v[i]);
        p[i] = &v[i];
    }
    Vr__AgentList list = VR__AGENT_LIST__INIT;
    list.agents = p;
    list.n_agents = n;
    bus_send(self->bus, svc_control(self->svc), VR__MSG_TYPE__MSG_AGENT_LIST,
             &list.base);
    free(v);
    free(p);
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
    case VR__MSG_TYPE__MSG_TOPOLOGY_QUERY:
    case VR__MSG_TYPE__MSG_MATRIX_QUERY:
    case VR__MSG_TYPE__MSG_VM_TOTALS_QUERY:
    case VR__MSG_TYPE__MSG_AGENT_LIST_QUERY: {
        char why[200];
        if (!pbcheck_no_unknown(req->body, why, sizeof why)) {
            self->n_queries_refused++;
            VLOG_WARN_RL("refused %s from '%s': %s", msgtype_name(req->type),
                         LOG_ESC(req->sender), why);
            bus_send_error(self->bus, ctl, VR__ERROR_CODE__ERR_BAD_REQUEST,
                           req->type, "%s", why);
            return 0;
        }
        break;
    }
    default:
        break;
    }
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
    bus_status_add_counter(reply, "ingest_refused_matrix",
                           self->n_refused[S_MATRIX], false);
    bus_status_add_counter(reply, "ingest_refused_locations",
                           self->n_refused[S_LOCATIONS], false);
    bus_status_add_counter(reply, "ingest_refused_announce",
                           self->n_refused[S_ANNOUNCE], false);
    bus_status_add_counter(reply, "queries_refused", self->n_queries_refused,
                           false);
    struct vttif_ann_counters ac;
    vttif_ann_get_counters(self->ann, &ac);
    bus_status_add_counter(reply, "announced_agents",
                           vttif_ann_count(self->ann), true);
    bus_status_add_counter(reply, "announcements_aged", ac.aged, false);
    bus_status_add_counter(reply, "announcements_evicted", ac.evicted,
                           false);
    bus_status_add_counter(reply, "tm_rejected", c.rejected, false);
    bus_status_add_counter(reply, "tm_entries_skipped", c.entries_skipped,
                           false);
    bus_status_add_counter(reply, "tm_entries_dropped", c.entries_dropped,
                           false);
    bus_status_add_counter(reply, "tm_reports_aged", c.reports_aged, false);
    bus_status_add_counter(reply, "tm_entries_implausible",
                           c.entries_implausible, false);
    bus_status_add_counter(reply, "tm_pairs_evicted", c.pairs_evicted,
                           false);
    bus_status_add_counter(reply, "tm_pairs_refused", c.pairs_refused,
                           false);
    bus_status_add_counter(reply, "tm_vms_evicted", c.vms_evicted, false);
    bus_status_add_counter(reply, "tm_vms_refused", c.vms_refused, false);
    bus_status_add_counter(reply, "tm_vms_aged", c.vms_aged, false);
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
    bus_status_add_counter(reply, "reports", c.n_reports, true);
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
    /* Sized once from the config: no message makes them grow. */
    self->buf = malloc((size_t) cfg->lim.max_entries * sizeof *self->buf);
    self->locs = malloc((size_t) cfg->lim.max_locations * sizeof *self->locs);
    self->lp = malloc((size_t) cfg->lim.max_locations * sizeof *self->lp);
    self->ann = vttif_ann_new(cfg->max_agents);
    self->events = bus_bind(self->bus, ZMQ_PUB, cfg->events);
    struct bus_rx_limits lim = {
        .max_msg_size = cfg->max_msg_size,
        .rcvhwm = (int) cfg->rcvhwm,
    };
    self->ingest = bus_bind_limited(self->bus, ZMQ_SUB, cfg->ingest, &lim);
    if (!self->tm || !self->buf || !self->locs || !self->lp || !self->ann
        || !self->events || !self->ingest) {
        goto error;
    }
    bus_set_max_decoded(self->bus, cfg->max_decoded);
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
    vttif_ann_destroy(&self->ann);
    free(self->buf);
    free(self->locs);
    free(self->lp);
    free(self);
    *self_p = NULL;
}
