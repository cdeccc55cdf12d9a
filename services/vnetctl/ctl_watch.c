/* SPDX-License-Identifier: MIT */
/* `vnetctl watch KIND [--count N] [--timeout SECS]`: subscribes to one
 * service's events socket for one topic and prints every event as it
 * comes, one line each (one JSON object per line with -j), until SIGINT or
 * SIGTERM (exit 0), N events, or SECS seconds.  A SUB socket cannot tell
 * a silent publisher from a dead one, so the service's control socket is
 * asked for its status first and a warning printed if it does not answer;
 * the watch goes on, since ZeroMQ connects whenever the service comes. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth.h"
#include "vnetctl.h"
#include "vtime.h"

/* How often the loop looks at the stop flag even without a message: a
 * signal may land on one of libzmq's threads and not interrupt our poll. */
enum { S_TICK_MS = 100 };

struct s_kind {
    const char *name;           /* on the command line */
    int type;                   /* Vr__MsgType published */
    const char *role;           /* publishing service */
    size_t events_off;          /* its events endpoint in struct ctl_cfg */
    size_t control_off;         /* its control endpoint */
};

#define S_OFF(F) offsetof(struct ctl_cfg, F)
static const struct s_kind s_kinds[] = {
    { "topology", VR__MSG_TYPE__MSG_TOPOLOGY_EVENT, "aggregator",
      S_OFF(aggregator_events), S_OFF(aggregator) },
    { "matrix", VR__MSG_TYPE__MSG_GLOBAL_MATRIX, "aggregator",
      S_OFF(aggregator_events), S_OFF(aggregator) },
    { "reservations", VR__MSG_TYPE__MSG_RESV_EVENT, "broker",
      S_OFF(broker_events), S_OFF(broker) },
    { "paths", VR__MSG_TYPE__MSG_PATH_EVENT, "adapter",
      S_OFF(adapter_events), S_OFF(adapter) },
    { "decisions", VR__MSG_TYPE__MSG_DECISION_EVENT, "planner",
      S_OFF(planner_events), S_OFF(planner) },
};
#undef S_OFF

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    s_stop = sig;
}

static const char *
s_cfg_str(const struct ctl *ctl, size_t off)
{
    return *(char *const *) ((const char *) &ctl->cfg + off);
}

/* Human lines, one per event; -v adds the edges or matrix entries. */
static void
s_print_human(const struct ctl *ctl, const bus_msg_t *msg)
{
    char when[40], rate[32], a[ETH_MAC_STRLEN], b[ETH_MAC_STRLEN];
    ctl_time(msg->time_us, when, sizeof when);
    switch (msg->type) {
    case VR__MSG_TYPE__MSG_TOPOLOGY_EVENT: {
        const Vr__TopologyEvent *ev = (const Vr__TopologyEvent *) msg->body;
        const Vr__Topology *t = ev->topology;
        printf("%s topology v%llu %s: %zu edge%s (+%u -%u) %s\n", when,
               (unsigned long long) (t ? t->version : 0),
               ctl_enum_name(&vr__topology_change__descriptor,
                             (int) ev->change),
               t ? t->n_edges : 0, t && t->n_edges == 1 ? "" : "s",
               ev->n_added, ev->n_removed, ev->reason);
        for (size_t i = 0; ctl->verbose && t && i < t->n_edges; i++) {
            const Vr__TopologyEdge *e = t->edges[i];
            printf("    %s %s %s  %s\n", eth_mac_format(e->src_mac, a),
                   t->directed ? "->" : "--", eth_mac_format(e->dst_mac, b),
                   ctl_rate(e->rate_bps, rate, sizeof rate));
        }
        break;
    }
    case VR__MSG_TYPE__MSG_GLOBAL_MATRIX: {
        const Vr__GlobalMatrix *g = (const Vr__GlobalMatrix *) msg->body;
        printf("%s matrix: %zu pair%s, largest %s, window %.1f s\n", when,
               g->n_entries, g->n_entries == 1 ? "" : "s",
               ctl_rate(g->max_rate_bps, rate, sizeof rate),
               (double) g->window_us / 1e6);
        for (size_t i = 0; ctl->verbose && i < g->n_entries; i++) {
            const Vr__MatrixRate *e = g->entries[i];
            printf("    %s -> %s  %s\n", eth_mac_format(e->src_mac, a),
                   eth_mac_format(e->dst_mac, b),
                   ctl_rate(e->rate_bps, rate, sizeof rate));
        }
        break;
    }
    case VR__MSG_TYPE__MSG_RESV_EVENT: {
        const Vr__ResvEvent *ev = (const Vr__ResvEvent *) msg->body;
        const Vr__Reservation *r = ev->resv;
        if (!r) {
            printf("%s resv (empty event)\n", when);
            break;
        }
        printf("%s resv %s %s<->%s %s -> %s%s%s\n", when, r->resv_id,
               r->host_a, r->host_b,
               ctl_enum_name(&vr__resv_state__descriptor,
                             (int) ev->old_state),
               ctl_enum_name(&vr__resv_state__descriptor, (int) r->state),
               *ev->reason ? ": " : "", ev->reason);
        break;
    }
    case VR__MSG_TYPE__MSG_PATH_EVENT: {
        const Vr__PathEvent *ev = (const Vr__PathEvent *) msg->body;
        const Vr__Path *p = ev->path;
        if (!p) {
            printf("%s path (empty event)\n", when);
            break;
        }
        char prov[320];
        printf("%s path %s %s->%s %s -> %s (%s)%s%s%s\n", when, p->path_id,
               p->src_ip, p->dst_ip,
               ctl_enum_name(&vr__path_state__descriptor,
                             (int) ev->old_state),
               ctl_enum_name(&vr__path_state__descriptor, (int) p->state),
               p->backend, ctl_path_provider(p, prov, sizeof prov),
               *p->error ? ": " : "", p->error);
        break;
    }
    case VR__MSG_TYPE__MSG_DECISION_EVENT: {
        const Vr__DecisionEvent *ev = (const Vr__DecisionEvent *) msg->body;
        const Vr__Decision *d = ev->decision;
        if (!d) {
            printf("%s decision (empty event)\n", when);
            break;
        }
        printf("%s decision #%llu %s %s<->%s %s%s%s: %s\n", when,
               (unsigned long long) d->id,
               ctl_enum_name(&vr__decision_kind__descriptor, (int) d->kind),
               d->host_a, d->host_b,
               ctl_rate(d->demand_bps, rate, sizeof rate),
               *d->resv_id ? " resv " : "", d->resv_id, d->reason);
        break;
    }
    default:
        break;
    }
}

static void
s_print_json(const struct s_kind *k, const bus_msg_t *msg)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "event", json_object_new_string(k->name));
    json_object_object_add(o, "type",
                           json_object_new_string(msgtype_name(msg->type)));
    json_object_object_add(o, "sender", json_object_new_string(msg->sender));
    json_object_object_add(o, "seq", json_object_new_uint64(msg->seq));
    json_object_object_add(o, "time_us",
                           json_object_new_uint64(msg->time_us));
    json_object_object_add(o, "body", ctl_json_pb(msg->body));
    ctl_json_print(o);
}

/* Warns on stderr when the publisher's control socket is silent. */
static void
s_probe(struct ctl *ctl, const struct s_kind *k)
{
    const char *control = s_cfg_str(ctl, k->control_off);
    if (!control || !*control) {
        return;
    }
    bus_client_t *client = bus_client_new(ctl->bus, control, k->role,
                                          (int) ctl->cfg.timeout_ms, 1);
    Vr__StatusRequest req = VR__STATUS_REQUEST__INIT;
    bus_msg_t reply;
    if (client && bus_client_call(client, VR__MSG_TYPE__MSG_STATUS_REQUEST,
                                  &req.base,
                                  VR__MSG_TYPE__MSG_STATUS_REPLY, &reply)
                      != 0) {
        fprintf(stderr, "vnetctl: warning: %s %s: %s; watching %s anyway\n",
                k->role, control, reply.error_text,
                s_cfg_str(ctl, k->events_off));
    }
    bus_msg_clear(&reply);
    bus_client_destroy(&client);
}

static void
s_usage(void)
{
    fprintf(stderr, "usage: vnetctl [-j] watch topology|matrix|"
                    "reservations|paths|decisions [--count N] "
                    "[--timeout SECS]\n");
}

int
ctl_watch(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        { "count", required_argument, NULL, 'n' },
        { "timeout", required_argument, NULL, 't' },
        { NULL, 0, NULL, 0 },
    };
    unsigned long count = 0;
    double timeout_s = 0;
    char *end;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            count = strtoul(optarg, &end, 10);
            if (*end || !*optarg || optarg[0] == '-' || count == 0) {
                fprintf(stderr, "vnetctl: --count '%s': expected a number "
                                "of events, at least 1\n", optarg);
                return CTL_EXIT_USAGE;
            }
            break;
        case 't':
            timeout_s = strtod(optarg, &end);
            if (*end || !*optarg || !(timeout_s > 0)
                || timeout_s > 31536000) {
                fprintf(stderr, "vnetctl: --timeout '%s': expected "
                                "seconds, more than 0\n", optarg);
                return CTL_EXIT_USAGE;
            }
            break;
        default:
            s_usage();
            return CTL_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        s_usage();
        return CTL_EXIT_USAGE;
    }
    const struct s_kind *k = NULL;
    for (size_t i = 0; i < sizeof s_kinds / sizeof s_kinds[0]; i++) {
        if (!strcmp(argv[optind], s_kinds[i].name)) {
            k = &s_kinds[i];
        }
    }
    if (!k) {
        fprintf(stderr, "vnetctl: watch: unknown kind '%s'\n", argv[optind]);
        s_usage();
        return CTL_EXIT_USAGE;
    }
    const char *endpoint = s_cfg_str(ctl, k->events_off);

    /* No SA_RESTART: a signal on this thread ends the poll at once. */
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    zsock_t *sub = bus_connect(ctl->bus, ZMQ_SUB, endpoint, k->role);
    if (!sub) {
        fprintf(stderr, "vnetctl: %s events %s: cannot connect\n", k->role,
                endpoint);
        return CTL_EXIT_UNREACHABLE;
    }
    bus_subscribe(sub, msgtype_topic(k->type));
    s_probe(ctl, k);

    int rc = CTL_EXIT_OK;
    unsigned long n = 0;
    uint64_t deadline = timeout_s > 0
        ? vtime_mono_ms() + (uint64_t) (timeout_s * 1000.0) : 0;
    while (!s_stop && (!count || n < count)) {
        int wait = S_TICK_MS;
        if (deadline) {
            uint64_t now = vtime_mono_ms();
            if (now >= deadline) {
                if (count) {
                    fprintf(stderr, "vnetctl: watch %s: %lu of %lu "
                            "event%s from %s %s in %g s\n", k->name, n,
                            count, count == 1 ? "" : "s", k->role,
                            endpoint, timeout_s);
                    rc = CTL_EXIT_UNREACHABLE;
                }
                break;
            }
            if (deadline - now < (uint64_t) wait) {
                wait = (int) (deadline - now);
            }
        }
        zmq_pollitem_t item = { zsock_resolve(sub), 0, ZMQ_POLLIN, 0 };
        int ready = zmq_poll(&item, 1, wait);
        if (ready < 0) {
            if (zmq_errno() == EINTR) {
                continue;
            }
            fprintf(stderr, "vnetctl: watch: %s\n",
                    zmq_strerror(zmq_errno()));
            rc = CTL_EXIT_FAIL;
            break;
        }
        if (ready == 0) {
            continue;
        }
        bus_msg_t msg;
        if (bus_recv(ctl->bus, sub, &msg) != 0) {
            continue;           /* interrupted, or rejected (logged) */
        }
        if (msg.type == k->type) {
            n++;
            if (ctl->json) {
                s_print_json(k, &msg);
            } else {
                s_print_human(ctl, &msg);
            }
            /* Each line as it comes, for a pipe; a reader that went away
             * (`| head -1`) ends the watch as ^C would. */
            if (fflush(stdout) != 0) {
                bus_msg_clear(&msg);
                break;
            }
        }
        bus_msg_clear(&msg);
    }
    zsock_destroy(&sub);
    return rc;
}
