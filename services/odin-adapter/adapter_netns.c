/* SPDX-License-Identifier: MIT */
/* netns paths: veth pairs made and removed with iproute2.  Each command is
 * run directly (no shell) with a time limit; its stderr becomes the error.
 * The /30s of the pool are handed out first-free, by slot. */
#include "adapter_netns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_pool.h"
#include "log.h"
#include "proc.h"

LOG_MODULE("adapter_netns");

#define TH struct adapter_netns_host_cfg
const struct cfg_key adapter_netns_host_keys[] = {
    { .name = "ip", .type = CFG_STR, .offset = offsetof(TH, ip),
      .required = true, .help = "the host's endpoint address" },
    { .name = "netns", .type = CFG_STR, .offset = offsetof(TH, netns),
      .required = true, .help = "its network namespace (ip netns name)" },
    CFG_KEYS_END,
};
#undef TH

struct s_host {
    char ip[INET6_ADDRSTRLEN];
    char netns[64];
};

struct adapter_netns {
    struct s_host *hosts;
    size_t n_hosts;
    adapter_pool_t *pool;       /* the /30s of the paths */
    uint32_t mtu;
    bool shape;
    uint32_t lambdas;
    char ip_cmd[256], tc_cmd[256];
    uint32_t vlan_lo, vlan_hi;  /* VLAN circuits; 0: veth pairs */
    uint64_t *vlan_of;          /* path number using each VLAN, 0: free */
};

static bool
s_canon(const char *ip, char *out, size_t size)
{
    unsigned char buf[16];
    if (inet_pton(AF_INET, ip, buf) == 1) {
        return inet_ntop(AF_INET, buf, out, (socklen_t) size) != NULL;
    }
    if (inet_pton(AF_INET6, ip, buf) == 1) {
        return inet_ntop(AF_INET6, buf, out, (socklen_t) size) != NULL;
    }
    return false;
}

static const struct s_host *
s_host(const adapter_netns_t *self, const char *ip)
{
    char c[INET6_ADDRSTRLEN];
    if (!ip || !s_canon(ip, c, sizeof c)) {
        return NULL;
    }
    for (size_t i = 0; i < self->n_hosts; i++) {
        if (!strcmp(self->hosts[i].ip, c)) {
            return &self->hosts[i];
        }
    }
    return NULL;
}

bool
adapter_netns_knows(const adapter_netns_t *self, const char *ip)
{
    return s_host(self, ip) != NULL;
}

static bool
s_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= 64 || s[0] == '-' || s[0] == '.') {
        return false;
    }
    for (; *s; s++) {
        if (!isalnum((unsigned char) *s) && !strchr("._-", *s)) {
            return false;
        }
    }
    return true;
}

adapter_netns_t *
adapter_netns_new(const struct adapter_netns_config *cfg, char *err,
                  size_t errsize)
{
    const struct adapter_netns_host_cfg *h = cfg->hosts.v;
    if (cfg->hosts.n < 2) {
        log_format(err, errsize, "netns.hosts: at least two hosts needed");
        return NULL;
    }
    adapter_netns_t *self = calloc(1, sizeof *self);
    if (!self) {
        log_format(err, errsize, "out of memory");
        return NULL;
    }
    self->pool = adapter_pool_new(cfg->pool, "netns.pool", err, errsize);
    if (!self->pool) {
        goto error;
    }
    self->hosts = calloc(cfg->hosts.n, sizeof *self->hosts);
    if (!self->hosts) {
        log_format(err, errsize, "out of memory");
        goto error;
    }
    for (size_t i = 0; i < cfg->hosts.n; i++) {
        struct s_host *s = &self->hosts[i];
        if (!s_canon(h[i].ip, s->ip, sizeof s->ip)) {
            log_format(err, errsize, "netns.hosts[%zu].ip: '%s' is not an "
                       "IP address", i, h[i].ip);
            goto error;
        }
        if (!s_name_ok(h[i].netns)) {
            log_format(err, errsize, "netns.hosts[%zu].netns: '%s' is not "
                       "a namespace name", i, h[i].netns);
            goto error;
        }
        snprintf(s->netns, sizeof s->netns, "%s", h[i].netns);
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(self->hosts[j].ip, s->ip)) {
                log_format(err, errsize, "netns.hosts[%zu].ip: %s listed "
                           "twice", i, s->ip);
                goto error;
            }
        }
        self->n_hosts++;
    }
    if (cfg->vlans && cfg->vlans[0]) {
        if (!adapter_netns_parse_vlans(cfg->vlans, &self->vlan_lo,
                                       &self->vlan_hi)) {
            log_format(err, errsize, "netns.vlans '%s': want LO-HI within "
                       "1-4094, LO <= HI", cfg->vlans);
            goto error;
        }
        self->vlan_of = calloc(self->vlan_hi - self->vlan_lo + 1,
                               sizeof *self->vlan_of);
        if (!self->vlan_of) {
            log_format(err, errsize, "out of memory");
            goto error;
        }
    }
    self->mtu = cfg->mtu;
    self->shape = cfg->shape;
    self->lambdas = cfg->lambdas;
    snprintf(self->ip_cmd, sizeof self->ip_cmd, "%s",
             cfg->ip_cmd ? cfg->ip_cmd : "ip");
    snprintf(self->tc_cmd, sizeof self->tc_cmd, "%s",
             cfg->tc_cmd ? cfg->tc_cmd : "tc");
    return self;

error:
    adapter_netns_destroy(&self);
    return NULL;
}

void
adapter_netns_destroy(adapter_netns_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    free((*self_p)->hosts);
    adapter_pool_destroy(&(*self_p)->pool);
    free((*self_p)->vlan_of);
    free(*self_p);
    *self_p = NULL;
}

bool
adapter_netns_sim_network(const adapter_netns_t *self, char *buf,
                          size_t size)
{
    size_t off = 0;
    int n;
#define S_PUT(...)                                                        \
    do {                                                                  \
        n = snprintf(buf + off, size - off, __VA_ARGS__);                 \
        if (n < 0 || (size_t) n >= size - off) {                          \
            return false;                                                 \
        }                                                                 \
        off += (size_t) n;                                                \
    } while (0)
    S_PUT("sim:\n  switches: [");
    for (size_t i = 0; i < self->n_hosts; i++) {
        S_PUT("%ssw%zu", i ? ", " : "", i + 1);
    }
    S_PUT("]\n  fibres:\n");
    for (size_t i = 0; i < self->n_hosts; i++) {
        for (size_t j = i + 1; j < self->n_hosts; j++) {
            S_PUT("    - { ends: [sw%zu, sw%zu], lambdas: %u }\n", i + 1,
                  j + 1, self->lambdas);
        }
    }
    S_PUT("  hosts:\n");
    for (size_t i = 0; i < self->n_hosts; i++) {
        S_PUT("    - { ip: '%s', switch: sw%zu }\n", self->hosts[i].ip,
              i + 1);
    }
#undef S_PUT
    return true;
}

/* Runs a command given as words; returns 0, or -1 with its stderr (or how
 * it ended) in 'err'. */
static int
s_run(char *err, size_t errsize, const char *const *argv)
{
    return proc_run_ok(argv, ADAPTER_NETNS_CMD_TIMEOUT_MS, err, errsize);
}

int
adapter_netns_up(adapter_netns_t *self, uint64_t n, const char *src_ip,
                 const char *dst_ip, double bandwidth_mbps, char *src_addr,
                 char *dst_addr, size_t addr_size, char *detail,
                 size_t detail_size, char *err, size_t errsize)
{
    const struct s_host *s = s_host(self, src_ip), *d = s_host(self, dst_ip);
    if (!s || !d || s == d) {
        log_format(err, errsize, "%s -> %s: not two known netns hosts",
                   src_ip, dst_ip);
        return -1;
    }
    char dev[24], a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
    char a30[32], b30[32], mtu[16], rate[32], burst[32];
    long slot = adapter_pool_find(self->pool, a, b, sizeof a, err, errsize);
    if (slot < 0) {
        return -1;
    }
    snprintf(dev, sizeof dev, "vrp%" PRIu64, n);
    snprintf(a30, sizeof a30, "%s/30", a);
    snprintf(b30, sizeof b30, "%s/30", b);
    snprintf(mtu, sizeof mtu, "%u", self->mtu);
    const char *ip = self->ip_cmd, *tc = self->tc_cmd;
    /* A pair left by an earlier life of this path number goes first. */
    s_run(NULL, 0, (const char *[]) { ip, "-n", s->netns, "link", "del",
                                      dev, NULL });
    if (s_run(err, errsize, (const char *[]) {
            ip, "link", "add", dev, "netns", s->netns, "mtu", mtu, "type",
            "veth", "peer", "name", dev, "netns", d->netns, "mtu", mtu,
            NULL }) != 0) {
        return -1;
    }
    const struct s_host *end[2] = { s, d };
    const char *addr[2] = { a30, b30 };
    for (int i = 0; i < 2; i++) {
        if (s_run(err, errsize, (const char *[]) {
                ip, "-n", end[i]->netns, "addr", "add", addr[i], "dev", dev,
                NULL }) != 0
            || s_run(err, errsize, (const char *[]) {
                ip, "-n", end[i]->netns, "link", "set", dev, "up",
                NULL }) != 0) {
            goto undo;
        }
        if (self->shape && bandwidth_mbps > 0) {
            /* A burst of at least 10 ms at the rate, and of a jumbo frame. */
            double burst_b = bandwidth_mbps * 1e6 / 8 / 100;
            if (burst_b < 2.0 * self->mtu + 1000) {
                burst_b = 2.0 * self->mtu + 1000;
            }
            snprintf(rate, sizeof rate, "%.0fkbit", bandwidth_mbps * 1000);
            snprintf(burst, sizeof burst, "%.0f", burst_b);
            if (s_run(err, errsize, (const char *[]) {
                    tc, "-n", end[i]->netns, "qdisc", "replace", "dev", dev,
                    "root", "tbf", "rate", rate, "burst", burst, "latency",
                    "20ms", NULL }) != 0) {
                goto undo;
            }
        }
    }
    adapter_pool_set(self->pool, slot, n);
    snprintf(src_addr, addr_size, "%s", a);
    snprintf(dst_addr, addr_size, "%s", b);
    snprintf(detail, detail_size, "dev=%s %s=%s %s=%s mtu=%u rate=%s",
             dev, s->netns, a30, d->netns, b30, self->mtu,
             self->shape && bandwidth_mbps > 0 ? rate : "unshaped");
    return 0;

undo:
    s_run(NULL, 0, (const char *[]) { ip, "-n", s->netns, "link", "del",
                                      dev, NULL });
    return -1;
}

/* Does 'dev' exist in 'netns'? */
static bool
s_present(const adapter_netns_t *self, const char *netns, const char *dev)
{
    return s_run(NULL, 0, (const char *[]) { self->ip_cmd, "-n", netns,
                                             "link", "show", dev, NULL })
           == 0;
}

int
adapter_netns_down(adapter_netns_t *self, uint64_t n, const char *src_ip,
                   char *err, size_t errsize)
{
    const struct s_host *s = s_host(self, src_ip);
    adapter_pool_free(self->pool, n);
    if (!s) {
        return 0;
    }
    char dev[24];
    snprintf(dev, sizeof dev, "vrp%" PRIu64, n);
    if (!s_present(self, s->netns, dev)) {
        return 0;
    }
    return s_run(err, errsize, (const char *[]) { self->ip_cmd, "-n",
                                                  s->netns, "link", "del",
                                                  dev, NULL });
}

bool
adapter_netns_adopt(adapter_netns_t *self, uint64_t n, const char *src_ip,
                    const char *dst_ip, const char *src_addr)
{
    const struct s_host *s = s_host(self, src_ip), *d = s_host(self, dst_ip);
    char dev[24];
    snprintf(dev, sizeof dev, "vrp%" PRIu64, n);
    struct in_addr x;
    if (!s || !d || !src_addr || inet_pton(AF_INET, src_addr, &x) != 1
        || !s_present(self, s->netns, dev) || !s_present(self, d->netns, dev)) {
        return false;
    }
    /* The pair is there: it is ours whatever the pool says. */
    adapter_pool_adopt(self->pool, n, src_addr);
    return true;
}

bool
adapter_netns_parse_link(const char *line, uint64_t *n)
{
    /* Strictly the name we make, "vrp" and the number as "%" PRIu64
     * prints it: sscanf's %u would take "vrp-1" (as 2^64 - 1), "vrp+7"
     * and "vrp007" (as 7), and overflow on 21 digits, and the sweep
     * would then delete a device of another name, or miss this one. */
    const char *name = strstr(line, ": vrp");
    if (!name) {
        return false;
    }
    const char *p = name + 5;
    uint64_t v = 0;
    size_t digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        unsigned d = (unsigned) (*p - '0');
        if ((digits == 1 && v == 0) || v > (UINT64_MAX - d) / 10) {
            return false;       /* a leading zero, or too big */
        }
        v = v * 10 + d;
    }
    if (digits == 0 || (*p != '@' && *p != ':')) {
        return false;
    }
    *n = v;
    return true;
}

size_t
adapter_netns_sweep(adapter_netns_t *self, adapter_netns_keep_fn *keep,
                    void *arg)
{
    size_t n_deleted = 0;
    if (adapter_netns_vlan_mode(self)) {
        /* VLAN circuits: the agents make the devices, none is ours; and
         * the namespaces may not be here (an adapter in a container). */
        return 0;
    }
    for (size_t i = 0; i < self->n_hosts; i++) {
        const char *ns = self->hosts[i].netns;
        struct proc_output out;
        const char *argv[] = { self->ip_cmd, "-n", ns, "-o", "link", "show",
                               NULL };
        if (proc_run(argv, ADAPTER_NETNS_CMD_TIMEOUT_MS, 1 << 20, &out) != 0
            || out.end != PROC_EXITED || out.status != 0) {
            VLOG_WARN("sweep: cannot list links in netns '%s'", ns);
            proc_output_uninit(&out);
            continue;
        }
        /* Lines "7: vrp12@if8: <...>". */
        for (char *line = out.out; line && *line;) {
            char *next = strchr(line, '\n');
            if (next) {
                *next++ = '\0';
            }
            uint64_t n;
            if (adapter_netns_parse_link(line, &n) && !keep(n, arg)) {
                char dev[24];
                snprintf(dev, sizeof dev, "vrp%" PRIu64, n);
                VLOG_INFO("sweep: deleting %s in %s: no path of ours uses "
                          "it", dev, ns);
                if (s_run(NULL, 0, (const char *[]) {
                        self->ip_cmd, "-n", ns, "link", "del", dev,
                        NULL }) == 0) {
                    n_deleted++;
                }
            }
            line = next;
        }
        proc_output_uninit(&out);
    }
    return n_deleted;
}

/* Reads a number of 1 to 4 digits at '*p', moving past it. */
static bool
s_vlan_number(const char **p, uint32_t *v)
{
    size_t digits = 0;
    *v = 0;
    for (; **p >= '0' && **p <= '9'; (*p)++) {
        if (++digits > 4) {
            return false;
        }
        *v = *v * 10 + (uint32_t) (**p - '0');
    }
    return digits > 0;
}

bool
adapter_netns_parse_vlans(const char *s, uint32_t *lo, uint32_t *hi)
{
    uint32_t a, b;
    if (!s || !s_vlan_number(&s, &a)) {
        return false;
    }
    b = a;
    if (*s == '-') {
        s++;
        if (!s_vlan_number(&s, &b)) {
            return false;
        }
    }
    if (*s != '\0' || a < 1 || b > 4094 || a > b) {
        return false;
    }
    *lo = a;
    *hi = b;
    return true;
}

bool
adapter_netns_vlan_mode(const adapter_netns_t *self)
{
    return self->vlan_of != NULL;
}

void
adapter_netns_vlan_free(adapter_netns_t *self, uint64_t n)
{
    adapter_pool_free(self->pool, n);
    for (uint32_t v = self->vlan_lo; self->vlan_of && v <= self->vlan_hi;
         v++) {
        if (self->vlan_of[v - self->vlan_lo] == n) {
            self->vlan_of[v - self->vlan_lo] = 0;
        }
    }
}

int
adapter_netns_vlan_take(adapter_netns_t *self, uint64_t n,
                        const char *src_ip, const char *dst_ip,
                        uint32_t *vlan, char *src_addr, char *dst_addr,
                        size_t addr_size, char *detail, size_t detail_size,
                        char *err, size_t errsize)
{
    const struct s_host *s = s_host(self, src_ip), *d = s_host(self, dst_ip);
    if (!self->vlan_of || !s || !d || s == d) {
        log_format(err, errsize, "%s -> %s: not two known netns hosts",
                   src_ip, dst_ip);
        return -1;
    }
    uint32_t v = self->vlan_lo;
    while (v <= self->vlan_hi && self->vlan_of[v - self->vlan_lo]) {
        v++;
    }
    if (v > self->vlan_hi) {
        log_format(err, errsize, "netns.vlans: all of %u-%u in use",
                   self->vlan_lo, self->vlan_hi);
        return -1;
    }
    char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
    long slot = adapter_pool_find(self->pool, a, b, sizeof a, err, errsize);
    if (slot < 0) {
        return -1;
    }
    adapter_pool_set(self->pool, slot, n);
    self->vlan_of[v - self->vlan_lo] = n;
    *vlan = v;
    snprintf(src_addr, addr_size, "%s", a);
    snprintf(dst_addr, addr_size, "%s", b);
    snprintf(detail, detail_size, "vlan %u %s=%s/30 %s=%s/30 (devices: "
             "the agents')", v, s->netns, a, d->netns, b);
    return 0;
}

bool
adapter_netns_vlan_adopt(adapter_netns_t *self, uint64_t n, uint32_t vlan,
                         const char *src_addr)
{
    if (!self->vlan_of || vlan < self->vlan_lo || vlan > self->vlan_hi) {
        return false;
    }
    uint64_t *vs = &self->vlan_of[vlan - self->vlan_lo];
    if ((*vs && *vs != n) || !adapter_pool_adopt(self->pool, n, src_addr)) {
        return false;
    }
    *vs = n;
    return true;
}
