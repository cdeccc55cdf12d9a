/* SPDX-License-Identifier: MIT */
/* common/metrics: a StatusReply rendered in the Prometheus text format
 * (names made legal, values escaped, repeats dropped, counter and gauge
 * types), listen addresses checked, and the HTTP endpoint driven the way
 * a service's loop drives it: poll its fd, run it, fetch over a socket;
 * and a socket handed over with metrics_adopt(). */
#undef NDEBUG
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bus.h"
#include "metrics.h"
#include "vtime.h"

static void
s_fill(Vr__StatusReply *reply, void *arg)
{
    int *n_calls = arg;
    (*n_calls)++;
    reply->service = "test-svc";
    reply->id = "t1";
    reply->version = "9.9";
    reply->state = "running";
    reply->uptime_ms = 1500;
    reply->started_us = 1700000000123456;
    bus_status_add_counter(reply, "widgets", 7, true);
    bus_status_add_counter(reply, "calls", (uint64_t) *n_calls, false);
}

/* Sends 'request' to 127.0.0.1:'port' and returns the whole answer (the
 * server closes after an HTTP/1.0 request), running the server from this
 * thread while it waits.  The caller frees the result. */
static char *
s_fetch(metrics_t *m, const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert(fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons(metrics_port(m)),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int rc = connect(fd, (struct sockaddr *) &sa, sizeof sa);
    assert(rc == 0 || errno == EINPROGRESS);
    size_t sent = 0, len = 0, cap = 65536;
    char *buf = malloc(cap);
    assert(buf);
    uint64_t deadline = vtime_mono_ms() + 5000;
    for (;;) {
        assert(vtime_mono_ms() < deadline);
        struct pollfd p[2] = { { metrics_fd(m), POLLIN, 0 },
                               { fd, POLLIN | POLLOUT, 0 } };
        long t = metrics_timeout_ms(m);
        poll(p, 2, t >= 0 && t < 50 ? (int) t : 50);
        metrics_run(m);
        if (sent < strlen(request)) {
            ssize_t n = send(fd, request + sent, strlen(request) - sent,
                             MSG_NOSIGNAL);
            if (n > 0) {
                sent += (size_t) n;
            }
            continue;
        }
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n == 0) {
            break;
        }
        if (n > 0) {
            len += (size_t) n;
            assert(len < cap - 1);
        }
    }
    buf[len] = '\0';
    close(fd);
    return buf;
}

static void
s_render(void)
{
    Vr__StatusReply r = VR__STATUS_REPLY__INIT;
    r.service = "vttif-aggregator";
    r.id = "agg\"1\\x";
    r.version = "0.1.0";
    r.state = "running\nstill";
    r.uptime_ms = 61234;
    r.started_us = 1700000000000001;
    bus_status_add_info(&r, "role", "aggregator");
    bus_status_add_info(&r, "bad key-1", "v");
    bus_status_add_info(&r, "id", "not a second id label");
    bus_status_add_info(&r, "__reserved", "x");
    bus_status_add_info(&r, "role", "twice");
    bus_status_add_counter(&r, "bus_rx", 42, false);
    bus_status_add_counter(&r, "agents", 3, true);
    bus_status_add_counter(&r, "bus_rx", 99, false);
    bus_status_add_counter(&r, "odd-name.x", 5, false);
    bus_status_add_counter(&r, "info", 1, true);
    bus_status_add_counter(&r, "9lives", 9, true);
    size_t len;
    char *text = metrics_render(&r, &len);
    assert(text && len == strlen(text));
    fputs(text, stdout);

    const char *labels = "{service=\"vttif-aggregator\",id=\"agg\\\"1\\\\x\"}";
    char want[512];
    assert(strstr(text, "# TYPE vreserve_info gauge\n"));
    assert(strstr(text, "vreserve_info{service=\"vttif-aggregator\","
                        "id=\"agg\\\"1\\\\x\",version=\"0.1.0\","
                        "state=\"running\\nstill\",role=\"aggregator\","
                        "bad_key_1=\"v\"} 1\n"));
    snprintf(want, sizeof want, "vreserve_uptime_seconds%s 61.234\n",
             labels);
    assert(strstr(text, want));
    snprintf(want, sizeof want,
             "vreserve_start_time_seconds%s 1700000000.000001\n", labels);
    assert(strstr(text, want));
    snprintf(want, sizeof want,
             "# TYPE vreserve_bus_rx counter\nvreserve_bus_rx%s 42\n",
             labels);
    assert(strstr(text, want));
    snprintf(want, sizeof want,
             "# TYPE vreserve_agents gauge\nvreserve_agents%s 3\n", labels);
    assert(strstr(text, want));
    snprintf(want, sizeof want, "vreserve_odd_name_x%s 5\n", labels);
    assert(strstr(text, want));
    snprintf(want, sizeof want, "vreserve__9lives%s 9\n", labels);
    assert(strstr(text, want));
    /* The repeated counter, the counter named like a fixed family and the
     * repeated or reserved labels are left out. */
    assert(!strstr(text, " 99\n"));
    snprintf(want, sizeof want, "vreserve_info%s 1\n", labels);
    assert(!strstr(text, want));
    assert(!strstr(text, "twice") && !strstr(text, "__reserved")
           && !strstr(text, "not a second"));
    /* Every line is a comment or "name{labels} value". */
    size_t n_samples = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        assert(nl);
        if (*line != '#') {
            assert(strchr(line, '{') && strchr(line, '}') < nl);
            n_samples++;
        }
        line = nl + 1;
    }
    assert(n_samples == 3 + 4);
    free(text);
    bus_status_reply_free(&r);
}

static void
s_listen_check(void)
{
    char err[200];
    assert(metrics_listen_check("127.0.0.1:9120", err, sizeof err));
    assert(metrics_listen_check("[::1]:0", err, sizeof err));
    assert(metrics_listen_check("localhost:9120", err, sizeof err));
    assert(!metrics_listen_check("127.0.0.1", err, sizeof err));
    assert(strstr(err, "expected HOST:PORT"));
    assert(!metrics_listen_check("127.0.0.1:70000", err, sizeof err));
    assert(strstr(err, "port '70000'"));
    assert(!metrics_listen_check("127.0.0.1:-1", err, sizeof err));
    assert(!metrics_listen_check(":9120", err, sizeof err));
    assert(!metrics_listen_check("[::1:9120", err, sizeof err));
    assert(!metrics_listen_check("no.such.host.invalid:9120", err,
                                 sizeof err));
    assert(strstr(err, "no.such.host.invalid"));
}

static void
s_serve(void)
{
    int n_calls = 0;
    metrics_t *m = metrics_new("127.0.0.1:0", s_fill, &n_calls);
    assert(m);
    assert(metrics_port(m) != 0);
    assert(metrics_fd(m) >= 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", metrics_port(m));
    assert(!strcmp(metrics_address(m), addr));

    char *ans = s_fetch(m, "GET /metrics HTTP/1.0\r\n\r\n");
    assert(!strncmp(ans, "HTTP/1.0 200", 12) || !strncmp(ans, "HTTP/1.1 200",
                                                         12));
    assert(strstr(ans, "Content-Type: " METRICS_CONTENT_TYPE "\r\n"));
    assert(strstr(ans,
                  "vreserve_widgets{service=\"test-svc\",id=\"t1\"} 7\n"));
    assert(strstr(ans, "vreserve_calls{service=\"test-svc\",id=\"t1\"} 1\n"));
    free(ans);
    assert(n_calls == 1);

    /* A query string does not change the path. */
    ans = s_fetch(m, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
    assert(strstr(ans, " 200 ") && strstr(ans, "vreserve_calls"));
    free(ans);

    ans = s_fetch(m, "GET /nope HTTP/1.0\r\n\r\n");
    assert(strstr(ans, " 404 ") && strstr(ans, "/metrics"));
    free(ans);
    ans = s_fetch(m, "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\n"
                     "abc");
    assert(strstr(ans, " 405 ") && strstr(ans, "Allow: GET, HEAD\r\n"));
    free(ans);
    ans = s_fetch(m, "HEAD /metrics HTTP/1.0\r\n\r\n");
    assert(strstr(ans, " 200 ") && !strstr(ans, "vreserve_"));
    free(ans);
    /* Garbage is answered (400) and the server goes on. */
    ans = s_fetch(m, "\x01\x02 nonsense\r\n\r\n");
    free(ans);
    ans = s_fetch(m, "GET /metrics HTTP/1.0\r\n\r\n");
    assert(strstr(ans, " 200 "));
    free(ans);
    assert(n_calls == 4);

    Vr__StatusReply r = VR__STATUS_REPLY__INIT;
    metrics_to_status(m, &r);
    assert(r.n_counters == 2);
    assert(!strcmp(r.counters[0]->name, "metrics_requests"));
    assert(r.counters[0]->value == 4);
    assert(!strcmp(r.counters[1]->name, "metrics_errors"));
    assert(r.counters[1]->value == 2);
    bus_status_reply_free(&r);

    /* The port is taken: a second server cannot have it. */
    metrics_t *m2 = metrics_new(addr, s_fill, &n_calls);
    assert(!m2);
    metrics_destroy(&m);
    assert(!m);
    metrics_destroy(&m);
}

/* A connected socket handed over with metrics_adopt() is served as an
 * accepted one: a scrape over a socketpair gets the same 200 and text,
 * counted; the server closes it after an HTTP/1.0 answer. */
static void
s_adopt(void)
{
    int n_calls = 0;
    metrics_t *m = metrics_new("127.0.0.1:0", s_fill, &n_calls);
    assert(m);
    for (int round = 0; round < 40; round++) {  /* > the connection cap */
        int sv[2];
        assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
        assert(metrics_adopt(m, sv[1]) == 0);
        static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
        assert(send(sv[0], req, strlen(req), MSG_NOSIGNAL)
               == (ssize_t) strlen(req));
        char buf[4096];
        size_t len = 0;
        uint64_t deadline = vtime_mono_ms() + 5000;
        for (;;) {
            assert(vtime_mono_ms() < deadline);
            metrics_run(m);
            ssize_t n = recv(sv[0], buf + len, sizeof buf - 1 - len, 0);
            if (n == 0) {
                break;
            }
            if (n > 0) {
                len += (size_t) n;
                assert(len < sizeof buf - 1);
            } else {
                assert(errno == EAGAIN || errno == EWOULDBLOCK);
                struct pollfd p = { sv[0], POLLIN, 0 };
                poll(&p, 1, 10);
            }
        }
        buf[len] = '\0';
        assert(strstr(buf, " 200 "));
        assert(strstr(buf,
                      "vreserve_widgets{service=\"test-svc\",id=\"t1\"} 7\n"));
        close(sv[0]);
    }
    assert(n_calls == 40);
    metrics_destroy(&m);
}

/* A label value that is not UTF-8 is made so, byte by byte (found by
 * tests/fuzz/fuzz_metrics); valid sequences pass as they are. */
static void
s_render_utf8(void)
{
    Vr__StatusReply r = VR__STATUS_REPLY__INIT;
    r.service = "s";
    r.id = "caf\xc3\xa9 \xe2\x82\xac";        /* "café €": valid */
    r.version = "\xff\xc3";                      /* stray byte, cut */
    r.state = "\xc0\xaf\xed\xa0\x80";             /* overlong, surrogate */
    size_t len;
    char *text = metrics_render(&r, &len);
    assert(text);
    assert(strstr(text, "id=\"caf\xc3\xa9 \xe2\x82\xac\""));
    assert(strstr(text, "version=\"\xef\xbf\xbd\xef\xbf\xbd\""));
    assert(strstr(text, "state=\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                        "\xef\xbf\xbd\xef\xbf\xbd\""));
    free(text);
}

int
main(void)
{
    s_render();
    s_render_utf8();
    s_listen_check();
    s_serve();
    s_adopt();
    printf("test_metrics: ok\n");
    return 0;
}
