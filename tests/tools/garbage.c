/* SPDX-License-Identifier: MIT */
/* See garbage.h.  The body check is computed here independently of
 * common/bus.c, so a test built on it also checks bus.c's. */
#include "garbage.h"

#include <stdlib.h>

#include "msgtype.h"

uint8_t *
garbage_envelope(uint32_t version, int type, const uint8_t *body,
                 size_t body_size, size_t *size_p)
{
    uint32_t h = 2166136261u;   /* FNV-1a, never 0 on the wire */
    for (size_t i = 0; i < body_size; i++) {
        h = (h ^ body[i]) * 16777619u;
    }
    Vr__Envelope env = VR__ENVELOPE__INIT;
    env.version = version;
    env.type = (Vr__MsgType) type;
    env.sender = "liar\n\x1b[31m";
    env.seq = 1;
    env.body.data = (uint8_t *) body;
    env.body.len = body_size;
    env.body_check = h ? h : 1;
    *size_p = vr__envelope__get_packed_size(&env);
    uint8_t *buf = malloc(*size_p ? *size_p : 1);
    if (buf) {
        vr__envelope__pack(&env, buf);
    }
    return buf;
}

void
garbage_random(uint8_t *buf, size_t size, uint32_t *seed)
{
    for (size_t i = 0; i < size; i++) {
        *seed = *seed * 1103515245u + 12345u;
        buf[i] = (uint8_t) (*seed >> 16);
    }
}
