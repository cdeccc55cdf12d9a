/* SPDX-License-Identifier: MIT */
/* The overlay's wire format: a fixed 24-byte header before each chunk of an
 * Ethernet frame carried between agents over UDP or TCP.  A frame larger
 * than a link's payload size (a GSO super-frame of up to 64 KiB, taken
 * whole from the VM's veth) is sent as several chunks and reassembled by
 * the receiver, so IP never fragments it.  The header also carries the
 * frame's virtio-net offload metadata (GSO type and size, checksum start
 * and offset), so the receiving agent can inject a super-frame whole and
 * let its kernel segment it.  Used by agent_link (send, receive). */
#ifndef AGENT_ENCAP_H
#define AGENT_ENCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    ENCAP_VERSION = 1,
    ENCAP_HDR_LEN = 24,
    /* The largest frame carried: a 64 KiB GSO super-frame, its Ethernet
     * and VLAN headers, and some slack. */
    ENCAP_MAX_FRAME = 65536 + 64,
};

/* Header 'type'. */
enum encap_type {
    ENCAP_DATA = 1,             /* a chunk of an Ethernet frame */
    ENCAP_PROBE = 2,            /* link probe; payload: opaque cookie */
    ENCAP_PROBE_REPLY = 3,      /* echo of a probe's payload */
    ENCAP_HELLO = 4,            /* "I am agent X, my VMs are ..."; payload:
                                 * agent id, NUL-terminated, then 6-byte
                                 * MACs; keeps the star alive */
};

/* Header 'flags'. */
enum {
    ENCAP_F_VNET = 0x01,        /* the vnet fields are meaningful */
};

/* Offload metadata, as in Linux's struct virtio_net_hdr (less hdr_len,
 * which the kernel recomputes). */
struct encap_vnet {
    uint8_t flags;              /* VIRTIO_NET_HDR_F_NEEDS_CSUM, ... */
    uint8_t gso_type;           /* VIRTIO_NET_HDR_GSO_NONE/TCPV4/TCPV6... */
    uint16_t gso_size;          /* segment payload size, 0 if no GSO */
    uint16_t csum_start;        /* where checksumming starts */
    uint16_t csum_offset;       /* where the checksum goes, from start */
};

/* A decoded header.  On the wire, in network byte order:
 *   0 version u8 | 1 type u8 | 2 flags u8 | 3 hdr_len u8 (24)
 *   4 frame_id u32 | 8 frame_len u32 | 12 offset u32
 *   16 vnet.flags u8 | 17 vnet.gso_type u8 | 18 vnet.gso_size u16
 *   20 vnet.csum_start u16 | 22 vnet.csum_offset u16 */
struct encap_hdr {
    uint8_t version;            /* ENCAP_VERSION */
    uint8_t type;               /* enum encap_type */
    uint8_t flags;              /* ENCAP_F_* */
    uint8_t hdr_len;            /* bytes before the payload, >= 24 */
    uint32_t frame_id;          /* sender's frame counter, per link */
    uint32_t frame_len;         /* whole frame's length in bytes */
    uint32_t offset;            /* this chunk's offset in the frame */
    struct encap_vnet vnet;     /* valid when flags & ENCAP_F_VNET */
};

/* The values of struct encap_vnet's fields the wire knows (as Linux's
 * virtio_net.h has them). */
enum {
    ENCAP_VNET_F_NEEDS_CSUM = 0x01,     /* checksum at csum_start/offset */
    ENCAP_VNET_F_DATA_VALID = 0x02,     /* checksum already checked */
    ENCAP_VNET_GSO_NONE = 0,
    ENCAP_VNET_GSO_TCPV4 = 1,
    ENCAP_VNET_GSO_UDP = 3,
    ENCAP_VNET_GSO_TCPV6 = 4,
    ENCAP_VNET_GSO_UDP_L4 = 5,
    ENCAP_VNET_GSO_ECN = 0x80,          /* may be or'ed to a GSO type */
};

/* Checks offload metadata 'v' that came with a frame of 'frame_len' bytes
 * from the wire, before the kernel sees it: flags and GSO type known; a
 * GSO frame's segment size non-zero and within the frame, a plain frame's
 * 0; a checksum to fill in starting inside the frame and ending (start,
 * offset and its 2 bytes) within it.  True if it may be injected.  Pure. */
bool encap_vnet_ok(const struct encap_vnet *v, size_t frame_len);

/* Writes 'h' into the first ENCAP_HDR_LEN bytes of 'buf'. */
void encap_encode(const struct encap_hdr *h, uint8_t *buf);

/* Why a datagram or chunk was refused. */
enum encap_error {
    ENCAP_OK = 0,
    ENCAP_ERR_SHORT,            /* fewer bytes than a header */
    ENCAP_ERR_VERSION,          /* not our version */
    ENCAP_ERR_TYPE,             /* unknown type */
    ENCAP_ERR_HDR_LEN,          /* hdr_len < 24 or beyond the datagram */
    ENCAP_ERR_BOUNDS,           /* frame_len 0 or too large, or the chunk
                                 * runs past frame_len */
};

/* Decodes the header at the start of 'buf' ('size' bytes: header and
 * payload) into '*h' and checks it: version, type, hdr_len, and for DATA
 * that 0 < frame_len <= ENCAP_MAX_FRAME and offset + payload <= frame_len.
 * Returns ENCAP_OK, or why the datagram must be dropped. */
enum encap_error encap_decode(const uint8_t *buf, size_t size,
                              struct encap_hdr *h);

/* Returns a static name for 'e' ("short", "version"...). */
const char *encap_error_name(enum encap_error e);

/* Reassembly of one peer's chunked frames.  Chunks of a frame must arrive
 * in order (one path, as UDP on one link nearly always is); anything else
 * drops the frame being built, counted, and the next frame starts clean.
 * Embedded in a link; no allocation after encap_reasm_init(). */
struct encap_reasm {
    uint8_t *buf;               /* ENCAP_MAX_FRAME bytes */
    uint32_t frame_id;          /* frame being built */
    uint32_t frame_len;         /* its length */
    uint32_t have;              /* bytes received so far */
    bool busy;                  /* a frame is being built */
    uint64_t n_dropped;         /* frames dropped: gaps, new id, bad */
};

/* Allocates the reassembly buffer; returns 0 or -1 (out of memory). */
int encap_reasm_init(struct encap_reasm *r);

/* Frees the buffer. */
void encap_reasm_uninit(struct encap_reasm *r);

/* Adds a DATA chunk: header 'h' (already decoded) and its 'n' payload
 * bytes.  Returns 1 when the frame is complete, with '*frame' and
 * '*frame_len' pointing at it: straight at 'payload' when the frame came
 * in one chunk (no copy), else at the reassembly buffer (valid until the
 * next call).  Returns 0 when more chunks are needed, -1 when the chunk
 * was dropped (counted in n_dropped when it cost a frame). */
int encap_reasm_add(struct encap_reasm *r, const struct encap_hdr *h,
                    const uint8_t *payload, size_t n,
                    const uint8_t **frame, size_t *frame_len);

/* Number of chunks a frame of 'frame_len' bytes needs when each datagram
 * may carry 'max_payload' bytes after the header. */
static inline size_t
encap_n_chunks(size_t frame_len, size_t max_payload)
{
    return frame_len == 0 ? 1 : (frame_len + max_payload - 1) / max_payload;
}

#endif /* AGENT_ENCAP_H */
