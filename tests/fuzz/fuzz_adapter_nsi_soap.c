/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the odin-adapter's NSI SOAP reply parser
 * (adapter_nsi_soap_parse): every input is parsed as the reply to each
 * operation, as HTTP 200 and as HTTP 500, and the result is checked:
 * a known status, bounded and NUL-terminated strings, a message of
 * printable ASCII only (escaped), reservations only for a query and
 * within their cap, VLANs within 1-4094.  Build with -DVR_FUZZ=ON and
 * clang; tests/fuzz/replay.c runs it on tests/data/adapter_nsi_soap and
 * on random and mutated inputs in the ordinary build. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_nsi_soap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(X) do { if (!(X)) abort(); } while (0)

static void
s_check_str(const char *s, size_t size)
{
    CHECK(memchr(s, '\0', size));
}

static void
s_check_end(const struct adapter_nsi_end *e)
{
    s_check_str(e->stp, sizeof e->stp);
    if (e->stp[0]) {
        CHECK(e->vlan_lo >= 1 && e->vlan_lo <= e->vlan_hi
              && e->vlan_hi <= 4094);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long codes[] = { 200, 500 };

    for (int op = 0; op < ADAPTER_NSI_N_OPS; op++) {
        for (size_t k = 0; k < 2; k++) {
            struct adapter_nsi_result res = { 0 };
            enum adapter_nsi_status st = adapter_nsi_soap_parse(
                (enum adapter_nsi_op) op, codes[k], (const char *) data, size,
                32 * 1024, "urn:uuid:11111111-2222-4333-8444-555555555555",
                &res);
            CHECK(st == res.status);
            CHECK(st == ADAPTER_NSI_OK || st == ADAPTER_NSI_FAULT
                  || st == ADAPTER_NSI_FAILED);
            s_check_str(res.error, sizeof res.error);
            for (const char *p = res.error; *p; p++) {
                CHECK(*p >= 0x20 && *p < 0x7f);
            }
            CHECK(st != ADAPTER_NSI_FAILED || res.error[0]);
            s_check_str(res.error_id, sizeof res.error_id);
            s_check_str(res.connection_id, sizeof res.connection_id);
            CHECK(!res.n_resv || (op == ADAPTER_NSI_OP_QUERY
                                  && st == ADAPTER_NSI_OK && res.resv));
            CHECK(res.n_resv <= ADAPTER_NSI_MAX_RESERVATIONS);
            for (size_t i = 0; i < res.n_resv; i++) {
                const struct adapter_nsi_reservation *r = &res.resv[i];
                CHECK(r->connection_id[0]);
                s_check_str(r->global_id, sizeof r->global_id);
                s_check_str(r->description, sizeof r->description);
                s_check_str(r->start_time, sizeof r->start_time);
                s_check_str(r->end_time, sizeof r->end_time);
                CHECK(r->capacity_mbps <= ADAPTER_NSI_MAX_CAPACITY);
                s_check_end(&r->src);
                s_check_end(&r->dst);
                CHECK(r->states.rsm != ADAPTER_NSI_RSM_UNKNOWN
                      && r->states.lsm != ADAPTER_NSI_LSM_UNKNOWN);
            }
            adapter_nsi_result_clean(&res);
        }
    }
    return 0;
}
