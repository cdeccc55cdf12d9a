/* SPDX-License-Identifier: MIT */
/* The 'nsi' backend (adapter_backend_nsi.c): a path is an NSI CS 2.0
 * connection at a provider, driven over SOAP (adapter_nsi_soap.h) by
 * polling querySummarySync (adapter_nsi_state.h).  Declared here: the
 * format of its r.backend_ref (pure, unit-tested) and a hook for tests. */
#ifndef ADAPTER_BACKEND_NSI_H
#define ADAPTER_BACKEND_NSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter_backend.h"

/* The globalReservationId the adapter makes: "urn:uuid:" and 36. */
#define ADAPTER_NSI_GID_LEN 45

/* Writes a path's r.backend_ref: "<connectionId> <globalReservationId>",
 * with "-" for a connection id not known yet (the reserve's reply has not
 * come).  'cid' is NULL or "" for none; 'gid' "urn:uuid:<36>".  Returns
 * false (nothing written) when either is malformed or 'buf' too small. */
bool adapter_nsi_ref_format(const char *cid, const char *gid, char *buf,
                            size_t size);

/* Parses 'ref' as adapter_nsi_ref_format() writes it: '*cid' gets the
 * connection id ("" for "-"), '*gid' the global id (at least
 * ADAPTER_NSI_GID_LEN + 1 bytes each way the sizes say).  Returns false on
 * anything else (left as they were). */
bool adapter_nsi_ref_parse(const char *ref, char *cid, size_t cid_size,
                           char *gid, size_t gid_size);

/* For tests only (tests/tools/vr-adapter-faulty.c): every reserveCommit
 * waits until 'ms' after the hold was seen; with 'past_deadline' whatever
 * nsi.commit_deadline_ms says, so that a provider's hold timeout can be
 * met, else the deadline still aborts the hold.  Logged as a warning
 * when a backend opens with it set.  0: off. */
void adapter_backend_nsi_test_commit_delay(uint32_t ms, bool past_deadline);

/* For tests only (vr-adapter-faulty): the provision goes out no sooner
 * than 'provision_ms' after the commit was acknowledged, and a path is
 * reported up no sooner than 'up_ms' after the provision was, so that a
 * kill lands in those phases; each logged (INFO, "test: path p-N:
 * committed ...", "... provision acknowledged ...").  0: off. */
void adapter_backend_nsi_test_step_delay(uint32_t provision_ms,
                                         uint32_t up_ms);

#endif /* ADAPTER_BACKEND_NSI_H */
