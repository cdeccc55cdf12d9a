/* SPDX-License-Identifier: MIT */
/* The `ports:` key: interface names and globs ("vnet*", "tap[0-9]*")
 * naming the host-side ends of the local VMs' NICs.  Checked at start
 * (bounded count, length and characters; a glob needs a literal prefix,
 * so that no pattern can take the host's own interfaces by accident) and
 * matched against every interface that appears.  Pure. */
#ifndef AGENT_PORTCFG_H
#define AGENT_PORTCFG_H

#include <stdbool.h>
#include <stddef.h>

enum {
    AGENT_PORT_PATTERNS = 32,   /* patterns in `ports:` at most */
    AGENT_PORT_PREFIX = 2,      /* literal characters a glob starts with */
};

/* Whether 'pat' has a wildcard (* ? [). */
bool agent_port_is_glob(const char *pat);

/* Checks the 'n' patterns at 'pats': 0, or -1 with the reason for the
 * first bad one in 'why' ('size' bytes; patterns in it are escaped). */
int agent_port_patterns_check(const char *const *pats, size_t n, char *why,
                              size_t size);

/* Whether interface 'name' may be captured: 1 to 15 letters, digits,
 * _ - and . (the kernel allows nearly any byte; a name the agent would
 * have to escape in every log line and tc run is not taken). */
bool agent_port_name_ok(const char *name);

/* Whether interface 'name' matches one of the 'n' (checked) patterns. */
bool agent_port_matches(const char *const *pats, size_t n,
                        const char *name);

#endif /* AGENT_PORTCFG_H */
