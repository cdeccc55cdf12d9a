/* SPDX-License-Identifier: MIT */
/* vr-adapter-faulty: the odin-adapter, for integration tests, with store
 * errors on demand: while the file named by $VR_FAULT_FILE exists, every
 * SQLite call of its store fails as an I/O error would
 * (adapter_store_fail_after(0)).  Otherwise it is
 * services/odin-adapter/main.c. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "adapter_store.h"
#include "adapter_svc.h"
#include "log.h"

LOG_MODULE("faulty");

static const char *s_file;     /* $VR_FAULT_FILE */
static bool s_failing;

/* Turns the store's errors on or off as the file comes and goes. */
static int
s_poll(svc_t *svc, void *arg)
{
    (void) svc;
    bool want = s_file && access(s_file, F_OK) == 0;
    adapter_store_t *store = adapter_svc_store(arg);
    if (store && want != s_failing) {
        s_failing = want;
        adapter_store_fail_after(store, want ? 0 : -1);
        VLOG_WARN("test: store errors %s", want ? "on" : "off");
    }
    return 0;
}

static const struct svc_def adapter_def = {
    .name = "odin-adapter",
    .role = "adapter",
    .summary = "odin-adapter with store errors on demand (tests).",
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
    s_file = getenv("VR_FAULT_FILE");
    char err[512];
    adapter_svc_t *adapter = adapter_svc_new(svc, &cfg,
                                             svc_config_path(svc), err,
                                             sizeof err);
    if (!adapter && err[0]) {
        fprintf(stderr, "vr-adapter-faulty: %s\n", err);
        rc = SVC_EXIT_CONFIG;
    } else {
        rc = adapter && svc_add_timer(svc, 10, s_poll, adapter) == 0
                 ? svc_run(svc) : SVC_EXIT_FAIL;
    }
    adapter_svc_destroy(&adapter);
    svc_destroy(&svc);
    return rc;
}
