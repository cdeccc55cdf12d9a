/* SPDX-License-Identifier: MIT */
/* plan_sched: a schedule of known phases checked whole (bad links, too
 * many, a link twice, bounds), its entries handed out once each when
 * their start is within 'ahead', in wall-clock time, links ordered;
 * entries that ended unseen dropped and counted; from the config's YAML
 * as the planner reads it. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "plan_sched.h"

#define MS 1000ULL
#define S 1000000ULL

static char *s_l1[] = { "h2 h1", "h2 h3" };

static struct plan_sched_cfg
s_entry(int64_t start_ms, uint32_t dur_ms, char **links, size_t n)
{
    struct plan_sched_cfg c = { .start_unix_ms = start_ms,
                                .duration_ms = dur_ms,
                                .links = { .v = links, .n = n } };
    return c;
}

static void
s_bad(char *link, const char *want)
{
    char *links[] = { link };
    struct plan_sched_cfg c = s_entry(1000, 1000, links, 1);
    char err[256] = "";
    assert(!plan_sched_new(&c, 1, err, sizeof err));
    if (!strstr(err, want)) {
        fprintf(stderr, "'%s' not in '%s'\n", want, err);
        abort();
    }
}

static void
test_checks(void)
{
    s_bad("h1", "links[0]");
    s_bad("h1 h1", "two distinct");
    s_bad(" h1 h2", "two distinct");
    s_bad("h1 h2 h3", "two distinct");
    s_bad("h1 ", "two distinct");
    char big[100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "h1 ", 3);
    s_bad(big, "two distinct");
    /* A link twice, either order. */
    char *twice[] = { "h1 h2", "h2 h1" };
    struct plan_sched_cfg c = s_entry(1000, 1000, twice, 2);
    char err[256] = "";
    assert(!plan_sched_new(&c, 1, err, sizeof err));
    assert(strstr(err, "twice"));
    /* No links; bounds. */
    c = s_entry(1000, 1000, twice, 0);
    assert(!plan_sched_new(&c, 1, err, sizeof err));
    c = s_entry(0, 1000, s_l1, 2);
    assert(!plan_sched_new(&c, 1, err, sizeof err));
    c = s_entry(1000, 0, s_l1, 2);
    assert(!plan_sched_new(&c, 1, err, sizeof err));
    /* Too many entries. */
    struct plan_sched_cfg *many = calloc(PLAN_SCHED_MAX + 1, sizeof *many);
    for (size_t i = 0; i <= PLAN_SCHED_MAX; i++) {
        many[i] = s_entry(1000, 1000, s_l1, 2);
    }
    assert(!plan_sched_new(many, PLAN_SCHED_MAX + 1, err, sizeof err));
    assert(strstr(err, "entries"));
    plan_sched_t *s = plan_sched_new(many, PLAN_SCHED_MAX, err, sizeof err);
    assert(s);
    plan_sched_destroy(&s);
    assert(!s);
    free(many);
    /* Empty is fine. */
    s = plan_sched_new(NULL, 0, err, sizeof err);
    assert(s);
    struct plan_prediction pr;
    assert(!plan_sched_next(s, 0, 0, &pr));
    plan_sched_destroy(&s);
}

static void
test_next(void)
{
    char *l2[] = { "h3 h4" };
    char *l3[] = { "h1 h4" };
    /* Phases at 100 s (20 s), 120 s (20 s), 50 s (10 s): the last one
     * ends before anything is asked. */
    struct plan_sched_cfg v[3] = {
        s_entry(100000, 20000, s_l1, 2),
        s_entry(120000, 20000, l2, 1),
        s_entry(50000, 10000, l3, 1),
    };
    char err[256] = "";
    plan_sched_t *s = plan_sched_new(v, 3, err, sizeof err);
    assert(s);
    struct plan_prediction pr;
    /* At 70 s, 5 s ahead: nothing due; the 50 s entry has ended. */
    assert(!plan_sched_next(s, 70 * S, 5 * S, &pr));
    struct plan_sched_counters c;
    plan_sched_get_counters(s, &c);
    assert(c.entries == 3 && c.handed == 0 && c.expired == 1);
    /* At 95 s: the first, once. */
    assert(plan_sched_next(s, 95 * S, 5 * S, &pr));
    assert(pr.id == PLAN_SCHED_ID_BASE + 0);
    assert(pr.start_us == 100 * S && pr.duration_us == 20 * S);
    assert(pr.made_us == 95 * S);
    assert(pr.n_links == 2);
    assert(!strcmp(pr.links[0].host_a, "h1")
           && !strcmp(pr.links[0].host_b, "h2"));
    assert(!strcmp(pr.links[1].host_a, "h2")
           && !strcmp(pr.links[1].host_b, "h3"));
    assert(!plan_sched_next(s, 95 * S, 5 * S, &pr));
    /* At 130 s, the second has started: handed out at once. */
    assert(plan_sched_next(s, 130 * S, 0, &pr));
    assert(pr.id == PLAN_SCHED_ID_BASE + 1 && pr.start_us == 120 * S);
    assert(!plan_sched_next(s, 130 * S, 1000 * S, &pr));
    plan_sched_get_counters(s, &c);
    assert(c.handed == 2 && c.expired == 1);
    plan_sched_destroy(&s);
}

static const struct cfg_key s_keys[] = {
    CFG_KEY_SEQ("schedule", struct cfg_seq, v, plan_sched_cfg_keys,
                struct plan_sched_cfg, "test"),
    CFG_KEYS_END,
};

static void
test_yaml(void)
{
    /* As the planner's config gives it. */
    struct { struct cfg_seq v; } t = { 0 };
    static const char y[] =
        "schedule:\n"
        "  - {start_unix_ms: 1765000000000, duration_ms: 20000,\n"
        "     links: ['h1 h2', 'h2 h3']}\n"
        "  - start_unix_ms: 1765000020000\n"
        "    duration_ms: 20000\n"
        "    links: ['h1 h3']\n";
    char err[256] = "";
    assert(cfg_load_string(s_keys, &t, "t", y, sizeof y - 1, err,
                           sizeof err) == 0);
    assert(t.v.n == 2);
    plan_sched_t *s = plan_sched_new(t.v.v, t.v.n, err, sizeof err);
    assert(s);
    struct plan_prediction pr;
    assert(plan_sched_next(s, UINT64_C(1765000000000) * MS, 0, &pr));
    assert(pr.n_links == 2);
    plan_sched_destroy(&s);
    cfg_free(s_keys, &t);
    /* A missing key is the config's error. */
    static const char bad[] = "schedule:\n  - {duration_ms: 5, links: []}\n";
    assert(cfg_load_string(s_keys, &t, "t", bad, sizeof bad - 1, err,
                           sizeof err) != 0);
}

int
main(void)
{
    test_checks();
    test_next();
    test_yaml();
    printf("plan_sched: ok\n");
    return 0;
}
