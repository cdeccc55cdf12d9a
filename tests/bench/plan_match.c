/* SPDX-License-Identifier: MIT */
/* Compares the planner's two b-matching selections (plan_match.h), the
 * greedy and the exact branch and bound, on random graphs shaped like the
 * planner's: hosts with 1 to 4 ports (or a fixed number), each link
 * between two random hosts (no two links on one pair) with a demand of 1
 * to 40 Mbit/s, 8 links a host on average (or 2 x a given density; at
 * most a full mesh), no k cap.  For each size it
 * prints, over the graphs of that size: the mean weight of each (the
 * exact's relative to the greedy's), how many the exact solver proved
 * optimal within its default budget, its mean search nodes, and the mean
 * and worst CPU time of each.
 * Usage: vr-plan-match [graphs per size, default 5 [ports, 0: 1 to 4
 *        [links per host, default 4 [sizes...]]]], sizes in links
 *        (default 20 50 100 200 300 500 1000). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan_match.h"

static uint64_t rng = 424242;

static double
rnd(void)
{
    rng = rng * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return (double) (rng >> 11) / 9007199254740992.0;
}

static double
cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int
main(int argc, char **argv)
{
    int graphs = argc > 1 ? atoi(argv[1]) : 5;
    int ports = argc > 2 ? atoi(argv[2]) : 0;
    int density = argc > 3 ? atoi(argv[3]) : 4;
    static const size_t def_sizes[] = { 20, 50, 100, 200, 300, 500, 1000 };
    size_t n_sizes = argc > 4 ? (size_t) (argc - 4)
                     : sizeof def_sizes / sizeof def_sizes[0];
    if (graphs < 1 || graphs > 1000 || ports < 0 || ports > 64
        || density < 1 || density > 1000) {
        fprintf(stderr, "usage: vr-plan-match [graphs 1-1000 [ports 0-64 "
                "[links per host 1-1000 [links...]]]]\n");
        return 2;
    }
    printf("%6s %5s %12s %12s %7s %7s %8s %9s %9s %9s %9s\n", "links",
           "hosts", "greedy Mb/s", "exact Mb/s", "gain", "proven", "nodes",
           "greedy ms", "max ms", "exact ms", "max ms");
    for (size_t s = 0; s < n_sizes; s++) {
        size_t m = argc > 4 ? strtoul(argv[4 + s], NULL, 10) : def_sizes[s];
        if (m < 1 || m > PLAN_MATCH_MAX_EDGES) {
            fprintf(stderr, "bad size '%s'\n", argv[4 + s]);
            return 2;
        }
        /* Links join distinct host pairs, as the planner's do: enough
         * hosts for 'm' pairs. */
        size_t n = m / (size_t) density < 4 ? 4 : m / (size_t) density;
        while (n * (n - 1) / 2 < m) {
            n++;
        }
        unsigned char *pair = calloc(n * n, 1);
        uint32_t *cap = calloc(n, sizeof *cap);
        struct plan_match_edge *e = calloc(m, sizeof *e);
        bool *taken = calloc(m, sizeof *taken);
        if (!cap || !e || !taken || !pair) {
            return 1;
        }
        double wg = 0, wx = 0, tg = 0, tx = 0, tg_max = 0, tx_max = 0;
        uint64_t nodes = 0;
        int proven = 0;
        for (int g = 0; g < graphs; g++) {
            for (size_t v = 0; v < n; v++) {
                cap[v] = ports ? (uint32_t) ports : 1 + (uint32_t) (rnd() * 4);
            }
            memset(pair, 0, n * n);
            for (size_t i = 0; i < m; i++) {
                uint32_t u, v;
                do {
                    u = (uint32_t) (rnd() * n);
                    v = (uint32_t) (rnd() * (n - 1));
                    v += v >= u;
                } while (pair[u * n + v]);
                pair[u * n + v] = pair[v * n + u] = 1;
                e[i] = (struct plan_match_edge) { u, v, 1 + 39 * rnd() };
            }
            struct plan_match_problem pr = { cap, n, e, m, 0 };
            struct plan_match_stats gs, xs;
            double t0 = cpu_ms();
            if (plan_match_greedy(&pr, taken, &gs)) {
                return 1;
            }
            double t1 = cpu_ms();
            if (plan_match_exact(&pr, NULL, taken, &xs)) {
                return 1;
            }
            double t2 = cpu_ms();
            wg += gs.weight;
            wx += xs.weight;
            tg += t1 - t0;
            tx += t2 - t1;
            tg_max = t1 - t0 > tg_max ? t1 - t0 : tg_max;
            tx_max = t2 - t1 > tx_max ? t2 - t1 : tx_max;
            nodes += xs.nodes;
            proven += xs.optimal;
        }
        printf("%6zu %5zu %12.1f %12.1f %6.2f%% %3d/%-3d %8.0f %9.3f %9.3f "
               "%9.3f %9.3f\n", m, n, wg / graphs, wx / graphs,
               100 * (wx - wg) / wg, proven, graphs,
               (double) nodes / graphs, tg / graphs, tg_max, tx / graphs,
               tx_max);
        fflush(stdout);
        free(cap);
        free(e);
        free(taken);
        free(pair);
    }
    return 0;
}
