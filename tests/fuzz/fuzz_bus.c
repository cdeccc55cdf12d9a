/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for common/bus.  Every input is read two ways: as a
 * whole envelope (version, type, check, body), and as a message type
 * (first byte) followed by a body, which reaches every body decoder even
 * though random bytes almost never pass the envelope's check.  Whatever
 * decodes is encoded again and decoded back: the type must be the same
 * and the body must pack to the same bytes (decode(encode(x)) == x).
 * Build with -DVR_FUZZ=ON and clang; tests/fuzz/replay.c runs it on fixed
 * inputs in the ordinary build. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "fuzz_check.h"
#include "pbcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Packs 'm' into a new buffer; '*size_p' gets its size. */
static uint8_t *
s_pack(const ProtobufCMessage *m, size_t *size_p)
{
    size_t size = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(size ? size : 1);
    FUZZ_CHECK(buf);
    FUZZ_CHECK(protobuf_c_message_pack(m, buf) == size);
    *size_p = size;
    return buf;
}

/* Encodes 'body' of 'type', decodes the result and checks that it is the
 * same message.  A body with a field numbered 0, which protobuf-c reads
 * but cannot write back, must be refused instead. */
static void
s_round_trip(bus_t *bus, int type, const ProtobufCMessage *body)
{
    uint8_t *env;
    size_t env_size;
    FUZZ_CHECK(bus_encode(bus, type, body, &env, &env_size) == 0);
    bus_msg_t back = { 0 };
    int rc = bus_decode(bus, env, env_size, &back);
    if (!pbcheck_tags_valid(body)) {
        FUZZ_CHECK(rc != 0 && !back.body);
        free(env);
        bus_msg_clear(&back);
        return;
    }
    if (rc != 0) {
        fprintf(stderr, "decode of re-encoded %s: %s\n", msgtype_name(type),
                back.error_text);
        FUZZ_CHECK(!"decode(encode(x)) fails");
    }
    FUZZ_CHECK(back.type == type && back.body && back.error == 0);
    FUZZ_CHECK(strcmp(back.sender, bus_sender(bus)) == 0);

    size_t a_size, b_size;
    uint8_t *a = s_pack(body, &a_size);
    uint8_t *b = s_pack(back.body, &b_size);
    FUZZ_CHECK(a_size == b_size && memcmp(a, b, a_size) == 0);
    free(a);
    free(b);
    free(env);
    bus_msg_clear(&back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bus_t *bus;
    if (!bus) {
        bus = bus_new("fuzz", NULL);
        FUZZ_CHECK(bus);
    }

    /* As an envelope. */
    bus_msg_t msg = { 0 };
    if (bus_decode(bus, data, size, &msg) == 0) {
        FUZZ_CHECK(msg.body && msg.error == 0);
        FUZZ_CHECK(msgtype_matches(msg.type, msg.body->descriptor));
        FUZZ_CHECK(pbcheck_tags_valid(msg.body));
        s_round_trip(bus, msg.type, msg.body);
    } else {
        FUZZ_CHECK(!msg.body && msg.error != 0);
        FUZZ_CHECK(memchr(msg.error_text, '\0', sizeof msg.error_text));
    }
    FUZZ_CHECK(memchr(msg.sender, '\0', sizeof msg.sender));
    bus_msg_clear(&msg);

    /* As a type and a body. */
    if (size >= 1) {
        const ProtobufCMessageDescriptor *desc = msgtype_descriptor(data[0]);
        ProtobufCMessage *body = desc
            ? protobuf_c_message_unpack(desc, NULL, size - 1, data + 1)
            : NULL;
        if (body) {
            s_round_trip(bus, data[0], body);
            protobuf_c_message_free_unpacked(body, NULL);
        }
    }
    return 0;
}
