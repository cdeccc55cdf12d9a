/* SPDX-License-Identifier: MIT */
/* The fast path's filters, installed with tc (iproute2), each run a job
 * of a queue the control thread's loop drives (agent_jobs), never waited
 * for:
 * u32 matching the destination MAC at its place before the network
 * header, action mirred.  On a VM port the action mirrors: what leaves is
 * a clone, which owns no socket, and the frame itself goes on up the
 * host's stack, which drops it (not its MAC) as it drops every VM frame
 * the agent captures.  A redirect would send the VM's own skb, still
 * charged to the VM's TCP socket until the far VM takes it in: TCP small
 * queues then throttle the sender while it waits in the circuit's
 * shaper (all-to-all BSP ran at 45% of the routed bed that way; routing
 * frees the skb at the host's IP layer).  On a circuit device the frame
 * no longer belongs to a socket, so a redirect is right.  Filters are
 * few (VM ports x
 * MACs behind circuits) and change only when the planner moves rules, so
 * one tc run per filter is cheap enough and keeps netlink's u32 and
 * mirred encodings out of this code. */
#include "agent_fast.h"
#include "agent_jobs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_priv.h"
#include "eth.h"
#include "log.h"
#include "vtime.h"

LOG_MODULE("fast");

enum {
    S_RETRY_MS = 5000,          /* pause after tc refused an addition */
    S_PRIO_FIRST = 100,
    S_MAX_DEVS = 256,           /* devices with a clsact qdisc of ours */
    S_STOP_TC_MS = 2000,        /* at exit: each clsact removal, at most */
    S_STOP_MS = 3000,           /* and all of them */
    S_JOBS_TICK_MS = 100,       /* tc runs' deadlines checked this often */
};

/* ------------------------------------------------------------------ */
/* Pure parts */

void
agent_fast_argv_add(const char *tc, const struct fast_filter *f,
                    const char **argv, char *buf)
{
    /* buf: "<prio>\0<first 2 bytes>\0<last 4>\0"; u32 keys are 32-bit
     * words, so the MAC (14 bytes before the network header) is cut
     * where the word boundaries fall. */
    int a = snprintf(buf, AGENT_FAST_BUF, "%u", f->prio) + 1;
    int b = snprintf(buf + a, (size_t) (AGENT_FAST_BUF - a), "0x%04x",
                     (unsigned) (f->mac >> 32)) + 1;
    snprintf(buf + a + b, (size_t) (AGENT_FAST_BUF - a - b), "0x%08x",
             (unsigned) (f->mac & 0xffffffff));
    const char *w[] = {
        tc, "filter", "add", "dev", f->dev, "ingress", "prio", buf,
        "protocol", "all", "u32",
        "match", "u16", buf + a, "0xffff", "at", "-14",
        "match", "u32", buf + a + b, "0xffffffff", "at", "-12",
        "action", "mirred", "egress", f->egress ? "mirror" : "redirect",
        "dev", f->to, NULL,
    };
    memcpy(argv, w, sizeof w);
}

void
agent_fast_argv_del(const char *tc, const struct fast_filter *f,
                    const char **argv, char *buf)
{
    snprintf(buf, AGENT_FAST_BUF, "%u", f->prio);
    const char *w[] = {
        tc, "filter", "del", "dev", f->dev, "ingress", "prio", buf,
        "protocol", "all", "u32", NULL,
    };
    memcpy(argv, w, sizeof w);
}

bool
agent_fast_circuit_dev(const struct sockaddr_in *peer, char dev[IF_NAMESIZE])
{
    /* The address the route to 'peer' sends from tells the device. */
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    struct sockaddr_in to = *peer, local;
    socklen_t len = sizeof local;
    if (to.sin_port == 0) {
        to.sin_port = htons(9);
    }
    bool ok = connect(fd, (struct sockaddr *) &to, sizeof to) == 0
              && getsockname(fd, (struct sockaddr *) &local, &len) == 0;
    close(fd);
    if (!ok) {
        return false;
    }
    struct ifaddrs *all;
    if (getifaddrs(&all) != 0) {
        return false;
    }
    bool found = false;
    for (struct ifaddrs *i = all; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET
            || !i->ifa_netmask) {
            continue;
        }
        uint32_t a = ((struct sockaddr_in *) i->ifa_addr)->sin_addr.s_addr;
        uint32_t m = ((struct sockaddr_in *) i->ifa_netmask)->sin_addr.s_addr;
        if (a == local.sin_addr.s_addr
            && (a & m) == (peer->sin_addr.s_addr & m) && m != 0
            && peer->sin_addr.s_addr != a) {
            snprintf(dev, IF_NAMESIZE, "%s", i->ifa_name);
            found = true;
        }
    }
    freeifaddrs(all);
    return found;
}

bool
agent_fast_tc_ok(const char *path, char *why, size_t size)
{
    struct stat st;
    if (!path || path[0] != '/') {
        snprintf(why, size, "not an absolute path");
        return false;
    }
    if (stat(path, &st) != 0) {
        snprintf(why, size, "%s", strerror(errno));
        return false;
    }
    if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR)) {
        snprintf(why, size, "not an executable file");
        return false;
    }
    /* The agent runs it as root: whoever may change it is root too. */
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        snprintf(why, size, "not owned by root, or writable by others "
                 "(owner %u, mode %04o)", (unsigned) st.st_uid,
                 (unsigned) (st.st_mode & 07777));
        return false;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) {
        slash[1] = '\0';
    } else {
        *slash = '\0';
    }
    if (stat(dir, &st) != 0 || st.st_uid != 0
        || ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))) {
        snprintf(why, size, "its directory %s is not root's alone", dir);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* Running tc: every run is a job of the queue (agent_jobs), never
 * waited for.  A change is two rounds of jobs: the additions (receiving
 * filters, then sending ones, each device's new clsact first); when the
 * last has ended, the capture cut, then the removals (sending filters,
 * then receiving ones).  Jobs run one at a time in the order queued, so
 * make-before-break holds as it did when tc ran in line. */

/* What a job does, for its callback. */
enum s_kind {
    S_K_QDISC_DEL,              /* a device's old clsact (may be none) */
    S_K_QDISC_ADD,              /* a device's fresh clsact */
    S_K_ADD,                    /* a filter */
    S_K_DEL,
};

/* A filter installed, being installed or being removed. */
enum s_state { S_UP, S_ADDING, S_DELETING };

struct s_have {
    struct fast_filter f;
    enum s_state state;
    bool fresh;                 /* added by the change under way */
};

struct s_job {
    agent_fast_t *fast;
    enum s_kind kind;
    bool counted;               /* part of the change under way */
    bool port;                  /* S_K_QDISC_ADD of a VM port at start */
    char dev[IF_NAMESIZE];
    uint16_t prio;              /* S_K_ADD, S_K_DEL */
};

enum s_phase { S_IDLE, S_ADDS, S_REMOVALS };

struct agent_fast {
    char *tc;
    agent_jobs_t *jobs;         /* tc runs */
    struct s_have *have;        /* installed, or on the way in or out */
    size_t n_have, cap_have;
    char (*devs)[IF_NAMESIZE];  /* devices whose clsact we (re)made */
    size_t n_devs;
    uint64_t retry_at_ms;       /* no additions before (after a failure) */
    uint64_t warn_at_ms;        /* tc's refusals are logged once a minute */
    size_t failed;              /* what the last change could not do */
    bool broken;                /* a VM port's clsact could not be made */
    bool stopping;              /* being destroyed: callbacks do nothing */
    /* The change under way. */
    enum s_phase phase;
    size_t pending;             /* its jobs not ended yet */
    size_t round_failed;
    bool changed;               /* a filter was added */
    uint64_t gen;               /* the caller's tag of it */
    uint64_t done_gen;          /* the tag of the last change finished */
    struct fast_filter *want;   /* what it wants (copy) */
    size_t n_want;
    char (*ports)[IF_NAMESIZE]; /* the VM ports (copy) */
    size_t n_ports;
    agent_fast_cut_fn *cut;
    void *cut_arg;
    agent_fast_done_fn *done;   /* told when a change is over */
    void *done_arg;
    char (*bad)[IF_NAMESIZE];   /* devices a filter failed on, last adds */
    size_t n_bad;
};

static bool
s_has_dev(const agent_fast_t *self, const char *dev)
{
    for (size_t i = 0; i < self->n_devs; i++) {
        if (!strcmp(self->devs[i], dev)) {
            return true;
        }
    }
    return false;
}

static void
s_drop_dev(agent_fast_t *self, const char *dev)
{
    for (size_t i = 0; i < self->n_devs; i++) {
        if (!strcmp(self->devs[i], dev)) {
            memmove(self->devs[i], self->devs[--self->n_devs], IF_NAMESIZE);
            return;
        }
    }
}

static void s_job_done(void *arg, const struct agent_job_result *r);

/* Queues tc words 'argv' as a job of 'kind' on 'dev'.  Returns 0, or -1
 * (queue full, out of memory: nothing queued, logged). */
static int
s_queue(agent_fast_t *self, const char *const *argv, enum s_kind kind,
        const char *dev, uint16_t prio, bool counted)
{
    struct s_job *j = calloc(1, sizeof *j);
    if (!j) {
        return -1;
    }
    *j = (struct s_job) { .fast = self, .kind = kind, .counted = counted,
                          .prio = prio };
    snprintf(j->dev, sizeof j->dev, "%s", dev);
    /* Counted first: a job that cannot start ends inside the add. */
    self->pending += counted;
    if (agent_jobs_add(self->jobs, argv, s_job_done, j) != 0) {
        self->pending -= counted;
        free(j);
        VLOG_WARN_RL("fast path: %zu tc runs queued already: not queued, "
                     "tried again later", agent_jobs_pending(self->jobs));
        return -1;
    }
    return 0;
}

/* Queues the removal and the making of 'dev''s clsact qdisc. */
static int
s_queue_reset(agent_fast_t *self, const char *dev, bool counted)
{
    if (s_queue(self, (const char *[]) { self->tc, "qdisc", "del", "dev",
                                         dev, "clsact", NULL },
                S_K_QDISC_DEL, dev, 0, counted) != 0
        || s_queue(self, (const char *[]) { self->tc, "qdisc", "add", "dev",
                                            dev, "clsact", NULL },
                   S_K_QDISC_ADD, dev, 0, counted) != 0) {
        return -1;
    }
    return 0;
}

int
agent_fast_reset_dev(agent_fast_t *self, const char *dev)
{
    struct s_job *j;
    if (s_queue(self, (const char *[]) { self->tc, "qdisc", "del", "dev",
                                         dev, "clsact", NULL },
                S_K_QDISC_DEL, dev, 0, false) != 0
        || !(j = calloc(1, sizeof *j))) {
        return -1;
    }
    *j = (struct s_job) { .fast = self, .kind = S_K_QDISC_ADD, .port = true };
    snprintf(j->dev, sizeof j->dev, "%s", dev);
    if (agent_jobs_add(self->jobs, (const char *[]) { self->tc, "qdisc",
                                                      "add", "dev", dev,
                                                      "clsact", NULL },
                       s_job_done, j) != 0) {
        free(j);
        return -1;
    }
    if (!s_has_dev(self, dev) && self->n_devs < S_MAX_DEVS) {
        snprintf(self->devs[self->n_devs++], IF_NAMESIZE, "%s", dev);
    }
    return 0;
}

agent_fast_t *
agent_fast_new(const char *tc, uint32_t timeout_ms)
{
    agent_fast_t *self = calloc(1, sizeof *self);
    if (!self || !(self->tc = strdup(tc))
        || !(self->devs = calloc(S_MAX_DEVS, sizeof *self->devs))
        || !(self->bad = calloc(S_MAX_DEVS, sizeof *self->bad))
        || !(self->jobs = agent_jobs_new(AGENT_FAST_JOBS, timeout_ms))) {
        if (self) {
            free(self->tc);
            free(self->devs);
            free(self->bad);
        }
        free(self);
        return NULL;
    }
    return self;
}

void
agent_fast_on_done(agent_fast_t *self, agent_fast_done_fn *fn, void *arg)
{
    self->done = fn;
    self->done_arg = arg;
}

void
agent_fast_destroy(agent_fast_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    agent_fast_t *self = *self_p;
    self->stopping = true;
    agent_jobs_destroy(&self->jobs);    /* kills a run under way */
    /* The qdiscs go with every filter on them: a queue of their own, and
     * a bound on the wait (the agent is stopping; a hung tc is killed). */
    agent_jobs_t *last = self->n_devs
                             ? agent_jobs_new(self->n_devs, S_STOP_TC_MS)
                             : NULL;
    for (size_t i = 0; last && i < self->n_devs; i++) {
        if (if_nametoindex(self->devs[i]) != 0) {
            agent_jobs_add(last, (const char *[]) { self->tc, "qdisc", "del",
                                                    "dev", self->devs[i],
                                                    "clsact", NULL },
                           NULL, NULL);
        }
    }
    if (last && !agent_jobs_wait(last, S_STOP_MS)) {
        VLOG_WARN("fast path: tc did not remove every clsact in %d ms",
                  S_STOP_MS);
    }
    agent_jobs_destroy(&last);
    free(self->have);
    free(self->devs);
    free(self->bad);
    free(self->want);
    free(self->ports);
    free(self->tc);
    free(self);
    *self_p = NULL;
}

size_t
agent_fast_count(const agent_fast_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n_have; i++) {
        n += self->have[i].state != S_ADDING;
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* Applying a wanted set */

static bool
s_same(const struct fast_filter *a, const struct fast_filter *b)
{
    return a->mac == b->mac && a->egress == b->egress
           && !strcmp(a->dev, b->dev) && !strcmp(a->to, b->to);
}

static bool
s_in(const struct fast_filter *set, size_t n, const struct fast_filter *f)
{
    for (size_t i = 0; i < n; i++) {
        if (s_same(&set[i], f)) {
            return true;
        }
    }
    return false;
}

static bool
s_have(const agent_fast_t *self, const struct fast_filter *f)
{
    for (size_t i = 0; i < self->n_have; i++) {
        if (s_same(&self->have[i].f, f)) {
            return true;
        }
    }
    return false;
}

static struct s_have *
s_find(agent_fast_t *self, const char *dev, uint16_t prio)
{
    for (size_t i = 0; i < self->n_have; i++) {
        if (self->have[i].f.prio == prio
            && !strcmp(self->have[i].f.dev, dev)) {
            return &self->have[i];
        }
    }
    return NULL;
}

static void
s_forget(agent_fast_t *self, struct s_have *h)
{
    *h = self->have[--self->n_have];
}

/* The lowest priority from S_PRIO_FIRST no filter on 'dev' uses. */
static uint16_t
s_free_prio(const agent_fast_t *self, const char *dev)
{
    for (uint32_t p = S_PRIO_FIRST; p < 0xffff; p++) {
        bool used = false;
        for (size_t i = 0; i < self->n_have && !used; i++) {
            used = self->have[i].f.prio == p
                   && !strcmp(self->have[i].f.dev, dev);
        }
        if (!used) {
            return (uint16_t) p;
        }
    }
    return 0;
}

static void
s_mark_bad(agent_fast_t *self, const char *dev)
{
    for (size_t i = 0; i < self->n_bad; i++) {
        if (!strcmp(self->bad[i], dev)) {
            return;
        }
    }
    if (self->n_bad < S_MAX_DEVS) {
        snprintf(self->bad[self->n_bad++], IF_NAMESIZE, "%s", dev);
    }
}

/* An addition failed (or could not be queued): left out, tried again
 * after the pause. */
static void
s_add_failed(agent_fast_t *self, const struct fast_filter *f)
{
    uint64_t now = vtime_mono_ms();
    self->round_failed++;
    self->retry_at_ms = now + S_RETRY_MS;
    s_mark_bad(self, f->dev);
    s_mark_bad(self, f->to);
    if (now >= self->warn_at_ms) {
        VLOG_WARN("fast path: frames stay in the agent until tc takes "
                  "the filter (retried every %d s, said once a minute)",
                  S_RETRY_MS / 1000);
        self->warn_at_ms = now + 60000;
    }
}

static void
s_queue_add(agent_fast_t *self, const struct fast_filter *want)
{
    if (!s_has_dev(self, want->dev)) {
        if (s_queue_reset(self, want->dev, true) != 0) {
            s_add_failed(self, want);
            return;
        }
        if (self->n_devs < S_MAX_DEVS) {
            snprintf(self->devs[self->n_devs++], IF_NAMESIZE, "%s",
                     want->dev);
        }
    }
    if (self->n_have == self->cap_have) {
        size_t cap = self->cap_have ? 2 * self->cap_have : 64;
        struct s_have *p = realloc(self->have, cap * sizeof *p);
        if (!p) {
            s_add_failed(self, want);
            return;
        }
        self->have = p;
        self->cap_have = cap;
    }
    struct fast_filter f = *want;
    if ((f.prio = s_free_prio(self, f.dev)) == 0) {
        s_add_failed(self, want);
        return;
    }
    const char *argv[AGENT_FAST_ARGV];
    char buf[AGENT_FAST_BUF];
    agent_fast_argv_add(self->tc, &f, argv, buf);
    /* In the table before the job: it may end inside s_queue. */
    self->have[self->n_have++] = (struct s_have) { f, S_ADDING, false };
    if (s_queue(self, argv, S_K_ADD, f.dev, f.prio, true) != 0) {
        s_forget(self, &self->have[self->n_have - 1]);
        s_add_failed(self, want);
    }
}

static void
s_queue_del(agent_fast_t *self, struct s_have *h)
{
    const char *argv[AGENT_FAST_ARGV];
    char buf[AGENT_FAST_BUF];
    agent_fast_argv_del(self->tc, &h->f, argv, buf);
    h->state = S_DELETING;
    char dev[IF_NAMESIZE];
    uint16_t prio = h->f.prio;
    snprintf(dev, sizeof dev, "%s", h->f.dev);
    if (s_queue(self, argv, S_K_DEL, dev, prio, true) != 0) {
        struct s_have *again = s_find(self, dev, prio);
        if (again && again->state == S_DELETING) {
            again->state = S_UP;
        }
        self->round_failed++;
        self->retry_at_ms = vtime_mono_ms() + S_RETRY_MS;
    }
}

static void s_advance(agent_fast_t *self);

/* The additions are over: the capture cut, then the removals. */
static void
s_cut_and_remove(agent_fast_t *self)
{
    bool removing = false;
    for (size_t i = 0; i < self->n_have && !removing; i++) {
        removing = !s_in(self->want, self->n_want, &self->have[i].f);
    }
    if (!self->changed && !removing) {
        return;
    }
    /* The capture cut: the MACs each port's installed filters carry and
     * that stay wanted. */
    uint64_t *macs = calloc(self->n_have + 1, sizeof *macs);
    bool *stuck = calloc(self->n_ports + 1, sizeof *stuck);
    if (!macs || !stuck) {
        free(macs);
        free(stuck);
        self->round_failed++;   /* nothing removed: frames still flow */
        return;
    }
    for (size_t p = 0; p < self->n_ports; p++) {
        size_t n = 0;
        for (size_t i = 0; i < self->n_have; i++) {
            const struct fast_filter *f = &self->have[i].f;
            if (f->egress && !strcmp(f->dev, self->ports[p])
                && s_in(self->want, self->n_want, f)) {
                macs[n++] = f->mac;
            }
        }
        if (self->cut(self->ports[p], macs, n, self->cut_arg) == 0) {
            continue;
        }
        /* The old cut stays: this round's filters on the port would carry
         * frames the agent forwards too, and removing its old ones would
         * lose frames the agent still ignores.  Both wait for a retry. */
        self->round_failed++;
        stuck[p] = true;
        self->retry_at_ms = vtime_mono_ms() + S_RETRY_MS;
        for (size_t i = self->n_have; i-- > 0;) {
            struct s_have *h = &self->have[i];
            if (h->fresh && h->state == S_UP && h->f.egress
                && !strcmp(h->f.dev, self->ports[p])) {
                s_queue_del(self, h);
            }
        }
    }
    free(macs);
    /* Removals: sending ends, then receiving ends. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = self->n_have; i-- > 0;) {
            struct s_have *h = &self->have[i];
            bool keep = h->state != S_UP
                        || s_in(self->want, self->n_want, &h->f)
                        || h->f.egress != (pass == 0);
            for (size_t p = 0; p < self->n_ports && !keep; p++) {
                keep = stuck[p] && !strcmp(h->f.dev, self->ports[p]);
            }
            if (!keep) {
                s_queue_del(self, h);
            }
        }
    }
    free(stuck);
}

/* Moves the change on while none of its jobs is left: additions over ->
 * cut and removals; removals over -> done. */
static void
s_advance(agent_fast_t *self)
{
    while (self->phase != S_IDLE && self->pending == 0) {
        if (self->phase == S_ADDS) {
            self->phase = S_REMOVALS;
            self->pending++;        /* none ends the round while queuing */
            s_cut_and_remove(self);
            self->pending--;
            continue;
        }
        self->phase = S_IDLE;
        self->failed = self->round_failed;
        self->done_gen = self->gen;
        for (size_t i = 0; i < self->n_have; i++) {
            self->have[i].fresh = false;
        }
        if (self->done) {
            self->done(self->done_arg);     /* may start the next one */
        }
    }
}

static void
s_job_done(void *arg, const struct agent_job_result *r)
{
    struct s_job *j = arg;
    agent_fast_t *self = j->fast;
    if (self->stopping || r->cancelled) {
        free(j);
        return;
    }
    bool gone = if_nametoindex(j->dev) == 0;    /* went with its device */
    /* A hung tc is always worth a line; a qdisc that was not there, or
     * a filter that went with its device, is not. */
    bool quiet = !r->timed_out
                 && (j->kind == S_K_QDISC_DEL || (j->kind == S_K_DEL && gone));
    if (!r->ok && !quiet) {
        /* tc's own words: escaped like any text from outside. */
        char shown[4 * sizeof r->err];
        VLOG_WARN_RL("%s", log_escape(shown, sizeof shown, r->err,
                                      SIZE_MAX));
    }
    struct s_have *h = s_find(self, j->dev, j->prio);
    char mac[ETH_MAC_STRLEN];
    switch (j->kind) {
    case S_K_QDISC_ADD:
        if (r->ok) {
            /* Every filter we had there went with the old qdisc. */
            for (size_t i = self->n_have; i-- > 0;) {
                if (!strcmp(self->have[i].f.dev, j->dev)
                    && self->have[i].state == S_UP) {
                    s_forget(self, &self->have[i]);
                }
            }
        } else if (j->port && gone) {
            s_drop_dev(self, j->dev);   /* a VM port that went meanwhile */
        } else if (j->port) {
            VLOG_WARN("fast path off: '%s' cannot set up port %s",
                      LOG_ESC(self->tc), j->dev);
            self->broken = true;
        } else {
            s_drop_dev(self, j->dev);   /* made again at the retry */
        }
        break;
    case S_K_ADD:
        if (!h || h->state != S_ADDING) {
            break;
        }
        if (r->ok) {
            h->state = S_UP;
            h->fresh = true;
            self->changed = true;
            VLOG_INFO_RL("%s: frames to %s now go out of %s in the kernel",
                         h->f.dev, eth_mac_format(h->f.mac, mac), h->f.to);
        } else {
            struct fast_filter f = h->f;
            s_forget(self, h);
            s_add_failed(self, &f);
        }
        break;
    case S_K_DEL:
        if (!h || h->state != S_DELETING) {
            break;
        }
        if (r->ok || gone) {
            VLOG_INFO_RL("%s: frames to %s no longer go out of %s in the "
                         "kernel", h->f.dev, eth_mac_format(h->f.mac, mac),
                         h->f.to);
            s_forget(self, h);
        } else {
            h->state = S_UP;
            self->round_failed++;
            self->retry_at_ms = vtime_mono_ms() + S_RETRY_MS;
        }
        break;
    case S_K_QDISC_DEL:
    default:
        break;
    }
    if (j->counted && self->pending > 0) {
        self->pending--;
        s_advance(self);
    }
    free(j);
}

int
agent_fast_apply(agent_fast_t *self, const struct fast_filter *want,
                 size_t n_want, const char *const *ports, size_t n_ports,
                 agent_fast_cut_fn *cut, void *arg, uint64_t gen)
{
    if (self->phase != S_IDLE) {
        return -1;
    }
    struct fast_filter *w = malloc((n_want + 1) * sizeof *w);
    char (*p)[IF_NAMESIZE] = malloc((n_ports + 1) * sizeof *p);
    if (!w || !p) {
        free(w);
        free(p);
        return -1;
    }
    if (n_want > 0) {
        memcpy(w, want, n_want * sizeof *w);
    }
    for (size_t i = 0; i < n_ports; i++) {
        snprintf(p[i], IF_NAMESIZE, "%s", ports[i]);
    }
    free(self->want);
    free(self->ports);
    self->want = w;
    self->n_want = n_want;
    self->ports = p;
    self->n_ports = n_ports;
    self->cut = cut;
    self->cut_arg = arg;
    self->gen = gen;
    self->phase = S_ADDS;
    self->round_failed = 0;
    self->changed = false;
    self->pending++;            /* none ends the round while queuing */
    if (vtime_mono_ms() >= self->retry_at_ms) {
        self->n_bad = 0;
        /* Receiving ends first, then sending ends. */
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < n_want; i++) {
                if (want[i].egress == (pass == 1) && !s_have(self, &want[i])) {
                    s_queue_add(self, &want[i]);
                }
            }
        }
    } else {
        self->round_failed = self->failed;
    }
    self->pending--;
    s_advance(self);
    return 0;
}

bool
agent_fast_busy(const agent_fast_t *self)
{
    return self->phase != S_IDLE;
}

uint64_t
agent_fast_done_gen(const agent_fast_t *self)
{
    return self->done_gen;
}

size_t
agent_fast_failed(const agent_fast_t *self)
{
    return self->failed;
}

bool
agent_fast_retry_due(const agent_fast_t *self)
{
    return self->phase == S_IDLE && self->failed
           && vtime_mono_ms() >= self->retry_at_ms;
}

bool
agent_fast_broken(const agent_fast_t *self)
{
    return self->broken;
}

int
agent_fast_fd(const agent_fast_t *self)
{
    return agent_jobs_fd(self->jobs);
}

void
agent_fast_step(agent_fast_t *self)
{
    agent_jobs_step(self->jobs, vtime_mono_ms());
}

bool
agent_fast_wait(agent_fast_t *self, uint32_t max_ms)
{
    return agent_jobs_wait(self->jobs, max_ms);
}

const struct agent_jobs_stats *
agent_fast_jobs(const agent_fast_t *self)
{
    return agent_jobs_stats(self->jobs);
}

size_t
agent_fast_pending(const agent_fast_t *self)
{
    return agent_jobs_pending(self->jobs);
}

enum agent_fast_state
agent_fast_dev_state(const agent_fast_t *self, const char *dev)
{
    for (size_t i = 0; i < self->n_have; i++) {
        const struct s_have *h = &self->have[i];
        if (h->state == S_ADDING
            && (!strcmp(h->f.dev, dev) || !strcmp(h->f.to, dev))) {
            return AGENT_FAST_PENDING;
        }
    }
    for (size_t i = 0; i < self->n_bad; i++) {
        if (!strcmp(self->bad[i], dev)) {
            return AGENT_FAST_FAILED;
        }
    }
    return AGENT_FAST_UP;
}
/* ------------------------------------------------------------------ */
/* The agent's intent: which filters its table and links call for */

/* Marks link 'l' as a circuit or not and finds the device the fast path
 * would send it on. */
void
agent_fast_set_circuit(agent_t *self, agent_link_t *l, bool circuit)
{
    char dev[IF_NAMESIZE] = "";
    l->circuit = circuit;
    if (l->sec) {
        agent_link_secure(l, agent_link_wants_encryption(self, l));
    }
    /* Only a trusted circuit carries frames raw. */
    if (circuit && self->fast && !agent_fast_broken(self->fast) && !l->tcp
        && agent_circuits_trusted(self)) {
        if (!agent_fast_circuit_dev(&l->peer, dev)) {
            VLOG_WARN_RL("link %s: %s is not directly attached: no fast "
                         "path", LOG_ESC(l->name), LOG_ESC(l->peer_str));
        }
        if (dev[0] && self->vlan) {
            /* A macvlan stand-in takes only its own MAC's frames: the
             * circuit's raw frames cross on its NIC. */
            char via[IF_NAMESIZE];
            agent_vlan_fast_dev(self->vlan, dev, via);
            memcpy(dev, via, IF_NAMESIZE);
        }
        for (size_t i = 0; i < self->n_ports && dev[0]; i++) {
            if (self->ports[i]
                && !strcmp(agent_port_name(self->ports[i]), dev)) {
                dev[0] = '\0';        /* a VM port is no circuit */
            }
        }
    }
    if (strcmp(dev, l->fast_dev) != 0) {
        if (dev[0]) {
            VLOG_INFO_RL("link %s: fast path over %s", LOG_ESC(l->name),
                         dev);
        }
        snprintf(l->fast_dev, sizeof l->fast_dev, "%s", dev);
        agent_fast_sync(self);
    }
}

struct s_fast_acc {
    const agent_t *self;
    const fwd_table_t *fwd;
    struct fast_filter *want;
    size_t n, cap;
    uint64_t *mixed;            /* MACs with a source-specific rule */
    size_t n_mixed, cap_mixed;
    bool oom;
};

static void
s_fast_want(struct s_fast_acc *acc, const char *dev, const char *to,
            uint64_t mac, bool egress)
{
    for (size_t i = 0; i < acc->n; i++) {
        const struct fast_filter *f = &acc->want[i];
        if (f->mac == mac && !strcmp(f->dev, dev) && !strcmp(f->to, to)) {
            return;
        }
    }
    if (acc->n == acc->cap) {
        size_t cap = acc->cap ? 2 * acc->cap : 64;
        struct fast_filter *p = realloc(acc->want, cap * sizeof *p);
        if (!p) {
            acc->oom = true;
            return;
        }
        acc->want = p;
        acc->cap = cap;
    }
    struct fast_filter *f = &acc->want[acc->n++];
    memset(f, 0, sizeof *f);
    snprintf(f->dev, sizeof f->dev, "%s", dev);
    snprintf(f->to, sizeof f->to, "%s", to);
    f->mac = mac;
    f->egress = egress;
}

static void
s_fast_visit(uint64_t dst, uint64_t src, enum fwd_origin origin,
             struct fwd_action a, void *arg)
{
    struct s_fast_acc *acc = arg;
    const agent_t *self = acc->self;
    if (src != 0) {
        if (origin == FWD_RULE && acc->n_mixed < acc->cap_mixed) {
            acc->mixed[acc->n_mixed++] = dst;
        }
        return;
    }
    /* Only what the agent's own lookup would do (a rule beats a learned
     * entry for the same MAC). */
    struct fwd_action eff = fwd_table_lookup(acc->fwd, dst, 0);
    if (eff.kind != a.kind || eff.index != a.index) {
        return;
    }
    if (a.kind == FWD_LINK && origin == FWD_RULE
        && a.index < AGENT_MAX_LINKS && self->links[a.index]
        && self->links[a.index]->fast_dev[0]) {
        /* Frames from every local VM to 'dst' leave over the circuit. */
        for (size_t p = 0; p < self->n_ports; p++) {
            if (self->ports[p]) {
                s_fast_want(acc, agent_port_name(self->ports[p]),
                            self->links[a.index]->fast_dev, dst, true);
            }
        }
    } else if (a.kind == FWD_PORT && a.index < self->n_ports
               && self->ports[a.index]) {
        /* A local VM: frames to it from the other local VMs go straight
         * in, and so do frames to it arriving raw on a circuit. */
        for (size_t p = 0; p < self->n_ports; p++) {
            if (p != a.index && self->ports[p]) {
                s_fast_want(acc, agent_port_name(self->ports[p]),
                            agent_port_name(self->ports[a.index]), dst,
                            true);
            }
        }
        for (int i = 0; i < AGENT_MAX_LINKS; i++) {
            if (self->links[i] && self->links[i]->fast_dev[0]) {
                s_fast_want(acc, self->links[i]->fast_dev,
                            agent_port_name(self->ports[a.index]), dst,
                            false);
            }
        }
    }
}

static int
s_fast_cut(const char *dev, const uint64_t *macs, size_t n, void *arg)
{
    agent_t *self = arg;
    for (size_t i = 0; i < self->n_ports; i++) {
        if (self->ports[i] && !strcmp(agent_port_name(self->ports[i]), dev)) {
            return agent_port_set_cut(self->ports[i], macs, n);
        }
    }
    return -1;
}

/* Starts a change to what the current snapshot calls for (nothing,
 * once the fast path is broken), tagged with the current generation. */
static void
s_sync_now(agent_t *self)
{
    self->fast_dirty = false;
    const fwd_table_t *fwd = agent_current(self)->fwd;
    struct s_fast_acc acc = { .self = self, .fwd = fwd };
    acc.cap_mixed = fwd_table_count(fwd, FWD_RULE);
    acc.mixed = calloc(acc.cap_mixed + 1, sizeof *acc.mixed);
    if (!acc.mixed) {
        return;
    }
    if (!agent_fast_broken(self->fast)) {
        fwd_table_foreach(fwd, s_fast_visit, &acc);
    }
    if (acc.oom) {
        free(acc.want);
        free(acc.mixed);
        return;                 /* the next change or period tries again */
    }
    /* A destination with source-specific rules stays in user space:
     * only the agent can tell its sources apart. */
    size_t k = 0;
    for (size_t i = 0; i < acc.n; i++) {
        bool mixed = false;
        for (size_t j = 0; j < acc.n_mixed && !mixed; j++) {
            mixed = acc.want[i].egress && acc.mixed[j] == acc.want[i].mac;
        }
        if (!mixed) {
            acc.want[k++] = acc.want[i];
        }
    }
    const char *ports[AGENT_MAX_PORTS];
    size_t n_ports = 0;
    for (size_t i = 0; i < self->n_ports; i++) {
        if (self->ports[i]) {
            ports[n_ports++] = agent_port_name(self->ports[i]);
        }
    }
    agent_fast_apply(self->fast, acc.want, k, ports, n_ports,
                     s_fast_cut, self, self->fast_gen);
    free(acc.want);
    free(acc.mixed);
}

void
agent_fast_sync(agent_t *self)
{
    if (!self->fast) {
        return;
    }
    self->fast_gen++;
    if (agent_fast_busy(self->fast)) {
        self->fast_dirty = true;    /* the next change, once it is over */
        return;
    }
    s_sync_now(self);
}

bool
agent_fast_synced(const agent_t *self)
{
    return !self->fast || agent_fast_done_gen(self->fast) >= self->fast_gen;
}

/* A change is over: the next one if the table changed meanwhile, and the
 * requests that waited for it are answered. */
static void
s_on_done(void *arg)
{
    agent_t *self = arg;
    if (self->fast_dirty) {
        s_sync_now(self);
    }
    agent_ctl_fast_done(self);
}

/* Every period: a circuit device that went away stops being used, a
 * fast path whose ports tc could not set up lets go of every circuit,
 * and what tc refused is tried again once its pause is over. */
static int
s_on_period(svc_t *svc, void *arg)
{
    agent_t *self = arg;
    (void) svc;
    if (!self->fast) {
        return 0;
    }
    bool broken = agent_fast_broken(self->fast);
    bool sync = agent_fast_retry_due(self->fast);
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        agent_link_t *l = self->links[i];
        if (l && l->fast_dev[0]
            && (broken || if_nametoindex(l->fast_dev) == 0)) {
            VLOG_WARN_RL("link %s: circuit device %s is gone, or the fast "
                         "path is off: it stops using it", LOG_ESC(l->name),
                         l->fast_dev);
            l->fast_dev[0] = '\0';
            sync = true;
        }
    }
    if (sync) {
        agent_fast_sync(self);
    }
    return 0;
}

/* tc runs that ended, or whose time is up. */
static int
s_on_jobs(svc_t *svc, int fd, void *arg)
{
    agent_t *self = arg;
    (void) svc;
    (void) fd;
    if (self->fast) {
        agent_fast_step(self->fast);
    }
    return 0;
}

static int
s_on_jobs_tick(svc_t *svc, void *arg)
{
    return s_on_jobs(svc, -1, arg);
}

int
agent_fast_open(agent_t *self)
{
    const struct agent_cfg *cfg = self->cfg;
    char why[256];
    if (!cfg->fastpath) {
        return 0;
    }
    if (strcmp(cfg->capture, "afpacket") != 0) {
        VLOG_WARN("fast path off: it needs the afpacket capture");
        return 0;
    }
    if (!agent_fast_tc_ok(cfg->tc, why, sizeof why)) {
        if (cfg->tc[0] == '/' && access(cfg->tc, F_OK) != 0) {
            VLOG_WARN("fast path off: no tc at '%s'", LOG_ESC(cfg->tc));
            return 0;
        }
        /* It runs as root: a tc others may change is refused. */
        VLOG_ERR("tc: '%s' will not be run: %s", LOG_ESC(cfg->tc),
                 LOG_ESC(why));
        return -1;
    }
    self->fast = agent_fast_new(cfg->tc, cfg->tc_timeout_ms);
    if (!self->fast) {
        return -1;
    }
    agent_fast_on_done(self->fast, s_on_done, self);
    /* Fresh clsact qdiscs on the ports: a previous run's filters go. */
    for (size_t i = 0; i < self->n_ports; i++) {
        if (self->ports[i]
            && agent_fast_reset_dev(self->fast,
                                    agent_port_name(self->ports[i])) != 0) {
            return -1;
        }
    }
    return 0;
}

int
agent_fast_start(agent_t *self)
{
    if (!self->fast) {
        return 0;
    }
    if (svc_add_fd(self->svc, agent_fast_fd(self->fast), s_on_jobs, self)
            != 0
        || svc_add_timer(self->svc, S_JOBS_TICK_MS, s_on_jobs_tick, self)
               != 0) {
        return -1;
    }
    return svc_add_timer(self->svc, self->cfg->period_ms, s_on_period, self);
}
