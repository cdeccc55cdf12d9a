/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the aggregator, driven without sockets
 * (svc_harness.h): each record is an ingest message (LocalMatrix,
 * VmLocations, AgentAnnounce: vttif_agg_ingest()) or a request to its
 * control handler, to an aggregator with small caps.  Checked: one reply
 * per request, none for ingest; a refused message leaves the agents, VM
 * totals, matrix and topology as they were; the agents, VMs and pairs
 * stay within their caps.  Build with -DVR_FUZZ=ON and clang;
 * tests/fuzz/replay.c runs it on fixed inputs in the ordinary build. */
#include "fuzz_check.h"
#include "svc_harness.h"
#include "vttif_agg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char s_yaml[] =
    "bus:\n"
    "  control: inproc://fz-agg-ctl-@N@\n"
    "  events: inproc://fz-agg-ev-@N@\n"
    "  ingest: inproc://fz-agg-in-@N@\n"
    "ingest:\n"
    "  max_matrix_entries: 64\n"
    "  max_locations: 32\n"
    "  max_local_macs: 16\n"
    "vttif:\n"
    "  max_agents: 4\n"
    "  max_reports: 16\n"
    "  max_pairs: 16\n"
    "  max_vms: 16\n";

static void *
s_start(svc_t *svc, void *cfg)
{
    return vttif_agg_new(svc, cfg);
}

static int
s_take(void *service, const bus_msg_t *msg)
{
    switch (msg->type) {
    case VR__MSG_TYPE__MSG_LOCAL_MATRIX:
    case VR__MSG_TYPE__MSG_VM_LOCATIONS:
    case VR__MSG_TYPE__MSG_AGENT_ANNOUNCE:
        return vttif_agg_ingest(service, msg) ? 1 : 0;
    default:
        return -1;
    }
}

static const int s_snapshot[] = {
    VR__MSG_TYPE__MSG_AGENT_LIST_QUERY,
    VR__MSG_TYPE__MSG_VM_TOTALS_QUERY,
    VR__MSG_TYPE__MSG_MATRIX_QUERY,
    VR__MSG_TYPE__MSG_TOPOLOGY_QUERY,
};

static void
s_check_limits(void *service, void *cfg, ProtobufCMessage *const *replies)
{
    const struct agg_cfg *c = cfg;
    FUZZ_CHECK(((Vr__AgentList *) replies[0])->n_agents <= c->max_agents);
    FUZZ_CHECK(((Vr__VmTotals *) replies[1])->n_vms <= c->max_vms);
    FUZZ_CHECK(((Vr__GlobalMatrix *) replies[2])->n_entries
               <= c->max_pairs);
    FUZZ_CHECK(((Vr__Topology *) replies[3])->n_edges <= c->max_pairs);
}

static const struct svch_def s_def = {
    .def = &agg_svc_def,
    .cfg_size = sizeof(struct agg_cfg),
    .yaml = s_yaml,
    .start = s_start,
    .snapshot = s_snapshot,
    .n_snapshot = sizeof s_snapshot / sizeof s_snapshot[0],
    .check_limits = s_check_limits,
    .take = s_take,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return svch_run(&s_def, data, size);
}
