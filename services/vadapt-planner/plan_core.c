/* SPDX-License-Identifier: MIT */
/* vadapt-planner decision core: VM-pair demands and VM locations in, the
 * overlay links E, the selection H, the wanted set H' and the actions that
 * take the held set to H' out (see plan_core.h for the rules).  Hosts are
 * numbered in name order in a table kept across calls; links live in one
 * array sorted by (host_a, host_b), so by their hosts' numbers, found by
 * binary search; the VM pairs of all links share one array, each link
 * owning a slice, found by VM pair through a hash.  The ranking is kept
 * across ticks (plan_rank.c), so a tick re-sorts only the links whose
 * rank moved.  A tick is a fixed sequence of steps (plan_core_tick()),
 * each a function with one job.  Nothing here does I/O. */
#include "plan_core.h"
#include "plan_match.h"
#include "plan_rank.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TAG 0x706c616eu       /* "plan" */
#define S_DEAD 0xdeadbeefu
#define S_MAC_MAX UINT64_C(0xffffffffffff)

/* Why a link is not in H, as of the last selection. */
enum s_why {
    S_WHY_SELECTED,             /* it is */
    S_WHY_GONE,                 /* not in the last topology */
    S_WHY_BELOW,                /* demand under the threshold in 'thr' */
    S_WHY_RANK,                 /* beyond k */
    S_WHY_PORTS,                /* host a or b ('why_b') had no free port */
    S_WHY_STALE,                /* no live rates recent enough */
};

/* What the last tick reported for a link, so a repeat is not "new". */
enum s_note {
    S_NOTE_NONE,
    S_NOTE_WAIT_UP,
    S_NOTE_WAIT_PORTS,
    S_NOTE_WAIT_DOWN,
    S_NOTE_THROTTLE,
    S_NOTE_RESERVE,
    S_NOTE_RELEASE,
};

struct s_link {
    char a[PLAN_HOST_LEN];      /* a < b */
    char b[PLAN_HOST_LEN];
    uint32_t ha, hb;            /* a and b in plan_core.hosts */
    double demand;              /* bits/s, what the rules go by: 'live'
                                   or 'topo' (see Live demand) */
    double topo;                /* the topology's; 0 if not in E */
    double live;                /* the current rates' */
    bool stale;                 /* demand 0 for want of current rates */
    double thr;                 /* threshold applied at the last selection */
    bool thr_release;           /* 'thr' was release_bps, not the min */
    size_t pairs_off;           /* its VM pairs in plan_core.pairs */
    uint32_t n_pairs;
    uint64_t sel_since;         /* if 'selected': selected since */
    uint64_t out_since;         /* if wanted and not selected: out since */
    bool broke;                 /* left the selection at out_since (a
                                   break select_grace_us may bridge) */
    uint64_t keep_until;        /* wanted at least until then
                                   (plan_core_keep()); 0: no such floor */
    enum s_why why;
    bool why_b;                 /* S_WHY_PORTS, S_NOTE_WAIT_PORTS: host b's
                                   port, not a's */
    enum s_note note;           /* reported at the last tick */
    enum s_note next;           /* scratch: reported at this tick */
    bool in_e;                  /* in the last topology */
    bool selected;              /* in H */
    bool wanted;                /* in H' */
    bool seeded;                /* wanted through plan_core_seed() */
    bool held;                  /* scratch: in the caller's held set */
    bool was_selected;          /* scratch of the selection */
    bool take;                  /* scratch: the exact selection takes it */
    double rank;                /* demand, with the keep bonus */
    bool promoted;              /* scratch: became wanted this tick */
    bool demoted;               /* scratch: stopped being wanted */
};

/* A host of the links, with its port bookkeeping. */
struct s_host {
    char name[PLAN_HOST_LEN];
    uint32_t cap;               /* b(h) */
    uint32_t used;              /* scratch: links counted against it */
    bool ref;                   /* scratch: a link names it */
};

#define S_NONE UINT32_MAX       /* no index */

/* A link's own path cost (plan_core_set_cost()). */
struct s_cost {
    char a[PLAN_HOST_LEN];      /* a < b */
    char b[PLAN_HOST_LEN];
    uint64_t setup, teardown;
};

/* A port limit, with its name copied. */
struct s_limit {
    char host[PLAN_HOST_LEN];
    uint32_t ports;
};

/* The last exact selection's problem and answer: the same problem again
 * (no demand moved, as between two sets of live rates) is not solved
 * again. */
struct s_memo {
    struct plan_match_edge *edges;
    uint32_t *cap;
    bool *taken;
    size_t n_edges, n_hosts;
    uint32_t k;
    bool valid;
};

/* The exact solver's budget in the core: about 20 ms of one core at
 * most (tests/bench/plan_match.sh; the library's default is ten times
 * that), so a tick stays well inside its period. */
static const struct plan_match_budget s_exact_budget = { 20000, 2000000 };

struct plan_core {
    uint32_t tag;
    struct plan_params p;       /* 'port_limits' points to 'limits_pub' */
    struct s_limit *limits;     /* sorted by host */
    struct plan_port_limit *limits_pub;
    size_t n_limits;

    struct s_link *links;       /* sorted by (a, b), so by (ha, hb) */
    size_t n_links, links_cap;
    struct s_host *hosts;       /* the links' hosts (and maybe a few
                                   more), sorted by name: the index order
                                   is the name order */
    size_t n_hosts;
    struct plan_vm_pair *pairs; /* slices of the links */
    size_t n_pairs;
    uint32_t *pair_slot;        /* open hash of 'pairs' by VM pair, either
                                   order: index or S_NONE */
    size_t slot_mask;           /* slots - 1, a power of 2 less one */
    double *pair_live;          /* by pair: its current rate */
    struct plan_vm_pair *live;  /* current rates as given, a < b */
    size_t n_live;
    uint64_t live_at;           /* when they were given */
    bool has_live;

    struct s_cost *costs;       /* sorted by (a, b), PLAN_MAX_COSTS */
    size_t n_costs;
    struct s_cost def_cost;     /* setup 0: none */

    plan_rank_t *rank;          /* the ranking, kept across calls */
    const uint32_t *order;      /* links by rank (s_rank()), borrowed
                                   from 'rank' */
    bool from_scratch;          /* plan_core_set_from_scratch() */

    /* Scratch, grown to the number of links and never shrunk. */
    struct plan_rank_key *keys; /* by link: its rank key */
    uint32_t *map;              /* by old link index: new index */
    size_t scratch_cap;
    struct plan_action *acts;
    size_t acts_cap;

    uint64_t *adds;             /* times of recent RESERVEs, ascending */
    size_t n_adds;              /* at most p.max_adds are kept */

    uint64_t now;               /* latest time seen */
    bool has_now;
    bool sel_changed;           /* H changed since the last tick */
    struct s_memo memo;         /* the last exact selection */
    struct plan_counters c;
};

/* ---- small helpers ---- */

static bool
s_host_ok(const char *h)
{
    return h && h[0] && memchr(h, '\0', PLAN_HOST_LEN) != NULL;
}

static void
s_copy_host(char dst[PLAN_HOST_LEN], const char *src)
{
    size_t len = strlen(src);
    assert(len < PLAN_HOST_LEN);
    memcpy(dst, src, len + 1);
}

static void __attribute__((format(printf, 3, 4)))
s_fmt(char *buf, size_t size, const char *fmt, ...)
{
    if (!size) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

static double
s_mbps(double bps)
{
    return bps / 1e6;
}

static double
s_sec(uint64_t us)
{
    return (double) us / 1e6;
}

/* Puts the names of a link in order; false if they cannot name one. */
static bool
s_norm(const char *x, const char *y, const char **a, const char **b)
{
    if (!s_host_ok(x) || !s_host_ok(y)) {
        return false;
    }
    int c = strcmp(x, y);
    if (c == 0) {
        return false;
    }
    *a = c < 0 ? x : y;
    *b = c < 0 ? y : x;
    return true;
}

static int
s_cmp_key(const char *a1, const char *b1, const char *a2, const char *b2)
{
    int c = strcmp(a1, a2);
    return c ? c : strcmp(b1, b2);
}

/* Index of the host called 'name' in 'hosts' ('n'), or S_NONE. */
static uint32_t
s_host_in(const struct s_host *hosts, size_t n, const char *name)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, hosts[mid].name);
        if (c == 0) {
            return (uint32_t) mid;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return S_NONE;
}

static int
s_cmp_ids(uint32_t a1, uint32_t b1, uint32_t a2, uint32_t b2)
{
    if (a1 != a2) {
        return a1 < a2 ? -1 : 1;
    }
    return b1 < b2 ? -1 : b1 > b2;
}

/* Index where the link of hosts 'ha' < 'hb' is or would be inserted. */
static size_t
s_lower(const plan_core_t *self, uint32_t ha, uint32_t hb)
{
    size_t lo = 0, hi = self->n_links;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct s_link *l = &self->links[mid];
        if (s_cmp_ids(l->ha, l->hb, ha, hb) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* The link of hosts 'a' < 'b', or NULL. */
static struct s_link *
s_find(const plan_core_t *self, const char *a, const char *b)
{
    uint32_t ha = s_host_in(self->hosts, self->n_hosts, a);
    uint32_t hb = s_host_in(self->hosts, self->n_hosts, b);
    if (ha == S_NONE || hb == S_NONE) {
        return NULL;
    }
    size_t i = s_lower(self, ha, hb);
    if (i < self->n_links && self->links[i].ha == ha
        && self->links[i].hb == hb) {
        return &self->links[i];
    }
    return NULL;
}

/* A time before the last one counts as the last one, so timers never run
 * backwards and differences never wrap. */
static uint64_t
s_clock(plan_core_t *self, uint64_t now)
{
    if (self->has_now && now < self->now) {
        self->c.clock_back++;
        return self->now;
    }
    self->now = now;
    self->has_now = true;
    return now;
}

static void *
s_alloc_array(size_t n, size_t size)
{
    if (n && size > SIZE_MAX / n) {
        return NULL;
    }
    return malloc(n ? n * size : 1);
}

/* Returns 'p' grown to hold 'need' elements of 'size' bytes ('*cap' is
 * updated), or NULL, leaving 'p' and '*cap' alone, when memory is
 * short. */
static void *
s_grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap && p) {
        return p;
    }
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / size) {
            return NULL;
        }
        n *= 2;
    }
    void *q = realloc(p, n * size);
    if (q) {
        *cap = n;
    }
    return q;
}

/* Makes the scratch fit 'n_links' links and 'n_acts' actions. */
static int
s_reserve_scratch(plan_core_t *self, size_t n_links, size_t n_acts)
{
    if (n_links > self->scratch_cap) {
        size_t cap = n_links < 16 ? 16 : n_links;
        if (cap >= UINT32_MAX || cap > SIZE_MAX / sizeof *self->keys
            || plan_rank_reserve(self->rank, cap)) {
            return -1;
        }
        struct plan_rank_key *keys = realloc(self->keys,
                                             cap * sizeof *keys);
        if (!keys) {
            return -1;
        }
        self->keys = keys;
        uint32_t *map = realloc(self->map, cap * sizeof *map);
        if (!map) {
            return -1;
        }
        self->map = map;
        self->scratch_cap = cap;
    }
    struct plan_action *acts = s_grow(self->acts, &self->acts_cap, n_acts,
                                      sizeof *acts);
    if (!acts) {
        return -1;
    }
    self->acts = acts;
    return 0;
}

/* ---- params ---- */

void
plan_params_default(struct plan_params *p)
{
    memset(p, 0, sizeof *p);
    p->policy = PLAN_DEFAULT_POLICY;
    p->k = PLAN_DEFAULT_K;
    p->default_ports = PLAN_DEFAULT_PORTS;
    p->port_limits = NULL;
    p->n_port_limits = 0;
    p->min_demand_bps = PLAN_DEFAULT_MIN_DEMAND_BPS;
    p->release_bps = PLAN_DEFAULT_RELEASE_BPS;
    p->t_up_us = PLAN_DEFAULT_T_UP_US;
    p->t_down_us = PLAN_DEFAULT_T_DOWN_US;
    p->max_adds = PLAN_DEFAULT_MAX_ADDS;
    p->add_window_us = PLAN_DEFAULT_ADD_WINDOW_US;
    p->keep_bonus = PLAN_DEFAULT_KEEP_BONUS;
    p->live_max_age_us = PLAN_DEFAULT_LIVE_MAX_AGE_US;
    p->hold_cost = PLAN_DEFAULT_HOLD_COST;
    p->wait_min_us = PLAN_DEFAULT_WAIT_MIN_US;
    p->select_grace_us = PLAN_DEFAULT_SELECT_GRACE_US;
    p->exact = PLAN_DEFAULT_EXACT;
    p->exact_max_links = PLAN_DEFAULT_EXACT_MAX_LINKS;
}

bool
plan_params_check(const struct plan_params *p, char *err, size_t err_size)
{
    if (p->policy != PLAN_POLICY_TOP_K
        && p->policy != PLAN_POLICY_B_MATCHING) {
        s_fmt(err, err_size, "policy: bad value '%d'", (int) p->policy);
        return false;
    }
    if (p->k > PLAN_MAX_K || (p->policy == PLAN_POLICY_TOP_K && p->k < 1)) {
        s_fmt(err, err_size, "k: '%u' not in [%d, %d] for %s", p->k,
              p->policy == PLAN_POLICY_TOP_K ? 1 : 0, PLAN_MAX_K,
              plan_policy_name(p->policy));
        return false;
    }
    if (p->default_ports > PLAN_MAX_PORTS) {
        s_fmt(err, err_size, "default_ports: '%u' over %d", p->default_ports,
              PLAN_MAX_PORTS);
        return false;
    }
    if (p->n_port_limits && !p->port_limits) {
        s_fmt(err, err_size, "port_limits: NULL with %zu entries",
              p->n_port_limits);
        return false;
    }
    for (size_t i = 0; i < p->n_port_limits; i++) {
        const struct plan_port_limit *pl = &p->port_limits[i];
        if (!s_host_ok(pl->host)) {
            s_fmt(err, err_size, "port_limits[%zu]: bad host '%.*s'", i,
                  PLAN_HOST_LEN, pl->host ? pl->host : "(null)");
            return false;
        }
        if (pl->ports > PLAN_MAX_PORTS) {
            s_fmt(err, err_size, "port_limits[%zu] (%s): ports '%u' over %d",
                  i, pl->host, pl->ports, PLAN_MAX_PORTS);
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(p->port_limits[j].host, pl->host)) {
                s_fmt(err, err_size, "port_limits: host '%s' given twice",
                      pl->host);
                return false;
            }
        }
    }
    if (!isfinite(p->min_demand_bps) || p->min_demand_bps < 0) {
        s_fmt(err, err_size, "min_demand_bps: bad value '%g'",
              p->min_demand_bps);
        return false;
    }
    if (!isfinite(p->release_bps) || p->release_bps < 0
        || p->release_bps > p->min_demand_bps) {
        s_fmt(err, err_size,
              "release_bps: '%g' not in [0, min_demand_bps %g]",
              p->release_bps, p->min_demand_bps);
        return false;
    }
    if (p->max_adds > PLAN_MAX_ADDS) {
        s_fmt(err, err_size, "max_adds: '%u' over %d", p->max_adds,
              PLAN_MAX_ADDS);
        return false;
    }
    if (!isfinite(p->hold_cost) || p->hold_cost <= 0
        || p->hold_cost > 1000) {
        s_fmt(err, err_size, "hold_cost: '%g' not in (0, 1000]",
              p->hold_cost);
        return false;
    }
    if (p->select_grace_us > UINT64_C(60000000)) {
        s_fmt(err, err_size, "select_grace_us: '%llu' over a minute",
              (unsigned long long) p->select_grace_us);
        return false;
    }
    if (p->wait_min_us > UINT64_C(3600000000)) {
        s_fmt(err, err_size, "wait_min_us: '%llu' over an hour",
              (unsigned long long) p->wait_min_us);
        return false;
    }
    if (p->live_max_age_us > UINT64_C(3600000000)) {
        s_fmt(err, err_size, "live_max_age_us: '%llu' over an hour",
              (unsigned long long) p->live_max_age_us);
        return false;
    }
    if (!isfinite(p->keep_bonus) || p->keep_bonus < 0
        || p->keep_bonus > 10) {
        s_fmt(err, err_size, "keep_bonus: '%g' not in [0, 10]",
              p->keep_bonus);
        return false;
    }
    if (p->exact_max_links < 1
        || p->exact_max_links > PLAN_MAX_EXACT_LINKS) {
        s_fmt(err, err_size, "exact_max_links: '%u' not in [1, %d]",
              p->exact_max_links, PLAN_MAX_EXACT_LINKS);
        return false;
    }
    if (p->max_adds && !p->add_window_us) {
        s_fmt(err, err_size, "add_window_us: '0' with max_adds %u",
              p->max_adds);
        return false;
    }
    return true;
}

static int
s_cmp_limit(const void *x, const void *y)
{
    return strcmp(((const struct s_limit *) x)->host,
                  ((const struct s_limit *) y)->host);
}

static uint32_t
s_ports(const plan_core_t *self, const char *host)
{
    size_t lo = 0, hi = self->n_limits;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(host, self->limits[mid].host);
        if (c == 0) {
            return self->limits[mid].ports;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return self->p.default_ports;
}

/* Installs a checked copy of 'params'; -1 (nothing changed) when memory
 * is short. */
static int
s_install_params(plan_core_t *self, const struct plan_params *params)
{
    size_t n = params->n_port_limits;
    struct s_limit *limits = s_alloc_array(n, sizeof *limits);
    struct plan_port_limit *pub = s_alloc_array(n, sizeof *pub);
    uint64_t *adds = s_alloc_array(params->max_adds, sizeof *adds);
    if (!limits || !pub || !adds) {
        free(limits);
        free(pub);
        free(adds);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        s_copy_host(limits[i].host, params->port_limits[i].host);
        limits[i].ports = params->port_limits[i].ports;
    }
    qsort(limits, n, sizeof *limits, s_cmp_limit);
    for (size_t i = 0; i < n; i++) {
        pub[i].host = limits[i].host;
        pub[i].ports = limits[i].ports;
    }
    /* Keep the newest RESERVE times the new cap can count. */
    size_t keep = self->n_adds < params->max_adds ? self->n_adds
                                                  : params->max_adds;
    if (keep) {
        memcpy(adds, self->adds + (self->n_adds - keep), keep * sizeof *adds);
    }
    free(self->limits);
    free(self->limits_pub);
    free(self->adds);
    self->limits = limits;
    self->limits_pub = pub;
    self->n_limits = n;
    self->adds = adds;
    self->n_adds = keep;
    self->p = *params;
    self->p.port_limits = n ? pub : NULL;
    for (size_t i = 0; i < self->n_hosts; i++) {
        self->hosts[i].cap = s_ports(self, self->hosts[i].name);
    }
    return 0;
}

plan_core_t *
plan_core_new(const struct plan_params *params)
{
    struct plan_params def;
    if (!params) {
        plan_params_default(&def);
        params = &def;
    }
    if (!plan_params_check(params, NULL, 0)) {
        return NULL;
    }
    plan_core_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->tag = S_TAG;
    self->rank = plan_rank_new();
    if (!self->rank || s_install_params(self, params)) {
        plan_rank_destroy(&self->rank);
        free(self);
        return NULL;
    }
    return self;
}

void
plan_core_destroy(plan_core_t **self_p)
{
    assert(self_p);
    plan_core_t *self = *self_p;
    if (!self) {
        return;
    }
    assert(self->tag == S_TAG);
    self->tag = S_DEAD;
    free(self->limits);
    free(self->limits_pub);
    free(self->links);
    free(self->pairs);
    free(self->pair_slot);
    free(self->pair_live);
    free(self->live);
    free(self->costs);
    plan_rank_destroy(&self->rank);
    free(self->keys);
    free(self->map);
    free(self->hosts);
    free(self->acts);
    free(self->adds);
    free(self->memo.edges);
    free(self->memo.cap);
    free(self->memo.taken);
    free(self);
    *self_p = NULL;
}

int
plan_core_set_params(plan_core_t *self, const struct plan_params *params)
{
    assert(self && self->tag == S_TAG);
    if (!params || !plan_params_check(params, NULL, 0)) {
        return -1;
    }
    return s_install_params(self, params);
}

const struct plan_params *
plan_core_get_params(const plan_core_t *self)
{
    assert(self && self->tag == S_TAG);
    return &self->p;
}

/* ---- selection ---- */

void
plan_core_set_from_scratch(plan_core_t *self, bool on)
{
    assert(self && self->tag == S_TAG);
    self->from_scratch = on;
}

/* The host 'id' of a link, called 'name'.  From scratch, it is looked up
 * by name and its cap computed again, so that a test comparing both ways
 * checks the indexes too. */
static struct s_host *
s_host(plan_core_t *self, uint32_t id, const char *name)
{
    if (self->from_scratch) {
        id = s_host_in(self->hosts, self->n_hosts, name);
        assert(id != S_NONE);
        self->hosts[id].cap = s_ports(self, name);
    }
    assert(id < self->n_hosts);
    return &self->hosts[id];
}

/* Folds the VM pairs' rates into each link's demand (see Live demand in
 * plan_core.h) and gives each link its rank key. */
static void
s_fold_demand(plan_core_t *self)
{
    assert(self->scratch_cap >= self->n_links);
    const struct plan_params *p = &self->p;
    bool fresh = self->has_live
                 && self->now - self->live_at <= p->live_max_age_us;
    for (size_t i = 0; i < self->n_links; i++) {
        struct s_link *l = &self->links[i];
        l->stale = false;
        if (!p->live_max_age_us) {
            l->demand = l->topo;
        } else if (fresh) {
            l->demand = l->in_e ? l->live : 0;
        } else if (l->wanted) {
            l->demand = l->topo;
        } else {
            l->demand = 0;
            l->stale = l->in_e && l->topo > 0;
        }
        /* A wanted link keeps its place against links busier by less
         * than keep_bonus. */
        l->rank = l->wanted ? l->demand * (1 + self->p.keep_bonus)
                            : l->demand;
        /* Ties: a wanted link first (a tie keeps what is held), then
         * by (a, b), which is the index order. */
        self->keys[i] = (struct plan_rank_key) { l->rank, l->wanted };
    }
}

/* Ranks the links by their keys: only those whose key moved are placed
 * again, unless from scratch. */
static void
s_rank(plan_core_t *self)
{
    self->order = plan_rank_update(self->rank, self->keys, self->n_links,
                                   self->from_scratch);
}

/* Fills 'order': demands folded, then ranked. */
static void
s_prepare(plan_core_t *self)
{
    s_fold_demand(self);
    s_rank(self);
}

/* True if 'l' may be selected at all: in E, with demand over its
 * threshold (s_select() says why not). */
static bool
s_eligible(const plan_core_t *self, const struct s_link *l)
{
    double thr = l->wanted ? self->p.release_bps : self->p.min_demand_bps;
    return l->in_e && l->demand > 0 && l->demand >= thr;
}

/* The exact selection (see plan_core.h): sets 'take' of each link and
 * counts the ports the taken links use in the hosts' 'used'.  Returns
 * false, having changed nothing, when the greedy must run instead. */
static bool
s_select_exact(plan_core_t *self)
{
    size_t n_el = 0;
    for (size_t i = 0; i < self->n_links; i++) {
        n_el += s_eligible(self, &self->links[i]);
    }
    if (n_el > self->p.exact_max_links) {
        self->c.exact_greedy++;
        return false;
    }
    struct plan_match_edge *edges = s_alloc_array(n_el, sizeof *edges);
    uint32_t *idx = s_alloc_array(n_el, sizeof *idx);
    uint32_t *cap = s_alloc_array(self->n_hosts, sizeof *cap);
    bool *taken = s_alloc_array(n_el, sizeof *taken);
    bool ok = false;
    if (!edges || !idx || !cap || !taken) {
        goto out;
    }
    size_t m = 0;
    for (size_t i = 0; i < self->n_links; i++) {
        struct s_link *l = &self->links[i];
        if (s_eligible(self, l)) {
            uint32_t ha = (uint32_t) (s_host(self, l->ha, l->a)
                                      - self->hosts);
            uint32_t hb = (uint32_t) (s_host(self, l->hb, l->b)
                                      - self->hosts);
            edges[m] = (struct plan_match_edge) { ha, hb, l->rank };
            idx[m++] = (uint32_t) i;
        }
    }
    for (size_t i = 0; i < self->n_hosts; i++) {
        cap[i] = self->hosts[i].cap;
    }
    struct s_memo *memo = &self->memo;
    if (memo->valid && memo->n_edges == m && memo->n_hosts == self->n_hosts
        && memo->k == self->p.k
        && !memcmp(memo->edges, edges, m * sizeof *edges)
        && !memcmp(memo->cap, cap, self->n_hosts * sizeof *cap)) {
        memcpy(taken, memo->taken, m * sizeof *taken);
    } else {
        struct plan_match_problem pr = { cap, self->n_hosts, edges, m,
                                         self->p.k };
        struct plan_match_stats st;
        if (plan_match_exact(&pr, &s_exact_budget, taken, &st)) {
            goto out;
        }
        self->c.exact++;
        self->c.exact_unproven += !st.optimal;
        /* Keep this problem: the memo takes the arrays. */
        free(memo->edges);
        free(memo->cap);
        free(memo->taken);
        *memo = (struct s_memo) { edges, cap, taken, m, self->n_hosts,
                                  self->p.k, true };
        edges = NULL;
        cap = NULL;
        taken = NULL;
    }
    const bool *take = taken ? taken : memo->taken;
    const struct plan_match_edge *te = edges ? edges : memo->edges;
    for (size_t i = 0; i < self->n_links; i++) {
        self->links[i].take = false;
    }
    for (size_t i = 0; i < m; i++) {
        if (take[i]) {
            self->links[idx[i]].take = true;
            self->hosts[te[i].u].used++;
            self->hosts[te[i].v].used++;
        }
    }
    ok = true;
out:
    if (!ok && n_el) {
        self->c.exact_greedy++;
    }
    free(edges);
    free(idx);
    free(cap);
    free(taken);
    return ok;
}

/* Recomputes H at 'now' (see plan_core.h); s_prepare() must have run. */
static void
s_select(plan_core_t *self, uint64_t now)
{
    const struct plan_params *p = &self->p;
    bool bmatch = p->policy == PLAN_POLICY_B_MATCHING;
    uint32_t n_sel = 0;
    for (size_t i = 0; i < self->n_hosts; i++) {
        self->hosts[i].used = 0;
    }
    bool exact = bmatch && p->exact && s_select_exact(self);
    for (size_t i = 0; i < self->n_links; i++) {
        struct s_link *l = &self->links[self->order[i]];
        l->was_selected = l->selected;
        l->selected = false;
        l->thr_release = l->wanted;
        l->thr = l->wanted ? p->release_bps : p->min_demand_bps;
        if (!l->in_e || l->demand <= 0) {
            l->why = !l->in_e ? S_WHY_GONE
                     : l->stale ? S_WHY_STALE : S_WHY_BELOW;
            if (l->stale) {
                self->c.stale++;
            }
        } else if (l->demand < l->thr) {
            l->why = S_WHY_BELOW;
        } else if (exact) {
            /* Not taken: a host's ports went to other links, or the
             * cap went to heavier ones. */
            struct s_host *ha = s_host(self, l->ha, l->a);
            struct s_host *hb = s_host(self, l->hb, l->b);
            struct s_host *full = ha->used >= ha->cap ? ha
                                  : hb->used >= hb->cap ? hb : NULL;
            if (l->take) {
                l->selected = true;
            } else if (full) {
                l->why = S_WHY_PORTS;
                l->why_b = full == hb;
            } else {
                l->why = S_WHY_RANK;
            }
        } else if (p->k && n_sel >= p->k) {
            l->why = S_WHY_RANK;
        } else if (bmatch) {
            struct s_host *ha = s_host(self, l->ha, l->a);
            struct s_host *hb = s_host(self, l->hb, l->b);
            struct s_host *full = ha->used >= ha->cap ? ha
                                  : hb->used >= hb->cap ? hb : NULL;
            if (full) {
                l->why = S_WHY_PORTS;
                l->why_b = full == hb;
            } else {
                ha->used++;
                hb->used++;
                l->selected = true;
            }
        } else {
            l->selected = true;
        }
        if (l->selected) {
            l->why = S_WHY_SELECTED;
            n_sel++;
            if (!l->was_selected
                && !(l->broke && now - l->out_since
                                 <= self->p.select_grace_us)) {
                l->sel_since = now;
            }
            l->broke = false;
        } else if (l->was_selected) {
            l->out_since = now;
            l->broke = true;
        }
        if (l->selected != l->was_selected) {
            self->sel_changed = true;
        }
    }
}

/* Writes why 'l' is not in H. */
static void
s_why(const plan_core_t *self, const struct s_link *l, char *buf,
      size_t size)
{
    switch (l->why) {
    case S_WHY_SELECTED:
        s_fmt(buf, size, "selected");
        break;
    case S_WHY_GONE:
        s_fmt(buf, size, "no demand in the topology");
        break;
    case S_WHY_BELOW:
        s_fmt(buf, size, "demand %.2f Mbit/s < %s %.2f Mbit/s",
              s_mbps(l->demand), l->thr_release ? "release" : "min",
              s_mbps(l->thr));
        break;
    case S_WHY_RANK:
        s_fmt(buf, size, "demand %.2f Mbit/s not among the top %u links",
              s_mbps(l->demand), self->p.k);
        break;
    case S_WHY_PORTS:
        s_fmt(buf, size, "demand %.2f Mbit/s but host %s has no free port",
              s_mbps(l->demand), l->why_b ? l->b : l->a);
        break;
    case S_WHY_STALE:
        if (self->has_live) {
            s_fmt(buf, size, "topology demand %.2f Mbit/s, but the current "
                  "rates are %.1f s old (max %.1f s)", s_mbps(l->topo),
                  s_sec(self->now - self->live_at),
                  s_sec(self->p.live_max_age_us));
        } else {
            s_fmt(buf, size, "topology demand %.2f Mbit/s, but no current "
                  "rates yet", s_mbps(l->topo));
        }
        break;
    }
}

/* ---- topology ---- */

struct s_vm {
    uint64_t mac;
    const char *host;           /* the caller's */
    size_t idx;                 /* position in the input */
    uint32_t hid;               /* its host in the new host table */
};

struct s_carry {
    uint32_t ha, hb;            /* hosts in the new table, ha < hb */
    uint64_t va, vb;            /* va runs on ha */
    double rate;
};

static int
s_cmp_vm(const void *x, const void *y)
{
    const struct s_vm *v = x, *w = y;
    if (v->mac != w->mac) {
        return v->mac < w->mac ? -1 : 1;
    }
    return v->idx < w->idx ? -1 : v->idx > w->idx;
}

static int
s_cmp_carry(const void *x, const void *y)
{
    const struct s_carry *c = x, *d = y;
    int r = s_cmp_ids(c->ha, c->hb, d->ha, d->hb);
    if (r) {
        return r;
    }
    if (c->va != d->va) {
        return c->va < d->va ? -1 : 1;
    }
    return c->vb < d->vb ? -1 : c->vb > d->vb;
}

static int
s_cmp_name(const void *x, const void *y)
{
    return strcmp(*(const char *const *) x, *(const char *const *) y);
}

/* An open hash of the VM map, by MAC: 'slot' ('mask' + 1 slots) holds
 * indices in 'vms' or S_NONE.  A binary search per VM of each pair was
 * 45% of a topology of 40,000 pairs. */
struct s_vm_index {
    const struct s_vm *vms;
    uint32_t *slot;
    size_t mask;
};

static size_t
s_mac_hash(uint64_t mac, size_t mask)
{
    uint64_t h = mac * UINT64_C(0x9e3779b97f4a7c15);
    return (size_t) (h ^ (h >> 32)) & mask;
}

static void
s_vm_index(struct s_vm_index *x, const struct s_vm *vms, size_t n)
{
    x->vms = vms;
    for (size_t i = 0; i <= x->mask; i++) {
        x->slot[i] = S_NONE;
    }
    for (size_t i = 0; i < n; i++) {
        size_t h = s_mac_hash(vms[i].mac, x->mask);
        while (x->slot[h] != S_NONE) {
            h = (h + 1) & x->mask;
        }
        x->slot[h] = (uint32_t) i;
    }
}

/* The host of VM 'mac' in the new host table, or S_NONE. */
static uint32_t
s_vm_host(const struct s_vm_index *x, uint64_t mac)
{
    for (size_t h = s_mac_hash(mac, x->mask);; h = (h + 1) & x->mask) {
        uint32_t i = x->slot[h];
        if (i == S_NONE || x->vms[i].mac == mac) {
            return i == S_NONE ? S_NONE : x->vms[i].hid;
        }
    }
}

/* Sorts the carries by s_cmp_carry(): counted out by host a into 'tmp'
 * (O(n + hosts)), then each host's few sorted alone; 'count' has room
 * for 'n_hosts' + 1. */
static void
s_sort_carries(struct s_carry *cr, size_t n, struct s_carry *tmp,
               size_t *count, size_t n_hosts)
{
    memset(count, 0, (n_hosts + 1) * sizeof *count);
    for (size_t i = 0; i < n; i++) {
        count[cr[i].ha + 1]++;
    }
    for (size_t h = 0; h < n_hosts; h++) {
        count[h + 1] += count[h];
    }
    for (size_t i = 0; i < n; i++) {
        tmp[count[cr[i].ha]++] = cr[i];
    }
    /* 'count'[h] is now where host h + 1 starts. */
    size_t from = 0;
    for (size_t h = 0; h < n_hosts; h++) {
        size_t to = count[h];
        if (to - from > 1) {
            qsort(tmp + from, to - from, sizeof *tmp, s_cmp_carry);
        }
        from = to;
    }
    if (n) {
        memcpy(cr, tmp, n * sizeof *cr);
    }
}

static void
s_link_init(struct s_link *l, const plan_core_t *self, uint32_t ha,
            uint32_t hb)
{
    memset(l, 0, sizeof *l);
    s_copy_host(l->a, self->hosts[ha].name);
    s_copy_host(l->b, self->hosts[hb].name);
    l->ha = ha;
    l->hb = hb;
    l->why = S_WHY_GONE;
}

static bool
s_keep(const struct s_link *l)
{
    return l->in_e || l->wanted || l->held;
}

/* Merges the sorted, unique names 'add' ('n_add', none in the table)
 * into a copy of the host table, 'out' (room for both), and writes where
 * each old host went into 'moved'.  Returns the new number of hosts. */
static size_t
s_hosts_merge(const plan_core_t *self, const char *const *add, size_t n_add,
              struct s_host *out, uint32_t *moved)
{
    size_t i = 0, j = 0, n = 0;
    while (i < self->n_hosts || j < n_add) {
        if (j == n_add
            || (i < self->n_hosts
                && strcmp(self->hosts[i].name, add[j]) < 0)) {
            moved[i] = (uint32_t) n;
            out[n++] = self->hosts[i++];
        } else {
            struct s_host *h = &out[n++];
            memset(h, 0, sizeof *h);
            s_copy_host(h->name, add[j++]);
            h->cap = s_ports(self, h->name);
        }
    }
    return n;
}

/* Renumbers the links' hosts: host i is now 'moved'[i]. */
static void
s_hosts_renumber(plan_core_t *self, const uint32_t *moved)
{
    for (size_t i = 0; i < self->n_links; i++) {
        self->links[i].ha = moved[self->links[i].ha];
        self->links[i].hb = moved[self->links[i].hb];
    }
}

/* Forgets the hosts no link names ('moved' has room for every host). */
static void
s_hosts_prune(plan_core_t *self, uint32_t *moved)
{
    for (size_t i = 0; i < self->n_hosts; i++) {
        self->hosts[i].ref = false;
    }
    for (size_t i = 0; i < self->n_links; i++) {
        self->hosts[self->links[i].ha].ref = true;
        self->hosts[self->links[i].hb].ref = true;
    }
    size_t u = 0;
    for (size_t i = 0; i < self->n_hosts; i++) {
        moved[i] = self->hosts[i].ref ? (uint32_t) u : S_NONE;
        if (self->hosts[i].ref) {
            self->hosts[u++] = self->hosts[i];
        }
    }
    if (u != self->n_hosts) {
        self->n_hosts = u;
        s_hosts_renumber(self, moved);
    }
}

/* ---- cost rule ---- */

static int
s_cmp_cost(const void *x, const void *y)
{
    const struct s_cost *c = x, *d = y;
    return s_cmp_key(c->a, c->b, d->a, d->b);
}

/* The path cost of 'l': its own, else the default; NULL if none. */
static const struct s_cost *
s_cost_of(const plan_core_t *self, const struct s_link *l)
{
    struct s_cost key;
    memcpy(key.a, l->a, sizeof key.a);
    memcpy(key.b, l->b, sizeof key.b);
    const struct s_cost *c =
        self->n_costs ? bsearch(&key, self->costs, self->n_costs,
                                sizeof *self->costs, s_cmp_cost)
                      : NULL;
    if (!c && self->def_cost.setup) {
        c = &self->def_cost;
    }
    return c;
}

static uint64_t
s_clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
    return v < lo ? (lo < hi ? lo : hi) : v > hi ? hi : v;
}

/* How long 'l' must be selected before it is wanted (Cost rule). */
static uint64_t
s_wait_up(const plan_core_t *self, const struct s_link *l)
{
    const struct s_cost *c = s_cost_of(self, l);
    return c ? s_clamp(c->setup, self->p.wait_min_us, self->p.t_up_us)
             : self->p.t_up_us;
}

/* How long a wanted 'l' may be out of the selection (Cost rule). */
static uint64_t
s_wait_down(const plan_core_t *self, const struct s_link *l)
{
    const struct s_cost *c = s_cost_of(self, l);
    if (!c) {
        return self->p.t_down_us;
    }
    double even = (double) (c->setup + c->teardown) / self->p.hold_cost;
    uint64_t e = even > 1e18 ? UINT64_C(1000000000000000000)
                             : (uint64_t) even;
    return s_clamp(e, self->p.wait_min_us, self->p.t_down_us);
}

/* Names the wait 'w' of 'l' in a reason: "T_up 10.0 s", or "break-even
 * 0.3 s (set-up 0.3 s, T_up 10.0 s)". */
static void
s_wait_text(const plan_core_t *self, const struct s_link *l, bool up,
            uint64_t w, char *buf, size_t size)
{
    const struct s_cost *c = s_cost_of(self, l);
    const char *t = up ? "T_up" : "T_down";
    uint64_t bound = up ? self->p.t_up_us : self->p.t_down_us;
    if (!c) {
        s_fmt(buf, size, "%s %.1f s", t, s_sec(w));
    } else if (up) {
        s_fmt(buf, size, "break-even %.1f s (set-up %.2f s, %s %.1f s)",
              s_sec(w), s_sec(c->setup), t, s_sec(bound));
    } else {
        s_fmt(buf, size, "break-even %.1f s ((set-up %.2f + teardown %.2f "
              "s) / hold cost %g, %s %.1f s)", s_sec(w), s_sec(c->setup),
              s_sec(c->teardown), self->p.hold_cost, t, s_sec(bound));
    }
}

int
plan_core_set_cost(plan_core_t *self, const char *x, const char *y,
                   uint64_t setup_us, uint64_t teardown_us)
{
    assert(self && self->tag == S_TAG);
    const uint64_t day = UINT64_C(86400000000);
    if (setup_us > day || teardown_us > day) {
        return -1;
    }
    if (!x && !y) {
        self->def_cost.setup = setup_us;
        self->def_cost.teardown = setup_us ? teardown_us : 0;
        return 0;
    }
    const char *a, *b;
    if (!x || !y || !s_norm(x, y, &a, &b)) {
        return -1;
    }
    struct s_cost key = { .setup = setup_us, .teardown = teardown_us };
    s_copy_host(key.a, a);
    s_copy_host(key.b, b);
    struct s_cost *c =
        self->n_costs ? bsearch(&key, self->costs, self->n_costs,
                                sizeof *self->costs, s_cmp_cost)
                      : NULL;
    if (c) {
        if (setup_us) {
            *c = key;
        } else {
            size_t i = (size_t) (c - self->costs);
            memmove(c, c + 1, (self->n_costs - i - 1) * sizeof *c);
            self->n_costs--;
        }
        return 0;
    }
    if (!setup_us) {
        return 0;
    }
    if (!self->costs) {
        self->costs = calloc(PLAN_MAX_COSTS, sizeof *self->costs);
        if (!self->costs) {
            return -1;
        }
    }
    if (self->n_costs == PLAN_MAX_COSTS) {
        /* Full: the cost of a link no longer known makes room. */
        size_t i = 0;
        while (i < self->n_costs
               && s_find(self, self->costs[i].a, self->costs[i].b)) {
            i++;
        }
        if (i == self->n_costs) {
            return -1;
        }
        memmove(&self->costs[i], &self->costs[i + 1],
                (self->n_costs - i - 1) * sizeof *self->costs);
        self->n_costs--;
    }
    size_t at = 0;
    while (at < self->n_costs && s_cmp_cost(&self->costs[at], &key) < 0) {
        at++;
    }
    memmove(&self->costs[at + 1], &self->costs[at],
            (self->n_costs - at) * sizeof *self->costs);
    self->costs[at] = key;
    self->n_costs++;
    return 0;
}

/* ---- live demand ---- */

static int
s_cmp_pair(const void *x, const void *y)
{
    const struct plan_vm_pair *p = x, *q = y;
    if (p->a != q->a) {
        return p->a < q->a ? -1 : 1;
    }
    return p->b < q->b ? -1 : p->b > q->b;
}

/* The hash of the VM pair (x, y), either order. */
static size_t
s_pair_hash(uint64_t x, uint64_t y)
{
    uint64_t lo = x < y ? x : y, hi = x < y ? y : x;
    uint64_t h = lo * UINT64_C(0x9e3779b97f4a7c15)
                 ^ (hi + UINT64_C(0x632be59bd9b4e019))
                       * UINT64_C(0xc2b2ae3d27d4eb4f);
    return (size_t) (h ^ (h >> 29));
}

/* Slots for a hash of 'n' pairs: a power of 2, at least twice 'n';
 * 0 if too many. */
static size_t
s_pair_slots(size_t n)
{
    size_t slots = 16;
    while (slots < 2 * n) {
        if (slots > SIZE_MAX / 4 / sizeof(uint32_t)) {
            return 0;
        }
        slots *= 2;
    }
    return slots;
}

/* Indexes 'pairs' into 'slot' ('mask' + 1 slots). */
static void
s_pair_index(const struct plan_vm_pair *pairs, size_t n, uint32_t *slot,
             size_t mask)
{
    for (size_t i = 0; i <= mask; i++) {
        slot[i] = S_NONE;
    }
    for (size_t i = 0; i < n; i++) {
        size_t h = s_pair_hash(pairs[i].a, pairs[i].b) & mask;
        while (slot[h] != S_NONE) {
            h = (h + 1) & mask;
        }
        slot[h] = (uint32_t) i;
    }
}

/* The index in 'pairs' of the VM pair (x, y), either order, or S_NONE. */
static uint32_t
s_pair_find(const plan_core_t *self, uint64_t x, uint64_t y)
{
    if (!self->pair_slot) {
        return S_NONE;
    }
    size_t h = s_pair_hash(x, y) & self->slot_mask;
    for (;;) {
        uint32_t i = self->pair_slot[h];
        if (i == S_NONE) {
            return S_NONE;
        }
        const struct plan_vm_pair *p = &self->pairs[i];
        if ((p->a == x && p->b == y) || (p->a == y && p->b == x)) {
            return i;
        }
        h = (h + 1) & self->slot_mask;
    }
}

/* From scratch: the rates sorted, both directions of a pair added up,
 * and each VM pair's rate found by binary search. */
static void
s_live_apply_scratch(plan_core_t *self)
{
    struct plan_vm_pair *v = self->live;
    if (self->n_live) {
        qsort(v, self->n_live, sizeof *v, s_cmp_pair);
    }
    size_t u = 0;
    for (size_t i = 0; i < self->n_live; i++) {
        if (u && v[u - 1].a == v[i].a && v[u - 1].b == v[i].b) {
            v[u - 1].rate_bps += v[i].rate_bps;
        } else {
            v[u++] = v[i];
        }
    }
    self->n_live = u;
    for (size_t i = 0; i < self->n_pairs; i++) {
        const struct plan_vm_pair *vp = &self->pairs[i];
        struct plan_vm_pair key = { vp->a < vp->b ? vp->a : vp->b,
                                    vp->a < vp->b ? vp->b : vp->a, 0 };
        const struct plan_vm_pair *hit =
            u ? bsearch(&key, v, u, sizeof *v, s_cmp_pair) : NULL;
        self->pair_live[i] = hit ? hit->rate_bps : 0;
    }
}

/* Sums each link's current rate over its VM pairs: each rate given goes
 * to its VM pair through the hash, O(rates + pairs), no sort. */
static void
s_live_apply(plan_core_t *self)
{
    if (self->from_scratch) {
        s_live_apply_scratch(self);
    } else {
        for (size_t i = 0; i < self->n_pairs; i++) {
            self->pair_live[i] = 0;
        }
        for (size_t i = 0; i < self->n_live; i++) {
            const struct plan_vm_pair *r = &self->live[i];
            uint32_t k = s_pair_find(self, r->a, r->b);
            if (k != S_NONE) {
                self->pair_live[k] += r->rate_bps;
            }
        }
    }
    /* Both ways sum a link's pairs in the same order, so both give the
     * same sums to the bit. */
    for (size_t i = 0; i < self->n_links; i++) {
        struct s_link *l = &self->links[i];
        l->live = 0;
        for (uint32_t j = 0; l->in_e && j < l->n_pairs; j++) {
            l->live += self->pair_live[l->pairs_off + j];
        }
    }
}

int
plan_core_set_live(plan_core_t *self, uint64_t now_us,
                   const struct plan_vm_pair *rates, size_t n_rates)
{
    assert(self && self->tag == S_TAG);
    assert(rates || !n_rates);
    struct plan_vm_pair *v = s_alloc_array(n_rates, sizeof *v);
    if (!v) {
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < n_rates; i++) {
        const struct plan_vm_pair *r = &rates[i];
        if (!r->a || !r->b || r->a == r->b || (r->a | r->b) >> 48
            || !isfinite(r->rate_bps) || r->rate_bps < 0) {
            self->c.live_bad++;
            continue;
        }
        v[n++] = (struct plan_vm_pair) { r->a < r->b ? r->a : r->b,
                                         r->a < r->b ? r->b : r->a,
                                         r->rate_bps };
    }
    free(self->live);
    self->live = v;
    self->n_live = n;
    self->live_at = s_clock(self, now_us);
    self->has_live = true;
    self->c.live++;
    s_live_apply(self);
    return 0;
}

/* ---- topology ---- */

int
plan_core_set_topology(plan_core_t *self, uint64_t now_us,
                       const struct plan_vm_pair *pairs, size_t n_pairs,
                       const struct plan_vm_host *vms, size_t n_vms)
{
    assert(self && self->tag == S_TAG);
    assert(pairs || !n_pairs);
    assert(vms || !n_vms);
    struct plan_counters c = { 0 };
    struct s_vm *vm = s_alloc_array(n_vms, sizeof *vm);
    struct s_carry *cr = s_alloc_array(n_pairs, sizeof *cr);
    struct s_carry *cr_tmp = s_alloc_array(n_pairs, sizeof *cr_tmp);
    const char **add = s_alloc_array(n_vms, sizeof *add);
    size_t *count = NULL;
    struct s_vm_index vx = { .slot = NULL };
    struct s_host *nh = NULL;
    uint32_t *moved = NULL;
    struct plan_vm_pair *np = NULL;
    struct s_link *nl = NULL;
    uint32_t *slot = NULL;
    double *live = NULL;
    size_t vslots = s_pair_slots(n_vms);
    if (vslots) {
        vx.slot = s_alloc_array(vslots, sizeof *vx.slot);
        vx.mask = vslots - 1;
    }
    if (!vm || !cr || !cr_tmp || !add || !vx.slot || n_vms >= S_NONE
        || self->n_hosts > SIZE_MAX / 2 - n_vms) {
        goto err;
    }

    /* The VM map, by MAC; of a VM given twice the last entry counts. */
    size_t nv = 0;
    for (size_t i = 0; i < n_vms; i++) {
        if (!s_host_ok(vms[i].host) || !vms[i].mac
            || vms[i].mac > S_MAC_MAX) {
            c.vms_bad++;
            continue;
        }
        vm[nv++] = (struct s_vm) { vms[i].mac, vms[i].host, i, S_NONE };
    }
    qsort(vm, nv, sizeof *vm, s_cmp_vm);
    size_t u = 0;
    for (size_t i = 0; i < nv; i++) {
        if (u && vm[u - 1].mac == vm[i].mac) {
            vm[u - 1] = vm[i];
            c.vms_duplicate++;
        } else {
            vm[u++] = vm[i];
        }
    }
    nv = u;

    /* The host table grown by the VMs' hosts it does not have yet; from
     * here on hosts are numbers, compared as their names are. */
    size_t n_add = 0;
    for (size_t i = 0; i < nv; i++) {
        /* VMs by MAC are often by host too: one strcmp then. */
        vm[i].hid = i && !strcmp(vm[i].host, vm[i - 1].host)
                        ? vm[i - 1].hid
                        : s_host_in(self->hosts, self->n_hosts, vm[i].host);
        if (vm[i].hid == S_NONE) {
            add[n_add++] = vm[i].host;
        }
    }
    qsort(add, n_add, sizeof *add, s_cmp_name);
    u = 0;
    for (size_t i = 0; i < n_add; i++) {
        if (!u || strcmp(add[u - 1], add[i])) {
            add[u++] = add[i];
        }
    }
    n_add = u;
    size_t n_hosts = self->n_hosts + n_add;
    if (n_hosts >= S_NONE) {
        goto err;
    }
    nh = s_alloc_array(n_hosts, sizeof *nh);
    moved = s_alloc_array(n_hosts, sizeof *moved);
    count = s_alloc_array(n_hosts + 1, sizeof *count);
    if (!nh || !moved || !count) {
        goto err;
    }
    s_hosts_merge(self, add, n_add, nh, moved);
    for (size_t i = 0; i < nv; i++) {
        vm[i].hid = vm[i].hid != S_NONE ? moved[vm[i].hid]
                                        : s_host_in(nh, n_hosts, vm[i].host);
    }
    s_vm_index(&vx, vm, nv);

    /* Each VM pair onto its host pair, oriented by host name. */
    size_t nc = 0;
    for (size_t i = 0; i < n_pairs; i++) {
        const struct plan_vm_pair *q = &pairs[i];
        c.pairs++;
        if (!q->a || !q->b || q->a == q->b || q->a > S_MAC_MAX
            || q->b > S_MAC_MAX || !isfinite(q->rate_bps)
            || q->rate_bps < 0) {
            c.pairs_bad++;
            continue;
        }
        uint32_t ha = s_vm_host(&vx, q->a);
        uint32_t hb = s_vm_host(&vx, q->b);
        if (ha == S_NONE || hb == S_NONE) {
            c.pairs_unknown_host++;
            continue;
        }
        if (ha == hb) {
            c.pairs_intra_host++;
            continue;
        }
        cr[nc++] = ha < hb
                       ? (struct s_carry) { ha, hb, q->a, q->b, q->rate_bps }
                       : (struct s_carry) { hb, ha, q->b, q->a, q->rate_bps };
    }
    s_sort_carries(cr, nc, cr_tmp, count, n_hosts);
    u = 0;
    size_t n_groups = 0;
    for (size_t i = 0; i < nc; i++) {
        if (u && !s_cmp_carry(&cr[u - 1], &cr[i])) {
            /* The same VM pair twice (maybe once per direction): taking
             * the larger rate never double counts. */
            cr[u - 1].rate = fmax(cr[u - 1].rate, cr[i].rate);
            c.pairs_duplicate++;
            continue;
        }
        if (!u || s_cmp_ids(cr[u - 1].ha, cr[u - 1].hb, cr[i].ha, cr[i].hb)) {
            n_groups++;
        }
        cr[u++] = cr[i];
    }
    nc = u;

    /* Every other allocation, so that a failure changes nothing. */
    if (n_groups > SIZE_MAX - self->n_links || nc >= S_NONE / 4) {
        goto err;
    }
    size_t cap = n_groups + self->n_links;
    size_t slots = s_pair_slots(nc);
    nl = s_alloc_array(cap, sizeof *nl);
    np = s_alloc_array(nc, sizeof *np);
    slot = s_alloc_array(slots, sizeof *slot);
    live = s_alloc_array(nc, sizeof *live);
    if (!slots || !nl || !np || !slot || !live
        || s_reserve_scratch(self, cap, 0)) {
        goto err;
    }

    /* The new host table, the links renumbered to it. */
    s_hosts_renumber(self, moved);
    free(self->hosts);
    self->hosts = nh;
    self->n_hosts = n_hosts;
    nh = NULL;

    /* Merge the new E into the links, keeping the state of those that
     * stay.  Both are sorted by (a, b); 'map' says where each old link
     * went, for the ranking. */
    size_t n = 0, j = 0;
    for (size_t i = 0; i < nc || j < self->n_links;) {
        int r = i == nc ? 1
                : j == self->n_links
                    ? -1
                    : s_cmp_ids(cr[i].ha, cr[i].hb, self->links[j].ha,
                                self->links[j].hb);
        if (r > 0) {
            /* A link no longer in E: forgotten unless wanted or held,
             * where it waits out T_down with demand 0. */
            struct s_link *old = &self->links[j];
            old->in_e = false;
            old->topo = 0;
            old->live = 0;
            old->n_pairs = 0;
            old->pairs_off = 0;
            if (old->wanted || old->held) {
                self->map[j] = (uint32_t) n;
                nl[n++] = *old;
            } else {
                self->map[j] = S_NONE;
            }
            j++;
            continue;
        }
        struct s_link *l = &nl[n];
        if (r == 0) {
            self->map[j] = (uint32_t) n;
            *l = self->links[j++];
        } else {
            s_link_init(l, self, cr[i].ha, cr[i].hb);
        }
        n++;
        l->in_e = true;
        l->topo = 0;
        l->pairs_off = i;
        l->n_pairs = 0;
        uint32_t ha = cr[i].ha, hb = cr[i].hb;
        for (; i < nc && cr[i].ha == ha && cr[i].hb == hb; i++) {
            np[i] = (struct plan_vm_pair) { cr[i].va, cr[i].vb, cr[i].rate };
            l->topo += cr[i].rate;
            l->n_pairs++;
        }
    }
    plan_rank_remap(self->rank, self->map, self->n_links, n);
    free(self->links);
    free(self->pairs);
    free(self->pair_slot);
    free(self->pair_live);
    self->links = nl;
    self->links_cap = cap;
    self->n_links = n;
    self->pairs = np;
    self->n_pairs = nc;
    self->pair_slot = slot;
    self->slot_mask = slots - 1;
    self->pair_live = live;
    s_pair_index(np, nc, slot, slots - 1);
    s_hosts_prune(self, moved);
    free(moved);
    free(add);
    free(vm);
    free(cr);
    free(cr_tmp);
    free(count);
    free(vx.slot);

    self->c.topologies++;
    self->c.pairs += c.pairs;
    self->c.pairs_bad += c.pairs_bad;
    self->c.pairs_intra_host += c.pairs_intra_host;
    self->c.pairs_unknown_host += c.pairs_unknown_host;
    self->c.pairs_duplicate += c.pairs_duplicate;
    self->c.vms_bad += c.vms_bad;
    self->c.vms_duplicate += c.vms_duplicate;
    s_live_apply(self);
    uint64_t now = s_clock(self, now_us);
    s_prepare(self);
    s_select(self, now);
    self->c.n_links = self->n_links;
    return 0;

err:
    free(vm);
    free(cr);
    free(cr_tmp);
    free(count);
    free(vx.slot);
    free(add);
    free(nh);
    free(moved);
    free(nl);
    free(np);
    free(slot);
    free(live);
    return -1;
}

/* The index of host 'name', added to the table if missing; S_NONE when
 * memory is short. */
static uint32_t
s_host_get(plan_core_t *self, const char *name)
{
    uint32_t id = s_host_in(self->hosts, self->n_hosts, name);
    if (id != S_NONE) {
        return id;
    }
    if (self->n_hosts + 1 >= S_NONE) {
        return S_NONE;
    }
    struct s_host *nh = s_alloc_array(self->n_hosts + 1, sizeof *nh);
    uint32_t *moved = s_alloc_array(self->n_hosts + 1, sizeof *moved);
    if (!nh || !moved) {
        free(nh);
        free(moved);
        return S_NONE;
    }
    s_hosts_merge(self, &name, 1, nh, moved);
    s_hosts_renumber(self, moved);
    free(self->hosts);
    self->hosts = nh;
    self->n_hosts++;
    free(moved);
    return s_host_in(self->hosts, self->n_hosts, name);
}

/* plan_core_seed() and plan_core_keep(): 'until' 0 for no floor. */
static int
s_seed(plan_core_t *self, const char *x, const char *y, uint64_t now_us,
       uint64_t until)
{
    assert(self && self->tag == S_TAG);
    const char *a, *b;
    if (!s_norm(x, y, &a, &b)) {
        return -1;
    }
    struct s_link *l = s_find(self, a, b);
    if (!l) {
        /* A host added and not used stays until the next topology. */
        uint32_t ha = s_host_get(self, a);
        uint32_t hb = ha == S_NONE ? S_NONE : s_host_get(self, b);
        if (hb == S_NONE) {
            return -1;
        }
        ha = s_host_in(self->hosts, self->n_hosts, a);  /* b moved it? */
        struct s_link *links = s_grow(self->links, &self->links_cap,
                                      self->n_links + 1, sizeof *links);
        if (!links) {
            return -1;
        }
        self->links = links;
        if (s_reserve_scratch(self, self->n_links + 1, 0)) {
            return -1;
        }
        size_t at = s_lower(self, ha, hb);
        for (size_t i = 0; i < self->n_links; i++) {
            self->map[i] = (uint32_t) (i < at ? i : i + 1);
        }
        plan_rank_remap(self->rank, self->map, self->n_links,
                        self->n_links + 1);
        memmove(&self->links[at + 1], &self->links[at],
                (self->n_links - at) * sizeof *self->links);
        self->n_links++;
        l = &self->links[at];
        s_link_init(l, self, ha, hb);
    }
    uint64_t now = s_clock(self, now_us);
    if (!l->wanted) {
        l->wanted = true;
        l->seeded = true;
        if (!l->selected) {
            l->out_since = now;
        }
    } else if (until) {
        l->seeded = true;       /* a miss may give it up (unseed) */
    }
    if (until > l->keep_until) {
        l->keep_until = until;
    }
    self->c.seeded++;
    self->c.n_links = self->n_links;
    return 0;
}

int
plan_core_seed(plan_core_t *self, const char *x, const char *y,
               uint64_t now_us)
{
    assert(self && self->tag == S_TAG);
    return s_seed(self, x, y, now_us, 0);
}

int
plan_core_keep(plan_core_t *self, const char *x, const char *y,
               uint64_t now_us, uint64_t until_us)
{
    assert(self && self->tag == S_TAG);
    return s_seed(self, x, y, now_us, until_us > now_us ? until_us : now_us);
}

int
plan_core_unseed(plan_core_t *self, const char *x, const char *y)
{
    assert(self && self->tag == S_TAG);
    const char *a, *b;
    if (!s_norm(x, y, &a, &b)) {
        return -1;
    }
    struct s_link *l = s_find(self, a, b);
    if (!l || !l->wanted || !l->seeded || l->selected) {
        return 0;
    }
    l->wanted = false;
    l->seeded = false;
    l->keep_until = 0;
    return 1;
}

/* ---- tick ---- */

/* Counts the RESERVEs within the window before 'now' and gives the time
 * the oldest of them leaves it. */
static size_t
s_adds_in_window(const plan_core_t *self, uint64_t now, uint64_t *frees_at)
{
    size_t n = 0;
    *frees_at = now;
    for (size_t i = 0; i < self->n_adds; i++) {
        if (now - self->adds[i] < self->p.add_window_us) {
            if (!n) {
                *frees_at = self->adds[i] + self->p.add_window_us;
            }
            n++;
        }
    }
    return n;
}

static void
s_add_taken(plan_core_t *self, uint64_t now)
{
    if (self->n_adds == self->p.max_adds) {
        memmove(self->adds, self->adds + 1,
                (self->n_adds - 1) * sizeof *self->adds);
        self->n_adds--;
    }
    self->adds[self->n_adds++] = now;
}

int
plan_core_unreserve(plan_core_t *self, uint64_t now_us)
{
    for (size_t i = self->n_adds; i-- > 0;) {
        if (self->adds[i] == now_us) {
            memmove(self->adds + i, self->adds + i + 1,
                    (self->n_adds - i - 1) * sizeof *self->adds);
            self->n_adds--;
            return 0;
        }
    }
    return -1;
}

static struct plan_action *
s_act(plan_core_t *self, size_t *n, enum plan_kind kind, const char *a,
      const char *b, double demand, uint32_t n_vm_pairs, bool is_new)
{
    assert(*n < self->acts_cap);
    struct plan_action *act = &self->acts[(*n)++];
    act->kind = kind;
    s_copy_host(act->host_a, a);
    s_copy_host(act->host_b, b);
    act->demand_bps = demand;
    act->n_vm_pairs = n_vm_pairs;
    act->is_new = is_new;
    act->reason[0] = '\0';
    return act;
}

static struct plan_action *
s_act_link(plan_core_t *self, size_t *n, enum plan_kind kind,
           const struct s_link *l)
{
    return s_act(self, n, kind, l->a, l->b, l->demand, l->n_pairs,
                 l->next != l->note);
}

/* A held link the core does not know. */
struct s_stray {
    const char *a, *b;
};

static int
s_cmp_stray(const void *x, const void *y)
{
    const struct s_stray *s = x, *t = y;
    return s_cmp_key(s->a, s->b, t->a, t->b);
}

static void
s_plan_action(plan_core_t *self, size_t *n)
{
    size_t n_sel = 0, n_e = 0, n_below = 0, n_rank = 0, n_ports = 0;
    double sum = 0, total = 0;
    for (size_t i = 0; i < self->n_links; i++) {
        const struct s_link *l = &self->links[i];
        n_e += l->in_e;
        total += l->demand;
        n_sel += l->selected;
        sum += l->selected ? l->demand : 0;
        n_below += l->in_e && l->why == S_WHY_BELOW;
        n_rank += l->why == S_WHY_RANK;
        n_ports += l->why == S_WHY_PORTS;
    }
    struct plan_action *act = s_act(self, n, PLAN_KIND_PLAN, "", "", sum, 0,
                                    true);
    const struct plan_params *p = &self->p;
    char cap[32] = "";
    if (p->k) {
        s_fmt(cap, sizeof cap, ", k %u", p->k);
    }
    s_fmt(act->reason, sizeof act->reason,
          "%s%s: %zu of %zu links selected, %.2f of %.2f Mbit/s; "
          "%zu under min %.2f Mbit/s, %zu beyond k, %zu without a port",
          plan_policy_name(p->policy), cap, n_sel, n_e, s_mbps(sum),
          s_mbps(total), n_below, s_mbps(p->min_demand_bps), n_rank,
          n_ports);
    self->c.plans++;
}

/* Marks the links in 'held' and lists in 'stray' (sorted) the held links
 * the core does not know; returns how many there are. */
static size_t
s_mark_held(plan_core_t *self, const struct plan_link_key *held,
            size_t n_held, struct s_stray *stray)
{
    for (size_t i = 0; i < self->n_links; i++) {
        self->links[i].held = false;
        self->links[i].promoted = false;
        self->links[i].demoted = false;
    }
    size_t n_stray = 0;
    for (size_t i = 0; i < n_held; i++) {
        const char *a, *b;
        if (!s_norm(held[i].host_a, held[i].host_b, &a, &b)) {
            continue;           /* names no link: nothing to release */
        }
        struct s_link *l = s_find(self, a, b);
        if (l) {
            l->held = true;
        } else {
            stray[n_stray++] = (struct s_stray) { a, b };
        }
    }
    qsort(stray, n_stray, sizeof *stray, s_cmp_stray);
    return n_stray;
}

/* T_down: wanted links out of the selection for their wait stop being
 * wanted.  Runs before s_promote(), so that the ports they free are seen
 * there. */
static void
s_demote(plan_core_t *self, uint64_t now)
{
    for (size_t i = 0; i < self->n_links; i++) {
        struct s_link *l = &self->links[i];
        if (l->wanted && !l->selected && now >= l->keep_until
            && now - l->out_since >= s_wait_down(self, l)) {
            l->wanted = false;
            l->seeded = false;
            l->keep_until = 0;
            l->demoted = true;
            self->c.demoted++;
        }
    }
}

/* Under b-matching, counts the ports busy at each host.  A port is busy
 * while a link is wanted or still held: a link released this tick frees
 * its port only once the service has torn it down, so the newcomer is
 * reserved at a later tick. */
static void
s_count_busy_ports(plan_core_t *self)
{
    for (size_t i = 0; i < self->n_hosts; i++) {
        self->hosts[i].used = 0;
    }
    for (size_t i = 0; i < self->n_links; i++) {
        struct s_link *l = &self->links[i];
        if (l->wanted || l->held) {
            s_host(self, l->ha, l->a)->used++;
            s_host(self, l->hb, l->b)->used++;
        }
    }
}

/* T_up, by demand, descending: selected links that have waited long
 * enough (and, under b-matching, find a free port at both hosts) become
 * wanted.  A held link is adopted at once: it costs no set-up. */
static void
s_promote(plan_core_t *self, uint64_t now)
{
    bool bmatch = self->p.policy == PLAN_POLICY_B_MATCHING;
    for (size_t i = 0; i < self->n_links; i++) {
        struct s_link *l = &self->links[self->order[i]];
        l->next = S_NOTE_NONE;
        if (!l->selected || l->wanted) {
            continue;
        }
        if (now - l->sel_since < s_wait_up(self, l) && !l->held) {
            l->next = S_NOTE_WAIT_UP;
            continue;
        }
        if (bmatch) {
            struct s_host *ha = s_host(self, l->ha, l->a);
            struct s_host *hb = s_host(self, l->hb, l->b);
            struct s_host *full = ha->used >= ha->cap ? ha
                                  : hb->used >= hb->cap ? hb : NULL;
            if (full) {
                l->next = S_NOTE_WAIT_PORTS;
                l->why_b = full == hb;
                continue;
            }
            ha->used++;
            hb->used++;
        }
        l->wanted = true;
        l->promoted = true;
        self->c.promoted++;
    }
}

/* The diff of H' against the held set, by demand, descending, with the
 * cap on additions: sets what each link reports this tick. */
static void
s_diff(plan_core_t *self, uint64_t now)
{
    const struct plan_params *p = &self->p;
    for (size_t i = 0; i < self->n_links; i++) {
        struct s_link *l = &self->links[self->order[i]];
        if (l->wanted && l->selected && !l->held) {
            uint64_t frees_at;
            bool room = !p->max_adds
                        || s_adds_in_window(self, now, &frees_at)
                               < p->max_adds;
            l->next = room ? S_NOTE_RESERVE : S_NOTE_THROTTLE;
            if (room && p->max_adds) {
                s_add_taken(self, now);
            }
        } else if (l->held && !l->wanted) {
            l->next = S_NOTE_RELEASE;
        } else if (l->held && l->wanted && !l->selected) {
            l->next = S_NOTE_WAIT_DOWN;
        }
    }
}

static void
s_emit_reserves(plan_core_t *self, uint64_t now, size_t *n,
                struct plan_actions *out)
{
    const struct plan_params *p = &self->p;
    char wait[PLAN_REASON_LEN / 2];
    for (size_t i = 0; i < self->n_links; i++) {
        struct s_link *l = &self->links[self->order[i]];
        if (l->next != S_NOTE_RESERVE) {
            continue;
        }
        struct plan_action *act = s_act_link(self, n, PLAN_KIND_RESERVE, l);
        if (l->promoted) {
            s_wait_text(self, l, true, s_wait_up(self, l), wait,
                        sizeof wait);
            s_fmt(act->reason, sizeof act->reason,
                  "demand %.2f Mbit/s over %u VM pairs selected for %.1f s "
                  ">= %s",
                  s_mbps(l->demand), l->n_pairs, s_sec(now - l->sel_since),
                  wait);
        } else if (l->note == S_NOTE_THROTTLE) {
            s_fmt(act->reason, sizeof act->reason,
                  "demand %.2f Mbit/s over %u VM pairs: throttled until "
                  "now, a slot of the cap of %u per %.1f s is free",
                  s_mbps(l->demand), l->n_pairs, p->max_adds,
                  s_sec(p->add_window_us));
        } else {
            s_fmt(act->reason, sizeof act->reason,
                  "demand %.2f Mbit/s over %u VM pairs: wanted but not held, "
                  "reserving again",
                  s_mbps(l->demand), l->n_pairs);
        }
        out->n_reserve++;
    }
}

static void
s_emit_releases(plan_core_t *self, uint64_t now, const struct s_stray *stray,
                size_t n_stray, size_t *n, struct plan_actions *out)
{
    char why[PLAN_REASON_LEN];
    char wait[PLAN_REASON_LEN / 2];
    for (size_t i = 0; i < self->n_links; i++) {
        struct s_link *l = &self->links[self->order[i]];
        if (l->next != S_NOTE_RELEASE) {
            continue;
        }
        struct plan_action *act = s_act_link(self, n, PLAN_KIND_RELEASE, l);
        s_why(self, l, why, sizeof why);
        if (l->demoted) {
            s_wait_text(self, l, false, s_wait_down(self, l), wait,
                        sizeof wait);
            s_fmt(act->reason, sizeof act->reason,
                  "out of the selection for %.1f s >= %s (%s)",
                  s_sec(now - l->out_since), wait, why);
        } else {
            s_fmt(act->reason, sizeof act->reason,
                  "held but not wanted (%s)", why);
        }
        out->n_release++;
    }
    for (size_t i = 0; i < n_stray; i++) {
        if (i && !s_cmp_stray(&stray[i - 1], &stray[i])) {
            continue;
        }
        struct plan_action *act = s_act(self, n, PLAN_KIND_RELEASE,
                                        stray[i].a, stray[i].b, 0, 0, true);
        s_fmt(act->reason, sizeof act->reason,
              "held but unknown to the planner: no demand, not seeded");
        out->n_release++;
    }
}

static void
s_emit_throttles(plan_core_t *self, uint64_t now, size_t *n,
                 struct plan_actions *out)
{
    const struct plan_params *p = &self->p;
    for (size_t i = 0; i < self->n_links; i++) {
        struct s_link *l = &self->links[self->order[i]];
        if (l->next != S_NOTE_THROTTLE) {
            continue;
        }
        uint64_t frees_at;
        size_t in_window = s_adds_in_window(self, now, &frees_at);
        struct plan_action *act = s_act_link(self, n, PLAN_KIND_THROTTLE, l);
        s_fmt(act->reason, sizeof act->reason,
              "demand %.2f Mbit/s wanted, but %zu reservations in the last "
              "%.1f s reach the cap of %u; next slot in %.1f s",
              s_mbps(l->demand), in_window, s_sec(p->add_window_us),
              p->max_adds, s_sec(frees_at - now));
        out->n_throttle++;
    }
}

static void
s_emit_defers(plan_core_t *self, uint64_t now, size_t *n,
              struct plan_actions *out)
{
    char why[PLAN_REASON_LEN];
    char wait[PLAN_REASON_LEN / 2];
    for (size_t i = 0; i < self->n_links; i++) {
        struct s_link *l = &self->links[self->order[i]];
        struct plan_action *act;
        switch (l->next) {
        case S_NOTE_WAIT_UP: {
            uint64_t w = s_wait_up(self, l);
            s_wait_text(self, l, true, w, wait, sizeof wait);
            act = s_act_link(self, n, PLAN_KIND_DEFER, l);
            s_fmt(act->reason, sizeof act->reason,
                  "demand %.2f Mbit/s selected for %.1f s < %s "
                  "(%.1f s to go)",
                  s_mbps(l->demand), s_sec(now - l->sel_since), wait,
                  s_sec(w - (now - l->sel_since)));
            break;
        }
        case S_NOTE_WAIT_PORTS:
            act = s_act_link(self, n, PLAN_KIND_DEFER, l);
            s_wait_text(self, l, true, s_wait_up(self, l), wait,
                        sizeof wait);
            s_fmt(act->reason, sizeof act->reason,
                  "demand %.2f Mbit/s selected for %.1f s >= %s, "
                  "but host %s has all %u ports taken by links wanted or "
                  "held",
                  s_mbps(l->demand), s_sec(now - l->sel_since), wait,
                  l->why_b ? l->b : l->a,
                  s_ports(self, l->why_b ? l->b : l->a));
            break;
        case S_NOTE_WAIT_DOWN:
            act = s_act_link(self, n, PLAN_KIND_DEFER, l);
            s_why(self, l, why, sizeof why);
            s_wait_text(self, l, false, s_wait_down(self, l), wait,
                        sizeof wait);
            if (now < l->keep_until
                && now - l->out_since >= s_wait_down(self, l)) {
                s_fmt(act->reason, sizeof act->reason,
                      "release waits: kept %.1f s more, for a phase known "
                      "or predicted to use it or over an agent's restart "
                      "(%s)",
                      s_sec(l->keep_until - now), why);
            } else {
                s_fmt(act->reason, sizeof act->reason,
                      "release waits: out of the selection for %.1f s < %s "
                      "(%s)", s_sec(now - l->out_since), wait, why);
            }
            break;
        default:
            continue;
        }
        out->n_defer++;
    }
}

/* Emits the actions in their documented order (plan_core.h). */
static void
s_emit(plan_core_t *self, uint64_t now, const struct s_stray *stray,
       size_t n_stray, struct plan_actions *out)
{
    size_t n = 0;
    if (self->sel_changed) {
        s_plan_action(self, &n);
        self->sel_changed = false;
    }
    s_emit_reserves(self, now, &n, out);
    s_emit_releases(self, now, stray, n_stray, &n, out);
    s_emit_throttles(self, now, &n, out);
    s_emit_defers(self, now, &n, out);
    out->v = self->acts;
    out->n = n;
}

/* Remembers what was said, forgets links nobody needs, and updates the
 * counters. */
static void
s_settle(plan_core_t *self, const struct plan_actions *out)
{
    size_t u = 0, n_sel = 0, n_wanted = 0;
    for (size_t i = 0; i < self->n_links; i++) {
        struct s_link *l = &self->links[i];
        l->note = l->next;
        if (!s_keep(l)) {
            self->map[i] = S_NONE;
            continue;
        }
        n_sel += l->selected;
        n_wanted += l->wanted;
        self->map[i] = (uint32_t) u;
        if (u != i) {
            self->links[u] = *l;
        }
        u++;
    }
    if (u != self->n_links) {
        plan_rank_remap(self->rank, self->map, self->n_links, u);
    }
    self->n_links = u;

    self->c.reserves += out->n_reserve;
    self->c.releases += out->n_release;
    self->c.throttled += out->n_throttle;
    self->c.deferred += out->n_defer;
    self->c.n_links = self->n_links;
    self->c.n_selected = n_sel;
    self->c.n_wanted = n_wanted;
}

int
plan_core_tick(plan_core_t *self, uint64_t now_us,
               const struct plan_link_key *held, size_t n_held,
               struct plan_actions *out)
{
    assert(self && self->tag == S_TAG);
    assert(held || !n_held);
    assert(out);
    memset(out, 0, sizeof *out);

    /* Every allocation first, so that a failure changes nothing. */
    struct s_stray *stray = s_alloc_array(n_held, sizeof *stray);
    if (!stray || n_held > SIZE_MAX - 1 - self->n_links
        || s_reserve_scratch(self, self->n_links,
                             1 + self->n_links + n_held)) {
        free(stray);
        return -1;
    }
    uint64_t now = s_clock(self, now_us);
    self->c.ticks++;

    size_t n_stray = s_mark_held(self, held, n_held, stray);
    s_prepare(self);
    s_select(self, now);
    s_demote(self, now);
    if (self->p.policy == PLAN_POLICY_B_MATCHING) {
        s_count_busy_ports(self);
    }
    s_promote(self, now);
    s_diff(self, now);
    s_emit(self, now, stray, n_stray, out);
    free(stray);
    s_settle(self, out);
    return 0;
}

/* ---- queries ---- */

static void
s_link_info(const struct s_link *l, struct plan_link_info *o)
{
    memset(o, 0, sizeof *o);
    s_copy_host(o->host_a, l->a);
    s_copy_host(o->host_b, l->b);
    o->demand_bps = l->demand;
    o->n_vm_pairs = l->n_pairs;
    o->in_e = l->in_e;
    o->selected = l->selected;
    o->wanted = l->wanted;
    o->seeded = l->seeded;
    o->since_us = l->selected ? l->sel_since
                  : l->wanted ? l->out_since : 0;
}

size_t
plan_core_links(const plan_core_t *self, struct plan_link_info *out,
                size_t max)
{
    assert(self && self->tag == S_TAG);
    for (size_t i = 0; i < self->n_links && i < max; i++) {
        s_link_info(&self->links[i], &out[i]);
    }
    return self->n_links;
}

size_t
plan_core_selected(const plan_core_t *self, struct plan_link_info *out,
                   size_t max)
{
    assert(self && self->tag == S_TAG);
    size_t n = 0;
    for (size_t i = 0; i < self->n_links; i++) {
        if (self->links[i].selected) {
            if (n < max) {
                s_link_info(&self->links[i], &out[n]);
            }
            n++;
        }
    }
    return n;
}

size_t
plan_core_link_pairs(const plan_core_t *self, const char *x, const char *y,
                     struct plan_vm_pair *out, size_t max)
{
    assert(self && self->tag == S_TAG);
    const char *a, *b;
    if (!s_norm(x, y, &a, &b)) {
        return 0;
    }
    const struct s_link *l = s_find(self, a, b);
    if (!l) {
        return 0;
    }
    for (size_t i = 0; i < l->n_pairs && i < max; i++) {
        out[i] = self->pairs[l->pairs_off + i];
    }
    return l->n_pairs;
}

void
plan_core_get_counters(const plan_core_t *self, struct plan_counters *out)
{
    assert(self && self->tag == S_TAG);
    *out = self->c;
}

const char *
plan_kind_name(enum plan_kind kind)
{
    switch (kind) {
    case PLAN_KIND_PLAN:
        return "plan";
    case PLAN_KIND_RESERVE:
        return "reserve";
    case PLAN_KIND_RELEASE:
        return "release";
    case PLAN_KIND_DEFER:
        return "defer";
    case PLAN_KIND_THROTTLE:
        return "throttle";
    }
    return "unknown";
}

const char *
plan_policy_name(enum plan_policy policy)
{
    switch (policy) {
    case PLAN_POLICY_TOP_K:
        return "top-k";
    case PLAN_POLICY_B_MATCHING:
        return "b-matching";
    }
    return NULL;
}

bool
plan_policy_parse(const char *s, enum plan_policy *policy)
{
    if (s && !strcmp(s, "top-k")) {
        *policy = PLAN_POLICY_TOP_K;
        return true;
    }
    if (s && !strcmp(s, "b-matching")) {
        *policy = PLAN_POLICY_B_MATCHING;
        return true;
    }
    return false;
}
