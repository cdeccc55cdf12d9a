/* SPDX-License-Identifier: MIT */
/* Store errors on demand for the tests' service builds (vr-broker-faulty,
 * vr-adapter-faulty): while the file named by $VR_FAULT_FILE exists, the
 * service's store fails every SQLite call as an I/O error would.  (A
 * signal would do, but any signal ends the service's zloop.) */
#ifndef VR_FAULTFILE_H
#define VR_FAULTFILE_H

#include <stdbool.h>

#include "svc.h"

/* Turns the store errors of 'arg' (the service) on if 'failing', else
 * off.  Returns false if there is no store to turn (yet): then it is
 * asked again at the next poll. */
typedef bool faultfile_set_fn(void *arg, bool failing);

/* Polls $VR_FAULT_FILE every 10 ms on 'svc' and calls 'set'('arg', ...)
 * each time the file comes or goes, logging "test: store errors on" or
 * "... off".  One watch per process.  Returns 0, or -1 if the timer
 * could not be added. */
int faultfile_watch(svc_t *svc, faultfile_set_fn *set, void *arg);

#endif /* VR_FAULTFILE_H */
