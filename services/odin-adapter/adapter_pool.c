/* SPDX-License-Identifier: MIT */
/* Link subnets for paths: see adapter_pool.h. */
#include "adapter_pool.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum { S_MAX_SLOTS = 65536 };

struct adapter_pool {
    char key[32];
    uint32_t base;              /* host order */
    size_t n_slots;
    uint64_t *slot_of;          /* path using each /30, 0: free */
};

adapter_pool_t *
adapter_pool_new(const char *prefix, const char *key, char *err,
                 size_t errsize)
{
    char buf[64];
    unsigned plen = 0;
    struct in_addr a;
    if (!prefix || snprintf(buf, sizeof buf, "%s", prefix)
                       >= (int) sizeof buf) {
        log_format(err, errsize, "%s: missing or too long", key);
        return NULL;
    }
    char *slash = strchr(buf, '/');
    char end;
    if (!slash || sscanf(slash + 1, "%u%c", &plen, &end) != 1 || plen < 8
        || plen > 29 || (*slash = '\0', inet_pton(AF_INET, buf, &a) != 1)) {
        log_format(err, errsize, "%s '%s': want an IPv4 prefix a.b.c.d/8 "
                   "to /29", key, prefix);
        return NULL;
    }
    adapter_pool_t *self = calloc(1, sizeof *self);
    if (!self) {
        log_format(err, errsize, "out of memory");
        return NULL;
    }
    snprintf(self->key, sizeof self->key, "%s", key);
    self->n_slots = (size_t) 1 << (32 - plen - 2);
    if (self->n_slots > S_MAX_SLOTS) {
        self->n_slots = S_MAX_SLOTS;
    }
    self->slot_of = calloc(self->n_slots, sizeof *self->slot_of);
    if (!self->slot_of) {
        log_format(err, errsize, "out of memory");
        free(self);
        return NULL;
    }
    self->base = ntohl(a.s_addr) & ~((1u << (32 - plen)) - 1);
    return self;
}

void
adapter_pool_destroy(adapter_pool_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    free((*self_p)->slot_of);
    free(*self_p);
    *self_p = NULL;
}

static void
s_addr(uint32_t host_order, char *out, size_t size)
{
    struct in_addr x = { .s_addr = htonl(host_order) };
    inet_ntop(AF_INET, &x, out, (socklen_t) size);
}

long
adapter_pool_find(const adapter_pool_t *self, char *a, char *b, size_t size,
                  char *err, size_t errsize)
{
    size_t slot = 0;
    while (slot < self->n_slots && self->slot_of[slot]) {
        slot++;
    }
    if (slot == self->n_slots) {
        log_format(err, errsize, "%s: all %zu /30s in use", self->key,
                   self->n_slots);
        return -1;
    }
    s_addr(self->base + (uint32_t) slot * 4 + 1, a, size);
    s_addr(self->base + (uint32_t) slot * 4 + 2, b, size);
    return (long) slot;
}

void
adapter_pool_set(adapter_pool_t *self, long slot, uint64_t n)
{
    if (slot >= 0 && (size_t) slot < self->n_slots) {
        self->slot_of[slot] = n;
    }
}

int
adapter_pool_take(adapter_pool_t *self, uint64_t n, char *a, char *b,
                  size_t size, char *err, size_t errsize)
{
    long slot = adapter_pool_find(self, a, b, size, err, errsize);
    if (slot < 0) {
        return -1;
    }
    adapter_pool_set(self, slot, n);
    return 0;
}

void
adapter_pool_free(adapter_pool_t *self, uint64_t n)
{
    for (size_t i = 0; i < self->n_slots; i++) {
        if (self->slot_of[i] == n) {
            self->slot_of[i] = 0;
        }
    }
}

bool
adapter_pool_adopt(adapter_pool_t *self, uint64_t n, const char *a)
{
    struct in_addr x;
    if (!n || !a || inet_pton(AF_INET, a, &x) != 1) {
        return false;
    }
    uint32_t off = ntohl(x.s_addr) - self->base;
    if (off / 4 >= self->n_slots || (off & 3) != 1
        || (self->slot_of[off / 4] && self->slot_of[off / 4] != n)) {
        return false;
    }
    self->slot_of[off / 4] = n;
    return true;
}

size_t
adapter_pool_used(const adapter_pool_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n_slots; i++) {
        n += self->slot_of[i] != 0;
    }
    return n;
}

size_t
adapter_pool_size(const adapter_pool_t *self)
{
    return self->n_slots;
}
