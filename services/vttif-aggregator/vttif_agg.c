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
    /* A message at the caps must fit the decode budget: each entry is a
     * struct and a pointer; a location also has its strings. */
    size_t need_m = (size_t) cfg->lim.max_entries
                    * (sizeof(Vr__MatrixEntry) + sizeof(void *));
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

/* What an agent last announced, checked, for AgentListQuery and the
 * republished announcement: only the fields we know, so nothing else a
 * publisher put in is stored or passed on. */
struct s_agent {
    char id[VTTIF_CHECK_ID_LEN];
    uint64_t boot_id;
    char ctl[VTTIF_CHECK_ENDPOINT_LEN]; /* control endpoint */
    char overlay[VTTIF_CHECK_ADDR_LEN]; /* overlay ip:port, or "" */
    char host_ip[VTTIF_CHECK_IP_LEN];   /* or "" */
    bool proxy;
    uint64_t *macs;             /* local MACs, n_macs of them, owned */
    size_t n_macs;
    double t_seen;              /* 'now' of its last announcement */
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
    struct s_agent *agents;     /* announcements, max_agents long */
    size_t n_agents;
    uint64_t n_refused[S_N_KINDS]; /* ingest messages that failed a check */
    uint64_t n_queries_refused; /* queries with fields */
    uint64_t n_ann_aged;        /* announcements forgotten, not renewed */
    uint64_t n_ann_evicted;     /* oldest ones made room for a new agent */
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

static void
s_take_matrix(vttif_agg_t *self, const bus_msg_t *msg)
{
    const Vr__LocalMatrix *m = (const Vr__LocalMatrix *) msg->body;
    char why[256];
    if (!vttif_check_matrix(m, &self->cfg->lim, why, sizeof why)) {
        s_refuse(self, S_MATRIX, msg, why);
        return;
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

/* Takes the checked locations and republishes them: a copy of the
 * fields we know, pointing into 'v'. */
static void
s_take_locations(vttif_agg_t *self, const bus_msg_t *msg)
{
    const Vr__VmLocations *v = (const Vr__VmLocations *) msg->body;
    char why[256];
    if (!vttif_check_locations(v, &self->cfg->lim, why, sizeof why)) {
        s_refuse(self, S_LOCATIONS, msg, why);
        return;
    }
    Vr__VmLocation *locs = calloc(v->n_vms + 1, sizeof *locs);
    Vr__VmLocation **lp = calloc(v->n_vms + 1, sizeof *lp);
    double now = s_now(self);
    for (size_t i = 0; i < v->n_vms; i++) {
        vttif_tm_feed_location(self->tm, v->vms[i]->mac,
                               v->vms[i]->agent_id, v->vms[i]->gone, now);
        if (locs && lp) {
            vr__vm_location__init(&locs[i]);
            locs[i].mac = v->vms[i]->mac;
            locs[i].agent_id = v->vms[i]->agent_id;
            locs[i].iface = v->vms[i]->iface;
            locs[i].seen_us = v->vms[i]->seen_us;
            locs[i].gone = v->vms[i]->gone;
            lp[i] = &locs[i];
        }
    }
    if (locs && lp) {
        Vr__VmLocations out = VR__VM_LOCATIONS__INIT;
        out.reporter = v->reporter;
        out.vms = lp;
        out.n_vms = v->n_vms;
        bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_VM_LOCATIONS,
                 &out.base);
    }
    free(locs);
    free(lp);
}

/* The announcement as we pass it on, pointing into 'ag'. */
static void
s_announce_msg(const struct s_agent *ag, Vr__AgentAnnounce *a)
{
    vr__agent_announce__init(a);
    a->agent_id = (char *) ag->id;
    a->boot_id = ag->boot_id;
    a->control_endpoint = (char *) ag->ctl;
    a->overlay_addr = (char *) ag->overlay;
    a->host_ip = (char *) ag->host_ip;
    a->proxy = ag->proxy;
    a->local_macs = ag->macs;
    a->n_local_macs = ag->n_macs;
}

static void
s_agent_forget(vttif_agg_t *self, size_t i)
{
    free(self->agents[i].macs);
    self->agents[i] = self->agents[--self->n_agents];
}

static void
s_take_announce(vttif_agg_t *self, const bus_msg_t *msg)
{
    const Vr__AgentAnnounce *a = (const Vr__AgentAnnounce *) msg->body;
    char why[256];
    if (!vttif_check_announce(a, &self->cfg->lim, why, sizeof why)) {
        s_refuse(self, S_ANNOUNCE, msg, why);
        return;
    }
    uint64_t *macs = NULL;
    if (a->n_local_macs) {
        macs = malloc(a->n_local_macs * sizeof *macs);
        if (!macs) {
            return;
        }
        memcpy(macs, a->local_macs, a->n_local_macs * sizeof *macs);
    }
    double now = s_now(self);
    size_t i = 0;
    while (i < self->n_agents && strcmp(self->agents[i].id, a->agent_id)) {
        i++;
    }
    if (i == self->n_agents) {
        if (self->n_agents >= self->cfg->max_agents) {
            /* Full: the announcement heard from longest ago makes room
             * (an agent still there announces again within hello_ms). */
            size_t old = 0;
            for (size_t k = 1; k < self->n_agents; k++) {
                if (self->agents[k].t_seen < self->agents[old].t_seen) {
                    old = k;
                }
            }
            VLOG_WARN_RL("%zu announcements, the most: forgetting agent "
                         "'%s', silent for %.1f s", self->n_agents,
                         self->agents[old].id,
                         now - self->agents[old].t_seen);
            s_agent_forget(self, old);
            self->n_ann_evicted++;
            i = self->n_agents;
        }
        memset(&self->agents[i], 0, sizeof self->agents[i]);
        snprintf(self->agents[i].id, sizeof self->agents[i].id, "%s",
                 a->agent_id);
        self->n_agents++;
        VLOG_INFO_RL("agent '%s' announced itself (control %s)",
                     a->agent_id, LOG_ESC(a->control_endpoint));
    }
    struct s_agent *ag = &self->agents[i];
    ag->boot_id = a->boot_id;
    snprintf(ag->ctl, sizeof ag->ctl, "%s", a->control_endpoint);
    snprintf(ag->overlay, sizeof ag->overlay, "%s",
             a->overlay_addr ? a->overlay_addr : "");
    snprintf(ag->host_ip, sizeof ag->host_ip, "%s",
             a->host_ip ? a->host_ip : "");
    ag->proxy = a->proxy;
    free(ag->macs);
    ag->macs = macs;
    ag->n_macs = a->n_local_macs;
    ag->t_seen = now;
    Vr__AgentAnnounce out;
    s_announce_msg(ag, &out);
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_AGENT_ANNOUNCE,
             &out.base);
}

/* Forgets the announcements not renewed within announce_timeout_s. */
static void
s_age_announcements(vttif_agg_t *self, double now)
{
    for (size_t i = 0; i < self->n_agents;) {
        if (now - self->agents[i].t_seen > self->cfg->announce_timeout_s) {
            VLOG_INFO_RL("agent '%s' not heard for %.1f s: forgotten",
                         self->agents[i].id, now - self->agents[i].t_seen);
            s_agent_forget(self, i);
            self->n_ann_aged++;
        } else {
            i++;
        }
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
    switch (msg.type) {
    case VR__MSG_TYPE__MSG_LOCAL_MATRIX:
        s_take_matrix(self, &msg);
        break;
    case VR__MSG_TYPE__MSG_VM_LOCATIONS:
        s_take_locations(self, &msg);
        break;
    case VR__MSG_TYPE__MSG_AGENT_ANNOUNCE:
        s_take_announce(self, &msg);
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
    s_age_announcements(self, s_now(self));
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
    Vr__AgentAnnounce *v = calloc(self->n_agents + 1, sizeof *v);
    Vr__AgentAnnounce **p = calloc(self->n_agents + 1, sizeof *p);
    if (!v || !p) {
        bus_send_error(self->bus, svc_control(self->svc),
                       VR__ERROR_CODE__ERR_INTERNAL,
                       VR__MSG_TYPE__MSG_AGENT_LIST_QUERY, "out of memory");
        free(v);
        free(p);
        return;
    }
    for (size_t i = 0; i < self->n_agents; i++) {
        s_announce_msg(&self->agents[i], &v[i]);
        p[i] = &v[i];
    }
    Vr__AgentList list = VR__AGENT_LIST__INIT;
    list.agents = p;
    list.n_agents = self->n_agents;
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
    bus_status_add_counter(reply, "announced_agents", self->n_agents, true);
    bus_status_add_counter(reply, "announcements_aged", self->n_ann_aged,
                           false);
    bus_status_add_counter(reply, "announcements_evicted",
                           self->n_ann_evicted, false);
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
    self->agents = calloc(cfg->max_agents, sizeof *self->agents);
    self->events = bus_bind(self->bus, ZMQ_PUB, cfg->events);
    struct bus_rx_limits lim = {
        .max_msg_size = cfg->max_msg_size,
        .rcvhwm = (int) cfg->rcvhwm,
    };
    self->ingest = bus_bind_limited(self->bus, ZMQ_SUB, cfg->ingest, &lim);
    if (!self->tm || !self->buf || !self->agents || !self->events
        || !self->ingest) {
        goto error;
    }
    bus_set_max_decoded(self->bus, cfg->max_decoded);
    bus_subscribe(self->ingest, "");
    svc_on_request(svc, s_on_request, s_on_status, self);
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
        free(self->agents[i].macs);
    }
    free(self->agents);
    free(self->buf);
    free(self);
    *self_p = NULL;
}
