/* SPDX-License-Identifier: MIT */
/* vr-fake-agents: plays many vnet-agents at once for the aggregator's
 * benchmark and tests: publishes one LocalMatrix per agent every period to
 * an ingest endpoint, with cumulative counters for a traffic pattern among
 * the VMs, spread round-robin over the agents, plus light chatter from
 * each VM to two others.
 *   vr-fake-agents ENDPOINT [--agents H] [--vms N] [--period-ms P]
 *       [--seconds S] [--pattern all-to-all|ring|groups] [--group G]
 *       [--mbps R] [--switch-at S2 --switch-to PATTERN]
 * 'groups' is all-to-all within groups of G consecutive VMs (sparse at
 * scale).  With --switch-at, the pattern changes S2 seconds in; the time of
 * the change (wall clock, us) is printed so a benchmark can measure how
 * long the aggregator takes to report it.  At the end it prints one JSON
 * object: messages, entries, seconds, switch_us. */
#include <czmq.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "lmatrix.h"
#include "vtime.h"

struct s_opts {
    const char *endpoint;
    int agents;
    int vms;
    int period_ms;
    double seconds;
    const char *pattern;
    int group;
    double mbps;
    double switch_at;
    const char *switch_to;
};

static uint64_t
s_mac(int vm)
{
    return UINT64_C(0x020000000000) | ((uint64_t) vm + 1);
}

/* The VMs 'a' sends bulk traffic to under 'pattern': [*lo, *hi), or
 * only (a + 1) % vms for a ring; 'a' itself excepted. */
static void
s_dests(const struct s_opts *o, const char *pattern, int a, int *lo, int *hi)
{
    if (!strcmp(pattern, "ring")) {
        *lo = (a + 1) % o->vms;
        *hi = *lo + 1;
    } else if (!strcmp(pattern, "groups")) {
        *lo = a / o->group * o->group;
        *hi = *lo + o->group < o->vms ? *lo + o->group : o->vms;
    } else {
        *lo = 0;    /* all-to-all */
        *hi = o->vms;
    }
}

/* Cumulative bytes per (src, dst), sparse, so that 10,000 VMs fit: a
 * cell per pair that ever carried traffic, found through an open hash,
 * and listed per source VM in the order they appeared. */
struct s_cell {
    int a, b;
    uint64_t bytes;
    int next;                   /* the source's next cell, or -1 */
};

struct s_cells {
    struct s_cell *v;
    size_t n, cap;
    int *head, *tail;           /* by source VM */
    int *slot;                  /* open hash: cell index or -1 */
    size_t mask;
};

static size_t
s_cell_hash(int a, int b, size_t mask)
{
    uint64_t h = ((uint64_t) a * UINT64_C(0x9e3779b97f4a7c15))
                 ^ ((uint64_t) b * UINT64_C(0xc2b2ae3d27d4eb4f));
    return (size_t) (h ^ (h >> 29)) & mask;
}

/* Rebuilds the hash with 'slots' slots; false when memory is short. */
static bool
s_cells_rehash(struct s_cells *c, size_t slots)
{
    int *slot = malloc(slots * sizeof *slot);
    if (!slot) {
        return false;
    }
    for (size_t i = 0; i < slots; i++) {
        slot[i] = -1;
    }
    for (size_t i = 0; i < c->n; i++) {
        size_t h = s_cell_hash(c->v[i].a, c->v[i].b, slots - 1);
        while (slot[h] >= 0) {
            h = (h + 1) & (slots - 1);
        }
        slot[h] = (int) i;
    }
    free(c->slot);
    c->slot = slot;
    c->mask = slots - 1;
    return true;
}

/* The bytes of (a, b), the cell made if new; exits when memory is
 * short. */
static uint64_t *
s_cell(struct s_cells *c, int a, int b)
{
    size_t h = s_cell_hash(a, b, c->mask);
    for (; c->slot[h] >= 0; h = (h + 1) & c->mask) {
        struct s_cell *x = &c->v[c->slot[h]];
        if (x->a == a && x->b == b) {
            return &x->bytes;
        }
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 1024;
        struct s_cell *v = realloc(c->v, cap * sizeof *v);
        if (v) {
            c->v = v;
        }
        if (!v || !s_cells_rehash(c, 4 * cap)) {
            fprintf(stderr, "vr-fake-agents: out of memory\n");
            exit(1);
        }
        c->cap = cap;
        return s_cell(c, a, b);
    }
    int i = (int) c->n++;
    c->slot[h] = i;
    c->v[i] = (struct s_cell) { a, b, 0, -1 };
    if (c->tail[a] >= 0) {
        c->v[c->tail[a]].next = i;
    } else {
        c->head[a] = i;
    }
    c->tail[a] = i;
    return &c->v[i].bytes;
}

int
main(int argc, char **argv)
{
    struct s_opts o = {
        .agents = 10, .vms = 100, .period_ms = 100, .seconds = 10,
        .pattern = "groups", .group = 10, .mbps = 100, .switch_at = -1,
    };
    static const struct option opts[] = {
        { "agents", required_argument, NULL, 'a' },
        { "vms", required_argument, NULL, 'n' },
        { "period-ms", required_argument, NULL, 'p' },
        { "seconds", required_argument, NULL, 's' },
        { "pattern", required_argument, NULL, 't' },
        { "group", required_argument, NULL, 'g' },
        { "mbps", required_argument, NULL, 'r' },
        { "switch-at", required_argument, NULL, 'w' },
        { "switch-to", required_argument, NULL, 'x' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'a': o.agents = atoi(optarg); break;
        case 'n': o.vms = atoi(optarg); break;
        case 'p': o.period_ms = atoi(optarg); break;
        case 's': o.seconds = atof(optarg); break;
        case 't': o.pattern = optarg; break;
        case 'g': o.group = atoi(optarg); break;
        case 'r': o.mbps = atof(optarg); break;
        case 'w': o.switch_at = atof(optarg); break;
        case 'x': o.switch_to = optarg; break;
        default: return 2;
        }
    }
    if (optind != argc - 1 || o.agents < 1 || o.vms < 2 || o.period_ms < 1
        || o.group < 2) {
        fprintf(stderr, "usage: vr-fake-agents ENDPOINT [--agents H] "
                        "[--vms N] [--period-ms P] [--seconds S] "
                        "[--pattern P] [--group G] [--mbps R] "
                        "[--switch-at S --switch-to P]\n");
        return 2;
    }
    o.endpoint = argv[optind];
    bus_t *bus = bus_new("fake-agents", NULL);
    zsock_t *pub = bus ? bus_connect(bus, ZMQ_PUB, o.endpoint, "aggregator")
                       : NULL;
    if (!pub) {
        return 1;
    }
    zclock_sleep(300);      /* let the connection come up */

    /* An agent's matrix has at most a row per VM, each at most a cell
     * per VM. */
    size_t n = (size_t) o.vms;
    size_t per_agent = (n + (size_t) o.agents - 1) / (size_t) o.agents;
    struct s_cells cells = { .n = 0 };
    cells.head = malloc(n * sizeof *cells.head);
    cells.tail = malloc(n * sizeof *cells.tail);
    Vr__LocalMatrix m = VR__LOCAL_MATRIX__INIT;
    if (!cells.head || !cells.tail || lmatrix_alloc(&m, per_agent * n) < 0
        || !s_cells_rehash(&cells, 4096)) {
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        cells.head[i] = cells.tail[i] = -1;
    }
    double per_period = o.mbps * 1e6 / 8 * o.period_ms / 1000.0;
    uint64_t t0 = vtime_mono_us(), switch_us = 0;
    uint64_t messages = 0, entries = 0;
    const char *pattern = o.pattern;
    for (uint64_t tick = 0;; tick++) {
        uint64_t due = t0 + tick * (uint64_t) o.period_ms * 1000;
        uint64_t now = vtime_mono_us();
        if (due > now) {
            zclock_sleep((int) ((due - now) / 1000));
        }
        double elapsed = (vtime_mono_us() - t0) / 1e6;
        if (elapsed >= o.seconds) {
            break;
        }
        if (o.switch_at >= 0 && !switch_us && elapsed >= o.switch_at
            && o.switch_to) {
            pattern = o.switch_to;
            switch_us = vtime_now_us();
        }
        for (int ag = 0; ag < o.agents; ag++) {
            size_t k = 0;
            for (int a = ag; a < o.vms; a += o.agents) {
                int lo, hi;
                s_dests(&o, pattern, a, &lo, &hi);
                for (int b = lo; b < hi; b++) {
                    if (b != a) {
                        *s_cell(&cells, a, b) += (uint64_t) per_period;
                    }
                }
                int chat[2] = { (a + 7) % o.vms, (a + 13) % o.vms };
                for (int j = 0; j < 2 && tick % 10 == 0; j++) {
                    /* Chatter to two fixed VMs: a few hundred bytes a
                     * second, as DNS or NTP would be; none where bulk
                     * traffic goes already. */
                    int b = chat[j];
                    if (b != a && (b < lo || b >= hi)
                        && (j == 0 || chat[1] != chat[0])) {
                        *s_cell(&cells, a, b) += 60;
                    }
                }
                for (int i = cells.head[a]; i >= 0; i = cells.v[i].next) {
                    const struct s_cell *x = &cells.v[i];
                    if (x->bytes == 0) {
                        continue;
                    }
                    lmatrix_set(&m, k++, s_mac(a), s_mac(x->b), x->bytes,
                                x->bytes / 1400 + 1);
                }
            }
            char id[32];
            snprintf(id, sizeof id, "fake%d", ag);
            if (tick % 10 == 0) {
                /* Where each VM lives, as real agents say every hello. */
                Vr__VmLocation locs[64], *lp[64];
                size_t nl = 0;
                for (int a = ag; a < o.vms && nl < 64; a += o.agents) {
                    vr__vm_location__init(&locs[nl]);
                    locs[nl].mac = s_mac(a);
                    locs[nl].agent_id = id;
                    lp[nl] = &locs[nl];
                    nl++;
                }
                Vr__VmLocations vl = VR__VM_LOCATIONS__INIT;
                vl.reporter = id;
                vl.vms = lp;
                vl.n_vms = nl;
                bus_send(bus, pub, VR__MSG_TYPE__MSG_VM_LOCATIONS, &vl.base);
            }
            m.agent_id = id;
            m.boot_id = 42;
            m.period_us = (uint64_t) o.period_ms * 1000;
            m.time_us = vtime_now_us();
            lmatrix_len_set(&m, k);
            if (bus_send(bus, pub, VR__MSG_TYPE__MSG_LOCAL_MATRIX, &m.base)
                == 0) {
                messages++;
                entries += k;
            }
        }
    }
    printf("{\"messages\":%llu,\"entries\":%llu,\"seconds\":%.1f,"
           "\"switch_us\":%llu}\n", (unsigned long long) messages,
           (unsigned long long) entries, o.seconds,
           (unsigned long long) switch_us);
    zclock_sleep(200);
    free(cells.v);
    free(cells.slot);
    free(cells.head);
    free(cells.tail);
    lmatrix_free(&m);
    zsock_destroy(&pub);
    bus_destroy(&bus);
    return 0;
}
