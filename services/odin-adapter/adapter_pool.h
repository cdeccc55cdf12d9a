/* SPDX-License-Identifier: MIT */
/* A pool of point-to-point link subnets (/30s) carved from one IPv4
 * prefix, handed out first-free to the adapter's paths: a path's two ends
 * get the /30's first and second addresses.  The netns backend numbers
 * its veth pairs and its VLAN circuits from one; the nsi backend numbers
 * the VLAN sub-interfaces the agents make at each end.  Memory only: a
 * restarted adapter takes each held path's /30 back from its recorded
 * address (adapter_pool_adopt()).  At most 65536 /30s. */
#ifndef ADAPTER_POOL_H
#define ADAPTER_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADAPTER_POOL_PREFIX_LEN 30  /* each link's subnet */

typedef struct adapter_pool adapter_pool_t;

/* A pool over 'prefix' ("a.b.c.d/8" to "/29"), named 'key' in errors
 * ("netns.pool").  NULL with the reason in 'err'. */
adapter_pool_t *adapter_pool_new(const char *prefix, const char *key,
                                 char *err, size_t errsize);

void adapter_pool_destroy(adapter_pool_t **self_p);

/* The first free /30: its slot, and its two addresses in 'a' and 'b'
 * ('size' bytes each).  Not taken until adapter_pool_set().  -1 with the
 * reason in 'err' when every /30 is in use. */
long adapter_pool_find(const adapter_pool_t *self, char *a, char *b,
                       size_t size, char *err, size_t errsize);

/* Gives slot 'slot' (from adapter_pool_find()) to path 'n' (not 0). */
void adapter_pool_set(adapter_pool_t *self, long slot, uint64_t n);

/* adapter_pool_find() and adapter_pool_set() in one.  0 or -1. */
int adapter_pool_take(adapter_pool_t *self, uint64_t n, char *a, char *b,
                      size_t size, char *err, size_t errsize);

/* Frees the /30 of path 'n', if it has one. */
void adapter_pool_free(adapter_pool_t *self, uint64_t n);

/* Gives path 'n' the /30 whose first address is 'a' (a restart).  False
 * if 'a' is no such address of this pool or another path holds it. */
bool adapter_pool_adopt(adapter_pool_t *self, uint64_t n, const char *a);

/* /30s in use, and in all. */
size_t adapter_pool_used(const adapter_pool_t *self);
size_t adapter_pool_size(const adapter_pool_t *self);

#endif /* ADAPTER_POOL_H */
