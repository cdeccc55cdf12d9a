/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_portcfg: the `ports:` patterns' checks (count, length,
 * characters, brackets, a glob's literal prefix) and their matching. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "agent_portcfg.h"

static int
s_check1(const char *pat, char *why, size_t size)
{
    const char *pats[] = { pat };
    return agent_port_patterns_check(pats, 1, why, size);
}

static void
test_good(void)
{
    const char *good[] = { "vm1", "vnet*", "tap*", "vrvm[0-9]*", "tap?",
                           "eth0.100", "br-lan", "vm_[!x]", "ab",
                           "vnet[a-f0-9]?", "123456789012345" };
    char why[256] = "";
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (s_check1(good[i], why, sizeof why) != 0) {
            fprintf(stderr, "refused '%s': %s\n", good[i], why);
            assert(0);
        }
    }
    assert(agent_port_patterns_check(good, sizeof good / sizeof good[0],
                                     why, sizeof why) == 0);
}

static void
test_bad(void)
{
    struct {
        const char *pat;
        const char *says;
    } bad[] = {
        { "", "empty" },
        { "1234567890123456", "longer than" },
        { "*", "2 literal" },
        { "v*", "2 literal" },
        { "?vnet", "2 literal" },
        { "[vt]ap*", "2 literal" },
        { "vnet[0-9", "without its ]" },
        { "vnet 0", "only letters" },
        { "vnet/0", "only letters" },
        { "vn:0", "only letters" },
        { "vnet\n", "only letters" },
        { "vnet\x1b[31m", "only letters" },
        { "vnet[*]", "a [set]" },
        { "vnet[]", "a [set]" },
        { "vnet]", "only letters" },
        { ".", "not an interface" },
        { "..", "not an interface" },
        { "v\xc3\xa9t*", "only letters" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char why[256] = "";
        if (s_check1(bad[i].pat, why, sizeof why) == 0
            || !strstr(why, bad[i].says)) {
            fprintf(stderr, "'%s': got '%s', wanted '%s'\n", bad[i].pat,
                    why, bad[i].says);
            assert(0);
        }
        /* What is shown of the pattern is escaped: no control bytes. */
        for (const char *c = why; *c; c++) {
            assert((unsigned char) *c >= 0x20 && *c != 0x7f);
        }
    }
    /* One bad pattern among good ones is found and named. */
    const char *mixed[] = { "vm1", "vnet*", "*" };
    char why[256];
    assert(agent_port_patterns_check(mixed, 3, why, sizeof why) == -1);
    assert(strstr(why, "'*'"));
    /* A short 'why' is cut, never overrun. */
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    assert(s_check1("*", tiny, sizeof tiny) == -1);
    assert(strlen(tiny) == sizeof tiny - 1);
}

static void
test_count(void)
{
    const char *pats[AGENT_PORT_PATTERNS + 1];
    for (size_t i = 0; i <= AGENT_PORT_PATTERNS; i++) {
        pats[i] = "vm1";
    }
    char why[256];
    assert(agent_port_patterns_check(pats, AGENT_PORT_PATTERNS, why,
                                     sizeof why) == 0);
    assert(agent_port_patterns_check(pats, AGENT_PORT_PATTERNS + 1, why,
                                     sizeof why) == -1);
    assert(strstr(why, "at most"));
    assert(agent_port_patterns_check(NULL, 0, why, sizeof why) == 0);
}

static void
test_match(void)
{
    const char *pats[] = { "vnet*", "tap[0-9]", "vm1", "vrvm[!7]?" };
    size_t n = sizeof pats / sizeof pats[0];
    assert(agent_port_is_glob("vnet*"));
    assert(agent_port_is_glob("tap[0-9]"));
    assert(agent_port_is_glob("tap?"));
    assert(!agent_port_is_glob("vm1"));
    assert(agent_port_matches(pats, n, "vnet0"));
    assert(agent_port_matches(pats, n, "vnet"));
    assert(agent_port_matches(pats, n, "vnet12345"));
    assert(agent_port_matches(pats, n, "tap3"));
    assert(!agent_port_matches(pats, n, "tap10"));
    assert(!agent_port_matches(pats, n, "tapx"));
    assert(agent_port_matches(pats, n, "vm1"));
    assert(!agent_port_matches(pats, n, "vm10"));
    assert(!agent_port_matches(pats, n, "vm"));
    assert(agent_port_matches(pats, n, "vrvm12"));
    assert(!agent_port_matches(pats, n, "vrvm72"));
    assert(!agent_port_matches(pats, n, "eth0"));
    assert(!agent_port_matches(pats, n, "lo"));
    assert(!agent_port_matches(pats, n, ""));
    assert(!agent_port_matches(pats, 0, "vnet0"));
}

static void
test_name_ok(void)
{
    assert(agent_port_name_ok("vm1"));
    assert(agent_port_name_ok("vnet0"));
    assert(agent_port_name_ok("eth0.100"));
    assert(agent_port_name_ok("br-lan_2"));
    assert(agent_port_name_ok("123456789012345"));
    assert(!agent_port_name_ok(""));
    assert(!agent_port_name_ok("1234567890123456"));
    assert(!agent_port_name_ok("vm\x1b[2J"));
    assert(!agent_port_name_ok("vm 1"));
    assert(!agent_port_name_ok("vm*"));
    assert(!agent_port_name_ok("v\xc3\xa9"));
    /* A glob matches what the kernel allows; the name check stops it. */
    const char *pats[] = { "vm*" };
    assert(agent_port_matches(pats, 1, "vm\x1b[2J"));
}

int
main(void)
{
    test_good();
    test_bad();
    test_count();
    test_match();
    test_name_ok();
    printf("agent_portcfg: ok\n");
    return 0;
}
