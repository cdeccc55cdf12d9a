/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the /metrics endpoint (common/metrics).  The
 * input is a StatusReply (its length in bytes 0-1, then its bytes) and
 * an HTTP request (the rest).  The reply is rendered (metrics_render())
 * and the text checked line by line against the exposition format: every
 * line a comment or 'name{labels} value', names legal, label values
 * quoted with only \\ \" \n escapes, valid UTF-8, each family once.  The
 * request is then sent over loopback to a metrics server that serves
 * that reply: the answer must be an HTTP status line or nothing.  Build
 * with -DVR_FUZZ=ON and clang; tests/fuzz/replay.c runs it on fixed
 * inputs in the ordinary build. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bus.h"
#include "fuzz_check.h"
#include "metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
s_name_char(char c, bool first, bool label)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'
           || (!label && c == ':') || (!first && c >= '0' && c <= '9');
}

/* Skips one valid UTF-8 sequence at 'p'; NULL if it is not one. */
static const char *
s_utf8(const char *p)
{
    const unsigned char *u = (const unsigned char *) p;
    if (u[0] < 0x80) {
        return p + 1;
    }
    int n = u[0] >= 0xc2 && u[0] <= 0xdf   ? 1
            : u[0] >= 0xe0 && u[0] <= 0xef ? 2
            : u[0] >= 0xf0 && u[0] <= 0xf4 ? 3
                                           : -1;
    if (n < 0) {
        return NULL;
    }
    for (int i = 1; i <= n; i++) {
        if ((u[i] & 0xc0) != 0x80) {
            return NULL;
        }
    }
    return p + 1 + n;
}

/* Checks one sample line; returns its metric name's length. */
static size_t
s_check_sample(const char *line)
{
    const char *p = line;
    FUZZ_CHECK(s_name_char(*p, true, false));
    while (s_name_char(*p, false, false)) {
        p++;
    }
    size_t name_len = (size_t) (p - line);
    if (*p == '{') {
        p++;
        while (*p != '}') {
            FUZZ_CHECK(s_name_char(*p, true, true));
            while (s_name_char(*p, false, true)) {
                p++;
            }
            FUZZ_CHECK(*p++ == '=');
            FUZZ_CHECK(*p++ == '"');
            while (*p != '"') {
                FUZZ_CHECK(*p != '\0' && *p != '\n');
                if (*p == '\\') {
                    p++;
                    FUZZ_CHECK(*p == '\\' || *p == '"' || *p == 'n');
                    p++;
                } else {
                    p = s_utf8(p);
                    FUZZ_CHECK(p);
                }
            }
            p++;
            FUZZ_CHECK(*p == ',' || *p == '}');
            if (*p == ',') {
                p++;
            }
        }
        p++;
    }
    FUZZ_CHECK(*p++ == ' ');
    char *end;
    strtod(p, &end);
    FUZZ_CHECK(end != p && *end == '\0');
    return name_len;
}

static void
s_check_text(char *text)
{
    char types[512][130];
    size_t n_types = 0;
    for (char *line = text; *line;) {
        char *next = strchr(line, '\n');
        FUZZ_CHECK(next);       /* every line ends */
        *next = '\0';
        if (!strncmp(line, "# TYPE ", 7)) {
            /* Each family typed once. */
            char *sp = strchr(line + 7, ' ');
            FUZZ_CHECK(sp);
            *sp = '\0';
            for (size_t i = 0; i < n_types; i++) {
                FUZZ_CHECK(strcmp(types[i], line + 7) != 0);
            }
            if (n_types < 512 && strlen(line + 7) < 130) {
                strcpy(types[n_types++], line + 7);
            }
        } else if (strncmp(line, "# HELP ", 7) != 0) {
            s_check_sample(line);
        }
        line = next + 1;
    }
}

/* What the server serves: the input's reply, copied as a service's
 * status function would fill it. */
static const Vr__StatusReply *s_served;

static void
s_status(Vr__StatusReply *reply, void *arg)
{
    const Vr__StatusReply *r = s_served;
    reply->service = r->service;
    reply->id = r->id;
    reply->version = r->version;
    reply->state = r->state;
    reply->uptime_ms = r->uptime_ms;
    reply->started_us = r->started_us;
    for (size_t i = 0; i < r->n_counters && i < 64; i++) {
        bus_status_add_counter(reply, r->counters[i]->name,
                               r->counters[i]->value, r->counters[i]->gauge);
    }
    for (size_t i = 0; i < r->n_info && i < 64; i++) {
        bus_status_add_info(reply, r->info[i]->key, r->info[i]->value);
    }
}

/* Sends 'req' to the server and checks what comes back. */
static void
s_http(metrics_t *m, const uint8_t *req, size_t n)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons(metrics_port(m)),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    /* Connections the server has not reaped yet may hold it at its
     * limit for a moment (a CI run once saw a connect fail after 1476
     * inputs): it must take one again within a second, or it is stuck. */
    int fd = -1;
    for (int i = 0; i < 1000 && fd < 0; i++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        FUZZ_CHECK(fd >= 0);
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) != 0) {
            if (i == 999) {
                fprintf(stderr, "connect to the metrics server: %s\n",
                        strerror(errno));
            }
            close(fd);
            fd = -1;
            metrics_run(m);
            usleep(1000);
        }
    }
    FUZZ_CHECK(fd >= 0);
    if (n) {
        (void) send(fd, req, n, MSG_NOSIGNAL);
    }
    shutdown(fd, SHUT_WR);
    char buf[4096];
    size_t got = 0;
    /* The status line is all that is checked: stop once it is here, or
     * after 50 ms of silence (an incomplete request is waited for). */
    for (int i = 0; i < 50 && got < 12; i++) {
        metrics_run(m);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 1) <= 0) {
            continue;
        }
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r <= 0) {
            break;
        }
        got += (size_t) r;
        if (got == sizeof buf - 1) {
            break;
        }
    }
    close(fd);
    metrics_run(m);
    buf[got] = '\0';
    if (got > 0) {
        FUZZ_CHECK(got >= 12 && !strncmp(buf, "HTTP/1.", 7));
        FUZZ_CHECK(buf[9] >= '1' && buf[9] <= '5');
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static metrics_t *m;
    if (!m) {
        m = metrics_new("127.0.0.1:0", s_status, NULL);
        FUZZ_CHECK(m);
    }
    if (size < 2) {
        return 0;
    }
    size_t n = (size_t) data[0] << 8 | data[1];
    if (n > size - 2) {
        n = size - 2;
    }
    Vr__StatusReply *r = vr__status_reply__unpack(NULL, n, data + 2);
    if (!r) {
        return 0;
    }
    size_t len;
    char *text = metrics_render(r, &len);
    FUZZ_CHECK(text && strlen(text) == len);
    s_check_text(text);
    free(text);

    s_served = r;
    s_http(m, data + 2 + n, size - 2 - n);
    s_served = NULL;
    vr__status_reply__free_unpacked(r, NULL);
    return 0;
}
