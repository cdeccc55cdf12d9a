/* SPDX-License-Identifier: MIT */
/* The adapter's memory across restarts: one SQLite row per path (WAL, each
 * write one transaction with the next path number), and that number, so that after a
 * crash the adapter knows every path it may still hold in the reservation
 * system, and never hands out a path id twice. */
#ifndef ADAPTER_STORE_H
#define ADAPTER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One path as the adapter records it (and the service keeps in memory).
 * States are numbered like vr.PathState. */
struct adapter_path_rec {
    uint64_t n;                 /* path number: path_id is "p-<n>" */
    char path_id[32];
    uint64_t sim_id;            /* sim/netns: the simulator's id */
    char request_id[96];
    char src[64], dst[64];
    double bandwidth_mbps, latency_ms;
    int state;
    char detail[256];           /* backend's view (lambda, route, devices) */
    char backend_ref[192];      /* id inside the backend (ODIN's path id;
                                 * nsi: connection and global ids) */
    char src_link[64], dst_link[64];  /* overlay link addresses */
    uint32_t vlan;              /* a VLAN circuit's 802.1Q id, 1 to
                                 * ADAPTER_VLAN_MAX; 0: none */
    uint32_t vlan_dst;          /* the VLAN at dst's end when the
                                 * provider put the two ends on two
                                 * (label swapping); 0: 'vlan' at both */
    uint32_t prefix_len;        /* of src_link/dst_link; 0: unknown */
    uint64_t start_us, end_us;  /* booked ahead (wall clock): the
                                 * data plane's start and end; 0: at
                                 * once, and no end */
    char error[256];
    uint64_t created_us, updated_us;
};

/* The largest VLAN id (802.1Q: 4095 is reserved). */
#define ADAPTER_VLAN_MAX 4094

typedef struct adapter_store adapter_store_t;

/* Opens (creating it and its directory if missing) the database at 'path'
 * and checks that its journal is WAL; a store of an older schema is
 * brought up to this one (its paths get no VLAN).  Returns NULL with the reason in
 * 'err'. */
adapter_store_t *adapter_store_open(const char *path, char *err,
                                    size_t errsize);

/* Frees '*self_p' if not NULL and sets it to NULL. */
void adapter_store_close(adapter_store_t **self_p);

/* Writes 'rec' (insert or replace by number) and the next path number in
 * one transaction.  Returns 0, or -1 (logged, rate-limited; nothing
 * written: adapter_store_error() says why). */
int adapter_store_put(adapter_store_t *self,
                      const struct adapter_path_rec *rec);

/* Calls 'fn' for every recorded path, oldest first.  Returns the number of
 * rows, or -1 (logged). */
typedef void adapter_store_fn(const struct adapter_path_rec *rec, void *arg);
int adapter_store_load(adapter_store_t *self, adapter_store_fn *fn,
                       void *arg);

/* Deletes ended paths beyond the newest 'keep' rows.  Returns 0 or -1. */
int adapter_store_trim(adapter_store_t *self, size_t keep);

/* Sets '*next_p' to the path number to use next: above every number ever
 * recorded.  Returns 0, or -1 (logged) if it could not be read. */
int adapter_store_next_n(adapter_store_t *self, uint64_t *next_p);

/* Why the last call that failed did (SQLite's message); borrowed, valid
 * until the next call. */
const char *adapter_store_error(const adapter_store_t *self);

/* For tests: the ('n_steps' + 1)-th SQLite step from now, and every one
 * after it, fails as an I/O error would; -1 turns that off. */
void adapter_store_fail_after(adapter_store_t *self, int n_steps);

#endif /* ADAPTER_STORE_H */
