/* SPDX-License-Identifier: MIT */
/* vnet-agent: the overlay data plane on one host (VNET).  See agent.h. */
#include <stddef.h>

#include "agent.h"

int
main(int argc, char **argv)
{
    struct agent_cfg cfg;
    int rc;
    svc_t *svc = svc_new(&agent_svc_def, argc, argv, &cfg, &rc);
    if (!svc) {
        return rc;
    }
    cfg.proxy = !cfg.proxy_addr || !*cfg.proxy_addr;
    agent_t *agent = agent_new(svc, &cfg);
    rc = agent ? svc_run(svc) : SVC_EXIT_FAIL;
    agent_destroy(&agent);
    svc_destroy(&svc);
    return rc;
}
