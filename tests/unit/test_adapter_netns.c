/* SPDX-License-Identifier: MIT */
/* The netns backend's pure parts: the VLAN range of netns.vlans, and the
 * VLAN circuits it hands out with it (the lowest free VLAN and /30, none
 * twice, given back at teardown, taken again after a restart from what
 * was recorded), without running anything: in that mode no device is
 * made.  The sweep's parser of 'ip -o link' lines too. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "adapter_netns.h"
#include "log.h"

static void
s_parse(void)
{
    uint32_t lo = 0, hi = 0;
    assert(adapter_netns_parse_vlans("1780-1799", &lo, &hi)
           && lo == 1780 && hi == 1799);
    assert(adapter_netns_parse_vlans("7", &lo, &hi) && lo == 7 && hi == 7);
    assert(adapter_netns_parse_vlans("1-4094", &lo, &hi)
           && lo == 1 && hi == 4094);
    const char *bad[] = { NULL, "", "-", "0", "0-5", "1-4095", "4095",
                          "9-8", "a-b", "17 - 20", " 17", "17-", "-17",
                          "+17", "17-20x", "17-20-30", "01780-1799",
                          "99999", "1780-17990", "1780,1790" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert(!adapter_netns_parse_vlans(bad[i], &lo, &hi));
    }
    /* A leading zero within four digits is a number still. */
    assert(adapter_netns_parse_vlans("0017-0020", &lo, &hi) && lo == 17);

    uint64_t n = 0;
    assert(adapter_netns_parse_link("7: vrp12@if8: <UP>", &n) && n == 12);
    assert(!adapter_netns_parse_link("7: vrp012@if8: <UP>", &n));
    assert(!adapter_netns_parse_link("7: ckt0.1780@ckt0: <UP>", &n));
}

static void
s_circuits(void)
{
    struct adapter_netns_host_cfg hosts[3] = {
        { "10.200.0.1", "b-h1" }, { "10.200.0.2", "b-h2" },
        { "10.200.0.3", "b-h3" },
    };
    struct adapter_netns_config cfg = {
        .hosts = { .v = hosts, .n = 3 },
        .pool = "10.212.0.0/29",            /* two /30s */
        .mtu = 9000, .lambdas = 4, .ip_cmd = "/bin/false",
        .tc_cmd = "/bin/false", .vlans = "1780-1782",
    };
    char err[256], a[64], b[64], detail[256];
    uint32_t vlan = 0;
    adapter_netns_t *ns = adapter_netns_new(&cfg, err, sizeof err);
    assert(ns && adapter_netns_vlan_mode(ns));
    assert(adapter_netns_vlan_take(ns, 1, "10.200.0.1", "10.200.0.2", &vlan,
                                   a, b, sizeof a, detail, sizeof detail,
                                   err, sizeof err) == 0);
    assert(vlan == 1780 && !strcmp(a, "10.212.0.1")
           && !strcmp(b, "10.212.0.2") && strstr(detail, "vlan 1780"));
    assert(adapter_netns_vlan_take(ns, 2, "10.200.0.2", "10.200.0.3", &vlan,
                                   a, b, sizeof a, detail, sizeof detail,
                                   err, sizeof err) == 0);
    assert(vlan == 1781 && !strcmp(a, "10.212.0.5"));
    /* The pool is out of /30s before the range is out of VLANs. */
    assert(adapter_netns_vlan_take(ns, 3, "10.200.0.1", "10.200.0.3", &vlan,
                                   a, b, sizeof a, detail, sizeof detail,
                                   err, sizeof err) == -1);
    assert(strstr(err, "netns.pool"));
    assert(adapter_netns_vlan_take(ns, 3, "10.200.0.1", "10.200.0.9", &vlan,
                                   a, b, sizeof a, detail, sizeof detail,
                                   err, sizeof err) == -1);
    /* Teardown gives both back: the lowest again. */
    adapter_netns_vlan_free(ns, 1);
    assert(adapter_netns_vlan_take(ns, 4, "10.200.0.1", "10.200.0.3", &vlan,
                                   a, b, sizeof a, detail, sizeof detail,
                                   err, sizeof err) == 0);
    assert(vlan == 1780 && !strcmp(a, "10.212.0.1"));
    adapter_netns_destroy(&ns);

    /* A restart: what was recorded is taken again, once. */
    ns = adapter_netns_new(&cfg, err, sizeof err);
    assert(ns);
    assert(adapter_netns_vlan_adopt(ns, 4, 1780, "10.212.0.1"));
    assert(adapter_netns_vlan_adopt(ns, 4, 1780, "10.212.0.1"));
    assert(!adapter_netns_vlan_adopt(ns, 2, 1780, "10.212.0.5"));
    assert(!adapter_netns_vlan_adopt(ns, 2, 1781, "10.212.0.1"));
    assert(!adapter_netns_vlan_adopt(ns, 2, 1783, "10.212.0.5"));
    assert(!adapter_netns_vlan_adopt(ns, 2, 0, "10.212.0.5"));
    assert(!adapter_netns_vlan_adopt(ns, 2, 1781, "10.212.0.6"));
    assert(!adapter_netns_vlan_adopt(ns, 2, 1781, "10.99.0.5"));
    assert(!adapter_netns_vlan_adopt(ns, 2, 1781, "x"));
    assert(adapter_netns_vlan_adopt(ns, 2, 1781, "10.212.0.5"));
    assert(adapter_netns_vlan_take(ns, 5, "10.200.0.1", "10.200.0.3", &vlan,
                                   a, b, sizeof a, detail, sizeof detail,
                                   err, sizeof err) == -1);
    adapter_netns_destroy(&ns);

    /* A bad range is refused at start; none at all is veth mode. */
    cfg.vlans = "1780-4095";
    assert(!adapter_netns_new(&cfg, err, sizeof err));
    assert(strstr(err, "netns.vlans"));
    cfg.vlans = "";
    ns = adapter_netns_new(&cfg, err, sizeof err);
    assert(ns && !adapter_netns_vlan_mode(ns));
    assert(adapter_netns_vlan_take(ns, 1, "10.200.0.1", "10.200.0.2", &vlan,
                                   a, b, sizeof a, detail, sizeof detail,
                                   err, sizeof err) == -1);
    assert(!adapter_netns_vlan_adopt(ns, 1, 1780, "10.212.0.1"));
    adapter_netns_destroy(&ns);
}

int
main(void)
{
    log_init("test_adapter_netns");
    s_parse();
    s_circuits();
    printf("test_adapter_netns: ok\n");
    return 0;
}
