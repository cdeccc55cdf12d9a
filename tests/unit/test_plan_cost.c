/* SPDX-License-Identifier: MIT */
/* plan_cost: set-up and teardown learned per network from reservation
 * records, each measured once, averaged, the prior until then; bad
 * records refused; the network table and the followed ring bounded. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "plan_cost.h"

#define S 1000000ULL

int
main(void)
{
    plan_costs_t *pc = plan_costs_new(10 * S, 2 * S);
    assert(pc);
    uint64_t su, td;
    struct plan_cost_est e;

    /* The prior until something is measured. */
    assert(plan_costs_default(pc, &su, &td) && su == 10 * S && td == 2 * S);
    assert(!plan_costs_feed(pc, "r-1", "lambda", PLAN_COST_OTHER, 100, 100,
                            1, &e));

    /* A set-up of 4 s replaces the prior; seen again (events, lists), it
     * counts once. */
    assert(plan_costs_feed(pc, "r-1", "lambda", PLAN_COST_ACTIVE, 100 * S,
                           104 * S, 1, &e));
    assert(e.setup_us == 4 * S && e.n_setups == 1 && e.teardown_us == 2 * S);
    assert(!plan_costs_feed(pc, "r-1", "lambda", PLAN_COST_ACTIVE, 100 * S,
                            104 * S, 2, &e));
    /* The next one moves the mean by the weight. */
    assert(plan_costs_feed(pc, "r-2", "lambda", PLAN_COST_ACTIVE, 200 * S,
                           214 * S, 3, &e));
    assert(e.setup_us == (uint64_t) (0.7 * 4 * S + 0.3 * 14 * S));

    /* Teardown: RELEASING to RELEASED; RELEASED alone teaches nothing. */
    assert(!plan_costs_feed(pc, "r-9", "lambda", PLAN_COST_RELEASED, 0,
                            50 * S, 4, &e));
    assert(!plan_costs_feed(pc, "r-1", "lambda", PLAN_COST_RELEASING, 100 * S,
                            300 * S, 5, &e));
    assert(plan_costs_feed(pc, "r-1", "lambda", PLAN_COST_RELEASED, 100 * S,
                           301 * S, 6, &e));
    assert(e.teardown_us == 1 * S && e.n_teardowns == 1);
    assert(!plan_costs_feed(pc, "r-1", "lambda", PLAN_COST_RELEASED, 100 * S,
                            301 * S, 7, &e));

    /* Another network; the default is the mean of those measured. */
    assert(plan_costs_feed(pc, "r-3", "netns", PLAN_COST_ACTIVE, 0, S / 20,
                           8, &e));
    assert(e.setup_us == S / 20 && e.teardown_us == 2 * S);
    assert(plan_costs_default(pc, &su, &td));
    assert(su == (uint64_t) ((0.7 * 4 * S + 0.3 * 14 * S + S / 20) / 2));

    /* Refused: bad names, times backwards or over a day. */
    uint64_t before = plan_costs_refused(pc);
    assert(!plan_costs_feed(pc, "r 4", "netns", PLAN_COST_ACTIVE, 0, S, 9,
                            &e));
    assert(!plan_costs_feed(pc, "r-4", "net\nns", PLAN_COST_ACTIVE, 0, S, 9,
                            &e));
    assert(!plan_costs_feed(pc, "r-4", NULL, PLAN_COST_ACTIVE, 0, S, 9, &e));
    assert(!plan_costs_feed(pc, "r-4", "netns", PLAN_COST_ACTIVE, 5 * S, S, 9,
                            &e));
    assert(!plan_costs_feed(pc, "r-4", "netns", PLAN_COST_ACTIVE, 0,
                            86401 * S, 9, &e));
    assert(plan_costs_refused(pc) == before + 5);

    /* Bounded: the 33rd network evicts the least recently updated. */
    for (int i = 0; i < PLAN_COST_NETWORKS + 1; i++) {
        char id[32], net[32];
        snprintf(id, sizeof id, "n-%d", i);
        snprintf(net, sizeof net, "net%d", i);
        assert(plan_costs_feed(pc, id, net, PLAN_COST_ACTIVE, 0, S,
                               100 + (uint64_t) i, &e));
    }
    struct plan_cost_est all[PLAN_COST_NETWORKS + 4];
    size_t n = plan_costs_list(pc, all, PLAN_COST_NETWORKS + 4);
    assert(n == PLAN_COST_NETWORKS);
    bool lambda = false;
    for (size_t i = 0; i < n; i++) {
        lambda |= !strcmp(all[i].network, "lambda");
    }
    assert(!lambda);    /* updated longest ago */

    /* The ring: more reservations than it follows, none lost track of
     * wrongly (an old id measured again counts again, once). */
    for (int i = 0; i < PLAN_COST_TRACKED + 10; i++) {
        char id[32];
        snprintf(id, sizeof id, "q-%d", i);
        assert(plan_costs_feed(pc, id, "net5", PLAN_COST_ACTIVE, 0, S,
                               1000, &e));
    }
    plan_costs_destroy(&pc);
    assert(!pc);
    printf("plan_cost: ok\n");
    return 0;
}
