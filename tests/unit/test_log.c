/* SPDX-License-Identifier: MIT */
/* common/log: line format, level filtering, level names, rate limiting. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

LOG_MODULE("testmod");

static int s_formatted;

/* Counts how often an argument is evaluated. */
static int
s_arg(void)
{
    return ++s_formatted;
}

static size_t
s_count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++) {
        n++;
    }
    return n;
}

int
main(void)
{
    char path[] = "/tmp/test_log.XXXXXX";
    int fd = mkstemp(path);
    assert(fd >= 0);
    int saved = dup(2);
    dup2(fd, 2);

    log_init("tester");
    log_set_level(LOG_LVL_INFO);
    VLOG_INFO("hello %d", 42);
    VLOG_DEBUG("hidden %d", s_arg());  /* below the level: not evaluated */
    VLOG_WARN("careful");
    VLOG_ERR("broken: %s", "yes");
    log_set_level(LOG_LVL_DEBUG);
    VLOG_DEBUG("now shown");
    log_set_level(99);                  /* clamped */
    assert(log_level_g == LOG_LVL_DEBUG);
    log_set_level(-5);
    assert(log_level_g == LOG_LVL_ERR);
    VLOG_WARN("not shown at error level");
    log_set_level(LOG_LVL_INFO);

    /* 20 lines from one site: LOG_RL_BURST pass, the rest are counted. */
    for (int i = 0; i < 20; i++) {
        VLOG_WARN_RL("flood %d", i);
    }
    /* A very long line is cut, but still ends the line. */
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    VLOG_INFO("%s", big);

    dup2(saved, 2);
    close(saved);
    assert(s_formatted == 0);

    char text[16384];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    assert(n > 0);
    text[n] = '\0';
    close(fd);
    unlink(path);

    assert(strstr(text, "tester["));
    assert(strstr(text, "] testmod INFO: hello 42\n"));
    assert(strstr(text, "testmod WARN: careful\n"));
    assert(strstr(text, "testmod ERROR: broken: yes\n"));
    assert(strstr(text, "testmod DEBUG: now shown\n"));
    assert(!strstr(text, "hidden"));
    assert(!strstr(text, "not shown"));
    assert(s_count(text, "flood ") == LOG_RL_BURST);
    assert(strstr(text, "flood 4\n") && !strstr(text, "flood 5\n"));
    /* Every line is complete: as many newlines as lines written. */
    assert(s_count(text, "\n") == 4 + LOG_RL_BURST + 1);
    assert(text[n - 1] == '\n');

    assert(log_level_from_name("debug") == LOG_LVL_DEBUG);
    assert(log_level_from_name("WARN") == LOG_LVL_WARN);
    assert(log_level_from_name("warning") == LOG_LVL_WARN);
    assert(log_level_from_name("error") == LOG_LVL_ERR);
    assert(log_level_from_name("loud") == -1);
    assert(log_level_from_name(NULL) == -1);

    /* The limiter reports what it suppressed once a line passes again. */
    struct log_rl rl = { 0 };
    uint32_t supp = 99;
    for (int i = 0; i < LOG_RL_BURST; i++) {
        assert(log_rl_allow(&rl, &supp) && supp == 0);
    }
    assert(!log_rl_allow(&rl, &supp));
    assert(!log_rl_allow(&rl, &supp));
    rl.window_start_ms -= LOG_RL_WINDOW_MS;   /* the window passes */
    assert(log_rl_allow(&rl, &supp) && supp == 2);
    printf("test_log: ok\n");
    /* Escaping: what came from outside cannot forge lines or codes. */
    char eb[32];
    assert(!strcmp(log_escape(eb, sizeof eb, "a\nb\x1b[31m\"\\", SIZE_MAX),
                   "a\\x0ab\\x1b[31m\\\"\\\\"));
    assert(!strcmp(log_escape(eb, sizeof eb, "ab\0cd", 5), "ab\\x00cd"));
    assert(!strcmp(log_escape(eb, sizeof eb, NULL, SIZE_MAX), "(null)"));
    assert(!strcmp(log_escape(eb, 8, "abcdefghijk", SIZE_MAX), "abcd..."));
    assert(!strcmp(log_escape(eb, sizeof eb, "\xff", SIZE_MAX), "\\xff"));
    assert(strlen(LOG_ESC("0123456789012345678901234567890123456789"
                          "0123456789012345678901234567890123456789"
                          "0123456789012345678901234567890123456789"
                          "0123456789012345678901234567890123456789"))
           == LOG_ESC_MAX - 1);
    return 0;
}
