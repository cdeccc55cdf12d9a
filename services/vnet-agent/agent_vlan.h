/* SPDX-License-Identifier: MIT */
/* The host ends of VLAN circuits: a reservation system cross-connects
 * VLAN X between two hosts' circuit NICs, and each host's agent makes a
 * sub-interface of its NIC for X with its end's address, so that the
 * circuit link (agent_ctl) and the fast path (agent_fast) run over it.
 * Devices are made and removed with iproute2's 'ip', run as jobs of a
 * queue (agent_jobs) the control loop drives: nothing waits for them.
 * Each device is marked as this agent's (its alias, "vreserve-agent
 * <id>", set by the run after the one that makes it, since the kernel
 * takes no alias at creation), so a restarted agent finds and removes
 * what an earlier life left (agent_vlan_sweep) and never touches a
 * device it did not make; one left between the two runs is known by its
 * name, its NIC, and being down and unaddressed.
 * Control thread only.
 *
 * Kinds: "vlan" makes an 802.1Q sub-interface (the real thing);
 * "macvlan" makes an untagged macvlan stand-in, for kernels built
 * without 802.1Q (the test bed's): same names, addresses and life, no
 * tag and no isolation between circuits, and the fast path sends and
 * takes the circuit's raw frames on the NIC itself, since a macvlan
 * takes only frames for its own MAC. */
#ifndef AGENT_VLAN_H
#define AGENT_VLAN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    AGENT_VLAN_ID_MAX = 4094,   /* 802.1Q ids 1 to this (4095 reserved) */
    AGENT_VLAN_PREFIX_MIN = 8,  /* prefix lengths of a circuit's address */
    AGENT_VLAN_PREFIX_MAX = 31, /* (a /32 has no peer on its subnet) */
    AGENT_VLAN_MAX_DEVS = 256,  /* sub-interfaces held at most */
    AGENT_VLAN_JOBS = 1024,     /* ip runs queued at most */
};

/* Room for "a.b.c.d/nn". */
#define AGENT_VLAN_CIDR_LEN 20

/* Whether 'nic' may name a circuit NIC: 1 to IF_NAMESIZE - 1 of A-Z a-z
 * 0-9 . _ -, not "." or "..", not starting with '-'.  False with a
 * sentence in 'why' (the value escaped). */
bool agent_vlan_nic_ok(const char *nic, char *why, size_t size);

/* The sub-interface name for VLAN 'vlan' on 'nic': "<nic>.<vlan>" when it
 * fits IF_NAMESIZE, else "vrv<vlan>", into 'out'.  False if 'vlan' is
 * not 1 to AGENT_VLAN_ID_MAX. */
bool agent_vlan_dev_name(const char *nic, uint32_t vlan,
                         char out[IF_NAMESIZE]);

/* Whether 'name' is exactly the name agent_vlan_dev_name() gives some
 * VLAN on 'nic'; if so the VLAN is put in '*vlan'. */
bool agent_vlan_parse_dev(const char *nic, const char *name,
                          uint32_t *vlan);

/* "a.b.c.d/nn" of 'local' (a unicast IPv4 address, no port) and
 * 'prefix_len' (AGENT_VLAN_PREFIX_MIN to _MAX) into 'cidr' (at least
 * AGENT_VLAN_CIDR_LEN bytes), the address not being the subnet's own or
 * its broadcast (but on a /31).  False with a sentence in 'why' (values
 * escaped). */
bool agent_vlan_cidr(const char *local, uint32_t prefix_len, char *cidr,
                     char *why, size_t size);

/* The alias that marks a device as agent 'agent_id''s, into 'out'; and
 * whether alias 'alias' (as read from sysfs, a newline allowed at the
 * end) is that mark. */
void agent_vlan_mark(const char *agent_id, char *out, size_t size);
bool agent_vlan_is_mark(const char *alias, const char *agent_id);

/* What becomes of a sub-interface. */
enum agent_vlan_state {
    AGENT_VLAN_NONE,            /* no such link held */
    AGENT_VLAN_PENDING,         /* being made */
    AGENT_VLAN_UP,              /* made, addressed and up */
    AGENT_VLAN_FAILED,          /* 'ip' refused a step (see the error) */
};

struct agent_vlan_stats {
    uint64_t made;              /* sub-interfaces made and up */
    uint64_t removed;           /* removed (link gone, or at stop) */
    uint64_t failed;            /* makings that failed */
    uint64_t refused;           /* asked but refused at once */
    uint64_t swept;             /* left by an earlier life, removed */
};

typedef struct agent_vlan agent_vlan_t;

/* Told that link 'link''s sub-interface is up (or failed): the link may
 * now bind on it. */
typedef void agent_vlan_ready_fn(const char *link, void *arg);

/* Sub-interfaces of NIC 'nic' (agent_vlan_nic_ok) of kind 'kind' ("vlan"
 * or "macvlan"), made with program 'ip' (an absolute path), each run
 * killed after 'timeout_ms', marked as agent 'agent_id''s; 'ready' is
 * called with 'arg' when one is up or failed.  NULL with the reason in
 * 'why' (bad name or kind, out of memory). */
agent_vlan_t *agent_vlan_new(const char *nic, const char *kind,
                             const char *ip, const char *agent_id,
                             uint32_t timeout_ms, agent_vlan_ready_fn *ready,
                             void *arg, char *why, size_t size);

/* Kills a run under way, removes every sub-interface still held (waits:
 * a few seconds at most) and frees '*self_p'; sets it to NULL. */
void agent_vlan_destroy(agent_vlan_t **self_p);

/* At start: removes every device of this namespace marked as this
 * agent's (waits for each 'ip', at most its time limit).  Returns how
 * many it removed. */
size_t agent_vlan_sweep(agent_vlan_t *self);

/* Link 'link' wants VLAN 'vlan' with address 'cidr' (agent_vlan_cidr)
 * and MTU 'mtu' (0: the NIC's).  The same again is nothing (a failed one
 * is tried again); the link's sub-interface for another VLAN or address
 * is a refusal.  Queues the making and returns 0, or -1 with a sentence
 * in 'why': table full, the VLAN taken by another link, a device of that
 * name that is not this agent's, the queue full. */
int agent_vlan_want(agent_vlan_t *self, const char *link, uint32_t vlan,
                    const char *cidr, uint32_t mtu, char *why, size_t size);

/* Link 'link' is gone: its sub-interface is removed (queued).  Nothing
 * if it has none. */
void agent_vlan_drop(agent_vlan_t *self, const char *link);

/* The state of link 'link''s sub-interface, its device name into 'dev'
 * (may be NULL) and, when FAILED, why (borrowed, valid until the next
 * call). */
enum agent_vlan_state agent_vlan_state(const agent_vlan_t *self,
                                       const char *link,
                                       char dev[IF_NAMESIZE],
                                       const char **error);

/* The device the fast path uses for circuit device 'dev': the NIC for
 * a macvlan stand-in of ours, else 'dev' itself (into 'out'). */
void agent_vlan_fast_dev(const agent_vlan_t *self, const char *dev,
                         char out[IF_NAMESIZE]);

/* The descriptor to poll, and what to call then and every 100 ms or so
 * (deadlines).  Never blocks. */
int agent_vlan_fd(const agent_vlan_t *self);
void agent_vlan_step(agent_vlan_t *self);

/* Steps until no run is left or 'max_ms' passed; true if none is.
 * Blocks: for tests. */
bool agent_vlan_wait(agent_vlan_t *self, uint32_t max_ms);

/* Sub-interfaces held (any state), and the counters. */
size_t agent_vlan_count(const agent_vlan_t *self);
const struct agent_vlan_stats *agent_vlan_stats(const agent_vlan_t *self);

/* The 'ip' runs' counters. */
const struct agent_jobs_stats *agent_vlan_jobs(const agent_vlan_t *self);

#endif /* AGENT_VLAN_H */
