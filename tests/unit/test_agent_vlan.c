/* SPDX-License-Identifier: MIT */
/* agent_vlan: the names, addresses and marks of VLAN sub-interfaces
 * (pure), and the life of one as the control loop sees it, with 'ip'
 * stood in for by /bin/true (every step succeeds) and /bin/false (the
 * first fails): want -> pending -> up (the ready callback told), the
 * same want again is nothing, another VLAN for the link or the VLAN for
 * another link is refused, drop frees it; a failed making is FAILED
 * with the run's words and is tried again by the next want.  The exact
 * 'ip' words of each kind, as a stand-in records them; a hung 'ip' is
 * killed at its deadline. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent_jobs.h"
#include "agent_vlan.h"
#include "log.h"

static int s_ready;

static void
s_on_ready(const char *link, void *arg)
{
    (void) arg;
    assert(!strcmp(link, "vr-r-1") || !strcmp(link, "vr-r-2"));
    s_ready++;
}

static void
s_pure(void)
{
    char why[256], dev[IF_NAMESIZE], cidr[AGENT_VLAN_CIDR_LEN];

    assert(agent_vlan_nic_ok("ckt0", why, sizeof why));
    assert(agent_vlan_nic_ok("enp1s0f1.x_y-z", why, sizeof why));
    assert(agent_vlan_nic_ok("abcdefghijklmno", why, sizeof why));
    assert(!agent_vlan_nic_ok("abcdefghijklmnop", why, sizeof why));
    assert(strstr(why, "overlay.circuit_nic"));
    assert(!agent_vlan_nic_ok("", why, sizeof why));
    assert(!agent_vlan_nic_ok(NULL, why, sizeof why));
    assert(!agent_vlan_nic_ok("-x", why, sizeof why));
    assert(!agent_vlan_nic_ok("..", why, sizeof why));
    assert(!agent_vlan_nic_ok("a/b", why, sizeof why));
    assert(!agent_vlan_nic_ok("a b", why, sizeof why));
    assert(!agent_vlan_nic_ok("eth0\n", why, sizeof why));
    assert(!strchr(why, '\n'));          /* escaped */

    assert(agent_vlan_dev_name("ckt0", 1780, dev) && !strcmp(dev, "ckt0.1780"));
    assert(agent_vlan_dev_name("ckt0", 1, dev) && !strcmp(dev, "ckt0.1"));
    assert(agent_vlan_dev_name("abcdefghij", 4094, dev)
           && !strcmp(dev, "abcdefghij.4094"));       /* 15: fits */
    assert(agent_vlan_dev_name("abcdefghijk", 4094, dev)
           && !strcmp(dev, "vrv4094"));               /* 16: does not */
    assert(agent_vlan_dev_name("abcdefghijklmno", 7, dev)
           && !strcmp(dev, "vrv7"));
    assert(!agent_vlan_dev_name("ckt0", 0, dev));
    assert(!agent_vlan_dev_name("ckt0", 4095, dev));
    assert(!agent_vlan_dev_name("ckt0", 100000, dev));

    uint32_t vlan = 0;
    assert(agent_vlan_parse_dev("ckt0", "ckt0.1780", &vlan) && vlan == 1780);
    assert(agent_vlan_parse_dev("ckt0", "ckt0.1", &vlan) && vlan == 1);
    assert(agent_vlan_parse_dev("abcdefghijk", "vrv4094", &vlan)
           && vlan == 4094);
    assert(!agent_vlan_parse_dev("ckt0", "vrv4094", &vlan));  /* not ours:
                                                  ckt0.4094 fits */
    assert(!agent_vlan_parse_dev("ckt0", "ckt0.01780", &vlan));
    assert(!agent_vlan_parse_dev("ckt0", "ckt0.0", &vlan));
    assert(!agent_vlan_parse_dev("ckt0", "ckt0.4095", &vlan));
    assert(!agent_vlan_parse_dev("ckt0", "ckt0.17800", &vlan));
    assert(!agent_vlan_parse_dev("ckt0", "ckt0.", &vlan));
    assert(!agent_vlan_parse_dev("ckt0", "ckt0.17x", &vlan));
    assert(!agent_vlan_parse_dev("ckt0", "ckt1.1780", &vlan));
    assert(!agent_vlan_parse_dev("ckt0", "ckt0", &vlan));
    assert(!agent_vlan_parse_dev("ckt0", "eth0.1780", &vlan));

    assert(agent_vlan_cidr("10.212.0.1", 30, cidr, why, sizeof why)
           && !strcmp(cidr, "10.212.0.1/30"));
    assert(agent_vlan_cidr("10.212.0.2", 31, cidr, why, sizeof why)
           && !strcmp(cidr, "10.212.0.2/31"));
    assert(agent_vlan_cidr("10.212.0.0", 31, cidr, why, sizeof why));
    assert(!agent_vlan_cidr("10.212.0.0", 30, cidr, why, sizeof why));
    assert(!agent_vlan_cidr("10.212.0.3", 30, cidr, why, sizeof why));
    assert(!agent_vlan_cidr("10.212.0.1", 32, cidr, why, sizeof why));
    assert(strstr(why, "prefix_len"));
    assert(!agent_vlan_cidr("10.212.0.1", 7, cidr, why, sizeof why));
    assert(!agent_vlan_cidr("10.212.0.1:7000", 30, cidr, why, sizeof why));
    assert(strstr(why, "link.local"));
    assert(!agent_vlan_cidr("224.0.0.1", 24, cidr, why, sizeof why));
    assert(!agent_vlan_cidr("127.0.0.2", 8, cidr, why, sizeof why));
    assert(!agent_vlan_cidr("0.0.0.0", 8, cidr, why, sizeof why));
    assert(!agent_vlan_cidr("fe80::1", 64, cidr, why, sizeof why));
    assert(!agent_vlan_cidr("", 30, cidr, why, sizeof why));
    assert(!agent_vlan_cidr(NULL, 30, cidr, why, sizeof why));
    assert(!agent_vlan_cidr("10.1.1.1 ; rm", 30, cidr, why, sizeof why));

    char mark[96];
    agent_vlan_mark("h1", mark, sizeof mark);
    assert(!strcmp(mark, "vreserve-agent h1"));
    assert(agent_vlan_is_mark("vreserve-agent h1", "h1"));
    assert(agent_vlan_is_mark("vreserve-agent h1\n", "h1"));
    assert(!agent_vlan_is_mark("vreserve-agent h10\n", "h1"));
    assert(!agent_vlan_is_mark("vreserve-agent h", "h1"));
    assert(!agent_vlan_is_mark("vreserve-agent h2", "h1"));
    assert(!agent_vlan_is_mark("", "h1"));
    assert(!agent_vlan_is_mark("uplink to the lab", "h1"));
}

static void
s_life(void)
{
    char why[256], dev[IF_NAMESIZE];
    const char *err;
    /* A NIC name no host has: nothing here can exist by that name. */
    agent_vlan_t *v = agent_vlan_new("zzvt9", "vlan", "/bin/true", "t1", 2000,
                                     s_on_ready, NULL, why, sizeof why);
    assert(v);
    assert(!agent_vlan_new("zz vt", "vlan", "/bin/true", "t1", 2000, NULL,
                           NULL, why, sizeof why));
    assert(!agent_vlan_new("zzvt9", "qinq", "/bin/true", "t1", 2000, NULL,
                           NULL, why, sizeof why));
    assert(strstr(why, "circuit_kind"));

    assert(agent_vlan_state(v, "vr-r-1", dev, &err) == AGENT_VLAN_NONE);
    assert(agent_vlan_want(v, "vr-r-1", 1780, "10.212.0.1/30", 0, why,
                           sizeof why) == 0);
    assert(agent_vlan_state(v, "vr-r-1", dev, &err) == AGENT_VLAN_PENDING);
    assert(!strcmp(dev, "zzvt9.1780"));
    assert(agent_vlan_wait(v, 5000));
    assert(agent_vlan_state(v, "vr-r-1", dev, &err) == AGENT_VLAN_UP);
    assert(s_ready == 1 && agent_vlan_stats(v)->made == 1);
    assert(agent_vlan_jobs(v)->run == 4);    /* add, mark, addr, up */
    /* Again: nothing.  Another VLAN or address for it, or its VLAN for
     * another link: refused. */
    assert(agent_vlan_want(v, "vr-r-1", 1780, "10.212.0.1/30", 0, why,
                           sizeof why) == 0);
    assert(agent_vlan_want(v, "vr-r-1", 1781, "10.212.0.1/30", 0, why,
                           sizeof why) == -1);
    assert(agent_vlan_want(v, "vr-r-1", 1780, "10.212.0.5/30", 0, why,
                           sizeof why) == -1);
    assert(agent_vlan_want(v, "vr-r-2", 1780, "10.212.0.5/30", 0, why,
                           sizeof why) == -1);
    assert(strstr(why, "vr-r-1"));
    assert(agent_vlan_want(v, "vr-r-2", 0, "10.212.0.5/30", 0, why,
                           sizeof why) == -1);
    assert(agent_vlan_stats(v)->refused == 4);
    assert(agent_vlan_count(v) == 1);
    /* The fast path uses a real VLAN device itself. */
    agent_vlan_fast_dev(v, "zzvt9.1780", dev);
    assert(!strcmp(dev, "zzvt9.1780"));
    /* Dropped: its device does not exist (ip was /bin/true), so it is
     * freed at once. */
    agent_vlan_drop(v, "vr-r-1");
    assert(agent_vlan_state(v, "vr-r-1", dev, &err) == AGENT_VLAN_NONE);
    assert(agent_vlan_count(v) == 0);
    agent_vlan_drop(v, "vr-r-1");                    /* nothing */
    agent_vlan_destroy(&v);
    assert(!v);

    /* A failing ip: FAILED with its words; the next want tries again. */
    v = agent_vlan_new("zzvt9", "macvlan", "/bin/false", "t1", 2000,
                       s_on_ready, NULL, why, sizeof why);
    assert(v);
    assert(agent_vlan_want(v, "vr-r-2", 1799, "10.212.0.6/30", 9000, why,
                           sizeof why) == 0);
    assert(agent_vlan_wait(v, 5000));
    assert(agent_vlan_state(v, "vr-r-2", dev, &err) == AGENT_VLAN_FAILED);
    assert(strstr(err, "exited 1") && s_ready == 2);
    assert(agent_vlan_stats(v)->failed == 1);
    assert(agent_vlan_want(v, "vr-r-2", 1799, "10.212.0.6/30", 9000, why,
                           sizeof why) == 0);
    assert(agent_vlan_state(v, "vr-r-2", dev, &err) == AGENT_VLAN_PENDING);
    assert(agent_vlan_wait(v, 5000));
    assert(agent_vlan_stats(v)->failed == 2);
    /* A macvlan stand-in of ours: the fast path uses the NIC. */
    agent_vlan_fast_dev(v, "zzvt9.1799", dev);
    assert(!strcmp(dev, "zzvt9"));
    agent_vlan_fast_dev(v, "eth0", dev);
    assert(!strcmp(dev, "eth0"));
    agent_vlan_fast_dev(NULL, "zzvt9.1799", dev);
    assert(!strcmp(dev, "zzvt9.1799"));
    agent_vlan_destroy(&v);
}

/* Writes an executable 'ip' stand-in at 'path' running 'body'. */
static void
s_script(const char *path, const char *body)
{
    FILE *f = fopen(path, "w");
    assert(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    assert(chmod(path, 0700) == 0);
}

/* The words each kind runs, in order, as a stand-in 'ip' records them;
 * and a hung one, killed at its deadline. */
static void
s_words(void)
{
    char dir[] = "/tmp/test_agent_vlan.XXXXXX";
    assert(mkdtemp(dir));
    char ip[128], log[128], body[300], why[256], dev[IF_NAMESIZE];
    const char *err;
    snprintf(ip, sizeof ip, "%s/ip", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(body, sizeof body, "echo \"$*\" >>'%s'", log);
    s_script(ip, body);
    agent_vlan_t *v = agent_vlan_new("zzvt9", "vlan", ip, "h7", 2000, NULL,
                                     NULL, why, sizeof why);
    assert(v);
    assert(agent_vlan_want(v, "vr-r-3", 1790, "10.212.0.9/30", 1600, why,
                           sizeof why) == 0);
    assert(agent_vlan_wait(v, 5000));
    assert(agent_vlan_state(v, "vr-r-3", dev, &err) == AGENT_VLAN_UP);
    agent_vlan_destroy(&v);
    v = agent_vlan_new("zzvt9", "macvlan", ip, "h7", 2000, NULL, NULL, why,
                       sizeof why);
    assert(v);
    assert(agent_vlan_want(v, "vr-r-4", 1791, "10.212.0.13/30", 0, why,
                           sizeof why) == 0);
    assert(agent_vlan_wait(v, 5000));
    agent_vlan_destroy(&v);
    FILE *f = fopen(log, "r");
    assert(f);
    char got[2048] = "";
    size_t n = fread(got, 1, sizeof got - 1, f);
    got[n] = '\0';
    fclose(f);
    const char *want =
        "link add link zzvt9 name zzvt9.1790 mtu 1600 type vlan id 1790\n"
        "link set dev zzvt9.1790 alias vreserve-agent h7\n"
        "addr add 10.212.0.9/30 dev zzvt9.1790\n"
        "link set dev zzvt9.1790 up promisc on\n"
        "link add link zzvt9 name zzvt9.1791 type macvlan mode bridge\n"
        "link set dev zzvt9.1791 alias vreserve-agent h7\n"
        "addr add 10.212.0.13/30 dev zzvt9.1791\n"
        "link set dev zzvt9.1791 up\n";
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "ran:\n%s", got);
    }
    assert(!strcmp(got, want));

    /* An ip that hangs is killed at its deadline: FAILED, counted. */
    s_script(ip, "sleep 10");
    v = agent_vlan_new("zzvt9", "vlan", ip, "h7", 200, NULL, NULL, why,
                       sizeof why);
    assert(v);
    assert(agent_vlan_want(v, "vr-r-5", 1792, "10.212.0.17/30", 0, why,
                           sizeof why) == 0);
    assert(agent_vlan_wait(v, 5000));
    assert(agent_vlan_state(v, "vr-r-5", dev, &err) == AGENT_VLAN_FAILED);
    assert(strstr(err, "timed out"));
    assert(agent_vlan_jobs(v)->timed_out == 1);
    agent_vlan_destroy(&v);

    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert(system(cmd) == 0);
}

int
main(void)
{
    log_init("test_agent_vlan");
    s_pure();
    s_life();
    s_words();
    printf("test_agent_vlan: ok\n");
    return 0;
}
