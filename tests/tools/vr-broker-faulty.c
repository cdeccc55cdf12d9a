/* SPDX-License-Identifier: MIT */
/* vr-broker-faulty: the vreserve-broker, for integration tests, with
 * store errors on demand: while the file named by $VR_FAULT_FILE exists,
 * every SQLite call of its store fails as an I/O error would
 * (resv_store_fail_after(0)).  (A signal would do, but any signal ends
 * the service's zloop.)  Otherwise it is services/vreserve-broker/main.c. */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "resv_broker.h"
#include "resv_store.h"

LOG_MODULE("faulty");

static const char *s_file;     /* $VR_FAULT_FILE */
static bool s_failing;

/* Turns the store's errors on or off as the file comes and goes. */
static int
s_poll(svc_t *svc, void *arg)
{
    (void) svc;
    bool want = s_file && access(s_file, F_OK) == 0;
    if (want != s_failing) {
        s_failing = want;
        resv_store_fail_after(resv_broker_store(arg), want ? 0 : -1);
        VLOG_WARN("test: store errors %s", want ? "on" : "off");
    }
    return 0;
}

static const struct svc_def broker_def = {
    .name = "vreserve-broker",
    .role = "broker",
    .summary = "Reservation broker with store errors on demand (tests).",
    .keys = broker_cfg_keys,
    .common_offset = offsetof(struct broker_cfg, common),
};

int
main(int argc, char **argv)
{
    struct broker_cfg cfg;
    int rc;
    svc_t *svc = svc_new(&broker_def, argc, argv, &cfg, &rc);
    if (!svc) {
        return rc;
    }
    s_file = getenv("VR_FAULT_FILE");
    resv_broker_t *broker = resv_broker_new(svc, &cfg);
    rc = broker && svc_add_timer(svc, 10, s_poll, broker) == 0
             ? svc_run(svc) : SVC_EXIT_FAIL;
    resv_broker_destroy(&broker);
    svc_destroy(&svc);
    return rc;
}
