/* SPDX-License-Identifier: MIT */
/* Unit test for the odin-adapter's simulated optical network
 * (services/odin-adapter/adapter_sim): routing and first-fit wavelength
 * assignment on small hand-made networks with known answers, blocking,
 * teardown, the set-up schedule and its scaling, injected failures,
 * listing and adoption after a restart, and the description's checks with
 * their file:line:col.  Time is made up: every call is given 'now'. */
#undef NDEBUG

#include "adapter_sim.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef VR_TEST_DATA
#error "VR_TEST_DATA must name the tests/data directory"
#endif
#define EXAMPLE VR_TEST_DATA "/../../deploy/config/sim-network.yaml"

/* Loads 'yaml' (a "sim:" document) and builds a simulator from it. */
static adapter_sim_t *
s_sim(const char *yaml)
{
    struct adapter_sim_config cfg;
    char err[512];
    adapter_sim_t *sim;

    if (adapter_sim_config_load_string(&cfg, "net.yaml", yaml, strlen(yaml),
                                       err, sizeof err)) {
        fprintf(stderr, "unexpected: %s\n", err);
        abort();
    }
    sim = adapter_sim_new(&cfg, err, sizeof err);
    assert(sim);
    adapter_sim_config_free(&cfg);
    return sim;
}

/* Loading 'yaml' must fail with exactly 'expect'. */
static void
s_expect_error(const char *yaml, const char *expect)
{
    struct adapter_sim_config cfg;
    char err[512] = "";
    int rc;

    memset(&cfg, 0x5a, sizeof cfg);
    rc = adapter_sim_config_load_string(&cfg, "net.yaml", yaml,
                                        strlen(yaml), err, sizeof err);
    if (rc != -1 || strcmp(err, expect)) {
        fprintf(stderr, "input:\n%s\nexpected: %s\ngot (%d): %s\n", yaml,
                expect, rc, err);
        abort();
    }
    /* Untouched on failure. */
    for (size_t i = 0; i < sizeof cfg; i++) {
        assert(((unsigned char *) &cfg)[i] == 0x5a);
    }
}

/* Creates a path that must succeed; returns its setup. */
static struct adapter_sim_setup
s_create(adapter_sim_t *sim, const char *src, const char *dst, uint64_t now)
{
    struct adapter_sim_setup setup;
    char err[256];
    int rc = adapter_sim_create(sim, src, dst, 1000, now, &setup, err,
                                sizeof err);

    if (rc) {
        fprintf(stderr, "create %s -> %s: %d %s\n", src, dst, rc, err);
        abort();
    }
    return setup;
}

/* The route of path 'id' as "a,b,c". */
static const char *
s_route(adapter_sim_t *sim, uint64_t id)
{
    static char buf[256];
    struct adapter_sim_path p;
    size_t n = 0;

    assert(adapter_sim_lookup(sim, id, &p));
    buf[0] = '\0';
    for (size_t i = 0; i < p.n_switches; i++) {
        n += (size_t) snprintf(buf + n, sizeof buf - n, "%s%s",
                               i ? "," : "", p.route[i]);
    }
    return buf;
}

/* Records events. */
struct rec {
    size_t n;                   /* events seen */
    uint64_t id[64];            /* path of each */
    enum adapter_sim_state old[64], now[64];    /* transition */
    char reason[64][160];       /* FAILED: why */
};

static void
s_record(const struct adapter_sim_event *ev, void *arg)
{
    struct rec *r = arg;

    assert(r->n < 64);
    r->id[r->n] = ev->path->id;
    r->old[r->n] = ev->old_state;
    r->now[r->n] = ev->path->state;
    snprintf(r->reason[r->n], sizeof r->reason[r->n], "%s",
             ev->reason ? ev->reason : "");
    /* The view is complete during the call, even for a gone path. */
    assert(ev->path->n_switches >= 1 && ev->path->route[0]);
    r->n++;
}

/* a - b - c is short; a - d - e - c is the detour.  h4 shares a's switch
 * with h1. */
static const char *const NET_DETOUR =
    "sim:\n"
    "  switches: [a, b, c, d, e, lonely]\n"
    "  fibres:\n"
    "    - { ends: [a, b], lambdas: 2 }\n"
    "    - { ends: [b, c], lambdas: 2 }\n"
    "    - { ends: [a, d], lambdas: 2 }\n"
    "    - { ends: [d, e], lambdas: 2 }\n"
    "    - { ends: [e, c], lambdas: 2 }\n"
    "  hosts:\n"
    "    - { ip: 10.0.0.1, switch: a }\n"
    "    - { ip: 10.0.0.2, switch: c }\n"
    "    - { ip: 10.0.0.4, switch: a }\n"
    "    - { ip: 10.0.0.9, switch: lonely }\n"
    "    - { ip: 'fd00::7', switch: e }\n"
    "  switch_delay_s: 1\n"
    "  stabilization_s: 10\n"
    "  teardown_s: 5\n"
    "  time_scale: 0.01\n";

static void
test_shortest_first_fit_detour_blocking(void)
{
    adapter_sim_t *sim = s_sim(NET_DETOUR);
    struct adapter_sim_setup s1, s2, s3, s4, s5;
    struct adapter_sim_path p;
    struct rec rec = { .n = 0 };
    char err[256];
    int rc;

    /* Shortest route, lowest lambda. */
    s1 = s_create(sim, "10.0.0.1", "10.0.0.2", 0);
    assert(s1.id == 1 && s1.lambda == 1 && s1.n_hops == 2);
    assert(!strcmp(s_route(sim, s1.id), "a,b,c"));
    /* Same route, next lambda (first fit). */
    s2 = s_create(sim, "10.0.0.1", "10.0.0.2", 0);
    assert(s2.lambda == 2 && !strcmp(s_route(sim, s2.id), "a,b,c"));
    assert(adapter_sim_fibre_free(sim, "a", "b") == 0);
    assert(adapter_sim_fibre_free(sim, "c", "b") == 0);
    /* The short route is full: continuity forces the detour. */
    s3 = s_create(sim, "10.0.0.1", "10.0.0.2", 0);
    assert(s3.lambda == 1 && s3.n_hops == 3);
    assert(!strcmp(s_route(sim, s3.id), "a,d,e,c"));
    s4 = s_create(sim, "10.0.0.2", "10.0.0.1", 0);
    assert(s4.lambda == 2 && !strcmp(s_route(sim, s4.id), "c,e,d,a"));
    /* Everything used: blocked, with a clear message. */
    rc = adapter_sim_create(sim, "10.0.0.1", "10.0.0.2", 0, 0, &s5, err,
                            sizeof err);
    assert(rc == EBUSY);
    assert(!strcmp(err, "blocked: no route from switch 'a' (10.0.0.1) to "
                   "switch 'c' (10.0.0.2) has one lambda free on all its "
                   "fibres"));
    /* The IPv6 host on 'e' is blocked too: both of e's fibres are full. */
    rc = adapter_sim_create(sim, "fd00:0::7", "10.0.0.1", 0, 0, &s5, err,
                            sizeof err);
    assert(rc == EBUSY);
    assert(adapter_sim_n_paths(sim) == 4);

    /* Teardown frees the lambdas, but only once the delay has passed. */
    uint64_t down_at = 0;
    assert(adapter_sim_teardown(sim, s1.id, 1000000, &down_at, err,
                                sizeof err) == 0);
    assert(down_at == 1000000 + 50000);     /* 5 s x 0.01 */
    assert(adapter_sim_lookup(sim, s1.id, &p));
    assert(p.state == ADAPTER_SIM_TEARING_DOWN);
    /* Asking again changes nothing. */
    assert(adapter_sim_teardown(sim, s1.id, 1020000, &down_at, err,
                                sizeof err) == 0);
    assert(down_at == 1050000);
    /* The four set-ups were due long ago: UP, in time order, then DOWN. */
    assert(adapter_sim_advance(sim, 1049999, s_record, &rec) == 3);
    assert(rec.now[0] == ADAPTER_SIM_UP && rec.id[0] == s2.id);
    assert(adapter_sim_fibre_free(sim, "a", "b") == 0);
    assert(adapter_sim_advance(sim, 1050000, s_record, &rec) == 1);
    assert(rec.id[3] == s1.id && rec.old[3] == ADAPTER_SIM_TEARING_DOWN
           && rec.now[3] == ADAPTER_SIM_DOWN);
    assert(adapter_sim_fibre_free(sim, "a", "b") == 1);
    assert(adapter_sim_fibre_free(sim, "b", "c") == 1);
    assert(!adapter_sim_lookup(sim, s1.id, &p));
    assert(adapter_sim_n_paths(sim) == 3);
    /* The freed lambda goes to the next request, on the short route. */
    s5 = s_create(sim, "10.0.0.1", "10.0.0.2", 2000000);
    assert(s5.id == 5 && s5.lambda == 1);
    assert(!strcmp(s_route(sim, s5.id), "a,b,c"));

    /* Unknown ids, bad requests. */
    assert(adapter_sim_teardown(sim, 99, 0, NULL, err, sizeof err)
           == ENOENT);
    assert(!strcmp(err, "no sim path 99"));
    rc = adapter_sim_create(sim, "10.0.0.1", "10.0.0.1", 0, 0, &s5, err,
                            sizeof err);
    assert(rc == EINVAL);
    assert(!strcmp(err, "source and destination are the same host "
                   "10.0.0.1"));
    rc = adapter_sim_create(sim, "10.0.0.1", "10.0.0.3", 0, 0, &s5, err,
                            sizeof err);
    assert(rc == ENOENT);
    assert(!strcmp(err, "destination host 10.0.0.3 is not on the simulated "
                   "network"));
    rc = adapter_sim_create(sim, "-c", "10.0.0.2", 0, 0, &s5, err,
                            sizeof err);
    assert(rc == EINVAL && !strcmp(err, "source '-c' is not an IP "
                                   "address"));
    rc = adapter_sim_create(sim, "10.0.0.1", "10.0.0.2", 20000, 0, &s5, err,
                            sizeof err);
    assert(rc == EINVAL);
    assert(!strcmp(err, "bandwidth 20000 Mbit/s is more than one lambda "
                   "carries (10000 Mbit/s)"));
    rc = adapter_sim_create(sim, "10.0.0.1", "10.0.0.9", 0, 0, &s5, err,
                            sizeof err);
    assert(rc == ENETUNREACH);
    assert(!strcmp(err, "no fibre route between switch 'a' (10.0.0.1) and "
                   "switch 'lonely' (10.0.0.9)"));

    struct adapter_sim_stats st;
    adapter_sim_get_stats(sim, &st);
    assert(st.n_created == 5 && st.n_blocked == 2 && st.n_up == 3
           && st.n_down == 1 && st.n_failed == 0);
    adapter_sim_destroy(&sim);
    assert(!sim);
    adapter_sim_destroy(&sim);
}

/* x - y - z, 3 lambdas each: lambda 1 of x-y and lambdas 1-2 of y-z taken
 * leaves 2 free on x-y but not on y-z, so x to z gets lambda 3. */
static void
test_continuity_higher_lambda(void)
{
    adapter_sim_t *sim = s_sim(
        "sim:\n"
        "  switches: [x, y, z]\n"
        "  fibres:\n"
        "    - { ends: [x, y], lambdas: 3 }\n"
        "    - { ends: [y, z], lambdas: 3 }\n"
        "  hosts:\n"
        "    - { ip: 192.0.2.1, switch: x }\n"
        "    - { ip: 192.0.2.2, switch: y }\n"
        "    - { ip: 192.0.2.3, switch: z }\n");
    struct adapter_sim_setup s;

    assert(s_create(sim, "192.0.2.1", "192.0.2.2", 0).lambda == 1);
    assert(s_create(sim, "192.0.2.2", "192.0.2.3", 0).lambda == 1);
    assert(s_create(sim, "192.0.2.2", "192.0.2.3", 0).lambda == 2);
    assert(adapter_sim_fibre_free(sim, "x", "y") == 2);
    assert(adapter_sim_fibre_free(sim, "y", "z") == 1);
    s = s_create(sim, "192.0.2.1", "192.0.2.3", 0);
    assert(s.lambda == 3 && s.n_hops == 2);
    assert(!strcmp(s_route(sim, s.id), "x,y,z"));
    assert(adapter_sim_fibre_free(sim, "x", "z") == -1);
    assert(adapter_sim_fibre_free(sim, "x", "nope") == -1);
    adapter_sim_destroy(&sim);
}

/* The default timing: the paper's 2 x 1.25 s + 15 s on the example
 * network, and scaling with switches and time_scale. */
static void
test_delays(void)
{
    struct adapter_sim_config cfg;
    char err[512];
    adapter_sim_t *sim;
    struct adapter_sim_setup s;
    struct adapter_sim_path p;
    struct rec rec = { .n = 0 };

    assert(adapter_sim_config_load(&cfg, EXAMPLE, err, sizeof err) == 0);
    assert(cfg.switches.n == 4 && cfg.fibres.n == 6 && cfg.hosts.n == 4);
    sim = adapter_sim_new(&cfg, err, sizeof err);
    assert(sim);
    s = s_create(sim, "10.210.0.1", "10.210.0.4", 0);
    assert(s.n_hops == 1 && s.lambda == 1);
    assert(s.software_us == 2500000 && s.stabilization_us == 15000000);
    assert(s.total_us == 17500000 && s.up_at_us == 17500000);
    printf("example network, paper's delays: 10.210.0.1 -> 10.210.0.4 "
           "(%zu hop, lambda %u) up after %.3f s\n", s.n_hops, s.lambda,
           s.total_us / 1e6);
    assert(!strcmp(s_route(sim, s.id), "evanston,federal"));
    assert(adapter_sim_lookup(sim, s.id, &p));
    assert(p.latency_ms > 0.139 && p.latency_ms < 0.141);   /* 28 km */
    adapter_sim_destroy(&sim);

    /* Scaled by 0.01: 0.025 s + 0.15 s. */
    cfg.time_scale = 0.01;
    sim = adapter_sim_new(&cfg, err, sizeof err);
    s = s_create(sim, "10.210.0.2", "10.210.0.3", 5000);
    assert(s.software_us == 25000 && s.total_us == 175000);
    assert(s.up_at_us == 5000 + 175000);
    printf("example network, time_scale 0.01: up after %.3f s\n",
           s.total_us / 1e6);
    assert(adapter_sim_next_due_us(sim) == 180000);
    assert(adapter_sim_advance(sim, 179999, s_record, &rec) == 0);
    assert(adapter_sim_lookup(sim, s.id, &p));
    assert(p.state == ADAPTER_SIM_PROVISIONING);
    assert(adapter_sim_advance(sim, 180000, s_record, &rec) == 1);
    assert(rec.now[0] == ADAPTER_SIM_UP && rec.old[0]
           == ADAPTER_SIM_PROVISIONING);
    assert(adapter_sim_next_due_us(sim) == UINT64_MAX);
    assert(adapter_sim_advance(sim, UINT64_MAX, s_record, &rec) == 0);
    assert(adapter_sim_lookup(sim, s.id, &p));
    assert(p.state == ADAPTER_SIM_UP && p.up_us == 180000);
    adapter_sim_destroy(&sim);
    adapter_sim_config_free(&cfg);

    /* One delay per switch: 1, 2, 3 switches on the detour network
     * (switch_delay_s 1, stabilization_s 10, time_scale 0.01). */
    sim = s_sim(NET_DETOUR);
    s = s_create(sim, "10.0.0.1", "10.0.0.4", 0);   /* same switch */
    assert(s.n_hops == 0 && s.lambda == 0);
    assert(s.software_us == 10000 && s.total_us == 110000);
    assert(!strcmp(s_route(sim, s.id), "a"));
    s = s_create(sim, "10.0.0.1", "10.0.0.2", 0);   /* a,b,c */
    assert(s.software_us == 30000 && s.total_us == 130000);
    s = s_create(sim, "fd00::7", "10.0.0.1", 0);    /* e,d,a */
    assert(s.software_us == 30000);
    s = s_create(sim, "10.0.0.4", "10.0.0.2", 0);   /* a,b,c lambda 2 */
    assert(s.lambda == 2);
    s = s_create(sim, "10.0.0.4", "10.0.0.2", 0);   /* a,d,e,c */
    assert(s.n_hops == 3 && s.software_us == 40000);
    /* time_scale 0: instant. */
    adapter_sim_destroy(&sim);
    adapter_sim_config_load_string(&cfg, "n", NET_DETOUR,
                                   strlen(NET_DETOUR), err, sizeof err);
    cfg.time_scale = 0;
    sim = adapter_sim_new(&cfg, err, sizeof err);
    s = s_create(sim, "10.0.0.1", "10.0.0.2", 777);
    assert(s.total_us == 0 && s.up_at_us == 777);
    assert(adapter_sim_advance(sim, 777, NULL, NULL) == 1);
    adapter_sim_destroy(&sim);
    adapter_sim_config_free(&cfg);
}

/* 'hops' takes the direct fibre; 'latency' the faster two-hop route. */
static void
test_latency_routing(void)
{
    static const char *const NET =
        "sim:\n"
        "  switches: [a, b, c]\n"
        "  fibres:\n"
        "    - { ends: [a, b], latency_ms: 10 }\n"
        "    - { ends: [a, c], length_km: 100 }\n"
        "    - { ends: [c, b], latency_ms: 0.5 }\n"
        "  hosts:\n"
        "    - { ip: 10.1.0.1, switch: a }\n"
        "    - { ip: 10.1.0.2, switch: b }\n";
    char yaml[1024];
    adapter_sim_t *sim = s_sim(NET);
    struct adapter_sim_setup s = s_create(sim, "10.1.0.1", "10.1.0.2", 0);
    struct adapter_sim_path p;

    assert(!strcmp(s_route(sim, s.id), "a,b"));
    assert(adapter_sim_lookup(sim, s.id, &p) && p.latency_ms == 10);
    adapter_sim_destroy(&sim);

    snprintf(yaml, sizeof yaml, "%s  routing: latency\n", NET);
    sim = s_sim(yaml);
    s = s_create(sim, "10.1.0.1", "10.1.0.2", 0);
    assert(!strcmp(s_route(sim, s.id), "a,c,b"));
    assert(adapter_sim_lookup(sim, s.id, &p));
    assert(p.latency_ms > 0.999 && p.latency_ms < 1.001);  /* 0.5 + 0.5 */
    adapter_sim_destroy(&sim);
}

/* Runs 'n' set-ups to completion on a fresh simulator with 'fail_rate'
 * and 'seed'; returns how many failed and sets bit i of 'pattern' (first
 * 64) for a failed set-up i. */
static size_t
s_fail_run(double fail_rate, int seed, size_t n, uint64_t *pattern)
{
    char yaml[2048];
    adapter_sim_t *sim;
    size_t n_failed = 0;
    uint64_t now = 0;

    snprintf(yaml, sizeof yaml,
             "sim:\n"
             "  switches: [a, b, c]\n"
             "  fibres: [{ ends: [a, b] }, { ends: [b, c] }]\n"
             "  hosts:\n"
             "    - { ip: 10.0.0.1, switch: a }\n"
             "    - { ip: 10.0.0.2, switch: c }\n"
             "  time_scale: 0.001\n"
             "  fail_rate: %g\n"
             "  seed: %d\n", fail_rate, seed);
    sim = s_sim(yaml);
    *pattern = 0;
    for (size_t i = 0; i < n; i++) {
        struct rec rec = { .n = 0 };
        struct adapter_sim_setup s = s_create(sim, "10.0.0.1", "10.0.0.2",
                                              now);

        if (s.will_fail) {
            /* At one of the 3 switches, or while stabilizing. */
            assert(s.up_at_us == 0);
            assert(s.fail_at_us >= now + 1250 && s.fail_at_us <= now
                   + s.total_us);
            now = s.fail_at_us;
        } else {
            now = s.up_at_us;
        }
        adapter_sim_advance(sim, now, s_record, &rec);
        assert(rec.n == 1);
        if (s.will_fail) {
            assert(rec.now[0] == ADAPTER_SIM_FAILED);
            assert(strstr(rec.reason[0], "(injected failure)"));
            /* A failed path is gone and holds nothing. */
            assert(adapter_sim_n_paths(sim) == 0);
            assert(adapter_sim_fibre_free(sim, "a", "b") == 4);
            n_failed++;
            if (i < 64) {
                *pattern |= 1ull << i;
            }
        } else {
            assert(rec.now[0] == ADAPTER_SIM_UP);
            adapter_sim_teardown(sim, s.id, now, &now, NULL, 0);
            adapter_sim_advance(sim, now, NULL, NULL);
        }
    }
    adapter_sim_destroy(&sim);
    return n_failed;
}

static void
test_failure_injection(void)
{
    uint64_t p1, p2, p3;
    size_t n;
    adapter_sim_t *sim;
    struct adapter_sim_setup s;
    struct adapter_sim_path p;
    struct rec rec = { .n = 0 };

    assert(s_fail_run(0, 1, 200, &p1) == 0);
    assert(s_fail_run(1, 1, 50, &p1) == 50);
    /* About 30% of 2000: the binomial's sd is ~20, allow 5 of them. */
    n = s_fail_run(0.3, 42, 2000, &p1);
    printf("fail_rate 0.3, seed 42: %zu of 2000 set-ups failed\n", n);
    assert(n > 500 && n < 700);
    /* Same seed, same failures; another seed, others. */
    assert(s_fail_run(0.3, 42, 64, &p2) && p2 == p1);
    s_fail_run(0.3, 43, 64, &p3);
    assert(p3 != p1);

    /* fail_next: the next 2 fail, then none (rate 0). */
    sim = s_sim(
        "sim:\n"
        "  switches: [a, b]\n"
        "  fibres: [{ ends: [a, b], lambdas: 8 }]\n"
        "  hosts: [{ ip: 10.0.0.1, switch: a }, { ip: 10.0.0.2, switch: b }]\n"
        "  fail_next: 2\n");
    assert(s_create(sim, "10.0.0.1", "10.0.0.2", 0).will_fail);
    assert(s_create(sim, "10.0.0.1", "10.0.0.2", 0).will_fail);
    s = s_create(sim, "10.0.0.1", "10.0.0.2", 0);
    assert(!s.will_fail && s.up_at_us == 17500000);
    /* Failing paths hold their lambda until they fail. */
    assert(adapter_sim_fibre_free(sim, "a", "b") == 5);
    assert(adapter_sim_lookup(sim, 1, &p) && p.fail_reason && p.fail_us);
    adapter_sim_advance(sim, 17500000, s_record, &rec);
    assert(rec.n == 3);
    assert(rec.now[0] == ADAPTER_SIM_FAILED
           && rec.now[1] == ADAPTER_SIM_FAILED
           && rec.now[2] == ADAPTER_SIM_UP && rec.id[2] == s.id);
    assert(adapter_sim_fibre_free(sim, "a", "b") == 7);
    /* Set at run time, e.g. from the control socket. */
    adapter_sim_fail_next(sim, 1);
    s = s_create(sim, "10.0.0.1", "10.0.0.2", 100);
    assert(s.will_fail);
    /* Torn down before its failure: it goes DOWN, it does not fail. */
    adapter_sim_teardown(sim, s.id, 200, NULL, NULL, 0);
    rec.n = 0;
    adapter_sim_advance(sim, 100000000, s_record, &rec);
    assert(rec.n == 1 && rec.now[0] == ADAPTER_SIM_DOWN
           && rec.old[0] == ADAPTER_SIM_TEARING_DOWN);
    assert(!s_create(sim, "10.0.0.1", "10.0.0.2", 0).will_fail);
    adapter_sim_destroy(&sim);
}

/* Listing, details, and adopting the paths after a restart. */
static void
test_list_and_adopt(void)
{
    adapter_sim_t *sim = s_sim(NET_DETOUR);
    struct adapter_sim_setup s1, s2, s3;
    struct adapter_sim_path p;
    char detail[2][256], err[256];

    s1 = s_create(sim, "10.0.0.1", "10.0.0.2", 0);
    s2 = s_create(sim, "10.0.0.1", "10.0.0.2", 0);
    s3 = s_create(sim, "10.0.0.4", "10.0.0.2", 0);
    assert(adapter_sim_n_paths(sim) == 3);
    adapter_sim_path_at(sim, 0, &p);
    assert(p.id == s1.id && p.state == ADAPTER_SIM_PROVISIONING);
    assert(!strcmp(p.src_ip, "10.0.0.1") && !strcmp(p.dst_ip, "10.0.0.2"));
    assert(p.bandwidth_mbps == 1000 && p.created_us == 0);
    adapter_sim_path_detail(&p, detail[0], sizeof detail[0]);
    assert(!strcmp(detail[0], "lambda=1 route=a,b,c latency_ms=0.000"));
    adapter_sim_path_at(sim, 2, &p);
    assert(p.id == s3.id);
    adapter_sim_path_detail(&p, detail[1], sizeof detail[1]);
    assert(!strcmp(detail[1], "lambda=1 route=a,d,e,c latency_ms=0.000"));
    adapter_sim_destroy(&sim);

    /* The adapter restarts with the details it stored. */
    sim = s_sim(NET_DETOUR);
    assert(adapter_sim_adopt(sim, s3.id, "10.0.0.4", "10.0.0.2", 1000,
                             detail[1], 5, err, sizeof err) == 0);
    assert(adapter_sim_adopt(sim, s1.id, "10.0.0.1", "10.0.0.2", 1000,
                             detail[0], 5, err, sizeof err) == 0);
    assert(adapter_sim_lookup(sim, s3.id, &p));
    assert(p.state == ADAPTER_SIM_UP && p.lambda == 1 && p.n_hops == 3);
    assert(adapter_sim_fibre_free(sim, "a", "b") == 1);
    assert(adapter_sim_fibre_free(sim, "d", "e") == 1);
    assert(adapter_sim_next_due_us(sim) == UINT64_MAX);
    /* New ids come after the adopted ones; lambda 1 is taken. */
    s2 = s_create(sim, "10.0.0.1", "10.0.0.2", 10);
    assert(s2.id == s3.id + 1 && s2.lambda == 2);
    /* Conflicts and nonsense are refused. */
    assert(adapter_sim_adopt(sim, 50, "10.0.0.1", "10.0.0.2", 0, detail[0],
                             5, err, sizeof err) == EBUSY);
    assert(!strcmp(err, "path 50: lambda 1 on fibre 'a'-'b' is held by "
                   "path 1"));
    assert(adapter_sim_adopt(sim, s1.id, "10.0.0.1", "10.0.0.2", 0,
                             detail[0], 5, err, sizeof err) == EEXIST);
    assert(adapter_sim_adopt(sim, 51, "10.0.0.1", "10.0.0.2", 0,
                             "lambda=2 route=a,c", 5, err, sizeof err)
           == EINVAL);
    assert(!strcmp(err, "path 51: no fibre 'a'-'c' with lambda 2"));
    assert(adapter_sim_adopt(sim, 51, "10.0.0.1", "10.0.0.2", 0,
                             "lambda=2 route=b,c", 5, err, sizeof err)
           == EINVAL);
    assert(adapter_sim_adopt(sim, 51, "10.0.0.1", "10.0.0.2", 0,
                             "\x01\xff garbage", 5, err, sizeof err)
           == EINVAL);
    assert(adapter_sim_adopt(sim, 51, "10.0.0.1", "10.0.0.2", 0,
                             "lambda=9999 route=a,b,c", 5, err, sizeof err)
           == EINVAL);
    assert(adapter_sim_adopt(sim, 51, "10.0.0.1", "10.0.0.2", 0,
                             "lambda=2 route=a,b,a,b,c", 5, err, sizeof err)
           == EINVAL);
    assert(adapter_sim_adopt(sim, 51, "10.0.0.1", "10.0.0.8", 0, detail[0],
                             5, err, sizeof err) == ENOENT);
    assert(adapter_sim_n_paths(sim) == 3);
    adapter_sim_destroy(&sim);
}

static void
test_config_errors(void)
{
    /* Cross-references, found again in the text for line and column. */
    s_expect_error(
        "sim:\n"
        "  switches: [a, b]\n"
        "  fibres:\n"
        "    - { ends: [a, b] }\n"
        "    - { ends: [a, zz], lambdas: 2 }\n",
        "net.yaml:5:19: sim.fibres[1].ends[1]: unknown switch 'zz'");
    s_expect_error(
        "sim:\n"
        "  switches: [a, b, c]\n"
        "  fibres:\n"
        "    - ends: [a, b]\n"
        "    - ends: [b, c]\n"
        "    - ends: [b, a]\n"
        "      lambdas: 8\n",
        "net.yaml:6:7: sim.fibres[2]: duplicate fibre 'b'-'a' (also "
        "fibres[0]); give one fibre more lambdas instead");
    s_expect_error(
        "sim:\n"
        "  switches: [a, b]\n"
        "  fibres: [{ ends: [a, a] }]\n",
        "net.yaml:3:20: sim.fibres[0].ends: fibre from switch 'a' to "
        "itself");
    s_expect_error(
        "sim:\n"
        "  switches: [a, b, c]\n"
        "  fibres: [{ ends: [a, b, c] }]\n",
        "net.yaml:3:20: sim.fibres[0].ends: a fibre joins two switches, got "
        "3 names");
    s_expect_error(
        "sim:\n"
        "  switches: [a]\n"
        "  hosts:\n"
        "    - ip: 10.0.0.1\n"
        "      switch: q\n",
        "net.yaml:5:15: sim.hosts[0].switch: host 10.0.0.1: unknown switch "
        "'q'");
    s_expect_error(
        "sim:\n"
        "  switches: [a]\n"
        "  hosts:\n"
        "    - { ip: 10.0.0.1, switch: a }\n"
        "    - { ip: 10.0.0.01x, switch: a }\n",
        "net.yaml:5:13: sim.hosts[1].ip: '10.0.0.01x' is not an IP "
        "address");
    s_expect_error(
        "sim:\n"
        "  switches: [a]\n"
        "  hosts:\n"
        "    - { ip: 'fd00::1', switch: a }\n"
        "    - { ip: 'fd00:0::1', switch: a }\n",
        "net.yaml:5:13: sim.hosts[1].ip: duplicate host 'fd00:0::1' (also "
        "hosts[0])");
    s_expect_error(
        "sim:\n"
        "  switches:\n"
        "    - a\n"
        "    - b\n"
        "    - a\n",
        "net.yaml:5:7: sim.switches[2]: duplicate switch 'a' (also "
        "switches[0])");
    s_expect_error(
        "sim:\n"
        "  switches: ['a,b']\n",
        "net.yaml:2:14: sim.switches[0]: switch name 'a,b' has a comma, "
        "'=' or white space");
    s_expect_error(
        "sim:\n"
        "  switches: [a]\n"
        "  routing: widest\n",
        "net.yaml:3:12: sim.routing: 'widest' is neither 'hops' nor "
        "'latency'");
    /* Defaulted, so not in the file: named, placed at its parent. */
    s_expect_error(
        "sim:\n"
        "  fibres: []\n",
        "net.yaml:2:3: sim.switches: no switches: the network needs at "
        "least one");
    s_expect_error("", "net.yaml: sim.switches: no switches: the network "
                   "needs at least one");
    /* What common/cfg checks, with its own positions. */
    s_expect_error(
        "sim:\n"
        "  switches: [a, b]\n"
        "  fibres:\n"
        "    - { ends: [a, b], lambdas: 0 }\n",
        "net.yaml:4:32: key 'sim.fibres[0].lambdas': 0 out of range "
        "[1, 128]");
    s_expect_error(
        "sim:\n"
        "  switches: [a, b]\n"
        "  fibres:\n"
        "    - { ends: [a, b], colour: red }\n",
        "net.yaml:4:23: unknown key 'sim.fibres[0].colour'");
    s_expect_error(
        "sim:\n"
        "  switches: [a, b]\n"
        "  hosts: [{ switch: a }]\n",
        "net.yaml:3:11: missing required key 'sim.hosts[0].ip'");
    s_expect_error(
        "sim:\n"
        "  switches: [a]\n"
        "  fail_rate: 1.5\n",
        "net.yaml:3:14: key 'sim.fail_rate': 1.5 out of range [0, 1]");
}

/* The section inside a service's own config, as the adapter embeds it,
 * checked with the file's positions. */
struct wrap {
    char *backend;                  /* another key of the service */
    struct adapter_sim_config sim;  /* its "sim:" section */
};

static const struct cfg_key wrap_keys[] = {
    CFG_KEY_STR("backend", struct wrap, backend, "sim", "backend"),
    ADAPTER_SIM_CFG_KEYS("sim.", offsetof(struct wrap, sim)),
    CFG_KEYS_END,
};

static void
test_embedded_section(void)
{
    char dir[] = "/tmp/test_adapter_sim.XXXXXX";
    char path[64], err[512];
    struct wrap w;
    FILE *f;

    assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/odin-adapter.yaml", dir);
    f = fopen(path, "w");
    assert(f);
    fputs("backend: sim\n"
          "sim:\n"
          "  switches: [a, b]\n"
          "  hosts:\n"
          "    - { ip: 10.0.0.1, switch: a }\n"
          "    - { ip: 10.0.0.2, switch: c }\n", f);
    fclose(f);
    assert(cfg_load(wrap_keys, &w, path, err, sizeof err) == 0);
    assert(!strcmp(w.backend, "sim") && w.sim.switches.n == 2);
    assert(w.sim.switch_delay_s == ADAPTER_SIM_DEFAULT_SWITCH_DELAY_S);
    assert(!adapter_sim_config_check(&w.sim, "sim", path, err, sizeof err));
    assert(!strncmp(err, dir, strlen(dir)));
    assert(!strcmp(err + strlen(dir), "/odin-adapter.yaml:6:31: "
                   "sim.hosts[1].switch: host 10.0.0.2: unknown switch "
                   "'c'"));
    /* Without the file: named only.  adapter_sim_new() refuses it too. */
    assert(!adapter_sim_config_check(&w.sim, "sim", NULL, err, sizeof err));
    assert(!strcmp(err, "sim.hosts[1].switch: host 10.0.0.2: unknown "
                   "switch 'c'"));
    assert(!adapter_sim_new(&w.sim, err, sizeof err));
    assert(!strcmp(err, "sim.hosts[1].switch: host 10.0.0.2: unknown "
                   "switch 'c'"));
    cfg_free(wrap_keys, &w);
    unlink(path);

    /* A config built in code, not loaded, is checked as well. */
    {
        char *names[] = { "a", "b" }, *ends[] = { "a", "b" };
        struct adapter_sim_fibre_cfg fibre = {
            .ends = { .v = ends, .n = 2 }, .lambdas = 0,
        };
        struct adapter_sim_config cfg = {
            .switches = { .v = names, .n = 2 },
            .fibres = { .v = &fibre, .n = 1 },
            .time_scale = 1,
        };

        assert(!adapter_sim_new(&cfg, err, sizeof err));
        assert(!strcmp(err, "sim.fibres[0].lambdas: 0 lambdas, must be 1 "
                       "to 128"));
        fibre.lambdas = 1;
        cfg.time_scale = -1;
        assert(!adapter_sim_new(&cfg, err, sizeof err));
        assert(!strncmp(err, "sim: delays", 11));
    }
    rmdir(dir);
}

int
main(void)
{
    test_shortest_first_fit_detour_blocking();
    test_continuity_higher_lambda();
    test_delays();
    test_latency_routing();
    test_failure_injection();
    test_list_and_adopt();
    test_config_errors();
    test_embedded_section();
    printf("test_adapter_sim: ok\n");
    return 0;
}
