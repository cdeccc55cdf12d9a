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

/* A fake clock for tests and fuzzing, so that a handler driven by a
 * harness sees time the harness chooses: after vtime_fake_set('us') both
 * clocks read 'us', move only by vtime_fake_advance() (or by
 * vtime_sleep_ms(), which then returns at once), until vtime_fake_off().
 * Not thread-safe: for single-threaded harnesses. */
void vtime_fake_set(uint64_t us);
void vtime_fake_advance(uint64_t us);
void vtime_fake_off(void);

/* Sleeps 'ms' milliseconds, resuming after signals. */
void vtime_sleep_ms(uint64_t ms);

/* Formats wall-clock 'us' as ISO 8601 UTC with milliseconds into 'buf'
 * (at least 25 bytes); returns 'buf'. */
char *vtime_format_us(uint64_t us, char *buf, size_t size);

#endif /* VR_VTIME_H */
