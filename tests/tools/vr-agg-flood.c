/* SPDX-License-Identifier: MIT */
/* vr-agg-flood: plays a hostile publisher and client of the aggregator
 * for tests/integration/test_vttif_bounds.sh.  One mode per run:
 *   vr-agg-flood INGEST locations N PER_MSG [PAUSE_MS]   N VM locations
 *       (distinct MACs) in messages of PER_MSG, PAUSE_MS (10) between
 *       two: the aggregator queues 100 per publisher by default and drops
 *       beyond, and a test that counts them must not lose any to a slow
 *       run
 *   vr-agg-flood INGEST matrix-empty BYTES    one LocalMatrix of a
 *       column of BYTES zeros (a byte each on the wire, 8 decoded)
 *   vr-agg-flood INGEST matrix-pairs MSGS N   MSGS matrices, each from
 *       its own agent id, of N distinct pairs among 1024 VMs
 *   vr-agg-flood INGEST hostile               every hostile value of
 *       every field of LocalMatrix, VmLocations, AgentAnnounce, one
 *       message each; prints how many of each type it sent
 *   vr-agg-flood CONTROL query TYPE...        each query type (42, 44,
 *       45, 47, 101 ...) with an unknown field of 1 kB: exits 0 if each
 *       is answered ERR_BAD_REQUEST naming the field, and the query
 *       without it still answers
 * Publishing modes wait 1 s for the subscription to reach them, and up
 * to 3 s on exit for their messages to leave. */
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "lmatrix.h"
#include "vtime.h"

static bus_t *g_bus;
static zsock_t *g_pub;

static uint64_t
s_mac(uint64_t i)
{
    return UINT64_C(0x0a0000000000) | (i & UINT64_C(0xffffffffff));
}

static void
s_send(int type, const ProtobufCMessage *m)
{
    if (bus_send(g_bus, g_pub, type, m) != 0) {
        fprintf(stderr, "vr-agg-flood: send failed\n");
        exit(1);
    }
}

static int
s_locations(uint64_t total, size_t per, int pause_ms)
{
    Vr__VmLocation *locs = calloc(per, sizeof *locs);
    Vr__VmLocation **lp = calloc(per, sizeof *lp);
    if (!locs || !lp) {
        return 1;
    }
    uint64_t sent = 0, msgs = 0;
    while (sent < total) {
        size_t n = total - sent < per ? (size_t) (total - sent) : per;
        for (size_t i = 0; i < n; i++) {
            vr__vm_location__init(&locs[i]);
            locs[i].mac = s_mac(sent + i + 1);
            locs[i].agent_id = "flood";
            locs[i].iface = "vm0";
            locs[i].seen_us = vtime_now_us();
            lp[i] = &locs[i];
        }
        Vr__VmLocations v = VR__VM_LOCATIONS__INIT;
        v.reporter = "flood";
        v.vms = lp;
        v.n_vms = n;
        s_send(VR__MSG_TYPE__MSG_VM_LOCATIONS, &v.base);
        sent += n;
        msgs++;
        zclock_sleep(pause_ms);
    }
    printf("{\"locations\":%" PRIu64 ",\"messages\":%" PRIu64 "}\n", sent,
           msgs);
    free(locs);
    free(lp);
    return 0;
}

/* A matrix of 'n' entries from agent 'id', pairs numbered from 'first';
 * 'empty': instead one column (bytes) of 'n' zeros and no other, the
 * cheapest entries on the wire (a byte each) and the largest decoded
 * (8 bytes each). */
static int
s_matrix_entries(size_t n, bool empty, const char *id, uint64_t first)
{
    Vr__LocalMatrix m = VR__LOCAL_MATRIX__INIT;
    uint64_t *zeros = NULL;
    if (empty) {
        zeros = calloc(n ? n : 1, sizeof *zeros);
        if (!zeros) {
            return 1;
        }
        m.bytes = zeros;
        m.n_bytes = n;
    } else {
        if (lmatrix_alloc(&m, n) < 0) {
            return 1;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t k = first + i;
            lmatrix_set(&m, i, s_mac(1 + k / 1024),
                        s_mac(0x100000 + k % 1024), 1000, 1);
        }
        lmatrix_len_set(&m, n);
    }
    m.agent_id = (char *) id;
    m.boot_id = 1;
    m.period_us = 1000000;
    m.time_us = vtime_now_us();
    s_send(VR__MSG_TYPE__MSG_LOCAL_MATRIX, &m.base);
    if (empty) {
        free(zeros);
    } else {
        lmatrix_free(&m);
    }
    return 0;
}

/* ---- hostile values, one message each ---- */

static int g_n[3];              /* matrices, locations, announcements */

static void
s_hostile_matrix(void)
{
    static const char *const ids[] = { "", "h1\n\x1b[31mred", "-lead",
                                       "h1 space", "h1\"quote" };
    char long_id[1001];
    memset(long_id, 'a', 1000);
    long_id[1000] = '\0';
    for (int v = 0; v < 15; v++) {
        Vr__LocalMatrix m = VR__LOCAL_MATRIX__INIT;
        uint64_t src = 0x020000000001, dst = 0x020000000002, bytes = 100;
        uint64_t frames = 1, two[2] = { 1, 2 };
        m.src_mac = &src;
        m.dst_mac = &dst;
        m.bytes = &bytes;
        m.frames = &frames;
        lmatrix_len_set(&m, 1);
        m.agent_id = "h1";
        m.boot_id = 1;
        m.period_us = 100000;
        m.time_us = vtime_now_us();
        switch (v) {
        case 0: case 1: case 2: case 3: case 4: m.agent_id = (char *) ids[v];
            break;
        case 5: m.agent_id = long_id; break;
        case 6: m.period_us = UINT64_MAX; break;        /* huge */
        case 7: m.period_us = 1; break;                 /* tiny */
        case 8: m.time_us = UINT64_MAX; break;
        case 9: m.time_us = UINT64_C(1) << 63; break;   /* int64 < 0 */
        case 10: src = UINT64_MAX; break;
        case 11: bytes = UINT64_MAX; break;
        case 12: frames = UINT64_C(1) << 63; break;
        case 13: m.dst_mac = two; m.n_dst_mac = 2; break;  /* columns */
        case 14: m.n_frames = 0; break;                    /* disagree */
        }
        s_send(VR__MSG_TYPE__MSG_LOCAL_MATRIX, &m.base);
        g_n[0]++;
    }
    /* One entry over the default cap: 65537. */
    s_matrix_entries(65537, false, "h1", 0);
    g_n[0]++;
}

static void
s_hostile_locations(void)
{
    for (int v = 0; v < 9; v++) {
        Vr__VmLocation l = VR__VM_LOCATION__INIT, *lp = &l;
        l.mac = 0x020000000001;
        l.agent_id = "h1";
        l.iface = "vm1";
        l.seen_us = vtime_now_us();
        Vr__VmLocations m = VR__VM_LOCATIONS__INIT;
        m.reporter = "h1";
        m.vms = &lp;
        m.n_vms = 1;
        switch (v) {
        case 0: m.reporter = ""; break;
        case 1: m.reporter = "h1\r\n\x07"; break;
        case 2: l.mac = 0; break;
        case 3: l.mac = UINT64_MAX; break;
        case 4: l.mac = 0x010000000001; break;          /* group */
        case 5: l.agent_id = "h1\x1b]0;title\x07"; break;
        case 6: l.iface = "../../etc/passwd"; break;
        case 7: l.seen_us = UINT64_MAX; break;
        case 8: l.agent_id = ""; break;
        }
        s_send(VR__MSG_TYPE__MSG_VM_LOCATIONS, &m.base);
        g_n[1]++;
    }
    /* One location over the default cap: 4097. */
    size_t n = 4097;
    Vr__VmLocation *l = calloc(n, sizeof *l);
    Vr__VmLocation **lp = calloc(n, sizeof *lp);
    for (size_t i = 0; i < n; i++) {
        vr__vm_location__init(&l[i]);
        l[i].mac = s_mac(i + 1);
        l[i].agent_id = "h1";
        lp[i] = &l[i];
    }
    Vr__VmLocations m = VR__VM_LOCATIONS__INIT;
    m.reporter = "h1";
    m.vms = lp;
    m.n_vms = n;
    s_send(VR__MSG_TYPE__MSG_VM_LOCATIONS, &m.base);
    g_n[1]++;
    free(l);
    free(lp);
}

static void
s_hostile_announce(void)
{
    char long_ep[1001];
    memset(long_ep, 'x', 1000);
    memcpy(long_ep, "tcp://", 6);
    long_ep[1000] = '\0';
    uint64_t bad_mac = UINT64_MAX;
    for (int v = 0; v < 10; v++) {
        Vr__AgentAnnounce a = VR__AGENT_ANNOUNCE__INIT;
        a.agent_id = "h9";
        a.boot_id = 1;
        a.control_endpoint = "tcp://127.0.0.1:7110";
        a.overlay_addr = "127.0.0.1:7000";
        a.host_ip = "127.0.0.1";
        switch (v) {
        case 0: a.agent_id = ""; break;
        case 1: a.agent_id = "h9\x1b]0;pwned\x07"; break;
        case 2: a.control_endpoint = "tcp://evil:1,tcp://evil:2"; break;
        case 3: a.control_endpoint = ""; break;
        case 4: a.control_endpoint = long_ep; break;
        case 5: a.control_endpoint = "tcp://a b\n:1"; break;
        case 6: a.overlay_addr = "127.0.0.1:99999"; break;
        case 7: a.host_ip = "not-an-ip\n"; break;
        case 8: a.local_macs = &bad_mac; a.n_local_macs = 1; break;
        case 9: a.overlay_addr = "127.0.0.1"; break;
        }
        s_send(VR__MSG_TYPE__MSG_AGENT_ANNOUNCE, &a.base);
        g_n[2]++;
    }
    /* One MAC over the default cap: 4097. */
    size_t n = 4097;
    uint64_t *macs = calloc(n, sizeof *macs);
    for (size_t i = 0; i < n; i++) {
        macs[i] = s_mac(i + 1);
    }
    Vr__AgentAnnounce a = VR__AGENT_ANNOUNCE__INIT;
    a.agent_id = "h9";
    a.control_endpoint = "tcp://127.0.0.1:7110";
    a.local_macs = macs;
    a.n_local_macs = n;
    s_send(VR__MSG_TYPE__MSG_AGENT_ANNOUNCE, &a.base);
    g_n[2]++;
    free(macs);
}

/* ---- queries with an unknown field ---- */

static int
s_query(const char *endpoint, int argc, char **argv)
{
    bus_client_t *c = bus_client_new(g_bus, endpoint, "aggregator", 3000, 1);
    if (!c) {
        return 1;
    }
    int rc = 0;
    static uint8_t blob[1024 + 2];
    blob[0] = 0x80;             /* length 1024 as a varint */
    blob[1] = 0x08;
    memset(blob + 2, 'z', 1024);
    for (int i = 0; i < argc; i++) {
        int type = atoi(argv[i]);
        const ProtobufCMessageDescriptor *d = msgtype_descriptor(type);
        if (!d) {
            fprintf(stderr, "vr-agg-flood: no type %d\n", type);
            return 2;
        }
        ProtobufCMessage *m = calloc(1, d->sizeof_message);
        protobuf_c_message_init(d, m);
        ProtobufCMessageUnknownField f = {
            .tag = 9, .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
            .len = sizeof blob, .data = blob,
        };
        m->n_unknown_fields = 1;
        m->unknown_fields = &f;
        bus_msg_t reply;
        int expect = type + 1;  /* every query's reply type follows it */
        if (type == VR__MSG_TYPE__MSG_MATRIX_QUERY) {
            expect = VR__MSG_TYPE__MSG_GLOBAL_MATRIX;
        }
        bool ok = bus_client_call(c, type, m, expect, &reply) != 0
                  && reply.error == VR__ERROR_CODE__ERR_BAD_REQUEST
                  && strstr(reply.error_text, "field 9");
        printf("%s with field 9: %s\n", msgtype_name(type),
               reply.error_text[0] ? reply.error_text : "answered");
        bus_msg_clear(&reply);
        m->n_unknown_fields = 0;
        m->unknown_fields = NULL;
        bool plain = bus_client_call(c, type, m, expect, &reply) == 0;
        printf("%s plain: %s\n", msgtype_name(type),
               plain ? "answered" : reply.error_text);
        bus_msg_clear(&reply);
        free(m);
        rc |= !(ok && plain);
    }
    bus_client_destroy(&c);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: vr-agg-flood ENDPOINT MODE [ARGS...]\n");
        return 2;
    }
    g_bus = bus_new("flood", NULL);
    if (!g_bus) {
        return 1;
    }
    const char *mode = argv[2];
    if (!strcmp(mode, "query")) {
        int rc = s_query(argv[1], argc - 3, argv + 3);
        bus_destroy(&g_bus);
        return rc;
    }
    g_pub = bus_connect(g_bus, ZMQ_PUB, argv[1], "aggregator");
    if (!g_pub) {
        return 1;
    }
    zsock_set_linger(g_pub, 3000);
    zclock_sleep(1000);         /* the subscription reaches us */
    int rc = 0;
    if (!strcmp(mode, "locations") && (argc == 5 || argc == 6)) {
        rc = s_locations(strtoull(argv[3], NULL, 0),
                         (size_t) strtoull(argv[4], NULL, 0),
                         argc == 6 ? atoi(argv[5]) : 10);
    } else if (!strcmp(mode, "matrix-empty") && argc == 4) {
        rc = s_matrix_entries((size_t) strtoull(argv[3], NULL, 0), true,
                              "empty", 0);
    } else if (!strcmp(mode, "matrix-pairs") && argc == 5) {
        size_t msgs = (size_t) strtoull(argv[3], NULL, 0);
        size_t n = (size_t) strtoull(argv[4], NULL, 0);
        for (size_t i = 0; i < msgs && !rc; i++) {
            char id[32];
            snprintf(id, sizeof id, "flood%zu", i);
            rc = s_matrix_entries(n, false, id, i * n);
        }
    } else if (!strcmp(mode, "hostile") && argc == 3) {
        s_hostile_matrix();
        s_hostile_locations();
        s_hostile_announce();
        printf("{\"matrix\":%d,\"locations\":%d,\"announce\":%d}\n", g_n[0],
               g_n[1], g_n[2]);
    } else {
        fprintf(stderr, "vr-agg-flood: bad mode or arguments\n");
        rc = 2;
    }
    zsock_destroy(&g_pub);      /* lingers until sent, 3 s at most */
    bus_destroy(&g_bus);
    return rc;
}
