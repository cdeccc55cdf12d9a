/* SPDX-License-Identifier: MIT */
/* The fast path: known unicast frames that need no overlay header are
 * forwarded by the kernel instead of through the agent's threads: frames
 * between two local VMs, and frames for a VM behind a circuit (a reserved
 * path directly attached to this host, marked by the planner), which
 * cross it raw.  A tc u32 filter on the ingress of each VM port sends
 * frames with a given destination MAC out of the other VM's port or the
 * circuit's device; on the receiving host a filter on the circuit
 * device's ingress sends frames for each local VM to its port.  Broadcast,
 * unknown destinations, and everything over UDP or TCP links stay in the
 * agent.  The agent keeps
 * seeing every such frame, but only its first AGENT_FAST_SNAP bytes (a
 * classic BPF filter on the capture socket cuts it), so accounting and
 * learning go on unchanged and the agent never forwards it twice.
 *
 * The control thread states the filters it wants (agent_fast_apply); the
 * module installs and removes them with tc in make-before-break order:
 * receiving filters, then sending filters, then the capture cut, and
 * removals the other way round, so a frame may be carried twice during a
 * change but never lost.  Control thread only.
 *
 * What the agent wants (agent_fast_sync, declared in agent_priv.h) is
 * worked out here too, from its forwarding table, links and ports. */
#ifndef AGENT_FAST_H
#define AGENT_FAST_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a fast-path frame the agent still captures: the Ethernet
 * header, all that accounting and learning read.  Every real frame is
 * longer, so a cut frame is always told apart by its length: a frame
 * that came whole must be forwarded, a cut one never (a small frame, an
 * ACK, left whole by a longer cut would be carried twice). */
enum { AGENT_FAST_SNAP = 14 };

/* One filter: on the ingress of 'dev', frames to 'mac' are redirected out
 * of 'to'.  'egress' marks a filter on a VM port (frames leaving this host
 * over a circuit); the others sit on circuit devices. */
struct fast_filter {
    char dev[IF_NAMESIZE];
    char to[IF_NAMESIZE];
    uint64_t mac;
    bool egress;
    uint16_t prio;              /* tc priority on 'dev' (installed ones) */
};

typedef struct agent_fast agent_fast_t;

/* Called between the additions and the removals of agent_fast_apply() to
 * set the capture cut of port device 'dev' to the 'n' MACs in 'macs'
 * (frames to them are carried by the kernel).  Returns 0 or -1. */
typedef int agent_fast_cut_fn(const char *dev, const uint64_t *macs,
                              size_t n, void *arg);

/* Uses program 'tc' (a path, or a name looked up in PATH).  NULL when out
 * of memory. */
agent_fast_t *agent_fast_new(const char *tc);

/* Removes every filter installed (the clsact qdiscs it added go, with
 * whatever else was on them) and frees '*self_p'; sets it to NULL. */
void agent_fast_destroy(agent_fast_t **self_p);

/* Makes the installed filters those of 'want' ('n_want' of them; 'prio'
 * is ignored), calling 'cut' for every port device 'ports' names ('n_ports')
 * between the additions and the removals.  A filter tc refuses is left
 * out and logged, and tried again at the next call after a pause.  Returns
 * the number of filters that could not be added or removed. */
size_t agent_fast_apply(agent_fast_t *self, const struct fast_filter *want,
                        size_t n_want, const char *const *ports,
                        size_t n_ports, agent_fast_cut_fn *cut, void *arg);

/* True if the last agent_fast_apply() left something undone and its
 * retry pause is over. */
bool agent_fast_retry_due(const agent_fast_t *self);

/* Filters installed now. */
size_t agent_fast_count(const agent_fast_t *self);

/* Removes the clsact qdisc of 'dev' (and the filters on it, a previous
 * run's included) and adds a fresh one.  Returns 0 or -1 (logged). */
int agent_fast_reset_dev(agent_fast_t *self, const char *dev);

/* The tc words that add 'f' (at its 'prio') or delete it, into 'argv'
 * (at least AGENT_FAST_ARGV entries, NULL-terminated), using 'buf' (at
 * least AGENT_FAST_BUF bytes) for the numbers.  Pure: for tests. */
enum { AGENT_FAST_ARGV = 32, AGENT_FAST_BUF = 128 };
void agent_fast_argv_add(const char *tc, const struct fast_filter *f,
                         const char **argv, char *buf);
void agent_fast_argv_del(const char *tc, const struct fast_filter *f,
                         const char **argv, char *buf);

/* The device of this host through which 'peer' is directly reachable (on
 * the same subnet as one of the device's addresses, as the route to it
 * says), into 'dev'.  Returns true if there is one. */
bool agent_fast_circuit_dev(const struct sockaddr_in *peer,
                            char dev[IF_NAMESIZE]);

#endif /* AGENT_FAST_H */
