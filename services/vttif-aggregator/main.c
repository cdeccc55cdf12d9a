/* SPDX-License-Identifier: MIT */
/* vttif-aggregator: infers the application's topology from the agents'
 * traffic matrices (VTTIF).  So far only its bus side exists: control,
 * the events socket it will publish on, and the ingest socket agents
 * publish to (messages are checked and counted, not yet used). */
#include <stddef.h>

#include "svc.h"

#define AGG_DEFAULT_CONTROL "tcp://127.0.0.1:7120"
#define AGG_DEFAULT_EVENTS "tcp://127.0.0.1:7121"
#define AGG_DEFAULT_INGEST "tcp://127.0.0.1:7122"

struct agg_cfg {
    struct svc_common_cfg common;
    char *events;               /* PUB: matrix, topology, VM locations */
    char *ingest;               /* SUB: agents' local matrices */
};

static const struct cfg_key agg_keys[] = {
    SVC_CFG_COMMON_KEYS(struct agg_cfg, AGG_DEFAULT_CONTROL),
    CFG_KEY_STR("bus.events", struct agg_cfg, events, AGG_DEFAULT_EVENTS,
                "endpoint the events (PUB) socket binds"),
    CFG_KEY_STR("bus.ingest", struct agg_cfg, ingest, AGG_DEFAULT_INGEST,
                "endpoint the ingest (SUB) socket binds; agents connect"),
    CFG_KEYS_END,
};

static const struct svc_def agg_def = {
    .name = "vttif-aggregator",
    .role = "aggregator",
    .summary = "Traffic matrix and topology inference (VTTIF).",
    .keys = agg_keys,
    .common_offset = offsetof(struct agg_cfg, common),
};

int
main(int argc, char **argv)
{
    struct agg_cfg cfg;
    int rc;
    svc_t *svc = svc_new(&agg_def, argc, argv, &cfg, &rc);
    if (!svc) {
        return rc;
    }
    zsock_t *events = bus_bind(svc_bus(svc), ZMQ_PUB, cfg.events);
    zsock_t *ingest = bus_bind(svc_bus(svc), ZMQ_SUB, cfg.ingest);
    rc = SVC_EXIT_FAIL;
    if (events && ingest) {
        bus_subscribe(ingest, "");
        svc_add_reader(svc, ingest, svc_reader_discard, NULL);
        svc_set_state(svc, "running: bus only, no inference yet");
        rc = svc_run(svc);
    }
    zsock_destroy(&ingest);
    zsock_destroy(&events);
    svc_destroy(&svc);
    return rc;
}
