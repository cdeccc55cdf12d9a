/* SPDX-License-Identifier: MIT */
/* Token buckets per source MAC in a 4-way set-associative table, for the
 * packet threads (agent_vm.c, agent_ovl.c).  Tokens are kept in
 * millionths, so a refill is one multiply of the elapsed microseconds by
 * the rate, with no division on the hot path. */
#include "agent_flood.h"

#include <assert.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include "hash.h"

enum { S_WAYS = 4 };
#define S_ONE UINT64_C(1000000)  /* one token */

struct flood_bucket {
    uint64_t src;               /* 0: free */
    uint64_t tokens;            /* millionths of a token */
    uint64_t last_us;           /* last refill */
    uint64_t pad;
};

struct flood {
    struct flood_cfg cfg;
    struct flood_bucket *buckets; /* 'mask' + 1 sets of S_WAYS */
    size_t mask;
    uint64_t seed;              /* sources are chosen by VMs */
    uint64_t cap;               /* burst, in millionths */
    struct flood_bucket *admit; /* per ingress: new buckets */
    struct flood_bucket *shared; /* per ingress: sources without one */
    struct flood_stats stats;
};

static uint64_t
s_seed(const void *salt)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != sizeof seed) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = (uint64_t) ts.tv_nsec ^ (uint64_t) (uintptr_t) salt;
    }
    return seed;
}

flood_t *
flood_new(const struct flood_cfg *cfg)
{
    if (!cfg || cfg->rate == 0 || cfg->burst == 0 || cfg->n_sources == 0
        || cfg->n_sources > (1u << 24) || cfg->n_ingress == 0
        || cfg->n_ingress > (1u << 16)) {
        return NULL;
    }
    flood_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    size_t n_sets = 1;
    while (n_sets * S_WAYS < cfg->n_sources) {
        n_sets *= 2;
    }
    self->buckets = calloc(n_sets * S_WAYS, sizeof *self->buckets);
    self->admit = calloc(cfg->n_ingress, sizeof *self->admit);
    self->shared = calloc(cfg->n_ingress, sizeof *self->shared);
    if (!self->buckets || !self->admit || !self->shared) {
        flood_destroy(&self);
        return NULL;
    }
    self->cfg = *cfg;
    self->mask = n_sets - 1;
    self->seed = s_seed(self);
    self->cap = (uint64_t) cfg->burst * S_ONE;
    for (uint32_t i = 0; i < cfg->n_ingress; i++) {
        self->admit[i].tokens = self->shared[i].tokens = self->cap;
    }
    return self;
}

void
flood_destroy(flood_t **self_p)
{
    if (self_p && *self_p) {
        free((*self_p)->buckets);
        free((*self_p)->admit);
        free((*self_p)->shared);
        free(*self_p);
        *self_p = NULL;
    }
}

/* Refills 'b' up to 'now_us' and takes a token if it has one. */
static bool
s_take(const flood_t *self, struct flood_bucket *b, uint64_t now_us)
{
    if (now_us > b->last_us) {
        uint64_t dt = now_us - b->last_us;
        /* Past a full refill the sum would only be capped: skip the
         * multiply, which could overflow after a long idle. */
        uint64_t full = self->cap / self->cfg.rate + 1;
        uint64_t add = dt >= full ? self->cap : dt * self->cfg.rate;
        b->tokens = b->tokens + add > self->cap ? self->cap
                                                : b->tokens + add;
        b->last_us = now_us;
    }
    if (b->tokens >= S_ONE) {
        b->tokens -= S_ONE;
        return true;
    }
    return false;
}

static bool
s_count(flood_t *self, bool ok)
{
    if (ok) {
        self->stats.allowed++;
    } else {
        self->stats.limited++;
    }
    return ok;
}

bool
flood_allow(flood_t *self, uint64_t src, uint32_t ingress, uint64_t now_us)
{
    assert(self);
    if (ingress >= self->cfg.n_ingress) {
        ingress = self->cfg.n_ingress - 1;
    }
    uint64_t key = (src & UINT64_C(0xffffffffffff)) | (uint64_t) ingress
                                                         << 48;
    struct flood_bucket *set =
        &self->buckets[(hash_mix64(self->seed ^ key) & self->mask) * S_WAYS];
    struct flood_bucket *victim = NULL;
    for (int i = 0; i < S_WAYS; i++) {
        struct flood_bucket *b = &set[i];
        if (b->src == key && src != 0) {
            return s_count(self, s_take(self, b, now_us));
        }
        /* A free bucket, or the one idle longest of those idle long
         * enough: that source has refilled, and forgetting it is safe. */
        bool idle = b->src == 0 || (now_us >= b->last_us
                                    && now_us - b->last_us
                                           >= self->cfg.idle_us);
        if (idle && (!victim || b->src == 0
                     || (victim->src != 0 && b->last_us < victim->last_us))) {
            victim = b;
        }
    }
    /* A new source: a bucket of its own only within its ingress's rate of
     * new sources, else it shares the ingress's overflow bucket. */
    if (victim && src != 0 && s_take(self, &self->admit[ingress], now_us)) {
        *victim = (struct flood_bucket) {
            .src = key, .tokens = self->cap, .last_us = now_us,
        };
        return s_count(self, s_take(self, victim, now_us));
    }
    self->stats.shared++;
    return s_count(self, s_take(self, &self->shared[ingress], now_us));
}

const struct flood_stats *
flood_stats(const flood_t *self)
{
    return &self->stats;
}
