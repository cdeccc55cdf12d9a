/* SPDX-License-Identifier: MIT */
/* vadapt-planner: turns topology events into reservations and forwarding
 * changes (VADAPT).  See plan_svc.h. */
#include <stddef.h>
#include <stdio.h>

#include "plan_svc.h"

int
main(int argc, char **argv)
{
    struct plan_cfg cfg;
    int rc;
    svc_t *svc = svc_new(&plan_svc_def, argc, argv, &cfg, &rc);
    if (!svc) {
        return rc;
    }
    char err[512];
    plan_svc_t *plan = plan_svc_new(svc, &cfg, err, sizeof err);
    if (!plan && err[0]) {
        fprintf(stderr, "vadapt-planner: %s\n", err);
        rc = SVC_EXIT_CONFIG;
    } else {
        rc = plan ? svc_run(svc) : SVC_EXIT_FAIL;
    }
    plan_svc_destroy(&plan);
    svc_destroy(&svc);
    return rc;
}
