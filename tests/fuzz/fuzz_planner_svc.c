/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the planner, driven without sockets
 * (svc_harness.h): each record is a message of its subscriptions
 * (TopologyEvent, AgentAnnounce, GlobalMatrix, ResvEvent:
 * plan_svc_take()) or a
 * request to its control handler; the broker and the aggregator it calls
 * answer with errors or empty replies, as the record says.  Checked: one
 * reply per request, none for an event; a refused request leaves the
 * plan as it was; the plan never holds more than PLAN_LINK_MAX links;
 * the agents' table never more than max_agents (8 here, so the fuzzer
 * meets the cap often), each id once and valid.
 * Build with -DVR_FUZZ=ON and clang; tests/fuzz/replay.c runs it on
 * fixed inputs in the ordinary build. */
#include <string.h>

#include "fuzz_check.h"
#include "plan_link.h"
#include "plan_svc.h"
#include "plan_svc_int.h"
#include "svc_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char s_yaml[] =
    "bus:\n"
    "  control: inproc://fz-plan-ctl-@N@\n"
    "  events: inproc://fz-plan-ev-@N@\n"
    "  aggregator: inproc://fz-plan-agg-@N@\n"
    "  aggregator_events: inproc://fz-plan-aggev-@N@\n"
    "  broker: inproc://fz-plan-broker-@N@\n"
    "  broker_events: inproc://fz-plan-brokerev-@N@\n"
    "k: 2\n"
    "min_demand_mbps: 0.01\n"
    "release_mbps: 0.005\n"
    "t_up_ms: 1000\n"
    "t_down_ms: 2000\n"
    "predict: true\n"
    "predict_min_phase_ms: 100\n"
    "max_agents: 8\n"
    "agent_forget_ms: 1000\n";

static void *
s_start(svc_t *svc, void *cfg)
{
    char err[512];
    return plan_svc_new(svc, cfg, err, sizeof err);
}

static int
s_take(void *service, const bus_msg_t *msg)
{
    /* The planner ignores what it cannot use without refusing it, so an
     * event counts as taken. */
    return plan_svc_take(service, msg) ? 1 : -1;
}

static const int s_snapshot[] = { VR__MSG_TYPE__MSG_PLAN_QUERY };

static void
s_check_limits(void *service, void *cfg, ProtobufCMessage *const *replies)
{
    FUZZ_CHECK(((Vr__Plan *) replies[0])->n_links <= PLAN_LINK_MAX);
    const plan_svc_t *p = service;
    const struct plan_cfg *c = cfg;
    const struct plan_agents *t = &p->agents;
    FUZZ_CHECK(t->max == c->max_agents && t->n <= t->max);
    for (size_t i = 0; i < t->n; i++) {
        FUZZ_CHECK(t->v[i].id[0] && strlen(t->v[i].id) < PLAN_HOST_LEN);
        for (size_t j = i + 1; j < t->n; j++) {
            FUZZ_CHECK(strcmp(t->v[i].id, t->v[j].id) != 0);
        }
    }
}

static const struct svch_def s_def = {
    .def = &plan_svc_def,
    .cfg_size = sizeof(struct plan_cfg),
    .yaml = s_yaml,
    .start = s_start,
    .snapshot = s_snapshot,
    .n_snapshot = 1,
    .check_limits = s_check_limits,
    .take = s_take,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return svch_run(&s_def, data, size);
}
