/* SPDX-License-Identifier: MIT */
/* Unit test for the odin-adapter's NSI state helpers
 * (services/odin-adapter/adapter_nsi_state): names both ways, the path
 * state each combination amounts to, the next requester step along a
 * whole lifecycle (as OpenNSA reports it, quirks included), and the hold
 * timeout. */
#undef NDEBUG

#include "adapter_nsi_state.h"

#include <assert.h>
#include <string.h>

#define R(X) ADAPTER_NSI_RSM_##X
#define P(X) ADAPTER_NSI_PSM_##X
#define L(X) ADAPTER_NSI_LSM_##X
#define N(X) ADAPTER_NSI_NEXT_##X
#define PATH(X) ADAPTER_NSI_PATH_##X

static struct adapter_nsi_states
s_st(enum adapter_nsi_rsm r, enum adapter_nsi_psm p, enum adapter_nsi_lsm l,
     bool active)
{
    struct adapter_nsi_states s = { .rsm = r, .psm = p, .lsm = l,
                                    .active = active };
    return s;
}

static void
test_names(void)
{
    enum adapter_nsi_rsm r = R(UNKNOWN);
    enum adapter_nsi_psm p = P(UNKNOWN);
    enum adapter_nsi_lsm l = L(UNKNOWN);
    char buf[96];

    assert(adapter_nsi_rsm_parse("ReserveHeld", &r) && r == R(HELD));
    assert(adapter_nsi_rsm_parse("ReserveComitting", &r) && r == R(COMMITTING));
    assert(adapter_nsi_rsm_parse("ReserveCommitting", &r) && r == R(COMMITTING));
    assert(adapter_nsi_rsm_parse("ReserveTimeout", &r) && r == R(TIMEOUT));
    assert(!adapter_nsi_rsm_parse("reserveheld", &r) && r == R(TIMEOUT));
    assert(!adapter_nsi_rsm_parse("", &r));
    assert(!adapter_nsi_rsm_parse(NULL, &r));
    assert(adapter_nsi_psm_parse("Provisioned", &p) && p == P(PROVISIONED));
    assert(!adapter_nsi_psm_parse("Provisioned ", &p));
    assert(adapter_nsi_lsm_parse("PassedEndTime", &l) && l == L(PASSED_END_TIME));
    assert(!adapter_nsi_lsm_parse("Dead", &l));
    assert(!strcmp(adapter_nsi_rsm_name(R(COMMITTING)), "ReserveCommitting"));
    assert(!strcmp(adapter_nsi_rsm_name(R(UNKNOWN)), "-"));
    assert(!strcmp(adapter_nsi_psm_name(P(RELEASING)), "Releasing"));
    assert(!strcmp(adapter_nsi_lsm_name(L(TERMINATED)), "Terminated"));
    assert(!strcmp(adapter_nsi_lsm_name((enum adapter_nsi_lsm) 99), "-"));
    struct adapter_nsi_states s = s_st(R(HELD), P(RELEASED), L(CREATED), false);
    assert(!strcmp(adapter_nsi_states_format(&s, buf, sizeof buf),
                   "ReserveHeld/Released/Created active=false"));
    assert(!strcmp(adapter_nsi_next_name(N(COMMIT)), "commit"));
}

static void
test_path(void)
{
    struct adapter_nsi_states s;

    s = s_st(R(CHECKING), P(UNKNOWN), L(CREATED), false);
    assert(adapter_nsi_state_path(&s, false) == PATH(PROVISIONING));
    s = s_st(R(START), P(PROVISIONED), L(CREATED), true);
    assert(adapter_nsi_state_path(&s, false) == PATH(UP));
    assert(adapter_nsi_state_path(&s, true) == PATH(TEARING_DOWN));
    /* active before Provisioned (OpenNSA, start now): not up yet */
    s = s_st(R(START), P(PROVISIONING), L(CREATED), true);
    assert(adapter_nsi_state_path(&s, false) == PATH(PROVISIONING));
    /* Provisioned before startTime: not up yet */
    s = s_st(R(START), P(PROVISIONED), L(CREATED), false);
    assert(adapter_nsi_state_path(&s, false) == PATH(PROVISIONING));
    s = s_st(R(TIMEOUT), P(RELEASED), L(CREATED), false);
    assert(adapter_nsi_state_path(&s, false) == PATH(FAILED));
    s = s_st(R(FAILED), P(RELEASED), L(CREATED), false);
    assert(adapter_nsi_state_path(&s, false) == PATH(FAILED));
    assert(adapter_nsi_state_path(&s, true) == PATH(TEARING_DOWN));
    s = s_st(R(START), P(RELEASED), L(TERMINATED), false);
    assert(adapter_nsi_state_path(&s, true) == PATH(DOWN));
    assert(adapter_nsi_state_path(&s, false) == PATH(FAILED));
    /* Terminated may still read Provisioned (OpenNSA) */
    s = s_st(R(START), P(PROVISIONED), L(TERMINATED), true);
    assert(adapter_nsi_state_path(&s, true) == PATH(DOWN));
    s = s_st(R(START), P(PROVISIONED), L(PASSED_END_TIME), false);
    assert(adapter_nsi_state_path(&s, false) == PATH(FAILED));
    s = s_st(R(START), P(PROVISIONED), L(FAILED), true);
    assert(adapter_nsi_state_path(&s, false) == PATH(FAILED));
    s = s_st(R(START), P(RELEASED), L(TERMINATING), false);
    assert(adapter_nsi_state_path(&s, true) == PATH(TEARING_DOWN));
}

static void
test_next_up(void)
{
    struct adapter_nsi_states s;

    /* a whole start-now flow, as OpenNSA shows it */
    s = s_st(R(START), P(RELEASED), L(CREATED), false);
    assert(adapter_nsi_state_next(&s, true, false) == N(WAIT));
    s = s_st(R(CHECKING), P(RELEASED), L(CREATED), false);
    assert(adapter_nsi_state_next(&s, true, false) == N(WAIT));
    s = s_st(R(HELD), P(RELEASED), L(CREATED), false);
    assert(adapter_nsi_state_next(&s, true, false) == N(COMMIT));
    assert(adapter_nsi_state_next(&s, true, true) == N(WAIT));
    s = s_st(R(COMMITTING), P(RELEASED), L(CREATED), false);
    assert(adapter_nsi_state_next(&s, true, true) == N(WAIT));
    s = s_st(R(START), P(RELEASED), L(CREATED), false);
    assert(adapter_nsi_state_next(&s, true, true) == N(PROVISION));
    s = s_st(R(START), P(PROVISIONING), L(CREATED), true);
    assert(adapter_nsi_state_next(&s, true, true) == N(WAIT));
    s = s_st(R(START), P(PROVISIONED), L(CREATED), false);
    assert(adapter_nsi_state_next(&s, true, true) == N(WAIT));
    s = s_st(R(START), P(PROVISIONED), L(CREATED), true);
    assert(adapter_nsi_state_next(&s, true, true) == N(DONE));
    /* failures */
    s = s_st(R(TIMEOUT), P(RELEASED), L(CREATED), false);
    assert(adapter_nsi_state_next(&s, true, false) == N(FAIL));
    s = s_st(R(FAILED), P(RELEASED), L(CREATED), false);
    assert(adapter_nsi_state_next(&s, true, false) == N(FAIL));
    s = s_st(R(START), P(PROVISIONED), L(TERMINATED), false);
    assert(adapter_nsi_state_next(&s, true, true) == N(FAIL));
    s = s_st(R(START), P(PROVISIONED), L(UNKNOWN), false);
    assert(adapter_nsi_state_next(&s, true, true) == N(WAIT));
}

static void
test_next_down(void)
{
    struct adapter_nsi_states s;

    s = s_st(R(START), P(PROVISIONED), L(CREATED), true);
    assert(adapter_nsi_state_next(&s, false, true) == N(RELEASE));
    s = s_st(R(START), P(PROVISIONING), L(CREATED), true);
    assert(adapter_nsi_state_next(&s, false, true) == N(WAIT));
    s = s_st(R(START), P(RELEASING), L(CREATED), false);
    assert(adapter_nsi_state_next(&s, false, true) == N(WAIT));
    s = s_st(R(START), P(RELEASED), L(CREATED), false);
    assert(adapter_nsi_state_next(&s, false, true) == N(TERMINATE));
    s = s_st(R(HELD), P(RELEASED), L(CREATED), false);
    assert(adapter_nsi_state_next(&s, false, false) == N(TERMINATE));
    /* a commit refused after the hold timeout leaves ReserveCommitting */
    s = s_st(R(COMMITTING), P(RELEASED), L(CREATED), false);
    assert(adapter_nsi_state_next(&s, false, true) == N(TERMINATE));
    s = s_st(R(START), P(RELEASED), L(TERMINATING), false);
    assert(adapter_nsi_state_next(&s, false, true) == N(WAIT));
    s = s_st(R(START), P(PROVISIONED), L(TERMINATED), true);
    assert(adapter_nsi_state_next(&s, false, true) == N(DONE));
    s = s_st(R(START), P(PROVISIONED), L(PASSED_END_TIME), false);
    assert(adapter_nsi_state_next(&s, false, true) == N(TERMINATE));
    s = s_st(R(START), P(PROVISIONED), L(FAILED), false);
    assert(adapter_nsi_state_next(&s, false, true) == N(TERMINATE));
}

static void
test_hold(void)
{
    assert(!adapter_nsi_hold_expired(1000, 1000, 3000));
    assert(!adapter_nsi_hold_expired(1000, 3999, 3000));
    assert(adapter_nsi_hold_expired(1000, 4000, 3000));
    assert(!adapter_nsi_hold_expired(5000, 1000, 3000));    /* clock back */
}

int
main(void)
{
    test_names();
    test_path();
    test_next_up();
    test_next_down();
    test_hold();
    return 0;
}
