/* SPDX-License-Identifier: MIT */
/* Learned MACs, from the packet threads to the forwarding table: the
 * learn events the packet threads send through a pipe go to the claims
 * table (agent_learn) first, and only the claims it grants change the
 * table, in one new snapshot per batch (agent_change); claims that aged
 * out leave the table every period.  The proxy's hellos (agent_star)
 * claim their agents' MACs through agent_claim() too.  Control thread. */
#include "agent_priv.h"

#include <stdlib.h>
#include <unistd.h>

#include "eth.h"
#include "log.h"
#include "vtime.h"

LOG_MODULE("agent_claim");


/* Logs a refused claim: an agent (or a VM) showed a MAC that another
 * owner holds.  Names of links come from hellos: escaped. */
static void
s_log_refused(const agent_t *self, uint64_t mac, struct fwd_action claimer)
{
    char m[ETH_MAC_STRLEN], by[96], holder[96];
    struct fwd_action owner = learn_owner(self->learn, mac, NULL);
    VLOG_WARN_RL(
        "learn: %s claims %s, which %s holds: refused",
        LOG_ESC(agent_target_name(self, claimer, by, sizeof by)),
        eth_mac_format(mac, m),
        LOG_ESC(agent_target_name(self, owner, holder, sizeof holder)));
}

bool
agent_claim(agent_t *self, const fwd_table_t *fwd, uint64_t mac,
        struct fwd_action owner, uint64_t now_us)
{
    struct fwd_action prev;
    switch (learn_claim(self->learn, mac, owner, now_us, &prev)) {
    case LEARN_ADDED:
        return true;
    case LEARN_MOVED: {
        char m[ETH_MAC_STRLEN], from[96], to[96];
        VLOG_INFO_RL("learn: %s moves from %s to %s", eth_mac_format(mac, m),
                     LOG_ESC(agent_target_name(self, prev, from, sizeof from)),
                     LOG_ESC(agent_target_name(self, owner, to, sizeof to)));
        return true;
    }
    case LEARN_REFRESHED: {
        struct fwd_action a = fwd_table_learned(fwd, mac);
        return a.kind != owner.kind || a.index != owner.index;
    }
    case LEARN_REFUSED:
        s_log_refused(self, mac, owner);
        return false;
    case LEARN_CAPPED:
    case LEARN_INVALID:
    default:
        return false;
    }
}

struct s_learn_batch {
    struct agent_learn_ev evs[256];
    size_t n;
};

static int
s_learn_edit(agent_t *self, fwd_table_t *fwd, void *arg)
{
    const struct s_learn_batch *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        struct fwd_action a = { b->evs[i].kind, b->evs[i].index };
        fwd_table_set(fwd, b->evs[i].mac, 0, FWD_LEARNED, a);
        self->n_learned++;
    }
    return 0;
}

static int
s_on_learn(svc_t *svc, int fd, void *arg)
{
    agent_t *self = arg;
    (void) svc;
    struct agent_learn_ev evs[256];
    ssize_t got = read(fd, evs, sizeof evs);
    if (got < (ssize_t) sizeof evs[0]) {
        return 0;
    }
    /* The claims table decides first, so that a batch of refreshes and
     * refusals (a VM spraying made-up MACs past its cap) costs no copy of
     * the forwarding table. */
    static struct s_learn_batch b;
    b.n = 0;
    const fwd_table_t *cur = agent_current(self)->fwd;
    uint64_t now = vtime_mono_us();
    for (size_t i = 0; i < (size_t) got / sizeof evs[0]; i++) {
        struct fwd_action a = { evs[i].kind, evs[i].index };
        bool valid = a.kind == FWD_PORT
                         ? a.index < self->n_ports && self->ports[a.index]
                     : a.kind == FWD_LINK && a.index < AGENT_MAX_LINKS
                           && self->links[a.index] != NULL
                           && !atomic_load(&self->links[a.index]->lingering);
        if (valid && agent_claim(self, cur, evs[i].mac, a, now)) {
            b.evs[b.n++] = evs[i];
        }
    }
    /* Out of memory: the claims are in, and the next report of each sets
     * it (s_claim sees the table does not show it). */
    if (b.n > 0) {
        agent_change(self, s_learn_edit, &b);
    }
    return 0;
}

/* Forgets learned MACs whose claims aged out. */
struct s_expired {
    uint64_t *macs;
    size_t n, cap;
};

static void
s_expired_one(uint64_t mac, struct fwd_action owner, void *arg)
{
    struct s_expired *x = arg;
    (void) owner;
    if (x->n < x->cap) {
        x->macs[x->n++] = mac;
    }
}

static int
s_expire_edit(agent_t *self, fwd_table_t *fwd, void *arg)
{
    (void) self;
    const struct s_expired *x = arg;
    for (size_t i = 0; i < x->n; i++) {
        fwd_table_remove(fwd, x->macs[i], 0, FWD_LEARNED);
    }
    return 0;
}

static int
s_on_expire(svc_t *svc, void *arg)
{
    agent_t *self = arg;
    (void) svc;
    struct s_expired x = { .cap = learn_size(self->learn) };
    if (x.cap == 0 || !(x.macs = malloc(x.cap * sizeof *x.macs))) {
        return 0;
    }
    learn_expire(self->learn, vtime_mono_us(), s_expired_one, &x);
    if (x.n > 0) {
        agent_change(self, s_expire_edit, &x);
    }
    free(x.macs);
    return 0;
}

int
agent_claim_start(agent_t *self)
{
    if (svc_add_fd(self->svc, self->learn_pipe[0], s_on_learn, self) != 0
        || svc_add_timer(self->svc, self->cfg->period_ms, s_on_expire, self)
               != 0) {
        return -1;
    }
    return 0;
}

