/* SPDX-License-Identifier: MIT */
/* vr-fake-aggregator: plays the vttif-aggregator for the planner's tests,
 * with a topology given on the command line instead of inferred:
 *   vr-fake-aggregator CONTROL EVENTS INGEST HOST_A HOST_B MBPS [SECONDS]
 * One VM pair, 02:00:00:00:00:01 on HOST_A and 02:00:00:00:00:02 on
 * HOST_B, at MBPS, published as a TopologyEvent and a GlobalMatrix (its
 * current rate the same) on EVENTS every 200 ms.
 * Agents' announcements heard on INGEST are republished on EVENTS (as the
 * aggregator does) and kept (16 at most) for AgentListQuery on CONTROL,
 * which answers TopologyQuery too.  SIGUSR1 switches the pair's rate
 * between 0 and MBPS.  Runs SECONDS (default 300) or until
 * SIGTERM/SIGINT. */
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "vtime.h"

enum { S_MAX_AGENTS = 16, S_PERIOD_MS = 200 };

static volatile sig_atomic_t s_stop, s_toggles;

static void
s_on_signal(int sig)
{
    if (sig == SIGUSR1) {
        s_toggles++;
    } else {
        s_stop = 1;
    }
}

static Vr__AgentAnnounce *s_agents[S_MAX_AGENTS];
static size_t s_n_agents;

/* Keeps 'ann' (taken from '*msg' when it is new or newer). */
static void
s_keep(bus_msg_t *msg)
{
    const Vr__AgentAnnounce *seen = (const Vr__AgentAnnounce *) msg->body;
    if (!seen->agent_id) {
        return;
    }
    size_t i = 0;
    while (i < s_n_agents && strcmp(s_agents[i]->agent_id, seen->agent_id)) {
        i++;
    }
    if (i == S_MAX_AGENTS) {
        return;
    }
    Vr__AgentAnnounce *ann = (Vr__AgentAnnounce *) bus_msg_take_body(msg);
    if (!ann) {
        return;
    }
    if (i < s_n_agents) {
        protobuf_c_message_free_unpacked(&s_agents[i]->base, NULL);
    } else {
        s_n_agents++;
    }
    s_agents[i] = ann;
}

int
main(int argc, char **argv)
{
    if (argc < 7 || argc > 8) {
        fprintf(stderr, "usage: vr-fake-aggregator CONTROL EVENTS INGEST "
                        "HOST_A HOST_B MBPS [SECONDS]\n");
        return 2;
    }
    const char *host[2] = { argv[4], argv[5] };
    double mbps = atof(argv[6]);
    double seconds = argc == 8 ? atof(argv[7]) : 300;
    bus_t *bus = bus_new("aggregator", NULL);
    /* Our own handlers, so that SIGTERM ends the loop and exits 0. */
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    zsock_t *ctl = bus ? bus_bind(bus, ZMQ_REP, argv[1]) : NULL;
    zsock_t *pub = bus ? bus_bind(bus, ZMQ_PUB, argv[2]) : NULL;
    zsock_t *ingest = bus ? bus_bind(bus, ZMQ_SUB, argv[3]) : NULL;
    if (!ctl || !pub || !ingest) {
        return 1;
    }
    bus_subscribe(ingest, "");
    zpoller_t *poller = zpoller_new(ctl, ingest, NULL);

    Vr__TopologyEdge edge = VR__TOPOLOGY_EDGE__INIT;
    edge.src_mac = UINT64_C(0x020000000001);
    edge.dst_mac = UINT64_C(0x020000000002);
    edge.rate_bps = mbps * 1e6;
    edge.norm = 1;
    Vr__TopologyEdge *edges[1] = { &edge };
    Vr__VmLocation loc[2], *locs[2];
    for (int i = 0; i < 2; i++) {
        vr__vm_location__init(&loc[i]);
        loc[i].mac = i ? edge.dst_mac : edge.src_mac;
        loc[i].agent_id = (char *) host[i];
        locs[i] = &loc[i];
    }
    Vr__Topology topo = VR__TOPOLOGY__INIT;
    topo.edges = edges;
    topo.n_edges = 1;
    topo.vms = locs;
    topo.n_vms = 2;
    topo.version = 1;

    uint64_t t0 = vtime_mono_us(), next = t0;
    while (!s_stop && !zsys_interrupted
           && vtime_mono_us() - t0 < (uint64_t) (seconds * 1e6)) {
        uint64_t now = vtime_mono_us();
        if (now >= next) {
            Vr__TopologyEvent ev = VR__TOPOLOGY_EVENT__INIT;
            edge.rate_bps = s_toggles % 2 ? 0 : mbps * 1e6;
            topo.time_us = vtime_now_us();
            ev.topology = &topo;
            ev.change = VR__TOPOLOGY_CHANGE__TOPOLOGY_CHANGE_UPDATED;
            bus_send(bus, pub, VR__MSG_TYPE__MSG_TOPOLOGY_EVENT, &ev.base);
            /* And the live matrix, as the real one publishes it: the
             * planner reserves on current rates only. */
            Vr__MatrixRate rate = VR__MATRIX_RATE__INIT;
            rate.src_mac = edge.src_mac;
            rate.dst_mac = edge.dst_mac;
            rate.rate_bps = rate.current_bps = edge.rate_bps;
            rate.norm = 1;
            Vr__MatrixRate *rates[1] = { &rate };
            Vr__GlobalMatrix gm = VR__GLOBAL_MATRIX__INIT;
            gm.time_us = topo.time_us;
            gm.max_rate_bps = edge.rate_bps;
            gm.entries = rates;
            gm.n_entries = 1;
            gm.has_current = true;
            bus_send(bus, pub, VR__MSG_TYPE__MSG_GLOBAL_MATRIX, &gm.base);
            next = now + S_PERIOD_MS * 1000;
            continue;
        }
        zsock_t *which = zpoller_wait(poller, (int) ((next - now) / 1000) + 1);
        if (!which) {
            continue;
        }
        bus_msg_t msg;
        int rc = bus_recv(bus, which, &msg);
        if (which == ingest) {
            if (rc == 0 && msg.type == VR__MSG_TYPE__MSG_AGENT_ANNOUNCE) {
                bus_send(bus, pub, msg.type, msg.body);
                s_keep(&msg);
            }
        } else if (rc != 0) {
            bus_send_error(bus, ctl, msg.error, 0, "%s", msg.error_text);
        } else if (msg.type == VR__MSG_TYPE__MSG_AGENT_LIST_QUERY) {
            Vr__AgentList al = VR__AGENT_LIST__INIT;
            al.agents = s_agents;
            al.n_agents = s_n_agents;
            bus_send(bus, ctl, VR__MSG_TYPE__MSG_AGENT_LIST, &al.base);
        } else if (msg.type == VR__MSG_TYPE__MSG_TOPOLOGY_QUERY) {
            bus_send(bus, ctl, VR__MSG_TYPE__MSG_TOPOLOGY, &topo.base);
        } else {
            bus_send_error(bus, ctl, VR__ERROR_CODE__ERR_BAD_REQUEST,
                           msg.type, "not served by the fake aggregator");
        }
        bus_msg_clear(&msg);
    }
    for (size_t i = 0; i < s_n_agents; i++) {
        protobuf_c_message_free_unpacked(&s_agents[i]->base, NULL);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&ingest);
    zsock_destroy(&pub);
    zsock_destroy(&ctl);
    bus_destroy(&bus);
    return 0;
}
