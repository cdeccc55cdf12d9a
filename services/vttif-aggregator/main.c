/* SPDX-License-Identifier: MIT */
/* vttif-aggregator: infers the application's topology (VTTIF).  See
 * vttif_agg.h and vttif_tm.h. */
#include <stddef.h>
#include <stdio.h>

#include "vttif_agg.h"

static const struct svc_def agg_def = {
    .name = "vttif-aggregator",
    .role = "aggregator",
    .summary = "Traffic matrix and topology inference (VTTIF).",
    .keys = agg_cfg_keys,
    .common_offset = offsetof(struct agg_cfg, common),
};

int
main(int argc, char **argv)
{
    struct agg_cfg cfg;
    int rc;
    svc_t *svc = svc_new(&agg_def, argc, argv, &cfg, &rc);
    if (!svc) {
        return rc;
    }
    char err[256];
    if (!agg_cfg_finish(&cfg, err, sizeof err)) {
        const char *path = svc_config_path(svc);
        fprintf(stderr, "vttif-aggregator: %s: vttif: %s\n",
                path ? path : "(defaults)", err);
        svc_destroy(&svc);
        return SVC_EXIT_CONFIG;
    }
    vttif_agg_t *agg = vttif_agg_new(svc, &cfg);
    rc = agg ? svc_run(svc) : SVC_EXIT_FAIL;
    vttif_agg_destroy(&agg);
    svc_destroy(&svc);
    return rc;
}
