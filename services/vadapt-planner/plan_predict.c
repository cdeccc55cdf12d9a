/* SPDX-License-Identifier: MIT */
/* Phase prediction: see plan_predict.h. */
#include "plan_predict.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A phase: a selection that held for min_phase_us. */
struct s_phase {
    uint64_t sig;
    uint64_t start_us;
    uint64_t end_us;            /* 0 while it goes on */
    size_t n_links;
    struct plan_predict_link *links;    /* owned */
};

struct plan_predict {
    struct plan_predict_params p;
    /* The selection as last observed, and since when it is so. */
    uint64_t cand_sig;
    uint64_t cand_since_us;
    size_t cand_n;
    struct plan_predict_link *cand;     /* PLAN_PREDICT_MAX_LINKS */
    /* The phase going on, if any, and since when the selection differs
     * from it (0: it does not). */
    bool in_phase;
    struct s_phase cur;
    uint64_t differs_since_us;
    uint64_t last_end_us;       /* of the last phase that ended, or 0 */
    uint64_t nonempty_since_us; /* the selection not empty since; 0: it
                                 * is empty */
    /* Ended phases, oldest first. */
    struct s_phase hist[PLAN_PREDICT_HISTORY];
    size_t n_hist;
    bool open;
    struct plan_prediction pred;
    uint64_t next_id;
    struct plan_predict_counters c;
};

void
plan_predict_params_default(struct plan_predict_params *p)
{
    p->min_phase_us = PLAN_PREDICT_DEFAULT_MIN_PHASE_US;
    p->repeats = PLAN_PREDICT_DEFAULT_REPEATS;
    p->tolerance_us = PLAN_PREDICT_DEFAULT_TOLERANCE_US;
    p->tolerance_frac = PLAN_PREDICT_DEFAULT_TOLERANCE_FRAC;
}

bool
plan_predict_params_check(const struct plan_predict_params *p, char *err,
                          size_t size)
{
    const uint64_t hour = UINT64_C(3600000000);
    if (p->min_phase_us < 100000 || p->min_phase_us > hour) {
        log_format(err, size, "min phase %llu us: want 100 ms to 1 h",
                   (unsigned long long) p->min_phase_us);
        return false;
    }
    if (p->repeats < 1 || p->repeats > PLAN_PREDICT_MAX_REPEATS) {
        log_format(err, size, "repeats %u: want 1 to %d", p->repeats,
                   PLAN_PREDICT_MAX_REPEATS);
        return false;
    }
    if (p->tolerance_us > hour) {
        log_format(err, size, "tolerance %llu us: want at most 1 h",
                   (unsigned long long) p->tolerance_us);
        return false;
    }
    if (!isfinite(p->tolerance_frac) || p->tolerance_frac < 0
        || p->tolerance_frac > 1) {
        log_format(err, size, "tolerance fraction %g: want 0 to 1",
                   p->tolerance_frac);
        return false;
    }
    return true;
}

plan_predict_t *
plan_predict_new(const struct plan_predict_params *params)
{
    struct plan_predict_params def;
    if (!params) {
        plan_predict_params_default(&def);
        params = &def;
    }
    if (!plan_predict_params_check(params, NULL, 0)) {
        return NULL;
    }
    plan_predict_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->cand = calloc(PLAN_PREDICT_MAX_LINKS, sizeof *self->cand);
    if (!self->cand) {
        free(self);
        return NULL;
    }
    self->p = *params;
    return self;
}

void
plan_predict_destroy(plan_predict_t **self_p)
{
    plan_predict_t *self = *self_p;
    if (!self) {
        return;
    }
    for (size_t i = 0; i < self->n_hist; i++) {
        free(self->hist[i].links);
    }
    free(self->cur.links);
    free(self->cand);
    free(self);
    *self_p = NULL;
}

static int
s_link_cmp(const void *x, const void *y)
{
    const struct plan_predict_link *a = x, *b = y;
    int c = strcmp(a->host_a, b->host_a);
    return c ? c : strcmp(a->host_b, b->host_b);
}

static bool
s_host_ok(const char *h)
{
    return h && *h && strnlen(h, PLAN_HOST_LEN) < PLAN_HOST_LEN;
}

/* FNV-1a, 64 bits, over 'n' bytes. */
static uint64_t
s_fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* Sorts and signs the selection into self->cand; returns its signature
 * (0: empty), or sets '*oom'. */
static uint64_t
s_take_selection(plan_predict_t *self, const struct plan_link_key *sel,
                 size_t n, size_t *n_out, struct plan_predict_link **v_out)
{
    struct plan_predict_link *v = calloc(n + 1, sizeof *v);
    if (!v) {
        return 0;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const char *a = sel[i].host_a, *b = sel[i].host_b;
        if (!s_host_ok(a) || !s_host_ok(b) || !strcmp(a, b)) {
            self->c.links_dropped++;
            continue;
        }
        if (strcmp(a, b) > 0) {
            const char *t = a;
            a = b;
            b = t;
        }
        snprintf(v[m].host_a, sizeof v[m].host_a, "%s", a);
        snprintf(v[m].host_b, sizeof v[m].host_b, "%s", b);
        m++;
    }
    qsort(v, m, sizeof *v, s_link_cmp);
    size_t k = 0;
    uint64_t sig = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < m; i++) {
        if (k && !s_link_cmp(&v[k - 1], &v[i])) {
            continue;
        }
        v[k++] = v[i];
    }
    for (size_t i = 0; i < k; i++) {
        sig = s_fnv(sig, v[i].host_a, strlen(v[i].host_a) + 1);
        sig = s_fnv(sig, v[i].host_b, strlen(v[i].host_b) + 1);
    }
    *n_out = k;
    *v_out = v;
    if (k == 0) {
        return 0;
    }
    return sig ? sig : 1;
}

static struct plan_predict_event *
s_event(struct plan_predict_events *out, enum plan_predict_kind kind)
{
    if (out->n >= PLAN_PREDICT_MAX_EVENTS) {
        return NULL;    /* cannot happen: at most 4 per observation */
    }
    struct plan_predict_event *e = &out->v[out->n++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    return e;
}

static void
s_push_history(plan_predict_t *self, struct s_phase *ph)
{
    if (self->n_hist == PLAN_PREDICT_HISTORY) {
        free(self->hist[0].links);
        memmove(&self->hist[0], &self->hist[1],
                (PLAN_PREDICT_HISTORY - 1) * sizeof self->hist[0]);
        self->n_hist--;
    }
    self->hist[self->n_hist++] = *ph;
    memset(ph, 0, sizeof *ph);
}

/* The i-th phase of history plus the current one (last). */
static const struct s_phase *
s_entry(const plan_predict_t *self, size_t i)
{
    return i < self->n_hist ? &self->hist[i] : &self->cur;
}

static double
s_sec(uint64_t us)
{
    return (double) us / 1e6;
}

/* A successor rule: what came after 'found' past phases like the one
 * just confirmed, and after what offsets from their starts. */
struct s_rule {
    uint32_t found;
    uint64_t succ_sig;
    size_t last_succ;           /* entry of the most recent successor */
    uint64_t lo, hi;            /* offsets */
    double sum;
};

enum s_rule_result { S_RULE_FEW, S_RULE_DISAGREE, S_RULE_OK };

/* The last 'repeats' phases with self->cur's signature (and, with 'ctx',
 * preceded by a phase of signature 'ctx_sig') that had a successor: do
 * their successors agree? */
static enum s_rule_result
s_rule(const plan_predict_t *self, bool ctx, uint64_t ctx_sig,
       struct s_rule *r)
{
    size_t n = self->n_hist + 1;    /* entries; the last is cur */
    memset(r, 0, sizeof *r);
    r->lo = UINT64_MAX;
    for (size_t i = n - 1; i-- > 0 && r->found < self->p.repeats;) {
        const struct s_phase *e = s_entry(self, i);
        if (e->sig != self->cur.sig
            || (ctx && (i == 0 || s_entry(self, i - 1)->sig != ctx_sig))) {
            continue;
        }
        const struct s_phase *s = s_entry(self, i + 1);
        if (r->found == 0) {
            r->succ_sig = s->sig;
            r->last_succ = i + 1;
        } else if (s->sig != r->succ_sig) {
            return S_RULE_DISAGREE;
        }
        uint64_t off = s->start_us - e->start_us;
        r->lo = off < r->lo ? off : r->lo;
        r->hi = off > r->hi ? off : r->hi;
        r->sum += (double) off;
        r->found++;
    }
    return r->found < self->p.repeats ? S_RULE_FEW : S_RULE_OK;
}

/* Looks for the successor of the phase just confirmed (self->cur); opens
 * a prediction when 'repeats' past successions agree: those that came
 * after the same two phases (the one before it too) if there are enough
 * of them, so that a short phase between two others (a transition) is
 * told apart by what it follows; else those of the phase alone. */
static void
s_predict(plan_predict_t *self, uint64_t now_us,
          struct plan_predict_events *out)
{
    struct s_rule r;
    enum s_rule_result res = S_RULE_FEW;
    bool ctx = self->n_hist > 0;
    uint64_t ctx_sig = ctx ? self->hist[self->n_hist - 1].sig : 0;
    if (ctx) {
        res = s_rule(self, true, ctx_sig, &r);
    }
    if (res == S_RULE_FEW) {
        ctx = false;
        res = s_rule(self, false, 0, &r);
    }
    if (res != S_RULE_OK) {
        return;
    }
    double mean = r.sum / r.found;
    double tol = fmax((double) self->p.tolerance_us,
                      self->p.tolerance_frac * mean);
    if ((double) (r.hi - r.lo) > tol) {
        return;         /* no steady period */
    }
    uint64_t start = self->cur.start_us + (uint64_t) mean;
    if (start <= now_us) {
        return;         /* it would be due already */
    }
    /* The successor's links and length as they were last time. */
    const struct s_phase *t = s_entry(self, r.last_succ);
    for (size_t i = self->n_hist; i-- > 0;) {
        if (self->hist[i].sig == r.succ_sig) {
            t = &self->hist[i];
            break;
        }
    }
    struct plan_prediction *pr = &self->pred;
    memset(pr, 0, sizeof *pr);
    pr->id = ++self->next_id;
    pr->made_us = now_us;
    pr->sig = r.succ_sig;
    pr->start_us = start;
    pr->window_us = (uint64_t) tol;
    pr->duration_us = t->end_us > t->start_us ? t->end_us - t->start_us
                                              : (uint64_t) mean;
    pr->seen = r.found;
    pr->n_links = t->n_links;
    memcpy(pr->links, t->links, t->n_links * sizeof *t->links);
    self->open = true;
    self->c.predictions++;
    struct plan_predict_event *ev = s_event(out, PLAN_PREDICT_PREDICTED);
    if (ev) {
        char after[48] = "";
        if (ctx) {
            snprintf(after, sizeof after, " after %016llx",
                     (unsigned long long) ctx_sig);
        }
        ev->pred_id = pr->id;
        ev->sig = r.succ_sig;
        ev->at_us = start;
        ev->n_links = pr->n_links;
        snprintf(ev->reason, sizeof ev->reason,
                 "phase %016llx (%zu links) expected in %.1f s (+-%.1f s) "
                 "for %.1f s: it followed phase %016llx%s %u times, "
                 "%.1f-%.1f s after its start",
                 (unsigned long long) r.succ_sig, pr->n_links,
                 s_sec(start - now_us), s_sec(pr->window_us),
                 s_sec(pr->duration_us), (unsigned long long) self->cur.sig,
                 after, r.found, s_sec(r.lo), s_sec(r.hi));
    }
}

static void
s_decide(plan_predict_t *self, bool hit, uint64_t at_us, const char *why,
         struct plan_predict_events *out)
{
    self->open = false;
    if (hit) {
        self->c.hits++;
    } else {
        self->c.misses++;
    }
    struct plan_predict_event *ev = s_event(out, hit ? PLAN_PREDICT_HIT
                                                     : PLAN_PREDICT_MISS);
    if (ev) {
        ev->pred_id = self->pred.id;
        ev->sig = self->pred.sig;
        ev->at_us = at_us;
        ev->n_links = self->pred.n_links;
        snprintf(ev->reason, sizeof ev->reason, "prediction %llu of phase "
                 "%016llx: %s", (unsigned long long) self->pred.id,
                 (unsigned long long) self->pred.sig, why);
    }
}

/* The phase self->cur was just confirmed: decide the open prediction by
 * it, then predict its successor. */
static void
s_confirmed(plan_predict_t *self, uint64_t now_us,
            struct plan_predict_events *out)
{
    self->c.phases++;
    struct plan_predict_event *ev = s_event(out, PLAN_PREDICT_PHASE);
    if (ev) {
        ev->sig = self->cur.sig;
        ev->at_us = self->cur.start_us;
        ev->n_links = self->cur.n_links;
        snprintf(ev->reason, sizeof ev->reason, "phase %016llx of %zu "
                 "links since %.1f s ago",
                 (unsigned long long) self->cur.sig, self->cur.n_links,
                 s_sec(now_us - self->cur.start_us));
    }
    if (self->open) {
        const struct plan_prediction *pr = &self->pred;
        uint64_t s = self->cur.start_us;
        uint64_t from = pr->start_us > pr->window_us
                        ? pr->start_us - pr->window_us : 0;
        char why[160];
        if (self->cur.sig == pr->sig && s >= from
            && s <= pr->start_us + pr->window_us) {
            double d = (double) s - (double) pr->start_us;
            snprintf(why, sizeof why, "started %.1f s %s the time "
                     "predicted", fabs(d) / 1e6, d < 0 ? "before" : "after");
            s_decide(self, true, s, why, out);
        } else if (s >= from) {
            snprintf(why, sizeof why, "phase %016llx started instead",
                     (unsigned long long) self->cur.sig);
            s_decide(self, false, s, why, out);
        }
    }
    if (!self->open) {
        s_predict(self, now_us, out);
    }
}

/* When a phase confirmed now would have started: when the selection left
 * the phase before it (the transition belongs to the new phase), or when
 * it stopped being empty, whichever is later. */
static uint64_t
s_would_start(const plan_predict_t *self)
{
    uint64_t left = self->in_phase ? self->differs_since_us
                                   : self->last_end_us;
    uint64_t start = left > self->nonempty_since_us
                     ? left : self->nonempty_since_us;
    return start <= self->cand_since_us ? start : self->cand_since_us;
}

int
plan_predict_observe(plan_predict_t *self, uint64_t now_us,
                     const struct plan_link_key *sel, size_t n,
                     struct plan_predict_events *out)
{
    out->n = 0;
    size_t m = 0;
    struct plan_predict_link *v = NULL;
    uint64_t sig = s_take_selection(self, sel, n, &m, &v);
    if (!v) {
        return -1;
    }
    if (m > PLAN_PREDICT_MAX_LINKS) {
        self->c.links_dropped += m - PLAN_PREDICT_MAX_LINKS;
        m = PLAN_PREDICT_MAX_LINKS;
    }
    if (!sig) {
        self->nonempty_since_us = 0;
    } else if (!self->nonempty_since_us) {
        self->nonempty_since_us = now_us;
    }
    if (sig != self->cand_sig) {
        self->cand_sig = sig;
        self->cand_since_us = now_us;
        self->cand_n = m;
        memcpy(self->cand, v, m * sizeof *v);
    }
    free(v);
    const uint64_t min = self->p.min_phase_us;
    if (self->in_phase) {
        if (sig == self->cur.sig) {
            self->differs_since_us = 0;
        } else {
            if (!self->differs_since_us) {
                self->differs_since_us = now_us;
            }
            if (now_us - self->differs_since_us >= min) {
                self->cur.end_us = self->differs_since_us;
                self->last_end_us = self->cur.end_us;
                s_push_history(self, &self->cur);
                self->in_phase = false;
                self->differs_since_us = 0;
            }
        }
    }
    if (!self->in_phase && self->cand_sig
        && now_us - self->cand_since_us >= min) {
        struct plan_predict_link *links =
            malloc((self->cand_n + 1) * sizeof *links);
        if (!links) {
            return -1;
        }
        memcpy(links, self->cand, self->cand_n * sizeof *links);
        self->cur = (struct s_phase) {
            .sig = self->cand_sig, .start_us = s_would_start(self),
            .n_links = self->cand_n, .links = links,
        };
        self->in_phase = true;
        s_confirmed(self, now_us, out);
    }
    if (self->open && now_us > self->pred.start_us + self->pred.window_us) {
        /* Still open past its window: decided now unless a selection of
         * the predicted phase that began in time is waiting to be
         * confirmed. */
        const struct plan_prediction *pr = &self->pred;
        uint64_t would = s_would_start(self);
        bool pending = self->cand_sig == pr->sig
                       && would + pr->window_us >= pr->start_us
                       && would <= pr->start_us + pr->window_us;
        if (!pending) {
            s_decide(self, false, now_us, "did not start in its window",
                     out);
        }
    }
    return 0;
}

const struct plan_prediction *
plan_predict_open(const plan_predict_t *self)
{
    return self->open ? &self->pred : NULL;
}

uint64_t
plan_predict_current(const plan_predict_t *self)
{
    return self->in_phase ? self->cur.sig : 0;
}

void
plan_predict_get_counters(const plan_predict_t *self,
                          struct plan_predict_counters *out)
{
    *out = self->c;
}
