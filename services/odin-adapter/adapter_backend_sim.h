/* SPDX-License-Identifier: MIT */
/* The 'sim' backend (adapter_backend_sim.c): paths are lightpaths in the
 * simulated optical network (adapter_sim), timed by its schedule.  Its
 * functions are exported so that a backend that makes something real
 * when the simulator says a path is up (netns: a veth pair) can reuse the
 * admission, timing and blocking, adding its work through hooks. */
#ifndef ADAPTER_BACKEND_SIM_H
#define ADAPTER_BACKEND_SIM_H

#include "adapter_backend.h"

/* What a backend built on the simulator adds.  Each may be NULL. */
struct adapter_backend_sim_hooks {
    /* 'p' came up in the simulator: make it real (p->r.src_link,
     * p->r.dst_link; 'detail' for p->r.detail).  Returns 0, or -1 with
     * the reason in 'err' (nothing left behind). */
    int (*up)(void *arg, struct adapter_path *p, char *detail,
              size_t detail_size, char *err, size_t size);
    /* Removes what 'up' made for 'p' (gone already counts as removed).
     * Returns 0, or -1 with the reason in 'err' (may be NULL). */
    int (*down)(void *arg, struct adapter_path *p, char *err, size_t size);
    /* After a restart: is what 'up' made for 'p' still there (and taken
     * again)? */
    bool (*adopt)(void *arg, struct adapter_path *p);
    void *arg;                  /* passed to each */
};

typedef struct adapter_backend_sim_be adapter_backend_sim_t;

/* A simulator backend reporting to 'core': its network is cfg->sim when
 * that names switches (checked, with 'cfg_path' for file:line:col), else
 * 'network' (a "sim:" YAML document, named 'name' in messages), with the
 * config's timing and failures either way.  'hooks' may be NULL.
 * Returns NULL with the reason in 'err'.  The caller owns the result. */
adapter_backend_sim_t *
adapter_backend_sim_new(adapter_core_t *core, const struct adapter_cfg *cfg,
                        const char *cfg_path, const char *network,
                        const char *name,
                        const struct adapter_backend_sim_hooks *hooks,
                        char *err, size_t size);

/* The table's functions, for 'self' from adapter_backend_sim_new(). */
void adapter_backend_sim_close(void *self);
void adapter_backend_sim_describe(void *self, char *buf, size_t size);
int adapter_backend_sim_admit(void *self, struct adapter_path *p, char *err,
                              size_t size);
void adapter_backend_sim_cancel(void *self, struct adapter_path *p);
void adapter_backend_sim_create(void *self, struct adapter_path *p);
void adapter_backend_sim_teardown(void *self, struct adapter_path *p);
void adapter_backend_sim_tick(void *self, uint64_t now_ms);
void adapter_backend_sim_adopt(void *self, struct adapter_path *p);
void adapter_backend_sim_status(void *self, struct adapter_status *st);

#endif /* ADAPTER_BACKEND_SIM_H */
