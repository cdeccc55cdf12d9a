/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_acct: counting, the last-pair path, snapshots, a full
 * table, aging and eviction (idle pairs go, live ones stay), and a writer
 * thread counting 10M frames while another thread snapshots: counters
 * only grow, and the final totals are exact, also while junk pairs churn
 * through evictions and sweeps. */
#undef NDEBUG
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_acct.h"

enum { N_PAIRS = 1000, N_FRAMES = 10 * 1000 * 1000 };

static const uint64_t SRC0 = UINT64_C(0x020000000000);
static const uint64_t DST0 = UINT64_C(0x020000100000);

/* Pair 'k' is source SRC0 + 1 + k % 50 to destination DST0 + k / 50. */
static uint64_t
s_src(size_t k)
{
    return SRC0 + 1 + k % 50;
}

static uint64_t
s_dst(size_t k)
{
    return DST0 + k / 50;
}

static size_t
s_pair(const struct acct_entry *e)
{
    assert(e->src > SRC0 && e->src <= SRC0 + 50);
    assert(e->dst >= DST0 && e->dst < DST0 + N_PAIRS / 50);
    return (size_t) (e->src - SRC0 - 1) + 50 * (size_t) (e->dst - DST0);
}

static const struct acct_entry *
s_find(const struct acct_entry *e, size_t n, uint64_t src, uint64_t dst)
{
    for (size_t i = 0; i < n; i++) {
        if (e[i].src == src && e[i].dst == dst) {
            return &e[i];
        }
    }
    return NULL;
}

struct race {
    acct_t *acct;
    atomic_bool done;           /* the writer has finished */
    uint64_t bytes[N_PAIRS];    /* the writer's own totals */
    uint64_t frames[N_PAIRS];
    size_t n_snapshots;         /* the reader's */
};

static void *
s_writer(void *arg)
{
    struct race *race = arg;
    for (size_t i = 0; i < N_FRAMES; i++) {
        /* Trains of 3 frames per pair, as GRO and TCP windows make, so
         * both the hash path and the last-pair path run. */
        size_t k = i / 3 * 7919 % N_PAIRS;
        uint64_t bytes = 60 + i % 1441;
        uint64_t frames = i % 5 == 0 ? 44 : 1;
        acct_count(race->acct, s_src(k), s_dst(k), bytes, frames);
        race->bytes[k] += bytes;
        race->frames[k] += frames;
    }
    atomic_store_explicit(&race->done, true, memory_order_release);
    return NULL;
}

static void *
s_reader(void *arg)
{
    struct race *race = arg;
    static struct acct_entry snap[N_PAIRS];
    static uint64_t last_bytes[N_PAIRS];
    static uint64_t last_frames[N_PAIRS];
    while (!atomic_load_explicit(&race->done, memory_order_acquire)) {
        size_t n = acct_snapshot(race->acct, snap, N_PAIRS);
        assert(n <= N_PAIRS);
        for (size_t i = 0; i < n; i++) {
            size_t k = s_pair(&snap[i]);
            assert(snap[i].bytes >= last_bytes[k]);
            assert(snap[i].frames >= last_frames[k]);
            /* A pair is published with its first frame counted. */
            assert(snap[i].frames > 0 && snap[i].bytes > 0);
            last_bytes[k] = snap[i].bytes;
            last_frames[k] = snap[i].frames;
        }
        race->n_snapshots++;
    }
    return NULL;
}

/* The churn race: 50 real pairs and a stream of junk ones (a VM making
 * up source MACs) through a small table that sweeps every 'S_SWEEP_EVERY'
 * frames; the reader checks that no pair is listed twice and real pairs
 * only grow. */
enum { N_REAL = 50, N_CHURN = 4 * 1000 * 1000, S_SWEEP_EVERY = 20000 };

struct churn {
    acct_t *acct;
    atomic_bool done;
    uint64_t frames[N_REAL];
    size_t n_snapshots;
};

static void *
s_churn_writer(void *arg)
{
    struct churn *c = arg;
    uint64_t junk = UINT64_C(0x0a0000000000);
    for (size_t i = 0; i < N_CHURN; i++) {
        if (i % 2 == 0) {
            size_t k = i / 2 % N_REAL;
            acct_count(c->acct, SRC0 + 1 + k, DST0, 100, 1);
            c->frames[k]++;
        } else {
            acct_count(c->acct, ++junk, DST0, 60, 1);
        }
        if (i % S_SWEEP_EVERY == S_SWEEP_EVERY - 1) {
            acct_sweep(c->acct, 3);
        }
    }
    atomic_store_explicit(&c->done, true, memory_order_release);
    return NULL;
}

static void *
s_churn_reader(void *arg)
{
    struct churn *c = arg;
    static struct acct_entry snap[2048];
    static uint64_t last[N_REAL];
    static uint32_t seen_in[N_REAL];
    uint32_t round = 0;
    while (!atomic_load_explicit(&c->done, memory_order_acquire)) {
        size_t n = acct_snapshot(c->acct, snap, 2048);
        /* Pairs evicted and placed during the scan can both be listed:
         * a snapshot is not one instant.  It never exceeds the slots. */
        assert(n <= 2048);
        round++;
        for (size_t i = 0; i < n; i++) {
            assert(snap[i].frames > 0);
            if (snap[i].src > SRC0 && snap[i].src <= SRC0 + N_REAL) {
                size_t k = snap[i].src - SRC0 - 1;
                assert(snap[i].dst == DST0);
                assert(seen_in[k] != round);    /* never listed twice */
                seen_in[k] = round;
                assert(snap[i].frames >= last[k]);
                last[k] = snap[i].frames;
            }
        }
        c->n_snapshots++;
    }
    return NULL;
}

int
main(void)
{
    /* Counting, through the last-pair path and the hash. */
    acct_t *acct = acct_new(8);
    assert(acct);
    assert(acct_size(acct) == 0 && acct_overflow(acct) == 0);
    acct_count(acct, 1, 2, 100, 1);
    acct_count(acct, 1, 2, 200, 1);     /* the last pair again */
    acct_count(acct, 2, 1, 64000, 44);  /* a super-frame back */
    acct_count(acct, 1, 2, 300, 2);     /* back to the first, by hash */
    acct_count(acct, 1, 3, 50, 1);      /* same source, other dst */
    assert(acct_size(acct) == 3);

    struct acct_entry e[16];
    assert(acct_snapshot(acct, e, 16) == 3);
    const struct acct_entry *p = s_find(e, 3, 1, 2);
    assert(p && p->bytes == 600 && p->frames == 4);
    p = s_find(e, 3, 2, 1);
    assert(p && p->bytes == 64000 && p->frames == 44);
    p = s_find(e, 3, 1, 3);
    assert(p && p->bytes == 50 && p->frames == 1);

    /* A short 'out' gets what fits; the result is still the total. */
    memset(e, 0, sizeof e);
    assert(acct_snapshot(acct, e, 2) == 3);
    assert(e[0].src && e[1].src && !e[2].src);
    assert(acct_snapshot(acct, NULL, 0) == 3);

    /* Full: 8 pairs fit, the rest is counted as overflow, and the pairs
     * already in are still counted. */
    for (uint64_t d = 10; d < 20; d++) {
        acct_count(acct, 5, d, 1000, 1);
    }
    assert(acct_size(acct) == 8);
    assert(acct_overflow(acct) == 5);
    acct_count(acct, 1, 2, 1, 1);
    acct_count(acct, 5, 19, 1, 1);      /* still no room */
    acct_count(acct, 0, 2, 1, 1);       /* MAC 0 cannot be a key */
    assert(acct_overflow(acct) == 7);
    assert(acct_snapshot(acct, e, 16) == 8);
    p = s_find(e, 8, 1, 2);
    assert(p && p->bytes == 601 && p->frames == 5);
    assert(!s_find(e, 8, 5, 19));
    acct_destroy(&acct);
    assert(!acct);
    acct_destroy(&acct);                /* NULL is fine */

    /* Capacity is rounded up: 5 asked, 8 held. */
    acct = acct_new(5);
    for (uint64_t d = 1; d <= 9; d++) {
        acct_count(acct, 7, d, 1, 1);
    }
    assert(acct_size(acct) == 8 && acct_overflow(acct) == 1);
    acct_destroy(&acct);

    /* Aging: a pair with no frame for 2 sweeps goes; one that counts
     * stays.  A new pair is idle only after a whole round. */
    acct = acct_new(8);
    acct_count(acct, 1, 2, 10, 1);
    acct_count(acct, 3, 4, 10, 1);
    assert(acct_sweep(acct, 2) == 0);   /* new: marked, not idle */
    acct_count(acct, 1, 2, 10, 1);
    assert(acct_sweep(acct, 2) == 0);   /* 3->4 idle 1 round */
    acct_count(acct, 1, 2, 10, 1);
    assert(acct_sweep(acct, 2) == 1);   /* 3->4 idle 2: gone */
    assert(acct_size(acct) == 1 && acct_aged(acct) == 1);
    assert(acct_snapshot(acct, e, 16) == 1);
    assert(e[0].src == 1 && e[0].dst == 2 && e[0].frames == 3);
    acct_count(acct, 1, 2, 10, 1);     /* still counted after the move */
    assert(acct_snapshot(acct, e, 16) == 1 && e[0].frames == 4);
    acct_count(acct, 3, 4, 10, 1);     /* and an aged pair comes back */
    assert(acct_size(acct) == 2);
    acct_destroy(&acct);

    /* Eviction: a full table evicts pairs idle over the last sweep for
     * new ones, never pairs that counted since; with none idle the new
     * pair is the one not counted. */
    acct = acct_new(8);
    for (uint64_t d = 1; d <= 8; d++) {
        acct_count(acct, 9, d, 1, 1);   /* junk: one frame each */
    }
    acct_count(acct, 9, 100, 1, 1);
    assert(acct_overflow(acct) == 1 && acct_evicted(acct) == 0);
    acct_sweep(acct, 100);
    acct_sweep(acct, 100);              /* all 8 idle one round */
    for (uint64_t d = 1; d <= 4; d++) {
        acct_count(acct, 9, d, 1, 1);   /* 4 of them live again */
    }
    for (uint64_t d = 200; d < 210; d++) {
        acct_count(acct, 7, d, 1, 1);   /* 10 new: 4 idle to evict */
    }
    assert(acct_evicted(acct) == 4);
    assert(acct_overflow(acct) == 1 + 6);
    assert(acct_size(acct) == 8);
    assert(acct_snapshot(acct, e, 16) == 8);
    for (uint64_t d = 1; d <= 4; d++) {
        p = s_find(e, 8, 9, d);
        assert(p && p->frames == 2);    /* live: kept, counts whole */
    }
    for (uint64_t d = 5; d <= 8; d++) {
        assert(!s_find(e, 8, 9, d));    /* idle: evicted */
    }
    for (uint64_t d = 200; d < 204; d++) {
        assert(s_find(e, 8, 7, d));
    }
    /* The evicted slots' tombstones go at the next sweep. */
    assert(acct_sweep(acct, 100) == 0);
    assert(acct_size(acct) == 8 && acct_snapshot(acct, e, 16) == 8);
    acct_destroy(&acct);

    /* Churn: junk sources through a 1024-pair table, real pairs kept. */
    static struct churn churn;
    churn.acct = acct_new(1024);
    assert(churn.acct);
    atomic_init(&churn.done, false);
    pthread_t cr, cw;
    assert(pthread_create(&cr, NULL, s_churn_reader, &churn) == 0);
    assert(pthread_create(&cw, NULL, s_churn_writer, &churn) == 0);
    assert(pthread_join(cw, NULL) == 0);
    assert(pthread_join(cr, NULL) == 0);
    static struct acct_entry all[1024];
    size_t n_all = acct_snapshot(churn.acct, all, 1024);
    assert(n_all <= 1024 && acct_size(churn.acct) == n_all);
    for (size_t k = 0; k < N_REAL; k++) {
        p = s_find(all, n_all, SRC0 + 1 + k, DST0);
        assert(p && p->frames == churn.frames[k]);
    }
    /* About all the idle junk of each of the 100 rounds is evicted. */
    assert(acct_evicted(churn.acct) > 50000);
    printf("test_agent_acct: churn: %llu evicted, %llu aged, %llu not "
           "counted, %zu snapshots\n",
           (unsigned long long) acct_evicted(churn.acct),
           (unsigned long long) acct_aged(churn.acct),
           (unsigned long long) acct_overflow(churn.acct),
           churn.n_snapshots);
    acct_destroy(&churn.acct);

    /* One writer, one reader, 10M frames over 1000 pairs. */
    static struct race race;
    race.acct = acct_new(N_PAIRS);
    assert(race.acct);
    atomic_init(&race.done, false);
    pthread_t reader, writer;
    assert(pthread_create(&reader, NULL, s_reader, &race) == 0);
    assert(pthread_create(&writer, NULL, s_writer, &race) == 0);
    assert(pthread_join(writer, NULL) == 0);
    assert(pthread_join(reader, NULL) == 0);

    static struct acct_entry snap[N_PAIRS];
    assert(acct_snapshot(race.acct, snap, N_PAIRS) == N_PAIRS);
    assert(acct_size(race.acct) == N_PAIRS);
    assert(acct_overflow(race.acct) == 0);
    uint64_t n_frames = 0;
    for (size_t i = 0; i < N_PAIRS; i++) {
        size_t k = s_pair(&snap[i]);
        assert(snap[i].bytes == race.bytes[k]);
        assert(snap[i].frames == race.frames[k]);
        n_frames += snap[i].frames;
    }
    assert(n_frames == N_FRAMES + N_FRAMES / 5 * 43);
    acct_destroy(&race.acct);
    printf("test_agent_acct: ok (%zu snapshots during the race)\n",
           race.n_snapshots);
    return 0;
}
