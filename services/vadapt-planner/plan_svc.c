/* SPDX-License-Identifier: MIT */
/* The planner's bus side: see plan_svc.h.  One loop, one tick every
 * tick_ms: the core decides, then each held link is moved one step along
 * its life (plan_link.h: RESERVING -> SETUP -> SWITCHING -> UP), and every
 * reconcile_ms the broker's list and the agents' rules are compared with
 * what the held links say.  Calls to the broker and the agents block the
 * loop for at most call_timeout_ms each; they are local and answer in
 * milliseconds. */
#include "plan_svc.h"
#include "plan_svc_int.h"

#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "authz.h"
#include "bus.h"
#include "eth.h"
#include "log.h"
#include "pbcheck.h"
#include "plan_book.h"
#include "plan_core.h"
#include "plan_cost.h"
#include "plan_link.h"
#include "plan_predict.h"
#include "plan_sched.h"
#include "plan_vmloc.h"
#include "vtime.h"

LOG_MODULE("planner");


#define TP struct plan_ports_cfg
static const struct cfg_key s_port_keys[] = {
    { .name = "host", .type = CFG_STR, .offset = offsetof(TP, host),
      .required = true, .help = "overlay host (agent id)" },
    { .name = "ports", .type = CFG_U32, .offset = offsetof(TP, ports),
      .min = 0, .max = PLAN_MAX_PORTS, .required = true,
      .help = "its reservable ports" },
    CFG_KEYS_END,
};
#undef TP

#define T struct plan_cfg
const struct cfg_key plan_cfg_keys[] = {
    SVC_CFG_COMMON_KEYS(T, PLAN_DEFAULT_CONTROL),
    CFG_KEY_STR("bus.events", T, events, PLAN_DEFAULT_EVENTS,
                "endpoint the events (PUB) socket binds"),
    CFG_KEY_STR("bus.aggregator", T, aggregator, PLAN_DEFAULT_AGGREGATOR,
                "aggregator's control endpoint (topology, agents at start)"),
    CFG_KEY_STR("bus.aggregator_events", T, aggregator_events,
                PLAN_DEFAULT_AGG_EVENTS, "aggregator's events endpoint"),
    CFG_KEY_STR("bus.broker", T, broker, PLAN_DEFAULT_BROKER,
                "broker's control endpoint"),
    CFG_KEY_STR("bus.broker_events", T, broker_events,
                PLAN_DEFAULT_BROKER_EVENTS, "broker's events endpoint"),
    CFG_KEY_STR("policy", T, policy, "top-k",
                "top-k (the paper's rule) or b-matching (port limits)"),
    CFG_KEY_U32("k", T, k, 0, PLAN_MAX_K, PLAN_DEFAULT_K,
                "links reserved at most (b-matching: 0 for no cap)"),
    CFG_KEY_STR("selection", T, selection, "exact",
                "b-matching: greedy (fast, at least half the best total "
                "demand) or exact (the best, by branch and bound)"),
    CFG_KEY_U32("exact_max_links", T, exact_max_links, 1,
                PLAN_MAX_EXACT_LINKS, PLAN_DEFAULT_EXACT_MAX_LINKS,
                "exact: the greedy instead above this many eligible "
                "links"),
    CFG_KEY_U32("ports", T, ports, 0, PLAN_MAX_PORTS, PLAN_DEFAULT_PORTS,
                "b-matching: reservable ports of a host not listed"),
    CFG_KEY_SEQ("port_limits", T, port_limits, s_port_keys,
                struct plan_ports_cfg, "b-matching: ports of each host"),
    CFG_KEY_DOUBLE("min_demand_mbps", T, min_demand_mbps, 0, 1e7,
                   PLAN_DEFAULT_MIN_DEMAND_BPS / 1e6,
                   "a host link below this is never reserved"),
    CFG_KEY_DOUBLE("release_mbps", T, release_mbps, 0, 1e7,
                   PLAN_DEFAULT_RELEASE_BPS / 1e6,
                   "a reserved link below this counts as idle"),
    CFG_KEY_DOUBLE("keep_bonus", T, keep_bonus, 0, 10,
                   PLAN_DEFAULT_KEEP_BONUS,
                   "a reserved link ranks as if this much busier (0.1: "
                   "10%), so a path is not traded for one barely busier"),
    CFG_KEY_U32("t_up_ms", T, t_up_ms, 0, 3600000,
                PLAN_DEFAULT_T_UP_US / 1000,
                "demand sustained this long before a reservation"),
    CFG_KEY_U32("t_down_ms", T, t_down_ms, 0, 3600000,
                PLAN_DEFAULT_T_DOWN_US / 1000,
                "idle this long before a release"),
    CFG_KEY_U32("live_max_age_ms", T, live_max_age_ms, 0, 3600000,
                PLAN_DEFAULT_LIVE_MAX_AGE_US / 1000,
                "the aggregator's current rates older than this vouch for "
                "no new reservation (0: the topology's rates, however "
                "old)"),
    CFG_KEY_DOUBLE("hold_cost", T, hold_cost, 0.001, 1000,
                   PLAN_DEFAULT_HOLD_COST,
                   "holding an idle path a second costs this many seconds "
                   "of set-up (break-even hold: (set-up + teardown) / "
                   "hold_cost)"),
    CFG_KEY_U32("select_grace_ms", T, select_grace_ms, 0, 60000,
                PLAN_DEFAULT_SELECT_GRACE_US / 1000,
                "a break in a link's demand this short does not restart "
                "its wait for a reservation (0: any break does, the "
                "paper's rule)"),
    CFG_KEY_U32("wait_min_ms", T, wait_min_ms, 0, 3600000,
                PLAN_DEFAULT_WAIT_MIN_US / 1000,
                "no reservation or release sooner than this, however "
                "cheap the path"),
    CFG_KEY_U32("max_agents", T, max_agents, 1, PLAN_AGENTS_MAX, 4096,
                "agents known at most: at the cap a new one takes the "
                "place of the one heard from longest ago that no link "
                "names"),
    CFG_KEY_U32("agent_forget_ms", T, agent_forget_ms, 1000, 86400000,
                600000,
                "an agent not heard from this long that no link names is "
                "forgotten"),
    CFG_KEY_U32("restart_hold_ms", T, restart_hold_ms, 0, 600000, 5000,
                "when an agent restarts, every held path is kept at least "
                "this long, whatever its demand: the application waits "
                "for that host meanwhile (0: the cost rule alone)"),
    CFG_KEY_U32("path_setup_ms", T, path_setup_ms, 0, 86400000, 0,
                "a path's set-up time until measured (0: unknown, T_up "
                "and T_down rule)"),
    CFG_KEY_U32("path_teardown_ms", T, path_teardown_ms, 0, 86400000, 0,
                "a path's teardown time until measured"),
    CFG_KEY_BOOL("learn_costs", T, learn_costs, true,
                 "learn each network's set-up and teardown times from its "
                 "reservations"),
    CFG_KEY_U32("max_adds", T, max_adds, 0, PLAN_MAX_ADDS,
                PLAN_DEFAULT_MAX_ADDS,
                "new reservations per window at most (0: no cap)"),
    CFG_KEY_U32("add_window_s", T, add_window_s, 1, 86400,
                PLAN_DEFAULT_ADD_WINDOW_US / 1000000,
                "the sliding window of max_adds"),
    CFG_KEY_U32("tick_ms", T, tick_ms, 10, 10000, 100,
                "how often the plan is revised and carried on"),
    CFG_KEY_BOOL("reserve", T, reserve, true,
                 "ask for paths (false: direct commodity links only)"),
    CFG_KEY_DOUBLE("bandwidth_mbps", T, bandwidth_mbps, 0, 1e7, 0,
                   "bandwidth asked per path (0: the broker's default)"),
    CFG_KEY_U32("link_mtu", T, link_mtu, 0, 65535, 0,
                "largest frame on links over paths (0: agent default)"),
    CFG_KEY_U32("probe_timeout_ms", T, probe_timeout_ms, 10, 60000, 1000,
                "a new link must echo a probe within this"),
    CFG_KEY_U32("call_timeout_ms", T, call_timeout_ms, 50, 60000, 2000,
                "wait for a broker or agent reply"),
    CFG_KEY_U32("reconcile_ms", T, reconcile_ms, 100, 3600000,
                PLAN_DEFAULT_RECONCILE_MS,
                "how often the broker's reservations and the agents' "
                "rules are compared with the held links"),
    CFG_KEY_U32("reserving_timeout_ms", T, reserving_timeout_ms, 100,
                3600000, PLAN_DEFAULT_RESERVING_TIMEOUT_MS,
                "a reservation not active after this is released and a "
                "direct commodity link used instead"),
    CFG_KEY_BOOL("predict", T, predict, false,
                 "learn recurring phases and book the next phase's paths "
                 "ahead, so they are up when it starts"),
    CFG_KEY_U32("predict_min_phase_ms", T, predict_min_phase_ms, 100,
                3600000, PLAN_PREDICT_DEFAULT_MIN_PHASE_US / 1000,
                "a selection stable this long is a phase"),
    CFG_KEY_U32("predict_repeats", T, predict_repeats, 1,
                PLAN_PREDICT_MAX_REPEATS, PLAN_PREDICT_DEFAULT_REPEATS,
                "a phase's successor must have come this many times in a "
                "row, after a steady offset, to be predicted"),
    CFG_KEY_U32("predict_tolerance_ms", T, predict_tolerance_ms, 0, 3600000,
                PLAN_PREDICT_DEFAULT_TOLERANCE_US / 1000,
                "offsets this close (or within 20% of their mean) are "
                "steady; a predicted phase may come this early or late"),
    CFG_KEY_U32("predict_lead_ms", T, predict_lead_ms, 0, 3600000, 1000,
                "book a predicted path this long before its set-up must "
                "start"),
    CFG_KEY_SEQ("schedule", T, schedule, plan_sched_cfg_keys,
                struct plan_sched_cfg,
                "phases known ahead (start_unix_ms, duration_ms, links: "
                "[\"hostA hostB\", ...]): their paths booked to be up at "
                "the start, their traffic moved then"),
    CFG_KEYS_END,
};
#undef T

/* VM pairs a link's rules are made for at once, and rules in one
 * RuleAdd: the agent refuses more (agent_check.h). */
enum { S_MAX_RULES = 4096 };

/* The owner our reservations carry at the broker with CURVE off (the
 * broker takes the field from the one local identity). */
#define S_OWNER "planner"
/* Pages of the broker's list one reconcile reads at most: with the
 * broker's default list_page_max (1000), 64000 reservations.  A longer
 * list fails the round rather than being taken as the whole. */
enum { S_LIST_PAGES_MAX = 64 };
/* A reservation the broker refuses for a limit is asked again for this
 * long from the first ask. */
#define S_LIMIT_RETRY_US UINT64_C(10000000)
/* A VM no topology has named for this long is forgotten (plan_vmloc.h). */
#define S_VMLOC_AGE_US UINT64_C(600000000)
/* Agents not heard from are looked for this often. */
#define S_AGE_EVERY_US UINT64_C(1000000)
/* A RESERVE waiting for its agents' links to be looked at brings the
 * next reconcile this close. */
#define S_SCAN_SOON_US UINT64_C(200000)
/* A held link's reservation missing from this many broker lists in a row
 * is taken as gone. */
#define S_MISSING_ROUNDS 2


uint64_t
plan_svc_now(const plan_svc_t *self)
{
    return vtime_mono_us() - self->t0_us;
}

void
plan_svc_decide(plan_svc_t *self, int kind, const char *a, const char *b,
                double demand, const char *resv_id, const char *link,
                uint64_t elapsed_us, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    static const char *const names[] = {
        "?", "plan", "reserve", "release", "switch", "link-create",
        "link-remove", "defer", "throttle", "fail", "predict" };
    const char *name = kind >= 0 && kind < (int) (sizeof names
                                                  / sizeof names[0])
                       ? names[kind] : "?";
    /* Not rate-limited: decisions are the planner's record, and the
     * core's caps and the retry spacing bound how many there are.  The
     * reason quotes hosts and broker errors: escaped, whole. */
    char esc[4 * sizeof reason];
    log_escape(esc, sizeof esc, reason, SIZE_MAX);
    if (kind == DK(FAIL)) {
        VLOG_WARN("%s %s-%s: %s", name, LOG_ESC(a), LOG_ESC(b), esc);
    } else if (kind == DK(DEFER) || kind == DK(THROTTLE)) {
        VLOG_DEBUG("%s %s-%s: %s", name, LOG_ESC(a), LOG_ESC(b), esc);
    } else {
        VLOG_INFO("%s %s%s%s: %s", name, LOG_ESC(a), *b ? "-" : "",
                  LOG_ESC(b), esc);
    }
    Vr__Decision d = VR__DECISION__INIT;
    d.id = ++self->next_decision;
    d.time_us = vtime_now_us();
    d.kind = (Vr__DecisionKind) kind;
    d.host_a = (char *) a;
    d.host_b = (char *) b;
    d.demand_bps = demand;
    d.resv_id = (char *) (resv_id ? resv_id : "");
    d.link = (char *) (link ? link : "");
    d.reason = reason;
    d.topology_version = self->topo_version;
    d.elapsed_us = elapsed_us;
    Vr__DecisionEvent ev = VR__DECISION_EVENT__INIT;
    ev.decision = &d;
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_DECISION_EVENT,
             &ev.base);
}

/* ------------------------------------------------------------------ */
/* Agents. */

static struct plan_agent *
s_agent(plan_svc_t *self, const char *id)
{
    return plan_agents_find(&self->agents, id);
}

/* Whether a held link names agent 'id': it is not forgotten then. */
static bool
s_agent_in_use(void *arg, const char *id)
{
    const plan_svc_t *self = arg;
    for (size_t i = 0; i < self->links.n; i++) {
        const struct plan_link *h = &self->links.v[i];
        if (!strcmp(h->a, id) || !strcmp(h->b, id)) {
            return true;
        }
    }
    return false;
}

/* Whether agent 'id' is known and its links were looked at once. */
static bool
s_scanned(plan_svc_t *self, const char *id)
{
    const struct plan_agent *ag = s_agent(self, id);
    return ag && ag->scanned;
}

static void s_on_agent_restart(plan_svc_t *self, const char *id);

static void
s_on_announce(plan_svc_t *self, const Vr__AgentAnnounce *ann)
{
    if (!ann->agent_id || !*ann->agent_id
        || strlen(ann->agent_id) >= PLAN_HOST_LEN || !ann->control_endpoint
        || !*ann->control_endpoint || strlen(ann->control_endpoint) >= 256) {
        return;
    }
    uint64_t now = plan_svc_now(self);
    struct plan_agent *ag = s_agent(self, ann->agent_id);
    if (!ag) {
        uint64_t evicted = self->agents.n_evicted;
        ag = plan_agents_add(&self->agents, ann->agent_id, ann->boot_id, now);
        if (!ag) {
            VLOG_WARN_RL("agent %s not taken: the table holds %zu agents "
                         "(max_agents), the oldest in use",
                         LOG_ESC(ann->agent_id), self->agents.n);
            return;
        }
        if (self->agents.n_evicted != evicted) {
            VLOG_WARN_RL("max_agents (%zu) reached: the agent heard from "
                         "longest ago was forgotten for %s",
                         self->agents.max, LOG_ESC(ann->agent_id));
        }
        VLOG_INFO_RL("agent %s at %s, overlay %s", LOG_ESC(ag->id),
                     LOG_ESC(ann->control_endpoint),
                     LOG_ESC(ann->overlay_addr ? ann->overlay_addr : "?"));
    }
    ag->heard_us = now;
    if (strcmp(ag->ctl, ann->control_endpoint) != 0) {
        bus_client_destroy(&ag->client);
        snprintf(ag->ctl, sizeof ag->ctl, "%s", ann->control_endpoint);
        /* Under CURVE the agent's own key, agent-<id>.key (bus.h). */
        char server[sizeof "agent-" + sizeof ag->id];
        snprintf(server, sizeof server, "agent-%s", ag->id);
        ag->client = bus_client_new(self->bus, ag->ctl, server,
                                    (int) self->cfg->call_timeout_ms, 1);
        /* One dead agent must not stall the loop at every tick. */
        if (ag->client) {
            bus_client_set_pause(ag->client, 1000);
        }
    }
    /* The overlay address; an agent listening on 0.0.0.0 is reached at
     * its host address. */
    const char *addr = ann->overlay_addr ? ann->overlay_addr : "";
    const char *colon = strrchr(addr, ':');
    if (colon && (size_t) (colon - addr) < sizeof ag->ip
        && strlen(colon + 1) < sizeof ag->port) {
        snprintf(ag->ip, sizeof ag->ip, "%.*s", (int) (colon - addr), addr);
        snprintf(ag->port, sizeof ag->port, "%s", colon + 1);
        if ((!strcmp(ag->ip, "0.0.0.0") || !*ag->ip) && ann->host_ip
            && *ann->host_ip && strlen(ann->host_ip) < sizeof ag->ip) {
            snprintf(ag->ip, sizeof ag->ip, "%s", ann->host_ip);
        }
    }
    if (ann->boot_id != ag->boot_id) {
        ag->boot_id = ann->boot_id;
        VLOG_INFO("agent %s restarted: its links are made again", ag->id);
        s_on_agent_restart(self, ag->id);
    }
}

/* Calls an agent; returns 0, or -1 with the error logged at 'quiet'
 * level when 'quiet'. */
static int
s_agent_call(plan_svc_t *self, struct plan_agent *ag, int type,
             const ProtobufCMessage *req, int expect, bus_msg_t *reply,
             char *err, size_t size)
{
    bus_msg_t tmp;
    bus_msg_t *r = reply ? reply : &tmp;
    if (!ag->client) {
        log_format(err, size, "agent %s: no control endpoint", ag->id);
        return -1;
    }
    if (bus_client_call(ag->client, type, req, expect, r) != 0) {
        log_format(err, size, "agent %s: %s", ag->id, r->error_text);
        bus_msg_clear(r);
        return -1;
    }
    if (!reply) {
        bus_msg_clear(&tmp);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
const char *
plan_svc_resv_state_name(int s)
{
    static const char *const names[] = {
        "unknown", "requested", "provisioning", "active", "releasing",
        "released", "failed",
    };
    return s >= 0 && s < 7 ? names[s] : "?";
}

/* Held links: the I/O around plan_link's state machine. */

/* Applies 'ev' to 'h'; an event the table refuses is a bug of ours:
 * logged (rate-limited) and counted by plan_links. */
int
plan_svc_apply(plan_svc_t *self, struct plan_link *h, enum plan_link_event ev,
               const char *resv_id)
{
    enum plan_link_state from = h->state;
    if (plan_links_apply(&self->links, h, ev, resv_id,
                         plan_svc_now(self)) != 0) {
        VLOG_WARN_RL("link %s-%s: event %s refused in state %s",
                     LOG_ESC(h->a), LOG_ESC(h->b),
                     plan_link_event_name(ev), plan_link_state_name(from));
        return -1;
    }
    if (from != h->state) {
        VLOG_DEBUG("link %s-%s: %s -> %s (%s)", LOG_ESC(h->a),
                   LOG_ESC(h->b), plan_link_state_name(from),
                   plan_link_state_name(h->state), plan_link_event_name(ev));
    }
    return 0;
}

/* Removes the rules the link carries on one side. */
static void
s_rules_remove(plan_svc_t *self, const char *host, uint64_t **rules,
               size_t *n)
{
    struct plan_agent *ag = s_agent(self, host);
    if (*n && ag) {
        Vr__Rule *v = calloc(*n, sizeof *v);
        Vr__Rule **pv = calloc(*n, sizeof *pv);
        if (v && pv) {
            for (size_t i = 0; i < *n; i++) {
                vr__rule__init(&v[i]);
                v[i].dst_mac = (*rules)[i];
                pv[i] = &v[i];
            }
            Vr__RuleRemove req = VR__RULE_REMOVE__INIT;
            req.rules = pv;
            req.n_rules = *n;
            char err[256];
            if (s_agent_call(self, ag, VR__MSG_TYPE__MSG_RULE_REMOVE,
                             &req.base, VR__MSG_TYPE__MSG_ACK, NULL, err,
                             sizeof err) != 0) {
                VLOG_WARN_RL("%s", LOG_ESC(err));
            }
        }
        free(v);
        free(pv);
    }
    free(*rules);
    *rules = NULL;
    *n = 0;
}

static void
s_link_remove(plan_svc_t *self, const char *host, const char *link)
{
    struct plan_agent *ag = s_agent(self, host);
    if (!ag || !link[0]) {
        return;
    }
    Vr__LinkRemove req = VR__LINK_REMOVE__INIT;
    req.name = (char *) link;
    char err[256];
    s_agent_call(self, ag, VR__MSG_TYPE__MSG_LINK_REMOVE, &req.base,
                 VR__MSG_TYPE__MSG_ACK, NULL, err, sizeof err);
}

/* Takes the traffic off 'h' (rules first, then the links). */
static void
s_unwire(plan_svc_t *self, struct plan_link *h)
{
    s_rules_remove(self, h->a, &h->rules_a, &h->n_rules_a);
    s_rules_remove(self, h->b, &h->rules_b, &h->n_rules_b);
    if (h->state != PLAN_LINK_RESERVING && h->state != PLAN_LINK_NEW
        && h->name[0]) {
        s_link_remove(self, h->a, h->name);
        s_link_remove(self, h->b, h->name);
        plan_svc_decide(self, DK(LINK_REMOVE), h->a, h->b, h->demand_bps,
                        h->resv_id, h->name, 0,
                        "link %s removed from both agents", h->name);
    }
}

void
plan_svc_resv_request(const plan_svc_t *self, Vr__ResvRequest *req,
                      const char *a, const char *b, const char *request_id)
{
    vr__resv_request__init(req);
    req->host_a = (char *) a;
    req->host_b = (char *) b;
    req->bandwidth_mbps = self->cfg->bandwidth_mbps;
    req->request_id = (char *) request_id;
    req->owner = (char *) self->owner;
}

/* The unreleased entry of reservation 'resv_id', or NULL. */
static struct plan_unreleased *
s_unreleased_find(plan_svc_t *self, const char *resv_id)
{
    for (size_t i = 0; i < self->n_unreleased; i++) {
        if (!strcmp(self->unreleased[i].resv_id, resv_id)) {
            return &self->unreleased[i];
        }
    }
    return NULL;
}

static void
s_unreleased_drop(plan_svc_t *self, size_t i)
{
    memmove(&self->unreleased[i], &self->unreleased[i + 1],
            (self->n_unreleased - i - 1) * sizeof self->unreleased[0]);
    self->n_unreleased--;
}

/* Remembers that the release of 'resv_id' (pair a-b) was not taken. */
static void
s_unreleased_add(plan_svc_t *self, const char *resv_id, const char *a,
                 const char *b)
{
    if (s_unreleased_find(self, resv_id) || strlen(resv_id) >= PLAN_LINK_ID_LEN
        || strlen(a) >= PLAN_HOST_LEN || strlen(b) >= PLAN_HOST_LEN) {
        return;
    }
    if (self->n_unreleased == PLAN_SVC_UNRELEASED_MAX) {
        s_unreleased_drop(self, 0);     /* the reconcile still releases it */
    }
    struct plan_unreleased *u = &self->unreleased[self->n_unreleased++];
    snprintf(u->resv_id, sizeof u->resv_id, "%s", resv_id);
    snprintf(u->a, sizeof u->a, "%s", a);
    snprintf(u->b, sizeof u->b, "%s", b);
}

bool
plan_svc_unreleased(const plan_svc_t *self, const char *a, const char *b)
{
    for (size_t i = 0; i < self->n_unreleased; i++) {
        const struct plan_unreleased *u = &self->unreleased[i];
        if ((!strcmp(u->a, a) && !strcmp(u->b, b))
            || (!strcmp(u->a, b) && !strcmp(u->b, a))) {
            return true;
        }
    }
    return false;
}

/* Asks the broker to release reservation 'resv_id'; a failure is left to
 * the next reconcile, which releases what no held link stands behind,
 * and until then the pair is not reserved again: the broker still holds
 * the reservation, and a second one would reserve the pair twice. */
void
plan_svc_resv_release(plan_svc_t *self, const char *resv_id, const char *why,
                      const char *a, const char *b)
{
    Vr__ResvRelease req = VR__RESV_RELEASE__INIT;
    req.resv_id = (char *) resv_id;
    req.reason = (char *) why;
    bus_msg_t reply;
    struct plan_unreleased *u = s_unreleased_find(self, resv_id);
    if (bus_client_call(self->broker, VR__MSG_TYPE__MSG_RESV_RELEASE,
                        &req.base, VR__MSG_TYPE__MSG_RESV_REPLY, &reply)
        != 0) {
        plan_svc_decide(self, DK(FAIL), a, b, 0, resv_id, "", 0,
                        "release of %s: %s (the next reconcile with the "
                        "broker retries; the pair is not reserved again "
                        "before)", resv_id, reply.error_text);
        s_unreleased_add(self, resv_id, a, b);
    } else if (u) {
        s_unreleased_drop(self, (size_t) (u - self->unreleased));
    }
    bus_msg_clear(&reply);
}

/* Takes 'h' down and drops it: rules, links, then the reservation. */
static void
s_release(plan_svc_t *self, struct plan_link *h, const char *why)
{
    s_unwire(self, h);
    if (h->resv_id[0]) {
        plan_svc_resv_release(self, h->resv_id, why, h->a, h->b);
    }
    plan_svc_apply(self, h, PLAN_LINK_EV_RELEASE, NULL);
    self->n_released++;
    plan_links_drop(&self->links, h);
}

static void
s_on_agent_restart(plan_svc_t *self, const char *id)
{
    /* A distributed application waits for the host that was away (a
     * barrier, a collective): its traffic stalls on every link, not only
     * this agent's, and under the cost rule a cheap path idle for its
     * break-even time would be released, then set up again as soon as
     * the traffic comes back.  So every held path is kept a while. */
    uint64_t now = plan_svc_now(self);
    uint64_t until = now + (uint64_t) self->cfg->restart_hold_ms * 1000;
    for (size_t i = 0; i < self->links.n; i++) {
        struct plan_link *h = &self->links.v[i];
        if ((!strcmp(h->a, id) || !strcmp(h->b, id))
            && plan_link_next(h->state, PLAN_LINK_EV_REWIRE) >= 0) {
            /* Its links and rules died with it: make them again. */
            plan_svc_apply(self, h, PLAN_LINK_EV_REWIRE, NULL);
        }
        if (self->cfg->restart_hold_ms && h->kind == PLAN_LINK_RESERVED
            && plan_core_keep(self->core, h->a, h->b, now, until) == 0) {
            self->n_restart_holds++;
        }
    }
}

/* The broker's view of 'h's reservation 'r' (an event, a reply or the
 * list): its state, and the path's addresses once active.  A path lost
 * under a link past RESERVING puts the link on the commodity network. */
void
plan_svc_take_resv(plan_svc_t *self, struct plan_link *h,
                   const Vr__Reservation *r)
{
    if (!h->resv_id[0] && h->state == PLAN_LINK_RESERVING) {
        /* The answer to a request that timed out, heard another way. */
        if (plan_svc_apply(self, h, PLAN_LINK_EV_ASKED, r->resv_id) != 0) {
            return;
        }
        plan_svc_decide(self, DK(RESERVE), h->a, h->b, h->demand_bps,
                        h->resv_id, h->name, 0,
                        "reservation %s of request %s learnt from the broker",
                        h->resv_id, h->request_id);
    }
    h->resv_state = r->state;
    if (r->state == RS(ACTIVE)) {
        plan_link_set_path(h, r->host_a, r->addr_a, r->addr_b);
        if (!plan_link_set_circuit(h, r->host_a, r->vlan, r->vlan_b,
                                   r->link_prefix_len)) {
            VLOG_WARN_RL("%s: bad VLAN %u/%u / prefix length %u from the "
                         "broker: the link is made without a VLAN",
                         h->resv_id, r->vlan, r->vlan_b,
                         r->link_prefix_len);
        }
    } else if ((r->state == RS(FAILED) || r->state == RS(RELEASING)
                || r->state == RS(RELEASED))
               && h->state != PLAN_LINK_RESERVING
               && h->kind == PLAN_LINK_RESERVED) {
        /* The path broke (or was released by someone else) under a link
         * in use: off it, onto the commodity network. */
        plan_svc_decide(self, DK(FAIL), h->a, h->b, h->demand_bps, h->resv_id,
                        h->name, 0,
                        "path of %s lost (%s, %s): traffic back on the "
                        "commodity network", h->resv_id,
                        plan_svc_resv_state_name(r->state),
                        r->error ? r->error : "");
        self->n_failures++;
        s_unwire(self, h);
        plan_svc_apply(self, h, PLAN_LINK_EV_PATH_LOST, NULL);
    }
}

/* Sends 'h's ResvRequest (its one request id, whatever the try).  A reply
 * makes it ASKED; no reply in time leaves it RESERVING, to be asked again
 * (same id) or learnt from events and the list; a refusal puts it on the
 * commodity network. */
static void
s_ask(plan_svc_t *self, struct plan_link *h, const char *why)
{
    Vr__ResvRequest req;
    plan_svc_resv_request(self, &req, h->a, h->b, h->request_id);
    bus_msg_t reply;
    h->asks++;
    self->n_reserve_asked++;
    if (bus_client_call(self->broker, VR__MSG_TYPE__MSG_RESV_REQUEST,
                        &req.base, VR__MSG_TYPE__MSG_RESV_REPLY, &reply)
        != 0) {
        if (reply.error == VR__ERROR_CODE__ERR_TIMEOUT
            || reply.error == VR__ERROR_CODE__ERR_UNAVAILABLE) {
            /* Maybe made, maybe not: not a refusal. */
            self->n_reserve_no_reply++;
            h->next_ask_us = plan_svc_now(self) + PLAN_SVC_ASK_RETRY_US;
            plan_svc_apply(self, h, PLAN_LINK_EV_NO_REPLY, NULL);
            if (h->asks == 1 || h->asks % 10 == 0) {
                plan_svc_decide(self, DK(DEFER), h->a, h->b, h->demand_bps,
                                NULL, h->name, 0,
                                "%s; request %s: no answer from the broker "
                                "(%s): asked again, same id", why,
                                h->request_id, reply.error_text);
            }
            bus_msg_clear(&reply);
            return;
        }
        if (reply.error == VR__ERROR_CODE__ERR_LIMIT
            && plan_svc_now(self) - h->t_reserve_us < S_LIMIT_RETRY_US) {
            /* A limit of open reservations, often held by paths still
             * being torn down (an adapter that was down): asked again,
             * for a while, before the link settles for the commodity
             * network for good. */
            self->n_reserve_limited++;
            h->next_ask_us = plan_svc_now(self) + PLAN_SVC_ASK_RETRY_US;
            plan_svc_apply(self, h, PLAN_LINK_EV_NO_REPLY, NULL);
            if (h->asks == 1 || h->asks % 5 == 0) {
                plan_svc_decide(self, DK(DEFER), h->a, h->b, h->demand_bps,
                                NULL, h->name, 0,
                                "%s; the broker refused for now (%s): asked "
                                "again each %.1f s for %.0f s", why,
                                reply.error_text,
                                (double) PLAN_SVC_ASK_RETRY_US / 1e6,
                                (double) S_LIMIT_RETRY_US / 1e6);
            }
            bus_msg_clear(&reply);
            return;
        }
        self->n_reserve_refused++;
        plan_svc_apply(self, h, PLAN_LINK_EV_REFUSED, NULL);
        plan_svc_decide(self, DK(FAIL), h->a, h->b, h->demand_bps, NULL,
                        h->name, 0,
                        "%s; the broker refused (%s): direct commodity link "
                        "instead", why, reply.error_text);
        bus_msg_clear(&reply);
        return;
    }
    const Vr__Reservation *r = ((Vr__ResvReply *) reply.body)->resv;
    if (!r || !r->resv_id || plan_svc_apply(self, h, PLAN_LINK_EV_ASKED,
                                            r->resv_id) != 0) {
        /* A reply without a usable id: as if none came; the list will
         * tell. */
        self->n_reserve_no_reply++;
        h->next_ask_us = plan_svc_now(self) + PLAN_SVC_ASK_RETRY_US;
        VLOG_WARN_RL("broker: reply to %s without a usable reservation id",
                     h->request_id);
        bus_msg_clear(&reply);
        return;
    }
    plan_svc_decide(self, DK(RESERVE), h->a, h->b, h->demand_bps, h->resv_id,
                    h->name, 0, "%s; reservation %s asked (request %s)", why,
                    h->resv_id, h->request_id);
    plan_svc_take_resv(self, h, r);
    bus_msg_clear(&reply);
}

/* Starts 'h' (NEW): asks the broker for a path, or, with reservations
 * off, makes it a commodity link. */
static void
s_reserve(plan_svc_t *self, struct plan_link *h, const char *why)
{
    if (!self->cfg->reserve) {
        plan_svc_apply(self, h, PLAN_LINK_EV_DIRECT, NULL);
        plan_svc_decide(self, DK(RESERVE), h->a, h->b, h->demand_bps, NULL,
                        h->name, 0,
                        "%s; reservations off: direct commodity link", why);
        return;
    }
    if (plan_svc_apply(self, h, PLAN_LINK_EV_RESERVE, NULL) == 0) {
        s_ask(self, h, why);
    }
}

/* Makes the link on both agents and probes it from both ends.  Returns
 * true when both echoes came back. */
static bool
s_wire(plan_svc_t *self, struct plan_link *h)
{
    struct plan_agent *aa = s_agent(self, h->a), *ab = s_agent(self, h->b);
    if (!aa || !ab || !aa->ip[0] || !ab->ip[0]) {
        return false;       /* wait for both agents' announcements */
    }
    struct plan_agent *end[2] = { aa, ab };
    struct plan_agent *peer[2] = { ab, aa };
    const char *peer_ip[2] = {
        h->kind == PLAN_LINK_RESERVED ? h->addr_b : ab->ip,
        h->kind == PLAN_LINK_RESERVED ? h->addr_a : aa->ip,
    };
    char err[256];
    for (int i = 0; i < 2; i++) {
        char peer_addr[96];
        snprintf(peer_addr, sizeof peer_addr, "%s:%s", peer_ip[i],
                 peer[i]->port);
        Vr__Link l = VR__LINK__INIT;
        if (h->kind == PLAN_LINK_RESERVED && h->vlan) {
            /* A VLAN circuit: the agent makes the sub-interface with its
             * own end's VLAN and address before the link uses it. */
            l.vlan = plan_link_vlan_at(h, i);
            l.prefix_len = h->prefix_len;
            l.local = (char *) (i == 0 ? h->addr_a : h->addr_b);
        }
        l.name = h->name;
        l.peer = peer_addr;
        l.peer_agent = peer[i]->id;
        l.mtu = h->kind == PLAN_LINK_RESERVED ? self->cfg->link_mtu : 0;
        /* A reserved path is a dedicated circuit: the agents may let the
         * kernel carry frames across it (their fast path). */
        l.circuit = h->kind == PLAN_LINK_RESERVED;
        Vr__LinkCreate req = VR__LINK_CREATE__INIT;
        req.link = &l;
        if (s_agent_call(self, end[i], VR__MSG_TYPE__MSG_LINK_CREATE,
                         &req.base, VR__MSG_TYPE__MSG_LINK_INFO, NULL, err,
                         sizeof err) != 0) {
            if (h->tries % 10 == 0) {
                plan_svc_decide(self, DK(FAIL), h->a, h->b, h->demand_bps,
                                h->resv_id, h->name, 0, "creating link: %s",
                                err);
            }
            return false;
        }
    }
    for (int i = 0; i < 2; i++) {
        Vr__LinkProbe req = VR__LINK_PROBE__INIT;
        req.name = h->name;
        req.timeout_ms = self->cfg->probe_timeout_ms;
        bus_msg_t reply;
        if (s_agent_call(self, end[i], VR__MSG_TYPE__MSG_LINK_PROBE,
                         &req.base, VR__MSG_TYPE__MSG_LINK_PROBE_REPLY,
                         &reply, err, sizeof err) != 0) {
            return false;
        }
        bool ok = ((Vr__LinkProbeReply *) reply.body)->ok;
        bus_msg_clear(&reply);
        if (!ok) {
            if (h->tries % 10 == 0) {
                plan_svc_decide(self, DK(DEFER), h->a, h->b, h->demand_bps,
                                h->resv_id, h->name, 0,
                                "link %s: no probe echo from %s's end yet: "
                                "rules stay where they are", h->name,
                                end[i]->id);
            }
            return false;
        }
    }
    h->boot_a = aa->boot_id;
    h->boot_b = ab->boot_id;
    return true;
}

static bool
s_has(const uint64_t *v, size_t n, uint64_t x)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] == x) {
            return true;
        }
    }
    return false;
}

/* The MACs side 'side' of 'h' sends over it: the far end of each VM
 * pair the link carries, and for a link taken for a phase every VM the
 * far host has (plan_vmloc.h), so the phase's traffic starts on the path
 * before its demand is seen.  Fills 'out' (room for 'max'); returns how
 * many, duplicates included. */
static size_t
s_rules_dsts(plan_svc_t *self, const struct plan_link *h, int side,
             const struct plan_vm_pair *pairs, size_t n, uint64_t *out,
             size_t max)
{
    size_t m = 0;
    for (size_t i = 0; i < n && m < max; i++) {
        /* Side a sends to the pair's VM on b, and the other way. */
        out[m++] = side ? pairs[i].a : pairs[i].b;
    }
    if (h->whole_hosts && m < max) {
        size_t k = plan_vmloc_host(self->vmloc, side ? h->a : h->b,
                                   plan_svc_now(self), out + m, max - m);
        m += k < max - m ? k : max - m;
    }
    return m;
}

/* Adds the rules for VM pairs the link carries that have none yet.
 * Returns the number of rules added, or -1 on failure. */
static int
s_rules_sync(plan_svc_t *self, struct plan_link *h)
{
    static struct plan_vm_pair pairs[S_MAX_RULES];
    static uint64_t dsts[2 * S_MAX_RULES];
    size_t n = plan_core_link_pairs(self->core, h->a, h->b, pairs,
                                    S_MAX_RULES);
    if (n > S_MAX_RULES) {
        n = S_MAX_RULES;
    }
    int added = 0;
    for (int side = 0; side < 2; side++) {
        size_t nd = s_rules_dsts(self, h, side, pairs, n, dsts,
                                 2 * S_MAX_RULES);
        uint64_t **rules = side ? &h->rules_b : &h->rules_a;
        size_t *nr = side ? &h->n_rules_b : &h->n_rules_a;
        Vr__Rule *v = calloc(nd + 1, sizeof *v);
        Vr__Rule **pv = calloc(nd + 1, sizeof *pv);
        uint64_t *grow = realloc(*rules, (*nr + nd + 1) * sizeof *grow);
        if (!v || !pv || !grow) {
            free(v);
            free(pv);
            if (grow) {
                *rules = grow;
            }
            return -1;
        }
        *rules = grow;
        size_t m = 0;
        /* An agent takes at most S_MAX_RULES rules a request (its
         * AGENT_CHECK_RULES_MAX): the rest go at the next sync. */
        for (size_t i = 0; i < nd && m < S_MAX_RULES; i++) {
            uint64_t dst = dsts[i];
            if (s_has(*rules, *nr, dst)) {
                continue;
            }
            bool dup = false;
            for (size_t j = 0; j < m; j++) {
                dup |= v[j].dst_mac == dst;
            }
            if (dup) {
                continue;
            }
            vr__rule__init(&v[m]);
            v[m].dst_mac = dst;
            v[m].link = h->name;
            pv[m] = &v[m];
            m++;
        }
        if (m) {
            Vr__RuleAdd req = VR__RULE_ADD__INIT;
            req.rules = pv;
            req.n_rules = m;
            char err[256];
            struct plan_agent *ag = s_agent(self, side ? h->b : h->a);
            if (!ag || s_agent_call(self, ag, VR__MSG_TYPE__MSG_RULE_ADD,
                                    &req.base, VR__MSG_TYPE__MSG_ACK, NULL,
                                    err, sizeof err) != 0) {
                free(v);
                free(pv);
                return -1;
            }
            for (size_t j = 0; j < m; j++) {
                (*rules)[(*nr)++] = v[j].dst_mac;
            }
            added += (int) m;
        }
        free(v);
        free(pv);
    }
    return added;
}

/* RESERVING: asks again after no reply, gives up after
 * reserving_timeout_ms, moves on once the reservation is active or over. */
static void
s_progress_reserving(plan_svc_t *self, struct plan_link *h)
{
    uint64_t now = plan_svc_now(self);
    uint64_t waited = now - h->t_state_us;
    if (waited >= (uint64_t) self->cfg->reserving_timeout_ms * 1000) {
        self->n_reserving_timeouts++;
        plan_svc_decide(self, DK(FAIL), h->a, h->b, h->demand_bps, h->resv_id,
                        h->name, waited,
                        "reservation %s (request %s) not active after %u ms: "
                        "released, direct commodity link instead",
                        h->resv_id[0] ? h->resv_id : "unknown", h->request_id,
                        self->cfg->reserving_timeout_ms);
        if (h->resv_id[0]) {
            plan_svc_resv_release(self, h->resv_id, "reserving timed out",
                                  h->a, h->b);
        }
        /* Not answered at all: if the broker made it after all, the
         * reconcile finds it nobody's and releases it. */
        plan_svc_apply(self, h, PLAN_LINK_EV_TIMEOUT, NULL);
        return;
    }
    if (!h->resv_id[0]) {
        if (now >= h->next_ask_us) {
            s_ask(self, h, "asked again");
        }
        return;
    }
    if (h->resv_state == RS(ACTIVE)) {
        plan_svc_apply(self, h, PLAN_LINK_EV_ACTIVE, NULL);
    } else if (h->resv_state == RS(FAILED) || h->resv_state == RS(RELEASED)
               || h->resv_state == RS(RELEASING)) {
        plan_svc_decide(self, DK(FAIL), h->a, h->b, h->demand_bps, h->resv_id,
                        h->name, now - h->t_reserve_us,
                        "reservation %s ended without a path: direct "
                        "commodity link instead", h->resv_id);
        self->n_failures++;
        plan_svc_apply(self, h, PLAN_LINK_EV_ENDED, NULL);
    }
}

/* SWITCHING: moves the VM pairs' rules onto the link. */
static void
s_progress_switching(plan_svc_t *self, struct plan_link *h)
{
    size_t before = h->n_rules_a + h->n_rules_b;
    int n = s_rules_sync(self, h);
    if (n < 0) {
        return;
    }
    h->rules_gen = self->topo_gen;
    bool again = h->t_up_us != 0;
    if (plan_svc_apply(self, h, PLAN_LINK_EV_SWITCHED, NULL) != 0) {
        return;
    }
    if (again) {
        plan_svc_decide(self, DK(SWITCH), h->a, h->b, h->demand_bps,
                        h->resv_id, h->name, 0,
                        "%d forwarding rules put back onto %s (%zu were still "
                        "there)", n, h->name, before);
        return;
    }
    uint64_t now = plan_svc_now(self);
    h->t_up_us = now;
    self->n_switches++;
    uint64_t since = h->t_active_us ? h->t_active_us : h->t_reserve_us;
    self->last_switch_us = h->t_reserve_us ? now - h->t_reserve_us : 0;
    plan_svc_decide(self, DK(SWITCH), h->a, h->b, h->demand_bps, h->resv_id,
                    h->name, since ? now - since : 0,
                    "%zu+%zu forwarding rules moved onto %s (%.1f Mbit/s of "
                    "demand); %.3f s after the path was up", h->n_rules_a,
                    h->n_rules_b, h->name, h->demand_bps / 1e6,
                    since ? (now - since) / 1e6 : 0.0);
}

/* Moves 'h' one step. */
static void
s_progress(plan_svc_t *self, struct plan_link *h)
{
    switch (h->state) {
    case PLAN_LINK_RESERVING:
        s_progress_reserving(self, h);
        return;
    case PLAN_LINK_SETUP:
        h->tries++;
        if (!s_wire(self, h)) {
            return;
        }
        plan_svc_apply(self, h, PLAN_LINK_EV_WIRED, NULL);
        plan_svc_decide(self, DK(LINK_CREATE), h->a, h->b, h->demand_bps,
                        h->resv_id, h->name, 0,
                        "link %s on both agents over %s (%s <-> %s), probe "
                        "echoed from both ends", h->name,
                        h->kind == PLAN_LINK_RESERVED ? "the reserved path" :
                        "the commodity network",
                        h->kind == PLAN_LINK_RESERVED ? h->addr_a : h->a,
                        h->kind == PLAN_LINK_RESERVED ? h->addr_b : h->b);
        /* Only now, with the link up both ways, do the rules move. */
        s_progress_switching(self, h);
        return;
    case PLAN_LINK_SWITCHING:
        s_progress_switching(self, h);
        return;
    case PLAN_LINK_UP: {
        /* The VM pairs a link carries change only with the topology. */
        if (h->rules_gen == self->topo_gen) {
            return;
        }
        int n = s_rules_sync(self, h);
        if (n >= 0) {
            h->rules_gen = self->topo_gen;
        }
        if (n > 0) {
            plan_svc_decide(self, DK(SWITCH), h->a, h->b, h->demand_bps,
                            h->resv_id, h->name, 0,
                            "%d more VM pairs' rules onto %s", n, h->name);
        }
        return;
    }
    case PLAN_LINK_NEW:
    case PLAN_LINK_GONE:
    case PLAN_LINK_N_STATES:
        return;
    }
}

/* ------------------------------------------------------------------ */
/* What the others say. */

static void
s_on_topology(plan_svc_t *self, const Vr__Topology *t)
{
    if (!t) {
        return;
    }
    struct plan_vm_pair *pairs = calloc(t->n_edges + 1, sizeof *pairs);
    struct plan_vm_host *vms = calloc(t->n_vms + 1, sizeof *vms);
    if (!pairs || !vms) {
        free(pairs);
        free(vms);
        return;
    }
    for (size_t i = 0; i < t->n_edges; i++) {
        pairs[i].a = t->edges[i]->src_mac;
        pairs[i].b = t->edges[i]->dst_mac;
        pairs[i].rate_bps = t->edges[i]->rate_bps;
    }
    size_t n_vms = 0;
    for (size_t i = 0; i < t->n_vms; i++) {
        if (t->vms[i]->agent_id && *t->vms[i]->agent_id) {
            vms[n_vms].mac = t->vms[i]->mac;
            vms[n_vms].host = t->vms[i]->agent_id;
            n_vms++;
        }
    }
    self->topo_version = t->version;
    self->topo_gen++;
    self->n_topologies++;
    plan_core_set_topology(self->core, plan_svc_now(self), pairs, t->n_edges,
                           vms,
                           n_vms);
    if (plan_vmloc_update(self->vmloc, plan_svc_now(self), vms, n_vms) != 0) {
        VLOG_WARN_RL("out of memory: the VMs of topology %" PRIu64
                     " not remembered", t->version);
    }
    free(pairs);
    free(vms);
    /* Demands of the held links, for the decisions. */
    for (size_t i = 0; i < self->links.n; i++) {
        self->links.v[i].demand_bps = 0;
    }
    size_t n = plan_core_links(self->core, NULL, 0);
    struct plan_link_info *info = calloc(n + 1, sizeof *info);
    if (info) {
        n = plan_core_links(self->core, info, n);
        for (size_t i = 0; i < n; i++) {
            struct plan_link *h = plan_links_find(&self->links,
                                                  info[i].host_a,
                                                  info[i].host_b);
            if (h) {
                h->demand_bps = info[i].demand_bps;
            }
        }
        free(info);
    }
}

/* The aggregator's live matrix: the current rate of every VM pair (one
 * entry per direction), which the decisions go by (plan_core.h, Live
 * demand).  A matrix without current rates (an older aggregator) gives
 * its smoothed ones. */
static void
s_on_matrix(plan_svc_t *self, const Vr__GlobalMatrix *g)
{
    if (!g) {
        return;
    }
    struct plan_vm_pair *v = calloc(g->n_entries + 1, sizeof *v);
    if (!v) {
        return;
    }
    for (size_t i = 0; i < g->n_entries; i++) {
        const Vr__MatrixRate *e = g->entries[i];
        v[i] = (struct plan_vm_pair) { e->src_mac, e->dst_mac,
                                       g->has_current ? e->current_bps
                                                      : e->rate_bps };
    }
    plan_core_set_live(self->core, plan_svc_now(self), v, g->n_entries);
    free(v);
}

/* The held link reservation 'r' belongs to: by its id, or by its request
 * id while the link still waits for it (a request whose reply we never
 * got); NULL if none. */
static struct plan_link *
s_held_for(plan_svc_t *self, const Vr__Reservation *r)
{
    struct plan_link *h = plan_links_by_resv(&self->links, r->resv_id);
    if (!h && r->request_id) {
        h = plan_links_by_request(&self->links, r->request_id);
        if (h && (h->resv_id[0] || h->state != PLAN_LINK_RESERVING)) {
            h = NULL;
        }
    }
    return h;
}

/* Learns from reservation 'r' what a path costs on its network (any
 * owner's: each is a measure of the network), and tells the core. */
static void
s_learn_cost(plan_svc_t *self, const Vr__Reservation *r)
{
    if (!self->cfg->learn_costs || !self->costs) {
        return;
    }
    enum plan_cost_phase ph = r->state == RS(ACTIVE)      ? PLAN_COST_ACTIVE
                              : r->state == RS(RELEASING) ? PLAN_COST_RELEASING
                              : r->state == RS(RELEASED)  ? PLAN_COST_RELEASED
                                                          : PLAN_COST_OTHER;
    struct plan_cost_est e;
    /* A booking ahead starts being set up at its start, not when made. */
    uint64_t asked = r->start_us > r->created_us ? r->start_us
                                                 : r->created_us;
    if (!plan_costs_feed(self->costs, r->resv_id, r->network, ph, asked,
                         r->updated_us, plan_svc_now(self), &e)) {
        return;
    }
    if (ph == PLAN_COST_ACTIVE) {
        plan_core_set_cost(self->core, r->host_a, r->host_b, e.setup_us,
                           e.teardown_us);
    }
    uint64_t su, td;
    if (plan_costs_default(self->costs, &su, &td)) {
        plan_core_set_cost(self->core, NULL, NULL, su, td);
    }
    VLOG_INFO_RL("network %s: set-up %.3f s (%u measured), teardown %.3f s "
                 "(%u measured)", e.network, (double) e.setup_us / 1e6,
                 e.n_setups, (double) e.teardown_us / 1e6, e.n_teardowns);
}

static void
s_on_resv(plan_svc_t *self, const Vr__Reservation *r)
{
    if (!r || !r->resv_id || !*r->resv_id) {
        return;
    }
    s_learn_cost(self, r);
    struct plan_link *h = s_held_for(self, r);
    if (h) {
        plan_svc_take_resv(self, h, r);
        return;
    }
    struct plan_booking *bk = plan_svc_book_for(self, r);
    if (bk) {
        plan_svc_book_heard(self, bk, r);
    }
}

bool
plan_svc_take(plan_svc_t *self, const bus_msg_t *msg)
{
    switch (msg->type) {
    case VR__MSG_TYPE__MSG_TOPOLOGY_EVENT:
        s_on_topology(self, ((Vr__TopologyEvent *) msg->body)->topology);
        return true;
    case VR__MSG_TYPE__MSG_AGENT_ANNOUNCE:
        s_on_announce(self, (Vr__AgentAnnounce *) msg->body);
        return true;
    case VR__MSG_TYPE__MSG_GLOBAL_MATRIX:
        s_on_matrix(self, (Vr__GlobalMatrix *) msg->body);
        return true;
    case VR__MSG_TYPE__MSG_RESV_EVENT:
        s_on_resv(self, ((Vr__ResvEvent *) msg->body)->resv);
        return true;
    default:
        return false;
    }
}

/* Both subscriptions: the aggregator's (topology, announcements) and the
 * broker's (reservation events). */
static int
s_on_event(svc_t *svc, zsock_t *sock, void *arg)
{
    (void) svc;
    plan_svc_t *self = arg;
    bus_msg_t msg;
    if (bus_recv(self->bus, sock, &msg) != 0) {
        return 0;
    }
    plan_svc_take(self, &msg);
    bus_msg_clear(&msg);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Agreeing with the broker and the agents. */

/* True for a listed reservation with an id and usable hosts. */
static bool
s_resv_usable(const Vr__Reservation *r)
{
    return r->resv_id && *r->resv_id && r->host_a && r->host_b
           && *r->host_a && *r->host_b && strlen(r->host_a) < PLAN_HOST_LEN
           && strlen(r->host_b) < PLAN_HOST_LEN
           && strcmp(r->host_a, r->host_b) != 0;
}

/* True for a usable reservation made by us (the owner the broker
 * recorded).  Needed only for those no held link stands behind: a held
 * link's own reservation is known by its id. */
static bool
s_resv_ours(const plan_svc_t *self, const Vr__Reservation *r)
{
    return s_resv_usable(r) && r->owner && !strcmp(r->owner, self->owner);
}

static bool
s_resv_open(const Vr__Reservation *r)
{
    return r->state == RS(REQUESTED) || r->state == RS(PROVISIONING)
           || r->state == RS(ACTIVE);
}

/* Removes link 'name' from agent 'ag', its rules first. */
static void
s_remove_foreign_link(plan_svc_t *self, struct plan_agent *ag,
                      const char *name)
{
    Vr__RuleListRequest rq = VR__RULE_LIST_REQUEST__INIT;
    bus_msg_t rules;
    char err[256];
    if (s_agent_call(self, ag, VR__MSG_TYPE__MSG_RULE_LIST_REQUEST,
                     &rq.base, VR__MSG_TYPE__MSG_RULE_LIST, &rules, err,
                     sizeof err) == 0) {
        const Vr__RuleList *rl = (Vr__RuleList *) rules.body;
        Vr__Rule **pv = calloc(rl->n_rules + 1, sizeof *pv);
        size_t m = 0;
        for (size_t j = 0; pv && j < rl->n_rules; j++) {
            if (rl->rules[j]->link && !strcmp(rl->rules[j]->link, name)) {
                pv[m++] = rl->rules[j];
            }
        }
        if (m) {
            Vr__RuleRemove rr = VR__RULE_REMOVE__INIT;
            rr.rules = pv;
            rr.n_rules = m;
            s_agent_call(self, ag, VR__MSG_TYPE__MSG_RULE_REMOVE, &rr.base,
                         VR__MSG_TYPE__MSG_ACK, NULL, err, sizeof err);
        }
        free(pv);
        bus_msg_clear(&rules);
    }
    s_link_remove(self, ag->id, name);
}

/* Looks once at a new agent's links.  Ownership is by reservation: a link
 * is ours if a held link has its name, or if it is the link of a
 * reservation of ours ('list': the broker's, ended ones too) that no held
 * link stands behind (then it is stale and goes, with its rules), or the
 * direct link of a pair we do not hold (adopted).  Any other link is
 * someone else's and left alone, whatever its name. */
static void
s_scan_agent(plan_svc_t *self, struct plan_agent *ag, const Vr__ResvList *list)
{
    Vr__LinkListRequest req = VR__LINK_LIST_REQUEST__INIT;
    bus_msg_t reply;
    char err[256];
    if (s_agent_call(self, ag, VR__MSG_TYPE__MSG_LINK_LIST_REQUEST,
                     &req.base, VR__MSG_TYPE__MSG_LINK_LIST, &reply, err,
                     sizeof err) != 0) {
        return;
    }
    ag->scanned = true;
    const Vr__LinkList *ll = (Vr__LinkList *) reply.body;
    for (size_t i = 0; i < ll->n_links; i++) {
        const char *name = ll->links[i]->name;
        if (!name || !*name || plan_links_by_name(&self->links, name)) {
            continue;
        }
        const Vr__Reservation *stale = NULL;
        char rname[PLAN_LINK_NAME_LEN];
        for (size_t j = 0; j < list->n_resvs && !stale; j++) {
            const Vr__Reservation *r = list->resvs[j];
            if (s_resv_ours(self, r) && plan_link_name_resv(r->resv_id, rname)
                && !strcmp(rname, name)
                && !plan_links_by_resv(&self->links, r->resv_id)) {
                stale = r;
            }
        }
        if (stale) {
            s_remove_foreign_link(self, ag, name);
            self->n_stale_removed++;
            plan_svc_decide(self, DK(LINK_REMOVE), ag->id, "", 0,
                            stale->resv_id, name, 0,
                            "link %s on agent %s is of reservation %s, which "
                            "no held link stands behind: removed with its "
                            "rules", name, ag->id, stale->resv_id);
            continue;
        }
        const char *peer = ll->links[i]->peer_agent;
        if (!peer || !*peer || strlen(peer) >= PLAN_HOST_LEN
            || !strcmp(peer, ag->id)
            || plan_links_find(&self->links, ag->id, peer)
            || !plan_link_name_direct(ag->id, peer, rname)
            || strcmp(rname, name) != 0) {
            continue;   /* not ours */
        }
        struct plan_link *h = plan_links_add(&self->links, ag->id, peer,
                                             PLAN_LINK_COMMODITY,
                                             plan_svc_now(self));
        if (h && plan_svc_apply(self, h, PLAN_LINK_EV_DIRECT, NULL) == 0) {
            plan_core_seed(self->core, h->a, h->b, plan_svc_now(self));
            self->n_adopted++;
            plan_svc_decide(self, DK(PLAN), h->a, h->b, 0, NULL, h->name, 0,
                            "adopted commodity link %s found on agent %s",
                            name, ag->id);
        }
    }
    bus_msg_clear(&reply);
}

/* Whether the agent at the 'side' end of 'h' still has the link and every
 * rule we sent it ('links', 'rules': its lists).  Forgets the rules it
 * lost; returns how many it lost, or -1 if the link itself is gone. */
static int
s_check_side(struct plan_link *h, int side, const Vr__LinkList *links,
             const Vr__RuleList *rules)
{
    bool has_link = false;
    for (size_t i = 0; i < links->n_links && !has_link; i++) {
        has_link = links->links[i]->name
                   && !strcmp(links->links[i]->name, h->name);
    }
    if (!has_link) {
        return -1;
    }
    uint64_t *v = side ? h->rules_b : h->rules_a;
    size_t *n = side ? &h->n_rules_b : &h->n_rules_a;
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        bool has = false;
        for (size_t j = 0; j < rules->n_rules && !has; j++) {
            const Vr__Rule *r = rules->rules[j];
            has = r->dst_mac == v[i] && r->src_mac == 0 && r->link
                  && !strcmp(r->link, h->name);
        }
        if (has) {
            v[kept++] = v[i];
        }
    }
    int lost = (int) (*n - kept);
    *n = kept;
    return lost;
}

/* Checks the links and rules of our UP links on agent 'ag': a rule an
 * operator removed is put back (the link goes SWITCHING again), a link
 * removed is made again (SETUP).  Logged rate-limited and counted. */
static void
s_check_agent(plan_svc_t *self, struct plan_agent *ag)
{
    bool any = false;
    for (size_t i = 0; i < self->links.n && !any; i++) {
        const struct plan_link *h = &self->links.v[i];
        any = h->state == PLAN_LINK_UP
              && (!strcmp(h->a, ag->id) || !strcmp(h->b, ag->id));
    }
    if (!any) {
        return;
    }
    Vr__LinkListRequest lq = VR__LINK_LIST_REQUEST__INIT;
    Vr__RuleListRequest rq = VR__RULE_LIST_REQUEST__INIT;
    bus_msg_t lr, rr;
    char err[256];
    if (s_agent_call(self, ag, VR__MSG_TYPE__MSG_LINK_LIST_REQUEST,
                     &lq.base, VR__MSG_TYPE__MSG_LINK_LIST, &lr, err,
                     sizeof err) != 0) {
        return;
    }
    if (s_agent_call(self, ag, VR__MSG_TYPE__MSG_RULE_LIST_REQUEST,
                     &rq.base, VR__MSG_TYPE__MSG_RULE_LIST, &rr, err,
                     sizeof err) != 0) {
        bus_msg_clear(&lr);
        return;
    }
    for (size_t i = 0; i < self->links.n; i++) {
        struct plan_link *h = &self->links.v[i];
        if (h->state != PLAN_LINK_UP) {
            continue;
        }
        int side = !strcmp(h->a, ag->id) ? 0 : !strcmp(h->b, ag->id) ? 1
                                                                     : -1;
        if (side < 0) {
            continue;
        }
        int lost = s_check_side(h, side, (Vr__LinkList *) lr.body,
                                (Vr__RuleList *) rr.body);
        if (lost < 0) {
            self->n_links_rewired++;
            VLOG_WARN_RL("agent %s lost link %s (removed by hand?): made "
                         "again", LOG_ESC(ag->id), LOG_ESC(h->name));
            /* Made again on both ends, its rules sent again. */
            plan_svc_apply(self, h, PLAN_LINK_EV_REWIRE, NULL);
        } else if (lost > 0) {
            self->n_rules_restored += (uint64_t) lost;
            VLOG_WARN_RL("agent %s lost %d rule(s) of link %s (removed by "
                         "hand?): put back", LOG_ESC(ag->id), lost,
                         LOG_ESC(h->name));
            plan_svc_apply(self, h, PLAN_LINK_EV_RULES_MISSING, NULL);
        }
    }
    bus_msg_clear(&lr);
    bus_msg_clear(&rr);
}

/* The broker's whole list, read page by page (ResvList.next), each page
 * as large as the broker gives. */
struct s_resv_pages {
    bus_msg_t page[S_LIST_PAGES_MAX];   /* the replies */
    size_t n_pages;
    Vr__ResvList list;          /* every page's reservations, in order;
                                 * they point into 'page' */
};

static void
s_pages_destroy(struct s_resv_pages **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    struct s_resv_pages *self = *self_p;
    for (size_t i = 0; i < self->n_pages; i++) {
        bus_msg_clear(&self->page[i]);
    }
    free(self->list.resvs);
    free(self);
    *self_p = NULL;
}

/* Reads the broker's list ('include_ended': ended ones too) whole.
 * Returns NULL with the reason in 'err' when the broker did not answer
 * every page, or the list is longer than S_LIST_PAGES_MAX pages or does
 * not advance: a part is never taken as the whole. */
static struct s_resv_pages *
s_list_all(plan_svc_t *self, bool include_ended, char *err, size_t size)
{
    struct s_resv_pages *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, size, "out of memory");
        return NULL;
    }
    Vr__ResvListRequest req = VR__RESV_LIST_REQUEST__INIT;
    req.include_ended = include_ended;
    req.page_size = UINT32_MAX;     /* the broker's largest page */
    char after[64] = "";
    size_t total = 0;
    for (;;) {
        if (p->n_pages == S_LIST_PAGES_MAX) {
            snprintf(err, size, "its list is longer than %d pages",
                     S_LIST_PAGES_MAX);
            goto error;
        }
        bus_msg_t *m = &p->page[p->n_pages];
        req.after = after;
        if (bus_client_call(self->sync, VR__MSG_TYPE__MSG_RESV_LIST_REQUEST,
                            &req.base, VR__MSG_TYPE__MSG_RESV_LIST, m)
            != 0) {
            snprintf(err, size, "%s", m->error_text);
            bus_msg_clear(m);
            goto error;
        }
        p->n_pages++;
        const Vr__ResvList *l = (Vr__ResvList *) m->body;
        total += l->n_resvs;
        if (!l->next || !*l->next) {
            break;
        }
        if (strlen(l->next) >= sizeof after || !strcmp(l->next, after)
            || l->n_resvs == 0) {
            snprintf(err, size, "its list does not advance after '%s'",
                     after);
            goto error;
        }
        snprintf(after, sizeof after, "%s", l->next);
    }
    Vr__ResvList all = VR__RESV_LIST__INIT;
    p->list = all;
    p->list.resvs = calloc(total + 1, sizeof *p->list.resvs);
    if (!p->list.resvs) {
        snprintf(err, size, "out of memory");
        goto error;
    }
    for (size_t i = 0; i < p->n_pages; i++) {
        const Vr__ResvList *l = (Vr__ResvList *) p->page[i].body;
        for (size_t j = 0; j < l->n_resvs; j++) {
            p->list.resvs[p->list.n_resvs++] = l->resvs[j];
        }
    }
    return p;

error:
    s_pages_destroy(&p);
    return NULL;
}

/* One round with the broker's list ('adopt': the first, at start).  Every
 * open reservation of ours is matched to a held link by reservation id
 * (or, for a request that got no reply, by request id) and its state
 * taken, so a lost event costs one round; one no held link stands behind
 * is adopted at start, released later.  A held link whose reservation the
 * broker no longer has (two lists in a row) is dropped, for the core to
 * plan afresh.  Then new agents are scanned and the agents' rules
 * checked.  Returns false if the broker did not answer (nothing
 * changed). */
static bool
s_reconcile(plan_svc_t *self, bool adopt)
{
    bool scan = adopt;
    for (size_t i = 0; i < self->agents.n; i++) {
        scan |= !self->agents.v[i].scanned;
    }
    /* Ended ones only to tell our stale links from others'. */
    char err[256];
    struct s_resv_pages *pages = s_list_all(self, scan, err, sizeof err);
    if (!pages) {
        self->n_reconcile_failed++;
        VLOG_WARN_RL("broker: %s: %s", LOG_ESC(err),
                     adopt ? "not planning until it answers"
                           : "reconciling later");
        return false;
    }
    self->n_reconciles++;
    const Vr__ResvList *list = &pages->list;
    /* Held links with a reservation, to find those the broker lacks. */
    bool *seen = calloc(self->links.n + 1, sizeof *seen);
    size_t n_before = self->links.n;
    if (!seen) {
        s_pages_destroy(&pages);
        return false;
    }
    for (size_t i = 0; i < list->n_resvs; i++) {
        const Vr__Reservation *r = list->resvs[i];
        if (!s_resv_usable(r) || !s_resv_open(r)) {
            continue;
        }
        s_learn_cost(self, r);
        struct plan_link *h = s_held_for(self, r);
        if (h) {
            plan_svc_take_resv(self, h, r);
            if ((size_t) (h - self->links.v) < n_before) {
                seen[h - self->links.v] = true;
            }
            continue;
        }
        if (!s_resv_ours(self, r)) {
            continue;   /* someone else's */
        }
        struct plan_booking *bk = plan_svc_book_for(self, r);
        if (bk) {
            plan_svc_book_heard(self, bk,
                                r);     /* booked ahead: not held yet */
            continue;
        }
        if (adopt && !plan_links_find(&self->links, r->host_a, r->host_b)) {
            h = plan_links_add(&self->links, r->host_a, r->host_b,
                               PLAN_LINK_RESERVED, plan_svc_now(self));
            if (h && plan_svc_apply(self, h, PLAN_LINK_EV_ADOPT,
                                    r->resv_id) == 0) {
                plan_svc_take_resv(self, h, r);
                plan_core_seed(self->core, h->a, h->b, plan_svc_now(self));
                self->n_adopted++;
                plan_svc_decide(self, DK(PLAN), h->a, h->b, 0, h->resv_id,
                                h->name, 0,
                                "adopted reservation %s (%s) found at the "
                                "broker on start", h->resv_id,
                                r->state == RS(ACTIVE) ? "active" : "pending");
                continue;
            }
            if (h) {
                plan_links_drop(&self->links, h);
            }
        }
        /* Ours, but no held link stands behind it: a duplicate, or made
         * for a request whose link is gone. */
        self->n_orphans_released++;
        VLOG_INFO_RL("reservation %s (%s-%s) is ours but not held: "
                     "released", LOG_ESC(r->resv_id), LOG_ESC(r->host_a),
                     LOG_ESC(r->host_b));
        char rname[PLAN_LINK_NAME_LEN];
        if (r->state == RS(ACTIVE) && plan_link_name_resv(r->resv_id, rname)) {
            struct plan_agent *ea = s_agent(self, r->host_a);
            struct plan_agent *eb = s_agent(self, r->host_b);
            if (ea) {
                s_remove_foreign_link(self, ea, rname);
            }
            if (eb) {
                s_remove_foreign_link(self, eb, rname);
            }
        }
        plan_svc_resv_release(self, r->resv_id,
                              "ours, but no held link stands behind it (found "
                              "by the planner's reconcile)", r->host_a,
                              r->host_b);
    }
    /* A release not taken is done with once its reservation is no longer
     * open (released by someone, or ended). */
    for (size_t i = self->n_unreleased; i-- > 0;) {
        bool open = false;
        for (size_t j = 0; j < list->n_resvs && !open; j++) {
            const Vr__Reservation *r = list->resvs[j];
            open = s_resv_usable(r) && s_resv_open(r)
                   && !strcmp(r->resv_id, self->unreleased[i].resv_id);
        }
        if (!open) {
            s_unreleased_drop(self, i);
        }
    }
    /* Backwards, as links are dropped.  Missing from two lists in a row,
     * so that one odd read never tears a link down. */
    for (size_t i = n_before; !adopt && i-- > 0;) {
        struct plan_link *h = &self->links.v[i];
        if (seen[i] || h->kind != PLAN_LINK_RESERVED || !h->resv_id[0]) {
            h->n_missing = 0;
            continue;
        }
        if (++h->n_missing < S_MISSING_ROUNDS) {
            continue;
        }
        self->n_replanned++;
        plan_svc_decide(self, DK(FAIL), h->a, h->b, h->demand_bps, h->resv_id,
                        h->name, 0,
                        "the broker no longer has reservation %s (an event "
                        "lost?): link taken down, planned afresh", h->resv_id);
        s_unwire(self, h);
        plan_svc_apply(self, h, PLAN_LINK_EV_VANISHED, NULL);
        plan_links_drop(&self->links, h);
    }
    free(seen);
    for (size_t i = 0; i < self->agents.n; i++) {
        if (!self->agents.v[i].scanned) {
            s_scan_agent(self, &self->agents.v[i], list);
        } else if (!adopt) {
            s_check_agent(self, &self->agents.v[i]);
        }
    }
    s_pages_destroy(&pages);
    return true;
}

/* ------------------------------------------------------------------ */
/* Start-up: the broker's reservations, the aggregator's view. */

/* The next try of a start-up call that failed: 250 ms after the first
 * failure, twice as long after each next one, at most 5 s. */
static void
s_back_off(uint64_t *next_us, uint64_t *backoff_us)
{
    *backoff_us = *backoff_us ? (*backoff_us * 2 > 5000000 ? 5000000
                                                           : *backoff_us * 2)
                              : 250000;
    *next_us = vtime_mono_us() + *backoff_us;
}

static bool
s_sync_broker(plan_svc_t *self)
{
    /* Tried with a short timeout and backing off up to 5 s, so that the
     * control socket stays responsive while the broker is down. */
    uint64_t now = vtime_mono_us();
    if (now < self->next_sync_us) {
        return false;
    }
    if (!s_reconcile(self, true)) {
        s_back_off(&self->next_sync_us, &self->sync_backoff_us);
        return false;
    }
    self->next_reconcile_us = plan_svc_now(self)
        + (uint64_t) self->cfg->reconcile_ms * 1000;
    return true;
}

/* The aggregator's agents and topology, asked once it answers both;
 * after that, its events tell.  Returns false while it has not: the
 * links adopted from the broker have no demand until the topology names
 * their VM pairs, and topology events come only when it changes, so a
 * planner that went on without it would release every adopted path the
 * traffic of a steady phase still needs. */
static bool
s_query_aggregator(plan_svc_t *self)
{
    if (vtime_mono_us() < self->next_agg_us) {
        return false;
    }
    Vr__AgentListQuery aq = VR__AGENT_LIST_QUERY__INIT;
    bus_msg_t reply;
    if (bus_client_call(self->aggregator, VR__MSG_TYPE__MSG_AGENT_LIST_QUERY,
                        &aq.base, VR__MSG_TYPE__MSG_AGENT_LIST, &reply)
        != 0) {
        goto failed;
    }
    const Vr__AgentList *al = (Vr__AgentList *) reply.body;
    for (size_t i = 0; i < al->n_agents; i++) {
        s_on_announce(self, al->agents[i]);
    }
    bus_msg_clear(&reply);
    Vr__TopologyQuery tq = VR__TOPOLOGY_QUERY__INIT;
    if (bus_client_call(self->aggregator, VR__MSG_TYPE__MSG_TOPOLOGY_QUERY,
                        &tq.base, VR__MSG_TYPE__MSG_TOPOLOGY, &reply) != 0) {
        goto failed;
    }
    const Vr__Topology *t = (Vr__Topology *) reply.body;
    if (t->n_edges) {
        s_on_topology(self, t);
    }
    bus_msg_clear(&reply);
    self->agg_queried = true;
    if (self->n_agg_query_failed) {
        VLOG_INFO("aggregator answered: planning");
    }
    return true;
failed:
    self->n_agg_query_failed++;
    VLOG_WARN_RL("aggregator: %s: not planning until it answers",
                 LOG_ESC(reply.error_text));
    bus_msg_clear(&reply);
    s_back_off(&self->next_agg_us, &self->agg_backoff_us);
    return false;
}

/* ------------------------------------------------------------------ */

static int
s_on_tick(svc_t *svc, void *arg)
{
    (void) svc;
    plan_svc_t *self = arg;
    if (!self->synced) {
        if (!s_sync_broker(self)) {
            return 0;
        }
        self->synced = true;
        svc_set_state(self->svc, "running");
    }
    if (!self->agg_queried) {
        s_query_aggregator(self);
    }
    if (plan_svc_now(self) >= self->next_age_us) {
        size_t gone = plan_agents_age(&self->agents, plan_svc_now(self));
        if (gone) {
            VLOG_INFO("%zu agent(s) not heard from for %u ms and named by "
                      "no link forgotten", gone, self->cfg->agent_forget_ms);
        }
        self->next_age_us = plan_svc_now(self) + S_AGE_EVERY_US;
    }
    if (plan_svc_now(self) >= self->next_reconcile_us) {
        s_reconcile(self, false);
        self->next_reconcile_us = plan_svc_now(self)
            + (uint64_t) self->cfg->reconcile_ms * 1000;
    }
    if (!self->agg_queried) {
        return 0;               /* not planning until it answers */
    }
    struct plan_link_key *keys = calloc(self->links.n + 1, sizeof *keys);
    if (!keys) {
        return 0;
    }
    for (size_t i = 0; i < self->links.n; i++) {
        keys[i].host_a = self->links.v[i].a;
        keys[i].host_b = self->links.v[i].b;
    }
    struct plan_actions acts;
    uint64_t now = plan_svc_now(self);
    int rc = plan_core_tick(self->core, now, keys, self->links.n, &acts);
    free(keys);
    if (rc != 0) {
        return 0;
    }
    /* Copied: carrying an action out calls into nothing of the core's
     * but plan_core_link_pairs(), which keeps 'acts' valid; the copy is
     * for clarity of ownership. */
    size_t n = acts.n;
    struct plan_action *v = malloc((n + 1) * sizeof *v);
    if (!v) {
        return 0;
    }
    memcpy(v, acts.v, n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        const struct plan_action *a = &v[i];
        switch (a->kind) {
        case PLAN_KIND_PLAN:
            if (a->is_new) {
                plan_svc_decide(self, DK(PLAN), "", "", a->demand_bps, NULL,
                                NULL, 0, "%s", a->reason);
            }
            break;
        case PLAN_KIND_RESERVE: {
            if (plan_links_find(&self->links, a->host_a, a->host_b)) {
                break;
            }
            /* Not before both agents' links were looked at: a restarted
             * planner's own commodity link on them is adopted then, and a
             * reserved link made beside it (the same peer address, with
             * oclient) would never echo a probe.  The next round looks;
             * the core asks again. */
            /* Nor while an earlier reservation of the pair waits for its
             * release to reach the broker: the reconcile that releases it
             * comes soon. */
            bool held_back = plan_svc_unreleased(self, a->host_a, a->host_b);
            self->n_reserve_held_back += held_back;
            if (held_back || !s_scanned(self, a->host_a)
                || !s_scanned(self, a->host_b)) {
                plan_core_unreserve(self->core, now);
                uint64_t soon = now + S_SCAN_SOON_US;
                if (self->next_reconcile_us > soon) {
                    self->next_reconcile_us = soon;
                }
                break;
            }
            struct plan_booking *bk = plan_books_find(&self->books,
                                                      a->host_a, a->host_b);
            if (bk && bk->state == PLAN_BOOK_ASKED
                && plan_svc_book_take(self, bk, a->demand_bps)) {
                break;
            }
            if (bk) {
                plan_svc_book_cancel(self, bk,
                                     "asked for as the core wants it");
            }
            struct plan_link *h = plan_links_add(&self->links, a->host_a,
                                                 a->host_b,
                                                 PLAN_LINK_RESERVED,
                                                 plan_svc_now(self));
            if (h) {
                h->demand_bps = a->demand_bps;
                s_reserve(self, h, a->reason);
            } else {
                VLOG_WARN_RL("link %s-%s not held: %zu links held, the "
                             "cap", LOG_ESC(a->host_a), LOG_ESC(a->host_b),
                             self->links.n);
            }
            break;
        }
        case PLAN_KIND_RELEASE: {
            struct plan_link *h = plan_links_find(&self->links, a->host_a,
                                                  a->host_b);
            if (h) {
                plan_svc_decide(self, DK(RELEASE), h->a, h->b, a->demand_bps,
                                h->resv_id, h->name, 0, "%s", a->reason);
                s_release(self, h, a->reason);
            }
            break;
        }
        case PLAN_KIND_DEFER:
        case PLAN_KIND_THROTTLE:
            if (a->is_new) {
                int kind = a->kind == PLAN_KIND_DEFER ? DK(DEFER)
                                                      : DK(THROTTLE);
                plan_svc_decide(self, kind, a->host_a, a->host_b,
                                a->demand_bps, NULL, NULL, 0, "%s",
                                a->reason);
            }
            break;
        }
    }
    free(v);
    if (self->predict || self->sched) {
        plan_svc_book_tick(self, now);
    }
    for (size_t i = 0; i < self->links.n; i++) {
        s_progress(self, &self->links.v[i]);
    }
    return 0;
}

static void
s_plan_reply(plan_svc_t *self)
{
    Vr__PlannedLink *v = calloc(self->links.n + 1, sizeof *v);
    Vr__PlannedLink **pv = calloc(self->links.n + 1, sizeof *pv);
    size_t n = 0;
    for (size_t i = 0; v && pv && i < self->links.n; i++) {
        const struct plan_link *h = &self->links.v[i];
        vr__planned_link__init(&v[n]);
        v[n].host_a = (char *) h->a;
        v[n].host_b = (char *) h->b;
        v[n].demand_bps = h->demand_bps;
        v[n].kind = h->state != PLAN_LINK_UP
                        ? VR__PLANNED_LINK_KIND__PLANNED_LINK_PENDING
                    : h->kind == PLAN_LINK_RESERVED
                        ? VR__PLANNED_LINK_KIND__PLANNED_LINK_RESERVED
                        : VR__PLANNED_LINK_KIND__PLANNED_LINK_COMMODITY;
        v[n].resv_id = (char *) h->resv_id;
        v[n].link = (char *) h->name;
        pv[n] = &v[n];
        n++;
    }
    Vr__Plan plan = VR__PLAN__INIT;
    plan.topology_version = self->topo_version;
    plan.policy = (char *) self->cfg->policy;
    plan.links = pv;
    plan.n_links = n;
    bus_send(self->bus, svc_control(self->svc), VR__MSG_TYPE__MSG_PLAN,
             &plan.base);
    free(v);
    free(pv);
}

static int
s_on_request(svc_t *svc, bus_msg_t *req, void *arg)
{
    plan_svc_t *self = arg;
    if (req->type == VR__MSG_TYPE__MSG_PLAN_QUERY) {
        /* PlanQuery has no fields: one that carries some (a filter of a
         * later version) is refused, not answered as if unfiltered. */
        char why[200];
        if (!pbcheck_no_unknown(req->body, why, sizeof why)) {
            VLOG_WARN_RL("refused PLAN_QUERY from '%s': %s",
                         LOG_ESC(req->sender), why);
            bus_send_error(self->bus, svc_control(svc),
                           VR__ERROR_CODE__ERR_BAD_REQUEST, req->type, "%s",
                           why);
            return 0;
        }
        s_plan_reply(self);
        return 0;
    }
    return -1;
}

static void
s_on_status(svc_t *svc, Vr__StatusReply *reply, void *arg)
{
    (void) svc;
    plan_svc_t *self = arg;
    struct plan_counters c;
    plan_core_get_counters(self->core, &c);
    const struct plan_links *ls = &self->links;
    size_t reserved = 0;
    for (size_t i = 0; i < ls->n; i++) {
        reserved += ls->v[i].state == PLAN_LINK_UP
                    && ls->v[i].kind == PLAN_LINK_RESERVED;
    }
    bus_status_add_info(reply, "policy", self->cfg->policy);
    bus_status_add_info(reply, "broker_synced", self->synced ? "yes" : "no");
    bus_status_add_counter(reply, "links_reserving",
                           plan_links_count(ls, PLAN_LINK_NEW)
                               + plan_links_count(ls, PLAN_LINK_RESERVING),
                           true);
    bus_status_add_counter(reply, "links_setting_up",
                           plan_links_count(ls, PLAN_LINK_SETUP)
                               + plan_links_count(ls, PLAN_LINK_SWITCHING),
                           true);
    bus_status_add_counter(reply, "links_up",
                           plan_links_count(ls, PLAN_LINK_UP), true);
    bus_status_add_counter(reply, "links_up_reserved", reserved, true);
    bus_status_add_counter(reply, "agents", self->agents.n, true);
    bus_status_add_counter(reply, "agents_refused", self->agents.n_refused,
                           false);
    bus_status_add_counter(reply, "agents_evicted", self->agents.n_evicted,
                           false);
    bus_status_add_counter(reply, "agents_forgotten",
                           self->agents.n_forgotten, false);
    bus_status_add_counter(reply, "topologies", self->n_topologies, false);
    bus_status_add_counter(reply, "reservations_asked",
                           self->n_reserve_asked, false);
    bus_status_add_counter(reply, "reservations_refused",
                           self->n_reserve_refused, false);
    bus_status_add_counter(reply, "reservations_limited",
                           self->n_reserve_limited, false);
    bus_status_add_counter(reply, "reservations_no_reply",
                           self->n_reserve_no_reply, false);
    bus_status_add_counter(reply, "reserving_timeouts",
                           self->n_reserving_timeouts, false);
    bus_status_add_counter(reply, "broker_reconciles", self->n_reconciles,
                           false);
    bus_status_add_counter(reply, "broker_reconciles_failed",
                           self->n_reconcile_failed, false);
    bus_status_add_counter(reply, "reserves_held_for_a_release",
                           self->n_reserve_held_back, false);
    bus_status_add_counter(reply, "paths_held_over_restarts",
                           self->n_restart_holds, false);
    bus_status_add_counter(reply, "aggregator_queries_failed",
                           self->n_agg_query_failed, false);
    bus_status_add_counter(reply, "orphan_reservations_released",
                           self->n_orphans_released, false);
    bus_status_add_counter(reply, "links_replanned", self->n_replanned,
                           false);
    bus_status_add_counter(reply, "rules_restored", self->n_rules_restored,
                           false);
    bus_status_add_counter(reply, "links_rewired", self->n_links_rewired,
                           false);
    if (self->predict) {
        struct plan_predict_counters pc;
        plan_predict_get_counters(self->predict, &pc);
        bus_status_add_counter(reply, "phases", pc.phases, false);
        bus_status_add_counter(reply, "predictions", pc.predictions, false);
        bus_status_add_counter(reply, "predictions_hit", pc.hits, false);
        bus_status_add_counter(reply, "predictions_missed", pc.misses,
                               false);
    }
    if (self->predict || self->sched) {
        bus_status_add_counter(reply, "bookings", self->n_booked, false);
        bus_status_add_counter(reply, "bookings_refused",
                               self->n_book_refused, false);
        bus_status_add_counter(reply, "bookings_taken", self->n_book_taken,
                               false);
        bus_status_add_counter(reply, "bookings_cancelled",
                               self->n_book_cancelled, false);
        bus_status_add_counter(reply, "bookings_open",
                               plan_books_count(&self->books, PLAN_BOOK_WAIT)
                               + plan_books_count(&self->books,
                                                  PLAN_BOOK_ASKED), true);
    }
    if (self->sched) {
        struct plan_sched_counters sc;
        plan_sched_get_counters(self->sched, &sc);
        bus_status_add_counter(reply, "scheduled_phases", sc.entries, false);
        bus_status_add_counter(reply, "scheduled_booked", sc.handed, false);
        bus_status_add_counter(reply, "scheduled_expired", sc.expired,
                               false);
    }
    bus_status_add_counter(reply, "link_transitions", ls->n_transitions,
                           false);
    bus_status_add_counter(reply, "link_events_refused", ls->n_illegal,
                           false);
    bus_status_add_counter(reply, "links_over_cap", ls->n_full, false);
    bus_status_add_counter(reply, "switches", self->n_switches, false);
    bus_status_add_counter(reply, "failures", self->n_failures, false);
    bus_status_add_counter(reply, "released", self->n_released, false);
    bus_status_add_counter(reply, "adopted", self->n_adopted, false);
    bus_status_add_counter(reply, "stale_links_removed",
                           self->n_stale_removed, false);
    bus_status_add_counter(reply, "decisions", self->next_decision, false);
    bus_status_add_counter(reply, "throttled", c.throttled, false);
    bus_status_add_counter(reply, "live_matrices", c.live, false);
    bus_status_add_counter(reply, "path_costs_refused",
                           plan_costs_refused(self->costs), false);
    bus_status_add_counter(reply, "live_rates_bad", c.live_bad, false);
    bus_status_add_counter(reply, "stale_demand_refused", c.stale, false);
    bus_status_add_counter(reply, "deferred", c.deferred, false);
    bus_status_add_counter(reply, "exact_selections", c.exact, false);
    bus_status_add_counter(reply, "exact_unproven", c.exact_unproven,
                           false);
    bus_status_add_counter(reply, "exact_too_big", c.exact_greedy, false);
    bus_status_add_counter(reply, "links_known", c.n_links, true);
    bus_status_add_counter(reply, "links_selected", c.n_selected, true);
    bus_status_add_counter(reply, "links_wanted", c.n_wanted, true);
    bus_status_add_counter(reply, "vm_pairs_unknown_host",
                           c.pairs_unknown_host, false);
}

/* The core's params from 'cfg', into '*p', with its port limits in
 * '*limits_p' (the caller frees them).  Returns false with the reason in
 * 'err' (empty when memory is short). */
static bool
s_params(const struct plan_cfg *cfg, struct plan_params *p,
         struct plan_port_limit **limits_p, char *err, size_t size)
{
    err[0] = '\0';
    *limits_p = NULL;
    plan_params_default(p);
    if (!plan_policy_parse(cfg->policy, &p->policy)) {
        log_format(err, size, "policy '%s': want top-k or b-matching",
                   cfg->policy);
        return false;
    }
    if (cfg->selection && !strcmp(cfg->selection, "exact")) {
        p->exact = true;
    } else if (!cfg->selection || strcmp(cfg->selection, "greedy")) {
        log_format(err, size, "selection '%s': want greedy or exact",
                   cfg->selection ? cfg->selection : "~");
        return false;
    }
    p->exact_max_links = cfg->exact_max_links;
    const struct plan_ports_cfg *pc = cfg->port_limits.v;
    struct plan_port_limit *limits = calloc(cfg->port_limits.n + 1,
                                            sizeof *limits);
    if (!limits) {
        return false;
    }
    for (size_t i = 0; i < cfg->port_limits.n; i++) {
        limits[i].host = pc[i].host;
        limits[i].ports = pc[i].ports;
    }
    p->k = cfg->k;
    p->default_ports = cfg->ports;
    p->port_limits = limits;
    p->n_port_limits = cfg->port_limits.n;
    p->min_demand_bps = cfg->min_demand_mbps * 1e6;
    p->release_bps = cfg->release_mbps * 1e6;
    p->keep_bonus = cfg->keep_bonus;
    p->t_up_us = (uint64_t) cfg->t_up_ms * 1000;
    p->t_down_us = (uint64_t) cfg->t_down_ms * 1000;
    p->live_max_age_us = (uint64_t) cfg->live_max_age_ms * 1000;
    p->hold_cost = cfg->hold_cost;
    p->wait_min_us = (uint64_t) cfg->wait_min_ms * 1000;
    p->select_grace_us = (uint64_t) cfg->select_grace_ms * 1000;
    p->max_adds = cfg->max_adds;
    p->add_window_us = (uint64_t) cfg->add_window_s * 1000000;
    *limits_p = limits;
    return plan_params_check(p, err, size);
}

static void
s_predict_params(const struct plan_cfg *cfg, struct plan_predict_params *pp)
{
    plan_predict_params_default(pp);
    pp->min_phase_us = (uint64_t) cfg->predict_min_phase_ms * 1000;
    pp->repeats = cfg->predict_repeats;
    pp->tolerance_us = (uint64_t) cfg->predict_tolerance_ms * 1000;
}

bool
plan_cfg_check(const struct plan_cfg *cfg, char *err, size_t size)
{
    struct plan_params p;
    struct plan_port_limit *limits;
    bool ok = s_params(cfg, &p, &limits, err, size);
    free(limits);
    struct plan_predict_params pp;
    s_predict_params(cfg, &pp);
    if (ok && !plan_predict_params_check(&pp, err, size)) {
        return false;
    }
    if (ok) {
        plan_sched_t *sched = plan_sched_new(cfg->schedule.v,
                                             cfg->schedule.n, err, size);
        if (!sched) {
            return false;
        }
        plan_sched_destroy(&sched);
    }
    if (!ok && !err[0]) {
        log_format(err, size, "out of memory");
    }
    return ok;
}

/* The params against each other, so that --check says what the start
 * would. */
static bool
s_cfg_finish(void *cfg, char *err, size_t err_size)
{
    return plan_cfg_check(cfg, err, err_size);
}

const struct svc_def plan_svc_def = {
    .name = "vadapt-planner",
    .role = "planner",
    .summary = "Adapts the overlay to the inferred topology (VADAPT).",
    .keys = plan_cfg_keys,
    .common_offset = offsetof(struct plan_cfg, common),
    .finish = s_cfg_finish,
};

/* Who may ask what of the planner (common/authz.h): its plan is for
 * operators. */
static const struct authz_rule s_authz[] = {
    { VR__MSG_TYPE__MSG_PLAN_QUERY, AUTHZ_OPERATOR,
      { NULL } },
};

/* Sets self->owner to the owner the broker records for our
 * reservations.  With CURVE off it takes the field we send, "planner";
 * with CURVE on it records who the handshake proved, the name of our
 * certificate in its curve.allowed, which deploy/keys.sh copies there
 * under our own certificate's name ("planner.key": "planner"). */
static void
s_own_identity(plan_svc_t *self, const struct plan_cfg *cfg)
{
    snprintf(self->owner, sizeof self->owner, "%s", S_OWNER);
    const char *cert = cfg->common.curve.cert;
    if (!bus_curve_on(self->bus) || !cert) {
        return;
    }
    char path[4096];
    struct authz_ident id;
    snprintf(path, sizeof path, "%s", cert);
    if (authz_ident_from_file(basename(path), &id)) {
        snprintf(self->owner, sizeof self->owner, "%s", id.label);
    } else {
        VLOG_WARN("curve.cert '%s' is not named as an identity "
                  "(<role>[-<name>].key): taking our reservations at the "
                  "broker to be owned by '%s'", LOG_ESC(cert), self->owner);
    }
}

plan_svc_t *
plan_svc_new(svc_t *svc, const struct plan_cfg *cfg, char *err, size_t size)
{
    struct plan_params p;
    struct plan_port_limit *limits;
    if (!s_params(cfg, &p, &limits, err, size)) {
        free(limits);
        return NULL;
    }
    plan_svc_t *self = calloc(1, sizeof *self);
    if (!self) {
        free(limits);
        return NULL;
    }
    self->svc = svc;
    self->cfg = cfg;
    self->bus = svc_bus(svc);
    plan_agents_init(&self->agents, cfg->max_agents,
                     (uint64_t) cfg->agent_forget_ms * 1000, s_agent_in_use,
                     self);
    s_own_identity(self, cfg);
    self->t0_us = vtime_mono_us();
    uint64_t nonce;
    if (getrandom(&nonce, sizeof nonce, GRND_NONBLOCK) != sizeof nonce) {
        /* Only needs to differ from our last start's: no secret. */
        nonce = vtime_now_us() ^ ((uint64_t) getpid() << 32);
    }
    plan_links_init(&self->links, PLAN_LINK_MAX, nonce);
    plan_books_init(&self->books, nonce);
    if (cfg->predict) {
        struct plan_predict_params pp;
        s_predict_params(cfg, &pp);
        char why[128];
        if (!plan_predict_params_check(&pp, why, sizeof why)) {
            log_format(err, size, "predict_*: %s", why);
            free(limits);
            free(self);
            return NULL;
        }
        self->predict = plan_predict_new(&pp);
        if (!self->predict) {
            free(limits);
            free(self);
            return NULL;
        }
    }
    if (cfg->schedule.n) {
        self->sched = plan_sched_new(cfg->schedule.v, cfg->schedule.n, err,
                                     size);
        self->sched_pr = self->sched ? malloc(sizeof *self->sched_pr)
                                     : NULL;
        if (!self->sched_pr) {
            if (self->sched) {
                log_format(err, size, "out of memory");
            }
            plan_sched_destroy(&self->sched);
            plan_predict_destroy(&self->predict);
            free(limits);
            free(self);
            return NULL;
        }
    }
    self->core = plan_core_new(&p);
    free(limits);
    self->costs = plan_costs_new((uint64_t) cfg->path_setup_ms * 1000,
                                 (uint64_t) cfg->path_teardown_ms * 1000);
    self->vmloc = plan_vmloc_new(S_VMLOC_AGE_US);
    if (!self->core || !self->costs || !self->vmloc) {
        goto error;
    }
    if (cfg->path_setup_ms) {
        plan_core_set_cost(self->core, NULL, NULL,
                           (uint64_t) cfg->path_setup_ms * 1000,
                           (uint64_t) cfg->path_teardown_ms * 1000);
    }
    self->events = bus_bind(self->bus, ZMQ_PUB, cfg->events);
    self->agg_sub = bus_connect(self->bus, ZMQ_SUB, cfg->aggregator_events,
                                "aggregator");
    self->resv_sub = bus_connect(self->bus, ZMQ_SUB, cfg->broker_events,
                                 "broker");
    self->broker = bus_client_new(self->bus, cfg->broker, "broker",
                                  (int) cfg->call_timeout_ms, 1);
    self->aggregator = bus_client_new(self->bus, cfg->aggregator,
                                      "aggregator", 250, 1);
    self->sync = bus_client_new(self->bus, cfg->broker, "broker", 250, 1);
    if (!self->events || !self->agg_sub || !self->resv_sub || !self->broker
        || !self->aggregator || !self->sync) {
        goto error;
    }
    /* A stopped broker costs one timeout, then asks fail at once for a
     * while (no reply: asked again later, same id). */
    bus_client_set_pause(self->broker, 1000);
    bus_subscribe(self->agg_sub, "");
    bus_subscribe(self->resv_sub, "");
    if (svc_add_reader(svc, self->agg_sub, s_on_event, self) != 0
        || svc_add_reader(svc, self->resv_sub, s_on_event, self) != 0
        || svc_add_timer(svc, cfg->tick_ms, s_on_tick, self) != 0) {
        goto error;
    }
    svc_on_request(svc, s_on_request, s_on_status, self);
    svc_set_authz(svc, s_authz, AUTHZ_N(s_authz));
    svc_set_state(svc, "starting: reading the broker's reservations");
    if (!strcmp(cfg->policy, "b-matching")) {
        VLOG_INFO("b-matching selection %s (exact up to %u links)",
                  cfg->selection, cfg->exact_max_links);
    }
    VLOG_INFO("policy %s, k %u, T_up %u ms, T_down %u ms, min demand %g "
              "Mbit/s, at most %u reservations per %u s, reservations %s "
              "(owned by '%s')",
              cfg->policy, cfg->k, cfg->t_up_ms, cfg->t_down_ms,
              cfg->min_demand_mbps, cfg->max_adds, cfg->add_window_s,
              cfg->reserve ? "on" : "off", LOG_ESC(self->owner));
    if (self->predict) {
        VLOG_INFO("predictive booking on: a phase is a selection stable "
                  "%u ms; a successor seen %u times in a row, within %u ms, "
                  "is booked %u ms before its set-up",
                  cfg->predict_min_phase_ms,
                  cfg->predict_repeats, cfg->predict_tolerance_ms,
                  cfg->predict_lead_ms);
    }
    if (self->sched) {
        VLOG_INFO("%zu scheduled phase(s): their paths booked to be up at "
                  "their start", cfg->schedule.n);
    }
    return self;

error:
    plan_svc_destroy(&self);
    return NULL;
}

void
plan_svc_destroy(plan_svc_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    plan_svc_t *self = *self_p;
    plan_agents_uninit(&self->agents);
    plan_links_uninit(&self->links);
    bus_client_destroy(&self->broker);
    bus_client_destroy(&self->aggregator);
    bus_client_destroy(&self->sync);
    zsock_destroy(&self->agg_sub);
    zsock_destroy(&self->resv_sub);
    zsock_destroy(&self->events);
    plan_core_destroy(&self->core);
    plan_costs_destroy(&self->costs);
    plan_vmloc_destroy(&self->vmloc);
    plan_predict_destroy(&self->predict);
    plan_sched_destroy(&self->sched);
    free(self->sched_pr);
    free(self->infos);
    free(self);
    *self_p = NULL;
}
