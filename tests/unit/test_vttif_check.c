/* SPDX-License-Identifier: MIT */
/* vttif_check: the aggregator's ingest checks.  A valid message of each
 * type passes; each hostile value (out of range, malformed, control
 * characters, too many entries) fails with the field named and the value
 * quoted, escaped. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmatrix.h"
#include "vttif_check.h"

static const struct vttif_check_limits lim = {
    .max_entries = 4, .max_locations = 3, .max_local_macs = 2,
};

static char err[256];

/* Asserts that the last check failed naming 'field' and quoting 'value'
 * (both substrings of the error). */
static void
s_expect(bool ok, const char *field, const char *value)
{
    if (ok || !strstr(err, field) || (value && !strstr(err, value))) {
        fprintf(stderr, "expected '%s' '%s', got %s: %s\n", field,
                value ? value : "", ok ? "ok" : "fail", err);
        abort();
    }
    /* Nothing unprintable ever reaches the sentence. */
    for (const char *p = err; *p; p++) {
        assert(*p >= ' ' && *p < 0x7f);
    }
    err[0] = '\0';
}

static void
test_ids_macs(void)
{
    assert(vttif_check_id("h1"));
    assert(vttif_check_id("agent/h1"));
    assert(vttif_check_id("host-1.example:a@b+c_d"));
    assert(!vttif_check_id(NULL));
    assert(!vttif_check_id(""));
    assert(!vttif_check_id("-h1"));
    assert(!vttif_check_id("h 1"));
    assert(!vttif_check_id("h1\n"));
    assert(!vttif_check_id("h\x1b[31m"));
    assert(!vttif_check_id("h\xc3\xa9"));
    char id[80];
    memset(id, 'a', sizeof id);
    id[63] = '\0';
    assert(vttif_check_id(id));
    id[63] = 'a';
    id[64] = '\0';
    assert(!vttif_check_id(id));

    assert(vttif_check_mac(0x020000000001));
    assert(!vttif_check_mac(0));
    assert(!vttif_check_mac(0x010000000001));       /* group */
    assert(!vttif_check_mac(0x1020000000001));      /* 49 bits */
}

static void
test_matrix(void)
{
    uint64_t src[5], dst[5], bytes[5], frames[5];
    for (int i = 0; i < 5; i++) {
        src[i] = 0x020000000001;
        dst[i] = 0x020000000002 + (uint64_t) i;
        bytes[i] = 1000;
        frames[i] = 10;
    }
    Vr__LocalMatrix m = VR__LOCAL_MATRIX__INIT;
    m.agent_id = "h1";
    m.boot_id = UINT64_MAX;
    m.period_us = 100000;
    m.time_us = 1700000000000000;
    m.src_mac = src;
    m.dst_mac = dst;
    m.bytes = bytes;
    m.frames = frames;
    lmatrix_len_set(&m, 4);
    assert(vttif_check_matrix(&m, &lim, err, sizeof err));

    /* Zero and group MACs are the core's to skip, not malformed. */
    src[0] = 0;
    dst[1] = 0x010000000000;
    assert(vttif_check_matrix(&m, &lim, err, sizeof err));
    src[0] = 0x020000000001;
    dst[1] = 0x020000000003;

    m.agent_id = "h1\n\x1b[2J";
    s_expect(vttif_check_matrix(&m, &lim, err, sizeof err), "agent_id:",
             "'h1\\x0a\\x1b[2J'");
    m.agent_id = "";
    s_expect(vttif_check_matrix(&m, &lim, err, sizeof err), "agent_id:",
             "''");
    m.agent_id = "h1";

    m.period_us = 999;
    s_expect(vttif_check_matrix(&m, &lim, err, sizeof err), "period_us:",
             "'999'");
    m.period_us = UINT64_MAX;
    s_expect(vttif_check_matrix(&m, &lim, err, sizeof err), "period_us:",
             "'18446744073709551615'");
    m.period_us = 0;            /* unset: the core's default */
    assert(vttif_check_matrix(&m, &lim, err, sizeof err));

    m.time_us = UINT64_MAX;
    s_expect(vttif_check_matrix(&m, &lim, err, sizeof err), "time_us:",
             "'18446744073709551615'");
    m.time_us = 0;
    assert(vttif_check_matrix(&m, &lim, err, sizeof err));

    lmatrix_len_set(&m, 5);
    s_expect(vttif_check_matrix(&m, &lim, err, sizeof err), "entries:",
             "'5' entries, more than the 4");
    lmatrix_len_set(&m, 4);

    /* Columns of different lengths: refused, whichever is off. */
    m.n_dst_mac = 3;
    s_expect(vttif_check_matrix(&m, &lim, err, sizeof err), "entries:",
             "columns of 4, 3, 4 and 4 values");
    m.n_dst_mac = 4;
    m.n_frames = 0;
    s_expect(vttif_check_matrix(&m, &lim, err, sizeof err), "entries:",
             "the same length");
    m.n_frames = 4;
    assert(lmatrix_len(&m) == 4);

    src[2] = UINT64_MAX;
    s_expect(vttif_check_matrix(&m, &lim, err, sizeof err),
             "src_mac[2]:", "'0xffffffffffffffff'");
    src[2] = 0x020000000001;
    dst[3] = UINT64_C(1) << 48;
    s_expect(vttif_check_matrix(&m, &lim, err, sizeof err),
             "dst_mac[3]:", "'0x1000000000000'");
    dst[3] = 0x020000000009;
    bytes[1] = (UINT64_C(1) << 62) + 1;
    s_expect(vttif_check_matrix(&m, &lim, err, sizeof err),
             "bytes[1]:", "'4611686018427387905'");
    bytes[1] = 5;
    frames[0] = UINT64_MAX;
    s_expect(vttif_check_matrix(&m, &lim, err, sizeof err),
             "frames[0]:", NULL);
    frames[0] = 1;
    assert(vttif_check_matrix(&m, &lim, err, sizeof err));
}

static void
test_locations(void)
{
    Vr__VmLocation v[4];
    Vr__VmLocation *p[4];
    for (int i = 0; i < 4; i++) {
        vr__vm_location__init(&v[i]);
        v[i].mac = 0x020000000001 + (uint64_t) i;
        v[i].agent_id = "h1";
        v[i].iface = "vm1";
        v[i].seen_us = 1700000000000000;
        p[i] = &v[i];
    }
    Vr__VmLocations m = VR__VM_LOCATIONS__INIT;
    m.reporter = "h1";
    m.vms = p;
    m.n_vms = 3;
    assert(vttif_check_locations(&m, &lim, err, sizeof err));
    v[0].iface = "";            /* optional */
    assert(vttif_check_locations(&m, &lim, err, sizeof err));

    m.reporter = "";
    s_expect(vttif_check_locations(&m, &lim, err, sizeof err), "reporter:",
             "''");
    m.reporter = "h1";
    m.n_vms = 4;
    s_expect(vttif_check_locations(&m, &lim, err, sizeof err), "vms:",
             "'4' locations");
    m.n_vms = 3;
    v[1].mac = 0;
    s_expect(vttif_check_locations(&m, &lim, err, sizeof err), "vms[1].mac:",
             "'0x0'");
    v[1].mac = 0x030000000000;  /* group */
    s_expect(vttif_check_locations(&m, &lim, err, sizeof err), "vms[1].mac:",
             "'0x30000000000'");
    v[1].mac = 0x020000000002;
    v[2].agent_id = "a\"b";
    s_expect(vttif_check_locations(&m, &lim, err, sizeof err),
             "vms[2].agent_id:", "'a\\\"b'");
    v[2].agent_id = "h1";
    v[2].iface = "a-very-long-interface-name";
    s_expect(vttif_check_locations(&m, &lim, err, sizeof err),
             "vms[2].iface:", NULL);
    v[2].iface = "../etc";
    s_expect(vttif_check_locations(&m, &lim, err, sizeof err),
             "vms[2].iface:", "'../etc'");
    v[2].iface = "vm3";
    v[0].seen_us = UINT64_MAX;
    s_expect(vttif_check_locations(&m, &lim, err, sizeof err),
             "vms[0].seen_us:", NULL);
    v[0].seen_us = 0;
    assert(vttif_check_locations(&m, &lim, err, sizeof err));
}

static void
test_announce(void)
{
    uint64_t macs[3] = { 0x020000000001, 0x020000000002, 0x020000000003 };
    Vr__AgentAnnounce a = VR__AGENT_ANNOUNCE__INIT;
    a.agent_id = "h1";
    a.control_endpoint = "tcp://10.0.0.1:7110";
    a.overlay_addr = "10.200.0.1:7000";
    a.host_ip = "10.0.0.1";
    a.local_macs = macs;
    a.n_local_macs = 2;
    assert(vttif_check_announce(&a, &lim, err, sizeof err));
    a.control_endpoint = "ipc:///tmp/agent-h1";
    a.overlay_addr = "[fd00::1]:7000";
    a.host_ip = "fd00::1";
    assert(vttif_check_announce(&a, &lim, err, sizeof err));
    a.overlay_addr = "";
    a.host_ip = "";
    assert(vttif_check_announce(&a, &lim, err, sizeof err));

    a.agent_id = "h1\r";
    s_expect(vttif_check_announce(&a, &lim, err, sizeof err), "agent_id:",
             "'h1\\x0d'");
    a.agent_id = "h1";

    a.control_endpoint = "";
    s_expect(vttif_check_announce(&a, &lim, err, sizeof err),
             "control_endpoint:", "''");
    a.control_endpoint = "tcp://a:1,tcp://evil:2";
    s_expect(vttif_check_announce(&a, &lim, err, sizeof err),
             "control_endpoint:", "'tcp://a:1,tcp://evil:2'");
    a.control_endpoint = "udp://a:1";
    s_expect(vttif_check_announce(&a, &lim, err, sizeof err),
             "control_endpoint:", NULL);
    char big[400];
    memset(big, 'x', sizeof big);
    memcpy(big, "tcp://", 6);
    big[399] = '\0';
    a.control_endpoint = big;
    s_expect(vttif_check_announce(&a, &lim, err, sizeof err),
             "control_endpoint:", "...");
    a.control_endpoint = "tcp://10.0.0.1:7110";

    a.overlay_addr = "10.200.0.1";
    s_expect(vttif_check_announce(&a, &lim, err, sizeof err),
             "overlay_addr:", "'10.200.0.1'");
    a.overlay_addr = "127.0.0.1:0";     /* an ephemeral port */
    assert(vttif_check_announce(&a, &lim, err, sizeof err));
    a.overlay_addr = "10.200.0.1:99999";
    s_expect(vttif_check_announce(&a, &lim, err, sizeof err),
             "overlay_addr:", NULL);
    a.overlay_addr = "host;rm -rf:7000";
    s_expect(vttif_check_announce(&a, &lim, err, sizeof err),
             "overlay_addr:", NULL);
    a.overlay_addr = "10.200.0.1:7000";

    a.host_ip = "10.0.0.300";
    s_expect(vttif_check_announce(&a, &lim, err, sizeof err), "host_ip:",
             "'10.0.0.300'");
    a.host_ip = "10.0.0.1";

    a.n_local_macs = 3;
    s_expect(vttif_check_announce(&a, &lim, err, sizeof err), "local_macs:",
             "'3' MACs");
    a.n_local_macs = 2;
    macs[1] = UINT64_MAX;
    s_expect(vttif_check_announce(&a, &lim, err, sizeof err),
             "local_macs[1]:", "'0xffffffffffffffff'");
    macs[1] = 0x020000000002;
    assert(vttif_check_announce(&a, &lim, err, sizeof err));
}

int
main(void)
{
    test_ids_macs();
    test_matrix();
    test_locations();
    test_announce();
    printf("test_vttif_check: ok\n");
    return 0;
}
