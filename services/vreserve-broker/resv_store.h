/* SPDX-License-Identifier: MIT */
/* The broker's state in SQLite: every reservation and the history of its
 * transitions.  WAL journal, synchronous=FULL, one transaction per
 * transition that writes the new state and its history row together and
 * checks the move against resv_fsm first, so what is on disk is always a
 * legal history and a restart finds every path the broker ever asked for.
 * The broker publishes an event only after its transition is committed. */
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
};

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

/* Stores a new reservation in state REQUESTED from '*rec' (hosts, figures,
 * network, owner, request id), with history row UNKNOWN -> REQUESTED and
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

/* Finds by id, by request id or by path id.  Return 0 (filled),
 * RESV_STORE_NOT_FOUND, or -1. */
int resv_store_get(resv_store_t *self, const char *id, struct resv_rec *out);
int resv_store_by_request(resv_store_t *self, const char *request_id,
                          struct resv_rec *out);
int resv_store_by_path(resv_store_t *self, const char *path_id,
                       struct resv_rec *out);

/* Lists reservations, oldest first: all, or only those not final.  Sets
 * '*out' to a malloc'd array (the caller frees it) of '*n' records.
 * Returns 0 or -1. */
int resv_store_list(resv_store_t *self, bool include_ended,
                    struct resv_rec **out, size_t *n);

/* The history of 'id', oldest first, as resv_store_list() returns. */
int resv_store_history(resv_store_t *self, const char *id,
                       struct resv_hist **out, size_t *n);

/* Counts reservations that are not final and have 'host' at either end
 * ('host' NULL: any) and are on 'network' ('network' NULL: any). */
int resv_store_count_open(resv_store_t *self, const char *host,
                          const char *network, size_t *n);

#endif /* RESV_STORE_H */
