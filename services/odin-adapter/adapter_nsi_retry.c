/* SPDX-License-Identifier: MIT */
/* The nsi backend's retry policy (adapter_nsi_retry.h). */
#include "adapter_nsi_retry.h"

bool
adapter_nsi_retry_applies(const struct adapter_nsi_result *res)
{
    if (res->status != ADAPTER_NSI_FAILED) {
        return false;           /* answered, or a SOAP fault */
    }
    return res->unreached
           || (res->timed_out && res->op != ADAPTER_NSI_OP_RESERVE);
}

int64_t
adapter_nsi_retry_next(struct adapter_nsi_retry *r,
                       const struct adapter_nsi_config *cfg, int64_t now_ms)
{
    if (!r->since_ms) {
        r->since_ms = now_ms ? now_ms : 1;
        r->tries = 0;
    }
    r->tries++;
    if (now_ms - r->since_ms >= (int64_t) cfg->retry_give_up_ms) {
        return -1;
    }
    int64_t wait = cfg->retry_first_ms;
    for (uint32_t i = 1; i < r->tries && wait < cfg->retry_max_ms; i++) {
        wait *= 2;
    }
    if (wait > (int64_t) cfg->retry_max_ms) {
        wait = cfg->retry_max_ms;
    }
    /* Never past the give-up time: the last try is at it. */
    int64_t left = r->since_ms + cfg->retry_give_up_ms - now_ms;
    return wait < left ? wait : left;
}

void
adapter_nsi_retry_reset(struct adapter_nsi_retry *r)
{
    r->since_ms = 0;
    r->tries = 0;
}
