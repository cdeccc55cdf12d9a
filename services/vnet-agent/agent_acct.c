/* SPDX-License-Identifier: MIT */
/* Per-(source, destination) traffic counters for VTTIF, one table per
 * packet thread.  The writer never uses a lock or a read-modify-write:
 * each counter is an _Atomic u64 that it loads and stores relaxed (plain
 * moves on x86-64), which makes the control thread's concurrent reads in
 * acct_snapshot() well defined.  The agent's stats publisher calls
 * acct_snapshot(); the forwarding path calls acct_count() and, once a
 * period, acct_sweep().
 *
 * Removal never moves a pair the reader may be reading: an evicted pair
 * leaves a tombstone that probes walk past (and a new pair may take), and
 * the sweep, which drops aged pairs and tombstones, rebuilds the table
 * into the second array and then switches to it, under a sequence count
 * the reader checks (a seqlock).  The reader also checks a slot's source
 * MAC again after reading it, so a slot taken over meanwhile is skipped. */
#include "agent_acct.h"

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "hash.h"

enum { S_CACHE_LINE = 64, S_SNAPSHOT_TRIES = 4 };

/* A removed pair: not a MAC (they are 48-bit), so never a key. */
#define S_TOMB UINT64_MAX
#define S_MAC_MAX UINT64_C(0xffffffffffff)

/* 32 bytes: two slots per cache line, none straddling one. */
struct acct_slot {
    _Atomic uint64_t src;       /* 0: free, S_TOMB: removed; stored last,
                                 * with release */
    _Atomic uint64_t dst;       /* written before 'src' */
    _Atomic uint64_t bytes;
    _Atomic uint64_t frames;
};

/* The writer's aging state of a slot, kept apart so that counting does
 * not touch it. */
struct acct_age {
    uint64_t mark;              /* 'frames' at the last sweep; 0 when new */
    uint32_t idle;              /* sweeps in a row that saw no frame */
    uint32_t pad;
};

/* Written only by the writer, except that the reader loads 'pub' and
 * 'seq'; aligned and padded to whole cache lines so that no other object
 * shares them. */
struct acct {
    alignas(S_CACHE_LINE) struct acct_slot *slots; /* current, 'mask' + 1 */
    struct acct_slot *spare;    /* what the next rebuild writes */
    struct acct_age *age;       /* per slot of 'slots' */
    struct acct_age *age_spare; /* per slot of 'spare' */
    uint32_t *cand;             /* idle slots, eviction candidates */
    size_t n_cand;
    size_t mask;
    size_t capacity;            /* most pairs held: half the slots */
    size_t max_fill;            /* most pairs plus tombstones: 3/4 */
    size_t n_tomb;              /* tombstones in 'slots' */
    uint64_t seed;              /* mixed into the hash */
    struct acct_slot *last;     /* the last pair counted, or NULL */
    _Atomic(struct acct_slot *) pub; /* 'slots', for the reader */
    _Atomic uint64_t seq;       /* odd while a rebuild switches arrays */
    _Atomic size_t n_used;      /* pairs held */
    _Atomic uint64_t n_overflow; /* acct_count() calls not counted */
    _Atomic uint64_t n_evicted; /* idle pairs evicted for new ones */
    _Atomic uint64_t n_aged;    /* pairs removed by acct_sweep() */
};

static_assert(sizeof(struct acct) % S_CACHE_LINE == 0, "whole lines");
static_assert(sizeof(struct acct_slot) == 32, "two slots per line");

/* The seed is random because source MACs are the VMs' to choose: with a
 * fixed hash a VM could pick MACs that all land in one long probe run. */
static uint64_t
s_random_seed(const void *salt)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != sizeof seed) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t) ts.tv_nsec ^ (uint64_t) ts.tv_sec << 32
               ^ (uint64_t) (uintptr_t) salt;
    }
    return seed;
}

static inline uint64_t
s_hash(uint64_t seed, uint64_t src, uint64_t dst)
{
    return hash_mix64(seed ^ src ^ (dst << 32 | dst >> 32));
}

static inline uint64_t
s_load(const _Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static inline void
s_store(_Atomic uint64_t *v, uint64_t x)
{
    atomic_store_explicit(v, x, memory_order_relaxed);
}

/* Single-writer increment: no reader ever stores, so load + store cannot
 * lose an update, and costs a plain add instead of a locked one. */
static inline void
s_add(_Atomic uint64_t *counter, uint64_t n)
{
    s_store(counter, s_load(counter) + n);
}

static void
s_clear(struct acct_slot *slots, size_t n_slots)
{
    /* Relaxed stores, not memset: a reader that is late may still be
     * scanning this array (it will notice and retry). */
    for (size_t i = 0; i < n_slots; i++) {
        s_store(&slots[i].src, 0);
        s_store(&slots[i].dst, 0);
        s_store(&slots[i].bytes, 0);
        s_store(&slots[i].frames, 0);
    }
}

acct_t *
acct_new(size_t capacity)
{
    size_t n_slots = 4;
    while (n_slots / 2 < capacity) {
        if (n_slots > SIZE_MAX / 4 / sizeof(struct acct_slot)
            || n_slots > UINT32_MAX / 2) {
            return NULL;
        }
        n_slots *= 2;
    }

    acct_t *self = aligned_alloc(S_CACHE_LINE, sizeof *self);
    if (!self) {
        return NULL;
    }
    memset(self, 0, sizeof *self);
    /* n_slots * 32 is a multiple of 64, as aligned_alloc() requires. */
    size_t size = n_slots * sizeof(struct acct_slot);
    self->slots = aligned_alloc(S_CACHE_LINE, size);
    self->spare = aligned_alloc(S_CACHE_LINE, size);
    self->age = calloc(n_slots, sizeof *self->age);
    self->age_spare = calloc(n_slots, sizeof *self->age_spare);
    self->cand = calloc(n_slots / 2, sizeof *self->cand);
    if (!self->slots || !self->spare || !self->age || !self->age_spare
        || !self->cand) {
        acct_destroy(&self);
        return NULL;
    }
    s_clear(self->slots, n_slots);
    s_clear(self->spare, n_slots);
    self->mask = n_slots - 1;
    self->capacity = n_slots / 2;
    self->max_fill = n_slots / 4 * 3;
    self->seed = s_random_seed(self);
    atomic_init(&self->pub, self->slots);
    atomic_init(&self->seq, 0);
    atomic_init(&self->n_used, 0);
    atomic_init(&self->n_overflow, 0);
    atomic_init(&self->n_evicted, 0);
    atomic_init(&self->n_aged, 0);
    return self;
}

void
acct_destroy(acct_t **self_p)
{
    if (self_p && *self_p) {
        acct_t *self = *self_p;
        free(self->slots);
        free(self->spare);
        free(self->age);
        free(self->age_spare);
        free(self->cand);
        free(self);
        *self_p = NULL;
    }
}

/* Turns an idle candidate into a tombstone; false if none is left.  A
 * candidate that counted a frame since the sweep listed it, or was
 * evicted and taken by a new pair, is skipped. */
static bool
s_evict(acct_t *self)
{
    while (self->n_cand > 0) {
        size_t i = self->cand[--self->n_cand];
        struct acct_slot *s = &self->slots[i];
        uint64_t src = s_load(&s->src);
        if (src == 0 || src == S_TOMB
            || s_load(&s->frames) != self->age[i].mark) {
            continue;
        }
        atomic_store_explicit(&s->src, S_TOMB, memory_order_release);
        if (self->last == s) {
            self->last = NULL;
        }
        self->n_tomb++;
        atomic_store_explicit(&self->n_used,
                              atomic_load_explicit(&self->n_used,
                                                   memory_order_relaxed) - 1,
                              memory_order_relaxed);
        s_add(&self->n_evicted, 1);
        return true;
    }
    return false;
}

void
acct_count(acct_t *self, uint64_t src, uint64_t dst, uint64_t bytes,
           uint64_t frames)
{
    struct acct_slot *s = self->last;
    /* Frames come in trains (GRO, a TCP window), so the last pair is
     * worth one compare before the hash. */
    if (s && s_load(&s->src) == src && s_load(&s->dst) == dst) {
        s_add(&s->bytes, bytes);
        s_add(&s->frames, frames);
        return;
    }

    /* Source MAC 0 marks a free slot: it cannot be a key. */
    if (src == 0 || src > S_MAC_MAX) {
        s_add(&self->n_overflow, 1);
        return;
    }
    struct acct_slot *tomb = NULL;
    size_t i = s_hash(self->seed, src, dst) & self->mask;
    for (;; i = (i + 1) & self->mask) {
        s = &self->slots[i];
        /* Relaxed: the writer reads its own stores. */
        uint64_t s_src = s_load(&s->src);
        if (s_src == 0) {
            break;
        }
        if (s_src == S_TOMB) {
            if (!tomb) {
                tomb = s;
            }
        } else if (s_src == src && s_load(&s->dst) == dst) {
            s_add(&s->bytes, bytes);
            s_add(&s->frames, frames);
            self->last = s;
            return;
        }
    }

    /* A new pair.  A free slot ends the run and fills the table; a
     * tombstone in the run is taken instead when there is one.  There
     * are at most 'max_fill' of both, so probes always end. */
    size_t n = atomic_load_explicit(&self->n_used, memory_order_relaxed);
    if (!tomb && n + self->n_tomb + 1 > self->max_fill) {
        s_add(&self->n_overflow, 1);
        return;
    }
    if (n >= self->capacity && !s_evict(self)) {
        s_add(&self->n_overflow, 1);
        return;
    }
    if (tomb) {
        s = tomb;
        self->n_tomb--;
    }
    /* Everything before 'src', which the reader acquires: once it sees
     * the pair, it sees the pair whole and already counted. */
    s_store(&s->dst, dst);
    s_store(&s->bytes, bytes);
    s_store(&s->frames, frames);
    atomic_store_explicit(&s->src, src, memory_order_release);
    n = atomic_load_explicit(&self->n_used, memory_order_relaxed);
    atomic_store_explicit(&self->n_used, n + 1, memory_order_relaxed);
    /* Mark 0: the next sweep sees it move, so a pair is idle for a whole
     * round, and published since its last frame, before it may go. */
    self->age[s - self->slots] = (struct acct_age) { 0 };
    self->last = s;
}

/* Copies the pairs of the current array that are to stay into the spare
 * one, switches the two under the sequence count, and returns how many
 * stayed. */
static size_t
s_rebuild(acct_t *self, uint32_t max_idle)
{
    /* Odd: a reader still scanning 'spare' from before the last switch
     * will see the count move and retry. */
    uint64_t seq = s_load(&self->seq);
    atomic_store_explicit(&self->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);

    s_clear(self->spare, self->mask + 1);
    size_t kept = 0;
    for (size_t i = 0; i <= self->mask; i++) {
        const struct acct_slot *o = &self->slots[i];
        uint64_t src = s_load(&o->src);
        if (src == 0 || src == S_TOMB || self->age[i].idle >= max_idle) {
            continue;
        }
        uint64_t dst = s_load(&o->dst);
        size_t j = s_hash(self->seed, src, dst) & self->mask;
        while (s_load(&self->spare[j].src) != 0) {
            j = (j + 1) & self->mask;
        }
        struct acct_slot *s = &self->spare[j];
        s_store(&s->dst, dst);
        s_store(&s->bytes, s_load(&o->bytes));
        s_store(&s->frames, s_load(&o->frames));
        atomic_store_explicit(&s->src, src, memory_order_release);
        self->age_spare[j] = self->age[i];
        kept++;
    }

    struct acct_slot *slots = self->spare;
    self->spare = self->slots;
    self->slots = slots;
    struct acct_age *age = self->age_spare;
    self->age_spare = self->age;
    self->age = age;
    self->n_tomb = 0;
    self->last = NULL;
    atomic_store_explicit(&self->n_used, kept, memory_order_relaxed);
    atomic_store_explicit(&self->pub, slots, memory_order_release);
    atomic_store_explicit(&self->seq, seq + 2, memory_order_release);
    return kept;
}

size_t
acct_sweep(acct_t *self, uint32_t max_idle)
{
    if (max_idle < 1) {
        max_idle = 1;
    }
    size_t n_aged = 0;
    for (size_t i = 0; i <= self->mask; i++) {
        const struct acct_slot *s = &self->slots[i];
        uint64_t src = s_load(&s->src);
        if (src == 0 || src == S_TOMB) {
            continue;
        }
        struct acct_age *a = &self->age[i];
        uint64_t frames = s_load(&s->frames);
        if (frames == a->mark) {
            a->idle += a->idle < UINT32_MAX;
        } else {
            a->idle = 0;
            a->mark = frames;
        }
        n_aged += a->idle >= max_idle;
    }
    if (n_aged > 0 || self->n_tomb > 0) {
        s_rebuild(self, max_idle);
        s_add(&self->n_aged, n_aged);
    }

    /* The candidates, for a full table to evict until the next sweep. */
    self->n_cand = 0;
    for (size_t i = 0; i <= self->mask && self->n_cand < self->capacity;
         i++) {
        uint64_t src = s_load(&self->slots[i].src);
        if (src != 0 && src != S_TOMB && self->age[i].idle > 0) {
            self->cand[self->n_cand++] = (uint32_t) i;
        }
    }
    return n_aged;
}

static size_t
s_scan(const acct_t *self, const struct acct_slot *slots,
       struct acct_entry *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i <= self->mask; i++) {
        const struct acct_slot *s = &slots[i];
        /* Acquire pairs with the writer's release: 'dst' is complete. */
        uint64_t src = atomic_load_explicit(&s->src, memory_order_acquire);
        if (src == 0 || src == S_TOMB) {
            continue;
        }
        struct acct_entry e = {
            .src = src,
            .dst = s_load(&s->dst),
            .bytes = s_load(&s->bytes),
            .frames = s_load(&s->frames),
        };
        /* The slot may have been evicted and taken by another pair while
         * we read it: then its source is not the one we started with. */
        atomic_thread_fence(memory_order_acquire);
        if (s_load(&s->src) != src) {
            continue;
        }
        if (n < max) {
            out[n] = e;
        }
        n++;
    }
    return n;
}

size_t
acct_snapshot(const acct_t *self, struct acct_entry *out, size_t max)
{
    acct_t *w = (acct_t *) self;    /* atomics only are read */
    size_t n = 0;
    for (int try = 0; try < S_SNAPSHOT_TRIES; try++) {
        uint64_t seq = atomic_load_explicit(&w->seq, memory_order_acquire);
        const struct acct_slot *slots =
            atomic_load_explicit(&w->pub, memory_order_acquire);
        n = s_scan(self, slots, out, max);
        atomic_thread_fence(memory_order_acquire);
        if ((seq & 1) == 0
            && atomic_load_explicit(&w->seq, memory_order_relaxed) == seq) {
            break;
        }
    }
    return n;
}

uint64_t
acct_overflow(const acct_t *self)
{
    return atomic_load_explicit(&self->n_overflow, memory_order_relaxed);
}

uint64_t
acct_evicted(const acct_t *self)
{
    return atomic_load_explicit(&self->n_evicted, memory_order_relaxed);
}

uint64_t
acct_aged(const acct_t *self)
{
    return atomic_load_explicit(&self->n_aged, memory_order_relaxed);
}

size_t
acct_size(const acct_t *self)
{
    return atomic_load_explicit(&self->n_used, memory_order_relaxed);
}
