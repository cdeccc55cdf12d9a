/* SPDX-License-Identifier: MIT */
/* The overlay header: encoding, checking and chunk reassembly.  Every field
 * is copied with memcpy and converted with htons/htonl, so any buffer
 * alignment works.  agent_link calls this for each datagram it sends or
 * receives; nothing here allocates after encap_reasm_init(). */
#include "agent_encap.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdlib.h>
#include <string.h>

static void
s_put16(uint8_t *p, uint16_t v)
{
    v = htons(v);
    memcpy(p, &v, sizeof v);
}

static void
s_put32(uint8_t *p, uint32_t v)
{
    v = htonl(v);
    memcpy(p, &v, sizeof v);
}

static uint16_t
s_get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return ntohs(v);
}

static uint32_t
s_get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return ntohl(v);
}

bool
encap_vnet_ok(const struct encap_vnet *v, size_t frame_len)
{
    if (v->flags & ~(ENCAP_VNET_F_NEEDS_CSUM | ENCAP_VNET_F_DATA_VALID)) {
        return false;
    }
    uint8_t gso = v->gso_type & (uint8_t) ~ENCAP_VNET_GSO_ECN;
    switch (gso) {
    case ENCAP_VNET_GSO_NONE:
        if (v->gso_size != 0 || v->gso_type != gso) {
            return false;       /* a size, or ECN, without GSO */
        }
        break;
    case ENCAP_VNET_GSO_TCPV4:
    case ENCAP_VNET_GSO_UDP:
    case ENCAP_VNET_GSO_TCPV6:
    case ENCAP_VNET_GSO_UDP_L4:
        if (v->gso_size == 0 || v->gso_size > frame_len) {
            return false;
        }
        break;
    default:
        return false;
    }
    if (v->flags & ENCAP_VNET_F_NEEDS_CSUM) {
        size_t end = (size_t) v->csum_start + v->csum_offset + 2;
        if (v->csum_start >= frame_len || end > frame_len) {
            return false;
        }
    }
    return true;
}

void
encap_encode(const struct encap_hdr *h, uint8_t *buf)
{
    buf[0] = h->version;
    buf[1] = h->type;
    buf[2] = h->flags;
    buf[3] = h->hdr_len;
    s_put32(buf + 4, h->frame_id);
    s_put32(buf + 8, h->frame_len);
    s_put32(buf + 12, h->offset);
    buf[16] = h->vnet.flags;
    buf[17] = h->vnet.gso_type;
    s_put16(buf + 18, h->vnet.gso_size);
    s_put16(buf + 20, h->vnet.csum_start);
    s_put16(buf + 22, h->vnet.csum_offset);
}

enum encap_error
encap_decode(const uint8_t *buf, size_t size, struct encap_hdr *h)
{
    if (size < ENCAP_HDR_LEN) {
        return ENCAP_ERR_SHORT;
    }
    h->version = buf[0];
    h->type = buf[1];
    h->flags = buf[2];
    h->hdr_len = buf[3];
    h->frame_id = s_get32(buf + 4);
    h->frame_len = s_get32(buf + 8);
    h->offset = s_get32(buf + 12);
    h->vnet.flags = buf[16];
    h->vnet.gso_type = buf[17];
    h->vnet.gso_size = s_get16(buf + 18);
    h->vnet.csum_start = s_get16(buf + 20);
    h->vnet.csum_offset = s_get16(buf + 22);

    if (h->version != ENCAP_VERSION) {
        return ENCAP_ERR_VERSION;
    }
    if (h->type < ENCAP_DATA || h->type > ENCAP_HELLO) {
        return ENCAP_ERR_TYPE;
    }
    /* A longer header is allowed: a later version may append fields that
     * this one skips. */
    if (h->hdr_len < ENCAP_HDR_LEN || h->hdr_len > size) {
        return ENCAP_ERR_HDR_LEN;
    }
    if (h->type != ENCAP_DATA) {
        /* Probes and hellos carry an opaque payload and no frame. */
        return ENCAP_OK;
    }
    /* In 64 bits: offset + payload cannot wrap. */
    uint64_t end = (uint64_t) h->offset + (size - h->hdr_len);
    if (h->frame_len == 0 || h->frame_len > ENCAP_MAX_FRAME
        || end > h->frame_len) {
        return ENCAP_ERR_BOUNDS;
    }
    return ENCAP_OK;
}

const char *
encap_error_name(enum encap_error e)
{
    switch (e) {
    case ENCAP_OK:
        return "ok";
    case ENCAP_ERR_SHORT:
        return "short";
    case ENCAP_ERR_VERSION:
        return "version";
    case ENCAP_ERR_TYPE:
        return "type";
    case ENCAP_ERR_HDR_LEN:
        return "hdr_len";
    case ENCAP_ERR_BOUNDS:
        return "bounds";
    }
    return "unknown";
}

int
encap_reasm_init(struct encap_reasm *r)
{
    memset(r, 0, sizeof *r);
    r->buf = malloc(ENCAP_MAX_FRAME);
    return r->buf ? 0 : -1;
}

void
encap_reasm_uninit(struct encap_reasm *r)
{
    if (r) {
        free(r->buf);
        r->buf = NULL;
        r->busy = false;
    }
}

/* Gives up the frame being built.  'frame_id' keeps its id, so the rest of
 * its chunks are recognised as leftovers and not counted again. */
static void
s_drop(struct encap_reasm *r)
{
    r->busy = false;
    r->n_dropped++;
}

int
encap_reasm_add(struct encap_reasm *r, const struct encap_hdr *h,
                const uint8_t *payload, size_t n,
                const uint8_t **frame, size_t *frame_len)
{
    assert(r && h && frame && frame_len);

    /* encap_decode() has checked this already; check again because the
     * copy below must never run past the buffer, whatever the caller. */
    uint64_t end = (uint64_t) h->offset + n;
    if (h->frame_len == 0 || h->frame_len > ENCAP_MAX_FRAME
        || end > h->frame_len) {
        if (r->busy) {
            s_drop(r);
        }
        return -1;
    }

    if (r->busy && h->frame_id == r->frame_id) {
        if (h->frame_len != r->frame_len) {
            s_drop(r);
            return -1;
        }
        if (h->offset != r->have) {
            /* UDP may duplicate a datagram.  A chunk we already hold is
             * skipped alone: dropping the frame for it would throw away
             * up to 64 KiB (some 45 TCP segments) that did arrive. */
            if (end <= r->have) {
                return -1;
            }
            s_drop(r);              /* a gap, or an overlap */
            return -1;
        }
        memcpy(r->buf + r->have, payload, n);
        r->have += (uint32_t) n;
        if (r->have < r->frame_len) {
            return 0;
        }
        r->busy = false;
        *frame = r->buf;
        *frame_len = r->frame_len;
        return 1;
    }

    if (h->offset != 0) {
        /* Frame ids count up per link.  A later frame whose first chunk
         * never came costs that frame and, the path being in order, the
         * rest of the current one; count it once, on its first leftover,
         * and remember its id for the others.  An earlier id is a
         * leftover of a frame delivered or counted already, delayed:
         * skip it and keep the current frame. */
        if ((int32_t) (h->frame_id - r->frame_id) > 0) {
            if (r->busy) {
                s_drop(r);
            }
            r->frame_id = h->frame_id;
            r->n_dropped++;
        }
        return -1;
    }
    /* The first chunk of another frame: the rest of the current one is
     * lost (one path, in order). */
    if (r->busy) {
        s_drop(r);
    }
    r->frame_id = h->frame_id;
    if (n == h->frame_len) {
        /* The usual case: the whole frame in one datagram, no copy. */
        *frame = payload;
        *frame_len = n;
        return 1;
    }
    memcpy(r->buf, payload, n);
    r->frame_len = h->frame_len;
    r->have = (uint32_t) n;
    r->busy = true;
    return 0;
}
