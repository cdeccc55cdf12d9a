/* SPDX-License-Identifier: MIT */
/* vadapt-planner/plan_svc: a restarted planner keeps the paths it adopts
 * until the aggregator has told it what they carry.  Driven through the
 * real service on a fake bus (the broker, the aggregator and two agents
 * answer as the test says) and a fake clock: the broker holds an active
 * reservation of ours, h1-h2; while the aggregator does not answer, the
 * planner plans nothing and releases nothing, however long; once it
 * answers, a topology and live rates naming the pair keep the path;
 * when an agent restarts, its traffic stopping, the path is kept for
 * restart_hold_ms, then taken down; a release the broker (down) did not
 * take holds back a new reservation of the pair until the broker has it,
 * so the pair is never reserved twice; agents announced beyond
 * max_agents take the places of the oldest not in use, and the silent
 * ones no link names are forgotten after agent_forget_ms. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "msgtype.h"
#include "plan_svc.h"
#include "plan_svc_int.h"
#include "vtime.h"

#define S_MAC1 0x020000000101ull        /* h1's VM */
#define S_MAC2 0x020000000201ull        /* h2's VM */

static struct {
    bool agg_up;                /* the aggregator answers */
    unsigned n_agg_asked;
    unsigned n_releases;        /* ResvRelease calls */
    unsigned n_reserves;        /* ResvRequest calls */
    bool released;              /* r-1 is no longer open */
    bool broker_down;           /* the broker takes no release, no list
                                 * (a request that does reach it is
                                 * still taken: the race of a broker
                                 * restarted between the two) */
    unsigned n_release_calls;   /* ResvRelease asked, taken or not */
    uint64_t rules[2][4];       /* each agent's rules: their dst_mac */
    size_t n_rules[2];
} s_world;

/* 'body' packed and unpacked into 'reply', as the bus hands it over. */
static int
s_answer(bus_msg_t *reply, int type, const ProtobufCMessage *body)
{
    size_t size = protobuf_c_message_get_packed_size(body);
    uint8_t *buf = malloc(size + 1);
    assert(buf);
    protobuf_c_message_pack(body, buf);
    reply->type = type;
    reply->body = protobuf_c_message_unpack(body->descriptor, NULL, size, buf);
    free(buf);
    assert(reply->body);
    return 0;
}

static int
s_fail(bus_msg_t *reply, const char *endpoint)
{
    reply->error = VR__ERROR_CODE__ERR_TIMEOUT;
    snprintf(reply->error_text, sizeof reply->error_text,
             "no reply from '%s'", endpoint);
    return -1;
}

static int
s_resv_list(bus_msg_t *reply)
{
    Vr__Reservation r = VR__RESERVATION__INIT;
    r.resv_id = "r-1";
    r.host_a = "h1";
    r.host_b = "h2";
    r.state = s_world.released ? VR__RESV_STATE__RESV_STATE_RELEASED
                               : VR__RESV_STATE__RESV_STATE_ACTIVE;
    r.owner = "planner";
    r.request_id = "q-1";
    r.network = "net";
    r.addr_a = "10.0.0.1";
    r.addr_b = "10.0.0.2";
    Vr__Reservation *rs[] = { &r };
    Vr__ResvList l = VR__RESV_LIST__INIT;
    l.resvs = rs;
    l.n_resvs = 1;
    return s_answer(reply, VR__MSG_TYPE__MSG_RESV_LIST, &l.base);
}

static int
s_agent_list(bus_msg_t *reply)
{
    Vr__AgentAnnounce a1 = VR__AGENT_ANNOUNCE__INIT;
    Vr__AgentAnnounce a2 = VR__AGENT_ANNOUNCE__INIT;
    a1.agent_id = "h1";
    a1.boot_id = 1;
    a1.control_endpoint = "inproc://t-h1";
    a1.overlay_addr = "127.0.0.1:7001";
    a2.agent_id = "h2";
    a2.boot_id = 1;
    a2.control_endpoint = "inproc://t-h2";
    a2.overlay_addr = "127.0.0.1:7002";
    Vr__AgentAnnounce *as[] = { &a1, &a2 };
    Vr__AgentList l = VR__AGENT_LIST__INIT;
    l.agents = as;
    l.n_agents = 2;
    return s_answer(reply, VR__MSG_TYPE__MSG_AGENT_LIST, &l.base);
}

static int
s_topology(bus_msg_t *reply)
{
    Vr__TopologyEdge e = VR__TOPOLOGY_EDGE__INIT;
    e.src_mac = S_MAC1;
    e.dst_mac = S_MAC2;
    e.rate_bps = 50e6;
    e.norm = 1;
    Vr__TopologyEdge *es[] = { &e };
    Vr__VmLocation v1 = VR__VM_LOCATION__INIT;
    Vr__VmLocation v2 = VR__VM_LOCATION__INIT;
    v1.mac = S_MAC1;
    v1.agent_id = "h1";
    v2.mac = S_MAC2;
    v2.agent_id = "h2";
    Vr__VmLocation *vs[] = { &v1, &v2 };
    Vr__Topology t = VR__TOPOLOGY__INIT;
    t.version = 1;
    t.edges = es;
    t.n_edges = 1;
    t.vms = vs;
    t.n_vms = 2;
    return s_answer(reply, VR__MSG_TYPE__MSG_TOPOLOGY, &t.base);
}

/* An agent's links: the path's, made by the planner before its restart,
 * and the star's. */
static int
s_link_list(bus_msg_t *reply, const char *endpoint)
{
    Vr__Link l = VR__LINK__INIT;
    l.name = "vr-r-1";
    l.peer = strstr(endpoint, "h1") ? "10.0.0.2:7000" : "10.0.0.1:7000";
    l.state = VR__LINK_STATE__LINK_STATE_UP;
    l.circuit = true;
    Vr__Link *ls[] = { &l };
    Vr__LinkList ll = VR__LINK_LIST__INIT;
    ll.links = ls;
    ll.n_links = 1;
    return s_answer(reply, VR__MSG_TYPE__MSG_LINK_LIST, &ll.base);
}

/* An agent's rules, as the planner set them. */
static int
s_rules(bus_msg_t *reply, int type, const ProtobufCMessage *req,
        const char *endpoint)
{
    int ag = strstr(endpoint, "h1") ? 0 : 1;
    if (type == VR__MSG_TYPE__MSG_RULE_LIST_REQUEST) {
        Vr__Rule r[4];
        Vr__Rule *rs[4];
        for (size_t i = 0; i < s_world.n_rules[ag]; i++) {
            vr__rule__init(&r[i]);
            r[i].dst_mac = s_world.rules[ag][i];
            r[i].link = "vr-r-1";
            rs[i] = &r[i];
        }
        Vr__RuleList l = VR__RULE_LIST__INIT;
        l.rules = rs;
        l.n_rules = s_world.n_rules[ag];
        return s_answer(reply, VR__MSG_TYPE__MSG_RULE_LIST, &l.base);
    }
    const Vr__RuleAdd *add = (const Vr__RuleAdd *) req;  /* same shape */
    for (size_t i = 0; i < add->n_rules; i++) {
        uint64_t mac = add->rules[i]->dst_mac;
        size_t j = 0;
        while (j < s_world.n_rules[ag] && s_world.rules[ag][j] != mac) {
            j++;
        }
        if (type == VR__MSG_TYPE__MSG_RULE_ADD && j == s_world.n_rules[ag]
            && add->rules[i]->link && !strcmp(add->rules[i]->link, "vr-r-1")) {
            assert(j < 4);
            s_world.rules[ag][s_world.n_rules[ag]++] = mac;
        } else if (j < s_world.n_rules[ag]
                   && (type == VR__MSG_TYPE__MSG_RULE_REMOVE
                       || !add->rules[i]->link
                       || strcmp(add->rules[i]->link, "vr-r-1"))) {
            s_world.rules[ag][j] = s_world.rules[ag][--s_world.n_rules[ag]];
        }
    }
    return 1;
}

static int
s_call(void *arg, const char *endpoint, int type, const ProtobufCMessage *req,
       int expect, bus_msg_t *reply)
{
    (void) arg;
    if (!strncmp(endpoint, "inproc://t-x", 12)) {
        goto empty;             /* the many agents': no links, no rules */
    }
    if (!strcmp(endpoint, "inproc://t-agg")) {
        s_world.n_agg_asked++;
        if (!s_world.agg_up) {
            return s_fail(reply, endpoint);
        }
        return type == VR__MSG_TYPE__MSG_AGENT_LIST_QUERY ? s_agent_list(reply)
                                                          : s_topology(reply);
    }
    if (!strcmp(endpoint, "inproc://t-broker") && s_world.broker_down
        && type != VR__MSG_TYPE__MSG_RESV_REQUEST) {
        s_world.n_release_calls += type == VR__MSG_TYPE__MSG_RESV_RELEASE;
        return s_fail(reply, endpoint);
    }
    if (type == VR__MSG_TYPE__MSG_RESV_LIST_REQUEST) {
        return s_resv_list(reply);
    }
    if (type == VR__MSG_TYPE__MSG_RULE_LIST_REQUEST
        || type == VR__MSG_TYPE__MSG_RULE_ADD
        || type == VR__MSG_TYPE__MSG_RULE_REMOVE) {
        int rc = s_rules(reply, type, req, endpoint);
        if (rc <= 0) {
            return rc;
        }
    } else if (type == VR__MSG_TYPE__MSG_RESV_RELEASE) {
        s_world.n_release_calls++;
        s_world.n_releases++;
        s_world.released = true;
    } else if (type == VR__MSG_TYPE__MSG_RESV_REQUEST) {
        /* Never while r-1 of the same pair is open: the pair would be
         * reserved twice. */
        assert(s_world.released);
        s_world.n_reserves++;
    } else if (type == VR__MSG_TYPE__MSG_LINK_LIST_REQUEST) {
        return s_link_list(reply, endpoint);
    } else if (type == VR__MSG_TYPE__MSG_LINK_PROBE) {
        Vr__LinkProbeReply pr = VR__LINK_PROBE_REPLY__INIT;
        pr.ok = true;
        pr.rtt_us = 100;
        return s_answer(reply, expect, &pr.base);
    }
    /* Anything else: done, nothing to tell. */
empty:;
    const ProtobufCMessageDescriptor *d = msgtype_descriptor(expect);
    assert(d);
    reply->type = expect;
    reply->body = protobuf_c_message_unpack(d, NULL, 0, (const uint8_t *) "");
    assert(reply->body);
    return 0;
}

static int
s_send(void *arg, zsock_t *sock, int type, const ProtobufCMessage *body)
{
    (void) arg, (void) sock, (void) type, (void) body;
    return 0;
}

/* The aggregator's live matrix: h1's VM sends 'bps' to h2's, and back. */
static void
s_matrix(plan_svc_t *p, double bps)
{
    Vr__MatrixRate e1 = VR__MATRIX_RATE__INIT;
    Vr__MatrixRate e2 = VR__MATRIX_RATE__INIT;
    e1.src_mac = S_MAC1;
    e1.dst_mac = S_MAC2;
    e2.src_mac = S_MAC2;
    e2.dst_mac = S_MAC1;
    e1.rate_bps = e1.current_bps = bps;
    e2.rate_bps = e2.current_bps = bps;
    Vr__MatrixRate *es[] = { &e1, &e2 };
    Vr__GlobalMatrix g = VR__GLOBAL_MATRIX__INIT;
    g.time_us = vtime_now_us();
    g.window_us = 1000000;
    g.max_rate_bps = bps;
    g.entries = es;
    g.n_entries = 2;
    g.has_current = true;
    bus_msg_t msg = { 0 };
    s_answer(&msg, VR__MSG_TYPE__MSG_GLOBAL_MATRIX, &g.base);
    snprintf(msg.sender, sizeof msg.sender, "aggregator");
    plan_svc_take(p, &msg);
    bus_msg_clear(&msg);
}

/* Agent 'id' announces itself (the aggregator's event). */
static void
s_announce(plan_svc_t *p, const char *id, uint64_t boot_id)
{
    char ctl[64];
    snprintf(ctl, sizeof ctl, "inproc://t-%s", id);
    Vr__AgentAnnounce a = VR__AGENT_ANNOUNCE__INIT;
    a.agent_id = (char *) id;
    a.boot_id = boot_id;
    a.control_endpoint = ctl;
    a.overlay_addr = "127.0.0.1:7001";
    bus_msg_t msg = { 0 };
    s_answer(&msg, VR__MSG_TYPE__MSG_AGENT_ANNOUNCE, &a.base);
    snprintf(msg.sender, sizeof msg.sender, "aggregator");
    plan_svc_take(p, &msg);
    bus_msg_clear(&msg);
}

/* 'ms' pass in ticks of 100 ms; with 'bps' >= 0, a live matrix at each. */
static void
s_run(svc_t *svc, plan_svc_t *p, unsigned ms, double bps)
{
    for (unsigned t = 0; t < ms; t += 100) {
        vtime_fake_advance(100000);
        if (bps >= 0) {
            s_matrix(p, bps);
        }
        svc_fire_timers(svc);
    }
}

int
main(void)
{
    vtime_fake_set(1800000000ull * 1000000ull);
    char path[64];
    snprintf(path, sizeof path, "/tmp/vr-test-plan-svc-%d.yaml",
             (int) getpid());
    FILE *f = fopen(path, "w");
    assert(f);
    fprintf(f, "bus:\n"
               "  control: inproc://t-plan-ctl\n"
               "  events: inproc://t-plan-ev\n"
               "  aggregator: inproc://t-agg\n"
               "  aggregator_events: inproc://t-agg-ev\n"
               "  broker: inproc://t-broker\n"
               "  broker_events: inproc://t-broker-ev\n"
               "k: 2\n"
               "min_demand_mbps: 1\n"
               "release_mbps: 0.5\n"
               "t_up_ms: 500\n"
               "t_down_ms: 2000\n"
               "wait_min_ms: 1000\n"
               "path_setup_ms: 50\n"
               "path_teardown_ms: 50\n"
               "tick_ms: 100\n"
               "reconcile_ms: 1000\n"
               "restart_hold_ms: 5000\n"
               "max_agents: 4\n"
               "agent_forget_ms: 30000\n");
    assert(fclose(f) == 0);
    char *argv[] = { "test", "-c", path, "-q", "-q", NULL };
    struct plan_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    int rc;
    svc_t *svc = svc_new(&plan_svc_def, 5, argv, &cfg, &rc);
    unlink(path);
    assert(svc);
    static struct bus_fake fake = { .send = s_send, .call = s_call };
    bus_set_fake(svc_bus(svc), &fake);
    char err[512];
    plan_svc_t *p = plan_svc_new(svc, &cfg, err, sizeof err);
    assert(p);

    /* The aggregator silent for 20 s, the path's traffic going on: the
     * adopted path stays, it is asked again and again, backing off. */
    s_run(svc, p, 20000, 50e6);
    assert(s_world.n_releases == 0);
    assert(s_world.n_reserves == 0);
    unsigned asked = s_world.n_agg_asked;
    assert(asked >= 4 && asked <= 20);

    /* It answers: the topology names the pair, the rates go on. */
    s_world.agg_up = true;
    s_run(svc, p, 10000, 50e6);
    assert(s_world.n_agg_asked > asked);
    assert(s_world.n_releases == 0);
    assert(s_world.n_reserves == 0);

    /* The pair's rules on the path at both ends. */
    assert(s_world.n_rules[0] == 1 && s_world.n_rules[1] == 1);

    /* Asked once it answered, then its events tell. */
    asked = s_world.n_agg_asked;
    s_run(svc, p, 5000, 50e6);
    assert(s_world.n_agg_asked == asked);

    /* Agent h1 restarts and the traffic stops, the broker down: the path
     * is kept for restart_hold_ms (5 s), not only its break-even time
     * (1 s), then taken down; its release is not taken. */
    s_world.broker_down = true;
    s_announce(p, "h1", 2);     /* a new boot id: h1 restarted */
    s_run(svc, p, 4500, 0);
    assert(s_world.n_release_calls == 0);
    s_run(svc, p, 3000, 0);
    assert(s_world.n_release_calls >= 1 && s_world.n_releases == 0);
    assert(s_world.n_rules[0] == 0 && s_world.n_rules[1] == 0);

    /* The traffic comes back before the broker has taken the release:
     * the pair is not reserved again while r-1 waits for it. */
    s_run(svc, p, 5000, 50e6);
    assert(s_world.n_reserves == 0);

    /* The broker answers: the reconcile releases r-1, then the pair is
     * reserved anew (s_call asserts the order). */
    s_world.broker_down = false;
    s_run(svc, p, 5000, 50e6);
    assert(s_world.n_releases == 1);
    assert(s_world.n_reserves >= 1);

    /* Ten agents more than max_agents (4) allows: each new one takes the
     * place of the one heard from longest ago that no link names; h1 and
     * h2, which the held link names, stay. */
    for (int i = 0; i < 10; i++) {
        char id[8];
        snprintf(id, sizeof id, "x%d", i);
        s_announce(p, id, 1);
    }
    assert(p->agents.n == 4 && p->agents.n_evicted == 8);
    assert(p->agents.n_refused == 0);
    assert(plan_agents_find(&p->agents, "h1")
           && plan_agents_find(&p->agents, "h2")
           && plan_agents_find(&p->agents, "x9"));
    /* Silent for agent_forget_ms (30 s): the x's go, h1 and h2 stay. */
    s_run(svc, p, 29000, 50e6);
    assert(p->agents.n == 4 && p->agents.n_forgotten == 0);
    s_run(svc, p, 3000, 50e6);
    assert(p->agents.n == 2 && p->agents.n_forgotten == 2);
    assert(plan_agents_find(&p->agents, "h1")
           && plan_agents_find(&p->agents, "h2"));

    plan_svc_destroy(&p);
    svc_destroy(&svc);
    printf("plan_svc: ok\n");
    return 0;
}
