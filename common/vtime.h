/* SPDX-License-Identifier: MIT */
/* Clocks: wall time for timestamps on the bus, monotonic time for timers
 * and rates (never goes back when the wall clock is set). */
#ifndef VR_VTIME_H
#define VR_VTIME_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock, microseconds since the Unix epoch. */
uint64_t vtime_now_us(void);

/* Monotonic clock, microseconds and milliseconds from an arbitrary start. */
uint64_t vtime_mono_us(void);
uint64_t vtime_mono_ms(void);

/* Sleeps 'ms' milliseconds, resuming after signals. */
void vtime_sleep_ms(uint64_t ms);

/* Formats wall-clock 'us' as ISO 8601 UTC with milliseconds into 'buf'
 * (at least 25 bytes); returns 'buf'. */
char *vtime_format_us(uint64_t us, char *buf, size_t size);

#endif /* VR_VTIME_H */
