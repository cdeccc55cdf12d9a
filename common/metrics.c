/* SPDX-License-Identifier: MIT */
/* The /metrics endpoint and the text exposition format.  libmicrohttpd
 * runs in "external polling" mode with epoll: it starts no thread, its
 * epoll descriptor is polled by the owner's loop, and MHD_run() does the
 * work, so the status function runs on the service's own thread as the
 * control socket's handler does. */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bus.h"
#include "log.h"

LOG_MODULE("metrics");

/* A scraper gets this long to send its request before it is dropped, and
 * at most this many connections are served at once: the endpoint is for
 * a few Prometheus servers, not for the public. */
enum { S_CONN_TIMEOUT_S = 10, S_CONN_LIMIT = 32 };

struct metrics {
    struct MHD_Daemon *daemon;  /* the HTTP server */
    metrics_status_fn *fn;      /* fills a reply per scrape */
    void *arg;                  /* for 'fn' */
    char address[80];           /* "HOST:PORT" as bound */
    uint16_t port;              /* bound port */
    uint64_t n_requests;        /* scrapes answered 200 */
    uint64_t n_errors;          /* requests answered 404/405/500 */
};

/* Splits "HOST:PORT" / "[V6]:PORT" and resolves it.  On success the
 * caller frees '*ai_p' with freeaddrinfo(). */
static bool
s_resolve(const char *listen, struct addrinfo **ai_p, char *err,
          size_t err_size)
{
    char host[256];
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    if (!colon || colon == listen || !colon[1]) {
        log_format(err, err_size, "'%s': expected HOST:PORT",
                   listen ? listen : "");
        return false;
    }
    const char *h = listen;
    size_t h_len = (size_t) (colon - listen);
    if (h[0] == '[') {
        if (h_len < 3 || h[h_len - 1] != ']') {
            log_format(err, err_size, "'%s': expected [IPV6]:PORT", listen);
            return false;
        }
        h++;
        h_len -= 2;
    }
    if (h_len >= sizeof host) {
        log_format(err, err_size, "'%s': host name too long", listen);
        return false;
    }
    memcpy(host, h, h_len);
    host[h_len] = '\0';
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || errno || port > 65535 || colon[1] == '-'
        || colon[1] == '+') {
        log_format(err, err_size, "'%s': port '%s' is not 0 to 65535",
                   listen, colon + 1);
        return false;
    }
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
    };
    int rc = getaddrinfo(host, colon + 1, &hints, ai_p);
    if (rc != 0) {
        log_format(err, err_size, "'%s': host '%s': %s", listen, host,
                   gai_strerror(rc));
        return false;
    }
    return true;
}

bool
metrics_listen_check(const char *listen, char *err, size_t err_size)
{
    struct addrinfo *ai;
    if (!s_resolve(listen, &ai, err, err_size)) {
        return false;
    }
    freeaddrinfo(ai);
    return true;
}

/* libmicrohttpd's own error lines, into our log. */
static void
s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    VLOG_WARN_RL("libmicrohttpd: %s", line);
}

static enum MHD_Result
s_respond(struct MHD_Connection *conn, unsigned status, char *body,
          size_t len, const char *type, bool allow)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (allow) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    }
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result
s_error(metrics_t *self, struct MHD_Connection *conn, unsigned status,
        const char *text)
{
    self->n_errors++;
    char *body = strdup(text);
    if (!body) {
        return MHD_NO;
    }
    return s_respond(conn, status, body, strlen(body),
                     "text/plain; charset=utf-8",
                     status == MHD_HTTP_METHOD_NOT_ALLOWED);
}

static enum MHD_Result
s_on_request(void *cls, struct MHD_Connection *conn, const char *url,
             const char *method, const char *version,
             const char *upload_data, size_t *upload_data_size,
             void **req_cls)
{
    metrics_t *self = cls;
    /* The first call comes with the headers only; answering at once is
     * allowed, and for a request with a body (never ours) libmicrohttpd
     * then closes the connection instead of reading it. */
    if (strcmp(url, METRICS_PATH) != 0) {
        return s_error(self, conn, MHD_HTTP_NOT_FOUND,
                       "not found: metrics are at " METRICS_PATH "\n");
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0
        && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        return s_error(self, conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                       "method not allowed: use GET\n");
    }
    self->n_requests++;
    Vr__StatusReply reply = VR__STATUS_REPLY__INIT;
    self->fn(&reply, self->arg);
    size_t len;
    char *text = metrics_render(&reply, &len);
    bus_status_reply_free(&reply);
    if (!text) {
        self->n_requests--;
        return s_error(self, conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                       "out of memory\n");
    }
    return s_respond(conn, MHD_HTTP_OK, text, len, METRICS_CONTENT_TYPE,
                     false);
}

static void
s_format_address(metrics_t *self, const struct sockaddr *sa)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(self->address, sizeof self->address, "[%s]:%u", host,
                 self->port);
    } else {
        const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(self->address, sizeof self->address, "%s:%u", host,
                 self->port);
    }
}

metrics_t *
metrics_new(const char *listen, metrics_status_fn *fn, void *arg)
{
    char err[320];
    struct addrinfo *ai = NULL;
    metrics_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->fn = fn;
    self->arg = arg;
    if (!s_resolve(listen, &ai, err, sizeof err)) {
        VLOG_ERR("metrics.listen: %s", err);
        goto error;
    }
    /* No MHD_USE_INTERNAL_POLLING_THREAD: we poll the epoll fd. */
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    uint16_t want_port = ntohs(ai->ai_family == AF_INET6
        ? ((struct sockaddr_in6 *) ai->ai_addr)->sin6_port
        : ((struct sockaddr_in *) ai->ai_addr)->sin_port);
    self->daemon = MHD_start_daemon(
        flags, want_port, NULL, NULL, s_on_request, self,
        /* First, or earlier options' complaints go to stderr directly. */
        MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) S_CONN_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) S_CONN_LIMIT,
        MHD_OPTION_END);
    if (!self->daemon) {
        VLOG_ERR("metrics: cannot serve on '%s' (address in use or not "
                 "local?)", listen);
        goto error;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(
        self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : 0;
    s_format_address(self, ai->ai_addr);
    freeaddrinfo(ai);
    VLOG_INFO("metrics on http://%s" METRICS_PATH, self->address);
    return self;

error:
    if (ai) {
        freeaddrinfo(ai);
    }
    metrics_destroy(&self);
    return NULL;
}

void
metrics_destroy(metrics_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    metrics_t *self = *self_p;
    if (self->daemon) {
        MHD_stop_daemon(self->daemon);
    }
    free(self);
    *self_p = NULL;
}

int
metrics_fd(const metrics_t *self)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(
        self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
}

void
metrics_run(metrics_t *self)
{
    MHD_run(self->daemon);
}

int
metrics_adopt(metrics_t *self, int fd)
{
    struct sockaddr_in peer = { .sin_family = AF_INET,
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    /* libmicrohttpd closes 'fd' itself if it refuses it. */
    return MHD_add_connection(self->daemon, fd, (struct sockaddr *) &peer,
                              sizeof peer) == MHD_YES ? 0 : -1;
}

long
metrics_timeout_ms(metrics_t *self)
{
    MHD_UNSIGNED_LONG_LONG t;
    if (MHD_get_timeout(self->daemon, &t) != MHD_YES) {
        return -1;
    }
    return t > 3600000 ? 3600000 : (long) t;
}

const char *
metrics_address(const metrics_t *self)
{
    return self->address;
}

uint16_t
metrics_port(const metrics_t *self)
{
    return self->port;
}

void
metrics_to_status(const metrics_t *self, Vr__StatusReply *reply)
{
    bus_status_add_counter(reply, "metrics_requests", self->n_requests,
                           false);
    bus_status_add_counter(reply, "metrics_errors", self->n_errors, false);
}

/* Rendering.  Metric names may hold [a-zA-Z0-9_:] and label names
 * [a-zA-Z0-9_], neither starting with a digit; label values escape
 * backslash, double quote and newline. */

static void
s_put_name(FILE *f, const char *name, bool label)
{
    if (!*name || (*name >= '0' && *name <= '9')) {
        fputc('_', f);
    }
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                  || (c >= '0' && c <= '9') || c == '_'
                  || (!label && c == ':');
        fputc(ok ? c : '_', f);
    }
}

/* The length of the valid UTF-8 sequence at 'p' (1 to 4), or 0 if it is
 * not one: a stray continuation byte, a cut sequence, an overlong form, a
 * surrogate or a code point past U+10FFFF. */
static size_t
s_utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80) {
        return 1;
    }
    size_t n = p[0] >= 0xc2 && p[0] <= 0xdf   ? 2
               : p[0] >= 0xe0 && p[0] <= 0xef ? 3
               : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4
                                              : 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0)
        || (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90)) {
        return 0;
    }
    return n;
}

/* A label value, quoted and escaped.  The format wants UTF-8: a byte
 * that is not part of a valid sequence is written as U+FFFD, or a
 * scraper would refuse the whole page (found by tests/fuzz/fuzz_metrics:
 * the values come from the services' status, some of it from peers). */
static void
s_put_value(FILE *f, const char *value)
{
    fputc('"', f);
    for (const char *p = value ? value : ""; *p;) {
        size_t n = s_utf8_len((const unsigned char *) p);
        if (*p == '\\' || *p == '"') {
            fputc('\\', f);
            fputc(*p, f);
        } else if (*p == '\n') {
            fputs("\\n", f);
        } else if (n == 0) {
            fputs("\xef\xbf\xbd", f);
            n = 1;
        } else {
            fwrite(p, 1, n, f);
        }
        p += n;
    }
    fputc('"', f);
}

/* The name as s_put_name() writes it, into 'buf'. */
static const char *
s_legal(const char *name, bool label, char *buf, size_t size)
{
    FILE *f = fmemopen(buf, size, "w");
    if (!f) {
        buf[0] = '\0';
        return buf;
    }
    s_put_name(f, name, label);
    fclose(f);
    buf[size - 1] = '\0';
    return buf;
}

static void
s_labels(FILE *f, const Vr__StatusReply *r)
{
    fputs("{service=", f);
    s_put_value(f, r->service);
    fputs(",id=", f);
    s_put_value(f, r->id);
    fputc('}', f);
}

/* True if family 'name' was already written: counter 'i' repeats an
 * earlier counter or one of the fixed families. */
static bool
s_seen(const Vr__StatusReply *r, size_t i)
{
    static const char *const fixed[] = { "info", "uptime_seconds",
                                         "start_time_seconds" };
    char a[128], b[128];
    s_legal(r->counters[i]->name, false, a, sizeof a);
    for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++) {
        if (!strcmp(a, fixed[k])) {
            return true;
        }
    }
    for (size_t k = 0; k < i; k++) {
        if (!strcmp(a, s_legal(r->counters[k]->name, false, b, sizeof b))) {
            return true;
        }
    }
    return false;
}

/* True if info key 'i' would repeat a label already written. */
static bool
s_label_taken(const Vr__StatusReply *r, size_t i)
{
    static const char *const fixed[] = { "service", "id", "version",
                                         "state" };
    char a[128], b[128];
    s_legal(r->info[i]->key, true, a, sizeof a);
    if (!strncmp(a, "__", 2)) {
        return true;            /* reserved for Prometheus itself */
    }
    for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++) {
        if (!strcmp(a, fixed[k])) {
            return true;
        }
    }
    for (size_t k = 0; k < i; k++) {
        if (!strcmp(a, s_legal(r->info[k]->key, true, b, sizeof b))) {
            return true;
        }
    }
    return false;
}

char *
metrics_render(const Vr__StatusReply *r, size_t *len_p)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        return NULL;
    }
    fputs("# HELP vreserve_info The service, its version, state and "
          "settings, as `vnetctl status` shows them.\n"
          "# TYPE vreserve_info gauge\nvreserve_info{service=", f);
    s_put_value(f, r->service);
    fputs(",id=", f);
    s_put_value(f, r->id);
    fputs(",version=", f);
    s_put_value(f, r->version);
    fputs(",state=", f);
    s_put_value(f, r->state);
    for (size_t i = 0; i < r->n_info; i++) {
        if (s_label_taken(r, i)) {
            continue;
        }
        fputc(',', f);
        s_put_name(f, r->info[i]->key, true);
        fputc('=', f);
        s_put_value(f, r->info[i]->value);
    }
    fputs("} 1\n", f);

    fputs("# HELP vreserve_uptime_seconds Time since the service started."
          "\n# TYPE vreserve_uptime_seconds gauge\n"
          "vreserve_uptime_seconds", f);
    s_labels(f, r);
    fprintf(f, " %llu.%03u\n", (unsigned long long) (r->uptime_ms / 1000),
            (unsigned) (r->uptime_ms % 1000));
    fputs("# HELP vreserve_start_time_seconds When the service started, "
          "since the epoch.\n# TYPE vreserve_start_time_seconds gauge\n"
          "vreserve_start_time_seconds", f);
    s_labels(f, r);
    fprintf(f, " %llu.%06u\n", (unsigned long long) (r->started_us / 1000000),
            (unsigned) (r->started_us % 1000000));

    for (size_t i = 0; i < r->n_counters; i++) {
        const Vr__Counter *c = r->counters[i];
        if (s_seen(r, i)) {
            continue;
        }
        fputs("# TYPE vreserve_", f);
        s_put_name(f, c->name, false);
        fprintf(f, " %s\nvreserve_", c->gauge ? "gauge" : "counter");
        s_put_name(f, c->name, false);
        s_labels(f, r);
        fprintf(f, " %llu\n", (unsigned long long) c->value);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    if (len_p) {
        *len_p = len;
    }
    return text;
}
