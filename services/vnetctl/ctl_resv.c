/* SPDX-License-Identifier: MIT */
/* `vnetctl reserve ...`: the broker's reservations by hand.
 *   vnetctl reserve create HOST_A HOST_B [--bw MBPS] [--lat MS] [--id REQ]
 *                          [--in SECONDS] [--for SECONDS]
 *   vnetctl reserve list [--all] | show ID | release ID */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnetctl.h"
#include "vtime.h"

static const char *const s_states[] = {
    "unknown", "requested", "provisioning", "active", "releasing",
    "released", "failed", "scheduled",
};

static const char *
s_state(Vr__ResvState s)
{
    return (int) s >= 0 && (int) s <= 7 ? s_states[s] : "?";
}

static json_object *
s_json(const Vr__Reservation *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(r->resv_id));
    json_object_object_add(o, "host_a", json_object_new_string(r->host_a));
    json_object_object_add(o, "host_b", json_object_new_string(r->host_b));
    json_object_object_add(o, "state",
                           json_object_new_string(s_state(r->state)));
    json_object_object_add(o, "path_id", json_object_new_string(r->path_id));
    json_object_object_add(o, "network", json_object_new_string(r->network));
    json_object_object_add(o, "bandwidth_mbps",
                           json_object_new_double(r->bandwidth_mbps));
    json_object_object_add(o, "error", json_object_new_string(r->error));
    json_object_object_add(o, "addr_a", json_object_new_string(r->addr_a));
    json_object_object_add(o, "addr_b", json_object_new_string(r->addr_b));
    json_object_object_add(o, "vlan", json_object_new_int((int) r->vlan));
    json_object_object_add(o, "vlan_b", json_object_new_int((int) r->vlan_b));
    json_object_object_add(o, "link_prefix_len",
                           json_object_new_int((int) r->link_prefix_len));
    json_object_object_add(o, "start_us",
                           json_object_new_int64((int64_t) r->start_us));
    json_object_object_add(o, "end_us",
                           json_object_new_int64((int64_t) r->end_us));
    return o;
}

static void
s_print(const struct ctl *ctl, const Vr__Reservation *r)
{
    if (ctl->json) {
        json_object *o = s_json(r);
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
    } else {
        printf("%-8s %-10s %-10s %-13s %-10s %s\n", r->resv_id, r->host_a,
               r->host_b, s_state(r->state), r->path_id, r->error);
    }
}

/* The adapter's view of the path of 'r' (its connection, the provider's
 * states, the VLAN), or NULL: none yet, or the adapter did not answer
 * within 300 ms (the reservation is shown all the same, without it).
 * '*reply' holds the answer; bus_msg_clear() it either way. */
static const Vr__Path *
s_path(struct ctl *ctl, const Vr__Reservation *r, bus_msg_t *reply)
{
    memset(reply, 0, sizeof *reply);
    if (!r || !r->path_id || !*r->path_id || !ctl->cfg.adapter
        || !*ctl->cfg.adapter) {
        return NULL;
    }
    unsigned timeout = ctl->cfg.timeout_ms < 300 ? ctl->cfg.timeout_ms : 300;
    bus_client_t *client = bus_client_new(ctl->bus, ctl->cfg.adapter,
                                          "adapter", (int) timeout, 1);
    Vr__PathStatusRequest req = VR__PATH_STATUS_REQUEST__INIT;
    req.path_id = r->path_id;
    int rc = client ? bus_client_call(client,
                                      VR__MSG_TYPE__MSG_PATH_STATUS_REQUEST,
                                      &req.base, VR__MSG_TYPE__MSG_PATH_REPLY,
                                      reply)
                    : -1;
    bus_client_destroy(&client);
    if (rc != 0) {
        return NULL;
    }
    const Vr__PathReply *pr = (const Vr__PathReply *) reply->body;
    return pr && pr->path ? pr->path : NULL;
}

static int
s_call(struct ctl *ctl, int type, const ProtobufCMessage *req, int expect,
       bus_msg_t *reply)
{
    return ctl_call(ctl, "broker", ctl->cfg.broker, type, req, expect,
                    reply);
}

int
ctl_reserve(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        { "bw", required_argument, NULL, 'b' },
        { "lat", required_argument, NULL, 'l' },
        { "id", required_argument, NULL, 'i' },
        { "all", no_argument, NULL, 'a' },
        { "in", required_argument, NULL, 's' },
        { "for", required_argument, NULL, 'f' },
        { NULL, 0, NULL, 0 },
    };
    double bw = 0, lat = 0, in_s = 0, for_s = 0;
    const char *req_id = NULL;
    bool all = false;
    int c, rc;
    if (argc < 2) {
        goto usage;
    }
    optind = 0;
    while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b': bw = atof(optarg); break;
        case 'l': lat = atof(optarg); break;
        case 'i': req_id = optarg; break;
        case 'a': all = true; break;
        case 's': in_s = atof(optarg); break;
        case 'f': for_s = atof(optarg); break;
        default: goto usage;
        }
    }
    const char *sub = argv[1];
    char **pos = argv + 1 + optind;
    int n_pos = argc - 1 - optind;
    bus_msg_t reply;
    if (!strcmp(sub, "create") && n_pos == 2) {
        Vr__ResvRequest req = VR__RESV_REQUEST__INIT;
        req.host_a = pos[0];
        req.host_b = pos[1];
        req.bandwidth_mbps = bw;
        req.latency_ms = lat;
        req.request_id = (char *) (req_id ? req_id : "");
        req.owner = "vnetctl";
        if (!(in_s >= 0 && in_s < 3.2e9) || !(for_s >= 0 && for_s < 3.2e9)) {
            fprintf(stderr, "vnetctl: --in and --for take seconds >= 0\n");
            return 2;
        }
        /* Booked ahead: from --in seconds from now, for --for seconds. */
        uint64_t now = vtime_now_us();
        req.start_us = in_s > 0 ? now + (uint64_t) (in_s * 1e6) : 0;
        req.end_us = for_s > 0 ? (req.start_us ? req.start_us : now)
                                     + (uint64_t) (for_s * 1e6)
                               : 0;
        rc = s_call(ctl, VR__MSG_TYPE__MSG_RESV_REQUEST, &req.base,
                    VR__MSG_TYPE__MSG_RESV_REPLY, &reply);
        if (rc != 0) {
            return rc;
        }
    } else if (!strcmp(sub, "release") && n_pos == 1) {
        Vr__ResvRelease req = VR__RESV_RELEASE__INIT;
        req.resv_id = pos[0];
        req.reason = "released with vnetctl";
        rc = s_call(ctl, VR__MSG_TYPE__MSG_RESV_RELEASE, &req.base,
                    VR__MSG_TYPE__MSG_RESV_REPLY, &reply);
        if (rc != 0) {
            return rc;
        }
    } else if (!strcmp(sub, "show") && n_pos == 1) {
        Vr__ResvShowRequest req = VR__RESV_SHOW_REQUEST__INIT;
        req.resv_id = pos[0];
        rc = s_call(ctl, VR__MSG_TYPE__MSG_RESV_SHOW_REQUEST, &req.base,
                    VR__MSG_TYPE__MSG_RESV_SHOW_REPLY, &reply);
        if (rc != 0) {
            return rc;
        }
        const Vr__ResvShowReply *r = (Vr__ResvShowReply *) reply.body;
        bus_msg_t path_reply;
        const Vr__Path *path = s_path(ctl, r->resv, &path_reply);
        if (ctl->json) {
            json_object *o = s_json(r->resv);
            if (path) {
                json_object_object_add(o, "path", ctl_path_json(path));
            }
            json_object *h = json_object_new_array();
            for (size_t i = 0; i < r->n_history; i++) {
                json_object *t = json_object_new_object();
                json_object_object_add(t, "to", json_object_new_string(
                    s_state(r->history[i]->to)));
                json_object_object_add(t, "time_us", json_object_new_int64(
                    (int64_t) r->history[i]->time_us));
                json_object_object_add(t, "reason", json_object_new_string(
                    r->history[i]->reason));
                json_object_array_add(h, t);
            }
            json_object_object_add(o, "history", h);
            puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
            json_object_put(o);
        } else {
            s_print(ctl, r->resv);
            if (path) {
                char prov[320];
                printf("  path %s %s (%s)%s\n", path->path_id,
                       ctl_enum_name(&vr__path_state__descriptor,
                                     (int) path->state),
                       path->backend,
                       ctl_path_provider(path, prov, sizeof prov));
            }
            for (size_t i = 0; i < r->n_history; i++) {
                printf("  -> %-13s %s\n", s_state(r->history[i]->to),
                       r->history[i]->reason);
            }
        }
        bus_msg_clear(&path_reply);
        bus_msg_clear(&reply);
        return CTL_EXIT_OK;
    } else if (!strcmp(sub, "list") && n_pos == 0) {
        /* The broker answers a page at a time: follow 'next' to the
         * end, at most 100000 pages (a broker that loops is cut off). */
        json_object *a = ctl->json ? json_object_new_array() : NULL;
        char after[64] = "";
        for (int page = 0; page < 100000; page++) {
            Vr__ResvListRequest req = VR__RESV_LIST_REQUEST__INIT;
            req.include_ended = all;
            req.after = after;
            rc = s_call(ctl, VR__MSG_TYPE__MSG_RESV_LIST_REQUEST, &req.base,
                        VR__MSG_TYPE__MSG_RESV_LIST, &reply);
            if (rc != 0) {
                json_object_put(a);
                return rc;
            }
            const Vr__ResvList *l = (Vr__ResvList *) reply.body;
            for (size_t i = 0; i < l->n_resvs; i++) {
                if (a) {
                    json_object_array_add(a, s_json(l->resvs[i]));
                } else {
                    s_print(ctl, l->resvs[i]);
                }
            }
            bool more = l->next && *l->next && l->n_resvs > 0
                        && strcmp(l->next, after) != 0
                        && strlen(l->next) < sizeof after;
            if (more) {
                snprintf(after, sizeof after, "%s", l->next);
            }
            bus_msg_clear(&reply);
            if (!more) {
                break;
            }
        }
        if (a) {
            puts(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
            json_object_put(a);
        }
        return CTL_EXIT_OK;
    } else {
        goto usage;
    }
    s_print(ctl, ((Vr__ResvReply *) reply.body)->resv);
    bus_msg_clear(&reply);
    return CTL_EXIT_OK;
usage:
    fprintf(stderr, "usage: vnetctl reserve create HOST_A HOST_B [--bw MBPS]"
                    " [--lat MS] [--id REQ] | list [--all] | show ID | "
                    "release ID\n");
    return CTL_EXIT_USAGE;
}
