/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for vnet-agent/agent_encap.  Each input is decoded as
 * one datagram (accepted headers must re-encode to the same bytes, and
 * DATA chunks go to a reassembler), then read as a script of chunks that
 * the harness builds itself, so reassembly is reached even from random
 * bytes; a frame it completes must hold exactly the bytes that were sent.
 * The offload metadata of every decoded header goes through
 * encap_vnet_ok(), whose verdict is checked against the rules it states.
 * Build with -DVR_FUZZ=ON and clang; tests/fuzz/replay.c runs it on fixed
 * inputs in the ordinary build. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent_encap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    S_STEP = 8,                 /* bytes of script per chunk */
    S_MAX_STEPS = 256,          /* keeps one input fast */
    S_N_IDS = 16,               /* frame ids the script uses */
};

/* What frame 'id' holds at each position, made once.  A completed frame
 * built from chunks of different frames, or from chunks at the wrong
 * offsets, cannot match it. */
static uint8_t s_frames[S_N_IDS][ENCAP_MAX_FRAME + 2];

static void
s_make_frames(void)
{
    for (size_t id = 0; id < S_N_IDS; id++) {
        for (size_t pos = 0; pos < sizeof s_frames[id]; pos++) {
            s_frames[id][pos] = (uint8_t) (pos * 131 + pos / 251 + id * 17);
        }
    }
}

/* Feeds the script in 'data': each step picks a frame id, a frame length
 * and where the chunk starts and ends, mostly in ways that continue the
 * previous chunk, sometimes not. */
static void
s_run_script(struct encap_reasm *r, const uint8_t *data, size_t size)
{
    static uint8_t dgram[ENCAP_HDR_LEN + ENCAP_MAX_FRAME + 2];
    struct encap_hdr h = {
        .version = ENCAP_VERSION,
        .type = ENCAP_DATA,
        .hdr_len = ENCAP_HDR_LEN,
    };
    uint32_t prev_end = 0;

    if (size > S_MAX_STEPS * S_STEP) {
        size = S_MAX_STEPS * S_STEP;
    }
    for (; size >= S_STEP; data += S_STEP, size -= S_STEP) {
        uint8_t op = data[0];
        if (!(op & 0x04)) {
            h.frame_id = data[1] % S_N_IDS;
        }
        if (!(op & 0x08)) {
            h.frame_len = ((uint32_t) data[2] << 16 | (uint32_t) data[3] << 8
                           | data[4]) % (ENCAP_MAX_FRAME + 2);
        }
        switch (op & 0x03) {
        case 0:
            h.offset = 0;
            break;
        case 1:
            h.offset = prev_end;
            break;
        case 2:
            h.offset = prev_end - data[7] % 4;
            break;
        default:
            h.offset = (uint32_t) data[7] << 9;
            break;
        }
        size_t n = (size_t) data[5] << 8 | data[6];
        if (op & 0x10 && h.frame_len >= h.offset) {
            n = h.frame_len - h.offset;         /* finish the frame */
        }
        if (h.offset > ENCAP_MAX_FRAME + 1 || n > ENCAP_MAX_FRAME + 1
            || h.offset + n > ENCAP_MAX_FRAME + 1) {
            continue;
        }
        encap_encode(&h, dgram);
        memcpy(dgram + ENCAP_HDR_LEN, s_frames[h.frame_id] + h.offset, n);

        struct encap_hdr got;
        if (encap_decode(dgram, ENCAP_HDR_LEN + n, &got) != ENCAP_OK) {
            /* Only bounds can fail here: the rest is ours. */
            if (h.frame_len != 0 && h.frame_len <= ENCAP_MAX_FRAME
                && h.offset + n <= h.frame_len) {
                abort();
            }
            continue;
        }
        prev_end = h.offset + (uint32_t) n;
        const uint8_t *frame;
        size_t len;
        if (encap_reasm_add(r, &got, dgram + ENCAP_HDR_LEN, n, &frame,
                            &len) == 1
            && (len != got.frame_len
                || memcmp(frame, s_frames[got.frame_id], len) != 0)) {
            abort();
        }
    }
}

/* encap_vnet_ok() must accept only what its header comment allows: an
 * accepted set is checked here field by field, written differently. */
static void
s_check_vnet(const struct encap_vnet *v, size_t frame_len)
{
    if (!encap_vnet_ok(v, frame_len)) {
        return;
    }
    unsigned gso = v->gso_type & 0x7f;
    bool known = gso == 0 || gso == 1 || gso == 3 || gso == 4 || gso == 5;
    bool csum_in = !(v->flags & 1)
                   || (v->csum_start < frame_len
                       && v->csum_start + v->csum_offset + 2u <= frame_len);
    if ((v->flags & ~3u) || !known || !csum_in
        || (gso == 0 && (v->gso_size != 0 || v->gso_type != 0))
        || (gso != 0 && (v->gso_size == 0 || v->gso_size > frame_len))) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct encap_reasm r;
    if (!r.buf) {
        if (encap_reasm_init(&r) != 0) {
            return 0;
        }
        s_make_frames();
    }
    /* Each input starts clean, so a crash replays from its input alone. */
    r.busy = false;
    r.frame_id = 0;
    r.n_dropped = 0;

    struct encap_hdr h;
    enum encap_error e = encap_decode(data, size, &h);
    (void) encap_error_name(e);
    if (e == ENCAP_OK) {
        s_check_vnet(&h.vnet, h.frame_len);
        s_check_vnet(&h.vnet, size - h.hdr_len);
        uint8_t again[ENCAP_HDR_LEN];
        encap_encode(&h, again);
        if (memcmp(again, data, ENCAP_HDR_LEN) != 0 || h.hdr_len > size) {
            abort();
        }
        const uint8_t *frame;
        size_t len;
        /* With a clean reassembler only a one-chunk frame can complete,
         * and it must be handed back in place. */
        if (h.type == ENCAP_DATA
            && encap_reasm_add(&r, &h, data + h.hdr_len, size - h.hdr_len,
                               &frame, &len) == 1
            && (frame != data + h.hdr_len || len != h.frame_len)) {
            abort();
        }
    }

    r.busy = false;
    s_run_script(&r, data, size);
    return 0;
}
