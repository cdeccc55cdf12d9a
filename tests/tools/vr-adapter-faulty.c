/* SPDX-License-Identifier: MIT */
/* vr-adapter-faulty: the odin-adapter, for integration tests, with store
 * errors on demand (faultfile.h: adapter_store_fail_after(0) while
 * $VR_FAULT_FILE exists) and, with $VR_NSI_COMMIT_DELAY_MS, the nsi
 * backend's commits that late after the hold, past the commit deadline
 * unless $VR_NSI_COMMIT_DEADLINE is "keep"
 * (adapter_backend_nsi_test_commit_delay()); with
 * $VR_NSI_PROVISION_DELAY_MS and $VR_NSI_UP_DELAY_MS its provisions that
 * late after the commit and its paths up that late after the provision
 * (adapter_backend_nsi_test_step_delay()).  Otherwise it is
 * services/odin-adapter/main.c. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_backend_nsi.h"
#include "adapter_store.h"
#include "adapter_svc.h"
#include "faultfile.h"

static bool
s_set(void *arg, bool failing)
{
    adapter_store_t *store = adapter_svc_store(arg);
    if (store) {
        adapter_store_fail_after(store, failing ? 0 : -1);
    }
    return store != NULL;
}

/* $name: ms (0 when unset), at most 600000; false when malformed. */
static bool
s_env_ms(const char *name, uint32_t *ms)
{
    const char *v = getenv(name);
    *ms = 0;
    if (!v || !*v) {
        return true;
    }
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || n > 600000) {
        fprintf(stderr, "vr-adapter-faulty: %s '%s': want ms, at most "
                "600000\n", name, v);
        return false;
    }
    *ms = (uint32_t) n;
    return true;
}

int
main(int argc, char **argv)
{
    struct svc_def def = adapter_svc_def;
    def.summary = "odin-adapter with store errors on demand (tests).";
    struct adapter_cfg cfg;
    int rc;
    const char *delay = getenv("VR_NSI_COMMIT_DELAY_MS");
    if (delay && *delay) {
        char *end;
        unsigned long ms = strtoul(delay, &end, 10);
        if (*end || ms > 600000) {
            fprintf(stderr, "vr-adapter-faulty: VR_NSI_COMMIT_DELAY_MS "
                    "'%s': want ms, at most 600000\n", delay);
            return 2;
        }
        /* VR_NSI_COMMIT_DEADLINE=keep: the commit deadline still
         * applies (an abort is tested); else the commit waits past it. */
        const char *dl = getenv("VR_NSI_COMMIT_DEADLINE");
        adapter_backend_nsi_test_commit_delay((uint32_t) ms,
                                              !dl || strcmp(dl, "keep"));
    }
    uint32_t provision_ms, up_ms;
    if (!s_env_ms("VR_NSI_PROVISION_DELAY_MS", &provision_ms)
        || !s_env_ms("VR_NSI_UP_DELAY_MS", &up_ms)) {
        return 2;
    }
    adapter_backend_nsi_test_step_delay(provision_ms, up_ms);
    svc_t *svc = svc_new(&def, argc, argv, &cfg, &rc);
    if (!svc) {
        return rc;
    }
    adapter_svc_t *adapter = adapter_svc_start(svc, &cfg,
                                               "vr-adapter-faulty", &rc);
    if (adapter) {
        rc = faultfile_watch(svc, s_set, adapter) == 0 ? svc_run(svc)
                                                        : SVC_EXIT_FAIL;
    }
    adapter_svc_destroy(&adapter);
    svc_destroy(&svc);
    return rc;
}
