/* SPDX-License-Identifier: MIT */
/* The core of the harnesses that drive a service's real request handler
 * without a peer: the service is started from a config of the harness's
 * (its sockets inproc, never used), on a fake bus (bus_set_fake(): its
 * replies, publications and calls to other services come here) and a
 * fake clock (vtime_fake_set()), and each record of the input is handed
 * to its handler table (svc_dispatch()).  Checked for every record:
 * exactly one reply; a request answered with an Error changes no state
 * the service shows (the replies to the harness's snapshot requests are
 * the same bytes before and after); the service's own limit check holds
 * after every request.  The snapshot before a request is the one taken
 * after the last, unless time passed in between; every 64th record it
 * is taken again and must be the same bytes (snapshot requests change
 * nothing).
 *
 * The service lives as long as the process, so state carries over from
 * one input to the next.
 *
 * An input is a sequence of records: type (1 byte), body length (2
 * bytes, big-endian), a control byte, then the body.  The control byte's
 * low 7 bits are seconds the clock moves first, after which every timer
 * of the service fires once; its top bit makes calls to other services
 * get an empty reply of the expected type rather than ERR_UNAVAILABLE. */
#ifndef VR_SVC_HARNESS_H
#define VR_SVC_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "svc.h"

struct svch_def {
    const struct svc_def *def;  /* the service's definition */
    size_t cfg_size;            /* sizeof its config struct */
    /* Config YAML; "@N@" is replaced by a number unique to the process. */
    const char *yaml;
    /* Starts the service on 'svc' with config 'cfg'; NULL on failure. */
    void *(*start)(svc_t *svc, void *cfg);
    /* Requests whose replies show the service's state (bodies empty). */
    const int *snapshot;
    size_t n_snapshot;
    /* Optional: checks the service's limits, given the replies to
     * 'snapshot' (bodies, in order); aborts through FUZZ_CHECK. */
    void (*check_limits)(void *service, void *cfg,
                         ProtobufCMessage *const *replies);
    /* Optional: hands 'msg' to the service's other readers (messages it
     * subscribes to, not requests): -1 if it takes no such type (then it
     * goes to the control handlers), 0 if it refused it, 1 if it took
     * it.  A refused message, too, must change no state. */
    int (*take)(void *service, const bus_msg_t *msg);
    /* True if a request may be answered later (svc_defer()): then a
     * request may get no reply at once; only one of 'deferred_types',
     * if that is set. */
    bool deferred;
    const int *deferred_types;
    size_t n_deferred_types;
    /* Optional: changes request 'm' of 'type' before it is handled
     * (keeps the addresses it names on loopback, say). */
    void (*prepare)(int type, ProtobufCMessage *m);
};

/* Runs the input 'data' ('size' bytes) against the service of 'd',
 * started at the first call and kept for the process's life.  Returns 0
 * (libFuzzer's convention). */
int svch_run(const struct svch_def *d, const uint8_t *data, size_t size);

#endif /* VR_SVC_HARNESS_H */
