/* SPDX-License-Identifier: MIT */
/* odin-adapter's run queue for oclient children: never more than
 * max_running at once; the rest start in the order they came as slots
 * free up; a cancelled entry never starts; a queue grows past its first
 * ring size without losing order; the peaks are the most at once. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>

#include "adapter_runq.h"

int
main(void)
{
    adapter_runq_t *q = adapter_runq_new(2);
    assert(q);
    uint64_t key;
    int op;
    assert(!adapter_runq_next(q, &key, &op));
    assert(adapter_runq_admit(q) && adapter_runq_admit(q));
    assert(!adapter_runq_admit(q));
    assert(adapter_runq_running(q) == 2);
    /* 40 wait: more than the ring's first size. */
    for (uint64_t k = 3; k < 43; k++) {
        assert(adapter_runq_push(q, k, (int) (k % 2)) == 0);
    }
    assert(adapter_runq_queued(q) == 40);
    assert(!adapter_runq_next(q, &key, &op));  /* both slots taken */
    assert(adapter_runq_cancel(q, 4));
    assert(!adapter_runq_cancel(q, 4));
    assert(!adapter_runq_cancel(q, 99));
    adapter_runq_done(q);
    /* A free slot with people waiting: no jumping the queue. */
    assert(!adapter_runq_admit(q));
    uint64_t want = 3;
    size_t peak = 0;
    while (adapter_runq_queued(q) > 0) {
        while (adapter_runq_next(q, &key, &op)) {
            assert(key == want && op == (int) (want % 2));
            want = want == 3 ? 5 : want + 1;   /* 4 was cancelled */
            if (adapter_runq_running(q) > peak) {
                peak = adapter_runq_running(q);
            }
        }
        assert(adapter_runq_running(q) == 2 || adapter_runq_queued(q) == 0);
        adapter_runq_done(q);
    }
    assert(want == 43 && peak == 2);
    adapter_runq_done(q);
    adapter_runq_done(q);
    adapter_runq_done(q);                   /* one too many: stays 0 */
    assert(adapter_runq_running(q) == 0);
    /* The peaks stay when the queue is empty again. */
    assert(adapter_runq_peak_running(q) == 2);
    assert(adapter_runq_peak_queued(q) == 40);
    assert(adapter_runq_admit(q));
    adapter_runq_destroy(&q);
    assert(!q);
    adapter_runq_destroy(&q);
    printf("test_adapter_runq: ok\n");
    return 0;
}
