/* SPDX-License-Identifier: MIT */
/* adapter_pool: /30s first-free from a prefix, freed and found again,
 * adopted back by their first address (not another path's, not a second
 * address, not outside), exhausted with a clear error; bad prefixes
 * refused. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "adapter_pool.h"

int
main(void)
{
    char err[128], a[32], b[32];
    const char *bad[] = { NULL, "", "10.0.0.0", "10.0.0.0/7", "10.0.0.0/30",
                          "10.0.0.0/16x", "10.0.0.256/16", "fe80::/64",
                          "10.0.0.0/-1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert(!adapter_pool_new(bad[i], "x.pool", err, sizeof err));
        assert(strstr(err, "x.pool"));
    }
    /* A /28: four /30s, the base masked. */
    adapter_pool_t *p = adapter_pool_new("10.9.8.7/28", "x.pool", err,
                                         sizeof err);
    assert(p && adapter_pool_size(p) == 4 && adapter_pool_used(p) == 0);
    assert(adapter_pool_take(p, 1, a, b, sizeof a, err, sizeof err) == 0);
    assert(!strcmp(a, "10.9.8.1") && !strcmp(b, "10.9.8.2"));
    assert(adapter_pool_take(p, 2, a, b, sizeof a, err, sizeof err) == 0);
    assert(!strcmp(a, "10.9.8.5") && !strcmp(b, "10.9.8.6"));
    /* find does not take. */
    assert(adapter_pool_find(p, a, b, sizeof a, err, sizeof err) == 2);
    assert(adapter_pool_find(p, a, b, sizeof a, err, sizeof err) == 2);
    adapter_pool_free(p, 1);
    assert(adapter_pool_take(p, 3, a, b, sizeof a, err, sizeof err) == 0);
    assert(!strcmp(a, "10.9.8.1"));
    /* Adopt: the first address of a free /30, or one's own. */
    assert(!adapter_pool_adopt(p, 4, "10.9.8.1"));     /* path 3's */
    assert(adapter_pool_adopt(p, 3, "10.9.8.1"));      /* its own */
    assert(!adapter_pool_adopt(p, 4, "10.9.8.10"));    /* a second address */
    assert(!adapter_pool_adopt(p, 4, "10.9.8.17"));    /* outside */
    assert(!adapter_pool_adopt(p, 4, "10.9.7.255"));   /* below */
    assert(!adapter_pool_adopt(p, 4, "nonsense"));
    assert(!adapter_pool_adopt(p, 0, "10.9.8.9"));
    assert(adapter_pool_adopt(p, 4, "10.9.8.9"));
    assert(adapter_pool_take(p, 5, a, b, sizeof a, err, sizeof err) == 0);
    assert(!strcmp(a, "10.9.8.13") && adapter_pool_used(p) == 4);
    err[0] = '\0';
    assert(adapter_pool_take(p, 6, a, b, sizeof a, err, sizeof err) == -1);
    assert(strstr(err, "x.pool: all 4 /30s in use"));
    adapter_pool_destroy(&p);
    assert(!p);
    /* Large prefixes are capped. */
    p = adapter_pool_new("10.0.0.0/8", "x.pool", err, sizeof err);
    assert(p && adapter_pool_size(p) == 65536);
    adapter_pool_destroy(&p);
    printf("adapter_pool: ok\n");
    return 0;
}
