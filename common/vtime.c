/* SPDX-License-Identifier: MIT */
/* Thin wrappers over clock_gettime(), so every service reads time the same
 * way and tests can tell wall time from monotonic time at a glance. */
#include "vtime.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

/* The fake clock (vtime_fake_set()): both clocks read 's_fake_us'. */
static bool s_fake;
static uint64_t s_fake_us;

static uint64_t
s_read_us(clockid_t clock)
{
    if (s_fake) {
        return s_fake_us;
    }
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

uint64_t
vtime_now_us(void)
{
    return s_read_us(CLOCK_REALTIME);
}

uint64_t
vtime_mono_us(void)
{
    return s_read_us(CLOCK_MONOTONIC);
}

uint64_t
vtime_mono_ms(void)
{
    return vtime_mono_us() / 1000u;
}

void
vtime_fake_set(uint64_t us)
{
    s_fake = true;
    s_fake_us = us;
}

void
vtime_fake_advance(uint64_t us)
{
    s_fake_us += us;
}

void
vtime_fake_off(void)
{
    s_fake = false;
}

void
vtime_sleep_ms(uint64_t ms)
{
    if (s_fake) {
        s_fake_us += ms * 1000u;
        return;
    }
    struct timespec ts = { .tv_sec = (time_t) (ms / 1000),
                           .tv_nsec = (long) (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
        continue;
    }
}

char *
vtime_format_us(uint64_t us, char *buf, size_t size)
{
    time_t sec = (time_t) (us / 1000000u);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (unsigned) (us % 1000000u / 1000u));
    return buf;
}
