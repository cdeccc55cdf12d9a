/* SPDX-License-Identifier: MIT */
/* The agent's insides, shared by agent.c (config keys, lifecycle,
 * snapshots), the packet threads (agent_vm.c, agent_ovl.c, with
 * agent_path.h) and the control thread's modules:
 * agent_ctl.c (control socket), agent_claim.c (learned MACs),
 * agent_star.c (hellos, joins, links kept up), agent_pub.c (what is
 * published) and agent_fast.c (the fast path's intent).  Not for use
 * outside the agent. */
#ifndef AGENT_PRIV_H
#define AGENT_PRIV_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>

#include "agent.h"
#include "agent_acct.h"
#include "agent_announce.h"
#include "agent_fast.h"
#include "agent_flood.h"
#include "agent_fwd.h"
#include "agent_learn.h"
#include "agent_link.h"
#include "agent_port.h"
#include "agent_probe.h"
#include "agent_vlan.h"
#include "bus.h"

enum {
    AGENT_MAX_LINKS = 1024,
    AGENT_MAX_PORTS = 64,
    /* Flood buckets: a port's or link's ingress index for its broadcasts,
     * this much more for its unknown unicast (agent_path_flood_ok()). */
    AGENT_FLOOD_UNICAST = AGENT_MAX_LINKS,
    AGENT_PEER_HASH = 4096,     /* power of two, > 2 * AGENT_MAX_LINKS */
    AGENT_HELLO_MACS = 64,      /* MACs a hello carries at most */
    AGENT_FAST_WAITS = 16,      /* requests waiting for the fast path */
    AGENT_MAX_RULES = 1000000,  /* max_rules' own bound */
    AGENT_DEFAULT_MAX_RULES = 65536,
};

/* What the packet threads read: replaced whole, never changed. */
struct agent_snap {
    fwd_table_t *fwd;                           /* owned */
    agent_link_t *links[AGENT_MAX_LINKS];       /* by index; borrowed */
    agent_port_t *ports[AGENT_MAX_PORTS];       /* by index, NULL for a
                                                 * free one; borrowed */
    size_t n_ports;                             /* indices in use: the
                                                 * highest one + 1 */
    int proxy_link;                             /* index, or -1 */
    struct {
        uint64_t key;                           /* addr << 16 | port; 0 */
        uint16_t index;                         /* link index: the first */
        bool shared;                            /* more links have it */
    } peers[AGENT_PEER_HASH];
};

/* Learned: a MAC was seen coming from a port or a link (packet thread to
 * control thread, through a pipe). */
struct agent_learn_ev {
    uint64_t mac;
    uint16_t kind;                  /* FWD_PORT or FWD_LINK */
    uint16_t index;
    uint32_t pad;
};

/* A hello datagram (overlay thread to control thread).  With keys, the
 * agent id is the one its link's key speaks for. */
struct agent_hello_ev {
    struct sockaddr_in from;
    char agent_id[64];
    uint32_t n_macs;
    uint64_t macs[AGENT_HELLO_MACS];
};

/* Per-thread counters, each written by its own thread only. */
struct agent_tstats {
    _Atomic uint64_t frames_in;     /* from VMs, or datagrams in */
    _Atomic uint64_t bytes_in;
    _Atomic uint64_t injected;      /* frames delivered to local VMs */
    _Atomic uint64_t inject_errors;
    _Atomic uint64_t flooded;       /* floods (broadcast, unknown unicast)
                                     * the limiter let through */
    _Atomic uint64_t flood_copies;  /* copies floods made (ports, links) */
    _Atomic uint64_t flood_limited; /* floods the limiter refused */
    _Atomic uint64_t no_route;      /* dropped: nowhere to send */
    _Atomic uint64_t unknown_peer;  /* datagrams from no known link */
    _Atomic uint64_t bad_header;    /* datagrams with a bad header */
    _Atomic uint64_t bad_offload;   /* frames with bad offload metadata */
    _Atomic uint64_t learn_events;
    _Atomic uint64_t relayed;       /* proxy: overlay to overlay */
    _Atomic uint64_t fast_frames;   /* counted only: the kernel carried
                                     * them over a circuit */
    _Atomic uint64_t fast_bytes;
    _Atomic uint64_t tcp_idle_closed;   /* inbound connections reaped */
    _Atomic uint64_t tcp_evicted;       /* closed for a newer one */
    _Atomic uint64_t unauth;        /* refused: not sealed, or sealed for
                                     * no session we have */
    _Atomic uint64_t forged;        /* sealed, but the tag is wrong */
    _Atomic uint64_t replayed;      /* sealed, but seen before */
    _Atomic uint64_t downgraded;    /* authenticated only where the link
                                     * wants encryption */
    _Atomic uint64_t hello_refused; /* a hello for another agent's id */
} __attribute__((aligned(64)));

/* A session the proxy made with an agent it had no link for (overlay
 * thread to control thread, which makes the link). */
struct agent_join_ev {
    struct sockaddr_in from;
    int bound;                      /* admitted key index */
    struct sec_session session;
};

struct agent {
    svc_t *svc;                     /* not owned */
    const struct agent_cfg *cfg;    /* not owned */
    bus_t *bus;                     /* svc's */
    zsock_t *events;                /* PUB to the aggregator's ingest */
    uint64_t boot_id;
    int udp_fd;                     /* overlay socket */
    int tcp_fd;                     /* overlay TCP listening socket */
    struct agent_tcp_rx rx_udp;     /* epoll tags for the two */
    struct agent_tcp_rx rx_listen;
    struct sockaddr_in listen;      /* its address */

    /* Control thread's view: what the next snapshot is built from. */
    agent_port_t *ports[AGENT_MAX_PORTS];       /* NULL: free index */
    size_t n_ports;                 /* the highest index in use + 1 */
    agent_link_t *links[AGENT_MAX_LINKS];
    int proxy_link;

    _Atomic(struct agent_snap *) snap;
    _Atomic uint64_t epoch;                     /* grace periods */
    _Atomic uint64_t active[2];                 /* per packet thread */

    pthread_t threads[2];
    bool threads_started[2];
    _Atomic bool stop;
    int vm_epoll;                   /* the ports */
    int ovl_epoll;                  /* the overlay socket */

    int learn_pipe[2];              /* packet threads -> control */
    int hello_pipe[2];              /* overlay thread -> control */
    int probe_pipe[2];              /* overlay thread -> control: cookies */
    int join_pipe[2];               /* overlay thread -> control: joins */
    int kick_pipe[2];               /* overlay thread -> control: a session
                                     * came up, say hello now */
    int roam_pipe[2];               /* overlay thread -> control: link
                                     * indices whose peer moved */
    struct agent_hs_ctx *hs;        /* handshakes (overlay thread), NULL
                                     * when overlay.insecure */

    acct_t *acct;                   /* VM thread's accounting */
    flood_t *flood[2];              /* per packet thread: flood limiter */
    learn_t *learn;                 /* control: who owns learned MACs */
    agent_fast_t *fast;             /* control: the fast path, or NULL */
    agent_vlan_t *vlan;             /* control: VLAN sub-interfaces, or
                                     * NULL (no overlay.circuit_nic) */
    uint64_t fast_gen;              /* control: changes asked of it */
    bool fast_dirty;                /* one was asked while it was busy */
    struct agent_fast_wait {        /* requests answered once it shows */
        struct svc_later later;     /* ...the change they made */
        uint64_t gen;
        uint64_t by_ms;             /* answered anyway at this time */
        char done[16];              /* the ack's detail */
    } fast_waits[AGENT_FAST_WAITS];
    size_t n_fast_waits;
    struct fwd_cache caches[2];     /* per packet thread */
    struct agent_tstats tstats[2];  /* per packet thread */
    uint64_t n_learned;             /* control: learn events applied */
    uint64_t n_snapshots;           /* control: snapshots published */
    uint64_t n_hellos;              /* control: hellos received */
    uint32_t link_seq;              /* for names of learned links */
    uint64_t links_retired;         /* control: removed, left to linger */
    uint64_t links_freed;           /* ...and freed since */
    uint64_t linger_rx_done;        /* frames the freed ones took while
                                     * they lingered */
    struct agent_probes probes;     /* control: probes awaiting an echo */

    /* Ports that come and go (agent_attach.c), control thread. */
    int nl_fd;                      /* rtnetlink link news, or -1 */
    uint8_t *nl_buf;                /* AGENT_NL_BUF bytes */
    uint32_t nl_seq;
    bool nl_dumping;                /* a dump of every link under way */
    bool nl_resync;                 /* another is needed */
    uint64_t nl_dump_ms;            /* when the one under way was asked */
    size_t next_port;               /* indices go round-robin */
    bool port_seen[AGENT_MAX_PORTS];    /* in the dump under way */
    bool port_gone[AGENT_MAX_PORTS];    /* its release is to be retried */
    uint64_t ports_captured;
    uint64_t ports_released;
    uint64_t ports_refused;         /* past ports_max */
    bool ports_waiting;             /* one was refused: look again when
                                     * one is released */
    uint64_t ports_failed;          /* matched, but could not be opened */
    uint64_t nl_bad;                /* malformed link messages */
    uint64_t nl_lost;               /* times news were lost (a dump) */
    uint64_t nl_resyncs;            /* dumps asked */

    /* What is announced (agent_announce.h), control thread. */
    struct agent_ann ann;
    uint64_t ann_unresolved;        /* announcements held back: no
                                     * address found for the endpoint */
};

/* Builds a snapshot from the control thread's view with forwarding table
 * 'fwd' (taken), publishes it, waits for the packet threads to let go of
 * the old one and frees it.  Returns 0 or -1 (out of memory; 'fwd' is
 * freed and nothing changes). */
int agent_publish(agent_t *self, fwd_table_t *fwd);

/* Edits 'fwd', a copy of the current forwarding table, for
 * agent_change(): returns 0, or a positive value to abandon the copy. */
typedef int agent_edit_fn(agent_t *self, fwd_table_t *fwd, void *arg);

/* The one way the control thread changes forwarding: clones the current
 * table, lets 'edit' change the copy (NULL: no edit, the links changed),
 * publishes it and brings the fast path in line.  Returns 0, the edit's
 * positive result, or -1 (out of memory); but for 0, nothing changed. */
int agent_change(agent_t *self, agent_edit_fn *edit, void *arg);

/* The current snapshot (control thread: stable until agent_publish). */
const struct agent_snap *agent_current(const agent_t *self);

/* Adds link 'link' (taken) at a free index below max_links; returns the
 * index, or -1 when all are taken. */
int agent_add_link(agent_t *self, agent_link_t *link);

/* Finds a link by name or by peer address; returns its index or -1. */
int agent_find_link(const agent_t *self, const char *name);
int agent_find_link_by_peer(const agent_t *self,
                            const struct sockaddr_in *peer);

/* Removes link 'index': its rules and learned entries go with it. */
int agent_remove_link(agent_t *self, int index);

/* Starts reading a TCP link's connection in the overlay thread
 * (agent_ovl.c). */
int agent_ovl_watch_tcp(agent_t *self, agent_link_t *link);

/* The packet threads' bodies ('arg' the agent), until 'stop'. */
void *agent_vm_thread(void *arg);
void *agent_ovl_thread(void *arg);

/* Brings the fast path's filters in line with the current snapshot's
 * rules, links and local MACs (agent_fast.c): starts a change, or asks
 * for one once the change under way is over.  Never waits for tc.
 * Control thread. */
void agent_fast_sync(agent_t *self);

/* Marks link 'l' as a circuit or not, finds the device the fast path
 * would send it on and syncs if that changed (agent_fast.c). */
void agent_fast_set_circuit(agent_t *self, agent_link_t *l, bool circuit);

/* Whether link 'l' seals with encryption: overlay links as
 * overlay.encrypt says, circuits as overlay.circuits does. */
bool agent_link_wants_encryption(const agent_t *self, const agent_link_t *l);

/* Whether circuits carry frames raw (overlay.circuits: trusted, or no
 * keys at all). */
bool agent_circuits_trusted(const agent_t *self);

/* "local:<port>", a link's name, "drop" or "?" for action 'a', into
 * 'buf' ('size' bytes); returns 'buf'.  Link names may come from hellos:
 * escape them when logging. */
const char *agent_target_name(const agent_t *self, struct fwd_action a,
                              char *buf, size_t size);

/* Each control-thread module registers its handlers and timers with the
 * service; 0 or -1.  agent_ctl.c: the control socket's requests and the
 * probes waiting for an echo. */
int agent_ctl_start(agent_t *self);

/* agent_linger.c: a link removed by request lingers (see there).
 * Retires link 'index' at 'now_us' (frees it at once with no linger, or
 * when it is the star's); 0 or -1 (out of memory: nothing changed). */
int agent_linger_retire(agent_t *self, int index, uint64_t now_us);

/* Frees the lingering links named 'name' or, with 'vlan' (not 0), on
 * that VLAN: a link made again replaces them.  0, or -1 if one could
 * not be freed (out of memory). */
int agent_linger_replace(agent_t *self, const char *name, uint32_t vlan);

/* Frees the lingering link whose linger ends first, for its slot; false
 * if none was freed. */
bool agent_linger_free_one(agent_t *self);

/* Lingering links now; frames taken on lingering links since the
 * start. */
size_t agent_linger_count(const agent_t *self);
uint64_t agent_linger_rx(const agent_t *self);

/* Frees the lingering links whose linger is over. */
int agent_linger_start(agent_t *self);

/* agent_claim.c: learn events from the packet threads, claims aging. */
int agent_claim_start(agent_t *self);

/* Applies the claim of 'owner' on 'mac' at 'now_us' to the claims table
 * and says whether the forwarding table 'fwd' must change.  A refreshed
 * claim that 'fwd' does not show (a change that failed to publish) is
 * set again; a refused one is logged (rate-limited). */
bool agent_claim(agent_t *self, const fwd_table_t *fwd, uint64_t mac,
                 struct fwd_action owner, uint64_t now_us);

/* agent_star.c: hellos heard, joins, kicks, TCP connects under way. */
int agent_star_start(agent_t *self);

/* Sends a hello on every UDP link, listing those of the 'n_macs' local
 * MACs at 'macs' whose claims are live; removes the proxy's learned
 * links gone silent; keeps TCP links connected. */
void agent_star_hello(agent_t *self, const uint64_t *macs, size_t n_macs);

/* (Re)connects TCP link 'l' without waiting; the connect completes on
 * agent_star's tick. */
void agent_star_tcp_up(agent_t *self, agent_link_t *l);

/* agent_attach.c: checks `ports:`, opens the link news and captures
 * the matching interfaces there now (before the first snapshot); -1 if
 * the config is bad or one cannot be opened (logged). */
int agent_attach_open(agent_t *self);

/* agent_attach.c: link news (interfaces captured and released as they
 * come and go) and the period's checks. */
int agent_attach_start(agent_t *self);
void agent_attach_close(agent_t *self);

/* Local ports captured now. */
size_t agent_ports_live(const agent_t *self);

/* agent_pub.c: the local matrix every period, the hello period. */
int agent_pub_start(agent_t *self);

/* Publishes the announcement and VM locations and says hello (at once
 * when a session comes up, and every hello period). */
void agent_pub_hello_period(agent_t *self);

/* agent_fast.c: opens the fast path if the config asks for it and it can
 * work (else off, logged); -1 if the config names an unsafe tc (logged).
 * Queues the ports' fresh clsact qdiscs. */
int agent_fast_open(agent_t *self);

/* agent_fast.c: tc runs ending (agent_jobs), the fast path's period
 * (vanished circuit devices, retries). */
int agent_fast_start(agent_t *self);

/* Whether the fast path shows the last change to the table (its tc runs
 * are over), or there is none. */
bool agent_fast_synced(const agent_t *self);

/* agent_circuit.c: VLAN circuits' sub-interfaces (agent_vlan): made if
 * overlay.circuit_nic is set, after a sweep of what an earlier life
 * left; -1 if the config is unusable (logged). */
int agent_circuit_open(agent_t *self);

/* agent_circuit.c: 'ip' runs ending, their deadlines. */
int agent_circuit_start(agent_t *self);

/* agent_circuit.c: link 'l' (new or again) over VLAN circuit 'vlan' with
 * address 'cidr' and MTU 'mtu' (0: the NIC's): its sub-interface is
 * asked for.  Returns 0, or -1 with a sentence in 'why'. */
int agent_circuit_want(agent_t *self, agent_link_t *l, uint32_t vlan,
                       const char *cidr, uint32_t mtu, char *why,
                       size_t size);

/* agent_ctl.c: a change of the fast path is over: the requests waiting
 * for it are answered. */
void agent_ctl_fast_done(agent_t *self);

/* Sum of a counter over both packet threads. */
uint64_t agent_tstat_sum(const agent_t *self, size_t offset);
#define AGENT_TSTAT(SELF, FIELD) \
    agent_tstat_sum(SELF, offsetof(struct agent_tstats, FIELD))

#endif /* AGENT_PRIV_H */
