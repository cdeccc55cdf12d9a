/* SPDX-License-Identifier: MIT */
/* A bounded queue of commands run one after another without ever
 * waiting for one: the fast path's tc runs (agent_fast).  A job is an
 * argv; the queue starts the oldest with proc_start() (common/proc: no
 * shell, its own process group, output bounded), notices its end
 * through one descriptor the caller's loop polls (an epoll set holding
 * the child's pidfd and pipes), kills it when its time is up (by its
 * PID's process group, SIGKILL) and counts that, and then calls the
 * job's callback with how it ended.  Jobs run in the order they were
 * added, one at a time, so the order of changes on a device is the order
 * they were asked for.  One thread (the control thread) only. */
#ifndef AGENT_JOBS_H
#define AGENT_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct agent_jobs agent_jobs_t;

/* How a job ended. */
struct agent_job_result {
    bool ok;                    /* ran and exited 0 */
    bool timed_out;             /* killed at its deadline */
    bool cancelled;             /* never ran, or killed: the queue went */
    char err[384];              /* otherwise what happened: "'tc ...'
                                 * exited 2: <first stderr line>", not
                                 * escaped (the child's words) */
    uint32_t elapsed_ms;        /* from its start to its end */
};

/* Called once per job when it ended (or was dropped with the queue, then
 * 'r->cancelled'); may add jobs. */
typedef void agent_job_fn(void *arg, const struct agent_job_result *r);

/* Counters, for status. */
struct agent_jobs_stats {
    uint64_t run;               /* jobs that ran to an end */
    uint64_t failed;            /* of which failed (timeouts included) */
    uint64_t timed_out;         /* of which were killed at the deadline */
    uint64_t refused;           /* not queued: the queue was full */
};

/* A queue of at most 'cap' jobs (running one included) whose every job
 * gets 'timeout_ms'.  NULL when out of memory.  The caller owns it. */
agent_jobs_t *agent_jobs_new(size_t cap, uint32_t timeout_ms);

/* Kills (process group, SIGKILL) and reaps a job still running, calls
 * every job's callback with 'cancelled' (the running one's first), frees
 * '*self_p' if not NULL and sets it to NULL. */
void agent_jobs_destroy(agent_jobs_t **self_p);

/* Queues 'argv' (NULL-terminated, copied; argv[0] a path) behind the
 * others, starting it at once if nothing runs; 'fn' (may be NULL) is
 * called with 'arg' when it ends.  Returns 0, or -1 when the queue is
 * full or out of memory (counted as refused; 'fn' is not called). */
int agent_jobs_add(agent_jobs_t *self, const char *const *argv,
                   agent_job_fn *fn, void *arg);

/* The descriptor to poll for reading: ready when the running job has
 * output or has ended.  Stable for the queue's life. */
int agent_jobs_fd(const agent_jobs_t *self);

/* Notices the running job's end (or kills it if its time is up at
 * 'now_ms', monotonic), calls its callback and starts the next; repeats
 * while jobs end at once.  Never blocks.  Call it when agent_jobs_fd()
 * is readable and every so often (timeouts). */
void agent_jobs_step(agent_jobs_t *self, uint64_t now_ms);

/* Steps until no job is left or 'max_ms' passed, waiting on the
 * descriptor in between.  Blocks: for shutdown and tests only.  Returns
 * true if no job is left. */
bool agent_jobs_wait(agent_jobs_t *self, uint32_t max_ms);

/* Jobs queued, the running one included. */
size_t agent_jobs_pending(const agent_jobs_t *self);

const struct agent_jobs_stats *agent_jobs_stats(const agent_jobs_t *self);

#endif /* AGENT_JOBS_H */
