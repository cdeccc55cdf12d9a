/* SPDX-License-Identifier: MIT */
/* The aggregator's ingest checks (see vttif_check.h).  Pure functions of
 * the decoded message: no state, no I/O.  Every value quoted in an error
 * goes through log_escape(), so the sentence is safe to log and to send
 * back. */
#include "vttif_check.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmatrix.h"
#include "log.h"

static bool
s_fail(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool
s_fail(char *err, size_t err_size, const char *fmt, ...)
{
    if (err && err_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* The escaped, bounded form of an outside string for an error. */
#define S_Q(S) LOG_ESC(S)

static bool
s_id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || strchr("._:/@+-", c);
}

bool
vttif_check_id(const char *id)
{
    if (!id || !*id || !(s_id_char(*id) && !strchr("._:/@+-", *id))) {
        return false;
    }
    size_t n = strnlen(id, VTTIF_CHECK_ID_LEN);
    if (n >= VTTIF_CHECK_ID_LEN) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!s_id_char(id[i])) {
            return false;
        }
    }
    return true;
}

bool
vttif_check_mac(uint64_t mac)
{
    return mac && mac <= UINT64_C(0xffffffffffff) && !((mac >> 40) & 1);
}

/* A MAC of an entry: 0 and group MACs are the core's to skip (counted
 * there); more than 48 bits is malformed. */
static bool
s_mac48(uint64_t mac)
{
    return mac <= UINT64_C(0xffffffffffff);
}

static bool
s_time_ok(uint64_t us)
{
    return us <= VTTIF_CHECK_MAX_TIME_US;
}

static bool
s_period_ok(uint64_t us)
{
    return us == 0
           || (us >= VTTIF_CHECK_MIN_PERIOD_US
               && us <= VTTIF_CHECK_MAX_PERIOD_US);
}

/* Printable ASCII but space, quotes, backslash and comma, and at most
 * 'len' - 1 characters. */
static bool
s_token_ok(const char *s, size_t len)
{
    size_t n = strnlen(s, len);
    if (n >= len) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c <= ' ' || c >= 0x7f || strchr("\"'\\,", c)) {
            return false;
        }
    }
    return true;
}

static bool
s_endpoint_ok(const char *s)
{
    static const char *const schemes[] = { "tcp://", "ipc://", "inproc://" };
    if (!s || !s_token_ok(s, VTTIF_CHECK_ENDPOINT_LEN)) {
        return false;
    }
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen(schemes[i]);
        if (!strncmp(s, schemes[i], n) && s[n]) {
            return true;
        }
    }
    return false;
}

static bool
s_ip_ok(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* "ip:port" or "[ipv6]:port", port 0 to 65535 (0: an agent that
 * listens on an ephemeral port says so). */
static bool
s_addr_ok(const char *s)
{
    if (!s_token_ok(s, VTTIF_CHECK_ADDR_LEN)) {
        return false;
    }
    const char *colon = strrchr(s, ':');
    if (!colon || !colon[1] || strlen(colon + 1) > 5
        || strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
        return false;
    }
    long port = strtol(colon + 1, NULL, 10);
    if (port > 65535) {
        return false;
    }
    char host[VTTIF_CHECK_ADDR_LEN];
    size_t n = (size_t) (colon - s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        memcpy(host, s + 1, n - 2);
        host[n - 2] = '\0';
        unsigned char buf[16];
        return inet_pton(AF_INET6, host, buf) == 1;
    }
    memcpy(host, s, n);
    host[n] = '\0';
    unsigned char buf[4];
    return inet_pton(AF_INET, host, buf) == 1;
}

static bool
s_iface_ok(const char *s)
{
    if (!s_token_ok(s, VTTIF_CHECK_IFACE_LEN)) {
        return false;
    }
    return !strchr(s, '/') && !strchr(s, ':');
}

static const char s_id_rule[] =
    "is not an id (1 to 63 of A-Z a-z 0-9 . _ : / @ + -)";

bool
vttif_check_matrix(const Vr__LocalMatrix *m,
                   const struct vttif_check_limits *lim, char *err,
                   size_t err_size)
{
    if (!vttif_check_id(m->agent_id)) {
        return s_fail(err, err_size, "agent_id: '%s' %s", S_Q(m->agent_id),
                      s_id_rule);
    }
    if (!s_period_ok(m->period_us)) {
        return s_fail(err, err_size,
                      "period_us: '%" PRIu64 "' is not 0 or in [%" PRIu64
                      ", %" PRIu64 "]", m->period_us,
                      VTTIF_CHECK_MIN_PERIOD_US, VTTIF_CHECK_MAX_PERIOD_US);
    }
    if (!s_time_ok(m->time_us)) {
        return s_fail(err, err_size,
                      "time_us: '%" PRIu64 "' is past %" PRIu64, m->time_us,
                      VTTIF_CHECK_MAX_TIME_US);
    }
    size_t n = lmatrix_len(m);
    if (n == SIZE_MAX) {
        return s_fail(err, err_size,
                      "entries: columns of %zu, %zu, %zu and %zu values "
                      "(src_mac, dst_mac, bytes, frames): they must have "
                      "the same length", m->n_src_mac, m->n_dst_mac,
                      m->n_bytes, m->n_frames);
    }
    if (n > lim->max_entries) {
        return s_fail(err, err_size,
                      "entries: '%zu' entries, more than the %" PRIu32
                      " a matrix may have (ingest.max_matrix_entries)",
                      n, lim->max_entries);
    }
    for (size_t i = 0; i < n; i++) {
        if (!s_mac48(m->src_mac[i])) {
            return s_fail(err, err_size,
                          "src_mac[%zu]: '0x%" PRIx64
                          "' is not a 48-bit MAC", i, m->src_mac[i]);
        }
        if (!s_mac48(m->dst_mac[i])) {
            return s_fail(err, err_size,
                          "dst_mac[%zu]: '0x%" PRIx64
                          "' is not a 48-bit MAC", i, m->dst_mac[i]);
        }
        if (m->bytes[i] > VTTIF_CHECK_MAX_COUNTER) {
            return s_fail(err, err_size,
                          "bytes[%zu]: '%" PRIu64 "' is over 2^62",
                          i, m->bytes[i]);
        }
        if (m->frames[i] > VTTIF_CHECK_MAX_COUNTER) {
            return s_fail(err, err_size,
                          "frames[%zu]: '%" PRIu64 "' is over 2^62",
                          i, m->frames[i]);
        }
    }
    return true;
}

bool
vttif_check_locations(const Vr__VmLocations *m,
                      const struct vttif_check_limits *lim, char *err,
                      size_t err_size)
{
    if (!vttif_check_id(m->reporter)) {
        return s_fail(err, err_size, "reporter: '%s' %s", S_Q(m->reporter),
                      s_id_rule);
    }
    if (m->n_vms > lim->max_locations) {
        return s_fail(err, err_size,
                      "vms: '%zu' locations, more than the %" PRIu32
                      " a message may have (ingest.max_locations)",
                      m->n_vms, lim->max_locations);
    }
    for (size_t i = 0; i < m->n_vms; i++) {
        const Vr__VmLocation *v = m->vms[i];
        if (!vttif_check_mac(v->mac)) {
            return s_fail(err, err_size,
                          "vms[%zu].mac: '0x%" PRIx64
                          "' is not a unicast 48-bit MAC", i, v->mac);
        }
        if (!vttif_check_id(v->agent_id)) {
            return s_fail(err, err_size, "vms[%zu].agent_id: '%s' %s", i,
                          S_Q(v->agent_id), s_id_rule);
        }
        if (v->iface && *v->iface && !s_iface_ok(v->iface)) {
            return s_fail(err, err_size,
                          "vms[%zu].iface: '%s' is not an interface name",
                          i, S_Q(v->iface));
        }
        if (!s_time_ok(v->seen_us)) {
            return s_fail(err, err_size,
                          "vms[%zu].seen_us: '%" PRIu64 "' is past %" PRIu64,
                          i, v->seen_us, VTTIF_CHECK_MAX_TIME_US);
        }
    }
    return true;
}

bool
vttif_check_announce(const Vr__AgentAnnounce *m,
                     const struct vttif_check_limits *lim, char *err,
                     size_t err_size)
{
    if (!vttif_check_id(m->agent_id)) {
        return s_fail(err, err_size, "agent_id: '%s' %s", S_Q(m->agent_id),
                      s_id_rule);
    }
    if (!s_endpoint_ok(m->control_endpoint)) {
        return s_fail(err, err_size,
                      "control_endpoint: '%s' is not a tcp://, ipc:// or "
                      "inproc:// endpoint of at most 255 characters",
                      S_Q(m->control_endpoint));
    }
    if (m->overlay_addr && *m->overlay_addr
        && !s_addr_ok(m->overlay_addr)) {
        return s_fail(err, err_size,
                      "overlay_addr: '%s' is not ip:port",
                      S_Q(m->overlay_addr));
    }
    if (m->host_ip && *m->host_ip
        && !(strnlen(m->host_ip, VTTIF_CHECK_IP_LEN) < VTTIF_CHECK_IP_LEN
             && s_ip_ok(m->host_ip))) {
        return s_fail(err, err_size, "host_ip: '%s' is not an IP address",
                      S_Q(m->host_ip));
    }
    if (m->n_local_macs > lim->max_local_macs) {
        return s_fail(err, err_size,
                      "local_macs: '%zu' MACs, more than the %" PRIu32
                      " an announcement may have (ingest.max_local_macs)",
                      m->n_local_macs, lim->max_local_macs);
    }
    for (size_t i = 0; i < m->n_local_macs; i++) {
        if (!vttif_check_mac(m->local_macs[i])) {
            return s_fail(err, err_size,
                          "local_macs[%zu]: '0x%" PRIx64
                          "' is not a unicast 48-bit MAC", i,
                          m->local_macs[i]);
        }
    }
    return true;
}
