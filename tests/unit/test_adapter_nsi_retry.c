/* SPDX-License-Identifier: MIT */
/* The nsi backend's retry policy: only an unreachable provider is tried
 * again (never a SOAP fault or a bad reply; a reserve only when nothing
 * was sent); waits double from first_ms to max_ms, the last one cut to
 * the give-up time, then -1; a success starts over; give_up_ms 0 never
 * retries. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "adapter_nsi_retry.h"

int
main(void)
{
    struct adapter_nsi_result res;
    memset(&res, 0, sizeof res);
    res.status = ADAPTER_NSI_FAILED;
    res.op = ADAPTER_NSI_OP_RESERVE;
    res.unreached = true;
    assert(adapter_nsi_retry_applies(&res));        /* refused */
    res.unreached = false;
    res.timed_out = true;
    assert(!adapter_nsi_retry_applies(&res));   /* a reserve may be made */
    res.op = ADAPTER_NSI_OP_RESERVE_COMMIT;
    assert(adapter_nsi_retry_applies(&res));
    res.timed_out = false;
    assert(!adapter_nsi_retry_applies(&res));   /* HTTP 500, bad XML */
    res.status = ADAPTER_NSI_FAULT;
    res.unreached = true;
    assert(!adapter_nsi_retry_applies(&res));   /* a fault: answered */
    res.status = ADAPTER_NSI_OK;
    assert(!adapter_nsi_retry_applies(&res));

    struct adapter_nsi_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.retry_first_ms = 500;
    cfg.retry_max_ms = 8000;
    cfg.retry_give_up_ms = 60000;
    struct adapter_nsi_retry r = { 0, 0 };
    int64_t t = 1000;
    const int64_t want[] = { 500, 1000, 2000, 4000, 8000, 8000, 8000 };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int64_t w = adapter_nsi_retry_next(&r, &cfg, t);
        assert(w == want[i]);
        t += w;
    }
    assert(t == 1000 + 31500);
    int64_t total = t - 1000;
    while (total < 60000) {
        int64_t w = adapter_nsi_retry_next(&r, &cfg, t);
        assert(w > 0 && w <= 8000);
        t += w;
        total += w;
    }
    assert(total == 60000);                     /* cut to the limit */
    assert(adapter_nsi_retry_next(&r, &cfg, t) == -1);
    adapter_nsi_retry_reset(&r);
    assert(adapter_nsi_retry_next(&r, &cfg, t) == 500);

    cfg.retry_give_up_ms = 0;
    adapter_nsi_retry_reset(&r);
    assert(adapter_nsi_retry_next(&r, &cfg, t) == -1);
    printf("test_adapter_nsi_retry: ok\n");
    return 0;
}
