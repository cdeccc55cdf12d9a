/* SPDX-License-Identifier: MIT */
/* vadapt-planner/plan_agent: the agents' table keeps its cap (the agent
 * heard from longest ago that no link names gives its place; none in use
 * among the oldest: refused), forgets the silent and unused, and never
 * an agent in use. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "plan_agent.h"

#define S 1000000ULL

/* The ids "in use" (named by a link) in a test. */
static const char *s_used[16];

static bool
s_in_use(void *arg, const char *id)
{
    (void) arg;
    for (size_t i = 0; i < sizeof s_used / sizeof s_used[0]; i++) {
        if (s_used[i] && !strcmp(s_used[i], id)) {
            return true;
        }
    }
    return false;
}

static void
s_use(const char *const *ids, size_t n)
{
    memset(s_used, 0, sizeof s_used);
    assert(n <= sizeof s_used / sizeof s_used[0]);
    for (size_t i = 0; i < n; i++) {
        s_used[i] = ids[i];
    }
}

static struct plan_agent *
s_add(struct plan_agents *t, const char *id, uint64_t now)
{
    assert(!plan_agents_find(t, id));
    struct plan_agent *ag = plan_agents_add(t, id, 7, now);
    if (ag) {
        assert(!strcmp(ag->id, id) && ag->boot_id == 7
               && ag->heard_us == now && !ag->client && !ag->scanned);
        assert(plan_agents_find(t, id) == ag);
    }
    return ag;
}

static void
test_cap(void)
{
    struct plan_agents t;
    plan_agents_init(&t, 3, 60 * S, s_in_use, NULL);
    s_use(NULL, 0);
    assert(s_add(&t, "a", 1 * S) && s_add(&t, "b", 2 * S)
           && s_add(&t, "c", 3 * S));
    assert(t.n == 3);
    /* Heard again: refreshed by the caller; "a" is now the newest. */
    plan_agents_find(&t, "a")->heard_us = 4 * S;
    /* Full: "b", heard from longest ago, gives its place. */
    assert(s_add(&t, "d", 5 * S));
    assert(t.n == 3 && t.n_evicted == 1 && !plan_agents_find(&t, "b"));
    /* "c" (3 s) is in use: "a" (4 s) goes instead. */
    s_use((const char *[]) { "c" }, 1);
    assert(s_add(&t, "e", 6 * S));
    assert(t.n == 3 && t.n_evicted == 2 && !plan_agents_find(&t, "a")
           && plan_agents_find(&t, "c"));
    /* All in use: refused, nothing changed. */
    s_use((const char *[]) { "c", "d", "e" }, 3);
    assert(!s_add(&t, "f", 7 * S));
    assert(t.n == 3 && t.n_refused == 1 && t.n_evicted == 2);
    assert(plan_agents_find(&t, "c") && plan_agents_find(&t, "d")
           && plan_agents_find(&t, "e"));
    plan_agents_uninit(&t);
    assert(t.n == 0 && !t.v);
    plan_agents_uninit(&t);
}

/* At the cap only the PLAN_AGENTS_EVICT_TRIES oldest are looked at. */
static void
test_tries(void)
{
    enum { N = PLAN_AGENTS_EVICT_TRIES + 2 };
    static char ids[N][8];
    const char *used[N];
    struct plan_agents t;
    plan_agents_init(&t, N, 60 * S, s_in_use, NULL);
    for (size_t i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "h%zu", i);
        used[i] = ids[i];
        assert(s_add(&t, ids[i], (i + 1) * S));
    }
    /* The oldest EVICT_TRIES - 1 in use: the next oldest goes. */
    s_use(used, PLAN_AGENTS_EVICT_TRIES - 1);
    assert(s_add(&t, "n1", 100 * S));
    assert(!plan_agents_find(&t, ids[PLAN_AGENTS_EVICT_TRIES - 1]));
    /* Now the EVICT_TRIES oldest are all in use ("n1" is newest): refused
     * though a newer one is free. */
    used[PLAN_AGENTS_EVICT_TRIES - 1] = ids[PLAN_AGENTS_EVICT_TRIES];
    s_use(used, PLAN_AGENTS_EVICT_TRIES);
    assert(!s_add(&t, "n2", 101 * S));
    assert(t.n == N && t.n_refused == 1 && t.n_evicted == 1);
    plan_agents_uninit(&t);
}

static void
test_age(void)
{
    struct plan_agents t;
    plan_agents_init(&t, 16, 10 * S, s_in_use, NULL);
    s_use((const char *[]) { "used" }, 1);
    assert(s_add(&t, "old", 0) && s_add(&t, "used", 0)
           && s_add(&t, "new", 5 * S) && s_add(&t, "future", 50 * S));
    /* Exactly forget_us: kept. */
    assert(plan_agents_age(&t, 10 * S) == 0 && t.n == 4);
    /* Past it: "old" goes, "used" stays (a link names it), "new" and
     * "future" (a clock behind the agent's stamp) are young. */
    assert(plan_agents_age(&t, 10 * S + 1) == 1);
    assert(t.n == 3 && t.n_forgotten == 1 && !plan_agents_find(&t, "old"));
    assert(plan_agents_find(&t, "used") && plan_agents_find(&t, "new")
           && plan_agents_find(&t, "future"));
    /* No longer used: goes with "new" at the next look. */
    s_use(NULL, 0);
    assert(plan_agents_age(&t, 16 * S) == 2);
    assert(t.n == 1 && t.n_forgotten == 3 && plan_agents_find(&t, "future"));
    /* Heard from again after being forgotten: a new agent. */
    assert(s_add(&t, "old", 17 * S) && t.n == 2);
    plan_agents_uninit(&t);
}

int
main(void)
{
    test_cap();
    test_tries();
    test_age();
    printf("plan_agent: ok\n");
    return 0;
}
