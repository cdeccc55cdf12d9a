/* SPDX-License-Identifier: MIT */
/* vnet-agent/agent_encap: header round trip and byte order, every decode
 * error, reassembly of chunked frames (in order, gaps, new frames,
 * duplicates), and the check of offload metadata from the wire. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_encap.h"

enum { BIG = 65536 };

static uint8_t s_frame[BIG];            /* the frame being sent */
static uint8_t s_dgram[ENCAP_HDR_LEN + BIG];

/* Builds the datagram for bytes ['offset', 'offset' + 'n') of a frame of
 * 'frame_len' bytes from s_frame, decodes it as a receiver would, and
 * hands the chunk to 'r'. */
static int
s_send(struct encap_reasm *r, uint32_t id, uint32_t frame_len,
       uint32_t offset, size_t n, const uint8_t **frame, size_t *len)
{
    struct encap_hdr h = {
        .version = ENCAP_VERSION,
        .type = ENCAP_DATA,
        .hdr_len = ENCAP_HDR_LEN,
        .frame_id = id,
        .frame_len = frame_len,
        .offset = offset,
    };
    encap_encode(&h, s_dgram);
    memcpy(s_dgram + ENCAP_HDR_LEN, s_frame + offset, n);

    struct encap_hdr got;
    assert(encap_decode(s_dgram, ENCAP_HDR_LEN + n, &got) == ENCAP_OK);
    return encap_reasm_add(r, &got, s_dgram + got.hdr_len, n, frame, len);
}

/* Offload metadata: what a capture gives is taken, anything the kernel
 * could misread is refused. */
static void
test_vnet_ok(void)
{
    /* No offload at all; a checksum already checked. */
    struct encap_vnet v = { 0 };
    assert(encap_vnet_ok(&v, 60));
    v.flags = ENCAP_VNET_F_DATA_VALID;
    assert(encap_vnet_ok(&v, 60));

    /* A TCP super-frame: checksum at 34 + 16 within the frame. */
    struct encap_vnet tso = {
        .flags = ENCAP_VNET_F_NEEDS_CSUM,
        .gso_type = ENCAP_VNET_GSO_TCPV4,
        .gso_size = 1448,
        .csum_start = 34,
        .csum_offset = 16,
    };
    assert(encap_vnet_ok(&tso, 65000));
    v = tso;
    v.gso_type = ENCAP_VNET_GSO_TCPV6 | ENCAP_VNET_GSO_ECN;
    assert(encap_vnet_ok(&v, 65000));
    v.gso_type = ENCAP_VNET_GSO_UDP_L4;
    v.csum_offset = 6;
    assert(encap_vnet_ok(&v, 65000));

    /* Unknown flags and GSO types. */
    v = tso;
    v.flags |= 0x04;
    assert(!encap_vnet_ok(&v, 65000));
    v = tso;
    v.gso_type = 2;
    assert(!encap_vnet_ok(&v, 65000));
    v.gso_type = 6;
    assert(!encap_vnet_ok(&v, 65000));
    v.gso_type = 0x7f;
    assert(!encap_vnet_ok(&v, 65000));

    /* GSO size: 0 with GSO, anything without, more than the frame. */
    v = tso;
    v.gso_size = 0;
    assert(!encap_vnet_ok(&v, 65000));
    v = tso;
    assert(encap_vnet_ok(&v, 1448));
    assert(!encap_vnet_ok(&v, 1447));
    v = (struct encap_vnet) { .gso_size = 1448 };
    assert(!encap_vnet_ok(&v, 65000));
    v = (struct encap_vnet) { .gso_type = ENCAP_VNET_GSO_ECN };
    assert(!encap_vnet_ok(&v, 65000));      /* ECN without GSO */

    /* Checksum start and its 2 bytes inside the frame. */
    v = tso;
    v.gso_type = ENCAP_VNET_GSO_NONE;
    v.gso_size = 0;
    assert(encap_vnet_ok(&v, 52));          /* 34 + 16 + 2 = 52 */
    assert(!encap_vnet_ok(&v, 51));
    v.csum_start = 0xffff;
    v.csum_offset = 0xffff;
    assert(!encap_vnet_ok(&v, 65000));      /* no overflow either */
    v.csum_start = 100;
    v.csum_offset = 0;
    assert(!encap_vnet_ok(&v, 100));
    /* Offsets are not looked at when no checksum is asked for. */
    v = (struct encap_vnet) { .csum_start = 0xffff, .csum_offset = 0xffff };
    assert(encap_vnet_ok(&v, 60));
}

int
main(void)
{
    test_vnet_ok();
    /* Round trip: every field, with distinct bytes to catch swaps. */
    struct encap_hdr h = {
        .version = ENCAP_VERSION,
        .type = ENCAP_DATA,
        .flags = ENCAP_F_VNET,
        .hdr_len = ENCAP_HDR_LEN,
        .frame_id = 0x01020304,
        .frame_len = 0x00010040,        /* ENCAP_MAX_FRAME */
        .offset = 0x00010000,
        .vnet = {
            .flags = 0xa1,
            .gso_type = 0xb2,
            .gso_size = 0xc3d4,
            .csum_start = 0xe5f6,
            .csum_offset = 0x1728,
        },
    };
    uint8_t buf[ENCAP_HDR_LEN + 64] = { 0 };
    encap_encode(&h, buf);
    static const uint8_t wire[ENCAP_HDR_LEN] = {
        0x01, 0x01, 0x01, 0x18,
        0x01, 0x02, 0x03, 0x04,
        0x00, 0x01, 0x00, 0x40,
        0x00, 0x01, 0x00, 0x00,
        0xa1, 0xb2, 0xc3, 0xd4,
        0xe5, 0xf6, 0x17, 0x28,
    };
    assert(!memcmp(buf, wire, sizeof wire));    /* network byte order */

    struct encap_hdr d;
    assert(encap_decode(buf, ENCAP_HDR_LEN + 64, &d) == ENCAP_OK);
    assert(d.version == h.version && d.type == h.type);
    assert(d.flags == h.flags && d.hdr_len == h.hdr_len);
    assert(d.frame_id == h.frame_id && d.frame_len == h.frame_len);
    assert(d.offset == h.offset);
    assert(d.vnet.flags == h.vnet.flags);
    assert(d.vnet.gso_type == h.vnet.gso_type);
    assert(d.vnet.gso_size == h.vnet.gso_size);
    assert(d.vnet.csum_start == h.vnet.csum_start);
    assert(d.vnet.csum_offset == h.vnet.csum_offset);

    /* The header may start anywhere: nothing assumes alignment. */
    uint8_t odd[1 + ENCAP_HDR_LEN];
    encap_encode(&h, odd + 1);
    assert(encap_decode(odd + 1, ENCAP_HDR_LEN, &d) == ENCAP_OK);
    assert(d.frame_id == h.frame_id && d.vnet.gso_size == 0xc3d4);

    /* Decode errors, each on its own. */
    encap_encode(&h, buf);
    assert(encap_decode(buf, ENCAP_HDR_LEN - 1, &d) == ENCAP_ERR_SHORT);
    assert(encap_decode(buf, 0, &d) == ENCAP_ERR_SHORT);
    buf[0] = 2;
    assert(encap_decode(buf, sizeof buf, &d) == ENCAP_ERR_VERSION);
    buf[0] = 0;
    assert(encap_decode(buf, sizeof buf, &d) == ENCAP_ERR_VERSION);
    buf[0] = ENCAP_VERSION;
    buf[1] = 0;
    assert(encap_decode(buf, sizeof buf, &d) == ENCAP_ERR_TYPE);
    buf[1] = ENCAP_HELLO + 1;
    assert(encap_decode(buf, sizeof buf, &d) == ENCAP_ERR_TYPE);
    buf[1] = ENCAP_DATA;
    buf[3] = ENCAP_HDR_LEN - 1;
    assert(encap_decode(buf, sizeof buf, &d) == ENCAP_ERR_HDR_LEN);
    buf[3] = ENCAP_HDR_LEN + 1;         /* past the datagram's end */
    assert(encap_decode(buf, ENCAP_HDR_LEN, &d) == ENCAP_ERR_HDR_LEN);
    buf[3] = ENCAP_HDR_LEN + 8;         /* longer header: skipped */
    assert(encap_decode(buf, ENCAP_HDR_LEN + 8, &d) == ENCAP_OK);
    assert(d.hdr_len == ENCAP_HDR_LEN + 8);

    /* Bounds, for DATA. */
    h.frame_len = 100;
    h.offset = 40;
    encap_encode(&h, buf);
    assert(encap_decode(buf, ENCAP_HDR_LEN + 60, &d) == ENCAP_OK);
    assert(encap_decode(buf, ENCAP_HDR_LEN + 61, &d) == ENCAP_ERR_BOUNDS);
    h.frame_len = 0;
    h.offset = 0;
    encap_encode(&h, buf);
    assert(encap_decode(buf, ENCAP_HDR_LEN, &d) == ENCAP_ERR_BOUNDS);
    h.frame_len = ENCAP_MAX_FRAME + 1;
    encap_encode(&h, buf);
    assert(encap_decode(buf, ENCAP_HDR_LEN + 1, &d) == ENCAP_ERR_BOUNDS);
    h.frame_len = ENCAP_MAX_FRAME;
    h.offset = 0xffffffff;              /* offset + payload must not wrap */
    encap_encode(&h, buf);
    assert(encap_decode(buf, ENCAP_HDR_LEN + 1, &d) == ENCAP_ERR_BOUNDS);

    /* Probes and hellos: opaque payload, no frame fields. */
    struct encap_hdr probe = {
        .version = ENCAP_VERSION,
        .type = ENCAP_PROBE,
        .hdr_len = ENCAP_HDR_LEN,
    };
    encap_encode(&probe, buf);
    assert(encap_decode(buf, ENCAP_HDR_LEN + 8, &d) == ENCAP_OK);
    assert(d.type == ENCAP_PROBE && d.frame_len == 0);
    probe.type = ENCAP_HELLO;
    probe.offset = 0xffffffff;
    encap_encode(&probe, buf);
    assert(encap_decode(buf, ENCAP_HDR_LEN + 20, &d) == ENCAP_OK);
    probe.type = ENCAP_PROBE_REPLY;
    probe.hdr_len = 8;                  /* but hdr_len is still checked */
    encap_encode(&probe, buf);
    assert(encap_decode(buf, ENCAP_HDR_LEN, &d) == ENCAP_ERR_HDR_LEN);

    assert(!strcmp(encap_error_name(ENCAP_OK), "ok"));
    assert(!strcmp(encap_error_name(ENCAP_ERR_SHORT), "short"));
    assert(!strcmp(encap_error_name(ENCAP_ERR_VERSION), "version"));
    assert(!strcmp(encap_error_name(ENCAP_ERR_TYPE), "type"));
    assert(!strcmp(encap_error_name(ENCAP_ERR_HDR_LEN), "hdr_len"));
    assert(!strcmp(encap_error_name(ENCAP_ERR_BOUNDS), "bounds"));
    assert(!strcmp(encap_error_name((enum encap_error) 99), "unknown"));

    assert(encap_n_chunks(0, 1400) == 1);
    assert(encap_n_chunks(1400, 1400) == 1);
    assert(encap_n_chunks(1401, 1400) == 2);
    assert(encap_n_chunks(BIG, 1400) == 47);

    /* Reassembly. */
    for (size_t i = 0; i < BIG; i++) {
        s_frame[i] = (uint8_t) (i * 7 + i / 256);
    }
    struct encap_reasm r;
    assert(encap_reasm_init(&r) == 0);
    const uint8_t *frame;
    size_t len;

    /* One chunk: handed back in place, no copy. */
    assert(s_send(&r, 1, 1500, 0, 1500, &frame, &len) == 1);
    assert(frame == s_dgram + ENCAP_HDR_LEN && len == 1500);
    assert(!r.busy && r.n_dropped == 0);

    /* A 64 KiB super-frame in three chunks. */
    assert(s_send(&r, 2, BIG, 0, 30000, &frame, &len) == 0);
    assert(s_send(&r, 2, BIG, 30000, 30000, &frame, &len) == 0);
    assert(s_send(&r, 2, BIG, 60000, BIG - 60000, &frame, &len) == 1);
    assert(frame == r.buf && len == BIG);
    assert(!memcmp(frame, s_frame, BIG));
    assert(r.n_dropped == 0);

    /* The middle chunk is lost: the frame is dropped, once, and its last
     * chunk goes too; the next frame is whole. */
    assert(s_send(&r, 3, BIG, 0, 30000, &frame, &len) == 0);
    assert(s_send(&r, 3, BIG, 60000, BIG - 60000, &frame, &len) == -1);
    assert(r.n_dropped == 1 && !r.busy);
    assert(s_send(&r, 4, 3000, 0, 1500, &frame, &len) == 0);
    assert(s_send(&r, 4, 3000, 1500, 1500, &frame, &len) == 1);
    assert(len == 3000 && !memcmp(frame, s_frame, 3000));
    assert(r.n_dropped == 1);

    /* A new frame starts before the current one is complete. */
    assert(s_send(&r, 5, 3000, 0, 1500, &frame, &len) == 0);
    assert(s_send(&r, 6, 3000, 0, 1500, &frame, &len) == 0);
    assert(r.n_dropped == 2);
    assert(s_send(&r, 5, 3000, 1500, 1500, &frame, &len) == -1);
    assert(r.n_dropped == 2 && r.busy); /* a late leftover: skipped */
    assert(s_send(&r, 6, 3000, 1500, 1500, &frame, &len) == 1);
    assert(len == 3000 && !memcmp(frame, s_frame, 3000));

    /* Or a one-chunk frame does: same rule. */
    assert(s_send(&r, 7, 3000, 0, 1500, &frame, &len) == 0);
    assert(s_send(&r, 8, 100, 0, 100, &frame, &len) == 1);
    assert(frame == s_dgram + ENCAP_HDR_LEN && r.n_dropped == 3);

    /* A duplicate chunk is skipped alone; the frame survives.  A
     * duplicate of a finished frame's last chunk is a leftover. */
    assert(s_send(&r, 9, 4500, 0, 1500, &frame, &len) == 0);
    assert(s_send(&r, 9, 4500, 1500, 1500, &frame, &len) == 0);
    assert(s_send(&r, 9, 4500, 1500, 1500, &frame, &len) == -1);
    assert(s_send(&r, 9, 4500, 0, 1500, &frame, &len) == -1);
    assert(r.busy && r.n_dropped == 3);
    assert(s_send(&r, 9, 4500, 3000, 1500, &frame, &len) == 1);
    assert(len == 4500 && !memcmp(frame, s_frame, 4500));
    assert(s_send(&r, 9, 4500, 3000, 1500, &frame, &len) == -1);
    assert(r.n_dropped == 3);

    /* A chunk overlapping what we have, or a frame_len that changed. */
    assert(s_send(&r, 10, 4500, 0, 1500, &frame, &len) == 0);
    assert(s_send(&r, 10, 4500, 1000, 1500, &frame, &len) == -1);
    assert(r.n_dropped == 4 && !r.busy);
    assert(s_send(&r, 11, 4500, 0, 1500, &frame, &len) == 0);
    assert(s_send(&r, 11, 4000, 1500, 1500, &frame, &len) == -1);
    assert(r.n_dropped == 5 && !r.busy);

    /* A frame whose first chunk never came: counted once. */
    assert(s_send(&r, 12, 4500, 1500, 1500, &frame, &len) == -1);
    assert(s_send(&r, 12, 4500, 3000, 1500, &frame, &len) == -1);
    assert(r.n_dropped == 6);

    /* reasm_add checks bounds itself, whatever the caller decoded. */
    struct encap_hdr bad = {
        .version = ENCAP_VERSION,
        .type = ENCAP_DATA,
        .hdr_len = ENCAP_HDR_LEN,
        .frame_id = 13,
        .frame_len = 100,
    };
    assert(encap_reasm_add(&r, &bad, s_frame, 101, &frame, &len) == -1);
    bad.frame_len = ENCAP_MAX_FRAME + 1;
    assert(encap_reasm_add(&r, &bad, s_frame, 10, &frame, &len) == -1);
    assert(!r.busy);

    encap_reasm_uninit(&r);
    assert(r.buf == NULL);
    encap_reasm_uninit(&r);             /* twice is harmless */
    printf("test_agent_encap: ok\n");
    return 0;
}
