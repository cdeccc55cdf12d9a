/* SPDX-License-Identifier: MIT */
/* odin-adapter, the service: PathCreate / PathTeardown / ListPaths /
 * PathStatus on its control socket and PathEvents on its events socket,
 * over one backend chosen in YAML (adapter_backend.h: sim, netns,
 * oclient, nsi).  Creation is asynchronous: the reply says PROVISIONING
 * and an event says UP or FAILED when the backend is done; the backend's
 * work runs on the loop, never in a request handler.  Requests are idempotent
 * by request id.  Every path is recorded in SQLite (adapter_store) at each
 * transition; on start every open path is offered to the backend to adopt
 * or end (adapter_core.h), and the backend sweeps what no path owns. */
#ifndef ADAPTER_SVC_H
#define ADAPTER_SVC_H

#include "adapter_netns.h"
#include "adapter_nsi_soap.h"
#include "adapter_oclient.h"
#include "adapter_sim.h"
#include "cfg.h"
#include "svc.h"

#define ADAPTER_DEFAULT_CONTROL "tcp://127.0.0.1:7150"
#define ADAPTER_DEFAULT_EVENTS "tcp://127.0.0.1:7151"
#define ADAPTER_DEFAULT_STATE "/var/lib/vreserve/adapter.db"

struct adapter_cfg {
    struct svc_common_cfg common;
    char *events;               /* PUB: path events */
    char *backend;              /* adapter_backend_find() name */
    char *state;                /* SQLite file; empty: nothing kept */
    uint32_t tick_ms;           /* how often the backend is advanced */
    uint32_t max_paths;         /* paths remembered, ended ones included */
    uint32_t teardown_retries;  /* oclient: failed 'oclient -t' retried */
    struct adapter_sim_config sim;  /* the simulated network */
    struct adapter_netns_config netns;
    struct adapter_oclient_config oclient;
    struct adapter_nsi_config nsi;  /* an NSI CS 2.0 provider */
};

extern const struct cfg_key adapter_cfg_keys[];

/* The adapter as a service: name, role, summary and these config keys,
 * for svc_new() in main.c (and in tests/tools/vr-adapter-faulty.c). */
extern const struct svc_def adapter_svc_def;

typedef struct adapter_svc adapter_svc_t;

/* Checks the backend's config (with 'path' for file:line:col), builds it,
 * takes back the recorded paths, binds the events socket and registers the
 * handlers with 'svc'.  Returns NULL with the reason in 'err' (for a
 * config error: the caller exits 2) or logged. */
adapter_svc_t *adapter_svc_new(svc_t *svc, const struct adapter_cfg *cfg,
                               const char *path, char *err, size_t size);

/* adapter_svc_new() as a main() calls it, with 'svc''s config file: on a
 * config error prints the reason to stderr after 'prog' and sets '*rc'
 * to SVC_EXIT_CONFIG; on another failure (logged) sets SVC_EXIT_FAIL.
 * Returns the adapter (the caller's) or NULL. */
adapter_svc_t *adapter_svc_start(svc_t *svc, const struct adapter_cfg *cfg,
                                 const char *prog, int *rc);

/* Frees '*self_p' if not NULL and sets it to NULL (running oclient
 * children are killed; paths are left as they are, for the next start). */
void adapter_svc_destroy(adapter_svc_t **self_p);

typedef struct adapter_store adapter_store_t;

/* The adapter's store (borrowed, valid while 'self' lives; NULL when no
 * state is kept), for tests that inject store errors
 * (tests/tools/vr-adapter-faulty.c). */
adapter_store_t *adapter_svc_store(adapter_svc_t *self);

#endif /* ADAPTER_SVC_H */
