/* SPDX-License-Identifier: MIT */
/* The checks every control request to the agent passes before a handler
 * uses a field of it (issue 14 item 3): names bounded, printable and
 * well formed, addresses parsed, ports, MTUs and timeouts in range, MACs
 * unicast and 48-bit, repeated fields bounded.  Each check returns true
 * when the request is good, else false with a sentence in 'why' naming
 * the field and quoting its value, escaped (log_escape), for an
 * ERR_BAD_REQUEST.  Pure: agent_ctl.c calls them, tests too. */
#ifndef AGENT_CHECK_H
#define AGENT_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "msgtype.h"

enum {
    AGENT_CHECK_NAME_MAX = 63,      /* link names, agent ids */
    AGENT_CHECK_PEER_MAX = 63,      /* "a.b.c.d:port" */
    AGENT_CHECK_RULES_MAX = 4096,   /* rules in one RuleAdd/RuleRemove */
    AGENT_CHECK_MTU_MIN = 576,      /* as overlay.mtu */
    AGENT_CHECK_MTU_MAX = 65535,
    AGENT_CHECK_PROBE_MAX_MS = 5000,
};

/* A link name: 1 to AGENT_CHECK_NAME_MAX of A-Z a-z 0-9 and . _ - : # @,
 * not starting with "local:" (a rule's target for a VM port). */
bool agent_check_link_name(const char *field, const char *name, char *why,
                           size_t size);

bool agent_check_link_create(const Vr__LinkCreate *req, char *why,
                             size_t size);
bool agent_check_link_remove(const Vr__LinkRemove *req, char *why,
                             size_t size);
bool agent_check_link_probe(const Vr__LinkProbe *req, char *why,
                            size_t size);

/* 'rules' ('n' of them) of a RuleAdd ('add': each needs its target
 * 'link') or a RuleRemove ('link' ignored but, when given, well formed). */
bool agent_check_rules(const Vr__Rule *const *rules, size_t n, bool add,
                       char *why, size_t size);

#endif /* AGENT_CHECK_H */
