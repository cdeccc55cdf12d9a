/* SPDX-License-Identifier: MIT */
/* odin-adapter, the service: PathCreate / PathTeardown / ListPaths /
 * PathStatus on its control socket and PathEvents on its events socket,
 * over a backend.  Creation is asynchronous: the reply says PROVISIONING
 * and an event says UP or FAILED when the backend is done.  Requests are
 * idempotent by request id.  Backends: "sim" (adapter_sim) so far; the
 * oclient and netns backends are the next step. */
#ifndef ADAPTER_SVC_H
#define ADAPTER_SVC_H

#include "adapter_sim.h"
#include "cfg.h"
#include "svc.h"

#define ADAPTER_DEFAULT_CONTROL "tcp://127.0.0.1:7150"
#define ADAPTER_DEFAULT_EVENTS "tcp://127.0.0.1:7151"

struct adapter_cfg {
    struct svc_common_cfg common;
    char *events;               /* PUB: path events */
    char *backend;              /* "sim" */
    uint32_t tick_ms;           /* how often the backend is advanced */
    uint32_t max_paths;         /* paths remembered, ended ones included */
    struct adapter_sim_config sim; /* the simulated network */
};

extern const struct cfg_key adapter_cfg_keys[];

typedef struct adapter_svc adapter_svc_t;

/* Checks the backend's config (the sim's cross-references, with 'path'
 * for file:line:col), builds it, binds the events socket and registers
 * the handlers with 'svc'.  Returns NULL with the reason in 'err' (for a
 * config error: the caller exits 2) or logged. */
adapter_svc_t *adapter_svc_new(svc_t *svc, const struct adapter_cfg *cfg,
                               const char *path, char *err, size_t size);

/* Frees '*self_p' if not NULL and sets it to NULL. */
void adapter_svc_destroy(adapter_svc_t **self_p);

#endif /* ADAPTER_SVC_H */
