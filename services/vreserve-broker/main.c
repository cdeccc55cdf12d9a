/* SPDX-License-Identifier: MIT */
/* vreserve-broker: reservations of overlay links (VRESERVE).  See
 * resv_broker.h. */
#include "resv_broker.h"

int
main(int argc, char **argv)
{
    struct broker_cfg cfg;
    int rc;
    svc_t *svc = svc_new(&resv_broker_def, argc, argv, &cfg, &rc);
    if (!svc) {
        return rc;
    }
    resv_broker_t *broker = resv_broker_new(svc, &cfg);
    rc = broker ? svc_run(svc) : SVC_EXIT_FAIL;
    resv_broker_destroy(&broker);
    svc_destroy(&svc);
    return rc;
}
