/* SPDX-License-Identifier: MIT */
/* The agent's request checks: small predicates over the decoded protobuf
 * messages, each failure a sentence naming the field and quoting the
 * value through log_escape, so it is safe to log and to show. */
#include "agent_check.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_vlan.h"
#include "eth.h"
#include "log.h"

static bool
s_fail(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool
s_fail(char *why, size_t size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(why, size, fmt, args);
    va_end(args);
    return false;
}

static bool
s_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || strchr("._-:#@", c) != NULL;
}

/* 's' is 1 to 'max' bytes, each one s_name_char. */
static bool
s_well_formed(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++) {
        if (n >= max || !s_name_char(s[n])) {
            return false;
        }
    }
    return n > 0;
}

bool
agent_check_link_name(const char *field, const char *name, char *why,
                      size_t size)
{
    if (!name || !*name) {
        return s_fail(why, size, "%s: missing", field);
    }
    if (!s_well_formed(name, AGENT_CHECK_NAME_MAX)) {
        return s_fail(why, size, "%s: bad name '%s': expected 1 to %d of "
                      "A-Z a-z 0-9 . _ - : # @", field, LOG_ESC(name),
                      AGENT_CHECK_NAME_MAX);
    }
    if (!strncmp(name, "local:", 6)) {
        return s_fail(why, size, "%s: bad name '%s': 'local:' names a VM "
                      "port", field, LOG_ESC(name));
    }
    return true;
}

/* "a.b.c.d:port": a unicast IPv4 address (not 0.0.0.0, multicast or
 * broadcast) and a port in 1..65535, as agent_link_parse_addr reads it. */
static bool
s_check_peer(const char *field, const char *peer, char *why, size_t size)
{
    if (!peer || !*peer) {
        return s_fail(why, size, "%s: missing", field);
    }
    char host[AGENT_CHECK_PEER_MAX + 1];
    const char *colon = strrchr(peer, ':');
    size_t n = strlen(peer);
    bool ok = n <= AGENT_CHECK_PEER_MAX && colon && colon != peer;
    struct in_addr a = { 0 };
    long port = 0;
    if (ok) {
        memcpy(host, peer, (size_t) (colon - peer));
        host[colon - peer] = '\0';
        char *end;
        port = strtol(colon + 1, &end, 10);
        ok = inet_pton(AF_INET, host, &a) == 1 && end != colon + 1
             && *end == '\0' && colon[1] >= '0' && colon[1] <= '9';
    }
    if (!ok) {
        return s_fail(why, size, "%s: bad address '%s': expected "
                      "a.b.c.d:port", field, LOG_ESC(peer));
    }
    if (port < 1 || port > 65535) {
        return s_fail(why, size, "%s: bad port in '%s': expected 1 to "
                      "65535", field, LOG_ESC(peer));
    }
    uint32_t ip = ntohl(a.s_addr);
    if (ip == 0 || ip == UINT32_MAX || (ip >> 28) == 0xe) {
        return s_fail(why, size, "%s: '%s' is not a unicast address",
                      field, LOG_ESC(peer));
    }
    return true;
}

bool
agent_check_link_create(const Vr__LinkCreate *req, char *why, size_t size)
{
    const Vr__Link *l = req->link;
    if (!l) {
        return s_fail(why, size, "link: missing");
    }
    if (!agent_check_link_name("link.name", l->name, why, size)
        || !s_check_peer("link.peer", l->peer, why, size)) {
        return false;
    }
    if (l->proto != VR__LINK_PROTO__LINK_PROTO_UDP
        && l->proto != VR__LINK_PROTO__LINK_PROTO_TCP) {
        return s_fail(why, size, "link.proto: unknown protocol %d",
                      (int) l->proto);
    }
    if (l->vlan > AGENT_VLAN_ID_MAX) {
        return s_fail(why, size, "link.vlan: %u out of range: 0 (none) or "
                      "1 to %d", l->vlan, AGENT_VLAN_ID_MAX);
    }
    if (l->vlan) {
        char cidr[AGENT_VLAN_CIDR_LEN];
        if (!l->circuit || l->proto != VR__LINK_PROTO__LINK_PROTO_UDP) {
            return s_fail(why, size, "link.vlan: %u on a link that is not "
                          "a UDP circuit", l->vlan);
        }
        if (!agent_vlan_cidr(l->local, l->prefix_len, cidr, why, size)) {
            return false;
        }
    } else if (l->local && *l->local) {
        return s_fail(why, size, "link.local: '%s' is not supported without "
                      "a VLAN: the overlay socket sends from the address the "
                      "route picks", LOG_ESC(l->local));
    } else if (l->prefix_len) {
        return s_fail(why, size, "link.prefix_len: %u without a VLAN",
                      l->prefix_len);
    }
    if (l->peer_agent && *l->peer_agent
        && !s_well_formed(l->peer_agent, AGENT_CHECK_NAME_MAX)) {
        return s_fail(why, size, "link.peer_agent: bad id '%s': expected "
                      "1 to %d of A-Z a-z 0-9 . _ - : # @",
                      LOG_ESC(l->peer_agent), AGENT_CHECK_NAME_MAX);
    }
    if (l->mtu != 0
        && (l->mtu < AGENT_CHECK_MTU_MIN || l->mtu > AGENT_CHECK_MTU_MAX)) {
        return s_fail(why, size, "link.mtu: %u out of range: 0 (the "
                      "default) or %d to %d", l->mtu, AGENT_CHECK_MTU_MIN,
                      AGENT_CHECK_MTU_MAX);
    }
    /* state, counters and fast_dev are for replies: ignored here. */
    return true;
}

bool
agent_check_link_remove(const Vr__LinkRemove *req, char *why, size_t size)
{
    return agent_check_link_name("name", req->name, why, size);
}

bool
agent_check_link_probe(const Vr__LinkProbe *req, char *why, size_t size)
{
    if (!agent_check_link_name("name", req->name, why, size)) {
        return false;
    }
    if (req->timeout_ms > AGENT_CHECK_PROBE_MAX_MS) {
        return s_fail(why, size, "timeout_ms: %u out of range: 0 (the "
                      "default) to %d", req->timeout_ms,
                      AGENT_CHECK_PROBE_MAX_MS);
    }
    return true;
}

/* A MAC a rule may name: 48 bits, unicast, not zero (zero means "any" for
 * a source, so only 'any_ok' takes it). */
static bool
s_check_mac(const char *field, size_t i, uint64_t mac, bool any_ok,
            char *why, size_t size)
{
    if (mac == 0 && any_ok) {
        return true;
    }
    if (mac == 0 || mac > ETH_MAC_BROADCAST || eth_mac_is_multicast(mac)) {
        return s_fail(why, size, "rules[%zu].%s: bad MAC 0x%llx: expected "
                      "a 48-bit unicast address", i, field,
                      (unsigned long long) mac);
    }
    return true;
}

bool
agent_check_rules(const Vr__Rule *const *rules, size_t n, bool add,
                  char *why, size_t size)
{
    if (n == 0) {
        return s_fail(why, size, "rules: none given");
    }
    if (n > AGENT_CHECK_RULES_MAX) {
        return s_fail(why, size, "rules: %zu of them, at most %d in one "
                      "request", n, AGENT_CHECK_RULES_MAX);
    }
    for (size_t i = 0; i < n; i++) {
        const Vr__Rule *r = rules[i];
        if (!s_check_mac("dst_mac", i, r->dst_mac, false, why, size)
            || !s_check_mac("src_mac", i, r->src_mac, true, why, size)) {
            return false;
        }
        const char *t = r->link;
        if (!add && (!t || !*t)) {
            continue;
        }
        if (!t || !*t) {
            return s_fail(why, size, "rules[%zu].link: missing", i);
        }
        bool port = !strncmp(t, "local:", 6);
        bool ok = port ? s_well_formed(t + 6, 15)
                       : s_well_formed(t, AGENT_CHECK_NAME_MAX);
        if (!ok) {
            return s_fail(why, size, "rules[%zu].link: bad target '%s': "
                          "expected a link name or local:<interface>", i,
                          LOG_ESC(t));
        }
    }
    return true;
}
