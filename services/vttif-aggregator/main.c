/* SPDX-License-Identifier: MIT */
/* vttif-aggregator: infers the application's topology (VTTIF).  See
 * vttif_agg.h and vttif_tm.h. */
#include <stddef.h>

#include "vttif_agg.h"

int
main(int argc, char **argv)
{
    struct agg_cfg cfg;
    int rc;
    svc_t *svc = svc_new(&agg_svc_def, argc, argv, &cfg, &rc);
    if (!svc) {
        return rc;
    }
    vttif_agg_t *agg = vttif_agg_new(svc, &cfg);
    rc = agg ? svc_run(svc) : SVC_EXIT_FAIL;
    vttif_agg_destroy(&agg);
    svc_destroy(&svc);
    return rc;
}
