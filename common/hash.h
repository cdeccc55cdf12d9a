/* SPDX-License-Identifier: MIT */
/* The one 64-bit mixer every hash table and generator here uses:
 * splitmix64's finalizer.  Every input bit flips about half the output
 * bits, so the low bits used as a table index are well spread.  Header
 * only: it belongs on hot paths, inlined. */
#ifndef VR_HASH_H
#define VR_HASH_H

#include <stdint.h>

/* The golden-ratio increment of splitmix64's generator. */
#define HASH_GOLDEN UINT64_C(0x9e3779b97f4a7c15)

static inline uint64_t
hash_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

#endif /* VR_HASH_H */
