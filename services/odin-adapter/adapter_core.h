/* SPDX-License-Identifier: MIT */
/* The adapter's path table over one backend (adapter_backend.h): requests
 * are answered from here at once (a new path is admitted, recorded and
 * PROVISIONING; a teardown is TEARING_DOWN) and the backend's work is
 * queued for the loop (adapter_core_run()); every transition is written
 * to the store (adapter_store.h) and passed to the caller's event
 * function.  No bus here: adapter_svc does the messages, and
 * tests/unit/test_adapter_core.c drives it with a fake backend. */
#ifndef ADAPTER_CORE_H
#define ADAPTER_CORE_H

#include "adapter_backend.h"

/* A transition of 'p' from 'old_state' (to p->r.state), to publish. */
typedef void adapter_core_event_fn(const struct adapter_path *p,
                                   int old_state, void *arg);

/* Work is queued: call adapter_core_run() from the loop soon. */
typedef void adapter_core_wake_fn(void *arg);

/* Why a request was refused. */
enum adapter_core_refusal {
    ADAPTER_CORE_OK = 0,
    ADAPTER_CORE_BAD_REQUEST,   /* the backend found the request bad */
    ADAPTER_CORE_BLOCKED,       /* no capacity now */
    ADAPTER_CORE_NOT_RESERVABLE,    /* not between these endpoints */
    ADAPTER_CORE_INTERNAL,      /* out of memory, the store failed */
    ADAPTER_CORE_LIMIT,         /* max_paths open paths */
    ADAPTER_CORE_NOT_FOUND,     /* no such path */
    ADAPTER_CORE_NO_CALENDAR,   /* booked ahead, and the backend books
                                 * nothing ahead */
};

/* A new path asked for. */
struct adapter_core_request {
    const char *request_id;     /* idempotency key ("" or NULL: none) */
    const char *src, *dst;      /* IP literals, checked */
    double bandwidth_mbps, latency_ms;
    uint64_t start_us, end_us;  /* booked ahead (wall clock, checked by
                                 * adapter_check_schedule()): 0 at once,
                                 * 0 no end */
};

/* Counters since the start. */
struct adapter_core_stats {
    uint64_t n_created, n_refused, n_events, n_adopted, n_lost, n_swept;
    uint64_t n_store_errors;
    size_t by_state[6];         /* paths held in each state now */
};

/* A table for 'backend' keeping at most 'max_paths' records (ended ones
 * dropped oldest first), calling 'event' for every transition and 'wake'
 * when work is queued (both with 'arg').  Returns NULL when out of
 * memory.  The caller owns the result. */
adapter_core_t *adapter_core_new(const struct adapter_backend *backend,
                                 uint32_t max_paths,
                                 adapter_core_event_fn *event,
                                 adapter_core_wake_fn *wake, void *arg);

/* Frees '*self_p' if not NULL and sets it to NULL (the backend is closed;
 * paths stay as recorded, for the next start). */
void adapter_core_destroy(adapter_core_t **self_p);

/* Opens the backend with 'cfg' (its check, then its open).  Returns 0, or
 * -1 with the reason in 'err'. */
int adapter_core_open_backend(adapter_core_t *self,
                              const struct adapter_cfg *cfg,
                              const char *cfg_path, char *err, size_t size);

/* Opens the store at 'state' (NULL or "": nothing kept), reads every path
 * back, offers each open one to the backend's adopt and then sweeps.
 * Returns 0, or -1 with the reason in 'err'. */
int adapter_core_restore(adapter_core_t *self, const char *state,
                         char *err, size_t size);

/* A new path: the same request id again gives the same path; otherwise
 * admitted by the backend, recorded PROVISIONING and queued for the
 * backend's create.  Returns the path (borrowed, valid until the next
 * call that adds one), or NULL with '*why' and a message in 'err'. */
struct adapter_path *adapter_core_create(adapter_core_t *self,
                                         const struct adapter_core_request *req,
                                         enum adapter_core_refusal *why,
                                         char *err, size_t size);

/* Tears path 'path_id' down: one that ended or is tearing down is left as
 * it is; otherwise it becomes TEARING_DOWN and the backend's teardown is
 * queued.  Returns the path, or NULL (ADAPTER_CORE_NOT_FOUND). */
struct adapter_path *adapter_core_teardown(adapter_core_t *self,
                                           const char *path_id);

/* The path with this id, or NULL. */
struct adapter_path *adapter_core_find(adapter_core_t *self,
                                       const char *path_id);

/* Runs the queued creates and teardowns, oldest path first, then the
 * backend's tick at 'now_ms'. */
void adapter_core_run(adapter_core_t *self, uint64_t now_ms);

/* The backend's descriptor to poll ('wait_fd'), or -1. */
int adapter_core_wait_fd(const adapter_core_t *self);

/* The backend's name ("sim"...). */
const char *adapter_core_backend_name(const adapter_core_t *self);

/* Describes the backend for the start's log line. */
void adapter_core_describe(const adapter_core_t *self, char *buf,
                           size_t size);

void adapter_core_get_stats(const adapter_core_t *self,
                            struct adapter_core_stats *st);

/* Lets the backend add its counters to 'reply' (a Vr__StatusReply). */
void adapter_core_backend_status(adapter_core_t *self, void *reply);

/* The store (borrowed; NULL when nothing is kept). */
adapter_store_t *adapter_core_store(adapter_core_t *self);

#endif /* ADAPTER_CORE_H */
