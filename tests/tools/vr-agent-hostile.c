/* SPDX-License-Identifier: MIT */
/* vr-agent-hostile: sends a vnet-agent well-formed requests of every type
 * it takes with hostile values in every field (control characters,
 * overlong, malformed, out of range, oversized arrays), for the
 * integration tests (issue 14 item 3).
 *   vr-agent-hostile ENDPOINT
 * Each must be answered ERR_BAD_REQUEST with a message that starts with
 * the field's name and holds no control character; then a good
 * LinkCreate, RuleAdd, LinkProbe, RuleRemove and LinkRemove must work.
 * Exits 0 if all did, 1 otherwise. */
#include <czmq.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "msgtype.h"

enum { N_MANY = 5000 };

static bus_t *s_bus;
static zsock_t *s_req;
static const char *s_endpoint;
static int s_bad;

/* Sends 'body' of 'type'; returns the reply (the caller clears it) or a
 * message with type 0 when none came. */
static bus_msg_t
s_call(int type, const ProtobufCMessage *body)
{
    bus_msg_t reply = { 0 };
    if (bus_send(s_bus, s_req, type, body) != 0
        || bus_recv(s_bus, s_req, &reply) != 0) {
        reply.type = 0;
        /* A REQ that lost its reply cannot send again: start afresh. */
        zsock_destroy(&s_req);
        s_req = bus_connect(s_bus, ZMQ_REQ, s_endpoint, NULL);
        zsock_set_rcvtimeo(s_req, 3000);
    }
    return reply;
}

/* Expects ERR_BAD_REQUEST naming 'field' for case 'name'. */
static void
s_expect_bad(const char *name, int type, const ProtobufCMessage *body,
             const char *field)
{
    bus_msg_t r = s_call(type, body);
    const Vr__Error *e = r.type == VR__MSG_TYPE__MSG_ERROR
                             ? (const Vr__Error *) r.body : NULL;
    bool clean = e && e->message;
    for (const char *p = clean ? e->message : ""; *p; p++) {
        clean = clean && (unsigned char) *p >= 0x20
                && (unsigned char) *p < 0x7f;
    }
    if (!e || e->code != VR__ERROR_CODE__ERR_BAD_REQUEST || !clean
        || strncmp(e->message, field, strlen(field)) != 0) {
        fprintf(stderr, "vr-agent-hostile: %s: %s: expected bad request "
                "naming '%s', got %s '%s'\n", msgtype_name(type), name,
                field, r.type ? msgtype_name(r.type) : "no reply",
                e && e->message ? e->message : "");
        s_bad++;
    } else {
        printf("%s: %s: refused: %s\n", msgtype_name(type), name,
               e->message);
    }
    bus_msg_clear(&r);
}

static void
s_expect(const char *name, int type, const ProtobufCMessage *body,
         int reply_type)
{
    bus_msg_t r = s_call(type, body);
    if (r.type != reply_type) {
        fprintf(stderr, "vr-agent-hostile: %s: %s: expected %s, got %s\n",
                msgtype_name(type), name, msgtype_name(reply_type),
                r.type ? msgtype_name(r.type) : "no reply");
        s_bad++;
    } else {
        printf("%s: %s: ok\n", msgtype_name(type), name);
    }
    bus_msg_clear(&r);
}

struct s_link_case {
    const char *what;
    const char *name, *peer, *local, *peer_agent;
    int proto;
    uint32_t mtu;
    const char *field;
};

static void
s_link_creates(void)
{
    static char huge[4096];
    memset(huge, 'n', sizeof huge - 1);
    const int udp = VR__LINK_PROTO__LINK_PROTO_UDP;
    const struct s_link_case cases[] = {
        { "no name", "", "10.0.0.1:1", "", "", udp, 0, "link.name" },
        { "newline", "a\nb", "10.0.0.1:1", "", "", udp, 0, "link.name" },
        { "escape", "\x1b[2J", "10.0.0.1:1", "", "", udp, 0, "link.name" },
        { "4 KiB", huge, "10.0.0.1:1", "", "", udp, 0, "link.name" },
        { "local:", "local:vm1", "10.0.0.1:1", "", "", udp, 0,
          "link.name" },
        { "no peer", "x", "", "", "", udp, 0, "link.peer" },
        { "peer host", "x", "host:1", "", "", udp, 0, "link.peer" },
        { "peer port 0", "x", "10.0.0.1:0", "", "", udp, 0, "link.peer" },
        { "peer port 70000", "x", "10.0.0.1:70000", "", "", udp, 0,
          "link.peer" },
        { "peer multicast", "x", "239.1.1.1:7000", "", "", udp, 0,
          "link.peer" },
        { "peer huge", "x", huge, "", "", udp, 0, "link.peer" },
        { "peer control", "x", "10.0.0.1:7\r", "", "", udp, 0,
          "link.peer" },
        { "proto 9", "x", "10.0.0.1:1", "", "", 9, 0, "link.proto" },
        { "local", "x", "10.0.0.1:1", "10.0.0.2\n", "", udp, 0,
          "link.local" },
        { "peer_agent", "x", "10.0.0.1:1", "", "h\x07", udp, 0,
          "link.peer_agent" },
        { "mtu 100", "x", "10.0.0.1:1", "", "", udp, 100, "link.mtu" },
        { "mtu 2^32-1", "x", "10.0.0.1:1", "", "", udp, UINT32_MAX,
          "link.mtu" },
    };
    Vr__LinkCreate req = VR__LINK_CREATE__INIT;
    s_expect_bad("no link", VR__MSG_TYPE__MSG_LINK_CREATE, &req.base,
                 "link");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct s_link_case *c = &cases[i];
        Vr__Link l = VR__LINK__INIT;
        l.name = (char *) c->name;
        l.peer = (char *) c->peer;
        l.local = (char *) c->local;
        l.peer_agent = (char *) c->peer_agent;
        l.proto = (Vr__LinkProto) c->proto;
        l.mtu = c->mtu;
        req.link = &l;
        s_expect_bad(c->what, VR__MSG_TYPE__MSG_LINK_CREATE, &req.base,
                     c->field);
    }
}

static void
s_rules(int type, bool add)
{
    static Vr__Rule many[N_MANY];
    static Vr__Rule *ptrs[N_MANY];
    for (size_t i = 0; i < N_MANY; i++) {
        vr__rule__init(&many[i]);
        many[i].dst_mac = UINT64_C(0x020000000000) + i + 1;
        many[i].link = "proxy";
        ptrs[i] = &many[i];
    }
    Vr__RuleAdd req = VR__RULE_ADD__INIT;       /* same layout: RuleRemove */
    if (!add) {
        vr__rule_remove__init((Vr__RuleRemove *) &req);
    }
    s_expect_bad("no rules", type, &req.base, "rules");
    req.rules = ptrs;
    req.n_rules = N_MANY;
    s_expect_bad("5,000 rules", type, &req.base, "rules");

    struct {
        const char *what;
        uint64_t dst, src;
        const char *link;
        const char *field;
    } cases[] = {
        { "dst 0", 0, 0, "proxy", "rules[0].dst_mac" },
        { "dst multicast", UINT64_C(0x01005e000001), 0, "proxy",
          "rules[0].dst_mac" },
        { "dst broadcast", UINT64_C(0xffffffffffff), 0, "proxy",
          "rules[0].dst_mac" },
        { "dst 64-bit", UINT64_MAX, 0, "proxy", "rules[0].dst_mac" },
        { "src multicast", UINT64_C(0x020000000001),
          UINT64_C(0x330000000001), "proxy", "rules[0].src_mac" },
        { "link newline", UINT64_C(0x020000000001), 0, "a\nb",
          "rules[0].link" },
        { "link bell", UINT64_C(0x020000000001), 0, "\x07",
          "rules[0].link" },
        { "link local:", UINT64_C(0x020000000001), 0, "local:",
          "rules[0].link" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        Vr__Rule r = VR__RULE__INIT;
        Vr__Rule *one[] = { &r };
        r.dst_mac = cases[i].dst;
        r.src_mac = cases[i].src;
        r.link = (char *) cases[i].link;
        req.rules = one;
        req.n_rules = 1;
        s_expect_bad(cases[i].what, type, &req.base, cases[i].field);
    }
    if (add) {
        Vr__Rule r = VR__RULE__INIT;
        Vr__Rule *one[] = { &r };
        r.dst_mac = UINT64_C(0x020000000001);
        req.rules = one;
        req.n_rules = 1;
        s_expect_bad("no link", type, &req.base, "rules[0].link");
    }
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: vr-agent-hostile ENDPOINT\n");
        return 2;
    }
    zsys_set_logstream(stderr);
    s_endpoint = argv[1];
    s_bus = bus_new("hostile", NULL);
    s_req = s_bus ? bus_connect(s_bus, ZMQ_REQ, s_endpoint, NULL) : NULL;
    if (!s_req) {
        return 1;
    }
    zsock_set_rcvtimeo(s_req, 3000);

    s_link_creates();
    Vr__LinkRemove rm = VR__LINK_REMOVE__INIT;
    s_expect_bad("no name", VR__MSG_TYPE__MSG_LINK_REMOVE, &rm.base,
                 "name");
    rm.name = "\x1b]0;owned\x07";
    s_expect_bad("escape", VR__MSG_TYPE__MSG_LINK_REMOVE, &rm.base, "name");
    Vr__LinkProbe pr = VR__LINK_PROBE__INIT;
    pr.name = "a b";
    s_expect_bad("space", VR__MSG_TYPE__MSG_LINK_PROBE, &pr.base, "name");
    pr.name = "proxy";
    pr.timeout_ms = 3600000;
    s_expect_bad("an hour", VR__MSG_TYPE__MSG_LINK_PROBE, &pr.base,
                 "timeout_ms");
    s_rules(VR__MSG_TYPE__MSG_RULE_ADD, true);
    s_rules(VR__MSG_TYPE__MSG_RULE_REMOVE, false);

    /* Good ones still work. */
    Vr__Link l = VR__LINK__INIT;
    l.name = "good";
    l.peer = "127.0.0.1:9";
    Vr__LinkCreate lc = VR__LINK_CREATE__INIT;
    lc.link = &l;
    s_expect("good", VR__MSG_TYPE__MSG_LINK_CREATE, &lc.base,
             VR__MSG_TYPE__MSG_LINK_INFO);
    Vr__Rule r = VR__RULE__INIT;
    Vr__Rule *one[] = { &r };
    r.dst_mac = UINT64_C(0x020000000001);
    r.link = "good";
    Vr__RuleAdd ra = VR__RULE_ADD__INIT;
    ra.rules = one;
    ra.n_rules = 1;
    s_expect("good", VR__MSG_TYPE__MSG_RULE_ADD, &ra.base,
             VR__MSG_TYPE__MSG_ACK);
    pr.name = "good";
    pr.timeout_ms = 100;
    s_expect("good", VR__MSG_TYPE__MSG_LINK_PROBE, &pr.base,
             VR__MSG_TYPE__MSG_LINK_PROBE_REPLY);
    Vr__RuleRemove rr = VR__RULE_REMOVE__INIT;
    rr.rules = one;
    rr.n_rules = 1;
    s_expect("good", VR__MSG_TYPE__MSG_RULE_REMOVE, &rr.base,
             VR__MSG_TYPE__MSG_ACK);
    rm.name = "good";
    s_expect("good", VR__MSG_TYPE__MSG_LINK_REMOVE, &rm.base,
             VR__MSG_TYPE__MSG_ACK);

    zsock_destroy(&s_req);
    bus_destroy(&s_bus);
    return s_bad ? 1 : 0;
}
