/* SPDX-License-Identifier: MIT */
/* The simulated optical network behind the odin-adapter's 'sim' backend:
 * the YAML description and its checks, routing and wavelength assignment,
 * lambda bookkeeping, the set-up and teardown schedule and injected
 * failures.  The description is read and placed (file:line:col) by
 * common/cfg.  adapter_backend_sim.c drives it with the time;
 * tests/unit/test_adapter_sim.c drives it with made-up times. */
#include "adapter_sim.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "log.h"

#define ADAPTER_SIM_TAG 0x5eed51a1u
#define ADAPTER_SIM_DEAD 0xdeadbeefu

/* Item paths ("sim.fibres[12].ends[1]") are short; longer ones are not
 * located, only named. */
#define S_ITEM_SIZE 256

/* The description's tables.  Fibres and hosts are sequences of mappings;
 * the top-level keys come from ADAPTER_SIM_CFG_KEYS. */
#define TF struct adapter_sim_fibre_cfg
const struct cfg_key adapter_sim_fibre_keys[] = {
    { .name = "ends", .type = CFG_STRLIST, .offset = offsetof(TF, ends),
      .required = true, .help = "the two switches it joins: [a, b]" },
    CFG_KEY_U32("lambdas", TF, lambdas, 1, ADAPTER_SIM_MAX_LAMBDAS,
                ADAPTER_SIM_DEFAULT_LAMBDAS, "wavelengths it carries"),
    CFG_KEY_DOUBLE("length_km", TF, length_km, 0, 40000, 0,
                   "length (0: not given)"),
    CFG_KEY_DOUBLE("latency_ms", TF, latency_ms, 0, 10000, 0,
                   "one-way latency (0: 5 us per km of length_km)"),
    CFG_KEYS_END,
};
#undef TF

#define TH struct adapter_sim_host_cfg
const struct cfg_key adapter_sim_host_keys[] = {
    { .name = "ip", .type = CFG_STR, .offset = offsetof(TH, ip),
      .required = true, .help = "the host's endpoint address" },
    { .name = "switch", .type = CFG_STR, .offset = offsetof(TH, sw),
      .required = true, .help = "the switch it hangs off" },
    CFG_KEYS_END,
};
#undef TH

const struct cfg_key adapter_sim_keys[] = {
    ADAPTER_SIM_CFG_KEYS("sim.", 0),
    CFG_KEYS_END,
};

/* Runtime state. */

struct s_fibre {
    size_t a, b;                /* switch indices, a < b not implied */
    uint32_t n_lambdas;         /* wavelengths */
    double latency_ms;          /* one way */
    uint64_t *owner;            /* per lambda: path id holding it, 0 free */
};

struct s_host {
    char ip[INET6_ADDRSTRLEN];  /* canonical text form */
    int family;                 /* AF_INET or AF_INET6 */
    unsigned char addr[16];     /* binary address */
    size_t sw;                  /* switch index */
};

struct s_path {
    uint64_t id;                /* > 0 */
    size_t src, dst;            /* host indices */
    double bandwidth_mbps;      /* as asked */
    uint32_t lambda;            /* 1-based, 0: no fibre */
    size_t n_sw;                /* switches on the route, >= 1 */
    size_t *sw;                 /* 'n_sw' switch indices */
    size_t *fib;                /* 'n_sw' - 1 fibre indices */
    const char **route;         /* 'n_sw' names, the simulator's */
    double latency_ms;          /* sum over 'fib' */
    enum adapter_sim_state state;   /* PROVISIONING, UP or TEARING_DOWN */
    uint64_t created_us;        /* create or adopt time */
    uint64_t up_us;             /* set-up completes; 0: fails */
    uint64_t fail_us;           /* set-up fails; 0: does not */
    uint64_t down_us;           /* teardown completes; 0: not asked */
    char *fail_reason;          /* owned; NULL unless it will fail */
};

/* A route's cost: compared by hops then latency, or the other way. */
struct s_cost {
    size_t hops;                /* SIZE_MAX: unreachable */
    double lat;                 /* ms */
};

struct adapter_sim {
    uint32_t tag;               /* ADAPTER_SIM_TAG while alive */
    char **sw_names;            /* 'n_sw' owned names */
    size_t n_sw;                /* switches */
    size_t *adj_start;          /* 'n_sw' + 1 offsets into 'adj' */
    size_t *adj;                /* fibre indices by switch (CSR) */
    struct s_fibre *fibres;     /* 'n_fibres' fibres */
    size_t n_fibres;            /* fibres */
    uint32_t max_lambdas;       /* most lambdas on any fibre */
    struct s_host *hosts;       /* 'n_hosts' attachments */
    size_t n_hosts;             /* hosts */
    bool by_latency;            /* routing: latency first */
    uint64_t switch_us;         /* scaled delay per switch */
    uint64_t stab_us;           /* scaled stabilization delay */
    uint64_t teardown_us;       /* scaled teardown delay */
    double lambda_mbps;         /* capacity of a lambda; 0: unchecked */
    double fail_rate;           /* [0, 1] */
    uint64_t rng;               /* splitmix64 state */
    uint32_t fail_next;         /* set-ups left to fail */
    struct s_path **paths;      /* 'n_paths' live paths, oldest first */
    size_t n_paths;             /* live paths */
    size_t cap_paths;           /* allocated in 'paths' */
    uint64_t next_id;           /* id of the next path */
    struct adapter_sim_stats stats; /* counters */
    struct s_cost *dist;        /* routing scratch, 'n_sw' each */
    size_t *prev_fib;           /* fibre into each switch, SIZE_MAX: none */
    bool *done;                 /* settled switches */
    size_t *tmp_sw;             /* a route being built, 'n_sw' */
};


/* Parses an IPv4 or IPv6 literal; false if 's' is neither. */
static bool
s_parse_ip(const char *s, int *family, unsigned char addr[16])
{
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, s, addr) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, addr) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

/* Checking a description. */

struct s_checker {
    const char *prefix;         /* "sim", or "" */
    const char *name;           /* file name for positions, or NULL */
    const char *text;           /* its text, or NULL: read 'name' */
    size_t len;                 /* bytes in 'text' */
    char *err;                  /* caller's buffer */
    size_t errsize;             /* its size */
};

/* Reports 'fmt' about item 'rel' (relative to the prefix); returns false
 * so checks can 'return s_bad(...)'. */
static bool s_bad(struct s_checker *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static bool
s_bad(struct s_checker *c, const char *rel, const char *fmt, ...)
{
    char item[S_ITEM_SIZE];
    char pos[1024] = "";
    char msg[512];
    size_t line, col;
    va_list ap;

    snprintf(item, sizeof item, "%s%s%s", c->prefix,
             c->prefix[0] && rel[0] ? "." : "", rel);
    /* common/cfg places what it checks itself; the cross-references
     * checked here are found again in the text. */
    if (c->name && (c->text ? cfg_locate(c->text, c->len, item, &line, &col)
                            : cfg_locate_file(c->name, item, &line, &col))) {
        snprintf(pos, sizeof pos, "%s:%zu:%zu: ", c->name, line, col);
    } else if (c->name) {
        snprintf(pos, sizeof pos, "%s: ", c->name);
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_format(c->err, c->errsize, "%s%s: %s", pos, item[0] ? item : "(top)",
          msg);
    return false;
}

static size_t
s_find_switch(const struct adapter_sim_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->switches.n; i++) {
        if (!strcmp(cfg->switches.v[i], name)) {
            return i;
        }
    }
    return SIZE_MAX;
}

static bool
s_check(const struct adapter_sim_config *cfg, struct s_checker *c)
{
    const struct adapter_sim_fibre_cfg *fibres = cfg->fibres.v;
    const struct adapter_sim_host_cfg *hosts = cfg->hosts.v;
    char rel[S_ITEM_SIZE];

    if (!cfg->switches.n) {
        return s_bad(c, "switches", "no switches: the network needs at "
                     "least one");
    }
    if (cfg->switches.n > ADAPTER_SIM_MAX_SWITCHES) {
        return s_bad(c, "switches", "%zu switches, at most %d",
                     cfg->switches.n, ADAPTER_SIM_MAX_SWITCHES);
    }
    for (size_t i = 0; i < cfg->switches.n; i++) {
        const char *name = cfg->switches.v[i];
        size_t j = s_find_switch(cfg, name);

        snprintf(rel, sizeof rel, "switches[%zu]", i);
        if (!name[0] || strlen(name) > ADAPTER_SIM_MAX_NAME_LEN) {
            return s_bad(c, rel, "switch name '%s' must have 1 to %d "
                         "characters", name, ADAPTER_SIM_MAX_NAME_LEN);
        }
        /* Route names are written "a,b,c" in path details. */
        if (strpbrk(name, ", \t\n\r=")) {
            return s_bad(c, rel, "switch name '%s' has a comma, '=' or "
                         "white space", name);
        }
        if (j != i) {
            return s_bad(c, rel, "duplicate switch '%s' (also "
                         "switches[%zu])", name, j);
        }
    }
    /* The loader enforces these bounds; a config built by hand may not
     * have gone through it. */
    if (!(cfg->switch_delay_s >= 0) || !(cfg->stabilization_s >= 0)
        || !(cfg->teardown_s >= 0) || !(cfg->time_scale >= 0)
        || !(cfg->lambda_gbps >= 0) || !(cfg->fail_rate >= 0)
        || !(cfg->fail_rate <= 1) || cfg->seed < 0) {
        return s_bad(c, "", "delays, time_scale, lambda_gbps and seed must "
                     "not be negative, fail_rate must be in [0, 1]");
    }
    if (cfg->routing && strcmp(cfg->routing, "hops")
        && strcmp(cfg->routing, "latency")) {
        return s_bad(c, "routing", "'%s' is neither 'hops' nor 'latency'",
                     cfg->routing);
    }

    for (size_t i = 0; i < cfg->fibres.n; i++) {
        const struct adapter_sim_fibre_cfg *f = &fibres[i];
        size_t e[2];

        if (f->lambdas < 1 || f->lambdas > ADAPTER_SIM_MAX_LAMBDAS) {
            snprintf(rel, sizeof rel, "fibres[%zu].lambdas", i);
            return s_bad(c, rel, "%u lambdas, must be 1 to %d", f->lambdas,
                         ADAPTER_SIM_MAX_LAMBDAS);
        }
        if (!(f->length_km >= 0) || !(f->latency_ms >= 0)) {
            snprintf(rel, sizeof rel, "fibres[%zu]", i);
            return s_bad(c, rel, "negative length or latency");
        }
        if (f->ends.n != 2) {
            snprintf(rel, sizeof rel, "fibres[%zu].ends", i);
            return s_bad(c, rel, "a fibre joins two switches, got %zu "
                         "name%s", f->ends.n, f->ends.n == 1 ? "" : "s");
        }
        for (size_t k = 0; k < 2; k++) {
            e[k] = s_find_switch(cfg, f->ends.v[k]);
            if (e[k] == SIZE_MAX) {
                snprintf(rel, sizeof rel, "fibres[%zu].ends[%zu]", i, k);
                return s_bad(c, rel, "unknown switch '%s'", f->ends.v[k]);
            }
        }
        if (e[0] == e[1]) {
            snprintf(rel, sizeof rel, "fibres[%zu].ends", i);
            return s_bad(c, rel, "fibre from switch '%s' to itself",
                         f->ends.v[0]);
        }
        for (size_t j = 0; j < i; j++) {
            const struct adapter_sim_fibre_cfg *g = &fibres[j];
            size_t g0 = s_find_switch(cfg, g->ends.v[0]);
            size_t g1 = s_find_switch(cfg, g->ends.v[1]);

            if ((g0 == e[0] && g1 == e[1]) || (g0 == e[1] && g1 == e[0])) {
                snprintf(rel, sizeof rel, "fibres[%zu]", i);
                return s_bad(c, rel, "duplicate fibre '%s'-'%s' (also "
                             "fibres[%zu]); give one fibre more lambdas "
                             "instead", f->ends.v[0], f->ends.v[1], j);
            }
        }
    }

    for (size_t i = 0; i < cfg->hosts.n; i++) {
        const struct adapter_sim_host_cfg *h = &hosts[i];
        unsigned char addr[16], other[16];
        int family, ofamily;

        if (!h->ip || !s_parse_ip(h->ip, &family, addr)) {
            snprintf(rel, sizeof rel, "hosts[%zu].ip", i);
            return s_bad(c, rel, "'%s' is not an IP address",
                         h->ip ? h->ip : "(null)");
        }
        if (!h->sw || s_find_switch(cfg, h->sw) == SIZE_MAX) {
            snprintf(rel, sizeof rel, "hosts[%zu].switch", i);
            return s_bad(c, rel, "host %s: unknown switch '%s'", h->ip,
                         h->sw ? h->sw : "(null)");
        }
        for (size_t j = 0; j < i; j++) {
            if (s_parse_ip(hosts[j].ip, &ofamily, other)
                && ofamily == family && !memcmp(addr, other, 16)) {
                snprintf(rel, sizeof rel, "hosts[%zu].ip", i);
                return s_bad(c, rel, "duplicate host '%s' (also "
                             "hosts[%zu])", h->ip, j);
            }
        }
    }
    return true;
}

bool
adapter_sim_config_check(const struct adapter_sim_config *cfg,
                         const char *prefix, const char *path, char *err,
                         size_t errsize)
{
    struct s_checker c = {
        .prefix = prefix ? prefix : "",
        .name = path,
        .err = err,
        .errsize = errsize,
    };

    assert(cfg);
    return s_check(cfg, &c);
}

/* Loads 'text' ('len' bytes; NULL: the file 'name') into '*cfg' and
 * checks it; '*cfg' untouched on failure. */
static int
s_load_checked(struct adapter_sim_config *cfg, const char *name,
               const char *text, size_t len, char *err, size_t errsize)
{
    struct adapter_sim_config tmp;
    struct s_checker c = {
        .prefix = "sim",
        .name = name,
        .text = text,
        .len = len,
        .err = err,
        .errsize = errsize,
    };
    int rc;

    memset(&tmp, 0, sizeof tmp);
    rc = text ? cfg_load_string(adapter_sim_keys, &tmp, name, text, len, err,
                                errsize)
              : cfg_load(adapter_sim_keys, &tmp, name, err, errsize);
    if (rc) {
        return -1;
    }
    if (!s_check(&tmp, &c)) {
        cfg_free(adapter_sim_keys, &tmp);
        return -1;
    }
    *cfg = tmp;
    return 0;
}

int
adapter_sim_config_load_string(struct adapter_sim_config *cfg,
                               const char *name, const char *text,
                               size_t len, char *err, size_t errsize)
{
    assert(cfg && name && text);
    return s_load_checked(cfg, name, text, len, err, errsize);
}

int
adapter_sim_config_load(struct adapter_sim_config *cfg, const char *path,
                        char *err, size_t errsize)
{
    assert(cfg && path);
    return s_load_checked(cfg, path, NULL, 0, err, errsize);
}

void
adapter_sim_config_free(struct adapter_sim_config *cfg)
{
    if (cfg) {
        cfg_free(adapter_sim_keys, cfg);
    }
}

const char *
adapter_sim_state_name(enum adapter_sim_state state)
{
    switch (state) {
    case ADAPTER_SIM_PROVISIONING:
        return "provisioning";
    case ADAPTER_SIM_UP:
        return "up";
    case ADAPTER_SIM_TEARING_DOWN:
        return "tearing_down";
    case ADAPTER_SIM_DOWN:
        return "down";
    case ADAPTER_SIM_FAILED:
        return "failed";
    }
    return "?";
}

/* The simulator. */

static void
s_check_self(const adapter_sim_t *self)
{
    assert(self);
    assert(self->tag == ADAPTER_SIM_TAG);
    (void) self;
}

/* Seconds, scaled, to whole microseconds. */
static uint64_t
s_scaled_us(double seconds, double scale)
{
    double us = seconds * scale * 1e6;

    /* Bounded so that 'now' plus a few delays cannot wrap (~30 years). */
    if (!(us > 0)) {
        return 0;
    }
    return us > 1e15 ? (uint64_t) 1e15 : (uint64_t) llround(us);
}

/* splitmix64: small, and the same sequence on every platform. */
static uint64_t
s_rand64(adapter_sim_t *self)
{
    return hash_mix64(self->rng += HASH_GOLDEN);
}

/* Uniform in [0, 1). */
static double
s_rand01(adapter_sim_t *self)
{
    return (double) (s_rand64(self) >> 11) * 0x1.0p-53;
}

static void
s_path_free(struct s_path *p)
{
    if (p) {
        free(p->sw);
        free(p->fib);
        free(p->route);
        free(p->fail_reason);
        free(p);
    }
}

void
adapter_sim_destroy(adapter_sim_t **self_p)
{
    adapter_sim_t *self;

    if (!self_p || !*self_p) {
        return;
    }
    self = *self_p;
    s_check_self(self);
    for (size_t i = 0; i < self->n_paths; i++) {
        s_path_free(self->paths[i]);
    }
    free(self->paths);
    for (size_t i = 0; i < self->n_fibres; i++) {
        free(self->fibres[i].owner);
    }
    free(self->fibres);
    for (size_t i = 0; i < self->n_sw; i++) {
        free(self->sw_names[i]);
    }
    free(self->sw_names);
    free(self->adj_start);
    free(self->adj);
    free(self->hosts);
    free(self->dist);
    free(self->prev_fib);
    free(self->done);
    free(self->tmp_sw);
    self->tag = ADAPTER_SIM_DEAD;
    free(self);
    *self_p = NULL;
}

adapter_sim_t *
adapter_sim_new(const struct adapter_sim_config *cfg, char *err,
                size_t errsize)
{
    const struct adapter_sim_fibre_cfg *fibres;
    const struct adapter_sim_host_cfg *hosts;
    struct s_checker c = {
        .prefix = "sim", .err = err, .errsize = errsize,
    };
    adapter_sim_t *self;
    size_t n_sw, *fill = NULL;

    assert(cfg);
    fibres = cfg->fibres.v;
    hosts = cfg->hosts.v;
    n_sw = cfg->switches.n;
    if (!s_check(cfg, &c)) {
        return NULL;
    }
    self = calloc(1, sizeof *self);
    if (!self) {
        goto nomem;
    }
    self->tag = ADAPTER_SIM_TAG;
    self->n_sw = n_sw;
    self->sw_names = calloc(n_sw, sizeof *self->sw_names);
    self->adj_start = calloc(n_sw + 1, sizeof *self->adj_start);
    self->adj = calloc(2 * cfg->fibres.n + 1, sizeof *self->adj);
    self->fibres = calloc(cfg->fibres.n + 1, sizeof *self->fibres);
    self->hosts = calloc(cfg->hosts.n + 1, sizeof *self->hosts);
    self->dist = calloc(n_sw, sizeof *self->dist);
    self->prev_fib = calloc(n_sw, sizeof *self->prev_fib);
    self->done = calloc(n_sw, sizeof *self->done);
    self->tmp_sw = calloc(n_sw, sizeof *self->tmp_sw);
    fill = calloc(n_sw, sizeof *fill);
    if (!self->sw_names || !self->adj_start || !self->adj || !self->fibres
        || !self->hosts || !self->dist || !self->prev_fib || !self->done
        || !self->tmp_sw || !fill) {
        goto nomem;
    }
    for (size_t i = 0; i < n_sw; i++) {
        if (!(self->sw_names[i] = strdup(cfg->switches.v[i]))) {
            goto nomem;
        }
    }

    for (size_t i = 0; i < cfg->fibres.n; i++) {
        const struct adapter_sim_fibre_cfg *fc = &fibres[i];
        struct s_fibre *f = &self->fibres[i];

        f->a = s_find_switch(cfg, fc->ends.v[0]);
        f->b = s_find_switch(cfg, fc->ends.v[1]);
        f->n_lambdas = fc->lambdas;
        f->latency_ms = (fc->latency_ms > 0 ? fc->latency_ms
                         : fc->length_km * ADAPTER_SIM_US_PER_KM / 1000.0);
        f->owner = calloc(f->n_lambdas, sizeof *f->owner);
        if (!f->owner) {
            goto nomem;
        }
        self->n_fibres = i + 1;
        if (f->n_lambdas > self->max_lambdas) {
            self->max_lambdas = f->n_lambdas;
        }
        self->adj_start[f->a + 1]++;
        self->adj_start[f->b + 1]++;
    }
    /* Adjacency in fibre order, so ties between routes always break the
     * same way. */
    for (size_t i = 0; i < n_sw; i++) {
        self->adj_start[i + 1] += self->adj_start[i];
    }
    for (size_t i = 0; i < self->n_fibres; i++) {
        const struct s_fibre *f = &self->fibres[i];

        self->adj[self->adj_start[f->a] + fill[f->a]++] = i;
        self->adj[self->adj_start[f->b] + fill[f->b]++] = i;
    }

    for (size_t i = 0; i < cfg->hosts.n; i++) {
        struct s_host *h = &self->hosts[i];

        s_parse_ip(hosts[i].ip, &h->family, h->addr);
        inet_ntop(h->family, h->addr, h->ip, sizeof h->ip);
        h->sw = s_find_switch(cfg, hosts[i].sw);
    }
    self->n_hosts = cfg->hosts.n;

    self->by_latency = cfg->routing && !strcmp(cfg->routing, "latency");
    self->switch_us = s_scaled_us(cfg->switch_delay_s, cfg->time_scale);
    self->stab_us = s_scaled_us(cfg->stabilization_s, cfg->time_scale);
    self->teardown_us = s_scaled_us(cfg->teardown_s, cfg->time_scale);
    self->lambda_mbps = cfg->lambda_gbps * 1000.0;
    self->fail_rate = cfg->fail_rate;
    self->rng = (uint64_t) cfg->seed;
    self->fail_next = cfg->fail_next;
    self->next_id = 1;
    free(fill);
    return self;

nomem:
    free(fill);
    adapter_sim_destroy(&self);
    log_format(err, errsize, "sim: out of memory");
    return NULL;
}

/* Finds the host with address 'ip'.  Returns its index, or SIZE_MAX with
 * 'errno'-style code in '*rc' (EINVAL: not an address, ENOENT: not on
 * the network). */
static size_t
s_find_host(const adapter_sim_t *self, const char *ip, int *rc)
{
    unsigned char addr[16];
    int family;

    if (!ip || !s_parse_ip(ip, &family, addr)) {
        *rc = EINVAL;
        return SIZE_MAX;
    }
    for (size_t i = 0; i < self->n_hosts; i++) {
        if (self->hosts[i].family == family
            && !memcmp(self->hosts[i].addr, addr, 16)) {
            return i;
        }
    }
    *rc = ENOENT;
    return SIZE_MAX;
}

/* Is 'a' strictly better than 'b'? */
static bool
s_better(const adapter_sim_t *self, struct s_cost a, struct s_cost b)
{
    if (a.hops == SIZE_MAX) {
        return false;
    }
    if (b.hops == SIZE_MAX) {
        return true;
    }
    if (self->by_latency) {
        return a.lat < b.lat || (a.lat == b.lat && a.hops < b.hops);
    }
    return a.hops < b.hops || (a.hops == b.hops && a.lat < b.lat);
}

static bool
s_usable(const struct s_fibre *f, uint32_t lambda)
{
    return !lambda || (lambda <= f->n_lambdas && !f->owner[lambda - 1]);
}

/* Dijkstra from switch 'src' over the fibres where 'lambda' is free (0:
 * every fibre), leaving the tree in 'prev_fib'.  Returns the cost to
 * 'dst'.  O(n_sw^2 + n_fibres): networks here have tens of switches. */
static struct s_cost
s_route(adapter_sim_t *self, size_t src, size_t dst, uint32_t lambda)
{
    for (size_t i = 0; i < self->n_sw; i++) {
        self->dist[i].hops = SIZE_MAX;
        self->dist[i].lat = 0;
        self->prev_fib[i] = SIZE_MAX;
        self->done[i] = false;
    }
    self->dist[src].hops = 0;
    for (;;) {
        size_t u = SIZE_MAX;

        /* The lowest index wins a tie, so routes are reproducible. */
        for (size_t i = 0; i < self->n_sw; i++) {
            if (!self->done[i] && self->dist[i].hops != SIZE_MAX
                && (u == SIZE_MAX
                    || s_better(self, self->dist[i], self->dist[u]))) {
                u = i;
            }
        }
        if (u == SIZE_MAX || u == dst) {
            break;
        }
        self->done[u] = true;
        for (size_t k = self->adj_start[u]; k < self->adj_start[u + 1];
             k++) {
            size_t fi = self->adj[k];
            const struct s_fibre *f = &self->fibres[fi];
            size_t v = f->a == u ? f->b : f->a;
            struct s_cost c;

            if (self->done[v] || !s_usable(f, lambda)) {
                continue;
            }
            c.hops = self->dist[u].hops + 1;
            c.lat = self->dist[u].lat + f->latency_ms;
            if (s_better(self, c, self->dist[v])) {
                self->dist[v] = c;
                self->prev_fib[v] = fi;
            }
        }
    }
    return self->dist[dst];
}

/* Writes the route to 'dst' that s_route() left, src first, into
 * 'self->tmp_sw'; returns its number of switches. */
static size_t
s_extract(adapter_sim_t *self, size_t dst)
{
    size_t n = 0, v = dst;

    while (self->prev_fib[v] != SIZE_MAX) {
        const struct s_fibre *f = &self->fibres[self->prev_fib[v]];

        self->tmp_sw[n++] = v;
        v = f->a == v ? f->b : f->a;
    }
    self->tmp_sw[n++] = v;
    for (size_t i = 0; i < n / 2; i++) {
        size_t t = self->tmp_sw[i];

        self->tmp_sw[i] = self->tmp_sw[n - 1 - i];
        self->tmp_sw[n - 1 - i] = t;
    }
    return n;
}

static size_t
s_fibre_between(const adapter_sim_t *self, size_t a, size_t b)
{
    for (size_t k = self->adj_start[a]; k < self->adj_start[a + 1]; k++) {
        const struct s_fibre *f = &self->fibres[self->adj[k]];

        if ((f->a == a && f->b == b) || (f->a == b && f->b == a)) {
            return self->adj[k];
        }
    }
    return SIZE_MAX;
}

/* Makes a path record over switches 'sw' ('n_sw' of them, consecutive
 * ones joined by a fibre) on 'lambda', and reserves the lambda on its
 * fibres.  Returns NULL when out of memory. */
static struct s_path *
s_path_new(adapter_sim_t *self, uint64_t id, size_t src, size_t dst,
           double bandwidth_mbps, uint32_t lambda, const size_t *sw,
           size_t n_sw)
{
    struct s_path *p = calloc(1, sizeof *p);

    if (!p) {
        return NULL;
    }
    p->sw = calloc(n_sw, sizeof *p->sw);
    p->fib = calloc(n_sw, sizeof *p->fib);
    p->route = calloc(n_sw, sizeof *p->route);
    if (!p->sw || !p->fib || !p->route) {
        s_path_free(p);
        return NULL;
    }
    if (self->n_paths == self->cap_paths) {
        size_t cap = self->cap_paths ? 2 * self->cap_paths : 16;
        struct s_path **np = realloc(self->paths, cap * sizeof *np);

        if (!np) {
            s_path_free(p);
            return NULL;
        }
        self->paths = np;
        self->cap_paths = cap;
    }
    p->id = id;
    p->src = src;
    p->dst = dst;
    p->bandwidth_mbps = bandwidth_mbps;
    p->lambda = lambda;
    p->n_sw = n_sw;
    for (size_t i = 0; i < n_sw; i++) {
        p->sw[i] = sw[i];
        p->route[i] = self->sw_names[sw[i]];
        if (i) {
            size_t fi = s_fibre_between(self, sw[i - 1], sw[i]);

            assert(fi != SIZE_MAX && lambda);
            p->fib[i - 1] = fi;
            p->latency_ms += self->fibres[fi].latency_ms;
            assert(!self->fibres[fi].owner[lambda - 1]);
            self->fibres[fi].owner[lambda - 1] = id;
        }
    }
    self->paths[self->n_paths++] = p;
    if (id >= self->next_id) {
        self->next_id = id + 1;
    }
    return p;
}

/* Frees the lambdas of the 'i'th path, then the path. */
static void
s_path_remove(adapter_sim_t *self, size_t i)
{
    struct s_path *p = self->paths[i];

    for (size_t k = 0; k + 1 < p->n_sw; k++) {
        struct s_fibre *f = &self->fibres[p->fib[k]];

        assert(f->owner[p->lambda - 1] == p->id);
        f->owner[p->lambda - 1] = 0;
    }
    s_path_free(p);
    memmove(&self->paths[i], &self->paths[i + 1],
            (self->n_paths - i - 1) * sizeof *self->paths);
    self->n_paths--;
}

static void
s_view(const adapter_sim_t *self, const struct s_path *p,
       struct adapter_sim_path *out)
{
    memset(out, 0, sizeof *out);
    out->id = p->id;
    out->src_ip = self->hosts[p->src].ip;
    out->dst_ip = self->hosts[p->dst].ip;
    out->bandwidth_mbps = p->bandwidth_mbps;
    out->lambda = p->lambda;
    out->n_switches = p->n_sw;
    out->n_hops = p->n_sw - 1;
    out->route = p->route;
    out->latency_ms = p->latency_ms;
    out->state = p->state;
    out->created_us = p->created_us;
    out->up_us = p->up_us;
    out->fail_us = p->fail_us;
    out->down_us = p->down_us;
    out->fail_reason = p->fail_reason;
}

/* Picks the route and lambda for switches 'a' to 'b' into 'tmp_sw'.
 * Returns 0 and sets '*lambda' and '*n_sw', or ENETUNREACH, EBUSY. */
static int
s_assign(adapter_sim_t *self, size_t a, size_t b, uint32_t *lambda,
         size_t *n_sw)
{
    struct s_cost bound, best = { .hops = SIZE_MAX };
    size_t *best_sw;

    if (a == b) {
        /* One switch joins the two hosts' ports: no fibre, no lambda. */
        self->tmp_sw[0] = a;
        *lambda = 0;
        *n_sw = 1;
        return 0;
    }
    /* The route with every lambda free bounds what any lambda can do:
     * once a lambda reaches it, no higher one can do better. */
    bound = s_route(self, a, b, 0);
    if (bound.hops == SIZE_MAX) {
        return ENETUNREACH;
    }
    best_sw = malloc(self->n_sw * sizeof *best_sw);
    if (!best_sw) {
        return ENOMEM;
    }
    *lambda = 0;
    for (uint32_t l = 1; l <= self->max_lambdas; l++) {
        struct s_cost c = s_route(self, a, b, l);

        if (s_better(self, c, best)) {
            best = c;
            *lambda = l;
            *n_sw = s_extract(self, b);
            memcpy(best_sw, self->tmp_sw, *n_sw * sizeof *best_sw);
            if (!s_better(self, bound, best)) {
                break;
            }
        }
    }
    if (*lambda) {
        memcpy(self->tmp_sw, best_sw, *n_sw * sizeof *best_sw);
    }
    free(best_sw);
    return *lambda ? 0 : EBUSY;
}

int
adapter_sim_create(adapter_sim_t *self, const char *src_ip,
                   const char *dst_ip, double bandwidth_mbps,
                   uint64_t now_us, struct adapter_sim_setup *setup,
                   char *err, size_t errsize)
{
    size_t src, dst, n_sw = 0;
    uint32_t lambda = 0;
    struct s_path *p;
    bool fail;
    double u;
    int rc = 0;

    s_check_self(self);
    assert(setup);
    memset(setup, 0, sizeof *setup);
    src = s_find_host(self, src_ip, &rc);
    if (src == SIZE_MAX) {
        log_format(err, errsize, rc == EINVAL ? "source '%s' is not an IP "
              "address" : "source host %s is not on the simulated network",
              src_ip ? src_ip : "(null)");
        return rc;
    }
    dst = s_find_host(self, dst_ip, &rc);
    if (dst == SIZE_MAX) {
        log_format(err, errsize, rc == EINVAL ? "destination '%s' is not an IP "
              "address" : "destination host %s is not on the simulated "
              "network", dst_ip ? dst_ip : "(null)");
        return rc;
    }
    if (src == dst) {
        log_format(err, errsize, "source and destination are the same host %s",
              self->hosts[src].ip);
        return EINVAL;
    }
    if (!(bandwidth_mbps >= 0)
        || (self->lambda_mbps > 0 && bandwidth_mbps > self->lambda_mbps)) {
        log_format(err, errsize, "bandwidth %g Mbit/s is more than one lambda "
              "carries (%g Mbit/s)", bandwidth_mbps, self->lambda_mbps);
        return EINVAL;
    }

    rc = s_assign(self, self->hosts[src].sw, self->hosts[dst].sw, &lambda,
                  &n_sw);
    if (rc == ENETUNREACH) {
        log_format(err, errsize, "no fibre route between switch '%s' (%s) and "
              "switch '%s' (%s)", self->sw_names[self->hosts[src].sw],
              self->hosts[src].ip, self->sw_names[self->hosts[dst].sw],
              self->hosts[dst].ip);
        return rc;
    }
    if (rc == EBUSY) {
        self->stats.n_blocked++;
        log_format(err, errsize, "blocked: no route from switch '%s' (%s) to "
              "switch '%s' (%s) has one lambda free on all its fibres",
              self->sw_names[self->hosts[src].sw], self->hosts[src].ip,
              self->sw_names[self->hosts[dst].sw], self->hosts[dst].ip);
        return rc;
    }
    if (rc) {
        log_format(err, errsize, "sim: out of memory");
        return rc;
    }

    p = s_path_new(self, self->next_id, src, dst, bandwidth_mbps, lambda,
                   self->tmp_sw, n_sw);
    if (!p) {
        log_format(err, errsize, "sim: out of memory");
        return ENOMEM;
    }
    p->state = ADAPTER_SIM_PROVISIONING;
    p->created_us = now_us;
    self->stats.n_created++;

    setup->id = p->id;
    setup->lambda = lambda;
    setup->n_hops = n_sw - 1;
    /* ODIN configures the switches one after another. */
    setup->software_us = self->switch_us * n_sw;
    setup->stabilization_us = self->stab_us;
    setup->total_us = setup->software_us + setup->stabilization_us;

    /* Always one draw per set-up, so a given seed gives the same failures
     * whatever 'fail_next' does. */
    u = s_rand01(self);
    fail = u < self->fail_rate;
    if (self->fail_next) {
        self->fail_next--;
        fail = true;
    }
    if (fail) {
        /* Fails at switch k (1..n_sw) or, for k = n_sw + 1, while
         * stabilizing. */
        uint64_t k = 1 + s_rand64(self) % (n_sw + 1);
        char reason[160];

        if (k <= n_sw) {
            p->fail_us = now_us + self->switch_us * k;
            snprintf(reason, sizeof reason, "switch '%s' refused the "
                     "cross-connect for lambda %u (injected failure)",
                     self->sw_names[p->sw[k - 1]], lambda);
        } else {
            p->fail_us = now_us + setup->total_us;
            snprintf(reason, sizeof reason, "lightpath on lambda %u did "
                     "not stabilize (injected failure)", lambda);
        }
        p->fail_reason = strdup(reason);
        setup->will_fail = true;
        setup->fail_at_us = p->fail_us;
    } else {
        p->up_us = now_us + setup->total_us;
        setup->up_at_us = p->up_us;
    }
    return 0;
}

static size_t
s_index_of(const adapter_sim_t *self, uint64_t id)
{
    for (size_t i = 0; i < self->n_paths; i++) {
        if (self->paths[i]->id == id) {
            return i;
        }
    }
    return SIZE_MAX;
}

int
adapter_sim_teardown(adapter_sim_t *self, uint64_t id, uint64_t now_us,
                     uint64_t *down_at_us, char *err, size_t errsize)
{
    size_t i;
    struct s_path *p;

    s_check_self(self);
    i = s_index_of(self, id);
    if (i == SIZE_MAX) {
        log_format(err, errsize, "no sim path %" PRIu64, id);
        return ENOENT;
    }
    p = self->paths[i];
    if (p->state != ADAPTER_SIM_TEARING_DOWN) {
        p->state = ADAPTER_SIM_TEARING_DOWN;
        p->down_us = now_us + self->teardown_us;
        /* An abandoned set-up can no longer fail. */
        p->fail_us = 0;
    }
    if (down_at_us) {
        *down_at_us = p->down_us;
    }
    return 0;
}

/* When path 'p' next changes state, or UINT64_MAX. */
static uint64_t
s_due(const struct s_path *p)
{
    switch (p->state) {
    case ADAPTER_SIM_PROVISIONING:
        return p->fail_us ? p->fail_us : p->up_us;
    case ADAPTER_SIM_TEARING_DOWN:
        return p->down_us;
    case ADAPTER_SIM_UP:
    case ADAPTER_SIM_DOWN:
    case ADAPTER_SIM_FAILED:
        break;
    }
    return UINT64_MAX;
}

uint64_t
adapter_sim_next_due_us(const adapter_sim_t *self)
{
    uint64_t next = UINT64_MAX;

    s_check_self(self);
    for (size_t i = 0; i < self->n_paths; i++) {
        uint64_t due = s_due(self->paths[i]);

        if (due < next) {
            next = due;
        }
    }
    return next;
}

size_t
adapter_sim_advance(adapter_sim_t *self, uint64_t now_us,
                    adapter_sim_event_fn *fn, void *arg)
{
    size_t n_events = 0;

    s_check_self(self);
    /* One transition per pass, earliest first (then lowest id): O(n) per
     * event, fine for the hundreds of paths a test makes. */
    for (;;) {
        size_t best = SIZE_MAX;
        uint64_t best_due = UINT64_MAX;
        struct adapter_sim_event ev = { .reason = NULL };
        struct adapter_sim_path view;
        struct s_path *p;
        bool gone;

        for (size_t i = 0; i < self->n_paths; i++) {
            uint64_t due = s_due(self->paths[i]);

            if (due != UINT64_MAX && due <= now_us
                && (due < best_due
                    || (due == best_due
                        && self->paths[i]->id < self->paths[best]->id))) {
                best = i;
                best_due = due;
            }
        }
        if (best == SIZE_MAX) {
            break;
        }
        p = self->paths[best];
        ev.old_state = p->state;
        if (p->state == ADAPTER_SIM_PROVISIONING && !p->fail_us) {
            p->state = ADAPTER_SIM_UP;
            self->stats.n_up++;
            gone = false;
        } else if (p->state == ADAPTER_SIM_PROVISIONING) {
            p->state = ADAPTER_SIM_FAILED;
            ev.reason = p->fail_reason;
            self->stats.n_failed++;
            gone = true;
        } else {
            p->state = ADAPTER_SIM_DOWN;
            self->stats.n_down++;
            gone = true;
        }
        s_view(self, p, &view);
        ev.path = &view;
        if (gone) {
            /* Free the lambdas first, keeping the record for 'fn'. */
            for (size_t k = 0; k + 1 < p->n_sw; k++) {
                self->fibres[p->fib[k]].owner[p->lambda - 1] = 0;
            }
            p->n_sw = 1;
        }
        if (fn) {
            fn(&ev, arg);
        }
        if (gone) {
            s_path_remove(self, best);
        }
        n_events++;
    }
    return n_events;
}

bool
adapter_sim_lookup(const adapter_sim_t *self, uint64_t id,
                   struct adapter_sim_path *path)
{
    size_t i;

    s_check_self(self);
    i = s_index_of(self, id);
    if (i == SIZE_MAX) {
        return false;
    }
    s_view(self, self->paths[i], path);
    return true;
}

size_t
adapter_sim_n_paths(const adapter_sim_t *self)
{
    s_check_self(self);
    return self->n_paths;
}

void
adapter_sim_path_at(const adapter_sim_t *self, size_t i,
                    struct adapter_sim_path *path)
{
    s_check_self(self);
    assert(i < self->n_paths);
    s_view(self, self->paths[i], path);
}

char *
adapter_sim_path_detail(const struct adapter_sim_path *path, char *buf,
                        size_t size)
{
    size_t n;
    int w;

    assert(path && buf && size);
    w = snprintf(buf, size, "lambda=%u route=", path->lambda);
    n = w < 0 ? 0 : (size_t) w;
    for (size_t i = 0; i < path->n_switches && n < size; i++) {
        w = snprintf(buf + n, size - n, "%s%s", i ? "," : "",
                     path->route[i]);
        n += w < 0 ? 0 : (size_t) w;
    }
    if (n < size) {
        snprintf(buf + n, size - n, " latency_ms=%.3f", path->latency_ms);
    }
    return buf;
}

/* Reads 'detail' ("lambda=N route=a,b,c ...") into '*lambda' and the
 * switch indices in 'tmp_sw'; false with a message if it is malformed. */
static bool
s_parse_detail(adapter_sim_t *self, const char *detail, uint32_t *lambda,
               size_t *n_sw, char *err, size_t errsize)
{
    bool have_lambda = false, have_route = false;
    const char *s = detail;

    *n_sw = 0;
    while (*s) {
        const char *end;
        size_t len;

        while (*s == ' ') {
            s++;
        }
        end = strchr(s, ' ');
        len = end ? (size_t) (end - s) : strlen(s);
        if (len > 7 && !strncmp(s, "lambda=", 7)) {
            char *e;
            unsigned long l = strtoul(s + 7, &e, 10);

            if (e != s + len || l > ADAPTER_SIM_MAX_LAMBDAS) {
                log_format(err, errsize, "detail '%s': bad lambda", detail);
                return false;
            }
            *lambda = (uint32_t) l;
            have_lambda = true;
        } else if (len > 6 && !strncmp(s, "route=", 6)) {
            const char *name = s + 6;

            while (name < s + len) {
                const char *comma = memchr(name, ',', (size_t) (s + len
                                                                - name));
                size_t nlen = comma ? (size_t) (comma - name)
                                    : (size_t) (s + len - name);
                size_t k;

                for (k = 0; k < self->n_sw; k++) {
                    if (strlen(self->sw_names[k]) == nlen
                        && !strncmp(self->sw_names[k], name, nlen)) {
                        break;
                    }
                }
                if (k == self->n_sw || *n_sw == self->n_sw) {
                    log_format(err, errsize, "detail '%s': unknown switch "
                          "'%.*s' or route too long", detail, (int) nlen,
                          name);
                    return false;
                }
                self->tmp_sw[(*n_sw)++] = k;
                name += nlen + (comma ? 1 : 0);
            }
            have_route = *n_sw > 0;
        }
        s += len;
    }
    if (!have_lambda || !have_route) {
        log_format(err, errsize, "detail '%s': needs lambda=<n> and "
              "route=<switch>,...", detail);
        return false;
    }
    return true;
}

int
adapter_sim_adopt(adapter_sim_t *self, uint64_t id, const char *src_ip,
                  const char *dst_ip, double bandwidth_mbps,
                  const char *detail, uint64_t now_us, char *err,
                  size_t errsize)
{
    size_t src, dst, n_sw;
    uint32_t lambda = 0;
    struct s_path *p;
    int rc = 0;

    s_check_self(self);
    if (!id || id == UINT64_MAX) {
        log_format(err, errsize, "sim path id %" PRIu64 " is invalid", id);
        return EINVAL;
    }
    if (s_index_of(self, id) != SIZE_MAX) {
        log_format(err, errsize, "sim path id %" PRIu64 " is in use", id);
        return EEXIST;
    }
    src = s_find_host(self, src_ip, &rc);
    dst = src == SIZE_MAX ? SIZE_MAX : s_find_host(self, dst_ip, &rc);
    if (dst == SIZE_MAX) {
        log_format(err, errsize, "path %" PRIu64 ": host %s or %s is not on "
              "the simulated network", id, src_ip ? src_ip : "(null)",
              dst_ip ? dst_ip : "(null)");
        return rc;
    }
    if (src == dst || !detail
        || !s_parse_detail(self, detail, &lambda, &n_sw, err, errsize)) {
        if (src == dst) {
            log_format(err, errsize, "path %" PRIu64 ": same host twice", id);
        } else if (!detail) {
            log_format(err, errsize, "path %" PRIu64 ": no detail", id);
        }
        return EINVAL;
    }
    if (self->tmp_sw[0] != self->hosts[src].sw
        || self->tmp_sw[n_sw - 1] != self->hosts[dst].sw
        || (n_sw == 1) != (lambda == 0)) {
        log_format(err, errsize, "path %" PRIu64 ": route '%s' does not join "
              "%s's switch to %s's", id, detail, self->hosts[src].ip,
              self->hosts[dst].ip);
        return EINVAL;
    }
    for (size_t i = 1; i < n_sw; i++) {
        size_t fi = s_fibre_between(self, self->tmp_sw[i - 1],
                                    self->tmp_sw[i]);

        if (fi == SIZE_MAX || lambda > self->fibres[fi].n_lambdas) {
            log_format(err, errsize, "path %" PRIu64 ": no fibre '%s'-'%s' "
                  "with lambda %u", id, self->sw_names[self->tmp_sw[i - 1]],
                  self->sw_names[self->tmp_sw[i]], lambda);
            return EINVAL;
        }
        /* A route visiting a switch twice would reserve a fibre twice. */
        for (size_t j = 0; j < i; j++) {
            if (self->tmp_sw[j] == self->tmp_sw[i]) {
                log_format(err, errsize, "path %" PRIu64 ": route '%s' has a "
                      "loop", id, detail);
                return EINVAL;
            }
        }
    }
    for (size_t i = 1; i < n_sw; i++) {
        size_t fi = s_fibre_between(self, self->tmp_sw[i - 1],
                                    self->tmp_sw[i]);

        if (self->fibres[fi].owner[lambda - 1]) {
            log_format(err, errsize, "path %" PRIu64 ": lambda %u on fibre "
                  "'%s'-'%s' is held by path %" PRIu64, id, lambda,
                  self->sw_names[self->tmp_sw[i - 1]],
                  self->sw_names[self->tmp_sw[i]],
                  self->fibres[fi].owner[lambda - 1]);
            return EBUSY;
        }
    }
    p = s_path_new(self, id, src, dst, bandwidth_mbps, lambda, self->tmp_sw,
                   n_sw);
    if (!p) {
        log_format(err, errsize, "sim: out of memory");
        return ENOMEM;
    }
    p->state = ADAPTER_SIM_UP;
    p->created_us = now_us;
    p->up_us = now_us;
    return 0;
}

void
adapter_sim_fail_next(adapter_sim_t *self, uint32_t n)
{
    s_check_self(self);
    self->fail_next = n;
}

int
adapter_sim_fibre_free(const adapter_sim_t *self, const char *a,
                       const char *b)
{
    size_t ia = SIZE_MAX, ib = SIZE_MAX, fi;
    int n = 0;

    s_check_self(self);
    for (size_t i = 0; i < self->n_sw; i++) {
        if (!strcmp(self->sw_names[i], a)) {
            ia = i;
        }
        if (!strcmp(self->sw_names[i], b)) {
            ib = i;
        }
    }
    if (ia == SIZE_MAX || ib == SIZE_MAX) {
        return -1;
    }
    fi = s_fibre_between(self, ia, ib);
    if (fi == SIZE_MAX) {
        return -1;
    }
    for (uint32_t l = 0; l < self->fibres[fi].n_lambdas; l++) {
        n += !self->fibres[fi].owner[l];
    }
    return n;
}

void
adapter_sim_get_stats(const adapter_sim_t *self,
                      struct adapter_sim_stats *stats)
{
    s_check_self(self);
    *stats = self->stats;
}
