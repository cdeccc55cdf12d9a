/* SPDX-License-Identifier: MIT */
/* vadapt-planner/plan_vmloc: VMs by host across topologies, a VM that
 * moves, bad entries skipped, a MAC given twice, aging, and the cap
 * (the least recently named go first). */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_vmloc.h"

#define S 1000000ULL

static void
test_hosts(void)
{
    plan_vmloc_t *v = plan_vmloc_new(60 * S);
    assert(v);
    /* A first topology that names no VM (or only bad ones). */
    assert(plan_vmloc_update(v, 0, NULL, 0) == 0);
    const struct plan_vm_host bad[] = { { 0, "h1" } };
    assert(plan_vmloc_update(v, 0, bad, 1) == 0);
    assert(plan_vmloc_count(v) == 0);
    char long_name[PLAN_HOST_LEN + 8];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const struct plan_vm_host t1[] = {
        { 0x0a, "h1" }, { 0x0b, "h1" }, { 0x0c, "h2" },
        { 0, "h1" },                    /* zero MAC */
        { UINT64_C(0x1000000000000), "h1" }, /* over 48 bits */
        { 0x0d, "" }, { 0x0e, NULL }, { 0x0f, long_name },
    };
    assert(plan_vmloc_update(v, 1 * S, t1, sizeof t1 / sizeof t1[0]) == 0);
    assert(plan_vmloc_count(v) == 3);
    uint64_t out[8];
    assert(plan_vmloc_host(v, "h1", 1 * S, out, 8) == 2);
    assert(out[0] == 0x0a && out[1] == 0x0b);
    assert(plan_vmloc_host(v, "h2", 1 * S, out, 8) == 1 && out[0] == 0x0c);
    assert(plan_vmloc_host(v, "h3", 1 * S, out, 8) == 0);
    assert(plan_vmloc_host(v, "", 1 * S, out, 8) == 0);
    assert(plan_vmloc_host(v, "h1", 1 * S, out, 1) == 2 && out[0] == 0x0a);

    /* A later topology names fewer VMs: the others are remembered; 0x0b
     * moved to h3; 0x10 given twice, the last host counts. */
    const struct plan_vm_host t2[] = {
        { 0x0b, "h3" }, { 0x10, "h2" }, { 0x10, "h4" },
    };
    assert(plan_vmloc_update(v, 30 * S, t2, 3) == 0);
    assert(plan_vmloc_count(v) == 4);
    assert(plan_vmloc_host(v, "h1", 30 * S, out, 8) == 1 && out[0] == 0x0a);
    assert(plan_vmloc_host(v, "h3", 30 * S, out, 8) == 1 && out[0] == 0x0b);
    assert(plan_vmloc_host(v, "h4", 30 * S, out, 8) == 1 && out[0] == 0x10);
    assert(plan_vmloc_host(v, "h2", 30 * S, out, 8) == 1 && out[0] == 0x0c);

    /* Aging: named at 1 s, not after 61 s; gone at the next update. */
    assert(plan_vmloc_host(v, "h1", 61 * S, out, 8) == 1);
    assert(plan_vmloc_host(v, "h1", 61 * S + 1, out, 8) == 0);
    assert(plan_vmloc_update(v, 62 * S, NULL, 0) == 0);
    assert(plan_vmloc_count(v) == 2);   /* 0x0b and 0x10, named at 30 s */
    plan_vmloc_destroy(&v);
    assert(!v);
    plan_vmloc_destroy(&v);
}

static void
test_cap(void)
{
    plan_vmloc_t *v = plan_vmloc_new(3600 * S);
    enum { N = PLAN_VMLOC_MAX / 2 + 10 };
    struct plan_vm_host *t = calloc(N, sizeof *t);
    assert(t);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < N; i++) {
            t[i].mac = (uint64_t) round * N + i + 1;
            t[i].host = round == 2 ? "new" : "old";
        }
        assert(plan_vmloc_update(v, (uint64_t) (round + 1) * S, t, N) == 0);
    }
    /* 3 x N named, the cap kept: all of the last round, then the next
     * most recent; none of the first. */
    assert(plan_vmloc_count(v) == PLAN_VMLOC_MAX);
    static uint64_t out[PLAN_VMLOC_MAX];
    assert(plan_vmloc_host(v, "new", 4 * S, out, PLAN_VMLOC_MAX) == N);
    size_t n_old = plan_vmloc_host(v, "old", 4 * S, out, PLAN_VMLOC_MAX);
    assert(n_old == PLAN_VMLOC_MAX - N);
    for (size_t i = 0; i < n_old; i++) {
        assert(out[i] > N);             /* round 1's, not round 0's */
    }
    free(t);
    plan_vmloc_destroy(&v);
}

int
main(void)
{
    test_hosts();
    test_cap();
    printf("test_plan_vmloc: ok\n");
    return 0;
}
