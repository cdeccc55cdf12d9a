/* SPDX-License-Identifier: MIT */
/* The broker's state in SQLite: every reservation and the history of its
 * transitions.  WAL journal, synchronous=FULL, one transaction per
 * transition that writes the new state and its history row together and
 * checks the move against resv_fsm first, so what is on disk is always a
 * legal history and a restart finds every path the broker ever asked for.
 * The broker publishes an event only after its transition is committed.
 * Every read checks why SQLite stopped: an error is an error, never a
 * shorter answer; the journal must be WAL or the store does not open. */
#ifndef RESV_STORE_H
#define RESV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msgtype.h"

/* One reservation, with its own storage (no pointers to free). */
struct resv_rec {
    char id[32];                /* "r-17", given by the store */
    char host_a[64];            /* overlay hosts (agent ids) */
    char host_b[64];
    double bandwidth_mbps;
    double latency_ms;
    Vr__ResvState state;
    char path_id[64];           /* the adapter's, once asked */
    char network[64];           /* the reservable network */
    char owner[64];             /* who asked */
    char request_id[96];        /* caller's idempotency key, may be "" */
    uint64_t created_us;
    uint64_t updated_us;
    char error[256];            /* why FAILED */
    char addr_a[64];            /* link address at each end, when ACTIVE */
    char addr_b[64];
    uint64_t start_us;          /* booked start (wall clock); 0: at once */
    uint64_t end_us;            /* booked end; 0: until released */
    uint32_t vlan;              /* the path's VLAN, 1 to
                                 * RESV_STORE_VLAN_MAX; 0: none */
    uint32_t vlan_b;            /* host_b's VLAN when the two ends have
                                 * two; 0: 'vlan' at both */
    uint32_t link_prefix_len;   /* of addr_a/addr_b; 0: unknown */
};

/* What an ACTIVE reservation's hosts need of its path: link addresses
 * (NULL: unchanged), VLANs and prefix length (negative: unchanged). */
struct resv_link {
    const char *addr_a, *addr_b;
    int vlan, vlan_b, prefix_len;
};

/* The largest VLAN id a path may carry (802.1Q: 4095 is reserved). */
#define RESV_STORE_VLAN_MAX 4094

/* One row of a reservation's history. */
struct resv_hist {
    Vr__ResvState from;
    Vr__ResvState to;
    uint64_t time_us;
    char reason[256];
};

/* Return values beyond 0 and -1. */
enum {
    RESV_STORE_NOT_FOUND = 1,   /* no such reservation */
    RESV_STORE_ILLEGAL = 2,     /* the transition is not allowed */
};

typedef struct resv_store resv_store_t;

/* Opens, or creates, the store at 'path' (":memory:" for tests) and checks
 * its schema.  Logs the reason and returns NULL on failure.  The caller
 * owns the result. */
resv_store_t *resv_store_new(const char *path);

/* Frees '*self_p' if not NULL, then sets it to NULL. */
void resv_store_destroy(resv_store_t **self_p);

/* Stores a new reservation from '*rec' (hosts, figures, network, owner,
 * request id, start and end) in state REQUESTED, or SCHEDULED if its start
 * is still to come, with history row UNKNOWN -> that state and
 * 'reason'.  Fills rec->id, state and times.  Returns 0, or -1 (logged;
 * e.g. a request id already used). */
int resv_store_insert(resv_store_t *self, struct resv_rec *rec,
                      const char *reason);

/* Moves reservation 'id' to state 'to' with 'reason', in one transaction
 * with its history row, if resv_fsm allows it.  'path_id', 'error',
 * 'addr_a' and 'addr_b' (each may be NULL: unchanged) are stored with it.
 * On success fills '*out' (may be NULL) with the new record and returns 0;
 * returns RESV_STORE_NOT_FOUND or RESV_STORE_ILLEGAL (nothing changed), or
 * -1 (logged). */
int resv_store_transition(resv_store_t *self, const char *id,
                          Vr__ResvState to, const char *reason,
                          const char *path_id, const char *error,
                          const char *addr_a, const char *addr_b,
                          struct resv_rec *out);

/* resv_store_transition(), storing the path's whole 'link'. */
int resv_store_transition_link(resv_store_t *self, const char *id,
                               Vr__ResvState to, const char *reason,
                               const char *path_id, const char *error,
                               const struct resv_link *link,
                               struct resv_rec *out);

/* Finds by id, by request id or by path id.  Return 0 (filled),
 * RESV_STORE_NOT_FOUND, or -1. */
int resv_store_get(resv_store_t *self, const char *id, struct resv_rec *out);
int resv_store_by_request(resv_store_t *self, const char *request_id,
                          struct resv_rec *out);
int resv_store_by_path(resv_store_t *self, const char *path_id,
                       struct resv_rec *out);

/* Lists reservations, oldest first: all, or only those not final.  Sets
 * '*out' to a malloc'd array (the caller frees it) of '*n' records.
 * Returns 0, or -1 (logged, rate-limited; nothing returned) if the scan
 * did not reach its end: a read error is never a shorter list. */
int resv_store_list(resv_store_t *self, bool include_ended,
                    struct resv_rec **out, size_t *n);

/* One page of resv_store_list(): at most 'max' reservations numbered
 * above 'after_n' (0: from the start).  Sets '*next_n' to the number to
 * pass as 'after_n' for the next page, or 0 when this is the last.
 * Returns as resv_store_list(). */
int resv_store_list_page(resv_store_t *self, bool include_ended,
                         uint64_t after_n, size_t max,
                         struct resv_rec **out, size_t *n,
                         uint64_t *next_n);

/* The number 'n' of reservation id "r-<n>", or 0 if 'id' is not one. */
uint64_t resv_store_id_number(const char *id);

/* The history of 'id', oldest first, as resv_store_list() returns. */
int resv_store_history(resv_store_t *self, const char *id,
                       struct resv_hist **out, size_t *n);

/* Counts reservations that are not final and have 'host' at either end
 * ('host' NULL: any) and are on 'network' ('network' NULL: any).
 * Returns 0 or -1 (logged, rate-limited). */
int resv_store_count_open(resv_store_t *self, const char *host,
                          const char *network, size_t *n);

/* The reservations whose time came at 'now_us' (wall clock): SCHEDULED
 * ones whose start is due, and REQUESTED, PROVISIONING or ACTIVE ones
 * whose end is due; at most 'max', oldest first, as resv_store_list()
 * returns them. */
int resv_store_due(resv_store_t *self, uint64_t now_us, size_t max,
                   struct resv_rec **out, size_t *n);

/* Counts every reservation by state into 'by_state[state]' for states
 * below 'n_states' (zeroed first).  Returns 0 or -1. */
int resv_store_count_by_state(resv_store_t *self, size_t *by_state,
                              size_t n_states);

/* Deletes at most 'max' reservations that ended (RELEASED or FAILED)
 * before 'before_us' (wall clock, as updated_us), oldest first, with
 * their history, in one transaction.  Sets '*n_deleted'.  Returns 0 or
 * -1 (nothing deleted). */
int resv_store_purge(resv_store_t *self, uint64_t before_us, size_t max,
                     size_t *n_deleted);

/* Why the last call that failed did (SQLite's message, e.g. "database or
 * disk is full"); borrowed, valid until the next call. */
const char *resv_store_error(const resv_store_t *self);

/* For tests: the ('n_steps' + 1)-th SQLite step from now, and every one
 * after it, fails as an I/O error would; -1 turns that off. */
void resv_store_fail_after(resv_store_t *self, int n_steps);

#endif /* RESV_STORE_H */
