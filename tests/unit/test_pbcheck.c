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

int
main(void)
{
    test_query();
    printf("test_pbcheck: ok\n");
    return 0;
}
