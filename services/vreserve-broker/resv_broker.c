/* SPDX-License-Identifier: MIT */
/* The broker's logic.  Every change of a reservation goes through s_move():
 * store first (one transaction), then the event.  The adapter is asked with
 * the reservation's id as the request id, so asking again after a timeout
 * or a crash never makes a second path, and a path the adapter made for a
 * reservation the broker had not yet marked is found by that id. */
#include "resv_broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "eth.h"
#include "log.h"
#include "resv_cal.h"
#include "resv_check.h"
#include "resv_fsm.h"
#include "resv_store.h"
#include "vtime.h"

LOG_MODULE("broker");

/* A start this much in the past is taken as "now" (clocks and the bus
 * are not instant); earlier is refused. */
#define S_PAST_SLACK_US UINT64_C(2000000)
/* How often the calendar is looked at: the start and end precision. */
enum { S_SCHEDULE_MS = 100 };

#define S(X) VR__RESV_STATE__RESV_STATE_##X
#define P(X) VR__PATH_STATE__PATH_STATE_##X

static const struct cfg_key s_endpoint_keys[] = {
    { .name = "host", .type = CFG_STR,
      .offset = offsetof(struct broker_endpoint, host), .required = true,
      .help = "overlay host (agent id)" },
    { .name = "ip", .type = CFG_STR,
      .offset = offsetof(struct broker_endpoint, ip), .required = true,
      .help = "its endpoint address on this network" },
    CFG_KEYS_END,
};

static const struct cfg_key s_network_keys[] = {
    { .name = "name", .type = CFG_STR,
      .offset = offsetof(struct broker_network, name), .required = true,
      .help = "network name" },
    CFG_KEY_U32("max_paths", struct broker_network, max_paths, 0, 100000,
                64, "open reservations on this network at most"),
    CFG_KEY_SEQ("endpoints", struct broker_network, endpoints,
                s_endpoint_keys, struct broker_endpoint,
                "hosts attached to it"),
    CFG_KEYS_END,
};

#define T struct broker_cfg
const struct cfg_key broker_cfg_keys[] = {
    SVC_CFG_COMMON_KEYS(T, BROKER_DEFAULT_CONTROL),
    CFG_KEY_STR("bus.events", T, events, BROKER_DEFAULT_EVENTS,
                "endpoint the events (PUB) socket binds"),
    CFG_KEY_STR("bus.adapter", T, adapter, BROKER_DEFAULT_ADAPTER,
                "odin-adapter control endpoint"),
    CFG_KEY_STR("bus.adapter_events", T, adapter_events,
                BROKER_DEFAULT_ADAPTER_EVENTS, "odin-adapter events endpoint"),
    CFG_KEY_STR("db", T, db, "/var/lib/vreserve/broker.db",
                "SQLite file holding every reservation and its history "
                "(its directory is made if missing)"),
    CFG_KEY_SEQ("networks", T, networks, s_network_keys,
                struct broker_network,
                "reservable networks: name, max_paths, endpoints"),
    CFG_KEY_U32("max_paths_per_host", T, max_paths_per_host, 0, 100000, 4,
                "open reservations with a host at either end, at most"),
    CFG_KEY_U32("max_open", T, max_open, 1, 1000000, 10000,
                "open reservations (bookings ahead included) at most, "
                "however far apart in time"),
    CFG_KEY_DOUBLE("default_bandwidth_mbps", T, default_bandwidth_mbps, 0,
                   1e7, 1000, "bandwidth asked for when a request says 0"),
    CFG_KEY_U32("adapter_timeout_ms", T, adapter_timeout_ms, 50, 600000,
                1000, "how long to wait for the adapter's reply"),
    CFG_KEY_U32("reconcile_ms", T, reconcile_ms, 100, 3600000, 5000,
                "how often to compare our reservations with its paths"),
    CFG_KEY_U32("provisioning_timeout_ms", T, provisioning_timeout_ms, 100,
                3600000, 120000,
                "a path still provisioning after this is torn down"),
    CFG_KEY_U32("retention_s", T, retention_s, 0, 315360000, 3600,
                "ended reservations are deleted, with their history, this "
                "long after they ended (0: at the next reconcile)"),
    CFG_KEY_U32("list_page_max", T, list_page_max, 1, 100000, 1000,
                "reservations in one ResvList reply, at most"),
    CFG_KEYS_END,
};
#undef T

const struct svc_def resv_broker_def = {
    .name = "vreserve-broker",
    .role = "broker",
    .summary = "Reservation broker: lifecycle and persistence (VRESERVE).",
    .keys = broker_cfg_keys,
    .common_offset = offsetof(struct broker_cfg, common),
};

struct resv_broker {
    svc_t *svc;
    const struct broker_cfg *cfg;
    bus_t *bus;
    resv_store_t *store;
    zsock_t *events;            /* PUB */
    zsock_t *paths;             /* SUB: adapter's path events */
    bus_client_t *adapter;
    uint64_t n_events;
    uint64_t n_orphans;         /* adapter paths torn down: nobody's */
    uint64_t n_vanished;        /* reservations whose path disappeared */
    uint64_t n_adapter_errors;  /* adapter unreachable or refusing */
    uint64_t n_reconciles;
    uint64_t n_store_errors;    /* store reads or writes that failed */
    uint64_t n_bad_requests;    /* requests refused by resv_check */
    uint64_t n_purged;          /* ended reservations deleted */
    uint64_t n_started;         /* advance reservations whose start came */
    uint64_t n_ended;           /* reservations whose end came */
    uint64_t n_booked;          /* bookings the adapter's calendar took */
};

/* ------------------------------------------------------------------ */
/* Records, events */

static void
s_to_proto(const struct resv_rec *r, Vr__Reservation *out)
{
    vr__reservation__init(out);
    out->resv_id = (char *) r->id;
    out->host_a = (char *) r->host_a;
    out->host_b = (char *) r->host_b;
    out->bandwidth_mbps = r->bandwidth_mbps;
    out->latency_ms = r->latency_ms;
    out->state = r->state;
    out->path_id = (char *) r->path_id;
    out->network = (char *) r->network;
    out->owner = (char *) r->owner;
    out->request_id = (char *) r->request_id;
    out->created_us = r->created_us;
    out->updated_us = r->updated_us;
    out->error = (char *) r->error;
    out->addr_a = (char *) r->addr_a;
    out->addr_b = (char *) r->addr_b;
    out->start_us = r->start_us;
    out->end_us = r->end_us;
    out->vlan = r->vlan;
    out->vlan_b = r->vlan_b;
    out->link_prefix_len = r->link_prefix_len;
}

static void
s_publish(resv_broker_t *self, const struct resv_rec *r, Vr__ResvState old,
          const char *reason)
{
    Vr__Reservation resv;
    s_to_proto(r, &resv);
    Vr__ResvEvent ev = VR__RESV_EVENT__INIT;
    ev.resv = &resv;
    ev.old_state = old;
    ev.reason = (char *) reason;
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_RESV_EVENT, &ev.base);
    self->n_events++;
}

/* Moves 'r' to 'to' (store, then event); refreshes '*r'.  Returns the
 * store's result. */
static int
s_move(resv_broker_t *self, struct resv_rec *r, Vr__ResvState to,
       const char *reason, const char *path_id, const char *error,
       const char *addr_a, const char *addr_b)
{
    Vr__ResvState old = r->state;
    int rc = resv_store_transition(self->store, r->id, to, reason, path_id,
                                   error, addr_a, addr_b, r);
    if (rc == 0) {
        VLOG_INFO("%s %s-%s: %s -> %s (%s)", r->id, r->host_a, r->host_b,
                  resv_fsm_name(old), resv_fsm_name(to), LOG_ESC(reason));
        s_publish(self, r, old, reason);
    } else if (rc == RESV_STORE_ILLEGAL) {
        VLOG_WARN_RL("%s: %s -> %s refused (%s)", r->id,
                     resv_fsm_name(old), resv_fsm_name(to), LOG_ESC(reason));
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Networks */

static const struct broker_endpoint *
s_endpoint(const struct broker_network *n, const char *host)
{
    const struct broker_endpoint *e = n->endpoints.v;
    for (size_t i = 0; i < n->endpoints.n; i++) {
        if (!strcmp(e[i].host, host)) {
            return &e[i];
        }
    }
    return NULL;
}

/* The first network that has both hosts; NULL with 'why' if none. */
static const struct broker_network *
s_network(const resv_broker_t *self, const char *a, const char *b,
          const char **ip_a, const char **ip_b, char *why, size_t why_size)
{
    const struct broker_network *nets = self->cfg->networks.v;
    if (!strcmp(a, b)) {
        snprintf(why, why_size, "'%s' to itself is not a link", a);
        return NULL;
    }
    for (size_t i = 0; i < self->cfg->networks.n; i++) {
        const struct broker_endpoint *ea = s_endpoint(&nets[i], a);
        const struct broker_endpoint *eb = s_endpoint(&nets[i], b);
        if (ea && eb) {
            *ip_a = ea->ip;
            *ip_b = eb->ip;
            return &nets[i];
        }
    }
    snprintf(why, why_size, "no reservable network has both '%s' and '%s'",
             a, b);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The adapter */

/* Brings reservation 'r' in line with the adapter's view of its path. */
static void
s_apply_path(resv_broker_t *self, struct resv_rec *r, const Vr__Path *p);



static void
s_teardown(resv_broker_t *self, const char *path_id, const char *why)
{
    Vr__PathTeardown req = VR__PATH_TEARDOWN__INIT;
    req.path_id = (char *) path_id;
    bus_msg_t reply;
    if (bus_client_call(self->adapter, VR__MSG_TYPE__MSG_PATH_TEARDOWN,
                        &req.base, VR__MSG_TYPE__MSG_PATH_REPLY, &reply)
        != 0) {
        if (reply.error != VR__ERROR_CODE__ERR_NOT_FOUND) {
            self->n_adapter_errors++;
            VLOG_WARN_RL("teardown %s (%s): %s", LOG_ESC(path_id),
                         LOG_ESC(why), LOG_ESC(reply.error_text));
        }
    }
    bus_msg_clear(&reply);
}

/* Asks the adapter for the path of 'r' with its endpoints on the
 * network, for now ('booked' false) or for its span.  Returns false with
 * 'why' set, asking nothing, when the hosts are on no network together;
 * else the call's result in '*rc' and its reply in '*reply' (to clear). */
static bool
s_path_call(resv_broker_t *self, const struct resv_rec *r, bool booked,
            char *why, size_t why_size, int *rc, bus_msg_t *reply)
{
    const char *ip_a, *ip_b;
    if (!s_network(self, r->host_a, r->host_b, &ip_a, &ip_b, why,
                   why_size)) {
        return false;
    }
    Vr__PathCreate req = VR__PATH_CREATE__INIT;
    req.request_id = (char *) r->id;
    req.src_ip = (char *) ip_a;
    req.dst_ip = (char *) ip_b;
    req.bandwidth_mbps = r->bandwidth_mbps;
    req.latency_ms = r->latency_ms;
    if (booked) {
        req.start_us = r->start_us;
        req.end_us = r->end_us;
    }
    *rc = bus_client_call(self->adapter, VR__MSG_TYPE__MSG_PATH_CREATE,
                          &req.base, VR__MSG_TYPE__MSG_PATH_REPLY, reply);
    return true;
}

/* Asks the adapter for the path of 'r' (REQUESTED). */
static void
s_create(resv_broker_t *self, struct resv_rec *r)
{
    char why[160];
    bus_msg_t reply;
    int rc;
    if (!s_path_call(self, r, false, why, sizeof why, &rc, &reply)) {
        s_move(self, r, S(FAILED), why, NULL, why, NULL, NULL);
        return;
    }
    if (rc == 0) {
        s_apply_path(self, r, ((Vr__PathReply *) reply.body)->path);
    } else if (reply.error == VR__ERROR_CODE__ERR_TIMEOUT
               || reply.error == VR__ERROR_CODE__ERR_UNAVAILABLE) {
        /* Maybe made, maybe not: the next reconcile finds out, by id. */
        self->n_adapter_errors++;
        VLOG_WARN_RL("%s: adapter: %s; will retry", r->id,
                     LOG_ESC(reply.error_text));
    } else {
        self->n_adapter_errors++;
        char err[256];
        snprintf(err, sizeof err, "adapter refused: %s", reply.error_text);
        s_move(self, r, S(FAILED), err, NULL, err, NULL, NULL);
    }
    bus_msg_clear(&reply);
}

/* Hands the booking 'r' (SCHEDULED) to the adapter at once: a backend
 * with a calendar (NSI) books it at the provider for its span, so a
 * conflict there is known now, and the data plane comes up at the start;
 * the path's id is recorded (SCHEDULED -> SCHEDULED).  A backend without
 * one answers ERR_NO_CALENDAR: the adapter is asked at the start, as
 * before.  At the start s_create() asks again with the same request id
 * and gets this path. */
static void
s_book(resv_broker_t *self, struct resv_rec *r)
{
    char why[160];
    bus_msg_t reply;
    int rc;
    if (!s_path_call(self, r, true, why, sizeof why, &rc, &reply)) {
        return;                 /* failed at its start, as before */
    }
    if (rc == 0) {
        const Vr__Path *p = ((Vr__PathReply *) reply.body)->path;
        if (p && p->path_id && *p->path_id) {
            char reason[96];
            snprintf(reason, sizeof reason, "booked at the adapter's "
                     "calendar: path %s", p->path_id);
            if (p->state == P(PROVISIONING) || p->state == P(UP)) {
                self->n_booked++;
                s_move(self, r, S(SCHEDULED), reason, p->path_id, NULL,
                       NULL, NULL);
            } else {
                s_apply_path(self, r, p);
            }
        }
    } else if (reply.error == VR__ERROR_CODE__ERR_NO_CALENDAR) {
        /* Today's way: no path before the start. */
    } else if (reply.error == VR__ERROR_CODE__ERR_NOT_RESERVABLE) {
        /* It would be refused at the start as well. */
        self->n_adapter_errors++;
        char err[256];
        snprintf(err, sizeof err, "adapter refused the booking: %s",
                 reply.error_text);
        s_move(self, r, S(FAILED), err, NULL, err, NULL, NULL);
    } else {
        /* Maybe booked, maybe not (a timeout), or not now (a schedule
         * beyond the adapter's horizon, its limits): the start asks by
         * the same id. */
        self->n_adapter_errors++;
        VLOG_WARN_RL("%s: booking at the adapter: %s; asked at its start",
                     r->id, LOG_ESC(reply.error_text));
    }
    bus_msg_clear(&reply);
}

/* Whether path 'p''s VLANs and prefix length are in range (the second
 * VLAN only with the first). */
static bool
s_path_link_ok(const Vr__Path *p)
{
    return eth_vlan_pair_ok(p->vlan, p->vlan_dst) && p->link_prefix_len <= 32;
}

/* PROVISIONING -> ACTIVE with path 'p''s link addresses, VLAN and prefix
 * length (checked), in one transition. */
static void
s_move_active(resv_broker_t *self, struct resv_rec *r, const char *pid,
              const Vr__Path *p)
{
    Vr__ResvState old = r->state;
    struct resv_link link = {
        .addr_a = p->src_link_addr, .addr_b = p->dst_link_addr,
        .vlan = (int) p->vlan, .vlan_b = (int) p->vlan_dst,
        .prefix_len = (int) p->link_prefix_len,
    };
    int rc = resv_store_transition_link(self->store, r->id, S(ACTIVE),
                                        "path up", pid, NULL, &link, r);
    if (rc == 0) {
        VLOG_INFO("%s %s-%s: %s -> %s (path up%s)", r->id, r->host_a,
                  r->host_b, resv_fsm_name(old), resv_fsm_name(S(ACTIVE)),
                  r->vlan ? ", a VLAN circuit" : "");
        s_publish(self, r, old, "path up");
    }
}

static void
s_apply_path(resv_broker_t *self, struct resv_rec *r, const Vr__Path *p)
{
    if (!p || !p->path_id || !*p->path_id) {
        return;
    }
    const char *pid = p->path_id;
    switch (p->state) {
    case P(PROVISIONING):
        if (r->state == S(REQUESTED)) {
            s_move(self, r, S(PROVISIONING), "adapter is setting it up", pid,
                   NULL, NULL, NULL);
        }
        break;
    case P(UP):
        if (r->state == S(REQUESTED)) {
            s_move(self, r, S(PROVISIONING), "adapter made it", pid, NULL,
                   NULL, NULL);
        }
        if (r->state == S(PROVISIONING) && !s_path_link_ok(p)) {
            /* Hosts must not be told to make a device from it. */
            char err[256];
            snprintf(err, sizeof err, "path %s: the adapter gave VLAN %u/%u "
                     "/ prefix length %u (want 0 to %d, the second only with "
                     "the first, and 0 to 32)", pid, p->vlan, p->vlan_dst,
                     p->link_prefix_len, ETH_VLAN_ID_MAX);
            self->n_adapter_errors++;
            VLOG_WARN_RL("%s: %s", r->id, err);
            if (s_move(self, r, S(FAILED), err, pid, err, NULL, NULL) == 0) {
                s_teardown(self, pid, "its path is unusable");
            }
        } else if (r->state == S(PROVISIONING)) {
            s_move_active(self, r, pid, p);
        } else if (r->state == S(RELEASING)) {
            s_teardown(self, pid, "release pending");
        } else if (resv_fsm_final(r->state)) {
            self->n_orphans++;
            s_teardown(self, pid, "its reservation is over");
        }
        break;
    case P(FAILED):
    case P(DOWN):
        if (r->state == S(RELEASING)) {
            s_move(self, r, S(RELEASED), "path torn down", pid, NULL, NULL,
                   NULL);
        } else if (!resv_fsm_final(r->state)) {
            char err[300];
            snprintf(err, sizeof err, "path %s %s%s%s", pid,
                     p->state == P(FAILED) ? "failed" : "went down",
                     p->error && *p->error ? ": " : "",
                     p->error ? p->error : "");
            s_move(self, r, S(FAILED), err, pid, err, NULL, NULL);
        }
        break;
    case P(TEARING_DOWN):
    default:
        break;
    }
}

/* Reservation 'r', whose path is not among the adapter's live ones, takes
 * the end the adapter recorded for it (failed in a restart, say), as the
 * event it missed would have told.  False if the adapter does not know
 * the path as ended, or does not answer: then it vanished. */
static bool
s_path_ended(resv_broker_t *self, struct resv_rec *r)
{
    if (!*r->path_id) {
        return false;
    }
    Vr__PathStatusRequest req = VR__PATH_STATUS_REQUEST__INIT;
    req.path_id = r->path_id;
    bus_msg_t reply;
    bool ended = false;
    if (bus_client_call(self->adapter, VR__MSG_TYPE__MSG_PATH_STATUS_REQUEST,
                        &req.base, VR__MSG_TYPE__MSG_PATH_REPLY, &reply)
        == 0) {
        const Vr__Path *p = ((Vr__PathReply *) reply.body)->path;
        ended = p && p->path_id && !strcmp(p->path_id, r->path_id)
                && (p->state == P(FAILED) || p->state == P(DOWN));
        if (ended) {
            s_apply_path(self, r, p);
        }
    }
    bus_msg_clear(&reply);
    return ended;
}

bool
resv_broker_take(resv_broker_t *self, const bus_msg_t *msg)
{
    const Vr__Path *p = msg->type == VR__MSG_TYPE__MSG_PATH_EVENT
                            ? ((Vr__PathEvent *) msg->body)->path : NULL;
    if (!p || !p->path_id || !p->request_id) {
        return false;
    }
    struct resv_rec r;
    int rc = resv_store_by_path(self->store, p->path_id, &r);
    if (rc == RESV_STORE_NOT_FOUND) {
        rc = resv_store_get(self->store, p->request_id, &r);
    }
    if (rc == 0) {
        s_apply_path(self, &r, p);
    } else if (rc < 0) {
        /* Unknown is not nobody's: the next reconcile, which reads
         * the whole store or nothing, decides. */
        self->n_store_errors++;
        VLOG_WARN_RL("path %s event: store lookup failed (%s): left "
                     "to the next reconcile", LOG_ESC(p->path_id),
                     resv_store_error(self->store));
    } else if (p->state == P(UP)) {
        self->n_orphans++;
        s_teardown(self, p->path_id, "nobody reserved it");
    }
    return true;
}

/* A path event from the adapter. */
static int
s_on_path_event(svc_t *svc, zsock_t *sock, void *arg)
{
    resv_broker_t *self = arg;
    (void) svc;
    bus_msg_t msg;
    if (bus_recv(self->bus, sock, &msg) != 0) {
        return 0;
    }
    resv_broker_take(self, &msg);
    bus_msg_clear(&msg);
    return 0;
}

/* Compares our open reservations with the adapter's paths.  Returns -1 if
 * the adapter could not be asked.
 * Calls to the adapter block the control loop for up to
 * adapter_timeout_ms when it hangs, then pause (bus_client_set_pause()); a
 * DEALER socket with replies dispatched by a reader would not block at
 * all. */
static int
s_reconcile(resv_broker_t *self)
{
    Vr__PathListRequest req = VR__PATH_LIST_REQUEST__INIT;
    bus_msg_t reply;
    if (bus_client_call(self->adapter, VR__MSG_TYPE__MSG_PATH_LIST_REQUEST,
                        &req.base, VR__MSG_TYPE__MSG_PATH_LIST, &reply)
        != 0) {
        self->n_adapter_errors++;
        VLOG_WARN_RL("reconcile: adapter: %s", reply.error_text);
        bus_msg_clear(&reply);
        return -1;
    }
    self->n_reconciles++;
    const Vr__PathList *list = (const Vr__PathList *) reply.body;
    bool *claimed = calloc(list->n_paths + 1, sizeof *claimed);
    struct resv_rec *open = NULL;
    size_t n_open = 0;
    if (!claimed || resv_store_list(self->store, false, &open, &n_open)) {
        /* A partial read must not look like paths nobody owns. */
        self->n_store_errors++;
        VLOG_WARN_RL("reconcile: reading the store failed (%s): round "
                     "aborted, nothing torn down",
                     claimed ? resv_store_error(self->store)
                             : "out of memory");
        free(claimed);
        bus_msg_clear(&reply);
        return -1;
    }
    uint64_t now = vtime_now_us();
    for (size_t i = 0; i < n_open; i++) {
        struct resv_rec *r = &open[i];
        const Vr__Path *p = NULL;
        for (size_t k = 0; k < list->n_paths && !p; k++) {
            const Vr__Path *q = list->paths[k];
            if ((*r->path_id && !strcmp(q->path_id, r->path_id))
                || !strcmp(q->request_id, r->id)) {
                p = q;
                claimed[k] = true;
            }
        }
        if (r->state == S(SCHEDULED)) {
            /* Booked at the adapter's calendar, or no path before its
             * start; a booked path that failed fails the booking. */
            if (p && (p->state == P(FAILED) || p->state == P(DOWN))) {
                s_apply_path(self, r, p);
            }
        } else if (p) {
            s_apply_path(self, r, p);
            if (r->state == S(PROVISIONING)
                && now - r->updated_us
                       > self->cfg->provisioning_timeout_ms * 1000ull) {
                s_teardown(self, p->path_id, "provisioning took too long");
                s_move(self, r, S(FAILED), "provisioning timed out", NULL,
                       "provisioning timed out", NULL, NULL);
            }
        } else if (r->state == S(REQUESTED)) {
            s_create(self, r);
        } else if (r->state == S(RELEASING)) {
            s_move(self, r, S(RELEASED), "path no longer exists", NULL, NULL,
                   NULL, NULL);
        } else if (!s_path_ended(self, r)) {
            self->n_vanished++;
            s_move(self, r, S(FAILED), "path vanished from the adapter",
                   NULL, "path vanished", NULL, NULL);
        }
    }
    for (size_t k = 0; k < list->n_paths; k++) {
        const Vr__Path *q = list->paths[k];
        if (claimed[k] || q->state == P(DOWN) || q->state == P(FAILED)
            || q->state == P(TEARING_DOWN)) {
            continue;
        }
        /* Ours once (a final reservation), or never: either way an
         * orphan, which costs a lambda until torn down. */
        self->n_orphans++;
        VLOG_INFO_RL("reconcile: path %s (%s) is nobody's: tearing it "
                     "down", LOG_ESC(q->path_id), LOG_ESC(q->request_id));
        s_teardown(self, q->path_id, "orphan");
    }
    free(open);
    free(claimed);
    bus_msg_clear(&reply);
    return 0;
}

/* Deletes reservations that ended more than retention_s ago, with their
 * history: what a status scrape or a list reads stays bounded by the
 * open limits plus what ended within the retention period. */
static void
s_purge(resv_broker_t *self)
{
    uint64_t now = vtime_now_us();
    uint64_t keep = (uint64_t) self->cfg->retention_s * 1000000ull;
    size_t n = 0;
    if (now <= keep) {
        return;
    }
    if (resv_store_purge(self->store, now - keep, 1000, &n) != 0) {
        self->n_store_errors++;
        VLOG_WARN_RL("purge of ended reservations failed: %s",
                     resv_store_error(self->store));
        return;
    }
    if (n) {
        self->n_purged += n;
        VLOG_INFO("deleted %zu reservation(s) ended over %u s ago", n,
                  self->cfg->retention_s);
    }
}

static int
s_on_reconcile(svc_t *svc, void *arg)
{
    s_reconcile(arg);
    s_purge(arg);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Requests */

static int
s_reply_resv(resv_broker_t *self, const struct resv_rec *r)
{
    Vr__Reservation resv;
    s_to_proto(r, &resv);
    Vr__ResvReply reply = VR__RESV_REPLY__INIT;
    reply.resv = &resv;
    return bus_send(self->bus, svc_control(self->svc),
                    VR__MSG_TYPE__MSG_RESV_REPLY, &reply.base);
}

static int
s_error(resv_broker_t *self, int code, int type, const char *text)
{
    return bus_send_error(self->bus, svc_control(self->svc), code, type, "%s",
                          text);
}

/* Answers a request refused by resv_check with ERR_BAD_REQUEST. */
static void
s_bad_request(resv_broker_t *self, int type, const char *err)
{
    self->n_bad_requests++;
    VLOG_WARN_RL("%s refused: %s", msgtype_name(type), err);
    s_error(self, VR__ERROR_CODE__ERR_BAD_REQUEST, type, err);
}

/* Answers a request the store could not serve: nothing was changed. */
static void
s_store_failed(resv_broker_t *self, int type, const char *what)
{
    char why[300];
    self->n_store_errors++;
    snprintf(why, sizeof why, "reservation store failed (%s): %s",
             resv_store_error(self->store), what);
    VLOG_WARN_RL("%s: %s", msgtype_name(type), why);
    s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type, why);
}

/* The span a reservation holds in the calendar. */
static struct resv_span
s_span(const struct resv_rec *r)
{
    return (struct resv_span) {
        r->start_us ? r->start_us : r->created_us,
        r->end_us ? r->end_us : RESV_CAL_FOREVER,
    };
}

/* Checks the calendar: at no instant of [start, end) may either host have
 * max_paths_per_host reservations, or the network its max_paths, before
 * this one.  Answers the refusal itself; returns true if it fits. */
static bool
s_fits(resv_broker_t *self, int type, const char *a, const char *b,
       const struct broker_network *net, uint64_t start, uint64_t end)
{
    struct resv_rec *open = NULL;
    size_t n = 0;
    if (resv_store_list(self->store, false, &open, &n) != 0) {
        s_store_failed(self, type, "nothing reserved");
        return false;
    }
    /* Bookings that never overlap pass every limit below: this one
     * bounds the store (each is a row, read whole by every request). */
    if (n >= self->cfg->max_open) {
        free(open);
        char why[128];
        snprintf(why, sizeof why, "%zu reservations open or booked, the "
                 "limit is max_open (%u)", n, self->cfg->max_open);
        s_error(self, VR__ERROR_CODE__ERR_LIMIT, type, why);
        return false;
    }
    struct resv_span *sp = calloc(n + 1, sizeof *sp);
    if (!sp) {
        free(open);
        s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type, "out of memory");
        return false;
    }
    const char *who[3] = { a, b, net->name };
    uint32_t limit[3] = { self->cfg->max_paths_per_host,
                          self->cfg->max_paths_per_host, net->max_paths };
    bool ok = true;
    for (int w = 0; w < 3 && ok; w++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            const struct resv_rec *r = &open[i];
            if (w < 2 ? !strcmp(r->host_a, who[w]) || !strcmp(r->host_b,
                                                               who[w])
                      : !strcmp(r->network, who[w])) {
                sp[m++] = s_span(r);
            }
        }
        uint64_t at;
        size_t peak = resv_cal_peak(sp, m, start, end, &at);
        if (peak == SIZE_MAX) {
            s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                    "out of memory");
            ok = false;
        } else if (peak >= limit[w]) {
            char why[200];
            uint64_t now = vtime_now_us();
            snprintf(why, sizeof why, "%s '%s' has %zu reservations %s, "
                     "the limit is %u", w < 2 ? "host" : "network", who[w],
                     peak, at <= now ? "open" : "booked then", limit[w]);
            if (at > now) {
                size_t len = strlen(why);
                snprintf(why + len, sizeof why - len, " (%.1f s from now)",
                         (double) (at - now) / 1e6);
            }
            s_error(self, VR__ERROR_CODE__ERR_LIMIT, type, why);
            ok = false;
        }
    }
    free(sp);
    free(open);
    return ok;
}

/* Advance reservations: a SCHEDULED one whose start came is asked of the
 * adapter; one whose end came is released.  From the store, so a restart
 * loses no booking. */
static int
s_on_schedule(svc_t *svc, void *arg)
{
    (void) svc;
    resv_broker_t *self = arg;
    struct resv_rec *due = NULL;
    size_t n = 0;
    if (resv_store_due(self->store, vtime_now_us(), 64, &due, &n) != 0) {
        self->n_store_errors++;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        struct resv_rec *r = &due[i];
        if (r->state == S(SCHEDULED)) {
            if (s_move(self, r, S(REQUESTED), "its start time came", NULL,
                       NULL, NULL, NULL) == 0) {
                self->n_started++;
                s_create(self, r);
            }
        } else if (r->state == S(REQUESTED)) {
            if (s_move(self, r, S(RELEASED), "its end time came", NULL, NULL,
                       NULL, NULL) == 0) {
                self->n_ended++;
            }
        } else if (s_move(self, r, S(RELEASING), "its end time came", NULL,
                          NULL, NULL, NULL) == 0) {
            self->n_ended++;
            s_teardown(self, r->path_id, "its end time came");
        }
    }
    free(due);
    return 0;
}

static void
s_request(resv_broker_t *self, const Vr__ResvRequest *req, int type,
          const bus_msg_t *msg)
{
    struct resv_rec r;
    char why[200];
    if (!resv_check_request(req, why, sizeof why)) {
        s_bad_request(self, type, why);
        return;
    }
    /* The owner is who the CURVE handshake says is asking; the field is
     * only the caller's claim, taken with CURVE off (one local identity). */
    const char *owner = !authz_ident_is_local(&msg->from) ? msg->from.label
                        : req->owner                      ? req->owner
                                                          : "";
    if (strlen(owner) >= sizeof r.owner) {
        s_bad_request(self, type, "the caller's identity is too long to "
                      "own a reservation");
        return;
    }
    /* The same request id again: the same reservation, whatever state
     * (a retry after a timeout).  For another pair of hosts it is a
     * caller's bug, not a retry: refused rather than answered with a
     * reservation the caller did not ask for. */
    if (req->request_id && *req->request_id) {
        int rc = resv_store_by_request(self->store, req->request_id, &r);
        if (rc < 0) {
            s_store_failed(self, type, "nothing reserved");
            return;
        }
        if (rc == 0) {
            bool same = (!strcmp(r.host_a, req->host_a)
                         && !strcmp(r.host_b, req->host_b))
                        || (!strcmp(r.host_a, req->host_b)
                            && !strcmp(r.host_b, req->host_a));
            if (!same) {
                snprintf(why, sizeof why, "request_id is reservation %s, "
                         "of other hosts", r.id);
                s_bad_request(self, type, why);
                return;
            }
            s_reply_resv(self, &r);
            return;
        }
    }
    const char *ip_a, *ip_b;
    const struct broker_network *net = s_network(self, req->host_a,
                                                 req->host_b, &ip_a, &ip_b,
                                                 why, sizeof why);
    if (!net) {
        s_error(self, VR__ERROR_CODE__ERR_NOT_RESERVABLE, type, why);
        return;
    }
    /* When: at once and until released, or booked ahead. */
    uint64_t now = vtime_now_us();
    if (req->start_us && req->start_us + S_PAST_SLACK_US < now) {
        s_bad_request(self, type, "field 'start_us': in the past");
        return;
    }
    uint64_t start = req->start_us > now ? req->start_us : now;
    uint64_t end = req->end_us ? req->end_us : RESV_CAL_FOREVER;
    if (end <= start) {
        s_bad_request(self, type, "field 'end_us': not after the start");
        return;
    }
    if (!s_fits(self, type, req->host_a, req->host_b, net, start, end)) {
        return;
    }
    memset(&r, 0, sizeof r);
    r.start_us = req->start_us > now ? req->start_us : 0;
    r.end_us = req->end_us;
    snprintf(r.host_a, sizeof r.host_a, "%s", req->host_a);
    snprintf(r.host_b, sizeof r.host_b, "%s", req->host_b);
    snprintf(r.network, sizeof r.network, "%s", net->name);
    snprintf(r.owner, sizeof r.owner, "%.*s", (int) sizeof r.owner - 1,
             owner);             /* its length was checked above */
    snprintf(r.request_id, sizeof r.request_id, "%s",
             req->request_id ? req->request_id : "");
    r.bandwidth_mbps = req->bandwidth_mbps > 0
                           ? req->bandwidth_mbps
                           : self->cfg->default_bandwidth_mbps;
    r.latency_ms = req->latency_ms;
    if (r.start_us) {
        snprintf(why, sizeof why, "booked by '%s' for %.1f s from now",
                 r.owner, (double) (r.start_us - now) / 1e6);
    } else {
        snprintf(why, sizeof why, "requested by '%s'", r.owner);
    }
    if (resv_store_insert(self->store, &r, why) != 0) {
        /* Not recorded, so not asked of the adapter: nothing is made
         * that a restart would not know of. */
        s_store_failed(self, type, "nothing reserved");
        return;
    }
    s_publish(self, &r, S(UNKNOWN), why);
    if (r.state == S(REQUESTED)) {
        s_create(self, &r);
    } else if (r.state == S(SCHEDULED)) {
        s_book(self, &r);
    }
    s_reply_resv(self, &r);
}

static void
s_release(resv_broker_t *self, const Vr__ResvRelease *req, int type,
          const bus_msg_t *msg)
{
    struct resv_rec r;
    char why[200];
    if (!resv_check_release(req, why, sizeof why)) {
        s_bad_request(self, type, why);
        return;
    }
    int rc = resv_store_get(self->store, req->resv_id, &r);
    if (rc < 0) {
        s_store_failed(self, type, "not released");
        return;
    }
    if (rc != 0) {
        s_error(self, VR__ERROR_CODE__ERR_NOT_FOUND, type,
                "no such reservation");
        return;
    }
    /* Only its owner or an operator ends a reservation. */
    if (!authz_ident_is_local(&msg->from)
        && !(authz_role_bit(msg->from.role) & AUTHZ_OPERATOR)
        && strcmp(r.owner, msg->from.label) != 0) {
        svc_deny(self->svc, msg, "%s may not release %s: it belongs to "
                 "'%s'", LOG_ESC(msg->from.label), r.id, LOG_ESC(r.owner));
        return;
    }
    const char *reason = req->reason && *req->reason ? req->reason
                                                     : "released";
    if (r.state == S(REQUESTED) || r.state == S(SCHEDULED)) {
        rc = s_move(self, &r, S(RELEASED), reason, NULL, NULL, NULL, NULL);
        if (rc == 0 && *r.path_id) {
            /* Booked at the adapter's calendar: cancelled there too. */
            s_teardown(self, r.path_id, reason);
        }
    } else if (r.state == S(PROVISIONING) || r.state == S(ACTIVE)) {
        rc = s_move(self, &r, S(RELEASING), reason, NULL, NULL, NULL, NULL);
        if (rc == 0) {
            s_teardown(self, r.path_id, reason);
        }
    }
    if (rc < 0) {
        s_store_failed(self, type, "not released");
        return;
    }
    /* Already releasing or over: releasing again changes nothing. */
    s_reply_resv(self, &r);
}

static void
s_list(resv_broker_t *self, const Vr__ResvListRequest *req, int type)
{
    struct resv_rec *v;
    size_t n;
    uint64_t next_n;
    char why[200], next[32] = "";
    if (!resv_check_list(req, why, sizeof why)) {
        s_bad_request(self, type, why);
        return;
    }
    uint64_t after = 0;
    if (req->after && *req->after) {
        after = resv_store_id_number(req->after);
        if (!after) {
            char esc[64];
            snprintf(why, sizeof why, "field 'after': '%s' is not a "
                     "reservation id (r-<n>)",
                     log_escape(esc, sizeof esc, req->after, SIZE_MAX));
            s_bad_request(self, type, why);
            return;
        }
    }
    size_t page = req->page_size && req->page_size < self->cfg->list_page_max
                      ? req->page_size : self->cfg->list_page_max;
    if (resv_store_list_page(self->store, req->include_ended, after, page,
                             &v, &n, &next_n) != 0) {
        s_store_failed(self, type, "no list");
        return;
    }
    if (next_n) {
        snprintf(next, sizeof next, "r-%llu", (unsigned long long) next_n);
    }
    Vr__Reservation *rs = calloc(n + 1, sizeof *rs);
    Vr__Reservation **ps = calloc(n + 1, sizeof *ps);
    if (!rs || !ps) {
        s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            s_to_proto(&v[i], &rs[i]);
            ps[i] = &rs[i];
        }
        Vr__ResvList list = VR__RESV_LIST__INIT;
        list.resvs = ps;
        list.n_resvs = n;
        list.next = next;
        bus_send(self->bus, svc_control(self->svc),
                 VR__MSG_TYPE__MSG_RESV_LIST, &list.base);
    }
    free(rs);
    free(ps);
    free(v);
}

static void
s_show(resv_broker_t *self, const Vr__ResvShowRequest *req, int type)
{
    struct resv_rec r;
    struct resv_hist *h;
    size_t n;
    char why[200];
    if (!resv_check_show(req, why, sizeof why)) {
        s_bad_request(self, type, why);
        return;
    }
    int rc = resv_store_get(self->store, req->resv_id, &r);
    if (rc < 0) {
        s_store_failed(self, type, "not shown");
        return;
    }
    if (rc != 0) {
        s_error(self, VR__ERROR_CODE__ERR_NOT_FOUND, type,
                "no such reservation");
        return;
    }
    if (resv_store_history(self->store, r.id, &h, &n) != 0) {
        s_store_failed(self, type, "not shown");
        return;
    }
    Vr__ResvTransition *ts = calloc(n + 1, sizeof *ts);
    Vr__ResvTransition **tp = calloc(n + 1, sizeof *tp);
    if (ts && tp) {
        for (size_t i = 0; i < n; i++) {
            vr__resv_transition__init(&ts[i]);
            ts[i].from = h[i].from;
            ts[i].to = h[i].to;
            ts[i].time_us = h[i].time_us;
            ts[i].reason = h[i].reason;
            tp[i] = &ts[i];
        }
        Vr__Reservation resv;
        s_to_proto(&r, &resv);
        Vr__ResvShowReply reply = VR__RESV_SHOW_REPLY__INIT;
        reply.resv = &resv;
        reply.history = tp;
        reply.n_history = n;
        bus_send(self->bus, svc_control(self->svc),
                 VR__MSG_TYPE__MSG_RESV_SHOW_REPLY, &reply.base);
    } else {
        s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type, "out of memory");
    }
    free(ts);
    free(tp);
    free(h);
}

static void
s_reservable(resv_broker_t *self, const Vr__ReservableQuery *req, int type)
{
    const char *ip_a, *ip_b;
    char why[200] = "";
    if (!resv_check_reservable(req, why, sizeof why)) {
        s_bad_request(self, type, why);
        return;
    }
    const struct broker_network *net = s_network(self, req->host_a,
                                                 req->host_b, &ip_a, &ip_b,
                                                 why, sizeof why);
    Vr__ReservableReply reply = VR__RESERVABLE_REPLY__INIT;
    reply.reservable = net != NULL;
    reply.network = net ? net->name : "";
    reply.reason = why;
    bus_send(self->bus, svc_control(self->svc),
             VR__MSG_TYPE__MSG_RESERVABLE_REPLY, &reply.base);
}

static int
s_on_request(svc_t *svc, bus_msg_t *req, void *arg)
{
    resv_broker_t *self = arg;
    switch (req->type) {
    case VR__MSG_TYPE__MSG_RESV_REQUEST:
        s_request(self, (Vr__ResvRequest *) req->body, req->type, req);
        return 0;
    case VR__MSG_TYPE__MSG_RESV_RELEASE:
        s_release(self, (Vr__ResvRelease *) req->body, req->type, req);
        return 0;
    case VR__MSG_TYPE__MSG_RESV_LIST_REQUEST:
        s_list(self, (Vr__ResvListRequest *) req->body, req->type);
        return 0;
    case VR__MSG_TYPE__MSG_RESV_SHOW_REQUEST:
        s_show(self, (Vr__ResvShowRequest *) req->body, req->type);
        return 0;
    case VR__MSG_TYPE__MSG_RESERVABLE_QUERY:
        s_reservable(self, (Vr__ReservableQuery *) req->body, req->type);
        return 0;
    default:
        return -1;
    }
}

static void
s_on_status(svc_t *svc, Vr__StatusReply *reply, void *arg)
{
    resv_broker_t *self = arg;
    size_t by_state[8] = { 0 };
    if (resv_store_count_by_state(self->store, by_state, 8) != 0) {
        self->n_store_errors++;
    }
    for (int s = 1; s <= 7; s++) {
        char name[48];
        snprintf(name, sizeof name, "resv_%s", resv_fsm_name(s));
        bus_status_add_counter(reply, name, by_state[s], true);
    }
    bus_status_add_counter(reply, "resv_events", self->n_events, false);
    bus_status_add_counter(reply, "orphans_torn_down", self->n_orphans,
                           false);
    bus_status_add_counter(reply, "paths_vanished", self->n_vanished, false);
    bus_status_add_counter(reply, "adapter_errors", self->n_adapter_errors,
                           false);
    bus_status_add_counter(reply, "reconciles", self->n_reconciles, false);
    bus_status_add_counter(reply, "store_errors", self->n_store_errors,
                           false);
    bus_status_add_counter(reply, "bad_requests", self->n_bad_requests,
                           false);
    bus_status_add_counter(reply, "resv_purged", self->n_purged, false);
    bus_status_add_counter(reply, "resv_started", self->n_started, false);
    bus_status_add_counter(reply, "resv_ended", self->n_ended, false);
    bus_status_add_counter(reply, "resv_booked_at_adapter", self->n_booked,
                           false);
    bus_status_add_info(reply, "db", self->cfg->db);
    bus_status_add_info(reply, "adapter", self->cfg->adapter);
}

/* Who may ask what of the broker (common/authz.h): reservations
 * come from the planner and operators; a release must also come from the
 * reservation's owner or an operator (s_release()). */
static const struct authz_rule s_authz[] = {
    { VR__MSG_TYPE__MSG_RESV_REQUEST, AUTHZ_PLANNER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_RESV_RELEASE, AUTHZ_PLANNER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_RESV_LIST_REQUEST, AUTHZ_PLANNER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_RESV_SHOW_REQUEST, AUTHZ_PLANNER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_RESERVABLE_QUERY, AUTHZ_PLANNER | AUTHZ_OPERATOR,
      { NULL } },
};

/* ------------------------------------------------------------------ */

resv_broker_t *
resv_broker_new(svc_t *svc, const struct broker_cfg *cfg)
{
    resv_broker_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->svc = svc;
    self->cfg = cfg;
    self->bus = svc_bus(svc);
    char *dir = strdup(cfg->db);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash && slash != dir) {
        *slash = '\0';
        zsys_dir_create("%s", dir);
    }
    free(dir);
    self->store = resv_store_new(cfg->db);
    self->events = bus_bind(self->bus, ZMQ_PUB, cfg->events);
    self->paths = bus_connect(self->bus, ZMQ_SUB, cfg->adapter_events,
                              "adapter");
    self->adapter = bus_client_new(self->bus, cfg->adapter, "adapter",
                                   (int) cfg->adapter_timeout_ms, 1);
    if (!self->store || !self->events || !self->paths || !self->adapter) {
        goto error;
    }
    /* A hung adapter costs one timeout, then calls fail at once for 2 s:
     * what was not asked stays REQUESTED and the next reconcile asks. */
    bus_client_set_pause(self->adapter, 2000);
    bus_subscribe(self->paths, TOPIC_PATH);
    svc_on_request(svc, s_on_request, s_on_status, self);
    svc_set_authz(svc, s_authz, AUTHZ_N(s_authz));
    if (svc_add_reader(svc, self->paths, s_on_path_event, self) != 0
        || svc_add_timer(svc, cfg->reconcile_ms, s_on_reconcile, self)
        || svc_add_timer(svc, S_SCHEDULE_MS, s_on_schedule, self)
               != 0) {
        goto error;
    }
    size_t n_open = 0;
    if (resv_store_count_open(self->store, NULL, NULL, &n_open) != 0) {
        goto error;
    }
    VLOG_INFO("broker: %zu open reservation(s) in %s, %zu network(s)",
              n_open, cfg->db, cfg->networks.n);
    /* Before taking requests: adopt, clean up, resume. */
    if (s_reconcile(self) != 0 && n_open > 0) {
        VLOG_WARN("adapter not reachable: reconciling later");
    }
    svc_set_state(svc, "running");
    return self;

error:
    resv_broker_destroy(&self);
    return NULL;
}

void
resv_broker_destroy(resv_broker_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    resv_broker_t *self = *self_p;
    bus_client_destroy(&self->adapter);
    zsock_destroy(&self->paths);
    zsock_destroy(&self->events);
    resv_store_destroy(&self->store);
    free(self);
    *self_p = NULL;
}

resv_store_t *
resv_broker_store(resv_broker_t *self)
{
    return self->store;
}
