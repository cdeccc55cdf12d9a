/* SPDX-License-Identifier: MIT */
/* The odin-adapter's 'sim' backend: an in-process optical network of
 * switches joined by fibres that carry a number of wavelengths (lambdas),
 * with hosts attached to switches.  A path between two hosts is the
 * fewest-hop route on which one lambda is free on every fibre (wavelength
 * continuity, first fit); set-up takes a software delay per switch,
 * configured one after another like ODIN, then a stabilization delay.
 * Pure library: no bus, no clock, no logging.  The caller passes the time
 * in (monotonic microseconds) and turns the schedule into path events
 * through adapter_sim_advance(); the description comes from YAML through
 * common/cfg (ADAPTER_SIM_CFG_KEYS) and is checked by
 * adapter_sim_config_check(). */
#ifndef ADAPTER_SIM_H
#define ADAPTER_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

/* Limits of a description. */
#define ADAPTER_SIM_MAX_LAMBDAS 128     /* per fibre */
#define ADAPTER_SIM_MAX_SWITCHES 1024
#define ADAPTER_SIM_MAX_NAME_LEN 63     /* switch names */

/* Defaults, from the paper (section 4.1): ODIN took ~2.5 s to send its
 * commands to all the switches of a path, one switch after another, then
 * ~15 s for the hardware to settle; a teardown took ~12 s.  OMNInet is
 * fully connected, so its paths cross two switches: 1.25 s per switch. */
#define ADAPTER_SIM_DEFAULT_SWITCH_DELAY_S 1.25
#define ADAPTER_SIM_DEFAULT_STABILIZATION_S 15.0
#define ADAPTER_SIM_DEFAULT_TEARDOWN_S 12.0
#define ADAPTER_SIM_DEFAULT_TIME_SCALE 1.0
#define ADAPTER_SIM_DEFAULT_LAMBDAS 4
#define ADAPTER_SIM_DEFAULT_LAMBDA_GBPS 10.0
#define ADAPTER_SIM_DEFAULT_ROUTING "hops"
#define ADAPTER_SIM_DEFAULT_SEED 1
/* Light in fibre: about 5 us per km (refractive index ~1.47). */
#define ADAPTER_SIM_US_PER_KM 5.0

/* One fibre of the description. */
struct adapter_sim_fibre_cfg {
    struct cfg_strlist ends;    /* the two switches it joins */
    uint32_t lambdas;           /* wavelengths it carries */
    double length_km;           /* 0: not given */
    double latency_ms;          /* 0: from length_km, 5 us per km */
};

/* One host attachment of the description. */
struct adapter_sim_host_cfg {
    char *ip;                   /* host's endpoint address (v4 or v6) */
    char *sw;                   /* key "switch": the switch it hangs off */
};

/* The description of a simulated network, as cfg_load() fills it. */
struct adapter_sim_config {
    struct cfg_strlist switches;    /* switch names */
    struct cfg_seq fibres;          /* struct adapter_sim_fibre_cfg */
    struct cfg_seq hosts;           /* struct adapter_sim_host_cfg */
    char *routing;                  /* "hops" or "latency" */
    double switch_delay_s;          /* software delay per switch */
    double stabilization_s;         /* after the last switch is set */
    double teardown_s;              /* from request to lambdas free */
    double time_scale;              /* multiplies every delay */
    double lambda_gbps;             /* capacity of one lambda; 0: any */
    double fail_rate;               /* chance a set-up fails, [0, 1] */
    int64_t seed;                   /* of the failure draws */
    uint32_t fail_next;             /* the next N set-ups fail */
};

extern const struct cfg_key adapter_sim_fibre_keys[];
extern const struct cfg_key adapter_sim_host_keys[];

/* Key table entries for a sim description whose keys start with 'P' (a
 * string literal such as "sim.", or "") inside a config struct where the
 * struct adapter_sim_config lies at offset 'BASE'.  For a service:
 *     ADAPTER_SIM_CFG_KEYS("sim.", offsetof(struct adapter_cfg, sim)), */
#define ADAPTER_SIM_CFG_KEY_(P, BASE, TYPE, NAME, FIELD, ...)             \
    { .name = P NAME, .type = TYPE,                                       \
      .offset = (BASE) + offsetof(struct adapter_sim_config, FIELD),      \
      __VA_ARGS__ }
#define ADAPTER_SIM_CFG_KEYS(P, BASE)                                     \
    ADAPTER_SIM_CFG_KEY_(P, BASE, CFG_STRLIST, "switches", switches,      \
        .help = "names of the optical switches"),                         \
    ADAPTER_SIM_CFG_KEY_(P, BASE, CFG_SEQ, "fibres", fibres,              \
        .sub = adapter_sim_fibre_keys,                                    \
        .elem_size = sizeof(struct adapter_sim_fibre_cfg),                \
        .help = "fibres between two switches"),                           \
    ADAPTER_SIM_CFG_KEY_(P, BASE, CFG_SEQ, "hosts", hosts,                \
        .sub = adapter_sim_host_keys,                                     \
        .elem_size = sizeof(struct adapter_sim_host_cfg),                 \
        .help = "host endpoint addresses and the switch each hangs off"), \
    ADAPTER_SIM_CFG_KEY_(P, BASE, CFG_STR, "routing", routing,            \
        .def_str = ADAPTER_SIM_DEFAULT_ROUTING,                           \
        .help = "fewest 'hops' first, or lowest 'latency' first"),        \
    ADAPTER_SIM_CFG_KEY_(P, BASE, CFG_DOUBLE, "switch_delay_s",           \
        switch_delay_s, .dmin = 0, .dmax = 3600,                          \
        .def_dbl = ADAPTER_SIM_DEFAULT_SWITCH_DELAY_S,                    \
        .help = "software delay per switch, switches set one by one"),    \
    ADAPTER_SIM_CFG_KEY_(P, BASE, CFG_DOUBLE, "stabilization_s",          \
        stabilization_s, .dmin = 0, .dmax = 3600,                         \
        .def_dbl = ADAPTER_SIM_DEFAULT_STABILIZATION_S,                   \
        .help = "delay for the lightpath to settle, whatever its length"),\
    ADAPTER_SIM_CFG_KEY_(P, BASE, CFG_DOUBLE, "teardown_s", teardown_s,   \
        .dmin = 0, .dmax = 3600,                                          \
        .def_dbl = ADAPTER_SIM_DEFAULT_TEARDOWN_S,                        \
        .help = "delay from teardown request to the lambdas being free"), \
    ADAPTER_SIM_CFG_KEY_(P, BASE, CFG_DOUBLE, "time_scale", time_scale,   \
        .dmin = 0, .dmax = 1000,                                          \
        .def_dbl = ADAPTER_SIM_DEFAULT_TIME_SCALE,                        \
        .help = "multiplies every delay (0.01 in tests, 0: instant)"),    \
    ADAPTER_SIM_CFG_KEY_(P, BASE, CFG_DOUBLE, "lambda_gbps", lambda_gbps, \
        .dmin = 0, .dmax = 1e6,                                           \
        .def_dbl = ADAPTER_SIM_DEFAULT_LAMBDA_GBPS,                       \
        .help = "capacity of one lambda; larger requests are refused "    \
                "(0: no check)"),                                         \
    ADAPTER_SIM_CFG_KEY_(P, BASE, CFG_DOUBLE, "fail_rate", fail_rate,     \
        .dmin = 0, .dmax = 1, .def_dbl = 0,                               \
        .help = "injected failures: chance that a set-up fails"),         \
    ADAPTER_SIM_CFG_KEY_(P, BASE, CFG_INT, "seed", seed,                  \
        .min = 0, .max = INT64_MAX, .def_int = ADAPTER_SIM_DEFAULT_SEED,  \
        .help = "seed of the failure draws (same seed, same failures)"),  \
    ADAPTER_SIM_CFG_KEY_(P, BASE, CFG_U32, "fail_next", fail_next,        \
        .min = 0, .max = UINT32_MAX, .def_int = 0,                        \
        .help = "injected failures: the next N set-ups fail")

/* A whole file holding one "sim:" section (deploy/config/sim-network.yaml),
 * loaded into a struct adapter_sim_config. */
extern const struct cfg_key adapter_sim_keys[];

/* Checks what the loader cannot: switch names unique, fibres joining two
 * different known switches once, host addresses valid, unique and on known
 * switches, 'routing' known.  'prefix' is where the section sits in its
 * file ("sim"; "" for the top level), used to name the bad item.  When
 * 'path' names the YAML file it came from, the message starts with
 * 'path:line:col: ' of the item.  Returns true if valid; otherwise writes
 * e.g. "sim.fibres[2].ends[1]: unknown switch 'x'" into 'err'. */
bool adapter_sim_config_check(const struct adapter_sim_config *cfg,
                              const char *prefix, const char *path,
                              char *err, size_t errsize);

/* Loads and checks a file laid out as adapter_sim_keys (or the 'len'
 * bytes at 'text', named 'name' in messages).  Returns 0, the caller then
 * owning '*cfg' (adapter_sim_config_free()), or -1 with a 'file:line:col:'
 * message in 'err' and '*cfg' untouched. */
int adapter_sim_config_load(struct adapter_sim_config *cfg,
                            const char *path, char *err, size_t errsize);
int adapter_sim_config_load_string(struct adapter_sim_config *cfg,
                                   const char *name, const char *text,
                                   size_t len, char *err, size_t errsize);

/* Frees what adapter_sim_config_load*() allocated in 'cfg'. */
void adapter_sim_config_free(struct adapter_sim_config *cfg);

/* A path's state, numbered like vr.PathState in proto/adapter.proto. */
enum adapter_sim_state {
    ADAPTER_SIM_PROVISIONING = 1,   /* switches being set, or settling */
    ADAPTER_SIM_UP = 2,             /* carrying light */
    ADAPTER_SIM_TEARING_DOWN = 3,   /* teardown asked, lambdas still held */
    ADAPTER_SIM_DOWN = 4,           /* torn down: in events only */
    ADAPTER_SIM_FAILED = 5,         /* set-up failed: in events only */
};

/* Returns "provisioning", "up", ... or "?". */
const char *adapter_sim_state_name(enum adapter_sim_state state);

/* A view of one path.  The pointers are the simulator's, valid until the
 * next call that changes it (create, teardown, advance, adopt, destroy). */
struct adapter_sim_path {
    uint64_t id;                /* > 0, never reused in one simulator */
    const char *src_ip;         /* canonical form of the addresses */
    const char *dst_ip;
    double bandwidth_mbps;      /* as asked */
    uint32_t lambda;            /* 1-based; 0: same switch, no fibre */
    size_t n_hops;              /* fibres crossed */
    size_t n_switches;          /* n_hops + 1: switches configured */
    const char *const *route;   /* 'n_switches' switch names, src first */
    double latency_ms;          /* sum over the fibres */
    enum adapter_sim_state state;   /* now */
    uint64_t created_us;        /* when create (or adopt) was called */
    uint64_t up_us;             /* when it is or was up; 0: will fail */
    uint64_t fail_us;           /* when its set-up fails; 0: will not */
    uint64_t down_us;           /* when teardown completes; 0: not asked */
    const char *fail_reason;    /* why it will fail, or NULL */
};

/* The set-up schedule of a new path. */
struct adapter_sim_setup {
    uint64_t id;                /* the new path's id */
    uint64_t software_us;       /* switch delay x switches, scaled */
    uint64_t stabilization_us;  /* scaled */
    uint64_t total_us;          /* software + stabilization */
    uint64_t up_at_us;          /* now + total; 0 when it will fail */
    bool will_fail;             /* injected failure */
    uint64_t fail_at_us;        /* when it fails (if 'will_fail') */
    uint32_t lambda;            /* chosen lambda, 1-based (0: no fibre) */
    size_t n_hops;              /* fibres on the route */
};

/* A state change reported by adapter_sim_advance(). */
struct adapter_sim_event {
    const struct adapter_sim_path *path;    /* 'state' is the new state;
                                             * valid during the call */
    enum adapter_sim_state old_state;       /* before the change */
    const char *reason;                     /* FAILED: why; else NULL */
};

/* Called once per event; must not call into the simulator. */
typedef void adapter_sim_event_fn(const struct adapter_sim_event *event,
                                  void *arg);

/* Counters since the simulator was made. */
struct adapter_sim_stats {
    uint64_t n_created;         /* set-ups started */
    uint64_t n_blocked;         /* refused: no lambda free end to end */
    uint64_t n_up;              /* set-ups that completed */
    uint64_t n_failed;          /* set-ups that failed (injected) */
    uint64_t n_down;            /* teardowns that completed */
};

/* A simulator is used from one thread; nothing in it blocks. */
typedef struct adapter_sim adapter_sim_t;

/* Builds a simulator from 'cfg' (checked again; the simulator copies what
 * it needs, so 'cfg' may be freed afterwards).  Returns NULL with the
 * reason in 'err' if 'cfg' is invalid or memory runs out.  The caller owns
 * the result. */
adapter_sim_t *adapter_sim_new(const struct adapter_sim_config *cfg,
                               char *err, size_t errsize);

/* Frees '*self_p' if not NULL and sets it to NULL. */
void adapter_sim_destroy(adapter_sim_t **self_p);

/* Starts setting up a path between hosts 'src_ip' and 'dst_ip' for
 * 'bandwidth_mbps' (0: unspecified) at time 'now_us', reserving its lambda
 * on every fibre of the route at once.  On success returns 0 and fills
 * '*setup'; the path is PROVISIONING until adapter_sim_advance() reaches
 * 'up_at_us' (or 'fail_at_us').  Otherwise returns, with a message in
 * 'err': EINVAL (bad address, same host twice, bandwidth beyond a lambda),
 * ENOENT (a host is not on the network), ENETUNREACH (no fibre route
 * between the two switches at all), EBUSY (blocked: every route lacks a
 * lambda free end to end) or ENOMEM. */
int adapter_sim_create(adapter_sim_t *self, const char *src_ip,
                       const char *dst_ip, double bandwidth_mbps,
                       uint64_t now_us, struct adapter_sim_setup *setup,
                       char *err, size_t errsize);

/* Starts tearing down path 'id' at 'now_us' (a PROVISIONING path is
 * abandoned, and will neither come up nor fail); its lambdas stay held
 * until the teardown delay has passed and adapter_sim_advance() reports it
 * DOWN.  Call adapter_sim_advance('now_us') first, so that a set-up which
 * completed by then is reported UP before it goes.  Asking again for a
 * path already tearing down changes nothing.  Returns 0 and sets
 * '*down_at_us' (may be NULL), or ENOENT with a message if there is no
 * such path. */
int adapter_sim_teardown(adapter_sim_t *self, uint64_t id, uint64_t now_us,
                         uint64_t *down_at_us, char *err, size_t errsize);

/* Applies, in time order, every transition due at or before 'now_us':
 * PROVISIONING -> UP, PROVISIONING -> FAILED, TEARING_DOWN -> DOWN.  A
 * FAILED or DOWN path has its lambdas freed and is forgotten after 'fn'
 * (may be NULL) has seen it.  Returns the number of events. */
size_t adapter_sim_advance(adapter_sim_t *self, uint64_t now_us,
                           adapter_sim_event_fn *fn, void *arg);

/* Returns the time of the next due transition, or UINT64_MAX if none:
 * when to call adapter_sim_advance() next. */
uint64_t adapter_sim_next_due_us(const adapter_sim_t *self);

/* Fills '*path' for path 'id'; returns false if there is none. */
bool adapter_sim_lookup(const adapter_sim_t *self, uint64_t id,
                        struct adapter_sim_path *path);

/* Number of paths the simulator holds (PROVISIONING, UP, TEARING_DOWN),
 * and the 'i'th of them, oldest first (i < adapter_sim_n_paths()). */
size_t adapter_sim_n_paths(const adapter_sim_t *self);
void adapter_sim_path_at(const adapter_sim_t *self, size_t i,
                         struct adapter_sim_path *path);

/* Writes "lambda=<n> route=<sw>,<sw>,... latency_ms=<x>" for 'path' into
 * 'buf' (for vr.Path.detail; adapter_sim_adopt() reads it back) and
 * returns 'buf'.  Truncated to 'size'. */
char *adapter_sim_path_detail(const struct adapter_sim_path *path,
                              char *buf, size_t size);

/* Re-creates, UP at 'now_us', a path the adapter knew before a restart:
 * 'id' between 'src_ip' and 'dst_ip', on the lambda and route that
 * 'detail' (as adapter_sim_path_detail() wrote it) names, reserving
 * exactly those lambdas.  Later ids are above 'id'.  Returns 0, or with a
 * message: EINVAL ('detail' unreadable, or its route does not join the two
 * hosts' switches over existing fibres), ENOENT (unknown host), EEXIST
 * ('id' in use) or EBUSY (the lambda is taken on some fibre). */
int adapter_sim_adopt(adapter_sim_t *self, uint64_t id, const char *src_ip,
                      const char *dst_ip, double bandwidth_mbps,
                      const char *detail, uint64_t now_us, char *err,
                      size_t errsize);

/* Makes the next 'n' set-ups fail (replacing any count left). */
void adapter_sim_fail_next(adapter_sim_t *self, uint32_t n);

/* Returns how many lambdas are free on the fibre between switches 'a' and
 * 'b', or -1 if there is no such fibre. */
int adapter_sim_fibre_free(const adapter_sim_t *self, const char *a,
                           const char *b);

/* Copies the counters into '*stats'. */
void adapter_sim_get_stats(const adapter_sim_t *self,
                           struct adapter_sim_stats *stats);

#endif /* ADAPTER_SIM_H */
