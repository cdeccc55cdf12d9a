/* SPDX-License-Identifier: MIT */
/* Ethernet helpers: MAC addresses as 6 bytes or as the low 48 bits of a
 * uint64 (the form they take on the bus, see proto/agent.proto), parsing
 * and formatting, and the frame header. */
#ifndef VR_ETH_H
#define VR_ETH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    ETH_ADDR_LEN = 6,
    ETH_HDR_LEN = 14,
    ETH_VLAN_HDR_LEN = 18,
    ETH_MIN_FRAME = 14,         /* a header and no payload */
    ETH_MAC_STRLEN = 18,        /* "00:11:22:33:44:55" and NUL */
};

enum {
    ETH_TYPE_IPV4 = 0x0800,
    ETH_TYPE_ARP = 0x0806,
    ETH_TYPE_VLAN = 0x8100,
    ETH_TYPE_IPV6 = 0x86dd,
};

#define ETH_MAC_BROADCAST UINT64_C(0xffffffffffff)

/* The largest 802.1Q VLAN id (4095 is reserved). */
#define ETH_VLAN_ID_MAX 4094

/* Whether a circuit's VLANs are usable as a pair: 'vlan' at one end and
 * 'vlan_b' at the other when they differ (0: 'vlan' at both), each 0 to
 * ETH_VLAN_ID_MAX, and the second only with the first. */
static inline bool
eth_vlan_pair_ok(uint32_t vlan, uint32_t vlan_b)
{
    return vlan <= ETH_VLAN_ID_MAX && vlan_b <= ETH_VLAN_ID_MAX
           && (!vlan_b || vlan);
}

struct eth_hdr {
    uint8_t dst[ETH_ADDR_LEN];  /* destination MAC */
    uint8_t src[ETH_ADDR_LEN];  /* source MAC */
    uint16_t type;              /* EtherType, network byte order */
} __attribute__((packed));

/* Converts between the 6-byte and the uint64 forms. */
static inline uint64_t
eth_mac_to_u64(const uint8_t mac[ETH_ADDR_LEN])
{
    return (uint64_t) mac[0] << 40 | (uint64_t) mac[1] << 32
           | (uint64_t) mac[2] << 24 | (uint64_t) mac[3] << 16
           | (uint64_t) mac[4] << 8 | (uint64_t) mac[5];
}

static inline void
eth_mac_from_u64(uint64_t v, uint8_t mac[ETH_ADDR_LEN])
{
    for (int i = ETH_ADDR_LEN - 1; i >= 0; i--) {
        mac[i] = (uint8_t) (v & 0xff);
        v >>= 8;
    }
}

/* True for the broadcast address and for group (multicast) addresses. */
static inline bool
eth_mac_is_multicast(uint64_t mac)
{
    return (mac >> 40) & 1;
}

static inline bool
eth_mac_is_broadcast(uint64_t mac)
{
    return mac == ETH_MAC_BROADCAST;
}

/* Parses "00:11:22:33:44:55" (also '-' separated, any case) into '*mac';
 * returns true if 's' is exactly such an address. */
bool eth_mac_parse(const char *s, uint64_t *mac);

/* Formats 'mac' into 'buf' (ETH_MAC_STRLEN bytes); returns 'buf'. */
char *eth_mac_format(uint64_t mac, char buf[ETH_MAC_STRLEN]);

/* Returns the EtherType of 'frame' (host byte order), looking through one
 * 802.1Q tag, or -1 if 'size' is too short for the header. */
int eth_frame_type(const uint8_t *frame, size_t size);

#endif /* VR_ETH_H */
