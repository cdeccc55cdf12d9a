/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_acct: counting, the last-pair path, snapshots, a full
 * table, and a writer thread counting 10M frames while another thread
 * snapshots: counters only grow, and the final totals are exact. */
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
