/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_announce: a wildcard endpoint's parsing, the config's
 * checks, and the address found from an interface (lo) and from the
 * route toward an aggregator (on the loopback), as an agent of a global
 * service announces them. */
#undef NDEBUG
#include <arpa/inet.h>
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "agent_announce.h"

static void
test_wildcard(void)
{
    char port[8] = "";
    assert(agent_ann_wildcard("tcp://*:7110", port, sizeof port));
    assert(!strcmp(port, "7110"));
    assert(agent_ann_wildcard("tcp://0.0.0.0:1", port, sizeof port));
    assert(!strcmp(port, "1"));
    assert(agent_ann_wildcard("tcp://[::]:65535", port, sizeof port));
    const char *fixed[] = {
        "tcp://10.0.0.1:7110", "tcp://agent1:7110", "ipc:///tmp/x",
        "tcp://*:0", "tcp://*:65536", "tcp://*:", "tcp://*", "tcp://*:71a0",
        "tcp://*:-1", "tcp://*:123456", "udp://*:7110", "*:7110", "",
        "tcp://:7110", "tcp://**:7110",
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (agent_ann_wildcard(fixed[i], port, sizeof port)) {
            fprintf(stderr, "'%s' taken for a wildcard\n", fixed[i]);
            assert(0);
        }
    }
    assert(!agent_ann_wildcard(NULL, port, sizeof port));
    char longer[400];
    memset(longer, 'a', sizeof longer);
    memcpy(longer, "tcp://*:7110", 12);
    longer[sizeof longer - 1] = '\0';
    assert(!agent_ann_wildcard(longer, port, sizeof port));

    struct sockaddr_in sin;
    assert(agent_ann_tcp_ipv4("tcp://10.200.0.1:7122", &sin));
    assert(sin.sin_family == AF_INET && ntohs(sin.sin_port) == 7122);
    assert(sin.sin_addr.s_addr == inet_addr("10.200.0.1"));
    assert(!agent_ann_tcp_ipv4("tcp://aggregator:7122", &sin));
    assert(!agent_ann_tcp_ipv4("tcp://[::1]:7122", &sin));
    assert(!agent_ann_tcp_ipv4("ipc:///run/ingest", &sin));
    assert(!agent_ann_tcp_ipv4("tcp://10.0.0.256:7122", &sin));

    assert(agent_ann_listen_wild("0.0.0.0:7000"));
    assert(!agent_ann_listen_wild("10.200.0.1:7000"));
    assert(!agent_ann_listen_wild("0.0.0.0"));
    assert(!agent_ann_listen_wild(NULL));
}

static void
test_init(void)
{
    struct agent_ann a;
    char why[512];
    /* A fixed endpoint: announced as it is, nothing to find. */
    assert(agent_ann_init(&a, "tcp://10.0.0.1:7110", NULL, "ipc:///x",
                          true, why, sizeof why) == 0);
    assert(!a.ctl_wild && !a.want_ip && a.from == AGENT_ANN_NONE);
    assert(!strcmp(a.endpoint, "tcp://10.0.0.1:7110"));
    assert(agent_ann_refresh(&a, why, sizeof why) == 0);
    assert(!strcmp(a.endpoint, "tcp://10.0.0.1:7110") && !a.ip[0]);
    /* A wildcard with no way to find the address: refused, clearly. */
    assert(agent_ann_init(&a, "tcp://*:7110", NULL, "tcp://aggregator:7122",
                          true, why, sizeof why) == -1);
    assert(strstr(why, "'tcp://*:7110' is a wildcard"));
    assert(strstr(why, "bus.announce_iface"));
    assert(agent_ann_init(&a, "tcp://*:7110", "", "ipc:///x", false, why,
                          sizeof why) == -1);
    /* A bad interface name, escaped in the reason. */
    assert(agent_ann_init(&a, "tcp://*:7110", "eth0\n\x1b[31m",
                          "tcp://127.0.0.1:7122", true, why, sizeof why)
           == -1);
    assert(strstr(why, "not an interface name") && !strchr(why, '\n')
           && !strchr(why, '\x1b'));
    assert(agent_ann_init(&a, "tcp://*:7110", "a23456789012345x", NULL,
                          true, why, sizeof why) == -1);
    assert(agent_ann_init(&a, "", NULL, NULL, true, why, sizeof why) == -1);
    assert(agent_ann_init(&a, NULL, NULL, NULL, true, why, sizeof why)
           == -1);
    /* A fixed endpoint with an interface named: host_ip found. */
    assert(agent_ann_init(&a, "ipc:///x", "lo", NULL, true, why, sizeof why)
           == 0);
    assert(a.want_ip && !a.ctl_wild && a.from == AGENT_ANN_IFACE);
    /* ...and not when host_ip is set (want_ip false). */
    assert(agent_ann_init(&a, "ipc:///x", "lo", NULL, false, why,
                          sizeof why) == 0);
    assert(!a.want_ip);
    /* A fixed endpoint and a route: no host_ip found unasked. */
    assert(agent_ann_init(&a, "tcp://10.0.0.1:7110", NULL,
                          "tcp://127.0.0.1:7122", true, why, sizeof why)
           == 0);
    assert(!a.want_ip && a.from == AGENT_ANN_ROUTE);
}

static void
test_found(void)
{
    struct agent_ann a;
    char why[512];
    /* From an interface: lo's 127.0.0.1. */
    assert(agent_ann_init(&a, "tcp://*:7110", "lo", "ipc:///x", true, why,
                          sizeof why) == 0);
    assert(a.endpoint[0] == '\0');
    assert(agent_ann_refresh(&a, why, sizeof why) == 1);
    assert(!strcmp(a.endpoint, "tcp://127.0.0.1:7110"));
    assert(!strcmp(a.ip, "127.0.0.1"));
    assert(agent_ann_refresh(&a, why, sizeof why) == 0);
    assert(!strcmp(a.endpoint, "tcp://127.0.0.1:7110"));
    /* From the route toward the aggregator: the loopback's source. */
    assert(agent_ann_init(&a, "tcp://0.0.0.0:7111", NULL,
                          "tcp://127.0.0.9:7122", true, why, sizeof why)
           == 0);
    assert(agent_ann_refresh(&a, why, sizeof why) == 1);
    assert(!strcmp(a.ip, "127.0.0.1") || !strcmp(a.ip, "127.0.0.9"));
    char want[64];
    snprintf(want, sizeof want, "tcp://%s:7111", a.ip);
    assert(!strcmp(a.endpoint, want));
    /* An interface that is not there: not found, nothing announced. */
    assert(agent_ann_init(&a, "tcp://*:7110", "vrnosuch0", NULL, true, why,
                          sizeof why) == 0);
    assert(agent_ann_refresh(&a, why, sizeof why) == -1);
    assert(strstr(why, "no such interface") && !a.endpoint[0] && !a.ip[0]);
    assert(agent_ann_refresh(&a, why, sizeof why) == -1);
    /* A fixed endpoint whose host_ip cannot be found: still announced. */
    assert(agent_ann_init(&a, "tcp://10.0.0.1:7110", "vrnosuch0", NULL,
                          true, why, sizeof why) == 0);
    assert(agent_ann_refresh(&a, why, sizeof why) == -1);
    assert(!strcmp(a.endpoint, "tcp://10.0.0.1:7110") && !a.ip[0]);
}

int
main(void)
{
    test_wildcard();
    test_init();
    test_found();
    printf("agent_announce: ok\n");
    return 0;
}
