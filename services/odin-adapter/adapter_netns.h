/* SPDX-License-Identifier: MIT */
/* The odin-adapter's 'netns' backend: a real path on the test bed.  The
 * adapter times the set-up with the simulator (same delays, same
 * blocking); when the simulator says UP, this module makes a veth pair
 * "vrp<n>" between the two hosts' network namespaces, with a /30 from a
 * pool, an MTU and (optionally) a token-bucket rate at the bandwidth
 * asked; teardown deletes it.  Commands are iproute2's 'ip' and 'tc', run
 * without a shell under a time limit (proc_run()).
 *
 * With netns.vlans (a VLAN range), a path is a VLAN circuit instead, as a
 * provider's switch would make one on a bed built with --circuits: the
 * module picks a free VLAN of the range and a /30 and makes no device;
 * the hosts' agents make their sub-interfaces (overlay.circuit_nic). */
#ifndef ADAPTER_NETNS_H
#define ADAPTER_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

#define ADAPTER_NETNS_DEFAULT_POOL "10.212.0.0/16"
#define ADAPTER_NETNS_DEFAULT_MTU 9000
#define ADAPTER_NETNS_DEFAULT_LAMBDAS 16
#define ADAPTER_NETNS_CMD_TIMEOUT_MS 5000

/* One host: its endpoint address on the reservable network and the
 * namespace it lives in. */
struct adapter_netns_host_cfg {
    char *ip;
    char *netns;
};

struct adapter_netns_config {
    struct cfg_seq hosts;       /* struct adapter_netns_host_cfg */
    char *pool;                 /* IPv4 prefix the /30s come from */
    uint32_t mtu;
    bool shape;                 /* tbf at the requested bandwidth */
    uint32_t lambdas;           /* per fibre of the built-in network */
    char *ip_cmd;               /* iproute2's 'ip' */
    char *tc_cmd;               /* and 'tc' */
    char *vlans;                /* "LO-HI": VLAN circuits; "": veths */
};

extern const struct cfg_key adapter_netns_host_keys[];

#define ADAPTER_NETNS_CFG_KEY_(P, BASE, TYPE, NAME, FIELD, ...)           \
    { .name = P NAME, .type = TYPE,                                       \
      .offset = (BASE) + offsetof(struct adapter_netns_config, FIELD),    \
      __VA_ARGS__ }
#define ADAPTER_NETNS_CFG_KEYS(P, BASE)                                   \
    ADAPTER_NETNS_CFG_KEY_(P, BASE, CFG_SEQ, "hosts", hosts,              \
        .sub = adapter_netns_host_keys,                                   \
        .elem_size = sizeof(struct adapter_netns_host_cfg),               \
        .help = "host endpoint addresses and the namespace of each"),     \
    ADAPTER_NETNS_CFG_KEY_(P, BASE, CFG_STR, "pool", pool,                \
        .def_str = ADAPTER_NETNS_DEFAULT_POOL,                            \
        .help = "IPv4 prefix each path takes a /30 from"),                \
    ADAPTER_NETNS_CFG_KEY_(P, BASE, CFG_U32, "mtu", mtu, .min = 576,      \
        .max = 65535, .def_int = ADAPTER_NETNS_DEFAULT_MTU,               \
        .help = "MTU of the veth pair"),                                  \
    ADAPTER_NETNS_CFG_KEY_(P, BASE, CFG_BOOL, "shape", shape,             \
        .def_int = 1,                                                 \
        .help = "limit each path to the bandwidth asked (tc tbf)"),       \
    ADAPTER_NETNS_CFG_KEY_(P, BASE, CFG_U32, "lambdas", lambdas,          \
        .min = 1, .max = 128, .def_int = ADAPTER_NETNS_DEFAULT_LAMBDAS,   \
        .help = "lambdas per fibre when sim.* names no network (one "     \
                "switch per host, fully connected)"),                     \
    ADAPTER_NETNS_CFG_KEY_(P, BASE, CFG_STR, "ip", ip_cmd,                \
        .def_str = "ip", .help = "iproute2's ip command"),                \
    ADAPTER_NETNS_CFG_KEY_(P, BASE, CFG_STR, "tc", tc_cmd,                \
        .def_str = "tc", .help = "iproute2's tc command"),                \
    ADAPTER_NETNS_CFG_KEY_(P, BASE, CFG_STR, "vlans", vlans,              \
        .def_str = "",                                                    \
        .help = "LO-HI: each path is a VLAN circuit of that range on a "  \
                "bed with --circuits (a VLAN and a /30, no device: the "  \
                "agents make theirs); empty: a veth pair per path")

typedef struct adapter_netns adapter_netns_t;

/* Checks 'cfg' (addresses valid and unique, namespace names sane, pool a
 * v4 prefix of at most /29).  Returns NULL with the reason in 'err'. */
adapter_netns_t *adapter_netns_new(const struct adapter_netns_config *cfg,
                                   char *err, size_t errsize);
void adapter_netns_destroy(adapter_netns_t **self_p);

/* Writes a YAML "sim:" network with one switch per host, every pair joined
 * by a fibre of cfg->lambdas lambdas, into 'buf'.  Returns false if it
 * does not fit. */
bool adapter_netns_sim_network(const adapter_netns_t *self, char *buf,
                               size_t size);

/* Makes path 'n' between hosts 'src_ip' and 'dst_ip': the veth pair, its
 * addresses ('src_addr'/'dst_addr' receive them, 'detail' the devices),
 * MTU, rate.  Returns 0, or -1 with the reason in 'err' (and nothing
 * left behind). */
int adapter_netns_up(adapter_netns_t *self, uint64_t n, const char *src_ip,
                     const char *dst_ip, double bandwidth_mbps,
                     char *src_addr, char *dst_addr, size_t addr_size,
                     char *detail, size_t detail_size, char *err,
                     size_t errsize);

/* Deletes path 'n' and frees its addresses.  A pair already gone counts as
 * deleted.  Returns 0, or -1 with the reason in 'err'. */
int adapter_netns_down(adapter_netns_t *self, uint64_t n,
                       const char *src_ip, char *err, size_t errsize);

/* After a restart: is path 'n' still there in both namespaces?  If so its
 * /30 (read back from 'src_addr') is taken again and true is returned. */
bool adapter_netns_adopt(adapter_netns_t *self, uint64_t n,
                         const char *src_ip, const char *dst_ip,
                         const char *src_addr);

/* Deletes every "vrp<n>" device in the configured namespaces for which
 * 'keep'(n) is false: pairs made by an adapter that died before it could
 * record them.  Returns how many were deleted.  In VLAN mode nothing:
 * no device is the adapter's, and no namespace is looked at. */
typedef bool adapter_netns_keep_fn(uint64_t n, void *arg);
size_t adapter_netns_sweep(adapter_netns_t *self, adapter_netns_keep_fn *keep,
                           void *arg);

/* Reads one line of 'ip -o link show' ("7: vrp12@if8: <...>"): true
 * with the number in '*n' if it names a device "vrp<n>" exactly as
 * adapter_netns_up() names them ("vrp%" PRIu64: no sign, no leading
 * zero, fits in 64 bits), false otherwise.  The sweep's parser, exposed
 * for tests and fuzzing. */
bool adapter_netns_parse_link(const char *line, uint64_t *n);

/* Reads a VLAN range "LO-HI" or "ID" (1 to 4094, LO <= HI, digits only,
 * no sign or space) into '*lo' and '*hi'.  False if it is not one. */
bool adapter_netns_parse_vlans(const char *s, uint32_t *lo, uint32_t *hi);

/* Whether paths are VLAN circuits (netns.vlans set). */
bool adapter_netns_vlan_mode(const adapter_netns_t *self);

/* A VLAN circuit for path 'n' between hosts 'src_ip' and 'dst_ip': the
 * lowest free VLAN of the range into '*vlan', a /30's two addresses into
 * 'src_addr' and 'dst_addr', a description into 'detail'.  No device is
 * made.  Returns 0, or -1 with the reason in 'err' (nothing taken). */
int adapter_netns_vlan_take(adapter_netns_t *self, uint64_t n,
                            const char *src_ip, const char *dst_ip,
                            uint32_t *vlan, char *src_addr, char *dst_addr,
                            size_t addr_size, char *detail,
                            size_t detail_size, char *err, size_t errsize);

/* Gives back path 'n''s VLAN and /30. */
void adapter_netns_vlan_free(adapter_netns_t *self, uint64_t n);

/* After a restart: takes VLAN 'vlan' and the /30 of 'src_addr' again for
 * path 'n'.  False if either is outside the configured ranges or taken. */
bool adapter_netns_vlan_adopt(adapter_netns_t *self, uint64_t n,
                              uint32_t vlan, const char *src_addr);

/* Is 'ip' one of the configured hosts? */
bool adapter_netns_knows(const adapter_netns_t *self, const char *ip);

#endif /* ADAPTER_NETNS_H */
