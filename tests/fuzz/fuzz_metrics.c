/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the /metrics endpoint (common/metrics).  The
 * input is a StatusReply (its length in bytes 0-1, then its bytes) and
 * an HTTP request (the rest).  The reply is rendered (metrics_render())
 * and the text checked line by line against the exposition format: every
 * line a comment or 'name{labels} value', names legal, label values
 * quoted with only \\ \" \n escapes, valid UTF-8, each family once.  The
 * request is then sent to a metrics server that serves that reply, over
 * a socketpair it adopts (metrics_adopt(); every 256th over loopback
 * TCP): the answer must be an HTTP status line or nothing.  Build
 * with -DVR_FUZZ=ON and clang; tests/fuzz/replay.c runs it on fixed
 * inputs in the ordinary build. */
#include <errno.h>
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

/* A client socket connected to the server over loopback TCP. */
static int
s_connect_tcp(metrics_t *m)
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
    return fd;
}

/* A client socket whose other end the server adopted (metrics_adopt()):
 * the same HTTP handling without TCP's connect, accept and teardown.
 * The server may be at its connection cap, held by clients that left
 * in the middle of a request, whose connections go only at the 10 s
 * connection timeout (by design: a few scrapers, bounded); the harness
 * cannot wait that long, so after 20 ms it starts a new server, as the
 * TCP path saw a connect succeed into the backlog and no answer. */
static int
s_connect_pair(metrics_t **mp)
{
    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    for (int i = 0; metrics_adopt(*mp, sv[1]) != 0; i++) {
        /* Refused: the server closed its end; try a new pair. */
        close(sv[0]);
        if (i == 20) {
            metrics_destroy(mp);
            *mp = metrics_new("127.0.0.1:0", s_status, NULL);
            FUZZ_CHECK(*mp);
        }
        FUZZ_CHECK(i < 40);
        metrics_run(*mp);
        usleep(1000);
        FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv)
                   == 0);
    }
    return sv[0];
}

/* Reads what is there on 'fd' without blocking into buf[*got...]; false
 * once the server closed or the buffer ('size' bytes) is full. */
static bool
s_read_ready(int fd, char *buf, size_t size, size_t *got)
{
    for (;;) {
        ssize_t r = recv(fd, buf + *got, size - 1 - *got, MSG_DONTWAIT);
        if (r < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        }
        if (r == 0) {
            return false;
        }
        *got += (size_t) r;
        if (*got == size - 1) {
            return false;
        }
    }
}

/* Sends 'req' to the server and checks what comes back: mostly over a
 * socketpair the server adopted, every 256th input over loopback TCP so
 * that the listening socket's path stays covered. */
static void
s_http(metrics_t **mp, const uint8_t *req, size_t n)
{
    static unsigned long n_calls;
    int fd = n_calls++ % 256 == 0 ? s_connect_tcp(*mp) : s_connect_pair(mp);
    metrics_t *m = *mp;
    if (n) {
        (void) send(fd, req, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    shutdown(fd, SHUT_WR);
    char buf[4096];
    size_t got = 0;
    /* The status line is all that is checked: stop once it is here or
     * the server closed.  The server is driven here and loopback delivers
     * at once, so it gets there within a few turns of metrics_run(); it
     * is given more turns while it says it has work ready (timeout 0).
     * If it has none, it waits for the rest of an incomplete request,
     * which never comes (its only timer is the 10 s connection timeout):
     * no answer, which is allowed, and no use waiting on the clock. */
    bool open = true;
    for (int i = 0; i < 1024 && open && got < 12; i++) {
        metrics_run(m);
        open = s_read_ready(fd, buf, sizeof buf, &got);
        if (i >= 64 && metrics_timeout_ms(m) != 0) {
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
    s_http(&m, data + 2 + n, size - 2 - n);
    s_served = NULL;
    vr__status_reply__free_unpacked(r, NULL);
    return 0;
}
