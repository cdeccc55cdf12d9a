/* SPDX-License-Identifier: MIT */
/* Per-(source, destination) traffic counters for VTTIF, one table per
 * packet thread.  The writer never uses a lock or a read-modify-write:
 * each counter is an _Atomic u64 that it loads and stores relaxed (plain
 * moves on x86-64), which makes the control thread's concurrent reads in
 * acct_snapshot() well defined.  The agent's stats publisher calls
 * acct_snapshot(); the forwarding path calls acct_count(). */
#include "agent_acct.h"

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "hash.h"

enum { S_CACHE_LINE = 64 };

/* 32 bytes: two slots per cache line, none straddling one. */
struct acct_slot {
    _Atomic uint64_t src;       /* 0: free; stored last, with release */
    uint64_t dst;               /* written once, before 'src' */
    _Atomic uint64_t bytes;
    _Atomic uint64_t frames;
};

/* One cache line of its own (allocated aligned and padded), written only
 * by the writer: the reader writes nothing, and no other object can share
 * the line and bounce it between cores. */
struct acct {
    alignas(S_CACHE_LINE) struct acct_slot *slots; /* 'mask' + 1 */
    size_t mask;
    size_t capacity;            /* most pairs held: half the slots */
    uint64_t seed;              /* mixed into the hash */
    struct acct_slot *last;     /* the last pair counted, or NULL */
    _Atomic size_t n_used;      /* pairs held */
    _Atomic uint64_t n_overflow; /* acct_count() calls not counted */
};

static_assert(sizeof(struct acct) == S_CACHE_LINE, "acct is one line");
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

acct_t *
acct_new(size_t capacity)
{
    size_t n_slots = 2;
    while (n_slots / 2 < capacity) {
        if (n_slots > SIZE_MAX / 2 / sizeof(struct acct_slot)) {
            return NULL;
        }
        n_slots *= 2;
    }

    acct_t *self = aligned_alloc(S_CACHE_LINE, sizeof *self);
    if (!self) {
        return NULL;
    }
    /* n_slots * 32 is a multiple of 64, as aligned_alloc() requires. */
    self->slots = aligned_alloc(S_CACHE_LINE, n_slots * sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    for (size_t i = 0; i < n_slots; i++) {
        struct acct_slot *s = &self->slots[i];
        atomic_init(&s->src, 0);
        s->dst = 0;
        atomic_init(&s->bytes, 0);
        atomic_init(&s->frames, 0);
    }
    self->mask = n_slots - 1;
    self->capacity = n_slots / 2;
    self->seed = s_random_seed(self);
    self->last = NULL;
    atomic_init(&self->n_used, 0);
    atomic_init(&self->n_overflow, 0);
    return self;
}

void
acct_destroy(acct_t **self_p)
{
    if (self_p && *self_p) {
        free((*self_p)->slots);
        free(*self_p);
        *self_p = NULL;
    }
}

/* Single-writer increment: no reader ever stores, so load + store cannot
 * lose an update, and costs a plain add instead of a locked one. */
static inline void
s_add(_Atomic uint64_t *counter, uint64_t n)
{
    uint64_t v = atomic_load_explicit(counter, memory_order_relaxed);
    atomic_store_explicit(counter, v + n, memory_order_relaxed);
}

/* Returns the slot of ('src', 'dst'), or the free slot that ends its
 * run: at most half the slots are used, so there is always one. */
static struct acct_slot *
s_find(const acct_t *self, uint64_t src, uint64_t dst)
{
    size_t i = s_hash(self->seed, src, dst) & self->mask;
    for (;; i = (i + 1) & self->mask) {
        struct acct_slot *s = &self->slots[i];
        /* Relaxed: the writer reads its own stores. */
        uint64_t s_src = atomic_load_explicit(&s->src, memory_order_relaxed);
        if (s_src == 0 || (s_src == src && s->dst == dst)) {
            return s;
        }
    }
}

void
acct_count(acct_t *self, uint64_t src, uint64_t dst, uint64_t bytes,
           uint64_t frames)
{
    struct acct_slot *s = self->last;
    /* Frames come in trains (GRO, a TCP window), so the last pair is
     * worth one compare before the hash. */
    if (s && atomic_load_explicit(&s->src, memory_order_relaxed) == src
        && s->dst == dst) {
        s_add(&s->bytes, bytes);
        s_add(&s->frames, frames);
        return;
    }

    /* Source MAC 0 marks a free slot: it cannot be a key. */
    s = src ? s_find(self, src, dst) : NULL;
    if (!s) {
        s_add(&self->n_overflow, 1);
        return;
    }
    if (atomic_load_explicit(&s->src, memory_order_relaxed) == 0) {
        size_t n = atomic_load_explicit(&self->n_used, memory_order_relaxed);
        if (n >= self->capacity) {
            s_add(&self->n_overflow, 1);
            return;
        }
        /* Everything before 'src', which the reader acquires: once it
         * sees the pair, it sees the pair whole and already counted. */
        s->dst = dst;
        atomic_store_explicit(&s->bytes, bytes, memory_order_relaxed);
        atomic_store_explicit(&s->frames, frames, memory_order_relaxed);
        atomic_store_explicit(&s->src, src, memory_order_release);
        atomic_store_explicit(&self->n_used, n + 1, memory_order_relaxed);
    } else {
        s_add(&s->bytes, bytes);
        s_add(&s->frames, frames);
    }
    self->last = s;
}

size_t
acct_snapshot(const acct_t *self, struct acct_entry *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i <= self->mask; i++) {
        const struct acct_slot *s = &self->slots[i];
        /* Acquire pairs with the writer's release: 'dst' is complete. */
        uint64_t src = atomic_load_explicit(&s->src, memory_order_acquire);
        if (!src) {
            continue;
        }
        if (n < max) {
            out[n].src = src;
            out[n].dst = s->dst;
            out[n].bytes = atomic_load_explicit(&s->bytes,
                                                memory_order_relaxed);
            out[n].frames = atomic_load_explicit(&s->frames,
                                                 memory_order_relaxed);
        }
        n++;
    }
    return n;
}

uint64_t
acct_overflow(const acct_t *self)
{
    return atomic_load_explicit(&self->n_overflow, memory_order_relaxed);
}

size_t
acct_size(const acct_t *self)
{
    return atomic_load_explicit(&self->n_used, memory_order_relaxed);
}
