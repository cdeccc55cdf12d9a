/* SPDX-License-Identifier: MIT */
/* vttif-aggregator: infers the application's topology (VTTIF).  See
 * vttif_agg.h and vttif_tm.h. */
#include <stddef.h>
#include <stdio.h>

#include "vttif_agg.h"

/* The inference parameters are checked against each other here, so that
 * --check says what the start would. */
static bool
s_finish(void *cfg, char *err, size_t err_size)
{
    char why[256];
    if (agg_cfg_finish(cfg, why, sizeof why)) {
        return true;
    }
    snprintf(err, err_size, "vttif: %s", why);
    return false;
}

static const struct svc_def agg_def = {
    .name = "vttif-aggregator",
    .role = "aggregator",
    .summary = "Traffic matrix and topology inference (VTTIF).",
    .keys = agg_cfg_keys,
    .common_offset = offsetof(struct agg_cfg, common),
    .finish = s_finish,
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
    vttif_agg_t *agg = vttif_agg_new(svc, &cfg);
    rc = agg ? svc_run(svc) : SVC_EXIT_FAIL;
    vttif_agg_destroy(&agg);
    svc_destroy(&svc);
    return rc;
}
