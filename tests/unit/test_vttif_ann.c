/* SPDX-License-Identifier: MIT */
/* vttif_ann: the aggregator's announcement table.  An announcement
 * replaces the agent's last one; only known fields are kept (unknown
 * fields are not passed on); when full, the one heard from longest ago
 * makes room; one not renewed in time is forgotten; all counted. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "vttif_ann.h"

static Vr__AgentAnnounce
s_ann(const char *id, const char *ctl)
{
    Vr__AgentAnnounce a = VR__AGENT_ANNOUNCE__INIT;
    a.agent_id = (char *) id;
    a.boot_id = 7;
    a.control_endpoint = (char *) ctl;
    a.overlay_addr = "10.0.0.1:7000";
    a.host_ip = "10.0.0.1";
    return a;
}

int
main(void)
{
    vttif_ann_t *t = vttif_ann_new(3);
    struct vttif_ann_counters c;
    char evicted[VTTIF_CHECK_ID_LEN];
    uint64_t macs[2] = { 0x020000000001, 0x020000000002 };

    Vr__AgentAnnounce a = s_ann("h1", "tcp://10.0.0.1:7110");
    a.local_macs = macs;
    a.n_local_macs = 2;
    a.proxy = true;
    uint8_t junk[] = { 0x03, 'a', 'b', 'c' };
    ProtobufCMessageUnknownField f = {
        .tag = 20, .wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
        .len = sizeof junk, .data = junk,
    };
    a.base.n_unknown_fields = 1;
    a.base.unknown_fields = &f;
    assert(vttif_ann_put(t, &a, 1.0, evicted) == 1 && !*evicted);
    macs[0] = 0;                /* the table has its own copy */
    Vr__AgentAnnounce out;
    vttif_ann_get(t, 0, &out);
    assert(!strcmp(out.agent_id, "h1") && out.boot_id == 7 && out.proxy);
    assert(!strcmp(out.control_endpoint, "tcp://10.0.0.1:7110"));
    assert(!strcmp(out.overlay_addr, "10.0.0.1:7000"));
    assert(!strcmp(out.host_ip, "10.0.0.1"));
    assert(out.n_local_macs == 2 && out.local_macs[0] == 0x020000000001);
    assert(out.base.n_unknown_fields == 0);

    /* Renewed: replaced in place. */
    a = s_ann("h1", "tcp://10.0.0.9:7110");
    assert(vttif_ann_put(t, &a, 2.0, NULL) == 0);
    assert(vttif_ann_count(t) == 1);
    vttif_ann_get(t, 0, &out);
    assert(!strcmp(out.control_endpoint, "tcp://10.0.0.9:7110"));
    assert(out.n_local_macs == 0);

    /* Full: the one heard from longest ago makes room. */
    a = s_ann("h2", "ipc:///tmp/h2");
    assert(vttif_ann_put(t, &a, 1.5, NULL) == 1);
    a = s_ann("h3", "ipc:///tmp/h3");
    assert(vttif_ann_put(t, &a, 3.0, NULL) == 1);
    a = s_ann("h4", "ipc:///tmp/h4");
    assert(vttif_ann_put(t, &a, 4.0, evicted) == 1);
    assert(!strcmp(evicted, "h2"));
    assert(vttif_ann_count(t) == 3 && vttif_ann_find(t, "h2") == -1);
    assert(vttif_ann_find(t, "h1") >= 0 && vttif_ann_find(t, "h4") >= 0);

    /* Aging: not renewed for more than 1.5 s at 4.5: h1 (2.0) goes. */
    assert(vttif_ann_age(t, 4.5, 1.5) == 1);
    assert(vttif_ann_find(t, "h1") == -1 && vttif_ann_count(t) == 2);
    assert(vttif_ann_age(t, 100, 1.5) == 2 && vttif_ann_count(t) == 0);
    vttif_ann_get_counters(t, &c);
    assert(c.added == 4 && c.evicted == 1 && c.aged == 3);

    vttif_ann_destroy(&t);
    assert(!t);
    vttif_ann_destroy(&t);
    printf("test_vttif_ann: ok\n");
    return 0;
}
