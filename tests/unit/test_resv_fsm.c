/* SPDX-License-Identifier: MIT */
/* vreserve-broker's state machine: every legal transition is allowed, and
 * every other pair of states is refused. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>

#include "resv_fsm.h"

#define S(X) VR__RESV_STATE__RESV_STATE_##X

int
main(void)
{
    static const struct { Vr__ResvState from, to; } legal[] = {
        { S(REQUESTED), S(PROVISIONING) }, { S(REQUESTED), S(RELEASED) },
        { S(REQUESTED), S(FAILED) },       { S(PROVISIONING), S(ACTIVE) },
        { S(PROVISIONING), S(RELEASING) }, { S(PROVISIONING), S(FAILED) },
        { S(ACTIVE), S(RELEASING) },       { S(ACTIVE), S(FAILED) },
        { S(RELEASING), S(RELEASED) },     { S(RELEASING), S(FAILED) },
        { S(SCHEDULED), S(REQUESTED) },    { S(SCHEDULED), S(RELEASED) },
        { S(SCHEDULED), S(FAILED) },       { S(SCHEDULED), S(SCHEDULED) },
    };
    size_t n_legal = 0;
    for (int from = 0; from <= 8; from++) {
        for (int to = 0; to <= 8; to++) {
            bool want = false;
            for (size_t i = 0; i < sizeof legal / sizeof legal[0]; i++) {
                want |= (int) legal[i].from == from && (int) legal[i].to == to;
            }
            assert(resv_fsm_legal(from, to) == want);
            n_legal += want;
        }
    }
    assert(n_legal == 14);

    assert(resv_fsm_final(S(RELEASED)) && resv_fsm_final(S(FAILED)));
    assert(!resv_fsm_final(S(ACTIVE)) && !resv_fsm_final(S(REQUESTED)));
    assert(resv_fsm_holds_path(S(PROVISIONING)));
    assert(resv_fsm_holds_path(S(ACTIVE)));
    assert(resv_fsm_holds_path(S(RELEASING)));
    assert(!resv_fsm_holds_path(S(REQUESTED)));
    assert(!resv_fsm_holds_path(S(RELEASED)));
    assert(!resv_fsm_holds_path(S(SCHEDULED)));
    assert(!resv_fsm_final(S(SCHEDULED)));

    Vr__ResvState s;
    for (int i = 1; i <= 7; i++) {
        assert(resv_fsm_parse(resv_fsm_name(i), &s) && (int) s == i);
    }
    assert(!resv_fsm_parse("bogus", &s) && !resv_fsm_parse(NULL, &s));
    assert(resv_fsm_name(42)[0] == '?');
    printf("test_resv_fsm: ok\n");
    return 0;
}
