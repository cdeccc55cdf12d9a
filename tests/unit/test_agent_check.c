/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_check: every field of every control request the agent
 * takes, good values and hostile ones (control characters, overlong,
 * malformed, out of range, oversized arrays); a refusal names the field
 * and quotes the value escaped. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "agent_check.h"

static char why[256];

/* The refusal names 'field' and holds no raw control character. */
static void
s_refused(bool ok, const char *field)
{
    assert(!ok);
    assert(strstr(why, field) == why);
    for (const char *p = why; *p; p++) {
        assert((unsigned char) *p >= 0x20 && (unsigned char) *p < 0x7f);
    }
}

static bool
s_create(const char *name, const char *peer, int proto, uint32_t mtu,
         const char *local, const char *peer_agent)
{
    Vr__Link l = VR__LINK__INIT;
    l.name = (char *) name;
    l.peer = (char *) peer;
    l.proto = (Vr__LinkProto) proto;
    l.mtu = mtu;
    l.local = (char *) local;
    l.peer_agent = (char *) peer_agent;
    Vr__LinkCreate req = VR__LINK_CREATE__INIT;
    req.link = &l;
    return agent_check_link_create(&req, why, sizeof why);
}

/* A circuit link with VLAN 'vlan', local 'local' / 'plen'. */
static bool
s_vlan(uint32_t vlan, const char *local, uint32_t plen, bool circuit,
       int proto)
{
    Vr__Link l = VR__LINK__INIT;
    l.name = "vr-r-1";
    l.peer = "10.212.0.2:7000";
    l.proto = (Vr__LinkProto) proto;
    l.circuit = circuit;
    l.vlan = vlan;
    l.local = (char *) local;
    l.prefix_len = plen;
    Vr__LinkCreate req = VR__LINK_CREATE__INIT;
    req.link = &l;
    return agent_check_link_create(&req, why, sizeof why);
}

static void
test_link_vlan(void)
{
    const int udp = VR__LINK_PROTO__LINK_PROTO_UDP;
    const int tcp = VR__LINK_PROTO__LINK_PROTO_TCP;
    assert(s_vlan(1780, "10.212.0.1", 30, true, udp));
    assert(s_vlan(1, "10.212.0.1", 8, true, udp));
    assert(s_vlan(4094, "10.212.0.1", 31, true, udp));
    assert(s_vlan(0, NULL, 0, true, udp));
    s_refused(s_vlan(4095, "10.212.0.1", 30, true, udp), "link.vlan");
    s_refused(s_vlan(UINT32_MAX, "10.212.0.1", 30, true, udp), "link.vlan");
    s_refused(s_vlan(1780, "10.212.0.1", 30, false, udp), "link.vlan");
    s_refused(s_vlan(1780, "10.212.0.1", 30, true, tcp), "link.vlan");
    s_refused(s_vlan(1780, "", 30, true, udp), "link.local");
    s_refused(s_vlan(1780, NULL, 30, true, udp), "link.local");
    s_refused(s_vlan(1780, "10.212.0.1:7000", 30, true, udp), "link.local");
    s_refused(s_vlan(1780, "10.212.0.3", 30, true, udp), "link.local");
    s_refused(s_vlan(1780, "x\ny", 30, true, udp), "link.local");
    s_refused(s_vlan(1780, "10.212.0.1", 0, true, udp), "link.prefix_len");
    s_refused(s_vlan(1780, "10.212.0.1", 32, true, udp), "link.prefix_len");
    s_refused(s_vlan(1780, "10.212.0.1", 99, true, udp), "link.prefix_len");
    s_refused(s_vlan(0, "10.212.0.1", 30, true, udp), "link.local");
    s_refused(s_vlan(0, NULL, 30, true, udp), "link.prefix_len");
}

static void
test_link_create(void)
{
    const int udp = VR__LINK_PROTO__LINK_PROTO_UDP;
    const int tcp = VR__LINK_PROTO__LINK_PROTO_TCP;
    assert(s_create("h3", "10.200.0.3:7000", udp, 0, "", ""));
    assert(s_create("resv-7", "10.200.0.3:7000", tcp, 1500, NULL, "h3"));
    assert(s_create("agent:h2#3", "127.0.0.1:1", udp, 65535, "", "a.b_c"));

    Vr__LinkCreate none = VR__LINK_CREATE__INIT;
    assert(!agent_check_link_create(&none, why, sizeof why));
    s_refused(false, "link: missing");

    char longname[100];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    s_refused(s_create("", "10.0.0.1:1", udp, 0, "", ""), "link.name");
    s_refused(s_create(NULL, "10.0.0.1:1", udp, 0, "", ""), "link.name");
    s_refused(s_create("a\nb", "10.0.0.1:1", udp, 0, "", ""), "link.name");
    assert(strstr(why, "'a\\x0ab'"));           /* quoted, escaped */
    s_refused(s_create("a b", "10.0.0.1:1", udp, 0, "", ""), "link.name");
    s_refused(s_create("\x1b[31m", "10.0.0.1:1", udp, 0, "", ""),
              "link.name");
    s_refused(s_create("\xc3\xa9", "10.0.0.1:1", udp, 0, "", ""),
              "link.name");
    s_refused(s_create(longname, "10.0.0.1:1", udp, 0, "", ""),
              "link.name");
    longname[63] = '\0';
    assert(s_create(longname, "10.0.0.1:1", udp, 0, "", ""));
    s_refused(s_create("local:vm1", "10.0.0.1:1", udp, 0, "", ""),
              "link.name");

    const char *bad_peers[] = {
        NULL, "", "10.0.0.1", "10.0.0.1:", ":7000", "10.0.0.1:0",
        "10.0.0.1:65536", "10.0.0.1:-1", "10.0.0.1:7000x", "10.0.0.1: 7",
        "10.0.0.256:1", "host:7000", "0.0.0.0:7000", "255.255.255.255:1",
        "224.0.0.1:7000", "10.0.0.1:99999999999999999999", "[::1]:7000",
        "10.0.0.1:7000\n", "10.0.0.1.10.0.0.1.10.0.0.1.10.0.0.1.10.0.0.1"
        ".10.0.0.1.10.0.0.1:1",
    };
    for (size_t i = 0; i < sizeof bad_peers / sizeof *bad_peers; i++) {
        s_refused(s_create("x", bad_peers[i], udp, 0, "", ""), "link.peer");
    }
    s_refused(s_create("x", "10.0.0.1:1", 7, 0, "", ""), "link.proto");
    s_refused(s_create("x", "10.0.0.1:1", -1, 0, "", ""), "link.proto");
    s_refused(s_create("x", "10.0.0.1:1", udp, 575, "", ""), "link.mtu");
    s_refused(s_create("x", "10.0.0.1:1", udp, 65536, "", ""), "link.mtu");
    s_refused(s_create("x", "10.0.0.1:1", udp, UINT32_MAX, "", ""),
              "link.mtu");
    s_refused(s_create("x", "10.0.0.1:1", udp, 0, "10.0.0.2", ""),
              "link.local");
    s_refused(s_create("x", "10.0.0.1:1", udp, 0, "", "h\r1"),
              "link.peer_agent");
    s_refused(s_create("x", "10.0.0.1:1", udp, 0, "",
                       "this-id-is-far-too-long-for-an-agent-id-it-has-"
                       "more-than-sixty-three-bytes"),
              "link.peer_agent");
}

static void
test_remove_probe(void)
{
    Vr__LinkRemove rm = VR__LINK_REMOVE__INIT;
    s_refused(agent_check_link_remove(&rm, why, sizeof why), "name");
    rm.name = "h3";
    assert(agent_check_link_remove(&rm, why, sizeof why));
    rm.name = "h3\x7f";
    s_refused(agent_check_link_remove(&rm, why, sizeof why), "name");

    Vr__LinkProbe pr = VR__LINK_PROBE__INIT;
    pr.name = "h3";
    assert(agent_check_link_probe(&pr, why, sizeof why));
    pr.timeout_ms = 5000;
    assert(agent_check_link_probe(&pr, why, sizeof why));
    pr.timeout_ms = 5001;
    s_refused(agent_check_link_probe(&pr, why, sizeof why), "timeout_ms");
    pr.timeout_ms = UINT32_MAX;
    s_refused(agent_check_link_probe(&pr, why, sizeof why), "timeout_ms");
    pr.timeout_ms = 0;
    pr.name = "";
    s_refused(agent_check_link_probe(&pr, why, sizeof why), "name");
}

static void
test_rules(void)
{
    Vr__Rule r = VR__RULE__INIT;
    r.dst_mac = UINT64_C(0x020000000301);
    r.link = "h3";
    const Vr__Rule *one[] = { &r };
    assert(agent_check_rules(one, 1, true, why, sizeof why));
    r.src_mac = UINT64_C(0x020000000201);
    assert(agent_check_rules(one, 1, true, why, sizeof why));
    r.link = "local:vm1";
    assert(agent_check_rules(one, 1, true, why, sizeof why));

    s_refused(agent_check_rules(one, 0, true, why, sizeof why), "rules");
    static const Vr__Rule *many[AGENT_CHECK_RULES_MAX + 1];
    for (size_t i = 0; i <= AGENT_CHECK_RULES_MAX; i++) {
        many[i] = &r;
    }
    assert(agent_check_rules(many, AGENT_CHECK_RULES_MAX, true, why,
                             sizeof why));
    s_refused(agent_check_rules(many, AGENT_CHECK_RULES_MAX + 1, true, why,
                                sizeof why), "rules");

    const uint64_t bad_dst[] = { 0, UINT64_C(0x010000000001),
                                 UINT64_C(0xffffffffffff),
                                 UINT64_C(0x1000000000000), UINT64_MAX };
    for (size_t i = 0; i < sizeof bad_dst / sizeof *bad_dst; i++) {
        r.dst_mac = bad_dst[i];
        s_refused(agent_check_rules(one, 1, true, why, sizeof why),
                  "rules[0].dst_mac");
    }
    r.dst_mac = UINT64_C(0x020000000301);
    r.src_mac = UINT64_C(0x330000000001);
    s_refused(agent_check_rules(one, 1, true, why, sizeof why),
              "rules[0].src_mac");
    r.src_mac = 0;

    const char *bad_links[] = { NULL, "", "local:", "local:a\tb",
                                "local:sixteen-chars-xy", "h\n3",
                                "%s%s%n" };
    for (size_t i = 0; i < sizeof bad_links / sizeof *bad_links; i++) {
        r.link = (char *) bad_links[i];
        s_refused(agent_check_rules(one, 1, true, why, sizeof why),
                  "rules[0].link");
    }
    /* A removal matches by MACs: no target needed, a bad one refused. */
    r.link = NULL;
    assert(agent_check_rules(one, 1, false, why, sizeof why));
    r.link = "h\x01";
    s_refused(agent_check_rules(one, 1, false, why, sizeof why),
              "rules[0].link");
}

int
main(void)
{
    test_link_create();
    test_link_vlan();
    test_remove_probe();
    test_rules();
    printf("test_agent_check: ok\n");
    return 0;
}
