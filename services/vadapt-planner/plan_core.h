/* SPDX-License-Identifier: MIT */
/* Decision core of the vadapt-planner (VADAPT, paper sections 3 and 3.4):
 * from the aggregator's VM-pair demands and the VM-to-host map it derives
 * the overlay links E between hosts, selects H from E (top-k or a
 * b-matching, exact or greedy), puts each link through hysteresis timers
 * and a cap on new reservations, and diffs the resulting wanted set H'
 * against what the service holds.  A pure library: no bus, no I/O, no
 * clock; the caller passes the time in (uint64 microseconds, monotonic)
 * and does what the returned actions say.  The service around it (main.c and its bus code)
 * turns actions into broker requests and agent commands and publishes
 * each one as a vr.Decision (proto/planner.proto).
 *
 * Inputs.  VMs are MAC addresses in the bus's form: the low 48 bits of a
 * uint64 (common/eth.h converts from 6 bytes).  A demand is an UNDIRECTED
 * VM pair with a rate in bits/s, as in a vr.Topology edge.  Hosts are
 * strings (an agent id or a host IP), 1 to PLAN_HOST_LEN - 1 characters,
 * compared byte for byte.
 *
 * E.  An overlay link is an unordered pair of distinct hosts, stored with
 * host_a < host_b (strcmp).  Its demand is the sum of the rates of the VM
 * pairs whose two VMs sit on its two hosts; it keeps the list of those VM
 * pairs (plan_core_link_pairs()) so the service can move their forwarding
 * rules.  VM pairs within one host, or with a VM of unknown host, are
 * ignored and counted.
 *
 * Live demand.  The aggregator publishes a topology only when its edge set
 * has been stable for a while, and a topology says nothing when traffic
 * stops within it: its rates are those of when it was published.  So with
 * live_max_age_us > 0 a link's demand is its CURRENT rate, the sum over
 * its VM pairs of the rates last given to plan_core_set_live() (the
 * aggregator's live matrix, about every second), provided they are at
 * most live_max_age_us old; the topology only says which pairs and links
 * exist.  When the live rates are older (the aggregator is gone or slow),
 * a link not yet wanted has demand 0, so nothing is reserved on rates
 * nobody can vouch for, while a wanted link keeps its topology demand, so
 * losing the aggregator for a while tears nothing down.  A link whose
 * traffic stopped is therefore never reserved, whatever the last topology
 * said, and a wanted one is released T_down after its traffic stopped.
 *
 * Cost rule (rent or buy).  Once the set-up and teardown times of a
 * link's path are known (plan_core_set_cost(): the service learns them
 * from each network's own history, or takes them from its config), they
 * replace T_up and T_down, which stay as outer bounds:
 *  - reserve once the link has been selected for as long as its path
 *    takes to set up (never less than wait_min_us, never more than
 *    t_up_us).  Demand that has lasted t is expected to last about t more
 *    (a scale-free prior), so from then on a path pays back its set-up;
 *    and it is the ski-rental rule (rent until the rent paid equals the
 *    price, then buy): whatever the demand's duration D, the time its
 *    traffic spends off a path (waiting plus set-up) is at most twice what
 *    a planner knowing D would spend (min(D, set-up)).
 *  - release a wanted link once it has been out of the selection for its
 *    break-even time, (set-up + teardown) / hold_cost (same bounds, with
 *    t_down_us): holding an idle path costs hold_cost seconds of set-up
 *    per second, and releasing one whose demand comes back costs a set-up
 *    and a teardown.  Keeping it exactly the break-even time is again the
 *    ski-rental rule: whenever the demand comes back, or never, the cost
 *    paid is at most twice the cost of the better of the two choices made
 *    knowing the future.  So a 50 ms netns path is held a second at least
 *    and an OMNInet lambda (17.5 s) up to T_down.
 * A link with no cost known keeps T_up and T_down as they are.
 *
 * Selection of H.  A link is eligible if its demand is > 0 and at least
 * min_demand_bps, or, while it is wanted, at least release_bps (a band,
 * release_bps <= min_demand_bps, so a wanted link is not dropped for a
 * small dip under the entry threshold).  Eligible links are ranked by
 * demand, descending, ties by (host_a, host_b) ascending, so the result is
 * deterministic.
 *  - PLAN_POLICY_TOP_K: the first k eligible links (the paper's rule).  Port
 *    limits are ignored, so a host may get more links than it has ports.
 *  - PLAN_POLICY_B_MATCHING: each host h may carry at most b(h) links
 *    (default_ports, or its entry in port_limits).  Walking the ranking, a
 *    link is taken if both its hosts still have a free port, and, if k > 0,
 *    fewer than k links are taken.  Without the k cap this greedy is a
 *    1/2-approximation of the maximum-weight b-matching: its total demand
 *    is at least half the optimum's (tests/unit/test_plan_core.c checks it
 *    against brute force).  With a k cap no such bound is claimed.
 *    With 'exact' set and at most exact_max_links eligible links, H is
 *    instead a maximum-weight b-matching of the eligible links weighted
 *    by their ranks, under the same port limits and k cap, solved by
 *    plan_match_exact() within a budget of about 20 ms of one core
 *    (past it the best found, never lighter than the greedy's, counted
 *    in exact_unproven); the same problem as at the last call (no rank
 *    moved) is not solved again.  Over exact_max_links eligible links,
 *    or if memory is short, the greedy runs (counted).  'exact' is on by
 *    default; the greedy is the fast fallback.
 *
 * Hysteresis.  A link becomes WANTED once it has been selected without a break
 * for t_up_us; until then each tick reports it as DEFER.  A wanted link stops
 * being wanted once it has been out of the selection (not ranked in, or demand
 * under release_bps, or gone from E) without a break for t_down_us; until then
 * it is kept (a DEFER says the release waits).  A selection that breaks before
 * t_up_us restarts the wait, unless it lasts at most select_grace_us: a
 * BSP job's TCP flows on a crowded commodity network stall for a second
 * or two (retransmission timeouts) and the live rates show 0 for a
 * period, which is no end of the demand; the wait then counts from the
 * selection before the break (0 gives the paper's rule: any break
 * restarts it).  A dip shorter than t_down_us changes nothing.  A
 * selected link the service already holds is wanted at once (adopted): it
 * costs no set-up.  Under b-matching a link whose t_up_us is met is made
 * wanted only if both its hosts have a port that no wanted or held link uses,
 * so a link still waiting out its t_down_us keeps its port and the newcomer
 * waits (DEFER) for it: on a host with one port, the old path is released, and
 * the new one is reserved at the first tick after the service no longer holds
 * the old one (break-before-make, forced).  Under top-k the wanted set may
 * hold more than k links while old ones wait out t_down_us.
 *
 * Diff and make-before-break.  plan_core_tick() takes the set H the
 * service holds (reserved, being reserved, or with an overlay link
 * created) and returns RESERVE for each link in H' - H and RELEASE for
 * each link in H - H'.  A wanted link that has left the selection is kept
 * if held but never newly reserved.  RESERVE actions come before RELEASE
 * actions in the array; the service must carry them out in that order:
 * create the new links and move the VM pairs' rules onto them first, and
 * only then remove the old links and release their reservations, so that
 * traffic always has a path (the paper's H u H', then H - H' removed).
 *
 * Thrash cap.  At most max_adds RESERVE actions are issued per sliding
 * add_window_us.  A RESERVE counts when it is issued, whether or not the
 * broker grants it; a link the service failed to reserve is offered again
 * at a later tick, so the cap also limits retries.  Over the cap, the
 * lowest-demand additions are reported as THROTTLE each tick until a slot
 * frees; none is dropped silently.
 *
 * Restart.  After a restart the service calls plan_core_seed() for every
 * link it still holds (the broker's active reservations).  A seeded link
 * is wanted from the seed time on, without a RESERVE and without using a
 * slot of the cap; if the next topologies do not select it, it is released
 * t_down_us after the seed.
 *
 * Cost.  plan_core_set_topology() is O(p log p + v log v) for p VM pairs
 * and v VMs (the sort of p is per host, the VMs are found by hash);
 * plan_core_set_live() is O(r + p) for r rates; plan_core_tick() is
 * O(l + c log c + h log h) for l links, c of them with a rank moved
 * since the last call (all of them after new rates), and h held links.
 * At 1,000 hosts, 10,000 VMs and 40,000 VM pairs (about 38,000 links,
 * tests/bench/plan_core.c) that is about 15 ms for new rates and the
 * tick after them, 7 ms for a tick alone and 25 ms for a topology and
 * its tick.  All three allocate; none is meant for a hot path. */
#ifndef PLAN_CORE_H
#define PLAN_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults, and why.
 * - top-k, k 4: the paper's rule; four reserved paths is what a small
 *   testbed like OMNInet offers.
 * - 1 port per host: each host has one interface on the reservable net.
 * - min demand 10 Mbit/s, release 5 Mbit/s: a path is only worth its
 *   seconds of set-up for a flow a fair share of the 100 Mbit/s commodity
 *   net carries; chatter never gets one.  The band keeps a link whose flow
 *   wobbles around 10 Mbit/s.
 * - T_up 10 s: a path costs ~17.5 s to set up (2.5 s + 15 s on OMNInet),
 *   so only demand that outlasts a pattern switch of the aggregator's
 *   (~4 s) earns one.
 * - T_down 30 s: a BSP code's pattern often comes back within tens of
 *   seconds; tearing down and redoing a path costs more than holding it.
 * - 4 new reservations per 60 s: enough for a whole new pattern on a small
 *   testbed at once, too few to flap paths. */
#define PLAN_DEFAULT_POLICY PLAN_POLICY_TOP_K
#define PLAN_DEFAULT_K 4
#define PLAN_DEFAULT_PORTS 1
#define PLAN_DEFAULT_MIN_DEMAND_BPS 10e6
#define PLAN_DEFAULT_RELEASE_BPS 5e6
#define PLAN_DEFAULT_KEEP_BONUS 0.1
#define PLAN_DEFAULT_T_UP_US UINT64_C(10000000)
#define PLAN_DEFAULT_T_DOWN_US UINT64_C(30000000)
#define PLAN_DEFAULT_MAX_ADDS 4
#define PLAN_DEFAULT_ADD_WINDOW_US UINT64_C(60000000)
/* Cost rule: an idle path held a second costs a second of set-up; no wait
 * under a second (the live rates move once a second). */
#define PLAN_DEFAULT_HOLD_COST 1.0
#define PLAN_DEFAULT_WAIT_MIN_US UINT64_C(1000000)
/* Two periods of the live rates without traffic bridged (see Hysteresis). */
#define PLAN_DEFAULT_SELECT_GRACE_US UINT64_C(2000000)
/* The aggregator publishes its matrix every second: three periods. */
#define PLAN_DEFAULT_LIVE_MAX_AGE_US UINT64_C(3000000)
/* Exact selection: on, up to 200 eligible links, where on random
 * graphs shaped like the planner's the exact solve costs 0.03 to 2 ms on
 * average (27 ms on dense meshes) and at most the core's budget, about
 * 20 ms (greedy: 0.03 ms), and gains 2 to 10% of total demand
 * (tests/bench/plan_match.sh); the bed's 4 to 8 hosts take 0.03 ms. */
#define PLAN_DEFAULT_EXACT true
#define PLAN_DEFAULT_EXACT_MAX_LINKS 200

enum {
    PLAN_HOST_LEN = 64,         /* host names, NUL included */
    PLAN_REASON_LEN = 256,      /* action reasons, NUL included */
    PLAN_MAX_K = 65536,         /* bound of k */
    PLAN_MAX_PORTS = 65536,     /* bound of a host's ports */
    PLAN_MAX_ADDS = 4096,       /* bound of max_adds */
    PLAN_MAX_COSTS = 4096,      /* links with a cost of their own */
    PLAN_MAX_EXACT_LINKS = 100000, /* bound of exact_max_links */
};

enum plan_policy {
    PLAN_POLICY_TOP_K = 0,      /* the k highest-demand links */
    PLAN_POLICY_B_MATCHING = 1, /* b-matching under port limits */
};

/* Kinds of action; the numbers are vr.DecisionKind's. */
enum plan_kind {
    PLAN_KIND_PLAN = 1,         /* the selection H changed */
    PLAN_KIND_RESERVE = 2,      /* link in H' - H: reserve and create it */
    PLAN_KIND_RELEASE = 3,      /* link in H - H': remove and release it */
    PLAN_KIND_DEFER = 7,        /* waiting: T_up, T_down or a port */
    PLAN_KIND_THROTTLE = 8,     /* wanted, but the add cap is reached */
};

/* A host's own number of reservable ports (b(h)) under b-matching. */
struct plan_port_limit {
    const char *host;           /* host name */
    uint32_t ports;             /* 0 to PLAN_MAX_PORTS; 0: never reserved */
};

/* Every knob of the module.  Times in microseconds, rates in bits/s. */
struct plan_params {
    enum plan_policy policy;    /* how H is selected */
    uint32_t k;                 /* top-k: links in H, >= 1; b-matching:
                                   cap on links in H, 0 for none */
    uint32_t default_ports;     /* b(h) of hosts not in 'port_limits' */
    const struct plan_port_limit *port_limits; /* per-host b(h); copied
                                   by plan_core_new()/set_params() */
    size_t n_port_limits;
    double min_demand_bps;      /* a link below this is never selected */
    double release_bps;         /* a wanted link below this is out */
    uint64_t t_up_us;           /* selected this long before wanted */
    uint64_t t_down_us;         /* out this long before not wanted */
    uint32_t max_adds;          /* RESERVEs per window; 0: no cap */
    uint64_t add_window_us;     /* the sliding window of the cap */
    double keep_bonus;          /* a wanted link ranks as if its demand
                                   were (1 + keep_bonus) times larger, so a
                                   path is not traded for one barely
                                   busier; in [0, 10] */
    double hold_cost;           /* cost rule: holding an idle path for a
                                   second costs this many seconds of
                                   set-up; in (0, 1000] */
    uint64_t wait_min_us;       /* cost rule: no wait shorter than this */
    uint64_t select_grace_us;   /* a break of the selection this short
                                   does not restart the wait (see
                                   Hysteresis); at most a minute */
    uint64_t live_max_age_us;   /* live demand: rates older than this do
                                   not count (see Live demand); 0: the
                                   topology's rates count, however old */
    bool exact;                 /* b-matching: exact selection, not the
                                   greedy (see Selection of H) */
    uint32_t exact_max_links;   /* exact: at most this many eligible
                                   links, greedy above; 1 to
                                   PLAN_MAX_EXACT_LINKS */
};

/* Fills 'p' with the defaults above (no port limits). */
void plan_params_default(struct plan_params *p);

/* Returns true if every field of 'p' is in range and consistent
 * (release_bps <= min_demand_bps, port limit hosts valid and not
 * repeated, and so on); otherwise false, with a sentence naming the field
 * and quoting its value in 'err' ('err_size' bytes, may be 0). */
bool plan_params_check(const struct plan_params *p, char *err,
                       size_t err_size);

typedef struct plan_core plan_core_t;

/* Creates an empty core with 'params' (NULL: the defaults), copied,
 * port limits included.  Returns NULL if the params are invalid or memory
 * is short.  The caller owns the result. */
plan_core_t *plan_core_new(const struct plan_params *params);

/* Frees '*self_p' if it is not NULL, then sets it to NULL. */
void plan_core_destroy(plan_core_t **self_p);

/* Replaces the params (a config reload); they apply from the next call.
 * Timers keep running; the times of recent RESERVEs are kept, as many as
 * the new cap counts.  Returns 0, or -1 and changes nothing if 'params'
 * is invalid or memory is short. */
int plan_core_set_params(plan_core_t *self, const struct plan_params *params);

/* The params in use, borrowed until the next plan_core_set_params(); its
 * 'port_limits' point into the core. */
const struct plan_params *plan_core_get_params(const plan_core_t *self);

/* One demand: an undirected VM pair (vr.TopologyEdge). */
struct plan_vm_pair {
    uint64_t a, b;              /* VM MACs, low 48 bits */
    double rate_bps;            /* both directions together, >= 0 */
};

/* Where a VM runs (vr.VmLocation). */
struct plan_vm_host {
    uint64_t mac;               /* VM MAC, low 48 bits */
    const char *host;           /* host name, borrowed for the call */
};

/* Replaces the demands with a new topology at 'now_us': 'pairs' are all
 * the VM pairs with demand ('n_pairs'), 'vms' where each VM runs.  Derives
 * E, keeping the timers of links that stay, forgetting links that left E
 * unless they are wanted (those stay with demand 0), and recomputes the
 * selection.  Ignored and counted: pairs with a zero MAC, a == b, a rate
 * that is negative or not finite; pairs within one host or with a VM of
 * unknown host; a pair given twice (the larger rate counts); VMs with a
 * bad host name.  A VM given twice counts where it was given last.
 * Borrows both arrays for the call only.  Returns 0, or -1 when memory is
 * short (then nothing changed). */
int plan_core_set_topology(plan_core_t *self, uint64_t now_us,
                           const struct plan_vm_pair *pairs, size_t n_pairs,
                           const struct plan_vm_host *vms, size_t n_vms);

/* Gives the current rates at 'now_us' (the aggregator's live matrix, see
 * Live demand): each entry one direction of a VM pair, src in 'a', dst in
 * 'b', its current rate in bits/s; both directions of a pair add up.  A
 * pair not listed has no traffic now.  Replaces the rates given before.
 * Ignored and counted (live_bad): a zero MAC, a == b, a rate negative or
 * not finite.  Borrows 'rates' for the call only.  Returns 0, or -1 when
 * memory is short (then nothing changed). */
int plan_core_set_live(plan_core_t *self, uint64_t now_us,
                       const struct plan_vm_pair *rates, size_t n_rates);

/* Sets how long a path between hosts 'a' and 'b' (either order) takes to
 * set up and to tear down (see Cost rule); with 'a' and 'b' NULL, the
 * default for links without a cost of their own.  A set-up of 0 forgets
 * the cost (T_up and T_down again).  Kept for at most PLAN_MAX_COSTS
 * links; when full, the cost of a link the core no longer knows makes
 * room, else the call fails.  Returns 0, or -1 for a bad host name,
 * a == b, times over a day, or no room. */
int plan_core_set_cost(plan_core_t *self, const char *a, const char *b,
                       uint64_t setup_us, uint64_t teardown_us);

/* Marks the link between hosts 'a' and 'b' (either order) as held and
 * wanted since 'now_us', without a RESERVE (restart safety: call it for
 * every link the broker still has an active reservation for, before the
 * first tick).  Adds the link with demand 0 if it is not in E.  Returns
 * 0, or -1 for a bad host name, a == b, or when memory is short. */
int plan_core_seed(plan_core_t *self, const char *a, const char *b,
                   uint64_t now_us);

/* As plan_core_seed(), and the link stays wanted at least until
 * 'until_us' whatever its demand: a held link a phase known or predicted
 * to start then will use, or one whose traffic waits for an agent that
 * restarted, kept rather than released by the cost rule and set up
 * again.  plan_core_unseed() takes it back (the phase did not
 * come).  Returns as plan_core_seed(). */
int plan_core_keep(plan_core_t *self, const char *a, const char *b,
                   uint64_t now_us, uint64_t until_us);

/* Takes back a plan_core_seed() of the link between 'a' and 'b' (a path
 * taken for a predicted phase that then did not come): if the link is
 * wanted only through the seed and is not selected, it stops being
 * wanted, and the next tick releases it if it is held.  Returns 1 if it
 * stopped being wanted, 0 if it stays (selected, or wanted by demand, or
 * unknown), -1 for a bad host name or a == b. */
int plan_core_unseed(plan_core_t *self, const char *a, const char *b);

/* The service did not act on a RESERVE issued at 'now_us' (it cannot
 * yet: see plan_svc.c): the slot of the cap it took is given back, and
 * the link is offered again at a later tick.  Returns 0, or -1 if no
 * RESERVE was counted at 'now_us'. */
int plan_core_unreserve(plan_core_t *self, uint64_t now_us);

/* A link the service holds, as given to plan_core_tick(). */
struct plan_link_key {
    const char *host_a;         /* either order; borrowed for the call */
    const char *host_b;
};

/* One action, or one decision to publish (vr.Decision). */
struct plan_action {
    enum plan_kind kind;
    char host_a[PLAN_HOST_LEN]; /* host_a < host_b; "" for PLAN */
    char host_b[PLAN_HOST_LEN];
    double demand_bps;          /* the link's; PLAN: H's total */
    uint32_t n_vm_pairs;        /* VM pairs the link carries */
    bool is_new;                /* false when the previous tick reported
                                   the same kind for the same reason:
                                   publish only new ones to avoid spam */
    char reason[PLAN_REASON_LEN]; /* why, with the numbers */
};

/* The output of plan_core_tick(), borrowed until the next call into the
 * core.  'v' lists, in this order: at most one PLAN, the RESERVEs, the
 * RELEASEs, the THROTTLEs, the DEFERs; each group by demand, descending. */
struct plan_actions {
    const struct plan_action *v;
    size_t n;                   /* all actions */
    size_t n_reserve;           /* of which RESERVE: |H' - H| allowed */
    size_t n_release;           /* of which RELEASE: |H - H'| */
    size_t n_throttle;          /* of which THROTTLE */
    size_t n_defer;             /* of which DEFER */
};

/* Advances time to 'now_us' (a time before the last one counts as the
 * last one): recomputes the selection, runs the hysteresis timers, and
 * diffs the wanted set H' against 'held' ('n_held' links the service holds
 * or is reserving; repeats are ignored), applying the add cap.  Fills
 * '*out' (see struct plan_actions).  Each RESERVE issued takes a slot of
 * the cap.  Call it about every second, and after each
 * plan_core_set_topology().  Returns 0, or -1 when memory is short (then
 * '*out' is empty and no timer moved). */
int plan_core_tick(plan_core_t *self, uint64_t now_us,
                   const struct plan_link_key *held, size_t n_held,
                   struct plan_actions *out);

/* A link the core knows: in E, or wanted. */
struct plan_link_info {
    char host_a[PLAN_HOST_LEN]; /* host_a < host_b */
    char host_b[PLAN_HOST_LEN];
    double demand_bps;          /* sum over its VM pairs; 0 if not in E */
    uint32_t n_vm_pairs;
    bool in_e;                  /* in the last topology */
    bool selected;              /* in H as of the last call */
    bool wanted;                /* in H' */
    bool seeded;                /* wanted through plan_core_seed() */
    uint64_t since_us;          /* selected: since when without a break;
                                   wanted and not selected: out since */
};

/* Copies up to 'max' links into 'out', sorted by (host_a, host_b), and
 * returns how many there are in all. */
size_t plan_core_links(const plan_core_t *self, struct plan_link_info *out,
                       size_t max);

/* The same for the selected links only (H as of the last call), in the
 * same order: copies up to 'max' and returns how many there are. */
size_t plan_core_selected(const plan_core_t *self,
                          struct plan_link_info *out, size_t max);

/* Copies up to 'max' VM pairs the link between 'a' and 'b' (either order)
 * carries into 'out', each oriented so that 'a' of the pair runs on the
 * link's host_a, sorted by (a, b), and returns how many there are in all;
 * 0 for an unknown link. */
size_t plan_core_link_pairs(const plan_core_t *self, const char *a,
                            const char *b, struct plan_vm_pair *out,
                            size_t max);

/* Counters for the status reply (proto vr.Counter).  All monotonic
 * except those marked gauge. */
struct plan_counters {
    uint64_t topologies;        /* plan_core_set_topology() calls used */
    uint64_t pairs;             /* VM pairs given */
    uint64_t pairs_bad;         /* zero MAC, a == b, bad rate */
    uint64_t pairs_intra_host;  /* both VMs on one host */
    uint64_t pairs_unknown_host; /* a VM not in the VM map */
    uint64_t pairs_duplicate;   /* a VM pair given twice */
    uint64_t vms_bad;           /* bad host name */
    uint64_t vms_duplicate;     /* a VM given twice */
    uint64_t ticks;
    uint64_t clock_back;        /* a 'now' before the last one */
    uint64_t plans;             /* PLAN actions: changes of H */
    uint64_t reserves;          /* RESERVE actions */
    uint64_t releases;          /* RELEASE actions */
    uint64_t throttled;         /* THROTTLE actions */
    uint64_t deferred;          /* DEFER actions */
    uint64_t promoted;          /* links that became wanted */
    uint64_t demoted;           /* links that stopped being wanted */
    uint64_t seeded;            /* plan_core_seed() calls used */
    uint64_t live;              /* plan_core_set_live() calls used */
    uint64_t live_bad;          /* live rates ignored: see there */
    uint64_t stale;             /* selections that found the live rates
                                   too old for a link not yet wanted */
    uint64_t exact;             /* exact selections solved (the problem
                                   just solved, seen again, is not) */
    uint64_t exact_unproven;    /* of which the budget cut short */
    uint64_t exact_greedy;      /* greedy instead: too many eligible links
                                   or memory short */
    uint64_t n_links;           /* gauge: links known */
    uint64_t n_selected;        /* gauge: |H| */
    uint64_t n_wanted;          /* gauge: |H'| */
};

/* With 'on', every later call computes from scratch what it otherwise
 * keeps up to date (the ranking sorted whole, each VM pair's current rate
 * found by sorting the rates, each host looked up by name): the same
 * decisions, only slower.  For tests and benchmarks, which compare both
 * ways; off by default. */
void plan_core_set_from_scratch(plan_core_t *self, bool on);

/* Copies the counters into '*out'. */
void plan_core_get_counters(const plan_core_t *self,
                            struct plan_counters *out);

/* Returns a static name for 'kind' ("plan", "reserve", ...). */
const char *plan_kind_name(enum plan_kind kind);

/* Returns a static name for 'policy' ("top-k" or "b-matching", as in
 * vr.Plan), or NULL. */
const char *plan_policy_name(enum plan_policy policy);

/* Parses "top-k" or "b-matching" into '*policy'; returns true if valid. */
bool plan_policy_parse(const char *s, enum plan_policy *policy);

#endif /* PLAN_CORE_H */
