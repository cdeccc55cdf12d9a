/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the odin-adapter's NSI SOAP reply parser
 * (adapter_nsi_soap_parse): every input is parsed as the reply to each
 * operation, as HTTP 200 and as HTTP 500 (under libFuzzer, to one of
 * them, see s_one_case), and the result is checked:
 * a known status, bounded and NUL-terminated strings, a message of
 * printable ASCII only (escaped), reservations only for a query and
 * within their cap, VLANs within 1-4094.  Build with -DVR_FUZZ=ON and
 * clang; tests/fuzz/replay.c runs it on tests/data/adapter_nsi_soap and
 * on random and mutated inputs in the ordinary build. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_nsi_soap.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Under libFuzzer each input is read as the reply to one operation with
 * one HTTP status, chosen by a hash of its bytes (so the same input is
 * always the same case, and a mutation moves it to others): libxml2's
 * parse is most of the cost, and fourteen of them an input made the
 * harness 14 times slower than the parser.  The replay (tests/fuzz/
 * replay.c, which has no LLVMFuzzerInitialize) reads every fixture as
 * every case. */
static bool s_one_case;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_one_case = true;
    return 0;
}

static uint32_t
s_hash(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++) {
        h = (h ^ data[i]) * 16777619u;
    }
    return h;
}

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

    int op_lo = 0, op_hi = ADAPTER_NSI_N_OPS;
    size_t k_lo = 0, k_hi = 2;
    if (s_one_case) {
        uint32_t h = s_hash(data, size);
        op_lo = (int) (h % ADAPTER_NSI_N_OPS);
        op_hi = op_lo + 1;
        k_lo = (h / ADAPTER_NSI_N_OPS) % 2;
        k_hi = k_lo + 1;
    }
    for (int op = op_lo; op < op_hi; op++) {
        for (size_t k = k_lo; k < k_hi; k++) {
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
