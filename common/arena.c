/* SPDX-License-Identifier: MIT */
#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

/* The first block holds a typical decoded matrix or topology whole; a
 * larger message takes blocks of twice the size each time, up to the
 * largest, so a big one costs a handful of blocks, not thousands. */
enum {
    S_FIRST = 16 * 1024,
    S_LARGEST = 1024 * 1024,
    S_ALIGN = alignof(max_align_t),
};

struct arena_block {
    arena_block_t *next;
    size_t size;                /* bytes in 'mem' */
    size_t used;
    alignas(max_align_t) unsigned char mem[];
};

static void *
s_alloc(void *data, size_t size)
{
    struct arena *a = data;
    if (size > SIZE_MAX / 2) {
        return NULL;
    }
    if (a->limit && size > a->limit - a->used) {
        a->exceeded = true;
        return NULL;
    }
    size_t want = (size + S_ALIGN - 1) & ~(size_t) (S_ALIGN - 1);
    arena_block_t *b = a->blocks;
    if (!b || b->size - b->used < want) {
        size_t cap = b ? b->size * 2 : S_FIRST;
        if (cap > S_LARGEST) {
            cap = S_LARGEST;
        }
        if (cap < want) {
            cap = want;         /* one piece larger than any block */
        }
        arena_block_t *nb = malloc(sizeof *nb + cap);
        if (!nb) {
            return NULL;
        }
        nb->size = cap;
        nb->used = 0;
        nb->next = b;
        a->blocks = b = nb;
    }
    void *p = b->mem + b->used;
    b->used += want;
    a->used += size;
    return p;
}

static void
s_free(void *data, void *p)
{
    (void) data;
    (void) p;                   /* given back with the whole arena */
}

ProtobufCAllocator
arena_allocator(struct arena *a)
{
    return (ProtobufCAllocator) {
        .alloc = s_alloc, .free = s_free, .allocator_data = a,
    };
}

void
arena_release(arena_block_t **blocks)
{
    arena_block_t *b = *blocks;
    while (b) {
        arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    *blocks = NULL;
}
