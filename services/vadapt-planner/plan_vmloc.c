/* SPDX-License-Identifier: MIT */
#include "plan_vmloc.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define S_TAG 0x766d6c63u       /* "vmlc" */
#define S_MAC_MAX UINT64_C(0xffffffffffff)

struct s_loc {
    uint64_t mac;
    uint64_t seen_us;           /* last named */
    uint32_t ord;               /* scratch: order given in an update */
    char host[PLAN_HOST_LEN];
};

struct plan_vmloc {
    uint32_t tag;
    uint64_t max_age_us;
    struct s_loc *v;            /* sorted by MAC */
    size_t n, cap;
};

plan_vmloc_t *
plan_vmloc_new(uint64_t max_age_us)
{
    plan_vmloc_t *self = calloc(1, sizeof *self);
    if (self) {
        self->tag = S_TAG;
        self->max_age_us = max_age_us;
    }
    return self;
}

void
plan_vmloc_destroy(plan_vmloc_t **self_p)
{
    plan_vmloc_t *self = *self_p;
    if (self) {
        assert(self->tag == S_TAG);
        self->tag = 0;
        free(self->v);
        free(self);
        *self_p = NULL;
    }
}

static bool
s_host_ok(const char *h)
{
    if (!h || !*h) {
        return false;
    }
    size_t n = strnlen(h, PLAN_HOST_LEN);
    return n < PLAN_HOST_LEN;
}

static int
s_cmp_mac(const void *x, const void *y)
{
    const struct s_loc *a = x, *b = y;
    return a->mac < b->mac ? -1 : a->mac > b->mac;
}

/* By MAC, then by the order given. */
static int
s_cmp_mac_ord(const void *x, const void *y)
{
    const struct s_loc *a = x, *b = y;
    int c = s_cmp_mac(x, y);
    return c ? c : (a->ord > b->ord) - (a->ord < b->ord);
}

/* Newest first; by MAC among equals, so the cut is deterministic. */
static int
s_cmp_newest(const void *x, const void *y)
{
    const struct s_loc *a = x, *b = y;
    if (a->seen_us != b->seen_us) {
        return a->seen_us > b->seen_us ? -1 : 1;
    }
    return s_cmp_mac(x, y);
}

static bool
s_aged(const plan_vmloc_t *self, const struct s_loc *l, uint64_t now)
{
    return now > l->seen_us && now - l->seen_us > self->max_age_us;
}

int
plan_vmloc_update(plan_vmloc_t *self, uint64_t now_us,
                  const struct plan_vm_host *vms, size_t n)
{
    assert(self && self->tag == S_TAG && (vms || !n));
    if (n > PLAN_VMLOC_MAX) {
        n = PLAN_VMLOC_MAX;     /* more than the table holds: the first */
    }
    size_t want = self->n + n;
    if (want > self->cap) {
        size_t cap = self->cap ? self->cap : 64;
        while (cap < want) {
            cap *= 2;
        }
        struct s_loc *v = realloc(self->v, cap * sizeof *v);
        if (!v) {
            return -1;
        }
        self->v = v;
        self->cap = cap;
    }
    /* Refresh the known ones in place and append the new ones; a MAC
     * given twice here keeps its last host (sorted by the order given,
     * the last of equal MACs stays). */
    size_t old = self->n, m = self->n;
    for (size_t i = 0; i < n; i++) {
        if (!vms[i].mac || vms[i].mac > S_MAC_MAX
            || !s_host_ok(vms[i].host)) {
            continue;
        }
        struct s_loc key = { .mac = vms[i].mac };
        struct s_loc *l = bsearch(&key, self->v, old, sizeof key, s_cmp_mac);
        if (!l) {
            l = &self->v[m++];
            l->mac = key.mac;
        }
        l->seen_us = now_us;
        l->ord = (uint32_t) i + 1;
        strcpy(l->host, vms[i].host);
    }
    if (m > old) {
        for (size_t i = 0; i < old; i++) {
            self->v[i].ord = 0;
        }
        qsort(self->v, m, sizeof *self->v, s_cmp_mac_ord);
        size_t u = 0;
        for (size_t i = 0; i < m; i++) {
            if (u && self->v[u - 1].mac == self->v[i].mac) {
                self->v[u - 1] = self->v[i];
            } else {
                self->v[u++] = self->v[i];
            }
        }
        m = u;
    }
    /* Aging. */
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        if (!s_aged(self, &self->v[i], now_us)) {
            self->v[k++] = self->v[i];
        }
    }
    m = k;
    if (m > PLAN_VMLOC_MAX) {
        qsort(self->v, m, sizeof *self->v, s_cmp_newest);
        m = PLAN_VMLOC_MAX;
    }
    /* Not with none: a table that never held a VM has no array, and
     * qsort's pointer may not be NULL even for nothing (UBSan, from
     * fuzz_planner_svc: a first topology naming no VM). */
    if (m) {
        qsort(self->v, m, sizeof *self->v, s_cmp_mac);
    }
    self->n = m;
    return 0;
}

size_t
plan_vmloc_host(const plan_vmloc_t *self, const char *host, uint64_t now_us,
                uint64_t *out, size_t max)
{
    assert(self && self->tag == S_TAG && (out || !max));
    if (!s_host_ok(host)) {
        return 0;
    }
    size_t n = 0;
    for (size_t i = 0; i < self->n; i++) {
        const struct s_loc *l = &self->v[i];
        if (!s_aged(self, l, now_us) && !strcmp(l->host, host)) {
            if (n < max) {
                out[n] = l->mac;
            }
            n++;
        }
    }
    return n;
}

size_t
plan_vmloc_count(const plan_vmloc_t *self)
{
    assert(self && self->tag == S_TAG);
    return self->n;
}
