/* SPDX-License-Identifier: MIT */
/* Memory for decoded messages.  protobuf-c allocates each submessage,
 * string and array of a decoded message on its own: a topology or matrix
 * of a few hundred entries is a few hundred malloc() and free() calls.
 * An arena hands the decoder pieces of one or a few blocks instead, all
 * given back at once; a budget bounds what one hostile message can make
 * us allocate.  Not thread-safe; one arena per decoded message. */
#ifndef VR_ARENA_H
#define VR_ARENA_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

typedef struct arena_block arena_block_t;

/* An arena being filled.  Zero it (or set 'limit') before use; 'blocks'
 * is what arena_release() gives back. */
struct arena {
    arena_block_t *blocks;      /* newest first */
    size_t limit;               /* bytes it may hand out; 0: any */
    size_t used;                /* bytes handed out so far */
    bool exceeded;              /* a request went over 'limit' */
};

/* A protobuf-c allocator over 'a': its free() does nothing, the memory
 * goes back with arena_release(). */
ProtobufCAllocator arena_allocator(struct arena *a);

/* Gives back every block of 'blocks' and sets it to NULL. */
void arena_release(arena_block_t **blocks);

#endif
