/* SPDX-License-Identifier: MIT */
/* Log lines go to stderr as one write() each, so lines from several
 * threads never interleave:
 *   2026-11-24T20:13:14.123Z vnet-agent[412] bus WARN: text */
#include "log.h"

#include <czmq.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "vtime.h"

int log_level_g = LOG_LVL_INFO;
static char s_service[64] = "vreserve";

static const char *const s_level_names[] = {
    [LOG_LVL_ERR] = "ERROR",
    [LOG_LVL_WARN] = "WARN",
    [LOG_LVL_INFO] = "INFO",
    [LOG_LVL_DEBUG] = "DEBUG",
};

void
log_init(const char *service)
{
    snprintf(s_service, sizeof s_service, "%s", service ? service : "?");
    /* czmq logs (zauth's allow/deny lines among them) to stdout unless
     * told otherwise; keep stdout for the programs' own output. */
    zsys_set_logstream(stderr);
    zsys_set_logident(s_service);
}

void
log_set_level(int level)
{
    if (level < LOG_LVL_ERR) {
        level = LOG_LVL_ERR;
    } else if (level > LOG_LVL_DEBUG) {
        level = LOG_LVL_DEBUG;
    }
    log_level_g = level;
}

int
log_level_from_name(const char *name)
{
    for (int i = 0; i <= LOG_LVL_DEBUG; i++) {
        if (name && !strcasecmp(name, s_level_names[i])) {
            return i;
        }
    }
    if (name && !strcasecmp(name, "warning")) {
        return LOG_LVL_WARN;
    }
    return -1;
}

void
log_write(int level, const char *module, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, s_service, (long) getpid(),
                     module, s_level_names[level < 0 ? 0 : level > 3 ? 3
                                                        : level]);
    if (n < 0) {
        return;
    }
    va_list args;
    va_start(args, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t) n - 1, fmt, args);
    va_end(args);
    size_t len = (size_t) n + (m < 0 ? 0 : (size_t) m);
    if (len > sizeof line - 2) {
        len = sizeof line - 2;   /* truncated: keep the newline */
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void) w;                    /* nowhere to report a failed log write */
}

bool
log_rl_allow(struct log_rl *rl, uint32_t *n_suppressed_p)
{
    uint64_t now = vtime_mono_ms();
    if (now - rl->window_start_ms >= LOG_RL_WINDOW_MS) {
        rl->window_start_ms = now;
        rl->n_in_window = 0;
    }
    if (rl->n_in_window >= LOG_RL_BURST) {
        rl->n_suppressed++;
        return false;
    }
    rl->n_in_window++;
    *n_suppressed_p = rl->n_suppressed;
    rl->n_suppressed = 0;
    return true;
}

const char *
log_escape(char *buf, size_t size, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!buf || size < 8) {
        if (buf && size) {
            buf[0] = 0;
        }
        return buf ? buf : "";
    }
    if (!s) {
        s = "(null)";
        n = SIZE_MAX;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (n == SIZE_MAX && !s[i]) {
            break;              /* a C string ends at its NUL */
        }
        unsigned char c = (unsigned char) s[i];
        char tmp[4];
        size_t k;
        if (c == '\\' || c == '"') {
            tmp[0] = '\\';
            tmp[1] = (char) c;
            k = 2;
        } else if (c >= 0x20 && c < 0x7f) {
            tmp[0] = (char) c;
            k = 1;
        } else {
            tmp[0] = '\\';
            tmp[1] = 'x';
            tmp[2] = hex[c >> 4];
            tmp[3] = hex[c & 15];
            k = 4;
        }
        /* Keep room for "..." and the NUL. */
        if (o + k > size - 4) {
            memcpy(buf + o, "...", 4);
            return buf;
        }
        memcpy(buf + o, tmp, k);
        o += k;
    }
    buf[o] = 0;
    return buf;
}

void
log_format(char *buf, size_t size, const char *fmt, ...)
{
    if (!buf || !size) {
        return;
    }
    va_list args;
    va_start(args, fmt);
    vsnprintf(buf, size, fmt, args);
    va_end(args);
}
