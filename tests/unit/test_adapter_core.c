/* SPDX-License-Identifier: MIT */
/* Unit test for the adapter's path table (services/odin-adapter/
 * adapter_core) over a fake backend that records every call and reports
 * what the test tells it to: admission and its refusals, the work queued
 * for the loop (create, teardown once each, never in the request), a
 * teardown before the loop started the path (cancel), failures with a
 * provider's error id, provider states, the record limit, the store
 * failing on a new path and on a path coming up, and a restart that
 * offers every open path to adopt with its backend_ref, then sweeps. */
#undef NDEBUG

#include "adapter_core.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtime.h"

#define P(X) ADAPTER_PATH_##X

/* What the fake backend was asked, and how it answers. */
struct fake {
    adapter_core_t *core;
    int admit_rc;               /* admit's answer */
    int n_admit, n_cancel, n_create, n_teardown, n_tick, n_adopt, n_forget;
    int n_sweep, n_kept;
    uint64_t sweep_ns[8];       /* resources the sweep finds */
    size_t n_sweep_ns;
    bool fail_in_create;        /* create reports FAILED at once */
    char last[64];              /* path id of the last call */
    char adopt_refs[8][192];     /* backend_refs offered to adopt */
};

static struct fake s_fake;

static void *
f_open(adapter_core_t *core, const struct adapter_cfg *cfg,
       const char *cfg_path, char *err, size_t size)
{
    (void) cfg;
    (void) cfg_path;
    (void) err;
    (void) size;
    s_fake.core = core;
    return &s_fake;
}

static void
f_close(void *be)
{
    assert(be == &s_fake);
}

static int
f_admit(void *be, struct adapter_path *p, char *err, size_t size)
{
    struct fake *f = be;
    f->n_admit++;
    if (f->admit_rc) {
        snprintf(err, size, "fake refuses %s -> %s", p->r.src, p->r.dst);
        return f->admit_rc;
    }
    snprintf(p->r.src_link, sizeof p->r.src_link, "%s", p->r.src);
    return 0;
}

static void
f_cancel(void *be, struct adapter_path *p)
{
    struct fake *f = be;
    f->n_cancel++;
    snprintf(f->last, sizeof f->last, "%s", p->r.path_id);
}

static void
f_create(void *be, struct adapter_path *p)
{
    struct fake *f = be;
    f->n_create++;
    snprintf(f->last, sizeof f->last, "%s", p->r.path_id);
    assert(p->r.state == P(PROVISIONING));
    if (f->fail_in_create) {
        adapter_core_set_state(f->core, p, P(FAILED), "fake: no");
        return;
    }
    /* Accepted: an asynchronous backend learns the rest in 'tick'. */
    snprintf(p->r.backend_ref, sizeof p->r.backend_ref, "conn-%s",
             p->r.path_id);
    assert(adapter_core_save(f->core, p) == 0);
}

static void
f_teardown(void *be, struct adapter_path *p)
{
    struct fake *f = be;
    f->n_teardown++;
    snprintf(f->last, sizeof f->last, "%s", p->r.path_id);
    assert(p->r.state == P(TEARING_DOWN));
}

static void
f_tick(void *be, uint64_t now_ms)
{
    struct fake *f = be;
    (void) now_ms;
    f->n_tick++;
}

static void
f_adopt(void *be, struct adapter_path *p)
{
    struct fake *f = be;
    snprintf(f->adopt_refs[f->n_adopt++], sizeof f->adopt_refs[0], "%s",
             p->r.backend_ref);
    if (p->r.state == P(PROVISIONING)) {
        adapter_core_lost(f->core, p, "fake: lost in the restart");
    } else if (p->r.state == P(TEARING_DOWN)) {
        adapter_core_set_state(f->core, p, P(DOWN), NULL);
    } else {
        adapter_core_adopted(f->core, p, p->r.backend_ref);
    }
}

static size_t
f_sweep(void *be, adapter_backend_keep_fn *keep, void *arg)
{
    struct fake *f = be;
    size_t removed = 0;
    f->n_sweep++;
    for (size_t i = 0; i < f->n_sweep_ns; i++) {
        if (keep(f->sweep_ns[i], arg)) {
            f->n_kept++;
        } else {
            removed++;
        }
    }
    return removed;
}

static void
f_forget(void *be, struct adapter_path *p)
{
    struct fake *f = be;
    (void) p;
    f->n_forget++;
}

static const struct adapter_backend s_fake_backend = {
    .name = "fake",
    .open = f_open,
    .close = f_close,
    .admit = f_admit,
    .cancel = f_cancel,
    .create = f_create,
    .teardown = f_teardown,
    .tick = f_tick,
    .adopt = f_adopt,
    .sweep = f_sweep,
    .forget = f_forget,
};

/* Events and wake-ups seen. */
struct seen {
    int n_events, n_wakes;
    int last_old, last_new;
    char last_id[32];
};

static struct seen s_seen;

static void
s_on_event(const struct adapter_path *p, int old_state, void *arg)
{
    assert(arg == &s_seen);
    s_seen.n_events++;
    s_seen.last_old = old_state;
    s_seen.last_new = p->r.state;
    snprintf(s_seen.last_id, sizeof s_seen.last_id, "%s", p->r.path_id);
}

static void
s_on_wake(void *arg)
{
    assert(arg == &s_seen);
    s_seen.n_wakes++;
}

static adapter_core_t *
s_core(uint32_t max_paths, const char *state)
{
    char err[256];
    memset(&s_fake, 0, sizeof s_fake);
    memset(&s_seen, 0, sizeof s_seen);
    adapter_core_t *core = adapter_core_new(&s_fake_backend, max_paths,
                                            s_on_event, s_on_wake, &s_seen);
    assert(core);
    assert(adapter_core_open_backend(core, NULL, NULL, err, sizeof err) == 0);
    assert(adapter_core_restore(core, state, err, sizeof err) == 0);
    return core;
}

static struct adapter_path *
s_create(adapter_core_t *core, const char *request_id,
         enum adapter_core_refusal *why)
{
    char err[256];
    struct adapter_core_request req = {
        .request_id = request_id,
        .src = "10.0.0.1",
        .dst = "10.0.0.2",
        .bandwidth_mbps = 100,
    };
    return adapter_core_create(core, &req, why, err, sizeof err);
}

/* A request admits, records and queues; the loop creates; the backend's
 * reports become states and events. */
static void
test_create_up_teardown(void)
{
    adapter_core_t *core = s_core(16, NULL);
    enum adapter_core_refusal why;

    struct adapter_path *p = s_create(core, "req-1", &why);
    assert(p && why == ADAPTER_CORE_OK);
    assert(!strcmp(p->r.path_id, "p-1"));
    assert(p->r.state == P(PROVISIONING));
    assert(!strcmp(p->r.src_link, "10.0.0.1"));     /* admit filled it */
    assert(s_fake.n_admit == 1 && s_fake.n_create == 0);   /* not yet */
    assert(s_seen.n_events == 1 && s_seen.last_new == P(PROVISIONING));
    assert(s_seen.n_wakes == 1);

    /* The same request again: the same path, nothing asked again. */
    assert(s_create(core, "req-1", &why) == p);
    assert(s_fake.n_admit == 1 && s_seen.n_events == 1);

    adapter_core_run(core, 1);
    assert(s_fake.n_create == 1 && s_fake.n_tick == 1);
    assert(!strcmp(p->r.backend_ref, "conn-p-1"));
    adapter_core_run(core, 2);
    assert(s_fake.n_create == 1 && s_fake.n_tick == 2);    /* once */

    /* The provider's states: shown, published, the state unchanged. */
    adapter_core_provider(core, p, "ReserveHeld", "Released", "Created");
    assert(s_seen.n_events == 2 && s_seen.last_new == P(PROVISIONING));
    assert(!strcmp(p->provider.reservation, "ReserveHeld"));
    adapter_core_provider(core, p, "ReserveHeld", NULL, NULL);
    assert(s_seen.n_events == 2);                       /* no change */

    char why_text[256];
    assert(adapter_core_up(core, p, why_text, sizeof why_text) == 0);
    assert(p->r.state == P(UP) && s_seen.last_old == P(PROVISIONING));

    assert(adapter_core_teardown(core, "p-1") == p);
    assert(p->r.state == P(TEARING_DOWN));
    assert(s_fake.n_teardown == 0);                     /* on the loop */
    assert(adapter_core_teardown(core, "p-1") == p);    /* again: same */
    adapter_core_run(core, 3);
    adapter_core_run(core, 4);
    assert(s_fake.n_teardown == 1 && !strcmp(s_fake.last, "p-1"));
    /* Up after the teardown was asked: not moved. */
    assert(adapter_core_up(core, p, why_text, sizeof why_text) == 0);
    assert(p->r.state == P(TEARING_DOWN));
    adapter_core_set_state(core, p, P(DOWN), NULL);
    assert(p->r.state == P(DOWN) && s_seen.last_new == P(DOWN));
    /* A late report on an ended path changes nothing. */
    int n = s_seen.n_events;
    adapter_core_set_state(core, p, P(FAILED), "late");
    assert(p->r.state == P(DOWN) && s_seen.n_events == n);

    assert(!adapter_core_teardown(core, "p-9"));        /* unknown */
    struct adapter_core_stats st;
    adapter_core_get_stats(core, &st);
    assert(st.n_created == 1 && st.by_state[P(DOWN)] == 1);
    adapter_core_destroy(&core);
    assert(!core && s_fake.n_forget == 1);
}

/* Refusals at admission map to reasons; nothing is recorded. */
static void
test_refusals(void)
{
    adapter_core_t *core = s_core(16, NULL);
    enum adapter_core_refusal why;
    const struct { int rc; enum adapter_core_refusal why; } cases[] = {
        { EBUSY, ADAPTER_CORE_BLOCKED },
        { EINVAL, ADAPTER_CORE_BAD_REQUEST },
        { ENOMEM, ADAPTER_CORE_INTERNAL },
        { ENOENT, ADAPTER_CORE_NOT_RESERVABLE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_fake.admit_rc = cases[i].rc;
        assert(!s_create(core, "r", &why) && why == cases[i].why);
    }
    assert(adapter_core_n_paths(core) == 0 && s_seen.n_events == 0);
    struct adapter_core_stats st;
    adapter_core_get_stats(core, &st);
    assert(st.n_refused == 4 && st.n_created == 0);
    /* The next path still gets p-1: refused ones take no number. */
    s_fake.admit_rc = 0;
    assert(!strcmp(s_create(core, "r", &why)->r.path_id, "p-1"));
    adapter_core_destroy(&core);
}

/* Torn down before the loop started it: cancel, DOWN, never created. A
 * create that fails at once is FAILED and gets no teardown. */
static void
test_cancel_and_failures(void)
{
    adapter_core_t *core = s_core(16, NULL);
    enum adapter_core_refusal why;

    struct adapter_path *p = s_create(core, "a", &why);
    assert(adapter_core_teardown(core, p->r.path_id) == p);
    assert(p->r.state == P(DOWN) && s_fake.n_cancel == 1);
    adapter_core_run(core, 1);
    assert(s_fake.n_create == 0 && s_fake.n_teardown == 0);

    s_fake.fail_in_create = true;
    p = s_create(core, "b", &why);
    adapter_core_run(core, 2);
    assert(s_fake.n_create == 1 && p->r.state == P(FAILED));
    assert(!strcmp(p->r.error, "fake: no"));
    adapter_core_teardown(core, p->r.path_id);
    adapter_core_run(core, 3);
    assert(s_fake.n_teardown == 0 && p->r.state == P(FAILED));

    /* A provider's fault: FAILED with its error id kept and quoted. */
    s_fake.fail_in_create = false;
    p = s_create(core, "c", &why);
    adapter_core_run(core, 4);
    adapter_core_fail(core, p, "00700", "VLAN not available");
    assert(p->r.state == P(FAILED) && !strcmp(p->error_id, "00700"));
    assert(!strcmp(p->r.error, "VLAN not available (provider error "
                   "00700)"));
    adapter_core_destroy(&core);
}

/* max_paths records: ended ones make room (forgotten), open ones don't. */
static void
test_limit(void)
{
    adapter_core_t *core = s_core(16, NULL);
    enum adapter_core_refusal why;
    char id[16];
    for (int i = 0; i < 16; i++) {
        snprintf(id, sizeof id, "r%d", i);
        assert(s_create(core, id, &why));
    }
    assert(!s_create(core, "r16", &why) && why == ADAPTER_CORE_LIMIT);
    assert(s_fake.n_cancel == 1);           /* the admission given back */
    adapter_core_run(core, 1);
    adapter_core_teardown(core, "p-1");
    adapter_core_run(core, 2);
    adapter_core_set_state(core, adapter_core_find(core, "p-1"), P(DOWN),
                           NULL);
    struct adapter_path *p = s_create(core, "r16", &why);
    assert(p && !strcmp(p->r.path_id, "p-17"));
    assert(s_fake.n_forget == 1 && !adapter_core_find(core, "p-1"));
    adapter_core_destroy(&core);
}

/* A store in a directory of its own: 'dir' (a mkdtemp template of 31
 * characters at most) is made, 'db' (64 bytes) names the file in it. */
static void
s_db_make(char *dir, char *db)
{
    assert(mkdtemp(dir));
    snprintf(db, 64, "%s/adapter.db", dir);
}

static void
s_db_remove(const char *dir, const char *db)
{
    char side[80];
    unlink(db);
    snprintf(side, sizeof side, "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db);
    unlink(side);
    assert(rmdir(dir) == 0);
}

static void
s_count_row(const struct adapter_path_rec *rec, void *arg)
{
    (void) rec;
    (*(int *) arg)++;
}

/* The store's rows while the adapter runs: ended ones beyond max_paths
 * are deleted as records are forgotten, not only at a restart. */
static void
test_store_trim(void)
{
    char dir[] = "/tmp/test_adapter_core.XXXXXX";
    char db[64];
    enum adapter_core_refusal why;
    s_db_make(dir, db);
    adapter_core_t *core = s_core(4, db);
    int most = 0;
    for (int i = 0; i < 160; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        struct adapter_path *p = s_create(core, id, &why);
        assert(p);
        adapter_core_set_state(core, p, P(FAILED), "fake: gone");
        int rows = 0;
        assert(adapter_store_load(adapter_core_store(core), s_count_row,
                                  &rows) == rows);
        most = rows > most ? rows : most;
    }
    /* 160 paths made: at most max_paths + 64 rows at any time. */
    assert(most >= 64 && most <= 4 + 64 + 1);
    adapter_core_destroy(&core);
    s_db_remove(dir, db);
}

/* The store: a new path it cannot take is refused and given back; a path
 * up it cannot record stays as it was, the backend told why.  A restart
 * offers each open path, with its backend_ref, to adopt, then sweeps. */
static void
test_store_and_restart(void)
{
    char dir[] = "/tmp/test_adapter_core.XXXXXX";
    char db[64], why_text[256];
    enum adapter_core_refusal why;
    s_db_make(dir, db);

    adapter_core_t *core = s_core(16, db);
    struct adapter_path *up = s_create(core, "up", &why);
    struct adapter_path *prov = s_create(core, "prov", &why);
    struct adapter_path *tear = s_create(core, "tear", &why);
    struct adapter_path *gone = s_create(core, "gone", &why);
    adapter_core_run(core, 1);
    assert(adapter_core_up(core, up, why_text, sizeof why_text) == 0);
    assert(adapter_core_up(core, tear, why_text, sizeof why_text) == 0);
    adapter_core_teardown(core, tear->r.path_id);
    adapter_core_set_state(core, gone, P(FAILED), "fake: gone");
    (void) prov;

    adapter_store_fail_after(adapter_core_store(core), 0);
    assert(!s_create(core, "nope", &why) && why == ADAPTER_CORE_INTERNAL);
    assert(s_fake.n_cancel == 1 && !adapter_core_find(core, "p-5"));
    assert(adapter_core_up(core, prov, why_text, sizeof why_text) == -1);
    assert(prov->r.state == P(PROVISIONING));
    assert(strstr(why_text, "a restart would forget it"));
    adapter_store_fail_after(adapter_core_store(core), -1);
    adapter_core_destroy(&core);

    /* The restart. */
    memset(&s_fake, 0, sizeof s_fake);
    memset(&s_seen, 0, sizeof s_seen);
    core = adapter_core_new(&s_fake_backend, 16, s_on_event, s_on_wake,
                            &s_seen);
    char err[256];
    assert(adapter_core_open_backend(core, NULL, NULL, err, sizeof err)
           == 0);
    s_fake.sweep_ns[0] = 1;     /* 'up': kept */
    s_fake.sweep_ns[1] = 2;     /* 'prov': failed in the restart */
    s_fake.sweep_ns[2] = 77;    /* nobody's */
    s_fake.n_sweep_ns = 3;
    assert(adapter_core_restore(core, db, err, sizeof err) == 0);
    assert(s_fake.n_adopt == 3);                /* 'gone' had ended */
    assert(!strcmp(s_fake.adopt_refs[0], "conn-p-1"));
    assert(adapter_core_find(core, "p-1")->r.state == P(UP));
    assert(adapter_core_find(core, "p-2")->r.state == P(FAILED));
    assert(adapter_core_find(core, "p-3")->r.state == P(DOWN));
    assert(s_fake.n_sweep == 1 && s_fake.n_kept == 1);
    struct adapter_core_stats st;
    adapter_core_get_stats(core, &st);
    assert(st.n_adopted == 1 && st.n_lost == 1 && st.n_swept == 2);
    /* Numbers go on after the highest recorded, the refused one unused. */
    assert(!strcmp(s_create(core, "next", &why)->r.path_id, "p-5"));
    adapter_core_destroy(&core);
    s_db_remove(dir, db);
}

/* The built-in tables, by the config's name. */
static void
test_registry(void)
{
    char names[64];
    assert(adapter_backend_find("sim") == &adapter_backend_sim);
    assert(adapter_backend_find("netns") == &adapter_backend_netns);
    assert(adapter_backend_find("oclient") == &adapter_backend_oclient);
    assert(adapter_backend_find("nsi") == &adapter_backend_nsi);
    assert(!adapter_backend_find("odin") && !adapter_backend_find(NULL));
    adapter_backend_names(names, sizeof names);
    assert(!strcmp(names, "sim, netns, oclient or nsi"));
    adapter_backend_names(names, 6);
    assert(!strcmp(names, "sim, "));
}

/* A booking ahead at a backend without a calendar is refused
 * (ADAPTER_CORE_NO_CALENDAR), nothing admitted or recorded; the same
 * request without a schedule is made. */
static void
test_no_calendar(void)
{
    adapter_core_t *core = s_core(16, NULL);
    enum adapter_core_refusal why;
    char err[256];
    int n_admit = s_fake.n_admit;
    struct adapter_core_request req = {
        .request_id = "book-1",
        .src = "10.0.0.1",
        .dst = "10.0.0.2",
        .start_us = vtime_now_us() + 60000000,
    };
    assert(!adapter_core_create(core, &req, &why, err, sizeof err));
    assert(why == ADAPTER_CORE_NO_CALENDAR && strstr(err, "ahead"));
    req.start_us = 0;
    req.end_us = vtime_now_us() + 60000000;
    assert(!adapter_core_create(core, &req, &why, err, sizeof err));
    assert(why == ADAPTER_CORE_NO_CALENDAR);
    assert(s_fake.n_admit == n_admit);
    req.end_us = 0;
    struct adapter_path *p = adapter_core_create(core, &req, &why, err,
                                                 sizeof err);
    assert(p && why == ADAPTER_CORE_OK && !p->r.start_us);
    adapter_core_destroy(&core);
}

int
main(void)
{
    test_registry();
    test_create_up_teardown();
    test_refusals();
    test_cancel_and_failures();
    test_limit();
    test_no_calendar();
    test_store_and_restart();
    test_store_trim();
    printf("adapter_core: dispatch over a fake backend: ok\n");
    return 0;
}
