/* SPDX-License-Identifier: MIT */
/* common/pbcheck: a query with a field this build does not know is
 * refused, naming the field; one without passes. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "pbcheck.h"

static char err[256];

/* A query with a field this build does not know is refused, naming the
 * field; one without decodes and passes. */
static void
test_query(void)
{
    bus_t *bus = bus_new("test", NULL);
    Vr__TopologyQuery q = VR__TOPOLOGY_QUERY__INIT;
    uint8_t *data;
    size_t size;
    assert(bus_encode(bus, VR__MSG_TYPE__MSG_TOPOLOGY_QUERY, &q.base, &data,
                      &size) == 0);
    bus_msg_t msg = { 0 };
    assert(bus_decode(bus, data, size, &msg) == 0);
    assert(pbcheck_no_unknown(msg.body, err, sizeof err));
    bus_msg_clear(&msg);
    free(data);

    /* Field 5, a string of 3 bytes (protobuf-c keeps the length prefix
     * in the data), in a TopologyQuery. */
    ProtobufCMessageUnknownField f = {
        .tag = 5,
        .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
        .len = 4,
        .data = (uint8_t *) "\x03" "abc",
    };
    q.base.n_unknown_fields = 1;
    q.base.unknown_fields = &f;
    assert(bus_encode(bus, VR__MSG_TYPE__MSG_TOPOLOGY_QUERY, &q.base, &data,
                      &size) == 0);
    assert(bus_decode(bus, data, size, &msg) == 0);
    assert(!pbcheck_no_unknown(msg.body, err, sizeof err));
    assert(strstr(err, "field 5: unknown to vr.TopologyQuery"));
    bus_msg_clear(&msg);
    free(data);
    bus_destroy(&bus);
}

/* The envelope's check of 'size' bytes at 'data', as common/bus.c
 * computes it (FNV-1a, never 0). */
static uint32_t
s_body_check(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++) {
        h = (h ^ data[i]) * 16777619u;
    }
    return h ? h : 1;
}

/* Field number 0, written as a two-byte varint tag, which protobuf-c
 * reads (and could not write back): found by tests/fuzz/fuzz_bus.  It is
 * refused at any depth, and the bus refuses the body. */
static void
test_tag_zero(void)
{
    static const uint8_t bad[] = { 0x80, 0x00, 0x3c };
    ProtobufCMessage *m = protobuf_c_message_unpack(
        &vr__path_event__descriptor, NULL, sizeof bad, bad);
    assert(m);
    assert(!pbcheck_tags_valid(m));
    protobuf_c_message_free_unpacked(m, NULL);

    /* Inside a nested message: a location of a VmLocations. */
    Vr__VmLocations lm = VR__VM_LOCATIONS__INIT;
    Vr__VmLocation e = VR__VM_LOCATION__INIT;
    Vr__VmLocation *ep = &e;
    e.mac = 1;
    lm.vms = &ep;
    lm.n_vms = 1;
    assert(pbcheck_tags_valid(&lm.base));
    ProtobufCMessageUnknownField f = {
        .tag = 0, .wire_type = PROTOBUF_C_WIRE_TYPE_VARINT, .len = 1,
        .data = (uint8_t *) "\x3c",
    };
    e.base.n_unknown_fields = 1;
    e.base.unknown_fields = &f;
    assert(!pbcheck_tags_valid(&lm.base));

    /* The bus refuses such a body. */
    Vr__Envelope env = VR__ENVELOPE__INIT;
    env.version = VR__SCHEMA_VERSION__SCHEMA_VERSION_CURRENT;
    env.type = VR__MSG_TYPE__MSG_PATH_EVENT;
    env.sender = "test";
    env.body.data = (uint8_t *) bad;
    env.body.len = sizeof bad;
    env.body_check = s_body_check(bad, sizeof bad);
    uint8_t buf[64];
    size_t size = vr__envelope__pack(&env, buf);
    bus_t *bus = bus_new("test", NULL);
    bus_msg_t msg = { 0 };
    assert(bus_decode(bus, buf, size, &msg) == -1);
    assert(!msg.body && msg.error == VR__ERROR_CODE__ERR_BAD_REQUEST);
    assert(strstr(msg.error_text, "numbered 0"));
    assert(bus_counters(bus)->rx_bad_body == 1);
    bus_msg_clear(&msg);
    bus_destroy(&bus);
}

int
main(void)
{
    test_query();
    test_tag_zero();
    printf("test_pbcheck: ok\n");
    return 0;
}
