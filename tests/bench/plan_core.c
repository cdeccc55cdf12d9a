/* SPDX-License-Identifier: MIT */
/* Prints what the planner's decision core (plan_core) costs without the
 * bus, as the service drives it: b-matching with 4 ports per host, 10 VMs
 * per host, random VM pairs between hosts with rates of 1 to 40 Mbit/s,
 * one topology, then a tick every 100 ms with the held set the service
 * would have, and new live rates every second (each pair's rate moves by
 * up to 20%, a tenth of the pairs stop or start).  For 100 hosts with
 * 4,000 and 16,000 pairs and 1,000 hosts with 16,000 and 40,000 pairs it
 * prints the CPU time (one thread) of: a decision (new live rates, then
 * the tick that decides on them), a tick alone, and a new topology with
 * its tick; each the mean over the run.  Each size runs twice: from
 * scratch (plan_core_set_from_scratch(): full sorts, as before issue 18)
 * and incremental (the default); both must show the same links,
 * selection and actions.
 * Usage: vr-plan-core [simulated seconds, default 30 [hosts pairs
 * [scratch|incremental]]]; with hosts and pairs it runs that size only,
 * and with a way only that way (for a profiler). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan_core.h"

enum { VMS_PER_HOST = 10, PORTS = 4 };

static const uint64_t MAC0 = UINT64_C(0x020000000001);
static const uint64_t TICK_US = 100000;

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
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* The fake service's held set: what RESERVE added, less what RELEASE
 * dropped. */
struct held {
    char (*a)[PLAN_HOST_LEN], (*b)[PLAN_HOST_LEN];
    struct plan_link_key *keys;
    size_t n, cap;
};

static void
held_apply(struct held *h, const struct plan_actions *acts)
{
    for (size_t i = 0; i < acts->n; i++) {
        const struct plan_action *act = &acts->v[i];
        if (act->kind == PLAN_KIND_RESERVE && h->n < h->cap) {
            memcpy(h->a[h->n], act->host_a, PLAN_HOST_LEN);
            memcpy(h->b[h->n], act->host_b, PLAN_HOST_LEN);
            h->n++;
        } else if (act->kind == PLAN_KIND_RELEASE) {
            for (size_t j = 0; j < h->n; j++) {
                if (!strcmp(h->a[j], act->host_a)
                    && !strcmp(h->b[j], act->host_b)) {
                    h->n--;
                    memcpy(h->a[j], h->a[h->n], PLAN_HOST_LEN);
                    memcpy(h->b[j], h->b[h->n], PLAN_HOST_LEN);
                    break;
                }
            }
        }
    }
    for (size_t i = 0; i < h->n; i++) {
        h->keys[i] = (struct plan_link_key) { h->a[i], h->b[i] };
    }
}

static void
run(size_t n_hosts, size_t n_pairs, double seconds, bool scratch)
{
    rng = 12345;
    size_t n_vms = n_hosts * VMS_PER_HOST;
    struct plan_vm_pair *pairs = calloc(n_pairs, sizeof *pairs);
    struct plan_vm_pair *live = calloc(n_pairs, sizeof *live);
    double *base = calloc(n_pairs, sizeof *base);
    struct plan_vm_host *vms = calloc(n_vms, sizeof *vms);
    char (*names)[32] = calloc(n_hosts, sizeof *names);
    struct held h = { .cap = n_hosts * PORTS };
    h.a = calloc(h.cap, sizeof *h.a);
    h.b = calloc(h.cap, sizeof *h.b);
    h.keys = calloc(h.cap, sizeof *h.keys);
    struct plan_params p;
    plan_params_default(&p);
    p.policy = PLAN_POLICY_B_MATCHING;
    p.k = 0;
    p.default_ports = PORTS;
    p.max_adds = 0;
    plan_core_t *pc = plan_core_new(&p);
    if (pc) {
        plan_core_set_from_scratch(pc, scratch);
    }
    if (!pairs || !live || !base || !vms || !names || !h.a || !h.b
        || !h.keys || !pc) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n_hosts; i++) {
        snprintf(names[i], sizeof names[i], "h%05zu", i);
    }
    for (size_t i = 0; i < n_vms; i++) {
        vms[i] = (struct plan_vm_host) { MAC0 + i,
                                         names[i / VMS_PER_HOST] };
    }
    /* Distinct pairs are not needed: a repeat is counted and survived,
     * and at these densities they are rare. */
    for (size_t i = 0; i < n_pairs; i++) {
        size_t x = (size_t) (rnd() * (double) n_vms), y;
        do {
            y = (size_t) (rnd() * (double) n_vms);
        } while (y / VMS_PER_HOST == x / VMS_PER_HOST);
        base[i] = 1e6 + 39e6 * rnd();
        pairs[i] = (struct plan_vm_pair) { MAC0 + x, MAC0 + y, base[i] };
        live[i] = pairs[i];
    }

    uint64_t now = 1000000;
    struct plan_actions acts;
    double c = cpu_now();
    plan_core_set_live(pc, now, live, n_pairs);
    plan_core_set_topology(pc, now, pairs, n_pairs, vms, n_vms);
    plan_core_tick(pc, now, h.keys, h.n, &acts);
    double first = cpu_now() - c;
    held_apply(&h, &acts);

    double t_dec = 0, t_tick = 0, t_topo = 0;
    size_t n_dec = 0, n_tick = 0, n_topo = 0, n_acts = 0;
    size_t steps = (size_t) (seconds * 1e6 / (double) TICK_US);
    for (size_t s = 1; s <= steps; s++) {
        now += TICK_US;
        if (s % 100 == 0) {
            /* Every 10 s a new topology: the live pairs as they are. */
            c = cpu_now();
            plan_core_set_topology(pc, now, live, n_pairs, vms, n_vms);
            plan_core_tick(pc, now, h.keys, h.n, &acts);
            t_topo += cpu_now() - c;
            n_topo++;
        } else if (s % 10 == 0) {
            for (size_t i = 0; i < n_pairs; i++) {
                double r = rnd();
                if (r < 0.05) {
                    live[i].rate_bps = 0;
                } else if (r < 0.1 || live[i].rate_bps > 0) {
                    live[i].rate_bps = base[i] * (0.8 + 0.4 * rnd());
                }
            }
            c = cpu_now();
            plan_core_set_live(pc, now, live, n_pairs);
            plan_core_tick(pc, now, h.keys, h.n, &acts);
            t_dec += cpu_now() - c;
            n_dec++;
        } else {
            c = cpu_now();
            plan_core_tick(pc, now, h.keys, h.n, &acts);
            t_tick += cpu_now() - c;
            n_tick++;
        }
        n_acts += acts.n;
        held_apply(&h, &acts);
    }
    struct plan_counters cn;
    plan_core_get_counters(pc, &cn);
    printf("%-12s %5zu hosts %6zu pairs: %6llu links, %5llu selected, "
           "%5zu held;"
           " decision (live + tick) %7.2f ms, tick %7.2f ms, topology + "
           "tick %7.2f ms (first %7.2f ms); %.0f actions per tick\n",
           scratch ? "from scratch" : "incremental", n_hosts, n_pairs,
           (unsigned long long) cn.n_links,
           (unsigned long long) cn.n_selected, h.n,
           n_dec ? t_dec * 1e3 / (double) n_dec : 0,
           n_tick ? t_tick * 1e3 / (double) n_tick : 0,
           n_topo ? t_topo * 1e3 / (double) n_topo : 0, first * 1e3,
           (double) n_acts / (double) steps);
    fflush(stdout);
    plan_core_destroy(&pc);
    free(h.a);
    free(h.b);
    free(h.keys);
    free(names);
    free(vms);
    free(base);
    free(live);
    free(pairs);
}

int
main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 30;
    long hosts = argc > 3 ? atol(argv[2]) : 0;
    long n_pairs = argc > 3 ? atol(argv[3]) : 0;
    const char *way = argc > 4 ? argv[4] : "";
    if (!(seconds >= 1 && seconds <= 3600) || argc == 3 || argc > 5
        || (argc >= 4 && (hosts < 2 || hosts > 100000 || n_pairs < 1
                          || n_pairs > 10000000))
        || (argc == 5 && strcmp(way, "scratch")
            && strcmp(way, "incremental"))) {
        fprintf(stderr, "usage: vr-plan-core [seconds, 1 to 3600 "
                "[hosts pairs [scratch|incremental]]]\n");
        return 2;
    }
    if (hosts) {
        if (strcmp(way, "incremental")) {
            run((size_t) hosts, (size_t) n_pairs, seconds, true);
        }
        if (strcmp(way, "scratch")) {
            run((size_t) hosts, (size_t) n_pairs, seconds, false);
        }
        return 0;
    }
    static const size_t sizes[][2] = {
        { 100, 4000 }, { 100, 16000 }, { 1000, 16000 }, { 1000, 40000 },
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        run(sizes[i][0], sizes[i][1], seconds, true);
        run(sizes[i][0], sizes[i][1], seconds, false);
    }
    return 0;
}
