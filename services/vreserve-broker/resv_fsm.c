/* SPDX-License-Identifier: MIT */
/* The transition table of resv_fsm.h, as data: one row per state, one bit
 * per state it may move to. */
#include "resv_fsm.h"

#include <string.h>

#define S_BIT(S) (1u << (VR__RESV_STATE__RESV_STATE_##S))

static const unsigned s_next[] = {
    [VR__RESV_STATE__RESV_STATE_SCHEDULED] =
        S_BIT(SCHEDULED) | S_BIT(REQUESTED) | S_BIT(RELEASED) | S_BIT(FAILED),
    [VR__RESV_STATE__RESV_STATE_REQUESTED] =
        S_BIT(PROVISIONING) | S_BIT(RELEASED) | S_BIT(FAILED),
    [VR__RESV_STATE__RESV_STATE_PROVISIONING] =
        S_BIT(ACTIVE) | S_BIT(RELEASING) | S_BIT(FAILED),
    [VR__RESV_STATE__RESV_STATE_ACTIVE] = S_BIT(RELEASING) | S_BIT(FAILED),
    [VR__RESV_STATE__RESV_STATE_RELEASING] = S_BIT(RELEASED) | S_BIT(FAILED),
    [VR__RESV_STATE__RESV_STATE_RELEASED] = 0,
    [VR__RESV_STATE__RESV_STATE_FAILED] = 0,
};

static const char *const s_names[] = {
    [VR__RESV_STATE__RESV_STATE_UNKNOWN] = "unknown",
    [VR__RESV_STATE__RESV_STATE_REQUESTED] = "requested",
    [VR__RESV_STATE__RESV_STATE_PROVISIONING] = "provisioning",
    [VR__RESV_STATE__RESV_STATE_ACTIVE] = "active",
    [VR__RESV_STATE__RESV_STATE_RELEASING] = "releasing",
    [VR__RESV_STATE__RESV_STATE_RELEASED] = "released",
    [VR__RESV_STATE__RESV_STATE_FAILED] = "failed",
    [VR__RESV_STATE__RESV_STATE_SCHEDULED] = "scheduled",
};

enum { S_N = sizeof s_names / sizeof s_names[0] };

static bool
s_known(Vr__ResvState s)
{
    return (int) s > 0 && (int) s < S_N;
}

bool
resv_fsm_legal(Vr__ResvState from, Vr__ResvState to)
{
    return s_known(from) && s_known(to) && (s_next[from] & (1u << to));
}

bool
resv_fsm_final(Vr__ResvState s)
{
    return s == VR__RESV_STATE__RESV_STATE_RELEASED
           || s == VR__RESV_STATE__RESV_STATE_FAILED;
}

bool
resv_fsm_holds_path(Vr__ResvState s)
{
    return s == VR__RESV_STATE__RESV_STATE_PROVISIONING
           || s == VR__RESV_STATE__RESV_STATE_ACTIVE
           || s == VR__RESV_STATE__RESV_STATE_RELEASING;
}

const char *
resv_fsm_name(Vr__ResvState s)
{
    return (int) s >= 0 && (int) s < S_N ? s_names[s] : "?";
}

bool
resv_fsm_parse(const char *name, Vr__ResvState *s)
{
    for (int i = 1; i < S_N; i++) {
        if (name && !strcmp(name, s_names[i])) {
            *s = (Vr__ResvState) i;
            return true;
        }
    }
    return false;
}
