/* SPDX-License-Identifier: MIT */
/* The life of a held link: a host link the planner reserves, sets up and
 * carries traffic on, from the moment the core says RESERVE until it is
 * released.  An explicit state machine; every change of state goes
 * through plan_links_apply(), which refuses (and counts) any event its
 * transition table does not allow from the current state:
 *
 *            RESERVE          ACTIVE                WIRED        SWITCHED
 *   NEW ───────────▶ RESERVING ──────▶ SETUP ────────▶ SWITCHING ──────▶ UP
 *    │ ADOPT ─────────▲  │ ▲  │          ▲ ▲ ▲            │ ▲           │ │
 *    │                   │ └──┘ ASKED,   │ │ └─ REWIRE ───┘ └ RULES_ ───┘ │
 *    │ DIRECT            │      NO_REPLY │ │    (agent restarted,  MISSING │
 *    └───────────────────┼───────────────┘ │     link gone)               │
 *                        │ REFUSED, ENDED, │ PATH_LOST (commodity) ◀──────┘
 *                        └─TIMEOUT─────────┘
 *   any state ──RELEASE, VANISHED──▶ GONE (dropped by the caller)
 *
 * A timed-out ResvRequest (NO_REPLY) is not a refusal: the link stays
 * RESERVING and the caller asks again with the same request id, which
 * each held link gets once, when it is made: "vadapt-<nonce>-<n>", the
 * nonce random per planner start, no clock in it, so the broker sees a
 * retry as the same request.  REFUSED, ENDED and TIMEOUT while RESERVING
 * and PATH_LOST later turn the link into a direct commodity link (H - R).
 * VANISHED (the broker no longer has its reservation) ends it so the core
 * plans it afresh.  Pure: no bus, no clock (the caller passes the time),
 * no logging; plan_svc.c does the I/O and feeds the events. */
#ifndef PLAN_LINK_H
#define PLAN_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan_core.h"

enum {
    PLAN_LINK_NAME_LEN = 64,    /* overlay link names (the agents' limit) */
    PLAN_LINK_ID_LEN = 64,      /* request and reservation ids */
    PLAN_LINK_ADDR_LEN = 64,    /* path link addresses */
    PLAN_LINK_VLAN_MAX = 4094,  /* 802.1Q ids 1 to this (4095 reserved) */
    PLAN_LINK_MAX = 4096,       /* held links at most (k is 65536 at most,
                                   but ports and max_adds bound it far
                                   lower in any sane config) */
};

enum plan_link_state {
    PLAN_LINK_NEW,              /* made; nothing asked yet */
    PLAN_LINK_RESERVING,        /* the broker asked (or to be asked again) */
    PLAN_LINK_SETUP,            /* overlay link being made and probed */
    PLAN_LINK_SWITCHING,        /* link up both ways; rules being moved */
    PLAN_LINK_UP,               /* the rules are on it */
    PLAN_LINK_GONE,             /* over: the caller drops it */
    PLAN_LINK_N_STATES
};

enum plan_link_event {
    PLAN_LINK_EV_RESERVE,       /* ask the broker for a path */
    PLAN_LINK_EV_ADOPT,         /* a reservation of ours found at the broker */
    PLAN_LINK_EV_DIRECT,        /* no reservation: a direct commodity link */
    PLAN_LINK_EV_ASKED,         /* the broker answered: reservation id known */
    PLAN_LINK_EV_NO_REPLY,      /* no answer in time: ask again, same id */
    PLAN_LINK_EV_REFUSED,       /* the broker refused: commodity instead */
    PLAN_LINK_EV_ACTIVE,        /* the reservation is active: path known */
    PLAN_LINK_EV_ENDED,         /* it ended before it was active */
    PLAN_LINK_EV_TIMEOUT,       /* RESERVING for too long */
    PLAN_LINK_EV_WIRED,         /* link made and probed from both ends */
    PLAN_LINK_EV_SWITCHED,      /* the VM pairs' rules are on it */
    PLAN_LINK_EV_RULES_MISSING, /* an agent lost some of its rules */
    PLAN_LINK_EV_REWIRE,        /* an agent lost the link: make it again */
    PLAN_LINK_EV_PATH_LOST,     /* the path failed under it: commodity */
    PLAN_LINK_EV_RELEASE,       /* not wanted any more */
    PLAN_LINK_EV_VANISHED,      /* the broker no longer has its reservation */
    PLAN_LINK_N_EVENTS
};

enum plan_link_kind {
    PLAN_LINK_RESERVED,         /* over a reserved path (circuit) */
    PLAN_LINK_COMMODITY,        /* direct, over the commodity network */
};

/* One held link.  Fields are read by the service; states change only
 * through plan_links_apply(). */
struct plan_link {
    char a[PLAN_HOST_LEN];      /* hosts, a < b (strcmp) */
    char b[PLAN_HOST_LEN];
    enum plan_link_kind kind;
    enum plan_link_state state;
    char name[PLAN_LINK_NAME_LEN]; /* the overlay link on both agents:
                                   "vr-<resv_id>" or "vd-<a>-<b>" */
    char request_id[PLAN_LINK_ID_LEN]; /* stable for its whole life */
    char resv_id[PLAN_LINK_ID_LEN]; /* the broker's, once known; "" else */
    int resv_state;             /* vr.ResvState as last heard */
    char addr_a[PLAN_LINK_ADDR_LEN]; /* path link address at a's end */
    char addr_b[PLAN_LINK_ADDR_LEN];
    uint32_t vlan;              /* the path's VLAN circuit at a's end,
                                 * 0: none */
    uint32_t vlan_b;            /* at b's end when the two differ; 0:
                                 * 'vlan' at both */
    uint32_t prefix_len;        /* of addr_a/addr_b, 0: unknown */
    uint32_t tries;             /* set-up attempts in this state */
    uint32_t asks;              /* ResvRequests sent */
    double demand_bps;          /* the core's, for decisions */
    uint64_t t_state_us;        /* when it entered its state */
    uint64_t t_reserve_us;      /* when it was first asked for */
    uint64_t t_active_us;       /* when its path was up */
    uint64_t t_up_us;           /* when this set-up first reached UP; 0
                                   before (the caller sets it) */
    uint64_t next_ask_us;       /* RESERVING, no reply: ask again then */
    uint32_t n_missing;         /* broker lists in a row without its
                                   reservation (the caller counts) */
    uint64_t rules_gen;         /* topology the rules were synced to */
    uint64_t boot_a, boot_b;    /* agents' boots the link was made in */
    uint64_t *rules_a, *rules_b; /* dst MACs sent over it, per side */
    size_t n_rules_a, n_rules_b;
    uint64_t booked_for;        /* the prediction whose booking it took
                                   before its phase was seen; 0: none */
    bool whole_hosts;           /* taken for a known or predicted phase:
                                   every VM of the two hosts goes over it,
                                   not only the pairs with demand */
};

/* The held links, with their counters. */
struct plan_links {
    struct plan_link *v;        /* 'n' links, in no order */
    size_t n;
    size_t max;                 /* cap: plan_links_add() refuses beyond */
    uint64_t nonce;             /* random per start: in request ids */
    uint64_t next_seq;          /* of request ids */
    uint64_t n_transitions;     /* legal events applied */
    uint64_t n_illegal;         /* events refused by the table */
    uint64_t n_full;            /* adds refused: cap reached */
};

/* Starts an empty set of at most 'max' links (1 to PLAN_LINK_MAX; 0:
 * PLAN_LINK_MAX) whose request ids carry 'nonce'. */
void plan_links_init(struct plan_links *self, size_t max, uint64_t nonce);

/* Frees every link and the array. */
void plan_links_uninit(struct plan_links *self);

/* Adds a NEW link between hosts 'a' and 'b' (either order; each 1 to
 * PLAN_HOST_LEN - 1 characters, distinct) of 'kind', with a fresh request
 * id.  Returns it (valid until the next add or drop), or NULL when a host
 * is bad, the pair is held already, the cap is reached (counted) or
 * memory is short. */
struct plan_link *plan_links_add(struct plan_links *self, const char *a,
                                 const char *b, enum plan_link_kind kind,
                                 uint64_t now_us);

/* Removes 'l' (from this set) and frees its rules.  Pointers into the set
 * are invalid afterwards. */
void plan_links_drop(struct plan_links *self, struct plan_link *l);

/* Finds a link by its hosts (either order), its reservation id, its
 * request id, or its overlay link name; NULL if none ("" never matches). */
struct plan_link *plan_links_find(const struct plan_links *self,
                                  const char *a, const char *b);
struct plan_link *plan_links_by_resv(const struct plan_links *self,
                                     const char *resv_id);
struct plan_link *plan_links_by_request(const struct plan_links *self,
                                        const char *request_id);
struct plan_link *plan_links_by_name(const struct plan_links *self,
                                     const char *name);

/* Links in 'state'. */
size_t plan_links_count(const struct plan_links *self,
                        enum plan_link_state state);

/* The state 'ev' leads to from 'from', or -1 if the table forbids it. */
int plan_link_next(enum plan_link_state from, enum plan_link_event ev);

/* Applies 'ev' to 'l' at 'now_us': if the table allows it, moves 'l' to
 * the next state and does what the event means to the record (a
 * commodity fallback forgets the reservation and renames the link; a
 * new set-up forgets the wiring; and so on), counts it and returns 0.
 * Otherwise changes nothing, counts it in n_illegal and returns -1.
 * ASKED takes 'resv_id' (bounded, non-empty: else refused as illegal);
 * other events ignore it. */
int plan_links_apply(struct plan_links *self, struct plan_link *l,
                     enum plan_link_event ev, const char *resv_id,
                     uint64_t now_us);

/* Stores the path's link addresses, 'addr_a' at host 'resv_host_a''s end
 * (the reservation's host_a, which may be our b).  Values too long or
 * NULL are stored as "".  For ACTIVE reservations, before EV_ACTIVE. */
void plan_link_set_path(struct plan_link *l, const char *resv_host_a,
                        const char *addr_a, const char *addr_b);

/* Stores the path's VLANs from a reservation: 'vlan' at host
 * 'resv_host_a''s end (the reservation's host_a, which may be our b),
 * 'vlan_b' at the other's when they differ (0: 'vlan' at both; each 1 to
 * PLAN_LINK_VLAN_MAX, 'vlan' 0: none), and the prefix length of its link
 * addresses ('prefix_len', 0 to 32).  Returns true; false when one is out
 * of range (the link then holds no VLAN). */
bool plan_link_set_circuit(struct plan_link *l, const char *resv_host_a,
                           uint32_t vlan, uint32_t vlan_b,
                           uint32_t prefix_len);

/* The VLAN of link 'l' at end 'i' (0: a, 1: b); 0: none. */
uint32_t plan_link_vlan_at(const struct plan_link *l, int i);

/* The overlay link name the planner gives a reservation ("vr-<resv_id>")
 * or a commodity pair ("vd-<a>-<b>", a < b), into 'out' (size
 * PLAN_LINK_NAME_LEN).  Returns false when it does not fit. */
bool plan_link_name_resv(const char *resv_id, char *out);
bool plan_link_name_direct(const char *a, const char *b, char *out);

/* Static names for logs and status ("reserving", "asked"...; "?"). */
const char *plan_link_state_name(enum plan_link_state s);
const char *plan_link_event_name(enum plan_link_event ev);

#endif /* PLAN_LINK_H */
