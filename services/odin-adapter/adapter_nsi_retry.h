/* SPDX-License-Identifier: MIT */
/* The nsi backend's retries while the provider cannot be reached (pure,
 * unit-tested): which failures count (a call that could not reach the
 * provider, or got no answer in time: never a SOAP fault, nor a reply
 * that was wrong), and the bounded exponential back-off between tries,
 * nsi.retry.first_ms doubling to nsi.retry.max_ms, given up once the
 * provider has been unreachable nsi.retry.give_up_ms. */
#ifndef ADAPTER_NSI_RETRY_H
#define ADAPTER_NSI_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "adapter_nsi_soap.h"

/* One connection's run of unreachable tries. */
struct adapter_nsi_retry {
    int64_t since_ms;           /* monotonic: the first failure; 0: none */
    uint32_t tries;             /* failures in this run */
};

/* Whether 'res' (of operation 'op') is the provider being unreachable:
 * nothing sent (refused, no route, connect timeout), or for any
 * operation but reserve a call that timed out (sending a commit,
 * provision or query again is harmless; a reserve that timed out may
 * have been made, and is looked for instead). */
bool adapter_nsi_retry_applies(const struct adapter_nsi_result *res);

/* A failure at monotonic 'now_ms': the wait before the next try (ms), or
 * -1 when the run has lasted 'cfg->retry_give_up_ms' (give up). */
int64_t adapter_nsi_retry_next(struct adapter_nsi_retry *r,
                               const struct adapter_nsi_config *cfg,
                               int64_t now_ms);

/* A call got through: the run is over. */
void adapter_nsi_retry_reset(struct adapter_nsi_retry *r);

#endif /* ADAPTER_NSI_RETRY_H */
