/* SPDX-License-Identifier: MIT */
/* vreserve-broker: reservations of overlay links (VRESERVE).  See
 * resv_broker.h. */
#include <stddef.h>

#include "resv_broker.h"

static const struct svc_def broker_def = {
    .name = "vreserve-broker",
    .role = "broker",
    .summary = "Reservation broker: lifecycle and persistence (VRESERVE).",
    .keys = broker_cfg_keys,
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
    resv_broker_t *broker = resv_broker_new(svc, &cfg);
    rc = broker ? svc_run(svc) : SVC_EXIT_FAIL;
    resv_broker_destroy(&broker);
    svc_destroy(&svc);
    return rc;
}
