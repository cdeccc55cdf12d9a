/* SPDX-License-Identifier: MIT */
/* The forwarding table: where a frame goes, by destination MAC and
 * optionally source MAC.  A table is built by the control thread and then
 * never changed: the packet threads read the current one through an atomic
 * pointer (see agent.c), so a change is a swap to a new table, and a
 * per-thread exact-match cache in front of it makes a lookup one probe on
 * average.  Operator rules come first, then learned MAC locations. */
#ifndef AGENT_FWD_H
#define AGENT_FWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a frame goes. */
enum fwd_kind {
    FWD_NONE = 0,               /* no entry: the caller's default applies */
    FWD_LINK = 1,               /* overlay link 'index' */
    FWD_PORT = 2,               /* local VM port 'index' */
    FWD_DROP = 3,               /* drop it */
};

struct fwd_action {
    uint16_t kind;              /* enum fwd_kind */
    uint16_t index;             /* link or port index */
};

/* Where an entry came from; rules win over learned entries. */
enum fwd_origin {
    FWD_RULE = 0,               /* set through the control socket */
    FWD_LEARNED = 1,            /* learned from a frame's source MAC */
};

typedef struct fwd_table fwd_table_t;

/* Creates an empty table, sized for about 'n_hint' entries (it grows).
 * Returns NULL when out of memory.  The caller owns the result. */
fwd_table_t *fwd_table_new(size_t n_hint);

/* Frees '*self_p' if not NULL and sets it to NULL. */
void fwd_table_destroy(fwd_table_t **self_p);

/* Returns a new table with the same entries (for building the next one
 * from the current one), or NULL. */
fwd_table_t *fwd_table_clone(const fwd_table_t *self);

/* Sets the entry for ('dst', 'src') of 'origin' (src 0 means any source;
 * src-specific entries exist only as rules), replacing one with the same
 * key and origin.  Returns 0 or -1 (out of memory). */
int fwd_table_set(fwd_table_t *self, uint64_t dst, uint64_t src,
                  enum fwd_origin origin, struct fwd_action action);

/* Removes the entry for ('dst', 'src', 'origin'); returns true if there
 * was one. */
bool fwd_table_remove(fwd_table_t *self, uint64_t dst, uint64_t src,
                      enum fwd_origin origin);

/* Removes every entry whose action points at link 'index' (or port, by
 * 'kind'), of any origin; returns how many.  For link removal. */
size_t fwd_table_remove_target(fwd_table_t *self, enum fwd_kind kind,
                               uint16_t index);

/* Looks up a frame from 'src' to 'dst': a rule for (dst, src), else a rule
 * for (dst, any), else a learned entry for dst; FWD_NONE if none. */
struct fwd_action fwd_table_lookup(const fwd_table_t *self, uint64_t dst,
                                   uint64_t src);

/* Returns the learned action for 'mac' alone (FWD_NONE if none): where a
 * MAC lives, for learning and for VM locations. */
struct fwd_action fwd_table_learned(const fwd_table_t *self, uint64_t mac);

/* A number that is different for every table ever made in this process,
 * so caches can tell they are stale. */
uint64_t fwd_table_generation(const fwd_table_t *self);

/* Number of entries of 'origin'. */
size_t fwd_table_count(const fwd_table_t *self, enum fwd_origin origin);

/* Calls 'fn' for each entry (in no particular order). */
typedef void fwd_visit_fn(uint64_t dst, uint64_t src, enum fwd_origin origin,
                          struct fwd_action action, void *arg);
void fwd_table_foreach(const fwd_table_t *self, fwd_visit_fn *fn, void *arg);

/* A per-thread exact-match cache of (dst, src) -> action, in front of the
 * table.  Direct-mapped, FWD_CACHE_SIZE slots; a slot whose generation is
 * not the table's is a miss, so a table swap invalidates the whole cache
 * at no cost. */
enum { FWD_CACHE_SIZE = 4096 };     /* a power of two */

struct fwd_cache_slot {
    uint64_t dst;
    uint64_t src;
    uint64_t gen;               /* table generation it was filled from */
    struct fwd_action action;
};

struct fwd_cache {
    struct fwd_cache_slot slots[FWD_CACHE_SIZE];
    uint64_t hits;              /* counters: single writer */
    uint64_t misses;
};

/* Zeroes '*c' (every slot a miss). */
void fwd_cache_init(struct fwd_cache *c);

/* fwd_table_lookup() through the cache. */
struct fwd_action fwd_cache_lookup(struct fwd_cache *c,
                                   const fwd_table_t *table, uint64_t dst,
                                   uint64_t src);

#endif /* AGENT_FWD_H */
