/* SPDX-License-Identifier: MIT */
/* A local VM port: the host-side end of a VM's virtual NIC, where the agent
 * captures every frame the VM sends and injects the frames meant for it.
 * Two back ends behind one interface (struct port_class):
 *   - "afpacket" (Linux, the default): an AF_PACKET socket with
 *     PACKET_VNET_HDR, so GSO super-frames (up to 64 KiB with the VM's TSO
 *     on) come whole with their offload metadata and go back out whole for
 *     the kernel to segment; recvmmsg batches, PACKET_IGNORE_OUTGOING keeps
 *     our own injections out, PACKET_QDISC_BYPASS shortens injection.
 *   - "pcap": libpcap, promiscuous, immediate mode, a large ring buffer,
 *     inbound only.  Portable, but it sees super-frames without their
 *     metadata, so the VM's offloads must be off (vrbed --offloads off).
 * Used by the packet threads (agent_vm.c, agent_ovl.c); opened by the
 * control thread. */
#ifndef AGENT_PORT_H
#define AGENT_PORT_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent_encap.h"

/* One received frame, in a buffer owned by the port. */
struct port_frame {
    uint8_t *data;              /* the Ethernet frame */
    size_t size;                /* its length on the wire */
    size_t captured;            /* bytes at 'data': 'size' unless cut */
    bool cut;                   /* cut by agent_port_set_cut(): the
                                 * kernel carries it, we only count it */
    struct encap_vnet vnet;     /* offload metadata (afpacket) */
    bool has_vnet;              /* 'vnet' is meaningful */
};

enum { PORT_BURST = 32 };       /* frames per receive call */

typedef struct agent_port agent_port_t;

/* Opens the port on interface 'ifname' with back end 'backend' ("afpacket"
 * or "pcap"), with a kernel buffer of 'buf_size' bytes.  'bypass': inject
 * past the device's qdisc (afpacket), for a device that takes every
 * super-frame as it is (a veth); elsewhere (a tap whose reader asked for
 * no offloads) the kernel drops a super-frame sent that way instead of
 * segmenting it.  Returns NULL with the reason logged.  The caller owns
 * the result. */
agent_port_t *agent_port_open(const char *ifname, const char *backend,
                              size_t buf_size, bool bypass);

/* Closes '*self_p' if not NULL and sets it to NULL. */
void agent_port_close(agent_port_t **self_p);

/* The file descriptor to poll for input. */
int agent_port_fd(const agent_port_t *self);

const char *agent_port_name(const agent_port_t *self);

/* The interface's index when it was opened. */
int agent_port_ifindex(const agent_port_t *self);

/* Receives up to 'max' (<= PORT_BURST) frames without blocking.  Returns
 * how many; they stay valid until the next call.  Receiving thread only. */
size_t agent_port_recv(agent_port_t *self, struct port_frame *frames,
                       size_t max);

/* Injects one frame towards the VM.  'vnet' (may be NULL) is the frame's
 * offload metadata; a super-frame without it cannot be injected.  Returns
 * 0 or a positive errno (EAGAIN when the queue is full).  Any thread. */
int agent_port_send(agent_port_t *self, const uint8_t *frame, size_t size,
                    const struct encap_vnet *vnet);

/* Sets the capture cut: frames to one of the 'n' MACs in 'macs' come
 * with only their first AGENT_FAST_SNAP bytes and 'cut' set (the kernel's
 * fast path carries them).  n = 0 removes it.  afpacket only; returns 0
 * or -1 (logged).  Control thread. */
int agent_port_set_cut(agent_port_t *self, const uint64_t *macs, size_t n);

/* Builds the capture cut for 'n' MACs: a classic BPF program that accepts
 * frames to one of them with AGENT_FAST_SNAP bytes and all others whole.
 * Writes at most 'cap' instructions to 'out'; returns how many it needs
 * (more than 'cap': nothing usable was written). */
size_t agent_port_cut_bpf(const uint64_t *macs, size_t n,
                          struct sock_filter *out, size_t cap);

/* True if the back end carries offload metadata (super-frames whole). */
bool agent_port_has_vnet(const agent_port_t *self);

#endif /* AGENT_PORT_H */
