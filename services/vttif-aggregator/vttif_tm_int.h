/* SPDX-License-Identifier: MIT */
/* Private to the two halves of the VTTIF inference core, vttif_tm.c
 * (rates: agents' cumulative matrices in, a smoothed and a recent rate
 * per VM pair out) and vttif_topo.c (topology: candidate edges from
 * those rates, and the events that publish them): the body of
 * vttif_tm_t, its records, and the few helpers both use.  Nothing else
 * includes it. */
#ifndef VTTIF_TM_INT_H
#define VTTIF_TM_INT_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vttif_tm.h"

#define S_NONE UINT32_MAX
#define S_TAG 0x76747466u       /* "vttf" */
#define S_DEAD 0xdeadbeefu

enum {
    S_NB = VTTIF_TM_BUCKETS,    /* must be a power of 2 */
    S_CHANGES = 64,             /* ring of recent changes of the set */
    S_MIN_SLOTS = 64,
    S_EVICT_PROBE = 64,         /* records an eviction looks at, at most */
};

/* Times beyond this (seconds, ~31,700 years) are garbage: rejected, so
 * that bucket numbers always fit an int64. */
#define S_MAX_TIME 1e12

static_assert((S_NB & (S_NB - 1)) == 0, "buckets: a power of 2");

/* One slot of an index table: a record index and its key's hash. */
struct s_slot {
    uint32_t hash;
    uint32_t idx;               /* S_NONE: empty */
};

/* Open addressing with linear probing and backward-shift deletion, so
 * there are no tombstones and probes stay short under churn. */
struct s_tab {
    struct s_slot *slots;       /* mask + 1 */
    size_t mask;
    size_t n;                   /* slots in use */
};

/* One agent's view of one directed pair. */
struct s_report {
    uint64_t src;               /* source MAC */
    uint64_t dst;               /* destination MAC */
    uint64_t bytes;             /* cumulative counters at the last reading */
    uint64_t frames;
    double ta_last;             /* agent time of the last reading */
    double ta_base;             /* agent time of the baseline */
    double ta_eval;             /* agent time of the last EWMA step */
    double t_seen;              /* 'now' of the last update listing it */
    double ewma;                /* smoothed rate, bits/s, if 'has_rate' */
    double recent;              /* rate over the last idle_s, likewise */
    int64_t b_now;              /* number of the newest bucket */
    float bucket[S_NB];         /* bytes in bucket b at [b & (S_NB-1)] */
    uint32_t agent;             /* index in agents[] */
    uint32_t pair;              /* index in pairs[] */
    uint32_t next_agent;        /* the agent's next report; free list */
    uint32_t prev_agent;        /* the agent's previous report */
    uint32_t next_pair;         /* the pair's next report */
    uint32_t next_listed;       /* the agent listed this one next, last
                                 * time (a guess: see s_report_guess) */
    uint32_t gen;               /* agent update generation last listed in */
    uint32_t epoch;             /* agent counter epoch of the baseline */
    uint32_t hash;
    bool in_use;
    bool has_rate;              /* 'ewma' is a rate */
    bool need_base;             /* next listing is a baseline */
};

/* An undirected pair of VMs: the edge candidate. */
struct s_pair {
    uint64_t mac[2];            /* lo < hi; direction 0 is lo -> hi */
    double rate[2];             /* deduplicated smoothed rates, bits/s */
    double recent[2];           /* their reports' rates over idle_s */
    double cond_t;              /* since when a flip condition holds, or -1 */
    double flip_t;              /* last change of 'in_c', or -inf */
    uint32_t vm[2];             /* indices in vms[] of lo and hi */
    uint32_t reports;           /* head of its reports, both directions */
    uint32_t n_dir[2];          /* how many in each direction */
    uint32_t hash;
    uint32_t next_free;
    bool in_use;
    bool in_c;                  /* in the candidate set */
    bool in_p;                  /* in the published set */
    bool multi;                 /* a direction has 2+ reports */
    bool gone;                  /* left the candidates as it stopped */
};

struct s_vm {
    uint64_t mac;
    char agent[VTTIF_TM_ID_LEN]; /* location, if 'located' */
    double t_touch;             /* last located, or made */
    uint32_t lru_prev, lru_next; /* in the LRU list, by 't_touch' */
    double tx, rx;              /* scratch for vttif_tm_vm_totals() */
    uint32_t tx_agent;          /* scratch: an agent reporting its tx */
    uint32_t n_refs;            /* pairs naming it */
    uint32_t hash;
    uint32_t next_free;
    bool in_use;
    bool located;
};

struct s_agent {
    char id[VTTIF_TM_ID_LEN];
    uint64_t boot_id;
    double period;              /* seconds */
    double t_first, t_last;     /* 'now' of the first, last update used */
    double ta_last;             /* agent time of the last update used */
    double alpha_dt, alpha;     /* EWMA weight cache: alpha for alpha_dt */
    uint64_t n_updates;
    uint32_t reports;           /* head of its reports */
    uint32_t first_listed;      /* the report it listed first, last time
                                 * (a guess) */
    uint32_t n_reports;
    uint32_t gen;               /* update generation */
    uint32_t epoch;             /* bumped when its counters restart */
    uint32_t hash;
    uint32_t next_free;
    bool in_use;
};

struct s_change {
    double t;                   /* tick at which the candidate set changed */
    bool reversal;              /* an edge flipped back within settle_s */
};

enum s_mode { S_NORMAL, S_UNION };

struct vttif_tm {
    uint32_t tag;
    struct vttif_tm_params p;
    double bw;                  /* bucket width: window / S_NB */
    int n_recent;               /* buckets of the recent rate; 0: none */
    uint64_t seed;

    struct s_report *reports;
    size_t reports_cap, reports_hw;
    uint32_t reports_free;
    struct s_tab report_tab;

    struct s_pair *pairs;
    size_t pairs_cap, pairs_hw;
    uint32_t pairs_free;
    struct s_tab pair_tab;
    size_t pair_hand;           /* clock hand of the idle-pair eviction */

    struct s_vm *vms;
    size_t vms_cap, vms_hw;
    uint32_t vms_free;
    struct s_tab vm_tab;
    uint32_t lru_head, lru_tail; /* VMs, most and least recently touched */

    struct s_agent *agents;
    size_t agents_cap, agents_hw;
    uint32_t agents_free;
    struct s_tab agent_tab;

    /* Topology state, as of the last tick. */
    double max_u;               /* scale of the add rule, vttif_topo_scale() */
    double max_cur;             /* scale of the drop rule, likewise */
    double max_d;               /* largest directed rate */
    enum s_mode mode;
    double t_change;            /* last change of the candidate set */
    double t_event;             /* last event */
    double diff_since;          /* candidates != published since, or -1 */
    double union_hold;          /* stability needed to leave the union */
    double t_union_exit;        /* when the union was last left */
    struct s_change changes[S_CHANGES];
    size_t change_head;         /* next slot to write */
    uint64_t version;
    size_t n_c, n_p, n_diff;
    size_t n_out;               /* published, no longer candidates */
    size_t n_out_live;          /* of which left with traffic going on */
    size_t n_pending;           /* pairs with a flip condition holding */
    size_t n_pending_add;       /* of which not candidates */
    double union_due;           /* union rule waiting since, or -1 */

    struct vttif_tm_counters c;
};

/* The pair's current rate: its smoothed rate, but no more than its recent
 * rate.  A pair whose traffic stopped is at its recent rate (about 0)
 * within idle_s, while its smoothed rate takes seconds to drain; a pair
 * whose traffic starts is at its smoothed rate, so it enters no sooner
 * than before.  Noise moves the recent rate by a few percent, and a BSP
 * pause shorter than idle_s only in proportion to its length. */
static inline double
vttif_tm_pair_cur(const vttif_tm_t *self, const struct s_pair *p)
{
    double s = p->rate[0] + p->rate[1], r = p->recent[0] + p->recent[1];
    return self->n_recent && r < s ? r : s;
}

/* True if the pair's traffic stopped (or nearly): over the last idle_s
 * it carried less than drop_frac of its smoothed rate. */
static inline bool
vttif_tm_pair_stopped(const vttif_tm_t *self, const struct s_pair *p)
{
    double s = p->rate[0] + p->rate[1], r = p->recent[0] + p->recent[1];
    return self->n_recent && s > 0 && r < self->p.drop_frac * s;
}

/* Writes 'mac' as "aa:bb:cc:dd:ee:ff" into 'buf' and returns 'buf'. */
char *vttif_tm_mac_str(uint64_t mac, char buf[18]);

/* Frees pair 'pi', which no report names any more (vttif_topo.c frees
 * the pairs it no longer needs, once they have settled). */
void vttif_tm_pair_free(vttif_tm_t *self, uint32_t pi);

#endif /* VTTIF_TM_INT_H */
