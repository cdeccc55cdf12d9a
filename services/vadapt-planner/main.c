/* SPDX-License-Identifier: MIT */
/* vadapt-planner: turns topology events into reservations and forwarding
 * changes (VADAPT).  So far only its bus side exists: control, its events
 * socket, and subscriptions to the aggregator's and broker's events
 * (checked and counted, not yet acted on). */
#include <stddef.h>

#include "svc.h"

#define PLAN_DEFAULT_CONTROL "tcp://127.0.0.1:7130"
#define PLAN_DEFAULT_EVENTS "tcp://127.0.0.1:7131"
#define PLAN_DEFAULT_AGG_EVENTS "tcp://127.0.0.1:7121"
#define PLAN_DEFAULT_BROKER_EVENTS "tcp://127.0.0.1:7141"

struct plan_cfg {
    struct svc_common_cfg common;
    char *events;               /* PUB: decisions */
    char *aggregator_events;    /* SUB: topology, VM locations */
    char *broker_events;        /* SUB: reservation events */
};

static const struct cfg_key plan_keys[] = {
    SVC_CFG_COMMON_KEYS(struct plan_cfg, PLAN_DEFAULT_CONTROL),
    CFG_KEY_STR("bus.events", struct plan_cfg, events, PLAN_DEFAULT_EVENTS,
                "endpoint the events (PUB) socket binds"),
    CFG_KEY_STR("bus.aggregator_events", struct plan_cfg, aggregator_events,
                PLAN_DEFAULT_AGG_EVENTS, "aggregator's events endpoint"),
    CFG_KEY_STR("bus.broker_events", struct plan_cfg, broker_events,
                PLAN_DEFAULT_BROKER_EVENTS, "broker's events endpoint"),
    CFG_KEYS_END,
};

static const struct svc_def plan_def = {
    .name = "vadapt-planner",
    .role = "planner",
    .summary = "Adapts the overlay to the inferred topology (VADAPT).",
    .keys = plan_keys,
    .common_offset = offsetof(struct plan_cfg, common),
};

int
main(int argc, char **argv)
{
    struct plan_cfg cfg;
    int rc;
    svc_t *svc = svc_new(&plan_def, argc, argv, &cfg, &rc);
    if (!svc) {
        return rc;
    }
    bus_t *bus = svc_bus(svc);
    zsock_t *events = bus_bind(bus, ZMQ_PUB, cfg.events);
    zsock_t *topo = bus_connect(bus, ZMQ_SUB, cfg.aggregator_events,
                                "aggregator");
    zsock_t *resv = bus_connect(bus, ZMQ_SUB, cfg.broker_events, "broker");
    rc = SVC_EXIT_FAIL;
    if (events && topo && resv) {
        bus_subscribe(topo, "");
        bus_subscribe(resv, "");
        svc_add_reader(svc, topo, svc_reader_discard, NULL);
        svc_add_reader(svc, resv, svc_reader_discard, NULL);
        svc_set_state(svc, "running: bus only, no planning yet");
        rc = svc_run(svc);
    }
    zsock_destroy(&resv);
    zsock_destroy(&topo);
    zsock_destroy(&events);
    svc_destroy(&svc);
    return rc;
}
