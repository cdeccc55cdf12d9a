/* SPDX-License-Identifier: MIT */
/* The nsi backend's record of a connection in r.backend_ref
 * (adapter_backend_nsi.h): "<connectionId> <globalReservationId>", "-"
 * before the connection id is known; printed and parsed back, and
 * anything else refused. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "adapter_backend_nsi.h"
#include "adapter_nsi_soap.h"
#include "adapter_store.h"

#define GID "urn:uuid:0f1e2d3c-4b5a-4697-8877-665544332211"

static void
test_round_trip(void)
{
    char ref[sizeof ((struct adapter_path_rec *) 0)->backend_ref];
    char cid[ADAPTER_NSI_ID_MAX + 1], gid[ADAPTER_NSI_GID_LEN + 1];

    assert(adapter_nsi_ref_format("EX-f580d5fbb3", GID, ref, sizeof ref));
    assert(!strcmp(ref, "EX-f580d5fbb3 " GID));
    assert(adapter_nsi_ref_parse(ref, cid, sizeof cid, gid, sizeof gid));
    assert(!strcmp(cid, "EX-f580d5fbb3") && !strcmp(gid, GID));

    /* No connection id yet. */
    assert(adapter_nsi_ref_format(NULL, GID, ref, sizeof ref));
    assert(!strcmp(ref, "- " GID));
    assert(adapter_nsi_ref_format("", GID, ref, sizeof ref));
    assert(adapter_nsi_ref_parse(ref, cid, sizeof cid, gid, sizeof gid));
    assert(!strcmp(cid, "") && !strcmp(gid, GID));

    /* The longest connection id fits the record. */
    char longest[ADAPTER_NSI_ID_MAX + 1];
    memset(longest, 'a', ADAPTER_NSI_ID_MAX);
    longest[ADAPTER_NSI_ID_MAX] = '\0';
    assert(adapter_nsi_ref_format(longest, GID, ref, sizeof ref));
    assert(adapter_nsi_ref_parse(ref, cid, sizeof cid, gid, sizeof gid));
    assert(!strcmp(cid, longest));

    /* Every character NSI ids here may have. */
    assert(adapter_nsi_ref_format("a.b_c:d@e+f/g=h-1", GID, ref, sizeof ref));
    assert(adapter_nsi_ref_parse(ref, cid, sizeof cid, gid, sizeof gid));
    assert(!strcmp(cid, "a.b_c:d@e+f/g=h-1"));

    /* A fresh global id is one. */
    char fresh[64];
    adapter_nsi_new_uuid(fresh, sizeof fresh);
    assert(adapter_nsi_ref_format("EX-1", fresh, ref, sizeof ref));
}

static void
test_refused(void)
{
    char ref[192] = "untouched";
    char cid[ADAPTER_NSI_ID_MAX + 1] = "x", gid[ADAPTER_NSI_GID_LEN + 1] = "y";
    char toolong[ADAPTER_NSI_ID_MAX + 2];
    memset(toolong, 'a', sizeof toolong - 1);
    toolong[sizeof toolong - 1] = '\0';

    /* Printing: bad ids, a bad global id, too small a buffer. */
    assert(!adapter_nsi_ref_format("EX 1", GID, ref, sizeof ref));
    assert(!adapter_nsi_ref_format("EX<1>", GID, ref, sizeof ref));
    assert(!adapter_nsi_ref_format("-", GID, ref, sizeof ref));
    assert(!adapter_nsi_ref_format(toolong, GID, ref, sizeof ref));
    assert(!adapter_nsi_ref_format("EX-1", NULL, ref, sizeof ref));
    assert(!adapter_nsi_ref_format("EX-1", "urn:uuid:1234", ref, sizeof ref));
    assert(!adapter_nsi_ref_format("EX-1", "urn:uuid:0f1e2d3c-4b5a-4697-8877"
                                   "-66554433221g", ref, sizeof ref));
    assert(!adapter_nsi_ref_format("EX-1", "urn:uuid:0f1e2d3c04b5a-4697-8877"
                                   "-665544332211", ref, sizeof ref));
    assert(!adapter_nsi_ref_format("EX-1", GID, ref, 20));

    /* Parsing: what the oclient backend or an old record has, damage. */
    const char *bad[] = {
        "", "EX-1", "odin-17", " " GID, "EX-1  " GID, "EX-1 " GID " ",
        "EX-1 " GID "x", "EX 1 " GID, "EX<1 " GID, "EX-1\t" GID,
        "EX-1 urn:uuid:0f1e2d3c-4b5a-4697-8877-66554433221",
        "EX-1 URN:uuid:0f1e2d3c-4b5a-4697-8877-665544332211",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert(!adapter_nsi_ref_parse(bad[i], cid, sizeof cid, gid,
                                      sizeof gid));
    }
    assert(!adapter_nsi_ref_parse(NULL, cid, sizeof cid, gid, sizeof gid));
    char longref[300];
    snprintf(longref, sizeof longref, "%s %s", toolong, GID);
    assert(!adapter_nsi_ref_parse(longref, cid, sizeof cid, gid, sizeof gid));
    /* Too small an output: refused, not cut. */
    assert(!adapter_nsi_ref_parse("EX-123456 " GID, cid, 4, gid, sizeof gid));
    assert(!adapter_nsi_ref_parse("EX-1 " GID, cid, sizeof cid, gid, 10));
    assert(!strcmp(cid, "x") && !strcmp(gid, "y"));
}

int
main(void)
{
    test_round_trip();
    test_refused();
    return 0;
}
