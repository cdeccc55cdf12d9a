/* SPDX-License-Identifier: MIT */
/* VTTIF inference core of the vttif-aggregator: turns the agents' cumulative
 * local traffic matrices (proto/agent.proto LocalMatrix) into a global
 * matrix of smoothed rates per VM pair, and that matrix into an application
 * topology with change events (proto/vttif.proto).  A pure library: no bus,
 * no I/O, no clock; the caller passes the time in.  The service's bus code
 * (main.c) feeds it and publishes what it returns.
 *
 * Rates.  Each agent's report of a (src, dst) pair keeps the byte counts of
 * its deltas in a ring of time buckets covering 'window_s' (a delta that
 * spans several buckets, e.g. after a lost message, is spread over them in
 * proportion to time), so the window rate is bytes in the window divided by
 * the time the window really covers since the pair's baseline.  That rate
 * goes through an EWMA whose weight is 1 - exp(-dt / tau_s), so 100 ms and
 * 1 s periods smooth alike.  The newest buckets alone, those covering the
 * last 'idle_s' (up to one bucket more, as the newest is partly elapsed),
 * give the report's recent rate: whether the traffic is still there,
 * which the window and the EWMA take seconds to tell once it stops.
 * Counters: the first message of an agent, a new boot id, a counter
 * that went down, or one that moved faster than 'max_rate_bps' only set a
 * baseline (no rate, never a spike; the smoothed rate carries over a
 * restart).  A duplicated or older message (time not
 * increasing) is ignored.  A pair an agent stops listing decays to 0 and
 * is forgotten after 'pair_timeout_s'.
 *
 * Dedupe.  Agents count a frame where it enters the overlay from a local VM,
 * so normally one agent reports a pair.  When several do (a VM that moved, a
 * stale agent, a relaying proxy), the pair's rate is taken from ONE report,
 * never the sum: the report of the agent where src is located per
 * vttif_tm_feed_location(), if it has one with a rate; otherwise the report
 * with the highest smoothed rate.
 *
 * Topology.  Edges are UNDIRECTED, between two VM MACs: rate(a,b) =
 * rate(a->b) + rate(b->a), smoothed, and likewise their recent rates.  The
 * rules take an edge at its CURRENT rate: the smoothed rate, or the recent
 * one when that is lower, so that a pair whose traffic stopped is at about
 * 0 within idle_s rather than draining for seconds.  norm = current rate /
 * the SCALE, the largest smoothed rate of a pair, each pair counting for at
 * most its recent rate / drop_frac: a pair that went silent stops setting
 * the scale about idle_s after it stopped, and the lighter traffic that
 * follows it is measured against itself, not against the old flow's
 * draining rate (the factor keeps what a paused pattern still carries
 * from letting chatter set the scale).  An edge enters the candidate set
 * once current rate >= min_rate_bps and norm >= add_frac have held for
 * hold_add_s; it leaves once its smoothed rate < drop_rate_bps, or its
 * current rate < drop_frac of the largest current rate (if that is at
 * least drop_rate_bps: not while every pair is paused), has held for
 * hold_drop_s (hysteresis).  With idle_s 0 the recent rates are not used,
 * and all of this is the smoothed rate / the largest smoothed rate.  The
 * published topology follows the candidate set only when it has been
 * unchanged for quiet_new_s (from or to no edges: NEW, CLEARED; or when
 * every edge it would lose left because its traffic stopped, no flip is
 * pending and no edge flipped back within settle_s) or quiet_s (UPDATED),
 * at most one event per min_interval_s.  When the candidate set keeps
 * changing instead (more than settle_changes ticks changed it within
 * settle_s and an edge flipped back within settle_s of its last flip; or
 * the published set has differed from the candidate set for settle_s), the
 * published set becomes the UNION: itself plus every edge in the candidate
 * set within the last settle_s (once the edges whose enter condition holds
 * are in, or hold_add_s passed).  It then only grows (at most once per
 * settle_s) until the candidate set has been unchanged for settle_s; then
 * it shrinks to it.  Flap damping: entering the union again within
 * settle_max_s of leaving it doubles the stability needed to leave it (up
 * to settle_max_s), so a pattern switching just slower than settle_s
 * settles on the union too.
 *
 * Bounds.  Every table has a cap: agents (max_agents: a new agent beyond
 * it is refused), reports (max_reports) and undirected pairs (max_pairs):
 * when either is full, a new report first evicts an IDLE pair (not a
 * candidate nor published, no flip pending, carrying under 1% of
 * drop_rate_bps), found by a clock hand that looks at up to 64 pairs,
 * with all its reports; with none idle there, the entry is dropped.  VMs
 * (max_vms): a new VM evicts the one whose location is oldest among
 * those no pair names (up to 64 looked at, least recently located
 * first); with none, it is refused.  Aging: silent agents (agent timeout
 * above), reports no longer listed (pair_timeout_s), locations not
 * renewed (vm_timeout_s).  Every eviction, refusal and aging is counted.
 *
 * Cost.  vttif_tm_feed() is O(entries of the update + pairs the agent
 * reports), with no allocation once the tables have grown to the working
 * set.  vttif_tm_tick() is O(pairs) and meant to be called about every
 * 100 ms; queries are O(pairs). */
#ifndef VTTIF_TM_H
#define VTTIF_TM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults (seconds, bits per second), and why.
 * - window 2 s, tau 0.5 s: the window spans several BSP iterations (and
 *   20 updates at 100 ms, 2 at 1 s); the EWMA only irons out window-edge
 *   jitter, so it is short: together ~1.5 s of lag, and a switch from one
 *   pattern to another takes ~3 s to show in the rates.
 * - add 0.25, drop 0.10: chatter at 1-5% per direction makes an undirected
 *   pair of up to 10% of a heavy flow, and of up to ~20% while the largest
 *   rate dips during a pattern switch; real pattern edges sit at >= 0.5
 *   (all-to-all, torus, tree, ring and neighbour are uniform; a 2-row torus
 *   doubles its column edges).  TCP ACKs fold into their data edge.
 * - min rate 1 Mbit/s to enter, 0.5 Mbit/s to stay: idle chatter (ARP,
 *   ping, keep-alives) is kbit/s and never becomes a topology.
 * - hold 0.3 s each way: three 100 ms updates, so one odd sample cannot
 *   flip an edge.
 * - idle 0.5 s: four buckets and the newest, five 100 ms updates.  A
 *   pause shorter than that (a BSP step, noise; a lost message's bytes are
 *   spread over its gap) leaves a pair more than drop_frac of its rate
 *   there, which moves neither the scale nor an edge; an edge must pause
 *   for about idle_s + hold_drop_s, 0.8 s, while other traffic goes on, to
 *   leave (and the published set is still held by quiet_s and the union).
 *   A flow that stops stops setting the scale ~0.5 s later: after an
 *   iperf-sized flow, a pattern at a tenth of its rate is published ~1.7 s
 *   after it starts, not ~6.4 s.  A longer idle_s tolerates longer pauses
 *   and is slower to see a flow go (1 s: ~2.1 s in that case).
 * - quiet_new 0.5 s: from no edges, all edges of a starting workload enter
 *   within ~0.2 s of each other; NEW comes ~1.2 s after the workload
 *   starts at 100 ms periods (~2 s at 1 s), inside the 2 s bar.  The same
 *   short wait applies to CLEARED.
 * - quiet 2 s: during a switch from A to B the candidate set is A+B for
 *   ~1.7 s (B is in, A not yet out); waiting for 2 s of stability makes a
 *   switch one UPDATED event, not two.  When A's traffic stops outright,
 *   its edges leave with their recent rates as B's enter, and the switch
 *   waits quiet_new_s only.
 * - min interval 1 s: no event storms; never the bottleneck with the above.
 * - settle 6 s, K = 2: a normal switch keeps the published set behind for
 *   ~4 s, so 6 s never declares it a churn; an edge that comes back within
 *   6 s of leaving is churn (K = 2 tolerates one edge flapping once).
 *   Patterns switching every >= 10 s give one event per switch, every
 *   <= 7 s the union.  settle_max 30 s caps the damping.
 * - agent timeout 3 periods, at least 3 s: a lost message or two is
 *   normal, three seconds of silence is not.
 * - pair timeout 20 s: a pair an agent stopped listing has long decayed.
 * - Caps (see Bounds): 65536 VMs, 262144 undirected pairs and twice as
 *   many reports, an all-to-all of 512 VMs: ~110 MB at most with every
 *   table full.  A VM location not renewed for 120 s (agents renew every
 *   hello, 1 s by default) is forgotten.
 * - max rate 1 Tbit/s: more than any VM pair's link carries; a counter
 *   that moved faster is garbage (or hostile: it would make every real
 *   pair look idle beside it) and only sets a new baseline. */
#define VTTIF_TM_DEFAULT_WINDOW_S 2.0
#define VTTIF_TM_DEFAULT_TAU_S 0.5
#define VTTIF_TM_DEFAULT_ADD_FRAC 0.25
#define VTTIF_TM_DEFAULT_DROP_FRAC 0.10
#define VTTIF_TM_DEFAULT_MIN_RATE_BPS 1e6
#define VTTIF_TM_DEFAULT_DROP_RATE_BPS 0.5e6
#define VTTIF_TM_DEFAULT_HOLD_ADD_S 0.3
#define VTTIF_TM_DEFAULT_HOLD_DROP_S 0.3
#define VTTIF_TM_DEFAULT_IDLE_S 0.5
#define VTTIF_TM_DEFAULT_QUIET_NEW_S 0.5
#define VTTIF_TM_DEFAULT_QUIET_S 2.0
#define VTTIF_TM_DEFAULT_MIN_INTERVAL_S 1.0
#define VTTIF_TM_DEFAULT_SETTLE_S 6.0
#define VTTIF_TM_DEFAULT_SETTLE_CHANGES 2
#define VTTIF_TM_DEFAULT_SETTLE_MAX_S 30.0
#define VTTIF_TM_DEFAULT_AGENT_TIMEOUT_PERIODS 3.0
#define VTTIF_TM_DEFAULT_AGENT_TIMEOUT_MIN_S 3.0
#define VTTIF_TM_DEFAULT_PAIR_TIMEOUT_S 20.0
#define VTTIF_TM_DEFAULT_DEFAULT_PERIOD_S 1.0
#define VTTIF_TM_DEFAULT_MATRIX_MIN_FRAC 0.001
#define VTTIF_TM_DEFAULT_MAX_AGENTS 4096
#define VTTIF_TM_DEFAULT_MAX_REPORTS (1u << 19)
#define VTTIF_TM_DEFAULT_MAX_PAIRS (1u << 18)
#define VTTIF_TM_DEFAULT_MAX_VMS (1u << 16)
#define VTTIF_TM_DEFAULT_VM_TIMEOUT_S 120.0
#define VTTIF_TM_DEFAULT_MAX_RATE_BPS 1e12

enum {
    VTTIF_TM_ID_LEN = 64,        /* agent ids, NUL included */
    VTTIF_TM_REASON_LEN = 320,   /* event reasons, NUL included */
    VTTIF_TM_BUCKETS = 16,       /* time buckets per window */
    VTTIF_TM_MAX_SETTLE_CHANGES = 32,
};

/* Kinds of topology event; the numbers are vr.TopologyChange's. */
enum vttif_tm_change {
    VTTIF_TM_NONE = 0,
    VTTIF_TM_NEW = 1,           /* the first topology after none */
    VTTIF_TM_UPDATED = 2,       /* the edge set changed and is stable */
    VTTIF_TM_UNION = 3,         /* traffic keeps changing: the union held */
    VTTIF_TM_CLEARED = 4,       /* traffic stopped: no edges left */
};

/* Every knob of the module.  Times in seconds (on the caller's clock),
 * rates in bits per second. */
struct vttif_tm_params {
    double window_s;            /* sliding window of the rates */
    double tau_s;               /* EWMA time constant after it; 0: none */
    double add_frac;            /* norm at which an edge may enter */
    double drop_frac;           /* norm under which an edge may leave */
    double min_rate_bps;        /* rate an edge needs to enter */
    double drop_rate_bps;       /* rate under which an edge may leave */
    double hold_add_s;          /* enter condition must hold this long */
    double hold_drop_s;         /* leave condition must hold this long */
    double idle_s;              /* span of the recent rates; 0: unused */
    double quiet_new_s;         /* NEW/CLEARED: set unchanged this long */
    double quiet_s;             /* UPDATED: set unchanged this long */
    double min_interval_s;      /* least time between two events */
    double settle_s;            /* window of the union rule */
    unsigned settle_changes;    /* K: changes tolerated within settle_s */
    double settle_max_s;        /* damping cap on the union's hold */
    double agent_timeout_periods; /* silent agent ages out after this */
    double agent_timeout_min_s; /* many periods, and at least this long */
    double pair_timeout_s;      /* pair an agent stopped listing: forgot */
    double default_period_s;    /* period assumed when an agent gives 0 */
    double matrix_min_frac;     /* matrix query omits norms below this */
    size_t max_agents;          /* agents beyond are rejected */
    size_t max_reports;         /* (agent, pair) reports: see Bounds */
    size_t max_pairs;           /* undirected pairs: see Bounds */
    size_t max_vms;             /* VM records: see Bounds */
    double vm_timeout_s;        /* location not renewed: forgotten */
    double max_rate_bps;        /* a delta faster than this: a baseline */
};

/* Fills 'p' with the defaults above. */
void vttif_tm_params_default(struct vttif_tm_params *p);

/* Returns true if every field of 'p' is in range and consistent (drop
 * thresholds below add thresholds, and so on); otherwise false, with a
 * sentence naming the field and quoting its value in 'err' ('err_size'
 * bytes, may be 0). */
bool vttif_tm_params_check(const struct vttif_tm_params *p, char *err,
                           size_t err_size);

typedef struct vttif_tm vttif_tm_t;

/* Creates an empty module with 'params' (NULL: the defaults), copied.
 * Returns NULL if the params are invalid or memory is short.  The caller
 * owns the result. */
vttif_tm_t *vttif_tm_new(const struct vttif_tm_params *params);

/* Frees '*self_p' if it is not NULL, then sets it to NULL. */
void vttif_tm_destroy(vttif_tm_t **self_p);

/* Replaces the params (a config reload).  Thresholds and timers apply at
 * the next tick; a new window_s restarts every pair's window from its
 * last reading, keeping its smoothed rate.  Returns 0, or -1 and changes
 * nothing if 'params' is invalid. */
int vttif_tm_set_params(vttif_tm_t *self,
                        const struct vttif_tm_params *params);

/* The params in use, borrowed until the next vttif_tm_set_params(). */
const struct vttif_tm_params *vttif_tm_get_params(const vttif_tm_t *self);

/* One entry of a local matrix (proto vr.LocalMatrix's columns at one
 * index), counters cumulative since the agent's boot id began.  MACs as
 * the low 48 bits. */
struct vttif_tm_entry {
    uint64_t src;               /* source VM MAC */
    uint64_t dst;               /* destination VM MAC */
    uint64_t bytes;             /* cumulative */
    uint64_t frames;            /* cumulative */
};

/* One local matrix (proto vr.LocalMatrix), in seconds. */
struct vttif_tm_update {
    const char *agent_id;       /* 1 to VTTIF_TM_ID_LEN - 1 characters */
    uint64_t boot_id;           /* a new value means counters restarted */
    double period_s;            /* the agent's publishing period; 0: unset */
    double time_s;              /* agent's clock when read; <= 0: use now */
    const struct vttif_tm_entry *entries; /* borrowed for the call */
    size_t n_entries;
};

/* Takes one local matrix received at 'now' (seconds, monotonic, the same
 * clock as vttif_tm_tick()).  Deltas are measured on the agent's own clock
 * ('time_s') when given, so delivery jitter does not distort rates; a
 * message whose time is not after the agent's last one is ignored (unless
 * it is far behind, which counts as a clock jump and sets a new baseline).
 * Entries with a zero or group MAC, or src == dst, are skipped.  Returns 0
 * if the message was used, -1 if it was ignored or rejected (bad agent id
 * or time, too many agents); the counters say which. */
int vttif_tm_feed(vttif_tm_t *self, const struct vttif_tm_update *u,
                  double now);

/* Takes one VM location (proto vr.VmLocation): 'mac' sits behind
 * 'agent_id', or with 'gone' no longer does (ignored unless it was there).
 * Used by the dedupe rule and the per-VM totals; renews the location
 * (vm_timeout_s).  Returns 0, or -1 for a bad MAC or agent id, when the
 * VM table is full of VMs that pairs name (see Bounds), or when memory is
 * short. */
int vttif_tm_feed_location(vttif_tm_t *self, uint64_t mac,
                           const char *agent_id, bool gone, double now);

/* A topology event, filled by vttif_tm_tick(). */
struct vttif_tm_event {
    enum vttif_tm_change change; /* what happened */
    uint64_t version;           /* topology version after it, from 1 */
    double time;                /* the 'now' of the tick */
    uint32_t n_added;           /* edges added to the published set */
    uint32_t n_removed;         /* edges removed from it */
    uint32_t n_edges;           /* edges in it now */
    char reason[VTTIF_TM_REASON_LEN]; /* why, with numbers */
};

/* Advances time to 'now': ages out silent agents, recomputes the
 * normalised rates, moves edges in or out of the candidate set, and
 * decides on an event.  Returns true and fills '*ev' when a topology event
 * should be published now (read the edges with vttif_tm_topology()), else
 * false and leaves '*ev' alone.  Call it about every 100 ms. */
bool vttif_tm_tick(vttif_tm_t *self, double now, struct vttif_tm_event *ev);

/* An undirected edge of the published topology. */
struct vttif_tm_edge {
    uint64_t a, b;              /* the VM MACs, a < b */
    double rate_bps;            /* rate_ab + rate_ba, smoothed */
    double rate_ab_bps;         /* a -> b */
    double rate_ba_bps;         /* b -> a */
    double norm;                /* current rate / scale (see Topology) */
};

/* Copies up to 'max' edges of the published topology into 'out', sorted
 * by (a, b) when all fit, with their current smoothed rates (edges move
 * in and out only at ticks; rates with every vttif_tm_feed()), and returns
 * how many there are in all.  '*version' (if not NULL) gets its version, 0
 * before the first event. */
size_t vttif_tm_topology(vttif_tm_t *self, struct vttif_tm_edge *out,
                         size_t max, uint64_t *version);

/* A directed entry of the smoothed global matrix. */
struct vttif_tm_rate {
    uint64_t src, dst;          /* VM MACs */
    double rate_bps;            /* smoothed, deduplicated */
    double norm;                /* rate / largest directed rate */
    double current_bps;         /* the smoothed rate, or the recent one
                                   (over idle_s) when lower */
};

/* Copies up to 'max' entries of the current smoothed matrix with norm >=
 * matrix_min_frac (and a rate above 0) into 'out', in no particular order,
 * and returns how many there are in all.  '*max_bps' (if not NULL) gets
 * the largest directed rate. */
size_t vttif_tm_matrix(vttif_tm_t *self, struct vttif_tm_rate *out,
                       size_t max, double *max_bps);

/* Per-VM totals of the deduplicated matrix. */
struct vttif_tm_vm_total {
    uint64_t mac;
    char agent_id[VTTIF_TM_ID_LEN]; /* where it is located, else the agent
                                       that reports its traffic, else "" */
    double tx_bps;              /* sum of its rates as a source */
    double rx_bps;              /* sum of its rates as a destination */
};

/* Copies up to 'max' VM totals (every VM located or seen in a pair) into
 * 'out', from the current smoothed matrix, and returns how many there are
 * in all. */
size_t vttif_tm_vm_totals(vttif_tm_t *self, struct vttif_tm_vm_total *out,
                          size_t max);

/* An agent the module knows. */
struct vttif_tm_agent_info {
    char id[VTTIF_TM_ID_LEN];
    uint64_t boot_id;
    double period_s;            /* as last announced */
    double first_seen;          /* 'now' of its first message used */
    double last_seen;           /* 'now' of its last message used */
    uint64_t n_updates;         /* messages used */
    uint32_t n_reports;         /* pairs it reports */
};

/* Copies up to 'max' agents into 'out' and returns how many there are. */
size_t vttif_tm_agents(const vttif_tm_t *self,
                       struct vttif_tm_agent_info *out, size_t max);

/* Counters for the status reply (proto vr.Counter).  All monotonic
 * except those marked gauge. */
struct vttif_tm_counters {
    uint64_t updates;           /* local matrices used */
    uint64_t entries;           /* their entries */
    uint64_t stale;             /* duplicated or older messages ignored */
    uint64_t rejected;          /* messages with a bad id, or no room */
    uint64_t entries_skipped;   /* zero/group MAC, src == dst, repeated */
    uint64_t entries_dropped;   /* no room for a new report */
    uint64_t baselines;         /* reports started (no rate yet) */
    uint64_t resets_boot;       /* agents seen with a new boot id */
    uint64_t resets_counter;    /* reports whose counter went down */
    uint64_t entries_implausible; /* deltas over max_rate_bps: baselines */
    uint64_t clock_jumps;       /* agent clocks that went far back */
    uint64_t gaps;              /* updates over 1.5 periods after the last */
    uint64_t onsets;            /* idle pairs whose traffic started */
    uint64_t agents_new;        /* agents first seen */
    uint64_t agents_aged;       /* agents aged out */
    uint64_t reports_aged;      /* reports no longer listed, forgotten */
    uint64_t locations;         /* location messages used */
    uint64_t pairs_evicted;     /* idle pairs evicted to make room */
    uint64_t pairs_refused;     /* new pairs refused: full, none idle */
    uint64_t vms_evicted;       /* VMs evicted to make room */
    uint64_t vms_refused;       /* new VMs refused: full, all in pairs */
    uint64_t vms_aged;          /* locations not renewed, forgotten */
    uint64_t ticks;
    uint64_t flips;             /* edges entering or leaving candidates */
    uint64_t events;            /* topology events */
    uint64_t events_union;      /* of which UNION */
    uint64_t n_agents;          /* gauge */
    uint64_t n_reports;         /* gauge: (agent, directed pair) */
    uint64_t n_pairs;           /* gauge: undirected pairs */
    uint64_t n_pairs_multi;     /* gauge: pairs reported by 2+ agents */
    uint64_t n_vms;             /* gauge */
    uint64_t n_candidates;      /* gauge: edges in the candidate set */
    uint64_t n_edges;           /* gauge: edges published */
};

/* Copies the counters into '*out'. */
void vttif_tm_get_counters(const vttif_tm_t *self,
                           struct vttif_tm_counters *out);

/* Returns a static name for 'change' ("new", "updated", ...). */
const char *vttif_tm_change_name(enum vttif_tm_change change);

#endif /* VTTIF_TM_H */
