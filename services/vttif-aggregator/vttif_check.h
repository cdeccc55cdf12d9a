/* SPDX-License-Identifier: MIT */
/* Checks of what the aggregator takes from outside, before any of it is
 * used: the agents' LocalMatrix, VmLocations and AgentAnnounce (its
 * ingest; its queries have no fields, see common/pbcheck.h).  Each check
 * looks at every field the aggregator uses: numbers in range, strings
 * bounded and well formed (ids, MACs, endpoints, addresses), repeated
 * fields at most their cap.  A message with more entries than the cap is
 * refused whole, never truncated: a partial matrix would read as pairs
 * that went idle.  vttif_agg.c calls these, and counts and logs the
 * refusals. */
#ifndef VTTIF_CHECK_H
#define VTTIF_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msgtype.h"

/* Bounds that are not configurable, and why.
 * - Ids: 1 to 63 characters of A-Z a-z 0-9 . _ : / @ + -, starting with a
 *   letter or digit: they name hosts in logs, links and commands.
 * - Times (us since the epoch): at most 2^52, about the year 2112, so
 *   they stay exact as doubles; 0 means unset.
 * - Periods: 0 (unset) or 1 ms to 1 h, the agents' own config range and
 *   more.
 * - Counters: at most 2^62 bytes or frames (117 years at 10 Gbit/s): a
 *   larger one is garbage that would make a delta of exabytes.
 * - Endpoints: tcp://, ipc:// or inproc://, at most 255 characters, no
 *   space, quote, backslash or comma (bus_connect() splits on commas).
 * - Overlay address: ip:port ([v6]:port), the port 0 to 65535; host ip: an
 *   IPv4 or IPv6 address; interface names: at most 15 characters. */
#define VTTIF_CHECK_MAX_TIME_US (UINT64_C(1) << 52)
#define VTTIF_CHECK_MIN_PERIOD_US UINT64_C(1000)
#define VTTIF_CHECK_MAX_PERIOD_US UINT64_C(3600000000)
#define VTTIF_CHECK_MAX_COUNTER (UINT64_C(1) << 62)
enum {
    VTTIF_CHECK_ID_LEN = 64,        /* ids, NUL included */
    VTTIF_CHECK_ENDPOINT_LEN = 256, /* control endpoints, NUL included */
    VTTIF_CHECK_ADDR_LEN = 64,      /* overlay ip:port, NUL included */
    VTTIF_CHECK_IP_LEN = 46,        /* INET6_ADDRSTRLEN */
    VTTIF_CHECK_IFACE_LEN = 16,     /* IFNAMSIZ */
};

/* Defaults of the per-message caps (config keys ingest.*).  A local
 * matrix lists the pairs whose traffic entered the overlay at one agent:
 * 65536 is 256 local VMs each talking to 256 others, ~2 MB on the wire;
 * an agent locates and announces the VMs behind it, at most 4096. */
#define VTTIF_CHECK_DEFAULT_MAX_ENTRIES 65536
#define VTTIF_CHECK_DEFAULT_MAX_LOCATIONS 4096
#define VTTIF_CHECK_DEFAULT_MAX_LOCAL_MACS 4096

/* Caps on repeated fields, per message. */
struct vttif_check_limits {
    uint32_t max_entries;       /* LocalMatrix.entries */
    uint32_t max_locations;     /* VmLocations.vms */
    uint32_t max_local_macs;    /* AgentAnnounce.local_macs */
};

/* True if 'id' is a well-formed agent id (see above). */
bool vttif_check_id(const char *id);

/* True if 'mac' is a unicast MAC in the low 48 bits, not 0. */
bool vttif_check_mac(uint64_t mac);

/* Each returns true if every field of 'm' the aggregator uses is valid;
 * otherwise false with a sentence in 'err' ('err_size' bytes) that names
 * the field ("entries[3].src_mac") and quotes its value, escaped for
 * logging (log_escape()). */
bool vttif_check_matrix(const Vr__LocalMatrix *m,
                        const struct vttif_check_limits *lim, char *err,
                        size_t err_size);
bool vttif_check_locations(const Vr__VmLocations *m,
                           const struct vttif_check_limits *lim, char *err,
                           size_t err_size);
bool vttif_check_announce(const Vr__AgentAnnounce *m,
                          const struct vttif_check_limits *lim, char *err,
                          size_t err_size);

#endif /* VTTIF_CHECK_H */
