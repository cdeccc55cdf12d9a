/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the agent's control handlers (agent_ctl.c:
 * LinkCreate, LinkRemove, LinkList, LinkProbe, RuleAdd, RuleRemove,
 * RuleList, status), driven without sockets (svc_harness.h) on an agent
 * started without its packet threads (agent_new_control_only): a member
 * with keys of its own, no ports, no fast path.  Every address a request
 * names is moved onto loopback first (127.b.c.d), so a TCP link's
 * connect never leaves the machine; with no packet thread no handshake
 * is made, so nothing sealed is sent at all.  Checked: one reply per
 * request at once, but for a probe, which may wait for its echo; a
 * refused request leaves the links and rules as they were (link list and
 * rule list, byte for byte); at most max_links links (24 here, so that
 * the fuzzer meets the cap often and a full table stays cheap), PROBE_MAX
 * probes waiting, AGENT_FAST_WAITS requests waiting for the fast path;
 * at most max_rules rules (256 here); the star's link is never removed;
 * link names are unique; a removed
 * link lingers unseen and is replaced by one made under its name; every rule
 * names a link or port that exists; every link the planner could have
 * made pairs by its name's tag.  Build with -DVR_FUZZ=ON and clang;
 * tests/fuzz/replay.c runs it on fixed inputs in the ordinary build. */
#include <arpa/inet.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_priv.h"
#include "fuzz_check.h"
#include "svc_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char s_yaml[] =
    "id: fz\n"
    "bus:\n"
    "  control: inproc://fz-agent-ctl-@N@\n"
    "  aggregator: inproc://fz-agent-agg-@N@\n"
    "proxy_addr: 127.0.0.1:9\n"
    "overlay:\n"
    "  listen: 127.0.0.1:0\n"
    "  key: /tmp/vr-fuzz-agent-@N@/agent-fz.key\n"
    "  peers_dir: /tmp/vr-fuzz-agent-@N@\n"
    "ports: []\n"
    "fastpath: false\n"
    "hello_ms: 200\n"
    "max_links: 24\n"
    "max_rules: 256\n"
    "acct_pairs: 16\n"
    "flood:\n"
    "  sources: 16\n";

static char s_keys[64];

/* The keys go when the process ends. */
static void
s_remove_keys(void)
{
    static const char *const names[] = {
        "agent-fz.key", "agent-fz.key_secret", "agent-peer.key",
        "agent-peer.key_secret",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", s_keys, names[i]);
        unlink(path);
    }
    rmdir(s_keys);
}

/* This agent's key and one peer's, as `vnetctl keygen` writes them. */
static void
s_make_keys(void)
{
    snprintf(s_keys, sizeof s_keys, "/tmp/vr-fuzz-agent-%d", (int) getpid());
    s_remove_keys();
    FUZZ_CHECK(mkdir(s_keys, 0700) == 0);
    atexit(s_remove_keys);
    static const char *const ids[] = { "fz", "peer" };
    for (size_t i = 0; i < 2; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/agent-%s.key", s_keys, ids[i]);
        zcert_t *cert = zcert_new();
        FUZZ_CHECK(cert && zcert_save(cert, path) == 0);
        zcert_destroy(&cert);
    }
}

static void *
s_start(svc_t *svc, void *cfg)
{
    struct agent_cfg *c = cfg;
    c->proxy = !c->proxy_addr || !*c->proxy_addr;   /* as main.c */
    s_make_keys();
    return agent_new_control_only(svc, c);
}

/* "a.b.c.d:port" as the agent would read it becomes "127.b.c.d:port":
 * a link's TCP connect goes nowhere but loopback.  Anything else is left
 * for the checks to refuse. */
static void
s_loopback(char **peer)
{
    struct sockaddr_in sin;
    if (!*peer || !agent_link_parse_addr(*peer, &sin)) {
        return;
    }
    uint32_t ip = ntohl(sin.sin_addr.s_addr);
    if (ip == 0 || ip == UINT32_MAX || (ip >> 28) == 0xe) {
        return;         /* not unicast: refused before it is used */
    }
    char buf[32];
    snprintf(buf, sizeof buf, "127.%u.%u.%u:%u", (ip >> 16) & 0xff,
             (ip >> 8) & 0xff, ip & 0xff, ntohs(sin.sin_port));
    char *copy = strdup(buf);
    FUZZ_CHECK(copy);
    free(*peer);        /* unpacked with the default allocator */
    *peer = copy;
}

static void
s_prepare(int type, ProtobufCMessage *m)
{
    if (type == VR__MSG_TYPE__MSG_LINK_CREATE) {
        Vr__LinkCreate *req = (Vr__LinkCreate *) m;
        if (req->link) {
            s_loopback(&req->link->peer);
            s_loopback(&req->link->local);
        }
    }
}

static const int s_snapshot[] = {
    VR__MSG_TYPE__MSG_LINK_LIST_REQUEST,
    VR__MSG_TYPE__MSG_RULE_LIST_REQUEST,
};

static const int s_deferred[] = { VR__MSG_TYPE__MSG_LINK_PROBE };

static int
s_cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static void
s_check_limits(void *service, void *cfg, ProtobufCMessage *const *replies)
{
    const agent_t *self = service;
    const Vr__LinkList *links = (const Vr__LinkList *) replies[0];
    const Vr__RuleList *rules = (const Vr__RuleList *) replies[1];
    const struct agent_cfg *c = cfg;
    size_t n = 0, n_all = 0;
    for (int i = 0; i < AGENT_MAX_LINKS; i++) {
        const agent_link_t *l = self->links[i];
        if (!l) {
            continue;
        }
        n_all++;
        FUZZ_CHECK(l->index == i);
        if (atomic_load(&l->lingering)) {
            /* Removed (agent_linger.c): found by no request, and never
             * beside a live link of its name (that one replaced it). */
            FUZZ_CHECK(i != self->proxy_link);
            FUZZ_CHECK(agent_find_link(self, l->name) < 0);
        } else {
            n++;
        }
        /* Keys on: every link is sealed, and pairs with the peer's link
         * by its tag: the star's 0, any other its name's. */
        FUZZ_CHECK(l->sec);
        FUZZ_CHECK(i == self->proxy_link
                       ? l->sec->tag == 0
                       : l->sec->tag == link_sec_tag(l->name));
    }
    FUZZ_CHECK(links->n_links == n && n_all <= c->max_links);
    FUZZ_CHECK(self->proxy_link >= 0 && self->links[self->proxy_link]
               && !strcmp(self->links[self->proxy_link]->name, "proxy"));
    static const char *names[AGENT_MAX_LINKS];
    for (size_t i = 0; i < links->n_links; i++) {
        names[i] = links->links[i]->name;
    }
    qsort(names, links->n_links, sizeof names[0], s_cmp_name);
    for (size_t i = 1; i < links->n_links; i++) {
        FUZZ_CHECK(strcmp(names[i - 1], names[i]) != 0);
    }
    FUZZ_CHECK(rules->n_rules <= c->max_rules);
    for (size_t i = 0; i < rules->n_rules; i++) {
        FUZZ_CHECK(strcmp(rules->rules[i]->link, "?") != 0);
    }
    FUZZ_CHECK(self->probes.n <= PROBE_MAX);
    FUZZ_CHECK(self->n_fast_waits <= AGENT_FAST_WAITS);
}

static const struct svch_def s_def = {
    .def = &agent_svc_def,
    .cfg_size = sizeof(struct agent_cfg),
    .yaml = s_yaml,
    .start = s_start,
    .snapshot = s_snapshot,
    .n_snapshot = 2,
    .check_limits = s_check_limits,
    .deferred = true,
    .deferred_types = s_deferred,
    .n_deferred_types = 1,
    .prepare = s_prepare,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return svch_run(&s_def, data, size);
}
