/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for common/cfg: feeds arbitrary bytes to
 * cfg_load_string() with a fixed table that has every key type, nested
 * names and a sequence of structs holding another sequence, then frees
 * what was loaded.  Build with -DVR_FUZZ=ON and clang. */

#include "cfg.h"
#include "fuzz_check.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_port {
    char *name;                 /* required */
    struct cfg_strlist tags;    /* free-form labels */
};

struct fz_tun {
    char *name;                 /* required */
    uint32_t port;              /* UDP port */
    struct cfg_seq ports;       /* struct fz_port elements */
};

struct fz_conf {
    char *name;                 /* a string with a default */
    char *bus_control;          /* "bus.control" */
    bool verbose;               /* a boolean */
    int64_t period_ms;          /* "agent.period_ms" */
    uint32_t port;              /* a u32 */
    double ratio;               /* a double */
    struct cfg_strlist peers;   /* a string list */
    struct cfg_seq tunnels;     /* struct fz_tun elements */
};

static const struct cfg_key fz_port_keys[] = {
    { .name = "name", .type = CFG_STR,
      .offset = offsetof(struct fz_port, name), .required = true },
    CFG_KEY_STRLIST("meta.tags", struct fz_port, tags, NULL),
    CFG_KEYS_END
};

static const struct cfg_key fz_tun_keys[] = {
    { .name = "name", .type = CFG_STR,
      .offset = offsetof(struct fz_tun, name), .required = true },
    CFG_KEY_U32("port", struct fz_tun, port, 1, 65535, 4789, NULL),
    CFG_KEY_SEQ("ports", struct fz_tun, ports, fz_port_keys,
                struct fz_port, NULL),
    CFG_KEYS_END
};

static const struct cfg_key fz_keys[] = {
    CFG_KEY_STR("name", struct fz_conf, name, "agent", NULL),
    CFG_KEY_STR("bus.control", struct fz_conf, bus_control, "tcp://x", NULL),
    CFG_KEY_BOOL("verbose", struct fz_conf, verbose, false, NULL),
    CFG_KEY_INT("agent.period_ms", struct fz_conf, period_ms,
                INT64_MIN, INT64_MAX, 1000, NULL),
    CFG_KEY_U32("port", struct fz_conf, port, 0, UINT32_MAX, 5555, NULL),
    CFG_KEY_DOUBLE("ratio", struct fz_conf, ratio, -1e300, 1e300, 0.5,
                   NULL),
    CFG_KEY_STRLIST("peers", struct fz_conf, peers, NULL),
    CFG_KEY_SEQ("tunnels", struct fz_conf, tunnels, fz_tun_keys,
                struct fz_tun, NULL),
    CFG_KEYS_END
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_conf c;
    char err[128];

    memset(&c, 0, sizeof c);
    if (!cfg_load_string(fz_keys, &c, "fuzz", (const char *) data, size,
                         err, sizeof err)) {
        cfg_free(fz_keys, &c);
    } else {
        /* A failed load must leave the target alone and the message
         * terminated. */
        FUZZ_CHECK(memchr(err, '\0', sizeof err));
        FUZZ_CHECK(c.name == NULL && c.tunnels.v == NULL);
    }
    return 0;
}
