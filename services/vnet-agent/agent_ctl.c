/* SPDX-License-Identifier: MIT */
/* The agent's control socket: requests for links, rules, probes and
 * status, checked (agent_check) and answered, probes later (agent_probe).
 * Every change to forwarding is made on a copy of the table and
 * published as a new snapshot (agent_change), all rules of a request at
 * once.  What the control thread does besides is elsewhere: learned MACs
 * in agent_claim, hellos and joins in agent_star, publishing in
 * agent_pub, the fast path in agent_fast. */
#include "agent_priv.h"
#include "agent_check.h"
#include "agent_jobs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "eth.h"
#include "log.h"
#include "vtime.h"

LOG_MODULE("agent_ctl");

/* How often waiting probes are re-sent or given up: a fifth of their
 * re-send period is precision enough. */
enum { S_PROBE_TICK_MS = 20 };

/* A rule change waits this long at most for the fast path to show it
 * before it is acked anyway (the filters follow when tc is done): well
 * within the callers' reply timeouts (vnetctl 1 s, the planner 2 s). */
enum { S_FAST_WAIT_MS = 500 };

/* ------------------------------------------------------------------ */
/* Helpers */

static int
s_reply_ack(agent_t *self, const char *detail)
{
    Vr__Ack ack = VR__ACK__INIT;
    ack.detail = (char *) detail;
    return bus_send(self->bus, svc_control(self->svc), VR__MSG_TYPE__MSG_ACK,
                    &ack.base);
}

static int
s_error(agent_t *self, int code, int type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
s_error(agent_t *self, int code, int type, const char *fmt, ...)
{
    char text[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    return bus_send_error(self->bus, svc_control(self->svc), code, type,
                          "%s", text);
}

/* How a link's datagrams are protected, for link list. */
static const char *
s_link_security(const agent_t *self, const agent_link_t *l)
{
    if (!l->sec) {
        return "insecure";
    }
    bool up = link_sec_tx(l->sec) != NULL;
    if (l->circuit && agent_circuits_trusted(self)) {
        return up ? "trusted" : "trusted, no session";
    }
    if (l->sec->encrypt) {
        return up ? "encrypted" : "encrypted, no session";
    }
    return up ? "authenticated" : "authenticated, no session";
}

/* Room for "a.b.c.d:port". */
enum { S_ADDR_STRLEN = 24 };

/* Room for a sub-interface's state ("failed: <why>"). */
enum { S_VLAN_STATE_LEN = 96 };

static void
s_link_to_proto(const agent_t *self, const agent_link_t *l, Vr__Link *out,
                Vr__LinkCounters *c, char endpoint[S_ADDR_STRLEN],
                char vlan_dev[IF_NAMESIZE], char vlan_state[S_VLAN_STATE_LEN])
{
    struct link_stats st;
    agent_link_totals(l, &st);
    vr__link__init(out);
    vr__link_counters__init(c);
    out->name = (char *) l->name;
    out->proto = l->tcp ? VR__LINK_PROTO__LINK_PROTO_TCP
                        : VR__LINK_PROTO__LINK_PROTO_UDP;
    out->peer = (char *) l->peer_str;
    struct sockaddr_in ep;
    char ip[INET_ADDRSTRLEN];
    agent_link_endpoint(l, &ep);
    inet_ntop(AF_INET, &ep.sin_addr, ip, sizeof ip);
    snprintf(endpoint, S_ADDR_STRLEN, "%s:%u", ip, ntohs(ep.sin_port));
    out->endpoint = endpoint;
    out->peer_agent = (char *) l->peer_agent;
    out->mtu = l->mtu;
    out->circuit = l->circuit;
    out->fast_dev = (char *) l->fast_dev;
    out->fast_state = "";
    if (l->fast_dev[0] && self->fast) {
        enum agent_fast_state fs = agent_fast_dev_state(self->fast,
                                                        l->fast_dev);
        out->fast_state = fs == AGENT_FAST_PENDING ? "pending"
                          : fs == AGENT_FAST_FAILED ? "failed" : "up";
    }
    out->security = (char *) s_link_security(self, l);
    out->vlan = l->vlan;
    out->vlan_dev = "";
    out->vlan_state = "";
    if (l->vlan && self->vlan) {
        const char *err = "";
        enum agent_vlan_state vs = agent_vlan_state(self->vlan, l->name,
                                                    vlan_dev, &err);
        out->vlan_dev = vlan_dev;
        if (vs == AGENT_VLAN_FAILED) {
            snprintf(vlan_state, S_VLAN_STATE_LEN, "failed: %s", err);
            out->vlan_state = vlan_state;
        } else {
            out->vlan_state = vs == AGENT_VLAN_UP ? "up"
                              : vs == AGENT_VLAN_PENDING ? "pending" : "none";
        }
    }
    uint64_t last = atomic_load(&l->last_rx_us);
    uint64_t quiet = vtime_mono_us() - last;
    if (l->tcp) {
        out->state = l->tcp_fd >= 0 && !atomic_load(&l->tcp_broken)
                         ? VR__LINK_STATE__LINK_STATE_UP
                         : VR__LINK_STATE__LINK_STATE_CONNECTING;
    } else {
        out->state = last && quiet < 3000ull * self->cfg->hello_ms
                         ? VR__LINK_STATE__LINK_STATE_UP
                         : VR__LINK_STATE__LINK_STATE_DOWN;
    }
    c->tx_frames = st.tx_frames;
    c->tx_bytes = st.tx_bytes;
    c->tx_drops = st.tx_drops;
    c->rx_frames = st.rx_frames;
    c->rx_bytes = st.rx_bytes;
    c->rx_drops = st.rx_drops;
    c->rx_bad_header = st.rx_bad;
    c->rx_forged = st.rx_forged;
    c->rx_replayed = st.rx_replayed;
    c->tx_nokey = st.tx_nokey;
    c->roamed = st.roamed;
    out->counters = c;
}

/* Refuses request 'type' as agent_check said ('why': escaped already),
 * with a rate-limited log line. */
static int
s_bad_request(agent_t *self, int type, const char *why)
{
    VLOG_WARN_RL("refused %s: %s", msgtype_name(type), why);
    return s_error(self, VR__ERROR_CODE__ERR_BAD_REQUEST, type, "%s", why);
}

/* Finds link 'name' for request 'type', or answers NOT_FOUND and returns
 * -1. */
static int
s_named_link(agent_t *self, const char *name, int type)
{
    int index = name ? agent_find_link(self, name) : -1;
    if (index < 0) {
        s_error(self, VR__ERROR_CODE__ERR_NOT_FOUND, type, "no link '%s'",
                name ? name : "");
    }
    return index;
}

/* Sends reply 'body' of 'type' on the control socket. */
static int
s_reply(agent_t *self, int type, const ProtobufCMessage *body)
{
    return bus_send(self->bus, svc_control(self->svc), type, body);
}

/* "local:<iface>" or a link name -> an action; false if neither. */
static bool
s_resolve(const agent_t *self, const char *target, struct fwd_action *a)
{
    if (!strncmp(target, "local:", 6)) {
        for (size_t i = 0; i < self->n_ports; i++) {
            if (self->ports[i]
                && !strcmp(agent_port_name(self->ports[i]), target + 6)) {
                *a = (struct fwd_action) { FWD_PORT, (uint16_t) i };
                return true;
            }
        }
        return false;
    }
    int i = agent_find_link(self, target);
    if (i < 0) {
        return false;
    }
    *a = (struct fwd_action) { FWD_LINK, (uint16_t) i };
    return true;
}

/* ------------------------------------------------------------------ */
/* Requests */

static int
s_link_create(agent_t *self, const Vr__LinkCreate *req, int type)
{
    char why[256];
    if (!agent_check_link_create(req, why, sizeof why)) {
        return s_bad_request(self, type, why);
    }
    /* From here on every field is well formed: safe to log as it is. */
    const Vr__Link *l = req->link;
    bool tcp = l->proto == VR__LINK_PROTO__LINK_PROTO_TCP;
    struct sockaddr_in peer;
    if (!agent_link_parse_addr(l->peer, &peer)) {
        return s_error(self, VR__ERROR_CODE__ERR_BAD_REQUEST, type,
                       "link %s: bad peer '%s': expected ipv4:port",
                       l->name, l->peer);
    }
    char cidr[AGENT_VLAN_CIDR_LEN] = "";
    if (l->vlan && !agent_vlan_cidr(l->local, l->prefix_len, cidr, why,
                                    sizeof why)) {
        return s_bad_request(self, type, why);  /* checked: not reached */
    }
    /* A link made again replaces the one lingering under its name or on
     * its VLAN (agent_linger.c). */
    if (agent_linger_replace(self, l->name, l->vlan) != 0) {
        return s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                       "link %s: out of memory", l->name);
    }
    int index = agent_find_link(self, l->name);
    if (index >= 0) {
        agent_link_t *old = self->links[index];
        if (strcmp(old->peer_str, l->peer) != 0 || old->tcp != tcp
            || old->vlan != l->vlan
            || (l->vlan && strcmp(old->vlan_cidr, cidr) != 0)) {
            return s_error(self, VR__ERROR_CODE__ERR_EXISTS, type,
                           "link %s exists, to %s (VLAN %u)", l->name,
                           old->peer_str, old->vlan);
        }
        /* Again: a sub-interface that failed is tried once more. */
        if (l->vlan && agent_circuit_want(self, old, l->vlan, cidr, l->mtu,
                                          why, sizeof why) != 0) {
            VLOG_WARN_RL("refused %s: %s", msgtype_name(type), why);
            return s_error(self, VR__ERROR_CODE__ERR_ILLEGAL_STATE, type,
                           "%s", why);
        }
        agent_fast_set_circuit(self, old, l->circuit);
    } else if (!tcp && !l->vlan
               && (index = agent_find_link_by_peer(self, &peer)) >= 0
               && self->links[index]->learned) {
        /* The proxy learned this peer from its hellos: it becomes the
         * named link, so traffic from it keeps one path. */
        agent_link_t *adopt = self->links[index];
        snprintf(adopt->name, sizeof adopt->name, "%s", l->name);
        adopt->learned = false;
    } else {
        uint32_t mtu = l->mtu ? l->mtu : self->cfg->mtu;
        agent_link_t *link = tcp ? agent_link_new_tcp(l->name, l->peer)
                                 : agent_link_new(l->name, l->peer,
                                                  self->udp_fd, mtu);
        if (!link) {
            return s_error(self, VR__ERROR_CODE__ERR_BAD_REQUEST, type,
                           "link %s: cannot create (mtu %u?)", l->name, mtu);
        }
        if (l->peer_agent) {
            snprintf(link->peer_agent, sizeof link->peer_agent, "%s",
                     l->peer_agent);
        }
        link->circuit = l->circuit;
        /* The sub-interface is asked for first: its link is bound on it
         * when it is up (agent_circuit), and probes fail until then. */
        if (l->vlan && agent_circuit_want(self, link, l->vlan, cidr, l->mtu,
                                          why, sizeof why) != 0) {
            agent_link_destroy(&link);
            VLOG_WARN_RL("refused %s: %s", msgtype_name(type), why);
            return s_error(self, self->vlan ? VR__ERROR_CODE__ERR_ILLEGAL_STATE
                                            : VR__ERROR_CODE__ERR_BAD_REQUEST,
                           type, "%s", why);
        }
        if (self->hs
            && agent_link_secure(link,
                                 agent_link_wants_encryption(self, link))
                   != 0) {
            if (link->vlan) {
                agent_vlan_drop(self->vlan, link->name);
            }
            agent_link_destroy(&link);
            return s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                           "link %s: out of memory", LOG_ESC(l->name));
        }
        if (link->sec) {
            /* Pairs with the peer's link of the same name (agent_ovl.c
             * s_hs1_link). */
            link->sec->tag = link_sec_tag(l->name);
        }
        index = agent_add_link(self, link);
        if (index < 0 && agent_linger_free_one(self)) {
            index = agent_add_link(self, link);
        }
        if (index < 0 || agent_change(self, NULL, NULL) != 0) {
            if (index >= 0) {
                self->links[index] = NULL;
            }
            if (link->vlan) {
                agent_vlan_drop(self->vlan, link->name);
            }
            agent_link_destroy(&link);
            return s_error(self, VR__ERROR_CODE__ERR_LIMIT, type,
                           "link %s: no room for another link", l->name);
        }
        VLOG_INFO_RL("link %s: created to %s over %s%s%s", LOG_ESC(l->name),
                     LOG_ESC(l->peer), tcp ? "TCP" : "UDP",
                     l->circuit ? ", a circuit" : "",
                     l->vlan ? " on a VLAN sub-interface" : "");
        agent_fast_set_circuit(self, link, l->circuit);
        /* The peer may not have its end yet: the hello timer retries. */
        if (tcp) {
            agent_star_tcp_up(self, link);
        }
    }
    Vr__Link out;
    Vr__LinkCounters c;
    char endpoint[S_ADDR_STRLEN], vdev[IF_NAMESIZE];
    char vstate[S_VLAN_STATE_LEN];
    s_link_to_proto(self, self->links[index], &out, &c, endpoint, vdev,
                    vstate);
    Vr__LinkInfo info = VR__LINK_INFO__INIT;
    info.link = &out;
    return s_reply(self, VR__MSG_TYPE__MSG_LINK_INFO, &info.base);
}

static int
s_link_remove(agent_t *self, const Vr__LinkRemove *req, int type)
{
    char why[256];
    if (!agent_check_link_remove(req, why, sizeof why)) {
        return s_bad_request(self, type, why);
    }
    int index = s_named_link(self, req->name, type);
    if (index < 0) {
        return 0;
    }
    if (index == self->proxy_link) {
        return s_error(self, VR__ERROR_CODE__ERR_ILLEGAL_STATE, type,
                       "link '%s' is the star's link to the proxy",
                       req->name);
    }
    if (agent_linger_retire(self, index, vtime_mono_us()) != 0) {
        return s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                       "link '%s': out of memory", req->name);
    }
    if (self->cfg->link_linger_ms) {
        VLOG_INFO_RL("link %s: removed (what is still on its way over it "
                     "is taken for %u ms)", LOG_ESC(req->name),
                     self->cfg->link_linger_ms);
    } else {
        VLOG_INFO_RL("link %s: removed", LOG_ESC(req->name));
    }
    return s_reply_ack(self, "removed");
}

static int
s_link_list(agent_t *self)
{
    Vr__Link links[AGENT_MAX_LINKS];
    Vr__LinkCounters counters[AGENT_MAX_LINKS];
    Vr__Link *ptrs[AGENT_MAX_LINKS];
    static char endpoints[AGENT_MAX_LINKS][S_ADDR_STRLEN];
    static char vdevs[AGENT_MAX_LINKS][IF_NAMESIZE];
    static char vstates[AGENT_MAX_LINKS][S_VLAN_STATE_LEN];
    size_t n = 0;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        if (self->links[i] && !atomic_load(&self->links[i]->lingering)) {
            s_link_to_proto(self, self->links[i], &links[n], &counters[n],
                            endpoints[n], vdevs[n], vstates[n]);
            ptrs[n] = &links[n];
            n++;
        }
    }
    Vr__LinkList list = VR__LINK_LIST__INIT;
    list.links = ptrs;
    list.n_links = n;
    return s_reply(self, VR__MSG_TYPE__MSG_LINK_LIST, &list.base);
}

static void
s_probe_send(agent_t *self, struct agent_probe *p)
{
    agent_link_send_ctl(self->links[p->link], AGENT_T_CTL, ENCAP_PROBE,
                        &p->cookie, sizeof p->cookie);
}

/* Answers the request of probe 'p' and frees its slot. */
static void
s_probe_answer(agent_t *self, struct agent_probe *p, bool ok)
{
    Vr__LinkProbeReply reply = VR__LINK_PROBE_REPLY__INIT;
    reply.ok = ok;
    if (ok) {
        reply.rtt_us = vtime_mono_us() - p->t0_us;
    }
    svc_resume(self->svc, &p->later);
    s_reply(self, VR__MSG_TYPE__MSG_LINK_PROBE_REPLY, &reply.base);
    agent_probe_done(&self->probes, p);
}

/* The request waits in self->probes for the echo: answered from
 * s_on_probe_echo or s_on_tick, never waited for here. */
static int
s_link_probe(agent_t *self, const Vr__LinkProbe *req, int type)
{
    char why[256];
    if (!agent_check_link_probe(req, why, sizeof why)) {
        return s_bad_request(self, type, why);
    }
    int index = s_named_link(self, req->name, type);
    if (index < 0) {
        return 0;
    }
    uint64_t cookie;
    if (getrandom(&cookie, sizeof cookie, 0) != sizeof cookie) {
        cookie = vtime_mono_us();
    }
    struct agent_probe *p = agent_probe_add(&self->probes, index,
                                            self->links[index]->name, cookie,
                                            vtime_mono_us(), req->timeout_ms);
    if (!p) {
        return s_error(self, VR__ERROR_CODE__ERR_LIMIT, type,
                       "%d probes are waiting already", PROBE_MAX);
    }
    if (svc_defer(self->svc, &p->later) != 0) {
        agent_probe_done(&self->probes, p);
        return s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                       "cannot answer a probe later");
    }
    p->next_send_us = vtime_mono_us() + PROBE_RESEND_MS * 1000ull;
    s_probe_send(self, p);
    return 0;
}

/* A request's edit of the table, for agent_change(): the rules it sets
 * or removes, and why it failed. */
struct s_rules_edit {
    const Vr__Rule *const *rules;
    size_t n;
    int code;                   /* the error's code, when it fails */
    char why[200];
};

static int
s_rules_set(agent_t *self, fwd_table_t *fwd, void *arg)
{
    struct s_rules_edit *ed = arg;
    for (size_t i = 0; i < ed->n; i++) {
        const Vr__Rule *r = ed->rules[i];
        struct fwd_action a;
        char mac[ETH_MAC_STRLEN];
        if (r->dst_mac == 0 || r->dst_mac > ETH_MAC_BROADCAST
            || r->src_mac > ETH_MAC_BROADCAST) {
            ed->code = VR__ERROR_CODE__ERR_BAD_REQUEST;
            snprintf(ed->why, sizeof ed->why, "rule %zu: bad MAC", i);
            return 1;
        }
        if (!r->link || !s_resolve(self, r->link, &a)) {
            ed->code = VR__ERROR_CODE__ERR_NOT_FOUND;
            snprintf(ed->why, sizeof ed->why,
                     "rule %zu (dst %s): no link or port '%s'", i,
                     eth_mac_format(r->dst_mac, mac),
                     r->link ? r->link : "");
            return 1;
        }
        if (fwd_table_set(fwd, r->dst_mac, r->src_mac, FWD_RULE, a) != 0) {
            return -1;
        }
        /* Replacing a rule adds none: the count says. */
        if (fwd_table_count(fwd, FWD_RULE) > self->cfg->max_rules) {
            ed->code = VR__ERROR_CODE__ERR_LIMIT;
            snprintf(ed->why, sizeof ed->why,
                     "rule %zu: more than max_rules (%u) rules", i,
                     self->cfg->max_rules);
            return 1;
        }
    }
    return 0;
}

static int
s_rules_unset(agent_t *self, fwd_table_t *fwd, void *arg)
{
    struct s_rules_edit *ed = arg;
    for (size_t i = 0; i < ed->n; i++) {
        const Vr__Rule *r = ed->rules[i];
        if (!fwd_table_remove(fwd, r->dst_mac, r->src_mac, FWD_RULE)) {
            char d[ETH_MAC_STRLEN], s[ETH_MAC_STRLEN];
            ed->code = VR__ERROR_CODE__ERR_NOT_FOUND;
            snprintf(ed->why, sizeof ed->why, "no rule for dst %s src %s",
                     eth_mac_format(r->dst_mac, d),
                     r->src_mac ? eth_mac_format(r->src_mac, s) : "any");
            return 1;
        }
    }
    return 0;
}

/* The request being handled waits for the fast path to show its change
 * (its tc runs to end), S_FAST_WAIT_MS at most, then is acked 'done'.
 * Returns 0, or -1 if it cannot wait (answer it now). */
static int
s_fast_defer(agent_t *self, const char *done)
{
    if (self->n_fast_waits == AGENT_FAST_WAITS) {
        return -1;
    }
    struct agent_fast_wait *w = &self->fast_waits[self->n_fast_waits];
    if (svc_defer(self->svc, &w->later) != 0) {
        return -1;
    }
    w->gen = self->fast_gen;
    w->by_ms = vtime_mono_ms() + S_FAST_WAIT_MS;
    snprintf(w->done, sizeof w->done, "%s", done);
    self->n_fast_waits++;
    return 0;
}

/* Answers the waiting requests the fast path has caught up with, and
 * (with 'now_ms') those that waited long enough. */
static void
s_fast_answer(agent_t *self, uint64_t now_ms)
{
    /* May run inside another request's handler: its route is put back. */
    struct svc_later cur;
    bool in_request = svc_defer(self->svc, &cur) == 0;
    uint64_t done = self->fast ? agent_fast_done_gen(self->fast) : UINT64_MAX;
    for (size_t i = 0; i < self->n_fast_waits;) {
        struct agent_fast_wait *w = &self->fast_waits[i];
        bool late = now_ms && now_ms >= w->by_ms;
        if (w->gen > done && !late) {
            i++;
            continue;
        }
        char detail[64];
        snprintf(detail, sizeof detail, "%s%s", w->done,
                 w->gen > done ? "; the fast path follows" : "");
        svc_resume(self->svc, &w->later);
        s_reply_ack(self, detail);
        *w = self->fast_waits[--self->n_fast_waits];
    }
    if (in_request) {
        svc_resume(self->svc, &cur);
    }
}

void
agent_ctl_fast_done(agent_t *self)
{
    s_fast_answer(self, 0);
}

/* Applies 'edit' to the table for request 'type' and answers it: ack
 * 'done', logged if 'say'. */
static int
s_rules_change(agent_t *self, agent_edit_fn *edit, struct s_rules_edit *ed,
               int type, const char *done, bool say)
{
    int rc = agent_change(self, edit, ed);
    if (rc > 0) {
        return s_error(self, ed->code, type, "%s", ed->why);
    }
    if (rc < 0) {
        return s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                       "out of memory");
    }
    if (say) {
        VLOG_INFO_RL("%zu rule(s) %s", ed->n, done);
    }
    if (!agent_fast_synced(self) && s_fast_defer(self, done) == 0) {
        return 0;   /* answered when tc is done (agent_ctl_fast_done) */
    }
    return s_reply_ack(self, done);
}

static int
s_rule_add(agent_t *self, const Vr__RuleAdd *req, int type)
{
    char why[256];
    if (!agent_check_rules((const Vr__Rule *const *) req->rules,
                           req->n_rules, true, why, sizeof why)) {
        return s_bad_request(self, type, why);
    }
    struct s_rules_edit ed = { (const Vr__Rule *const *) req->rules,
                               req->n_rules, 0, "" };
    return s_rules_change(self, s_rules_set, &ed, type, "set", true);
}

static int
s_rule_remove(agent_t *self, const Vr__RuleRemove *req, int type)
{
    char why[256];
    if (!agent_check_rules((const Vr__Rule *const *) req->rules,
                           req->n_rules, false, why, sizeof why)) {
        return s_bad_request(self, type, why);
    }
    struct s_rules_edit ed = { (const Vr__Rule *const *) req->rules,
                               req->n_rules, 0, "" };
    return s_rules_change(self, s_rules_unset, &ed, type, "removed", false);
}

struct s_rule_acc {
    const agent_t *agent;
    Vr__Rule *rules;
    Vr__Rule **ptrs;
    char (*names)[80];
    size_t n, cap;
};

static void
s_rule_visit(uint64_t dst, uint64_t src, enum fwd_origin origin,
             struct fwd_action action, void *arg)
{
    struct s_rule_acc *acc = arg;
    if (origin != FWD_RULE || acc->n == acc->cap) {
        return;
    }
    Vr__Rule *r = &acc->rules[acc->n];
    vr__rule__init(r);
    r->dst_mac = dst;
    r->src_mac = src;
    r->link = (char *) agent_target_name(
        acc->agent, action, acc->names[acc->n], sizeof acc->names[acc->n]);
    acc->ptrs[acc->n] = r;
    acc->n++;
}

static int
s_rule_list(agent_t *self, int type)
{
    const fwd_table_t *fwd = agent_current(self)->fwd;
    size_t cap = fwd_table_count(fwd, FWD_RULE);
    struct s_rule_acc acc = {
        .agent = self,
        .cap = cap,
        .rules = calloc(cap + 1, sizeof(Vr__Rule)),
        .ptrs = calloc(cap + 1, sizeof(Vr__Rule *)),
        .names = calloc(cap + 1, sizeof *acc.names),
    };
    int rc;
    if (!acc.rules || !acc.ptrs || !acc.names) {
        rc = s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                     "out of memory");
    } else {
        fwd_table_foreach(fwd, s_rule_visit, &acc);
        Vr__RuleList list = VR__RULE_LIST__INIT;
        list.rules = acc.ptrs;
        list.n_rules = acc.n;
        rc = s_reply(self, VR__MSG_TYPE__MSG_RULE_LIST, &list.base);
    }
    free(acc.rules);
    free(acc.ptrs);
    free(acc.names);
    return rc;
}

static int
s_on_request(svc_t *svc, bus_msg_t *req, void *arg)
{
    agent_t *self = arg;
    switch (req->type) {
    case VR__MSG_TYPE__MSG_LINK_CREATE:
        s_link_create(self, (Vr__LinkCreate *) req->body, req->type);
        return 0;
    case VR__MSG_TYPE__MSG_LINK_REMOVE:
        s_link_remove(self, (Vr__LinkRemove *) req->body, req->type);
        return 0;
    case VR__MSG_TYPE__MSG_LINK_LIST_REQUEST:
        s_link_list(self);
        return 0;
    case VR__MSG_TYPE__MSG_LINK_PROBE:
        s_link_probe(self, (Vr__LinkProbe *) req->body, req->type);
        return 0;
    case VR__MSG_TYPE__MSG_RULE_ADD:
        s_rule_add(self, (Vr__RuleAdd *) req->body, req->type);
        return 0;
    case VR__MSG_TYPE__MSG_RULE_REMOVE:
        s_rule_remove(self, (Vr__RuleRemove *) req->body, req->type);
        return 0;
    case VR__MSG_TYPE__MSG_RULE_LIST_REQUEST:
        s_rule_list(self, req->type);
        return 0;
    default:
        return -1;
    }
}

/* Records TCP links dropped because their send queue was full, links
 * gone since not included. */
static uint64_t
s_tcp_queue_full(const agent_t *self)
{
    uint64_t n = 0;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        if (self->links[i]) {
            n += atomic_load(&self->links[i]->tcp_q_full);
        }
    }
    return n;
}

static void
s_on_status(svc_t *svc, Vr__StatusReply *reply, void *arg)
{
    agent_t *self = arg;
    const struct agent_snap *snap = agent_current(self);
    size_t n_links = 0;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        n_links += self->links[i] && !atomic_load(&self->links[i]->lingering);
    }
    bus_status_add_info(reply, "mode", self->cfg->proxy ? "proxy" : "member");
    bus_status_add_info(reply, "overlay", self->cfg->listen);
    bus_status_add_info(reply, "announced", self->ann.endpoint);
    bus_status_add_info(reply, "capture", self->cfg->capture);
    bus_status_add_info(reply, "fastpath",
                        !self->fast ? "off"
                        : agent_fast_broken(self->fast)
                            ? "off (tc cannot set up the ports)" : "on");
    bus_status_add_info(reply, "overlay_security",
                        !self->hs ? "INSECURE (overlay.insecure)"
                        : self->cfg->encrypt ? "encrypted" : "authenticated");
    bus_status_add_counter(reply, "ports", agent_ports_live(self), true);
    bus_status_add_counter(reply, "ports_captured", self->ports_captured,
                           false);
    bus_status_add_counter(reply, "ports_released", self->ports_released,
                           false);
    bus_status_add_counter(reply, "ports_refused", self->ports_refused,
                           false);
    bus_status_add_counter(reply, "ports_failed", self->ports_failed, false);
    bus_status_add_counter(reply, "netlink_bad", self->nl_bad, false);
    bus_status_add_counter(reply, "announce_unresolved",
                           self->ann_unresolved, false);
    bus_status_add_counter(reply, "netlink_resyncs", self->nl_resyncs,
                           false);
    bus_status_add_counter(reply, "links", n_links, true);
    bus_status_add_counter(reply, "links_lingering", agent_linger_count(self),
                           true);
    bus_status_add_counter(reply, "links_retired", self->links_retired,
                           false);
    bus_status_add_counter(reply, "linger_rx_frames", agent_linger_rx(self),
                           false);
    bus_status_add_counter(reply, "rules", fwd_table_count(snap->fwd,
                                                           FWD_RULE), true);
    bus_status_add_counter(reply, "learned_macs",
                           fwd_table_count(snap->fwd, FWD_LEARNED), true);
    bus_status_add_counter(reply, "vm_frames_in",
                           atomic_load(&self->tstats[0].frames_in), false);
    bus_status_add_counter(reply, "vm_bytes_in",
                           atomic_load(&self->tstats[0].bytes_in), false);
    bus_status_add_counter(reply, "overlay_datagrams_in",
                           atomic_load(&self->tstats[1].frames_in), false);
    bus_status_add_counter(reply, "overlay_bytes_in",
                           atomic_load(&self->tstats[1].bytes_in), false);
    bus_status_add_counter(reply, "injected", AGENT_TSTAT(self, injected),
                           false);
    bus_status_add_counter(reply, "inject_errors",
                           AGENT_TSTAT(self, inject_errors), false);
    bus_status_add_counter(reply, "flooded", AGENT_TSTAT(self, flooded),
                           false);
    bus_status_add_counter(reply, "relayed", AGENT_TSTAT(self, relayed),
                           false);
    bus_status_add_counter(reply, "no_route", AGENT_TSTAT(self, no_route),
                           false);
    bus_status_add_counter(reply, "unknown_peer",
                           AGENT_TSTAT(self, unknown_peer), false);
    bus_status_add_counter(reply, "bad_header",
                           AGENT_TSTAT(self, bad_header), false);
    bus_status_add_counter(reply, "bad_offload",
                           AGENT_TSTAT(self, bad_offload), false);
    bus_status_add_counter(reply, "fast_filters",
                           self->fast ? agent_fast_count(self->fast) : 0,
                           true);
    if (self->fast) {
        const struct agent_jobs_stats *js = agent_fast_jobs(self->fast);
        bus_status_add_counter(reply, "tc_runs", js->run, false);
        bus_status_add_counter(reply, "tc_failed", js->failed, false);
        bus_status_add_counter(reply, "tc_timeouts", js->timed_out, false);
        bus_status_add_counter(reply, "tc_refused", js->refused, false);
        bus_status_add_counter(reply, "tc_queued",
                               agent_fast_pending(self->fast), true);
        bus_status_add_counter(reply, "fast_waiting", self->n_fast_waits,
                               true);
    }
    bus_status_add_info(reply, "circuit_nic",
                        self->vlan ? self->cfg->circuit_nic : "(none)");
    if (self->vlan) {
        const struct agent_vlan_stats *vs = agent_vlan_stats(self->vlan);
        const struct agent_jobs_stats *js = agent_vlan_jobs(self->vlan);
        bus_status_add_counter(reply, "vlan_devs",
                               agent_vlan_count(self->vlan), true);
        bus_status_add_counter(reply, "vlan_made", vs->made, false);
        bus_status_add_counter(reply, "vlan_removed", vs->removed, false);
        bus_status_add_counter(reply, "vlan_failed", vs->failed, false);
        bus_status_add_counter(reply, "vlan_refused", vs->refused, false);
        bus_status_add_counter(reply, "vlan_swept", vs->swept, false);
        bus_status_add_counter(reply, "ip_runs", js->run, false);
        bus_status_add_counter(reply, "ip_failed", js->failed, false);
        bus_status_add_counter(reply, "ip_timeouts", js->timed_out, false);
    }
    bus_status_add_counter(reply, "fast_frames",
                           AGENT_TSTAT(self, fast_frames), false);
    bus_status_add_counter(reply, "fast_bytes", AGENT_TSTAT(self, fast_bytes),
                           false);
    bus_status_add_counter(reply, "tcp_idle_closed",
                           AGENT_TSTAT(self, tcp_idle_closed), false);
    bus_status_add_counter(reply, "tcp_evicted",
                           AGENT_TSTAT(self, tcp_evicted), false);
    bus_status_add_counter(reply, "tcp_queue_full", s_tcp_queue_full(self),
                           false);
    bus_status_add_counter(reply, "probes_waiting", self->probes.n, true);
    bus_status_add_counter(reply, "unauthenticated",
                           AGENT_TSTAT(self, unauth), false);
    bus_status_add_counter(reply, "forged", AGENT_TSTAT(self, forged),
                           false);
    bus_status_add_counter(reply, "replayed", AGENT_TSTAT(self, replayed),
                           false);
    bus_status_add_counter(reply, "downgraded",
                           AGENT_TSTAT(self, downgraded), false);
    bus_status_add_counter(reply, "hello_refused",
                           AGENT_TSTAT(self, hello_refused), false);
    if (self->hs) {
        const struct agent_hs_ctx *hs = self->hs;
        bus_status_add_counter(reply, "admitted_keys", hs->peers.n, true);
        bus_status_add_counter(reply, "handshakes",
                               atomic_load(&hs->n_handshakes), false);
        bus_status_add_counter(reply, "rekeys", atomic_load(&hs->n_rekeys),
                               false);
        bus_status_add_counter(reply, "unknown_keys",
                               atomic_load(&hs->n_unknown_key), false);
        bus_status_add_counter(reply, "wrong_keys",
                               atomic_load(&hs->n_wrong_key), false);
        bus_status_add_counter(reply, "handshakes_bad",
                               atomic_load(&hs->n_hs_bad), false);
        bus_status_add_counter(reply, "handshakes_limited",
                               atomic_load(&hs->n_hs_limited), false);
    }
    bus_status_add_counter(reply, "learn_events", self->n_learned, false);
    bus_status_add_counter(reply, "hellos", self->n_hellos, false);
    bus_status_add_counter(reply, "snapshots", self->n_snapshots, false);
    bus_status_add_counter(reply, "acct_pairs", acct_size(self->acct), true);
    bus_status_add_counter(reply, "acct_overflow", acct_overflow(self->acct),
                           false);
    bus_status_add_counter(reply, "acct_evicted", acct_evicted(self->acct),
                           false);
    bus_status_add_counter(reply, "acct_aged", acct_aged(self->acct), false);
    const struct learn_stats *ls = learn_stats(self->learn);
    bus_status_add_counter(reply, "learn_refused", ls->refused, false);
    bus_status_add_counter(reply, "learn_cap_hits", ls->cap_hits, false);
    bus_status_add_counter(reply, "learn_moved", ls->moved, false);
    bus_status_add_counter(reply, "learn_aged", ls->aged, false);
    bus_status_add_counter(reply, "flood_copies",
                           AGENT_TSTAT(self, flood_copies), false);
    bus_status_add_counter(reply, "flood_limited",
                           AGENT_TSTAT(self, flood_limited), false);
    bus_status_add_counter(reply, "fwd_cache_hits",
                           self->caches[0].hits + self->caches[1].hits,
                           false);
    bus_status_add_counter(reply, "fwd_cache_misses",
                           self->caches[0].misses + self->caches[1].misses,
                           false);
}

/* Who may ask what of an agent (common/authz.h): links and rules are
 * changed by the planner and operators only. */
static const struct authz_rule s_authz[] = {
    { VR__MSG_TYPE__MSG_LINK_CREATE, AUTHZ_PLANNER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_LINK_REMOVE, AUTHZ_PLANNER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_LINK_LIST_REQUEST, AUTHZ_PLANNER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_LINK_PROBE, AUTHZ_PLANNER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_RULE_ADD, AUTHZ_PLANNER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_RULE_REMOVE, AUTHZ_PLANNER | AUTHZ_OPERATOR,
      { NULL } },
    { VR__MSG_TYPE__MSG_RULE_LIST_REQUEST, AUTHZ_PLANNER | AUTHZ_OPERATOR,
      { NULL } },
};

/* ------------------------------------------------------------------ */
/* Probes waiting for their echo */

static int
s_on_probe_echo(svc_t *svc, int fd, void *arg)
{
    agent_t *self = arg;
    uint64_t cookie;
    while (read(fd, &cookie, sizeof cookie) == (ssize_t) sizeof cookie) {
        struct agent_probe *p = agent_probe_find(&self->probes, cookie);
        if (p) {
            s_probe_answer(self, p, true);
        }   /* else: a late echo of an answered probe */
    }
    return 0;
}

/* Waiting probes are sent again or answered "no echo". */
static int
s_on_tick(svc_t *svc, void *arg)
{
    agent_t *self = arg;
    (void) svc;
    uint64_t now = vtime_mono_us();
    if (self->n_fast_waits > 0) {
        s_fast_answer(self, now / 1000);
    }
    struct agent_probe *p;
    while ((p = agent_probe_expired(&self->probes, now))) {
        s_probe_answer(self, p, false);
    }
    while ((p = agent_probe_due(&self->probes, now))) {
        agent_link_t *l = self->links[p->link];
        if (!l || atomic_load(&l->lingering)
            || strcmp(l->name, p->link_name) != 0) {
            s_probe_answer(self, p, false);         /* the link went */
        } else {
            s_probe_send(self, p);
        }
    }
    return 0;
}

int
agent_ctl_start(agent_t *self)
{
    svc_on_request(self->svc, s_on_request, s_on_status, self);
    svc_set_authz(self->svc, s_authz, AUTHZ_N(s_authz));
    if (svc_add_fd(self->svc, self->probe_pipe[0], s_on_probe_echo, self)
            != 0
        || svc_add_timer(self->svc, S_PROBE_TICK_MS, s_on_tick, self)
               != 0) {
        return -1;
    }
    return 0;
}
