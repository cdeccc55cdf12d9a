/* SPDX-License-Identifier: MIT */
/* The forwarding table and its per-thread cache.  The table is an open-
 * addressed array with linear probing: entries are 24-byte values that
 * nothing else points at, so a flat array needs no per-entry allocation,
 * a probe walks adjacent memory instead of chasing pointers, and a clone
 * (how the control thread builds the next table) is a single memcpy.
 * agent.c publishes tables to the packet threads, which call
 * fwd_cache_lookup() for every frame. */
#include "agent_fwd.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "hash.h"

/* At most half the slots are used, so an unsuccessful probe averages
 * 2.5 slots and there is always a free slot to end it. */
enum { S_MIN_SLOTS = 16 };

struct fwd_slot {
    uint64_t dst;               /* destination MAC */
    uint64_t src;               /* source MAC, 0 for any */
    struct fwd_action action;
    uint8_t origin;             /* enum fwd_origin */
    bool used;                  /* false: a free slot */
};

struct fwd_table {
    struct fwd_slot *slots;     /* 'mask' + 1 of them, a power of two */
    size_t mask;
    uint64_t seed;              /* mixed into the hash; kept by clones */
    uint64_t gen;               /* see fwd_table_generation() */
    size_t n_rules;             /* entries of origin FWD_RULE */
    size_t n_learned;           /* entries of origin FWD_LEARNED */
    size_t n_src_rules;         /* rules with a source MAC */
};

/* Generation 0 is never handed out, so a zeroed cache slot never hits. */
static atomic_uint_fast64_t s_last_gen;

static uint64_t
s_next_gen(void)
{
    return atomic_fetch_add_explicit(&s_last_gen, 1, memory_order_relaxed)
           + 1;
}

/* Each new table gets a random hash seed (its clones keep it), because
 * learned entries are keyed by source MACs that any VM can choose: with a
 * fixed hash, a VM could pick MACs that all land in one run and make
 * every probe walk it. */
static uint64_t
s_random_seed(void)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != sizeof seed) {
        /* Early boot: weaker, but still differs per run and table. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t) ts.tv_nsec ^ (uint64_t) ts.tv_sec << 32
               ^ (uint64_t) (uintptr_t) &ts ^ s_next_gen();
    }
    return seed;
}

/* The origin is not hashed: rule (dst, any) and learned (dst) then share
 * a probe run, and one walk finds both. */
static inline uint64_t
s_hash(uint64_t seed, uint64_t dst, uint64_t src)
{
    return hash_mix64(seed ^ dst ^ (src << 32 | src >> 32));
}

/* Returns the slot holding ('dst', 'src', 'origin'), or the free slot
 * that ends its run. */
static inline struct fwd_slot *
s_find(const fwd_table_t *t, uint64_t dst, uint64_t src, uint8_t origin)
{
    size_t i = s_hash(t->seed, dst, src) & t->mask;
    for (;; i = (i + 1) & t->mask) {
        struct fwd_slot *s = &t->slots[i];
        if (!s->used || (s->dst == dst && s->src == src
                         && s->origin == origin)) {
            return s;
        }
    }
}

static inline struct fwd_action
s_lookup(const fwd_table_t *t, uint64_t dst, uint64_t src)
{
    static const struct fwd_action none = { FWD_NONE, 0 };

    /* Source-specific rules are rare: without any, skip their probe. */
    if (src != 0 && t->n_src_rules != 0) {
        const struct fwd_slot *s = s_find(t, dst, src, FWD_RULE);
        if (s->used) {
            return s->action;
        }
    }

    /* One walk of dst's run finds both the rule for (dst, any) and the
     * learned entry; a rule wins wherever it sits in the run. */
    struct fwd_action learned = none;
    size_t i = s_hash(t->seed, dst, 0) & t->mask;
    for (;; i = (i + 1) & t->mask) {
        const struct fwd_slot *s = &t->slots[i];
        if (!s->used) {
            return learned;
        }
        if (s->dst == dst && s->src == 0) {
            if (s->origin == FWD_RULE) {
                return s->action;
            }
            if (t->n_rules == t->n_src_rules) {
                return s->action;       /* no rule can follow */
            }
            learned = s->action;
        }
    }
}

static size_t
s_n_slots_for(size_t n)
{
    size_t n_slots = S_MIN_SLOTS;
    while (n_slots / 2 < n && n_slots < SIZE_MAX / 4) {
        n_slots *= 2;
    }
    return n_slots;
}

fwd_table_t *
fwd_table_new(size_t n_hint)
{
    fwd_table_t *t = calloc(1, sizeof *t);
    if (!t) {
        return NULL;
    }
    size_t n_slots = s_n_slots_for(n_hint);
    t->slots = calloc(n_slots, sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return NULL;
    }
    t->mask = n_slots - 1;
    t->seed = s_random_seed();
    t->gen = s_next_gen();
    return t;
}

void
fwd_table_destroy(fwd_table_t **self_p)
{
    if (self_p && *self_p) {
        free((*self_p)->slots);
        free(*self_p);
        *self_p = NULL;
    }
}

fwd_table_t *
fwd_table_clone(const fwd_table_t *self)
{
    assert(self);
    fwd_table_t *t = malloc(sizeof *t);
    if (!t) {
        return NULL;
    }
    *t = *self;
    size_t size = (self->mask + 1) * sizeof *self->slots;
    t->slots = malloc(size);
    if (!t->slots) {
        free(t);
        return NULL;
    }
    memcpy(t->slots, self->slots, size);
    t->gen = s_next_gen();
    return t;
}

/* Moves every entry into an array twice the size. */
static int
s_grow(fwd_table_t *t)
{
    size_t old_n = t->mask + 1;
    struct fwd_slot *old = t->slots;
    struct fwd_slot *slots = calloc(old_n * 2, sizeof *slots);
    if (!slots) {
        return -1;
    }
    t->slots = slots;
    t->mask = old_n * 2 - 1;
    for (size_t k = 0; k < old_n; k++) {
        if (old[k].used) {
            *s_find(t, old[k].dst, old[k].src, old[k].origin) = old[k];
        }
    }
    free(old);
    return 0;
}

static size_t *
s_counter(fwd_table_t *t, uint8_t origin)
{
    return origin == FWD_RULE ? &t->n_rules : &t->n_learned;
}

int
fwd_table_set(fwd_table_t *self, uint64_t dst, uint64_t src,
              enum fwd_origin origin, struct fwd_action action)
{
    assert(self);
    assert(origin == FWD_RULE || (origin == FWD_LEARNED && src == 0));

    /* A caller that built its cache from this (unpublished) table must
     * see it as a different table now. */
    self->gen = s_next_gen();

    struct fwd_slot *s = s_find(self, dst, src, origin);
    if (s->used) {
        s->action = action;
        return 0;
    }
    size_t n = self->n_rules + self->n_learned;
    if ((n + 1) * 2 > self->mask + 1) {
        if (s_grow(self) != 0) {
            return -1;
        }
        s = s_find(self, dst, src, origin);
    }
    *s = (struct fwd_slot) {
        .dst = dst,
        .src = src,
        .action = action,
        .origin = (uint8_t) origin,
        .used = true,
    };
    ++*s_counter(self, (uint8_t) origin);
    if (origin == FWD_RULE && src != 0) {
        self->n_src_rules++;
    }
    return 0;
}

/* Empties slot 'i' and moves later entries of its run back into the hole
 * (Knuth's algorithm R), so a lookup never needs tombstones. */
static void
s_delete_at(fwd_table_t *t, size_t i)
{
    struct fwd_slot *s = &t->slots[i];
    --*s_counter(t, s->origin);
    if (s->origin == FWD_RULE && s->src != 0) {
        t->n_src_rules--;
    }
    for (size_t j = (i + 1) & t->mask;; j = (j + 1) & t->mask) {
        struct fwd_slot *next = &t->slots[j];
        if (!next->used) {
            break;
        }
        /* 'next' may fill the hole only if its home is not cyclically in
         * (i, j]: otherwise a lookup would start past it. */
        size_t home = s_hash(t->seed, next->dst, next->src) & t->mask;
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slots[i] = *next;
            i = j;
        }
    }
    t->slots[i].used = false;
}

bool
fwd_table_remove(fwd_table_t *self, uint64_t dst, uint64_t src,
                 enum fwd_origin origin)
{
    assert(self);
    self->gen = s_next_gen();
    struct fwd_slot *s = s_find(self, dst, src, (uint8_t) origin);
    if (!s->used) {
        return false;
    }
    s_delete_at(self, (size_t) (s - self->slots));
    return true;
}

size_t
fwd_table_remove_target(fwd_table_t *self, enum fwd_kind kind,
                        uint16_t index)
{
    assert(self);
    self->gen = s_next_gen();
    size_t n_removed = 0;
    for (size_t i = 0; i <= self->mask; i++) {
        /* A deletion may move a later entry into slot 'i' (or, wrapping,
         * an earlier one): look at 'i' again until it keeps its entry.
         * Entries move only into holes, so none is skipped. */
        while (self->slots[i].used && self->slots[i].action.kind == kind
               && self->slots[i].action.index == index) {
            s_delete_at(self, i);
            n_removed++;
        }
    }
    return n_removed;
}

struct fwd_action
fwd_table_lookup(const fwd_table_t *self, uint64_t dst, uint64_t src)
{
    return s_lookup(self, dst, src);
}

struct fwd_action
fwd_table_learned(const fwd_table_t *self, uint64_t mac)
{
    static const struct fwd_action none = { FWD_NONE, 0 };
    const struct fwd_slot *s = s_find(self, mac, 0, FWD_LEARNED);
    return s->used ? s->action : none;
}

uint64_t
fwd_table_generation(const fwd_table_t *self)
{
    return self->gen;
}

size_t
fwd_table_count(const fwd_table_t *self, enum fwd_origin origin)
{
    return origin == FWD_RULE ? self->n_rules : self->n_learned;
}

void
fwd_table_foreach(const fwd_table_t *self, fwd_visit_fn *fn, void *arg)
{
    /* Reads only: safe on a published table that packet threads are
     * reading.  'fn' must not change 'self'. */
    for (size_t i = 0; i <= self->mask; i++) {
        const struct fwd_slot *s = &self->slots[i];
        if (s->used) {
            fn(s->dst, s->src, (enum fwd_origin) s->origin, s->action, arg);
        }
    }
}

void
fwd_cache_init(struct fwd_cache *c)
{
    memset(c, 0, sizeof *c);
}

struct fwd_action
fwd_cache_lookup(struct fwd_cache *c, const fwd_table_t *table, uint64_t dst,
                 uint64_t src)
{
    uint64_t h = s_hash(table->seed, dst, src);
    struct fwd_cache_slot *s = &c->slots[h & (FWD_CACHE_SIZE - 1)];
    /* The generation check makes any slot filled from another table, or
     * from this one before a change, a miss. */
    if (s->gen == table->gen && s->dst == dst && s->src == src) {
        c->hits++;
        return s->action;
    }
    c->misses++;
    struct fwd_action action = s_lookup(table, dst, src);
    s->dst = dst;
    s->src = src;
    s->gen = table->gen;
    s->action = action;
    return action;
}
