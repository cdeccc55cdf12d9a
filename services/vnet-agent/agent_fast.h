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
 * change but never lost.  tc runs as jobs of a queue (agent_jobs) the
 * control thread's loop drives: nothing waits for it, a hung run is
 * killed at its deadline, and a change is over when its last run ended.
 * Control thread only.
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

struct agent_jobs_stats;

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

/* Called between the additions and the removals of a change to set the
 * capture cut of port device 'dev' to the 'n' MACs in 'macs' (frames to
 * them are carried by the kernel).  Returns 0 or -1. */
typedef int agent_fast_cut_fn(const char *dev, const uint64_t *macs,
                              size_t n, void *arg);

/* Told that a change is over (agent_fast_done_gen() says which); may
 * start the next. */
typedef void agent_fast_done_fn(void *arg);

/* tc runs queued at most; a change that needs more leaves the rest to
 * its retry. */
enum { AGENT_FAST_JOBS = 4096 };

/* Uses program 'tc' (an absolute path: agent_fast_tc_ok()), each run of
 * it killed after 'timeout_ms'.  NULL when out of memory. */
agent_fast_t *agent_fast_new(const char *tc, uint32_t timeout_ms);

/* Says when a change is over: 'fn' with 'arg'. */
void agent_fast_on_done(agent_fast_t *self, agent_fast_done_fn *fn,
                        void *arg);

/* Kills a tc run under way, removes every clsact qdisc it made (with
 * whatever was on them; this waits, a few seconds at most: for exit
 * only) and frees '*self_p'; sets it to NULL. */
void agent_fast_destroy(agent_fast_t **self_p);

/* Starts a change making the installed filters those of 'want' ('n_want'
 * of them; 'prio' is ignored), calling 'cut' for every port device
 * 'ports' names ('n_ports') between the additions and the removals, and
 * tagged 'gen'.  Never waits: the tc runs are queued, and the change is
 * over when the last has ended (agent_fast_on_done).  A filter tc
 * refuses is left out and logged, and tried again at the next change
 * after a pause.  Returns 0, or -1 if a change is under way (start
 * another once it is over) or out of memory. */
int agent_fast_apply(agent_fast_t *self, const struct fast_filter *want,
                     size_t n_want, const char *const *ports, size_t n_ports,
                     agent_fast_cut_fn *cut, void *arg, uint64_t gen);

/* Whether a change is under way; the tag of the last one over; what it
 * could not do (filters not added or not removed). */
bool agent_fast_busy(const agent_fast_t *self);
uint64_t agent_fast_done_gen(const agent_fast_t *self);
size_t agent_fast_failed(const agent_fast_t *self);

/* True if the last change left something undone and its retry pause is
 * over. */
bool agent_fast_retry_due(const agent_fast_t *self);

/* True if tc could not set up a VM port (agent_fast_reset_dev): the fast
 * path cannot work. */
bool agent_fast_broken(const agent_fast_t *self);

/* The descriptor to poll (readable when a tc run has news), and what to
 * call then, and every 100 ms or so (timeouts).  Never blocks. */
int agent_fast_fd(const agent_fast_t *self);
void agent_fast_step(agent_fast_t *self);

/* Steps until no tc run is left or 'max_ms' passed; true if none is.
 * Blocks: for tests. */
bool agent_fast_wait(agent_fast_t *self, uint32_t max_ms);

/* The tc runs' counters, and the runs queued (the running one too). */
const struct agent_jobs_stats *agent_fast_jobs(const agent_fast_t *self);
size_t agent_fast_pending(const agent_fast_t *self);

/* The fast path's state at device 'dev' (a circuit's): PENDING while a
 * filter from or to it is being added, FAILED if tc refused one in the
 * last change's additions, else UP. */
enum agent_fast_state {
    AGENT_FAST_UP,
    AGENT_FAST_PENDING,
    AGENT_FAST_FAILED,
};
enum agent_fast_state agent_fast_dev_state(const agent_fast_t *self,
                                           const char *dev);

/* Filters installed now. */
size_t agent_fast_count(const agent_fast_t *self);

/* Queues the removal of the clsact qdisc of VM port 'dev' (and the
 * filters on it, a previous run's included) and the making of a fresh
 * one; if tc cannot make it, agent_fast_broken() says so (logged).
 * Returns 0 or -1 (queue full, out of memory). */
int agent_fast_reset_dev(agent_fast_t *self, const char *dev);

/* Whether 'path' may be run as tc: an absolute path to a regular file
 * that is executable, owned by root and writable by nobody else, in a
 * directory nobody else may write to (sticky ones aside).  False with
 * the reason in 'why'. */
bool agent_fast_tc_ok(const char *path, char *why, size_t size);

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
