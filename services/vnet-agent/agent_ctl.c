/* SPDX-License-Identifier: MIT */
/* The agent's control thread: the control socket (links, rules, probes,
 * status), the learn and hello events the packet threads send, and what
 * it publishes: the local traffic matrix every period, and its
 * announcement and VM locations every hello period.  Every change to
 * forwarding is made on a copy of the table and published as a new
 * snapshot (agent_change), all rules of a request at once. */
#include "agent_priv.h"
#include "agent_check.h"

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

/* A TCP link's connect is given up after this long (and retried at the
 * next hello period). */
enum { S_CONNECT_MS = 3000 };

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

/* Has the overlay thread read TCP link 'l' once it is connected. */
static void
s_tcp_watch(agent_t *self, agent_link_t *l, int rc)
{
    if (rc == 0 && agent_watch_tcp(self, l) != 0) {
        agent_link_tcp_close(l);
    }
}

/* (Re)connects TCP link 'l'; the connect completes in s_on_tick. */
static void
s_tcp_up(agent_t *self, agent_link_t *l)
{
    s_tcp_watch(self, l, agent_link_tcp_connect(l, S_CONNECT_MS));
}

/* Keeps TCP links connected: a link whose reader let go is reconnected; a
 * link whose writer failed is shut down, so that its reader lets go.  A
 * connected link says it is alive (an empty PROBE_REPLY: ignored but for
 * that), so the peer does not take its connection for an idle one. */
static void
s_tcp_tend(agent_t *self, agent_link_t *l)
{
    if (l->tcp_connecting >= 0) {
        return;
    }
    if (l->tcp_fd < 0 || atomic_load(&l->tcp_rx_dead)) {
        s_tcp_up(self, l);
    } else if (atomic_load(&l->tcp_broken)) {
        shutdown(l->tcp_fd, SHUT_RDWR);
    } else {
        agent_link_send_ctl(l, AGENT_T_CTL, ENCAP_PROBE_REPLY, NULL, 0);
    }
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

static void
s_link_to_proto(const agent_t *self, const agent_link_t *l, Vr__Link *out,
                Vr__LinkCounters *c)
{
    struct link_stats st;
    agent_link_totals(l, &st);
    vr__link__init(out);
    vr__link_counters__init(c);
    out->name = (char *) l->name;
    out->proto = l->tcp ? VR__LINK_PROTO__LINK_PROTO_TCP
                        : VR__LINK_PROTO__LINK_PROTO_UDP;
    out->peer = (char *) l->peer_str;
    out->peer_agent = (char *) l->peer_agent;
    out->mtu = l->mtu;
    out->circuit = l->circuit;
    out->fast_dev = (char *) l->fast_dev;
    out->security = (char *) s_link_security(self, l);
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
            if (!strcmp(agent_port_name(self->ports[i]), target + 6)) {
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

static const char *
s_target_name(const agent_t *self, struct fwd_action a, char *buf,
              size_t size)
{
    if (a.kind == FWD_PORT && a.index < self->n_ports) {
        snprintf(buf, size, "local:%s",
                 agent_port_name(self->ports[a.index]));
    } else if (a.kind == FWD_LINK && self->links[a.index]) {
        snprintf(buf, size, "%s", self->links[a.index]->name);
    } else if (a.kind == FWD_DROP) {
        snprintf(buf, size, "drop");
    } else {
        snprintf(buf, size, "?");
    }
    return buf;
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
    int index = agent_find_link(self, l->name);
    if (index >= 0) {
        agent_link_t *old = self->links[index];
        if (strcmp(old->peer_str, l->peer) != 0 || old->tcp != tcp) {
            return s_error(self, VR__ERROR_CODE__ERR_EXISTS, type,
                           "link %s exists, to %s", l->name, old->peer_str);
        }
        agent_fast_set_circuit(self, old, l->circuit);
    } else if (!tcp && (index = agent_find_link_by_peer(self, &peer)) >= 0
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
        if (self->hs
            && agent_link_secure(link,
                                 agent_link_wants_encryption(self, link))
                   != 0) {
            agent_link_destroy(&link);
            return s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                           "link %s: out of memory", LOG_ESC(l->name));
        }
        index = agent_add_link(self, link);
        if (index < 0 || agent_change(self, NULL, NULL) != 0) {
            if (index >= 0) {
                self->links[index] = NULL;
            }
            agent_link_destroy(&link);
            return s_error(self, VR__ERROR_CODE__ERR_LIMIT, type,
                           "link %s: no room for another link", l->name);
        }
        VLOG_INFO_RL("link %s: created to %s over %s%s", LOG_ESC(l->name),
                     LOG_ESC(l->peer), tcp ? "TCP" : "UDP",
                     l->circuit ? ", a circuit" : "");
        agent_fast_set_circuit(self, link, l->circuit);
        /* The peer may not have its end yet: the hello timer retries. */
        if (tcp) {
            s_tcp_up(self, link);
        }
    }
    Vr__Link out;
    Vr__LinkCounters c;
    s_link_to_proto(self, self->links[index], &out, &c);
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
    if (agent_remove_link(self, index) != 0) {
        return s_error(self, VR__ERROR_CODE__ERR_INTERNAL, type,
                       "link '%s': out of memory", req->name);
    }
    VLOG_INFO_RL("link %s: removed", LOG_ESC(req->name));
    return s_reply_ack(self, "removed");
}

static int
s_link_list(agent_t *self)
{
    Vr__Link links[AGENT_MAX_LINKS];
    Vr__LinkCounters counters[AGENT_MAX_LINKS];
    Vr__Link *ptrs[AGENT_MAX_LINKS];
    size_t n = 0;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        if (self->links[i]) {
            s_link_to_proto(self, self->links[i], &links[n], &counters[n]);
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
    r->link = (char *) s_target_name(acc->agent, action, acc->names[acc->n],
                                     sizeof acc->names[acc->n]);
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
        n_links += self->links[i] != NULL;
    }
    bus_status_add_info(reply, "mode", self->cfg->proxy ? "proxy" : "member");
    bus_status_add_info(reply, "overlay", self->cfg->listen);
    bus_status_add_info(reply, "capture", self->cfg->capture);
    bus_status_add_info(reply, "fastpath", self->fast ? "on" : "off");
    bus_status_add_info(reply, "overlay_security",
                        !self->hs ? "INSECURE (overlay.insecure)"
                        : self->cfg->encrypt ? "encrypted" : "authenticated");
    bus_status_add_counter(reply, "ports", self->n_ports, true);
    bus_status_add_counter(reply, "links", n_links, true);
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

/* ------------------------------------------------------------------ */
/* Events from the packet threads */

/* Logs a refused claim: an agent (or a VM) showed a MAC that another
 * owner holds.  Names of links come from hellos: escaped. */
static void
s_log_refused(const agent_t *self, uint64_t mac, struct fwd_action claimer)
{
    char m[ETH_MAC_STRLEN], by[96], holder[96];
    struct fwd_action owner = learn_owner(self->learn, mac, NULL);
    VLOG_WARN_RL("learn: %s claims %s, which %s holds: refused",
                 LOG_ESC(s_target_name(self, claimer, by, sizeof by)),
                 eth_mac_format(mac, m),
                 LOG_ESC(s_target_name(self, owner, holder, sizeof holder)));
}

/* Applies the claim of 'owner' on 'mac' at 'now_us' to the claims table
 * and says whether the forwarding table 'fwd' must change.  A refreshed
 * claim that 'fwd' does not show (a change that failed to publish) is
 * set again. */
static bool
s_claim(agent_t *self, const fwd_table_t *fwd, uint64_t mac,
        struct fwd_action owner, uint64_t now_us)
{
    struct fwd_action prev;
    switch (learn_claim(self->learn, mac, owner, now_us, &prev)) {
    case LEARN_ADDED:
        return true;
    case LEARN_MOVED: {
        char m[ETH_MAC_STRLEN], from[96], to[96];
        VLOG_INFO_RL("learn: %s moves from %s to %s", eth_mac_format(mac, m),
                     LOG_ESC(s_target_name(self, prev, from, sizeof from)),
                     LOG_ESC(s_target_name(self, owner, to, sizeof to)));
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
        bool valid = a.kind == FWD_PORT ? a.index < self->n_ports
                     : a.kind == FWD_LINK && a.index < AGENT_MAX_LINKS
                           && self->links[a.index] != NULL;
        if (valid && s_claim(self, cur, evs[i].mac, a, now)) {
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

static void
s_learn_expire(agent_t *self)
{
    struct s_expired x = { .cap = learn_size(self->learn) };
    if (x.cap == 0 || !(x.macs = malloc(x.cap * sizeof *x.macs))) {
        return;
    }
    learn_expire(self->learn, vtime_mono_us(), s_expired_one, &x);
    if (x.n > 0) {
        agent_change(self, s_expire_edit, &x);
    }
    free(x.macs);
}

/* The proxy keeps one link per agent it hears from, named after it. */
static void
s_hello_link(agent_t *self, fwd_table_t *fwd,
             const struct agent_hello_ev *ev)
{
    int index = agent_find_link_by_peer(self, &ev->from);
    if (index < 0) {
        if (!self->cfg->proxy || self->hs) {
            return;     /* with keys, the proxy's links come from joins */
        }
        char name[80], peer[64], ip[INET_ADDRSTRLEN];
        snprintf(name, sizeof name, "agent:%s", ev->agent_id);
        inet_ntop(AF_INET, &ev->from.sin_addr, ip, sizeof ip);
        snprintf(peer, sizeof peer, "%s:%u", ip, ntohs(ev->from.sin_port));
        int old = agent_find_link(self, name);
        if (old >= 0 && self->links[old]->learned) {
            /* The agent came back from another address.  Our copy of the
             * table predates the removal: drop the old link's entries from
             * it too, since its index is about to be reused. */
            agent_remove_link(self, old);
            fwd_table_remove_target(fwd, FWD_LINK, (uint16_t) old);
        } else if (old >= 0) {
            snprintf(name, sizeof name, "agent:%s#%u", ev->agent_id,
                     ++self->link_seq);
        }
        agent_link_t *l = agent_link_new(name, peer, self->udp_fd,
                                         self->cfg->mtu);
        if (!l) {
            return;
        }
        l->learned = true;
        atomic_store(&l->last_rx_us, vtime_mono_us());
        index = agent_add_link(self, l);
        if (index < 0) {
            agent_link_destroy(&l);
            return;
        }
        VLOG_INFO_RL("proxy: agent '%s' joined from %s",
                     LOG_ESC(ev->agent_id), peer);
    }
    agent_link_t *l = self->links[index];
    snprintf(l->peer_agent, sizeof l->peer_agent, "%s", ev->agent_id);
    if (self->cfg->proxy) {
        /* An agent's hello claims its local MACs for it alone. */
        struct fwd_action a = { FWD_LINK, (uint16_t) index };
        uint64_t now = vtime_mono_us();
        for (uint32_t i = 0; i < ev->n_macs; i++) {
            if (s_claim(self, fwd, ev->macs[i], a, now)) {
                fwd_table_set(fwd, ev->macs[i], 0, FWD_LEARNED, a);
            }
        }
    }
}

struct s_hello_batch {
    const struct agent_hello_ev *evs;
    size_t n;
};

static int
s_hello_edit(agent_t *self, fwd_table_t *fwd, void *arg)
{
    const struct s_hello_batch *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        s_hello_link(self, fwd, &b->evs[i]);
    }
    return 0;
}

/* The proxy made a session with an admitted agent it had no link for:
 * the agent's link, named after the id its key speaks for.  A learned
 * link of that id at another address is the same agent, moved. */
static void
s_join(agent_t *self, const struct agent_join_ev *ev)
{
    const char *id = self->hs->peers.v[ev->bound].id;
    char name[80], peer[64], ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &ev->from.sin_addr, ip, sizeof ip);
    snprintf(peer, sizeof peer, "%s:%u", ip, ntohs(ev->from.sin_port));
    int index = agent_find_link_by_peer(self, &ev->from);
    if (index >= 0) {
        /* A link to it was made meanwhile, and only the overlay thread
         * may change a published link's sessions: this one is dropped,
         * and the agent, never hearing on it, shakes hands again. */
        return;
    }
    snprintf(name, sizeof name, "agent:%s", id);
    int old = agent_find_link(self, name);
    if (old >= 0 && self->links[old]->learned) {
        VLOG_INFO("proxy: agent '%s' moved to %s", id, peer);
        agent_remove_link(self, old);
    } else if (old >= 0) {
        snprintf(name, sizeof name, "agent:%s#%u", id, ++self->link_seq);
    }
    agent_link_t *l = agent_link_new(name, peer, self->udp_fd,
                                     self->cfg->mtu);
    if (!l || agent_link_secure(l, self->cfg->encrypt) != 0) {
        agent_link_destroy(&l);
        return;
    }
    l->learned = true;
    snprintf(l->peer_agent, sizeof l->peer_agent, "%s", id);
    link_sec_adopt(l->sec, &ev->session, ev->bound);
    atomic_store(&l->last_rx_us, vtime_mono_us());
    index = agent_add_link(self, l);
    fwd_table_t *fwd = fwd_table_clone(agent_current(self)->fwd);
    if (index < 0 || !fwd || agent_publish(self, fwd) != 0) {
        if (index >= 0) {
            self->links[index] = NULL;
        }
        agent_link_destroy(&l);
        VLOG_WARN_RL("proxy: no room for agent '%s'", id);
        return;
    }
    VLOG_INFO("proxy: agent '%s' joined from %s", id, peer);
}

static int
s_on_join(svc_t *svc, int fd, void *arg)
{
    agent_t *self = arg;
    struct agent_join_ev ev;
    (void) svc;
    while (read(fd, &ev, sizeof ev) == (ssize_t) sizeof ev) {
        if (ev.bound >= 0 && (size_t) ev.bound < self->hs->peers.n) {
            s_join(self, &ev);
        }
        sodium_memzero(&ev, sizeof ev);
    }
    return 0;
}

static int s_on_hello_timer(svc_t *svc, void *arg);

/* A session came up: hello at once, so the star has the agent's VMs
 * without waiting for the next period. */
static int
s_on_kick(svc_t *svc, int fd, void *arg)
{
    uint8_t buf[64];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    return s_on_hello_timer(svc, arg);
}

static int
s_on_hello(svc_t *svc, int fd, void *arg)
{
    agent_t *self = arg;
    enum { BATCH = 16 };
    struct agent_hello_ev evs[BATCH];
    size_t n = 0;
    while (n < BATCH
           && read(fd, &evs[n], sizeof evs[n]) == (ssize_t) sizeof evs[n]) {
        self->n_hellos++;
        n++;
    }
    if (n > 0) {
        struct s_hello_batch b = { evs, n };
        agent_change(self, s_hello_edit, &b);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Publishing */

static int
s_on_period(svc_t *svc, void *arg)
{
    agent_t *self = arg;
    if (self->fast) {
        bool sync = agent_fast_retry_due(self->fast);
        for (int i = 0; i < AGENT_MAX_LINKS; i++) {
            agent_link_t *l = self->links[i];
            if (l && l->fast_dev[0] && if_nametoindex(l->fast_dev) == 0) {
                VLOG_WARN_RL("link %s: circuit device %s is gone: the fast "
                             "path stops using it", LOG_ESC(l->name),
                             l->fast_dev);
                l->fast_dev[0] = '\0';
                sync = true;
            }
        }
        if (sync) {
            agent_fast_sync(self);
        }
    }
    s_learn_expire(self);
    size_t cap = acct_size(self->acct) + 64;
    struct acct_entry *e = malloc(cap * sizeof *e);
    Vr__MatrixEntry *me = malloc(cap * sizeof *me);
    Vr__MatrixEntry **mp = malloc(cap * sizeof *mp);
    if (!e || !me || !mp) {
        goto done;
    }
    size_t n = acct_snapshot(self->acct, e, cap);
    if (n > cap) {
        n = cap;
    }
    for (size_t i = 0; i < n; i++) {
        vr__matrix_entry__init(&me[i]);
        me[i].src_mac = e[i].src;
        me[i].dst_mac = e[i].dst;
        me[i].bytes = e[i].bytes;
        me[i].frames = e[i].frames;
        mp[i] = &me[i];
    }
    Vr__LocalMatrix m = VR__LOCAL_MATRIX__INIT;
    m.agent_id = (char *) svc_id(self->svc);
    m.boot_id = self->boot_id;
    m.period_us = self->cfg->period_ms * 1000ull;
    m.time_us = vtime_now_us();
    m.entries = mp;
    m.n_entries = n;
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_LOCAL_MATRIX,
             &m.base);
done:
    free(e);
    free(me);
    free(mp);
    return 0;
}

struct s_local_acc {
    uint64_t *macs;
    uint16_t *ports;
    size_t n, cap;
};

static void
s_local_visit(uint64_t dst, uint64_t src, enum fwd_origin origin,
              struct fwd_action action, void *arg)
{
    struct s_local_acc *acc = arg;
    if (origin == FWD_LEARNED && action.kind == FWD_PORT
        && acc->n < acc->cap) {
        acc->macs[acc->n] = dst;
        acc->ports[acc->n] = action.index;
        acc->n++;
    }
}

static void
s_send_hellos(agent_t *self, const struct s_local_acc *local)
{
    uint8_t buf[64 + AGENT_HELLO_MACS * ETH_ADDR_LEN];
    const char *id = svc_id(self->svc);
    size_t len = strlen(id) + 1;
    if (len > 64) {
        return;
    }
    memcpy(buf, id, len);
    /* Only MACs seen lately: a VM that went quiet here (migrated) must
     * stop being claimed, so that its new host can take it. */
    uint64_t now = vtime_mono_us();
    for (size_t i = 0, n = 0; i < local->n && n < AGENT_HELLO_MACS; i++) {
        if (learn_live(self->learn, local->macs[i], now)) {
            eth_mac_from_u64(local->macs[i], buf + len);
            len += ETH_ADDR_LEN;
            n++;
        }
    }
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        agent_link_t *l = self->links[i];
        if (!l) {
            continue;
        }
        /* The overlay thread may have heard from it since 'now'. */
        uint64_t last = atomic_load(&l->last_rx_us);
        if (l->learned && last < now
            && now - last > self->cfg->peer_timeout_ms * 1000ull) {
            VLOG_INFO_RL("proxy: agent '%s' silent, link %s removed",
                         LOG_ESC(l->peer_agent), LOG_ESC(l->name));
            agent_remove_link(self, i);
            continue;
        }
        if (l->tcp) {
            s_tcp_tend(self, l);
        } else {
            agent_link_send_ctl(l, AGENT_T_CTL, ENCAP_HELLO, buf, len);
        }
    }
}

static int
s_on_hello_timer(svc_t *svc, void *arg)
{
    agent_t *self = arg;
    const struct agent_snap *snap = agent_current(self);
    size_t cap = fwd_table_count(snap->fwd, FWD_LEARNED) + 1;
    struct s_local_acc local = {
        .macs = calloc(cap, sizeof(uint64_t)),
        .ports = calloc(cap, sizeof(uint16_t)),
        .cap = cap,
    };
    Vr__VmLocation *locs = calloc(cap, sizeof *locs);
    Vr__VmLocation **lp = calloc(cap, sizeof *lp);
    if (!local.macs || !local.ports || !locs || !lp) {
        goto done;
    }
    fwd_table_foreach(snap->fwd, s_local_visit, &local);
    s_send_hellos(self, &local);

    const char *id = svc_id(self->svc);
    Vr__AgentAnnounce ann = VR__AGENT_ANNOUNCE__INIT;
    ann.agent_id = (char *) id;
    ann.boot_id = self->boot_id;
    ann.control_endpoint = self->cfg->announce_control
                               ? self->cfg->announce_control
                               : self->cfg->common.control;
    ann.overlay_addr = self->cfg->listen;
    ann.proxy = self->cfg->proxy;
    ann.host_ip = self->cfg->host_ip ? self->cfg->host_ip : "";
    ann.local_macs = local.macs;
    ann.n_local_macs = local.n;
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_AGENT_ANNOUNCE,
             &ann.base);

    uint64_t now = vtime_now_us();
    for (size_t i = 0; i < local.n; i++) {
        vr__vm_location__init(&locs[i]);
        locs[i].mac = local.macs[i];
        locs[i].agent_id = (char *) id;
        locs[i].iface = (char *) agent_port_name(self->ports[local.ports[i]]);
        locs[i].seen_us = now;
        lp[i] = &locs[i];
    }
    Vr__VmLocations vl = VR__VM_LOCATIONS__INIT;
    vl.reporter = (char *) id;
    vl.vms = lp;
    vl.n_vms = local.n;
    bus_send(self->bus, self->events, VR__MSG_TYPE__MSG_VM_LOCATIONS,
             &vl.base);
done:
    free(local.macs);
    free(local.ports);
    free(locs);
    free(lp);
    return 0;
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
/* Probes waiting for their echo, TCP links connecting */

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

/* Waiting probes are sent again or answered "no echo"; TCP connects under
 * way are looked at. */
static int
s_on_tick(svc_t *svc, void *arg)
{
    agent_t *self = arg;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        agent_link_t *l = self->links[i];
        if (l && l->tcp && l->tcp_connecting >= 0) {
            s_tcp_watch(self, l, agent_link_tcp_connect_poll(l));
        }
    }
    uint64_t now = vtime_mono_us();
    struct agent_probe *p;
    while ((p = agent_probe_expired(&self->probes, now))) {
        s_probe_answer(self, p, false);
    }
    while ((p = agent_probe_due(&self->probes, now))) {
        agent_link_t *l = self->links[p->link];
        if (!l || strcmp(l->name, p->link_name) != 0) {
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
    if (svc_add_fd(self->svc, self->learn_pipe[0], s_on_learn, self) != 0
        || svc_add_fd(self->svc, self->hello_pipe[0], s_on_hello, self) != 0
        || svc_add_fd(self->svc, self->probe_pipe[0], s_on_probe_echo, self)
               != 0
        || svc_add_timer(self->svc, S_PROBE_TICK_MS, s_on_tick, self)
               != 0
        || svc_add_fd(self->svc, self->join_pipe[0], s_on_join, self) != 0
        || svc_add_fd(self->svc, self->kick_pipe[0], s_on_kick, self) != 0
        || svc_add_timer(self->svc, self->cfg->period_ms, s_on_period, self)
               != 0
        || svc_add_timer(self->svc, self->cfg->hello_ms, s_on_hello_timer,
                         self) != 0) {
        return -1;
    }
    /* Say hello at once: a restarted agent is back in the star before its
     * first period is over. */
    s_on_hello_timer(self->svc, self);
    return 0;
}
