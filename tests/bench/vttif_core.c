/* SPDX-License-Identifier: MIT */
/* Prints what the VTTIF inference core (vttif_tm) costs without the bus:
 * synthetic agents (10 VMs each) publish cumulative local matrices every
 * 100 ms, all-to-all traffic within groups of G VMs plus chatter to 5
 * random peers per VM, and the core ticks every 100 ms.  For 100, 1,000
 * and 10,000 VMs (and G = 10 and 50) it prints updates/s absorbed, ns per
 * entry, us per tick and the share of one core the core needs in real
 * time.  Usage: vr-vttif-core [simulated seconds, default 20]. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vttif_tm.h"

enum { VMS_PER_AGENT = 10, CHATTER_PEERS = 5 };

static const double PERIOD = 0.1;

struct flow {
    uint64_t src, dst;
    double rate;                /* bits/s */
    double bytes;
};

static uint64_t rng = 12345;

static double
rnd(void)
{
    rng = rng * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return (double) (rng >> 11) / 9007199254740992.0;
}

static double
cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void
run(size_t n_vms, size_t group, double seconds)
{
    size_t n_agents = n_vms / VMS_PER_AGENT;
    size_t per_vm = group - 1 + CHATTER_PEERS;
    struct flow *flows = calloc(n_vms * per_vm, sizeof *flows);
    size_t *n_flows = calloc(n_agents, sizeof *n_flows);
    struct vttif_tm_entry *buf = calloc(VMS_PER_AGENT * per_vm, sizeof *buf);
    vttif_tm_t *tm = vttif_tm_new(NULL);
    if (!flows || !n_flows || !buf || !tm) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    /* VM i sits behind agent i % n_agents; agent a's flows are stored at
     * flows[a * VMS_PER_AGENT * per_vm ...]. */
    for (size_t i = 0; i < n_vms; i++) {
        size_t a = i % n_agents;
        struct flow *f = &flows[a * VMS_PER_AGENT * per_vm];
        for (size_t j = i / group * group; j < (i / group + 1) * group; j++) {
            if (j != i) {
                f[n_flows[a]++] = (struct flow) {
                    .src = 0x020000000001 + i, .dst = 0x020000000001 + j,
                    .rate = 20e6,
                };
            }
        }
        for (int k = 0; k < CHATTER_PEERS; k++) {
            size_t j = (size_t) (rnd() * (double) n_vms);
            if (j != i) {
                f[n_flows[a]++] = (struct flow) {
                    .src = 0x020000000001 + i, .dst = 0x020000000001 + j,
                    .rate = 20e6 * (0.01 + 0.04 * rnd()),
                };
            }
        }
        char id[24];
        snprintf(id, sizeof id, "h%zu", a);
        vttif_tm_feed_location(tm, 0x020000000001 + i, id, false, 0);
    }

    double feed_cpu = 0, tick_cpu = 0, t = 0;
    uint64_t n_updates = 0, n_entries = 0, n_ticks = 0, n_events = 0;
    size_t n_periods = (size_t) (seconds / PERIOD);
    for (size_t k = 0; k < n_periods; k++) {
        for (size_t a = 0; a < n_agents; a++) {
            struct flow *f = &flows[a * VMS_PER_AGENT * per_vm];
            double ta = t + PERIOD * (double) a / (double) n_agents;
            for (size_t i = 0; i < n_flows[a]; i++) {
                f[i].bytes += f[i].rate * PERIOD / 8 * (0.9 + 0.2 * rnd());
                buf[i] = (struct vttif_tm_entry) {
                    .src = f[i].src, .dst = f[i].dst,
                    .bytes = (uint64_t) f[i].bytes,
                    .frames = (uint64_t) f[i].bytes / 1400,
                };
            }
            char id[24];
            snprintf(id, sizeof id, "h%zu", a);
            struct vttif_tm_update u = {
                .agent_id = id, .boot_id = 1, .period_s = PERIOD,
                .time_s = 1000 + ta, .entries = buf, .n_entries = n_flows[a],
            };
            double c = cpu_now();
            vttif_tm_feed(tm, &u, ta);
            feed_cpu += cpu_now() - c;
            n_updates++;
            n_entries += n_flows[a];
        }
        t += PERIOD;
        struct vttif_tm_event ev;
        double c = cpu_now();
        n_events += vttif_tm_tick(tm, t, &ev);
        tick_cpu += cpu_now() - c;
        n_ticks++;
    }
    struct vttif_tm_edge e;
    size_t n_edges = vttif_tm_topology(tm, &e, 0, NULL);
    struct vttif_tm_counters cn;
    vttif_tm_get_counters(tm, &cn);
    printf("%5zu VMs, %3zu agents, groups of %2zu: %6llu pairs, %5zu edges"
           " (%llu events); %8.0f updates/s absorbed, %4.0f ns/entry, "
           "%5.0f us/tick; %5.2f%% of a core at 100 ms\n",
           n_vms, n_agents, group, (unsigned long long) cn.n_pairs, n_edges,
           (unsigned long long) n_events,
           (double) n_updates / (feed_cpu + tick_cpu),
           feed_cpu * 1e9 / (double) n_entries,
           tick_cpu * 1e6 / (double) n_ticks,
           100 * (feed_cpu + tick_cpu) / t);
    vttif_tm_destroy(&tm);
    free(buf);
    free(n_flows);
    free(flows);
}

int
main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 20;
    if (seconds < 1) {
        fprintf(stderr, "usage: vr-vttif-core [seconds >= 1]\n");
        return 2;
    }
    run(100, 10, seconds);
    run(1000, 10, seconds);
    run(1000, 50, seconds);
    run(10000, 10, seconds);
    return 0;
}
