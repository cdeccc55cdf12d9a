/* SPDX-License-Identifier: MIT */
/* common/vtime: clocks move forward at the right pace; formatting; the
 * fake clock of the harnesses. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "vtime.h"

int
main(void)
{
    uint64_t w0 = vtime_now_us(), m0 = vtime_mono_us();
    assert(w0 > UINT64_C(1600000000) * 1000000);   /* after 2020 */
    vtime_sleep_ms(50);
    uint64_t dm = vtime_mono_us() - m0;
    assert(dm >= 50000 && dm < 2000000);
    assert(vtime_mono_ms() >= m0 / 1000 + 50);

    char buf[32];
    vtime_format_us(UINT64_C(1700000000123456), buf, sizeof buf);
    assert(!strcmp(buf, "2023-11-14T22:13:20.123Z"));
    vtime_format_us(0, buf, sizeof buf);
    assert(!strcmp(buf, "1970-01-01T00:00:00.000Z"));
    /* Fake: both clocks read what the harness sets, move only when told
     * (a sleep moves it and returns at once), and the real clock is back
     * after vtime_fake_off(). */
    vtime_fake_set(UINT64_C(5000000));
    assert(vtime_now_us() == 5000000 && vtime_mono_us() == 5000000);
    assert(vtime_mono_ms() == 5000);
    vtime_fake_advance(250);
    assert(vtime_mono_us() == 5000250);
    vtime_sleep_ms(3600 * 1000);
    assert(vtime_now_us() == UINT64_C(3605000250));
    vtime_fake_off();
    assert(vtime_now_us() > UINT64_C(1600000000) * 1000000);
    printf("test_vtime: ok\n");
    return 0;
}
