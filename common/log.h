/* SPDX-License-Identifier: MIT */
/* Logging to stderr with levels, the service name and the module name.
 * Each .c file names its module once with LOG_MODULE("name"); the level is
 * checked before any argument is formatted.  Per-message or per-packet
 * sites use the _RL forms, limited per call site. */
#ifndef VR_LOG_H
#define VR_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
    LOG_LVL_ERR = 0,
    LOG_LVL_WARN = 1,
    LOG_LVL_INFO = 2,
    LOG_LVL_DEBUG = 3,
};

/* The current level; only read it through the macros. */
extern int log_level_g;

/* A per-call-site rate limiter: at most LOG_RL_BURST lines every
 * LOG_RL_WINDOW_MS; the count of suppressed lines is reported with the next
 * line that passes. */
struct log_rl {
    uint64_t window_start_ms;   /* start of the current window */
    uint32_t n_in_window;       /* lines let through in this window */
    uint32_t n_suppressed;      /* lines dropped since the last one shown */
};
enum { LOG_RL_BURST = 5, LOG_RL_WINDOW_MS = 5000 };

/* Sets the service name shown on every line (copied).  Also routes czmq's
 * own log lines to stderr under the same name. */
void log_init(const char *service);

/* Sets the level; 'level' is clamped to the known range. */
void log_set_level(int level);

/* Parses "error", "warn", "info" or "debug"; returns -1 when unknown. */
int log_level_from_name(const char *name);

/* Writes one line.  Use the macros instead. */
void log_write(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Formats an error message into 'buf' ('size' bytes), for functions that
 * hand their reason back to the caller; does nothing when 'buf' is NULL
 * or 'size' is 0. */
void log_format(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes 's' (its first 'n' bytes, or up to its NUL when 'n' is
 * SIZE_MAX, when a NUL ends it; with 'n' given a NUL is escaped
 * like any byte; NULL prints as "(null)") into 'buf' ('size' bytes, at least
 * 8) so that it is safe to log: printable ASCII is kept, a backslash and a
 * double quote are escaped, anything else (newlines, escape sequences,
 * bytes >= 0x7f) becomes \xNN; output that does not fit ends in "...".
 * Returns 'buf'.  Use it on every value that came from outside. */
const char *log_escape(char *buf, size_t size, const char *s, size_t n);

enum { LOG_ESC_MAX = 160 };     /* bytes LOG_ESC() gives a value */

/* The escaped form of string 's', in a buffer that lives until the end of
 * the enclosing block: VLOG_WARN("bad id '%s'", LOG_ESC(id)). */
#define LOG_ESC(S) \
    log_escape((char[LOG_ESC_MAX]){ 0 }, LOG_ESC_MAX, (S), SIZE_MAX)

/* Returns true if a rate-limited line may be written now, and reports
 * (through '*n_suppressed_p') how many were dropped before it. */
bool log_rl_allow(struct log_rl *rl, uint32_t *n_suppressed_p);

#define LOG_MODULE(NAME) static const char log_module_[] = NAME

#define LOG_AT(LVL, ...)                                            \
    do {                                                            \
        if ((LVL) <= log_level_g) {                                 \
            log_write(LVL, log_module_, __VA_ARGS__);               \
        }                                                           \
    } while (0)

#define LOG_AT_RL(LVL, ...)                                         \
    do {                                                            \
        static struct log_rl rl_;                                   \
        uint32_t n_supp_;                                           \
        if ((LVL) <= log_level_g && log_rl_allow(&rl_, &n_supp_)) { \
            if (n_supp_) {                                          \
                log_write(LVL, log_module_,                         \
                          "(%u similar lines suppressed)", n_supp_); \
            }                                                       \
            log_write(LVL, log_module_, __VA_ARGS__);               \
        }                                                           \
    } while (0)

#define VLOG_ERR(...) LOG_AT(LOG_LVL_ERR, __VA_ARGS__)
#define VLOG_WARN(...) LOG_AT(LOG_LVL_WARN, __VA_ARGS__)
#define VLOG_INFO(...) LOG_AT(LOG_LVL_INFO, __VA_ARGS__)
#define VLOG_DEBUG(...) LOG_AT(LOG_LVL_DEBUG, __VA_ARGS__)
#define VLOG_ERR_RL(...) LOG_AT_RL(LOG_LVL_ERR, __VA_ARGS__)
#define VLOG_WARN_RL(...) LOG_AT_RL(LOG_LVL_WARN, __VA_ARGS__)
#define VLOG_INFO_RL(...) LOG_AT_RL(LOG_LVL_INFO, __VA_ARGS__)

#endif /* VR_LOG_H */
