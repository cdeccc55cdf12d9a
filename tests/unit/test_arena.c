/* SPDX-License-Identifier: MIT */
/* common/arena: pieces aligned and apart, a limit that refuses before it
 * allocates, pieces larger than any block, and a decoded message read
 * back the same as with protobuf-c's own allocator, over several blocks.
 * Leaks and overlaps show in the ASan tree. */
#undef NDEBUG
#include <assert.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "arena.h"
#include "lmatrix.h"

static void
test_pieces(void)
{
    struct arena a = { 0 };
    ProtobufCAllocator al = arena_allocator(&a);
    unsigned char *prev = NULL;
    size_t prev_size = 0;
    for (size_t i = 1; i < 3000; i++) {
        size_t size = i % 97 + 1;
        unsigned char *p = al.alloc(al.allocator_data, size);
        assert(p);
        assert((uintptr_t) p % alignof(max_align_t) == 0);
        memset(p, (int) i, size);
        /* The piece before is intact: no overlap. */
        if (prev) {
            for (size_t k = 0; k < prev_size; k++) {
                assert(prev[k] == (unsigned char) (i - 1));
            }
        }
        al.free(al.allocator_data, p); /* does nothing */
        prev = p;
        prev_size = size;
    }
    /* Larger than any block: a block of its own. */
    unsigned char *big = al.alloc(al.allocator_data, 3 * 1024 * 1024);
    assert(big);
    memset(big, 1, 3 * 1024 * 1024);
    assert(al.alloc(al.allocator_data, 10));
    assert(!al.alloc(al.allocator_data, SIZE_MAX - 8)); /* no overflow */
    assert(!a.exceeded);
    arena_release(&a.blocks);
    assert(!a.blocks);
    arena_release(&a.blocks);   /* twice: nothing */
}

static void
test_limit(void)
{
    struct arena a = { .limit = 100 };
    ProtobufCAllocator al = arena_allocator(&a);
    assert(al.alloc(al.allocator_data, 60));
    assert(!a.exceeded);
    assert(!al.alloc(al.allocator_data, 41));   /* 101 > 100 */
    assert(a.exceeded);
    assert(al.alloc(al.allocator_data, 40));    /* exactly 100 */
    assert(a.used == 100);
    assert(!al.alloc(al.allocator_data, 1));
    arena_release(&a.blocks);
}

static void
test_decode(void)
{
    enum { N = 15000 };         /* ~480 KB decoded: several blocks */
    Vr__LocalMatrix m = VR__LOCAL_MATRIX__INIT;
    assert(lmatrix_alloc(&m, N) == 0);
    for (size_t i = 0; i < N; i++) {
        lmatrix_set(&m, i, 0x020000000000 + i, 0x020000100000 + i * 7,
                    i * 1500, i);
    }
    lmatrix_len_set(&m, N);
    m.agent_id = "h1";
    m.boot_id = 42;
    size_t size = vr__local_matrix__get_packed_size(&m);
    uint8_t *buf = malloc(size);
    assert(buf);
    vr__local_matrix__pack(&m, buf);

    struct arena a = { 0 };
    ProtobufCAllocator al = arena_allocator(&a);
    Vr__LocalMatrix *x = vr__local_matrix__unpack(&al, size, buf);
    assert(x && lmatrix_len(x) == N && x->boot_id == 42);
    assert(!strcmp(x->agent_id, "h1"));
    for (size_t i = 0; i < N; i++) {
        assert(x->src_mac[i] == m.src_mac[i] && x->dst_mac[i] == m.dst_mac[i]
               && x->bytes[i] == m.bytes[i] && x->frames[i] == m.frames[i]);
    }
    size_t used = a.used;
    arena_release(&a.blocks);

    /* Under a limit below what it needs: refused, nothing kept. */
    a = (struct arena) { .limit = used / 2 };
    al = arena_allocator(&a);
    assert(!vr__local_matrix__unpack(&al, size, buf));
    assert(a.exceeded);
    arena_release(&a.blocks);
    /* Truncated: refused, and what it built goes with the arena. */
    a = (struct arena) { 0 };
    al = arena_allocator(&a);
    assert(!vr__local_matrix__unpack(&al, size - 3, buf));
    arena_release(&a.blocks);
    free(buf);
    lmatrix_free(&m);
}

int
main(void)
{
    test_pieces();
    test_limit();
    test_decode();
    printf("test_arena: ok\n");
    return 0;
}
