/* SPDX-License-Identifier: MIT */
/* Port patterns: checked by hand, matched with fnmatch(3). */
#include "agent_portcfg.h"

#include <fnmatch.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

bool
agent_port_is_glob(const char *pat)
{
    return strpbrk(pat, "*?[") != NULL;
}

static bool
s_literal(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* One pattern: NULL if good, else what is wrong with it. */
static const char *
s_check(const char *pat)
{
    size_t len = strnlen(pat, IF_NAMESIZE);
    if (len == 0) {
        return "empty";
    }
    if (len >= IF_NAMESIZE) {
        return "longer than an interface name (15 characters)";
    }
    if (!strcmp(pat, ".") || !strcmp(pat, "..")) {
        return "not an interface name";
    }
    bool in_set = false;
    size_t prefix = 0;
    bool wild = false;
    for (size_t i = 0; i < len; i++) {
        char c = pat[i];
        if (in_set) {
            if (c == ']' && pat[i - 1] != '[' && pat[i - 1] != '!') {
                in_set = false;
            } else if (c == '!' && pat[i - 1] == '[') {
                continue;
            } else if (!s_literal(c)) {
                return "a [set] holds letters, digits, _ - . and ranges "
                       "(a-z) only";
            }
            continue;
        }
        if (c == '*' || c == '?') {
            wild = true;
        } else if (c == '[') {
            wild = true;
            in_set = true;
        } else if (!s_literal(c)) {
            return "only letters, digits, _ - . and the wildcards * ? [...] "
                   "are allowed";
        }
        if (!wild) {
            prefix++;
        }
    }
    if (in_set) {
        return "a [ without its ]";
    }
    if (wild && prefix < AGENT_PORT_PREFIX) {
        return "a glob must start with 2 literal characters (vnet*, tap*): "
               "it could take the host's own interfaces";
    }
    return NULL;
}

bool
agent_port_name_ok(const char *name)
{
    size_t len = strnlen(name, IF_NAMESIZE);
    if (len == 0 || len >= IF_NAMESIZE) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!s_literal(name[i])) {
            return false;
        }
    }
    return true;
}

int
agent_port_patterns_check(const char *const *pats, size_t n, char *why,
                          size_t size)
{
    if (n > AGENT_PORT_PATTERNS) {
        snprintf(why, size, "%zu patterns, at most %d", n,
                 AGENT_PORT_PATTERNS);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *bad = s_check(pats[i]);
        if (bad) {
            char shown[LOG_ESC_MAX];
            snprintf(why, size, "pattern '%s': %s",
                     log_escape(shown, sizeof shown, pats[i], SIZE_MAX),
                     bad);
            return -1;
        }
    }
    return 0;
}

bool
agent_port_matches(const char *const *pats, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (fnmatch(pats[i], name, 0) == 0) {
            return true;
        }
    }
    return false;
}
