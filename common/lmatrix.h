/* SPDX-License-Identifier: MIT */
/* A LocalMatrix's entries: four packed columns (src_mac, dst_mac, bytes,
 * frames; see proto/agent.proto), made, filled and read in one place. */
#ifndef VR_LMATRIX_H
#define VR_LMATRIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msgtype.h"

/* Gives 'm' room for 'n' entries in one allocation (its columns hold 0
 * entries until lmatrix_set()/lmatrix_len_set()); 0, or -1 when memory is
 * short.  Freed with lmatrix_free(), not protobuf-c's free. */
int lmatrix_alloc(Vr__LocalMatrix *m, size_t n);
void lmatrix_free(Vr__LocalMatrix *m);

/* Sets entry 'i' (within the room lmatrix_alloc() gave). */
static inline void
lmatrix_set(Vr__LocalMatrix *m, size_t i, uint64_t src, uint64_t dst,
            uint64_t bytes, uint64_t frames)
{
    m->src_mac[i] = src;
    m->dst_mac[i] = dst;
    m->bytes[i] = bytes;
    m->frames[i] = frames;
}

/* Says the matrix has 'n' entries (the first n set). */
void lmatrix_len_set(Vr__LocalMatrix *m, size_t n);

/* The number of entries when the four columns agree on it; SIZE_MAX when
 * they do not (a matrix to refuse). */
size_t lmatrix_len(const Vr__LocalMatrix *m);

#endif
