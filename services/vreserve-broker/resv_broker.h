/* SPDX-License-Identifier: MIT */
/* vreserve-broker: reservations of overlay links between hosts.  Decides
 * which links are reservable (both hosts have an endpoint on one
 * reservable network, from YAML), enforces the limits, asks the
 * odin-adapter for paths, follows each reservation through resv_fsm as
 * the adapter's path events arrive, persists every transition
 * (resv_store) before publishing it, and reconciles with the adapter's
 * list of paths at start and every reconcile period: paths it knows are
 * adopted, paths nobody asked for are torn down, reservations whose path
 * vanished are failed.  Nothing is leaked across a crash of either side. */
#ifndef RESV_BROKER_H
#define RESV_BROKER_H

#include "cfg.h"
#include "svc.h"

#define BROKER_DEFAULT_CONTROL "tcp://127.0.0.1:7140"
#define BROKER_DEFAULT_EVENTS "tcp://127.0.0.1:7141"
#define BROKER_DEFAULT_ADAPTER "tcp://127.0.0.1:7150"
#define BROKER_DEFAULT_ADAPTER_EVENTS "tcp://127.0.0.1:7151"

/* A host's address on a reservable network. */
struct broker_endpoint {
    char *host;                 /* overlay host (agent id) */
    char *ip;                   /* its endpoint on the network */
};

struct broker_network {
    char *name;
    uint32_t max_paths;         /* open reservations on it at most */
    struct cfg_seq endpoints;   /* struct broker_endpoint */
};

struct broker_cfg {
    struct svc_common_cfg common;
    char *events;               /* PUB: reservation events */
    char *adapter;              /* adapter's control endpoint */
    char *adapter_events;       /* adapter's events endpoint */
    char *db;                   /* SQLite file */
    struct cfg_seq networks;    /* struct broker_network */
    uint32_t max_paths_per_host;
    uint32_t max_open;          /* open reservations at most */
    double default_bandwidth_mbps;
    uint32_t adapter_timeout_ms;
    uint32_t reconcile_ms;
    uint32_t provisioning_timeout_ms;
    uint32_t retention_s;       /* ended reservations kept this long */
    uint32_t list_page_max;     /* reservations in one ResvList reply */
};

extern const struct cfg_key broker_cfg_keys[];

/* The broker as a service: name, role, summary and these config keys,
 * for svc_new() in main.c (and in tests/tools/vr-broker-faulty.c). */
extern const struct svc_def resv_broker_def;

typedef struct resv_broker resv_broker_t;

/* Opens the store, connects to the adapter, registers the handlers and
 * timers with 'svc' and reconciles once.  Returns NULL with the reason
 * logged.  The caller owns the result; 'cfg' must outlive it. */
resv_broker_t *resv_broker_new(svc_t *svc, const struct broker_cfg *cfg);

/* Frees '*self_p' if not NULL and sets it to NULL. */
void resv_broker_destroy(resv_broker_t **self_p);

/* Takes a message from the adapter's events ('msg', decoded and checked
 * by bus_recv()): a PathEvent moves the reservation its path or request
 * names (a path no one reserved is torn down).  Returns false if it was
 * not one the broker acts on (changing nothing); the event reader and the
 * fuzz harness call it. */
bool resv_broker_take(resv_broker_t *self, const bus_msg_t *msg);

typedef struct resv_store resv_store_t;

/* The broker's store (borrowed, valid while 'self' lives), for tests that
 * inject store errors (tests/tools/vr-broker-faulty.c). */
resv_store_t *resv_broker_store(resv_broker_t *self);

#endif /* RESV_BROKER_H */
