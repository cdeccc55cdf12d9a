/* SPDX-License-Identifier: MIT */
/* vr-plan-match: time per decision and total weight of the planner's
 * b-matching selection, exact against greedy, on a random graph (run by
 * tests/bench/plan_match.sh; not a test).  'hosts' hosts with 10 VMs each
 * and 'pairs' random VM pairs on distinct hosts with rates uniform in
 * [1, 1000] Mbit/s go to plan_core as one topology; every host has
 * 'ports' ports, no k cap; one decision is one plan_core_tick(), timed
 * in CPU time of the thread (a shared machine's load does not count).
 * Prints one line per matching mode.
 *   vr-plan-match HOSTS PAIRS PORTS REPS [exact|greedy|auto]... */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan_core.h"

enum { VMS_PER_HOST = 10 };

static uint64_t g_rng = 0x9e3779b97f4a7c15u;

static uint32_t
rnd(uint32_t n)
{
    g_rng = g_rng * UINT64_C(6364136223846793005)
            + UINT64_C(1442695040888963407);
    return (uint32_t) ((g_rng >> 33) % n);
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static bool
arg_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "vr-plan-match: '%s' not in [%u, %u]\n", s, min,
                max);
        return false;
    }
    *out = (uint32_t) v;
    return true;
}

int
main(int argc, char **argv)
{
    uint32_t hosts, pairs, ports, reps;
    if (argc < 6 || !arg_u32(argv[1], 2, 100000, &hosts)
        || !arg_u32(argv[2], 1, 10000000, &pairs)
        || !arg_u32(argv[3], 1, PLAN_MAX_PORTS, &ports)
        || !arg_u32(argv[4], 1, 100000, &reps)) {
        fprintf(stderr, "usage: vr-plan-match HOSTS PAIRS PORTS REPS "
                "exact|greedy|auto...\n");
        return 2;
    }
    size_t n_vms = (size_t) hosts * VMS_PER_HOST;
    char (*names)[16] = calloc(hosts, sizeof *names);
    struct plan_vm_host *vms = calloc(n_vms, sizeof *vms);
    struct plan_vm_pair *vp = calloc(pairs, sizeof *vp);
    if (!names || !vms || !vp) {
        fprintf(stderr, "vr-plan-match: out of memory\n");
        return 1;
    }
    for (uint32_t h = 0; h < hosts; h++) {
        snprintf(names[h], sizeof names[h], "h%u", h);
    }
    for (size_t i = 0; i < n_vms; i++) {
        vms[i] = (struct plan_vm_host) { 0x020000000000u + i + 1,
                                         names[i / VMS_PER_HOST] };
    }
    for (uint32_t i = 0; i < pairs; i++) {
        size_t a = rnd((uint32_t) n_vms), b;
        do {
            b = rnd((uint32_t) n_vms);
        } while (b / VMS_PER_HOST == a / VMS_PER_HOST);
        vp[i] = (struct plan_vm_pair) { vms[a].mac, vms[b].mac,
                                        (1 + rnd(1000)) * 1e6 };
    }
    for (int m = 5; m < argc; m++) {
        struct plan_params p;
        plan_params_default(&p);
        p.policy = PLAN_POLICY_B_MATCHING;
        p.k = 0;
        p.default_ports = ports;
        p.live_max_age_us = 0;
        if (!plan_matching_parse(argv[m], &p.matching)) {
            fprintf(stderr, "vr-plan-match: bad matching '%s'\n", argv[m]);
            return 2;
        }
        plan_core_t *pc = plan_core_new(&p);
        if (!pc || plan_core_set_topology(pc, 1, vp, pairs, vms, n_vms)) {
            fprintf(stderr, "vr-plan-match: plan_core failed\n");
            return 1;
        }
        struct plan_actions acts;
        double best = 1e9, sum = 0, weight = 0;
        for (uint32_t r = 0; r < reps; r++) {
            double t0 = now_s();
            if (plan_core_tick(pc, 2 + r, NULL, 0, &acts)) {
                fprintf(stderr, "vr-plan-match: tick failed\n");
                return 1;
            }
            double dt = now_s() - t0;
            best = dt < best ? dt : best;
            sum += dt;
            for (size_t i = 0; i < acts.n; i++) {
                if (acts.v[i].kind == PLAN_KIND_PLAN) {
                    weight = acts.v[i].demand_bps;
                }
            }
        }
        struct plan_counters c;
        plan_core_get_counters(pc, &c);
        printf("hosts %u pairs %u ports %u links %llu matching %-6s "
               "(%s): %8.2f ms/decision (min %.2f), selected %llu, "
               "weight %.1f Mbit/s\n", hosts, pairs, ports,
               (unsigned long long) c.n_links, argv[m],
               c.sel_exact ? "exact" : "greedy", sum / reps * 1e3,
               best * 1e3, (unsigned long long) c.n_selected, weight / 1e6);
        fflush(stdout);
        plan_core_destroy(&pc);
    }
    free(names);
    free(vms);
    free(vp);
    return 0;
}
