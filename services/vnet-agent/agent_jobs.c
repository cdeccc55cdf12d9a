/* SPDX-License-Identifier: MIT */
/* The job queue: a ring of argv copies, the oldest running through
 * common/proc, its descriptors in an epoll set whose own descriptor the
 * caller's loop polls.  See agent_jobs.h. */
#include "agent_jobs.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "vtime.h"

/* Output kept per stream of a job: the first line of stderr is all a
 * failure's message shows. */
enum { S_MAX_OUTPUT = 4096 };

struct s_job {
    char **argv;                /* owned, NULL-terminated */
    agent_job_fn *fn;
    void *arg;
};

struct agent_jobs {
    struct s_job *ring;         /* 'cap' slots */
    size_t cap;
    size_t head;                /* the oldest (running, if 'proc') */
    size_t n;                   /* queued, the running one included */
    uint32_t timeout_ms;
    proc_t *proc;               /* the running job's child, or NULL */
    int epfd;                   /* its descriptors */
    struct agent_jobs_stats stats;
};

static void
s_free_argv(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++) {
        free(argv[i]);
    }
    free(argv);
}

static char **
s_copy_argv(const char *const *argv)
{
    size_t n = 0;
    while (argv[n]) {
        n++;
    }
    char **copy = calloc(n + 1, sizeof *copy);
    for (size_t i = 0; copy && i < n; i++) {
        if (!(copy[i] = strdup(argv[i]))) {
            s_free_argv(copy);
            return NULL;
        }
    }
    return copy;
}

agent_jobs_t *
agent_jobs_new(size_t cap, uint32_t timeout_ms)
{
    assert(cap > 0);
    agent_jobs_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->cap = cap;
    self->timeout_ms = timeout_ms;
    self->ring = calloc(cap, sizeof *self->ring);
    self->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!self->ring || self->epfd < 0) {
        agent_jobs_destroy(&self);
        return NULL;
    }
    return self;
}

/* Takes the oldest job off the ring and calls its callback with 'r'. */
static void
s_pop(agent_jobs_t *self, const struct agent_job_result *r)
{
    struct s_job job = self->ring[self->head];
    self->ring[self->head] = (struct s_job) { 0 };
    self->head = (self->head + 1) % self->cap;
    self->n--;
    s_free_argv(job.argv);
    if (job.fn) {
        job.fn(job.arg, r);
    }
}

void
agent_jobs_destroy(agent_jobs_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    agent_jobs_t *self = *self_p;
    /* Killed and reaped by PID before anything else can take it. */
    proc_destroy(&self->proc);
    struct agent_job_result r = { .cancelled = true };
    snprintf(r.err, sizeof r.err, "cancelled: the agent is stopping");
    while (self->ring && self->n > 0) {
        s_pop(self, &r);
    }
    if (self->epfd >= 0) {
        close(self->epfd);
    }
    free(self->ring);
    free(self);
    *self_p = NULL;
}

/* The words of a job, for messages. */
static void
s_cmdline(char *const *argv, char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; argv[i] && off + 1 < size; i++) {
        int w = snprintf(buf + off, size - off, "%s%s", i ? " " : "",
                         argv[i]);
        if (w < 0) {
            break;
        }
        off += (size_t) w;
    }
}

/* Starts the oldest job, if none runs; a job that cannot start ends at
 * once (its callback is called) and the next is tried. */
static void
s_start(agent_jobs_t *self, uint64_t now_ms)
{
    while (!self->proc && self->n > 0) {
        struct s_job *job = &self->ring[self->head];
        int err = 0;
        self->proc = proc_start((const char *const *) job->argv,
                                self->timeout_ms, S_MAX_OUTPUT, now_ms,
                                &err);
        if (self->proc) {
            struct pollfd fds[3];
            size_t n = proc_pollfds(self->proc, fds);
            for (size_t i = 0; i < n; i++) {
                struct epoll_event ev = { .events = EPOLLIN };
                if (fds[i].fd >= 0) {
                    epoll_ctl(self->epfd, EPOLL_CTL_ADD, fds[i].fd, &ev);
                }
            }
            return;
        }
        struct agent_job_result r = { 0 };
        char cmd[256];
        s_cmdline(job->argv, cmd, sizeof cmd);
        log_format(r.err, sizeof r.err, "'%s' could not run (%s)", cmd,
                 strerror(err));
        self->stats.run++;
        self->stats.failed++;
        s_pop(self, &r);
    }
}

int
agent_jobs_add(agent_jobs_t *self, const char *const *argv,
               agent_job_fn *fn, void *arg)
{
    assert(argv && argv[0]);
    char **copy = self->n < self->cap ? s_copy_argv(argv) : NULL;
    if (!copy) {
        self->stats.refused++;
        return -1;
    }
    self->ring[(self->head + self->n) % self->cap] =
        (struct s_job) { copy, fn, arg };
    self->n++;
    s_start(self, vtime_mono_ms());
    return 0;
}

int
agent_jobs_fd(const agent_jobs_t *self)
{
    return self->epfd;
}

/* The result of the finished run 'out' of 'argv'. */
static void
s_result(char *const *argv, const struct proc_output *out,
         struct agent_job_result *r)
{
    memset(r, 0, sizeof *r);
    r->elapsed_ms = out->elapsed_ms;
    r->ok = out->end == PROC_EXITED && out->status == 0;
    r->timed_out = out->end == PROC_TIMED_OUT;
    if (r->ok) {
        return;
    }
    char cmd[256], line[160];
    s_cmdline(argv, cmd, sizeof cmd);
    snprintf(line, sizeof line, "%s",
             out->err ? out->err : out->out ? out->out : "");
    line[strcspn(line, "\n")] = '\0';
    if (out->end == PROC_EXITED) {
        log_format(r->err, sizeof r->err, "'%s' exited %d: %s", cmd,
                 out->status, line);
    } else if (r->timed_out) {
        log_format(r->err, sizeof r->err, "'%s' timed out after %u ms: "
                 "killed", cmd, out->timeout_ms);
    } else {
        log_format(r->err, sizeof r->err, "'%s' killed by signal %d", cmd,
                 out->status);
    }
}

void
agent_jobs_step(agent_jobs_t *self, uint64_t now_ms)
{
    /* Level-triggered: what proc_step reads (or closes) is no longer
     * ready, so the loop does not spin. */
    while (self->proc && proc_step(self->proc, now_ms)) {
        struct proc_output out;
        struct agent_job_result r;
        /* proc_finish closes the descriptors, which leaves the set. */
        proc_finish(&self->proc, &out);
        s_result(self->ring[self->head].argv, &out, &r);
        proc_output_uninit(&out);
        self->stats.run++;
        self->stats.failed += !r.ok;
        self->stats.timed_out += r.timed_out;
        s_pop(self, &r);
        s_start(self, now_ms);
    }
}

bool
agent_jobs_wait(agent_jobs_t *self, uint32_t max_ms)
{
    uint64_t end = vtime_mono_ms() + max_ms;
    for (;;) {
        uint64_t now = vtime_mono_ms();
        agent_jobs_step(self, now);
        if (self->n == 0) {
            return true;
        }
        if (now >= end) {
            return false;
        }
        /* Short waits: the deadline of a job is checked by the step. */
        struct pollfd p = { .fd = self->epfd, .events = POLLIN };
        uint64_t left = end - now;
        poll(&p, 1, left < 10 ? (int) left : 10);
    }
}

size_t
agent_jobs_pending(const agent_jobs_t *self)
{
    return self->n;
}

const struct agent_jobs_stats *
agent_jobs_stats(const agent_jobs_t *self)
{
    return &self->stats;
}
