/* SPDX-License-Identifier: MIT */
/* vr-hostile: sends well-formed requests with hostile field values (NaN,
 * infinities, negative and huge figures, control characters, oversized
 * and malformed ids, addresses that are not addresses) to the broker or
 * the adapter, one field spoiled at a time, for the integration tests.
 *   vr-hostile broker ENDPOINT
 *   vr-hostile adapter ENDPOINT
 * Each must be answered with ERR_BAD_REQUEST whose text names the field.
 * Exits 0 when every one was, 1 otherwise. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"

static bus_client_t *s_client;
static int s_bad, s_n;

static const char s_ctl[] = "ok\n\033[2J\x01\x7f";

/* Sends 'req' of 'type' and checks the answer names 'field'. */
static void
s_expect(const char *what, int type, const ProtobufCMessage *req,
         int expect, const char *field)
{
    bus_msg_t reply;
    char want[64];
    snprintf(want, sizeof want, "field '%s'", field);
    int rc = bus_client_call(s_client, type, req, expect, &reply);
    s_n++;
    if (rc == 0 || reply.error != VR__ERROR_CODE__ERR_BAD_REQUEST
        || !strstr(reply.error_text, want)) {
        fprintf(stderr, "vr-hostile: %s: %s (error %d: %s), not "
                "ERR_BAD_REQUEST naming %s\n", what,
                rc == 0 ? "accepted" : "refused otherwise", reply.error,
                reply.error_text, field);
        s_bad++;
    } else {
        printf("%-34s -> %s\n", what, reply.error_text);
    }
    bus_msg_clear(&reply);
}

static char s_big[4096];

static const double s_figures[] = { NAN, INFINITY, -INFINITY, -1, 1e300 };

static void
s_broker(void)
{
    const int T_REQ = VR__MSG_TYPE__MSG_RESV_REQUEST;
    const int T_REP = VR__MSG_TYPE__MSG_RESV_REPLY;
    char what[64];
    for (size_t i = 0; i < sizeof s_figures / sizeof *s_figures; i++) {
        Vr__ResvRequest r = VR__RESV_REQUEST__INIT;
        r.host_a = "h1";
        r.host_b = "h2";
        r.bandwidth_mbps = s_figures[i];
        snprintf(what, sizeof what, "ResvRequest bandwidth %g",
                 s_figures[i]);
        s_expect(what, T_REQ, &r.base, T_REP, "bandwidth_mbps");
        r.bandwidth_mbps = 10;
        r.latency_ms = s_figures[i];
        snprintf(what, sizeof what, "ResvRequest latency %g", s_figures[i]);
        s_expect(what, T_REQ, &r.base, T_REP, "latency_ms");
    }
    const char *strs[] = { "", s_ctl, s_big, "-x", "a b" };
    const char *names[] = { "empty", "control chars", "4 KB", "option",
                            "space" };
    for (size_t i = 0; i < 5; i++) {
        Vr__ResvRequest r = VR__RESV_REQUEST__INIT;
        r.host_a = (char *) strs[i];
        r.host_b = "h2";
        snprintf(what, sizeof what, "ResvRequest host_a %s", names[i]);
        s_expect(what, T_REQ, &r.base, T_REP, "host_a");
        r.host_a = "h1";
        r.host_b = (char *) strs[i];
        snprintf(what, sizeof what, "ResvRequest host_b %s", names[i]);
        s_expect(what, T_REQ, &r.base, T_REP, "host_b");
        if (i == 0) {
            continue;   /* an empty request id or owner is allowed */
        }
        r.host_b = "h2";
        r.request_id = (char *) strs[i];
        snprintf(what, sizeof what, "ResvRequest request_id %s", names[i]);
        s_expect(what, T_REQ, &r.base, T_REP, "request_id");
        r.request_id = "";
        r.owner = (char *) strs[i];
        snprintf(what, sizeof what, "ResvRequest owner %s", names[i]);
        s_expect(what, T_REQ, &r.base, T_REP, "owner");
    }
    for (size_t i = 0; i < 5; i++) {
        Vr__ResvRelease rel = VR__RESV_RELEASE__INIT;
        rel.resv_id = (char *) strs[i];
        snprintf(what, sizeof what, "ResvRelease resv_id %s", names[i]);
        s_expect(what, VR__MSG_TYPE__MSG_RESV_RELEASE, &rel.base, T_REP,
                 "resv_id");
        Vr__ResvShowRequest sh = VR__RESV_SHOW_REQUEST__INIT;
        sh.resv_id = (char *) strs[i];
        snprintf(what, sizeof what, "ResvShow resv_id %s", names[i]);
        s_expect(what, VR__MSG_TYPE__MSG_RESV_SHOW_REQUEST, &sh.base,
                 VR__MSG_TYPE__MSG_RESV_SHOW_REPLY, "resv_id");
        Vr__ReservableQuery q = VR__RESERVABLE_QUERY__INIT;
        q.host_a = (char *) strs[i];
        q.host_b = "h2";
        snprintf(what, sizeof what, "Reservable host_a %s", names[i]);
        s_expect(what, VR__MSG_TYPE__MSG_RESERVABLE_QUERY, &q.base,
                 VR__MSG_TYPE__MSG_RESERVABLE_REPLY, "host_a");
        if (i == 0) {
            continue;
        }
        Vr__ResvListRequest l = VR__RESV_LIST_REQUEST__INIT;
        l.after = (char *) strs[i];
        snprintf(what, sizeof what, "ResvList after %s", names[i]);
        s_expect(what, VR__MSG_TYPE__MSG_RESV_LIST_REQUEST, &l.base,
                 VR__MSG_TYPE__MSG_RESV_LIST, "after");
    }
    Vr__ResvRelease rel = VR__RESV_RELEASE__INIT;
    rel.resv_id = "r-1";
    rel.reason = (char *) s_ctl;
    s_expect("ResvRelease reason control chars",
             VR__MSG_TYPE__MSG_RESV_RELEASE, &rel.base, T_REP, "reason");
    rel.reason = s_big;
    s_expect("ResvRelease reason 4 KB", VR__MSG_TYPE__MSG_RESV_RELEASE,
             &rel.base, T_REP, "reason");
    Vr__ResvListRequest l = VR__RESV_LIST_REQUEST__INIT;
    l.after = "q-12";
    s_expect("ResvList after not r-<n>", VR__MSG_TYPE__MSG_RESV_LIST_REQUEST,
             &l.base, VR__MSG_TYPE__MSG_RESV_LIST, "after");
}

static void
s_adapter(void)
{
    const int T_CREATE = VR__MSG_TYPE__MSG_PATH_CREATE;
    const int T_REP = VR__MSG_TYPE__MSG_PATH_REPLY;
    char what[64];
    for (size_t i = 0; i < sizeof s_figures / sizeof *s_figures; i++) {
        Vr__PathCreate c = VR__PATH_CREATE__INIT;
        c.request_id = "hostile-1";
        c.src_ip = "10.210.0.1";
        c.dst_ip = "10.210.0.2";
        c.bandwidth_mbps = s_figures[i];
        snprintf(what, sizeof what, "PathCreate bandwidth %g", s_figures[i]);
        s_expect(what, T_CREATE, &c.base, T_REP, "bandwidth_mbps");
        c.bandwidth_mbps = 10;
        c.latency_ms = s_figures[i];
        snprintf(what, sizeof what, "PathCreate latency %g", s_figures[i]);
        s_expect(what, T_CREATE, &c.base, T_REP, "latency_ms");
    }
    const char *ips[] = { "", s_ctl, s_big, "-c", "10.210.0.256",
                          "localhost" };
    for (size_t i = 0; i < sizeof ips / sizeof *ips; i++) {
        Vr__PathCreate c = VR__PATH_CREATE__INIT;
        c.request_id = "hostile-2";
        c.src_ip = (char *) ips[i];
        c.dst_ip = "10.210.0.2";
        snprintf(what, sizeof what, "PathCreate src_ip #%zu", i);
        s_expect(what, T_CREATE, &c.base, T_REP, "src_ip");
        c.src_ip = "10.210.0.1";
        c.dst_ip = (char *) ips[i];
        snprintf(what, sizeof what, "PathCreate dst_ip #%zu", i);
        s_expect(what, T_CREATE, &c.base, T_REP, "dst_ip");
    }
    const char *ids[] = { s_ctl, s_big, "-t", "p 1" };
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        Vr__PathCreate c = VR__PATH_CREATE__INIT;
        c.request_id = (char *) ids[i];
        c.src_ip = "10.210.0.1";
        c.dst_ip = "10.210.0.2";
        snprintf(what, sizeof what, "PathCreate request_id #%zu", i);
        s_expect(what, T_CREATE, &c.base, T_REP, "request_id");
        Vr__PathTeardown t = VR__PATH_TEARDOWN__INIT;
        t.path_id = (char *) ids[i];
        snprintf(what, sizeof what, "PathTeardown path_id #%zu", i);
        s_expect(what, VR__MSG_TYPE__MSG_PATH_TEARDOWN, &t.base, T_REP,
                 "path_id");
        Vr__PathStatusRequest s = VR__PATH_STATUS_REQUEST__INIT;
        s.path_id = (char *) ids[i];
        snprintf(what, sizeof what, "PathStatus path_id #%zu", i);
        s_expect(what, VR__MSG_TYPE__MSG_PATH_STATUS_REQUEST, &s.base,
                 T_REP, "path_id");
    }
    Vr__PathTeardown t = VR__PATH_TEARDOWN__INIT;
    s_expect("PathTeardown no path_id", VR__MSG_TYPE__MSG_PATH_TEARDOWN,
             &t.base, T_REP, "path_id");
}

int
main(int argc, char **argv)
{
    if (argc != 3
        || (strcmp(argv[1], "broker") && strcmp(argv[1], "adapter"))) {
        fprintf(stderr, "usage: vr-hostile broker|adapter ENDPOINT\n");
        return 2;
    }
    memset(s_big, 'x', sizeof s_big - 1);
    bus_t *bus = bus_new("vr-hostile", NULL);
    if (!bus) {
        return 1;
    }
    s_client = bus_client_new(bus, argv[2], argv[1], 3000, 1);
    if (!strcmp(argv[1], "broker")) {
        s_broker();
    } else {
        s_adapter();
    }
    bus_client_destroy(&s_client);
    bus_destroy(&bus);
    printf("vr-hostile: %d requests, %d not refused as they should be\n",
           s_n, s_bad);
    return s_bad ? 1 : 0;
}
