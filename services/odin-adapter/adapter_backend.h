/* SPDX-License-Identifier: MIT */
/* What a backend of the odin-adapter is: a table of functions (struct
 * adapter_backend, one file each: adapter_backend_sim.c, _netns.c,
 * _oclient.c, _nsi.c) that the path table (adapter_core) calls, and the calls a
 * backend makes back into that table to report what became of a path.
 * The service never asks which backend it runs: it finds the table by the
 * config's name (adapter_backend_find()) and only calls through it.
 * services/odin-adapter/README.md, "Writing a backend", walks through it. */
#ifndef ADAPTER_BACKEND_H
#define ADAPTER_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter_store.h"

/* A path's state, numbered like vr.PathState (proto/adapter.proto). */
enum adapter_path_state {
    ADAPTER_PATH_UNKNOWN = 0,
    ADAPTER_PATH_PROVISIONING = 1,  /* asked for, not yet up */
    ADAPTER_PATH_UP = 2,            /* usable */
    ADAPTER_PATH_TEARING_DOWN = 3,  /* teardown asked, not yet gone */
    ADAPTER_PATH_DOWN = 4,          /* gone: ended */
    ADAPTER_PATH_FAILED = 5,        /* never came up, or lost: ended */
};

/* A reservation system's own states for one path (NSI: reservation,
 * provision and lifecycle state), shown beside the adapter's. */
#define ADAPTER_PROVIDER_STATE_SIZE 32
struct adapter_provider_state {
    char reservation[ADAPTER_PROVIDER_STATE_SIZE];  /* "ReserveHeld"... */
    char provision[ADAPTER_PROVIDER_STATE_SIZE];    /* "Provisioned"... */
    char lifecycle[ADAPTER_PROVIDER_STATE_SIZE];    /* "Created"... */
};

/* One path as the adapter holds it.  The core owns it; its address is
 * stable from the path's creation until the backend's 'forget' returns. */
struct adapter_path {
    struct adapter_path_rec r;  /* what is recorded (adapter_store.h);
                                 * a backend sets r.backend_ref, r.detail,
                                 * r.sim_id, r.src_link, r.dst_link */
    struct adapter_provider_state provider; /* empty when the backend
                                             * has none */
    char error_id[32];          /* the provider's error id, or "" */
    void *be;                   /* the backend's own per-path state */
    bool want_create;           /* core: create() is due on the loop */
    bool want_teardown;         /* core: teardown() is due on the loop */
    bool created;               /* core: create() was called */
};

typedef struct adapter_core adapter_core_t;
struct adapter_cfg;

/* Called by a sweep for every resource numbered 'n' it finds: true keeps
 * it (a path the adapter holds), false has it removed. */
typedef bool adapter_backend_keep_fn(uint64_t n, void *arg);

/* A status reply being filled (Vr__StatusReply); a backend adds its own
 * counters with adapter_core_status_counter(). */
struct adapter_status;

/* The table.  Every function is called from the service's loop, one at a
 * time; none may block for long (run commands as child processes, talk
 * to a remote provider without waiting, and poll in 'tick').  'be' is what
 * 'open' returned.  Functions marked optional may be NULL. */
struct adapter_backend {
    const char *name;           /* the config's "backend:" value */

    /* The reservation system keeps a calendar: a path may be booked
     * ahead (r.start_us, r.end_us set before 'admit'), and its 'create'
     * books it there at once; the path stays PROVISIONING until the
     * system brings it up at its start.  False: a request with a
     * schedule is refused (ERR_NO_CALENDAR) and the caller asks at the
     * start instead. */
    bool calendar;

    /* Config: checks the backend's own section of 'cfg' (with 'cfg_path',
     * the file, for file:line:col).  Returns true if usable, else false
     * with the reason in 'err'.  Optional. */
    bool (*check)(const struct adapter_cfg *cfg, const char *cfg_path,
                  char *err, size_t size);

    /* Builds the backend for 'cfg', reporting through 'core'.  Returns its
     * state (owned by the core until 'close'), or NULL with the reason in
     * 'err'. */
    void *(*open)(adapter_core_t *core, const struct adapter_cfg *cfg,
                  const char *cfg_path, char *err, size_t size);

    /* Frees 'be' and whatever it still holds in memory (children are
     * killed; what the reservation system holds stays, for the next
     * start to adopt). */
    void (*close)(void *be);

    /* Starts a line for the log at start: what is configured. */
    void (*describe)(void *be, char *buf, size_t size);

    /* Admission, inside the request handler, before anything is
     * recorded: may refuse at once (no lambda free, unknown host or STP)
     * and may set aside what it decides in memory (the lambda), but does
     * no I/O: the work is 'create'.  It may fill p->r.sim_id, p->r.detail
     * and the link addresses.  Returns 0, or with a message in 'err':
     * EBUSY (blocked), EINVAL (a bad request), ENOMEM, or another errno
     * (not reservable here).  Optional: NULL admits everything. */
    int (*admit)(void *be, struct adapter_path *p, char *err, size_t size);

    /* Gives back what 'admit' set aside, for a path that will never be
     * created (its record could not be written, or it was torn down
     * before the loop started it).  Optional. */
    void (*cancel)(void *be, struct adapter_path *p);

    /* Starts making 'p' (PROVISIONING, recorded), on the loop after the
     * reply went out.  The result comes later, from any function, through
     * adapter_core_up() or adapter_core_set_state(FAILED) /
     * adapter_core_fail(): an asynchronous backend returns at once and
     * learns the outcome in 'tick'. */
    void (*create)(void *be, struct adapter_path *p);

    /* Starts giving 'p' back (now TEARING_DOWN; called once per path,
     * after 'create', possibly while the set-up still runs).  Reports
     * DOWN (or FAILED, with why the reservation system may still hold
     * it) through adapter_core_set_state(). */
    void (*teardown)(void *be, struct adapter_path *p);

    /* Advances pending work at 'now_ms' (monotonic): steps children,
     * polls the provider, applies the simulator's schedule.  Called every
     * tick_ms and whenever adapter_core_wake() was called. */
    void (*tick)(void *be, uint64_t now_ms);

    /* A descriptor that turns readable when 'tick' has work (a
     * provider's answer came in): the service polls it and runs 'tick'
     * at once rather than at the next tick_ms.  Called once, after
     * 'open'; -1: none.  Optional. */
    int (*wait_fd)(void *be);

    /* At start, once for every recorded path that had not ended (its
     * state, r.backend_ref and r.detail as last recorded): the backend
     * takes it back and says so with adapter_core_adopted(), or fails it
     * with adapter_core_lost() (releasing what it held), or finishes a
     * teardown in progress (adapter_core_set_state(), possibly after
     * asking the provider: the answer may come in 'tick'). */
    void (*adopt)(void *be, struct adapter_path *p);

    /* At start, after every path was offered to 'adopt': removes what the
     * backend finds that no held path owns ('keep'(n) false).  Returns how
     * many it removed.  Optional. */
    size_t (*sweep)(void *be, adapter_backend_keep_fn *keep, void *arg);

    /* Adds the backend's counters to a status reply. Optional. */
    void (*status)(void *be, struct adapter_status *st);

    /* The core drops record 'p' (ended, or at close): frees p->be.
     * Optional. */
    void (*forget)(void *be, struct adapter_path *p);
};

/* The backends built in: sim, netns, oclient, nsi. */
extern const struct adapter_backend adapter_backend_sim;
extern const struct adapter_backend adapter_backend_netns;
extern const struct adapter_backend adapter_backend_oclient;
extern const struct adapter_backend adapter_backend_nsi;

/* The backend named 'name', or NULL. */
const struct adapter_backend *adapter_backend_find(const char *name);

/* Writes the known names, "sim, netns, oclient or nsi", into 'buf'. */
void adapter_backend_names(char *buf, size_t size);

/* ------------------------------------------------------------------ */
/* Reports from a backend to the core (adapter_core.c).  Each records the
 * path (SQLite) and publishes a PathEvent unless said otherwise. */

/* 'p' is up.  The record is written before the move: returns 0, or -1
 * when it could not be (nothing moved, nothing published, the reason in
 * 'why'): the backend must then give the path back, since a restart would
 * forget it, and report it FAILED (or TEARING_DOWN, then DOWN) with
 * 'why'.  A path whose teardown was already asked is not moved (returns
 * 0): 'teardown' gives it back. */
int adapter_core_up(adapter_core_t *core, struct adapter_path *p,
                    char *why, size_t size);

/* Moves 'p' to 'state' (TEARING_DOWN, DOWN or FAILED), with 'error'
 * (why, for FAILED; may be NULL). */
void adapter_core_set_state(adapter_core_t *core, struct adapter_path *p,
                            enum adapter_path_state state,
                            const char *error);

/* Moves 'p' to FAILED with the provider's error id ('error_id', may be
 * NULL) and text. */
void adapter_core_fail(adapter_core_t *core, struct adapter_path *p,
                       const char *error_id, const char *text);

/* Sets the provider's states of 'p' (any may be NULL: unchanged); saved
 * and published when they changed. */
void adapter_core_provider(adapter_core_t *core, struct adapter_path *p,
                           const char *reservation, const char *provision,
                           const char *lifecycle);

/* Records 'p' after the backend changed its fields (r.backend_ref,
 * r.detail) without a state change; no event.  Returns 0 or -1. */
int adapter_core_save(adapter_core_t *core, struct adapter_path *p);

/* At start: 'p' was taken back as it was ('how' for the log). */
void adapter_core_adopted(adapter_core_t *core, struct adapter_path *p,
                          const char *how);

/* At start: 'p' could not be taken back: FAILED with 'why'. */
void adapter_core_lost(adapter_core_t *core, struct adapter_path *p,
                       const char *why);

/* Asks for 'tick' soon, from the loop (a child ended, an answer came). */
void adapter_core_wake(adapter_core_t *core);

/* The path numbered 'n', or NULL. */
struct adapter_path *adapter_core_path_by_n(adapter_core_t *core,
                                            uint64_t n);

/* Paths held, ended ones included, oldest first; 'i' < the count. */
size_t adapter_core_n_paths(const adapter_core_t *core);
struct adapter_path *adapter_core_path_at(adapter_core_t *core, size_t i);

/* Adds counter 'name' ('gauge': a level, not a running total). */
void adapter_core_status_counter(struct adapter_status *st,
                                 const char *name, uint64_t value,
                                 bool gauge);

/* Is 'state' DOWN or FAILED? */
bool adapter_path_ended(int state);

/* "provisioning", "up", ... or "?". */
const char *adapter_path_state_name(int state);

#endif /* ADAPTER_BACKEND_H */
