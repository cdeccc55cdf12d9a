/* SPDX-License-Identifier: MIT */
/* VTTIF inference core, its API and its rate half: agents' cumulative
 * matrices in, a smoothed and a recent rate per VM pair and the global
 * matrix out (see vttif_tm.h for the rules); the topology half, which
 * turns the rates into candidate edges and events, is vttif_topo.c, and
 * the records both read are in vttif_tm_int.h.
 * Records live in arrays indexed by uint32 (reports, pairs, VMs, agents),
 * found through open-addressing tables of indices, and linked by index:
 * each agent lists its reports, each pair the reports of its two
 * directions.  Arrays and tables only grow, so the steady state allocates
 * nothing.  main.c drives it; nothing here does I/O. */
#include "vttif_tm.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#include "vttif_tm_int.h"
#include "vttif_topo.h"

/* ---- hashing and index tables ---- */

static inline uint32_t
s_hash2(uint64_t seed, uint64_t a, uint64_t b)
{
    return (uint32_t) hash_mix64(seed ^ hash_mix64(a + HASH_GOLDEN)
                            ^ (b << 17 | b >> 47));
}

static uint32_t
s_hash_str(uint64_t seed, const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ seed;
    for (; *s; s++) {
        h = (h ^ (unsigned char) *s) * UINT64_C(0x100000001b3);
    }
    return (uint32_t) hash_mix64(h);
}

static int
s_tab_init(struct s_tab *t)
{
    t->slots = malloc(S_MIN_SLOTS * sizeof *t->slots);
    if (!t->slots) {
        return -1;
    }
    for (size_t i = 0; i < S_MIN_SLOTS; i++) {
        t->slots[i].idx = S_NONE;
    }
    t->mask = S_MIN_SLOTS - 1;
    t->n = 0;
    return 0;
}

static void
s_tab_uninit(struct s_tab *t)
{
    free(t->slots);
    t->slots = NULL;
}

static int
s_tab_grow(struct s_tab *t)
{
    size_t n_slots = (t->mask + 1) * 2;
    if (n_slots > (size_t) UINT32_MAX) {
        return -1;
    }
    struct s_slot *slots = malloc(n_slots * sizeof *slots);
    if (!slots) {
        return -1;
    }
    for (size_t i = 0; i < n_slots; i++) {
        slots[i].idx = S_NONE;
    }
    size_t mask = n_slots - 1;
    for (size_t i = 0; i <= t->mask; i++) {
        if (t->slots[i].idx != S_NONE) {
            size_t pos = t->slots[i].hash & mask;
            while (slots[pos].idx != S_NONE) {
                pos = (pos + 1) & mask;
            }
            slots[pos] = t->slots[i];
        }
    }
    free(t->slots);
    t->slots = slots;
    t->mask = mask;
    return 0;
}

/* Makes room for one more entry (load stays at most 1/2). */
static int
s_tab_reserve(struct s_tab *t)
{
    return (t->n + 1) * 2 > t->mask + 1 ? s_tab_grow(t) : 0;
}

/* Inserts after s_tab_reserve() succeeded: cannot fail. */
static void
s_tab_insert(struct s_tab *t, uint32_t hash, uint32_t idx)
{
    size_t pos = hash & t->mask;
    while (t->slots[pos].idx != S_NONE) {
        pos = (pos + 1) & t->mask;
    }
    t->slots[pos].hash = hash;
    t->slots[pos].idx = idx;
    t->n++;
}

static void
s_tab_remove(struct s_tab *t, uint32_t hash, uint32_t idx)
{
    size_t i = hash & t->mask;
    while (t->slots[i].idx != idx) {
        assert(t->slots[i].idx != S_NONE);
        i = (i + 1) & t->mask;
    }
    /* Backward shift: pull later members of the run into the hole when
     * their home slot is not between the hole and themselves. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (t->slots[j].idx == S_NONE) {
            break;
        }
        size_t home = t->slots[j].hash & t->mask;
        if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].idx = S_NONE;
    t->n--;
}

/* Walks the records whose hash is 'h' in table 't': 'idx' takes each. */
#define S_TAB_FOR_EACH(t, h, idx)                                           \
    for (size_t s_pos_ = (h) & (t)->mask;                                   \
         ((idx) = (t)->slots[s_pos_].idx) != S_NONE;                        \
         s_pos_ = (s_pos_ + 1) & (t)->mask)                                 \
        if ((t)->slots[s_pos_].hash == (h))

/* Doubles an array of records of 'size' bytes so 'need' fit. */
static int
s_array_grow(void **array, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return 0;
    }
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need) {
        n *= 2;
    }
    if (n > (size_t) UINT32_MAX - 1 || n > SIZE_MAX / size) {
        return -1;
    }
    void *a = realloc(*array, n * size);
    if (!a) {
        return -1;
    }
    *array = a;
    *cap = n;
    return 0;
}

/* ---- small helpers ---- */

static bool
s_mac_ok(uint64_t mac)
{
    /* not 0, fits 48 bits, not a group address */
    return mac && mac <= UINT64_C(0xffffffffffff) && !((mac >> 40) & 1);
}

char *
vttif_tm_mac_str(uint64_t mac, char buf[18])
{
    snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
             (unsigned) (mac >> 40) & 0xff, (unsigned) (mac >> 32) & 0xff,
             (unsigned) (mac >> 24) & 0xff, (unsigned) (mac >> 16) & 0xff,
             (unsigned) (mac >> 8) & 0xff, (unsigned) mac & 0xff);
    return buf;
}

static bool
s_id_ok(const char *id)
{
    return id && *id && strnlen(id, VTTIF_TM_ID_LEN) < VTTIF_TM_ID_LEN;
}

static double
s_agent_timeout(const vttif_tm_t *self, const struct s_agent *a)
{
    double t = self->p.agent_timeout_periods * a->period;
    return t > self->p.agent_timeout_min_s ? t : self->p.agent_timeout_min_s;
}

/* ---- params ---- */

void
vttif_tm_params_default(struct vttif_tm_params *p)
{
    *p = (struct vttif_tm_params) {
        .window_s = VTTIF_TM_DEFAULT_WINDOW_S,
        .tau_s = VTTIF_TM_DEFAULT_TAU_S,
        .add_frac = VTTIF_TM_DEFAULT_ADD_FRAC,
        .drop_frac = VTTIF_TM_DEFAULT_DROP_FRAC,
        .min_rate_bps = VTTIF_TM_DEFAULT_MIN_RATE_BPS,
        .drop_rate_bps = VTTIF_TM_DEFAULT_DROP_RATE_BPS,
        .hold_add_s = VTTIF_TM_DEFAULT_HOLD_ADD_S,
        .hold_drop_s = VTTIF_TM_DEFAULT_HOLD_DROP_S,
        .idle_s = VTTIF_TM_DEFAULT_IDLE_S,
        .quiet_new_s = VTTIF_TM_DEFAULT_QUIET_NEW_S,
        .quiet_s = VTTIF_TM_DEFAULT_QUIET_S,
        .min_interval_s = VTTIF_TM_DEFAULT_MIN_INTERVAL_S,
        .settle_s = VTTIF_TM_DEFAULT_SETTLE_S,
        .settle_changes = VTTIF_TM_DEFAULT_SETTLE_CHANGES,
        .settle_max_s = VTTIF_TM_DEFAULT_SETTLE_MAX_S,
        .agent_timeout_periods = VTTIF_TM_DEFAULT_AGENT_TIMEOUT_PERIODS,
        .agent_timeout_min_s = VTTIF_TM_DEFAULT_AGENT_TIMEOUT_MIN_S,
        .pair_timeout_s = VTTIF_TM_DEFAULT_PAIR_TIMEOUT_S,
        .default_period_s = VTTIF_TM_DEFAULT_DEFAULT_PERIOD_S,
        .matrix_min_frac = VTTIF_TM_DEFAULT_MATRIX_MIN_FRAC,
        .max_agents = VTTIF_TM_DEFAULT_MAX_AGENTS,
        .max_reports = VTTIF_TM_DEFAULT_MAX_REPORTS,
        .max_pairs = VTTIF_TM_DEFAULT_MAX_PAIRS,
        .max_vms = VTTIF_TM_DEFAULT_MAX_VMS,
        .vm_timeout_s = VTTIF_TM_DEFAULT_VM_TIMEOUT_S,
        .max_rate_bps = VTTIF_TM_DEFAULT_MAX_RATE_BPS,
    };
}

static bool
s_fail(char *err, size_t err_size, const char *fmt, ...)
{
    if (err && err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* True if 'v' is a finite number in [lo, hi]; NaN fails. */
static bool
s_in(double v, double lo, double hi)
{
    return v >= lo && v <= hi;
}

bool
vttif_tm_params_check(const struct vttif_tm_params *p, char *err,
                      size_t err_size)
{
    static const struct {
        const char *name;
        size_t off;
        double lo, hi;
    } ranges[] = {
#define S_R(f, lo, hi) { #f, offsetof(struct vttif_tm_params, f), lo, hi }
        S_R(window_s, 0.05, 600),
        S_R(tau_s, 0, 600),
        S_R(add_frac, 0.001, 1),
        S_R(drop_frac, 0, 1),
        S_R(min_rate_bps, 0, 1e13),
        S_R(drop_rate_bps, 0, 1e13),
        S_R(hold_add_s, 0, 600),
        S_R(hold_drop_s, 0, 600),
        S_R(idle_s, 0, 600),
        S_R(quiet_new_s, 0, 600),
        S_R(quiet_s, 0, 600),
        S_R(min_interval_s, 0, 3600),
        S_R(settle_s, 0.1, 3600),
        S_R(settle_max_s, 0.1, 86400),
        S_R(agent_timeout_periods, 1, 1000),
        S_R(agent_timeout_min_s, 0.01, 86400),
        S_R(pair_timeout_s, 0.01, 86400),
        S_R(default_period_s, 0.001, 3600),
        S_R(matrix_min_frac, 0, 1),
        S_R(vm_timeout_s, 1, 86400),
        S_R(max_rate_bps, 1e3, 1e15),
#undef S_R
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        double v = *(const double *) (const void *) ((const char *) p
                                                      + ranges[i].off);
        if (!s_in(v, ranges[i].lo, ranges[i].hi)) {
            return s_fail(err, err_size, "%s: '%g' is not in [%g, %g]",
                          ranges[i].name, v, ranges[i].lo, ranges[i].hi);
        }
    }
    if (p->drop_frac >= p->add_frac) {
        return s_fail(err, err_size,
                      "drop_frac: '%g' must be below add_frac '%g'",
                      p->drop_frac, p->add_frac);
    }
    if (p->drop_rate_bps > p->min_rate_bps) {
        return s_fail(err, err_size,
                      "drop_rate_bps: '%g' must not exceed min_rate_bps '%g'",
                      p->drop_rate_bps, p->min_rate_bps);
    }
    if (p->max_rate_bps < p->min_rate_bps) {
        return s_fail(err, err_size,
                      "max_rate_bps: '%g' must not be below min_rate_bps "
                      "'%g'", p->max_rate_bps, p->min_rate_bps);
    }
    if (p->idle_s > p->window_s) {
        return s_fail(err, err_size,
                      "idle_s: '%g' must not exceed window_s '%g'",
                      p->idle_s, p->window_s);
    }
    if (p->settle_changes < 1
        || p->settle_changes > VTTIF_TM_MAX_SETTLE_CHANGES) {
        return s_fail(err, err_size, "settle_changes: '%u' is not in [1, %d]",
                      p->settle_changes, VTTIF_TM_MAX_SETTLE_CHANGES);
    }
    if (p->settle_s < p->quiet_s) {
        return s_fail(err, err_size,
                      "settle_s: '%g' must not be below quiet_s '%g'",
                      p->settle_s, p->quiet_s);
    }
    if (p->settle_max_s < p->settle_s) {
        return s_fail(err, err_size,
                      "settle_max_s: '%g' must not be below settle_s '%g'",
                      p->settle_max_s, p->settle_s);
    }
    if (p->max_agents < 1 || p->max_agents > 1000000) {
        return s_fail(err, err_size, "max_agents: '%zu' is not in [1, 1e6]",
                      p->max_agents);
    }
    if (p->max_reports < 1 || p->max_reports > (size_t) 1 << 30) {
        return s_fail(err, err_size,
                      "max_reports: '%zu' is not in [1, 2^30]",
                      p->max_reports);
    }
    if (p->max_pairs < 1 || p->max_pairs > (size_t) 1 << 30) {
        return s_fail(err, err_size, "max_pairs: '%zu' is not in [1, 2^30]",
                      p->max_pairs);
    }
    if (p->max_vms < 2 || p->max_vms > (size_t) 1 << 30) {
        return s_fail(err, err_size, "max_vms: '%zu' is not in [2, 2^30]",
                      p->max_vms);
    }
    return true;
}

/* ---- life cycle ---- */

/* Sets the bucket width, and how many of the newest buckets the recent
 * rate sums: enough to span idle_s whole although the newest bucket is
 * only partly elapsed (so it spans idle_s to idle_s + one bucket), and at
 * most the window. */
static void
s_set_widths(vttif_tm_t *self)
{
    self->bw = self->p.window_s / S_NB;
    self->n_recent = 0;
    if (self->p.idle_s > 0) {
        double n = ceil(self->p.idle_s / self->bw - 1e-9) + 1;
        self->n_recent = n > S_NB ? S_NB : (int) n;
    }
}

vttif_tm_t *
vttif_tm_new(const struct vttif_tm_params *params)
{
    struct vttif_tm_params def;
    if (!params) {
        vttif_tm_params_default(&def);
        params = &def;
    }
    if (!vttif_tm_params_check(params, NULL, 0)) {
        return NULL;
    }
    vttif_tm_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->tag = S_TAG;
    self->p = *params;
    s_set_widths(self);
    /* Source MACs are the VMs' to choose: vary the hash per instance so
     * no fixed set of MACs can make long probe runs everywhere. */
    self->seed = hash_mix64((uint64_t) (uintptr_t) self ^ UINT64_C(0x5eed));
    self->reports_free = self->pairs_free = S_NONE;
    self->vms_free = self->agents_free = S_NONE;
    self->lru_head = self->lru_tail = S_NONE;
    vttif_topo_init(self);
    if (s_tab_init(&self->report_tab) < 0 || s_tab_init(&self->pair_tab) < 0
        || s_tab_init(&self->vm_tab) < 0
        || s_tab_init(&self->agent_tab) < 0) {
        goto err;
    }
    return self;

err:
    vttif_tm_destroy(&self);
    return NULL;
}

void
vttif_tm_destroy(vttif_tm_t **self_p)
{
    assert(self_p);
    vttif_tm_t *self = *self_p;
    if (!self) {
        return;
    }
    assert(self->tag == S_TAG);
    s_tab_uninit(&self->report_tab);
    s_tab_uninit(&self->pair_tab);
    s_tab_uninit(&self->vm_tab);
    s_tab_uninit(&self->agent_tab);
    free(self->reports);
    free(self->pairs);
    free(self->vms);
    free(self->agents);
    self->tag = S_DEAD;
    free(self);
    *self_p = NULL;
}

static void s_report_restart_window(vttif_tm_t *self, struct s_report *r,
                                    double ta);

int
vttif_tm_set_params(vttif_tm_t *self, const struct vttif_tm_params *params)
{
    assert(self && self->tag == S_TAG);
    if (!vttif_tm_params_check(params, NULL, 0)) {
        return -1;
    }
    bool new_window = params->window_s != self->p.window_s;
    self->p = *params;
    s_set_widths(self);
    if (new_window) {
        for (size_t i = 0; i < self->reports_hw; i++) {
            struct s_report *r = &self->reports[i];
            if (r->in_use) {
                s_report_restart_window(self, r, r->ta_last);
            }
        }
    }
    return 0;
}

const struct vttif_tm_params *
vttif_tm_get_params(const vttif_tm_t *self)
{
    assert(self && self->tag == S_TAG);
    return &self->p;
}

/* ---- agents and VMs ---- */

static uint32_t
s_agent_find(const vttif_tm_t *self, const char *id, uint32_t h)
{
    uint32_t idx;
    S_TAB_FOR_EACH(&self->agent_tab, h, idx) {
        if (!strcmp(self->agents[idx].id, id)) {
            return idx;
        }
    }
    return S_NONE;
}

static uint32_t
s_agent_create(vttif_tm_t *self, const char *id, uint32_t h)
{
    if (self->c.n_agents >= self->p.max_agents
        || s_tab_reserve(&self->agent_tab) < 0) {
        return S_NONE;
    }
    uint32_t ai = self->agents_free;
    if (ai != S_NONE) {
        self->agents_free = self->agents[ai].next_free;
    } else {
        if (s_array_grow((void **) &self->agents, &self->agents_cap,
                         self->agents_hw + 1, sizeof *self->agents) < 0) {
            return S_NONE;
        }
        ai = (uint32_t) self->agents_hw++;
    }
    struct s_agent *a = &self->agents[ai];
    memset(a, 0, sizeof *a);
    snprintf(a->id, sizeof a->id, "%s", id);
    a->hash = h;
    a->reports = S_NONE;
    a->first_listed = S_NONE;
    a->in_use = true;
    a->alpha_dt = -1;
    s_tab_insert(&self->agent_tab, h, ai);
    self->c.n_agents++;
    self->c.agents_new++;
    return ai;
}

static uint32_t
s_vm_find(const vttif_tm_t *self, uint64_t mac, uint32_t h)
{
    uint32_t idx;
    S_TAB_FOR_EACH(&self->vm_tab, h, idx) {
        if (self->vms[idx].mac == mac) {
            return idx;
        }
    }
    return S_NONE;
}

static void
s_lru_unlink(vttif_tm_t *self, uint32_t vi)
{
    struct s_vm *v = &self->vms[vi];
    if (v->lru_prev != S_NONE) {
        self->vms[v->lru_prev].lru_next = v->lru_next;
    } else {
        self->lru_head = v->lru_next;
    }
    if (v->lru_next != S_NONE) {
        self->vms[v->lru_next].lru_prev = v->lru_prev;
    } else {
        self->lru_tail = v->lru_prev;
    }
    v->lru_prev = v->lru_next = S_NONE;
}

/* Puts VM 'vi' (not in the list) at the head, touched at 'now'. */
static void
s_lru_push(vttif_tm_t *self, uint32_t vi, double now)
{
    struct s_vm *v = &self->vms[vi];
    v->t_touch = now;
    v->lru_prev = S_NONE;
    v->lru_next = self->lru_head;
    if (self->lru_head != S_NONE) {
        self->vms[self->lru_head].lru_prev = vi;
    } else {
        self->lru_tail = vi;
    }
    self->lru_head = vi;
}

static void
s_vm_touch(vttif_tm_t *self, uint32_t vi, double now)
{
    s_lru_unlink(self, vi);
    s_lru_push(self, vi, now);
}

/* Forgets VM 'vi' if nothing refers to it and it is not located. */
static void
s_vm_release(vttif_tm_t *self, uint32_t vi)
{
    struct s_vm *v = &self->vms[vi];
    if (v->n_refs || v->located) {
        return;
    }
    s_lru_unlink(self, vi);
    s_tab_remove(&self->vm_tab, v->hash, vi);
    v->in_use = false;
    v->next_free = self->vms_free;
    self->vms_free = vi;
    self->c.n_vms--;
}

/* The VM table is full: forgets the least recently located VM that no
 * pair names, among the S_EVICT_PROBE oldest.  Returns false if there is
 * none: the oldest are all in pairs, which have caps of their own. */
static bool
s_vm_evict(vttif_tm_t *self)
{
    uint32_t vi = self->lru_tail;
    for (int n = 0; vi != S_NONE && n < S_EVICT_PROBE; n++) {
        struct s_vm *v = &self->vms[vi];
        if (!v->n_refs) {
            v->located = false;
            s_vm_release(self, vi);
            self->c.vms_evicted++;
            return true;
        }
        vi = v->lru_prev;
    }
    return false;
}

/* Returns the VM record of 'mac', created if need be (touched at 'now'),
 * or S_NONE. */
static uint32_t
s_vm_get(vttif_tm_t *self, uint64_t mac, double now)
{
    uint32_t h = s_hash2(self->seed, mac, 0x766d);
    uint32_t vi = s_vm_find(self, mac, h);
    if (vi != S_NONE) {
        return vi;
    }
    if (self->c.n_vms >= self->p.max_vms && !s_vm_evict(self)) {
        self->c.vms_refused++;
        return S_NONE;
    }
    if (s_tab_reserve(&self->vm_tab) < 0) {
        return S_NONE;
    }
    vi = self->vms_free;
    if (vi != S_NONE) {
        self->vms_free = self->vms[vi].next_free;
    } else {
        if (s_array_grow((void **) &self->vms, &self->vms_cap,
                         self->vms_hw + 1, sizeof *self->vms) < 0) {
            return S_NONE;
        }
        vi = (uint32_t) self->vms_hw++;
    }
    struct s_vm *v = &self->vms[vi];
    memset(v, 0, sizeof *v);
    v->mac = mac;
    v->hash = h;
    v->in_use = true;
    s_tab_insert(&self->vm_tab, h, vi);
    s_lru_push(self, vi, now);
    self->c.n_vms++;
    return vi;
}

/* Forgets the locations not renewed within vm_timeout_s, oldest first; a
 * VM that pairs still name stays, unlocated, touched anew. */
static void
s_age_vms(vttif_tm_t *self, double now)
{
    while (self->lru_tail != S_NONE) {
        uint32_t vi = self->lru_tail;
        struct s_vm *v = &self->vms[vi];
        if (now - v->t_touch <= self->p.vm_timeout_s) {
            break;
        }
        if (v->located) {
            v->located = false;
            self->c.vms_aged++;
        }
        if (v->n_refs) {
            s_vm_touch(self, vi, now);
        } else {
            s_vm_release(self, vi);
        }
    }
}

int
vttif_tm_feed_location(vttif_tm_t *self, uint64_t mac, const char *agent_id,
                       bool gone, double now)
{
    assert(self && self->tag == S_TAG);
    if (!s_mac_ok(mac) || !s_id_ok(agent_id) || !(fabs(now) <= S_MAX_TIME)) {
        self->c.rejected++;
        return -1;
    }
    self->c.locations++;
    if (gone) {
        uint32_t vi = s_vm_find(self, mac, s_hash2(self->seed, mac, 0x766d));
        if (vi != S_NONE && self->vms[vi].located
            && !strcmp(self->vms[vi].agent, agent_id)) {
            self->vms[vi].located = false;
            s_vm_release(self, vi);
        }
        return 0;
    }
    uint32_t vi = s_vm_get(self, mac, now);
    if (vi == S_NONE) {
        return -1;
    }
    struct s_vm *v = &self->vms[vi];
    v->located = true;
    snprintf(v->agent, sizeof v->agent, "%s", agent_id);
    s_vm_touch(self, vi, now);
    return 0;
}

/* ---- pairs ---- */

static uint32_t
s_pair_find(const vttif_tm_t *self, uint64_t lo, uint64_t hi, uint32_t h)
{
    uint32_t idx;
    S_TAB_FOR_EACH(&self->pair_tab, h, idx) {
        const struct s_pair *p = &self->pairs[idx];
        if (p->mac[0] == lo && p->mac[1] == hi) {
            return idx;
        }
    }
    return S_NONE;
}

static bool s_pair_evict_idle(vttif_tm_t *self);

static uint32_t
s_pair_get(vttif_tm_t *self, uint64_t a, uint64_t b, double now)
{
    uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
    uint32_t h = s_hash2(self->seed, lo, hi);
    uint32_t pi = s_pair_find(self, lo, hi, h);
    if (pi != S_NONE) {
        return pi;
    }
    if (self->c.n_pairs >= self->p.max_pairs && !s_pair_evict_idle(self)) {
        self->c.pairs_refused++;
        return S_NONE;
    }
    uint32_t vhi = S_NONE;
    uint32_t vlo = s_vm_get(self, lo, now);
    if (vlo != S_NONE) {
        /* Named for a moment, so that making room for 'hi' cannot evict
         * it. */
        self->vms[vlo].n_refs++;
        vhi = s_vm_get(self, hi, now);
        self->vms[vlo].n_refs--;
    }
    if (vlo == S_NONE || vhi == S_NONE || s_tab_reserve(&self->pair_tab) < 0) {
        goto err;
    }
    pi = self->pairs_free;
    if (pi != S_NONE) {
        self->pairs_free = self->pairs[pi].next_free;
    } else {
        if (s_array_grow((void **) &self->pairs, &self->pairs_cap,
                         self->pairs_hw + 1, sizeof *self->pairs) < 0) {
            goto err;
        }
        pi = (uint32_t) self->pairs_hw++;
    }
    struct s_pair *p = &self->pairs[pi];
    memset(p, 0, sizeof *p);
    p->mac[0] = lo;
    p->mac[1] = hi;
    p->vm[0] = vlo;
    p->vm[1] = vhi;
    p->cond_t = -1;
    p->flip_t = -INFINITY;
    p->reports = S_NONE;
    p->hash = h;
    p->in_use = true;
    self->vms[vlo].n_refs++;
    self->vms[vhi].n_refs++;
    s_tab_insert(&self->pair_tab, h, pi);
    self->c.n_pairs++;
    return pi;

err:
    /* A VM record just made for this pair must not linger. */
    if (vlo != S_NONE) {
        s_vm_release(self, vlo);
    }
    if (vhi != S_NONE) {
        s_vm_release(self, vhi);
    }
    return S_NONE;
}

void
vttif_tm_pair_free(vttif_tm_t *self, uint32_t pi)
{
    struct s_pair *p = &self->pairs[pi];
    assert(p->reports == S_NONE);
    s_tab_remove(&self->pair_tab, p->hash, pi);
    for (int d = 0; d < 2; d++) {
        self->vms[p->vm[d]].n_refs--;
        s_vm_release(self, p->vm[d]);
    }
    p->in_use = false;
    p->next_free = self->pairs_free;
    self->pairs_free = pi;
    self->c.n_pairs--;
}

static double
s_report_rate(const struct s_report *r)
{
    return r->has_rate ? r->ewma : 0;
}

/* Sets the pair's two directed rates (smoothed and recent) from its
 * reports: the dedupe rule.  Usually each direction has one report and
 * this is a short walk. */
static void
s_pair_resolve(vttif_tm_t *self, uint32_t pi)
{
    struct s_pair *p = &self->pairs[pi];
    double best[2] = { 0, 0 }, recent[2] = { 0, 0 };
    unsigned n[2] = { 0, 0 };
    for (uint32_t ri = p->reports; ri != S_NONE;) {
        const struct s_report *r = &self->reports[ri];
        int d = r->src != p->mac[0];
        n[d]++;
        double rate = s_report_rate(r);
        if (rate > best[d]) {
            best[d] = rate;
            recent[d] = r->recent;
        }
        ri = r->next_pair;
    }
    assert(n[0] == p->n_dir[0] && n[1] == p->n_dir[1]);
    for (int d = 0; d < 2; d++) {
        if (n[d] < 2) {
            continue;
        }
        /* Several agents report this direction: trust the one where the
         * source VM is located, which counts it as it leaves the VM. */
        const struct s_vm *v = &self->vms[p->vm[d]];
        if (!v->located) {
            continue;
        }
        for (uint32_t ri = p->reports; ri != S_NONE;) {
            const struct s_report *r = &self->reports[ri];
            if ((r->src != p->mac[0]) == d && r->has_rate
                && !strcmp(self->agents[r->agent].id, v->agent)) {
                best[d] = r->ewma;
                recent[d] = r->recent;
                break;
            }
            ri = r->next_pair;
        }
    }
    p->rate[0] = best[0];
    p->rate[1] = best[1];
    p->recent[0] = recent[0];
    p->recent[1] = recent[1];
    p->multi = n[0] > 1 || n[1] > 1;
}

/* Report 'ri' has a new rate: its pair's rates follow.  The only report
 * of its direction (the usual case) sets that direction alone, without
 * a walk of the pair's reports (the other's is the cache miss this
 * saves); otherwise the dedupe rule runs. */
static void
s_pair_resolve_report(vttif_tm_t *self, uint32_t ri)
{
    const struct s_report *r = &self->reports[ri];
    struct s_pair *p = &self->pairs[r->pair];
    int d = r->src != p->mac[0];
    if (p->n_dir[d] != 1) {
        s_pair_resolve(self, r->pair);
        return;
    }
    double rate = s_report_rate(r);
    p->rate[d] = rate > 0 ? rate : 0;
    p->recent[d] = rate > 0 ? r->recent : 0;
}

/* ---- reports: window and EWMA ---- */

static int64_t
s_bucket_no(const vttif_tm_t *self, double ta)
{
    return (int64_t) floor(ta / self->bw);
}

/* Moves the newest bucket to the one holding 'ta', emptying those the
 * window leaves behind. */
static void
s_advance(const vttif_tm_t *self, struct s_report *r, double ta)
{
    int64_t b = s_bucket_no(self, ta);
    if (b <= r->b_now) {
        return;
    }
    int64_t n = b - r->b_now < S_NB ? b - r->b_now : S_NB;
    for (int64_t i = 1; i <= n; i++) {
        r->bucket[(r->b_now + i) & (S_NB - 1)] = 0;
    }
    r->b_now = b;
}

/* Adds 'bytes' sent during [t0, t1] (t1 in the newest bucket) to the
 * buckets in proportion to time, so a delta spanning a lost message is
 * spread over the time it covers.  Parts before the window are dropped. */
static void
s_spread(const vttif_tm_t *self, struct s_report *r, double t0, double t1,
         double bytes)
{
    int64_t lo = r->b_now - S_NB + 1;
    int64_t b0 = s_bucket_no(self, t0);
    if (b0 >= r->b_now || t1 <= t0) {
        r->bucket[r->b_now & (S_NB - 1)] += (float) bytes;
        return;
    }
    double per_s = bytes / (t1 - t0);
    for (int64_t b = b0 > lo ? b0 : lo; b <= r->b_now; b++) {
        double s = (double) b * self->bw, e = s + self->bw;
        s = s > t0 ? s : t0;
        e = e < t1 ? e : t1;
        if (e > s) {
            r->bucket[b & (S_NB - 1)] += (float) (per_s * (e - s));
        }
    }
}

/* EWMA weight for a step of 'dt' seconds, cached per agent since all of
 * an agent's reports usually step together. */
static double
s_alpha(const vttif_tm_t *self, struct s_agent *a, double dt)
{
    if (self->p.tau_s <= 0) {
        return 1;
    }
    if (dt != a->alpha_dt) {
        a->alpha_dt = dt;
        a->alpha = -expm1(-dt / self->p.tau_s);
    }
    return a->alpha;
}

/* Takes the window rate at agent time 'ta' (buckets already advanced)
 * into the EWMA. */
static void
s_eval(const vttif_tm_t *self, struct s_agent *a, struct s_report *r,
       double ta)
{
    double ws = (double) (r->b_now - S_NB + 1) * self->bw;
    ws = ws > r->ta_base ? ws : r->ta_base;
    double span = ta - ws;
    if (span <= 1e-9) {
        return;
    }
    double sum = 0;
    for (int i = 0; i < S_NB; i++) {
        sum += r->bucket[i];
    }
    double rate = sum * 8 / span;
    /* The recent rate: the newest buckets alone.  It says whether the
     * traffic is still there, which the window and the EWMA take seconds
     * to tell once it stops. */
    r->recent = rate;
    if (self->n_recent) {
        double rs = (double) (r->b_now - self->n_recent + 1) * self->bw;
        rs = rs > ws ? rs : ws;
        double sum_recent = 0;
        for (int64_t b = r->b_now - self->n_recent + 1; b <= r->b_now; b++) {
            sum_recent += r->bucket[b & (S_NB - 1)];
        }
        if (ta - rs > 1e-9) {
            r->recent = sum_recent * 8 / (ta - rs);
        }
    }
    if (!r->has_rate) {
        /* No ramp from 0: the first window rate is already an average
         * over real elapsed time. */
        r->ewma = rate;
        r->has_rate = true;
    } else if (ta > r->ta_eval) {
        r->ewma += s_alpha(self, a, ta - r->ta_eval) * (rate - r->ewma);
    }
    r->ta_eval = ta;
}

static void
s_report_restart_window(vttif_tm_t *self, struct s_report *r, double ta)
{
    memset(r->bucket, 0, sizeof r->bucket);
    r->b_now = s_bucket_no(self, ta);
    r->ta_base = ta;
    r->ta_eval = ta;
}

/* New baseline: counters restarted or first seen.  The smoothed rate is
 * kept, so a restart makes neither a spike nor a dip. */
static void
s_report_rebase(vttif_tm_t *self, struct s_report *r,
                const struct vttif_tm_entry *e, double ta, uint32_t epoch)
{
    r->bytes = e->bytes;
    r->frames = e->frames;
    r->ta_last = ta;
    r->epoch = epoch;
    r->need_base = false;
    s_report_restart_window(self, r, ta);
}

static uint32_t
s_report_find(const vttif_tm_t *self, uint32_t h, uint64_t src,
              uint64_t dst, uint32_t ai)
{
    uint32_t idx;
    S_TAB_FOR_EACH(&self->report_tab, h, idx) {
        const struct s_report *r = &self->reports[idx];
        if (r->src == src && r->dst == dst && r->agent == ai) {
            return idx;
        }
    }
    return S_NONE;
}

static uint32_t
s_report_create(vttif_tm_t *self, uint32_t ai, uint32_t h,
                const struct vttif_tm_entry *e, double ta, double now)
{
    if (self->c.n_reports >= self->p.max_reports
        && !s_pair_evict_idle(self)) {
        self->c.entries_dropped++;
        return S_NONE;
    }
    if (s_tab_reserve(&self->report_tab) < 0) {
        self->c.entries_dropped++;
        return S_NONE;
    }
    uint32_t pi = s_pair_get(self, e->src, e->dst, now);
    if (pi == S_NONE) {
        self->c.entries_dropped++;
        return S_NONE;
    }
    uint32_t ri = self->reports_free;
    if (ri != S_NONE) {
        self->reports_free = self->reports[ri].next_agent;
    } else {
        if (s_array_grow((void **) &self->reports, &self->reports_cap,
                         self->reports_hw + 1, sizeof *self->reports) < 0) {
            if (self->pairs[pi].reports == S_NONE && !self->pairs[pi].in_c
                && !self->pairs[pi].in_p) {
                vttif_tm_pair_free(self, pi);
            }
            self->c.entries_dropped++;
            return S_NONE;
        }
        ri = (uint32_t) self->reports_hw++;
    }
    struct s_agent *a = &self->agents[ai];
    struct s_pair *p = &self->pairs[pi];
    struct s_report *r = &self->reports[ri];
    memset(r, 0, sizeof *r);
    r->src = e->src;
    r->dst = e->dst;
    r->agent = ai;
    r->pair = pi;
    r->gen = a->gen;
    r->hash = h;
    r->t_seen = now;
    r->in_use = true;
    s_report_rebase(self, r, e, ta, a->epoch);
    r->prev_agent = S_NONE;
    r->next_agent = a->reports;
    if (a->reports != S_NONE) {
        self->reports[a->reports].prev_agent = ri;
    }
    a->reports = ri;
    a->n_reports++;
    r->next_pair = p->reports;
    p->reports = ri;
    p->n_dir[r->src != p->mac[0]]++;
    r->next_listed = S_NONE;
    s_tab_insert(&self->report_tab, h, ri);
    self->c.n_reports++;
    self->c.baselines++;
    return ri;
}

/* Unlinks report 'ri' from its agent, its pair and the table, and frees
 * it. */
static void
s_report_free(vttif_tm_t *self, uint32_t ri)
{
    struct s_report *r = &self->reports[ri];
    struct s_pair *p = &self->pairs[r->pair];
    uint32_t *link = &p->reports;
    while (*link != ri) {
        assert(*link != S_NONE);
        link = &self->reports[*link].next_pair;
    }
    *link = r->next_pair;
    p->n_dir[r->src != p->mac[0]]--;
    struct s_agent *a = &self->agents[r->agent];
    if (r->prev_agent != S_NONE) {
        self->reports[r->prev_agent].next_agent = r->next_agent;
    } else {
        a->reports = r->next_agent;
    }
    if (r->next_agent != S_NONE) {
        self->reports[r->next_agent].prev_agent = r->prev_agent;
    }
    s_tab_remove(&self->report_tab, r->hash, ri);
    a->n_reports--;
    r->in_use = false;
    r->next_agent = self->reports_free;
    self->reports_free = ri;
    self->c.n_reports--;
    s_pair_resolve(self, r->pair);
}

/* The current rate under which a pair is idle: 1% of drop_rate_bps. */
static double
s_idle_bps(const vttif_tm_t *self)
{
    return self->p.drop_rate_bps / 100;
}


/* The report or pair table is full: evicts an idle pair with its reports
 * (see Bounds in vttif_tm.h), looking at up to S_EVICT_PROBE pairs from
 * the clock hand on.  Returns false if none of them is idle. */
static bool
s_pair_evict_idle(vttif_tm_t *self)
{
    for (int n = 0; n < S_EVICT_PROBE && self->pairs_hw; n++) {
        if (self->pair_hand >= self->pairs_hw) {
            self->pair_hand = 0;
        }
        uint32_t pi = (uint32_t) self->pair_hand++;
        struct s_pair *p = &self->pairs[pi];
        if (!p->in_use || p->in_c || p->in_p || p->cond_t >= 0
            || p->reports == S_NONE
            || p->rate[0] + p->rate[1] >= s_idle_bps(self)
            || vttif_tm_pair_cur(self, p) >= s_idle_bps(self)) {
            continue;
        }
        while (p->reports != S_NONE) {
            s_report_free(self, p->reports);
        }
        vttif_tm_pair_free(self, pi);
        self->c.pairs_evicted++;
        return true;
    }
    return false;
}

/* ---- feeding ---- */

/* The report agent 'ai' listed after 'prev' last time (its first when
 * 'prev' is S_NONE), if that is the report of 'e': an agent lists its
 * pairs in the same order message after message, so this finds most
 * reports without a probe of the table, whose slots are cache misses at
 * scale.  A guess that is not 'e's report (freed, reused, reordered)
 * only costs the lookup. */
static uint32_t
s_report_guess(const vttif_tm_t *self, uint32_t ai, uint32_t prev,
               const struct vttif_tm_entry *e)
{
    uint32_t g = prev == S_NONE ? self->agents[ai].first_listed
                                : self->reports[prev].next_listed;
    if (g >= self->reports_hw) {
        return S_NONE;
    }
    const struct s_report *r = &self->reports[g];
    return r->in_use && r->agent == ai && r->src == e->src
                   && r->dst == e->dst
               ? g
               : S_NONE;
}

/* Takes entry 'e' of agent 'ai''s update; '*prev' is the report of the
 * entry before it in this update (S_NONE for the first), set to this
 * entry's. */
static void
s_feed_entry(vttif_tm_t *self, uint32_t ai, const struct vttif_tm_entry *e,
             double ta, double now, uint32_t *prev)
{
    if (!s_mac_ok(e->src) || !s_mac_ok(e->dst) || e->src == e->dst) {
        self->c.entries_skipped++;
        return;
    }
    uint32_t ri = s_report_guess(self, ai, *prev, e);
    bool made = false;
    if (ri == S_NONE) {
        uint32_t h = s_hash2(self->seed, e->src ^ (uint64_t) ai << 48,
                             e->dst);
        ri = s_report_find(self, h, e->src, e->dst, ai);
        if (ri == S_NONE) {
            ri = s_report_create(self, ai, h, e, ta, now);
            if (ri == S_NONE) {
                return;
            }
            made = true;
        }
    }
    if (*prev == S_NONE) {
        self->agents[ai].first_listed = ri;
    } else {
        self->reports[*prev].next_listed = ri;
    }
    *prev = ri;
    if (made) {
        return;
    }
    struct s_agent *a = &self->agents[ai];
    struct s_report *r = &self->reports[ri];
    if (r->gen == a->gen) {
        self->c.entries_skipped++; /* listed twice in one message */
        return;
    }
    r->gen = a->gen;
    r->t_seen = now;
    if (r->epoch != a->epoch || r->need_base || e->bytes < r->bytes
        || e->frames < r->frames) {
        if (r->epoch == a->epoch && !r->need_base) {
            self->c.resets_counter++;
        }
        s_report_rebase(self, r, e, ta, a->epoch);
        return;
    }
    uint64_t delta = e->bytes - r->bytes;
    double t0 = r->ta_last > r->ta_base ? r->ta_last : r->ta_base;
    if ((double) delta * 8 > self->p.max_rate_bps * (ta - t0)) {
        /* More than any link carries: a garbled or hostile counter, that
         * would make every real pair look idle beside it.  A new
         * baseline, as for a reset: it moves no rate. */
        self->c.entries_implausible++;
        s_report_rebase(self, r, e, ta, a->epoch);
        return;
    }
    r->bytes = e->bytes;
    r->frames = e->frames;
    s_advance(self, r, ta);
    if (delta) {
        /* Traffic starting on a pair that was idle (its window holds
         * little beside this one reading): take the window and the rate
         * from here, or the window would ramp up over its whole length
         * while pairs seen for the first time (baselined just now) show
         * their full rate at once, and the first topology of an
         * all-to-all would miss the pairs that had chattered before. */
        double held = 0;
        for (int i = 0; i < S_NB; i++) {
            held += r->bucket[i];
        }
        /* After a restart the window is empty too, but the smoothed rate
         * still says what to expect: no onset there. */
        double expected = r->has_rate ? r->ewma / 8 * (ta - t0) : 0;
        if (held * 4 < (double) delta && expected * 4 < (double) delta) {
            s_report_restart_window(self, r, t0);
            r->has_rate = false;
            self->c.onsets++;
        }
        s_spread(self, r, t0, ta, (double) delta);
    }
    r->ta_last = ta;
    s_eval(self, a, r, ta);
    s_pair_resolve_report(self, ri);
}

/* Reports the agent did not list this time: their counters did not move
 * as far as we know, so their window decays; bytes that show up later are
 * spread back over the gap.  Forgotten after pair_timeout_s. */
static void
s_feed_absent(vttif_tm_t *self, uint32_t ai, double ta, double now)
{
    struct s_agent *a = &self->agents[ai];
    uint32_t next;
    for (uint32_t ri = a->reports; ri != S_NONE; ri = next) {
        struct s_report *r = &self->reports[ri];
        next = r->next_agent;
        if (r->gen == a->gen) {
            continue;
        }
        if (now - r->t_seen > self->p.pair_timeout_s) {
            s_report_free(self, ri);
            self->c.reports_aged++;
            continue;
        }
        if (r->epoch != a->epoch) {
            /* Not listed since the agent's counters restarted: nothing
             * sent since, as far as we know.  Decay from here on, on the
             * new clock, and take its next listing as a baseline. */
            r->epoch = a->epoch;
            r->need_base = true;
            s_report_restart_window(self, r, ta);
        } else if (ta > r->ta_eval) {
            s_advance(self, r, ta);
            s_eval(self, a, r, ta);
            s_pair_resolve_report(self, ri);
        }
    }
}

int
vttif_tm_feed(vttif_tm_t *self, const struct vttif_tm_update *u, double now)
{
    assert(self && self->tag == S_TAG && u);
    if (!s_id_ok(u->agent_id) || !(fabs(now) <= S_MAX_TIME)
        || !(u->time_s <= S_MAX_TIME) || (u->n_entries && !u->entries)) {
        self->c.rejected++;
        return -1;
    }
    uint32_t h = s_hash_str(self->seed, u->agent_id);
    uint32_t ai = s_agent_find(self, u->agent_id, h);
    if (ai == S_NONE) {
        ai = s_agent_create(self, u->agent_id, h);
        if (ai == S_NONE) {
            self->c.rejected++;
            return -1;
        }
    }
    struct s_agent *a = &self->agents[ai];
    double period = u->period_s > 0 && isfinite(u->period_s)
                        ? u->period_s
                        : self->p.default_period_s;
    double ta = u->time_s > 0 ? u->time_s : now;
    if (a->n_updates == 0) {
        a->boot_id = u->boot_id;
        a->epoch = 1;
        a->t_first = now;
    } else if (u->boot_id != a->boot_id) {
        /* The agent restarted: its counters start again from 0. */
        self->c.resets_boot++;
        a->boot_id = u->boot_id;
        a->epoch++;
    } else if (ta <= a->ta_last) {
        /* A little behind: a duplicate or a reordered message.  Far
         * behind: the agent's clock was set back, take a new baseline. */
        if (a->ta_last - ta <= 10 * period + 5 || now <= a->t_last) {
            self->c.stale++;
            return -1;
        }
        self->c.clock_jumps++;
        a->epoch++;
    } else if (ta - a->ta_last > 1.5 * a->period) {
        self->c.gaps++;
    }
    a->period = period;
    a->gen++;
    uint32_t prev = S_NONE;
    for (size_t i = 0; i < u->n_entries; i++) {
        s_feed_entry(self, ai, &u->entries[i], ta, now, &prev);
    }
    s_feed_absent(self, ai, ta, now);
    a = &self->agents[ai];
    a->t_last = now;
    a->ta_last = ta;
    a->n_updates++;
    self->c.updates++;
    self->c.entries += u->n_entries;
    return 0;
}

/* ---- aging ---- */

static void
s_agent_remove(vttif_tm_t *self, uint32_t ai)
{
    struct s_agent *a = &self->agents[ai];
    while (a->reports != S_NONE) {
        s_report_free(self, a->reports);
    }
    for (size_t i = 0; i < self->vms_hw; i++) {
        struct s_vm *v = &self->vms[i];
        if (v->in_use && v->located && !strcmp(v->agent, a->id)) {
            v->located = false;
            s_vm_release(self, (uint32_t) i);
        }
    }
    s_tab_remove(&self->agent_tab, a->hash, ai);
    a->in_use = false;
    a->next_free = self->agents_free;
    self->agents_free = ai;
    self->c.n_agents--;
}

static void
s_age_agents(vttif_tm_t *self, double now)
{
    for (size_t i = 0; i < self->agents_hw; i++) {
        struct s_agent *a = &self->agents[i];
        if (a->in_use && a->n_updates
            && now - a->t_last > s_agent_timeout(self, a)) {
            s_agent_remove(self, (uint32_t) i);
            self->c.agents_aged++;
        }
    }
}

/* ---- ticks ---- */

bool
vttif_tm_tick(vttif_tm_t *self, double now, struct vttif_tm_event *ev)
{
    assert(self && self->tag == S_TAG && ev);
    self->c.ticks++;
    s_age_agents(self, now);
    s_age_vms(self, now);
    return vttif_topo_tick(self, now, ev);
}

/* ---- queries ---- */

size_t
vttif_tm_topology(vttif_tm_t *self, struct vttif_tm_edge *out, size_t max,
                  uint64_t *version)
{
    assert(self && self->tag == S_TAG);
    return vttif_topo_edges(self, out, max, version);
}
size_t
vttif_tm_matrix(vttif_tm_t *self, struct vttif_tm_rate *out, size_t max,
                double *max_bps)
{
    assert(self && self->tag == S_TAG);
    vttif_topo_scale(self);
    size_t n = 0;
    double floor_bps = self->p.matrix_min_frac * self->max_d;
    for (size_t i = 0; i < self->pairs_hw; i++) {
        const struct s_pair *p = &self->pairs[i];
        if (!p->in_use) {
            continue;
        }
        for (int d = 0; d < 2; d++) {
            if (p->rate[d] <= 0 || p->rate[d] < floor_bps) {
                continue;
            }
            if (n < max) {
                out[n] = (struct vttif_tm_rate) {
                    .src = p->mac[d],
                    .dst = p->mac[!d],
                    .rate_bps = p->rate[d],
                    .norm = self->max_d > 0 ? p->rate[d] / self->max_d : 0,
                    .current_bps = self->n_recent && p->recent[d] < p->rate[d]
                                       ? p->recent[d]
                                       : p->rate[d],
                };
            }
            n++;
        }
    }
    if (max_bps) {
        *max_bps = self->max_d;
    }
    return n;
}

size_t
vttif_tm_vm_totals(vttif_tm_t *self, struct vttif_tm_vm_total *out,
                   size_t max)
{
    assert(self && self->tag == S_TAG);
    for (size_t i = 0; i < self->vms_hw; i++) {
        self->vms[i].tx = self->vms[i].rx = 0;
        self->vms[i].tx_agent = S_NONE;
    }
    for (size_t i = 0; i < self->pairs_hw; i++) {
        const struct s_pair *p = &self->pairs[i];
        if (!p->in_use) {
            continue;
        }
        for (int d = 0; d < 2; d++) {
            struct s_vm *src = &self->vms[p->vm[d]];
            src->tx += p->rate[d];
            self->vms[p->vm[!d]].rx += p->rate[d];
        }
        for (uint32_t ri = p->reports; ri != S_NONE;) {
            const struct s_report *r = &self->reports[ri];
            struct s_vm *src = &self->vms[p->vm[r->src != p->mac[0]]];
            if (src->tx_agent == S_NONE) {
                src->tx_agent = r->agent;
            }
            ri = r->next_pair;
        }
    }
    size_t n = 0;
    for (size_t i = 0; i < self->vms_hw; i++) {
        const struct s_vm *v = &self->vms[i];
        if (!v->in_use) {
            continue;
        }
        if (n < max) {
            struct vttif_tm_vm_total *t = &out[n];
            t->mac = v->mac;
            t->tx_bps = v->tx;
            t->rx_bps = v->rx;
            const char *id = v->located ? v->agent
                             : v->tx_agent != S_NONE
                                 ? self->agents[v->tx_agent].id
                                 : "";
            snprintf(t->agent_id, sizeof t->agent_id, "%s", id);
        }
        n++;
    }
    return n;
}

size_t
vttif_tm_agents(const vttif_tm_t *self, struct vttif_tm_agent_info *out,
                size_t max)
{
    assert(self && self->tag == S_TAG);
    size_t n = 0;
    for (size_t i = 0; i < self->agents_hw; i++) {
        const struct s_agent *a = &self->agents[i];
        if (!a->in_use) {
            continue;
        }
        if (n < max) {
            struct vttif_tm_agent_info *o = &out[n];
            memcpy(o->id, a->id, sizeof o->id);
            o->boot_id = a->boot_id;
            o->period_s = a->period;
            o->first_seen = a->t_first;
            o->last_seen = a->t_last;
            o->n_updates = a->n_updates;
            o->n_reports = a->n_reports;
        }
        n++;
    }
    return n;
}

void
vttif_tm_get_counters(const vttif_tm_t *self, struct vttif_tm_counters *out)
{
    assert(self && self->tag == S_TAG && out);
    *out = self->c;
}

const char *
vttif_tm_change_name(enum vttif_tm_change change)
{
    switch (change) {
    case VTTIF_TM_NONE:
        return "none";
    case VTTIF_TM_NEW:
        return "new";
    case VTTIF_TM_UPDATED:
        return "updated";
    case VTTIF_TM_UNION:
        return "union";
    case VTTIF_TM_CLEARED:
        return "cleared";
    }
    return "?";
}
