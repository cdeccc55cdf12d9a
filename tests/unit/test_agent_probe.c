/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_probe: the table of probes waiting for their echo:
 * adding up to the cap, finding by cookie, re-sending on time, expiring
 * at the deadline (the timeout clamped), freeing slots. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "agent_probe.h"

int
main(void)
{
    static struct agent_probes t;
    uint64_t now = 1000000;

    /* Sent at once, then every PROBE_RESEND_MS. */
    struct agent_probe *a = agent_probe_add(&t, 3, "h3", 42, now, 0);
    assert(a && t.n == 1 && a->link == 3 && !strcmp(a->link_name, "h3"));
    assert(agent_probe_due(&t, now) == a);
    assert(agent_probe_due(&t, now) == NULL);
    assert(agent_probe_due(&t, now + PROBE_RESEND_MS * 1000ull - 1) == NULL);
    assert(agent_probe_due(&t, now + PROBE_RESEND_MS * 1000ull) == a);

    /* Found by its cookie only. */
    assert(agent_probe_find(&t, 42) == a);
    assert(agent_probe_find(&t, 43) == NULL);

    /* Expires at its deadline: the default timeout when none is asked. */
    assert(agent_probe_expired(&t, now + PROBE_TIMEOUT_MS * 1000ull - 1)
           == NULL);
    assert(agent_probe_expired(&t, now + PROBE_TIMEOUT_MS * 1000ull) == a);
    agent_probe_done(&t, a);
    assert(t.n == 0 && agent_probe_find(&t, 42) == NULL);
    agent_probe_done(&t, a);            /* twice: no harm */
    assert(t.n == 0);

    /* A huge timeout is clamped. */
    a = agent_probe_add(&t, 1, "x", 7, now, 4000000000u);
    assert(a->deadline_us == now + PROBE_MAX_TIMEOUT_MS * 1000ull);
    agent_probe_done(&t, a);

    /* At most PROBE_MAX wait; a freed slot is used again. */
    struct agent_probe *all[PROBE_MAX];
    for (int i = 0; i < PROBE_MAX; i++) {
        all[i] = agent_probe_add(&t, i, "l", 100 + (uint64_t) i, now, 100);
        assert(all[i]);
    }
    assert(agent_probe_add(&t, 0, "l", 999, now, 100) == NULL);
    assert(agent_probe_find(&t, 100 + PROBE_MAX - 1) == all[PROBE_MAX - 1]);
    agent_probe_done(&t, all[5]);
    assert(agent_probe_add(&t, 0, "l", 999, now, 100) == all[5]);

    /* A long name is cut, never overflows. */
    char longname[200];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    agent_probe_done(&t, all[6]);
    a = agent_probe_add(&t, 0, longname, 1, now, 100);
    assert(a && strlen(a->link_name) == sizeof a->link_name - 1);

    /* Every one expires. */
    size_t n = 0;
    struct agent_probe *p;
    while ((p = agent_probe_expired(&t, now + 100000))) {
        agent_probe_done(&t, p);
        n++;
    }
    assert(n == PROBE_MAX && t.n == 0);
    printf("agent_probe: ok\n");
    return 0;
}
