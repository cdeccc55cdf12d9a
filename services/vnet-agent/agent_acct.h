/* SPDX-License-Identifier: MIT */
/* Traffic accounting for VTTIF: bytes and frames per (source MAC,
 * destination MAC), counted on the forwarding path where a frame leaves a
 * local VM.  One table per packet thread, written by that thread only
 * (plain loads and stores, no locks, no atomic read-modify-write); the
 * control thread reads the cumulative counters now and then to publish the
 * local matrix.  Open addressing over a power-of-two array allocated at
 * start; a full table counts what it cannot place in 'n_overflow'. */
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
 * twice that, so probes stay short).  Returns NULL when out of memory. */
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
 * bytes and frames may be one frame apart. */
size_t acct_snapshot(const acct_t *self, struct acct_entry *out, size_t max);

/* Frames that were not counted: their pair could not be placed because
 * the table was full, or their source MAC was 0 (one per acct_count()
 * call). */
uint64_t acct_overflow(const acct_t *self);

/* Number of pairs in the table. */
size_t acct_size(const acct_t *self);

#endif /* AGENT_ACCT_H */
