/* SPDX-License-Identifier: MIT */
/* The 'oclient' backend: a path is made and given back by ODIN's
 * command-line client (adapter_oclient.h), run as a child process stepped
 * from the loop (common/proc), at most oclient.max_running at once, the
 * rest waiting oldest first (adapter_runq.h).  A failed teardown is tried
 * again teardown_retries times, 2 s apart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_backend.h"
#include "adapter_oclient.h"
#include "adapter_runq.h"
#include "adapter_svc.h"
#include "log.h"
#include "proc.h"
#include "vtime.h"

LOG_MODULE("adapter");

#define P(X) ADAPTER_PATH_##X

enum s_op { OP_NONE, OP_CREATE, OP_TEARDOWN };

/* One path's commands (adapter_path.be). */
struct s_path {
    proc_t *proc;               /* the command running */
    enum s_op op;               /* what 'proc' is */
    enum s_op queued;           /* waiting in 'runq' to run */
    bool abandon;               /* torn down while 'oclient -c' ran */
    uint32_t tries;             /* failed teardowns so far */
    uint64_t retry_ms;          /* next teardown try (monotonic ms) */
};

struct s_oclient {
    adapter_core_t *core;       /* where paths are reported */
    const struct adapter_oclient_config *cfg;
    uint32_t teardown_retries;  /* failed 'oclient -t' tried again */
    adapter_runq_t *runq;       /* children at once, the rest waiting */
    uint64_t n_runs, n_errors;  /* commands started; failed */
};

static uint64_t
s_now_ms(void)
{
    return vtime_mono_us() / 1000;
}

static struct s_path *
s_op(struct adapter_path *p)
{
    if (!p->be) {
        p->be = calloc(1, sizeof(struct s_path));
    }
    return p->be;
}

static bool
s_check(const struct adapter_cfg *cfg, const char *cfg_path, char *err,
        size_t size)
{
    (void) cfg_path;
    return adapter_oclient_config_check(&cfg->oclient, err, size);
}

static void *
s_open(adapter_core_t *core, const struct adapter_cfg *cfg,
       const char *cfg_path, char *err, size_t size)
{
    (void) cfg_path;
    struct s_oclient *self = calloc(1, sizeof *self);
    if (self) {
        self->runq = adapter_runq_new(cfg->oclient.max_running);
    }
    if (!self || !self->runq) {
        free(self);
        log_format(err, size, "out of memory");
        return NULL;
    }
    self->core = core;
    self->cfg = &cfg->oclient;
    self->teardown_retries = cfg->teardown_retries;
    return self;
}

static void
s_close(void *arg)
{
    struct s_oclient *self = arg;
    if (self) {
        adapter_runq_destroy(&self->runq);
        free(self);
    }
}

static void
s_describe(void *arg, char *buf, size_t size)
{
    struct s_oclient *self = arg;
    snprintf(buf, size, "%s", self->cfg->path);
}

/* Runs 'op' for 'p' in a slot already taken from 'runq'. */
static void
s_run(struct s_oclient *self, struct adapter_path *p, struct s_path *o,
      enum s_op op)
{
    struct adapter_oclient_cmd cmd;
    char err[256];
    bool ok = op == OP_CREATE
        ? adapter_oclient_build_create(self->cfg, p->r.src, p->r.dst, 0,
                                       &cmd, err, sizeof err)
        : adapter_oclient_build_teardown(self->cfg, p->r.backend_ref, &cmd,
                                         err, sizeof err);
    if (ok) {
        int e = 0;
        uint32_t limit = op == OP_CREATE ? self->cfg->create_timeout_ms
                                         : self->cfg->teardown_timeout_ms;
        o->proc = proc_start(cmd.argv, limit,
                             (size_t) self->cfg->max_output_kb << 10,
                             s_now_ms(), &e);
        if (!o->proc) {
            log_format(err, sizeof err, "cannot run %s: %s", cmd.argv[0],
                       strerror(e));
            ok = false;
        }
    }
    if (!ok) {
        adapter_runq_done(self->runq);
        self->n_errors++;
        adapter_core_set_state(self->core, p, P(FAILED), err);
        return;
    }
    char line[256];
    VLOG_INFO("path %s: running '%s'", p->r.path_id,
              adapter_oclient_cmd_format(&cmd, line, sizeof line));
    o->op = op;
    self->n_runs++;
}

/* Runs 'op' for 'p' now if fewer than oclient.max_running commands run,
 * else queues it: each child is a process and ODIN's server is one, so
 * a burst of requests must not become a burst of children. */
static void
s_start(struct s_oclient *self, struct adapter_path *p, enum s_op op)
{
    struct s_path *o = s_op(p);
    if (!o) {
        self->n_errors++;
        adapter_core_set_state(self->core, p, P(FAILED), "out of memory");
        return;
    }
    if (adapter_runq_admit(self->runq)) {
        s_run(self, p, o, op);
        return;
    }
    if (adapter_runq_push(self->runq, p->r.n, (int) op) != 0) {
        self->n_errors++;
        adapter_core_set_state(self->core, p, P(FAILED),
                               "out of memory queueing oclient");
        return;
    }
    o->queued = op;
    VLOG_INFO_RL("path %s: %s queued behind %zu running, %zu waiting",
                 p->r.path_id, op == OP_CREATE ? "create" : "teardown",
                 adapter_runq_running(self->runq),
                 adapter_runq_queued(self->runq) - 1);
}

static void
s_done_create(struct s_oclient *self, struct adapter_path *p,
              struct s_path *o, struct proc_output *out)
{
    struct adapter_oclient_result res;
    bool ok = adapter_oclient_parse_create(out, &res);
    if (!ok) {
        self->n_errors++;
        adapter_core_set_state(self->core, p,
                               o->abandon ? P(DOWN) : P(FAILED), res.error);
        return;
    }
    snprintf(p->r.backend_ref, sizeof p->r.backend_ref, "%s", res.path_id);
    snprintf(p->r.detail, sizeof p->r.detail, "odin=%s", res.path_id);
    char why[300];
    if (o->abandon) {
        adapter_core_save(self->core, p);
        VLOG_INFO("path %s: came up as %s after its teardown was asked: "
                  "tearing it down", p->r.path_id, res.path_id);
        s_start(self, p, OP_TEARDOWN);
    } else if (adapter_core_up(self->core, p, why, sizeof why) != 0) {
        /* ODIN holds a path that only this process knows of: give it
         * back now rather than lose it in a restart. */
        adapter_core_set_state(self->core, p, P(TEARING_DOWN), why);
        s_start(self, p, OP_TEARDOWN);
    }
}

static void
s_done_teardown(struct s_oclient *self, struct adapter_path *p,
                struct s_path *o, struct proc_output *out)
{
    struct adapter_oclient_result res;
    bool ok = adapter_oclient_parse_teardown(out, p->r.backend_ref, &res);
    if (ok || res.not_found) {
        adapter_core_set_state(self->core, p, P(DOWN), NULL);
        return;
    }
    self->n_errors++;
    if (o->tries++ < self->teardown_retries) {
        VLOG_WARN("path %s: teardown of %s failed (%s): again in 2 s",
                  p->r.path_id, p->r.backend_ref, res.error);
        o->retry_ms = s_now_ms() + 2000;
        return;
    }
    char why[256];
    log_format(why, sizeof why, "teardown failed %u times (%s): ODIN may "
               "still hold %s", o->tries, res.error, p->r.backend_ref);
    adapter_core_set_state(self->core, p, P(FAILED), why);
}

static void
s_done(struct s_oclient *self, struct adapter_path *p, struct s_path *o)
{
    struct proc_output out;
    enum s_op op = o->op;
    proc_finish(&o->proc, &out);
    o->op = OP_NONE;
    adapter_runq_done(self->runq);
    if (op == OP_CREATE) {
        s_done_create(self, p, o, &out);
    } else {
        s_done_teardown(self, p, o, &out);
    }
    proc_output_uninit(&out);
}

static int
s_admit(void *arg, struct adapter_path *p, char *err, size_t size)
{
    (void) arg;
    (void) err;
    (void) size;
    /* On the oclient backend the source and destination addresses are the
     * link addresses too. */
    snprintf(p->r.src_link, sizeof p->r.src_link, "%s", p->r.src);
    snprintf(p->r.dst_link, sizeof p->r.dst_link, "%s", p->r.dst);
    return 0;
}

static void
s_create(void *arg, struct adapter_path *p)
{
    s_start(arg, p, OP_CREATE);
}

static void
s_teardown(void *arg, struct adapter_path *p)
{
    struct s_oclient *self = arg;
    struct s_path *o = p->be;
    if (o && o->queued == OP_CREATE) {
        /* 'oclient -c' never ran: nothing to give back. */
        adapter_runq_cancel(self->runq, p->r.n);
        o->queued = OP_NONE;
        adapter_core_set_state(self->core, p, P(DOWN), NULL);
    } else if (o && o->op == OP_CREATE) {
        o->abandon = true;      /* torn down when 'oclient -c' ends */
    } else {
        s_start(self, p, OP_TEARDOWN);
    }
}

static void
s_tick(void *arg, uint64_t now_ms)
{
    struct s_oclient *self = arg;
    size_t n_paths = adapter_core_n_paths(self->core);
    for (size_t i = 0; i < n_paths; i++) {
        struct adapter_path *p = adapter_core_path_at(self->core, i);
        struct s_path *o = p->be;
        if (!o) {
            continue;
        }
        if (o->proc) {
            if (proc_step(o->proc, now_ms)) {
                s_done(self, p, o);
            }
        } else if (p->r.state == P(TEARING_DOWN) && o->retry_ms
                   && now_ms >= o->retry_ms && o->queued == OP_NONE) {
            o->retry_ms = 0;
            s_start(self, p, OP_TEARDOWN);
        }
    }
    /* Slots freed above go to those waiting, oldest first. */
    uint64_t n;
    int op;
    while (adapter_runq_next(self->runq, &n, &op)) {
        struct adapter_path *p = adapter_core_path_by_n(self->core, n);
        struct s_path *o = p ? p->be : NULL;
        if (!o || o->queued != (enum s_op) op
            || adapter_path_ended(p->r.state)) {
            adapter_runq_done(self->runq);
            continue;
        }
        o->queued = OP_NONE;
        s_run(self, p, o, (enum s_op) op);
    }
}

static void
s_adopt(void *arg, struct adapter_path *p)
{
    struct s_oclient *self = arg;
    const struct adapter_path_rec *r = &p->r;
    if (r->state == P(PROVISIONING)) {
        adapter_core_lost(self->core, p, "the adapter restarted while "
                          "'oclient -c' ran: ODIN's answer was lost");
    } else if (r->state == P(TEARING_DOWN)) {
        if (r->backend_ref[0]) {
            s_start(self, p, OP_TEARDOWN);
        } else {
            adapter_core_set_state(self->core, p, P(DOWN), NULL);
        }
    } else {
        char how[256];
        snprintf(how, sizeof how, "ODIN path %s", r->backend_ref);
        adapter_core_adopted(self->core, p, how);
    }
}

static void
s_status(void *arg, struct adapter_status *st)
{
    struct s_oclient *self = arg;
    adapter_core_status_counter(st, "oclient_runs", self->n_runs, false);
    adapter_core_status_counter(st, "oclient_errors", self->n_errors, false);
    adapter_core_status_counter(st, "oclient_running",
                                adapter_runq_running(self->runq), true);
    adapter_core_status_counter(st, "oclient_queued",
                                adapter_runq_queued(self->runq), true);
    adapter_core_status_counter(st, "oclient_running_peak",
                                adapter_runq_peak_running(self->runq), true);
    adapter_core_status_counter(st, "oclient_queued_peak",
                                adapter_runq_peak_queued(self->runq), true);
}

static void
s_forget(void *arg, struct adapter_path *p)
{
    (void) arg;
    struct s_path *o = p->be;
    if (o) {
        proc_destroy(&o->proc);     /* kills a child still running */
        free(o);
        p->be = NULL;
    }
}

const struct adapter_backend adapter_backend_oclient = {
    .name = "oclient",
    .check = s_check,
    .open = s_open,
    .close = s_close,
    .describe = s_describe,
    .admit = s_admit,
    .create = s_create,
    .teardown = s_teardown,
    .tick = s_tick,
    .adopt = s_adopt,
    .status = s_status,
    .forget = s_forget,
};
