/* SPDX-License-Identifier: MIT */
/* NSI CS 2.0 connection states as an NSI provider reports them (the
 * reservation, provision and lifecycle state machines plus the data
 * plane's 'active'), parsed from their names, named back for display,
 * mapped onto the adapter's path states, and the next operation a
 * requester should send to bring a connection up or down.  Pure
 * functions: adapter_nsi_soap.c parses the states, the 'nsi' backend and
 * tests/tools/vr-nsi-cli.c decide with them. */
#ifndef ADAPTER_NSI_STATE_H
#define ADAPTER_NSI_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reservation state machine (NSI CS 2.0 "ReservationStateEnumType"). */
enum adapter_nsi_rsm {
    ADAPTER_NSI_RSM_UNKNOWN = 0,    /* not reported (yet) */
    ADAPTER_NSI_RSM_START,          /* ReserveStart: nothing held */
    ADAPTER_NSI_RSM_CHECKING,       /* ReserveChecking */
    ADAPTER_NSI_RSM_HELD,           /* ReserveHeld: waits for a commit */
    ADAPTER_NSI_RSM_COMMITTING,     /* ReserveCommitting */
    ADAPTER_NSI_RSM_FAILED,         /* ReserveFailed */
    ADAPTER_NSI_RSM_TIMEOUT,        /* ReserveTimeout: the hold expired */
    ADAPTER_NSI_RSM_ABORTING,       /* ReserveAborting */
};

/* Provision state machine. */
enum adapter_nsi_psm {
    ADAPTER_NSI_PSM_UNKNOWN = 0,
    ADAPTER_NSI_PSM_RELEASED,
    ADAPTER_NSI_PSM_PROVISIONING,
    ADAPTER_NSI_PSM_PROVISIONED,
    ADAPTER_NSI_PSM_RELEASING,
};

/* Lifecycle state machine. */
enum adapter_nsi_lsm {
    ADAPTER_NSI_LSM_UNKNOWN = 0,
    ADAPTER_NSI_LSM_CREATED,
    ADAPTER_NSI_LSM_FAILED,
    ADAPTER_NSI_LSM_PASSED_END_TIME,
    ADAPTER_NSI_LSM_TERMINATING,
    ADAPTER_NSI_LSM_TERMINATED,
};

/* One connection's states as last reported. */
struct adapter_nsi_states {
    enum adapter_nsi_rsm rsm;   /* reservationState */
    enum adapter_nsi_psm psm;   /* provisionState */
    enum adapter_nsi_lsm lsm;   /* lifecycleState */
    bool active;                /* dataPlaneStatus/active */
};

/* Parse an NSI state name (exact, case-sensitive; OpenNSA's misspelt
 * "ReserveComitting" is accepted too).  Return false when 's' is not
 * one, leaving '*out' alone. */
bool adapter_nsi_rsm_parse(const char *s, enum adapter_nsi_rsm *out);
bool adapter_nsi_psm_parse(const char *s, enum adapter_nsi_psm *out);
bool adapter_nsi_lsm_parse(const char *s, enum adapter_nsi_lsm *out);

/* The NSI name of a state ("ReserveHeld"), "-" for UNKNOWN.  Static. */
const char *adapter_nsi_rsm_name(enum adapter_nsi_rsm s);
const char *adapter_nsi_psm_name(enum adapter_nsi_psm s);
const char *adapter_nsi_lsm_name(enum adapter_nsi_lsm s);

/* Writes "ReserveHeld/Released/Created active=false" into 'buf'
 * ('size' bytes) and returns 'buf'. */
char *adapter_nsi_states_format(const struct adapter_nsi_states *s,
                                char *buf, size_t size);

/* The adapter's path states (values as proto/adapter.proto's PathState). */
enum adapter_nsi_path {
    ADAPTER_NSI_PATH_PROVISIONING = 1,
    ADAPTER_NSI_PATH_UP = 2,
    ADAPTER_NSI_PATH_TEARING_DOWN = 3,
    ADAPTER_NSI_PATH_DOWN = 4,
    ADAPTER_NSI_PATH_FAILED = 5,
};

/* Maps a connection's states onto a path state.  'ending' says that the
 * requester has asked for the connection to end (release, terminate or
 * abort sent).  Terminated while ending is DOWN, otherwise FAILED (the
 * provider ended it); a failed or timed-out reservation, a failed or
 * ended lifecycle are FAILED (TEARING_DOWN while ending, until
 * Terminated); Provisioned with the data plane active is UP; anything
 * else is PROVISIONING (or TEARING_DOWN while ending). */
enum adapter_nsi_path adapter_nsi_state_path(const struct adapter_nsi_states *s,
                                             bool ending);

/* What a requester sends next. */
enum adapter_nsi_next {
    ADAPTER_NSI_NEXT_WAIT = 0,      /* poll again */
    ADAPTER_NSI_NEXT_COMMIT,        /* reserveCommit */
    ADAPTER_NSI_NEXT_PROVISION,     /* provision */
    ADAPTER_NSI_NEXT_RELEASE,       /* release */
    ADAPTER_NSI_NEXT_TERMINATE,     /* terminate */
    ADAPTER_NSI_NEXT_DONE,          /* goal reached */
    ADAPTER_NSI_NEXT_FAIL,          /* cannot reach 'up': end it */
};

/* The next step towards 'up' (reserve held → commit → provision →
 * Provisioned and active) or, with 'up' false, towards Terminated
 * (release what is provisioned, then terminate).  'committed' says a
 * reserveCommit was acknowledged: NSI shows ReserveStart both before a
 * hold and after its commit, so only the requester knows which.
 * Transitional states give WAIT (OpenNSA refuses a release while
 * Provisioning even when the data plane already reads active), except
 * that on the way down a reservation in transition is terminated at
 * once: terminate is valid in every reservation state. */
enum adapter_nsi_next adapter_nsi_state_next(const struct adapter_nsi_states *s,
                                             bool up, bool committed);

/* The name of 'n' ("commit"). Static. */
const char *adapter_nsi_next_name(enum adapter_nsi_next n);

/* Has a hold made at 'held_ms' expired by 'now_ms' at a provider whose
 * hold timeout is 'hold_timeout_ms'?  (OpenNSA keeps showing ReserveHeld
 * after its hold timeout and faults a late commit with 00500, so the
 * requester's clock tells a timed-out hold from another refusal.) */
bool adapter_nsi_hold_expired(int64_t held_ms, int64_t now_ms,
                              uint32_t hold_timeout_ms);

#endif /* ADAPTER_NSI_STATE_H */
