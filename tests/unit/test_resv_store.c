/* SPDX-License-Identifier: MIT */
/* vreserve-broker's SQLite store: insert, legal and illegal transitions
 * with their history, lookups, idempotency keys, counts, and everything
 * found again after a (simulated) restart: close and reopen.  Failing
 * closed: an error in the middle of any scan is an error (no shorter
 * list), a failed write leaves nothing; pages, counts by state, the purge
 * of ended reservations with their history. */
#undef NDEBUG
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "resv_store.h"
#include "vtime.h"

#define S(X) VR__RESV_STATE__RESV_STATE_##X

static struct resv_rec
s_req(const char *a, const char *b, const char *request_id)
{
    struct resv_rec r = { .bandwidth_mbps = 1000, .latency_ms = 5 };
    snprintf(r.host_a, sizeof r.host_a, "%s", a);
    snprintf(r.host_b, sizeof r.host_b, "%s", b);
    snprintf(r.network, sizeof r.network, "omninet");
    snprintf(r.owner, sizeof r.owner, "planner");
    snprintf(r.request_id, sizeof r.request_id, "%s", request_id);
    return r;
}

int
main(void)
{
    log_init("test_resv_store");
    char dir[] = "/tmp/test_resv_store.XXXXXX";
    char cmd0[2048];
    assert(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/broker.db", dir);

    resv_store_t *st = resv_store_new(path);
    assert(st);
    struct resv_rec a = s_req("h1", "h2", "req-1");
    assert(resv_store_insert(st, &a, "asked by planner") == 0);
    assert(!strcmp(a.id, "r-1") && a.state == S(REQUESTED));
    assert(a.created_us > 0 && a.created_us == a.updated_us);

    /* The same request id cannot make a second reservation. */
    struct resv_rec dup = s_req("h1", "h2", "req-1");
    assert(resv_store_insert(st, &dup, "again") == -1);
    struct resv_rec got;
    assert(resv_store_by_request(st, "req-1", &got) == 0);
    assert(!strcmp(got.id, "r-1"));
    assert(resv_store_by_request(st, "nope", &got) == RESV_STORE_NOT_FOUND);
    assert(resv_store_by_request(st, "", &got) == RESV_STORE_NOT_FOUND);

    /* Requests without an id may repeat. */
    struct resv_rec b = s_req("h2", "h3", "");
    struct resv_rec c = s_req("h3", "h4", "");
    assert(resv_store_insert(st, &b, "") == 0);
    assert(resv_store_insert(st, &c, "") == 0);
    assert(!strcmp(c.id, "r-3"));

    /* Legal moves, with what they carry. */
    assert(resv_store_transition(st, a.id, S(PROVISIONING), "adapter took it",
                                 "p-9", NULL, NULL, NULL, &got) == 0);
    assert(got.state == S(PROVISIONING) && !strcmp(got.path_id, "p-9"));
    assert(resv_store_by_path(st, "p-9", &got) == 0);
    assert(!strcmp(got.id, a.id));
    assert(resv_store_transition(st, a.id, S(ACTIVE), "path up", NULL, NULL,
                                 "10.210.0.1", "10.210.0.2", &got) == 0);
    assert(got.state == S(ACTIVE) && !strcmp(got.addr_b, "10.210.0.2"));
    assert(!strcmp(got.path_id, "p-9"));        /* kept */

    /* Illegal moves change nothing. */
    assert(resv_store_transition(st, a.id, S(REQUESTED), "back?", NULL, NULL,
                                 NULL, NULL, NULL) == RESV_STORE_ILLEGAL);
    assert(resv_store_transition(st, a.id, S(RELEASED), "skip releasing",
                                 NULL, NULL, NULL, NULL, NULL)
           == RESV_STORE_ILLEGAL);
    assert(resv_store_transition(st, "r-99", S(ACTIVE), "", NULL, NULL, NULL,
                                 NULL, NULL) == RESV_STORE_NOT_FOUND);
    assert(resv_store_get(st, a.id, &got) == 0 && got.state == S(ACTIVE));

    assert(resv_store_transition(st, b.id, S(FAILED), "blocked", NULL,
                                 "no lambda free", NULL, NULL, &got) == 0);
    assert(!strcmp(got.error, "no lambda free"));
    assert(resv_store_transition(st, b.id, S(ACTIVE), "", NULL, NULL, NULL,
                                 NULL, NULL) == RESV_STORE_ILLEGAL);

    size_t n;
    assert(resv_store_count_open(st, "h2", NULL, &n) == 0 && n == 1);
    assert(resv_store_count_open(st, NULL, "omninet", &n) == 0 && n == 2);
    assert(resv_store_count_open(st, "h4", "omninet", &n) == 0 && n == 1);
    assert(resv_store_count_open(st, NULL, "other", &n) == 0 && n == 0);
    resv_store_destroy(&st);
    assert(st == NULL);

    /* A restart finds everything as it was. */
    st = resv_store_new(path);
    assert(st);
    assert(resv_store_get(st, a.id, &got) == 0);
    assert(got.state == S(ACTIVE) && !strcmp(got.addr_a, "10.210.0.1"));
    struct resv_rec *list;
    assert(resv_store_list(st, false, &list, &n) == 0);
    assert(n == 2 && !strcmp(list[0].id, "r-1") && !strcmp(list[1].id, "r-3"));
    free(list);
    assert(resv_store_list(st, true, &list, &n) == 0 && n == 3);
    free(list);
    struct resv_hist *h;
    assert(resv_store_history(st, a.id, &h, &n) == 0 && n == 3);
    assert(h[0].from == S(UNKNOWN) && h[0].to == S(REQUESTED));
    assert(!strcmp(h[0].reason, "asked by planner"));
    assert(h[1].to == S(PROVISIONING) && h[2].to == S(ACTIVE));
    assert(h[2].time_us >= h[1].time_us);
    free(h);
    assert(resv_store_transition(st, a.id, S(RELEASING), "released", NULL,
                                 NULL, NULL, NULL, NULL) == 0);
    assert(resv_store_transition(st, a.id, S(RELEASED), "torn down", NULL,
                                 NULL, NULL, NULL, &got) == 0);
    assert(got.state == S(RELEASED));
    /* Ids keep counting after a restart. */
    struct resv_rec d = s_req("h1", "h4", "req-2");
    assert(resv_store_insert(st, &d, "") == 0 && !strcmp(d.id, "r-4"));

    /* Scans that fail part-way return -1 and nothing else. */
    for (int k = 0; k < 4; k++) {
        list = NULL;
        n = 77;
        resv_store_fail_after(st, k);
        assert(resv_store_list(st, true, &list, &n) == -1);
        assert(list == NULL && n == 77);
        assert(strstr(resv_store_error(st), "injected"));
    }
    resv_store_fail_after(st, 1);
    assert(resv_store_history(st, "r-1", &h, &n) == -1);
    resv_store_fail_after(st, 0);
    assert(resv_store_count_open(st, NULL, NULL, &n) == -1);
    size_t by_state[8];
    resv_store_fail_after(st, 1);
    assert(resv_store_count_by_state(st, by_state, 8) == -1);
    /* A lookup error is not "not found". */
    resv_store_fail_after(st, 0);
    assert(resv_store_by_path(st, "p-9", &got) == -1);
    resv_store_fail_after(st, 0);
    assert(resv_store_get(st, "r-3", &got) == -1);
    /* A write failing anywhere leaves nothing behind. */
    for (int k = 0; k < 3; k++) {
        struct resv_rec e = s_req("h2", "h4", "req-3");
        resv_store_fail_after(st, k);
        assert(resv_store_insert(st, &e, "") == -1);
        resv_store_fail_after(st, -1);
        assert(resv_store_by_request(st, "req-3", &got)
               == RESV_STORE_NOT_FOUND);
    }
    resv_store_fail_after(st, 1);
    assert(resv_store_transition(st, "r-3", S(PROVISIONING), "", "p-3",
                                 NULL, NULL, NULL, NULL) == -1);
    resv_store_fail_after(st, -1);
    assert(resv_store_get(st, "r-3", &got) == 0);
    assert(got.state == S(REQUESTED) && !got.path_id[0]);
    assert(resv_store_history(st, "r-3", &h, &n) == 0 && n == 1);
    free(h);
    assert(resv_store_list(st, true, &list, &n) == 0 && n == 4);
    free(list);

    /* Pages: two of two, then the end. */
    uint64_t next;
    assert(resv_store_list_page(st, true, 0, 2, &list, &n, &next) == 0);
    assert(n == 2 && !strcmp(list[1].id, "r-2") && next == 2);
    free(list);
    assert(resv_store_list_page(st, true, next, 2, &list, &n, &next) == 0);
    assert(n == 2 && !strcmp(list[0].id, "r-3") && next == 0);
    free(list);
    assert(resv_store_list_page(st, false, 0, 1, &list, &n, &next) == 0);
    assert(n == 1 && !strcmp(list[0].id, "r-3") && next == 3);
    free(list);
    assert(resv_store_id_number("r-17") == 17);
    assert(resv_store_id_number("r-") == 0);
    assert(resv_store_id_number("x-1") == 0);
    assert(resv_store_id_number("r-1a") == 0);
    assert(resv_store_id_number("r-99999999999999999999") == 0);

    assert(resv_store_count_by_state(st, by_state, 8) == 0);
    assert(by_state[S(RELEASED)] == 1 && by_state[S(FAILED)] == 1);
    assert(by_state[S(REQUESTED)] == 2 && by_state[S(ACTIVE)] == 0);

    /* The purge: nothing ended before 0; then r-1 and r-2 with their
     * history, not the open ones. */
    size_t n_del = 9;
    assert(resv_store_purge(st, 0, 100, &n_del) == 0 && n_del == 0);
    resv_store_fail_after(st, 0);
    assert(resv_store_purge(st, UINT64_MAX / 2, 100, &n_del) == -1);
    resv_store_fail_after(st, -1);
    assert(resv_store_purge(st, UINT64_MAX / 2, 1, &n_del) == 0);
    assert(n_del == 1);
    assert(resv_store_purge(st, UINT64_MAX / 2, 100, &n_del) == 0);
    assert(n_del == 1);
    assert(resv_store_get(st, "r-1", &got) == RESV_STORE_NOT_FOUND);
    assert(resv_store_history(st, "r-1", &h, &n) == 0 && n == 0);
    free(h);
    assert(resv_store_list(st, true, &list, &n) == 0 && n == 2);
    free(list);
    resv_store_destroy(&st);

    /* In memory, for tests, the journal check lets it be. */
    st = resv_store_new(":memory:");
    assert(st);
    resv_store_destroy(&st);

    /* Advance reservations: SCHEDULED until their start; due at their
     * start, and again (ACTIVE) at their end; kept across a reopen. */
    char sched[300];
    snprintf(sched, sizeof sched, "%s/sched.db", dir);
    st = resv_store_new(sched);
    assert(st);
    uint64_t now = vtime_now_us();
    struct resv_rec sb = s_req("h1", "h3", "req-b");
    sb.start_us = now + 60000000;
    sb.end_us = now + 120000000;
    assert(resv_store_insert(st, &sb, "booked") == 0);
    assert(sb.state == S(SCHEDULED));
    struct resv_rec sc = s_req("h1", "h4", "req-c");
    sc.end_us = now + 30000000;
    assert(resv_store_insert(st, &sc, "now") == 0);
    assert(sc.state == S(REQUESTED));
    struct resv_rec *due;
    size_t nd;
    assert(resv_store_due(st, now, 10, &due, &nd) == 0 && nd == 0);
    free(due);
    assert(resv_store_due(st, now + 30000000, 10, &due, &nd) == 0 && nd == 1
           && !strcmp(due[0].id, sc.id));        /* its end */
    free(due);
    resv_store_destroy(&st);
    st = resv_store_new(sched);
    assert(st);
    assert(resv_store_due(st, now + 60000000, 10, &due, &nd) == 0 && nd == 2);
    assert(!strcmp(due[0].id, sb.id) && due[0].state == S(SCHEDULED)
           && due[0].start_us == sb.start_us && due[0].end_us == sb.end_us);
    free(due);
    assert(resv_store_transition(st, sb.id, S(REQUESTED), "start", NULL, NULL,
                                 NULL, NULL, NULL) == 0);
    assert(resv_store_transition(st, sb.id, S(PROVISIONING), "asked", "p-9",
                                 NULL, NULL, NULL, NULL) == 0);
    assert(resv_store_transition(st, sb.id, S(ACTIVE), "up", NULL, NULL,
                                 NULL, NULL, NULL) == 0);
    assert(resv_store_due(st, now + 119000000, 10, &due, &nd) == 0);
    for (size_t i = 0; i < nd; i++) {
        assert(strcmp(due[i].id, sb.id));
    }
    free(due);
    assert(resv_store_due(st, now + 120000000, 10, &due, &nd) == 0);
    bool found = false;
    for (size_t i = 0; i < nd; i++) {
        found |= !strcmp(due[i].id, sb.id) && due[i].state == S(ACTIVE);
    }
    assert(found);
    free(due);
    resv_store_destroy(&st);

    /* A version 1 store (before advance reservations) is upgraded on
     * open and keeps what it had. */
    char old[300];
    snprintf(old, sizeof old, "%s/v1.db", dir);
    snprintf(cmd0, sizeof cmd0,
             "sqlite3 '%s' \"CREATE TABLE meta (key TEXT PRIMARY KEY, "
             "value TEXT); INSERT INTO meta VALUES ('schema', 1); "
             "CREATE TABLE resv (n INTEGER PRIMARY KEY AUTOINCREMENT, "
             "id TEXT UNIQUE, host_a TEXT NOT NULL, host_b TEXT NOT NULL, "
             "bandwidth_mbps REAL NOT NULL, latency_ms REAL NOT NULL, "
             "state INTEGER NOT NULL, path_id TEXT NOT NULL DEFAULT '', "
             "network TEXT NOT NULL DEFAULT '', owner TEXT NOT NULL DEFAULT "
             "'', request_id TEXT NOT NULL DEFAULT '', created_us INTEGER "
             "NOT NULL, updated_us INTEGER NOT NULL, error TEXT NOT NULL "
             "DEFAULT '', addr_a TEXT NOT NULL DEFAULT '', addr_b TEXT NOT "
             "NULL DEFAULT ''); INSERT INTO resv (id, host_a, host_b, "
             "bandwidth_mbps, latency_ms, state, created_us, updated_us) "
             "VALUES ('r-1', 'x', 'y', 10, 1, 3, 5, 6); "
             "PRAGMA journal_mode=WAL;\" >/dev/null", old);
    if (system(cmd0) == 0) {
        st = resv_store_new(old);
        assert(st);
        struct resv_rec o;
        assert(resv_store_get(st, "r-1", &o) == 0 && o.state == S(ACTIVE)
               && o.start_us == 0 && o.end_us == 0);
        struct resv_rec sd = s_req("x", "z", "req-d");
        sd.start_us = vtime_now_us() + 5000000;
        assert(resv_store_insert(st, &sd, "booked") == 0
               && sd.state == S(SCHEDULED));
        resv_store_destroy(&st);
        /* Version 4 now: a path's VLANs and prefix length are kept. */
        st = resv_store_new(old);
        assert(st);
        assert(resv_store_get(st, "r-1", &o) == 0 && o.vlan == 0
               && o.vlan_b == 0 && o.link_prefix_len == 0);
        struct resv_rec sv = s_req("x", "w", "req-v");
        assert(resv_store_insert(st, &sv, "asked") == 0);
        assert(resv_store_transition(st, sv.id, S(PROVISIONING), "p",
                                     "p-9", NULL, NULL, NULL, NULL) == 0);
        struct resv_link link = { .addr_a = "10.212.0.1",
                                  .addr_b = "10.212.0.2", .vlan = 1781,
                                  .vlan_b = 1785, .prefix_len = 30 };
        assert(resv_store_transition_link(st, sv.id, S(ACTIVE), "up",
                                          "p-9", NULL, &link, &o) == 0);
        assert(o.vlan == 1781 && o.vlan_b == 1785 && o.link_prefix_len == 30
               && !strcmp(o.addr_b, "10.212.0.2"));
        resv_store_destroy(&st);
        st = resv_store_new(old);      /* version 4 now: opens as such */
        assert(st);
        assert(resv_store_get(st, sv.id, &o) == 0 && o.vlan == 1781
               && o.vlan_b == 1785 && o.link_prefix_len == 30);
        /* A later move without them leaves them as they were. */
        assert(resv_store_transition(st, sv.id, S(RELEASING), "r", NULL,
                                     NULL, NULL, NULL, &o) == 0
               && o.vlan == 1781 && o.vlan_b == 1785);
        resv_store_destroy(&st);
    } else {
        printf("no sqlite3 shell: the upgrade from version 1 not checked\n");
    }

    /* A file that is not a store is refused, not damaged further. */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/bad.db", dir);
    FILE *f = fopen(bad, "w");
    fputs("this is not a database, just text that goes on for a while\n", f);
    fclose(f);
    assert(resv_store_new(bad) == NULL);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert(system(cmd) == 0);
    printf("test_resv_store: ok\n");
    return 0;
}
