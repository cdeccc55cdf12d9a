/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_jobs: jobs run one at a time in the order added; a
 * failing one (/bin/false) and one that cannot start are reported and
 * the next runs; a hung one (/bin/sleep) is killed at its deadline, by
 * its PID, counted, and those behind it still run; adding never waits;
 * a full queue refuses; destroying the queue kills what runs and
 * cancels what waits. */
#undef NDEBUG
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_jobs.h"
#include "vtime.h"

struct s_log {
    char order[64];             /* the tags of the jobs ended, in order */
    size_t n;
    struct agent_job_result last[16];
};

struct s_tag {
    struct s_log *log;
    char tag;
};

static void
s_done(void *arg, const struct agent_job_result *r)
{
    struct s_tag *t = arg;
    struct s_log *log = t->log;
    assert(log->n < sizeof log->order - 1);
    log->last[log->n % 16] = *r;
    log->order[log->n++] = t->tag;
}

/* Drives 'q' as the agent's loop does: poll its descriptor, step. */
static void
s_run_until_idle(agent_jobs_t *q, uint32_t max_ms)
{
    uint64_t end = vtime_mono_ms() + max_ms;
    while (agent_jobs_pending(q) > 0) {
        assert(vtime_mono_ms() < end);
        struct pollfd p = { .fd = agent_jobs_fd(q), .events = POLLIN };
        poll(&p, 1, 20);
        agent_jobs_step(q, vtime_mono_ms());
    }
}

static void
test_order_and_failure(void)
{
    char dir[] = "/tmp/vr-jobs.XXXXXX", out[300], sh[400];
    assert(mkdtemp(dir));
    snprintf(out, sizeof out, "%s/out", dir);
    agent_jobs_t *q = agent_jobs_new(8, 5000);
    assert(q);
    struct s_log log = { 0 };
    struct s_tag t[5] = { { &log, 'a' }, { &log, 'b' }, { &log, 'c' },
                          { &log, 'd' }, { &log, 'e' } };
    /* Each appends its letter: the file shows the order they ran in. */
    snprintf(sh, sizeof sh, "printf a >>'%s'", out);
    uint64_t t0 = vtime_mono_ms();
    assert(agent_jobs_add(q, (const char *[]) { "/bin/sh", "-c", sh, NULL },
                          s_done, &t[0]) == 0);
    assert(agent_jobs_add(q, (const char *[]) { "/bin/false", NULL },
                          s_done, &t[1]) == 0);
    assert(agent_jobs_add(q, (const char *[]) { "/nonexistent/tc", NULL },
                          s_done, &t[2]) == 0);
    snprintf(sh, sizeof sh, "sleep 0.1; printf d >>'%s'", out);
    assert(agent_jobs_add(q, (const char *[]) { "/bin/sh", "-c", sh, NULL },
                          s_done, &t[3]) == 0);
    snprintf(sh, sizeof sh, "printf e >>'%s'; echo 'no such device' >&2; "
             "exit 2", out);
    assert(agent_jobs_add(q, (const char *[]) { "/bin/sh", "-c", sh, NULL },
                          s_done, &t[4]) == 0);
    /* Adding waited for none of them. */
    assert(vtime_mono_ms() - t0 < 100);
    assert(agent_jobs_pending(q) == 5);
    s_run_until_idle(q, 10000);
    assert(!strcmp(log.order, "abcde"));
    assert(log.last[0].ok);
    assert(!log.last[1].ok && strstr(log.last[1].err, "exited 1"));
    assert(!log.last[2].ok && strstr(log.last[2].err, "could not run"));
    assert(log.last[3].ok && log.last[3].elapsed_ms >= 90);
    assert(!log.last[4].ok && strstr(log.last[4].err, "exited 2: no such"));
    FILE *f = fopen(out, "r");
    char got[16] = "";
    assert(f && fgets(got, sizeof got, f));
    fclose(f);
    assert(!strcmp(got, "ade"));
    const struct agent_jobs_stats *st = agent_jobs_stats(q);
    assert(st->run == 5 && st->failed == 3 && st->timed_out == 0);
    agent_jobs_destroy(&q);
    assert(!q);
    unlink(out);
    rmdir(dir);
}

static void
test_timeout(void)
{
    char dir[] = "/tmp/vr-jobs.XXXXXX", pidf[300], sh[400];
    assert(mkdtemp(dir));
    snprintf(pidf, sizeof pidf, "%s/pid", dir);
    agent_jobs_t *q = agent_jobs_new(4, 300);
    struct s_log log = { 0 };
    struct s_tag hung = { &log, 'h' }, next = { &log, 'n' };
    /* A hung tc: it says who it is and sleeps. */
    snprintf(sh, sizeof sh, "echo $$ >'%s'; exec /bin/sleep 30", pidf);
    assert(agent_jobs_add(q, (const char *[]) { "/bin/sh", "-c", sh, NULL },
                          s_done, &hung) == 0);
    assert(agent_jobs_add(q, (const char *[]) { "/bin/true", NULL }, s_done,
                          &next) == 0);
    uint64_t t0 = vtime_mono_ms();
    /* Steps before the deadline leave it running. */
    agent_jobs_step(q, vtime_mono_ms());
    assert(agent_jobs_pending(q) == 2 && log.n == 0);
    s_run_until_idle(q, 5000);
    uint64_t took = vtime_mono_ms() - t0;
    assert(took >= 250 && took < 3000);
    assert(!strcmp(log.order, "hn"));
    assert(log.last[0].timed_out && !log.last[0].ok);
    assert(strstr(log.last[0].err, "timed out"));
    assert(log.last[1].ok);
    const struct agent_jobs_stats *st = agent_jobs_stats(q);
    assert(st->timed_out == 1 && st->failed == 1 && st->run == 2);
    /* Killed and reaped: its PID is nobody's now. */
    FILE *f = fopen(pidf, "r");
    int pid = 0;
    assert(f && fscanf(f, "%d", &pid) == 1 && pid > 0);
    fclose(f);
    assert(kill(pid, 0) != 0 && errno == ESRCH);
    agent_jobs_destroy(&q);
    unlink(pidf);
    rmdir(dir);
}

static void
test_full_and_destroy(void)
{
    agent_jobs_t *q = agent_jobs_new(2, 10000);
    struct s_log log = { 0 };
    struct s_tag a = { &log, 'a' }, b = { &log, 'b' }, c = { &log, 'c' };
    assert(agent_jobs_add(q, (const char *[]) { "/bin/sleep", "30", NULL },
                          s_done, &a) == 0);
    assert(agent_jobs_add(q, (const char *[]) { "/bin/true", NULL }, s_done,
                          &b) == 0);
    assert(agent_jobs_add(q, (const char *[]) { "/bin/true", NULL }, s_done,
                          &c) == -1);
    assert(agent_jobs_stats(q)->refused == 1);
    /* Not waited for: destroy kills the sleeper and cancels the rest. */
    uint64_t t0 = vtime_mono_ms();
    agent_jobs_destroy(&q);
    assert(vtime_mono_ms() - t0 < 2000);
    assert(!strcmp(log.order, "ab"));
    assert(log.last[0].cancelled && log.last[1].cancelled);
}

/* A callback may queue the next job: the agent's fast path queues its
 * removals when its additions are over. */
static struct s_log g_chain;
static agent_jobs_t *g_q;

static void
s_chain(void *arg, const struct agent_job_result *r)
{
    static struct s_tag second = { &g_chain, '2' };
    s_done(arg, r);
    if (g_chain.n == 1) {
        assert(agent_jobs_add(g_q, (const char *[]) { "/bin/true", NULL },
                              s_done, &second) == 0);
    }
}

static void
test_chain(void)
{
    g_q = agent_jobs_new(4, 5000);
    struct s_tag first = { &g_chain, '1' };
    assert(agent_jobs_add(g_q, (const char *[]) { "/bin/true", NULL },
                          s_chain, &first) == 0);
    assert(agent_jobs_wait(g_q, 5000));
    assert(!strcmp(g_chain.order, "12"));
    agent_jobs_destroy(&g_q);
}

int
main(void)
{
    test_order_and_failure();
    test_timeout();
    test_full_and_destroy();
    test_chain();
    puts("test_agent_jobs: ok");
    return 0;
}
