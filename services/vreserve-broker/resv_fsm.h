/* SPDX-License-Identifier: MIT */
/* The reservation lifecycle, after NSI CS 2.0's reservation, provision and
 * lifecycle machines folded into one ("reserve" and "provision" happen
 * together, at the start):
 *
 *   SCHEDULED ──its start time──▶ REQUESTED (an advance reservation)
 *
 *   REQUESTED ──adapter accepts──▶ PROVISIONING ──path up──▶ ACTIVE
 *       │                              │    │                  │
 *       │ release, or refused          │    │ path failed      │ release
 *       ▼                              │    ▼                  ▼
 *   RELEASED ◀──teardown done── RELEASING ◀┘release   FAILED ◀─ path lost
 *
 * SCHEDULED → SCHEDULED when booked at the adapter's calendar (a backend
 * that keeps one, NSI: the path is made at once, its data plane comes up
 * at the start),
 * SCHEDULED → RELEASED when released (cancelled) before its start,
 * SCHEDULED → FAILED when its network is gone at the start;
 * REQUESTED → RELEASED when released before the adapter was asked;
 * REQUESTED/PROVISIONING/ACTIVE → FAILED when the path cannot be had or
 * is lost; RELEASING → FAILED when the path vanished while being torn down.
 * RELEASED and FAILED are final.  Used by the broker and its store. */
#ifndef RESV_FSM_H
#define RESV_FSM_H

#include <stdbool.h>

#include "msgtype.h"

/* True if a reservation may go from 'from' to 'to'. */
bool resv_fsm_legal(Vr__ResvState from, Vr__ResvState to);

/* True for RELEASED and FAILED. */
bool resv_fsm_final(Vr__ResvState s);

/* True while a path exists or may exist: PROVISIONING, ACTIVE, RELEASING.
 * These count against the limits, and are what restart reconciles. */
bool resv_fsm_holds_path(Vr__ResvState s);

/* "requested", "provisioning", ... ("?" for an unknown value). */
const char *resv_fsm_name(Vr__ResvState s);

/* Parses a name as resv_fsm_name() writes it; returns false if unknown. */
bool resv_fsm_parse(const char *name, Vr__ResvState *s);

#endif /* RESV_FSM_H */
