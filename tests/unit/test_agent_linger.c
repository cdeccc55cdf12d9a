/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_linger: a link removed by request lingers.  Driven
 * through the agent's real control handlers on an agent started without
 * its packet threads (agent_new_control_only), a fake bus taking the
 * replies and a fake clock: a removed link leaves the list and the
 * lookups at once, its rules go, a rule to it is refused; it is freed
 * when its linger is over and not before; one made again under its name
 * replaces it; a new link that finds every slot taken takes the slot of
 * the one whose linger ends first; with link_linger_ms 0 it goes at
 * once.  And the rules' cap on the same handlers: a RuleAdd that would
 * hold more than max_rules is refused whole, a rule replaced adds none. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_priv.h"
#include "authz.h"
#include "bus.h"
#include "vtime.h"

/* The last reply the agent sent. */
static struct {
    svc_t *svc;
    int type;
    int error;
    bool probe_ok;
} s_tap;

static int
s_send(void *arg, zsock_t *sock, int type, const ProtobufCMessage *body)
{
    (void) arg;
    if (sock != svc_control(s_tap.svc)) {
        return 0;
    }
    s_tap.type = type;
    s_tap.error = type == VR__MSG_TYPE__MSG_ERROR
                      ? (int) ((const Vr__Error *) body)->code : 0;
    s_tap.probe_ok = type == VR__MSG_TYPE__MSG_LINK_PROBE_REPLY
                     && ((const Vr__LinkProbeReply *) body)->ok;
    return 0;
}

static int
s_call(void *arg, const char *endpoint, int type, const ProtobufCMessage *req,
       int expect, bus_msg_t *reply)
{
    (void) arg, (void) endpoint, (void) type, (void) req, (void) expect;
    reply->error = VR__ERROR_CODE__ERR_UNAVAILABLE;
    return -1;
}

/* Hands request 'body' of 'type' to the agent's handler; the reply, if
 * one was sent at once, is in s_tap. */
static void
s_dispatch(int type, ProtobufCMessage *body)
{
    bus_msg_t req = { .type = type };
    size_t size = protobuf_c_message_get_packed_size(body);
    uint8_t *buf = malloc(size + 1);
    assert(buf);
    protobuf_c_message_pack(body, buf);
    req.body = protobuf_c_message_unpack(body->descriptor, NULL, size, buf);
    free(buf);
    assert(req.body);
    snprintf(req.sender, sizeof req.sender, "test");
    req.route.id[0] = 'T';
    req.route.len = 1;
    authz_ident_local(&req.from);
    s_tap.type = 0;
    svc_dispatch(s_tap.svc, &req);
    bus_msg_clear(&req);
}

/* A request answered at once: its error code (0: none). */
static int
s_request(int type, ProtobufCMessage *body)
{
    s_dispatch(type, body);
    assert(s_tap.type != 0);
    return s_tap.error;
}

static int
s_link_create(const char *name, const char *peer)
{
    Vr__Link l = VR__LINK__INIT;
    l.name = (char *) name;
    l.peer = (char *) peer;
    Vr__LinkCreate req = VR__LINK_CREATE__INIT;
    req.link = &l;
    return s_request(VR__MSG_TYPE__MSG_LINK_CREATE, &req.base);
}

static int
s_link_remove(const char *name)
{
    Vr__LinkRemove req = VR__LINK_REMOVE__INIT;
    req.name = (char *) name;
    return s_request(VR__MSG_TYPE__MSG_LINK_REMOVE, &req.base);
}

/* RuleAdd (or RuleRemove) of 'n' rules to MACs 'macs' over 'link'. */
static int
s_rules(int type, const uint64_t *macs, size_t n, const char *link)
{
    Vr__Rule r[4];
    Vr__Rule *rs[4];
    assert(n <= 4);
    for (size_t i = 0; i < n; i++) {
        vr__rule__init(&r[i]);
        r[i].dst_mac = macs[i];
        r[i].link = (char *) link;
        rs[i] = &r[i];
    }
    Vr__RuleAdd req = VR__RULE_ADD__INIT;       /* RuleRemove: same shape */
    req.rules = rs;
    req.n_rules = n;
    if (type == VR__MSG_TYPE__MSG_RULE_REMOVE) {
        Vr__RuleRemove rm = VR__RULE_REMOVE__INIT;
        rm.rules = rs;
        rm.n_rules = n;
        return s_request(type, &rm.base);
    }
    return s_request(type, &req.base);
}

static int
s_rule_add(uint64_t mac, const char *link)
{
    return s_rules(VR__MSG_TYPE__MSG_RULE_ADD, &mac, 1, link);
}

/* Links held, lingering ones too. */
static size_t
s_held(const agent_t *a)
{
    size_t n = 0;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        n += a->links[i] != NULL;
    }
    return n;
}

/* Time passes: the timers fire. */
static void
s_wait_ms(uint64_t ms)
{
    vtime_fake_advance(ms * 1000);
    svc_fire_timers(s_tap.svc);
}

static agent_t *
s_start(const char *yaml, svc_t **svc_p, struct agent_cfg *cfg)
{
    static int n;
    char path[64];
    snprintf(path, sizeof path, "/tmp/vr-test-linger-%d.yaml", (int) getpid());
    FILE *f = fopen(path, "w");
    assert(f);
    fprintf(f,
            "id: t\n"
            "bus: {control: 'inproc://t-agent-%d-%d', aggregator: "
            "'inproc://t-agg-%d-%d'}\n"
            "proxy_addr: 127.0.0.1:9\n"
            "overlay: {listen: '127.0.0.1:0', insecure: true}\n"
            "ports: []\n"
            "fastpath: false\n"
            "max_links: 4\n"
            "%s",
            (int) getpid(), n, (int) getpid(), n, yaml);
    n++;
    assert(fclose(f) == 0);
    char *argv[] = { "test", "-c", path, "-q", "-q", NULL };
    int rc;
    memset(cfg, 0, sizeof *cfg);
    svc_t *svc = svc_new(&agent_svc_def, 5, argv, cfg, &rc);
    unlink(path);
    assert(svc);
    static struct bus_fake fake = { .send = s_send, .call = s_call };
    bus_set_fake(svc_bus(svc), &fake);
    s_tap.svc = svc;
    cfg->proxy = false;
    agent_t *a = agent_new_control_only(svc, cfg);
    assert(a);
    *svc_p = svc;
    return a;
}

int
main(void)
{
    vtime_fake_set(1800000000ull * 1000000ull);
    struct agent_cfg cfg;
    svc_t *svc;
    agent_t *a = s_start("link_linger_ms: 500\n", &svc, &cfg);
    /* The star's link to the proxy is one of the four. */
    assert(s_held(a) == 1);

    /* Removed: gone from the lookups and the list, its rule gone, a rule
     * to it refused; still held. */
    assert(s_link_create("l1", "127.0.0.2:7000") == 0);
    assert(s_rule_add(0x020000000301ull, "l1") == 0);
    int i1 = agent_find_link(a, "l1");
    assert(i1 >= 0);
    assert(fwd_table_count(agent_current(a)->fwd, FWD_RULE) == 1);
    assert(s_link_remove("l1") == 0);
    assert(agent_find_link(a, "l1") < 0);
    assert(a->links[i1] && atomic_load(&a->links[i1]->lingering));
    assert(agent_linger_count(a) == 1 && a->links_retired == 1);
    assert(fwd_table_count(agent_current(a)->fwd, FWD_RULE) == 0);
    assert(s_rule_add(0x020000000301ull, "l1")
           == VR__ERROR_CODE__ERR_NOT_FOUND);
    assert(s_link_remove("l1") == VR__ERROR_CODE__ERR_NOT_FOUND);

    /* Freed when its linger is over, not before. */
    s_wait_ms(400);
    assert(agent_linger_count(a) == 1);
    s_wait_ms(150);
    assert(agent_linger_count(a) == 0 && a->links[i1] == NULL);
    assert(a->links_freed == 1 && s_held(a) == 1);

    /* Made again under its name: the lingering one goes at once. */
    assert(s_link_create("l1", "127.0.0.2:7000") == 0);
    assert(s_link_remove("l1") == 0);
    assert(agent_linger_count(a) == 1 && s_held(a) == 2);
    assert(s_link_create("l1", "127.0.0.3:7000") == 0);
    assert(agent_linger_count(a) == 0 && s_held(a) == 2);
    assert(agent_find_link(a, "l1") >= 0);

    /* Every slot taken (the star, l1, two lingering): a new link takes
     * the slot of the one whose linger ends first. */
    assert(s_link_create("l2", "127.0.0.4:7000") == 0);
    assert(s_link_remove("l2") == 0);
    s_wait_ms(100);
    assert(s_link_create("l3", "127.0.0.5:7000") == 0);
    assert(s_link_remove("l3") == 0);
    assert(s_held(a) == 4 && agent_linger_count(a) == 2);
    assert(s_link_create("l4", "127.0.0.6:7000") == 0);
    assert(s_held(a) == 4 && agent_linger_count(a) == 1);
    int i3 = -1;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        if (a->links[i] && atomic_load(&a->links[i]->lingering)) {
            i3 = i;
        }
    }
    assert(i3 >= 0 && !strcmp(a->links[i3]->name, "l3"));
    /* Full, none lingering: refused as before. */
    s_wait_ms(600);
    assert(agent_linger_count(a) == 0);
    assert(s_link_create("l5", "127.0.0.7:7000") == 0);
    assert(s_link_create("l6", "127.0.0.8:7000") == VR__ERROR_CODE__ERR_LIMIT);

    /* A probe waiting for its echo when its link is removed is answered
     * as failed at its next send, which does not go out. */
    assert(s_link_remove("l5") == 0);
    s_wait_ms(600);
    assert(s_link_create("l7", "127.0.0.9:7000") == 0);
    Vr__LinkProbe probe = VR__LINK_PROBE__INIT;
    probe.name = "l7";
    probe.timeout_ms = 3000;
    s_dispatch(VR__MSG_TYPE__MSG_LINK_PROBE, &probe.base);
    assert(s_tap.type == 0);            /* waits for the echo */
    assert(s_link_remove("l7") == 0);
    s_tap.type = 0;
    s_wait_ms(150);
    assert(s_tap.type == VR__MSG_TYPE__MSG_LINK_PROBE_REPLY
           && !s_tap.probe_ok);

    /* The star's link never lingers (it is not removed at all). */
    assert(s_link_remove("proxy") == VR__ERROR_CODE__ERR_ILLEGAL_STATE);
    agent_destroy(&a);
    svc_destroy(&svc);

    /* link_linger_ms 0: freed at once. */
    a = s_start("link_linger_ms: 0\n", &svc, &cfg);
    assert(s_link_create("l1", "127.0.0.2:7000") == 0);
    assert(s_link_remove("l1") == 0);
    assert(agent_linger_count(a) == 0 && s_held(a) == 1);
    agent_destroy(&a);
    svc_destroy(&svc);

    /* max_rules 3: a fourth rule is refused, a rule replaced is not; a
     * request of two new rules with room for one is refused whole. */
    a = s_start("link_linger_ms: 0\nmax_rules: 3\n", &svc, &cfg);
    assert(s_link_create("l1", "127.0.0.2:7000") == 0);
    const uint64_t m[] = { 0x0201, 0x0202, 0x0203, 0x0204 };
    assert(s_rules(VR__MSG_TYPE__MSG_RULE_ADD, m, 3, "l1") == 0);
    assert(fwd_table_count(agent_current(a)->fwd, FWD_RULE) == 3);
    assert(s_rule_add(m[3], "l1") == VR__ERROR_CODE__ERR_LIMIT);
    assert(s_rule_add(m[0], "proxy") == 0);
    assert(fwd_table_count(agent_current(a)->fwd, FWD_RULE) == 3);
    assert(s_rules(VR__MSG_TYPE__MSG_RULE_REMOVE, &m[2], 1, NULL) == 0);
    assert(s_rules(VR__MSG_TYPE__MSG_RULE_ADD, &m[2], 2, "l1")
           == VR__ERROR_CODE__ERR_LIMIT);
    assert(fwd_table_count(agent_current(a)->fwd, FWD_RULE) == 2);
    assert(s_rule_add(m[3], "l1") == 0);
    assert(fwd_table_count(agent_current(a)->fwd, FWD_RULE) == 3);
    agent_destroy(&a);
    svc_destroy(&svc);
    puts("agent_linger: ok");
    return 0;
}
