/* SPDX-License-Identifier: MIT */
/* MAC parsing and formatting.  The parser is strict (exactly six pairs of
 * hex digits) because addresses come from YAML, the CLI and the bus. */
#include "eth.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int
s_hex(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

bool
eth_mac_parse(const char *s, uint64_t *mac)
{
    uint64_t v = 0;
    char sep = 0;

    if (!s || strlen(s) != ETH_MAC_STRLEN - 1) {
        return false;
    }
    for (int i = 0; i < ETH_ADDR_LEN; i++) {
        const char *p = s + i * 3;
        int hi = s_hex((unsigned char) p[0]);
        int lo = s_hex((unsigned char) p[1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        if (i < ETH_ADDR_LEN - 1) {
            if (p[2] != ':' && p[2] != '-') {
                return false;
            }
            if (sep && p[2] != sep) {
                return false;   /* mixed separators: a typo, not a MAC */
            }
            sep = p[2];
        }
        v = v << 8 | (uint64_t) (hi << 4 | lo);
    }
    *mac = v;
    return true;
}

char *
eth_mac_format(uint64_t mac, char buf[ETH_MAC_STRLEN])
{
    uint8_t b[ETH_ADDR_LEN];
    eth_mac_from_u64(mac, b);
    snprintf(buf, ETH_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", b[0],
             b[1], b[2], b[3], b[4], b[5]);
    return buf;
}

int
eth_frame_type(const uint8_t *frame, size_t size)
{
    uint16_t type;
    if (!frame || size < ETH_HDR_LEN) {
        return -1;
    }
    memcpy(&type, frame + 12, sizeof type);
    type = ntohs(type);
    if (type == ETH_TYPE_VLAN) {
        if (size < ETH_VLAN_HDR_LEN) {
            return -1;
        }
        memcpy(&type, frame + 16, sizeof type);
        type = ntohs(type);
    }
    return type;
}
