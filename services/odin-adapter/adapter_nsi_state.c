/* SPDX-License-Identifier: MIT */
/* NSI CS 2.0 state names, the path state they amount to and the next
 * requester operation; see adapter_nsi_state.h.  Used by
 * adapter_nsi_soap.c (parsing) and by whoever drives connections. */
#include "adapter_nsi_state.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

struct s_name {
    const char *name;
    int value;
};

static const struct s_name s_rsm[] = {
    { "ReserveStart", ADAPTER_NSI_RSM_START },
    { "ReserveChecking", ADAPTER_NSI_RSM_CHECKING },
    { "ReserveHeld", ADAPTER_NSI_RSM_HELD },
    { "ReserveCommitting", ADAPTER_NSI_RSM_COMMITTING },
    { "ReserveComitting", ADAPTER_NSI_RSM_COMMITTING },  /* OpenNSA's */
    { "ReserveFailed", ADAPTER_NSI_RSM_FAILED },
    { "ReserveTimeout", ADAPTER_NSI_RSM_TIMEOUT },
    { "ReserveAborting", ADAPTER_NSI_RSM_ABORTING },
    { NULL, 0 },
};

static const struct s_name s_psm[] = {
    { "Released", ADAPTER_NSI_PSM_RELEASED },
    { "Provisioning", ADAPTER_NSI_PSM_PROVISIONING },
    { "Provisioned", ADAPTER_NSI_PSM_PROVISIONED },
    { "Releasing", ADAPTER_NSI_PSM_RELEASING },
    { NULL, 0 },
};

static const struct s_name s_lsm[] = {
    { "Created", ADAPTER_NSI_LSM_CREATED },
    { "Failed", ADAPTER_NSI_LSM_FAILED },
    { "PassedEndTime", ADAPTER_NSI_LSM_PASSED_END_TIME },
    { "Terminating", ADAPTER_NSI_LSM_TERMINATING },
    { "Terminated", ADAPTER_NSI_LSM_TERMINATED },
    { NULL, 0 },
};

static bool
s_parse(const struct s_name *t, const char *s, int *out)
{
    if (!s) {
        return false;
    }
    for (; t->name; t++) {
        if (!strcmp(t->name, s)) {
            *out = t->value;
            return true;
        }
    }
    return false;
}

static const char *
s_name(const struct s_name *t, int v)
{
    for (; t->name; t++) {
        if (t->value == v) {
            return t->name;
        }
    }
    return "-";
}

bool
adapter_nsi_rsm_parse(const char *s, enum adapter_nsi_rsm *out)
{
    int v;
    if (!s_parse(s_rsm, s, &v)) {
        return false;
    }
    *out = (enum adapter_nsi_rsm) v;
    return true;
}

bool
adapter_nsi_psm_parse(const char *s, enum adapter_nsi_psm *out)
{
    int v;
    if (!s_parse(s_psm, s, &v)) {
        return false;
    }
    *out = (enum adapter_nsi_psm) v;
    return true;
}

bool
adapter_nsi_lsm_parse(const char *s, enum adapter_nsi_lsm *out)
{
    int v;
    if (!s_parse(s_lsm, s, &v)) {
        return false;
    }
    *out = (enum adapter_nsi_lsm) v;
    return true;
}

const char *
adapter_nsi_rsm_name(enum adapter_nsi_rsm s)
{
    return s_name(s_rsm, (int) s);
}

const char *
adapter_nsi_psm_name(enum adapter_nsi_psm s)
{
    return s_name(s_psm, (int) s);
}

const char *
adapter_nsi_lsm_name(enum adapter_nsi_lsm s)
{
    return s_name(s_lsm, (int) s);
}

char *
adapter_nsi_states_format(const struct adapter_nsi_states *s, char *buf,
                          size_t size)
{
    assert(s && buf && size);
    snprintf(buf, size, "%s/%s/%s active=%s", adapter_nsi_rsm_name(s->rsm),
             adapter_nsi_psm_name(s->psm), adapter_nsi_lsm_name(s->lsm),
             s->active ? "true" : "false");
    return buf;
}

enum adapter_nsi_path
adapter_nsi_state_path(const struct adapter_nsi_states *s, bool ending)
{
    assert(s);
    switch (s->lsm) {
    case ADAPTER_NSI_LSM_TERMINATED:
        return ending ? ADAPTER_NSI_PATH_DOWN : ADAPTER_NSI_PATH_FAILED;
    case ADAPTER_NSI_LSM_FAILED:
    case ADAPTER_NSI_LSM_PASSED_END_TIME:
    case ADAPTER_NSI_LSM_TERMINATING:
        return ending ? ADAPTER_NSI_PATH_TEARING_DOWN : ADAPTER_NSI_PATH_FAILED;
    case ADAPTER_NSI_LSM_CREATED:
    case ADAPTER_NSI_LSM_UNKNOWN:
        break;
    }
    if (ending) {
        return ADAPTER_NSI_PATH_TEARING_DOWN;
    }
    if (s->rsm == ADAPTER_NSI_RSM_FAILED || s->rsm == ADAPTER_NSI_RSM_TIMEOUT) {
        return ADAPTER_NSI_PATH_FAILED;
    }
    if (s->psm == ADAPTER_NSI_PSM_PROVISIONED && s->active) {
        return ADAPTER_NSI_PATH_UP;
    }
    return ADAPTER_NSI_PATH_PROVISIONING;
}

static enum adapter_nsi_next
s_next_down(const struct adapter_nsi_states *s)
{
    switch (s->lsm) {
    case ADAPTER_NSI_LSM_TERMINATED:
        return ADAPTER_NSI_NEXT_DONE;
    case ADAPTER_NSI_LSM_TERMINATING:
        return ADAPTER_NSI_NEXT_WAIT;
    case ADAPTER_NSI_LSM_FAILED:
    case ADAPTER_NSI_LSM_PASSED_END_TIME:
        return ADAPTER_NSI_NEXT_TERMINATE;
    case ADAPTER_NSI_LSM_CREATED:
    case ADAPTER_NSI_LSM_UNKNOWN:
        break;
    }
    switch (s->psm) {
    case ADAPTER_NSI_PSM_PROVISIONED:
        return ADAPTER_NSI_NEXT_RELEASE;
    case ADAPTER_NSI_PSM_PROVISIONING:
    case ADAPTER_NSI_PSM_RELEASING:
        return ADAPTER_NSI_NEXT_WAIT;
    case ADAPTER_NSI_PSM_RELEASED:
    case ADAPTER_NSI_PSM_UNKNOWN:
        break;
    }
    /* Terminate is valid in every reservation state.  Waiting for a
     * transitional one to pass could wait for ever: OpenNSA leaves a
     * commit refused after the hold timeout in ReserveCommitting. */
    return ADAPTER_NSI_NEXT_TERMINATE;
}

enum adapter_nsi_next
adapter_nsi_state_next(const struct adapter_nsi_states *s, bool up,
                       bool committed)
{
    assert(s);
    if (!up) {
        return s_next_down(s);
    }
    if (s->lsm != ADAPTER_NSI_LSM_CREATED) {
        /* Unknown included: a reply without a lifecycle is no basis for
         * a step, and every later state of the lifecycle is an end. */
        return s->lsm == ADAPTER_NSI_LSM_UNKNOWN ? ADAPTER_NSI_NEXT_WAIT
                                                 : ADAPTER_NSI_NEXT_FAIL;
    }
    switch (s->rsm) {
    case ADAPTER_NSI_RSM_FAILED:
    case ADAPTER_NSI_RSM_TIMEOUT:
        return ADAPTER_NSI_NEXT_FAIL;
    case ADAPTER_NSI_RSM_HELD:
        return committed ? ADAPTER_NSI_NEXT_WAIT : ADAPTER_NSI_NEXT_COMMIT;
    case ADAPTER_NSI_RSM_START:
        if (!committed) {
            /* Before the provider checked the request, or after an
             * abort that the requester did not send: wait for the hold. */
            return ADAPTER_NSI_NEXT_WAIT;
        }
        break;
    case ADAPTER_NSI_RSM_CHECKING:
    case ADAPTER_NSI_RSM_COMMITTING:
    case ADAPTER_NSI_RSM_ABORTING:
    case ADAPTER_NSI_RSM_UNKNOWN:
        return ADAPTER_NSI_NEXT_WAIT;
    }
    switch (s->psm) {
    case ADAPTER_NSI_PSM_RELEASED:
        return ADAPTER_NSI_NEXT_PROVISION;
    case ADAPTER_NSI_PSM_PROVISIONED:
        return s->active ? ADAPTER_NSI_NEXT_DONE : ADAPTER_NSI_NEXT_WAIT;
    case ADAPTER_NSI_PSM_PROVISIONING:
    case ADAPTER_NSI_PSM_RELEASING:
    case ADAPTER_NSI_PSM_UNKNOWN:
        break;
    }
    return ADAPTER_NSI_NEXT_WAIT;
}

const char *
adapter_nsi_next_name(enum adapter_nsi_next n)
{
    switch (n) {
    case ADAPTER_NSI_NEXT_WAIT: return "wait";
    case ADAPTER_NSI_NEXT_COMMIT: return "commit";
    case ADAPTER_NSI_NEXT_PROVISION: return "provision";
    case ADAPTER_NSI_NEXT_RELEASE: return "release";
    case ADAPTER_NSI_NEXT_TERMINATE: return "terminate";
    case ADAPTER_NSI_NEXT_DONE: return "done";
    case ADAPTER_NSI_NEXT_FAIL: return "fail";
    }
    return "?";
}

bool
adapter_nsi_hold_expired(int64_t held_ms, int64_t now_ms,
                         uint32_t hold_timeout_ms)
{
    return now_ms >= held_ms && now_ms - held_ms >= (int64_t) hold_timeout_ms;
}
