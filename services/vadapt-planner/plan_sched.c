/* SPDX-License-Identifier: MIT */
/* Known phases: see plan_sched.h. */
#include "plan_sched.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define T struct plan_sched_cfg
const struct cfg_key plan_sched_cfg_keys[] = {
    { .name = "start_unix_ms", .type = CFG_INT,
      .offset = offsetof(T, start_unix_ms), .min = 1,
      .max = PLAN_SCHED_MAX_START_MS, .required = true,
      .help = "the phase starts then (ms since the epoch)" },
    { .name = "duration_ms", .type = CFG_U32,
      .offset = offsetof(T, duration_ms), .min = 1,
      .max = PLAN_SCHED_MAX_DURATION_MS, .required = true,
      .help = "and lasts this long" },
    { .name = "links", .type = CFG_STRLIST, .offset = offsetof(T, links),
      .required = true, .help = "the host links it needs: \"hostA hostB\"" },
    CFG_KEYS_END,
};
#undef T

struct s_entry {
    uint64_t start_us, end_us;      /* wall clock */
    bool done;                      /* handed out or expired */
    size_t n_links;
    struct plan_predict_link *links;
};

struct plan_sched {
    struct s_entry *v;
    size_t n;
    struct plan_sched_counters counters;
};

/* Splits "a b" (one space or more between, none around) into '*l',
 * host_a < host_b; false if it is not two distinct bounded names. */
static bool
s_parse_link(const char *s, struct plan_predict_link *l)
{
    const char *sp = strchr(s, ' ');
    if (!sp) {
        return false;
    }
    size_t la = (size_t) (sp - s);
    const char *b = sp + strspn(sp, " ");
    size_t lb = strlen(b);
    if (la == 0 || la >= PLAN_HOST_LEN || lb == 0 || lb >= PLAN_HOST_LEN
        || strchr(b, ' ')) {
        return false;
    }
    char x[PLAN_HOST_LEN], y[PLAN_HOST_LEN];
    memcpy(x, s, la);
    x[la] = '\0';
    memcpy(y, b, lb + 1);
    int c = strcmp(x, y);
    if (c == 0) {
        return false;
    }
    memcpy(l->host_a, c < 0 ? x : y, PLAN_HOST_LEN);
    memcpy(l->host_b, c < 0 ? y : x, PLAN_HOST_LEN);
    return true;
}

/* Fills 'e' from 'c' (entry 'i', for messages). */
static bool
s_entry(struct s_entry *e, const struct plan_sched_cfg *c, size_t i,
        char *err, size_t size)
{
    if (c->start_unix_ms < 1 || c->start_unix_ms > PLAN_SCHED_MAX_START_MS
        || c->duration_ms < 1 || c->duration_ms > PLAN_SCHED_MAX_DURATION_MS) {
        log_format(err, size, "schedule[%zu]: start or duration out of "
                   "range", i);
        return false;
    }
    if (c->links.n == 0 || c->links.n > PLAN_PREDICT_MAX_LINKS) {
        log_format(err, size, "schedule[%zu].links: %zu links, want 1 to "
                   "%d", i, c->links.n, PLAN_PREDICT_MAX_LINKS);
        return false;
    }
    e->links = calloc(c->links.n, sizeof *e->links);
    if (!e->links) {
        log_format(err, size, "out of memory");
        return false;
    }
    for (size_t j = 0; j < c->links.n; j++) {
        struct plan_predict_link *l = &e->links[e->n_links];
        if (!c->links.v[j] || !s_parse_link(c->links.v[j], l)) {
            log_format(err, size, "schedule[%zu].links[%zu]: '%s' is not "
                       "two distinct host names, \"hostA hostB\"", i, j,
                       LOG_ESC(c->links.v[j] ? c->links.v[j] : ""));
            return false;
        }
        for (size_t k = 0; k < e->n_links; k++) {
            if (!strcmp(e->links[k].host_a, l->host_a)
                && !strcmp(e->links[k].host_b, l->host_b)) {
                log_format(err, size, "schedule[%zu].links[%zu]: %s-%s "
                           "twice", i, j, LOG_ESC(l->host_a),
                           LOG_ESC(l->host_b));
                return false;
            }
        }
        e->n_links++;
    }
    e->start_us = (uint64_t) c->start_unix_ms * 1000;
    e->end_us = e->start_us + (uint64_t) c->duration_ms * 1000;
    return true;
}

plan_sched_t *
plan_sched_new(const struct plan_sched_cfg *v, size_t n, char *err,
               size_t size)
{
    if (n > PLAN_SCHED_MAX) {
        log_format(err, size, "schedule: %zu entries, at most %d", n,
                   PLAN_SCHED_MAX);
        return NULL;
    }
    plan_sched_t *self = calloc(1, sizeof *self);
    if (!self || (n && !(self->v = calloc(n, sizeof *self->v)))) {
        free(self);
        log_format(err, size, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        self->n++;
        if (!s_entry(&self->v[i], &v[i], i, err, size)) {
            plan_sched_destroy(&self);
            return NULL;
        }
    }
    self->counters.entries = n;
    return self;
}

void
plan_sched_destroy(plan_sched_t **self_p)
{
    plan_sched_t *self = *self_p;
    if (!self) {
        return;
    }
    for (size_t i = 0; i < self->n; i++) {
        free(self->v[i].links);
    }
    free(self->v);
    free(self);
    *self_p = NULL;
}

bool
plan_sched_next(plan_sched_t *self, uint64_t now_unix_us, uint64_t ahead_us,
                struct plan_prediction *out)
{
    for (size_t i = 0; i < self->n; i++) {
        struct s_entry *e = &self->v[i];
        if (e->done) {
            continue;
        }
        if (e->end_us <= now_unix_us) {
            e->done = true;
            self->counters.expired++;
            continue;
        }
        if (e->start_us > now_unix_us + ahead_us) {
            continue;
        }
        e->done = true;
        self->counters.handed++;
        memset(out, 0, sizeof *out);
        out->id = PLAN_SCHED_ID_BASE + i;
        out->made_us = now_unix_us;
        out->start_us = e->start_us;
        out->duration_us = e->end_us - e->start_us;
        out->n_links = e->n_links;
        memcpy(out->links, e->links, e->n_links * sizeof *e->links);
        return true;
    }
    return false;
}

void
plan_sched_get_counters(const plan_sched_t *self,
                        struct plan_sched_counters *out)
{
    *out = self->counters;
}
