/* SPDX-License-Identifier: MIT */
/* vadapt-planner: turns topology events into reservations and forwarding
 * changes (VADAPT).  See plan_svc.h. */
#include <stddef.h>
#include <stdio.h>

#include "plan_svc.h"

/* The params against each other, so that --check says what the start
 * would. */
static bool
s_finish(void *cfg, char *err, size_t err_size)
{
    return plan_cfg_check(cfg, err, err_size);
}

static const struct svc_def plan_def = {
    .name = "vadapt-planner",
    .role = "planner",
    .summary = "Adapts the overlay to the inferred topology (VADAPT).",
    .keys = plan_cfg_keys,
    .common_offset = offsetof(struct plan_cfg, common),
    .finish = s_finish,
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
