/* SPDX-License-Identifier: MIT */
/* Malformed bus messages for tests: envelopes that lie about their version,
 * type or body, cut-short ones, and random bytes. */
#ifndef VR_TEST_GARBAGE_H
#define VR_TEST_GARBAGE_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.pb-c.h"

/* The schema version this build speaks: an envelope wrong only in what
 * else the caller chose. */
#define GARBAGE_V VR__SCHEMA_VERSION__SCHEMA_VERSION_CURRENT

/* Packs an envelope with the given fields and a correct body check, so
 * that only what the caller chose is wrong.  Returns a malloc'd buffer of
 * '*size_p' bytes; the caller frees it. */
uint8_t *garbage_envelope(uint32_t version, int type, const uint8_t *body,
                          size_t body_size, size_t *size_p);

/* Fills 'buf' with 'size' pseudo-random bytes from '*seed'. */
void garbage_random(uint8_t *buf, size_t size, uint32_t *seed);

#endif /* VR_TEST_GARBAGE_H */
