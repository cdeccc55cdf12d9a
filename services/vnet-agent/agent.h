/* SPDX-License-Identifier: MIT */
/* vnet-agent: the overlay data plane on one host.  Two packet threads (one
 * per direction: frames from the local VMs, datagrams from the overlay)
 * read an immutable snapshot of ports, links and the forwarding table that
 * the control thread replaces atomically on every change and frees after
 * a grace period; the control thread also serves the control socket and
 * publishes the local traffic matrix, VM locations and the agent's
 * announcement.  The packet threads never touch the bus, so forwarding
 * goes on whatever happens to the control services. */
#ifndef AGENT_H
#define AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "cfg.h"
#include "svc.h"

#define AGENT_DEFAULT_CONTROL "tcp://127.0.0.1:7110"
#define AGENT_DEFAULT_AGGREGATOR "tcp://127.0.0.1:7122"
#define AGENT_DEFAULT_LISTEN "0.0.0.0:7000"
#define AGENT_DEFAULT_TC "/usr/sbin/tc"
#define AGENT_DEFAULT_IP "/usr/sbin/ip"

struct agent_cfg {
    struct svc_common_cfg common;
    char *aggregator;           /* ingest endpoint the events go to */
    char *announce_control;     /* control endpoint to announce */
    char *announce_iface;       /* its wildcard's address from here */
    bool proxy;                 /* derived: no proxy_addr, so we are it */
    char *proxy_addr;           /* the proxy's overlay ip:port */
    char *listen;               /* overlay UDP ip:port */
    char *host_ip;              /* announced commodity address */
    uint32_t mtu;               /* underlay path MTU */
    struct cfg_strlist ports;   /* VM interfaces to capture: names and
                                 * globs (agent_portcfg.h) */
    uint32_t ports_max;         /* ports captured at most */
    char *capture;              /* "afpacket" or "pcap" */
    uint32_t period_ms;         /* local matrix period */
    uint32_t hello_ms;          /* hello and announcement period */
    uint32_t peer_timeout_ms;   /* proxy forgets a silent agent */
    uint32_t max_links;         /* links held at most */
    uint32_t max_rules;         /* forwarding rules held at most */
    uint32_t link_linger_ms;    /* a removed link takes what is on its
                                 * way this long (0: freed at once) */
    uint32_t buffer_kb;         /* socket buffers */
    uint32_t acct_pairs;        /* accounting capacity (MAC pairs) */
    uint32_t acct_age_ms;       /* accounting pairs idle this long go */
    uint32_t learn_max;         /* learned MACs in all */
    uint32_t learn_max_agent;   /* learned MACs per remote agent (link) */
    uint32_t learn_max_port;    /* learned MACs per local port */
    uint32_t learn_claim_ms;    /* a claim holds this long unrefreshed */
    uint32_t learn_age_ms;      /* learned MACs unrefreshed this long go */
    uint32_t flood_rate;        /* floods a second per source MAC */
    uint32_t flood_burst;       /* floods at once per source MAC */
    uint32_t flood_sources;     /* token buckets (sources tracked) */
    uint32_t flood_age_ms;      /* a bucket unused this long is reused */
    bool accounting;            /* count traffic per MAC pair (VTTIF) */
    bool fastpath;              /* circuits: the kernel forwards */
    char *tc;                   /* the tc program the fast path runs */
    uint32_t tc_timeout_ms;     /* a tc run is killed after this */
    char *overlay_key;          /* this agent's certificate */
    char *peers_dir;            /* admitted peers' certificates */
    struct cfg_strlist peers;   /* admitted peers, "id=Z85 key" */
    bool insecure;              /* no keys: anyone may join (unsafe) */
    bool encrypt;               /* overlay links encrypted, not only
                                 * authenticated */
    char *circuits;             /* trusted, encrypt or auth */
    uint32_t rekey_s;           /* new session keys this often */
    uint32_t rekey_mb;          /* or after this many MiB */
    char *circuit_nic;          /* VLAN circuits' NIC; "": none */
    char *circuit_kind;         /* vlan, or macvlan (a stand-in) */
    char *ip;                   /* the ip program (iproute2) */
};

extern const struct cfg_key agent_cfg_keys[];

/* Checks what the key table cannot (the `ports:` patterns), for
 * svc_def.finish: so --check refuses them too. */
bool agent_cfg_finish(void *cfg, char *err, size_t err_size);

/* The service: its name, role and config (main.c, and the tests and
 * fuzz harnesses that drive it without sockets). */
extern const struct svc_def agent_svc_def;

/* Sets 'a' up for what config 'cfg' announces (agent_announce.h): 0, or
 * -1 with the reason in 'why'. */
struct agent_ann;
int agent_ann_setup(const struct agent_cfg *cfg, struct agent_ann *a,
                    char *why, size_t size);

typedef struct agent agent_t;

/* Opens the ports and the overlay socket, starts the packet threads and
 * registers the control handlers and timers with 'svc'.  Returns NULL with
 * the reason logged.  The caller owns the result; 'cfg' must outlive it. */
agent_t *agent_new(svc_t *svc, const struct agent_cfg *cfg);

/* As agent_new, but no packet thread runs: nothing reads the ports or the
 * overlay socket, so no handshake is made and nothing sealed is sent; the
 * control handlers and timers work as ever.  For harnesses that drive
 * the handlers without sockets (tests/fuzz/fuzz_agent_ctl.c). */
agent_t *agent_new_control_only(svc_t *svc, const struct agent_cfg *cfg);

/* Stops the threads and frees '*self_p' if not NULL; sets it to NULL. */
void agent_destroy(agent_t **self_p);

#endif /* AGENT_H */
