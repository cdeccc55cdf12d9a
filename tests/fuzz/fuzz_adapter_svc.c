/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the adapter's request handler, driven without
 * sockets (svc_harness.h), on the simulated backend (two switches, one
 * fibre, two hosts) with a store in a file of its own.  Checked: one
 * reply per request; a refused request leaves the paths as they were;
 * the adapter never holds more than max_paths paths.  Build with
 * -DVR_FUZZ=ON and clang; tests/fuzz/replay.c runs it on fixed inputs in
 * the ordinary build. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "adapter_svc.h"
#include "fuzz_check.h"
#include "svc_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char s_yaml[] =
    "bus:\n"
    "  control: inproc://fz-adapter-ctl-@N@\n"
    "  events: inproc://fz-adapter-ev-@N@\n"
    "backend: sim\n"
    "state: /tmp/vr-fuzz-adapter-@N@.db\n"
    "max_paths: 16\n"
    "sim:\n"
    "  time_scale: 0.01\n"
    "  switches: [s1, s2]\n"
    "  fibres: [{ends: [s1, s2], lambdas: 4, length_km: 10}]\n"
    "  hosts: [{ip: 10.0.0.1, switch: s1}, {ip: 10.0.0.2, switch: s2}]\n";

static char s_db[64];

/* The store outlives nothing: removed when the process ends. */
static void
s_remove_db(void)
{
    static const char *const tails[] = { "", "-wal", "-shm" };
    for (size_t i = 0; i < 3; i++) {
        char path[80];
        snprintf(path, sizeof path, "%s%s", s_db, tails[i]);
        unlink(path);
    }
}

static void *
s_start(svc_t *svc, void *cfg)
{
    snprintf(s_db, sizeof s_db, "/tmp/vr-fuzz-adapter-%d.db", (int) getpid());
    s_remove_db();
    atexit(s_remove_db);
    int rc;
    return adapter_svc_start(svc, cfg, "fuzz", &rc);
}

static const int s_snapshot[] = { VR__MSG_TYPE__MSG_PATH_LIST_REQUEST };

static void
s_check_limits(void *service, void *cfg, ProtobufCMessage *const *replies)
{
    const struct adapter_cfg *c = cfg;
    FUZZ_CHECK(((Vr__PathList *) replies[0])->n_paths <= c->max_paths);
}

static const struct svch_def s_def = {
    .def = &adapter_svc_def,
    .cfg_size = sizeof(struct adapter_cfg),
    .yaml = s_yaml,
    .start = s_start,
    .snapshot = s_snapshot,
    .n_snapshot = 1,
    .check_limits = s_check_limits,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return svch_run(&s_def, data, size);
}
