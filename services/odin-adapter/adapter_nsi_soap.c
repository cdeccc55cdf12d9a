/* SPDX-License-Identifier: MIT */
/* NSI CS 2.0 requester over SOAP 1.1: configuration checks, envelope
 * builders, a defensive reply parser (libxml2) and a non-blocking client
 * (libcurl multi); see adapter_nsi_soap.h.  The request shapes follow
 * the OGF schemas (ogf_nsi_connection_types_v2_0.xsd, framework headers
 * and point2point); only the operation and header elements are
 * namespace-qualified, their children are not. */
#include "adapter_nsi_soap.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "log.h"
#include "vtime.h"

LOG_MODULE("nsi");

#define S_NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"
#define S_NS_HEAD "http://schemas.ogf.org/nsi/2013/12/framework/headers"
#define S_NS_CTYPES "http://schemas.ogf.org/nsi/2013/12/connection/types"
#define S_NS_FTYPES "http://schemas.ogf.org/nsi/2013/12/framework/types"
#define S_NS_P2P "http://schemas.ogf.org/nsi/2013/12/services/point2point"
#define S_ACTION "http://schemas.ogf.org/nsi/2013/12/connection/service/"
#define S_PROTOCOL "application/vnd.ogf.nsi.cs.v2.provider+soap"
#define S_EVTS "http://services.ogf.org/nsi/2013/12/descriptions/EVTS.A-GOLE"
#define S_URN "urn:ogf:network:"
#define S_LABEL "?vlan="

/* Room for the largest envelope: a reserve with every URI at its bound
 * and each character escaped is under 6 KiB. */
#define S_REQ_SIZE 8192

#define TH struct adapter_nsi_host_cfg
const struct cfg_key adapter_nsi_host_keys[] = {
    { .name = "ip", .type = CFG_STR, .offset = offsetof(TH, ip),
      .required = true, .help = "the host's endpoint address" },
    { .name = "stp", .type = CFG_STR, .offset = offsetof(TH, stp),
      .required = true,
      .help = "its port's STP, no label (urn:ogf:network:… or a port "
              "id in nsi.network)" },
    { .name = "vlans", .type = CFG_STR, .offset = offsetof(TH, vlans),
      .required = true, .help = "VLAN or range to ask for: 1780-1789" },
    CFG_KEYS_END,
};
#undef TH

const struct cfg_key adapter_nsi_keys[] = {
    ADAPTER_NSI_CFG_KEYS("nsi.", 0),
    CFG_KEYS_END,
};

static const char *const s_op_names[ADAPTER_NSI_N_OPS] = {
    [ADAPTER_NSI_OP_RESERVE] = "reserve",
    [ADAPTER_NSI_OP_RESERVE_COMMIT] = "reserveCommit",
    [ADAPTER_NSI_OP_RESERVE_ABORT] = "reserveAbort",
    [ADAPTER_NSI_OP_PROVISION] = "provision",
    [ADAPTER_NSI_OP_RELEASE] = "release",
    [ADAPTER_NSI_OP_TERMINATE] = "terminate",
    [ADAPTER_NSI_OP_QUERY] = "querySummarySync",
};

const char *
adapter_nsi_op_name(enum adapter_nsi_op op)
{
    return (unsigned) op < ADAPTER_NSI_N_OPS ? s_op_names[op] : "?";
}

/* Strings. */

/* A connectionId we accept from a provider and send back to it. */
static bool
s_valid_id(const char *s)
{
    size_t len = s ? strlen(s) : 0;
    return len && len <= ADAPTER_NSI_ID_MAX
           && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789._:@+/=-") == len;
}

/* A URI-ish token: printable ASCII, no space, quote or markup. */
static bool
s_valid_uri(const char *s, size_t max)
{
    size_t len = s ? strlen(s) : 0;
    if (!len || len > max) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("<>\"'`&{}|\\^", c)) {
            return false;
        }
    }
    return true;
}

static bool
s_valid_nsa(const char *s)
{
    return s_valid_uri(s, ADAPTER_NSI_URI_MAX) && !strncmp(s, S_URN, strlen(S_URN))
           && strlen(s) > strlen(S_URN) && !strchr(s, '?');
}

/* An STP without its label. */
static bool
s_valid_stp_base(const char *s)
{
    return s_valid_nsa(s);
}

static bool
s_parse_u16(const char *s, size_t n, uint16_t *out)
{
    unsigned v = 0;
    if (!n || n > 4) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char) s[i])) {
            return false;
        }
        v = v * 10 + (unsigned) (s[i] - '0');
    }
    *out = (uint16_t) v;
    return true;
}

bool
adapter_nsi_parse_vlans(const char *s, uint16_t *lo, uint16_t *hi)
{
    const char *dash;
    uint16_t a, b;

    if (!s) {
        return false;
    }
    dash = strchr(s, '-');
    if (!dash) {
        if (!s_parse_u16(s, strlen(s), &a)) {
            return false;
        }
        b = a;
    } else if (!s_parse_u16(s, (size_t) (dash - s), &a)
               || !s_parse_u16(dash + 1, strlen(dash + 1), &b)) {
        return false;
    }
    if (a < 1 || b > 4094 || a > b) {
        return false;
    }
    *lo = a;
    *hi = b;
    return true;
}

bool
adapter_nsi_parse_stp(const char *s, struct adapter_nsi_end *end)
{
    const char *q;
    size_t base;
    struct adapter_nsi_end e;

    if (!s_valid_uri(s, ADAPTER_NSI_URI_MAX)) {
        return false;
    }
    q = strstr(s, S_LABEL);
    if (!q || strchr(q + 1, '?')) {
        return false;
    }
    base = (size_t) (q - s);
    memset(&e, 0, sizeof e);
    memcpy(e.stp, s, base);
    e.stp[base] = '\0';
    if (!s_valid_stp_base(e.stp)
        || !adapter_nsi_parse_vlans(q + strlen(S_LABEL), &e.vlan_lo,
                                    &e.vlan_hi)) {
        return false;
    }
    *end = e;
    return true;
}

/* The full STP of a host entry's 'stp' in 'network'. */
static bool
s_host_stp(const struct adapter_nsi_config *cfg, const char *stp, char *out,
           size_t size)
{
    int n;
    if (!stp) {
        return false;
    }
    if (!strncmp(stp, S_URN, strlen(S_URN))) {
        n = snprintf(out, size, "%s", stp);
    } else if (cfg->network && cfg->network[0]) {
        n = snprintf(out, size, S_URN "%s:%s", cfg->network, stp);
    } else {
        return false;
    }
    return n > 0 && (size_t) n < size && (size_t) n <= ADAPTER_NSI_URI_MAX
           && s_valid_stp_base(out);
}

static bool
s_canon_ip(const char *ip, char *out, size_t size)
{
    unsigned char a[16];
    if (!ip) {
        return false;
    }
    if (inet_pton(AF_INET, ip, a) == 1) {
        return inet_ntop(AF_INET, a, out, (socklen_t) size) != NULL;
    }
    if (inet_pton(AF_INET6, ip, a) == 1) {
        return inet_ntop(AF_INET6, a, out, (socklen_t) size) != NULL;
    }
    return false;
}

/* Is URL host 'h' (as CURLU gives it: IPv6 in brackets) loopback? */
static bool
s_loopback_host(const char *h)
{
    unsigned char a[16];
    char buf[64];
    size_t len = strlen(h);

    if (!strcasecmp(h, "localhost")) {
        return true;
    }
    if (len >= 2 && h[0] == '[' && h[len - 1] == ']' && len - 2 < sizeof buf) {
        memcpy(buf, h + 1, len - 2);
        buf[len - 2] = '\0';
        return inet_pton(AF_INET6, buf, a) == 1
               && !memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
    }
    return inet_pton(AF_INET, h, a) == 1 && a[0] == 127;
}

/* Splits 'url' into scheme and host; false if it does not parse. */
static bool
s_url_parts(const char *url, char *scheme, size_t ssize, char *host,
            size_t hsize)
{
    CURLU *u = curl_url();
    char *sc = NULL, *ho = NULL;
    bool ok = false;

    if (!u) {
        return false;
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_SCHEME, &sc, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_HOST, &ho, 0) == CURLUE_OK
        && strlen(sc) < ssize && strlen(ho) < hsize) {
        strcpy(scheme, sc);
        strcpy(host, ho);
        ok = true;
    }
    curl_free(sc);
    curl_free(ho);
    curl_url_cleanup(u);
    return ok;
}

static bool
s_check_file(const char *key, const char *path, char *err, size_t errsize)
{
    if (path && access(path, R_OK) != 0) {
        log_format(err, errsize, "nsi.%s: cannot read '%s': %s", key,
                   LOG_ESC(path), strerror(errno));
        return false;
    }
    return true;
}

bool
adapter_nsi_config_check(const struct adapter_nsi_config *cfg, char *err,
                         size_t errsize)
{
    char scheme[16], host[300], stp[ADAPTER_NSI_URI_MAX + 64];
    const struct adapter_nsi_host_cfg *hosts = cfg->hosts.v;

    assert(cfg);
    if (!cfg->provider_url || !cfg->provider_url[0]) {
        log_format(err, errsize, "nsi.provider_url: not set");
        return false;
    }
    if (strlen(cfg->provider_url) > 1024
        || !s_url_parts(cfg->provider_url, scheme, sizeof scheme, host,
                        sizeof host)) {
        log_format(err, errsize, "nsi.provider_url: not a URL: '%s'",
                   LOG_ESC(cfg->provider_url));
        return false;
    }
    if (strcmp(scheme, "https") && strcmp(scheme, "http")) {
        log_format(err, errsize, "nsi.provider_url: scheme '%s': only "
                   "https (or http to loopback)", LOG_ESC(scheme));
        return false;
    }
    if (!strcmp(scheme, "http") && !s_loopback_host(host)
        && !cfg->allow_plain_http) {
        log_format(err, errsize, "nsi.provider_url: plain http to '%s', "
                   "which is not loopback: use https, or set "
                   "nsi.allow_plain_http", LOG_ESC(host));
        return false;
    }
    if (!s_valid_nsa(cfg->requester_nsa)) {
        log_format(err, errsize, "nsi.requester_nsa: '%s' is not an NSA id "
                   "(" S_URN "…)", LOG_ESC(cfg->requester_nsa));
        return false;
    }
    if (!s_valid_nsa(cfg->provider_nsa)) {
        log_format(err, errsize, "nsi.provider_nsa: '%s' is not an NSA id "
                   "(" S_URN "…)", LOG_ESC(cfg->provider_nsa));
        return false;
    }
    if (cfg->network && (!s_valid_uri(cfg->network, 128)
                         || strchr(cfg->network, '?'))) {
        log_format(err, errsize, "nsi.network: bad network id '%s'",
                   LOG_ESC(cfg->network));
        return false;
    }
    if (!s_valid_uri(cfg->reply_to, ADAPTER_NSI_URI_MAX)) {
        log_format(err, errsize, "nsi.reply_to: bad URI '%s'",
                   LOG_ESC(cfg->reply_to));
        return false;
    }
    if (cfg->hosts.n > ADAPTER_NSI_MAX_HOSTS) {
        log_format(err, errsize, "nsi.hosts: %zu hosts, at most %d",
                   cfg->hosts.n, ADAPTER_NSI_MAX_HOSTS);
        return false;
    }
    for (size_t i = 0; i < cfg->hosts.n; i++) {
        char ip[INET6_ADDRSTRLEN], ip2[INET6_ADDRSTRLEN];
        uint16_t lo, hi;

        if (!s_canon_ip(hosts[i].ip, ip, sizeof ip)) {
            log_format(err, errsize, "nsi.hosts[%zu].ip: not an IP "
                       "address: '%s'", i, LOG_ESC(hosts[i].ip));
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            if (s_canon_ip(hosts[j].ip, ip2, sizeof ip2) && !strcmp(ip, ip2)) {
                log_format(err, errsize, "nsi.hosts[%zu].ip: %s is also "
                           "hosts[%zu]", i, ip, j);
                return false;
            }
        }
        if (!s_host_stp(cfg, hosts[i].stp, stp, sizeof stp)) {
            log_format(err, errsize, "nsi.hosts[%zu].stp: '%s' is not an STP "
                       "without a label (" S_URN "… or a port id with "
                       "nsi.network set)", i, LOG_ESC(hosts[i].stp));
            return false;
        }
        if (!adapter_nsi_parse_vlans(hosts[i].vlans, &lo, &hi)) {
            log_format(err, errsize, "nsi.hosts[%zu].vlans: '%s' is not a "
                       "VLAN or range within 1-4094", i,
                       LOG_ESC(hosts[i].vlans));
            return false;
        }
    }
    if (cfg->commit_deadline_ms >= cfg->hold_timeout_ms) {
        log_format(err, errsize, "nsi.commit_deadline_ms: %" PRIu32 " is not "
                   "below nsi.hold_timeout_ms (%" PRIu32 ")",
                   cfg->commit_deadline_ms, cfg->hold_timeout_ms);
        return false;
    }
    if (cfg->retry_first_ms > cfg->retry_max_ms) {
        log_format(err, errsize, "nsi.retry.first_ms: %" PRIu32 " is above "
                   "nsi.retry.max_ms (%" PRIu32 ")", cfg->retry_first_ms,
                   cfg->retry_max_ms);
        return false;
    }
    if (cfg->connect_timeout_ms > cfg->request_timeout_ms) {
        log_format(err, errsize, "nsi.connect_timeout_ms: %" PRIu32 " is "
                   "above nsi.request_timeout_ms (%" PRIu32 ")",
                   cfg->connect_timeout_ms, cfg->request_timeout_ms);
        return false;
    }
    if (!cfg->tls_cert != !cfg->tls_key) {
        log_format(err, errsize, "nsi.tls: cert and key go together");
        return false;
    }
    if ((cfg->tls_cert || cfg->tls_ca) && strcmp(scheme, "https")) {
        log_format(err, errsize, "nsi.tls: set, but nsi.provider_url is "
                   "not https");
        return false;
    }
    return s_check_file("tls.cert", cfg->tls_cert, err, errsize)
           && s_check_file("tls.key", cfg->tls_key, err, errsize)
           && s_check_file("tls.ca", cfg->tls_ca, err, errsize);
}

bool
adapter_nsi_host_end(const struct adapter_nsi_config *cfg, const char *ip,
                     struct adapter_nsi_end *end, char *err, size_t errsize)
{
    const struct adapter_nsi_host_cfg *hosts = cfg->hosts.v;
    char want[INET6_ADDRSTRLEN], have[INET6_ADDRSTRLEN];

    if (!s_canon_ip(ip, want, sizeof want)) {
        log_format(err, errsize, "'%s' is not an IP address", LOG_ESC(ip));
        return false;
    }
    for (size_t i = 0; i < cfg->hosts.n; i++) {
        if (s_canon_ip(hosts[i].ip, have, sizeof have) && !strcmp(want, have)) {
            memset(end, 0, sizeof *end);
            if (!s_host_stp(cfg, hosts[i].stp, end->stp, sizeof end->stp)
                || !adapter_nsi_parse_vlans(hosts[i].vlans, &end->vlan_lo,
                                            &end->vlan_hi)) {
                log_format(err, errsize, "host %s: bad nsi.hosts entry", want);
                return false;
            }
            return true;
        }
    }
    log_format(err, errsize, "host %s has no port in nsi.hosts", want);
    return false;
}

/* Building. */

struct s_out {
    char *p;
    size_t size, len;
    bool full;
};

static void
s_put(struct s_out *o, const char *s)
{
    size_t n = strlen(s);
    if (o->full || o->len + n >= o->size) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->len, s, n + 1);
    o->len += n;
}

static void __attribute__((format(printf, 2, 3)))
s_putf(struct s_out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->full) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(o->p + o->len, o->size - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t) n >= o->size - o->len) {
        o->full = true;
        return;
    }
    o->len += (size_t) n;
}

/* Text content, XML-escaped. */
static void
s_put_esc(struct s_out *o, const char *s)
{
    char one[2] = { 0, 0 };
    for (; *s; s++) {
        switch (*s) {
        case '&': s_put(o, "&amp;"); break;
        case '<': s_put(o, "&lt;"); break;
        case '>': s_put(o, "&gt;"); break;
        case '"': s_put(o, "&quot;"); break;
        case '\'': s_put(o, "&apos;"); break;
        default:
            one[0] = *s;
            s_put(o, one);
        }
    }
}

static void
s_elem(struct s_out *o, const char *name, const char *text)
{
    s_putf(o, "<%s>", name);
    s_put_esc(o, text);
    s_putf(o, "</%s>", name);
}

/* Unix ms → "2026-12-06T14:00:00.123Z"; false outside 2000..9999. */
static bool
s_format_time(int64_t ms, char *buf, size_t size)
{
    struct tm tm;
    time_t t;

    if (ms < INT64_C(946684800000) || ms > INT64_C(253402300799000)) {
        return false;
    }
    t = (time_t) (ms / 1000);
    if (!gmtime_r(&t, &tm)) {
        return false;
    }
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int) (ms % 1000));
    return true;
}

static void
s_put_stp(struct s_out *o, const char *name, const struct adapter_nsi_end *e)
{
    s_putf(o, "<%s>", name);
    s_put_esc(o, e->stp);
    if (e->vlan_lo == e->vlan_hi) {
        s_putf(o, S_LABEL "%u", (unsigned) e->vlan_lo);
    } else {
        s_putf(o, S_LABEL "%u-%u", (unsigned) e->vlan_lo,
               (unsigned) e->vlan_hi);
    }
    s_putf(o, "</%s>", name);
}

static bool
s_valid_end(const struct adapter_nsi_end *e)
{
    return s_valid_stp_base(e->stp) && e->vlan_lo >= 1 && e->vlan_hi <= 4094
           && e->vlan_lo <= e->vlan_hi;
}

size_t
adapter_nsi_soap_build(const struct adapter_nsi_config *cfg,
                       const struct adapter_nsi_call *call,
                       const char *correlation_id, char *buf, size_t size,
                       char *err, size_t errsize)
{
    struct s_out o = { .p = buf, .size = size };
    const char *op = adapter_nsi_op_name(call->op);
    char start[48], end[48];

    assert(cfg && call && buf && size);
    buf[0] = '\0';
    if ((unsigned) call->op >= ADAPTER_NSI_N_OPS) {
        log_format(err, errsize, "unknown operation %d", (int) call->op);
        return 0;
    }
    if (!s_valid_uri(correlation_id, 64)
        || strncmp(correlation_id, "urn:uuid:", 9)) {
        log_format(err, errsize, "bad correlationId");
        return 0;
    }
    if (call->op == ADAPTER_NSI_OP_RESERVE) {
        if (call->connection_id) {
            /* A modify: not offered (OpenNSA's dud cannot do it either). */
            log_format(err, errsize, "reserve: no connectionId (modify) "
                       "allowed");
            return 0;
        }
        if (!s_valid_end(&call->src) || !s_valid_end(&call->dst)) {
            log_format(err, errsize, "reserve: bad %s STP '%s'",
                       s_valid_end(&call->src) ? "destination" : "source",
                       LOG_ESC(s_valid_end(&call->src) ? call->dst.stp
                                                       : call->src.stp));
            return 0;
        }
        if (call->global_id
            && (!s_valid_uri(call->global_id, ADAPTER_NSI_URI_MAX)
                || !strchr(call->global_id, ':'))) {
            log_format(err, errsize, "reserve: bad globalReservationId '%s'",
                       LOG_ESC(call->global_id));
            return 0;
        }
        if (call->description
            && strlen(call->description) > ADAPTER_NSI_DESC_MAX) {
            log_format(err, errsize, "reserve: description over %d bytes",
                       ADAPTER_NSI_DESC_MAX);
            return 0;
        }
        if ((call->start_ms && !s_format_time(call->start_ms, start,
                                              sizeof start))
            || (call->end_ms && !s_format_time(call->end_ms, end, sizeof end))
            || (call->start_ms && call->end_ms
                && call->end_ms <= call->start_ms)) {
            log_format(err, errsize, "reserve: bad schedule %" PRId64 "..%"
                       PRId64 " ms", call->start_ms, call->end_ms);
            return 0;
        }
        if (call->capacity_mbps > ADAPTER_NSI_MAX_CAPACITY) {
            log_format(err, errsize, "reserve: capacity %" PRIu32 " Mbit/s "
                       "over %u", call->capacity_mbps,
                       ADAPTER_NSI_MAX_CAPACITY);
            return 0;
        }
    } else if (call->connection_id ? !s_valid_id(call->connection_id)
                                   : call->op != ADAPTER_NSI_OP_QUERY) {
        log_format(err, errsize, "%s: bad connectionId '%s'", op,
                   LOG_ESC(call->connection_id));
        return 0;
    }

    s_put(&o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<soapenv:Envelope xmlns:soapenv=\"" S_NS_SOAP "\""
              " xmlns:head=\"" S_NS_HEAD "\""
              " xmlns:type=\"" S_NS_CTYPES "\"");
    if (call->op == ADAPTER_NSI_OP_RESERVE) {
        s_put(&o, " xmlns:p2p=\"" S_NS_P2P "\"");
    }
    s_put(&o, "><soapenv:Header><head:nsiHeader>"
              "<protocolVersion>" S_PROTOCOL "</protocolVersion>");
    s_elem(&o, "correlationId", correlation_id);
    s_elem(&o, "requesterNSA", cfg->requester_nsa);
    s_elem(&o, "providerNSA", cfg->provider_nsa);
    /* No replyTo on the others: the provider then sends no callbacks
     * (which we could not take) and the state is polled. */
    if (call->op == ADAPTER_NSI_OP_QUERY) {
        s_elem(&o, "replyTo", cfg->reply_to);
    }
    s_put(&o, "</head:nsiHeader></soapenv:Header><soapenv:Body>");
    if (call->op == ADAPTER_NSI_OP_RESERVE) {
        s_put(&o, "<type:reserve>");
        if (call->global_id) {
            s_elem(&o, "globalReservationId", call->global_id);
        }
        if (call->description) {
            s_elem(&o, "description", call->description);
        }
        s_put(&o, "<criteria version=\"1\"><schedule>");
        /* No startTime means now: a startTime even a little in the past
         * is refused (00100). */
        if (call->start_ms) {
            s_elem(&o, "startTime", start);
        }
        if (call->end_ms) {
            s_elem(&o, "endTime", end);
        }
        s_put(&o, "</schedule><serviceType>" S_EVTS "</serviceType>"
                  "<p2p:p2ps>");
        s_putf(&o, "<capacity>%" PRIu32 "</capacity>",
               call->capacity_mbps ? call->capacity_mbps : cfg->capacity_mbps);
        s_put(&o, "<directionality>Bidirectional</directionality>"
                  "<symmetricPath>true</symmetricPath>");
        s_put_stp(&o, "sourceSTP", &call->src);
        s_put_stp(&o, "destSTP", &call->dst);
        s_put(&o, "</p2p:p2ps></criteria></type:reserve>");
    } else if (call->connection_id) {
        s_putf(&o, "<type:%s>", op);
        s_elem(&o, "connectionId", call->connection_id);
        s_putf(&o, "</type:%s>", op);
    } else {
        s_putf(&o, "<type:%s/>", op);
    }
    s_put(&o, "</soapenv:Body></soapenv:Envelope>\n");
    if (o.full) {
        log_format(err, errsize, "%s: request over %zu bytes", op, size);
        buf[0] = '\0';
        return 0;
    }
    return o.len;
}

void
adapter_nsi_new_uuid(char *buf, size_t size)
{
    uint8_t r[16];
    size_t got = 0;

    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n > 0) {
            got += (size_t) n;
        } else if (errno != EINTR) {
            /* Not secret, only unique: fall back to the clock. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            for (size_t i = got; i < sizeof r; i++) {
                r[i] = (uint8_t) ((uint64_t) ts.tv_nsec >> (i % 8 * 4)) ^ (uint8_t) i;
            }
            break;
        }
    }
    r[6] = (uint8_t) ((r[6] & 0x0f) | 0x40);
    r[8] = (uint8_t) ((r[8] & 0x3f) | 0x80);
    snprintf(buf, size,
             "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5],
             r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

/* Parsing. */

static void __attribute__((format(printf, 3, 4)))
s_fail(struct adapter_nsi_result *res, enum adapter_nsi_status st,
       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof res->error, fmt, ap);
    va_end(ap);
    res->status = st;
}

static bool
s_is(const xmlNode *n, const char *ns, const char *name)
{
    if (!n || n->type != XML_ELEMENT_NODE || strcmp((const char *) n->name, name)) {
        return false;
    }
    /* Children of the operation elements are unqualified: any namespace
     * (NULL 'ns') is accepted for them. */
    return !ns || (n->ns && n->ns->href && !strcmp((const char *) n->ns->href, ns));
}

static xmlNode *
s_child(const xmlNode *parent, const char *ns, const char *name)
{
    if (!parent) {
        return NULL;
    }
    for (xmlNode *c = parent->children; c; c = c->next) {
        if (s_is(c, ns, name)) {
            return c;
        }
    }
    return NULL;
}

static xmlNode *
s_first_elem(const xmlNode *parent)
{
    for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            return c;
        }
    }
    return NULL;
}

/* The text of element 'n' (text and CDATA only, surrounding white space
 * trimmed) into 'buf'.  Fails, with the reason in 'res', on child
 * elements, entity references or text of 'size' bytes or more. */
static bool
s_text(const xmlNode *n, const char *what, char *buf, size_t size,
       struct adapter_nsi_result *res)
{
    size_t len = 0, start = 0;

    buf[0] = '\0';
    for (const xmlNode *c = n->children; c; c = c->next) {
        size_t k;
        if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE) {
            continue;
        }
        if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE) {
            s_fail(res, ADAPTER_NSI_FAILED, "<%s>: markup inside", what);
            return false;
        }
        k = c->content ? strlen((const char *) c->content) : 0;
        if (k >= size - len) {
            s_fail(res, ADAPTER_NSI_FAILED, "<%s>: over %zu bytes", what,
                   size - 1);
            return false;
        }
        memcpy(buf + len, c->content, k);
        len += k;
        buf[len] = '\0';
    }
    while (len && isspace((unsigned char) buf[len - 1])) {
        buf[--len] = '\0';
    }
    while (start < len && isspace((unsigned char) buf[start])) {
        start++;
    }
    memmove(buf, buf + start, len - start + 1);
    return true;
}

/* Like s_text() for child 'name' of 'parent'; 'required' makes its
 * absence an error, otherwise 'buf' is "". */
static bool
s_child_text(const xmlNode *parent, const char *name, bool required,
             char *buf, size_t size, struct adapter_nsi_result *res)
{
    const xmlNode *c = s_child(parent, NULL, name);
    if (!c) {
        buf[0] = '\0';
        if (required) {
            s_fail(res, ADAPTER_NSI_FAILED, "<%s> missing", name);
        }
        return !required;
    }
    return s_text(c, name, buf, size, res);
}

static bool
s_valid_time(const char *s)
{
    size_t len = strlen(s);
    return len >= 19 && len <= ADAPTER_NSI_TIME_MAX
           && strspn(s, "0123456789-:T.Z+") == len && isdigit((unsigned char) s[0]);
}

static bool
s_parse_fault(const xmlNode *fault, struct adapter_nsi_result *res)
{
    char fstring[512], text[512], id[64], cid[ADAPTER_NSI_ID_MAX + 2];
    const xmlNode *exc;
    char esc[ADAPTER_NSI_ERROR_SIZE];

    fstring[0] = text[0] = id[0] = '\0';
    /* Over-long texts are cut rather than refused: a fault is reported
     * either way, and its text is only shown. */
    {
        struct adapter_nsi_result scratch = { 0 };
        const xmlNode *fs = s_child(fault, NULL, "faultstring");
        if (fs && !s_text(fs, "faultstring", fstring, sizeof fstring,
                          &scratch)) {
            snprintf(fstring, sizeof fstring, "(unreadable faultstring)");
        }
    }
    exc = s_child(s_child(fault, NULL, "detail"), S_NS_FTYPES,
                  "serviceException");
    if (!exc) {
        exc = s_child(s_child(fault, NULL, "detail"), NULL, "serviceException");
    }
    if (exc) {
        struct adapter_nsi_result scratch = { 0 };
        const xmlNode *t = s_child(exc, NULL, "text");
        if (!s_child_text(exc, "errorId", false, id, sizeof id, &scratch)) {
            id[0] = '\0';
        }
        if (t && !s_text(t, "text", text, sizeof text, &scratch)) {
            snprintf(text, sizeof text, "(unreadable text)");
        }
        if (s_child_text(exc, "connectionId", false, cid, sizeof cid, &scratch)
            && s_valid_id(cid) && !res->connection_id[0]) {
            memcpy(res->connection_id, cid, strlen(cid) + 1);   /* valid: short */
        }
    }
    if (id[0]) {
        size_t len = strlen(id);
        if (len > ADAPTER_NSI_ERRID_MAX
            || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                          "0123456789_.-") != len) {
            s_fail(res, ADAPTER_NSI_FAILED, "SOAP fault with a bad errorId "
                   "'%s'", log_escape(esc, sizeof esc, id, SIZE_MAX));
            return false;
        }
        memcpy(res->error_id, id, len + 1);
    }
    log_escape(esc, sizeof esc, text[0] ? text : fstring, SIZE_MAX);
    s_fail(res, ADAPTER_NSI_FAULT, "%s", esc[0] ? esc : "(no text)");
    return true;
}

static bool
s_parse_states(const xmlNode *r, struct adapter_nsi_states *st,
               struct adapter_nsi_result *res)
{
    const xmlNode *cs = s_child(r, NULL, "connectionStates");
    char v[40], esc[64];

    if (!cs) {
        s_fail(res, ADAPTER_NSI_FAILED, "<connectionStates> missing");
        return false;
    }
    if (!s_child_text(cs, "reservationState", true, v, sizeof v, res)) {
        return false;
    }
    if (!adapter_nsi_rsm_parse(v, &st->rsm)) {
        s_fail(res, ADAPTER_NSI_FAILED, "unknown reservationState '%s'",
               log_escape(esc, sizeof esc, v, SIZE_MAX));
        return false;
    }
    if (!s_child_text(cs, "provisionState", false, v, sizeof v, res)) {
        return false;
    }
    /* A connection never committed may have no provisionState. */
    if (v[0] && !adapter_nsi_psm_parse(v, &st->psm)) {
        s_fail(res, ADAPTER_NSI_FAILED, "unknown provisionState '%s'",
               log_escape(esc, sizeof esc, v, SIZE_MAX));
        return false;
    }
    if (!s_child_text(cs, "lifecycleState", true, v, sizeof v, res)) {
        return false;
    }
    if (!adapter_nsi_lsm_parse(v, &st->lsm)) {
        s_fail(res, ADAPTER_NSI_FAILED, "unknown lifecycleState '%s'",
               log_escape(esc, sizeof esc, v, SIZE_MAX));
        return false;
    }
    if (!s_child_text(s_child(cs, NULL, "dataPlaneStatus"), "active", true, v,
                      sizeof v, res)) {
        if (!s_child(cs, NULL, "dataPlaneStatus")) {
            s_fail(res, ADAPTER_NSI_FAILED, "<dataPlaneStatus> missing");
        }
        return false;
    }
    if (!strcmp(v, "true") || !strcmp(v, "1")) {
        st->active = true;
    } else if (!strcmp(v, "false") || !strcmp(v, "0")) {
        st->active = false;
    } else {
        s_fail(res, ADAPTER_NSI_FAILED, "dataPlaneStatus/active '%s' is not "
               "a boolean", log_escape(esc, sizeof esc, v, SIZE_MAX));
        return false;
    }
    return true;
}

static bool
s_parse_reservation(const xmlNode *r, struct adapter_nsi_reservation *out,
                    struct adapter_nsi_result *res)
{
    char v[ADAPTER_NSI_URI_MAX + 2], esc[LOG_ESC_MAX];
    const xmlNode *crit = NULL, *p2ps;

    memset(out, 0, sizeof *out);
    if (!s_child_text(r, "connectionId", true, v, sizeof v, res)) {
        return false;
    }
    if (!s_valid_id(v)) {
        s_fail(res, ADAPTER_NSI_FAILED, "bad connectionId '%s'",
               log_escape(esc, sizeof esc, v, SIZE_MAX));
        return false;
    }
    memcpy(out->connection_id, v, strlen(v) + 1);
    if (!s_child_text(r, "globalReservationId", false, v, sizeof v, res)) {
        return false;
    }
    if (v[0] && !s_valid_uri(v, ADAPTER_NSI_URI_MAX)) {
        s_fail(res, ADAPTER_NSI_FAILED, "%s: bad globalReservationId '%s'",
               out->connection_id, log_escape(esc, sizeof esc, v, SIZE_MAX));
        return false;
    }
    memcpy(out->global_id, v, strlen(v) + 1);
    if (!s_child_text(r, "description", false, v, sizeof v, res)) {
        return false;
    }
    /* Shown only: kept in its escaped form. */
    log_escape(out->description, sizeof out->description, v, SIZE_MAX);

    /* Several criteria are several versions: the last one counts. */
    for (const xmlNode *c = r->children; c; c = c->next) {
        if (s_is(c, NULL, "criteria")) {
            crit = c;
        }
    }
    if (crit) {
        const xmlNode *sched = s_child(crit, NULL, "schedule");
        if (!s_child_text(sched ? sched : crit, "startTime", false,
                          out->start_time, sizeof out->start_time, res)
            || !s_child_text(sched ? sched : crit, "endTime", false,
                             out->end_time, sizeof out->end_time, res)) {
            return false;
        }
        if ((out->start_time[0] && !s_valid_time(out->start_time))
            || (out->end_time[0] && !s_valid_time(out->end_time))) {
            s_fail(res, ADAPTER_NSI_FAILED, "%s: bad schedule time",
                   out->connection_id);
            return false;
        }
        p2ps = s_child(crit, NULL, "p2ps");
        if (p2ps) {
            if (!s_child_text(p2ps, "capacity", false, v, sizeof v, res)) {
                return false;
            }
            if (v[0]) {
                char *end;
                unsigned long long cap;
                errno = 0;
                cap = strtoull(v, &end, 10);
                if (!isdigit((unsigned char) v[0]) || *end || errno
                    || cap > ADAPTER_NSI_MAX_CAPACITY) {
                    s_fail(res, ADAPTER_NSI_FAILED, "%s: capacity '%s' out of "
                           "range", out->connection_id,
                           log_escape(esc, sizeof esc, v, SIZE_MAX));
                    return false;
                }
                out->capacity_mbps = cap;
            }
            static const char *const stps[2] = { "sourceSTP", "destSTP" };
            for (int i = 0; i < 2; i++) {
                struct adapter_nsi_end *e = i ? &out->dst : &out->src;
                if (!s_child_text(p2ps, stps[i], false, v, sizeof v, res)) {
                    return false;
                }
                if (v[0] && !adapter_nsi_parse_stp(v, e)) {
                    s_fail(res, ADAPTER_NSI_FAILED, "%s: bad %s '%s'",
                           out->connection_id, stps[i],
                           log_escape(esc, sizeof esc, v, SIZE_MAX));
                    return false;
                }
            }
        }
    }
    return s_parse_states(r, &out->states, res);
}

static bool
s_parse_query(const xmlNode *conf, struct adapter_nsi_result *res)
{
    size_t n = 0;

    for (const xmlNode *c = conf->children; c; c = c->next) {
        if (s_is(c, NULL, "reservation")) {
            n++;
        }
    }
    if (n > ADAPTER_NSI_MAX_RESERVATIONS) {
        s_fail(res, ADAPTER_NSI_FAILED, "%zu reservations in one answer, at "
               "most %d", n, ADAPTER_NSI_MAX_RESERVATIONS);
        return false;
    }
    if (!n) {
        return true;
    }
    res->resv = calloc(n, sizeof *res->resv);
    if (!res->resv) {
        s_fail(res, ADAPTER_NSI_FAILED, "out of memory");
        return false;
    }
    for (const xmlNode *c = conf->children; c; c = c->next) {
        if (s_is(c, NULL, "reservation")) {
            if (!s_parse_reservation(c, &res->resv[res->n_resv], res)) {
                free(res->resv);
                res->resv = NULL;
                res->n_resv = 0;
                return false;
            }
            res->n_resv++;
        }
    }
    return true;
}

/* SAX hook: a DOCTYPE stops the parse (SOAP forbids one, and without it
 * no entity can be declared, so none can be expanded). */
static void
s_no_dtd(void *ctx, const xmlChar *name, const xmlChar *ext,
         const xmlChar *sys)
{
    xmlParserCtxtPtr ctxt = ctx;
    *(bool *) ctxt->_private = true;
    xmlStopParser(ctxt);
}

/* Parses 'len' bytes at 'body' into a document, or NULL with the reason
 * in 'res'. */
static xmlDoc *
s_read(const char *body, size_t len, struct adapter_nsi_result *res)
{
    xmlParserCtxtPtr ctxt;
    xmlDoc *doc;
    bool saw_dtd = false;

    xmlInitParser();
    ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        s_fail(res, ADAPTER_NSI_FAILED, "out of memory");
        return NULL;
    }
    ctxt->sax->internalSubset = s_no_dtd;
    ctxt->_private = &saw_dtd;
    /* NONET: nothing fetched; no NOENT, no DTDLOAD, no HUGE: entities
     * stay unexpanded, no external subset, libxml2's size limits hold. */
    doc = xmlCtxtReadMemory(ctxt, body, (int) len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR
                            | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
    if (saw_dtd) {
        s_fail(res, ADAPTER_NSI_FAILED, "reply has a DTD (refused)");
        xmlFreeDoc(doc);
        doc = NULL;
    } else if (!doc || !ctxt->wellFormed) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        char esc[120];
        size_t n = e && e->message ? strlen(e->message) : 0;
        while (n && isspace((unsigned char) e->message[n - 1])) {
            n--;                /* libxml2 ends its messages in \n */
        }
        s_fail(res, ADAPTER_NSI_FAILED, "reply is not well-formed XML%s%s",
               n ? ": " : "", n ? log_escape(esc, sizeof esc, e->message, n)
                                : "");
        xmlFreeDoc(doc);
        doc = NULL;
    }
    xmlFreeParserCtxt(ctxt);
    return doc;
}

/* Does any node below 'n' reference an entity? */
static bool
s_has_entity_ref(const xmlNode *n)
{
    for (const xmlNode *c = n; c; c = c->next) {
        if (c->type == XML_ENTITY_REF_NODE || c->type == XML_ENTITY_NODE) {
            return true;
        }
        if (c->type == XML_ELEMENT_NODE && s_has_entity_ref(c->children)) {
            return true;
        }
    }
    return false;
}

enum adapter_nsi_status
adapter_nsi_soap_parse(enum adapter_nsi_op op, long http_code,
                       const char *body, size_t len, size_t max_size,
                       const char *correlation_id,
                       struct adapter_nsi_result *res)
{
    xmlDoc *doc = NULL;
    xmlNode *env, *body_el, *fault, *reply;
    const char *want;

    assert(res);
    res->op = op;
    res->http_code = http_code;
    res->status = ADAPTER_NSI_OK;
    res->error[0] = '\0';
    if (http_code != 200 && http_code != 500) {
        s_fail(res, ADAPTER_NSI_FAILED, "HTTP %ld from the provider",
               http_code);
        goto out;
    }
    if (len > max_size || len > INT_MAX) {
        s_fail(res, ADAPTER_NSI_FAILED, "reply of %zu bytes, over %zu", len,
               max_size);
        goto out;
    }
    if (!body || !len) {
        s_fail(res, ADAPTER_NSI_FAILED, "HTTP %ld with an empty body",
               http_code);
        goto out;
    }
    doc = s_read(body, len, res);
    if (!doc) {
        goto out;
    }
    env = xmlDocGetRootElement(doc);
    if (!s_is(env, S_NS_SOAP, "Envelope")) {
        s_fail(res, ADAPTER_NSI_FAILED, "reply is not a SOAP 1.1 envelope");
        goto out;
    }
    if (s_has_entity_ref(env)) {
        s_fail(res, ADAPTER_NSI_FAILED, "reply references entities (refused)");
        goto out;
    }
    body_el = s_child(env, S_NS_SOAP, "Body");
    if (!body_el) {
        s_fail(res, ADAPTER_NSI_FAILED, "SOAP envelope without a Body");
        goto out;
    }
    fault = s_child(body_el, S_NS_SOAP, "Fault");
    if (fault) {
        s_parse_fault(fault, res);
        goto out;
    }
    if (http_code != 200) {
        s_fail(res, ADAPTER_NSI_FAILED, "no Fault in the Body");
        goto out;
    }
    {
        const xmlNode *hdr = s_child(s_child(env, S_NS_SOAP, "Header"),
                                     S_NS_HEAD, "nsiHeader");
        char corr[80];
        if (hdr && s_child(hdr, NULL, "correlationId")) {
            if (!s_child_text(hdr, "correlationId", true, corr, sizeof corr,
                              res)) {
                goto out;
            }
            if (correlation_id && strcmp(corr, correlation_id)) {
                char esc[100];
                s_fail(res, ADAPTER_NSI_FAILED, "reply for correlationId "
                       "'%s', not ours",
                       log_escape(esc, sizeof esc, corr, SIZE_MAX));
                goto out;
            }
        }
    }
    reply = s_first_elem(body_el);
    switch (op) {
    case ADAPTER_NSI_OP_RESERVE:
        want = "reserveResponse";
        break;
    case ADAPTER_NSI_OP_QUERY:
        want = "querySummarySyncConfirmed";
        break;
    default:
        want = "acknowledgment";
        break;
    }
    if (!s_is(reply, S_NS_CTYPES, want)) {
        char esc[80];
        s_fail(res, ADAPTER_NSI_FAILED, "%s: expected <%s>, got <%s>",
               adapter_nsi_op_name(op), want,
               reply ? log_escape(esc, sizeof esc, (const char *) reply->name,
                                  SIZE_MAX) : "nothing");
        goto out;
    }
    if (op == ADAPTER_NSI_OP_RESERVE) {
        char cid[ADAPTER_NSI_ID_MAX + 2], esc[LOG_ESC_MAX];
        if (!s_child_text(reply, "connectionId", true, cid, sizeof cid, res)) {
            goto out;
        }
        if (!s_valid_id(cid)) {
            s_fail(res, ADAPTER_NSI_FAILED, "reserve: bad connectionId '%s'",
                   log_escape(esc, sizeof esc, cid, SIZE_MAX));
            goto out;
        }
        memcpy(res->connection_id, cid, strlen(cid) + 1);
    } else if (op == ADAPTER_NSI_OP_QUERY) {
        s_parse_query(reply, res);
    }
out:
    if (http_code == 500 && res->status == ADAPTER_NSI_FAILED) {
        char why[ADAPTER_NSI_ERROR_SIZE];
        snprintf(why, sizeof why, "%s", res->error);
        s_fail(res, ADAPTER_NSI_FAILED, "HTTP 500 without a SOAP fault: %s",
               why);
    }
    xmlFreeDoc(doc);
    return res->status;
}

void
adapter_nsi_result_clean(struct adapter_nsi_result *res)
{
    if (res) {
        free(res->resv);
        memset(res, 0, sizeof *res);
    }
}

/* The client. */

struct s_call {
    struct s_call *next, *prev;
    adapter_nsi_soap_t *owner;
    uint64_t id;
    enum adapter_nsi_op op;
    CURL *easy;
    struct curl_slist *headers;
    char *req;                  /* the envelope, S_REQ_SIZE bytes */
    char *reply;                /* what came back, 'reply_len' bytes */
    size_t reply_len, reply_cap;
    bool too_big;               /* the reply went over max_reply_kb */
    char corr[64];              /* correlationId */
    char conn_id[ADAPTER_NSI_ID_MAX + 1];
    char curl_err[CURL_ERROR_SIZE];
    int64_t t0_ms;              /* monotonic, when started */
    adapter_nsi_done_fn *done;
    void *arg;
};

struct adapter_nsi_soap {
    const struct adapter_nsi_config *cfg;
    CURLM *multi;
    int epfd;                   /* epoll: libcurl's sockets and 'timerfd' */
    int timerfd;                /* libcurl's next timeout */
    int wakefd;                 /* the owner's next step (wake_at) */
    struct s_call *calls;       /* in flight, newest first */
    size_t n_calls;
    uint64_t next_id;
    size_t max_reply;           /* bytes */
};

static int64_t
s_mono_ms(void)
{
    return (int64_t) vtime_mono_ms();
}

static void
s_curl_global(void)
{
    static bool done;
    if (!done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = true;
    }
}

/* libcurl says which of its sockets to watch, and for what: kept in the
 * epoll set, which the owner's loop polls as one descriptor. */
static int
s_on_socket(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
    (void) easy;
    (void) sockp;
    adapter_nsi_soap_t *self = arg;
    if (what == CURL_POLL_REMOVE) {
        /* It may be closed already, and gone from the set with it. */
        epoll_ctl(self->epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    struct epoll_event ev = {
        .events = (what & CURL_POLL_IN ? EPOLLIN : 0u)
                  | (what & CURL_POLL_OUT ? EPOLLOUT : 0u),
        .data.fd = s,
    };
    if (epoll_ctl(self->epfd, EPOLL_CTL_MOD, s, &ev) != 0
        && (errno != ENOENT
            || epoll_ctl(self->epfd, EPOLL_CTL_ADD, s, &ev) != 0)) {
        VLOG_WARN_RL("socket %d not watched: %s", (int) s, strerror(errno));
        return -1;
    }
    return 0;
}

/* libcurl's next timeout, in 'timerfd' (in the epoll set): -1 none, 0 at
 * once. */
static int
s_on_timer(CURLM *multi, long timeout_ms, void *arg)
{
    (void) multi;
    adapter_nsi_soap_t *self = arg;
    struct itimerspec its = { { 0, 0 }, { 0, 0 } };
    if (timeout_ms > 0) {
        its.it_value.tv_sec = timeout_ms / 1000;
        its.it_value.tv_nsec = (timeout_ms % 1000) * 1000000L;
    } else if (timeout_ms == 0) {
        its.it_value.tv_nsec = 1;  /* 0 would disarm it */
    }
    if (timerfd_settime(self->timerfd, 0, &its, NULL) != 0) {
        VLOG_WARN_RL("timerfd: %s", strerror(errno));
        return -1;
    }
    return 0;
}

adapter_nsi_soap_t *
adapter_nsi_soap_new(const struct adapter_nsi_config *cfg, char *err,
                     size_t errsize)
{
    adapter_nsi_soap_t *self;
    char scheme[16], host[300];

    if (!adapter_nsi_config_check(cfg, err, errsize)) {
        return NULL;
    }
    s_curl_global();
    self = calloc(1, sizeof *self);
    if (!self) {
        log_format(err, errsize, "out of memory");
        return NULL;
    }
    self->cfg = cfg;
    self->next_id = 1;
    self->max_reply = (size_t) cfg->max_reply_kb * 1024;
    self->epfd = epoll_create1(EPOLL_CLOEXEC);
    self->timerfd = timerfd_create(CLOCK_MONOTONIC,
                                   TFD_NONBLOCK | TFD_CLOEXEC);
    self->wakefd = timerfd_create(CLOCK_MONOTONIC,
                                  TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event tev = { .events = EPOLLIN, .data.fd = self->timerfd };
    struct epoll_event wev = { .events = EPOLLIN, .data.fd = self->wakefd };
    if (self->epfd < 0 || self->timerfd < 0 || self->wakefd < 0
        || epoll_ctl(self->epfd, EPOLL_CTL_ADD, self->timerfd, &tev) != 0
        || epoll_ctl(self->epfd, EPOLL_CTL_ADD, self->wakefd, &wev) != 0) {
        log_format(err, errsize, "epoll or timerfd: %s", strerror(errno));
        goto error;
    }
    self->multi = curl_multi_init();
    if (!self->multi) {
        log_format(err, errsize, "curl_multi_init failed");
        goto error;
    }
    /* Driven by events: libcurl's sockets and timeout are in 'epfd'. */
    curl_multi_setopt(self->multi, CURLMOPT_SOCKETFUNCTION, s_on_socket);
    curl_multi_setopt(self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt(self->multi, CURLMOPT_TIMERFUNCTION, s_on_timer);
    curl_multi_setopt(self->multi, CURLMOPT_TIMERDATA, self);
    /* Calls share the multi handle's connection cache (keep-alive). */
    curl_multi_setopt(self->multi, CURLMOPT_MAXCONNECTS,
                      (long) cfg->max_in_flight);
    if (s_url_parts(cfg->provider_url, scheme, sizeof scheme, host,
                    sizeof host)
        && !strcmp(scheme, "http") && !s_loopback_host(host)) {
        VLOG_WARN("nsi.allow_plain_http: talking plain http to '%s': "
                  "requests and replies are neither encrypted nor "
                  "authenticated", LOG_ESC(host));
    }
    return self;

error:
    if (self->epfd >= 0) {
        close(self->epfd);
    }
    if (self->timerfd >= 0) {
        close(self->timerfd);
    }
    if (self->wakefd >= 0) {
        close(self->wakefd);
    }
    free(self);
    return NULL;
}

static void
s_call_free(struct s_call *c)
{
    if (c->easy) {
        curl_easy_cleanup(c->easy);
    }
    curl_slist_free_all(c->headers);
    free(c->req);
    free(c->reply);
    free(c);
}

static void
s_unlink(adapter_nsi_soap_t *self, struct s_call *c)
{
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        self->calls = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    self->n_calls--;
    curl_multi_remove_handle(self->multi, c->easy);
}

void
adapter_nsi_soap_destroy(adapter_nsi_soap_t **self_p)
{
    adapter_nsi_soap_t *self = self_p ? *self_p : NULL;
    if (!self) {
        return;
    }
    while (self->calls) {
        struct s_call *c = self->calls;
        s_unlink(self, c);
        s_call_free(c);
    }
    curl_multi_cleanup(self->multi);
    close(self->epfd);
    close(self->timerfd);
    close(self->wakefd);
    free(self);
    *self_p = NULL;
}

static size_t
s_on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    struct s_call *c = arg;
    size_t n = size * nmemb;
    size_t max = c->owner->max_reply;

    if (n > max - c->reply_len || c->reply_len > max) {
        c->too_big = true;
        return 0;               /* ends the transfer */
    }
    if (c->reply_len + n + 1 > c->reply_cap) {
        size_t cap = c->reply_cap ? c->reply_cap : 4096;
        char *p;
        while (cap < c->reply_len + n + 1) {
            cap *= 2;
        }
        if (cap > max + 1) {
            cap = max + 1;
        }
        p = realloc(c->reply, cap);
        if (!p) {
            return 0;
        }
        c->reply = p;
        c->reply_cap = cap;
    }
    memcpy(c->reply + c->reply_len, data, n);
    c->reply_len += n;
    c->reply[c->reply_len] = '\0';
    return n;
}

uint64_t
adapter_nsi_soap_start(adapter_nsi_soap_t *self,
                       const struct adapter_nsi_call *call,
                       adapter_nsi_done_fn *done, void *arg, char *err,
                       size_t errsize)
{
    const struct adapter_nsi_config *cfg;
    struct s_call *c;
    char action[160];
    size_t len;

    assert(self && call && done);
    cfg = self->cfg;
    if (self->n_calls >= cfg->max_in_flight) {
        log_format(err, errsize, "%s: %zu calls in flight already "
                   "(nsi.max_in_flight)", adapter_nsi_op_name(call->op),
                   self->n_calls);
        return 0;
    }
    c = calloc(1, sizeof *c);
    if (!c || !(c->req = malloc(S_REQ_SIZE))) {
        free(c);
        log_format(err, errsize, "out of memory");
        return 0;
    }
    c->owner = self;
    c->op = call->op;
    c->done = done;
    c->arg = arg;
    adapter_nsi_new_uuid(c->corr, sizeof c->corr);
    len = adapter_nsi_soap_build(cfg, call, c->corr, c->req, S_REQ_SIZE, err,
                                 errsize);
    if (!len) {
        s_call_free(c);
        return 0;
    }
    if (call->connection_id) {
        snprintf(c->conn_id, sizeof c->conn_id, "%s", call->connection_id);
    }
    /* SOAPAction in quotes: OpenNSA answers an unquoted one with 500. */
    snprintf(action, sizeof action, "SOAPAction: \"" S_ACTION "%s\"",
             adapter_nsi_op_name(call->op));
    c->easy = curl_easy_init();
    if (!c->easy
        || !(c->headers = curl_slist_append(NULL, "Content-Type: text/xml; "
                                                  "charset=utf-8"))
        || !curl_slist_append(c->headers, action)
        || !curl_slist_append(c->headers, "Expect:")) {
        log_format(err, errsize, "out of memory");
        s_call_free(c);
        return 0;
    }
    CURL *e = c->easy;
    curl_easy_setopt(e, CURLOPT_URL, cfg->provider_url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");     /* no proxy from the env */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->req);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "vreserve-nsi/1");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t) self->max_reply);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) cfg->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) cfg->request_timeout_ms);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (cfg->tls_cert) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, cfg->tls_cert);
        curl_easy_setopt(e, CURLOPT_SSLKEY, cfg->tls_key);
    }
    if (cfg->tls_ca) {
        curl_easy_setopt(e, CURLOPT_CAINFO, cfg->tls_ca);
    }
    if (curl_multi_add_handle(self->multi, e) != CURLM_OK) {
        log_format(err, errsize, "curl_multi_add_handle failed");
        s_call_free(c);
        return 0;
    }
    c->id = self->next_id++;
    c->t0_ms = s_mono_ms();
    c->next = self->calls;
    if (c->next) {
        c->next->prev = c;
    }
    self->calls = c;
    self->n_calls++;
    return c->id;
}

/* Turns a finished transfer into a result. */
static void
s_finish(adapter_nsi_soap_t *self, struct s_call *c, CURLcode rc,
         struct adapter_nsi_result *res)
{
    long code = 0;
    char esc[200];

    memset(res, 0, sizeof *res);
    res->op = c->op;
    snprintf(res->connection_id, sizeof res->connection_id, "%s", c->conn_id);
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    res->http_code = code;
    /* Not one byte of the request went out: safe to send again. */
    long sent = 0;
    curl_easy_getinfo(c->easy, CURLINFO_REQUEST_SIZE, &sent);
    res->unreached = rc != CURLE_OK && sent == 0;
    if (c->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        s_fail(res, ADAPTER_NSI_FAILED, "reply over nsi.max_reply_kb (%"
               PRIu32 " KiB): refused", self->cfg->max_reply_kb);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        res->timed_out = true;
        s_fail(res, ADAPTER_NSI_FAILED, "no answer within %" PRIu32 " ms "
               "(nsi.request_timeout_ms)", self->cfg->request_timeout_ms);
    } else if (rc != CURLE_OK) {
        s_fail(res, ADAPTER_NSI_FAILED, "%s: %s", curl_easy_strerror(rc),
               log_escape(esc, sizeof esc, c->curl_err, SIZE_MAX));
    } else {
        adapter_nsi_soap_parse(c->op, code, c->reply, c->reply_len,
                               self->max_reply, c->corr, res);
        if (c->op != ADAPTER_NSI_OP_RESERVE && c->conn_id[0]) {
            /* The one asked about, whatever a fault names. */
            snprintf(res->connection_id, sizeof res->connection_id, "%s",
                     c->conn_id);
        }
    }
    res->op = c->op;
    res->elapsed_ms = (uint32_t) (s_mono_ms() - c->t0_ms);
}

size_t
adapter_nsi_soap_tick(adapter_nsi_soap_t *self, int wait_ms)
{
    struct epoll_event evs[64];
    int running = 0, left, n;
    size_t n_done = 0;
    CURLMsg *m;

    assert(self);
    if (wait_ms > 1000) {
        wait_ms = 1000;
    }
    n = epoll_wait(self->epfd, evs, 64, wait_ms > 0 ? wait_ms : 0);
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        if (fd == self->wakefd) {
            uint64_t expired;
            if (read(fd, &expired, sizeof expired) < 0 && errno != EAGAIN) {
                VLOG_WARN_RL("timerfd: read: %s", strerror(errno));
            }
            continue;   /* the owner's tick follows */
        }
        if (fd == self->timerfd) {
            uint64_t expired;
            if (read(fd, &expired, sizeof expired) < 0 && errno != EAGAIN) {
                VLOG_WARN_RL("timerfd: read: %s", strerror(errno));
            }
            curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0,
                                     &running);
            continue;
        }
        uint32_t e = evs[i].events;
        int mask = (e & EPOLLIN ? CURL_CSELECT_IN : 0)
                   | (e & EPOLLOUT ? CURL_CSELECT_OUT : 0)
                   | (e & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(self->multi, fd, mask, &running);
    }
    while ((m = curl_multi_info_read(self->multi, &left))) {
        struct s_call *c = NULL;
        struct adapter_nsi_result res;

        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &c);
        if (!c) {
            continue;
        }
        s_finish(self, c, m->data.result, &res);
        s_unlink(self, c);      /* 'm' is invalid from here */
        c->done(c->arg, c->id, &res);
        adapter_nsi_result_clean(&res);
        s_call_free(c);
        n_done++;
    }
    return n_done;
}

int
adapter_nsi_soap_fd(const adapter_nsi_soap_t *self)
{
    return self->epfd;
}

void
adapter_nsi_soap_wake_at(adapter_nsi_soap_t *self, int64_t at_ms)
{
    struct itimerspec its = { { 0, 0 }, { 0, 0 } };
    if (at_ms >= 0) {
        int64_t in = at_ms - s_mono_ms();
        if (in > 0) {
            its.it_value.tv_sec = in / 1000;
            its.it_value.tv_nsec = (in % 1000) * 1000000L;
        } else {
            its.it_value.tv_nsec = 1;
        }
    }
    if (timerfd_settime(self->wakefd, 0, &its, NULL) != 0) {
        VLOG_WARN_RL("timerfd: %s", strerror(errno));
    }
}

size_t
adapter_nsi_soap_in_flight(const adapter_nsi_soap_t *self)
{
    return self->n_calls;
}
