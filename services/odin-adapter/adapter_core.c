/* SPDX-License-Identifier: MIT */
/* The path table behind adapter_core.h.  Each path is a heap record (its
 * address stays put for the backend), kept oldest first up to max_paths,
 * written to the store at every transition.  Requests only admit, record
 * and queue; adapter_core_run() hands the queued work to the backend, and
 * the backend reports back through the adapter_core_* calls declared in
 * adapter_backend.h. */
#include "adapter_core.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "eth.h"
#include "log.h"
#include "vtime.h"

LOG_MODULE("adapter");

#define P(X) ADAPTER_PATH_##X

struct adapter_core {
    const struct adapter_backend *ops;  /* the backend's table */
    void *be;                   /* what its open returned */
    uint32_t max_paths;         /* records kept, ended ones included */
    adapter_core_event_fn *event;   /* publishes a transition */
    adapter_core_wake_fn *wake; /* asks for adapter_core_run() soon */
    void *arg;                  /* for 'event' and 'wake' */
    adapter_store_t *store;     /* NULL: nothing kept */
    struct adapter_path **paths;    /* records, oldest first */
    size_t n_paths, cap;        /* used and allocated in 'paths' */
    uint64_t next_n;            /* number of the next path */
    size_t n_queued;            /* paths with want_create/want_teardown */
    size_t n_forgotten;         /* ended records dropped since the store
                                 * was last trimmed */
    struct adapter_core_stats st;   /* counters (by_state unused) */
};

/* The store's ended rows beyond max_paths are deleted after this many
 * records were forgotten: it holds at most max_paths + this many rows,
 * as it did only after a restart before. */
enum { S_TRIM_EVERY = 64 };

struct adapter_status {
    Vr__StatusReply *reply;     /* being filled */
};

bool
adapter_path_ended(int state)
{
    return state == P(DOWN) || state == P(FAILED);
}

const char *
adapter_path_state_name(int state)
{
    static const char *const names[] = { "unknown", "provisioning", "up",
                                         "tearing-down", "down", "failed" };
    return state >= 0 && state < 6 ? names[state] : "?";
}

adapter_core_t *
adapter_core_new(const struct adapter_backend *backend, uint32_t max_paths,
                 adapter_core_event_fn *event, adapter_core_wake_fn *wake,
                 void *arg)
{
    adapter_core_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->ops = backend;
    self->max_paths = max_paths ? max_paths : 1;
    self->event = event;
    self->wake = wake;
    self->arg = arg;
    self->next_n = 1;
    return self;
}

static void
s_forget(adapter_core_t *self, struct adapter_path *p)
{
    if (self->be && self->ops->forget) {
        self->ops->forget(self->be, p);
    }
    free(p);
}

void
adapter_core_destroy(adapter_core_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    adapter_core_t *self = *self_p;
    for (size_t i = 0; i < self->n_paths; i++) {
        s_forget(self, self->paths[i]);
    }
    if (self->be) {
        self->ops->close(self->be);
    }
    adapter_store_close(&self->store);
    free(self->paths);
    free(self);
    *self_p = NULL;
}

int
adapter_core_open_backend(adapter_core_t *self,
                          const struct adapter_cfg *cfg,
                          const char *cfg_path, char *err, size_t size)
{
    if (self->ops->check && !self->ops->check(cfg, cfg_path, err, size)) {
        return -1;
    }
    self->be = self->ops->open(self, cfg, cfg_path, err, size);
    return self->be ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Records and transitions. */

/* Records 'p'.  Returns 0, or -1 (counted, logged rate-limited). */
static int
s_save(adapter_core_t *self, const struct adapter_path *p)
{
    if (self->store && adapter_store_put(self->store, &p->r) != 0) {
        self->st.n_store_errors++;
        VLOG_WARN_RL("path %s: state store write failed: %s", p->r.path_id,
                     adapter_store_error(self->store));
        return -1;
    }
    return 0;
}

/* Logs and publishes the move of 'p' from 'old'. */
static void
s_announce(adapter_core_t *self, const struct adapter_path *p, int old)
{
    if (p->r.state == P(FAILED)) {
        VLOG_WARN("path %s (%s -> %s): %s -> failed: %s", p->r.path_id,
                  p->r.src, p->r.dst, adapter_path_state_name(old),
                  p->r.error);
    } else {
        VLOG_INFO("path %s (%s -> %s): %s -> %s", p->r.path_id, p->r.src,
                  p->r.dst, adapter_path_state_name(old),
                  adapter_path_state_name(p->r.state));
    }
    if (self->event) {
        self->event(p, old, self->arg);
    }
    self->st.n_events++;
}

/* Moves 'p' to 'state' only if the record can be written first; on -1
 * nothing changed, in memory or on disk, and nothing was published.  For
 * the moves a restart must know of: a new path, a path up. */
static int
s_commit_state(adapter_core_t *self, struct adapter_path *p, int state)
{
    struct adapter_path_rec before = p->r;
    p->r.state = state;
    p->r.updated_us = vtime_now_us();
    if (s_save(self, p) != 0) {
        p->r = before;
        return -1;
    }
    s_announce(self, p, before.state);
    return 0;
}

void
adapter_core_set_state(adapter_core_t *self, struct adapter_path *p,
                       enum adapter_path_state state, const char *error)
{
    int old = p->r.state;
    if (adapter_path_ended(old)) {
        /* An ended path stays ended: a late report changes nothing. */
        VLOG_DEBUG("path %s: %s after it ended: ignored", p->r.path_id,
                 adapter_path_state_name(state));
        return;
    }
    p->r.state = state;
    if (error) {
        snprintf(p->r.error, sizeof p->r.error, "%s", error);
    }
    p->r.updated_us = vtime_now_us();
    s_save(self, p);    /* the backend has done it: moved all the same */
    s_announce(self, p, old);
}

int
adapter_core_up(adapter_core_t *self, struct adapter_path *p, char *why,
                size_t size)
{
    if (p->r.state != P(PROVISIONING)) {
        return 0;   /* teardown asked meanwhile: 'teardown' gives it back */
    }
    if (!eth_vlan_pair_ok(p->r.vlan, p->r.vlan_dst) || p->r.prefix_len > 32) {
        /* A backend's bug or a provider's bad answer: never published. */
        log_format(why, size, "the backend gave VLAN %u/%u / prefix length "
                   "%u (want 0 to %d, the second only with the first, and "
                   "0 to 32)", p->r.vlan, p->r.vlan_dst, p->r.prefix_len,
                   ETH_VLAN_ID_MAX);
        VLOG_WARN_RL("path %s: %s", p->r.path_id, why);
        return -1;
    }
    if (s_commit_state(self, p, P(UP)) == 0) {
        return 0;
    }
    log_format(why, size, "the adapter's state store failed (%s): torn "
               "down, since a restart would forget it",
               self->store ? adapter_store_error(self->store) : "?");
    VLOG_WARN_RL("path %s: %s", p->r.path_id, why);
    return -1;
}

void
adapter_core_fail(adapter_core_t *self, struct adapter_path *p,
                  const char *error_id, const char *text)
{
    snprintf(p->error_id, sizeof p->error_id, "%s", error_id ? error_id : "");
    char why[sizeof p->r.error];
    if (error_id && error_id[0]) {
        log_format(why, sizeof why, "%s (provider error %s)", text,
                   error_id);
    } else {
        log_format(why, sizeof why, "%s", text);
    }
    adapter_core_set_state(self, p, P(FAILED), why);
}

static bool
s_set_field(char *field, const char *value)
{
    if (!value || !strncmp(field, value, ADAPTER_PROVIDER_STATE_SIZE - 1)) {
        return false;
    }
    snprintf(field, ADAPTER_PROVIDER_STATE_SIZE, "%s", value);
    return true;
}

void
adapter_core_provider(adapter_core_t *self, struct adapter_path *p,
                      const char *reservation, const char *provision,
                      const char *lifecycle)
{
    bool changed = s_set_field(p->provider.reservation, reservation);
    changed |= s_set_field(p->provider.provision, provision);
    changed |= s_set_field(p->provider.lifecycle, lifecycle);
    if (changed) {
        VLOG_INFO("path %s: provider states %s/%s/%s", p->r.path_id,
                  p->provider.reservation, p->provider.provision,
                  p->provider.lifecycle);
        p->r.updated_us = vtime_now_us();
        s_save(self, p);
        if (self->event) {
            self->event(p, p->r.state, self->arg);
        }
        self->st.n_events++;
    }
}

int
adapter_core_save(adapter_core_t *self, struct adapter_path *p)
{
    return s_save(self, p);
}

void
adapter_core_adopted(adapter_core_t *self, struct adapter_path *p,
                     const char *how)
{
    self->st.n_adopted++;
    VLOG_INFO("path %s (%s -> %s): adopted (%s)", p->r.path_id, p->r.src,
              p->r.dst, how ? how : p->r.detail);
}

void
adapter_core_lost(adapter_core_t *self, struct adapter_path *p,
                  const char *why)
{
    self->st.n_lost++;
    adapter_core_set_state(self, p, P(FAILED), why);
}

void
adapter_core_wake(adapter_core_t *self)
{
    if (self->wake) {
        self->wake(self->arg);
    }
}

struct adapter_path *
adapter_core_path_by_n(adapter_core_t *self, uint64_t n)
{
    for (size_t i = self->n_paths; i-- > 0;) {
        if (self->paths[i]->r.n == n) {
            return self->paths[i];
        }
    }
    return NULL;
}

size_t
adapter_core_n_paths(const adapter_core_t *self)
{
    return self->n_paths;
}

struct adapter_path *
adapter_core_path_at(adapter_core_t *self, size_t i)
{
    return i < self->n_paths ? self->paths[i] : NULL;
}

void
adapter_core_status_counter(struct adapter_status *st, const char *name,
                            uint64_t value, bool gauge)
{
    bus_status_add_counter(st->reply, name, value, gauge);
}

/* ------------------------------------------------------------------ */
/* The table. */

struct adapter_path *
adapter_core_find(adapter_core_t *self, const char *path_id)
{
    for (size_t i = self->n_paths; i-- > 0;) {
        if (!strcmp(self->paths[i]->r.path_id, path_id)) {
            return self->paths[i];
        }
    }
    return NULL;
}

static struct adapter_path *
s_find_request(adapter_core_t *self, const char *request_id)
{
    for (size_t i = self->n_paths; request_id && *request_id && i-- > 0;) {
        if (!strcmp(self->paths[i]->r.request_id, request_id)) {
            return self->paths[i];
        }
    }
    return NULL;
}

/* Makes room for one more record: drops the oldest ended one when full.
 * Returns false when every record is open, or memory ran out. */
static bool
s_make_room(adapter_core_t *self)
{
    if (self->n_paths >= self->max_paths) {
        size_t i = 0;
        while (i < self->n_paths
               && !adapter_path_ended(self->paths[i]->r.state)) {
            i++;
        }
        if (i == self->n_paths) {
            return false;
        }
        s_forget(self, self->paths[i]);
        memmove(&self->paths[i], &self->paths[i + 1],
                (self->n_paths - i - 1) * sizeof *self->paths);
        self->n_paths--;
        if (self->store && ++self->n_forgotten >= S_TRIM_EVERY) {
            if (adapter_store_trim(self->store, self->max_paths) != 0) {
                VLOG_WARN_RL("sqlite: trimming ended paths: %s (tried "
                             "again later)",
                             adapter_store_error(self->store));
            } else {
                self->n_forgotten = 0;
            }
        }
    }
    if (self->n_paths == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 64;
        struct adapter_path **v = realloc(self->paths, cap * sizeof *v);
        if (!v) {
            return false;
        }
        self->paths = v;
        self->cap = cap;
    }
    return true;
}

static enum adapter_core_refusal
s_refusal(int rc)
{
    return rc == EBUSY ? ADAPTER_CORE_BLOCKED
           : rc == ENOMEM ? ADAPTER_CORE_INTERNAL
           : rc == EINVAL ? ADAPTER_CORE_BAD_REQUEST
                          : ADAPTER_CORE_NOT_RESERVABLE;
}

struct adapter_path *
adapter_core_create(adapter_core_t *self,
                    const struct adapter_core_request *req,
                    enum adapter_core_refusal *why, char *err, size_t size)
{
    *why = ADAPTER_CORE_OK;
    struct adapter_path *p = s_find_request(self, req->request_id);
    if (p) {
        return p;                   /* the same request again */
    }
    uint64_t now = vtime_now_us();
    uint64_t start = req->start_us > now ? req->start_us : 0;
    if ((start || req->end_us) && !self->ops->calendar) {
        self->st.n_refused++;
        *why = ADAPTER_CORE_NO_CALENDAR;
        log_format(err, size, "backend %s books nothing ahead: ask at the "
                   "start", self->ops->name);
        return NULL;
    }
    p = calloc(1, sizeof *p);
    if (!p) {
        *why = ADAPTER_CORE_INTERNAL;
        log_format(err, size, "out of memory");
        return NULL;
    }
    struct adapter_path_rec *r = &p->r;
    r->start_us = start;
    r->end_us = req->end_us;
    r->n = self->next_n;            /* taken only if it is made */
    snprintf(r->path_id, sizeof r->path_id, "p-%" PRIu64, r->n);
    snprintf(r->request_id, sizeof r->request_id, "%s",
             req->request_id ? req->request_id : "");
    snprintf(r->src, sizeof r->src, "%s", req->src);
    snprintf(r->dst, sizeof r->dst, "%s", req->dst);
    r->bandwidth_mbps = req->bandwidth_mbps;
    r->latency_ms = req->latency_ms;
    r->created_us = now;
    r->state = P(UNKNOWN);
    if (self->ops->admit) {
        int rc = self->ops->admit(self->be, p, err, size);
        if (rc != 0) {
            self->st.n_refused++;
            *why = s_refusal(rc);
            VLOG_INFO_RL("path %s -> %s refused: %s", req->src, req->dst,
                         err);
            free(p);
            return NULL;
        }
    }
    if (!s_make_room(self)) {
        if (self->ops->cancel) {
            self->ops->cancel(self->be, p);
        }
        free(p);
        *why = ADAPTER_CORE_LIMIT;
        log_format(err, size, "%u paths already", self->max_paths);
        return NULL;
    }
    self->paths[self->n_paths++] = p;
    self->next_n++;
    /* Recorded before anything is asked of the backend, and given back if
     * it cannot be: no path a restart would forget. */
    if (s_commit_state(self, p, P(PROVISIONING)) != 0) {
        if (self->ops->cancel) {
            self->ops->cancel(self->be, p);
        }
        self->n_paths--;            /* 'p' is the newest record */
        s_forget(self, p);
        self->st.n_refused++;
        *why = ADAPTER_CORE_INTERNAL;
        log_format(err, size, "path refused: the adapter's state store "
                   "failed (%s); nothing was made",
                   adapter_store_error(self->store));
        return NULL;
    }
    self->st.n_created++;
    p->want_create = true;
    self->n_queued++;
    adapter_core_wake(self);
    return p;
}

struct adapter_path *
adapter_core_teardown(adapter_core_t *self, const char *path_id)
{
    struct adapter_path *p = adapter_core_find(self, path_id);
    if (!p || adapter_path_ended(p->r.state)
        || p->r.state == P(TEARING_DOWN)) {
        return p;
    }
    if (p->want_create) {
        /* The loop never started it: nothing to give back but what the
         * admission set aside. */
        p->want_create = false;
        self->n_queued--;
        if (self->ops->cancel) {
            self->ops->cancel(self->be, p);
        }
        adapter_core_set_state(self, p, P(DOWN), NULL);
        return p;
    }
    adapter_core_set_state(self, p, P(TEARING_DOWN), NULL);
    p->want_teardown = true;
    self->n_queued++;
    adapter_core_wake(self);
    return p;
}

void
adapter_core_run(adapter_core_t *self, uint64_t now_ms)
{
    /* The backend adds no records, so the table does not move here; the
     * scan stops once the queued work is done (most ticks have none). */
    for (size_t i = 0; self->n_queued && i < self->n_paths; i++) {
        struct adapter_path *p = self->paths[i];
        if (p->want_create) {
            p->want_create = false;
            p->created = true;
            self->n_queued--;
            self->ops->create(self->be, p);
        }
        if (p->want_teardown) {
            p->want_teardown = false;
            self->n_queued--;
            self->ops->teardown(self->be, p);
        }
    }
    if (self->ops->tick) {
        self->ops->tick(self->be, now_ms);
    }
}

/* ------------------------------------------------------------------ */
/* Start. */

static void
s_on_loaded(const struct adapter_path_rec *rec, void *arg)
{
    adapter_core_t *self = arg;
    struct adapter_path *p = calloc(1, sizeof *p);
    if (!p || !s_make_room(self)) {
        VLOG_ERR("out of memory: path %s not taken back", rec->path_id);
        free(p);
        return;
    }
    p->r = *rec;
    p->created = true;
    self->paths[self->n_paths++] = p;
    if (rec->n >= self->next_n) {
        self->next_n = rec->n + 1;
    }
}

static bool
s_keep(uint64_t n, void *arg)
{
    adapter_core_t *self = arg;
    struct adapter_path *p = adapter_core_path_by_n(self, n);
    return p && !adapter_path_ended(p->r.state);
}

int
adapter_core_restore(adapter_core_t *self, const char *state, char *err,
                     size_t size)
{
    if (!state || !state[0]) {
        VLOG_WARN("state: none kept (paths are forgotten on restart)");
        return 0;
    }
    self->store = adapter_store_open(state, err, size);
    if (!self->store) {
        return -1;
    }
    if (adapter_store_trim(self->store, self->max_paths) != 0) {
        VLOG_WARN("state '%s': old records not trimmed: %s", state,
                  adapter_store_error(self->store));
    }
    uint64_t next = 1;
    if (adapter_store_next_n(self->store, &next) != 0
        || adapter_store_load(self->store, s_on_loaded, self) < 0) {
        log_format(err, size, "state '%s': unreadable", state);
        return -1;
    }
    if (next > self->next_n) {
        self->next_n = next;
    }
    size_t n_open = 0;
    for (size_t i = 0; i < self->n_paths; i++) {
        if (!adapter_path_ended(self->paths[i]->r.state)) {
            n_open++;
            self->ops->adopt(self->be, self->paths[i]);
        }
    }
    if (self->ops->sweep) {
        self->st.n_swept = self->ops->sweep(self->be, s_keep, self);
    }
    VLOG_INFO("state %s: %zu paths recorded, %zu open at the last stop: "
              "%" PRIu64 " adopted, %" PRIu64 " lost; %" PRIu64 " stray "
              "resources removed; next path p-%" PRIu64, state,
              self->n_paths, n_open, self->st.n_adopted, self->st.n_lost,
              self->st.n_swept, self->next_n);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Views. */

const char *
adapter_core_backend_name(const adapter_core_t *self)
{
    return self->ops->name;
}

int
adapter_core_wait_fd(const adapter_core_t *self)
{
    return self->be && self->ops->wait_fd ? self->ops->wait_fd(self->be)
                                          : -1;
}

void
adapter_core_describe(const adapter_core_t *self, char *buf, size_t size)
{
    if (self->be && self->ops->describe) {
        self->ops->describe(self->be, buf, size);
    } else {
        snprintf(buf, size, "%s", self->ops->name);
    }
}

void
adapter_core_get_stats(const adapter_core_t *self,
                       struct adapter_core_stats *st)
{
    *st = self->st;
    memset(st->by_state, 0, sizeof st->by_state);
    for (size_t i = 0; i < self->n_paths; i++) {
        int s = self->paths[i]->r.state;
        if (s >= 0 && s < 6) {
            st->by_state[s]++;
        }
    }
}

void
adapter_core_backend_status(adapter_core_t *self, void *reply)
{
    struct adapter_status st = { .reply = reply };
    if (self->be && self->ops->status) {
        self->ops->status(self->be, &st);
    }
}

adapter_store_t *
adapter_core_store(adapter_core_t *self)
{
    return self->store;
}
