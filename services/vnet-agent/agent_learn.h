/* SPDX-License-Identifier: MIT */
/* MAC learning policy: who may own a learned MAC, for how long, and how
 * many.  The control thread keeps one table of claims (MAC -> owner, a
 * local port or an overlay link, and when the owner last showed it) and
 * asks it before each learned entry goes into the forwarding table
 * (agent_fwd): a MAC belongs to the first owner until that owner's claim
 * lapses, a local port beats a remote claim, every owner and the table
 * have caps, and claims age out.  Control thread only: no locking. */
#ifndef AGENT_LEARN_H
#define AGENT_LEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent_fwd.h"

/* Owner indices this table can count for (ports and links). */
enum { LEARN_MAX_OWNERS = 1024 };

struct learn_cfg {
    uint32_t max;               /* claims in all (>= 1) */
    uint32_t max_per_link;      /* claims of one overlay link (agent) */
    uint32_t max_per_port;      /* claims of one local port */
    uint64_t claim_us;          /* a claim not refreshed this long may be
                                 * taken by another owner */
    uint64_t age_us;            /* a claim not refreshed this long is
                                 * forgotten (>= claim_us) */
};

/* What learn_claim() decided. */
enum learn_result {
    LEARN_REFRESHED = 0,        /* the owner's already: time refreshed */
    LEARN_ADDED = 1,            /* a new claim: set the entry */
    LEARN_MOVED = 2,            /* taken from another owner: set it */
    LEARN_REFUSED = 3,          /* another owner's live claim holds it */
    LEARN_CAPPED = 4,           /* the owner's or the table's cap */
    LEARN_INVALID = 5,          /* not a unicast MAC, or a bad owner */
};

/* Counters since the start. */
struct learn_stats {
    uint64_t added;
    uint64_t moved;             /* claims that changed owner */
    uint64_t refused;           /* claims refused: another owner's */
    uint64_t cap_hits;          /* claims refused: a cap */
    uint64_t aged;              /* claims that aged out */
};

typedef struct learn learn_t;

/* Creates an empty table with the limits of '*cfg' (copied).  Returns
 * NULL when out of memory or 'cfg' is unusable.  The caller owns it. */
learn_t *learn_new(const struct learn_cfg *cfg);

/* Frees '*self_p' if not NULL and sets it to NULL. */
void learn_destroy(learn_t **self_p);

/* 'owner' (FWD_PORT or FWD_LINK, index < LEARN_MAX_OWNERS) shows 'mac'
 * at 'now_us' (a frame from it, or a hello listing it).  Applies the
 * rules: the owner's claim is refreshed; a new MAC is added within the
 * caps; a MAC another owner holds moves when the new owner is a local
 * port and the old one a link, or when the old claim is older than
 * claim_us, else the claim is refused.  On LEARN_MOVED, '*prev' (if not
 * NULL) is the old owner. */
enum learn_result learn_claim(learn_t *self, uint64_t mac,
                              struct fwd_action owner, uint64_t now_us,
                              struct fwd_action *prev);

/* Returns the owner of 'mac' (FWD_NONE if none) and, if 'seen_us' is not
 * NULL, when it last showed it. */
struct fwd_action learn_owner(const learn_t *self, uint64_t mac,
                              uint64_t *seen_us);

/* Whether 'mac' is claimed and the claim is live (refreshed within
 * claim_us of 'now_us'). */
bool learn_live(const learn_t *self, uint64_t mac, uint64_t now_us);

/* Forgets claims older than age_us at 'now_us', calling 'fn' (if not
 * NULL) for each with its MAC and owner.  Returns how many. */
typedef void learn_gone_fn(uint64_t mac, struct fwd_action owner,
                           void *arg);
size_t learn_expire(learn_t *self, uint64_t now_us, learn_gone_fn *fn,
                    void *arg);

/* Forgets every claim of 'owner' (a link that went away: its index will
 * be reused).  Returns how many. */
size_t learn_forget(learn_t *self, struct fwd_action owner);

/* Claims held in all, and by 'owner'. */
size_t learn_size(const learn_t *self);
size_t learn_count(const learn_t *self, struct fwd_action owner);

/* The counters. */
const struct learn_stats *learn_stats(const learn_t *self);

#endif /* AGENT_LEARN_H */
