/* SPDX-License-Identifier: MIT */
/* See vttif_ann.h.  A flat array searched linearly: the table holds the
 * agents of one deployment (4096 by default), and an agent announces
 * itself about once a second. */
#include "vttif_ann.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct s_entry {
    char id[VTTIF_CHECK_ID_LEN];
    uint64_t boot_id;
    char ctl[VTTIF_CHECK_ENDPOINT_LEN]; /* control endpoint */
    char overlay[VTTIF_CHECK_ADDR_LEN]; /* overlay ip:port, or "" */
    char host_ip[VTTIF_CHECK_IP_LEN];   /* or "" */
    bool proxy;
    uint64_t *macs;             /* local MACs, owned */
    size_t n_macs;
    double t_seen;              /* 'now' of its last announcement */
};

struct vttif_ann {
    struct s_entry *v;          /* 'max' long */
    size_t n, max;
    struct vttif_ann_counters c;
};

vttif_ann_t *
vttif_ann_new(size_t max)
{
    assert(max >= 1);
    vttif_ann_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->v = calloc(max, sizeof *self->v);
    if (!self->v) {
        free(self);
        return NULL;
    }
    self->max = max;
    return self;
}

void
vttif_ann_destroy(vttif_ann_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    vttif_ann_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++) {
        free(self->v[i].macs);
    }
    free(self->v);
    free(self);
    *self_p = NULL;
}

static void
s_forget(vttif_ann_t *self, size_t i)
{
    free(self->v[i].macs);
    self->v[i] = self->v[--self->n];
}

long
vttif_ann_find(const vttif_ann_t *self, const char *id)
{
    for (size_t i = 0; i < self->n; i++) {
        if (!strcmp(self->v[i].id, id)) {
            return (long) i;
        }
    }
    return -1;
}

int
vttif_ann_put(vttif_ann_t *self, const Vr__AgentAnnounce *a, double now,
              char evicted[VTTIF_CHECK_ID_LEN])
{
    if (evicted) {
        evicted[0] = '\0';
    }
    uint64_t *macs = NULL;
    if (a->n_local_macs) {
        macs = malloc(a->n_local_macs * sizeof *macs);
        if (!macs) {
            return -1;
        }
        memcpy(macs, a->local_macs, a->n_local_macs * sizeof *macs);
    }
    long found = vttif_ann_find(self, a->agent_id);
    size_t i;
    if (found >= 0) {
        i = (size_t) found;
        free(self->v[i].macs);
    } else {
        if (self->n >= self->max) {
            size_t old = 0;
            for (size_t k = 1; k < self->n; k++) {
                if (self->v[k].t_seen < self->v[old].t_seen) {
                    old = k;
                }
            }
            if (evicted) {
                memcpy(evicted, self->v[old].id, VTTIF_CHECK_ID_LEN);
            }
            s_forget(self, old);
            self->c.evicted++;
        }
        i = self->n++;
        memset(&self->v[i], 0, sizeof self->v[i]);
        snprintf(self->v[i].id, sizeof self->v[i].id, "%s", a->agent_id);
        self->c.added++;
    }
    struct s_entry *e = &self->v[i];
    e->boot_id = a->boot_id;
    snprintf(e->ctl, sizeof e->ctl, "%s", a->control_endpoint);
    snprintf(e->overlay, sizeof e->overlay, "%s",
             a->overlay_addr ? a->overlay_addr : "");
    snprintf(e->host_ip, sizeof e->host_ip, "%s",
             a->host_ip ? a->host_ip : "");
    e->proxy = a->proxy;
    e->macs = macs;
    e->n_macs = a->n_local_macs;
    e->t_seen = now;
    return found < 0;
}

size_t
vttif_ann_age(vttif_ann_t *self, double now, double timeout_s)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n;) {
        if (now - self->v[i].t_seen > timeout_s) {
            s_forget(self, i);
            n++;
        } else {
            i++;
        }
    }
    self->c.aged += n;
    return n;
}

size_t
vttif_ann_count(const vttif_ann_t *self)
{
    return self->n;
}

void
vttif_ann_get(const vttif_ann_t *self, size_t i, Vr__AgentAnnounce *out)
{
    assert(i < self->n);
    const struct s_entry *e = &self->v[i];
    vr__agent_announce__init(out);
    out->agent_id = (char *) e->id;
    out->boot_id = e->boot_id;
    out->control_endpoint = (char *) e->ctl;
    out->overlay_addr = (char *) e->overlay;
    out->host_ip = (char *) e->host_ip;
    out->proxy = e->proxy;
    out->local_macs = e->macs;
    out->n_local_macs = e->n_macs;
}

void
vttif_ann_get_counters(const vttif_ann_t *self,
                       struct vttif_ann_counters *out)
{
    *out = self->c;
}
