/* SPDX-License-Identifier: MIT */
/* VLAN sub-interfaces behind agent_vlan.h: a fixed table of devices, each
 * made by a chain of 'ip' runs (add with its mark, address, up) queued on
 * an agent_jobs queue, one step queued when the one before ended well, so
 * a removal queued meanwhile stops the chain; removed by one run.  An
 * entry is freed only when no run of it is left.  Marks are read back
 * from sysfs (/sys/class/net/<dev>/ifalias), without running anything. */
#include "agent_vlan.h"
#include "agent_jobs.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "vtime.h"

LOG_MODULE("vlan");

#define S_MARK_PREFIX "vreserve-agent "

enum {
    S_STOP_MS = 3000,           /* at exit: all removals, at most */
    S_MARK_LEN = 96,            /* the alias */
};

/* The making of a sub-interface goes through these steps. */
enum s_step {
    S_STEP_CLEAR,               /* a device of ours of that name goes */
    S_STEP_ADD,                 /* ip link add (down, no address) */
    S_STEP_MARK,                /* ip link set alias <mark> */
    S_STEP_ADDR,                /* ip addr add */
    S_STEP_UP,                  /* ip link set up */
    S_STEP_DONE,
};

struct agent_vlan;

struct s_dev {
    struct agent_vlan *owner;   /* the table it is in */
    bool used;
    bool deleting;              /* the link is gone: removal queued */
    bool added;                 /* the add step succeeded (a device of
                                 * ours may exist) */
    char link[64];              /* the link it serves */
    char dev[IF_NAMESIZE];
    uint32_t vlan;
    char cidr[AGENT_VLAN_CIDR_LEN];
    uint32_t mtu;               /* 0: the NIC's */
    enum agent_vlan_state state;
    enum s_step step;           /* the step running or next */
    unsigned n_jobs;            /* runs of it queued or running */
    char err[200];              /* why FAILED */
};

struct agent_vlan {
    char nic[IF_NAMESIZE];
    bool macvlan;               /* the stand-in kind */
    char ip[256];
    char mark[S_MARK_LEN];
    char agent_id[64];
    uint32_t timeout_ms;
    agent_jobs_t *jobs;
    agent_vlan_ready_fn *ready;
    void *arg;
    struct s_dev devs[AGENT_VLAN_MAX_DEVS];
    struct agent_vlan_stats stats;
};

/* ------------------------------------------------------------------ */
/* Pure parts */

static bool
s_fail(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool
s_fail(char *why, size_t size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    if (why && size) {
        vsnprintf(why, size, fmt, args);
    }
    va_end(args);
    return false;
}

bool
agent_vlan_nic_ok(const char *nic, char *why, size_t size)
{
    if (!nic || !*nic) {
        return s_fail(why, size, "overlay.circuit_nic: empty");
    }
    size_t n = strlen(nic);
    bool ok = n < IF_NAMESIZE && nic[0] != '-' && strcmp(nic, ".") != 0
              && strcmp(nic, "..") != 0;
    for (size_t i = 0; ok && i < n; i++) {
        char c = nic[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
             || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    }
    if (!ok) {
        return s_fail(why, size, "overlay.circuit_nic: bad device name "
                      "'%s': expected 1 to %d of A-Z a-z 0-9 . _ -, not "
                      "starting with -", LOG_ESC(nic), IF_NAMESIZE - 1);
    }
    return true;
}

bool
agent_vlan_dev_name(const char *nic, uint32_t vlan, char out[IF_NAMESIZE])
{
    if (vlan < 1 || vlan > AGENT_VLAN_ID_MAX) {
        return false;
    }
    int n = snprintf(out, IF_NAMESIZE, "%s.%u", nic, vlan);
    if (n < 0 || n >= IF_NAMESIZE) {
        snprintf(out, IF_NAMESIZE, "vrv%u", vlan);
    }
    return true;
}

bool
agent_vlan_cidr(const char *local, uint32_t prefix_len, char *cidr,
                char *why, size_t size)
{
    struct in_addr a;
    if (!local || !*local || strlen(local) >= INET_ADDRSTRLEN
        || inet_pton(AF_INET, local, &a) != 1) {
        return s_fail(why, size, "link.local: '%s' is not an IPv4 address "
                      "(no port)", local ? LOG_ESC(local) : "");
    }
    if (prefix_len < AGENT_VLAN_PREFIX_MIN
        || prefix_len > AGENT_VLAN_PREFIX_MAX) {
        return s_fail(why, size, "link.prefix_len: %u out of range: %d to "
                      "%d", prefix_len, AGENT_VLAN_PREFIX_MIN,
                      AGENT_VLAN_PREFIX_MAX);
    }
    uint32_t ip = ntohl(a.s_addr);
    uint32_t host = (1u << (32 - prefix_len)) - 1;
    bool unicast = ip != 0 && (ip >> 24) != 127 && (ip >> 28) < 0xe;
    bool edge = prefix_len < 31 && ((ip & host) == 0 || (ip & host) == host);
    if (!unicast || edge) {
        return s_fail(why, size, "link.local: '%s/%u' is not a host "
                      "address of its subnet", local, prefix_len);
    }
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, text, sizeof text);
    snprintf(cidr, AGENT_VLAN_CIDR_LEN, "%s/%u", text, prefix_len);
    return true;
}

void
agent_vlan_mark(const char *agent_id, char *out, size_t size)
{
    snprintf(out, size, S_MARK_PREFIX "%s", agent_id);
}

bool
agent_vlan_is_mark(const char *alias, const char *agent_id)
{
    size_t p = strlen(S_MARK_PREFIX), n = strlen(agent_id);
    if (strncmp(alias, S_MARK_PREFIX, p) != 0
        || strncmp(alias + p, agent_id, n) != 0) {
        return false;
    }
    const char *rest = alias + p + n;
    return !strcmp(rest, "") || !strcmp(rest, "\n");
}

/* ------------------------------------------------------------------ */
/* Devices */

bool
agent_vlan_parse_dev(const char *nic, const char *name, uint32_t *vlan)
{
    const char *p;
    size_t n = strlen(nic);
    if (!strncmp(name, nic, n) && name[n] == '.') {
        p = name + n + 1;
    } else if (!strncmp(name, "vrv", 3)) {
        p = name + 3;
    } else {
        return false;
    }
    uint32_t v = 0;
    size_t digits = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (++digits > 4 || (digits == 2 && v == 0)) {
            return false;       /* too long, or a leading zero */
        }
        v = v * 10 + (uint32_t) (*p - '0');
    }
    char again[IF_NAMESIZE];
    /* Exactly the name agent_vlan_dev_name() gives that VLAN. */
    if (*p || !digits || !agent_vlan_dev_name(nic, v, again)
        || strcmp(again, name) != 0) {
        return false;
    }
    *vlan = v;
    return true;
}

/* Reads the first line of /sys/class/net/<dev>/<file> into 'buf'; ""
 * if there is none. */
static void
s_sys_read(const char *dev, const char *file, char *buf, size_t size)
{
    char path[128];
    buf[0] = '\0';
    snprintf(path, sizeof path, "/sys/class/net/%s/%s", dev, file);
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(buf, (int) size, f)) {
            buf[0] = '\0';
        }
        fclose(f);
    }
}

/* Whether 'dev' has an IPv4 address. */
static bool
s_has_addr(const char *dev)
{
    struct ifaddrs *all;
    bool found = false;
    if (getifaddrs(&all) != 0) {
        return true;            /* unknown: as if it had one */
    }
    for (struct ifaddrs *i = all; i && !found; i = i->ifa_next) {
        found = i->ifa_addr && i->ifa_addr->sa_family == AF_INET
                && !strcmp(i->ifa_name, dev);
    }
    freeifaddrs(all);
    return found;
}

/* An unmarked device left between the add and the mark: named as ours
 * for some VLAN, on our NIC, down and without an address.  A device in
 * use (up, or addressed) is never taken for one. */
static bool
s_unmarked_ours(const agent_vlan_t *self, const char *dev)
{
    uint32_t vlan;
    char path[128], flags[32];
    if (!agent_vlan_parse_dev(self->nic, dev, &vlan)) {
        return false;
    }
    snprintf(path, sizeof path, "/sys/class/net/%s/lower_%s", dev,
             self->nic);
    if (access(path, F_OK) != 0) {
        return false;
    }
    s_sys_read(dev, "flags", flags, sizeof flags);
    unsigned long f = strtoul(flags, NULL, 0);
    return flags[0] && !(f & IFF_UP) && !s_has_addr(dev);
}

/* Whether device 'dev' exists here; if so '*ours' says whether it is
 * this agent's: it bears its mark, or was left unmarked by a making that
 * stopped after the add. */
static bool
s_exists(const agent_vlan_t *self, const char *dev, bool *ours)
{
    *ours = false;
    if (if_nametoindex(dev) == 0) {
        return false;
    }
    char alias[S_MARK_LEN + 8];
    s_sys_read(dev, "ifalias", alias, sizeof alias);
    *ours = agent_vlan_is_mark(alias, self->agent_id)
            || ((!alias[0] || !strcmp(alias, "\n"))
                && s_unmarked_ours(self, dev));
    return true;
}

agent_vlan_t *
agent_vlan_new(const char *nic, const char *kind, const char *ip,
               const char *agent_id, uint32_t timeout_ms,
               agent_vlan_ready_fn *ready, void *arg, char *why, size_t size)
{
    if (!agent_vlan_nic_ok(nic, why, size)) {
        return NULL;
    }
    if (!kind || (strcmp(kind, "vlan") && strcmp(kind, "macvlan"))) {
        s_fail(why, size, "overlay.circuit_kind: '%s' is neither vlan nor "
               "macvlan", kind ? LOG_ESC(kind) : "");
        return NULL;
    }
    agent_vlan_t *self = calloc(1, sizeof *self);
    if (!self || !(self->jobs = agent_jobs_new(AGENT_VLAN_JOBS,
                                               timeout_ms))) {
        free(self);
        s_fail(why, size, "out of memory");
        return NULL;
    }
    snprintf(self->nic, sizeof self->nic, "%s", nic);
    self->macvlan = !strcmp(kind, "macvlan");
    snprintf(self->ip, sizeof self->ip, "%s", ip);
    snprintf(self->agent_id, sizeof self->agent_id, "%s", agent_id);
    agent_vlan_mark(agent_id, self->mark, sizeof self->mark);
    self->timeout_ms = timeout_ms;
    self->ready = ready;
    self->arg = arg;
    return self;
}

/* Runs 'ip link del dev <dev>' now, waiting for it.  True if it went. */
static bool
s_del_now(agent_vlan_t *self, const char *dev, uint32_t timeout_ms)
{
    char err[200];
    const char *argv[] = { self->ip, "link", "del", "dev", dev, NULL };
    if (proc_run_ok(argv, timeout_ms, err, sizeof err) != 0) {
        VLOG_WARN("%s: could not remove it: %s", dev, LOG_ESC(err));
        return false;
    }
    return true;
}

void
agent_vlan_destroy(agent_vlan_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    agent_vlan_t *self = *self_p;
    /* Runs under way are killed first: nothing is made after this. */
    agent_jobs_destroy(&self->jobs);
    uint64_t end = vtime_mono_ms() + S_STOP_MS;
    for (size_t i = 0; i < AGENT_VLAN_MAX_DEVS; i++) {
        struct s_dev *d = &self->devs[i];
        bool ours;
        if (!d->used || !s_exists(self, d->dev, &ours) || !ours) {
            continue;
        }
        uint64_t now = vtime_mono_ms();
        if (now >= end) {
            VLOG_WARN("%s: left behind (no time left): the next start "
                      "removes it", d->dev);
            continue;
        }
        if (s_del_now(self, d->dev, (uint32_t) (end - now))) {
            self->stats.removed++;
            VLOG_INFO("%s: removed at stop (link %s)", d->dev,
                      LOG_ESC(d->link));
        }
    }
    free(self);
    *self_p = NULL;
}

size_t
agent_vlan_sweep(agent_vlan_t *self)
{
    DIR *dir = opendir("/sys/class/net");
    if (!dir) {
        VLOG_WARN("sweep: cannot read /sys/class/net: devices an earlier "
                  "life left stay");
        return 0;
    }
    /* Names first: the directory changes as devices go. */
    char (*names)[IF_NAMESIZE] = calloc(AGENT_VLAN_MAX_DEVS, IF_NAMESIZE);
    size_t n = 0, n_removed = 0;
    struct dirent *e;
    while (names && n < AGENT_VLAN_MAX_DEVS && (e = readdir(dir))) {
        bool ours;
        if (e->d_name[0] != '.' && strlen(e->d_name) < IF_NAMESIZE
            && s_exists(self, e->d_name, &ours) && ours) {
            size_t len = strlen(e->d_name);     /* < IF_NAMESIZE */
            memcpy(names[n++], e->d_name, len + 1);
        }
    }
    closedir(dir);
    for (size_t i = 0; i < n; i++) {
        VLOG_INFO("sweep: removing %s, left by an earlier life of this "
                  "agent", LOG_ESC(names[i]));
        if (s_del_now(self, names[i], self->timeout_ms)) {
            n_removed++;
        }
    }
    free(names);
    self->stats.swept += n_removed;
    return n_removed;
}

static struct s_dev *
s_find(const agent_vlan_t *self, const char *link)
{
    for (size_t i = 0; i < AGENT_VLAN_MAX_DEVS; i++) {
        const struct s_dev *d = &self->devs[i];
        if (d->used && !d->deleting && !strcmp(d->link, link)) {
            return (struct s_dev *) d;
        }
    }
    return NULL;
}

static void s_on_job(void *arg, const struct agent_job_result *r);

/* Queues 'argv' for 'd'.  Returns 0 or -1 (queue full). */
static int
s_queue(agent_vlan_t *self, struct s_dev *d, const char *const *argv)
{
    d->n_jobs++;
    if (agent_jobs_add(self->jobs, argv, s_on_job, d) != 0) {
        d->n_jobs--;
        return -1;
    }
    return 0;
}

/* Queues step 'd->step' of the making of 'd'.  Returns 0 or -1. */
static int
s_queue_step(agent_vlan_t *self, struct s_dev *d)
{
    char vlan[16], mtu[16];
    snprintf(vlan, sizeof vlan, "%u", d->vlan);
    snprintf(mtu, sizeof mtu, "%u", d->mtu);
    const char *ip = self->ip;
    switch (d->step) {
    case S_STEP_CLEAR:
        return s_queue(self, d, (const char *[]) { ip, "link", "del", "dev",
                                                   d->dev, NULL });
    case S_STEP_ADD: {
        /* The kernel takes no alias when it makes a device: the mark is
         * the next run.  Until then the device is down, unaddressed and
         * named as ours, which the sweep recognises (s_unmarked_ours). */
        const char *argv[24];
        size_t n = 0;
        argv[n++] = ip;
        argv[n++] = "link";
        argv[n++] = "add";
        argv[n++] = "link";
        argv[n++] = self->nic;
        argv[n++] = "name";
        argv[n++] = d->dev;
        if (d->mtu) {
            argv[n++] = "mtu";
            argv[n++] = mtu;
        }
        argv[n++] = "type";
        if (self->macvlan) {
            argv[n++] = "macvlan";
            argv[n++] = "mode";
            argv[n++] = "bridge";
        } else {
            argv[n++] = "vlan";
            argv[n++] = "id";
            argv[n++] = vlan;
        }
        argv[n] = NULL;
        return s_queue(self, d, argv);
    }
    case S_STEP_MARK:
        return s_queue(self, d, (const char *[]) { ip, "link", "set", "dev",
                                                   d->dev, "alias",
                                                   self->mark, NULL });
    case S_STEP_ADDR:
        return s_queue(self, d, (const char *[]) { ip, "addr", "add",
                                                   d->cidr, "dev", d->dev,
                                                   NULL });
    case S_STEP_UP:
        if (!self->macvlan) {
            /* The fast path's frames cross raw, addressed to the far
             * VMs' MACs: a real NIC takes them only when promiscuous,
             * which a VLAN device passes down to it. */
            return s_queue(self, d, (const char *[]) { ip, "link", "set",
                                                       "dev", d->dev, "up",
                                                       "promisc", "on",
                                                       NULL });
        }
        return s_queue(self, d, (const char *[]) { ip, "link", "set", "dev",
                                                   d->dev, "up", NULL });
    case S_STEP_DONE:
    default:
        return 0;
    }
}

/* Frees 'd' once it is being removed and no run of it is left. */
static void
s_maybe_free(struct s_dev *d)
{
    if (d->deleting && d->n_jobs == 0) {
        memset(d, 0, sizeof *d);
    }
}

/* Queues the removal of 'd''s device. */
static void
s_queue_del(agent_vlan_t *self, struct s_dev *d)
{
    d->deleting = true;
    d->step = S_STEP_DONE;
    bool ours;
    if (d->n_jobs == 0 && (!s_exists(self, d->dev, &ours) || !ours)) {
        s_maybe_free(d);        /* nothing of ours to remove */
        return;
    }
    if (s_queue(self, d, (const char *[]) { self->ip, "link", "del", "dev",
                                            d->dev, NULL }) != 0) {
        /* Left for the next start's sweep (it bears our mark). */
        VLOG_WARN_RL("%s: removal not queued (queue full): left for the "
                     "next start's sweep", d->dev);
    }
    s_maybe_free(d);
}

static void
s_failed(agent_vlan_t *self, struct s_dev *d, const char *err)
{
    d->state = AGENT_VLAN_FAILED;
    d->step = S_STEP_DONE;
    snprintf(d->err, sizeof d->err, "%s", err);
    self->stats.failed++;
    VLOG_WARN_RL("link %s: sub-interface %s for VLAN %u failed: %s",
                 LOG_ESC(d->link), d->dev, d->vlan, LOG_ESC(err));
    if (d->added) {
        /* Half made: it goes, and a new want starts over. */
        const char *argv[] = { self->ip, "link", "del", "dev", d->dev, NULL };
        if (s_queue(self, d, argv) == 0) {
            d->added = false;
        }
    }
    if (self->ready) {
        self->ready(d->link, self->arg);
    }
}

static void
s_on_job(void *arg, const struct agent_job_result *r)
{
    struct s_dev *d = arg;
    agent_vlan_t *self = d->owner;
    d->n_jobs--;
    if (r->cancelled) {
        return;                 /* the agent is stopping */
    }
    if (d->deleting) {
        /* The removal, or a step it overtook, ended. */
        if (d->n_jobs == 0) {
            if (r->ok) {
                self->stats.removed++;
                VLOG_INFO("%s: removed (link %s)", d->dev, LOG_ESC(d->link));
            } else {
                VLOG_WARN_RL("%s: removal failed: %s", d->dev,
                             LOG_ESC(r->err));
            }
        }
        s_maybe_free(d);
        return;
    }
    if (d->state != AGENT_VLAN_PENDING) {
        return;                 /* the clean-up of a failed making */
    }
    if (!r->ok && d->step != S_STEP_CLEAR) {
        s_failed(self, d, r->err);
        return;
    }
    if (d->step == S_STEP_ADD) {
        d->added = true;
    }
    d->step++;
    if (d->step == S_STEP_DONE) {
        d->state = AGENT_VLAN_UP;
        self->stats.made++;
        VLOG_INFO("link %s: %s up, VLAN %u on %s, %s%s", LOG_ESC(d->link),
                  d->dev, d->vlan, self->nic, d->cidr,
                  self->macvlan ? " (macvlan stand-in, untagged)" : "");
        if (self->ready) {
            self->ready(d->link, self->arg);
        }
        return;
    }
    if (s_queue_step(self, d) != 0) {
        s_failed(self, d, "too many ip runs queued");
    }
}

int
agent_vlan_want(agent_vlan_t *self, const char *link, uint32_t vlan,
                const char *cidr, uint32_t mtu, char *why, size_t size)
{
    char dev[IF_NAMESIZE];
    if (!agent_vlan_dev_name(self->nic, vlan, dev)) {
        self->stats.refused++;
        s_fail(why, size, "VLAN %u out of range: 1 to %d", vlan,
               AGENT_VLAN_ID_MAX);
        return -1;
    }
    struct s_dev *d = s_find(self, link);
    if (d) {
        if (d->vlan != vlan || strcmp(d->cidr, cidr) != 0) {
            self->stats.refused++;
            s_fail(why, size, "link %s has VLAN %u with %s already",
                   LOG_ESC(link), d->vlan, d->cidr);
            return -1;
        }
        if (d->state != AGENT_VLAN_FAILED || d->n_jobs > 0) {
            return 0;           /* made, being made, or being cleaned */
        }
    } else {
        struct s_dev *free_slot = NULL;
        for (size_t i = 0; i < AGENT_VLAN_MAX_DEVS; i++) {
            struct s_dev *o = &self->devs[i];
            if (o->used && !o->deleting && o->vlan == vlan) {
                self->stats.refused++;
                s_fail(why, size, "VLAN %u is link %s's already", vlan,
                       LOG_ESC(o->link));
                return -1;
            }
            if (!o->used && !free_slot) {
                free_slot = o;
            }
        }
        if (!free_slot) {
            self->stats.refused++;
            s_fail(why, size, "%d VLAN sub-interfaces held already",
                   AGENT_VLAN_MAX_DEVS);
            return -1;
        }
        d = free_slot;
        memset(d, 0, sizeof *d);
        d->used = true;
        d->owner = self;
        snprintf(d->link, sizeof d->link, "%s", link);
        snprintf(d->dev, sizeof d->dev, "%s", dev);
        d->vlan = vlan;
        snprintf(d->cidr, sizeof d->cidr, "%s", cidr);
        d->mtu = mtu;
    }
    bool ours = false;
    bool exists = s_exists(self, dev, &ours);
    /* A device being removed for an earlier link is ours too. */
    if (exists && !ours) {
        self->stats.refused++;
        s_fail(why, size, "device %s exists and is not this agent's: "
               "VLAN %u left alone", dev, vlan);
        memset(d, 0, sizeof *d);
        return -1;
    }
    d->state = AGENT_VLAN_PENDING;
    d->err[0] = '\0';
    d->step = exists ? S_STEP_CLEAR : S_STEP_ADD;
    if (s_queue_step(self, d) != 0) {
        self->stats.refused++;
        s_fail(why, size, "too many ip runs queued: try again");
        memset(d, 0, sizeof *d);
        return -1;
    }
    return 0;
}

void
agent_vlan_drop(agent_vlan_t *self, const char *link)
{
    struct s_dev *d = s_find(self, link);
    if (d) {
        s_queue_del(self, d);
    }
}

enum agent_vlan_state
agent_vlan_state(const agent_vlan_t *self, const char *link,
                 char dev[IF_NAMESIZE], const char **error)
{
    const struct s_dev *d = s_find(self, link);
    if (dev) {
        snprintf(dev, IF_NAMESIZE, "%s", d ? d->dev : "");
    }
    if (error) {
        *error = d && d->state == AGENT_VLAN_FAILED ? d->err : "";
    }
    return d ? d->state : AGENT_VLAN_NONE;
}

void
agent_vlan_fast_dev(const agent_vlan_t *self, const char *dev,
                    char out[IF_NAMESIZE])
{
    snprintf(out, IF_NAMESIZE, "%s", dev);
    if (!self || !self->macvlan) {
        return;
    }
    for (size_t i = 0; i < AGENT_VLAN_MAX_DEVS; i++) {
        const struct s_dev *d = &self->devs[i];
        if (d->used && !d->deleting && !strcmp(d->dev, dev)) {
            snprintf(out, IF_NAMESIZE, "%s", self->nic);
            return;
        }
    }
}

int
agent_vlan_fd(const agent_vlan_t *self)
{
    return agent_jobs_fd(self->jobs);
}

void
agent_vlan_step(agent_vlan_t *self)
{
    agent_jobs_step(self->jobs, vtime_mono_ms());
}

bool
agent_vlan_wait(agent_vlan_t *self, uint32_t max_ms)
{
    return agent_jobs_wait(self->jobs, max_ms);
}

size_t
agent_vlan_count(const agent_vlan_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < AGENT_VLAN_MAX_DEVS; i++) {
        n += self->devs[i].used;
    }
    return n;
}

const struct agent_vlan_stats *
agent_vlan_stats(const agent_vlan_t *self)
{
    return &self->stats;
}

const struct agent_jobs_stats *
agent_vlan_jobs(const agent_vlan_t *self)
{
    return agent_jobs_stats(self->jobs);
}
