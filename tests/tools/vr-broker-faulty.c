/* SPDX-License-Identifier: MIT */
/* vr-broker-faulty: the vreserve-broker, for integration tests, with
 * store errors on demand (faultfile.h: resv_store_fail_after(0) while
 * $VR_FAULT_FILE exists).  Otherwise it is
 * services/vreserve-broker/main.c. */
#include <stdbool.h>

#include "faultfile.h"
#include "resv_broker.h"
#include "resv_store.h"

static bool
s_set(void *arg, bool failing)
{
    resv_store_fail_after(resv_broker_store(arg), failing ? 0 : -1);
    return true;
}

int
main(int argc, char **argv)
{
    struct svc_def def = resv_broker_def;
    def.summary = "Reservation broker with store errors on demand (tests).";
    struct broker_cfg cfg;
    int rc;
    svc_t *svc = svc_new(&def, argc, argv, &cfg, &rc);
    if (!svc) {
        return rc;
    }
    resv_broker_t *broker = resv_broker_new(svc, &cfg);
    rc = broker && faultfile_watch(svc, s_set, broker) == 0
             ? svc_run(svc) : SVC_EXIT_FAIL;
    resv_broker_destroy(&broker);
    svc_destroy(&svc);
    return rc;
}
