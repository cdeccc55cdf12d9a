/* SPDX-License-Identifier: MIT */
/* The 'nsi' backend: each path is one NSI CS 2.0 connection at a
 * provider, asked for over SOAP without callbacks (adapter_nsi_soap.h) and
 * driven by polling querySummarySync: reserve, reserveCommit within
 * nsi.commit_deadline_ms, provision, then Provisioned and active is up;
 * teardown is release, then terminate (reserveAbort while only held),
 * until Terminated.  A connection lives in its own record here (struct
 * s_conn), which outlives its path when the path failed: it is then an
 * orphan, terminated at the provider before it is dropped.  The connection
 * and global reservation ids are in the path's r.backend_ref, so that a
 * restart adopts, finishes or ends every connection; at start every
 * connection of ours at the provider that no held path owns is terminated
 * (the sweep). */
#include "adapter_backend_nsi.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_nsi_book.h"
#include "adapter_nsi_retry.h"
#include "adapter_nsi_soap.h"
#include "adapter_nsi_state.h"
#include "adapter_pool.h"
#include "adapter_svc.h"
#include "log.h"
#include "vtime.h"

LOG_MODULE("adapter");

#define P(X) ADAPTER_PATH_##X

enum {
    S_MAX_CONNS = 65536,        /* connections held, orphans included */
    S_STEADY_POLL_MS = 5000,    /* a connection up: is it still? */
    S_MAX_BACKOFF_MS = 30000,   /* between tries after failures */
    S_UP_ERRORS = 3,            /* failed polls failing a path being set up */
    S_DOWN_ERRORS = 8,          /* failed steps that fail a teardown */
    S_ORPHAN_ERRORS = 20,       /* ... after which an orphan is given up */
    S_LIST_TRIES = 2,           /* listings a connection without id waits */
    S_MAX_LIST_FAILS = 5,       /* failed listings before giving up */
    S_MAX_VLAN_TRIES = 8,       /* VLANs the provider refused, per path */
    S_TERMINATING_MS = 3000,    /* Terminating this long: terminate again */
    S_TRANSIT_MS = 3000,        /* on the way down, Releasing (or
                                 * Provisioning) this long: terminate */
    S_MAX_TERMINATES = 8,       /* ... this many times, then given up */
};

/* Only tests set them (adapter_backend_nsi_test_commit_delay()). */
static uint32_t s_test_commit_delay_ms;
static bool s_test_past_deadline;
static uint32_t s_test_provision_delay_ms;  /* adapter_backend_nsi_test_ */
static uint32_t s_test_up_delay_ms;         /* step_delay() */

/* One connection at the provider (or one we may have asked for). */
struct s_conn {
    struct s_conn *next;        /* in s_nsi.conns */
    struct adapter_path *p;     /* its path; NULL: an orphan, to end */
    char cid[ADAPTER_NSI_ID_MAX + 1];   /* connectionId; "" unknown */
    char gid[ADAPTER_NSI_GID_LEN + 1];  /* our globalReservationId */
    bool up;                    /* wanted up; false: to be terminated */
    bool reserve_sent;          /* the reserve went out */
    bool committed;             /* reserveCommit acknowledged */
    bool infer_commit;          /* adopted: 'committed' from the states */
    bool aborted;               /* reserveAbort acknowledged */
    bool seen;                  /* 'st' was reported */
    bool is_up;                 /* reported up */
    bool dead;                  /* to be freed */
    bool want_list;             /* no id: look for 'gid' in a listing */
    struct adapter_nsi_states st;   /* as last reported */
    struct adapter_nsi_states sent_at;  /* 'st' when 'last_sent' went */
    enum adapter_nsi_next last_sent;    /* the last step acknowledged */
    uint64_t call;              /* call in flight, 0: none */
    enum adapter_nsi_op call_op;    /* its operation */
    int64_t reserved_ms;        /* monotonic: the reserve went out */
    int64_t held_ms;            /* monotonic: ReserveHeld first seen */
    int64_t committed_ms;       /* monotonic: the commit acknowledged */
    int64_t provision_ms;       /* monotonic: the provision acknowledged */
    int64_t terminating_ms;     /* monotonic: Terminating since, 0: not */
    int64_t transit_ms;         /* on the way down: Releasing or
                                 * Provisioning since, 0: not */
    uint32_t terminates;        /* terminates acknowledged */
    int64_t poll_at;            /* monotonic: next step due */
    uint32_t errors;            /* failures in a row */
    struct adapter_nsi_retry retry; /* set-up: provider unreachable */
    uint32_t list_tries;        /* listings that did not find 'gid' */
    uint16_t vlan_src, vlan_dst;    /* chosen VLANs, 0: not yet */
    bool said_two;              /* that the two differ is logged */
    uint16_t asked_vlan;        /* the one VLAN asked at both ends, or 0 */
    uint16_t refused[S_MAX_VLAN_TRIES];    /* VLANs the provider refused */
    uint32_t n_refused;
    uint32_t src_port, dst_port;    /* hashes of the ends' STPs, 0: none */
    /* Where a set-up's (or a teardown's) time went, logged when it is
     * done: calls in flight (the provider's), waits for a poll due
     * (poll_ms), and ours: from an answer to the next call beyond that. */
    int64_t t_begin;            /* monotonic: set-up or teardown began */
    int64_t t_answer;           /* monotonic: the last answer, 0: none */
    uint32_t t_provider, t_polling, t_ours, n_steps;
};

struct s_nsi {
    adapter_core_t *core;       /* where paths are reported */
    const struct adapter_nsi_config *cfg;
    adapter_nsi_soap_t *soap;   /* the client */
    adapter_pool_t *pool;       /* the circuits' /30s */
    struct s_conn *conns;       /* every connection, newest first */
    size_t n_conns;
    uint64_t list_call;         /* a listing in flight, 0: none */
    bool sweep_due;             /* end what no path owns, at start */
    int64_t list_at;            /* monotonic: next listing no earlier */
    uint32_t list_fails;        /* failed listings in a row */
    int64_t now;                /* monotonic ms of this tick */
    uint64_t n_calls, n_faults, n_failures, n_polls, n_swept, n_dropped;
    uint64_t n_retries;         /* steps tried again, provider unreachable */
    uint64_t n_reterminated;    /* terminates sent again (Terminating) */
    uint64_t n_transit_terminated;  /* terminates for a connection left
                                     * Releasing or Provisioning */
};

static int64_t
s_mono_ms(void)
{
    return (int64_t) vtime_mono_ms();
}

void
adapter_backend_nsi_test_commit_delay(uint32_t ms, bool past_deadline)
{
    s_test_commit_delay_ms = ms;
    s_test_past_deadline = past_deadline;
}

void
adapter_backend_nsi_test_step_delay(uint32_t provision_ms, uint32_t up_ms)
{
    s_test_provision_delay_ms = provision_ms;
    s_test_up_delay_ms = up_ms;
}

/* ------------------------------------------------------------------ */
/* r.backend_ref */

static bool
s_valid_cid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ADAPTER_NSI_ID_MAX || !strcmp(s, "-")) {
        return false;
    }
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789._:@+/=-") == n;
}

static bool
s_valid_gid(const char *s)
{
    static const char prefix[] = "urn:uuid:";
    if (strlen(s) != ADAPTER_NSI_GID_LEN || strncmp(s, prefix, 9)) {
        return false;
    }
    for (size_t i = 0; i < 36; i++) {
        char c = s[9 + i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !strchr("0123456789abcdefABCDEF", c) || !c) {
            return false;
        }
    }
    return true;
}

bool
adapter_nsi_ref_format(const char *cid, const char *gid, char *buf,
                       size_t size)
{
    bool have = cid && cid[0];
    if ((have && !s_valid_cid(cid)) || !gid || !s_valid_gid(gid)) {
        return false;
    }
    int n = snprintf(buf, size, "%s %s", have ? cid : "-", gid);
    return n > 0 && (size_t) n < size;
}

bool
adapter_nsi_ref_parse(const char *ref, char *cid, size_t cid_size, char *gid,
                      size_t gid_size)
{
    const char *sp = ref ? strchr(ref, ' ') : NULL;
    if (!sp || (size_t) (sp - ref) > ADAPTER_NSI_ID_MAX
        || !s_valid_gid(sp + 1) || gid_size <= ADAPTER_NSI_GID_LEN) {
        return false;
    }
    char c[ADAPTER_NSI_ID_MAX + 1];
    memcpy(c, ref, (size_t) (sp - ref));
    c[sp - ref] = '\0';
    bool none = !strcmp(c, "-");
    if ((!none && !s_valid_cid(c)) || strlen(c) >= cid_size) {
        return false;
    }
    snprintf(cid, cid_size, "%s", none ? "" : c);
    snprintf(gid, gid_size, "%s", sp + 1);
    return true;
}

/* ------------------------------------------------------------------ */
/* Connections. */

static struct s_conn *
s_conn_new(struct s_nsi *self, struct adapter_path *p)
{
    if (self->n_conns >= S_MAX_CONNS) {
        return NULL;
    }
    struct s_conn *c = calloc(1, sizeof *c);
    if (!c) {
        return NULL;
    }
    c->p = p;
    c->next = self->conns;
    self->conns = c;
    self->n_conns++;
    if (p) {
        p->be = c;
    }
    return c;
}

/* Writes the connection's ids into its path's record. */
static int
s_save_ref(struct s_nsi *self, struct s_conn *c)
{
    struct adapter_path *p = c->p;
    if (!p || !adapter_nsi_ref_format(c->cid, c->gid, p->r.backend_ref,
                                      sizeof p->r.backend_ref)) {
        return -1;
    }
    return adapter_core_save(self->core, p);
}

/* The path lets go of 'c': it is ended now, or being ended; whatever the
 * provider still holds for it is terminated as an orphan. */
static void
s_detach(struct s_conn *c)
{
    if (c->p) {
        c->p->be = NULL;
        c->p = NULL;
    }
    c->up = false;
}

/* 'c' is over: nothing left at the provider. */
static void
s_drop(struct s_conn *c)
{
    s_detach(c);
    c->dead = true;
}

/* Fails the path of 'c' (if it has one that has not ended) with the
 * provider's 'error_id' (may be NULL) and 'text', and ends the connection
 * at the provider in the background. */
static void
s_fail(struct s_nsi *self, struct s_conn *c, const char *error_id,
       const char *text)
{
    struct adapter_path *p = c->p;
    s_detach(c);
    c->poll_at = self->now;
    c->errors = 0;
    if (p && !adapter_path_ended(p->r.state)) {
        adapter_core_fail(self->core, p, error_id, text);
    }
    if (!c->cid[0] && !c->reserve_sent) {
        c->dead = true;     /* nothing was asked of the provider */
    }
}

/* Backs off after a failure: poll_ms doubling to S_MAX_BACKOFF_MS. */
static void
s_backoff(struct s_nsi *self, struct s_conn *c)
{
    uint32_t shift = c->errors < 16 ? c->errors : 16;
    int64_t wait = (int64_t) self->cfg->poll_ms << shift;
    c->poll_at = self->now + (wait < S_MAX_BACKOFF_MS ? wait
                                                      : S_MAX_BACKOFF_MS);
}

/* A call for 'c' goes out: the time since the last answer is a poll's
 * wait (up to when it was due) and ours (beyond). */
static void
s_time_call(struct s_conn *c)
{
    int64_t t = s_mono_ms();
    if (c->t_answer) {
        int64_t waited = t - c->t_answer;
        int64_t due = c->poll_at - c->t_answer;
        int64_t sched = due <= 0 ? 0 : due < waited ? due : waited;
        c->t_polling += (uint32_t) sched;
        c->t_ours += (uint32_t) (waited - sched);
        c->t_answer = 0;
    }
    c->n_steps++;
}

/* Starts counting a set-up or a teardown afresh. */
static void
s_time_begin(struct s_conn *c)
{
    c->t_begin = s_mono_ms();
    c->t_answer = c->t_begin;
    c->t_provider = c->t_polling = c->t_ours = c->n_steps = 0;
}

/* Logs where the time of 'what' (of path 'p') went. */
static void
s_time_log(const struct s_conn *c, const struct adapter_path *p,
           const char *what)
{
    if (!p || !c->t_begin) {
        return;
    }
    VLOG_INFO("path %s: %s in %" PRId64 " ms: %" PRIu32 " ms at the "
              "provider (%" PRIu32 " calls), %" PRIu32 " ms waiting for "
              "polls (nsi.poll_ms), %" PRIu32 " ms ours", p->r.path_id, what,
              s_mono_ms() - c->t_begin, c->t_provider, c->n_steps,
              c->t_polling, c->t_ours);
}

/* "1781" or "1781/1782" (the two ends differ). */
static void
s_vlans(const struct s_conn *c, char *buf, size_t size)
{
    if (c->vlan_src == c->vlan_dst) {
        snprintf(buf, size, "%u", c->vlan_src);
    } else {
        snprintf(buf, size, "%u/%u", c->vlan_src, c->vlan_dst);
    }
}

/* r.detail: "vlan 1781 conn EX-..." once the provider chose the VLAN,
 * and r.vlan. */
static void
s_set_detail(struct s_nsi *self, struct s_conn *c)
{
    struct adapter_path *p = c->p;
    if (!p) {
        return;
    }
    char d[sizeof p->r.detail], v[16], booked[48] = "";
    if (p->r.start_us && !c->is_up && p->r.state == P(PROVISIONING)) {
        adapter_nsi_book_format(p->r.start_us, booked, sizeof booked);
    }
    if (c->vlan_src) {
        s_vlans(c, v, sizeof v);
        snprintf(d, sizeof d, "vlan %s conn %s%s", v, c->cid, booked);
    } else {
        snprintf(d, sizeof d, "conn %s%s", c->cid[0] ? c->cid : "-",
                 booked);
    }
    /* The path's VLANs (the hosts' sub-interfaces): the source's, and
     * the destination's when the provider translates between them. */
    uint32_t vlan = c->vlan_src;
    uint32_t vlan_dst = c->vlan_dst != c->vlan_src ? c->vlan_dst : 0;
    if (strcmp(d, p->r.detail) || vlan != p->r.vlan
        || vlan_dst != p->r.vlan_dst) {
        snprintf(p->r.detail, sizeof p->r.detail, "%s", d);
        p->r.vlan = vlan;
        p->r.vlan_dst = vlan_dst;
        adapter_core_save(self->core, p);
    }
}

/* ------------------------------------------------------------------ */
/* Calls. */

/* A result's error without the operation's name the parser may have put
 * first ("reserve: ..."), to be prefixed once. */
static const char *
s_error(const struct adapter_nsi_result *res)
{
    const char *op = adapter_nsi_op_name(res->op);
    size_t n = strlen(op);
    if (!strncmp(res->error, op, n) && !strncmp(res->error + n, ": ", 2)) {
        return res->error + n + 2;
    }
    return res->error;
}

static void s_on_done(void *arg, uint64_t id,
                      const struct adapter_nsi_result *res);

/* The provider could not be reached for 'c', a path being set up
 * (adapter_nsi_retry_applies()): the step is tried again after the
 * back-off, the path's detail saying so.  Returns false once the retries
 * are over, with the reason in 'why' (the caller fails the path). */
static bool
s_retry(struct s_nsi *self, struct s_conn *c,
        const struct adapter_nsi_result *res, char *why, size_t size)
{
    const char *op = adapter_nsi_op_name(res->op);
    int64_t wait = adapter_nsi_retry_next(&c->retry, self->cfg, self->now);
    if (wait < 0) {
        log_format(why, size, "provider unreachable for %" PRId64 " ms (%"
                   PRIu32 " tries, nsi.retry.give_up_ms %" PRIu32 "): %s: "
                   "%s", self->now - c->retry.since_ms, c->retry.tries,
                   self->cfg->retry_give_up_ms, op, s_error(res));
        return false;
    }
    self->n_retries++;
    c->poll_at = self->now + wait;
    struct adapter_path *p = c->p;
    VLOG_WARN_RL("path %s: provider unreachable (%s: %s): try %" PRIu32
                 " failed, again in %" PRId64 " ms", p ? p->r.path_id : "-",
                 op, s_error(res), c->retry.tries, wait);
    if (p) {
        snprintf(p->r.detail, sizeof p->r.detail, "retrying %s: provider "
                 "unreachable (try %" PRIu32 ", next in %" PRId64 " ms): %s",
                 op, c->retry.tries, wait, s_error(res));
        adapter_core_save(self->core, p);
    }
    return true;
}

/* Starts 'op' for 'c' (not a reserve).  Returns true if it went out;
 * false when max_in_flight calls run (tried again next tick). */
static bool
s_start(struct s_nsi *self, struct s_conn *c, enum adapter_nsi_op op)
{
    if (adapter_nsi_soap_in_flight(self->soap) >= self->cfg->max_in_flight) {
        return false;
    }
    struct adapter_nsi_call call = { .op = op, .connection_id = c->cid };
    char err[256];
    uint64_t id = adapter_nsi_soap_start(self->soap, &call, s_on_done, self,
                                         err, sizeof err);
    if (!id) {
        VLOG_WARN_RL("connection %s: %s not sent: %s", c->cid,
                     adapter_nsi_op_name(op), err);
        c->errors++;
        s_backoff(self, c);
        return false;
    }
    c->call = id;
    c->call_op = op;
    s_time_call(c);
    self->n_calls++;
    if (op == ADAPTER_NSI_OP_QUERY) {
        self->n_polls++;
    } else if (c->p) {
        VLOG_DEBUG("path %s: %s %s", c->p->r.path_id,
                   adapter_nsi_op_name(op), c->cid);
    }
    return true;
}

/* A hash of an STP, never 0: which port a connection's end is on. */
static uint32_t
s_port_hash(const char *stp)
{
    uint32_t h = 2166136261u;
    for (const char *q = stp; *q; q++) {
        h = (h ^ (uint8_t) *q) * 16777619u;
    }
    return h ? h : 1;
}

/* Is VLAN 'v' on port 'port' held or asked for by a connection of ours
 * other than 'self_c' in a time span that meets that of 'self_c' (the
 * provider books a label per port and time span)? */
static bool
s_vlan_used(const struct s_nsi *self, const struct s_conn *self_c,
            uint32_t port, uint16_t v)
{
    const struct adapter_path *p = self_c->p;
    for (const struct s_conn *o = self->conns; o; o = o->next) {
        if (o == self_c || o->dead) {
            continue;
        }
        /* An orphan (no path) holds its label for all time. */
        if (p && o->p
            && !adapter_nsi_book_overlap(p->r.start_us, p->r.end_us,
                                         o->p->r.start_us, o->p->r.end_us)) {
            continue;
        }
        uint16_t vs = o->vlan_src ? o->vlan_src : o->asked_vlan;
        uint16_t vd = o->vlan_dst ? o->vlan_dst : o->asked_vlan;
        if ((o->src_port == port && vs == v)
            || (o->dst_port == port && vd == v)) {
            return true;
        }
    }
    return false;
}

/* One VLAN id at both ends where the two ends' ranges overlap (no
 * translation needed at the provider): the lowest that no connection of
 * ours holds at either port and that the provider has not refused for
 * this path; else (no overlap, or all taken) the ranges as configured,
 * and the provider chooses, maybe two (each host then takes its own). */
static void
s_pick_vlan(struct s_nsi *self, struct s_conn *c, struct adapter_nsi_end *src,
            struct adapter_nsi_end *dst)
{
    uint16_t lo = src->vlan_lo > dst->vlan_lo ? src->vlan_lo : dst->vlan_lo;
    uint16_t hi = src->vlan_hi < dst->vlan_hi ? src->vlan_hi : dst->vlan_hi;
    c->src_port = s_port_hash(src->stp);
    c->dst_port = s_port_hash(dst->stp);
    c->asked_vlan = 0;
    for (uint32_t v = lo; v <= hi; v++) {
        bool refused = false;
        for (uint32_t i = 0; i < c->n_refused && !refused; i++) {
            refused = c->refused[i] == v;
        }
        if (refused || s_vlan_used(self, c, c->src_port, (uint16_t) v)
            || s_vlan_used(self, c, c->dst_port, (uint16_t) v)) {
            continue;
        }
        c->asked_vlan = (uint16_t) v;
        src->vlan_lo = src->vlan_hi = (uint16_t) v;
        dst->vlan_lo = dst->vlan_hi = (uint16_t) v;
        return;
    }
}

static void
s_reserve(struct s_nsi *self, struct s_conn *c)
{
    struct adapter_path *p = c->p;
    struct adapter_nsi_call call = { .op = ADAPTER_NSI_OP_RESERVE };
    char err[256], desc[64];
    if (adapter_nsi_soap_in_flight(self->soap) >= self->cfg->max_in_flight) {
        return;         /* next tick */
    }
    if (!adapter_nsi_host_end(self->cfg, p->r.src, &call.src, err, sizeof err)
        || !adapter_nsi_host_end(self->cfg, p->r.dst, &call.dst, err,
                                 sizeof err)) {
        s_fail(self, c, NULL, err);
        return;
    }
    s_pick_vlan(self, c, &call.src, &call.dst);
    /* Mbit/s, rounded up; 0 (none asked): nsi.capacity_mbps. */
    call.capacity_mbps = (uint32_t) ceil(p->r.bandwidth_mbps);
    call.global_id = c->gid;
    /* Booked ahead: the provider's calendar holds it, and brings the
     * data plane up at the start (leaving startTime out is "now"). */
    int64_t wall = (int64_t) (vtime_now_us() / 1000);
    call.start_ms = adapter_nsi_book_start_ms(p->r.start_us, wall);
    call.end_ms = (int64_t) (p->r.end_us / 1000);
    if (call.end_ms && call.end_ms <= wall + ADAPTER_NSI_BOOK_MARGIN_MS) {
        s_fail(self, c, NULL, "its end time came before it was reserved");
        return;
    }
    snprintf(desc, sizeof desc, "vreserve path %s", p->r.path_id);
    call.description = desc;
    uint64_t id = adapter_nsi_soap_start(self->soap, &call, s_on_done, self,
                                         err, sizeof err);
    if (!id) {
        s_fail(self, c, NULL, err);
        return;
    }
    c->call = id;
    c->call_op = ADAPTER_NSI_OP_RESERVE;
    s_time_call(c);
    c->reserve_sent = true;
    c->reserved_ms = self->now;
    self->n_calls++;
    VLOG_DEBUG("path %s: reserve %s -> %s vlan %u as %s", p->r.path_id,
               p->r.src, p->r.dst, c->asked_vlan, c->gid);
    if (call.start_ms) {
        VLOG_INFO("path %s: booked at the provider from %.1f s from now%s",
                  p->r.path_id, (double) (call.start_ms - wall) / 1e3,
                  call.end_ms ? " to its end time" : ", no end");
    }
}

static bool
s_same(const struct adapter_nsi_states *a, const struct adapter_nsi_states *b)
{
    return a->rsm == b->rsm && a->psm == b->psm && a->lsm == b->lsm
           && a->active == b->active;
}

/* 'c' reached Terminated (or the provider has nothing of it). */
static void
s_ended(struct s_nsi *self, struct s_conn *c)
{
    struct adapter_path *p = c->p;
    if (p && !adapter_path_ended(p->r.state)) {
        s_time_log(c, p, "down");
        adapter_core_set_state(self->core, p, P(DOWN), NULL);
    }
    if (!p) {
        VLOG_INFO_RL("connection %s: terminated",
                     c->cid[0] ? c->cid : c->gid);
    }
    s_drop(c);
}

/* The path of 'c' is up at the provider. */
static void
s_reached_up(struct s_nsi *self, struct s_conn *c)
{
    struct adapter_path *p = c->p;
    char why[320];
    c->poll_at = self->now + S_STEADY_POLL_MS;
    if (c->is_up || !p) {
        return;
    }
    if (p->r.state == P(UP)) {     /* adopted as it was */
        c->is_up = true;
        return;
    }
    s_time_log(c, p, "up");
    if (p->r.start_us) {
        int64_t late = (int64_t) (vtime_now_us() / 1000)
                       - (int64_t) (p->r.start_us / 1000);
        VLOG_INFO("path %s: booked start came: data plane active %+" PRId64
                  " ms from it", p->r.path_id, late);
    }
    c->is_up = true;            /* "booked" leaves the detail */
    s_set_detail(self, c);
    c->is_up = false;
    if (adapter_core_up(self->core, p, why, sizeof why) != 0) {
        /* A restart would not know of it: give it back now. */
        adapter_core_set_state(self->core, p, P(TEARING_DOWN), why);
        c->up = false;
        c->poll_at = self->now;
        return;
    }
    c->is_up = true;
}

/* Whether 'c', on its way down, has stayed Terminating so long that its
 * terminate is sent again (3 s after the first was acknowledged, then 6,
 * 12, 24 and 48 s).  Terminate is idempotent in NSI (Terminating to
 * Terminating is a legal transition).  OpenNSA stopped while it passed a
 * terminate on to its backend leaves the connection Terminating for good:
 * if the backend never got it, a second terminate ends it; if it did,
 * nothing moves it (and nothing is held there).  So its path does not
 * wait on it: with the data plane inactive the path is down at the first
 * terminate sent again.  Acknowledged S_MAX_TERMINATES times, the
 * connection is given up. */
static bool
s_terminating_stuck(struct s_nsi *self, struct s_conn *c)
{
    if (c->st.lsm != ADAPTER_NSI_LSM_TERMINATING) {
        c->terminating_ms = 0;
        return false;
    }
    if (!c->terminating_ms) {
        c->terminating_ms = self->now;
    }
    uint32_t shift = c->terminates < 2 ? 0 : c->terminates < 5
                     ? c->terminates - 1 : 4;
    int64_t wait = (int64_t) S_TERMINATING_MS << shift;
    if (self->now - c->terminating_ms < wait) {
        return false;
    }
    if (c->terminates >= S_MAX_TERMINATES) {
        VLOG_WARN_RL("connection %s: still Terminating after %u "
                     "terminates: given up (the next start's sweep tries "
                     "again)", c->cid, c->terminates);
        self->n_dropped++;
        if (c->p) {
            char why[256];
            struct adapter_path *p = c->p;
            log_format(why, sizeof why, "teardown: the provider leaves "
                       "connection %s Terminating after %u terminates",
                       c->cid, c->terminates);
            s_detach(c);
            adapter_core_set_state(self->core, p, P(FAILED), why);
        }
        c->dead = true;
        return false;
    }
    if (c->p && !c->st.active) {
        /* Its data plane carries nothing: the path is down, whatever
         * the provider's bookkeeping says.  Its path waiting on the
         * provider could wait for good (the case above); the
         * connection is terminated again in the background, an orphan
         * now. */
        struct adapter_path *p = c->p;
        VLOG_INFO("path %s: connection %s left Terminating by the provider, "
                  "its data plane inactive: path down, the connection "
                  "terminated again in the background", p->r.path_id,
                  c->cid);
        s_time_log(c, p, "down");
        s_detach(c);
        if (!adapter_path_ended(p->r.state)) {
            adapter_core_set_state(self->core, p, P(DOWN), NULL);
        }
    }
    /* The first of each connection always shows (tests look for it). */
    if (c->terminates == 1) {
        VLOG_INFO("connection %s: Terminating for %" PRId64 " ms: "
                  "terminate again", c->cid, self->now - c->terminating_ms);
    } else {
        VLOG_INFO_RL("connection %s: Terminating for %" PRId64 " ms: "
                     "terminate again", c->cid,
                     self->now - c->terminating_ms);
    }
    self->n_reterminated++;
    return true;
}

/* Whether 'c', on its way down, has stayed Releasing (or Provisioning)
 * for S_TRANSIT_MS: it is then terminated rather than waited for.
 * OpenNSA stopped while it passed a release on to its backend leaves the
 * connection Releasing for good (seen under chaos: the provider killed
 * right after a release); a release passes in tens of ms otherwise.
 * Terminate is valid in every provision state, and ends the data plane
 * with the connection. */
static bool
s_transit_stuck(struct s_nsi *self, struct s_conn *c)
{
    if (c->st.lsm != ADAPTER_NSI_LSM_CREATED
        || (c->st.psm != ADAPTER_NSI_PSM_RELEASING
            && c->st.psm != ADAPTER_NSI_PSM_PROVISIONING)) {
        c->transit_ms = 0;
        return false;
    }
    if (!c->transit_ms) {
        c->transit_ms = self->now;
    }
    if (self->now - c->transit_ms < S_TRANSIT_MS) {
        return false;
    }
    VLOG_INFO_RL("connection %s: %s for %" PRId64 " ms on its way down: "
                 "terminated rather than waited for", c->cid,
                 c->st.psm == ADAPTER_NSI_PSM_RELEASING ? "Releasing"
                                                        : "Provisioning",
                 self->now - c->transit_ms);
    return true;
}

/* What to do after the states of 'c' were read. */
static void
s_next(struct s_nsi *self, struct s_conn *c)
{
    char st[96];
    enum adapter_nsi_next next = adapter_nsi_state_next(&c->st, c->up,
                                                        c->committed);
    if (!c->up && c->p) {
        /* At its booked end the provider ends it: no release then. */
        next = adapter_nsi_book_down_step(next, &c->st, c->p->r.end_us,
                                          (int64_t) (vtime_now_us() / 1000));
    }
    if (c->up && adapter_nsi_state_path(&c->st, false)
                 == ADAPTER_NSI_PATH_FAILED) {
        next = ADAPTER_NSI_NEXT_FAIL;
    }
    if (!c->up && next == ADAPTER_NSI_NEXT_WAIT && s_transit_stuck(self, c)) {
        next = ADAPTER_NSI_NEXT_TERMINATE;
        if (c->last_sent != next) {
            self->n_transit_terminated++;
        }
    }
    /* An acknowledged step may not show yet: not again until the states
     * move. */
    if (next == c->last_sent && s_same(&c->st, &c->sent_at)) {
        next = ADAPTER_NSI_NEXT_WAIT;
    }
    if (!c->up && s_terminating_stuck(self, c)) {
        next = ADAPTER_NSI_NEXT_TERMINATE;
    }
    /* A hold not committed is aborted before it is terminated. */
    if (!c->up && next == ADAPTER_NSI_NEXT_TERMINATE
        && c->st.rsm == ADAPTER_NSI_RSM_HELD && !c->committed && !c->aborted
        && c->st.lsm == ADAPTER_NSI_LSM_CREATED) {
        s_start(self, c, ADAPTER_NSI_OP_RESERVE_ABORT);
        return;
    }
    /* Not committed by the deadline, whether held or not (a provider
     * may stay in ReserveChecking): the hold is given up. */
    int64_t since = self->now - c->reserved_ms;
    if (c->up && !c->committed && !c->is_up && !s_test_past_deadline
        && next != ADAPTER_NSI_NEXT_FAIL
        && since > (int64_t) self->cfg->commit_deadline_ms) {
        char why[256];
        log_format(why, sizeof why, "hold timed out: not committed within "
                   "nsi.commit_deadline_ms (%" PRIu32 " ms; %" PRId64 " ms "
                   "since the reserve; %s): aborted",
                   self->cfg->commit_deadline_ms, since,
                   adapter_nsi_states_format(&c->st, st, sizeof st));
        s_fail(self, c, NULL, why);
        return;
    }
    switch (next) {
    case ADAPTER_NSI_NEXT_WAIT:
        c->poll_at = self->now + (c->is_up && c->up ? S_STEADY_POLL_MS
                                                    : self->cfg->poll_ms);
        if (c->terminating_ms && self->now - c->terminating_ms > 1000
            && self->cfg->poll_ms < 500) {
            /* A terminate passes in ~100 ms: one that has not is slow. */
            c->poll_at = self->now + 500;
        }
        if (c->up && !c->is_up && c->committed && c->p
            && c->st.psm == ADAPTER_NSI_PSM_PROVISIONED && !c->st.active) {
            /* Booked: the provider activates it at the start; until
             * then a poll now and then, from the start every poll_ms. */
            c->poll_at = self->now
                         + adapter_nsi_book_wait_ms(
                             c->p->r.start_us,
                             (int64_t) (vtime_now_us() / 1000),
                             self->cfg->poll_ms, S_STEADY_POLL_MS);
        }
        return;
    case ADAPTER_NSI_NEXT_COMMIT:
        if (s_test_commit_delay_ms
            && self->now < c->held_ms + s_test_commit_delay_ms) {
            c->poll_at = c->held_ms + s_test_commit_delay_ms;
            return;
        }
        s_start(self, c, ADAPTER_NSI_OP_RESERVE_COMMIT);
        return;
    case ADAPTER_NSI_NEXT_PROVISION:
        if (s_test_provision_delay_ms && c->committed_ms
            && self->now < c->committed_ms + s_test_provision_delay_ms) {
            c->poll_at = c->committed_ms + s_test_provision_delay_ms;
            return;
        }
        s_start(self, c, ADAPTER_NSI_OP_PROVISION);
        return;
    case ADAPTER_NSI_NEXT_RELEASE:
        s_start(self, c, ADAPTER_NSI_OP_RELEASE);
        return;
    case ADAPTER_NSI_NEXT_TERMINATE:
        s_start(self, c, ADAPTER_NSI_OP_TERMINATE);
        return;
    case ADAPTER_NSI_NEXT_DONE:
        if (c->up && !c->is_up && s_test_up_delay_ms && c->provision_ms
            && self->now < c->provision_ms + s_test_up_delay_ms) {
            c->poll_at = c->provision_ms + s_test_up_delay_ms;
            return;
        }
        if (c->up) {
            s_reached_up(self, c);
        } else {
            s_ended(self, c);
        }
        return;
    case ADAPTER_NSI_NEXT_FAIL: {
        char why[256];
        adapter_nsi_states_format(&c->st, st, sizeof st);
        if (c->st.rsm == ADAPTER_NSI_RSM_TIMEOUT) {
            log_format(why, sizeof why, "hold timed out at the provider "
                       "(connection %s: %s)", c->cid, st);
        } else if (c->is_up) {
            log_format(why, sizeof why, "the provider ended connection %s "
                       "(%s)", c->cid, st);
        } else {
            log_format(why, sizeof why, "the provider failed connection %s "
                       "(%s)", c->cid, st);
        }
        s_fail(self, c, NULL, why);
        return;
    }
    }
}

/* A querySummarySync about 'c' came back. */
static void
s_on_query(struct s_nsi *self, struct s_conn *c,
           const struct adapter_nsi_result *res)
{
    const struct adapter_nsi_reservation *r = NULL;
    for (size_t i = 0; res->status == ADAPTER_NSI_OK && i < res->n_resv;
         i++) {
        if (!strcmp(res->resv[i].connection_id, c->cid)) {
            r = &res->resv[i];
        }
    }
    /* 00203: OpenNSA's "unknown connection id". */
    bool unknown = res->status == ADAPTER_NSI_FAULT
                   && !strcmp(res->error_id, "00203");
    if ((res->status == ADAPTER_NSI_OK && !r) || unknown) {
        /* Unknown to the provider: nothing of it to end. */
        if (c->up && c->p) {
            char why[256];
            log_format(why, sizeof why, "the provider does not know "
                       "connection %s", c->cid);
            s_fail(self, c, NULL, why);
            c->dead = true;
        } else {
            s_ended(self, c);
        }
        return;
    }
    if (res->status != ADAPTER_NSI_OK && c->up && c->p && !c->is_up
        && adapter_nsi_retry_applies(res)) {
        char why[ADAPTER_NSI_ERROR_SIZE + 160];
        if (!s_retry(self, c, res, why, sizeof why)) {
            s_fail(self, c, NULL, why);
        }
        return;
    }
    if (res->status != ADAPTER_NSI_OK) {
        c->errors++;
        s_backoff(self, c);
        VLOG_WARN_RL("connection %s: query: %s%s%s", c->cid, res->error,
                     res->error_id[0] ? " errorId " : "", res->error_id);
        if (c->up && c->p && !c->is_up && c->errors >= S_UP_ERRORS) {
            char why[ADAPTER_NSI_ERROR_SIZE + 64];
            log_format(why, sizeof why, "provider unreachable: query "
                       "failed %u times: %s", c->errors, res->error);
            s_fail(self, c, res->error_id, why);
        }
        return;
    }
    c->errors = 0;
    adapter_nsi_retry_reset(&c->retry);
    if (c->infer_commit) {
        /* Adopted while being set up: a hold shows ReserveHeld, a
         * committed reservation ReserveStart (ReserveStart before the
         * check lasts milliseconds only). */
        c->infer_commit = false;
        c->committed = r->states.rsm != ADAPTER_NSI_RSM_HELD
                       && r->states.rsm != ADAPTER_NSI_RSM_CHECKING;
    }
    if (!c->seen || !s_same(&c->st, &r->states)) {
        char st[96];
        VLOG_DEBUG("connection %s: %s", c->cid,
                   adapter_nsi_states_format(&r->states, st, sizeof st));
    }
    if (c->is_up && c->up && !r->states.active && c->st.active) {
        /* Kept up: the provider may bring it back; its states show. */
        VLOG_WARN_RL("path %s: connection %s: the provider's data plane "
                     "is no longer active", c->p ? c->p->r.path_id : "-",
                     c->cid);
    }
    c->st = r->states;
    c->seen = true;
    if (c->st.rsm == ADAPTER_NSI_RSM_HELD && !c->held_ms) {
        c->held_ms = self->now;
    }
    if (r->src.vlan_lo && r->src.vlan_lo == r->src.vlan_hi
        && r->dst.vlan_lo && r->dst.vlan_lo == r->dst.vlan_hi) {
        c->vlan_src = r->src.vlan_lo;
        c->vlan_dst = r->dst.vlan_lo;
    }
    if (c->p && c->vlan_src != c->vlan_dst && !c->said_two
        && c->p->r.state == P(PROVISIONING)) {
        /* A provider that swaps labels chose two: each host takes its
         * own end's (the provider translates between them). */
        VLOG_INFO("path %s: the provider chose VLAN %u at %s and %u at %s "
                  "(connection %s): each host takes its own", c->p->r.path_id,
                  c->vlan_src, c->p->r.src, c->vlan_dst, c->p->r.dst,
                  c->cid);
        c->said_two = true;
    }
    if (c->p) {
        adapter_core_provider(self->core, c->p,
                              adapter_nsi_rsm_name(c->st.rsm),
                              adapter_nsi_psm_name(c->st.psm),
                              adapter_nsi_lsm_name(c->st.lsm));
        s_set_detail(self, c);
    }
    s_next(self, c);
}

static void
s_on_reserve(struct s_nsi *self, struct s_conn *c,
             const struct adapter_nsi_result *res)
{
    if (res->connection_id[0]) {
        snprintf(c->cid, sizeof c->cid, "%s", res->connection_id);
    }
    if (!c->up && c->p) {
        /* Torn down while the reserve was out: end what it made. */
        if (c->cid[0]) {
            s_save_ref(self, c);
            c->poll_at = self->now;
        } else if (res->status == ADAPTER_NSI_FAULT) {
            s_ended(self, c);
        } else {
            c->want_list = true;
        }
        return;
    }
    if (res->status != ADAPTER_NSI_OK && c->up && c->p && !c->cid[0]
        && adapter_nsi_retry_applies(res)) {
        /* Never reached the provider: nothing was made there. */
        char why[ADAPTER_NSI_ERROR_SIZE + 160];
        c->reserve_sent = false;
        if (!s_retry(self, c, res, why, sizeof why)) {
            s_fail(self, c, NULL, why);
        }
        return;
    }
    if (res->status == ADAPTER_NSI_OK) {
        adapter_nsi_retry_reset(&c->retry);
        /* The id first: a restart from here on finds the connection. */
        if (c->p && s_save_ref(self, c) != 0) {
            VLOG_WARN_RL("path %s: connection %s not recorded",
                         c->p->r.path_id, c->cid);
        }
        s_set_detail(self, c);
        c->poll_at = self->now;
        return;
    }
    char why[ADAPTER_NSI_ERROR_SIZE + 32];
    log_format(why, sizeof why, "reserve: %s", s_error(res));
    /* 00704: the VLAN we chose is taken at the provider (by another
     * requester): the next free one, a few times. */
    if (res->status == ADAPTER_NSI_FAULT && c->asked_vlan && !c->cid[0]
        && c->up && c->p && !strcmp(res->error_id, "00704")
        && c->n_refused < S_MAX_VLAN_TRIES) {
        VLOG_INFO_RL("path %s: VLAN %u taken at the provider: trying "
                     "another", c->p ? c->p->r.path_id : "-",
                     c->asked_vlan);
        c->refused[c->n_refused++] = c->asked_vlan;
        c->asked_vlan = 0;
        c->reserve_sent = false;
        c->poll_at = self->now;
        return;
    }
    if (res->status == ADAPTER_NSI_FAULT) {
        /* Refused: nothing held, unless the fault names a connection. */
        s_fail(self, c, res->error_id, why);
        if (!c->cid[0]) {
            c->dead = true;
        }
        return;
    }
    /* No usable answer: the provider may have made it all the same.
     * Look for our global id among our connections, end what is found. */
    s_fail(self, c, NULL, why);
    if (!c->cid[0]) {
        c->want_list = true;
    }
}

/* Another operation on 'c' came back. */
static void
s_on_op(struct s_nsi *self, struct s_conn *c,
        const struct adapter_nsi_result *res, enum adapter_nsi_op op)
{
    if (res->status == ADAPTER_NSI_OK) {
        c->errors = 0;
        adapter_nsi_retry_reset(&c->retry);
        if (op == ADAPTER_NSI_OP_RESERVE_COMMIT) {
            c->committed = true;
            c->committed_ms = self->now;
            if (s_test_provision_delay_ms && c->p) {
                VLOG_INFO("test: path %s: committed (connection %s), the "
                          "provision held back %" PRIu32 " ms",
                          c->p->r.path_id, c->cid,
                          s_test_provision_delay_ms);
            }
        } else if (op == ADAPTER_NSI_OP_PROVISION) {
            c->provision_ms = self->now;
            if (s_test_up_delay_ms && c->p) {
                VLOG_INFO("test: path %s: provision acknowledged "
                          "(connection %s), up held back %" PRIu32 " ms",
                          c->p->r.path_id, c->cid, s_test_up_delay_ms);
            }
        } else if (op == ADAPTER_NSI_OP_RESERVE_ABORT) {
            c->aborted = true;
        } else if (op == ADAPTER_NSI_OP_TERMINATE) {
            c->terminates++;
            c->terminating_ms = self->now;
        }
        c->last_sent = op == ADAPTER_NSI_OP_RESERVE_COMMIT
                       ? ADAPTER_NSI_NEXT_COMMIT
                       : op == ADAPTER_NSI_OP_PROVISION
                       ? ADAPTER_NSI_NEXT_PROVISION
                       : op == ADAPTER_NSI_OP_RELEASE
                       ? ADAPTER_NSI_NEXT_RELEASE
                       : op == ADAPTER_NSI_OP_TERMINATE
                       ? ADAPTER_NSI_NEXT_TERMINATE : ADAPTER_NSI_NEXT_WAIT;
        c->sent_at = c->st;
        c->poll_at = self->now;
        return;
    }
    char why[ADAPTER_NSI_ERROR_SIZE + 200];
    if (c->up && !c->is_up && adapter_nsi_retry_applies(res)) {
        /* Asked again once the states are read again. */
        c->last_sent = ADAPTER_NSI_NEXT_WAIT;
        if (!s_retry(self, c, res, why, sizeof why)) {
            s_fail(self, c, NULL, why);
        }
        return;
    }
    if (c->up) {
        int64_t held = c->held_ms ? c->held_ms : c->reserved_ms;
        if (op == ADAPTER_NSI_OP_RESERVE_COMMIT && held
            && adapter_nsi_hold_expired(held, self->now,
                                        self->cfg->hold_timeout_ms)) {
            log_format(why, sizeof why, "hold timed out at the provider "
                       "(held %" PRId64 " ms, its timeout %" PRIu32 " ms): "
                       "commit refused: %s", self->now - held,
                       self->cfg->hold_timeout_ms, res->error);
        } else {
            log_format(why, sizeof why, "%s: %s", adapter_nsi_op_name(op),
                       s_error(res));
        }
        s_fail(self, c, res->error_id, why);
        return;
    }
    /* On the way down: poll, and try again what the states then say; a
     * refused abort is not sent again (the hold may have timed out at the
     * provider): terminate is valid in every state. */
    c->errors++;
    if (op == ADAPTER_NSI_OP_RESERVE_ABORT) {
        c->aborted = true;
    }
    c->last_sent = ADAPTER_NSI_NEXT_WAIT;
    s_backoff(self, c);
    VLOG_WARN_RL("connection %s: %s: %s%s%s", c->cid,
                 adapter_nsi_op_name(op), res->error,
                 res->error_id[0] ? " errorId " : "", res->error_id);
    if (c->p && c->errors >= S_DOWN_ERRORS) {
        log_format(why, sizeof why, "teardown failed %u times (%s: %s): "
                   "the provider may still hold connection %s; tried "
                   "again in the background", c->errors,
                   adapter_nsi_op_name(op), res->error, c->cid);
        struct adapter_path *p = c->p;
        s_detach(c);
        adapter_core_set_state(self->core, p, P(FAILED), why);
    } else if (!c->p && c->errors >= S_ORPHAN_ERRORS) {
        VLOG_WARN_RL("connection %s: given up after %u failures: the "
                     "provider may still hold it (the next start's sweep "
                     "tries again)", c->cid, c->errors);
        self->n_dropped++;
        c->dead = true;
    }
}

/* A listing of all our connections came back: find the connections we
 * know only by global id, and at start end what no path owns. */
static void
s_on_list(struct s_nsi *self, const struct adapter_nsi_result *res)
{
    if (res->status != ADAPTER_NSI_OK) {
        self->list_fails++;
        self->list_at = self->now + (int64_t) self->cfg->request_timeout_ms;
        VLOG_WARN_RL("listing our connections failed (%u in a row): %s",
                     self->list_fails, res->error);
        if (self->list_fails < S_MAX_LIST_FAILS) {
            return;
        }
        VLOG_WARN("listing our connections failed %u times: connections "
                  "known by global id only are given up, no sweep",
                  self->list_fails);
        self->sweep_due = false;
        for (struct s_conn *c = self->conns; c; c = c->next) {
            if (c->want_list) {
                self->n_dropped++;
                if (c->p) {
                    adapter_core_set_state(self->core, c->p, P(FAILED),
                                           "could not find its connection "
                                           "at the provider");
                }
                s_drop(c);
            }
        }
        return;
    }
    self->list_fails = 0;
    self->list_at = self->now + (int64_t) self->cfg->request_timeout_ms;
    for (struct s_conn *c = self->conns; c; c = c->next) {
        if (!c->want_list || c->dead) {
            continue;
        }
        const struct adapter_nsi_reservation *r = NULL;
        for (size_t i = 0; i < res->n_resv && !r; i++) {
            if (!strcmp(res->resv[i].global_id, c->gid)) {
                r = &res->resv[i];
            }
        }
        if (r) {
            c->want_list = false;
            snprintf(c->cid, sizeof c->cid, "%s", r->connection_id);
            VLOG_INFO_RL("global id %s is connection %s: ending it",
                         c->gid, c->cid);
            s_save_ref(self, c);
            c->poll_at = self->now;
        } else if (++c->list_tries >= S_LIST_TRIES) {
            /* Asked twice, request_timeout_ms apart: the reserve never
             * reached the provider, or was refused. */
            VLOG_INFO_RL("global id %s: no connection at the provider",
                         c->gid);
            s_ended(self, c);
        }
    }
    if (!self->sweep_due) {
        return;
    }
    /* The sweep: every connection of our requester NSA that is not
     * Terminated and that no connection here (a held path's, or one being
     * ended) has is a leftover (a path that ended while its teardown was
     * under way, or of a record since lost): it is terminated. */
    self->sweep_due = false;
    for (size_t i = 0; i < res->n_resv; i++) {
        const struct adapter_nsi_reservation *r = &res->resv[i];
        bool ours = false;
        if (r->states.lsm == ADAPTER_NSI_LSM_TERMINATED) {
            continue;
        }
        for (struct s_conn *c = self->conns; c && !ours; c = c->next) {
            ours = !c->dead
                   && ((c->cid[0] && !strcmp(c->cid, r->connection_id))
                       || (c->gid[0] && !strcmp(c->gid, r->global_id)));
        }
        if (ours) {
            continue;
        }
        struct s_conn *c = s_conn_new(self, NULL);
        if (!c) {
            VLOG_WARN_RL("sweep: connection %s not ended: %zu connections "
                         "held", r->connection_id, self->n_conns);
            continue;
        }
        snprintf(c->cid, sizeof c->cid, "%s", r->connection_id);
        snprintf(c->gid, sizeof c->gid, "%s", "");
        c->st = r->states;
        c->seen = true;
        c->poll_at = self->now;
        self->n_swept++;
        VLOG_WARN_RL("sweep: connection %s (%s) is owned by no path: "
                     "ending it", c->cid,
                     LOG_ESC(r->description[0] ? r->description : "-"));
    }
}

static void
s_on_done(void *arg, uint64_t id, const struct adapter_nsi_result *res)
{
    struct s_nsi *self = arg;
    if (res->status == ADAPTER_NSI_FAULT) {
        self->n_faults++;
    } else if (res->status == ADAPTER_NSI_FAILED) {
        self->n_failures++;
    }
    if (id == self->list_call) {
        self->list_call = 0;
        s_on_list(self, res);
        return;
    }
    struct s_conn *c = self->conns;
    while (c && c->call != id) {
        c = c->next;
    }
    if (!c) {
        return;
    }
    enum adapter_nsi_op op = c->call_op;
    c->call = 0;
    c->t_provider += res->elapsed_ms;
    c->t_answer = s_mono_ms();
    if (c->dead) {
        return;
    }
    if (op == ADAPTER_NSI_OP_RESERVE) {
        s_on_reserve(self, c, res);
    } else if (op == ADAPTER_NSI_OP_QUERY) {
        s_on_query(self, c, res);
    } else {
        s_on_op(self, c, res, op);
    }
}

/* ------------------------------------------------------------------ */
/* The table. */

static bool
s_check(const struct adapter_cfg *cfg, const char *cfg_path, char *err,
        size_t size)
{
    (void) cfg_path;
    if (!adapter_nsi_config_check(&cfg->nsi, err, size)) {
        return false;
    }
    if (!cfg->nsi.provider_url) {
        log_format(err, size, "nsi.provider_url: required with backend nsi");
        return false;
    }
    if (!cfg->nsi.hosts.n) {
        log_format(err, size, "nsi.hosts: empty: no host can have a path");
        return false;
    }
    adapter_pool_t *pool = adapter_pool_new(cfg->nsi.link_pool,
                                            "nsi.link_pool", err, size);
    bool ok = pool != NULL;
    adapter_pool_destroy(&pool);
    return ok;
}

static void
s_close(void *arg)
{
    struct s_nsi *self = arg;
    if (!self) {
        return;
    }
    adapter_nsi_soap_destroy(&self->soap);
    adapter_pool_destroy(&self->pool);
    while (self->conns) {
        struct s_conn *c = self->conns;
        self->conns = c->next;
        if (c->p) {
            c->p->be = NULL;
        }
        free(c);
    }
    free(self);
}

static void *
s_open(adapter_core_t *core, const struct adapter_cfg *cfg,
       const char *cfg_path, char *err, size_t size)
{
    (void) cfg_path;
    struct s_nsi *self = calloc(1, sizeof *self);
    if (!self) {
        log_format(err, size, "out of memory");
        return NULL;
    }
    self->core = core;
    self->cfg = &cfg->nsi;
    self->soap = adapter_nsi_soap_new(&cfg->nsi, err, size);
    self->pool = self->soap ? adapter_pool_new(cfg->nsi.link_pool,
                                               "nsi.link_pool", err, size)
                            : NULL;
    if (!self->pool) {
        s_close(self);
        return NULL;
    }
    if (s_test_provision_delay_ms || s_test_up_delay_ms) {
        VLOG_WARN("test: every provision waits %" PRIu32 " ms after the "
                  "commit, every path up %" PRIu32 " ms after the "
                  "provision", s_test_provision_delay_ms,
                  s_test_up_delay_ms);
    }
    if (s_test_commit_delay_ms) {
        VLOG_WARN("test: every reserveCommit waits %" PRIu32 " ms after "
                  "the hold%s", s_test_commit_delay_ms,
                  s_test_past_deadline ? ", past nsi.commit_deadline_ms"
                                       : "");
    }
    return self;
}

static void
s_describe(void *arg, char *buf, size_t size)
{
    struct s_nsi *self = arg;
    snprintf(buf, size, "provider %s (%s) as %s, %zu hosts, poll %" PRIu32
             " ms, commit within %" PRIu32 " ms of a %" PRIu32 " ms hold",
             LOG_ESC(self->cfg->provider_url),
             self->cfg->provider_nsa ? self->cfg->provider_nsa : "-",
             self->cfg->requester_nsa, self->cfg->hosts.n,
             self->cfg->poll_ms, self->cfg->commit_deadline_ms,
             self->cfg->hold_timeout_ms);
}

static int
s_admit(void *arg, struct adapter_path *p, char *err, size_t size)
{
    struct s_nsi *self = arg;
    struct adapter_nsi_end end;
    char why[256];
    if (!adapter_nsi_host_end(self->cfg, p->r.src, &end, why, sizeof why)
        || !adapter_nsi_host_end(self->cfg, p->r.dst, &end, why,
                                 sizeof why)) {
        log_format(err, size, "not reservable over NSI: %s", why);
        return EINVAL;
    }
    if (!(p->r.bandwidth_mbps <= ADAPTER_NSI_MAX_CAPACITY)) {
        log_format(err, size, "bandwidth %g Mbit/s: more than NSI's %u",
                   p->r.bandwidth_mbps, ADAPTER_NSI_MAX_CAPACITY);
        return EINVAL;
    }
    if (self->n_conns >= S_MAX_CONNS) {
        log_format(err, size, "%zu NSI connections held already",
                   self->n_conns);
        return EBUSY;
    }
    /* The address of each end's VLAN sub-interface (the agents make
     * them once the path is up). */
    if (adapter_pool_take(self->pool, p->r.n, p->r.src_link, p->r.dst_link,
                          sizeof p->r.src_link, err, size) != 0) {
        return EBUSY;
    }
    p->r.prefix_len = ADAPTER_POOL_PREFIX_LEN;
    return 0;
}

static void
s_cancel(void *arg, struct adapter_path *p)
{
    struct s_nsi *self = arg;
    adapter_pool_free(self->pool, p->r.n);
}

static void
s_create(void *arg, struct adapter_path *p)
{
    struct s_nsi *self = arg;
    struct s_conn *c = s_conn_new(self, p);
    if (!c) {
        adapter_core_set_state(self->core, p, P(FAILED), "out of memory, "
                               "or too many NSI connections");
        return;
    }
    c->up = true;
    c->poll_at = s_mono_ms();
    s_time_begin(c);
    adapter_nsi_new_uuid(c->gid, sizeof c->gid);
    /* The global id is recorded before the reserve goes out: a restart
     * that finds no connection id looks for it at the provider. */
    if (s_save_ref(self, c) != 0) {
        c->dead = true;
        s_detach(c);
        adapter_core_set_state(self->core, p, P(FAILED), "the adapter's "
                               "state store failed: nothing was asked of "
                               "the provider");
        return;
    }
    s_set_detail(self, c);
    self->now = s_mono_ms();
    s_reserve(self, c);
}

static void
s_teardown(void *arg, struct adapter_path *p)
{
    struct s_nsi *self = arg;
    struct s_conn *c = p->be;
    if (!c) {
        adapter_core_set_state(self->core, p, P(DOWN), NULL);
        return;
    }
    c->up = false;
    c->poll_at = s_mono_ms();
    s_time_begin(c);
    if (c->call) {
        c->t_answer = 0;    /* counted from the answer in flight */
    }
    if (!c->reserve_sent && !c->cid[0] && !c->want_list) {
        /* The reserve never went out. */
        s_drop(c);
        adapter_core_set_state(self->core, p, P(DOWN), NULL);
    }
}

static void
s_tick(void *arg, uint64_t now_ms)
{
    struct s_nsi *self = arg;
    /* The answers' callbacks schedule from now, not the last tick. */
    self->now = (int64_t) now_ms;
    adapter_nsi_soap_tick(self->soap, 0);
    bool want_list = self->sweep_due;
    int64_t next = -1;          /* the earliest step due later */
    struct s_conn **pp = &self->conns;
    while (*pp) {
        struct s_conn *c = *pp;
        if (c->dead && !c->call) {
            *pp = c->next;
            if (c->p) {
                c->p->be = NULL;
            }
            self->n_conns--;
            free(c);
            continue;
        }
        pp = &c->next;
        if (c->dead || c->call) {
            continue;
        }
        if (self->now < c->poll_at) {
            next = next < 0 || c->poll_at < next ? c->poll_at : next;
            continue;
        }
        if (c->want_list) {
            want_list = true;
        } else if (!c->cid[0]) {
            if (c->up && c->p && !c->reserve_sent) {
                s_reserve(self, c);
            } else if (!c->reserve_sent) {
                s_drop(c);
            }
            /* else the reserve's reply is awaited */
        } else {
            s_start(self, c, ADAPTER_NSI_OP_QUERY);
        }
    }
    if (want_list && !self->list_call && self->now >= self->list_at
        && adapter_nsi_soap_in_flight(self->soap) < self->cfg->max_in_flight) {
        struct adapter_nsi_call call = { .op = ADAPTER_NSI_OP_QUERY };
        char err[256];
        self->list_call = adapter_nsi_soap_start(self->soap, &call,
                                                 s_on_done, self, err,
                                                 sizeof err);
        if (self->list_call) {
            self->n_calls++;
        } else {
            VLOG_WARN_RL("listing our connections not sent: %s", err);
            self->list_at = self->now + S_MAX_BACKOFF_MS;
        }
    }
    /* The next poll on time, not at the next tick_ms after it. */
    adapter_nsi_soap_wake_at(self->soap, next);
}

static int
s_wait_fd(void *arg)
{
    struct s_nsi *self = arg;
    return adapter_nsi_soap_fd(self->soap);
}

static void
s_adopt(void *arg, struct adapter_path *p)
{
    struct s_nsi *self = arg;
    char cid[ADAPTER_NSI_ID_MAX + 1], gid[ADAPTER_NSI_GID_LEN + 1];
    char how[256];
    if (p->r.src_link[0] && !adapter_pool_adopt(self->pool, p->r.n,
                                                p->r.src_link)) {
        VLOG_WARN("path p-%" PRIu64 ": its link address %s is not a free "
                  "/30 of nsi.link_pool: kept, but the pool may hand it out "
                  "again", p->r.n, LOG_ESC(p->r.src_link));
    }
    if (!adapter_nsi_ref_parse(p->r.backend_ref, cid, sizeof cid, gid,
                               sizeof gid)) {
        /* Nothing recorded: the reserve never went out. */
        if (p->r.state == P(TEARING_DOWN)) {
            adapter_core_set_state(self->core, p, P(DOWN), NULL);
        } else {
            log_format(how, sizeof how, "the adapter restarted before the "
                       "reserve went out (backend_ref '%s'): nothing at the "
                       "provider", LOG_ESC(p->r.backend_ref));
            adapter_core_lost(self->core, p, how);
        }
        return;
    }
    struct s_conn *c = s_conn_new(self, p);
    if (!c) {
        adapter_core_lost(self->core, p, "out of memory, or too many NSI "
                          "connections");
        return;
    }
    int64_t now = s_mono_ms();
    struct adapter_nsi_end src, dst;
    char err[256];
    if (adapter_nsi_host_end(self->cfg, p->r.src, &src, err, sizeof err)
        && adapter_nsi_host_end(self->cfg, p->r.dst, &dst, err, sizeof err)) {
        c->src_port = s_port_hash(src.stp);
        c->dst_port = s_port_hash(dst.stp);
    }
    snprintf(c->cid, sizeof c->cid, "%s", cid);
    snprintf(c->gid, sizeof c->gid, "%s", gid);
    c->reserve_sent = true;
    c->poll_at = now;
    if (!cid[0]) {
        /* Killed between the reserve and its reply: find the global id
         * among our connections and end what matches. */
        c->want_list = true;
        if (p->r.state == P(TEARING_DOWN)) {
            return;
        }
        s_detach(c);
        adapter_core_lost(self->core, p, "the adapter restarted before the "
                          "reserve's reply: its connection, if the "
                          "provider made one, is terminated");
        return;
    }
    switch (p->r.state) {
    case P(UP):
        c->up = c->committed = c->is_up = true;
        log_format(how, sizeof how, "connection %s, checked at the "
                   "provider next", cid);
        adapter_core_adopted(self->core, p, how);
        break;
    case P(PROVISIONING): {
        /* Set up further from the states the provider shows; the commit
         * deadline counts from the path's creation. */
        int64_t age = (int64_t) ((vtime_now_us() - p->r.created_us) / 1000);
        c->up = c->infer_commit = true;
        c->reserved_ms = now - (age > 0 ? age : 0);
        log_format(how, sizeof how, "connection %s, still being set up",
                   cid);
        adapter_core_adopted(self->core, p, how);
        break;
    }
    default:    /* TEARING_DOWN: finished */
        c->up = false;
        break;
    }
}

static size_t
s_sweep(void *arg, adapter_backend_keep_fn *keep, void *keep_arg)
{
    /* Asynchronous: a listing of all our connections is asked for in the
     * next tick; those no connection here owns are terminated then
     * (s_on_list; counted in nsi_swept).  Every path the core holds open
     * has a connection record here, so 'keep' adds nothing. */
    (void) keep;
    (void) keep_arg;
    struct s_nsi *self = arg;
    self->sweep_due = true;
    return 0;
}

static void
s_status(void *arg, struct adapter_status *st)
{
    struct s_nsi *self = arg;
    size_t live = 0, orphans = 0;
    for (struct s_conn *c = self->conns; c; c = c->next) {
        if (!c->dead && c->cid[0]) {
            live++;
            orphans += !c->p;
        }
    }
    adapter_core_status_counter(st, "nsi_calls", self->n_calls, false);
    adapter_core_status_counter(st, "nsi_faults", self->n_faults, false);
    adapter_core_status_counter(st, "nsi_failures", self->n_failures, false);
    adapter_core_status_counter(st, "nsi_polls", self->n_polls, false);
    adapter_core_status_counter(st, "nsi_swept", self->n_swept, false);
    adapter_core_status_counter(st, "nsi_given_up", self->n_dropped, false);
    adapter_core_status_counter(st, "nsi_terminated_again",
                                self->n_reterminated, false);
    adapter_core_status_counter(st, "nsi_terminated_in_transit",
                                self->n_transit_terminated, false);
    adapter_core_status_counter(st, "nsi_retries", self->n_retries, false);
    adapter_core_status_counter(st, "nsi_connections_live", live, true);
    adapter_core_status_counter(st, "nsi_connections_ending", orphans, true);
    adapter_core_status_counter(st, "nsi_in_flight",
                                adapter_nsi_soap_in_flight(self->soap), true);
}

static void
s_forget(void *arg, struct adapter_path *p)
{
    struct s_nsi *self = arg;
    adapter_pool_free(self->pool, p->r.n);
    struct s_conn *c = p->be;
    if (c) {
        /* Kept until the provider has ended it, as an orphan. */
        s_detach(c);
    }
}

const struct adapter_backend adapter_backend_nsi = {
    .name = "nsi",
    .calendar = true,
    .check = s_check,
    .open = s_open,
    .close = s_close,
    .describe = s_describe,
    .admit = s_admit,
    .cancel = s_cancel,
    .create = s_create,
    .teardown = s_teardown,
    .tick = s_tick,
    .wait_fd = s_wait_fd,
    .adopt = s_adopt,
    .sweep = s_sweep,
    .status = s_status,
    .forget = s_forget,
};
