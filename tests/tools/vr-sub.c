/* SPDX-License-Identifier: MIT */
/* vr-sub: listens on the bus for the integration tests and prints what it
 * heard as one JSON object.
 *   vr-sub bind|connect ENDPOINT SECONDS
 * binds (as the aggregator's ingest does) or connects a SUB socket to
 * ENDPOINT, takes every topic for SECONDS, and prints
 *   {"counts": {"LOCAL_MATRIX": 12, ...}, "vms": {"mac": "agent", ...},
 *    "matrix": {"src>dst": bytes, ...}, "agents": ["h1", ...],
 *    "topologies": [{"t_us": .., "change": .., "version": ..,
 *                    "edges": ["mac-mac", ...]}, ...]}
 * where 'matrix' holds the largest cumulative counters heard per pair and
 * 'topologies' every topology event, in order, with its arrival time. */
#include <czmq.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "lmatrix.h"
#include "eth.h"
#include "vtime.h"

static void
s_take(json_object *root, const bus_msg_t *msg)
{
    json_object *counts, *vms, *matrix, *agents, *topos;
    json_object_object_get_ex(root, "topologies", &topos);
    json_object_object_get_ex(root, "counts", &counts);
    json_object_object_get_ex(root, "vms", &vms);
    json_object_object_get_ex(root, "matrix", &matrix);
    json_object_object_get_ex(root, "agents", &agents);
    const char *name = msgtype_name(msg->type);
    json_object *c;
    int64_t n = json_object_object_get_ex(counts, name, &c)
                    ? json_object_get_int64(c) : 0;
    json_object_object_add(counts, name, json_object_new_int64(n + 1));

    char a[ETH_MAC_STRLEN], b[ETH_MAC_STRLEN], key[40];
    if (msg->type == VR__MSG_TYPE__MSG_VM_LOCATIONS) {
        const Vr__VmLocations *v = (const Vr__VmLocations *) msg->body;
        for (size_t i = 0; i < v->n_vms; i++) {
            json_object_object_add(vms, eth_mac_format(v->vms[i]->mac, a),
                                   json_object_new_string(
                                       v->vms[i]->agent_id));
        }
    } else if (msg->type == VR__MSG_TYPE__MSG_LOCAL_MATRIX) {
        const Vr__LocalMatrix *m = (const Vr__LocalMatrix *) msg->body;
        size_t len = lmatrix_len(m);
        for (size_t i = 0; len != SIZE_MAX && i < len; i++) {
            snprintf(key, sizeof key, "%s>%s",
                     eth_mac_format(m->src_mac[i], a),
                     eth_mac_format(m->dst_mac[i], b));
            int64_t old = json_object_object_get_ex(matrix, key, &c)
                              ? json_object_get_int64(c) : 0;
            if ((int64_t) m->bytes[i] > old) {
                json_object_object_add(matrix, key, json_object_new_int64(
                    (int64_t) m->bytes[i]));
            }
        }
    } else if (msg->type == VR__MSG_TYPE__MSG_TOPOLOGY_EVENT) {
        const Vr__TopologyEvent *ev = (const Vr__TopologyEvent *) msg->body;
        json_object *o = json_object_new_object();
        json_object *edges = json_object_new_array();
        json_object_object_add(o, "t_us", json_object_new_int64(
            (int64_t) vtime_now_us()));
        json_object_object_add(o, "change", json_object_new_int(
            (int) ev->change));
        json_object_object_add(o, "reason", json_object_new_string(
            ev->reason ? ev->reason : ""));
        if (ev->topology) {
            json_object_object_add(o, "version", json_object_new_int64(
                (int64_t) ev->topology->version));
            for (size_t i = 0; i < ev->topology->n_edges; i++) {
                snprintf(key, sizeof key, "%s-%s",
                         eth_mac_format(ev->topology->edges[i]->src_mac, a),
                         eth_mac_format(ev->topology->edges[i]->dst_mac, b));
                json_object_array_add(edges, json_object_new_string(key));
            }
        }
        json_object_object_add(o, "edges", edges);
        json_object_array_add(topos, o);
    } else if (msg->type == VR__MSG_TYPE__MSG_AGENT_ANNOUNCE) {
        const Vr__AgentAnnounce *an = (const Vr__AgentAnnounce *) msg->body;
        size_t len = json_object_array_length(agents);
        for (size_t i = 0; i < len; i++) {
            if (!strcmp(json_object_get_string(
                            json_object_array_get_idx(agents, i)),
                        an->agent_id)) {
                return;
            }
        }
        json_object_array_add(agents, json_object_new_string(an->agent_id));
    }
}

int
main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "bind") && strcmp(argv[1], "connect"))) {
        fprintf(stderr, "usage: vr-sub bind|connect ENDPOINT SECONDS\n");
        return 2;
    }
    bus_t *bus = bus_new("vr-sub", NULL);
    zsock_t *sub = !strcmp(argv[1], "bind")
                       ? bus_bind(bus, ZMQ_SUB, argv[2])
                       : bus_connect(bus, ZMQ_SUB, argv[2], "any");
    if (!sub) {
        return 1;
    }
    bus_subscribe(sub, "");
    json_object *root = json_object_new_object();
    json_object_object_add(root, "counts", json_object_new_object());
    json_object_object_add(root, "vms", json_object_new_object());
    json_object_object_add(root, "matrix", json_object_new_object());
    json_object_object_add(root, "agents", json_object_new_array());
    json_object_object_add(root, "topologies", json_object_new_array());
    uint64_t end = vtime_mono_ms() + (uint64_t) atoi(argv[3]) * 1000;
    zsock_set_rcvtimeo(sub, 100);
    while (vtime_mono_ms() < end) {
        bus_msg_t msg;
        if (bus_recv(bus, sub, &msg) == 0) {
            s_take(root, &msg);
        }
        bus_msg_clear(&msg);
    }
    puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    zsock_destroy(&sub);
    bus_destroy(&bus);
    return 0;
}
