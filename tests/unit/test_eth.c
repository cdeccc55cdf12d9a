/* SPDX-License-Identifier: MIT */
/* common/eth: MAC parsing, formatting, conversions and frame types. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "eth.h"

int
main(void)
{
    uint64_t mac;
    char buf[ETH_MAC_STRLEN];

    assert(eth_mac_parse("00:11:22:33:44:55", &mac));
    assert(mac == UINT64_C(0x001122334455));
    assert(!strcmp(eth_mac_format(mac, buf), "00:11:22:33:44:55"));
    assert(eth_mac_parse("AA-bb-CC-dd-EE-ff", &mac));
    assert(mac == UINT64_C(0xaabbccddeeff));
    assert(!strcmp(eth_mac_format(mac, buf), "aa:bb:cc:dd:ee:ff"));

    /* Strict: no short, long, mixed or non-hex forms. */
    assert(!eth_mac_parse("00:11:22:33:44", &mac));
    assert(!eth_mac_parse("00:11:22:33:44:55:66", &mac));
    assert(!eth_mac_parse("00:11:22-33:44:55", &mac));
    assert(!eth_mac_parse("00:11:22:33:44:5g", &mac));
    assert(!eth_mac_parse("0:11:22:33:44:555", &mac));
    assert(!eth_mac_parse("", &mac));
    assert(!eth_mac_parse(NULL, &mac));

    uint8_t b[ETH_ADDR_LEN];
    eth_mac_from_u64(UINT64_C(0x0a0b0c0d0e0f), b);
    assert(b[0] == 0x0a && b[5] == 0x0f);
    assert(eth_mac_to_u64(b) == UINT64_C(0x0a0b0c0d0e0f));

    assert(eth_mac_is_broadcast(ETH_MAC_BROADCAST));
    assert(eth_mac_is_multicast(ETH_MAC_BROADCAST));
    assert(eth_mac_is_multicast(UINT64_C(0x01005e000001)));
    assert(!eth_mac_is_multicast(UINT64_C(0x020000000001)));
    assert(!eth_mac_is_broadcast(UINT64_C(0x020000000001)));

    uint8_t frame[64] = { 0 };
    frame[12] = 0x08;
    frame[13] = 0x06;
    assert(eth_frame_type(frame, sizeof frame) == ETH_TYPE_ARP);
    assert(eth_frame_type(frame, 13) == -1);     /* runt */
    frame[12] = 0x81;                             /* 802.1Q, then IPv6 */
    frame[13] = 0x00;
    frame[16] = 0x86;
    frame[17] = 0xdd;
    assert(eth_frame_type(frame, sizeof frame) == ETH_TYPE_IPV6);
    assert(eth_frame_type(frame, 17) == -1);
    assert(sizeof(struct eth_hdr) == ETH_HDR_LEN);
    printf("test_eth: ok\n");
    return 0;
}
