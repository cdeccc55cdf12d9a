/* SPDX-License-Identifier: MIT */
/* odin-adapter: the only service that talks to a reservation system.  See
 * adapter_svc.h. */
#include "adapter_svc.h"

int
main(int argc, char **argv)
{
    struct adapter_cfg cfg;
    int rc;
    svc_t *svc = svc_new(&adapter_svc_def, argc, argv, &cfg, &rc);
    if (!svc) {
        return rc;
    }
    adapter_svc_t *adapter = adapter_svc_start(svc, &cfg, "odin-adapter",
                                               &rc);
    if (adapter) {
        rc = svc_run(svc);
    }
    adapter_svc_destroy(&adapter);
    svc_destroy(&svc);
    return rc;
}
