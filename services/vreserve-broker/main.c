/* SPDX-License-Identifier: MIT */
/* vreserve-broker: tracks reservations of overlay links through their
 * lifecycle (VRESERVE).  So far only its bus side exists: control, its
 * events socket and a subscription to the adapter's path events (checked
 * and counted, not yet acted on). */
#include <stddef.h>

#include "svc.h"

#define BROKER_DEFAULT_CONTROL "tcp://127.0.0.1:7140"
#define BROKER_DEFAULT_EVENTS "tcp://127.0.0.1:7141"
#define BROKER_DEFAULT_ADAPTER_EVENTS "tcp://127.0.0.1:7151"

struct broker_cfg {
    struct svc_common_cfg common;
    char *events;               /* PUB: reservation events */
    char *adapter_events;       /* SUB: path events */
};

static const struct cfg_key broker_keys[] = {
    SVC_CFG_COMMON_KEYS(struct broker_cfg, BROKER_DEFAULT_CONTROL),
    CFG_KEY_STR("bus.events", struct broker_cfg, events,
                BROKER_DEFAULT_EVENTS,
                "endpoint the events (PUB) socket binds"),
    CFG_KEY_STR("bus.adapter_events", struct broker_cfg, adapter_events,
                BROKER_DEFAULT_ADAPTER_EVENTS, "adapter's events endpoint"),
    CFG_KEYS_END,
};

static const struct svc_def broker_def = {
    .name = "vreserve-broker",
    .role = "broker",
    .summary = "Reservation broker: lifecycle and persistence (VRESERVE).",
    .keys = broker_keys,
    .common_offset = offsetof(struct broker_cfg, common),
};

int
main(int argc, char **argv)
{
    struct broker_cfg cfg;
    int rc;
    svc_t *svc = svc_new(&broker_def, argc, argv, &cfg, &rc);
    if (!svc) {
        return rc;
    }
    bus_t *bus = svc_bus(svc);
    zsock_t *events = bus_bind(bus, ZMQ_PUB, cfg.events);
    zsock_t *paths = bus_connect(bus, ZMQ_SUB, cfg.adapter_events,
                                 "adapter");
    rc = SVC_EXIT_FAIL;
    if (events && paths) {
        bus_subscribe(paths, "");
        svc_add_reader(svc, paths, svc_reader_discard, NULL);
        svc_set_state(svc, "running: bus only, no reservations yet");
        rc = svc_run(svc);
    }
    zsock_destroy(&paths);
    zsock_destroy(&events);
    svc_destroy(&svc);
    return rc;
}
