/* SPDX-License-Identifier: MIT */
/* $VR_FAULT_FILE watched on a service's timer (faultfile.h). */
#include "faultfile.h"

#include <stdlib.h>
#include <unistd.h>

#include "log.h"

LOG_MODULE("faulty");

static const char *s_file;      /* $VR_FAULT_FILE */
static bool s_failing;          /* the store's errors are on */
static faultfile_set_fn *s_set;
static void *s_arg;

/* Turns the store's errors on or off as the file comes and goes. */
static int
s_poll(svc_t *svc, void *arg)
{
    (void) svc;
    (void) arg;
    bool want = s_file && access(s_file, F_OK) == 0;
    if (want != s_failing && s_set(s_arg, want)) {
        s_failing = want;
        VLOG_WARN("test: store errors %s", want ? "on" : "off");
    }
    return 0;
}

int
faultfile_watch(svc_t *svc, faultfile_set_fn *set, void *arg)
{
    s_file = getenv("VR_FAULT_FILE");
    s_set = set;
    s_arg = arg;
    return svc_add_timer(svc, 10, s_poll, NULL);
}
