/* SPDX-License-Identifier: MIT */
/* `vnetctl link ...` and `vnetctl rule ...`: an agent's overlay links and
 * forwarding rules, by hand.  The agent is the configured one, or --agent
 * ENDPOINT (before the subcommand's arguments):
 *   vnetctl link list|add NAME PEER [--mtu N] [--tcp] [--circuit]|del NAME|
 *                probe NAME
 *   vnetctl rule list|add DST_MAC LINK [--src MAC]|del DST_MAC [--src MAC]
 *   vnetctl links|rules [--agent EP]   (the same as link list, rule list)
 * LINK is a link name or local:<iface>. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eth.h"
#include "vnetctl.h"

struct s_opts {
    const char *agent;          /* endpoint */
    uint32_t mtu;               /* link add */
    uint64_t src;               /* rule add/del */
    uint32_t timeout_ms;        /* probe */
    bool tcp;                   /* link add: over TCP */
    bool circuit;               /* link add: over a dedicated circuit */
};

/* Parses the options after the subcommand; leaves positionals in
 * argv[optind..]. */
static int
s_parse(struct ctl *ctl, int argc, char **argv, struct s_opts *o)
{
    static const struct option opts[] = {
        { "agent", required_argument, NULL, 'a' },
        { "mtu", required_argument, NULL, 'm' },
        { "src", required_argument, NULL, 's' },
        { "timeout", required_argument, NULL, 't' },
        { "tcp", no_argument, NULL, 'T' },
        { "circuit", no_argument, NULL, 'C' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    o->agent = ctl->cfg.agent;
    optind = 0;     /* glibc: 0 re-initialises, after main's own getopt */
    while ((c = getopt_long(argc, argv, "a:", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'a':
            o->agent = optarg;
            break;
        case 'm':
            o->mtu = (uint32_t) strtoul(optarg, &end, 10);
            if (*end || o->mtu < 576 || o->mtu > 65535) {
                fprintf(stderr, "vnetctl: --mtu '%s': 576 to 65535\n",
                        optarg);
                return -1;
            }
            break;
        case 's':
            if (!eth_mac_parse(optarg, &o->src)) {
                fprintf(stderr, "vnetctl: --src '%s': not a MAC\n", optarg);
                return -1;
            }
            break;
        case 'T':
            o->tcp = true;
            break;
        case 'C':
            o->circuit = true;
            break;
        case 't':
            o->timeout_ms = (uint32_t) strtoul(optarg, &end, 10);
            if (*end) {
                fprintf(stderr, "vnetctl: --timeout '%s': ms\n", optarg);
                return -1;
            }
            break;
        default:
            return -1;
        }
    }
    return 0;
}

/* Sends one request to the agent; returns a CTL_EXIT_* code (the error
 * printed). */
static int
s_call(struct ctl *ctl, const struct s_opts *o, int type,
       const ProtobufCMessage *req, int expect, bus_msg_t *reply)
{
    return ctl_call(ctl, "agent", o->agent, type, req, expect, reply);
}

static const char *
s_state(Vr__LinkState s)
{
    switch (s) {
    case VR__LINK_STATE__LINK_STATE_UP:
        return "up";
    case VR__LINK_STATE__LINK_STATE_DOWN:
        return "down";
    case VR__LINK_STATE__LINK_STATE_CONNECTING:
        return "connecting";
    default:
        return "?";
    }
}

static json_object *
s_link_json(const Vr__Link *l)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(l->name));
    json_object_object_add(o, "proto", json_object_new_string(
        l->proto == VR__LINK_PROTO__LINK_PROTO_TCP ? "tcp" : "udp"));
    json_object_object_add(o, "peer", json_object_new_string(l->peer));
    json_object_object_add(o, "endpoint", json_object_new_string(
        l->endpoint ? l->endpoint : ""));
    json_object_object_add(o, "peer_agent",
                           json_object_new_string(l->peer_agent));
    json_object_object_add(o, "mtu", json_object_new_int((int) l->mtu));
    json_object_object_add(o, "state",
                           json_object_new_string(s_state(l->state)));
    json_object_object_add(o, "circuit", json_object_new_boolean(l->circuit));
    json_object_object_add(o, "fast_dev", json_object_new_string(
        l->fast_dev ? l->fast_dev : ""));
    json_object_object_add(o, "fast_state", json_object_new_string(
        l->fast_state ? l->fast_state : ""));
    json_object_object_add(o, "security", json_object_new_string(
        l->security ? l->security : ""));
    json_object_object_add(o, "vlan", json_object_new_int((int) l->vlan));
    json_object_object_add(o, "vlan_dev", json_object_new_string(
        l->vlan_dev ? l->vlan_dev : ""));
    json_object_object_add(o, "vlan_state", json_object_new_string(
        l->vlan_state ? l->vlan_state : ""));
    const Vr__LinkCounters *c = l->counters;
    if (c) {
        json_object_object_add(o, "tx_frames",
                               json_object_new_uint64(c->tx_frames));
        json_object_object_add(o, "tx_bytes",
                               json_object_new_uint64(c->tx_bytes));
        json_object_object_add(o, "tx_drops",
                               json_object_new_uint64(c->tx_drops));
        json_object_object_add(o, "rx_frames",
                               json_object_new_uint64(c->rx_frames));
        json_object_object_add(o, "rx_bytes",
                               json_object_new_uint64(c->rx_bytes));
        json_object_object_add(o, "rx_drops",
                               json_object_new_uint64(c->rx_drops));
        json_object_object_add(o, "rx_bad_header",
                               json_object_new_uint64(c->rx_bad_header));
        json_object_object_add(o, "rx_forged",
                               json_object_new_uint64(c->rx_forged));
        json_object_object_add(o, "rx_replayed",
                               json_object_new_uint64(c->rx_replayed));
        json_object_object_add(o, "tx_nokey",
                               json_object_new_uint64(c->tx_nokey));
        json_object_object_add(o, "roamed",
                               json_object_new_uint64(c->roamed));
    }
    return o;
}

static int
s_link_list(struct ctl *ctl, const struct s_opts *o)
{
    Vr__LinkListRequest req = VR__LINK_LIST_REQUEST__INIT;
    bus_msg_t reply;
    int rc = s_call(ctl, o, VR__MSG_TYPE__MSG_LINK_LIST_REQUEST, &req.base,
                    VR__MSG_TYPE__MSG_LINK_LIST, &reply);
    if (rc != 0) {
        return rc;
    }
    const Vr__LinkList *list = (const Vr__LinkList *) reply.body;
    if (ctl->json) {
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < list->n_links; i++) {
            json_object_array_add(arr, s_link_json(list->links[i]));
        }
        puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
        json_object_put(arr);
    } else {
        printf("%-20s %-4s %-22s %-22s %-12s %-5s %-8s %-13s %12s %12s "
               "%8s\n", "NAME", "PROTO", "PEER", "ENDPOINT", "AGENT",
               "STATE", "FAST", "SEC", "TX_FRAMES", "RX_FRAMES", "DROPS");
        for (size_t i = 0; i < list->n_links; i++) {
            const Vr__Link *l = list->links[i];
            const Vr__LinkCounters *c = l->counters;
            /* A device tc refused a filter for says so; pending is
             * momentary (--json shows it). */
            char fast[40];
            snprintf(fast, sizeof fast, "%s%s",
                     l->fast_dev && *l->fast_dev ? l->fast_dev
                     : l->circuit ? "(none)" : "-",
                     l->fast_state && !strcmp(l->fast_state, "failed")
                         ? "(failed)" : "");
            printf("%-20s %-4s %-22s %-22s %-12s %-5s %-8s %-13s %12llu "
                   "%12llu %8llu\n", l->name,
                   l->proto == VR__LINK_PROTO__LINK_PROTO_TCP ? "tcp" : "udp",
                   l->peer,
                   l->endpoint && *l->endpoint ? l->endpoint : l->peer,
                   l->peer_agent, s_state(l->state),
                   fast,
                   l->security && *l->security ? l->security : "-",
                   (unsigned long long) (c ? c->tx_frames : 0),
                   (unsigned long long) (c ? c->rx_frames : 0),
                   (unsigned long long) (c ? c->tx_drops + c->rx_drops : 0));
        }
    }
    bus_msg_clear(&reply);
    return CTL_EXIT_OK;
}

static int
s_simple(struct ctl *ctl, const struct s_opts *o, int type,
         const ProtobufCMessage *req, int expect, const char *done)
{
    bus_msg_t reply;
    int rc = s_call(ctl, o, type, req, expect, &reply);
    if (rc != 0) {
        return rc;
    }
    if (ctl->json) {
        printf("{\"ok\":true,\"result\":\"%s\"}\n", done);
    } else {
        printf("%s\n", done);
    }
    bus_msg_clear(&reply);
    return CTL_EXIT_OK;
}

/* Parses "CMD SUB [options] [args]"; sets the subcommand and the
 * positional arguments.  Returns -1 on a usage error. */
static int
s_begin(struct ctl *ctl, int argc, char **argv, struct s_opts *o,
        const char **sub, char ***pos, int *n_pos)
{
    if (argc < 2 || s_parse(ctl, argc - 1, argv + 1, o) != 0) {
        return -1;
    }
    *sub = argv[1];
    *pos = argv + 1 + optind;
    *n_pos = argc - 1 - optind;
    return 0;
}

int
ctl_link(struct ctl *ctl, int argc, char **argv)
{
    struct s_opts o = { 0 };
    const char *sub;
    char **pos;
    int n_pos;
    if (s_begin(ctl, argc, argv, &o, &sub, &pos, &n_pos) != 0) {
        goto usage;
    }
    if (!strcmp(sub, "list") && n_pos == 0) {
        return s_link_list(ctl, &o);
    }
    if (!strcmp(sub, "add") && n_pos == 2) {
        Vr__Link link = VR__LINK__INIT;
        link.name = pos[0];
        link.peer = pos[1];
        link.mtu = o.mtu;
        link.circuit = o.circuit;
        link.proto = o.tcp ? VR__LINK_PROTO__LINK_PROTO_TCP
                           : VR__LINK_PROTO__LINK_PROTO_UDP;
        Vr__LinkCreate req = VR__LINK_CREATE__INIT;
        req.link = &link;
        return s_simple(ctl, &o, VR__MSG_TYPE__MSG_LINK_CREATE, &req.base,
                        VR__MSG_TYPE__MSG_LINK_INFO, "created");
    }
    if (!strcmp(sub, "del") && n_pos == 1) {
        Vr__LinkRemove req = VR__LINK_REMOVE__INIT;
        req.name = pos[0];
        return s_simple(ctl, &o, VR__MSG_TYPE__MSG_LINK_REMOVE, &req.base,
                        VR__MSG_TYPE__MSG_ACK, "removed");
    }
    if (!strcmp(sub, "probe") && n_pos == 1) {
        Vr__LinkProbe req = VR__LINK_PROBE__INIT;
        req.name = pos[0];
        req.timeout_ms = o.timeout_ms;
        /* The agent answers when the echo comes or the probe's time is
         * up (at most 5 s): wait that long and a bit. */
        uint32_t wait_ms = (o.timeout_ms ? o.timeout_ms : 500) + 1000;
        if (ctl->cfg.timeout_ms < wait_ms && o.timeout_ms <= 5000) {
            ctl->cfg.timeout_ms = wait_ms;
        }
        bus_msg_t reply;
        int rc = s_call(ctl, &o, VR__MSG_TYPE__MSG_LINK_PROBE, &req.base,
                        VR__MSG_TYPE__MSG_LINK_PROBE_REPLY, &reply);
        if (rc != 0) {
            return rc;
        }
        const Vr__LinkProbeReply *r = (const Vr__LinkProbeReply *) reply.body;
        bool ok = r->ok;
        if (ctl->json) {
            printf("{\"ok\":%s,\"rtt_us\":%llu}\n", ok ? "true" : "false",
                   (unsigned long long) r->rtt_us);
        } else if (ok) {
            printf("%s: echo in %.3f ms\n", pos[0], r->rtt_us / 1000.0);
        } else {
            printf("%s: no echo\n", pos[0]);
        }
        bus_msg_clear(&reply);
        return ok ? CTL_EXIT_OK : CTL_EXIT_FAIL;
    }
usage:
    fprintf(stderr, "usage: vnetctl link list|add NAME PEER [--mtu N] "
                    "[--tcp] [--circuit]|del NAME|probe NAME [--timeout MS]  "
                    "[--agent EP]\n");
    return CTL_EXIT_USAGE;
}

static int
s_rule_list(struct ctl *ctl, const struct s_opts *o)
{
    Vr__RuleListRequest req = VR__RULE_LIST_REQUEST__INIT;
    bus_msg_t reply;
    int rc = s_call(ctl, o, VR__MSG_TYPE__MSG_RULE_LIST_REQUEST, &req.base,
                    VR__MSG_TYPE__MSG_RULE_LIST, &reply);
    if (rc != 0) {
        return rc;
    }
    const Vr__RuleList *list = (const Vr__RuleList *) reply.body;
    json_object *arr = ctl->json ? json_object_new_array() : NULL;
    if (!ctl->json) {
        printf("%-18s %-18s %s\n", "DST", "SRC", "LINK");
    }
    for (size_t i = 0; i < list->n_rules; i++) {
        const Vr__Rule *r = list->rules[i];
        char d[ETH_MAC_STRLEN], s[ETH_MAC_STRLEN];
        eth_mac_format(r->dst_mac, d);
        if (r->src_mac) {
            eth_mac_format(r->src_mac, s);
        } else {
            snprintf(s, sizeof s, "any");
        }
        if (arr) {
            json_object *j = json_object_new_object();
            json_object_object_add(j, "dst", json_object_new_string(d));
            json_object_object_add(j, "src", json_object_new_string(s));
            json_object_object_add(j, "link",
                                   json_object_new_string(r->link));
            json_object_array_add(arr, j);
        } else {
            printf("%-18s %-18s %s\n", d, s, r->link);
        }
    }
    if (arr) {
        puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
        json_object_put(arr);
    }
    bus_msg_clear(&reply);
    return CTL_EXIT_OK;
}

int
ctl_rule(struct ctl *ctl, int argc, char **argv)
{
    struct s_opts o = { 0 };
    const char *sub;
    char **pos;
    int n_pos;
    if (s_begin(ctl, argc, argv, &o, &sub, &pos, &n_pos) != 0) {
        goto usage;
    }
    if (!strcmp(sub, "list") && n_pos == 0) {
        return s_rule_list(ctl, &o);
    }
    uint64_t dst;
    bool add = !strcmp(sub, "add") && n_pos == 2;
    bool del = !strcmp(sub, "del") && n_pos == 1;
    if (!add && !del) {
        goto usage;
    }
    if (!eth_mac_parse(pos[0], &dst)) {
        fprintf(stderr, "vnetctl: '%s' is not a MAC\n", pos[0]);
        return CTL_EXIT_USAGE;
    }
    Vr__Rule rule = VR__RULE__INIT;
    Vr__Rule *rules[] = { &rule };
    rule.dst_mac = dst;
    rule.src_mac = o.src;
    if (add) {
        rule.link = pos[1];
        Vr__RuleAdd req = VR__RULE_ADD__INIT;
        req.rules = rules;
        req.n_rules = 1;
        return s_simple(ctl, &o, VR__MSG_TYPE__MSG_RULE_ADD, &req.base,
                        VR__MSG_TYPE__MSG_ACK, "set");
    }
    Vr__RuleRemove req = VR__RULE_REMOVE__INIT;
    req.rules = rules;
    req.n_rules = 1;
    return s_simple(ctl, &o, VR__MSG_TYPE__MSG_RULE_REMOVE, &req.base,
                    VR__MSG_TYPE__MSG_ACK, "removed");
usage:
    fprintf(stderr, "usage: vnetctl rule list|add DST_MAC LINK [--src MAC]"
                    "|del DST_MAC [--src MAC]  [--agent EP]\n");
    return CTL_EXIT_USAGE;
}

/* Runs 'fn' as "CMD list ARGS...": links and rules are short for
 * link list and rule list. */
static int
s_list_alias(struct ctl *ctl, int argc, char **argv, ctl_cmd_fn *fn)
{
    char **v = calloc((size_t) argc + 2, sizeof *v);
    if (!v) {
        return CTL_EXIT_FAIL;
    }
    v[0] = argv[0];
    v[1] = "list";
    for (int i = 1; i < argc; i++) {
        v[i + 1] = argv[i];
    }
    int rc = fn(ctl, argc + 1, v);
    free(v);
    return rc;
}

int
ctl_links(struct ctl *ctl, int argc, char **argv)
{
    return s_list_alias(ctl, argc, argv, ctl_link);
}

int
ctl_rules(struct ctl *ctl, int argc, char **argv)
{
    return s_list_alias(ctl, argc, argv, ctl_rule);
}
