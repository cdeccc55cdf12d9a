/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the broker's request handler, driven without
 * sockets (svc_harness.h): every record of the input is a request to a
 * broker with one network of three hosts and an in-memory store, whose
 * calls to the adapter fail or succeed as the record says, and PathEvents
 * as the adapter publishes them (resv_broker_take()).  Checked: one reply
 * per request; a refused request, and an event not acted on, leave the
 * reservations as they were; open reservations stay within the network's
 * and each host's caps, and every one not ended (bookings ahead too)
 * within max_open (6 here, so that the fuzzer meets it); no reservation carries a VLAN or prefix length a
 * host could not make a device from (a hostile event's fails it).  Build
 * with -DVR_FUZZ=ON and clang; tests/fuzz/replay.c runs it on fixed
 * inputs in the ordinary build. */
#include <string.h>

#include "eth.h"
#include "fuzz_check.h"
#include "resv_broker.h"
#include "svc_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { S_NET_MAX = 3, S_HOST_MAX = 2, S_OPEN_MAX = 6 };

static const char s_yaml[] =
    "bus:\n"
    "  control: inproc://fz-broker-ctl-@N@\n"
    "  events: inproc://fz-broker-ev-@N@\n"
    "  adapter: inproc://fz-adapter-@N@\n"
    "  adapter_events: inproc://fz-adapter-ev-@N@\n"
    "db: ':memory:'\n"
    "max_paths_per_host: 2\n"
    "max_open: 6\n"
    "list_page_max: 1000\n"
    "networks:\n"
    "  - name: n1\n"
    "    max_paths: 3\n"
    "    endpoints:\n"
    "      - { host: h1, ip: 10.0.0.1 }\n"
    "      - { host: h2, ip: 10.0.0.2 }\n"
    "      - { host: vm-2, ip: 10.0.0.3 }\n";

static void *
s_start(svc_t *svc, void *cfg)
{
    return resv_broker_new(svc, cfg);
}

static bool
s_open(Vr__ResvState s)
{
    return s == VR__RESV_STATE__RESV_STATE_REQUESTED
           || s == VR__RESV_STATE__RESV_STATE_PROVISIONING
           || s == VR__RESV_STATE__RESV_STATE_ACTIVE;
}

static void
s_check_limits(void *service, void *cfg, ProtobufCMessage *const *replies)
{
    const Vr__ResvList *list = (const Vr__ResvList *) replies[0];
    static const char *const hosts[] = { "h1", "h2", "vm-2" };
    size_t n_open = 0, n_not_ended = 0;
    size_t per_host[3] = { 0 };
    for (size_t i = 0; i < list->n_resvs; i++) {
        const Vr__Reservation *r = list->resvs[i];
        FUZZ_CHECK(eth_vlan_pair_ok(r->vlan, r->vlan_b)
                   && r->link_prefix_len <= 32);
        n_not_ended += r->state != VR__RESV_STATE__RESV_STATE_RELEASED
                       && r->state != VR__RESV_STATE__RESV_STATE_FAILED;
        if (!s_open(r->state)) {
            continue;
        }
        n_open++;
        for (size_t h = 0; h < 3; h++) {
            per_host[h] += !strcmp(r->host_a, hosts[h])
                           + !strcmp(r->host_b, hosts[h]);
        }
    }
    FUZZ_CHECK(n_open <= S_NET_MAX && n_not_ended <= S_OPEN_MAX);
    for (size_t h = 0; h < 3; h++) {
        FUZZ_CHECK(per_host[h] <= S_HOST_MAX);
    }
}

static const int s_snapshot[] = { VR__MSG_TYPE__MSG_RESV_LIST_REQUEST };

static int
s_take(void *service, const bus_msg_t *msg)
{
    if (msg->type != VR__MSG_TYPE__MSG_PATH_EVENT) {
        return -1;
    }
    return resv_broker_take(service, msg) ? 1 : 0;
}

static const struct svch_def s_def = {
    .def = &resv_broker_def,
    .cfg_size = sizeof(struct broker_cfg),
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
