/* SPDX-License-Identifier: MIT */
/* vttif-aggregator, the service around the inference core (vttif_tm):
 * takes the agents' local matrices, VM locations and announcements on its
 * ingest socket, ticks the core, publishes topology events when the
 * topology really changes and the smoothed global matrix every period,
 * republishes the agents' announcements and VM locations (so a planner
 * needs only this service's events to know every agent and VM), and
 * answers queries: topology, matrix, per-VM totals, agents.  Every
 * ingest field is checked first (vttif_check.h) and every buffer and
 * table is bounded from the config (README.md, "Bounds"). */
#ifndef VTTIF_AGG_H
#define VTTIF_AGG_H

#include "cfg.h"
#include "svc.h"
#include "vttif_ann.h"
#include "vttif_check.h"
#include "vttif_tm.h"

#define AGG_DEFAULT_CONTROL "tcp://127.0.0.1:7120"
#define AGG_DEFAULT_EVENTS "tcp://127.0.0.1:7121"
#define AGG_DEFAULT_INGEST "tcp://127.0.0.1:7122"

/* Ingest bounds, and why.
 * - 4 MiB a message: twice the largest matrix the default entry cap
 *   allows; libzmq disconnects a publisher that sends more.
 * - 100 messages queued per publisher: 10 s of an agent at 100 ms.
 * - 8 MiB of heap a decoded message: a full matrix takes ~4.5 MiB.
 * - An announcement not renewed in 120 s is forgotten (agents announce
 *   every hello_ms, 1 s by default, at most 60 s). */
#define AGG_DEFAULT_MAX_MSG_SIZE (4u << 20)
#define AGG_DEFAULT_RCVHWM 100
#define AGG_DEFAULT_MAX_DECODED (8u << 20)
#define AGG_DEFAULT_ANNOUNCE_TIMEOUT_S 120.0

struct agg_cfg {
    struct svc_common_cfg common;
    char *events;               /* PUB: matrix, topology, locations */
    char *ingest;               /* SUB: the agents publish here */
    uint32_t tick_ms;           /* how often the core is ticked */
    uint32_t matrix_ms;         /* global matrix publishing period */
    struct vttif_tm_params tm;  /* inference parameters */
    uint32_t settle_changes;    /* copied into tm (cfg has no unsigned) */
    uint32_t max_agents;        /* copied into tm (size_t there) */
    uint32_t max_reports;       /* likewise */
    uint32_t max_pairs;         /* likewise */
    uint32_t max_vms;           /* likewise */
    uint32_t max_msg_size;      /* ingest: largest message, bytes */
    uint32_t rcvhwm;            /* ingest: messages queued per publisher */
    uint32_t max_decoded;       /* heap a decoded message may take */
    struct vttif_check_limits lim; /* repeated fields per message */
    double announce_timeout_s;  /* announcements not renewed: forgotten */
};

extern const struct cfg_key agg_cfg_keys[];

/* Checks what the table cannot (relations between parameters) and fills
 * the core's parameters from the config.  Returns false with a sentence
 * in 'err'. */
bool agg_cfg_finish(struct agg_cfg *cfg, char *err, size_t err_size);

/* The service: its name, role and config (main.c, and the harness that
 * drives it without sockets). */
extern const struct svc_def agg_svc_def;

typedef struct vttif_agg vttif_agg_t;

/* Binds the events and ingest sockets and registers the handlers and
 * timers with 'svc'.  Returns NULL with the reason logged.  The caller
 * owns the result; 'cfg' must outlive it. */
vttif_agg_t *vttif_agg_new(svc_t *svc, const struct agg_cfg *cfg);

/* Frees '*self_p' if not NULL and sets it to NULL. */
void vttif_agg_destroy(vttif_agg_t **self_p);

/* Takes one message the agents publish (LocalMatrix, VmLocations,
 * AgentAnnounce), as received on the ingest socket: checks it, feeds it
 * to the core or the announcement table, republishes what is
 * republished.  Returns true if it was taken, false if it was refused
 * (counted, logged rate-limited) or is not an ingest type.  The ingest
 * socket's reader calls it; so does tests/fuzz/fuzz_vttif_svc.c. */
bool vttif_agg_ingest(vttif_agg_t *self, const bus_msg_t *msg);

#endif /* VTTIF_AGG_H */
