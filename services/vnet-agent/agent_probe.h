/* SPDX-License-Identifier: MIT */
/* Link probes waiting for their echo.  A LinkProbe request is answered
 * later (svc_defer): its probe goes into this table, is re-sent every
 * PROBE_RESEND_MS while it waits, and leaves it when its echo comes back
 * (agent_probe_take) or its time is up (agent_probe_due).  So the control
 * thread never waits for a peer.  Plain data, no I/O: agent_ctl.c sends,
 * receives and answers.  Control thread only. */
#ifndef AGENT_PROBE_H
#define AGENT_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svc.h"

enum {
    PROBE_MAX = 16,             /* probes waiting at once */
    PROBE_RESEND_MS = 100,      /* a probe is a datagram too */
    PROBE_TIMEOUT_MS = 500,     /* when the request says none */
    PROBE_MAX_TIMEOUT_MS = 5000,
};

struct agent_probe {
    bool used;                  /* a probe waits in this slot */
    uint64_t cookie;            /* what the echo must carry */
    int link;                   /* the link's index... */
    char link_name[64];         /* ...and name, to tell a new link apart */
    uint64_t t0_us;             /* monotonic time of the request */
    uint64_t deadline_us;       /* answered "no echo" from then on */
    uint64_t next_send_us;      /* when to send it (again) */
    struct svc_later later;     /* the request to answer */
};

struct agent_probes {
    struct agent_probe slot[PROBE_MAX];
    size_t n;                   /* slots used */
};

/* Adds a probe of link 'link' named 'name' with 'cookie', asked at 'now_us'
 * with 'timeout_ms' (0: PROBE_TIMEOUT_MS; at most PROBE_MAX_TIMEOUT_MS), to
 * be sent at once.  Returns the slot, or NULL when PROBE_MAX wait already. */
struct agent_probe *agent_probe_add(struct agent_probes *t, int link,
                                    const char *name, uint64_t cookie,
                                    uint64_t now_us, uint32_t timeout_ms);

/* The waiting probe whose echo carries 'cookie', or NULL. */
struct agent_probe *agent_probe_find(struct agent_probes *t,
                                     uint64_t cookie);

/* The first probe at or past its deadline at 'now_us', or NULL.  The
 * caller answers it and calls agent_probe_done(). */
struct agent_probe *agent_probe_expired(struct agent_probes *t,
                                        uint64_t now_us);

/* The first probe due to be (re)sent at 'now_us', with its next sending
 * moved PROBE_RESEND_MS on; NULL when none is due. */
struct agent_probe *agent_probe_due(struct agent_probes *t, uint64_t now_us);

/* Frees slot 'p'. */
void agent_probe_done(struct agent_probes *t, struct agent_probe *p);

#endif /* AGENT_PROBE_H */
