/* SPDX-License-Identifier: MIT */
/* The run queue behind adapter_runq.h: a ring of (key, op) that doubles
 * when full.  Its length is bounded by the caller, which queues at most
 * one operation per path record (max_paths of them). */
#include "adapter_runq.h"

#include <stdlib.h>

struct s_entry {
    uint64_t key;               /* path number */
    int op;                     /* the caller's operation */
};

struct adapter_runq {
    uint32_t max_running;       /* slots */
    size_t n_running;           /* slots taken */
    struct s_entry *v;          /* ring */
    size_t cap, head, len;      /* ring size, first entry, entries */
    size_t peak_running, peak_queued;   /* the most at once, ever */
};

adapter_runq_t *
adapter_runq_new(uint32_t max_running)
{
    adapter_runq_t *self = calloc(1, sizeof *self);
    if (self) {
        self->max_running = max_running ? max_running : 1;
    }
    return self;
}

void
adapter_runq_destroy(adapter_runq_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    free((*self_p)->v);
    free(*self_p);
    *self_p = NULL;
}

bool
adapter_runq_admit(adapter_runq_t *self)
{
    if (self->len > 0 || self->n_running >= self->max_running) {
        return false;
    }
    self->n_running++;
    if (self->n_running > self->peak_running) {
        self->peak_running = self->n_running;
    }
    return true;
}

int
adapter_runq_push(adapter_runq_t *self, uint64_t key, int op)
{
    if (self->len == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 16;
        struct s_entry *v = malloc(cap * sizeof *v);
        if (!v) {
            return -1;
        }
        for (size_t i = 0; i < self->len; i++) {
            v[i] = self->v[(self->head + i) % self->cap];
        }
        free(self->v);
        self->v = v;
        self->cap = cap;
        self->head = 0;
    }
    self->v[(self->head + self->len) % self->cap]
        = (struct s_entry) { .key = key, .op = op };
    self->len++;
    if (self->len > self->peak_queued) {
        self->peak_queued = self->len;
    }
    return 0;
}

bool
adapter_runq_cancel(adapter_runq_t *self, uint64_t key)
{
    for (size_t i = 0; i < self->len; i++) {
        if (self->v[(self->head + i) % self->cap].key == key) {
            /* Close the gap, keeping the order. */
            for (size_t k = i; k + 1 < self->len; k++) {
                self->v[(self->head + k) % self->cap]
                    = self->v[(self->head + k + 1) % self->cap];
            }
            self->len--;
            return true;
        }
    }
    return false;
}

void
adapter_runq_done(adapter_runq_t *self)
{
    if (self->n_running > 0) {
        self->n_running--;
    }
}

bool
adapter_runq_next(adapter_runq_t *self, uint64_t *key, int *op)
{
    if (self->len == 0 || self->n_running >= self->max_running) {
        return false;
    }
    struct s_entry e = self->v[self->head];
    self->head = (self->head + 1) % self->cap;
    self->len--;
    self->n_running++;
    if (self->n_running > self->peak_running) {
        self->peak_running = self->n_running;
    }
    *key = e.key;
    *op = e.op;
    return true;
}

size_t
adapter_runq_running(const adapter_runq_t *self)
{
    return self->n_running;
}

size_t
adapter_runq_queued(const adapter_runq_t *self)
{
    return self->len;
}

size_t
adapter_runq_peak_running(const adapter_runq_t *self)
{
    return self->peak_running;
}

size_t
adapter_runq_peak_queued(const adapter_runq_t *self)
{
    return self->peak_queued;
}
