/* SPDX-License-Identifier: MIT */
/* odin-adapter: the only service that talks to a reservation system.  So
 * far only its bus side exists: control and the events socket path events
 * will be published on.  The backends come with the reservation issue. */
#include <stddef.h>

#include "svc.h"

#define ADAPTER_DEFAULT_CONTROL "tcp://127.0.0.1:7150"
#define ADAPTER_DEFAULT_EVENTS "tcp://127.0.0.1:7151"

struct adapter_cfg {
    struct svc_common_cfg common;
    char *events;               /* PUB: path events */
};

static const struct cfg_key adapter_keys[] = {
    SVC_CFG_COMMON_KEYS(struct adapter_cfg, ADAPTER_DEFAULT_CONTROL),
    CFG_KEY_STR("bus.events", struct adapter_cfg, events,
                ADAPTER_DEFAULT_EVENTS,
                "endpoint the events (PUB) socket binds"),
    CFG_KEYS_END,
};

static const struct svc_def adapter_def = {
    .name = "odin-adapter",
    .role = "adapter",
    .summary = "Reservation-system adapter (ODIN): paths on demand.",
    .keys = adapter_keys,
    .common_offset = offsetof(struct adapter_cfg, common),
};

int
main(int argc, char **argv)
{
    struct adapter_cfg cfg;
    int rc;
    svc_t *svc = svc_new(&adapter_def, argc, argv, &cfg, &rc);
    if (!svc) {
        return rc;
    }
    zsock_t *events = bus_bind(svc_bus(svc), ZMQ_PUB, cfg.events);
    rc = SVC_EXIT_FAIL;
    if (events) {
        svc_set_state(svc, "running: bus only, no backend yet");
        rc = svc_run(svc);
    }
    zsock_destroy(&events);
    svc_destroy(&svc);
    return rc;
}
