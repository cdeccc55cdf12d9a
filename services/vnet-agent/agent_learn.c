/* SPDX-License-Identifier: MIT */
/* The claims table behind MAC learning.  Open addressing over a fixed
 * array twice the cap (no growth: the cap is the bound), with linear
 * probing and backward-shift deletion, and a claim count per owner for
 * the per-owner caps.  agent_ctl.c consults it for every learn event and
 * hello, and expires it once a period. */
#include "agent_learn.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "eth.h"
#include "hash.h"

struct learn_slot {
    uint64_t mac;               /* 0: free */
    uint64_t seen_us;           /* when the owner last showed it */
    struct fwd_action owner;
};

struct learn {
    struct learn_cfg cfg;
    struct learn_slot *slots;   /* 'mask' + 1 */
    size_t mask;
    size_t n;                   /* claims held */
    uint64_t seed;              /* MACs are chosen by VMs: a random hash */
    uint32_t n_port[LEARN_MAX_OWNERS]; /* claims per port */
    uint32_t n_link[LEARN_MAX_OWNERS]; /* claims per link */
    struct learn_stats stats;
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

static size_t
s_home(const learn_t *self, uint64_t mac)
{
    return hash_mix64(self->seed ^ mac) & self->mask;
}

/* The slot holding 'mac', or the free slot ending its run. */
static struct learn_slot *
s_find(const learn_t *self, uint64_t mac)
{
    for (size_t i = s_home(self, mac);; i = (i + 1) & self->mask) {
        struct learn_slot *s = &self->slots[i];
        if (s->mac == 0 || s->mac == mac) {
            return s;
        }
    }
}

static bool
s_owner_ok(struct fwd_action o)
{
    return (o.kind == FWD_PORT || o.kind == FWD_LINK)
           && o.index < LEARN_MAX_OWNERS;
}

static uint32_t *
s_count(learn_t *self, struct fwd_action o)
{
    return o.kind == FWD_PORT ? &self->n_port[o.index]
                              : &self->n_link[o.index];
}

static uint32_t
s_cap(const learn_t *self, struct fwd_action o)
{
    return o.kind == FWD_PORT ? self->cfg.max_per_port
                              : self->cfg.max_per_link;
}

learn_t *
learn_new(const struct learn_cfg *cfg)
{
    if (!cfg || cfg->max < 1 || cfg->max > (1u << 30)
        || cfg->age_us < cfg->claim_us) {
        return NULL;
    }
    learn_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    size_t n_slots = 4;
    while (n_slots / 2 < cfg->max) {
        n_slots *= 2;
    }
    self->slots = calloc(n_slots, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    self->cfg = *cfg;
    self->mask = n_slots - 1;
    self->seed = s_seed(self);
    return self;
}

void
learn_destroy(learn_t **self_p)
{
    if (self_p && *self_p) {
        free((*self_p)->slots);
        free(*self_p);
        *self_p = NULL;
    }
}

enum learn_result
learn_claim(learn_t *self, uint64_t mac, struct fwd_action owner,
            uint64_t now_us, struct fwd_action *prev)
{
    assert(self);
    if (mac == 0 || mac > UINT64_C(0xffffffffffff)
        || eth_mac_is_multicast(mac) || !s_owner_ok(owner)) {
        return LEARN_INVALID;
    }
    struct learn_slot *s = s_find(self, mac);
    uint32_t *count = s_count(self, owner);
    if (s->mac == mac) {
        if (s->owner.kind == owner.kind && s->owner.index == owner.index) {
            if (now_us > s->seen_us) {
                s->seen_us = now_us;
            }
            return LEARN_REFRESHED;
        }
        /* A VM behind a local port is known for sure; a remote claim is
         * only what an agent says.  Otherwise the first owner keeps the
         * MAC while it keeps showing it (a migrated VM moves once its old
         * host stops). */
        bool port_over_link = owner.kind == FWD_PORT
                              && s->owner.kind == FWD_LINK;
        bool lapsed = now_us >= s->seen_us
                      && now_us - s->seen_us >= self->cfg.claim_us;
        if (!port_over_link && !lapsed) {
            self->stats.refused++;
            return LEARN_REFUSED;
        }
        if (*count >= s_cap(self, owner)) {
            self->stats.cap_hits++;
            return LEARN_CAPPED;
        }
        if (prev) {
            *prev = s->owner;
        }
        (*s_count(self, s->owner))--;
        (*count)++;
        s->owner = owner;
        s->seen_us = now_us;
        self->stats.moved++;
        return LEARN_MOVED;
    }
    if (self->n >= self->cfg.max || *count >= s_cap(self, owner)) {
        self->stats.cap_hits++;
        return LEARN_CAPPED;
    }
    *s = (struct learn_slot) { .mac = mac, .seen_us = now_us,
                               .owner = owner };
    (*count)++;
    self->n++;
    self->stats.added++;
    return LEARN_ADDED;
}

struct fwd_action
learn_owner(const learn_t *self, uint64_t mac, uint64_t *seen_us)
{
    static const struct fwd_action none = { FWD_NONE, 0 };
    if (mac == 0) {
        return none;
    }
    const struct learn_slot *s = s_find(self, mac);
    if (s->mac != mac) {
        return none;
    }
    if (seen_us) {
        *seen_us = s->seen_us;
    }
    return s->owner;
}

bool
learn_live(const learn_t *self, uint64_t mac, uint64_t now_us)
{
    uint64_t seen;
    if (learn_owner(self, mac, &seen).kind == FWD_NONE) {
        return false;
    }
    return now_us < seen || now_us - seen < self->cfg.claim_us;
}

/* Empties slot 'i' and moves later entries of its run back into the hole
 * (Knuth's algorithm R), so lookups need no tombstones. */
static void
s_delete_at(learn_t *self, size_t i)
{
    struct learn_slot *s = &self->slots[i];
    (*s_count(self, s->owner))--;
    self->n--;
    for (size_t j = (i + 1) & self->mask;; j = (j + 1) & self->mask) {
        struct learn_slot *next = &self->slots[j];
        if (next->mac == 0) {
            break;
        }
        size_t home = s_home(self, next->mac);
        if (((j - home) & self->mask) >= ((j - i) & self->mask)) {
            self->slots[i] = *next;
            i = j;
        }
    }
    self->slots[i].mac = 0;
}

/* Removes every claim for which 'pred' holds; see fwd_table_remove_target
 * for why slot 'i' is looked at again after a deletion. */
typedef bool s_pred_fn(const learn_t *self, const struct learn_slot *s,
                       const void *arg);

static size_t
s_remove_if(learn_t *self, s_pred_fn *pred, const void *arg,
            learn_gone_fn *fn, void *fn_arg)
{
    size_t n = 0;
    for (size_t i = 0; i <= self->mask; i++) {
        while (self->slots[i].mac != 0 && pred(self, &self->slots[i], arg)) {
            struct learn_slot gone = self->slots[i];
            s_delete_at(self, i);
            n++;
            if (fn) {
                fn(gone.mac, gone.owner, fn_arg);
            }
        }
    }
    return n;
}

static bool
s_is_old(const learn_t *self, const struct learn_slot *s, const void *arg)
{
    uint64_t now = *(const uint64_t *) arg;
    return now >= s->seen_us && now - s->seen_us >= self->cfg.age_us;
}

size_t
learn_expire(learn_t *self, uint64_t now_us, learn_gone_fn *fn, void *arg)
{
    assert(self);
    size_t n = s_remove_if(self, s_is_old, &now_us, fn, arg);
    self->stats.aged += n;
    return n;
}

static bool
s_is_of(const learn_t *self, const struct learn_slot *s, const void *arg)
{
    (void) self;
    const struct fwd_action *o = arg;
    return s->owner.kind == o->kind && s->owner.index == o->index;
}

size_t
learn_forget(learn_t *self, struct fwd_action owner)
{
    assert(self);
    if (!s_owner_ok(owner) || *s_count(self, owner) == 0) {
        return 0;
    }
    return s_remove_if(self, s_is_of, &owner, NULL, NULL);
}

size_t
learn_size(const learn_t *self)
{
    return self->n;
}

size_t
learn_count(const learn_t *self, struct fwd_action owner)
{
    if (!s_owner_ok(owner)) {
        return 0;
    }
    return owner.kind == FWD_PORT ? self->n_port[owner.index]
                                  : self->n_link[owner.index];
}

const struct learn_stats *
learn_stats(const learn_t *self)
{
    return &self->stats;
}
