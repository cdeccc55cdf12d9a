/* SPDX-License-Identifier: MIT */
/* vnet-agent: the overlay data plane on one host (VNET).  So far only its
 * bus side exists: the control socket answers status, and the events
 * socket is connected to the aggregator's ingest endpoint.  Capture,
 * forwarding and accounting come with the data-plane issue. */
#include <stddef.h>

#include "svc.h"

#define AGENT_DEFAULT_CONTROL "tcp://127.0.0.1:7110"
#define AGENT_DEFAULT_AGGREGATOR "tcp://127.0.0.1:7122"

struct agent_cfg {
    struct svc_common_cfg common;
    char *aggregator;           /* aggregator's ingest endpoint */
};

static const struct cfg_key agent_keys[] = {
    SVC_CFG_COMMON_KEYS(struct agent_cfg, AGENT_DEFAULT_CONTROL),
    CFG_KEY_STR("bus.aggregator", struct agent_cfg, aggregator,
                AGENT_DEFAULT_AGGREGATOR,
                "aggregator ingest endpoint the events socket connects to"),
    CFG_KEYS_END,
};

static const struct svc_def agent_def = {
    .name = "vnet-agent",
    .role = "agent",
    .summary = "Overlay data plane for the VMs on this host (VNET).",
    .keys = agent_keys,
    .common_offset = offsetof(struct agent_cfg, common),
};

int
main(int argc, char **argv)
{
    struct agent_cfg cfg;
    int rc;
    svc_t *svc = svc_new(&agent_def, argc, argv, &cfg, &rc);
    if (!svc) {
        return rc;
    }
    zsock_t *events = bus_connect(svc_bus(svc), ZMQ_PUB, cfg.aggregator,
                                  "aggregator");
    if (events) {
        svc_set_state(svc, "running: bus only, no data plane yet");
        rc = svc_run(svc);
    } else {
        rc = SVC_EXIT_FAIL;
    }
    zsock_destroy(&events);
    svc_destroy(&svc);
    return rc;
}
