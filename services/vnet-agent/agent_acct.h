/* SPDX-License-Identifier: MIT */
/* Traffic accounting for VTTIF: bytes and frames per (source MAC,
 * destination MAC), counted on the forwarding path where a frame leaves a
 * local VM.  One table per packet thread, written by that thread only
 * (plain loads and stores, no locks, no atomic read-modify-write); the
 * control thread reads the cumulative counters now and then to publish the
 * local matrix.  Open addressing over a power-of-two array allocated at
 * start.  Pairs age: the writer calls acct_sweep() once a period, a pair
 * with no frames for a number of sweeps is removed, and a full table
 * makes room for a new pair by evicting one that was idle over the last
 * sweep; only when there is none is the new pair not counted
 * ('n_overflow').  So MACs that a VM makes up cannot fill the table for
 * good, and pairs that carry traffic are never pushed out. */
#ifndef AGENT_ACCT_H
#define AGENT_ACCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct acct_entry {
    uint64_t src;               /* 0 marks a free slot (MAC 0 is not used) */
    uint64_t dst;
    uint64_t bytes;             /* cumulative */
    uint64_t frames;            /* cumulative */
};

typedef struct acct acct_t;

/* Creates a table for up to 'capacity' pairs (rounded up; the array is
 * twice that, so probes stay short, and a second array of that size that
 * sweeps rebuild into, with aging state: about 200 bytes per pair).
 * Returns NULL when out of memory. */
acct_t *acct_new(size_t capacity);

/* Frees '*self_p' if not NULL and sets it to NULL. */
void acct_destroy(acct_t **self_p);

/* Counts one frame of 'bytes' bytes that is 'frames' wire frames (more
 * than 1 for a GSO super-frame) from 'src' to 'dst'.  Writer thread only;
 * a few nanoseconds: one hash, usually one probe (the last pair is also
 * remembered, which catches trains of frames). */
void acct_count(acct_t *self, uint64_t src, uint64_t dst, uint64_t bytes,
                uint64_t frames);

/* Copies every pair's current counters into 'out' (up to 'max' entries)
 * and returns how many there are in all (may exceed 'max').  Any thread:
 * each counter is read atomically, so it is never torn, though a pair's
 * bytes and frames may be one frame apart.  A snapshot that overlapped a
 * sweep's rebuild is taken again (a few times at most: sweeps are one a
 * period); a pair evicted while it is read is left out. */
size_t acct_snapshot(const acct_t *self, struct acct_entry *out, size_t max);

/* One aging round; writer thread only, once a period (the agent uses its
 * publishing period, so a pair idle for a round has been published since
 * its last frame).  A pair that counted no frame since the last round has
 * been idle one round more; one idle for 'max_idle' rounds (at least 1)
 * is removed.  Pairs idle this round become the candidates a full table
 * evicts.  Returns the number of pairs removed.  Rebuilds the table into
 * its second array when anything was removed or evicted, which a
 * concurrent acct_snapshot() notices and retries. */
size_t acct_sweep(acct_t *self, uint32_t max_idle);

/* Frames that were not counted: their pair could not be placed because
 * the table was full of pairs that carry traffic, or their source MAC was
 * 0 (one per acct_count() call). */
uint64_t acct_overflow(const acct_t *self);

/* Pairs evicted (idle, to make room for a new pair) and pairs aged out
 * (removed by acct_sweep()), since the start. */
uint64_t acct_evicted(const acct_t *self);
uint64_t acct_aged(const acct_t *self);

/* Number of pairs in the table. */
size_t acct_size(const acct_t *self);

#endif /* AGENT_ACCT_H */
