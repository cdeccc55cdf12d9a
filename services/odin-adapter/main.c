/* SPDX-License-Identifier: MIT */
/* odin-adapter: the only service that talks to a reservation system.  See
 * adapter_svc.h. */
#include <stddef.h>
#include <stdio.h>

#include "adapter_svc.h"

static const struct svc_def adapter_def = {
    .name = "odin-adapter",
    .role = "adapter",
    .summary = "Reservation-system adapter (ODIN): paths on demand.",
    .keys = adapter_cfg_keys,
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
    char err[512];
    adapter_svc_t *adapter = adapter_svc_new(svc, &cfg,
                                             svc_config_path(svc), err,
                                             sizeof err);
    if (!adapter && err[0]) {
        fprintf(stderr, "odin-adapter: %s\n", err);
        rc = SVC_EXIT_CONFIG;
    } else {
        rc = adapter ? svc_run(svc) : SVC_EXIT_FAIL;
    }
    adapter_svc_destroy(&adapter);
    svc_destroy(&svc);
    return rc;
}
