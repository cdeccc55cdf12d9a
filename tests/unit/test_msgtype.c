/* SPDX-License-Identifier: MIT */
/* common/msgtype: every value of Vr__MsgType has a registry row, names and
 * topics are right, and unknown types are handled. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "msgtype.h"

int
main(void)
{
    const ProtobufCEnumDescriptor *ed = &vr__msg_type__descriptor;
    size_t n_published = 0;
    for (unsigned i = 0; i < ed->n_values; i++) {
        int v = ed->values[i].value;
        if (v == VR__MSG_TYPE__MSG_UNSPECIFIED) {
            assert(msgtype_descriptor(v) == NULL);
            continue;
        }
        const ProtobufCMessageDescriptor *d = msgtype_descriptor(v);
        assert(d != NULL);
        assert(msgtype_matches(v, d));
        /* The enum value's name is MSG_<NAME>; the registry says NAME. */
        assert(!strcmp(ed->values[i].name + 4, msgtype_name(v)));
        if (msgtype_topic(v)) {
            n_published++;
        }
    }
    assert(n_published == 8);
    assert(msgtype_descriptor(VR__MSG_TYPE__MSG_STATUS_REPLY)
           == &vr__status_reply__descriptor);
    assert(!strcmp(msgtype_topic(VR__MSG_TYPE__MSG_TOPOLOGY_EVENT),
                   TOPIC_TOPOLOGY));
    assert(!strcmp(msgtype_topic(VR__MSG_TYPE__MSG_RESV_EVENT), TOPIC_RESV));
    assert(msgtype_topic(VR__MSG_TYPE__MSG_STATUS_REQUEST) == NULL);
    assert(msgtype_descriptor(-1) == NULL);
    assert(msgtype_descriptor(100000) == NULL);
    assert(!strcmp(msgtype_name(57), "UNKNOWN(57)"));
    assert(!msgtype_matches(VR__MSG_TYPE__MSG_ACK,
                            &vr__status_reply__descriptor));
    printf("test_msgtype: ok\n");
    return 0;
}
